/* passwd_file: Dovecot-style passwd-file parser (pure). */
#ifndef PASSWD_FILE_H
#define PASSWD_FILE_H
#include <stddef.h>
#include <sys/types.h>

/*
 * Format (Dovecot passwd-file): user:password:uid:gid:gecos:home:shell:extra
 * Only user is required; missing trailing fields are empty. user may be
 * "name" or "name@domain". password keeps its "{SCHEME}" prefix. uid/gid are
 * numbers or empty (-1 then). '#' comment lines and blank lines are skipped.
 */
struct pwf_user {
	char *user;		/* as written, lower-cased */
	char *password;		/* may be "" */
	long uid, gid;		/* -1 when empty */
	char *home;		/* may be "" */
	char *extra;		/* rest of the line after field 7, may be "" */
	unsigned line;
};

struct pwf {
	char *path;
	struct pwf_user *users;	/* sorted by user */
	size_t nusers;
};

/* NULL with *error_r = allocated "file:line: problem" on error. */
struct pwf *pwf_parse(const char *text, size_t len, const char *path, char **error_r);
void pwf_free(struct pwf **p);
/* Exact, case-insensitive lookup of "name" or "name@domain". */
const struct pwf_user *pwf_lookup(const struct pwf *p, const char *user);
#endif
