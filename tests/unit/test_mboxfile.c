/* Unit tests for src/store/mboxfile: boundaries, metadata headers, the
 * client's view, From_ dates, rewrites and appends, byte by byte. */
#include "tu.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "store/mbox.h"
#include "store/mboxfile.h"
#include "store/mflags.h"

#define NEL(a)	(sizeof(a) / sizeof((a)[0]))

/* Thu Nov 26 10:00:00 2026 UTC */
#define WHEN	1795687200LL
#define FROM	"From a@example.org Thu Nov 26 10:00:00 2026\n"

/* A copy in a buffer of exactly len bytes, so that ASan sees any over-read. */
static char *
exact(const char *s, size_t len)
{
	char *p = xmalloc(len > 0 ? len : 1);

	memcpy(p, s, len);
	return p;
}

/* s with \n, \r, \t, \0 and other controls spelled out. */
static void
add_esc(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\r')
			buf_adds(b, "\\r");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (c < ' ') {
			char x[8];

			snprintf(x, sizeof(x), "\\%o", c);
			buf_adds(b, x);
		} else
			buf_addc(b, (char)c);
	}
}

static void
flag_letters(struct buf *b, unsigned flags)
{
	if (flags & MF_SEEN)
		buf_addc(b, 'S');
	if (flags & MF_ANSWERED)
		buf_addc(b, 'A');
	if (flags & MF_FLAGGED)
		buf_addc(b, 'F');
	if (flags & MF_DRAFT)
		buf_addc(b, 'T');
	if (flags & MF_DELETED)
		buf_addc(b, 'D');
}

/* The invariants every parse must hold (those of the fuzz target). */
static void
check_invariants(const char *buf, size_t len, const struct mboxf *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct mboxf_msg *m = &f->m[i];
		size_t next = i + 1 < f->n ? f->m[i + 1].from_off : len, tl;
		char *t;

		assert_true(m->from_off < m->hdr_off);
		assert_true(m->hdr_off <= m->hdr_end);
		assert_true(m->hdr_end <= m->body_off);
		assert_true(m->body_off <= m->end);
		assert_true(m->end <= next);
		assert_true(next - m->end <= 2);
		assert_memory_equal(buf + m->from_off, "From ", 5);
		t = mboxf_message(buf, m, &tl);
		assert_non_null(t);
		assert_int_equal(t[tl], '\0');
		assert_int_equal(mboxf_message_size(buf, m), tl);
		free(t);
	}
}

/* "V<uidvalidity> L<uid_last> K[<kw>] P<pseudo>" then per message
 * "<from>,<hdr>,<eoh>,<body>,<end> uid=<uid> f=<flags> o=<old> kw=[..]
 * d=<date>[L] [<text>]". */
static char *
dump(const char *buf, size_t len, const struct mboxf *f)
{
	struct buf b = { 0 };
	char tmp[200];

	check_invariants(buf, len, f);
	snprintf(tmp, sizeof(tmp), "V%u L%u K[", f->uidvalidity, f->uid_last);
	buf_adds(&b, tmp);
	add_esc(&b, buf + f->base_kw_off, f->base_kw_len);
	buf_adds(&b, f->pseudo ? "] P1\n" : "] P0\n");
	for (size_t i = 0; i < f->n; i++) {
		const struct mboxf_msg *m = &f->m[i];
		size_t tl;
		char *t = mboxf_message(buf, m, &tl);

		snprintf(tmp, sizeof(tmp), "%zu,%zu,%zu,%zu,%zu uid=%u f=", m->from_off,
		    m->hdr_off, m->hdr_end, m->body_off, m->end, m->uid);
		buf_adds(&b, tmp);
		flag_letters(&b, m->flags);
		buf_adds(&b, m->old ? " o=1 kw=[" : " o=0 kw=[");
		add_esc(&b, buf + m->kw_off, m->kw_len);
		snprintf(tmp, sizeof(tmp), "] d=%lld%s [", (long long)m->from_date,
		    m->from_date_local ? "L" : "");
		buf_adds(&b, tmp);
		add_esc(&b, t, tl);
		buf_adds(&b, "]\n");
		free(t);
	}
	return b.p;
}

static void
check_str(const char *what, size_t idx, const char *got, const char *want)
{
	if (got == NULL || want == NULL || strcmp(got, want) != 0) {
		print_error("%s case %zu:\n got: [%s]\nwant: [%s]\n", what, idx,
		    got != NULL ? got : "(null)", want != NULL ? want : "(null)");
		fail();
	}
}

/* Parse text[0..len) (an exact copy) and compare its dump. */
static void
check_parse(const char *what, size_t idx, const char *text, size_t len, const char *want)
{
	struct mboxf f;
	const char *err = NULL;
	unsigned line = 0;
	char *p = exact(text, len), *d;

	if (mboxf_parse(p, len, 1000, &f, &err, &line) < 0)
		fail_msg("%s case %zu: line %u: %s", what, idx, line, err);
	d = dump(p, len, &f);
	check_str(what, idx, d, want);
	free(d);
	mboxf_free(&f);
	free(p);
}

#define CHECK(what, idx, lit, want)	check_parse(what, idx, lit, sizeof(lit) - 1, want)

/* ---- parsing ---- */

static void
test_empty(void **state)
{
	static const char *const v[] = { "", "\n", "\r\n\n", "\r", "\n\r" };
	struct mboxf f;
	const char *err = NULL;
	unsigned line = 0;

	(void)state;
	for (size_t i = 0; i < NEL(v); i++)
		check_parse("empty", i, v[i], strlen(v[i]), "V0 L0 K[] P0\n");
	assert_int_equal(mboxf_parse(NULL, 5, 10, &f, &err, &line), 0);
	assert_int_equal(f.n, 0);
	/* max_msgs 0 is fine for an empty mbox */
	assert_int_equal(mboxf_parse("\n", 1, 0, &f, &err, &line), 0);
	mboxf_free(&f);
	mboxf_free(NULL);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		size_t max;
		const char *err;
		unsigned line;
	} v[] = {
		{ "x\n" FROM, 10, "text before the first From_ line", 1 },
		{ "\n\r\nhello\n" FROM, 10, "text before the first From_ line", 3 },
		{ "From", 10, "text before the first From_ line", 1 },
		{ "From\n", 10, "text before the first From_ line", 1 },
		{ " From a\n", 10, "text before the first From_ line", 1 },
		{ ">From a\n", 10, "text before the first From_ line", 1 },
		{ "from a\n", 10, "text before the first From_ line", 1 },
		{ FROM, 0, "too many messages", 1 },
		{ FROM "a\n\n" FROM "b\n\n" FROM "c\n", 2, "too many messages", 7 },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		struct mboxf f;
		const char *err = NULL;
		unsigned line = 0;
		size_t len = strlen(v[i].text);
		char *p = exact(v[i].text, len);

		assert_int_equal(mboxf_parse(p, len, v[i].max, &f, &err, &line), -1);
		check_str("errors", i, err, v[i].err);
		assert_int_equal(line, v[i].line);
		assert_null(f.m);
		assert_int_equal(f.n, 0);
		free(p);
	}
	/* exactly max_msgs is fine; errors may be left unasked */
	{
		struct mboxf f;
		const char *t = FROM "a\n\n" FROM "b\n\n" FROM "c\n";

		assert_int_equal(mboxf_parse(t, strlen(t), 3, &f, NULL, NULL), 0);
		assert_int_equal(f.n, 3);
		mboxf_free(&f);
		assert_int_equal(mboxf_parse(t, strlen(t), 2, &f, NULL, NULL), -1);
	}
}

static void
test_basic(void **state)
{
	(void)state;
	/* two messages as mbox_deliver writes them: the empty line after
	 * each is the separator */
	CHECK("basic", 0,
	    FROM "Subject: one\n\nbody 1\n\n"
	    FROM "Subject: two\n\nbody 2\n\n",
	    "V0 L0 K[] P0\n"
	    "0,44,57,58,65 uid=0 f= o=0 kw=[] d=1795687200L [Subject: one\\n\\nbody 1\\n]\n"
	    "66,110,123,124,131 uid=0 f= o=0 kw=[] d=1795687200L [Subject: two\\n\\nbody 2\\n]\n");
	/* no separator at the end: the same messages */
	CHECK("basic", 1,
	    FROM "Subject: one\n\nbody 1\n\n"
	    FROM "Subject: two\n\nbody 2\n",
	    "V0 L0 K[] P0\n"
	    "0,44,57,58,65 uid=0 f= o=0 kw=[] d=1795687200L [Subject: one\\n\\nbody 1\\n]\n"
	    "66,110,123,124,131 uid=0 f= o=0 kw=[] d=1795687200L [Subject: two\\n\\nbody 2\\n]\n");
	/* a body ending in empty lines keeps all but the separator */
	CHECK("basic", 2,
	    FROM "S: 1\n\nb\n\n\n\n" FROM "S: 2\n\n\n\n",
	    "V0 L0 K[] P0\n"
	    "0,44,49,50,54 uid=0 f= o=0 kw=[] d=1795687200L [S: 1\\n\\nb\\n\\n\\n]\n"
	    "55,99,104,105,106 uid=0 f= o=0 kw=[] d=1795687200L [S: 2\\n\\n\\n]\n");
	/* empty lines before the first message are skipped */
	CHECK("basic", 3, "\n\r\n" FROM "S: 1\n",
	    "V0 L0 K[] P0\n"
	    "3,47,52,52,52 uid=0 f= o=0 kw=[] d=1795687200L [S: 1\\n]\n");
}

static void
test_shapes(void **state)
{
	(void)state;
	/* headers and the separator only: no empty line, no body */
	CHECK("shapes", 0, FROM "Subject: a\n\n",
	    "V0 L0 K[] P0\n"
	    "0,44,55,55,55 uid=0 f= o=0 kw=[] d=1795687200L [Subject: a\\n]\n");
	/* headers, the empty line, an empty body, the separator */
	CHECK("shapes", 1, FROM "Subject: a\n\n\n",
	    "V0 L0 K[] P0\n"
	    "0,44,55,56,56 uid=0 f= o=0 kw=[] d=1795687200L [Subject: a\\n\\n]\n");
	/* the file does not end in LF */
	CHECK("shapes", 2, FROM "Subject: a",
	    "V0 L0 K[] P0\n"
	    "0,44,54,54,54 uid=0 f= o=0 kw=[] d=1795687200L [Subject: a]\n");
	CHECK("shapes", 3, FROM "Subject: a\n\nbody",
	    "V0 L0 K[] P0\n"
	    "0,44,55,56,60 uid=0 f= o=0 kw=[] d=1795687200L [Subject: a\\n\\nbody]\n");
	/* just a From_ line */
	CHECK("shapes", 4, "From x\n", "V0 L0 K[] P0\n0,7,7,7,7 uid=0 f= o=0 kw=[] d=-1 []\n");
	CHECK("shapes", 5, "From x", "V0 L0 K[] P0\n0,6,6,6,6 uid=0 f= o=0 kw=[] d=-1 []\n");
	CHECK("shapes", 6, "From \n\n", "V0 L0 K[] P0\n0,6,6,6,6 uid=0 f= o=0 kw=[] d=-1 []\n");
	CHECK("shapes", 7, "From x\n\nFrom y\n",
	    "V0 L0 K[] P0\n"
	    "0,7,7,7,7 uid=0 f= o=0 kw=[] d=-1 []\n"
	    "8,15,15,15,15 uid=0 f= o=0 kw=[] d=-1 []\n");
	/* an empty line right after From_: no headers */
	CHECK("shapes", 8, "From x\n\nbody\n\n",
	    "V0 L0 K[] P0\n0,7,7,8,13 uid=0 f= o=0 kw=[] d=-1 [\\nbody\\n]\n");
	/* "From " after a non-empty line is text, in headers or body */
	CHECK("shapes", 9, "From x\nno headers\nFrom y\n\nFrom z\n",
	    "V0 L0 K[] P0\n"
	    "0,7,25,25,25 uid=0 f= o=0 kw=[] d=-1 [no headers\\nFrom y\\n]\n"
	    "26,33,33,33,33 uid=0 f= o=0 kw=[] d=-1 []\n");
	CHECK("shapes", 10, "From x\nS: 1\n\nhi\nFrom y\n>From z\n \nFrom w\nFromage\n\nFrom\n",
	    "V0 L0 K[] P0\n"
	    "0,7,12,13,54 uid=0 f= o=0 kw=[] d=-1 "
	    "[S: 1\\n\\nhi\\nFrom y\\nFrom z\\n \\nFrom w\\nFromage\\n\\nFrom\\n]\n");
}

static void
test_crlf(void **state)
{
	(void)state;
	CHECK("crlf", 0,
	    "From x Thu Nov 26 10:00:00 2026\r\nStatus: RO\r\nSubject: a\r\n\r\nbody\r\n"
	    "\r\nFrom y Thu Nov 26 10:00:00 2026\r\nX-UID: 7\r\n\r\n>From b2\r\n\r\n",
	    "V0 L0 K[] P0\n"
	    "0,33,57,59,65 uid=0 f=S o=1 kw=[] d=1795687200L [Subject: a\\r\\n\\r\\nbody\\r\\n]\n"
	    "67,100,110,112,122 uid=7 f= o=0 kw=[] d=1795687200L [\\r\\nFrom b2\\r\\n]\n");
	/* mixed: an LF line, then a CRLF empty line before From_ */
	CHECK("crlf", 1, "From x\nS: 1\n\r\nFrom y\n",
	    "V0 L0 K[] P0\n"
	    "0,7,12,12,12 uid=0 f= o=0 kw=[] d=-1 [S: 1\\n]\n"
	    "14,21,21,21,21 uid=0 f= o=0 kw=[] d=-1 []\n");
	/* a CRLF file cut after its last CR: that lone CR is the separator */
	CHECK("crlf", 2, "From x\r\nS: 1\r\n\r",
	    "V0 L0 K[] P0\n0,8,14,14,14 uid=0 f= o=0 kw=[] d=-1 [S: 1\\r\\n]\n");
	/* a CR inside a line is no line end */
	CHECK("crlf", 3, "From x\nS: 1\r\rFrom y\n",
	    "V0 L0 K[] P0\n0,7,20,20,20 uid=0 f= o=0 kw=[] d=-1 [S: 1\\r\\rFrom y\\n]\n");
}

static void
test_unquote(void **state)
{
	(void)state;
	CHECK("unquote", 0,
	    "From x\n"
	    ">From evil Mon Jan  1 00:00:00 2001\n"	/* mbox_deliver quotes headers too */
	    "Subject: q\n"
	    "\n"
	    ">From a\n"
	    ">>From b\n"
	    ">>>From c\n"
	    ">From\n"
	    ">Fromage\n"
	    ">>\n"
	    "> From d\n"
	    "x >From e\n"
	    "From f\n"
	    ">From ",
	    "V0 L0 K[] P0\n0,7,54,55,132 uid=0 f= o=0 kw=[] d=-1 ["
	    "From evil Mon Jan  1 00:00:00 2001\\n"
	    "Subject: q\\n"
	    "\\n"
	    "From a\\n"
	    ">From b\\n"
	    ">>From c\\n"
	    ">From\\n"
	    ">Fromage\\n"
	    ">>\\n"
	    "> From d\\n"
	    "x >From e\\n"
	    "From f\\n"
	    "From ]\n");
}

static void
test_metadata(void **state)
{
	(void)state;
	/* Dovecot's headers: X-IMAPbase, X-UID, Status, X-Status, X-Keywords,
	 * Content-Length; all hidden */
	CHECK("meta", 0,
	    FROM
	    "X-IMAPbase: 1795705389 0000000003 $Forwarded Junk\n"
	    "Return-Path: <a@example.org>\n"
	    "X-UID: 1\n"
	    "Status: RO\n"
	    "X-Status: AFTD\n"
	    "X-Keywords: $Forwarded Junk\n"
	    "Content-Length: 7\n"
	    "Subject: one\n"
	    "\n"
	    "body 1\n"
	    "\n"
	    FROM
	    "X-IMAPbase: 1 2 fake\n"	/* not the first message: hidden, not read */
	    "X-IMAP: 1 2\n"
	    "X-UID: 3\n"
	    "Status: O\n"
	    "X-Status: \n"
	    "X-Keywords: \n"
	    "\n"
	    "body 2\n",
	    "V1795705389 L3 K[$Forwarded Junk] P0\n"
	    "0,44,217,218,225 uid=1 f=SAFTD o=1 kw=[$Forwarded Junk] d=1795687200L "
	    "[Return-Path: <a@example.org>\\nSubject: one\\n\\nbody 1\\n]\n"
	    "226,270,346,347,354 uid=3 f= o=1 kw=[] d=1795687200L [\\nbody 2\\n]\n");
	/* names in any case, blanks before the colon, the first of duplicates
	 * wins, unknown letters ignored, all hidden */
	CHECK("meta", 1,
	    "From x\n"
	    "STATUS: R\n"
	    "status: O\n"
	    "x-status: FxD\n"
	    "X-STATUS: A\n"
	    "x-keywords: k1\n"
	    "X-KEYWORDS: k2\n"
	    "x-uid: 5\n"
	    "X-Uid: 6\n"
	    "Status : O\n"
	    "x-imapBASE: 7 8\n"
	    "CONTENT-LENGTH: 0\n"
	    "X-Status-Other: A\n"
	    "X-UIDs: 9\n"
	    "Statuss: R\n",
	    "V7 L8 K[] P0\n"
	    "0,7,185,185,185 uid=5 f=SFD o=0 kw=[k1] d=-1 "
	    "[X-Status-Other: A\\nX-UIDs: 9\\nStatuss: R\\n]\n");
	/* folded values: X-Keywords raw with its folding, the others read
	 * through it; continuation lines hidden with their header */
	CHECK("meta", 2,
	    "From x\n"
	    "X-Keywords: $a,\n"
	    "\t$b\n"
	    "  c\n"
	    "Subject: s\n"
	    " folded\n"
	    "X-UID:\n"
	    " 42\n"
	    "Status:\n"
	    " R\n"
	    " O\n"
	    "\n"
	    "b\n",
	    "V0 L0 K[] P0\n"
	    "0,7,75,76,78 uid=42 f=S o=1 kw=[$a,\\n\\t$b\\n  c] d=-1 "
	    "[Subject: s\\n folded\\n\\nb\\n]\n");
	/* headers end at the first empty line: later ones are body */
	CHECK("meta", 3, "From x\nA: 1\n\nStatus: R\nX-UID: 3\n",
	    "V0 L0 K[] P0\n0,7,12,13,32 uid=0 f= o=0 kw=[] d=-1 [A: 1\\n\\nStatus: R\\nX-UID: 3\\n]\n");
	/* a stray continuation line first, a line without a colon */
	CHECK("meta", 4, "From x\n cont\nno colon\nX-UID: 4\n more\n",
	    "V0 L0 K[] P0\n0,7,37,37,37 uid=0 f= o=0 kw=[] d=-1 [ cont\\nno colon\\n]\n");
}

static void
test_uid_values(void **state)
{
	static const struct {
		const char *value;
		uint32_t uid;
	} v[] = {
		{ "1", 1 },
		{ "42 ", 42 },
		{ "\t42", 42 },
		{ "000000000000000000042", 42 },
		{ "4294967295", 4294967295U },
		{ "4294967296", 0 },
		{ "99999999999999999999", 0 },
		{ "0", 0 },
		{ "", 0 },
		{ "abc", 0 },
		{ "4 2", 0 },
		{ "-1", 0 },
		{ "+1", 0 },
		{ "0x10", 0 },
		{ "12abc", 0 },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		char *t = xasprintf("From x\nX-UID: %s\n\nb\n", v[i].value);
		struct mboxf f;

		assert_int_equal(mboxf_parse(t, strlen(t), 10, &f, NULL, NULL), 0);
		assert_int_equal(f.n, 1);
		if (f.m[0].uid != v[i].uid)
			fail_msg("uid case %zu: %u, want %u", i, f.m[0].uid, v[i].uid);
		mboxf_free(&f);
		free(t);
	}
}

static void
test_imapbase(void **state)
{
	static const struct {
		const char *hdr;
		const char *want;
	} v[] = {
		{ "X-IMAPbase: 1795705389 0000000003\n", "V1795705389 L3 K[] P0" },
		{ "X-IMAPbase: 1 2 $Forwarded  Junk \n", "V1 L2 K[$Forwarded  Junk] P0" },
		{ "X-IMAPbase: 4294967295 4294967295\n", "V4294967295 L4294967295 K[] P0" },
		{ "X-IMAPbase: 1 0\n", "V1 L0 K[] P0" },
		/* not numbers, too big, uidvalidity 0, one number: ignored */
		{ "X-IMAPbase: 4294967296 3 kw\n", "V0 L0 K[] P0" },
		{ "X-IMAPbase: 99999999999999999999999 3\n", "V0 L0 K[] P0" },
		{ "X-IMAPbase: 5 99999999999\n", "V0 L0 K[] P0" },
		{ "X-IMAPbase: 0 3\n", "V0 L0 K[] P0" },
		{ "X-IMAPbase: 5\n", "V0 L0 K[] P0" },
		{ "X-IMAPbase: 5 x\n", "V0 L0 K[] P0" },
		{ "X-IMAPbase: x 5\n", "V0 L0 K[] P0" },
		{ "X-IMAPbase:\n", "V0 L0 K[] P0" },
		/* folded */
		{ "X-IMAPbase: 5\n 7 a\n b\n", "V5 L7 K[a\\n b] P0" },
		/* X-IMAP: the pseudo message */
		{ "X-IMAP: 1795705389 0000000000\n", "V1795705389 L0 K[] P1" },
		{ "X-IMAP: garbage\n", "V0 L0 K[] P1" },
		/* the first of the two is read; X-IMAP anywhere marks it */
		{ "X-IMAPbase: 1 2\nX-IMAP: 3 4\n", "V1 L2 K[] P1" },
		{ "x-imap: 3 4\nX-IMAPBASE: 1 2\n", "V3 L4 K[] P1" },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		char *t = xasprintf("From x\n%s\nb\n", v[i].hdr);
		struct mboxf f;
		char *d, *nl;

		assert_int_equal(mboxf_parse(t, strlen(t), 10, &f, NULL, NULL), 0);
		d = dump(t, strlen(t), &f);
		nl = strchr(d, '\n');
		*nl = '\0';
		check_str("imapbase", i, d, v[i].want);
		/* always hidden */
		assert_string_equal(strstr(nl + 1, "d=-1 ["), "d=-1 [\\nb\\n]\n");
		free(d);
		mboxf_free(&f);
		free(t);
	}
}

static void
test_nul_bytes(void **state)
{
	static const char t[] =
	    "From \0x Thu Nov 26 10:00:00 2026\n"
	    "A:\0b\n"
	    "Sta\0tus: R\n"
	    "Status: R\0O\n"
	    "X-UID: 1\0\n"
	    "\n"
	    "\0\n"
	    ">From \0\n"
	    "\n"
	    "From \0\n"
	    "\0";

	(void)state;
	CHECK("nul", 0, t,
	    "V0 L0 K[] P0\n"
	    "0,33,71,72,82 uid=0 f=S o=1 kw=[] d=1795687200L "
	    "[A:\\0b\\nSta\\0tus: R\\n\\n\\0\\nFrom \\0\\n]\n"
	    "83,90,91,91,91 uid=0 f= o=0 kw=[] d=-1 [\\0]\n");
}

/* Dovecot's own files: From_ lines in bodies unquoted, Content-Length
 * trusted where Dovecot trusts it. */
static void
test_content_length(void **state)
{
	static const struct {
		const char *text;
		size_t n;		/* messages */
	} v[] = {
		/* Dovecot's body is "first\n\nFrom here on\nmore\n", 25 bytes */
		{ FROM "Content-Length: 25\n\nfirst\n\nFrom here on\nmore\n\n", 1 },
		{ FROM "Content-Length: 25\n\nfirst\n\nFrom here on\nmore\n", 1 },
		{ FROM "S: 1\n\nb\n\n" FROM "content-length : 25\n\nfirst\n\nFrom here on\nmore\n\n"
		  FROM "S: 3\n", 3 },
		/* spanning two From_ lines */
		{ FROM "Content-Length: 27\n\nfirst\n\nFrom a\n\nFrom b\nmore\n", 1 },
		/* its own end, too long, not a number: From_ lines decide */
		{ FROM "Content-Length: 6\n\nfirst\n\nFrom here on\nmore\n", 2 },
		/* one short of the end: the last LF is then the separator */
		{ FROM "Content-Length: 24\n\nfirst\n\nFrom here on\nmore\n", 1 },
		{ FROM "Content-Length: 26\n\nfirst\n\nFrom here on\nmore\n", 2 },
		{ FROM "Content-Length: 2 5\n\nfirst\n\nFrom here on\nmore\n", 2 },
		{ FROM "Content-Length: 99999999999999999999999\n\nfirst\n\nFrom x\n", 2 },
		{ FROM "Content-Length: 18446744073709551615\n\nfirst\n\nFrom x\n", 2 },
		/* the first Content-Length counts; none after the empty line */
		{ FROM "Content-Length: 6\nContent-Length: 25\n\nfirst\n\nFrom here on\nmore\n", 2 },
		{ FROM "S: 1\n\nContent-Length: 0\n\nFrom x\n", 2 },
		/* ends inside a line, or before text that is no From_ line */
		{ FROM "Content-Length: 9\n\nfirst\n\nFrom here on\nmore\n", 2 },
		{ FROM "Content-Length: 20\n\nfirst\n\nFrom here on\nmore\n\nx\n", 2 },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		struct mboxf f;
		size_t len = strlen(v[i].text);

		assert_int_equal(mboxf_parse(v[i].text, len, 10, &f, NULL, NULL), 0);
		check_invariants(v[i].text, len, &f);
		if (f.n != v[i].n)
			fail_msg("Content-Length case %zu: %zu messages", i, f.n);
		mboxf_free(&f);
	}
}

/* Files a real Dovecot 2.3.19 wrote (tests/unit/data/dovecot/README). */
static void
test_dovecot_vectors(void **state)
{
	struct mboxf f, g;
	struct mboxf_update upd[4];
	struct buf out = { 0 };
	char *kw[4];
	size_t len;
	char *text = tu_dovecot_vector("mbox-inbox", &len), *d;

	(void)state;
	assert_int_equal(mboxf_parse(text, len, 100, &f, NULL, NULL), 0);
	d = dump(text, len, &f);
	check_str("dovecot", 0, d,
	    "V1795721099 L5 K[$Forwarded Junk] P0\n"
	    "0,39,281,282,289 uid=1 f=S o=1 kw=[] d=1795721099L "
	    "[From: a@example.org\\nTo: b@example.org\\nSubject: mbox 1\\n"
	    "Message-ID: <mbox1@example.org>\\n\\nbody 1\\n]\n"
	    "290,329,564,565,572 uid=2 f=SF o=1 kw=[$Forwarded Junk] d=1795721099L "
	    "[From: a@example.org\\nTo: b@example.org\\nSubject: mbox 2\\n"
	    "Message-ID: <mbox2@example.org>\\n\\nbody 2\\n]\n"
	    "573,612,832,833,908 uid=3 f=AT o=1 kw=[] d=1795721099L "
	    "[From: a@example.org\\nTo: b@example.org\\nSubject: mbox 3\\n"
	    "Message-ID: <mbox3@example.org>\\n\\ntext\\nFrom here, after text\\n"
	    "From quoted\\n\\n>From after an empty line\\nbody 3\\n]\n"
	    "909,948,1155,1156,1163 uid=5 f= o=1 kw=[] d=1795721099L "
	    "[From: a@example.org\\nTo: b@example.org\\nSubject: mbox 5\\n"
	    "Message-ID: <mbox5@example.org>\\n\\nbody 5\\n]\n");
	free(d);
	/* rewritten as it is: the same messages and metadata, Dovecot's
	 * padding gone */
	assert_int_equal(f.n, 4);
	for (size_t i = 0; i < f.n; i++) {
		kw[i] = xstrndup(text + f.m[i].kw_off, f.m[i].kw_len);
		upd[i] = (struct mboxf_update){ true, f.m[i].uid, f.m[i].flags, f.m[i].old,
		    kw[i] };
	}
	mboxf_rewrite(text, &f, upd, f.uidvalidity, f.uid_last, "$Forwarded Junk", &out);
	assert_null(strstr(out.p, "   "));
	assert_int_equal(mboxf_parse(out.p, out.len, 100, &g, NULL, NULL), 0);
	assert_int_equal(g.n, f.n);
	for (size_t i = 0; i < f.n; i++) {
		char *a = mboxf_message(text, &f.m[i], NULL), *b = mboxf_message(out.p, &g.m[i],
		    NULL);

		assert_string_equal(a, b);
		assert_int_equal(g.m[i].uid, f.m[i].uid);
		assert_int_equal(g.m[i].flags, f.m[i].flags);
		assert_int_equal(g.m[i].old, f.m[i].old);
		free(a);
		free(b);
		free(kw[i]);
	}
	mboxf_free(&g);
	buf_free(&out);
	mboxf_free(&f);
	free(text);

	/* "From " after an empty line in a body: Dovecot's Content-Length
	 * makes it one message, for us too */
	text = tu_dovecot_vector("mbox-inbox-clen", &len);
	assert_int_equal(mboxf_parse(text, len, 100, &f, NULL, NULL), 0);
	assert_int_equal(f.n, 2);
	d = mboxf_message(text, &f.m[0], NULL);
	assert_non_null(strstr(d, "\npara\n\nFrom here on\nbody 1\n"));
	free(d);
	assert_int_equal(f.uidvalidity, 1795721099);
	assert_int_equal(f.uid_last, 2);
	mboxf_free(&f);
	free(text);
}

/* ---- From_ dates ---- */

static void
test_dates(void **state)
{
	static const struct {
		const char *line;
		long long t;	/* -1: none */
		bool local;
	} v[] = {
		/* mutt, mbox_deliver */
		{ "From a@example.org Thu Nov 26 10:00:00 2026", WHEN, true },
		/* Postfix local(8) and Dovecot: two blanks */
		{ "From a@example.org  Thu Nov 26 10:00:00 2026", WHEN, true },
		/* asctime pads a day with a blank, Dovecot with a 0 */
		{ "From a Fri Nov  6 10:00:00 2026", WHEN - 20 * 86400, true },
		{ "From a Fri Nov 06 10:00:00 2026", WHEN - 20 * 86400, true },
		{ "From a Fri Nov 6 10:00:00 2026", WHEN - 20 * 86400, true },
		/* no seconds; one-digit hour */
		{ "From a Thu Nov 26 10:00 2026", WHEN, true },
		{ "From a Thu Nov 26 9:00:00 2026", WHEN - 3600, true },
		/* zones: numeric after or before the year, names */
		{ "From a Thu Nov 26 10:00:00 2026 +0100", WHEN - 3600, false },
		{ "From a Thu Nov 26 10:00:00 2026 -0530", WHEN + 5 * 3600 + 1800, false },
		{ "From a Thu Nov 26 10:00:00 +0100 2026", WHEN - 3600, false },
		{ "From a Thu Nov 26 10:00:00 CET 2026", WHEN, true },
		{ "From a Thu Nov 26 10:00:00 MET DST 2026", WHEN, true },
		{ "From a Thu Nov 26 10:00:00 GMT 2026", WHEN, false },
		{ "From a Thu Nov 26 10:00:00 2026 UTC", WHEN, false },
		{ "From a Thu Nov 26 10:00:00 2026 +2400", WHEN, true },
		/* UUCP */
		{ "From a Thu Nov 26 10:00:00 2026 remote from uucphost", WHEN, true },
		/* RFC 5322-like, as Dovecot also reads it */
		{ "From a Thu, 26 Nov 2026 10:00:00", WHEN, true },
		{ "From a Thu, 26 Nov 2026 10:00:00 -0500", WHEN + 5 * 3600, false },
		/* senders: quoted with blanks, none, one looking like a day */
		{ "From \"john doe\"@x Thu Nov 26 10:00:00 2026", WHEN, true },
		{ "From Thu Nov 26 10:00:00 2026", WHEN, true },
		{ "From Mon Thu Nov 26 10:00:00 2026", WHEN, true },
		{ "From a thu NOV 26 10:00:00 2026", WHEN, true },
		{ "From a\tThu Nov 26 10:00:00 2026", WHEN, true },
		{ "From a Thu Nov 26 10:00:00 2026\r", WHEN, true },
		/* the weekday is not checked */
		{ "From a Mon Nov 26 10:00:00 2026", WHEN, true },
		/* limits */
		{ "From a Thu Jan  1 00:00:00 1970", 0, true },
		{ "From a Fri Dec 31 23:59:59 9999", 253402300799LL, true },
		{ "From a Thu Feb 29 12:00:00 2024", 1709208000LL, true },
		{ "From a Tue Feb 29 12:00:00 2000", 951825600LL, true },
		{ "From a Thu Nov 26 23:59:60 2026", WHEN + 14 * 3600, true },
		/* invalid */
		{ "From a", -1, false },
		{ "From ", -1, false },
		{ "From a Thu Nov 26 10:00:00", -1, false },
		{ "From a Thu Nov 31 10:00:00 2026", -1, false },
		{ "From a Sun Feb 29 12:00:00 2026", -1, false },
		{ "From a Mon Feb 29 12:00:00 1900", -1, false },
		{ "From a Thu Nov  0 10:00:00 2026", -1, false },
		{ "From a Thu Nov 26 24:00:00 2026", -1, false },
		{ "From a Thu Nov 26 10:60:00 2026", -1, false },
		{ "From a Thu Nov 26 10:00:61 2026", -1, false },
		{ "From a Thu Nov 26 10:0:00 2026", -1, false },
		{ "From a Thu Xyz 26 10:00:00 2026", -1, false },
		{ "From a Thursday Nov 26 10:00:00 2026", -1, false },
		{ "From a Thu Nov 26 10:00:00 26", -1, false },
		{ "From a Thu Nov 26 10:00:00 20261", -1, false },
		{ "From a Thu Nov 26 10:00:00 2026x", -1, false },
		{ "From a Wed Dec 31 23:59:59 1969", -1, false },
		{ "From a Thu Jan  1 00:00:00 1970 +0100", -1, false },
		{ "From a Thu Nov 26 10:00:00 +2400 2026", -1, false },
		{ "From a Thu Nov 26 10:00:00 A B C 2026", -1, false },
		{ "From a Thu Nov 126 10:00:00 2026", -1, false },
		{ "From a Thu, 26 Nov 26 10:00:00", -1, false },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		char *t = xasprintf("%s\nS: x\n", v[i].line);
		struct mboxf f;

		assert_int_equal(mboxf_parse(t, strlen(t), 10, &f, NULL, NULL), 0);
		assert_int_equal(f.n, 1);
		if (f.m[0].from_date != v[i].t || (v[i].t >= 0 && f.m[0].from_date_local !=
		    v[i].local))
			fail_msg("date case %zu [%s]: %lld%s, want %lld%s", i, v[i].line,
			    (long long)f.m[0].from_date, f.m[0].from_date_local ? "L" : "",
			    v[i].t, v[i].local ? "L" : "");
		mboxf_free(&f);
		free(t);
	}
}

/* ---- rewriting ---- */

static char *
rewrite(const char *text, const struct mboxf_update *upd, size_t nupd, uint32_t uv,
    uint32_t ul, const char *basekw, size_t *len_r)
{
	struct mboxf f;
	struct buf out = { 0 };

	assert_int_equal(mboxf_parse(text, strlen(text), 100, &f, NULL, NULL), 0);
	assert_int_equal(f.n, nupd);
	mboxf_rewrite(text, &f, upd, uv, ul, basekw, &out);
	mboxf_free(&f);
	if (len_r != NULL)
		*len_r = out.len;
	return out.p;
}

static void
test_rewrite(void **state)
{
	static const char in[] =
	    FROM
	    "X-IMAPbase: 1795705389 0000000003 $Forwarded\n"
	    "Return-Path: <a@example.org>\n"
	    "X-UID: 1\n"
	    "Status: RO\n"
	    "Content-Length: 7\n"
	    "Subject: one\n"
	    " folded\n"
	    "status: R\n"
	    "\n"
	    "body 1\n"
	    ">From quoted\n"
	    "\n"
	    FROM
	    "Subject: two\n"
	    "X-Keywords: old\n"
	    "\n"
	    "body 2\n"
	    "\n"
	    FROM
	    "Subject: three\n"
	    "\n"
	    "body 3";
	struct mboxf_update upd[3] = {
		{ true, 1, MF_SEEN | MF_ANSWERED, true, "$Forwarded\r\nBcc: x" },
		{ true, 2, MF_FLAGGED | MF_DRAFT | MF_DELETED | MF_RECENT, false, NULL },
		{ true, 3, 0, true, " \t" },
	};
	char *out, *again;
	size_t len;

	(void)state;
	out = rewrite(in, upd, 3, 1795705389, 4, "$Forwarded Junk", &len);
	assert_string_equal(out,
	    FROM
	    "Return-Path: <a@example.org>\n"
	    "Subject: one\n"
	    " folded\n"
	    "X-IMAPbase: 1795705389 0000000004 $Forwarded Junk\n"
	    "X-UID: 1\n"
	    "Status: RO\n"
	    "X-Status: A\n"
	    "X-Keywords: $Forwarded Bcc: x\n"	/* no header injection */
	    "Content-Length: 20\n"	/* its body's true length */
	    "\n"
	    "body 1\n"
	    ">From quoted\n"
	    "\n"
	    FROM
	    "Subject: two\n"
	    "X-UID: 2\n"
	    "X-Status: FTD\n"
	    "\n"
	    "body 2\n"
	    "\n"
	    FROM
	    "Subject: three\n"
	    "X-UID: 3\n"
	    "Status: O\n"
	    "\n"
	    "body 3\n"	/* the unterminated last line gets its LF */
	    "\n");
	assert_int_equal(len, strlen(out));
	/* what it wrote, rewritten with the same data: the same bytes */
	again = rewrite(out, upd, 3, 1795705389, 4, "$Forwarded Junk", NULL);
	assert_string_equal(again, out);
	free(again);
	check_parse("rewrite", 0, out, len,
	    "V1795705389 L4 K[$Forwarded Junk] P0\n"
	    "0,44,225,226,246 uid=1 f=SA o=1 kw=[$Forwarded Bcc: x] d=1795687200L "
	    "[Return-Path: <a@example.org>\\nSubject: one\\n folded\\n\\nbody 1\\nFrom quoted\\n]\n"
	    "247,291,327,328,335 uid=2 f=FTD o=0 kw=[] d=1795687200L "
	    "[Subject: two\\n\\nbody 2\\n]\n"
	    "336,380,414,415,422 uid=3 f= o=1 kw=[] d=1795687200L [Subject: three\\n\\nbody 3\\n]\n");
	free(out);

	/* the first kept message gets X-IMAPbase; uidvalidity 0 writes none */
	upd[0].keep = false;
	out = rewrite(in, upd, 3, 7, 9, NULL, NULL);
	assert_string_equal(out,
	    FROM "Subject: two\nX-IMAPbase: 7 0000000009\nX-UID: 2\nX-Status: FTD\n\nbody 2\n\n"
	    FROM "Subject: three\nX-UID: 3\nStatus: O\n\nbody 3\n\n");
	free(out);
	upd[1].keep = false;
	out = rewrite(in, upd, 3, 0, 9, "x", NULL);
	assert_string_equal(out, FROM "Subject: three\nX-UID: 3\nStatus: O\n\nbody 3\n\n");
	free(out);
	upd[2].keep = false;
	out = rewrite(in, upd, 3, 7, 9, "x", &len);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	free(out);
}

static void
test_rewrite_shapes(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} v[] = {
		/* just a From_ line, with and without LF */
		{ "From x", "From x\nX-IMAPbase: 5 0000000006\nX-UID: 1\nStatus: R\n\n" },
		{ "From x\n", "From x\nX-IMAPbase: 5 0000000006\nX-UID: 1\nStatus: R\n\n" },
		/* no empty line: the metadata go last */
		{ "From x\nA: 1\nStatus: O\nB: 2",
		  "From x\nA: 1\nB: 2\nX-IMAPbase: 5 0000000006\nX-UID: 1\nStatus: R\n\n" },
		/* no headers */
		{ "From x\n\nbody\n\n", "From x\nX-IMAPbase: 5 0000000006\nX-UID: 1\nStatus: R\n\nbody\n\n" },
		/* CRLF kept where it was; ours are LF */
		{ "From x\r\nA: 1\r\nX-UID: 9\r\n\r\nb\r\n\r\n",
		  "From x\r\nA: 1\r\nX-IMAPbase: 5 0000000006\nX-UID: 1\nStatus: R\n\r\nb\r\n\n" },
		/* the pseudo message stays one */
		{ "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\nX-IMAP: 1 2\nSubject: DON'T DELETE\n\n",
		  "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\nSubject: DON'T DELETE\n"
		  "X-IMAP: 5 0000000006\nX-UID: 1\nStatus: R\n\n" },
	};
	struct mboxf_update u = { true, 1, MF_SEEN, false, "" };

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		char *out = rewrite(v[i].in, &u, 1, 5, 6, NULL, NULL);

		check_str("rewrite shapes", i, out, v[i].want);
		free(out);
	}
	/* a pseudo message with uidvalidity 0 keeps X-IMAP; one not kept
	 * passes nothing on */
	{
		const char *in = "From x\nX-IMAP: 1 2\n\n" FROM "S: 1\n";
		struct mboxf_update two[2] = { { true, 0, 0, false, NULL },
			{ true, 0, 0, false, NULL } };
		char *out = rewrite(in, two, 2, 0, 0, NULL, NULL);

		assert_string_equal(out, "From x\nX-IMAP: 0 0000000000\n\n" FROM "S: 1\n\n");
		free(out);
		two[0].keep = false;
		out = rewrite(in, two, 2, 3, 4, NULL, NULL);
		assert_string_equal(out, FROM "S: 1\nX-IMAPbase: 3 0000000004\n\n");
		free(out);
	}
}

static void
test_keywords(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} v[] = {
		{ "", "" },
		{ "a", "a|" },
		{ "  a  b ", "a|b|" },
		{ "a,b,,c", "a|b|c|" },
		{ "$a\n\t$b\r\n  c", "$a|$b|c|" },
		{ "x\001y\177z", "x|y|z|" },
		{ "\xc3\xa4", "\xc3\xa4|" },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		struct buf b = { 0 };
		size_t pos = 0, off, n, len = strlen(v[i].in);

		buf_reset(&b);
		while (mboxf_next_keyword(v[i].in, len, &pos, &off, &n)) {
			buf_add(&b, v[i].in + off, n);
			buf_addc(&b, '|');
		}
		assert_int_equal(pos, len);
		check_str("keywords", i, b.p, v[i].want);
		buf_free(&b);
	}
}

/* ---- appending ---- */

static char *
format_new(const char *msg, const char *sender, int64_t idate, const struct mboxf_update *u)
{
	struct buf out = { 0 };

	mboxf_format_new(msg, msg != NULL ? strlen(msg) : 0, sender, idate, u, &out);
	return out.p;
}

static void
test_format_new(void **state)
{
	static const struct mboxf_update none = { false, 0, 0, false, NULL };
	static const struct mboxf_update some = { false, 5, MF_SEEN | MF_FLAGGED, true,
		"k1  k2" };
	static const struct {
		const char *msg;
		const char *sender;
		int64_t idate;
		const struct mboxf_update *u;
		const char *want;
	} v[] = {
		/* CRLF to LF, a client's metadata headers dropped, ours added
		 * before the empty line, every line quoted */
		{ "From old Mon Jan  1 00:00:00 2001\r\n"
		  "Subject: a\r\n"
		  "status: RO\r\n"
		  "X-UID: 99\r\n"
		  "X-Keywords: evil\r\n"
		  "\tfolded\r\n"
		  "Content-Length: 1\r\n"
		  "X-IMAPbase: 1 2\r\n"
		  "X-IMAP: 1 2\r\n"
		  "X-Status : D\r\n"
		  "\r\n"
		  "From me\r\n"
		  ">From you\r\n"
		  "body",
		  "a@b", WHEN, &some,
		  "From a@b Thu Nov 26 10:00:00 2026\n"
		  ">From old Mon Jan  1 00:00:00 2001\n"
		  "Subject: a\n"
		  "X-UID: 5\n"
		  "Status: RO\n"
		  "X-Status: F\n"
		  "X-Keywords: k1 k2\n"
		  "\n"
		  ">From me\n"
		  ">>From you\n"
		  "body\n" },
		{ "", NULL, WHEN, &none, "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n" },
		{ "", "", WHEN, &some,
		  "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n"
		  "X-UID: 5\nStatus: RO\nX-Status: F\nX-Keywords: k1 k2\n" },
		/* no empty line: metadata at the end */
		{ "Subject: a", "x", WHEN, &some,
		  "From x Thu Nov 26 10:00:00 2026\nSubject: a\n"
		  "X-UID: 5\nStatus: RO\nX-Status: F\nX-Keywords: k1 k2\n" },
		{ "Subject: a\nStatus: R", "x", WHEN, &none,
		  "From x Thu Nov 26 10:00:00 2026\nSubject: a\n" },
		/* no headers */
		{ "\nbody\n", "x", WHEN, &some,
		  "From x Thu Nov 26 10:00:00 2026\n"
		  "X-UID: 5\nStatus: RO\nX-Status: F\nX-Keywords: k1 k2\n\nbody\n" },
		{ "\r\nFrom \r\n\r\n", "x", WHEN, &none,
		  "From x Thu Nov 26 10:00:00 2026\n\n>From \n\n" },
		/* "From" cut at the end; a lone CR as the empty line */
		{ "A: 1\n\nFro", "x", WHEN, &none, "From x Thu Nov 26 10:00:00 2026\nA: 1\n\nFro\n" },
		{ "A: 1\n\r\r\nX-UID: 1\n", "x", WHEN, &some,
		  "From x Thu Nov 26 10:00:00 2026\nA: 1\n"
		  "X-UID: 5\nStatus: RO\nX-Status: F\nX-Keywords: k1 k2\n\r\nX-UID: 1\n" },
		/* sender and date limits */
		{ "A: 1\n", "a b\t\001@c\n", 0, &none, "From a_b__@c_ Thu Jan  1 00:00:00 1970\nA: 1\n" },
		{ "A: 1\n", "x", -1, &none, "From x Thu Jan  1 00:00:00 1970\nA: 1\n" },
		{ "A: 1\n", "x", 253402300799LL, &none, "From x Fri Dec 31 23:59:59 9999\nA: 1\n" },
		{ "A: 1\n", "x", 253402300800LL, &none, "From x Thu Jan  1 00:00:00 1970\nA: 1\n" },
		{ "A: 1\n", "x", INT64_MAX, &none, "From x Thu Jan  1 00:00:00 1970\nA: 1\n" },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		char *out = format_new(v[i].msg, v[i].sender, v[i].idate, v[i].u);

		check_str("format_new", i, out, v[i].want);
		free(out);
	}
	{
		struct buf out = { 0 };

		mboxf_format_new(NULL, 10, NULL, WHEN, &none, &out);
		assert_string_equal(out.p, "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n");
		buf_free(&out);
	}
}

/* An appended message reads back as given: after a rewrite, after text
 * ending in any way. */
static void
test_append_roundtrip(void **state)
{
	static const char *const bases[] = {
		"",
		"\n",
		FROM "S: 1\n\nb\n\n",
		FROM "S: 1\n\nb\n",
		FROM "S: 1\n\nb",
		FROM "S: 1\n\nb\r\n",
		FROM "S: 1\n\nb\r\n\r\n",
		FROM "S: 1\n\nb\r\n\r",
		FROM "S: 1\n\nb\r",
		"From x",
		"From x\n",
	};
	static const char *const msgs[] = {
		"Subject: hi\r\nX-UID: 7\r\n\r\nFrom here\r\n>From there\r\n\r\n",
		"",
		"no empty line",
		"\r\n",
		"A: b\n\n\n",
	};
	static const char *const want[] = {
		"Subject: hi\n\nFrom here\n>From there\n\n",
		"",
		"no empty line\n",
		"\n",
		"A: b\n\n\n",
	};
	struct mboxf_update u = { false, 8, MF_DELETED, false, "x" };

	(void)state;
	for (size_t b = 0; b < NEL(bases); b++) {
		struct mboxf before;
		size_t blen = strlen(bases[b]);

		assert_int_equal(mboxf_parse(bases[b], blen, 10, &before, NULL, NULL), 0);
		for (size_t k = 0; k < NEL(msgs); k++) {
			struct buf t = { 0 };
			struct mboxf f;
			char *text;
			size_t tl;

			buf_add(&t, bases[b], blen);
			buf_adds(&t, mboxf_append_sep(t.p, t.len));
			mboxf_format_new(msgs[k], strlen(msgs[k]), NULL, WHEN, &u, &t);
			buf_addc(&t, '\n');
			assert_int_equal(mboxf_parse(t.p, t.len, 10, &f, NULL, NULL), 0);
			check_invariants(t.p, t.len, &f);
			assert_int_equal(f.n, before.n + 1);
			/* the messages before keep their texts */
			for (size_t i = 0; i < before.n; i++) {
				char *a = mboxf_message(bases[b], &before.m[i], NULL);
				char *c = mboxf_message(t.p, &f.m[i], NULL);

				if (strcmp(a, c) != 0 && !(strlen(c) == strlen(a) + 1 &&
				    strncmp(a, c, strlen(a)) == 0 && c[strlen(a)] == '\n'))
					fail_msg("base %zu msg %zu: [%s] became [%s]", b, k, a, c);
				free(a);
				free(c);
			}
			text = mboxf_message(t.p, &f.m[before.n], &tl);
			check_str("append", b * 10 + k, text, want[k]);
			assert_int_equal(f.m[before.n].uid, 8);
			assert_int_equal(f.m[before.n].flags, MF_DELETED);
			assert_int_equal(f.m[before.n].from_date, WHEN);
			free(text);
			mboxf_free(&f);
			buf_free(&t);
		}
		mboxf_free(&before);
	}
}

static void
test_append_sep(void **state)
{
	static const struct {
		const char *tail;
		const char *want;
	} v[] = {
		{ "", "" },
		{ "\n", "" },
		{ "\r\n", "" },
		{ "\r", "\n" },
		{ "x", "\n\n" },
		{ "x\n", "\n" },
		{ "x\n\n", "" },
		{ "\n\n", "" },
		{ "x\r\n", "\n" },
		{ "\n\r\n", "" },
		{ "x\r", "\n\n" },
		{ "\n\r", "\n" },
		{ "\r\r", "\n\n" },
		{ "y\r\n\r\n", "" },
		{ "bc\n", "\n" },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++)
		check_str("append_sep", i, mboxf_append_sep(v[i].tail, strlen(v[i].tail)),
		    v[i].want);
}

/* ---- quoting ---- */

static char *
quote_pieces(const char *s, size_t n, size_t cut1, size_t cut2, bool bol)
{
	struct mboxf_quoter q;
	struct buf out = { 0 };

	buf_reset(&out);
	mboxf_quote_init(&q, bol);
	mboxf_quote(&q, s, cut1, &out);
	mboxf_quote(&q, s + cut1, cut2 - cut1, &out);
	mboxf_quote(&q, s + cut2, n - cut2, &out);
	mboxf_quote_end(&q, &out);
	return out.p;
}

static void
test_quoter(void **state)
{
	static const char in[] =
	    "From a\n>From b\n>>From c\nFrom\n>From\nFromage\n>>x\n x From\nFrom \n>Fro\nFro";
	static const char want[] =
	    ">From a\n>>From b\n>>>From c\nFrom\n>From\nFromage\n>>x\n x From\n>From \n>Fro\nFro";
	size_t n = sizeof(in) - 1;
	char *whole = quote_pieces(in, n, 0, 0, true);

	(void)state;
	assert_string_equal(whole, want);
	/* cut anywhere, the same */
	for (size_t a = 0; a <= n; a++)
		for (size_t b = a; b <= n; b++) {
			char *p = quote_pieces(in, n, a, b, true);

			if (strcmp(p, want) != 0)
				fail_msg("cut at %zu, %zu: [%s]", a, b, p);
			free(p);
		}
	free(whole);
	/* not at a line start */
	whole = quote_pieces("From x\nFrom y", 13, 0, 0, false);
	assert_string_equal(whole, "From x\n>From y");
	free(whole);
}

/* What mbox_deliver writes reads back as what it was given. */
static void
test_mbox_deliver_compat(void **state)
{
	static const char *const msgs[] = {
		"Subject: one\n\nFrom the start\n>From quoted\n\n\nFrom x\n",
		"From evil Mon Jan  1 00:00:00 2001\nSubject: two\n\nno final newline",
		"",
		"Status: RO\nX-UID: 5\nSubject: three\n\n>>From\n",
	};
	static const char *const want[] = {
		"Subject: one\n\nFrom the start\n>From quoted\n\n\nFrom x\n",
		"From evil Mon Jan  1 00:00:00 2001\nSubject: two\n\nno final newline\n",
		"",
		/* metadata an MDA did not strip: hidden, and trusted as Dovecot
		 * trusts them */
		"Subject: three\n\n>>From\n",
	};
	char *dir = tu_tmpdir(), *path = xasprintf("%s/user", dir), *data;
	const char *err = NULL;
	struct mboxf f;
	size_t len;

	(void)state;
	for (size_t i = 0; i < NEL(msgs); i++)
		assert_int_equal(mbox_deliver(path, "a@example.org", (time_t)WHEN, NULL, 0, msgs[i],
		    strlen(msgs[i]), 5, &err), STORE_OK);
	assert_int_equal(read_file(path, 1 << 20, &data, &len), 0);
	assert_int_equal(mboxf_parse(data, len, 10, &f, &err, NULL), 0);
	assert_int_equal(f.n, NEL(msgs));
	for (size_t i = 0; i < f.n; i++) {
		char *t = mboxf_message(data, &f.m[i], NULL);

		check_str("deliver", i, t, want[i]);
		assert_true(f.m[i].from_date >= 0);
		free(t);
	}
	assert_int_equal(f.m[3].uid, 5);
	assert_int_equal(f.m[3].flags, MF_SEEN);
	/* ends ready for an append */
	assert_string_equal(mboxf_append_sep(data, len), "");
	mboxf_free(&f);
	free(data);
	tu_rmtree(dir);
	free(path);
	free(dir);
}

/* Linear: a large mbox of many messages and long lines parses fast. */
static void
test_large(void **state)
{
	struct buf b = { 0 };
	struct mboxf f;
	char *t;
	size_t tl;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		buf_adds(&b, FROM "Subject: x\nX-UID: ");
		buf_addu(&b, (unsigned long long)i + 1);
		buf_adds(&b, "\n\nbody\n>From x\n\n");
	}
	/* one long line of '>' and one of letters */
	buf_adds(&b, FROM "S: 1\n\n");
	for (int i = 0; i < 1000000; i++)
		buf_addc(&b, '>');
	buf_adds(&b, "From \n");
	for (int i = 0; i < 1000000; i++)
		buf_addc(&b, 'x');
	assert_int_equal(mboxf_parse(b.p, b.len, 100000, &f, NULL, NULL), 0);
	assert_int_equal(f.n, 20001);
	assert_int_equal(f.m[19999].uid, 20000);
	t = mboxf_message(b.p, &f.m[20000], &tl);
	assert_int_equal(tl, 6 + 999999 + 6 + 1000000);
	assert_int_equal(mboxf_message_size(b.p, &f.m[20000]), tl);
	free(t);
	mboxf_free(&f);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_unquote),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_uid_values),
		cmocka_unit_test(test_imapbase),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_dovecot_vectors),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_rewrite_shapes),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_format_new),
		cmocka_unit_test(test_append_roundtrip),
		cmocka_unit_test(test_append_sep),
		cmocka_unit_test(test_quoter),
		cmocka_unit_test(test_mbox_deliver_compat),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
