/* test_addr: RFC 5321 path parsing, canonical form and formatting. */
#include "tu.h"

#include "mail/addr.h"

#define NB ADDR_F_NO_BRACKETS
#define NUL_OK ADDR_F_ALLOW_NULL
#define PM ADDR_F_ALLOW_POSTMASTER
#define U8 ADDR_F_UTF8

struct okcase {
	const char *in;
	unsigned flags;
	const char *local, *domain;
	int quoted, literal, utf8, null;
	const char *fmt;	/* addr_format output */
};

static const struct okcase ok_cases[] = {
	{ "<user@example.com>", 0, "user", "example.com", 0, 0, 0, 0, "user@example.com" },
	{ "<User.Name@Example.COM>", 0, "User.Name", "example.com", 0, 0, 0, 0,
	  "User.Name@example.com" },
	{ "<a@b>", 0, "a", "b", 0, 0, 0, 0, "a@b" },
	{ "<user@example.com.>", 0, "user", "example.com", 0, 0, 0, 0, "user@example.com" },
	{ "<x!#$%&'*+-/=?^_`{|}~y@d>", 0, "x!#$%&'*+-/=?^_`{|}~y", "d", 0, 0, 0, 0,
	  "x!#$%&'*+-/=?^_`{|}~y@d" },
	/* Open-relay tricks: routing never depends on the local part. */
	{ "<user%ext@local>", 0, "user%ext", "local", 0, 0, 0, 0, "user%ext@local" },
	{ "<ext!user@local>", 0, "ext!user", "local", 0, 0, 0, 0, "ext!user@local" },
	{ "<\"user@ext\"@local>", 0, "user@ext", "local", 1, 0, 0, 0, "\"user@ext\"@local" },
	{ "<\"user@ext\"@local.>", 0, "user@ext", "local", 1, 0, 0, 0, "\"user@ext\"@local" },
	{ "<@local:user@ext>", 0, "user", "ext", 0, 0, 0, 0, "user@ext" },
	{ "<@a,@b.c:user@ext>", 0, "user", "ext", 0, 0, 0, 0, "user@ext" },
	{ "<@[1.2.3.4],@b:user@ext>", 0, "user", "ext", 0, 0, 0, 0, "user@ext" },
	{ "<@[IPv6:::1]:u@d>", 0, "u", "d", 0, 0, 0, 0, "u@d" },
	/* Quoted strings: canonical unquoted form, re-quoted on output. */
	{ "<\"a b\"@d>", 0, "a b", "d", 1, 0, 0, 0, "\"a b\"@d" },
	{ "<\"abc\"@d>", 0, "abc", "d", 0, 0, 0, 0, "abc@d" },
	{ "<\"a\\\"b\"@d>", 0, "a\"b", "d", 1, 0, 0, 0, "\"a\\\"b\"@d" },
	{ "<\"a\\\\b\"@d>", 0, "a\\b", "d", 1, 0, 0, 0, "\"a\\\\b\"@d" },
	{ "<\"\\a\"@d>", 0, "a", "d", 0, 0, 0, 0, "a@d" },
	{ "<\"a..b\"@d>", 0, "a..b", "d", 1, 0, 0, 0, "\"a..b\"@d" },
	{ "<\".a\"@d>", 0, ".a", "d", 1, 0, 0, 0, "\".a\"@d" },
	{ "<\"\"@d>", 0, "", "d", 1, 0, 0, 0, "\"\"@d" },
	{ "<\"a>b\"@d>", 0, "a>b", "d", 1, 0, 0, 0, "\"a>b\"@d" },
	{ "<\"a,b:c\"@d>", 0, "a,b:c", "d", 1, 0, 0, 0, "\"a,b:c\"@d" },
	/* Domains. */
	{ "<u@a-b.c-d.e>", 0, "u", "a-b.c-d.e", 0, 0, 0, 0, "u@a-b.c-d.e" },
	{ "<u@under_score.example>", 0, "u", "under_score.example", 0, 0, 0, 0,
	  "u@under_score.example" },
	{ "<u@123.example>", 0, "u", "123.example", 0, 0, 0, 0, "u@123.example" },
	{ "<u@[127.0.0.1]>", 0, "u", "[127.0.0.1]", 0, 1, 0, 0, "u@[127.0.0.1]" },
	{ "<u@[IPv6:::1]>", 0, "u", "[IPv6:::1]", 0, 1, 0, 0, "u@[IPv6:::1]" },
	{ "<u@[ipv6:2001:DB8::1]>", 0, "u", "[IPv6:2001:db8::1]", 0, 1, 0, 0,
	  "u@[IPv6:2001:db8::1]" },
	{ "<u@[IPv6:::ffff:1.2.3.4]>", 0, "u", "[IPv6:::ffff:1.2.3.4]", 0, 1, 0, 0,
	  "u@[IPv6:::ffff:1.2.3.4]" },
	/* Null path and postmaster. */
	{ "<>", NUL_OK, "", "", 0, 0, 0, 1, "" },
	{ "", NB | NUL_OK, "", "", 0, 0, 0, 1, "" },
	{ "<postmaster>", PM, "postmaster", "", 0, 0, 0, 0, "postmaster" },
	{ "<PostMaster>", PM, "PostMaster", "", 0, 0, 0, 0, "PostMaster" },
	{ "<postmaster@Example.org>", PM, "postmaster", "example.org", 0, 0, 0, 0,
	  "postmaster@example.org" },
	{ "postmaster", NB | PM, "postmaster", "", 0, 0, 0, 0, "postmaster" },
	/* Bare mailboxes. */
	{ "user@example.com", NB, "user", "example.com", 0, 0, 0, 0, "user@example.com" },
	{ "\"x y\"@Z", NB, "x y", "z", 1, 0, 0, 0, "\"x y\"@z" },
	/* UTF-8 (RFC 6531) only when asked for. */
	{ "<j\xc3\xbcrgen@b\xc3\xbc" "cher.example>", U8, "j\xc3\xbcrgen",
	  "b\xc3\xbc" "cher.example", 0, 0, 1, 0, "j\xc3\xbcrgen@b\xc3\xbc" "cher.example" },
	{ "<\"\xe2\x82\xac x\"@d>", U8, "\xe2\x82\xac x", "d", 1, 0, 1, 0,
	  "\"\xe2\x82\xac x\"@d" },
	{ "<u@d>", U8, "u", "d", 0, 0, 0, 0, "u@d" },
	{ "<u\xf0\x9f\x98\x80@D>", U8, "u\xf0\x9f\x98\x80", "d", 0, 0, 1, 0,
	  "u\xf0\x9f\x98\x80@d" },
	/* Limits: exactly at the maximum. */
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@d>", 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "d", 0, 0, 0, 0,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@d" },
};

struct badcase {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	unsigned flags;
};

static const struct badcase bad_cases[] = {
	{ "", 0, 0 },
	{ "<", 0, 0 },
	{ ">", 0, 0 },
	{ "<>", 0, 0 },				/* null not allowed */
	{ "<>", 0, PM },
	{ "", 0, NB },
	{ "user@example.com", 0, 0 },		/* brackets required */
	{ "<user@example.com", 0, 0 },
	{ "user@example.com>", 0, 0 },
	{ "<user@example.com>>", 0, 0 },
	{ "<<user@example.com>", 0, 0 },
	{ "<user@example.com> ", 0, 0 },
	{ " <user@example.com>", 0, 0 },
	{ "<user>", 0, 0 },			/* no domain */
	{ "<postmaster>", 0, 0 },
	{ "<postmaster>", 0, NUL_OK },
	{ "<\"postmaster\">", 0, PM },
	{ "<@a:postmaster>", 0, PM },
	{ "<user@>", 0, 0 },
	{ "<@example.com>", 0, 0 },
	{ "<user@ext@local>", 0, 0 },
	{ "<user@@local>", 0, 0 },
	{ "<.user@d>", 0, 0 },
	{ "<user.@d>", 0, 0 },
	{ "<us..er@d>", 0, 0 },
	{ "<us er@d>", 0, 0 },
	{ "<us(er@d>", 0, 0 },
	{ "<us\\er@d>", 0, 0 },
	{ "<us\"er@d>", 0, 0 },
	{ "<\"user@d>", 0, 0 },			/* unbalanced quote */
	{ "<\"user\"x@d>", 0, 0 },
	{ "<\"us\\\"@d>", 0, 0 },
	{ "<\"\\", 0, 0 },
	{ "<u@d\r>", 0, 0 },
	{ "<u@d\n>", 0, 0 },
	{ "<u\r\n@d>", 0, 0 },
	{ "<u@d>\r\n", 0, 0 },
	{ "<u\0@d>", 6, 0 },			/* NUL */
	{ "<u@d\0>", 6, 0 },
	{ "<u\x01@d>", 0, 0 },
	{ "<u\x7f@d>", 0, 0 },
	{ "<u\t@d>", 0, 0 },
	{ "<\"u\x01\"@d>", 0, 0 },
	{ "<\"u\\\x01\"@d>", 0, 0 },
	{ "<\"u\\\r\"@d>", 0, 0 },
	{ "<\"u\r\n\"@d>", 0, 0 },
	/* Domains. */
	{ "<u@-a.b>", 0, 0 },
	{ "<u@a-.b>", 0, 0 },
	{ "<u@a.b->", 0, 0 },
	{ "<u@a..b>", 0, 0 },
	{ "<u@.a>", 0, 0 },
	{ "<u@.>", 0, 0 },
	{ "<u@a..>", 0, 0 },
	{ "<u@a b>", 0, 0 },
	{ "<u@a%b>", 0, 0 },
	{ "<u@a:b>", 0, 0 },
	{ "<u@a>b>", 0, 0 },
	{ "<u@a,b>", 0, 0 },
	{ "<u@[1.2.3.4>", 0, 0 },
	{ "<u@1.2.3.4]>", 0, 0 },
	{ "<u@[1.2.3]>", 0, 0 },
	{ "<u@[1.2.3.256]>", 0, 0 },
	{ "<u@[01.2.3.4]>", 0, 0 },
	{ "<u@[::1]>", 0, 0 },
	{ "<u@[IPv6:1.2.3.4]>", 0, 0 },
	{ "<u@[IPv6:::1%eth0]>", 0, 0 },
	{ "<u@[IPv6:]>", 0, 0 },
	{ "<u@[]>", 0, 0 },
	{ "<u@[x:y]>", 0, 0 },
	{ "<u@[1.2.3.4].x>", 0, 0 },
	{ "<u@[[1.2.3.4]]>", 0, 0 },
	/* Source routes. */
	{ "<@a>", 0, 0 },
	{ "<@a:>", 0, 0 },
	{ "<@a,b:u@d>", 0, 0 },
	{ "<@a;u@d>", 0, 0 },
	{ "<@:u@d>", 0, 0 },
	{ "<@-a:u@d>", 0, 0 },
	{ "<@a,:u@d>", 0, 0 },
	{ "<@[1.2.3.4:u@d>", 0, 0 },
	{ "@a:u@d", 0, NB },
	/* Non-ASCII without SMTPUTF8, and malformed UTF-8 with it. */
	{ "<j\xc3\xbcrgen@d>", 0, 0 },
	{ "<u@b\xc3\xbc" "cher>", 0, 0 },
	{ "<u\xc3@d>", 0, U8 },
	{ "<u\xc3\x28@d>", 0, U8 },
	{ "<u\xc0\xaf@d>", 0, U8 },		/* overlong */
	{ "<u\xe0\x80\xaf@d>", 0, U8 },		/* overlong */
	{ "<u\xed\xa0\x80@d>", 0, U8 },		/* surrogate */
	{ "<u\xf4\x90\x80\x80@d>", 0, U8 },	/* > U+10FFFF */
	{ "<u\xf5\x80\x80\x80@d>", 0, U8 },
	{ "<u\xff@d>", 0, U8 },
	{ "<u\x80@d>", 0, U8 },
	{ "<u\xc2\x85@d>", 0, U8 },		/* C1 control NEL */
	{ "<\"a\\\xc3\xbc\"@d>", 0, U8 },	/* quoted-pair is ASCII only */
	/* Length limits. */
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@d>", 0, 0 },
	{ "<\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"@d>", 0, 0 },
	{ "<u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b>", 0, 0 },
};

static void
check_ok(const struct okcase *c, size_t idx)
{
	struct mailaddr a;
	const char *err = NULL;
	char buf[600];
	int r;

	r = addr_parse_path(c->in, strlen(c->in), c->flags, &a, &err);
	if (r != 0)
		fail_msg("ok case %zu \"%s\": rejected (%s)", idx, c->in, err ? err : "?");
	if (strcmp(a.local, c->local) != 0 || strcmp(a.domain, c->domain) != 0)
		fail_msg("ok case %zu \"%s\": got local \"%s\" domain \"%s\"", idx, c->in,
		    a.local, a.domain);
	if (a.quoted != (c->quoted != 0) || a.literal != (c->literal != 0) ||
	    a.utf8 != (c->utf8 != 0) || a.null != (c->null != 0))
		fail_msg("ok case %zu \"%s\": flags q%d l%d u%d n%d", idx, c->in, a.quoted,
		    a.literal, a.utf8, a.null);
	r = addr_format(&a, buf, sizeof(buf));
	if (r < 0 || strcmp(buf, c->fmt) != 0 || (size_t)r != strlen(c->fmt))
		fail_msg("ok case %zu \"%s\": format \"%s\" (%d)", idx, c->in, buf, r);
}

static void
test_ok_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++)
		check_ok(&ok_cases[i], i);
}

static void
test_bad_table(void **state)
{
	struct mailaddr a;
	const char *err;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct badcase *c = &bad_cases[i];

		len = c->len ? c->len : strlen(c->in);
		err = NULL;
		if (addr_parse_path(c->in, len, c->flags, &a, &err) == 0)
			fail_msg("bad case %zu \"%s\": accepted as \"%s\" @ \"%s\"", i, c->in,
			    a.local, a.domain);
		if (err == NULL || *err == '\0')
			fail_msg("bad case %zu: no reason", i);
		/* A failed parse leaves nothing usable behind. */
		assert_string_equal(a.local, "");
		assert_string_equal(a.domain, "");
	}
}

/* Formatting the result and parsing it again gives the same address. */
static void
test_roundtrip(void **state)
{
	struct mailaddr a, b;
	char buf[600], path[610];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct okcase *c = &ok_cases[i];

		assert_int_equal(addr_parse_path(c->in, strlen(c->in), c->flags, &a, NULL), 0);
		n = addr_format(&a, buf, sizeof(buf));
		assert_true(n >= 0);
		snprintf(path, sizeof(path), "<%s>", buf);
		assert_int_equal(addr_parse_path(path, strlen(path), c->flags & ~NB, &b,
		    NULL), 0);
		assert_string_equal(a.local, b.local);
		assert_string_equal(a.domain, b.domain);
		assert_int_equal(a.quoted, b.quoted);
		assert_int_equal(a.null, b.null);
	}
}

/* The length limits are 64 for the local part and 255 for the domain. */
static void
test_limits(void **state)
{
	struct mailaddr a;
	char in[400];
	size_t n, i;

	(void)state;
	/* Domain of exactly 255 octets: labels of 63 separated by dots. */
	n = 0;
	in[n++] = '<';
	in[n++] = 'u';
	in[n++] = '@';
	for (i = 0; i < 255; i++)
		in[n++] = (i % 64 == 63) ? '.' : 'a';
	in[n++] = '>';
	assert_int_equal(addr_parse_path(in, n, 0, &a, NULL), 0);
	assert_int_equal(strlen(a.domain), 255);
	/* ...and with a trailing dot, which is stripped. */
	in[n - 1] = '.';
	in[n++] = '>';
	assert_int_equal(addr_parse_path(in, n, 0, &a, NULL), 0);
	assert_int_equal(strlen(a.domain), 255);
	/* 256 is too long, even with short labels. */
	n = 0;
	in[n++] = '<';
	in[n++] = 'u';
	in[n++] = '@';
	for (i = 0; i < 127; i++) {
		in[n++] = 'a';
		in[n++] = '.';
	}
	in[n++] = 'a';
	in[n++] = 'b';
	in[n++] = '>';
	assert_int_not_equal(addr_parse_path(in, n, 0, &a, NULL), 0);
	/* ...but 255 of them are fine. */
	in[n - 2] = '>';
	assert_int_equal(addr_parse_path(in, n - 1, 0, &a, NULL), 0);
	assert_int_equal(strlen(a.domain), 255);

	/* A 63-octet label is fine, 64 is not. */
	memset(in, 'a', sizeof(in));
	memcpy(in, "<u@", 3);
	in[3 + 63] = '>';
	assert_int_equal(addr_parse_path(in, 3 + 63 + 1, 0, &a, NULL), 0);
	in[3 + 63] = 'a';
	in[3 + 64] = '>';
	assert_int_not_equal(addr_parse_path(in, 3 + 64 + 1, 0, &a, NULL), 0);

	/* Quoted local part: 64 octets including the quotes. */
	n = 0;
	in[n++] = '<';
	in[n++] = '"';
	for (i = 0; i < 62; i++)
		in[n++] = 'q';
	in[n++] = '"';
	memcpy(in + n, "@d>", 3);
	n += 3;
	assert_int_equal(addr_parse_path(in, n, 0, &a, NULL), 0);
	assert_int_equal(strlen(a.local), 62);
}

/* Parsing never reads past len: the byte after the input is poison. */
static void
test_bounded(void **state)
{
	struct mailaddr a;
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const char *in = ok_cases[i].in;
		size_t n = strlen(in);
		char *p = malloc(n + 1);

		assert_non_null(p);
		memcpy(p, in, n);
		p[n] = '>';
		assert_int_equal(addr_parse_path(p, n, ok_cases[i].flags, &a, NULL), 0);
		/* Every strict prefix fails or parses without crashing. */
		for (size_t k = 0; k < n; k++)
			(void)addr_parse_path(p, k, ok_cases[i].flags, &a, NULL);
		free(p);
	}
	/* Format into buffers too small fails cleanly. */
	assert_int_equal(addr_parse_path("<user@example.com>", 18, 0, &a, NULL), 0);
	for (i = 0; i <= 16; i++)
		assert_int_equal(addr_format(&a, buf, i), -1);
	assert_int_equal(addr_format(&a, buf, 17), 16);
	assert_string_equal(buf, "user@example.com");
}

static void
test_format_special(void **state)
{
	struct mailaddr a;
	char buf[200];

	(void)state;
	memset(&a, 0, sizeof(a));
	a.null = true;
	assert_int_equal(addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* A struct filled by hand with control bytes is never formatted. */
	memset(&a, 0, sizeof(a));
	strlcpy(a.local, "a\r\nb", sizeof(a.local));
	strlcpy(a.domain, "d", sizeof(a.domain));
	assert_int_equal(addr_format(&a, buf, sizeof(buf)), -1);
	/* Local parts that are not Dot-strings get quoted. */
	strlcpy(a.local, "a b\"c\\d", sizeof(a.local));
	assert_int_equal(addr_format(&a, buf, sizeof(buf)), 13);
	assert_string_equal(buf, "\"a b\\\"c\\\\d\"@d");
	strlcpy(a.local, "", sizeof(a.local));
	assert_true(addr_format(&a, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "\"\"@d");
}

static void
test_path_span(void **state)
{
	static const struct {
		const char *in;
		size_t span;
	} t[] = {
		{ "<a@b>", 5 },
		{ "<a@b> SIZE=10", 5 },
		{ "<>", 2 },
		{ "<> BODY=8BITMIME", 2 },
		{ "<\"a>b\"@c> X", 9 },
		{ "<\"a\\\">\"@c>", 10 },
		{ "<\"a b\"@c>", 9 },
		{ "<a b@c>", 0 },
		{ "<a@b", 0 },
		{ "a@b>", 0 },
		{ "", 0 },
		{ "<", 0 },
		{ "<\"a>", 0 },
		{ "<\"a\\", 0 },
		{ "<a\r>", 0 },
		{ "<a\n>", 0 },
		{ "<<a>", 0 },
		{ "<@x:a@b>", 8 },
		{ "<a@[IPv6:::1]> Z", 14 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (addr_path_span(t[i].in, strlen(t[i].in)) != t[i].span)
			fail_msg("span case %zu \"%s\": %zu", i, t[i].in,
			    addr_path_span(t[i].in, strlen(t[i].in)));
	/* Bounded: the closing '>' just past len is not seen. */
	assert_int_equal(addr_path_span("<a@b>", 4), 0);
	assert_int_equal(addr_path_span("<a\0>", 4), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_table),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_format_special),
		cmocka_unit_test(test_path_span),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
