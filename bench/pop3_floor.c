/* pop3_floor.c - a POP3 responder that reads no mail: the floor of a POP3 benchmark client's
 * round trips on this machine, to put the servers' numbers in proportion.
 *
 * pop3_floor PORT MSGS SIZE
 *
 * Listens on 127.0.0.1:PORT and serves one connection at a time: USER, PASS, NOOP, RSET,
 * QUIT answer "+OK"; STAT answers "+OK MSGS MSGS*SIZE"; RETR answers "+OK SIZE octets" and a
 * fixed message of SIZE bytes (CRLF lines of text) with its ".", prepared once. One read()
 * per wake-up, one write() per answer, no other work. A server that does real work cannot
 * beat its round trip unless it keeps its CPU busy (spinning) between commands. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void
put(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: pop3_floor PORT MSGS SIZE\n");
		return 2;
	}
	int port = atoi(argv[1]);
	long msgs = atol(argv[2]), size = atol(argv[3]);
	if (port <= 0 || msgs < 0 || size < 64 || size > 1 << 20)
		return 2;
	char *msg = malloc((size_t)size + 64);
	int hl = snprintf(msg, 64, "+OK %ld octets\r\n", size);
	static const char line[] = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\r\n";
	long n = 0;
	while (n < size) {
		long k = size - n < (long)sizeof(line) - 1 ? size - n : (long)sizeof(line) - 1;
		memcpy(msg + hl + n, line, (size_t)k);
		n += k;
	}
	memcpy(msg + hl + size - 2, "\r\n", 2);
	memcpy(msg + hl + size, ".\r\n", 3);
	size_t msglen = (size_t)hl + (size_t)size + 3;

	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 16) != 0) {
		perror("pop3_floor: bind");
		return 1;
	}
	for (;;) {
		int c = accept(ls, NULL, NULL);
		if (c < 0)
			continue;
		put(c, "+OK ready\r\n", 11);
		char buf[4096];
		size_t have = 0;
		for (;;) {
			ssize_t r = read(c, buf + have, sizeof(buf) - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			char *nl;
			while ((nl = memchr(buf, '\n', have)) != NULL) {
				size_t l = (size_t)(nl - buf) + 1;
				char ans[64];
				if (strncasecmp(buf, "RETR", 4) == 0)
					put(c, msg, msglen);
				else if (strncasecmp(buf, "STAT", 4) == 0)
					put(c, ans, (size_t)snprintf(ans, sizeof(ans), "+OK %ld %ld\r\n", msgs,
					    msgs * size));
				else
					put(c, "+OK\r\n", 5);
				memmove(buf, buf + l, have - l);
				have -= l;
			}
			if (have == sizeof(buf))
				break;
		}
		close(c);
	}
}
