/* addr: RFC 5321 4.1.2 Path / Mailbox parsing (pure, bounded, no I/O). */
#include "mail/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static int
fail(const char **error_r, const char *why)
{
	if (error_r != NULL)
		*error_r = why;
	return -1;
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext (RFC 5321 uses the same set for Atom). */
static int
is_atext(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static unsigned char
to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), 0 if malformed. C1 controls (U+0080..U+009F)
 * are refused too: they have no business in an address.
 */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need + 1)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	if (c == 0xc2 && p[1] <= 0x9f)
		return 0;
	return need + 1;
}

/* Reject control bytes anywhere, and non-ASCII unless UTF-8 is allowed and
 * the input is well-formed. Sets *utf8 when any non-ASCII byte occurs. */
static int
check_bytes(const unsigned char *p, size_t len, unsigned flags, bool *utf8,
    const char **error_r)
{
	size_t i, n;

	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] < 0x20 || p[i] == 0x7f)
			return fail(error_r, "control character in address");
		if (p[i] < 0x80)
			continue;
		if (!(flags & ADDR_F_UTF8))
			return fail(error_r, "non-ASCII character in address");
		if ((n = utf8_seq(p + i, len - i)) == 0)
			return fail(error_r, "malformed UTF-8 in address");
		*utf8 = true;
	}
	return 0;
}

/* Is s (NUL-free, n bytes) an RFC 5321 Dot-string? Non-ASCII counts as atext
 * (RFC 6531), its well-formedness having been checked elsewhere. */
static int
is_dot_string(const unsigned char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!is_atext(s[i]) && s[i] < 0x80)
			return 0;
	}
	return 1;
}

/*
 * Parse an address literal "[...]" spanning exactly p[0..n) into out
 * (ADDR_DOMAIN_MAX + 1 bytes). Only IPv4 and IPv6 literals: a
 * General-address-literal has no standardised tag we could deliver to.
 */
static int
parse_literal(const unsigned char *p, size_t n, char *out, const char **error_r)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	unsigned char bin[sizeof(struct in6_addr)];
	const unsigned char *c;
	size_t clen, i, o = 0;
	int v6;

	if (n < 2 || p[0] != '[' || p[n - 1] != ']')
		return fail(error_r, "unbalanced '[' in address literal");
	c = p + 1;
	clen = n - 2;
	v6 = clen >= 5 && strncasecmp((const char *)c, "IPv6:", 5) == 0;
	if (v6) {
		c += 5;
		clen -= 5;
	}
	if (clen == 0 || clen >= sizeof(tmp))
		return fail(error_r, "bad address literal");
	memcpy(tmp, c, clen);
	tmp[clen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, bin) != 1)
		return fail(error_r, "bad address literal");
	out[o++] = '[';
	if (v6) {
		memcpy(out + o, "IPv6:", 5);
		o += 5;
	}
	for (i = 0; i < clen; i++)
		out[o++] = (char)to_lower((unsigned char)tmp[i]);
	out[o++] = ']';
	out[o] = '\0';
	return 0;
}

/*
 * Parse a Domain or address-literal spanning exactly p[0..n) into out
 * (ADDR_DOMAIN_MAX + 1 bytes): lower-cased, one trailing dot removed.
 */
static int
parse_domain(const unsigned char *p, size_t n, char *out, bool *literal,
    const char **error_r)
{
	size_t i, lab = 0;

	*literal = false;
	if (n > 0 && p[0] == '[') {
		*literal = true;
		return parse_literal(p, n, out, error_r);
	}
	/* "example.com." is the same domain; strip one dot only. */
	if (n > 1 && p[n - 1] == '.')
		n--;
	if (n == 0)
		return fail(error_r, "empty domain");
	if (n > ADDR_DOMAIN_MAX)
		return fail(error_r, "domain too long");
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '.') {
			if (lab == 0 || p[i - 1] == '-')
				return fail(error_r, "bad domain label");
			lab = 0;
		} else if (is_alpha(c) || is_digit(c) || c == '_' || c >= 0x80 ||
		    (c == '-' && lab > 0)) {
			/* Underscore is not LDH, but common in the wild. */
			if (++lab > 63)
				return fail(error_r, "domain label too long");
		} else
			return fail(error_r, "invalid character in domain");
		out[i] = (char)to_lower(c);
	}
	if (lab == 0 || p[n - 1] == '-')
		return fail(error_r, "bad domain label");
	out[n] = '\0';
	return 0;
}

/* Length of the source-route domain at p[0..n): up to ',' or ':' outside
 * an address literal. */
static size_t
route_domain_len(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n > 0 && p[0] == '[') {
		while (i < n && p[i] != ']')
			i++;
		return i < n ? i + 1 : n;
	}
	while (i < n && p[i] != ',' && p[i] != ':')
		i++;
	return i;
}

/* A-d-l ":" at p[0..n); stores the bytes consumed in *skip. */
static int
skip_route(const unsigned char *p, size_t n, size_t *skip, const char **error_r)
{
	char scratch[ADDR_DOMAIN_MAX + 1];
	bool lit;
	size_t i = 0, dl;

	for (;;) {
		if (i >= n || p[i] != '@')
			return fail(error_r, "bad source route");
		i++;
		dl = route_domain_len(p + i, n - i);
		if (parse_domain(p + i, dl, scratch, &lit, error_r) == -1)
			return -1;
		i += dl;
		if (i >= n || (p[i] != ':' && p[i] != ','))
			return fail(error_r, "bad source route");
		if (p[i++] == ':')
			break;
	}
	*skip = i;
	return 0;
}

/* Mailbox at p[0..n), or the bare "Postmaster" when allowed. */
static int
parse_mailbox(const unsigned char *p, size_t n, unsigned flags, bool routed,
    struct mailaddr *a, const char **error_r)
{
	size_t i = 0, o = 0;

	if (n == 0)
		return fail(error_r, "empty address");
	if (p[0] == '"') {
		/* Quoted-string: keep the content, drop quotes and escapes. */
		for (i = 1;; i++) {
			if (i >= n)
				return fail(error_r, "unbalanced '\"'");
			if (p[i] == '"')
				break;
			if (p[i] == '\\') {
				if (++i >= n)
					return fail(error_r, "unbalanced '\"'");
				if (p[i] < 0x20 || p[i] > 0x7e)
					return fail(error_r, "bad quoted-pair");
			}
			/* The raw length bounds o: the check below comes first. */
			if (i + 1 > ADDR_LOCAL_MAX)
				return fail(error_r, "local part too long");
			a->local[o++] = (char)p[i];
		}
		i++;
		if (i > ADDR_LOCAL_MAX)
			return fail(error_r, "local part too long");
	} else {
		while (i < n && p[i] != '@') {
			if (!is_atext(p[i]) && p[i] != '.' && p[i] < 0x80)
				return fail(error_r, "invalid character in local part");
			if (i >= ADDR_LOCAL_MAX)
				return fail(error_r, "local part too long");
			a->local[o++] = (char)p[i];
			i++;
		}
		if (!is_dot_string(p, i))
			return fail(error_r, "bad local part");
	}
	a->local[o] = '\0';
	if (i == n && p[0] != '"' && !routed && (flags & ADDR_F_ALLOW_POSTMASTER) &&
	    strcasecmp(a->local, "postmaster") == 0) {
		/* RFC 5321 4.5.1: <Postmaster> without a domain. */
		a->domain[0] = '\0';
		return 0;
	}
	if (i >= n || p[i] != '@')
		return fail(error_r, "missing '@'");
	i++;
	if (parse_domain(p + i, n - i, a->domain, &a->literal, error_r) == -1)
		return -1;
	a->quoted = !is_dot_string((const unsigned char *)a->local, o);
	return 0;
}

int
addr_parse_path(const char *s, size_t len, unsigned flags, struct mailaddr *a,
    const char **error_r)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = len, r = 0;
	bool utf8 = false;

	memset(a, 0, sizeof(*a));
	if (check_bytes(p, len, flags, &utf8, error_r) == -1)
		return -1;
	if (!(flags & ADDR_F_NO_BRACKETS)) {
		if (len == 0 || p[0] != '<')
			return fail(error_r, "missing '<'");
		if (len < 2 || p[len - 1] != '>')
			return fail(error_r, "missing '>'");
		p++;
		n = len - 2;
	}
	if (n == 0) {
		if (!(flags & ADDR_F_ALLOW_NULL))
			return fail(error_r, "null address not allowed");
		a->null = true;
		return 0;
	}
	if (!(flags & ADDR_F_NO_BRACKETS) && p[0] == '@') {
		/* Source route: RFC 5321 C says accept and ignore it. */
		if (skip_route(p, n, &r, error_r) == -1)
			return -1;
	}
	if (parse_mailbox(p + r, n - r, flags, r > 0, a, error_r) == -1) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	/* The route was checked for UTF-8 too but is gone: look at what stays. */
	if (utf8) {
		const char *q;

		a->utf8 = false;
		for (q = a->local; *q != '\0'; q++)
			if ((unsigned char)*q >= 0x80)
				a->utf8 = true;
		for (q = a->domain; *q != '\0'; q++)
			if ((unsigned char)*q >= 0x80)
				a->utf8 = true;
	}
	return 0;
}

int
addr_format(const struct mailaddr *a, char *buf, size_t bufsz)
{
	const unsigned char *l = (const unsigned char *)a->local;
	size_t llen = strnlen(a->local, sizeof(a->local));
	size_t dlen = strnlen(a->domain, sizeof(a->domain));
	size_t i, o = 0;
	int q;

	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	if (a->null)
		return 0;
	if (llen == sizeof(a->local) || dlen == sizeof(a->domain))
		return -1;
	/* Never emit a control byte, whatever the struct was filled with. */
	for (i = 0; i < llen; i++)
		if (l[i] < 0x20 || l[i] == 0x7f)
			return -1;
	for (i = 0; i < dlen; i++)
		if ((unsigned char)a->domain[i] < 0x20 || a->domain[i] == 0x7f)
			return -1;
	q = !is_dot_string(l, llen);
#define PUT(c) do {							\
		if (o + 1 >= bufsz) {					\
			buf[0] = '\0';					\
			return -1;					\
		}							\
		buf[o++] = (char)(c);					\
	} while (0)
	if (q)
		PUT('"');
	for (i = 0; i < llen; i++) {
		if (q && (l[i] == '"' || l[i] == '\\'))
			PUT('\\');
		PUT(l[i]);
	}
	if (q)
		PUT('"');
	if (dlen > 0) {
		PUT('@');
		for (i = 0; i < dlen; i++)
			PUT(a->domain[i]);
	}
#undef PUT
	buf[o] = '\0';
	return (int)o;
}

size_t
addr_path_span(const char *s, size_t len)
{
	size_t i;
	int q = 0;

	if (len == 0 || s[0] != '<')
		return 0;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n')
			return 0;
		if (q) {
			if (c == '\\') {
				if (++i >= len || s[i] == '\0' || s[i] == '\r' ||
				    s[i] == '\n')
					return 0;
			} else if (c == '"')
				q = 0;
		} else if (c == '"')
			q = 1;
		else if (c == '>')
			return i + 1;
		else if (c == ' ' || c == '<')
			return 0;	/* a path has neither outside quotes */
	}
	return 0;
}
