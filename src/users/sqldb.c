#include "users/sqldb.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

#define SQLDB_VERSION	1
#define BUSY_MS		5000

/* name is unique without regard to case even if a row was added by hand. */
static const char schema[] =
    "CREATE TABLE users ("
    " name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
    " password TEXT NOT NULL,"
    " scram TEXT,"
    " uid INTEGER NOT NULL DEFAULT -1,"
    " gid INTEGER NOT NULL DEFAULT -1,"
    " home TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL,"
    " changed INTEGER NOT NULL);"
    "PRAGMA user_version = 1;";

#define COLS "name, password, scram, uid, gid, home, created, changed"

struct sqldb {
	char *path;
	sqlite3 *h;
	bool ro;
	pthread_mutex_t mu;	/* recursive: sqldb_list callbacks may call in */
	sqlite3_stmt *get, *ins, *upd, *del;
};

static int
lower_name(const char *in, char *out, size_t outsz)
{
	size_t n = strlen(in);

	if (n == 0 || n >= outsz)
		return -1;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	return 0;
}

static char *
db_error(struct sqldb *db, const char *what)
{
	return xasprintf("%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

static int
exec_int(sqlite3 *h, const char *sql, long long *v)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Check the schema version; on a fresh (empty) writable file create it. */
static int
schema_check(struct sqldb *db, char **error_r)
{
	long long ver, ntables;

	if (!db->ro && sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "cannot lock");
		return -1;
	}
	if (exec_int(db->h, "PRAGMA user_version", &ver) < 0 ||
	    exec_int(db->h, "SELECT count(*) FROM sqlite_master", &ntables) < 0) {
		*error_r = db_error(db, "cannot read");
		goto fail;
	}
	if (ver > SQLDB_VERSION) {
		*error_r = xasprintf("%s: user database version %lld is newer than this estafeta "
		    "supports (%d): upgrade estafeta", db->path, ver, SQLDB_VERSION);
		goto fail;
	}
	if (ver == 0 && ntables > 0) {
		*error_r = xasprintf("%s: not an estafeta user database", db->path);
		goto fail;
	}
	if (ver == 0 && db->ro) {
		*error_r = xasprintf("%s: the user database is empty (create it with "
		    "'estafeta user add')", db->path);
		return -1;
	}
	if (ver == 0 && sqlite3_exec(db->h, schema, NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "cannot create the schema");
		goto fail;
	}
	if (!db->ro && sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "cannot commit");
		goto fail;
	}
	return 0;
fail:
	if (!db->ro)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
prepare(struct sqldb *db, const char *sql, sqlite3_stmt **st, char **error_r)
{
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		*error_r = db_error(db, "cannot prepare");
		return -1;
	}
	return 0;
}

struct sqldb *
sqldb_open(const char *path, bool create, char **error_r)
{
	struct sqldb *db = xcalloc(1, sizeof(*db));
	pthread_mutexattr_t ma;
	int flags, saved = 0;

	db->path = xstrdup(path);
	db->ro = !create;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&db->mu, &ma);
	pthread_mutexattr_destroy(&ma);

	if (create) {
		/* Made here, not by SQLite, to get 0640 whatever the umask. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd >= 0) {
			if (fchmod(fd, 0640) < 0) {
				saved = errno;
				close(fd);
				unlink(path);
				*error_r = xasprintf("%s: %s", path, strerror(saved));
				goto fail;
			}
			close(fd);
		} else if (errno != EEXIST) {
			saved = errno;
			*error_r = xasprintf("%s: %s", path, strerror(saved));
			goto fail;
		}
	} else {
		struct stat st;
		if (stat(path, &st) < 0) {
			saved = errno;
			*error_r = xasprintf("%s: %s", path, strerror(saved));
			goto fail;
		}
	}
	flags = (create ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
		saved = errno != 0 ? errno : EIO;
		*error_r = xasprintf("%s: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, BUSY_MS);
	/* The daemon reads as another user: no WAL (its -shm needs write access). */
	if (!db->ro && sqlite3_exec(db->h, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		*error_r = db_error(db, "cannot set the journal mode");
		goto fail_io;
	}
	if (schema_check(db, error_r) < 0)
		goto fail_io;
	if (prepare(db, "SELECT " COLS " FROM users WHERE name = ?1", &db->get, error_r) < 0)
		goto fail_io;
	if (!db->ro && (prepare(db, "INSERT INTO users (" COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8) "
	    "ON CONFLICT (name) DO NOTHING", &db->ins, error_r) < 0 ||
	    prepare(db, "INSERT INTO users (" COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8) "
	    "ON CONFLICT (name) DO UPDATE SET password = excluded.password, scram = excluded.scram, "
	    "uid = excluded.uid, gid = excluded.gid, home = excluded.home, "
	    "changed = excluded.changed", &db->upd, error_r) < 0 ||
	    prepare(db, "DELETE FROM users WHERE name = ?1", &db->del, error_r) < 0))
		goto fail_io;
	return db;
fail_io:
	saved = EIO;
fail:
	sqldb_close(&db);
	errno = saved;
	return NULL;
}

void
sqldb_close(struct sqldb **dbp)
{
	struct sqldb *db = *dbp;

	if (db == NULL)
		return;
	sqlite3_finalize(db->get);
	sqlite3_finalize(db->ins);
	sqlite3_finalize(db->upd);
	sqlite3_finalize(db->del);
	sqlite3_close(db->h);
	pthread_mutex_destroy(&db->mu);
	free(db->path);
	free(db);
	*dbp = NULL;
}

/* Copy a text column; -1 when it does not fit (a cut secret is worse than none). */
static int
col_text(sqlite3_stmt *st, int i, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (t == NULL) {
		out[0] = '\0';
		return 0;
	}
	return strlcpy(out, (const char *)t, outsz) < outsz ? 0 : -1;
}

static int
row_read(sqlite3_stmt *st, struct sqldb_user *u)
{
	memset(u, 0, sizeof(*u));
	if (col_text(st, 0, u->name, sizeof(u->name)) < 0 ||
	    col_text(st, 1, u->password, sizeof(u->password)) < 0 ||
	    col_text(st, 2, u->scram, sizeof(u->scram)) < 0 ||
	    col_text(st, 5, u->home, sizeof(u->home)) < 0)
		return -1;
	u->uid = (long)sqlite3_column_int64(st, 3);
	u->gid = (long)sqlite3_column_int64(st, 4);
	u->created = sqlite3_column_int64(st, 6);
	u->changed = sqlite3_column_int64(st, 7);
	return 0;
}

int
sqldb_get(struct sqldb *db, const char *name, struct sqldb_user *u)
{
	char key[sizeof(u->name)];
	int rc;

	if (lower_name(name, key, sizeof(key)) < 0)
		return 0;
	pthread_mutex_lock(&db->mu);
	sqlite3_bind_text(db->get, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(db->get);
	if (rc == SQLITE_ROW)
		rc = row_read(db->get, u) == 0 ? 1 : -1;
	else
		rc = rc == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(db->get);
	sqlite3_clear_bindings(db->get);
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int
sqldb_put(struct sqldb *db, const struct sqldb_user *u, bool replace, char **error_r)
{
	char key[sizeof(u->name)];
	long long now = (long long)time(NULL);
	int rc;

	if (db->ro) {
		*error_r = xasprintf("%s: opened read-only", db->path);
		return -1;
	}
	if (lower_name(u->name, key, sizeof(key)) < 0) {
		*error_r = xasprintf("%s: bad user name", db->path);
		return -1;
	}
	pthread_mutex_lock(&db->mu);
	sqlite3_stmt *st = replace ? db->upd : db->ins;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, u->password, -1, SQLITE_STATIC);
	if (u->scram[0] != '\0')
		sqlite3_bind_text(st, 3, u->scram, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, u->uid < 0 ? -1 : u->uid);
	sqlite3_bind_int64(st, 5, u->gid < 0 ? -1 : u->gid);
	sqlite3_bind_text(st, 6, u->home, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, u->created > 0 ? u->created : now);
	sqlite3_bind_int64(st, 8, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(db->h) > 0 ? 1 : 0;
	else {
		*error_r = db_error(db, "cannot store the user");
		rc = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int
sqldb_del(struct sqldb *db, const char *name, char **error_r)
{
	char key[sizeof(((struct sqldb_user *)0)->name)];
	int rc;

	if (db->ro) {
		*error_r = xasprintf("%s: opened read-only", db->path);
		return -1;
	}
	if (lower_name(name, key, sizeof(key)) < 0)
		return 0;
	pthread_mutex_lock(&db->mu);
	sqlite3_bind_text(db->del, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(db->del);
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(db->h) > 0 ? 1 : 0;
	else {
		*error_r = db_error(db, "cannot delete the user");
		rc = -1;
	}
	sqlite3_reset(db->del);
	sqlite3_clear_bindings(db->del);
	pthread_mutex_unlock(&db->mu);
	return rc;
}

int
sqldb_list(struct sqldb *db, int (*fn)(const struct sqldb_user *u, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	struct sqldb_user u;
	int rc;

	pthread_mutex_lock(&db->mu);
	/* A statement per call, so that fn may use the database too. */
	if (sqlite3_prepare_v2(db->h, "SELECT " COLS " FROM users ORDER BY name", -1, &st,
	    NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&db->mu);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row_read(st, &u) < 0) {
			rc = SQLITE_ERROR;
			break;
		}
		if (fn(&u, ctx) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->mu);
	return rc == SQLITE_DONE ? 0 : -1;
}
