/* mailproc: the mail process of one system user — the IMAP/POP3 server of
 * the worker, running as that user, serving the sessions the root parent
 * hands it after a login (the worker relays the bytes). */
#ifndef MAILPROC_H
#define MAILPROC_H
#include <sys/types.h>

struct conf;
struct dest_req;

/* Root parent: a DK_MAILPROC request with the session socket fd. Checks
 * the ticket, finds the user itself, starts or reuses the user's mail
 * process and passes fd on. c and udb are the parent's view. */
struct userdb;
void mailproc_request(const struct conf *c, const struct userdb *udb, const struct dest_req *r,
    int fd);
/* Root parent: pid was reaped. */
void mailproc_reaped(pid_t pid);
/* Root parent: at shutdown. */
void mailproc_stop_all(void);
#endif
