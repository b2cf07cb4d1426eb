/* sqldb: the embedded user database (SQLite), managed with `estafeta user`. */
#ifndef SQLDB_H
#define SQLDB_H
#include <stdbool.h>
#include <stddef.h>

/*
 * One table, users: name (unique, lower-cased, "user" or "user@domain"),
 * password ("{CRYPT}$y$...", see auth/password.h), scram ("{SCRAM-SHA-256}..."
 * or NULL), uid, gid (-1: the virtual mail owner), home ("" none), created,
 * changed (unix time). PRAGMA user_version holds the schema version.
 */
struct sqldb_user {
	char name[256];
	char password[512];
	char scram[512];	/* "" when none */
	long uid, gid;		/* -1 when not set */
	char home[1024];
	long long created, changed;
};

struct sqldb;

/* Open; create: make the file (mode 0640) and the schema when missing.
 * Read-only when !create. NULL with *error_r allocated on error (errno is
 * ENOENT when the file does not exist). A database with a newer schema
 * version is an error. Safe to use from several threads (one mutex); writers
 * and readers in other processes wait up to 5 s for each other. */
struct sqldb *sqldb_open(const char *path, bool create, char **error_r);
void sqldb_close(struct sqldb **db);
/* 1 found, 0 not found, -1 error. name is matched lower-cased. */
int sqldb_get(struct sqldb *db, const char *name, struct sqldb_user *u);
/* Insert (fails with 0 when the name exists, unless replace: then the row is
 * updated, keeping created). created 0: now; changed is always now. The name
 * is stored lower-cased. 1 ok, 0 exists, -1 error. */
int sqldb_put(struct sqldb *db, const struct sqldb_user *u, bool replace, char **error_r);
/* 1 deleted, 0 not found, -1 error. */
int sqldb_del(struct sqldb *db, const char *name, char **error_r);
/* Calls fn for each user in name order; fn returning non-zero stops. fn may
 * call the other functions on db. -1 on error. */
int sqldb_list(struct sqldb *db, int (*fn)(const struct sqldb_user *u, void *ctx), void *ctx);
#endif
