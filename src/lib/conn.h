/* conn: one client connection on the event loop — the socket, TLS (STARTTLS
 * or implicit), input and output buffers and the idle timer. The protocol
 * engines (IMAP, POP3) sit on top and see only bytes.
 *
 * Buffers exist only while they hold data, so an idle connection costs the
 * struct and, with TLS, OpenSSL's session state (its buffers are released
 * while idle). Callbacks run from the event loop; a callback may call any
 * function here, including conn_close and conn_abort (the struct is freed
 * only after the outermost callback returns). */
#ifndef CONN_H
#define CONN_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct conn;

struct conn_ops {
	/* Unread input is waiting: look at conn_input, take with conn_consume.
	 * Called again when more arrives (or on conn_kick). */
	void (*input)(struct conn *c, void *arg);
	/* The output buffer went below the low-water mark: a long response
	 * can go on (see conn_want_drain). NULL if unused. */
	void (*drained)(struct conn *c, void *arg);
	/* The TLS handshake finished (implicit TLS or after conn_starttls). */
	void (*tls_ready)(struct conn *c, void *arg);
	/* No input for the timeout: write a goodbye, then conn_close. */
	void (*timeout)(struct conn *c, void *arg);
	/* The connection is over (peer closed, I/O error, failed handshake,
	 * or conn_close once the output was written). why is a short text
	 * for the log. Free the engine's state; the conn is freed after. */
	void (*closed)(struct conn *c, void *arg, const char *why);
};

/* Takes fd (non-blocking). ibuf_max: input kept unconsumed before reading
 * stops. tls: SSL_CTX for implicit TLS (handshake first), or NULL. */
struct conn *conn_new(struct event_base *eb, int fd, const struct conn_ops *ops, void *arg,
    size_t ibuf_max, void *implicit_tls);
int conn_fd(const struct conn *c);
/* Change how much unconsumed input may wait (e.g. larger after a login,
 * for APPEND literals). */
void conn_set_input_max(struct conn *c, size_t ibuf_max);
void conn_set_timeout(struct conn *c, unsigned seconds);

/* Input not yet consumed (not NUL-terminated), and taking it. */
const char *conn_input(const struct conn *c, size_t *len);
void conn_consume(struct conn *c, size_t n);
/* Run the input callback again from the loop (after a pause ends). */
void conn_kick(struct conn *c);
/* Stop/restart reading (e.g. while the auth service answers). */
void conn_pause(struct conn *c, bool paused);

void conn_write(struct conn *c, const void *p, size_t n);
void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conn_vprintf(struct conn *c, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
size_t conn_output_pending(const struct conn *c);
/* Ask for the drained callback once pending output falls below low. */
void conn_want_drain(struct conn *c, size_t low);

/* Once the output written so far is sent: drop unread input (RFC 3207
 * 4.2: nothing pipelined in clear text counts) and do a TLS handshake. */
void conn_starttls(struct conn *c, void *ssl_ctx);
bool conn_is_tls(const struct conn *c);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" or "" */
const char *conn_tls_desc(const struct conn *c, char *buf, size_t sz);

/* Close after the pending output is sent. */
void conn_close(struct conn *c);
/* Close now, dropping pending output. */
void conn_abort(struct conn *c, const char *why);
#endif
