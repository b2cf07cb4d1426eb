/* test_hdr: header-block scanner, whole and in every chunking. */
#include "tu.h"

#include "mail/hdr.h"

#define F HDR_HAVE_FROM
#define D HDR_HAVE_DATE
#define M HDR_HAVE_MESSAGE_ID
#define TO HDR_HAVE_TO
#define CC HDR_HAVE_CC
#define BCC HDR_HAVE_BCC
#define S HDR_HAVE_SUBJECT
#define SND HDR_HAVE_SENDER
#define NONE ((size_t)-1)	/* header_bytes: whole input (no end seen) */

struct hcase {
	const char *in;
	unsigned have;
	bool in_body;
	size_t header_bytes;	/* NONE: all of in */
	unsigned long nfields;
	size_t len;		/* 0: strlen(in) */
};

static const struct hcase cases[] = {
	{ "", 0, false, 0, 0, 0 },
	{ "\n", 0, true, 1, 0, 0 },
	{ "\nFrom: x\n", 0, true, 1, 0, 0 },
	{ "From: a\nTo: b\n\nbody\n", F | TO, true, 15, 2, 0 },
	{ "from: a\nTO: b\nsUbJeCt: hi\n\n", F | TO | S, true, 27, 3, 0 },
	{ "From: a\nDate: now\nMessage-ID: <x@y>\nTo: b\nCc: c\nBcc: d\nSubject: s\n"
	  "Sender: e\n\n", F | D | M | TO | CC | BCC | S | SND, true, NONE, 8, 0 },
	{ "message-id: <x>\n\n", M, true, 17, 1, 0 },
	{ "MESSAGE-ID:<x>\n\n", M, true, 16, 1, 0 },
	/* Continuation lines. */
	{ "Subject: a\n b\n\tc\nFrom: x\n\n", S | F, true, NONE, 2, 0 },
	{ "Subject: a\n From: x\n\n", S, true, NONE, 1, 0 },
	{ "Subject: a\n \n\n", S, true, NONE, 1, 0 },
	/* Names that only look like ours. */
	{ "Fromx: a\nX-From: b\nResent-From: c\nFro: d\nTo-: e\nCcc: f\n\n", 0, true, NONE, 6, 0 },
	{ "Resent-Date: a\nResent-Message-ID: b\nResent-To: c\n\n", 0, true, NONE, 3, 0 },
	/* Obsolete WSP before the colon (RFC 5322 4.5.3). */
	{ "From : a\nDate\t: b\n\n", F | D, true, NONE, 2, 0 },
	{ "From  :x\n\n", F, true, NONE, 1, 0 },
	/* Lines that are not header fields end the block. */
	{ "From: a\nnot a header\nTo: b\n\n", F, true, 8, 1, 0 },
	{ "From: a\nTo b\n\n", F, true, 8, 1, 0 },
	{ "From: a\nTo\n\n", F, true, 8, 1, 0 },
	{ "From: a\n: b\nTo: c\n\n", F, true, 8, 1, 0 },
	{ " leading: space\nFrom: a\n\n", 0, true, 0, 0, 0 },
	{ "\tFrom: a\n\n", 0, true, 0, 0, 0 },
	{ "From x@y Mon Jan 1\nTo: a\n\n", 0, true, 0, 0, 0 },
	{ "From: a\n\rTo: b\n\n", F, true, 8, 1, 0 },
	{ "From: a\n\r\nTo: b\n\n", F, true, 8, 1, 0 },
	{ "From: a\nT\xc3\xb6: b\n\n", F, true, 8, 1, 0 },
	{ "From: a\nTo\0: b\n\n", F, true, 8, 1, 16 },
	{ "From: a\nSubject x: y\nTo: b\n\n", F, true, 8, 1, 0 },
	/* Headers after the body starts do not count. */
	{ "Subject: s\n\nFrom: x\nTo: y\n", S, true, 12, 1, 0 },
	/* No empty line (yet). */
	{ "From: a\nTo: b\n", F | TO, false, NONE, 2, 0 },
	{ "From: a\nTo: b", F | TO, false, 8, 2, 0 },
	{ "From: a\nTo", F, false, 8, 1, 0 },
	{ "Subj", 0, false, 0, 0, 0 },
	/* Field bodies may contain anything. */
	{ "Subject: \xff\x01:\r\n\n", S, true, NONE, 1, 0 },
	/* Long names are truncated but still counted. */
	{ "X-A-Very-Long-Header-Name-That-Goes-On-And-On-Forever: 1\nFrom: a\n\n", F, true,
	  NONE, 2, 0 },
	{ "Fromaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\n\n", 0, true, NONE, 1, 0 },
	/* Exactly 31 and 32 characters. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\n\n", 0, true, NONE, 1, 0 },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\n\n", 0, true, NONE, 1, 0 },
};

static void
feed_chunks(struct hdr_scan *h, const char *in, size_t len, size_t step, size_t split)
{
	size_t off = 0, n;

	hdr_scan_init(h);
	if (split != (size_t)-1) {
		hdr_scan_feed(h, in, split);
		hdr_scan_feed(h, in + split, len - split);
		return;
	}
	while (off < len) {
		n = step == 0 ? len - off : (step < len - off ? step : len - off);
		hdr_scan_feed(h, in + off, n);
		off += n;
	}
	/* Empty feeds are harmless. */
	hdr_scan_feed(h, in, 0);
}

static void
same(const struct hdr_scan *a, const struct hdr_scan *b, size_t idx, const char *how)
{
	if (a->have != b->have || a->in_body != b->in_body ||
	    a->header_bytes != b->header_bytes || a->nfields != b->nfields)
		fail_msg("case %zu: %s differs from whole", idx, how);
}

static void
test_table(void **state)
{
	struct hdr_scan whole, h;
	size_t i, k, len, want_bytes;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hcase *c = &cases[i];

		len = c->len ? c->len : strlen(c->in);
		want_bytes = c->header_bytes == NONE ? len : c->header_bytes;
		feed_chunks(&whole, c->in, len, 0, (size_t)-1);
		if (whole.have != c->have || whole.in_body != c->in_body ||
		    whole.header_bytes != want_bytes || whole.nfields != c->nfields)
			fail_msg("case %zu: have %#x body %d bytes %zu fields %lu", i, whole.have,
			    whole.in_body, whole.header_bytes, whole.nfields);
		for (k = 1; k <= 5; k++) {
			feed_chunks(&h, c->in, len, k, (size_t)-1);
			same(&whole, &h, i, k == 1 ? "byte-at-a-time" : "chunked");
		}
		for (k = 0; k <= len; k++) {
			feed_chunks(&h, c->in, len, 0, k);
			same(&whole, &h, i, "split");
		}
	}
}

/* Once in the body, further input is ignored entirely. */
static void
test_stops_in_body(void **state)
{
	struct hdr_scan h;

	(void)state;
	hdr_scan_init(&h);
	hdr_scan_feed(&h, "To: a\n\n", 7);
	assert_true(h.in_body);
	assert_int_equal(h.header_bytes, 7);
	hdr_scan_feed(&h, "From: b\n", 8);
	hdr_scan_feed(&h, "\n", 1);
	assert_int_equal(h.have, HDR_HAVE_TO);
	assert_int_equal(h.header_bytes, 7);
	assert_int_equal(h.nfields, 1);
}

/* Random header-ish text: byte-at-a-time always agrees with whole. */
static void
test_random_chunking(void **state)
{
	static const char *const frag[] = {
		"From", "To", "Cc", "Date", ":", " ", "\t", "\n", "x", "Subject", "-",
		"Message-ID", "\r", "\xc3", "Bcc", "Sender", ": v\n",
	};
	struct hdr_scan whole, h;
	char in[256];
	size_t len, i, k;
	unsigned seed = 7;

	(void)state;
	for (i = 0; i < 5000; i++) {
		len = 0;
		for (;;) {
			const char *f;

			seed = seed * 1103515245u + 12345u;
			f = frag[(seed >> 16) % (sizeof(frag) / sizeof(frag[0]))];
			if (len + strlen(f) >= sizeof(in) || (seed >> 8) % 40 == 0)
				break;
			memcpy(in + len, f, strlen(f));
			len += strlen(f);
		}
		feed_chunks(&whole, in, len, 0, (size_t)-1);
		feed_chunks(&h, in, len, 1, (size_t)-1);
		same(&whole, &h, i, "byte-at-a-time");
		for (k = 0; k <= len; k += 3) {
			feed_chunks(&h, in, len, 0, k);
			same(&whole, &h, i, "split");
		}
		assert_true(whole.header_bytes <= len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_stops_in_body),
		cmocka_unit_test(test_random_chunking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
