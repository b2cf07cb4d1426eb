/* sendmail(1) compatibility: read a message on stdin and submit it over the
 * daemon's local SMTP socket, so that local mail takes the same intake path
 * and checks as mail from the network. */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf/conf.h"
#include "daemon/cli.h"
#include "lib/util.h"
#include "mail/addrlist.h"

#define MSG_MAX ((size_t)1 << 31)
#define IO_TIMEOUT_MS (300 * 1000)

struct strv {
	char **v;
	size_t n;
};

static void
strv_add(struct strv *s, const char *p, size_t n)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(char *));
	s->v[s->n++] = xstrndup(p, n);
}

static void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static void
add_cb(void *ctx, const char *a, size_t n)
{
	strv_add(ctx, a, n);
}

/* Qualify bare names: "user" -> "user@hostname" (Postfix appends $myorigin). */
static char *
qualify(const char *a, const struct conf *c)
{
	size_t l = strlen(a);
	if (l >= 2 && a[0] == '<' && a[l - 1] == '>') {
		a++;
		l -= 2;
	}
	if (l == 0 || memchr(a, '@', l) != NULL)
		return xstrndup(a, l);
	return xasprintf("%.*s@%s", (int)l, a, c->hostname);
}

struct conn {
	int fd;
	char buf[8192];
	size_t len;
};

static int
conn_write(struct conn *c, const char *p, size_t n)
{
	return write_all(c->fd, p, n);
}

/* Read one complete (possibly multi-line) reply; returns its code or -1. */
static int
conn_reply(struct conn *c, char *text, size_t textsz)
{
	for (;;) {
		char *start = c->buf;
		for (;;) {
			char *nl = memchr(start, '\n', c->len - (size_t)(start - c->buf));
			if (nl == NULL)
				break;
			size_t ll = (size_t)(nl - start);
			if (ll >= 4 && start[3] == ' ') {
				int code = atoi(start);
				snprintf(text, textsz, "%.*s", (int)(ll > 0 && start[ll - 1] == '\r' ? ll - 1 : ll),
				    start);
				size_t used = (size_t)(nl + 1 - c->buf);
				memmove(c->buf, nl + 1, c->len - used);
				c->len -= used;
				return code;
			}
			start = nl + 1;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static int
command(struct conn *c, const char *line, int want, char *text, size_t textsz)
{
	char l[2048];
	int n = snprintf(l, sizeof(l), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(l) || conn_write(c, l, (size_t)n) < 0)
		return -1;
	int code = conn_reply(c, text, textsz);
	return code / 100 == want ? code : -code - 1;
}

static void
sm_usage(void)
{
	printf("usage: sendmail [-t] [-i] [-oi] [-f sender] [-F name] [-C config] [recipient...]\n"
	    "  Reads a message on stdin and hands it to the estafeta daemon.\n"
	    "  -t        take recipients from To:, Cc: and Bcc: (Bcc: is removed)\n"
	    "  -i, -oi   a line with a single '.' does not end the message\n"
	    "  -f ADDR   envelope sender (default: your login name @ hostname)\n"
	    "  -F NAME   full name for the From: header when the message has none\n"
	    "  -bp       list the queue (mailq);  -bi  rebuild aliases (newaliases)\n"
	    "  Other sendmail options (-odi, -oem, -v, ...) are accepted and ignored.\n");
}

int
sendmail_main(int argc, char **argv, const char *conf_path)
{
	bool opt_t = false, opt_i = false;
	const char *from = NULL, *fullname = NULL;
	struct strv rcpts = { 0 };
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || strcmp(a, "-") == 0)
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			sm_usage();
			return 0;
		}
		if (strcmp(a, "-t") == 0)
			opt_t = true;
		else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0)
			opt_i = true;
		else if (strncmp(a, "-f", 2) == 0 || strncmp(a, "-r", 2) == 0) {
			from = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (from == NULL) {
				fprintf(stderr, "sendmail: -f needs an address\n");
				return EX_USAGE;
			}
		} else if (strncmp(a, "-F", 2) == 0) {
			fullname = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
		} else if (strncmp(a, "-C", 2) == 0) {
			conf_path = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : conf_path);
		} else if (strcmp(a, "-bp") == 0) {
			execlp(argv[0], "mailq", (char *)NULL);
			return EX_UNAVAILABLE;
		} else if (strcmp(a, "-bi") == 0 || strcmp(a, "-I") == 0) {
			char *args[] = { (char *)"estafeta", (char *)"newaliases", (char *)"-c",
				(char *)conf_path, NULL };
			execv("/proc/self/exe", args);
			return EX_UNAVAILABLE;
		} else if (strncmp(a, "-o", 2) == 0 || strncmp(a, "-B", 2) == 0 ||
		    strncmp(a, "-N", 2) == 0 || strncmp(a, "-R", 2) == 0 || strncmp(a, "-V", 2) == 0 ||
		    strncmp(a, "-X", 2) == 0 || strncmp(a, "-L", 2) == 0 || strncmp(a, "-h", 2) == 0) {
			/* -oX options, -B type, -N dsn, -R ret, -V envid: accepted, ignored */
			if ((strcmp(a, "-B") == 0 || strcmp(a, "-N") == 0 || strcmp(a, "-R") == 0 ||
			    strcmp(a, "-V") == 0 || strcmp(a, "-X") == 0 || strcmp(a, "-L") == 0 ||
			    strcmp(a, "-h") == 0) && i + 1 < argc)
				i++;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "-m") == 0 || strcmp(a, "-n") == 0 ||
		    strcmp(a, "-bm") == 0 || strcmp(a, "-U") == 0 || strcmp(a, "-G") == 0 ||
		    strcmp(a, "-odi") == 0 || strcmp(a, "-odb") == 0) {
			/* compatible no-ops */
		} else {
			fprintf(stderr, "sendmail: unsupported option %s\n", a);
			return EX_USAGE;
		}
	}
	struct conf c;
	char *err;
	if (conf_load(conf_path, &c, &err) < 0) {
		fprintf(stderr, "sendmail: %s\n", err);
		free(err);
		return EX_CONFIG;
	}
	for (; i < argc; i++) {
		/* "a, b" in one argument is allowed, as with Postfix */
		if (addrlist_parse(argv[i], strlen(argv[i]), 1000, add_cb, &rcpts) < 0) {
			fprintf(stderr, "sendmail: bad recipient address: %s\n", argv[i]);
			return EX_DATAERR;
		}
	}

	/* Read the message. */
	size_t cap = 65536, len = 0;
	char *msg = xmalloc(cap);
	char line[8192];
	bool at_bol = true;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t n = strlen(line);
		if (!opt_i && at_bol && (strcmp(line, ".\n") == 0 || strcmp(line, ".\r\n") == 0 ||
		    strcmp(line, ".") == 0))
			break;
		at_bol = n > 0 && line[n - 1] == '\n';
		if (len + n + 1 > cap) {
			if (cap >= MSG_MAX) {
				fprintf(stderr, "sendmail: message too large\n");
				return EX_DATAERR;
			}
			cap *= 2;
			msg = xrealloc(msg, cap);
		}
		memcpy(msg + len, line, n);
		len += n;
	}
	if (len > 0 && msg[len - 1] != '\n')
		msg[len++] = '\n';

	/* Header block: recipients for -t, Bcc removal, and does From: exist? */
	bool have_from = false;
	{
		size_t p = 0;
		bool in_bcc = false, in_rcpt = false;
		struct strv vals = { 0 };
		char *cur = NULL;
		size_t curlen = 0;
		size_t out = 0;	/* rewrite in place without Bcc lines */
		while (p < len) {
			char *nl = memchr(msg + p, '\n', len - p);
			size_t ll = (size_t)(nl - (msg + p)) + 1;
			const char *l = msg + p;
			if (ll == 1 || (ll == 2 && l[0] == '\r'))
				break;
			bool cont = l[0] == ' ' || l[0] == '\t';
			if (!cont) {
				const char *colon = memchr(l, ':', ll);
				if (colon == NULL)
					break;	/* not a header: the body starts here */
				if (cur) {
					strv_add(&vals, cur, curlen);
					free(cur);
					cur = NULL;
				}
				size_t nl2 = (size_t)(colon - l);
				in_bcc = nl2 == 3 && strncasecmp(l, "bcc", 3) == 0;
				in_rcpt = in_bcc || (nl2 == 2 && strncasecmp(l, "to", 2) == 0) ||
				    (nl2 == 2 && strncasecmp(l, "cc", 2) == 0);
				if (nl2 == 4 && strncasecmp(l, "from", 4) == 0)
					have_from = true;
				if (in_rcpt) {
					cur = xstrndup(colon + 1, ll - nl2 - 1);
					curlen = ll - nl2 - 1;
				}
			} else if (in_rcpt && cur) {
				cur = xrealloc(cur, curlen + ll + 1);
				memcpy(cur + curlen, l, ll);
				curlen += ll;
				cur[curlen] = '\0';
			}
			if (!(in_bcc && opt_t)) {
				memmove(msg + out, l, ll);
				out += ll;
			}
			p += ll;
		}
		if (cur) {
			strv_add(&vals, cur, curlen);
			free(cur);
		}
		memmove(msg + out, msg + p, len - p);
		len -= p - out;
		if (opt_t)
			for (size_t k = 0; k < vals.n; k++)
				if (addrlist_parse(vals.v[k], strlen(vals.v[k]), 1000, add_cb, &rcpts) < 0) {
					fprintf(stderr, "sendmail: malformed recipient header: %s\n", vals.v[k]);
					return EX_DATAERR;
				}
		strv_free(&vals);
	}
	if (rcpts.n == 0) {
		fprintf(stderr, "sendmail: no recipients given%s\n", opt_t ? " (none in To:, Cc: or Bcc:)" :
		    " (use -t to read them from the headers)");
		return EX_USAGE;
	}

	char *sender;
	if (from != NULL)
		sender = qualify(from, &c);
	else {
		struct passwd *pw = getpwuid(getuid());
		sender = xasprintf("%s@%s", pw ? pw->pw_name : "nobody", c.hostname);
	}

	struct conn cn = { .fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/submit.sock", c.spool);
	if (cn.fd < 0 || connect(cn.fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "sendmail: cannot connect to the estafeta daemon at %s: %s "
		    "(is `estafeta serve` running?)\n", sun.sun_path, strerror(errno));
		return EX_TEMPFAIL;
	}
	char text[1024], cmdline[1200];
	int rc = EX_OK;
	if (conn_reply(&cn, text, sizeof(text)) != 220 ||
	    command(&cn, "EHLO localhost", 2, text, sizeof(text)) < 0)
		goto proto_fail;
	snprintf(cmdline, sizeof(cmdline), "MAIL FROM:<%s>%s", sender,
	    strchr(sender, 0x80) ? " SMTPUTF8" : "");
	if (command(&cn, cmdline, 2, text, sizeof(text)) < 0)
		goto proto_fail;
	size_t accepted = 0;
	for (size_t k = 0; k < rcpts.n; k++) {
		char *r = qualify(rcpts.v[k], &c);
		snprintf(cmdline, sizeof(cmdline), "RCPT TO:<%s>", r);
		int code = command(&cn, cmdline, 2, text, sizeof(text));
		if (code < 0) {
			fprintf(stderr, "sendmail: %s: %s\n", r, text);
			rc = (-code - 1) / 100 == 4 ? EX_TEMPFAIL : EX_NOUSER;
		} else
			accepted++;
		free(r);
	}
	if (accepted == 0)
		goto out;
	if (command(&cn, "DATA", 3, text, sizeof(text)) < 0)
		goto proto_fail;
	/* Send CRLF lines, dot-stuffed; add From: with -F when there is none. */
	{
		char *out = xmalloc(len * 2 + 2048);
		size_t o = 0;
		if (!have_from && fullname != NULL)
			o += (size_t)sprintf(out, "From: \"%s\" <%s>\r\n", fullname, sender);
		size_t p = 0;
		while (p < len) {
			char *nl = memchr(msg + p, '\n', len - p);
			size_t ll = (size_t)(nl - (msg + p));
			size_t content = ll > 0 && msg[p + ll - 1] == '\r' ? ll - 1 : ll;
			if (content > 0 && msg[p] == '.')
				out[o++] = '.';
			memcpy(out + o, msg + p, content);
			o += content;
			out[o++] = '\r';
			out[o++] = '\n';
			p += ll + 1;
		}
		memcpy(out + o, ".\r\n", 3);
		o += 3;
		int wr = conn_write(&cn, out, o);
		free(out);
		if (wr < 0)
			goto proto_fail;
	}
	int code = conn_reply(&cn, text, sizeof(text));
	if (code / 100 != 2) {
		fprintf(stderr, "sendmail: message not accepted: %s\n", text[0] ? text : "no reply");
		rc = code / 100 == 4 || code < 0 ? EX_TEMPFAIL : EX_DATAERR;
		goto out;
	}
	(void)command(&cn, "QUIT", 2, text, sizeof(text));
	goto out;
proto_fail:
	fprintf(stderr, "sendmail: submission failed: %s\n", text[0] ? text : strerror(errno));
	rc = EX_TEMPFAIL;
out:
	close(cn.fd);
	free(sender);
	free(msg);
	strv_free(&rcpts);
	conf_free(&c);
	return rc;
}
