/* Unit tests for src/users/passwd_file. */
#include "tu.h"

#include "lib/util.h"
#include "users/passwd_file.h"

#define PATH "/etc/estafeta/passwd"

/* "user|password|uid|gid|home|extra|line\n" per user, in stored order. */
static char *
dump(const struct pwf *p)
{
	char *out = xstrdup("");

	for (size_t i = 0; i < p->nusers; i++) {
		const struct pwf_user *u = &p->users[i];
		char *n = xasprintf("%s%s|%s|%ld|%ld|%s|%s|%u\n", out, u->user, u->password,
		    u->uid, u->gid, u->home, u->extra, u->line);
		free(out);
		out = n;
	}
	return out;
}

static void
check_str(size_t idx, const char *what, const char *got, const char *want)
{
	if (got == NULL || want == NULL || strcmp(got, want) != 0) {
		print_error("case %zu (%s):\n got: [%s]\nwant: [%s]\n", idx, what,
		    got != NULL ? got : "(null)", want != NULL ? want : "(null)");
		fail();
	}
}

static const struct {
	const char *in;
	const char *dump;
} ok_cases[] = {
	{ "", "" },
	{ "# comment\n\n  \n\t# indented\n", "" },
	{ "bob:{PLAIN}secret:1000:100::/home/bob:/bin/sh:userdb_quota_rule=*:storage=1G\n",
	  "bob|{PLAIN}secret|1000|100|/home/bob|userdb_quota_rule=*:storage=1G|1\n" },
	{ "Alice@Example.COM:{SHA512-CRYPT}$6$salt$hash\n",
	  "alice@example.com|{SHA512-CRYPT}$6$salt$hash|-1|-1|||1\n" },
	{ "bob", "bob||-1|-1|||1\n" },
	{ "bob:\r\n", "bob||-1|-1|||1\n" },
	{ "u:p:0:0", "u|p|0|0|||1\n" },
	{ "u:p:4294967294:0000000042", "u|p|4294967294|42|||1\n" },
	{ "u::::::", "u||-1|-1|||1\n" },
	{ "u:::::::", "u||-1|-1|||1\n" },
	{ "u:::::/h::a b c", "u||-1|-1|/h|a b c|1\n" },
	/* gecos can't hold ':': the rest shifts into home */
	{ "u:pw:::gecos, with: colon?", "u|pw|-1|-1| colon?||1\n" },
	{ "u:pw with space:::Full Name:/home/u", "u|pw with space|-1|-1|/home/u||1\n" },
	/* sorted; comments and blank lines keep the line numbers right */
	{ "# users\nzed:z\n\nAmy:a\r\n  # x\nmid@dom:m",
	  "amy|a|-1|-1|||4\nmid@dom|m|-1|-1|||6\nzed|z|-1|-1|||2\n" },
	{ "u:\xc3\xa9t\xc3\xa9", "u|\xc3\xa9t\xc3\xa9|-1|-1|||1\n" },
};

static void
test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		char *err = (char *)1, *d;
		struct pwf *p;

		p = pwf_parse(ok_cases[i].in, strlen(ok_cases[i].in), PATH, &err);
		if (p == NULL)
			check_str(i, "parse", err, "(success)");
		assert_null(err);
		assert_string_equal(p->path, PATH);
		d = dump(p);
		check_str(i, "dump", d, ok_cases[i].dump);
		free(d);
		pwf_free(&p);
		assert_null(p);
	}
}

static const struct {
	const char *in;
	const char *err;
} err_cases[] = {
	{ "bob:x:abc\n", PATH ":1: invalid uid 'abc'" },
	{ "bob:x:-1\n", PATH ":1: invalid uid '-1'" },
	{ "bob:x: 1\n", PATH ":1: invalid uid ' 1'" },
	{ "bob:x:1 \n", PATH ":1: invalid uid '1 '" },
	{ "bob:x:0x10\n", PATH ":1: invalid uid '0x10'" },
	{ "bob:x:4294967295\n", PATH ":1: invalid uid '4294967295'" },
	{ "bob:x:99999999999\n", PATH ":1: invalid uid '99999999999'" },
	{ "bob:x:1:+2\n", PATH ":1: invalid gid '+2'" },
	{ "bob:x:1:2x\n", PATH ":1: invalid gid '2x'" },
	{ "ok:x\nbob:x:1:mail\n", PATH ":2: invalid gid 'mail'" },
	{ ":x:1\n", PATH ":1: missing user name" },
	{ ":\n", PATH ":1: missing user name" },
	{ "bo b:x\n", PATH ":1: invalid user name 'bo b'" },
	{ " bob:x\n", PATH ":1: invalid user name ' bob'" },
	{ "@dom:x\n", PATH ":1: invalid user name '@dom'" },
	{ "bob@:x\n", PATH ":1: invalid user name 'bob@'" },
	{ "a@b@c:x\n", PATH ":1: invalid user name 'a@b@c'" },
	{ "\"bob\":x\n", PATH ":1: invalid user name '\"bob\"'" },
	{ "bob:x\x01\n", PATH ":1: control character 0x01" },
	{ "bob:x\tz\n", PATH ":1: control character 0x09" },
	{ "bob:x\rz\n", PATH ":1: control character 0x0d" },
	{ "bob:x\x7f\n", PATH ":1: control character 0x7f" },
	{ "ok\n# comment\x02\n", PATH ":2: control character 0x02" },
	{ "ok\n \x1b\n", PATH ":2: control character 0x1b" },
	{ "bob:x\nalice:y\nBOB:z\n", PATH ":3: duplicate user 'bob' (first on line 1)" },
	{ "a\nb\nb\na\na\n", PATH ":3: duplicate user 'b' (first on line 2)" },
	{ "z\na\nZ\nA\n", PATH ":3: duplicate user 'z' (first on line 1)" },
	{ "u@d:x\nU@D:y\n", PATH ":2: duplicate user 'u@d' (first on line 1)" },
};

static void
test_parse_err(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		char *err = NULL;
		struct pwf *p = pwf_parse(err_cases[i].in, strlen(err_cases[i].in), PATH, &err);

		if (p != NULL)
			pwf_free(&p);
		check_str(i, "error", err, err_cases[i].err);
		free(err);
	}
}

static void
test_parse_edges(void **state)
{
	static const char nul[] = "a:x\nb:y\0z\n";
	char *err = NULL, *line;
	struct pwf *p;

	(void)state;
	p = pwf_parse(nul, sizeof(nul) - 1, PATH, &err);
	assert_null(p);
	assert_string_equal(err, PATH ":2: NUL byte");
	free(err);

	/* 4096 bytes is the longest line. */
	line = xmalloc(4200);
	memset(line, 'x', 4096);
	memcpy(line, "u:", 2);
	memcpy(line + 4096, "\n", 2);
	p = pwf_parse(line, strlen(line), PATH, &err);
	assert_non_null(p);
	assert_int_equal(strlen(p->users[0].password), 4094);
	pwf_free(&p);
	memcpy(line + 4096, "x\n", 3);
	p = pwf_parse(line, strlen(line), PATH, &err);
	assert_null(p);
	assert_string_equal(err, PATH ":1: line too long (more than 4096 bytes)");
	free(err);
	/* an over-long comment is still an error: the reader is bounded */
	line[0] = '#';
	p = pwf_parse(line, strlen(line), PATH, &err);
	assert_null(p);
	free(err);
	free(line);

	p = pwf_parse(NULL, 0, NULL, NULL);
	assert_non_null(p);
	assert_int_equal(p->nusers, 0);
	assert_string_equal(p->path, "-");
	assert_null(pwf_lookup(p, "x"));
	pwf_free(&p);
	assert_null(pwf_parse("a:b:c", 5, NULL, NULL));
	p = pwf_parse("a:b:c", 5, NULL, &err);
	assert_null(p);
	assert_string_equal(err, "-:1: invalid uid 'c'");
	free(err);
	pwf_free(NULL);
	pwf_free(&p);
}

static void
test_lookup(void **state)
{
	static const char in[] = "bob:x:1000:100\nBob@Example.com:y\nalice:z\n";
	const struct pwf_user *u;
	struct pwf *p;
	char *big, *err = NULL;
	size_t off = 0;

	(void)state;
	p = pwf_parse(in, sizeof(in) - 1, PATH, &err);
	assert_non_null(p);
	u = pwf_lookup(p, "BOB");
	assert_non_null(u);
	assert_string_equal(u->user, "bob");
	assert_string_equal(u->password, "x");
	assert_int_equal(u->uid, 1000);
	assert_int_equal(u->gid, 100);
	assert_int_equal(u->line, 1);
	u = pwf_lookup(p, "bob@EXAMPLE.com");
	assert_non_null(u);
	assert_string_equal(u->password, "y");
	/* exact: no domain stripping, no prefix matches */
	assert_null(pwf_lookup(p, "alice@example.com"));
	assert_null(pwf_lookup(p, "bo"));
	assert_null(pwf_lookup(p, "bobb"));
	assert_null(pwf_lookup(p, ""));
	assert_null(pwf_lookup(p, NULL));
	assert_null(pwf_lookup(NULL, "bob"));
	assert_non_null(pwf_lookup(p, "ALICE"));
	pwf_free(&p);

	/* Many users in scrambled order. */
	big = xmalloc(1000 * 32);
	for (unsigned i = 0; i < 1000; i++)
		off += (size_t)snprintf(big + off, 32, "User%u:pw%u:%u\n", (i * 7919u) % 1000,
		    i, i);
	p = pwf_parse(big, off, PATH, &err);
	assert_non_null(p);
	assert_int_equal(p->nusers, 1000);
	for (size_t i = 1; i < p->nusers; i++)
		assert_true(strcmp(p->users[i - 1].user, p->users[i].user) < 0);
	for (unsigned i = 0; i < 1000; i++) {
		char n[32];
		snprintf(n, sizeof(n), "USER%u", i);
		u = pwf_lookup(p, n);
		assert_non_null(u);
		snprintf(n, sizeof(n), "user%u", i);
		assert_string_equal(u->user, n);
		assert_int_equal(u->uid, (long)u->line - 1);
		snprintf(n, sizeof(n), "user%u0000", i);
		assert_null(pwf_lookup(p, n));
	}
	pwf_free(&p);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_err),
		cmocka_unit_test(test_parse_edges),
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
