/* relay: after a system user's login, the worker passes the session's bytes
 * between the client connection (which may be TLS, whose state cannot move
 * to another process) and the user's mail process, unchanged. */
#ifndef RELAY_H
#define RELAY_H

struct event_base;
struct conn;
struct relay;

/* fd: the worker's end of the socketpair to the mail process (non-blocking). */
struct relay *relay_new(struct event_base *eb, struct conn *c, int fd);
/* From the conn's input callback: client bytes to the mail process. */
void relay_input(struct relay *r);
/* From the conn's drained callback: read the mail process again. */
void relay_drained(struct relay *r);
void relay_free(struct relay **r);
#endif
