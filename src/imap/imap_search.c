/* imap_search: IMAP SEARCH programs and responses (pure, bounded, no I/O). */
#include "imap/imap_search.h"

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "store/mflags.h"

#define NONE	UINT32_MAX
#define MODSEQ_MAX	((uint64_t)INT64_MAX)	/* mod-sequence-value is 63-bit */

/* ---- case folding ---- */

/* Simple case folding (Unicode CaseFolding.txt, status C and S) of the
 * blocks people search in most; ASCII goes to upper case like
 * i;ascii-casemap so that SORT orders "_" after letters. */
static uint32_t
fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'a' && c <= 'z' ? c - 32 : c;
	if (c == 0xb5)
		return 0x3bc;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149)
			return c;	/* no simple folding */
		if (c == 0x178)
			return 0xff;
		if (c == 0x17f)
			return 'S';
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x386 && c <= 0x3ab) {
		if (c == 0x386)
			return 0x3ac;
		if (c >= 0x388 && c <= 0x38a)
			return c + 37;
		if (c == 0x38c)
			return 0x3cc;
		if (c == 0x38e || c == 0x38f)
			return c + 63;
		if (c >= 0x391 && c != 0x3a2)
			return c + 32;
		return c;
	}
	if (c == 0x3c2)
		return 0x3c3;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if ((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf) ||
	    (c >= 0x4d0 && c <= 0x52f))
		return (c & 1) ? c : c + 1;
	if (c == 0x4c0)
		return 0x4cf;
	if (c >= 0x4c1 && c <= 0x4ce)
		return (c & 1) ? c + 1 : c;
	if (c == 0x1e9e)
		return 0xdf;
	if (c == 0x212a)
		return 'k' - 32;
	if (c == 0x212b)
		return 0xe5;
	return c;
}

/* The code point of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t
utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c < 0xe0 && n >= 2 && (s[1] & 0xc0) == 0x80) {
		*cp = (uint32_t)(c & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (c >= 0xe0 && c < 0xf0 && n >= 3 && (s[1] & 0xc0) == 0x80 &&
	    (s[2] & 0xc0) == 0x80) {
		*cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		return *cp >= 0x800 ? 3 : 0;
	}
	return 0;
}

static size_t
utf8_enc(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	o[0] = (char)(0xe0 | cp >> 12);
	o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/* Fold n bytes of s into o (room for n bytes: folding never grows). */
static size_t
fold_into(char *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, w = 0;
	uint32_t cp, f;

	while (i < n) {
		if (u[i] < 0x80) {
			o[w++] = (char)(u[i] >= 'a' && u[i] <= 'z' ? u[i] - 32 : u[i]);
			i++;
			continue;
		}
		if ((k = utf8_dec(u + i, n - i, &cp)) == 0) {
			o[w++] = (char)u[i++];
			continue;
		}
		f = fold_cp(cp);
		/* every mapping above keeps or shrinks the encoded length */
		w += utf8_enc(f, o + w);
		i += k;
	}
	return w;
}

char *
imap_casefold(const char *s, size_t len, size_t *outlen)
{
	char *o = xmalloc(len + 1);
	size_t w = fold_into(o, s, len);

	o[w] = '\0';
	if (outlen != NULL)
		*outlen = w;
	return o;
}

/* Append s folded. */
static void
buf_fold(struct buf *b, const char *s, size_t n)
{
	buf_need(b, n);
	b->len += fold_into(b->p + b->len, s, n);
	b->p[b->len] = '\0';
}

/* Runs of blanks (and line breaks) as one space, none at either end. */
static size_t
squeeze(char *s, size_t n, bool trim)
{
	size_t i, w = 0;
	bool sp = false;

	for (i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			sp = true;
			continue;
		}
		if (sp && (w > 0 || !trim))
			s[w++] = ' ';
		sp = false;
		s[w++] = s[i];
	}
	if (sp && !trim)
		s[w++] = ' ';
	s[w] = '\0';
	return w;
}

/* A header value as header keys compare it: decoded, squeezed, folded. */
static char *
hval_norm(const char *v, size_t n, size_t *outlen)
{
	char *d = mime_decode_words(v, n), *f;
	size_t k = squeeze(d, strlen(d), true);

	f = imap_casefold(d, k, outlen);
	free(d);
	return f;
}

/* ---- header fields ---- */

static size_t
line_end(const char *s, size_t len, size_t i)
{
	const char *nl = memchr(s + i, '\n', len - i);

	return nl == NULL ? len : (size_t)(nl - s) + 1;
}

bool
imap_header_next(const char *msg, size_t len, size_t *pos, struct imap_hfield *f,
    size_t *hdr_len)
{
	size_t i = *pos, le, e, ne;
	const char *colon;

	while (i < len) {
		le = line_end(msg, len, i);
		if (msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')) {
			*pos = le;
			if (hdr_len != NULL)
				*hdr_len = le;
			return false;
		}
		if (msg[i] == ' ' || msg[i] == '\t' ||
		    (colon = memchr(msg + i, ':', le - i)) == NULL) {
			i = le;
			continue;
		}
		for (e = le; e < len && (msg[e] == ' ' || msg[e] == '\t'); )
			e = line_end(msg, len, e);
		for (ne = (size_t)(colon - msg); ne > i && (msg[ne - 1] == ' ' || msg[ne - 1] == '\t'); )
			ne--;
		f->name = msg + i;
		f->name_len = ne - i;
		f->value = colon + 1;
		f->value_len = e - (size_t)(colon + 1 - msg);
		*pos = e;
		return true;
	}
	*pos = len;
	if (hdr_len != NULL)
		*hdr_len = len;
	return false;
}

static bool
name_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* ---- address lists: mime.c's parser, as SEARCH has always read them ---- */

size_t
imap_mailboxes(const char *value, size_t len, size_t max, struct imap_mailbox **out)
{
	return mime_addresses(value, len, max, MIME_ADDR_SEARCH | MIME_ADDR_DECODE, out);
}

void
imap_mailboxes_free(struct imap_mailbox *v, size_t n)
{
	mime_addresses_free(v, n);
}

/* ---- dates ---- */

/* The calendar day of t in the zone tz (minutes east). Clamped so that
 * absurd stored values cannot overflow. */
static long long
day_of(long long t, int tz)
{
	const long long lim = 1LL << 50;

	if (t > lim)
		t = lim;
	if (t < -lim)
		t = -lim;
	if (tz > 100 * 60 || tz < -100 * 60)
		tz = 0;
	t += (long long)tz * 60;
	return t / 86400 - (t % 86400 < 0);
}

/* date = date-day "-" date-month "-" date-year (RFC 9051 9), quotes
 * already gone. */
static int
parse_date(const char *s, long long *day)
{
	static const char months[12][4] = {
		"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
	};
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned d = 0, y = 0, k;
	int m;

	for (k = 0; k < 2 && *s >= '0' && *s <= '9'; k++)
		d = d * 10 + (unsigned)(*s++ - '0');
	if (k == 0 || *s++ != '-')
		return -1;
	for (m = 0; m < 12; m++)
		if (strncasecmp(s, months[m], 3) == 0)
			break;
	if (m == 12 || s[3] != '-')
		return -1;
	s += 4;
	for (k = 0; k < 4; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		y = y * 10 + (unsigned)(s[k] - '0');
	}
	if (s[4] != '\0' || d < 1 || d > mdays[m] ||
	    (m == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	*day = mime_days_from_civil(y, (unsigned)m + 1, d);
	return 0;
}

/* 1*DIGIT up to max. */
static bool
parse_num(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	unsigned d;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned)(*s - '0');
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* ---- the program ---- */

enum {
	K_AND, K_OR,		/* children follow, up to end */
	K_FLAGS,		/* (flags & set) == set && !(flags & clear) */
	K_KEYWORD, K_SEQ, K_UID,
	K_LARGER, K_SMALLER, K_MODSEQ,
	K_BEFORE, K_ON, K_SINCE, K_SENTBEFORE, K_SENTON, K_SENTSINCE,
	K_HEADER, K_BODY, K_TEXT,
};

/* Nodes in pre-order: a node's subtree is [index, end), its children are
 * contiguous, and the parent index lets matching walk without a stack. */
struct snode {
	uint8_t type;
	bool neg;
	bool addr;		/* K_HEADER: an address field */
	bool by_uid;		/* K_SEQ "$": the saved UIDs */
	uint32_t parent, end;
	union {
		struct {
			unsigned set, clear;
		} f;
		uint64_t num;
		long long day;
		char *kw;
		struct {
			char *field;	/* K_HEADER */
			char *s;	/* folded */
			size_t slen;
			char *ws;	/* folded and squeezed (header keys, TEXT headers) */
			size_t wslen;
		} str;
		struct {
			char *text;
			struct seqset set;
		} seq;
	} u;
};

struct search_prog {
	struct snode *n;
	size_t nn, cap;
	unsigned ret;
	bool has_return, modseq, needs_msg;
	bool needs_body;	/* BODY or TEXT: more than the header */
};

static void
node_free(struct snode *n)
{
	switch (n->type) {
	case K_KEYWORD:
		free(n->u.kw);
		break;
	case K_SEQ:
	case K_UID:
		free(n->u.seq.text);
		seqset_free(&n->u.seq.set);
		break;
	case K_HEADER:
	case K_BODY:
	case K_TEXT:
		free(n->u.str.field);
		free(n->u.str.s);
		free(n->u.str.ws);
		break;
	}
}

void
imap_search_free(struct search_prog *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nn; i++)
		node_free(&p->n[i]);
	free(p->n);
	free(p);
}

/* ---- parsing ---- */

enum { A_NONE, A_STRING, A_HEADER, A_DATE, A_NUMBER, A_KEYWORD, A_SEQSET, A_MODSEQ, A_NOT, A_OR };

static const struct keydef {
	const char *name;
	uint8_t type, arg;
	unsigned set, clear;
	const char *field;
} keydefs[] = {
	{ "ALL", K_FLAGS, A_NONE, 0, 0, NULL },
	{ "ANSWERED", K_FLAGS, A_NONE, MF_ANSWERED, 0, NULL },
	{ "BCC", K_HEADER, A_STRING, 0, 0, "bcc" },
	{ "BEFORE", K_BEFORE, A_DATE, 0, 0, NULL },
	{ "BODY", K_BODY, A_STRING, 0, 0, NULL },
	{ "CC", K_HEADER, A_STRING, 0, 0, "cc" },
	{ "DELETED", K_FLAGS, A_NONE, MF_DELETED, 0, NULL },
	{ "DRAFT", K_FLAGS, A_NONE, MF_DRAFT, 0, NULL },
	{ "FLAGGED", K_FLAGS, A_NONE, MF_FLAGGED, 0, NULL },
	{ "FROM", K_HEADER, A_STRING, 0, 0, "from" },
	{ "HEADER", K_HEADER, A_HEADER, 0, 0, NULL },
	{ "KEYWORD", K_KEYWORD, A_KEYWORD, 0, 0, NULL },
	{ "LARGER", K_LARGER, A_NUMBER, 0, 0, NULL },
	{ "MODSEQ", K_MODSEQ, A_MODSEQ, 0, 0, NULL },
	{ "NEW", K_FLAGS, A_NONE, MF_RECENT, MF_SEEN, NULL },
	{ "NOT", 0, A_NOT, 0, 0, NULL },
	{ "OLD", K_FLAGS, A_NONE, 0, MF_RECENT, NULL },
	{ "ON", K_ON, A_DATE, 0, 0, NULL },
	{ "OR", 0, A_OR, 0, 0, NULL },
	{ "RECENT", K_FLAGS, A_NONE, MF_RECENT, 0, NULL },
	{ "SEEN", K_FLAGS, A_NONE, MF_SEEN, 0, NULL },
	{ "SENTBEFORE", K_SENTBEFORE, A_DATE, 0, 0, NULL },
	{ "SENTON", K_SENTON, A_DATE, 0, 0, NULL },
	{ "SENTSINCE", K_SENTSINCE, A_DATE, 0, 0, NULL },
	{ "SINCE", K_SINCE, A_DATE, 0, 0, NULL },
	{ "SMALLER", K_SMALLER, A_NUMBER, 0, 0, NULL },
	{ "SUBJECT", K_HEADER, A_STRING, 0, 0, "subject" },
	{ "TEXT", K_TEXT, A_STRING, 0, 0, NULL },
	{ "TO", K_HEADER, A_STRING, 0, 0, "to" },
	{ "UID", K_UID, A_SEQSET, 0, 0, NULL },
	{ "UNANSWERED", K_FLAGS, A_NONE, 0, MF_ANSWERED, NULL },
	{ "UNDELETED", K_FLAGS, A_NONE, 0, MF_DELETED, NULL },
	{ "UNDRAFT", K_FLAGS, A_NONE, 0, MF_DRAFT, NULL },
	{ "UNFLAGGED", K_FLAGS, A_NONE, 0, MF_FLAGGED, NULL },
	{ "UNKEYWORD", K_KEYWORD, A_KEYWORD, 1, 0, NULL },	/* set: negated */
	{ "UNSEEN", K_FLAGS, A_NONE, 0, MF_SEEN, NULL },
};

static const char *const addr_fields[] = { "from", "to", "cc", "bcc", "sender", "reply-to" };

enum { F_ROOT, F_LIST, F_OR };

/* Open parts of the program while parsing. ROOT and LIST frames own an
 * argument cursor; OR frames count the operands still to come. */
struct pframe {
	uint8_t kind;
	uint32_t node;
	uint32_t need;		/* F_OR */
	const struct imap_arg *a;	/* F_ROOT, F_LIST */
	size_t na, ai;
	size_t prev_cur;	/* the enclosing cursor frame */
};

struct pstate {
	struct search_prog *p;
	struct pframe fr[SEARCH_MAX_DEPTH + 1];
	size_t nf, cur;
	bool neg;		/* NOTs waiting for their operand */
	const char *err;
};

static int
pfail(struct pstate *ps, const char *why)
{
	ps->err = why;
	return -1;
}

static struct snode *
new_node(struct pstate *ps, uint8_t type)
{
	struct search_prog *p = ps->p;
	struct snode *n;

	if (p->nn >= SEARCH_MAX_KEYS) {
		ps->err = SEARCH_E_MANY;
		return NULL;
	}
	if (p->nn == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->n = xreallocarray(p->n, p->cap, sizeof(*p->n));
	}
	n = &p->n[p->nn];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->neg = ps->neg;
	ps->neg = false;
	n->parent = ps->nf > 0 ? ps->fr[ps->nf - 1].node : NONE;
	n->end = (uint32_t)++p->nn;
	return n;
}

static int
push(struct pstate *ps, uint8_t kind, uint32_t node)
{
	struct pframe *f;

	if (ps->nf > SEARCH_MAX_DEPTH)
		return pfail(ps, SEARCH_E_DEPTH);
	f = &ps->fr[ps->nf++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->node = node;
	return 0;
}

/* An operand is complete: ORs that have all theirs are complete too. */
static void
complete(struct pstate *ps)
{
	struct pframe *f;

	while (ps->nf > 0) {
		f = &ps->fr[ps->nf - 1];
		if (f->kind != F_OR || --f->need > 0)
			return;
		ps->p->n[f->node].end = (uint32_t)ps->p->nn;
		ps->nf--;
	}
}

static const struct imap_arg *
next_arg(struct pstate *ps)
{
	struct pframe *c = &ps->fr[ps->cur];

	return c->ai < c->na ? &c->a[c->ai++] : NULL;
}

static const char *
arg_string(struct pstate *ps)
{
	const struct imap_arg *a = next_arg(ps);
	const char *s;

	if (a == NULL) {
		ps->err = SEARCH_E_NOARG;
		return NULL;
	}
	if ((s = imap_arg_astring(a)) == NULL) {
		ps->err = SEARCH_E_STRING;
		return NULL;
	}
	return s;
}

static void
set_needles(struct snode *n, const char *s)
{
	size_t len = strlen(s);
	char *t = xstrndup(s, len);

	n->u.str.s = imap_casefold(s, len, &n->u.str.slen);
	len = squeeze(t, len, false);
	n->u.str.ws = imap_casefold(t, len, &n->u.str.wslen);
	free(t);
}

static int
parse_modseq(struct pstate *ps, struct snode *n)
{
	const struct imap_arg *a = next_arg(ps), *t;

	if (a == NULL)
		return pfail(ps, SEARCH_E_NOARG);
	/* [entry-name entry-type-req]: the entry is a quoted "/flags/..." */
	if (a->type == IMAP_ARG_STRING) {
		if (a->literal8 || strncasecmp(a->str, "/flags/", 7) != 0 || a->str[7] == '\0' ||
		    (t = next_arg(ps)) == NULL || t->type != IMAP_ARG_ATOM ||
		    (strcasecmp(t->str, "priv") != 0 && strcasecmp(t->str, "shared") != 0 &&
		    strcasecmp(t->str, "all") != 0))
			return pfail(ps, SEARCH_E_MODSEQ);
		if ((a = next_arg(ps)) == NULL)
			return pfail(ps, SEARCH_E_NOARG);
	}
	if (a->type != IMAP_ARG_ATOM || !parse_num(a->str, MODSEQ_MAX, &n->u.num))
		return pfail(ps, SEARCH_E_MODSEQ);
	ps->p->modseq = true;
	return 0;
}

static int
parse_set(struct pstate *ps, struct snode *n, const char *s)
{
	static const struct seqset empty = { NULL, 0 };
	struct seqset tmp;
	const char *err;

	/* syntax now; numbers are resolved by imap_search_bind */
	if (seqset_parse(s, UINT32_MAX, SEQSET_UID, &empty, SEARCH_MAX_RANGES, &tmp, &err) == -1)
		return pfail(ps, err);
	seqset_free(&tmp);
	n->u.seq.text = xstrdup(s);
	n->by_uid = strcmp(s, "$") == 0;
	return 0;
}

/* One key with its arguments, at a ROOT/LIST cursor. */
static int
parse_key(struct pstate *ps, const struct imap_arg *a)
{
	const struct keydef *k = NULL;
	struct snode *n;
	const char *s, *field;
	size_t i;
	uint64_t v;

	if (a->type == IMAP_ARG_LIST) {
		if (a->nlist == 0)
			return pfail(ps, SEARCH_E_PAREN);
		if ((n = new_node(ps, K_AND)) == NULL || push(ps, F_LIST, n->end - 1) == -1)
			return -1;
		ps->fr[ps->nf - 1].a = a->list;
		ps->fr[ps->nf - 1].na = a->nlist;
		ps->fr[ps->nf - 1].prev_cur = ps->cur;
		ps->cur = ps->nf - 1;
		return 0;
	}
	if (a->type != IMAP_ARG_ATOM)
		return pfail(ps, SEARCH_E_UNKNOWN);
	s = a->str;
	if ((*s >= '0' && *s <= '9') || *s == '*' || *s == '$') {
		if ((n = new_node(ps, K_SEQ)) == NULL || parse_set(ps, n, s) == -1)
			return -1;
		complete(ps);
		return 0;
	}
	for (i = 0; i < sizeof(keydefs) / sizeof(keydefs[0]); i++)
		if (strcasecmp(s, keydefs[i].name) == 0) {
			k = &keydefs[i];
			break;
		}
	if (k == NULL)
		return pfail(ps, SEARCH_E_UNKNOWN);
	if (k->arg == A_NOT) {
		ps->neg = !ps->neg;
		return 0;
	}
	if (k->arg == A_OR) {
		struct pframe *top = &ps->fr[ps->nf - 1];

		/* OR as an operand of OR: one more operand, no nesting */
		if (!ps->neg && top->kind == F_OR) {
			top->need++;
			return 0;
		}
		if ((n = new_node(ps, K_OR)) == NULL || push(ps, F_OR, n->end - 1) == -1)
			return -1;
		ps->fr[ps->nf - 1].need = 2;
		return 0;
	}
	if ((n = new_node(ps, k->type)) == NULL)
		return -1;
	switch (k->arg) {
	case A_NONE:
		n->u.f.set = k->set;
		n->u.f.clear = k->clear;
		break;
	case A_STRING:
	case A_HEADER:
		if (k->arg == A_HEADER) {
			if ((field = arg_string(ps)) == NULL)
				return -1;
		} else
			field = k->field;
		if (field != NULL) {
			n->u.str.field = xstrdup(field);
			for (i = 0; i < sizeof(addr_fields) / sizeof(addr_fields[0]); i++)
				if (strcasecmp(field, addr_fields[i]) == 0)
					n->addr = true;
		}
		if ((s = arg_string(ps)) == NULL)
			return -1;
		set_needles(n, s);
		ps->p->needs_msg = true;
		if (k->type == K_BODY || k->type == K_TEXT)
			ps->p->needs_body = true;
		break;
	case A_DATE:
		if ((s = arg_string(ps)) == NULL)
			return -1;
		if (parse_date(s, &n->u.day) == -1)
			return pfail(ps, SEARCH_E_DATE);
		if (k->type >= K_SENTBEFORE)
			ps->p->needs_msg = true;
		break;
	case A_NUMBER:
		if ((s = arg_string(ps)) == NULL)
			return -1;
		if (!parse_num(s, (uint64_t)INT64_MAX, &v))
			return pfail(ps, SEARCH_E_NUMBER);
		n->u.num = v;
		break;
	case A_KEYWORD:
		if ((s = arg_string(ps)) == NULL)
			return -1;
		if (*s == '\0')
			return pfail(ps, SEARCH_E_KEYWORD);
		n->u.kw = xstrdup(s);
		n->neg ^= k->set != 0;
		break;
	case A_SEQSET:
		if ((a = next_arg(ps)) == NULL)
			return pfail(ps, SEARCH_E_NOARG);
		if (a->type != IMAP_ARG_ATOM)
			return pfail(ps, "Invalid sequence set");
		if (parse_set(ps, n, a->str) == -1)
			return -1;
		break;
	case A_MODSEQ:
		if (parse_modseq(ps, n) == -1)
			return -1;
		break;
	}
	complete(ps);
	return 0;
}

/* RETURN (...) and CHARSET before the keys; *used: arguments taken. */
static int
parse_prelude(struct pstate *ps, const struct imap_arg *args, size_t nargs, unsigned flags,
    size_t *used)
{
	const struct imap_arg *a;
	const char *cs = NULL;
	size_t i = 0, k;

	if (flags & SEARCH_F_CHARSET_FIRST) {
		if (nargs == 0 || (cs = imap_arg_astring(&args[0])) == NULL)
			return pfail(ps, SEARCH_E_CHARSET);
		i = 1;
	} else {
		if (nargs > 1 && args[0].type == IMAP_ARG_ATOM &&
		    strcasecmp(args[0].str, "RETURN") == 0) {
			a = &args[1];
			if (a->type != IMAP_ARG_LIST)
				return pfail(ps, SEARCH_E_RETURN);
			ps->p->has_return = true;
			for (k = 0; k < a->nlist; k++) {
				const struct imap_arg *o = &a->list[k];
				static const struct {
					const char *name;
					unsigned bit;
				} opts[] = {
					{ "MIN", SEARCH_RET_MIN }, { "MAX", SEARCH_RET_MAX },
					{ "ALL", SEARCH_RET_ALL }, { "COUNT", SEARCH_RET_COUNT },
					{ "SAVE", SEARCH_RET_SAVE },
				};
				size_t j;

				if (o->type != IMAP_ARG_ATOM)
					return pfail(ps, SEARCH_E_RETURN);
				for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
					if (strcasecmp(o->str, opts[j].name) == 0)
						break;
				if (j == sizeof(opts) / sizeof(opts[0]))
					return pfail(ps, SEARCH_E_RETURN);
				ps->p->ret |= opts[j].bit;
			}
			/* RFC 4731 3.1: RETURN () is RETURN (ALL) */
			if (a->nlist == 0)
				ps->p->ret = SEARCH_RET_ALL;
			i = 2;
		}
		if (i < nargs && args[i].type == IMAP_ARG_ATOM &&
		    strcasecmp(args[i].str, "CHARSET") == 0) {
			if (i + 1 >= nargs || (cs = imap_arg_astring(&args[i + 1])) == NULL)
				return pfail(ps, SEARCH_E_CHARSET);
			i += 2;
		}
	}
	if (cs != NULL && strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
		ps->err = SEARCH_E_BADCHARSET;
		return SEARCH_BADCHARSET;
	}
	*used = i;
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, size_t nargs, unsigned flags,
    struct search_prog **out, const char **err)
{
	struct pstate *ps;
	struct pframe *c;
	const struct imap_arg *a;
	size_t used = 0;
	int r;

	*out = NULL;
	ps = xcalloc(1, sizeof(*ps));
	ps->p = xcalloc(1, sizeof(*ps->p));
	if ((r = parse_prelude(ps, args, nargs, flags, &used)) != 0)
		goto fail;
	r = SEARCH_BAD;
	new_node(ps, K_AND);
	push(ps, F_ROOT, 0);
	ps->fr[0].a = args + used;
	ps->fr[0].na = nargs - used;
	ps->cur = 0;
	for (;;) {
		c = &ps->fr[ps->cur];
		if (c->ai < c->na) {
			a = &c->a[c->ai++];
			if (parse_key(ps, a) == -1)
				goto fail;
			continue;
		}
		/* this list is done: nothing may still wait for an operand */
		if (ps->cur != ps->nf - 1 || ps->neg) {
			ps->err = SEARCH_E_NOKEY;
			goto fail;
		}
		if (ps->p->nn == c->node + 1) {
			ps->err = SEARCH_E_NOKEY;
			goto fail;
		}
		ps->p->n[c->node].end = (uint32_t)ps->p->nn;
		if (c->kind == F_ROOT)
			break;
		ps->cur = c->prev_cur;
		ps->nf--;
		complete(ps);
	}
	*out = ps->p;
	free(ps);
	return SEARCH_OK;
fail:
	if (err != NULL)
		*err = ps->err;
	imap_search_free(ps->p);
	free(ps);
	return r;
}

/* ---- binding ---- */

int
imap_search_bind(struct search_prog *p, uint32_t nmsgs, uint32_t maxuid,
    const struct seqset *saved, const char **err)
{
	struct snode *n;
	size_t i;

	for (i = 0; i < p->nn; i++) {
		n = &p->n[i];
		if (n->type != K_SEQ && n->type != K_UID)
			continue;
		seqset_free(&n->u.seq.set);
		if (seqset_parse(n->u.seq.text, n->type == K_UID ? maxuid : nmsgs, SEQSET_UID,
		    saved, SEARCH_MAX_RANGES, &n->u.seq.set, err) == -1)
			return -1;
	}
	return 0;
}

/* ---- matching ---- */

struct fcache {
	struct imap_hfield f;
	char *norm;		/* hval_norm of the value, NULL until needed */
	size_t normlen;
	char *addrs;		/* "name <local@domain>, ..." folded, NULL until needed */
	size_t addrslen;
};

/* What one message needs, computed once and only when a key asks. */
struct mctx {
	const struct search_ops *ops;
	const struct search_msg *m;
	bool loaded;
	const char *data;	/* NULL: no text */
	size_t len;
	bool hdr_done;
	struct fcache *fields;
	size_t nfields;
	bool sent_done;
	long long sent_day;
	bool text_done;
	struct buf hdrtext;	/* "NAME: value\n" of every field, folded */
	bool body_done;
	struct buf body;	/* decoded body text, folded */
	iconv_t cd;		/* the last charset's converter */
	char cd_name[64];
	unsigned opens;
};

#define MAX_ICONV_OPENS	16	/* per message */

static bool
load(struct mctx *c)
{
	if (!c->loaded) {
		c->loaded = true;
		if (c->ops != NULL && c->ops->message != NULL)
			c->data = c->ops->message(c->ops->ctx, c->m, &c->len);
		if (c->data == NULL)
			c->len = 0;
	}
	return c->data != NULL;
}

static void
load_fields(struct mctx *c)
{
	struct imap_hfield f;
	size_t pos = 0, cap = 0;

	if (c->hdr_done)
		return;
	c->hdr_done = true;
	while (imap_header_next(c->data, c->len, &pos, &f, NULL)) {
		if (c->nfields == cap) {
			cap = cap ? cap * 2 : 16;
			c->fields = xreallocarray(c->fields, cap, sizeof(*c->fields));
		}
		memset(&c->fields[c->nfields], 0, sizeof(*c->fields));
		c->fields[c->nfields++].f = f;
	}
}

static void
field_norm(struct fcache *fc)
{
	if (fc->norm == NULL)
		fc->norm = hval_norm(fc->f.value, fc->f.value_len, &fc->normlen);
}

static void
field_addrs(struct fcache *fc)
{
	struct imap_mailbox *mb;
	struct buf b = { 0 };
	size_t n, i, k;

	if (fc->addrs != NULL)
		return;
	n = imap_mailboxes(fc->f.value, fc->f.value_len, SIZE_MAX, &mb);
	buf_reset(&b);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_adds(&b, ", ");
		if (mb[i].name[0] != '\0') {
			k = squeeze(mb[i].name, strlen(mb[i].name), true);
			buf_fold(&b, mb[i].name, k);
			buf_adds(&b, " <");
		}
		buf_fold(&b, mb[i].local, strlen(mb[i].local));
		if (mb[i].domain[0] != '\0') {
			buf_addc(&b, '@');
			buf_fold(&b, mb[i].domain, strlen(mb[i].domain));
		}
		if (mb[i].name[0] != '\0')
			buf_addc(&b, '>');
	}
	imap_mailboxes_free(mb, n);
	fc->addrs = b.p;
	fc->addrslen = b.len;
}

static bool
contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return nlen == 0 || (hlen >= nlen && memmem(hay, hlen, needle, nlen) != NULL);
}

static bool
match_header(struct mctx *c, const struct snode *n)
{
	struct fcache *fc;
	size_t i;

	if (!load(c))
		return false;
	load_fields(c);
	for (i = 0; i < c->nfields; i++) {
		fc = &c->fields[i];
		if (!name_is(fc->f.name, fc->f.name_len, n->u.str.field))
			continue;
		/* an empty string asks whether the field is there */
		if (n->u.str.wslen == 0)
			return true;
		field_norm(fc);
		if (contains(fc->norm, fc->normlen, n->u.str.ws, n->u.str.wslen))
			return true;
		if (n->addr) {
			field_addrs(fc);
			if (contains(fc->addrs, fc->addrslen, n->u.str.ws, n->u.str.wslen))
				return true;
		}
	}
	return false;
}

static long long
sent_day(struct mctx *c)
{
	long long utc;
	int tz;
	size_t i;
	char *v;

	if (c->sent_done)
		return c->sent_day;
	c->sent_done = true;
	c->sent_day = day_of(c->m->internal, c->m->internal_tz);
	load_fields(c);
	for (i = 0; i < c->nfields; i++)
		if (name_is(c->fields[i].f.name, c->fields[i].f.name_len, "date")) {
			v = xstrndup(c->fields[i].f.value, c->fields[i].f.value_len);
			if (mime_parse_date(v, &utc, &tz) == 0)
				c->sent_day = day_of(utc, tz);
			free(v);
			break;
		}
	return c->sent_day;
}

/* "NAME: value\n" for each field of a header block, decoded and folded. */
static void
header_text(struct buf *b, const char *h, size_t len)
{
	struct imap_hfield f;
	size_t pos = 0, k;
	char *v;

	while (imap_header_next(h, len, &pos, &f, NULL)) {
		buf_fold(b, f.name, f.name_len);
		buf_adds(b, ": ");
		v = hval_norm(f.value, f.value_len, &k);
		buf_add(b, v, k);
		free(v);
		buf_addc(b, '\n');
	}
}

static bool
is_utf8_name(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	    strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

/* A converter from cs to UTF-8, or (iconv_t)-1. */
static iconv_t
converter(struct mctx *c, const char *cs)
{
	if (c->cd != (iconv_t)-1 && strcasecmp(c->cd_name, cs) == 0)
		return c->cd;
	if (strlen(cs) >= sizeof(c->cd_name) || c->opens >= MAX_ICONV_OPENS)
		return (iconv_t)-1;
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	c->opens++;
	snprintf(c->cd_name, sizeof(c->cd_name), "%s", cs);
	c->cd = iconv_open("UTF-8", cs);
	return c->cd;
}

/* One leaf part's text: transfer decoding, then charset conversion. */
static void
leaf_text(struct mctx *c, const struct mime_part *p, struct buf *tmp, struct buf *tmp2)
{
	const char *s = c->data + p->body_off;
	size_t n = p->body_len;
	const struct mime_param *cs;
	iconv_t cd;

	tmp->len = 0;
	if (!p->opaque && mime_decode_body(p->encoding, s, n, tmp)) {
		s = tmp->p;
		n = tmp->len;
	}
	if (n > 0 && !p->opaque && p->type != NULL && strcmp(p->type, "text") == 0 &&
	    (cs = mime_param_find(p->params, p->nparams, "charset")) != NULL &&
	    cs->value != NULL && !is_utf8_name(cs->value) &&
	    (cd = converter(c, cs->value)) != (iconv_t)-1) {
		tmp2->len = 0;
		mime_iconv(cd, s, n, false, tmp2);
		s = tmp2->p;
		n = tmp2->len;
	}
	if (n > 0)
		buf_fold(&c->body, s, n);
	buf_addc(&c->body, '\n');
}

struct bwork {
	const struct mime_part *p;
	bool hdr;		/* an enclosed message: its header is body text */
};

static void
load_body(struct mctx *c)
{
	struct mime_msg mm;
	struct bwork *st = NULL, w;
	struct buf tmp = { 0 }, tmp2 = { 0 };
	size_t n = 0, cap = 0, i;

	if (c->body_done)
		return;
	c->body_done = true;
	buf_reset(&c->body);
	mime_parse(c->data, c->len, NULL, &mm);
	/* an explicit stack: the tree may be deep */
	st = xreallocarray(NULL, cap = 16, sizeof(*st));
	st[n++] = (struct bwork){ &mm.root, false };
	while (n > 0) {
		w = st[--n];
		if (w.hdr)
			header_text(&c->body, c->data + w.p->hdr_off, w.p->hdr_len);
		if (w.p->opaque || (w.p->nchildren == 0 && w.p->message == NULL)) {
			leaf_text(c, w.p, &tmp, &tmp2);
			continue;
		}
		if (n + w.p->nchildren + 1 > cap) {
			cap = (n + w.p->nchildren + 1) * 2;
			st = xreallocarray(st, cap, sizeof(*st));
		}
		if (w.p->message != NULL)
			st[n++] = (struct bwork){ w.p->message, true };
		for (i = w.p->nchildren; i > 0; i--)
			st[n++] = (struct bwork){ &w.p->children[i - 1], false };
	}
	free(st);
	free(tmp.p);
	free(tmp2.p);
	mime_free(&mm);
}

static bool
match_text(struct mctx *c, const struct snode *n, bool header)
{
	struct fcache *fc;
	size_t i;

	if (!load(c))
		return false;
	if (n->u.str.slen == 0)
		return true;
	if (header) {
		if (!c->text_done) {
			c->text_done = true;
			load_fields(c);
			buf_reset(&c->hdrtext);
			for (i = 0; i < c->nfields; i++) {
				fc = &c->fields[i];
				field_norm(fc);
				buf_fold(&c->hdrtext, fc->f.name, fc->f.name_len);
				buf_adds(&c->hdrtext, ": ");
				buf_add(&c->hdrtext, fc->norm, fc->normlen);
				buf_addc(&c->hdrtext, '\n');
			}
		}
		if (contains(c->hdrtext.p, c->hdrtext.len, n->u.str.ws, n->u.str.wslen))
			return true;
	}
	load_body(c);
	return contains(c->body.p, c->body.len, n->u.str.s, n->u.str.slen);
}

static bool
leaf(struct mctx *c, const struct snode *n)
{
	const struct search_msg *m = c->m;
	const struct search_ops *ops = c->ops;

	switch (n->type) {
	case K_FLAGS:
		return (m->flags & n->u.f.set) == n->u.f.set && (m->flags & n->u.f.clear) == 0;
	case K_KEYWORD:
		return ops != NULL && ops->has_keyword != NULL &&
		    ops->has_keyword(ops->ctx, m, n->u.kw);
	case K_SEQ:
		return seqset_has(&n->u.seq.set, n->by_uid ? m->uid : m->seq);
	case K_UID:
		return seqset_has(&n->u.seq.set, m->uid);
	case K_LARGER:
		return m->size > n->u.num;
	case K_SMALLER:
		return m->size < n->u.num;
	case K_MODSEQ:
		return m->modseq >= n->u.num;
	case K_BEFORE:
		return day_of(m->internal, m->internal_tz) < n->u.day;
	case K_ON:
		return day_of(m->internal, m->internal_tz) == n->u.day;
	case K_SINCE:
		return day_of(m->internal, m->internal_tz) >= n->u.day;
	case K_SENTBEFORE:
		return load(c) && sent_day(c) < n->u.day;
	case K_SENTON:
		return load(c) && sent_day(c) == n->u.day;
	case K_SENTSINCE:
		return load(c) && sent_day(c) >= n->u.day;
	case K_HEADER:
		return match_header(c, n);
	case K_BODY:
		return match_text(c, n, false);
	case K_TEXT:
		return match_text(c, n, true);
	}
	return false;
}

static void
mctx_free(struct mctx *c)
{
	size_t i;

	for (i = 0; i < c->nfields; i++) {
		free(c->fields[i].norm);
		free(c->fields[i].addrs);
	}
	free(c->fields);
	free(c->hdrtext.p);
	free(c->body.p);
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
}

bool
imap_search_match(const struct search_prog *p, const struct search_msg *m,
    const struct search_ops *ops)
{
	const struct snode *n = p->n;
	struct mctx c;
	uint32_t i = 0, par;
	bool v;

	memset(&c, 0, sizeof(c));
	c.ops = ops;
	c.m = m;
	c.cd = (iconv_t)-1;
	/* Pre-order walk with short-circuit: a value goes up through the
	 * parent links until an AND/OR is decided or has more children. */
	for (;;) {
		while ((n[i].type == K_AND || n[i].type == K_OR) && n[i].end > i + 1)
			i++;
		if (n[i].type == K_AND || n[i].type == K_OR)
			v = (n[i].type == K_AND) ^ n[i].neg;	/* no children */
		else
			v = leaf(&c, &n[i]) ^ n[i].neg;
		for (;;) {
			if ((par = n[i].parent) == NONE)
				goto done;
			if ((n[par].type == K_AND && !v) || (n[par].type == K_OR && v)) {
				v = (n[par].type == K_OR) ^ n[par].neg;
				i = par;
				continue;
			}
			if (n[i].end == n[par].end) {
				v = (n[par].type == K_AND) ^ n[par].neg;
				i = par;
				continue;
			}
			i = n[i].end;
			break;
		}
	}
done:
	mctx_free(&c);
	return v;
}

bool
imap_search_needs_message(const struct search_prog *p)
{
	return p->needs_msg;
}

bool
imap_search_needs_body(const struct search_prog *p)
{
	return p->needs_body;
}

bool
imap_search_has_modseq(const struct search_prog *p)
{
	return p->modseq;
}

bool
imap_search_has_return(const struct search_prog *p)
{
	return p->has_return;
}

unsigned
imap_search_return(const struct search_prog *p)
{
	return p->ret;
}

/* ---- results ---- */

/* Indexes of the smallest and largest numbers (the input should be
 * ascending; this does not rely on it). */
static void
min_max(const uint32_t *v, size_t n, size_t *imin, size_t *imax)
{
	size_t i;

	*imin = *imax = 0;
	for (i = 1; i < n; i++) {
		if (v[i] < v[*imin])
			*imin = i;
		if (v[i] > v[*imax])
			*imax = i;
	}
}

static bool
min_max_only(unsigned r)
{
	return (r & (SEARCH_RET_MIN | SEARCH_RET_MAX)) != 0 &&
	    (r & (SEARCH_RET_ALL | SEARCH_RET_COUNT)) == 0;
}

void
imap_search_saved(const struct search_prog *p, const uint32_t *uids, size_t n,
    struct seqset *out)
{
	uint32_t two[2];
	size_t imin, imax, k = 0;

	if (n > 0 && min_max_only(p->ret)) {
		min_max(uids, n, &imin, &imax);
		if (p->ret & SEARCH_RET_MIN)
			two[k++] = uids[imin];
		if (p->ret & SEARCH_RET_MAX)
			two[k++] = uids[imax];
		seqset_from_list(two, k, out);
		return;
	}
	seqset_from_list(uids, n, out);
}

char *
imap_search_response(const struct search_prog *p, const char *tag, bool uid, bool esearch,
    const uint32_t *nums, const uint64_t *modseqs, size_t n, size_t *len)
{
	struct buf b = { 0 };
	struct seqset s;
	uint64_t mod = 0;
	size_t i, imin = 0, imax = 0, k;
	unsigned r;
	char *t;
	bool with_mod = p->modseq && modseqs != NULL && n > 0;

	if (n > 0)
		min_max(nums, n, &imin, &imax);
	if (!p->has_return && !esearch) {
		buf_adds(&b, "* SEARCH");
		for (i = 0; i < n; i++) {
			buf_addc(&b, ' ');
			buf_addu(&b, nums[i]);
			if (with_mod && modseqs[i] > mod)
				mod = modseqs[i];
		}
		if (with_mod) {
			buf_adds(&b, " (MODSEQ ");
			buf_addu(&b, mod);
			buf_addc(&b, ')');
		}
		buf_adds(&b, "\r\n");
		*len = b.len;
		return b.p;
	}
	/* RFC 9051 6.4.4: no RETURN means ALL */
	r = p->has_return ? p->ret : SEARCH_RET_ALL;
	if (r == SEARCH_RET_SAVE) {
		*len = 0;
		return NULL;
	}
	buf_adds(&b, "* ESEARCH");
	if (tag != NULL) {
		k = imap_quote(tag, strlen(tag), NULL, 0);
		t = xmalloc(k + 1);
		imap_quote(tag, strlen(tag), t, k + 1);
		buf_adds(&b, " (TAG ");
		buf_add(&b, t, k);
		buf_addc(&b, ')');
		free(t);
	}
	if (uid)
		buf_adds(&b, " UID");
	if (n > 0 && (r & SEARCH_RET_MIN)) {
		buf_adds(&b, " MIN ");
		buf_addu(&b, nums[imin]);
	}
	if (n > 0 && (r & SEARCH_RET_MAX)) {
		buf_adds(&b, " MAX ");
		buf_addu(&b, nums[imax]);
	}
	if (r & SEARCH_RET_COUNT) {
		buf_adds(&b, " COUNT ");
		buf_addu(&b, n);
	}
	if (n > 0 && (r & SEARCH_RET_ALL)) {
		seqset_from_list(nums, n, &s);
		k = seqset_format(&s, NULL, 0);
		t = xmalloc(k + 1);
		seqset_format(&s, t, k + 1);
		buf_adds(&b, " ALL ");
		buf_add(&b, t, k);
		free(t);
		seqset_free(&s);
	}
	if (with_mod && (r & ~SEARCH_RET_SAVE) != 0) {
		/* RFC 7162 3.2: with MIN/MAX alone, of the messages returned */
		if (min_max_only(r)) {
			if (r & SEARCH_RET_MIN)
				mod = modseqs[imin];
			if ((r & SEARCH_RET_MAX) && modseqs[imax] > mod)
				mod = modseqs[imax];
		} else
			for (i = 0; i < n; i++)
				if (modseqs[i] > mod)
					mod = modseqs[i];
		buf_adds(&b, " MODSEQ ");
		buf_addu(&b, mod);
	}
	buf_adds(&b, "\r\n");
	*len = b.len;
	return b.p;
}
