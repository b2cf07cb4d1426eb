/* libFuzzer target: addrlist_parse, unbounded and with small max_addrs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/addrlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXREC 64

struct rec {
	int n;
	size_t len[MAXREC];
	char *addr[MAXREC];
};

static void
collect(void *ctx, const char *addr, size_t addrlen)
{
	struct rec *r = ctx;
	static const char blanks[] = " \t\r\n";

	if (addrlen == 0 || addrlen >= 1024)
		abort();
	if (memchr(blanks, addr[0], 4) != NULL || memchr(blanks, addr[addrlen - 1], 4) != NULL)
		abort();
	if (r->n < MAXREC) {
		r->addr[r->n] = xmalloc(addrlen);
		memcpy(r->addr[r->n], addr, addrlen);
		r->len[r->n] = addrlen;
	}
	r->n++;
}

static void
rec_free(struct rec *r)
{
	for (int i = 0; i < r->n && i < MAXREC; i++)
		free(r->addr[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size ? size : 1);
	struct rec all = { 0 };

	if (size > 0)
		memcpy(buf, data, size);
	int rc = addrlist_parse(buf, size, (size_t)-1, collect, &all);
	if (rc < -1 || (rc >= 0 && rc != all.n))
		abort();
	/* A bound gives a prefix of the same addresses. */
	for (size_t max = 0; max < 4; max++) {
		struct rec some = { 0 };
		int rc2 = addrlist_parse(buf, size, max, collect, &some);
		int want = (size_t)all.n > max ? (int)max : rc;
		if (rc2 != want || (size_t)some.n > max || some.n > all.n)
			abort();
		for (int i = 0; i < some.n && i < MAXREC; i++)
			if (some.len[i] != all.len[i] ||
			    memcmp(some.addr[i], all.addr[i], all.len[i]) != 0)
				abort();
		rec_free(&some);
	}
	rec_free(&all);
	free(buf);
	return 0;
}
