/* buf: a growing byte buffer for building output and scratch strings.
 * Start from all zeroes; once anything was added (or buf_reset), p is
 * allocated and kept NUL-terminated, so p[0..len) is also a C string when
 * the data has no NUL. Running out of memory, or a size that would
 * overflow, is fatal. */
#ifndef BUF_H
#define BUF_H
#include <stddef.h>
#include <string.h>

struct buf {
	char *p;
	size_t len, cap;	/* cap counts the NUL's byte too */
};

/* Room for n more bytes and the NUL; allocates p even for n 0. */
void buf_need(struct buf *b, size_t n);
/* Empty, but allocated: p is "". */
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* v in decimal. */
void buf_addu(struct buf *b, unsigned long long v);

/* Inline: byte-at-a-time appends are the hot path of every user. */
static inline void
buf_add(struct buf *b, const void *s, size_t n)
{
	buf_need(b, n);
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void
buf_addc(struct buf *b, char c)
{
	if (b->p == NULL || b->cap - b->len < 2)
		buf_need(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static inline void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}
#endif
