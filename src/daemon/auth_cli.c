/* auth_cli: `estafeta auth test NAME` — a login through the running daemon's
 * auth service, as a mail client's would be (Dovecot's `doveadm auth test`). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/authproto.h"
#include "auth/sasl.h"
#include "conf/conf.h"
#include "daemon/cli.h"
#include "lib/util.h"

static int
usage(FILE *fp)
{
	fprintf(fp, "usage: estafeta auth [-c FILE] test [--password-stdin] NAME\n"
	    "  Log in as NAME through the running daemon's auth service (every 'users'\n"
	    "  backend, the same checks and failure delay as a mail client gets) and say\n"
	    "  whether it succeeded. The password is asked on the terminal, or read from\n"
	    "  the first line of standard input with --password-stdin.\n");
	return fp == stdout ? 0 : 2;
}

static const char *
default_conf(void)
{
	const char *e = getenv("ESTAFETA_CONF");
	return e && *e ? e : "/etc/estafeta/estafeta.conf";
}

/* One LF-terminated line from fd (at most sz-1 bytes), unbuffered. */
static int
read_line(int fd, char *buf, size_t sz)
{
	size_t n = 0;
	char ch;
	for (;;) {
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (ch == '\n')
			break;
		if (n + 1 < sz)
			buf[n++] = ch;
	}
	buf[n] = '\0';
	return (int)n;
}

int
auth_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "password-stdin", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cf = default_conf();
	bool from_stdin = false;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cf = optarg; break;
		case 'P': from_stdin = true; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "test") != 0)
		return usage(stderr);
	const char *name = argv[optind + 1];
	if (name[0] == '\0' || strlen(name) > SASL_NAME_MAX) {
		fprintf(stderr, "estafeta: bad user name\n");
		return 1;
	}

	struct conf c;
	char *err = NULL;
	if (conf_load(cf, &c, &err) < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		free(err);
		return 1;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/private/auth", c.spool);
	conf_free(&c);

	char pw[SASL_PASS_MAX + 1], prompt[300];
	snprintf(prompt, sizeof(prompt), "Password for %s: ", name);
	if (cli_password_once(from_stdin, prompt, pw, sizeof(pw)) < 0)
		return 1;

	/* PLAIN: NUL authcid NUL password, base64. */
	size_t nl = strlen(name), pl = strlen(pw);
	unsigned char msg[2 + SASL_NAME_MAX + SASL_PASS_MAX];
	msg[0] = '\0';
	memcpy(msg + 1, name, nl);
	msg[1 + nl] = '\0';
	memcpy(msg + 2 + nl, pw, pl);
	char b64[2 * sizeof(msg) + 8];
	b64_encode(msg, 2 + nl + pl, b64, sizeof(b64));
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(msg, sizeof(msg));

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "estafeta: %s: %s (is the daemon running? as root?)\n", sun.sun_path,
		    strerror(errno));
		explicit_bzero(b64, sizeof(b64));
		return 1;
	}
	struct timeval tv = { 60, 0 };	/* the failure delay is at most 8 x auth_failure_delay */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char *req = xasprintf("VERSION\t1\t2\nCPID\t%d\nAUTH\t1\tPLAIN\tservice=cli\tsecured\t"
	    "nologin\trip=local\tresp=%s\n", (int)getpid(), b64);
	explicit_bzero(b64, sizeof(b64));
	int rc = write_all(fd, req, strlen(req));
	explicit_bzero(req, strlen(req));
	free(req);
	if (rc < 0) {
		fprintf(stderr, "estafeta: writing to the auth service: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	char line[AUTHPROTO_LINE_MAX + 1];
	for (;;) {
		int n = read_line(fd, line, sizeof(line));
		if (n < 0) {
			fprintf(stderr, "estafeta: no answer from the auth service\n");
			close(fd);
			return 1;
		}
		char *argv2[AUTHPROTO_ARGS_MAX];
		int ac = authproto_split(line, (size_t)n, argv2, AUTHPROTO_ARGS_MAX);
		if (ac < 2 || strcmp(argv2[1], "1") != 0 || (strcmp(argv2[0], "OK") != 0 &&
		    strcmp(argv2[0], "FAIL") != 0 && strcmp(argv2[0], "CONT") != 0))
			continue;	/* the handshake: VERSION, MECH, SPID, ... */
		const char *user = NULL, *reason = NULL;
		for (int i = 2; i < ac; i++) {
			if (strncmp(argv2[i], "user=", 5) == 0)
				user = argv2[i] + 5;
			else if (strncmp(argv2[i], "reason=", 7) == 0)
				reason = argv2[i] + 7;
		}
		close(fd);
		if (strcmp(argv2[0], "OK") == 0) {
			printf("passdb: %s auth succeeded (user=%s)\n", name, user ? user : name);
			return 0;
		}
		if (strcmp(argv2[0], "FAIL") == 0) {
			printf("passdb: %s auth failed%s%s\n", name, reason ? ": " : "",
			    reason ? reason : "");
			return 77;
		}
		fprintf(stderr, "estafeta: unexpected answer from the auth service\n");
		return 1;
	}
}
