/* privsep: the root parent. It binds the ports, forks the unprivileged worker
 * and then only serves delivery requests that need another uid: each request
 * (struct dest_req plus the queue file fd and a reply socket) is checked
 * against the parent's own view of users, mailboxes and aliases and run in a
 * child that switches to the recipient's uid, never root. */
#ifndef PRIVSEP_H
#define PRIVSEP_H
#include <sys/types.h>

struct conf;

/* Serve requests on psock until the worker exits; returns its exit status.
 * c (borrowed) names the users, mailboxes and aliases requests must match. */
int privsep_parent_loop(int psock, pid_t worker, struct conf *c);
#endif
