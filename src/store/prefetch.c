#include "store/prefetch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/mailbox.h"

#define PREFETCH_MIN	32		/* fewer files: not worth a thread */
#define PREFETCH_AHEAD	256		/* files read ahead of the caller at most */
#define PREFETCH_BYTES	(32u << 20)	/* bytes held ahead at most */

struct slot {
	char *name;
	size_t hint;		/* the size from the name (,S=), 0 unknown */
	char *data;		/* NULL: not read or unreadable */
	size_t len;
	bool done;
};

struct prefetch {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int dirfd;
	struct slot *s;
	size_t n;
	size_t next_read;	/* the thread's position */
	size_t taken;		/* the caller's position */
	size_t held;		/* bytes read and not taken */
	bool stop;
	bool joinable;		/* the thread was started */
};

static char *
read_one(int dirfd, const struct slot *sl, size_t *len_r)
{
	int fd = openat(dirfd, sl->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	size_t cap = sl->hint > 0 ? sl->hint + 1 : 8192, len = 0;
	char *d = malloc(cap + 1);
	while (d != NULL) {
		ssize_t r = read(fd, d + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(d);
			d = NULL;
			break;
		}
		len += (size_t)r;
		if (r == 0 || len < cap)
			break;
		if (cap > SIZE_MAX / 4) {
			free(d);
			d = NULL;
			break;
		}
		cap *= 2;
		char *nd = realloc(d, cap + 1);
		if (nd == NULL)
			free(d);
		d = nd;
	}
	close(fd);
	if (d != NULL) {
		d[len] = '\0';
		*len_r = len;
	}
	return d;
}

static void *
run(void *arg)
{
	struct prefetch *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->stop && p->next_read < p->n) {
		if (p->next_read - p->taken >= PREFETCH_AHEAD || p->held >= PREFETCH_BYTES) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		struct slot *sl = &p->s[p->next_read];
		pthread_mutex_unlock(&p->mu);
		size_t len = 0;
		char *d = read_one(p->dirfd, sl, &len);
		pthread_mutex_lock(&p->mu);
		sl->data = d;
		sl->len = len;
		sl->done = true;
		if (d != NULL)
			p->held += len;
		p->next_read++;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct prefetch *
prefetch_start(struct mailbox *mb, const size_t *idx, size_t n)
{
	if (n < PREFETCH_MIN || mb->m[idx[0]].fname == NULL)
		return NULL;
	char path[4200];
	snprintf(path, sizeof(path), "%s/cur", mb->dir);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return NULL;
	struct prefetch *p = xcalloc(1, sizeof(*p));
	p->dirfd = dfd;
	p->n = n;
	p->s = xcalloc(n, sizeof(*p->s));
	for (size_t k = 0; k < n; k++) {
		const struct mbx_msg *m = &mb->m[idx[k]];
		p->s[k].name = xstrdup(m->fname);
		p->s[k].hint = m->size > 0 ? (size_t)m->size : 0;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		prefetch_stop(p);
		return NULL;
	}
	p->joinable = true;
	return p;
}

char *
prefetch_take(struct prefetch *p, size_t k, size_t *len_r)
{
	if (p == NULL || k >= p->n)
		return NULL;
	pthread_mutex_lock(&p->mu);
	/* Skipped ones are let go. */
	while (p->taken < k) {
		struct slot *sl = &p->s[p->taken];
		while (!sl->done)
			pthread_cond_wait(&p->cv, &p->mu);
		if (sl->data != NULL)
			p->held -= sl->len;
		free(sl->data);
		sl->data = NULL;
		p->taken++;
	}
	struct slot *sl = &p->s[k];
	while (!sl->done)
		pthread_cond_wait(&p->cv, &p->mu);
	char *d = sl->data;
	*len_r = sl->len;
	sl->data = NULL;
	if (d != NULL)
		p->held -= sl->len;
	p->taken = k + 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return d;
}

void
prefetch_stop(struct prefetch *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->joinable)
		pthread_join(p->thread, NULL);
	for (size_t k = 0; k < p->n; k++) {
		free(p->s[k].name);
		free(p->s[k].data);
	}
	free(p->s);
	close(p->dirfd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
