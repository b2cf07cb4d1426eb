/* maildir: Maildir delivery (tmp/ -> new/, unique names, fsync before success). */
#ifndef MAILDIR_H
#define MAILDIR_H
#include <stddef.h>
#include <sys/types.h>

/* Results shared by the store modules. */
#define STORE_OK     0
#define STORE_TEMP  -1	/* retry later: I/O error, disk full, lock busy, symlink attack */
#define STORE_PERM  -2	/* cannot ever succeed: e.g. path is not a directory/file we may use */

/*
 * Create dir and its cur/ new/ tmp/ (mode 0700) when missing. Refuses (STORE_TEMP)
 * when any of them is a symlink or not a directory.
 */
int maildir_create(const char *dir, const char **error_r);

/*
 * Deliver one message (creating the maildir when it does not exist): `prefix` (headers we add, e.g. Return-Path and
 * Delivered-To, LF line endings) then `msg` (LF line endings), into
 * dir/tmp/<unique> opened O_CREAT|O_EXCL|O_NOFOLLOW, fsync, then rename into
 * dir/new/<unique>. The unique name follows the Maildir spec
 * "<sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<size>,W=<vsize>" (size in bytes as
 * written, vsize with CRLF line ends as IMAP counts them; Dovecot's fields, so
 * readers need not stat or read the file for RFC822.SIZE).
 * When sync_dir is non-zero new/ is fsynced before return; otherwise the caller
 * must call maildir_sync_new() before it treats the delivery as durable
 * (this lets a batch of deliveries share one directory fsync).
 * On failure the tmp file is removed. name_r receives "new/<unique>".
 */
int maildir_deliver(const char *dir, const char *prefix, size_t prefix_len, const char *msg,
    size_t msg_len, int sync_dir, char *name_r, size_t name_sz, const char **error_r);

int maildir_sync_new(const char *dir, const char **error_r);

/* A unique base name "<sec>.M<usec>P<pid>Q<n>R<rand>.<host>,S=<size>,W=<vsize>";
 * -1 when it does not fit. */
int maildir_unique(char *buf, size_t sz, size_t size, size_t vsize);
/* LFs in p[0..n): for text stored with LF line ends, vsize = size + this. */
size_t maildir_count_lf(const char *p, size_t n);

/*
 * The same delivery in two steps, so that a batch can share its flushes:
 * maildir_stage writes dir/tmp/<unique> (fdatasync only when sync_file); the
 * caller then makes the data durable (or already did), maildir_publish renames
 * it into new/, and the caller makes new/ durable (maildir_sync_new or a
 * syncfs of the file system). maildir_unstage removes a staged file, or takes
 * back a published one whose new/ entry could not be made durable. A staged
 * delivery holds two directory descriptors until it is published or unstaged.
 * maildir_stage creates a missing maildir itself.
 */
#define MAILDIR_NAME_MAX 512
struct maildir_staged {
	char dir[1024];
	char tname[MAILDIR_NAME_MAX];
	char nname[MAILDIR_NAME_MAX];
	size_t size, vsize;
	int staged, published;
	int tfd, nfd;		/* tmp/ and new/ while staged */
	int owns_fds;		/* opened by maildir_stage (else borrowed from maildir_dirs) */
};
int maildir_stage(const char *dir, const char *prefix, size_t prefix_len, const char *msg,
    size_t msg_len, int sync_file, struct maildir_staged *st, const char **error_r);
int maildir_publish(struct maildir_staged *st, char *name_r, size_t name_sz, const char **error_r);
void maildir_unstage(struct maildir_staged *st);

/* A maildir opened once (created when missing) for several stagings, e.g. all
 * the deliveries of a batch to one mailbox; keep it open until each of them
 * is published or unstaged. */
struct maildir_dirs {
	char dir[1024];
	int tfd, nfd;
};
int maildir_dirs_open(const char *dir, struct maildir_dirs *d, const char **error_r);
void maildir_dirs_close(struct maildir_dirs *d);
int maildir_stage_in(const struct maildir_dirs *d, const char *prefix, size_t prefix_len,
    const char *msg, size_t msg_len, int sync_file, struct maildir_staged *st,
    const char **error_r);
#endif
