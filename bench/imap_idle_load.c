/* imap_idle_load.c - IMAP session set-up rate with a client that costs little CPU.
 *
 * imap_idle_load HOST PORT USERFMT PASS N [CONC=50] [HOLD_SECS=0]
 *
 * Opens N plain-text IMAP sessions, at most CONC being set up at a time (as
 * ../shared/bench/imap_idle_mem.py does with its semaphore of 50): greeting,
 * LOGIN "USERFMT % (i % 100 + 1)" PASS (USERFMT without %d: that literal name),
 * SELECT INBOX, IDLE until the "+" continuation. Each established session stays
 * open; after the last one (and HOLD_SECS) all get DONE + LOGOUT and are closed.
 * One epoll loop, no threads: imap_idle_mem.py's asyncio client needs about as
 * much CPU per session as estafeta does, which on two CPUs makes it part of what
 * is measured. Prints one line:
 *   result n=N ok=OK fail=F setup=S rate=R client_cpu=C lat_p50_ms=P lat_p99_ms=Q
 * rate = ok / setup (seconds from the first connect to the last "+"), client_cpu =
 * this process's user+system seconds during the set-up, lat = connect to "+".
 * Build: cc -O2 -Wall -o imap_idle_load imap_idle_load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"

enum st { S_CONNECT, S_GREETING, S_LOGIN, S_SELECT, S_IDLE, S_DONE, S_FAILED };

struct sess {
	int fd;
	enum st st;
	double t0;
	size_t len;
	char buf[8192];
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static const char *ufmt, *pass;
static int efd;
static char first_err[256];

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int
start(struct sess *s)
{
	s->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->t0 = now();
	s->len = 0;
	s->st = S_GREETING;
	if (connect(s->fd, (struct sockaddr *)&addr, addrlen) < 0 && errno != EINPROGRESS) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	return epoll_ctl(efd, EPOLL_CTL_ADD, s->fd, &ev);
}

static int
sendstr(struct sess *s, const char *str)
{
	size_t n = strlen(str);
	ssize_t w = write(s->fd, str, n);
	return w == (ssize_t)n ? 0 : -1;	/* a few dozen bytes on a fresh socket */
}

static void
fail(struct sess *s, const char *why, const char *line)
{
	if (!first_err[0])
		snprintf(first_err, sizeof(first_err), "%s: %.200s", why, line ? line : "");
	s->st = S_FAILED;
	epoll_ctl(efd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
}

/* One complete line: advance the state. 1 = established (IDLE), 0 = continue, -1 = failed. */
static int
on_line(struct sess *s, long idx, const char *l)
{
	char cmd[512];
	switch (s->st) {
	case S_GREETING:
		if (strncmp(l, "* OK", 4) != 0) {
			fail(s, "greeting", l);
			return -1;
		}
		{
			char user[128];
			if (strchr(ufmt, '%'))
				snprintf(user, sizeof(user), ufmt, (int)(idx % 100 + 1));
			else
				snprintf(user, sizeof(user), "%s", ufmt);
			snprintf(cmd, sizeof(cmd), "a LOGIN \"%s\" \"%s\"\r\n", user, pass);
		}
		s->st = S_LOGIN;
		break;
	case S_LOGIN:
		if (strncmp(l, "a ", 2) != 0)
			return 0;
		if (strncmp(l, "a OK", 4) != 0) {
			fail(s, "LOGIN", l);
			return -1;
		}
		snprintf(cmd, sizeof(cmd), "b SELECT INBOX\r\n");
		s->st = S_SELECT;
		break;
	case S_SELECT:
		if (strncmp(l, "b ", 2) != 0)
			return 0;
		if (strncmp(l, "b OK", 4) != 0) {
			fail(s, "SELECT", l);
			return -1;
		}
		snprintf(cmd, sizeof(cmd), "c IDLE\r\n");
		s->st = S_IDLE;
		break;
	case S_IDLE:
		if (l[0] == '+') {
			s->st = S_DONE;
			return 1;
		}
		if (strncmp(l, "c ", 2) == 0) {
			fail(s, "IDLE", l);
			return -1;
		}
		return 0;
	default:
		return 0;
	}
	if (sendstr(s, cmd) < 0) {
		fail(s, "write", strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s HOST PORT USERFMT PASS N [CONC=50] [HOLD_SECS=0]\n", argv[0]);
		return 2;
	}
	const char *host = argv[1], *port = argv[2];
	ufmt = argv[3];
	pass = argv[4];
	long n = atol(argv[5]);
	long conc = argc > 6 ? atol(argv[6]) : 50;
	double hold = argc > 7 ? atof(argv[7]) : 0;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		fprintf(stderr, "cannot resolve %s:%s\n", host, port);
		return 1;
	}
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	struct sess *ss = calloc((size_t)n, sizeof(*ss));
	double *lat = calloc((size_t)n, sizeof(*lat));
	if (ss == NULL || lat == NULL)
		return 1;
	efd = epoll_create1(EPOLL_CLOEXEC);

	double c0 = cpu(), t0 = now(), tl = t0;
	long next = 0, active = 0, ok = 0, failed = 0;
	struct epoll_event evs[256];
	while (ok + failed < n) {
		while (active < conc && next < n) {
			struct sess *s = &ss[next];
			if (start(s) < 0) {
				if (!first_err[0])
					snprintf(first_err, sizeof(first_err), "connect: %s", strerror(errno));
				s->st = S_FAILED;
				failed++;
			} else
				active++;
			next++;
		}
		int k = epoll_wait(efd, evs, 256, 30000);
		if (k == 0) {
			fprintf(stderr, "no progress for 30 s (%ld ok, %ld failed, %ld in set-up)\n", ok, failed, active);
			break;
		}
		for (int i = 0; i < k; i++) {
			struct sess *s = evs[i].data.ptr;
			long idx = s - ss;
			if (s->fd < 0 || s->st == S_DONE || s->st == S_FAILED)
				continue;
			ssize_t r = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				s->buf[s->len] = '\0';
				fail(s, r == 0 ? "closed" : strerror(errno), s->buf);
				active--;
				failed++;
				continue;
			}
			s->len += (size_t)r;
			s->buf[s->len] = '\0';
			char *p = s->buf, *e;
			int res = 0;
			while (res == 0 && (e = strstr(p, "\r\n")) != NULL) {
				*e = '\0';
				res = on_line(s, idx, p);
				p = e + 2;
			}
			if (res == 1) {
				lat[ok++] = now() - s->t0;
				tl = now();
				active--;
				epoll_ctl(efd, EPOLL_CTL_DEL, s->fd, NULL);	/* idle from here on */
			} else if (res < 0) {
				active--;
				failed++;
			} else {
				size_t rest = s->len - (size_t)(p - s->buf);
				memmove(s->buf, p, rest);
				s->len = rest;
				if (s->len >= sizeof(s->buf) - 1) {	/* a line longer than the buffer: skip it */
					s->len = 0;
				}
			}
		}
	}
	double setup = tl - t0, ccpu = cpu() - c0;
	qsort(lat, (size_t)ok, sizeof(*lat), cmpd);
	printf("result n=%ld ok=%ld fail=%ld setup=%.3f rate=%.1f client_cpu=%.3f lat_p50_ms=%.1f lat_p99_ms=%.1f%s%s\n",
	    n, ok, failed, setup, setup > 0 ? ok / setup : 0.0, ccpu,
	    ok ? 1000 * lat[ok / 2] : 0.0, ok ? 1000 * lat[(size_t)(ok * 0.99)] : 0.0,
	    first_err[0] ? " first_error=" : "", first_err);
	fflush(stdout);
	if (hold > 0) {
		struct timespec ts = { (time_t)hold, (long)((hold - (time_t)hold) * 1e9) };
		nanosleep(&ts, NULL);
	}
	for (long i = 0; i < n; i++)
		if (ss[i].st == S_DONE && ss[i].fd >= 0)
			if (sendstr(&ss[i], "DONE\r\nz LOGOUT\r\n") < 0) {
				/* closing anyway */
			}
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	for (long i = 0; i < n; i++)
		if (ss[i].fd >= 0)
			close(ss[i].fd);
	return ok == n ? 0 : 1;
}
