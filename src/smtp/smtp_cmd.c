/* smtp_cmd: SMTP command line parser (pure, bounded, no I/O). */
#include "smtp/smtp_cmd.h"

#include <string.h>
#include <strings.h>

enum argkind {
	ARG_NONE,		/* nothing may follow the verb */
	ARG_OPT,		/* optional free text */
	ARG_REQ,		/* required free text */
	ARG_MAIL,		/* FROM:<path> params */
	ARG_RCPT,		/* TO:<path> params */
	ARG_BDAT		/* size [LAST] */
};

static const struct verbinfo {
	const char *name;
	enum argkind arg;
	const char *syntax;	/* 501 reply when the argument is wrong */
} verbs[SMTP_V__COUNT] = {
	[SMTP_V_UNKNOWN] = { "UNKNOWN", ARG_OPT, NULL },
	[SMTP_V_HELO] = { "HELO", ARG_REQ, "501 5.5.4 Syntax: HELO hostname" },
	[SMTP_V_EHLO] = { "EHLO", ARG_REQ, "501 5.5.4 Syntax: EHLO hostname" },
	[SMTP_V_MAIL] = { "MAIL", ARG_MAIL, "501 5.5.4 Syntax: MAIL FROM:<address>" },
	[SMTP_V_RCPT] = { "RCPT", ARG_RCPT, "501 5.5.4 Syntax: RCPT TO:<address>" },
	[SMTP_V_DATA] = { "DATA", ARG_NONE, "501 5.5.4 Syntax: DATA" },
	[SMTP_V_BDAT] = { "BDAT", ARG_BDAT, "501 5.5.4 Syntax: BDAT chunk-size [LAST]" },
	[SMTP_V_RSET] = { "RSET", ARG_NONE, "501 5.5.4 Syntax: RSET" },
	[SMTP_V_NOOP] = { "NOOP", ARG_OPT, NULL },
	[SMTP_V_QUIT] = { "QUIT", ARG_NONE, "501 5.5.4 Syntax: QUIT" },
	[SMTP_V_VRFY] = { "VRFY", ARG_OPT, NULL },
	[SMTP_V_EXPN] = { "EXPN", ARG_OPT, NULL },
	[SMTP_V_HELP] = { "HELP", ARG_OPT, NULL },
	[SMTP_V_STARTTLS] = { "STARTTLS", ARG_NONE, "501 5.5.4 Syntax: STARTTLS" },
	[SMTP_V_AUTH] = { "AUTH", ARG_REQ, "501 5.5.4 Syntax: AUTH mechanism [initial-response]" },
};

#define E_UNKNOWN	"500 5.5.1 Command unrecognized"
#define E_CHARS		"500 5.5.2 Invalid characters in command"
#define E_SENDER	"501 5.1.7 Bad sender address syntax"
#define E_RCPT		"501 5.1.3 Bad recipient address syntax"
#define E_PARAM		"501 5.5.4 Syntax error in parameters"
#define E_TOOMANY	"555 5.5.4 Too many parameters"
#define E_DUP		"555 5.5.4 Duplicate parameter"

static int
fail(const char **error_r, const char *why)
{
	if (error_r != NULL)
		*error_r = why;
	return -1;
}

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static char
to_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - ('a' - 'A')) : c;
}

/*
 * ESMTP parameters in line[i..e): esmtp-param *(SP esmtp-param), RFC 5321
 * 4.1.2. Leading and repeated spaces are tolerated. Keys are upper-cased and
 * keys and values NUL-terminated in place.
 */
static int
parse_params(char *line, size_t i, size_t e, struct smtp_cmd *cmd,
    const char **error_r)
{
	size_t k, t, j;

	for (;;) {
		while (i < e && line[i] == ' ')
			i++;
		if (i >= e)
			return 0;
		for (t = i; t < e && line[t] != ' '; t++)
			;
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		for (k = i; k < t && line[k] != '='; k++) {
			if (!is_alnum((unsigned char)line[k]) &&
			    (line[k] != '-' || k == i))
				return fail(error_r, E_PARAM);
			line[k] = to_upper(line[k]);
		}
		if (k == i)
			return fail(error_r, E_PARAM);
		if (cmd->nparams == SMTP_MAX_PARAMS)
			return fail(error_r, E_TOOMANY);
		cmd->params[cmd->nparams].key = line + i;
		cmd->params[cmd->nparams].value = NULL;
		if (k < t) {
			/* esmtp-value = 1*(%d33-60 / %d62-126) */
			if (k + 1 == t)
				return fail(error_r, E_PARAM);
			for (j = k + 1; j < t; j++) {
				unsigned char c = (unsigned char)line[j];

				if (c < 33 || c > 126 || c == '=')
					return fail(error_r, E_PARAM);
			}
			line[k] = '\0';
			cmd->params[cmd->nparams].value = line + k + 1;
		}
		/* line[e] is NUL already (trailing spaces were cut there). */
		line[t] = '\0';
		for (j = 0; j < cmd->nparams; j++)
			if (strcmp(cmd->params[j].key, line + i) == 0)
				return fail(error_r, E_DUP);
		cmd->nparams++;
		i = t + 1;
	}
}

/* "FROM:<path> params" / "TO:<path> params" at line[i..e). */
static int
parse_mail_rcpt(char *line, size_t i, size_t e, unsigned flags,
    struct smtp_cmd *cmd, const struct verbinfo *vi, const char **error_r)
{
	const char *kw, *bad, *why;
	size_t kwlen, span;
	unsigned af;

	if (cmd->verb == SMTP_V_MAIL) {
		kw = "FROM:";
		bad = E_SENDER;
		af = (flags | ADDR_F_ALLOW_NULL) & ~(unsigned)ADDR_F_ALLOW_POSTMASTER;
	} else {
		kw = "TO:";
		bad = E_RCPT;
		af = (flags | ADDR_F_ALLOW_POSTMASTER) & ~(unsigned)ADDR_F_ALLOW_NULL;
	}
	af &= ~(unsigned)ADDR_F_NO_BRACKETS;
	kwlen = strlen(kw);
	if (e - i < kwlen || strncasecmp(line + i, kw, kwlen) != 0)
		return fail(error_r, vi->syntax);
	i += kwlen;
	/* One space after the colon is a common client error (Postfix too). */
	if (i < e && line[i] == ' ')
		i++;
	if (i >= e)
		return fail(error_r, vi->syntax);
	if ((span = addr_path_span(line + i, e - i)) == 0)
		return fail(error_r, bad);
	if (i + span < e && line[i + span] != ' ')
		return fail(error_r, bad);
	if (parse_params(line, i + span, e, cmd, error_r) == -1)
		return -1;
	/* RFC 6531 3.4: the path of this very MAIL may be UTF-8. */
	if (cmd->verb == SMTP_V_MAIL && smtp_cmd_param(cmd, "SMTPUTF8") != NULL)
		af |= ADDR_F_UTF8;
	if (addr_parse_path(line + i, span, af, &cmd->addr, &why) == -1)
		return fail(error_r, bad);
	return 0;
}

/* "size [LAST]" at line[i..e), size = 1*DIGIT without overflow. */
static int
parse_bdat(const char *line, size_t i, size_t e, struct smtp_cmd *cmd,
    const char **error_r)
{
	const char *syn = verbs[SMTP_V_BDAT].syntax;
	uint64_t v = 0;
	size_t nd = 0;

	while (i < e && line[i] >= '0' && line[i] <= '9') {
		unsigned d = (unsigned)(line[i] - '0');

		if (++nd > 20 || v > (UINT64_MAX - d) / 10)
			return fail(error_r, syn);
		v = v * 10 + d;
		i++;
	}
	if (nd == 0 || (i < e && line[i] != ' '))
		return fail(error_r, syn);
	while (i < e && line[i] == ' ')
		i++;
	if (i < e) {
		if (e - i != 4 || strncasecmp(line + i, "LAST", 4) != 0)
			return fail(error_r, syn);
		cmd->bdat_last = 1;
	}
	cmd->bdat_size = v;
	return 0;
}

int
smtp_cmd_parse(char *line, size_t len, unsigned flags, struct smtp_cmd *cmd,
    const char **error_r)
{
	const struct verbinfo *vi;
	size_t i, vlen, e;
	int v;

	memset(cmd, 0, sizeof(*cmd));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f)
			return fail(error_r, E_CHARS);
	}
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	for (v = SMTP_V_UNKNOWN + 1; v < SMTP_V__COUNT; v++)
		if (strlen(verbs[v].name) == vlen &&
		    strncasecmp(line, verbs[v].name, vlen) == 0)
			break;
	if (v == SMTP_V__COUNT)
		return fail(error_r, E_UNKNOWN);
	cmd->verb = (enum smtp_verb)v;
	vi = &verbs[v];

	for (i = vlen; i < len && line[i] == ' '; i++)
		;
	for (e = len; e > i && line[e - 1] == ' '; e--)
		;
	/* line[len] is NUL by contract, so this stays in bounds. */
	line[e] = '\0';

	switch (vi->arg) {
	case ARG_NONE:
		if (i < e)
			return fail(error_r, vi->syntax);
		cmd->arg = line + i;
		return 0;
	case ARG_OPT:
		cmd->arg = line + i;
		return 0;
	case ARG_REQ:
		if (i == e)
			return fail(error_r, vi->syntax);
		cmd->arg = line + i;
		return 0;
	case ARG_BDAT:
		cmd->arg = line + i;
		return parse_bdat(line, i, e, cmd, error_r);
	case ARG_MAIL:
	case ARG_RCPT:
		if (parse_mail_rcpt(line, i, e, flags, cmd, vi, error_r) == -1) {
			/* Leave no half-filled parameters behind. */
			cmd->nparams = 0;
			memset(&cmd->addr, 0, sizeof(cmd->addr));
			return -1;
		}
		return 0;
	}
	return fail(error_r, E_UNKNOWN);
}

const struct smtp_param *
smtp_cmd_param(const struct smtp_cmd *cmd, const char *key)
{
	size_t i;

	for (i = 0; i < cmd->nparams && i < SMTP_MAX_PARAMS; i++)
		if (strcasecmp(cmd->params[i].key, key) == 0)
			return &cmd->params[i];
	return NULL;
}

static int
hexval(char c)
{
	/* RFC 3461 4: hexchar uses upper-case digits only. */
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
smtp_xtext_decode(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	int hi, lo;
	unsigned char c;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c == '+') {
			if ((hi = hexval(in[1])) == -1 || (lo = hexval(in[2])) == -1)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			in += 2;
			/* Decoded text goes into DSNs and logs: printable ASCII
			 * only (SP is fine once encoded). */
			if (c < 0x20 || c > 0x7e)
				goto bad;
		} else if (c < 33 || c > 126 || c == '=')
			goto bad;
		if (o + 1 >= outsz)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	if ((int)v <= SMTP_V_UNKNOWN || v >= SMTP_V__COUNT)
		return "UNKNOWN";
	return verbs[v].name;
}
