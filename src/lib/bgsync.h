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
struct bgsync_req;

/* err: 0 when durable, else an errno value. */
typedef void (*bgsync_done_fn)(void *arg, int err);

struct bgsync *bgsync_new(struct event_base *eb);
/* Flush the file system of fd (bgsync takes fd and closes it). done runs
 * later from the loop, never from inside this call. NULL with errno when
 * the thread cannot start (the caller then syncs itself). */
struct bgsync_req *bgsync_start(struct bgsync *b, int fd, bgsync_done_fn done, void *arg);
/* The caller is gone: done is not called. */
void bgsync_cancel(struct bgsync_req *r);
/* Waits for a running flush, then frees; callbacks not yet run are dropped. */
void bgsync_free(struct bgsync **bp);
#endif
