/* mbox: append to an mbox file (mboxrd quoting, fcntl + dotlock, undo on error). */
#ifndef MBOX_H
#define MBOX_H
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
#endif
