#include "queue/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <zlib.h>

#include "lib/fsync_group.h"
#include "lib/log.h"
#include "lib/util.h"

#define QF_BUFSZ (64 * 1024)
#define QUEUE_MAGIC "estafeta-queue 1\n"

struct qfile {
	struct queue *q;
	char *path;		/* incoming/ID: abort works even after queue_close */
	char id[QUEUE_ID_LEN + 1];
	int fd;
	int error;		/* sticky errno */
	uint64_t body_len;
	unsigned long crc;	/* CRC-32 of the body, checked by every reader */
	off_t off;		/* bytes written: a reused file is cut to this at the end */
	bool reused;
	size_t blen;
	char *buf;
	queue_commit_cb *cb;
	void *arg;
	struct qfile *next;
};

struct queue {
	char *spool, *incoming, *qdir;
	int qdir_fd;
	enum queue_sync sync;
	int notify[2];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qfile *pending, **pending_tail;
	struct qfile *done, **done_tail;
	bool stop;
	/* Delivered queue files kept in free/ for reuse. On a busy file system
	 * creating a file is the dearest step of all (ext4 without a journal
	 * scans past every recently deleted inode), so a new message takes a
	 * used file (rename + truncate) and a delivered one is not deleted. */
	pthread_mutex_t free_mu;
	char **free_names;
	size_t nfree;
	char *freedir;
};

#define FREE_MAX 4096

/* ---- ids ---- */

void
queue_make_id(char id[QUEUE_ID_LEN + 1])
{
	static _Atomic unsigned counter;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	unsigned c = atomic_fetch_add(&counter, 1);
	/* Sortable by arrival: seconds, microseconds, then a counter and pid bits
	 * so that two processes (daemon and sendmail) never collide. */
	snprintf(id, QUEUE_ID_LEN + 1, "%08lX%05lX%03X", (unsigned long)tv.tv_sec & 0xffffffffUL,
	    (unsigned long)tv.tv_usec & 0xfffff, (c + ((unsigned)getpid() << 6)) & 0xfff);
}

/* ---- escaping: NULL "-", empty "%", else %XX for unsafe bytes ---- */

static void
esc_append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t need = s ? strlen(s) * 3 + 4 : 4;
	if (*len + need + 1 > *cap) {
		*cap = (*len + need + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	char *o = *buf + *len;
	if (s == NULL)
		*o++ = '-';
	else if (*s == '\0')
		*o++ = '%';
	else {
		for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
			if (*p <= 0x20 || *p >= 0x7f || *p == '%' || (*p == '-' && p[1] == '\0' &&
			    p == (const unsigned char *)s))
				o += sprintf(o, "%%%02X", *p);
			else
				*o++ = (char)*p;
		}
	}
	*len = (size_t)(o - *buf);
	(*buf)[*len] = '\0';
}

static void
raw_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
raw_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatalx("vsnprintf");
		if ((size_t)n < *cap - *len) {
			*len += (size_t)n;
			return;
		}
		*cap = (*len + (size_t)n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
}

static int
unesc(const char *s, size_t n, char **out)
{
	static const char hex[] = "0123456789ABCDEF";
	if (n == 1 && s[0] == '-') {
		*out = NULL;
		return 0;
	}
	if (n == 1 && s[0] == '%') {
		*out = xstrdup("");
		return 0;
	}
	char *o = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			const char *h, *l;
			if (i + 2 >= n || s[i + 1] == '\0' || s[i + 2] == '\0' ||
			    (h = memchr(hex, s[i + 1], 16)) == NULL ||
			    (l = memchr(hex, s[i + 2], 16)) == NULL) {
				free(o);
				return -1;
			}
			o[k++] = (char)(((h - hex) << 4) | (l - hex));
			i += 2;
		} else if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			free(o);
			return -1;
		} else
			o[k++] = s[i];
	}
	o[k] = '\0';
	if (strlen(o) != k) {	/* embedded NUL: not a valid field value */
		free(o);
		return -1;
	}
	*out = o;
	return 0;
}

char *
qenv_serialize(const struct qenv *env, size_t *len_r)
{
	size_t len = 0, cap = 512;
	char *b = xmalloc(cap);
	b[0] = '\0';

	raw_append(&b, &len, &cap, "%sid %s\narrival %lld\nsender ", QUEUE_MAGIC, env->id,
	    (long long)env->arrival);
	esc_append(&b, &len, &cap, env->sender);
	raw_append(&b, &len, &cap, "\nclient ");
	esc_append(&b, &len, &cap, env->client);
	raw_append(&b, &len, &cap, "\nhelo ");
	esc_append(&b, &len, &cap, env->helo);
	raw_append(&b, &len, &cap, "\nenvid ");
	esc_append(&b, &len, &cap, env->envid);
	raw_append(&b, &len, &cap, "\nret ");
	esc_append(&b, &len, &cap, env->ret);
	raw_append(&b, &len, &cap, "\nbody-type ");
	esc_append(&b, &len, &cap, env->body_type);
	raw_append(&b, &len, &cap, "\nsmtputf8 %d\nuid %ld\n", env->smtputf8 ? 1 : 0, env->submit_uid);
	for (size_t i = 0; i < env->nrcpts; i++) {
		raw_append(&b, &len, &cap, "rcpt %u ", env->rcpts[i].notify);
		esc_append(&b, &len, &cap, env->rcpts[i].addr);
		raw_append(&b, &len, &cap, " ");
		esc_append(&b, &len, &cap, env->rcpts[i].orcpt);
		raw_append(&b, &len, &cap, "\n");
	}
	raw_append(&b, &len, &cap, "body\n");
	*len_r = len;
	return b;
}

/* Split "key rest" lines; returns pointer past the line or NULL at end. */
static const char *
next_line(const char *p, const char *end, const char **line, size_t *n)
{
	if (p >= end)
		return NULL;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		return NULL;
	*line = p;
	*n = (size_t)(nl - p);
	return nl + 1;
}

static bool
key_is(const char *line, size_t n, const char *key, const char **val, size_t *vlen)
{
	size_t k = strlen(key);
	if (n < k || memcmp(line, key, k) != 0)
		return false;
	if (n == k) {
		*val = line + n;
		*vlen = 0;
		return true;
	}
	if (line[k] != ' ')
		return false;
	*val = line + k + 1;
	*vlen = n - k - 1;
	return true;
}

static int
parse_num(const char *s, size_t n, long long *v)
{
	char tmp[32];
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	*v = strtoll(tmp, &end, 10);
	return (errno || *end) ? -1 : 0;
}

void
qenv_free(struct qenv *env)
{
	free(env->sender);
	free(env->client);
	free(env->helo);
	free(env->envid);
	free(env->ret);
	free(env->body_type);
	for (size_t i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].last_error);
	}
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

int
qenv_parse(const char *buf, size_t len, struct qenv *env, const char **error_r)
{
	const char *p = buf, *end = buf + len, *line, *v;
	size_t n, vn;
	long long num;
	bool seen_body = false;

	memset(env, 0, sizeof(*env));
	env->submit_uid = -1;
	size_t ml = strlen(QUEUE_MAGIC);
	if (len < ml || memcmp(buf, QUEUE_MAGIC, ml) != 0) {
		*error_r = "not an estafeta queue file (bad magic/version)";
		return -1;
	}
	p += ml;
	while ((p = next_line(p, end, &line, &n)) != NULL) {
		char **field = NULL;
		if (n == 4 && memcmp(line, "body", 4) == 0) {
			seen_body = true;
			break;
		} else if (key_is(line, n, "id", &v, &vn)) {
			/* As queue_make_id writes them (and queue_list lists them);
			 * the id names files in state/ and corrupt/. */
			if (vn != QUEUE_ID_LEN)
				goto bad;
			for (size_t i = 0; i < vn; i++)
				if (memchr("0123456789ABCDEF", v[i], 16) == NULL)
					goto bad;
			memcpy(env->id, v, vn);
			env->id[vn] = '\0';
		} else if (key_is(line, n, "arrival", &v, &vn)) {
			if (parse_num(v, vn, &num) < 0)
				goto bad;
			env->arrival = (time_t)num;
		} else if (key_is(line, n, "uid", &v, &vn)) {
			if (parse_num(v, vn, &num) < 0)
				goto bad;
			env->submit_uid = (long)num;
		} else if (key_is(line, n, "smtputf8", &v, &vn)) {
			env->smtputf8 = vn == 1 && v[0] == '1';
		} else if (key_is(line, n, "sender", &v, &vn))
			field = &env->sender;
		else if (key_is(line, n, "client", &v, &vn))
			field = &env->client;
		else if (key_is(line, n, "helo", &v, &vn))
			field = &env->helo;
		else if (key_is(line, n, "envid", &v, &vn))
			field = &env->envid;
		else if (key_is(line, n, "ret", &v, &vn))
			field = &env->ret;
		else if (key_is(line, n, "body-type", &v, &vn))
			field = &env->body_type;
		else if (key_is(line, n, "rcpt", &v, &vn)) {
			const char *sp1 = memchr(v, ' ', vn);
			if (sp1 == NULL)
				goto bad;
			const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(v + vn - sp1 - 1));
			if (sp2 == NULL || parse_num(v, (size_t)(sp1 - v), &num) < 0 || num < 0 || num > 15)
				goto bad;
			if (env->nrcpts >= 100000)
				goto bad;
			struct qrcpt r = { .notify = (unsigned)num };
			if (unesc(sp1 + 1, (size_t)(sp2 - sp1 - 1), &r.addr) < 0 || r.addr == NULL)
				goto bad_rcpt;
			if (unesc(sp2 + 1, (size_t)(v + vn - sp2 - 1), &r.orcpt) < 0)
				goto bad_rcpt;
			env->rcpts = xreallocarray(env->rcpts, env->nrcpts + 1, sizeof(r));
			env->rcpts[env->nrcpts++] = r;
			continue;
bad_rcpt:
			free(r.addr);
			goto bad;
		} else
			goto bad;
		if (field != NULL) {
			if (*field != NULL || vn == 0)
				goto bad;
			if (unesc(v, vn, field) < 0)
				goto bad;
		}
	}
	if (!seen_body || p == NULL) {
		*error_r = "queue file has no body record";
		goto fail;
	}
	/* Trailer: the file ends with "end <bodylen> <crc32>\n", consistent with
	 * the file size. It follows the body directly, and a body need not end
	 * with a newline (BDAT): find the record from the end by its two spaces. */
	if (end - p < 6 || end[-1] != '\n') {
		*error_r = "queue file is incomplete (no end record)";
		goto fail;
	}
	const char *t = end - 1;
	int spaces = 0;
	while (t > p && spaces < 2 && t[-1] != '\n')
		if (*--t == ' ')
			spaces++;
	const char *sp = NULL;
	if (spaces == 2 && t - p >= 3) {
		t -= 3;
		if (key_is(t, (size_t)(end - 1 - t), "end", &v, &vn))
			sp = memchr(v, ' ', vn);
	}
	if (sp == NULL || parse_num(v, (size_t)(sp - v), &num) < 0 || num < 0 ||
	    (uint64_t)num != (uint64_t)(t - p)) {
		*error_r = "queue file is incomplete (bad end record)";
		goto fail;
	}
	{
		char crchex[16];
		size_t cl = (size_t)(v + vn - sp - 1);
		unsigned long want, got;
		char *cend;
		if (cl == 0 || cl >= sizeof(crchex))
			goto badcrc;
		memcpy(crchex, sp + 1, cl);
		crchex[cl] = '\0';
		want = strtoul(crchex, &cend, 16);
		if (*cend != '\0')
			goto badcrc;
		got = crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef *)p, (size_t)num);
		if (got != want)
			goto badcrc;
	}
	if (env->sender == NULL || env->nrcpts == 0 || env->id[0] == '\0') {
		*error_r = "queue file lacks sender, recipients or id";
		goto fail;
	}
	env->body_off = (off_t)(p - buf);
	env->body_len = (size_t)num;
	return 0;
bad:
	*error_r = "malformed queue file record";
	goto fail;
badcrc:
	*error_r = "queue file is damaged (checksum mismatch)";
fail:
	qenv_free(env);
	return -1;
}

int
qenv_parse_state(const char *buf, size_t len, struct qenv *env)
{
	const char *p = buf, *end = buf + len, *line, *v;
	size_t n, vn;
	long long num;

	while ((p = next_line(p, end, &line, &n)) != NULL) {
		if (key_is(line, n, "attempts", &v, &vn) && parse_num(v, vn, &num) == 0 && num >= 0)
			env->attempts = (unsigned)num;
		else if (key_is(line, n, "next", &v, &vn) && parse_num(v, vn, &num) == 0)
			env->next_try = (time_t)num;
		else if (key_is(line, n, "rcpt", &v, &vn)) {
			/* rcpt IDX STATUS ERROR */
			const char *sp1 = memchr(v, ' ', vn);
			if (sp1 == NULL || parse_num(v, (size_t)(sp1 - v), &num) < 0 || num < 0 ||
			    (size_t)num >= env->nrcpts)
				return -1;
			struct qrcpt *r = &env->rcpts[num];
			const char *rest = sp1 + 1;
			size_t rn = (size_t)(v + vn - rest);
			const char *sp2 = memchr(rest, ' ', rn);
			size_t sn = sp2 ? (size_t)(sp2 - rest) : rn;
			if (sn == 4 && memcmp(rest, "sent", 4) == 0)
				r->status = RCPT_SENT;
			else if (sn == 7 && memcmp(rest, "bounced", 7) == 0)
				r->status = RCPT_BOUNCED;
			else
				r->status = RCPT_PENDING;
			if (sp2 != NULL) {
				char *e;
				if (unesc(sp2 + 1, (size_t)(v + vn - sp2 - 1), &e) == 0) {
					free(r->last_error);
					r->last_error = e;
				}
			}
		} else
			return -1;
	}
	return 0;
}

int
queue_save_state(const char *spool, const struct qenv *env)
{
	size_t len = 0, cap = 256;
	char *b = xmalloc(cap);
	char path[4096], tmp[4200];

	raw_append(&b, &len, &cap, "attempts %u\nnext %lld\n", env->attempts, (long long)env->next_try);
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct qrcpt *r = &env->rcpts[i];
		raw_append(&b, &len, &cap, "rcpt %zu %s ", i, r->status == RCPT_SENT ? "sent" :
		    r->status == RCPT_BOUNCED ? "bounced" : "pending");
		esc_append(&b, &len, &cap, r->last_error);
		raw_append(&b, &len, &cap, "\n");
	}
	snprintf(path, sizeof(path), "%s/state/%s", spool, env->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc = -1;
	if (fd >= 0) {
		rc = write_all(fd, b, len);
		close(fd);
		if (rc == 0)
			rc = rename(tmp, path);
		if (rc < 0)
			unlink(tmp);
	}
	free(b);
	return rc;
}

int
queue_load(const char *qdir, const char *id, struct qenv *env, const char **error_r)
{
	char path[4096];
	char *data;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", qdir, id);
	if (read_file_nofollow(path, (size_t)1 << 31, &data, &len) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	int rc = qenv_parse(data, len, env, error_r);
	free(data);
	if (rc < 0)
		return -1;
	if (strcmp(env->id, id) != 0) {
		*error_r = "queue file holds another message (a reused file whose new content "
		    "never became durable)";
		qenv_free(env);
		return -1;
	}
	/* state lives beside queue/ in spool/state */
	snprintf(path, sizeof(path), "%s/../state/%s", qdir, id);
	if (read_file_nofollow(path, 1 << 24, &data, &len) == 0) {
		(void)qenv_parse_state(data, len, env);
		free(data);
	}
	return 0;
}

int
queue_quarantine(const char *spool, const char *id)
{
	char from[4096], to[4096];
	snprintf(from, sizeof(from), "%s/queue/%s", spool, id);
	snprintf(to, sizeof(to), "%s/corrupt/%s", spool, id);
	int rc = rename(from, to);
	snprintf(from, sizeof(from), "%s/state/%s", spool, id);
	(void)unlink(from);
	return rc;
}

int
queue_recycle(struct queue *q, const char *id)
{
	char from[4096], to[4096];

	snprintf(from, sizeof(from), "%s/../state/%s", q->qdir, id);
	(void)unlink(from);
	snprintf(from, sizeof(from), "%s/%s", q->qdir, id);
	pthread_mutex_lock(&q->free_mu);
	if (q->nfree < FREE_MAX) {
		snprintf(to, sizeof(to), "%s/%s", q->freedir, id);
		if (rename(from, to) == 0) {
			q->free_names[q->nfree++] = xstrdup(id);
			pthread_mutex_unlock(&q->free_mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&q->free_mu);
	return unlink(from);
}

int
queue_remove(const char *spool, const char *id)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/state/%s", spool, id);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/queue/%s", spool, id);
	return unlink(path);
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
queue_list(const char *spool, char ***ids_r, size_t *n_r)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/queue", spool);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	char **ids = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != QUEUE_ID_LEN || strspn(de->d_name, "0123456789ABCDEF") !=
		    QUEUE_ID_LEN)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(char *));
		ids[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)	/* qsort(NULL, 0, ...) is undefined */
		qsort(ids, n, sizeof(char *), id_cmp);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

/* ---- writing and the commit thread ---- */

static void *
commit_thread(void *arg)
{
	struct queue *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->pending == NULL && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->pending == NULL && q->stop)
			break;
		struct qfile *batch = q->pending;
		q->pending = NULL;
		q->pending_tail = &q->pending;
		pthread_mutex_unlock(&q->mu);

		/* One group: make every file durable, publish all, then one
		 * directory fsync covers every rename. */
		bool any = false;
		if (q->sync == QUEUE_SYNC_FILE) {
			/* Start writeback of every file first, so that a journal
			 * commit forced by one fdatasync can carry the others. */
			for (struct qfile *f = batch; f; f = f->next)
				if (f->error == 0)
					(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		}
		for (struct qfile *f = batch; f; f = f->next) {
			if (q->sync == QUEUE_SYNC_FILE && f->error == 0 && fdatasync(f->fd) < 0)
				f->error = errno;
			close(f->fd);
			f->fd = -1;
			char from[4096], to[4096];
			snprintf(from, sizeof(from), "%s/%s", q->incoming, f->id);
			snprintf(to, sizeof(to), "%s/%s", q->qdir, f->id);
			if (f->error == 0 && rename(from, to) < 0)
				f->error = errno;
			if (f->error != 0)
				unlink(from);
			else
				any = true;
		}
		/* syncfs: one flush makes every file of the group and its directory
		 * entry durable; a file torn by a crash before it returned was never
		 * acknowledged and fails its checksum on recovery. */
		if (any && (q->sync == QUEUE_SYNC_FS ? fsync_group(q->qdir_fd) : fsync(q->qdir_fd)) < 0) {
			int e = errno;
			for (struct qfile *f = batch; f; f = f->next)
				if (f->error == 0) {
					/* Not durable: withdraw it so it is never delivered after a 451. */
					char to[4096];
					snprintf(to, sizeof(to), "%s/%s", q->qdir, f->id);
					unlink(to);
					f->error = e;
				}
		}

		pthread_mutex_lock(&q->mu);
		bool was_empty = q->done == NULL;
		*q->done_tail = batch;
		while (*q->done_tail)
			q->done_tail = &(*q->done_tail)->next;
		if (was_empty) {
			char c = 1;
			(void)!write(q->notify[1], &c, 1);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct queue *
queue_open(const char *spool, enum queue_sync sync, const char **error_r)
{
	static const char *const sub[] = { "incoming", "queue", "state", "public", "corrupt", "free",
		NULL };
	char path[4096];

	if (mkdir_p(spool, 0755) < 0) {
		*error_r = strerror(errno);
		return NULL;
	}
	for (int i = 0; sub[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", spool, sub[i]);
		if (mkdir(path, strcmp(sub[i], "public") == 0 ? 0755 : 0700) < 0 && errno != EEXIST) {
			*error_r = strerror(errno);
			return NULL;
		}
	}
	struct queue *q = xcalloc(1, sizeof(*q));
	q->spool = xstrdup(spool);
	q->incoming = xasprintf("%s/incoming", spool);
	q->qdir = xasprintf("%s/queue", spool);
	q->sync = sync;
	q->qdir_fd = open(q->qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->qdir_fd < 0 || pipe2(q->notify, O_CLOEXEC | O_NONBLOCK) < 0) {
		*error_r = strerror(errno);
		free(q->spool);
		free(q->incoming);
		free(q->qdir);
		free(q);
		return NULL;
	}
	/* Leftovers in incoming/ were never acknowledged: drop them. */
	DIR *d = opendir(q->incoming);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	pthread_mutex_init(&q->free_mu, NULL);
	q->freedir = xasprintf("%s/free", spool);
	q->free_names = xcalloc(FREE_MAX, sizeof(char *));
	if ((d = opendir(q->freedir)) != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (q->nfree < FREE_MAX && strlen(de->d_name) == QUEUE_ID_LEN &&
			    strspn(de->d_name, "0123456789ABCDEF") == QUEUE_ID_LEN)
				q->free_names[q->nfree++] = xstrdup(de->d_name);
			else
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	q->pending_tail = &q->pending;
	q->done_tail = &q->done;
	if (pthread_create(&q->thread, NULL, commit_thread, q) != 0)
		fatalx("pthread_create failed");
	return q;
}

void
queue_close(struct queue **qp)
{
	struct queue *q = *qp;
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	queue_run_completions(q);
	close(q->notify[0]);
	close(q->notify[1]);
	close(q->qdir_fd);
	for (size_t i = 0; i < q->nfree; i++)
		free(q->free_names[i]);
	free(q->free_names);
	free(q->freedir);
	free(q->spool);
	free(q->incoming);
	free(q->qdir);
	free(q);
	*qp = NULL;
}

const char *
queue_dir(const struct queue *q)
{
	return q->qdir;
}

int
queue_notify_fd(const struct queue *q)
{
	return q->notify[0];
}

void
queue_run_completions(struct queue *q)
{
	char drain[64];
	while (read(q->notify[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&q->mu);
	struct qfile *list = q->done;
	q->done = NULL;
	q->done_tail = &q->done;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct qfile *f = list;
		list = f->next;
		if (f->cb)
			f->cb(f->arg, f->error, f->error ? strerror(f->error) : NULL);
		free(f->path);
		free(f->buf);
		free(f);
	}
}

static int
qf_flush(struct qfile *f)
{
	if (f->error == 0 && f->blen > 0) {
		if (write_all(f->fd, f->buf, f->blen) < 0)
			f->error = errno;
		else
			f->off += (off_t)f->blen;
	}
	f->blen = 0;
	return f->error ? -1 : 0;
}

struct qfile *
queue_file_create(struct queue *q, struct qenv *env, const char **error_r)
{
	struct qfile *f = xcalloc(1, sizeof(*f));
	char path[4096];

	f->q = q;
	for (int tries = 0;; tries++) {
		queue_make_id(env->id);
		snprintf(path, sizeof(path), "%s/%s", q->incoming, env->id);
		char *reuse = NULL;
		pthread_mutex_lock(&q->free_mu);
		if (q->nfree > 0)
			reuse = q->free_names[--q->nfree];
		pthread_mutex_unlock(&q->free_mu);
		if (reuse != NULL) {
			char from[4096];
			snprintf(from, sizeof(from), "%s/%s", q->freedir, reuse);
			free(reuse);
			/* Overwritten in place and cut to length at the end: no block is
			 * freed and allocated again (nor discarded) for every message. */
			if (rename(from, path) == 0) {
				f->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
				if (f->fd >= 0) {
					f->reused = true;
					break;
				}
				unlink(path);
			}
		}
		f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (f->fd >= 0)
			break;
		if (errno != EEXIST || tries > 100) {
			*error_r = strerror(errno);
			free(f);
			return NULL;
		}
	}
	memcpy(f->id, env->id, sizeof(f->id));
	f->path = xstrdup(path);
	f->crc = crc32_z(0L, Z_NULL, 0);
	f->buf = xmalloc(QF_BUFSZ);
	size_t hlen;
	char *hdr = qenv_serialize(env, &hlen);
	if (write_all(f->fd, hdr, hlen) < 0)
		f->error = errno;
	f->off = (off_t)hlen;
	free(hdr);
	return f;
}

int
queue_file_write(struct qfile *f, const void *data, size_t len)
{
	if (f->error)
		return -1;
	f->body_len += len;
	f->crc = crc32_z(f->crc, (const Bytef *)data, len);
	if (f->blen + len > QF_BUFSZ) {
		if (qf_flush(f) < 0)
			return -1;
		if (len >= QF_BUFSZ) {
			if (write_all(f->fd, data, len) < 0)
				f->error = errno;
			f->off += (off_t)len;
			return f->error ? -1 : 0;
		}
	}
	memcpy(f->buf + f->blen, data, len);
	f->blen += len;
	return 0;
}

uint64_t
queue_file_size(const struct qfile *f)
{
	return f->body_len;
}

static void
qf_finish(struct qfile *f)
{
	char trailer[64];
	int n = snprintf(trailer, sizeof(trailer), "end %" PRIu64 " %08lx\n", f->body_len, f->crc);
	if (f->blen + (size_t)n > QF_BUFSZ)
		qf_flush(f);
	memcpy(f->buf + f->blen, trailer, (size_t)n);
	f->blen += (size_t)n;
	qf_flush(f);
	if (f->reused && f->error == 0 && ftruncate(f->fd, f->off) < 0)
		f->error = errno;
}

void
queue_file_commit(struct qfile *f, queue_commit_cb *cb, void *arg)
{
	struct queue *q = f->q;
	qf_finish(f);
	f->cb = cb;
	f->arg = arg;
	f->next = NULL;
	pthread_mutex_lock(&q->mu);
	*q->pending_tail = f;
	q->pending_tail = &f->next;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void
queue_file_abort(struct qfile *f)
{
	close(f->fd);
	unlink(f->path);
	free(f->path);
	free(f->buf);
	free(f);
}

int
queue_file_commit_sync(struct qfile *f, const char **error_r)
{
	char from[4096], to[4096];
	struct queue *q = f->q;
	int rc = -1;

	qf_finish(f);
	snprintf(from, sizeof(from), "%s/%s", q->incoming, f->id);
	snprintf(to, sizeof(to), "%s/%s", q->qdir, f->id);
	if (f->error == 0 && fdatasync(f->fd) < 0)
		f->error = errno;
	close(f->fd);
	if (f->error == 0 && rename(from, to) < 0)
		f->error = errno;
	if (f->error == 0 && fsync(q->qdir_fd) < 0)
		f->error = errno;	/* one message: the per-file path is as cheap as syncfs */
	if (f->error != 0) {
		unlink(from);
		*error_r = strerror(f->error);
	} else
		rc = 0;
	free(f->path);
	free(f->buf);
	free(f);
	return rc;
}
