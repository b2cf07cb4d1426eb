#include "auth/authproto.h"

#include <stdlib.h>
#include <string.h>

int
authproto_split(char *line, size_t len, char **argv, int max)
{
	int argc = 0;
	char *w = line, *start = line;

	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? line[i] : '\t';
		if (i < len && (ch == '\0' || ch == '\r' || ch == '\n'))
			return -1;
		if (ch == '\t') {
			if (argc == max)
				return -1;
			*w++ = '\0';
			argv[argc++] = start;
			start = w;
			continue;
		}
		if (ch == '\001' && i + 1 < len) {
			switch (line[++i]) {
			case '0': return -1;	/* a NUL would cut the field short */
			case '1': ch = '\001'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'n': case 'l': ch = '\n'; break;
			default:
				/* the escaped byte is in the line too */
				if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
					return -1;
				ch = line[i];
				break;
			}
		}
		*w++ = ch;
	}
	return argc;
}

int
authproto_escape(const char *in, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char e = 0;
		switch (in[i]) {
		case '\0': e = '0'; break;
		case '\001': e = '1'; break;
		case '\t': e = 't'; break;
		case '\r': e = 'r'; break;
		case '\n': e = 'n'; break;
		}
		if (o + (e ? 2 : 1) >= outsz)
			return -1;
		if (e) {
			out[o++] = '\001';
			out[o++] = e;
		} else
			out[o++] = in[i];
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return (int)o;
}

static int
parse_ulong(const char *s, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9' || strlen(s) > 10)
		return -1;
	*v = strtoul(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

int
authproto_parse(char **argv, int argc, struct authproto_msg *m, const char **err)
{
	memset(m, 0, sizeof(*m));
	*err = NULL;
	if (argc < 1) {
		*err = "empty line";
		return -1;
	}
	const char *cmd = argv[0];
	if (strcmp(cmd, "VERSION") == 0) {
		m->cmd = AP_VERSION;
		if (argc < 3 || parse_ulong(argv[1], &m->major) < 0 || parse_ulong(argv[2], &m->minor) < 0) {
			*err = "VERSION needs MAJOR and MINOR";
			return -1;
		}
		return 0;
	}
	if (strcmp(cmd, "CPID") == 0) {
		m->cmd = AP_CPID;
		if (argc < 2 || parse_ulong(argv[1], &m->id) < 0) {
			*err = "CPID needs a process id";
			return -1;
		}
		return 0;
	}
	if (strcmp(cmd, "CONT") == 0 || strcmp(cmd, "CANCEL") == 0) {
		m->cmd = cmd[1] == 'O' ? AP_CONT : AP_CANCEL;
		if (argc < 2 || parse_ulong(argv[1], &m->id) < 0) {
			*err = "missing request id";
			return -1;
		}
		if (m->cmd == AP_CONT) {
			if (argc < 3) {
				*err = "CONT needs data";
				return -1;
			}
			m->data = argv[2];
		}
		return 0;
	}
	if (strcmp(cmd, "AUTH") == 0) {
		struct authproto_auth *a = &m->auth;
		m->cmd = AP_AUTH;
		if (argc < 3 || parse_ulong(argv[1], &a->id) < 0 || argv[2][0] == '\0') {
			*err = "AUTH needs ID and MECHANISM";
			return -1;
		}
		a->mech = argv[2];
		a->service = a->lip = a->rip = "";
		for (int i = 3; i < argc; i++) {
			const char *p = argv[i];
			if (strncmp(p, "service=", 8) == 0)
				a->service = p + 8;
			else if (strncmp(p, "lip=", 4) == 0)
				a->lip = p + 4;
			else if (strncmp(p, "rip=", 4) == 0)
				a->rip = p + 4;
			else if (strncmp(p, "resp=", 5) == 0)
				a->resp = p + 5;
			else if (strcmp(p, "secured") == 0 || strncmp(p, "secured=", 8) == 0)
				a->secured = true;
			else if (strcmp(p, "nologin") == 0)
				a->nologin = true;
			else if (strcmp(p, "final-resp-ok") == 0)
				a->final_resp_ok = true;
		}
		m->id = a->id;
		return 0;
	}
	m->cmd = AP_UNKNOWN;
	return 0;
}
