/*
 * fuzz_imap_search: the input as the arguments of "A SEARCH <input>\r\n"
 * (through imap_parse, bounded), then imap_search_parse. A program that
 * parses is bound and matched against a few fixed messages and one made
 * of the input itself; "NOT (<input>)" must match exactly the others, and
 * the responses must be well formed. The input is also a subject for
 * imap_base_subject (UTF-8 out, idempotent), a string for imap_casefold
 * (idempotent, never longer) and an address list; the messages are
 * sorted (a permutation comes out) and threaded (balanced, each message
 * once).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_search.h"
#include "imap/imap_sort.h"
#include "store/mflags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define NMSG 6

static const struct imap_parse_limits plim = { 40, 2000 };

static const char *const texts[NMSG - 1] = {
	"From: Alice <alice@example.org>\nTo: bob@example.net, Carol <c@x>\n"
	"Subject: Re: [list] Hello\nDate: Fri, 21 Nov 1997 09:55:06 -0600\n"
	"Message-ID: <1@x>\nX-Extra: a\n  b\n\nHi Bob\n",
	"From: =?UTF-8?B?SsO8cmdlbg==?= <j@x.de>\nSubject: =?ISO-8859-1?Q?Caf=E9?=\n"
	"Message-ID: <2@x>\nReferences: <1@x>\n"
	"Content-Type: text/plain; charset=iso-8859-1\n"
	"Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe soft=\nbreak\n",
	"From: b@x\r\nSubject: Fwd: Hello (fwd)\r\nIn-Reply-To: <2@x>\r\n"
	"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\nc2VjcmV0IHdvcmQ=\r\n--XX\r\n"
	"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--XX--\r\n",
	"Subject: [fwd: Hello]\nMessage-ID: <1@x>\nReferences: <3@x> <1@x>\n\n",
	"",
};

static const char *
get_message(void *ctx, const struct search_msg *m, size_t *len)
{
	const uint8_t *in = ctx;

	if (m->seq == NMSG - 1)
		return NULL;		/* unreadable */
	if (m->seq == NMSG) {
		*len = (size_t)(uintptr_t)m->priv;
		return (const char *)in;
	}
	*len = strlen(texts[m->seq - 1]);
	return texts[m->seq - 1];
}

static bool
has_keyword(void *ctx, const struct search_msg *m, const char *kw)
{
	(void)ctx;
	return (m->seq % 2) == 0 && strcmp(kw, "$Junk") != 0;
}

static void
make_msgs(struct search_msg *m, size_t size)
{
	static const unsigned flags[NMSG] = {
		MF_SEEN, MF_RECENT, MF_FLAGGED | MF_SEEN, MF_DELETED | MF_DRAFT, MF_ANSWERED, 0,
	};
	size_t i;

	for (i = 0; i < NMSG; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)(i * 3 + 2);
		m[i].flags = flags[i];
		m[i].modseq = (uint64_t)(i * 7 % 5) + 1;
		m[i].size = (uint64_t)i * 100;
		m[i].internal = 880000000 + (long long)i * 43200;
		m[i].internal_tz = (int)(i * 150) - 600;
	}
	m[NMSG - 1].priv = (void *)(uintptr_t)size;
}

/* A command line around the input; NULL when it has CR or LF (imap_parse
 * would take it for a second line). */
static char *
command(const uint8_t *data, size_t size, const char *pre, const char *post, size_t *len)
{
	size_t np = strlen(pre), nq = strlen(post);
	char *c;

	c = malloc(np + size + nq + 3);
	CHECK(c != NULL);
	memcpy(c, pre, np);
	memcpy(c + np, data, size);
	memcpy(c + np + size, post, nq);
	memcpy(c + np + size + nq, "\r\n", 3);
	*len = np + size + nq + 2;
	return c;
}

static struct search_prog *
parse(const uint8_t *data, size_t size, const char *pre, const char *post, bool *parsed)
{
	struct imap_cmd cmd;
	struct search_prog *p = NULL;
	const char *err = NULL;
	size_t len;
	char *c = command(data, size, pre, post, &len);
	int r;

	*parsed = false;
	if (imap_parse(c, len, &plim, &cmd, &err) == 0) {
		*parsed = true;
		r = imap_search_parse(cmd.args, cmd.nargs, 0, &p, &err);
		CHECK(r == SEARCH_OK || r == SEARCH_BAD || r == SEARCH_BADCHARSET);
		CHECK((r == SEARCH_OK) == (p != NULL));
		CHECK(r == SEARCH_OK || (err != NULL && *err != '\0'));
		imap_cmd_free(&cmd);
	}
	free(c);
	return p;
}

static void
check_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, j;

	while (u[i] != 0) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : 2;
		CHECK(u[i] >= 0xc2 && u[i] <= 0xf4);
		for (j = 1; j < k; j++)
			CHECK((u[i + j] & 0xc0) == 0x80);
		i += k;
	}
}

static void
check_thread(const char *r, size_t len)
{
	bool seen[NMSG + 1] = { false };
	size_t depth = 0, count = 0, i;
	unsigned long v;
	char *end;

	CHECK(strlen(r) == len);
	for (i = 0; r[i] != '\0'; ) {
		if (r[i] == '(') {
			depth++;
			i++;
		} else if (r[i] == ')') {
			CHECK(depth > 0 && r[i - 1] != '(');
			depth--;
			i++;
		} else if (r[i] == ' ') {
			CHECK(r[i + 1] != ')' && r[i + 1] != ' ');
			i++;
		} else {
			v = strtoul(r + i, &end, 10);
			CHECK(end > r + i && v >= 1 && v <= NMSG && !seen[v]);
			seen[v] = true;
			count++;
			i = (size_t)(end - r);
		}
	}
	CHECK(depth == 0 && count == NMSG);
}

static void
strings(const uint8_t *data, size_t size)
{
	struct imap_mailbox *mb;
	char *s, *t, *f, *g;
	size_t n, fl, gl, i;
	bool rf;

	s = imap_base_subject_ex((const char *)data, size, &rf);
	check_utf8(s);
	if (strstr(s, "=?") == NULL) {
		t = imap_base_subject(s, strlen(s));
		CHECK(strcmp(s, t) == 0);
		free(t);
	}
	free(s);
	f = imap_casefold((const char *)data, size, &fl);
	CHECK(fl <= size && f[fl] == '\0');
	g = imap_casefold(f, fl, &gl);
	CHECK(gl == fl && memcmp(f, g, fl) == 0);
	free(f);
	free(g);
	n = imap_mailboxes((const char *)data, size, 50, &mb);
	CHECK(n <= 50 && (n == 0) == (mb == NULL));
	for (i = 0; i < n; i++)
		check_utf8(mb[i].name);
	imap_mailboxes_free(mb, n);
}

static void
sort_thread(const struct search_msg *msgs, const struct search_ops *ops)
{
	static const struct sort_prog progs[] = {
		{ { { SORT_SUBJECT, false }, { SORT_DATE, true } }, 2 },
		{ { { SORT_FROM, false }, { SORT_DISPLAYTO, true }, { SORT_CC, false } }, 3 },
		{ { { SORT_DISPLAYFROM, false }, { SORT_TO, false }, { SORT_SIZE, true },
		    { SORT_ARRIVAL, false } }, 4 },
	};
	struct search_msg v[NMSG];
	bool seen[NMSG + 1];
	size_t i, k, len;
	char *r;

	for (k = 0; k < sizeof(progs) / sizeof(progs[0]); k++) {
		memcpy(v, msgs, sizeof(v));
		imap_sort(&progs[k], v, NMSG, ops);
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < NMSG; i++) {
			CHECK(v[i].seq >= 1 && v[i].seq <= NMSG && !seen[v[i].seq]);
			seen[v[i].seq] = true;
		}
	}
	r = imap_thread(THREAD_REFERENCES, msgs, NMSG, ops, false, &len);
	check_thread(r, len);
	free(r);
	r = imap_thread(THREAD_ORDEREDSUBJECT, msgs, NMSG, ops, false, &len);
	check_thread(r, len);
	free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct seqrange sr[] = { { 2, 5 }, { 17, 17 } };
	const struct seqset saved = { (struct seqrange *)sr, 2 };
	struct search_msg msgs[NMSG];
	struct search_ops ops = { get_message, has_keyword, (void *)data };
	struct search_prog *p, *np;
	uint32_t nums[NMSG], uids[NMSG];
	uint64_t mods[NMSG];
	struct seqset s;
	const char *err;
	bool parsed, m[NMSG];
	size_t i, n = 0, len;
	char *r;

	if (size > 65536)
		return 0;
	make_msgs(msgs, size);
	strings(data, size);
	sort_thread(msgs, &ops);

	p = parse(data, size, "A SEARCH ", "", &parsed);
	if (p == NULL)
		return 0;
	if (imap_search_bind(p, NMSG, msgs[NMSG - 1].uid, &saved, &err) != 0) {
		CHECK(err != NULL);
		imap_search_free(p);
		return 0;
	}
	for (i = 0; i < NMSG; i++) {
		m[i] = imap_search_match(p, &msgs[i], &ops);
		/* the same answer twice */
		CHECK(imap_search_match(p, &msgs[i], &ops) == m[i]);
		if (m[i]) {
			nums[n] = msgs[i].seq;
			uids[n] = msgs[i].uid;
			mods[n++] = msgs[i].modseq;
		}
	}
	/* NOT ( ... ) is the complement, when it is the same program */
	if (!imap_search_has_return(p)) {
		np = parse(data, size, "A SEARCH NOT (", ")", &parsed);
		if (np != NULL) {
			CHECK(imap_search_bind(np, NMSG, msgs[NMSG - 1].uid, &saved, &err) == 0);
			for (i = 0; i < NMSG; i++)
				CHECK(imap_search_match(np, &msgs[i], &ops) == !m[i]);
			imap_search_free(np);
		}
	}
	for (i = 0; i < 4; i++) {
		r = imap_search_response(p, (i & 1) ? "T1" : NULL, i & 1, i & 2, (i & 1) ? uids : nums,
		    mods, n, &len);
		if (r == NULL) {
			CHECK(len == 0 && imap_search_return(p) == SEARCH_RET_SAVE);
			continue;
		}
		CHECK(strlen(r) == len && len >= 4 && memcmp(r + len - 2, "\r\n", 2) == 0);
		CHECK(strncmp(r, "* SEARCH", 8) == 0 || strncmp(r, "* ESEARCH", 9) == 0);
		free(r);
	}
	imap_search_saved(p, uids, n, &s);
	CHECK(seqset_count(&s) <= n);
	seqset_free(&s);
	imap_search_free(p);
	return 0;
}
