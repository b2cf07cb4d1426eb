/* POP3 sessions (RFC 1939, CAPA RFC 2449, AUTH RFC 5034, STLS RFC 2595) on
 * the same store and shared folders as IMAP: INBOX only, UIDL as Dovecot's
 * default "%08Xu%08Xv" (the IMAP UID and UIDVALIDITY), DELE applied at
 * QUIT. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth/auth_client.h"
#include "auth/sasl.h"
#include "imap/imap_server.h"
#include "imap/imap_session.h"
#include "imap/pop3_session.h"
#include "imap/relay.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/util.h"

#define POP3_LINE_MAX	512	/* RFC 2449 4: 255 octets per argument, commands short */
#define POP3_TIMEOUT	600	/* RFC 1939 3: at least 10 minutes */
#define POP3_PRELOGIN_TIMEOUT 60
#define POP3_MAX_BAD	10

enum pstate { PS_AUTH, PS_TRANS, PS_DONE };

struct pop3_msg {
	uint32_t uid;
	uint64_t size;		/* with CRLF line ends, as sent */
	bool deleted;
};

struct pop3_session {
	struct imap_server *srv;
	struct pop3_session *next, *prev;
	struct conn *c;
	char sid[12];
	char addr[64];
	bool loopback;
	enum listen_kind kind;
	void *tls;
	enum pstate state;
	char user[256];		/* USER argument, then the login */
	unsigned bad;
	struct auth_request *areq;
	bool auth_wait, auth_exchange;
	struct mailbox *mb;
	struct pop3_msg *m;
	size_t n;
	struct pop3_session **list;	/* the server's list head */
	struct relay *relay;		/* handed off to the user's mail process */
	/* the next message, rendered once the last answer was written */
	char *pf_data;
	size_t pf_len;
	uint32_t pf_uid;
	long pf_next;
};

static void p3_input(struct conn *c, void *arg);
static void p3_tls_ready(struct conn *c, void *arg);
static void p3_timeout(struct conn *c, void *arg);
static void p3_closed(struct conn *c, void *arg, const char *why);
static void p3_drained(struct conn *c, void *arg);
static char *render(struct pop3_session *s, uint32_t uid, long lines, size_t *len_r);

static const struct conn_ops p3_ops = {
	.input = p3_input,
	.drained = p3_drained,
	.tls_ready = p3_tls_ready,
	.timeout = p3_timeout,
	.closed = p3_closed,
};

static void
out(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_write(s->c, "\r\n", 2);
}

static bool
plaintext_ok(const struct pop3_session *s)
{
	return conf_plaintext_allowed(imap_server_conf(s->srv), conn_is_tls(s->c), s->loopback);
}

static struct pop3_session *
p3_alloc(struct imap_server *srv, const char *addr, struct pop3_session **list)
{
	static unsigned seq;
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->list = list;
	s->pf_next = -1;
	strlcpy(s->addr, addr, sizeof(s->addr));
	snprintf(s->sid, sizeof(s->sid), "%08X", ++seq ^ ((unsigned)getpid() << 20) ^ 0x80000u);
	s->next = *list;
	if (*list)
		(*list)->prev = s;
	*list = s;
	return s;
}

static void logged_in(struct pop3_session *s, const char *user, const char *path);

struct pop3_session *
pop3_session_adopt(struct imap_server *srv, struct event_base *eb, int fd, const char *addr,
    const char *user, const char *maildir, struct pop3_session **list)
{
	struct pop3_session *s = p3_alloc(srv, addr, list);
	s->kind = LISTEN_POP3;
	s->c = conn_new(eb, fd, &p3_ops, s, POP3_LINE_MAX * 4, NULL);
	logged_in(s, user, maildir);
	if (s->state != PS_TRANS)
		conn_close(s->c);
	conn_kick(s->c);
	return s;
}

struct pop3_session *
pop3_session_new(struct imap_server *srv, struct event_base *eb, int fd, const char *addr,
    bool loopback, enum listen_kind kind, void *tls, struct pop3_session **list)
{
	struct pop3_session *s = p3_alloc(srv, addr, list);
	s->kind = kind;
	s->loopback = loopback;
	if (tls != NULL && SSL_CTX_up_ref(tls) == 1)
		s->tls = tls;
	s->c = conn_new(eb, fd, &p3_ops, s, POP3_LINE_MAX * 4, kind == LISTEN_POP3S ? s->tls : NULL);
	log_info("sid=%s pop3 connect from %s", s->sid, s->addr);
	conn_set_timeout(s->c, POP3_PRELOGIN_TIMEOUT);
	if (kind != LISTEN_POP3S)
		out(s, "+OK %s POP3 ready.", imap_server_conf(srv)->hostname);
	conn_kick(s->c);
	return s;
}

static void
p3_tls_ready(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;
	char d[128];
	log_info("sid=%s TLS: %s", s->sid, conn_tls_desc(c, d, sizeof(d)));
	if (s->kind == LISTEN_POP3S)
		out(s, "+OK %s POP3 ready.", imap_server_conf(s->srv)->hostname);
}

static void
p3_timeout(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;
	out(s, "-ERR Disconnected for inactivity.");
	conn_close(c);
}

static void
p3_drained(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;
	(void)c;
	if (s->relay != NULL) {
		relay_drained(s->relay);
		return;
	}
	if (s->pf_next >= 0 && (size_t)s->pf_next < s->n && s->state == PS_TRANS) {
		free(s->pf_data);
		s->pf_uid = s->m[s->pf_next].uid;
		s->pf_data = render(s, s->pf_uid, -1, &s->pf_len);
		s->pf_next = -1;
	}
}

static void
p3_closed(struct conn *c, void *arg, const char *why)
{
	struct pop3_session *s = arg;
	(void)c;
	relay_free(&s->relay);
	free(s->pf_data);
	log_info("sid=%s pop3 disconnect from %s user=%s: %s", s->sid, s->addr,
	    s->state == PS_AUTH ? "-" : s->user, why);
	if (s->areq != NULL)
		auth_client_cancel(s->areq);
	if (s->mb != NULL)
		imap_box_close(s->srv, &s->mb);
	free(s->m);
	SSL_CTX_free(s->tls);
	if (s->prev)
		s->prev->next = s->next;
	else
		*s->list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

void
pop3_session_shutdown(struct pop3_session *s)
{
	out(s, "-ERR Server shutting down.");
	conn_close(s->c);
}

struct pop3_session *
pop3_session_next(const struct pop3_session *s)
{
	return s->next;
}

void
pop3_session_destroy(struct pop3_session *s)
{
	conn_abort(s->c, "server stopped");
}

/* ---- login ---- */

/* The login succeeded: the mail store here, or the user's mail process. */
static void
login_done(struct pop3_session *s, const char *user)
{
	char path[4096];
	int r = imap_server_user_maildir(s->srv, user, path, sizeof(path));
	if (r == 0) {
		struct imap_handoff h = { .user = user, .proto = "pop3", .tag = "", .addr = s->addr,
			.ticket = auth_client_ticket(imap_server_auth(s->srv)) };
		int fd = imap_server_handoff(s->srv, &h);
		if (fd >= 0) {
			log_info("sid=%s pop3 login user=%s from %s: handed to the user's mail process",
			    s->sid, user, s->addr);
			strlcpy(s->user, user, sizeof(s->user));
			s->state = PS_TRANS;
			conn_set_timeout(s->c, 0);
			s->relay = relay_new(imap_server_eb(s->srv), s->c, fd);
			return;
		}
	}
	if (r <= 0) {
		log_warn("sid=%s user=%s: %s", s->sid, user,
		    r == 0 ? "no mail store this process can open" : "user lookup failed");
		out(s, "-ERR [SYS/TEMP] Mailbox is not available.");
		return;
	}
	logged_in(s, user, path);
}

static void
logged_in(struct pop3_session *s, const char *user, const char *path)
{
	const char *err;
	char *inbox = mailstore_inbox(path);
	s->mb = imap_box_open(s->srv, inbox, true, &err);
	free(inbox);
	if (s->mb == NULL) {
		log_warn("sid=%s user=%s: %s: %s", s->sid, user, path, err);
		out(s, "-ERR [SYS/TEMP] Mailbox is not available.");
		return;
	}
	if (mailbox_sync(s->mb, false, &err) > 0)
		imap_box_changed(s->srv, s->mb, NULL);
	/* The maildrop as it is now: later deliveries wait for the next session. */
	s->n = 0;
	while (s->n < s->mb->n && mailbox_visible(s->mb, s->mb->m[s->n].uid))
		s->n++;
	s->m = xcalloc(s->n ? s->n : 1, sizeof(*s->m));
	uint64_t total = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->mb->m[i].vsize < 0)
			mailbox_stat(s->mb, i);
		s->m[i].uid = s->mb->m[i].uid;
		s->m[i].size = s->mb->m[i].vsize < 0 ? 0 : (uint64_t)s->mb->m[i].vsize;
		total += s->m[i].size;
	}
	strlcpy(s->user, user, sizeof(s->user));
	s->state = PS_TRANS;
	conn_set_timeout(s->c, POP3_TIMEOUT);
	log_info("sid=%s pop3 login user=%s from %s", s->sid, user, s->addr);
	out(s, "+OK Logged in, %zu messages (%" PRIu64 " octets).", s->n, total);
}

static void
auth_reply(void *ctx, enum auth_status st, const char *data, const char *user)
{
	struct pop3_session *s = ctx;
	bool was_wait = s->auth_wait;
	s->auth_wait = false;
	if (st == AUTH_CONTINUE) {
		s->auth_exchange = true;
		out(s, "+ %s", data ? data : "");
	} else {
		s->areq = NULL;
		s->auth_exchange = false;
		if (st == AUTH_OK)
			login_done(s, user);
		else if (st == AUTH_FAIL)
			out(s, "-ERR [AUTH] Authentication failed.");
		else
			out(s, "-ERR [SYS/TEMP] Temporary authentication failure.");
	}
	if (was_wait)
		conn_pause(s->c, false);
	conn_kick(s->c);
}

static void
auth_start(struct pop3_session *s, const char *mech, const char *resp)
{
	s->auth_wait = true;
	conn_pause(s->c, true);
	s->areq = auth_client_start(imap_server_auth(s->srv), mech, "pop3", "", s->addr,
	    plaintext_ok(s), resp, auth_reply, s);
}

static void
cmd_pass(struct pop3_session *s, const char *pw)
{
	if (s->user[0] == '\0') {
		out(s, "-ERR No username given.");
		return;
	}
	size_t ul = strlen(s->user), pl = strlen(pw);
	char raw[1300], b64[1800];
	if (ul + pl + 2 > sizeof(raw)) {
		out(s, "-ERR [AUTH] Authentication failed.");
		return;
	}
	raw[0] = '\0';
	memcpy(raw + 1, s->user, ul + 1);
	memcpy(raw + 2 + ul, pw, pl);
	size_t r = b64_encode(raw, 2 + ul + pl, b64, sizeof(b64));
	explicit_bzero(raw, sizeof(raw));
	if (r == (size_t)-1) {
		out(s, "-ERR [AUTH] Authentication failed.");
		return;
	}
	auth_start(s, "PLAIN", b64);
	explicit_bzero(b64, sizeof(b64));
}

static void
capa(struct pop3_session *s)
{
	out(s, "+OK Capability list follows");
	out(s, "TOP");
	out(s, "UIDL");
	out(s, "RESP-CODES");
	out(s, "PIPELINING");
	out(s, "AUTH-RESP-CODE");
	if (s->state == PS_AUTH) {
		if (plaintext_ok(s))
			out(s, "USER");
		char mechs[256];
		struct auth_client *ac = imap_server_auth(s->srv);
		if (ac != NULL && auth_client_mechs(ac, plaintext_ok(s), mechs, sizeof(mechs))[0])
			out(s, "SASL %s", mechs);
		if (s->tls != NULL && !conn_is_tls(s->c))
			out(s, "STLS");
	}
	out(s, "IMPLEMENTATION estafeta");
	out(s, ".");
}

/* ---- transaction ---- */

/* "n" naming a message that exists and is not deleted; else an error
 * was sent and NULL returned. */
static struct pop3_msg *
msg_arg(struct pop3_session *s, const char *a)
{
	char *e;
	unsigned long n = a ? strtoul(a, &e, 10) : 0;
	if (a == NULL || *a < '1' || *a > '9' || *e != '\0' || n > s->n) {
		out(s, "-ERR There's no message %s.", a ? a : "");
		return NULL;
	}
	if (s->m[n - 1].deleted) {
		out(s, "-ERR Message is deleted.");
		return NULL;
	}
	return &s->m[n - 1];
}

/* The message (or its header and `lines` body lines, lines >= 0) as sent:
 * CRLF line ends, dot-stuffed, with the final ".". NULL when it is gone. */
static char *
render(struct pop3_session *s, uint32_t uid, long lines, size_t *len_r)
{
	const char *err;
	long mi = mailbox_find(s->mb, uid);
	size_t len;
	char *d = mi < 0 ? NULL : mailbox_read(s->mb, (size_t)mi, &len, &err);
	if (d == NULL)
		return NULL;
	size_t cap = len + len / 16 + 64, o = 0;
	char *buf = xmalloc(cap);
	bool bol = true, in_body = false;
	long left = lines;
	/* A line at a time: memchr and memcpy do the bytes. */
	for (size_t i = 0; i < len;) {
		if (in_body && lines >= 0 && left-- <= 0)
			break;
		const char *nl = memchr(d + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - d) : len, seg = end - i;
		if (o + seg + 8 > cap) {
			cap = (o + seg + 8) * 2;
			buf = xrealloc(buf, cap);
		}
		if (d[i] == '.')
			buf[o++] = '.';
		if (!in_body && nl != NULL && (seg == 0 || (seg == 1 && d[i] == '\r')))
			in_body = true;
		memcpy(buf + o, d + i, seg);
		o += seg;
		bol = nl != NULL;
		if (nl == NULL)
			break;
		if (seg == 0 || d[end - 1] != '\r')
			buf[o++] = '\r';
		buf[o++] = '\n';
		i = end + 1;
	}
	if (o + 8 > cap)
		buf = xrealloc(buf, cap = o + 8);
	if (!bol) {
		buf[o++] = '\r';
		buf[o++] = '\n';
	}
	memcpy(buf + o, ".\r\n", 3);
	o += 3;
	free(d);
	*len_r = o;
	return buf;
}

/* RETR / TOP. A whole message comes from the prefetch when it is the one
 * read while the client was busy with the previous answer; afterwards the
 * next message is read the same way (POP3 clients download in order). */
static void
send_msg(struct pop3_session *s, struct pop3_msg *pm, long lines)
{
	size_t len;
	char *buf;
	if (lines < 0 && s->pf_data != NULL && s->pf_uid == pm->uid) {
		buf = s->pf_data;
		len = s->pf_len;
		s->pf_data = NULL;
	} else
		buf = render(s, pm->uid, lines, &len);
	if (buf == NULL) {
		out(s, "-ERR Message was removed.");
		return;
	}
	out(s, "+OK %" PRIu64 " octets", pm->size);
	conn_write(s->c, buf, len);
	free(buf);
	if (lines < 0) {
		s->pf_next = -1;
		for (size_t i = (size_t)(pm - s->m) + 1; i < s->n; i++)
			if (!s->m[i].deleted) {
				s->pf_next = (long)i;
				break;
			}
		if (s->pf_next >= 0)
			conn_want_drain(s->c, 0);
	}
}

static void
cmd_quit(struct pop3_session *s)
{
	const char *err;
	size_t del = 0, fail = 0;
	if (s->state == PS_TRANS) {
		for (size_t i = 0; i < s->n; i++) {
			if (!s->m[i].deleted)
				continue;
			long mi = mailbox_find(s->mb, s->m[i].uid);
			if (mi >= 0 && mailbox_expunge(s->mb, (size_t)mi, &err) != 0)
				fail++;
			else
				del++;
		}
		if (del > 0 && mailbox_commit(s->mb, &err) != 0) {
			log_warn("sid=%s %s", s->sid, err);
			fail = del;
		}
		if (del > 0)
			imap_box_changed(s->srv, s->mb, NULL);
	}
	s->state = PS_DONE;
	if (fail > 0)
		out(s, "-ERR [SYS/TEMP] Some deleted messages were not removed.");
	else
		out(s, "+OK Logging out%s.", del ? ", messages deleted" : "");
	conn_close(s->c);
}

static void
command(struct pop3_session *s, char *line)
{
	if (s->state == PS_AUTH && strncasecmp(line, "PASS ", 5) == 0) {
		/* The password is the rest of the line (it may hold spaces). */
		if (!plaintext_ok(s))
			out(s, "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
			    "(SSL/TLS) connections.");
		else
			cmd_pass(s, line + 5);
		return;
	}
	char *args[3] = { NULL, NULL, NULL };
	size_t na = 0;
	for (char *p = strtok(line, " "); p && na < 3; p = strtok(NULL, " "))
		args[na++] = p;
	const char *cmd = args[0] ? args[0] : "";
	unsigned bad_before = s->bad;

	if (strcasecmp(cmd, "CAPA") == 0)
		capa(s);
	else if (strcasecmp(cmd, "QUIT") == 0)
		cmd_quit(s);
	else if (strcasecmp(cmd, "NOOP") == 0 && s->state == PS_TRANS)
		out(s, "+OK");
	else if (s->state == PS_AUTH) {
		if (strcasecmp(cmd, "STLS") == 0) {
			if (s->tls == NULL || conn_is_tls(s->c)) {
				out(s, "-ERR TLS is not available.");
				return;
			}
			out(s, "+OK Begin TLS negotiation now.");
			conn_starttls(s->c, s->tls);
		} else if (strcasecmp(cmd, "USER") == 0 && na == 2) {
			if (!plaintext_ok(s)) {
				out(s, "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
				    "(SSL/TLS) connections.");
				return;
			}
			strlcpy(s->user, args[1], sizeof(s->user));
			out(s, "+OK");
		} else if (strcasecmp(cmd, "AUTH") == 0 && na == 1) {
			capa(s);
		} else if (strcasecmp(cmd, "AUTH") == 0) {
			struct auth_client *ac = imap_server_auth(s->srv);
			bool plain;
			if (ac == NULL || !auth_client_has_mech(ac, args[1], &plain)) {
				out(s, "-ERR Unsupported authentication mechanism.");
				return;
			}
			if (plain && !plaintext_ok(s)) {
				out(s, "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
				    "(SSL/TLS) connections.");
				return;
			}
			const char *ir = na == 3 ? (strcmp(args[2], "=") == 0 ? "" : args[2]) : NULL;
			auth_start(s, args[1], ir);
		} else {
			s->bad++;
			out(s, "-ERR Unknown command or not allowed before login.");
		}
	} else if (strcasecmp(cmd, "STAT") == 0 && na == 1) {
		size_t n = 0;
		uint64_t t = 0;
		for (size_t i = 0; i < s->n; i++)
			if (!s->m[i].deleted) {
				n++;
				t += s->m[i].size;
			}
		out(s, "+OK %zu %" PRIu64, n, t);
	} else if ((strcasecmp(cmd, "LIST") == 0 || strcasecmp(cmd, "UIDL") == 0) && na <= 2) {
		bool uidl = cmd[0] == 'U' || cmd[0] == 'u';
		if (na == 2) {
			struct pop3_msg *pm = msg_arg(s, args[1]);
			if (pm == NULL)
				return;
			if (uidl)
				out(s, "+OK %s %08X%08X", args[1], pm->uid, s->mb->uidvalidity);
			else
				out(s, "+OK %s %" PRIu64, args[1], pm->size);
			return;
		}
		out(s, "+OK");
		for (size_t i = 0; i < s->n; i++) {
			if (s->m[i].deleted)
				continue;
			if (uidl)
				conn_printf(s->c, "%zu %08X%08X\r\n", i + 1, s->m[i].uid, s->mb->uidvalidity);
			else
				conn_printf(s->c, "%zu %" PRIu64 "\r\n", i + 1, s->m[i].size);
		}
		out(s, ".");
	} else if (strcasecmp(cmd, "RETR") == 0 && na == 2) {
		struct pop3_msg *pm = msg_arg(s, args[1]);
		if (pm != NULL)
			send_msg(s, pm, -1);
	} else if (strcasecmp(cmd, "TOP") == 0 && na == 3) {
		char *e;
		long k = strtol(args[2], &e, 10);
		if (*e != '\0' || k < 0 || args[2][0] == '\0') {
			out(s, "-ERR Invalid number of lines.");
			return;
		}
		struct pop3_msg *pm = msg_arg(s, args[1]);
		if (pm != NULL)
			send_msg(s, pm, k);
	} else if (strcasecmp(cmd, "DELE") == 0 && na == 2) {
		struct pop3_msg *pm = msg_arg(s, args[1]);
		if (pm != NULL) {
			pm->deleted = true;
			out(s, "+OK Marked to be deleted.");
		}
	} else if (strcasecmp(cmd, "RSET") == 0 && na == 1) {
		for (size_t i = 0; i < s->n; i++)
			s->m[i].deleted = false;
		out(s, "+OK");
	} else {
		s->bad++;
		out(s, "-ERR Unknown command or wrong arguments.");
	}
	if (s->bad == bad_before)
		s->bad = 0;
}

static void
p3_input(struct conn *c, void *arg)
{
	struct pop3_session *s = arg;
	for (;;) {
		if (s->relay != NULL) {
			relay_input(s->relay);
			return;
		}
		if (s->auth_wait || s->state == PS_DONE || imap_server_stopping(s->srv))
			return;
		size_t len;
		const char *in = conn_input(c, &len);
		const char *nl = memchr(in, '\n', len);
		if (nl == NULL) {
			if (len > POP3_LINE_MAX) {
				out(s, "-ERR Line too long.");
				conn_close(c);
			}
			return;
		}
		size_t l = (size_t)(nl - in);
		char *line = xstrndup(in, l && in[l - 1] == '\r' ? l - 1 : l);
		conn_consume(c, l + 1);
		if (strlen(line) != (l && in[l - 1] == '\r' ? l - 1 : l) || l > POP3_LINE_MAX) {
			s->bad++;
			out(s, "-ERR Invalid command line.");
		} else if (s->auth_exchange) {
			if (strcmp(line, "*") == 0) {
				auth_client_cancel(s->areq);
				s->areq = NULL;
				s->auth_exchange = false;
				out(s, "-ERR Authentication aborted.");
			} else {
				s->auth_wait = true;
				conn_pause(c, true);
				auth_client_continue(s->areq, line);
			}
		} else
			command(s, line);
		explicit_bzero(line, strlen(line));
		free(line);
		if (s->bad >= POP3_MAX_BAD) {
			out(s, "-ERR Too many bad commands.");
			conn_close(c);
			return;
		}
	}
}
