/* Unit tests for store/mbox. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "tu.h"

#include "lib/util.h"
#include "store/mbox.h"

/* Thu Nov 26 10:00:00 2026 UTC; main() sets TZ=UTC. */
#define WHEN	((time_t)1795687200)
#define FROM_LINE "From a@example.org Thu Nov 26 10:00:00 2026\n"

struct fx {
	char *root;
	char *mbox;
	char *lock;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->root = tu_tmpdir();
	f->mbox = xasprintf("%s/user", f->root);
	f->lock = xasprintf("%s/user.lock", f->root);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tu_rmtree(f->root);
	free(f->root);
	free(f->mbox);
	free(f->lock);
	free(f);
	return 0;
}

static int
deliver(const char *path, const char *sender, const char *prefix, const char *msg, int tmo,
    const char **err)
{
	return mbox_deliver(path, sender, WHEN, prefix, prefix != NULL ? strlen(prefix) : 0,
	    msg, msg != NULL ? strlen(msg) : 0, tmo, err);
}

static char *
slurp(const char *path, size_t *len_r)
{
	char *data;
	size_t len;

	assert_int_equal(read_file(path, 1 << 26, &data, &len), 0);
	if (len_r != NULL)
		*len_r = len;
	return data;
}

static void
assert_file_eq(const char *path, const char *want)
{
	size_t len;
	char *data = slurp(path, &len);

	assert_string_equal(data, want);
	assert_int_equal(len, strlen(want));
	free(data);
}

static void
write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, strlen(data)), 0);
	close(fd);
}

static void
test_from_line_format(void **state)
{
	(void)state;
	/* the constant must really be what asctime() says for WHEN */
	struct tm tm;
	char buf[64];
	time_t t = WHEN;

	assert_non_null(gmtime_r(&t, &tm));
	assert_non_null(asctime_r(&tm, buf));
	assert_string_equal(buf, "Thu Nov 26 10:00:00 2026\n");
}

static void
test_basic_append(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	struct stat st;

	assert_int_equal(deliver(f->mbox, "a@example.org", "Return-Path: <a@example.org>\n",
	    "Subject: one\n\nbody 1\n", 5, &err), STORE_OK);
	assert_file_eq(f->mbox, FROM_LINE "Return-Path: <a@example.org>\n"
	    "Subject: one\n\nbody 1\n\n");
	assert_int_equal(lstat(f->mbox, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(access(f->lock, F_OK), -1);

	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "Subject: two\n\nbody 2\n", 5,
	    &err), STORE_OK);
	assert_file_eq(f->mbox, FROM_LINE "Return-Path: <a@example.org>\n"
	    "Subject: one\n\nbody 1\n\n"
	    FROM_LINE "Subject: two\n\nbody 2\n\n");
	assert_int_equal(access(f->lock, F_OK), -1);
}

static void
test_sender_variants(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	time_t early = WHEN - 20 * 86400;	/* Fri Nov  6: day padded like asctime */

	assert_int_equal(deliver(f->mbox, "", NULL, "a\n", 5, &err), STORE_OK);
	assert_int_equal(deliver(f->mbox, NULL, NULL, "b\n", 5, &err), STORE_OK);
	assert_int_equal(deliver(f->mbox, "\"john doe\"@x\n", NULL, "c\n", 5, &err), STORE_OK);
	assert_int_equal(mbox_deliver(f->mbox, "z@y", early, NULL, 0, "d\n", 2, 5, &err),
	    STORE_OK);
	assert_file_eq(f->mbox,
	    "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\na\n\n"
	    "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\nb\n\n"
	    "From \"john_doe\"@x_ Thu Nov 26 10:00:00 2026\nc\n\n"
	    "From z@y Fri Nov  6 10:00:00 2026\nd\n\n");
}

static void
test_mboxrd_quoting(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	const char *msg =
	    "From evil Mon Jan  1 00:00:00 2001\n"
	    "Subject: x\n"
	    "\n"
	    "From here on\n"
	    ">From quoted once\n"
	    ">>From quoted twice\n"
	    "Fromage is cheese\n"
	    "From\n"
	    ">From\n"
	    "From:header-like\n"
	    " From indented\n"
	    "from lower\n"
	    "in the middle From x\n"
	    ">>>\n"
	    "From ";
	const char *want = FROM_LINE
	    "X-Prefix: 1\n"
	    ">>From in prefix\n"
	    ">From evil Mon Jan  1 00:00:00 2001\n"
	    "Subject: x\n"
	    "\n"
	    ">From here on\n"
	    ">>From quoted once\n"
	    ">>>From quoted twice\n"
	    "Fromage is cheese\n"
	    "From\n"
	    ">From\n"
	    "From:header-like\n"
	    " From indented\n"
	    "from lower\n"
	    "in the middle From x\n"
	    ">>>\n"
	    ">From \n"
	    "\n";

	assert_int_equal(deliver(f->mbox, "a@example.org", "X-Prefix: 1\n>From in prefix\n",
	    msg, 5, &err), STORE_OK);
	assert_file_eq(f->mbox, want);
}

static void
test_quoting_across_prefix_boundary(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	/* prefix without final newline: the line goes on in msg */
	assert_int_equal(deliver(f->mbox, "a@example.org", "X: 1\n>>Fr", "om z\nFrom y\n", 5,
	    &err), STORE_OK);
	/* no newline at the end of the prefix: msg is not at a line start */
	assert_int_equal(deliver(f->mbox, "a@example.org", "X: 1", "From z\n", 5, &err),
	    STORE_OK);
	/* prefix ends exactly at ">" */
	assert_int_equal(deliver(f->mbox, "a@example.org", "X: 1\n>", "From z\n", 5, &err),
	    STORE_OK);
	assert_file_eq(f->mbox,
	    FROM_LINE "X: 1\n>>>From z\n>From y\n\n"
	    FROM_LINE "X: 1From z\n\n"
	    FROM_LINE "X: 1\n>>From z\n\n");
}

static void
test_final_newline(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "no newline", 5, &err),
	    STORE_OK);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "", 5, &err), STORE_OK);
	assert_int_equal(deliver(f->mbox, "a@example.org", "X: y\n", "", 5, &err), STORE_OK);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "two\n\n", 5, &err), STORE_OK);
	assert_file_eq(f->mbox,
	    FROM_LINE "no newline\n\n"
	    FROM_LINE "\n"
	    FROM_LINE "X: y\n\n"
	    FROM_LINE "two\n\n\n");
}

static void
test_large_message(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	size_t n = 50000, len, off;
	char *msg = malloc(n * 16 + 1), *data;
	char *want = malloc(n * 17 + 256);

	/* every other line needs quoting; crosses the write buffer many times */
	msg[0] = '\0';
	off = 0;
	len = 0;
	len += (size_t)sprintf(want, "%s", FROM_LINE);
	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 0) {
			off += (size_t)sprintf(msg + off, "From %09zu\n", i);
			len += (size_t)sprintf(want + len, ">From %09zu\n", i);
		} else {
			off += (size_t)sprintf(msg + off, "line %09zu\n", i);
			len += (size_t)sprintf(want + len, "line %09zu\n", i);
		}
	}
	want[len++] = '\n';
	want[len] = '\0';
	assert_int_equal(mbox_deliver(f->mbox, "a@example.org", WHEN, NULL, 0, msg, off, 5,
	    &err), STORE_OK);
	data = slurp(f->mbox, &off);
	assert_int_equal(off, len);
	assert_memory_equal(data, want, len);
	free(data);
	free(msg);
	free(want);
}

static void
test_dotlock_busy(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	unsigned long long t0;

	write_file(f->mbox, "old\n");
	write_file(f->lock, "12345\n");
	t0 = now_ms();
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_true(now_ms() - t0 >= 900);
	assert_true(now_ms() - t0 < 5000);
	assert_non_null(err);
	assert_file_eq(f->mbox, "old\n");
	/* somebody else's lock is left alone */
	assert_file_eq(f->lock, "12345\n");

	/* timeout 0: one try only */
	t0 = now_ms();
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 0, &err), STORE_TEMP);
	assert_true(now_ms() - t0 < 500);

	/* released: works again */
	assert_int_equal(unlink(f->lock), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_OK);
	assert_file_eq(f->mbox, "old\n\n" FROM_LINE "x\n\n");	/* an empty line first */
}

struct releaser {
	const char *lock;
	int delay_ms;
};

static void *
release_later(void *arg)
{
	struct releaser *r = arg;
	struct timespec ts = { 0, r->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	unlink(r->lock);
	return NULL;
}

static void
test_dotlock_waits(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	struct releaser r = { f->lock, 300 };
	pthread_t th;

	write_file(f->lock, "1\n");
	assert_int_equal(pthread_create(&th, NULL, release_later, &r), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 3, &err), STORE_OK);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_file_eq(f->mbox, FROM_LINE "x\n\n");
	assert_int_equal(access(f->lock, F_OK), -1);
}

static void
test_dotlock_stale(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	struct timespec ts[2];
	unsigned long long t0;

	write_file(f->lock, "99999\n");
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 400;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, f->lock, ts, 0), 0);
	t0 = now_ms();
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 2, &err), STORE_OK);
	assert_true(now_ms() - t0 < 1000);
	assert_file_eq(f->mbox, FROM_LINE "x\n\n");
	assert_int_equal(access(f->lock, F_OK), -1);

	/* 200 s old is not stale yet */
	write_file(f->lock, "99999\n");
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 200;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, f->lock, ts, 0), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "y\n", 0, &err), STORE_TEMP);
	assert_int_equal(access(f->lock, F_OK), 0);
	assert_int_equal(unlink(f->lock), 0);

	/* an old lock we cannot remove (a directory) must not make us spin */
	assert_int_equal(mkdir(f->lock, 0700), 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 400;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, f->lock, ts, 0), 0);
	t0 = now_ms();
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "z\n", 1, &err), STORE_TEMP);
	assert_true(now_ms() - t0 >= 900);
	assert_true(now_ms() - t0 < 5000);
	assert_file_eq(f->mbox, FROM_LINE "x\n\n");
}

/* A child process holds an fcntl write lock on path until we write to its pipe. */
static pid_t
hold_fcntl_lock(const char *path, int *release_fd)
{
	int ready[2], release[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(path, O_RDWR);

		close(ready[0]);
		close(release[1]);
		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		(void)read(release[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*release_fd = release[1];
	return pid;
}

static void
test_fcntl_lock_busy(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	unsigned long long t0;
	int rel, status;
	pid_t pid;

	write_file(f->mbox, "old\n");
	pid = hold_fcntl_lock(f->mbox, &rel);
	t0 = now_ms();
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_true(now_ms() - t0 >= 900);
	assert_non_null(err);
	assert_file_eq(f->mbox, "old\n");
	/* our dotlock is released on the failure path too */
	assert_int_equal(access(f->lock, F_OK), -1);

	assert_int_equal(write(rel, "x", 1), 1);
	close(rel);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_OK);
	assert_file_eq(f->mbox, "old\n\n" FROM_LINE "x\n\n");	/* an empty line first */
}

static void
test_fcntl_lock_released_in_time(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	int rel, status;
	pid_t pid, killer;

	write_file(f->mbox, "");
	pid = hold_fcntl_lock(f->mbox, &rel);
	/* release after ~300 ms from another process, while we poll */
	fflush(NULL);
	killer = fork();
	assert_true(killer >= 0);
	if (killer == 0) {
		struct timespec ts = { 0, 300 * 1000000L };

		nanosleep(&ts, NULL);
		_exit(write(rel, "x", 1) == 1 ? 0 : 1);
	}
	close(rel);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 3, &err), STORE_OK);
	assert_int_equal(waitpid(killer, &status, 0), killer);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_file_eq(f->mbox, FROM_LINE "x\n\n");
}

static void
test_symlink_refused(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char *target = xasprintf("%s/target", f->root);
	char *dangling = xasprintf("%s/nowhere", f->root);

	write_file(target, "secret\n");
	assert_int_equal(symlink(target, f->mbox), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_non_null(err);
	assert_file_eq(target, "secret\n");
	assert_int_equal(access(f->lock, F_OK), -1);

	/* dangling symlink: must not create the target */
	assert_int_equal(unlink(f->mbox), 0);
	assert_int_equal(symlink(dangling, f->mbox), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_int_equal(access(dangling, F_OK), -1);
	free(target);
	free(dangling);
}

static void
test_hardlink_refused(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char *other = xasprintf("%s/other", f->root);

	write_file(f->mbox, "old\n");
	assert_int_equal(link(f->mbox, other), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_non_null(err);
	assert_int_equal(deliver(other, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_file_eq(f->mbox, "old\n");
	assert_int_equal(access(f->lock, F_OK), -1);
	free(other);
}

static void
test_not_regular_refused(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	/* a FIFO must not block the worker (nobody reads it) */
	assert_int_equal(mkfifo(f->mbox, 0600), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_non_null(err);
	assert_int_equal(unlink(f->mbox), 0);

	assert_int_equal(mkdir(f->mbox, 0700), 0);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_TEMP);
	assert_int_equal(rmdir(f->mbox), 0);

	assert_int_equal(deliver("", "a@example.org", NULL, "x\n", 1, &err), STORE_PERM);
}

/* Child: deliver under RLIMIT_FSIZE = limit; exit 0 when it failed as expected. */
static int
deliver_with_fsize_limit(const char *path, rlim_t limit, const char *msg, size_t len)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { limit, limit };
		const char *err = NULL;
		int r;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		r = mbox_deliver(path, "a@example.org", WHEN, "X: 1\n", 5, msg, len, 2, &err);
		if (r != STORE_TEMP)
			_exit(11);
		if (err == NULL || strstr(err, "File too large") == NULL)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_write_error_truncates(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	const char *orig = FROM_LINE "first\n\n";
	size_t big_len = 300000;
	char *big = malloc(big_len);
	struct stat st;

	write_file(f->mbox, orig);
	/* small message, fails within the buffered flush */
	assert_int_equal(deliver_with_fsize_limit(f->mbox, strlen(orig) + 30,
	    "0123456789012345678901234567890123456789\n", 41), 0);
	assert_file_eq(f->mbox, orig);
	/* large message, fails after several successful writes */
	memset(big, 'y', big_len);
	big[big_len - 1] = '\n';
	assert_int_equal(deliver_with_fsize_limit(f->mbox, 150000, big, big_len), 0);
	assert_file_eq(f->mbox, orig);
	assert_int_equal(stat(f->mbox, &st), 0);
	assert_int_equal(st.st_size, (off_t)strlen(orig));
	/* the lock was released by the child, and the mailbox is usable */
	assert_int_equal(access(f->lock, F_OK), -1);
	assert_int_equal(deliver(f->mbox, "a@example.org", NULL, "x\n", 1, &err), STORE_OK);
	assert_file_eq(f->mbox, FROM_LINE "first\n\n" FROM_LINE "x\n\n");
	free(big);
}

enum { NTHREADS = 8, MAX_PER_THREAD = 40 };

/* Shape of a concurrency run: messages of `lines` lines are "tTT mMMM lLLLLL\n". */
struct load {
	int per_thread;
	int lines;
};

/* Short messages go out in one write(); long ones take several, and only
 * the locks keep other writers out between them. */
static const struct load SMALL = { 40, 30 };
static const struct load LARGE = { 6, 12000 };

struct worker {
	const char *path;
	const struct load *load;
	int id;
	int failures;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	size_t cap = (size_t)w->load->lines * 20;
	char *msg = malloc(cap);

	for (int i = 0; i < w->load->per_thread; i++) {
		const char *err = NULL;
		size_t off = 0;

		for (int l = 0; l < w->load->lines; l++)
			off += (size_t)snprintf(msg + off, cap - off, "t%02d m%03d l%05d\n",
			    w->id, i, l);
		if (mbox_deliver(w->path, "a@example.org", WHEN, NULL, 0, msg, off, 30,
		    &err) != STORE_OK)
			w->failures++;
	}
	free(msg);
	return NULL;
}

/* Run the workers on path; returns the number of failed deliveries. */
static int
run_workers(const char *path, const struct load *load)
{
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	int failures = 0;

	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ path, load, i, 0 };
		if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0)
			return -1;
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		failures += w[i].failures;
	}
	return failures;
}

/* Every message must be whole and not interleaved with another. */
static void
check_workers_output(const char *path, const struct load *load)
{
	int seen[NTHREADS][MAX_PER_THREAD];
	char *data, *p;
	size_t len;

	memset(seen, 0, sizeof(seen));
	data = slurp(path, &len);
	p = data;
	for (int n = 0; n < NTHREADS * load->per_thread; n++) {
		int t, m;

		assert_memory_equal(p, FROM_LINE, strlen(FROM_LINE));
		p += strlen(FROM_LINE);
		assert_int_equal(sscanf(p, "t%d m%d", &t, &m), 2);
		assert_true(t >= 0 && t < NTHREADS && m >= 0 && m < load->per_thread);
		assert_int_equal(seen[t][m], 0);
		seen[t][m] = 1;
		for (int l = 0; l < load->lines; l++) {
			char line[32];

			snprintf(line, sizeof(line), "t%02d m%03d l%05d\n", t, m, l);
			assert_memory_equal(p, line, strlen(line));
			p += strlen(line);
		}
		assert_int_equal(*p, '\n');
		p++;
	}
	assert_int_equal((size_t)(p - data), len);
	free(data);
}

static void
test_concurrent_threads(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run_workers(f->mbox, &SMALL), 0);
	check_workers_output(f->mbox, &SMALL);
	assert_int_equal(access(f->lock, F_OK), -1);
	assert_int_equal(truncate(f->mbox, 0), 0);
	assert_int_equal(run_workers(f->mbox, &LARGE), 0);
	check_workers_output(f->mbox, &LARGE);
}

/*
 * Set up root/spool (not writable by the deliverer) with an empty mbox "user"
 * and fork; the child drops to nobody when we are root. Returns the pid (0 in
 * the child) and the paths.
 */
static pid_t
fork_in_readonly_spool(struct fx *f, char **dir_r, char **mbox_r)
{
	uid_t nobody = 65534;
	pid_t pid;

	*dir_r = xasprintf("%s/spool", f->root);
	*mbox_r = xasprintf("%s/user", *dir_r);
	assert_int_equal(mkdir(*dir_r, 0700), 0);
	write_file(*mbox_r, "");
	if (geteuid() == 0) {
		/* root may write anywhere: deliver as nobody instead */
		assert_int_equal(chown(*dir_r, nobody, nobody), 0);
		assert_int_equal(chown(*mbox_r, nobody, nobody), 0);
		assert_int_equal(chmod(f->root, 0711), 0);
	}
	assert_int_equal(chmod(*dir_r, 0500), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(nobody) < 0 ||
		    setuid(nobody) < 0))
			_exit(10);
		if (access(*dir_r, W_OK) == 0)
			_exit(11);
	}
	return pid;
}

static void
wait_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* /var/mail style: the directory is not writable by us, so fcntl locking only. */
static void
test_no_dotlock_in_readonly_dir(void **state)
{
	struct fx *f = *state;
	char *dir, *mbox, *lock;
	pid_t pid;

	pid = fork_in_readonly_spool(f, &dir, &mbox);
	if (pid == 0) {
		const char *err = NULL;

		_exit(deliver(mbox, "a@example.org", NULL, "x\n", 1, &err) == STORE_OK ? 0 : 12);
	}
	wait_ok(pid);
	lock = xasprintf("%s.lock", mbox);
	assert_file_eq(mbox, FROM_LINE "x\n\n");
	assert_int_equal(access(lock, F_OK), -1);
	assert_int_equal(chmod(dir, 0700), 0);
	free(dir);
	free(mbox);
	free(lock);
}

/* Without a dotlock, the fcntl lock alone must keep threads of one process apart. */
static void
test_concurrent_threads_fcntl_only(void **state)
{
	struct fx *f = *state;
	char *dir, *mbox;
	pid_t pid;

	pid = fork_in_readonly_spool(f, &dir, &mbox);
	if (pid == 0)
		_exit(run_workers(mbox, &LARGE) == 0 ? 0 : 12);
	wait_ok(pid);
	check_workers_output(mbox, &LARGE);
	assert_int_equal(chmod(dir, 0700), 0);
	free(dir);
	free(mbox);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_line_format),
		cmocka_unit_test_setup_teardown(test_basic_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_variants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mboxrd_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quoting_across_prefix_boundary, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_final_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotlock_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotlock_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotlock_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcntl_lock_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcntl_lock_released_in_time, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_truncates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_dotlock_in_readonly_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_threads_fcntl_only, setup,
		    teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
