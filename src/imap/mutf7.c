/* mutf7: IMAP modified UTF-7 (RFC 3501 5.1.3; RFC 2152 with "&" for "+" and
 * "," for "/"), pure and strict both ways. */
#include "imap/mutf7.h"

#include <stdbool.h>
#include <stdint.h>

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Characters that represent themselves (0x20-0x25, 0x27-0x7e, and '&' as "&-"). */
static bool
is_direct(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Output with room kept for the NUL. */
struct obuf {
	char *p;
	size_t o, sz;
};

static int
put(struct obuf *b, char c)
{
	if (b->o + 1 >= b->sz)
		return -1;
	b->p[b->o++] = c;
	return 0;
}

/* One UTF-8 sequence at *i: no overlongs, surrogates or values past
 * U+10FFFF. -1 when malformed. */
static long
utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp, min;
	size_t n, k;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else
		return -1;
	if (len - *i <= n)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return (long)cp;
}

static int
put_utf8(struct obuf *b, uint32_t cp)
{
	if (cp < 0x80)
		return put(b, (char)cp);
	if (cp < 0x800)
		return put(b, (char)(0xc0 | cp >> 6)) == -1 ||
		    put(b, (char)(0x80 | (cp & 0x3f))) == -1 ? -1 : 0;
	if (cp < 0x10000)
		return put(b, (char)(0xe0 | cp >> 12)) == -1 ||
		    put(b, (char)(0x80 | (cp >> 6 & 0x3f))) == -1 ||
		    put(b, (char)(0x80 | (cp & 0x3f))) == -1 ? -1 : 0;
	return put(b, (char)(0xf0 | cp >> 18)) == -1 ||
	    put(b, (char)(0x80 | (cp >> 12 & 0x3f))) == -1 ||
	    put(b, (char)(0x80 | (cp >> 6 & 0x3f))) == -1 ||
	    put(b, (char)(0x80 | (cp & 0x3f))) == -1 ? -1 : 0;
}

int
mutf7_encode(const char *utf8, size_t len, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)utf8;
	struct obuf b = { out, 0, outsz };
	uint32_t acc, units[2];
	unsigned nbits, nu, k;
	size_t i = 0;
	long cp;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	while (i < len) {
		if (is_direct(s[i])) {
			if (put(&b, (char)s[i]) == -1 || (s[i] == '&' && put(&b, '-') == -1))
				goto bad;
			i++;
			continue;
		}
		/* One shift for the whole run: that is the canonical form. */
		if (put(&b, '&') == -1)
			goto bad;
		acc = 0;
		nbits = 0;
		while (i < len && !is_direct(s[i])) {
			if ((cp = utf8_next(s, len, &i)) <= 0)
				goto bad;
			if (cp >= 0x10000) {
				units[0] = 0xd800 | (uint32_t)(cp - 0x10000) >> 10;
				units[1] = 0xdc00 | ((uint32_t)(cp - 0x10000) & 0x3ff);
				nu = 2;
			} else {
				units[0] = (uint32_t)cp;
				nu = 1;
			}
			for (k = 0; k < nu; k++) {
				acc = acc << 16 | units[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					if (put(&b, b64[acc >> nbits & 0x3f]) == -1)
						goto bad;
				}
				acc &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0 && put(&b, b64[acc << (6 - nbits) & 0x3f]) == -1)
			goto bad;
		if (put(&b, '-') == -1)
			goto bad;
	}
	out[b.o] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

int
mutf7_decode(const char *mutf7, size_t len, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)mutf7;
	struct obuf b = { out, 0, outsz };
	uint32_t acc, u, hi, cp;
	unsigned nbits;
	size_t i = 0;
	bool after_shift = false;
	int v;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	while (i < len) {
		if (!is_direct(s[i]))
			goto bad;
		if (s[i] != '&') {
			if (put(&b, (char)s[i++]) == -1)
				goto bad;
			after_shift = false;
			continue;
		}
		if (++i < len && s[i] == '-') {
			if (put(&b, '&') == -1)
				goto bad;
			i++;
			after_shift = false;
			continue;
		}
		/* The encoder would have made one shift of the two. */
		if (after_shift)
			goto bad;
		acc = 0;
		nbits = 0;
		hi = 0;
		for (;;) {
			if (i >= len)
				goto bad;
			if (s[i] == '-') {
				i++;
				break;
			}
			if ((v = b64val(s[i++])) < 0)
				goto bad;
			acc = acc << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			u = acc >> nbits & 0xffff;
			acc &= (1u << nbits) - 1;
			if (hi != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					goto bad;
				cp = 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00);
				hi = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				hi = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff)
				goto bad;
			else
				cp = u;
			/* Printable ASCII must stand for itself; NUL never. */
			if (cp == 0 || (cp >= 0x20 && cp <= 0x7e))
				goto bad;
			if (put_utf8(&b, cp) == -1)
				goto bad;
		}
		/* A whole character, fewer than 6 padding bits, all zero. */
		if (hi != 0 || nbits >= 6 || acc != 0)
			goto bad;
		after_shift = true;
	}
	out[b.o] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}
