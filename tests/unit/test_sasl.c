/* test_sasl: base64, PLAIN, UTF-8 and the SCRAM-SHA-256 server exchange. */
#include "tu.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/sasl.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define U(s) ((const unsigned char *)(s))

/* RFC 4648 section 10. */
static const struct {
	const char *plain, *enc;
} b64_vec[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_b64_vectors(void **state)
{
	unsigned char dec[16];
	char enc[16];
	size_t i, k, n, len, outlen;

	(void)state;
	for (i = 0; i < NELEM(b64_vec); i++) {
		n = strlen(b64_vec[i].plain);
		len = strlen(b64_vec[i].enc);
		assert_int_equal(b64_encoded_len(n), len);
		assert_int_equal(b64_encode(b64_vec[i].plain, n, enc, sizeof(enc)), len);
		assert_string_equal(enc, b64_vec[i].enc);
		/* Exactly len + 1 fits; anything smaller fails and writes nothing usable. */
		assert_int_equal(b64_encode(b64_vec[i].plain, n, enc, len + 1), len);
		for (k = 0; k <= len; k++) {
			memset(enc, 'x', sizeof(enc));
			assert_int_equal(b64_encode(b64_vec[i].plain, n, enc, k), (size_t)-1);
			if (k > 0)
				assert_int_equal(enc[0], '\0');
		}

		outlen = 99;
		assert_int_equal(b64_decode(b64_vec[i].enc, len, dec, sizeof(dec), &outlen), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(dec, b64_vec[i].plain, n);
		/* The output buffer may be exactly as big as the result, not smaller. */
		assert_int_equal(b64_decode(b64_vec[i].enc, len, dec, n, &outlen), 0);
		assert_int_equal(outlen, n);
		for (k = 0; k < n; k++)
			assert_int_equal(b64_decode(b64_vec[i].enc, len, dec, k, &outlen), -1);
	}
	/* Decoding "" needs no buffer at all. */
	outlen = 99;
	assert_int_equal(b64_decode("", 0, NULL, 0, &outlen), 0);
	assert_int_equal(outlen, 0);
	assert_int_equal(b64_encoded_len(SIZE_MAX), (size_t)-1);
	assert_int_equal(b64_encode("\xfb\xff", 2, enc, sizeof(enc)), 4);
	assert_string_equal(enc, "+/8=");
}

static void
test_b64_invalid(void **state)
{
	static const struct {
		const char *in;
		size_t len;	/* 0: strlen */
	} bad[] = {
		/* Not a multiple of 4. */
		{ "Z", 0 }, { "Zg", 0 }, { "Zg=", 0 }, { "Zm9", 0 },
		{ "Zm9vY", 0 }, { "Zm9vYg=", 0 }, { "Zm9vYg===", 0 },
		{ "Zg", 0 },					/* missing padding */
		{ "Zm8", 0 },
		{ "Zh==", 0 }, { "Zv==", 0 }, { "Zm9=", 0 },	/* bits set in the padding */
		{ "Zm+=", 0 }, { "Zm9vYh==", 0 },
		{ "Zg==Zg==", 0 }, { "Zm8=Zm9v", 0 },		/* '=' in the middle */
		{ "Z===", 0 }, { "====", 0 }, { "=Zm9", 0 }, { "Zm=v", 0 }, { "Z=g=", 0 },
		{ "Zm9v====", 0 }, { "Zg=a", 0 },
		{ "Zm-v", 0 }, { "Zm_v", 0 }, { "Zm.v", 0 },	/* bad characters */
		{ "Zm9v\n", 0 }, { " Zm9", 0 }, { "Zm 9v", 0 }, { "Zm9v\r\n", 0 },
		{ "Zm\09v", 4 }, { "Zm9\xc3", 0 }, { "Zm9\x80", 0 }, { "Zm9\xff", 0 },
		{ "Zm9v\t", 0 }, { "Zm9v    ", 0 },
	};
	unsigned char out[16];
	size_t i, len, outlen;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		len = bad[i].len ? bad[i].len : strlen(bad[i].in);
		outlen = 77;
		if (b64_decode(bad[i].in, len, out, sizeof(out), &outlen) != -1)
			fail_msg("bad base64 %zu \"%s\" accepted", i, bad[i].in);
		assert_int_equal(outlen, 77);
	}
}

/* Decoding is canonical: whatever decodes encodes back to the same text. */
static void
check_b64_canonical(const char *in, size_t n)
{
	unsigned char dec[64];
	char enc[100];
	size_t outlen;

	if (b64_decode(in, n, dec, sizeof(dec), &outlen) == -1)
		return;
	assert_int_equal(b64_encode(dec, outlen, enc, sizeof(enc)), n);
	assert_memory_equal(enc, in, n);
}

static void
test_b64_bytewise(void **state)
{
	static const char valid[] = "SGVsbG8sIHdvcmxkIQ==";
	unsigned char raw[40], dec[40];
	char enc[64], buf[sizeof(valid)];
	size_t n = strlen(valid), i, k, outlen;
	unsigned c;

	(void)state;
	/* Every prefix: only whole quads decode, and only to a prefix. */
	for (i = 0; i <= n; i++) {
		char *p = malloc(i ? i : 1);

		assert_non_null(p);
		memcpy(p, valid, i);
		if (b64_decode(p, i, dec, sizeof(dec), &outlen) == 0) {
			assert_int_equal(i % 4, 0);
			assert_memory_equal(dec, "Hello, world!", outlen);
		} else
			assert_true(i % 4 != 0);
		free(p);
	}
	/* Every byte value at every position. */
	for (i = 0; i < n; i++) {
		for (c = 0; c < 256; c++) {
			memcpy(buf, valid, sizeof(buf));
			buf[i] = (char)c;
			check_b64_canonical(buf, n);
		}
	}
	/* Round trip of all lengths and byte values. */
	for (k = 0; k <= sizeof(raw); k++) {
		for (i = 0; i < k; i++)
			raw[i] = (unsigned char)(i * 37 + k * 11 + 0x80);
		assert_int_equal(b64_encode(raw, k, enc, sizeof(enc)), b64_encoded_len(k));
		assert_int_equal(b64_decode(enc, strlen(enc), dec, sizeof(dec), &outlen), 0);
		assert_int_equal(outlen, k);
		assert_memory_equal(dec, raw, k);
		check_b64_canonical(enc, strlen(enc));
	}
}

static void
test_plain_ok(void **state)
{
	static const struct {
		const char *msg;
		size_t len;
		const char *zid, *cid, *pw;
	} ok[] = {
		{ "\0user\0pass", 10, "", "user", "pass" },
		{ "admin\0user\0pass", 15, "admin", "user", "pass" },
		{ "\0u\0p", 4, "", "u", "p" },
		{ "\0j\xc3\xbcrgen\0p\xc3\xa4ss w\xf0\x9f\x98\x80rd", 22, "",
		  "j\xc3\xbcrgen", "p\xc3\xa4ss w\xf0\x9f\x98\x80rd" },
		{ "\0user@example.com\0 spaces \t ok ", 31, "", "user@example.com",
		  " spaces \t ok " },
		/* Passwords are used as given: control characters included. */
		{ "\0u\0a\r\nb\x7f", 8, "", "u", "a\r\nb\x7f" },
	};
	struct sasl_plain p;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(ok); i++) {
		if (sasl_plain_parse(U(ok[i].msg), ok[i].len, &p) != 0)
			fail_msg("plain ok case %zu rejected", i);
		assert_string_equal(p.authzid, ok[i].zid);
		assert_string_equal(p.authcid, ok[i].cid);
		assert_string_equal(p.passwd, ok[i].pw);
	}
}

static void
test_plain_limits(void **state)
{
	unsigned char msg[1 + SASL_NAME_MAX + 1 + SASL_NAME_MAX + 1 + SASL_PASS_MAX + 2];
	struct sasl_plain p;
	size_t n;

	(void)state;
	/* authzid 255, authcid 255, passwd 1024: all at the limit. */
	memset(msg, 'a', sizeof(msg));
	n = SASL_NAME_MAX;
	msg[n++] = '\0';
	n += SASL_NAME_MAX;
	msg[n++] = '\0';
	n += SASL_PASS_MAX;
	assert_int_equal(sasl_plain_parse(msg, n, &p), 0);
	assert_int_equal(strlen(p.authzid), SASL_NAME_MAX);
	assert_int_equal(strlen(p.authcid), SASL_NAME_MAX);
	assert_int_equal(strlen(p.passwd), SASL_PASS_MAX);
	/* One more byte in the password. */
	assert_int_equal(sasl_plain_parse(msg, n + 1, &p), -1);
	assert_string_equal(p.authcid, "");
	/* One more byte in the authcid. */
	memset(msg, 'a', sizeof(msg));
	msg[0] = '\0';
	msg[1 + SASL_NAME_MAX + 1] = '\0';
	assert_int_equal(sasl_plain_parse(msg, 1 + SASL_NAME_MAX + 1 + 2, &p), -1);
	memset(msg, 'a', sizeof(msg));
	msg[0] = '\0';
	msg[1 + SASL_NAME_MAX] = '\0';
	assert_int_equal(sasl_plain_parse(msg, 1 + SASL_NAME_MAX + 2, &p), 0);
	/* One more byte in the authzid. */
	memset(msg, 'a', sizeof(msg));
	msg[SASL_NAME_MAX + 1] = '\0';
	msg[SASL_NAME_MAX + 3] = '\0';
	assert_int_equal(sasl_plain_parse(msg, SASL_NAME_MAX + 5, &p), -1);
}

static void
test_plain_bad(void **state)
{
	static const struct {
		const char *msg;
		size_t len;
	} bad[] = {
		{ "", 0 },
		{ "userpass", 8 },				/* no NUL */
		{ "\0userpass", 9 },				/* one NUL */
		{ "user\0pass", 9 },
		{ "\0user\0pass\0", 11 },			/* three NULs */
		{ "\0\0user\0pass", 11 },
		{ "a\0user\0pa\0ss", 12 },
		{ "\0\0pass", 6 },				/* empty authcid */
		{ "\0user\0", 6 },				/* empty passwd */
		{ "\0\0", 2 },
		{ "\0", 1 },
		{ "\0u\xc3\0p", 5 },				/* bad UTF-8 in each field */
		{ "\0u\0p\xc3", 5 },
		{ "\xff\0u\0p", 5 },
		{ "\0u\xc0\xaf\0p", 6 },			/* overlong */
		{ "\0u\0\xed\xa0\x80", 6 },			/* surrogate */
		{ "\0u\0\xf4\x90\x80\x80", 7 },			/* > U+10FFFF */
		{ "\0us\r\ner\0p", 9 },				/* controls in names */
		{ "\0user\x7f\0p", 8 },
		{ "a\tb\0user\0p", 10 },
		{ "\0u\xc2\x85\0p", 6 },			/* C1 NEL */
	};
	struct sasl_plain p;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		memset(&p, 'x', sizeof(p));
		if (sasl_plain_parse(U(bad[i].msg), bad[i].len, &p) != -1)
			fail_msg("plain bad case %zu accepted", i);
		/* Nothing of a rejected message stays behind, the password least. */
		assert_string_equal(p.authzid, "");
		assert_string_equal(p.authcid, "");
		assert_string_equal(p.passwd, "");
	}
}

/* Every prefix of a valid message: fails until the password has a byte. */
static void
test_plain_bytewise(void **state)
{
	static const char msg[] = "adm\xc3\xafn\0us\xe2\x82\xacr\0s\xc3\xa9" "cret";
	size_t n = sizeof(msg) - 1, second = 13, i;
	struct sasl_plain p;

	(void)state;
	assert_int_equal(msg[second], '\0');
	for (i = 0; i <= n; i++) {
		unsigned char *b = malloc(i ? i : 1);
		int r;

		assert_non_null(b);
		memcpy(b, msg, i);
		r = sasl_plain_parse(b, i, &p);
		/* A prefix cutting "\xc3\xa9" in two is not UTF-8. */
		if (i <= second + 1 || i == second + 3)
			assert_int_equal(r, -1);
		else {
			assert_int_equal(r, 0);
			assert_string_equal(p.authcid, "us\xe2\x82\xacr");
			assert_int_equal(strlen(p.passwd), i - second - 1);
		}
		free(b);
	}
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;	/* 0: strlen */
		bool ok;
	} t[] = {
		{ "", 0, true },
		{ "plain ASCII \x01\x7f", 0, true },
		{ "\0", 1, true },
		{ "\xc2\x80", 0, true },		/* U+0080 */
		{ "\xdf\xbf", 0, true },		/* U+07FF */
		{ "\xe0\xa0\x80", 0, true },		/* U+0800 */
		{ "\xed\x9f\xbf", 0, true },		/* U+D7FF */
		{ "\xee\x80\x80", 0, true },		/* U+E000 */
		{ "\xef\xbf\xbf", 0, true },		/* U+FFFF */
		{ "\xf0\x90\x80\x80", 0, true },	/* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 0, true },	/* U+10FFFF */
		{ "a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80", 0, true },
		{ "\x80", 0, false },			/* lone continuation */
		{ "\xbf", 0, false },
		{ "a\x80z", 0, false },
		{ "\xc0\x80", 0, false },		/* overlong */
		{ "\xc1\xbf", 0, false },
		{ "\xe0\x80\x80", 0, false },
		{ "\xe0\x9f\xbf", 0, false },
		{ "\xf0\x80\x80\x80", 0, false },
		{ "\xf0\x8f\xbf\xbf", 0, false },
		{ "\xed\xa0\x80", 0, false },		/* surrogates */
		{ "\xed\xbf\xbf", 0, false },
		{ "\xf4\x90\x80\x80", 0, false },	/* > U+10FFFF */
		{ "\xf5\x80\x80\x80", 0, false },
		{ "\xf8\x88\x80\x80\x80", 0, false },
		{ "\xfe", 0, false },
		{ "\xff", 0, false },
		{ "\xc2", 0, false },			/* truncated */
		{ "\xe0\xa0", 0, false },
		{ "\xf0\x90\x80", 0, false },
		{ "\xc2\x41", 0, false },		/* bad continuation */
		{ "\xe0\xa0\x41", 0, false },
		{ "\xf0\x90\x80\xc0", 0, false },
		{ "\xe2\x82\xac\xe2\x82", 0, false },
	};
	static const char multi[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x";
	static const bool boundary[] = { 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1 };
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(t); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].s);

		if (utf8_valid(U(t[i].s), len) != t[i].ok)
			fail_msg("utf8 case %zu: expected %d", i, t[i].ok);
	}
	/* Byte by byte: a prefix is valid exactly when it ends between characters. */
	for (i = 0; i < sizeof(multi); i++) {
		unsigned char *b = malloc(i ? i : 1);

		assert_non_null(b);
		memcpy(b, multi, i);
		assert_int_equal(utf8_valid(b, i), boundary[i]);
		free(b);
	}
}

/* SCRAM: RFC 7677 section 3. */
#define RFC_CFIRST	"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_NONCE	"rOprNGfwEbeRWgbNEkqO" RFC_SNONCE
#define RFC_SALT	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_SFIRST	"r=" RFC_NONCE ",s=" RFC_SALT ",i=4096"
#define RFC_PROOF	"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_CFINAL	"c=biws,r=" RFC_NONCE ",p=" RFC_PROOF
#define RFC_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
#define RFC_SECRET	"4096," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=," \
			"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static void
rfc_secret(struct scram_secret *sec)
{
	unsigned char salt[32];
	size_t saltlen;

	assert_int_equal(b64_decode(RFC_SALT, strlen(RFC_SALT), salt, sizeof(salt), &saltlen), 0);
	assert_int_equal(scram_secret_make("pencil", salt, saltlen, 4096, sec), 0);
}

/* client-first and server-first of an exchange that must get that far. */
static void
scram_begin(struct scram_server *s, const struct scram_secret *sec, const char *cfirst,
    const char *snonce)
{
	const char *err = NULL;
	char buf[1024];

	memset(s, 0, sizeof(*s));
	if (scram_server_client_first(s, U(cfirst), strlen(cfirst), &err) != 0)
		fail_msg("client-first \"%s\": %s", cfirst, err);
	assert_int_equal(s->state, SCRAM_GOT_FIRST);
	assert_true(scram_server_first(s, sec, snonce, buf, sizeof(buf)) > 0);
	assert_int_equal(s->state, SCRAM_SENT_FIRST);
}

static int
scram_final(struct scram_server *s, const struct scram_secret *sec, const char *cfinal,
    char *out, size_t outsz, const char **err)
{
	size_t outlen = 99;
	int r;

	*err = NULL;
	r = scram_server_client_final(s, sec, U(cfinal), strlen(cfinal), out, outsz, &outlen, err);
	if (r == 1)
		assert_int_equal(outlen, strlen(out));
	else {
		assert_int_equal(outlen, 0);
		assert_int_equal(s->state, SCRAM_FAILED);
		assert_non_null(*err);
	}
	return r;
}

static void
test_scram_rfc7677(void **state)
{
	struct scram_server s;
	struct scram_secret sec;
	const char *err = NULL;
	char buf[1024];
	size_t outlen = 0;

	(void)state;
	rfc_secret(&sec);
	assert_int_equal(scram_secret_format(&sec, buf, sizeof(buf)), strlen(RFC_SECRET));
	assert_string_equal(buf, RFC_SECRET);

	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err),
	    0);
	assert_string_equal(s.authcid, "user");
	assert_string_equal(s.authzid, "");
	assert_string_equal(s.gs2_header, "n,,");
	assert_string_equal(s.client_first_bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
	assert_int_equal(scram_server_first(&s, &sec, RFC_SNONCE, buf, sizeof(buf)),
	    strlen(RFC_SFIRST));
	assert_string_equal(buf, RFC_SFIRST);
	assert_int_equal(scram_server_client_final(&s, &sec, U(RFC_CFINAL), strlen(RFC_CFINAL),
	    buf, sizeof(buf), &outlen, &err), 1);
	assert_string_equal(buf, RFC_SFINAL);
	assert_int_equal(outlen, strlen(RFC_SFINAL));
	assert_int_equal(s.state, SCRAM_DONE);
	assert_string_equal(s.authcid, "user");

	/* The same with the secret as stored, and the exact output size. */
	assert_int_equal(scram_secret_parse(RFC_SECRET, &sec), 0);
	scram_begin(&s, &sec, RFC_CFIRST, RFC_SNONCE);
	assert_int_equal(scram_final(&s, &sec, RFC_CFINAL, buf, strlen(RFC_SFINAL) + 1, &err), 1);
	assert_string_equal(buf, RFC_SFINAL);
	/* One byte short: a right proof, but no room for the answer. */
	scram_begin(&s, &sec, RFC_CFIRST, RFC_SNONCE);
	assert_int_equal(scram_final(&s, &sec, RFC_CFINAL, buf, strlen(RFC_SFINAL), &err), -1);
	assert_string_equal(buf, "");
}

/* A SCRAM client, to check exchanges the RFC has no example of. */
static void
client_final(const char *password, const char *bare, const char *sfirst, const char *wp,
    char *cfinal, size_t cfsz, char *sfinal, size_t sfsz)
{
	unsigned char salt[SCRAM_SALT_MAX], sp[32], ck[32], sk[32], vk[32], cs[32], ss[32];
	char am[4096], salt64[100], proof[64];
	unsigned iter;
	unsigned len = 32;
	size_t saltlen, i;
	const char *p;

	p = strstr(sfirst, ",s=");
	assert_non_null(p);
	i = strcspn(p + 3, ",");
	memcpy(salt64, p + 3, i);
	salt64[i] = '\0';
	assert_int_equal(b64_decode(salt64, i, salt, sizeof(salt), &saltlen), 0);
	p = strstr(sfirst, ",i=");
	assert_non_null(p);
	iter = (unsigned)strtoul(p + 3, NULL, 10);
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen,
	    (int)iter, EVP_sha256(), 32, sp), 1);
	assert_non_null(HMAC(EVP_sha256(), sp, 32, U("Client Key"), 10, ck, &len));
	assert_non_null(HMAC(EVP_sha256(), sp, 32, U("Server Key"), 10, vk, &len));
	SHA256(ck, 32, sk);
	snprintf(am, sizeof(am), "%s,%s,%s", bare, sfirst, wp);
	assert_non_null(HMAC(EVP_sha256(), sk, 32, U(am), strlen(am), cs, &len));
	assert_non_null(HMAC(EVP_sha256(), vk, 32, U(am), strlen(am), ss, &len));
	for (i = 0; i < 32; i++)
		ck[i] ^= cs[i];
	assert_int_equal(b64_encode(ck, 32, proof, sizeof(proof)), 44);
	snprintf(cfinal, cfsz, "%s,p=%s", wp, proof);
	memcpy(sfinal, "v=", 2);
	assert_int_equal(b64_encode(ss, 32, sfinal + 2, sfsz - 2), 44);
}

/* Our client agrees with the RFC. */
static void
test_scram_client_helper(void **state)
{
	char cf[512], sf[100];

	(void)state;
	client_final("pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO", RFC_SFIRST,
	    "c=biws,r=" RFC_NONCE, cf, sizeof(cf), sf, sizeof(sf));
	assert_string_equal(cf, RFC_CFINAL);
	assert_string_equal(sf, RFC_SFINAL);
}

static void
test_scram_exchanges(void **state)
{
	static const struct {
		const char *cfirst;
		const char *authcid, *authzid, *gs2_b64, *ext;
	} t[] = {
		{ "n,,n=user,r=abc", "user", "", "biws", "" },
		{ "y,,n=user,r=abc", "user", "", "eSws", "" },
		{ "n,a=admin,n=user,r=abc", "user", "admin", "bixhPWFkbWluLA==", "" },
		{ "n,a=a=3Db=2Cc,n=x=2Cy=3D,r=abc", "x,y=", "a=b,c", "bixhPWE9M0RiPTJDYyw=", "" },
		{ "n,,n=j\xc3\xbcrgen,r=!\"#+-~", "j\xc3\xbcrgen", "", "biws", "" },
		{ "n,,n=user,r=abc,x=1,Y=\xc3\xa9=,", NULL, NULL, NULL, NULL },
		{ "n,,n=user,r=abc,x=1,Y=\xc3\xa9=", "user", "", "biws", ",z=ext" },
		{ "n,,n=user@example.com,r=abc", "user@example.com", "", "biws", ",e=a=b=c" },
	};
	struct scram_secret sec;
	struct scram_server s;
	const char *err;
	char wp[640], cf[700], sf[100], out[100], gs2[64];
	size_t outlen;

	(void)state;
	assert_int_equal(scram_secret_make("s3cr\xc3\xa9t", U("saltsalt"), 8, 16, &sec), 0);
	for (size_t i = 0; i < NELEM(t); i++) {
		memset(&s, 0, sizeof(s));
		err = NULL;
		if (t[i].authcid == NULL) {
			assert_int_equal(scram_server_client_first(&s, U(t[i].cfirst),
			    strlen(t[i].cfirst), &err), -1);
			assert_non_null(err);
			continue;
		}
		scram_begin(&s, &sec, t[i].cfirst, "SERVERnonce");
		assert_string_equal(s.authcid, t[i].authcid);
		assert_string_equal(s.authzid, t[i].authzid);
		/* The test table's c= is independent of the code's encoder. */
		assert_int_equal(b64_decode(t[i].gs2_b64, strlen(t[i].gs2_b64),
		    (unsigned char *)gs2, sizeof(gs2) - 1, &outlen), 0);
		gs2[outlen] = '\0';
		assert_string_equal(s.gs2_header, gs2);
		snprintf(wp, sizeof(wp), "c=%s,r=%s%s", t[i].gs2_b64, s.nonce, t[i].ext);
		client_final("s3cr\xc3\xa9t", s.client_first_bare, s.server_first, wp, cf,
		    sizeof(cf), sf, sizeof(sf));
		if (scram_final(&s, &sec, cf, out, sizeof(out), &err) != 1)
			fail_msg("exchange %zu: %s", i, err);
		assert_string_equal(out, sf);
		assert_int_equal(s.state, SCRAM_DONE);

		/* The wrong password gives a well-formed but wrong proof. */
		scram_begin(&s, &sec, t[i].cfirst, "SERVERnonce");
		client_final("s3cret", s.client_first_bare, s.server_first, wp, cf, sizeof(cf), sf,
		    sizeof(sf));
		assert_int_equal(scram_final(&s, &sec, cf, out, sizeof(out), &err), 0);
		assert_string_equal(out, "");
		/* Names are kept for the log after a failure. */
		assert_string_equal(s.authcid, t[i].authcid);
	}
}

static void
test_scram_client_first_bad(void **state)
{
	static const struct {
		const char *in;
		size_t len;	/* 0: strlen */
		const char *err;	/* NULL: any */
	} bad[] = {
		{ "", 0, NULL },
		{ "n", 0, NULL },
		{ "n,", 0, NULL },
		{ "n,,", 0, NULL },
		{ "p=tls-unique,,n=user,r=abc", 0, "channel binding not supported" },
		{ "p=tls-server-end-point,,n=user,r=abc", 0, "channel binding not supported" },
		{ "n,,m=ext,n=user,r=abc", 0, "mandatory extension not supported" },
		{ "x,,n=user,r=abc", 0, NULL },
		{ "N,,n=user,r=abc", 0, NULL },
		{ "ny,,n=user,r=abc", 0, NULL },
		{ "n,n=user,r=abc", 0, NULL },
		{ ",,n=user,r=abc", 0, NULL },
		{ "n,a=,n=user,r=abc", 0, NULL },		/* empty authzid */
		{ "n,a=x", 0, NULL },
		{ "n,a=x,", 0, NULL },
		{ "n,b=x,n=user,r=abc", 0, NULL },
		{ "n,a=x=2,n=user,r=abc", 0, NULL },
		{ "n,,n=,r=abc", 0, NULL },			/* empty username */
		{ "n,,n=user", 0, NULL },			/* no nonce */
		{ "n,,n=user,", 0, NULL },
		{ "n,,n=user,r=", 0, NULL },
		{ "n,,n=user,r", 0, NULL },
		{ "n,,r=abc,n=user", 0, NULL },			/* wrong order */
		{ "n,,n=user,x=1,r=abc", 0, NULL },
		{ "n,,n=us=2Xer,r=abc", 0, NULL },		/* escapes: only =2C and =3D */
		{ "n,,n=us=2cer,r=abc", 0, NULL },
		{ "n,,n=us=3der,r=abc", 0, NULL },
		{ "n,,n=us=er,r=abc", 0, NULL },
		{ "n,,n=user=,r=abc", 0, NULL },
		{ "n,,n=user=2,r=abc", 0, NULL },
		{ "n,,n=user=3,r=abc", 0, NULL },
		{ "n,,n=us\rer,r=abc", 0, NULL },		/* control characters */
		{ "n,,n=us\ner,r=abc", 0, NULL },
		{ "n,,n=us\x7f,r=abc", 0, NULL },
		{ "n,,n=us\xc2\x80,r=abc", 0, NULL },
		{ "n,a=a\tb,n=user,r=abc", 0, NULL },
		{ "n,,n=us\xc3,r=abc", 0, NULL },		/* bad UTF-8 */
		{ "n,,n=user,r=abc,x=\xff", 0, NULL },
		{ "n,,n=user,r=abc\0", 16, NULL },		/* NUL */
		{ "n,,n=u\0ser,r=abc", 16, NULL },
		{ "n,,n=user,r=a c", 0, NULL },			/* nonce: printable */
		{ "n,,n=user,r=a\x7f", 0, NULL },
		{ "n,,n=user,r=\xc3\xa9", 0, NULL },
		{ "n,,n=user,r=abc,", 0, NULL },		/* extensions */
		{ "n,,n=user,r=abc,x", 0, NULL },
		{ "n,,n=user,r=abc,x=", 0, NULL },
		{ "n,,n=user,r=abc,1=x", 0, NULL },
		{ "n,,n=user,r=abc,xy=z", 0, NULL },
		{ "n,,n=user,r=abc,,x=y", 0, NULL },
		{ "n,, n=user,r=abc", 0, NULL },
		{ " n,,n=user,r=abc", 0, NULL },
	};
	struct scram_server s;
	const char *err;
	size_t i, len;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		len = bad[i].len ? bad[i].len : strlen(bad[i].in);
		memset(&s, 0, sizeof(s));
		err = NULL;
		if (scram_server_client_first(&s, U(bad[i].in), len, &err) != -1)
			fail_msg("client-first %zu \"%s\" accepted", i, bad[i].in);
		assert_non_null(err);
		if (bad[i].err != NULL)
			assert_string_equal(err, bad[i].err);
		assert_int_equal(s.state, SCRAM_FAILED);
		assert_string_equal(s.authcid, "");
		assert_string_equal(s.authzid, "");
	}
}

static void
test_scram_name_limits(void **state)
{
	char msg[2048], name[3 * SASL_NAME_MAX + 1];
	struct scram_server s;
	const char *err;
	size_t i;

	(void)state;
	/* A 255-byte name of ',' takes 765 bytes escaped, authzid and authcid. */
	for (i = 0; i < SASL_NAME_MAX; i++)
		memcpy(name + 3 * i, "=2C", 3);
	name[3 * SASL_NAME_MAX] = '\0';
	snprintf(msg, sizeof(msg), "n,a=%s,n=u,r=abc", name);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), 0);
	assert_int_equal(strlen(s.authzid), SASL_NAME_MAX);
	assert_int_equal(strlen(s.gs2_header), 3 * SASL_NAME_MAX + 5);
	snprintf(msg, sizeof(msg), "n,,n=%s,r=abc", name);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), 0);
	assert_int_equal(strlen(s.authcid), SASL_NAME_MAX);
	/* 256 is one too many. */
	snprintf(msg, sizeof(msg), "n,,n=%sx,r=abc", name);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), -1);
	snprintf(msg, sizeof(msg), "n,a=x%s,n=u,r=abc", name);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), -1);
	/* The client nonce: 255 bytes, not 256. */
	memset(name, 'N', 256);
	snprintf(msg, sizeof(msg), "n,,n=u,r=%.255s", name);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), 0);
	snprintf(msg, sizeof(msg), "n,,n=u,r=%.256s", name);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), -1);
	/* client-first-message-bare must fit in 1023 bytes. */
	memset(msg, 0, sizeof(msg));
	memcpy(msg, "n,,n=u,r=abc,x=", 15);
	memset(msg + 15, 'v', 1023 - 12);
	assert_int_equal(strlen(msg + 3), 1023);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), 0);
	msg[strlen(msg)] = 'v';
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(msg), strlen(msg), &err), -1);
	assert_string_equal(err, "client-first-message too long");
}

static void
test_scram_final_bad(void **state)
{
	static const struct {
		const char *in;
		int r;
	} t[] = {
		{ RFC_CFINAL, 1 },
		/* Wrong proofs: well-formed, 0. */
		{ "c=biws,r=" RFC_NONCE ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", 0 },
		{ "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=", 0 },
		{ "c=biws,r=" RFC_NONCE ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0 },
		/* An extension changes AuthMessage, so the RFC proof no longer fits. */
		{ "c=biws,r=" RFC_NONCE ",x=y,p=" RFC_PROOF, 0 },
		/* Channel binding tampered. */
		{ "c=eSws,r=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		{ "c=,r=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		{ "c=biwsbiws,r=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		{ "c=BIWS,r=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		{ "c=biw,r=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		{ "c=cD10bHMtdW5pcXVlLCw=,r=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		{ "C=biws,r=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		{ "r=" RFC_NONCE ",c=biws,p=" RFC_PROOF, -1 },
		/* Nonce tampered. */
		{ "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" RFC_PROOF, -1 },
		{ "c=biws,r=" RFC_NONCE "x,p=" RFC_PROOF, -1 },
		{ "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=" RFC_PROOF,
		  -1 },
		{ "c=biws,r=,p=" RFC_PROOF, -1 },
		{ "c=biws,p=" RFC_PROOF, -1 },
		{ "c=biws,R=" RFC_NONCE ",p=" RFC_PROOF, -1 },
		/* Proof malformed or misplaced. */
		{ "c=biws,r=" RFC_NONCE, -1 },
		{ "c=biws,r=" RFC_NONCE ",", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQA", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=" RFC_PROOF ",x=y", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=" RFC_PROOF ",", -1 },
		{ "c=biws,r=" RFC_NONCE ",p=" RFC_PROOF "\n", -1 },
		{ "c=biws,r=" RFC_NONCE ",P=" RFC_PROOF, -1 },
		{ "c=biws,r=" RFC_NONCE ",p=" RFC_PROOF ",p=" RFC_PROOF, -1 },
		/* Bad extensions. */
		{ "c=biws,r=" RFC_NONCE ",x,p=" RFC_PROOF, -1 },
		{ "c=biws,r=" RFC_NONCE ",x=,p=" RFC_PROOF, -1 },
		{ "c=biws,r=" RFC_NONCE ",1=a,p=" RFC_PROOF, -1 },
		{ "c=biws,r=" RFC_NONCE ",,p=" RFC_PROOF, -1 },
		{ "c=biws,r=" RFC_NONCE ",x=\xc3,p=" RFC_PROOF, -1 },
		{ "", -1 },
		{ "c", -1 },
		{ "c=biws", -1 },
		{ "c=biws,", -1 },
		{ "c=biws,r=", -1 },
	};
	struct scram_secret sec;
	struct scram_server s;
	const char *err;
	char out[100];
	size_t i, outlen;

	(void)state;
	assert_int_equal(scram_secret_parse(RFC_SECRET, &sec), 0);
	for (i = 0; i < NELEM(t); i++) {
		scram_begin(&s, &sec, RFC_CFIRST, RFC_SNONCE);
		if (scram_final(&s, &sec, t[i].in, out, sizeof(out), &err) != t[i].r)
			fail_msg("client-final %zu \"%s\": not %d (%s)", i, t[i].in, t[i].r,
			    err ? err : "-");
	}
	/* A NUL inside is malformed, not a shorter message. */
	scram_begin(&s, &sec, RFC_CFIRST, RFC_SNONCE);
	assert_int_equal(scram_server_client_final(&s, &sec, U(RFC_CFINAL "\0"),
	    strlen(RFC_CFINAL) + 1, out, sizeof(out), &outlen, &err), -1);
}

static void
test_scram_order(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	const char *err;
	char out[1024];
	size_t outlen;

	(void)state;
	assert_int_equal(scram_secret_parse(RFC_SECRET, &sec), 0);
	/* server-first before client-first. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_first(&s, &sec, RFC_SNONCE, out, sizeof(out)), -1);
	assert_int_equal(s.state, SCRAM_FAILED);
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err),
	    -1);
	/* client-final before anything, and before server-first. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_final(&s, &sec, U(RFC_CFINAL), strlen(RFC_CFINAL),
	    out, sizeof(out), &outlen, &err), -1);
	assert_string_equal(err, "SCRAM step out of order");
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err),
	    0);
	assert_int_equal(scram_server_client_final(&s, &sec, U(RFC_CFINAL), strlen(RFC_CFINAL),
	    out, sizeof(out), &outlen, &err), -1);
	assert_int_equal(s.state, SCRAM_FAILED);
	/* client-first twice. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err),
	    0);
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err),
	    -1);
	assert_int_equal(scram_server_first(&s, &sec, RFC_SNONCE, out, sizeof(out)), -1);
	/* server-first twice. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err),
	    0);
	assert_true(scram_server_first(&s, &sec, RFC_SNONCE, out, sizeof(out)) > 0);
	assert_int_equal(scram_server_first(&s, &sec, RFC_SNONCE, out, sizeof(out)), -1);
	assert_int_equal(scram_server_client_final(&s, &sec, U(RFC_CFINAL), strlen(RFC_CFINAL),
	    out, sizeof(out), &outlen, &err), -1);
	/* Nothing after a completed exchange, nor a replay of its last message. */
	scram_begin(&s, &sec, RFC_CFIRST, RFC_SNONCE);
	assert_int_equal(scram_final(&s, &sec, RFC_CFINAL, out, sizeof(out), &err), 1);
	assert_int_equal(scram_final(&s, &sec, RFC_CFINAL, out, sizeof(out), &err), -1);
	assert_int_equal(scram_server_first(&s, &sec, RFC_SNONCE, out, sizeof(out)), -1);
	/* Nor after a wrong proof: no second guess in the same exchange. */
	scram_begin(&s, &sec, RFC_CFIRST, RFC_SNONCE);
	assert_int_equal(scram_final(&s, &sec, "c=biws,r=" RFC_NONCE
	    ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", out, sizeof(out), &err), 0);
	assert_int_equal(scram_final(&s, &sec, RFC_CFINAL, out, sizeof(out), &err), -1);
	/* Nor after a malformed client-first. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U("x"), 1, &err), -1);
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err),
	    -1);
}

static void
test_scram_server_first_bad(void **state)
{
	static const char *bad_snonce[] = { "", "a,b", "a b", "\x7f", "\xc3\xa9", "a\tb" };
	struct scram_secret sec, odd;
	struct scram_server s;
	const char *err;
	char out[1024], big[600];
	size_t i;

	(void)state;
	assert_int_equal(scram_secret_parse(RFC_SECRET, &sec), 0);
	for (i = 0; i < NELEM(bad_snonce); i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST),
		    &err), 0);
		assert_int_equal(scram_server_first(&s, &sec, bad_snonce[i], out, sizeof(out)), -1);
		assert_int_equal(s.state, SCRAM_FAILED);
	}
	/* Client and server nonce together must fit in 511 bytes. */
	memset(big, 'S', sizeof(big));
	big[511 - 20] = '\0';
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err), 0);
	assert_true(scram_server_first(&s, &sec, big, out, sizeof(out)) > 0);
	assert_int_equal(strlen(s.nonce), 511);
	big[511 - 20] = 'S';
	big[512 - 20] = '\0';
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err), 0);
	assert_int_equal(scram_server_first(&s, &sec, big, out, sizeof(out)), -1);
	/* Output too small, by one byte. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err), 0);
	assert_int_equal(scram_server_first(&s, &sec, RFC_SNONCE, out, strlen(RFC_SFIRST)), -1);
	assert_string_equal(out, "");
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err), 0);
	assert_int_equal(scram_server_first(&s, &sec, RFC_SNONCE, out, strlen(RFC_SFIRST) + 1),
	    strlen(RFC_SFIRST));
	/* A secret out of range. */
	odd = sec;
	odd.iter = 0;
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err), 0);
	assert_int_equal(scram_server_first(&s, &odd, RFC_SNONCE, out, sizeof(out)), -1);
	odd = sec;
	odd.saltlen = SCRAM_SALT_MAX + 1;
	memset(&s, 0, sizeof(s));
	assert_int_equal(scram_server_client_first(&s, U(RFC_CFIRST), strlen(RFC_CFIRST), &err), 0);
	assert_int_equal(scram_server_first(&s, &odd, RFC_SNONCE, out, sizeof(out)), -1);
}

/* Byte by byte: every prefix of client-first parses or fails consistently,
 * every strict prefix of client-final is malformed. */
static void
test_scram_bytewise(void **state)
{
	static const char cfirst[] = "n,a=ad=2Cmin,n=us=3Der,r=rOprNGfwEbeRWgbNEkqO,x=ext";
	struct scram_secret sec;
	struct scram_server s;
	const char *err;
	char out[100], wp[640], cf[700], sf[100];
	size_t n, i, nonce_at, ext_at;

	(void)state;
	assert_int_equal(scram_secret_parse(RFC_SECRET, &sec), 0);
	n = strlen(cfirst);
	nonce_at = (size_t)(strstr(cfirst, ",r=") - cfirst) + 3;
	ext_at = (size_t)(strstr(cfirst, ",x=") - cfirst);
	for (i = 0; i <= n; i++) {
		unsigned char *b = malloc(i ? i : 1);
		int r, want;

		assert_non_null(b);
		memcpy(b, cfirst, i);
		memset(&s, 0, sizeof(s));
		r = scram_server_client_first(&s, b, i, &err);
		/* Good with any nonce, or with the whole extension "x=e..." . */
		want = (i > nonce_at && i <= ext_at) || i >= ext_at + 4 ? 0 : -1;
		if (r != want)
			fail_msg("client-first prefix %zu: %d", i, r);
		if (r == 0) {
			assert_string_equal(s.authcid, "us=er");
			assert_string_equal(s.authzid, "ad,min");
		}
		free(b);
	}

	scram_begin(&s, &sec, cfirst, RFC_SNONCE);
	snprintf(wp, sizeof(wp), "c=bixhPWFkPTJDbWluLA==,r=%s,e=x", s.nonce);
	client_final("pencil", s.client_first_bare, s.server_first, wp, cf, sizeof(cf), sf,
	    sizeof(sf));
	n = strlen(cf);
	for (i = 0; i <= n; i++) {
		unsigned char *b = malloc(i ? i : 1);
		size_t outlen;
		int r;

		assert_non_null(b);
		memcpy(b, cf, i);
		scram_begin(&s, &sec, cfirst, RFC_SNONCE);
		r = scram_server_client_final(&s, &sec, b, i, out, sizeof(out), &outlen, &err);
		assert_int_equal(r, i == n ? 1 : -1);
		free(b);
	}
	assert_string_equal(out, sf);
}

static void
test_secret(void **state)
{
	static const char *bad[] = {
		"", ",,,", "4096", "4096,W22ZaJ0SNY7soEsUEjb6gQ==",
		"0," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"10000001," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"04096," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"+4096," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		" 4096," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"4096x," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"4096,,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"4096,W22ZaJ0SNY7soEsUEjb6gQ=,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		/* Keys of 31 and 33 bytes. */
		"4096," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4g==,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"4096," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qYA,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
		"4096," RFC_SALT ",WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2Q==",
		RFC_SECRET ",", RFC_SECRET ",x", RFC_SECRET "\n", RFC_SECRET " ", "," RFC_SECRET,
		/* A salt of 65 bytes. */
		"1,QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
		    "QUFBQUFBQUFBQUFBQUFBQUFBQUE=,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	};
	struct scram_secret sec, back;
	unsigned char salt[SCRAM_SALT_MAX];
	char buf[300];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		memset(&sec, 'x', sizeof(sec));
		if (scram_secret_parse(bad[i], &sec) != -1)
			fail_msg("secret %zu \"%s\" accepted", i, bad[i]);
		assert_int_equal(sec.iter, 0);
		assert_int_equal(sec.saltlen, 0);
	}
	/* Round trip, limits included. */
	memset(salt, 0xa5, sizeof(salt));
	assert_int_equal(scram_secret_make("", salt, SCRAM_SALT_MAX, 1, &sec), 0);
	n = scram_secret_format(&sec, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n == strlen(buf));
	assert_int_equal(scram_secret_parse(buf, &back), 0);
	assert_memory_equal(&sec, &back, sizeof(sec));
	for (i = 0; i <= (size_t)n; i++)
		assert_int_equal(scram_secret_format(&sec, buf, i), -1);
	sec.iter = SCRAM_ITER_MAX;
	sec.saltlen = 1;
	memset(sec.salt + 1, 0, sizeof(sec.salt) - 1);
	n = scram_secret_format(&sec, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(strncmp(buf, "10000000,pQ==,", 14), 0);
	assert_int_equal(scram_secret_parse(buf, &back), 0);
	assert_memory_equal(&sec, &back, sizeof(sec));
	sec.iter = SCRAM_ITER_MAX + 1;
	assert_int_equal(scram_secret_format(&sec, buf, sizeof(buf)), -1);
	/* Every prefix of a stored secret but the whole is malformed. */
	for (i = 0; i < strlen(RFC_SECRET); i++) {
		snprintf(buf, sizeof(buf), "%.*s", (int)i, RFC_SECRET);
		assert_int_equal(scram_secret_parse(buf, &back), -1);
	}
	assert_int_equal(scram_secret_parse(RFC_SECRET, &back), 0);
	assert_int_equal(back.iter, 4096);
	assert_int_equal(back.saltlen, 16);

	/* make refuses what parse would. */
	assert_int_equal(scram_secret_make("p", salt, 0, 4096, &sec), -1);
	assert_int_equal(scram_secret_make("p", salt, SCRAM_SALT_MAX + 1, 4096, &sec), -1);
	assert_int_equal(scram_secret_make("p", salt, 16, 0, &sec), -1);
	assert_int_equal(scram_secret_make("p", salt, 16, SCRAM_ITER_MAX + 1, &sec), -1);
	{
		char pw[SASL_PASS_MAX + 2];

		memset(pw, 'p', sizeof(pw));
		pw[SASL_PASS_MAX + 1] = '\0';
		assert_int_equal(scram_secret_make(pw, salt, 16, 1, &sec), -1);
		pw[SASL_PASS_MAX] = '\0';
		assert_int_equal(scram_secret_make(pw, salt, 16, 1, &sec), 0);
	}
}

static void
test_secret_fake(void **state)
{
	unsigned char key[32], key2[32];
	struct scram_secret a, b, c, d;
	struct scram_server s;
	const char *err;
	char out[100];

	(void)state;
	memset(key, 0x42, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[31] ^= 1;
	scram_secret_fake(key, "user", 4096, &a);
	scram_secret_fake(key, "user", 4096, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(a.iter, 4096);
	assert_int_equal(a.saltlen, 16);
	scram_secret_fake(key, "user2", 4096, &c);
	assert_memory_not_equal(a.salt, c.salt, 16);
	assert_memory_not_equal(a.stored_key, c.stored_key, 32);
	scram_secret_fake(key2, "user", 4096, &d);
	assert_memory_not_equal(a.salt, d.salt, 16);
	assert_memory_not_equal(a.stored_key, a.server_key, 32);
	scram_secret_fake(key, "user", 0, &d);
	assert_int_equal(d.iter, 1);
	scram_secret_fake(key, "user", SCRAM_ITER_MAX + 5, &d);
	assert_int_equal(d.iter, SCRAM_ITER_MAX);
	/* It goes through the exchange and fails only at the proof. */
	scram_begin(&s, &a, RFC_CFIRST, RFC_SNONCE);
	assert_int_equal(strncmp(s.server_first, "r=" RFC_NONCE ",s=", 3 + strlen(RFC_NONCE) + 2),
	    0);
	assert_int_equal(scram_final(&s, &a, RFC_CFINAL, out, sizeof(out), &err), 0);
	assert_string_equal(err, "wrong proof");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_invalid),
		cmocka_unit_test(test_b64_bytewise),
		cmocka_unit_test(test_plain_ok),
		cmocka_unit_test(test_plain_limits),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_plain_bytewise),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_client_helper),
		cmocka_unit_test(test_scram_exchanges),
		cmocka_unit_test(test_scram_client_first_bad),
		cmocka_unit_test(test_scram_name_limits),
		cmocka_unit_test(test_scram_final_bad),
		cmocka_unit_test(test_scram_order),
		cmocka_unit_test(test_scram_server_first_bad),
		cmocka_unit_test(test_scram_bytewise),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_secret_fake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
