/*
 * submission_load.c - load generator for SMTP submission (port 587 style):
 * connect, EHLO, STARTTLS, EHLO, AUTH PLAIN (initial response), MAIL, RCPT,
 * DATA (SIZE bytes), QUIT; one message per session, CONC concurrent sessions.
 * Every session makes a full TLS handshake (no session resumption, no tickets).
 *
 * Written in C with OpenSSL, non-blocking sockets and one epoll loop, because on
 * a 2-CPU machine the client shares the CPUs with the server under test: a
 * threaded smtplib client costs about 4.7 ms of CPU per session and tops out
 * near 230 sessions/s (the GIL), 50 blocking threads in C about 1.2 ms, this
 * loop about 0.9 ms. bench/submission_vs_postfix.sh prints the client's CPU per
 * session next to the server's.
 *
 * Build:  cc -O2 -o submission_load bench/submission_load.c -lssl -lcrypto -lpthread
 *
 * Load:   submission_load load HOST PORT USER PASS RCPT CONC COUNT SIZE
 *         (LOAD_THREADS=N splits the sessions over N event loops; default 1)
 *         prints one line:
 *         result sessions=N ok=N fail=N elapsed=S rate=R client_cpu=S client_user=S
 *                client_sys=S lat_p50_ms=X lat_p99_ms=X tls=PROTO/CIPHER/KEY first_error="..."
 * Idle:   submission_load idle HOST PORT USER PASS N1 N2
 *         opens N1 authenticated TLS sessions one after the other (STARTTLS, EHLO,
 *         AUTH), prints "ready N1 ok=N fail=N" and waits for SIGUSR1; then opens
 *         more up to N2, prints "ready N2 ...", waits for SIGUSR1 again, then QUITs
 *         every session and prints "done ok=N fail=N".
 * Exit status: 0 when every session succeeded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	SSL *ssl;
	char buf[8192];
	size_t len, off;
};

static SSL_CTX *ctx;
static struct sockaddr_in target;
static const char *user, *pass, *rcpt;
static char auth_b64[1024];
static char *body;
static size_t body_len;
static int count;
static atomic_int next_session, n_ok, n_fail;
static double *lat_ms;
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static char first_error[256];
static char tls_info[128];

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
set_error(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&err_mu);
	if (first_error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(first_error, sizeof(first_error), fmt, ap);
		va_end(ap);
		for (char *p = first_error; *p; p++)
			if (*p == '"' || *p == '\r' || *p == '\n')
				*p = ' ';
	}
	pthread_mutex_unlock(&err_mu);
}

static size_t
b64(const unsigned char *in, size_t n, char *out)
{
	static const char t[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static int
conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, (int)n);
			if (r <= 0)
				return -1;
			w = r;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
conn_fill(struct conn *c)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		return -1;
	for (;;) {
		ssize_t r;
		if (c->ssl != NULL) {
			int s = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
			r = s > 0 ? s : -1;
		} else {
			r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
			if (r < 0 && errno == EINTR)
				continue;
		}
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
		return 0;
	}
}

/* One complete reply from what is buffered: its code (all its lines consumed, the last
 * one copied to last), 0 when it is not complete yet, -1 when malformed. */
static int
parse_reply(struct conn *c, char *last, size_t lastsz)
{
	for (;;) {
		char *s = c->buf + c->off;
		char *nl = memchr(s, '\n', c->len - c->off);
		if (nl == NULL)
			return 0;
		size_t l = (size_t)(nl - s) + 1;
		c->off += l;
		if (l < 4 || s[0] < '1' || s[0] > '5')
			return -1;
		if (s[3] == '-')
			continue;
		if (last != NULL) {
			size_t k = l < lastsz ? l : lastsz - 1;
			memcpy(last, s, k);
			last[k] = '\0';
		}
		return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	}
}

/* One reply, reading (blocking) as needed; the code or -1. */
static int
reply(struct conn *c, char *last, size_t lastsz)
{
	for (;;) {
		int r = parse_reply(c, last, lastsz);
		if (r != 0)
			return r;
		if (conn_fill(c) < 0)
			return -1;
	}
}

static int
cmd(struct conn *c, const char *line, int want, const char *what)
{
	char last[200];
	if (line != NULL && conn_write(c, line, strlen(line)) < 0) {
		set_error("%s: write failed", what);
		return -1;
	}
	int code = reply(c, last, sizeof(last));
	if (code != want) {
		if (code < 0)
			set_error("%s: connection lost", what);
		else
			set_error("%s: %s", what, last);
		return -1;
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);	/* our close_notify; no wait for theirs */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The protocol, cipher and key of the first handshake, for the report. */
static void
note_tls(SSL *ssl)
{
	pthread_mutex_lock(&err_mu);
	if (tls_info[0] == '\0') {
		X509 *crt = SSL_get0_peer_certificate(ssl);
		EVP_PKEY *pk = crt ? X509_get0_pubkey(crt) : NULL;
		snprintf(tls_info, sizeof(tls_info), "%s/%s/%s-%d", SSL_get_version(ssl),
		    SSL_get_cipher_name(ssl), pk ? OBJ_nid2sn(EVP_PKEY_get_base_id(pk)) : "?",
		    pk ? EVP_PKEY_get_bits(pk) : 0);
	}
	pthread_mutex_unlock(&err_mu);
}

/* Up to and including AUTH: 0 or -1 (connection closed). */
static int
open_session(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		set_error("socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = { 60, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
		set_error("connect: %s", strerror(errno));
		goto fail;
	}
	if (cmd(c, NULL, 220, "banner") < 0 || cmd(c, "EHLO bench.client\r\n", 250, "EHLO") < 0 ||
	    cmd(c, "STARTTLS\r\n", 220, "STARTTLS") < 0)
		goto fail;
	if (c->off != c->len) {
		set_error("data after the STARTTLS reply");
		goto fail;
	}
	c->len = c->off = 0;
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "bench.localhost");
	if (SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();
		set_error("TLS handshake: %s", e ? ERR_error_string(e, NULL) : "failed");
		ERR_clear_error();
		goto fail;
	}
	note_tls(c->ssl);
	char line[1100];
	snprintf(line, sizeof(line), "AUTH PLAIN %s\r\n", auth_b64);
	if (cmd(c, "EHLO bench.client\r\n", 250, "EHLO in TLS") < 0 ||
	    cmd(c, line, 235, "AUTH PLAIN") < 0)
		goto fail;
	return 0;
fail:
	ERR_clear_error();
	conn_close(c);
	return -1;
}

/* ---- load mode: one epoll loop per thread, non-blocking sockets ---- */

enum lstate { L_CONNECT, L_BANNER, L_EHLO1, L_STARTTLS, L_HANDSHAKE, L_EHLO2, L_AUTH, L_MAIL,
	L_RCPT, L_DATA, L_BODY, L_QUIT };
static const char *lstate_name[] = { "connect", "banner", "EHLO", "STARTTLS", "TLS handshake",
	"EHLO in TLS", "AUTH PLAIN", "MAIL", "RCPT", "DATA", "end of DATA", "QUIT" };
static const int lstate_want[] = { 0, 220, 250, 220, 0, 250, 235, 250, 250, 354, 250, 221 };

struct lconn {
	struct conn c;
	enum lstate st;
	int idx;
	double t0;
};

struct lloop {
	int ep;
	int n;
	struct lconn *cs;
};

static char mail_cmd[600], rcpt_cmd[600], auth_cmd[1100];

/* Wait (briefly blocking the loop; rare on loopback) until fd is readable/writable. */
static int
wait_fd(int fd, short ev)
{
	struct pollfd p = { fd, ev, 0 };
	return poll(&p, 1, 60000) == 1 ? 0 : -1;
}

static int
lwrite(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, (int)n);
			if (r > 0) {
				p += r;
				n -= (size_t)r;
				continue;
			}
			int e = SSL_get_error(c->ssl, r);
			if ((e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) ||
			    wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN) < 0)
				return -1;
		} else {
			ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w > 0) {
				p += w;
				n -= (size_t)w;
				continue;
			}
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || w == 0 ||
			    (errno == EAGAIN && wait_fd(c->fd, POLLOUT) < 0))
				return -1;
		}
	}
	return 0;
}

/* Read what is there: 1 data (or nothing yet), -1 closed or error. */
static int
lread(struct conn *c)
{
	for (;;) {
		if (c->off > 0 && c->off == c->len)
			c->off = c->len = 0;
		if (c->len == sizeof(c->buf))
			return -1;
		if (c->ssl != NULL) {
			int r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
			if (r > 0) {
				c->len += (size_t)r;
				continue;
			}
			int e = SSL_get_error(c->ssl, r);
			return e == SSL_ERROR_WANT_READ ? 1 : -1;
		}
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r > 0) {
			c->len += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 && errno == EAGAIN ? 1 : -1;
	}
}

static void lstart(struct lloop *L, struct lconn *x);

static void
lfinish(struct lloop *L, struct lconn *x, bool ok)
{
	if (ok) {
		atomic_fetch_add(&n_ok, 1);
		lat_ms[x->idx] = (now() - x->t0) * 1000;
	} else {
		atomic_fetch_add(&n_fail, 1);
		lat_ms[x->idx] = -1;
	}
	ERR_clear_error();
	conn_close(&x->c);	/* closing the fd also takes it out of the epoll set */
	lstart(L, x);
}

static void
lstart(struct lloop *L, struct lconn *x)
{
	int i = atomic_fetch_add(&next_session, 1);
	if (i >= count) {
		x->idx = -1;
		L->n--;
		return;
	}
	memset(&x->c, 0, sizeof(x->c));
	x->idx = i;
	x->t0 = now();
	x->st = L_CONNECT;
	x->c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->c.fd < 0) {
		set_error("socket: %s", strerror(errno));
		lfinish(L, x, false);
		return;
	}
	int one = 1;
	setsockopt(x->c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(x->c.fd, (struct sockaddr *)&target, sizeof(target)) < 0 &&
	    errno != EINPROGRESS) {
		set_error("connect: %s", strerror(errno));
		lfinish(L, x, false);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = x };
	if (epoll_ctl(L->ep, EPOLL_CTL_ADD, x->c.fd, &ev) < 0) {
		set_error("epoll_ctl: %s", strerror(errno));
		lfinish(L, x, false);
	}
}

static bool
lsend(struct lloop *L, struct lconn *x, const char *p, size_t n, enum lstate next)
{
	if (lwrite(&x->c, p, n) < 0) {
		set_error("%s: write failed", lstate_name[next]);
		lfinish(L, x, false);
		return false;
	}
	x->st = next;
	return true;
}

static void
lhandshake(struct lloop *L, struct lconn *x)
{
	for (;;) {
		int r = SSL_connect(x->c.ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(x->c.ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return;		/* epoll tells when the server's flight is there */
		if (e == SSL_ERROR_WANT_WRITE && wait_fd(x->c.fd, POLLOUT) == 0)
			continue;
		unsigned long err = ERR_get_error();
		set_error("TLS handshake: %s", err ? ERR_error_string(err, NULL) : "failed");
		lfinish(L, x, false);
		return;
	}
	note_tls(x->c.ssl);
	lsend(L, x, "EHLO bench.client\r\n", 19, L_EHLO2);
}

static void
levent(struct lloop *L, struct lconn *x)
{
	if (x->st == L_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(x->c.fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			set_error("connect: %s", strerror(err));
			lfinish(L, x, false);
			return;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = x };
		epoll_ctl(L->ep, EPOLL_CTL_MOD, x->c.fd, &ev);
		x->st = L_BANNER;
		return;
	}
	if (x->st == L_HANDSHAKE) {
		lhandshake(L, x);
		return;
	}
	int rd = lread(&x->c);
	char last[200];
	int code = parse_reply(&x->c, last, sizeof(last));
	if (code == 0) {
		if (rd < 0) {
			set_error("%s: connection lost", lstate_name[x->st]);
			lfinish(L, x, false);
		}
		return;
	}
	if (code != lstate_want[x->st]) {
		if (code < 0)
			set_error("%s: malformed reply", lstate_name[x->st]);
		else
			set_error("%s: %s", lstate_name[x->st], last);
		lfinish(L, x, false);
		return;
	}
	switch (x->st) {
	case L_BANNER:
		lsend(L, x, "EHLO bench.client\r\n", 19, L_EHLO1);
		break;
	case L_EHLO1:
		lsend(L, x, "STARTTLS\r\n", 10, L_STARTTLS);
		break;
	case L_STARTTLS:
		if (x->c.off != x->c.len) {
			set_error("data after the STARTTLS reply");
			lfinish(L, x, false);
			return;
		}
		x->c.off = x->c.len = 0;
		x->c.ssl = SSL_new(ctx);
		SSL_set_fd(x->c.ssl, x->c.fd);
		SSL_set_tlsext_host_name(x->c.ssl, "bench.localhost");
		x->st = L_HANDSHAKE;
		lhandshake(L, x);
		break;
	case L_EHLO2:
		lsend(L, x, auth_cmd, strlen(auth_cmd), L_AUTH);
		break;
	case L_AUTH:
		lsend(L, x, mail_cmd, strlen(mail_cmd), L_MAIL);
		break;
	case L_MAIL:
		lsend(L, x, rcpt_cmd, strlen(rcpt_cmd), L_RCPT);
		break;
	case L_RCPT:
		lsend(L, x, "DATA\r\n", 6, L_DATA);
		break;
	case L_DATA:
		lsend(L, x, body, body_len, L_BODY);
		break;
	case L_BODY:
		lsend(L, x, "QUIT\r\n", 6, L_QUIT);
		break;
	case L_QUIT:
		lfinish(L, x, true);
		break;
	default:
		break;
	}
}

struct lthread_arg {
	int conc;
};

static void *
load_thread(void *arg)
{
	struct lthread_arg *a = arg;
	struct lloop L = { .ep = epoll_create1(EPOLL_CLOEXEC), .n = a->conc };
	L.cs = calloc((size_t)a->conc, sizeof(*L.cs));
	for (int i = 0; i < a->conc; i++)
		lstart(&L, &L.cs[i]);
	struct epoll_event evs[64];
	double last_check = now();
	while (L.n > 0) {
		int n = epoll_wait(L.ep, evs, 64, 1000);
		for (int i = 0; i < n; i++)
			levent(&L, evs[i].data.ptr);
		if (now() - last_check > 1) {	/* a session stuck for 60 s fails */
			last_check = now();
			for (int i = 0; i < a->conc; i++)
				if (L.cs[i].idx >= 0 && last_check - L.cs[i].t0 > 60) {
					set_error("%s: timeout", lstate_name[L.cs[i].st]);
					lfinish(&L, &L.cs[i], false);
				}
		}
	}
	close(L.ep);
	free(L.cs);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
make_body(size_t size)
{
	body = malloc(size + 512);
	int n = snprintf(body, size + 512,
	    "From: <%s>\r\nTo: <%s>\r\nSubject: submission benchmark\r\n"
	    "Message-ID: <bench.%ld@bench.client>\r\n\r\n", rcpt, rcpt, (long)getpid());
	size_t o = (size_t)n;
	while (o + 5 < size) {
		size_t l = size - o - 5 < 76 ? size - o - 5 : 76;
		for (size_t k = 0; k < l; k++, o++)
			body[o] = (char)('a' + o % 26);
		body[o++] = '\r';
		body[o++] = '\n';
	}
	memcpy(body + o, ".\r\n", 3);
	body_len = o + 3;
}

static volatile sig_atomic_t go;

static void
on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void
wait_usr1(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	while (!go)
		sigsuspend(&none);
	go = 0;
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

static int
usage(void)
{
	fprintf(stderr, "usage: submission_load load HOST PORT USER PASS RCPT CONC COUNT SIZE\n"
	    "       submission_load idle HOST PORT USER PASS N1 N2\n");
	return 2;
}

int
main(int argc, char **argv)
{
	int load;
	if (argc == 10 && strcmp(argv[1], "load") == 0)
		load = 1;
	else if (argc == 8 && strcmp(argv[1], "idle") == 0)
		load = 0;
	else
		return usage();
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((unsigned short)atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &target.sin_addr) != 1)
		return usage();
	user = argv[4];
	pass = argv[5];
	{
		unsigned char raw[600];
		size_t ul = strlen(user), pl = strlen(pass);
		if (ul + pl + 2 > sizeof(raw))
			return usage();
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		b64(raw, ul + pl + 2, auth_b64);
	}
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);	/* a full handshake each time */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	if (!load) {
		int n1 = atoi(argv[6]), n2 = atoi(argv[7]);
		if (n1 < 0 || n2 < n1)
			return usage();
		struct conn *cs = calloc((size_t)n2, sizeof(*cs));
		int ok = 0, fail = 0;
		signal(SIGUSR1, on_usr1);
		for (int stage = 0; stage < 2; stage++) {
			int upto = stage == 0 ? n1 : n2;
			for (int i = stage == 0 ? 0 : n1; i < upto; i++) {
				if (open_session(&cs[i]) == 0)
					ok++;
				else
					fail++;
			}
			printf("ready %d ok=%d fail=%d%s%s%s\n", upto, ok, fail,
			    first_error[0] ? " first_error=\"" : "", first_error,
			    first_error[0] ? "\"" : "");
			fflush(stdout);
			wait_usr1();
		}
		for (int i = 0; i < n2; i++)
			if (cs[i].fd >= 0) {
				cmd(&cs[i], "QUIT\r\n", 221, "QUIT");
				conn_close(&cs[i]);
			}
		printf("done ok=%d fail=%d\n", ok, fail);
		return fail ? 1 : 0;
	}

	rcpt = argv[6];
	int conc = atoi(argv[7]);
	count = atoi(argv[8]);
	make_body((size_t)atol(argv[9]));
	if (conc < 1 || count < 1)
		return usage();
	snprintf(mail_cmd, sizeof(mail_cmd), "MAIL FROM:<%s> SIZE=%zu\r\n", rcpt, body_len);
	snprintf(rcpt_cmd, sizeof(rcpt_cmd), "RCPT TO:<%s>\r\n", rcpt);
	snprintf(auth_cmd, sizeof(auth_cmd), "AUTH PLAIN %s\r\n", auth_b64);
	const char *nt_env = getenv("LOAD_THREADS");
	int nt = nt_env ? atoi(nt_env) : 1;
	if (nt < 1)
		nt = 1;
	if (nt > conc)
		nt = conc;
	lat_ms = calloc((size_t)count, sizeof(double));
	pthread_t *th = calloc((size_t)nt, sizeof(*th));
	struct lthread_arg *ta = calloc((size_t)nt, sizeof(*ta));
	double t0 = now();
	for (int i = 0; i < nt; i++) {
		ta[i].conc = conc / nt + (i < conc % nt);
		pthread_create(&th[i], NULL, load_thread, &ta[i]);
	}
	for (int i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	double el = now() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	double cs = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	int nl = 0;
	for (int i = 0; i < count; i++)
		if (lat_ms[i] >= 0)
			lat_ms[nl++] = lat_ms[i];
	qsort(lat_ms, (size_t)nl, sizeof(double), cmp_double);
	int ok = atomic_load(&n_ok), fail = atomic_load(&n_fail);
	printf("result sessions=%d ok=%d fail=%d elapsed=%.3f rate=%.1f client_cpu=%.2f "
	    "client_user=%.2f client_sys=%.2f lat_p50_ms=%.1f lat_p99_ms=%.1f tls=%s first_error=\"%s\"\n",
	    count, ok, fail, el, ok / el, cu + cs, cu, cs, nl ? lat_ms[nl / 2] : -1.0,
	    nl ? lat_ms[(nl * 99) / 100] : -1.0, tls_info[0] ? tls_info : "-", first_error);
	return fail ? 1 : 0;
}
