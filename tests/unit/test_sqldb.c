/* Unit tests for src/users/sqldb: the SQLite user database, and its use by userdb. */
#include "tu.h"

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>

#include "conf/conf.h"
#include "lib/util.h"
#include "users/sqldb.h"
#include "users/users.h"

#define VUID 5000
#define VGID 5001

static struct sqldb_user
mkuser(const char *name, const char *pw, const char *scram, long uid, long gid, const char *home)
{
	struct sqldb_user u;

	memset(&u, 0, sizeof(u));
	strlcpy(u.name, name, sizeof(u.name));
	strlcpy(u.password, pw, sizeof(u.password));
	strlcpy(u.scram, scram, sizeof(u.scram));
	u.uid = uid;
	u.gid = gid;
	strlcpy(u.home, home, sizeof(u.home));
	return u;
}

static struct sqldb *
open_ok(const char *path, bool create)
{
	char *err = NULL;
	struct sqldb *db = sqldb_open(path, create, &err);

	if (db == NULL)
		fail_msg("sqldb_open(%s, %d): %s", path, create, err);
	return db;
}

static void
put_ok(struct sqldb *db, struct sqldb_user u, bool replace, int want)
{
	char *err = NULL;
	int r = sqldb_put(db, &u, replace, &err);

	if (r != want)
		fail_msg("sqldb_put(%s, %d) = %d, want %d (%s)", u.name, replace, r, want,
		    err ? err : "");
	free(err);
}

/* Run sql directly, as a foreign tool would. */
static void
raw_sql(const char *path, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

static void
open_err(const char *path, bool create, const char *want)
{
	char *err = NULL;
	struct sqldb *db = sqldb_open(path, create, &err);

	if (db != NULL)
		fail_msg("sqldb_open(%s, %d) succeeded, want error %s", path, create, want);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("sqldb_open(%s): got \"%s\", want \"%s\"", path, err, want);
	free(err);
}

static void
test_create_open(void **state)
{
	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/users.db", dir);
	char *err = NULL;
	struct stat st;
	(void)state;

	/* Missing file, read-only: ENOENT. */
	errno = 0;
	assert_null(sqldb_open(path, false, &err));
	assert_int_equal(errno, ENOENT);
	free(err);
	assert_int_equal(stat(path, &st), -1);

	/* Created 0640 whatever the umask. */
	mode_t old = umask(0);
	struct sqldb *db = open_ok(path, true);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	sqldb_close(&db);
	assert_null(db);
	unlink(path);
	old = umask(077);
	db = open_ok(path, true);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	put_ok(db, mkuser("alice", "{PLAIN}a", "", -1, -1, ""), false, 1);
	sqldb_close(&db);

	/* Reopened, both ways: the data is there. */
	struct sqldb_user u;
	db = open_ok(path, true);
	assert_int_equal(sqldb_get(db, "alice", &u), 1);
	sqldb_close(&db);
	db = open_ok(path, false);
	assert_int_equal(sqldb_get(db, "alice", &u), 1);
	sqldb_close(&db);
	sqldb_close(&db);	/* twice is harmless */

	/* No WAL: the daemon reads as another user. */
	assert_int_equal(stat(path, &st), 0);
	char *wal = xasprintf("%s-wal", path);
	assert_int_equal(stat(wal, &st), -1);
	free(wal);

	/* A missing directory is reported. */
	char *bad = xasprintf("%s/nodir/users.db", dir);
	open_err(bad, true, "No such file or directory");
	free(bad);

	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void
test_put_get(void **state)
{
	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/users.db", dir);
	struct sqldb *db = open_ok(path, true);
	struct sqldb_user u;
	(void)state;

	long long t0 = (long long)time(NULL);
	put_ok(db, mkuser("alice", "{CRYPT}$y$abc", "{SCRAM-SHA-256}4096,s,k,v", -1, -1, ""), false, 1);
	put_ok(db, mkuser("Bob@Example.COM", "{PLAIN}b", "", 1001, 1002, "/home/bob"), false, 1);
	assert_int_equal(sqldb_get(db, "alice", &u), 1);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.password, "{CRYPT}$y$abc");
	assert_string_equal(u.scram, "{SCRAM-SHA-256}4096,s,k,v");
	assert_int_equal(u.uid, -1);
	assert_int_equal(u.gid, -1);
	assert_string_equal(u.home, "");
	assert_true(u.created >= t0 && u.created <= t0 + 5);
	assert_int_equal(u.changed, u.created);

	/* Stored lower-cased, found in any case. */
	assert_int_equal(sqldb_get(db, "BOB@example.com", &u), 1);
	assert_string_equal(u.name, "bob@example.com");
	assert_string_equal(u.scram, "");
	assert_int_equal(u.uid, 1001);
	assert_int_equal(u.gid, 1002);
	assert_string_equal(u.home, "/home/bob");
	assert_int_equal(sqldb_get(db, "ALICE", &u), 1);
	assert_int_equal(sqldb_get(db, "bob", &u), 0);
	assert_int_equal(sqldb_get(db, "", &u), 0);
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(sqldb_get(db, longname, &u), 0);

	/* Exists: not replaced unless asked, in any case of the name. */
	put_ok(db, mkuser("ALICE", "{PLAIN}x", "", 7, 8, "/x"), false, 0);
	assert_int_equal(sqldb_get(db, "alice", &u), 1);
	assert_string_equal(u.password, "{CRYPT}$y$abc");
	struct sqldb_user nu = mkuser("Alice", "{PLAIN}new", "", 7, 8, "/x");
	nu.created = 12345;	/* kept from the old row on replace */
	put_ok(db, nu, true, 1);
	assert_int_equal(sqldb_get(db, "alice", &u), 1);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.password, "{PLAIN}new");
	assert_string_equal(u.scram, "");
	assert_int_equal(u.uid, 7);
	assert_int_equal(u.gid, 8);
	assert_string_equal(u.home, "/x");
	assert_true(u.created >= t0);
	/* Replace of a new name inserts, with the given creation time. */
	put_ok(db, nu = mkuser("carol", "{PLAIN}c", "", -1, -1, ""), true, 1);
	nu = mkuser("dave", "{PLAIN}d", "", -1, -1, "");
	nu.created = 12345;
	put_ok(db, nu, false, 1);
	assert_int_equal(sqldb_get(db, "dave", &u), 1);
	assert_int_equal(u.created, 12345);
	assert_true(u.changed >= t0);

	/* Bad names are refused. */
	char *err = NULL;
	struct sqldb_user bad = mkuser("", "{PLAIN}x", "", -1, -1, "");
	assert_int_equal(sqldb_put(db, &bad, false, &err), -1);
	assert_non_null(err);
	free(err);

	/* Delete. */
	err = NULL;
	assert_int_equal(sqldb_del(db, "CAROL", &err), 1);
	assert_int_equal(sqldb_del(db, "carol", &err), 0);
	assert_int_equal(sqldb_del(db, "", &err), 0);
	assert_null(err);
	assert_int_equal(sqldb_get(db, "carol", &u), 0);

	sqldb_close(&db);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

struct listctx {
	struct sqldb *db;
	char names[8][256];
	int n, stop_at;
};

static int
list_cb(const struct sqldb_user *u, void *arg)
{
	struct listctx *lc = arg;
	struct sqldb_user again;

	/* The callback may use the database (no deadlock). */
	assert_int_equal(sqldb_get(lc->db, u->name, &again), 1);
	assert_string_equal(again.password, u->password);
	strlcpy(lc->names[lc->n++], u->name, sizeof(lc->names[0]));
	return lc->n == lc->stop_at;
}

static void
test_list(void **state)
{
	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/users.db", dir);
	struct sqldb *db = open_ok(path, true);
	struct listctx lc = { .db = db };
	(void)state;

	assert_int_equal(sqldb_list(db, list_cb, &lc), 0);
	assert_int_equal(lc.n, 0);
	put_ok(db, mkuser("zed", "{PLAIN}z", "", -1, -1, ""), false, 1);
	put_ok(db, mkuser("Amy@b.example", "{PLAIN}a", "", -1, -1, ""), false, 1);
	put_ok(db, mkuser("mike", "{PLAIN}m", "", -1, -1, ""), false, 1);
	assert_int_equal(sqldb_list(db, list_cb, &lc), 0);
	assert_int_equal(lc.n, 3);
	assert_string_equal(lc.names[0], "amy@b.example");
	assert_string_equal(lc.names[1], "mike");
	assert_string_equal(lc.names[2], "zed");

	lc.n = 0;
	lc.stop_at = 2;
	assert_int_equal(sqldb_list(db, list_cb, &lc), 0);
	assert_int_equal(lc.n, 2);

	/* A reader in another connection sees the writer's changes at once. */
	struct sqldb *ro = open_ok(path, false);
	struct sqldb_user u;
	assert_int_equal(sqldb_get(ro, "newbie", &u), 0);
	put_ok(db, mkuser("newbie", "{PLAIN}n", "", -1, -1, ""), false, 1);
	assert_int_equal(sqldb_get(ro, "NEWBIE", &u), 1);
	lc.n = 0;
	lc.stop_at = 0;
	lc.db = ro;
	assert_int_equal(sqldb_list(ro, list_cb, &lc), 0);
	assert_int_equal(lc.n, 4);
	sqldb_close(&ro);

	sqldb_close(&db);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void
test_readonly(void **state)
{
	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/users.db", dir);
	struct sqldb *db = open_ok(path, true);
	char *err = NULL;
	struct sqldb_user u;
	(void)state;

	put_ok(db, mkuser("alice", "{PLAIN}a", "", -1, -1, ""), false, 1);
	sqldb_close(&db);
	db = open_ok(path, false);
	u = mkuser("bob", "{PLAIN}b", "", -1, -1, "");
	assert_int_equal(sqldb_put(db, &u, false, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(sqldb_put(db, &u, true, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(sqldb_del(db, "alice", &err), -1);
	assert_non_null(err);
	free(err);
	assert_int_equal(sqldb_get(db, "alice", &u), 1);
	assert_int_equal(sqldb_get(db, "bob", &u), 0);
	sqldb_close(&db);

	/* An empty file is not a database to read. */
	char *empty = xasprintf("%s/empty.db", dir);
	FILE *fp = fopen(empty, "w");
	assert_non_null(fp);
	fclose(fp);
	open_err(empty, false, "is empty");
	/* ...but create makes the schema in it. */
	db = open_ok(empty, true);
	sqldb_close(&db);
	db = open_ok(empty, false);
	sqldb_close(&db);
	free(empty);

	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void
test_version(void **state)
{
	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/users.db", dir);
	struct sqldb *db = open_ok(path, true);
	(void)state;

	sqldb_close(&db);
	raw_sql(path, "PRAGMA user_version = 2");
	open_err(path, false, "version 2 is newer than this estafeta supports (1)");
	open_err(path, true, "version 2 is newer than this estafeta supports (1)");
	raw_sql(path, "PRAGMA user_version = 1");
	db = open_ok(path, false);
	sqldb_close(&db);

	/* Someone else's SQLite file is left alone. */
	char *other = xasprintf("%s/other.db", dir);
	raw_sql(other, "CREATE TABLE t (x)");
	open_err(other, true, "not an estafeta user database");
	open_err(other, false, "not an estafeta user database");
	free(other);
	/* Not SQLite at all. */
	char *text = xasprintf("%s/text.db", dir);
	FILE *fp = fopen(text, "w");
	assert_non_null(fp);
	fputs("alice:{PLAIN}x::::::\nthis is a passwd-file, not a database, really........\n", fp);
	fclose(fp);
	open_err(text, false, "not a database");
	free(text);

	free(path);
	tu_rmtree(dir);
	free(dir);
}

struct thr {
	struct sqldb *db;
	int bad;
};

static void *
reader(void *arg)
{
	struct thr *t = arg;
	struct sqldb_user u;

	for (int i = 0; i < 500; i++)
		if (sqldb_get(t->db, (i & 1) ? "alice" : "Bob", &u) != 1)
			t->bad++;
	return NULL;
}

static void
test_threads(void **state)
{
	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/users.db", dir);
	struct sqldb *db = open_ok(path, true);
	pthread_t th[4];
	struct thr t[4];
	(void)state;

	put_ok(db, mkuser("alice", "{PLAIN}a", "", -1, -1, ""), false, 1);
	put_ok(db, mkuser("bob", "{PLAIN}b", "", -1, -1, ""), false, 1);
	sqldb_close(&db);
	db = open_ok(path, false);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ .db = db };
		assert_int_equal(pthread_create(&th[i], NULL, reader, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
	}
	sqldb_close(&db);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

/* userdb over a sqlite database next to a passwd-file. */
static void
test_userdb(void **state)
{
	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/users.db", dir);
	char *pwpath = xasprintf("%s/passwd", dir);
	char *text = xasprintf("users passwd-file %s\nusers sqlite %s\n", pwpath, path);
	struct conf c;
	char *err = NULL;
	struct user_info ui;
	char pw[512], scram[512];
	(void)state;

	FILE *fp = fopen(pwpath, "w");
	assert_non_null(fp);
	fputs("pf:{SCRAM-SHA-256}4096,salt,sk,svk::::/home/pf\n"
	    "plain:{PLAIN}pp\n"
	    "both:{PLAIN}from-file\n", fp);
	fclose(fp);
	memset(&c, 0, sizeof(c));
	if (conf_parse(text, strlen(text), "/etc/estafeta/estafeta.conf", &c, &err) != 0)
		fail_msg("conf: %s", err);
	conf_defaults(&c);

	/* Missing database: a clear error. */
	assert_null(userdb_open(&c, VUID, VGID, &err));
	assert_non_null(err);
	char *want = xasprintf("%s: no such user database (create it with 'estafeta user add')",
	    path);
	assert_string_equal(err, want);
	free(want);
	free(err);

	struct sqldb *db = open_ok(path, true);
	put_ok(db, mkuser("alice", "{CRYPT}$y$hash", "{SCRAM-SHA-256}4096,a,b,c", -1, -1, ""),
	    false, 1);
	put_ok(db, mkuser("bob@example.com", "{PLAIN}bob", "", 1001, 1002, "/srv/bob"), false, 1);
	put_ok(db, mkuser("both", "{PLAIN}from-db", "", -1, -1, ""), false, 1);
	sqldb_close(&db);
	struct userdb *u = userdb_open(&c, VUID, VGID, &err);
	if (u == NULL)
		fail_msg("userdb_open: %s", err);

	assert_int_equal(userdb_lookup(u, "alice", "lala.local", &ui), 1);
	assert_string_equal(ui.name, "alice");
	assert_string_equal(ui.local, "alice");
	assert_string_equal(ui.domain, "lala.local");
	assert_string_equal(ui.home, "");
	assert_int_equal(ui.uid, VUID);
	assert_int_equal(ui.gid, VGID);
	assert_true(ui.is_virtual);

	assert_int_equal(userdb_lookup(u, "bob", "Example.COM", &ui), 1);
	assert_string_equal(ui.name, "bob@example.com");
	assert_string_equal(ui.local, "bob");
	assert_string_equal(ui.domain, "example.com");
	assert_string_equal(ui.home, "/srv/bob");
	assert_int_equal(ui.uid, 1001);
	assert_int_equal(ui.gid, 1002);
	assert_true(ui.is_virtual);
	assert_int_equal(userdb_lookup(u, "bob", "other.example", &ui), 0);
	assert_int_equal(userdb_lookup(u, "nobody-here", "lala.local", &ui), 0);

	/* Config order: the passwd-file comes first. */
	assert_int_equal(userdb_password(u, "both", "", &ui, pw, sizeof(pw), scram, sizeof(scram)), 1);
	assert_string_equal(pw, "{PLAIN}from-file");
	assert_string_equal(scram, "");

	assert_int_equal(userdb_password(u, "alice", "x.example", &ui, pw, sizeof(pw), scram,
	    sizeof(scram)), 1);
	assert_string_equal(pw, "{CRYPT}$y$hash");
	assert_string_equal(scram, "{SCRAM-SHA-256}4096,a,b,c");
	assert_string_equal(ui.name, "alice");
	assert_int_equal(userdb_password(u, "BOB", "example.com", &ui, pw, sizeof(pw), scram,
	    sizeof(scram)), 1);
	assert_string_equal(pw, "{PLAIN}bob");
	assert_string_equal(scram, "");
	/* passwd-file: a SCRAM password is the SCRAM secret too. */
	assert_int_equal(userdb_password(u, "pf", "", &ui, pw, sizeof(pw), scram, sizeof(scram)), 1);
	assert_string_equal(pw, "{SCRAM-SHA-256}4096,salt,sk,svk");
	assert_string_equal(scram, "{SCRAM-SHA-256}4096,salt,sk,svk");
	assert_string_equal(ui.home, "/home/pf");
	assert_int_equal(userdb_password(u, "plain", "", &ui, pw, sizeof(pw), scram, sizeof(scram)), 1);
	assert_string_equal(pw, "{PLAIN}pp");
	assert_string_equal(scram, "");
	/* Too small for the secret: an error, not a cut hash. */
	char tiny[8];
	assert_int_equal(userdb_password(u, "alice", "", &ui, tiny, sizeof(tiny), scram,
	    sizeof(scram)), -1);
	assert_int_equal(userdb_password(u, "nope", "", &ui, pw, sizeof(pw), scram, sizeof(scram)), 0);
	assert_string_equal(pw, "");

	/* Changes made by the CLI are seen without a reopen. */
	db = open_ok(path, true);
	assert_int_equal(sqldb_del(db, "alice", &err), 1);
	sqldb_close(&db);
	assert_int_equal(userdb_lookup(u, "alice", "lala.local", &ui), 0);
	userdb_free(&u);
	assert_null(u);
	conf_free(&c);

	/* System users: the shadow hash (or an error when it cannot be read). */
	free(text);
	text = xstrdup("users system\n");
	memset(&c, 0, sizeof(c));
	assert_int_equal(conf_parse(text, strlen(text), "/x.conf", &c, &err), 0);
	conf_defaults(&c);
	u = userdb_open(&c, VUID, VGID, &err);
	assert_non_null(u);
	int r = userdb_password(u, "root", "", &ui, pw, sizeof(pw), scram, sizeof(scram));
	if (access("/etc/shadow", R_OK) == 0)
		assert_int_equal(r, 1);
	else
		assert_int_equal(r, -1);
	assert_int_equal(userdb_password(u, "no-such-user-here", "", &ui, pw, sizeof(pw), scram,
	    sizeof(scram)), 0);
	userdb_free(&u);
	conf_free(&c);

	free(text);
	free(pwpath);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_open),
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_userdb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
