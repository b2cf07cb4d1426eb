/* Unit tests for src/conf: the parser, defaults, dumps, CIDR lists and value syntax. */
#include "tu.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "conf/conf.h"
#include "lib/util.h"

#define PATH "/etc/estafeta/estafeta.conf"

/* The scalar settings, straight from params.def, so that every row is tested. */
struct prow {
	const char *name;
	enum conf_type type;
	size_t off;
	const char *def;
};

#define P(n, t, f, d, peer, doc) { n, CT_##t, offsetof(struct conf, f), d },
static const struct prow prows[] = {
#include "conf/params.def"
};
#undef P
#define NPROWS (sizeof(prows) / sizeof(prows[0]))

static char *
str_field(const struct conf *c, const struct prow *p)
{
	return *(char *const *)(const void *)((const char *)c + p->off);
}

static long long
num_field(const struct conf *c, const struct prow *p)
{
	return *(const long long *)(const void *)((const char *)c + p->off);
}

static int
prow_index(const char *name)
{
	for (size_t i = 0; i < NPROWS; i++)
		if (strcmp(prows[i].name, name) == 0)
			return (int)i;
	fail_msg("no parameter %s", name);
	return -1;
}

/* Parse text that must be valid into a fresh c. */
static void
parse_ok(const char *text, struct conf *c)
{
	char *err = NULL;

	memset(c, 0, sizeof(*c));
	int rc = conf_parse(text, strlen(text), PATH, c, &err);
	if (rc != 0)
		fail_msg("conf_parse(\"%s\") failed: %s", text, err ? err : "(no error)");
	assert_null(err);
}

/* Parse text that must fail with exactly the error want. */
static void
parse_err_len(const char *text, size_t len, const char *want)
{
	struct conf c;
	char *err = NULL;

	memset(&c, 0, sizeof(c));
	int rc = conf_parse(text, len, PATH, &c, &err);
	if (rc != -1)
		fail_msg("conf_parse(\"%s\") did not fail (want \"%s\")", text, want);
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("conf_parse(\"%s\"):\n  got  \"%s\"\n  want \"%s\"", text, err, want);
	free(err);
	conf_free(&c);
}

static void
parse_err(const char *text, const char *want)
{
	parse_err_len(text, strlen(text), want);
}

static char *
dump_to_string(const struct conf *c, bool all)
{
	char *s = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&s, &n);

	assert_non_null(fp);
	conf_dump(c, fp, all);
	fclose(fp);
	return s;
}

/* ---- empty file and defaults ---- */

static void
test_empty_and_defaults(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("", &c);
	assert_int_equal(c.set_mask, 0);
	assert_int_equal(c.ndomains, 0);
	assert_int_equal(c.nnetworks, 0);
	assert_int_equal(c.nusers, 0);
	assert_int_equal(c.nlisteners, 0);
	assert_false(c.mailbox_set);
	assert_string_equal(c.path, PATH);
	conf_defaults(&c);
	for (size_t i = 0; i < NPROWS; i++) {
		const struct prow *p = &prows[i];
		long long want;
		switch (p->type) {
		case CT_STR:
		case CT_ENUM:
			assert_non_null(str_field(&c, p));
			if (strcmp(p->name, "hostname") == 0 || strcmp(p->name, "banner") == 0)
				break;
			if (strcmp(str_field(&c, p), p->def) != 0)
				fail_msg("default of %s is \"%s\", params.def says \"%s\"", p->name,
				    str_field(&c, p), p->def);
			break;
		case CT_INT:
		case CT_SIZE:
			assert_int_equal(conf_parse_size(p->def, &want), 0);
			assert_int_equal(num_field(&c, p), want);
			break;
		case CT_TIME:
			assert_int_equal(conf_parse_time(p->def, &want), 0);
			assert_int_equal(num_field(&c, p), want);
			break;
		}
	}
	/* Spot checks in plain words. */
	assert_string_equal(c.spool, "/var/spool/estafeta");
	assert_int_equal(c.message_size_limit, 52428800);
	assert_int_equal(c.smtpd_timeout, 300);
	assert_int_equal(c.maximal_queue_lifetime, 5 * 86400);
	assert_string_equal(c.recipient_delimiter, "+");
	assert_string_equal(c.aliases, "");
	assert_true(c.hostname[0] != '\0');
	char *banner = xasprintf("%s ESMTP estafeta", c.hostname);
	assert_string_equal(c.banner, banner);
	free(banner);
	/* Structured defaults. */
	assert_int_equal(c.ndomains, 2);
	assert_string_equal(c.domains[1], "localhost");
	assert_int_equal(c.nnetworks, 2);
	assert_int_equal(c.networks[0].family, AF_INET);
	assert_int_equal(c.networks[0].bits, 8);
	assert_int_equal(c.networks[0].addr[0], 127);
	assert_int_equal(c.networks[1].family, AF_INET6);
	assert_int_equal(c.networks[1].bits, 128);
	assert_int_equal(c.networks[1].addr[15], 1);
	assert_int_equal(c.nusers, 1);
	assert_int_equal(c.users[0].kind, USERS_SYSTEM);
	assert_null(c.users[0].path);
	assert_int_equal(c.mailbox_kind, MAILBOX_MAILDIR);
	assert_string_equal(c.mailbox_path, "~/Maildir");
	assert_false(c.mailbox_set);
	assert_int_equal(c.nlisteners, 0);
	conf_free(&c);
	/* conf_free leaves a zeroed struct; freeing twice is harmless. */
	conf_free(&c);
	assert_null(c.path);
}

static void
test_defaults_keep_settings(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("hostname mx.example.com\n"
	    "banner $hostname ready ($hostname)\n"
	    "domains example.org\n"
	    "networks 10.0.0.0/8\n"
	    "users passwd-file /etc/estafeta/users\n"
	    "mailbox mbox /var/mail/%u\n"
	    "max_errors 3\n", &c);
	conf_defaults(&c);
	assert_string_equal(c.hostname, "mx.example.com");
	/* Only the first $hostname is replaced. */
	assert_string_equal(c.banner, "mx.example.com ready (mx.example.com)");
	assert_int_equal(c.ndomains, 1);
	assert_string_equal(c.domains[0], "example.org");
	assert_int_equal(c.nnetworks, 1);
	assert_int_equal(c.nusers, 1);
	assert_int_equal(c.users[0].kind, USERS_PASSWD_FILE);
	assert_int_equal(c.mailbox_kind, MAILBOX_MBOX);
	assert_string_equal(c.mailbox_path, "/var/mail/%u");
	assert_int_equal(c.max_errors, 3);
	assert_int_equal(c.recipient_limit, 1000);
	conf_free(&c);

	/* Default domains use the configured hostname. */
	parse_ok("hostname MX.Example.COM.\n", &c);
	conf_defaults(&c);
	assert_int_equal(c.ndomains, 2);
	assert_string_equal(c.domains[0], "mx.example.com");
	assert_string_equal(c.domains[1], "localhost");
	assert_string_equal(c.banner, "MX.Example.COM. ESMTP estafeta");
	conf_free(&c);
}

/* ---- domains ---- */

static void
test_domains(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("domains example.com, Example.ORG. localhost\n"
	    "mydestination = sub-1.example.net,x_y.example\n"
	    "domains\n", &c);
	assert_int_equal(c.ndomains, 5);
	assert_string_equal(c.domains[0], "example.com");
	assert_string_equal(c.domains[1], "example.org");
	assert_string_equal(c.domains[2], "localhost");
	assert_string_equal(c.domains[3], "sub-1.example.net");
	assert_string_equal(c.domains[4], "x_y.example");
	assert_true(conf_is_local_domain(&c, "example.com"));
	assert_true(conf_is_local_domain(&c, "EXAMPLE.com"));
	assert_true(conf_is_local_domain(&c, "example.com."));
	assert_true(conf_is_local_domain(&c, "Example.Org"));
	assert_true(conf_is_local_domain(&c, "LOCALHOST."));
	assert_false(conf_is_local_domain(&c, "example.co"));
	assert_false(conf_is_local_domain(&c, "example.comm"));
	assert_false(conf_is_local_domain(&c, "xexample.com"));
	assert_false(conf_is_local_domain(&c, "mail.example.com"));
	assert_false(conf_is_local_domain(&c, ""));
	assert_false(conf_is_local_domain(&c, "."));
	assert_false(conf_is_local_domain(&c, "example.com.."));
	conf_free(&c);

	/* Blanks, tabs and commas all separate. */
	parse_ok("domains\ta.example ,,\t, b.example,c.example", &c);
	assert_int_equal(c.ndomains, 3);
	assert_string_equal(c.domains[2], "c.example");
	conf_free(&c);

	parse_err("domains a..example", PATH ":1: 'a..example' is not a valid domain name");
	parse_err("domains .example", PATH ":1: '.example' is not a valid domain name");
	parse_err("domains good.example bad/example",
	    PATH ":1: 'bad/example' is not a valid domain name");
	parse_err("\ndomains ex@mple.com", PATH ":2: 'ex@mple.com' is not a valid domain name");
	parse_err("domains [127.0.0.1]", PATH ":1: '[127.0.0.1]' is not a valid domain name");

	/* 253 characters is the limit. */
	char name[300], line[400];
	memset(name, 'a', 253);
	name[253] = '\0';
	for (size_t i = 63; i < 253; i += 64)
		name[i] = '.';
	snprintf(line, sizeof(line), "domains %s", name);
	parse_ok(line, &c);
	assert_int_equal(c.ndomains, 1);
	assert_int_equal(strlen(c.domains[0]), 253);
	conf_free(&c);
	name[253] = 'a';
	name[254] = '\0';
	snprintf(line, sizeof(line), "domains %s", name);
	char want[400];
	snprintf(want, sizeof(want), PATH ":1: '%s' is not a valid domain name", name);
	parse_err(line, want);
}

/* ---- networks and CIDR ---- */

static void
test_cidr_parse(void **state)
{
	struct cidr cd;
	unsigned char want[16];
	(void)state;

	assert_int_equal(cidr_parse("10.1.2.3/8", &cd), 0);
	assert_int_equal(cd.family, AF_INET);
	assert_int_equal(cd.bits, 8);
	inet_pton(AF_INET, "10.0.0.0", want);
	assert_memory_equal(cd.addr, want, 4);

	assert_int_equal(cidr_parse("192.168.255.255/20", &cd), 0);
	inet_pton(AF_INET, "192.168.240.0", want);
	assert_memory_equal(cd.addr, want, 4);
	assert_int_equal(cd.bits, 20);

	assert_int_equal(cidr_parse("192.0.2.77", &cd), 0);
	assert_int_equal(cd.bits, 32);
	inet_pton(AF_INET, "192.0.2.77", want);
	assert_memory_equal(cd.addr, want, 4);

	assert_int_equal(cidr_parse("255.255.255.255/0", &cd), 0);
	assert_int_equal(cd.bits, 0);
	memset(want, 0, sizeof(want));
	assert_memory_equal(cd.addr, want, 16);

	assert_int_equal(cidr_parse("[::1]/128", &cd), 0);
	assert_int_equal(cd.family, AF_INET6);
	assert_int_equal(cd.bits, 128);
	inet_pton(AF_INET6, "::1", want);
	assert_memory_equal(cd.addr, want, 16);

	assert_int_equal(cidr_parse("[2001:db8::1]", &cd), 0);
	assert_int_equal(cd.bits, 128);

	assert_int_equal(cidr_parse("::1", &cd), 0);
	assert_int_equal(cd.family, AF_INET6);
	assert_int_equal(cd.bits, 128);

	assert_int_equal(cidr_parse("2001:db8:ffff:ffff::1/33", &cd), 0);
	assert_int_equal(cd.bits, 33);
	inet_pton(AF_INET6, "2001:db8:8000::", want);
	assert_memory_equal(cd.addr, want, 16);

	assert_int_equal(cidr_parse("fe80::1:2:3:4/64", &cd), 0);
	inet_pton(AF_INET6, "fe80::", want);
	assert_memory_equal(cd.addr, want, 16);

	assert_int_equal(cidr_parse("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/127", &cd), 0);
	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", want);
	assert_memory_equal(cd.addr, want, 16);

	static const char *const bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0/8",
		"10.0.0.256", "::1/129", "[::1/128", "::1]/128", "[]", "[]/0", "[10.0.0.0/8]",
		"example.com", "10.0.0.0/8/8", "1.2.3.4 ", "[::1]x/128",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/1", NULL
	};
	for (size_t i = 0; bad[i]; i++)
		if (cidr_parse(bad[i], &cd) != -1)
			fail_msg("cidr_parse(\"%s\") accepted", bad[i]);
}

static struct sockaddr_storage ss_tmp;

static const struct sockaddr *
sa_of(const char *text)
{
	memset(&ss_tmp, 0, sizeof(ss_tmp));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss_tmp;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(25);
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss_tmp;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(25);
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)&ss_tmp;
}

static void
test_cidr_match(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("networks 10.1.2.3/8, 192.168.240.7/20 [::1]/128\n"
	    "mynetworks = 2001:db8::/32 198.51.100.9\n", &c);
	assert_int_equal(c.nnetworks, 5);
	assert_string_equal(c.networks_text, "10.1.2.3/8 192.168.240.7/20 [::1]/128 2001:db8::/32 198.51.100.9");
	const struct cidr *n = c.networks;
	size_t nn = c.nnetworks;

	static const struct {
		const char *addr;
		bool match;
	} cases[] = {
		{ "10.0.0.0", true }, { "10.255.255.255", true }, { "10.2.3.4", true },
		{ "11.0.0.1", false }, { "9.255.255.255", false },
		{ "192.168.240.0", true }, { "192.168.255.255", true }, { "192.168.239.255", false },
		{ "192.169.240.1", false },
		{ "198.51.100.9", true }, { "198.51.100.8", false }, { "198.51.100.10", false },
		{ "::1", true }, { "::2", false }, { "::", false },
		{ "2001:db8::5", true }, { "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true },
		{ "2001:db9::", false }, { "2001:db7:ffff::", false },
		/* IPv4-mapped IPv6 clients match the IPv4 networks. */
		{ "::ffff:10.9.9.9", true }, { "::ffff:192.168.250.1", true },
		{ "::ffff:198.51.100.9", true }, { "::ffff:11.0.0.1", false },
		{ "::ffff:127.0.0.1", false },
		/* IPv4-compatible (deprecated) and NAT64 forms are not mapped. */
		{ "::10.9.9.9", false }, { "64:ff9b::10.9.9.9", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cidr_match(n, nn, sa_of(cases[i].addr)) != cases[i].match)
			fail_msg("cidr_match(%s) != %d", cases[i].addr, cases[i].match);

	/* Local submission is always trusted; unknown families never are. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	assert_true(cidr_match(n, nn, (const struct sockaddr *)&sun));
	assert_true(cidr_match(NULL, 0, (const struct sockaddr *)&sun));
	struct sockaddr_storage other;
	memset(&other, 0, sizeof(other));
	other.ss_family = AF_UNSPEC;
	assert_false(cidr_match(n, nn, (const struct sockaddr *)&other));
	assert_false(cidr_match(NULL, 0, sa_of("10.0.0.1")));
	conf_free(&c);

	/* /0 matches the whole family, and only it. */
	parse_ok("networks 0.0.0.0/0", &c);
	assert_true(cidr_match(c.networks, c.nnetworks, sa_of("203.0.113.1")));
	assert_true(cidr_match(c.networks, c.nnetworks, sa_of("::ffff:203.0.113.1")));
	assert_false(cidr_match(c.networks, c.nnetworks, sa_of("2001:db8::1")));
	conf_free(&c);
	parse_ok("networks ::/0", &c);
	assert_true(cidr_match(c.networks, c.nnetworks, sa_of("2001:db8::1")));
	assert_true(cidr_match(c.networks, c.nnetworks, sa_of("::ffff:203.0.113.1")));
	assert_false(cidr_match(c.networks, c.nnetworks, sa_of("203.0.113.1")));
	conf_free(&c);
	/* An IPv6 network written for mapped addresses matches them as IPv6. */
	parse_ok("networks [::ffff:0:0]/96", &c);
	assert_true(cidr_match(c.networks, c.nnetworks, sa_of("::ffff:1.2.3.4")));
	assert_false(cidr_match(c.networks, c.nnetworks, sa_of("1.2.3.4")));
	conf_free(&c);
	/* Odd prefix lengths. */
	parse_ok("networks 2001:db8:8000::/33 172.16.0.0/12", &c);
	assert_true(cidr_match(c.networks, c.nnetworks, sa_of("2001:db8:ffff::1")));
	assert_false(cidr_match(c.networks, c.nnetworks, sa_of("2001:db8:7fff::1")));
	assert_true(cidr_match(c.networks, c.nnetworks, sa_of("172.31.255.255")));
	assert_false(cidr_match(c.networks, c.nnetworks, sa_of("172.32.0.0")));
	assert_false(cidr_match(c.networks, c.nnetworks, sa_of("172.15.255.255")));
	conf_free(&c);
}

static void
test_networks_errors(void **state)
{
	(void)state;
	parse_err("networks 10.0.0.0/33",
	    PATH ":1: '10.0.0.0/33' is not a network (address or address/bits)");
	parse_err("networks 127.0.0.0/8 ::1/129",
	    PATH ":1: '::1/129' is not a network (address or address/bits)");
	parse_err("networks [::1/128", PATH ":1: '[::1/128' is not a network (address or address/bits)");
	parse_err("networks localhost", PATH ":1: 'localhost' is not a network (address or address/bits)");
	parse_err("# c\n\nnetworks 10/8",
	    PATH ":3: '10/8' is not a network (address or address/bits)");
}

/* ---- users ---- */

static void
test_users(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("users system\n"
	    "users passwd-file /etc/estafeta/users\n"
	    "\n"
	    "users = passwd-file /srv/vmail/passwd\n", &c);
	assert_int_equal(c.nusers, 3);
	assert_int_equal(c.users[0].kind, USERS_SYSTEM);
	assert_null(c.users[0].path);
	assert_int_equal(c.users[0].line, 1);
	assert_int_equal(c.users[1].kind, USERS_PASSWD_FILE);
	assert_string_equal(c.users[1].path, "/etc/estafeta/users");
	assert_int_equal(c.users[1].line, 2);
	assert_string_equal(c.users[2].path, "/srv/vmail/passwd");
	assert_int_equal(c.users[2].line, 4);
	conf_free(&c);

	parse_err("users", PATH ":1: users must be 'system', 'passwd-file PATH' or 'sqlite PATH'");
	parse_err("users ldap", PATH ":1: users must be 'system', 'passwd-file PATH' or 'sqlite PATH'");
	parse_err("users System", PATH ":1: users must be 'system', 'passwd-file PATH' or 'sqlite PATH'");
	parse_err("users passwd-file", PATH ":1: users passwd-file needs an absolute path");
	parse_err("users passwd-file etc/users", PATH ":1: users passwd-file needs an absolute path");
	parse_err("users system extra", PATH ":1: too many words for users");
	parse_err("users passwd-file /a /b", PATH ":1: too many words for users");
	parse_err("users sqlite", PATH ":1: users sqlite needs an absolute path");
	parse_err("users sqlite users.db", PATH ":1: users sqlite needs an absolute path");
	parse_ok("users sqlite /var/lib/estafeta/users.db\n", &c);
	assert_int_equal(c.nusers, 1);
	assert_int_equal(c.users[0].kind, USERS_SQLITE);
	assert_string_equal(c.users[0].path, "/var/lib/estafeta/users.db");
	conf_free(&c);
}

/* ---- mailbox ---- */

static void
test_mailbox(void **state)
{
	struct conf c;
	(void)state;

	static const struct {
		const char *text;
		enum mailbox_kind kind;
		const char *path;
	} ok[] = {
		{ "mailbox maildir ~/Maildir", MAILBOX_MAILDIR, "~/Maildir" },
		{ "mailbox mbox /var/mail/%u", MAILBOX_MBOX, "/var/mail/%u" },
		{ "mailbox maildir /srv/mail/%d/%n", MAILBOX_MAILDIR, "/srv/mail/%d/%n" },
		{ "mailbox maildir:~/Maildir", MAILBOX_MAILDIR, "~/Maildir" },
		{ "mail_location = maildir:~/Maildir", MAILBOX_MAILDIR, "~/Maildir" },
		{ "mail_location mbox:/var/mail/%u", MAILBOX_MBOX, "/var/mail/%u" },
		{ "mailbox = mbox ~/mbox", MAILBOX_MBOX, "~/mbox" },
		{ "mailbox\tmaildir\t~/Mail:dir", MAILBOX_MAILDIR, "~/Mail:dir" },
		{ "mailbox mbox /var/mail/%u\nmailbox maildir ~/Maildir", MAILBOX_MAILDIR, "~/Maildir" },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		parse_ok(ok[i].text, &c);
		assert_true(c.mailbox_set);
		assert_int_equal(c.mailbox_kind, ok[i].kind);
		assert_string_equal(c.mailbox_path, ok[i].path);
		conf_free(&c);
	}

	parse_err("mailbox", PATH ":1: mailbox needs 'maildir PATH' or 'mbox PATH'");
	parse_err("mailbox maildir", PATH ":1: mailbox needs 'maildir PATH' or 'mbox PATH'");
	parse_err("mailbox maildir:", PATH ":1: mailbox needs 'maildir PATH' or 'mbox PATH'");
	parse_err("mailbox maildir ~/Maildir extra",
	    PATH ":1: mailbox needs 'maildir PATH' or 'mbox PATH'");
	parse_err("mailbox maildir:~/Maildir extra",
	    PATH ":1: mailbox needs 'maildir PATH' or 'mbox PATH'");
	parse_err("mailbox mh ~/Mail", PATH ":1: unknown mailbox format 'mh' (maildir or mbox)");
	parse_err("mailbox Maildir ~/Mail", PATH ":1: unknown mailbox format 'Maildir' (maildir or mbox)");
	parse_err("mailbox sdbox:~/mdbox", PATH ":1: unknown mailbox format 'sdbox' (maildir or mbox)");
	parse_err("mailbox maildir Maildir", PATH ":1: mailbox path must start with / or ~/");
	parse_err("mailbox maildir ~", PATH ":1: mailbox path must start with / or ~/");
	parse_err("mailbox maildir ~user/Maildir", PATH ":1: mailbox path must start with / or ~/");
	parse_err("mailbox mbox:var/mail", PATH ":1: mailbox path must start with / or ~/");
}

/* ---- listen ---- */

static void
test_listen(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("listen smtp 127.0.0.1:25\n"
	    "listen smtp [::1]:2525\n"
	    "listen smtp *:587\n"
	    "listen = smtp [::]:25\n"
	    "listen smtp :26\n"
	    "listen smtp [2001:db8::25]:65535\n", &c);
	assert_int_equal(c.nlisteners, 6);
	static const char *const want[][2] = {
		{ "127.0.0.1", "25" }, { "::1", "2525" }, { "0.0.0.0", "587" }, { "::", "25" },
		{ "0.0.0.0", "26" }, { "2001:db8::25", "65535" },
	};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(c.listeners[i].kind, LISTEN_SMTP);
		assert_string_equal(c.listeners[i].name, "smtp");
		assert_string_equal(c.listeners[i].host, want[i][0]);
		assert_string_equal(c.listeners[i].port, want[i][1]);
		assert_int_equal(c.listeners[i].line, i + 1);
	}
	conf_free(&c);

	parse_err("listen", PATH ":1: listen needs a service and ADDRESS:PORT");
	parse_err("listen smtp", PATH ":1: listen needs a service and ADDRESS:PORT");
	parse_err("listen lmtp 0.0.0.0:24", PATH ":1: unknown listener 'lmtp' (smtp, submission, "
	    "submissions, imap, imaps, pop3, pop3s)");
	parse_err("listen SMTP 0.0.0.0:25", PATH ":1: unknown listener 'SMTP' (smtp, submission, "
	    "submissions, imap, imaps, pop3, pop3s)");
	{
		struct conf k;
		char *e = NULL;
		static const char text[] = "listen imap 127.0.0.1:143\nlisten imaps [::1]:993\n"
		    "listen pop3 *:110\nlisten pop3s 127.0.0.1:995\n";
		memset(&k, 0, sizeof(k));
		assert_int_equal(conf_parse(text, strlen(text), PATH, &k, &e), 0);
		static const enum listen_kind kinds[] = { LISTEN_IMAP, LISTEN_IMAPS, LISTEN_POP3,
			LISTEN_POP3S };
		static const char *const names[] = { "imap", "imaps", "pop3", "pop3s" };
		assert_int_equal(k.nlisteners, 4);
		for (size_t i = 0; i < 4; i++) {
			assert_int_equal(k.listeners[i].kind, kinds[i]);
			assert_string_equal(k.listeners[i].name, names[i]);
			assert_true(LISTEN_IS_MAIL_ACCESS(k.listeners[i].kind));
		}
		assert_true(LISTEN_IS_IMPLICIT_TLS(LISTEN_IMAPS) && LISTEN_IS_IMPLICIT_TLS(LISTEN_POP3S));
		assert_false(LISTEN_IS_IMPLICIT_TLS(LISTEN_IMAP) || LISTEN_IS_MAIL_ACCESS(LISTEN_SMTP));
		conf_free(&k);
	}
	static const char *const bad[] = {
		"localhost:25", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:25x",
		"1.2.3.4:-25", "[::1]25", "[::1", "[::1]:", "::1", "[1.2.3]:25", "1.2.3.4.5:25",
		"[localhost]:25", "*:smtp", NULL
	};
	for (size_t i = 0; bad[i]; i++) {
		char text[128], err[256];
		snprintf(text, sizeof(text), "listen smtp %s", bad[i]);
		snprintf(err, sizeof(err),
		    PATH ":1: '%s' is not ADDRESS:PORT (numeric address, [v6]:port or *:port)", bad[i]);
		parse_err(text, err);
	}
	parse_err("listen smtp 0.0.0.0:25 tls", PATH ":1: unknown listen option 'tls' (cert=FILE, key=FILE)");
	parse_err("listen smtp 0.0.0.0:25 cert=x.pem", PATH ":1: listen option 'cert=x.pem' needs an absolute path");
	parse_err("listen smtp 0.0.0.0:25 key=/k.pem", PATH ":1: listen key= without cert=");

	/* Submission kinds, a listener's own certificate. */
	parse_ok("listen submission 127.0.0.1:587\n"
	    "listen smtps [::1]:465 cert=/etc/c.pem key=/etc/k.pem\n"
	    "listen submissions *:4465 cert=/etc/both.pem\n", &c);
	assert_int_equal(c.nlisteners, 3);
	assert_int_equal(c.listeners[0].kind, LISTEN_SUBMISSION);
	assert_string_equal(c.listeners[0].name, "submission");
	assert_null(c.listeners[0].cert);
	assert_int_equal(c.listeners[1].kind, LISTEN_SUBMISSIONS);
	assert_string_equal(c.listeners[1].name, "submissions");
	assert_string_equal(c.listeners[1].cert, "/etc/c.pem");
	assert_string_equal(c.listeners[1].key, "/etc/k.pem");
	assert_string_equal(c.listeners[2].cert, "/etc/both.pem");
	assert_null(c.listeners[2].key);
	conf_free(&c);
}

static void
test_tls_sni_auth_listen(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("tls_sni Mail.Example.ORG /etc/m.pem /etc/m.key\n"
	    "tls_sni *.example.net /etc/w.pem\n"
	    "auth_listen /var/spool/postfix/private/auth mode=0660 user=postfix group=postfix\n"
	    "auth_listen /run/estafeta/auth\n", &c);
	assert_int_equal(c.ntls_sni, 2);
	assert_string_equal(c.tls_sni[0].name, "mail.example.org");
	assert_string_equal(c.tls_sni[0].key, "/etc/m.key");
	assert_string_equal(c.tls_sni[1].name, "*.example.net");
	assert_string_equal(c.tls_sni[1].key, "/etc/w.pem");
	assert_int_equal(c.nauth_listen, 2);
	assert_int_equal(c.auth_listen[0].mode, 0660);
	assert_string_equal(c.auth_listen[0].user, "postfix");
	assert_string_equal(c.auth_listen[0].group, "postfix");
	assert_int_equal(c.auth_listen[1].mode, 0660);
	assert_null(c.auth_listen[1].user);
	assert_int_equal(c.auth_listen[1].line, 4);
	conf_free(&c);

	parse_err("tls_sni", PATH ":1: tls_sni needs NAME CERTFILE [KEYFILE] (absolute paths)");
	parse_err("tls_sni a.example", PATH ":1: tls_sni needs NAME CERTFILE [KEYFILE] (absolute paths)");
	parse_err("tls_sni a.example c.pem", PATH ":1: tls_sni needs NAME CERTFILE [KEYFILE] (absolute paths)");
	parse_err("tls_sni a.example /c.pem k.pem", PATH ":1: tls_sni needs NAME CERTFILE [KEYFILE] (absolute paths)");
	parse_err("tls_sni a.example /c /k /x", PATH ":1: tls_sni needs NAME CERTFILE [KEYFILE] (absolute paths)");
	parse_err("auth_listen", PATH ":1: auth_listen needs an absolute socket path");
	parse_err("auth_listen private/auth", PATH ":1: auth_listen needs an absolute socket path");
	parse_err("auth_listen /a mode=999", PATH ":1: auth_listen option 'mode=999' is not mode=OCTAL, "
	    "user=NAME or group=NAME");
	parse_err("auth_listen /a mode=", PATH ":1: auth_listen option 'mode=' is not mode=OCTAL, "
	    "user=NAME or group=NAME");
	parse_err("auth_listen /a owner=x", PATH ":1: auth_listen option 'owner=x' is not mode=OCTAL, "
	    "user=NAME or group=NAME");
}

/* ---- scalar settings: every row of params.def ---- */

static void
check_set(const char *text, const char *name, const char *sval, long long nval)
{
	struct conf c;
	int i = prow_index(name);

	parse_ok(text, &c);
	assert_int_equal(c.set_mask, 1ULL << i);
	if (prows[i].type == CT_STR || prows[i].type == CT_ENUM) {
		if (strcmp(str_field(&c, &prows[i]), sval) != 0)
			fail_msg("\"%s\": %s = \"%s\", want \"%s\"", text, name,
			    str_field(&c, &prows[i]), sval);
	} else if (num_field(&c, &prows[i]) != nval)
		fail_msg("\"%s\": %s = %lld, want %lld", text, name, num_field(&c, &prows[i]), nval);
	conf_free(&c);
}

/* The allowed values of the enumerated settings we know; for one added later,
 * at least its default (which must be allowed). */
static const char *const *
enum_values(const struct prow *p)
{
	static const char *const bare_newline[] = { "normalize", "reject", NULL };
	static const char *const log_level[] = { "debug", "info", "warning", "error", NULL };
	static const char *const sync_method[] = { "syncfs", "fsync", NULL };
	static const char *other[2];

	if (strcmp(p->name, "bare_newline") == 0)
		return bare_newline;
	if (strcmp(p->name, "log_level") == 0)
		return log_level;
	if (strcmp(p->name, "sync_method") == 0)
		return sync_method;
	other[0] = p->def;
	other[1] = NULL;
	return other;
}

static void
test_scalars_every_param(void **state)
{
	char text[512], want[512];
	(void)state;

	assert_true(NPROWS <= 64);
	for (size_t i = 0; i < NPROWS; i++) {
		const struct prow *p = &prows[i];
		const char *n = p->name;
		switch (p->type) {
		case CT_STR:
			if (strcmp(n, "hostname") == 0) {
				/* hostname must be a domain name: see test_hostname */
				check_set("hostname mx.example", n, "mx.example", 0);
				check_set("hostname = mx.example.org\t ", n, "mx.example.org", 0);
			} else {
				snprintf(text, sizeof(text), "%s some-value", n);
				check_set(text, n, "some-value", 0);
				snprintf(text, sizeof(text), "%s = /x/y z\t ", n);
				check_set(text, n, "/x/y z", 0);
			}
			snprintf(text, sizeof(text), "%s", n);
			check_set(text, n, "", 0);
			snprintf(text, sizeof(text), "%s =", n);
			check_set(text, n, "", 0);
			break;
		case CT_ENUM: {
			const char *const *vals = enum_values(p);
			for (size_t k = 0; vals[k]; k++) {
				snprintf(text, sizeof(text), "%s %s", n, vals[k]);
				check_set(text, n, vals[k], 0);
				snprintf(text, sizeof(text), "%s = %s", n, vals[k]);
				check_set(text, n, vals[k], 0);
			}
			snprintf(text, sizeof(text), "%s bogus", n);
			snprintf(want, sizeof(want), PATH ":1: %s: 'bogus' is not one of the allowed values", n);
			parse_err(text, want);
			snprintf(text, sizeof(text), "%s INFO", n);
			snprintf(want, sizeof(want), PATH ":1: %s: 'INFO' is not one of the allowed values", n);
			parse_err(text, want);
			snprintf(text, sizeof(text), "%s", n);
			snprintf(want, sizeof(want), PATH ":1: %s: '' is not one of the allowed values", n);
			parse_err(text, want);
			snprintf(text, sizeof(text), "%s %s %s", n, vals[0], vals[0]);
			snprintf(want, sizeof(want), PATH ":1: %s takes one value", n);
			parse_err(text, want);
			break;
		}
		case CT_INT:
		case CT_SIZE: {
			const char *why = p->type == CT_INT ? "needs a non-negative number" :
			    "needs a size (bytes, or a number with K, M or G)";
			snprintf(text, sizeof(text), "%s 42", n);
			check_set(text, n, NULL, 42);
			snprintf(text, sizeof(text), "%s = 0", n);
			check_set(text, n, NULL, 0);
			snprintf(text, sizeof(text), "%s 9223372036854775807", n);
			check_set(text, n, NULL, 9223372036854775807LL);
			if (p->type == CT_SIZE) {
				snprintf(text, sizeof(text), "%s 10K", n);
				check_set(text, n, NULL, 10240);
				snprintf(text, sizeof(text), "%s 3m", n);
				check_set(text, n, NULL, 3LL << 20);
				snprintf(text, sizeof(text), "%s 2G", n);
				check_set(text, n, NULL, 2LL << 30);
			}
			static const char *const bad[] = { "-1", "abc", "10X", "1.5", "10KB",
				"99999999999999999999", "9223372036854775807K", NULL };
			for (size_t k = 0; bad[k]; k++) {
				snprintf(text, sizeof(text), "%s %s", n, bad[k]);
				snprintf(want, sizeof(want), PATH ":1: %s: '%s' %s", n, bad[k], why);
				parse_err(text, want);
			}
			snprintf(text, sizeof(text), "%s", n);
			snprintf(want, sizeof(want), PATH ":1: %s needs a value", n);
			parse_err(text, want);
			snprintf(text, sizeof(text), "%s = \t", n);
			parse_err(text, want);
			snprintf(text, sizeof(text), "%s 1 2", n);
			snprintf(want, sizeof(want), PATH ":1: %s takes one value", n);
			parse_err(text, want);
			break;
		}
		case CT_TIME: {
			static const struct {
				const char *v;
				long long secs;
			} ok[] = {
				{ "0", 0 }, { "45", 45 }, { "45s", 45 }, { "5m", 300 }, { "2h", 7200 },
				{ "5d", 432000 }, { "1w", 604800 },
			};
			for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
				snprintf(text, sizeof(text), "%s %s", n, ok[k].v);
				check_set(text, n, NULL, ok[k].secs);
			}
			static const char *const bad[] = { "-1", "s", "5x", "5ss", "5M", "1.5h", "5 d",
				"153722867280912931m", NULL };
			for (size_t k = 0; bad[k]; k++) {
				snprintf(text, sizeof(text), "%s %s", n, bad[k]);
				if (strchr(bad[k], ' ') != NULL)
					snprintf(want, sizeof(want), PATH ":1: %s takes one value", n);
				else
					snprintf(want, sizeof(want),
					    PATH ":1: %s: '%s' needs a time (seconds, or a number with s, m, h, d or w)",
					    n, bad[k]);
				parse_err(text, want);
			}
			snprintf(text, sizeof(text), "%s", n);
			snprintf(want, sizeof(want), PATH ":1: %s needs a value", n);
			parse_err(text, want);
			break;
		}
		}
	}
}

/* hostname is a domain name: it names the default local domain, the banner,
 * EHLO and Received:. (A hostname with blanks used to be accepted and became
 * a "domain" that the dump could not reparse.) */
static void
test_hostname(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("hostname mx.example.com.\n", &c);
	assert_string_equal(c.hostname, "mx.example.com.");
	conf_free(&c);
	parse_ok("hostname localhost\n", &c);
	conf_free(&c);
	parse_ok("hostname\n", &c);	/* empty: the system's name */
	assert_string_equal(c.hostname, "");
	conf_free(&c);
	parse_err("hostname mx example.com", PATH ":1: hostname: 'mx example.com' is not a valid domain name");
	parse_err("hostname=mx.example mbox:/var/mail/%u",
	    PATH ":1: hostname: 'mx.example mbox:/var/mail/%u' is not a valid domain name");
	parse_err("\nhostname a..b", PATH ":2: hostname: 'a..b' is not a valid domain name");
	parse_err("hostname .example", PATH ":1: hostname: '.example' is not a valid domain name");
	parse_err("hostname mx/example", PATH ":1: hostname: 'mx/example' is not a valid domain name");
	parse_err("hostname [192.0.2.1]", PATH ":1: hostname: '[192.0.2.1]' is not a valid domain name");

	/* Whatever is accepted, the default domains are valid domain names. */
	static const char *const names[] = { "mx.example.com", "MX.EXAMPLE.COM.", "a-b_c.d", NULL };
	for (size_t i = 0; names[i]; i++) {
		char text[300];
		snprintf(text, sizeof(text), "hostname %s", names[i]);
		parse_ok(text, &c);
		conf_defaults(&c);
		for (size_t k = 0; k < c.ndomains; k++) {
			char line[300];
			struct conf c2;
			snprintf(line, sizeof(line), "domains %s", c.domains[k]);
			parse_ok(line, &c2);
			assert_int_equal(c2.ndomains, 1);
			conf_free(&c2);
		}
		conf_free(&c);
	}
}

static void
test_scalars_named(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("hostname mx.example.com\n"
	    "spool /tmp/spool\n"
	    "run_user mailer\n"
	    "default_privs nobody2\n"
	    "aliases /etc/aliases\n"
	    "recipient_delimiter +-\n"
	    "message_size_limit 10M\n"
	    "recipient_limit 5\n"
	    "line_length_limit 0\n"
	    "bare_newline reject\n"
	    "smtpd_timeout 5m\n"
	    "max_connections 10\n"
	    "max_connections_per_ip 3\n"
	    "max_errors 7\n"
	    "banner   Hello  there\tworld  \n"
	    "delivery_threads 2\n"
	    "minimal_backoff_time 1h\n"
	    "maximal_backoff_time 2d\n"
	    "maximal_queue_lifetime 1w\n"
	    "mbox_lock_timeout 45\n"
	    "log_level debug\n", &c);
	static const char *const named[] = { "hostname", "spool", "run_user", "default_privs",
		"aliases", "recipient_delimiter", "message_size_limit", "recipient_limit",
		"line_length_limit", "bare_newline", "smtpd_timeout", "max_connections",
		"max_connections_per_ip", "max_errors", "banner", "delivery_threads",
		"minimal_backoff_time", "maximal_backoff_time", "maximal_queue_lifetime",
		"mbox_lock_timeout", "log_level", NULL };
	uint64_t mask = 0;
	for (size_t i = 0; named[i]; i++)
		mask |= 1ULL << prow_index(named[i]);
	assert_int_equal(c.set_mask, mask);
	assert_string_equal(c.hostname, "mx.example.com");
	assert_string_equal(c.spool, "/tmp/spool");
	assert_string_equal(c.run_user, "mailer");
	assert_string_equal(c.default_privs, "nobody2");
	assert_string_equal(c.aliases, "/etc/aliases");
	assert_string_equal(c.recipient_delimiter, "+-");
	assert_int_equal(c.message_size_limit, 10485760);
	assert_int_equal(c.recipient_limit, 5);
	assert_int_equal(c.line_length_limit, 0);
	assert_string_equal(c.bare_newline, "reject");
	assert_int_equal(c.smtpd_timeout, 300);
	assert_int_equal(c.max_connections, 10);
	assert_int_equal(c.max_connections_per_ip, 3);
	assert_int_equal(c.max_errors, 7);
	assert_string_equal(c.banner, "Hello  there\tworld");
	assert_int_equal(c.delivery_threads, 2);
	assert_int_equal(c.minimal_backoff_time, 3600);
	assert_int_equal(c.maximal_backoff_time, 172800);
	assert_int_equal(c.maximal_queue_lifetime, 604800);
	assert_int_equal(c.mbox_lock_timeout, 45);
	assert_string_equal(c.log_level, "debug");
	/* Defaults do not override explicit settings (even ""). */
	conf_defaults(&c);
	assert_string_equal(c.spool, "/tmp/spool");
	assert_int_equal(c.max_errors, 7);
	conf_free(&c);

	/* A later line wins. */
	parse_ok("max_errors 1\nmax_errors 2\nbanner a\nbanner b\n", &c);
	assert_int_equal(c.max_errors, 2);
	assert_string_equal(c.banner, "b");
	conf_free(&c);

	/* Explicitly empty recipient_delimiter stays empty. */
	parse_ok("recipient_delimiter =\n", &c);
	conf_defaults(&c);
	assert_string_equal(c.recipient_delimiter, "");
	conf_free(&c);
}

static void
test_size_time_syntax(void **state)
{
	long long v;
	(void)state;

	static const struct {
		const char *s;
		long long v;
	} sizes[] = {
		{ "0", 0 }, { "1", 1 }, { "52428800", 52428800 }, { "1k", 1024 }, { "1K", 1024 },
		{ "10m", 10485760 }, { "10M", 10485760 }, { "1g", 1073741824 }, { "3G", 3221225472LL },
		{ "9223372036854775807", 9223372036854775807LL },
		{ "8589934591G", 8589934591LL << 30 },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		v = -7;
		if (conf_parse_size(sizes[i].s, &v) != 0 || v != sizes[i].v)
			fail_msg("conf_parse_size(%s) = %lld", sizes[i].s, v);
	}
	static const char *const badsize[] = { "", "K", "-1", "1KK", "1T", "1 K", "1.0",
		"0x10", "8589934592G", "99999999999999999999", NULL };
	for (size_t i = 0; badsize[i]; i++) {
		v = -7;
		if (conf_parse_size(badsize[i], &v) != -1 || v != -7)
			fail_msg("conf_parse_size(%s) accepted", badsize[i]);
	}

	static const struct {
		const char *s;
		long long v;
	} times[] = {
		{ "0", 0 }, { "300", 300 }, { "300s", 300 }, { "5m", 300 }, { "2h", 7200 },
		{ "5d", 432000 }, { "2w", 1209600 }, { "0w", 0 },
		{ "153722867280912930m", 153722867280912930LL * 60 },
	};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		v = -7;
		if (conf_parse_time(times[i].s, &v) != 0 || v != times[i].v)
			fail_msg("conf_parse_time(%s) = %lld", times[i].s, v);
	}
	static const char *const badtime[] = { "", "s", "-5", "5x", "5ss", "5S", "5H", "5 s",
		"1y", "153722867280912931m", "99999999999999999999", NULL };
	for (size_t i = 0; badtime[i]; i++) {
		v = -7;
		if (conf_parse_time(badtime[i], &v) != -1 || v != -7)
			fail_msg("conf_parse_time(%s) accepted", badtime[i]);
	}
}

/* ---- syntax: name = value, continuations, comments, errors ---- */

static void
test_name_value_forms(void **state)
{
	struct conf c;
	(void)state;

	static const char *const forms[] = {
		"hostname mx.example.com", "hostname = mx.example.com", "hostname= mx.example.com",
		"hostname=mx.example.com", "hostname =mx.example.com", "hostname\t=\tmx.example.com",
		"  \nhostname   mx.example.com   ", "hostname mx.example.com\r\n",
		"hostname=mx.example.com # a comment",
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&c, 0, sizeof(c));
		char *err = NULL;
		if (conf_parse(forms[i], strlen(forms[i]), PATH, &c, &err) != 0)
			fail_msg("\"%s\": %s", forms[i], err);
		if (c.hostname == NULL || strcmp(c.hostname, "mx.example.com") != 0)
			fail_msg("\"%s\": hostname \"%s\"", forms[i], c.hostname ? c.hostname : "(null)");
		conf_free(&c);
	}

	/* name=value keeps the whole rest of the line for text settings and lists. */
	parse_ok("banner=Hello there world\n", &c);
	assert_string_equal(c.banner, "Hello there world");
	conf_free(&c);
	parse_ok("domains=a.example, b.example\n", &c);
	assert_int_equal(c.ndomains, 2);
	assert_string_equal(c.domains[0], "a.example");
	assert_string_equal(c.domains[1], "b.example");
	conf_free(&c);
	parse_ok("max_errors=5\nlisten=smtp [::1]:25\n", &c);
	assert_int_equal(c.max_errors, 5);
	assert_int_equal(c.nlisteners, 1);
	assert_string_equal(c.listeners[0].host, "::1");
	conf_free(&c);
	parse_ok("mail_location=maildir:~/Maildir\n", &c);
	assert_string_equal(c.mailbox_path, "~/Maildir");
	conf_free(&c);

	/* '=' only separates after the name; later '=' belong to the value. */
	parse_ok("banner = a = b\n", &c);
	assert_string_equal(c.banner, "a = b");
	conf_free(&c);
	parse_err("max_errors = 5=5", PATH ":1: max_errors: '5=5' needs a non-negative number");
}

static void
test_continuation_values(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("# estafeta.conf\n"
	    "domains a.example,\n"
	    "  b.example\n"
	    "\tc.example  # comment after blank\n"
	    "# a comment line does not end the setting\n"
	    "    d.example\n"
	    "\n"
	    "banner Hello#not-a-comment\n"
	    "  world  \n"
	    "   # only a comment, indented\n"
	    "max_errors\n"
	    "\t9\n"
	    "aliases /etc/x#y # z\n", &c);
	assert_int_equal(c.ndomains, 4);
	assert_string_equal(c.domains[0], "a.example");
	assert_string_equal(c.domains[1], "b.example");
	assert_string_equal(c.domains[2], "c.example");
	assert_string_equal(c.domains[3], "d.example");
	assert_string_equal(c.banner, "Hello#not-a-comment   world");
	assert_int_equal(c.max_errors, 9);
	assert_string_equal(c.aliases, "/etc/x#y");
	conf_free(&c);

	/* CRLF line ends. */
	parse_ok("domains a.example\r\n  b.example\r\nmax_errors 2\r\n", &c);
	assert_int_equal(c.ndomains, 2);
	assert_int_equal(c.max_errors, 2);
	conf_free(&c);

	/* No newline at the end of the file. */
	parse_ok("max_errors 3", &c);
	assert_int_equal(c.max_errors, 3);
	conf_free(&c);

	/* '#' glued to a value is part of it, so a number with it is wrong. */
	parse_err("max_errors 4# no", PATH ":1: max_errors takes one value");
	parse_err("max_errors 4#", PATH ":1: max_errors: '4#' needs a non-negative number");
}

static void
test_errors_and_lines(void **state)
{
	(void)state;

	parse_err("frobnicate 1", PATH ":1: unknown setting 'frobnicate'");
	parse_err("max_errors 1\n\n# x\nHostname y\n", PATH ":4: unknown setting 'Hostname'");
	parse_err("max_errors 1\n= 5\n", PATH ":2: unknown setting ''");
	/* Errors of a continued setting point at its first line. */
	parse_err("\nmax_errors\n  x\n  \n", PATH ":2: max_errors: 'x' needs a non-negative number");
	parse_err("banner ok\n\nmax_errors 1\n  2\n", PATH ":3: max_errors takes one value");
	/* Continuation without a setting before it. */
	parse_err("  domains a.example\n", PATH ":1: continuation line without a setting before it");
	parse_err("# comment\n\tx\n", PATH ":2: continuation line without a setting before it");
	parse_err("domains a.example\n\n  b.example\n",
	    PATH ":3: continuation line without a setting before it");
	/* Control characters (tab is fine, CR only before LF). */
	parse_err("banner a\rb\n", PATH ":1: control character in line");
	parse_err("max_errors 1\nbanner \x1b[31m\n", PATH ":2: control character in line");
	parse_err("max_errors 1\n\nbanner \x7f\n", PATH ":3: control character in line");
	parse_err("# comment \x01\n", PATH ":1: control character in line");
	parse_err("banner x\r\r\n", PATH ":1: control character in line");
	parse_err_len("banner a\0b\n", 11, PATH ":1: control character in line");
	parse_err_len("max_errors 1\n\0", 14, PATH ":2: control character in line");
	/* UTF-8 is not a control character. */
	struct conf c;
	parse_ok("banner caf\xc3\xa9\n", &c);
	assert_string_equal(c.banner, "caf\xc3\xa9");
	conf_free(&c);
	/* Over-long lines. */
	char *big = xmalloc(5000);
	memcpy(big, "banner ", 7);
	memset(big + 7, 'x', 4096 - 7);
	big[4096] = '\0';
	parse_ok(big, &c);
	assert_int_equal(strlen(c.banner), 4096 - 7);
	conf_free(&c);
	memset(big + 7, 'x', 4097 - 7);
	memcpy(big + 4097, "\n", 2);
	parse_err(big, PATH ":1: line too long");
	free(big);
	/* Over-long names are reported (truncated) as unknown. */
	char name[200];
	memset(name, 'n', 100);
	name[100] = '\0';
	char want[300];
	snprintf(want, sizeof(want), PATH ":1: unknown setting '%.63s'", name);
	parse_err(name, want);
	/* The first error wins; nothing after it is applied. */
	parse_err("bogus 1\nalso_bogus 2\n", PATH ":1: unknown setting 'bogus'");
	/* Errors use the path given to conf_parse. */
	char *err = NULL;
	memset(&c, 0, sizeof(c));
	assert_int_equal(conf_parse("x y", 3, "other.conf", &c, &err), -1);
	assert_string_equal(err, "other.conf:1: unknown setting 'x'");
	free(err);
	conf_free(&c);
}

static void
test_parse_twice_appends(void **state)
{
	struct conf c;
	char *err = NULL;
	(void)state;

	parse_ok("domains a.example\nmax_errors 1\n", &c);
	const char *more = "domains b.example\nmax_errors 2\n";
	assert_int_equal(conf_parse(more, strlen(more), "second.conf", &c, &err), 0);
	assert_int_equal(c.ndomains, 2);
	assert_int_equal(c.max_errors, 2);
	assert_string_equal(c.path, PATH);
	conf_free(&c);
}

/* ---- conf_dump ---- */

static void
test_dump(void **state)
{
	struct conf c;
	(void)state;

	parse_ok("hostname mx.example.com\n"
	    "max_errors 5\n"
	    "banner hi  there\n"
	    "message_size_limit 1K\n"
	    "smtpd_timeout 2m\n"
	    "log_level warning\n"
	    "listen smtp [::1]:25\n"
	    "listen smtp 127.0.0.1:2525\n", &c);
	conf_defaults(&c);
	char *s = dump_to_string(&c, false);
	assert_string_equal(s,
	    "hostname = mx.example.com\n"
	    "message_size_limit = 1024\n"
	    "smtpd_timeout = 120\n"
	    "max_errors = 5\n"
	    "banner = hi  there\n"
	    "log_level = warning\n"
	    "domains = mx.example.com localhost\n"
	    "networks = 127.0.0.0/8 ::1/128\n"
	    "users = system\n"
	    "mailbox = maildir ~/Maildir\n"
	    "listen = smtp [::1]:25\n"
	    "listen = smtp 127.0.0.1:2525\n");
	free(s);
	conf_free(&c);

	parse_ok("hostname h.example\n"
	    "domains B.example c.example.\n"
	    "networks 10.1.0.0/16, [::1]/128\n"
	    "users passwd-file /etc/u\nusers system\n"
	    "mailbox mbox /var/mail/%u\n", &c);
	conf_defaults(&c);
	s = dump_to_string(&c, false);
	assert_string_equal(s,
	    "hostname = h.example\n"
	    "domains = b.example c.example\n"
	    "networks = 10.1.0.0/16 [::1]/128\n"
	    "users = passwd-file /etc/u\n"
	    "users = system\n"
	    "mailbox = mbox /var/mail/%u\n");
	free(s);
	conf_free(&c);
}

/* dump(all) is valid input that yields the same configuration. */
static void
test_dump_all_roundtrip(void **state)
{
	struct conf c, c2;
	char *err = NULL;
	(void)state;

	parse_ok("hostname mx.example.com\n"
	    "recipient_delimiter +-\n"
	    "networks 10.0.0.0/8 [2001:db8::]/32\n"
	    "users passwd-file /etc/estafeta/users\n"
	    "mailbox maildir /srv/%d/%n\n"
	    "listen smtp [::]:25\n"
	    "listen smtp *:587\n", &c);
	conf_defaults(&c);
	char *s1 = dump_to_string(&c, true);
	size_t lines = 0;
	for (const char *p = s1; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, NPROWS + 6);
	for (size_t i = 0; i < NPROWS; i++) {
		char key[80];
		snprintf(key, sizeof(key), "%s = ", prows[i].name);
		if (strstr(s1, key) == NULL)
			fail_msg("dump lacks %s", prows[i].name);
	}
	memset(&c2, 0, sizeof(c2));
	if (conf_parse(s1, strlen(s1), "dump", &c2, &err) != 0)
		fail_msg("reparse of dump failed: %s\n%s", err, s1);
	conf_defaults(&c2);
	char *s2 = dump_to_string(&c2, true);
	assert_string_equal(s1, s2);
	assert_int_equal(c2.nnetworks, 2);
	assert_memory_equal(c2.networks, c.networks, 2 * sizeof(struct cidr));
	free(s1);
	free(s2);
	conf_free(&c);
	conf_free(&c2);
}

static void
test_load(void **state)
{
	struct conf c;
	char *err = NULL;
	(void)state;

	char *dir = tu_tmpdir();
	char *path = xasprintf("%s/estafeta.conf", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("hostname mx.example.com\nmax_errors 9\n", fp);
	fclose(fp);
	assert_int_equal(conf_load(path, &c, &err), 0);
	assert_string_equal(c.path, path);
	assert_int_equal(c.max_errors, 9);
	assert_int_equal(c.recipient_limit, 1000);	/* defaults applied */
	assert_string_equal(c.banner, "mx.example.com ESMTP estafeta");
	conf_free(&c);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("hostname mx.example.com\n\nmax_errors nine\n", fp);
	fclose(fp);
	assert_int_equal(conf_load(path, &c, &err), -1);
	char *want = xasprintf("%s:3: max_errors: 'nine' needs a non-negative number", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	conf_free(&c);

	char *missing = xasprintf("%s/missing.conf", dir);
	assert_int_equal(conf_load(missing, &c, &err), -1);
	want = xasprintf("%s: No such file or directory", missing);
	assert_string_equal(err, want);
	free(want);
	free(err);
	conf_free(&c);
	free(missing);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_defaults),
		cmocka_unit_test(test_defaults_keep_settings),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_networks_errors),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_tls_sni_auth_listen),
		cmocka_unit_test(test_scalars_every_param),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_scalars_named),
		cmocka_unit_test(test_size_time_syntax),
		cmocka_unit_test(test_name_value_forms),
		cmocka_unit_test(test_continuation_values),
		cmocka_unit_test(test_errors_and_lines),
		cmocka_unit_test(test_parse_twice_appends),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_dump_all_roundtrip),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
