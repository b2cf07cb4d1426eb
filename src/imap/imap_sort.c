/* imap_sort: SORT and THREAD (pure, bounded, no I/O, no recursion). */
#include "imap/imap_sort.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mail/mime.h"

/* ---- a stable merge sort with context (qsort has none, and is not
 * stable) ---- */

typedef int (*cmp_fn)(const void *ctx, uint32_t a, uint32_t b);

static void
msort(uint32_t *v, size_t n, cmp_fn cmp, const void *ctx)
{
	uint32_t *tmp, *src = v, *dst, *t;
	size_t w, i, a, ae, b, be, o;

	if (n < 2)
		return;
	dst = tmp = xreallocarray(NULL, n, sizeof(*tmp));
	for (w = 1; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			a = i;
			ae = b = i + w < n ? i + w : n;
			be = b + w < n ? b + w : n;
			for (o = i; a < ae || b < be; )
				if (b >= be || (a < ae && cmp(ctx, src[a], src[b]) <= 0))
					dst[o++] = src[a++];
				else
					dst[o++] = src[b++];
		}
		t = src;
		src = dst;
		dst = t;
		if (w > n / 2)
			break;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
}

/* ---- base subject (RFC 5256 2.1) ---- */

/* subj-blob = "[" *BLOBCHAR "]" *WSP: the index after it, 0 when none. */
static size_t
blob_end(const char *s, size_t i, size_t e)
{
	size_t j;

	if (i >= e || s[i] != '[')
		return 0;
	for (j = i + 1; j < e && s[j] != '[' && s[j] != ']'; j++)
		;
	if (j >= e || s[j] != ']')
		return 0;
	for (j++; j < e && s[j] == ' '; j++)
		;
	return j;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":": the index
 * after it, 0 when none. */
static size_t
refwd_end(const char *s, size_t i, size_t e)
{
	size_t k;

	if (e - i >= 2 && strncasecmp(s + i, "re", 2) == 0)
		i += 2;
	else if (e - i >= 3 && strncasecmp(s + i, "fwd", 3) == 0)
		i += 3;
	else if (e - i >= 2 && strncasecmp(s + i, "fw", 2) == 0)
		i += 2;
	else
		return 0;
	while (i < e && s[i] == ' ')
		i++;
	if ((k = blob_end(s, i, e)) > 0)
		i = k;
	return i < e && s[i] == ':' ? i + 1 : 0;
}

char *
imap_base_subject_ex(const char *subject, size_t len, bool *refwd)
{
	char *s = mime_decode_words(subject, len), *out;
	size_t n, i, j, last, st = 0, e, k;
	bool rf = false, sp = false;

	/* (1) blanks and line breaks as single spaces */
	for (i = n = 0; s[i] != '\0'; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			if (!sp)
				s[n++] = ' ';
			sp = true;
			continue;
		}
		sp = false;
		s[n++] = s[i];
	}
	e = n;
	for (;;) {
		/* (2) subj-trailer = "(fwd)" / WSP, from the end */
		for (;;) {
			if (e > st && s[e - 1] == ' ')
				e--;
			else if (e - st >= 5 && strncasecmp(s + e - 5, "(fwd)", 5) == 0) {
				e -= 5;
				rf = true;
			} else
				break;
		}
		/* (3)-(5): subj-leader = *subj-blob subj-refwd, or a blank;
		 * else (4) blobs go while something is left after them. A
		 * run of blobs is looked at once: taking them one at a time
		 * would scan the rest of the run again each time. */
		for (;;) {
			if (st < e && s[st] == ' ') {
				st++;
				continue;
			}
			for (j = last = st; (k = blob_end(s, j, e)) > 0; j = k)
				last = j;
			if ((k = refwd_end(s, j, e)) > 0) {
				st = k;
				rf = true;
				continue;
			}
			if (j < e && j > st)
				st = j;
			else if (j == e && last > st)
				st = last;	/* the last blob would leave nothing */
			break;
		}
		/* (6) "[fwd:" ... "]" around all of it: unwrap, from (2) again */
		if (e - st >= 6 && strncasecmp(s + st, "[fwd:", 5) == 0 && s[e - 1] == ']') {
			st += 5;
			e--;
			rf = true;
			continue;
		}
		break;
	}
	out = xstrndup(s + st, e - st);
	free(s);
	if (refwd != NULL)
		*refwd = rf;
	return out;
}

char *
imap_base_subject(const char *subject, size_t len)
{
	return imap_base_subject_ex(subject, len, NULL);
}

/* ---- what SORT and THREAD read from a header ---- */

enum { H_DATE, H_FROM, H_TO, H_CC, H_SUBJECT, H_MSGID, H_REFS, H_IRT, H_N };

static const char *const hnames[H_N] = {
	"date", "from", "to", "cc", "subject", "message-id", "references", "in-reply-to",
};

/* The first field of each name (raw values, pointing into the message). */
struct mhdr {
	const char *v[H_N];
	size_t vl[H_N];
};

static void
scan_header(const char *data, size_t len, unsigned want, struct mhdr *h)
{
	struct imap_hfield f;
	size_t pos = 0;
	unsigned k;

	memset(h, 0, sizeof(*h));
	if (data == NULL || want == 0)
		return;
	while (imap_header_next(data, len, &pos, &f, NULL)) {
		for (k = 0; k < H_N; k++)
			if ((want & (1u << k)) && h->v[k] == NULL &&
			    f.name_len == strlen(hnames[k]) &&
			    strncasecmp(f.name, hnames[k], f.name_len) == 0) {
				h->v[k] = f.value;
				h->vl[k] = f.value_len;
				want &= ~(1u << k);
			}
		if (want == 0)
			break;
	}
}

/* RFC 5256 2.2: the Date: field as UTC, else INTERNALDATE. */
static long long
sent_date(const struct mhdr *h, const struct search_msg *m)
{
	long long utc;
	char *v;
	int r;

	if (h->v[H_DATE] == NULL)
		return m->internal;
	v = xstrndup(h->v[H_DATE], h->vl[H_DATE]);
	r = mime_parse_date(v, &utc, NULL);
	free(v);
	return r == 0 ? utc : m->internal;
}

static char *
subject_key(const struct mhdr *h, size_t *len, bool *refwd)
{
	char *b, *f;

	b = imap_base_subject_ex(h->v[H_SUBJECT] ? h->v[H_SUBJECT] : "", h->vl[H_SUBJECT],
	    refwd);
	f = imap_casefold(b, strlen(b), len);
	free(b);
	return f;
}

/* CC/FROM/TO: the first addr-mailbox; DISPLAY*: the first display name,
 * else local@domain (RFC 5957). */
static char *
addr_key(const char *v, size_t vl, bool display, size_t *len)
{
	struct imap_mailbox *mb;
	struct buf b = { 0 };
	size_t n, i, w;
	char *f;
	bool sp = false;

	buf_reset(&b);
	n = v != NULL ? imap_mailboxes(v, vl, 1, &mb) : 0;
	if (n > 0 && display) {
		/* the name without blanks at either end, runs as one */
		for (i = w = 0; mb[0].name[i] != '\0'; i++) {
			if (mb[0].name[i] == ' ' || mb[0].name[i] == '\t') {
				sp = w > 0;
				continue;
			}
			if (sp)
				buf_addc(&b, ' ');
			sp = false;
			buf_addc(&b, mb[0].name[i]);
			w++;
		}
	}
	if (n > 0 && b.len == 0) {
		buf_adds(&b, mb[0].local);
		if (display && mb[0].domain[0] != '\0') {
			buf_addc(&b, '@');
			buf_adds(&b, mb[0].domain);
		}
	}
	if (n > 0)
		imap_mailboxes_free(mb, n);
	f = imap_casefold(b.p, b.len, len);
	free(b.p);
	return f;
}

/* ---- SORT ---- */

static const struct {
	const char *name;
	enum sort_key key;
} sort_keys[] = {
	{ "ARRIVAL", SORT_ARRIVAL }, { "CC", SORT_CC }, { "DATE", SORT_DATE },
	{ "FROM", SORT_FROM }, { "SIZE", SORT_SIZE }, { "SUBJECT", SORT_SUBJECT },
	{ "TO", SORT_TO }, { "DISPLAYFROM", SORT_DISPLAYFROM }, { "DISPLAYTO", SORT_DISPLAYTO },
};

int
imap_sort_parse(const struct imap_arg *list, struct sort_prog *out, const char **err)
{
	const struct imap_arg *a;
	size_t i, k;
	bool rev = false;

	memset(out, 0, sizeof(*out));
	if (list == NULL || list->type != IMAP_ARG_LIST || list->nlist == 0)
		goto bad;
	for (i = 0; i < list->nlist; i++) {
		a = &list->list[i];
		if (a->type != IMAP_ARG_ATOM)
			goto bad;
		if (strcasecmp(a->str, "REVERSE") == 0) {
			if (rev)
				goto bad;
			rev = true;
			continue;
		}
		for (k = 0; k < sizeof(sort_keys) / sizeof(sort_keys[0]); k++)
			if (strcasecmp(a->str, sort_keys[k].name) == 0)
				break;
		if (k == sizeof(sort_keys) / sizeof(sort_keys[0]))
			goto bad;
		if (out->n == SORT_MAX_CRITERIA) {
			if (err != NULL)
				*err = SORT_E_MANY;
			out->n = 0;
			return -1;
		}
		out->c[out->n].key = sort_keys[k].key;
		out->c[out->n].reverse = rev;
		out->n++;
		rev = false;
	}
	if (!rev)
		return 0;
bad:
	out->n = 0;
	if (err != NULL)
		*err = SORT_E_CRITERIA;
	return -1;
}

static unsigned
sort_fields(const struct sort_prog *p)
{
	unsigned want = 0;
	size_t i;

	for (i = 0; i < p->n; i++)
		switch (p->c[i].key) {
		case SORT_ARRIVAL:
		case SORT_SIZE:
			break;
		case SORT_CC:
			want |= 1u << H_CC;
			break;
		case SORT_DATE:
			want |= 1u << H_DATE;
			break;
		case SORT_FROM:
		case SORT_DISPLAYFROM:
			want |= 1u << H_FROM;
			break;
		case SORT_SUBJECT:
			want |= 1u << H_SUBJECT;
			break;
		case SORT_TO:
		case SORT_DISPLAYTO:
			want |= 1u << H_TO;
			break;
		}
	return want;
}

bool
imap_sort_needs_message(const struct sort_prog *p)
{
	return sort_fields(p) != 0;
}

/* One message's value for one criterion. */
struct kval {
	char *s;		/* string keys, folded */
	size_t len;
	long long v;		/* dates */
	uint64_t u;		/* size */
};

struct sctx {
	const struct sort_prog *p;
	const struct search_msg *msgs;
	struct kval *kv;	/* kv[i * p->n + c] */
};

static int
cmp_kval(enum sort_key key, const struct kval *a, const struct kval *b)
{
	size_t n;
	int r;

	switch (key) {
	case SORT_ARRIVAL:
	case SORT_DATE:
		return a->v < b->v ? -1 : a->v > b->v;
	case SORT_SIZE:
		return a->u < b->u ? -1 : a->u > b->u;
	default:
		n = a->len < b->len ? a->len : b->len;
		if (n > 0 && (r = memcmp(a->s, b->s, n)) != 0)
			return r < 0 ? -1 : 1;
		return a->len < b->len ? -1 : a->len > b->len;
	}
}

static int
sort_cmp(const void *vctx, uint32_t a, uint32_t b)
{
	const struct sctx *c = vctx;
	size_t k, nc = c->p->n;
	int r;

	for (k = 0; k < nc; k++) {
		r = cmp_kval(c->p->c[k].key, &c->kv[a * nc + k], &c->kv[b * nc + k]);
		if (r != 0)
			return c->p->c[k].reverse ? -r : r;
	}
	/* RFC 5256 3: exact ties in mailbox order, REVERSE or not */
	return c->msgs[a].seq < c->msgs[b].seq ? -1 : c->msgs[a].seq > c->msgs[b].seq;
}

void
imap_sort(const struct sort_prog *p, struct search_msg *msgs, size_t n,
    const struct search_ops *ops)
{
	struct sctx c;
	struct search_msg *tmp;
	struct mhdr h;
	struct kval *kv;
	uint32_t *idx;
	const char *data = NULL;
	size_t i, k, len = 0, nc = p->n;
	unsigned want = sort_fields(p);

	if (n < 2 || nc == 0 || n > UINT32_MAX)
		return;
	c.p = p;
	c.msgs = msgs;
	c.kv = xcalloc(n * nc, sizeof(*c.kv));
	idx = xreallocarray(NULL, n, sizeof(*idx));
	for (i = 0; i < n; i++) {
		idx[i] = (uint32_t)i;
		data = NULL;
		if (want != 0 && ops != NULL && ops->message != NULL)
			data = ops->message(ops->ctx, &msgs[i], &len);
		scan_header(data, len, want, &h);
		for (k = 0; k < nc; k++) {
			kv = &c.kv[i * nc + k];
			switch (p->c[k].key) {
			case SORT_ARRIVAL:
				kv->v = msgs[i].internal;
				break;
			case SORT_DATE:
				kv->v = sent_date(&h, &msgs[i]);
				break;
			case SORT_SIZE:
				kv->u = msgs[i].size;
				break;
			case SORT_SUBJECT:
				kv->s = subject_key(&h, &kv->len, NULL);
				break;
			case SORT_CC:
				kv->s = addr_key(h.v[H_CC], h.vl[H_CC], false, &kv->len);
				break;
			case SORT_FROM:
				kv->s = addr_key(h.v[H_FROM], h.vl[H_FROM], false, &kv->len);
				break;
			case SORT_TO:
				kv->s = addr_key(h.v[H_TO], h.vl[H_TO], false, &kv->len);
				break;
			case SORT_DISPLAYFROM:
				kv->s = addr_key(h.v[H_FROM], h.vl[H_FROM], true, &kv->len);
				break;
			case SORT_DISPLAYTO:
				kv->s = addr_key(h.v[H_TO], h.vl[H_TO], true, &kv->len);
				break;
			}
		}
	}
	msort(idx, n, sort_cmp, &c);
	tmp = xreallocarray(NULL, n, sizeof(*tmp));
	memcpy(tmp, msgs, n * sizeof(*tmp));
	for (i = 0; i < n; i++)
		msgs[i] = tmp[idx[i]];
	free(tmp);
	for (i = 0; i < n * nc; i++)
		free(c.kv[i].s);
	free(c.kv);
	free(idx);
}

char *
imap_sort_response(const struct search_msg *msgs, size_t n, bool uid, bool modseq,
    size_t *len)
{
	struct buf b = { 0 };
	uint64_t mod = 0;
	size_t i;

	buf_adds(&b, "* SORT");
	for (i = 0; i < n; i++) {
		buf_addc(&b, ' ');
		buf_addu(&b, uid ? msgs[i].uid : msgs[i].seq);
		if (msgs[i].modseq > mod)
			mod = msgs[i].modseq;
	}
	if (modseq && n > 0) {
		buf_adds(&b, " (MODSEQ ");
		buf_addu(&b, mod);
		buf_addc(&b, ')');
	}
	buf_adds(&b, "\r\n");
	*len = b.len;
	return b.p;
}

/* ---- THREAD ---- */

int
imap_thread_parse(const struct imap_arg *arg, enum thread_alg *out, const char **err)
{
	if (arg != NULL && arg->type == IMAP_ARG_ATOM) {
		if (strcasecmp(arg->str, "ORDEREDSUBJECT") == 0) {
			*out = THREAD_ORDEREDSUBJECT;
			return 0;
		}
		if (strcasecmp(arg->str, "REFERENCES") == 0) {
			*out = THREAD_REFERENCES;
			return 0;
		}
	}
	if (err != NULL)
		*err = THREAD_E_ALG;
	return -1;
}

/* Per message: what threading looks at. */
struct tmsg {
	long long date;
	uint32_t seq, num;	/* num: what the response shows */
	char *subj;		/* base subject, folded */
	size_t subjlen;
	bool refwd;
};

static int
cmp_date_seq(long long da, uint32_t sa, long long db, uint32_t sb)
{
	if (da != db)
		return da < db ? -1 : 1;
	return sa < sb ? -1 : sa > sb;
}

/* ORDEREDSUBJECT's first sort: base subject, then sent date, then seq. */
static int
cmp_subject_date(const void *ctx, uint32_t a, uint32_t b)
{
	const struct tmsg *m = ctx;
	size_t n = m[a].subjlen < m[b].subjlen ? m[a].subjlen : m[b].subjlen;
	int r;

	if (n > 0 && (r = memcmp(m[a].subj, m[b].subj, n)) != 0)
		return r < 0 ? -1 : 1;
	if (m[a].subjlen != m[b].subjlen)
		return m[a].subjlen < m[b].subjlen ? -1 : 1;
	return cmp_date_seq(m[a].date, m[a].seq, m[b].date, m[b].seq);
}

static bool
same_subject(const struct tmsg *a, const struct tmsg *b)
{
	return a->subjlen == b->subjlen && memcmp(a->subj, b->subj, a->subjlen) == 0;
}

static int
cmp_date_only(const void *ctx, uint32_t a, uint32_t b)
{
	const struct tmsg *m = ctx;

	return cmp_date_seq(m[a].date, m[a].seq, m[b].date, m[b].seq);
}

/* RFC 5256 3, ORDEREDSUBJECT: no grandchildren, so no tree is needed. */
static void
thread_orderedsubject(const struct tmsg *tm, size_t n, struct buf *b)
{
	uint32_t *idx, *heads;
	size_t i, j, k, nh = 0, *start;

	idx = xreallocarray(NULL, n, sizeof(*idx));
	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	msort(idx, n, cmp_subject_date, tm);
	/* threads in the order of their first message's sent date */
	heads = xreallocarray(NULL, n, sizeof(*heads));
	start = xreallocarray(NULL, n, sizeof(*start));
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && same_subject(&tm[idx[i]], &tm[idx[j]]); j++)
			;
		start[idx[i]] = i;
		heads[nh++] = idx[i];
	}
	msort(heads, nh, cmp_date_only, tm);
	for (k = 0; k < nh; k++) {
		i = start[heads[k]];
		for (j = i + 1; j < n && same_subject(&tm[idx[i]], &tm[idx[j]]); j++)
			;
		buf_addc(b, '(');
		buf_addu(b, tm[idx[i]].num);
		if (j - i == 2) {
			buf_addc(b, ' ');
			buf_addu(b, tm[idx[i + 1]].num);
		} else if (j - i > 2) {
			buf_addc(b, ' ');
			for (i++; i < j; i++) {
				buf_addc(b, '(');
				buf_addu(b, tm[idx[i]].num);
				buf_addc(b, ')');
			}
		}
		buf_addc(b, ')');
	}
	free(idx);
	free(heads);
	free(start);
}

/* ---- REFERENCES ---- */

#define NOMSG	UINT32_MAX
#define MAX_NODES	(UINT32_MAX / 4)	/* references beyond this are ignored */

/* Node 0 is the root; 0 in a link means none (or the root, for parent). */
struct tnode {
	const char *id;		/* NULL: a message without a usable Message-ID */
	size_t idlen;
	uint32_t msg;		/* index into the messages, NOMSG for a dummy */
	uint32_t parent, first, last, next, prev;
	uint32_t lc[2], lp;	/* link-cut tree (splay children, parent) */
	long long date;		/* sort key; a dummy's is its first child's */
	uint32_t seq;
};

struct hent {
	const char *k;
	size_t klen;
	uint32_t h, val;	/* val 0: empty */
};

struct htab {
	struct hent *e;
	size_t cap, n;
};

struct idblk {
	struct idblk *next;
	size_t used, cap;
	char data[];
};

struct tctx {
	struct tnode *nd;
	size_t nn, cap;
	struct htab ids, subjects;
	struct idblk *blk;
	const struct tmsg *tm;
	uint32_t *vec;		/* scratch for sorting children */
	size_t veccap;
};

static uint32_t
hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static uint32_t *
htab_find(const struct htab *t, const char *k, size_t klen, uint32_t h)
{
	size_t i;

	if (t->cap == 0)
		return NULL;
	for (i = h & (t->cap - 1); t->e[i].val != 0; i = (i + 1) & (t->cap - 1))
		if (t->e[i].h == h && t->e[i].klen == klen && memcmp(t->e[i].k, k, klen) == 0)
			return &t->e[i].val;
	return NULL;
}

static void
htab_put(struct htab *t, const char *k, size_t klen, uint32_t h, uint32_t val)
{
	struct hent *old = t->e;
	size_t oc = t->cap, i, j;
	uint32_t *v;

	if ((v = htab_find(t, k, klen, h)) != NULL) {
		*v = val;
		return;
	}
	if ((t->n + 1) * 2 > t->cap) {
		t->cap = oc ? oc * 2 : 64;
		t->e = xcalloc(t->cap, sizeof(*t->e));
		for (i = 0; i < oc; i++) {
			if (old[i].val == 0)
				continue;
			for (j = old[i].h & (t->cap - 1); t->e[j].val != 0; j = (j + 1) & (t->cap - 1))
				;
			t->e[j] = old[i];
		}
		free(old);
	}
	for (i = h & (t->cap - 1); t->e[i].val != 0; i = (i + 1) & (t->cap - 1))
		;
	t->e[i] = (struct hent){ k, klen, h, val };
	t->n++;
}

static const char *
id_store(struct tctx *t, const char *s, size_t n)
{
	struct idblk *b = t->blk;
	size_t cap;
	char *p;

	if (b == NULL || b->cap - b->used < n) {
		cap = n > 60000 ? n : 60000;
		b = xmalloc(sizeof(*b) + cap);
		b->next = t->blk;
		b->used = 0;
		b->cap = cap;
		t->blk = b;
	}
	p = b->data + b->used;
	memcpy(p, s, n);
	b->used += n;
	return p;
}

static uint32_t
node_new(struct tctx *t, const char *id, size_t idlen)
{
	struct tnode *x;

	if (t->nn == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->nd = xreallocarray(t->nd, t->cap, sizeof(*t->nd));
	}
	x = &t->nd[t->nn];
	memset(x, 0, sizeof(*x));
	x->msg = NOMSG;
	if (id != NULL) {
		x->id = id_store(t, id, idlen);
		x->idlen = idlen;
		htab_put(&t->ids, x->id, idlen, hash(id, idlen), (uint32_t)t->nn);
	}
	return (uint32_t)t->nn++;
}

/* -- link-cut tree: is A below B, in O(log n) amortized, while links are
 * made and broken (walking up parents is quadratic on long chains) -- */

static bool
lct_isroot(const struct tnode *nd, uint32_t x)
{
	uint32_t p = nd[x].lp;

	return p == 0 || (nd[p].lc[0] != x && nd[p].lc[1] != x);
}

static void
lct_rotate(struct tnode *nd, uint32_t x)
{
	uint32_t y = nd[x].lp, z = nd[y].lp, b;
	int dx = nd[y].lc[1] == x;

	b = nd[x].lc[!dx];
	if (!lct_isroot(nd, y))
		nd[z].lc[nd[z].lc[1] == y] = x;
	nd[x].lp = z;
	nd[y].lc[dx] = b;
	if (b != 0)
		nd[b].lp = y;
	nd[x].lc[!dx] = y;
	nd[y].lp = x;
}

static void
lct_splay(struct tnode *nd, uint32_t x)
{
	uint32_t y, z;

	while (!lct_isroot(nd, x)) {
		y = nd[x].lp;
		if (!lct_isroot(nd, y)) {
			z = nd[y].lp;
			lct_rotate(nd, (nd[y].lc[0] == x) == (nd[z].lc[0] == y) ? y : x);
		}
		lct_rotate(nd, x);
	}
}

static void
lct_access(struct tnode *nd, uint32_t x)
{
	uint32_t y = 0;

	for (; x != 0; y = x, x = nd[x].lp) {
		lct_splay(nd, x);
		nd[x].lc[1] = y;
	}
}

static uint32_t
lct_findroot(struct tnode *nd, uint32_t x)
{
	lct_access(nd, x);
	lct_splay(nd, x);
	while (nd[x].lc[0] != 0)
		x = nd[x].lc[0];
	lct_splay(nd, x);
	return x;
}

/* Make p the parent of c, unless c is an ancestor of p (or p itself):
 * RFC 5256 step 1 never makes a loop. c has no parent. */
static void
try_link(struct tctx *t, uint32_t p, uint32_t c)
{
	struct tnode *nd = t->nd;

	if (lct_findroot(nd, p) == c)
		return;
	nd[c].parent = p;
	lct_access(nd, c);
	lct_splay(nd, c);
	nd[c].lp = p;
}

static void
cut(struct tctx *t, uint32_t c)
{
	struct tnode *nd = t->nd;
	uint32_t l;

	nd[c].parent = 0;
	lct_access(nd, c);
	lct_splay(nd, c);
	if ((l = nd[c].lc[0]) != 0) {
		nd[l].lp = 0;
		nd[c].lc[0] = 0;
	}
}

/* -- child lists -- */

static void
append(struct tnode *nd, uint32_t p, uint32_t c)
{
	nd[c].parent = p;
	nd[c].next = 0;
	nd[c].prev = nd[p].last;
	if (nd[p].last != 0)
		nd[nd[p].last].next = c;
	else
		nd[p].first = c;
	nd[p].last = c;
}

static void
unlink_node(struct tnode *nd, uint32_t c)
{
	uint32_t p = nd[c].parent;

	if (nd[c].prev != 0)
		nd[nd[c].prev].next = nd[c].next;
	else
		nd[p].first = nd[c].next;
	if (nd[c].next != 0)
		nd[nd[c].next].prev = nd[c].prev;
	else
		nd[p].last = nd[c].prev;
	nd[c].next = nd[c].prev = 0;
}

/* Put c right before pos, in pos's parent's list. */
static void
insert_before(struct tnode *nd, uint32_t pos, uint32_t c)
{
	uint32_t p = nd[pos].parent;

	nd[c].parent = p;
	nd[c].next = pos;
	nd[c].prev = nd[pos].prev;
	if (nd[pos].prev != 0)
		nd[nd[pos].prev].next = c;
	else
		nd[p].first = c;
	nd[pos].prev = c;
}

/* -- RFC 5256 3 steps -- */

/* The next msg-id: "<" ... ">" (blanks, line breaks inside dropped),
 * outside comments; its inside in b. */
static bool
next_msgid(const char *s, size_t n, size_t *ip, struct buf *b)
{
	size_t i = *ip;

	while (i < n) {
		if (s[i] == '(') {
			i = mime_comment_end(s, n, i) + 1;
			continue;
		}
		if (s[i++] != '<')
			continue;
		b->len = 0;
		for (; i < n && s[i] != '>' && s[i] != '<'; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
				buf_addc(b, s[i]);
		if (i < n && s[i] == '>' && b->len > 0) {
			*ip = i + 1;
			return true;
		}
	}
	*ip = n;
	return false;
}

static uint32_t
ref_node(struct tctx *t, const struct buf *id)
{
	uint32_t *v = htab_find(&t->ids, id->p, id->len, hash(id->p, id->len));

	if (v != NULL)
		return *v;
	if (t->nn >= MAX_NODES)
		return 0;
	return node_new(t, id->p, id->len);
}

/* Step 1 for one message. */
static void
link_message(struct tctx *t, uint32_t mi, const struct mhdr *h, struct buf *id)
{
	const char *rv;
	size_t pos = 0, rl;
	uint32_t x = 0, y, prev = 0, *v;

	if (h->v[H_MSGID] != NULL && next_msgid(h->v[H_MSGID], h->vl[H_MSGID], &pos, id)) {
		v = htab_find(&t->ids, id->p, id->len, hash(id->p, id->len));
		/* a dummy becomes the message; a duplicate gets no id */
		if (v != NULL && t->nd[*v].msg == NOMSG)
			x = *v;
		else if (v == NULL)
			x = node_new(t, id->p, id->len);
	}
	if (x == 0)
		x = node_new(t, NULL, 0);
	t->nd[x].msg = mi;
	t->nd[x].date = t->tm[mi].date;
	t->nd[x].seq = t->tm[mi].seq;
	/* References, or the first msg-id of In-Reply-To when it has none */
	rv = h->v[H_REFS];
	rl = h->vl[H_REFS];
	pos = 0;
	if (rv == NULL || !next_msgid(rv, rl, &pos, id)) {
		rv = h->v[H_IRT];
		rl = h->vl[H_IRT];
		pos = 0;
		if (rv == NULL || !next_msgid(rv, rl, &pos, id))
			rv = NULL;
		rl = pos;	/* just the first one */
	}
	if (rv != NULL) {
		do {
			if ((y = ref_node(t, id)) == 0)
				break;
			/* (A) links between the references, never over old ones */
			if (prev != 0 && t->nd[y].parent == 0)
				try_link(t, prev, y);
			prev = y;
		} while (next_msgid(rv, rl, &pos, id));
	}
	/* (B) the last reference is the parent, whatever was there before */
	if (t->nd[x].parent != 0 && t->nd[x].parent != prev)
		cut(t, x);
	if (prev != 0 && t->nd[x].parent == 0)
		try_link(t, prev, x);
}

static int
cmp_node(const void *ctx, uint32_t a, uint32_t b)
{
	const struct tnode *nd = ctx;

	return cmp_date_seq(nd[a].date, nd[a].seq, nd[b].date, nd[b].seq);
}

/* Sort x's children by sent date; a dummy takes its first child's. */
static void
sort_children(struct tctx *t, uint32_t x)
{
	struct tnode *nd = t->nd;
	size_t k = 0, i;
	uint32_t c;

	if (nd[x].first == 0 || nd[nd[x].first].next == 0)
		goto key;
	for (c = nd[x].first; c != 0; c = nd[c].next) {
		if (k == t->veccap) {
			t->veccap = t->veccap ? t->veccap * 2 : 64;
			t->vec = xreallocarray(t->vec, t->veccap, sizeof(*t->vec));
		}
		t->vec[k++] = c;
	}
	msort(t->vec, k, cmp_node, nd);
	nd[x].first = nd[x].last = 0;
	for (i = 0; i < k; i++)
		append(nd, x, t->vec[i]);
key:
	if (x != 0 && nd[x].msg == NOMSG && nd[x].first != 0) {
		nd[x].date = nd[nd[x].first].date;
		nd[x].seq = nd[nd[x].first].seq;
	}
}

/* Step 3 for one dummy, its children already done. */
static void
prune(struct tctx *t, uint32_t x)
{
	struct tnode *nd = t->nd;
	uint32_t p = nd[x].parent, c, nc;

	if (nd[x].first != 0 && p == 0 && nd[nd[x].first].next != 0)
		return;		/* several children would all become top level */
	for (c = nd[x].first; c != 0; c = nc) {
		nc = nd[c].next;
		insert_before(nd, x, c);
	}
	nd[x].first = nd[x].last = 0;
	unlink_node(nd, x);
}

enum { V_PRUNE, V_SORT };

/* Post-order over the whole tree without a stack: children before their
 * parent, the root last. */
static void
walk(struct tctx *t, int what)
{
	struct tnode *nd;
	uint32_t x = 0, nx, p;

	while (t->nd[x].first != 0)
		x = t->nd[x].first;
	for (;;) {
		nd = t->nd;
		nx = nd[x].next;
		p = nd[x].parent;
		if (what == V_SORT)
			sort_children(t, x);
		else if (x != 0 && nd[x].msg == NOMSG)
			prune(t, x);
		if (x == 0)
			break;
		if (nx != 0) {
			for (x = nx; t->nd[x].first != 0; )
				x = t->nd[x].first;
		} else
			x = p;
	}
}

static const struct tmsg *
thread_msg(const struct tctx *t, uint32_t x)
{
	while (t->nd[x].msg == NOMSG && t->nd[x].first != 0)
		x = t->nd[x].first;
	return t->nd[x].msg == NOMSG ? NULL : &t->tm[t->nd[x].msg];
}

static bool
is_dummy(const struct tctx *t, uint32_t x)
{
	return t->nd[x].msg == NOMSG;
}

static bool
is_refwd(const struct tctx *t, uint32_t x)
{
	return t->nd[x].msg != NOMSG && t->tm[t->nd[x].msg].refwd;
}

/* Step 5: threads at the top with the same base subject come together. */
static void
group_subjects(struct tctx *t)
{
	const struct tmsg *m;
	uint32_t c, tv, d, k, nc, *v, *snap = NULL;
	size_t ns = 0, i;

	/* (B) one thread per subject: a dummy wins, else an original */
	for (c = t->nd[0].first; c != 0; c = t->nd[c].next) {
		ns++;
		if ((m = thread_msg(t, c)) == NULL || m->subjlen == 0)
			continue;
		v = htab_find(&t->subjects, m->subj, m->subjlen, hash(m->subj, m->subjlen));
		if (v == NULL)
			htab_put(&t->subjects, m->subj, m->subjlen, hash(m->subj, m->subjlen), c);
		else if (!is_dummy(t, *v) && (is_dummy(t, c) || (is_refwd(t, *v) && !is_refwd(t, c))))
			*v = c;
	}
	/* (C) merge; the list changes as we go, so walk a copy of it */
	snap = xreallocarray(NULL, ns + 1, sizeof(*snap));
	ns = 0;
	for (c = t->nd[0].first; c != 0; c = t->nd[c].next)
		snap[ns++] = c;
	for (i = 0; i < ns; i++) {
		c = snap[i];
		/* moved below another thread already */
		if (t->nd[c].parent != 0)
			continue;
		if ((m = thread_msg(t, c)) == NULL || m->subjlen == 0)
			continue;
		v = htab_find(&t->subjects, m->subj, m->subjlen, hash(m->subj, m->subjlen));
		if (v == NULL || (tv = *v) == c)
			continue;
		if (is_dummy(t, tv) && is_dummy(t, c)) {
			for (k = t->nd[c].first; k != 0; k = nc) {
				nc = t->nd[k].next;
				append(t->nd, tv, k);
			}
			t->nd[c].first = t->nd[c].last = 0;
			unlink_node(t->nd, c);
		} else if (is_dummy(t, tv) || (is_refwd(t, c) && !is_refwd(t, tv))) {
			unlink_node(t->nd, c);
			append(t->nd, tv, c);
		} else {
			d = node_new(t, NULL, 0);
			insert_before(t->nd, tv, d);
			unlink_node(t->nd, tv);
			unlink_node(t->nd, c);
			append(t->nd, d, tv);
			append(t->nd, d, c);
			*htab_find(&t->subjects, m->subj, m->subjlen, hash(m->subj, m->subjlen)) = d;
		}
	}
	free(snap);
}

/* The response: a chain is flat, "(" opens at each branch. Iterative;
 * the stack holds, per open branch, the next sibling to write. */
static void
emit(const struct tctx *t, struct buf *b)
{
	const struct tnode *nd = t->nd;
	uint32_t *st, x, cur;
	size_t n = 0, cap = 64;
	bool num;

	st = xreallocarray(NULL, cap, sizeof(*st));
	st[n++] = nd[0].first;
	while (n > 0) {
		if ((x = st[n - 1]) == 0) {
			/* the branch's siblings are done: close its list */
			if (--n > 0)
				buf_addc(b, ')');
			continue;
		}
		st[n - 1] = nd[x].next;
		buf_addc(b, '(');
		for (cur = x, num = false;;) {
			if (nd[cur].msg != NOMSG) {
				if (num)
					buf_addc(b, ' ');
				buf_addu(b, t->tm[nd[cur].msg].num);
				num = true;
			}
			if (nd[cur].first == 0) {
				buf_addc(b, ')');
				break;
			}
			if (nd[nd[cur].first].next == 0) {
				cur = nd[cur].first;
				continue;
			}
			if (num)
				buf_addc(b, ' ');
			if (n == cap) {
				cap *= 2;
				st = xreallocarray(st, cap, sizeof(*st));
			}
			st[n++] = nd[cur].first;
			break;
		}
	}
	free(st);
}

static int
cmp_msg_seq(const void *ctx, uint32_t a, uint32_t b)
{
	const struct search_msg *m = ctx;

	return m[a].seq < m[b].seq ? -1 : m[a].seq > m[b].seq;
}

/* Steps 2-6, after step 1 linked every message. */
static void
references_finish(struct tctx *t, struct buf *b)
{
	struct idblk *bl, *bn;
	uint32_t i;

	/* step 2: the parentless are the root's children */
	for (i = 1; i < t->nn; i++)
		append(t->nd, t->nd[i].parent, i);
	/* step 3 */
	walk(t, V_PRUNE);
	/* step 4 */
	for (i = t->nd[0].first; i != 0; i = t->nd[i].next)
		if (is_dummy(t, i))
			sort_children(t, i);
	sort_children(t, 0);
	/* step 5, then 6 */
	group_subjects(t);
	walk(t, V_SORT);
	emit(t, b);
	for (bl = t->blk; bl != NULL; bl = bn) {
		bn = bl->next;
		free(bl);
	}
	free(t->ids.e);
	free(t->subjects.e);
	free(t->vec);
	free(t->nd);
}

char *
imap_thread(enum thread_alg alg, const struct search_msg *msgs, size_t n,
    const struct search_ops *ops, bool uid, size_t *len)
{
	struct buf b = { 0 }, id = { 0 };
	struct tctx t;
	struct tmsg *tm;
	struct mhdr h;
	const char *data;
	uint32_t *order, i;
	size_t k, dlen = 0;
	unsigned want = 1u << H_DATE | 1u << H_SUBJECT;

	buf_reset(&b);
	if (n == 0 || n >= MAX_NODES) {
		*len = 0;
		return b.p;
	}
	if (alg == THREAD_REFERENCES)
		want |= 1u << H_MSGID | 1u << H_REFS | 1u << H_IRT;
	memset(&t, 0, sizeof(t));
	tm = xcalloc(n, sizeof(*tm));
	t.tm = tm;
	node_new(&t, NULL, 0);	/* the root */
	buf_reset(&id);
	/* one pass in mailbox order (for step 1, the first of duplicate ids
	 * keeps it), each message read once */
	order = xreallocarray(NULL, n, sizeof(*order));
	for (k = 0; k < n; k++)
		order[k] = (uint32_t)k;
	msort(order, n, cmp_msg_seq, msgs);
	for (k = 0; k < n; k++) {
		i = order[k];
		data = NULL;
		if (ops != NULL && ops->message != NULL)
			data = ops->message(ops->ctx, &msgs[i], &dlen);
		scan_header(data, dlen, want, &h);
		tm[i].date = sent_date(&h, &msgs[i]);
		tm[i].seq = msgs[i].seq;
		tm[i].num = uid ? msgs[i].uid : msgs[i].seq;
		tm[i].subj = subject_key(&h, &tm[i].subjlen, &tm[i].refwd);
		if (alg == THREAD_REFERENCES)
			link_message(&t, i, &h, &id);
	}
	free(order);
	free(id.p);
	if (alg == THREAD_ORDEREDSUBJECT) {
		thread_orderedsubject(tm, n, &b);
		free(t.nd);
		free(t.ids.e);
	} else
		references_finish(&t, &b);
	for (k = 0; k < n; k++)
		free(tm[k].subj);
	free(tm);
	*len = b.len;
	return b.p;
}
