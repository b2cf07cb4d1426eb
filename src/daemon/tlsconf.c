#include "daemon/tlsconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/tls.h"
#include "lib/util.h"

#define PEM_MAX (1 << 20)
#define TLSMSG_MAGIC 0x544c5331u	/* "TLS1" */

enum { K_DEFAULT, K_LISTENER, K_SNI, K_END };

struct item {
	int kind;
	unsigned index;
	char name[256];
	char cert[512], key[512];	/* paths, for messages */
};

struct pem {
	struct item it;
	char *cert, *key;
	size_t cl, kl;
};

struct tlsmsg {
	uint32_t magic, kind, index;
	char name[256];
	char cert[512], key[512];
};

struct tlsconf_rx {
	size_t nl;
	struct pem *p;
	size_t n;
};

static bool
needs_tls(const struct conf *c)
{
	if (strcmp(c->smtpd_tls_security_level, "none") != 0)
		return true;
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].kind != LISTEN_SMTP)
			return true;
	return false;
}

static size_t
items_of(const struct conf *c, size_t nl, struct item **out)
{
	struct item *v = xcalloc(1 + nl + c->ntls_sni, sizeof(*v));
	size_t n = 0;

	if (!needs_tls(c)) {
		*out = v;
		return 0;
	}
	v[n].kind = K_DEFAULT;
	if (c->tls_cert[0] != '\0') {
		strlcpy(v[n].cert, c->tls_cert, sizeof(v[n].cert));
		strlcpy(v[n].key, c->tls_key[0] ? c->tls_key : c->tls_cert, sizeof(v[n].key));
	} else {
		snprintf(v[n].cert, sizeof(v[n].cert), "%s/tls/cert.pem", c->spool);
		snprintf(v[n].key, sizeof(v[n].key), "%s/tls/key.pem", c->spool);
	}
	n++;
	for (size_t i = 0; i < nl && i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];
		if (l->cert == NULL)
			continue;
		v[n].kind = K_LISTENER;
		v[n].index = (unsigned)i;
		strlcpy(v[n].cert, l->cert, sizeof(v[n].cert));
		strlcpy(v[n].key, l->key ? l->key : l->cert, sizeof(v[n].key));
		n++;
	}
	for (size_t i = 0; i < c->ntls_sni; i++) {
		v[n].kind = K_SNI;
		strlcpy(v[n].name, c->tls_sni[i].name, sizeof(v[n].name));
		strlcpy(v[n].cert, c->tls_sni[i].cert, sizeof(v[n].cert));
		strlcpy(v[n].key, c->tls_sni[i].key, sizeof(v[n].key));
		n++;
	}
	*out = v;
	return n;
}

static void
pems_free(struct pem *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].cert);
		if (p[i].key != NULL)
			explicit_bzero(p[i].key, p[i].kl);
		free(p[i].key);
	}
	free(p);
}

/* Read a whole descriptor (at most PEM_MAX bytes). */
static int
read_fd(int fd, char **out, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *b = xmalloc(cap);

	for (;;) {
		if (n == cap) {
			if (cap >= PEM_MAX) {
				explicit_bzero(b, n);
				free(b);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			b = xrealloc(b, cap);
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			explicit_bzero(b, n);
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = b;
	*len = n;
	return 0;
}

static struct tls_ctx *
ctx_of(const struct pem *p, char **error_r)
{
	return tls_server_new_pem(p->cert, p->cl, p->key, p->kl, p->it.cert, p->it.key, error_r);
}

static struct tls_set *
build(const struct pem *p, size_t n, size_t nl, char **error_r)
{
	struct tls_set *t = xcalloc(1, sizeof(*t));
	t->nl = nl;
	t->lst = xcalloc(nl + 1, sizeof(*t->lst));
	for (size_t i = 0; i < n; i++) {
		if (p[i].it.kind == K_DEFAULT) {
			tls_ctx_free(&t->def);
			if ((t->def = ctx_of(&p[i], error_r)) == NULL)
				goto fail;
		} else if (p[i].it.kind == K_LISTENER && p[i].it.index < nl) {
			tls_ctx_free(&t->lst[p[i].it.index]);
			if ((t->lst[p[i].it.index] = ctx_of(&p[i], error_r)) == NULL)
				goto fail;
		}
	}
	/* Every context answers the SNI names (each needs its own child). */
	for (size_t i = 0; i < n; i++) {
		if (p[i].it.kind != K_SNI)
			continue;
		for (size_t j = 0; j <= nl; j++) {
			struct tls_ctx *parent = j == nl ? t->def : t->lst[j];
			if (parent == NULL)
				continue;
			struct tls_ctx *child = ctx_of(&p[i], error_r);
			if (child == NULL)
				goto fail;
			tls_ctx_add_sni(parent, p[i].it.name, child);
		}
	}
	return t;
fail:
	tls_set_free(&t);
	return NULL;
}

void *
tls_set_ctx(const struct tls_set *t, size_t i)
{
	if (t == NULL)
		return NULL;
	struct tls_ctx *x = i < t->nl && t->lst[i] != NULL ? t->lst[i] : t->def;
	return x ? tls_ctx_ssl(x) : NULL;
}

void
tls_set_free(struct tls_set **tp)
{
	struct tls_set *t = *tp;
	if (t == NULL)
		return;
	tls_ctx_free(&t->def);
	for (size_t i = 0; i < t->nl; i++)
		tls_ctx_free(&t->lst[i]);
	free(t->lst);
	free(t);
	*tp = NULL;
}

/* Open a file to hand over: never a FIFO or device. */
static int
open_pem(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

struct tls_set *
tlsconf_load(const struct conf *c, size_t nl, char **error_r)
{
	struct item *items;
	size_t n = items_of(c, nl, &items);
	struct pem *p = xcalloc(n + 1, sizeof(*p));
	struct tls_set *t = NULL;

	for (size_t i = 0; i < n; i++) {
		p[i].it = items[i];
		int cfd = open_pem(items[i].cert), kfd = cfd < 0 ? -1 : open_pem(items[i].key);
		if (cfd < 0 || kfd < 0 || read_fd(cfd, &p[i].cert, &p[i].cl) < 0 ||
		    read_fd(kfd, &p[i].key, &p[i].kl) < 0) {
			*error_r = xasprintf("%s: %s", cfd < 0 || p[i].cert == NULL ? items[i].cert :
			    items[i].key, strerror(errno));
			if (cfd >= 0)
				close(cfd);
			if (kfd >= 0)
				close(kfd);
			goto out;
		}
		close(cfd);
		close(kfd);
	}
	t = build(p, n, nl, error_r);
out:
	pems_free(p, n);
	free(items);
	return t;
}

static int
send_msg(int sock, const struct item *it, int kind, int cfd, int kfd)
{
	struct tlsmsg m = { .magic = TLSMSG_MAGIC, .kind = (uint32_t)kind };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (it != NULL) {
		m.index = it->index;
		strlcpy(m.name, it->name, sizeof(m.name));
		strlcpy(m.cert, it->cert, sizeof(m.cert));
		strlcpy(m.key, it->key, sizeof(m.key));
	}
	if (cfd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
		int fds[2] = { cfd, kfd };
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	}
	ssize_t r;
	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof(m) ? 0 : -1;
}

int
tlsconf_send(int sock, const struct conf *c, size_t nl, char **error_r)
{
	struct item *items;
	size_t n = items_of(c, nl, &items);
	int *fds = xcalloc(2 * n + 1, sizeof(int));
	int rc = -1;

	for (size_t i = 0; i < 2 * n; i++)
		fds[i] = -1;
	/* Everything opens, or nothing is sent. */
	for (size_t i = 0; i < n; i++) {
		fds[2 * i] = open_pem(items[i].cert);
		fds[2 * i + 1] = fds[2 * i] < 0 ? -1 : open_pem(items[i].key);
		if (fds[2 * i + 1] < 0) {
			*error_r = xasprintf("%s: %s", fds[2 * i] < 0 ? items[i].cert : items[i].key,
			    strerror(errno));
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (send_msg(sock, &items[i], items[i].kind, fds[2 * i], fds[2 * i + 1]) < 0) {
			*error_r = xasprintf("sending certificates to the worker: %s", strerror(errno));
			goto out;
		}
	if (send_msg(sock, NULL, K_END, -1, -1) < 0) {
		*error_r = xasprintf("sending certificates to the worker: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < 2 * n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(items);
	return rc;
}

struct tlsconf_rx *
tlsconf_rx_new(size_t nl)
{
	struct tlsconf_rx *rx = xcalloc(1, sizeof(*rx));
	rx->nl = nl;
	return rx;
}

static void
rx_reset(struct tlsconf_rx *rx)
{
	pems_free(rx->p, rx->n);
	rx->p = NULL;
	rx->n = 0;
}

void
tlsconf_rx_free(struct tlsconf_rx **rxp)
{
	if (*rxp == NULL)
		return;
	rx_reset(*rxp);
	free(*rxp);
	*rxp = NULL;
}

int
tlsconf_rx_read(struct tlsconf_rx *rx, int sock, struct tls_set **set_r, char **error_r)
{
	for (;;) {
		struct tlsmsg m;
		union {
			char buf[CMSG_SPACE(2 * sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { &m, sizeof(m) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			.msg_controllen = sizeof(u.buf) };
		int fds[2] = { -1, -1 };

		ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
		if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(2 * sizeof(int)))
			memcpy(fds, CMSG_DATA(cm), sizeof(fds));
		bool ok = r == (ssize_t)sizeof(m) && m.magic == TLSMSG_MAGIC &&
		    !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && m.kind <= K_END &&
		    (m.kind == K_END) == (fds[0] < 0) && memchr(m.name, 0, sizeof(m.name)) &&
		    memchr(m.cert, 0, sizeof(m.cert)) && memchr(m.key, 0, sizeof(m.key));
		if (!ok) {
			for (int i = 0; i < 2; i++)
				if (fds[i] >= 0)
					close(fds[i]);
			rx_reset(rx);
			*error_r = xasprintf("bad certificate message from the parent%s",
			    r == 0 ? " (closed)" : "");
			return -1;
		}
		if (m.kind == K_END) {
			*set_r = build(rx->p, rx->n, rx->nl, error_r);
			rx_reset(rx);
			return *set_r != NULL ? 1 : -1;
		}
		rx->p = xreallocarray(rx->p, rx->n + 1, sizeof(*rx->p));
		struct pem *p = &rx->p[rx->n++];
		memset(p, 0, sizeof(*p));
		p->it.kind = (int)m.kind;
		p->it.index = m.index;
		strlcpy(p->it.name, m.name, sizeof(p->it.name));
		strlcpy(p->it.cert, m.cert, sizeof(p->it.cert));
		strlcpy(p->it.key, m.key, sizeof(p->it.key));
		int e1 = read_fd(fds[0], &p->cert, &p->cl);
		int e2 = e1 < 0 ? -1 : read_fd(fds[1], &p->key, &p->kl);
		close(fds[0]);
		close(fds[1]);
		if (e2 < 0) {
			*error_r = xasprintf("%s: %s", e1 < 0 ? m.cert : m.key, strerror(errno));
			rx_reset(rx);
			return -1;
		}
	}
}
