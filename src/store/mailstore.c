/* mailstore: a user's Maildir++ folders — names, directories, subscriptions
 * and special-use. See mailstore.h for the naming rules. */
#include "store/mailstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap/mutf7.h"
#include "lib/util.h"
#include "store/maildir.h"
#include "store/mdfiles.h"

#define MAX_LEVELS	16
#define MAX_STORED	255	/* the directory name ".a.b": NAME_MAX */
#define NAME_INPUT_MAX	1024	/* longer UTF-8 never fits MAX_STORED */
#define SUBS_FILE	"subscriptions"
#define SUBS_LOCK	"subscriptions.lock"
#define SUBS_MAX	100000
#define SPECIAL_FILE	"estafeta-special-use"
#define FOLDER_MARK	"maildirfolder"
#define LOCK_STALE	120	/* seconds, as Dovecot's dotlocks */
#define LOCK_WAIT_MS	5000
#define SU_CREATABLE	(SU_ARCHIVE | SU_DRAFTS | SU_JUNK | SU_SENT | SU_TRASH)

#define E_INVALID	"[CANNOT] Invalid mailbox name"
#define E_EXISTS	"[ALREADYEXISTS] Mailbox already exists"
#define E_NOTFOUND	"[NONEXISTENT] Mailbox doesn't exist"

/* The folders made on first use, with the special-use they get. */
static const struct {
	const char *name;
	unsigned su;
} defaults[] = {
	{ "Drafts", SU_DRAFTS },
	{ "Sent", SU_SENT },
	{ "Trash", SU_TRASH },
	{ "Junk", SU_JUNK },
	{ "Archive", SU_ARCHIVE },
};
#define NDEFAULTS (sizeof(defaults) / sizeof(defaults[0]))

static const struct {
	const char *attr;
	unsigned su;
} su_names[] = {
	{ "\\All", SU_ALL },
	{ "\\Archive", SU_ARCHIVE },
	{ "\\Drafts", SU_DRAFTS },
	{ "\\Flagged", SU_FLAGGED },
	{ "\\Junk", SU_JUNK },
	{ "\\Sent", SU_SENT },
	{ "\\Trash", SU_TRASH },
};

static _Thread_local char errbuf[512];

static const char *
sys_err(const char *what)
{
	snprintf(errbuf, sizeof(errbuf), "%s: %s", what, strerror(errno));
	return errbuf;
}

static const char *
bad_name(const char *why)
{
	snprintf(errbuf, sizeof(errbuf), E_INVALID ": %s", why);
	return errbuf;
}

/* ---- names ---- */

/* A checked name: storage forms of its levels, modified UTF-7. */
struct sname {
	bool inbox;			/* the root itself */
	size_t levels;
	char stored[MAX_STORED + 1];	/* "a.b": the directory is "." + this */
	char subs[MAX_STORED + 1];	/* "a/b": as the subscriptions file holds it */
};

/* One level of an IMAP name (UTF-8): why it is refused, or NULL. */
static const char *
level_check(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	if (n == 0)
		return "empty hierarchy level";
	if (u[0] == '.' || u[0] == '~')
		return "a level must not begin with '.' or '~'";
	for (size_t i = 0; i < n; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return "control character";
		/* C1 controls, U+0080..U+009F */
		if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			return "control character";
		if (u[i] == '.' || u[i] == '\\' || u[i] == '%' || u[i] == '*')
			return "'.', '\\', '%' and '*' are not allowed";
	}
	return NULL;
}

/* Check and encode an IMAP name. strict: our naming rules (else only what
 * the subscriptions file needs, for names others wrote there). A first
 * level "INBOX" in any case is INBOX. 0, or -1 with *error_r. */
static int
name_parse(const char *name, bool drop_trailing, bool strict, struct sname *out,
    const char **error_r)
{
	memset(out, 0, sizeof(*out));
	if (name == NULL || name[0] == '\0') {
		*error_r = bad_name("empty name");
		return -1;
	}
	size_t len = strlen(name);
	if (len > NAME_INPUT_MAX) {
		*error_r = bad_name("name too long");
		return -1;
	}
	if (drop_trailing && len > 1 && name[len - 1] == MAILSTORE_SEP)
		len--;
	size_t so = 0, uo = 0;
	const char *p = name, *end = name + len;
	for (;;) {
		const char *sep = memchr(p, MAILSTORE_SEP, (size_t)(end - p));
		size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);
		const char *why = strict ? level_check(p, n) : n == 0 ? "empty hierarchy level" :
		    NULL;
		if (why != NULL) {
			*error_r = bad_name(why);
			return -1;
		}
		if (++out->levels > MAX_LEVELS) {
			*error_r = bad_name("too many hierarchy levels");
			return -1;
		}
		char enc[NAME_INPUT_MAX * 3 + 8];
		if (out->levels == 1 && n == 5 && strncasecmp(p, "INBOX", 5) == 0)
			memcpy(enc, "INBOX", 6);
		else if (mutf7_encode(p, n, enc, sizeof(enc)) != 0) {
			*error_r = bad_name("not valid UTF-8");
			return -1;
		}
		size_t el = strlen(enc);
		/* +1 for the separator, +1 for the directory's leading dot */
		if (so + el + (so > 0) + 1 > MAX_STORED) {
			*error_r = bad_name("name too long");
			return -1;
		}
		if (so > 0) {
			out->stored[so++] = '.';
			out->subs[uo++] = MAILSTORE_SEP;
		}
		memcpy(out->stored + so, enc, el + 1);
		memcpy(out->subs + uo, enc, el + 1);
		so += el;
		uo += el;
		if (sep == NULL)
			break;
		p = sep + 1;
	}
	out->inbox = out->levels == 1 && strcmp(out->stored, "INBOX") == 0;
	return 0;
}

/* Storage name with '.' (or '/') between modified UTF-7 levels -> UTF-8
 * IMAP name (malloc'd), or NULL when a level does not decode. */
static char *
name_decode(const char *stored, char sep)
{
	size_t len = strlen(stored);
	char *out = xmalloc(len * 2 + 2), *o = out;
	const char *p = stored, *end = stored + len;
	for (;;) {
		const char *s = memchr(p, sep, (size_t)(end - p));
		size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
		if (n == 0 || mutf7_decode(p, n, o, len * 2 + 2 - (size_t)(o - out)) != 0) {
			free(out);
			return NULL;
		}
		o += strlen(o);
		if (s == NULL)
			break;
		*o++ = MAILSTORE_SEP;
		p = s + 1;
	}
	*o = '\0';
	return out;
}

/* The IMAP name of a folder directory entry (without its dot), or NULL for
 * one that is no folder of ours: it must come back to the same directory,
 * so every listed name is one mailstore_path accepts. */
static char *
folder_name(const char *stored)
{
	char *name = name_decode(stored, '.');
	struct sname sn;
	const char *err;
	if (name == NULL)
		return NULL;
	if (name_parse(name, false, true, &sn, &err) != 0 || sn.inbox ||
	    strcmp(sn.stored, stored) != 0) {
		free(name);
		return NULL;
	}
	return name;
}

const char *
mailstore_canon(const char *name)
{
	return str_ieq(name, "INBOX") ? "INBOX" : name;
}

static char *
dir_of(const struct mailstore *ms, const struct sname *sn)
{
	if (sn->inbox && ms->inbox_mbox != NULL)
		return xasprintf("mbox:%s\n%s", ms->inbox_mbox, ms->root);
	return sn->inbox ? xstrdup(ms->root) : xasprintf("%s/.%s", ms->root, sn->stored);
}

char *
mailstore_path(const struct mailstore *ms, const char *name, const char **error_r)
{
	struct sname sn;
	if (name_parse(name, false, true, &sn, error_r) != 0)
		return NULL;
	return dir_of(ms, &sn);
}

/* ---- files ---- */

/* The dot-named directories of the root (names without the dot), not
 * following symlinks: a link could lead out of the root. */
static int
scan_dirs(const char *root, char ***names_r, size_t *n_r)
{
	DIR *d = opendir(root);
	*names_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return -1;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (*n_r == cap) {
			cap = cap ? cap * 2 : 16;
			*names_r = xreallocarray(*names_r, cap, sizeof(char *));
		}
		(*names_r)[(*n_r)++] = xstrdup(de->d_name + 1);
	}
	closedir(d);
	return 0;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static unsigned
special_parse(const char *text)
{
	unsigned su = 0;
	const char *p = text;
	while (*p != '\0') {
		size_t n = strcspn(p, " \t\r\n");
		for (size_t i = 0; i < sizeof(su_names) / sizeof(su_names[0]); i++)
			if (strlen(su_names[i].attr) == n && strncasecmp(p, su_names[i].attr, n) == 0)
				su |= su_names[i].su;
		p += n;
		p += strspn(p, " \t\r\n");
	}
	return su;
}

/* A folder's special-use: its file when there is one (empty: none), else
 * the default a top-level folder of that name has (a Maildir made by
 * Dovecot, whose special-use lives in its configuration, by these names). */
static unsigned
special_of(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, SPECIAL_FILE), *text;
	size_t len;
	int r = read_file(p, 4096, &text, &len);
	int e = errno;
	free(p);
	if (r == 0) {
		unsigned su = special_parse(text);
		free(text);
		return su;
	}
	if (e != ENOENT)
		return SU_NONE;
	for (size_t i = 0; i < NDEFAULTS; i++)
		if (strcmp(name, defaults[i].name) == 0)
			return defaults[i].su;
	return SU_NONE;
}

static int
special_write(const char *dir, unsigned su, const char **error_r)
{
	char text[256];
	size_t o = 0;
	text[0] = '\0';
	for (size_t i = 0; i < sizeof(su_names) / sizeof(su_names[0]); i++)
		if (su & su_names[i].su)
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", o ? " " : "",
			    su_names[i].attr);
	text[o++] = '\n';
	char *p = xasprintf("%s/%s", dir, SPECIAL_FILE);
	int r = atomic_write(p, text, o, 0600);
	free(p);
	if (r != 0)
		*error_r = sys_err("special-use");
	return r;
}

/* Make the folder directory "." + stored: a Maildir with Courier's and
 * Dovecot's empty "maildirfolder" marker. 0 made, 1 when it existed (an
 * error when excl), -1 with *error_r. */
static int
folder_make(const struct mailstore *ms, const char *stored, bool excl, const char **error_r)
{
	char *path = xasprintf("%s/.%s", ms->root, stored);
	int r = -1;
	if (mkdir(path, 0700) != 0) {
		struct stat st;
		if (errno != EEXIST)
			*error_r = sys_err("create mailbox");
		else if (excl)
			*error_r = E_EXISTS;
		else if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			*error_r = "[CANNOT] A file of that name is in the way";
		else
			r = 1;
		free(path);
		return r;
	}
	if (maildir_create(path, error_r) != STORE_OK) {
		char *sub;
		static const char *const subs[] = { "cur", "new", "tmp" };
		for (size_t i = 0; i < 3; i++) {
			sub = xasprintf("%s/%s", path, subs[i]);
			rmdir(sub);
			free(sub);
		}
		rmdir(path);
		free(path);
		return -1;
	}
	char *mark = xasprintf("%s/%s", path, FOLDER_MARK);
	int fd = open(mark, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		r = 0;
	} else
		*error_r = sys_err("create maildirfolder");
	free(mark);
	free(path);
	return r;
}

/* Make the parents of a name that are not there (not INBOX: the root). */
static int
parents_make(const struct mailstore *ms, const struct sname *sn, const char **error_r)
{
	char buf[MAX_STORED + 1];
	size_t level = 0;
	for (size_t i = 0; sn->stored[i] != '\0'; i++) {
		if (sn->stored[i] != '.')
			continue;
		memcpy(buf, sn->stored, i);
		buf[i] = '\0';
		if (level++ == 0 && strcmp(buf, "INBOX") == 0)
			continue;
		if (folder_make(ms, buf, false, error_r) < 0)
			return -1;
	}
	return 0;
}

/* ---- subscriptions: Dovecot's dotlock, written then renamed over ---- */

static char *
root_file(const struct mailstore *ms, const char *name)
{
	return xasprintf("%s/%s", ms->root, name);
}

static int
subs_lock(const struct mailstore *ms, const char **error_r)
{
	char *lp = root_file(ms, SUBS_LOCK);
	unsigned long long start = now_ms();
	int fd;
	for (;;) {
		fd = open(lp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST) {
			if (fd < 0)
				*error_r = sys_err("subscriptions.lock");
			break;
		}
		struct stat st;
		if (stat(lp, &st) == 0 && time(NULL) - st.st_mtime > LOCK_STALE) {
			unlink(lp);
			continue;
		}
		if (now_ms() - start >= LOCK_WAIT_MS) {
			*error_r = "[INUSE] The subscriptions file is locked";
			break;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	free(lp);
	return fd;
}

static void
subs_unlock(const struct mailstore *ms, int fd)
{
	char *lp = root_file(ms, SUBS_LOCK);
	close(fd);
	unlink(lp);
	free(lp);
}

/* The subscriptions file (missing: none). */
static int
subs_load(const struct mailstore *ms, struct md_subs *s, const char **error_r)
{
	char *p = root_file(ms, SUBS_FILE), *text = NULL;
	size_t len = 0;
	const char *err = NULL;
	int r = read_file(p, 16 * 1024 * 1024, &text, &len);
	int e = errno;
	free(p);
	if (r != 0 && e != ENOENT) {
		errno = e;
		*error_r = sys_err("subscriptions");
		memset(s, 0, sizeof(*s));
		s->sep = MAILSTORE_SEP;
		return -1;
	}
	r = md_subs_parse(text, len, SUBS_MAX, MAILSTORE_SEP, s, &err);
	free(text);
	if (r != 0) {
		snprintf(errbuf, sizeof(errbuf), "subscriptions: %s", err);
		*error_r = errbuf;
		memset(s, 0, sizeof(*s));
		s->sep = MAILSTORE_SEP;
	}
	return r;
}

/* Write s through the held lock and unlock. */
static int
subs_commit(const struct mailstore *ms, int fd, const struct md_subs *s, const char **error_r)
{
	size_t len;
	char *text = md_subs_format(s, &len);
	char *lp = root_file(ms, SUBS_LOCK), *p = root_file(ms, SUBS_FILE);
	int r = write_all(fd, text, len) == 0 && fsync(fd) == 0 && rename(lp, p) == 0 ? 0 : -1;
	if (r != 0) {
		*error_r = sys_err("subscriptions");
		unlink(lp);
	} else
		fsync_dir(ms->root);
	close(fd);
	free(text);
	free(lp);
	free(p);
	return r;
}

/* Rewrite the subscriptions with f(s, arg): f returns 1 to write, 0 for no
 * change, -1 with *error_r. */
static int
subs_update(const struct mailstore *ms,
    int (*f)(struct md_subs *, const void *, const char **), const void *arg,
    const char **error_r)
{
	int fd = subs_lock(ms, error_r);
	if (fd < 0)
		return -1;
	struct md_subs s;
	int r = subs_load(ms, &s, error_r);
	if (r == 0)
		r = f(&s, arg, error_r);
	if (r > 0)
		r = subs_commit(ms, fd, &s, error_r);
	else
		subs_unlock(ms, fd);
	md_subs_free(&s);
	return r < 0 ? -1 : 0;
}

/* ---- open: the root and, on first use, the default folders ---- */

static bool
has_folders(const struct mailstore *ms)
{
	char **names;
	size_t n;
	bool any = false;
	if (scan_dirs(ms->root, &names, &n) != 0)
		return true;	/* unreadable: do not add to it */
	for (size_t i = 0; i < n && !any; i++) {
		char *name = folder_name(names[i]);
		any = name != NULL;
		free(name);
	}
	free_names(names, n);
	return any;
}

static int
subs_defaults(struct md_subs *s, const void *arg, const char **error_r)
{
	const struct mailstore *ms = arg;
	char *p = root_file(ms, SUBS_FILE);
	struct stat st;
	bool exists = lstat(p, &st) == 0;
	free(p);
	(void)error_r;
	if (exists)
		return 0;	/* another session was first */
	md_subs_add(s, "INBOX");
	for (size_t i = 0; i < NDEFAULTS; i++)
		md_subs_add(s, defaults[i].name);
	return 1;
}

/* First use: no subscriptions file and no folder at all (a new Maildir, or
 * one that deliveries made before the first login). Any folder or the file
 * means the user has been here (or it came from Dovecot or Courier), and
 * the file stays from then on, so deleted defaults are not made again. */
static int
first_use(struct mailstore *ms, const char **error_r)
{
	char *p = root_file(ms, SUBS_FILE);
	struct stat st;
	int r = lstat(p, &st);
	int e = errno;
	free(p);
	if (r == 0 || e != ENOENT || has_folders(ms))
		return 0;
	for (size_t i = 0; i < NDEFAULTS; i++) {
		r = folder_make(ms, defaults[i].name, false, error_r);
		if (r < 0)
			return -1;
		if (r == 0) {
			char *dir = xasprintf("%s/.%s", ms->root, defaults[i].name);
			r = special_write(dir, defaults[i].su, error_r);
			free(dir);
			if (r != 0)
				return -1;
		}
	}
	fsync_dir(ms->root);
	return subs_update(ms, subs_defaults, ms, error_r);
}

int
mailstore_open(const char *root, struct mailstore *ms, const char **error_r)
{
	memset(ms, 0, sizeof(*ms));
	if (root == NULL || root[0] == '\0') {
		*error_r = "mail store path is empty";
		return -1;
	}
	const char *ib = strstr(root, "\nINBOX=");
	size_t len = ib != NULL ? (size_t)(ib - root) : strlen(root);
	if (ib != NULL) {
		if (ib[7] != '/') {
			*error_r = "the mbox INBOX path is not absolute";
			return -1;
		}
		ms->inbox_mbox = xstrdup(ib + 7);
	}
	while (len > 1 && root[len - 1] == '/')
		len--;
	ms->root = xstrndup(root, len);
	if (maildir_create(ms->root, error_r) != STORE_OK || first_use(ms, error_r) != 0) {
		mailstore_close(ms);
		return -1;
	}
	return 0;
}

char *
mailstore_inbox(const char *spec)
{
	const char *ib = strstr(spec, "\nINBOX=");
	if (ib == NULL)
		return xstrdup(spec);
	return xasprintf("mbox:%s\n%.*s", ib + 7, (int)(ib - spec), spec);
}

void
mailstore_close(struct mailstore *ms)
{
	free(ms->root);
	ms->root = NULL;
	free(ms->inbox_mbox);
	ms->inbox_mbox = NULL;
}

/* ---- LIST ---- */

static int
cmp_folder(const void *a, const void *b)
{
	const char *x = ((const struct mailstore_folder *)a)->name;
	const char *y = ((const struct mailstore_folder *)b)->name;
	bool xi = strcmp(x, "INBOX") == 0, yi = strcmp(y, "INBOX") == 0;
	if (xi || yi)
		return yi - xi;
	return strcmp(x, y);
}

static void
push_folder(struct mailstore_folder **f, size_t *n, size_t *cap, char *name, bool exists,
    unsigned special)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*f = xreallocarray(*f, *cap, sizeof(**f));
	}
	(*f)[(*n)++] = (struct mailstore_folder){ .name = name, .nonexistent = !exists,
		.special = special };
}

int
mailstore_list(const struct mailstore *ms, struct mailstore_folder **out, size_t *n_r)
{
	char **dirs;
	size_t nd;
	*out = NULL;
	*n_r = 0;
	if (scan_dirs(ms->root, &dirs, &nd) != 0)
		return -1;
	struct mailstore_folder *f = NULL;
	size_t n = 0, cap = 0;
	push_folder(&f, &n, &cap, xstrdup("INBOX"), true, SU_NONE);
	for (size_t i = 0; i < nd; i++) {
		char *name = folder_name(dirs[i]);
		if (name == NULL)
			continue;
		char *dir = xasprintf("%s/.%s", ms->root, dirs[i]);
		unsigned su = special_of(dir, name);
		free(dir);
		/* Each parent too, as a name without a folder unless it has one. */
		for (char *s = strchr(name, MAILSTORE_SEP); s != NULL;
		    s = strchr(s + 1, MAILSTORE_SEP))
			push_folder(&f, &n, &cap, xstrndup(name, (size_t)(s - name)), false, SU_NONE);
		push_folder(&f, &n, &cap, name, true, su);
	}
	free_names(dirs, nd);
	qsort(f, n, sizeof(*f), cmp_folder);
	/* One entry per name: a folder wins over a parent-only name. */
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w > 0 && strcmp(f[w - 1].name, f[i].name) == 0) {
			if (!f[i].nonexistent) {
				f[w - 1].nonexistent = false;
				f[w - 1].special = f[i].special;
			}
			free(f[i].name);
			continue;
		}
		f[w++] = f[i];
	}
	n = w;
	/* Every parent is listed now: mark it. */
	for (size_t i = 0; i < n; i++) {
		const char *s = strrchr(f[i].name, MAILSTORE_SEP);
		if (s == NULL)
			continue;
		char *pname = xstrndup(f[i].name, (size_t)(s - f[i].name));
		struct mailstore_folder key = { .name = pname };
		struct mailstore_folder *parent = bsearch(&key, f, n, sizeof(*f), cmp_folder);
		free(pname);
		if (parent != NULL)
			parent->has_children = true;
	}
	*out = f;
	*n_r = n;
	return 0;
}

void
mailstore_list_free(struct mailstore_folder *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].name);
	free(f);
}

/* ---- pattern match ---- */

bool
mailstore_match(const char *pattern, const char *name)
{
	/* Dynamic programming over the name: no backtracking blow-up on
	 * patterns like "%*%*%*...x". m[j]: pattern so far matches name[0..j). */
	size_t nl = strlen(name);
	size_t ci = strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' ||
	    name[5] == MAILSTORE_SEP) ? 5 : 0;
	bool *m = xcalloc(nl + 1, sizeof(bool));
	m[0] = true;
	for (const char *p = pattern; *p != '\0'; p++) {
		if (*p == '*') {
			for (size_t j = 1; j <= nl; j++)
				m[j] = m[j] || m[j - 1];
		} else if (*p == '%') {
			for (size_t j = 1; j <= nl; j++)
				m[j] = m[j] || (m[j - 1] && name[j - 1] != MAILSTORE_SEP);
		} else {
			for (size_t j = nl; j > 0; j--) {
				char a = *p, b = name[j - 1];
				if (j - 1 < ci) {
					a = (char)(a >= 'a' && a <= 'z' ? a - 32 : a);
					b = (char)(b >= 'a' && b <= 'z' ? b - 32 : b);
				}
				m[j] = m[j - 1] && a == b;
			}
			m[0] = false;
		}
	}
	bool r = m[nl];
	free(m);
	return r;
}

/* ---- CREATE, DELETE, RENAME ---- */

int
mailstore_create(struct mailstore *ms, const char *name, unsigned special,
    const char **error_r)
{
	struct sname sn;
	if ((special & ~(unsigned)SU_CREATABLE) != 0) {
		/* \All and \Flagged are virtual folders we do not have. */
		*error_r = "[USEATTR] Unsupported special-use attribute";
		return -1;
	}
	if (name_parse(name, true, true, &sn, error_r) != 0)
		return -1;
	if (sn.inbox) {
		*error_r = E_EXISTS;
		return -1;
	}
	if (parents_make(ms, &sn, error_r) != 0 || folder_make(ms, sn.stored, true, error_r) != 0)
		return -1;
	if (special != SU_NONE) {
		char *dir = dir_of(ms, &sn);
		int r = special_write(dir, special, error_r);
		free(dir);
		if (r != 0)
			return -1;
	}
	fsync_dir(ms->root);
	return 0;
}

/* Remove what a deleted folder holds: the messages of cur/ new/ tmp/ and
 * the files Dovecot, Courier and we keep beside them. Anything else stays,
 * and so does the directory then. */
static int
purge(const char *dir)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		int fd = openat(dfd, subs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				unlinkat(dfd, subs[i], 0);
			continue;
		}
		DIR *d = fdopendir(fd);
		if (d == NULL) {
			close(fd);
			continue;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(fd, de->d_name, 0);
		closedir(d);
		unlinkat(dfd, subs[i], AT_REMOVEDIR);
	}
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL && fd >= 0)
		close(fd);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
			continue;
		if (strncmp(de->d_name, "dovecot", 7) == 0 ||
		    strncmp(de->d_name, "estafeta-", 9) == 0 ||
		    strncmp(de->d_name, "estafeta.", 9) == 0 ||
		    strcmp(de->d_name, FOLDER_MARK) == 0 ||
		    strncmp(de->d_name, "courierimap", 11) == 0)
			unlinkat(dfd, de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	close(dfd);
	return rmdir(dir);
}

int
mailstore_delete(struct mailstore *ms, const char *name, const char **error_r)
{
	struct sname sn;
	static atomic_uint seq;
	if (name_parse(name, false, true, &sn, error_r) != 0)
		return -1;
	if (sn.inbox) {
		*error_r = "[CANNOT] INBOX cannot be deleted";
		return -1;
	}
	char *path = dir_of(ms, &sn);
	struct stat st;
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*error_r = E_NOTFOUND;
		free(path);
		return -1;
	}
	/* Out of sight first (a name LIST skips: its first level is empty, as
	 * Dovecot's "..DOVECOT-TRASH"), so no one sees it half deleted. */
	char *trash = xasprintf("%s/..estafeta-trash.%ld.%u.%lld", ms->root, (long)getpid(),
	    atomic_fetch_add(&seq, 1), (long long)time(NULL));
	int r = -1;
	if (rename(path, trash) != 0)
		*error_r = errno == ENOENT ? E_NOTFOUND : sys_err("delete");
	else if (purge(trash) != 0) {
		/* Something we do not know is in there: keep it where it was. */
		if (rename(trash, path) != 0)
			*error_r = sys_err("delete");
		else
			*error_r = "[CANNOT] The mailbox holds other files; its messages were deleted";
	} else
		r = 0;
	fsync_dir(ms->root);
	free(trash);
	free(path);
	return r;
}

/* RENAME INBOX: its messages (cur/ and new/) into a new folder; INBOX
 * stays, empty. The keyword letters of the file names keep their meaning
 * through a copy of dovecot-keywords; UIDs are given afresh. */
static int
rename_inbox(struct mailstore *ms, const struct sname *to, const char **error_r)
{
	if (parents_make(ms, to, error_r) != 0 || folder_make(ms, to->stored, true, error_r) != 0)
		return -1;
	char *dst = dir_of(ms, to);
	char *kp = root_file(ms, "dovecot-keywords"), *text;
	size_t len;
	int r = 0;
	if (read_file(kp, 1024 * 1024, &text, &len) == 0) {
		char *dk = xasprintf("%s/dovecot-keywords", dst);
		if (atomic_write(dk, text, len, 0600) != 0) {
			*error_r = sys_err("dovecot-keywords");
			r = -1;
		}
		free(dk);
		free(text);
	}
	free(kp);
	static const char *const subs[] = { "cur", "new" };
	for (size_t i = 0; i < 2 && r == 0; i++) {
		char *sp = xasprintf("%s/%s", ms->root, subs[i]);
		char *dp = xasprintf("%s/%s", dst, subs[i]);
		DIR *d = opendir(sp);
		int dfd = open(dp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (d == NULL || dfd < 0) {
			*error_r = sys_err("rename INBOX");
			r = -1;
		}
		struct dirent *de;
		while (r == 0 && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			/* ENOENT: expunged meanwhile. */
			if (renameat(dirfd(d), de->d_name, dfd, de->d_name) != 0 && errno != ENOENT) {
				*error_r = sys_err("rename INBOX");
				r = -1;
			}
		}
		if (d != NULL)
			closedir(d);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		fsync_dir(sp);
		free(sp);
		free(dp);
	}
	free(dst);
	fsync_dir(ms->root);
	return r;
}

struct subs_rename {
	const char *from, *to;
};

/* Subscriptions of from and below it follow the rename (once, when the
 * new name was subscribed already). */
static int
subs_renamed(struct md_subs *s, const void *arg, const char **error_r)
{
	const struct subs_rename *sr = arg;
	size_t fl = strlen(sr->from), n = 0;
	char **out = xcalloc(s->n + 1, sizeof(char *));
	int changed = 0;
	(void)error_r;
	for (size_t i = 0; i < s->n; i++) {
		char *name = s->names[i];
		if (strncmp(name, sr->from, fl) == 0 &&
		    (name[fl] == '\0' || name[fl] == MAILSTORE_SEP)) {
			char *nn = xasprintf("%s%s", sr->to, name + fl);
			free(name);
			name = nn;
			changed = 1;
		}
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(out[k], name) == 0;
		if (dup)
			free(name);
		else
			out[n++] = name;
	}
	free(s->names);
	s->names = out;
	s->n = n;
	s->cap = s->n + 1;
	return changed;
}

int
mailstore_rename(struct mailstore *ms, const char *from, const char *to,
    const char **error_r)
{
	struct sname sf, st;
	if (name_parse(from, false, true, &sf, error_r) != 0 ||
	    name_parse(to, true, true, &st, error_r) != 0)
		return -1;
	if (st.inbox) {
		*error_r = E_EXISTS;
		return -1;
	}
	char *tpath = dir_of(ms, &st);
	struct stat sb;
	if (lstat(tpath, &sb) == 0) {
		free(tpath);
		*error_r = E_EXISTS;
		return -1;
	}
	if (sf.inbox && ms->inbox_mbox != NULL) {
		free(tpath);
		*error_r = "[CANNOT] An mbox INBOX cannot be renamed";
		return -1;
	}
	if (sf.inbox) {
		free(tpath);
		return rename_inbox(ms, &st, error_r);
	}
	size_t fl = strlen(sf.stored), tl = strlen(st.stored);
	if (strncmp(st.stored, sf.stored, fl) == 0 && st.stored[fl] == '.') {
		free(tpath);
		*error_r = "[CANNOT] A mailbox cannot be moved under itself";
		return -1;
	}
	char *fpath = dir_of(ms, &sf);
	if (lstat(fpath, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		free(tpath);
		free(fpath);
		*error_r = E_NOTFOUND;
		return -1;
	}
	/* The children move along: ".a.b" -> ".x.b". All checked first. */
	char **dirs;
	size_t nd, nkids = 0;
	if (scan_dirs(ms->root, &dirs, &nd) != 0) {
		free(tpath);
		free(fpath);
		*error_r = sys_err("rename");
		return -1;
	}
	char **kfrom = xcalloc(nd + 1, sizeof(char *)), **kto = xcalloc(nd + 1, sizeof(char *));
	int r = 0;
	for (size_t i = 0; i < nd && r == 0; i++) {
		if (strncmp(dirs[i], sf.stored, fl) != 0 || dirs[i][fl] != '.')
			continue;
		const char *rest = dirs[i] + fl;
		size_t depth = st.levels;
		for (const char *p = rest; *p != '\0'; p++)
			depth += *p == '.';
		if (tl + strlen(rest) + 1 > MAX_STORED || depth > MAX_LEVELS) {
			*error_r = "[CANNOT] A child mailbox's new name would be too long";
			r = -1;
			break;
		}
		kfrom[nkids] = xasprintf("%s/.%s", ms->root, dirs[i]);
		kto[nkids] = xasprintf("%s/.%s%s", ms->root, st.stored, rest);
		if (lstat(kto[nkids], &sb) == 0) {
			*error_r = E_EXISTS;
			r = -1;
		}
		nkids++;
	}
	free_names(dirs, nd);
	if (r == 0)
		r = parents_make(ms, &st, error_r);
	bool moved = false;
	if (r == 0) {
		if (rename(fpath, tpath) != 0) {
			*error_r = errno == ENOENT ? E_NOTFOUND : sys_err("rename");
			r = -1;
		} else
			moved = true;
	}
	size_t done = 0;
	while (r == 0 && done < nkids) {
		if (rename(kfrom[done], kto[done]) != 0) {
			*error_r = sys_err("rename");
			r = -1;
		} else
			done++;
	}
	if (r != 0) {
		/* Put back what moved. */
		while (done > 0) {
			done--;
			rename(kto[done], kfrom[done]);
		}
		if (moved)
			rename(tpath, fpath);
	}
	fsync_dir(ms->root);
	for (size_t i = 0; i < nkids; i++) {
		free(kfrom[i]);
		free(kto[i]);
	}
	free(kfrom);
	free(kto);
	free(tpath);
	free(fpath);
	if (r != 0)
		return -1;
	struct subs_rename sr = { sf.subs, st.subs };
	const char *err;
	/* The folders moved; a subscriptions failure does not undo that. */
	(void)subs_update(ms, subs_renamed, &sr, &err);
	return 0;
}

/* ---- subscriptions ---- */

static int
subs_set(struct md_subs *s, const void *arg, const char **error_r)
{
	if (md_subs_add(s, arg) != 0) {
		*error_r = bad_name("cannot be subscribed");
		return -1;
	}
	return 1;
}

static int
subs_unset(struct md_subs *s, const void *arg, const char **error_r)
{
	(void)error_r;
	return md_subs_remove(s, arg) == 0 ? 1 : 0;
}

int
mailstore_subscribe(struct mailstore *ms, const char *name, bool on, const char **error_r)
{
	struct sname sn;
	/* A name to unsubscribe may be one another program wrote there. */
	if (name_parse(name, false, on, &sn, error_r) != 0)
		return -1;
	return subs_update(ms, on ? subs_set : subs_unset, sn.subs, error_r);
}

int
mailstore_subscriptions(const struct mailstore *ms, char ***names_r, size_t *n_r)
{
	struct md_subs s;
	const char *err;
	*names_r = NULL;
	*n_r = 0;
	if (subs_load(ms, &s, &err) != 0)
		return -1;
	char **out = xcalloc(s.n + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < s.n; i++) {
		char *name = strcmp(s.names[i], "INBOX") == 0 ? xstrdup("INBOX") :
		    name_decode(s.names[i], MAILSTORE_SEP);
		if (name != NULL)
			out[n++] = name;
	}
	md_subs_free(&s);
	*names_r = out;
	*n_r = n;
	return 0;
}
