/* mboxfile: mbox boundaries, metadata headers, client view, rewrite and
 * append text (pure, linear in the input). */
#include "store/mboxfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/mime.h"
#include "store/mflags.h"

#define MAX_DATE	253402300799LL	/* 9999-12-31 23:59:59 UTC */

enum hdr_kind {
	H_OTHER,
	H_CONTENT_LENGTH,	/* hidden from clients, kept by rewrites */
	H_STATUS,		/* the others: ours, replaced by rewrites */
	H_X_STATUS,
	H_X_KEYWORDS,
	H_X_UID,
	H_X_IMAPBASE,
	H_X_IMAP,
};

static const struct {
	const char *name;
	size_t len;
	enum hdr_kind kind;
} hdr_names[] = {
	{ "content-length", 14, H_CONTENT_LENGTH },
	{ "status", 6, H_STATUS },
	{ "x-status", 8, H_X_STATUS },
	{ "x-keywords", 10, H_X_KEYWORDS },
	{ "x-uid", 5, H_X_UID },
	{ "x-imapbase", 10, H_X_IMAPBASE },
	{ "x-imap", 6, H_X_IMAP },
};

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* s[0..n) equals the lower-case name, ASCII case-insensitively. */
static bool
mem_ieq(const char *s, size_t n, const char *name, size_t len)
{
	if (n != len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != name[i])
			return false;
	return true;
}

static bool
is_from(const char *s, size_t n)
{
	return n >= 5 && memcmp(s, "From ", 5) == 0;
}

/* End of the line starting at pos: past its LF, or limit. */
static size_t
line_end(const char *buf, size_t pos, size_t limit)
{
	const char *nl = memchr(buf + pos, '\n', limit - pos);

	return nl != NULL ? (size_t)(nl - buf) + 1 : limit;
}

/* "\n", "\r\n", or a lone "\r" (a CRLF file cut after its CR; only at
 * the end of the text, where an LF may later be added). */
static bool
is_empty_line(const char *buf, size_t q, size_t e)
{
	return (e - q == 1 && (buf[q] == '\n' || buf[q] == '\r')) ||
	    (e - q == 2 && buf[q] == '\r' && buf[q + 1] == '\n');
}

/* ---- header fields ---- */

/* One header field: its first line and continuation lines. */
struct field {
	size_t start, end;	/* end is past the last LF (or the limit) */
	enum hdr_kind kind;
	size_t val_off, val_len;	/* value without the whitespace around it */
};

static enum hdr_kind
field_kind(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(hdr_names) / sizeof(hdr_names[0]); i++)
		if (mem_ieq(s, n, hdr_names[i].name, hdr_names[i].len))
			return hdr_names[i].kind;
	return H_OTHER;
}

/* The field at buf[q..limit), limit ending a line or the text and no empty
 * line before it. A line that is not "name:" (a stray continuation line, or
 * text) comes out as an H_OTHER field. */
static void
next_field(const char *buf, size_t q, size_t limit, struct field *f)
{
	size_t e = line_end(buf, q, limit), name_end;
	const char *colon;

	f->start = q;
	f->kind = H_OTHER;
	colon = memchr(buf + q, ':', e - q);
	/* Continuation lines; a stray one at q stays alone. */
	while (e < limit && is_ws(buf[e]))
		e = line_end(buf, e, limit);
	f->end = e;
	f->val_off = f->val_len = 0;
	if (colon == NULL || is_ws(buf[q]))
		return;
	name_end = (size_t)(colon - buf);
	/* RFC 5322 obs-syntax allows blanks before the colon. */
	while (name_end > q && is_ws(buf[name_end - 1]))
		name_end--;
	f->kind = field_kind(buf + q, name_end - q);
	f->val_off = (size_t)(colon - buf) + 1;
	while (f->val_off < e && is_lws(buf[f->val_off]))
		f->val_off++;
	f->val_len = e - f->val_off;
	while (f->val_len > 0 && is_lws(buf[f->val_off + f->val_len - 1]))
		f->val_len--;
}

/* ---- From_ line dates ---- */

struct cur {
	const char *s;
	size_t n, i;
};

/* At least one blank, skipped. */
static bool
cur_ws(struct cur *c)
{
	if (c->i >= c->n || !is_ws(c->s[c->i]))
		return false;
	while (c->i < c->n && is_ws(c->s[c->i]))
		c->i++;
	return true;
}

static bool
cur_at_end_or_ws(const struct cur *c)
{
	return c->i >= c->n || is_ws(c->s[c->i]);
}

/* minw..maxw digits, not followed by another digit. */
static bool
cur_num(struct cur *c, size_t minw, size_t maxw, int *v_r)
{
	size_t k = 0;
	int v = 0;

	while (c->i + k < c->n && is_digit(c->s[c->i + k])) {
		if (++k > maxw)
			return false;
		v = v * 10 + (c->s[c->i + k - 1] - '0');
	}
	if (k < minw)
		return false;
	c->i += k;
	*v_r = v;
	return true;
}

/* Three letters, one of names (lower case), not followed by a letter. */
static bool
cur_name3(struct cur *c, const char *const *names, int count, int *idx_r)
{
	if (c->n - c->i < 3 || (c->n - c->i > 3 && is_alpha(c->s[c->i + 3])))
		return false;
	for (int k = 0; k < count; k++)
		if (mem_ieq(c->s + c->i, 3, names[k], 3)) {
			c->i += 3;
			*idx_r = k;
			return true;
		}
	return false;
}

static const char *const wdays[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
static const char *const months[12] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
	"aug", "sep", "oct", "nov", "dec" };

/* "hh:mm[:ss]" */
static bool
cur_time(struct cur *c, int *h, int *mi, int *sec)
{
	if (!cur_num(c, 1, 2, h) || c->i >= c->n || c->s[c->i] != ':')
		return false;
	c->i++;
	if (!cur_num(c, 2, 2, mi))
		return false;
	*sec = 0;
	if (c->i < c->n && c->s[c->i] == ':') {
		c->i++;
		if (!cur_num(c, 2, 2, sec))
			return false;
	}
	return *h <= 23 && *mi <= 59 && *sec <= 60 && cur_at_end_or_ws(c);
}

/* A zone token: "+hhmm"/"-hhmm" (*known, *off_r seconds east) or letters
 * (UT, UTC, GMT and Z known as +0000; other names are not trusted, as in
 * Dovecot). false when the token is neither. */
static bool
cur_zone(struct cur *c, bool *known, int *off_r)
{
	size_t k = 0;

	if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-')) {
		struct cur d = *c;
		int hhmm;

		d.i++;
		if (!cur_num(&d, 4, 4, &hhmm) || hhmm / 100 > 23 || hhmm % 100 > 59 ||
		    !cur_at_end_or_ws(&d))
			return false;
		*off_r = (hhmm / 100 * 3600 + hhmm % 100 * 60) * (c->s[c->i] == '-' ? -1 : 1);
		*known = true;
		*c = d;
		return true;
	}
	while (k < 7 && c->i + k < c->n && is_alpha(c->s[c->i + k]))
		k++;
	if (k == 0 || k > 6 || (c->i + k < c->n && !is_ws(c->s[c->i + k])))
		return false;
	if (mem_ieq(c->s + c->i, k, "ut", 2) || mem_ieq(c->s + c->i, k, "utc", 3) ||
	    mem_ieq(c->s + c->i, k, "gmt", 3) || mem_ieq(c->s + c->i, k, "z", 1)) {
		*known = true;
		*off_r = 0;
	}
	c->i += k;
	return true;
}

static bool
valid_day(int y, int m, int d)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (d < 1 || d > mdays[m])
		return false;
	return m != 1 || d <= 28 || leap;
}

/* A date at s[0..n), as asctime writes it and mutt, Postfix, Dovecot and
 * UUCP vary it:
 *   Wdy Mon dd hh:mm[:ss] [zone [zone]] yyyy [zone | remote from ...]
 *   Wdy, dd Mon yyyy hh:mm[:ss] [zone]
 * any blanks between the parts, day padded with a blank or a 0. The
 * weekday is not checked against the date (many writers get it wrong). */
static int64_t
date_at(const char *s, size_t n, bool *local_r)
{
	struct cur c = { s, n, 0 };
	int wd, mon, day, year, h, mi, sec, off = 0;
	bool known = false;
	int64_t t;

	if (!cur_name3(&c, wdays, 7, &wd))
		return -1;
	if (c.i < n && s[c.i] == ',') {
		c.i++;
		if (!cur_ws(&c) || !cur_num(&c, 1, 2, &day) || !cur_ws(&c) ||
		    !cur_name3(&c, months, 12, &mon) || !cur_ws(&c) ||
		    !cur_num(&c, 4, 4, &year) || !cur_ws(&c) || !cur_time(&c, &h, &mi, &sec))
			return -1;
		if (cur_ws(&c) && c.i < n)
			(void)cur_zone(&c, &known, &off);
	} else {
		int zones = 0;

		if (!cur_ws(&c) || !cur_name3(&c, months, 12, &mon) || !cur_ws(&c) ||
		    !cur_num(&c, 1, 2, &day) || !cur_ws(&c) || !cur_time(&c, &h, &mi, &sec) ||
		    !cur_ws(&c))
			return -1;
		/* A zone before the year (some write "MET DST 2001"). */
		while (c.i < n && !is_digit(s[c.i])) {
			if (++zones > 2 || !cur_zone(&c, &known, &off) || !cur_ws(&c))
				return -1;
		}
		if (!cur_num(&c, 4, 4, &year) || !cur_at_end_or_ws(&c))
			return -1;
		/* A zone after the year; other text there (UUCP's "remote from
		 * host") is ignored. */
		if (!known && cur_ws(&c) && c.i < n) {
			struct cur z = c;
			bool k2 = false;
			int o2 = 0;

			if (cur_zone(&z, &k2, &o2) && k2) {
				known = true;
				off = o2;
			}
		}
	}
	if (year < 1970 || !valid_day(year, mon, day))
		return -1;
	t = (int64_t)mime_days_from_civil(year, (unsigned)mon + 1, (unsigned)day) * 86400 +
	    h * 3600 + mi * 60 + sec - off;
	if (t < 0)
		return -1;
	*local_r = !known;
	return t;
}

/* The date of a From_ line's text after "From ": the sender is one word
 * usually, but quoted ones hold blanks and some lines have none, so the
 * date is looked for at each word. */
static int64_t
from_line_date(const char *s, size_t n, bool *local_r)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++) {
		int64_t t;

		if (is_ws(s[i]) || (i > 0 && !is_ws(s[i - 1])))
			continue;
		t = date_at(s + i, n - i, local_r);
		if (t >= 0)
			return t;
	}
	*local_r = false;
	return -1;
}

/* ---- parsing ---- */

void
mboxf_free(struct mboxf *f)
{
	if (f == NULL)
		return;
	free(f->m);
	memset(f, 0, sizeof(*f));
}

/* "<uidvalidity> <uid_last>[ <keywords>]" of X-IMAPbase / X-IMAP. */
static void
parse_base(const char *buf, size_t off, size_t len, struct mboxf *f)
{
	size_t i = off, end = off + len, a, b;

	for (a = i; i < end && !is_lws(buf[i]); i++)
		;
	if (parse_dec_u32(buf + a, i - a, UINT32_MAX, &f->uidvalidity) < 0 || f->uidvalidity == 0)
		goto bad;
	while (i < end && is_lws(buf[i]))
		i++;
	for (b = i; i < end && !is_lws(buf[i]); i++)
		;
	if (parse_dec_u32(buf + b, i - b, UINT32_MAX, &f->uid_last) < 0)
		goto bad;
	while (i < end && is_lws(buf[i]))
		i++;
	f->base_kw_off = i;
	f->base_kw_len = end - i;
	return;
bad:
	f->uidvalidity = f->uid_last = 0;
	f->base_kw_off = f->base_kw_len = 0;
}

/* The headers of m (its offsets set) into its metadata. */
static void
parse_headers(const char *buf, struct mboxf_msg *m, bool first, struct mboxf *f)
{
	bool seen_status = false, seen_xstatus = false, seen_kw = false, seen_uid = false;
	bool seen_base = false;
	struct field fl;

	for (size_t q = m->hdr_off; q < m->hdr_end; q = fl.end) {
		const char *v;

		next_field(buf, q, m->hdr_end, &fl);
		v = buf + fl.val_off;
		switch (fl.kind) {
		case H_STATUS:
			if (seen_status)
				break;
			seen_status = true;
			for (size_t i = 0; i < fl.val_len; i++) {
				if (v[i] == 'R')
					m->flags |= MF_SEEN;
				else if (v[i] == 'O')
					m->old = true;
			}
			break;
		case H_X_STATUS:
			if (seen_xstatus)
				break;
			seen_xstatus = true;
			for (size_t i = 0; i < fl.val_len; i++) {
				if (v[i] == 'A')
					m->flags |= MF_ANSWERED;
				else if (v[i] == 'F')
					m->flags |= MF_FLAGGED;
				else if (v[i] == 'T')
					m->flags |= MF_DRAFT;
				else if (v[i] == 'D')
					m->flags |= MF_DELETED;
			}
			break;
		case H_X_KEYWORDS:
			if (seen_kw)
				break;
			seen_kw = true;
			m->kw_off = fl.val_off;
			m->kw_len = fl.val_len;
			break;
		case H_X_UID:
			if (seen_uid)
				break;
			seen_uid = true;
			if (parse_dec_u32(v, fl.val_len, UINT32_MAX, &m->uid) < 0)
				m->uid = 0;
			break;
		case H_X_IMAP:
		case H_X_IMAPBASE:
			/* Later messages may carry one from their sender: not ours. */
			if (!first)
				break;
			if (fl.kind == H_X_IMAP)
				f->pseudo = true;
			if (seen_base)
				break;
			seen_base = true;
			parse_base(buf, fl.val_off, fl.val_len, f);
			break;
		case H_OTHER:
		case H_CONTENT_LENGTH:
			break;
		}
	}
}

/* The first Content-Length of m; false when there is none or it is not
 * plain decimal (up to 18 digits: no overflow). */
static bool
content_length(const char *buf, const struct mboxf_msg *m, uint64_t *v_r)
{
	struct field fl;
	uint64_t v = 0;

	for (size_t q = m->hdr_off; q < m->hdr_end; q = fl.end) {
		next_field(buf, q, m->hdr_end, &fl);
		if (fl.kind != H_CONTENT_LENGTH)
			continue;
		if (fl.val_len == 0 || fl.val_len > 18)
			return false;
		for (size_t k = 0; k < fl.val_len; k++) {
			if (!is_digit(buf[fl.val_off + k]))
				return false;
			v = v * 10 + (uint64_t)(buf[fl.val_off + k] - '0');
		}
		*v_r = v;
		return true;
	}
	return false;
}

static unsigned
line_of(const char *buf, size_t pos)
{
	unsigned line = 1;

	for (size_t i = 0; i < pos; i++)
		line += buf[i] == '\n';
	return line;
}

int
mboxf_parse(const char *buf, size_t len, size_t max_msgs, struct mboxf *out,
    const char **error_r, unsigned *line_r)
{
	const char *err;
	size_t pos = 0, cap = 0;

	memset(out, 0, sizeof(*out));
	if (buf == NULL)
		len = 0;
	/* Empty lines before the first message are harmless. */
	while (pos < len) {
		size_t e = line_end(buf, pos, len);

		if (!is_empty_line(buf, pos, e))
			break;
		pos = e;
	}
	if (pos == len)
		return 0;
	if (!is_from(buf + pos, len - pos)) {
		err = "text before the first From_ line";
		goto fail;
	}
	for (;;) {
		struct mboxf_msg *m;
		size_t q, next = len;

		if (out->n == max_msgs) {
			err = "too many messages";
			goto fail;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 16;
			out->m = xreallocarray(out->m, cap, sizeof(*out->m));
		}
		m = &out->m[out->n];
		memset(m, 0, sizeof(*m));
		m->from_off = pos;
		m->hdr_off = line_end(buf, pos, len);
		m->from_date = from_line_date(buf + pos + 5, m->hdr_off - pos - 5 -
		    (buf[m->hdr_off - 1] == '\n'), &m->from_date_local);
		m->end = len;
		/* The message ends at an empty line before a From_ line, or at
		 * an empty last line. */
		for (q = m->hdr_off; q < len;) {
			size_t e = line_end(buf, q, len);

			if (is_empty_line(buf, q, e) && (e == len || is_from(buf + e, len - e))) {
				m->end = q;
				next = e;
				break;
			}
			q = e;
		}
		m->hdr_end = m->body_off = m->end;
		for (q = m->hdr_off; q < m->end;) {
			size_t e = line_end(buf, q, m->end);

			if (is_empty_line(buf, q, e)) {
				m->hdr_end = q;
				m->body_off = e;
				break;
			}
			q = e;
		}
		/* Dovecot's rule too: a Content-Length whose end is followed by
		 * an empty line and a From_ line (or the end of the text) is
		 * trusted, so a "From " line Dovecot left unquoted in a body it
		 * wrote is no boundary. */
		uint64_t cl;
		if (m->hdr_end < m->end && content_length(buf, m, &cl) && cl <= len - m->body_off &&
		    m->body_off + (size_t)cl > m->end) {
			size_t t = m->body_off + (size_t)cl;
			size_t e = t < len ? line_end(buf, t, len) : len;
			if (t == len || (is_empty_line(buf, t, e) && (e == len ||
			    is_from(buf + e, len - e)))) {
				m->end = t;
				next = e;
			}
		}
		parse_headers(buf, m, out->n == 0, out);
		out->n++;
		if (next == len)
			break;
		pos = next;
	}
	return 0;
fail:
	mboxf_free(out);
	if (error_r != NULL)
		*error_r = err;
	if (line_r != NULL)
		*line_r = line_of(buf, pos);
	return -1;
}

/* ---- the client's view ---- */

/* Whole lines of s[0..n), one '>' removed from those matching ^>+From ;
 * appended to out unless NULL. Returns the length. */
static size_t
put_unquoted(const char *s, size_t n, struct buf *out)
{
	size_t total = 0, i = 0;

	while (i < n) {
		size_t e = line_end(s, i, n), skip = 0;

		if (s[i] == '>') {
			size_t j = i;

			while (j < e && s[j] == '>')
				j++;
			skip = is_from(s + j, e - j);
		}
		if (out != NULL)
			buf_add(out, s + i + skip, e - i - skip);
		total += e - i - skip;
		i = e;
	}
	return total;
}

/* One walk for both the text and its size, so they cannot disagree. */
static size_t
client_view(const char *buf, const struct mboxf_msg *m, struct buf *out)
{
	size_t total = 0;
	struct field fl;

	for (size_t q = m->hdr_off; q < m->hdr_end; q = fl.end) {
		next_field(buf, q, m->hdr_end, &fl);
		if (fl.kind == H_OTHER)
			total += put_unquoted(buf + fl.start, fl.end - fl.start, out);
	}
	return total + put_unquoted(buf + m->hdr_end, m->end - m->hdr_end, out);
}

char *
mboxf_message(const char *buf, const struct mboxf_msg *m, size_t *len_r)
{
	struct buf b = { 0 };

	buf_need(&b, client_view(buf, m, NULL));
	(void)client_view(buf, m, &b);
	if (len_r != NULL)
		*len_r = b.len;
	return b.p;
}

size_t
mboxf_message_size(const char *buf, const struct mboxf_msg *m)
{
	return client_view(buf, m, NULL);
}

/* ---- writing ---- */

static bool
kw_byte(char c)
{
	unsigned char u = (unsigned char)c;

	return u > ' ' && u != 0x7f && c != ',';
}

bool
mboxf_next_keyword(const char *s, size_t len, size_t *pos, size_t *off_r, size_t *len_r)
{
	size_t i = *pos, start;

	while (i < len && !kw_byte(s[i]))
		i++;
	if (i >= len) {
		*pos = len;
		return false;
	}
	for (start = i; i < len && kw_byte(s[i]); i++)
		;
	*off_r = start;
	*len_r = i - start;
	*pos = i;
	return true;
}

/* The names of kw, one space apart, after a space each; false when none. */
static bool
put_keywords(struct buf *out, const char *kw)
{
	size_t pos = 0, off, n, len = kw != NULL ? strlen(kw) : 0;
	bool any = false;

	while (mboxf_next_keyword(kw, len, &pos, &off, &n)) {
		buf_addc(out, ' ');
		buf_add(out, kw + off, n);
		any = true;
	}
	return any;
}

static bool
has_keyword(const char *kw)
{
	size_t pos = 0, off, n;

	return kw != NULL && mboxf_next_keyword(kw, strlen(kw), &pos, &off, &n);
}

/* X-UID, Status, X-Status, X-Keywords of u, in Dovecot's order. */
static void
put_meta(struct buf *out, const struct mboxf_update *u)
{
	if (u->uid != 0) {
		buf_adds(out, "X-UID: ");
		buf_addu(out, u->uid);
		buf_addc(out, '\n');
	}
	if ((u->flags & MF_SEEN) != 0 || u->old) {
		buf_adds(out, "Status: ");
		if ((u->flags & MF_SEEN) != 0)
			buf_addc(out, 'R');
		if (u->old)
			buf_addc(out, 'O');
		buf_addc(out, '\n');
	}
	if ((u->flags & (MF_ANSWERED | MF_FLAGGED | MF_DRAFT | MF_DELETED)) != 0) {
		buf_adds(out, "X-Status: ");
		if ((u->flags & MF_ANSWERED) != 0)
			buf_addc(out, 'A');
		if ((u->flags & MF_FLAGGED) != 0)
			buf_addc(out, 'F');
		if ((u->flags & MF_DRAFT) != 0)
			buf_addc(out, 'T');
		if ((u->flags & MF_DELETED) != 0)
			buf_addc(out, 'D');
		buf_addc(out, '\n');
	}
	if (has_keyword(u->keywords)) {
		buf_adds(out, "X-Keywords:");
		(void)put_keywords(out, u->keywords);
		buf_addc(out, '\n');
	}
}

/* An LF unless out is empty or already ends in one. */
static void
end_line(struct buf *out, size_t from)
{
	if (out->len > from && out->p[out->len - 1] != '\n')
		buf_addc(out, '\n');
}

void
mboxf_rewrite(const char *buf, const struct mboxf *f, const struct mboxf_update *upd,
    uint32_t uidvalidity, uint32_t uid_last, const char *base_keywords, struct buf *out)
{
	bool first = true;

	buf_need(out, 0);
	for (size_t i = 0; i < f->n; i++) {
		const struct mboxf_msg *m = &f->m[i];
		struct field fl;
		size_t start = out->len;
		bool had_clen = false;

		if (!upd[i].keep)
			continue;
		buf_add(out, buf + m->from_off, m->hdr_off - m->from_off);
		end_line(out, start);
		for (size_t q = m->hdr_off; q < m->hdr_end; q = fl.end) {
			next_field(buf, q, m->hdr_end, &fl);
			if (fl.kind == H_OTHER)
				buf_add(out, buf + fl.start, fl.end - fl.start);
			had_clen |= fl.kind == H_CONTENT_LENGTH;
		}
		end_line(out, start);
		if (first) {
			bool pseudo = i == 0 && f->pseudo;

			if (uidvalidity != 0 || pseudo) {
				buf_adds(out, pseudo ? "X-IMAP: " : "X-IMAPbase: ");
				buf_addu(out, uidvalidity);
				/* Dovecot pads it so it can update it in place. */
				{
					char num[16];
					int k = snprintf(num, sizeof(num), " %010u",
					    (unsigned)uid_last);

					buf_add(out, num, (size_t)k);
				}
				(void)put_keywords(out, base_keywords);
				buf_addc(out, '\n');
			}
			first = false;
		}
		put_meta(out, &upd[i]);
		/* A Content-Length is written again with the body's true length
		 * (the LF end_line may add counted), so it can never make a
		 * reader join this message with the next. */
		if (had_clen && m->hdr_end < m->end) {
			size_t bl = m->end - m->body_off;

			if (buf[m->end - 1] != '\n')
				bl++;
			buf_adds(out, "Content-Length: ");
			buf_addu(out, bl);
			buf_addc(out, '\n');
		}
		buf_add(out, buf + m->hdr_end, m->end - m->hdr_end);
		end_line(out, start);
		buf_addc(out, '\n');
	}
}

/* ---- quoting ---- */

void
mboxf_quote_init(struct mboxf_quoter *q, bool bol)
{
	q->bol = bol;
	q->held = 0;
}

void
mboxf_quote(struct mboxf_quoter *q, const char *s, size_t n, struct buf *out)
{
	static const char from[] = "From ";
	size_t i = 0;

	while (i < n) {
		if (!q->bol) {
			/* Inside a line: copy through its LF. */
			size_t e = line_end(s, i, n);

			buf_add(out, s + i, e - i);
			q->bol = s[e - 1] == '\n';
			i = e;
			continue;
		}
		/* Adding the '>' anywhere among the leading ones gives the same
		 * line, so those go through and only "From " is held back. */
		if (q->held == 0 && s[i] == '>') {
			buf_addc(out, '>');
			i++;
		} else if (s[i] == from[q->held]) {
			i++;
			if (++q->held == sizeof(from) - 1) {
				buf_add(out, ">From ", 6);
				q->held = 0;
				q->bol = false;
			}
		} else {
			buf_add(out, from, q->held);
			q->held = 0;
			q->bol = false;
		}
	}
}

void
mboxf_quote_end(struct mboxf_quoter *q, struct buf *out)
{
	buf_add(out, "From ", q->held);
	q->held = 0;
}

/* ---- appending ---- */

void
mboxf_add_from_line(struct buf *out, const char *sender, const struct tm *tm)
{
	static const char wday[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	char date[96];
	int n;

	buf_add(out, "From ", 5);
	if (sender == NULL || *sender == '\0')
		sender = "MAILER-DAEMON";
	/* Blanks or controls in the envelope sender would break the From_ line. */
	for (const char *s = sender; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		buf_addc(out, c <= ' ' || c == 0x7f ? '_' : (char)c);
	}
	n = snprintf(date, sizeof(date), " %s %s %2d %02d:%02d:%02d %d\n",
	    wday[(unsigned)tm->tm_wday % 7], mon[(unsigned)tm->tm_mon % 12], tm->tm_mday,
	    tm->tm_hour, tm->tm_min, tm->tm_sec, tm->tm_year + 1900);
	buf_add(out, date, (size_t)n);
}

/* Next line of msg from *pos, CRLF as LF: the text without its LF (a CR
 * before it dropped) and whether it had one. */
static bool
next_lf_line(const char *msg, size_t len, size_t *pos, const char **s_r, size_t *n_r,
    bool *lf_r)
{
	size_t e;

	if (*pos >= len)
		return false;
	e = line_end(msg, *pos, len);
	*s_r = msg + *pos;
	*lf_r = msg[e - 1] == '\n';
	*n_r = e - *pos - *lf_r;
	if (*lf_r && *n_r > 0 && (*s_r)[*n_r - 1] == '\r')
		(*n_r)--;
	*pos = e;
	return true;
}

void
mboxf_format_new(const char *msg, size_t len, const char *sender, int64_t idate,
    const struct mboxf_update *upd, struct buf *out)
{
	struct mboxf_quoter q;
	struct tm tm;
	time_t t = idate >= 0 && idate <= MAX_DATE ? (time_t)idate : 0;
	size_t pos = 0, start, n;
	bool in_hdr = true, skipping = false, lf = true;
	const char *s;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	mboxf_add_from_line(out, sender, &tm);
	start = out->len;
	mboxf_quote_init(&q, true);
	if (msg == NULL)
		len = 0;
	while (next_lf_line(msg, len, &pos, &s, &n, &lf)) {
		if (in_hdr) {
			/* Empty as the reader will see it, "\r" included: it
			 * is stored as "\r\n", or gets its LF below. */
			if (n == 0 || (n == 1 && s[0] == '\r')) {
				put_meta(out, upd);
				in_hdr = false;
			} else if (is_ws(s[0])) {
				if (skipping)
					continue;
			} else {
				const char *colon = memchr(s, ':', n);
				size_t ne;

				skipping = false;
				if (colon != NULL) {
					ne = (size_t)(colon - s);
					while (ne > 0 && is_ws(s[ne - 1]))
						ne--;
					skipping = field_kind(s, ne) != H_OTHER;
				}
				if (skipping)
					continue;
			}
		}
		mboxf_quote(&q, s, n, out);
		if (lf || in_hdr)
			mboxf_quote(&q, "\n", 1, out);
	}
	mboxf_quote_end(&q, out);
	if (in_hdr) {
		end_line(out, start);
		put_meta(out, upd);
	}
	/* After the From_ line's LF, an empty message needs none. */
	end_line(out, start);
}

const char *
mboxf_append_sep(const char *tail, size_t len)
{
	if (len == 0)
		return "";
	if (tail[len - 1] == '\r' && (len == 1 || tail[len - 2] == '\n'))
		return "\n";	/* an empty last line without its LF */
	if (tail[len - 1] != '\n')
		return "\n\n";
	if (len == 1 || tail[len - 2] == '\n' || (len == 2 && tail[0] == '\r') ||
	    (len >= 3 && tail[len - 2] == '\r' && tail[len - 3] == '\n'))
		return "";
	return "\n";
}
