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

#include "aliases/aliases.h"
#include "conf/conf.h"
#include "daemon/deliver.h"
#include "daemon/mailproc.h"
#include "daemon/serve.h"
#include "lib/log.h"
#include "lib/util.h"
#include "users/users.h"

/* One flag per signal, so that HUP then USR1 in quick succession both pass. */
static volatile sig_atomic_t got_hup, got_usr1, got_term;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = sig;
}

static bool
req_valid(const struct dest_req *r)
{
	/* The unprivileged side is less trusted than we are: check everything. */
	if (r->kind < DK_MAILDIR || r->kind > DK_MAILPROC || r->uid == 0 || r->gid == 0)
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

/*
 * What the parent itself knows: the config, users and aliases, reloaded on
 * SIGHUP. A request is run only when the parent reaches the same answer:
 * a mailbox is the user's own mailbox for that uid, a command or file is an
 * alias target whose owner is that uid.
 */
struct pctx {
	struct conf *conf;	/* owned after a reload; the first one is the caller's */
	bool own_conf;
	struct userdb *udb;
	struct aliases *aliases;
	uid_t def_uid;
	gid_t def_gid;
};

static void
pctx_free(struct pctx *p)
{
	userdb_free(&p->udb);
	if (p->aliases)
		aliases_free(&p->aliases);
	if (p->own_conf) {
		conf_free(p->conf);
		free(p->conf);
	}
	memset(p, 0, sizeof(*p));
}

static void
pctx_load(struct pctx *p, struct conf *c, bool own)
{
	char *err = NULL;
	struct aliases *a = NULL;
	struct userdb *u = userdb_open(c, 0, 0, &err);
	if (u == NULL || serve_load_aliases(c, &a, &err) < 0) {
		log_err("privsep: reload failed, keeping the previous users and aliases: %s", err);
		free(err);
		userdb_free(&u);
		if (own) {
			conf_free(c);
			free(c);
		}
		return;
	}
	pctx_free(p);
	p->conf = c;
	p->own_conf = own;
	p->udb = u;
	p->aliases = a;
	struct passwd *pw = getpwnam(c->default_privs);
	p->def_uid = pw ? pw->pw_uid : 65534;
	p->def_gid = pw ? pw->pw_gid : 65534;
}


static bool
mailbox_allowed(const struct pctx *p, const struct dest_req *r)
{
	char local[520], path[1024];
	const char *at = strrchr(r->rcpt, '@');
	struct user_info ui;

	if (at == NULL || (size_t)(at - r->rcpt) >= sizeof(local))
		return false;
	memcpy(local, r->rcpt, (size_t)(at - r->rcpt));
	local[at - r->rcpt] = '\0';
	if (!conf_is_local_domain(p->conf, at + 1) && strcasecmp(at + 1, p->conf->hostname) != 0)
		return false;
	if (r->kind != (p->conf->mailbox_kind == MAILBOX_MAILDIR ? DK_MAILDIR : DK_MBOX))
		return false;
	if (userdb_lookup(p->udb, local, at + 1, &ui) <= 0 || ui.uid != r->uid || ui.gid != r->gid)
		return false;
	return mailbox_expand(p->conf->mailbox_path, &ui, path, sizeof(path)) == 0 &&
	    strcmp(path, r->path) == 0;
}

static bool
target_in(const struct alias_target *t, size_t n, const struct dest_req *r, uid_t owner,
    uid_t def_uid, int depth)
{
	uid_t want = owner == 0 ? def_uid : owner;
	for (size_t i = 0; i < n; i++) {
		if (t[i].kind == (r->kind == DK_PIPE ? ALIAS_PIPE : ALIAS_FILE) &&
		    strcmp(t[i].value, r->path) == 0 && want == r->uid)
			return true;
		if (t[i].kind == ALIAS_INCLUDE && depth < 4) {
			char *data, *err = NULL;
			size_t len, nt = 0;
			struct alias_target *it = NULL;
			struct stat st;
			int fd = open(t[i].value, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				continue;
			bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
			close(fd);
			if (!ok || read_file_nofollow(t[i].value, 1 << 20, &data, &len) < 0)
				continue;
			if (aliases_parse_list(data, len, t[i].value, &it, &nt, &err) == 0) {
				bool found = target_in(it, nt, r, st.st_uid, def_uid, depth + 1);
				alias_targets_free(it, nt);
				if (found) {
					free(data);
					return true;
				}
			}
			free(err);
			free(data);
		}
	}
	return false;
}

static bool
req_allowed(const struct pctx *p, const struct dest_req *r)
{
	if (r->kind == DK_MAILDIR || r->kind == DK_MBOX)
		return mailbox_allowed(p, r);
	if (p->aliases == NULL)
		return false;
	for (size_t i = 0; i < p->aliases->nentries; i++) {
		const struct alias_entry *e = &p->aliases->entries[i];
		if (target_in(e->targets, e->ntargets, r, p->aliases->owner, p->def_uid, 0))
			return true;
	}
	return false;
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

/* Delivery children still running, killed (with their commands) when the worker is gone. */
#define MAX_KIDS 1024
static pid_t kids[MAX_KIDS];

static void
kids_add(pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == 0) {
			kids[i] = pid;
			return;
		}
}

static void
kids_reaped(pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == pid)
			kids[i] = 0;
}

/* At shutdown: their recipients stay queued and are delivered after restart. */
static void
kids_kill(void)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] > 0) {
			kill(-kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
}

/* 0 handled (or dropped), -1 when the worker closed its end. */
static int
handle_request(int psock, const struct pctx *p)
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
	if (r.kind == DK_MAILPROC) {
		mailproc_request(p->conf, p->udb, &r, fds[0]);
		goto out;
	}
	if (!req_allowed(p, &r)) {
		struct dest_result res = { .status = DS_DEFER };
		strlcpy(res.dsn, "4.3.0", sizeof(res.dsn));
		snprintf(res.text, sizeof(res.text), "delivery as uid %u to %s refused by the "
		    "privileged process (not the user's mailbox or an alias target of that owner)",
		    (unsigned)r.uid, r.path);
		log_warn("privsep: refused delivery as uid=%u kind=%d path=%s", (unsigned)r.uid,
		    r.kind, r.path);
		(void)!write(fds[1], &res, sizeof(res));
		goto out;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(psock);
		setpgid(0, 0);	/* with any command it runs: one group to stop */
		deliver_child(&r, fds[0], fds[1]);
	}
	if (pid < 0)
		log_warn("privsep: fork: %s", strerror(errno));
	else {
		setpgid(pid, pid);
		kids_add(pid);
	}
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return 0;
}

/* The worker is gone: so goes the auth service. */
static void
aux_stop(struct privsep_aux *aux)
{
	if (aux == NULL || aux->pid <= 0)
		return;
	kill(aux->pid, SIGTERM);
	for (int i = 0; i < 100 && waitpid(aux->pid, NULL, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(aux->pid, NULL, WNOHANG) == 0) {
		log_warn("auth service pid=%d did not stop: killed", (int)aux->pid);
		kill(aux->pid, SIGKILL);
		waitpid(aux->pid, NULL, 0);
	}
	aux->pid = -1;
}

int
privsep_parent_loop(int psock, pid_t worker, struct conf *c, struct privsep_aux *aux)
{
	unsigned long long aux_started = now_ms();
	bool stopping = false;	/* SIGTERM/SIGINT passed on: the auth service is not restarted */
	struct pctx p = { 0 };
	pctx_load(&p, c, false);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t mine;
	sigemptyset(&mine);
	sigaddset(&mine, SIGTERM);
	sigaddset(&mine, SIGINT);
	sigaddset(&mine, SIGHUP);
	sigaddset(&mine, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &mine, NULL);	/* blocked before the worker was forked */

	for (;;) {
		struct pollfd pfd = { psock, POLLIN, 0 };
		int pr = poll(&pfd, 1, 500);
		/* The worker owns reload, flush and shutdown. */
		if (got_hup) {
			got_hup = 0;
			struct conf *nc = xcalloc(1, sizeof(*nc));
			char *err = NULL;
			if (conf_load(c->path, nc, &err) == 0) {
				if (aux && aux->hup)
					aux->hup(aux->ctx, nc);
				pctx_load(&p, nc, true);
			} else {
				log_err("privsep: %s", err);
				free(err);
				free(nc);
			}
			kill(worker, SIGHUP);
			if (aux && aux->pid > 0)
				kill(aux->pid, SIGHUP);
		}
		if (got_usr1) {
			got_usr1 = 0;
			kill(worker, SIGUSR1);
		}
		if (got_term) {
			int sig = got_term;
			got_term = 0;
			stopping = true;
			kill(worker, sig);
			if (aux && aux->pid > 0)
				kill(aux->pid, sig);
		}
		bool eof = false;
		if (pr > 0 && (pfd.revents & POLLIN))
			eof = handle_request(psock, &p) < 0;
		int status;
		pid_t w;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			kids_reaped(w);
			mailproc_reaped(w);
			if (aux && w == aux->pid && stopping) {
				aux->pid = -1;
				continue;
			}
			if (aux && w == aux->pid) {
				log_err("auth service pid=%d %s %d, starting it again", (int)w,
				    WIFSIGNALED(status) ? "killed by signal" : "exited with status",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				aux->pid = -1;
				if (now_ms() - aux_started < 1000)
					sleep(1);	/* a service that dies at once: no busy loop */
				aux_started = now_ms();
				aux->pid = aux->spawn(aux->ctx);
				continue;
			}
			if (w == worker) {
				kids_kill();
				mailproc_stop_all();
				aux_stop(aux);
				pctx_free(&p);
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
			kids_kill();
			mailproc_stop_all();
			aux_stop(aux);
			pctx_free(&p);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		}
	}
}
