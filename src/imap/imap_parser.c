/* imap_parser: IMAP command framing and parsing (pure, bounded, no I/O). */
#include "imap/imap_parser.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

/* ---- character classes (RFC 9051 9) ---- */

/* ATOM-CHAR: any CHAR except atom-specials. */
static bool
is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
		return false;
	}
	return true;
}

/* ASTRING-CHAR = ATOM-CHAR / resp-specials */
static bool
is_astring_char(unsigned char c)
{
	return is_atom_char(c) || c == ']';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool
is_tag_char(unsigned char c)
{
	return is_astring_char(c) && c != '+';
}

/* What an argument atom may hold: list-mailbox (LIST patterns), sequence
 * sets ("1:*") and flags ("\*") need the wildcards, astrings need "]". */
static bool
is_arg_char(unsigned char c)
{
	return is_astring_char(c) || c == '*' || c == '%';
}

/* ---- framing ---- */

/* f->lit_state: how much of "{123+}\r" ends the line so far. */
enum {
	L_NONE = 0,
	L_OPEN,		/* "{" */
	L_DIGITS,	/* "{1" */
	L_PLUS,		/* "{1+" */
	L_CLOSE,	/* "{1}" or "{1+}" */
	L_CR		/* "{1}\r" */
};

static void
frame_reset(struct imap_framer *f)
{
	memset(f, 0, sizeof(*f));
}

/* The line goes on after a literal's data: same command, fresh line. */
static void
frame_newline(struct imap_framer *f)
{
	f->line_len = 0;
	f->lit_state = L_NONE;
	f->lit_size = 0;
	f->lit_plus = false;
	f->in_quote = false;
	f->quote_esc = false;
}

/* Follow one line byte (not LF): quoting, and the literal announcement. */
static void
frame_byte(struct imap_framer *f, unsigned char c)
{
	if (f->in_quote) {
		if (f->quote_esc)
			f->quote_esc = false;
		else if (c == '\\')
			f->quote_esc = true;
		else if (c == '"')
			f->in_quote = false;
		return;
	}
	switch (c) {
	case '{':
		f->lit_state = L_OPEN;
		f->lit_size = 0;
		f->lit_plus = false;
		return;
	case '+':
		f->lit_state = f->lit_state == L_DIGITS ? L_PLUS : L_NONE;
		f->lit_plus = true;
		return;
	case '}':
		f->lit_state = (f->lit_state == L_DIGITS || f->lit_state == L_PLUS) ?
		    L_CLOSE : L_NONE;
		return;
	case '\r':
		f->lit_state = f->lit_state == L_CLOSE ? L_CR : L_NONE;
		return;
	case '"':
		f->in_quote = true;
		f->lit_state = L_NONE;
		return;
	}
	if (c >= '0' && c <= '9' && (f->lit_state == L_OPEN || f->lit_state == L_DIGITS)) {
		unsigned d = (unsigned)(c - '0');

		/* Saturate: any size that does not fit is too big anyway. */
		if (f->lit_size > (UINT64_MAX - d) / 10)
			f->lit_size = UINT64_MAX;
		else
			f->lit_size = f->lit_size * 10 + d;
		f->lit_state = L_DIGITS;
		return;
	}
	f->lit_state = L_NONE;
}

enum imap_frame_ev
imap_frame(struct imap_framer *f, const struct imap_frame_limits *lim, const char *buf,
    size_t len, size_t *used, size_t *cmd_len, uint64_t *literal_size, bool *nonsync)
{
	const char *nl;
	size_t i = 0, n;
	uint64_t size;
	unsigned char c;
	bool plus;

	*used = 0;
	*cmd_len = 0;
	*literal_size = 0;
	*nonsync = false;
	if (len == 0)
		return IMAP_FRAME_MORE;
	if (f->skipping) {
		if ((nl = memchr(buf, '\n', len)) == NULL) {
			*used = len;
			return IMAP_FRAME_DROPPED;
		}
		*used = (size_t)(nl - buf) + 1;
		frame_reset(f);
		return IMAP_FRAME_DROPPED;
	}
	while (i < len) {
		if (f->in_literal) {
			n = len - i;
			if (n > f->literal_left)
				n = (size_t)f->literal_left;
			i += n;
			f->cmd_len += n;
			f->literal_left -= n;
			f->in_literal = f->literal_left > 0;
			continue;
		}
		c = (unsigned char)buf[i++];
		if (f->cmd_len + 1 > lim->max_command) {
			frame_reset(f);
			f->skipping = c != '\n';
			*used = i;
			return IMAP_FRAME_TOO_LONG;
		}
		f->cmd_len++;
		if (c != '\n') {
			/* A CR one past the limit may still be the CR of CRLF. */
			if (++f->line_len > lim->max_line &&
			    !(c == '\r' && f->line_len == lim->max_line + 1)) {
				frame_reset(f);
				f->skipping = true;
				*used = i;
				return IMAP_FRAME_TOO_LONG;
			}
			frame_byte(f, c);
			continue;
		}
		if (f->lit_state != L_CLOSE && f->lit_state != L_CR) {
			*cmd_len = f->cmd_len;
			*used = i;
			frame_reset(f);
			return IMAP_FRAME_COMMAND;
		}
		/* A literal: "{n}" or "{n+}" ended the line. */
		size = f->lit_size;
		plus = f->lit_plus;
		if (f->nliterals >= lim->max_literals ||
		    size > (plus ? lim->max_nonsync : lim->max_literal) ||
		    size > lim->max_command - f->cmd_len) {
			*literal_size = size;
			*nonsync = plus;
			*used = i;
			frame_reset(f);
			return IMAP_FRAME_LITERAL_TOO_BIG;
		}
		f->nliterals++;
		f->literal_left = size;
		f->in_literal = size > 0;
		frame_newline(f);
		if (!plus) {
			*literal_size = size;
			*cmd_len = f->cmd_len;
			*used = i;
			return IMAP_FRAME_CONTINUE;
		}
	}
	*cmd_len = f->cmd_len;
	*used = len;
	return IMAP_FRAME_MORE;
}

/* ---- parsing ---- */


/* Everything of a parsed command lives in a list of blocks, freed at once. */
struct arena {
	struct arena *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_BLOCK 4000

static void *
arena_alloc(struct arena **ap, size_t n)
{
	const size_t al = alignof(max_align_t);
	struct arena *a = *ap;
	size_t cap;
	void *p;

	if (n > SIZE_MAX / 2)
		fatalx("imap_parse: %zu bytes", n);
	n = (n + al - 1) / al * al;
	if (a == NULL || a->cap - a->used < n) {
		cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		a = xmalloc(sizeof(*a) + cap);
		a->next = *ap;
		a->used = 0;
		a->cap = cap;
		*ap = a;
	}
	p = (char *)a->data + a->used;
	a->used += n;
	return p;
}

static void
arena_free(struct arena *a)
{
	struct arena *next;

	for (; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
}

/* Arguments of one nesting level while it is open. */
struct level {
	struct imap_arg *v;
	size_t n, cap;
};

struct parser {
	const unsigned char *p;
	size_t len, i;
	const struct imap_parse_limits *lim;
	struct arena *arena;
	struct level *lv;	/* lv[0] top level, lv[depth] the open list */
	size_t nlv, depth, nargs;
	char *buf;		/* the text of the atom being read */
	size_t blen, bcap;
	const char *err;
};

static int
fail(struct parser *ps, const char *why)
{
	ps->err = why;
	return -1;
}

/* Length of the line end (CRLF or LF) at i, 0 when there is none. */
static size_t
eol_at(const struct parser *ps, size_t i)
{
	if (i < ps->len && ps->p[i] == '\n')
		return 1;
	if (i + 1 < ps->len && ps->p[i] == '\r' && ps->p[i + 1] == '\n')
		return 2;
	return 0;
}

static void
buf_add(struct parser *ps, const void *s, size_t n)
{
	if (ps->bcap - ps->blen < n + 1) {
		ps->bcap = (ps->blen + n + 1) * 2;
		ps->buf = xrealloc(ps->buf, ps->bcap);
	}
	memcpy(ps->buf + ps->blen, s, n);
	ps->blen += n;
	ps->buf[ps->blen] = '\0';
}

static const char *
arena_str(struct parser *ps, const void *s, size_t n)
{
	char *d = arena_alloc(&ps->arena, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static struct imap_arg *
add_arg(struct parser *ps, enum imap_arg_type type)
{
	struct level *l = &ps->lv[ps->depth];
	struct imap_arg *a;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	a = &l->v[l->n++];
	memset(a, 0, sizeof(*a));
	a->type = type;
	return a;
}

static int
count_arg(struct parser *ps)
{
	if (ps->nargs >= ps->lim->max_args)
		return fail(ps, IMAP_E_ARGS);
	ps->nargs++;
	return 0;
}

static int
open_list(struct parser *ps)
{
	if (count_arg(ps) == -1)
		return -1;
	if (ps->depth >= ps->lim->max_depth)
		return fail(ps, IMAP_E_DEPTH);
	add_arg(ps, IMAP_ARG_LIST);
	if (++ps->depth == ps->nlv) {
		/* Doubling: growing by one level at a time copies quadratically. */
		size_t ncap = ps->nlv < 8 ? 8 : 2 * ps->nlv;
		ps->lv = xreallocarray(ps->lv, ncap, sizeof(*ps->lv));
		memset(&ps->lv[ps->nlv], 0, (ncap - ps->nlv) * sizeof(*ps->lv));
		ps->nlv = ncap;
	}
	ps->lv[ps->depth].n = 0;
	ps->i++;
	return 0;
}

/* Move the finished level into the arena and hang it on its LIST arg. */
static struct imap_arg *
seal(struct parser *ps, struct level *l)
{
	struct imap_arg *v;

	if (l->n == 0)
		return NULL;
	v = arena_alloc(&ps->arena, l->n * sizeof(*v));
	memcpy(v, l->v, l->n * sizeof(*v));
	return v;
}

static int
close_list(struct parser *ps)
{
	struct level *l, *up;

	if (ps->depth == 0)
		return fail(ps, IMAP_E_PAREN);
	l = &ps->lv[ps->depth];
	up = &ps->lv[ps->depth - 1];
	up->v[up->n - 1].list = seal(ps, l);
	up->v[up->n - 1].nlist = l->n;
	l->n = 0;
	ps->depth--;
	ps->i++;
	return 0;
}

/*
 * The quoted string at i ('"'): *end is just past its closing quote, *n the
 * unescaped length. Only \" and \\ escapes; no CR, LF or NUL.
 */
static int
quoted_span(struct parser *ps, size_t i, size_t *end, size_t *n)
{
	unsigned char c;

	*n = 0;
	for (i++;; i++) {
		if (i >= ps->len)
			return fail(ps, IMAP_E_QUOTED);
		c = ps->p[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (++i >= ps->len)
				return fail(ps, IMAP_E_QUOTED);
			c = ps->p[i];
			if (c != '"' && c != '\\')
				return fail(ps, c == '\r' || c == '\n' ? IMAP_E_QUOTED : IMAP_E_ESCAPE);
		} else if (c == '\r' || c == '\n')
			return fail(ps, IMAP_E_QUOTED);
		else if (c == '\0')
			return fail(ps, IMAP_E_QNUL);
		(*n)++;
	}
	*end = i + 1;
	return 0;
}

static int
parse_quoted(struct parser *ps, struct imap_arg *a)
{
	size_t end, n, i, o = 0;
	char *d;

	if (quoted_span(ps, ps->i, &end, &n) == -1)
		return -1;
	d = arena_alloc(&ps->arena, n + 1);
	for (i = ps->i + 1; i < end - 1; i++) {
		if (ps->p[i] == '\\')
			i++;
		d[o++] = (char)ps->p[i];
	}
	d[o] = '\0';
	a->str = d;
	a->len = n;
	ps->i = end;
	return 0;
}

/*
 * The literal announced at i ('{'): "{" number ["+"] "}" CRLF data. Sets
 * where its data starts, its size and the index just after it.
 */
static int
literal_span(struct parser *ps, size_t i, size_t *data, size_t *size, size_t *end)
{
	uint64_t v = 0;
	size_t nd = 0, e;
	unsigned d;

	for (i++; i < ps->len && ps->p[i] >= '0' && ps->p[i] <= '9'; i++, nd++) {
		d = (unsigned)(ps->p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return fail(ps, IMAP_E_LITBIG);
		v = v * 10 + d;
	}
	if (nd == 0)
		return fail(ps, IMAP_E_LITERAL);
	if (i < ps->len && ps->p[i] == '+')
		i++;
	if (i >= ps->len || ps->p[i] != '}')
		return fail(ps, IMAP_E_LITERAL);
	if ((e = eol_at(ps, i + 1)) == 0)
		return fail(ps, IMAP_E_LITERAL);
	i += 1 + e;
	if (v > ps->len - i)
		return fail(ps, IMAP_E_LITSHORT);
	*data = i;
	*size = (size_t)v;
	*end = i + (size_t)v;
	return 0;
}

static int
parse_literal(struct parser *ps, struct imap_arg *a, bool lit8)
{
	size_t data, size, end;

	if (literal_span(ps, ps->i + (lit8 ? 1 : 0), &data, &size, &end) == -1)
		return -1;
	/* CHAR8 is %x01-ff: only literal8 may carry NUL (RFC 3516). */
	if (!lit8 && memchr(ps->p + data, '\0', size) != NULL)
		return fail(ps, IMAP_E_LITNUL);
	a->str = arena_str(ps, ps->p + data, size);
	a->len = size;
	a->literal = !lit8;
	a->literal8 = lit8;
	ps->i = end;
	return 0;
}

/*
 * The bracketed part of a section at *ip ('['), appended to the atom text:
 * up to the "]" outside quoted strings and inner parentheses. A literal in
 * it (a header field name) is appended as a quoted string, so the text has
 * one form for the FETCH code to read.
 */
static int
section_scan(struct parser *ps, size_t *ip)
{
	size_t i = *ip, pd = 0, end, n, data, size, k;
	unsigned char c;

	buf_add(ps, "[", 1);
	i++;
	for (;;) {
		if (i >= ps->len || eol_at(ps, i) != 0)
			return fail(ps, IMAP_E_SECTION);
		c = ps->p[i];
		if (c == ']' && pd == 0) {
			buf_add(ps, "]", 1);
			i++;
			break;
		}
		if (c == '(') {
			if (ps->depth + ++pd > ps->lim->max_depth)
				return fail(ps, IMAP_E_DEPTH);
		} else if (c == ')') {
			if (pd == 0)
				return fail(ps, IMAP_E_PAREN);
			pd--;
		} else if (c == '"') {
			if (quoted_span(ps, i, &end, &n) == -1)
				return -1;
			/* Header field names are printable ASCII. */
			for (k = i; k < end; k++)
				if (ps->p[k] < 0x20 || ps->p[k] > 0x7e)
					return fail(ps, IMAP_E_SECTCHAR);
			buf_add(ps, ps->p + i, end - i);
			i = end;
			continue;
		} else if (c == '{') {
			if (literal_span(ps, i, &data, &size, &end) == -1)
				return -1;
			buf_add(ps, "\"", 1);
			for (k = data; k < data + size; k++) {
				c = ps->p[k];
				if (c < 0x20 || c > 0x7e)
					return fail(ps, IMAP_E_SECTLIT);
				if (c == '"' || c == '\\')
					buf_add(ps, "\\", 1);
				buf_add(ps, &c, 1);
			}
			buf_add(ps, "\"", 1);
			i = end;
			continue;
		} else if (c == '[' ? pd == 0 : c != ' ' && !is_arg_char(c)) {
			/* "[" only inside a header-list astring ("X-[a]"). */
			return fail(ps, IMAP_E_SECTCHAR);
		}
		buf_add(ps, &c, 1);
		i++;
	}
	*ip = i;
	return 0;
}

/* An atom, flag, NIL or section. */
static int
parse_atom(struct parser *ps)
{
	struct imap_arg *a;
	size_t i = ps->i;
	bool section = false, flag = false;
	unsigned char c;

	ps->blen = 0;
	buf_add(ps, "", 0);
	if (ps->p[i] == '\\') {
		/* flag-extension = "\" atom */
		flag = true;
		buf_add(ps, "\\", 1);
		i++;
	}
	while (i < ps->len) {
		c = ps->p[i];
		if (c == '[' && !flag) {
			if (section_scan(ps, &i) == -1)
				return -1;
			section = true;
			continue;
		}
		if (!is_arg_char(c))
			break;
		buf_add(ps, &c, 1);
		i++;
	}
	if (ps->blen == 0)
		return fail(ps, IMAP_E_CHAR);
	if (flag && ps->blen == 1)
		return fail(ps, IMAP_E_FLAG);
	if (count_arg(ps) == -1)
		return -1;
	if (section)
		a = add_arg(ps, IMAP_ARG_SECTION);
	else if (!flag && ps->blen == 3 && str_ieq("NIL", ps->buf))
		a = add_arg(ps, IMAP_ARG_NIL);
	else
		a = add_arg(ps, IMAP_ARG_ATOM);
	a->str = arena_str(ps, ps->buf, ps->blen);
	a->len = ps->blen;
	ps->i = i;
	return 0;
}

static int
parse_arg(struct parser *ps)
{
	struct imap_arg *a;
	unsigned char c = ps->p[ps->i];

	if (c == '"' || c == '{' ||
	    (c == '~' && ps->i + 1 < ps->len && ps->p[ps->i + 1] == '{')) {
		if (count_arg(ps) == -1)
			return -1;
		a = add_arg(ps, IMAP_ARG_STRING);
		if (c == '"')
			return parse_quoted(ps, a);
		return parse_literal(ps, a, c == '~');
	}
	return parse_atom(ps);
}

/* A command name word at i: ATOM-CHARs, upper-cased into name at off. */
static int
parse_word(struct parser *ps, char *name, size_t off)
{
	size_t i = ps->i;

	while (i < ps->len && is_atom_char(ps->p[i]))
		i++;
	if (i == ps->i)
		return fail(ps, eol_at(ps, i) || i >= ps->len ? IMAP_E_NOCMD : IMAP_E_CMD);
	if (i < ps->len && ps->p[i] != ' ' && eol_at(ps, i) == 0)
		return fail(ps, IMAP_E_CMD);
	if (off + (i - ps->i) > IMAP_NAME_MAX)
		return fail(ps, IMAP_E_CMDLEN);
	for (; ps->i < i; ps->i++) {
		char ch = (char)ps->p[ps->i];

		name[off++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
	}
	name[off] = '\0';
	return 0;
}

static size_t
tag_span(const char *cmd, size_t len)
{
	size_t i;

	for (i = 0; i < len && is_tag_char((unsigned char)cmd[i]); i++)
		;
	return i;
}

int
imap_parse_tag(const char *cmd, size_t len, char tag[IMAP_TAG_MAX + 1])
{
	size_t n = tag_span(cmd, len);

	if (n == 0 || n > IMAP_TAG_MAX || n >= len || cmd[n] != ' ') {
		memcpy(tag, "*", 2);
		return -1;
	}
	memcpy(tag, cmd, n);
	tag[n] = '\0';
	return 0;
}

/* What the argument loop expects next: a separator, an argument, or an
 * argument or ")" right after "(". */
enum { S_SEP, S_ARG, S_ARG_OR_CLOSE };

static int
parse_cmd(struct parser *ps, struct imap_cmd *out)
{
	size_t n, e;
	int st;
	unsigned char c;

	if (ps->len == 0 || eol_at(ps, 0) != 0)
		return fail(ps, IMAP_E_EMPTY);
	n = tag_span((const char *)ps->p, ps->len);
	if (n == 0)
		return fail(ps, IMAP_E_TAG);
	if (n > IMAP_TAG_MAX)
		return fail(ps, IMAP_E_TAGLEN);
	if (n < ps->len && ps->p[n] != ' ' && eol_at(ps, n) == 0)
		return fail(ps, IMAP_E_TAG);
	memcpy(out->tag, ps->p, n);
	out->tag[n] = '\0';
	if (ps->p[ps->len - 1] != '\n')
		return fail(ps, IMAP_E_CRLF);
	/* The last byte is LF, not a tag char: p[n] exists. */
	if (ps->p[n] != ' ')
		return fail(ps, IMAP_E_NOCMD);
	ps->i = n + 1;
	if (parse_word(ps, out->name, 0) == -1)
		return -1;
	if (strcmp(out->name, "UID") == 0) {
		/* "UID FETCH" etc. name one command. */
		if (ps->i >= ps->len || ps->p[ps->i] != ' ')
			return fail(ps, IMAP_E_UID);
		ps->i++;
		if (ps->i >= ps->len || eol_at(ps, ps->i) != 0)
			return fail(ps, IMAP_E_UID);
		out->name[3] = ' ';
		if (parse_word(ps, out->name, 4) == -1)
			return -1;
	}

	st = S_SEP;
	for (;;) {
		if ((e = eol_at(ps, ps->i)) != 0) {
			if (st == S_ARG)
				return fail(ps, IMAP_E_NOARG);
			if (ps->depth > 0)
				return fail(ps, IMAP_E_UNCLOSED);
			ps->i += e;
			if (ps->i != ps->len)
				return fail(ps, IMAP_E_TRAILING);
			break;
		}
		if (ps->i >= ps->len)
			return fail(ps, IMAP_E_CRLF);
		c = ps->p[ps->i];
		if (st == S_SEP) {
			if (c == ' ') {
				ps->i++;
				st = S_ARG;
			} else if (c == ')') {
				if (close_list(ps) == -1)
					return -1;
			} else
				return fail(ps, is_arg_char(c) || c == '(' || c == '"' ||
				    c == '{' ? IMAP_E_NOSPACE : IMAP_E_CHAR);
			continue;
		}
		if (c == ')') {
			if (st != S_ARG_OR_CLOSE)
				return fail(ps, ps->depth > 0 ? IMAP_E_EXTRASP : IMAP_E_PAREN);
			if (close_list(ps) == -1)
				return -1;
			st = S_SEP;
			continue;
		}
		if (c == ' ')
			return fail(ps, IMAP_E_EXTRASP);
		if (c == '(') {
			if (open_list(ps) == -1)
				return -1;
			st = S_ARG_OR_CLOSE;
			continue;
		}
		if (parse_arg(ps) == -1)
			return -1;
		st = S_SEP;
	}
	out->args = seal(ps, &ps->lv[0]);
	out->nargs = ps->lv[0].n;
	return 0;
}

int
imap_parse(const char *cmd, size_t len, const struct imap_parse_limits *lim,
    struct imap_cmd *out, const char **err)
{
	struct parser ps;
	size_t k;
	int r;

	memset(out, 0, sizeof(*out));
	memcpy(out->tag, "*", 2);
	memset(&ps, 0, sizeof(ps));
	ps.p = (const unsigned char *)cmd;
	ps.len = len;
	ps.lim = lim;
	ps.nlv = 1;
	ps.lv = xcalloc(1, sizeof(*ps.lv));
	r = parse_cmd(&ps, out);
	for (k = 0; k < ps.nlv; k++)
		free(ps.lv[k].v);
	free(ps.lv);
	free(ps.buf);
	if (r == -1) {
		arena_free(ps.arena);
		out->args = NULL;
		out->nargs = 0;
		out->name[0] = '\0';
		if (err != NULL)
			*err = ps.err;
		return -1;
	}
	out->arena = ps.arena;
	return 0;
}

void
imap_cmd_free(struct imap_cmd *c)
{
	arena_free(c->arena);
	c->arena = NULL;
	c->args = NULL;
	c->nargs = 0;
}

const char *
imap_arg_astring(const struct imap_arg *a)
{
	size_t i;

	switch (a->type) {
	case IMAP_ARG_STRING:
		return a->literal8 ? NULL : a->str;
	case IMAP_ARG_NIL:
		return a->str;
	case IMAP_ARG_ATOM:
	case IMAP_ARG_SECTION:
		for (i = 0; i < a->len; i++)
			if (!is_astring_char((unsigned char)a->str[i]))
				return NULL;
		return a->str;
	case IMAP_ARG_LIST:
		break;
	}
	return NULL;
}

size_t
imap_quote(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i, need, n = 0, esc = 0, o = 0;
	bool lit = len > IMAP_QUOTE_MAX;
	unsigned char c;
	int h;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\0')
			continue;
		n++;
		if (c == '\r' || c == '\n' || c >= 0x80)
			lit = true;
		else if (c == '"' || c == '\\')
			esc++;
	}
	if (lit) {
		char hdr[32];

		h = snprintf(hdr, sizeof(hdr), "{%zu}\r\n", n);
		need = (size_t)h + n;
		if (need >= outsz)
			return need;
		memcpy(out, hdr, (size_t)h);
		o = (size_t)h;
		for (i = 0; i < len; i++)
			if (s[i] != '\0')
				out[o++] = s[i];
	} else {
		need = n + esc + 2;
		if (need >= outsz)
			return need;
		out[o++] = '"';
		for (i = 0; i < len; i++) {
			c = (unsigned char)s[i];
			if (c == '\0')
				continue;
			if (c == '"' || c == '\\')
				out[o++] = '\\';
			out[o++] = (char)c;
		}
		out[o++] = '"';
	}
	out[o] = '\0';
	return o;
}
