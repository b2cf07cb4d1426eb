#include "lib/fsync_group.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FS 16

struct fsg {
	dev_t dev;
	bool used, running;
	uint64_t requested;	/* tickets handed out */
	uint64_t done;		/* every ticket <= done is covered by a finished syncfs */
	uint64_t failed_from, failed_to;	/* tickets of the last failed syncfs */
	int failed_errno;
	pthread_cond_t cv;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct fsg fss[MAX_FS];

int
fsync_group(int fd)
{
	struct stat st;
	struct fsg *g = NULL;

	if (fstat(fd, &st) < 0)
		return -1;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAX_FS && g == NULL; i++)
		if (fss[i].used && fss[i].dev == st.st_dev)
			g = &fss[i];
	for (int i = 0; i < MAX_FS && g == NULL; i++)
		if (!fss[i].used) {
			g = &fss[i];
			g->used = true;
			g->dev = st.st_dev;
			pthread_cond_init(&g->cv, NULL);
		}
	if (g == NULL) {
		/* More file systems than slots: no sharing, still durable. */
		pthread_mutex_unlock(&mu);
		return syncfs(fd);
	}
	uint64_t ticket = ++g->requested;
	for (;;) {
		if (g->done >= ticket) {
			int rc = 0;
			if (ticket >= g->failed_from && ticket <= g->failed_to) {
				errno = g->failed_errno;
				rc = -1;
			}
			pthread_mutex_unlock(&mu);
			return rc;
		}
		if (!g->running) {
			/* Lead one syncfs for every ticket handed out so far. */
			uint64_t cover = g->requested, from = g->done + 1;
			g->running = true;
			pthread_mutex_unlock(&mu);
			int rc = syncfs(fd);
			int e = errno;
			pthread_mutex_lock(&mu);
			g->running = false;
			g->done = cover;
			if (rc < 0) {
				g->failed_from = from;
				g->failed_to = cover;
				g->failed_errno = e;
			}
			pthread_cond_broadcast(&g->cv);
			continue;
		}
		pthread_cond_wait(&g->cv, &mu);
	}
}
