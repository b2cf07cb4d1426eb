/* imap_fetch_load.c - SELECT + UID FETCH 1:* timed by a client that costs little CPU.
 *
 * imap_fetch_load HOST PORT USER PASS [RUNS=1] [ITEMS]
 *
 * What ../shared/bench/imap_fetchall.py does (LOGIN, then per run SELECT INBOX and
 * "UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)", or ITEMS), in C: the response is
 * scanned, not parsed (line ends, {n} literals skipped, the tagged line checked), so the
 * client's CPU stays far below the server's and the time measured is the server's. The
 * Python client spends about 1 s of CPU per 100,000 messages, which is as much as a warm
 * server needs. Prints per run:
 *   run=N select=S fetch=F total=T bytes=B fetch_lines=L client_cpu=C
 * (seconds; client_cpu = this process's user+system time during the run) and exits 1 on
 * any NO/BAD or connection error.
 * Build: cc -O2 -Wall -o imap_fetch_load imap_fetch_load.c
 */
#define _GNU_SOURCE
#include <netdb.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"

static int fd;
static char buf[1 << 20];
static size_t blen, bpos;
static unsigned long long total_bytes;

static void
fill(void)
{
	if (bpos > 0 && bpos < blen)
		memmove(buf, buf + bpos, blen - bpos);
	blen -= bpos;
	bpos = 0;
	if (blen == sizeof(buf)) {
		fprintf(stderr, "line too long\n");
		exit(1);
	}
	ssize_t n = read(fd, buf + blen, sizeof(buf) - blen);
	if (n <= 0) {
		fprintf(stderr, "connection closed\n");
		exit(1);
	}
	blen += (size_t)n;
	total_bytes += (unsigned long long)n;
}

/* One response line (literals inside it skipped); its first bytes copied
 * into first (63 at most, NUL-terminated). */
static void
line(char *first)
{
	bool started = false;
	for (;;) {
		char *nl;
		while ((nl = memchr(buf + bpos, '\n', blen - bpos)) == NULL)
			fill();
		const char *p = buf + bpos, *e = nl;
		size_t len = (size_t)(nl - p) + 1;
		if (!started) {
			size_t k = len < 63 ? len : 63;
			memcpy(first, p, k);
			first[k] = '\0';
			started = true;
		}
		/* "{n}" (or "{n+}") at the end: n literal bytes, then the line goes on */
		if (e > p && e[-1] == '\r')
			e--;
		unsigned long long lit = 0;
		if (e - p >= 3 && e[-1] == '}') {
			const char *q = e - 2;
			if (*q == '+')
				q--;
			const char *last = q;
			while (q >= p && *q >= '0' && *q <= '9')
				q--;
			if (q >= p && *q == '{' && q < last)
				lit = strtoull(q + 1, NULL, 10);
		}
		bpos += len;
		if (lit == 0)
			return;
		while (lit > 0) {
			if (bpos == blen)
				fill();
			size_t k = blen - bpos < lit ? blen - bpos : (size_t)lit;
			bpos += k;
			lit -= k;
		}
	}
}

static void
send_cmd(const char *s)
{
	size_t n = strlen(s);
	if (write(fd, s, n) != (ssize_t)n) {
		perror("write");
		exit(1);
	}
}

/* Read up to the tagged reply; untagged lines counted. */
static unsigned long
until(const char *tag)
{
	char first[64];
	unsigned long lines = 0;
	size_t tl = strlen(tag);
	for (;;) {
		line(first);
		if (strncmp(first, tag, tl) == 0 && first[tl] == ' ') {
			if (strncmp(first + tl + 1, "OK", 2) != 0) {
				fprintf(stderr, "%s\n", first);
				exit(1);
			}
			return lines;
		}
		lines++;
	}
}

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s HOST PORT USER PASS [RUNS] [ITEMS]\n", argv[0]);
		return 2;
	}
	int runs = argc > 5 ? atoi(argv[5]) : 1;
	const char *items = argc > 6 ? argv[6] : "(UID FLAGS RFC822.SIZE ENVELOPE)";
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
		fprintf(stderr, "bad address\n");
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		perror("connect");
		return 1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	char first[64], cmd[1024];
	line(first);	/* greeting */
	snprintf(cmd, sizeof(cmd), "L LOGIN \"%s\" \"%s\"\r\n", argv[3], argv[4]);
	send_cmd(cmd);
	until("L");
	for (int r = 1; r <= runs; r++) {
		total_bytes = 0;
		double c0 = cpu(), t0 = now();
		send_cmd("S SELECT INBOX\r\n");
		until("S");
		double t1 = now();
		snprintf(cmd, sizeof(cmd), "F UID FETCH 1:* %s\r\n", items);
		send_cmd(cmd);
		unsigned long n = until("F");
		double t2 = now(), c1 = cpu();
		printf("run=%d select=%.4f fetch=%.4f total=%.4f bytes=%llu fetch_lines=%lu "
		    "client_cpu=%.4f\n", r, t1 - t0, t2 - t1, t2 - t0, total_bytes, n, c1 - c0);
		fflush(stdout);
		send_cmd("U UNSELECT\r\n");
		until("U");
	}
	send_cmd("Z LOGOUT\r\n");
	return 0;
}
