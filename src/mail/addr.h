/* addr: RFC 5321 reverse-path / forward-path parsing (pure, bounded). */
#ifndef ADDR_H
#define ADDR_H
#include <stdbool.h>
#include <stddef.h>

#define ADDR_LOCAL_MAX  64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */

struct mailaddr {
	/* Local part in canonical form: quotes and quoted-pair escapes removed.
	 * May contain '@', '%', '!' etc. when the client quoted them: callers never
	 * route on the local part. */
	char local[ADDR_LOCAL_MAX + 1];
	/* Domain, ASCII lower-cased, one trailing '.' removed; an address literal
	 * keeps its brackets ("[127.0.0.1]", "[IPv6:::1]"). Empty for <> and for
	 * RCPT TO:<postmaster>. */
	char domain[ADDR_DOMAIN_MAX + 1];
	bool null;		/* the null reverse-path <> */
	bool literal;		/* domain is an address literal */
	bool quoted;		/* local part needed quoting on input */
	bool utf8;		/* contains non-ASCII (needs SMTPUTF8) */
};

#define ADDR_F_ALLOW_NULL       0x01	/* MAIL FROM:<> */
#define ADDR_F_ALLOW_POSTMASTER 0x02	/* RCPT TO:<postmaster> without domain */
#define ADDR_F_UTF8             0x04	/* accept UTF-8 in local part and domain */
#define ADDR_F_NO_BRACKETS      0x08	/* input is a bare address, not <path> */

/*
 * Parse a path as in RFC 5321 4.1.2: "<" [ A-d-l ":" ] Mailbox ">" (the
 * source route is accepted and discarded, RFC 5321 C), or with
 * ADDR_F_NO_BRACKETS a bare Mailbox (used for sendmail arguments and alias
 * targets). The whole input must be consumed. Returns 0, or -1 with *error_r
 * set to a static SMTP reply text (e.g. "501 5.1.7 Bad sender address syntax"
 * is up to the caller; error_r is a short reason like "missing '>'").
 */
int addr_parse_path(const char *s, size_t len, unsigned flags, struct mailaddr *a,
    const char **error_r);

/* Format as local@domain with the local part quoted when needed (RFC 5321
 * Quoted-string). "" for the null path. Returns the length, or -1 when it does
 * not fit in bufsz. */
int addr_format(const struct mailaddr *a, char *buf, size_t bufsz);

/* Length of a valid leading path "<...>" in s (for MAIL FROM:<...> params
 * that follow), honouring quotes; 0 when none. */
size_t addr_path_span(const char *s, size_t len);
#endif
