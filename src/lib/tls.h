/* tls: TLS configuration — server contexts with modern defaults, and a
 * self-signed certificate for the hostname when the admin has none yet (like
 * Debian's ssl-cert "snakeoil"). The SMTP session layer does its record I/O
 * with SSL_read/SSL_write on contexts made here. */
#ifndef TLS_H
#define TLS_H
#include <stddef.h>
#include <time.h>

struct tls_ctx;

/*
 * A server context: TLS 1.2 and 1.3 only, ECDHE with AES-GCM or ChaCha20 for
 * TLS 1.2, server cipher preference, no compression, no renegotiation.
 * cert is a PEM chain (leaf first), key its PEM private key. NULL with
 * *error_r allocated ("file: reason") on error.
 */
struct tls_ctx *tls_server_new(const char *cert, const char *key, char **error_r);
/* The same from PEM text already read (names are for error messages). */
struct tls_ctx *tls_server_new_pem(const char *cert_pem, size_t cert_len, const char *key_pem,
    size_t key_len, const char *cert_name, const char *key_name, char **error_r);
/* Serve child's certificate to clients asking for name by SNI (exact, or
 * "*.example.org" for one label); t owns child afterwards. Other names get
 * t's own certificate. */
void tls_ctx_add_sni(struct tls_ctx *t, const char *name, struct tls_ctx *child);
/* Frees the context and its SNI children. SSL_CTXs are reference counted:
 * connections still using one keep it alive. */
void tls_ctx_free(struct tls_ctx **ctx);
/* The OpenSSL SSL_CTX, for the connection layer (returned as void * so that
 * callers need not include OpenSSL headers). */
void *tls_ctx_ssl(struct tls_ctx *ctx);

/*
 * Write a new self-signed certificate for hostname (CN and subjectAltName,
 * serverAuth, valid from yesterday for 10 years) and its P-256 key: key_path
 * mode 0600, cert_path 0644, each written durably. 0, or -1 with *error_r.
 */
int tls_make_selfsigned(const char *cert_path, const char *key_path, const char *hostname,
    char **error_r);

/* Subject common name and expiry of the first certificate in a PEM file. */
int tls_cert_info(const char *cert_path, char *cn, size_t cnsz, time_t *not_after,
    char **error_r);
#endif
