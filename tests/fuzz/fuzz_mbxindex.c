/* libFuzzer target: mbxi_parse (estafeta.index); what parses is written
 * again as a snapshot and parses back to the same records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "store/mbxindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct mbxi *x, const char *buf, size_t len)
{
	if (x->snap_len > x->good_len || x->good_len > len || x->uidvalidity == 0)
		abort();
	for (size_t i = 0; i < x->n; i++) {
		const struct mbxi_rec *r = &x->r[i];
		if (r->uid == 0 || (i > 0 && r->uid <= x->r[i - 1].uid))
			abort();
		if (r->base < buf || r->base + r->base_len > buf + len || r->base_len == 0 ||
		    memchr(r->base, '/', r->base_len) != NULL)
			abort();
		if (r->env != NULL && (r->env < buf || r->env + r->env_len > buf + len))
			abort();
		if (r->bs != NULL && (r->bs < buf || r->bs + r->bs_len > buf + len))
			abort();
		if (mbxi_find(x, r->uid) != r)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *err = NULL;
	struct mbxi x, y;
	if (mbxi_parse(buf, size, 100000, &x, &err) != 0) {
		if (err == NULL)
			abort();
		return 0;
	}
	check(&x, buf, size);
	struct buf b = { 0 };
	mbxi_snap_begin(&b, x.uidvalidity, x.uidnext, x.highestmodseq, x.expunge_modseq,
	    (uint32_t)x.n);
	for (size_t i = 0; i < x.n; i++)
		mbxi_put_rec(&b, &x.r[i]);
	mbxi_snap_end(&b, 0);
	if (mbxi_parse(b.p, b.len, 100000, &y, &err) != 0)
		abort();
	check(&y, b.p, b.len);
	if (y.n != x.n || y.good_len != b.len || y.uidvalidity != x.uidvalidity ||
	    y.highestmodseq != x.highestmodseq || y.expunge_modseq != x.expunge_modseq)
		abort();
	for (size_t i = 0; i < x.n; i++) {
		const struct mbxi_rec *p = &x.r[i], *q = &y.r[i];
		if (p->uid != q->uid || p->flags != q->flags || p->kw != q->kw ||
		    p->modseq != q->modseq || p->size != q->size || p->vsize != q->vsize ||
		    p->idate != q->idate || p->base_len != q->base_len ||
		    memcmp(p->base, q->base, p->base_len) != 0 || (p->env == NULL) != (q->env == NULL) ||
		    (p->bs == NULL) != (q->bs == NULL) ||
		    (p->env != NULL && (p->env_len != q->env_len ||
		    memcmp(p->env, q->env, p->env_len) != 0)) ||
		    (p->bs != NULL && (p->bs_len != q->bs_len || memcmp(p->bs, q->bs, p->bs_len) != 0)))
			abort();
	}
	mbxi_free(&y);
	mbxi_free(&x);
	buf_free(&b);
	return 0;
}
