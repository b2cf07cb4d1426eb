/* Unit tests for store/maildir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "tu.h"

#include "lib/util.h"
#include "store/maildir.h"

/*
 * Name collisions cannot be provoked from outside: the name mixes time, pid,
 * a counter and random bits. These interpose on libc (the library is linked
 * statically into this program) so a test can freeze time and randomness and
 * then predict the next name. They pass through unless tu_frozen is set.
 */
static atomic_int tu_frozen;

int
clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (atomic_load(&tu_frozen) && clk == CLOCK_REALTIME) {
		ts->tv_sec = 1790000000;
		ts->tv_nsec = 123456000;
		return 0;
	}
	return (int)syscall(SYS_clock_gettime, clk, ts);
}

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	if (atomic_load(&tu_frozen)) {
		memset(buf, 0xab, len);
		return (ssize_t)len;
	}
	return (ssize_t)syscall(SYS_getrandom, buf, len, flags);
}

static const char PREFIX[] = "Return-Path: <a@example.org>\nDelivered-To: b@example.net\n";
static const char MSG[] = "Subject: hi\n\nFrom here\nbody\n";

struct fx {
	char *root;
	char *md;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *err = NULL;

	f->root = tu_tmpdir();
	f->md = xasprintf("%s/Maildir", f->root);
	if (maildir_create(f->md, &err) != STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	atomic_store(&tu_frozen, 0);
	tu_rmtree(f->root);
	free(f->root);
	free(f->md);
	free(f);
	return 0;
}

/* Number of entries in dir other than . and .., or -1. */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int
count_sub(const char *md, const char *sub)
{
	char *p = xasprintf("%s/%s", md, sub);
	int n = count_entries(p);

	free(p);
	return n;
}

static void
assert_file_eq(const char *path, const char *want, size_t want_len)
{
	char *data;
	size_t len;

	assert_int_equal(read_file(path, 1 << 24, &data, &len), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(data, want, want_len);
	free(data);
}

/* Escaped host name as the Maildir spec wants it. */
static void
escaped_host(char *buf, size_t sz)
{
	char raw[256];
	size_t o = 0;

	assert_int_equal(gethostname(raw, sizeof(raw)), 0);
	raw[sizeof(raw) - 1] = '\0';
	for (const char *p = raw; *p != '\0' && o + 5 < sz; p++) {
		if (*p == '/' || *p == ':') {
			memcpy(buf + o, *p == '/' ? "\\057" : "\\072", 4);
			o += 4;
		} else
			buf[o++] = *p;
	}
	buf[o] = '\0';
}

/* Check "new/<sec>.M<usec>P<pid>Q<n>R<hex>.<host>,S=<size>,W=<vsize>"; returns Q.
 * The vsize read from the name is left in last_vsize. */
static size_t last_vsize;

static unsigned long
check_name(const char *name, size_t size)
{
	char host[300], tail[400];
	const char *p = name;
	char *end;
	unsigned long q;

	assert_memory_equal(p, "new/", 4);
	p += 4;
	assert_true(strtoll(p, &end, 10) > 1000000000LL);
	assert_memory_equal(end, ".M", 2);
	p = end + 2;
	assert_true(*p >= '0' && *p <= '9');
	assert_true(strtol(p, &end, 10) < 1000000);
	assert_int_equal(*end, 'P');
	assert_int_equal(strtol(end + 1, &end, 10), (long)getpid());
	assert_int_equal(*end, 'Q');
	q = strtoul(end + 1, &end, 10);
	assert_true(q > 0);
	assert_int_equal(*end, 'R');
	p = end + 1;
	for (int i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789abcdef", p[i]));
	p += 16;
	escaped_host(host, sizeof(host));
	snprintf(tail, sizeof(tail), ".%s,S=%zu,W=", host, size);
	assert_memory_equal(p, tail, strlen(tail));
	p += strlen(tail);
	assert_true(*p >= '0' && *p <= '9');
	last_vsize = strtoul(p, &end, 10);
	assert_int_equal(*end, '\0');
	assert_true(last_vsize >= size);
	assert_null(strchr(name + 4, '/'));
	assert_null(strchr(name, ':'));
	return q;
}

static void
test_create_layout(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	const char *sub[] = { "cur", "new", "tmp" };
	char *deep = xasprintf("%s/a/b/c/Maildir/", f->root);
	struct stat st;

	assert_int_equal(maildir_create(deep, &err), STORE_OK);
	/* idempotent */
	assert_int_equal(maildir_create(deep, &err), STORE_OK);
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s%s", deep, sub[i]);

		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 077, 0);
		assert_int_equal(count_entries(p), 0);
		free(p);
	}
	assert_int_equal(lstat(deep, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	free(deep);
}

static void
test_create_refuses_symlinks(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char *outside = xasprintf("%s/outside", f->root);
	char *md2 = xasprintf("%s/md2", f->root);
	char *md2new = xasprintf("%s/md2/new", f->root);
	char *link = xasprintf("%s/linked", f->root);
	char *file = xasprintf("%s/afile", f->root);
	int fd;

	assert_int_equal(mkdir(outside, 0700), 0);
	assert_int_equal(mkdir(md2, 0700), 0);
	assert_int_equal(symlink(outside, md2new), 0);
	err = NULL;
	assert_int_equal(maildir_create(md2, &err), STORE_TEMP);
	assert_non_null(err);
	assert_int_equal(count_entries(outside), 0);

	/* the maildir itself as a symlink, with and without trailing slash */
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(maildir_create(link, &err), STORE_TEMP);
	free(link);
	link = xasprintf("%s/linked/", f->root);
	assert_int_equal(maildir_create(link, &err), STORE_TEMP);
	assert_int_equal(count_entries(outside), 0);

	/* a plain file where the maildir should be */
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(maildir_create(file, &err), STORE_TEMP);

	assert_int_equal(maildir_create("", &err), STORE_PERM);
	free(outside);
	free(md2);
	free(md2new);
	free(link);
	free(file);
}

static void
test_deliver_basic(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char name[512], want[256], *path;
	size_t size = strlen(PREFIX) + strlen(MSG);
	struct stat st;

	assert_int_equal(maildir_deliver(f->md, PREFIX, strlen(PREFIX), MSG, strlen(MSG), 1,
	    name, sizeof(name), &err), STORE_OK);
	check_name(name, size);
	path = xasprintf("%s/%s", f->md, name);
	snprintf(want, sizeof(want), "%s%s", PREFIX, MSG);
	assert_file_eq(path, want, size);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_nlink, 1);
	free(path);
	assert_int_equal(count_sub(f->md, "new"), 1);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	assert_int_equal(count_sub(f->md, "cur"), 0);
}

static void
test_deliver_no_prefix_and_empty(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char name[512], *path;

	assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 0, name,
	    sizeof(name), &err), STORE_OK);
	check_name(name, strlen(MSG));
	size_t lf = 0;
	for (const char *c = MSG; *c; c++)
		lf += *c == '\n';
	assert_int_equal(last_vsize, strlen(MSG) + lf);	/* CRLF size: one more byte per line */
	path = xasprintf("%s/%s", f->md, name);
	assert_file_eq(path, MSG, strlen(MSG));
	free(path);

	assert_int_equal(maildir_deliver(f->md, "", 0, "", 0, 0, name, sizeof(name), &err),
	    STORE_OK);
	check_name(name, 0);
	path = xasprintf("%s/%s", f->md, name);
	assert_file_eq(path, "", 0);
	free(path);

	/* name_r is optional */
	assert_int_equal(maildir_deliver(f->md, PREFIX, strlen(PREFIX), MSG, strlen(MSG), 0,
	    NULL, 0, &err), STORE_OK);
	assert_int_equal(maildir_sync_new(f->md, &err), STORE_OK);
	assert_int_equal(count_sub(f->md, "new"), 3);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
}

static void
test_deliver_binary_and_large(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	size_t len = 3 * 1024 * 1024 + 7;
	char *big = malloc(len), name[512], *path;

	for (size_t i = 0; i < len; i++)
		big[i] = (char)(i * 131 + (i >> 9));
	assert_int_equal(maildir_deliver(f->md, "X: y\n", 5, big, len, 1, name, sizeof(name),
	    &err), STORE_OK);
	check_name(name, len + 5);
	path = xasprintf("%s/%s", f->md, name);
	{
		char *data;
		size_t dlen;

		assert_int_equal(read_file(path, 1 << 24, &data, &dlen), 0);
		assert_int_equal(dlen, len + 5);
		assert_memory_equal(data, "X: y\n", 5);
		assert_memory_equal(data + 5, big, len);
		free(data);
	}
	free(path);
	free(big);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
assert_unique(char **names, size_t n)
{
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 1; i < n; i++)
		assert_string_not_equal(names[i - 1], names[i]);
}

static void
test_unique_sequential(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	enum { N = 500 };
	char **names = calloc(N, sizeof(*names));
	unsigned long prevq = 0;

	for (size_t i = 0; i < N; i++) {
		char name[512];
		unsigned long q;

		assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 0, name,
		    sizeof(name), &err), STORE_OK);
		q = check_name(name, strlen(MSG));
		assert_true(q > prevq);
		prevq = q;
		names[i] = xstrdup(name);
	}
	assert_int_equal(maildir_sync_new(f->md, &err), STORE_OK);
	assert_unique(names, N);
	assert_int_equal(count_sub(f->md, "new"), N);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	for (size_t i = 0; i < N; i++)
		free(names[i]);
	free(names);
}

enum { NTHREADS = 8, PER_THREAD = 150 };

struct worker {
	const char *md;
	int id;
	int failures;
	char *names[PER_THREAD];
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		char name[512], body[64];
		const char *err = NULL;
		int n = snprintf(body, sizeof(body), "thread %d message %d\n", w->id, i);

		if (maildir_deliver(w->md, NULL, 0, body, (size_t)n, i % 2, name, sizeof(name),
		    &err) != STORE_OK || err != NULL) {
			w->failures++;
			continue;
		}
		w->names[i] = xstrdup(name);
	}
	return NULL;
}

static void
test_unique_threads(void **state)
{
	struct fx *f = *state;
	struct worker *w = calloc(NTHREADS, sizeof(*w));
	pthread_t th[NTHREADS];
	char **all = calloc(NTHREADS * PER_THREAD, sizeof(*all));
	const char *err = NULL;
	size_t n = 0;

	for (int i = 0; i < NTHREADS; i++) {
		w[i].md = f->md;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(maildir_sync_new(f->md, &err), STORE_OK);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].failures, 0);
		for (int j = 0; j < PER_THREAD; j++) {
			char body[64], *path;
			int len = snprintf(body, sizeof(body), "thread %d message %d\n", i, j);

			assert_non_null(w[i].names[j]);
			check_name(w[i].names[j], (size_t)len);
			path = xasprintf("%s/%s", f->md, w[i].names[j]);
			assert_file_eq(path, body, (size_t)len);
			free(path);
			all[n++] = w[i].names[j];
		}
	}
	assert_unique(all, n);
	assert_int_equal(count_sub(f->md, "new"), NTHREADS * PER_THREAD);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	for (size_t i = 0; i < n; i++)
		free(all[i]);
	free(all);
	free(w);
}

static void
test_symlinked_new_refused(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char *outside = xasprintf("%s/outside", f->root);
	char *newdir = xasprintf("%s/new", f->md);
	char name[512] = "untouched";

	assert_int_equal(mkdir(outside, 0700), 0);
	assert_int_equal(rmdir(newdir), 0);
	assert_int_equal(symlink(outside, newdir), 0);
	assert_int_equal(maildir_deliver(f->md, PREFIX, strlen(PREFIX), MSG, strlen(MSG), 1,
	    name, sizeof(name), &err), STORE_TEMP);
	assert_non_null(err);
	assert_string_equal(name, "untouched");
	assert_int_equal(count_entries(outside), 0);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	assert_int_equal(maildir_sync_new(f->md, &err), STORE_TEMP);
	/* maildir_create must not "repair" it by writing through the link */
	assert_int_equal(maildir_create(f->md, &err), STORE_TEMP);
	assert_int_equal(count_entries(outside), 0);
	free(outside);
	free(newdir);
}

static void
test_symlinked_tmp_refused(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char *outside = xasprintf("%s/outside", f->root);
	char *tmpdir = xasprintf("%s/tmp", f->md);

	assert_int_equal(mkdir(outside, 0700), 0);
	assert_int_equal(rmdir(tmpdir), 0);
	assert_int_equal(symlink(outside, tmpdir), 0);
	assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 1, NULL, 0, &err),
	    STORE_TEMP);
	assert_non_null(err);
	assert_int_equal(count_entries(outside), 0);
	assert_int_equal(count_sub(f->md, "new"), 0);
	free(outside);
	free(tmpdir);
}

static void
test_symlinked_maildir_refused(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char *link = xasprintf("%s/link", f->root);
	char *slash = xasprintf("%s/link/", f->root);
	char *missing = xasprintf("%s/missing", f->root);

	assert_int_equal(symlink(f->md, link), 0);
	assert_int_equal(maildir_deliver(link, NULL, 0, MSG, strlen(MSG), 1, NULL, 0, &err),
	    STORE_TEMP);
	assert_int_equal(maildir_deliver(slash, NULL, 0, MSG, strlen(MSG), 1, NULL, 0, &err),
	    STORE_TEMP);
	/* A missing maildir is created on first delivery (not through the symlink). */
	assert_int_equal(maildir_deliver(missing, NULL, 0, MSG, strlen(MSG), 1, NULL, 0, &err),
	    STORE_OK);
	assert_int_equal(count_sub(missing, "new"), 1);
	assert_int_equal(count_sub(f->md, "new"), 0);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	/* a trailing slash on a real maildir is fine */
	free(slash);
	slash = xasprintf("%s//", f->md);
	assert_int_equal(maildir_deliver(slash, NULL, 0, MSG, strlen(MSG), 1, NULL, 0, &err),
	    STORE_OK);
	assert_int_equal(count_sub(f->md, "new"), 1);
	free(link);
	free(slash);
	free(missing);
}

/* Deliver once with frozen time/randomness; return the name and its Q. */
static unsigned long
frozen_delivery(struct fx *f, char *name, size_t sz)
{
	const char *err = NULL;

	atomic_store(&tu_frozen, 1);
	assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 1, name, sz, &err),
	    STORE_OK);
	return check_name(name, strlen(MSG));
}

/* name with its Q<old> replaced by Q<q>, without the "new/" */
static char *
with_q(const char *name, unsigned long old, unsigned long q)
{
	char from[32];
	const char *p;

	snprintf(from, sizeof(from), "Q%luR", old);
	p = strstr(name, from);
	assert_non_null(p);
	return xasprintf("%.*sQ%luR%s", (int)(p - name - 4), name + 4, q, p + strlen(from));
}

static void
test_tmp_collision(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char first[512], name[512], *next, *path;
	unsigned long q0;
	int fd;

	q0 = frozen_delivery(f, first, sizeof(first));
	/* Plant the next name in tmp/ (a stale file, or an attacker's symlink). */
	next = with_q(first, q0, q0 + 1);
	path = xasprintf("%s/tmp/%s", f->md, next);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old", 3), 3);
	close(fd);
	assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 1, name,
	    sizeof(name), &err), STORE_OK);
	assert_int_equal(check_name(name, strlen(MSG)), q0 + 2);
	assert_file_eq(path, "old", 3);
	free(path);
	path = xasprintf("%s/%s", f->md, name);
	assert_file_eq(path, MSG, strlen(MSG));
	free(path);
	assert_int_equal(count_sub(f->md, "tmp"), 1);
	assert_int_equal(count_sub(f->md, "new"), 2);
	free(next);
}

static void
test_tmp_collision_symlink(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char first[512], name[512], *next, *path, *target;
	unsigned long q0;

	q0 = frozen_delivery(f, first, sizeof(first));
	next = with_q(first, q0, q0 + 1);
	path = xasprintf("%s/tmp/%s", f->md, next);
	target = xasprintf("%s/victim", f->root);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 1, name,
	    sizeof(name), &err), STORE_OK);
	assert_int_equal(check_name(name, strlen(MSG)), q0 + 2);
	assert_int_equal(access(target, F_OK), -1);
	free(path);
	free(target);
	free(next);
}

static void
test_new_collision(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char first[512], name[512], *next, *path;
	unsigned long q0;
	int fd;

	q0 = frozen_delivery(f, first, sizeof(first));
	next = with_q(first, q0, q0 + 1);
	path = xasprintf("%s/new/%s", f->md, next);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "existing", 8), 8);
	close(fd);
	/* tmp/ name is free, the same name in new/ is taken: must not replace it */
	assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 1, name,
	    sizeof(name), &err), STORE_OK);
	assert_string_not_equal(name + 4, next);
	check_name(name, strlen(MSG));
	assert_file_eq(path, "existing", 8);
	free(path);
	path = xasprintf("%s/%s", f->md, name);
	assert_file_eq(path, MSG, strlen(MSG));
	free(path);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	assert_int_equal(count_sub(f->md, "new"), 3);
	free(next);
}

static void
test_name_buffer_too_small(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	char name[16];

	assert_int_equal(maildir_deliver(f->md, NULL, 0, MSG, strlen(MSG), 1, name,
	    sizeof(name), &err), STORE_PERM);
	assert_non_null(err);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	assert_int_equal(count_sub(f->md, "new"), 0);
}

static void
test_write_error_cleans_tmp(void **state)
{
	struct fx *f = *state;
	size_t len = 200000;
	char *big = malloc(len);
	pid_t pid;
	int status;

	memset(big, 'x', len);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Files may not grow past 1000 bytes: writes fail with EFBIG. */
		struct rlimit rl = { 1000, 1000 };
		const char *err = NULL;
		char name[512];
		int r;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		r = maildir_deliver(f->md, PREFIX, strlen(PREFIX), big, len, 1, name,
		    sizeof(name), &err);
		if (r != STORE_TEMP)
			_exit(11);
		if (err == NULL || strstr(err, "File too large") == NULL)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count_sub(f->md, "tmp"), 0);
	assert_int_equal(count_sub(f->md, "new"), 0);
	free(big);
}

static void
test_missing_maildir(void **state)
{
	struct fx *f = *state;
	const char *err1 = NULL, *err2 = NULL;
	char *missing = xasprintf("%s/nope", f->root);

	/* sync of a maildir that does not exist fails; delivery creates it. */
	assert_int_equal(maildir_sync_new(missing, &err2), STORE_TEMP);
	assert_non_null(err2);
	assert_non_null(strstr(err2, "No such file"));
	assert_int_equal(maildir_deliver(missing, NULL, 0, "x", 1, 0, NULL, 0, &err1),
	    STORE_OK);
	assert_int_equal(count_sub(missing, "new"), 1);
	assert_int_equal(count_sub(missing, "cur"), 0);
	free(missing);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refuses_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_no_prefix_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_binary_and_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique_sequential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_new_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_tmp_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_maildir_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_collision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_collision_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_collision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_buffer_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_cleans_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_maildir, setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
