/* deliver: local delivery of one queued message — alias expansion, user
 * lookup, and the write into Maildir, mbox, a file or a command. Runs in the
 * delivery threads; writes that need another uid go to the privileged parent
 * (privsep.c), which forks a child with that uid. */
#ifndef DELIVER_H
#define DELIVER_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "aliases/aliases.h"
#include "conf/conf.h"
#include "queue/queue.h"
#include "store/maildir.h"
#include "users/users.h"

enum dest_status { DS_SENT = 0, DS_DEFER = 1, DS_BOUNCE = 2 };

/* What one delivery write needs; also the privsep request (fixed size, no pointers). */
enum dest_kind { DK_MAILDIR, DK_MBOX, DK_FILE, DK_PIPE,
	/* Not a delivery: hand a logged-in IMAP/POP3 session to the mail
	 * process of a system user (user = login name, prefix = the auth
	 * service's ticket, rcpt = IMAP tag, sender = "imap"/"pop3",
	 * orig_rcpt = client address; the fds are the session's socket). */
	DK_MAILPROC };
struct dest_req {
	int kind;
	uid_t uid;
	gid_t gid;
	int sync_dir;
	int lock_timeout;
	char path[1024];	/* Maildir dir, mbox file, file, or command */
	char sender[520];
	char rcpt[520];		/* final recipient (Delivered-To) */
	char orig_rcpt[520];
	char user[256];
	char home[1024];
	char prefix[2048];	/* headers to prepend */
	size_t prefix_len;
	off_t body_off;
	size_t body_len;
};

struct dest_result {
	int status;		/* enum dest_status */
	char dsn[8];		/* "2.0.0", "4.2.0", "5.1.1" ... */
	char text[400];
};

struct delivery_ctx {
	const struct conf *conf;
	const struct userdb *udb;
	const struct aliases *aliases;	/* may be NULL */
	uid_t default_uid;		/* alias pipes/files owned by root run as this */
	gid_t default_gid;
	int priv_fd;			/* privsep socket, -1 when running unprivileged alone */
};

/* Result for one envelope recipient. */
struct rcpt_outcome {
	struct dest_result r;
	char relay[32];			/* "maildir", "mbox", "pipe", "file", "none" */
	char detail[512];		/* e.g. mailbox path */
};

/*
 * Maildir deliveries of a batch are staged (written to tmp/) and finished
 * together: one flush for all their data, the renames into new/, one flush
 * for all the new/ entries (syncfs per file system, or fdatasync per file and
 * fsync per new/ directory). Until deliver_batch_finish() a staged
 * recipient's outcome is provisional.
 */
struct staged_delivery {
	struct maildir_staged st;
	struct rcpt_outcome *o;
	dev_t dev;
};
struct deliver_batch {
	bool use_syncfs;
	struct staged_delivery *items;
	size_t n;
	struct maildir_dirs *dirs;	/* maildirs opened by this batch */
	size_t ndirs;
	struct rcpt_outcome *cur;	/* outcome that staged deliveries report to */
};
void deliver_batch_finish(struct deliver_batch *b);
void deliver_batch_free(struct deliver_batch *b);

/* Deliver every pending recipient of env. body: the message (mmapped queue file + body_off). */
void deliver_message(const struct delivery_ctx *dc, const struct qenv *env, const char *file,
    size_t file_len, int qfd, struct rcpt_outcome *out, struct deliver_batch *b);

/* Shutdown: make waits for commands and privileged children give up (deferred). */
void deliver_set_stopping(void);

/* Perform one write as the current uid (used in threads and in privsep children). */
void deliver_exec(const struct dest_req *r, const char *file, struct dest_result *res);
#endif
