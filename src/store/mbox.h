/* mbox: append to an mbox file (mboxrd quoting, fcntl + dotlock, undo on error). */
#ifndef MBOX_H
#define MBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store/maildir.h"	/* STORE_* result codes */

/*
 * Append one message to path: "From <sender or MAILER-DAEMON> <asctime date>\n",
 * prefix, msg with every line matching ^>*From  quoted with one more '>'
 * (mboxrd), then a final empty line. The file is created 0600 when missing,
 * opened O_APPEND|O_NOFOLLOW and refused (STORE_TEMP) when it is a symlink,
 * not a regular file, or has more than one hard link. Locks: dotlock
 * (path.lock, O_EXCL, stale after 5 minutes) when the directory is writable,
 * and fcntl F_SETLKW on the file; lock_timeout seconds at most, then STORE_TEMP.
 * On any write/fsync error the file is truncated back to its original size.
 * fsync before STORE_OK.
 */
int mbox_deliver(const char *path, const char *sender, time_t when, const char *prefix,
    size_t prefix_len, const char *msg, size_t msg_len, int lock_timeout, const char **error_r);

/* Open path read-write and lock it as mbox_deliver does (dotlock when the
 * directory is writable, fcntl), for a reader or rewriter of the whole
 * file; create: make it (0600) when missing. 0, or -1 with *error_r. */
struct mbox_lock {
	int fd;
	char *dotlock;
};
int mbox_lock_open(const char *path, bool create, int lock_timeout, struct mbox_lock *lk,
    const char **error_r);
void mbox_lock_close(struct mbox_lock *lk);
#endif
