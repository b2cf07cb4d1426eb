/* privsep: the root parent. It binds the ports, forks the unprivileged worker
 * and then only serves delivery requests that need another uid: each request
 * (struct dest_req plus the queue file fd and a reply socket) is checked
 * against the parent's own view of users, mailboxes and aliases and run in a
 * child that switches to the recipient's uid, never root. */
#ifndef PRIVSEP_H
#define PRIVSEP_H
#include <sys/types.h>

struct conf;

/* Another child the parent keeps running (the auth service): it gets the
 * worker's SIGHUP and SIGTERM and is started again by spawn when it dies. */
struct privsep_aux {
	pid_t pid;
	pid_t (*spawn)(void *ctx);
	/* After the parent reloaded the config on SIGHUP, before the worker hears of it. */
	void (*hup)(void *ctx, const struct conf *nc);
	void *ctx;
};

/* Serve requests on psock until the worker exits; returns its exit status.
 * c (borrowed) names the users, mailboxes and aliases requests must match. */
int privsep_parent_loop(int psock, pid_t worker, struct conf *c, struct privsep_aux *aux);
#endif
