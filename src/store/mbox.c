/* mbox: append to an mbox file (mboxrd quoting, fcntl + dotlock, undo on error). */
#include "store/mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "store/mboxfile.h"

#define LOCK_POLL_MS	100
#define DOTLOCK_STALE	300	/* seconds */
#define WBUF_SIZE	65536

/* Error texts are per thread: deliveries run in several workers at once. */
static _Thread_local char mb_errbuf[512];

static const char *
mb_err(const char *what, int e)
{
	char ebuf[128];

	snprintf(mb_errbuf, sizeof(mb_errbuf), "%s: %s", what,
	    strerror_r(e, ebuf, sizeof(ebuf)));
	return mb_errbuf;
}

static void
sleep_ms(unsigned long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sleep one poll interval unless the deadline has passed; -1 when it has. */
static int
poll_wait(unsigned long long deadline)
{
	unsigned long long now = now_ms();

	if (now >= deadline)
		return -1;
	sleep_ms(deadline - now < LOCK_POLL_MS ? deadline - now : LOCK_POLL_MS);
	return 0;
}

static int
dotlock_acquire(const char *lock, unsigned long long deadline, const char **error_r)
{
	char pid[32];
	struct stat st;
	int fd, n, removed = 0;

	for (;;) {
		fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			*error_r = mb_err("create mailbox dotlock", errno);
			return -1;
		}
		if (lstat(lock, &st) < 0) {
			if (errno == ENOENT && now_ms() < deadline)
				continue;	/* just released */
		} else if (st.st_mtime + DOTLOCK_STALE < time(NULL)) {
			/* A crashed holder leaves its lock behind. */
			if ((unlink(lock) == 0 || errno == ENOENT) && ++removed < 10)
				continue;
		}
		if (poll_wait(deadline) < 0) {
			*error_r = "mailbox dotlock busy";
			return -1;
		}
	}
	/* The pid helps an admin; the lock is valid without it. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	(void)write_all(fd, pid, (size_t)n);
	close(fd);
	return 0;
}

static int
fcntl_lock(int fd, unsigned long long deadline, const char **error_r)
{
	struct flock fl;
	int cmd;

#ifdef F_OFD_SETLK
	/* OFD locks also exclude other threads of this process, and survive
	 * another thread closing its descriptor of the same file. */
	cmd = F_OFD_SETLK;
#else
	cmd = F_SETLK;
#endif
	for (;;) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, cmd, &fl) == 0)
			return 0;
#ifdef F_OFD_SETLK
		if (errno == EINVAL && cmd == F_OFD_SETLK) {
			cmd = F_SETLK;
			continue;
		}
#endif
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			*error_r = mb_err("lock mailbox", errno);
			return -1;
		}
		if (poll_wait(deadline) < 0) {
			*error_r = "mailbox is locked (fcntl)";
			return -1;
		}
	}
}

/* Buffered appender; the first error sticks and later output is dropped. */
struct wbuf {
	int fd;
	int err;
	int last;		/* last byte written, -1 before any */
	size_t len;
	char *buf;
};

static void
wb_flush(struct wbuf *w)
{
	if (w->err == 0 && w->len > 0 && write_all(w->fd, w->buf, w->len) < 0)
		w->err = errno != 0 ? errno : EIO;
	w->len = 0;
}

static void
wb_put(struct wbuf *w, const char *p, size_t n)
{
	if (w->err != 0 || n == 0)
		return;
	w->last = (unsigned char)p[n - 1];
	if (w->len + n > WBUF_SIZE) {
		wb_flush(w);
		if (n >= WBUF_SIZE) {
			if (w->err == 0 && write_all(w->fd, p, n) < 0)
				w->err = errno != 0 ? errno : EIO;
			return;
		}
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* Quoted (mboxrd, store/mboxfile) through a bounded scratch buffer: the
 * message is not copied whole. */
static void
wb_put_quoted(struct wbuf *w, struct mboxf_quoter *q, struct buf *scratch, const char *p,
    size_t n)
{
	while (n > 0) {
		size_t k = n < WBUF_SIZE ? n : WBUF_SIZE;

		buf_reset(scratch);
		mboxf_quote(q, p, k, scratch);
		wb_put(w, scratch->p, scratch->len);
		p += k;
		n -= k;
	}
}

/* "From sender Thu Nov 26 10:00:00 2026": asctime layout in local time. */
static void
wb_put_from(struct wbuf *w, struct buf *scratch, const char *sender, time_t when)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	buf_reset(scratch);
	mboxf_add_from_line(scratch, sender, &tm);
	wb_put(w, scratch->p, scratch->len);
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int
mbox_deliver(const char *path, const char *sender, time_t when, const char *prefix,
    size_t prefix_len, const char *msg, size_t msg_len, int lock_timeout, const char **error_r)
{
	unsigned long long deadline;
	struct mboxf_quoter q;
	struct buf scratch = { 0 };
	struct wbuf w;
	struct stat st, lst;
	char *dir, *lock = NULL;
	off_t orig;
	int fd, r = STORE_TEMP;

	if (path == NULL || *path == '\0') {
		*error_r = "empty mailbox path";
		return STORE_PERM;
	}
	if ((prefix == NULL && prefix_len > 0) || (msg == NULL && msg_len > 0)) {
		*error_r = "NULL buffer with non-zero length";
		return STORE_PERM;
	}
	deadline = now_ms() + (lock_timeout > 0 ? (unsigned long long)lock_timeout * 1000 : 0);

	/* /var/mail is often only group-writable by mail: then fcntl alone.
	 * AT_EACCESS: the effective ids are the ones that create the lock. */
	dir = dir_of(path);
	if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0) {
		lock = xasprintf("%s.lock", path);
		if (dotlock_acquire(lock, deadline, error_r) < 0) {
			free(lock);
			free(dir);
			return STORE_TEMP;
		}
	}
	free(dir);

	/* O_NONBLOCK: a FIFO planted at path must not hang the worker. */
	/* Read access too, to see how the file ends (a file that does not
	 * end in an empty line would glue the new message onto the last). */
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;

		*error_r = mb_err(e == ELOOP ? "mailbox is a symlink" : "open mailbox", e);
		if (e == ENAMETOOLONG)
			r = STORE_PERM;
		goto unlock_dot;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = mb_err("fstat mailbox", errno);
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = "mailbox is not a regular file";
		goto close_fd;
	}
	if (st.st_nlink != 1) {
		*error_r = "mailbox has more than one hard link";
		goto close_fd;
	}
	if (fcntl_lock(fd, deadline, error_r) < 0)
		goto close_fd;
	/* While we waited the file may have been replaced, linked or grown. */
	if (fstat(fd, &st) < 0) {
		*error_r = mb_err("fstat mailbox", errno);
		goto close_fd;
	}
	if (lstat(path, &lst) < 0 || lst.st_dev != st.st_dev || lst.st_ino != st.st_ino) {
		*error_r = "mailbox replaced while locking";
		goto close_fd;
	}
	if (st.st_nlink != 1) {
		*error_r = "mailbox has more than one hard link";
		goto close_fd;
	}
	orig = st.st_size;

	memset(&w, 0, sizeof(w));
	w.fd = fd;
	w.last = -1;
	w.buf = xmalloc(WBUF_SIZE);
	if (orig > 0) {
		char tail[3];
		size_t tl = orig < 3 ? (size_t)orig : 3;
		if (pread(fd, tail, tl, orig - (off_t)tl) == (ssize_t)tl) {
			const char *sep = mboxf_append_sep(tail, tl);
			wb_put(&w, sep, strlen(sep));
		}
	}
	wb_put_from(&w, &scratch, sender, when);
	/* Quoting runs on across the two: a line may start in prefix and go
	 * on in msg. */
	mboxf_quote_init(&q, true);
	wb_put_quoted(&w, &q, &scratch, prefix, prefix != NULL ? prefix_len : 0);
	wb_put_quoted(&w, &q, &scratch, msg, msg != NULL ? msg_len : 0);
	buf_reset(&scratch);
	mboxf_quote_end(&q, &scratch);
	wb_put(&w, scratch.p, scratch.len);
	buf_free(&scratch);
	if (w.last != '\n')
		wb_put(&w, "\n", 1);
	wb_put(&w, "\n", 1);
	wb_flush(&w);
	free(w.buf);

	if (w.err != 0)
		*error_r = mb_err("write mailbox", w.err);
	else if (fsync(fd) < 0)
		*error_r = mb_err("fsync mailbox", errno);
	else
		r = STORE_OK;
	if (r != STORE_OK) {
		/* Never leave half a message: the next one would be glued to it. */
		if (ftruncate(fd, orig) == 0)
			(void)fsync(fd);
		else {
			size_t l = strlen(mb_errbuf);

			snprintf(mb_errbuf + l, sizeof(mb_errbuf) - l,
			    "; truncate back failed, mailbox may be damaged");
			*error_r = mb_errbuf;
		}
	}
close_fd:
	close(fd);	/* also drops the fcntl lock */
unlock_dot:
	if (lock != NULL) {
		unlink(lock);
		free(lock);
	}
	return r;
}

int
mbox_lock_open(const char *path, bool create, int lock_timeout, struct mbox_lock *lk,
    const char **error_r)
{
	unsigned long long deadline = now_ms() + (lock_timeout > 0 ?
	    (unsigned long long)lock_timeout * 1000 : 0);
	struct stat st, lst;
	char *dir = dir_of(path);

	lk->fd = -1;
	lk->dotlock = NULL;
	if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0) {
		lk->dotlock = xasprintf("%s.lock", path);
		if (dotlock_acquire(lk->dotlock, deadline, error_r) < 0) {
			free(lk->dotlock);
			lk->dotlock = NULL;
			free(dir);
			return -1;
		}
	}
	free(dir);
	lk->fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (create ? O_CREAT : 0),
	    0600);
	if (lk->fd < 0) {
		*error_r = mb_err(errno == ELOOP ? "mailbox is a symlink" : "open mailbox", errno);
		goto fail;
	}
	if (fstat(lk->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		*error_r = "mailbox is not a regular file with one link";
		goto fail;
	}
	if (fcntl_lock(lk->fd, deadline, error_r) < 0)
		goto fail;
	if (fstat(lk->fd, &st) < 0 || lstat(path, &lst) < 0 || lst.st_dev != st.st_dev ||
	    lst.st_ino != st.st_ino) {
		*error_r = "mailbox replaced while locking";
		goto fail;
	}
	return 0;
fail:
	mbox_lock_close(lk);
	return -1;
}

void
mbox_lock_close(struct mbox_lock *lk)
{
	if (lk->fd >= 0)
		close(lk->fd);	/* also drops the fcntl lock */
	lk->fd = -1;
	if (lk->dotlock != NULL) {
		unlink(lk->dotlock);
		free(lk->dotlock);
		lk->dotlock = NULL;
	}
}
