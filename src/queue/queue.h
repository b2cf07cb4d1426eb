/* queue: the on-disk mail queue. One versioned file per message (envelope
 * records, body, trailer), written in incoming/, made durable by a commit
 * thread that groups concurrent transactions (fdatasync each file, rename
 * into queue/, one fsync of queue/), then handed back to the event loop. */
#ifndef QUEUE_H
#define QUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define QUEUE_ID_LEN 16

#define NOTIFY_NEVER   0x1
#define NOTIFY_SUCCESS 0x2
#define NOTIFY_FAILURE 0x4
#define NOTIFY_DELAY   0x8

enum rcpt_status { RCPT_PENDING = 0, RCPT_SENT, RCPT_BOUNCED };

struct qrcpt {
	char *addr;		/* as accepted: local@domain (canonical) */
	char *orcpt;		/* DSN ORCPT (xtext-decoded) or NULL */
	unsigned notify;	/* NOTIFY_* or 0 when not given */
	enum rcpt_status status;
	char *last_error;	/* last temporary error text, for mailq */
};

struct qenv {
	char id[QUEUE_ID_LEN + 1];
	time_t arrival;
	char *sender;		/* "" for the null sender */
	char *client;		/* "name[addr]" or "local" */
	char *helo;
	char *envid;		/* DSN ENVID or NULL */
	char *ret;		/* DSN RET=FULL|HDRS or NULL */
	char *body_type;	/* "7BIT", "8BITMIME", "BINARYMIME" or NULL */
	bool smtputf8;
	long submit_uid;	/* local submission uid, or -1 */
	struct qrcpt *rcpts;
	size_t nrcpts;
	/* retry state (kept in state/ID) */
	unsigned attempts;
	time_t next_try;
	/* set by queue_load: where the body is in the file */
	off_t body_off;
	size_t body_len;
};

struct queue;
struct qfile;

/* result: 0 when durable, else the errno that prevented it. */
typedef void queue_commit_cb(void *arg, int result, const char *error);

/* How a group of accepted messages is made durable. */
enum queue_sync {
	QUEUE_SYNC_FS,		/* rename the group, then one syncfs(2) */
	QUEUE_SYNC_FILE		/* fdatasync each file, rename, fsync the directory */
};

/* Create the spool layout if needed and start the commit thread. */
struct queue *queue_open(const char *spool, enum queue_sync sync, const char **error_r);
void queue_close(struct queue **q);
const char *queue_dir(const struct queue *q);	/* spool/queue */

/* Event-loop integration: poll this fd for reading, then call queue_run_completions(). */
int queue_notify_fd(const struct queue *q);
void queue_run_completions(struct queue *q);

/* Start a message: assigns env->id and writes the envelope records. */
struct qfile *queue_file_create(struct queue *q, struct qenv *env, const char **error_r);
/* Append body bytes (buffered). -1 on I/O error (sticky). */
int queue_file_write(struct qfile *f, const void *data, size_t len);
uint64_t queue_file_size(const struct qfile *f);
/* Finish the body and hand the file to the commit thread; cb runs in the
 * event loop once the message is durable in queue/ (result 0) or failed
 * (result is the errno; the file is removed). The qfile is consumed. */
void queue_file_commit(struct qfile *f, queue_commit_cb *cb, void *arg);
/* Give up on a message being written: remove it. The qfile is consumed. */
void queue_file_abort(struct qfile *f);
/* Synchronous commit for the CLI tools (sendmail maildrop). */
int queue_file_commit_sync(struct qfile *f, const char **error_r);

/* Envelope file I/O. queue_load parses queue/ID (and state/ID). */
int queue_load(const char *qdir, const char *id, struct qenv *env, const char **error_r);
/* Write state/ID (retry counters and recipient status); not fsynced: losing it
 * only means an extra attempt (at-least-once). */
int queue_save_state(const char *spool, const struct qenv *env);
/* Move a damaged queue file to spool/corrupt/ (kept for the admin, never delivered). */
int queue_quarantine(const char *spool, const char *id);
/* Finish with a delivered message in the daemon: its file moves to free/ and a
 * later message reuses it (or it is removed when enough are kept). A reused
 * file that a crash left in queue/ before its new content was durable still
 * holds the old message, whose id does not match the file name: readers
 * reject it like a torn file. */
int queue_recycle(struct queue *q, const char *id);
/* Remove a delivered or deleted message. */
int queue_remove(const char *spool, const char *id);
void qenv_free(struct qenv *env);

/* Serialise an envelope (exposed for tests and fuzzing). Pure. Returns an
 * allocated buffer. */
char *qenv_serialize(const struct qenv *env, size_t *len_r);
/* Parse the envelope part of a queue file. Pure; returns 0 or -1. On success
 * env->body_off/body_len locate the body inside buf. */
int qenv_parse(const char *buf, size_t len, struct qenv *env, const char **error_r);
/* Apply a state file to an envelope (pure). */
int qenv_parse_state(const char *buf, size_t len, struct qenv *env);

/* List message ids in spool/queue. Allocated array of allocated strings. */
int queue_list(const char *spool, char ***ids_r, size_t *n_r);
void queue_make_id(char id[QUEUE_ID_LEN + 1]);
#endif
