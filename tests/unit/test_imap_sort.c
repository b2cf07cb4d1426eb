/* test_imap_sort: base subjects, SORT and THREAD (RFC 5256, RFC 5957).
 * Some vectors are those of Dovecot's imaptest suite (sort-subject,
 * thread, thread-orderedsubject). */
#include "tu.h"

#include <stdbool.h>

#include "imap/imap_parser.h"
#include "imap/imap_search.h"
#include "imap/imap_sort.h"
#include "mail/mime.h"

static const struct imap_parse_limits plim = { 100, 1000 };

static const char *
get_text(void *ctx, const struct search_msg *m, size_t *len)
{
	unsigned *calls = ctx;

	if (calls != NULL)
		(*calls)++;
	if (m->priv == NULL)
		return NULL;
	*len = strlen(m->priv);
	return m->priv;
}

/* ---- base subject ---- */

static const struct {
	const char *in, *out;
	bool refwd;
} subjects[] = {
	{ "", "", false },
	{ "Hello", "Hello", false },
	{ "Re: Hello", "Hello", true },
	{ "RE: Hello", "Hello", true },
	{ "re:Hello", "Hello", true },
	{ "Re : Hello", "Hello", true },
	{ "Re:\tHello", "Hello", true },
	{ "Re[2]: Hello", "Hello", true },
	{ "Re [2] : Hello", "Hello", true },
	{ "Fw: Hello", "Hello", true },
	{ "FWD: Hello", "Hello", true },
	{ "fwd:Hello", "Hello", true },
	{ "Fwd Hello", "Fwd Hello", false },
	{ "Rebuttal", "Rebuttal", false },
	{ "Re re: x", "Re re: x", false },
	{ "Re: Re: Re: Hello", "Hello", true },
	{ "Re: Fwd: Re: Hello", "Hello", true },
	{ "Re:", "", true },
	{ "Re:   ", "", true },
	{ "[PATCH] Hello", "Hello", false },
	{ "[PATCH]", "[PATCH]", false },
	{ "[PATCH]   ", "[PATCH]", false },
	{ "[PATCH] [v2] Hello", "Hello", false },
	{ "[a][b]", "[b]", false },
	{ "[] Re: x", "x", true },
	{ "[PATCH] Re: Hello", "Hello", true },
	{ "Re: [PATCH] Hello", "Hello", true },
	{ "[list] [x] Re[3]: [y] Hello", "Hello", true },
	{ "Hello (fwd)", "Hello", true },
	{ "Hello(fwd)", "Hello", true },
	{ "Hello (FWD) (fwd)  ", "Hello", true },
	{ "Hello (fwd) x", "Hello (fwd) x", false },
	{ "(fwd)", "", true },
	{ "Re: (fwd)", "", true },
	{ "[Fwd: Hello]", "Hello", true },
	{ "[fwd: Re: Hello]", "Hello", true },
	{ "[fwd: ]", "", true },
	{ "[fwd:]", "", true },
	{ "[fwd: x", "[fwd: x", false },
	{ "Re: [Fwd: Re: [Fwd: Hello (fwd)]]", "Hello", true },
	{ "[Fwd: [list] Hello]", "Hello", true },
	{ "  Hello \t  World  ", "Hello World", false },
	{ "Hello\r\n World", "Hello World", false },
	{ "Hello\n\tWorld", "Hello World", false },
	{ "Fw: Fwd: [list] Re[3]:  topic  (fwd)", "topic", true },
	{ "=?utf-8?q?Re=3A_Caf=C3=A9?=", "Caf\xc3\xa9", true },
	{ "=?iso-8859-1?q?Re:_Hi?= there", "Hi there", true },
	{ "=?utf-8?b?W2xpc3Rd?= Hello", "Hello", false },
	{ "Re: =?utf-8?q?=5Bfwd=3A_x=5D?=", "x", true },
	/* Dovecot's sort-subject mailbox */
	{ "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", true },
	{ "Re: [FWD: c]", "c", true },
	{ "[xyz]", "[xyz]", false },
	{ "b (a)", "b (a)", false },
	{ "_", "_", false },
};

static void
test_base_subject(void **state)
{
	size_t i;
	char *s;
	bool rf;

	(void)state;
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		rf = !subjects[i].refwd;
		s = imap_base_subject_ex(subjects[i].in, strlen(subjects[i].in), &rf);
		if (strcmp(s, subjects[i].out) != 0 || rf != subjects[i].refwd)
			fail_msg("\"%s\": \"%s\" %d, want \"%s\" %d", subjects[i].in, s, rf,
			    subjects[i].out, subjects[i].refwd);
		free(s);
		s = imap_base_subject(subjects[i].in, strlen(subjects[i].in));
		assert_string_equal(s, subjects[i].out);
		free(s);
	}
	/* length, not NUL, ends it */
	s = imap_base_subject("Re: abc", 6);
	assert_string_equal(s, "ab");
	free(s);
	/* bytes that are not UTF-8 come out as U+FFFD */
	s = imap_base_subject("Re: \xff", 5);
	assert_string_equal(s, "\xef\xbf\xbd");
	free(s);
}

/* Long inputs stay linear (no backtracking blow-up) and iterative. */
static void
test_base_subject_long(void **state)
{
	size_t n = 200000, i, o;
	char *in = malloc(n * 8 + 16), *s;

	(void)state;
	assert_non_null(in);
	for (o = i = 0; i < n; i++)
		o += (size_t)sprintf(in + o, "Re: ");
	o += (size_t)sprintf(in + o, "x");
	s = imap_base_subject(in, o);
	assert_string_equal(s, "x");
	free(s);
	for (o = i = 0; i < n; i++)
		o += (size_t)sprintf(in + o, "[fwd: ");
	o += (size_t)sprintf(in + o, "x");
	for (i = 0; i < n; i++)
		in[o++] = ']';
	s = imap_base_subject(in, o);
	assert_string_equal(s, "x");
	free(s);
	for (o = i = 0; i < 20000; i++)
		o += (size_t)sprintf(in + o, "[a");
	s = imap_base_subject(in, o);
	assert_int_equal(strlen(s), o);
	free(s);
	/* many blobs without a Re: after them go at once */
	for (o = i = 0; i < n; i++)
		o += (size_t)sprintf(in + o, "[a] ");
	o += (size_t)sprintf(in + o, "x");
	s = imap_base_subject(in, o);
	assert_string_equal(s, "x");
	free(s);
	for (o = i = 0; i < n; i++)
		o += (size_t)sprintf(in + o, "[a]");
	s = imap_base_subject(in, o);
	assert_string_equal(s, "[a]");
	free(s);
	free(in);
}

/* ---- parsing ---- */

static int
parse_list(const char *text, struct imap_cmd *cmd)
{
	char buf[512];
	const char *err;

	snprintf(buf, sizeof(buf), "A SORT %s\r\n", text);
	return imap_parse(buf, strlen(buf), &plim, cmd, &err);
}

static void
test_sort_parse(void **state)
{
	static const struct {
		const char *in;
		const char *err;	/* NULL: ok */
		size_t n;
	} cases[] = {
		{ "(DATE)", NULL, 1 },
		{ "(reverse date Subject)", NULL, 2 },
		{ "(ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO)", NULL, 9 },
		{ "(REVERSE ARRIVAL REVERSE SIZE)", NULL, 2 },
		{ "(DATE DATE)", NULL, 2 },
		{ "()", SORT_E_CRITERIA, 0 },
		{ "(REVERSE)", SORT_E_CRITERIA, 0 },
		{ "(DATE REVERSE)", SORT_E_CRITERIA, 0 },
		{ "(REVERSE REVERSE DATE)", SORT_E_CRITERIA, 0 },
		{ "(FOO)", SORT_E_CRITERIA, 0 },
		{ "(\"DATE\")", SORT_E_CRITERIA, 0 },
		{ "((DATE))", SORT_E_CRITERIA, 0 },
		{ "DATE", SORT_E_CRITERIA, 0 },
		{ "(DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE)",
		  NULL, 16 },
		{ "(DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE "
		  "DATE)", SORT_E_MANY, 0 },
	};
	struct imap_cmd cmd;
	struct sort_prog sp;
	const char *err;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_list(cases[i].in, &cmd), 0);
		err = NULL;
		r = imap_sort_parse(&cmd.args[0], &sp, &err);
		if (cases[i].err == NULL) {
			if (r != 0)
				fail_msg("\"%s\": %s", cases[i].in, err);
			assert_int_equal(sp.n, cases[i].n);
		} else {
			assert_int_equal(r, -1);
			assert_string_equal(err, cases[i].err);
			assert_int_equal(sp.n, 0);
		}
		imap_cmd_free(&cmd);
	}
	assert_int_equal(parse_list("(reverse date Subject)", &cmd), 0);
	assert_int_equal(imap_sort_parse(&cmd.args[0], &sp, NULL), 0);
	assert_int_equal(sp.c[0].key, SORT_DATE);
	assert_true(sp.c[0].reverse);
	assert_int_equal(sp.c[1].key, SORT_SUBJECT);
	assert_false(sp.c[1].reverse);
	assert_true(imap_sort_needs_message(&sp));
	imap_cmd_free(&cmd);
	assert_int_equal(parse_list("(REVERSE ARRIVAL SIZE)", &cmd), 0);
	assert_int_equal(imap_sort_parse(&cmd.args[0], &sp, NULL), 0);
	assert_false(imap_sort_needs_message(&sp));
	imap_cmd_free(&cmd);
	assert_int_equal(imap_sort_parse(NULL, &sp, &err), -1);

	/* the THREAD algorithm */
	{
		enum thread_alg alg;

		assert_int_equal(parse_list("REFERENCES orderedsubject REFS \"REFERENCES\"", &cmd), 0);
		assert_int_equal(imap_thread_parse(&cmd.args[0], &alg, &err), 0);
		assert_int_equal(alg, THREAD_REFERENCES);
		assert_int_equal(imap_thread_parse(&cmd.args[1], &alg, &err), 0);
		assert_int_equal(alg, THREAD_ORDEREDSUBJECT);
		assert_int_equal(imap_thread_parse(&cmd.args[2], &alg, &err), -1);
		assert_string_equal(err, THREAD_E_ALG);
		assert_int_equal(imap_thread_parse(&cmd.args[3], &alg, &err), -1);
		assert_int_equal(imap_thread_parse(NULL, &alg, NULL), -1);
		imap_cmd_free(&cmd);
	}
}

/* ---- SORT ---- */

struct sbox {
	struct search_msg *m;
	size_t n;
};

/* Sort a copy of the box by criteria text; the seq numbers in order. */
static const char *
sorted(const struct sbox *b, const char *crit)
{
	static char out[4096];
	struct imap_cmd cmd;
	struct sort_prog sp;
	struct search_msg *v = malloc(b->n * sizeof(*v));
	unsigned calls = 0;
	struct search_ops ops = { get_text, NULL, &calls };
	const char *err;
	size_t i, o = 0;

	assert_non_null(v);
	memcpy(v, b->m, b->n * sizeof(*v));
	assert_int_equal(parse_list(crit, &cmd), 0);
	if (imap_sort_parse(&cmd.args[0], &sp, &err) != 0)
		fail_msg("%s: %s", crit, err);
	imap_cmd_free(&cmd);
	imap_sort(&sp, v, b->n, &ops);
	/* each message read at most once, and only when needed */
	assert_true(calls <= b->n);
	if (!imap_sort_needs_message(&sp))
		assert_int_equal(calls, 0);
	out[0] = '\0';
	for (i = 0; i < b->n; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%u", i ? " " : "",
		    (unsigned)v[i].seq);
	free(v);
	return out;
}

static void
expect_sort(const struct sbox *b, const char *crit, const char *want)
{
	const char *got = sorted(b, crit);

	if (strcmp(got, want) != 0)
		fail_msg("SORT %s: \"%s\", want \"%s\"", crit, got, want);
}

/* Dovecot's sort-subject mailbox: same arrival, size from the text. */
static const char *const subj_texts[] = {
	"Subject: a\n\n1\n",
	"Subject: C\n\n2\n",
	"Subject: b\n\n3\n",
	"Subject: _\n\n4\n",
	"Subject: [foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)\n\n55\n",
	"Subject: b (a)\n\n66\n",
	"Subject: Re: [FWD: c]\n\n77\n",
	"Subject: [xyz]\n\n88\n",
	"\n9\n",
};

static void
test_sort_subject(void **state)
{
	struct search_msg m[9];
	struct sbox b = { m, 9 };
	size_t i;

	(void)state;
	for (i = 0; i < 9; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)i + 11;
		m[i].size = strlen(subj_texts[i]);
		m[i].internal = 1203714000;
		m[i].priv = (void *)subj_texts[i];
	}
	expect_sort(&b, "(SUBJECT)", "9 1 3 5 6 2 7 8 4");
	expect_sort(&b, "(REVERSE SUBJECT)", "4 8 2 7 6 3 5 1 9");
	expect_sort(&b, "(SUBJECT REVERSE SIZE)", "9 1 5 3 6 7 2 8 4");
	expect_sort(&b, "(ARRIVAL)", "1 2 3 4 5 6 7 8 9");
	expect_sort(&b, "(REVERSE ARRIVAL)", "1 2 3 4 5 6 7 8 9");
	/* the input order does not matter */
	for (i = 0; i < 4; i++) {
		struct search_msg t = m[i];

		m[i] = m[8 - i];
		m[8 - i] = t;
	}
	expect_sort(&b, "(SUBJECT)", "9 1 3 5 6 2 7 8 4");
	expect_sort(&b, "(ARRIVAL)", "1 2 3 4 5 6 7 8 9");
}

static const char *const addr_texts[] = {
	"From: \"Zed\" <alpha@x>\nTo: b@x\n"
	"Date: Mon, 1 Jan 2001 10:00:00 +0000\n\n",
	"From: beta@x (Anna)\nTo: \"Xavier\" <a@x>\nCc: zz@x\n"
	"Date: Mon, 1 Jan 2001 12:00:00 +0300\n\n",
	"From: =?utf-8?q?=C3=89mile?= <gamma@x>\nTo: undisclosed-recipients:;\n"
	"Date: Mon, 1 Jan 2001 06:30:00 -0500\n\n",
	"To: C <c@x>\nDate: bogus\n\n",
	"From: Alpha <ALPHA@y>\n\n",
	NULL,
};

static void
test_sort_keys(void **state)
{
	static const struct {
		long long arrival;
		uint64_t size;
	} meta[6] = {
		{ 978350000, 300 }, { 978340000, 100 }, { 978360000, 300 },
		{ 978330000, 200 }, { 978370000, 100 }, { 978336000, 250 },
	};
	struct search_msg m[6];
	struct sbox b = { m, 6 };
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)i + 100;
		m[i].internal = meta[i].arrival;
		m[i].size = meta[i].size;
		m[i].priv = (void *)addr_texts[i];
	}
	/* message 6 cannot be read: empty strings, INTERNALDATE */
	expect_sort(&b, "(FROM)", "4 6 1 5 2 3");
	expect_sort(&b, "(REVERSE FROM)", "3 2 1 5 4 6");
	expect_sort(&b, "(DISPLAYFROM)", "4 6 5 2 1 3");
	expect_sort(&b, "(REVERSE DISPLAYFROM)", "3 1 2 5 4 6");
	expect_sort(&b, "(TO)", "3 5 6 2 1 4");
	expect_sort(&b, "(DISPLAYTO)", "3 5 6 1 4 2");
	expect_sort(&b, "(CC)", "1 3 4 5 6 2");
	expect_sort(&b, "(REVERSE CC)", "2 1 3 4 5 6");
	expect_sort(&b, "(SIZE)", "2 5 4 6 1 3");
	expect_sort(&b, "(REVERSE SIZE)", "1 3 6 4 2 5");
	expect_sort(&b, "(SIZE REVERSE ARRIVAL)", "5 2 4 6 3 1");
	expect_sort(&b, "(ARRIVAL)", "4 6 2 1 3 5");
	expect_sort(&b, "(REVERSE ARRIVAL)", "5 3 1 2 6 4");
	/* Date: as UTC (2 at 09:00, 1 at 10:00, 3 at 11:30), else arrival */
	expect_sort(&b, "(DATE)", "4 6 2 1 3 5");
	expect_sort(&b, "(REVERSE DATE)", "5 3 1 2 6 4");
	expect_sort(&b, "(CC SIZE)", "5 4 6 1 3 2");
	expect_sort(&b, "(TO REVERSE SIZE)", "3 6 5 2 1 4");
	expect_sort(&b, "(FROM FROM FROM)", "4 6 1 5 2 3");
	/* nothing to sort */
	b.n = 1;
	expect_sort(&b, "(FROM)", "1");
	b.n = 0;
	expect_sort(&b, "(FROM)", "");
}

static void
test_sort_response(void **state)
{
	struct search_msg m[3];
	size_t len;
	char *r;

	(void)state;
	memset(m, 0, sizeof(m));
	m[0].seq = 3;
	m[0].uid = 30;
	m[0].modseq = 7;
	m[1].seq = 1;
	m[1].uid = 10;
	m[1].modseq = 70;
	m[2].seq = 2;
	m[2].uid = 20;
	m[2].modseq = 1;
	r = imap_sort_response(m, 3, false, false, &len);
	assert_string_equal(r, "* SORT 3 1 2\r\n");
	assert_int_equal(len, strlen(r));
	free(r);
	r = imap_sort_response(m, 3, true, true, &len);
	assert_string_equal(r, "* SORT 30 10 20 (MODSEQ 70)\r\n");
	free(r);
	r = imap_sort_response(m, 0, true, true, &len);
	assert_string_equal(r, "* SORT\r\n");
	free(r);
}

/* ---- THREAD ---- */

/* Thread texts[i] as message seq i+1 (uid 1000+i), arriving a minute
 * apart. */
static char *
thread_texts(enum thread_alg alg, const char *const *texts, size_t n, bool uid)
{
	struct search_msg *m = calloc(n ? n : 1, sizeof(*m));
	unsigned calls = 0;
	struct search_ops ops = { get_text, NULL, &calls };
	size_t i, len;
	char *r;

	assert_non_null(m);
	for (i = 0; i < n; i++) {
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)i + 1000;
		m[i].internal = 1000000000 + (long long)i * 60;
		m[i].priv = (void *)texts[i];
	}
	r = imap_thread(alg, m, n, &ops, uid, &len);
	assert_int_equal(len, strlen(r));
	/* each message read once */
	assert_int_equal(calls, n);
	free(m);
	return r;
}

static void
expect_thread(enum thread_alg alg, const char *const *texts, size_t n, const char *want)
{
	char *r = thread_texts(alg, texts, n, false);

	if (strcmp(r, want) != 0)
		fail_msg("THREAD: \"%s\", want \"%s\"", r, want);
	free(r);
}

#define REFS(...) do { \
	static const char *const t_[] = { __VA_ARGS__ }; \
	expect_thread(THREAD_REFERENCES, t_, sizeof(t_) / sizeof(t_[0]), want_); \
} while (0)

static void
test_orderedsubject(void **state)
{
	static const char *const t[] = {
		"Subject: Hello\nDate: 3 Jan 2001 00:00:00 +0000\n\n",
		"Subject: Re: Hello\nDate: 1 Jan 2001 00:00:00 +0000\n\n",
		"Subject: World\nDate: 2 Jan 2001 00:00:00 +0000\n\n",
		"Subject: hello\nDate: 4 Jan 2001 00:00:00 +0000\n\n",
		"Subject: Re: world\nDate: 5 Jan 2001 00:00:00 +0000\n\n",
		"Date: 6 Jan 2001 00:00:00 +0000\n\n",
		"Subject: other\nDate: 31 Dec 2000 00:00:00 +0000\n\n",
		"Subject: [fwd: hello]\nDate: 3 Jan 2001 00:00:00 +0000\n\n",
	};
	char *r;

	(void)state;
	expect_thread(THREAD_ORDEREDSUBJECT, t, 7, "(7)(2 (1)(4))(3 5)(6)");
	/* equal dates: by seq */
	expect_thread(THREAD_ORDEREDSUBJECT, t, 8, "(7)(2 (1)(8)(4))(3 5)(6)");
	r = thread_texts(THREAD_ORDEREDSUBJECT, t, 7, true);
	assert_string_equal(r, "(1006)(1001 (1000)(1003))(1002 1004)(1005)");
	free(r);
	expect_thread(THREAD_ORDEREDSUBJECT, t, 1, "(1)");
	expect_thread(THREAD_ORDEREDSUBJECT, t, 0, "");
}

static void
test_references(void **state)
{
	const char *want_;

	(void)state;
	/* a chain, however it is referenced */
	want_ = "(1 2 3)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x> <b@x>\n\n");
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nIn-Reply-To: <a@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x>\n <b@x>\n\n");
	/* children before their parents in the mailbox */
	want_ = "(3 2 1)";
	REFS("Message-ID: <c@x>\nReferences: <a@x> <b@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\n\n",
	    "Message-ID: <a@x>\n\n");
	/* siblings */
	want_ = "(1 (2)(3))";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x>\n\n");
	/* RFC 5256's "(3 6 (4 23)(44 7 96))" shape */
	want_ = "(1 2 (3 4)(5 6 7))";
	REFS("Message-ID: <1>\n\n",
	    "Message-ID: <2>\nReferences: <1>\n\n",
	    "Message-ID: <3>\nReferences: <1> <2>\n\n",
	    "Message-ID: <4>\nReferences: <3>\n\n",
	    "Message-ID: <5>\nReferences: <2>\n\n",
	    "Message-ID: <6>\nReferences: <5>\n\n",
	    "Message-ID: <7>\nReferences: <1> <2> <5> <6>\n\n");
	/* a missing parent: a dummy with two children stays, with one goes */
	want_ = "((1)(2))";
	REFS("Message-ID: <b@x>\nReferences: <gone@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <gone@x>\n\n");
	want_ = "(1)";
	REFS("Message-ID: <b@x>\nReferences: <gone@x>\n\n");
	/* a dummy in the middle goes; its children move up */
	want_ = "(1 (2)(3))";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x> <gone@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x> <gone@x>\n\n");
	want_ = "(1 2)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x> <gone1@x> <gone2@x>\n\n");
	/* duplicate Message-ID: the first keeps it */
	want_ = "(1 3)(2)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <a@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x>\n\n");
	/* no or bad Message-ID: unique */
	want_ = "(1)(2)(3)";
	REFS("Subject: x\n\n",
	    "Message-ID: garbage\nReferences: <zz@x>\n\n",
	    "Message-ID: <>\n\n");
	/* a loop in the references is not made */
	want_ = "(2 1)";
	REFS("Message-ID: <a@x>\nReferences: <b@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\n\n");
	want_ = "(1)";
	REFS("Message-ID: <a@x>\nReferences: <a@x>\n\n");
	want_ = "(2 1)";
	REFS("Message-ID: <a@x>\nReferences: <b@x> <c@x> <b@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x> <b@x>\n\n");
	/* Dovecot's thread test, before and after expunging message 1 */
	want_ = "(3 1 2)";
	REFS("Message-ID: <a@b>\n\n",
	    "Message-Id: <b@b>\nReferences: <c@b> <a@b>\n\n",
	    "Message-Id: <c@b>\nReferences: <b@b>\n\n");
	want_ = "(2 1)";
	REFS("Message-Id: <b@b>\nReferences: <c@b> <a@b>\n\n",
	    "Message-Id: <c@b>\nReferences: <b@b>\n\n");
	/* a truncated References: the later, complete one wins (step 1B) */
	want_ = "(1 3 2)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x> <b@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\n\n");
	want_ = "(1 3 2)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <x@x> <c@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x>\n\n");
	/* References first; In-Reply-To only without it, its first id */
	want_ = "(1 3)(2)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x>\nIn-Reply-To: <b@x>\n\n");
	want_ = "(1)(2 3)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\n\n",
	    "Message-ID: <c@x>\nReferences: junk\nIn-Reply-To: Your mail (<a@x>) of\n"
	    " <b@x> <a@x>\n\n");
	/* ids are case-sensitive; comments and folding inside are fine */
	want_ = "(1)(2)";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <A@x>\n\n");
	want_ = "(1 2)";
	REFS("Message-ID: (c) <a@x> (d)\n\n",
	    "Message-ID: <b@x>\nReferences: (<b@x>) <a\n @x>\n\n");
}

static void
test_references_subjects(void **state)
{
	const char *want_;

	(void)state;
	/* a reply without references joins the thread of its subject */
	want_ = "(1 2)";
	REFS("Subject: Hello\n\n", "Subject: Re: Hello\n\n");
	want_ = "(2 1)";
	REFS("Subject: Re: Hello\n\n", "Subject: Hello\n\n");
	/* two originals: a dummy holds both */
	want_ = "((1)(2))";
	REFS("Subject: Hello\n\n", "Subject: hello\n\n");
	want_ = "((1)(2)(3))";
	REFS("Subject: Hello\n\n", "Subject: hello\n\n", "Subject: [fwd: HELLO]\n\n");
	/* empty subjects are never grouped */
	want_ = "(1)(2)";
	REFS("Subject: Re:\n\n", "Subject:\n\n");
	/* a dummy in the subject table takes the others */
	want_ = "((1)(2)(3))";
	REFS("Message-ID: <a@x>\nReferences: <gone@x>\nSubject: Hello\n\n",
	    "Message-ID: <b@x>\nReferences: <gone@x>\nSubject: Re: Hello\n\n",
	    "Message-ID: <c@x>\nSubject: Hello\n\n");
	/* two dummies: their children come together */
	want_ = "((1)(2)(3)(4))";
	REFS("Message-ID: <a@x>\nReferences: <g1@x>\nSubject: Hello\n\n",
	    "Message-ID: <b@x>\nReferences: <g1@x>\nSubject: Hello\n\n",
	    "Message-ID: <c@x>\nReferences: <g2@x>\nSubject: Re: Hello\n\n",
	    "Message-ID: <d@x>\nReferences: <g2@x>\nSubject: Re: Hello\n\n");
	/* a whole thread goes below the original */
	want_ = "(1 (2)(3 4))";
	REFS("Message-ID: <a@x>\nSubject: Topic\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\nSubject: Re: Topic\n\n",
	    "Message-ID: <c@x>\nSubject: Re: Topic\n\n",
	    "Message-ID: <d@x>\nReferences: <c@x>\nSubject: Re: Topic\n\n");
	/* replies in a thread are not regrouped, only threads at the top */
	want_ = "(1 2)(3)";
	REFS("Message-ID: <a@x>\nSubject: One\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\nSubject: Re: Two\n\n",
	    "Message-ID: <c@x>\nSubject: Two\n\n");
}

static void
test_references_dates(void **state)
{
	const char *want_;
	char *r;

	(void)state;
	/* siblings and threads by sent date (UTC), ties by seq */
	want_ = "(1 (3)(2))";
	REFS("Message-ID: <a@x>\n\n",
	    "Message-ID: <b@x>\nReferences: <a@x>\nDate: 1 Jan 2030 10:00:00 +0000\n\n",
	    "Message-ID: <c@x>\nReferences: <a@x>\nDate: 1 Jan 2030 12:00:00 +0300\n\n");
	want_ = "(2)(1)(3)";
	REFS("Date: 1 Jan 2030 10:00:00 +0000\n\n",
	    "Date: 1 Jan 2030 10:00:00 +0100\n\n",
	    "Date: 1 Jan 2030 10:00:00 +0000\n\n");
	/* no Date: INTERNALDATE (2001 here) */
	want_ = "(2)(1)";
	REFS("Date: 1 Jan 2030 10:00:00 +0000\n\n", "Date: nonsense\n\n");
	/* a dummy sorts by its first child */
	want_ = "(3)((2)(1))";
	REFS("Message-ID: <a@x>\nReferences: <gone@x>\nDate: 1 Jan 2030 10:00:00 +0000\n\n",
	    "Message-ID: <b@x>\nReferences: <gone@x>\nDate: 1 Jan 2029 10:00:00 +0000\n\n",
	    "Date: 1 Jan 2028 10:00:00 +0000\n\n");
	/* UIDs */
	{
		static const char *const t[] = { "Message-ID: <a@x>\n\n",
		    "References: <a@x>\n\n" };

		r = thread_texts(THREAD_REFERENCES, t, 2, true);
		assert_string_equal(r, "(1000 1001)");
		free(r);
		r = thread_texts(THREAD_REFERENCES, t, 0, true);
		assert_string_equal(r, "");
		free(r);
	}
}

/* Messages that cannot be read are alone, by INTERNALDATE. */
static void
test_thread_unreadable(void **state)
{
	static const char *const t[] = { NULL, "Message-ID: <a@x>\n\n", NULL,
	    "References: <a@x>\n\n" };

	(void)state;
	expect_thread(THREAD_REFERENCES, t, 4, "(1)(2 4)(3)");
	expect_thread(THREAD_ORDEREDSUBJECT, t, 4, "(1 (2)(3)(4))");
}

/* Check the shape of a response: balanced, each number once. */
static void
check_shape(const char *r, size_t n, size_t *maxdepth)
{
	size_t depth = 0, count = 0, i;
	unsigned long v;
	char *end;
	bool *seen = calloc(n + 1, 1);

	assert_non_null(seen);
	*maxdepth = 0;
	for (i = 0; r[i] != '\0'; ) {
		if (r[i] == '(') {
			if (++depth > *maxdepth)
				*maxdepth = depth;
			i++;
		} else if (r[i] == ')') {
			assert_true(depth > 0);
			depth--;
			i++;
		} else if (r[i] == ' ')
			i++;
		else {
			v = strtoul(r + i, &end, 10);
			assert_true(end > r + i && v >= 1 && v <= n);
			assert_false(seen[v]);
			seen[v] = true;
			count++;
			i = (size_t)(end - r);
		}
	}
	assert_int_equal(depth, 0);
	assert_int_equal(count, n);
	free(seen);
}

static char **
make_texts(size_t n)
{
	char **t = calloc(n, sizeof(*t));

	assert_non_null(t);
	for (size_t i = 0; i < n; i++) {
		t[i] = malloc(160);
		assert_non_null(t[i]);
	}
	return t;
}

static void
free_texts(char **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i]);
	free(t);
}

/* Long chains: flat output, no recursion, no quadratic time. */
static void
test_thread_chains(void **state)
{
	const size_t n = 10000;
	char **t = make_texts(n), *r, *want;
	size_t i, o, depth;

	(void)state;
	want = malloc(n * 8 + 4);
	assert_non_null(want);
	for (o = 0, i = 0; i < n; i++)
		o += (size_t)sprintf(want + o, "%s%zu", i ? " " : "(", i + 1);
	sprintf(want + o, ")");
	/* forward */
	for (i = 0; i < n; i++)
		snprintf(t[i], 160, "Message-ID: <%zu@x>\nIn-Reply-To: <%zu@x>\n\n", i + 1, i);
	r = thread_texts(THREAD_REFERENCES, (const char *const *)t, n, false);
	assert_string_equal(r, want);
	free(r);
	/* backward: every message arrives before its parent */
	for (i = 0; i < n; i++)
		snprintf(t[i], 160, "Message-ID: <%zu@x>\nReferences: <%zu@x>\n\n", n - i,
		    n - i - 1);
	r = thread_texts(THREAD_REFERENCES, (const char *const *)t, n, false);
	for (o = 0, i = 0; i < n; i++)
		o += (size_t)sprintf(want + o, "%s%zu", i ? " " : "(", n - i);
	sprintf(want + o, ")");
	assert_string_equal(r, want);
	free(r);
	/* interleaved: odd ones first, then the even ones link the pieces */
	for (i = 0; i < n; i++) {
		size_t id = i < n / 2 ? 2 * i + 1 : 2 * (i - n / 2) + 2;

		snprintf(t[i], 160, "Message-ID: <%zu@x>\nReferences: <%zu@x>\n\n", id, id - 1);
	}
	r = thread_texts(THREAD_REFERENCES, (const char *const *)t, n, false);
	check_shape(r, n, &depth);
	assert_int_equal(depth, 1);
	free(r);
	/* a spine with a leaf at every step: nesting n/2 deep, no recursion */
	for (i = 0; i < n; i++)
		if (i % 2 == 0)
			snprintf(t[i], 160, "Message-ID: <s%zu@x>\nReferences: <s%zu@x>\n\n", i, i - 2);
		else
			snprintf(t[i], 160, "Message-ID: <l%zu@x>\nReferences: <s%zu@x>\n\n", i, i - 1);
	r = thread_texts(THREAD_REFERENCES, (const char *const *)t, n, false);
	check_shape(r, n, &depth);
	assert_int_equal(depth, n / 2);
	assert_memory_equal(r, "(1 (2)(3 (4)(5 ", 15);
	free(r);
	free(want);
	free_texts(t, n);
}

/* Full References headers on a 1000-message chain (half a million ids),
 * and the step-1B relinking of every message. */
static void
test_thread_full_refs(void **state)
{
	const size_t n = 1000;
	char **t = calloc(n, sizeof(*t)), *r;
	size_t i, k, o, depth;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < n; i++) {
		t[i] = malloc(24 * (i + 2));
		assert_non_null(t[i]);
		o = (size_t)sprintf(t[i], "Message-ID: <%zu@x>\nReferences:", i);
		for (k = 0; k < i; k++)
			o += (size_t)sprintf(t[i] + o, " <%zu@x>\n", k);
		sprintf(t[i] + o, "\n");
	}
	r = thread_texts(THREAD_REFERENCES, (const char *const *)t, n, false);
	check_shape(r, n, &depth);
	assert_int_equal(depth, 1);
	assert_memory_equal(r, "(1 2 3 4 ", 9);
	free(r);
	/* reversed: the newest first */
	for (i = 0; i < n / 2; i++) {
		char *x = t[i];

		t[i] = t[n - 1 - i];
		t[n - 1 - i] = x;
	}
	r = thread_texts(THREAD_REFERENCES, (const char *const *)t, n, false);
	check_shape(r, n, &depth);
	assert_int_equal(depth, 1);
	assert_memory_equal(r, "(1000 999 998 ", 14);
	free(r);
	for (i = 0; i < n; i++)
		free(t[i]);
	free(t);
}

/* 100,000 messages: binary-tree threads, subjects, and a SORT. */
static void
test_thread_many(void **state)
{
	const size_t n = 100000;
	char **t = make_texts(n), *r;
	struct search_msg *m = calloc(n, sizeof(*m));
	struct search_ops ops = { get_text, NULL, NULL };
	struct imap_cmd cmd;
	struct sort_prog sp;
	size_t i, depth, len;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < n; i++) {
		snprintf(t[i], 160, "Message-ID: <%zu@x>\nReferences: <%zu@x>\n"
		    "Subject: %sTopic %zu\nDate: %zu Jan 2001 00:00:00 +0000\n\n",
		    i + 1, (i + 1) / 2, i % 3 ? "Re: " : "", i % 1000, 1 + i % 28);
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)i + 1;
		m[i].internal = (long long)i;
		m[i].size = i % 977;
		m[i].priv = t[i];
	}
	r = imap_thread(THREAD_REFERENCES, m, n, &ops, false, &len);
	check_shape(r, n, &depth);
	free(r);
	r = imap_thread(THREAD_ORDEREDSUBJECT, m, n, &ops, false, &len);
	check_shape(r, n, &depth);
	assert_int_equal(depth, 2);
	free(r);
	/* unrelated messages, all with the same subject */
	for (i = 0; i < n; i++)
		snprintf(t[i], 160, "Subject: %sSame\n\n", i % 2 ? "Re: " : "");
	r = imap_thread(THREAD_REFERENCES, m, n, &ops, false, &len);
	check_shape(r, n, &depth);
	assert_int_equal(depth, 2);
	free(r);
	assert_int_equal(parse_list("(SUBJECT REVERSE DATE SIZE)", &cmd), 0);
	assert_int_equal(imap_sort_parse(&cmd.args[0], &sp, NULL), 0);
	imap_cmd_free(&cmd);
	imap_sort(&sp, m, n, &ops);
	for (i = 1; i < n; i++)
		assert_true(m[i - 1].seq > m[i].seq);
	free(m);
	free_texts(t, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_base_subject_long),
		cmocka_unit_test(test_sort_parse),
		cmocka_unit_test(test_sort_subject),
		cmocka_unit_test(test_sort_keys),
		cmocka_unit_test(test_sort_response),
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_references_subjects),
		cmocka_unit_test(test_references_dates),
		cmocka_unit_test(test_thread_unreadable),
		cmocka_unit_test(test_thread_chains),
		cmocka_unit_test(test_thread_full_refs),
		cmocka_unit_test(test_thread_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
