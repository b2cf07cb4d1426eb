/* test_authproto: the Dovecot auth protocol lines (split, escape, parse). */
#include "tu.h"

#include "auth/authproto.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Split a copy of s (len bytes, NUL-free or not) in an exact-size heap
 * buffer, so that ASan sees any read past the line. */
static int
split_copy(const char *s, size_t len, char **buf, char **argv, int max)
{
	*buf = malloc(len + 1);
	assert_non_null(*buf);
	memcpy(*buf, s, len);
	(*buf)[len] = 'X';	/* not a terminator: the length is what counts */
	return authproto_split(*buf, len, argv, max);
}

static int
split_str(const char *s, char **buf, char **argv)
{
	return split_copy(s, strlen(s), buf, argv, AUTHPROTO_ARGS_MAX);
}

static void
test_split_fields(void **state)
{
	char *argv[AUTHPROTO_ARGS_MAX], *buf;

	(void)state;
	assert_int_equal(split_str("VERSION\t1\t2", &buf, argv), 3);
	assert_string_equal(argv[0], "VERSION");
	assert_string_equal(argv[1], "1");
	assert_string_equal(argv[2], "2");
	free(buf);

	/* One field without a TAB, empty fields kept. */
	assert_int_equal(split_str("DONE", &buf, argv), 1);
	assert_string_equal(argv[0], "DONE");
	free(buf);
	assert_int_equal(split_str("", &buf, argv), 1);
	assert_string_equal(argv[0], "");
	free(buf);
	assert_int_equal(split_str("\t", &buf, argv), 2);
	assert_string_equal(argv[0], "");
	assert_string_equal(argv[1], "");
	free(buf);
	assert_int_equal(split_str("A\t\tB\t", &buf, argv), 4);
	assert_string_equal(argv[0], "A");
	assert_string_equal(argv[1], "");
	assert_string_equal(argv[2], "B");
	assert_string_equal(argv[3], "");
	free(buf);
	/* Spaces are not separators. */
	assert_int_equal(split_str("a b\tc d", &buf, argv), 2);
	assert_string_equal(argv[0], "a b");
	assert_string_equal(argv[1], "c d");
	free(buf);
	/* Only len bytes count: a shorter length cuts the line. */
	assert_int_equal(split_copy("AUTH\t1\tPLAIN", 6, &buf, argv, AUTHPROTO_ARGS_MAX), 2);
	assert_string_equal(argv[1], "1");
	free(buf);
}

static void
test_split_escapes(void **state)
{
	char *argv[AUTHPROTO_ARGS_MAX], *buf;

	(void)state;
	assert_int_equal(split_str("a\0011b\001tc\001rd\001ne\001lf\tx", &buf, argv), 2);
	assert_string_equal(argv[0], "a\001b\tc\rd\ne\nf");
	assert_string_equal(argv[1], "x");
	free(buf);
	/* An escaped TAB does not split. */
	assert_int_equal(split_str("user=a\001tb\tsecured", &buf, argv), 2);
	assert_string_equal(argv[0], "user=a\tb");
	assert_string_equal(argv[1], "secured");
	free(buf);
	/* \001\001 is one \001 followed by nothing special. */
	assert_int_equal(split_str("\001\001t", &buf, argv), 1);
	assert_string_equal(argv[0], "\001t");
	free(buf);
	/* Escapes at the very start and end of fields. */
	assert_int_equal(split_str("\001t\t\001n", &buf, argv), 2);
	assert_string_equal(argv[0], "\t");
	assert_string_equal(argv[1], "\n");
	free(buf);
	/* \0010 would put a NUL in a field: refused. */
	assert_int_equal(split_str("resp=ab\0010cd", &buf, argv), -1);
	free(buf);
	assert_int_equal(split_str("x\t\0010", &buf, argv), -1);
	free(buf);
	/* A lone \001 at the end of the line has nothing to escape. */
	int n = split_str("abc\001", &buf, argv);
	assert_true(n == -1 || (n == 1 && strcmp(argv[0], "abc\001") == 0));
	free(buf);
}

static void
test_split_control(void **state)
{
	char *argv[AUTHPROTO_ARGS_MAX], *buf;
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		{ "AUTH\t1\0\tPLAIN", 13 },	/* NUL */
		{ "\0", 1 },
		{ "AUTH\t1\tPLAIN\r", 13 },	/* CR (a CRLF client) */
		{ "a\rb", 3 },
		{ "a\nb", 3 },			/* LF inside the line */
		/* The byte after \001 is in the line too: a raw NUL or CR there
		 * must not slip into a field. */
		{ "resp=ab\001\0cd", 11 },
		{ "user=ab\001\rcd", 11 },
		{ "user=ab\001\ncd", 11 },
	};

	(void)state;
	int failed = 0;
	for (size_t i = 0; i < NELEM(bad); i++) {
		int n = split_copy(bad[i].s, bad[i].len, &buf, argv, AUTHPROTO_ARGS_MAX);
		if (n != -1) {
			print_error("case %zu: %d field(s), expected -1; field 0 is %zu bytes as a "
			    "string\n", i, n, strlen(argv[0]));
			failed++;
		}
		free(buf);
	}
	assert_int_equal(failed, 0);
}

static void
test_split_max(void **state)
{
	char line[4 * (AUTHPROTO_ARGS_MAX + 2)], *argv[AUTHPROTO_ARGS_MAX + 1];
	size_t o;

	(void)state;
	for (int want = 1; want <= AUTHPROTO_ARGS_MAX + 1; want++) {
		o = 0;
		for (int i = 0; i < want; i++)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%d", i ? "\t" : "", i);
		char *copy = strndup(line, o);
		int n = authproto_split(copy, o, argv, AUTHPROTO_ARGS_MAX);
		if (want <= AUTHPROTO_ARGS_MAX) {
			assert_int_equal(n, want);
			for (int i = 0; i < n; i++)
				assert_int_equal(atoi(argv[i]), i);
		} else
			assert_int_equal(n, -1);
		free(copy);
	}
	/* A small max: never more than max entries written. */
	char *small[3] = { NULL, NULL, (char *)"sentinel" };
	char l1[] = "a\tb";
	assert_int_equal(authproto_split(l1, strlen(l1), small, 2), 2);
	char l2[] = "a\tb\tc";
	assert_int_equal(authproto_split(l2, strlen(l2), small, 2), -1);
	assert_string_equal(small[2], "sentinel");
	char l3[] = "";
	assert_int_equal(authproto_split(l3, 0, small, 0), -1);
}

static void
test_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(authproto_escape("plain", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(authproto_escape("", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(authproto_escape("a\tb\nc\rd\001e", 9, out, sizeof(out)), 13);
	assert_string_equal(out, "a\001tb\001nc\001rd\0011e");
	assert_int_equal(authproto_escape("x\0y", 3, out, sizeof(out)), 4);
	assert_memory_equal(out, "x\0010y", 5);
	/* Only TAB, LF, CR, NUL and \001 are special. */
	assert_int_equal(authproto_escape("\002 =\\\x7f\xff", 6, out, sizeof(out)), 6);
	assert_memory_equal(out, "\002 =\\\x7f\xff", 7);
}

static void
test_escape_overflow(void **state)
{
	static const char *const ins[] = { "abc", "\t", "a\tb", "\001\001", "\n\r", "abcd\t" };
	char out[32];

	(void)state;
	for (size_t i = 0; i < NELEM(ins); i++) {
		size_t n = strlen(ins[i]);
		char full[32];
		int need = authproto_escape(ins[i], n, full, sizeof(full));
		assert_true(need >= (int)n);
		/* need + 1 bytes fit exactly; every smaller buffer fails without
		 * writing past its end. */
		for (size_t sz = 0; sz <= (size_t)need + 1; sz++) {
			memset(out, 'Z', sizeof(out));
			int r = authproto_escape(ins[i], n, out, sz);
			if (sz == (size_t)need + 1) {
				assert_int_equal(r, need);
				assert_string_equal(out, full);
			} else
				assert_int_equal(r, -1);
			for (size_t k = sz; k < sizeof(out); k++)
				assert_int_equal(out[k], 'Z');
		}
	}
}

static void
test_escape_roundtrip(void **state)
{
	unsigned char in[300];
	char esc[700], line[1500], *argv[4];

	(void)state;
	/* Every byte value but NUL, in three fields. */
	for (int i = 0; i < 255; i++)
		in[i] = (unsigned char)(i + 1);
	int a = authproto_escape((const char *)in, 255, esc, sizeof(esc));
	assert_true(a > 255);
	assert_null(memchr(esc, '\t', (size_t)a));
	assert_null(memchr(esc, '\n', (size_t)a));
	assert_null(memchr(esc, '\r', (size_t)a));
	int len = snprintf(line, sizeof(line), "OK\t%s\tuser=%s", esc, esc);
	assert_int_equal(authproto_split(line, (size_t)len, argv, 4), 3);
	assert_string_equal(argv[0], "OK");
	assert_int_equal(strlen(argv[1]), 255);
	assert_memory_equal(argv[1], in, 255);
	assert_int_equal(strncmp(argv[2], "user=", 5), 0);
	assert_memory_equal(argv[2] + 5, in, 255);

	/* Pseudo-random strings of the special bytes and letters. */
	static const char alpha[] = "\t\n\r\001\00101tnlab";
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round % 40);
		char s[64];
		for (size_t k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			s[k] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		int e = authproto_escape(s, n, esc, sizeof(esc));
		assert_true(e >= (int)n && e <= 2 * (int)n);
		assert_int_equal(authproto_split(esc, (size_t)e, argv, 4), 1);
		assert_int_equal(strlen(argv[0]), n);
		assert_memory_equal(argv[0], s, n);
	}
}

/* Split and parse a line (a copy); *buf is freed by the caller. */
static int
parse_line(const char *s, char **buf, char **argv, struct authproto_msg *m, const char **err)
{
	int argc = split_str(s, buf, argv);
	assert_true(argc >= 0);
	return authproto_parse(argv, argc, m, err);
}

static void
test_parse_version_cpid(void **state)
{
	char *argv[AUTHPROTO_ARGS_MAX], *buf;
	struct authproto_msg m;
	const char *err;

	(void)state;
	assert_int_equal(parse_line("VERSION\t1\t2", &buf, argv, &m, &err), 0);
	assert_int_equal(m.cmd, AP_VERSION);
	assert_int_equal(m.major, 1);
	assert_int_equal(m.minor, 2);
	assert_null(err);
	free(buf);
	assert_int_equal(parse_line("VERSION\t1\t0\textra", &buf, argv, &m, &err), 0);
	assert_int_equal(m.minor, 0);
	free(buf);
	assert_int_equal(parse_line("VERSION\t4294967295\t0", &buf, argv, &m, &err), 0);
	assert_int_equal(m.major, 4294967295UL);
	free(buf);

	static const char *const bad[] = {
		"VERSION", "VERSION\t1", "VERSION\t\t0", "VERSION\tx\t0", "VERSION\t1\t-1",
		"VERSION\t+1\t0", "VERSION\t 1\t0", "VERSION\t1x\t0", "VERSION\t1\t0x",
		"VERSION\t12345678901\t0", "CPID", "CPID\t", "CPID\tabc", "CPID\t-5", "CPID\t12 ",
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		err = NULL;
		if (parse_line(bad[i], &buf, argv, &m, &err) != -1)
			fail_msg("'%s' parsed", bad[i]);
		assert_non_null(err);
		free(buf);
	}

	assert_int_equal(parse_line("CPID\t4242", &buf, argv, &m, &err), 0);
	assert_int_equal(m.cmd, AP_CPID);
	assert_int_equal(m.id, 4242);
	free(buf);
}

static void
test_parse_auth(void **state)
{
	char *argv[AUTHPROTO_ARGS_MAX], *buf;
	struct authproto_msg m;
	const char *err;

	(void)state;
	assert_int_equal(parse_line("AUTH\t7\tPLAIN\tservice=smtp\tnologin\tlip=192.0.2.1\t"
	    "rip=198.51.100.7\tsecured\tresp=AHVzZXIxAHBhc3M=", &buf, argv, &m, &err), 0);
	assert_int_equal(m.cmd, AP_AUTH);
	assert_int_equal(m.auth.id, 7);
	assert_int_equal(m.id, 7);
	assert_string_equal(m.auth.mech, "PLAIN");
	assert_string_equal(m.auth.service, "smtp");
	assert_string_equal(m.auth.lip, "192.0.2.1");
	assert_string_equal(m.auth.rip, "198.51.100.7");
	assert_string_equal(m.auth.resp, "AHVzZXIxAHBhc3M=");
	assert_true(m.auth.secured);
	assert_true(m.auth.nologin);
	assert_false(m.auth.final_resp_ok);
	free(buf);
	assert_int_equal(parse_line("AUTH\t8\tSCRAM-SHA-256\tfinal-resp-ok", &buf, argv, &m, &err), 0);
	assert_true(m.auth.final_resp_ok);
	free(buf);

	/* Defaults: nothing given. */
	assert_int_equal(parse_line("AUTH\t1\tLOGIN", &buf, argv, &m, &err), 0);
	assert_string_equal(m.auth.mech, "LOGIN");
	assert_string_equal(m.auth.service, "");
	assert_string_equal(m.auth.lip, "");
	assert_string_equal(m.auth.rip, "");
	assert_null(m.auth.resp);
	assert_false(m.auth.secured);
	assert_false(m.auth.nologin);
	free(buf);

	/* An empty resp= is an empty initial response, not none. */
	assert_int_equal(parse_line("AUTH\t2\tLOGIN\tresp=", &buf, argv, &m, &err), 0);
	assert_non_null(m.auth.resp);
	assert_string_equal(m.auth.resp, "");
	free(buf);

	/* Unknown parameters are ignored, look-alikes do not count, secured=X counts. */
	assert_int_equal(parse_line("AUTH\t3\tSCRAM-SHA-256\tsession=abc\tcert_username=x\t"
	    "valid-client-cert\tsecure\tsecuredX\tservicex=imap\tRIP=1.2.3.4\tresp\t"
	    "nologinx\tservice=submission", &buf, argv, &m, &err), 0);
	assert_string_equal(m.auth.mech, "SCRAM-SHA-256");
	assert_string_equal(m.auth.service, "submission");
	assert_string_equal(m.auth.rip, "");
	assert_null(m.auth.resp);
	assert_false(m.auth.secured);
	assert_false(m.auth.nologin);
	free(buf);
	assert_int_equal(parse_line("AUTH\t4\tPLAIN\tsecured=tls", &buf, argv, &m, &err), 0);
	assert_true(m.auth.secured);
	free(buf);

	/* Escaped values come back unescaped; the last of a repeated key wins. */
	assert_int_equal(parse_line("AUTH\t5\tPLAIN\trip=a\001tb\trip=10.0.0.1\tservice=s\001ln",
	    &buf, argv, &m, &err), 0);
	assert_string_equal(m.auth.rip, "10.0.0.1");
	assert_string_equal(m.auth.service, "s\nn");
	free(buf);

	static const char *const bad[] = {
		"AUTH", "AUTH\t1", "AUTH\t\tPLAIN", "AUTH\tx\tPLAIN", "AUTH\t1\t",
		"AUTH\t1\t\tresp=AA==", "AUTH\t-1\tPLAIN", "AUTH\t99999999999\tPLAIN",
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		err = NULL;
		if (parse_line(bad[i], &buf, argv, &m, &err) != -1)
			fail_msg("'%s' parsed", bad[i]);
		assert_non_null(err);
		assert_int_equal(m.cmd, AP_AUTH);
		free(buf);
	}
}

static void
test_parse_cont_cancel_unknown(void **state)
{
	char *argv[AUTHPROTO_ARGS_MAX], *buf;
	struct authproto_msg m;
	const char *err;

	(void)state;
	assert_int_equal(parse_line("CONT\t9\tdXNlcjE=", &buf, argv, &m, &err), 0);
	assert_int_equal(m.cmd, AP_CONT);
	assert_int_equal(m.id, 9);
	assert_string_equal(m.data, "dXNlcjE=");
	free(buf);
	assert_int_equal(parse_line("CONT\t9\t", &buf, argv, &m, &err), 0);
	assert_string_equal(m.data, "");
	free(buf);
	assert_int_equal(parse_line("CANCEL\t12", &buf, argv, &m, &err), 0);
	assert_int_equal(m.cmd, AP_CANCEL);
	assert_int_equal(m.id, 12);
	assert_null(m.data);
	free(buf);

	static const char *const bad[] = { "CONT", "CONT\t9", "CONT\tx\tAA==", "CONT\t\tAA==",
		"CANCEL", "CANCEL\t", "CANCEL\tid" };
	for (size_t i = 0; i < NELEM(bad); i++) {
		err = NULL;
		if (parse_line(bad[i], &buf, argv, &m, &err) != -1)
			fail_msg("'%s' parsed", bad[i]);
		assert_non_null(err);
		free(buf);
	}

	/* Unknown commands parse (the protocol says: ignore them); names are case-sensitive. */
	static const char *const unknown[] = { "MECH\tPLAIN", "auth\t1\tPLAIN", "Version\t1\t0",
		"", "\tAUTH", "OK\t1\tuser=x", "CONTX\t1\tAA", "AUTHX" };
	for (size_t i = 0; i < NELEM(unknown); i++) {
		err = "unset";
		if (parse_line(unknown[i], &buf, argv, &m, &err) != 0)
			fail_msg("'%s' refused: %s", unknown[i], err);
		assert_int_equal(m.cmd, AP_UNKNOWN);
		assert_null(err);
		free(buf);
	}

	/* No fields at all. */
	err = NULL;
	assert_int_equal(authproto_parse(argv, 0, &m, &err), -1);
	assert_non_null(err);
}

/* Every prefix of real lines, split and parsed from exact-size buffers:
 * no crash, no read past the end, and what parses is consistent. */
static void
test_prefixes(void **state)
{
	static const char *const lines[] = {
		"AUTH\t17\tSCRAM-SHA-256\tservice=smtp\tnologin\trip=2001:db8::1\tsecured\tresp=biwsbj11c2VyLHI9YWJj",
		"VERSION\t1\t2",
		"CONT\t3\tUGFzc3dvcmQ6",
		"CPID\t31337",
		"AUTH\t1\tPLAIN\tservice=smtp\trip=a\001tb\tresp=AA\001n==",
	};
	char *argv[AUTHPROTO_ARGS_MAX], *buf;
	struct authproto_msg m;
	const char *err;

	(void)state;
	for (size_t i = 0; i < NELEM(lines); i++) {
		size_t len = strlen(lines[i]);
		for (size_t k = 0; k <= len; k++) {
			int argc = split_copy(lines[i], k, &buf, argv, AUTHPROTO_ARGS_MAX);
			assert_true(argc >= 1 && argc <= AUTHPROTO_ARGS_MAX);
			for (int a = 0; a < argc; a++)
				assert_true(argv[a] >= buf && argv[a] + strlen(argv[a]) <= buf + k);
			err = NULL;
			int rc = authproto_parse(argv, argc, &m, &err);
			if (rc < 0)
				assert_non_null(err);
			else if (m.cmd == AP_AUTH) {
				assert_true(m.auth.mech[0] != '\0');
				assert_int_equal(m.id, m.auth.id);
			}
			free(buf);
		}
	}
}

/* A stream of lines cut at every possible point, reassembled at LF as
 * the service does: the same messages as the whole stream. */
static void
test_stream_bytewise(void **state)
{
	static const char stream[] =
	    "VERSION\t1\t0\nCPID\t77\nAUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=AGEAYg==\n"
	    "AUTH\t2\tLOGIN\tservice=smtp\nCONT\t2\tYQ==\nCANCEL\t2\nSOMETHING\tnew\n";
	static const enum authproto_cmd want[] = { AP_VERSION, AP_CPID, AP_AUTH, AP_AUTH, AP_CONT,
		AP_CANCEL, AP_UNKNOWN };
	static const unsigned long ids[] = { 0, 77, 1, 2, 2, 2, 0 };
	char acc[256], *argv[AUTHPROTO_ARGS_MAX];
	struct authproto_msg m;
	const char *err;

	(void)state;
	for (size_t chunk = 1; chunk <= 7; chunk++) {
		size_t alen = 0, nmsg = 0;
		for (size_t off = 0; off < sizeof(stream) - 1; off += chunk) {
			size_t n = sizeof(stream) - 1 - off < chunk ? sizeof(stream) - 1 - off : chunk;
			for (size_t k = 0; k < n; k++) {
				char ch = stream[off + k];
				if (ch != '\n') {
					assert_true(alen < sizeof(acc));
					acc[alen++] = ch;
					continue;
				}
				/* As from evbuffer_readln: len bytes and a terminator. */
				char *line = malloc(alen + 1);
				memcpy(line, acc, alen);
				line[alen] = '\0';
				int argc = authproto_split(line, alen, argv, AUTHPROTO_ARGS_MAX);
				assert_true(argc > 0);
				assert_int_equal(authproto_parse(argv, argc, &m, &err), 0);
				assert_true(nmsg < NELEM(want));
				assert_int_equal(m.cmd, want[nmsg]);
				if (m.cmd != AP_VERSION && m.cmd != AP_UNKNOWN)
					assert_int_equal(m.id, ids[nmsg]);
				if (nmsg == 2)
					assert_string_equal(m.auth.resp, "AGEAYg==");
				nmsg++;
				alen = 0;
				free(line);
			}
		}
		assert_int_equal(nmsg, NELEM(want));
		assert_int_equal(alen, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_fields),
		cmocka_unit_test(test_split_escapes),
		cmocka_unit_test(test_split_control),
		cmocka_unit_test(test_split_max),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_overflow),
		cmocka_unit_test(test_escape_roundtrip),
		cmocka_unit_test(test_parse_version_cpid),
		cmocka_unit_test(test_parse_auth),
		cmocka_unit_test(test_parse_cont_cancel_unknown),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_stream_bytewise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
