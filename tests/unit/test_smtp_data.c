/* test_smtp_data: DATA/BDAT scanner, smuggling safety, chunking independence. */
#include "tu.h"

#include "smtp/smtp_data.h"

#define ALL ((size_t)-1)

struct result {
	char out[4096];
	size_t outlen;
	size_t consumed;
	bool done;
	struct smtp_data d;
};

/* Chunk sizes: 0 = whole, 1 = byte at a time, otherwise random sizes from
 * seed, or a single split at position split+... (see feed_split). */
static size_t
next_chunk(unsigned *seed, int how, size_t left)
{
	size_t n;

	if (how == 0)
		return left;
	if (how == 1)
		return 1;
	*seed = *seed * 1103515245u + 12345u;
	n = (*seed >> 16) % 7;
	return n == 0 ? 1 : (n < left ? n : left);
}

/* Feed in chunks like a server would: after done, stop. */
static void
feed(struct result *r, const char *in, size_t len, enum smtp_data_mode mode,
    size_t max_line, int how, unsigned seed)
{
	char buf[4096 + SMTP_DATA_SLACK];
	size_t off = 0, n, used, olen;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&r->d, mode, max_line);
	while (off < len && !r->d.done) {
		n = next_chunk(&seed, how, len - off);
		used = smtp_data_feed(&r->d, in + off, n, buf, n + SMTP_DATA_SLACK, &olen);
		assert_true(used <= n);
		assert_true(olen <= n + 1);
		if (mode == SMTP_DATA_RAW || !r->d.done)
			assert_int_equal(used, n);
		assert_true(r->outlen + olen <= sizeof(r->out));
		memcpy(r->out + r->outlen, buf, olen);
		r->outlen += olen;
		off += used;
	}
	r->consumed = off;
	r->done = r->d.done;
	olen = smtp_data_finish(&r->d, buf, SMTP_DATA_SLACK);
	assert_true(olen <= 2);
	memcpy(r->out + r->outlen, buf, olen);
	r->outlen += olen;
}

/* Feed with a single split at position k. */
static void
feed_split(struct result *r, const char *in, size_t len, enum smtp_data_mode mode,
    size_t max_line, size_t k)
{
	char buf[4096 + SMTP_DATA_SLACK];
	size_t used, olen;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&r->d, mode, max_line);
	used = smtp_data_feed(&r->d, in, k, buf, k + SMTP_DATA_SLACK, &olen);
	memcpy(r->out, buf, olen);
	r->outlen = olen;
	r->consumed = used;
	if (!r->d.done) {
		used = smtp_data_feed(&r->d, in + k, len - k, buf, len - k + SMTP_DATA_SLACK,
		    &olen);
		memcpy(r->out + r->outlen, buf, olen);
		r->outlen += olen;
		r->consumed += used;
	}
	r->done = r->d.done;
	olen = smtp_data_finish(&r->d, buf, SMTP_DATA_SLACK);
	memcpy(r->out + r->outlen, buf, olen);
	r->outlen += olen;
}

static void
same(const struct result *a, const struct result *b, const char *what, size_t idx)
{
	if (a->outlen != b->outlen || memcmp(a->out, b->out, a->outlen) != 0 ||
	    a->consumed != b->consumed || a->done != b->done ||
	    a->d.in_bytes != b->d.in_bytes || a->d.out_bytes != b->d.out_bytes ||
	    a->d.lines != b->d.lines || a->d.long_lines != b->d.long_lines ||
	    a->d.bare_lf != b->d.bare_lf || a->d.bare_cr != b->d.bare_cr ||
	    a->d.nul != b->d.nul || a->d.line_len != b->d.line_len)
		fail_msg("case %zu: %s feeding differs from whole", idx, what);
}

/* Whole, byte at a time, random chunkings and every single split agree. */
static void
check_chunkings(const char *in, size_t len, enum smtp_data_mode mode, size_t max_line,
    struct result *whole, size_t idx)
{
	static struct result r;
	unsigned seed;
	size_t k;

	feed(whole, in, len, mode, max_line, 0, 0);
	feed(&r, in, len, mode, max_line, 1, 0);
	same(whole, &r, "byte-at-a-time", idx);
	for (seed = 1; seed < 20; seed++) {
		feed(&r, in, len, mode, max_line, 2, seed);
		same(whole, &r, "random-chunk", idx);
	}
	for (k = 0; k <= len; k++) {
		feed_split(&r, in, len, mode, max_line, k);
		same(whole, &r, "split", idx);
	}
	assert_int_equal(whole->d.in_bytes, whole->consumed);
	assert_int_equal(whole->d.out_bytes, whole->outlen);
}

struct dcase {
	const char *in;
	size_t len;		/* 0: strlen */
	const char *out;	/* after finish */
	size_t outlen;		/* 0: strlen */
	bool done;
	size_t consumed;	/* ALL: len */
	unsigned bare_lf, bare_cr;
};

#define T(in, out, done, consumed, lf, cr) { in, sizeof(in) - 1, out, sizeof(out) - 1, \
	done, consumed, lf, cr }

static const struct dcase dot_cases[] = {
	/* Normal ends. */
	T(".\r\n", "", true, 3, 0, 0),
	T(".\r\nQUIT\r\n", "", true, 3, 0, 0),
	T("a\r\n.\r\n", "a\n", true, 6, 0, 0),
	T("a\r\n.\r\nMAIL FROM:<x@y>\r\n", "a\n", true, 6, 0, 0),
	T("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\n\nbody\n", true, ALL, 0, 0),
	T("\r\n.\r\n", "\n", true, ALL, 0, 0),
	/* Dot-unstuffing. */
	T("..\r\n.\r\n", ".\n", true, ALL, 0, 0),
	T("..a\r\n.\r\n", ".a\n", true, ALL, 0, 0),
	T("a\r\n..\r\n.\r\n", "a\n.\n", true, ALL, 0, 0),
	T("a\r\n...\r\n.\r\n", "a\n..\n", true, ALL, 0, 0),
	T("a\r\n.b\r\n.\r\n", "a\nb\n", true, ALL, 0, 0),
	T("a.\r\n.\r\n", "a.\n", true, ALL, 0, 0),
	T("a\r\n .\r\n.\r\n", "a\n .\n", true, ALL, 0, 0),
	/* SMTP smuggling: none of these end the message. */
	T("x\n.\ny\r\n.\r\n", "x\n\ny\n", true, ALL, 2, 0),
	T("x\n.\r\ny\r\n.\r\n", "x\n\ny\n", true, ALL, 1, 0),
	T("x\r.\r\ny\r\n.\r\n", "x\r.\ny\n", true, ALL, 0, 1),
	T("x\r\n.\ry\r\n.\r\n", "x\n\ry\n", true, ALL, 0, 1),
	T("x\r.\ny\r\n.\r\n", "x\r.\ny\n", true, ALL, 1, 1),
	T("x\n.\ry\r\n.\r\n", "x\n\ry\n", true, ALL, 1, 1),
	T("x\r.\ry\r\n.\r\n", "x\r.\ry\n", true, ALL, 0, 2),
	T("x\r\n\0.\r\ny\r\n.\r\n", "x\n\0.\ny\n", true, ALL, 0, 0),
	T("x\r\n.\r\r\ny\r\n.\r\n", "x\n\r\ny\n", true, ALL, 0, 1),
	T("x\r\r\n.\r\r\ny\r\n.\r\n", "x\r\n\r\ny\n", true, ALL, 0, 2),
	T("x\n\n.\r\ny\r\n.\r\n", "x\n\n\ny\n", true, ALL, 2, 0),
	/* The same at the very start of the message. */
	T("\n.\ny\r\n.\r\n", "\n\ny\n", true, ALL, 2, 0),
	T("\n.\r\ny\r\n.\r\n", "\n\ny\n", true, ALL, 1, 0),
	T("\r.\r\ny\r\n.\r\n", "\r.\ny\n", true, ALL, 0, 1),
	T(".\ry\r\n.\r\n", "\ry\n", true, ALL, 0, 1),
	T(".\ny\r\n.\r\n", "\ny\n", true, ALL, 1, 0),
	T("\0.\r\n.\r\n", "\0.\n", true, ALL, 0, 0),
	T(".\r\r\n.\r\n", "\r\n", true, ALL, 0, 1),
	T("\r\r\n.\r\r\n.\r\n", "\r\n\r\n", true, ALL, 0, 2),
	T("\n\n.\r\n.\r\n", "\n\n\n", true, ALL, 2, 0),
	/* ...and on their own: no end at all. */
	T("\n.\n", "\n\n", false, ALL, 2, 0),
	T("\n.\r\n", "\n\n", false, ALL, 1, 0),
	T("\r.\r\n", "\r.\n", false, ALL, 0, 1),
	T("\r\n.\r", "\n\r\n", false, ALL, 0, 1),
	T("\r.\n", "\r.\n", false, ALL, 1, 1),
	T("\n.\r", "\n\r\n", false, ALL, 1, 1),
	T("\r.\r", "\r.\r\n", false, ALL, 0, 2),
	T("\r\n\0.\r\n", "\n\0.\n", false, ALL, 0, 0),
	T("\r\n.\r\r\n", "\n\r\n", false, ALL, 0, 1),
	T("\r\r\n.\r\r\n", "\r\n\r\n", false, ALL, 0, 2),
	T("\n\n.\r\n", "\n\n\n", false, ALL, 2, 0),
	T("a\r\n. \r\n", "a\n \n", false, ALL, 0, 0),
	T("a\r\n.\t\r\n", "a\n\t\n", false, ALL, 0, 0),
	T("a\r\n .\r\n", "a\n .\n", false, ALL, 0, 0),
	/* Line endings and held bytes at the end (finish). */
	T("", "", false, ALL, 0, 0),
	T("abc", "abc\n", false, ALL, 0, 0),
	T("abc\r", "abc\r\n", false, ALL, 0, 1),
	T("abc\r\n", "abc\n", false, ALL, 0, 0),
	T("abc\n", "abc\n", false, ALL, 1, 0),
	T("a\r\n.", "a\n\n", false, ALL, 0, 0),
	T("a\r\n.\r", "a\n\r\n", false, ALL, 0, 1),
	T("a\rb\r\n.\r\n", "a\rb\n", true, ALL, 0, 1),
	T("a\r\rb\r\n.\r\n", "a\r\rb\n", true, ALL, 0, 2),
	T("a\n\r\n.\r\n", "a\n\n", true, ALL, 1, 0),
	T("a\0b\r\n.\r\n", "a\0b\n", true, ALL, 0, 0),
	/* Bytes after the end are never consumed. */
	T(".\r\n.\r\n", "", true, 3, 0, 0),
	T("a\r\n.\r\n\r\n.\r\n", "a\n", true, 6, 0, 0),
};

static void
test_dot_table(void **state)
{
	static struct result whole;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dot_cases) / sizeof(dot_cases[0]); i++) {
		const struct dcase *c = &dot_cases[i];
		size_t consumed = c->consumed == ALL ? c->len : c->consumed;

		check_chunkings(c->in, c->len, SMTP_DATA_DOT, 0, &whole, i);
		if (whole.done != c->done || whole.consumed != consumed)
			fail_msg("dot case %zu: done %d consumed %zu", i, whole.done,
			    whole.consumed);
		if (whole.outlen != c->outlen || memcmp(whole.out, c->out, c->outlen) != 0)
			fail_msg("dot case %zu: output differs (len %zu, want %zu)", i,
			    whole.outlen, c->outlen);
		if (whole.d.bare_lf != c->bare_lf || whole.d.bare_cr != c->bare_cr)
			fail_msg("dot case %zu: bare_lf %llu bare_cr %llu", i,
			    (unsigned long long)whole.d.bare_lf,
			    (unsigned long long)whole.d.bare_cr);
	}
}

static const struct dcase raw_cases[] = {
	T("", "", false, ALL, 0, 0),
	T(".\r\n", ".\n", false, ALL, 0, 0),
	T("a\r\n.\r\nb", "a\n.\nb\n", false, ALL, 0, 0),
	T("..\r\n", "..\n", false, ALL, 0, 0),
	T("a\nb\rc\r\n", "a\nb\rc\n", false, ALL, 1, 1),
	T("\r\r\n", "\r\n", false, ALL, 0, 1),
	T("x\r", "x\r\n", false, ALL, 0, 1),
	T("\0\r\n", "\0\n", false, ALL, 0, 0),
};

static void
test_raw_table(void **state)
{
	static struct result whole;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
		const struct dcase *c = &raw_cases[i];

		check_chunkings(c->in, c->len, SMTP_DATA_RAW, 0, &whole, i);
		assert_false(whole.done);
		assert_int_equal(whole.consumed, c->len);
		if (whole.outlen != c->outlen || memcmp(whole.out, c->out, c->outlen) != 0)
			fail_msg("raw case %zu: output differs", i);
		assert_int_equal(whole.d.bare_lf, c->bare_lf);
		assert_int_equal(whole.d.bare_cr, c->bare_cr);
	}
}

/* BDAT chunks: a CRLF split across chunks is still one line ending. */
static void
test_raw_chunks_carry_state(void **state)
{
	struct smtp_data d;
	char out[64];
	size_t olen, n;

	(void)state;
	smtp_data_init(&d, SMTP_DATA_RAW, 0);
	n = smtp_data_feed(&d, "abc\r", 4, out, 4 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(n, 4);
	assert_int_equal(olen, 3);
	assert_memory_equal(out, "abc", 3);
	smtp_data_set_mode(&d, SMTP_DATA_RAW);
	n = smtp_data_feed(&d, "\ndef", 4, out, 4 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(n, 4);
	assert_int_equal(olen, 4);
	assert_memory_equal(out, "\ndef", 4);
	assert_int_equal(d.bare_cr, 0);
	assert_int_equal(d.lines, 1);
	n = smtp_data_finish(&d, out, SMTP_DATA_SLACK);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], '\n');
	assert_int_equal(d.lines, 2);
	assert_int_equal(d.in_bytes, 8);
	assert_int_equal(d.out_bytes, 8);
	/* A held CR followed by a non-LF in the next chunk is a bare CR. */
	smtp_data_init(&d, SMTP_DATA_RAW, 0);
	(void)smtp_data_feed(&d, "a\r", 2, out, 2 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(olen, 1);
	(void)smtp_data_feed(&d, "b", 1, out, 1 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(olen, 2);
	assert_memory_equal(out, "\rb", 2);
	assert_int_equal(d.bare_cr, 1);
	/* Empty feeds change nothing. */
	n = smtp_data_feed(&d, "", 0, out, SMTP_DATA_SLACK, &olen);
	assert_int_equal(n, 0);
	assert_int_equal(olen, 0);
}

/* After the end, nothing more is consumed and finish adds nothing. */
static void
test_after_done(void **state)
{
	struct smtp_data d;
	char out[64];
	size_t olen, n;

	(void)state;
	smtp_data_init(&d, SMTP_DATA_DOT, 998);
	n = smtp_data_feed(&d, "hi\r\n.\r\nQUIT\r\n", 13, out, 13 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(n, 7);
	assert_true(d.done);
	assert_int_equal(olen, 3);
	assert_memory_equal(out, "hi\n", 3);
	n = smtp_data_feed(&d, "QUIT\r\n", 6, out, 6 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(n, 0);
	assert_int_equal(olen, 0);
	assert_int_equal(smtp_data_finish(&d, out, SMTP_DATA_SLACK), 0);
	assert_int_equal(d.in_bytes, 7);
	assert_int_equal(d.out_bytes, 3);
	assert_int_equal(d.lines, 1);
}

static void
test_long_lines(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		unsigned long long longl, lines;
	} t[] = {
		{ "abc\r\nabcd\r\nabcdefgh\r\n.\r\n", 3, 2, 3 },
		{ "abc\r\nabcd\r\nabcdefgh\r\n.\r\n", 0, 0, 3 },
		{ "abc\r\nabcd\r\nabcdefgh\r\n.\r\n", 8, 0, 3 },
		{ "abc\r\nabcd\r\nabcdefgh\r\n.\r\n", 7, 1, 3 },
		{ "abcd", 3, 1, 1 },			/* unterminated */
		{ "abc\r", 3, 1, 1 },			/* bare CR counts */
		{ "..abc\r\n.\r\n", 3, 1, 1 },		/* unstuffed: ".abc" */
		{ ".abc\r\n.\r\n", 3, 0, 1 },		/* unstuffed: "abc" */
		{ "abc\ndef\rg\r\n.\r\n", 3, 1, 2 },
		{ "a\r\n\r\nb\r\n.\r\n", 1, 0, 3 },
	};
	static struct result whole;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		check_chunkings(t[i].in, strlen(t[i].in), SMTP_DATA_DOT, t[i].max, &whole, i);
		if (whole.d.long_lines != t[i].longl || whole.d.lines != t[i].lines)
			fail_msg("long case %zu: long %llu lines %llu", i,
			    (unsigned long long)whole.d.long_lines,
			    (unsigned long long)whole.d.lines);
	}
}

static void
test_counters(void **state)
{
	static struct result whole;
	static const char in[] = "a\0b\nc\rd\0\r\n\r\n.\r\n";

	(void)state;
	check_chunkings(in, sizeof(in) - 1, SMTP_DATA_DOT, 0, &whole, 0);
	assert_true(whole.done);
	assert_int_equal(whole.d.nul, 2);
	assert_int_equal(whole.d.bare_lf, 1);
	assert_int_equal(whole.d.bare_cr, 1);
	assert_int_equal(whole.d.lines, 3);
	assert_int_equal(whole.d.in_bytes, sizeof(in) - 1);
	assert_int_equal(whole.d.out_bytes, whole.outlen);
	assert_int_equal(whole.outlen, 10);
	assert_memory_equal(whole.out, "a\0b\nc\rd\0\n\n", 10);
}

/* A DOT-mode message that switches to RAW keeps line state. */
static void
test_mode_switch(void **state)
{
	struct smtp_data d;
	char out[64];
	size_t olen, n;

	(void)state;
	smtp_data_init(&d, SMTP_DATA_RAW, 0);
	(void)smtp_data_feed(&d, "x\r", 2, out, 2 + SMTP_DATA_SLACK, &olen);
	smtp_data_set_mode(&d, SMTP_DATA_DOT);
	n = smtp_data_feed(&d, "\n.\r\n", 4, out, 4 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(n, 4);
	assert_true(d.done);
	assert_int_equal(olen, 1);
	assert_int_equal(out[0], '\n');
	/* RAW never ends and never unstuffs. */
	smtp_data_init(&d, SMTP_DATA_DOT, 0);
	(void)smtp_data_feed(&d, "a\r\n", 3, out, 3 + SMTP_DATA_SLACK, &olen);
	smtp_data_set_mode(&d, SMTP_DATA_RAW);
	n = smtp_data_feed(&d, "..\r\n.\r\n", 7, out, 7 + SMTP_DATA_SLACK, &olen);
	assert_int_equal(n, 7);
	assert_false(d.done);
	assert_int_equal(olen, 5);
	assert_memory_equal(out, "..\n.\n", 5);
}

/* A too-small output buffer is never overrun: the scanner stops early. */
static void
test_small_outbuf(void **state)
{
	struct smtp_data d;
	char out[4];
	size_t olen, n, off = 0, total = 0;
	static const char in[] = "abcdefgh\r\r\r\nij\r\n.\r\n";

	(void)state;
	smtp_data_init(&d, SMTP_DATA_DOT, 0);
	while (off < sizeof(in) - 1 && !d.done) {
		n = smtp_data_feed(&d, in + off, sizeof(in) - 1 - off, out, sizeof(out), &olen);
		assert_true(olen <= sizeof(out));
		assert_true(n > 0);
		off += n;
		total += olen;
	}
	assert_true(d.done);
	assert_int_equal(off, sizeof(in) - 1);
	assert_int_equal(total, 14);
	n = smtp_data_feed(&d, in, 1, out, 0, &olen);
	assert_int_equal(n, 0);
}

/*
 * Independent reference: a straightforward whole-buffer model. The end is
 * ".\r\n" at the start of a line begun after CRLF (or at the start).
 */
static void
reference(const char *in, size_t n, enum smtp_data_mode mode, char *out, size_t *outlen,
    size_t *consumed, bool *done)
{
	enum { B_CRLF, B_LF, B_NONE } bol = B_CRLF;
	size_t i = 0, o = 0;

	*done = false;
	while (i < n) {
		if (mode == SMTP_DATA_DOT && bol == B_CRLF && n - i >= 3 &&
		    memcmp(in + i, ".\r\n", 3) == 0) {
			*done = true;
			i += 3;
			break;
		}
		if (mode == SMTP_DATA_DOT && bol != B_NONE && in[i] == '.') {
			i++;
			bol = B_NONE;
			continue;
		}
		if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') {
			out[o++] = '\n';
			i += 2;
			bol = B_CRLF;
		} else if (in[i] == '\n') {
			out[o++] = '\n';
			i++;
			bol = B_LF;
		} else {
			out[o++] = in[i++];
			bol = B_NONE;
		}
	}
	if (!*done && bol == B_NONE)
		out[o++] = '\n';
	*outlen = o;
	*consumed = i;
}

static void
test_random_vs_reference(void **state)
{
	static const char alpha[] = { '\r', '\n', '.', 'a', '\0', '\r', '\n', '.' };
	static struct result whole;
	char in[48], ref[128];
	size_t reflen, refcons, len, i, iter;
	bool refdone;
	unsigned seed = 12345;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(in);
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alpha[(seed >> 16) % sizeof(alpha)];
		}
		for (int m = 0; m < 2; m++) {
			enum smtp_data_mode mode = m ? SMTP_DATA_RAW : SMTP_DATA_DOT;

			reference(in, len, mode, ref, &reflen, &refcons, &refdone);
			if (iter % 50 == 0)
				check_chunkings(in, len, mode, 3, &whole, iter);
			else {
				feed(&whole, in, len, mode, 3, 1, 0);
			}
			if (whole.done != refdone || whole.consumed != refcons ||
			    whole.outlen != reflen || memcmp(whole.out, ref, reflen) != 0)
				fail_msg("random %zu mode %d: differs from reference", iter, m);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_table),
		cmocka_unit_test(test_raw_table),
		cmocka_unit_test(test_raw_chunks_carry_state),
		cmocka_unit_test(test_after_done),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_mode_switch),
		cmocka_unit_test(test_small_outbuf),
		cmocka_unit_test(test_random_vs_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
