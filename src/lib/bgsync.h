/* bgsync: make written files durable off the event loop.
 *
 * A session that wrote files (an IMAP APPEND) hands a descriptor on their
 * file system to bgsync and stops reading its input. One thread runs
 * fsync_group (syncfs) for everything handed over meanwhile, so concurrent
 * writers share a device flush and other sessions go on; the callback then
 * runs on the event loop. */
#ifndef BGSYNC_H
#define BGSYNC_H

struct event_base;
struct bgsync;

/* err: 0 when durable, else an errno value. */
typedef void (*bgsync_done_fn)(void *arg, int err);

struct bgsync *bgsync_new(struct event_base *eb);
/* Flush the file system of fd (bgsync takes fd and closes it). done runs
 * later from the loop, never from inside this call. 0, or -1 with errno
 * when the thread cannot start (fd is still the caller's, who then syncs
 * itself). */
int bgsync_start(struct bgsync *b, int fd, bgsync_done_fn done, void *arg);
/* Waits for every flush handed over and runs their callbacks, then frees. */
void bgsync_free(struct bgsync **bp);
#endif
