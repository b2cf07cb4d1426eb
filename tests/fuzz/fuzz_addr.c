/* fuzz_addr: addr_parse_path / addr_format / addr_path_span invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
clean(const char *s, int lower)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (lower && c >= 'A' && c <= 'Z')
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailaddr a, b;
	const char *err = NULL;
	char fmt[600], path[610], *in;
	unsigned flags;
	size_t span;
	int n;

	if (size < 1)
		return 0;
	flags = data[0] & 0x0f;
	data++;
	size--;
	/* An exact-size copy so ASan sees any read past the end. */
	if ((in = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(in, data, size);

	span = addr_path_span(in, size);
	if (span > size || (span > 0 && (in[0] != '<' || in[span - 1] != '>')))
		abort();

	if (addr_parse_path(in, size, flags, &a, &err) != 0) {
		if (err == NULL || *err == '\0')
			abort();
		free(in);
		return 0;
	}
	if (strlen(a.local) > ADDR_LOCAL_MAX || strlen(a.domain) > ADDR_DOMAIN_MAX)
		abort();
	/* Domains are lower-case, except the "IPv6:" tag of a literal. */
	if (!clean(a.local, 0) || !clean(a.domain, 0) ||
	    !clean(a.domain + (strncmp(a.domain, "[IPv6:", 6) == 0 ? 6 : 0), 1))
		abort();
	if (a.literal != (a.domain[0] == '['))
		abort();
	if (strchr(a.domain, '@') != NULL || (a.null && (a.local[0] || a.domain[0])))
		abort();
	if (a.null && !(flags & ADDR_F_ALLOW_NULL))
		abort();
	if (!a.null && a.domain[0] == '\0' && !(flags & ADDR_F_ALLOW_POSTMASTER))
		abort();
	if (a.utf8 && !(flags & ADDR_F_UTF8))
		abort();
	/* A bracketed path that parsed is found by addr_path_span. */
	if (!(flags & ADDR_F_NO_BRACKETS) && span != size)
		abort();

	/* Round trip: format, parse again, same address. */
	n = addr_format(&a, fmt, sizeof(fmt));
	if (n < 0 || (size_t)n != strlen(fmt))
		abort();
	snprintf(path, sizeof(path), "<%s>", fmt);
	if (addr_parse_path(path, strlen(path), flags & ~(unsigned)ADDR_F_NO_BRACKETS, &b,
	    &err) != 0)
		abort();
	if (strcmp(a.local, b.local) != 0 || strcmp(a.domain, b.domain) != 0 ||
	    a.null != b.null || a.quoted != b.quoted || a.literal != b.literal ||
	    a.utf8 != b.utf8)
		abort();
	/* Formatting is bounded. */
	for (size_t k = 0; k <= (size_t)n; k++)
		if (addr_format(&a, fmt, k) != -1)
			abort();
	free(in);
	return 0;
}
