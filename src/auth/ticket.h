/* ticket: proof that the auth service logged a user in, for the root
 * parent. The parent makes the key after the worker is forked and before
 * the auth service is, so only those two hold it: a worker taken over by an
 * attacker cannot forge a ticket and have the parent start the mail process
 * of a user who never logged in. */
#ifndef TICKET_H
#define TICKET_H
#include <stdbool.h>
#include <stddef.h>

#define TICKET_MAX 96
#define TICKET_LIFETIME 60	/* seconds */

/* Make the process's key (random). false when there is no randomness. */
bool ticket_key_init(void);
bool ticket_key_ready(void);
/* "<expiry>.<hex HMAC-SHA256(key, user NUL expiry)>" into out. */
bool ticket_make(const char *user, char *out, size_t outsz);
/* The ticket is this process's, for this user, and not expired. */
bool ticket_check(const char *user, const char *ticket);
#endif
