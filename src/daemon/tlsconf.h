/* tlsconf: which certificate each listener serves — the default (tls_cert,
 * or the self-signed one in spool/tls), a listener's own (listen ... cert=),
 * and per SNI name (tls_sni) — and how an unprivileged worker gets them:
 * root opens the files (keys are root's) and passes the open descriptors
 * over a socket, at start and on every SIGHUP. */
#ifndef TLSCONF_H
#define TLSCONF_H
#include <stddef.h>

#include "conf/conf.h"

struct tls_ctx;

struct tls_set {
	struct tls_ctx *def;	/* NULL when no listener needs TLS */
	struct tls_ctx **lst;	/* per listener; NULL: the default */
	size_t nl;
};

/* The SSL_CTX listener i uses (void *, NULL for none). */
void *tls_set_ctx(const struct tls_set *t, size_t i);
void tls_set_free(struct tls_set **t);

/* Root: open every file and build the contexts directly. */
struct tls_set *tlsconf_load(const struct conf *c, size_t nlisteners, char **error_r);
/* Root: send every certificate and key of c as open files on sock, then an
 * end mark. 0, or -1 with *error_r (nothing usable was sent: no end mark). */
int tlsconf_send(int sock, const struct conf *c, size_t nlisteners, char **error_r);

/* Worker: collects what tlsconf_send sent. */
struct tlsconf_rx;
struct tlsconf_rx *tlsconf_rx_new(size_t nlisteners);
void tlsconf_rx_free(struct tlsconf_rx **rx);
/* Read what is waiting on sock (non-blocking). 1: a complete set was built
 * (*set_r), 0: more to come, -1: error (*error_r; the partial set is
 * dropped). */
int tlsconf_rx_read(struct tlsconf_rx *rx, int sock, struct tls_set **set_r, char **error_r);
#endif
