/* aliases: aliases(5) parser (pure) and bounded recursive expansion. */
#include "aliases/aliases.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"

#define AL_LINE_MAX	4096	/* bytes per physical line, without the newline */
#define AL_MAX_DEPTH	20	/* nested aliases and includes */
#define AL_MAX_DESTS	1000	/* distinct destinations */
#define AL_MAX_INCLUDES	100	/* include files read per expansion */
/* Targets visited per expansion: repeated references fan out exponentially
 * even when they dedupe to few destinations. */
#define AL_MAX_VISITS	20000

/* One physical line of input. */
struct line {
	const char *s;
	size_t len;
	unsigned no;
};

/* A logical entry: physical lines joined by '\n', with their line numbers. */
struct src {
	const char *path;
	char *buf;
	size_t len, cap;
	size_t *segoff;
	unsigned *segline;
	size_t nseg, segcap;
};

struct tlist {
	struct alias_target *v;
	size_t n, cap;
};

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Next physical line; strips "\n" and a "\r" before it. */
static bool
next_line(const char *text, size_t len, size_t *pos, unsigned *lineno, struct line *l)
{
	const char *s, *nl;
	size_t n;

	if (*pos >= len)
		return false;
	s = text + *pos;
	nl = memchr(s, '\n', len - *pos);
	n = nl != NULL ? (size_t)(nl - s) : len - *pos;
	*pos += n + (nl != NULL);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	l->s = s;
	l->len = n;
	l->no = ++*lineno;
	return true;
}

static char *
check_line(const char *path, const struct line *l)
{
	if (l->len > AL_LINE_MAX)
		return xasprintf("%s:%u: line too long (more than %d bytes)", path, l->no,
		    AL_LINE_MAX);
	for (size_t i = 0; i < l->len; i++) {
		unsigned char c = (unsigned char)l->s[i];
		if (c == '\0')
			return xasprintf("%s:%u: NUL byte", path, l->no);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return xasprintf("%s:%u: control character 0x%02x", path, l->no, c);
	}
	return NULL;
}

static void
src_reset(struct src *s)
{
	s->len = 0;
	s->nseg = 0;
}

static void
src_free(struct src *s)
{
	free(s->buf);
	free(s->segoff);
	free(s->segline);
}

static void
src_append(struct src *s, const struct line *l)
{
	size_t need = s->len + l->len + 2;

	if (need > s->cap) {
		s->cap = need * 2;
		s->buf = xrealloc(s->buf, s->cap);
	}
	if (s->nseg == s->segcap) {
		s->segcap = s->segcap ? s->segcap * 2 : 8;
		s->segoff = xreallocarray(s->segoff, s->segcap, sizeof(*s->segoff));
		s->segline = xreallocarray(s->segline, s->segcap, sizeof(*s->segline));
	}
	if (s->nseg > 0)
		s->buf[s->len++] = '\n';
	s->segoff[s->nseg] = s->len;
	s->segline[s->nseg] = l->no;
	s->nseg++;
	memcpy(s->buf + s->len, l->s, l->len);
	s->len += l->len;
	s->buf[s->len] = '\0';
}

static unsigned
src_line(const struct src *s, size_t pos)
{
	size_t i = 0;

	while (i + 1 < s->nseg && s->segoff[i + 1] <= pos)
		i++;
	return s->segline[i];
}

static char *src_err(const struct src *s, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *
src_err(const struct src *s, size_t pos, const char *fmt, ...)
{
	va_list ap;
	char *msg, *r;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatalx("out of memory");
	va_end(ap);
	r = xasprintf("%s:%u: %s", s->path, src_line(s, pos), msg);
	free(msg);
	return r;
}

static void
tlist_add(struct tlist *t, enum alias_kind kind, char *value)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n].kind = kind;
	t->v[t->n].value = value;
	t->n++;
}

/* A "..." string at *pos with quoted-pairs undone; it may not span lines. */
static char *
parse_quoted(const struct src *s, size_t *pos, char **err)
{
	size_t p = *pos + 1, o = 0;
	char *out = xmalloc(s->len - *pos);

	for (;;) {
		char c;
		if (p >= s->len || s->buf[p] == '\n')
			goto bad;
		c = s->buf[p++];
		if (c == '"')
			break;
		if (c == '\\') {
			if (p >= s->len || s->buf[p] == '\n')
				goto bad;
			c = s->buf[p++];
		}
		out[o++] = c;
	}
	out[o] = '\0';
	*pos = p;
	return out;
bad:
	free(out);
	*err = src_err(s, *pos, "unterminated quoted string");
	return NULL;
}

static bool
has_ws(const char *s)
{
	return strpbrk(s, " \t") != NULL;
}

/* Decide what a target is; takes ownership of val. */
static int
classify(const struct src *s, size_t pos, char *val, bool quoted, struct tlist *out,
    char **err)
{
	char *a = val, *at;
	size_t n;

	if (val[0] == '|') {
		const char *cmd = val + 1;
		while (is_ws(*cmd))
			cmd++;
		if (*cmd == '\0') {
			*err = src_err(s, pos, "empty command after '|'");
			goto fail;
		}
		tlist_add(out, ALIAS_PIPE, xstrdup(cmd));
		free(val);
		return 0;
	}
	if (strncasecmp(val, ":include:", 9) == 0) {
		const char *p = val + 9;
		while (is_ws(*p))
			p++;
		if (*p == '\0') {
			*err = src_err(s, pos, "missing path after :include:");
			goto fail;
		}
		if (*p != '/') {
			*err = src_err(s, pos, "relative :include: path '%s'", p);
			goto fail;
		}
		if (!quoted && has_ws(p)) {
			*err = src_err(s, pos, "whitespace in :include: path '%s' (quote it)", p);
			goto fail;
		}
		tlist_add(out, ALIAS_INCLUDE, xstrdup(p));
		free(val);
		return 0;
	}
	if (val[0] == '/') {
		if (!quoted && has_ws(val)) {
			*err = src_err(s, pos, "whitespace in file name '%s' (quote it)", val);
			goto fail;
		}
		tlist_add(out, ALIAS_FILE, val);
		return 0;
	}

	n = strlen(a);
	if (!quoted && a[0] == '<') {
		if (n < 2 || a[n - 1] != '>') {
			*err = src_err(s, pos, "missing '>' in '%s'", val);
			goto fail;
		}
		a[n - 1] = '\0';
		a++;
	}
	if (*a == '\0') {
		*err = src_err(s, pos, "empty address");
		goto fail;
	}
	if (!quoted) {
		for (const char *c = a; *c != '\0'; c++) {
			if (is_ws(*c)) {
				*err = src_err(s, pos, "whitespace in address '%s' (missing comma?)", a);
				goto fail;
			}
			if (strchr("<>\"():;\\", *c) != NULL) {
				*err = src_err(s, pos, "invalid character '%c' in address '%s'", *c, a);
				goto fail;
			}
		}
	}
	at = strrchr(a, '@');
	if (at == a) {
		*err = src_err(s, pos, "empty local part in '%s'", a);
		goto fail;
	}
	if (at != NULL && at[1] == '\0') {
		*err = src_err(s, pos, "empty domain in '%s'", a);
		goto fail;
	}
	if (!quoted && at != NULL && memchr(a, '@', (size_t)(at - a)) != NULL) {
		*err = src_err(s, pos, "more than one '@' in '%s'", a);
		goto fail;
	}
	/* Sendmail would take "x/y" as a file relative to nowhere useful. */
	if (at == NULL && strchr(a, '/') != NULL) {
		*err = src_err(s, pos, "relative path '%s' (file targets must be absolute)", a);
		goto fail;
	}
	tlist_add(out, ALIAS_ADDR, xstrdup(a));
	free(val);
	return 0;
fail:
	free(val);
	return -1;
}

/* Targets from position p on: separated by ',' or line breaks. */
static int
parse_targets(const struct src *s, size_t p, struct tlist *out, char **err)
{
	while (p < s->len) {
		char c = s->buf[p], *val;
		size_t start = p;
		bool quoted;

		if (is_ws(c) || c == '\n' || c == ',') {
			p++;
			continue;
		}
		if (c == '"') {
			if ((val = parse_quoted(s, &p, err)) == NULL)
				return -1;
			while (p < s->len && is_ws(s->buf[p]))
				p++;
			if (p < s->len && s->buf[p] != ',' && s->buf[p] != '\n') {
				free(val);
				*err = src_err(s, p, "unexpected text after quoted target");
				return -1;
			}
			quoted = true;
		} else {
			size_t e = p, end;
			while (e < s->len && s->buf[e] != ',' && s->buf[e] != '\n')
				e++;
			end = e;
			while (end > p && is_ws(s->buf[end - 1]))
				end--;
			val = xstrndup(s->buf + p, end - p);
			p = e;
			quoted = false;
		}
		if (classify(s, start, val, quoted, out, err) < 0)
			return -1;
	}
	return 0;
}

/* "name: targets" in s; the name must end on the first line. */
static int
parse_entry(const struct src *s, struct alias_entry *e, char **err)
{
	struct tlist tl = { 0 };
	size_t p = 0;
	bool quoted = s->buf[0] == '"';
	char *name;

	if (quoted) {
		if ((name = parse_quoted(s, &p, err)) == NULL)
			return -1;
	} else {
		while (p < s->len && s->buf[p] != ':' && !is_ws(s->buf[p]) &&
		    s->buf[p] != '\n' && s->buf[p] != '"')
			p++;
		name = xstrndup(s->buf, p);
	}
	while (p < s->len && is_ws(s->buf[p]))
		p++;
	if (p >= s->len || s->buf[p] != ':') {
		*err = src_err(s, 0, "missing ':' after alias name");
		goto fail;
	}
	p++;
	if (name[0] == '\0') {
		*err = src_err(s, 0, "empty alias name");
		goto fail;
	}
	if (!quoted) {
		const char *bad = strpbrk(name, "@,<>");
		if (bad != NULL) {
			*err = src_err(s, 0, "invalid character '%c' in alias name '%s'", *bad,
			    name);
			goto fail;
		}
	}
	str_lower(name);
	if (parse_targets(s, p, &tl, err) < 0)
		goto fail;
	if (tl.n == 0) {
		*err = src_err(s, 0, "no targets for alias '%s'", name);
		goto fail;
	}
	e->name = name;
	e->targets = tl.v;
	e->ntargets = tl.n;
	e->line = s->segline[0];
	return 0;
fail:
	free(name);
	alias_targets_free(tl.v, tl.n);
	return -1;
}

void
alias_targets_free(struct alias_target *t, size_t n)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(t[i].value);
	free(t);
}

static int
entry_cmp(const void *x, const void *y)
{
	const struct alias_entry *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c != 0)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

struct dupwarn {
	unsigned line;
	char *text;
};

static int
dupwarn_cmp(const void *x, const void *y)
{
	const struct dupwarn *a = x, *b = y;

	return a->line < b->line ? -1 : a->line > b->line;
}

/* Sort, keep the last of each name (like the header says), warn about the rest. */
static char *
sort_dedupe(struct aliases *a)
{
	struct dupwarn *w = NULL;
	size_t nw = 0, o = 0, wlen = 0;
	char *text;

	if (a->nentries == 0)
		return NULL;
	qsort(a->entries, a->nentries, sizeof(*a->entries), entry_cmp);
	for (size_t i = 0; i < a->nentries; i++) {
		struct alias_entry *e = &a->entries[i];
		if (i + 1 < a->nentries && strcmp(e->name, e[1].name) == 0) {
			w = xreallocarray(w, nw + 1, sizeof(*w));
			w[nw].line = e[1].line;
			w[nw].text = xasprintf("%s:%u: duplicate alias '%s' overrides line %u",
			    a->path, e[1].line, e->name, e->line);
			wlen += strlen(w[nw].text) + 1;
			nw++;
			free(e->name);
			alias_targets_free(e->targets, e->ntargets);
			continue;
		}
		a->entries[o++] = *e;
	}
	a->nentries = o;
	if (nw == 0)
		return NULL;
	qsort(w, nw, sizeof(*w), dupwarn_cmp);
	text = xmalloc(wlen);
	text[0] = '\0';
	for (size_t i = 0, off = 0; i < nw; i++) {
		size_t l = strlen(w[i].text);
		memcpy(text + off, w[i].text, l);
		off += l;
		text[off] = i + 1 < nw ? '\n' : '\0';
		off++;
		free(w[i].text);
	}
	free(w);
	return text;
}

static int
flush_entry(struct src *s, struct aliases *a, size_t *cap, char **err)
{
	struct alias_entry e;

	if (s->nseg == 0)
		return 0;
	if (parse_entry(s, &e, err) < 0)
		return -1;
	src_reset(s);
	if (a->nentries == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		a->entries = xreallocarray(a->entries, *cap, sizeof(*a->entries));
	}
	a->entries[a->nentries++] = e;
	return 0;
}

struct aliases *
aliases_parse(const char *text, size_t len, const char *path, char **error_r,
    char **warnings_r)
{
	struct aliases *a = xcalloc(1, sizeof(*a));
	struct src s = { 0 };
	struct line l;
	size_t pos = 0, cap = 0;
	unsigned lineno = 0;
	char *err = NULL, *warn;

	if (error_r != NULL)
		*error_r = NULL;
	if (warnings_r != NULL)
		*warnings_r = NULL;
	if (path == NULL)
		path = "-";
	if (text == NULL)
		len = 0;
	a->path = xstrdup(path);
	s.path = a->path;
	while (next_line(text, len, &pos, &lineno, &l)) {
		size_t i = 0;

		if ((err = check_line(path, &l)) != NULL)
			goto fail;
		while (i < l.len && is_ws(l.s[i]))
			i++;
		if (i == l.len) {
			/* A blank line ends the entry. */
			if (flush_entry(&s, a, &cap, &err) < 0)
				goto fail;
			continue;
		}
		if (l.s[i] == '#')
			continue;
		if (i > 0) {
			if (s.nseg == 0) {
				err = xasprintf("%s:%u: continuation line without an alias name",
				    path, l.no);
				goto fail;
			}
		} else if (flush_entry(&s, a, &cap, &err) < 0)
			goto fail;
		src_append(&s, &l);
	}
	if (flush_entry(&s, a, &cap, &err) < 0)
		goto fail;
	src_free(&s);
	warn = sort_dedupe(a);
	if (warnings_r != NULL)
		*warnings_r = warn;
	else
		free(warn);
	return a;
fail:
	src_free(&s);
	aliases_free(&a);
	if (error_r != NULL)
		*error_r = err;
	else
		free(err);
	return NULL;
}

void
aliases_free(struct aliases **ap)
{
	struct aliases *a;

	if (ap == NULL || (a = *ap) == NULL)
		return;
	for (size_t i = 0; i < a->nentries; i++) {
		free(a->entries[i].name);
		alias_targets_free(a->entries[i].targets, a->entries[i].ntargets);
	}
	free(a->entries);
	free(a->path);
	free(a);
	*ap = NULL;
}

int
aliases_parse_list(const char *text, size_t len, const char *path,
    struct alias_target **targets_r, size_t *ntargets_r, char **error_r)
{
	struct tlist tl = { 0 };
	struct src s = { 0 };
	struct line l;
	size_t pos = 0;
	unsigned lineno = 0;
	char *err = NULL;

	*targets_r = NULL;
	*ntargets_r = 0;
	if (error_r != NULL)
		*error_r = NULL;
	if (path == NULL)
		path = "-";
	if (text == NULL)
		len = 0;
	s.path = path;
	while (next_line(text, len, &pos, &lineno, &l)) {
		size_t i = 0;

		if ((err = check_line(path, &l)) != NULL)
			goto fail;
		while (i < l.len && is_ws(l.s[i]))
			i++;
		if (i == l.len || l.s[i] == '#')
			continue;
		src_reset(&s);
		src_append(&s, &l);
		if (parse_targets(&s, 0, &tl, &err) < 0)
			goto fail;
	}
	src_free(&s);
	*targets_r = tl.v;
	*ntargets_r = tl.n;
	return 0;
fail:
	src_free(&s);
	alias_targets_free(tl.v, tl.n);
	if (error_r != NULL)
		*error_r = err;
	else
		free(err);
	return -1;
}

static int
entry_key_cmp(const void *key, const void *elem)
{
	return str_cmp_lower(key, ((const struct alias_entry *)elem)->name);
}

const struct alias_entry *
aliases_lookup(const struct aliases *a, const char *name)
{
	if (a == NULL || name == NULL || a->nentries == 0)
		return NULL;
	return bsearch(name, a->entries, a->nentries, sizeof(a->entries[0]), entry_key_cmp);
}

void
alias_result_free(struct alias_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ndests; i++)
		free(r->dests[i].value);
	free(r->dests);
	r->dests = NULL;
	r->ndests = 0;
}

struct xstate {
	const struct aliases *a;
	const struct alias_expand_ops *ops;
	struct alias_result *r;
	size_t cap;
	const char *names[AL_MAX_DEPTH];	/* aliases on the current path */
	size_t nnames;
	const char *incs[AL_MAX_DEPTH];		/* include files on the current path */
	size_t nincs;
	unsigned includes, visits;
	const char *err;
};

/* Detail of the last include parse error, so *error_r can stay static text. */
static _Thread_local char include_err[512];

static int expand_target(struct xstate *, const struct alias_target *, uid_t, gid_t);

static int
add_dest(struct xstate *st, enum alias_dest_kind kind, const char *value, uid_t uid,
    gid_t gid)
{
	struct alias_result *r = st->r;
	bool runs = kind == DEST_FILE || kind == DEST_PIPE;

	if (!runs) {
		uid = 0;
		gid = 0;
	} else if (uid == 0) {
		st->err = "no unprivileged user for file or pipe delivery";
		return -1;
	}
	for (size_t i = 0; i < r->ndests; i++) {
		const struct alias_dest *d = &r->dests[i];
		if (d->kind == kind && d->uid == uid && d->gid == gid &&
		    strcmp(d->value, value) == 0)
			return 0;
	}
	if (r->ndests >= AL_MAX_DESTS) {
		st->err = "too many alias destinations";
		return -1;
	}
	if (r->ndests == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 8;
		r->dests = xreallocarray(r->dests, st->cap, sizeof(*r->dests));
	}
	r->dests[r->ndests].kind = kind;
	r->dests[r->ndests].value = xstrdup(value);
	r->dests[r->ndests].uid = uid;
	r->dests[r->ndests].gid = gid;
	r->ndests++;
	return 0;
}

static bool
too_deep(struct xstate *st)
{
	if (st->nnames + st->nincs < AL_MAX_DEPTH)
		return false;
	st->err = "alias expansion too deep";
	return true;
}

/* name is lower-cased. */
static int
expand_name(struct xstate *st, const char *name)
{
	const struct alias_entry *e;
	uid_t uid;
	gid_t gid;

	/* A name already on the path closes a loop: deliver to that user. */
	for (size_t i = 0; i < st->nnames; i++)
		if (strcmp(st->names[i], name) == 0)
			return add_dest(st, DEST_LOCAL, name, 0, 0);
	if ((e = aliases_lookup(st->a, name)) == NULL)
		return add_dest(st, DEST_LOCAL, name, 0, 0);
	if (too_deep(st))
		return -1;
	if (st->a->owner != 0) {
		uid = st->a->owner;
		gid = st->a->group != 0 ? st->a->group : st->ops->default_gid;
	} else {
		uid = st->ops->default_uid;
		gid = st->ops->default_gid;
	}
	st->names[st->nnames++] = e->name;
	for (size_t i = 0; i < e->ntargets; i++)
		if (expand_target(st, &e->targets[i], uid, gid) < 0)
			return -1;
	st->nnames--;
	return 0;
}

static int
expand_include(struct xstate *st, const char *path)
{
	const struct alias_expand_ops *ops = st->ops;
	struct alias_target *t;
	size_t n, len = 0;
	char *data = NULL, *perr;
	const char *rerr = NULL;
	uid_t owner = 0, uid;
	gid_t group = 0, gid;
	int rc = 0;

	/* Already being expanded further up: its targets are on their way. */
	for (size_t i = 0; i < st->nincs; i++)
		if (strcmp(st->incs[i], path) == 0)
			return 0;
	if (too_deep(st))
		return -1;
	if (st->includes >= AL_MAX_INCLUDES) {
		st->err = "too many :include: files";
		return -1;
	}
	st->includes++;
	if (ops->read_include == NULL) {
		st->err = ":include: is not available";
		return -1;
	}
	if (ops->read_include(ops->ctx, path, &data, &len, &owner, &group, &rerr) < 0) {
		st->err = rerr != NULL ? rerr : "cannot read :include: file";
		return -1;
	}
	if (aliases_parse_list(data, len, path, &t, &n, &perr) < 0) {
		free(data);
		snprintf(include_err, sizeof(include_err), "%s", perr);
		free(perr);
		st->err = include_err;
		return -1;
	}
	free(data);
	if (owner != 0) {
		uid = owner;
		gid = group != 0 ? group : ops->default_gid;
	} else {
		uid = ops->default_uid;
		gid = ops->default_gid;
	}
	st->incs[st->nincs++] = path;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = expand_target(st, &t[i], uid, gid);
	st->nincs--;
	alias_targets_free(t, n);
	return rc;
}

static int
expand_addr(struct xstate *st, const char *addr)
{
	const struct alias_expand_ops *ops = st->ops;
	const char *at = strrchr(addr, '@');
	char *local, *domain, *full;
	int rc;

	if (at == NULL) {
		local = xstrdup(addr);
		str_lower(local);
		rc = expand_name(st, local);
		free(local);
		return rc;
	}
	local = xstrndup(addr, (size_t)(at - addr));
	domain = xstrdup(at + 1);
	str_lower(domain);
	if (ops->is_local_domain != NULL && ops->is_local_domain(ops->ctx, domain)) {
		str_lower(local);
		rc = expand_name(st, local);
	} else {
		full = xasprintf("%s@%s", local, domain);
		rc = add_dest(st, DEST_REMOTE, full, 0, 0);
		free(full);
	}
	free(local);
	free(domain);
	return rc;
}

static int
expand_target(struct xstate *st, const struct alias_target *t, uid_t uid, gid_t gid)
{
	if (++st->visits > AL_MAX_VISITS) {
		st->err = "alias expansion too large";
		return -1;
	}
	switch (t->kind) {
	case ALIAS_ADDR:
		return expand_addr(st, t->value);
	case ALIAS_FILE:
		return add_dest(st, DEST_FILE, t->value, uid, gid);
	case ALIAS_PIPE:
		return add_dest(st, DEST_PIPE, t->value, uid, gid);
	case ALIAS_INCLUDE:
		return expand_include(st, t->value);
	}
	st->err = "unknown alias target kind";
	return -1;
}

int
aliases_expand(const struct aliases *a, const char *name, const struct alias_expand_ops *ops,
    struct alias_result *r, const char **error_r)
{
	struct xstate st = { .a = a, .ops = ops, .r = r };
	char *lname;
	int rc;

	r->dests = NULL;
	r->ndests = 0;
	if (error_r != NULL)
		*error_r = NULL;
	lname = xstrdup(name);
	str_lower(lname);
	rc = expand_name(&st, lname);
	free(lname);
	if (rc < 0) {
		alias_result_free(r);
		if (error_r != NULL)
			*error_r = st.err;
		return -1;
	}
	return 0;
}
