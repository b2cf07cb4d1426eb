#include "mail/addrlist.h"

#include <stdbool.h>
#include <string.h>

/* Emit the collected addr-spec text, trimmed of blanks. */
static bool
emit(const char *s, size_t n, size_t *count, size_t max,
    void (*cb)(void *, const char *, size_t), void *ctx)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n == 0)
		return true;
	if (*count >= max)
		return false;
	(*count)++;
	cb(ctx, s, n);
	return true;
}

int
addrlist_parse(const char *v, size_t len, size_t max_addrs,
    void (*cb)(void *ctx, const char *addr, size_t addrlen), void *ctx)
{
	/* The current mailbox is gathered with comments and quotes kept only
	 * where they belong to the addr-spec: we copy plain text of the element
	 * into buf, and when an angle-addr appears it replaces the element. */
	char buf[1024];
	size_t blen = 0, count = 0;
	bool angle_done = false;
	size_t i = 0;

	while (i < len) {
		char c = v[i];
		if (c == '(') {
			int depth = 0;
			for (; i < len; i++) {
				if (v[i] == '\\' && i + 1 < len) {
					i++;
					continue;
				}
				if (v[i] == '(' && ++depth > 32)
					return -1;
				if (v[i] == ')' && --depth == 0)
					break;
			}
			if (i >= len)
				return -1;
			i++;
			continue;
		}
		if (c == '"') {
			size_t start = i++;
			for (; i < len && v[i] != '"'; i++)
				if (v[i] == '\\' && i + 1 < len)
					i++;
			if (i >= len)
				return -1;
			i++;
			if (!angle_done) {
				size_t n = i - start;
				if (blen + n >= sizeof(buf))
					return -1;
				memcpy(buf + blen, v + start, n);
				blen += n;
			}
			continue;
		}
		if (c == '[' && !angle_done && blen > 0 && buf[blen - 1] == '@') {
			/* A domain literal (a@[127.0.0.1], a@[IPv6:::1]): its ':' are
			 * not a group. Other text in brackets is left alone. */
			size_t n = 1;
			while (i + n < len && v[i + n] != ']' && v[i + n] != '\0' &&
			    strchr("0123456789abcdefABCDEFIPv:.", v[i + n]) != NULL)
				n++;
			if (i + n < len && v[i + n] == ']') {
				n++;
				if (blen + n >= sizeof(buf))
					return -1;
				memcpy(buf + blen, v + i, n);
				blen += n;
				i += n;
				continue;
			}
		}
		if (c == '<') {
			size_t start = ++i;
			for (; i < len && v[i] != '>'; i++) {
				if (v[i] == '"') {
					for (i++; i < len && v[i] != '"'; i++)
						if (v[i] == '\\' && i + 1 < len)
							i++;
					if (i >= len)
						return -1;
				}
			}
			if (i >= len)
				return -1;
			size_t n = i - start;
			if (n >= sizeof(buf))
				return -1;
			memcpy(buf, v + start, n);	/* the angle-addr wins over the phrase */
			blen = n;
			angle_done = true;
			i++;
			continue;
		}
		if (c == ':' && !angle_done) {
			/* "group:" — the phrase before it is the group name. */
			blen = 0;
			i++;
			continue;
		}
		if (c == ',' || c == ';') {
			if (!emit(buf, blen, &count, max_addrs, cb, ctx))
				return (int)count;
			blen = 0;
			angle_done = false;
			i++;
			continue;
		}
		if (c == '>' || c == ')')
			return -1;
		if (!angle_done) {
			if (blen + 1 >= sizeof(buf))
				return -1;
			buf[blen++] = c;
		}
		i++;
	}
	if (!emit(buf, blen, &count, max_addrs, cb, ctx))
		return (int)count;
	return (int)count;
}
