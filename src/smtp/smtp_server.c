#include "smtp/smtp_server.h"

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
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth/auth_client.h"
#include "auth/sasl.h"
#include "lib/listener.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/hdr.h"
#include "smtp/smtp_cmd.h"
#include "smtp/smtp_data.h"

#define IBUF_SIZE	(64 * 1024)
#define CMD_MAX		510	/* RFC 5321 4.5.3.1.4: 512 with CRLF */
#define CMD_MAX_EXT	1510	/* MAIL/RCPT may grow by their ESMTP parameters (RFC 3461 4) */
#define HDRBUF_MAX	(256 * 1024)	/* header block kept in memory for fixups */
#define OUT_HIGH	(256 * 1024)	/* stop reading while this much output waits */

enum sstate { S_GREET, S_HELO, S_MAIL, S_RCPT, S_DATA, S_BDAT };

struct smtp_server;

struct session {
	struct smtp_server *srv;
	struct session *next, *prev;
	int fd;
	char sid[12];
	struct smtp_peer peer;
	struct event *ev_read, *ev_write, *ev_timer;
	enum sstate state;
	bool esmtp, discard_line, closing, paused, dead, reading;
	SSL *ssl;		/* after STARTTLS */
	SSL_CTX *tls;		/* the listener's context when the session began (a reference) */
	bool tls_pending;	/* 220 for STARTTLS queued: start TLS once it is written */
	bool handshaking;
	bool implicit_tls;	/* submissions: the banner waits for the handshake */
	enum listen_kind kind;
	unsigned errors;
	/* AUTH (RFC 4954) */
	struct auth_request *auth_req;	/* exchange in progress: lines go to it */
	bool auth_wait;			/* waiting for the auth service */
	bool auth_final;		/* 334 with success data sent: next line gets 235 */
	char auth_mech[32];
	unsigned auth_failures;
	char helo[256];

	char *ibuf;
	size_t ilen, ipos;
	char *obuf;
	size_t olen, ocap, opos;

	/* transaction */
	struct qenv env;
	bool have_mail, smtputf8, size_exceeded, bdat_bad;
	unsigned rcpt_rejected;
	struct qfile *qf;
	struct smtp_data data;
	struct hdr_scan hs;
	char *hdrbuf;
	size_t hdrlen;
	bool hdr_done;
	uint64_t bdat_left;
	bool bdat_last, chunk_active;
	uint64_t declared_size;
	uint64_t msg_size;	/* stored size, for the log line after the commit */

	/* counters for the disconnect line */
	unsigned n_cmds, n_mail, n_rcpt, n_data, n_bdat, n_quit, n_rset, n_msgs;
};


struct smtp_server {
	struct event_base *eb;
	const struct conf *conf;
	struct queue *q;
	struct smtp_server_ops ops;
	struct listener *listeners;
	struct session *sessions;
	unsigned nsessions;
	char *scratch;		/* DATA scanner output */
	bool stopping;		/* no new commands: answer what is in flight, then close */
	bool tls_required;	/* MAIL needs TLS first (smtpd_tls_security_level encrypt) */
	struct auth_client *auth;	/* NULL: AUTH not offered */
	unsigned long long avail, avail_at;	/* spool free bytes, and when sampled (ms) */
};

static void session_process(struct session *s);
static void session_close(struct session *s);
static void session_flush(struct session *s);

/* ---- output ---- */

static void
out_raw(struct session *s, const char *p, size_t n)
{
	if (s->olen + n > s->ocap) {
		s->ocap = (s->olen + n) * 2;
		s->obuf = xrealloc(s->obuf, s->ocap);
	}
	memcpy(s->obuf + s->olen, p, n);
	s->olen += n;
}

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	out_raw(s, line, (size_t)n);
	if (line[0] == '4' || line[0] == '5')
		s->errors++;
}

/* ---- transaction ---- */

static void
txn_reset(struct session *s)
{
	if (s->qf != NULL) {
		queue_file_abort(s->qf);
		s->qf = NULL;
	}
	qenv_free(&s->env);
	s->env.submit_uid = -1;
	s->have_mail = s->smtputf8 = s->size_exceeded = s->bdat_bad = false;
	s->rcpt_rejected = 0;
	free(s->hdrbuf);
	s->hdrbuf = NULL;
	s->hdrlen = 0;
	s->hdr_done = false;
	s->bdat_left = 0;
	s->bdat_last = false;
	s->chunk_active = false;
	s->declared_size = 0;
	if (s->state > S_HELO)
		s->state = S_HELO;
}

static void
rfc822_date(char *buf, size_t sz, time_t t)
{
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, sz, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

static void
peer_describe(const struct session *s, char *buf, size_t sz)
{
	int n;
	if (s->peer.local)
		n = snprintf(buf, sz, "local uid=%ld", s->peer.uid);
	else
		n = snprintf(buf, sz, "[%s]", s->peer.addr);
	if (n < 0)
		buf[0] = '\0';
}

/* Write body bytes: the header block is held back until it ends, so that
 * missing Message-ID/Date/From can be added for trusted clients. */
static void
body_put(struct session *s, const char *p, size_t n)
{
	struct smtp_server *srv = s->srv;
	uint64_t limit = (uint64_t)srv->conf->message_size_limit;

	if (s->size_exceeded || s->qf == NULL)
		return;
	if (queue_file_size(s->qf) + s->hdrlen + n > limit) {
		s->size_exceeded = true;	/* keep reading, store nothing more */
		return;
	}
	if (s->hdr_done) {
		queue_file_write(s->qf, p, n);
		return;
	}
	if (s->hdrlen + n > HDRBUF_MAX) {
		/* Giant header block: stop holding it back, no fixups. */
		queue_file_write(s->qf, s->hdrbuf, s->hdrlen);
		queue_file_write(s->qf, p, n);
		s->hdr_done = true;
		s->hdrlen = 0;
		return;
	}
	s->hdrbuf = xrealloc(s->hdrbuf, s->hdrlen + n + 1);
	memcpy(s->hdrbuf + s->hdrlen, p, n);
	s->hdrlen += n;
	hdr_scan_feed(&s->hs, p, n);
	if (s->hs.in_body) {
		s->hdr_done = true;
		size_t hb = s->hs.header_bytes;
		if (hb > s->hdrlen)
			hb = s->hdrlen;
		/* Insert before the empty line that ends the header block, if any. */
		size_t at = hb;
		if (hb > 0 && s->hdrbuf[hb - 1] == '\n' && (hb == 1 || s->hdrbuf[hb - 2] == '\n'))
			at = hb - 1;
		char fix[1024];
		size_t fl = 0;
		fix[0] = '\0';
		if (s->peer.trusted || s->peer.auth_user[0]) {
			char date[64];
			unsigned have = s->hs.have;
			if (!(have & HDR_HAVE_MESSAGE_ID)) {
				struct tm tm;
				time_t now = time(NULL);
				gmtime_r(&now, &tm);
				char ts[32];
				strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
				fl += (size_t)snprintf(fix + fl, sizeof(fix) - fl, "Message-ID: <%s.%s@%s>\n", ts,
				    s->env.id, srv->conf->hostname);
			}
			if (!(have & HDR_HAVE_DATE)) {
				rfc822_date(date, sizeof(date), time(NULL));
				fl += (size_t)snprintf(fix + fl, sizeof(fix) - fl, "Date: %s\n", date);
			}
			if (!(have & HDR_HAVE_FROM) && fl < sizeof(fix))
				fl += (size_t)snprintf(fix + fl, sizeof(fix) - fl, "From: %s\n",
				    s->env.sender[0] ? s->env.sender : "MAILER-DAEMON");
			if (fl >= sizeof(fix))
				fl = sizeof(fix) - 1;
		}
		queue_file_write(s->qf, s->hdrbuf, at);
		if (fl > 0)
			queue_file_write(s->qf, fix, fl);
		if (at == hb && fl > 0 && s->hdrlen > hb)
			queue_file_write(s->qf, "\n", 1);	/* body had no separating empty line */
		queue_file_write(s->qf, s->hdrbuf + at, s->hdrlen - at);
		free(s->hdrbuf);
		s->hdrbuf = NULL;
		s->hdrlen = 0;
	}
}

static bool
data_start(struct session *s, bool bdat)
{
	struct smtp_server *srv = s->srv;
	const char *err;
	char date[64], line[2048];

	s->env.arrival = time(NULL);
	s->env.client = xstrdup(s->peer.local ? "local" : s->peer.addr);
	s->env.helo = s->helo[0] ? xstrdup(s->helo) : NULL;
	s->env.smtputf8 = s->smtputf8;
	s->env.submit_uid = s->peer.local ? s->peer.uid : -1;
	s->qf = queue_file_create(srv->q, &s->env, &err);
	if (s->qf == NULL) {
		log_warn("sid=%s queue file create failed: %s", s->sid, err);
		return false;
	}

	smtp_data_init(&s->data, bdat ? SMTP_DATA_RAW : SMTP_DATA_DOT,
	    (size_t)srv->conf->line_length_limit);
	hdr_scan_init(&s->hs);
	s->hdr_done = false;
	s->hdrlen = 0;

	rfc822_date(date, sizeof(date), s->env.arrival);
	int n;
	if (s->peer.local)
		n = snprintf(line, sizeof(line), "Received: by %s (estafeta, from userid %ld)\n\tid %s; %s\n",
		    srv->conf->hostname, s->peer.uid, s->env.id, date);
	else {
		char helo[300];
		log_escape(helo, sizeof(helo), s->helo, strlen(s->helo));
		/* RFC 3848: S for TLS, A for an authenticated client. */
		char with[16];
		snprintf(with, sizeof(with), "%s%s%s", !s->esmtp ? "SMTP" : s->smtputf8 ? "UTF8SMTP" :
		    "ESMTP", s->ssl ? "S" : "", s->esmtp && s->peer.auth_user[0] ? "A" : "");
		char tlsinfo[160] = "";
		if (s->ssl != NULL)
			snprintf(tlsinfo, sizeof(tlsinfo), "\n\t(using %s with cipher %s)",
			    SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl));
		if (s->env.nrcpts == 1)
			n = snprintf(line, sizeof(line),
			    "Received: from %s ([%s])%s\n\tby %s (estafeta) with %s id %s\n\tfor <%s>; %s\n",
			    helo, s->peer.addr, tlsinfo, srv->conf->hostname, with, s->env.id,
			    s->env.rcpts[0].addr, date);
		else
			n = snprintf(line, sizeof(line),
			    "Received: from %s ([%s])%s\n\tby %s (estafeta) with %s id %s;\n\t%s\n",
			    helo, s->peer.addr, tlsinfo, srv->conf->hostname, with, s->env.id, date);
	}
	if (n > 0 && (size_t)n < sizeof(line))
		queue_file_write(s->qf, line, (size_t)n);
	char pd[96];
	peer_describe(s, pd, sizeof(pd));
	log_info("%s: client=%s%s%s", s->env.id, pd, s->helo[0] ? " helo=" : "",
	    s->helo[0] ? s->helo : "");
	return true;
}

static void
commit_done(void *arg, int result, const char *error)
{
	struct session *s = arg;
	struct smtp_server *srv = s->srv;

	if (result == 0) {
		uint64_t size = s->msg_size;
		log_info("%s: from=<%s> size=%" PRIu64 " nrcpt=%zu (queue active)", s->env.id,
		    s->env.sender, size, s->env.nrcpts);
		if (srv->ops.queued)
			srv->ops.queued(srv->ops.ctx, s->env.id);
		s->n_msgs++;
		if (!s->dead)
			reply(s, "250 2.0.0 Ok: queued as %s", s->env.id);
	} else {
		log_warn("%s: queue commit failed: %s", s->env.id, error ? error : "?");
		if (s->dead)
			(void)0;
		else if (result == ENOSPC || result == EDQUOT)
			reply(s, "452 4.3.1 Insufficient system storage");
		else
			reply(s, "451 4.3.0 Error: queue file write error");
	}
	txn_reset(s);
	s->paused = false;
	if (s->dead) {
		session_close(s);
		return;
	}
	struct timeval tv = { .tv_sec = srv->conf->smtpd_timeout };
	evtimer_add(s->ev_timer, &tv);
	session_process(s);
}

/* The message is complete (DATA end or BDAT LAST): decide and commit. */
static void
data_end(struct session *s)
{
	struct smtp_server *srv = s->srv;
	char tail[SMTP_DATA_SLACK];
	size_t tl = smtp_data_finish(&s->data, tail, sizeof(tail));
	if (tl > 0)
		body_put(s, tail, tl);
	if (!s->hdr_done && s->qf != NULL && !s->size_exceeded) {
		/* Message ended inside the header block: flush it (fixups appended). */
		s->hs.in_body = true;
		s->hs.header_bytes = s->hdrlen;
		body_put(s, "", 0);
	}
	s->state = S_HELO;
	const char *why = NULL;
	if (s->qf == NULL)
		why = "451 4.3.0 Error: queue file write error";
	else if (s->bdat_bad)
		why = "503 5.5.1 Error: BDAT sequence";
	else if (s->size_exceeded)
		why = "552 5.3.4 Error: message file too big";
	else if (s->data.long_lines > 0)
		why = "550 5.6.0 Error: message line too long (RFC 5322 limit is 998 characters)";
	else if (s->data.nul > 0)
		why = "550 5.6.0 Error: message contains NUL characters";
	else if (s->data.bare_lf > 0 && strcmp(srv->conf->bare_newline, "reject") == 0)
		why = "550 5.5.2 Error: bare <LF> received";
	if (why != NULL) {
		char pd[96];
		peer_describe(s, pd, sizeof(pd));
		log_info("sid=%s reject: %s from %s: %s; from=<%s>", s->sid,
		    s->data.mode == SMTP_DATA_RAW ? "BDAT" : "DATA", pd, why, s->env.sender);
		reply(s, "%s", why);
		txn_reset(s);
		return;
	}
	/* Pause input until the message is durable; commit_done resumes. */
	s->paused = true;
	struct qfile *qf = s->qf;
	s->qf = NULL;
	s->msg_size = queue_file_size(qf);
	queue_file_commit(qf, commit_done, s);
}

/* ---- AUTH (RFC 4954) ---- */

static bool
is_loopback(const struct session *s)
{
	const struct sockaddr_storage *ss = &s->peer.ss;
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* May the password travel on this connection? */
static bool
auth_secured(const struct session *s)
{
	return conf_plaintext_allowed(s->srv->conf, s->ssl != NULL, is_loopback(s));
}

static bool
auth_offered(const struct session *s)
{
	if (s->srv->auth == NULL || s->peer.local)
		return false;
	if (s->kind == LISTEN_SMTP && strcmp(s->srv->conf->smtpd_sasl_auth_enable, "yes") != 0)
		return false;
	/* Submission: TLS first, then AUTH (RFC 8314 and seed configs). */
	return !(s->kind == LISTEN_SUBMISSION && s->ssl == NULL && s->tls != NULL);
}

static const char *
auth_mechs(const struct session *s, char *buf, size_t sz)
{
	buf[0] = '\0';
	if (!auth_offered(s) || s->peer.auth_user[0])
		return buf;
	return auth_client_mechs(s->srv->auth, auth_secured(s), buf, (unsigned)sz);
}

static void
auth_end(struct session *s)
{
	s->auth_req = NULL;
	s->auth_wait = false;
	s->auth_final = false;
}

static void
auth_reply(void *ctx, enum auth_status st, const char *data, const char *user)
{
	struct session *s = ctx;
	const struct conf *cf = s->srv->conf;
	char pd[96], u[300];

	s->auth_wait = false;
	switch (st) {
	case AUTH_CONTINUE:
		reply(s, "334 %s", data);
		break;
	case AUTH_OK:
		s->auth_req = NULL;
		strlcpy(s->peer.auth_user, user && *user ? user : "?", sizeof(s->peer.auth_user));
		peer_describe(s, pd, sizeof(pd));
		log_info("sid=%s client=%s sasl_method=%s sasl_username=%s", s->sid, pd, s->auth_mech,
		    log_escape(u, sizeof(u), s->peer.auth_user, strlen(s->peer.auth_user)));
		if (data != NULL && *data) {
			/* Success data goes in a challenge (RFC 4954 4). */
			s->auth_final = true;
			reply(s, "334 %s", data);
		} else {
			reply(s, "235 2.7.0 Authentication successful");
			auth_end(s);
		}
		break;
	case AUTH_FAIL:
		auth_end(s);
		s->auth_failures++;
		reply(s, "535 5.7.8 Error: authentication failed");
		if (cf->auth_max_failures > 0 && s->auth_failures >= (unsigned)cf->auth_max_failures) {
			reply(s, "421 4.7.0 %s Error: too many failed authentications", cf->hostname);
			s->closing = true;
		}
		break;
	case AUTH_TEMPFAIL:
		auth_end(s);
		reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
	if (!s->dead)
		session_process(s);
}

static bool b64_plausible(const char *p);

/* A line of an exchange in progress (a response to 334). */
static void
auth_line(struct session *s, char *line, size_t len)
{
	if (s->auth_final) {
		auth_end(s);
		if (len == 0)
			reply(s, "235 2.7.0 Authentication successful");
		else {
			/* The client refused our proof: the login does not count. */
			s->peer.auth_user[0] = '\0';
			reply(s, "535 5.7.8 Error: authentication failed");
		}
		return;
	}
	if (len == 1 && line[0] == '*') {
		auth_client_cancel(s->auth_req);
		auth_end(s);
		reply(s, "501 5.7.0 Authentication aborted");
		return;
	}
	if (!b64_plausible(line)) {
		/* RFC 4954 4: a response that does not decode ends the exchange with 501. */
		auth_client_cancel(s->auth_req);
		auth_end(s);
		reply(s, "501 5.5.2 Cannot decode response");
		return;
	}
	s->auth_wait = true;
	auth_client_continue(s->auth_req, line);
}

static bool
b64_plausible(const char *p)
{
	size_t n = strlen(p);
	if (n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '+' || p[i] == '/' || p[i] == '='))
			return false;
	return true;
}

static void
cmd_auth(struct session *s, struct smtp_cmd *c)
{
	struct smtp_server *srv = s->srv;
	char mech[32], ip[64] = "";
	const char *arg = c->arg ? c->arg : "", *sp, *resp = NULL;
	bool plaintext = false;

	if (!auth_offered(s)) {
		if (s->kind == LISTEN_SUBMISSION && s->ssl == NULL && srv->auth != NULL && !s->peer.local)
			reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		else
			reply(s, "502 5.5.1 Error: AUTH is not offered (see EHLO)");
		return;
	}
	if (s->state == S_GREET || !s->esmtp) {
		reply(s, "503 5.5.1 Error: send EHLO first");
		return;
	}
	if (s->peer.auth_user[0]) {
		reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->have_mail) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	sp = strchr(arg, ' ');
	size_t ml = sp ? (size_t)(sp - arg) : strlen(arg);
	if (ml == 0 || ml >= sizeof(mech) || (sp && (sp[1] == '\0' || strchr(sp + 1, ' ')))) {
		reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	memcpy(mech, arg, ml);
	mech[ml] = '\0';
	for (char *p = mech; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 32;
	if (!auth_client_has_mech(srv->auth, mech, &plaintext)) {
		char known[128];
		/* No mechanism list: the auth service is (re)starting, not our "no". */
		if (auth_client_mechs(srv->auth, true, known, sizeof(known))[0] == '\0')
			reply(s, "454 4.7.0 Temporary authentication failure");
		else
			reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (plaintext && !auth_secured(s)) {
		reply(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		return;
	}
	if (sp != NULL) {
		resp = sp + 1;
		if (strcmp(resp, "=") == 0)
			resp = "";	/* an empty initial response (RFC 4954 4) */
		else if (!b64_plausible(resp)) {
			reply(s, "501 5.5.2 Cannot decode response");
			return;
		}
	}
	if (!s->peer.local)
		strlcpy(ip, s->peer.addr, sizeof(ip));
	strlcpy(s->auth_mech, mech, sizeof(s->auth_mech));
	s->auth_wait = true;
	s->auth_req = auth_client_start(srv->auth, mech, "smtp", "", ip, auth_secured(s), resp,
	    auth_reply, s);
}

/* reject_sender_login_mismatch: the sender must be the login's own address. */
static bool
sender_owned(const struct session *s, const struct mailaddr *a)
{
	const struct conf *cf = s->srv->conf;
	char local[ADDR_LOCAL_MAX + 1], login[256], *at;

	if (a->local[0] == '\0')
		return true;	/* <> */
	strlcpy(login, s->peer.auth_user, sizeof(login));
	str_lower(login);
	strlcpy(local, a->local, sizeof(local));
	str_lower(local);
	at = strchr(login, '@');
	if (at != NULL) {
		char full[600];
		snprintf(full, sizeof(full), "%s@%s", local, a->domain);
		str_lower(full);
		if (strcmp(full, login) == 0)
			return true;
		*at = '\0';
		if (strcasecmp(at + 1, a->domain) != 0)
			return false;
	} else if (a->literal || !conf_is_local_domain(cf, a->domain))
		return false;
	if (strcmp(local, login) == 0)
		return true;
	/* login+ext: the extension after recipient_delimiter is the user's too. */
	char *d = cf->recipient_delimiter[0] ? strpbrk(local + 1, cf->recipient_delimiter) : NULL;
	if (d == NULL)
		return false;
	*d = '\0';
	return strcmp(local, login) == 0;
}

/* ---- commands ---- */

static void
cmd_ehlo(struct session *s, struct smtp_cmd *c, bool esmtp)
{
	const struct conf *cf = s->srv->conf;
	txn_reset(s);
	strlcpy(s->helo, c->arg, sizeof(s->helo));
	s->esmtp = esmtp;
	s->state = S_HELO;
	if (!esmtp) {
		reply(s, "250 %s", cf->hostname);
		return;
	}
	reply(s, "250-%s", cf->hostname);
	reply(s, "250-PIPELINING");
	if (s->tls != NULL && s->ssl == NULL)
		reply(s, "250-STARTTLS");
	char mechs[128];
	if (auth_mechs(s, mechs, sizeof(mechs))[0] != '\0')
		reply(s, "250-AUTH %s", mechs);
	reply(s, "250-SIZE %lld", cf->message_size_limit);
	reply(s, "250-VRFY");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-8BITMIME");
	reply(s, "250-DSN");
	reply(s, "250-SMTPUTF8");
	reply(s, "250 CHUNKING");
}

/* Like Postfix: refuse early when the spool could not hold the message.
 * Free space is sampled at most once a second. */
static bool
spool_has_room(const struct session *s)
{
	struct smtp_server *srv = s->srv;
	const struct conf *cf = srv->conf;
	unsigned long long now = now_ms();
	if (srv->avail_at == 0 || now - srv->avail_at >= 1000) {
		struct statvfs sv;
		if (statvfs(cf->spool, &sv) < 0)
			return true;	/* the commit will tell */
		srv->avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
		srv->avail_at = now;
	}
	unsigned long long avail = srv->avail;
	unsigned long long need = s->declared_size > 0 ?
	    s->declared_size + (unsigned long long)cf->queue_minfree :
	    (unsigned long long)cf->queue_minfree;
	unsigned long long floor = (unsigned long long)cf->message_size_limit * 3 / 2;
	if (s->declared_size == 0 && need < floor)
		need = floor;
	return avail >= need;
}

static void
cmd_mail(struct session *s, struct smtp_cmd *c)
{
	const struct conf *cf = s->srv->conf;
	char addr[600];

	if (s->state == S_GREET) {
		reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->have_mail) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((s->srv->tls_required || s->kind == LISTEN_SUBMISSION) && s->tls != NULL &&
	    s->ssl == NULL && !s->peer.local) {
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->kind != LISTEN_SMTP && !s->peer.local && s->peer.auth_user[0] == '\0') {
		reply(s, "530 5.7.0 Authentication required");
		return;
	}
	bool utf8 = false;
	const char *body = NULL, *ret = NULL;
	char envid[128] = "";
	for (size_t i = 0; i < c->nparams; i++) {
		const struct smtp_param *p = &c->params[i];
		if (!s->esmtp) {
			reply(s, "555 5.5.4 Error: MAIL parameters need EHLO");
			return;
		}
		if (strcmp(p->key, "SIZE") == 0) {
			char *end;
			if (p->value == NULL || p->value[0] < '0' || p->value[0] > '9') {
				reply(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			errno = 0;
			unsigned long long v = strtoull(p->value, &end, 10);
			if (*end != '\0') {
				reply(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (errno == ERANGE || v > (unsigned long long)cf->message_size_limit) {
				reply(s, "552 5.3.4 Message size exceeds fixed limit");
				return;
			}
			s->declared_size = v;
		} else if (strcmp(p->key, "BODY") == 0) {
			if (p->value && (str_ieq(p->value, "7BIT") || str_ieq(p->value, "8BITMIME")))
				body = str_ieq(p->value, "7BIT") ? "7BIT" : "8BITMIME";
			else {
				reply(s, "501 5.5.4 Unsupported BODY parameter");
				return;
			}
		} else if (strcmp(p->key, "SMTPUTF8") == 0 && p->value == NULL) {
			utf8 = true;
		} else if (strcmp(p->key, "RET") == 0 && p->value &&
		    (str_ieq(p->value, "FULL") || str_ieq(p->value, "HDRS"))) {
			ret = str_ieq(p->value, "FULL") ? "FULL" : "HDRS";
		} else if (strcmp(p->key, "ENVID") == 0 && p->value) {
			if (strlen(p->value) > 100 || smtp_xtext_decode(p->value, envid, sizeof(envid)) < 0) {
				reply(s, "501 5.5.4 Bad ENVID parameter");
				return;
			}
		} else if (strcmp(p->key, "AUTH") == 0) {
			/* RFC 4954 5: accepted and ignored from unauthenticated clients */
		} else {
			reply(s, "555 5.5.4 Unsupported option: %s", p->key);
			return;
		}
	}
	if (c->addr.utf8 && !utf8) {
		reply(s, "553 5.6.7 Error: non-ASCII address needs SMTPUTF8");
		return;
	}
	if (addr_format(&c->addr, addr, sizeof(addr)) < 0) {
		reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (s->peer.auth_user[0] && strcmp(cf->reject_sender_login_mismatch, "yes") == 0 &&
	    !sender_owned(s, &c->addr)) {
		reply(s, "553 5.7.1 <%s>: Sender address rejected: not owned by the authenticated user",
		    addr);
		return;
	}
	if (!spool_has_room(s)) {
		reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->env.sender = xstrdup(addr);
	s->env.body_type = body ? xstrdup(body) : NULL;
	s->env.ret = ret ? xstrdup(ret) : NULL;
	s->env.envid = envid[0] ? xstrdup(envid) : NULL;
	s->smtputf8 = utf8;
	s->have_mail = true;
	s->state = S_MAIL;
	s->n_mail++;
	reply(s, "250 2.1.0 Ok");
}

static unsigned
parse_notify(const char *v, bool *ok)
{
	unsigned m = 0;
	char buf[64];
	*ok = false;
	if (v == NULL || strlen(v) >= sizeof(buf))
		return 0;
	strlcpy(buf, v, sizeof(buf));
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (str_ieq(t, "NEVER"))
			m |= NOTIFY_NEVER;
		else if (str_ieq(t, "SUCCESS"))
			m |= NOTIFY_SUCCESS;
		else if (str_ieq(t, "FAILURE"))
			m |= NOTIFY_FAILURE;
		else if (str_ieq(t, "DELAY"))
			m |= NOTIFY_DELAY;
		else
			return 0;
	}
	*ok = m != 0 && (!(m & NOTIFY_NEVER) || m == NOTIFY_NEVER);
	return m;
}

static void
cmd_rcpt(struct session *s, struct smtp_cmd *c)
{
	struct smtp_server *srv = s->srv;
	char addr[600], buf[700], pd[64];

	if (!s->have_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->env.nrcpts >= (size_t)srv->conf->recipient_limit) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	unsigned notify = 0;
	char orcpt[600] = "";
	bool have_orcpt = false;
	for (size_t i = 0; i < c->nparams; i++) {
		const struct smtp_param *p = &c->params[i];
		bool ok;
		if (!s->esmtp) {
			reply(s, "555 5.5.4 Error: RCPT parameters need EHLO");
			return;
		}
		if (strcmp(p->key, "NOTIFY") == 0) {
			notify = parse_notify(p->value, &ok);
			if (!ok) {
				reply(s, "501 5.5.4 Bad NOTIFY parameter");
				return;
			}
		} else if (strcmp(p->key, "ORCPT") == 0 && p->value) {
			const char *semi = strchr(p->value, ';');
			if (semi == NULL || semi == p->value || strlen(p->value) > 500 ||
			    smtp_xtext_decode(semi + 1, orcpt, sizeof(orcpt)) < 0) {
				reply(s, "501 5.5.4 Bad ORCPT parameter");
				return;
			}
			have_orcpt = true;
		} else {
			reply(s, "555 5.5.4 Unsupported option: %s", p->key);
			return;
		}
	}
	if (c->addr.utf8 && !s->smtputf8) {
		reply(s, "553 5.6.7 Error: non-ASCII address needs SMTPUTF8");
		return;
	}
	if (addr_format(&c->addr, addr, sizeof(addr)) < 0) {
		reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	const char *deny = srv->ops.check_rcpt(srv->ops.ctx, &s->peer, &c->addr, buf, sizeof(buf));
	if (deny != NULL) {
		peer_describe(s, pd, sizeof(pd));
		char esc[700];
		log_escape(esc, sizeof(esc), addr, strlen(addr));
		log_info("sid=%s reject: RCPT from %s: %s; from=<%s> to=<%s>", s->sid, pd, deny,
		    s->env.sender, esc);
		reply(s, "%s", deny);
		s->rcpt_rejected++;
		return;
	}
	/* The same recipient twice gets one copy, as with Postfix. */
	for (size_t i = 0; i < s->env.nrcpts; i++)
		if (strcasecmp(s->env.rcpts[i].addr, addr) == 0) {
			reply(s, "250 2.1.5 Ok");
			return;
		}
	struct qrcpt r = { .addr = xstrdup(addr), .notify = notify,
		.orcpt = have_orcpt ? xstrdup(orcpt) : NULL };
	s->env.rcpts = xreallocarray(s->env.rcpts, s->env.nrcpts + 1, sizeof(r));
	s->env.rcpts[s->env.nrcpts++] = r;
	s->state = S_RCPT;
	s->n_rcpt++;
	reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct session *s)
{
	if (!s->have_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->env.nrcpts == 0) {
		reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (!data_start(s, false)) {
		if (errno == ENOSPC || errno == EDQUOT)
			reply(s, "452 4.3.1 Insufficient system storage");
		else
			reply(s, "451 4.3.0 Error: queue file write error");
		txn_reset(s);
		return;
	}
	s->n_data++;
	s->state = S_DATA;
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
cmd_bdat(struct session *s, struct smtp_cmd *c)
{
	s->n_bdat++;
	s->chunk_active = true;
	s->bdat_left = c->bdat_size;
	s->bdat_last = c->bdat_last;
	if (s->state != S_BDAT) {
		/* First chunk: the transaction must be ready; otherwise the chunk is
		 * still read (and dropped) so that it is never taken for commands. */
		if (!s->have_mail || s->env.nrcpts == 0 || !s->esmtp) {
			s->bdat_bad = true;
		} else if (!data_start(s, true)) {
			s->bdat_bad = true;
		}
		s->state = S_BDAT;
		if (s->bdat_bad && s->qf != NULL) {
			queue_file_abort(s->qf);
			s->qf = NULL;
		}
	}
}

static void
bdat_chunk_end(struct session *s)
{
	s->chunk_active = false;
	if (s->bdat_bad) {
		/* Chunks after a bad start: refuse each; the transaction is over. */
		reply(s, "503 5.5.1 Error: need MAIL and RCPT before BDAT");
		s->state = S_HELO;
		txn_reset(s);
		return;
	}
	if (s->bdat_last) {
		data_end(s);
		return;
	}
	reply(s, "250 2.0.0 %" PRIu64 " octets received", s->data.in_bytes);
}

static void
cmd_dispatch(struct session *s, char *line, size_t len)
{
	struct smtp_cmd c;
	const char *err;
	unsigned flags = ADDR_F_UTF8;	/* utf8 addresses are checked against SMTPUTF8 per command */

	s->n_cmds++;
	if (smtp_cmd_parse(line, len, flags, &c, &err) < 0) {
		reply(s, "%s", err);
		/* A failed MAIL/RCPT keeps the transaction as it is (RFC 5321 4.1.4). */
		return;
	}
	if ((c.verb != SMTP_V_MAIL && c.verb != SMTP_V_RCPT && c.verb != SMTP_V_AUTH && len > CMD_MAX) ||
	    len > CMD_MAX_EXT) {
		reply(s, "500 5.5.2 Error: line too long");
		return;
	}
	if (s->state == S_BDAT && c.verb != SMTP_V_BDAT && c.verb != SMTP_V_RSET &&
	    c.verb != SMTP_V_QUIT && c.verb != SMTP_V_NOOP) {
		/* RFC 3030 3: only BDAT may follow BDAT; the transaction is void. */
		reply(s, "503 5.5.1 Error: BDAT transaction in progress");
		txn_reset(s);
		return;
	}
	switch (c.verb) {
	case SMTP_V_HELO:
		cmd_ehlo(s, &c, false);
		break;
	case SMTP_V_EHLO:
		cmd_ehlo(s, &c, true);
		break;
	case SMTP_V_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTP_V_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTP_V_DATA:
		cmd_data(s);
		break;
	case SMTP_V_BDAT:
		cmd_bdat(s, &c);
		break;
	case SMTP_V_RSET:
		s->n_rset++;
		txn_reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_V_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_V_QUIT:
		s->n_quit++;
		reply(s, "221 2.0.0 Bye");
		s->closing = true;
		break;
	case SMTP_V_VRFY:
		reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SMTP_V_EXPN:
		reply(s, "502 5.5.1 Error: EXPN is disabled");
		break;
	case SMTP_V_HELP:
		reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
		break;
	case SMTP_V_STARTTLS:
		if (s->tls == NULL || s->peer.local) {
			reply(s, "502 5.5.1 Error: STARTTLS is not offered (see EHLO)");
		} else if (s->ssl != NULL) {
			reply(s, "503 5.5.1 Error: TLS already active");
		} else if (c.arg != NULL && c.arg[0] != '\0') {
			reply(s, "501 5.5.4 Syntax: STARTTLS");
		} else {
			reply(s, "220 2.0.0 Ready to start TLS");
			/* Anything pipelined after STARTTLS was sent in clear text:
			 * drop it (CVE-2011-0411); TLS starts once the 220 is out. */
			s->ipos = s->ilen;
			s->tls_pending = true;
		}
		break;
	case SMTP_V_AUTH:
		cmd_auth(s, &c);
		break;
	default:
		reply(s, "500 5.5.1 Error: command not recognized");
		break;
	}
}

/* ---- input processing ---- */

static void
session_process(struct session *s)
{
	struct smtp_server *srv = s->srv;

	if (srv->stopping) {
		s->closing = true;
		session_flush(s);
		return;
	}

	while (!s->paused && !s->closing && !s->tls_pending && !s->auth_wait && !s->handshaking &&
	    s->ipos < s->ilen) {
		char *p = s->ibuf + s->ipos;
		size_t avail = s->ilen - s->ipos;

		if (s->state == S_DATA) {
			size_t outlen;
			size_t used = smtp_data_feed(&s->data, p, avail, srv->scratch,
			    IBUF_SIZE + SMTP_DATA_SLACK, &outlen);
			s->ipos += used;
			body_put(s, srv->scratch, outlen);
			if (s->data.done)
				data_end(s);
			continue;
		}
		if (s->chunk_active) {
			size_t n = avail < s->bdat_left ? avail : (size_t)s->bdat_left;
			if (!s->bdat_bad && s->qf != NULL) {
				size_t outlen;
				smtp_data_set_mode(&s->data, SMTP_DATA_RAW);
				smtp_data_feed(&s->data, p, n, srv->scratch, IBUF_SIZE + SMTP_DATA_SLACK,
				    &outlen);
				body_put(s, srv->scratch, outlen);
			}
			s->ipos += n;
			s->bdat_left -= n;
			if (s->bdat_left == 0)
				bdat_chunk_end(s);
			continue;
		}
		char *nl = memchr(p, '\n', avail);
		if (nl == NULL) {
			if (avail > CMD_MAX_EXT + 2 || s->discard_line) {
				/* Over-long command: drop it, answer once its end arrives. */
				s->discard_line = true;
				s->ipos = s->ilen;
			}
			break;
		}
		size_t len = (size_t)(nl - p);
		s->ipos += len + 1;
		if (s->discard_line) {
			s->discard_line = false;
			reply(s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (len > 0 && p[len - 1] == '\r')
			len--;
		p[len] = '\0';
		if (s->auth_req != NULL || s->auth_final)
			auth_line(s, p, len);
		else
			cmd_dispatch(s, p, len);
		if (s->errors >= (unsigned)srv->conf->max_errors && !s->closing) {
			reply(s, "421 4.7.0 %s Error: too many errors", srv->conf->hostname);
			s->closing = true;
		}
		/* After BDAT's command line, the chunk follows immediately; a zero-size
		 * chunk ends right here. */
		if (s->chunk_active && s->bdat_left == 0)
			bdat_chunk_end(s);
	}
	/* Compact the input buffer. */
	if (s->ipos == s->ilen) {
		s->ipos = s->ilen = 0;
	} else if (s->ipos > 0 && !s->paused) {
		memmove(s->ibuf, s->ibuf + s->ipos, s->ilen - s->ipos);
		s->ilen -= s->ipos;
		s->ipos = 0;
	}
	session_flush(s);
}

static void
update_read_interest(struct session *s)
{
	bool want = !s->paused && !s->closing && !s->dead && s->olen - s->opos < OUT_HIGH &&
	    s->ilen < IBUF_SIZE;
	if (want && !s->reading) {
		event_add(s->ev_read, NULL);
		s->reading = true;
	} else if (!want && s->reading) {
		event_del(s->ev_read);
		s->reading = false;
	}
}

/* Read or write through TLS when it is active: -1 with errno EAGAIN when
 * the TLS layer needs more I/O, -1 with another errno on failure, 0 at EOF. */
static ssize_t
sess_io(struct session *s, bool wr, void *buf, size_t len)
{
	if (s->ssl == NULL) {
		ssize_t n = wr ? write(s->fd, buf, len) : read(s->fd, buf, len);
		return n;
	}
	int n = wr ? SSL_write(s->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len)) :
	    SSL_read(s->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
	if (n > 0)
		return n;
	switch (SSL_get_error(s->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		errno = EIO;
		return -1;
	}
}

static void tls_step(struct session *s);

static void
tls_start(struct session *s)
{
	s->tls_pending = false;
	s->ipos = s->ilen = 0;	/* nothing read before the handshake counts */
	s->ssl = SSL_new(s->tls);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1) {
		log_warn("sid=%s cannot start TLS", s->sid);
		s->closing = true;
		return;
	}
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_accept_state(s->ssl);
	s->handshaking = true;
	/* The handshake runs from the event loop, where a failure may free the
	 * session: never from inside our callers. */
	update_read_interest(s);
	event_active(s->ev_read, EV_READ, 0);
}

static void
session_flush(struct session *s)
{
	while (s->opos < s->olen) {
		ssize_t n = sess_io(s, true, s->obuf + s->opos, s->olen - s->opos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				event_add(s->ev_write, NULL);
				update_read_interest(s);
				return;
			}
			s->closing = true;
			s->opos = s->olen;
			break;
		}
		s->opos += (size_t)n;
	}
	s->opos = s->olen = 0;
	if (s->closing && !s->paused) {
		session_close(s);
		return;
	}
	if (s->tls_pending) {
		tls_start(s);
		if (s->closing) {
			session_close(s);
			return;
		}
	}
	update_read_interest(s);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;
	if (s->handshaking) {
		tls_step(s);
		return;
	}
	session_flush(s);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)fd;
	(void)what;
	if (s->paused)
		return;
	char pd[96];
	peer_describe(s, pd, sizeof(pd));
	log_info("sid=%s timeout after %s from %s", s->sid,
	    s->state == S_DATA || s->state == S_BDAT ? "DATA" : "command", pd);
	reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->conf->hostname);
	s->closing = true;
	session_flush(s);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	(void)what;
	(void)fd;

	if (s->handshaking) {
		tls_step(s);
		return;
	}
	ssize_t n = sess_io(s, false, s->ibuf + s->ilen, IBUF_SIZE - s->ilen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		char pd[96];
		peer_describe(s, pd, sizeof(pd));
		if (s->state == S_DATA || s->state == S_BDAT)
			log_info("sid=%s lost connection after DATA from %s", s->sid, pd);
		s->closing = true;
		s->olen = s->opos = 0;
		session_close(s);
		return;
	}
	s->ilen += (size_t)n;
	struct timeval tv = { .tv_sec = s->srv->conf->smtpd_timeout };
	evtimer_add(s->ev_timer, &tv);
	bool more = s->ssl != NULL && SSL_pending(s->ssl) > 0;
	session_process(s);
	/* Decrypted bytes still inside TLS never wake the event loop: fetch them. */
	if (more)
		event_active(s->ev_read, EV_READ, 0);
}

/* Drive the TLS handshake; on success the session starts over (RFC 3207 4.2). */
static void
tls_step(struct session *s)
{
	char pd[96];
	int r = SSL_accept(s->ssl);
	if (r == 1) {
		s->handshaking = false;
		peer_describe(s, pd, sizeof(pd));
		log_info("sid=%s TLS from %s: %s with cipher %s", s->sid, pd, SSL_get_version(s->ssl),
		    SSL_get_cipher_name(s->ssl));
		txn_reset(s);
		s->helo[0] = '\0';
		s->esmtp = false;
		s->state = S_GREET;
		s->peer.auth_user[0] = '\0';	/* nothing learnt before TLS is kept (RFC 3207 4.2) */
		event_del(s->ev_write);
		if (s->implicit_tls) {
			s->implicit_tls = false;
			reply(s, "220 %s", s->srv->conf->banner);
			session_flush(s);
			if (s->closing)
				return;
		}
		update_read_interest(s);
		if (SSL_pending(s->ssl) > 0)
			event_active(s->ev_read, EV_READ, 0);
		return;
	}
	int e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		event_del(s->ev_write);
		update_read_interest(s);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		event_add(s->ev_write, NULL);
		return;
	}
	unsigned long err = ERR_get_error();
	char ebuf[200] = "connection closed";
	if (err != 0)
		ERR_error_string_n(err, ebuf, sizeof(ebuf));
	ERR_clear_error();
	peer_describe(s, pd, sizeof(pd));
	log_info("sid=%s TLS handshake failed from %s: %s", s->sid, pd, ebuf);
	s->handshaking = false;
	s->closing = true;
	s->olen = s->opos = 0;
	session_close(s);
}

static void
session_close(struct session *s)
{
	struct smtp_server *srv = s->srv;

	if (s->paused) {
		/* A commit is in flight; commit_done frees us. */
		s->dead = true;
		if (s->reading) {
			event_del(s->ev_read);
			s->reading = false;
		}
		event_del(s->ev_write);
		event_del(s->ev_timer);
		return;
	}
	char pd[96];
	peer_describe(s, pd, sizeof(pd));
	log_info("sid=%s disconnect from %s helo=%u mail=%u rcpt=%u data=%u bdat=%u rset=%u "
	    "quit=%u commands=%u messages=%u", s->sid, pd, s->helo[0] ? 1 : 0, s->n_mail, s->n_rcpt,
	    s->n_data, s->n_bdat, s->n_rset, s->n_quit, s->n_cmds, s->n_msgs);
	txn_reset(s);
	if (s->auth_req != NULL)
		auth_client_cancel(s->auth_req);
	if (s->ssl != NULL) {
		if (!s->handshaking)
			SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	SSL_CTX_free(s->tls);
	event_free(s->ev_read);
	event_free(s->ev_write);
	event_free(s->ev_timer);
	close(s->fd);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	free(s->ibuf);
	free(s->obuf);
	free(s);
}

static unsigned session_seq;

static void
accept_one(void *ctx, struct listener *l, int fd, const struct sockaddr_storage *ssp)
{
	struct smtp_server *srv = ctx;
	struct sockaddr_storage ss = *ssp;
	struct session *s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->fd = fd;
	s->peer.ss = ss;
	s->peer.uid = -1;
	s->env.submit_uid = -1;
	s->kind = l->is_unix ? LISTEN_SMTP : l->kind;
	if (!l->is_unix && l->tls != NULL && SSL_CTX_up_ref(l->tls) == 1)
		s->tls = l->tls;
	snprintf(s->sid, sizeof(s->sid), "%08X", ++session_seq ^ ((unsigned)getpid() << 20));
	if (l->is_unix) {
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		s->peer.local = true;
		s->peer.trusted = true;
		strlcpy(s->peer.addr, "local", sizeof(s->peer.addr));
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
			s->peer.uid = (long)cr.uid;
	} else {
		listener_addr(&ss, s->peer.addr, sizeof(s->peer.addr));
		s->peer.trusted = cidr_match(srv->conf->networks, srv->conf->nnetworks,
		    (struct sockaddr *)&ss);
	}
	s->ibuf = xmalloc(IBUF_SIZE + 1);
	s->ev_read = event_new(srv->eb, fd, EV_READ | EV_PERSIST, on_read, s);
	s->ev_write = event_new(srv->eb, fd, EV_WRITE, on_write, s);
	s->ev_timer = evtimer_new(srv->eb, on_timeout, s);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;

	char pd[96];
	peer_describe(s, pd, sizeof(pd));
	log_info("sid=%s connect from %s", s->sid, pd);

	/* Connection limits: answer 421 and close (RFC 5321 3.8). */
	unsigned same = 0;
	if (!s->peer.local)
		for (struct session *o = srv->sessions; o; o = o->next)
			if (!o->peer.local && strcmp(o->peer.addr, s->peer.addr) == 0)
				same++;
	if (srv->nsessions > (unsigned)srv->conf->max_connections ||
	    same > (unsigned)srv->conf->max_connections_per_ip) {
		log_warn("sid=%s reject: too many connections from %s", s->sid, pd);
		reply(s, "421 4.7.0 %s Error: too many connections", srv->conf->hostname);
		s->closing = true;
		session_flush(s);
		return;
	}
	struct timeval tv = { .tv_sec = srv->conf->smtpd_timeout };
	evtimer_add(s->ev_timer, &tv);
	if (s->kind == LISTEN_SUBMISSIONS && s->tls != NULL) {
		/* RFC 8314: TLS from the first byte; the banner follows the handshake. */
		s->implicit_tls = true;
		tls_start(s);
		if (s->closing)
			session_close(s);
		return;
	}
	reply(s, "220 %s", srv->conf->banner);
	session_flush(s);
}

struct smtp_server *
smtp_server_new(struct event_base *eb, const struct conf *c, struct queue *q,
    const struct smtp_server_ops *ops)
{
	struct smtp_server *s = xcalloc(1, sizeof(*s));
	s->eb = eb;
	s->conf = c;
	s->q = q;
	s->ops = *ops;
	s->scratch = xmalloc(IBUF_SIZE + SMTP_DATA_SLACK);
	return s;
}

void
smtp_server_listen(struct smtp_server *s, int fd, bool is_unix, enum listen_kind kind,
    void *ssl_ctx)
{
	listener_add(&s->listeners, s->eb, fd, is_unix, (int)kind, ssl_ctx, accept_one, s);
}

void
smtp_server_set_tls(struct smtp_server *s, int fd, void *ssl_ctx)
{
	listener_set_tls(s->listeners, fd, ssl_ctx);
}

void
smtp_server_set_tls_required(struct smtp_server *s, bool required)
{
	s->tls_required = required;
}

void
smtp_server_set_auth(struct smtp_server *s, struct auth_client *ac)
{
	s->auth = ac;
}

void
smtp_server_set_conf(struct smtp_server *s, const struct conf *c)
{
	s->conf = c;
}

unsigned
smtp_server_sessions(const struct smtp_server *s)
{
	return s->nsessions;
}

void
smtp_server_stop_listening(struct smtp_server *s)
{
	s->stopping = true;
	listener_close_all(&s->listeners);
}

void
smtp_server_free(struct smtp_server **sp)
{
	struct smtp_server *s = *sp;
	if (s == NULL)
		return;
	smtp_server_stop_listening(s);
	while (s->sessions) {
		struct session *x = s->sessions;
		x->paused = false;
		session_close(x);
	}
	free(s->scratch);
	free(s);
	*sp = NULL;
}
