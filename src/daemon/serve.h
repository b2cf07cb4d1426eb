/* serve: the daemon entry point. */
#ifndef SERVE_H
#define SERVE_H
#include <stdbool.h>
#include <stddef.h>

#include "aliases/aliases.h"
#include "conf/conf.h"

int serve_main(const char *conf_path, bool daemonize, bool debug);
struct tls_ctx;
/* The certificate and key in use: tls_cert/tls_key, or spool/tls/{cert,key}.pem. */
void serve_tls_paths(const struct conf *c, char *cert, char *key, size_t sz);
/* Make the self-signed certificate when none is configured and it is missing. */
int serve_tls_prepare(const struct conf *c, char **error_r);
/* Load c->aliases (none when unset). 0, or -1 with *error_r allocated. */
int serve_load_aliases(const struct conf *c, struct aliases **a_r, char **error_r);
#endif
