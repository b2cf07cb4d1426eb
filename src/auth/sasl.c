/* sasl: base64, SASL PLAIN and the server side of SCRAM-SHA-256 (pure, bounded). */
#include "auth/sasl.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define B64_LEN(n) (((n) + 2) / 3 * 4)
#define SCRAM_CNONCE_MAX 255	/* leaves room in s->nonce for the server's half */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
b64_encoded_len(size_t n)
{
	if (n / 3 >= SIZE_MAX / 4)
		return (size_t)-1;
	return B64_LEN(n);
}

size_t
b64_encode(const void *in, size_t n, char *out, size_t outsz)
{
	const unsigned char *p = in;
	size_t len = b64_encoded_len(n), i, o = 0;
	uint32_t v;

	if (len == (size_t)-1 || outsz == 0 || len > outsz - 1) {
		if (outsz > 0)
			out[0] = '\0';
		return (size_t)-1;
	}
	for (i = 0; n - i >= 3; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[v >> 12 & 63];
		out[o++] = b64_chars[v >> 6 & 63];
		out[o++] = b64_chars[v & 63];
	}
	if (n - i > 0) {
		v = (uint32_t)p[i] << 16;
		if (n - i == 2)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = b64_chars[v >> 18];
		out[o++] = b64_chars[v >> 12 & 63];
		out[o++] = n - i == 2 ? b64_chars[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t pad = 0, len, i, k, o = 0;
	uint32_t v = 0;
	int d;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && p[n - 1] == '=')
		pad = p[n - 2] == '=' ? 2 : 1;
	len = n / 4 * 3 - pad;
	/* Checked first, so nothing is written past outsz. */
	if (len > outsz)
		return -1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + k >= n - pad)
				d = 0;
			else if ((d = b64_val(p[i + k])) < 0)
				return -1;	/* also '=' anywhere but the end */
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (unsigned char)(v >> 16);
		if (o < len)
			out[o++] = (unsigned char)(v >> 8);
		if (o < len)
			out[o++] = (unsigned char)v;
	}
	/* Bits under the padding must be zero, so that each value has one encoding. */
	if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
		return -1;
	*outlen = len;
	return 0;
}

/* Length of the well-formed UTF-8 sequence at p[0..n), 0 if malformed. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* > U+10FFFF */
	} else
		return 0;
	if (n < need + 1 || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return need + 1;
}

bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i, n;

	for (i = 0; i < len; i += n)
		if ((n = utf8_seq(s + i, len - i)) == 0)
			return false;
	return true;
}

/* Names end up in logs and lookups: valid UTF-8, no C0, DEL or C1 controls. */
static bool
name_ok(const unsigned char *s, size_t len)
{
	size_t i;

	if (!utf8_valid(s, len))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

int
sasl_plain_parse(const unsigned char *msg, size_t len, struct sasl_plain *out)
{
	const unsigned char *z1, *z2, *pw;
	size_t zl, cl, pl;

	memset(out, 0, sizeof(*out));
	if (len == 0 || (z1 = memchr(msg, '\0', len)) == NULL)
		return -1;
	zl = (size_t)(z1 - msg);
	if ((z2 = memchr(z1 + 1, '\0', len - zl - 1)) == NULL)
		return -1;
	cl = (size_t)(z2 - z1 - 1);
	pw = z2 + 1;
	pl = len - zl - cl - 2;
	if (memchr(pw, '\0', pl) != NULL)
		return -1;
	if (zl > SASL_NAME_MAX || cl == 0 || cl > SASL_NAME_MAX || pl == 0 ||
	    pl > SASL_PASS_MAX)
		return -1;
	if (!name_ok(msg, zl) || !name_ok(z1 + 1, cl) || !utf8_valid(pw, pl))
		return -1;
	memcpy(out->authzid, msg, zl);
	memcpy(out->authcid, z1 + 1, cl);
	memcpy(out->passwd, pw, pl);
	return 0;
}

/* SCRAM crypto. */

struct part {
	const void *p;
	size_t n;
};

/* HMAC-SHA-256 over the concatenation of parts: AuthMessage is never copied
 * together, so its length needs no limit of its own. */
static int
hmac_parts(const unsigned char *key, size_t keylen, const struct part *parts, size_t nparts,
    unsigned char out[32])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	size_t i, outl = 0;
	int ok = 0;

	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(mac)) != NULL && EVP_MAC_init(ctx, key, keylen, params) == 1) {
		ok = 1;
		for (i = 0; i < nparts && ok; i++)
			if (EVP_MAC_update(ctx, parts[i].p, parts[i].n) != 1)
				ok = 0;
		if (ok && (EVP_MAC_final(ctx, out, &outl, 32) != 1 || outl != 32))
			ok = 0;
	}
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

static int
hmac_str(const unsigned char key[32], const char *s, unsigned char out[32])
{
	struct part p = { s, strlen(s) };

	return hmac_parts(key, 32, &p, 1, out);
}

static int
sha256(const unsigned char *in, size_t n, unsigned char out[32])
{
	unsigned int outl = 0;

	if (EVP_Digest(in, n, out, &outl, EVP_sha256(), NULL) != 1 || outl != 32)
		return -1;
	return 0;
}

static bool
secret_ok(const struct scram_secret *s)
{
	return s->iter >= 1 && s->iter <= SCRAM_ITER_MAX && s->saltlen >= 1 &&
	    s->saltlen <= SCRAM_SALT_MAX;
}

int
scram_secret_make(const char *password, const unsigned char *salt, size_t saltlen,
    unsigned iter, struct scram_secret *out)
{
	unsigned char salted[32], ckey[32];
	size_t plen;
	int r = -1;

	memset(out, 0, sizeof(*out));
	plen = strnlen(password, SASL_PASS_MAX + 1);
	if (plen > SASL_PASS_MAX || saltlen == 0 || saltlen > SCRAM_SALT_MAX || iter == 0 ||
	    iter > SCRAM_ITER_MAX)
		return -1;
	out->iter = iter;
	memcpy(out->salt, salt, saltlen);
	out->saltlen = saltlen;
	if (PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)saltlen, (int)iter, EVP_sha256(),
	    32, salted) == 1 &&
	    hmac_str(salted, "Client Key", ckey) == 0 &&
	    sha256(ckey, sizeof(ckey), out->stored_key) == 0 &&
	    hmac_str(salted, "Server Key", out->server_key) == 0)
		r = 0;
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	if (r == -1)
		memset(out, 0, sizeof(*out));
	return r;
}

int
scram_secret_format(const struct scram_secret *s, char *out, size_t outsz)
{
	char salt[B64_LEN(SCRAM_SALT_MAX) + 1], sk[B64_LEN(32) + 1], vk[B64_LEN(32) + 1];
	int n;

	if (outsz > 0)
		out[0] = '\0';
	if (!secret_ok(s))
		return -1;
	b64_encode(s->salt, s->saltlen, salt, sizeof(salt));
	b64_encode(s->stored_key, 32, sk, sizeof(sk));
	b64_encode(s->server_key, 32, vk, sizeof(vk));
	n = snprintf(out, outsz, "%u,%s,%s,%s", s->iter, salt, sk, vk);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return n;
}

/* Length of the field at p[0..n): up to ',' or the end. */
static size_t
field_len(const void *p, size_t n)
{
	const unsigned char *c = memchr(p, ',', n);

	return c == NULL ? n : (size_t)(c - (const unsigned char *)p);
}

int
scram_secret_parse(const char *text, struct scram_secret *out)
{
	const char *f[4];
	size_t fl[4], i, n, len = strlen(text), pos = 0, klen;
	unsigned long iter = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 4; i++) {
		f[i] = text + pos;
		fl[i] = field_len(f[i], len - pos);
		pos += fl[i];
		if (i < 3) {
			if (pos >= len)
				return -1;
			pos++;		/* the ',' */
		}
	}
	if (pos != len)
		return -1;
	/* Canonical decimal, so that format(parse(x)) == x. */
	if (fl[0] == 0 || fl[0] > 8 || f[0][0] == '0')
		return -1;
	for (n = 0; n < fl[0]; n++) {
		if (f[0][n] < '0' || f[0][n] > '9')
			return -1;
		iter = iter * 10 + (unsigned long)(f[0][n] - '0');
	}
	if (iter > SCRAM_ITER_MAX)
		return -1;
	out->iter = (unsigned)iter;
	if (b64_decode(f[1], fl[1], out->salt, sizeof(out->salt), &out->saltlen) == -1 ||
	    out->saltlen == 0 ||
	    b64_decode(f[2], fl[2], out->stored_key, 32, &klen) == -1 || klen != 32 ||
	    b64_decode(f[3], fl[3], out->server_key, 32, &klen) == -1 || klen != 32) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

void
scram_secret_fake(const unsigned char key[32], const char *name, unsigned iter,
    struct scram_secret *out)
{
	unsigned char h[32];
	struct part p[2] = { { "salt", 4 }, { name, strlen(name) } };

	/* Distinct prefixes keep the three derivations independent. A failure
	 * leaves zero keys, which no proof matches either. */
	memset(out, 0, sizeof(*out));
	out->iter = iter < 1 ? 1 : iter > SCRAM_ITER_MAX ? SCRAM_ITER_MAX : iter;
	out->saltlen = 16;
	if (hmac_parts(key, 32, p, 2, h) == 0)
		memcpy(out->salt, h, 16);
	p[0] = (struct part){ "stored", 6 };
	(void)hmac_parts(key, 32, p, 2, out->stored_key);
	p[0] = (struct part){ "server", 6 };
	(void)hmac_parts(key, 32, p, 2, out->server_key);
	OPENSSL_cleanse(h, sizeof(h));
}

/* SCRAM exchange. */

/* The state blocks every later step; the names stay for the caller's log. */
static int
scram_fail(struct scram_server *s, const char **err, const char *why)
{
	s->state = SCRAM_FAILED;
	if (err != NULL)
		*err = why;
	return -1;
}

/* A client-first-message that did not parse names nobody. */
static int
first_fail(struct scram_server *s, const char **err, const char *why)
{
	memset(s, 0, sizeof(*s));
	return scram_fail(s, err, why);
}

/* RFC 5802 saslname p[0..n) into out (SASL_NAME_MAX + 1 bytes): "=2C" and
 * "=3D" are the only escapes. */
static int
saslname(const unsigned char *p, size_t n, char *out)
{
	size_t i, o = 0;
	unsigned char c;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == '=') {
			if (n - i < 3)
				return -1;
			if (p[i + 1] == '2' && p[i + 2] == 'C')
				c = ',';
			else if (p[i + 1] == '3' && p[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (o >= SASL_NAME_MAX)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return name_ok((const unsigned char *)out, o) ? 0 : -1;
}

/* RFC 5802 printable: %x21-2B / %x2D-7E. */
static bool
nonce_ok(const unsigned char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

/* attr-val = ALPHA "=" 1*value-char, value-char being UTF-8 but NUL or ','
 * (the whole message was checked for UTF-8 and NUL already). */
static bool
attr_ok(const unsigned char *p, size_t n)
{
	return n >= 3 && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')) &&
	    p[1] == '=';
}

int
scram_server_client_first(struct scram_server *s, const unsigned char *msg, size_t len,
    const char **err)
{
	size_t i, f, gs2len;

	if (s->state != SCRAM_START)
		return scram_fail(s, err, "SCRAM step out of order");
	memset(s, 0, sizeof(*s));
	if (len > 0 && memchr(msg, '\0', len) != NULL)
		return first_fail(s, err, "NUL in client-first-message");
	if (!utf8_valid(msg, len))
		return first_fail(s, err, "invalid UTF-8 in client-first-message");

	/* gs2-header: ("n" / "y") "," ["a=" saslname] "," */
	if (len >= 2 && msg[0] == 'p' && msg[1] == '=')
		return first_fail(s, err, "channel binding not supported");
	if (len < 2 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
		return first_fail(s, err, "bad gs2 header");
	i = 2;
	if (len - i >= 2 && msg[i] == 'a' && msg[i + 1] == '=') {
		f = field_len(msg + i + 2, len - i - 2);
		if (saslname(msg + i + 2, f, s->authzid) == -1)
			return first_fail(s, err, "bad authzid");
		i += 2 + f;
	}
	if (i >= len || msg[i] != ',')
		return first_fail(s, err, "bad gs2 header");
	gs2len = ++i;
	/* Can't happen: a valid saslname is at most 3 bytes per name byte. */
	if (gs2len >= sizeof(s->gs2_header))
		return first_fail(s, err, "authzid too long");

	/* client-first-message-bare: "n=" saslname ",r=" nonce ["," extensions] */
	if (len - i >= 2 && msg[i] == 'm' && msg[i + 1] == '=')
		return first_fail(s, err, "mandatory extension not supported");
	if (len - i < 2 || msg[i] != 'n' || msg[i + 1] != '=')
		return first_fail(s, err, "missing username");
	f = field_len(msg + i + 2, len - i - 2);
	if (saslname(msg + i + 2, f, s->authcid) == -1)
		return first_fail(s, err, "bad username");
	i += 2 + f;
	if (len - i < 3 || msg[i + 1] != 'r' || msg[i + 2] != '=')
		return first_fail(s, err, "missing nonce");
	i += 3;
	f = field_len(msg + i, len - i);
	if (f > SCRAM_CNONCE_MAX || !nonce_ok(msg + i, f))
		return first_fail(s, err, "bad nonce");
	memcpy(s->nonce, msg + i, f);
	s->nonce[f] = '\0';
	i += f;
	while (i < len) {
		i++;		/* the ',' */
		f = field_len(msg + i, len - i);
		if (!attr_ok(msg + i, f))
			return first_fail(s, err, "bad extension");
		i += f;
	}
	if (len - gs2len >= sizeof(s->client_first_bare))
		return first_fail(s, err, "client-first-message too long");
	memcpy(s->gs2_header, msg, gs2len);
	s->gs2_header[gs2len] = '\0';
	memcpy(s->client_first_bare, msg + gs2len, len - gs2len);
	s->client_first_bare[len - gs2len] = '\0';
	s->state = SCRAM_GOT_FIRST;
	return 0;
}

int
scram_server_first(struct scram_server *s, const struct scram_secret *sec, const char *snonce,
    char *out, size_t outsz)
{
	char salt[B64_LEN(SCRAM_SALT_MAX) + 1];
	size_t cl, sl;
	int n;

	if (outsz > 0)
		out[0] = '\0';
	if (s->state != SCRAM_GOT_FIRST || !secret_ok(sec))
		return scram_fail(s, NULL, NULL);
	cl = strlen(s->nonce);
	sl = strnlen(snonce, sizeof(s->nonce));
	if (cl + sl >= sizeof(s->nonce) || !nonce_ok((const unsigned char *)snonce, sl))
		return scram_fail(s, NULL, NULL);
	memcpy(s->nonce + cl, snonce, sl + 1);
	b64_encode(sec->salt, sec->saltlen, salt, sizeof(salt));
	n = snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%u", s->nonce, salt,
	    sec->iter);
	if (n < 0 || (size_t)n >= sizeof(s->server_first) || (size_t)n >= outsz)
		return scram_fail(s, NULL, NULL);
	memcpy(out, s->server_first, (size_t)n + 1);
	s->state = SCRAM_SENT_FIRST;
	return n;
}

int
scram_server_client_final(struct scram_server *s, const struct scram_secret *sec,
    const unsigned char *msg, size_t len, char *out, size_t outsz, size_t *outlen, const char **err)
{
	char cb[B64_LEN(sizeof(s->gs2_header)) + 1];
	unsigned char proof[32], sig[32], ckey[32], h[32];
	struct part am[5];
	size_t i, f, n, plen;
	int r;

	*outlen = 0;
	if (outsz > 0)
		out[0] = '\0';
	if (s->state != SCRAM_SENT_FIRST)
		return scram_fail(s, err, "SCRAM step out of order");
	if (len > 0 && memchr(msg, '\0', len) != NULL)
		return scram_fail(s, err, "NUL in client-final-message");
	if (!utf8_valid(msg, len))
		return scram_fail(s, err, "invalid UTF-8 in client-final-message");

	/* Without channel binding data, c= is exactly the gs2 header sent. */
	if (len < 2 || msg[0] != 'c' || msg[1] != '=')
		return scram_fail(s, err, "missing channel binding");
	f = field_len(msg + 2, len - 2);
	n = b64_encode(s->gs2_header, strlen(s->gs2_header), cb, sizeof(cb));
	if (f != n || memcmp(msg + 2, cb, n) != 0)
		return scram_fail(s, err, "channel binding mismatch");
	i = 2 + f;
	if (len - i < 3 || msg[i + 1] != 'r' || msg[i + 2] != '=')
		return scram_fail(s, err, "missing nonce");
	i += 3;
	f = field_len(msg + i, len - i);
	n = strlen(s->nonce);
	if (f != n || memcmp(msg + i, s->nonce, n) != 0)
		return scram_fail(s, err, "nonce mismatch");
	i += f;
	/* Extensions, then the proof, which must come last. */
	for (;;) {
		if (i >= len)
			return scram_fail(s, err, "missing proof");
		f = field_len(msg + i + 1, len - i - 1);
		if (f >= 2 && msg[i + 1] == 'p' && msg[i + 2] == '=')
			break;
		if (!attr_ok(msg + i + 1, f))
			return scram_fail(s, err, "bad extension");
		i += 1 + f;
	}
	/* msg[0..i) is client-final-message-without-proof. */
	if (i + 1 + f != len)
		return scram_fail(s, err, "proof not last");
	if (b64_decode((const char *)msg + i + 3, f - 2, proof, sizeof(proof), &plen) == -1 ||
	    plen != sizeof(proof))
		return scram_fail(s, err, "bad proof");

	am[0] = (struct part){ s->client_first_bare, strlen(s->client_first_bare) };
	am[1] = (struct part){ ",", 1 };
	am[2] = (struct part){ s->server_first, strlen(s->server_first) };
	am[3] = (struct part){ ",", 1 };
	am[4] = (struct part){ msg, i };
	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage). */
	if (hmac_parts(sec->stored_key, 32, am, 5, sig) == -1)
		return scram_fail(s, err, "crypto failure");
	for (n = 0; n < 32; n++)
		ckey[n] = proof[n] ^ sig[n];
	if (sha256(ckey, sizeof(ckey), h) == -1)
		r = scram_fail(s, err, "crypto failure");
	else if (CRYPTO_memcmp(h, sec->stored_key, 32) != 0) {
		(void)scram_fail(s, err, "wrong proof");
		r = 0;
	} else if (hmac_parts(sec->server_key, 32, am, 5, sig) == -1)
		r = scram_fail(s, err, "crypto failure");
	else if (outsz < 3 || (n = b64_encode(sig, 32, out + 2, outsz - 2)) == (size_t)-1)
		r = scram_fail(s, err, "server-final-message buffer too small");
	else {
		out[0] = 'v';
		out[1] = '=';
		*outlen = n + 2;
		s->state = SCRAM_DONE;
		r = 1;
	}
	if (r != 1 && outsz > 0)
		out[0] = '\0';
	OPENSSL_cleanse(ckey, sizeof(ckey));
	OPENSSL_cleanse(h, sizeof(h));
	return r;
}
