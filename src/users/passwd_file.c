/* passwd_file: Dovecot-style passwd-file parser (pure, bounded). */
#include "users/passwd_file.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define PWF_LINE_MAX	4096		/* bytes per line, without the newline */
#define PWF_ID_MAX	4294967294UL	/* (uid_t)-1 means "no id" to the kernel */
#define PWF_FIELDS	8		/* user:password:uid:gid:gecos:home:shell:extra */

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* "" -> -1; otherwise decimal digits only, in range. */
static int
parse_id(const char *s, size_t n, long *id_r)
{
	unsigned long v = 0;

	if (n == 0) {
		*id_r = -1;
		return 0;
	}
	if (n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > PWF_ID_MAX || v > (unsigned long)LONG_MAX)
		return -1;
	*id_r = (long)v;
	return 0;
}

/* "name" or "name@domain", printable, no spaces. */
static bool
valid_user(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);

	for (size_t i = 0; i < n; i++)
		if (s[i] == ' ' || s[i] == '"')
			return false;
	if (at == NULL)
		return true;
	return at != s && at + 1 != s + n && memchr(at + 1, '@', n - (size_t)(at - s) - 1) == NULL;
}

static void
user_free(struct pwf_user *u)
{
	free(u->user);
	free(u->password);
	free(u->home);
	free(u->extra);
}

static int
user_cmp(const void *x, const void *y)
{
	const struct pwf_user *a = x, *b = y;
	int c = strcmp(a->user, b->user);

	if (c != 0)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* One data line into u; NULL or an allocated error. */
static char *
parse_user(const char *path, unsigned no, const char *s, size_t len, struct pwf_user *u)
{
	const char *f[PWF_FIELDS];
	size_t fl[PWF_FIELDS], nf = 0, p = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0')
			return xasprintf("%s:%u: NUL byte", path, no);
		if (c < 0x20 || c == 0x7f)
			return xasprintf("%s:%u: control character 0x%02x", path, no, c);
	}
	/* The last field takes the rest of the line, ':' included. */
	while (nf < PWF_FIELDS) {
		const char *colon = nf + 1 < PWF_FIELDS ? memchr(s + p, ':', len - p) : NULL;
		size_t e = colon != NULL ? (size_t)(colon - s) : len;
		f[nf] = s + p;
		fl[nf] = e - p;
		nf++;
		if (colon == NULL)
			break;
		p = e + 1;
	}
	for (size_t i = nf; i < PWF_FIELDS; i++) {
		f[i] = "";
		fl[i] = 0;
	}
	if (fl[0] == 0)
		return xasprintf("%s:%u: missing user name", path, no);
	if (!valid_user(f[0], fl[0]))
		return xasprintf("%s:%u: invalid user name '%.*s'", path, no, (int)fl[0], f[0]);
	if (parse_id(f[2], fl[2], &u->uid) < 0)
		return xasprintf("%s:%u: invalid uid '%.*s'", path, no, (int)fl[2], f[2]);
	if (parse_id(f[3], fl[3], &u->gid) < 0)
		return xasprintf("%s:%u: invalid gid '%.*s'", path, no, (int)fl[3], f[3]);
	u->user = xstrndup(f[0], fl[0]);
	str_lower(u->user);
	u->password = xstrndup(f[1], fl[1]);
	u->home = xstrndup(f[5], fl[5]);
	u->extra = xstrndup(f[7], fl[7]);
	u->line = no;
	return NULL;
}

/* Users sorted; the earliest second occurrence of any name is the error. */
static char *
find_duplicate(const struct pwf *p)
{
	const struct pwf_user *first = NULL, *dup = NULL;

	for (size_t i = 0; i + 1 < p->nusers; i++) {
		const struct pwf_user *u = &p->users[i];
		if (strcmp(u->user, u[1].user) != 0)
			continue;
		if (dup == NULL || u[1].line < dup->line) {
			dup = &u[1];
			first = u;
		}
		/* Only the first two of a run matter. */
		while (i + 1 < p->nusers && strcmp(u->user, p->users[i + 1].user) == 0)
			i++;
	}
	if (dup == NULL)
		return NULL;
	return xasprintf("%s:%u: duplicate user '%s' (first on line %u)", p->path, dup->line,
	    dup->user, first->line);
}

struct pwf *
pwf_parse(const char *text, size_t len, const char *path, char **error_r)
{
	struct pwf *p = xcalloc(1, sizeof(*p));
	size_t pos = 0, cap = 0;
	unsigned no = 0;
	char *err = NULL;

	if (error_r != NULL)
		*error_r = NULL;
	if (path == NULL)
		path = "-";
	if (text == NULL)
		len = 0;
	p->path = xstrdup(path);
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - s) : len - pos, i = 0;

		pos += n + (nl != NULL);
		no++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > PWF_LINE_MAX) {
			err = xasprintf("%s:%u: line too long (more than %d bytes)", path, no,
			    PWF_LINE_MAX);
			goto fail;
		}
		while (i < n && is_ws(s[i]))
			i++;
		if (i == n || s[i] == '#') {
			/* Skipped, but still no control characters. */
			for (; i < n; i++) {
				unsigned char c = (unsigned char)s[i];
				if ((c < 0x20 && c != '\t') || c == 0x7f) {
					err = xasprintf("%s:%u: control character 0x%02x", path,
					    no, c);
					goto fail;
				}
			}
			continue;
		}
		if (p->nusers == cap) {
			cap = cap ? cap * 2 : 16;
			p->users = xreallocarray(p->users, cap, sizeof(*p->users));
		}
		memset(&p->users[p->nusers], 0, sizeof(*p->users));
		if ((err = parse_user(path, no, s, n, &p->users[p->nusers])) != NULL)
			goto fail;
		p->nusers++;
	}
	if (p->nusers > 0)
		qsort(p->users, p->nusers, sizeof(*p->users), user_cmp);
	if ((err = find_duplicate(p)) != NULL)
		goto fail;
	return p;
fail:
	pwf_free(&p);
	if (error_r != NULL)
		*error_r = err;
	else
		free(err);
	return NULL;
}

void
pwf_free(struct pwf **pp)
{
	struct pwf *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	for (size_t i = 0; i < p->nusers; i++)
		user_free(&p->users[i]);
	free(p->users);
	free(p->path);
	free(p);
	*pp = NULL;
}

static int
user_key_cmp(const void *key, const void *elem)
{
	return str_cmp_lower(key, ((const struct pwf_user *)elem)->user);
}

const struct pwf_user *
pwf_lookup(const struct pwf *p, const char *user)
{
	if (p == NULL || user == NULL || p->nusers == 0)
		return NULL;
	return bsearch(user, p->users, p->nusers, sizeof(p->users[0]), user_key_cmp);
}
