#include "lib/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"

struct tls_sni {
	char *name;		/* lower-case; "*.example.org" matches one label */
	struct tls_ctx *ctx;
};

struct tls_ctx {
	SSL_CTX *ssl;
	struct tls_sni *sni;
	size_t nsni;
};

/* The most recent OpenSSL error as text, with a prefix. */
static char *
ossl_error(const char *what)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xasprintf("%s: %s", what, buf);
}

/* Leaf certificate then its chain, from PEM text. */
static int
use_chain(SSL_CTX *c, const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509_AUX(b, NULL, NULL, NULL) : NULL;
	int ok = x != NULL && SSL_CTX_use_certificate(c, x) == 1;
	X509_free(x);
	SSL_CTX_clear_chain_certs(c);
	while (ok) {
		X509 *ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (ca == NULL) {
			/* The end of the text is not an error. */
			if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE)
				ERR_clear_error();
			else
				ok = false;
			break;
		}
		if (SSL_CTX_add0_chain_cert(c, ca) != 1) {
			X509_free(ca);
			ok = false;
		}
	}
	BIO_free(b);
	return ok ? 0 : -1;
}

struct tls_ctx *
tls_server_new_pem(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len,
    const char *cert_name, const char *key_name, char **error_r)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (c == NULL) {
		*error_r = ossl_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	/* Idle connections keep no record buffers (memory per idle session). */
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
		*error_r = ossl_error("cipher list");
		SSL_CTX_free(c);
		return NULL;
	}
	if (use_chain(c, cert_pem, cert_len) < 0) {
		*error_r = ossl_error(cert_name);
		SSL_CTX_free(c);
		return NULL;
	}
	BIO *b = BIO_new_mem_buf(key_pem, (int)key_len);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (k == NULL) {
		*error_r = ossl_error(key_name);
		SSL_CTX_free(c);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey(c, k) != 1 || SSL_CTX_check_private_key(c) != 1) {
		EVP_PKEY_free(k);
		ERR_clear_error();
		*error_r = xasprintf("%s: the key does not match the certificate %s", key_name,
		    cert_name);
		SSL_CTX_free(c);
		return NULL;
	}
	EVP_PKEY_free(k);
	struct tls_ctx *t = xcalloc(1, sizeof(*t));
	t->ssl = c;
	return t;
}

struct tls_ctx *
tls_server_new(const char *cert, const char *key, char **error_r)
{
	char *cp = NULL, *kp = NULL;
	size_t cl, kl;

	if (read_file(cert, 1 << 20, &cp, &cl) < 0) {
		*error_r = xasprintf("%s: %s", cert, strerror(errno));
		return NULL;
	}
	if (read_file(key, 1 << 20, &kp, &kl) < 0) {
		*error_r = xasprintf("%s: %s", key, strerror(errno));
		free(cp);
		return NULL;
	}
	struct tls_ctx *t = tls_server_new_pem(cp, cl, kp, kl, cert, key, error_r);
	free(cp);
	explicit_bzero(kp, kl);
	free(kp);
	return t;
}

static bool
sni_match(const char *pattern, const char *name)
{
	if (strcasecmp(pattern, name) == 0)
		return true;
	if (pattern[0] != '*' || pattern[1] != '.')
		return false;
	const char *dot = strchr(name, '.');
	return dot != NULL && dot != name && strcasecmp(pattern + 1, dot) == 0;
}

static int
on_servername(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	(void)alert;
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < t->nsni; i++)
		if (sni_match(t->sni[i].name, name)) {
			SSL_set_SSL_CTX(ssl, t->sni[i].ctx->ssl);
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_NOACK;	/* the default certificate */
}

void
tls_ctx_add_sni(struct tls_ctx *t, const char *name, struct tls_ctx *child)
{
	t->sni = xreallocarray(t->sni, t->nsni + 1, sizeof(*t->sni));
	t->sni[t->nsni].name = xstrdup(name);
	t->sni[t->nsni].ctx = child;
	t->nsni++;
	SSL_CTX_set_tlsext_servername_callback(t->ssl, on_servername);
	SSL_CTX_set_tlsext_servername_arg(t->ssl, t);
}

void
tls_ctx_free(struct tls_ctx **ctx)
{
	struct tls_ctx *t = *ctx;
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nsni; i++) {
		free(t->sni[i].name);
		tls_ctx_free(&t->sni[i].ctx);
	}
	free(t->sni);
	SSL_CTX_free(t->ssl);
	free(t);
	*ctx = NULL;
}

void *
tls_ctx_ssl(struct tls_ctx *ctx)
{
	return ctx->ssl;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	int rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* PEM text of an object written by fn into a memory BIO. */
static char *
pem_of(int (*fn)(BIO *, void *), void *obj, size_t *len_r)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL || fn(b, obj) != 1) {
		BIO_free(b);
		return NULL;
	}
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *out = xmalloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len_r = (size_t)n;
	BIO_free(b);
	return out;
}

static int
write_key(BIO *b, void *k)
{
	return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

static int
write_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}

int
tls_make_selfsigned(const char *cert_path, const char *key_path, const char *hostname,
    char **error_r)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	char *kp = NULL, *cp = NULL, san[600];
	size_t kl = 0, cl = 0;
	unsigned char serial[16];
	int rc = -1;

	*error_r = NULL;
	if (key == NULL || x == NULL) {
		*error_r = ossl_error("key generation");
		goto out;
	}
	if (strlen(hostname) > 255 || strpbrk(hostname, ",/\\") != NULL) {
		*error_r = xasprintf("'%s' cannot be a certificate name", hostname);
		goto out;
	}
	/* A random positive serial (RFC 5280 4.1.2.2). */
	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		*error_r = ossl_error("random serial");
		goto out;
	}
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) : NULL;
	BN_free(bn);
	X509_NAME *name = X509_get_subject_name(x);
	snprintf(san, sizeof(san), "DNS:%s", hostname);
	if (sn == NULL || X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400L) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hostname,
	    -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0 ||
	    X509_sign(x, key, EVP_sha256()) == 0) {
		*error_r = ossl_error("certificate");
		goto out;
	}
	kp = pem_of(write_key, key, &kl);
	cp = pem_of(write_cert, x, &cl);
	if (kp == NULL || cp == NULL) {
		*error_r = ossl_error("PEM encoding");
		goto out;
	}
	if (atomic_write(key_path, kp, kl, 0600) < 0) {
		*error_r = xasprintf("%s: %s", key_path, strerror(errno));
		goto out;
	}
	if (atomic_write(cert_path, cp, cl, 0644) < 0) {
		*error_r = xasprintf("%s: %s", cert_path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (kp != NULL)
		explicit_bzero(kp, kl);
	free(kp);
	free(cp);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
tls_cert_info(const char *cert_path, char *cn, size_t cnsz, time_t *not_after, char **error_r)
{
	FILE *fp = fopen(cert_path, "r");
	if (fp == NULL) {
		*error_r = xasprintf("%s: %s", cert_path, strerror(errno));
		return -1;
	}
	X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (x == NULL) {
		*error_r = ossl_error(cert_path);
		return -1;
	}
	cn[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cnsz);
	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
		X509_free(x);
		*error_r = xasprintf("%s: unreadable expiry date", cert_path);
		return -1;
	}
	*not_after = timegm(&tm);
	X509_free(x);
	return 0;
}
