/* Unit tests for src/mail/addrlist: address-list extraction for sendmail -t. */
#include "tu.h"

#include "lib/util.h"
#include "mail/addrlist.h"

/* Collected callbacks, joined with '|' for easy comparison. */
struct got {
	char text[16384];
	size_t len;
	int n;
};

static void
collect(void *ctx, const char *addr, size_t addrlen)
{
	struct got *g = ctx;

	/* Addresses are non-empty and trimmed. */
	assert_true(addrlen > 0);
	assert_false(addr[0] == ' ' || addr[0] == '\t' || addr[0] == '\r' || addr[0] == '\n');
	assert_false(addr[addrlen - 1] == ' ' || addr[addrlen - 1] == '\t' ||
	    addr[addrlen - 1] == '\r' || addr[addrlen - 1] == '\n');
	g->n++;
	if (g->len + addrlen + 2 < sizeof(g->text)) {
		if (g->len > 0)
			g->text[g->len++] = '|';
		memcpy(g->text + g->len, addr, addrlen);
		g->len += addrlen;
		g->text[g->len] = '\0';
	}
}

/* Parse from an exact-size copy (so ASan sees overreads); rc and callbacks. */
static int
run(const char *in, size_t len, size_t max, struct got *g)
{
	char *copy = xmalloc(len ? len : 1);

	memset(g, 0, sizeof(*g));
	if (len > 0)
		memcpy(copy, in, len);
	int rc = addrlist_parse(copy, len, max, collect, g);
	free(copy);
	if (rc >= 0)
		assert_int_equal(rc, g->n);
	else
		assert_int_equal(rc, -1);
	return rc;
}

static void
expect_max(const char *in, size_t max, int want_rc, const char *want)
{
	struct got g;
	int rc = run(in, strlen(in), max, &g);

	if (rc != want_rc || strcmp(g.text, want) != 0)
		fail_msg("addrlist_parse(\"%s\", max %zu):\n  got  %d \"%s\"\n  want %d \"%s\"", in, max,
		    rc, g.text, want_rc, want);
}

static void
expect(const char *in, int want_rc, const char *want)
{
	expect_max(in, 1000, want_rc, want);
}

static void
test_plain(void **state)
{
	(void)state;
	expect("", 0, "");
	expect("   \t ", 0, "");
	expect(",, ,\t,", 0, "");
	expect("a@b", 1, "a@b");
	expect("  a@b  ", 1, "a@b");
	expect("a@b,c@d", 2, "a@b|c@d");
	expect("a@b, c@d ,e@f", 3, "a@b|c@d|e@f");
	expect("a@b,,c@d,", 2, "a@b|c@d");
	expect("a@b; c@d", 2, "a@b|c@d");
	expect("root", 1, "root");
	expect("root, postmaster", 2, "root|postmaster");
	expect("first.last+tag@sub.example.com", 1, "first.last+tag@sub.example.com");
	/* Folded header values. */
	expect("a@b,\r\n c@d,\r\n\te@f\r\n", 3, "a@b|c@d|e@f");
	expect("a@b\n", 1, "a@b");
}

static void
test_display_names(void **state)
{
	(void)state;
	expect("Alice <alice@example.com>", 1, "alice@example.com");
	expect("Alice Smith <a@b>, Bob <c@d>", 2, "a@b|c@d");
	expect("<a@b>", 1, "a@b");
	expect("Alice<a@b>", 1, "a@b");
	expect(" <a@b> ", 1, "a@b");
	expect("<a@b>,<c@d>", 2, "a@b|c@d");
	expect("Alice\r\n <a@b>", 1, "a@b");
	/* Whatever follows the angle-addr is not part of the address. */
	expect("Alice <a@b> trailing words, c@d", 2, "a@b|c@d");
	/* Empty angle brackets give no address. */
	expect("Nobody <>, c@d", 1, "c@d");
	/* Source routes are kept as written inside the brackets. */
	expect("<@relay.example:a@b>", 1, "@relay.example:a@b");
	/* UTF-8 display names. */
	expect("J\xc3\xbcrgen M\xc3\xbcller <jm@example.de>", 1, "jm@example.de");
}

static void
test_quoted_phrases(void **state)
{
	(void)state;
	expect("\"Last, First\" <e@f>", 1, "e@f");
	expect("\"Last, First\" <e@f>, \"Other; Name\" <g@h>", 2, "e@f|g@h");
	expect("\"a;b:c<d>e(f)\" <x@y>", 1, "x@y");
	expect("\"quote \\\" inside, x\" <x@y>", 1, "x@y");
	expect("\"backslash \\\\\" <x@y>, z@w", 2, "x@y|z@w");
	expect("\"\" <x@y>", 1, "x@y");
	/* Quoted local parts keep their quotes. */
	expect("\"john doe\"@example.com", 1, "\"john doe\"@example.com");
	expect("\"john, doe\"@example.com, x@y", 2, "\"john, doe\"@example.com|x@y");
	expect("\"a:b\"@example.com", 1, "\"a:b\"@example.com");
	expect("<\"john doe\"@example.com>", 1, "\"john doe\"@example.com");
	expect("Name <\"a>b\"@c>", 1, "\"a>b\"@c");
	expect("Name <\"a,b\"@c>, d@e", 2, "\"a,b\"@c|d@e");
	expect("<\"a\\\"b\"@c>", 1, "\"a\\\"b\"@c");
}

static void
test_comments(void **state)
{
	(void)state;
	expect("a@b (Comment)", 1, "a@b");
	expect("(c) a@b", 1, "a@b");
	expect("a@b (with, comma; and: colon)", 1, "a@b");
	expect("a@b (nested (comment), here), c@d", 2, "a@b|c@d");
	expect("a@b (escaped \\) paren), c@d", 2, "a@b|c@d");
	expect("a@b (escaped \\( paren), c@d", 2, "a@b|c@d");
	expect("Name (comment) <a@b>", 1, "a@b");
	expect("Name <a@b> (comment)", 1, "a@b");
	expect("a(c)@b", 1, "a@b");
	expect("(only a comment)", 0, "");
	expect("()a@b()", 1, "a@b");

	/* Nesting: 32 levels are fine, 33 are not. */
	char in[200];
	size_t n = 0;
	for (int i = 0; i < 32; i++)
		in[n++] = '(';
	for (int i = 0; i < 32; i++)
		in[n++] = ')';
	memcpy(in + n, " a@b", 5);
	expect(in, 1, "a@b");
	n = 0;
	for (int i = 0; i < 33; i++)
		in[n++] = '(';
	for (int i = 0; i < 33; i++)
		in[n++] = ')';
	memcpy(in + n, " a@b", 5);
	expect(in, -1, "");
	/* Depth counts nesting, not the number of comments. */
	n = 0;
	for (int i = 0; i < 50; i++) {
		in[n++] = '(';
		in[n++] = ')';
	}
	memcpy(in + n, " a@b", 5);
	expect(in, 1, "a@b");
}

static void
test_groups(void **state)
{
	(void)state;
	expect("team: a@b, c@d;", 2, "a@b|c@d");
	expect("undisclosed-recipients:;", 0, "");
	expect("undisclosed-recipients: ;", 0, "");
	expect("team: a@b, c@d;, e@f", 3, "a@b|c@d|e@f");
	expect("\"My Team\": a@b;", 1, "a@b");
	expect("x@y, team: Alice <a@b>, c@d;, z@w", 4, "x@y|a@b|c@d|z@w");
	expect("Team:;, a@b", 1, "a@b");
	expect("a@b, undisclosed-recipients:;, c@d", 2, "a@b|c@d");
	expect("one: a@b; two: c@d;", 2, "a@b|c@d");
	expect("team: \"Last, First\" <a@b>, (comment) c@d;", 2, "a@b|c@d");
	/* A group without its closing ';' still yields its members. */
	expect("team: a@b, c@d", 2, "a@b|c@d");
}

static void
test_domain_literals(void **state)
{
	(void)state;
	expect("<root@[127.0.0.1]>", 1, "root@[127.0.0.1]");
	expect("root@[127.0.0.1], a@b", 2, "root@[127.0.0.1]|a@b");
	expect("<root@[IPv6:::1]>", 1, "root@[IPv6:::1]");
	/* A bare address with an IPv6 literal: the ':' are not a group. */
	expect("root@[IPv6:::1]", 1, "root@[IPv6:::1]");
	expect("root@[IPv6:2001:db8::1], a@b", 2, "root@[IPv6:2001:db8::1]|a@b");
	expect("team: root@[IPv6:::1], a@b;", 2, "root@[IPv6:::1]|a@b");
	/* Other brackets are plain text, as before. */
	expect("Foo [Bar] <a@b>, c@d", 2, "a@b|c@d");
	expect("Foo [ <a@b>, x@[1.2.3.4]", 2, "a@b|x@[1.2.3.4]");
	expect("x@[1.2.3.4", 1, "x@[1.2.3.4");
	expect("list [info]: a@b;", 1, "a@b");
}

static void
test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"\"unterminated", "a@b, \"unterminated", "\"a\\\"", "<a@b", "Name <a@b, c@d", "a@b>",
		"<a@b>>", "(unbalanced", "a@b (unbalanced", "a@b)", "(a))", "<\"a@b>",
		"Name <a@b", "\"\\", "(\\", ">", ")", "a@b (x \\)", NULL
	};
	struct got g;

	for (size_t i = 0; bad[i]; i++) {
		int rc = run(bad[i], strlen(bad[i]), 1000, &g);
		if (rc != -1)
			fail_msg("addrlist_parse(\"%s\") = %d \"%s\", want -1", bad[i], rc, g.text);
	}
	/* Addresses before the error have been reported. */
	assert_int_equal(run("a@b, c@d, <broken", 17, 1000, &g), -1);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.text, "a@b|c@d");
	assert_int_equal(run("a@b, Name <c@d> , \"x", 20, 1000, &g), -1);
	assert_string_equal(g.text, "a@b|c@d");
}

static void
test_max_addrs(void **state)
{
	(void)state;
	expect_max("a@b, c@d, e@f", 3, 3, "a@b|c@d|e@f");
	expect_max("a@b, c@d, e@f", 2, 2, "a@b|c@d");
	expect_max("a@b, c@d, e@f", 1, 1, "a@b");
	expect_max("a@b, c@d, e@f", 0, 0, "");
	expect_max("team: a@b, c@d;, e@f", 2, 2, "a@b|c@d");
	/* Empty elements do not count. */
	expect_max(",,a@b,,,c@d,,", 2, 2, "a@b|c@d");
	expect_max("undisclosed-recipients:;, a@b", 1, 1, "a@b");
	/* The bound stops the walk: a later syntax error is not seen. */
	expect_max("a@b, c@d, <broken", 1, 1, "a@b");

	/* Many addresses. */
	size_t cap = 1500 * 24, n = 0;
	char *in = xmalloc(cap);
	for (int i = 0; i < 1500; i++)
		n += (size_t)snprintf(in + n, cap - n, "u%d@example.com, ", i);
	struct got g;
	assert_int_equal(run(in, n, 1000, &g), 1000);
	assert_int_equal(run(in, n, 1500, &g), 1500);
	assert_int_equal(run(in, n, 100000, &g), 1500);
	assert_int_equal(run(in, n, (size_t)-1, &g), 1500);
	free(in);
}

static void
test_long_inputs(void **state)
{
	struct got g;
	(void)state;

	/* A long address is passed through whole. */
	char *in = xmalloc(8000);
	memset(in, 'x', 900);
	memcpy(in + 900, "@example.com", 12);
	assert_int_equal(run(in, 912, 10, &g), 1);
	assert_int_equal(g.len, 912);
	/* Overlong ones (bare, quoted, in brackets, display name) fail without overflow. */
	memset(in, 'x', 8000);
	assert_int_equal(run(in, 8000, 10, &g), -1);
	in[0] = '"';
	in[7000] = '"';
	assert_int_equal(run(in, 8000, 10, &g), -1);
	in[0] = '<';
	in[7000] = '>';
	assert_int_equal(run(in, 7001, 10, &g), -1);
	memset(in, 'x', 8000);
	memcpy(in + 7000, "<a@b>", 5);
	int rc = run(in, 7005, 10, &g);
	assert_true(rc == -1 || (rc == 1 && strcmp(g.text, "a@b") == 0));
	/* Long phrases made of quoted strings. */
	for (size_t i = 0; i + 4 < 8000; i += 4)
		memcpy(in + i, "\"q\" ", 4);
	assert_int_equal(run(in, 7996, 10, &g), -1);
	/* A long comment is skipped whatever its length. */
	memset(in, 'c', 8000);
	in[0] = '(';
	memcpy(in + 7990, ") a@b", 5);
	assert_int_equal(run(in, 7995, 10, &g), 1);
	assert_string_equal(g.text, "a@b");
	free(in);
}

/* Every prefix (and suffix) of valid inputs: no crash, sane results. */
static void
test_prefixes(void **state)
{
	static const char *const inputs[] = {
		("Alice Smith <alice@example.com>, \"Last, First\" <e@f> (comment (nested)), "
		    "team: a@b, \"john doe\"@example.com;, undisclosed-recipients:;, <\"q>\"@x>"),
		"a@b (c \\) d), \"x\\\"y\" <z@w>; g: <@r:a@b>, c@d; e@f",
		"=?UTF-8?B?SsO8cmdlbg==?= <j@example.de>,\r\n\tBob <bob@[IPv6:::1]>, root@[127.0.0.1]",
		"((((((((((a))))))))))<b@c>,\"\"<d@e>,(\\()f@g",
	};
	struct got g;
	(void)state;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t len = strlen(inputs[i]);
		assert_true(run(inputs[i], len, 1000, &g) > 0);
		for (size_t k = 0; k <= len; k++) {
			(void)run(inputs[i], k, 1000, &g);
			(void)run(inputs[i] + k, len - k, 1000, &g);
			(void)run(inputs[i], k, 1, &g);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_display_names),
		cmocka_unit_test(test_quoted_phrases),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_domain_literals),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_max_addrs),
		cmocka_unit_test(test_long_inputs),
		cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
