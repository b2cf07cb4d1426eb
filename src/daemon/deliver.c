#include "daemon/deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/fsync_group.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/maildir.h"
#include "store/mbox.h"

#define PIPE_TIMEOUT_MS (300 * 1000)

/* Set at shutdown: long waits (commands, privileged children) give up and
 * leave the recipient deferred, so that SIGTERM is prompt. */
static atomic_bool stopping;

void
deliver_set_stopping(void)
{
	atomic_store(&stopping, true);
}

static void
set_result(struct dest_result *res, int status, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_result(struct dest_result *res, int status, const char *dsn, const char *fmt, ...)
{
	va_list ap;
	res->status = status;
	strlcpy(res->dsn, dsn, sizeof(res->dsn));
	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
}

void
deliver_batch_free(struct deliver_batch *b)
{
	/* Call after deliver_batch_finish(): every item is published or taken back. */
	for (size_t i = 0; i < b->ndirs; i++)
		maildir_dirs_close(&b->dirs[i]);
	free(b->dirs);
	free(b->items);
	b->items = NULL;
	b->dirs = NULL;
	b->n = b->ndirs = 0;
}

/* The batch's open maildir for path, opening (and creating) it on first use. */
static struct maildir_dirs *
batch_dirs(struct deliver_batch *b, const char *path, int *rc, const char **err)
{
	for (size_t i = 0; i < b->ndirs; i++)
		if (strcmp(b->dirs[i].dir, path) == 0)
			return &b->dirs[i];
	struct maildir_dirs d;
	if ((*rc = maildir_dirs_open(path, &d, err)) != STORE_OK)
		return NULL;
	b->dirs = xreallocarray(b->dirs, b->ndirs + 1, sizeof(d));
	b->dirs[b->ndirs] = d;
	return &b->dirs[b->ndirs++];
}

static void
batch_fail(struct staged_delivery *it, const char *what, int e)
{
	maildir_unstage(&it->st);
	set_result(&it->o->r, DS_DEFER, "4.3.0", "maildir delivery failed: %s: %s: %s", it->st.dir,
	    what, strerror(e));
}

/* Make durable every file system (syncfs) or directory (fsync) the batch touched. */
static void
batch_flush(struct deliver_batch *b, bool new_dirs)
{
	for (size_t i = 0; i < b->n; i++) {
		struct staged_delivery *it = &b->items[i];
		if (!(new_dirs ? it->st.published : it->st.staged))
			continue;
		bool done = false;
		for (size_t j = 0; j < i && !done; j++)
			done = (new_dirs ? b->items[j].st.published : b->items[j].st.staged) &&
			    (b->use_syncfs ? b->items[j].dev == it->dev :
			    strcmp(b->items[j].st.dir, it->st.dir) == 0);
		if (done)
			continue;	/* one flush per file system or directory */
		char path[1100];
		snprintf(path, sizeof(path), "%s/%s", it->st.dir, new_dirs ? "new" : "tmp");
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int rc = fd < 0 ? -1 : (b->use_syncfs ? fsync_group(fd) : fsync(fd));
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			continue;
		for (size_t j = i; j < b->n; j++) {
			struct staged_delivery *x = &b->items[j];
			if ((new_dirs ? x->st.published : x->st.staged) &&
			    (b->use_syncfs ? x->dev == it->dev : strcmp(x->st.dir, it->st.dir) == 0))
				batch_fail(x, new_dirs ? "flush of new/" : "flush of tmp/", e);
		}
	}
}

void
deliver_batch_finish(struct deliver_batch *b)
{
	const char *err;

	if (b->use_syncfs)
		batch_flush(b, false);	/* with fsync, each file was fdatasynced when staged */
	for (size_t i = 0; i < b->n; i++) {
		struct staged_delivery *it = &b->items[i];
		if (it->st.staged && maildir_publish(&it->st, NULL, 0, &err) != STORE_OK)
			set_result(&it->o->r, DS_DEFER, "4.2.0", "maildir delivery failed: %s: %s",
			    it->st.dir, err);
	}
	batch_flush(b, true);
}

/* Run an alias |command with the message on stdin, as the current uid. */
static void
deliver_pipe(const struct dest_req *r, const char *body, struct dest_result *res)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0) {
		set_result(res, DS_DEFER, "4.3.0", "pipe: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		set_result(res, DS_DEFER, "4.3.0", "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		setpgid(0, 0);	/* the command and whatever it starts: one group to kill */
		dup2(in[0], 0);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		/* Envelope data only as environment values (never in the command
		 * text), as Postfix local(8) does. */
		char e_sender[600], e_rcpt[600], e_orig[600], e_user[300], e_home[1100];
		snprintf(e_sender, sizeof(e_sender), "SENDER=%s", r->sender);
		snprintf(e_rcpt, sizeof(e_rcpt), "RECIPIENT=%s", r->rcpt);
		snprintf(e_orig, sizeof(e_orig), "ORIGINAL_RECIPIENT=%s", r->orig_rcpt);
		snprintf(e_user, sizeof(e_user), "USER=%s", r->user);
		snprintf(e_home, sizeof(e_home), "HOME=%s", r->home[0] ? r->home : "/");
		char *envp[] = { e_sender, e_rcpt, e_orig, e_user, e_home,
			(char *)"PATH=/usr/bin:/bin:/usr/sbin:/sbin", (char *)"SHELL=/bin/sh", NULL };
		char *argv[] = { (char *)"sh", (char *)"-c", (char *)r->path, NULL };
		if (chdir(r->home[0] ? r->home : "/") < 0)
			(void)!chdir("/");
		signal(SIGPIPE, SIG_DFL);
		execve("/bin/sh", argv, envp);
		_exit(75);
	}
	close(in[0]);
	/* Feed stdin without blocking forever on a command that stops reading. */
	signal(SIGPIPE, SIG_IGN);
	struct iovec iov[2] = { { (void *)r->prefix, r->prefix_len },
		{ (void *)body, r->body_len } };
	int fl = fcntl(in[1], F_GETFL);
	fcntl(in[1], F_SETFL, fl | O_NONBLOCK);
	unsigned long long deadline = now_ms() + PIPE_TIMEOUT_MS;
	int vi = 0;
	bool timed_out = false;
	while (vi < 2) {
		if (iov[vi].iov_len == 0) {
			vi++;
			continue;
		}
		ssize_t n = write(in[1], iov[vi].iov_base, iov[vi].iov_len);
		if (n > 0) {
			iov[vi].iov_base = (char *)iov[vi].iov_base + n;
			iov[vi].iov_len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			long long left = (long long)(deadline - now_ms());
			if (left <= 0 || atomic_load(&stopping)) {
				timed_out = true;
				break;
			}
			struct pollfd pfd = { in[1], POLLOUT, 0 };
			poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
			continue;
		}
		break;	/* EPIPE: the command stopped reading; its exit status decides */
	}
	close(in[1]);
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (timed_out || now_ms() > deadline || atomic_load(&stopping)) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			timed_out = true;
			break;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (timed_out && atomic_load(&stopping))
		set_result(res, DS_DEFER, "4.3.0", "command interrupted by shutdown: %s", r->path);
	else if (timed_out)
		set_result(res, DS_DEFER, "4.3.0", "command timed out: %s", r->path);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		set_result(res, DS_SENT, "2.0.0", "delivered to command: %s", r->path);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 75)
		set_result(res, DS_DEFER, "4.3.0", "temporary failure. Command output: exit 75: %s",
		    r->path);
	else if (WIFSIGNALED(status))
		set_result(res, DS_DEFER, "4.3.0", "command died with signal %d: %s", WTERMSIG(status),
		    r->path);
	else
		set_result(res, DS_BOUNCE, "5.3.0", "command exited with status %d: %s",
		    WEXITSTATUS(status), r->path);
}

void
deliver_exec(const struct dest_req *r, const char *file, struct dest_result *res)
{
	const char *body = file + r->body_off;
	const char *err = NULL;
	char name[512];
	int rc;

	switch (r->kind) {
	case DK_MAILDIR:
		rc = maildir_deliver(r->path, r->prefix, r->prefix_len, body, r->body_len,
		    r->sync_dir, name, sizeof(name), &err);
		if (rc == STORE_OK)
			set_result(res, DS_SENT, "2.0.0", "delivered to maildir %s/%s", r->path, name);
		else
			set_result(res, rc == STORE_PERM ? DS_BOUNCE : DS_DEFER,
			    rc == STORE_PERM ? "5.2.0" : "4.2.0", "maildir delivery failed: %s: %s",
			    r->path, err ? err : "error");
		return;
	case DK_MBOX:
	case DK_FILE:
		rc = mbox_deliver(r->path, r->sender, time(NULL), r->prefix, r->prefix_len, body,
		    r->body_len, r->lock_timeout, &err);
		if (rc == STORE_OK)
			set_result(res, DS_SENT, "2.0.0", "delivered to %s %s",
			    r->kind == DK_MBOX ? "mailbox" : "file", r->path);
		else
			set_result(res, rc == STORE_PERM ? DS_BOUNCE : DS_DEFER,
			    rc == STORE_PERM ? "5.2.0" : "4.2.0", "cannot append to %s: %s", r->path,
			    err ? err : "error");
		return;
	case DK_PIPE:
		deliver_pipe(r, body, res);
		return;
	}
	set_result(res, DS_DEFER, "4.3.0", "unknown delivery kind");
}

/* Ask the privileged parent to run r as r->uid; it forks a child that
 * answers on our end of a fresh socketpair. */
static void
deliver_privileged(const struct delivery_ctx *dc, const struct dest_req *r, int qfd,
    struct dest_result *res)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		set_result(res, DS_DEFER, "4.3.0", "socketpair: %s", strerror(errno));
		return;
	}
	struct iovec iov = { (void *)r, sizeof(*r) };
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int fds[2] = { qfd, sp[1] };
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	ssize_t n;
	do
		n = sendmsg(dc->priv_fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	close(sp[1]);
	if (n != (ssize_t)sizeof(*r)) {
		close(sp[0]);
		set_result(res, DS_DEFER, "4.3.0", "privileged delivery unavailable: %s",
		    n < 0 ? strerror(errno) : "short write");
		return;
	}
	size_t got = 0;
	while (got < sizeof(*res)) {
		struct pollfd pfd = { sp[0], POLLIN, 0 };
		if (poll(&pfd, 1, 200) == 0) {
			if (!atomic_load(&stopping))
				continue;
			close(sp[0]);
			set_result(res, DS_DEFER, "4.3.0", "delivery as uid %u interrupted by shutdown",
			    (unsigned)r->uid);
			return;
		}
		n = read(sp[0], (char *)res + got, sizeof(*res) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(sp[0]);
	if (got != sizeof(*res))
		set_result(res, DS_DEFER, "4.3.0", "delivery process for uid %u ended without result",
		    (unsigned)r->uid);
	res->text[sizeof(res->text) - 1] = '\0';
	res->dsn[sizeof(res->dsn) - 1] = '\0';
}

/* One destination of one recipient. */
static void
deliver_dest(const struct delivery_ctx *dc, struct dest_req *r, const char *file, int qfd,
    struct dest_result *res)
{
	if (r->uid == geteuid()) {
		deliver_exec(r, file, res);
		return;
	}
	if (r->uid == 0) {
		set_result(res, DS_DEFER, "4.3.0",
		    "refusing to deliver as root; add an alias for %s", r->user);
		return;
	}
	if (dc->priv_fd < 0) {
		set_result(res, DS_DEFER, "4.3.0",
		    "cannot deliver as uid %u: not started as root", (unsigned)r->uid);
		return;
	}
	r->sync_dir = 1;	/* the child finishes the job, directory fsync included */
	deliver_privileged(dc, r, qfd, res);
}

static void
make_prefix(struct dest_req *r, const char *sender, const char *delivered_to)
{
	int n = snprintf(r->prefix, sizeof(r->prefix), "Return-Path: <%s>\nDelivered-To: %s\n",
	    sender, delivered_to);
	r->prefix_len = n > 0 && (size_t)n < sizeof(r->prefix) ? (size_t)n : 0;
}

/* Deliver to a local user's mailbox. */
static void
deliver_user(const struct delivery_ctx *dc, const struct qenv *env, const char *user,
    const char *domain, const char *orig, const char *file, int qfd, struct rcpt_outcome *o,
    struct deliver_batch *b)
{
	struct user_info ui;
	struct dest_req r;
	const struct conf *c = dc->conf;

	int found = userdb_lookup(dc->udb, user, domain, &ui);
	if (found < 0) {
		set_result(&o->r, DS_DEFER, "4.3.0", "user lookup failed for %s", user);
		return;
	}
	if (found == 0) {
		set_result(&o->r, DS_BOUNCE, "5.1.1", "unknown user: \"%s\"", user);
		return;
	}
	memset(&r, 0, sizeof(r));
	if (mailbox_expand(c->mailbox_path, &ui, r.path, sizeof(r.path)) < 0) {
		set_result(&o->r, DS_DEFER, "4.3.0", "cannot build mailbox path for %s from %s",
		    ui.name, c->mailbox_path);
		return;
	}
	r.kind = c->mailbox_kind == MAILBOX_MAILDIR ? DK_MAILDIR : DK_MBOX;
	r.uid = ui.uid;
	r.gid = ui.gid;
	r.lock_timeout = (int)c->mbox_lock_timeout;
	strlcpy(r.sender, env->sender, sizeof(r.sender));
	snprintf(r.rcpt, sizeof(r.rcpt), "%s@%s", user, domain[0] ? domain : c->hostname);
	strlcpy(r.orig_rcpt, orig, sizeof(r.orig_rcpt));
	strlcpy(r.user, ui.name, sizeof(r.user));
	strlcpy(r.home, ui.home, sizeof(r.home));
	r.body_off = env->body_off;
	r.body_len = env->body_len;
	make_prefix(&r, env->sender, r.rcpt);
	strlcpy(o->relay, r.kind == DK_MAILDIR ? "maildir" : "mbox", sizeof(o->relay));
	strlcpy(o->detail, r.path, sizeof(o->detail));
	if (r.kind == DK_MAILDIR && b != NULL && r.uid == geteuid()) {
		/* Staged: the batch shares the flushes (deliver_batch_finish). */
		struct staged_delivery it = { .o = b->cur };
		struct stat st;
		const char *err = NULL;
		int rc = STORE_OK;
		struct maildir_dirs *d = batch_dirs(b, r.path, &rc, &err);
		if (d != NULL)
			rc = maildir_stage_in(d, r.prefix, r.prefix_len, file + r.body_off,
			    r.body_len, !b->use_syncfs, &it.st, &err);
		if (rc != STORE_OK) {
			set_result(&o->r, rc == STORE_PERM ? DS_BOUNCE : DS_DEFER,
			    rc == STORE_PERM ? "5.2.0" : "4.2.0", "maildir delivery failed: %s: %s",
			    r.path, err ? err : "error");
			return;
		}
		it.dev = fstat(it.st.tfd, &st) == 0 ? st.st_dev : 0;
		b->items = xreallocarray(b->items, b->n + 1, sizeof(it));
		b->items[b->n++] = it;
		set_result(&o->r, DS_SENT, "2.0.0", "delivered to maildir %s", r.path);
		return;
	}
	r.sync_dir = 1;
	deliver_dest(dc, &r, file, qfd, &o->r);
}

struct exp_ctx {
	const struct delivery_ctx *dc;
};

static bool
exp_is_local(void *ctx, const char *domain)
{
	struct exp_ctx *e = ctx;
	return conf_is_local_domain(e->dc->conf, domain);
}

static int
exp_read_include(void *ctx, const char *path, char **data_r, size_t *len_r, uid_t *owner_r,
    gid_t *gid_r, const char **error_r)
{
	(void)ctx;
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		*error_r = "cannot open :include: file";
		return -1;
	}
	close(fd);
	if (read_file(path, 1 << 20, data_r, len_r) < 0) {
		*error_r = "cannot read :include: file";
		return -1;
	}
	*owner_r = st.st_uid;
	*gid_r = st.st_gid;
	return 0;
}

static void
worst(struct dest_result *acc, const struct dest_result *r, bool *first)
{
	/* Order: defer beats bounce beats sent, so the recipient is retried. */
	static const int rank[] = { [DS_SENT] = 0, [DS_BOUNCE] = 1, [DS_DEFER] = 2 };
	if (*first || rank[r->status] > rank[acc->status])
		*acc = *r;
	*first = false;
}

static void
deliver_rcpt(const struct delivery_ctx *dc, const struct qenv *env, const struct qrcpt *rc,
    const char *file, int qfd, struct rcpt_outcome *o, struct deliver_batch *b)
{
	const struct conf *c = dc->conf;
	char local[600], domain[300] = "";

	strlcpy(local, rc->addr, sizeof(local));
	char *at = strrchr(local, '@');
	if (at != NULL) {
		strlcpy(domain, at + 1, sizeof(domain));
		*at = '\0';
	}
	strlcpy(o->relay, "local", sizeof(o->relay));
	if (b != NULL)
		b->cur = o;
	if (domain[0] != '\0' && !conf_is_local_domain(c, domain)) {
		strlcpy(o->relay, "none", sizeof(o->relay));
		set_result(&o->r, DS_DEFER, "4.4.1",
		    "delivery to remote domains is not configured (no relayhost)");
		return;
	}
	str_lower(local);
	/* As Postfix: the full local part first ("owner-list" with delimiter "-"),
	 * then without its extension. */
	char full[600];
	strlcpy(full, local, sizeof(full));
	local_strip_ext(local, c->recipient_delimiter);
	if (strcmp(full, local) != 0) {
		struct user_info ui;
		if ((dc->aliases != NULL && aliases_lookup(dc->aliases, full) != NULL) ||
		    userdb_lookup(dc->udb, full, domain, &ui) > 0)
			strlcpy(local, full, sizeof(local));
	}

	struct alias_result ar = { 0 };
	const char *err = NULL;
	if (dc->aliases != NULL) {
		struct exp_ctx ec = { dc };
		struct alias_expand_ops ops = { .is_local_domain = exp_is_local,
			.read_include = exp_read_include, .ctx = &ec,
			.default_uid = dc->default_uid, .default_gid = dc->default_gid };
		if (aliases_expand(dc->aliases, local, &ops, &ar, &err) < 0) {
			set_result(&o->r, DS_DEFER, "4.3.0", "alias expansion failed: %s", err);
			return;
		}
	}
	if (dc->aliases == NULL) {
		deliver_user(dc, env, local, domain, rc->addr, file, qfd, o, b);
		return;
	}
	if (ar.ndests == 0) {
		/* e.g. an empty :include: list: say so rather than drop the mail silently */
		set_result(&o->r, DS_BOUNCE, "5.1.1", "alias %s expands to no destination", local);
		alias_result_free(&ar);
		return;
	}
	bool first = true;
	struct rcpt_outcome sub;
	for (size_t i = 0; i < ar.ndests; i++) {
		const struct alias_dest *d = &ar.dests[i];
		memset(&sub, 0, sizeof(sub));
		if (d->kind == DEST_LOCAL) {
			char u[600];
			strlcpy(u, d->value, sizeof(u));
			deliver_user(dc, env, u, domain, rc->addr, file, qfd, &sub, b);
		} else if (d->kind == DEST_REMOTE) {
			strlcpy(sub.relay, "none", sizeof(sub.relay));
			set_result(&sub.r, DS_DEFER, "4.4.1",
			    "alias target %s is remote; remote delivery is not configured", d->value);
		} else {
			struct dest_req r;
			memset(&r, 0, sizeof(r));
			r.kind = d->kind == DEST_FILE ? DK_FILE : DK_PIPE;
			r.uid = d->uid;
			r.gid = d->gid;
			r.lock_timeout = (int)c->mbox_lock_timeout;
			strlcpy(r.path, d->value, sizeof(r.path));
			strlcpy(r.sender, env->sender, sizeof(r.sender));
			snprintf(r.rcpt, sizeof(r.rcpt), "%s@%s", local, domain[0] ? domain : c->hostname);
			strlcpy(r.orig_rcpt, rc->addr, sizeof(r.orig_rcpt));
			strlcpy(r.user, local, sizeof(r.user));
			r.body_off = env->body_off;
			r.body_len = env->body_len;
			make_prefix(&r, env->sender, r.rcpt);
			deliver_dest(dc, &r, file, qfd, &sub.r);
			strlcpy(sub.relay, d->kind == DEST_FILE ? "file" : "pipe", sizeof(sub.relay));
			strlcpy(sub.detail, d->value, sizeof(sub.detail));
		}
		bool was_first = first;
		worst(&o->r, &sub.r, &first);
		if (was_first || o->r.status == sub.r.status) {
			strlcpy(o->relay, sub.relay, sizeof(o->relay));
			strlcpy(o->detail, sub.detail, sizeof(o->detail));
		}
	}
	if (ar.ndests > 1 && o->r.status == DS_SENT)
		snprintf(o->r.text, sizeof(o->r.text), "delivered to %zu destinations", ar.ndests);
	alias_result_free(&ar);
}

void
deliver_message(const struct delivery_ctx *dc, const struct qenv *env, const char *file,
    size_t file_len, int qfd, struct rcpt_outcome *out, struct deliver_batch *b)
{
	(void)file_len;
	for (size_t i = 0; i < env->nrcpts; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (env->rcpts[i].status != RCPT_PENDING) {
			out[i].r.status = env->rcpts[i].status == RCPT_SENT ? DS_SENT : DS_BOUNCE;
			strlcpy(out[i].relay, "done", sizeof(out[i].relay));
			continue;
		}
		deliver_rcpt(dc, env, &env->rcpts[i], file, qfd, &out[i], b);
	}
}
