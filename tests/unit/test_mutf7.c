/* test_mutf7: IMAP modified UTF-7 mailbox names. */
#include "tu.h"

#include <stdbool.h>

#include "imap/mutf7.h"

#define IN(s) s, sizeof(s) - 1

/* Pairs that convert both ways. */
static const struct {
	const char *utf8;
	size_t len;
	const char *mutf7;
} pairs[] = {
	{ IN(""), "" },
	{ IN("INBOX"), "INBOX" },
	{ IN(" !\"#$%'()*+,-./0123456789:;<=>?@[\\]^_`{|}~"),
	  " !\"#$%'()*+,-./0123456789:;<=>?@[\\]^_`{|}~" },
	/* RFC 3501 5.1.3 */
	{ IN("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ IN("&"), "&-" },
	{ IN("&&"), "&-&-" },
	{ IN("a&b"), "a&-b" },
	{ IN("Entw\xc3\xbcrfe"), "Entw&APw-rfe" },
	{ IN("\xc3\xa4"), "&AOQ-" },
	{ IN("\xc3\xa4\xc3\xb6"), "&AOQA9g-" },
	{ IN("\xc3\xa4-\xc3\xb6"), "&AOQ--&APY-" },
	{ IN("\xc3\xa4&"), "&AOQ-&-" },
	{ IN("&\xc3\xa4"), "&-&AOQ-" },
	{ IN("\xd0\x9e\xd1\x82\xd0\xbf\xd1\x80\xd0\xb0\xd0\xb2\xd0\xbb\xd0\xb5\xd0\xbd\xd0\xbd"
	    "\xd1\x8b\xd0\xb5"), "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-" },
	{ IN("\xf0\x9f\x98\x80"), "&2D3eAA-" },
	{ IN("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x98\x80" "a"), "&ZeVnLIqe2D3eAA-a" },
	{ IN("\x01"), "&AAE-" },
	{ IN("\t"), "&AAk-" },
	{ IN("a\r\nb"), "a&AA0ACg-b" },
	{ IN("\x7f"), "&AH8-" },
	{ IN("\xc2\x80"), "&AIA-" },
	{ IN("\xef\xbf\xbf"), "&,,8-" },
	{ IN("\xf4\x8f\xbf\xbf"), "&2,,f,w-" },
	{ IN("-&-"), "-&--" },
};

/* Not canonical modified UTF-7. */
static const struct {
	const char *in;
	size_t len;
} bad_mutf7[] = {
	{ IN("&") },			/* unterminated */
	{ IN("a&") },
	{ IN("&AOQ") },
	{ IN("&AOQA9g") },
	{ IN("&&-") },			/* '&' is not base64 */
	{ IN("&/-") },			/* standard base64 alphabet */
	{ IN("&AOQ/-") },
	{ IN("&AOQ=-") },		/* no padding */
	{ IN("&A-") },			/* less than a character */
	{ IN("&AA-") },
	{ IN("&AOQx-") },		/* a needless base64 char */
	{ IN("&AOQAA-") },
	{ IN("&AOR-") },		/* non-zero padding bits */
	{ IN("&AOT-") },
	{ IN("&AGE-") },		/* 'a' encoded */
	{ IN("&ACY-") },		/* '&' encoded */
	{ IN("&ACA-") },		/* ' ' encoded */
	{ IN("&AH4-") },		/* '~' encoded */
	{ IN("&AOQAYQ-") },		/* printable inside a run */
	{ IN("&AAA-") },		/* NUL */
	{ IN("&AOQ-&APY-") },		/* two shifts in a row */
	{ IN("&AOQ-&APY-x") },
	{ IN("&2D0-") },		/* lone high surrogate */
	{ IN("&2D3YPQ-") },		/* high + high */
	{ IN("&3gA-") },		/* lone low surrogate */
	{ IN("&AOTeAA-") },		/* low after a BMP char */
	{ IN("&2D0AYQ-") },		/* high + 'a' */
	{ IN("\xc3\xa4") },		/* raw 8-bit */
	{ IN("a\tb") },			/* raw control */
	{ IN("a\x7f") },
	{ IN("a\0b") },
	{ IN("\0") },
	{ IN("& -") },
	{ IN("&AOQ -") },
	{ IN("&\xc3\xa4-") },
};

/* Not valid UTF-8 (or NUL). */
static const struct {
	const char *in;
	size_t len;
} bad_utf8[] = {
	{ IN("\xc3") },
	{ IN("a\xc3") },
	{ IN("\xc3\x28") },
	{ IN("\xc3\xc3\xa4") },
	{ IN("\x80") },
	{ IN("\xbf") },
	{ IN("\xc0\xaf") },		/* overlong */
	{ IN("\xc1\xbf") },
	{ IN("\xe0\x80\xaf") },
	{ IN("\xe0\x9f\xbf") },
	{ IN("\xf0\x80\x80\xaf") },
	{ IN("\xf0\x8f\xbf\xbf") },
	{ IN("\xed\xa0\x80") },		/* surrogates */
	{ IN("\xed\xbf\xbf") },
	{ IN("\xed\xa0\xbd\xed\xb8\x80") },
	{ IN("\xf4\x90\x80\x80") },	/* > U+10FFFF */
	{ IN("\xf5\x80\x80\x80") },
	{ IN("\xf8\x88\x80\x80\x80") },
	{ IN("\xfe") },
	{ IN("\xff") },
	{ IN("\xe6\x97") },
	{ IN("\xf0\x9f\x98") },
	{ IN("a\0b") },
	{ IN("\0") },
	{ IN("\xc3\xa4\0") },
};

static void
test_pairs(void **state)
{
	char out[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n = strlen(pairs[i].mutf7);
		memset(out, 'Z', sizeof(out));
		if (mutf7_encode(pairs[i].utf8, pairs[i].len, out, sizeof(out)) != 0 ||
		    strcmp(out, pairs[i].mutf7) != 0)
			fail_msg("pair %zu: encode gave \"%s\", want \"%s\"", i, out,
			    pairs[i].mutf7);
		memset(out, 'Z', sizeof(out));
		if (mutf7_decode(pairs[i].mutf7, n, out, sizeof(out)) != 0 ||
		    strlen(out) != pairs[i].len || memcmp(out, pairs[i].utf8, pairs[i].len) != 0)
			fail_msg("pair %zu: decode of \"%s\" failed or differs", i, pairs[i].mutf7);
		/* Exact output sizes, and one byte less. */
		assert_int_equal(mutf7_encode(pairs[i].utf8, pairs[i].len, out, n + 1), 0);
		assert_string_equal(out, pairs[i].mutf7);
		assert_int_equal(mutf7_encode(pairs[i].utf8, pairs[i].len, out, n), -1);
		assert_string_equal(out, n ? "" : out);
		assert_int_equal(mutf7_decode(pairs[i].mutf7, n, out, pairs[i].len + 1), 0);
		assert_int_equal(mutf7_decode(pairs[i].mutf7, n, out, pairs[i].len), -1);
	}
	assert_int_equal(mutf7_encode("a", 1, out, 0), -1);
	assert_int_equal(mutf7_decode("a", 1, out, 0), -1);
	assert_int_equal(mutf7_decode("", 0, out, 1), 0);
	assert_string_equal(out, "");
}

static void
test_bad(void **state)
{
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++) {
		memset(out, 'Z', sizeof(out));
		if (mutf7_decode(bad_mutf7[i].in, bad_mutf7[i].len, out, sizeof(out)) != -1)
			fail_msg("bad mutf7 %zu \"%s\": accepted as \"%s\"", i, bad_mutf7[i].in, out);
		assert_string_equal(out, "");
	}
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		memset(out, 'Z', sizeof(out));
		if (mutf7_encode(bad_utf8[i].in, bad_utf8[i].len, out, sizeof(out)) != -1)
			fail_msg("bad utf8 %zu: accepted as \"%s\"", i, out);
		assert_string_equal(out, "");
	}
}

/* Each prefix of each form, in an exact-size buffer: decoding never reads
 * past it, and a prefix that decodes encodes back to itself. */
static void
test_prefixes(void **state)
{
	char out[256], back[256];
	size_t i, k, n;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n = strlen(pairs[i].mutf7);
		for (k = 0; k <= n; k++) {
			char *p = malloc(k ? k : 1);

			assert_non_null(p);
			memcpy(p, pairs[i].mutf7, k);
			if (mutf7_decode(p, k, out, sizeof(out)) == 0) {
				assert_int_equal(mutf7_encode(out, strlen(out), back, sizeof(back)), 0);
				assert_int_equal(strlen(back), k);
				assert_memory_equal(back, p, k);
			}
			free(p);
		}
		for (k = 0; k <= pairs[i].len; k++) {
			char *p = malloc(k ? k : 1);

			assert_non_null(p);
			memcpy(p, pairs[i].utf8, k);
			if (mutf7_encode(p, k, out, sizeof(out)) == 0) {
				assert_int_equal(mutf7_decode(out, strlen(out), back, sizeof(back)), 0);
				assert_int_equal(strlen(back), k);
				assert_memory_equal(back, p, k);
			}
			free(p);
		}
	}
}

static uint32_t
rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static size_t
put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Random UTF-8 text: encode, check the form, decode back. */
static void
test_round_trip(void **state)
{
	char in[400], enc[2000], dec[400];
	uint32_t seed = 42, cp;
	size_t round, i, n, len, k;
	bool shift;

	(void)state;
	for (round = 0; round < 20000; round++) {
		n = rnd(&seed) % 40;
		len = 0;
		for (i = 0; i < n; i++) {
			switch (rnd(&seed) % 6) {
			case 0:
			case 1:
				cp = 0x20 + rnd(&seed) % 0x5f;
				break;
			case 2:
				cp = 1 + rnd(&seed) % 0x9f;
				break;
			case 3:
				cp = 0x80 + rnd(&seed) % 0x780;
				break;
			case 4:
				do
					cp = 0x800 + rnd(&seed) % 0xf800;
				while (cp >= 0xd800 && cp <= 0xdfff);
				break;
			default:
				cp = 0x10000 + rnd(&seed) % 0x100000;
				break;
			}
			len += put_utf8(in + len, cp);
		}
		assert_int_equal(mutf7_encode(in, len, enc, sizeof(enc)), 0);
		/* Only printable ASCII; shifts hold base64 only and end with '-'. */
		shift = false;
		for (k = 0; enc[k] != '\0'; k++) {
			unsigned char c = (unsigned char)enc[k];

			assert_true(c >= 0x20 && c <= 0x7e);
			if (!shift && c == '&' && enc[k + 1] != '-')
				shift = true;
			else if (shift && c == '-')
				shift = false;
			else if (shift)
				assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9') || c == '+' || c == ',');
			else if (c == '&')
				k++;
		}
		assert_false(shift);
		assert_int_equal(mutf7_decode(enc, strlen(enc), dec, sizeof(dec)), 0);
		assert_int_equal(strlen(dec), len);
		assert_memory_equal(dec, in, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
