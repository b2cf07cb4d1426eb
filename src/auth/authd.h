/* authd: the auth service — one process that checks credentials for SMTP
 * (and IMAP, POP3) sessions and for an external Postfix. It speaks Dovecot's
 * auth client protocol (auth/authproto.h) on every socket it is given; the
 * SASL mechanisms run here, password hashing on a pool of threads. */
#ifndef AUTHD_H
#define AUTHD_H
#include <stddef.h>

#include "conf/conf.h"

/* Mechanism names the config enables ("PLAIN LOGIN SCRAM-SHA-256"), checked
 * against what this build knows. NULL when valid, else a static reason. */
const char *authd_check_mechs(const char *list);

/* Run the service on the listening sockets until SIGTERM; SIGHUP reloads
 * the user directory from conf_path. c is owned by the service. */
int authd_main(const char *conf_path, struct conf *c, const int *lfds, size_t nlfds);
#endif
