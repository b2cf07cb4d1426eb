/* smtp_cmd: SMTP command line parser (pure, bounded). RFC 5321, 1870, 3030, 3461, 4954, 6152, 6531. */
#ifndef SMTP_CMD_H
#define SMTP_CMD_H
#include <stddef.h>
#include <stdint.h>

#include "mail/addr.h"

enum smtp_verb {
	SMTP_V_UNKNOWN = 0,
	SMTP_V_HELO, SMTP_V_EHLO, SMTP_V_MAIL, SMTP_V_RCPT, SMTP_V_DATA, SMTP_V_BDAT,
	SMTP_V_RSET, SMTP_V_NOOP, SMTP_V_QUIT, SMTP_V_VRFY, SMTP_V_EXPN, SMTP_V_HELP,
	SMTP_V_STARTTLS, SMTP_V_AUTH,
	SMTP_V__COUNT
};

#define SMTP_MAX_PARAMS 16

struct smtp_param {
	char *key;		/* upper-cased, points into the line */
	char *value;		/* NULL when "KEY" had no "=value" */
};

struct smtp_cmd {
	enum smtp_verb verb;
	/* HELO/EHLO domain, VRFY/EXPN/HELP/NOOP text, AUTH "MECH [initial]",
	 * BDAT "size [LAST]": the rest of the line after the verb and spaces, NUL
	 * terminated, trailing spaces removed; "" when absent. NULL for MAIL/RCPT. */
	char *arg;
	/* MAIL FROM / RCPT TO: the parsed path and ESMTP parameters. */
	struct mailaddr addr;
	size_t nparams;
	struct smtp_param params[SMTP_MAX_PARAMS];
	/* BDAT: chunk size and LAST flag. */
	uint64_t bdat_size;
	int bdat_last;
};

/*
 * Parse one command line. `line` is the line without its CRLF, NUL-terminated
 * at line[len]; it is modified in place and `cmd` points into it.
 * `flags` are ADDR_F_* (ADDR_F_UTF8 after MAIL ... SMTPUTF8 is known).
 * Returns 0 or -1 with *error_r set to a complete reply line without CRLF:
 *   unknown verb                          "500 5.5.1 Command unrecognized"
 *   missing/extra argument where required  "501 5.5.4 Syntax: ..."
 *   bad MAIL path                         "501 5.1.7 Bad sender address syntax"
 *   bad RCPT path                         "501 5.1.3 Bad recipient address syntax"
 *   too many or malformed parameters      "555 5.5.4 ..." / "501 5.5.4 ..."
 *   NUL or other control bytes in line    "500 5.5.2 Invalid characters in command"
 * Parameter values are not interpreted here except BDAT's size (bounded to
 * UINT64 without overflow). Keywords are case-insensitive.
 */
int smtp_cmd_parse(char *line, size_t len, unsigned flags, struct smtp_cmd *cmd,
    const char **error_r);

/* Find a parameter by upper-case key; NULL if absent. */
const struct smtp_param *smtp_cmd_param(const struct smtp_cmd *cmd, const char *key);

/* Decode RFC 3461 xtext into out (NUL-terminated). -1 if malformed (bad
 * "+HH", or it decodes to a control character, CR, LF or NUL). */
int smtp_xtext_decode(const char *in, char *out, size_t outsz);

const char *smtp_verb_name(enum smtp_verb v);
#endif
