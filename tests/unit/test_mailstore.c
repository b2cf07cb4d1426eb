/* Unit tests for src/store/mailstore: IMAP names <-> Maildir++ folders,
 * hostile names, CREATE/DELETE/RENAME, LIST, subscriptions, special-use. */
#include "tu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/util.h"
#include "store/mailbox.h"
#include "store/maildir.h"
#include "store/mailstore.h"

#define NEL(a)	(sizeof(a) / sizeof((a)[0]))

struct fx {
	char *tmp;	/* the temporary directory */
	char *root;	/* tmp/Maildir */
	struct mailstore ms;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->tmp = tu_tmpdir();
	f->root = xasprintf("%s/Maildir", f->tmp);
	*state = f;
	return 0;
}

/* The same with the store opened (first use: the defaults made). */
static int
setup_open(void **state)
{
	struct fx *f;
	const char *err = NULL;

	setup(state);
	f = *state;
	if (mailstore_open(f->root, &f->ms, &err) != 0) {
		fprintf(stderr, "mailstore_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	mailstore_close(&f->ms);
	tu_rmtree(f->tmp);
	free(f->tmp);
	free(f->root);
	free(f);
	return 0;
}

/* ---- helpers ---- */


static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool
is_dir_at(const char *root, const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel);
	struct stat st;
	bool r = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);

	free(p);
	return r;
}

static bool
exists_at(const char *root, const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel);
	bool r = exists(p);

	free(p);
	return r;
}

static void
put_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, s, strlen(s)), 0);
	assert_int_equal(close(fd), 0);
}

static char *
slurp(const char *path)
{
	char *data;
	size_t len;

	if (read_file(path, 1 << 24, &data, &len) != 0)
		return NULL;
	return data;
}

static char *
slurp_at(const char *root, const char *rel)
{
	char *p = xasprintf("%s/%s", root, rel), *d = slurp(p);

	free(p);
	return d;
}

static size_t
count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Every entry below dir, one "path\n" each, sorted: a snapshot to show
 * that a refused name changed nothing anywhere. */
static void
walk(const char *dir, const char *rel, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *r = xasprintf("%s/%s", rel, de->d_name), *p = xasprintf("%s/%s", dir,
		    de->d_name);
		*out = xreallocarray(*out, *n + 1, sizeof(char *));
		(*out)[(*n)++] = r;
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			walk(p, r, out, n);
		free(p);
	}
	closedir(d);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
snapshot(const char *dir)
{
	char **names = NULL;
	size_t n = 0, len = 0;

	walk(dir, "", &names, &n);
	qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	char *s = xmalloc(len + 1), *o = s;
	for (size_t i = 0; i < n; i++) {
		o += sprintf(o, "%s\n", names[i]);
		free(names[i]);
	}
	*o = '\0';
	free(names);
	return s;
}

static char *
deliver_to(const char *dir, const char *body)
{
	char name[MAILDIR_NAME_MAX];
	const char *err = NULL;

	assert_int_equal(maildir_deliver(dir, NULL, 0, body, strlen(body), 1, name, sizeof(name),
	    &err), STORE_OK);
	return xstrdup(name);
}

/* "name:flags" per folder, flags n (nonexistent) c (children) and the
 * special-use as letters: a archive, d drafts, j junk, s sent, t trash. */
static char *
list_str(const struct mailstore *ms)
{
	struct mailstore_folder *f = NULL;
	size_t n = 0, len = 1;

	assert_int_equal(mailstore_list(ms, &f, &n), 0);
	for (size_t i = 0; i < n; i++)
		len += strlen(f[i].name) + 16;
	char *s = xmalloc(len), *o = s;
	*o = '\0';
	for (size_t i = 0; i < n; i++) {
		o += sprintf(o, "%s%s:%s%s%s%s%s%s%s%s%s", i ? " " : "", f[i].name,
		    f[i].nonexistent ? "n" : "", f[i].has_children ? "c" : "",
		    f[i].special & SU_ALL ? "A" : "", f[i].special & SU_ARCHIVE ? "a" : "",
		    f[i].special & SU_DRAFTS ? "d" : "", f[i].special & SU_FLAGGED ? "F" : "",
		    f[i].special & SU_JUNK ? "j" : "", f[i].special & SU_SENT ? "s" : "",
		    f[i].special & SU_TRASH ? "t" : "");
	}
	mailstore_list_free(f, n);
	return s;
}

static void
assert_list(const struct mailstore *ms, const char *want)
{
	char *got = list_str(ms);

	if (strcmp(got, want) != 0) {
		print_error(" got: [%s]\nwant: [%s]\n", got, want);
		free(got);
		fail();
	}
	free(got);
}

/* Subscriptions joined by '|'. */
static char *
subs_str(const struct mailstore *ms)
{
	char **names = NULL;
	size_t n = 0, len = 1;

	assert_int_equal(mailstore_subscriptions(ms, &names, &n), 0);
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	char *s = xmalloc(len), *o = s;
	*o = '\0';
	for (size_t i = 0; i < n; i++) {
		o += sprintf(o, "%s%s", i ? "|" : "", names[i]);
		free(names[i]);
	}
	free(names);
	return s;
}

static void
assert_subs(const struct mailstore *ms, const char *want)
{
	char *got = subs_str(ms);

	if (strcmp(got, want) != 0) {
		print_error(" got: [%s]\nwant: [%s]\n", got, want);
		free(got);
		fail();
	}
	free(got);
}

static void
create_ok(struct mailstore *ms, const char *name, unsigned su)
{
	const char *err = NULL;

	if (mailstore_create(ms, name, su, &err) != 0)
		fail_msg("create %s: %s", name, err);
}

static void
delete_ok(struct mailstore *ms, const char *name)
{
	const char *err = NULL;

	if (mailstore_delete(ms, name, &err) != 0)
		fail_msg("delete %s: %s", name, err);
}

static void
rename_ok(struct mailstore *ms, const char *from, const char *to)
{
	const char *err = NULL;

	if (mailstore_rename(ms, from, to, &err) != 0)
		fail_msg("rename %s %s: %s", from, to, err);
}

static void
subscribe_ok(struct mailstore *ms, const char *name, bool on)
{
	const char *err = NULL;

	if (mailstore_subscribe(ms, name, on, &err) != 0)
		fail_msg("subscribe %s: %s", name, err);
}

static void
assert_prefix(const char *s, const char *prefix)
{
	if (s == NULL || strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("[%s] does not begin with [%s]", s ? s : "(null)", prefix);
}

static const char DEFAULTS[] =
    "INBOX: Archive:a Drafts:d Junk:j Sent:s Trash:t";

/* ---- open and first use ---- */

static void
test_first_use_defaults(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	static const char *const names[] = { "Drafts", "Sent", "Trash", "Junk", "Archive" };
	static const char *const attrs[] = { "\\Drafts\n", "\\Sent\n", "\\Trash\n", "\\Junk\n",
		"\\Archive\n" };

	/* a trailing slash is dropped */
	char *with_slash = xasprintf("%s//", f->root);
	assert_int_equal(mailstore_open(with_slash, &f->ms, &err), 0);
	free(with_slash);
	assert_string_equal(f->ms.root, f->root);
	assert_true(is_dir_at(f->root, "cur"));
	assert_true(is_dir_at(f->root, "new"));
	assert_true(is_dir_at(f->root, "tmp"));
	for (size_t i = 0; i < NEL(names); i++) {
		char *d = xasprintf("%s/.%s", f->root, names[i]);
		assert_true(is_dir_at(d, "cur"));
		assert_true(is_dir_at(d, "new"));
		assert_true(is_dir_at(d, "tmp"));
		assert_true(exists_at(d, "maildirfolder"));
		char *t = slurp_at(d, "estafeta-special-use");
		assert_string_equal(t, attrs[i]);
		free(t);
		free(d);
	}
	char *subs = slurp_at(f->root, "subscriptions");
	assert_string_equal(subs, "V\t2\n\nINBOX\nDrafts\nSent\nTrash\nJunk\nArchive\n");
	free(subs);
	assert_list(&f->ms, DEFAULTS);
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive");

	/* once only: a deleted default stays deleted */
	delete_ok(&f->ms, "Junk");
	mailstore_close(&f->ms);
	assert_null(f->ms.root);
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), 0);
	assert_list(&f->ms, "INBOX: Archive:a Drafts:d Sent:s Trash:t");
	/* even with every folder gone: the subscriptions file remembers */
	delete_ok(&f->ms, "Archive");
	delete_ok(&f->ms, "Drafts");
	delete_ok(&f->ms, "Sent");
	delete_ok(&f->ms, "Trash");
	mailstore_close(&f->ms);
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), 0);
	assert_list(&f->ms, "INBOX:");
	/* a folder made again by the name has the special-use of the name */
	create_ok(&f->ms, "Trash", 0);
	assert_list(&f->ms, "INBOX: Trash:t");
	assert_false(exists_at(f->root, ".Trash/estafeta-special-use"));
}

/* Deliveries made the Maildir before the first login: still first use. */
static void
test_first_use_after_deliveries(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	free(deliver_to(f->root, "Subject: x\n\nx\n"));
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), 0);
	assert_list(&f->ms, DEFAULTS);
	char *nd = xasprintf("%s/new", f->root);
	assert_int_equal(count_dir(nd), 1);	/* the message untouched */
	free(nd);
}

/* A Maildir with folders (Dovecot's, Courier's), or with a subscriptions
 * file, has been used: nothing is added. */
static void
test_no_defaults_when_used(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	assert_int_equal(maildir_create(f->root, &err), STORE_OK);
	char *d = xasprintf("%s/.Mine", f->root);
	assert_int_equal(maildir_create(d, &err), STORE_OK);
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), 0);
	assert_list(&f->ms, "INBOX: Mine:");
	assert_false(exists_at(f->root, "subscriptions"));
	mailstore_close(&f->ms);
	tu_rmtree(d);
	free(d);

	/* only a subscriptions file */
	d = xasprintf("%s/subscriptions", f->root);
	put_str(d, "V\t2\n\nINBOX\n");
	free(d);
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), 0);
	assert_list(&f->ms, "INBOX:");
	assert_subs(&f->ms, "INBOX");
	mailstore_close(&f->ms);

	/* dot-directories that are no folders do not count */
	d = xasprintf("%s/subscriptions", f->root);
	assert_int_equal(unlink(d), 0);
	free(d);
	d = xasprintf("%s/..DOVECOT-TRASH", f->root);
	assert_int_equal(mkdir(d, 0700), 0);
	free(d);
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), 0);
	assert_list(&f->ms, DEFAULTS);
}

static void
test_open_refuses(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	put_str(f->root, "not a directory");
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), -1);
	assert_non_null(err);
	assert_null(f->ms.root);
	assert_int_equal(unlink(f->root), 0);
	/* a symlinked root is refused, as maildir_create refuses it */
	char *elsewhere = xasprintf("%s/elsewhere", f->tmp);
	assert_int_equal(mkdir(elsewhere, 0700), 0);
	assert_int_equal(symlink(elsewhere, f->root), 0);
	err = NULL;
	assert_int_equal(mailstore_open(f->root, &f->ms, &err), -1);
	assert_non_null(err);
	assert_int_equal(count_dir(elsewhere), 0);
	free(elsewhere);
	err = NULL;
	assert_int_equal(mailstore_open("", &f->ms, &err), -1);
	assert_non_null(err);
}

/* ---- names ---- */

static void
test_paths(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *name, *rel;	/* rel: NULL for the root */
	} ok[] = {
		{ "INBOX", NULL },
		{ "inbox", NULL },
		{ "InBoX", NULL },
		{ "a", ".a" },
		{ "a/b", ".a.b" },
		{ "INBOX/x", ".INBOX.x" },
		{ "inbox/x", ".INBOX.x" },
		{ "x/INBOX", ".x.INBOX" },
		{ "INBOXES", ".INBOXES" },
		{ "Entw\xc3\xbcrfe", ".Entw&APw-rfe" },
		{ "\xc3\x9cmlaut", ".&ANw-mlaut" },
		{ "&", ".&-" },
		{ "a&b", ".a&-b" },
		{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", ".&ZeVnLIqe-" },
		{ "Sent Items", ".Sent Items" },
		{ "a~", ".a~" },
		{ "-a-", ".-a-" },
		{ "a,b+c", ".a,b+c" },
		{ "\xf0\x9f\x93\xa7", ".&2D3c5w-" },
	};
	const char *err = NULL;

	for (size_t i = 0; i < NEL(ok); i++) {
		char *p = mailstore_path(&f->ms, ok[i].name, &err);
		char *want = ok[i].rel ? xasprintf("%s/%s", f->root, ok[i].rel) : xstrdup(f->root);
		if (p == NULL || strcmp(p, want) != 0)
			fail_msg("%s: got %s want %s (%s)", ok[i].name, p ? p : "NULL", want,
			    p ? "" : err);
		free(p);
		free(want);
	}
	assert_string_equal(mailstore_canon("inBOX"), "INBOX");
	assert_string_equal(mailstore_canon("INBOX"), "INBOX");
	assert_string_equal(mailstore_canon("INBOX/a"), "INBOX/a");
	assert_string_equal(mailstore_canon("Sent"), "Sent");
	assert_string_equal(mailstore_canon("INBOXx"), "INBOXx");

	/* the limits: 255 bytes of directory name, 16 levels */
	char name[400];
	memset(name, 'a', 254);
	name[254] = '\0';
	char *p = mailstore_path(&f->ms, name, &err);
	assert_non_null(p);
	assert_int_equal(strlen(strrchr(p, '/') + 1), 255);
	free(p);
	name[254] = 'a';
	name[255] = '\0';
	assert_null(mailstore_path(&f->ms, name, &err));
	assert_prefix(err, "[CANNOT] Invalid mailbox name");
	strcpy(name, "l1");
	for (int i = 2; i <= 16; i++)
		sprintf(name + strlen(name), "/l%d", i);
	p = mailstore_path(&f->ms, name, &err);
	assert_non_null(p);
	free(p);
	strcat(name, "/l17");
	assert_null(mailstore_path(&f->ms, name, &err));
	assert_prefix(err, "[CANNOT] Invalid mailbox name");
}

/* Names that must never make a path, in mailstore_path, CREATE, DELETE,
 * RENAME and SUBSCRIBE, and that change nothing on disk. */
static void
test_hostile_names(void **state)
{
	struct fx *f = *state;
	char long_ascii[300], long_utf8[300], long_levels[600], huge[5000];
	const char *hostile[] = {
		"", "..", ".", "../x", "../../etc", "a/../b", "a/..", "a/.", "./a",
		"/abs", "/", "//", "/etc/passwd", "a//b", "a/", "a/b/",
		".hidden", "a/.b", "...", ".a.b", "~", "~root", "a/~b", "~/x",
		"a\\b", "..\\x", "a%b", "%", "a*b", "*", "a.b", "x/y.z",
		"a\tb", "a\nb", "a\rb", "\x7f", "a\x01", "\x1b[31m",
		"\xc2\x85", "a\xc2\x9f",			/* C1 controls */
		"\xff", "\xfe\xff", "a\x80", "\xc0\xaf", "\xc1\xbf",	/* not UTF-8 */
		"\xe0\x80\xae", "\xc0\xae\xc0\xae", "\xe0\x80\xaf",	/* overlong . and / */
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xe2\x82", "a\xe2",
		"INBOX/../x", "INBOX/.", "INBOX/", "inbox//x",
		long_ascii, long_utf8, long_levels, huge,
	};
	const char *err;
	char *before;

	memset(long_ascii, 'a', 255);
	long_ascii[255] = '\0';
	/* 100 x U+00FC: 200 bytes of UTF-8, 269 of modified UTF-7 */
	for (int i = 0; i < 100; i++)
		memcpy(long_utf8 + 2 * i, "\xc3\xbc", 2);
	long_utf8[200] = '\0';
	long_levels[0] = '\0';
	for (int i = 0; i < 17; i++)
		strcat(long_levels, i ? "/x" : "x");
	memset(huge, 'b', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';

	/* something to rename and delete */
	create_ok(&f->ms, "victim", 0);
	before = snapshot(f->tmp);
	for (size_t i = 0; i < NEL(hostile); i++) {
		const char *n = hostile[i];
		err = NULL;
		char *p = mailstore_path(&f->ms, n, &err);
		if (p != NULL)
			fail_msg("hostile name %zu accepted: %s", i, p);
		assert_prefix(err, "[CANNOT] Invalid mailbox name");
		/* CREATE and RENAME's new name drop one trailing separator: "a/",
		 * "a/b/" and "INBOX/" are fine there */
		bool trailing = strcmp(n, "a/") == 0 || strcmp(n, "a/b/") == 0;
		err = NULL;
		int r = mailstore_create(&f->ms, n, 0, &err);
		if (trailing) {
			assert_int_equal(r, 0);
			if (strcmp(n, "a/b/") == 0)
				delete_ok(&f->ms, "a/b");
			delete_ok(&f->ms, "a");
		} else if (strcmp(n, "INBOX/") == 0) {
			assert_int_equal(r, -1);
			assert_prefix(err, "[ALREADYEXISTS]");
		} else if (r != -1 || err == NULL)
			fail_msg("CREATE of hostile name %zu accepted", i);
		assert_int_equal(mailstore_delete(&f->ms, n, &err), -1);
		assert_int_equal(mailstore_rename(&f->ms, n, "x", &err), -1);
		if (!trailing)
			assert_int_equal(mailstore_rename(&f->ms, "victim", n, &err), -1);
		assert_int_equal(mailstore_subscribe(&f->ms, n, true, &err), -1);
	}
	char *after = snapshot(f->tmp);
	assert_string_equal(after, before);
	free(after);
	free(before);
	assert_list(&f->ms, "INBOX: Archive:a Drafts:d Junk:j Sent:s Trash:t victim:");
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive");
}

/* Directories LIST must not show: links out of the root, files, names
 * that do not decode or would not come back to the same directory. */
static void
test_list_skips_strangers(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	static const char *const dirs[] = {
		".bad&", ".&AGE-", ".a..b", ".a.", "..x", ".INBOX", ".inbox.q", ".a*b",
		".&-.~x", ".x\\y", ".\t",
	};

	char *outside = xasprintf("%s/outside", f->tmp);
	assert_int_equal(maildir_create(outside, &err), STORE_OK);
	char *p = xasprintf("%s/.evil", f->root);
	assert_int_equal(symlink(outside, p), 0);
	free(p);
	p = xasprintf("%s/.file", f->root);
	put_str(p, "x");
	free(p);
	for (size_t i = 0; i < NEL(dirs); i++) {
		p = xasprintf("%s/%s", f->root, dirs[i]);
		assert_int_equal(mkdir(p, 0700), 0);
		free(p);
	}
	assert_list(&f->ms, DEFAULTS);
	/* and they cannot be reached by a name either */
	assert_int_equal(mailstore_delete(&f->ms, "evil", &err), -1);
	assert_prefix(err, "[NONEXISTENT]");
	assert_true(is_dir_at(outside, "cur"));
	assert_int_equal(mailstore_rename(&f->ms, "evil", "good", &err), -1);
	assert_true(exists_at(f->root, ".evil"));
	free(outside);
}

/* ---- CREATE ---- */

static void
test_create(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	create_ok(&f->ms, "a", 0);
	assert_true(is_dir_at(f->root, ".a/cur"));
	assert_true(is_dir_at(f->root, ".a/new"));
	assert_true(is_dir_at(f->root, ".a/tmp"));
	assert_true(exists_at(f->root, ".a/maildirfolder"));
	assert_false(exists_at(f->root, ".a/estafeta-special-use"));
	assert_int_equal(mailstore_create(&f->ms, "a", 0, &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	assert_int_equal(mailstore_create(&f->ms, "a/", 0, &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	assert_int_equal(mailstore_create(&f->ms, "INBOX", 0, &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	assert_int_equal(mailstore_create(&f->ms, "inbox", 0, &err), -1);
	/* parents as needed, each a folder of its own */
	create_ok(&f->ms, "x/y/z/", 0);
	assert_true(exists_at(f->root, ".x/maildirfolder"));
	assert_true(exists_at(f->root, ".x.y/maildirfolder"));
	assert_true(exists_at(f->root, ".x.y.z/maildirfolder"));
	/* an existing parent is fine */
	create_ok(&f->ms, "x/w", 0);
	/* under INBOX: the root is the parent */
	create_ok(&f->ms, "inbox/Sub", 0);
	assert_true(is_dir_at(f->root, ".INBOX.Sub/cur"));
	assert_false(exists_at(f->root, ".INBOX"));
	/* non-ASCII */
	create_ok(&f->ms, "Entw\xc3\xbcrfe/\xe6\x97\xa5", 0);
	assert_true(is_dir_at(f->root, ".Entw&APw-rfe.&ZeU-"));
	/* special-use remembered in the folder */
	create_ok(&f->ms, "Outbox", SU_SENT);
	char *t = slurp_at(f->root, ".Outbox/estafeta-special-use");
	assert_string_equal(t, "\\Sent\n");
	free(t);
	create_ok(&f->ms, "Both", SU_JUNK | SU_TRASH);
	t = slurp_at(f->root, ".Both/estafeta-special-use");
	assert_string_equal(t, "\\Junk \\Trash\n");
	free(t);
	/* virtual ones are not ours to make */
	assert_int_equal(mailstore_create(&f->ms, "All Mail", SU_ALL, &err), -1);
	assert_prefix(err, "[USEATTR]");
	assert_int_equal(mailstore_create(&f->ms, "Starred", SU_FLAGGED, &err), -1);
	assert_int_equal(mailstore_create(&f->ms, "Odd", 1u << 20, &err), -1);
	assert_false(exists_at(f->root, ".All Mail"));
	/* a file in the way */
	char *p = xasprintf("%s/.plain", f->root);
	put_str(p, "x");
	free(p);
	assert_int_equal(mailstore_create(&f->ms, "plain", 0, &err), -1);
	assert_int_equal(mailstore_create(&f->ms, "plain/kid", 0, &err), -1);
	assert_false(exists_at(f->root, ".plain.kid"));

	assert_list(&f->ms, "INBOX:c Archive:a Both:jt Drafts:d "
	    "Entw\xc3\xbcrfe:c Entw\xc3\xbcrfe/\xe6\x97\xa5: INBOX/Sub: Junk:j "
	    "Outbox:s Sent:s Trash:t a: x:c x/w: x/y:c x/y/z:");
	/* the folder works as a mailbox */
	char *dir = mailstore_path(&f->ms, "x/y/z", &err);
	struct mailbox *mb = NULL;
	assert_int_equal(mailbox_open(dir, false, &mb, &err), 0);
	assert_int_equal(mb->n, 0);
	mailbox_unref(&mb);
	free(dir);
}

/* ---- LIST ---- */

static void
test_list(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	/* "a b" sorts between "a" and "a/b": a's child is still found */
	create_ok(&f->ms, "a/b", 0);
	create_ok(&f->ms, "a b", 0);
	create_ok(&f->ms, "a!", 0);
	/* only ".z.y": "z" exists as a parent name alone */
	char *p = xasprintf("%s/.z.y", f->root);
	assert_int_equal(maildir_create(p, &err), STORE_OK);
	free(p);
	p = xasprintf("%s/.deep.er.est", f->root);
	assert_int_equal(maildir_create(p, &err), STORE_OK);
	free(p);
	create_ok(&f->ms, "INBOX/kid", 0);
	/* a special-use file wins over the name; an empty one means none */
	p = xasprintf("%s/.Sent/estafeta-special-use", f->root);
	put_str(p, "");
	free(p);
	p = xasprintf("%s/.Junk/estafeta-special-use", f->root);
	put_str(p, "\\junk \\Bogus  \\Archive\n");
	free(p);
	create_ok(&f->ms, "a/Trash", 0);	/* only top-level names have defaults */
	assert_list(&f->ms, "INBOX:c Archive:a Drafts:d INBOX/kid: Junk:aj Sent: Trash:t "
	    "a:c a b: a!: a/Trash: a/b: deep:nc deep/er:nc deep/er/est: z:nc z/y:");

	/* the \Noselect kind: DELETE of a folder with children */
	delete_ok(&f->ms, "a");
	assert_list(&f->ms, "INBOX:c Archive:a Drafts:d INBOX/kid: Junk:aj Sent: Trash:t "
	    "a:nc a b: a!: a/Trash: a/b: deep:nc deep/er:nc deep/er/est: z:nc z/y:");
	/* and back */
	create_ok(&f->ms, "a", 0);
	assert_list(&f->ms, "INBOX:c Archive:a Drafts:d INBOX/kid: Junk:aj Sent: Trash:t "
	    "a:c a b: a!: a/Trash: a/b: deep:nc deep/er:nc deep/er/est: z:nc z/y:");
	/* an empty store lists INBOX */
	struct mailstore_folder *fl = NULL;
	size_t n = 0;
	struct mailstore ms2 = { .root = f->tmp };
	assert_int_equal(mailstore_list(&ms2, &fl, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(fl[0].name, "INBOX");
	assert_false(fl[0].has_children);
	mailstore_list_free(fl, n);
	ms2.root = (char *)"/nonexistent/estafeta";
	assert_int_equal(mailstore_list(&ms2, &fl, &n), -1);
	assert_int_equal(n, 0);
}

/* ---- pattern matching ---- */

static void
test_match(void **state)
{
	static const struct {
		const char *pat, *name;
		bool want;
	} cases[] = {
		{ "*", "a/b", true }, { "%", "a/b", false }, { "%", "a", true },
		{ "*", "", true }, { "%", "", true }, { "", "", true }, { "", "a", false },
		{ "a/%", "a/b", true }, { "a/%", "a/b/c", false }, { "a/*", "a/b/c", true },
		{ "a/%/c", "a/b/c", true }, { "a/%/c", "a/b/x/c", false }, { "a*c", "a/b/c", true },
		{ "%/%", "a/b", true }, { "%/%", "a", false }, { "*%", "x", true },
		{ "a*b", "ab", true }, { "a*b", "axxb", true }, { "a*b", "axxc", false },
		{ "a%", "a", true }, { "a%b%c", "aXbYc", true }, { "a%b%c", "aX/bYc", false },
		{ "a", "A", false }, { "abc", "ab", false }, { "ab", "abc", false },
		/* INBOX, and only INBOX, case-insensitively */
		{ "inbox", "INBOX", true }, { "InBoX", "INBOX", true }, { "i*", "INBOX", true },
		{ "I%", "INBOX", true }, { "inbox/%", "INBOX/x", true },
		{ "inbox/X", "INBOX/x", false }, { "INBOX/x", "INBOX/x", true },
		{ "inbox*", "INBOXES", false }, { "INBOX*", "INBOXES", true },
		{ "sent", "Sent", false }, { "inbox", "INBOX/x", false },
		{ "%", "INBOX", true }, { "*x", "INBOX/x", true },
		{ "Entw*", "Entw\xc3\xbcrfe", true }, { "Entw%fe", "Entw\xc3\xbcrfe", true },
	};
	(void)state;
	for (size_t i = 0; i < NEL(cases); i++)
		if (mailstore_match(cases[i].pat, cases[i].name) != cases[i].want)
			fail_msg("match(%s, %s) != %d", cases[i].pat, cases[i].name, cases[i].want);

	/* no exponential backtracking */
	char pat[401], name[2001];
	for (int i = 0; i < 400; i += 2)
		memcpy(pat + i, i % 4 ? "*%" : "%*", 2);
	pat[399] = 'x';
	pat[400] = '\0';
	memset(name, 'a', 2000);
	name[2000] = '\0';
	unsigned long long t0 = now_ms();
	assert_false(mailstore_match(pat, name));
	name[1999] = 'x';
	assert_true(mailstore_match(pat, name));
	assert_true(now_ms() - t0 < 5000);
}

/* ---- DELETE ---- */

static void
test_delete(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	create_ok(&f->ms, "d", SU_ARCHIVE);
	char *dir = mailstore_path(&f->ms, "d", &err);
	free(deliver_to(dir, "Subject: a\n\na\n"));
	struct mailbox *mb = NULL;
	assert_int_equal(mailbox_open(dir, false, &mb, &err), 0);	/* to cur/, uidlist */
	assert_int_equal(mailbox_keyword(mb, "k", true), 0);
	mailbox_unref(&mb);
	free(deliver_to(dir, "Subject: b\n\nb\n"));	/* one in new/ */
	char *p = xasprintf("%s/tmp/leftover", dir);	/* and one in tmp/ */
	put_str(p, "x");
	free(p);
	p = xasprintf("%s/dovecot.index.log", dir);
	put_str(p, "x");
	free(p);
	assert_true(exists_at(dir, "dovecot-uidlist"));
	subscribe_ok(&f->ms, "d", true);
	delete_ok(&f->ms, "d");
	assert_false(exists(dir));
	/* nothing left behind in the root */
	DIR *d = opendir(f->root);
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "..", 2) == 0 && de->d_name[2] != '\0')
			fail_msg("left behind: %s", de->d_name);
	closedir(d);
	/* the subscription stays (RFC 9051 6.3.9) */
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive|d");
	assert_int_equal(mailstore_delete(&f->ms, "d", &err), -1);
	assert_prefix(err, "[NONEXISTENT]");
	assert_int_equal(mailstore_delete(&f->ms, "INBOX", &err), -1);
	assert_prefix(err, "[CANNOT]");
	assert_int_equal(mailstore_delete(&f->ms, "inbox", &err), -1);
	assert_true(is_dir_at(f->root, "cur"));

	/* with children: the messages and the directory go, the children stay */
	create_ok(&f->ms, "p/c", 0);
	char *pd = mailstore_path(&f->ms, "p", &err), *cd = mailstore_path(&f->ms, "p/c", &err);
	free(deliver_to(pd, "x\n"));
	free(deliver_to(cd, "y\n"));
	delete_ok(&f->ms, "p");
	assert_false(exists(pd));
	p = xasprintf("%s/new", cd);
	assert_int_equal(count_dir(p), 1);
	free(p);
	assert_int_equal(mailstore_delete(&f->ms, "p", &err), -1);	/* \Noselect now */
	assert_prefix(err, "[NONEXISTENT]");
	delete_ok(&f->ms, "p/c");
	assert_false(exists(cd));
	free(pd);
	free(cd);

	/* a file we do not know: the messages go, the folder and the file stay */
	create_ok(&f->ms, "u", 0);
	char *ud = mailstore_path(&f->ms, "u", &err);
	free(deliver_to(ud, "z\n"));
	p = xasprintf("%s/notes.txt", ud);
	put_str(p, "mine");
	assert_int_equal(mailstore_delete(&f->ms, "u", &err), -1);
	assert_prefix(err, "[CANNOT]");
	assert_true(exists(p));
	assert_true(exists(ud));
	char *nd = xasprintf("%s/new", ud);
	assert_int_equal(count_dir(nd), 0);
	free(nd);
	assert_int_equal(unlink(p), 0);
	free(p);
	delete_ok(&f->ms, "u");
	assert_false(exists(ud));
	free(ud);

	/* a symlink in cur/ is removed, not followed */
	create_ok(&f->ms, "s", 0);
	char *victim = xasprintf("%s/victim", f->tmp);
	put_str(victim, "keep me");
	char *sd = mailstore_path(&f->ms, "s", &err);
	p = xasprintf("%s/cur/link:2,", sd);
	assert_int_equal(symlink(victim, p), 0);
	free(p);
	delete_ok(&f->ms, "s");
	char *t = slurp(victim);
	assert_string_equal(t, "keep me");
	free(t);
	free(victim);
	free(sd);
	free(dir);
}

/* ---- RENAME ---- */

static void
test_rename(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	create_ok(&f->ms, "a/b/c", 0);
	create_ok(&f->ms, "ab", 0);	/* a prefix by bytes, not a child */
	subscribe_ok(&f->ms, "a", true);
	subscribe_ok(&f->ms, "a/b", true);
	subscribe_ok(&f->ms, "ab", true);
	char *bd = mailstore_path(&f->ms, "a/b", &err);
	char *msg = deliver_to(bd, "Subject: moved\n\nm\n");
	free(bd);
	rename_ok(&f->ms, "a", "x");
	assert_false(exists_at(f->root, ".a"));
	assert_false(exists_at(f->root, ".a.b"));
	assert_false(exists_at(f->root, ".a.b.c"));
	assert_true(is_dir_at(f->root, ".x"));
	assert_true(is_dir_at(f->root, ".x.b"));
	assert_true(is_dir_at(f->root, ".x.b.c"));
	assert_true(is_dir_at(f->root, ".ab"));
	char *p = xasprintf(".x.b/%s", msg);
	assert_true(exists_at(f->root, p));
	free(p);
	free(msg);
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive|x|x/b|ab");
	assert_list(&f->ms, "INBOX: Archive:a Drafts:d Junk:j Sent:s Trash:t ab: "
	    "x:c x/b:c x/b/c:");

	/* errors change nothing */
	char *before = snapshot(f->root);
	assert_int_equal(mailstore_rename(&f->ms, "x", "ab", &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	assert_int_equal(mailstore_rename(&f->ms, "x", "x", &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	assert_int_equal(mailstore_rename(&f->ms, "nope", "y", &err), -1);
	assert_prefix(err, "[NONEXISTENT]");
	assert_int_equal(mailstore_rename(&f->ms, "x", "x/y", &err), -1);
	assert_prefix(err, "[CANNOT]");
	assert_int_equal(mailstore_rename(&f->ms, "x", "x/b/c/d", &err), -1);
	assert_int_equal(mailstore_rename(&f->ms, "x", "INBOX", &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	assert_int_equal(mailstore_rename(&f->ms, "x", "inbox", &err), -1);
	/* a child's new name is taken */
	create_ok(&f->ms, "m/k", 0);
	p = xasprintf("%s/.n.k", f->root);
	assert_int_equal(maildir_create(p, &err), STORE_OK);
	free(p);
	char *before2 = snapshot(f->root);
	assert_int_equal(mailstore_rename(&f->ms, "m", "n", &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	char *after = snapshot(f->root);
	assert_string_equal(after, before2);
	free(after);
	free(before2);
	free(before);
	/* a child would be too deep */
	char deep[200] = "l1";
	for (int i = 2; i <= 16; i++)
		sprintf(deep + strlen(deep), "/l%d", i);
	create_ok(&f->ms, deep, 0);
	before = snapshot(f->root);
	assert_int_equal(mailstore_rename(&f->ms, "l1", "q/r", &err), -1);
	assert_prefix(err, "[CANNOT]");
	after = snapshot(f->root);
	assert_string_equal(after, before);
	free(after);
	free(before);

	/* into a new hierarchy: its parents are made */
	rename_ok(&f->ms, "x/b", "new/place/");
	assert_true(exists_at(f->root, ".new/maildirfolder"));
	assert_true(is_dir_at(f->root, ".new.place"));
	assert_true(is_dir_at(f->root, ".new.place.c"));
	assert_false(exists_at(f->root, ".x.b"));
	assert_true(is_dir_at(f->root, ".x"));
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive|x|new/place|ab");
	/* special-use goes along */
	create_ok(&f->ms, "Out", SU_SENT);
	rename_ok(&f->ms, "Out", "Gone Out");
	assert_list(&f->ms, "INBOX: Archive:a Drafts:d Gone Out:s Junk:j Sent:s Trash:t ab: "
	    "l1:c l1/l2:c l1/l2/l3:c l1/l2/l3/l4:c l1/l2/l3/l4/l5:c l1/l2/l3/l4/l5/l6:c "
	    "l1/l2/l3/l4/l5/l6/l7:c l1/l2/l3/l4/l5/l6/l7/l8:c l1/l2/l3/l4/l5/l6/l7/l8/l9:c "
	    "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10:c l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11:c "
	    "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12:c "
	    "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13:c "
	    "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14:c "
	    "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15:c "
	    "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15/l16: "
	    "m:c m/k: n:nc n/k: new:c new/place:c new/place/c: x:");
	/* a subscription already there for the new name is not doubled */
	subscribe_ok(&f->ms, "y", true);
	subscribe_ok(&f->ms, "ab", true);
	rename_ok(&f->ms, "ab", "y");
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive|x|new/place|y");
	/* non-ASCII both ways */
	rename_ok(&f->ms, "y", "\xc3\x9c/\xc3\xa4");
	assert_true(is_dir_at(f->root, ".&ANw-.&AOQ-"));
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive|x|new/place|\xc3\x9c/\xc3\xa4");
	char *subs = slurp_at(f->root, "subscriptions");
	assert_non_null(strstr(subs, "\n&ANw-\t&AOQ-\n"));
	free(subs);
}

/* RENAME INBOX: the messages move, INBOX stays (empty) with its children. */
static void
test_rename_inbox(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	create_ok(&f->ms, "INBOX/kid", 0);
	struct mailbox *mb = NULL;
	char *m1 = deliver_to(f->root, "Subject: one\n\n1\n");
	assert_int_equal(mailbox_open(f->root, false, &mb, &err), 0);	/* to cur/ */
	assert_int_equal(mailbox_keyword(mb, "zero", true), 0);
	assert_int_equal(mailbox_keyword(mb, "one", true), 1);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_SEEN, 1u << 1, &err), 0);
	char *m2 = deliver_to(f->root, "Subject: two\n\n2\n");	/* stays in new/ */
	char *tp = xasprintf("%s/tmp/inflight", f->root);
	put_str(tp, "x");

	rename_ok(&f->ms, "INBOX", "Old/Inbox");
	char *cur = xasprintf("%s/cur", f->root), *nw = xasprintf("%s/new", f->root);
	assert_int_equal(count_dir(cur), 0);
	assert_int_equal(count_dir(nw), 0);
	assert_true(exists(tp));	/* tmp/ is not a message yet */
	assert_true(is_dir_at(f->root, ".INBOX.kid"));
	assert_true(exists_at(f->root, ".Old/maildirfolder"));
	char *od = mailstore_path(&f->ms, "Old/Inbox", &err);
	char *p = xasprintf("%s/%s", od, m2);
	assert_true(exists(p));
	free(p);
	char *k1 = slurp_at(f->root, "dovecot-keywords"), *k2 = slurp_at(od, "dovecot-keywords");
	assert_string_equal(k1, k2);
	free(k1);
	free(k2);
	struct mailbox *old = NULL;
	assert_int_equal(mailbox_open(od, false, &old, &err), 0);
	assert_int_equal(old->n, 2);
	assert_int_equal(old->m[0].flags, MF_SEEN);
	assert_int_equal(old->m[0].kw, 1u << 1);
	assert_string_equal(old->kw[1], "one");
	mailbox_unref(&old);
	/* INBOX's own object sees its messages gone */
	assert_int_equal(mailbox_sync(mb, false, &err), 1);
	assert_int_equal(mb->n, 0);
	mailbox_unref(&mb);
	assert_list(&f->ms, "INBOX:c Archive:a Drafts:d INBOX/kid: Junk:j Old:c Old/Inbox: "
	    "Sent:s Trash:t");

	/* again, now under INBOX itself; and not onto an existing name */
	free(deliver_to(f->root, "Subject: three\n\n3\n"));
	assert_int_equal(mailstore_rename(&f->ms, "INBOX", "Old/Inbox", &err), -1);
	assert_prefix(err, "[ALREADYEXISTS]");
	assert_int_equal(count_dir(nw), 1);
	rename_ok(&f->ms, "inbox", "INBOX/old");
	assert_int_equal(count_dir(nw), 0);
	p = xasprintf("%s/.INBOX.old/new", f->root);
	assert_int_equal(count_dir(p), 1);
	free(p);
	/* an empty INBOX renames too */
	rename_ok(&f->ms, "INBOX", "Empty");
	assert_true(is_dir_at(f->root, ".Empty/cur"));
	free(od);
	free(tp);
	free(cur);
	free(nw);
	free(m1);
	free(m2);
}

/* ---- subscriptions ---- */

static void
test_subscriptions(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	subscribe_ok(&f->ms, "a", true);
	subscribe_ok(&f->ms, "Entw\xc3\xbcrfe/x", true);
	subscribe_ok(&f->ms, "inbox", true);	/* already: not doubled */
	subscribe_ok(&f->ms, "a", true);
	subscribe_ok(&f->ms, "inbox/y", true);
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive|a|Entw\xc3\xbcrfe/x|INBOX/y");
	char *t = slurp_at(f->root, "subscriptions");
	assert_string_equal(t, "V\t2\n\nINBOX\nDrafts\nSent\nTrash\nJunk\nArchive\na\n"
	    "Entw&APw-rfe\tx\nINBOX\ty\n");
	free(t);
	subscribe_ok(&f->ms, "Drafts", false);
	subscribe_ok(&f->ms, "never", false);	/* not subscribed: fine */
	subscribe_ok(&f->ms, "INBOX", false);
	assert_subs(&f->ms, "Sent|Trash|Junk|Archive|a|Entw\xc3\xbcrfe/x|INBOX/y");
	assert_int_equal(mailstore_subscribe(&f->ms, "a/../b", true, &err), -1);
	assert_int_equal(mailstore_subscribe(&f->ms, "", false, &err), -1);
	assert_false(exists_at(f->root, "subscriptions.lock"));

	/* Dovecot's own file: read as it is, written back in its format */
	size_t len;
	char *dv = tu_dovecot_vector("subscriptions", &len), *p = xasprintf("%s/subscriptions", f->root);
	put_str(p, dv);
	free(dv);
	assert_subs(&f->ms, "a/b|Sent|\xc3\x9cmlaut|INBOX");
	subscribe_ok(&f->ms, "Sent", false);
	subscribe_ok(&f->ms, "\xc3\x9cmlaut/sub", true);
	t = slurp(p);
	assert_string_equal(t, "V\t2\n\na\tb\n&ANw-mlaut\nINBOX\n&ANw-mlaut\tsub\n");
	free(t);
	/* names another program wrote that we would refuse: shown, removable */
	put_str(p, "V\t2\n\nwe*ird\nbad&\nx\n");
	assert_subs(&f->ms, "we*ird|x");	/* "bad&" is not modified UTF-7 */
	subscribe_ok(&f->ms, "we*ird", false);
	assert_subs(&f->ms, "x");
	/* Dovecot 1.x files (no header, '.' between levels) */
	put_str(p, "a.b\nINBOX\n");
	assert_subs(&f->ms, "a/b|INBOX");
	/* none at all */
	assert_int_equal(unlink(p), 0);
	assert_subs(&f->ms, "");
	subscribe_ok(&f->ms, "z", true);
	assert_subs(&f->ms, "z");
	free(p);
}

/* A stale subscriptions.lock is broken; an error leaves no lock. */
static void
test_subscriptions_lock(void **state)
{
	struct fx *f = *state;
	char *lp = xasprintf("%s/subscriptions.lock", f->root);
	struct timespec ts[2] = { { time(NULL) - 180, 0 }, { time(NULL) - 180, 0 } };

	put_str(lp, "12345\n");
	assert_int_equal(utimensat(AT_FDCWD, lp, ts, 0), 0);
	subscribe_ok(&f->ms, "q", true);
	assert_false(exists(lp));
	assert_subs(&f->ms, "INBOX|Drafts|Sent|Trash|Junk|Archive|q");
	free(lp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_use_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_use_after_deliveries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_defaults_when_used, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_names, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_list_skips_strangers, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup_open, teardown),
		cmocka_unit_test(test_match),
		cmocka_unit_test_setup_teardown(test_delete, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions_lock, setup_open, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
