/* maildir: Maildir delivery (tmp/ -> new/, unique names, fsync before success). */
#include "store/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define UNIQUE_MAX	MAILDIR_NAME_MAX
#define NAME_TRIES	10

/* Error texts are per thread: deliveries run in several workers at once. */
static _Thread_local char md_errbuf[512];
static atomic_ulong md_counter;
static pthread_once_t md_host_once = PTHREAD_ONCE_INIT;
static char md_host[256];

static const char *
md_err(const char *what, int e)
{
	char ebuf[128];

	snprintf(md_errbuf, sizeof(md_errbuf), "%s: %s", what,
	    strerror_r(e, ebuf, sizeof(ebuf)));
	return md_errbuf;
}

/* Maildir spec: '/' and ':' in the host name would break the file name. */
static void
md_host_init(void)
{
	char raw[256];
	size_t o = 0;

	if (gethostname(raw, sizeof(raw)) < 0 || raw[0] == '\0')
		strlcpy(raw, "localhost", sizeof(raw));
	raw[sizeof(raw) - 1] = '\0';
	for (const char *p = raw; *p != '\0' && o + 5 < sizeof(md_host); p++) {
		if (*p == '/' || *p == ':') {
			memcpy(md_host + o, *p == '/' ? "\\057" : "\\072", 4);
			o += 4;
		} else
			md_host[o++] = *p;
	}
	md_host[o] = '\0';
}

int
maildir_unique(char *buf, size_t sz, size_t size, size_t vsize)
{
	struct timespec ts;
	uint64_t rnd = 0;
	unsigned long n;
	int len;

	pthread_once(&md_host_once, md_host_init);
	n = atomic_fetch_add(&md_counter, 1) + 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)n ^ (uint64_t)(uintptr_t)&ts;
	len = snprintf(buf, sz, "%lld.M%ldP%ldQ%luR%016llx.%s,S=%zu,W=%zu", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (long)getpid(), n, (unsigned long long)rnd, md_host, size, vsize);
	return len < 0 || (size_t)len >= sz ? -1 : 0;
}

/* Line ends in text stored with LF: the CRLF ("virtual") size is size + this. */
size_t
maildir_count_lf(const char *p, size_t n)
{
	size_t c = 0;
	const char *e = p + n;
	while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* Copy dir without trailing slashes: "link/" would make O_NOFOLLOW follow it. */
static int
md_path(const char *dir, char *buf, size_t sz)
{
	size_t len;

	if (dir == NULL || (len = strlen(dir)) == 0 || len >= sz)
		return -1;
	while (len > 1 && dir[len - 1] == '/')
		len--;
	memcpy(buf, dir, len);
	buf[len] = '\0';
	return 0;
}

/* Open dir, and optionally dir/tmp and dir/new, refusing symlinks and non-directories. */
static int
md_open_dirs(const char *dir, int *dfd_r, int *tfd_r, int *nfd_r, const char **error_r)
{
	char path[PATH_MAX];
	int dfd, tfd = -1, nfd = -1;

	*dfd_r = -1;
	if (md_path(dir, path, sizeof(path)) < 0) {
		*error_r = "maildir path empty or too long";
		return STORE_PERM;
	}
	if ((dfd = open(path, DIR_FLAGS)) < 0) {
		*error_r = md_err(errno == ELOOP ? "maildir is a symlink" : "open maildir", errno);
		return STORE_TEMP;
	}
	if (tfd_r != NULL && (tfd = openat(dfd, "tmp", DIR_FLAGS)) < 0) {
		*error_r = md_err(errno == ELOOP ? "maildir tmp/ is a symlink" :
		    "open maildir tmp/", errno);
		goto fail;
	}
	if (nfd_r != NULL && (nfd = openat(dfd, "new", DIR_FLAGS)) < 0) {
		*error_r = md_err(errno == ELOOP ? "maildir new/ is a symlink" :
		    "open maildir new/", errno);
		goto fail;
	}
	*dfd_r = dfd;
	if (tfd_r != NULL)
		*tfd_r = tfd;
	if (nfd_r != NULL)
		*nfd_r = nfd;
	return STORE_OK;
fail:
	if (tfd >= 0)
		close(tfd);
	close(dfd);
	return STORE_TEMP;
}

int
maildir_create(const char *dir, const char **error_r)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];
	struct stat st;
	bool created = false;
	int dfd, r;

	if (md_path(dir, path, sizeof(path)) < 0) {
		*error_r = "maildir path empty or too long";
		return STORE_PERM;
	}
	if (lstat(path, &st) < 0) {
		char *slash;

		if (errno != ENOENT) {
			*error_r = md_err("stat maildir", errno);
			return STORE_TEMP;
		}
		if (mkdir_p(path, 0700) < 0) {
			*error_r = md_err("create maildir", errno);
			return STORE_TEMP;
		}
		/* Make the new maildir's own entry durable too. */
		if ((slash = strrchr(path, '/')) != NULL && slash != path) {
			*slash = '\0';
			r = fsync_dir(path);
			*slash = '/';
			if (r < 0) {
				*error_r = md_err("fsync maildir parent", errno);
				return STORE_TEMP;
			}
		}
	}
	if ((r = md_open_dirs(path, &dfd, NULL, NULL, error_r)) != STORE_OK)
		return r;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		int fd;

		if (mkdirat(dfd, sub[i], 0700) == 0)
			created = true;
		else if (errno != EEXIST) {
			*error_r = md_err("create maildir subdirectory", errno);
			close(dfd);
			return STORE_TEMP;
		}
		/* An existing entry may be a symlink planted by someone else. */
		if ((fd = openat(dfd, sub[i], DIR_FLAGS)) < 0) {
			*error_r = md_err(errno == ELOOP ? "maildir subdirectory is a symlink" :
			    "open maildir subdirectory", errno);
			close(dfd);
			return STORE_TEMP;
		}
		close(fd);
	}
	/* Make new entries durable before anything is delivered into them; this
	 * runs before every delivery, so only when something was created. */
	if (created && fsync(dfd) < 0) {
		*error_r = md_err("fsync maildir", errno);
		close(dfd);
		return STORE_TEMP;
	}
	close(dfd);
	return STORE_OK;
}

static int
md_writev_all(int fd, struct iovec *iov, int cnt)
{
	for (;;) {
		ssize_t n;

		while (cnt > 0 && iov->iov_len == 0) {
			iov++;
			cnt--;
		}
		if (cnt == 0)
			return 0;
		if ((n = writev(fd, iov, cnt)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			return -1;
		}
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
}

/* Move without replacing: a clash in new/ must not destroy an existing message. */
static int
md_rename_noreplace(int ofd, const char *oname, int nfd, const char *nname)
{
#ifdef RENAME_NOREPLACE
	if (renameat2(ofd, oname, nfd, nname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	if (linkat(ofd, oname, nfd, nname, 0) == 0) {
		unlinkat(ofd, oname, 0);
		return 0;
	}
	if (errno == EEXIST)
		return -1;
	/* File system without hard links: plain rename, names are unique anyway. */
	return renameat(ofd, oname, nfd, nname);
}

int
maildir_dirs_open(const char *dir, struct maildir_dirs *d, const char **error_r)
{
	int dfd, r;

	d->tfd = d->nfd = -1;
	if (strlcpy(d->dir, dir, sizeof(d->dir)) >= sizeof(d->dir)) {
		*error_r = "maildir path too long";
		return STORE_PERM;
	}
	r = md_open_dirs(dir, &dfd, &d->tfd, &d->nfd, error_r);
	if (r == STORE_TEMP && errno == ENOENT) {
		/* First delivery: make the maildir, then open it again. */
		if ((r = maildir_create(dir, error_r)) == STORE_OK)
			r = md_open_dirs(dir, &dfd, &d->tfd, &d->nfd, error_r);
	}
	if (r != STORE_OK)
		return r;
	close(dfd);
	return STORE_OK;
}

void
maildir_dirs_close(struct maildir_dirs *d)
{
	if (d->tfd >= 0)
		close(d->tfd);
	if (d->nfd >= 0)
		close(d->nfd);
	d->tfd = d->nfd = -1;
}

int
maildir_stage_in(const struct maildir_dirs *d, const char *prefix, size_t prefix_len,
    const char *msg, size_t msg_len, int sync_file, struct maildir_staged *st,
    const char **error_r)
{
	struct iovec iov[2];
	int fd = -1, tries, e;

	memset(st, 0, sizeof(*st));
	st->tfd = st->nfd = -1;
	if (prefix_len > SIZE_MAX - msg_len) {
		*error_r = "message too large";
		return STORE_PERM;
	}
	if ((prefix == NULL && prefix_len > 0) || (msg == NULL && msg_len > 0)) {
		*error_r = "NULL buffer with non-zero length";
		return STORE_PERM;
	}
	strlcpy(st->dir, d->dir, sizeof(st->dir));
	st->size = prefix_len + msg_len;
	st->vsize = st->size + maildir_count_lf(prefix, prefix_len) + maildir_count_lf(msg, msg_len);

	for (tries = 0; tries < NAME_TRIES; tries++) {
		if (maildir_unique(st->tname, sizeof(st->tname), st->size, st->vsize) < 0) {
			*error_r = "maildir unique name too long";
			return STORE_PERM;
		}
		fd = openat(d->tfd, st->tname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		*error_r = md_err("create maildir tmp file", errno);
		return STORE_TEMP;
	}
	iov[0].iov_base = (void *)(uintptr_t)prefix;
	iov[0].iov_len = prefix_len;
	iov[1].iov_base = (void *)(uintptr_t)msg;
	iov[1].iov_len = msg_len;
	if (md_writev_all(fd, iov, 2) < 0) {
		*error_r = md_err("write maildir tmp file", errno);
		goto unlink_tmp;
	}
	if (sync_file && fdatasync(fd) < 0) {
		*error_r = md_err("fsync maildir tmp file", errno);
		goto unlink_tmp;
	}
	/* close() reports deferred write errors on NFS. */
	e = close(fd) < 0 ? errno : 0;
	fd = -1;
	if (e != 0) {
		*error_r = md_err("close maildir tmp file", e);
		goto unlink_tmp;
	}
	/* Borrowed: d stays open until the staged file is published or unstaged. */
	st->staged = 1;
	st->tfd = d->tfd;
	st->nfd = d->nfd;
	return STORE_OK;

unlink_tmp:
	if (fd >= 0)
		close(fd);
	unlinkat(d->tfd, st->tname, 0);
	return STORE_TEMP;
}

int
maildir_stage(const char *dir, const char *prefix, size_t prefix_len, const char *msg,
    size_t msg_len, int sync_file, struct maildir_staged *st, const char **error_r)
{
	struct maildir_dirs d;
	int r;

	memset(st, 0, sizeof(*st));
	st->tfd = st->nfd = -1;
	if ((r = maildir_dirs_open(dir, &d, error_r)) != STORE_OK)
		return r;
	r = maildir_stage_in(&d, prefix, prefix_len, msg, msg_len, sync_file, st, error_r);
	if (r != STORE_OK) {
		maildir_dirs_close(&d);
		return r;
	}
	st->owns_fds = 1;	/* this staging opened them: publish/unstage close them */
	return STORE_OK;
}

static void
md_close_staged(struct maildir_staged *st)
{
	if (st->owns_fds) {
		if (st->tfd >= 0)
			close(st->tfd);
		if (st->nfd >= 0)
			close(st->nfd);
	}
	st->tfd = st->nfd = -1;
	st->owns_fds = 0;
}

int
maildir_publish(struct maildir_staged *st, char *name_r, size_t name_sz, const char **error_r)
{
	int r, tries, e;

	if (!st->staged) {
		*error_r = "nothing staged";
		return STORE_PERM;
	}
	/* Checked before renaming; only a retried name in new/ can grow (by a digit). */
	if (name_r != NULL && name_sz < sizeof("new/") + strlen(st->tname)) {
		*error_r = "name buffer too small";
		maildir_unstage(st);
		return STORE_PERM;
	}
	r = STORE_TEMP;
	strlcpy(st->nname, st->tname, sizeof(st->nname));
	for (tries = 0; ; tries++) {
		if (md_rename_noreplace(st->tfd, st->tname, st->nfd, st->nname) == 0)
			break;
		e = errno;
		if (e != EEXIST || tries + 1 >= NAME_TRIES) {
			*error_r = md_err("rename maildir tmp file into new/", e);
			unlinkat(st->tfd, st->tname, 0);
			goto out;
		}
		if (maildir_unique(st->nname, sizeof(st->nname), st->size, st->vsize) < 0) {
			*error_r = "maildir unique name too long";
			unlinkat(st->tfd, st->tname, 0);
			r = STORE_PERM;
			goto out;
		}
	}
	st->published = 1;
	if (name_r != NULL)
		snprintf(name_r, name_sz, "new/%s", st->nname);
	r = STORE_OK;
out:
	st->staged = 0;
	md_close_staged(st);
	return r;
}

void
maildir_unstage(struct maildir_staged *st)
{
	char path[sizeof(st->dir) + UNIQUE_MAX + 8];

	if (st->staged) {
		if (st->tfd >= 0)
			unlinkat(st->tfd, st->tname, 0);
		else {
			snprintf(path, sizeof(path), "%s/tmp/%s", st->dir, st->tname);
			unlink(path);
		}
		md_close_staged(st);
	} else if (st->published) {
		/* Taking back a delivery whose new/ entry could not be made durable. */
		snprintf(path, sizeof(path), "%s/new/%s", st->dir, st->nname);
		unlink(path);
	}
	st->staged = st->published = 0;
}

int
maildir_deliver(const char *dir, const char *prefix, size_t prefix_len, const char *msg,
    size_t msg_len, int sync_dir, char *name_r, size_t name_sz, const char **error_r)
{
	struct maildir_staged st;
	int r;

	if ((r = maildir_stage(dir, prefix, prefix_len, msg, msg_len, 1, &st, error_r)) != STORE_OK)
		return r;
	if ((r = maildir_publish(&st, name_r, name_sz, error_r)) != STORE_OK)
		return r;
	if (sync_dir && (r = maildir_sync_new(dir, error_r)) != STORE_OK) {
		/* Report failure, so take it back: a retry must not make a duplicate. */
		maildir_unstage(&st);
		return r;
	}
	return STORE_OK;
}

int
maildir_sync_new(const char *dir, const char **error_r)
{
	int dfd, nfd, r;

	if ((r = md_open_dirs(dir, &dfd, NULL, &nfd, error_r)) != STORE_OK)
		return r;
	r = STORE_OK;
	if (fsync(nfd) < 0) {
		*error_r = md_err("fsync maildir new/", errno);
		r = STORE_TEMP;
	}
	close(nfd);
	close(dfd);
	return r;
}
