#include "lib/bgsync.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsync_group.h"
#include "lib/util.h"

struct bgsync_req {
	struct bgsync_req *next;
	int fd;
	int err;
	bgsync_done_fn done;
	void *arg;
};

struct bgsync {
	struct event_base *eb;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool started, stop;
	struct bgsync_req *queued, **queued_tail;	/* handed over, not yet flushed */
	struct bgsync_req *finished, **fin_tail;
	int pfd[2];		/* the thread wakes the loop */
	struct event *ev;
};

static void *
run(void *arg)
{
	struct bgsync *b = arg;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->stop && b->queued == NULL)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->queued == NULL)
			break;
		struct bgsync_req *batch = b->queued;
		b->queued = NULL;
		b->queued_tail = &b->queued;
		pthread_mutex_unlock(&b->mu);
		/* Everything in the batch was written before it was handed over,
		 * so one flush per file system covers the whole batch. */
		for (struct bgsync_req *r = batch; r; r = r->next) {
			struct stat st;
			if (fstat(r->fd, &st) < 0) {
				r->err = errno;
				continue;
			}
			r->err = -1;
			for (struct bgsync_req *p = batch; p != r; p = p->next) {
				struct stat ps;
				if (p->err >= 0 && fstat(p->fd, &ps) == 0 && ps.st_dev == st.st_dev) {
					r->err = p->err;
					break;
				}
			}
			if (r->err < 0)
				r->err = fsync_group(r->fd) == 0 ? 0 : errno;
		}
		pthread_mutex_lock(&b->mu);
		bool wake = b->finished == NULL;
		*b->fin_tail = batch;
		while (*b->fin_tail)
			b->fin_tail = &(*b->fin_tail)->next;
		if (wake) {
			char c = 1;
			ssize_t n = write(b->pfd[1], &c, 1);
			(void)n;	/* a full pipe already wakes the loop */
		}
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct bgsync *b = arg;
	char buf[64];
	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&b->mu);
	struct bgsync_req *list = b->finished;
	b->finished = NULL;
	b->fin_tail = &b->finished;
	pthread_mutex_unlock(&b->mu);
	while (list != NULL) {
		struct bgsync_req *r = list;
		list = r->next;
		close(r->fd);
		r->done(r->arg, r->err);
		free(r);
	}
}

struct bgsync *
bgsync_new(struct event_base *eb)
{
	struct bgsync *b = xcalloc(1, sizeof(*b));
	b->eb = eb;
	b->pfd[0] = b->pfd[1] = -1;
	b->queued_tail = &b->queued;
	b->fin_tail = &b->finished;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	return b;
}

static int
start(struct bgsync *b)
{
	if (pipe2(b->pfd, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	b->ev = event_new(b->eb, b->pfd[0], EV_READ | EV_PERSIST, on_wake, b);
	if (b->ev == NULL || event_add(b->ev, NULL) != 0)
		goto fail;
	int e = pthread_create(&b->th, NULL, run, b);
	if (e != 0) {
		errno = e;
		goto fail;
	}
	b->started = true;
	return 0;
fail:
	e = errno;
	if (b->ev != NULL)
		event_free(b->ev);
	b->ev = NULL;
	close(b->pfd[0]);
	close(b->pfd[1]);
	b->pfd[0] = b->pfd[1] = -1;
	errno = e;
	return -1;
}

int
bgsync_start(struct bgsync *b, int fd, bgsync_done_fn done, void *arg)
{
	if (!b->started && start(b) != 0)
		return -1;
	struct bgsync_req *r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->done = done;
	r->arg = arg;
	pthread_mutex_lock(&b->mu);
	*b->queued_tail = r;
	b->queued_tail = &r->next;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

void
bgsync_free(struct bgsync **bp)
{
	struct bgsync *b = *bp;
	if (b == NULL)
		return;
	*bp = NULL;
	if (b->started) {
		pthread_mutex_lock(&b->mu);
		b->stop = true;
		pthread_cond_signal(&b->cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->th, NULL);
		/* The thread did everything handed over: answer it all. */
		on_wake(b->pfd[0], EV_READ, b);
		event_free(b->ev);
		close(b->pfd[0]);
		close(b->pfd[1]);
	}
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b);
}
