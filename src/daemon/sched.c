#include "daemon/sched.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/time.h>
#ifndef __unused
#define __unused __attribute__((__unused__))	/* libbsd's tree.h needs it */
#endif
#include <sys/tree.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define BATCH_MAX 64

struct entry {
	RB_ENTRY(entry) node;
	TAILQ_ENTRY(entry) ready;
	char id[QUEUE_ID_LEN + 1];
	bool busy, queued_ready;
	bool has_state;		/* spool/state/ID may exist: read it before delivering */
	struct event *timer;
	struct sched *s;
};

static int
entry_cmp(struct entry *a, struct entry *b)
{
	return strcmp(a->id, b->id);
}

RB_HEAD(entry_tree, entry);
RB_GENERATE_STATIC(entry_tree, entry, node, entry_cmp)
TAILQ_HEAD(entry_list, entry);

struct result {
	struct entry *e;
	bool removed;
	time_t next_try;
	struct result *next;
};

struct sched {
	struct event_base *eb;
	struct queue *q;		/* delivered files are recycled through it; may be NULL */
	const struct conf *conf;
	char *spool, *qdir;
	struct delivery_ctx dc;
	pthread_rwlock_t dc_lock;	/* batches read-lock it; a reload write-locks to swap */
	struct entry_tree all;
	struct entry_list readyq;	/* guarded by mu */
	unsigned nready;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t *threads;
	unsigned nthreads;
	bool stop;
	struct result *results;		/* guarded by mu */
	int notify[2];
	struct event *ev_notify;
	unsigned active;
};

static void
entry_free(struct sched *s, struct entry *e)
{
	RB_REMOVE(entry_tree, &s->all, e);
	if (e->timer)
		event_free(e->timer);
	free(e);
}

static time_t
backoff(const struct conf *c, unsigned attempts)
{
	long long d = c->minimal_backoff_time;
	for (unsigned i = 1; i < attempts && d < c->maximal_backoff_time; i++)
		d *= 2;
	if (d > c->maximal_backoff_time)
		d = c->maximal_backoff_time;
	return (time_t)d;
}

static void
log_outcome(const struct qenv *env, const struct qrcpt *rc, const struct rcpt_outcome *o,
    double delay)
{
	static const char *const st[] = { "sent", "deferred", "bounced" };
	char text[520];
	log_escape(text, sizeof(text), o->r.text, strlen(o->r.text));
	log_info("%s: to=<%s> relay=%s delay=%.2f dsn=%s status=%s (%s)", env->id, rc->addr,
	    o->relay, delay, o->r.dsn, st[o->r.status], text);
}

#define READ_MAX (1024 * 1024)

static void
release_map(char *map, size_t len)
{
	if (len <= READ_MAX)
		free(map);
	else
		munmap(map, len);
}

/* Deliver one message; runs in a delivery thread. */
static void
process_one(struct sched *s, struct entry *e, struct qenv *env, struct rcpt_outcome **outs,
    char **maps, size_t *maplens, int *fds, struct deliver_batch *ds, size_t k)
{
	char path[4096];
	const char *err;
	struct stat st;

	outs[k] = NULL;
	maps[k] = NULL;
	fds[k] = -1;
	snprintf(path, sizeof(path), "%s/%s", s->qdir, e->id);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		/* Deleted meanwhile (estafeta queue delete): forget it. */
		log_info("%s: removed from the queue by the administrator", e->id);
		maps[k] = (char *)-1;
		return;
	}
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		if (fd >= 0)
			close(fd);
		log_warn("%s: cannot open queue file: %s", e->id, strerror(errno));
		return;
	}
	/* Small files are read: cheaper than a mapping and its TLB shootdown. */
	char *map;
	if (st.st_size <= READ_MAX) {
		map = xmalloc((size_t)st.st_size);
		ssize_t got = pread(fd, map, (size_t)st.st_size, 0);
		if (got != (ssize_t)st.st_size) {
			free(map);
			map = MAP_FAILED;
		}
	} else
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		log_warn("%s: cannot read queue file: %s", e->id, strerror(errno));
		return;
	}
	bool bad = qenv_parse(map, (size_t)st.st_size, env, &err) < 0;
	if (!bad && strcmp(env->id, e->id) != 0) {
		qenv_free(env);
		err = "holds another message (a reused queue file whose new content never "
		    "became durable)";
		bad = true;
	}
	if (bad) {
		/* Never acknowledged (torn by a crash) or damaged: keep it for the admin. */
		release_map(map, (size_t)st.st_size);
		close(fd);
		if (queue_quarantine(s->spool, e->id) == 0)
			log_err("%s: %s: moved to %s/corrupt/", e->id, err, s->spool);
		else
			log_err("%s: %s: cannot move to corrupt/: %s", e->id, err, strerror(errno));
		outs[k] = NULL;
		maps[k] = (char *)-1;	/* tells the batch loop to forget the entry */
		return;
	}
	char *sdata;
	size_t slen;
	snprintf(path, sizeof(path), "%s/state/%s", s->spool, e->id);
	if (e->has_state && read_file_nofollow(path, 1 << 24, &sdata, &slen) == 0) {
		(void)qenv_parse_state(sdata, slen, env);
		free(sdata);
	}
	outs[k] = xcalloc(env->nrcpts, sizeof(struct rcpt_outcome));
	deliver_message(&s->dc, env, map, (size_t)st.st_size, fd, outs[k], ds);
	maps[k] = map;
	maplens[k] = (size_t)st.st_size;
	fds[k] = fd;
}

static void
finish_one(struct sched *s, struct entry *e, struct qenv *env, struct rcpt_outcome *out,
    struct result *res)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	double delay = (double)(tv.tv_sec - env->arrival) + tv.tv_usec / 1e6;
	bool pending = false;

	for (size_t i = 0; i < env->nrcpts; i++) {
		struct qrcpt *rc = &env->rcpts[i];
		if (rc->status != RCPT_PENDING)
			continue;
		log_outcome(env, rc, &out[i], delay);
		if (out[i].r.status == DS_SENT)
			rc->status = RCPT_SENT;
		else if (out[i].r.status == DS_BOUNCE)
			rc->status = RCPT_BOUNCED;
		else {
			free(rc->last_error);
			rc->last_error = xstrdup(out[i].r.text);
			pending = true;
		}
	}
	time_t now = tv.tv_sec;
	if (pending && now - env->arrival >= (time_t)s->conf->maximal_queue_lifetime) {
		for (size_t i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].status == RCPT_PENDING) {
				log_info("%s: to=<%s> relay=none delay=%.2f dsn=4.4.7 status=bounced "
				    "(message expired after %lld seconds: %s)", env->id, env->rcpts[i].addr,
				    delay, (long long)(now - env->arrival),
				    env->rcpts[i].last_error ? env->rcpts[i].last_error : "");
				env->rcpts[i].status = RCPT_BOUNCED;
			}
		pending = false;
	}
	res->e = e;
	if (!pending) {
		if ((s->q != NULL ? queue_recycle(s->q, e->id) : queue_remove(s->spool, e->id)) < 0 &&
		    errno != ENOENT)
			log_warn("%s: cannot remove queue file: %s", e->id, strerror(errno));
		else
			log_info("%s: removed", e->id);
		res->removed = true;
		return;
	}
	env->attempts++;
	env->next_try = now + backoff(s->conf, env->attempts);
	e->has_state = true;
	res->next_try = env->next_try;
	if (queue_save_state(s->spool, env) < 0)
		log_warn("%s: cannot save retry state: %s", e->id, strerror(errno));
}

static void *
worker(void *arg)
{
	struct sched *s = arg;
	struct entry *batch[BATCH_MAX];
	struct qenv envs[BATCH_MAX];
	struct rcpt_outcome *outs[BATCH_MAX];
	char *maps[BATCH_MAX];
	size_t maplens[BATCH_MAX];
	int fds[BATCH_MAX];

	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (TAILQ_EMPTY(&s->readyq) && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		/* Take a fair share, so that all threads work on a burst. */
		size_t want = s->nready / s->nthreads + 1;
		if (want > BATCH_MAX)
			want = BATCH_MAX;
		size_t n = 0;
		while (n < want && !TAILQ_EMPTY(&s->readyq)) {
			struct entry *e = TAILQ_FIRST(&s->readyq);
			TAILQ_REMOVE(&s->readyq, e, ready);
			s->nready--;
			e->queued_ready = false;
			batch[n++] = e;
		}
		pthread_mutex_unlock(&s->mu);

		pthread_rwlock_rdlock(&s->dc_lock);
		struct deliver_batch ds = { .use_syncfs = strcmp(s->conf->sync_method, "syncfs") == 0 };
		for (size_t k = 0; k < n; k++) {
			memset(&envs[k], 0, sizeof(envs[k]));
			process_one(s, batch[k], &envs[k], outs, maps, maplens, fds, &ds, k);
		}
		deliver_batch_finish(&ds);
		struct result *head = NULL;
		for (size_t k = 0; k < n; k++) {
			struct result *res = xcalloc(1, sizeof(*res));
			if (outs[k] != NULL) {
				finish_one(s, batch[k], &envs[k], outs[k], res);
				free(outs[k]);
				release_map(maps[k], maplens[k]);
				close(fds[k]);
			} else if (maps[k] == (char *)-1) {
				res->e = batch[k];
				res->removed = true;
			} else {
				res->e = batch[k];
				res->next_try = time(NULL) + backoff(s->conf, 1);
			}
			qenv_free(&envs[k]);
			res->next = head;
			head = res;
		}
		pthread_rwlock_unlock(&s->dc_lock);
		deliver_batch_free(&ds);

		pthread_mutex_lock(&s->mu);
		bool was_empty = s->results == NULL;
		while (head) {
			struct result *r = head;
			head = r->next;
			r->next = s->results;
			s->results = r;
		}
		pthread_mutex_unlock(&s->mu);
		if (was_empty) {
			char c = 1;
			(void)!write(s->notify[1], &c, 1);
		}
	}
}

static void
make_ready(struct sched *s, struct entry *e)
{
	if (e->busy)
		return;
	e->busy = true;
	s->active++;
	pthread_mutex_lock(&s->mu);
	TAILQ_INSERT_TAIL(&s->readyq, e, ready);
	e->queued_ready = true;
	s->nready++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct entry *e = arg;
	(void)fd;
	(void)what;
	make_ready(e->s, e);
}

static void
on_results(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char drain[64];
	(void)what;
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&s->mu);
	struct result *list = s->results;
	s->results = NULL;
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct result *r = list;
		list = r->next;
		struct entry *e = r->e;
		e->busy = false;
		s->active--;
		if (r->removed)
			entry_free(s, e);
		else {
			time_t now = time(NULL);
			struct timeval tv = { .tv_sec = r->next_try > now ? r->next_try - now : 1 };
			if (e->timer == NULL)
				e->timer = evtimer_new(s->eb, on_timer, e);
			evtimer_add(e->timer, &tv);
		}
		free(r);
	}
}

struct sched *
sched_new(struct event_base *eb, const struct conf *c, const char *spool, struct queue *q,
    const struct delivery_ctx *dc)
{
	struct sched *s = xcalloc(1, sizeof(*s));
	s->eb = eb;
	s->q = q;
	s->conf = c;
	s->spool = xstrdup(spool);
	s->qdir = xasprintf("%s/queue", spool);
	s->dc = *dc;
	RB_INIT(&s->all);
	TAILQ_INIT(&s->readyq);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_rwlock_init(&s->dc_lock, NULL);
	if (pipe2(s->notify, O_CLOEXEC | O_NONBLOCK) < 0)
		fatalx("pipe: %s", strerror(errno));
	s->ev_notify = event_new(eb, s->notify[0], EV_READ | EV_PERSIST, on_results, s);
	event_add(s->ev_notify, NULL);
	s->nthreads = c->delivery_threads > 0 ? (unsigned)c->delivery_threads : 1;
	if (s->nthreads > 64)
		s->nthreads = 64;
	s->threads = xcalloc(s->nthreads, sizeof(pthread_t));
	for (unsigned i = 0; i < s->nthreads; i++)
		if (pthread_create(&s->threads[i], NULL, worker, s) != 0)
			fatalx("pthread_create failed");
	return s;
}

void
sched_enqueue(struct sched *s, const char *id, time_t not_before, bool recovered)
{
	struct entry key, *e;
	strlcpy(key.id, id, sizeof(key.id));
	e = RB_FIND(entry_tree, &s->all, &key);
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		strlcpy(e->id, id, sizeof(e->id));
		e->s = s;
		RB_INSERT(entry_tree, &s->all, e);
	}
	if (recovered)
		e->has_state = true;
	time_t now = time(NULL);
	if (not_before > now) {
		struct timeval tv = { .tv_sec = not_before - now };
		if (e->timer == NULL)
			e->timer = evtimer_new(s->eb, on_timer, e);
		evtimer_add(e->timer, &tv);
		return;
	}
	make_ready(s, e);
}

void
sched_flush(struct sched *s)
{
	struct entry *e;
	RB_FOREACH(e, entry_tree, &s->all) {
		if (e->timer)
			evtimer_del(e->timer);
		make_ready(s, e);
	}
}

void
sched_set_delivery(struct sched *s, const struct conf *c, const struct delivery_ctx *dc)
{
	/* Returns once no batch uses the old context: the caller may free it. */
	pthread_rwlock_wrlock(&s->dc_lock);
	s->conf = c;
	s->dc = *dc;
	pthread_rwlock_unlock(&s->dc_lock);
}

unsigned
sched_active(const struct sched *s)
{
	return s->active;
}

void
sched_free(struct sched **sp)
{
	struct sched *s = *sp;
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	deliver_set_stopping();
	for (unsigned i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	free(s->threads);
	on_results(s->notify[0], 0, s);
	struct entry *e, *tmp;
	RB_FOREACH_SAFE(e, entry_tree, &s->all, tmp)
		entry_free(s, e);
	event_free(s->ev_notify);
	close(s->notify[0]);
	close(s->notify[1]);
	free(s->spool);
	free(s->qdir);
	free(s);
	*sp = NULL;
}
