#include "lib/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/util.h"

void
buf_need(struct buf *b, size_t n)
{
	size_t cap;

	if (b->p != NULL && b->cap - b->len > n)
		return;
	/* keeps the doubling below from wrapping */
	if (n > SIZE_MAX / 4 - b->len)
		abort();
	cap = b->cap ? b->cap : 64;
	while (cap - b->len <= n)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
	b->p[b->len] = '\0';
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	buf_need(b, 0);
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
buf_addu(struct buf *b, unsigned long long v)
{
	char tmp[32];
	int k = snprintf(tmp, sizeof(tmp), "%llu", v);

	buf_add(b, tmp, (size_t)k);
}
