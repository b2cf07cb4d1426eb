/* listener: listening sockets on the event loop for the protocol servers —
 * accepting (non-blocking, in bursts), the TLS context each listener uses
 * now (new sessions take a reference; a reload swaps it), closing. */
#ifndef LISTENER_H
#define LISTENER_H
#include <stdbool.h>
#include <sys/socket.h>

struct event_base;

struct listener {
	int fd;
	bool is_unix;
	int kind;		/* the owner's (enum listen_kind) */
	void *tls;		/* SSL_CTX (a reference), or NULL */
	void (*accept)(void *ctx, struct listener *l, int fd, const struct sockaddr_storage *ss);
	void *ctx;
	struct event *ev;
	struct listener *next;
};

/* Listen on fd (non-blocking) into *list; accept(ctx, l, fd, ss) gets each
 * new connection (non-blocking, close-on-exec). tls may be NULL. */
void listener_add(struct listener **list, struct event_base *eb, int fd, bool is_unix, int kind,
    void *tls,
    void (*accept)(void *ctx, struct listener *l, int fd, const struct sockaddr_storage *ss),
    void *ctx);
/* The listener on fd uses this SSL_CTX from now on (NULL: none). */
void listener_set_tls(struct listener *list, int fd, void *tls);
/* Stop and close them all. */
void listener_close_all(struct listener **list);
/* Numeric address of ss ("127.0.0.1", "::1"; IPv4-mapped shown as IPv4). */
void listener_addr(const struct sockaddr_storage *ss, char *buf, size_t sz);
#endif
