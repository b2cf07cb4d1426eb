#include "imap/relay.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/util.h"

#define RELAY_CHUNK	(16 * 1024)
#define RELAY_OUT_HIGH	(1024 * 1024)

struct relay {
	struct conn *c;
	int fd;
	struct event *ev_read, *ev_write;
	bool reading;
};

static void
set_reading(struct relay *r, bool on)
{
	if (on && !r->reading)
		event_add(r->ev_read, NULL);
	else if (!on && r->reading)
		event_del(r->ev_read);
	r->reading = on;
}

static void
on_fd_read(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	char buf[RELAY_CHUNK];
	(void)what;
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The mail process ended the session: its last words go out first. */
		set_reading(r, false);
		conn_close(r->c);
		return;
	}
	conn_write(r->c, buf, (size_t)n);
	if (conn_output_pending(r->c) >= RELAY_OUT_HIGH) {
		set_reading(r, false);
		conn_want_drain(r->c, 0);
	}
	conn_kick(r->c);
}

static void
on_fd_write(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	(void)fd;
	(void)what;
	conn_pause(r->c, false);
}

struct relay *
relay_new(struct event_base *eb, struct conn *c, int fd)
{
	struct relay *r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->fd = fd;
	r->ev_read = event_new(eb, fd, EV_READ | EV_PERSIST, on_fd_read, r);
	r->ev_write = event_new(eb, fd, EV_WRITE, on_fd_write, r);
	set_reading(r, true);
	return r;
}

void
relay_input(struct relay *r)
{
	size_t len;
	const char *in = conn_input(r->c, &len);
	while (len > 0) {
		ssize_t n = write(r->fd, in, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_pause(r->c, true);
			event_add(r->ev_write, NULL);
			return;
		}
		if (n <= 0) {
			conn_consume(r->c, len);
			conn_close(r->c);
			return;
		}
		conn_consume(r->c, (size_t)n);
		in += n;
		len -= (size_t)n;
	}
}

void
relay_drained(struct relay *r)
{
	set_reading(r, true);
}

void
relay_free(struct relay **rp)
{
	struct relay *r = *rp;
	if (r == NULL)
		return;
	event_free(r->ev_read);
	event_free(r->ev_write);
	close(r->fd);
	free(r);
	*rp = NULL;
}
