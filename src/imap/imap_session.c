#include "imap/imap_session.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth/auth_client.h"
#include "auth/sasl.h"
#include "imap/imap_server.h"
#include "imap/mutf7.h"
#include "imap/relay.h"
#include "lib/bgsync.h"
#include "lib/conn.h"
#include "lib/fsync_group.h"
#include "lib/log.h"
#include "lib/util.h"

#define PRELOGIN_LINE	8192
#define PRELOGIN_CMD	16384
#define MAX_LINE	65536
#define MAX_BAD		20
#define IDLE_TIMEOUT	(30 * 60)	/* RFC 9051 5.4: at least 30 minutes */
#define PRELOGIN_TIMEOUT 60

static const char CAPS_COMMON[] =
    "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE "
    "CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES "
    "CONDSTORE QRESYNC STATUS=SIZE BINARY UTF8=ACCEPT SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=ORDEREDSUBJECT";

static void session_input(struct conn *c, void *arg);
static void session_tls_ready(struct conn *c, void *arg);
static void session_timeout(struct conn *c, void *arg);
static void session_closed(struct conn *c, void *arg, const char *why);
static void session_drained(struct conn *c, void *arg);

static const struct conn_ops session_ops = {
	.input = session_input,
	.drained = session_drained,
	.tls_ready = session_tls_ready,
	.timeout = session_timeout,
	.closed = session_closed,
};

/* ---- output ---- */

void
imap_write(struct imap_session *s, const void *p, size_t n)
{
	conn_write(s->c, p, n);
}

void
imap_out(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
}

void
imap_tagged(struct imap_session *s, const char *tag, const char *fmt, ...)
{
	va_list ap;
	conn_printf(s->c, "%s ", tag);
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_write(s->c, "\r\n", 2);
}

static bool
secured(const struct imap_session *s)
{
	return conn_is_tls(s->c);
}

static bool
plaintext_ok(const struct imap_session *s)
{
	return conf_plaintext_allowed(imap_server_conf(s->srv), secured(s), s->loopback);
}

static void
capability_list(struct imap_session *s, char *buf, size_t sz)
{
	size_t o = (size_t)snprintf(buf, sz, "%s", CAPS_COMMON);
	if (s->state == IS_NOAUTH) {
		if (s->tls != NULL && !secured(s) && o < sz)
			o += (size_t)snprintf(buf + o, sz - o, " STARTTLS");
		if (!plaintext_ok(s)) {
			if (o < sz)
				o += (size_t)snprintf(buf + o, sz - o, " LOGINDISABLED");
		}
		char mechs[256];
		struct auth_client *ac = imap_server_auth(s->srv);
		if (ac != NULL) {
			auth_client_mechs(ac, plaintext_ok(s), mechs, sizeof(mechs));
			for (char *m = strtok(mechs, " "); m && o < sz; m = strtok(NULL, " "))
				o += (size_t)snprintf(buf + o, sz - o, " AUTH=%s", m);
		}
	}
}

/* ---- the selected folder's view ---- */

long
imap_msg_index(const struct imap_session *s, size_t seq)
{
	if (seq < 1 || seq > s->n)
		return -1;
	uint32_t uid = s->uids[seq - 1];
	const struct mailbox *mb = s->mb;
	if (seq - 1 < mb->n && mb->m[seq - 1].uid == uid)
		return (long)(seq - 1);
	return mailbox_find(mb, uid);
}

static void
view_free(struct imap_session *s)
{
	free(s->uids);
	free(s->recent);
	s->uids = NULL;
	s->recent = NULL;
	s->n = s->cap = 0;
	free(s->mbname);
	s->mbname = NULL;
	seqset_free(&s->saved);
	if (s->mb != NULL)
		imap_box_close(s->srv, &s->mb);
}

static void
view_push(struct imap_session *s, uint32_t uid, bool recent)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->uids = xreallocarray(s->uids, s->cap, sizeof(*s->uids));
		s->recent = xreallocarray(s->recent, s->cap, 1);
	}
	s->recent[s->n] = recent;
	s->uids[s->n++] = uid;
}

void
imap_view_update(struct imap_session *s, bool expunges)
{
	struct mailbox *mb = s->mb;
	if (mb == NULL)
		return;
	s->notify_pending = false;
	if (expunges) {
		/* Walk both ascending lists; a view UID the folder lacks is gone. */
		size_t j = 0, w = 0, nv = s->n;
		uint32_t *gone = NULL;
		size_t ngone = 0;
		for (size_t i = 0; i < nv; i++) {
			uint32_t u = s->uids[i];
			while (j < mb->n && mb->m[j].uid < u)
				j++;
			if (j < mb->n && mb->m[j].uid == u) {
				s->uids[w] = u;
				s->recent[w++] = s->recent[i];
				continue;
			}
			if (s->qresync) {
				gone = xreallocarray(gone, ngone + 1, sizeof(*gone));
				gone[ngone++] = u;
			} else {
				/* Each EXPUNGE renumbers the rest: seq is the kept count + 1. */
				imap_out(s, "* %zu EXPUNGE\r\n", w + 1);
			}
		}
		s->n = w;
		if (ngone > 0) {
			char *t = seqset_list_str(gone, ngone);
			imap_out(s, "* VANISHED %s\r\n", t);
			free(t);
		}
		free(gone);
	}
	/* Flag changes of messages the view has. */
	uint64_t seen = s->modseq_seen;
	uint32_t last = s->n ? s->uids[s->n - 1] : 0;
	for (size_t i = 0; i < s->n; i++) {
		long mi = imap_msg_index(s, i + 1);
		if (mi < 0 || mb->m[mi].modseq <= seen)
			continue;
		char fl[1024];
		imap_flags_str(s, (size_t)mi, i + 1, fl, sizeof(fl));
		if (s->condstore)
			imap_out(s, "* %zu FETCH (UID %u FLAGS %s MODSEQ (%" PRIu64 "))\r\n", i + 1,
			    s->uids[i], fl, mb->m[mi].modseq);
		else
			imap_out(s, "* %zu FETCH (UID %u FLAGS %s)\r\n", i + 1, s->uids[i], fl);
	}
	/* New messages. */
	size_t before = s->n;
	for (size_t j = 0; j < mb->n && mailbox_visible(mb, mb->m[j].uid); j++)
		if (mb->m[j].uid > last) {
			bool r = mb->m[j].recent;
			mb->m[j].recent = false;
			view_push(s, mb->m[j].uid, r);
		}
	if (s->n != before) {
		size_t rc = 0;
		for (size_t i = 0; i < s->n; i++)
			rc += s->recent[i];
		imap_out(s, "* %zu EXISTS\r\n", s->n);
		if (!s->rev2)
			imap_out(s, "* %zu RECENT\r\n", rc);
	}
	if (expunges || s->n == mb->n)
		s->modseq_seen = mb->highestmodseq;
}

void
imap_vanished_earlier(struct imap_session *s, const struct seqset *uids)
{
	struct mailbox *mb = s->mb;
	uint32_t *gone = NULL;
	size_t ng = 0, cap = 0;
	for (size_t r = 0; r < uids->n; r++)
		for (uint64_t u = uids->r[r].lo; u <= uids->r[r].hi && u < mb->uidnext; u++)
			if (mailbox_find(mb, (uint32_t)u) < 0) {
				if (ng == cap) {
					cap = cap ? cap * 2 : 64;
					gone = xreallocarray(gone, cap, sizeof(*gone));
				}
				gone[ng++] = (uint32_t)u;
			}
	if (ng > 0) {
		char *t = seqset_list_str(gone, ng);
		imap_out(s, "* VANISHED (EARLIER) %s\r\n", t);
		free(t);
	}
	free(gone);
}

void
imap_own_change(struct imap_session *s, uint64_t before)
{
	if (s->modseq_seen >= before && s->n == s->mb->n)
		s->modseq_seen = s->mb->highestmodseq;
}

void
imap_session_notify(struct imap_session *s)
{
	s->notify_pending = true;
	if (s->idling) {
		imap_view_update(s, true);
		conn_kick(s->c);
	}
}

/* ---- sequence sets ---- */

int
imap_set_parse(struct imap_session *s, const char *arg, bool uid, struct seqset *out,
    const char **err)
{
	/* "$" (SEARCHRES) holds UIDs whichever command uses it. */
	if (strcmp(arg, "$") == 0)
		uid = true;
	uint32_t max = uid ? (s->n ? s->uids[s->n - 1] : 0) : (uint32_t)s->n;
	if (seqset_parse(arg, max, uid ? SEQSET_UID : 0, &s->saved, 100000, out, err) != 0)
		return -1;
	if (!uid)
		return 0;
	/* UIDs to sequence numbers of the view: the view is ascending, so each
	 * UID range is one run of positions. */
	struct seqrange *rr = xcalloc(out->n ? out->n : 1, sizeof(*rr));
	size_t nr = 0;
	for (size_t r = 0; r < out->n; r++) {
		size_t lo = 0, hi = s->n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (s->uids[mid] < out->r[r].lo)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t first = lo;
		while (lo < s->n && s->uids[lo] <= out->r[r].hi)
			lo++;
		if (lo == first)
			continue;
		/* Ranges of the view that touch merge (the set has no gaps there). */
		if (nr > 0 && rr[nr - 1].hi + 1 == first + 1)
			rr[nr - 1].hi = (uint32_t)lo;
		else
			rr[nr++] = (struct seqrange){ (uint32_t)first + 1, (uint32_t)lo };
	}
	seqset_free(out);
	out->r = rr;
	out->n = nr;
	return 0;
}

/* ---- session life ---- */

struct imap_session *
imap_session_new(struct imap_server *srv, struct event_base *eb, int fd, const char *addr,
    const struct sockaddr *sa, enum listen_kind kind, void *tls)
{
	static unsigned seq;
	struct imap_session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->kind = kind;
	strlcpy(s->addr, addr, sizeof(s->addr));
	if (sa->sa_family == AF_INET)
		s->loopback = (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	else if (sa->sa_family == AF_INET6)
		s->loopback = IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr) ||
		    strncmp(addr, "127.", 4) == 0;
	snprintf(s->sid, sizeof(s->sid), "%08X", ++seq ^ ((unsigned)getpid() << 20));
	if (tls != NULL && SSL_CTX_up_ref(tls) == 1)
		s->tls = tls;
	s->c = conn_new(eb, fd, &session_ops, s, PRELOGIN_CMD + 1024,
	    kind == LISTEN_IMAPS ? s->tls : NULL);
	return s;
}

static void
greet(struct imap_session *s)
{
	char caps[1024];
	capability_list(s, caps, sizeof(caps));
	imap_out(s, "* OK [CAPABILITY %s] %s IMAP ready.\r\n", caps,
	    imap_server_conf(s->srv)->hostname);
}

void
imap_session_start(struct imap_session *s)
{
	log_info("sid=%s imap connect from %s", s->sid, s->addr);
	conn_set_timeout(s->c, PRELOGIN_TIMEOUT);
	if (s->kind != LISTEN_IMAPS)
		greet(s);
	conn_kick(s->c);
}

static void
session_tls_ready(struct conn *c, void *arg)
{
	struct imap_session *s = arg;
	char d[128];
	log_info("sid=%s TLS: %s", s->sid, conn_tls_desc(c, d, sizeof(d)));
	if (s->kind == LISTEN_IMAPS)
		greet(s);
}

static void
session_timeout(struct conn *c, void *arg)
{
	struct imap_session *s = arg;
	imap_out(s, "* BYE Disconnected for inactivity.\r\n");
	conn_close(c);
}

void
imap_session_shutdown(struct imap_session *s)
{
	if (s->idling || s->state == IS_NOAUTH || s->state == IS_AUTH || s->state == IS_SELECTED) {
		imap_out(s, "* BYE Server shutting down.\r\n");
		conn_close(s->c);
	}
}

static void
session_drained(struct conn *c, void *arg)
{
	struct imap_session *s = arg;
	(void)c;
	if (s->relay != NULL)
		relay_drained(s->relay);
}

static void
session_free(struct imap_session *s)
{
	relay_free(&s->relay);
	if (s->areq != NULL)
		auth_client_cancel(s->areq);
	/* A client gone during its APPEND's sync: the messages stay. */
	imap_append_orphan(s);
	view_free(s);
	mailstore_close(&s->ms);
	SSL_CTX_free(s->tls);
	imap_server_unlink(s->srv, s);
	free(s);
}

static void
session_closed(struct conn *c, void *arg, const char *why)
{
	struct imap_session *s = arg;
	(void)c;
	log_info("sid=%s imap disconnect from %s user=%s: %s", s->sid, s->addr,
	    s->user[0] ? s->user : "-", why);
	session_free(s);
}

void
imap_session_destroy(struct imap_session *s)
{
	conn_abort(s->c, "server stopped");
}

/* ---- login ---- */

/* The login succeeded: the mail store here, or the user's mail process. */
static void
login_done(struct imap_session *s, const char *tag, const char *user, const char *ticket)
{
	char path[4096];
	int r = imap_server_user_maildir(s->srv, user, path, sizeof(path));
	if (r == 0) {
		struct imap_handoff h = { .user = user, .ticket = ticket, .proto = "imap", .tag = tag,
			.addr = s->addr };
		int fd = imap_server_handoff(s->srv, &h);
		if (fd >= 0) {
			log_info("sid=%s imap login user=%s from %s: handed to the user's mail process",
			    s->sid, user, s->addr);
			strlcpy(s->user, user, sizeof(s->user));
			s->state = IS_AUTH;
			conn_set_timeout(s->c, 0);	/* the mail process keeps the time */
			s->relay = relay_new(imap_server_eb(s->srv), s->c, fd);
			return;
		}
	}
	if (r <= 0) {
		log_warn("sid=%s user=%s: %s", s->sid, user,
		    r == 0 ? "no mail store this process can open" : "user lookup failed");
		imap_tagged(s, tag, "NO [UNAVAILABLE] Mailbox is not available.");
		return;
	}
	imap_session_adopt(s, user, path, tag);
}

void
imap_session_adopt(struct imap_session *s, const char *user, const char *path, const char *tag)
{
	const char *err;
	if (mailstore_open(path, &s->ms, &err) != 0) {
		log_warn("sid=%s user=%s: mail store %s: %s", s->sid, user, path, err);
		imap_tagged(s, tag, "NO [SERVERBUG] Mailbox is not available.");
		return;
	}
	strlcpy(s->user, user, sizeof(s->user));
	s->state = IS_AUTH;
	conn_set_timeout(s->c, IDLE_TIMEOUT);
	/* A whole command (an APPEND with its message) may now wait in memory. */
	conn_set_input_max(s->c, (size_t)imap_server_conf(s->srv)->message_size_limit + MAX_LINE +
	    4096);
	s->fr = (struct imap_framer){ 0 };
	log_info("sid=%s imap login user=%s from %s", s->sid, user, s->addr);
	char caps[1024];
	capability_list(s, caps, sizeof(caps));
	imap_tagged(s, tag, "OK [CAPABILITY %s] Logged in", caps);
}

static void
auth_reply(void *ctx, enum auth_status st, const char *data, const char *user)
{
	struct imap_session *s = ctx;
	bool was_wait = s->auth_wait;
	s->auth_wait = false;
	switch (st) {
	case AUTH_CONTINUE:
		s->auth_exchange = true;
		imap_out(s, "+ %s\r\n", data ? data : "");
		break;
	case AUTH_OK:
		s->areq = NULL;
		s->auth_exchange = false;
		login_done(s, s->atag, user, auth_client_ticket(imap_server_auth(s->srv)));
		break;
	case AUTH_FAIL:
		s->areq = NULL;
		s->auth_exchange = false;
		imap_tagged(s, s->atag, "NO [%s] %s", s->auth_is_login ? "AUTHENTICATIONFAILED" :
		    "AUTHENTICATIONFAILED", "Authentication failed.");
		break;
	case AUTH_TEMPFAIL:
		s->areq = NULL;
		s->auth_exchange = false;
		imap_tagged(s, s->atag, "NO [UNAVAILABLE] Temporary authentication failure.");
		break;
	}
	if (was_wait)
		conn_pause(s->c, false);
	conn_kick(s->c);
}

static void
auth_begin(struct imap_session *s, const char *tag, const char *mech, const char *resp)
{
	struct auth_client *ac = imap_server_auth(s->srv);
	strlcpy(s->atag, tag, sizeof(s->atag));
	s->auth_wait = true;
	conn_pause(s->c, true);
	char lip[8] = "";
	/* "secured" tells the service whether a password may travel here. */
	s->areq = auth_client_start(ac, mech, "imap", lip, s->addr, plaintext_ok(s), resp, auth_reply,
	    s);
}

static void
cmd_login(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *u, *p;
	if (cmd->nargs != 2 || (u = imap_arg_astring(&cmd->args[0])) == NULL ||
	    (p = imap_arg_astring(&cmd->args[1])) == NULL) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (!plaintext_ok(s)) {
		imap_tagged(s, cmd->tag, "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on "
		    "non-secure (SSL/TLS) connections.");
		return;
	}
	if (imap_server_auth(s->srv) == NULL) {
		imap_tagged(s, cmd->tag, "NO [UNAVAILABLE] Authentication service unavailable.");
		return;
	}
	/* LOGIN is PLAIN with an empty authorization identity. */
	size_t ul = strlen(u), pl = strlen(p);
	if (ul > 255 || pl > 1024) {
		imap_tagged(s, cmd->tag, "NO [AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	char raw[1300];
	raw[0] = '\0';
	memcpy(raw + 1, u, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, p, pl);
	char b64[1800];
	if (b64_encode(raw, 2 + ul + pl, b64, sizeof(b64)) >= sizeof(b64)) {
		imap_tagged(s, cmd->tag, "NO [AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	explicit_bzero(raw, sizeof(raw));
	s->auth_is_login = true;
	auth_begin(s, cmd->tag, "PLAIN", b64);
	explicit_bzero(b64, sizeof(b64));
}

static void
cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs < 1 || cmd->nargs > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->nargs == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	struct auth_client *ac = imap_server_auth(s->srv);
	bool plain;
	if (ac == NULL || !auth_client_has_mech(ac, cmd->args[0].str, &plain)) {
		imap_tagged(s, cmd->tag, "NO Unsupported authentication mechanism.");
		return;
	}
	if (plain && !plaintext_ok(s)) {
		imap_tagged(s, cmd->tag, "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on "
		    "non-secure (SSL/TLS) connections.");
		return;
	}
	const char *ir = cmd->nargs == 2 ? cmd->args[1].str : NULL;
	if (ir != NULL && strcmp(ir, "=") == 0)
		ir = "";
	s->auth_is_login = false;
	auth_begin(s, cmd->tag, cmd->args[0].str, ir);
}

/* A line of an AUTHENTICATE exchange. */
static void
auth_line(struct imap_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		auth_client_cancel(s->areq);
		s->areq = NULL;
		s->auth_exchange = false;
		imap_tagged(s, s->atag, "BAD Authentication aborted by client.");
		return;
	}
	char *b = xstrndup(line, len);
	s->auth_wait = true;
	conn_pause(s->c, true);
	auth_client_continue(s->areq, b);
	explicit_bzero(b, len);
	free(b);
}

/* ---- folders ---- */

/* Mailbox name argument: UTF-8 (decoded from modified UTF-7 unless the
 * client enabled UTF8=ACCEPT). NULL with a reply sent. */
static char *
arg_mailbox(struct imap_session *s, const struct imap_cmd *cmd, const struct imap_arg *a)
{
	const char *n = imap_arg_astring(a);
	if (n == NULL) {
		imap_tagged(s, cmd->tag, "BAD Invalid mailbox name.");
		return NULL;
	}
	if (s->utf8)
		return xstrdup(n);
	size_t l = strlen(n);
	char *u = xmalloc(l * 2 + 1);	/* decoding never more than doubles */
	if (mutf7_decode(n, l, u, l * 2 + 1) != 0) {
		free(u);
		imap_tagged(s, cmd->tag, "NO Mailbox name is not valid modified UTF-7.");
		return NULL;
	}
	return u;
}

/* A name for the client: modified UTF-7 unless UTF8=ACCEPT, quoted. */
static void
out_name(struct imap_session *s, const char *utf8)
{
	char *m = NULL;
	const char *n = utf8;
	bool atom = utf8[0] != '\0' && strcasecmp(utf8, "NIL") != 0;
	for (const char *p = utf8; *p && atom; p++)
		atom = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f &&
		    strchr("(){%*\"\\]", *p) == NULL;
	if (atom) {
		imap_write(s, utf8, strlen(utf8));
		return;
	}
	if (!s->utf8) {
		size_t l = strlen(utf8);
		m = xmalloc(l * 3 + 8);
		if (mutf7_encode(utf8, l, m, l * 3 + 8) == 0)
			n = m;
	}
	size_t l = imap_quote(n, strlen(n), NULL, 0);
	char *q = xmalloc(l + 1);
	imap_quote(n, strlen(n), q, l + 1);
	imap_write(s, q, l);
	free(q);
	free(m);
}

static void
flags_perm(struct imap_session *s, char *buf, size_t sz, bool permanent)
{
	size_t o = (size_t)snprintf(buf, sz, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (int i = 0; i < 26 && o < sz; i++)
		if (s->mb->kw[i] != NULL)
			o += (size_t)snprintf(buf + o, sz - o, " %s", s->mb->kw[i]);
	if (permanent && o < sz)
		o += (size_t)snprintf(buf + o, sz - o, " \\*");
	if (o < sz)
		snprintf(buf + o, sz - o, ")");
}

/* Open a folder by name for this session (shared with the others). */
static struct mailbox *
open_folder(struct imap_session *s, const struct imap_cmd *cmd, const char *name)
{
	const char *err;
	char *path = mailstore_path(&s->ms, name, &err);
	if (path == NULL) {
		imap_tagged(s, cmd->tag, "NO %s", err);
		return NULL;
	}
	struct mailbox *mb = imap_box_open(s->srv, path, strcmp(mailstore_canon(name), "INBOX") == 0,
	    &err);
	if (mb == NULL) {
		struct stat sb;
		if (stat(path, &sb) == 0) {
			log_warn("sid=%s open %s: %s", s->sid, path, err);
			imap_tagged(s, cmd->tag, "NO [UNAVAILABLE] Mailbox is not available now.");
		} else
			imap_tagged(s, cmd->tag, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		free(path);
		return NULL;
	}
	free(path);
	if (mailbox_sync(mb, false, &err) > 0)
		imap_box_changed(s->srv, mb, s);
	return mb;
}

static void
cmd_select(struct imap_session *s, const struct imap_cmd *cmd, bool examine)
{
	if (cmd->nargs < 1 || cmd->nargs > 2) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	/* (CONDSTORE) or (QRESYNC (uidvalidity modseq [known-uids ...])) */
	bool condstore = false, qresync = false;
	uint32_t q_uidv = 0;
	uint64_t q_modseq = 0;
	const char *q_known = NULL;
	if (cmd->nargs == 2) {
		const struct imap_arg *l = &cmd->args[1];
		if (l->type != IMAP_ARG_LIST) {
			imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
			return;
		}
		for (size_t i = 0; i < l->nlist; i++) {
			const struct imap_arg *a = &l->list[i];
			if (a->type == IMAP_ARG_ATOM && strcasecmp(a->str, "CONDSTORE") == 0)
				condstore = true;
			else if (a->type == IMAP_ARG_ATOM && strcasecmp(a->str, "QRESYNC") == 0 &&
			    i + 1 < l->nlist && l->list[i + 1].type == IMAP_ARG_LIST) {
				if (!s->qresync) {
					imap_tagged(s, cmd->tag, "BAD QRESYNC not enabled.");
					return;
				}
				const struct imap_arg *q = &l->list[++i];
				char *e1, *e2;
				if (q->nlist < 2 || q->list[0].type != IMAP_ARG_ATOM ||
				    q->list[1].type != IMAP_ARG_ATOM) {
					imap_tagged(s, cmd->tag, "BAD Invalid QRESYNC parameters.");
					return;
				}
				q_uidv = (uint32_t)strtoul(q->list[0].str, &e1, 10);
				q_modseq = strtoull(q->list[1].str, &e2, 10);
				if (*e1 || *e2 || q_uidv == 0) {
					imap_tagged(s, cmd->tag, "BAD Invalid QRESYNC parameters.");
					return;
				}
				if (q->nlist >= 3 && q->list[2].type == IMAP_ARG_ATOM)
					q_known = q->list[2].str;
				qresync = true;
			} else {
				imap_tagged(s, cmd->tag, "BAD Unknown SELECT parameter.");
				return;
			}
		}
	}
	/* RFC 9051 6.3.2: a failed SELECT leaves no folder selected. */
	if (s->state == IS_SELECTED) {
		view_free(s);
		s->state = IS_AUTH;
		if (s->rev2 || s->qresync)
			imap_out(s, "* OK [CLOSED] Previous mailbox closed.\r\n");
	}
	char *name = arg_mailbox(s, cmd, &cmd->args[0]);
	if (name == NULL)
		return;
	struct mailbox *mb = open_folder(s, cmd, name);
	if (mb == NULL) {
		free(name);
		return;
	}
	if (condstore)
		s->condstore = true;
	s->mb = mb;
	s->mbname = xstrdup(mailstore_canon(name));
	free(name);
	s->readonly = examine || mb->readonly;
	s->state = IS_SELECTED;
	size_t rc = 0, unseen = 0;
	for (size_t i = 0; i < mb->n && mailbox_visible(mb, mb->m[i].uid); i++) {
		bool r = mb->m[i].recent;
		if (!examine)
			mb->m[i].recent = false;
		view_push(s, mb->m[i].uid, r);
		rc += r;
		if (unseen == 0 && !(mb->m[i].flags & MF_SEEN))
			unseen = i + 1;
	}
	s->modseq_seen = mb->highestmodseq;
	char fl[1024];
	flags_perm(s, fl, sizeof(fl), false);
	imap_out(s, "* FLAGS %s\r\n", fl);
	flags_perm(s, fl, sizeof(fl), true);
	imap_out(s, "* OK [PERMANENTFLAGS %s] Flags permitted.\r\n", s->readonly ? "()" : fl);
	imap_out(s, "* %zu EXISTS\r\n", s->n);
	if (!s->rev2) {
		imap_out(s, "* %zu RECENT\r\n", rc);
		if (unseen)
			imap_out(s, "* OK [UNSEEN %zu] First unseen.\r\n", unseen);
	}
	imap_out(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", mb->uidvalidity);
	imap_out(s, "* OK [UIDNEXT %u] Predicted next UID\r\n", mb->uidnext);
	imap_out(s, "* OK [HIGHESTMODSEQ %" PRIu64 "] Highest\r\n", mb->highestmodseq);
	if (s->qresync && qresync && q_uidv == mb->uidvalidity) {
		/* VANISHED (EARLIER): what of the client's known UIDs is gone.
		 * MODSEQs are not kept for expunged messages, so report every
		 * known UID that no longer exists (allowed by RFC 7162 3.2.5.1). */
		struct seqset known = { 0 };
		const char *err;
		if (q_known == NULL || seqset_parse(q_known, mb->uidnext, SEQSET_UID, NULL, 100000,
		    &known, &err) != 0) {
			seqset_free(&known);
			struct seqrange r = { 1, mb->uidnext > 1 ? mb->uidnext - 1 : 1 };
			known.r = xmalloc(sizeof(r));
			known.r[0] = r;
			known.n = 1;
		}
		imap_vanished_earlier(s, &known);
		seqset_free(&known);
		for (size_t i = 0; i < s->n; i++) {
			long mi = imap_msg_index(s, i + 1);
			if (mi < 0 || mb->m[mi].modseq <= q_modseq)
				continue;
			char f[1024];
			imap_flags_str(s, (size_t)mi, i + 1, f, sizeof(f));
			imap_out(s, "* %zu FETCH (UID %u FLAGS %s MODSEQ (%" PRIu64 "))\r\n", i + 1,
			    s->uids[i], f, mb->m[mi].modseq);
		}
	}
	imap_tagged(s, cmd->tag, "OK [%s] %s completed", s->readonly ? "READ-ONLY" : "READ-WRITE",
	    examine ? "Examine" : "Select");
}

static void
close_folder(struct imap_session *s, bool expunge)
{
	if (expunge && !s->readonly) {
		const char *err;
		struct mailbox *mb = s->mb;
		bool any = false;
		for (size_t i = mb->n; i-- > 0;)
			if ((mb->m[i].flags & MF_DELETED) && mailbox_expunge(mb, i, &err) == 0)
				any = true;
		if (any && mailbox_commit(mb, &err) != 0)
			log_warn("sid=%s %s", s->sid, err);
		if (any)
			imap_box_changed(s->srv, mb, s);
	}
	view_free(s);
	s->state = IS_AUTH;
}

static unsigned
special_from_atom(const char *a)
{
	static const struct { const char *n; unsigned v; } t[] = {
		{ "\\All", SU_ALL }, { "\\Archive", SU_ARCHIVE }, { "\\Drafts", SU_DRAFTS },
		{ "\\Flagged", SU_FLAGGED }, { "\\Junk", SU_JUNK }, { "\\Sent", SU_SENT },
		{ "\\Trash", SU_TRASH },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(a, t[i].n) == 0)
			return t[i].v;
	return 0;
}

static void
special_str(unsigned su, char *buf, size_t sz)
{
	static const char *const names[] = { "\\All", "\\Archive", "\\Drafts", "\\Flagged",
		"\\Junk", "\\Sent", "\\Trash" };
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < 7 && o < sz; i++)
		if (su & (1u << i))
			o += (size_t)snprintf(buf + o, sz - o, " %s", names[i]);
}

static void
cmd_create(struct imap_session *s, const struct imap_cmd *cmd)
{
	unsigned su = 0;
	if (cmd->nargs == 2 && cmd->args[1].type == IMAP_ARG_LIST && cmd->args[1].nlist == 2 &&
	    cmd->args[1].list[0].type == IMAP_ARG_ATOM &&
	    strcasecmp(cmd->args[1].list[0].str, "USE") == 0 &&
	    cmd->args[1].list[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = &cmd->args[1].list[1];
		for (size_t i = 0; i < l->nlist; i++) {
			unsigned v = l->list[i].type == IMAP_ARG_ATOM ? special_from_atom(l->list[i].str) : 0;
			if (v == 0) {
				imap_tagged(s, cmd->tag, "NO [USEATTR] Unsupported special-use attribute.");
				return;
			}
			su |= v;
		}
	} else if (cmd->nargs != 1) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	char *name = arg_mailbox(s, cmd, &cmd->args[0]);
	if (name == NULL)
		return;
	const char *err;
	if (strcmp(mailstore_canon(name), "INBOX") == 0)
		imap_tagged(s, cmd->tag, "NO [ALREADYEXISTS] Mailbox already exists.");
	else if (mailstore_create(&s->ms, name, su, &err) != 0)
		imap_tagged(s, cmd->tag, "NO %s", err);
	else
		imap_tagged(s, cmd->tag, "OK Create completed.");
	free(name);
}

static void
cmd_delete(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 1) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	char *name = arg_mailbox(s, cmd, &cmd->args[0]);
	if (name == NULL)
		return;
	const char *err;
	if (s->state == IS_SELECTED && strcmp(s->mbname, mailstore_canon(name)) == 0) {
		/* Deleting the selected folder unselects it. */
		close_folder(s, false);
		if (s->rev2 || s->qresync)
			imap_out(s, "* OK [CLOSED] Selected mailbox was deleted.\r\n");
	}
	if (mailstore_delete(&s->ms, name, &err) != 0)
		imap_tagged(s, cmd->tag, "NO %s", err);
	else
		imap_tagged(s, cmd->tag, "OK Delete completed.");
	free(name);
}

static void
cmd_rename(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 2) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	char *from = arg_mailbox(s, cmd, &cmd->args[0]), *to = NULL;
	if (from == NULL)
		return;
	if ((to = arg_mailbox(s, cmd, &cmd->args[1])) == NULL) {
		free(from);
		return;
	}
	const char *err;
	if (mailstore_rename(&s->ms, from, to, &err) != 0)
		imap_tagged(s, cmd->tag, "NO %s", err);
	else
		imap_tagged(s, cmd->tag, "OK Rename completed.");
	free(from);
	free(to);
}

static void
cmd_subscribe(struct imap_session *s, const struct imap_cmd *cmd, bool on)
{
	if (cmd->nargs != 1) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	char *name = arg_mailbox(s, cmd, &cmd->args[0]);
	if (name == NULL)
		return;
	const char *err;
	if (mailstore_subscribe(&s->ms, name, on, &err) != 0)
		imap_tagged(s, cmd->tag, "NO %s", err);
	else
		imap_tagged(s, cmd->tag, "OK %s completed.", on ? "Subscribe" : "Unsubscribe");
	free(name);
}

static void status_items(struct imap_session *s, const char *name, const struct imap_arg *items,
    bool quiet_errors, const char *tag);

/* list-mailbox (RFC 9051 9): an astring that may hold the wildcards. */
static const char *
arg_pattern(const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_ATOM && a->str[0] != '\\')
		return a->str;
	return imap_arg_astring(a);
}

static bool
in_list(char **names, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], x) == 0)
			return true;
	return false;
}

/* LIST (RFC 9051 6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
 * SPECIAL-USE RFC 6154) and LSUB. */
static void
cmd_list(struct imap_session *s, const struct imap_cmd *cmd, bool lsub)
{
	size_t ai = 0;
	bool sel_sub = false, sel_special = false, sel_recursive = false;
	bool ret_sub = false, ret_children = false, ret_special = false;
	const struct imap_arg *status = NULL;
	if (!lsub && ai < cmd->nargs && cmd->args[ai].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = &cmd->args[ai++];
		for (size_t i = 0; i < l->nlist; i++) {
			const char *o = l->list[i].type == IMAP_ARG_ATOM ? l->list[i].str : "";
			if (strcasecmp(o, "SUBSCRIBED") == 0)
				sel_sub = true;
			else if (strcasecmp(o, "SPECIAL-USE") == 0)
				sel_special = true;
			else if (strcasecmp(o, "RECURSIVEMATCH") == 0)
				sel_recursive = true;
			else if (strcasecmp(o, "REMOTE") != 0) {
				imap_tagged(s, cmd->tag, "BAD Invalid LIST selection option.");
				return;
			}
		}
		if (sel_recursive && !sel_sub) {
			imap_tagged(s, cmd->tag, "BAD RECURSIVEMATCH needs another selection option.");
			return;
		}
	}
	if (cmd->nargs < ai + 2) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	const char *ref = imap_arg_astring(&cmd->args[ai]);
	const struct imap_arg *pats = &cmd->args[ai + 1];
	size_t npats = 1;
	if (pats->type == IMAP_ARG_LIST && !lsub) {
		npats = pats->nlist;
		pats = pats->list;
	}
	ai += 2;
	if (ai < cmd->nargs) {
		if (lsub || cmd->args[ai].type != IMAP_ARG_ATOM ||
		    strcasecmp(cmd->args[ai].str, "RETURN") != 0 || ai + 1 >= cmd->nargs ||
		    cmd->args[ai + 1].type != IMAP_ARG_LIST) {
			imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
			return;
		}
		const struct imap_arg *l = &cmd->args[ai + 1];
		for (size_t i = 0; i < l->nlist; i++) {
			const char *o = l->list[i].type == IMAP_ARG_ATOM ? l->list[i].str : "";
			if (strcasecmp(o, "SUBSCRIBED") == 0)
				ret_sub = true;
			else if (strcasecmp(o, "CHILDREN") == 0)
				ret_children = true;
			else if (strcasecmp(o, "SPECIAL-USE") == 0)
				ret_special = true;
			else if (strcasecmp(o, "STATUS") == 0 && i + 1 < l->nlist &&
			    l->list[i + 1].type == IMAP_ARG_LIST)
				status = &l->list[++i];
			else {
				imap_tagged(s, cmd->tag, "BAD Invalid LIST return option.");
				return;
			}
		}
		ai += 2;
	}
	if (ref == NULL || ai != cmd->nargs) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	(void)ret_children;	/* \HasChildren / \HasNoChildren are always sent */
	const char *verb = lsub ? "LSUB" : "LIST";
	/* LIST "" "": the hierarchy delimiter. */
	if (npats == 1 && arg_pattern(&pats[0]) != NULL && arg_pattern(&pats[0])[0] == '\0') {
		imap_out(s, "* %s (\\Noselect) \"/\" \"\"\r\n", verb);
		imap_tagged(s, cmd->tag, "OK %s completed.", verb);
		return;
	}
	struct mailstore_folder *f = NULL;
	size_t nf = 0;
	char **subs = NULL;
	size_t nsubs = 0;
	mailstore_list(&s->ms, &f, &nf);
	mailstore_subscriptions(&s->ms, &subs, &nsubs);
	char utf8ref[1024];
	if (s->utf8 || mutf7_decode(ref, strlen(ref), utf8ref, sizeof(utf8ref)) != 0)
		strlcpy(utf8ref, ref, sizeof(utf8ref));
	/* Subscribed names that no longer exist are listed with \NonExistent. */
	size_t total = nf + ((lsub || sel_sub) ? nsubs : 0);
	for (size_t k = 0; k < total; k++) {
		const char *name;
		unsigned special = 0;
		bool children = false, nonexist = false, noselect = false;
		if (k < nf) {
			name = f[k].name;
			special = f[k].special;
			children = f[k].has_children;
			noselect = f[k].nonexistent;
		} else {
			name = subs[k - nf];
			bool exists = false;
			for (size_t j = 0; j < nf; j++)
				exists |= strcmp(f[j].name, name) == 0;
			if (exists)
				continue;
			nonexist = true;
		}
		bool subscribed = in_list(subs, nsubs, name);
		bool matched = false;
		for (size_t p = 0; p < npats && !matched; p++) {
			const char *pat = arg_pattern(&pats[p]);
			if (pat == NULL)
				continue;
			char full[2048], upat[2048];
			if (s->utf8 || mutf7_decode(pat, strlen(pat), upat, sizeof(upat)) != 0)
				strlcpy(upat, pat, sizeof(upat));
			snprintf(full, sizeof(full), "%s%s", utf8ref, upat);
			matched = mailstore_match(full, name);
		}
		if (!matched)
			continue;
		if ((lsub || sel_sub) && !subscribed)
			continue;
		if (sel_special && special == 0)
			continue;
		char attrs[256] = "";
		size_t o = 0;
		if (nonexist)
			o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, " \\NonExistent");
		if (noselect && !lsub)
			o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, " \\Noselect");
		if (!lsub && !nonexist)
			o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, children ? " \\HasChildren" :
			    " \\HasNoChildren");
		if (subscribed && !lsub && (ret_sub || sel_sub))
			o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, " \\Subscribed");
		if (!lsub && (ret_special || sel_special || true) && special) {
			char sp[128];
			special_str(special, sp, sizeof(sp));
			o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, "%s", sp);
		}
		imap_out(s, "* %s (%s) \"/\" ", verb, attrs[0] ? attrs + 1 : "");
		out_name(s, name);
		imap_write(s, "\r\n", 2);
		if (status != NULL && !nonexist && !noselect)
			status_items(s, name, status, true, NULL);
	}
	mailstore_list_free(f, nf);
	for (size_t i = 0; i < nsubs; i++)
		free(subs[i]);
	free(subs);
	imap_tagged(s, cmd->tag, "OK %s completed.", verb);
}

/* STATUS items for one folder: "* STATUS name (...)". Errors: a tagged NO
 * (tag set) or nothing (inside LIST-STATUS). */
static void
status_items(struct imap_session *s, const char *name, const struct imap_arg *items,
    bool quiet_errors, const char *tag)
{
	const char *err;
	char *path = mailstore_path(&s->ms, name, &err);
	struct mailbox *mb = NULL;
	if (path != NULL)
		mb = imap_box_open(s->srv, path, strcmp(mailstore_canon(name), "INBOX") == 0, &err);
	free(path);
	if (mb == NULL) {
		if (!quiet_errors)
			imap_tagged(s, tag, "NO [NONEXISTENT] Mailbox doesn't exist: %s", name);
		return;
	}
	if (mailbox_sync(mb, false, &err) > 0)
		imap_box_changed(s->srv, mb, s);
	char out[1024];
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < items->nlist; i++) {
		const char *it = items->list[i].type == IMAP_ARG_ATOM ? items->list[i].str : "";
		uint64_t v;
		if (strcasecmp(it, "MESSAGES") == 0)
			v = mb->n;
		else if (strcasecmp(it, "UIDNEXT") == 0)
			v = mb->uidnext;
		else if (strcasecmp(it, "UIDVALIDITY") == 0)
			v = mb->uidvalidity;
		else if (strcasecmp(it, "UNSEEN") == 0 || strcasecmp(it, "DELETED") == 0) {
			bool del = strcasecmp(it, "DELETED") == 0;
			v = 0;
			for (size_t k = 0; k < mb->n; k++)
				v += del ? (mb->m[k].flags & MF_DELETED) != 0 : !(mb->m[k].flags & MF_SEEN);
		} else if (strcasecmp(it, "RECENT") == 0) {
			v = 0;
			for (size_t k = 0; k < mb->n; k++)
				v += mb->m[k].recent;
		} else if (strcasecmp(it, "SIZE") == 0)
			v = mailbox_total_size(mb);
		else if (strcasecmp(it, "HIGHESTMODSEQ") == 0)
			v = mb->highestmodseq;
		else {
			imap_box_close(s->srv, &mb);
			if (!quiet_errors)
				imap_tagged(s, tag, "BAD Invalid status item.");
			return;
		}
		char up[32];
		strlcpy(up, it, sizeof(up));
		for (char *p = up; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s %" PRIu64, o ? " " : "", up, v);
		if (o >= sizeof(out))
			break;
	}
	imap_box_close(s->srv, &mb);
	imap_out(s, "* STATUS ");
	out_name(s, name);
	imap_out(s, " (%s)\r\n", out);
	if (tag != NULL)
		imap_tagged(s, tag, "OK Status completed.");
}

static void
cmd_status(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	char *name = arg_mailbox(s, cmd, &cmd->args[0]);
	if (name == NULL)
		return;
	status_items(s, name, &cmd->args[1], false, cmd->tag);
	free(name);
}

/* ---- messages ---- */

/* RFC 9051 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d").
 * UTC seconds, or -1. */
static int64_t
parse_datetime(const char *s)
{
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, y, H, M, S, z;
	char m[4], sign;
	if (strlen(s) != 26 || sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %c%4d", &d, m, &y, &H, &M, &S,
	    &sign, &z) != 8 || (sign != '+' && sign != '-'))
		return -1;
	m[3] = '\0';
	const char *p = strcasestr(mon, m);
	if (p == NULL || (p - mon) % 3 != 0 || d < 1 || d > 31 || H > 23 || M > 59 || S > 60 ||
	    y < 1900 || z % 100 > 59)
		return -1;
	struct tm tm = { .tm_mday = d, .tm_mon = (int)(p - mon) / 3, .tm_year = y - 1900,
		.tm_hour = H, .tm_min = M, .tm_sec = S };
	int64_t t = (int64_t)timegm(&tm);
	int off = (z / 100) * 3600 + (z % 100) * 60;
	return sign == '+' ? t - off : t + off;
}

/* Flag list of APPEND/STORE: system flags and keywords. -1 on a bad one. */
int
imap_parse_flags(const struct imap_arg *l, unsigned *flags, const char ***kw, size_t *nkw)
{
	static const struct { const char *n; unsigned f; } sys[] = {
		{ "\\Answered", MF_ANSWERED }, { "\\Flagged", MF_FLAGGED }, { "\\Deleted", MF_DELETED },
		{ "\\Seen", MF_SEEN }, { "\\Draft", MF_DRAFT },
	};
	*flags = 0;
	*kw = NULL;
	*nkw = 0;
	const struct imap_arg *a = l;
	size_t n = 1;
	if (l->type == IMAP_ARG_LIST) {
		a = l->list;
		n = l->nlist;
	}
	for (size_t i = 0; i < n; i++) {
		if (a[i].type != IMAP_ARG_ATOM)
			goto bad;
		const char *f = a[i].str;
		if (f[0] == '\\') {
			size_t k;
			for (k = 0; k < sizeof(sys) / sizeof(sys[0]); k++)
				if (strcasecmp(f, sys[k].n) == 0)
					break;
			if (k == sizeof(sys) / sizeof(sys[0])) {
				if (strcasecmp(f, "\\Recent") == 0)
					continue;
				goto bad;
			}
			*flags |= sys[k].f;
			continue;
		}
		for (const char *p = f; *p; p++)
			if (strchr("(){ %*\"\\]", *p) != NULL || (unsigned char)*p < 0x21 ||
			    (unsigned char)*p > 0x7e)
				goto bad;
		*kw = xreallocarray(*kw, *nkw + 1, sizeof(char *));
		(*kw)[(*nkw)++] = f;
	}
	return 0;
bad:
	free(*kw);
	*kw = NULL;
	*nkw = 0;
	return -1;
}

/* An APPEND waiting for its sync. It outlives its session (a client that
 * went away): the folder's hidden UIDs must still be shown to the others. */
struct append_job {
	struct imap_server *srv;
	struct imap_session *s;		/* NULL once the session is gone */
	struct mailbox *mb;		/* a reference */
	uint32_t *uids;
	size_t n;
	char tag[IMAP_TAG_MAX + 1];
};

/* The messages of an APPEND are durable (fail NULL) or failed: answer. */
static void
append_answer(struct imap_session *s, struct mailbox *mb, const char *tag, const uint32_t *uids,
    size_t n, const char *fail)
{
	const char *err;
	if (fail != NULL) {
		/* MULTIAPPEND: all or none (RFC 3502 6). */
		for (size_t k = 0; k < n; k++) {
			long mi = mailbox_find(mb, uids[k]);
			if (mi >= 0)
				mailbox_expunge(mb, (size_t)mi, &err);
		}
		imap_tagged(s, tag, "%s", fail);
	} else {
		char *u = seqset_list_str(uids, n);
		imap_box_changed(s->srv, mb, s);
		if (s->mb == mb)
			imap_view_update(s, false);
		imap_tagged(s, tag, "OK [APPENDUID %u %s] Append completed.", mb->uidvalidity, u);
		free(u);
	}
}

static void
append_synced(void *arg, int err)
{
	struct append_job *j = arg;
	struct mailbox *mb = j->mb;
	struct imap_session *s = j->s;
	const char *fail = err != 0 ? "NO [SERVERBUG] Saving the message failed." : NULL;
	if (err != 0)
		log_warn("APPEND to %s: sync: %s", mb->dir, strerror(err));
	if (--mb->syncing == 0)
		mb->hidden_from = 0;
	if (s != NULL) {
		s->ajob = NULL;
		s->sync_wait = false;
		append_answer(s, mb, j->tag, j->uids, j->n, fail);
		conn_pause(s->c, false);
		conn_kick(s->c);
	} else if (fail != NULL) {
		const char *e;
		for (size_t k = 0; k < j->n; k++) {
			long mi = mailbox_find(mb, j->uids[k]);
			if (mi >= 0)
				mailbox_expunge(mb, (size_t)mi, &e);
		}
	}
	if (s == NULL)	/* the others see the messages now */
		imap_box_changed(j->srv, mb, NULL);
	free(j->uids);
	imap_box_close(j->srv, &j->mb);
	free(j);
}

/* The session goes away before its APPEND is durable. */
void
imap_append_orphan(struct imap_session *s)
{
	if (s->ajob != NULL)
		s->ajob->s = NULL;
	s->ajob = NULL;
}

static void
cmd_append(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs < 2) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	char *name = arg_mailbox(s, cmd, &cmd->args[0]);
	if (name == NULL)
		return;
	const char *err;
	char *path = mailstore_path(&s->ms, name, &err);
	struct mailbox *mb = NULL;
	if (path == NULL) {
		imap_tagged(s, cmd->tag, "NO %s", err);
		free(name);
		return;
	}
	mb = imap_box_open(s->srv, path, strcmp(mailstore_canon(name), "INBOX") == 0, &err);
	free(path);
	free(name);
	if (mb == NULL) {
		imap_tagged(s, cmd->tag, "NO [TRYCREATE] Mailbox doesn't exist.");
		return;
	}
	/* Check every message first (MULTIAPPEND is all or nothing on syntax). */
	size_t i = 1, nmsg = 0;
	const char *syntax = NULL;
	while (i < cmd->nargs && syntax == NULL) {
		if (cmd->args[i].type == IMAP_ARG_LIST) {
			unsigned fl;
			const char **kw;
			size_t nkw;
			if (imap_parse_flags(&cmd->args[i], &fl, &kw, &nkw) != 0)
				syntax = "BAD Invalid flags.";
			else
				free(kw);
			i++;
		}
		if (i < cmd->nargs && cmd->args[i].type == IMAP_ARG_STRING && !cmd->args[i].literal &&
		    !cmd->args[i].literal8) {
			if (parse_datetime(cmd->args[i].str) < 0)
				syntax = "BAD Invalid date-time.";
			i++;
		}
		if (syntax != NULL) {
			imap_tagged(s, cmd->tag, "%s", syntax);
			imap_box_close(s->srv, &mb);
			return;
		}
		if (i >= cmd->nargs || cmd->args[i].type != IMAP_ARG_STRING || !(cmd->args[i].literal ||
		    cmd->args[i].literal8)) {
			imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
			imap_box_close(s->srv, &mb);
			return;
		}
		i++;
		nmsg++;
	}
	uint32_t *uids = xcalloc(nmsg, sizeof(*uids));
	size_t done = 0;
	const char *fail = NULL;
	/* An mbox append is written in place and synced by itself. */
	struct bgsync *bg = strncmp(mb->dir, "mbox:", 5) == 0 ? NULL : imap_server_bgsync(s->srv);
	mb->sync_later = bg != NULL;
	i = 1;
	while (i < cmd->nargs && fail == NULL) {
		unsigned flags = 0;
		const char **kw = NULL;
		size_t nkw = 0;
		int64_t date = -1;
		if (cmd->args[i].type == IMAP_ARG_LIST &&
		    imap_parse_flags(&cmd->args[i++], &flags, &kw, &nkw) != 0) {
			fail = "BAD Invalid flags.";
			break;
		}
		if (!cmd->args[i].literal && !cmd->args[i].literal8) {
			date = parse_datetime(cmd->args[i++].str);
			if (date < 0) {
				free(kw);
				fail = "BAD Invalid date-time.";
				break;
			}
		}
		const struct imap_arg *m = &cmd->args[i++];
		if (m->len == 0) {
			free(kw);
			fail = "NO Empty message.";
			break;
		}
		if (!m->literal8 && memchr(m->str, '\0', m->len) != NULL) {
			free(kw);
			fail = "NO NUL in message (use BINARY literal8).";
			break;
		}
		if (mailbox_append(mb, m->str, m->len, flags, kw, nkw, date, &uids[done], &err) != 0) {
			log_warn("sid=%s APPEND to %s: %s", s->sid, mb->dir, err);
			free(kw);
			fail = "NO [SERVERBUG] Saving the message failed.";
			break;
		}
		free(kw);
		done++;
	}
	mb->sync_later = false;
	if (fail == NULL && bg != NULL && done > 0) {
		/* One syncfs off the loop covers this APPEND and every other one
		 * meanwhile; the session reads no more input until it is done. */
		int fd = open(mb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct append_job *j = xcalloc(1, sizeof(*j));
		j->srv = s->srv;
		j->s = s;
		j->mb = mb;
		j->uids = uids;
		j->n = done;
		strlcpy(j->tag, cmd->tag, sizeof(j->tag));
		mb->syncing++;
		if (fd >= 0 && bgsync_start(bg, fd, append_synced, j) == 0) {
			s->ajob = j;
			s->sync_wait = true;
			conn_pause(s->c, true);
			return;
		}
		/* No thread: sync here. */
		int e = errno;
		if (fd >= 0) {
			e = fsync_group(fd) == 0 ? 0 : errno;
			close(fd);
		}
		s->ajob = j;
		append_synced(j, e);
		return;
	}
	if (fail != NULL && mb->hidden_from != 0 && mb->syncing == 0)
		mb->hidden_from = 0;
	append_answer(s, mb, cmd->tag, uids, done, fail);
	free(uids);
	imap_box_close(s->srv, &mb);
}

static void
cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd, bool uid)
{
	struct seqset set = { 0 };
	const char *err;
	if ((uid && cmd->nargs != 1) || (!uid && cmd->nargs != 0)) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (uid && imap_set_parse(s, cmd->args[0].str, true, &set, &err) != 0) {
		imap_tagged(s, cmd->tag, "BAD %s", err);
		return;
	}
	if (s->readonly) {
		seqset_free(&set);
		imap_tagged(s, cmd->tag, "NO [READ-ONLY] Mailbox is read-only.");
		return;
	}
	struct mailbox *mb = s->mb;
	bool any = false;
	for (size_t seq = s->n; seq > 0; seq--) {
		if (uid && !seqset_has(&set, (uint32_t)seq))
			continue;
		long mi = imap_msg_index(s, seq);
		if (mi >= 0 && (mb->m[mi].flags & MF_DELETED) &&
		    mailbox_expunge(mb, (size_t)mi, &err) == 0)
			any = true;
	}
	seqset_free(&set);
	if (any && mailbox_commit(mb, &err) != 0) {
		log_warn("sid=%s %s", s->sid, err);
		imap_box_changed(s->srv, mb, s);
		imap_view_update(s, true);
		imap_tagged(s, cmd->tag, "NO [SERVERBUG] The mailbox could not be written.");
		return;
	}
	if (any)
		imap_box_changed(s->srv, mb, s);
	imap_view_update(s, true);
	imap_tagged(s, cmd->tag, "OK Expunge completed.");
}

static void
cmd_copy(struct imap_session *s, const struct imap_cmd *cmd, bool uid, bool move)
{
	if (cmd->nargs != 2 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	struct seqset set;
	const char *err;
	if (imap_set_parse(s, cmd->args[0].str, uid, &set, &err) != 0) {
		imap_tagged(s, cmd->tag, "BAD %s", err);
		return;
	}
	if (move && s->readonly) {
		seqset_free(&set);
		imap_tagged(s, cmd->tag, "NO [READ-ONLY] Mailbox is read-only.");
		return;
	}
	char *name = arg_mailbox(s, cmd, &cmd->args[1]);
	if (name == NULL) {
		seqset_free(&set);
		return;
	}
	char *path = mailstore_path(&s->ms, name, &err);
	struct mailbox *dst = NULL;
	if (path != NULL)
		dst = imap_box_open(s->srv, path, strcmp(mailstore_canon(name), "INBOX") == 0, &err);
	free(path);
	free(name);
	if (dst == NULL) {
		seqset_free(&set);
		imap_tagged(s, cmd->tag, "NO [TRYCREATE] Mailbox doesn't exist.");
		return;
	}
	struct mailbox *mb = s->mb;
	uint64_t want = seqset_count(&set);
	uint32_t *su = xcalloc(want ? want : 1, sizeof(*su));
	uint32_t *du = xcalloc(want ? want : 1, sizeof(*du));
	size_t n = 0;
	bool gone = false, failed = false;
	for (size_t r = 0; r < set.n && !failed; r++)
		for (uint64_t seq = set.r[r].lo; seq <= set.r[r].hi && !failed; seq++) {
			long mi = imap_msg_index(s, (size_t)seq);
			if (mi < 0) {
				gone = true;
				continue;
			}
			uint32_t nu;
			if (mailbox_copy(mb, (size_t)mi, dst, &nu, &err) != 0) {
				if (strcmp(err, "expunged") == 0) {
					gone = true;
					continue;
				}
				log_warn("sid=%s COPY: %s", s->sid, err);
				failed = true;
				break;
			}
			su[n] = mb->m[mi].uid;
			du[n++] = nu;
		}
	seqset_free(&set);
	if (failed) {
		/* Nothing copied stays (RFC 9051 6.4.7). */
		for (size_t k = 0; k < n; k++) {
			long di = mailbox_find(dst, du[k]);
			if (di >= 0)
				mailbox_expunge(dst, (size_t)di, &err);
		}
		imap_tagged(s, cmd->tag, "NO [SERVERBUG] Copy failed.");
		goto out;
	}
	char code[8300] = "";
	if (n > 0) {
		/* COPYUID lists UIDs in the same order on both sides. */
		size_t o = (size_t)snprintf(code, sizeof(code), "COPYUID %u ", dst->uidvalidity);
		for (size_t k = 0; k < n && o < sizeof(code); k++)
			o += (size_t)snprintf(code + o, sizeof(code) - o, "%s%u", k ? "," : "", su[k]);
		if (o < sizeof(code))
			o += (size_t)snprintf(code + o, sizeof(code) - o, " ");
		for (size_t k = 0; k < n && o < sizeof(code); k++)
			o += (size_t)snprintf(code + o, sizeof(code) - o, "%s%u", k ? "," : "", du[k]);
		if (o >= sizeof(code))
			code[0] = '\0';	/* too long to report: UIDPLUS allows leaving it out */
	}
	imap_box_changed(s->srv, dst, s);
	if (move) {
		if (code[0])
			imap_out(s, "* OK [%s] Moved UIDs.\r\n", code);
		for (size_t k = n; k-- > 0;) {
			long mi = mailbox_find(mb, su[k]);
			if (mi >= 0)
				mailbox_expunge(mb, (size_t)mi, &err);
		}
		if (mailbox_commit(mb, &err) != 0)
			log_warn("sid=%s %s", s->sid, err);
		imap_box_changed(s->srv, mb, s);
		imap_view_update(s, true);
		imap_tagged(s, cmd->tag, "OK Move completed.");
	} else if (gone)
		imap_tagged(s, cmd->tag, "NO [EXPUNGEISSUED] Some of the requested messages no longer "
		    "exist.");
	else
		imap_tagged(s, cmd->tag, "OK %s%s%sCopy completed.", code[0] ? "[" : "", code,
		    code[0] ? "] " : "");
out:
	free(su);
	free(du);
	imap_box_close(s->srv, &dst);
}

/* ---- small commands ---- */

static void
cmd_enable(struct imap_session *s, const struct imap_cmd *cmd)
{
	char en[256] = "";
	size_t o = 0;
	for (size_t i = 0; i < cmd->nargs; i++) {
		const char *x = cmd->args[i].type == IMAP_ARG_ATOM ? cmd->args[i].str : "";
		bool *flag = NULL;
		if (strcasecmp(x, "CONDSTORE") == 0)
			flag = &s->condstore;
		else if (strcasecmp(x, "QRESYNC") == 0)
			flag = &s->qresync;
		else if (strcasecmp(x, "UTF8=ACCEPT") == 0)
			flag = &s->utf8;
		else if (strcasecmp(x, "IMAP4rev2") == 0)
			flag = &s->rev2;
		if (flag == NULL || *flag)
			continue;
		*flag = true;
		if (flag == &s->qresync)
			s->condstore = true;
		o += (size_t)snprintf(en + o, sizeof(en) - o, " %s", x);
		if (o >= sizeof(en))
			break;
	}
	if (cmd->nargs == 0) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	imap_out(s, "* ENABLED%s\r\n", en);
	imap_tagged(s, cmd->tag, "OK Enabled.");
}

static void
cmd_id(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 1 || (cmd->args[0].type != IMAP_ARG_LIST &&
	    cmd->args[0].type != IMAP_ARG_NIL)) {
		imap_tagged(s, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	imap_out(s, "* ID (\"name\" \"estafeta\" \"vendor\" \"estafeta\")\r\n");
	imap_tagged(s, cmd->tag, "OK ID completed.");
}

/* Sync the selected folder with the files and report (NOOP, CHECK, IDLE). */
static void
poll_folder(struct imap_session *s)
{
	const char *err;
	if (s->mb == NULL)
		return;
	if (mailbox_sync(s->mb, false, &err) > 0)
		imap_box_changed(s->srv, s->mb, s);
	imap_view_update(s, true);
}

static void
cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (s->tls == NULL || secured(s)) {
		imap_tagged(s, cmd->tag, "BAD TLS is not available.");
		return;
	}
	imap_tagged(s, cmd->tag, "OK Begin TLS negotiation now.");
	s->fr = (struct imap_framer){ 0 };
	s->scan = 0;
	conn_starttls(s->c, s->tls);
}

/* Commands that take message sequence numbers: no EXPUNGE may be sent
 * while they run (RFC 9051 7.5.1), so not just before them either. */
static bool
uses_seqnums(const char *name)
{
	return strcmp(name, "FETCH") == 0 || strcmp(name, "STORE") == 0 ||
	    strcmp(name, "SEARCH") == 0 || strcmp(name, "COPY") == 0 ||
	    strcmp(name, "MOVE") == 0 || strcmp(name, "SORT") == 0 || strcmp(name, "THREAD") == 0;
}


static void
dispatch(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *n = cmd->name;
	bool uid = strncmp(n, "UID ", 4) == 0;
	const char *base = uid ? n + 4 : n;

	if (strcmp(n, "CAPABILITY") == 0) {
		char caps[1024];
		capability_list(s, caps, sizeof(caps));
		imap_out(s, "* CAPABILITY %s\r\n", caps);
		imap_tagged(s, cmd->tag, "OK Capability completed.");
		return;
	}
	if (strcmp(n, "NOOP") == 0) {
		poll_folder(s);
		imap_tagged(s, cmd->tag, "OK NOOP completed.");
		return;
	}
	if (strcmp(n, "LOGOUT") == 0) {
		imap_out(s, "* BYE Logging out\r\n");
		imap_tagged(s, cmd->tag, "OK Logout completed.");
		s->state = IS_LOGOUT;
		conn_close(s->c);
		return;
	}
	if (strcmp(n, "ID") == 0) {
		cmd_id(s, cmd);
		return;
	}
	if (s->state == IS_NOAUTH) {
		if (strcmp(n, "STARTTLS") == 0)
			cmd_starttls(s, cmd);
		else if (strcmp(n, "LOGIN") == 0)
			cmd_login(s, cmd);
		else if (strcmp(n, "AUTHENTICATE") == 0)
			cmd_authenticate(s, cmd);
		else {
			s->bad++;
			imap_tagged(s, cmd->tag, "BAD Command not allowed before login.");
		}
		return;
	}
	if (strcmp(n, "STARTTLS") == 0 || strcmp(n, "LOGIN") == 0 || strcmp(n, "AUTHENTICATE") == 0) {
		s->bad++;
		imap_tagged(s, cmd->tag, "BAD Already logged in.");
		return;
	}
	/* Changes seen by others since our last command. */
	if (s->state == IS_SELECTED && (s->notify_pending || s->n != s->mb->n ||
	    s->modseq_seen != s->mb->highestmodseq))
		imap_view_update(s, !uses_seqnums(n));

	if (strcmp(n, "SELECT") == 0 || strcmp(n, "EXAMINE") == 0)
		cmd_select(s, cmd, n[0] == 'E');
	else if (strcmp(n, "CREATE") == 0)
		cmd_create(s, cmd);
	else if (strcmp(n, "DELETE") == 0)
		cmd_delete(s, cmd);
	else if (strcmp(n, "RENAME") == 0)
		cmd_rename(s, cmd);
	else if (strcmp(n, "SUBSCRIBE") == 0 || strcmp(n, "UNSUBSCRIBE") == 0)
		cmd_subscribe(s, cmd, n[0] == 'S');
	else if (strcmp(n, "LIST") == 0 || strcmp(n, "LSUB") == 0)
		cmd_list(s, cmd, n[1] == 'S');
	else if (strcmp(n, "NAMESPACE") == 0) {
		imap_out(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
		imap_tagged(s, cmd->tag, "OK Namespace completed.");
	} else if (strcmp(n, "STATUS") == 0)
		cmd_status(s, cmd);
	else if (strcmp(n, "APPEND") == 0)
		cmd_append(s, cmd);
	else if (strcmp(n, "ENABLE") == 0)
		cmd_enable(s, cmd);
	else if (strcmp(n, "IDLE") == 0) {
		poll_folder(s);
		s->idling = true;
		strlcpy(s->itag, cmd->tag, sizeof(s->itag));
		imap_out(s, "+ idling\r\n");
	} else if (s->state != IS_SELECTED) {
		s->bad++;
		imap_tagged(s, cmd->tag, "BAD %s", strcmp(n, "CHECK") == 0 || strcmp(n, "CLOSE") == 0 ||
		    strcmp(n, "UNSELECT") == 0 || strcmp(n, "EXPUNGE") == 0 ||
		    strcmp(n, "SEARCH") == 0 || strcmp(n, "FETCH") == 0 || strcmp(n, "STORE") == 0 ||
		    strcmp(n, "COPY") == 0 || strcmp(n, "MOVE") == 0 || uid ?
		    "No mailbox selected." : "Unknown command.");
	} else if (strcmp(n, "CHECK") == 0) {
		poll_folder(s);
		imap_tagged(s, cmd->tag, "OK Check completed.");
	} else if (strcmp(n, "CLOSE") == 0 || strcmp(n, "UNSELECT") == 0) {
		close_folder(s, n[0] == 'C');
		imap_tagged(s, cmd->tag, "OK %s completed.", n[0] == 'C' ? "Close" : "Unselect");
	} else if (strcmp(base, "EXPUNGE") == 0)
		cmd_expunge(s, cmd, uid);
	else if (strcmp(base, "FETCH") == 0)
		imap_cmd_fetch(s, cmd, uid);
	else if (strcmp(base, "STORE") == 0)
		imap_cmd_store(s, cmd, uid);
	else if (strcmp(base, "COPY") == 0 || strcmp(base, "MOVE") == 0)
		cmd_copy(s, cmd, uid, base[0] == 'M');
	else if (strcmp(base, "SEARCH") == 0)
		imap_cmd_search(s, cmd, uid);
	else if (strcmp(base, "SORT") == 0 || strcmp(base, "THREAD") == 0)
		imap_cmd_sort(s, cmd, uid, base[0] == 'T');
	else {
		s->bad++;
		imap_tagged(s, cmd->tag, "BAD Unknown command.");
	}
}

static void
run_command(struct imap_session *s, const char *p, size_t len)
{
	const struct conf *cf = imap_server_conf(s->srv);
	struct imap_parse_limits pl = { .max_depth = 32, .max_args = s->state == IS_NOAUTH ? 64 :
	    100000 };
	struct imap_cmd cmd;
	const char *err;
	(void)cf;
	if (imap_parse(p, len, &pl, &cmd, &err) != 0) {
		s->bad++;
		imap_tagged(s, cmd.tag[0] ? cmd.tag : "*", "BAD Error in IMAP command: %s", err);
		return;
	}
	unsigned before = s->bad;
	dispatch(s, &cmd);
	if (s->bad == before)
		s->bad = 0;
	imap_cmd_free(&cmd);
}

/* IDLE's DONE and AUTHENTICATE's responses are plain lines. */
static bool
line_input(struct imap_session *s, const char *in, size_t len)
{
	const char *nl = memchr(in, '\n', len);
	if (nl == NULL) {
		if (len > PRELOGIN_LINE) {
			imap_out(s, "* BYE Line too long.\r\n");
			conn_close(s->c);
		}
		return false;
	}
	size_t l = (size_t)(nl - in);
	char *line = xstrndup(in, l && in[l - 1] == '\r' ? l - 1 : l);
	conn_consume(s->c, l + 1);
	if (s->idling) {
		s->idling = false;
		if (strcasecmp(line, "DONE") == 0) {
			poll_folder(s);
			imap_tagged(s, s->itag, "OK Idle completed.");
		} else
			imap_tagged(s, s->itag, "BAD Expected DONE.");
	} else
		auth_line(s, line, strlen(line));
	explicit_bzero(line, l);
	free(line);
	return true;
}

static void
session_input(struct conn *c, void *arg)
{
	struct imap_session *s = arg;
	const struct conf *cf = imap_server_conf(s->srv);
	if (s->relay != NULL) {
		relay_input(s->relay);
		return;
	}
	for (;;) {
		if (s->relay != NULL) {
			/* Commands pipelined after the login belong to the mail process. */
			relay_input(s->relay);
			return;
		}
		if (s->auth_wait || s->sync_wait || s->state == IS_LOGOUT ||
		    imap_server_stopping(s->srv))
			return;
		size_t len;
		const char *in = conn_input(c, &len);
		if (len == 0 || s->scan > len)
			return;
		if (s->idling || s->auth_exchange) {
			if (!line_input(s, in, len))
				return;
			continue;
		}
		bool pre = s->state == IS_NOAUTH;
		struct imap_frame_limits lim = {
			.max_line = pre ? PRELOGIN_LINE : MAX_LINE,
			.max_literal = pre ? PRELOGIN_LINE : (uint64_t)cf->message_size_limit,
			.max_nonsync = pre ? PRELOGIN_LINE : (uint64_t)cf->message_size_limit,
			.max_command = pre ? PRELOGIN_CMD : (size_t)cf->message_size_limit + MAX_LINE,
			.max_literals = pre ? 4 : 10000,
		};
		size_t used = 0, cmd_len = 0;
		uint64_t lit = 0;
		bool nonsync = false;
		enum imap_frame_ev ev = imap_frame(&s->fr, &lim, in + s->scan, len - s->scan, &used,
		    &cmd_len, &lit, &nonsync);
		char tag[IMAP_TAG_MAX + 1];
		switch (ev) {
		case IMAP_FRAME_MORE:
			s->scan += used;
			return;
		case IMAP_FRAME_CONTINUE:
			s->scan += used;
			imap_out(s, "+ OK\r\n");
			continue;
		case IMAP_FRAME_COMMAND:
			s->scan = 0;
			run_command(s, in, cmd_len);
			conn_consume(c, cmd_len);
			break;
		case IMAP_FRAME_TOO_LONG:
			imap_parse_tag(in, s->scan + used, tag);
			imap_tagged(s, tag, "BAD Command line too long.");
			conn_consume(c, s->scan + used);
			s->scan = 0;
			s->bad++;
			break;
		case IMAP_FRAME_LITERAL_TOO_BIG:
			imap_parse_tag(in, s->scan + used, tag);
			imap_tagged(s, tag, "BAD [TOOBIG] Literal too big.");
			conn_consume(c, s->scan + used);
			s->scan = 0;
			s->bad++;
			if (nonsync) {
				imap_out(s, "* BYE Literal too big.\r\n");
				conn_close(c);
				return;
			}
			break;
		case IMAP_FRAME_DROPPED:
			conn_consume(c, used);
			s->scan = 0;
			break;
		}
		if (s->bad >= MAX_BAD) {
			imap_out(s, "* BYE Too many invalid commands.\r\n");
			conn_close(c);
			return;
		}
	}
}
