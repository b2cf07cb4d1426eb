#include "store/mbxindex.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define HDR_LEN		40	/* magic 8, u32 u32 u64 u64 u32 u32 */
#define REC_FIXED	52
#define LOG_HDR		8
#define HASH_LEN	8
#define BASE_MAX	255

/* 64-bit hash, eight bytes a step (a torn or damaged write is what it
 * must catch, not an adversary: the file is ours, mode 0600). */
static uint64_t
idx_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return h;
}

/* ---- little-endian fields ---- */

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
put32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8),
		(unsigned char)(v >> 16), (unsigned char)(v >> 24) };
	buf_add(b, c, 4);
}

static void
put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

static void
set64(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (char)(v >> (8 * i));
}

/* ---- records ---- */

/* One record at p (avail bytes); its length, or 0 when malformed. */
static size_t
get_rec(const char *p, size_t avail, struct mbxi_rec *r)
{
	const unsigned char *u = (const unsigned char *)p;
	if (avail < REC_FIXED)
		return 0;
	r->uid = get32(u);
	r->flags = u[4];
	r->base_len = (uint16_t)(u[6] | u[7] << 8);
	r->kw = get32(u + 8);
	r->modseq = get64(u + 12);
	r->size = (int64_t)get64(u + 20);
	r->vsize = (int64_t)get64(u + 28);
	r->idate = (int64_t)get64(u + 36);
	r->env_len = get32(u + 44);
	r->bs_len = get32(u + 48);
	if (r->uid == 0 || r->uid == UINT32_MAX || u[5] != 0 || (r->flags & ~0x1fu) != 0 ||
	    (r->kw >> 26) != 0 || r->base_len == 0 || r->base_len > BASE_MAX ||
	    r->size < -1 || r->vsize < -1 || r->idate < -1)
		return 0;
	size_t need = REC_FIXED + r->base_len;
	size_t el = r->env_len == MBXI_NONE ? 0 : r->env_len;
	size_t bl = r->bs_len == MBXI_NONE ? 0 : r->bs_len;
	if (el > avail || bl > avail || need > avail - el || need + el > avail - bl)
		return 0;
	r->base = p + REC_FIXED;
	if (memchr(r->base, '/', r->base_len) != NULL || memchr(r->base, ':', r->base_len) != NULL ||
	    memchr(r->base, '\0', r->base_len) != NULL)
		return 0;
	r->env = r->env_len == MBXI_NONE ? NULL : r->base + r->base_len;
	r->bs = r->bs_len == MBXI_NONE ? NULL : r->base + r->base_len + el;
	return need + el + bl;
}

void
mbxi_put_rec(struct buf *b, const struct mbxi_rec *r)
{
	unsigned char h[8] = { r->flags, 0, (unsigned char)r->base_len,
		(unsigned char)(r->base_len >> 8), 0, 0, 0, 0 };
	put32(b, r->uid);
	buf_add(b, h, 4);
	put32(b, r->kw);
	put64(b, r->modseq);
	put64(b, (uint64_t)r->size);
	put64(b, (uint64_t)r->vsize);
	put64(b, (uint64_t)r->idate);
	put32(b, r->env != NULL ? r->env_len : MBXI_NONE);
	put32(b, r->bs != NULL ? r->bs_len : MBXI_NONE);
	buf_add(b, r->base, r->base_len);
	if (r->env != NULL)
		buf_add(b, r->env, r->env_len);
	if (r->bs != NULL)
		buf_add(b, r->bs, r->bs_len);
}

/* ---- snapshot ---- */

void
mbxi_snap_begin(struct buf *b, uint32_t uidvalidity, uint32_t uidnext, uint64_t highestmodseq,
    uint64_t expunge_modseq, uint32_t nrec)
{
	buf_add(b, MBXI_MAGIC, 8);
	put32(b, uidvalidity);
	put32(b, uidnext);
	put64(b, highestmodseq);
	put64(b, expunge_modseq);
	put32(b, nrec);
	put32(b, 0);
}

void
mbxi_snap_end(struct buf *b, size_t start)
{
	uint64_t h = idx_hash((const unsigned char *)b->p + start, b->len - start);
	put64(b, h);
}

/* ---- the parsed index: records by UID; an expunged one keeps its slot
 * (base NULL) until the end, so a long log costs no memmove per entry ---- */

static long
find_slot(const struct mbxi *x, uint32_t uid)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->r[mid].uid < uid)
			lo = mid + 1;
		else if (x->r[mid].uid > uid)
			hi = mid;
		else
			return (long)mid;
	}
	return -(long)lo - 1;
}

const struct mbxi_rec *
mbxi_find(const struct mbxi *x, uint32_t uid)
{
	long i = find_slot(x, uid);
	return i >= 0 && x->r[i].base != NULL ? &x->r[i] : NULL;
}

static bool
upsert(struct mbxi *x, size_t *cap, size_t max, const struct mbxi_rec *r)
{
	long i = find_slot(x, r->uid);
	if (i >= 0) {
		x->r[i] = *r;
		return true;
	}
	if (x->n >= max)
		return false;
	if (x->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		x->r = xreallocarray(x->r, *cap, sizeof(*x->r));
	}
	size_t at = (size_t)(-i - 1);
	memmove(&x->r[at + 1], &x->r[at], (x->n - at) * sizeof(*x->r));
	x->r[at] = *r;
	x->n++;
	return true;
}

/* Apply one log entry; false when it makes no sense (the log ends). */
static bool
apply(struct mbxi *x, size_t *cap, size_t max, char type, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	switch (type) {
	case 'R': {
		struct mbxi_rec r;
		if (get_rec(p, len, &r) != len)
			return false;
		return upsert(x, cap, max, &r);
	}
	case 'X': {
		if (len != 12)
			return false;
		uint32_t uid = get32(u);
		uint64_t ms = get64(u + 4);
		long i = find_slot(x, uid);
		if (i >= 0)
			x->r[i].base = NULL;
		if (ms > x->expunge_modseq)
			x->expunge_modseq = ms;
		if (ms > x->highestmodseq)
			x->highestmodseq = ms;
		return true;
	}
	case 'H':
		if (len != 24)
			return false;
		x->uidvalidity = get32(u);
		x->uidnext = get32(u + 4);
		x->highestmodseq = get64(u + 8);
		x->expunge_modseq = get64(u + 16);
		return x->uidvalidity != 0;
	default:
		return false;
	}
}

int
mbxi_parse(const char *buf, size_t len, size_t max_recs, struct mbxi *out, const char **error_r)
{
	const unsigned char *u = (const unsigned char *)buf;
	memset(out, 0, sizeof(*out));
	if (len < HDR_LEN + HASH_LEN || memcmp(buf, MBXI_MAGIC, 8) != 0) {
		*error_r = "not an estafeta index";
		return -1;
	}
	out->uidvalidity = get32(u + 8);
	out->uidnext = get32(u + 12);
	out->highestmodseq = get64(u + 16);
	out->expunge_modseq = get64(u + 24);
	uint32_t nrec = get32(u + 32);
	if (out->uidvalidity == 0 || get32(u + 36) != 0 || nrec > max_recs ||
	    nrec > (len - HDR_LEN) / REC_FIXED) {
		*error_r = "bad index header";
		return -1;
	}
	size_t cap = nrec ? nrec : 0;
	out->r = cap ? xcalloc(cap, sizeof(*out->r)) : NULL;
	size_t pos = HDR_LEN;
	for (uint32_t i = 0; i < nrec; i++) {
		struct mbxi_rec *r = &out->r[out->n];
		size_t l = len - pos > HASH_LEN ? get_rec(buf + pos, len - pos - HASH_LEN, r) : 0;
		if (l == 0 || (out->n > 0 && r->uid <= out->r[out->n - 1].uid)) {
			mbxi_free(out);
			*error_r = "bad index record";
			return -1;
		}
		out->n++;
		pos += l;
	}
	if (len - pos < HASH_LEN || get64(u + pos) != idx_hash(u, pos)) {
		mbxi_free(out);
		*error_r = "index checksum mismatch";
		return -1;
	}
	pos += HASH_LEN;
	out->snap_len = out->good_len = pos;
	while (len - pos >= LOG_HDR + HASH_LEN) {
		size_t el = get32(u + pos + 4);
		if (u[pos + 1] != 0 || u[pos + 2] != 0 || u[pos + 3] != 0 ||
		    el > len - pos - LOG_HDR - HASH_LEN)
			break;
		if (get64(u + pos + LOG_HDR + el) != idx_hash(u + pos, LOG_HDR + el))
			break;
		if (!apply(out, &cap, max_recs, buf[pos], buf + pos + LOG_HDR, el))
			break;
		pos += LOG_HDR + el + HASH_LEN;
		out->good_len = pos;
		out->nlog++;
	}
	size_t w = 0;
	for (size_t i = 0; i < out->n; i++)
		if (out->r[i].base != NULL)
			out->r[w++] = out->r[i];
	out->n = w;
	return 0;
}

void
mbxi_free(struct mbxi *x)
{
	free(x->r);
	memset(x, 0, sizeof(*x));
}

/* ---- log entries ---- */

static size_t
log_begin(struct buf *b, char type)
{
	size_t start = b->len;
	unsigned char h[8] = { (unsigned char)type, 0, 0, 0, 0, 0, 0, 0 };
	buf_add(b, h, 8);
	return start;
}

static void
log_end(struct buf *b, size_t start)
{
	uint32_t el = (uint32_t)(b->len - start - LOG_HDR);
	unsigned char *p = (unsigned char *)b->p + start + 4;
	p[0] = (unsigned char)el;
	p[1] = (unsigned char)(el >> 8);
	p[2] = (unsigned char)(el >> 16);
	p[3] = (unsigned char)(el >> 24);
	uint64_t h = idx_hash((const unsigned char *)b->p + start, b->len - start);
	buf_need(b, 8);
	set64(b->p + b->len, h);
	b->len += 8;
	b->p[b->len] = '\0';
}

void
mbxi_log_rec(struct buf *b, const struct mbxi_rec *r)
{
	size_t s = log_begin(b, 'R');
	mbxi_put_rec(b, r);
	log_end(b, s);
}

void
mbxi_log_expunge(struct buf *b, uint32_t uid, uint64_t modseq)
{
	size_t s = log_begin(b, 'X');
	put32(b, uid);
	put64(b, modseq);
	log_end(b, s);
}

void
mbxi_log_header(struct buf *b, uint32_t uidvalidity, uint32_t uidnext, uint64_t highestmodseq,
    uint64_t expunge_modseq)
{
	size_t s = log_begin(b, 'H');
	put32(b, uidvalidity);
	put32(b, uidnext);
	put64(b, highestmodseq);
	put64(b, expunge_modseq);
	log_end(b, s);
}
