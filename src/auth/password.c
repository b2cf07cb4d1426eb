/* password: stored password schemes (Dovecot's names) — verify and hash. */
#include "auth/password.h"

#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/util.h"

#define PW_DATA_MAX	512	/* decoded SHA/SSHA data: digest and salt */
#define SCRAM_PREFIX	"{SCRAM-SHA-256}"
#define SCRAM_NEW_SALT	16
#define SCRAM_NEW_ITER	4096

enum pw_kind { PWK_CRYPT, PWK_ARGON2, PWK_SHA, PWK_SSHA, PWK_SCRAM, PWK_PLAIN };
enum pw_enc { PWE_B64, PWE_HEX };

static const struct pw_scheme {
	const char *name;
	enum pw_kind kind;
	const EVP_MD *(*md)(void);	/* SHA and SSHA */
} schemes[] = {
	{ "CRYPT", PWK_CRYPT, NULL },	/* first: the default */
	{ "SHA512-CRYPT", PWK_CRYPT, NULL },
	{ "SHA256-CRYPT", PWK_CRYPT, NULL },
	{ "MD5-CRYPT", PWK_CRYPT, NULL },
	{ "BLF-CRYPT", PWK_CRYPT, NULL },
	{ "DES-CRYPT", PWK_CRYPT, NULL },
	{ "ARGON2I", PWK_ARGON2, NULL },
	{ "ARGON2ID", PWK_ARGON2, NULL },
	{ "SHA", PWK_SHA, EVP_sha1 },
	{ "SHA1", PWK_SHA, EVP_sha1 },
	{ "SHA256", PWK_SHA, EVP_sha256 },
	{ "SHA512", PWK_SHA, EVP_sha512 },
	{ "SSHA", PWK_SSHA, EVP_sha1 },
	{ "SSHA256", PWK_SSHA, EVP_sha256 },
	{ "SSHA512", PWK_SSHA, EVP_sha512 },
	{ "SCRAM-SHA-256", PWK_SCRAM, NULL },
	{ "PLAIN", PWK_PLAIN, NULL },
	{ "CLEARTEXT", PWK_PLAIN, NULL },
};

struct pw_stored {
	const struct pw_scheme *scheme;	/* NULL: unknown */
	enum pw_enc enc;
	const char *name;		/* between the braces, as written */
	size_t namelen;
	const char *data;		/* after the prefix */
};

/* Split "{SCHEME}data"; no prefix (or no '}') means CRYPT, as in Dovecot.
 * 0 ok, -1 unknown scheme (p->name says which). */
static int
stored_parse(const char *stored, struct pw_stored *p)
{
	const char *end, *dot, *suf;
	size_t bn, sl;

	memset(p, 0, sizeof(*p));
	p->scheme = &schemes[0];
	p->data = stored;
	if (stored[0] != '{' || (end = strchr(stored, '}')) == NULL)
		return 0;
	p->name = stored + 1;
	p->namelen = (size_t)(end - p->name);
	p->data = end + 1;
	p->scheme = NULL;
	dot = memchr(p->name, '.', p->namelen);
	bn = dot != NULL ? (size_t)(dot - p->name) : p->namelen;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].name) == bn && strncasecmp(schemes[i].name, p->name, bn) == 0) {
			p->scheme = &schemes[i];
			break;
		}
	}
	if (p->scheme == NULL || dot == NULL)
		return p->scheme != NULL ? 0 : -1;
	/* Only the digest schemes take an encoding suffix. */
	suf = dot + 1;
	sl = p->namelen - bn - 1;
	if (p->scheme->kind == PWK_SHA || p->scheme->kind == PWK_SSHA) {
		if (sl == 3 && strncasecmp(suf, "HEX", 3) == 0) {
			p->enc = PWE_HEX;
			return 0;
		}
		if (sl == 3 && strncasecmp(suf, "B64", 3) == 0)
			return 0;
	}
	p->scheme = NULL;
	return -1;
}

/* Lengths are not secret; the bytes are. */
static bool
ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

static int
digest2(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen,
    unsigned char *out, size_t *outlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1;
	EVP_MD_CTX_free(ctx);
	*outlen = n;
	return ok ? 0 : -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decoded SHA/SSHA data, length checked against the digest. 0 or -1 with
 * a static reason. */
static int
sha_decode(const struct pw_stored *p, unsigned char *out, size_t *outlen, const char **why)
{
	const char *s = p->data;
	size_t n = strlen(s), dlen = (size_t)EVP_MD_get_size(p->scheme->md());

	if (p->enc == PWE_HEX) {
		if (n % 2 != 0 || n / 2 > PW_DATA_MAX) {
			*why = "hash data is not valid hex";
			return -1;
		}
		for (size_t i = 0; i < n; i += 2) {
			int hi = hexval(s[i]), lo = hexval(s[i + 1]);
			if (hi < 0 || lo < 0) {
				*why = "hash data is not valid hex";
				return -1;
			}
			out[i / 2] = (unsigned char)(hi << 4 | lo);
		}
		*outlen = n / 2;
	} else if (b64_decode(s, n, out, PW_DATA_MAX, outlen) < 0) {
		*why = "hash data is not valid base64";
		return -1;
	}
	if (p->scheme->kind == PWK_SHA ? *outlen != dlen : *outlen <= dlen) {
		*why = "hash data has the wrong length for its scheme";
		return -1;
	}
	return 0;
}

static enum pw_result
verify_sha(const struct pw_stored *p, const char *password)
{
	unsigned char raw[PW_DATA_MAX], d[EVP_MAX_MD_SIZE];
	size_t rawlen, dlen;
	const char *why;

	if (sha_decode(p, raw, &rawlen, &why) < 0)
		return PW_ERROR;
	/* SSHA: digest(password || salt) || salt */
	dlen = (size_t)EVP_MD_get_size(p->scheme->md());
	if (digest2(p->scheme->md(), password, strlen(password), raw + dlen, rawlen - dlen, d,
	    &dlen) < 0)
		return PW_ERROR;
	return ct_equal(d, dlen, raw, dlen) ? PW_OK : PW_MISMATCH;
}

static bool
crypt_supported(const char *hash)
{
	int c = crypt_checksalt(hash);

	return c == CRYPT_SALT_OK || c == CRYPT_SALT_METHOD_LEGACY || c == CRYPT_SALT_TOO_CHEAP;
}

static enum pw_result
verify_crypt(const char *hash, const char *password)
{
	/* ~32 KiB: too much for the stack of a pool thread. */
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *r;
	enum pw_result res;

	r = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	if (r == NULL || r[0] == '*')
		res = crypt_supported(hash) ? PW_ERROR : PW_UNSUPPORTED;
	else if (strlen(r) != strlen(hash))
		/* The length follows from the setting alone: stored is malformed. */
		res = PW_ERROR;
	else
		res = ct_equal(r, strlen(r), hash, strlen(hash)) ? PW_OK : PW_MISMATCH;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return res;
}

static enum pw_result
verify_argon2(const char *enc, const char *password)
{
	int rc;

	/* By the string, not the scheme name: Dovecot (libsodium) does the same. */
	if (strncmp(enc, "$argon2id$", 10) == 0)
		rc = argon2id_verify(enc, password, strlen(password));
	else if (strncmp(enc, "$argon2i$", 9) == 0)
		rc = argon2i_verify(enc, password, strlen(password));
	else
		return PW_ERROR;
	if (rc == ARGON2_OK)
		return PW_OK;
	return rc == ARGON2_VERIFY_MISMATCH ? PW_MISMATCH : PW_ERROR;
}

static enum pw_result
verify_scram(const char *text, const char *password)
{
	struct scram_secret st, calc;
	enum pw_result res = PW_ERROR;

	if (scram_secret_parse(text, &st) < 0)
		return PW_ERROR;
	/* scram_secret_make refuses these; no SASL exchange could carry one. */
	if (strlen(password) > SASL_PASS_MAX)
		return PW_MISMATCH;
	if (scram_secret_make(password, st.salt, st.saltlen, st.iter, &calc) == 0) {
		/* Both keys, without a branch between them. */
		int diff = CRYPTO_memcmp(st.stored_key, calc.stored_key, sizeof(st.stored_key)) |
		    CRYPTO_memcmp(st.server_key, calc.server_key, sizeof(st.server_key));
		res = diff == 0 ? PW_OK : PW_MISMATCH;
	}
	explicit_bzero(&calc, sizeof(calc));
	return res;
}

/* Compare digests so that the time says nothing about the length either. */
static enum pw_result
verify_plain(const char *stored, const char *password)
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	size_t alen, blen;
	enum pw_result res = PW_ERROR;

	if (digest2(EVP_sha256(), stored, strlen(stored), NULL, 0, a, &alen) == 0 &&
	    digest2(EVP_sha256(), password, strlen(password), NULL, 0, b, &blen) == 0)
		res = ct_equal(a, alen, b, blen) ? PW_OK : PW_MISMATCH;
	explicit_bzero(b, sizeof(b));
	return res;
}

enum pw_result
password_verify(const char *stored, const char *password, bool allow_plain)
{
	struct pw_stored p;

	if (stored == NULL)
		return PW_MISMATCH;
	if (stored_parse(stored, &p) < 0)
		return PW_UNSUPPORTED;
	if (p.scheme->kind == PWK_PLAIN && !allow_plain)
		return PW_UNSUPPORTED;
	/* No password stored, or none given: never a match. */
	if (password == NULL || password[0] == '\0' || p.data[0] == '\0')
		return PW_MISMATCH;
	switch (p.scheme->kind) {
	case PWK_CRYPT:
		return verify_crypt(p.data, password);
	case PWK_ARGON2:
		return verify_argon2(p.data, password);
	case PWK_SHA:
	case PWK_SSHA:
		return verify_sha(&p, password);
	case PWK_SCRAM:
		return verify_scram(p.data, password);
	case PWK_PLAIN:
		return verify_plain(p.data, password);
	}
	return PW_ERROR;
}

/* A yescrypt setting at libxcrypt's default cost (what password_hash makes),
 * for dummy work when `like` is of no use. Made once, read by all threads. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_setting[CRYPT_GENSALT_OUTPUT_SIZE] = "$y$j9T$H4NG0vsdD1Aa6Oym6FJmj.";

static void
dummy_init(void)
{
	char s[CRYPT_GENSALT_OUTPUT_SIZE];

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, s, sizeof(s)) != NULL && s[0] != '*')
		memcpy(dummy_setting, s, sizeof(s));
}

void
password_dummy_verify(const char *like, const char *password)
{
	struct pw_stored p;

	/* password_verify answers these at once, so must we. */
	if (password == NULL || password[0] == '\0')
		return;
	/*
	 * Verifying against `like` itself costs exactly what a real hash of
	 * its kind costs: crypt and argon2 take their cost from the string,
	 * SSHA and SCRAM their salt and iterations. The result is thrown away.
	 */
	if (like != NULL && stored_parse(like, &p) == 0 && p.data[0] != '\0' &&
	    password_check_stored(like, true) == NULL) {
		(void)password_verify(like, password, true);
		return;
	}
	pthread_once(&dummy_once, dummy_init);
	(void)verify_crypt(dummy_setting, password);
}

int
password_hash(const char *password, char *out, size_t outsz)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int n, rc = -1;

	if (outsz > 0)
		out[0] = '\0';
	if (password == NULL || password[0] == '\0')
		return -1;
	/* NULL rbytes: libxcrypt takes the salt from the kernel. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) == NULL ||
	    setting[0] == '*')
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_rn(password, setting, cd, (int)sizeof(*cd));
	if (h != NULL && h[0] != '*') {
		n = snprintf(out, outsz, "{CRYPT}%s", h);
		if (n > 0 && (size_t)n < outsz)
			rc = 0;
		else if (outsz > 0)
			out[0] = '\0';
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

int
password_scram(const char *password, char *out, size_t outsz)
{
	unsigned char salt[SCRAM_NEW_SALT];
	struct scram_secret s;
	size_t pl = sizeof(SCRAM_PREFIX) - 1;
	int rc = -1;

	if (outsz > 0)
		out[0] = '\0';
	if (password == NULL || password[0] == '\0' || outsz <= pl)
		return -1;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	if (scram_secret_make(password, salt, sizeof(salt), SCRAM_NEW_ITER, &s) == 0) {
		memcpy(out, SCRAM_PREFIX, pl);
		if (scram_secret_format(&s, out + pl, outsz - pl) >= 0)
			rc = 0;
		else
			out[0] = '\0';
	}
	explicit_bzero(&s, sizeof(s));
	return rc;
}

int
password_scram_get(const char *stored, struct scram_secret *out)
{
	struct pw_stored p;

	if (stored == NULL || stored_parse(stored, &p) < 0 || p.scheme->kind != PWK_SCRAM)
		return 0;
	return scram_secret_parse(p.data, out) == 0;
}

static bool
b64_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return false;
	return n > 0;
}

/* Decimal 1..2^32-1 ending at term; advances *sp past term. */
static bool
argon2_num(const char **sp, const char *key, char term)
{
	const char *s = *sp;
	unsigned long long v = 0;
	size_t kl = strlen(key), digits = 0;

	if (strncmp(s, key, kl) != 0)
		return false;
	for (s += kl; *s >= '0' && *s <= '9' && digits < 10; s++, digits++)
		v = v * 10 + (unsigned long long)(*s - '0');
	if (digits == 0 || *s != term || v == 0 || v > 0xffffffffULL)
		return false;
	*sp = s + 1;
	return true;
}

/* $argon2{i,id}$[v=N$]m=N,t=N,p=N$SALT$HASH, unpadded base64 — the shape
 * only; libargon2 checks the rest when verifying. */
static bool
argon2_wellformed(const char *s)
{
	const char *d;

	if (strncmp(s, "$argon2id$", 10) == 0)
		s += 10;
	else if (strncmp(s, "$argon2i$", 9) == 0)
		s += 9;
	else
		return false;
	if (strncmp(s, "v=", 2) == 0 && !argon2_num(&s, "v=", '$'))
		return false;
	if (!argon2_num(&s, "m=", ',') || !argon2_num(&s, "t=", ',') || !argon2_num(&s, "p=", '$'))
		return false;
	if ((d = strchr(s, '$')) == NULL)
		return false;
	return b64_chars(s, (size_t)(d - s)) && b64_chars(d + 1, strlen(d + 1));
}

const char *
password_check_stored(const char *stored, bool allow_plain)
{
	static _Thread_local char buf[128];
	struct scram_secret sec;
	struct pw_stored p;
	unsigned char raw[PW_DATA_MAX];
	size_t rawlen;
	const char *why = NULL;

	if (stored == NULL)
		return "no password";
	if (stored_parse(stored, &p) < 0) {
		snprintf(buf, sizeof(buf), "unknown scheme {%.*s}",
		    p.namelen > 64 ? 64 : (int)p.namelen, p.name);
		return buf;
	}
	if (p.scheme->kind == PWK_PLAIN && !allow_plain) {
		snprintf(buf, sizeof(buf), "{%s} not allowed (auth_allow_plain_passwords)",
		    p.scheme->name);
		return buf;
	}
	/* Empty: no password, logins fail; a deliberate setting. */
	if (p.data[0] == '\0')
		return NULL;
	switch (p.scheme->kind) {
	case PWK_CRYPT:
		if (!crypt_supported(p.data))
			why = "not a crypt(3) hash this system supports";
		break;
	case PWK_ARGON2:
		if (!argon2_wellformed(p.data))
			why = "malformed argon2 hash ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH)";
		break;
	case PWK_SHA:
	case PWK_SSHA:
		(void)sha_decode(&p, raw, &rawlen, &why);
		break;
	case PWK_SCRAM:
		if (scram_secret_parse(p.data, &sec) < 0)
			why = "malformed SCRAM-SHA-256 secret (ITER,SALT,STOREDKEY,SERVERKEY)";
		break;
	case PWK_PLAIN:
		break;
	}
	return why;
}
