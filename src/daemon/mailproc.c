#include "daemon/mailproc.h"

#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/ticket.h"
#include "conf/conf.h"
#include "daemon/deliver.h"
#include "imap/imap_server.h"
#include "lib/log.h"
#include "lib/util.h"
#include "users/users.h"

#define MAILPROC_MAX	256	/* users with a mail process at once */
#define MAILPROC_IDLE	300	/* seconds without sessions before a mail process ends */

/* What the parent tells a mail process with each session socket. */
struct adopt_msg {
	char user[256];
	char path[2200];
	char tag[72];
	char proto[8];
	char addr[64];
};

static struct {
	uid_t uid;
	pid_t pid;
	int ctl;
} procs[MAILPROC_MAX];

/* ---- the mail process ---- */

struct mp {
	struct event_base *eb;
	struct imap_server *srv;
	struct event *ev_ctl, *ev_idle;
	time_t idle_since;
};

static int
no_maildir(void *ctx, const char *user, char *path, size_t sz)
{
	(void)ctx;
	(void)user;
	(void)path;
	(void)sz;
	return -1;
}

static void
on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct mp *m = arg;
	struct adopt_msg a;
	int sfd = -1;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &a, sizeof(a) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	(void)what;
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		event_base_loopexit(m->eb, NULL);
		return;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&sfd, CMSG_DATA(cm), sizeof(int));
	if (n != (ssize_t)sizeof(a) || sfd < 0) {
		if (sfd >= 0)
			close(sfd);
		return;
	}
	a.user[sizeof(a.user) - 1] = a.path[sizeof(a.path) - 1] = a.tag[sizeof(a.tag) - 1] = '\0';
	a.proto[sizeof(a.proto) - 1] = a.addr[sizeof(a.addr) - 1] = '\0';
	evutil_make_socket_nonblocking(sfd);
	struct imap_handoff h = { .user = a.user, .proto = a.proto, .tag = a.tag, .addr = a.addr };
	imap_server_adopt(m->srv, sfd, &h, a.path);
	m->idle_since = 0;
}

static void
on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct mp *m = arg;
	(void)fd;
	(void)what;
	if (imap_server_sessions(m->srv) > 0) {
		m->idle_since = 0;
		return;
	}
	if (m->idle_since == 0)
		m->idle_since = time(NULL);
	else if (time(NULL) - m->idle_since >= MAILPROC_IDLE)
		event_base_loopexit(m->eb, NULL);
}

static int
mailproc_main(int ctl, const struct conf *c)
{
	struct mp m = { 0 };
	signal(SIGPIPE, SIG_IGN);
	m.eb = event_base_new();
	if (m.eb == NULL)
		return 1;
	struct imap_server_ops ops = { .user_maildir = no_maildir };
	m.srv = imap_server_new(m.eb, c, &ops);
	m.ev_ctl = event_new(m.eb, ctl, EV_READ | EV_PERSIST, on_ctl, &m);
	event_add(m.ev_ctl, NULL);
	m.ev_idle = event_new(m.eb, -1, EV_PERSIST, on_idle, &m);
	struct timeval tv = { .tv_sec = 30 };
	event_add(m.ev_idle, &tv);
	event_base_dispatch(m.eb);
	imap_server_free(&m.srv);
	event_free(m.ev_ctl);
	event_free(m.ev_idle);
	event_base_free(m.eb);
	return 0;
}

/* ---- the root parent's side ---- */

static int
spawn(const struct conf *c, const struct user_info *ui)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		/* Nothing of the parent's but the log and our socket. */
		if (sp[1] > 3)
			close_range(3, (unsigned)sp[1] - 1, 0);
		close_range((unsigned)sp[1] + 1, ~0U, 0);
		struct passwd *pw = getpwuid(ui->uid);
		if ((pw ? initgroups(pw->pw_name, ui->gid) : setgroups(0, NULL)) < 0 ||
		    setgid(ui->gid) < 0 || setuid(ui->uid) < 0 || getuid() == 0 || setuid(0) == 0)
			_exit(1);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(1);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_IGN);
		signal(SIGUSR1, SIG_IGN);
		if (chdir("/") < 0)
			_exit(1);
		log_info("mail process for uid=%u started", (unsigned)ui->uid);
		_exit(mailproc_main(sp[1], c));
	}
	close(sp[1]);
	for (int i = 0; i < MAILPROC_MAX; i++)
		if (procs[i].pid == 0) {
			procs[i].uid = ui->uid;
			procs[i].pid = pid;
			procs[i].ctl = sp[0];
			return i;
		}
	kill(pid, SIGTERM);
	close(sp[0]);
	return -1;
}

static bool
send_adopt(int ctl, const struct adopt_msg *a, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)a, sizeof(*a) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(ctl, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*a);
}

static void
refuse(const struct dest_req *r, int fd, const char *why)
{
	char line[256];
	log_warn("mail process for %s refused: %s", r->user, why);
	if (strcmp(r->sender, "pop3") == 0)
		snprintf(line, sizeof(line), "-ERR [SYS/TEMP] Mailbox is not available.\r\n");
	else
		snprintf(line, sizeof(line), "%s NO [UNAVAILABLE] Mailbox is not available.\r\n",
		    r->rcpt);
	(void)!write(fd, line, strlen(line));
}

void
mailproc_request(const struct conf *c, const struct userdb *udb, const struct dest_req *r,
    int fd)
{
	if (!ticket_check(r->user, r->prefix)) {
		refuse(r, fd, "no valid login ticket");
		return;
	}
	char local[256], domain[256], path[2200];
	userdb_split_login(r->user, c->ndomains > 0 ? c->domains[0] : NULL, local, sizeof(local),
	    domain, sizeof(domain));
	struct user_info ui;
	if (userdb_lookup(udb, local, domain, &ui) <= 0 || ui.uid == 0 || ui.gid == 0) {
		refuse(r, fd, "no such user, or root");
		return;
	}
	if (mailstore_spec(c->mailbox_kind == MAILBOX_MBOX, c->mailbox_path, &ui, path,
	    sizeof(path)) < 0) {
		refuse(r, fd, "no mail store for the user (an mbox spool needs a home)");
		return;
	}
	struct adopt_msg a;
	memset(&a, 0, sizeof(a));
	strlcpy(a.user, r->user, sizeof(a.user));
	strlcpy(a.path, path, sizeof(a.path));
	strlcpy(a.tag, r->rcpt, sizeof(a.tag));
	strlcpy(a.proto, strcmp(r->sender, "pop3") == 0 ? "pop3" : "imap", sizeof(a.proto));
	strlcpy(a.addr, r->orig_rcpt, sizeof(a.addr));
	for (int attempt = 0; attempt < 2; attempt++) {
		int i;
		for (i = 0; i < MAILPROC_MAX; i++)
			if (procs[i].pid > 0 && procs[i].uid == ui.uid)
				break;
		if (i == MAILPROC_MAX && (i = spawn(c, &ui)) < 0) {
			refuse(r, fd, "cannot start a mail process");
			return;
		}
		if (send_adopt(procs[i].ctl, &a, fd))
			return;
		/* It is ending (idle) or gone: a new one. */
		close(procs[i].ctl);
		procs[i].ctl = -1;
		procs[i].pid = -procs[i].pid;	/* reaped later, never reused */
	}
	refuse(r, fd, "the mail process does not answer");
}

void
mailproc_reaped(pid_t pid)
{
	for (int i = 0; i < MAILPROC_MAX; i++)
		if (procs[i].pid == pid || procs[i].pid == -pid) {
			if (procs[i].ctl >= 0 && procs[i].pid > 0)
				close(procs[i].ctl);
			procs[i].pid = 0;
			procs[i].ctl = -1;
		}
}

void
mailproc_stop_all(void)
{
	for (int i = 0; i < MAILPROC_MAX; i++) {
		pid_t p = procs[i].pid < 0 ? -procs[i].pid : procs[i].pid;
		if (p <= 0)
			continue;
		kill(p, SIGTERM);
		waitpid(p, NULL, 0);
		if (procs[i].pid > 0)
			close(procs[i].ctl);
		procs[i].pid = 0;
	}
}
