/* libFuzzer target: authproto_split and authproto_parse on every LF-separated
 * line of the input, plus authproto_escape round trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A field in argv must lie in the line buffer [buf, buf + len]. */
static void
check_in(const char *p, const char *buf, size_t len)
{
	if (p < buf || p > buf + len || p + strlen(p) > buf + len)
		abort();
}

static void
check_parsed(const struct authproto_msg *m, char **argv, int argc, const char *buf, size_t len)
{
	switch (m->cmd) {
	case AP_VERSION:
		if (argc < 3)
			abort();
		break;
	case AP_CPID:
	case AP_CANCEL:
		if (argc < 2)
			abort();
		break;
	case AP_CONT:
		if (argc < 3 || m->data == NULL)
			abort();
		check_in(m->data, buf, len);
		break;
	case AP_AUTH: {
		const struct authproto_auth *a = &m->auth;
		if (argc < 3 || a->mech == NULL || a->mech[0] == '\0' || a->id != m->id)
			abort();
		if (strcmp(a->mech, argv[2]) != 0)
			abort();
		check_in(a->mech, buf, len);
		/* "" when not given (not necessarily in the line) */
		if (a->service[0] != '\0')
			check_in(a->service, buf, len);
		if (a->lip[0] != '\0')
			check_in(a->lip, buf, len);
		if (a->rip[0] != '\0')
			check_in(a->rip, buf, len);
		if (a->resp != NULL)
			check_in(a->resp, buf, len);
		if (argc == 3 && (a->resp != NULL || a->secured || a->nologin || a->service[0] ||
		    a->lip[0] || a->rip[0]))
			abort();	/* no parameters, nothing set */
		break;
	}
	case AP_UNKNOWN:
		if (argc >= 1 && (strcmp(argv[0], "VERSION") == 0 || strcmp(argv[0], "CPID") == 0 ||
		    strcmp(argv[0], "AUTH") == 0 || strcmp(argv[0], "CONT") == 0 ||
		    strcmp(argv[0], "CANCEL") == 0))
			abort();
		break;
	default:
		abort();
	}
}

static void
one_line(const uint8_t *p, size_t len)
{
	char *buf = malloc(len + 1), *argv[AUTHPROTO_ARGS_MAX];
	bool raw_ctl = memchr(p, '\0', len) != NULL || memchr(p, '\r', len) != NULL;

	if (buf == NULL)
		return;
	memcpy(buf, p, len);
	buf[len] = '\0';
	int argc = authproto_split(buf, len, argv, AUTHPROTO_ARGS_MAX);
	if (argc < -1 || argc == 0 || argc > AUTHPROTO_ARGS_MAX)
		abort();
	if (raw_ctl && argc != -1)
		abort();	/* a line holding NUL or CR is refused */
	if (argc > 0) {
		/* Fields only shrink; escaped, joined and split again they come back. */
		size_t total = 0, cap = 0;
		for (int i = 0; i < argc; i++) {
			check_in(argv[i], buf, len);
			total += strlen(argv[i]) + 1;
			cap += 2 * strlen(argv[i]) + 1;
		}
		if (total - 1 > len)
			abort();
		char *line = malloc(cap + 1), *argv2[AUTHPROTO_ARGS_MAX];
		size_t o = 0;
		if (line == NULL)
			abort();
		for (int i = 0; i < argc; i++) {
			if (i > 0)
				line[o++] = '\t';
			int e = authproto_escape(argv[i], strlen(argv[i]), line + o, cap + 1 - o);
			if (e < 0 || (size_t)e < strlen(argv[i]))
				abort();
			o += (size_t)e;
		}
		if (memchr(line, '\n', o) || memchr(line, '\r', o) || memchr(line, '\0', o))
			abort();
		if (authproto_split(line, o, argv2, AUTHPROTO_ARGS_MAX) != argc)
			abort();
		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], argv2[i]) != 0)
				abort();
		free(line);

		struct authproto_msg m;
		const char *err = NULL;
		int rc = authproto_parse(argv, argc, &m, &err);
		if (rc == -1) {
			if (err == NULL)
				abort();
		} else if (rc == 0) {
			if (err != NULL)
				abort();
			check_parsed(&m, argv, argc, buf, len);
		} else
			abort();
	}
	free(buf);

	/* The raw line as one escaped value: split gives it back whole. */
	if (memchr(p, '\0', len) == NULL && len < 4096) {
		size_t cap = 2 * len + 1;
		char *esc = malloc(cap + 1), *av[2];
		if (esc == NULL)
			abort();
		int e = authproto_escape((const char *)p, len, esc, cap);
		if (e < 0)
			abort();
		/* one byte less than needed must fail */
		char *small = malloc((size_t)e + 1);
		if (small == NULL || authproto_escape((const char *)p, len, small, (size_t)e) != -1)
			abort();
		free(small);
		if (authproto_split(esc, (size_t)e, av, 2) != 1 || strlen(av[0]) != len ||
		    memcmp(av[0], p, len) != 0)
			abort();
		free(esc);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0;

	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			if (i < size || i > start)
				one_line(data + start, i - start);
			start = i + 1;
		}
	}
	return 0;
}
