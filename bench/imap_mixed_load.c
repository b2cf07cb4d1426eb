/* imap_mixed_load.c - a mixed IMAP load (select, fetch, search, store, append, expunge,
 * logout/login) from a client that costs little CPU: one epoll loop, no threads.
 *
 * imap_mixed_load HOST PORT USERFMT PASS CLIENTS SECONDS [SEED=1] [USERS=100]
 *
 * CLIENTS connections, client i logging in as USERFMT % (i % USERS + 1) (USERFMT without %d:
 * that one name for all), each running one command at a time (no pipelining) for SECONDS:
 * greeting, LOGIN, SELECT INBOX, then commands picked from this fixed weighted mix (weights in
 * percent of the picks; each client has its own PRNG seeded from SEED and its index, so its
 * choices do not depend on the other clients' timing):
 *   5  SELECT INBOX (again)
 *  20  UID FETCH <uidnext-20>:* (UID FLAGS RFC822.SIZE ENVELOPE)      the newest ~20 messages
 *  12  FETCH x:x+9 (UID FLAGS BODY.PEEK[HEADER])      10 messages among the newest ~100 (seq.)
 *   8  UID FETCH u (UID RFC822.SIZE BODY.PEEK[])      one whole message (literal size checked
 *                                                     against RFC822.SIZE)
 *  15  UID SEARCH UNSEEN | FLAGGED | FROM "senderN" | SUBJECT "word" | SINCE 15-Nov-2023 |
 *                 SINCE <today>                       (one of the six, evenly)
 *  20  UID STORE u +FLAGS (\Seen) | -FLAGS (\Seen) | +FLAGS (\Flagged) | -FLAGS (\Flagged),
 *      a quarter of them as FLAGS.SILENT              (u: a UID seen in a FETCH/SEARCH reply)
 *  10  APPEND INBOX (\Seen) {n+} with a 2-3 KB message (a quarter with a synchronizing {n}
 *      literal and its "+" continuation); the UID comes from [APPENDUID]
 *  10  UID STORE a +FLAGS.SILENT (\Deleted) on one of this client's appended messages, then
 *      UID EXPUNGE a as the next command (so the mailboxes stay the same size; with 4 appended
 *      messages waiting this comes before any pick, with none it is picked again)
 * and every 40-60 operations LOGOUT, a new connection, LOGIN and SELECT INBOX.
 * Each command is one operation, counted when its tagged OK arrives before the end of the
 * SECONDS (LOGIN and LOGOUT included; the final LOGOUT after the end is not counted).
 *
 * Responses are parsed: literals ({n}) anywhere in a response, untagged EXISTS / EXPUNGE /
 * FETCH / SEARCH / OK [UIDNEXT] ..., FETCH attribute lists (nesting, quoted strings, literals).
 * The client tracks the message count of its session from EXISTS and EXPUNGE.
 * Protocol errors, counted by kind:
 *   no, bad     a tagged NO or BAD (untagged BAD counts as bad too)
 *   disconnect  the server closed the connection (or reset it) other than after LOGOUT's OK
 *   parse       a response that does not parse or does not fit: unknown tag, unexpected "+",
 *               FETCH/EXPUNGE of a sequence number beyond the session's message count,
 *               EXPUNGE during FETCH/STORE/SEARCH (RFC 3501 7.4.1), a BODY[] literal whose
 *               size differs from RFC822.SIZE, an APPEND OK without [APPENDUID]
 *   timeout     no tagged reply (or greeting) within 10 s
 *   connect     connect() failed (or was refused)
 * Not counted as errors: NO [EXPUNGEISSUED] to a FETCH/STORE by sequence number in a mailbox that
 * another client of this run shares (USERS < CLIENTS): another session expunged a message this
 * one still has in its view, and RFC 2180 4.1.2 allows the NO (Dovecot answers OK [EXPUNGEISSUED]
 * and skips the message, 4.1.3); counted as expungeissued=. In a mailbox of its own it is a "no".
 * The first 20 are printed on stderr (client, user, command sent, offending response). After a
 * disconnect, parse error or timeout the client reconnects (after 0.2 s).
 * Output (stdout):
 *   result clients=C secs=S ops=N ops_per_s=R errors=E client_cpu=X client_cpu_pct=P
 *          lat_p50_ms=A lat_p99_ms=B rx_mb=M
 *   errors no=.. bad=.. disconnect=.. parse=.. timeout=.. connect=.. untagged_no=.. expungeissued=..
 *   ops login=.. select=.. ... (and lat_p50 / lat_p99 per command kind)
 * client_cpu: this process's user+system seconds during the SECONDS; lat: command sent to
 * tagged reply. Exit status 0 when there was no protocol error, 1 otherwise.
 * Build: cc -O2 -Wall -Wextra -o imap_mixed_load imap_mixed_load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"

#define CMD_TIMEOUT 10.0
#define RECONNECT_DELAY 0.2
#define MAX_RESPONSE (64u << 20)
#define NUIDS 64
#define MAX_APPENDED 4
#define MAX_ERR_PRINT 20

enum op {
	OP_LOGIN, OP_SELECT, OP_FETCH_ENV, OP_FETCH_HDR, OP_FETCH_BODY, OP_SEARCH, OP_STORE,
	OP_APPEND, OP_STORE_DEL, OP_EXPUNGE, OP_LOGOUT, OP_FINAL_LOGOUT, OP_COUNT
};
static const char *op_name[OP_COUNT] = {
	"login", "select", "fetch_env", "fetch_hdr", "fetch_body", "search", "store",
	"append", "store_deleted", "expunge", "logout", "final_logout"
};

enum err { E_NO, E_BAD, E_DISCONNECT, E_PARSE, E_TIMEOUT, E_CONNECT, E_COUNT };
static const char *err_name[E_COUNT] = { "no", "bad", "disconnect", "parse", "timeout", "connect" };

enum st { ST_GREETING, ST_BUSY, ST_BACKOFF, ST_DONE };

struct conn {
	int fd;
	long idx;
	enum st st;
	uint64_t rng;
	char user[128];
	/* input: the response being assembled starts at ib[0] */
	char *ib;
	size_t ilen, icap, rscan;
	/* output */
	char *ob;
	size_t olen, ooff, ocap;
	int want_out;
	/* the command in flight */
	enum op op;
	unsigned tagn;
	char tag[16];
	char cmdtext[200];
	double t_sent, t_wait0;
	char *lit;		/* a synchronizing literal waiting for "+" */
	size_t litlen;
	int wait_cont;
	int seqcmd;		/* FETCH/STORE/SEARCH by sequence number: no EXPUNGE allowed */
	int shared;		/* another client of this run logs in as the same user */
	int got_appenduid;
	/* session */
	int logged_in, selected;
	long exists;
	uint32_t uidnext;
	uint32_t uids[NUIDS];
	int nuids, uidpos;
	uint32_t appended[MAX_APPENDED + 4];
	int napp;
	uint32_t expunge_uid;	/* UID EXPUNGE next */
	int ops_since_login, logout_at;
	double reconnect_at;
	unsigned long nappend;
	/* per FETCH response */
	long f_size, f_lit;
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static const char *ufmt, *pass;
static int efd;
static long nusers = 100;
static unsigned long seed = 1;
static double t_start, t_end;
static int finished;		/* past t_end: no new commands */
static unsigned long ops[OP_COUNT], errs[E_COUNT], nerrprint, untagged_no, warn_lines, expungeissued;
static unsigned long long rx_bytes;
static char today[32];

struct lat { float ms; unsigned char op; };
static struct lat *lats;
static size_t nlat, caplat;

static uint64_t
rnd(struct conn *c)	/* splitmix64 */
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static long
rndn(struct conn *c, long n)	/* 0 .. n-1 */
{
	return n > 0 ? (long)(rnd(c) % (uint64_t)n) : 0;
}

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (q == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return q;
}

static void
printable(char *dst, size_t dsz, const char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 5 < dsz; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r')
			dst[j++] = '\\', dst[j++] = 'r';
		else if (ch == '\n')
			dst[j++] = '\\', dst[j++] = 'n';
		else if (ch < 32 || ch > 126)
			j += (size_t)snprintf(dst + j, dsz - j, "\\x%02x", ch);
		else
			dst[j++] = (char)ch;
	}
	if (n > 0 && j + 5 >= dsz)
		dst[j++] = '.', dst[j++] = '.', dst[j++] = '.';
	dst[j] = '\0';
}

static void conn_close(struct conn *c, double delay);

/* A protocol error of kind k; resp/len: the offending response (may be NULL). */
static void
error(struct conn *c, enum err k, const char *why, const char *resp, size_t len)
{
	errs[k]++;
	if (nerrprint++ < MAX_ERR_PRINT) {
		char r[400];
		printable(r, sizeof(r), resp ? resp : "", resp ? len : 0);
		fprintf(stderr, "error %s (%s) at %.3fs client %ld user %s: sent \"%s\" got \"%s\"\n",
		    err_name[k], why, now() - t_start, c->idx, c->user,
		    c->st == ST_BUSY ? c->cmdtext : "", r);
	}
}

static void
warn(struct conn *c, const char *why, const char *resp, size_t len)
{
	if (warn_lines++ < MAX_ERR_PRINT) {
		char r[400];
		printable(r, sizeof(r), resp, len);
		fprintf(stderr, "warning (%s) client %ld user %s: sent \"%s\" got \"%s\"\n", why, c->idx,
		    c->user, c->cmdtext, r);
	}
}

static int
flush_out(struct conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t w = write(c->fd, c->ob + c->ooff, c->olen - c->ooff);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		c->ooff += (size_t)w;
	}
	if (c->ooff == c->olen)
		c->ooff = c->olen = 0;
	int want = c->olen > 0;
	if (want != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
		epoll_ctl(efd, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want;
	}
	return 0;
}

static void
out_add(struct conn *c, const char *p, size_t n)
{
	if (c->olen + n > c->ocap) {
		c->ocap = (c->olen + n) * 2;
		c->ob = xrealloc(c->ob, c->ocap);
	}
	memcpy(c->ob + c->olen, p, n);
	c->olen += n;
}

/* Sends "TAG " + the formatted command + CRLF (+ a literal after it for LITERAL+). */
static void
send_cmd(struct conn *c, enum op op, const char *lit, size_t litlen, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	c->op = op;
	snprintf(c->tag, sizeof(c->tag), "A%u", ++c->tagn);
	int n = snprintf(line, sizeof(line), "%s ", c->tag);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	size_t tn = (size_t)n < sizeof(c->cmdtext) - 1 ? (size_t)n : sizeof(c->cmdtext) - 1;
	memcpy(c->cmdtext, line, tn);
	c->cmdtext[tn] = '\0';
	if (op == OP_LOGIN)
		snprintf(c->cmdtext, sizeof(c->cmdtext), "%s LOGIN \"%.100s\" ***", c->tag, c->user);
	out_add(c, line, (size_t)n);
	out_add(c, "\r\n", 2);
	if (lit != NULL) {
		out_add(c, lit, litlen);
		out_add(c, "\r\n", 2);
	}
	c->st = ST_BUSY;
	c->t_sent = now();
	c->seqcmd = 0;
	c->got_appenduid = 0;
	if (flush_out(c) < 0) {
		error(c, E_DISCONNECT, strerror(errno), NULL, 0);
		conn_close(c, RECONNECT_DELAY);
	}
}

static void
remember_uid(struct conn *c, uint32_t uid)
{
	if (uid == 0)
		return;
	if (uid >= c->uidnext)
		c->uidnext = uid + 1;
	c->uids[c->uidpos] = uid;
	c->uidpos = (c->uidpos + 1) % NUIDS;
	if (c->nuids < NUIDS)
		c->nuids++;
}

static uint32_t
some_uid(struct conn *c)
{
	return c->nuids ? c->uids[rndn(c, c->nuids)] : 0;
}

static const char *words[] = {
	"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
	"eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "mail",
	"server", "queue", "delivery", "imap", "report", "invoice", "meeting", "schedule", "project",
	"update", "status"
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static size_t
make_message(struct conn *c, char *buf, size_t sz)
{
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	long k = rndn(c, 97);
	size_t target = 2000 + (size_t)rndn(c, 1000), n;
	n = (size_t)snprintf(buf, sz,
	    "From: Sender %ld <sender%ld@example.org>\r\n"
	    "To: Bench User <bench@bench.local>\r\n"
	    "Subject: mixed load %s %s #%ld.%lu\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <mix.%lu.%ld.%lu@example.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	    k, k, words[rndn(c, NWORDS)], words[rndn(c, NWORDS)], c->idx, c->nappend, date, seed,
	    c->idx, c->nappend);
	c->nappend++;
	while (n < target && n + 200 < sz) {
		for (int w = 0; w < 12; w++)
			n += (size_t)snprintf(buf + n, sz - n, "%s%s", w ? " " : "", words[rndn(c, NWORDS)]);
		buf[n++] = '\r';
		buf[n++] = '\n';
	}
	return n;
}

static int conn_start(struct conn *c);

/* The next command of an idle, logged-in (or not yet logged-in) session. */
static void
next_cmd(struct conn *c)
{
	if (!c->logged_in) {
		send_cmd(c, OP_LOGIN, NULL, 0, "LOGIN \"%s\" \"%s\"", c->user, pass);
		return;
	}
	if (finished && c->expunge_uid && c->selected) {	/* tidy: not counted after the end */
		send_cmd(c, OP_EXPUNGE, NULL, 0, "UID EXPUNGE %u", c->expunge_uid);
		return;
	}
	if (finished) {
		send_cmd(c, OP_FINAL_LOGOUT, NULL, 0, "LOGOUT");
		return;
	}
	if (!c->selected) {
		send_cmd(c, OP_SELECT, NULL, 0, "SELECT INBOX");
		return;
	}
	if (c->expunge_uid) {
		send_cmd(c, OP_EXPUNGE, NULL, 0, "UID EXPUNGE %u", c->expunge_uid);
		return;
	}
	if (c->ops_since_login >= c->logout_at) {
		send_cmd(c, OP_LOGOUT, NULL, 0, "LOGOUT");
		return;
	}
	long pick = c->napp >= MAX_APPENDED ? 95 : rndn(c, 100);
	while (pick >= 90 && c->napp == 0)	/* nothing of ours to delete: pick again */
		pick = rndn(c, 100);
	long ex = c->exists;
	if (pick < 5) {
		send_cmd(c, OP_SELECT, NULL, 0, "SELECT INBOX");
	} else if (pick < 25) {
		uint32_t lo = c->uidnext > 21 ? c->uidnext - 20 : 1;
		send_cmd(c, OP_FETCH_ENV, NULL, 0, "UID FETCH %u:* (UID FLAGS RFC822.SIZE ENVELOPE)", lo);
	} else if (pick < 37) {
		if (ex < 1) {
			send_cmd(c, OP_SELECT, NULL, 0, "SELECT INBOX");
			return;
		}
		long hi = ex - rndn(c, 91);
		if (hi < 1)
			hi = ex;
		long lo = hi > 9 ? hi - 9 : 1;
		send_cmd(c, OP_FETCH_HDR, NULL, 0, "FETCH %ld:%ld (UID FLAGS BODY.PEEK[HEADER])", lo, hi);
		c->seqcmd = 1;
	} else if (pick < 45) {
		uint32_t u = some_uid(c);
		if (u)
			send_cmd(c, OP_FETCH_BODY, NULL, 0, "UID FETCH %u (UID RFC822.SIZE BODY.PEEK[])", u);
		else {
			send_cmd(c, OP_FETCH_BODY, NULL, 0, "FETCH %ld (UID RFC822.SIZE BODY.PEEK[])",
			    ex > 0 ? 1 + rndn(c, ex) : 1);
			c->seqcmd = 1;
		}
	} else if (pick < 60) {
		switch (rndn(c, 6)) {
		case 0: send_cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH UNSEEN"); break;
		case 1: send_cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH FLAGGED"); break;
		case 2: send_cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH FROM \"sender%ld\"", rndn(c, 97)); break;
		case 3: send_cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH SUBJECT \"%s\"", words[rndn(c, NWORDS)]); break;
		case 4: send_cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH SINCE 15-Nov-2023"); break;
		default: send_cmd(c, OP_SEARCH, NULL, 0, "UID SEARCH SINCE %s", today); break;
		}
	} else if (pick < 80) {
		static const char *fl[] = { "+FLAGS", "-FLAGS", "+FLAGS", "-FLAGS" };
		static const char *fv[] = { "\\Seen", "\\Seen", "\\Flagged", "\\Flagged" };
		long k = rndn(c, 4);
		const char *silent = rndn(c, 4) == 0 ? ".SILENT" : "";
		uint32_t u = some_uid(c);
		if (u)
			send_cmd(c, OP_STORE, NULL, 0, "UID STORE %u %s%s (%s)", u, fl[k], silent, fv[k]);
		else if (ex > 0) {
			send_cmd(c, OP_STORE, NULL, 0, "STORE %ld %s%s (%s)", 1 + rndn(c, ex), fl[k], silent, fv[k]);
			c->seqcmd = 1;
		} else
			send_cmd(c, OP_SELECT, NULL, 0, "SELECT INBOX");
	} else if (pick < 90) {
		static char msg[4096];
		size_t n = make_message(c, msg, sizeof(msg));
		if (rndn(c, 4) == 0) {	/* synchronizing literal: the data after the "+" */
			c->lit = xrealloc(c->lit, n);
			memcpy(c->lit, msg, n);
			c->litlen = n;
			c->wait_cont = 1;
			send_cmd(c, OP_APPEND, NULL, 0, "APPEND INBOX (\\Seen) {%zu}", n);
		} else
			send_cmd(c, OP_APPEND, msg, n, "APPEND INBOX (\\Seen) {%zu+}", n);
	} else {
		uint32_t u = c->appended[0];
		memmove(c->appended, c->appended + 1, (size_t)(c->napp - 1) * sizeof(c->appended[0]));
		c->napp--;
		c->expunge_uid = u;	/* the UID EXPUNGE follows even if this STORE fails */
		send_cmd(c, OP_STORE_DEL, NULL, 0, "UID STORE %u +FLAGS.SILENT (\\Deleted)", u);
	}
}

/* ---- response parsing ---- */

struct cur { const char *p, *e; };

static int
skip_sp(struct cur *k)
{
	if (k->p < k->e && *k->p == ' ') {
		k->p++;
		return 0;
	}
	return -1;
}

static int
read_num(struct cur *k, unsigned long long *v)
{
	if (k->p >= k->e || !isdigit((unsigned char)*k->p))
		return -1;
	*v = 0;
	while (k->p < k->e && isdigit((unsigned char)*k->p))
		*v = *v * 10 + (unsigned)(*k->p++ - '0');
	return 0;
}

/* One value: (list), "quoted", {n}CRLF literal, NIL, atom/number. *litlen: a literal's size. */
static int
parse_value(struct cur *k, int depth, long *litlen, unsigned long long *num)
{
	if (k->p >= k->e || depth > 30)
		return -1;
	if (litlen)
		*litlen = -1;
	char ch = *k->p;
	if (ch == '(') {
		k->p++;
		if (k->p < k->e && *k->p == ')') {
			k->p++;
			return 0;
		}
		for (;;) {
			if (parse_value(k, depth + 1, NULL, NULL) < 0)
				return -1;
			if (k->p < k->e && *k->p == ')') {
				k->p++;
				return 0;
			}
			if (skip_sp(k) < 0)
				return -1;
		}
	}
	if (ch == '"') {
		k->p++;
		while (k->p < k->e && *k->p != '"') {
			if (*k->p == '\\')
				k->p++;
			if (k->p < k->e && (*k->p == '\r' || *k->p == '\n'))
				return -1;
			k->p++;
		}
		if (k->p >= k->e)
			return -1;
		k->p++;
		return 0;
	}
	if (ch == '{') {
		unsigned long long n;
		k->p++;
		if (read_num(k, &n) < 0 || k->p + 3 > k->e || memcmp(k->p, "}\r\n", 3) != 0)
			return -1;
		k->p += 3;
		if ((unsigned long long)(k->e - k->p) < n)
			return -1;
		k->p += n;
		if (litlen)
			*litlen = (long)n;
		return 0;
	}
	const char *a = k->p;
	while (k->p < k->e && *k->p != ' ' && *k->p != ')' && *k->p != '(' && *k->p != '"' &&
	    *k->p != '\r' && *k->p != '{') {
		if (*k->p == '[') {	/* BODY[HEADER.FIELDS (A B)] */
			while (k->p < k->e && *k->p != ']')
				k->p++;
			if (k->p >= k->e)
				return -1;
		}
		k->p++;
	}
	if (k->p == a)
		return -1;
	if (num) {
		struct cur t = { a, k->p };
		if (read_num(&t, num) < 0 || t.p != k->p)
			return -1;
	}
	return 0;
}

/* "(" att SP value *(SP att SP value) ")" at the end of the response. */
static int
parse_fetch(struct conn *c, struct cur *k, uint32_t *uid)
{
	c->f_size = c->f_lit = -1;
	*uid = 0;
	if (k->p >= k->e || *k->p++ != '(')
		return -1;
	for (;;) {
		const char *a = k->p;
		while (k->p < k->e && *k->p != ' ') {
			if (*k->p == '[') {
				while (k->p < k->e && *k->p != ']')
					k->p++;
				if (k->p >= k->e)
					return -1;
			}
			k->p++;
		}
		size_t an = (size_t)(k->p - a);
		if (an == 0 || skip_sp(k) < 0)
			return -1;
		unsigned long long v = 0;
		long ll = -1;
		if (an == 3 && memcmp(a, "UID", 3) == 0) {
			if (parse_value(k, 0, NULL, &v) < 0 || v == 0 || v > 0xffffffffULL)
				return -1;
			*uid = (uint32_t)v;
		} else if (an == 11 && memcmp(a, "RFC822.SIZE", 11) == 0) {
			if (parse_value(k, 0, NULL, &v) < 0)
				return -1;
			c->f_size = (long)v;
		} else {
			if (parse_value(k, 0, &ll, NULL) < 0)
				return -1;
			if (an == 6 && memcmp(a, "BODY[]", 6) == 0)
				c->f_lit = ll;
		}
		if (k->p < k->e && *k->p == ')') {
			k->p++;
			return k->p == k->e ? 0 : -1;
		}
		if (skip_sp(k) < 0)
			return -1;
	}
}

/* The response code [UIDNEXT n] / [APPENDUID v n] after "OK ". */
static void
resp_code(struct conn *c, const char *p, const char *e)
{
	struct cur k = { p, e };
	unsigned long long v;
	if (e - p > 9 && memcmp(p, "[UIDNEXT ", 9) == 0) {
		k.p += 9;
		if (read_num(&k, &v) == 0)
			c->uidnext = (uint32_t)v;
	} else if (e - p > 11 && memcmp(p, "[APPENDUID ", 11) == 0) {
		k.p += 11;
		if (read_num(&k, &v) == 0 && skip_sp(&k) == 0 && read_num(&k, &v) == 0 && v > 0) {
			c->got_appenduid = 1;
			if (c->op == OP_APPEND && c->napp < MAX_APPENDED + 4)
				c->appended[c->napp++] = (uint32_t)v;
			if (v >= c->uidnext)
				c->uidnext = (uint32_t)v + 1;
		}
	}
}

/* Returns -1 when the connection was closed. */
static int
tagged(struct conn *c, const char *r, size_t len)
{
	size_t tl = strlen(c->tag);
	const char *p = r + tl + 1, *e = r + len;
	double t = now();
	if (c->st != ST_BUSY) {
		error(c, E_PARSE, "tagged reply with no command", r, len);
		conn_close(c, RECONNECT_DELAY);
		return -1;
	}
	if (e - p >= 2 && memcmp(p, "OK", 2) == 0 && (e - p == 2 || p[2] == ' ')) {
		if (e - p > 3)
			resp_code(c, p + 3, e);
		enum op op = c->op;
		c->wait_cont = 0;
		if (op == OP_APPEND && !c->got_appenduid) {
			error(c, E_PARSE, "APPEND OK without APPENDUID", r, len);
		}
		if (t <= t_end && op != OP_FINAL_LOGOUT) {
			ops[op]++;
			if (nlat == caplat) {
				caplat = caplat ? caplat * 2 : 65536;
				lats = xrealloc(lats, caplat * sizeof(*lats));
			}
			lats[nlat].ms = (float)((t - c->t_sent) * 1000);
			lats[nlat].op = (unsigned char)op;
			nlat++;
		}
		switch (op) {
		case OP_LOGIN:
			c->logged_in = 1;
			c->ops_since_login = 0;
			c->logout_at = 40 + (int)rndn(c, 21);
			break;
		case OP_SELECT:
			c->selected = 1;
			break;
		case OP_EXPUNGE:
			c->expunge_uid = 0;
			break;
		case OP_LOGOUT:
			conn_close(c, 0);
			return -1;
		case OP_FINAL_LOGOUT:
			conn_close(c, -1);
			return -1;
		default:
			break;
		}
		c->ops_since_login++;
		c->st = ST_BUSY;	/* replaced by next_cmd */
		next_cmd(c);
		return c->fd < 0 ? -1 : 0;
	}
	int bad = e - p >= 3 && memcmp(p, "BAD", 3) == 0;
	int no = e - p >= 2 && memcmp(p, "NO", 2) == 0;
	if (!bad && !no) {
		error(c, E_PARSE, "tagged reply not OK/NO/BAD", r, len);
		conn_close(c, RECONNECT_DELAY);
		return -1;
	}
	if (no && c->shared && c->seqcmd && (c->op == OP_FETCH_HDR || c->op == OP_FETCH_BODY ||
	    c->op == OP_STORE) && e - p >= 18 && memcmp(p, "NO [EXPUNGEISSUED]", 18) == 0)
		expungeissued++;	/* another session's EXPUNGE: allowed (RFC 2180 4.1.2) */
	else
		error(c, bad ? E_BAD : E_NO, bad ? "tagged BAD" : "tagged NO", r, len);
	c->wait_cont = 0;
	switch (c->op) {
	case OP_LOGIN:
		conn_close(c, RECONNECT_DELAY);
		return -1;
	case OP_LOGOUT:
	case OP_FINAL_LOGOUT:
		conn_close(c, c->op == OP_LOGOUT ? 0 : -1);
		return -1;
	case OP_SELECT:
		c->selected = 0;
		break;
	case OP_EXPUNGE:
		c->expunge_uid = 0;
		break;
	default:
		break;
	}
	c->ops_since_login++;
	next_cmd(c);
	return c->fd < 0 ? -1 : 0;
}

/* One complete response r[0..len) (without its final CRLF). -1: the connection was closed. */
static int
response(struct conn *c, char *r, size_t len)
{
	const char *e = r + len;
	if (c->st == ST_GREETING) {
		if (len >= 4 && memcmp(r, "* OK", 4) == 0) {
			c->st = ST_BUSY;
			next_cmd(c);
			return c->fd < 0 ? -1 : 0;
		}
		error(c, E_PARSE, "greeting", r, len);
		conn_close(c, RECONNECT_DELAY);
		return -1;
	}
	if (len >= 1 && r[0] == '+') {
		if (c->st == ST_BUSY && c->wait_cont && c->lit != NULL) {
			c->wait_cont = 0;
			out_add(c, c->lit, c->litlen);
			out_add(c, "\r\n", 2);
			if (flush_out(c) < 0) {
				error(c, E_DISCONNECT, strerror(errno), NULL, 0);
				conn_close(c, RECONNECT_DELAY);
				return -1;
			}
			return 0;
		}
		error(c, E_PARSE, "unexpected continuation", r, len);
		conn_close(c, RECONNECT_DELAY);
		return -1;
	}
	if (len >= 2 && r[0] == '*' && r[1] == ' ') {
		struct cur k = { r + 2, e };
		unsigned long long n;
		if (read_num(&k, &n) == 0) {
			if (skip_sp(&k) < 0)
				goto bad;
			const char *w = k.p;
			size_t wl = 0;
			while (w + wl < e && w[wl] != ' ')
				wl++;
			k.p += wl;
			if (wl == 6 && memcmp(w, "EXISTS", 6) == 0 && k.p == e) {
				c->exists = (long)n;
				return 0;
			}
			if (wl == 6 && memcmp(w, "RECENT", 6) == 0 && k.p == e)
				return 0;
			if (wl == 7 && memcmp(w, "EXPUNGE", 7) == 0 && k.p == e) {
				if (n < 1 || (long)n > c->exists) {
					error(c, E_PARSE, "EXPUNGE beyond the message count", r, len);
					conn_close(c, RECONNECT_DELAY);
					return -1;
				}
				if (c->seqcmd) {
					error(c, E_PARSE, "EXPUNGE during FETCH/STORE/SEARCH", r, len);
					conn_close(c, RECONNECT_DELAY);
					return -1;
				}
				c->exists--;
				return 0;
			}
			if (wl == 5 && memcmp(w, "FETCH", 5) == 0) {
				uint32_t uid;
				if (skip_sp(&k) < 0 || parse_fetch(c, &k, &uid) < 0)
					goto bad;
				if (n < 1 || (long)n > c->exists) {
					error(c, E_PARSE, "FETCH beyond the message count", r, len);
					conn_close(c, RECONNECT_DELAY);
					return -1;
				}
				if (c->f_lit >= 0 && c->f_size >= 0 && c->f_lit != c->f_size) {
					error(c, E_PARSE, "BODY[] literal size != RFC822.SIZE", r,
					    len > 300 ? 300 : len);
					conn_close(c, RECONNECT_DELAY);
					return -1;
				}
				remember_uid(c, uid);
				return 0;
			}
			goto bad;
		}
		const char *w = r + 2;
		size_t wl = 0;
		while (w + wl < e && w[wl] != ' ')
			wl++;
#define IS(s) (wl == sizeof(s) - 1 && memcmp(w, s, wl) == 0)
		if (IS("OK")) {
			if (w + wl < e)
				resp_code(c, w + wl + 1, e);
			return 0;
		}
		if (IS("NO")) {
			untagged_no++;
			warn(c, "untagged NO", r, len);
			return 0;
		}
		if (IS("BAD")) {
			error(c, E_BAD, "untagged BAD", r, len);
			return 0;
		}
		if (IS("BYE")) {
			if (c->op != OP_LOGOUT && c->op != OP_FINAL_LOGOUT)
				warn(c, "BYE", r, len);	/* the disconnect is counted when it comes */
			return 0;
		}
		if (IS("SEARCH")) {
			struct cur s = { w + wl, e };
			long cnt = 0;
			while (s.p < e) {
				if (skip_sp(&s) < 0 || read_num(&s, &n) < 0 || n == 0 || n > 0xffffffffULL)
					goto bad;
				/* a sample of the UIDs for STORE / FETCH BODY */
				if (c->op == OP_SEARCH && rndn(c, 8) == 0 && cnt++ < 8)
					remember_uid(c, (uint32_t)n);
			}
			return 0;
		}
		if (IS("FLAGS") || IS("CAPABILITY") || IS("LIST") || IS("LSUB") || IS("STATUS") ||
		    IS("ENABLED") || IS("ID") || IS("NAMESPACE"))
			return 0;
#undef IS
	}
	/* a tag */
	{
		size_t tl = strlen(c->tag);
		if (c->st == ST_BUSY && len > tl && memcmp(r, c->tag, tl) == 0 && r[tl] == ' ')
			return tagged(c, r, len);
	}
bad:
	error(c, E_PARSE, "unparsable or unexpected response", r, len > 300 ? 300 : len);
	conn_close(c, RECONNECT_DELAY);
	return -1;
}

/* Splits the input into complete responses (a line ending in {n} continues after n bytes). */
static int
process_input(struct conn *c)
{
	for (;;) {
		char *crlf = c->ilen > c->rscan ? memmem(c->ib + c->rscan, c->ilen - c->rscan, "\r\n", 2) : NULL;
		if (crlf == NULL)
			return 0;
		size_t le = (size_t)(crlf - c->ib);
		/* a literal at the end of this line? */
		if (le > c->rscan + 2 && c->ib[le - 1] == '}') {
			size_t j = le - 1;
			unsigned long long n = 0, mul = 1;
			int digits = 0;
			if (j > 0 && c->ib[j - 1] == '+')
				j--;
			while (j > c->rscan && isdigit((unsigned char)c->ib[j - 1]) && digits < 19) {
				n += mul * (unsigned)(c->ib[j - 1] - '0');
				mul *= 10;
				digits++;
				j--;
			}
			if (digits > 0 && j > c->rscan && c->ib[j - 1] == '{') {
				if (n > MAX_RESPONSE) {
					error(c, E_PARSE, "huge literal", c->ib, le);
					conn_close(c, RECONNECT_DELAY);
					return -1;
				}
				if (le + 2 + n > c->ilen)
					return 0;	/* the rest when it comes */
				c->rscan = le + 2 + (size_t)n;
				continue;
			}
		}
		c->ib[le] = '\0';
		if (response(c, c->ib, le) < 0)
			return -1;
		size_t rest = c->ilen - (le + 2);
		memmove(c->ib, c->ib + le + 2, rest);
		c->ilen = rest;
		c->rscan = 0;
	}
}

static void
conn_close(struct conn *c, double delay)	/* delay < 0: done */
{
	if (c->fd >= 0) {
		epoll_ctl(efd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	c->ilen = c->rscan = 0;
	c->olen = c->ooff = 0;
	c->want_out = 0;
	c->wait_cont = 0;
	c->logged_in = c->selected = 0;
	c->exists = 0;
	c->expunge_uid = 0;	/* the session is gone; the message stays (a stray \Deleted one) */
	if (delay < 0 || finished) {
		c->st = ST_DONE;
		return;
	}
	c->st = ST_BACKOFF;
	c->reconnect_at = now() + delay;
	if (delay == 0 && conn_start(c) < 0) {
		/* counted in conn_start */
	}
}

static int
conn_start(struct conn *c)
{
	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		error(c, E_CONNECT, strerror(errno), NULL, 0);
		c->st = ST_BACKOFF;
		c->reconnect_at = now() + RECONNECT_DELAY;
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0 && errno != EINPROGRESS) {
		error(c, E_CONNECT, strerror(errno), NULL, 0);
		close(c->fd);
		c->fd = -1;
		c->st = ST_BACKOFF;
		c->reconnect_at = now() + RECONNECT_DELAY;
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	epoll_ctl(efd, EPOLL_CTL_ADD, c->fd, &ev);
	c->st = ST_GREETING;
	c->t_sent = now();
	c->cmdtext[0] = '\0';
	c->op = OP_LOGIN;
	return 0;
}

static void
on_event(struct conn *c, uint32_t events)
{
	if (c->fd < 0)
		return;
	if ((events & EPOLLOUT) && c->olen > 0) {
		if (flush_out(c) < 0) {
			error(c, E_DISCONNECT, strerror(errno), NULL, 0);
			conn_close(c, RECONNECT_DELAY);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (c->icap - c->ilen < 65536) {
		c->icap = c->icap ? c->icap * 2 : 131072;
		if (c->icap > MAX_RESPONSE + 131072) {
			error(c, E_PARSE, "response too long", c->ib, 200);
			conn_close(c, RECONNECT_DELAY);
			return;
		}
		c->ib = xrealloc(c->ib, c->icap + 1);
	}
	ssize_t r = read(c->fd, c->ib + c->ilen, c->icap - c->ilen);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		int refused = r < 0 && c->st == ST_GREETING && c->ilen == 0 &&
		    (errno == ECONNREFUSED || errno == ETIMEDOUT || errno == EHOSTUNREACH);
		error(c, refused ? E_CONNECT : E_DISCONNECT,
		    r == 0 ? "connection closed by the server" : strerror(errno),
		    c->ib, c->ilen > 300 ? 300 : c->ilen);
		conn_close(c, RECONNECT_DELAY);
		return;
	}
	rx_bytes += (unsigned long long)r;
	c->ilen += (size_t)r;
	process_input(c);
}

static int
cmpf(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static void
percentiles(int op, double *p50, double *p99)	/* op < 0: all */
{
	float *v = malloc((nlat + 1) * sizeof(*v));
	size_t n = 0;
	if (v == NULL) {
		*p50 = *p99 = 0;
		return;
	}
	for (size_t i = 0; i < nlat; i++)
		if (op < 0 || lats[i].op == op)
			v[n++] = lats[i].ms;
	qsort(v, n, sizeof(*v), cmpf);
	*p50 = n ? v[n / 2] : 0;
	*p99 = n ? v[(size_t)(n * 0.99)] : 0;
	free(v);
}

int
main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s HOST PORT USERFMT PASS CLIENTS SECONDS [SEED=1] [USERS=100]\n", argv[0]);
		return 2;
	}
	const char *host = argv[1], *port = argv[2];
	ufmt = argv[3];
	pass = argv[4];
	long nc = atol(argv[5]);
	double secs = atof(argv[6]);
	if (argc > 7)
		seed = strtoul(argv[7], NULL, 10);
	if (argc > 8)
		nusers = atol(argv[8]);
	if (nc < 1 || secs <= 0 || nusers < 1) {
		fprintf(stderr, "CLIENTS, SECONDS and USERS must be positive\n");
		return 2;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		fprintf(stderr, "cannot resolve %s:%s\n", host, port);
		return 2;
	}
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	{
		static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
			"Sep", "Oct", "Nov", "Dec" };
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(today, sizeof(today), "%d-%s-%d", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900);
	}
	struct conn *cs = calloc((size_t)nc, sizeof(*cs));
	if (cs == NULL)
		return 2;
	efd = epoll_create1(EPOLL_CLOEXEC);
	double c0 = cpu();
	t_start = now();
	t_end = t_start + secs;
	for (long i = 0; i < nc; i++) {
		struct conn *c = &cs[i];
		c->idx = i;
		c->fd = -1;
		c->rng = seed * 1000003ULL + (uint64_t)i * 7919ULL + 1;
		c->shared = i >= nusers || i + nusers < nc;
		if (strchr(ufmt, '%')) {
			const char *f = ufmt;	/* a variable format: the user's own argument */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(c->user, sizeof(c->user), f, (int)(i % nusers + 1));
#pragma GCC diagnostic pop
		} else
			snprintf(c->user, sizeof(c->user), "%s", ufmt);
		conn_start(c);
	}
	double cpu_end = -1, hard_end = t_end + CMD_TIMEOUT + 5;
	struct epoll_event evs[256];
	for (;;) {
		double t = now();
		if (!finished && t >= t_end) {
			finished = 1;
			cpu_end = cpu();
		}
		long live = 0;
		for (long i = 0; i < nc; i++) {
			struct conn *c = &cs[i];
			if (c->st == ST_DONE)
				continue;
			if (c->st == ST_BACKOFF) {
				if (finished)
					c->st = ST_DONE;
				else if (t >= c->reconnect_at)
					conn_start(c);
				if (c->st == ST_DONE)
					continue;
			}
			if ((c->st == ST_BUSY || c->st == ST_GREETING) && t - c->t_sent > CMD_TIMEOUT) {
				error(c, E_TIMEOUT, c->st == ST_GREETING ? "no greeting within 10 s" :
				    "no tagged reply within 10 s", c->ib, c->ilen > 300 ? 300 : c->ilen);
				conn_close(c, RECONNECT_DELAY);
			}
			if (c->st != ST_DONE)
				live++;
		}
		if (finished && (live == 0 || t > hard_end))
			break;
		int k = epoll_wait(efd, evs, 256, 100);
		for (int i = 0; i < k; i++)
			on_event(evs[i].data.ptr, evs[i].events);
	}
	if (cpu_end < 0)
		cpu_end = cpu();
	double ccpu = cpu_end - c0;
	unsigned long total = 0, etotal = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total += ops[i];
	for (int i = 0; i < E_COUNT; i++)
		etotal += errs[i];
	double p50, p99;
	percentiles(-1, &p50, &p99);
	printf("result clients=%ld secs=%.0f ops=%lu ops_per_s=%.1f errors=%lu client_cpu=%.3f "
	    "client_cpu_pct=%.1f lat_p50_ms=%.2f lat_p99_ms=%.2f rx_mb=%.1f\n",
	    nc, secs, total, total / secs, etotal, ccpu, 100 * ccpu / secs, p50, p99, rx_bytes / 1e6);
	printf("errors");
	for (int i = 0; i < E_COUNT; i++)
		printf(" %s=%lu", err_name[i], errs[i]);
	printf(" untagged_no=%lu expungeissued=%lu\n", untagged_no, expungeissued);
	printf("ops");
	for (int i = 0; i < OP_FINAL_LOGOUT; i++)
		printf(" %s=%lu", op_name[i], ops[i]);
	printf("\nlat_ms");
	for (int i = 0; i < OP_FINAL_LOGOUT; i++) {
		percentiles(i, &p50, &p99);
		printf(" %s=%.2f/%.2f", op_name[i], p50, p99);
	}
	printf(" (p50/p99)\n");
	fflush(stdout);
	for (long i = 0; i < nc; i++) {
		if (cs[i].fd >= 0)
			close(cs[i].fd);
		free(cs[i].ib);
		free(cs[i].ob);
		free(cs[i].lit);
	}
	free(cs);
	free(lats);
	return etotal ? 1 : 0;
}
