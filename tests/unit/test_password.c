/* Unit tests for src/auth/password. */
#include "tu.h"

#include <pthread.h>
#include <time.h>

#include "auth/password.h"
#include "auth/sasl.h"

/* Vectors from mkpasswd(1), argon2(1) and python3 hashlib/hmac. */
#define PW		"Tr0ub4dor&3"
#define YESCRYPT	"$y$j9T$H4NG0vsdD1Aa6Oym6FJmj.$IMr/l7HK.OyY8tavLk4c2XVu2/kcG055OR1PC0O2tF8"
#define YESCRYPT_PW	"pw"
#define YESCRYPT_J7	"$y$j7T$EljhEWdIIiz0EyTxzTefw.$qydfLZO9seMdGW0UIo0TXgDS7tGoLLnBbbMNQZcTNo3"
#define SHA512CRYPT	"$6$jYvboSWxG8Cdnd.7$D74wdxb.7q/2QrDD3ot/ACBpDEco2LssSymKtdkOrciOeUg/i3b" \
			"./NuNqi3tSxsHKL6VSn/ckfdOAocq4O47c1"
#define SHA512CRYPT_R	"$6$rounds=1000$tCNkb8wfNQsSTI/V$gByo.d7B9Hta35vswyfWjCTvJxGqmjNUTDCRxSp" \
			"oE5v11eSEPAGmeP6sPKW2N6TqfQOuYuCtcTzo4YwX1p8SF."
#define SHA256CRYPT	"$5$N300NSFQJMxwqjij$p5N01k9brZ.HhnmVsf1N76g4.UuBCuNit6tb8wZnae8"
#define MD5CRYPT	"$1$4cQZyV70$uaYOL3V.SmGBttTx4/muY."
#define BCRYPT		"$2b$05$pRnKbNmLXZHqfgGVu4K4wO3pOqfEy/aagX4GBZyUr0.ts3c3Moqyi"
#define BCRYPT_A	"$2a$05$kg1nFdRl01kGnW9rzzRcNeIQUxsiHiDZ/5C1O7UWjZIjUkTVmnZKS"
#define DESCRYPT	"eAVk8Omnyhhtk"
#define ARGON2ID	"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMg$X9081u2+SBRpWiii0bJtlx1MNUPIrIdXdTEY3ZErEZM"
#define ARGON2I		"$argon2i$v=19$m=4096,t=3,p=2$b3RoZXJzYWx0$pcn7OD/1mdjS2m7x21J2ceEEPZ3klOZgT+z6gTLocuw"
#define SHA1_B64	"h0Vy56WuaklGamrFeLmK26eMaqY="
#define SHA1_HEX	"874572e7a5ae6a49466a6ac578b98adba78c6aa6"
#define SHA256_B64	"SEhuFRToQjRv9AWx5F9EBZroJhnyMG+Z0JQNyzhukfc="
#define SHA256_HEX	"48486e1514e842346ff405b1e45f44059ae82619f2306f99d0940dcb386e91f7"
#define SHA512_B64	"xyu2IccEDPS2R0BjqaeXJpDiUvNa2+fPr/Wx7iMW7+c4LnI9QeATor+8M8MAfFDFhH0hqInM6D" \
			"hTbqxyeAjeQA=="
#define SHA512_HEX	"c72bb621c7040cf4b6474063a9a7972690e252f35adbe7cfaff5b1ee2316efe7382e723d" \
			"41e013a2bfbc33c3007c50c5847d21a889cce838536eac727808de40"
/* salt: 01 02 "saltY" ff */
#define SSHA1_B64	"5kByJrfrC3C7FmMKkJen6w5YdNwBAnNhbHRZ/w=="
#define SSHA1_HEX	"E6407226B7EB0B70BB16630A9097A7EB0E5874DC010273616C7459FF"
#define SSHA256_B64	"jOZoA6TUVLMDIYVnQxO9FZC4iIb7xLwFVEc3coAo48IBAnNhbHRZ/w=="
#define SSHA256_HEX	"8CE66803A4D454B3032185674313BD1590B88886FBC4BC05544737728028E3C2010273616C" \
			"7459FF"
#define SSHA512_B64	"5OdkjHj1UO0WBcNuDVwarLbtwtdJwhFJInLkshAMRTEboJktp6Ol1iejhfc7QCSuWnP0L0PXnJ" \
			"/iwB5AdWnjaQECc2FsdFn/"
#define SSHA512_HEX	"E4E7648C78F550ED1605C36E0D5C1AACB6EDC2D749C211492272E4B2100C45311BA0992D" \
			"A7A3A5D627A385F73B4024AE5A73F42F43D79C9FE2C01E407569E369010273616C7459FF"
#define SCRAM4096	"4096,MDEyMzQ1Njc4OWFiY2RlZg==,0grU/FVwHHTrpSfeOYbd03EbWZBmH555I2ZbFIqF65Y=," \
			"I+a9zwNdDPVQVPWCoKxFWQHlNeLhibpr8/NdI2RUnOc="
#define SCRAM1000	"1000,TmFDbA==,zVeTwf3IIuu94UcWiIxT/m/WoFq1DwQ6QZbG5Z+Cxek=," \
			"90H6mTVjO+IR8pG0rZtcFgHAUxZtoWymX5VZb6bEvm0="

static const char *
res_name(enum pw_result r)
{
	switch (r) {
	case PW_OK:
		return "OK";
	case PW_MISMATCH:
		return "MISMATCH";
	case PW_UNSUPPORTED:
		return "UNSUPPORTED";
	case PW_ERROR:
		return "ERROR";
	}
	return "?";
}

static const struct {
	const char *stored;
	const char *password;
	bool allow_plain;
	enum pw_result want;
} verify_cases[] = {
	/* crypt(3), with and without a prefix, any crypt scheme name */
	{ YESCRYPT, PW, false, PW_OK },
	{ YESCRYPT, "Tr0ub4dor&4", false, PW_MISMATCH },
	{ "{CRYPT}" YESCRYPT, PW, false, PW_OK },
	{ "{crypt}" YESCRYPT, "tr0ub4dor&3", false, PW_MISMATCH },
	{ "{CRYPT}" YESCRYPT_J7, YESCRYPT_PW, false, PW_OK },
	{ "{CRYPT}" YESCRYPT_J7, PW, false, PW_MISMATCH },
	{ "{SHA512-CRYPT}" SHA512CRYPT, PW, false, PW_OK },
	{ "{sha512-crypt}" SHA512CRYPT, PW, false, PW_OK },
	{ "{SHA512-CRYPT}" SHA512CRYPT, PW "x", false, PW_MISMATCH },
	{ "{SHA512-CRYPT}" SHA512CRYPT_R, YESCRYPT_PW, false, PW_OK },
	{ SHA512CRYPT_R, PW, false, PW_MISMATCH },
	{ "{SHA256-CRYPT}" SHA256CRYPT, PW, false, PW_OK },
	{ "{Sha256-Crypt}" SHA256CRYPT, "Tr0ub4dor", false, PW_MISMATCH },
	{ "{SHA512-CRYPT}" YESCRYPT, PW, false, PW_OK },	/* as Dovecot */
	{ "{MD5-CRYPT}" MD5CRYPT, PW, false, PW_OK },
	{ MD5CRYPT, "", false, PW_MISMATCH },
	{ "{BLF-CRYPT}" BCRYPT, PW, false, PW_OK },
	{ "{blf-crypt}" BCRYPT_A, PW, false, PW_OK },
	{ "{BLF-CRYPT}" BCRYPT, "Tr0ub4dor&", false, PW_MISMATCH },
	{ "{DES-CRYPT}" DESCRYPT, PW, false, PW_OK },
	{ DESCRYPT, "Tr0ub4dX", false, PW_MISMATCH },
	/* crypt: unknown method, or a malformed / truncated hash */
	{ "$unknown$abc$def", PW, false, PW_UNSUPPORTED },
	{ "{CRYPT}*", PW, false, PW_UNSUPPORTED },
	{ "!" YESCRYPT, PW, false, PW_UNSUPPORTED },		/* a locked account */
	{ "{SHA", PW, false, PW_UNSUPPORTED },			/* no '}': crypt data */
	{ "$6$jYvboSWxG8Cdnd.7$D74wdxb.7q", PW, false, PW_ERROR },
	{ "$y$j9T$H4NG0vsdD1Aa6Oym6FJmj.", PW, false, PW_ERROR },
	{ SHA512CRYPT "x", PW, false, PW_ERROR },
	{ DESCRYPT "x", PW, false, PW_ERROR },
	/* argon2 */
	{ "{ARGON2ID}" ARGON2ID, PW, false, PW_OK },
	{ "{argon2id}" ARGON2ID, PW, false, PW_OK },
	{ "{ARGON2ID}" ARGON2ID, "tr0ub4dor&3", false, PW_MISMATCH },
	{ "{ARGON2I}" ARGON2I, PW, false, PW_OK },
	{ "{Argon2i}" ARGON2I, PW "\n", false, PW_MISMATCH },
	{ "{ARGON2I}" ARGON2ID, PW, false, PW_OK },		/* by the string */
	{ "{ARGON2ID}$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMg$X9081u2+SBRpWiii0bJtlx1MNU"
	  "PIrIdXdTEY3ZErEZM", PW, false, PW_ERROR },
	{ "{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMg$", PW, false, PW_ERROR },
	{ "{ARGON2ID}$argon2id$v=19$m=1024,t=2$c29tZXNhbHQxMg$X9081u2+SBRpWiii0bJtlx1MNUPIrI"
	  "dXdTEY3ZErEZM", PW, false, PW_ERROR },
	{ "{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMg$X9081u2+SBRp!!!0bJtlx1MNU"
	  "PIrIdXdTEY3ZErEZM", PW, false, PW_ERROR },
	{ "{ARGON2ID}garbage", PW, false, PW_ERROR },
	/* SHA and SSHA, base64 and hex */
	{ "{SHA}" SHA1_B64, PW, false, PW_OK },
	{ "{sha1}" SHA1_B64, PW, false, PW_OK },
	{ "{SHA}" SHA1_B64, "tr0ub4dor&3", false, PW_MISMATCH },
	{ "{SHA.HEX}" SHA1_HEX, PW, false, PW_OK },
	{ "{sha.hex}" SHA1_HEX, PW "!", false, PW_MISMATCH },
	{ "{SHA.B64}" SHA1_B64, PW, false, PW_OK },
	{ "{SHA256}" SHA256_B64, PW, false, PW_OK },
	{ "{SHA256}" SHA256_B64, "x", false, PW_MISMATCH },
	{ "{SHA256.HEX}" SHA256_HEX, PW, false, PW_OK },
	{ "{SHA256.b64}" SHA256_B64, PW, false, PW_OK },
	{ "{SHA512}" SHA512_B64, PW, false, PW_OK },
	{ "{SHA512}" SHA512_B64, "Tr0ub4dor&3 ", false, PW_MISMATCH },
	{ "{SHA512.HEX}" SHA512_HEX, PW, false, PW_OK },
	{ "{SSHA}" SSHA1_B64, PW, false, PW_OK },
	{ "{SSHA}" SSHA1_B64, "Tr0ub4dor&", false, PW_MISMATCH },
	{ "{SSHA.HEX}" SSHA1_HEX, PW, false, PW_OK },
	{ "{SSHA256}" SSHA256_B64, PW, false, PW_OK },
	{ "{ssha256.hex}" SSHA256_HEX, PW, false, PW_OK },
	{ "{SSHA256.HEX}" SSHA256_HEX, "nope", false, PW_MISMATCH },
	{ "{SSHA512}" SSHA512_B64, PW, false, PW_OK },
	{ "{SSHA512.HEX}" SSHA512_HEX, PW, false, PW_OK },
	{ "{SSHA512}" SSHA512_B64, "tR0UB4DOR&3", false, PW_MISMATCH },
	/* SHA and SSHA, malformed */
	{ "{SHA}h0Vy56WuaklGamrFeLmK26eMaqY", PW, false, PW_ERROR },	/* no padding */
	{ "{SHA}h0Vy56Wua!lGamrFeLmK26eMaqY=", PW, false, PW_ERROR },
	{ "{SHA}" SHA1_B64 "\n", PW, false, PW_ERROR },
	{ "{SHA}" SHA256_B64, PW, false, PW_ERROR },		/* wrong length */
	{ "{SHA256}" SHA1_B64, PW, false, PW_ERROR },
	{ "{SHA}" SHA1_HEX, PW, false, PW_ERROR },		/* hex without .HEX */
	{ "{SHA.HEX}" SHA1_B64, PW, false, PW_ERROR },
	{ "{SHA.HEX}874572e7a5ae6a49466a6ac578b98adba78c6aa", PW, false, PW_ERROR },
	{ "{SHA.HEX}874572e7a5ae6a49466a6ac578b98adba78c6a", PW, false, PW_ERROR },
	{ "{SHA.HEX}874572e7a5ae6a49466a6ac578b98adba78c6ag6", PW, false, PW_ERROR },
	{ "{SSHA}" SHA1_B64, PW, false, PW_ERROR },		/* no salt */
	{ "{SSHA256.HEX}" SHA256_HEX, PW, false, PW_ERROR },
	/* SCRAM-SHA-256 */
	{ "{SCRAM-SHA-256}" SCRAM4096, PW, false, PW_OK },
	{ "{scram-sha-256}" SCRAM1000, PW, false, PW_OK },
	{ "{SCRAM-SHA-256}" SCRAM4096, "Tr0ub4dor&33", false, PW_MISMATCH },
	{ "{SCRAM-SHA-256}" SCRAM1000, "pencil", false, PW_MISMATCH },
	{ "{SCRAM-SHA-256}4096,MDEyMzQ1Njc4OWFiY2RlZg==,0grU/FVwHHTrpSfeOYbd03EbWZBmH555I2Zb"
	  "FIqF65Y=", PW, false, PW_ERROR },
	{ "{SCRAM-SHA-256}4096,MDEyMzQ1Njc4OWFiY2RlZg==,0grU/FVwHHTrpSfeOYbd03EbWZBmH555I2Zb"
	  "FIqF65Y=,I+a9zwNdDPVQVPWCoKxFWQHlNeLhibpr8/NdI2RUnO==", PW, false, PW_ERROR },
	{ "{SCRAM-SHA-256}x096,MDEyMzQ1Njc4OWFiY2RlZg==,0grU/FVwHHTrpSfeOYbd03EbWZBmH555I2Zb"
	  "FIqF65Y=,I+a9zwNdDPVQVPWCoKxFWQHlNeLhibpr8/NdI2RUnOc=", PW, false, PW_ERROR },
	/* PLAIN, CLEARTEXT */
	{ "{PLAIN}" PW, PW, true, PW_OK },
	{ "{plain}" PW, PW, false, PW_UNSUPPORTED },
	{ "{PLAIN}" PW, "Tr0ub4dor&", true, PW_MISMATCH },
	{ "{PLAIN}" PW, "Tr0ub4dor&3x", true, PW_MISMATCH },
	{ "{PLAIN}" PW, "", true, PW_MISMATCH },
	{ "{PLAIN}", "", true, PW_MISMATCH },
	{ "{PLAIN}", "x", true, PW_MISMATCH },
	{ "{CLEARTEXT}" PW, PW, true, PW_OK },
	{ "{Cleartext}" PW, PW, false, PW_UNSUPPORTED },
	{ "{PLAIN}{SHA}" SHA1_B64, "{SHA}" SHA1_B64, true, PW_OK },
	/* unknown schemes and suffixes */
	{ "{FOO}" PW, PW, true, PW_UNSUPPORTED },
	{ "{}" PW, PW, true, PW_UNSUPPORTED },
	{ "{MD4}abcd", PW, true, PW_UNSUPPORTED },
	{ "{PLAIN.HEX}41", "A", true, PW_UNSUPPORTED },
	{ "{SHA256.B32}" SHA256_B64, PW, true, PW_UNSUPPORTED },
	{ "{SHA256.}" SHA256_B64, PW, true, PW_UNSUPPORTED },
	{ "{SHA256.HEXX}" SHA256_HEX, PW, true, PW_UNSUPPORTED },
	{ "{CRYPT.HEX}" YESCRYPT, PW, true, PW_UNSUPPORTED },
	{ "{SHA 256}" SHA256_B64, PW, true, PW_UNSUPPORTED },
	/* nothing stored, or no password: never OK */
	{ "", PW, true, PW_MISMATCH },
	{ "", "", true, PW_MISMATCH },
	{ "{CRYPT}", PW, false, PW_MISMATCH },
	{ "{SHA256}", PW, false, PW_MISMATCH },
	{ "{ARGON2ID}", PW, false, PW_MISMATCH },
	{ "{SCRAM-SHA-256}", PW, false, PW_MISMATCH },
	{ YESCRYPT, "", false, PW_MISMATCH },
	{ "{ARGON2ID}" ARGON2ID, "", false, PW_MISMATCH },
	{ "{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "", false, PW_MISMATCH },	/* SHA1("") */
	{ "{SCRAM-SHA-256}" SCRAM1000, "", false, PW_MISMATCH },
};

static void
test_verify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
		enum pw_result r = password_verify(verify_cases[i].stored, verify_cases[i].password,
		    verify_cases[i].allow_plain);
		if (r != verify_cases[i].want) {
			print_error("case %zu: [%s] / [%s]%s\n got: %s\nwant: %s\n", i,
			    verify_cases[i].stored, verify_cases[i].password,
			    verify_cases[i].allow_plain ? " plain ok" : "", res_name(r),
			    res_name(verify_cases[i].want));
			fail();
		}
	}
	assert_int_equal(password_verify(NULL, PW, true), PW_MISMATCH);
	assert_int_equal(password_verify(YESCRYPT, NULL, true), PW_MISMATCH);
}

/* A password far longer than any SASL exchange carries. */
static void
test_verify_long(void **state)
{
	char *big = malloc(SASL_PASS_MAX + 2), *stored;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', SASL_PASS_MAX + 1);
	big[SASL_PASS_MAX + 1] = '\0';
	assert_int_equal(password_verify("{SCRAM-SHA-256}" SCRAM1000, big, false), PW_MISMATCH);
	assert_int_equal(password_verify("{SHA256}" SHA256_B64, big, false), PW_MISMATCH);
	stored = malloc(SASL_PASS_MAX + 16);
	assert_non_null(stored);
	snprintf(stored, SASL_PASS_MAX + 16, "{PLAIN}%s", big);
	assert_int_equal(password_verify(stored, big, true), PW_OK);
	big[0] = 'b';
	assert_int_equal(password_verify(stored, big, true), PW_MISMATCH);
	free(stored);
	free(big);
}

static void
test_hash(void **state)
{
	char a[256], b[256], small[40];

	(void)state;
	assert_int_equal(password_hash(PW, a, sizeof(a)), 0);
	assert_memory_equal(a, "{CRYPT}$y$", 10);
	assert_null(password_check_stored(a, false));
	assert_int_equal(password_verify(a, PW, false), PW_OK);
	assert_int_equal(password_verify(a + 7, PW, false), PW_OK);	/* bare crypt */
	assert_int_equal(password_verify(a, "Tr0ub4dor&4", false), PW_MISMATCH);
	assert_int_equal(password_verify(a, "", false), PW_MISMATCH);
	/* A fresh salt each time. */
	assert_int_equal(password_hash(PW, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(password_verify(b, PW, false), PW_OK);
	/* Refused: too small a buffer, an empty password. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(password_hash(PW, small, sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(password_hash("", a, sizeof(a)), -1);
	assert_int_equal(password_hash(PW, a, 0), -1);
}

static void
test_scram(void **state)
{
	char a[256], b[256], small[60];
	struct scram_secret s, s2;

	(void)state;
	assert_int_equal(password_scram(PW, a, sizeof(a)), 0);
	assert_memory_equal(a, "{SCRAM-SHA-256}4096,", 20);
	assert_null(password_check_stored(a, false));
	assert_int_equal(password_verify(a, PW, false), PW_OK);
	assert_int_equal(password_verify(a, "Tr0ub4dor&4", false), PW_MISMATCH);
	assert_int_equal(password_scram_get(a, &s), 1);
	assert_int_equal(s.iter, 4096);
	assert_int_equal(s.saltlen, 16);
	/* The same keys as made from scratch with that salt. */
	assert_int_equal(scram_secret_make(PW, s.salt, s.saltlen, s.iter, &s2), 0);
	assert_memory_equal(s.stored_key, s2.stored_key, 32);
	assert_memory_equal(s.server_key, s2.server_key, 32);
	assert_int_equal(password_scram(PW, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	memset(small, 'x', sizeof(small));
	assert_int_equal(password_scram(PW, small, sizeof(small)), -1);
	assert_string_equal(small, "");
	assert_int_equal(password_scram(PW, small, 15), -1);
	assert_int_equal(password_scram("", a, sizeof(a)), -1);

	/* password_scram_get: only a well-formed SCRAM-SHA-256 secret. */
	assert_int_equal(password_scram_get("{scram-sha-256}" SCRAM1000, &s), 1);
	assert_int_equal(s.iter, 1000);
	assert_int_equal(s.saltlen, 4);
	assert_memory_equal(s.salt, "NaCl", 4);
	assert_int_equal(password_scram_get(SCRAM1000, &s), 0);
	assert_int_equal(password_scram_get("{PLAIN}" SCRAM1000, &s), 0);
	assert_int_equal(password_scram_get("{SCRAM-SHA-256}", &s), 0);
	assert_int_equal(password_scram_get("{SCRAM-SHA-256}1000,TmFDbA==", &s), 0);
	assert_int_equal(password_scram_get("{SCRAM-SHA-1}" SCRAM1000, &s), 0);
	assert_int_equal(password_scram_get(NULL, &s), 0);
}

static const struct {
	const char *stored;
	bool allow_plain;
	const char *want;	/* NULL: usable */
} check_cases[] = {
	{ YESCRYPT, false, NULL },
	{ "{CRYPT}" YESCRYPT, false, NULL },
	{ "{SHA512-CRYPT}" SHA512CRYPT, false, NULL },
	{ "{MD5-CRYPT}" MD5CRYPT, false, NULL },
	{ "{BLF-CRYPT}" BCRYPT, false, NULL },
	{ DESCRYPT, false, NULL },
	{ "{ARGON2ID}" ARGON2ID, false, NULL },
	{ "{argon2i}" ARGON2I, false, NULL },
	{ "{ARGON2ID}$argon2id$m=1024,t=2,p=1$c29tZXNhbHQxMg$X9081u2+SBRpWiii0bJtlx1MNUPIrIdX"
	  "dTEY3ZErEZM", false, NULL },		/* version 0x10: no v= */
	{ "{SHA}" SHA1_B64, false, NULL },
	{ "{SHA256.HEX}" SHA256_HEX, false, NULL },
	{ "{SSHA512}" SSHA512_B64, false, NULL },
	{ "{SCRAM-SHA-256}" SCRAM4096, false, NULL },
	{ "{PLAIN}secret", true, NULL },
	{ "{CLEARTEXT}secret", true, NULL },
	{ "", false, NULL },
	{ "{SHA256}", false, NULL },
	{ "{FOO}bar", true, "unknown scheme {FOO}" },
	{ "{sha3}bar", true, "unknown scheme {sha3}" },
	{ "{SHA256.B32}bar", true, "unknown scheme {SHA256.B32}" },
	{ "{}bar", true, "unknown scheme {}" },
	{ "{PLAIN}secret", false, "{PLAIN} not allowed (auth_allow_plain_passwords)" },
	{ "{plain}", false, "{PLAIN} not allowed (auth_allow_plain_passwords)" },
	{ "{cleartext}secret", false, "{CLEARTEXT} not allowed (auth_allow_plain_passwords)" },
	{ "$unknown$abc", false, "not a crypt(3) hash this system supports" },
	{ "{SHA512-CRYPT}*", false, "not a crypt(3) hash this system supports" },
	{ "{ARGON2ID}$argon2d$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMg$X9081u2", false,
	  "malformed argon2 hash ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH)" },
	{ "{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMg$", false,
	  "malformed argon2 hash ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH)" },
	{ "{ARGON2ID}$argon2id$v=19$m=0,t=2,p=1$c29tZXNhbHQxMg$X9081u2", false,
	  "malformed argon2 hash ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH)" },
	{ "{ARGON2ID}$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQxMg$X9081u2", false,
	  "malformed argon2 hash ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH)" },
	{ "{SHA}" SHA256_B64, false, "hash data has the wrong length for its scheme" },
	{ "{SSHA}" SHA1_B64, false, "hash data has the wrong length for its scheme" },
	{ "{SHA}h0Vy56Wua!lGamrFeLmK26eMaqY=", false, "hash data is not valid base64" },
	{ "{SHA.HEX}874572e7a5ae6a49466a6ac578b98adba78c6ag6", false, "hash data is not valid hex" },
	{ "{SHA.HEX}874", false, "hash data is not valid hex" },
	{ "{SCRAM-SHA-256}4096,MDEy", false,
	  "malformed SCRAM-SHA-256 secret (ITER,SALT,STOREDKEY,SERVERKEY)" },
};

static void
test_check_stored(void **state)
{
	char longname[200];
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		why = password_check_stored(check_cases[i].stored, check_cases[i].allow_plain);
		if ((why == NULL) != (check_cases[i].want == NULL) ||
		    (why != NULL && strcmp(why, check_cases[i].want) != 0)) {
			print_error("case %zu: [%s]\n got: %s\nwant: %s\n", i,
			    check_cases[i].stored, why != NULL ? why : "(usable)",
			    check_cases[i].want != NULL ? check_cases[i].want : "(usable)");
			fail();
		}
	}
	/* A long unknown name is cut short, not overflowed. */
	memset(longname, 'X', sizeof(longname));
	longname[0] = '{';
	memcpy(longname + sizeof(longname) - 3, "}a", 3);
	why = password_check_stored(longname, true);
	assert_non_null(why);
	assert_true(strncmp(why, "unknown scheme {XXX", 19) == 0);
	assert_true(strlen(why) < 128);
	assert_non_null(password_check_stored(NULL, true));
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fastest of three runs, in seconds. */
static double
time_verify(const char *stored, bool dummy)
{
	double best = 1e9;

	for (int i = 0; i < 3; i++) {
		double t = seconds();
		if (dummy)
			password_dummy_verify(stored, "wrong password");
		else
			(void)password_verify(stored, "wrong password", true);
		t = seconds() - t;
		if (t < best)
			best = t;
	}
	return best;
}

static void
test_dummy(void **state)
{
	static const char *const likes[] = {
		YESCRYPT, "{CRYPT}" YESCRYPT_J7, "{SHA512-CRYPT}" SHA512CRYPT, SHA512CRYPT_R,
		"{SHA256-CRYPT}" SHA256CRYPT, MD5CRYPT, BCRYPT, DESCRYPT,
		"{ARGON2ID}" ARGON2ID, "{ARGON2I}" ARGON2I,
		"{SHA}" SHA1_B64, "{SHA256.HEX}" SHA256_HEX, "{SSHA512}" SSHA512_B64,
		"{SCRAM-SHA-256}" SCRAM4096, "{PLAIN}x", "{CLEARTEXT}x",
		/* unusable: the cost of a default hash instead */
		NULL, "", "{FOO}bar", "{SHA256}", "$unknown$x", "{SHA}bad",
	};
	/* Kinds that cost something: the dummy must cost about the same. */
	static const char *const slow[] = {
		YESCRYPT, "{ARGON2I}" ARGON2I, "{SCRAM-SHA-256}" SCRAM4096,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(likes) / sizeof(likes[0]); i++) {
		password_dummy_verify(likes[i], PW);
		password_dummy_verify(likes[i], "");
		password_dummy_verify(likes[i], NULL);
	}
	for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++) {
		double real = time_verify(slow[i], false), dummy = time_verify(slow[i], true);
		if (dummy < real / 4) {
			print_error("%s: dummy %.6fs, real %.6fs\n", slow[i], dummy, real);
			fail();
		}
	}
	/* Unusable `like`: about a password_hash() hash. */
	if (time_verify("{FOO}", true) < time_verify(YESCRYPT, false) / 4)
		fail_msg("dummy for an unknown scheme is too cheap");
}

/* The pool threads verify at the same time. */
static void *
verify_thread(void *arg)
{
	static const char *const ok[] = {
		YESCRYPT, SHA512CRYPT, BCRYPT, "{ARGON2ID}" ARGON2ID,
		"{SSHA256}" SSHA256_B64, "{SCRAM-SHA-256}" SCRAM1000,
	};
	long bad = 0;

	(void)arg;
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			bad += password_verify(ok[i], PW, false) != PW_OK;
			bad += password_verify(ok[i], "other", false) != PW_MISMATCH;
		}
		password_dummy_verify(NULL, PW);
	}
	return (void *)bad;
}

static void
test_threads(void **state)
{
	pthread_t t[4];
	void *bad;

	(void)state;
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_thread, NULL), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((long)bad, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_long),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_scram),
		cmocka_unit_test(test_check_stored),
		cmocka_unit_test(test_dummy),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
