#include "lib/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/util.h"

struct tls_ctx {
	SSL_CTX *ssl;
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

struct tls_ctx *
tls_server_new(const char *cert, const char *key, char **error_r)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (c == NULL) {
		*error_r = ossl_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	if (SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
		*error_r = ossl_error("cipher list");
		SSL_CTX_free(c);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		*error_r = ossl_error(cert);
		SSL_CTX_free(c);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			*error_r = xasprintf("%s: the key does not match the certificate %s", key,
			    cert);
		} else
			*error_r = ossl_error(key);
		SSL_CTX_free(c);
		return NULL;
	}
	if (SSL_CTX_check_private_key(c) != 1) {
		*error_r = ossl_error("the key does not match the certificate");
		SSL_CTX_free(c);
		return NULL;
	}
	struct tls_ctx *t = xcalloc(1, sizeof(*t));
	t->ssl = c;
	return t;
}

void
tls_ctx_free(struct tls_ctx **ctx)
{
	if (*ctx == NULL)
		return;
	SSL_CTX_free((*ctx)->ssl);
	free(*ctx);
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
