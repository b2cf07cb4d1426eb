/* mime: MIME structure of a stored message and the IMAP views built from
 * it (pure, bounded, no recursion: trees are walked with explicit stacks). */
#include "mail/mime.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* ---- small helpers ---- */

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* a[0..n) equals the NUL-terminated lit, ASCII case-insensitively. */
static bool
ieq(const char *a, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lc((unsigned char)a[i]) != lc((unsigned char)lit[i]))
			return false;
	return lit[n] == '\0';
}

/* Case-insensitive order of two counted strings. */
static int
icmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	for (i = 0; i < an && i < bn; i++) {
		int d = lc((unsigned char)a[i]) - lc((unsigned char)b[i]);
		if (d != 0)
			return d;
	}
	return an < bn ? -1 : an > bn;
}

/* ---- arena: everything a parsed message owns, freed at once ---- */

#define ARENA_ALIGN	16
#define ARENA_BLOCK	(64 * 1024)

struct ablock {
	struct ablock *next;
	size_t used, cap;
};
#define ABLOCK_HDR ((sizeof(struct ablock) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

struct arena {
	struct ablock *head;
};

/* Zeroed memory. */
static void *
arena_alloc(struct arena *a, size_t n)
{
	struct ablock *b = a->head, *nb;
	char *p;

	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;

		nb = xmalloc(ABLOCK_HDR + cap);
		nb->cap = cap;
		nb->used = 0;
		if (b != NULL && cap == n) {
			/* A big one gets its own block; keep filling the current. */
			nb->next = b->next;
			b->next = nb;
			b = nb;
		} else {
			nb->next = b;
			a->head = b = nb;
		}
	}
	p = (char *)b + ABLOCK_HDR + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* s lower-cased: s itself when it has no upper case. */
static char *
arena_case(struct arena *a, char *s, bool upper)
{
	size_t i, n = strlen(s);
	char *p;

	for (i = 0; i < n; i++)
		if (upper ? (s[i] >= 'a' && s[i] <= 'z') : (s[i] >= 'A' && s[i] <= 'Z'))
			break;
	if (i == n)
		return s;
	p = arena_strndup(a, s, n);
	for (; i < n; i++)
		if (upper && p[i] >= 'a' && p[i] <= 'z')
			p[i] = (char)(p[i] - 32);
		else if (!upper && p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] + 32);
	return p;
}

static void
arena_free(struct arena *a)
{
	struct ablock *b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

/* ---- lines and header blocks ---- */

/* LFs in p[0..n), and those not preceded by CR (each costs a CR in IMAP). */
static void
count_lf(const char *p, size_t n, size_t *lines, size_t *bare)
{
	const char *s = p, *e = p + n, *q;
	size_t l = 0, cr = 0;

	while (s < e && (q = memchr(s, '\n', (size_t)(e - s))) != NULL) {
		l++;
		if (q > p && q[-1] == '\r')
			cr++;
		s = q + 1;
	}
	*lines = l;
	*bare = l - cr;
}

/* Index after the LF of the line at i, or len. */
static size_t
line_end(const char *h, size_t len, size_t i)
{
	const char *lf;

	if (i >= len)
		return len;
	lf = memchr(h + i, '\n', len - i);
	return lf == NULL ? len : (size_t)(lf - h) + 1;
}

static bool
is_empty_line(const char *h, size_t len, size_t i)
{
	return h[i] == '\n' || (h[i] == '\r' && i + 1 < len && h[i + 1] == '\n');
}

/* Length of the header block at p, through the empty line; all of it when
 * there is no empty line. */
static size_t
hdr_block_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (is_empty_line(p, n, i))
			return i + (p[i] == '\r' ? 2 : 1);
		i = line_end(p, n, i);
	}
	return n;
}

struct hfield {
	size_t start, end;	/* the field, continuation lines and line breaks included */
	size_t name_len;	/* 0: not a field (no name or no colon) */
	size_t value;		/* where the value starts, after the colon */
};

/* The field at *pos; false at the empty line or the end. A line without a
 * colon is returned with name_len 0 so callers can skip it. */
static bool
hdr_next(const char *h, size_t len, size_t *pos, struct hfield *f)
{
	size_t i = *pos, e, k;

	if (i >= len || is_empty_line(h, len, i))
		return false;
	e = line_end(h, len, i);
	f->start = i;
	f->name_len = 0;
	f->value = e;
	for (k = i; k < e && (unsigned char)h[k] > ' ' && (unsigned char)h[k] < 127 && h[k] != ':';
	    k++)
		;
	if (k > i) {
		size_t n = k - i;

		/* RFC 5322 4.5.3: blanks before the colon */
		while (k < e && is_wsp(h[k]))
			k++;
		if (k < e && h[k] == ':') {
			f->name_len = n;
			f->value = k + 1;
		}
	}
	while (e < len && is_wsp(h[e]))
		e = line_end(h, len, e);
	f->end = e;
	*pos = e;
	return true;
}

/* A field value without line breaks or leading blanks; NUL becomes U+FFFD
 * so the result is a C string. */
static void
unfold(struct mime_buf *b, const char *v, size_t n)
{
	size_t i = 0, s;

	while (i < n && is_lwsp(v[i]))
		i++;
	buf_need(b, n - i);
	while (i < n) {
		for (s = i; i < n && v[i] != '\r' && v[i] != '\n' && v[i] != '\0'; i++)
			;
		buf_add(b, v + s, i - s);
		if (i < n && v[i] == '\0')
			buf_adds(b, UTF8_REPLACEMENT);
		if (i < n)
			i++;
	}
}

/* ---- IMAP strings ---- */

/* A quoted string, or a literal when s has CR, LF, NUL or 8-bit bytes; NIL
 * for NULL. */
static void
put_nstr(struct mime_buf *b, const char *s, size_t n)
{
	size_t i, nul = 0, s0;
	bool lit = false;

	if (s == NULL) {
		buf_adds(b, "NIL");
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n' || c >= 0x80)
			lit = true;
		else if (c == '\0') {
			lit = true;
			nul++;
		}
	}
	if (lit) {
		buf_addc(b, '{');
		buf_addu(b, n + 2 * nul);
		buf_adds(b, "}\r\n");
		for (i = 0; i < n;) {
			for (s0 = i; i < n && s[i] != '\0'; i++)
				;
			buf_add(b, s + s0, i - s0);
			if (i < n) {
				buf_adds(b, UTF8_REPLACEMENT);
				i++;
			}
		}
		return;
	}
	buf_need(b, n + 2);
	buf_addc(b, '"');
	for (i = 0; i < n;) {
		for (s0 = i; i < n && s[i] != '"' && s[i] != '\\'; i++)
			;
		buf_add(b, s + s0, i - s0);
		if (i < n) {
			buf_addc(b, '\\');
			buf_addc(b, s[i++]);
		}
	}
	buf_addc(b, '"');
}

static void
put_cstr(struct mime_buf *b, const char *s)
{
	put_nstr(b, s, s != NULL ? strlen(s) : 0);
}

/* ---- MIME structured fields (RFC 2045 5.1, RFC 822 lexical rules) ---- */

static bool
is_token(unsigned char c)
{
	return c > ' ' && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skip blanks, line breaks and (nested) comments. An unterminated comment
 * runs to the end. */
static size_t
skip_cfws(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	while (i < n) {
		char c = s[i];

		if (depth > 0) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			i++;
		} else if (is_lwsp(c))
			i++;
		else if (c == '(') {
			depth = 1;
			i++;
		} else
			break;
	}
	return i;
}

static size_t
token_end(const char *s, size_t n, size_t i)
{
	while (i < n && is_token((unsigned char)s[i]))
		i++;
	return i;
}

/* The quoted string at s[i] == '"' unescaped into b, line breaks dropped;
 * an unterminated one runs to the end. Returns the index after it. */
static size_t
quoted(struct mime_buf *b, const char *s, size_t n, size_t i)
{
	buf_reset(b);
	for (i++; i < n && s[i] != '"'; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '\r' || s[i] == '\n')
			continue;
		buf_addc(b, s[i]);
	}
	return i < n ? i + 1 : n;
}

/* Unquoted parameter values are read leniently (boundary=----=_Part_1 is
 * common): anything up to a blank, ';', '"' or '('. */
static bool
is_value_char(unsigned char c)
{
	return c > ' ' && c != 0x7f && c != ';' && c != '"' && c != '(';
}

/* Past junk up to the next ';' outside quotes and comments. */
static size_t
skip_junk(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] != ';') {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\' && i + 1 < n)
					i++;
			if (i < n)
				i++;
		} else if (s[i] == '(')
			i = skip_cfws(s, n, i);
		else
			i++;
	}
	return i;
}

/* ---- parser context ---- */

struct rawparam {
	const char *name;	/* in the header */
	size_t name_len, base_len;
	const char *value;	/* arena */
	size_t value_len;
	long section;		/* RFC 2231 section, -1 for none */
	bool ext;		/* charset'lang'%XX form */
	bool rfc2231;
	size_t order;
};

struct work {
	struct mime_part *p;
	size_t start, end;
	bool digest;		/* default Content-Type message/rfc822 */
};

struct pctx {
	const char *d;
	struct mime_limits lim;
	struct arena *a;
	size_t budget;		/* parts that may still be created */
	size_t nparts;
	struct work *stack;
	size_t nstack, cstack;
	size_t *rng;		/* child ranges being collected: start, end pairs */
	size_t nrng, crng;
	struct rawparam *raw;
	size_t nraw, craw;
	struct rawparam **sorted;
	size_t csorted;
	struct mime_buf tmp, tmp2;
	/* shared constant strings */
	char *s_text, *s_plain, *s_message, *s_rfc822, *s_application, *s_octet;
	char *s_7bit, *s_7BIT, *s_charset, *s_usascii;
};

static void
push_work(struct pctx *c, struct mime_part *p, size_t start, size_t end, bool digest)
{
	if (c->nstack == c->cstack) {
		c->cstack = c->cstack ? c->cstack * 2 : 16;
		c->stack = xreallocarray(c->stack, c->cstack, sizeof(*c->stack));
	}
	c->stack[c->nstack].p = p;
	c->stack[c->nstack].start = start;
	c->stack[c->nstack].end = end;
	c->stack[c->nstack].digest = digest;
	c->nstack++;
}

static void
add_range(struct pctx *c, size_t start, size_t end)
{
	if (c->nrng + 2 > c->crng) {
		c->crng = c->crng ? c->crng * 2 : 32;
		c->rng = xreallocarray(c->rng, c->crng, sizeof(*c->rng));
	}
	c->rng[c->nrng++] = start;
	c->rng[c->nrng++] = end < start ? start : end;
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) ---- */

/* Split "name*", "name*N" and "name*N*" (RFC 2231 3, 4). */
static void
classify_param(struct rawparam *r)
{
	const char *star = memchr(r->name, '*', r->name_len);
	size_t k, rl;
	const char *rest;
	long sec = 0;

	r->rfc2231 = false;
	r->ext = false;
	r->section = -1;
	r->base_len = r->name_len;
	if (star == NULL || star == r->name)
		return;
	rest = star + 1;
	rl = r->name_len - (size_t)(rest - r->name);
	if (rl == 0) {
		r->base_len = (size_t)(star - r->name);
		r->rfc2231 = r->ext = true;
		return;
	}
	for (k = 0; k < rl && k < 9 && rest[k] >= '0' && rest[k] <= '9'; k++)
		sec = sec * 10 + (rest[k] - '0');
	if (k == 0 || !(k == rl || (k == rl - 1 && rest[k] == '*')))
		return;
	r->base_len = (size_t)(star - r->name);
	r->rfc2231 = true;
	r->section = sec;
	r->ext = k == rl - 1;
}

static int
cmp_rawparam(const void *x, const void *y)
{
	const struct rawparam *a = *(const struct rawparam *const *)x;
	const struct rawparam *b = *(const struct rawparam *const *)y;
	int d = icmp(a->name, a->base_len, b->name, b->base_len);

	if (d != 0)
		return d;
	if ((a->section < 0) != (b->section < 0))
		return a->section < 0 ? -1 : 1;
	if (a->section != b->section)
		return a->section < b->section ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static void
set_param(struct pctx *c, struct mime_param *p, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	p->name_raw = arena_strndup(c->a, name, nlen);
	p->name = arena_case(c->a, p->name_raw, false);
	p->value = arena_strndup(c->a, value, vlen);
}

/* Turn the collected raw parameters into the final list: plain ones in
 * order, then RFC 2231 ones sorted by name with their sections joined (as
 * Dovecot shows them). One spare slot is left for a default charset. */
static void
build_params(struct pctx *c, struct mime_param **out, size_t *nout)
{
	struct mime_param *ps = arena_alloc(c->a, (c->nraw + 1) * sizeof(*ps));
	size_t i, j, k, n = 0, ns = 0;

	if (c->csorted < c->nraw) {
		c->csorted = c->nraw;
		c->sorted = xreallocarray(c->sorted, c->csorted, sizeof(*c->sorted));
	}
	for (i = 0; i < c->nraw; i++) {
		struct rawparam *r = &c->raw[i];

		classify_param(r);
		if (!r->rfc2231)
			set_param(c, &ps[n++], r->name, r->name_len, r->value, r->value_len);
		else
			c->sorted[ns++] = r;
	}
	if (ns > 1)
		qsort(c->sorted, ns, sizeof(*c->sorted), cmp_rawparam);
	for (j = 0; j < ns; j = k) {
		struct rawparam *r = c->sorted[j];
		bool any_ext = false;
		long last = -1;

		if (r->section < 0) {
			set_param(c, &ps[n++], r->name, r->name_len, r->value, r->value_len);
			k = j + 1;
			continue;
		}
		for (k = j; k < ns && c->sorted[k]->section >= 0 &&
		    icmp(c->sorted[k]->name, c->sorted[k]->base_len, r->name, r->base_len) == 0; k++)
			any_ext |= c->sorted[k]->ext;
		buf_reset(&c->tmp);
		if (any_ext && !(r->section == 0 && r->ext))
			buf_adds(&c->tmp, "''");
		for (i = j; i < k; i++) {
			const struct rawparam *s = c->sorted[i];
			size_t v, v0;

			if (s->section == last)
				continue;	/* a repeated section: the first counts */
			last = s->section;
			if (!any_ext || s->ext) {
				buf_add(&c->tmp, s->value, s->value_len);
				continue;
			}
			/* a plain section inside an encoded value */
			for (v = 0; v < s->value_len;) {
				for (v0 = v; v < s->value_len && s->value[v] != '%'; v++)
					;
				buf_add(&c->tmp, s->value + v0, v - v0);
				if (v < s->value_len) {
					buf_adds(&c->tmp, "%25");
					v++;
				}
			}
		}
		buf_reset(&c->tmp2);
		buf_add(&c->tmp2, r->name, r->base_len);
		if (any_ext)
			buf_addc(&c->tmp2, '*');
		set_param(c, &ps[n++], c->tmp2.p, c->tmp2.len, c->tmp.p, c->tmp.len);
	}
	*out = ps;
	*nout = n;
}

/* "; name=value" list from s[i]; invalid ones are skipped. */
static void
parse_params(struct pctx *c, const char *s, size_t n, size_t i, struct mime_param **out,
    size_t *nout)
{
	c->nraw = 0;
	while (i < n) {
		size_t ns, ne, vs;
		const char *v;
		size_t vlen;
		struct rawparam *r;

		i = skip_cfws(s, n, i);
		if (i >= n)
			break;
		if (s[i] != ';') {
			i = skip_junk(s, n, i);
			continue;
		}
		i = skip_cfws(s, n, i + 1);
		ns = i;
		i = ne = token_end(s, n, i);
		if (ne == ns)
			continue;
		i = skip_cfws(s, n, i);
		if (i >= n || s[i] != '=')
			continue;	/* no value: dropped (as Dovecot) */
		i = skip_cfws(s, n, i + 1);
		if (i < n && s[i] == '"') {
			i = quoted(&c->tmp, s, n, i);
			v = c->tmp.p;
			vlen = c->tmp.len;
		} else {
			for (vs = i; i < n && is_value_char((unsigned char)s[i]); i++)
				;
			if (i == vs)
				continue;
			v = s + vs;
			vlen = i - vs;
		}
		if (c->nraw == c->craw) {
			c->craw = c->craw ? c->craw * 2 : 8;
			c->raw = xreallocarray(c->raw, c->craw, sizeof(*c->raw));
		}
		r = &c->raw[c->nraw];
		r->name = s + ns;
		r->name_len = ne - ns;
		r->value = arena_strndup(c->a, v, vlen);
		r->value_len = vlen;
		r->order = c->nraw++;
	}
	build_params(c, out, nout);
}

const struct mime_param *
mime_param_find(const struct mime_param *params, size_t n, const char *name)
{
	size_t i, k = strlen(name);

	for (i = 0; i < n; i++) {
		const char *pn = params[i].name;

		if (strncasecmp(pn, name, k) == 0 &&
		    (pn[k] == '\0' || (pn[k] == '*' && pn[k + 1] == '\0')))
			return &params[i];
	}
	return NULL;
}

/* ---- one part ---- */

enum {
	F_TYPE, F_CTE, F_ID, F_DESC, F_MD5, F_DISP, F_LANG, F_LOC, F_N
};

static const char *const mime_fields[F_N] = {
	"content-type", "content-transfer-encoding", "content-id", "content-description",
	"content-md5", "content-disposition", "content-language", "content-location",
};

static char *
field_str(struct pctx *c, const char *v, size_t n)
{
	buf_reset(&c->tmp);
	unfold(&c->tmp, v, n);
	return arena_strndup(c->a, c->tmp.p, c->tmp.len);
}

/* type "/" subtype *(";" parameter); false when invalid (RFC 2045 5.2: then
 * the default applies). */
static bool
parse_ctype(struct pctx *c, struct mime_part *p, const char *s, size_t n)
{
	size_t i, ts, te, ss, se;

	ts = skip_cfws(s, n, 0);
	te = token_end(s, n, ts);
	i = skip_cfws(s, n, te);
	if (te == ts || i >= n || s[i] != '/')
		return false;
	ss = skip_cfws(s, n, i + 1);
	se = token_end(s, n, ss);
	if (se == ss)
		return false;
	p->type_raw = arena_strndup(c->a, s + ts, te - ts);
	p->type = arena_case(c->a, p->type_raw, false);
	p->subtype_raw = arena_strndup(c->a, s + ss, se - ss);
	p->subtype = arena_case(c->a, p->subtype_raw, false);
	parse_params(c, s, n, se, &p->params, &p->nparams);
	return true;
}

static void
set_counts(struct mime_part *p, const char *d)
{
	size_t bare;

	count_lf(d + p->hdr_off, p->hdr_len, &p->hdr_lines, &bare);
	p->hdr_vlen = p->hdr_len + bare;
	count_lf(d + p->body_off, p->body_len, &p->body_lines, &bare);
	p->body_vlen = p->body_len + bare;
}

/* A part beyond the limits: application/octet-stream over all its text. */
static void
set_opaque(struct pctx *c, struct mime_part *p, size_t start, size_t end, unsigned depth)
{
	p->hdr_off = p->body_off = start;
	p->hdr_len = 0;
	p->body_len = end - start;
	set_counts(p, c->d);
	p->type = p->type_raw = c->s_application;
	p->subtype = p->subtype_raw = c->s_octet;
	p->encoding = c->s_7BIT;
	p->encoding_raw = c->s_7bit;
	p->depth = depth;
	p->opaque = true;
	c->nparts++;
}

/* Where a part ends: before the line break preceding the boundary line at
 * ls (RFC 2046 5.1.1), never before its start cs. */
static size_t
before_boundary(const char *d, size_t cs, size_t ls)
{
	size_t e = ls;

	if (e > cs && d[e - 1] == '\n') {
		e--;
		if (e > cs && d[e - 1] == '\r')
			e--;
	}
	return e;
}

/* Is the line at ls "--b" plus blanks, or the closing "--b--"? *next is
 * the start of the following line. */
static bool
is_boundary(const char *d, size_t ls, size_t end, const char *b, size_t blen, size_t *next,
    bool *close)
{
	size_t k = ls + 2 + blen;

	if (end - ls < 2 + blen || d[ls] != '-' || d[ls + 1] != '-' ||
	    memcmp(d + ls + 2, b, blen) != 0)
		return false;
	if (end - k >= 2 && d[k] == '-' && d[k + 1] == '-') {
		*close = true;
		*next = line_end(d, end, k);
		return true;
	}
	*close = false;
	while (k < end && is_wsp(d[k]))
		k++;
	if (k == end)
		*next = end;
	else if (d[k] == '\n')
		*next = k + 1;
	else if (d[k] == '\r' && (k + 1 == end || d[k + 1] == '\n'))
		*next = k + 1 == end ? end : k + 2;
	else
		return false;
	return true;
}

/* The next boundary line in [i, end), i at a line start. needle is
 * "\n--" b. */
static bool
find_boundary(const char *d, size_t i, size_t end, const char *needle, size_t blen, size_t *ls_r,
    size_t *next, bool *close)
{
	size_t ls = i;
	const char *q;

	if (i < end && is_boundary(d, i, end, needle + 3, blen, next, close)) {
		*ls_r = i;
		return true;
	}
	while (ls < end && (q = memmem(d + ls, end - ls, needle, blen + 3)) != NULL) {
		ls = (size_t)(q - d) + 1;
		if (is_boundary(d, ls, end, needle + 3, blen, next, close)) {
			*ls_r = ls;
			return true;
		}
	}
	return false;
}

static void
split_multipart(struct pctx *c, struct mime_part *p)
{
	const char *b = NULL;
	size_t i, blen, bend = p->body_off + p->body_len, cs, ls, next, nkids;
	bool close;
	char *needle;

	for (i = 0; i < p->nparams; i++)
		if (strcmp(p->params[i].name, "boundary") == 0) {
			b = p->params[i].value;
			break;
		}
	if (b == NULL || *b == '\0')
		return;
	if (p->depth >= c->lim.max_depth || c->budget == 0) {
		p->children = arena_alloc(c->a, sizeof(*p->children));
		p->nchildren = 1;
		set_opaque(c, &p->children[0], p->body_off, bend, p->depth + 1);
		return;
	}
	blen = strlen(b);
	buf_reset(&c->tmp);
	buf_adds(&c->tmp, "\n--");
	buf_add(&c->tmp, b, blen);
	needle = c->tmp.p;
	/* Everything before the first boundary is the preamble. */
	if (!find_boundary(c->d, p->body_off, bend, needle, blen, &ls, &next, &close) || close)
		return;
	c->nrng = 0;
	cs = next;
	for (;;) {
		/* Out of parts: this one takes the rest of the body. */
		if (--c->budget == 0 ||
		    !find_boundary(c->d, cs, bend, needle, blen, &ls, &next, &close)) {
			add_range(c, cs, bend);
			break;
		}
		add_range(c, cs, before_boundary(c->d, cs, ls));
		if (close)
			break;
		cs = next;
	}
	nkids = c->nrng / 2;
	p->children = arena_alloc(c->a, nkids * sizeof(*p->children));
	p->nchildren = nkids;
	/* Pushed backwards so they are parsed in order. */
	for (i = nkids; i-- > 0;) {
		p->children[i].depth = p->depth + 1;
		push_work(c, &p->children[i], c->rng[2 * i], c->rng[2 * i + 1],
		    strcmp(p->subtype, "digest") == 0);
	}
}

static void
parse_part(struct pctx *c, const struct work *w)
{
	struct mime_part *p = w->p;
	const char *h = c->d + w->start;
	size_t hl, hlim, pos = 0, vs[F_N], ve[F_N], k;
	bool have[F_N] = { false };
	struct hfield f;

	c->nparts++;
	hl = hdr_block_len(h, w->end - w->start);
	p->hdr_off = w->start;
	p->hdr_len = hl;
	p->body_off = w->start + hl;
	p->body_len = w->end - p->body_off;
	set_counts(p, c->d);

	hlim = hl < c->lim.max_header ? hl : c->lim.max_header;
	while (hdr_next(h, hlim, &pos, &f)) {
		if (f.name_len < 8 || !ieq(h + f.start, 8, "content-"))
			continue;
		for (k = 0; k < F_N; k++)
			if (!have[k] && ieq(h + f.start, f.name_len, mime_fields[k])) {
				have[k] = true;
				vs[k] = f.value;
				ve[k] = f.end;
			}
	}

	if (!have[F_TYPE] || !parse_ctype(c, p, h + vs[F_TYPE], ve[F_TYPE] - vs[F_TYPE])) {
		c->nraw = 0;
		build_params(c, &p->params, &p->nparams);
		if (w->digest) {
			p->type = p->type_raw = c->s_message;
			p->subtype = p->subtype_raw = c->s_rfc822;
		} else {
			p->type = p->type_raw = c->s_text;
			p->subtype = p->subtype_raw = c->s_plain;
		}
	}
	/* build_params left a spare slot for this; only a plain charset
	 * counts (as Dovecot) */
	for (k = 0; k < p->nparams && strcmp(p->params[k].name, "charset") != 0; k++)
		;
	if (strcmp(p->type, "text") == 0 && k == p->nparams) {
		struct mime_param *cp = &p->params[p->nparams++];

		cp->name = cp->name_raw = c->s_charset;
		cp->value = c->s_usascii;
	}

	p->encoding_raw = NULL;
	if (have[F_CTE]) {
		const char *s = h + vs[F_CTE];
		size_t n = ve[F_CTE] - vs[F_CTE], ts = skip_cfws(s, n, 0), te = token_end(s, n, ts);

		if (te > ts)
			p->encoding_raw = arena_strndup(c->a, s + ts, te - ts);
	}
	if (p->encoding_raw == NULL) {
		p->encoding_raw = c->s_7bit;
		p->encoding = c->s_7BIT;
	} else
		p->encoding = arena_case(c->a, p->encoding_raw, true);

	if (have[F_ID])
		p->id = field_str(c, h + vs[F_ID], ve[F_ID] - vs[F_ID]);
	if (have[F_DESC])
		p->description = field_str(c, h + vs[F_DESC], ve[F_DESC] - vs[F_DESC]);
	if (have[F_MD5])
		p->md5 = field_str(c, h + vs[F_MD5], ve[F_MD5] - vs[F_MD5]);
	if (have[F_LANG])
		p->language = field_str(c, h + vs[F_LANG], ve[F_LANG] - vs[F_LANG]);
	if (have[F_LOC])
		p->location = field_str(c, h + vs[F_LOC], ve[F_LOC] - vs[F_LOC]);
	if (have[F_DISP]) {
		const char *s = h + vs[F_DISP];
		size_t n = ve[F_DISP] - vs[F_DISP], ts = skip_cfws(s, n, 0), te = token_end(s, n, ts);

		if (te > ts) {
			p->disposition_raw = arena_strndup(c->a, s + ts, te - ts);
			p->disposition = arena_case(c->a, p->disposition_raw, false);
			parse_params(c, s, n, te, &p->disp_params, &p->ndisp_params);
		}
	}

	if (strcmp(p->type, "multipart") == 0)
		split_multipart(c, p);
	else if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0)) {
		p->message = arena_alloc(c->a, sizeof(*p->message));
		if (p->depth >= c->lim.max_depth || c->budget == 0)
			set_opaque(c, p->message, p->body_off, w->end, p->depth + 1);
		else {
			c->budget--;
			p->message->depth = p->depth + 1;
			push_work(c, p->message, p->body_off, w->end, false);
		}
	}
}

int
mime_parse(const char *data, size_t len, const struct mime_limits *lim, struct mime_msg *out)
{
	static const struct mime_limits defaults = {
		MIME_MAX_DEPTH_DEFAULT, MIME_MAX_PARTS_DEFAULT, MIME_MAX_HEADER_DEFAULT
	};
	struct pctx c;
	struct arena *a;

	memset(out, 0, sizeof(*out));
	if (data == NULL)
		data = "";
	out->data = data;
	out->len = len;
	a = xcalloc(1, sizeof(*a));
	out->arena = a;

	memset(&c, 0, sizeof(c));
	c.d = data;
	c.lim = lim != NULL ? *lim : defaults;
	c.a = a;
	c.budget = c.lim.max_parts > 0 ? c.lim.max_parts - 1 : 0;
	c.s_text = arena_strndup(a, "text", 4);
	c.s_plain = arena_strndup(a, "plain", 5);
	c.s_message = arena_strndup(a, "message", 7);
	c.s_rfc822 = arena_strndup(a, "rfc822", 6);
	c.s_application = arena_strndup(a, "application", 11);
	c.s_octet = arena_strndup(a, "octet-stream", 12);
	c.s_7bit = arena_strndup(a, "7bit", 4);
	c.s_7BIT = arena_strndup(a, "7BIT", 4);
	c.s_charset = arena_strndup(a, "charset", 7);
	c.s_usascii = arena_strndup(a, "us-ascii", 8);

	push_work(&c, &out->root, 0, len, false);
	while (c.nstack > 0) {
		struct work w = c.stack[--c.nstack];

		parse_part(&c, &w);
	}
	out->nparts = c.nparts;
	free(c.stack);
	free(c.rng);
	free(c.raw);
	free(c.sorted);
	mime_buf_free(&c.tmp);
	mime_buf_free(&c.tmp2);
	return 0;
}

void
mime_free(struct mime_msg *m)
{
	arena_free(m->arena);
	memset(m, 0, sizeof(*m));
}

/* ---- section numbers ---- */

static bool
is_multipart(const struct mime_part *p)
{
	return !p->opaque && strcmp(p->type, "multipart") == 0;
}

/* Part n of a message whose top part is q: a multipart's children, else
 * only 1, q itself. */
static const struct mime_part *
msg_part(const struct mime_part *q, size_t n)
{
	if (is_multipart(q))
		return n <= q->nchildren ? &q->children[n - 1] : NULL;
	return n == 1 ? q : NULL;
}

const struct mime_part *
mime_section(const struct mime_msg *m, const char *s)
{
	const struct mime_part *p = &m->root;
	bool top = true;

	if (*s == '\0')
		return p;
	for (;;) {
		size_t n = 0;

		if (*s < '1' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9') {
			if (n > 1000000000)
				return NULL;
			n = n * 10 + (size_t)(*s++ - '0');
		}
		if (top)
			p = msg_part(p, n);
		else if (p->message != NULL)
			p = msg_part(p->message, n);
		else if (is_multipart(p))
			p = n <= p->nchildren ? &p->children[n - 1] : NULL;
		else
			p = NULL;
		top = false;
		if (p == NULL)
			return NULL;
		if (*s == '\0')
			return p;
		if (*s++ != '.')
			return NULL;
	}
}

/* ---- header fields ---- */

char *
mime_header_get(const char *hdr, size_t len, const char *name)
{
	struct mime_buf b = { NULL, 0, 0 };
	struct hfield f;
	size_t pos = 0;

	while (hdr_next(hdr, len, &pos, &f))
		if (f.name_len > 0 && ieq(hdr + f.start, f.name_len, name)) {
			unfold(&b, hdr + f.value, f.end - f.value);
			return b.p;
		}
	return NULL;
}

void
mime_header_fields(const char *hdr, size_t len, const char *const *names, size_t nnames,
    bool not, struct mime_buf *out)
{
	const char *lf = memchr(hdr, '\n', len);
	const char *eol = lf != NULL && lf > hdr && lf[-1] == '\r' ? "\r\n" : "\n";
	struct hfield f;
	size_t pos = 0, k;

	buf_need(out, 0);
	while (hdr_next(hdr, len, &pos, &f)) {
		bool match = false;

		for (k = 0; k < nnames && f.name_len > 0 && !match; k++)
			match = ieq(hdr + f.start, f.name_len, names[k]);
		if (match == not)
			continue;
		buf_add(out, hdr + f.start, f.end - f.start);
		/* the last line of a block without an empty line */
		if (hdr[f.end - 1] != '\n')
			buf_adds(out, hdr[f.end - 1] == '\r' ? "\n" : eol);
	}
	buf_adds(out, eol);
}

/* ---- address lists (RFC 5322 3.4 with the obsolete forms): ENVELOPE,
 * mime_addresses() ---- */

size_t
mime_comment_end(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	/* comments nest; a counter, not recursion */
	for (; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			break;
	}
	return i;
}

enum {
	T_END, T_ATOM, T_QUOTED, T_DLIT, T_CHAR
};

struct alex {
	const char *s;
	size_t n, i;
	int t;			/* the current token */
	char ch;		/* T_CHAR: which */
	size_t ts, te;		/* its text */
	bool space;		/* blanks or a comment before it */
	bool have_comment;	/* a comment seen since have_comment was cleared */
	size_t cs, ce;		/* the last comment's inside */
};

static void
alex_next(struct alex *l)
{
	const char *s = l->s;
	size_t n = l->n, i = l->i;

	l->space = false;
	for (;;) {
		while (i < n && is_lwsp(s[i])) {
			i++;
			l->space = true;
		}
		if (i < n && s[i] == '(') {
			l->cs = i + 1;
			i = mime_comment_end(s, n, i);
			l->ce = i;
			l->have_comment = true;
			l->space = true;
			if (i < n)
				i++;
			continue;
		}
		break;
	}
	l->ts = i;
	if (i >= n) {
		l->t = T_END;
		l->te = l->i = n;
		return;
	}
	if (s[i] == '"' || s[i] == '[') {
		char close = s[i] == '"' ? '"' : ']';

		for (i++; i < n && s[i] != close; i++)
			if (s[i] == '\\' && i + 1 < n)
				i++;
		if (i < n)
			i++;
		l->t = close == '"' ? T_QUOTED : T_DLIT;
	} else if (strchr("<>@,;:.", s[i]) != NULL && s[i] != '\0') {
		l->t = T_CHAR;
		l->ch = s[i++];
	} else {
		while (i < n && !is_lwsp(s[i]) && s[i] != '(' && s[i] != '"' && s[i] != '[' &&
		    (s[i] == '\0' || strchr("<>@,;:.", s[i]) == NULL))
			i++;
		l->t = T_ATOM;
	}
	l->te = l->i = i;
}

static bool
alex_is(const struct alex *l, char ch)
{
	return l->t == T_CHAR && l->ch == ch;
}

/* Token text with line breaks dropped; quoted strings unquoted when
 * unquote. */
static void
add_token(struct mime_buf *b, const struct alex *l, bool unquote)
{
	size_t i = l->ts, e = l->te;

	if (unquote && l->t == T_QUOTED) {
		i++;
		if (e > i && l->s[e - 1] == '"')
			e--;
	}
	for (; i < e; i++) {
		if (l->s[i] == '\r' || l->s[i] == '\n')
			continue;
		if (unquote && l->t == T_QUOTED && l->s[i] == '\\' && i + 1 < e)
			i++;
		buf_addc(b, l->s[i]);
	}
}

/* What the list holds, in order: mailboxes, and groups' starts and ends. */
enum {
	A_MAILBOX, A_GROUP, A_GROUP_END
};

/* One parser for ENVELOPE (written out as it goes) and mime_addresses()
 * (collected): out says which. */
struct aparse {
	struct alex l;
	unsigned flags;		/* MIME_ADDR_* */
	size_t max, count;	/* mailboxes: the most wanted, found so far */
	struct mime_buf name, adl, mbox, host;	/* the item at hand */
	struct mime_buf *out;	/* ENVELOPE: addresses written here ... */
	size_t items;		/* ... this many, groups included */
	struct mime_address *v;	/* mime_addresses(): the mailboxes */
	size_t cap;
};

static void
put_address(struct aparse *a, const struct mime_buf *name, const struct mime_buf *adl,
    const char *mbox, size_t mlen, const char *host, size_t hlen)
{
	buf_addc(a->out, '(');
	put_nstr(a->out, name != NULL && name->len > 0 ? name->p : NULL, name ? name->len : 0);
	buf_addc(a->out, ' ');
	put_nstr(a->out, adl != NULL && adl->len > 0 ? adl->p : NULL, adl ? adl->len : 0);
	buf_addc(a->out, ' ');
	put_nstr(a->out, mbox, mlen);
	buf_addc(a->out, ' ');
	put_nstr(a->out, host, hlen);
	buf_addc(a->out, ')');
	a->items++;
}

/* Missing parts as Dovecot shows them. */
static void
put_mailbox(struct aparse *a)
{
	put_address(a, &a->name, &a->adl,
	    a->mbox.len > 0 ? a->mbox.p : "MISSING_MAILBOX", a->mbox.len > 0 ? a->mbox.len : 15,
	    a->host.len > 0 ? a->host.p : "MISSING_DOMAIN", a->host.len > 0 ? a->host.len : 14);
}

static void
add_mailbox(struct aparse *a)
{
	struct mime_address *mb;

	if (a->count == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	mb = &a->v[a->count];
	if (a->name.len == 0)
		mb->name = xstrdup("");
	else if (a->flags & MIME_ADDR_DECODE)
		mb->name = mime_decode_words(a->name.p, a->name.len);
	else
		mb->name = xstrndup(a->name.p, a->name.len);
	mb->local = xstrndup(a->mbox.p, a->mbox.len);
	mb->domain = xstrndup(a->host.p, a->host.len);
}

/* The item found: a mailbox is in name, adl, mbox and host, a group's
 * name in name. */
static void
emit(struct aparse *a, int kind)
{
	if (a->out == NULL) {
		if (kind == A_MAILBOX)
			add_mailbox(a);
	} else if (kind == A_GROUP)
		put_address(a, NULL, NULL, a->name.p, a->name.len, NULL, 0);
	else if (kind == A_GROUP_END)
		put_address(a, NULL, NULL, NULL, 0, NULL, 0);
	else
		put_mailbox(a);
	if (kind == A_MAILBOX)
		a->count++;
}

/* Words and dots, as a local part or a domain is written (quotes kept but
 * for MIME_ADDR_SEARCH). Two words in a row end it. */
static void
dot_words(struct aparse *a, struct mime_buf *b, bool domain)
{
	struct alex *l = &a->l;
	bool want_word = true;

	while (l->t == T_ATOM || l->t == T_QUOTED || (domain && l->t == T_DLIT) || alex_is(l, '.')) {
		if (l->t != T_CHAR) {
			if (!want_word)
				break;
			want_word = false;
		} else
			want_word = true;
		add_token(b, l, (a->flags & MIME_ADDR_SEARCH) != 0);
		alex_next(l);
	}
}

/* local-part "@" domain into mbox and host; false when there was nothing
 * of it (for MIME_ADDR_SEARCH: nothing left of it). */
static bool
addr_spec(struct aparse *a)
{
	struct alex *l = &a->l;
	bool at = false;

	buf_reset(&a->mbox);
	buf_reset(&a->host);
	dot_words(a, &a->mbox, false);
	if (alex_is(l, '@')) {
		at = true;
		alex_next(l);
		dot_words(a, &a->host, true);
	}
	if (a->flags & MIME_ADDR_SEARCH)
		return a->mbox.len > 0 || a->host.len > 0;
	return at || a->mbox.len > 0;
}

/* "<" [route ":"] addr-spec ">", after the "<"; the name is in a->name. */
static void
angle_addr(struct aparse *a)
{
	struct alex *l = &a->l;
	bool at;

	buf_reset(&a->adl);
	/* obs-route: "@a,@b:" */
	if (alex_is(l, '@')) {
		while (alex_is(l, '@') || alex_is(l, ',')) {
			at = alex_is(l, '@');
			alex_next(l);
			if (at) {
				if (a->adl.len > 0)
					buf_addc(&a->adl, ',');
				buf_addc(&a->adl, '@');
			} else if (!(a->flags & MIME_ADDR_SEARCH))
				continue;
			/* SEARCH takes words after a ',' as route too (its
			 * adl is never shown, so their text does not matter) */
			dot_words(a, &a->adl, true);
		}
		if (alex_is(l, ':'))
			alex_next(l);
	}
	addr_spec(a);
	if (alex_is(l, '>'))
		alex_next(l);
	emit(a, A_MAILBOX);
}

/* One address (mailbox or group start) at the current token. Always
 * consumes a token, so the list loop ends. */
static void
parse_address(struct aparse *a, bool *in_group)
{
	struct alex *l = &a->l;
	struct alex save = *l;
	size_t nwords = 0;

	buf_reset(&a->name);
	while (l->t == T_ATOM || l->t == T_QUOTED || alex_is(l, '.')) {
		/* one blank where the words were apart (ENVELOPE: none
		 * before a '.') */
		if (nwords++ > 0 && l->space &&
		    (l->t != T_CHAR || (a->flags & MIME_ADDR_SEARCH)))
			buf_addc(&a->name, ' ');
		add_token(&a->name, l, true);
		alex_next(l);
	}
	if (alex_is(l, ':') && nwords > 0 && !*in_group) {
		emit(a, A_GROUP);
		*in_group = true;
		alex_next(l);
		return;
	}
	if (alex_is(l, '<')) {
		alex_next(l);
		angle_addr(a);
	} else {
		/* it was an addr-spec: its name is a comment after it */
		*l = save;
		l->have_comment = false;
		if (addr_spec(a)) {
			buf_reset(&a->name);
			buf_reset(&a->adl);
			if (l->have_comment)
				for (size_t i = l->cs; i < l->ce; i++)
					if (l->s[i] != '\r' && l->s[i] != '\n')
						buf_addc(&a->name, l->s[i]);
			emit(a, A_MAILBOX);
		}
	}
	/* junk up to the next ',' (or the ';' ending a group) */
	while (l->t != T_END && !alex_is(l, ',') && !alex_is(l, ';'))
		alex_next(l);
}

/* The list, item by item to emit(), until a->max mailboxes. */
static void
parse_addresses(struct aparse *a, const char *s, size_t n)
{
	bool in_group = false;

	memset(&a->l, 0, sizeof(a->l));
	a->l.s = s;
	a->l.n = n;
	a->count = a->items = 0;
	alex_next(&a->l);
	while (a->l.t != T_END && a->count < a->max) {
		if (alex_is(&a->l, ',')) {
			alex_next(&a->l);
			continue;
		}
		if (alex_is(&a->l, ';')) {
			if (in_group)
				emit(a, A_GROUP_END);
			in_group = false;
			alex_next(&a->l);
			continue;
		}
		parse_address(a, &in_group);
	}
	if (in_group)
		emit(a, A_GROUP_END);
}

static void
aparse_free(struct aparse *a)
{
	mime_buf_free(&a->name);
	mime_buf_free(&a->adl);
	mime_buf_free(&a->mbox);
	mime_buf_free(&a->host);
}

size_t
mime_addresses(const char *value, size_t len, size_t max, unsigned flags,
    struct mime_address **out)
{
	struct aparse a;

	memset(&a, 0, sizeof(a));
	a.flags = flags;
	a.max = max;
	parse_addresses(&a, value, len);
	aparse_free(&a);
	*out = a.v;
	return a.count;
}

void
mime_addresses_free(struct mime_address *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].local);
		free(v[i].domain);
	}
	free(v);
}

enum {
	E_DATE, E_SUBJECT, E_FROM, E_SENDER, E_REPLY_TO, E_TO, E_CC, E_BCC, E_IN_REPLY_TO,
	E_MESSAGE_ID, E_N
};

static const char *const env_fields[E_N] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to",
	"message-id",
};

void
mime_envelope(const char *hdr, size_t len, struct mime_buf *out)
{
	struct aparse a;
	struct mime_buf from = { NULL, 0, 0 }, list = { NULL, 0, 0 }, txt = { NULL, 0, 0 };
	struct hfield f;
	size_t pos = 0, k, vs[E_N], ve[E_N];
	bool have[E_N] = { false };

	while (hdr_next(hdr, len, &pos, &f)) {
		if (f.name_len == 0)
			continue;
		for (k = 0; k < E_N; k++)
			if (!have[k] && ieq(hdr + f.start, f.name_len, env_fields[k])) {
				have[k] = true;
				vs[k] = f.value;
				ve[k] = f.end;
			}
	}
	memset(&a, 0, sizeof(a));
	a.out = &list;
	a.max = SIZE_MAX;
	buf_addc(out, '(');
	for (k = 0; k < E_N; k++) {
		if (k > 0)
			buf_addc(out, ' ');
		switch (k) {
		case E_DATE:
		case E_SUBJECT:
		case E_IN_REPLY_TO:
		case E_MESSAGE_ID:
			if (!have[k]) {
				buf_adds(out, "NIL");
				break;
			}
			buf_reset(&a.name);
			unfold(&a.name, hdr + vs[k], ve[k] - vs[k]);
			put_nstr(out, a.name.p, a.name.len);
			break;
		default:
			buf_reset(&list);
			if (have[k])
				parse_addresses(&a, hdr + vs[k], ve[k] - vs[k]);
			buf_reset(&txt);
			if (have[k] && a.items > 0) {
				buf_addc(&txt, '(');
				buf_add(&txt, list.p, list.len);
				buf_addc(&txt, ')');
			} else if (k == E_SENDER || k == E_REPLY_TO)
				/* RFC 3501 7.4.2: absent or empty, they are from */
				buf_add(&txt, from.p, from.len);
			else
				buf_adds(&txt, "NIL");
			if (k == E_FROM) {
				buf_reset(&from);
				buf_add(&from, txt.p, txt.len);
			}
			buf_add(out, txt.p, txt.len);
			break;
		}
	}
	buf_addc(out, ')');
	mime_buf_free(&from);
	mime_buf_free(&list);
	mime_buf_free(&txt);
	aparse_free(&a);
}

/* ---- BODYSTRUCTURE ---- */

/* What Dovecot shows for a multipart without parts (the grammar needs one). */
#define EMPTY_PART "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

static void
put_params(struct mime_buf *b, const struct mime_param *ps, size_t n)
{
	size_t i;

	if (n == 0) {
		buf_adds(b, "NIL");
		return;
	}
	buf_addc(b, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, ' ');
		put_cstr(b, ps[i].name_raw);
		buf_addc(b, ' ');
		put_cstr(b, ps[i].value);
	}
	buf_addc(b, ')');
}

/* disposition language location, the tail of every extension. */
static void
put_ext_tail(struct mime_buf *b, const struct mime_part *p)
{
	const char *s = p->language;
	size_t i, n, st, count = 0;

	buf_addc(b, ' ');
	if (p->disposition_raw == NULL)
		buf_adds(b, "NIL");
	else {
		buf_addc(b, '(');
		put_cstr(b, p->disposition_raw);
		buf_addc(b, ' ');
		put_params(b, p->disp_params, p->ndisp_params);
		buf_addc(b, ')');
	}
	buf_addc(b, ' ');
	/* Content-Language: a comma separated list of tags (RFC 3282) */
	n = s != NULL ? strlen(s) : 0;
	for (i = 0; i < n;) {
		i = skip_cfws(s, n, i);
		for (st = i; i < n && !is_lwsp(s[i]) && s[i] != ',' && s[i] != '('; i++)
			;
		if (i > st) {
			buf_addc(b, count++ == 0 ? '(' : ' ');
			put_nstr(b, s + st, i - st);
		} else if (i < n)
			i++;	/* a ',' or a stray character */
	}
	buf_adds(b, count > 0 ? ")" : "NIL");
	buf_addc(b, ' ');
	put_cstr(b, p->location);
}

static void
put_envelope_of(const struct mime_msg *m, const struct mime_part *e, struct mime_buf *b)
{
	if (!e->opaque)
		mime_envelope(m->data + e->hdr_off, e->hdr_len, b);
	else
		mime_envelope(m->data + e->body_off, hdr_block_len(m->data + e->body_off,
		    e->body_len), b);
}

/* Write the start of p; true when p has nested bodies to follow (then
 * bs_close finishes it). */
static bool
bs_open(const struct mime_msg *m, const struct mime_part *p, bool ext, struct mime_buf *b)
{
	bool text;

	buf_addc(b, '(');
	if (is_multipart(p)) {
		if (p->nchildren == 0) {
			buf_adds(b, EMPTY_PART);
			buf_adds(b, ext ? " NIL NIL NIL NIL)" : ")");
		}
		return true;
	}
	put_cstr(b, p->type_raw);
	buf_addc(b, ' ');
	put_cstr(b, p->subtype_raw);
	buf_addc(b, ' ');
	put_params(b, p->params, p->nparams);
	buf_addc(b, ' ');
	put_cstr(b, p->id);
	buf_addc(b, ' ');
	put_cstr(b, p->description);
	buf_addc(b, ' ');
	put_cstr(b, p->encoding_raw);
	buf_addc(b, ' ');
	buf_addu(b, p->body_vlen);
	if (p->message != NULL) {
		buf_addc(b, ' ');
		put_envelope_of(m, p->message, b);
		buf_addc(b, ' ');
		return true;
	}
	text = strcmp(p->type, "text") == 0;
	if (text) {
		buf_addc(b, ' ');
		buf_addu(b, p->body_lines);
	}
	if (ext) {
		buf_addc(b, ' ');
		put_cstr(b, p->md5);
		put_ext_tail(b, p);
	}
	buf_addc(b, ')');
	return false;
}

static void
bs_close(const struct mime_part *p, bool ext, struct mime_buf *b)
{
	if (is_multipart(p)) {
		buf_addc(b, ' ');
		put_cstr(b, p->subtype_raw);
		if (ext) {
			buf_addc(b, ' ');
			put_params(b, p->params, p->nparams);
			put_ext_tail(b, p);
		}
	} else {
		buf_addc(b, ' ');
		buf_addu(b, p->body_lines);
		if (ext) {
			buf_addc(b, ' ');
			put_cstr(b, p->md5);
			put_ext_tail(b, p);
		}
	}
	buf_addc(b, ')');
}

struct bs_frame {
	const struct mime_part *p;
	size_t next;		/* next child; for a message 0 before its body, 1 after */
};

void
mime_bodystructure(const struct mime_msg *m, const struct mime_part *p, bool ext,
    struct mime_buf *out)
{
	struct bs_frame *st = NULL;
	size_t n = 0, cap = 0;

	if (!bs_open(m, p, ext, out))
		return;
	cap = 16;
	st = xreallocarray(NULL, cap, sizeof(*st));
	st[n].p = p;
	st[n++].next = 0;
	while (n > 0) {
		struct bs_frame *f = &st[n - 1];
		const struct mime_part *q = f->p, *child = NULL;

		if (is_multipart(q)) {
			if (f->next < q->nchildren)
				child = &q->children[f->next++];
		} else if (f->next++ == 0)
			child = q->message;
		if (child == NULL) {
			bs_close(q, ext, out);
			n--;
			continue;
		}
		if (!bs_open(m, child, ext, out))
			continue;
		if (n == cap) {
			cap *= 2;
			st = xreallocarray(st, cap, sizeof(*st));
		}
		st[n].p = child;
		st[n++].next = 0;
	}
	free(st);
}

/* ---- RFC 2047 encoded words ---- */

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or
 * NUL), 0 when invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80 ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0;
	return 4;
}

/* Append s as valid UTF-8: bad bytes and NUL become U+FFFD. */
static void
put_utf8(struct mime_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, st, k;

	while (i < n) {
		for (st = i; i < n && (k = utf8_len(u + i, n - i)) > 0; i += k)
			;
		buf_add(b, s + st, i - st);
		if (i < n) {
			buf_adds(b, UTF8_REPLACEMENT);
			i++;
		}
	}
}

#define CS_CACHE	4
#define CS_MAX_OPENS	16	/* iconv_open calls per value */

struct cs_entry {
	char name[64];
	iconv_t cd;		/* (iconv_t)-1: iconv does not know it */
	bool utf8;		/* no conversion needed */
	unsigned long used;
};

struct wdec {
	struct mime_buf out, raw, word, pend;
	struct cs_entry cache[CS_CACHE];
	unsigned long tick;
	unsigned opens;
	int pend_cs;		/* cache slot of the pending bytes, -1: none */
	size_t scan_from, scan_stop;	/* last encoded-text scan */
	bool scan_found;
};

/* RFC 2047 2: especials and blanks cannot be in a charset. */
static bool
is_cs_char(unsigned char c)
{
	return c > ' ' && c < 127 && strchr("()<>@,;:\"/[]?.=*", c) == NULL;
}

void
mime_iconv(iconv_t cd, const char *s, size_t n, bool clean, struct mime_buf *out)
{
	char tmp[1024], *in = (char *)s, *o;	/* iconv takes char **, reads only */
	size_t inleft = n, oleft, r;
	int err;

	iconv(cd, NULL, NULL, NULL, NULL);
	while (inleft > 0) {
		o = tmp;
		oleft = sizeof(tmp);
		r = iconv(cd, &in, &inleft, &o, &oleft);
		err = errno;
		if (clean)
			put_utf8(out, tmp, (size_t)(o - tmp));
		else
			buf_add(out, tmp, (size_t)(o - tmp));
		if (r != (size_t)-1)
			break;
		if (err == E2BIG && o != tmp)
			continue;
		buf_adds(out, UTF8_REPLACEMENT);
		if (err != EILSEQ || inleft == 0)
			break;
		/* skip the bad byte and go on */
		in++;
		inleft--;
	}
	o = tmp;
	oleft = sizeof(tmp);
	if (iconv(cd, NULL, NULL, &o, &oleft) != (size_t)-1) {
		if (clean)
			put_utf8(out, tmp, (size_t)(o - tmp));
		else
			buf_add(out, tmp, (size_t)(o - tmp));
	}
}

/* Convert and output the pending bytes of adjacent words. */
static void
flush_pend(struct wdec *d)
{
	if (d->pend_cs >= 0 && d->pend.len > 0) {
		const struct cs_entry *e = &d->cache[d->pend_cs];

		if (e->utf8)
			put_utf8(&d->out, d->pend.p, d->pend.len);
		else
			mime_iconv(e->cd, d->pend.p, d->pend.len, true, &d->out);
	}
	d->pend.len = 0;
	d->pend_cs = -1;
}

static void
flush_raw(struct wdec *d)
{
	if (d->raw.len > 0)
		put_utf8(&d->out, d->raw.p, d->raw.len);
	d->raw.len = 0;
}

/* The cache slot for a charset, -1 when iconv does not know it. */
static int
charset_slot(struct wdec *d, const char *cs, size_t n)
{
	int i, victim = 0;
	struct cs_entry *e;

	for (i = 0; i < CS_CACHE; i++)
		if (d->cache[i].used > 0 && ieq(cs, n, d->cache[i].name)) {
			d->cache[i].used = ++d->tick;
			return d->cache[i].utf8 || d->cache[i].cd != (iconv_t)-1 ? i : -1;
		}
	if (d->opens >= CS_MAX_OPENS)
		return -1;
	for (i = 1; i < CS_CACHE; i++)
		if (d->cache[i].used < d->cache[victim].used)
			victim = i;
	/* the pending bytes may belong to the victim */
	if (d->pend_cs == victim)
		flush_pend(d);
	e = &d->cache[victim];
	if (e->used > 0 && e->cd != (iconv_t)-1)
		iconv_close(e->cd);
	memcpy(e->name, cs, n);
	e->name[n] = '\0';
	e->used = ++d->tick;
	e->utf8 = ieq(cs, n, "utf-8") || ieq(cs, n, "utf8") || ieq(cs, n, "us-ascii") ||
	    ieq(cs, n, "ascii");
	e->cd = (iconv_t)-1;
	if (!e->utf8) {
		d->opens++;
		e->cd = iconv_open("UTF-8", e->name);
	}
	return e->utf8 || e->cd != (iconv_t)-1 ? victim : -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)lc((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool
decode_b(struct mime_buf *b, const char *s, size_t n)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i, nchars = 0;
	bool pad = false;

	for (i = 0; i < n; i++) {
		int v;

		if (s[i] == '=') {
			pad = true;
			continue;
		}
		if (pad || (v = b64val(s[i])) < 0)
			return false;
		nchars++;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(b, (char)(acc >> bits));
			acc &= (1u << bits) - 1;
		}
	}
	return nchars % 4 != 1;
}

static void
decode_q(struct mime_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '_')
			buf_addc(b, ' ');
		else if (s[i] == '=' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			buf_addc(b, (char)(hi << 4 | lo));
			i += 2;
		} else
			buf_addc(b, s[i]);
	}
}

/* Where the encoded text from ts ends: the "?=" (*found) or a blank / the
 * end. Remembered, so that retries inside the same text cost nothing and
 * the whole value is scanned once. */
static size_t
text_stop(struct wdec *d, const char *v, size_t n, size_t ts, bool *found)
{
	size_t k;

	if (d->scan_from <= ts && ts <= d->scan_stop) {
		*found = d->scan_found;
		return d->scan_stop;
	}
	for (k = ts; k < n && !is_lwsp(v[k]); k++)
		if (v[k] == '?' && k + 1 < n && v[k + 1] == '=')
			break;
	d->scan_from = ts;
	d->scan_stop = k;
	d->scan_found = *found = k < n && v[k] == '?';
	return k;
}

/* An encoded word at v[i] ("=?"): decoded into d->pend, returns the index
 * after it, or 0 when it is not a valid one. */
static size_t
try_word(struct wdec *d, const char *v, size_t n, size_t i)
{
	size_t k = i + 2, cs = k, cslen, ts, te;
	char enc;
	int slot;
	bool found, ok = true;

	while (k < n && is_cs_char((unsigned char)v[k]))
		k++;
	cslen = k - cs;
	if (cslen == 0 || cslen >= sizeof(d->cache[0].name))
		return 0;
	/* RFC 2231 5: charset*language */
	if (k < n && v[k] == '*')
		for (k++; k < n && is_cs_char((unsigned char)v[k]); k++)
			;
	if (k + 2 >= n || v[k] != '?' || v[k + 2] != '?')
		return 0;
	enc = (char)lc((unsigned char)v[k + 1]);
	if (enc != 'b' && enc != 'q')
		return 0;
	ts = k + 3;
	te = text_stop(d, v, n, ts, &found);
	if (!found)
		return 0;
	slot = charset_slot(d, v + cs, cslen);
	if (slot < 0)
		return 0;
	buf_reset(&d->word);
	if (enc == 'b')
		ok = decode_b(&d->word, v + ts, te - ts);
	else
		decode_q(&d->word, v + ts, te - ts);
	if (!ok)
		return 0;
	/* adjacent words in one charset are converted together: a character
	 * may be split between them */
	if (d->pend_cs != slot)
		flush_pend(d);
	flush_raw(d);
	d->pend_cs = slot;
	buf_add(&d->pend, d->word.p, d->word.len);
	return te + 2;
}

char *
mime_decode_words(const char *v, size_t n)
{
	struct wdec d;
	size_t i = 0, j, end;
	bool after_word = false;
	int k;

	memset(&d, 0, sizeof(d));
	d.pend_cs = -1;
	d.scan_from = 1;
	d.scan_stop = 0;
	buf_need(&d.out, n);
	while (i < n) {
		if (after_word && is_lwsp(v[i])) {
			/* blanks between encoded words vanish */
			for (j = i; j < n && is_lwsp(v[j]); j++)
				;
			if (j + 1 < n && v[j] == '=' && v[j + 1] == '?' &&
			    (end = try_word(&d, v, n, j)) > 0) {
				i = end;
				continue;
			}
			after_word = false;
		}
		if (v[i] == '=' && i + 1 < n && v[i + 1] == '?' && (end = try_word(&d, v, n, i)) > 0) {
			i = end;
			after_word = true;
			continue;
		}
		flush_pend(&d);
		after_word = false;
		if (v[i] != '\r' && v[i] != '\n')
			buf_addc(&d.raw, v[i]);
		i++;
	}
	flush_pend(&d);
	flush_raw(&d);
	for (k = 0; k < CS_CACHE; k++)
		if (d.cache[k].used > 0 && d.cache[k].cd != (iconv_t)-1)
			iconv_close(d.cache[k].cd);
	mime_buf_free(&d.raw);
	mime_buf_free(&d.word);
	mime_buf_free(&d.pend);
	return d.out.p;
}

/* ---- Content-Transfer-Encoding (RFC 2045 6) ---- */

/* Lenient base64: junk is skipped, "=" ends a group. */
static void
decode_body_b64(struct mime_buf *o, const char *s, size_t n)
{
	unsigned acc = 0;
	int bits = 0, v;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			acc = 0;
			bits = 0;
			continue;
		}
		if ((v = b64val(s[i])) < 0)
			continue;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(o, (char)(acc >> bits));
		}
	}
}

static void
decode_body_qp(struct mime_buf *o, const char *s, size_t n)
{
	size_t i = 0, j;
	int hi, lo;

	while (i < n) {
		if (s[i] != '=') {
			buf_addc(o, s[i++]);
			continue;
		}
		/* soft line break: "=" blanks line-end */
		for (j = i + 1; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
			;
		if (j < n && s[j] == '\n') {
			i = j + 1;
			continue;
		}
		if (j + 1 < n && s[j] == '\r' && s[j + 1] == '\n') {
			i = j + 2;
			continue;
		}
		if (i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			buf_addc(o, (char)(hi << 4 | lo));
			i += 3;
			continue;
		}
		buf_addc(o, s[i++]);
	}
}

bool
mime_decode_body(const char *encoding, const char *s, size_t n, struct mime_buf *out)
{
	if (encoding == NULL)
		return false;
	if (strcmp(encoding, "BASE64") == 0)
		decode_body_b64(out, s, n);
	else if (strcmp(encoding, "QUOTED-PRINTABLE") == 0)
		decode_body_qp(out, s, n);
	else
		return false;
	return true;
}

/* ---- RFC 5322 3.3 / 4.3 dates ---- */

/* Skip blanks, line breaks and comments. */
static size_t
d_skip(const char *s, size_t i)
{
	size_t depth = 0;

	while (s[i] != '\0') {
		if (depth > 0) {
			if (s[i] == '\\' && s[i + 1] != '\0')
				i++;
			else if (s[i] == '(')
				depth++;
			else if (s[i] == ')')
				depth--;
		} else if (s[i] == '(')
			depth = 1;
		else if (!is_lwsp(s[i]))
			break;
		i++;
	}
	return i;
}

/* Digits at s[*i]: their number (capped), the value in *v. */
static size_t
d_digits(const char *s, size_t *i, unsigned long *v)
{
	size_t n = 0;

	*v = 0;
	while (s[*i] >= '0' && s[*i] <= '9') {
		if (n < 10)
			*v = *v * 10 + (unsigned long)(s[*i] - '0');
		n++;
		(*i)++;
	}
	return n;
}

static size_t
d_alpha(const char *s, size_t *i)
{
	size_t st = *i;

	while ((s[*i] >= 'a' && s[*i] <= 'z') || (s[*i] >= 'A' && s[*i] <= 'Z'))
		(*i)++;
	return *i - st;
}

/* An abbreviated or full name from the table, -1 when none. */
static int
d_name(const char *w, size_t n, const char *const *tab, int count)
{
	int k;

	for (k = 0; k < count; k++)
		if (n == 3 && ieq(w, 3, tab[k]))
			return k;
	for (k = 0; k < count; k++)
		if (n > 3 && ieq(w, n, tab[count + k]))
			return k;
	return -1;
}

long long
mime_days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

int
mime_parse_date(const char *s, long long *utc, int *tz_minutes)
{
	static const char *const months[24] = {
		"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
		"january", "february", "march", "april", "may", "june", "july", "august",
		"september", "october", "november", "december",
	};
	static const char *const wdays[14] = {
		"mon", "tue", "wed", "thu", "fri", "sat", "sun",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
	};
	static const struct {
		const char *name;
		int min;
	} zones[] = {
		{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "est", -300 }, { "edt", -240 },
		{ "cst", -360 }, { "cdt", -300 }, { "mst", -420 }, { "mdt", -360 },
		{ "pst", -480 }, { "pdt", -420 },
	};
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t i, st, n;
	unsigned long day, year, hour, min, sec = 0, v;
	int mon, tz = 0;
	size_t k;

	i = d_skip(s, 0);
	/* [day-of-week ","] */
	st = i;
	if ((n = d_alpha(s, &i)) > 0) {
		if (d_name(s + st, n, wdays, 7) < 0)
			return -1;
		i = d_skip(s, i);
		if (s[i] == ',')
			i = d_skip(s, i + 1);
	}
	n = d_digits(s, &i, &day);
	if (n < 1 || n > 2 || day < 1)
		return -1;
	i = d_skip(s, i);
	st = i;
	n = d_alpha(s, &i);
	if ((mon = d_name(s + st, n, months, 12)) < 0)
		return -1;
	i = d_skip(s, i);
	n = d_digits(s, &i, &year);
	/* RFC 5322 4.3: two digits are 1950-2049, three are added to 1900 */
	if (n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	else if (n != 4 || year < 1)
		return -1;
	i = d_skip(s, i);
	n = d_digits(s, &i, &hour);
	if (n < 1 || n > 2 || hour > 23)
		return -1;
	i = d_skip(s, i);
	if (s[i] != ':')
		return -1;
	i = d_skip(s, i + 1);
	n = d_digits(s, &i, &min);
	if (n < 1 || n > 2 || min > 59)
		return -1;
	i = d_skip(s, i);
	if (s[i] == ':') {
		i = d_skip(s, i + 1);
		n = d_digits(s, &i, &sec);
		if (n < 1 || n > 2 || sec > 60)
			return -1;
		i = d_skip(s, i);
	}
	if (s[i] == '+' || s[i] == '-') {
		int sign = s[i] == '-' ? -1 : 1;

		i++;
		n = d_digits(s, &i, &v);
		if (n != 4 || v % 100 > 59)
			return -1;
		tz = sign * (int)(v / 100 * 60 + v % 100);
	} else if ((n = d_alpha(s, &i)) > 0) {
		/* named zones; military letters and unknown names are -0000
		 * (RFC 5322 4.3) */
		for (k = 0; k < sizeof(zones) / sizeof(zones[0]); k++)
			if (ieq(s + i - n, n, zones[k].name))
				tz = zones[k].min;
	} else if (s[i] != '\0')
		return -1;
	if (day > mdays[mon] || (mon == 1 && day == 29 &&
	    !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))))
		return -1;
	if (utc != NULL)
		*utc = mime_days_from_civil((long long)year, (unsigned)mon + 1, (unsigned)day) * 86400 +
		    (long long)(hour * 3600 + min * 60 + sec) - (long long)tz * 60;
	if (tz_minutes != NULL)
		*tz_minutes = tz;
	return 0;
}
