/* Unit tests for src/users: the user directory, mailbox templates, extensions. */
#include "tu.h"

#include <pwd.h>

#include "conf/conf.h"
#include "lib/util.h"
#include "users/users.h"

#define VUID 5000
#define VGID 5001

struct fixture {
	char *dir;
	struct conf conf;
	struct userdb *udb;
};

static char *
write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* Build a conf from text (where "@D" stands for the temp directory). */
static void
make_conf(struct conf *c, const char *dir, const char *tmpl)
{
	char text[4096];
	char *err = NULL;
	size_t o = 0;

	for (const char *p = tmpl; *p && o + 512 < sizeof(text); p++) {
		if (p[0] == '@' && p[1] == 'D') {
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s", dir);
			p++;
		} else
			text[o++] = *p;
	}
	text[o] = '\0';
	memset(c, 0, sizeof(*c));
	if (conf_parse(text, o, "/etc/estafeta/estafeta.conf", c, &err) != 0)
		fail_msg("conf: %s", err);
	conf_defaults(c);
}

static const char passwd_a[] =
    "# virtual users\n"
    "alice:{PLAIN}secret:1001:1002:Alice:/home/alice:/bin/sh:extra\n"
    "bob@example.com:{SHA256-CRYPT}$5$x::::/srv/vmail/example.com/bob\n"
    "Carol@Example.ORG:x\n"
    "dave:x:2000\n"
    "  \n"
    "erin@example.com:x:::::\n"
    "erin:x:3000:3000::/home/erin-plain\n"
    "relhome:x:::::srv/relative\n"
    "dotty:x:::::/srv/../etc\n";

static const char passwd_b[] =
    "alice:x:4001:4002::/home/alice-b\n"
    "frank:x:4003:4004::/home/frank\n";

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *err = NULL;

	fx->dir = tu_tmpdir();
	free(write_file(fx->dir, "a.passwd", passwd_a));
	free(write_file(fx->dir, "b.passwd", passwd_b));
	make_conf(&fx->conf, fx->dir, "users passwd-file @D/a.passwd\nusers passwd-file @D/b.passwd\n");
	fx->udb = userdb_open(&fx->conf, VUID, VGID, &err);
	if (fx->udb == NULL)
		fail_msg("userdb_open: %s", err);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	userdb_free(&fx->udb);
	assert_null(fx->udb);
	userdb_free(&fx->udb);	/* harmless */
	conf_free(&fx->conf);
	tu_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static void
test_passwd_file_lookup(void **state)
{
	struct fixture *fx = *state;
	struct user_info ui;

	/* A plain name with uid, gid and home. */
	assert_int_equal(userdb_lookup(fx->udb, "alice", "example.com", &ui), 1);
	assert_string_equal(ui.name, "alice");
	assert_string_equal(ui.local, "alice");
	assert_string_equal(ui.domain, "example.com");
	assert_string_equal(ui.home, "/home/alice");
	assert_int_equal(ui.uid, 1001);
	assert_int_equal(ui.gid, 1002);
	assert_true(ui.is_virtual);
	/* Without a domain. */
	assert_int_equal(userdb_lookup(fx->udb, "alice", "", &ui), 1);
	assert_string_equal(ui.domain, "");
	assert_string_equal(ui.name, "alice");

	/* name@domain entries: found only with their domain; uid/gid default. */
	assert_int_equal(userdb_lookup(fx->udb, "bob", "example.com", &ui), 1);
	assert_string_equal(ui.name, "bob@example.com");
	assert_string_equal(ui.local, "bob");
	assert_string_equal(ui.domain, "example.com");
	assert_string_equal(ui.home, "/srv/vmail/example.com/bob");
	assert_int_equal(ui.uid, VUID);
	assert_int_equal(ui.gid, VGID);
	assert_true(ui.is_virtual);
	assert_int_equal(userdb_lookup(fx->udb, "bob", "example.org", &ui), 0);
	assert_int_equal(userdb_lookup(fx->udb, "bob", "", &ui), 0);
	/* Case-insensitive; the entry's own (lower-cased) spelling is reported. */
	assert_int_equal(userdb_lookup(fx->udb, "bob", "EXAMPLE.COM", &ui), 1);
	assert_string_equal(ui.name, "bob@example.com");
	assert_string_equal(ui.domain, "example.com");
	assert_int_equal(userdb_lookup(fx->udb, "CAROL", "Example.Org", &ui), 1);
	assert_string_equal(ui.name, "carol@example.org");
	assert_string_equal(ui.local, "carol");
	assert_string_equal(ui.domain, "example.org");
	assert_string_equal(ui.home, "");
	assert_int_equal(ui.uid, VUID);
	assert_int_equal(ui.gid, VGID);

	/* Only a uid given: the gid defaults. */
	assert_int_equal(userdb_lookup(fx->udb, "dave", "example.net", &ui), 1);
	assert_int_equal(ui.uid, 2000);
	assert_int_equal(ui.gid, VGID);
	assert_string_equal(ui.domain, "example.net");

	/* name@domain wins over a plain name in the same file. */
	assert_int_equal(userdb_lookup(fx->udb, "erin", "example.com", &ui), 1);
	assert_string_equal(ui.name, "erin@example.com");
	assert_int_equal(ui.uid, VUID);
	assert_string_equal(ui.home, "");
	assert_int_equal(userdb_lookup(fx->udb, "erin", "example.org", &ui), 1);
	assert_string_equal(ui.name, "erin");
	assert_int_equal(ui.uid, 3000);
	assert_string_equal(ui.home, "/home/erin-plain");

	/* Backends are searched in order: alice from the first file, frank from the second. */
	assert_int_equal(userdb_lookup(fx->udb, "alice", "x", &ui), 1);
	assert_int_equal(ui.uid, 1001);
	assert_int_equal(userdb_lookup(fx->udb, "frank", "x", &ui), 1);
	assert_int_equal(ui.uid, 4003);
	assert_string_equal(ui.home, "/home/frank");

	/* Unknown names, and names that are not names. */
	assert_int_equal(userdb_lookup(fx->udb, "nosuch", "example.com", &ui), 0);
	assert_int_equal(userdb_lookup(fx->udb, "", "example.com", &ui), 0);
	assert_int_equal(userdb_lookup(fx->udb, "alic", "", &ui), 0);
	assert_int_equal(userdb_lookup(fx->udb, "alicee", "", &ui), 0);
	assert_int_equal(userdb_lookup(fx->udb, "# virtual users", "", &ui), 0);
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(userdb_lookup(fx->udb, longname, "example.com", &ui), 0);
	assert_int_equal(userdb_lookup(fx->udb, "alice", longname, &ui), 0);
	/* A miss leaves nothing behind in ui. */
	assert_string_equal(ui.name, "");
	assert_false(ui.is_virtual);
}

static void
test_system_backend(void **state)
{
	struct conf c;
	struct userdb *u;
	struct user_info ui;
	char *err = NULL;
	(void)state;

	struct passwd *pw = getpwnam("root");
	assert_non_null(pw);
	char *roothome = xstrdup(pw->pw_dir);

	/* The default is the system backend. */
	make_conf(&c, "/nonexistent", "");
	assert_int_equal(c.nusers, 1);
	u = userdb_open(&c, VUID, VGID, &err);
	assert_non_null(u);
	assert_int_equal(userdb_lookup(u, "root", "example.com", &ui), 1);
	assert_string_equal(ui.name, "root");
	assert_string_equal(ui.local, "root");
	assert_string_equal(ui.domain, "example.com");
	assert_string_equal(ui.home, roothome);
	assert_int_equal(ui.uid, 0);
	assert_int_equal(ui.gid, 0);
	assert_false(ui.is_virtual);
	assert_int_equal(userdb_lookup(u, "nosuchuserxyz", "example.com", &ui), 0);
	assert_int_equal(userdb_lookup(u, "", "example.com", &ui), 0);
	/* Names getpwnam could misread are never looked up. */
	assert_int_equal(userdb_lookup(u, "root@example.com", "", &ui), 0);
	assert_int_equal(userdb_lookup(u, "root/x", "", &ui), 0);
	assert_int_equal(userdb_lookup(u, "root:x", "", &ui), 0);
	userdb_free(&u);
	conf_free(&c);

	/* Mixed: a passwd-file first, then the system. */
	char *dir = tu_tmpdir();
	free(write_file(dir, "v.passwd", "root:x:7:7::/srv/vroot\nvuser:x\n"));
	make_conf(&c, dir, "users passwd-file @D/v.passwd\nusers system\n");
	u = userdb_open(&c, VUID, VGID, &err);
	assert_non_null(u);
	assert_int_equal(userdb_lookup(u, "root", "example.com", &ui), 1);
	assert_true(ui.is_virtual);
	assert_int_equal(ui.uid, 7);
	assert_int_equal(userdb_lookup(u, "vuser", "example.com", &ui), 1);
	assert_true(ui.is_virtual);
	assert_int_equal(userdb_lookup(u, "nosuchuserxyz", "example.com", &ui), 0);
	userdb_free(&u);
	conf_free(&c);

	/* And the other way round. */
	make_conf(&c, dir, "users system\nusers passwd-file @D/v.passwd\n");
	u = userdb_open(&c, VUID, VGID, &err);
	assert_non_null(u);
	assert_int_equal(userdb_lookup(u, "root", "example.com", &ui), 1);
	assert_false(ui.is_virtual);
	assert_int_equal(ui.uid, 0);
	assert_int_equal(userdb_lookup(u, "vuser", "example.com", &ui), 1);
	assert_true(ui.is_virtual);
	assert_int_equal(ui.uid, VUID);
	userdb_free(&u);
	conf_free(&c);
	tu_rmtree(dir);
	free(dir);
	free(roothome);
}

static void
test_open_errors(void **state)
{
	struct conf c;
	char *err = NULL;
	char *want;
	(void)state;

	char *dir = tu_tmpdir();
	make_conf(&c, dir, "users passwd-file @D/missing\n");
	assert_null(userdb_open(&c, VUID, VGID, &err));
	want = xasprintf("%s/missing: No such file or directory", dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	conf_free(&c);

	free(write_file(dir, "bad.passwd", "ok:x\nbad:x:notanumber\n"));
	make_conf(&c, dir, "users system\nusers passwd-file @D/bad.passwd\n");
	err = NULL;
	assert_null(userdb_open(&c, VUID, VGID, &err));
	want = xasprintf("%s/bad.passwd:2: invalid uid 'notanumber'", dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	conf_free(&c);

	free(write_file(dir, "dup.passwd", "a:x\nb:x\nA:y\n"));
	free(write_file(dir, "good.passwd", "a:x\n"));
	make_conf(&c, dir, "users passwd-file @D/good.passwd\nusers passwd-file @D/dup.passwd\n");
	err = NULL;
	assert_null(userdb_open(&c, VUID, VGID, &err));
	want = xasprintf("%s/dup.passwd:3: duplicate user 'a' (first on line 1)", dir);
	assert_string_equal(err, want);
	free(want);
	free(err);
	conf_free(&c);

	/* An empty passwd-file is valid and knows nobody. */
	free(write_file(dir, "empty.passwd", ""));
	make_conf(&c, dir, "users passwd-file @D/empty.passwd\n");
	struct userdb *u = userdb_open(&c, VUID, VGID, &err);
	assert_non_null(u);
	struct user_info ui;
	assert_int_equal(userdb_lookup(u, "root", "", &ui), 0);
	userdb_free(&u);
	conf_free(&c);
	tu_rmtree(dir);
	free(dir);
}

/* ---- mailbox_expand ---- */

static void
make_ui(struct user_info *ui, const char *name, const char *local, const char *domain,
    const char *home)
{
	memset(ui, 0, sizeof(*ui));
	strlcpy(ui->name, name, sizeof(ui->name));
	strlcpy(ui->local, local, sizeof(ui->local));
	strlcpy(ui->domain, domain, sizeof(ui->domain));
	strlcpy(ui->home, home, sizeof(ui->home));
}

/* Expand into a buffer of exactly outsz bytes (ASan catches overflows). */
static int
expand_sz(const char *tmpl, const struct user_info *ui, size_t outsz, char **out_r)
{
	char *out = xmalloc(outsz);
	int rc = mailbox_expand(tmpl, ui, out, outsz);

	if (rc == 0) {
		assert_true(strlen(out) < outsz);
		*out_r = out;
	} else {
		assert_int_equal(rc, -1);
		*out_r = NULL;
		free(out);
	}
	return rc;
}

static void
expect_expand(const struct user_info *ui, const char *tmpl, const char *want)
{
	char *out;
	int rc = expand_sz(tmpl, ui, 4096, &out);

	if (want == NULL) {
		if (rc != -1)
			fail_msg("mailbox_expand(\"%s\") = \"%s\", want -1", tmpl, out);
		return;
	}
	if (rc != 0)
		fail_msg("mailbox_expand(\"%s\") failed, want \"%s\"", tmpl, want);
	if (strcmp(out, want) != 0)
		fail_msg("mailbox_expand(\"%s\") = \"%s\", want \"%s\"", tmpl, out, want);
	free(out);
	/* Exactly enough room works; one byte less does not. */
	size_t need = strlen(want) + 1;
	assert_int_equal(expand_sz(tmpl, ui, need, &out), 0);
	assert_string_equal(out, want);
	free(out);
	for (size_t sz = 1; sz < need; sz++)
		if (expand_sz(tmpl, ui, sz, &out) != -1)
			fail_msg("mailbox_expand(\"%s\") fit in %zu bytes", tmpl, sz);
}

static void
test_mailbox_expand(void **state)
{
	struct user_info ui;
	(void)state;

	make_ui(&ui, "bob@example.com", "bob", "example.com", "/srv/vmail/bob");
	expect_expand(&ui, "~/Maildir", "/srv/vmail/bob/Maildir");
	expect_expand(&ui, "~/", "/srv/vmail/bob/");
	expect_expand(&ui, "/var/mail/%u", "/var/mail/bob@example.com");
	expect_expand(&ui, "/var/mail/%n", "/var/mail/bob");
	expect_expand(&ui, "/srv/mail/%d/%n/Maildir", "/srv/mail/example.com/bob/Maildir");
	expect_expand(&ui, "%h/mbox", "/srv/vmail/bob/mbox");
	expect_expand(&ui, "/a%%b", "/a%b");
	expect_expand(&ui, "/%%u", "/%u");
	expect_expand(&ui, "/%%%n%%", "/%bob%");
	expect_expand(&ui, "/plain/path", "/plain/path");
	expect_expand(&ui, "", "");
	/* '~' only means the home at the start and before '/'. */
	expect_expand(&ui, "/x/~/y", "/x/~/y");
	expect_expand(&ui, "~bob/Maildir", "~bob/Maildir");
	expect_expand(&ui, "/~", "/~");
	/* Unknown and incomplete escapes. */
	expect_expand(&ui, "/var/mail/%x", NULL);
	expect_expand(&ui, "/var/mail/%U", NULL);
	expect_expand(&ui, "/var/mail/%", NULL);
	expect_expand(&ui, "%", NULL);

	/* A user without a home. */
	make_ui(&ui, "carol", "carol", "example.org", "");
	expect_expand(&ui, "~/Maildir", NULL);
	expect_expand(&ui, "/x/%h", NULL);
	expect_expand(&ui, "/var/mail/%u", "/var/mail/carol");
	/* A relative home is no home. */
	make_ui(&ui, "carol", "carol", "example.org", "srv/carol");
	expect_expand(&ui, "~/Maildir", NULL);
	expect_expand(&ui, "%h/Maildir", NULL);
	/* An empty domain expands to nothing. */
	make_ui(&ui, "carol", "carol", "", "/home/carol");
	expect_expand(&ui, "/srv/%d/%n", "/srv//carol");

	/* ".." never climbs out of the mail tree. */
	make_ui(&ui, "..", "..", "..", "/home/x");
	expect_expand(&ui, "/var/mail/%u", NULL);
	expect_expand(&ui, "/srv/%d/%n/Maildir", NULL);
	expect_expand(&ui, "%u", NULL);
	expect_expand(&ui, "%n/Maildir", NULL);
	make_ui(&ui, "../../etc/passwd", "../../etc", "example.com", "/home/x");
	expect_expand(&ui, "/var/mail/%u", NULL);
	expect_expand(&ui, "/var/mail/%n", NULL);
	make_ui(&ui, "x", "x", "../..", "/home/x");
	expect_expand(&ui, "/srv/%d/%n", NULL);
	make_ui(&ui, "x", "x", "example.com", "/srv/../etc");
	expect_expand(&ui, "~/Maildir", NULL);
	make_ui(&ui, "x", "x", "example.com", "/home/x");
	expect_expand(&ui, "/srv/../etc/%n", NULL);
	expect_expand(&ui, "/srv/%n/..", NULL);
	/* Dots that are not a ".." component are fine. */
	make_ui(&ui, "a..b", "a..b", "..example", "/home/x");
	expect_expand(&ui, "/var/mail/%u", "/var/mail/a..b");
	expect_expand(&ui, "/srv/%d/%n", "/srv/..example/a..b");
	make_ui(&ui, "...", "...", ".", "/home/x");
	expect_expand(&ui, "/var/mail/%u", "/var/mail/...");
	expect_expand(&ui, "/srv/%d/%n", "/srv/./...");

	/* Long values: the longest of each field still fits a large buffer. */
	char big[1100];
	memset(big, 'h', sizeof(big));
	big[0] = '/';
	big[1023] = '\0';
	make_ui(&ui, "", "", "", big);
	memset(ui.name, 'u', 255);
	memset(ui.local, 'n', 255);
	memset(ui.domain, 'd', 255);
	char *out;
	assert_int_equal(expand_sz("~/%u/%n/%d/%h/%%", &ui, 8192, &out), 0);
	assert_int_equal(strlen(out), 1023 + 1 + 255 + 1 + 255 + 1 + 255 + 1 + 1023 + 1 + 1);
	free(out);
	assert_int_equal(expand_sz("~/%u/%n/%d/%h/%%", &ui, 2048, &out), -1);
	assert_int_equal(expand_sz("~/%u/%n/%d/%h/%%", &ui, 1, &out), -1);
}

/* ---- local_strip_ext ---- */

static void
expect_strip(const char *in, const char *delims, const char *want)
{
	char buf[300];

	strlcpy(buf, in, sizeof(buf));
	local_strip_ext(buf, delims);
	if (strcmp(buf, want) != 0)
		fail_msg("local_strip_ext(\"%s\", %s%s%s) = \"%s\", want \"%s\"", in, delims ? "\"" : "",
		    delims ? delims : "NULL", delims ? "\"" : "", buf, want);
}

static void
test_strip_ext(void **state)
{
	(void)state;
	expect_strip("user+tag", "+", "user");
	expect_strip("user+", "+", "user");
	expect_strip("user+a+b", "+", "user");
	expect_strip("user", "+", "user");
	expect_strip("user-tag", "+", "user-tag");
	/* A leading delimiter is part of the name. */
	expect_strip("+x", "+", "+x");
	expect_strip("+", "+", "+");
	expect_strip("++x", "+", "+");
	expect_strip("", "+", "");
	/* No delimiter configured. */
	expect_strip("user+tag", "", "user+tag");
	expect_strip("user+tag", NULL, "user+tag");
	/* Several delimiter characters: the first one found cuts. */
	expect_strip("user-tag", "+-", "user");
	expect_strip("user+tag-x", "+-", "user");
	expect_strip("a-b+c", "+-", "a");
	expect_strip("a+b-c", "-+", "a");
	expect_strip("-a+b", "+-", "-a");
	expect_strip("user.tag", "+-", "user.tag");
	expect_strip("user=tag", "=", "user");
	/* Non-ASCII bytes are ordinary characters. */
	expect_strip("j\xc3\xbcrgen+x", "+", "j\xc3\xbcrgen");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_passwd_file_lookup, setup, teardown),
		cmocka_unit_test(test_system_backend),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_mailbox_expand),
		cmocka_unit_test(test_strip_ext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
