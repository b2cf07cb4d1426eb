/* prefetch: read a run of a Maildir folder's message files on a thread
 * while the caller formats the previous ones (a FETCH of ENVELOPEs on a
 * folder opened afresh reads every file: open, read and close cost as much
 * as the parsing, and the second CPU is otherwise idle).
 *
 * The thread works on its own copies of the file names and its own
 * descriptor of cur/, and stays at most PREFETCH_AHEAD files or 32 MiB
 * ahead of the caller. A file it cannot read gives NULL: the caller reads
 * it itself (mailbox_read), which also reports a message gone. */
#ifndef PREFETCH_H
#define PREFETCH_H
#include <stddef.h>

struct mailbox;
struct prefetch;

/* Start reading messages idx[0..n) of mb (indexes into mb->m), in that
 * order. NULL when it is not worth it or not possible (an mbox, no
 * thread). */
struct prefetch *prefetch_start(struct mailbox *mb, const size_t *idx, size_t n);
/* The k-th file's bytes (NUL-terminated, *len_r long), waiting for the
 * thread if need be; the caller frees it. k ascending. NULL: read it
 * yourself. */
char *prefetch_take(struct prefetch *p, size_t k, size_t *len_r);
/* Stop the thread and free what was not taken. NULL-safe. */
void prefetch_stop(struct prefetch *p);
#endif
