/* test_seqset: IMAP sequence sets. */
#include "tu.h"

#include <stdbool.h>

#include "imap/seqset.h"

#define E_SYNTAX	"Invalid sequence set"
#define E_RANGE		"Message sequence number out of range"
#define E_MANY		"Too many ranges in sequence set"
#define E_NOSAVED	"No saved search result"

#define U SEQSET_UID
#define E SEQSET_ALLOW_EMPTY

struct scase {
	const char *in;
	uint32_t max;
	unsigned flags;
	const char *out;	/* seqset_format of the result; NULL: error err */
	const char *err;
};

static const struct scase cases[] = {
	/* Sequence numbers. */
	{ "1", 10, 0, "1", NULL },
	{ "10", 10, 0, "10", NULL },
	{ "2:4", 10, 0, "2:4", NULL },
	{ "4:2", 10, 0, "2:4", NULL },
	{ "1:1", 10, 0, "1", NULL },
	{ "7:*", 10, 0, "7:10", NULL },
	{ "*:7", 10, 0, "7:10", NULL },
	{ "*", 10, 0, "10", NULL },
	{ "*:*", 10, 0, "10", NULL },
	{ "1:*", 10, 0, "1:10", NULL },
	{ "1,3:5,9:*", 10, 0, "1,3:5,9:10", NULL },
	{ "2,4:7,9,12:*", 15, 0, "2,4:7,9,12:15", NULL },
	{ "*:4,5:7", 10, 0, "4:10", NULL },	/* RFC 9051 9's example */
	{ "3,2,1", 10, 0, "1:3", NULL },
	{ "1:3,2:5", 10, 0, "1:5", NULL },
	{ "1,2,3,5", 10, 0, "1:3,5", NULL },
	{ "5,1:2,3:4", 10, 0, "1:5", NULL },
	{ "9,7,5,3,1", 10, 0, "1,3,5,7,9", NULL },
	{ "1,1,1", 10, 0, "1", NULL },
	{ "6:8,1:3", 10, 0, "1:3,6:8", NULL },
	{ "1:3,4:6", 10, 0, "1:6", NULL },	/* adjacent ranges merge */
	{ "1:3,5:6", 10, 0, "1:3,5:6", NULL },
	{ "3", 3, 0, "3", NULL },
	{ "4", 3, 0, NULL, E_RANGE },
	{ "5:*", 3, 0, NULL, E_RANGE },
	{ "*:5", 3, 0, NULL, E_RANGE },
	{ "1,2,4", 3, 0, NULL, E_RANGE },
	{ "4294967295", 10, 0, NULL, E_RANGE },
	{ "4294967295", 4294967295u, 0, "4294967295", NULL },
	{ "1:*", 4294967295u, 0, "1:4294967295", NULL },
	/* An empty mailbox. */
	{ "*", 0, 0, NULL, E_RANGE },
	{ "1", 0, 0, NULL, E_RANGE },
	{ "1:*", 0, 0, NULL, E_RANGE },
	{ "*", 0, E, "", NULL },
	{ "1:*", 0, E, "", NULL },
	{ "5,7:9", 0, E, "", NULL },
	{ "5", 3, E, NULL, E_RANGE },
	{ "0", 0, E, NULL, E_SYNTAX },
	{ "1:", 0, E, NULL, E_SYNTAX },
	/* UIDs (RFC 9051 6.4.9). */
	{ "5:*", 3, U, "3:5", NULL },
	{ "*:5", 3, U, "3:5", NULL },
	{ "559:*", 500, U, "500:559", NULL },
	{ "100", 3, U, "100", NULL },
	{ "443:557,559:*", 1000, U, "443:557,559:1000", NULL },
	{ "*", 0, U, "", NULL },
	{ "*:*", 0, U, "", NULL },
	{ "5:*", 0, U, "1:5", NULL },
	{ "1:*", 0, U, "1", NULL },
	{ "*,3", 0, U, "3", NULL },
	{ "4294967295", 0, U, "4294967295", NULL },
	{ "1:4294967295", 7, U, "1:4294967295", NULL },
	{ "4294967294:*", 4294967295u, U, "4294967294:4294967295", NULL },
	{ "4294967295,1:4294967294", 5, U, "1:4294967295", NULL },
	{ "4294967295,4294967293", 5, U, "4294967293,4294967295", NULL },
	/* Syntax. */
	{ "", 10, 0, NULL, E_SYNTAX },
	{ "0", 10, 0, NULL, E_SYNTAX },
	{ "0", 10, U, NULL, E_SYNTAX },
	{ "00", 10, 0, NULL, E_SYNTAX },
	{ "01", 10, 0, NULL, E_SYNTAX },
	{ "01", 10, U, NULL, E_SYNTAX },
	{ "0:1", 10, 0, NULL, E_SYNTAX },
	{ "1:0", 10, 0, NULL, E_SYNTAX },
	{ "1:01", 10, 0, NULL, E_SYNTAX },
	{ " 1", 10, 0, NULL, E_SYNTAX },
	{ "1 ", 10, 0, NULL, E_SYNTAX },
	{ "1, 2", 10, 0, NULL, E_SYNTAX },
	{ "1 ,2", 10, 0, NULL, E_SYNTAX },
	{ "1 : 2", 10, 0, NULL, E_SYNTAX },
	{ "1\t", 10, 0, NULL, E_SYNTAX },
	{ "1,,2", 10, 0, NULL, E_SYNTAX },
	{ ",1", 10, 0, NULL, E_SYNTAX },
	{ "1,", 10, 0, NULL, E_SYNTAX },
	{ ",", 10, 0, NULL, E_SYNTAX },
	{ "1:", 10, 0, NULL, E_SYNTAX },
	{ ":1", 10, 0, NULL, E_SYNTAX },
	{ ":", 10, 0, NULL, E_SYNTAX },
	{ "1:2:3", 10, 0, NULL, E_SYNTAX },
	{ "1::2", 10, 0, NULL, E_SYNTAX },
	{ "a", 10, 0, NULL, E_SYNTAX },
	{ "1a", 10, 0, NULL, E_SYNTAX },
	{ "-1", 10, 0, NULL, E_SYNTAX },
	{ "+1", 10, 0, NULL, E_SYNTAX },
	{ "1-2", 10, 0, NULL, E_SYNTAX },
	{ "1.5", 10, 0, NULL, E_SYNTAX },
	{ "1;2", 10, 0, NULL, E_SYNTAX },
	{ "**", 10, 0, NULL, E_SYNTAX },
	{ "*1", 10, 0, NULL, E_SYNTAX },
	{ "1*", 10, 0, NULL, E_SYNTAX },
	{ "*:", 10, 0, NULL, E_SYNTAX },
	{ "%", 10, 0, NULL, E_SYNTAX },
	{ "$,1", 10, 0, NULL, E_SYNTAX },
	{ "1,$", 10, 0, NULL, E_SYNTAX },
	{ "$$", 10, 0, NULL, E_SYNTAX },
	{ "$ ", 10, 0, NULL, E_SYNTAX },
	{ "$:1", 10, 0, NULL, E_SYNTAX },
	{ "4294967296", 10, U, NULL, E_SYNTAX },
	{ "99999999999", 10, U, NULL, E_SYNTAX },
	{ "18446744073709551617", 10, U, NULL, E_SYNTAX },
	{ "1:4294967296", 10, U, NULL, E_SYNTAX },
	{ "\xc2\xb9", 10, U, NULL, E_SYNTAX },
	{ "\xef\xbc\x91", 10, U, NULL, E_SYNTAX },
};

static void
check(const struct scase *c, size_t idx, const char *in)
{
	struct seqset s;
	const char *err = NULL;
	char buf[256];
	int r;

	r = seqset_parse(in, c->max, c->flags, NULL, 100, &s, &err);
	if (c->out == NULL) {
		if (r != -1 || err == NULL || strcmp(err, c->err) != 0)
			fail_msg("case %zu \"%s\": r=%d err \"%s\", want \"%s\"", idx, c->in, r,
			    err ? err : "(null)", c->err);
		assert_null(s.r);
		assert_int_equal(s.n, 0);
		return;
	}
	if (r != 0)
		fail_msg("case %zu \"%s\": rejected \"%s\"", idx, c->in, err ? err : "(null)");
	assert_true(seqset_format(&s, buf, sizeof(buf)) < sizeof(buf));
	if (strcmp(buf, c->out) != 0)
		fail_msg("case %zu \"%s\": \"%s\", want \"%s\"", idx, c->in, buf, c->out);
	assert_true((s.n == 0) == (s.r == NULL));
	seqset_free(&s);
	assert_null(s.r);
	assert_int_equal(s.n, 0);
}

static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i], i, cases[i].in);
}

/* Every prefix, in an exact-size buffer: no read past the NUL. */
static void
test_prefixes(void **state)
{
	struct seqset s;
	const char *err;
	size_t i, k, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].in);
		for (k = 0; k <= n; k++) {
			char *p = malloc(k + 1);

			assert_non_null(p);
			memcpy(p, cases[i].in, k);
			p[k] = '\0';
			err = NULL;
			if (seqset_parse(p, cases[i].max, cases[i].flags, NULL, 100, &s, &err) == 0)
				seqset_free(&s);
			else
				assert_non_null(err);
			free(p);
		}
	}
}

static void
test_saved(void **state)
{
	struct seqrange r[] = { { 1, 3 }, { 7, 7 }, { 10, 4000000000u } };
	struct seqset saved = { r, 3 }, empty = { NULL, 0 }, s;
	const char *err;
	char buf[64];

	(void)state;
	assert_int_equal(seqset_parse("$", 5, 0, NULL, 10, &s, &err), -1);
	assert_string_equal(err, E_NOSAVED);
	/* A copy, whatever max says: the saved result is what it was. */
	assert_int_equal(seqset_parse("$", 5, 0, &saved, 1, &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_ptr_not_equal(s.r, r);
	seqset_format(&s, buf, sizeof(buf));
	assert_string_equal(buf, "1:3,7,10:4000000000");
	seqset_free(&s);
	assert_int_equal(seqset_parse("$", 0, U, &empty, 10, &s, &err), 0);
	assert_int_equal(s.n, 0);
	assert_null(s.r);
	assert_int_equal(seqset_parse("$,1", 5, 0, &saved, 10, &s, &err), -1);
	assert_string_equal(err, E_SYNTAX);
}

static void
test_max_ranges(void **state)
{
	struct seqset s;
	const char *err;

	(void)state;
	assert_int_equal(seqset_parse("1,2,3", 10, 0, NULL, 3, &s, &err), 0);
	assert_int_equal(s.n, 1);
	seqset_free(&s);
	assert_int_equal(seqset_parse("1,2,3", 10, 0, NULL, 2, &s, &err), -1);
	assert_string_equal(err, E_MANY);
	assert_int_equal(seqset_parse("1", 10, 0, NULL, 0, &s, &err), -1);
	assert_string_equal(err, E_MANY);
	/* Counted before merging. */
	assert_int_equal(seqset_parse("1,1,1,1", 10, 0, NULL, 3, &s, &err), -1);
	assert_string_equal(err, E_MANY);
	/* A NULL err is fine. */
	assert_int_equal(seqset_parse("x", 10, 0, NULL, 3, &s, NULL), -1);
}

static void
test_has_count(void **state)
{
	struct seqset s;
	uint32_t v;

	(void)state;
	assert_int_equal(seqset_parse("2:4,7,9:10,4294967295", 10, U, NULL, 10, &s, NULL), 0);
	assert_true(seqset_count(&s) == 3 + 1 + 2 + 1);
	for (v = 0; v <= 12; v++)
		assert_int_equal(seqset_has(&s, v), (v >= 2 && v <= 4) || v == 7 || v == 9 ||
		    v == 10);
	assert_true(seqset_has(&s, 4294967295u));
	assert_false(seqset_has(&s, 4294967294u));
	seqset_free(&s);
	assert_int_equal(seqset_parse("1:*", 4294967295u, U, NULL, 10, &s, NULL), 0);
	assert_true(seqset_count(&s) == 4294967295u);
	assert_false(seqset_has(&s, 0));
	assert_true(seqset_has(&s, 1));
	assert_true(seqset_has(&s, 4294967295u));
	seqset_free(&s);
	/* The empty set. */
	memset(&s, 0, sizeof(s));
	assert_false(seqset_has(&s, 1));
	assert_true(seqset_count(&s) == 0);
}

static void
test_format(void **state)
{
	struct seqset s;
	char buf[64];
	size_t n;

	(void)state;
	assert_int_equal(seqset_parse("1:3,5,9:12", 20, 0, NULL, 10, &s, NULL), 0);
	n = seqset_format(&s, NULL, 0);
	assert_int_equal(n, 10);
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(seqset_format(&s, buf, 10), 10);
	assert_int_equal(buf[0], 'Z');
	assert_int_equal(seqset_format(&s, buf, 11), 10);
	assert_string_equal(buf, "1:3,5,9:12");
	seqset_free(&s);
	memset(&s, 0, sizeof(s));
	assert_int_equal(seqset_format(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(seqset_format(&s, NULL, 0), 0);
}

static uint32_t
rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static void
test_from_list(void **state)
{
	static const uint32_t v[] = { 5, 3, 4, 0, 10, 3, 4294967295u, 1, 4294967294u, 12 };
	struct seqset s;
	char buf[128];
	uint32_t seed = 7, list[64];
	bool in[200];
	size_t i, n, round;

	(void)state;
	seqset_from_list(v, sizeof(v) / sizeof(v[0]), &s);
	seqset_format(&s, buf, sizeof(buf));
	assert_string_equal(buf, "1,3:5,10,12,4294967294:4294967295");
	seqset_free(&s);
	seqset_from_list(v, 0, &s);
	assert_int_equal(s.n, 0);
	assert_null(s.r);
	seqset_from_list(v + 3, 1, &s);		/* just 0 */
	assert_int_equal(s.n, 0);
	assert_null(s.r);
	/* Random lists against a bitmap. */
	for (round = 0; round < 2000; round++) {
		n = rnd(&seed) % 64;
		memset(in, 0, sizeof(in));
		for (i = 0; i < n; i++) {
			list[i] = rnd(&seed) % 200;
			in[list[i]] = list[i] != 0;
		}
		seqset_from_list(list, n, &s);
		for (i = 0; i < s.n; i++) {
			assert_true(s.r[i].lo <= s.r[i].hi);
			if (i > 0)
				assert_true(s.r[i].lo > s.r[i - 1].hi + 1);
		}
		for (i = 0; i < 200; i++)
			assert_int_equal(seqset_has(&s, (uint32_t)i), in[i]);
		seqset_free(&s);
	}
}

/* Random sets: membership matches a bitmap, and the canonical text parses
 * back to the same set and text. */
static void
test_random(void **state)
{
	struct seqset s, s2;
	char text[1024], buf[1024], buf2[1024];
	bool in[64];
	uint32_t seed = 1, a, b, max, lo, hi, v;
	size_t round, k, n, o, cnt;
	unsigned flags;

	(void)state;
	for (round = 0; round < 5000; round++) {
		max = 1 + rnd(&seed) % 40;
		flags = (rnd(&seed) & 1) ? U : 0;
		n = 1 + rnd(&seed) % 8;
		memset(in, 0, sizeof(in));
		o = 0;
		for (k = 0; k < n; k++) {
			/* 0 stands for '*' */
			a = rnd(&seed) % (flags ? 60 : max + 1);
			b = (rnd(&seed) & 1) ? a : rnd(&seed) % (flags ? 60 : max + 1);
			o += (size_t)snprintf(text + o, sizeof(text) - o, "%s", k ? "," : "");
			if (a == 0)
				o += (size_t)snprintf(text + o, sizeof(text) - o, "*");
			else
				o += (size_t)snprintf(text + o, sizeof(text) - o, "%u", a);
			if (b != a) {
				if (b == 0)
					o += (size_t)snprintf(text + o, sizeof(text) - o, ":*");
				else
					o += (size_t)snprintf(text + o, sizeof(text) - o, ":%u", b);
			}
			a = a ? a : max;
			b = b ? b : max;
			lo = a < b ? a : b;
			hi = a < b ? b : a;
			for (v = lo; v <= hi; v++)
				in[v] = true;
		}
		assert_int_equal(seqset_parse(text, max, flags, NULL, 8, &s, NULL), 0);
		cnt = 0;
		for (v = 0; v < 64; v++) {
			assert_int_equal(seqset_has(&s, v), in[v]);
			cnt += in[v];
		}
		assert_true(seqset_count(&s) == cnt);
		seqset_format(&s, buf, sizeof(buf));
		assert_int_equal(seqset_parse(buf, max, flags | U, NULL, 100, &s2, NULL), 0);
		seqset_format(&s2, buf2, sizeof(buf2));
		assert_string_equal(buf, buf2);
		assert_int_equal(s.n, s2.n);
		assert_memory_equal(s.r, s2.r, s.n * sizeof(*s.r));
		seqset_free(&s);
		seqset_free(&s2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_saved),
		cmocka_unit_test(test_max_ranges),
		cmocka_unit_test(test_has_count),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_from_list),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
