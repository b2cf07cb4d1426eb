#include "imap/imap_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth/auth_client.h"
#include "auth/sasl.h"
#include "imap/imap_parser.h"
#include "imap/imap_session.h"
#include "imap/pop3_session.h"
#include "lib/bgsync.h"
#include "lib/conn.h"
#include "lib/listener.h"
#include "lib/log.h"
#include "lib/util.h"


/* A folder open in this process, shared by its sessions. It holds a
 * reference of its own, so a folder stays open (and its sync state warm)
 * for BOX_IDLE_KEEP seconds after its last session left: the next login
 * then costs a stat of cur/, new/ and the uidlist instead of a rescan. */
struct openbox {
	struct mailbox *mb;
	int wd_new, wd_cur;	/* inotify watches, -1 when none */
	time_t idle_since;	/* 0 while sessions use it */
	size_t pending;		/* mailbox_pending at the last poll tick */
	time_t flushed;		/* when its index was last brought up to date */
	bool hit;		/* an event that calls for a sync */
	struct openbox *next;
};

#define BOX_IDLE_KEEP	600
#define BOX_IDLE_MAX	256	/* idle folders kept at most */

struct imap_server {
	struct event_base *eb;
	const struct conf *conf;
	struct imap_server_ops ops;
	struct listener *listeners;
	struct imap_session *sessions;
	unsigned nsessions;
	struct pop3_session *pop3;
	struct auth_client *auth;
	struct openbox *boxes;
	int ino_fd;
	struct event *ino_ev;
	struct event *box_timer;
	struct event *poll_timer;	/* changes inotify cannot report (no watch, NFS) */
	struct bgsync *bgsync;		/* APPENDs made durable off the loop */
	bool stopping;
};

#define POLL_FAST	1	/* seconds, when a folder has no inotify watch */
#define POLL_SLOW	30	/* otherwise, as a safety net */
#define FLUSH_MAX	30	/* seconds a busy folder's index may lag */

/* ---- shared folders ---- */

static void box_unwatch(struct imap_server *srv, struct openbox *b);

/* Watches on new/ and cur/ (quiet: no warning when they do not exist yet). */
static bool
box_watch(struct imap_server *srv, struct openbox *b, const char *dir, bool quiet)
{
	if (srv->ino_fd < 0)
		return false;
	char p[4200];
	uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR;
	snprintf(p, sizeof(p), "%s/new", dir);
	b->wd_new = inotify_add_watch(srv->ino_fd, p, mask);
	snprintf(p, sizeof(p), "%s/cur", dir);
	b->wd_cur = b->wd_new < 0 ? -1 : inotify_add_watch(srv->ino_fd, p, mask);
	if (b->wd_new >= 0 && b->wd_cur >= 0)
		return true;
	if (!quiet || errno != ENOENT)
		log_warn("inotify watch on %s: %s (checked every %d s instead)", dir, strerror(errno),
		    POLL_FAST);
	box_unwatch(srv, b);
	return false;
}

static bool
wd_shared(struct imap_server *srv, struct openbox *b, int wd)
{
	for (struct openbox *o = srv->boxes; o; o = o->next)
		if (o != b && (o->wd_new == wd || o->wd_cur == wd))
			return true;
	return false;
}

/* A folder reached by two paths has one watch (inotify gives the same
 * descriptor): it goes only with the last of them. */
static void
box_unwatch(struct imap_server *srv, struct openbox *b)
{
	if (b->wd_new >= 0 && !wd_shared(srv, b, b->wd_new))
		inotify_rm_watch(srv->ino_fd, b->wd_new);
	if (b->wd_cur >= 0 && !wd_shared(srv, b, b->wd_cur))
		inotify_rm_watch(srv->ino_fd, b->wd_cur);
	b->wd_new = b->wd_cur = -1;
	if (b->mb != NULL)
		mailbox_unwatch(b->mb);
}

/* Read the queued events and give each folder its own: a change that was
 * not the folder's own (a delivery, another program) marks it for a sync. */
static bool
ino_read(struct imap_server *srv)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	ssize_t n;
	while ((n = read(srv->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			for (struct openbox *b = srv->boxes; b; b = b->next) {
				bool lost = (ev->mask & IN_Q_OVERFLOW) != 0;
				if (!lost && ev->wd != b->wd_new && ev->wd != b->wd_cur)
					continue;
				if (ev->mask & IN_IGNORED) {
					/* The directory went away (or the watch did). */
					if (ev->wd == b->wd_new)
						b->wd_new = -1;
					else
						b->wd_cur = -1;
					box_unwatch(srv, b);
					lost = true;
				}
				if (lost) {
					mailbox_event(b->mb, false, false, NULL);
					b->hit = true;
				} else if (ev->len > 0 && mailbox_event(b->mb, ev->wd == b->wd_new,
				    (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0, ev->name))
					b->hit = true;
				any |= b->hit;
			}
		}
	}
	return any;
}

/* A sync is about to start: it must know every event so far. Folders the
 * events mark are synced from the loop, right after. */
static void
ino_drain(void *arg)
{
	struct imap_server *srv = arg;
	if (ino_read(srv))
		event_active(srv->ino_ev, EV_READ, 1);
}

struct mailbox *
imap_box_open(struct imap_server *srv, const char *dir, bool create, const char **error_r)
{
	for (struct openbox *b = srv->boxes; b; b = b->next)
		if (strcmp(b->mb->dir, dir) == 0) {
			mailbox_ref(b->mb);
			b->idle_since = 0;
			return b->mb;
		}
	struct openbox *b = xcalloc(1, sizeof(*b));
	b->wd_new = b->wd_cur = -1;
	b->flushed = time(NULL);
	/* Watched before the open's scan, so no change falls between. An mbox
	 * is polled every second (POLL_FAST): it has no directory to watch. */
	bool mbox = strncmp(dir, "mbox:", 5) == 0;
	bool early = !mbox && box_watch(srv, b, dir, true);
	struct mailbox *mb;
	if (mailbox_open_watched(dir, create, early ? ino_drain : NULL, srv, &mb, error_r) != 0) {
		box_unwatch(srv, b);
		free(b);
		return NULL;
	}
	b->mb = mb;
	if (!mbox && !early && box_watch(srv, b, dir, false))
		mailbox_watch(mb, ino_drain, srv);
	b->next = srv->boxes;
	srv->boxes = b;
	mailbox_ref(mb);	/* the session's; the first one is the openbox's */
	return mb;
}

static void
box_free(struct imap_server *srv, struct openbox *b)
{
	box_unwatch(srv, b);
	mailbox_unref(&b->mb);
	free(b);
}

/* Close folders idle too long, and the oldest beyond BOX_IDLE_MAX. */
static void
box_expire(struct imap_server *srv, bool all)
{
	time_t now = time(NULL);
	size_t idle = 0;
	for (struct openbox *b = srv->boxes; b; b = b->next)
		idle += b->idle_since != 0;
	for (struct openbox **bp = &srv->boxes; *bp;) {
		struct openbox *b = *bp;
		if (b->idle_since != 0 && (all || now - b->idle_since > BOX_IDLE_KEEP ||
		    idle > BOX_IDLE_MAX)) {
			*bp = b->next;
			idle--;
			box_free(srv, b);
			continue;
		}
		bp = &b->next;
	}
}

static void
on_box_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	box_expire(arg, false);
}

void
imap_box_close(struct imap_server *srv, struct mailbox **mbp)
{
	struct mailbox *mb = *mbp;
	if (mb == NULL)
		return;
	mailbox_unref(mbp);
	if (mb->refs == 1)
		for (struct openbox *b = srv->boxes; b; b = b->next)
			if (b->mb == mb) {
				b->idle_since = time(NULL);
				break;
			}
	if (!event_pending(srv->box_timer, EV_TIMEOUT, NULL)) {
		struct timeval tv = { .tv_sec = 60 };
		evtimer_add(srv->box_timer, &tv);
	}
	box_expire(srv, false);
}

/* A folder changed (our sessions, a delivery, another process): every
 * session with it selected that may be told now hears about it. */
void
imap_box_changed(struct imap_server *srv, struct mailbox *mb, struct imap_session *except)
{
	for (struct imap_session *s = srv->sessions; s; s = s->next)
		if (s != except && s->mb == mb)
			imap_session_notify(s);
}

static void
on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	(void)fd;
	(void)what;
	ino_read(srv);
	/* Coalesced: each folder synced once per batch of events. */
	for (struct openbox *b = srv->boxes; b; b = b->next) {
		if (!b->hit || b->idle_since != 0)
			continue;
		b->hit = false;
		const char *err;
		if (mailbox_sync(b->mb, false, &err) > 0)
			imap_box_changed(srv, b->mb, NULL);
	}
}

/* Sync the folders in use on a timer: every second those without inotify
 * watches (instance or watch limits reached, file systems without
 * inotify), the others now and then. */
static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	(void)fd;
	(void)what;
	static unsigned tick;
	tick++;
	for (struct openbox *b = srv->boxes; b; b = b->next) {
		/* The index takes the changes once the folder is quiet for a
		 * tick (not in the middle of a long FETCH), or every
		 * FLUSH_MAX seconds on a busy one. */
		size_t pending = mailbox_pending(b->mb);
		if (pending == 0)
			b->flushed = time(NULL);
		else if (pending == b->pending || time(NULL) - b->flushed >= FLUSH_MAX) {
			mailbox_flush(b->mb);
			b->flushed = time(NULL);
			pending = 0;
		}
		b->pending = pending;
		if (b->idle_since != 0)
			continue;
		bool watched = b->wd_new >= 0 && b->wd_cur >= 0;
		if (watched && tick % (POLL_SLOW / POLL_FAST) != 0)
			continue;
		const char *err;
		if (mailbox_sync(b->mb, false, &err) > 0)
			imap_box_changed(srv, b->mb, NULL);
	}
}

void
imap_server_touch(struct imap_server *srv, const char *maildir)
{
	for (struct openbox *b = srv->boxes; b; b = b->next)
		if (strcmp(b->mb->dir, maildir) == 0) {
			const char *err;
			if (mailbox_sync(b->mb, true, &err) > 0)
				imap_box_changed(srv, b->mb, NULL);
		}
}

/* ---- server ---- */

const struct conf *
imap_server_conf(const struct imap_server *srv)
{
	return srv->conf;
}

struct auth_client *
imap_server_auth(const struct imap_server *srv)
{
	return srv->auth;
}

int
imap_server_user_maildir(struct imap_server *srv, const char *user, char *path, size_t sz)
{
	return srv->ops.user_maildir(srv->ops.ctx, user, path, sz);
}

int
imap_server_handoff(struct imap_server *srv, const struct imap_handoff *h)
{
	return srv->ops.handoff != NULL ? srv->ops.handoff(srv->ops.ctx, h) : -1;
}

struct bgsync *
imap_server_bgsync(struct imap_server *srv)
{
	if (strcmp(srv->conf->sync_method, "syncfs") != 0)
		return NULL;
	if (srv->bgsync == NULL)
		srv->bgsync = bgsync_new(srv->eb);
	return srv->bgsync;
}

struct event_base *
imap_server_eb(const struct imap_server *srv)
{
	return srv->eb;
}

void
imap_server_adopt(struct imap_server *srv, int fd, const struct imap_handoff *h,
    const char *maildir)
{
	if (strcmp(h->proto, "pop3") == 0) {
		pop3_session_adopt(srv, srv->eb, fd, h->addr, h->user, maildir, &srv->pop3);
		return;
	}
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct imap_session *s = imap_session_new(srv, srv->eb, fd, h->addr, (struct sockaddr *)&su,
	    LISTEN_IMAP, NULL);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	imap_session_adopt(s, h->user, maildir, h->tag);
	conn_kick(s->c);
}

bool
imap_server_stopping(const struct imap_server *srv)
{
	return srv->stopping;
}

void
imap_server_unlink(struct imap_server *srv, struct imap_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
}

static void
accept_one(void *ctx, struct listener *l, int fd, const struct sockaddr_storage *ssp)
{
	struct imap_server *srv = ctx;
	struct sockaddr_storage ss = *ssp;
	unsigned same = 0;
	char addr[64];
	listener_addr(&ss, addr, sizeof(addr));
	for (struct imap_session *o = srv->sessions; o; o = o->next)
		same += strcmp(o->addr, addr) == 0;
	bool loopback = strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
	if (srv->nsessions >= (unsigned)srv->conf->max_connections ||
	    same >= (unsigned)srv->conf->max_connections_per_ip) {
		log_warn("imap reject: too many connections from %s", addr);
		static const char bye[] = "* BYE Too many connections\r\n";
		if (write(fd, bye, sizeof(bye) - 1) < 0) {
			/* closing anyway */
		}
		close(fd);
		return;
	}
	if (l->kind == LISTEN_POP3 || l->kind == LISTEN_POP3S) {
		pop3_session_new(srv, srv->eb, fd, addr, loopback, l->kind, l->tls, &srv->pop3);
		return;
	}
	struct imap_session *s = imap_session_new(srv, srv->eb, fd, addr, (struct sockaddr *)&ss,
	    l->kind, l->tls);
	if (s == NULL)
		return;
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	imap_session_start(s);
}

struct imap_server *
imap_server_new(struct event_base *eb, const struct conf *c, const struct imap_server_ops *ops)
{
	struct imap_server *s = xcalloc(1, sizeof(*s));
	s->eb = eb;
	s->conf = c;
	s->ops = *ops;
	s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ino_fd >= 0) {
		s->ino_ev = event_new(eb, s->ino_fd, EV_READ | EV_PERSIST, on_inotify, s);
		event_add(s->ino_ev, NULL);
	} else
		log_warn("inotify: %s (open folders are checked every %d s instead)", strerror(errno),
		    POLL_FAST);
	s->box_timer = evtimer_new(eb, on_box_timer, s);
	s->poll_timer = event_new(eb, -1, EV_PERSIST, on_poll, s);
	struct timeval ptv = { .tv_sec = POLL_FAST };
	event_add(s->poll_timer, &ptv);
	return s;
}

void
imap_server_set_auth(struct imap_server *s, struct auth_client *ac)
{
	s->auth = ac;
}

void
imap_server_listen(struct imap_server *s, int fd, enum listen_kind kind, void *ssl_ctx)
{
	listener_add(&s->listeners, s->eb, fd, false, (int)kind, ssl_ctx, accept_one, s);
}

void
imap_server_set_tls(struct imap_server *s, int fd, void *ssl_ctx)
{
	listener_set_tls(s->listeners, fd, ssl_ctx);
}

void
imap_server_set_conf(struct imap_server *s, const struct conf *c)
{
	s->conf = c;
}

unsigned
imap_server_sessions(const struct imap_server *s)
{
	return s->nsessions;
}

void
imap_server_stop_listening(struct imap_server *s)
{
	s->stopping = true;
	listener_close_all(&s->listeners);
	/* A shutdown may free its session at once. */
	for (struct imap_session *x = s->sessions, *nx; x; x = nx) {
		nx = x->next;
		imap_session_shutdown(x);
	}
	for (struct pop3_session *p = s->pop3, *np; p; p = np) {
		np = pop3_session_next(p);
		pop3_session_shutdown(p);
	}
}

void
imap_server_free(struct imap_server **sp)
{
	struct imap_server *s = *sp;
	if (s == NULL)
		return;
	imap_server_stop_listening(s);
	while (s->sessions)
		imap_session_destroy(s->sessions);
	while (s->pop3)
		pop3_session_destroy(s->pop3);
	/* APPENDs still syncing end (and drop their folder references) first. */
	bgsync_free(&s->bgsync);
	while (s->boxes) {
		struct openbox *b = s->boxes;
		s->boxes = b->next;
		box_free(s, b);
	}
	event_free(s->box_timer);
	event_free(s->poll_timer);
	if (s->ino_ev)
		event_free(s->ino_ev);
	if (s->ino_fd >= 0)
		close(s->ino_fd);
	free(s);
	*sp = NULL;
}
