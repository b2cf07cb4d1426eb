/* pop3_load.c - what ../shared/bench/pop3_bench.py does, timed by a client that costs little CPU.
 *
 * pop3_load HOST PORT USER PASS [RUNS=1]
 *
 * Per run: connect, USER/PASS, STAT, then RETR 1..N one after another (no pipelining, as a
 * client downloading a mailbox), each answer read to its "." line (scanned for CRLF.CRLF,
 * not parsed), QUIT without DELE. The Python client spends 21-23 us of CPU per message, as
 * much as a server's whole work, so its round trips hide the servers' difference; this one
 * spends a few. Prints per run:
 *   run=N msgs=M login+stat=S retr_all=R total=T bytes=B client_cpu=C
 * (seconds; client_cpu = this process's user+system time during the run) and exits 1 on any
 * -ERR or connection error.
 * Build: cc -O2 -Wall -o pop3_load pop3_load.c
 */
#define _GNU_SOURCE
#include <netdb.h>
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
	if (bpos > 0) {
		memmove(buf, buf + bpos, blen - bpos);
		blen -= bpos;
		bpos = 0;
	}
	if (blen == sizeof(buf)) {
		fprintf(stderr, "answer too long\n");
		exit(1);
	}
	ssize_t n = recv(fd, buf + blen, sizeof(buf) - blen, 0);
	if (n <= 0) {
		fprintf(stderr, "connection closed\n");
		exit(1);
	}
	blen += (size_t)n;
	total_bytes += (unsigned long long)n;
}

/* One line (without CRLF, NUL-terminated in place); exits on -ERR. */
static char *
line(void)
{
	for (;;) {
		char *e = memmem(buf + bpos, blen - bpos, "\r\n", 2);
		if (e != NULL) {
			char *l = buf + bpos;
			*e = '\0';
			bpos = (size_t)(e + 2 - buf);
			if (strncmp(l, "+OK", 3) != 0) {
				fprintf(stderr, "error: %s\n", l);
				exit(1);
			}
			return l;
		}
		fill();
	}
}

/* The rest of a multi-line answer, through its CRLF.CRLF (the first line was read). */
static void
multi(void)
{
	size_t from = bpos;
	/* the end may follow the status line directly: ".\r\n" at the start */
	for (;;) {
		if (blen - bpos >= 3 && from == bpos && memcmp(buf + bpos, ".\r\n", 3) == 0) {
			bpos += 3;
			return;
		}
		char *e = blen - from >= 5 ? memmem(buf + from, blen - from, "\r\n.\r\n", 5) : NULL;
		if (e != NULL) {
			bpos = (size_t)(e + 5 - buf);
			return;
		}
		size_t keep = blen - from > 4 ? blen - 4 : from;	/* a split "\r\n.\r\n" */
		keep -= bpos;
		fill();
		from = bpos + keep;
	}
}

static void
cmd(const char *fmt, const char *arg)
{
	char out[512];
	int n = snprintf(out, sizeof(out), fmt, arg);
	if (send(fd, out, (size_t)n, 0) != n) {
		perror("send");
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: pop3_load HOST PORT USER PASS [RUNS]\n");
		return 2;
	}
	int runs = argc > 5 ? atoi(argv[5]) : 1;
	for (int r = 1; r <= runs; r++) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
			fprintf(stderr, "cannot resolve %s\n", argv[1]);
			return 1;
		}
		double c0 = cpu(), t0 = now();
		total_bytes = 0;
		blen = bpos = 0;
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			perror("connect");
			return 1;
		}
		freeaddrinfo(ai);
		line();
		cmd("USER %s\r\n", argv[3]);
		line();
		cmd("PASS %s\r\n", argv[4]);
		line();
		cmd("STAT%s\r\n", "");
		long n = strtol(line() + 3, NULL, 10);
		double t1 = now();
		char num[24];
		for (long i = 1; i <= n; i++) {
			snprintf(num, sizeof(num), "%ld", i);
			cmd("RETR %s\r\n", num);
			line();
			multi();
		}
		double t2 = now();
		cmd("QUIT%s\r\n", "");
		line();
		close(fd);
		printf("run=%d msgs=%ld login+stat=%.3f retr_all=%.3f total=%.3f bytes=%llu client_cpu=%.3f\n",
		    r, n, t1 - t0, t2 - t1, t2 - t0, total_bytes, cpu() - c0);
		fflush(stdout);
	}
	return 0;
}
