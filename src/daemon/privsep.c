#include "daemon/privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/deliver.h"
#include "lib/log.h"
#include "lib/util.h"

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	if (got_signal == 0 || sig == SIGTERM || sig == SIGINT)
		got_signal = sig;
}

static bool
req_valid(const struct dest_req *r)
{
	/* The unprivileged side is less trusted than we are: check everything. */
	if (r->kind < DK_MAILDIR || r->kind > DK_PIPE || r->uid == 0)
		return false;
	if (memchr(r->path, '\0', sizeof(r->path)) == NULL ||
	    memchr(r->sender, '\0', sizeof(r->sender)) == NULL ||
	    memchr(r->rcpt, '\0', sizeof(r->rcpt)) == NULL ||
	    memchr(r->orig_rcpt, '\0', sizeof(r->orig_rcpt)) == NULL ||
	    memchr(r->user, '\0', sizeof(r->user)) == NULL ||
	    memchr(r->home, '\0', sizeof(r->home)) == NULL || r->prefix_len > sizeof(r->prefix))
		return false;
	if (r->kind != DK_PIPE && r->path[0] != '/')
		return false;
	return true;
}

/* The child: become the user, do the write, report. Never returns. */
static void
deliver_child(const struct dest_req *r, int qfd, int rfd)
{
	struct dest_result res;
	struct stat st;

	memset(&res, 0, sizeof(res));
	if (r->kind == DK_MBOX && lstat(r->path, &st) < 0 && errno == ENOENT) {
		/* /var/mail is root:mail 2775: create the mailbox as root, owned by the user. */
		int fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			struct group *g = getgrnam("mail");
			if (fchown(fd, r->uid, g ? g->gr_gid : r->gid) == 0 && g != NULL)
				(void)fchmod(fd, 0660);
			close(fd);
		}
	}
	struct passwd *pw = getpwuid(r->uid);
	if ((pw ? initgroups(pw->pw_name, r->gid) : setgroups(0, NULL)) < 0 || setgid(r->gid) < 0 ||
	    setuid(r->uid) < 0 || getuid() == 0) {
		snprintf(res.text, sizeof(res.text), "cannot switch to uid %u: %s", (unsigned)r->uid,
		    strerror(errno));
		res.status = DS_DEFER;
		strlcpy(res.dsn, "4.3.0", sizeof(res.dsn));
	} else if (fstat(qfd, &st) < 0) {
		res.status = DS_DEFER;
		strlcpy(res.dsn, "4.3.0", sizeof(res.dsn));
		strlcpy(res.text, "queue file unreadable", sizeof(res.text));
	} else {
		char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, qfd, 0);
		if (map == MAP_FAILED || (size_t)r->body_off + r->body_len > (size_t)st.st_size) {
			res.status = DS_DEFER;
			strlcpy(res.dsn, "4.3.0", sizeof(res.dsn));
			strlcpy(res.text, "queue file cannot be mapped", sizeof(res.text));
		} else
			deliver_exec(r, map, &res);
	}
	(void)!write(rfd, &res, sizeof(res));
	_exit(0);
}

/* 0 handled (or dropped), -1 when the worker closed its end. */
static int
handle_request(int psock)
{
	struct dest_req r;
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	int fds[2] = { -1, -1 };

	ssize_t n = recvmsg(psock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0)
		return 0;
	if (n == 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(2 * sizeof(int)))
			memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	if (n != (ssize_t)sizeof(r) || fds[0] < 0 || fds[1] < 0 || !req_valid(&r)) {
		log_warn("privsep: invalid delivery request dropped");
		goto out;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(psock);
		deliver_child(&r, fds[0], fds[1]);
	}
	if (pid < 0)
		log_warn("privsep: fork: %s", strerror(errno));
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return 0;
}

int
privsep_parent_loop(int psock, pid_t worker)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	for (;;) {
		struct pollfd pfd = { psock, POLLIN, 0 };
		int pr = poll(&pfd, 1, 500);
		if (got_signal) {
			int sig = got_signal;
			got_signal = 0;
			kill(worker, sig);	/* the worker owns reload, flush and shutdown */
		}
		bool eof = false;
		if (pr > 0 && (pfd.revents & POLLIN))
			eof = handle_request(psock) < 0;
		int status;
		pid_t w;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			if (w == worker) {
				if (WIFSIGNALED(status)) {
					log_err("worker process killed by signal %d", WTERMSIG(status));
					return 1;
				}
				return WEXITSTATUS(status);
			}
		}
		if (eof || (pr > 0 && (pfd.revents & (POLLHUP | POLLERR)) && !(pfd.revents & POLLIN))) {
			/* Worker closed its end: wait for it to exit. */
			waitpid(worker, &status, 0);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		}
	}
}
