/* Unit tests for src/aliases: parsing, lookup and expansion. */
#include "tu.h"

#include "aliases/aliases.h"
#include "lib/util.h"

#define PATH "/etc/aliases"

/* A growable string for building dumps and generated inputs. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void
sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

static void
sb_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_addf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_add(b, tmp);
}

static char
kind_char(enum alias_kind k)
{
	switch (k) {
	case ALIAS_ADDR:
		return 'A';
	case ALIAS_FILE:
		return 'F';
	case ALIAS_PIPE:
		return 'P';
	case ALIAS_INCLUDE:
		return 'I';
	}
	return '?';
}

/* "name:line\n K value\n..." for every entry, in stored order. */
static char *
dump_aliases(const struct aliases *a)
{
	struct sbuf b = { 0 };

	sb_add(&b, "");
	for (size_t i = 0; i < a->nentries; i++) {
		const struct alias_entry *e = &a->entries[i];
		sb_addf(&b, "%s:%u\n", e->name, e->line);
		for (size_t j = 0; j < e->ntargets; j++)
			sb_addf(&b, " %c %s\n", kind_char(e->targets[j].kind), e->targets[j].value);
	}
	return b.s;
}

static char *
dump_targets(const struct alias_target *t, size_t n)
{
	struct sbuf b = { 0 };

	sb_add(&b, "");
	for (size_t i = 0; i < n; i++)
		sb_addf(&b, "%c %s\n", kind_char(t[i].kind), t[i].value);
	return b.s;
}

static char *
dump_result(const struct alias_result *r)
{
	static const char kc[] = { 'L', 'R', 'F', 'P' };
	struct sbuf b = { 0 };

	sb_add(&b, "");
	for (size_t i = 0; i < r->ndests; i++) {
		const struct alias_dest *d = &r->dests[i];
		if (i > 0)
			sb_add(&b, "\n");
		if (d->kind == DEST_FILE || d->kind == DEST_PIPE)
			sb_addf(&b, "%c:%s:%u:%u", kc[d->kind], d->value, (unsigned)d->uid,
			    (unsigned)d->gid);
		else
			sb_addf(&b, "%c:%s", kc[d->kind], d->value);
	}
	return b.s;
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

/* ---- parsing ---- */

static const struct {
	const char *in;
	const char *dump;
} parse_ok[] = {
	{ "", "" },
	{ "# only a comment\n\n   \n\t# indented comment\n", "" },
	{ "root: admin\n", "root:1\n A admin\n" },
	{ "root: admin", "root:1\n A admin\n" },
	{ "root: admin\r\n", "root:1\n A admin\n" },
	{ "root:admin", "root:1\n A admin\n" },
	{ "root  :   admin   \n", "root:1\n A admin\n" },
	{ "ROOT: Admin\n", "root:1\n A Admin\n" },
	{ "staff: a ,b,  c@example.com ,\n",
	  "staff:1\n A a\n A b\n A c@example.com\n" },
	{ "staff: ,,a,,\n", "staff:1\n A a\n" },
	/* continuation lines, with and without commas */
	{ "list: a,\n  b,\n\tc\n", "list:1\n A a\n A b\n A c\n" },
	{ "list: a\n b\n", "list:1\n A a\n A b\n" },
	{ "list:\n  a\n", "list:1\n A a\n" },
	/* a comment inside an entry does not end it */
	{ "# head\nroot: a,\n# between\n  b\nx: y\n", "root:2\n A a\n A b\nx:5\n A y\n" },
	{ "  # indented first\nroot: a\n", "root:2\n A a\n" },
	/* blank line between entries */
	{ "a: x\n\nb: y\n", "a:1\n A x\nb:3\n A y\n" },
	/* quoted names and targets */
	{ "\"Foo Bar\": x\n", "foo bar:1\n A x\n" },
	{ "\"a:b\" : x\n", "a:b:1\n A x\n" },
	{ "p: \"|/usr/bin/foo arg\"\n", "p:1\n P /usr/bin/foo arg\n" },
	{ "p: \"|/bin/sh -c \\\"x\\\" \\\\\"\n", "p:1\n P /bin/sh -c \"x\" \\\n" },
	{ "p: |/usr/bin/foo arg, b\n", "p:1\n P /usr/bin/foo arg\n A b\n" },
	{ "p: | /bin/x\n", "p:1\n P /bin/x\n" },
	{ "p: |/bin/echo \"hi\"\n", "p:1\n P /bin/echo \"hi\"\n" },
	{ "a: \"foo bar\"\n", "a:1\n A foo bar\n" },
	{ "a: \"x,y\" , z\n", "a:1\n A x,y\n A z\n" },
	{ "a: \"\\\"q\\\"\"\n", "a:1\n A \"q\"\n" },
	/* files and includes */
	{ "f: /var/mail/f, \"/tmp/with space\", /var/maildir/\n",
	  "f:1\n F /var/mail/f\n F /tmp/with space\n F /var/maildir/\n" },
	{ "i: :include:/etc/mail/list, :INCLUDE: /x\n",
	  "i:1\n I /etc/mail/list\n I /x\n" },
	{ "i: \":include:/with space\"\n", "i:1\n I /with space\n" },
	/* addresses */
	{ "a: <u@example.com>, <v>\n", "a:1\n A u@example.com\n A v\n" },
	{ "a: u@[192.0.2.1]\n", "a:1\n A u@[192.0.2.1]\n" },
	{ "a: b#c, d+ext@x.org\n", "a:1\n A b#c\n A d+ext@x.org\n" },
	/* sorted by name */
	{ "zeta: z\nalpha: a\nMid: m\n", "alpha:2\n A a\nmid:3\n A m\nzeta:1\n A z\n" },
	{ "root: root, admin\n", "root:1\n A root\n A admin\n" },
	{ "a: \xc3\xa9t\xc3\xa9\n", "a:1\n A \xc3\xa9t\xc3\xa9\n" },
};

static void
test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_ok) / sizeof(parse_ok[0]); i++) {
		char *err = (char *)1, *warn = (char *)1, *d;
		struct aliases *a;

		a = aliases_parse(parse_ok[i].in, strlen(parse_ok[i].in), PATH, &err, &warn);
		if (a == NULL)
			check_str(i, "parse", err, "(success)");
		assert_null(err);
		assert_null(warn);
		assert_string_equal(a->path, PATH);
		d = dump_aliases(a);
		check_str(i, "dump", d, parse_ok[i].dump);
		free(d);
		aliases_free(&a);
		assert_null(a);
	}
}

static const struct {
	const char *in;
	const char *err;
} parse_err[] = {
	{ "root admin\n", PATH ":1: missing ':' after alias name" },
	{ "root\n", PATH ":1: missing ':' after alias name" },
	{ "a: b\nc d\n", PATH ":2: missing ':' after alias name" },
	{ "a\n  : b\n", PATH ":1: missing ':' after alias name" },
	{ "\"x\"y: b\n", PATH ":1: missing ':' after alias name" },
	{ "a: b\n\n  c\n", PATH ":3: continuation line without an alias name" },
	{ "  a: b\n", PATH ":1: continuation line without an alias name" },
	{ "a:\n", PATH ":1: no targets for alias 'a'" },
	{ "a: , ,\n  ,\n", PATH ":1: no targets for alias 'a'" },
	{ ": b\n", PATH ":1: empty alias name" },
	{ "\"\": b\n", PATH ":1: empty alias name" },
	{ "a@b: c\n", PATH ":1: invalid character '@' in alias name 'a@b'" },
	{ "a,b: c\n", PATH ":1: invalid character ',' in alias name 'a,b'" },
	{ "a: b\x01\n", PATH ":1: control character 0x01" },
	{ "a: b\n# x\x1b\n", PATH ":2: control character 0x1b" },
	{ "a: b\x7f\n", PATH ":1: control character 0x7f" },
	{ "a: b\rc\n", PATH ":1: control character 0x0d" },
	{ "a: \"|cmd\n", PATH ":1: unterminated quoted string" },
	{ "a: \"|cmd\\\n", PATH ":1: unterminated quoted string" },
	{ "a: \"|cmd\n  arg\"\n", PATH ":1: unterminated quoted string" },
	{ "x: y\n\"unterminated: z\n", PATH ":2: unterminated quoted string" },
	{ "a: \"|cmd\" x\n", PATH ":1: unexpected text after quoted target" },
	{ "a: \"odd@local\"@x\n", PATH ":1: unexpected text after quoted target" },
	{ "a: |\n", PATH ":1: empty command after '|'" },
	{ "a: \"|  \"\n", PATH ":1: empty command after '|'" },
	{ "a: :include:\n", PATH ":1: missing path after :include:" },
	{ "a: :include:etc/x\n", PATH ":1: relative :include: path 'etc/x'" },
	{ "a: :include:/a b\n", PATH ":1: whitespace in :include: path '/a b' (quote it)" },
	{ "a: mail/box\n", PATH ":1: relative path 'mail/box' (file targets must be absolute)" },
	{ "a: ./box\n", PATH ":1: relative path './box' (file targets must be absolute)" },
	{ "a: ~/box\n", PATH ":1: relative path '~/box' (file targets must be absolute)" },
	{ "a: \"x/y\"\n", PATH ":1: relative path 'x/y' (file targets must be absolute)" },
	{ "a: /a b\n", PATH ":1: whitespace in file name '/a b' (quote it)" },
	{ "a: b c\n", PATH ":1: whitespace in address 'b c' (missing comma?)" },
	{ "a: b # comment\n", PATH ":1: whitespace in address 'b # comment' (missing comma?)" },
	{ "a: <b@c\n", PATH ":1: missing '>' in '<b@c'" },
	{ "a: <\n", PATH ":1: missing '>' in '<'" },
	{ "a: <>\n", PATH ":1: empty address" },
	{ "a: \"\"\n", PATH ":1: empty address" },
	{ "a: @c\n", PATH ":1: empty local part in '@c'" },
	{ "a: b@\n", PATH ":1: empty domain in 'b@'" },
	{ "a: b@c@d\n", PATH ":1: more than one '@' in 'b@c@d'" },
	{ "a: b:c\n", PATH ":1: invalid character ':' in address 'b:c'" },
	{ "a: :incude:/x\n", PATH ":1: invalid character ':' in address ':incude:/x'" },
	{ "a: b<c\n", PATH ":1: invalid character '<' in address 'b<c'" },
	{ "a: b\"c\"\n", PATH ":1: invalid character '\"' in address 'b\"c\"'" },
	/* the error names the line of the bad target, not of the entry */
	{ "a: b,\n  c,\n  d e\n", PATH ":3: whitespace in address 'd e' (missing comma?)" },
	{ "a: b,\n# c\n\n\n  d\n", PATH ":5: continuation line without an alias name" },
	{ "ok: x\nbad: y/z\n", PATH ":2: relative path 'y/z' (file targets must be absolute)" },
};

static void
test_parse_err(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_err) / sizeof(parse_err[0]); i++) {
		char *err = NULL, *warn = (char *)1;
		struct aliases *a;

		a = aliases_parse(parse_err[i].in, strlen(parse_err[i].in), PATH, &err, &warn);
		if (a != NULL)
			aliases_free(&a);
		check_str(i, "error", err, parse_err[i].err);
		assert_null(warn);
		free(err);
	}
}

static void
test_parse_nul_and_length(void **state)
{
	static const char nul[] = "a: b\nc: d\0e\n";
	char *err = NULL, *line;
	struct aliases *a;
	size_t n;

	(void)state;
	a = aliases_parse(nul, sizeof(nul) - 1, PATH, &err, NULL);
	assert_null(a);
	assert_string_equal(err, PATH ":2: NUL byte");
	free(err);

	/* Exactly 4096 bytes is fine, 4097 is not; "\r\n" does not count. */
	line = xmalloc(4200);
	memcpy(line, "a: ", 3);
	memset(line + 3, 'x', 4096 - 3);
	memcpy(line + 4096, "\r\n", 3);
	a = aliases_parse(line, 4098, PATH, &err, NULL);
	assert_non_null(a);
	assert_int_equal(strlen(a->entries[0].targets[0].value), 4093);
	aliases_free(&a);
	line[4096] = 'x';
	memcpy(line + 4097, "\n", 2);
	n = strlen(line);
	a = aliases_parse(line, n, PATH, &err, NULL);
	assert_null(a);
	assert_string_equal(err, PATH ":1: line too long (more than 4096 bytes)");
	free(err);
	/* also on a later line, and without a final newline */
	memcpy(line, "a: b\n  ", 7);
	memset(line + 7, 'y', 4096);
	line[4096 + 7] = '\0';
	a = aliases_parse(line, strlen(line), PATH, &err, NULL);
	assert_null(a);
	assert_string_equal(err, PATH ":2: line too long (more than 4096 bytes)");
	free(err);
	free(line);

	/* NULL text, NULL path and NULL error pointer are tolerated. */
	a = aliases_parse(NULL, 0, NULL, NULL, NULL);
	assert_non_null(a);
	assert_int_equal(a->nentries, 0);
	assert_string_equal(a->path, "-");
	aliases_free(&a);
	a = aliases_parse("x y", 3, NULL, NULL, NULL);
	assert_null(a);
	a = aliases_parse("x y", 3, NULL, &err, NULL);
	assert_string_equal(err, "-:1: missing ':' after alias name");
	free(err);
	aliases_free(&a);
	aliases_free(NULL);
}

static void
test_parse_duplicates(void **state)
{
	static const char in[] = "a: x\nb: y\na: z\nA: w\n\nc: q\nb: r\n";
	char *err = NULL, *warn = NULL, *d;
	struct aliases *a;

	(void)state;
	a = aliases_parse(in, sizeof(in) - 1, PATH, &err, &warn);
	assert_non_null(a);
	assert_null(err);
	d = dump_aliases(a);
	assert_string_equal(d, "a:4\n A w\nb:7\n A r\nc:6\n A q\n");
	free(d);
	assert_string_equal(warn,
	    PATH ":3: duplicate alias 'a' overrides line 1\n"
	    PATH ":4: duplicate alias 'a' overrides line 3\n"
	    PATH ":7: duplicate alias 'b' overrides line 2");
	free(warn);
	aliases_free(&a);

	/* Without a place for warnings they are dropped, not leaked. */
	a = aliases_parse(in, sizeof(in) - 1, PATH, &err, NULL);
	assert_non_null(a);
	assert_int_equal(a->nentries, 3);
	aliases_free(&a);
}

/* ---- include lists ---- */

static const struct {
	const char *in;
	const char *dump;	/* NULL: expect err */
	const char *err;
} list_cases[] = {
	{ "", "", NULL },
	{ "# nothing\n\n", "", NULL },
	{ "a, b\n# comment\n  c\n\"|cmd x\"\n:include:/y\n/f\n",
	  "A a\nA b\nA c\nP cmd x\nI /y\nF /f\n", NULL },
	{ "a,\nb,,\n", "A a\nA b\n", NULL },
	{ "u@Example.com\r\n<v@x>", "A u@Example.com\nA v@x\n", NULL },
	{ "a\nb c\n", NULL, "/inc:2: whitespace in address 'b c' (missing comma?)" },
	{ "a\n\n\"x\n", NULL, "/inc:3: unterminated quoted string" },
	{ "a\x02\n", NULL, "/inc:1: control character 0x02" },
	{ "name: target\n", NULL, "/inc:1: invalid character ':' in address 'name: target'" },
	{ "rel/path\n", NULL, "/inc:1: relative path 'rel/path' (file targets must be absolute)" },
};

static void
test_parse_list(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		struct alias_target *t = (struct alias_target *)1;
		size_t n = 99;
		char *err = (char *)1, *d;
		int rc;

		rc = aliases_parse_list(list_cases[i].in, strlen(list_cases[i].in), "/inc", &t,
		    &n, &err);
		if (list_cases[i].dump != NULL) {
			if (rc != 0)
				check_str(i, "list", err, "(success)");
			assert_null(err);
			d = dump_targets(t, n);
			check_str(i, "list", d, list_cases[i].dump);
			free(d);
			alias_targets_free(t, n);
		} else {
			assert_int_equal(rc, -1);
			assert_null(t);
			assert_int_equal(n, 0);
			check_str(i, "list error", err, list_cases[i].err);
			free(err);
		}
	}
	/* NUL inside an include file */
	{
		struct alias_target *t;
		size_t n;
		char *err;
		assert_int_equal(aliases_parse_list("a\0b", 3, "/inc", &t, &n, &err), -1);
		assert_string_equal(err, "/inc:1: NUL byte");
		free(err);
		alias_targets_free(NULL, 0);
	}
}

/* ---- lookup ---- */

static void
test_lookup(void **state)
{
	static const char in[] = "root: a\nPostmaster: root\nmailer-daemon: postmaster\n"
	    "\"Odd Name\": x\n";
	struct aliases *a;
	struct sbuf b = { 0 };
	const struct alias_entry *e;

	(void)state;
	a = aliases_parse(in, sizeof(in) - 1, PATH, NULL, NULL);
	assert_non_null(a);
	e = aliases_lookup(a, "postmaster");
	assert_non_null(e);
	assert_string_equal(e->name, "postmaster");
	assert_int_equal(e->line, 2);
	assert_ptr_equal(aliases_lookup(a, "POSTMASTER"), e);
	assert_ptr_equal(aliases_lookup(a, "PostMaster"), e);
	assert_non_null(aliases_lookup(a, "odd name"));
	assert_non_null(aliases_lookup(a, "ODD NAME"));
	assert_null(aliases_lookup(a, "post"));
	assert_null(aliases_lookup(a, "postmasters"));
	assert_null(aliases_lookup(a, ""));
	assert_null(aliases_lookup(a, "zzz"));
	assert_null(aliases_lookup(a, "0"));
	assert_null(aliases_lookup(a, NULL));
	assert_null(aliases_lookup(NULL, "root"));
	aliases_free(&a);

	/* Many names in scrambled order: every one found, neighbours not. */
	sb_add(&b, "");
	for (unsigned i = 0; i < 500; i++)
		sb_addf(&b, "User%u: t%u\n", (i * 7919u) % 500, i);
	a = aliases_parse(b.s, b.len, PATH, NULL, NULL);
	assert_non_null(a);
	assert_int_equal(a->nentries, 500);
	for (size_t i = 1; i < a->nentries; i++)
		assert_true(strcmp(a->entries[i - 1].name, a->entries[i].name) < 0);
	for (unsigned i = 0; i < 500; i++) {
		char n[32];
		snprintf(n, sizeof(n), "USER%u", i);
		e = aliases_lookup(a, n);
		assert_non_null(e);
		snprintf(n, sizeof(n), "user%u", i);
		assert_string_equal(e->name, n);
		snprintf(n, sizeof(n), "user%ux", i);
		assert_null(aliases_lookup(a, n));
	}
	aliases_free(&a);
	free(b.s);
}

/* ---- expansion ---- */

struct fake_inc {
	const char *path;
	const char *data;
	uid_t uid;
	gid_t gid;
};

static const struct fake_inc fake_incs[] = {
	{ "/inc/staff", "u1, u2\n/var/log/x\n\"|/bin/y z\"\n", 2000, 200 },
	{ "/inc/root", "r1\n/var/r\n", 0, 0 },
	{ "/inc/nogid", "|/bin/n\n", 3000, 0 },
	{ "/inc/refs", "b, /g\n", 2000, 200 },
	{ "/inc/loop", ":include:/inc/loop, z\n", 2000, 200 },
	{ "/inc/ping", ":include:/inc/pong\nping\n", 2000, 200 },
	{ "/inc/pong", ":include:/inc/ping\npong\n", 2000, 200 },
	{ "/inc/self", "a, b\n", 2000, 200 },
	{ "/inc/bad", "ok\nx y\n", 2000, 200 },
	{ "/inc/empty", "# nobody\n", 2000, 200 },
	{ "/inc/remote", "x@Remote.Org, y@example.com\n", 2000, 200 },
	{ "/inc/pipe", "|/bin/same\n", 2000, 200 },
};

struct fake {
	int reads;
};

static bool
fake_local(void *ctx, const char *domain)
{
	(void)ctx;
	return strcmp(domain, "example.com") == 0 || strcmp(domain, "localhost") == 0;
}

/* Fixed files above, plus generated ones: /many/N holds "mN", /chain/N
 * includes /chain/N+1. */
static int
fake_read(void *ctx, const char *path, char **data_r, size_t *len_r, uid_t *owner_r,
    gid_t *gid_r, const char **error_r)
{
	struct fake *f = ctx;
	unsigned n;

	f->reads++;
	*owner_r = 2000;
	*gid_r = 200;
	if (sscanf(path, "/many/%u", &n) == 1) {
		*data_r = xasprintf("m%u\n", n);
		*len_r = strlen(*data_r);
		return 0;
	}
	if (sscanf(path, "/chain/%u", &n) == 1) {
		*data_r = xasprintf(":include:/chain/%u\n", n + 1);
		*len_r = strlen(*data_r);
		return 0;
	}
	for (size_t i = 0; i < sizeof(fake_incs) / sizeof(fake_incs[0]); i++) {
		if (strcmp(fake_incs[i].path, path) == 0) {
			*data_r = xstrdup(fake_incs[i].data);
			*len_r = strlen(*data_r);
			*owner_r = fake_incs[i].uid;
			*gid_r = fake_incs[i].gid;
			return 0;
		}
	}
	*error_r = "no such include file";
	return -1;
}

static const struct {
	const char *aliases;
	uid_t owner;
	gid_t group;
	const char *name;
	const char *want;	/* NULL: expect err */
	const char *err;
} expand_cases[] = {
	/* not an alias */
	{ "root: admin\n", 0, 0, "bob", "L:bob", NULL },
	{ "", 0, 0, "bob", "L:bob", NULL },
	{ "root: admin\n", 0, 0, "root", "L:admin", NULL },
	{ "root: admin\n", 0, 0, "ROOT", "L:admin", NULL },
	{ "root: Admin\n", 0, 0, "root", "L:admin", NULL },
	/* self reference delivers to the user of that name */
	{ "root: root, admin\n", 0, 0, "root", "L:root\nL:admin", NULL },
	{ "a: a\n", 0, 0, "a", "L:a", NULL },
	{ "root: admin\nadmin: root, ops\n", 0, 0, "root", "L:root\nL:ops", NULL },
	/* mutual loops end at the name where they close */
	{ "a: b\nb: a\n", 0, 0, "a", "L:a", NULL },
	{ "a: b\nb: a\n", 0, 0, "b", "L:b", NULL },
	{ "a: b, x\nb: c\nc: a, y\n", 0, 0, "a", "L:a\nL:y\nL:x", NULL },
	{ "x: y, z\ny: z\nz: y, w\n", 0, 0, "x", "L:y\nL:w\nL:z", NULL },
	/* nested lists and dedupe */
	{ "all: a, b\na: u, v\nb: v, u, U\n", 0, 0, "all", "L:u\nL:v", NULL },
	{ "all: a, a, a\na: u\n", 0, 0, "all", "L:u", NULL },
	{ "all: ops, dev\nops: joe, /var/log/ops\ndev: joe, /var/log/ops, |/bin/x\n", 0, 0,
	  "all", "L:joe\nF:/var/log/ops:65534:65534\nP:/bin/x:65534:65534", NULL },
	/* remote targets; our own domains expand locally */
	{ "a: x@remote.org, Y@Remote.ORG\n", 0, 0, "a", "R:x@remote.org\nR:Y@remote.org", NULL },
	{ "a: x@r.org, x@R.ORG, <x@r.org>\n", 0, 0, "a", "R:x@r.org", NULL },
	{ "a: b@example.com\nb: C@LOCALHOST\n", 0, 0, "a", "L:c", NULL },
	{ "a: Bob@Example.com\n", 0, 0, "a", "L:bob", NULL },
	{ "a: a@example.com, b\n", 0, 0, "a", "L:a\nL:b", NULL },
	{ "a: u+ext@example.com\n", 0, 0, "a", "L:u+ext", NULL },
	{ "a: \"j doe\"\n", 0, 0, "a", "L:j doe", NULL },
	{ "a: u@[192.0.2.1]\n", 0, 0, "a", "R:u@[192.0.2.1]", NULL },
	/* file and pipe ownership: never root */
	{ "a: /var/f, |/bin/x\n", 0, 0, "a", "F:/var/f:65534:65534\nP:/bin/x:65534:65534", NULL },
	{ "a: /var/f, |/bin/x\n", 0, 7, "a", "F:/var/f:65534:65534\nP:/bin/x:65534:65534", NULL },
	{ "a: /var/f\n", 1000, 100, "a", "F:/var/f:1000:100", NULL },
	{ "a: /var/f\n", 1000, 0, "a", "F:/var/f:1000:65534", NULL },
	/* includes */
	{ "a: :include:/inc/staff\n", 0, 0, "a",
	  "L:u1\nL:u2\nF:/var/log/x:2000:200\nP:/bin/y z:2000:200", NULL },
	{ "a: :include:/inc/root\n", 1000, 100, "a", "L:r1\nF:/var/r:65534:65534", NULL },
	{ "a: :include:/inc/nogid\n", 0, 0, "a", "P:/bin/n:3000:65534", NULL },
	/* an alias reached from an include uses the aliases file's owner */
	{ "a: :include:/inc/refs\nb: /f\n", 1000, 100, "a", "F:/f:1000:100\nF:/g:2000:200",
	  NULL },
	{ "a: :include:/inc/loop\n", 0, 0, "a", "L:z", NULL },
	{ "a: :include:/inc/ping\n", 0, 0, "a", "L:pong\nL:ping", NULL },
	{ "a: :include:/inc/self\n", 0, 0, "a", "L:a\nL:b", NULL },
	{ "a: :include:/inc/staff, :include:/inc/staff\n", 0, 0, "a",
	  "L:u1\nL:u2\nF:/var/log/x:2000:200\nP:/bin/y z:2000:200", NULL },
	{ "a: :include:/inc/empty\n", 0, 0, "a", "", NULL },
	{ "a: :include:/inc/empty, b\n", 0, 0, "a", "L:b", NULL },
	{ "a: :include:/inc/remote\n", 0, 0, "a", "R:x@remote.org\nL:y", NULL },
	/* same command from two owners runs twice, once as each */
	{ "a: |/bin/same, :include:/inc/pipe\n", 1000, 100, "a",
	  "P:/bin/same:1000:100\nP:/bin/same:2000:200", NULL },
	{ "a: :include:/inc/missing\n", 0, 0, "a", NULL, "no such include file" },
	{ "a: x, :include:/inc/bad\n", 0, 0, "a", NULL,
	  "/inc/bad:2: whitespace in address 'x y' (missing comma?)" },
	{ "a: :include:/chain/0\n", 0, 0, "a", NULL, "alias expansion too deep" },
};

static void
test_expand(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
		struct fake f = { 0 };
		struct alias_expand_ops ops = {
			.is_local_domain = fake_local,
			.read_include = fake_read,
			.ctx = &f,
			.default_uid = 65534,
			.default_gid = 65534,
		};
		struct alias_result r = { (struct alias_dest *)1, 42 };
		const char *err = "unset";
		struct aliases *a;
		char *perr = NULL, *d;
		int rc;

		a = aliases_parse(expand_cases[i].aliases, strlen(expand_cases[i].aliases), PATH,
		    &perr, NULL);
		if (a == NULL)
			check_str(i, "parse", perr, "(success)");
		a->owner = expand_cases[i].owner;
		a->group = expand_cases[i].group;
		rc = aliases_expand(a, expand_cases[i].name, &ops, &r, &err);
		if (expand_cases[i].want != NULL) {
			if (rc != 0)
				check_str(i, "expand", err, "(success)");
			assert_null(err);
			d = dump_result(&r);
			check_str(i, "expand", d, expand_cases[i].want);
			free(d);
		} else {
			assert_int_equal(rc, -1);
			check_str(i, "expand error", err, expand_cases[i].err);
			assert_null(r.dests);
			assert_int_equal(r.ndests, 0);
		}
		alias_result_free(&r);
		assert_null(r.dests);
		aliases_free(&a);
	}
}

static void
test_expand_ops(void **state)
{
	struct fake f = { 0 };
	struct alias_expand_ops ops = { .ctx = &f, .default_uid = 8, .default_gid = 12 };
	struct alias_result r;
	const char *err;
	struct aliases *a;
	char *d;
	static const char in[] = "a: x@example.com, :include:/inc/staff\nb: /f\nc: y@example.com\n";

	(void)state;
	a = aliases_parse(in, sizeof(in) - 1, PATH, NULL, NULL);
	assert_non_null(a);
	/* No is_local_domain: every domain is remote. No reader: includes fail. */
	assert_int_equal(aliases_expand(a, "a", &ops, &r, &err), -1);
	assert_string_equal(err, ":include: is not available");
	assert_int_equal(aliases_expand(a, "c", &ops, &r, &err), 0);
	d = dump_result(&r);
	assert_string_equal(d, "R:y@example.com");
	free(d);
	alias_result_free(&r);
	alias_result_free(NULL);

	/* Root as the fallback user is refused rather than used. */
	ops.default_uid = 0;
	assert_int_equal(aliases_expand(a, "b", &ops, &r, &err), -1);
	assert_string_equal(err, "no unprivileged user for file or pipe delivery");
	assert_int_equal(r.ndests, 0);
	a->owner = 1000;
	assert_int_equal(aliases_expand(a, "b", &ops, &r, &err), 0);
	d = dump_result(&r);
	assert_string_equal(d, "F:/f:1000:12");
	free(d);
	alias_result_free(&r);
	aliases_free(&a);

	/* No aliases at all: the name is a local user. */
	assert_int_equal(aliases_expand(NULL, "Bob", &ops, &r, NULL), 0);
	d = dump_result(&r);
	assert_string_equal(d, "L:bob");
	free(d);
	alias_result_free(&r);
}

/* ---- bounds ---- */

static int
expand_text(const char *text, const char *name, char **dump_r, const char **err_r,
    int *reads_r)
{
	struct fake f = { 0 };
	struct alias_expand_ops ops = {
		.is_local_domain = fake_local,
		.read_include = fake_read,
		.ctx = &f,
		.default_uid = 65534,
		.default_gid = 65534,
	};
	struct alias_result r;
	char *perr = NULL;
	struct aliases *a = aliases_parse(text, strlen(text), PATH, &perr, NULL);
	int rc;

	if (a == NULL) {
		print_error("parse: %s\n", perr);
		fail();
	}
	rc = aliases_expand(a, name, &ops, &r, err_r);
	*dump_r = rc == 0 ? dump_result(&r) : NULL;
	if (reads_r != NULL)
		*reads_r = f.reads;
	alias_result_free(&r);
	aliases_free(&a);
	return rc;
}

/* n aliases in a chain a0 -> a1 -> ... -> a(n-1) -> user */
static char *
chain(unsigned n)
{
	struct sbuf b = { 0 };

	sb_add(&b, "");
	for (unsigned i = 0; i < n; i++) {
		if (i + 1 < n)
			sb_addf(&b, "a%u: a%u\n", i, i + 1);
		else
			sb_addf(&b, "a%u: user\n", i);
	}
	return b.s;
}

static void
test_bound_depth(void **state)
{
	char *text, *d;
	const char *err;

	(void)state;
	text = chain(20);
	assert_int_equal(expand_text(text, "a0", &d, &err, NULL), 0);
	assert_string_equal(d, "L:user");
	free(d);
	/* Starting lower in the chain leaves room. */
	free(text);
	text = chain(21);
	assert_int_equal(expand_text(text, "a1", &d, &err, NULL), 0);
	free(d);
	assert_int_equal(expand_text(text, "a0", &d, &err, NULL), -1);
	assert_null(d);
	assert_string_equal(err, "alias expansion too deep");
	free(text);

	/* Includes count toward depth too. */
	assert_int_equal(expand_text("a: :include:/chain/0\n", "a", &d, &err, NULL), -1);
	assert_string_equal(err, "alias expansion too deep");
}

static char *
wide(unsigned n, const char *pre, const char *post, unsigned repeat)
{
	struct sbuf b = { 0 };

	sb_add(&b, "big:");
	for (unsigned r = 0; r < repeat; r++)
		for (unsigned i = 0; i < n; i++) {
			sb_add(&b, "\n  ");
			sb_addf(&b, "%s%u%s", pre, i, post);
			sb_add(&b, ",");
		}
	sb_add(&b, "\n");
	return b.s;
}

static void
test_bound_dests(void **state)
{
	char *text, *d;
	const char *err;
	int reads;

	(void)state;
	/* 1000 distinct destinations, each listed twice: fine. */
	text = wide(1000, "u", "", 2);
	assert_int_equal(expand_text(text, "big", &d, &err, NULL), 0);
	assert_non_null(d);
	assert_non_null(strstr(d, "L:u999"));
	free(d);
	free(text);
	text = wide(1001, "u", "@r.org", 1);
	assert_int_equal(expand_text(text, "big", &d, &err, NULL), -1);
	assert_string_equal(err, "too many alias destinations");
	free(text);

	/* 100 include files are read; the 101st is refused. */
	text = wide(100, ":include:/many/", "", 1);
	assert_int_equal(expand_text(text, "big", &d, &err, &reads), 0);
	assert_int_equal(reads, 100);
	assert_non_null(strstr(d, "L:m99"));
	free(d);
	free(text);
	text = wide(101, ":include:/many/", "", 1);
	assert_int_equal(expand_text(text, "big", &d, &err, &reads), -1);
	assert_int_equal(reads, 100);
	assert_string_equal(err, "too many :include: files");
	free(text);
}

static void
test_bound_fanout(void **state)
{
	struct sbuf b = { 0 };
	char *d;
	const char *err;

	(void)state;
	/* Ten references per level, six levels: a million paths to one user. */
	sb_add(&b, "");
	for (unsigned i = 0; i < 6; i++) {
		sb_addf(&b, "l%u:", i);
		for (unsigned j = 0; j < 10; j++)
			sb_addf(&b, " l%u,", i + 1);
		sb_add(&b, "\n");
	}
	sb_add(&b, "l6: user\n");
	assert_int_equal(expand_text(b.s, "l0", &d, &err, NULL), -1);
	assert_string_equal(err, "alias expansion too large");
	/* A few levels of the same are fine. */
	assert_int_equal(expand_text(b.s, "l3", &d, &err, NULL), 0);
	assert_string_equal(d, "L:user");
	free(d);
	free(b.s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_err),
		cmocka_unit_test(test_parse_nul_and_length),
		cmocka_unit_test(test_parse_duplicates),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_ops),
		cmocka_unit_test(test_bound_depth),
		cmocka_unit_test(test_bound_dests),
		cmocka_unit_test(test_bound_fanout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
