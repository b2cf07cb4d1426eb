/* pop3_session: POP3 connections, served by the IMAP server's process and
 * folders (imap_server.c accepts them). */
#ifndef POP3_SESSION_H
#define POP3_SESSION_H
#include <stdbool.h>

#include "conf/conf.h"

struct imap_server;
struct event_base;
struct pop3_session;

/* Starts the session (greeting, or the handshake for pop3s) and links it
 * into *list; it unlinks itself when it ends. */
struct pop3_session *pop3_session_new(struct imap_server *srv, struct event_base *eb, int fd,
    const char *addr, bool loopback, enum listen_kind kind, void *tls, struct pop3_session **list);
/* A POP3 session logged in by another process (mail process): straight
 * to the transaction state on maildir, answering the login. */
struct pop3_session *pop3_session_adopt(struct imap_server *srv, struct event_base *eb, int fd,
    const char *addr, const char *user, const char *maildir, struct pop3_session **list);
/* Server stopping: -ERR and close (may free s at once). */
void pop3_session_shutdown(struct pop3_session *s);
void pop3_session_destroy(struct pop3_session *s);
/* The next session of the list. */
struct pop3_session *pop3_session_next(const struct pop3_session *s);
#endif
