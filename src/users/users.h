/* users: the user directory — system users (getpwnam), passwd-files and
 * SQLite databases, in config order. */
#ifndef USERS_H
#define USERS_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/conf.h"

struct user_info {
	char name[256];		/* %u: login name as the backend knows it */
	char local[256];	/* %n: user part */
	char domain[256];	/* %d: domain part (from the name, else the recipient's) */
	char home[1024];	/* "" when the backend has none */
	uid_t uid;
	gid_t gid;
	bool is_virtual;	/* passwd-file/sqlite user: mail owned by the virtual mail uid */
};

struct userdb;

/* Load the backends named in c (passwd-files are read now, SQLite databases
 * opened read-only). vuid/vgid own virtual users' mail when the backend gives
 * no uid. */
struct userdb *userdb_open(const struct conf *c, uid_t vuid, gid_t vgid, char **error_r);
void userdb_free(struct userdb **u);
/* local is lower-cased and without +extension. 1 found, 0 unknown, -1 error. */
int userdb_lookup(const struct userdb *u, const char *local, const char *domain,
    struct user_info *ui);
/* The stored password ("{SCHEME}..." or a crypt hash) and SCRAM secret (""
 * if none) of a user, with the same name rules as userdb_lookup. System
 * users: from getspnam() (needs read access to /etc/shadow; if it cannot be
 * read return -1, not 0). 1 found, 0 unknown, -1 error. */
int userdb_password(const struct userdb *u, const char *local, const char *domain,
    struct user_info *ui, char *pw, size_t pwsz, char *scram, size_t scramsz);
/* Expand the mailbox template (~, %u, %n, %d, %h, %%) for a user. -1 when the
 * result does not fit, needs a home the user lacks, or would contain "..". */
int mailbox_expand(const char *tmpl, const struct user_info *ui, char *out, size_t outsz);
/* What IMAP and POP3 open for a user (mailstore_open): the Maildir of the
 * template, or for an mbox spool "HOME/Maildir\nINBOX=SPOOL": INBOX is the
 * spool file, the other folders a Maildir++ in the home (without a home,
 * "DIR/.NAME.folders" beside the spool file DIR/NAME). 0, or -1. */
int mailstore_spec(bool mbox, const char *tmpl, const struct user_info *ui, char *out,
    size_t outsz);
/* A login name into user and domain parts (lower-cased user); a name
 * without "@domain" belongs to default_domain (Dovecot's
 * auth_default_realm), "" when NULL. */
void userdb_split_login(const char *login, const char *default_domain, char *local,
    size_t localsz, char *domain, size_t domainsz);
/* Split off the extension: "user+tag" -> "user" (first delimiter char found). */
void local_strip_ext(char *local, const char *delims);
#endif
