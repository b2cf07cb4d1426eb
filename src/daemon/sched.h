/* sched: the delivery scheduler — which queued message goes to a delivery
 * thread when, retries with exponential backoff, expiry after the queue lifetime. */
#ifndef SCHED_H
#define SCHED_H
#include <stdbool.h>
#include <time.h>

#include "conf/conf.h"
#include "daemon/deliver.h"
#include "queue/queue.h"

struct event_base;
struct sched;

struct sched *sched_new(struct event_base *eb, const struct conf *c, const char *spool,
    struct queue *q, const struct delivery_ctx *dc);
/* Deliver id now, or not before not_before (0: now). Idempotent. recovered:
 * found in the spool at start-up, so it may have retry state on disk. */
void sched_enqueue(struct sched *s, const char *id, time_t not_before, bool recovered);
/* Try every message now (SIGUSR1, "estafeta queue flush"). */
void sched_flush(struct sched *s);
/* New config/users/aliases after a reload; returns when the old ones are unused. */
void sched_set_delivery(struct sched *s, const struct conf *c, const struct delivery_ctx *dc);
unsigned sched_active(const struct sched *s);
void sched_free(struct sched **s);
#endif
