/* FETCH and STORE (RFC 9051 6.4.5-6.4.6, BINARY RFC 3516, CONDSTORE and
 * QRESYNC RFC 7162). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap_session.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"


enum fitem {
	FI_UID, FI_FLAGS, FI_INTERNALDATE, FI_SIZE, FI_ENVELOPE, FI_BODY, FI_BODYSTRUCTURE,
	FI_MODSEQ, FI_SECTION, FI_BINARY, FI_BINARY_SIZE,
};

enum stext { ST_ALL, ST_HEADER, ST_FIELDS, ST_FIELDS_NOT, ST_TEXT, ST_MIME, ST_PART };

struct fetch_item {
	enum fitem kind;
	/* sections */
	char *label;		/* how the response names it: "BODY[1.HEADER]<0>" */
	char part[64];		/* "1.2" or "" */
	enum stext text;
	char **fields;
	size_t nfields;
	bool peek;
	bool partial;
	uint64_t off, len;
};

struct fetch {
	struct fetch_item *it;
	size_t n;
	bool need_data, need_mime, sets_seen;
	/* The file is needed only for ENVELOPE and BODYSTRUCTURE, which the
	 * index may hold: it is read when one of them is missing. */
	bool cacheable, want_env, want_bs;
	uint64_t changedsince;
	bool has_changedsince, vanished;
};

static void
fetch_free(struct fetch *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->it[i].label);
		for (size_t k = 0; k < f->it[i].nfields; k++)
			free(f->it[i].fields[k]);
		free(f->it[i].fields);
	}
	free(f->it);
}

static struct fetch_item *
add_item(struct fetch *f, enum fitem k)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->it[i].kind == k && k < FI_SECTION)
			return &f->it[i];
	f->it = xreallocarray(f->it, f->n + 1, sizeof(*f->it));
	struct fetch_item *x = &f->it[f->n++];
	memset(x, 0, sizeof(*x));
	x->kind = k;
	return x;
}

/* "BODY[...]<...>", "BODY.PEEK[...]", "BINARY[...]", "BINARY.PEEK[...]",
 * "BINARY.SIZE[...]". 0 or -1. */
static int
parse_section(struct fetch *f, const char *s)
{
	const char *lb = strchr(s, '[');
	const char *rb = strrchr(s, ']');
	if (lb == NULL || rb == NULL || rb < lb)
		return -1;
	size_t pl = (size_t)(lb - s);
	enum fitem kind;
	bool peek = false;
	if (pl == 4 && strncasecmp(s, "BODY", 4) == 0)
		kind = FI_SECTION;
	else if (pl == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0) {
		kind = FI_SECTION;
		peek = true;
	} else if (pl == 6 && strncasecmp(s, "BINARY", 6) == 0)
		kind = FI_BINARY;
	else if (pl == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0) {
		kind = FI_BINARY;
		peek = true;
	} else if (pl == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0) {
		kind = FI_BINARY_SIZE;
		peek = true;
	} else
		return -1;
	struct fetch_item *x = add_item(f, kind);
	x->peek = peek;
	/* section spec */
	char spec[1024];
	size_t sl = (size_t)(rb - lb - 1);
	if (sl >= sizeof(spec))
		return -1;
	memcpy(spec, lb + 1, sl);
	spec[sl] = '\0';
	char *p = spec;
	size_t o = 0;
	while (*p >= '0' && *p <= '9') {
		if (*p == '0')
			return -1;
		while (*p >= '0' && *p <= '9' && o < sizeof(x->part) - 2)
			x->part[o++] = *p++;
		x->part[o] = '\0';
		if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
			x->part[o++] = *p++;
			continue;
		}
		if (*p == '.')
			p++;
		break;
	}
	if (*p == '\0')
		x->text = o ? ST_PART : ST_ALL;
	else if (kind != FI_SECTION)
		return -1;	/* BINARY takes part numbers only */
	else if (strcasecmp(p, "HEADER") == 0)
		x->text = ST_HEADER;
	else if (strcasecmp(p, "TEXT") == 0)
		x->text = ST_TEXT;
	else if (strcasecmp(p, "MIME") == 0 && o > 0)
		x->text = ST_MIME;
	else if (strncasecmp(p, "HEADER.FIELDS", 13) == 0) {
		char *q = p + 13;
		x->text = ST_FIELDS;
		if (strncasecmp(q, ".NOT", 4) == 0) {
			x->text = ST_FIELDS_NOT;
			q += 4;
		}
		if (q[0] != ' ' || q[1] != '(')
			return -1;
		q += 2;
		char *end = strchr(q, ')');
		if (end == NULL || end[1] != '\0')
			return -1;
		*end = '\0';
		for (char *t = strtok(q, " "); t; t = strtok(NULL, " ")) {
			if (t[0] == '"') {
				size_t tl = strlen(t);
				if (tl < 2 || t[tl - 1] != '"')
					return -1;
				t[tl - 1] = '\0';
				t++;
			}
			if (*t == '\0' || x->nfields >= 1000)
				return -1;
			x->fields = xreallocarray(x->fields, x->nfields + 1, sizeof(char *));
			x->fields[x->nfields++] = xstrdup(t);
		}
		if (x->nfields == 0)
			return -1;
	} else
		return -1;
	/* <offset.length> */
	const char *pt = rb + 1;
	if (*pt == '<') {
		char *e;
		x->partial = true;
		x->off = strtoull(pt + 1, &e, 10);
		if (*e != '.' || kind == FI_BINARY_SIZE)
			return -1;
		x->len = strtoull(e + 1, &e, 10);
		if (*e != '>' || e[1] != '\0' || x->len == 0)
			return -1;
	} else if (*pt != '\0')
		return -1;
	/* The response names the section as asked, without PEEK and with only
	 * the offset of a partial. */
	const char *name = kind == FI_SECTION ? "BODY" : kind == FI_BINARY ? "BINARY" : "BINARY.SIZE";
	size_t ll = (size_t)(rb - lb + 1);
	x->label = xasprintf("%s%.*s", name, (int)ll, lb);
	if (x->partial) {
		char *l2 = xasprintf("%s<%" PRIu64 ">", x->label, x->off);
		free(x->label);
		x->label = l2;
	}
	if (!peek)
		f->sets_seen = true;
	f->need_data = true;
	f->need_mime = true;
	return 0;
}

static int
parse_att(struct fetch *f, const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_SECTION)
		return parse_section(f, a->str);
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	const char *s = a->str;
	if (strcasecmp(s, "UID") == 0)
		add_item(f, FI_UID);
	else if (strcasecmp(s, "FLAGS") == 0)
		add_item(f, FI_FLAGS);
	else if (strcasecmp(s, "INTERNALDATE") == 0)
		add_item(f, FI_INTERNALDATE);
	else if (strcasecmp(s, "RFC822.SIZE") == 0)
		add_item(f, FI_SIZE);
	else if (strcasecmp(s, "ENVELOPE") == 0) {
		add_item(f, FI_ENVELOPE);
		f->need_data = true;
	} else if (strcasecmp(s, "BODY") == 0 || strcasecmp(s, "BODYSTRUCTURE") == 0) {
		add_item(f, strlen(s) == 4 ? FI_BODY : FI_BODYSTRUCTURE);
		f->need_data = f->need_mime = true;
	} else if (strcasecmp(s, "MODSEQ") == 0)
		add_item(f, FI_MODSEQ);
	else if (strcasecmp(s, "RFC822") == 0 || strcasecmp(s, "RFC822.HEADER") == 0 ||
	    strcasecmp(s, "RFC822.TEXT") == 0) {
		struct fetch_item *x = add_item(f, FI_SECTION);
		x->text = s[6] == '\0' ? ST_ALL : s[7] == 'H' || s[7] == 'h' ? ST_HEADER : ST_TEXT;
		x->label = xstrdup(s[6] == '\0' ? "RFC822" : x->text == ST_HEADER ? "RFC822.HEADER" :
		    "RFC822.TEXT");
		x->peek = x->text == ST_HEADER;
		if (!x->peek)
			f->sets_seen = true;
		f->need_data = true;
	} else
		return -1;
	return 0;
}

static int
parse_fetch(struct fetch *f, const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_ATOM) {
		const char *s = a->str;
		bool all = strcasecmp(s, "ALL") == 0, fast = strcasecmp(s, "FAST") == 0,
		     full = strcasecmp(s, "FULL") == 0;
		if (all || fast || full) {
			add_item(f, FI_FLAGS);
			add_item(f, FI_INTERNALDATE);
			add_item(f, FI_SIZE);
			if (!fast) {
				add_item(f, FI_ENVELOPE);
				f->need_data = true;
			}
			if (full) {
				add_item(f, FI_BODY);
				f->need_mime = true;
			}
			return 0;
		}
	}
	if (a->type == IMAP_ARG_LIST) {
		if (a->nlist == 0)
			return -1;
		for (size_t i = 0; i < a->nlist; i++)
			if (parse_att(f, &a->list[i]) != 0)
				return -1;
		return 0;
	}
	return parse_att(f, a);
}

/* ---- output helpers ---- */

void
imap_flags_str(const struct imap_session *s, size_t mi, size_t seq, char *buf, size_t sz)
{
	const struct mbx_msg *m = &s->mb->m[mi];
	static const struct { unsigned f; const char *n; } sys[] = {
		{ MF_ANSWERED, "\\Answered" }, { MF_FLAGGED, "\\Flagged" }, { MF_DELETED, "\\Deleted" },
		{ MF_SEEN, "\\Seen" }, { MF_DRAFT, "\\Draft" },
	};
	size_t o = 0;
	buf[o++] = '(';
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]) && o < sz; i++)
		if (m->flags & sys[i].f)
			o += (size_t)snprintf(buf + o, sz - o, "%s%s", o > 1 ? " " : "", sys[i].n);
	if (!s->rev2 && seq >= 1 && seq <= s->n && s->recent[seq - 1] && o < sz)
		o += (size_t)snprintf(buf + o, sz - o, "%s\\Recent", o > 1 ? " " : "");
	for (int k = 0; k < 26 && o < sz; k++)
		if ((m->kw & (1u << k)) && s->mb->kw[k] != NULL)
			o += (size_t)snprintf(buf + o, sz - o, "%s%s", o > 1 ? " " : "", s->mb->kw[k]);
	if (o + 2 > sz)
		o = sz - 2;
	buf[o++] = ')';
	buf[o] = '\0';
}

/* LF -> CRLF (lone LFs only). */
static char *
to_crlf(const char *p, size_t n, size_t *out_len)
{
	size_t lf = 0;
	for (size_t i = 0; i < n; i++)
		lf += p[i] == '\n' && (i == 0 || p[i - 1] != '\r');
	char *o = xmalloc(n + lf + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = p[i];
	}
	o[k] = '\0';
	*out_len = k;
	return o;
}

static void
out_literal(struct imap_session *s, const char *p, size_t n, bool binary)
{
	bool eight = false;
	if (binary)
		for (size_t i = 0; i < n && !eight; i++)
			eight = p[i] == '\0';
	imap_out(s, "%s{%zu}\r\n", eight ? "~" : "", n);
	imap_write(s, p, n);
}

/* Content-Transfer-Encoding decoders for BINARY (lenient, as clients
 * expect: bad characters skipped). */
static char *
decode_b64(const char *p, size_t n, size_t *out_len)
{
	char *o = xmalloc(n / 4 * 3 + 4);
	size_t k = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)p[i], v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (char)((acc >> bits) & 0xff);
		}
	}
	*out_len = k;
	return o;
}

static int
hexv(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	    c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *
decode_qp(const char *p, size_t n, size_t *out_len)
{
	char *o = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '=') {
			/* Line ends become CRLF, as a decoded text part has them. */
			if (p[i] == '\n' && (k == 0 || o[k - 1] != '\r')) {
				o = xrealloc(o, n + (k - i) + 2 + 1);
				o[k++] = '\r';
			}
			o[k++] = p[i];
			continue;
		}
		if (i + 1 < n && p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
			i += 2;
			continue;
		}
		int a = i + 2 < n ? hexv((unsigned char)p[i + 1]) : -1;
		int b = i + 2 < n ? hexv((unsigned char)p[i + 2]) : -1;
		if (a >= 0 && b >= 0) {
			o[k++] = (char)(a * 16 + b);
			i += 2;
		} else
			o[k++] = '=';
	}
	*out_len = k;
	return o;
}

/* The bytes of a section (stored form), or NULL when the part does not
 * exist. For BINARY, *cte_r receives the part's encoding. */
static const char *
section_bytes(const struct mime_msg *mm, const struct fetch_item *x, size_t *len_r,
    const struct mime_part **part_r)
{
	const char *d = mm->data;
	const struct mime_part *p = &mm->root;
	if (x->part[0]) {
		p = mime_section(mm, x->part);
		if (p == NULL)
			return NULL;
	}
	*part_r = p;
	switch (x->text) {
	case ST_ALL:
		*len_r = mm->len;
		return d;
	case ST_PART:
		*len_r = p->body_len;
		return d + p->body_off;
	case ST_MIME:
		*len_r = p->hdr_len;
		return d + p->hdr_off;
	case ST_HEADER:
	case ST_FIELDS:
	case ST_FIELDS_NOT:
	case ST_TEXT:
		if (x->part[0]) {
			/* part.HEADER / part.TEXT: of the enclosed message */
			if (p->message == NULL)
				return NULL;
			p = p->message;
		}
		if (x->text == ST_TEXT) {
			*len_r = p->body_len;
			return d + p->body_off;
		}
		*len_r = p->hdr_len;
		return d + p->hdr_off;
	}
	return NULL;
}

static void
internaldate(int64_t t, char *buf, size_t sz)
{
	struct tm tm;
	time_t tt = (time_t)t;
	localtime_r(&tt, &tm);
	long off = tm.tm_gmtoff / 60;
	char d[64];
	strftime(d, sizeof(d), "%d-%b-%Y %H:%M:%S", &tm);
	snprintf(buf, sz, "\"%s %c%02ld%02ld\"", d, off < 0 ? '-' : '+', labs(off) / 60,
	    labs(off) % 60);
}

/* One message's FETCH response. false when the message is gone. */
static bool
fetch_one(struct imap_session *s, struct fetch *f, size_t seq, long mi, bool uid)
{
	struct mailbox *mb = s->mb;
	const char *err;
	char *data = NULL;
	size_t len = 0;
	struct mime_msg mm;
	bool have_mime = false;
	size_t envlen = 0, bslen = 0;
	const char *env = mailbox_cached(mb, (size_t)mi, MBX_ENVELOPE, &envlen);
	const char *bs = mailbox_cached(mb, (size_t)mi, MBX_BODYSTRUCTURE, &bslen);
	bool read = f->need_data && !(f->cacheable && (!f->want_env || env != NULL) &&
	    (!f->want_bs || bs != NULL));
	if (read) {
		data = mailbox_read(mb, (size_t)mi, &len, &err);
		if (data == NULL)
			return false;
		mailbox_learn_vsize(mb, (size_t)mi, data, len);
	}
	if (read && f->need_mime) {
		mime_parse(data, len, NULL, &mm);
		have_mime = true;
	}
	bool set_seen = f->sets_seen && !s->readonly && !(mb->m[mi].flags & MF_SEEN);
	uint64_t before = mb->highestmodseq;
	if (set_seen && mailbox_set_flags(mb, (size_t)mi, mb->m[mi].flags | MF_SEEN, mb->m[mi].kw,
	    &err) == 0) {
		imap_own_change(s, before);
		imap_box_changed(s->srv, mb, s);
	} else
		set_seen = false;
	struct mbx_msg *m = &mb->m[mi];
	imap_out(s, "* %zu FETCH (", seq);
	bool first = true;
#define SP() do { if (!first) imap_write(s, " ", 1); first = false; } while (0)
	bool did_uid = false, did_flags = false, did_modseq = false;
	for (size_t i = 0; i < f->n; i++) {
		struct fetch_item *x = &f->it[i];
		switch (x->kind) {
		case FI_UID:
			SP();
			imap_out(s, "UID %u", m->uid);
			did_uid = true;
			break;
		case FI_FLAGS: {
			char fl[1024];
			imap_flags_str(s, (size_t)mi, seq, fl, sizeof(fl));
			SP();
			imap_out(s, "FLAGS %s", fl);
			did_flags = true;
			break;
		}
		case FI_INTERNALDATE: {
			char d[64];
			mailbox_stat(mb, (size_t)mi);
			internaldate(m->idate < 0 ? 0 : m->idate, d, sizeof(d));
			SP();
			imap_out(s, "INTERNALDATE %s", d);
			break;
		}
		case FI_SIZE:
			if (m->vsize < 0)
				mailbox_stat(mb, (size_t)mi);
			SP();
			imap_out(s, "RFC822.SIZE %" PRId64, m->vsize < 0 ? 0 : m->vsize);
			break;
		case FI_MODSEQ:
			SP();
			imap_out(s, "MODSEQ (%" PRIu64 ")", m->modseq);
			did_modseq = true;
			break;
		case FI_ENVELOPE: {
			if (env != NULL) {
				SP();
				imap_out(s, "ENVELOPE ");
				imap_write(s, env, envlen);
				break;
			}
			struct mime_buf b = { 0 };
			size_t hl = 0;
			/* the header block: up to the first empty line */
			for (size_t k = 0; k < len; k++)
				if (data[k] == '\n' && (k + 1 >= len || data[k + 1] == '\n' ||
				    (data[k + 1] == '\r' && k + 2 < len && data[k + 2] == '\n'))) {
					hl = k + 1;
					break;
				}
			if (hl == 0)
				hl = len;
			mime_envelope(data, hl, &b);
			SP();
			imap_out(s, "ENVELOPE ");
			imap_write(s, b.p, b.len);
			mailbox_cache(mb, (size_t)mi, MBX_ENVELOPE, b.p, b.len);
			mime_buf_free(&b);
			break;
		}
		case FI_BODY:
		case FI_BODYSTRUCTURE: {
			SP();
			imap_out(s, "%s ", x->kind == FI_BODY ? "BODY" : "BODYSTRUCTURE");
			if (x->kind == FI_BODYSTRUCTURE && bs != NULL) {
				imap_write(s, bs, bslen);
				break;
			}
			if (!have_mime) {
				mime_parse(data, len, NULL, &mm);
				have_mime = true;
			}
			struct mime_buf b = { 0 };
			mime_bodystructure(&mm, &mm.root, x->kind == FI_BODYSTRUCTURE, &b);
			imap_write(s, b.p, b.len);
			if (x->kind == FI_BODYSTRUCTURE)
				mailbox_cache(mb, (size_t)mi, MBX_BODYSTRUCTURE, b.p, b.len);
			mime_buf_free(&b);
			break;
		}
		case FI_SECTION:
		case FI_BINARY:
		case FI_BINARY_SIZE: {
			const struct mime_part *part = NULL;
			size_t sl = 0;
			const char *sp;
			if (!have_mime) {
				mime_parse(data, len, NULL, &mm);
				have_mime = true;
			}
			sp = section_bytes(&mm, x, &sl, &part);
			char *owned = NULL;
			size_t ol = 0;
			bool binary = x->kind != FI_SECTION;
			if (sp == NULL) {
				/* A part that does not exist is empty (as Dovecot answers). */
				SP();
				imap_out(s, "%s %s", x->label, x->kind == FI_BINARY_SIZE ? "0" : "\"\"");
				break;
			}
			if (x->text == ST_FIELDS || x->text == ST_FIELDS_NOT) {
				struct mime_buf b = { 0 };
				mime_header_fields(sp, sl, (const char *const *)x->fields, x->nfields,
				    x->text == ST_FIELDS_NOT, &b);
				owned = to_crlf(b.p ? b.p : "", b.len, &ol);
				mime_buf_free(&b);
			} else if (binary && part != NULL && x->text != ST_ALL &&
			    part->encoding != NULL && strcmp(part->encoding, "BASE64") == 0) {
				owned = decode_b64(sp, sl, &ol);
			} else if (binary && part != NULL && x->text != ST_ALL &&
			    part->encoding != NULL && strcmp(part->encoding, "QUOTED-PRINTABLE") == 0) {
				owned = decode_qp(sp, sl, &ol);
			} else if (binary && part != NULL && x->text != ST_ALL && part->encoding != NULL &&
			    strcmp(part->encoding, "7BIT") != 0 && strcmp(part->encoding, "8BIT") != 0 &&
			    strcmp(part->encoding, "BINARY") != 0) {
				/* RFC 3516 4.2: unknown encoding */
				SP();
				imap_out(s, "%s NIL", x->label);
				break;
			} else
				owned = to_crlf(sp, sl, &ol);
			const char *o = owned;
			if (x->kind == FI_BINARY_SIZE) {
				SP();
				imap_out(s, "%s %zu", x->label, ol);
				free(owned);
				break;
			}
			if (x->partial) {
				if (x->off >= ol)
					ol = 0;
				else {
					o += x->off;
					ol -= (size_t)x->off;
					if (ol > x->len)
						ol = (size_t)x->len;
				}
			}
			SP();
			imap_out(s, "%s ", x->label);
			out_literal(s, o, ol, binary);
			free(owned);
			break;
		}
		}
	}
	if (uid && !did_uid) {
		SP();
		imap_out(s, "UID %u", m->uid);
	}
	if (set_seen && !did_flags) {
		char fl[1024];
		imap_flags_str(s, (size_t)mi, seq, fl, sizeof(fl));
		SP();
		imap_out(s, "FLAGS %s", fl);
	}
	if (f->has_changedsince && !did_modseq) {
		SP();
		imap_out(s, "MODSEQ (%" PRIu64 ")", m->modseq);
	}
#undef SP
	imap_write(s, ")\r\n", 3);
	if (have_mime)
		mime_free(&mm);
	free(data);
	return true;
}

void
imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	struct fetch f = { 0 };
	struct seqset set;
	const char *err;
	if (cmd->nargs < 2 || cmd->nargs > 3 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (parse_fetch(&f, &cmd->args[1]) != 0) {
		fetch_free(&f);
		imap_tagged(s, cmd->tag, "BAD Invalid fetch attributes.");
		return;
	}
	if (cmd->nargs == 3) {
		const struct imap_arg *m = &cmd->args[2];
		if (m->type != IMAP_ARG_LIST) {
			fetch_free(&f);
			imap_tagged(s, cmd->tag, "BAD Invalid fetch modifiers.");
			return;
		}
		for (size_t i = 0; i < m->nlist; i++) {
			const char *k = m->list[i].type == IMAP_ARG_ATOM ? m->list[i].str : "";
			char *e;
			if (strcasecmp(k, "CHANGEDSINCE") == 0 && i + 1 < m->nlist &&
			    m->list[i + 1].type == IMAP_ARG_ATOM) {
				f.changedsince = strtoull(m->list[++i].str, &e, 10);
				if (*e != '\0') {
					fetch_free(&f);
					imap_tagged(s, cmd->tag, "BAD Invalid CHANGEDSINCE.");
					return;
				}
				f.has_changedsince = true;
				s->condstore = true;
			} else if (strcasecmp(k, "VANISHED") == 0 && uid && s->qresync)
				f.vanished = true;
			else {
				fetch_free(&f);
				imap_tagged(s, cmd->tag, "BAD Invalid fetch modifier.");
				return;
			}
		}
		if (f.vanished && !f.has_changedsince) {
			fetch_free(&f);
			imap_tagged(s, cmd->tag, "BAD VANISHED needs CHANGEDSINCE.");
			return;
		}
	}
	for (size_t i = 0; i < f.n; i++)
		if (f.it[i].kind == FI_MODSEQ)
			s->condstore = true;
	f.cacheable = f.need_data && !f.sets_seen;
	for (size_t i = 0; i < f.n; i++) {
		enum fitem k = f.it[i].kind;
		f.want_env |= k == FI_ENVELOPE;
		f.want_bs |= k == FI_BODYSTRUCTURE;
		if (k == FI_BODY || k >= FI_SECTION)
			f.cacheable = false;
	}
	if (imap_set_parse(s, cmd->args[0].str, uid, &set, &err) != 0) {
		fetch_free(&f);
		imap_tagged(s, cmd->tag, "BAD %s", err);
		return;
	}
	if (f.vanished) {
		/* UIDs of the set that no longer exist (RFC 7162 3.2.6). */
		struct seqset raw;
		if (seqset_parse(cmd->args[0].str, s->mb->uidnext, SEQSET_UID, &s->saved, 100000, &raw,
		    &err) == 0) {
			imap_vanished_earlier(s, &raw);
			seqset_free(&raw);
		}
	}
	bool gone = false;
	for (size_t r = 0; r < set.n; r++)
		for (uint64_t seq = set.r[r].lo; seq <= set.r[r].hi; seq++) {
			long mi = imap_msg_index(s, (size_t)seq);
			if (mi < 0) {
				gone = true;
				continue;
			}
			if (f.has_changedsince && s->mb->m[mi].modseq <= f.changedsince)
				continue;
			if (!fetch_one(s, &f, (size_t)seq, mi, uid))
				gone = true;
		}
	seqset_free(&set);
	fetch_free(&f);
	if (gone && !uid)
		imap_tagged(s, cmd->tag, "NO [EXPUNGEISSUED] Some messages were expunged.");
	else
		imap_tagged(s, cmd->tag, "OK Fetch completed.");
}

void
imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	size_t ai = 1;
	uint64_t unchanged = UINT64_MAX;
	const char *err;
	if (cmd->nargs < 3 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (cmd->args[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *m = &cmd->args[1];
		char *e;
		if (m->nlist != 2 || m->list[0].type != IMAP_ARG_ATOM ||
		    strcasecmp(m->list[0].str, "UNCHANGEDSINCE") != 0 ||
		    m->list[1].type != IMAP_ARG_ATOM ||
		    (unchanged = strtoull(m->list[1].str, &e, 10), *e != '\0')) {
			imap_tagged(s, cmd->tag, "BAD Invalid store modifier.");
			return;
		}
		s->condstore = true;
		ai = 2;
	}
	if (cmd->nargs < ai + 2 || cmd->args[ai].type != IMAP_ARG_ATOM) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	const char *op = cmd->args[ai].str;
	int mode = op[0] == '+' ? 1 : op[0] == '-' ? -1 : 0;
	const char *what = mode ? op + 1 : op;
	bool silent = false;
	if (strcasecmp(what, "FLAGS.SILENT") == 0)
		silent = true;
	else if (strcasecmp(what, "FLAGS") != 0) {
		imap_tagged(s, cmd->tag, "BAD Invalid store item.");
		return;
	}
	/* Flags: one list, or flags as separate arguments. */
	struct imap_arg tmp = { .type = IMAP_ARG_LIST, .list = (struct imap_arg *)&cmd->args[ai + 1],
		.nlist = cmd->nargs - ai - 1 };
	const struct imap_arg *fl = cmd->args[ai + 1].type == IMAP_ARG_LIST &&
	    cmd->nargs == ai + 2 ? &cmd->args[ai + 1] : &tmp;
	unsigned flags;
	const char **kw;
	size_t nkw;
	if (imap_parse_flags(fl, &flags, &kw, &nkw) != 0) {
		imap_tagged(s, cmd->tag, "BAD Invalid flags.");
		return;
	}
	struct seqset set;
	if (imap_set_parse(s, cmd->args[0].str, uid, &set, &err) != 0) {
		free(kw);
		imap_tagged(s, cmd->tag, "BAD %s", err);
		return;
	}
	if (s->readonly) {
		free(kw);
		seqset_free(&set);
		imap_tagged(s, cmd->tag, "NO [READ-ONLY] Mailbox is read-only.");
		return;
	}
	struct mailbox *mb = s->mb;
	uint32_t kwbits = 0;
	for (size_t i = 0; i < nkw; i++) {
		int k = mailbox_keyword(mb, kw[i], mode >= 0);
		if (k >= 0)
			kwbits |= 1u << k;
	}
	free(kw);
	/* Another session may have changed flags since we last synced. */
	const char *serr;
	if (mailbox_sync(mb, false, &serr) > 0)
		imap_box_changed(s->srv, mb, s);
	uint32_t *modified = NULL;
	size_t nmod = 0;
	bool gone = false, changed = false;
	uint64_t before = mb->highestmodseq;
	for (size_t r = 0; r < set.n; r++)
		for (uint64_t seq = set.r[r].lo; seq <= set.r[r].hi; seq++) {
			long mi = imap_msg_index(s, (size_t)seq);
			if (mi < 0) {
				gone = true;
				continue;
			}
			struct mbx_msg *m = &mb->m[mi];
			if (m->modseq > unchanged) {
				modified = xreallocarray(modified, nmod + 1, sizeof(*modified));
				modified[nmod++] = uid ? m->uid : (uint32_t)seq;
				continue;
			}
			unsigned nf = mode > 0 ? m->flags | flags : mode < 0 ? m->flags & ~flags : flags;
			uint32_t nk = mode > 0 ? m->kw | kwbits : mode < 0 ? m->kw & ~kwbits : kwbits;
			int rc = mailbox_set_flags(mb, (size_t)mi, nf, nk, &err);
			if (rc == 1) {
				gone = true;
				continue;
			}
			if (rc < 0)
				log_warn("sid=%s STORE: %s", s->sid, err);
			changed = true;
			/* RFC 7162 3.2: with UNCHANGEDSINCE the new MODSEQ is reported
			 * even for .SILENT. */
			if (silent && unchanged == UINT64_MAX)
				continue;
			char f[1024];
			imap_flags_str(s, (size_t)mi, (size_t)seq, f, sizeof(f));
			imap_out(s, "* %" PRIu64 " FETCH (", seq);
			if (uid)
				imap_out(s, "UID %u ", m->uid);
			if (silent)
				imap_out(s, "MODSEQ (%" PRIu64 "))\r\n", m->modseq);
			else if (s->condstore)
				imap_out(s, "FLAGS %s MODSEQ (%" PRIu64 "))\r\n", f, m->modseq);
			else
				imap_out(s, "FLAGS %s)\r\n", f);
		}
	seqset_free(&set);
	if (changed) {
		/* .SILENT: the client knows what it asked for. */
		imap_own_change(s, before);
		imap_box_changed(s->srv, mb, s);
	}
	if (nmod > 0) {
		char *t = seqset_list_str(modified, nmod);
		imap_tagged(s, cmd->tag, "OK [MODIFIED %s] Conditional store failed.", t);
		free(t);
	} else if (gone)
		imap_tagged(s, cmd->tag, "NO [EXPUNGEISSUED] Some messages were expunged.");
	else
		imap_tagged(s, cmd->tag, "OK Store completed.");
	free(modified);
}
