#include "lib/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "lib/log.h"
#include "lib/util.h"

#define ACCEPT_BURST 64

static void
on_listen(evutil_socket_t lfd, short what, void *arg)
{
	struct listener *l = arg;
	(void)what;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		l->accept(l->ctx, l, fd, &ss);
	}
}

void
listener_add(struct listener **list, struct event_base *eb, int fd, bool is_unix, int kind,
    void *tls,
    void (*accept)(void *ctx, struct listener *l, int fd, const struct sockaddr_storage *ss),
    void *ctx)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->is_unix = is_unix;
	l->kind = kind;
	if (tls != NULL && SSL_CTX_up_ref(tls) == 1)
		l->tls = tls;
	l->accept = accept;
	l->ctx = ctx;
	l->ev = event_new(eb, fd, EV_READ | EV_PERSIST, on_listen, l);
	event_add(l->ev, NULL);
	l->next = *list;
	*list = l;
}

void
listener_set_tls(struct listener *list, int fd, void *tls)
{
	for (struct listener *l = list; l; l = l->next)
		if (l->fd == fd) {
			SSL_CTX_free(l->tls);
			l->tls = tls != NULL && SSL_CTX_up_ref(tls) == 1 ? tls : NULL;
		}
}

void
listener_close_all(struct listener **list)
{
	while (*list) {
		struct listener *l = *list;
		*list = l->next;
		SSL_CTX_free(l->tls);
		event_free(l->ev);
		close(l->fd);
		free(l);
	}
}

void
listener_addr(const struct sockaddr_storage *ss, char *buf, size_t sz)
{
	const void *a = ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)sz) == NULL) {
		strlcpy(buf, "?", sz);
		return;
	}
	if (strncmp(buf, "::ffff:", 7) == 0 && strchr(buf, '.') != NULL)
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
}
