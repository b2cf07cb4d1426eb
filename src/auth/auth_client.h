/* auth_client: the protocol sessions' side of the auth service — one
 * connection to its socket (Dovecot's auth protocol), many requests on it. */
#ifndef AUTH_CLIENT_H
#define AUTH_CLIENT_H
#include <stdbool.h>

struct event_base;
struct auth_client;
struct auth_request;

enum auth_status { AUTH_CONTINUE, AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL };
/* CONTINUE: data is the base64 challenge. OK: user is the authenticated
 * name, data base64 final server data or NULL. FAIL/TEMPFAIL: data is a
 * reason or NULL. After OK, FAIL and TEMPFAIL the request is gone. */
typedef void (*auth_cb)(void *ctx, enum auth_status st, const char *data, const char *user);

/* Connects now and again whenever the connection is lost. */
struct auth_client *auth_client_new(struct event_base *eb, const char *socket_path);
void auth_client_free(struct auth_client **ac);
/* True when the service offers mech (case-insensitive); *plaintext tells
 * whether it sends the password in clear. */
bool auth_client_has_mech(const struct auth_client *ac, const char *mech, bool *plaintext);
/* Space-separated mechanisms offered, without the plaintext ones unless
 * with_plaintext; "" when none (or not connected). */
const char *auth_client_mechs(const struct auth_client *ac, bool with_plaintext, char *buf,
    unsigned bufsz);
/* Begin; resp is the base64 initial response or NULL. Always returns a
 * request (a lost service is reported through cb as TEMPFAIL, later). */
struct auth_request *auth_client_start(struct auth_client *ac, const char *mech,
    const char *service, const char *lip, const char *rip, bool secured, const char *resp,
    auth_cb cb, void *ctx);
void auth_client_continue(struct auth_request *r, const char *b64);
/* During an AUTH_OK callback: the service's ticket for the root parent
 * (auth/ticket.h), "" when none. */
const char *auth_client_ticket(const struct auth_client *ac);
/* Forget the request: no more callbacks. */
void auth_client_cancel(struct auth_request *r);
#endif
