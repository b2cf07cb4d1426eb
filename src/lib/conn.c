#include "lib/conn.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/util.h"

#define READ_CHUNK	(16 * 1024)
#define OUT_HIGH	(256 * 1024)	/* stop reading while this much output waits */

struct conn {
	struct event_base *eb;
	int fd;
	const struct conn_ops *ops;
	void *arg;
	struct event *ev_read, *ev_write, *ev_timer, *ev_kick;
	unsigned timeout;
	SSL *ssl;
	SSL_CTX *tls_next;	/* conn_starttls: handshake once output is out */
	bool handshaking, reading, paused, closing, dead, want_drain;
	unsigned depth;		/* callbacks in progress: free only at 0 */
	const char *why;
	size_t low;

	char *ibuf;
	size_t ilen, ipos, icap, imax;
	char *obuf;
	size_t olen, opos, ocap;
};

static void conn_update(struct conn *c);
static void conn_try_free(struct conn *c);

static void
enter(struct conn *c)
{
	c->depth++;
}

/* Leave a callback frame; false when the conn is gone (do not touch it). */
static bool
leave(struct conn *c)
{
	c->depth--;
	if (c->dead && c->depth == 0) {
		conn_try_free(c);
		return false;
	}
	return !c->dead;
}

static void
finish(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	c->why = why;
	event_del(c->ev_read);
	event_del(c->ev_write);
	event_del(c->ev_timer);
	event_del(c->ev_kick);
	c->reading = false;
	if (c->ops->closed != NULL) {
		enter(c);
		c->ops->closed(c, c->arg, why);
		c->depth--;
	}
}

static void
conn_try_free(struct conn *c)
{
	if (c->ssl != NULL) {
		if (!c->handshaking)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->tls_next);
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_timer);
	event_free(c->ev_kick);
	close(c->fd);
	free(c->ibuf);
	free(c->obuf);
	free(c);
}

static ssize_t
io(struct conn *c, bool wr, void *buf, size_t len)
{
	if (c->ssl == NULL)
		return wr ? write(c->fd, buf, len) : read(c->fd, buf, len);
	int l = len > INT32_MAX ? INT32_MAX : (int)len;
	int n = wr ? SSL_write(c->ssl, buf, l) : SSL_read(c->ssl, buf, l);
	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
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

static void
start_tls(struct conn *c)
{
	SSL_CTX *ctx = c->tls_next;
	c->tls_next = NULL;
	c->ipos = c->ilen = 0;
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		finish(c, "cannot start TLS");
		return;
	}
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_accept_state(c->ssl);
	c->handshaking = true;
	conn_update(c);
	event_active(c->ev_read, EV_READ, 0);
}

/* Write what we can; afterwards closing, STARTTLS and the drain callback. */
static void
flush(struct conn *c)
{
	while (c->opos < c->olen) {
		ssize_t n = io(c, true, c->obuf + c->opos, c->olen - c->opos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->ev_write, NULL);
			conn_update(c);
			return;
		}
		if (n <= 0) {
			finish(c, "write failed");
			return;
		}
		c->opos += (size_t)n;
	}
	free(c->obuf);
	c->obuf = NULL;
	c->olen = c->opos = c->ocap = 0;
	if (c->closing) {
		finish(c, c->why != NULL ? c->why : "closed");
		return;
	}
	if (c->tls_next != NULL)
		start_tls(c);
	if (c->dead)
		return;
	if (c->want_drain && c->ops->drained != NULL) {
		c->want_drain = false;
		enter(c);
		c->ops->drained(c, c->arg);
		if (!leave(c))
			return;
		if (c->olen > c->opos) {
			flush(c);
			return;
		}
	}
	conn_update(c);
}

static void
conn_update(struct conn *c)
{
	if (c->dead)
		return;
	bool want = !c->paused && !c->closing && c->tls_next == NULL &&
	    c->olen - c->opos < OUT_HIGH && c->ilen - c->ipos < c->imax;
	if (c->handshaking)
		want = true;
	if (want && !c->reading) {
		event_add(c->ev_read, NULL);
		c->reading = true;
	} else if (!want && c->reading) {
		event_del(c->ev_read);
		c->reading = false;
	}
}

static void
call_input(struct conn *c)
{
	if (c->paused || c->closing || c->ilen == c->ipos) {
		/* Output written outside a callback (a greeting, an event for
		 * an idle session) goes out now. */
		if (c->olen > c->opos || c->closing)
			flush(c);
		return;
	}
	enter(c);
	c->ops->input(c, c->arg);
	if (!leave(c))
		return;
	if (c->ipos == c->ilen) {
		free(c->ibuf);
		c->ibuf = NULL;
		c->ipos = c->ilen = c->icap = 0;
	}
	if (c->olen > c->opos || c->closing || c->tls_next != NULL)
		flush(c);
	else
		conn_update(c);
}

static void
handshake(struct conn *c)
{
	int r = SSL_accept(c->ssl);
	if (r == 1) {
		c->handshaking = false;
		event_del(c->ev_write);
		if (c->ops->tls_ready != NULL) {
			enter(c);
			c->ops->tls_ready(c, c->arg);
			if (!leave(c))
				return;
		}
		flush(c);
		if (!c->dead && SSL_pending(c->ssl) > 0)
			event_active(c->ev_read, EV_READ, 0);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		event_del(c->ev_write);
		conn_update(c);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		event_add(c->ev_write, NULL);
		return;
	}
	ERR_clear_error();
	finish(c, "TLS handshake failed");
	if (c->depth == 0)
		conn_try_free(c);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->dead)
		return;
	if (c->handshaking) {
		handshake(c);
		return;
	}
	if (c->ipos > 0 && c->ipos == c->ilen)
		c->ipos = c->ilen = 0;
	if (c->icap - c->ilen < READ_CHUNK) {
		if (c->ipos > 0) {
			memmove(c->ibuf, c->ibuf + c->ipos, c->ilen - c->ipos);
			c->ilen -= c->ipos;
			c->ipos = 0;
		}
		if (c->icap - c->ilen < READ_CHUNK) {
			c->icap = c->ilen + READ_CHUNK;
			c->ibuf = xrealloc(c->ibuf, c->icap);
		}
	}
	ssize_t n = io(c, false, c->ibuf + c->ilen, c->icap - c->ilen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		finish(c, n == 0 ? "disconnected" : "read failed");
		if (c->depth == 0)
			conn_try_free(c);
		return;
	}
	c->ilen += (size_t)n;
	if (c->timeout > 0) {
		struct timeval tv = { .tv_sec = c->timeout };
		evtimer_add(c->ev_timer, &tv);
	}
	bool more = c->ssl != NULL && SSL_pending(c->ssl) > 0;
	enter(c);
	call_input(c);
	if (!leave(c))
		return;
	if (more && !c->paused)
		event_active(c->ev_read, EV_READ, 0);
	conn_update(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->dead)
		return;
	enter(c);
	if (c->handshaking)
		handshake(c);
	else
		flush(c);
	leave(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->dead)
		return;
	enter(c);
	if (c->ops->timeout != NULL)
		c->ops->timeout(c, c->arg);
	else
		conn_close(c);
	if (!c->dead)
		flush(c);
	leave(c);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->dead)
		return;
	enter(c);
	call_input(c);
	leave(c);
}

struct conn *
conn_new(struct event_base *eb, int fd, const struct conn_ops *ops, void *arg, size_t ibuf_max,
    void *implicit_tls)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	c->eb = eb;
	c->fd = fd;
	c->ops = ops;
	c->arg = arg;
	c->imax = ibuf_max;
	c->ev_read = event_new(eb, fd, EV_READ | EV_PERSIST, on_read, c);
	c->ev_write = event_new(eb, fd, EV_WRITE, on_write, c);
	c->ev_timer = evtimer_new(eb, on_timer, c);
	c->ev_kick = event_new(eb, -1, 0, on_kick, c);
	if (implicit_tls != NULL && SSL_CTX_up_ref(implicit_tls) == 1) {
		c->tls_next = implicit_tls;
		start_tls(c);
	}
	conn_update(c);
	return c;
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

void
conn_set_input_max(struct conn *c, size_t ibuf_max)
{
	c->imax = ibuf_max;
	conn_update(c);
}

void
conn_set_timeout(struct conn *c, unsigned seconds)
{
	c->timeout = seconds;
	if (seconds > 0 && !c->dead) {
		struct timeval tv = { .tv_sec = seconds };
		evtimer_add(c->ev_timer, &tv);
	} else
		event_del(c->ev_timer);
}

const char *
conn_input(const struct conn *c, size_t *len)
{
	*len = c->ilen - c->ipos;
	return c->ibuf != NULL ? c->ibuf + c->ipos : "";
}

void
conn_consume(struct conn *c, size_t n)
{
	if (n > c->ilen - c->ipos)
		n = c->ilen - c->ipos;
	c->ipos += n;
}

void
conn_kick(struct conn *c)
{
	if (!c->dead)
		event_active(c->ev_kick, EV_TIMEOUT, 0);
}

void
conn_pause(struct conn *c, bool paused)
{
	c->paused = paused;
	if (!paused && c->ilen > c->ipos)
		conn_kick(c);
	conn_update(c);
}

/* Write without blocking and without side effects (no close, no TLS
 * start, no callbacks): errors are left for flush to find. */
static void
write_some(struct conn *c)
{
	while (c->opos < c->olen) {
		ssize_t n = io(c, true, c->obuf + c->opos, c->olen - c->opos);
		if (n <= 0)
			return;
		c->opos += (size_t)n;
	}
}

void
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->dead || n == 0)
		return;
	if (c->ocap - c->olen < n) {
		if (c->opos > 0) {
			memmove(c->obuf, c->obuf + c->opos, c->olen - c->opos);
			c->olen -= c->opos;
			c->opos = 0;
		}
		if (c->ocap - c->olen < n) {
			size_t cap = c->ocap ? c->ocap : 4096;
			while (cap - c->olen < n)
				cap *= 2;
			c->obuf = xrealloc(c->obuf, cap);
			c->ocap = cap;
		}
	}
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
	/* A long response (FETCH 1:*) goes out while it is being built, so
	 * the buffer stays near the socket's own size. */
	if (c->olen - c->opos >= OUT_HIGH && !c->handshaking && c->tls_next == NULL)
		write_some(c);
}

void
conn_vprintf(struct conn *c, const char *fmt, va_list ap)
{
	char small[512];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	if ((size_t)n < sizeof(small)) {
		conn_write(c, small, (size_t)n);
	} else {
		char *big = xmalloc((size_t)n + 1);
		vsnprintf(big, (size_t)n + 1, fmt, ap2);
		conn_write(c, big, (size_t)n);
		free(big);
	}
	va_end(ap2);
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_vprintf(c, fmt, ap);
	va_end(ap);
}

size_t
conn_output_pending(const struct conn *c)
{
	return c->olen - c->opos;
}

void
conn_want_drain(struct conn *c, size_t low)
{
	(void)low;
	c->want_drain = true;
	/* Nothing waiting: the loop calls drained right away. */
	if (c->olen == c->opos && !c->dead)
		event_active(c->ev_write, EV_WRITE, 0);
}

void
conn_starttls(struct conn *c, void *ssl_ctx)
{
	if (c->ssl != NULL || ssl_ctx == NULL || SSL_CTX_up_ref(ssl_ctx) != 1)
		return;
	c->tls_next = ssl_ctx;
	c->ipos = c->ilen = 0;
	conn_update(c);
	if (c->depth == 0) {
		flush(c);
		if (c->dead)
			conn_try_free(c);
	}
}

bool
conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL && !c->handshaking;
}

const char *
conn_tls_desc(const struct conn *c, char *buf, size_t sz)
{
	if (!conn_is_tls(c)) {
		if (sz > 0)
			buf[0] = '\0';
		return buf;
	}
	snprintf(buf, sz, "%s with cipher %s", SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl));
	return buf;
}

void
conn_close(struct conn *c)
{
	if (c->dead || c->closing)
		return;
	c->closing = true;
	conn_update(c);
	if (c->depth == 0)
		flush(c);
	if (c->dead && c->depth == 0)
		conn_try_free(c);
}

void
conn_abort(struct conn *c, const char *why)
{
	finish(c, why);
	if (c->depth == 0)
		conn_try_free(c);
}
