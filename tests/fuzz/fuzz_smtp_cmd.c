/* fuzz_smtp_cmd: smtp_cmd_parse invariants and address round trips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(const char *p, const char *buf, size_t len)
{
	return p >= buf && p <= buf + len && memchr(p, '\0', (size_t)(buf + len + 1 - p));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd cmd;
	struct mailaddr b;
	const char *err = NULL;
	char fmt[600], path[610], xt[512], *line;
	unsigned flags, af;
	size_t i;

	if (size < 1)
		return 0;
	flags = data[0] & 0x0f;
	data++;
	size--;
	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';

	if (smtp_cmd_parse(line, size, flags, &cmd, &err) != 0) {
		if (err == NULL || err[0] < '2' || err[0] > '5' || strlen(err) < 10)
			abort();
		free(line);
		return 0;
	}
	if (cmd.verb <= SMTP_V_UNKNOWN || cmd.verb >= SMTP_V__COUNT)
		abort();
	if (strcmp(smtp_verb_name(cmd.verb), "UNKNOWN") == 0)
		abort();
	if (cmd.nparams > SMTP_MAX_PARAMS)
		abort();
	if (cmd.arg != NULL && !inside(cmd.arg, line, size))
		abort();
	if ((cmd.verb == SMTP_V_MAIL || cmd.verb == SMTP_V_RCPT) != (cmd.arg == NULL))
		abort();
	for (i = 0; i < cmd.nparams; i++) {
		const struct smtp_param *p = &cmd.params[i];

		if (!inside(p->key, line, size) || p->key[0] == '\0')
			abort();
		if (p->value != NULL && (!inside(p->value, line, size) || p->value[0] == '\0'))
			abort();
		for (const char *k = p->key; *k; k++)
			if (*k >= 'a' && *k <= 'z')
				abort();
		if (smtp_cmd_param(&cmd, p->key) != p)
			abort();
		if (p->value != NULL && smtp_xtext_decode(p->value, xt, sizeof(xt)) == 0)
			for (const char *k = xt; *k; k++)
				if ((unsigned char)*k < 0x20 || *k == 0x7f)
					abort();
	}
	if (cmd.verb == SMTP_V_MAIL || cmd.verb == SMTP_V_RCPT) {
		int n = addr_format(&cmd.addr, fmt, sizeof(fmt));

		if (n < 0)
			abort();
		if (cmd.verb == SMTP_V_RCPT && cmd.addr.null)
			abort();
		af = ADDR_F_ALLOW_NULL | ADDR_F_ALLOW_POSTMASTER |
		    (cmd.addr.utf8 ? ADDR_F_UTF8 : 0);
		snprintf(path, sizeof(path), "<%s>", fmt);
		if (addr_parse_path(path, strlen(path), af, &b, &err) != 0)
			abort();
		if (strcmp(b.local, cmd.addr.local) != 0 ||
		    strcmp(b.domain, cmd.addr.domain) != 0)
			abort();
	}
	if (cmd.verb == SMTP_V_BDAT && cmd.bdat_last != 0 && cmd.bdat_last != 1)
		abort();
	free(line);
	return 0;
}
