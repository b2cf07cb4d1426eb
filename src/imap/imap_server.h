/* imap_server: IMAP4rev2/IMAP4rev1 sessions (RFC 9051, RFC 3501 and the
 * extensions in docs/IMAP.md) and POP3 sessions on an event loop, over the
 * mail store.
 * Logins go to the auth service; the owner maps a logged-in user to the
 * Maildir (ops). Every session on one folder shares one struct mailbox. */
#ifndef IMAP_SERVER_H
#define IMAP_SERVER_H
#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

struct event_base;
struct auth_client;
struct imap_server;

/* A logged-in session this process cannot serve (the user's mail has
 * another owner), for the owner to pass to that user's mail process. */
struct imap_handoff {
	const char *user;	/* as the auth service named it */
	const char *ticket;	/* the auth service's proof (auth/ticket.h) */
	const char *proto;	/* "imap" or "pop3" */
	const char *tag;	/* IMAP: the tag to answer the login with */
	const char *addr;	/* client address, for the logs */
};

struct imap_server_ops {
	/* The Maildir of an authenticated user: 1 with path written, 0 when
	 * this process cannot serve the user's mail, -1 on a lookup error. */
	int (*user_maildir)(void *ctx, const char *user, char *path, size_t pathsz);
	/* For user_maildir's 0: a socket whose other end the user's mail
	 * process serves (it answers the login), or -1. NULL: not possible. */
	int (*handoff)(void *ctx, const struct imap_handoff *h);
	void *ctx;
};

struct imap_server *imap_server_new(struct event_base *eb, const struct conf *c,
    const struct imap_server_ops *ops);
void imap_server_set_auth(struct imap_server *s, struct auth_client *ac);
/* kind LISTEN_IMAP / LISTEN_POP3 (STARTTLS / STLS when ssl_ctx) or
 * LISTEN_IMAPS / LISTEN_POP3S (implicit TLS). */
void imap_server_listen(struct imap_server *s, int fd, enum listen_kind kind, void *ssl_ctx);
void imap_server_set_tls(struct imap_server *s, int fd, void *ssl_ctx);
void imap_server_set_conf(struct imap_server *s, const struct conf *c);
unsigned imap_server_sessions(const struct imap_server *s);
/* A delivery or another process changed this Maildir: wake its sessions. */
void imap_server_touch(struct imap_server *s, const char *maildir);
/* In a mail process: serve a session that another process logged in
 * (fd: the relay socket). The IMAP login is answered with tag. */
void imap_server_adopt(struct imap_server *s, int fd, const struct imap_handoff *h,
    const char *maildir);
void imap_server_stop_listening(struct imap_server *s);
void imap_server_free(struct imap_server **s);
#endif
