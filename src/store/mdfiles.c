/* mdfiles: Dovecot's Maildir side files and file name info (pure, bounded). */
#include "store/mdfiles.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

/* Dovecot reads these files through buffers of a fixed size; a line that
 * does not fit ends its reading there (uidlist, keywords) or fails it
 * (subscriptions: mailbox_name_max_length + 1). Sizes include the LF. */
#define UIDLIST_BUF	4096
#define KEYWORDS_BUF	1024
#define SUBS_LINE_MAX	4096
#define NAME_MAX_LEN	255		/* a file name; keeps our lines within Dovecot's buffer */
#define GUID_HEX	32
#define NKW		26

static const char subs_v2_header[] = "V\t2\n\n";

/* One line of text[*pos..len): its bytes without LF (and a CR before it),
 * whether it ended in LF, and its raw length with the LF. */
struct line {
	const char *s;
	size_t n, raw;
	bool lf;
};

static bool
next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->s = text + *pos;
	nl = memchr(l->s, '\n', len - *pos);
	l->lf = nl != NULL;
	l->n = l->lf ? (size_t)(nl - l->s) : len - *pos;
	l->raw = l->n + l->lf;
	*pos += l->raw;
	if (l->lf && l->n > 0 && l->s[l->n - 1] == '\r')
		l->n--;
	return true;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool
has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_ctl((unsigned char)s[i]))
			return true;
	return false;
}

/* ---- dovecot-uidlist ---- */

void
uidlist_free(struct uidlist *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->recs[i].name);
		free(u->recs[i].ext);
	}
	free(u->recs);
	free(u->hdr_extra);
	memset(u, 0, sizeof(*u));
}

static void
push_rec(struct uidlist *u, uint32_t uid, char *name, char *ext)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 16;
		u->recs = xreallocarray(u->recs, u->cap, sizeof(*u->recs));
	}
	u->recs[u->n].uid = uid;
	u->recs[u->n].name = name;
	u->recs[u->n].ext = ext;
	u->n++;
}

static bool
valid_name(const char *s, size_t n)
{
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

/* Fields of s[0..n): A-Z key, no spaces inside, one space apart. */
static bool
valid_ext(const char *s, size_t n)
{
	bool start = true;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\0' || c == '\r' || c == '\n')
			return false;
		if (c == ' ') {
			if (start)
				return false;
			start = true;
			continue;
		}
		if (start && (c < 'A' || c > 'Z'))
			return false;
		start = false;
	}
	return !start;
}

static bool
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "V.. N.. G.. other" after "3 ". */
static const char *
parse_v3_header(const char *s, size_t n, struct uidlist *u)
{
	char *extra = NULL;
	size_t elen = 0, i = 0;

	while (i < n) {
		size_t start, vlen;
		char key;

		if (s[i] == ' ') {
			i++;
			continue;
		}
		key = s[i];
		start = ++i;
		while (i < n && s[i] != ' ')
			i++;
		vlen = i - start;
		switch (key) {
		case 'V':
			if (parse_dec_u32(s + start, vlen, UINT32_MAX, &u->uidvalidity) < 0)
				goto bad;
			break;
		case 'N':
			if (parse_dec_u32(s + start, vlen, UINT32_MAX, &u->next_uid) < 0)
				goto bad;
			break;
		case 'G':
			if (vlen != GUID_HEX) {
				free(extra);
				return "invalid mailbox GUID";
			}
			for (size_t j = 0; j < vlen; j++)
				if (!is_hex(s[start + j])) {
					free(extra);
					return "invalid mailbox GUID";
				}
			memcpy(u->guid, s + start, GUID_HEX);
			u->guid[GUID_HEX] = '\0';
			break;
		default:
			/* Kept as Dovecot keeps them: "<key><value>", one space apart. */
			extra = xrealloc(extra, elen + vlen + 3);
			if (elen > 0)
				extra[elen++] = ' ';
			extra[elen++] = key;
			memcpy(extra + elen, s + start, vlen);
			elen += vlen;
			extra[elen] = '\0';
			break;
		}
	}
	u->hdr_extra = extra;
	return NULL;
bad:
	free(extra);
	return "broken header";
}

static const char *
parse_header(const struct line *l, struct uidlist *u)
{
	const char *s = l->s;
	size_t n = l->n, i;

	if (n < 2 || !is_digit(s[0]) || s[1] != ' ')
		return "invalid version number";
	u->version = (unsigned)(s[0] - '0');
	if (u->version == 3) {
		const char *e = parse_v3_header(s + 2, n - 2, u);
		if (e != NULL)
			return e;
	} else if (u->version == 1) {
		/* "1 <uidvalidity> <nextuid>"; Dovecot's sscanf ignores the rest. */
		size_t a, b;

		for (i = 2; i < n && s[i] == ' '; i++)
			;
		for (a = i; i < n && is_digit(s[i]); i++)
			;
		if (parse_dec_u32(s + a, i - a, UINT32_MAX, &u->uidvalidity) < 0)
			return "broken header";
		while (i < n && s[i] == ' ')
			i++;
		for (b = i; i < n && is_digit(s[i]); i++)
			;
		if (parse_dec_u32(s + b, i - b, UINT32_MAX, &u->next_uid) < 0)
			return "broken header";
	} else {
		return "unsupported version";
	}
	if (u->uidvalidity == 0 || u->next_uid == 0)
		return "broken header";
	return NULL;
}

/* One record line into u. */
static const char *
parse_rec(const struct line *l, struct uidlist *u)
{
	const char *s = l->s;
	size_t n = l->n, i = 0, name_len;
	char *ext = NULL;
	size_t elen = 0;
	uint32_t uid;

	while (i < n && is_digit(s[i]))
		i++;
	if (i == n || s[i] != ' ' || parse_dec_u32(s, i, UINT32_MAX - 1, &uid) < 0 || uid == 0)
		return "invalid UID";
	if (u->n > 0 && uid <= u->recs[u->n - 1].uid)
		return "UIDs not ascending";
	if (u->version == 1 && uid >= u->next_uid)
		return "UID at or above the header's next UID";
	while (i < n && s[i] == ' ')
		i++;
	if (u->version == 3) {
		while (i < n && s[i] != ':') {
			size_t start = i;

			while (i < n && s[i] != ' ')
				i++;
			/* Dovecot drops a field whose key is not A-Z. */
			if (s[start] >= 'A' && s[start] <= 'Z') {
				ext = xrealloc(ext, elen + (i - start) + 2);
				if (elen > 0)
					ext[elen++] = ' ';
				memcpy(ext + elen, s + start, i - start);
				elen += i - start;
				ext[elen] = '\0';
			}
			while (i < n && s[i] == ' ')
				i++;
		}
		if (i == n) {
			free(ext);
			return "missing ':' before the file name";
		}
		i++;
	}
	if (memchr(s + i, '/', n - i) != NULL) {
		free(ext);
		return "file name with '/'";
	}
	name_len = n - i;
	{
		const char *colon = memchr(s + i, ':', name_len);
		if (colon != NULL)
			name_len = (size_t)(colon - (s + i));
	}
	if (name_len == 0) {
		free(ext);
		return "empty file name";
	}
	if (name_len > NAME_MAX_LEN) {
		free(ext);
		return "file name longer than 255 bytes";
	}
	push_rec(u, uid, xstrndup(s + i, name_len), ext);
	if (uid >= u->next_uid)
		u->next_uid = uid + 1;
	return NULL;
}

static int
rec_name_cmp(const void *x, const void *y)
{
	const struct uidlist_rec *const *a = x, *const *b = y;
	int c = strcmp((*a)->name, (*b)->name);

	if (c != 0)
		return c;
	return (*a)->uid < (*b)->uid ? -1 : (*a)->uid > (*b)->uid;
}

/* Dovecot keeps the later record of a name listed twice. */
static void
drop_duplicates(struct uidlist *u)
{
	struct uidlist_rec **by_name;
	size_t i, o, ndup = 0;

	if (u->n < 2)
		return;
	by_name = xreallocarray(NULL, u->n, sizeof(*by_name));
	for (i = 0; i < u->n; i++)
		by_name[i] = &u->recs[i];
	qsort(by_name, u->n, sizeof(*by_name), rec_name_cmp);
	for (i = 0; i + 1 < u->n; i++) {
		if (strcmp(by_name[i]->name, by_name[i + 1]->name) != 0)
			continue;
		free(by_name[i]->name);
		free(by_name[i]->ext);
		by_name[i]->name = NULL;
		ndup++;
	}
	free(by_name);
	if (ndup == 0)
		return;
	for (i = o = 0; i < u->n; i++)
		if (u->recs[i].name != NULL)
			u->recs[o++] = u->recs[i];
	u->n = o;
}

int
uidlist_parse(const char *text, size_t len, size_t max_recs, struct uidlist *out,
    const char **error_r, unsigned *line_r)
{
	const char *err = NULL, *nul;
	size_t pos = 0;
	unsigned no = 0;
	struct line l;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		len = 0;
	if (len > 0 && (nul = memchr(text, '\0', len)) != NULL) {
		/* Reported on the NUL's line. */
		for (const char *p = text; p < nul; p++)
			no += *p == '\n';
		no++;
		err = "NUL byte";
		goto fail;
	}
	while (next_line(text, len, &pos, &l)) {
		no++;
		if (!l.lf) {
			/* An append in progress; a header must be complete. */
			if (no == 1)
				err = "no complete header line";
			break;
		}
		if (l.raw > UIDLIST_BUF) {
			if (no == 1) {
				err = "header line too long";
				break;
			}
			out->truncated = true;
			break;
		}
		if (memchr(l.s, '\r', l.n) != NULL) {
			err = "CR inside a line";
			break;
		}
		if (no == 1) {
			err = parse_header(&l, out);
		} else {
			if (out->n == max_recs) {
				err = "too many records";
				break;
			}
			err = parse_rec(&l, out);
		}
		if (err != NULL)
			break;
	}
	if (err == NULL && no == 0) {
		err = "empty file";
		no = 1;
	}
	if (err != NULL)
		goto fail;
	drop_duplicates(out);
	return 0;
fail:
	uidlist_free(out);
	if (error_r != NULL)
		*error_r = err;
	if (line_r != NULL)
		*line_r = no;
	return -1;
}

/* Growing output buffer. */
struct obuf {
	char *s;
	size_t n, cap;
};

static void
ob_add(struct obuf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n + 1) {
		while (b->cap - b->n < n + 1)
			b->cap = b->cap ? b->cap * 2 : 256;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void
ob_str(struct obuf *b, const char *s)
{
	ob_add(b, s, strlen(s));
}

static void
ob_c(struct obuf *b, char c)
{
	ob_add(b, &c, 1);
}

static void
ob_u32(struct obuf *b, uint32_t v)
{
	char d[12];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	ob_add(b, d + i, sizeof(d) - i);
}

static char *
ob_finish(struct obuf *b, size_t *len_r)
{
	if (b->s == NULL)
		ob_add(b, "", 0);
	if (len_r != NULL)
		*len_r = b->n;
	return b->s;
}

char *
uidlist_format(const struct uidlist *u, size_t *len_r)
{
	struct obuf b = { 0 };

	ob_str(&b, "3 V");
	ob_u32(&b, u->uidvalidity);
	ob_str(&b, " N");
	ob_u32(&b, u->next_uid);
	if (u->guid[0] != '\0') {
		ob_str(&b, " G");
		ob_str(&b, u->guid);
	}
	if (u->hdr_extra != NULL && u->hdr_extra[0] != '\0') {
		ob_c(&b, ' ');
		ob_str(&b, u->hdr_extra);
	}
	ob_c(&b, '\n');
	for (size_t i = 0; i < u->n; i++) {
		const struct uidlist_rec *r = &u->recs[i];

		ob_u32(&b, r->uid);
		if (r->ext != NULL && r->ext[0] != '\0') {
			ob_c(&b, ' ');
			ob_str(&b, r->ext);
		}
		ob_str(&b, " :");
		ob_str(&b, r->name);
		ob_c(&b, '\n');
	}
	return ob_finish(&b, len_r);
}

int
uidlist_append(struct uidlist *u, uint32_t uid, const char *name, const char *ext)
{
	if (uid == 0 || uid == UINT32_MAX || name == NULL)
		return -1;
	if (u->n > 0 && uid <= u->recs[u->n - 1].uid)
		return -1;
	if (!valid_name(name, strlen(name)) || (ext != NULL && !valid_ext(ext, strlen(ext))))
		return -1;
	push_rec(u, uid, xstrdup(name), ext != NULL ? xstrdup(ext) : NULL);
	if (uid >= u->next_uid)
		u->next_uid = uid + 1;
	return 0;
}

const struct uidlist_rec *
uidlist_find(const struct uidlist *u, uint32_t uid)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u->recs[mid].uid == uid)
			return &u->recs[mid];
		if (u->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
uidlist_rec_ext(const struct uidlist_rec *r, char key, const char **value_r, size_t *len_r)
{
	const char *p = r->ext;

	while (p != NULL && *p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t n = sp != NULL ? (size_t)(sp - p) : strlen(p);

		if (*p == key) {
			*value_r = p + 1;
			*len_r = n - 1;
			return 0;
		}
		p = sp != NULL ? sp + 1 : NULL;
	}
	return -1;
}

/* ---- Maildir file names ---- */

static int
flag_bit(char c)
{
	switch (c) {
	case 'D':
		return MDF_DRAFT;
	case 'F':
		return MDF_FLAGGED;
	case 'P':
		return MDF_PASSED;
	case 'R':
		return MDF_REPLIED;
	case 'S':
		return MDF_SEEN;
	case 'T':
		return MDF_TRASHED;
	}
	return 0;
}

/* ",<key>=<digits>" within base[0..n): the first one only, as Dovecot. */
static int64_t
name_size(const char *base, size_t n, char key)
{
	for (size_t i = 0; i + 2 < n; i++) {
		int64_t v = 0;
		size_t j;

		if (base[i] != ',' || base[i + 1] != key || base[i + 2] != '=')
			continue;
		for (j = i + 3; j < n && is_digit(base[j]); j++) {
			int d = base[j] - '0';
			if (v > (INT64_MAX - d) / 10)
				return -1;
			v = v * 10 + d;
		}
		if (j == i + 3 || (j < n && base[j] != ','))
			return -1;
		return v;
	}
	return -1;
}

void
md_name_parse(const char *name, struct md_name *out)
{
	size_t len = strlen(name);
	const char *first = strchr(name, ':'), *last = strrchr(name, ':');

	memset(out, 0, sizeof(*out));
	out->base_len = first != NULL ? (size_t)(first - name) : len;
	out->info_off = last != NULL ? (size_t)(last - name) : len;
	out->size = name_size(name, out->base_len, 'S');
	out->vsize = name_size(name, out->base_len, 'W');
	if (last == NULL || last[1] != '2' || last[2] != ',')
		return;
	out->has_info = true;
	for (const char *p = last + 3; *p != '\0' && *p != ','; p++) {
		if (*p >= 'a' && *p <= 'z')
			out->keywords |= 1u << (*p - 'a');
		else
			out->flags |= (unsigned)flag_bit(*p);
	}
}

int
md_name_format(const char *name, size_t len, unsigned flags, uint32_t keywords, char *out,
    size_t outsz)
{
	const char *info = NULL, *old = NULL, *rest = NULL;
	size_t base, o, oldn = 0, restn = 0;
	char set[128];

	if (len == 0 || name[0] == ':' || memchr(name, '\0', len) != NULL ||
	    memchr(name, '/', len) != NULL)
		return -1;
	/* Dovecot replaces the info from the last ':'. */
	for (size_t i = len; i > 0; i--)
		if (name[i - 1] == ':') {
			info = name + i - 1;
			break;
		}
	base = info != NULL ? (size_t)(info - name) : len;
	if (info != NULL && len - base >= 3 && info[1] == '2' && info[2] == ',') {
		old = info + 3;
		oldn = len - base - 3;
		if ((rest = memchr(old, ',', oldn)) != NULL) {
			restn = (size_t)(name + len - rest);
			oldn = (size_t)(rest - old);
		}
	}
	/* The new set plus the old flags we do not know, in ASCII order. */
	memset(set, 0, sizeof(set));
	for (size_t i = 0; i < oldn; i++) {
		unsigned char c = (unsigned char)old[i];
		if (c < 128 && flag_bit((char)c) == 0 && !(c >= 'a' && c <= 'z'))
			set[c] = 1;
	}
	for (const char *f = "DFPRST"; *f != '\0'; f++)
		if (flags & (unsigned)flag_bit(*f))
			set[(unsigned char)*f] = 1;
	for (int i = 0; i < NKW; i++)
		if (keywords & (1u << i))
			set['a' + i] = 1;
	if (base + 3 >= outsz)
		return -1;
	memcpy(out, name, base);
	memcpy(out + base, ":2,", 3);
	o = base + 3;
#define PUT(c)	do { if (o + 1 >= outsz) return -1; out[o++] = (c); } while (0)
	for (int c = 1; c < 128; c++)
		if (set[c])
			PUT((char)c);
	for (size_t i = 0; i < oldn; i++)
		if ((unsigned char)old[i] >= 128)
			PUT(old[i]);
	for (size_t i = 0; i < restn; i++)
		PUT(rest[i]);
#undef PUT
	out[o] = '\0';
	return o > INT_MAX ? -1 : (int)o;
}

/* ---- dovecot-keywords ---- */

void
md_keywords_free(struct md_keywords *k)
{
	if (k == NULL)
		return;
	for (int i = 0; i < NKW; i++)
		free(k->names[i]);
	memset(k, 0, sizeof(*k));
}

static void
kw_set(struct md_keywords *k, int idx, const char *name, size_t n)
{
	free(k->names[idx]);
	k->names[idx] = xstrndup(name, n);
	k->seq[idx] = ++k->next_seq;
}

int
md_keywords_parse(const char *text, size_t len, struct md_keywords *out)
{
	size_t pos = 0;
	struct line l;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return 0;
	if (memchr(text, '\0', len) != NULL)
		return -1;
	while (next_line(text, len, &pos, &l)) {
		const char *sp;
		uint32_t idx;

		/* Dovecot ignores an unterminated last line and stops at a
		 * line that does not fit its buffer. */
		if (!l.lf || l.raw > KEYWORDS_BUF)
			break;
		sp = memchr(l.s, ' ', l.n);
		if (sp == NULL)
			continue;
		if (parse_dec_u32(l.s, (size_t)(sp - l.s), UINT32_MAX, &idx) < 0 || idx >= NKW)
			continue;
		sp++;
		if (sp == l.s + l.n || has_ctl(sp, (size_t)(l.s + l.n - sp)))
			continue;
		kw_set(out, (int)idx, sp, (size_t)(l.s + l.n - sp));
	}
	return 0;
}

char *
md_keywords_format(const struct md_keywords *k, size_t *len_r)
{
	struct obuf b = { 0 };

	for (int i = 0; i < NKW; i++) {
		if (k->names[i] == NULL)
			continue;
		ob_u32(&b, (uint32_t)i);
		ob_c(&b, ' ');
		ob_str(&b, k->names[i]);
		ob_c(&b, '\n');
	}
	return ob_finish(&b, len_r);
}

int
md_keywords_find(const struct md_keywords *k, const char *name)
{
	int best = -1;

	for (int i = 0; i < NKW; i++) {
		if (k->names[i] == NULL || strcasecmp(k->names[i], name) != 0)
			continue;
		if (best < 0 || k->seq[i] > k->seq[best])
			best = i;
	}
	return best;
}

int
md_keywords_add(struct md_keywords *k, const char *name)
{
	size_t n = strlen(name);
	int i = md_keywords_find(k, name);

	if (i >= 0)
		return i;
	if (n == 0 || has_ctl(name, n))
		return -1;
	for (i = 0; i < NKW; i++)
		if (k->names[i] == NULL) {
			kw_set(k, i, name, n);
			return i;
		}
	return -1;
}

/* ---- subscriptions ---- */

void
md_subs_free(struct md_subs *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

/* Not empty, no empty level, no control characters. */
static bool
subs_valid(const char *name, size_t n, char sep)
{
	if (n == 0 || name[0] == sep || name[n - 1] == sep)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_ctl((unsigned char)name[i]))
			return false;
		if (name[i] == sep && name[i + 1] == sep)
			return false;
	}
	return true;
}

static bool
subs_has(const struct md_subs *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

static void
subs_push(struct md_subs *s, char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->names = xreallocarray(s->names, s->cap, sizeof(*s->names));
	}
	s->names[s->n++] = name;
}

/* Append the tab-unescaped src[0..n) to dst; false when a level would hold
 * sep (it could not be told from a separator). */
static bool
tab_unescape(char *dst, size_t *o, const char *src, size_t n, char sep)
{
	for (size_t i = 0; i < n; i++) {
		char c = src[i];

		if (c == '\001') {
			if (++i == n)
				break;
			switch (src[i]) {
			case '0':
				c = '\0';
				break;
			case '1':
				c = '\001';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			default:
				c = src[i];
				break;
			}
		}
		if (c == sep)
			return false;
		dst[(*o)++] = c;
	}
	return true;
}

/* One line into a name with sep between levels; NULL when unusable. */
static char *
subs_name(const char *s, size_t n, bool v2, char sep)
{
	char *name = xmalloc(n + 1);
	size_t o = 0;
	bool ok = true;

	if (v2) {
		size_t start = 0;
		for (size_t i = 0; i <= n && ok; i++) {
			if (i < n && s[i] != '\t')
				continue;
			if (start > 0)
				name[o++] = sep;
			ok = tab_unescape(name, &o, s + start, i - start, sep);
			start = i + 1;
		}
	} else {
		/* Maildir++ names, '.' between levels. */
		for (size_t i = 0; i < n && ok; i++) {
			if (s[i] == '.')
				name[o++] = sep;
			else if (s[i] == sep)
				ok = false;
			else
				name[o++] = s[i];
		}
	}
	/* Dovecot drops one trailing separator (older writers added it). */
	if (ok && o > 0 && name[o - 1] == sep)
		o--;
	name[o] = '\0';
	if (!ok || memchr(name, '\0', o) != NULL || !subs_valid(name, o, sep)) {
		free(name);
		return NULL;
	}
	if (str_ieq(name, "INBOX"))
		memcpy(name, "INBOX", 5);
	return name;
}

int
md_subs_parse(const char *text, size_t len, size_t max, char sep, struct md_subs *out,
    const char **error_r)
{
	const char *err = NULL;
	size_t pos = 0;
	bool v2 = false;
	struct line l;

	memset(out, 0, sizeof(*out));
	out->sep = sep;
	if (text == NULL)
		len = 0;
	if (len > 0 && memchr(text, '\0', len) != NULL) {
		err = "NUL byte";
		goto fail;
	}
	if (len >= sizeof(subs_v2_header) - 1 &&
	    memcmp(text, subs_v2_header, sizeof(subs_v2_header) - 1) == 0) {
		v2 = true;
		pos = sizeof(subs_v2_header) - 1;
	}
	while (next_line(text, len, &pos, &l)) {
		char *name;

		/* The CR counts: Dovecot's buffer holds the raw line. */
		if (l.raw - l.lf > SUBS_LINE_MAX) {
			err = "line too long";
			goto fail;
		}
		if ((name = subs_name(l.s, l.n, v2, sep)) == NULL)
			continue;
		if (subs_has(out, name)) {
			free(name);
			continue;
		}
		if (out->n == max) {
			free(name);
			err = "too many subscriptions";
			goto fail;
		}
		subs_push(out, name);
	}
	return 0;
fail:
	md_subs_free(out);
	if (error_r != NULL)
		*error_r = err;
	return -1;
}

char *
md_subs_format(const struct md_subs *s, size_t *len_r)
{
	struct obuf b = { 0 };

	ob_str(&b, subs_v2_header);
	for (size_t i = 0; i < s->n; i++) {
		for (const char *p = s->names[i]; *p != '\0'; p++) {
			switch (*p) {
			case '\001':
				ob_str(&b, "\0011");
				break;
			case '\t':
				ob_str(&b, "\001t");
				break;
			case '\r':
				ob_str(&b, "\001r");
				break;
			case '\n':
				ob_str(&b, "\001n");
				break;
			default:
				ob_c(&b, *p == s->sep ? '\t' : *p);
				break;
			}
		}
		ob_c(&b, '\n');
	}
	return ob_finish(&b, len_r);
}

int
md_subs_add(struct md_subs *s, const char *name)
{
	size_t n = strlen(name);

	if (str_ieq(name, "INBOX"))
		name = "INBOX";
	if (!subs_valid(name, n, s->sep))
		return -1;
	if (!subs_has(s, name))
		subs_push(s, xstrdup(name));
	return 0;
}

int
md_subs_remove(struct md_subs *s, const char *name)
{
	if (str_ieq(name, "INBOX"))
		name = "INBOX";
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->names[i], name) != 0)
			continue;
		free(s->names[i]);
		memmove(&s->names[i], &s->names[i + 1], (s->n - i - 1) * sizeof(*s->names));
		s->n--;
		return 0;
	}
	return -1;
}
