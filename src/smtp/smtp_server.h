/* smtp_server: the SMTP server sessions (RFC 5321 and extensions) on an event loop.
 * It knows nothing of users or delivery: recipient decisions and "message
 * queued" go through the ops its owner provides. */
#ifndef SMTP_SERVER_H
#define SMTP_SERVER_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "mail/addr.h"
#include "queue/queue.h"

struct event_base;

struct smtp_peer {
	struct sockaddr_storage ss;
	char addr[64];		/* "127.0.0.1", "::1" or "local" */
	bool trusted;		/* in networks, or local submission: may relay, gets header fixups */
	bool local;		/* unix socket (sendmail) */
	long uid;		/* local submission: peer uid, else -1 */
	char auth_user[256];	/* SASL login name, "" before AUTH: may relay like trusted */
};

struct smtp_server_ops {
	/* NULL to accept the recipient, or a full reply line (no CRLF) written in buf. */
	const char *(*check_rcpt)(void *ctx, const struct smtp_peer *peer, const struct mailaddr *a,
	    char *buf, size_t bufsz);
	/* A message is durable in the queue. */
	void (*queued)(void *ctx, const char *id);
	void *ctx;
};

struct smtp_server;

struct smtp_server *smtp_server_new(struct event_base *eb, const struct conf *c, struct queue *q,
    const struct smtp_server_ops *ops);
/* Accept connections on a listening socket (non-blocking). kind: smtp,
 * submission (TLS and AUTH before MAIL) or submissions (implicit TLS, AUTH
 * before MAIL); ignored for the unix socket. */
void smtp_server_listen(struct smtp_server *s, int fd, bool is_unix, enum listen_kind kind,
    void *ssl_ctx);
/* Offer AUTH through this auth service client (auth/auth_client.h). */
struct auth_client;
void smtp_server_set_auth(struct smtp_server *s, struct auth_client *ac);
/* The listener on fd uses this SSL_CTX (from lib/tls) from now on: STARTTLS,
 * or implicit TLS for submissions; NULL: none. Sessions keep the context they
 * started with (reload without dropping sessions). */
void smtp_server_set_tls(struct smtp_server *s, int fd, void *ssl_ctx);
/* smtpd_tls_security_level encrypt: MAIL needs TLS first (530 5.7.0), except
 * for local submission. */
void smtp_server_set_tls_required(struct smtp_server *s, bool required);
/* Replace the config (after SIGHUP); sessions in progress keep working. */
void smtp_server_set_conf(struct smtp_server *s, const struct conf *c);
unsigned smtp_server_sessions(const struct smtp_server *s);
/* Stop accepting and reading commands: sessions answer what is in flight
 * (commits still report their 250) and close. Call before queue_close(). */
void smtp_server_stop_listening(struct smtp_server *s);
void smtp_server_free(struct smtp_server **s);
#endif
