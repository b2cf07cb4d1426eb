/* Unit tests for src/queue: envelope records, the file format, and the on-disk queue. */
#include "tu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include <zlib.h>

#include "lib/util.h"
#include "queue/queue.h"

#define TEST_ID "0123456789ABCDEF"

/* ---- helpers ---- */

static void
assert_str_or_null(const char *what, const char *got, const char *want)
{
	if (got == NULL && want == NULL)
		return;
	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		fail_msg("%s: got %s%s%s, want %s%s%s", what, got ? "\"" : "", got ? got : "NULL",
		    got ? "\"" : "", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
}

static void
assert_env_equal(const struct qenv *a, const struct qenv *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->arrival, b->arrival);
	assert_str_or_null("sender", a->sender, b->sender);
	assert_str_or_null("client", a->client, b->client);
	assert_str_or_null("helo", a->helo, b->helo);
	assert_str_or_null("envid", a->envid, b->envid);
	assert_str_or_null("ret", a->ret, b->ret);
	assert_str_or_null("body_type", a->body_type, b->body_type);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->submit_uid, b->submit_uid);
	assert_int_equal(a->nrcpts, b->nrcpts);
	for (size_t i = 0; i < a->nrcpts; i++) {
		assert_str_or_null("rcpt addr", a->rcpts[i].addr, b->rcpts[i].addr);
		assert_str_or_null("rcpt orcpt", a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		assert_int_equal(a->rcpts[i].notify, b->rcpts[i].notify);
	}
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A typical envelope with two recipients; every string allocated. */
static void
sample_env(struct qenv *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->id, TEST_ID, sizeof(e->id));
	e->arrival = 1700000000;
	e->sender = xstrdup("alice@example.org");
	e->client = xstrdup("mx.example.net[192.0.2.1]");
	e->helo = xstrdup("mx.example.net");
	e->envid = xstrdup("QQ314159");
	e->ret = xstrdup("HDRS");
	e->body_type = xstrdup("8BITMIME");
	e->smtputf8 = true;
	e->submit_uid = -1;
	e->nrcpts = 2;
	e->rcpts = xcalloc(2, sizeof(*e->rcpts));
	e->rcpts[0].addr = xstrdup("bob@example.com");
	e->rcpts[0].orcpt = xstrdup("rfc822;Bob@Example.COM");
	e->rcpts[0].notify = NOTIFY_SUCCESS | NOTIFY_FAILURE;
	e->rcpts[1].addr = xstrdup("carol@example.com");
	e->rcpts[1].orcpt = NULL;
	e->rcpts[1].notify = 0;
}

static unsigned long
body_crc(const char *body, size_t n)
{
	return crc32(crc32(0L, Z_NULL, 0), (const Bytef *)body, (uInt)n);
}

/* header (through "body\n") + body + a correct trailer */
static char *
with_trailer(const char *hdr, size_t hlen, const char *body, size_t blen, size_t *len_r)
{
	char trailer[64];
	int tn = snprintf(trailer, sizeof(trailer), "end %zu %08lx\n", blen, body_crc(body, blen));
	char *f = xmalloc(hlen + blen + (size_t)tn);

	memcpy(f, hdr, hlen);
	if (blen > 0)
		memcpy(f + hlen, body, blen);
	memcpy(f + hlen + blen, trailer, (size_t)tn);
	*len_r = hlen + blen + (size_t)tn;
	return f;
}

static char *
build_file(const struct qenv *e, const char *body, size_t blen, size_t *len_r, size_t *hlen_r)
{
	size_t hlen;
	char *hdr = qenv_serialize(e, &hlen);
	char *f = with_trailer(hdr, hlen, body, blen, len_r);

	free(hdr);
	if (hlen_r != NULL)
		*hlen_r = hlen;
	return f;
}

/* Parse exactly len bytes from a private allocation, so ASan sees any overread. */
static int
parse_exact(const char *buf, size_t len, struct qenv *e, const char **err)
{
	char *copy = xmalloc(len ? len : 1);

	if (len > 0)
		memcpy(copy, buf, len);
	*err = NULL;
	int rc = qenv_parse(copy, len, e, err);
	if (rc == 0) {
		assert_null(*err);
	} else {
		assert_int_equal(rc, -1);
		assert_non_null(*err);
		/* A failed parse leaves nothing to free. */
		assert_null(e->sender);
		assert_null(e->rcpts);
		assert_int_equal(e->nrcpts, 0);
	}
	free(copy);
	return rc;
}

/* Parse a header text followed by a small body and a correct trailer. */
static int
parse_hdr(const char *hdr, const char **err)
{
	struct qenv e;
	size_t len;
	char *f = with_trailer(hdr, strlen(hdr), "Subject: x\n\nhi\n", 15, &len);
	int rc = parse_exact(f, len, &e, err);

	free(f);
	if (rc == 0)
		qenv_free(&e);
	return rc;
}

/* Serialised text must be pure printable ASCII lines: no NUL, no raw control
 * or 8-bit bytes, exactly want_lines newlines. */
static void
check_serialized_clean(const char *s, size_t len, size_t want_lines)
{
	size_t lines = 0;

	assert_int_equal(strlen(s), len);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\n') {
			lines++;
			continue;
		}
		if (ch < 0x20 || ch >= 0x7f)
			fail_msg("serialised envelope has raw byte 0x%02x at %zu", ch, i);
	}
	assert_int_equal(lines, want_lines);
}

/* ---- serialisation and parsing (pure) ---- */

static void
test_serialize_format(void **state)
{
	struct qenv e;
	size_t len;
	(void)state;

	sample_env(&e);
	char *s = qenv_serialize(&e, &len);
	assert_string_equal(s,
	    "estafeta-queue 1\n"
	    "id 0123456789ABCDEF\n"
	    "arrival 1700000000\n"
	    "sender alice@example.org\n"
	    "client mx.example.net[192.0.2.1]\n"
	    "helo mx.example.net\n"
	    "envid QQ314159\n"
	    "ret HDRS\n"
	    "body-type 8BITMIME\n"
	    "smtputf8 1\n"
	    "uid -1\n"
	    "rcpt 6 bob@example.com rfc822;Bob@Example.COM\n"
	    "rcpt 0 carol@example.com -\n"
	    "body\n");
	assert_int_equal(len, strlen(s));
	free(s);

	/* NULL is "-", "" is "%", unsafe bytes are %XX. */
	free(e.helo);
	e.helo = NULL;
	free(e.sender);
	e.sender = xstrdup("");
	free(e.envid);
	e.envid = xstrdup("a b%c\n-\xff");
	free(e.ret);
	e.ret = xstrdup("-");
	e.smtputf8 = false;
	e.submit_uid = 1000;
	s = qenv_serialize(&e, &len);
	assert_non_null(strstr(s, "\nsender %\n"));
	assert_non_null(strstr(s, "\nhelo -\n"));
	assert_non_null(strstr(s, "\nenvid a%20b%25c%0A-%FF\n"));
	assert_non_null(strstr(s, "\nret %2D\n"));
	assert_non_null(strstr(s, "\nsmtputf8 0\nuid 1000\n"));
	free(s);
	qenv_free(&e);
}

static void
test_roundtrip_basic(void **state)
{
	struct qenv e, p;
	size_t len, hlen;
	const char *err;
	static const char body[] = "Subject: hi\r\n\r\nbody line\r\n.\r\n";
	(void)state;

	sample_env(&e);
	char *f = build_file(&e, body, sizeof(body) - 1, &len, &hlen);
	assert_int_equal(parse_exact(f, len, &p, &err), 0);
	assert_env_equal(&p, &e);
	assert_int_equal(p.body_off, hlen);
	assert_int_equal(p.body_len, sizeof(body) - 1);
	assert_memory_equal(f + p.body_off, body, p.body_len);
	/* Retry state is not part of the envelope. */
	assert_int_equal(p.attempts, 0);
	assert_int_equal(p.rcpts[0].status, RCPT_PENDING);
	assert_null(p.rcpts[0].last_error);
	qenv_free(&p);
	free(f);

	/* Extremes of the numeric fields, NULL optional fields, every notify value. */
	free(e.envid);
	free(e.ret);
	free(e.body_type);
	free(e.helo);
	e.envid = e.ret = e.body_type = e.helo = NULL;
	e.arrival = -1;
	e.submit_uid = 2147483647L;
	e.smtputf8 = false;
	for (unsigned notify = 0; notify <= 15; notify++) {
		e.rcpts[1].notify = notify;
		f = build_file(&e, "", 0, &len, &hlen);
		assert_int_equal(parse_exact(f, len, &p, &err), 0);
		assert_env_equal(&p, &e);
		assert_int_equal(p.body_len, 0);
		assert_int_equal(p.body_off, hlen);
		qenv_free(&p);
		free(f);
	}
	qenv_free(&e);

	/* A minimal file: only id, sender and one recipient. */
	assert_int_equal(parse_hdr("estafeta-queue 1\nid " TEST_ID "\nsender %\nrcpt 0 x@y -\nbody\n", &err), 0);
	const char *hdr = "estafeta-queue 1\nid " TEST_ID "\nsender %\nrcpt 0 x@y -\nbody\n";
	f = with_trailer(hdr, strlen(hdr), "", 0, &len);
	assert_int_equal(parse_exact(f, len, &p, &err), 0);
	assert_string_equal(p.sender, "");
	assert_null(p.client);
	assert_int_equal(p.submit_uid, -1);
	assert_int_equal(p.arrival, 0);
	assert_false(p.smtputf8);
	qenv_free(&p);
	free(f);
}

/* The string fields of an envelope, by index, for the byte-by-byte tests. */
#define NFIELDS 10

static char **
field_ptr(struct qenv *e, int i, const char **name)
{
	static const char *const names[NFIELDS] = { "sender", "client", "helo", "envid", "ret",
		"body-type", "rcpt0 addr", "rcpt0 orcpt", "rcpt1 addr", "rcpt1 orcpt" };
	*name = names[i];
	switch (i) {
	case 0: return &e->sender;
	case 1: return &e->client;
	case 2: return &e->helo;
	case 3: return &e->envid;
	case 4: return &e->ret;
	case 5: return &e->body_type;
	case 6: return &e->rcpts[0].addr;
	case 7: return &e->rcpts[0].orcpt;
	case 8: return &e->rcpts[1].addr;
	default: return &e->rcpts[1].orcpt;
	}
}

/* Set field i to v, serialise with a body, reparse: every field identical. */
static void
roundtrip_field(int i, const char *v)
{
	struct qenv e, p;
	const char *name, *err;
	size_t len, hlen, slen;

	sample_env(&e);
	char **fp = field_ptr(&e, i, &name);
	free(*fp);
	*fp = dup_or_null(v);
	char *s = qenv_serialize(&e, &slen);
	check_serialized_clean(s, slen, 12 + e.nrcpts);
	free(s);
	char *f = build_file(&e, "x\n", 2, &len, &hlen);
	if (parse_exact(f, len, &p, &err) != 0)
		fail_msg("field %s = \"%s\": reparse failed: %s", name, v ? v : "NULL", err);
	assert_env_equal(&p, &e);
	const char *pname;
	char **pp = field_ptr(&p, i, &pname);
	if (v != NULL && (*pp == NULL || strlen(*pp) != strlen(v) || memcmp(*pp, v, strlen(v)) != 0))
		fail_msg("field %s: value changed", name);
	assert_int_equal(p.body_off, hlen);
	assert_int_equal(p.body_len, 2);
	qenv_free(&p);
	qenv_free(&e);
	free(f);
}

/* T-META-ROUNDTRIP: every byte 0x01..0xFF in every stored string field. */
static void
test_meta_roundtrip_bytes(void **state)
{
	(void)state;
	for (int i = 0; i < NFIELDS; i++) {
		for (unsigned b = 1; b <= 0xff; b++) {
			char v[8];
			v[0] = (char)b;
			v[1] = '\0';
			roundtrip_field(i, v);
			v[0] = 'a';
			v[1] = (char)b;
			v[2] = 'z';
			v[3] = '\0';
			roundtrip_field(i, v);
			v[0] = (char)b;
			v[1] = (char)b;
			v[2] = '-';
			v[3] = (char)b;
			v[4] = '\0';
			roundtrip_field(i, v);
		}
	}
}

static void
test_meta_roundtrip_strings(void **state)
{
	static const char *const vals[] = {
		"-", "%", "", "a b", "x\r\nrcpt evil", "x\nrcpt 0 evil@example.com -", "%25", "%2D",
		"-%", "--", "- ", " -", "%%", "%zz", "end 0 00000000", "body", "\nbody\n",
		"sender x", "caf\xc3\xa9@\xe4\xbe\x8b\xe3\x81\x88.jp", "\x7f\x80\xff", "\t\v\f",
		"a\\b\"c", "<a@b>", "+", "0", NULL,
	};
	(void)state;

	for (int i = 0; i < NFIELDS; i++)
		for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
			/* sender and recipient addresses must not be NULL */
			if (vals[k] == NULL && (i == 0 || i == 6 || i == 8))
				continue;
			roundtrip_field(i, vals[k]);
		}

	/* A long value with every byte. */
	char *big = xmalloc(20 * 255 + 1);
	for (size_t k = 0; k < 20 * 255; k++)
		big[k] = (char)(1 + k % 255);
	big[20 * 255] = '\0';
	for (int i = 0; i < NFIELDS; i++)
		roundtrip_field(i, big);
	free(big);
}

/* Many recipients survive with their order. */
static void
test_many_rcpts(void **state)
{
	struct qenv e, p;
	size_t len;
	const char *err;
	(void)state;

	sample_env(&e);
	for (size_t i = 0; i < e.nrcpts; i++) {
		free(e.rcpts[i].addr);
		free(e.rcpts[i].orcpt);
	}
	free(e.rcpts);
	e.nrcpts = 1000;
	e.rcpts = xcalloc(e.nrcpts, sizeof(*e.rcpts));
	for (size_t i = 0; i < e.nrcpts; i++) {
		e.rcpts[i].addr = xasprintf("user%zu@example.com", i);
		e.rcpts[i].orcpt = i % 3 ? xasprintf("rfc822;User %zu", i) : NULL;
		e.rcpts[i].notify = (unsigned)(i % 16);
	}
	char *f = build_file(&e, "b\n", 2, &len, NULL);
	assert_int_equal(parse_exact(f, len, &p, &err), 0);
	assert_env_equal(&p, &e);
	qenv_free(&p);
	free(f);
	qenv_free(&e);
}

/* Every proper prefix of a valid file fails; the whole file parses. */
static void
test_truncated_prefixes(void **state)
{
	struct qenv e, p;
	size_t len;
	const char *err;
	static const char body[] = "From: a@b\n\nend 3 0\nend 12 deadbeef\nlast line\n";
	(void)state;

	sample_env(&e);
	char *f = build_file(&e, body, sizeof(body) - 1, &len, NULL);
	for (size_t k = 0; k < len; k++)
		if (parse_exact(f, k, &p, &err) != -1) {
			qenv_free(&p);
			fail_msg("prefix of %zu/%zu bytes parsed", k, len);
		}
	assert_int_equal(parse_exact(f, len, &p, &err), 0);
	assert_env_equal(&p, &e);
	qenv_free(&p);
	free(f);

	/* The same with an empty body. */
	f = build_file(&e, "", 0, &len, NULL);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(parse_exact(f, k, &p, &err), -1);
	assert_int_equal(parse_exact(f, len, &p, &err), 0);
	qenv_free(&p);
	free(f);
	qenv_free(&e);
}

static void
test_bad_trailer(void **state)
{
	struct qenv e, p;
	size_t hlen, len;
	const char *err;
	static const char body[] = "Subject: x\n\nhello\n";
	const size_t blen = sizeof(body) - 1;
	char *f;
	(void)state;

	sample_env(&e);
	char *hdr = qenv_serialize(&e, &hlen);
	char *buf = xmalloc(hlen + blen + 200);
	memcpy(buf, hdr, hlen);
	memcpy(buf + hlen, body, blen);
	unsigned long crc = body_crc(body, blen);

	/* No end record at all. */
	assert_int_equal(parse_exact(buf, hlen + blen, &p, &err), -1);
	assert_string_equal(err, "queue file is incomplete (bad end record)");
	assert_int_equal(parse_exact(buf, hlen, &p, &err), -1);
	assert_string_equal(err, "queue file is incomplete (no end record)");
	/* No body record. */
	assert_int_equal(parse_exact(buf, hlen - 5, &p, &err), -1);
	assert_string_equal(err, "queue file has no body record");

	long long bl = (long long)blen;
	char *bad[] = {
		xasprintf("end %lld %08lx\n", bl - 1, crc),
		xasprintf("end %lld %08lx\n", bl + 1, crc),
		xasprintf("end %d %08lx\n", 0, crc),
		xasprintf("end %lld %08lx\n", -bl, crc),
		xasprintf("end %lld %08lx\nend %lld %08lx\n", bl, crc, bl, crc),	/* not last */
		xasprintf("end %lld %08lx\n\n", bl, crc),
		xasprintf("end %lld %08lx\nx", bl, crc),
		xasprintf("end %lld %08lx", bl, crc),
		xasprintf("end %lld %08lx \n", bl, crc),
		xasprintf("end %lld %08lx\n", 1LL << 40, crc),
		xasprintf("end  %lld %08lx\n", bl, crc),
		xasprintf("End %lld %08lx\n", bl, crc),
		xasprintf("end %lld\n", bl),	/* the old trailer without a checksum */
		xasprintf("end %lld \n", bl),
		xasprintf("end %lld %08lxz\n", bl, crc),
		xasprintf("end %lld %08lx\r\n", bl, crc),
		xasprintf("end %lld,%08lx\n", bl, crc),
		xasprintf("%s", "end\n"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t tn = strlen(bad[i]);
		memcpy(buf + hlen + blen, bad[i], tn);
		if (parse_exact(buf, hlen + blen + tn, &p, &err) != -1) {
			qenv_free(&p);
			fail_msg("bad trailer %zu accepted: \"%s\"", i, bad[i]);
		}
		free(bad[i]);
	}
	/* Wrong checksum, and any single flipped bit in the body. */
	int tn = snprintf(buf + hlen + blen, 200, "end %zu %08lx\n", blen, crc ^ 1);
	assert_int_equal(parse_exact(buf, hlen + blen + (size_t)tn, &p, &err), -1);
	assert_string_equal(err, "queue file is damaged (checksum mismatch)");
	tn = snprintf(buf + hlen + blen, 200, "end %zu %08lx\n", blen, crc);
	assert_int_equal(parse_exact(buf, hlen + blen + (size_t)tn, &p, &err), 0);
	qenv_free(&p);
	for (size_t i = 0; i < blen; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[hlen + i] ^= (char)(1 << bit);
			if (parse_exact(buf, hlen + blen + (size_t)tn, &p, &err) != -1)
				fail_msg("body with byte %zu bit %d flipped accepted", i, bit);
			buf[hlen + i] ^= (char)(1 << bit);
		}
	free(buf);
	free(hdr);

	/* Trailing bytes after a valid file. */
	f = build_file(&e, body, blen, &len, NULL);
	f = xrealloc(f, len + 1);
	f[len] = '\n';
	assert_int_equal(parse_exact(f, len + 1, &p, &err), -1);
	f[len - 1] = '\r';
	assert_int_equal(parse_exact(f, len, &p, &err), -1);
	free(f);
	qenv_free(&e);
}

/* A body need not end with a newline (BDAT carries any bytes). */
static void
test_body_without_newline(void **state)
{
	struct qenv e, p;
	size_t len, hlen;
	const char *err;
	static const char *const bodies[] = { "abc", "x\ny", "\n\nend 1 0", "1", "end 3 " };
	(void)state;

	sample_env(&e);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t blen = strlen(bodies[i]);
		char *f = build_file(&e, bodies[i], blen, &len, &hlen);
		if (parse_exact(f, len, &p, &err) != 0)
			fail_msg("body \"%s\" without final newline: %s", bodies[i], err);
		assert_int_equal(p.body_off, hlen);
		assert_int_equal(p.body_len, blen);
		qenv_free(&p);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(parse_exact(f, k, &p, &err), -1);
		free(f);
	}
	/* Binary body with NULs. */
	char bin[300];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7);
	char *f = build_file(&e, bin, sizeof(bin), &len, &hlen);
	if (parse_exact(f, len, &p, &err) != 0)
		fail_msg("binary body: %s", err);
	assert_memory_equal(f + p.body_off, bin, sizeof(bin));
	qenv_free(&p);
	free(f);
	qenv_free(&e);
}

static void
test_parse_malformed(void **state)
{
	const char *err;
	(void)state;

#define H0 "estafeta-queue 1\nid " TEST_ID "\narrival 1\n"
#define H1 "client local\nsmtputf8 0\nuid -1\n"
	/* The base is valid. */
	assert_int_equal(parse_hdr(H0 "sender a@b\n" H1 "rcpt 0 x@y -\nbody\n", &err), 0);

	static const char *const bad[] = {
		"",
		"estafeta-queue 2\nid " TEST_ID "\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1 \nid " TEST_ID "\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"Estafeta-queue 1\nid " TEST_ID "\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\r\nid " TEST_ID "\nsender a@b\nrcpt 0 x@y -\nbody\n",
		/* missing required records */
		"estafeta-queue 1\nsender a@b\nrcpt 0 x@y -\nbody\n",
		H0 "rcpt 0 x@y -\nbody\n",
		H0 "sender -\nrcpt 0 x@y -\nbody\n",
		H0 "sender a@b\nbody\n",
		H0 "sender a@b\nrcpt 0 x@y -\n",
		H0 "sender a@b\nrcpt 0 x@y -\nbody",
		H0 "sender a@b\nrcpt 0 x@y -\nbody \n",
		H0 "sender a@b\nrcpt 0 x@y -\nBODY\n",
		/* id */
		"estafeta-queue 1\nid 0123456789ABCDE\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid 0123456789ABCDEF0\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid\nsender a@b\nrcpt 0 x@y -\nbody\n",
		/* ids are what queue_make_id writes: 16 upper-case hex digits */
		"estafeta-queue 1\nid 0123456789abcdef\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid 0123456789ABCDEG\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid ../../../tmp/xyz\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid 012345678\xc7\xbe\xbd\xb2" "DEF\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid 0123456789ABCDE \nsender a@b\nrcpt 0 x@y -\nbody\n",
		/* numbers */
		H0 "arrival x\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid " TEST_ID "\narrival\nsender a@b\nrcpt 0 x@y -\nbody\n",
		"estafeta-queue 1\nid " TEST_ID "\narrival 99999999999999999999\nsender a@b\nrcpt 0 x@y -\nbody\n",
		H0 "uid 1x\nsender a@b\nrcpt 0 x@y -\nbody\n",
		/* unknown, misspelt or glued keys */
		H0 "sender a@b\nrcpt 0 x@y -\nfoo bar\nbody\n",
		H0 "senderx a@b\nrcpt 0 x@y -\nbody\n",
		H0 "Sender a@b\nrcpt 0 x@y -\nbody\n",
		H0 " sender a@b\nrcpt 0 x@y -\nbody\n",
		H0 "sender a@b\n\nrcpt 0 x@y -\nbody\n",
		/* duplicates */
		H0 "sender a@b\nsender c@d\nrcpt 0 x@y -\nbody\n",
		H0 "sender a@b\nhelo x\nhelo y\nrcpt 0 x@y -\nbody\n",
		H0 "sender a@b\nclient x\nclient y\nrcpt 0 x@y -\nbody\n",
		H0 "sender a@b\nenvid x\nenvid y\nrcpt 0 x@y -\nbody\n",
		/* empty values and bad escapes */
		H0 "sender\nrcpt 0 x@y -\nbody\n",
		H0 "sender \nrcpt 0 x@y -\nbody\n",
		H0 "sender a b\nrcpt 0 x@y -\nbody\n",
		H0 "sender a@b\r\nrcpt 0 x@y -\nbody\n",
		H0 "sender a\tb\nrcpt 0 x@y -\nbody\n",
		H0 "sender a\x7f\nrcpt 0 x@y -\nbody\n",
		H0 "sender a\xc3\xa9\nrcpt 0 x@y -\nbody\n",
		H0 "sender a%\nrcpt 0 x@y -\nbody\n",
		H0 "sender a%4\nrcpt 0 x@y -\nbody\n",
		H0 "sender a%4g\nrcpt 0 x@y -\nbody\n",
		H0 "sender a%2d\nrcpt 0 x@y -\nbody\n",
		H0 "sender a%00b\nrcpt 0 x@y -\nbody\n",
		H0 "sender %00\nrcpt 0 x@y -\nbody\n",
		H0 "sender a@b\nhelo %%\nrcpt 0 x@y -\nbody\n",
		/* recipients */
		H0 "sender a@b\nrcpt\nbody\n",
		H0 "sender a@b\nrcpt 0\nbody\n",
		H0 "sender a@b\nrcpt 0 x@y\nbody\n",
		H0 "sender a@b\nrcpt 0 - -\nbody\n",
		H0 "sender a@b\nrcpt 16 x@y -\nbody\n",
		H0 "sender a@b\nrcpt -1 x@y -\nbody\n",
		H0 "sender a@b\nrcpt x x@y -\nbody\n",
		H0 "sender a@b\nrcpt  0 x@y -\nbody\n",
		H0 "sender a@b\nrcpt 0 x@y - extra\nbody\n",
		H0 "sender a@b\nrcpt 0 x@y %0\nbody\n",
		H0 "sender a@b\nrcpt 0 x%00y -\nbody\n",
		H0 "sender a@b\nrcpt 0 x@y -\nrcpt 0 a b c\nbody\n",
		NULL
	};
	for (size_t i = 0; bad[i]; i++)
		if (parse_hdr(bad[i], &err) != -1)
			fail_msg("malformed header %zu accepted:\n%s", i, bad[i]);

	/* A NUL inside the id. */
	static const char nulid[] = "estafeta-queue 1\nid 01234567\0" "9ABCDEF\nsender a@b\nrcpt 0 x@y -\nbody\n";
	struct qenv q;
	size_t qlen;
	char *qf = with_trailer(nulid, sizeof(nulid) - 1, "", 0, &qlen);
	assert_int_equal(parse_exact(qf, qlen, &q, &err), -1);
	free(qf);

	/* A NUL inside a record. */
	static const char nul[] = H0 "sender a@b\nhelo a\0b\nrcpt 0 x@y -\nbody\n";
	struct qenv p;
	size_t len;
	char *f = with_trailer(nul, sizeof(nul) - 1, "", 0, &len);
	assert_int_equal(parse_exact(f, len, &p, &err), -1);
	free(f);
#undef H0
#undef H1
}

static void
test_parse_state(void **state)
{
	struct qenv e;
	(void)state;

	sample_env(&e);
	static const char st[] = "attempts 3\nnext 1700000300\nrcpt 0 sent -\n"
	    "rcpt 1 bounced 550%205.1.1%20No%20such%20user%0A%25\n";
	assert_int_equal(qenv_parse_state(st, sizeof(st) - 1, &e), 0);
	assert_int_equal(e.attempts, 3);
	assert_int_equal(e.next_try, 1700000300);
	assert_int_equal(e.rcpts[0].status, RCPT_SENT);
	assert_null(e.rcpts[0].last_error);
	assert_int_equal(e.rcpts[1].status, RCPT_BOUNCED);
	assert_string_equal(e.rcpts[1].last_error, "550 5.1.1 No such user\n%");
	/* Applying another state replaces the error text. */
	static const char st2[] = "rcpt 1 pending 451%20later\n";
	assert_int_equal(qenv_parse_state(st2, sizeof(st2) - 1, &e), 0);
	assert_int_equal(e.rcpts[1].status, RCPT_PENDING);
	assert_string_equal(e.rcpts[1].last_error, "451 later");
	assert_int_equal(qenv_parse_state("", 0, &e), 0);

	static const char *const bad[] = {
		"rcpt 2 sent -\n", "rcpt -1 sent -\n", "rcpt x sent -\n", "rcpt\n", "bogus 1\n",
		"attempts -1\n", "attempts x\n", "next\n", NULL
	};
	for (size_t i = 0; bad[i]; i++)
		if (qenv_parse_state(bad[i], strlen(bad[i]), &e) != -1)
			fail_msg("state \"%s\" accepted", bad[i]);
	qenv_free(&e);
}

/* ---- the queue on disk ---- */

struct cbstate {
	int calls, ok, failed;
	int last_result;
	const char *last_error;
};

static void
commit_cb(void *arg, int result, const char *error)
{
	struct cbstate *st = arg;

	st->calls++;
	st->last_result = result;
	st->last_error = error;
	if (result == 0)
		st->ok++;
	else
		st->failed++;
}

static void
wait_callbacks(struct queue *q, struct cbstate *st, int want)
{
	for (int rounds = 0; st->calls < want; rounds++) {
		struct pollfd pfd = { .fd = queue_notify_fd(q), .events = POLLIN };
		int n = poll(&pfd, 1, 20000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || rounds > 100000)
			fail_msg("waiting for commits: %d of %d callbacks", st->calls, want);
		queue_run_completions(q);
	}
	assert_int_equal(st->calls, want);
}

static bool
exists(const char *dir, const char *sub, const char *name)
{
	char path[4200];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	return stat(path, &sb) == 0;
}

static size_t
count_entries(const char *dir, const char *sub)
{
	char path[4200];
	size_t n = 0;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static bool
valid_id(const char *id)
{
	return strlen(id) == QUEUE_ID_LEN && strspn(id, "0123456789ABCDEF") == QUEUE_ID_LEN;
}

/* Pseudo-random body bytes (all 256 values), ending in a newline. */
static char *
make_body(size_t n, unsigned seed)
{
	char *b = xmalloc(n ? n : 1);
	unsigned x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)(x >> 16);
	}
	if (n > 0)
		b[n - 1] = '\n';
	return b;
}

/* Commit one message written in the given chunk sizes; check the file and its reload. */
static void
commit_and_check(const char *spool, enum queue_sync sync, const char *body, size_t blen,
    const size_t *chunks, size_t nchunks)
{
	const char *err = NULL;
	struct queue *q = queue_open(spool, sync, &err);
	struct qenv e, p;
	struct cbstate st = { 0 };

	if (q == NULL)
		fail_msg("queue_open: %s", err);
	char *qdir = xasprintf("%s/queue", spool);
	assert_string_equal(queue_dir(q), qdir);
	sample_env(&e);
	memset(e.id, 0, sizeof(e.id));
	struct qfile *f = queue_file_create(q, &e, &err);
	assert_non_null(f);
	assert_true(valid_id(e.id));
	assert_true(exists(spool, "incoming", e.id));
	assert_false(exists(spool, "queue", e.id));
	size_t off = 0, k = 0;
	while (off < blen) {
		size_t n = chunks[k++ % nchunks];
		if (n > blen - off)
			n = blen - off;
		assert_int_equal(queue_file_write(f, body + off, n), 0);
		off += n;
		assert_int_equal(queue_file_size(f), off);
	}
	queue_file_commit(f, commit_cb, &st);
	wait_callbacks(q, &st, 1);
	assert_int_equal(st.last_result, 0);
	assert_null(st.last_error);
	assert_false(exists(spool, "incoming", e.id));
	assert_true(exists(spool, "queue", e.id));

	assert_int_equal(queue_load(qdir, e.id, &p, &err), 0);
	assert_env_equal(&p, &e);
	assert_int_equal(p.body_len, blen);
	/* The body is where queue_load says. */
	char *path = xasprintf("%s/%s", qdir, e.id);
	char *data;
	size_t dlen;
	assert_int_equal(read_file(path, 1 << 30, &data, &dlen), 0);
	size_t hlen;
	char *hdr = qenv_serialize(&e, &hlen);
	assert_int_equal(p.body_off, hlen);
	assert_memory_equal(data, hdr, hlen);
	assert_true((size_t)p.body_off + p.body_len < dlen);
	assert_memory_equal(data + p.body_off, body, blen);
	free(hdr);
	free(data);
	free(path);
	qenv_free(&p);
	assert_int_equal(queue_remove(spool, e.id), 0);
	qenv_free(&e);
	free(qdir);
	queue_close(&q);
	assert_null(q);
}

static void
test_file_commit_load(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	char *spool = xasprintf("%s/spool/sub", dir);	/* created by queue_open */
	static const size_t one[] = { 1 };
	static const size_t mixed[] = { 1, 7, 4095, 65536, 65535, 70000, 3, 131072, 65537 };
	static const size_t whole[] = { 1 << 30 };

	static const char small[] = "Subject: test\n\nhello\n";
	for (int s = 0; s < 2; s++) {
		enum queue_sync sync = s ? QUEUE_SYNC_FILE : QUEUE_SYNC_FS;
		commit_and_check(spool, sync, small, sizeof(small) - 1, whole, 1);
		commit_and_check(spool, sync, small, sizeof(small) - 1, one, 1);
		commit_and_check(spool, sync, "", 0, whole, 1);
		char *big = make_body(600 * 1024 + 13, 1);
		commit_and_check(spool, sync, big, 600 * 1024 + 13, mixed, 9);
		commit_and_check(spool, sync, big, 600 * 1024 + 13, whole, 1);
		free(big);
		/* Exactly the buffer size, and one either side. */
		for (size_t n = 65535; n <= 65537; n++) {
			char *b = make_body(n, (unsigned)n);
			commit_and_check(spool, sync, b, n, whole, 1);
			commit_and_check(spool, sync, b, n, mixed, 9);
			free(b);
		}
	}
	assert_int_equal(count_entries(spool, "queue"), 0);
	assert_int_equal(count_entries(spool, "incoming"), 0);
	free(spool);
	tu_rmtree(dir);
	free(dir);
}

/* A message whose body does not end with a newline is committed and loads. */
static void
test_file_body_without_newline(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	static const size_t whole[] = { 1 << 30 };

	commit_and_check(dir, QUEUE_SYNC_FS, "no newline at the end", 21, whole, 1);
	char bin[100];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(0xff - i);
	commit_and_check(dir, QUEUE_SYNC_FS, bin, sizeof(bin), whole, 1);
	tu_rmtree(dir);
	free(dir);
}

static void
test_abort(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err;
	struct queue *q = queue_open(dir, QUEUE_SYNC_FS, &err);
	struct qenv e;

	assert_non_null(q);
	sample_env(&e);
	struct qfile *f = queue_file_create(q, &e, &err);
	assert_non_null(f);
	assert_true(exists(dir, "incoming", e.id));
	char *big = make_body(200000, 3);
	assert_int_equal(queue_file_write(f, big, 200000), 0);
	free(big);
	queue_file_abort(f);
	assert_int_equal(count_entries(dir, "incoming"), 0);
	assert_int_equal(count_entries(dir, "queue"), 0);
	/* Nothing is delivered to callbacks either. */
	queue_run_completions(q);
	qenv_free(&e);
	queue_close(&q);
	tu_rmtree(dir);
	free(dir);
}

static void
test_commit_sync(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err = NULL;
	struct queue *q = queue_open(dir, QUEUE_SYNC_FILE, &err);
	struct qenv e, p;

	assert_non_null(q);
	sample_env(&e);
	struct qfile *f = queue_file_create(q, &e, &err);
	assert_non_null(f);
	assert_int_equal(queue_file_write(f, "a\n", 2), 0);
	assert_int_equal(queue_file_commit_sync(f, &err), 0);
	assert_true(exists(dir, "queue", e.id));
	assert_false(exists(dir, "incoming", e.id));
	assert_int_equal(queue_load(queue_dir(q), e.id, &p, &err), 0);
	assert_env_equal(&p, &e);
	assert_int_equal(p.body_len, 2);
	qenv_free(&p);
	qenv_free(&e);
	queue_close(&q);
	tu_rmtree(dir);
	free(dir);
}

static void
write_junk(const char *dir, const char *sub, const char *name)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "junk\n", 5), 5);
	close(fd);
}

static void
test_list_sorted(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err;
	char **ids;
	size_t n;

	/* No spool yet. */
	assert_int_equal(queue_list(dir, &ids, &n), -1);
	struct queue *q = queue_open(dir, QUEUE_SYNC_FS, &err);
	assert_non_null(q);
	/* An empty queue. */
	assert_int_equal(queue_list(dir, &ids, &n), 0);
	assert_int_equal(n, 0);
	free(ids);

	char made[20][QUEUE_ID_LEN + 1];
	for (int i = 0; i < 20; i++) {
		struct qenv e;
		sample_env(&e);
		struct qfile *f = queue_file_create(q, &e, &err);
		assert_non_null(f);
		assert_int_equal(queue_file_write(f, "x\n", 2), 0);
		assert_int_equal(queue_file_commit_sync(f, &err), 0);
		memcpy(made[i], e.id, sizeof(made[i]));
		qenv_free(&e);
	}
	/* Names that are not queue ids are ignored. */
	write_junk(dir, "queue", "0123456789abcdef");
	write_junk(dir, "queue", "0123456789ABCDE");
	write_junk(dir, "queue", "0123456789ABCDEF0");
	write_junk(dir, "queue", "0123456789ABCDEF.tmp");
	write_junk(dir, "queue", "G123456789ABCDEF");
	write_junk(dir, "queue", ".0123456789ABCDE");
	write_junk(dir, "queue", "0000000000000000");	/* looks like an id: listed */

	assert_int_equal(queue_list(dir, &ids, &n), 0);
	assert_int_equal(n, 21);
	for (size_t i = 0; i < n; i++) {
		assert_true(valid_id(ids[i]));
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("queue_list not sorted: %s before %s", ids[i - 1], ids[i]);
	}
	assert_string_equal(ids[0], "0000000000000000");
	for (int i = 0; i < 20; i++) {
		bool found = false;
		for (size_t k = 0; k < n; k++)
			found |= strcmp(ids[k], made[i]) == 0;
		assert_true(found);
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	queue_close(&q);
	tu_rmtree(dir);
	free(dir);
}

static void
test_state_save_load(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err;
	struct queue *q = queue_open(dir, QUEUE_SYNC_FS, &err);
	struct qenv e, p;

	assert_non_null(q);
	sample_env(&e);
	struct qfile *f = queue_file_create(q, &e, &err);
	assert_non_null(f);
	assert_int_equal(queue_file_commit_sync(f, &err), 0);

	/* No state file: fresh counters. */
	assert_int_equal(queue_load(queue_dir(q), e.id, &p, &err), 0);
	assert_int_equal(p.attempts, 0);
	assert_int_equal(p.next_try, 0);
	assert_int_equal(p.rcpts[0].status, RCPT_PENDING);
	qenv_free(&p);

	e.attempts = 7;
	e.next_try = 1700003600;
	e.rcpts[0].status = RCPT_SENT;
	e.rcpts[1].status = RCPT_BOUNCED;
	e.rcpts[1].last_error = xstrdup("452 4.2.2 Mailbox full\r\nrcpt 0 sent -\n% -");
	assert_int_equal(queue_save_state(dir, &e), 0);
	assert_true(exists(dir, "state", e.id));
	assert_int_equal(queue_load(queue_dir(q), e.id, &p, &err), 0);
	assert_env_equal(&p, &e);
	assert_int_equal(p.attempts, 7);
	assert_int_equal(p.next_try, 1700003600);
	assert_int_equal(p.rcpts[0].status, RCPT_SENT);
	assert_null(p.rcpts[0].last_error);
	assert_int_equal(p.rcpts[1].status, RCPT_BOUNCED);
	assert_string_equal(p.rcpts[1].last_error, e.rcpts[1].last_error);
	qenv_free(&p);

	/* Every byte in an error text survives. */
	char errtext[256];
	for (int i = 0; i < 255; i++)
		errtext[i] = (char)(i + 1);
	errtext[255] = '\0';
	free(e.rcpts[0].last_error);
	e.rcpts[0].last_error = xstrdup(errtext);
	e.rcpts[0].status = RCPT_PENDING;
	free(e.rcpts[1].last_error);
	e.rcpts[1].last_error = xstrdup("");
	assert_int_equal(queue_save_state(dir, &e), 0);
	assert_int_equal(queue_load(queue_dir(q), e.id, &p, &err), 0);
	assert_int_equal(p.rcpts[0].status, RCPT_PENDING);
	assert_string_equal(p.rcpts[0].last_error, errtext);
	assert_string_equal(p.rcpts[1].last_error, "");
	qenv_free(&p);
	/* No temporary file is left behind. */
	assert_int_equal(count_entries(dir, "state"), 1);

	/* queue_remove takes the state with it. */
	assert_int_equal(queue_remove(dir, e.id), 0);
	assert_false(exists(dir, "queue", e.id));
	assert_false(exists(dir, "state", e.id));
	assert_int_equal(queue_load(queue_dir(q), e.id, &p, &err), -1);
	assert_non_null(err);
	errno = 0;
	assert_int_equal(queue_remove(dir, e.id), -1);
	assert_int_equal(errno, ENOENT);
	qenv_free(&e);
	queue_close(&q);
	tu_rmtree(dir);
	free(dir);
}

/* A delivered file is reused by the next message: same inode, new content; a
 * reused file still holding an older message is rejected by its name. */
static void
test_recycle(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err = NULL;
	struct queue *q = queue_open(dir, QUEUE_SYNC_FS, &err);
	struct qenv e1, e2, p;
	struct cbstate st = { 0 };
	struct stat sb1, sb2;

	assert_non_null(q);
	char *qdir = xasprintf("%s/queue", dir);
	sample_env(&e1);
	struct qfile *f = queue_file_create(q, &e1, &err);
	assert_non_null(f);
	char *big = make_body(10000, 1);
	assert_int_equal(queue_file_write(f, big, 10000), 0);
	queue_file_commit(f, commit_cb, &st);
	wait_callbacks(q, &st, 1);
	char *p1 = xasprintf("%s/%s", qdir, e1.id);
	assert_int_equal(stat(p1, &sb1), 0);

	assert_int_equal(queue_recycle(q, e1.id), 0);
	assert_false(exists(dir, "queue", e1.id));
	assert_true(exists(dir, "free", e1.id));

	sample_env(&e2);
	f = queue_file_create(q, &e2, &err);
	assert_non_null(f);
	assert_string_not_equal(e1.id, e2.id);
	assert_false(exists(dir, "free", e1.id));
	assert_int_equal(queue_file_write(f, "short\n", 6), 0);
	queue_file_commit(f, commit_cb, &st);
	wait_callbacks(q, &st, 2);
	assert_int_equal(st.ok, 2);
	char *p2 = xasprintf("%s/%s", qdir, e2.id);
	assert_int_equal(stat(p2, &sb2), 0);
	assert_int_equal(sb1.st_ino, sb2.st_ino);	/* no new inode */
	assert_int_equal(queue_load(qdir, e2.id, &p, &err), 0);
	assert_int_equal(p.body_len, 6);	/* truncated: nothing of the old body */
	qenv_free(&p);

	/* A crash could leave the old content under a new name. */
	char *stale = xasprintf("%s/0000000000000000", qdir);
	assert_int_equal(link(p2, stale), 0);
	assert_int_equal(queue_load(qdir, "0000000000000000", &p, &err), -1);
	assert_non_null(strstr(err, "another message"));

	/* free/ is read back at the next open: the pool survives restarts. */
	assert_int_equal(queue_recycle(q, e2.id), 0);
	queue_close(&q);
	q = queue_open(dir, QUEUE_SYNC_FS, &err);
	assert_non_null(q);
	struct qenv e3;
	sample_env(&e3);
	f = queue_file_create(q, &e3, &err);
	assert_non_null(f);
	assert_false(exists(dir, "free", e2.id));
	queue_file_abort(f);
	qenv_free(&e3);
	queue_close(&q);
	free(stale);
	free(p1);
	free(p2);
	free(big);
	free(qdir);
	qenv_free(&e1);
	qenv_free(&e2);
	tu_rmtree(dir);
	free(dir);
}

static void
test_quarantine(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err;
	struct queue *q = queue_open(dir, QUEUE_SYNC_FS, &err);
	struct qenv e;

	assert_non_null(q);
	sample_env(&e);
	struct qfile *f = queue_file_create(q, &e, &err);
	assert_non_null(f);
	assert_int_equal(queue_file_commit_sync(f, &err), 0);
	assert_int_equal(queue_save_state(dir, &e), 0);
	assert_int_equal(queue_quarantine(dir, e.id), 0);
	assert_false(exists(dir, "queue", e.id));
	assert_false(exists(dir, "state", e.id));
	assert_true(exists(dir, "corrupt", e.id));
	qenv_free(&e);
	queue_close(&q);
	tu_rmtree(dir);
	free(dir);
}

/* Unacknowledged files in incoming/ are dropped when the queue opens. */
static void
test_open_cleans_incoming(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err;
	struct queue *q = queue_open(dir, QUEUE_SYNC_FS, &err);
	struct qenv e;

	assert_non_null(q);
	sample_env(&e);
	struct qfile *f = queue_file_create(q, &e, &err);
	assert_non_null(f);
	assert_int_equal(queue_file_write(f, "x\n", 2), 0);
	write_junk(dir, "incoming", "0123456789ABCDEF");
	/* Simulate a crash: the file stays in incoming/; reopen from scratch. */
	struct queue *q2 = queue_open(dir, QUEUE_SYNC_FS, &err);
	assert_non_null(q2);
	assert_int_equal(count_entries(dir, "incoming"), 0);
	queue_close(&q2);
	queue_file_abort(f);
	qenv_free(&e);
	queue_close(&q);

	/* A spool that cannot be created. */
	char *bad = xasprintf("%s/file", dir);
	write_junk(dir, ".", "file");
	err = NULL;
	assert_null(queue_open(bad, QUEUE_SYNC_FS, &err));
	assert_non_null(err);
	free(bad);
	tu_rmtree(dir);
	free(dir);
}

/* Group commit: many messages committed at once all arrive. */
static void
group_commit(enum queue_sync sync)
{
	enum { N = 50 };
	char *dir = tu_tmpdir();
	const char *err;
	struct queue *q = queue_open(dir, sync, &err);
	struct cbstate st = { 0 };
	char ids[N][QUEUE_ID_LEN + 1];
	struct qenv e;

	assert_non_null(q);
	for (int i = 0; i < N; i++) {
		sample_env(&e);
		e.submit_uid = i;
		struct qfile *f = queue_file_create(q, &e, &err);
		assert_non_null(f);
		char body[64];
		int bn = snprintf(body, sizeof(body), "Subject: %d\n\nmessage %d\n", i, i);
		assert_int_equal(queue_file_write(f, body, (size_t)bn), 0);
		queue_file_commit(f, commit_cb, &st);
		memcpy(ids[i], e.id, sizeof(ids[i]));
		qenv_free(&e);
	}
	wait_callbacks(q, &st, N);
	assert_int_equal(st.ok, N);
	assert_int_equal(st.failed, 0);
	for (int i = 0; i < N; i++) {
		struct qenv p;
		for (int k = 0; k < i; k++)
			assert_string_not_equal(ids[k], ids[i]);
		assert_int_equal(queue_load(queue_dir(q), ids[i], &p, &err), 0);
		assert_int_equal(p.submit_uid, i);
		qenv_free(&p);
	}
	assert_int_equal(count_entries(dir, "queue"), N);
	assert_int_equal(count_entries(dir, "incoming"), 0);
	/* Nothing more arrives. */
	queue_run_completions(q);
	assert_int_equal(st.calls, N);
	queue_close(&q);
	tu_rmtree(dir);
	free(dir);
}

static void
test_group_commit_syncfs(void **state)
{
	(void)state;
	group_commit(QUEUE_SYNC_FS);
}

static void
test_group_commit_fsync(void **state)
{
	(void)state;
	group_commit(QUEUE_SYNC_FILE);
}

/* Commits still pending when the queue closes get their callbacks. */
static void
test_close_flushes(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	const char *err;
	struct queue *q = queue_open(dir, QUEUE_SYNC_FS, &err);
	struct cbstate st = { 0 };
	struct qenv e;

	assert_non_null(q);
	for (int i = 0; i < 5; i++) {
		sample_env(&e);
		struct qfile *f = queue_file_create(q, &e, &err);
		assert_non_null(f);
		queue_file_commit(f, commit_cb, &st);
		qenv_free(&e);
	}
	queue_close(&q);
	assert_int_equal(st.calls, 5);
	assert_int_equal(st.ok, 5);
	tu_rmtree(dir);
	free(dir);
}

static void
test_make_id(void **state)
{
	enum { N = 2000 };
	(void)state;
	char (*ids)[QUEUE_ID_LEN + 1] = xcalloc(N, sizeof(*ids));

	for (int i = 0; i < N; i++) {
		queue_make_id(ids[i]);
		assert_true(valid_id(ids[i]));
	}
	for (int i = 0; i < N; i++)
		for (int k = i + 1; k < N; k++)
			if (strcmp(ids[i], ids[k]) == 0)
				fail_msg("duplicate id %s", ids[i]);
	free(ids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serialize_format),
		cmocka_unit_test(test_roundtrip_basic),
		cmocka_unit_test(test_meta_roundtrip_bytes),
		cmocka_unit_test(test_meta_roundtrip_strings),
		cmocka_unit_test(test_many_rcpts),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_bad_trailer),
		cmocka_unit_test(test_body_without_newline),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_state),
		cmocka_unit_test(test_file_commit_load),
		cmocka_unit_test(test_file_body_without_newline),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_commit_sync),
		cmocka_unit_test(test_list_sorted),
		cmocka_unit_test(test_state_save_load),
		cmocka_unit_test(test_quarantine),
		cmocka_unit_test(test_recycle),
		cmocka_unit_test(test_open_cleans_incoming),
		cmocka_unit_test(test_group_commit_syncfs),
		cmocka_unit_test(test_group_commit_fsync),
		cmocka_unit_test(test_close_flushes),
		cmocka_unit_test(test_make_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
