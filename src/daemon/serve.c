/* serve: `estafeta serve` — bind, drop privileges, run SMTP intake, queue and delivery.
 * The worker owns its struct conf (a reload replaces it). */
#include "daemon/serve.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "auth/authd.h"
#include "daemon/deliver.h"
#include "daemon/privsep.h"
#include "daemon/sched.h"
#include "daemon/tlsconf.h"
#include "auth/ticket.h"
#include "lib/tls.h"
#include "lib/log.h"
#include "lib/util.h"
#include "imap/imap_server.h"
#include "smtp/smtp_server.h"

struct worker {
	struct event_base *eb;
	char *conf_path;
	struct conf *conf;
	struct queue *q;
	struct userdb *udb;
	struct aliases *aliases;
	struct sched *sched;
	struct smtp_server *smtp;
	struct imap_server *imap;
	struct auth_client *auth;
	struct delivery_ctx dc;
	int priv_fd;
	int *fds;		/* listeners, in config order (the last: the local socket) */
	size_t nfds;
	struct tls_set *tls;
	int tls_sock;		/* certificates from the root parent on SIGHUP; -1 alone */
	struct tlsconf_rx *tls_rx;
	struct event *tls_ev;
	uid_t vuid;
	gid_t vgid;
	bool stopping;
};

int
serve_load_aliases(const struct conf *c, struct aliases **a_r, char **error_r)
{
	char *data, *warn = NULL;
	size_t len;
	struct stat st;

	*a_r = NULL;
	if (c->aliases == NULL || c->aliases[0] == '\0')
		return 0;
	if (stat(c->aliases, &st) < 0 || read_file(c->aliases, 64 << 20, &data, &len) < 0) {
		*error_r = xasprintf("%s: %s", c->aliases, strerror(errno));
		return -1;
	}
	*a_r = aliases_parse(data, len, c->aliases, error_r, &warn);
	free(data);
	if (warn != NULL) {
		for (char *save, *l = strtok_r(warn, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			log_warn("%s", l);
		free(warn);
	}
	if (*a_r == NULL)
		return -1;
	(*a_r)->owner = st.st_uid;
	return 0;
}

static const char *
check_rcpt(void *ctx, const struct smtp_peer *peer, const struct mailaddr *a, char *buf,
    size_t bufsz)
{
	struct worker *w = ctx;
	char addr[600], local[ADDR_LOCAL_MAX + 1];

	if (a->domain[0] == '\0')
		return NULL;	/* <postmaster> (RFC 5321 4.5.1) */
	addr_format(a, addr, sizeof(addr));
	if (!a->literal && conf_is_local_domain(w->conf, a->domain)) {
		strlcpy(local, a->local, sizeof(local));
		str_lower(local);
		struct user_info ui;
		int r = 0;
		/* The full local part first, then without its extension (user+tag). */
		for (int pass = 0; pass < 2 && r == 0; pass++) {
			if (pass == 1) {
				size_t before = strlen(local);
				local_strip_ext(local, w->conf->recipient_delimiter);
				if (strlen(local) == before)
					break;
			}
			if (strcmp(local, "postmaster") == 0)
				return NULL;
			if (w->aliases != NULL && aliases_lookup(w->aliases, local) != NULL)
				return NULL;
			r = userdb_lookup(w->udb, local, a->domain, &ui);
		}
		if (r > 0)
			return NULL;
		if (r < 0) {
			snprintf(buf, bufsz, "451 4.3.0 <%s>: Temporary lookup failure", addr);
			return buf;
		}
		snprintf(buf, bufsz,
		    "550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table",
		    addr);
		return buf;
	}
	/* Relay: permit_mynetworks, permit_sasl_authenticated, else reject. */
	if (peer->trusted || peer->auth_user[0] != '\0')
		return NULL;
	snprintf(buf, bufsz, "554 5.7.1 <%s>: Relay access denied", addr);
	return buf;
}

/* IMAP and POP3: the Maildir of a logged-in user, when this process owns
 * it (virtual users' mail belongs to run_user). */
static int
user_maildir(void *ctx, const char *user, char *path, size_t sz)
{
	struct worker *w = ctx;
	char local[256], domain[256];
	/* A plain login name is a user of the first local domain, so %d
	 * matches its deliveries. */
	userdb_split_login(user, w->conf->ndomains > 0 ? w->conf->domains[0] : NULL, local,
	    sizeof(local), domain, sizeof(domain));
	struct user_info ui;
	int r = userdb_lookup(w->udb, local, domain, &ui);
	if (r <= 0)
		return r;
	if (ui.uid != geteuid() && geteuid() != 0)
		return 0;
	if (mailstore_spec(w->conf->mailbox_kind == MAILBOX_MBOX, w->conf->mailbox_path, &ui, path,
	    sz) < 0)
		return -1;
	return 1;
}

/* A system user's session: the root parent starts (or finds) the user's
 * mail process and gives it one end of a socketpair; the session relays
 * through the other. */
static int
handoff(void *ctx, const struct imap_handoff *h)
{
	struct worker *w = ctx;
	if (w->priv_fd < 0 || h->ticket == NULL || h->ticket[0] == '\0')
		return -1;
	struct dest_req r;
	memset(&r, 0, sizeof(r));
	r.kind = DK_MAILPROC;
	r.uid = r.gid = 65534;	/* the parent finds the real ones */
	strlcpy(r.user, h->user, sizeof(r.user));
	r.prefix_len = strlcpy(r.prefix, h->ticket, sizeof(r.prefix));
	strlcpy(r.rcpt, h->tag, sizeof(r.rcpt));
	strlcpy(r.sender, h->proto, sizeof(r.sender));
	strlcpy(r.orig_rcpt, h->addr, sizeof(r.orig_rcpt));
	strlcpy(r.path, "/", sizeof(r.path));
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	int fds[2] = { sp[1], sp[1] };
	char cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	ssize_t n = sendmsg(w->priv_fd, &mh, MSG_NOSIGNAL);
	close(sp[1]);
	if (n != (ssize_t)sizeof(r)) {
		close(sp[0]);
		return -1;
	}
	evutil_make_socket_nonblocking(sp[0]);
	return sp[0];
}

static void
on_queued(void *ctx, const char *id)
{
	struct worker *w = ctx;
	sched_enqueue(w->sched, id, 0, false);
}

static void
on_queue_notify(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	queue_run_completions(w->q);
}

static void
delivery_ctx_fill(struct worker *w)
{
	struct passwd *pw = getpwnam(w->conf->default_privs);
	w->dc.conf = w->conf;
	w->dc.udb = w->udb;
	w->dc.aliases = w->aliases;
	w->dc.default_uid = pw ? pw->pw_uid : 65534;
	w->dc.default_gid = pw ? pw->pw_gid : 65534;
	w->dc.priv_fd = w->priv_fd;
}

/* Not root: the auth service is our own child, and hears SIGHUP from us. */
static pid_t auth_child = -1;

/* New sessions use the new certificates; sessions in progress keep theirs. */
static void
tls_swap(struct worker *w, struct tls_set *t)
{
	for (size_t i = 0; i + 1 < w->nfds; i++) {
		smtp_server_set_tls(w->smtp, w->fds[i], tls_set_ctx(t, i));
		imap_server_set_tls(w->imap, w->fds[i], tls_set_ctx(t, i));
	}
	tls_set_free(&w->tls);
	w->tls = t;
	log_info("TLS certificates loaded");
}

static void
on_tls_sock(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct tls_set *t = NULL;
	char *err = NULL;
	char b;
	(void)what;
	if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		/* The root parent is gone: nobody can deliver for other uids. */
		log_err("the privileged parent is gone: stopping");
		event_del(w->tls_ev);
		w->stopping = true;
		smtp_server_stop_listening(w->smtp);
		imap_server_stop_listening(w->imap);
		event_base_loopexit(w->eb, NULL);
		return;
	}
	int r = tlsconf_rx_read(w->tls_rx, fd, &t, &err);
	if (r < 0) {
		log_err("TLS reload failed, keeping the certificates in use: %s", err);
		free(err);
	} else if (r == 1)
		tls_swap(w, t);
}

static void
reload(struct worker *w)
{
	struct conf *nc = xcalloc(1, sizeof(*nc));
	struct aliases *na = NULL;
	struct userdb *nu = NULL;
	char *err = NULL;

	if (conf_load(w->conf_path, nc, &err) < 0 || serve_load_aliases(nc, &na, &err) < 0 ||
	    (nu = userdb_open(nc, w->vuid, w->vgid, &err)) == NULL) {
		log_err("reload failed, keeping the running configuration: %s", err);
		free(err);
		if (na)
			aliases_free(&na);
		conf_free(nc);
		free(nc);
		return;
	}
	struct conf *oc = w->conf;
	struct aliases *oa = w->aliases;
	struct userdb *ou = w->udb;
	w->conf = nc;
	w->aliases = na;
	w->udb = nu;
	delivery_ctx_fill(w);
	sched_set_delivery(w->sched, nc, &w->dc);	/* waits for running batches */
	smtp_server_set_conf(w->smtp, nc);
	imap_server_set_conf(w->imap, nc);
	if (oa)
		aliases_free(&oa);
	userdb_free(&ou);
	conf_free(oc);
	free(oc);
	log_info("reloaded configuration from %s", w->conf_path);
	if (auth_child > 0)
		kill(auth_child, SIGHUP);
	if (w->tls_sock < 0) {
		/* Alone (not root): the files are ours to read again. */
		struct tls_set *t = tlsconf_load(w->conf, w->nfds - 1, &err);
		if (t == NULL) {
			log_err("TLS reload failed, keeping the certificates in use: %s", err);
			free(err);
		} else
			tls_swap(w, t);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;
	(void)what;
	switch (sig) {
	case SIGHUP:
		reload(w);
		break;
	case SIGUSR1:
		log_info("flushing the queue");
		sched_flush(w->sched);
		break;
	default:
		log_info("terminating on signal %d", (int)sig);
		w->stopping = true;
		smtp_server_stop_listening(w->smtp);
		imap_server_stop_listening(w->imap);
		event_base_loopexit(w->eb, NULL);
		break;
	}
}

static int
worker_main(const char *conf_path, struct conf *c, int *fds, bool *is_unix,
    const enum listen_kind *kinds, size_t nfds, int priv_fd, uid_t vuid, gid_t vgid,
    struct tls_set *tls, int tls_sock)
{
	struct worker w = { .conf = c, .priv_fd = priv_fd, .vuid = vuid, .vgid = vgid,
		.fds = fds, .nfds = nfds, .tls = tls, .tls_sock = tls_sock };
	struct event *tlsev = NULL;
	char *err = NULL;
	const char *qerr;

	w.conf_path = xstrdup(conf_path);
	if (serve_load_aliases(c, &w.aliases, &err) < 0 ||
	    (w.udb = userdb_open(c, vuid, vgid, &err)) == NULL) {
		log_err("%s", err);
		free(err);
		goto fail;
	}
	w.q = queue_open(c->spool, strcmp(c->sync_method, "fsync") == 0 ? QUEUE_SYNC_FILE : QUEUE_SYNC_FS, &qerr);
	if (w.q == NULL) {
		log_err("cannot open queue %s: %s", c->spool, qerr);
		goto fail;
	}
	w.eb = event_base_new();
	if (w.eb == NULL)
		fatalx("event_base_new failed");
	struct event *qev = event_new(w.eb, queue_notify_fd(w.q), EV_READ | EV_PERSIST,
	    on_queue_notify, &w);
	event_add(qev, NULL);
	delivery_ctx_fill(&w);
	w.sched = sched_new(w.eb, c, c->spool, w.q, &w.dc);
	struct smtp_server_ops ops = { .check_rcpt = check_rcpt, .queued = on_queued, .ctx = &w };
	w.smtp = smtp_server_new(w.eb, c, w.q, &ops);
	smtp_server_set_tls_required(w.smtp, strcmp(c->smtpd_tls_security_level, "encrypt") == 0);
	if (tls_sock >= 0) {
		w.tls_rx = tlsconf_rx_new(nfds - 1);
		tlsev = w.tls_ev = event_new(w.eb, tls_sock, EV_READ | EV_PERSIST, on_tls_sock, &w);
		event_add(tlsev, NULL);
	}
	char authpath[4200];
	snprintf(authpath, sizeof(authpath), "%s/private/auth", c->spool);
	w.auth = auth_client_new(w.eb, authpath);
	smtp_server_set_auth(w.smtp, w.auth);
	struct imap_server_ops iops = { .user_maildir = user_maildir, .handoff = handoff, .ctx = &w };
	w.imap = imap_server_new(w.eb, c, &iops);
	imap_server_set_auth(w.imap, w.auth);
	for (size_t i = 0; i < nfds; i++) {
		if (!is_unix[i] && LISTEN_IS_MAIL_ACCESS(kinds[i]))
			imap_server_listen(w.imap, fds[i], kinds[i], tls_set_ctx(tls, i));
		else
			smtp_server_listen(w.smtp, fds[i], is_unix[i], kinds[i],
			    is_unix[i] ? NULL : tls_set_ctx(tls, i));
	}

	struct event *sigs[4];
	int signums[4] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	sigset_t mine;
	sigemptyset(&mine);
	for (int i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(w.eb, signums[i], on_signal, &w);
		event_add(sigs[i], NULL);
		sigaddset(&mine, signums[i]);
	}
	sigprocmask(SIG_UNBLOCK, &mine, NULL);	/* blocked by the parent until now */
	signal(SIGPIPE, SIG_IGN);

	/* Recovery: everything in the queue was acknowledged and is delivered again. */
	char **ids;
	size_t n;
	if (queue_list(c->spool, &ids, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			sched_enqueue(w.sched, ids[i], 0, true);
			free(ids[i]);
		}
		free(ids);
		if (n > 0)
			log_info("queue: %zu message(s) to deliver from the previous run", n);
	}
	log_info("daemon started: hostname=%s spool=%s uid=%u", c->hostname, c->spool,
	    (unsigned)geteuid());
	event_base_dispatch(w.eb);

	/* Orderly stop: commits in flight finish and are answered, then sessions close. */
	smtp_server_stop_listening(w.smtp);
	imap_server_stop_listening(w.imap);
	queue_close(&w.q);
	smtp_server_free(&w.smtp);
	imap_server_free(&w.imap);
	auth_client_free(&w.auth);
	if (tlsev)
		event_free(tlsev);
	tlsconf_rx_free(&w.tls_rx);
	tls_set_free(&w.tls);
	sched_free(&w.sched);
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_free(qev);
	event_base_free(w.eb);
	if (w.aliases)
		aliases_free(&w.aliases);
	userdb_free(&w.udb);
	conf_free(w.conf);
	free(w.conf);
	free(w.conf_path);
	log_info("daemon stopped");
	return 0;
fail:
	if (w.aliases)
		aliases_free(&w.aliases);
	userdb_free(&w.udb);
	conf_free(c);
	free(c);
	free(w.conf_path);
	return 1;
}

static int
bind_inet(const struct listener_conf *l, char **error_r)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int e = getaddrinfo(l->host, l->port, &hints, &res);
	if (e != 0) {
		*error_r = xasprintf("listen %s %s:%s: %s", l->name, l->host, l->port, gai_strerror(e));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		*error_r = xasprintf("listen %s %s:%s: %s", l->name, l->host, l->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int
bind_unix(const char *path, char **error_r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("%s: socket path too long", path);
		return -1;
	}
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* Mode 0666 from the umask: any local user may submit, as with
	 * Postfix's maildrop; no chmod through a path that could be swapped. */
	mode_t old = umask(0111);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 256) < 0) {
		umask(old);
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

/* A socket for the auth service: created with its final mode (umask), then
 * given to uid:gid without following a link (the directory may be another
 * user's, as Postfix's private/ is). */
static int
bind_auth_socket(const char *path, unsigned mode, uid_t uid, gid_t gid, char **error_r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("%s: socket path too long", path);
		return -1;
	}
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(~mode & 0777);
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(fd, 256) < 0 || (geteuid() == 0 && lchown(path, uid, gid) < 0)) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct auth_spawn {
	const char *conf_path;
	struct conf *c;
	int *fds;
	size_t nfds;
	int close_fd, close_fd2;	/* the parent's privsep and certificate sockets */
	int tls_sock;		/* the parent's end of the certificate socket */
	size_t nlisteners;
	uid_t uid;
	gid_t gid;
	const char *user;
};

/* The auth service runs as run_user; with system users it also gets the
 * shadow group to read /etc/shadow (as unix_chkpwd does), nothing more. */
static pid_t
auth_spawn(void *arg)
{
	struct auth_spawn *a = arg;
	gid_t groups[2] = { a->gid, a->gid };
	int ng = 1;
	for (size_t i = 0; i < a->c->nusers; i++)
		if (a->c->users[i].kind == USERS_SYSTEM) {
			struct group *gr = getgrnam("shadow");
			if (gr != NULL)
				groups[ng++] = gr->gr_gid;
			break;
		}
	/* Signals wait until the service's own handlers are in place (the
	 * parent's would swallow a SIGTERM sent in between). */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return pid;
	}
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGUSR1, SIG_IGN);
	if (a->close_fd >= 0)
		close(a->close_fd);
	if (a->close_fd2 >= 0)
		close(a->close_fd2);
	if (geteuid() == 0 && (setgroups((size_t)ng, groups) < 0 || setgid(a->gid) < 0 ||
	    setuid(a->uid) < 0 || setuid(0) == 0))
		fatalx("auth: cannot drop privileges to %s", a->user);
	/* The service ends with its parent, even one killed with SIGKILL (set
	 * after the uid change, which clears it). */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1);
	_exit(authd_main(a->conf_path, a->c, a->fds, a->nfds));
}

/* SIGHUP in the root parent: the worker gets the certificates anew (root
 * opens the files, the worker builds the contexts). */
static void
on_parent_hup(void *arg, const struct conf *nc)
{
	struct auth_spawn *a = arg;
	char *err = NULL;
	if (tlsconf_send(a->tls_sock, nc, a->nlisteners, &err) < 0) {
		log_err("TLS reload: %s", err);
		free(err);
	}
}

/*
 * As root, before anything else touches the spool: the top and public/ stay
 * root's (run_user cannot swap their entries for symlinks), the queue
 * directories become run_user's. Entries are opened without following links,
 * and a symlink where a directory belongs stops the start.
 */
static int
spool_prepare_root(const char *spool, uid_t uid, gid_t gid, char **error_r)
{
	static const struct { const char *name; bool user; mode_t mode; } sub[] = {
		{ "incoming", true, 0700 }, { "queue", true, 0700 }, { "state", true, 0700 },
		{ "corrupt", true, 0700 }, { "free", true, 0700 }, { "public", false, 0755 },
		{ "private", false, 0755 },
	};
	struct stat st;

	if (mkdir_p(spool, 0755) < 0 || lstat(spool, &st) < 0) {
		*error_r = xasprintf("spool %s: %s", spool, strerror(errno));
		return -1;
	}
	int top = open(spool, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0 || fchown(top, 0, 0) < 0 || fchmod(top, 0755) < 0) {
		*error_r = xasprintf("spool %s: %s", spool, strerror(errno));
		if (top >= 0)
			close(top);
		return -1;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (mkdirat(top, sub[i].name, sub[i].mode) < 0 && errno != EEXIST) {
			*error_r = xasprintf("%s/%s: %s", spool, sub[i].name, strerror(errno));
			close(top);
			return -1;
		}
		int fd = openat(top, sub[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			*error_r = xasprintf("%s/%s is not a directory (%s): refusing to start",
			    spool, sub[i].name, strerror(errno));
			close(top);
			return -1;
		}
		int rc = fchown(fd, sub[i].user ? uid : 0, sub[i].user ? gid : 0) |
		    fchmod(fd, sub[i].mode);
		close(fd);
		if (rc < 0) {
			*error_r = xasprintf("%s/%s: %s", spool, sub[i].name, strerror(errno));
			close(top);
			return -1;
		}
	}
	close(top);
	return 0;
}

void
serve_tls_paths(const struct conf *c, char *cert, char *key, size_t sz)
{
	if (c->tls_cert[0] != '\0') {
		strlcpy(cert, c->tls_cert, sz);
		strlcpy(key, c->tls_key[0] != '\0' ? c->tls_key : c->tls_cert, sz);
	} else {
		snprintf(cert, sz, "%s/tls/cert.pem", c->spool);
		snprintf(key, sz, "%s/tls/key.pem", c->spool);
	}
}

int
serve_tls_prepare(const struct conf *c, char **error_r)
{
	char cert[4096], key[4096];
	struct stat st;

	serve_tls_paths(c, cert, key, sizeof(cert));
	if (c->tls_cert[0] == '\0' && (stat(cert, &st) < 0 || stat(key, &st) < 0)) {
		char dir[4200];
		snprintf(dir, sizeof(dir), "%s/tls", c->spool);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			*error_r = xasprintf("%s: %s", dir, strerror(errno));
			return -1;
		}
		if (tls_make_selfsigned(cert, key, c->hostname, error_r) < 0)
			return -1;
		log_info("no tls_cert configured: made a self-signed certificate for %s in %s",
		    c->hostname, cert);
	}
	return 0;
}

int
serve_main(const char *conf_path, bool daemonize, bool debug)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	char *err = NULL;
	const char *qerr;
	int *fds = NULL, *afds = NULL;
	bool *is_unix = NULL;
	enum listen_kind *kinds = NULL;
	size_t nfds = 0, nafds = 0;
	char pidpath[4096] = "", sockpath[4096] = "", authpath[4096] = "";
	int rc = 1;
	struct tls_set *tls = NULL;
	pid_t auth_pid = -1;
	int tsp[2] = { -1, -1 };

	log_init("estafeta", daemonize, debug ? LOG_L_DEBUG : LOG_L_INFO);
	if (conf_load(conf_path, c, &err) < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		goto fail;
	}
	if (!debug && strcmp(c->log_level, "debug") == 0)
		log_init("estafeta", daemonize, LOG_L_DEBUG);
	/* Validate everything before binding anything. */
	struct aliases *a = NULL;
	if (serve_load_aliases(c, &a, &err) < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		goto fail;
	}
	if (a)
		aliases_free(&a);
	struct userdb *u = userdb_open(c, getuid(), getgid(), &err);
	if (u == NULL) {
		fprintf(stderr, "estafeta: %s\n", err);
		goto fail;
	}
	userdb_free(&u);
	const char *why = authd_check_mechs(c->auth_mechanisms);
	if (why != NULL) {
		fprintf(stderr, "estafeta: %s: %s\n", c->path, why);
		goto fail;
	}
	if (c->nlisteners == 0) {
		c->listeners = xcalloc(1, sizeof(*c->listeners));
		c->listeners[0] = (struct listener_conf){ .kind = LISTEN_SMTP, .name = xstrdup("smtp"),
			.host = xstrdup("0.0.0.0"), .port = xstrdup("25") };
		c->nlisteners = 1;
	}

	/* The spool exists, owned as it should be, before anything is bound in it. */
	uid_t vuid = getuid();
	gid_t vgid = getgid();
	struct passwd *pw = NULL;
	char run_name[256] = "";	/* pw points into getpwnam's buffer, reused below */
	if (geteuid() == 0) {
		pw = getpwnam(c->run_user);
		if (pw == NULL) {
			log_warn("run_user %s does not exist, using nobody", c->run_user);
			pw = getpwnam("nobody");
		}
		if (pw == NULL || pw->pw_uid == 0) {
			fprintf(stderr, "estafeta: no unprivileged user to run as (run_user %s)\n",
			    c->run_user);
			goto fail;
		}
		vuid = pw->pw_uid;
		vgid = pw->pw_gid;
		strlcpy(run_name, pw->pw_name, sizeof(run_name));
		if (spool_prepare_root(c->spool, vuid, vgid, &err) < 0) {
			fprintf(stderr, "estafeta: %s\n", err);
			goto fail;
		}
	} else {
		struct queue *q = queue_open(c->spool, QUEUE_SYNC_FILE, &qerr);
		if (q == NULL) {
			fprintf(stderr, "estafeta: cannot create spool %s: %s\n", c->spool, qerr);
			goto fail;
		}
		queue_close(&q);
	}

	/* TLS: the key is read now, before privileges are dropped. Submission
	 * listeners need it whatever port 25 does. */
	bool need_tls = strcmp(c->smtpd_tls_security_level, "none") != 0;
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].kind != LISTEN_SMTP)
			need_tls = true;
	if (need_tls && (serve_tls_prepare(c, &err) < 0 ||
	    (tls = tlsconf_load(c, c->nlisteners, &err)) == NULL)) {
		fprintf(stderr, "estafeta: %s\n", err);
		goto fail;
	}

	nfds = c->nlisteners + 1;
	fds = xcalloc(nfds, sizeof(int));
	is_unix = xcalloc(nfds, sizeof(bool));
	kinds = xcalloc(nfds, sizeof(*kinds));
	for (size_t i = 0; i < nfds; i++)
		fds[i] = -1;
	for (size_t i = 0; i < c->nlisteners; i++) {
		kinds[i] = c->listeners[i].kind;
		fds[i] = bind_inet(&c->listeners[i], &err);
		if (fds[i] < 0) {
			fprintf(stderr, "estafeta: %s:%u: %s\n", c->path, c->listeners[i].line, err);
			goto fail;
		}
	}
	snprintf(sockpath, sizeof(sockpath), "%s/public/submit.sock", c->spool);
	fds[nfds - 1] = bind_unix(sockpath, &err);
	is_unix[nfds - 1] = true;
	if (fds[nfds - 1] < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		goto fail;
	}

	/* The auth service's sockets: the sessions' own in spool/private, and
	 * auth_listen ones for other programs (Postfix). */
	nafds = 1 + c->nauth_listen;
	afds = xcalloc(nafds, sizeof(int));
	for (size_t i = 0; i < nafds; i++)
		afds[i] = -1;
	snprintf(authpath, sizeof(authpath), "%s/private", c->spool);
	if (pw == NULL && mkdir(authpath, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "estafeta: %s: %s\n", authpath, strerror(errno));
		goto fail;
	}
	snprintf(authpath, sizeof(authpath), "%s/private/auth", c->spool);
	afds[0] = bind_auth_socket(authpath, 0600, vuid, vgid, &err);
	for (size_t i = 0; afds[0] >= 0 && i < c->nauth_listen; i++) {
		const struct auth_listen_conf *al = &c->auth_listen[i];
		uid_t au = 0;
		gid_t ag = vgid;
		struct passwd *apw = al->user ? getpwnam(al->user) : NULL;
		struct group *agr = al->group ? getgrnam(al->group) : NULL;
		if ((al->user && apw == NULL) || (al->group && agr == NULL)) {
			fprintf(stderr, "estafeta: %s:%u: auth_listen: no such %s '%s'\n", c->path, al->line,
			    al->user && apw == NULL ? "user" : "group",
			    al->user && apw == NULL ? al->user : al->group);
			goto fail;
		}
		if (apw != NULL)
			au = apw->pw_uid;
		if (agr != NULL)
			ag = agr->gr_gid;
		afds[1 + i] = bind_auth_socket(al->path, al->mode, au, ag, &err);
		if (afds[1 + i] < 0) {
			fprintf(stderr, "estafeta: %s:%u: auth_listen %s\n", c->path, al->line, err);
			goto fail;
		}
	}
	if (afds[0] < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		goto fail;
	}
	struct auth_spawn as = { .conf_path = conf_path, .c = c, .fds = afds, .nfds = nafds,
		.close_fd = -1, .close_fd2 = -1, .tls_sock = -1, .uid = vuid, .gid = vgid,
		.user = run_name };

	if (daemonize && daemon(0, 0) < 0) {
		fprintf(stderr, "estafeta: daemon: %s\n", strerror(errno));
		goto fail;
	}
	char pidtxt[32];
	snprintf(pidpath, sizeof(pidpath), "%s/estafeta.pid", c->spool);
	int pl = snprintf(pidtxt, sizeof(pidtxt), "%d\n", (int)getpid());
	if (atomic_write(pidpath, pidtxt, (size_t)pl, 0644) < 0)
		log_warn("cannot write %s: %s", pidpath, strerror(errno));

	if (pw != NULL) {
		/* A SIGTERM that comes before the handlers are in place (a test
		 * that is quick, a loaded machine) waits for them, here and in
		 * the worker, instead of killing the process outright. */
		sigset_t early;
		sigemptyset(&early);
		sigaddset(&early, SIGTERM);
		sigaddset(&early, SIGINT);
		sigaddset(&early, SIGHUP);
		sigaddset(&early, SIGUSR1);
		sigprocmask(SIG_BLOCK, &early, NULL);
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
		    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tsp) < 0)
			fatalx("socketpair: %s", strerror(errno));
		pid_t pid = fork();
		if (pid < 0)
			fatalx("fork: %s", strerror(errno));
		if (pid == 0) {
			close(sp[0]);
			for (size_t i = 0; i < nafds; i++)
				close(afds[i]);	/* only the auth service answers there */
			if (setgroups(1, &vgid) < 0 || setgid(vgid) < 0 || setuid(vuid) < 0 ||
			    setuid(0) == 0)
				fatalx("cannot drop privileges to %s", run_name);
			/* Stop with the parent, even one killed with SIGKILL. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			close(tsp[0]);
			_exit(worker_main(conf_path, c, fds, is_unix, kinds, nfds, sp[1], vuid, vgid, tls,
			    tsp[1]));
		}
		close(sp[1]);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		tls_set_free(&tls);	/* the keys stay with the worker only */
		close(tsp[1]);
		as.close_fd = sp[0];
		as.close_fd2 = tsp[0];
		as.tls_sock = tsp[0];
		as.nlisteners = c->nlisteners;
		/* The login ticket key: made after the worker is forked, so only
		 * this process and the auth service (forked next) know it. */
		if (!ticket_key_init())
			log_warn("no randomness for the login ticket key: system users cannot read mail");
		struct privsep_aux aux = { .spawn = auth_spawn, .hup = on_parent_hup, .ctx = &as };
		aux.pid = auth_spawn(&as);
		log_info("privileged parent pid=%d, worker pid=%d runs as %s", (int)getpid(), (int)pid,
		    run_name);
		log_info("auth service pid=%d runs as %s", (int)aux.pid, run_name);
		rc = privsep_parent_loop(sp[0], pid, c, &aux);
	} else {
		auth_pid = auth_child = auth_spawn(&as);
		if (auth_pid < 0)
			fatalx("fork: %s", strerror(errno));
		for (size_t i = 0; i < nafds; i++) {
			close(afds[i]);
			afds[i] = -1;
		}
		rc = worker_main(conf_path, c, fds, is_unix, kinds, nfds, -1, vuid, vgid, tls, -1);
		tls = NULL;	/* the worker freed it */
		c = NULL;	/* the worker owned it (a reload may have replaced it) */
		for (size_t i = 0; i < nfds; i++)
			fds[i] = -1;	/* closed by the worker's listeners */
	}
	unlink(pidpath);
	unlink(sockpath);
	unlink(authpath);
fail:
	if (auth_pid > 0) {
		kill(auth_pid, SIGTERM);
		waitpid(auth_pid, NULL, 0);
	}
	for (size_t i = 0; afds != NULL && i < nafds; i++)
		if (afds[i] >= 0)
			close(afds[i]);
	free(afds);
	free(kinds);
	tls_set_free(&tls);
	if (tsp[0] >= 0)
		close(tsp[0]);
	for (size_t i = 0; fds != NULL && i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (c != NULL) {
		conf_free(c);
		free(c);
	}
	free(err);
	free(fds);
	free(is_unix);
	return rc;
}
