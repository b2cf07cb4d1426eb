#include "store/mailbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/mailbox_mbox.h"
#include "store/maildir.h"
#include "store/mbxindex.h"
#include "store/mdfiles.h"

#define UIDLIST		"dovecot-uidlist"
#define UIDLIST_LOCK	"dovecot-uidlist.lock"
#define KEYWORDS	"dovecot-keywords"
#define INDEX		"estafeta.index"
#define INDEX_MAX	(1024u * 1024 * 1024)
#define INDEX_LOG_MIN	(64u * 1024)	/* a log this small is never folded */
#define LOCK_STALE	120	/* seconds, as Dovecot's dotlock */
#define LOCK_WAIT_MS	10000	/* default; mailbox_set_lock_timeout_ms */
#define MAX_MSGS	(16u * 1024 * 1024)
#define UIDLIST_MAX	(64u * 1024 * 1024)

struct stamp {
	int64_t s;
	long ns;
	int64_t size, ino;
	bool exists;
};

static unsigned lock_wait_ms = LOCK_WAIT_MS;

void
mailbox_set_lock_timeout_ms(unsigned ms)
{
	lock_wait_ms = ms;
}

struct mbx_priv {
	struct stamp cur, new, ul, kwf;
	struct uidlist ul_file;		/* dovecot-uidlist as last read or written */
	size_t ul_dead;			/* records there whose file is gone */
	bool ul_valid;			/* ul_file reflects the file (stamp ul) */
	int curfd;			/* cur/, for reads without a path walk; -1 */
	char errbuf[256];
	/* estafeta.index */
	struct buf ilog;		/* log entries not written yet */
	uint32_t *dirty;		/* UIDs whose record is behind (idx_dirty) */
	size_t ndirty, dcap;
	size_t idx_len, idx_snap;	/* the file as last read or written; 0: none */
	int64_t idx_ino;
	bool idx_rewrite;		/* the next flush writes a snapshot */
	uint32_t h_uidvalidity, h_uidnext;	/* its header as last written */
	uint64_t h_expunge;
	struct mbxi load;		/* while the first sync takes from it */
	char *load_buf;
	size_t idx_matched;
	bool loading;
	struct mbx_mbox *mbox;		/* an mbox file, not a Maildir */
	/* mailbox_watch: cur/ is known from events, not rescanned */
	bool watched;
	bool foreign;			/* a change not ours since the last scan */
	void (*drain)(void *);
	void *drain_arg;
	char **expect;			/* our own changes, in event order: "c/NAME" or "n/NAME" */
	size_t ex_head, ex_n, ex_cap;	/* FIFO: [ex_head, ex_n) */
	char **arrived;			/* names that came into new/ (deliveries) */
	size_t narrived, arr_cap;
	int newfd;			/* new/, like curfd */
	size_t hdr_bytes;		/* header texts cached so far (mbx_msg.hdr) */
};

struct mbx_mbox **
mailbox_mbox_slot(struct mailbox *mb)
{
	return &mb->priv->mbox;
}

#define IS_MBOX(mb)	((mb)->priv->mbox != NULL)

/* ---- change events (mailbox_watch) ---- */

static void
expect_clear(struct mbx_priv *pv)
{
	for (size_t i = pv->ex_head; i < pv->ex_n; i++)
		free(pv->expect[i]);
	pv->ex_head = pv->ex_n = 0;
	for (size_t i = 0; i < pv->narrived; i++)
		free(pv->arrived[i]);
	pv->narrived = 0;
}

/* We changed name in new/ or cur/: its event is ours. */
static void
expect(struct mailbox *mb, bool in_new, const char *name)
{
	struct mbx_priv *pv = mb->priv;
	if (!pv->watched)
		return;
	if (pv->ex_n - pv->ex_head >= 65536) {
		/* Nobody reads the events: stop counting, rescan instead. */
		expect_clear(pv);
		pv->foreign = true;
		return;
	}
	if (pv->ex_head > 0 && pv->ex_head * 2 >= pv->ex_n) {
		memmove(pv->expect, pv->expect + pv->ex_head,
		    (pv->ex_n - pv->ex_head) * sizeof(char *));
		pv->ex_n -= pv->ex_head;
		pv->ex_head = 0;
	}
	if (pv->ex_n == pv->ex_cap) {
		pv->ex_cap = pv->ex_cap ? pv->ex_cap * 2 : 64;
		pv->expect = xreallocarray(pv->expect, pv->ex_cap, sizeof(char *));
	}
	pv->expect[pv->ex_n++] = xasprintf("%c/%s", in_new ? 'n' : 'c', name);
}

void
mailbox_watch(struct mailbox *mb, void (*drain)(void *), void *arg)
{
	struct mbx_priv *pv = mb->priv;
	if (IS_MBOX(mb))
		return;
	pv->watched = true;
	pv->foreign = true;	/* changes before the watch: read cur/ once more */
	pv->drain = drain;
	pv->drain_arg = arg;
}

void
mailbox_unwatch(struct mailbox *mb)
{
	struct mbx_priv *pv = mb->priv;
	pv->watched = false;
	pv->foreign = false;
	pv->drain = NULL;
	expect_clear(pv);
	/* Changes from now on are only seen by the stamps: rescan once. */
	memset(&pv->cur, 0, sizeof(pv->cur));
}

bool
mailbox_event(struct mailbox *mb, bool in_new, bool arrived, const char *name)
{
	struct mbx_priv *pv = mb->priv;
	if (name != NULL && pv->ex_head < pv->ex_n) {
		const char *x = pv->expect[pv->ex_head];
		if (x[0] == (in_new ? 'n' : 'c') && strcmp(x + 2, name) == 0) {
			free(pv->expect[pv->ex_head++]);
			if (pv->ex_head == pv->ex_n)
				pv->ex_head = pv->ex_n = 0;
			return false;
		}
	}
	if (name != NULL && in_new && arrived && !pv->foreign && pv->narrived < 65536) {
		/* A delivery: the next sync takes it without reading new/. */
		if (pv->narrived == pv->arr_cap) {
			pv->arr_cap = pv->arr_cap ? pv->arr_cap * 2 : 16;
			pv->arrived = xreallocarray(pv->arrived, pv->arr_cap, sizeof(char *));
		}
		pv->arrived[pv->narrived++] = xstrdup(name);
		return true;
	}
	pv->foreign = true;
	return true;
}

static const char *
mb_err(struct mailbox *mb, const char *what, int e)
{
	snprintf(mb->priv->errbuf, sizeof(mb->priv->errbuf), "%s: %s", what, strerror(e));
	return mb->priv->errbuf;
}

static void
path_of(const struct mailbox *mb, const char *rel, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s/%s", mb->dir, rel);
}

static void
stamp_get(const char *path, struct stamp *st)
{
	struct stat sb;
	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) != 0)
		return;
	st->exists = true;
	st->s = sb.st_mtim.tv_sec;
	st->ns = sb.st_mtim.tv_nsec;
	st->size = sb.st_size;
	st->ino = (int64_t)sb.st_ino;
}

static bool
stamp_eq(const struct stamp *a, const struct stamp *b)
{
	return a->exists == b->exists && a->s == b->s && a->ns == b->ns && a->size == b->size &&
	    a->ino == b->ino;
}

static uint64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- a hash of base names -> index, for one sync ---- */

struct nhash {
	const char **key;
	size_t *klen;
	size_t *val;
	size_t cap;
};

static uint64_t
fnv(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ull;
	return h;
}

static void
nh_init(struct nhash *h, size_t n)
{
	h->cap = 16;
	while (h->cap < n * 2)
		h->cap *= 2;
	h->key = xcalloc(h->cap, sizeof(*h->key));
	h->klen = xcalloc(h->cap, sizeof(*h->klen));
	h->val = xcalloc(h->cap, sizeof(*h->val));
}

static void
nh_free(struct nhash *h)
{
	free(h->key);
	free(h->klen);
	free(h->val);
	memset(h, 0, sizeof(*h));
}

/* Insert (the later one wins); key must outlive the table. */
static void
nh_put(struct nhash *h, const char *k, size_t kl, size_t v)
{
	size_t i = (size_t)fnv(k, kl) & (h->cap - 1);
	while (h->key[i] != NULL) {
		if (h->klen[i] == kl && memcmp(h->key[i], k, kl) == 0)
			break;
		i = (i + 1) & (h->cap - 1);
	}
	h->key[i] = k;
	h->klen[i] = kl;
	h->val[i] = v;
}

static bool
nh_get(const struct nhash *h, const char *k, size_t kl, size_t *v)
{
	if (h->cap == 0)
		return false;
	size_t i = (size_t)fnv(k, kl) & (h->cap - 1);
	while (h->key[i] != NULL) {
		if (h->klen[i] == kl && memcmp(h->key[i], k, kl) == 0) {
			*v = h->val[i];
			return true;
		}
		i = (i + 1) & (h->cap - 1);
	}
	return false;
}

static size_t
base_len_of(const char *fname)
{
	const char *c = strchr(fname, ':');
	return c ? (size_t)(c - fname) : strlen(fname);
}

/* ---- dovecot-uidlist and its lock ---- */

static int
lock_uidlist(struct mailbox *mb, const char **error_r)
{
	char lp[4096];
	path_of(mb, UIDLIST_LOCK, lp, sizeof(lp));
	unsigned long long start = now_ms();
	for (;;) {
		int fd = open(lp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			char pid[32];
			int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
			if (write(fd, pid, (size_t)n) < 0) {
				/* only informative */
			}
			return fd;
		}
		if (errno != EEXIST) {
			*error_r = mb_err(mb, "dovecot-uidlist.lock", errno);
			return -1;
		}
		struct stat sb;
		if (stat(lp, &sb) == 0 && time(NULL) - sb.st_mtime > LOCK_STALE) {
			unlink(lp);
			continue;
		}
		if (now_ms() - start >= lock_wait_ms) {
			*error_r = "dovecot-uidlist is locked";
			return -1;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static void
unlock_uidlist(struct mailbox *mb, int fd)
{
	char lp[4096];
	close(fd);
	path_of(mb, UIDLIST_LOCK, lp, sizeof(lp));
	unlink(lp);
}

/* Read dovecot-uidlist when it changed. A broken or missing file leaves an
 * empty list (new UIDVALIDITY when written). */
static void
read_uidlist(struct mailbox *mb, bool force)
{
	struct mbx_priv *pv = mb->priv;
	char p[4096];
	struct stamp st;
	path_of(mb, UIDLIST, p, sizeof(p));
	stamp_get(p, &st);
	if (!force && pv->ul_valid && stamp_eq(&st, &pv->ul))
		return;
	pv->ul = st;
	pv->ul_valid = true;
	uidlist_free(&pv->ul_file);
	if (!st.exists || st.size > UIDLIST_MAX)
		return;
	size_t len;
	char *text;
	if (read_file(p, UIDLIST_MAX, &text, &len) != 0)
		return;
	const char *err;
	unsigned line;
	struct uidlist ul;
	if (uidlist_parse(text, len, MAX_MSGS, &ul, &err, &line) == 0)
		pv->ul_file = ul;
	free(text);
}

/* Write the whole uidlist through the lock file (Dovecot's way): the lock
 * file becomes dovecot-uidlist. Releases the lock either way. */
static int
write_uidlist(struct mailbox *mb, int lockfd, const char **error_r)
{
	struct mbx_priv *pv = mb->priv;
	size_t len;
	char *text = uidlist_format(&pv->ul_file, &len);
	char lp[4096], p[4096];
	path_of(mb, UIDLIST_LOCK, lp, sizeof(lp));
	path_of(mb, UIDLIST, p, sizeof(p));
	int r = ftruncate(lockfd, 0) == 0 && pwrite(lockfd, text, len, 0) == (ssize_t)len &&
	    fdatasync(lockfd) == 0 && rename(lp, p) == 0 ? 0 : -1;
	int e = errno;
	free(text);
	close(lockfd);
	if (r != 0) {
		/* A lock left behind would stall everyone for LOCK_STALE. */
		unlink(lp);
		pv->ul_valid = false;
		*error_r = mb_err(mb, "dovecot-uidlist", e);
		return -1;
	}
	fsync_dir(mb->dir);
	pv->ul_dead = 0;
	stamp_get(p, &pv->ul);
	return 0;
}

/* Base names in cur/ and new/ now, and those we know: a record whose name
 * is in neither is of a file that is gone. */
static void
prune_uidlist(struct mailbox *mb, struct uidlist *ul)
{
	char **names = NULL;
	size_t nn = 0, cap = 0;
	static const char *const subs[] = { "cur", "new" };
	for (size_t k = 0; k < 2; k++) {
		char dp[4096];
		path_of(mb, subs[k], dp, sizeof(dp));
		DIR *d = opendir(dp);
		if (d == NULL)
			goto out;	/* cannot tell what is gone: keep all */
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (nn == cap) {
				cap = cap ? cap * 2 : 256;
				names = xreallocarray(names, cap, sizeof(char *));
			}
			names[nn++] = xstrndup(de->d_name, base_len_of(de->d_name));
		}
		closedir(d);
	}
	struct nhash h = { 0 };
	nh_init(&h, nn + mb->n);
	for (size_t i = 0; i < nn; i++)
		nh_put(&h, names[i], strlen(names[i]), i);
	for (size_t i = 0; i < mb->n; i++)
		nh_put(&h, mb->m[i].fname, mb->m[i].base_len, i);
	size_t w = 0, v;
	for (size_t i = 0; i < ul->n; i++) {
		struct uidlist_rec *r = &ul->recs[i];
		if (nh_get(&h, r->name, strlen(r->name), &v)) {
			ul->recs[w++] = *r;
			continue;
		}
		free(r->name);
		free(r->ext);
	}
	ul->n = w;
	nh_free(&h);
out:
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
}

/* Give UIDs to files: names[0..n) (base names, in order). Takes the lock,
 * rereads the list (another process may have listed them), appends or
 * rewrites. uids_r[i] receives each one's UID. */
static int
assign_uids(struct mailbox *mb, char **names, size_t n, uint32_t *uids_r, const char **error_r)
{
	struct mbx_priv *pv = mb->priv;
	int lfd = lock_uidlist(mb, error_r);
	if (lfd < 0)
		return -1;
	read_uidlist(mb, false);
	struct uidlist *ul = &pv->ul_file;
	bool dead = pv->ul_dead > 1000 && pv->ul_dead > ul->n / 2;
	bool rewrite = ul->uidvalidity == 0 || ul->version != 3 || ul->truncated || dead;
	if (ul->uidvalidity == 0) {
		uidlist_free(ul);
		ul->version = 3;
		ul->next_uid = 1;
		if (mb->uidvalidity != 0 && mb->n > 0) {
			/* The list went away under us: write back the UIDs we have
			 * shown, or another process would give these files new
			 * ones under the UIDVALIDITY we now take. */
			ul->uidvalidity = mb->uidvalidity;
			for (size_t i = 0; i < mb->n; i++) {
				char *b = xstrndup(mb->m[i].fname, mb->m[i].base_len);
				(void)uidlist_append(ul, mb->m[i].uid, b, NULL);
				free(b);
			}
			if (ul->next_uid < mb->uidnext)
				ul->next_uid = mb->uidnext;
		} else
			ul->uidvalidity = mb->uidvalidity != 0 ? mb->uidvalidity :
			    (uint32_t)time(NULL);
	}
	/* Dead records pile up (Dovecot's appends leave them too): drop them
	 * when rewriting for their sake, or every later sync rewrites again. */
	if (dead)
		prune_uidlist(mb, ul);
	/* Names listed meanwhile keep their UID. */
	struct nhash h = { 0 };
	nh_init(&h, ul->n);
	for (size_t i = 0; i < ul->n; i++)
		nh_put(&h, ul->recs[i].name, strlen(ul->recs[i].name), i);
	size_t first_new = ul->n;
	for (size_t i = 0; i < n; i++) {
		size_t v;
		if (nh_get(&h, names[i], strlen(names[i]), &v)) {
			uids_r[i] = ul->recs[v].uid;
			continue;
		}
		uint32_t uid = ul->next_uid < mb->uidnext ? mb->uidnext : ul->next_uid;
		if (uid == 0 || uid >= UINT32_MAX - 1 || uidlist_append(ul, uid, names[i], NULL) != 0) {
			uids_r[i] = 0;
			continue;
		}
		uids_r[i] = uid;
	}
	nh_free(&h);
	int r = 0;
	char p[4096];
	path_of(mb, UIDLIST, p, sizeof(p));
	int fd = -1;
	if (rewrite || first_new == ul->n ||
	    (fd = open(p, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (rewrite || first_new < ul->n)
			r = write_uidlist(mb, lfd, error_r);
		else
			unlock_uidlist(mb, lfd);
		goto done;
	}
	/* Append the new records, as Dovecot does (the header's N is then
	 * behind; readers take the last UID + 1). */
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	for (size_t i = first_new; i < ul->n; i++) {
		size_t need = strlen(ul->recs[i].name) + 16;
		if (len + need > cap) {
			cap = (len + need) * 2;
			buf = xrealloc(buf, cap);
		}
		len += (size_t)snprintf(buf + len, cap - len, "%u :%s\n", ul->recs[i].uid,
		    ul->recs[i].name);
	}
	if (write_all(fd, buf, len) != 0 || (!mb->sync_later && fdatasync(fd) != 0)) {
		r = -1;
		*error_r = mb_err(mb, "dovecot-uidlist", errno);
		pv->ul_valid = false;	/* what the file holds is unknown */
	}
	free(buf);
	close(fd);
	stamp_get(p, &pv->ul);
	unlock_uidlist(mb, lfd);
done:
	if (ul->uidvalidity != 0)
		mb->uidvalidity = ul->uidvalidity;
	if (ul->next_uid > mb->uidnext)
		mb->uidnext = ul->next_uid;
	return r;
}

/* ---- dovecot-keywords ---- */

static void
read_keywords(struct mailbox *mb)
{
	char p[4096];
	struct stamp st;
	path_of(mb, KEYWORDS, p, sizeof(p));
	stamp_get(p, &st);
	if (stamp_eq(&st, &mb->priv->kwf))
		return;
	mb->priv->kwf = st;
	size_t len;
	char *text = NULL;
	if (st.exists && read_file(p, 1024 * 1024, &text, &len) != 0)
		text = NULL;
	struct md_keywords k;
	if (text == NULL || md_keywords_parse(text, len, &k) != 0)
		memset(&k, 0, sizeof(k));
	free(text);
	for (int i = 0; i < 26; i++) {
		free(mb->kw[i]);
		mb->kw[i] = k.names[i] ? xstrdup(k.names[i]) : NULL;
	}
	md_keywords_free(&k);
}

int
mailbox_keyword(struct mailbox *mb, const char *name, bool create)
{
	if (IS_MBOX(mb))
		return mbox_box_keyword(mb, name, create);
	for (int i = 0; i < 26; i++)
		if (mb->kw[i] != NULL && strcasecmp(mb->kw[i], name) == 0)
			return i;
	if (!create)
		return -1;
	read_keywords(mb);
	struct md_keywords k = { 0 };
	for (int i = 0; i < 26; i++)
		if (mb->kw[i] != NULL) {
			k.names[i] = xstrdup(mb->kw[i]);
			k.seq[i] = ++k.next_seq;
		}
	int idx = md_keywords_add(&k, name);
	if (idx >= 0 && mb->kw[idx] == NULL) {
		size_t len;
		char *text = md_keywords_format(&k, &len);
		char p[4096], tp[4200];
		path_of(mb, KEYWORDS, p, sizeof(p));
		snprintf(tp, sizeof(tp), "%s.tmp.%ld", p, (long)getpid());
		int fd = open(tp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, text, len) != (ssize_t)len || fdatasync(fd) != 0 ||
		    rename(tp, p) != 0) {
			if (fd >= 0)
				unlink(tp);
			idx = -1;
		}
		if (fd >= 0)
			close(fd);
		free(text);
		if (idx >= 0) {
			mb->kw[idx] = xstrdup(k.names[idx]);
			stamp_get(p, &mb->priv->kwf);
		}
	}
	md_keywords_free(&k);
	return idx;
}

/* Flags of a file name into MF_* and keyword bits. */
static void
name_flags(const char *fname, uint8_t *flags, uint32_t *kw)
{
	struct md_name n;
	md_name_parse(fname, &n);
	unsigned f = 0;
	if (n.flags & MDF_DRAFT)
		f |= MF_DRAFT;
	if (n.flags & MDF_FLAGGED)
		f |= MF_FLAGGED;
	if (n.flags & MDF_REPLIED)
		f |= MF_ANSWERED;
	if (n.flags & MDF_SEEN)
		f |= MF_SEEN;
	if (n.flags & MDF_TRASHED)
		f |= MF_DELETED;
	*flags = (uint8_t)f;
	*kw = n.keywords;
}

static unsigned
md_flags_of(unsigned f)
{
	unsigned m = 0;
	if (f & MF_DRAFT)
		m |= MDF_DRAFT;
	if (f & MF_FLAGGED)
		m |= MDF_FLAGGED;
	if (f & MF_ANSWERED)
		m |= MDF_REPLIED;
	if (f & MF_SEEN)
		m |= MDF_SEEN;
	if (f & MF_DELETED)
		m |= MDF_TRASHED;
	return m;
}

/* Courier's P (passed) is no IMAP flag: keep it through our renames, as
 * Dovecot does. */
static unsigned
kept_md_flags(const char *fname)
{
	struct md_name n;
	md_name_parse(fname, &n);
	return n.flags & MDF_PASSED;
}

static void
msg_set_name(struct mbx_msg *m, char *fname)
{
	free(m->fname);
	m->fname = fname;
	m->base_len = (uint16_t)base_len_of(fname);
	struct md_name n;
	md_name_parse(fname, &n);
	if (m->size < 0 && n.size >= 0)
		m->size = n.size;
	if (m->vsize < 0 && n.vsize >= 0)
		m->vsize = n.vsize;
}

void
mailbox_msg_free(struct mbx_msg *m)
{
	free(m->fname);
	free(m->env);
	free(m->bs);
	free(m->hdr);
}

struct mbx_msg *
mailbox_push(struct mailbox *mb)
{
	if (mb->n == mb->cap) {
		mb->cap = mb->cap ? mb->cap * 2 : 64;
		mb->m = xreallocarray(mb->m, mb->cap, sizeof(*mb->m));
	}
	struct mbx_msg *m = &mb->m[mb->n++];
	memset(m, 0, sizeof(*m));
	return m;
}

/* ---- estafeta.index ---- */

static void
mark_dirty(struct mailbox *mb, struct mbx_msg *m)
{
	struct mbx_priv *pv = mb->priv;
	if (m->idx_dirty || mb->readonly || pv->mbox != NULL)
		return;
	m->idx_dirty = true;
	if (pv->ndirty == pv->dcap) {
		pv->dcap = pv->dcap ? pv->dcap * 2 : 64;
		pv->dirty = xreallocarray(pv->dirty, pv->dcap, sizeof(*pv->dirty));
	}
	pv->dirty[pv->ndirty++] = m->uid;
}

static void
log_expunged(struct mailbox *mb, uint32_t uid)
{
	if (!mb->readonly && !IS_MBOX(mb))
		mbxi_log_expunge(&mb->priv->ilog, uid, mb->expunge_modseq);
}

/* Read estafeta.index for the first sync. */
static void
idx_load(struct mailbox *mb)
{
	struct mbx_priv *pv = mb->priv;
	char p[4096];
	struct stat sb;
	path_of(mb, INDEX, p, sizeof(p));
	if (lstat(p, &sb) != 0)
		return;
	size_t len;
	const char *err;
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > INDEX_MAX ||
	    read_file(p, INDEX_MAX, &pv->load_buf, &len) != 0 ||
	    mbxi_parse(pv->load_buf, len, MAX_MSGS, &pv->load, &err) != 0) {
		free(pv->load_buf);
		pv->load_buf = NULL;
		pv->idx_rewrite = true;
		return;
	}
	pv->loading = true;
	pv->idx_len = len;
	pv->idx_snap = pv->load.snap_len;
	pv->idx_ino = (int64_t)sb.st_ino;
	pv->h_uidvalidity = pv->load.uidvalidity;
	pv->h_uidnext = pv->load.uidnext;
	pv->h_expunge = pv->load.expunge_modseq;
	/* A torn or foreign tail: appending after it would be lost. */
	if (pv->load.good_len != len)
		pv->idx_rewrite = true;
	if (pv->load.highestmodseq > mb->highestmodseq)
		mb->highestmodseq = pv->load.highestmodseq;
}

/* A message found by the first sync: what the index knows of it, when it
 * is the same file under the same UIDVALIDITY. Its MODSEQ stays when its
 * flags are the recorded ones. */
static void
idx_take(struct mailbox *mb, struct mbx_msg *m)
{
	struct mbx_priv *pv = mb->priv;
	const struct mbxi_rec *r = NULL;
	if (pv->loading && pv->load.uidvalidity == mb->uidvalidity)
		r = mbxi_find(&pv->load, m->uid);
	if (r == NULL || r->base_len != m->base_len || memcmp(r->base, m->fname, m->base_len) != 0) {
		m->modseq = ++mb->highestmodseq;
		mark_dirty(mb, m);
		return;
	}
	pv->idx_matched++;
	if (m->size < 0)
		m->size = r->size;
	if (m->vsize < 0)
		m->vsize = r->vsize;
	if (m->idate < 0)
		m->idate = r->idate;
	if (r->env != NULL && m->env == NULL) {
		m->env = xstrndup(r->env, r->env_len);
		m->env_len = r->env_len;
	}
	if (r->bs != NULL && m->bs == NULL) {
		m->bs = xstrndup(r->bs, r->bs_len);
		m->bs_len = r->bs_len;
	}
	if (r->flags == m->flags && r->kw == m->kw && r->modseq != 0 &&
	    r->modseq <= mb->highestmodseq) {
		m->modseq = r->modseq;
		return;
	}
	m->modseq = ++mb->highestmodseq;
	mark_dirty(mb, m);
}

/* After the first sync: records no file matched were expunged meanwhile. */
static void
idx_loaded(struct mailbox *mb)
{
	struct mbx_priv *pv = mb->priv;
	if (!pv->loading)
		return;
	if (pv->load.uidvalidity == mb->uidvalidity) {
		if (pv->load.expunge_modseq > mb->expunge_modseq)
			mb->expunge_modseq = pv->load.expunge_modseq;
		if (pv->idx_matched < pv->load.n) {
			mb->expunge_modseq = ++mb->highestmodseq;
			pv->idx_rewrite = true;
		}
	} else
		pv->idx_rewrite = true;
	mbxi_free(&pv->load);
	free(pv->load_buf);
	pv->load_buf = NULL;
	pv->loading = false;
}

static void
rec_of(const struct mbx_msg *m, struct mbxi_rec *r)
{
	r->uid = m->uid;
	r->flags = m->flags;
	r->kw = m->kw;
	r->modseq = m->modseq;
	r->size = m->size;
	r->vsize = m->vsize;
	r->idate = m->idate;
	r->base = m->fname;
	r->base_len = m->base_len;
	r->env = m->env;
	r->env_len = m->env_len;
	r->bs = m->bs;
	r->bs_len = m->bs_len;
}

static void
idx_clear_pending(struct mailbox *mb)
{
	struct mbx_priv *pv = mb->priv;
	for (size_t i = 0; i < mb->n; i++)
		mb->m[i].idx_dirty = false;
	pv->ndirty = 0;
	buf_reset(&pv->ilog);
	pv->ilog.len = 0;
}

/* The whole index, written beside and renamed over the old one. */
static void
idx_snapshot(struct mailbox *mb)
{
	struct mbx_priv *pv = mb->priv;
	char cp[4096];
	struct stat cst;
	path_of(mb, "cur", cp, sizeof(cp));
	if (stat(cp, &cst) != 0) {
		/* The folder went away (deleted, renamed): nothing to index. */
		idx_clear_pending(mb);
		return;
	}
	struct buf b = { 0 };
	mbxi_snap_begin(&b, mb->uidvalidity, mb->uidnext, mb->highestmodseq, mb->expunge_modseq,
	    (uint32_t)mb->n);
	for (size_t i = 0; i < mb->n; i++) {
		struct mbxi_rec r;
		rec_of(&mb->m[i], &r);
		mbxi_put_rec(&b, &r);
	}
	mbxi_snap_end(&b, 0);
	idx_clear_pending(mb);
	char p[4096], tp[4200];
	path_of(mb, INDEX, p, sizeof(p));
	snprintf(tp, sizeof(tp), "%s.tmp.%ld", p, (long)getpid());
	int fd = open(tp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat sb;
	if (fd < 0 || write_all(fd, b.p, b.len) != 0 || fstat(fd, &sb) != 0 || rename(tp, p) != 0) {
		if (fd >= 0)
			unlink(tp);
		pv->idx_rewrite = true;
	} else {
		pv->idx_rewrite = false;
		pv->idx_len = pv->idx_snap = b.len;
		pv->idx_ino = (int64_t)sb.st_ino;
		pv->h_uidvalidity = mb->uidvalidity;
		pv->h_uidnext = mb->uidnext;
		pv->h_expunge = mb->expunge_modseq;
	}
	if (fd >= 0)
		close(fd);
	buf_free(&b);
}

void
mailbox_flush(struct mailbox *mb)
{
	struct mbx_priv *pv = mb->priv;
	if (pv->mbox != NULL) {
		const char *err;
		if (mbox_box_flush(mb, &err) != 0)
			log_warn("%s", err);
		return;
	}
	if (mb->readonly || mb->uidvalidity == 0) {
		idx_clear_pending(mb);
		return;
	}
	bool hdr = pv->h_uidvalidity != mb->uidvalidity || pv->h_uidnext != mb->uidnext ||
	    pv->h_expunge != mb->expunge_modseq;
	if (pv->ndirty == 0 && pv->ilog.len == 0 && !hdr && !pv->idx_rewrite)
		return;
	if (pv->idx_rewrite || pv->idx_len == 0 || pv->h_uidvalidity != mb->uidvalidity) {
		idx_snapshot(mb);
		return;
	}
	for (size_t k = 0; k < pv->ndirty; k++) {
		long i = mailbox_find(mb, pv->dirty[k]);
		if (i < 0 || !mb->m[i].idx_dirty)
			continue;
		struct mbxi_rec r;
		rec_of(&mb->m[i], &r);
		mbxi_log_rec(&pv->ilog, &r);
		mb->m[i].idx_dirty = false;
	}
	pv->ndirty = 0;
	mbxi_log_header(&pv->ilog, mb->uidvalidity, mb->uidnext, mb->highestmodseq,
	    mb->expunge_modseq);
	size_t loglen = pv->idx_len - pv->idx_snap + pv->ilog.len;
	if (loglen > INDEX_LOG_MIN && loglen > pv->idx_snap / 2) {
		idx_snapshot(mb);
		return;
	}
	char p[4096];
	path_of(mb, INDEX, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	/* Replaced or grown by someone else: ours becomes the index. */
	if (fd < 0 || fstat(fd, &sb) != 0 || (int64_t)sb.st_ino != pv->idx_ino ||
	    (size_t)sb.st_size != pv->idx_len) {
		if (fd >= 0)
			close(fd);
		idx_snapshot(mb);
		return;
	}
	if (write_all(fd, pv->ilog.p, pv->ilog.len) != 0) {
		/* Entries after a torn one would never be read: start over. */
		if (ftruncate(fd, (off_t)pv->idx_len) != 0) {
			/* the snapshot below replaces the file anyway */
		}
		close(fd);
		idx_snapshot(mb);
		return;
	}
	close(fd);
	pv->idx_len += pv->ilog.len;
	pv->h_uidvalidity = mb->uidvalidity;
	pv->h_uidnext = mb->uidnext;
	pv->h_expunge = mb->expunge_modseq;
	buf_reset(&pv->ilog);
	pv->ilog.len = 0;
}

int
mailbox_commit(struct mailbox *mb, const char **error_r)
{
	return IS_MBOX(mb) ? mbox_box_flush(mb, error_r) : 0;
}

size_t
mailbox_pending(const struct mailbox *mb)
{
	if (IS_MBOX(mb))
		return mbox_box_pending(mb);
	return mb->priv->ndirty + mb->priv->ilog.len;
}

const char *
mailbox_cached(const struct mailbox *mb, size_t i, enum mbx_cached which, size_t *len_r)
{
	const struct mbx_msg *m = &mb->m[i];
	*len_r = which == MBX_ENVELOPE ? m->env_len : m->bs_len;
	return which == MBX_ENVELOPE ? m->env : m->bs;
}

void
mailbox_cache(struct mailbox *mb, size_t i, enum mbx_cached which, const char *text, size_t len)
{
	struct mbx_msg *m = &mb->m[i];
	if (len >= MBXI_NONE || (which == MBX_ENVELOPE ? m->env : m->bs) != NULL)
		return;
	if (which == MBX_ENVELOPE) {
		m->env = xstrndup(text, len);
		m->env_len = (uint32_t)len;
	} else {
		m->bs = xstrndup(text, len);
		m->bs_len = (uint32_t)len;
	}
	mark_dirty(mb, m);
}

/* ---- sync ---- */

static long
find_in(const struct mbx_msg *m, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m[mid].uid < uid)
			lo = mid + 1;
		else if (m[mid].uid > uid)
			hi = mid;
		else
			return (long)mid;
	}
	return -1;
}

struct entry {
	char *fname;
	uint32_t uid;
	bool recent;
	bool in_new;
};

/* Delivery order: Maildir names begin "<sec>.M<usec>P<pid>Q<n>" without
 * leading zeros, so digit runs compare by value ("M99999" before
 * "M100000", which strcmp puts first). */
static int
cmp_delivery(const char *a, const char *b)
{
	const char *a0 = a, *b0 = b;
	while (*a != '\0' && *b != '\0') {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			size_t al = 0, bl = 0;
			while (isdigit((unsigned char)a[al]))
				al++;
			while (isdigit((unsigned char)b[bl]))
				bl++;
			if (al != bl)
				return al < bl ? -1 : 1;
			int c = memcmp(a, b, al);
			if (c != 0)
				return c;
			a += al;
			b += bl;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	if (*a != *b)
		return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
	return strcmp(a0, b0);
}

static int
cmp_entry_name(const void *a, const void *b)
{
	return cmp_delivery(((const struct entry *)a)->fname, ((const struct entry *)b)->fname);
}

static int
cmp_msg_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct mbx_msg *)a)->uid, y = ((const struct mbx_msg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Append the files of new/ or cur/ to e. Files in new/ stay there (no
 * rename: a first SELECT of 10,000 new messages would spend most of its
 * time moving them); they move to cur/ when their flags change. */
static int
list_dir(struct mailbox *mb, bool in_new, struct entry **e, size_t *ne, size_t *ecap,
    const char **error_r)
{
	char p[4096];
	path_of(mb, in_new ? "new" : "cur", p, sizeof(p));
	DIR *d = opendir(p);
	if (d == NULL) {
		*error_r = mb_err(mb, in_new ? "new/" : "cur/", errno);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL && *ne < MAX_MSGS) {
		if (de->d_name[0] == '.')
			continue;
		if (*ne == *ecap) {
			*ecap = *ecap ? *ecap * 2 : 256;
			*e = xreallocarray(*e, *ecap, sizeof(**e));
		}
		struct entry *x = &(*e)[(*ne)++];
		x->fname = xstrdup(de->d_name);
		x->uid = 0;
		x->recent = x->in_new = in_new;
	}
	closedir(d);
	return 0;
}

int
mailbox_sync(struct mailbox *mb, bool force, const char **error_r)
{
	struct mbx_priv *pv = mb->priv;
	if (pv->mbox != NULL)
		return mbox_box_sync(mb, force, error_r);
	char cp[4096], np[4096], up[4096];
	struct stamp cst, nst, ust;
	path_of(mb, "cur", cp, sizeof(cp));
	path_of(mb, "new", np, sizeof(np));
	path_of(mb, UIDLIST, up, sizeof(up));
	/* Watched: while every event since the last scan was ours (each
	 * matched one we expected) or a delivery into new/, the table is
	 * right but for those deliveries: no directory is read. */
	if (pv->drain != NULL)
		pv->drain(pv->drain_arg);
	bool partial = pv->watched && !pv->foreign && !force;
	struct entry *e = NULL;
	size_t ne = 0, ecap = 0;
	if (partial) {
		if (pv->narrived == 0)
			return 0;
		read_keywords(mb);
		e = xcalloc(pv->narrived, sizeof(*e));
		for (size_t i = 0; i < pv->narrived; i++) {
			e[ne].fname = pv->arrived[i];
			e[ne].uid = 0;
			e[ne].recent = e[ne].in_new = true;
			ne++;
		}
		pv->narrived = 0;
	} else {
		stamp_get(np, &nst);
		stamp_get(cp, &cst);
		stamp_get(up, &ust);
		/* Directory mtimes have nanoseconds on the file systems we
		 * support; a change in the same tick as the last sync would
		 * still be missed, so a stamp younger than two seconds never
		 * counts as unchanged. */
		time_t now = time(NULL);
		bool fresh = now - cst.s < 2 || now - nst.s < 2;
		if (!force && !fresh && stamp_eq(&nst, &pv->new) && stamp_eq(&cst, &pv->cur) &&
		    stamp_eq(&ust, &pv->ul)) {
			/* As the last scan left it, events so far included. */
			pv->foreign = false;
			expect_clear(pv);
			return 0;
		}
		/* This scan covers the events so far; ours from here on count. */
		pv->foreign = false;
		expect_clear(pv);
		if (!cst.exists || !nst.exists) {
			*error_r = "not a Maildir (cur/ or new/ missing)";
			return -1;
		}
		read_keywords(mb);
		/* Stamps before reading: a change during the scan is seen next time. */
		pv->new = nst;
		pv->cur = cst;
		if (list_dir(mb, false, &e, &ne, &ecap, error_r) != 0 ||
		    list_dir(mb, true, &e, &ne, &ecap, error_r) != 0) {
			for (size_t i = 0; i < ne; i++)
				free(e[i].fname);
			free(e);
			pv->foreign = true;
			return -1;
		}
	}

	read_uidlist(mb, false);
	struct uidlist *ul = &pv->ul_file;
	if (ul->uidvalidity != 0 && mb->uidvalidity != 0 && ul->uidvalidity != mb->uidvalidity) {
		/* Someone reset the UIDs: start over with theirs. */
		for (size_t i = 0; i < mb->n; i++)
			mailbox_msg_free(&mb->m[i]);
		mb->n = 0;
		mb->uidnext = 1;
	}
	if (ul->uidvalidity != 0) {
		mb->uidvalidity = ul->uidvalidity;
		if (ul->next_uid > mb->uidnext)
			mb->uidnext = ul->next_uid;
	}

	/* Base name -> UID from the uidlist (needed only for files new to us). */
	struct nhash uh = { 0 };
	nh_init(&uh, ne ? ul->n : 0);
	for (size_t i = 0; ne > 0 && i < ul->n; i++)
		nh_put(&uh, ul->recs[i].name, strlen(ul->recs[i].name), i);
	/* Files of the directory by base name. */
	struct nhash fh = { 0 };
	nh_init(&fh, ne);
	for (size_t i = 0; i < ne; i++)
		nh_put(&fh, e[i].fname, base_len_of(e[i].fname), i);

	int changed = 0;
	bool failed = false;
	bool *seen = xcalloc(ne ? ne : 1, sizeof(bool));
	/* Known messages: gone, renamed, or unchanged (partial: all as we left them). */
	size_t w = partial ? mb->n : 0;
	for (size_t i = 0; !partial && i < mb->n; i++) {
		struct mbx_msg *m = &mb->m[i];
		size_t v;
		if (!nh_get(&fh, m->fname, m->base_len, &v) || seen[v]) {
			mailbox_msg_free(m);
			mb->expunge_modseq = ++mb->highestmodseq;
			log_expunged(mb, m->uid);
			changed = 1;
			continue;
		}
		seen[v] = true;
		m->in_new = e[v].in_new;
		if (strcmp(e[v].fname, m->fname) != 0) {
			uint8_t f;
			uint32_t kw;
			name_flags(e[v].fname, &f, &kw);
			if (f != m->flags || kw != m->kw) {
				m->flags = f;
				m->kw = kw;
				m->modseq = ++mb->highestmodseq;
				mark_dirty(mb, m);
				changed = 1;
			}
			msg_set_name(m, e[v].fname);
			e[v].fname = NULL;
		}
		mb->m[w++] = *m;
	}
	mb->n = w;

	/* New files: UIDs from the list, or new ones. */
	size_t known = mb->n;
	uint32_t maxuid = mb->n ? mb->m[mb->n - 1].uid : 0;
	struct entry *unlisted = NULL;	/* files the uidlist lacks */
	size_t nunlisted = 0, unlistedcap = 0;
	bool unsorted = false;
	for (size_t i = 0; i < ne; i++) {
		if (seen[i] || e[i].fname == NULL)
			continue;
		size_t v;
		/* Two files with one base name (a crash between link and unlink,
		 * a careless copy): one message, the one the table holds. */
		if (nh_get(&fh, e[i].fname, base_len_of(e[i].fname), &v) && v != i)
			continue;
		if (nh_get(&uh, e[i].fname, base_len_of(e[i].fname), &v) &&
		    find_in(mb->m, known, ul->recs[v].uid) < 0)
			e[i].uid = ul->recs[v].uid;
		if (e[i].uid == 0) {
			if (nunlisted == unlistedcap) {	/* doubling: 10000 new files in one sync */
				unlistedcap = unlistedcap ? unlistedcap * 2 : 64;
				unlisted = xreallocarray(unlisted, unlistedcap, sizeof(*unlisted));
			}
			unlisted[nunlisted++] = e[i];
			e[i].fname = NULL;
			continue;
		}
		if (e[i].uid <= maxuid)
			unsorted = true;
		struct mbx_msg *m = mailbox_push(mb);
		m->uid = e[i].uid;
		if (m->uid > maxuid)
			maxuid = m->uid;
		m->size = m->vsize = m->idate = -1;
		m->recent = e[i].recent;
		m->in_new = e[i].in_new;
		name_flags(e[i].fname, &m->flags, &m->kw);
		msg_set_name(m, e[i].fname);
		idx_take(mb, m);
		e[i].fname = NULL;
		changed = 1;
	}
	nh_free(&uh);
	nh_free(&fh);
	free(seen);
	for (size_t i = 0; i < ne; i++)
		free(e[i].fname);
	free(e);
	if (unsorted)
		qsort(mb->m, mb->n, sizeof(*mb->m), cmp_msg_uid);

	if (nunlisted > 0) {
		/* Delivery order: Maildir names start with the time. */
		qsort(unlisted, nunlisted, sizeof(*unlisted), cmp_entry_name);
		char **names = xcalloc(nunlisted, sizeof(char *));
		uint32_t *uids = xcalloc(nunlisted, sizeof(uint32_t));
		for (size_t i = 0; i < nunlisted; i++)
			names[i] = xstrndup(unlisted[i].fname, base_len_of(unlisted[i].fname));
		int r = mb->readonly ? -1 : assign_uids(mb, names, nunlisted, uids, error_r);
		if (r != 0 && !mb->readonly) {
			/* Not listed (lock busy, I/O error): report it, and look
			 * again next time even if the directories stay as they are. */
			failed = true;
			memset(&pv->cur, 0, sizeof(pv->cur));
			pv->foreign = true;
		}
		for (size_t i = 0; i < nunlisted; i++) {
			if (r != 0 || uids[i] == 0 || mailbox_find(mb, uids[i]) >= 0) {
				free(unlisted[i].fname);
				continue;
			}
			struct mbx_msg *m = mailbox_push(mb);
			m->uid = uids[i];
			m->size = m->vsize = m->idate = -1;
			m->recent = unlisted[i].recent;
			m->in_new = unlisted[i].in_new;
			name_flags(unlisted[i].fname, &m->flags, &m->kw);
			msg_set_name(m, unlisted[i].fname);
			idx_take(mb, m);
			changed = 1;
			if (m->uid >= mb->uidnext)
				mb->uidnext = m->uid + 1;
		}
		for (size_t i = 0; i < nunlisted; i++)
			free(names[i]);
		free(names);
		free(uids);
		if (mb->n > 1)	/* mb->m is NULL while empty: no qsort(NULL) */
			qsort(mb->m, mb->n, sizeof(*mb->m), cmp_msg_uid);
	}
	free(unlisted);
	if (mb->n > 0 && mb->m[mb->n - 1].uid >= mb->uidnext)
		mb->uidnext = mb->m[mb->n - 1].uid + 1;
	/* Records of files that are gone: rewrite the list once they pile up. */
	pv->ul_dead = ul->n > mb->n ? ul->n - mb->n : 0;
	if (mb->uidvalidity == 0 && !mb->readonly) {
		/* An empty mailbox still gets its UIDVALIDITY on disk. */
		int lfd = lock_uidlist(mb, error_r);
		if (lfd >= 0) {
			read_uidlist(mb, false);
			if (pv->ul_file.uidvalidity == 0) {
				uidlist_free(&pv->ul_file);
				pv->ul_file.version = 3;
				pv->ul_file.uidvalidity = (uint32_t)time(NULL);
				pv->ul_file.next_uid = 1;
				(void)write_uidlist(mb, lfd, error_r);
			} else
				unlock_uidlist(mb, lfd);
			mb->uidvalidity = pv->ul_file.uidvalidity;
			if (pv->ul_file.next_uid > mb->uidnext)
				mb->uidnext = pv->ul_file.next_uid;
		}
	}
	if (mb->uidnext == 0)
		mb->uidnext = 1;
	return failed ? -1 : changed;
}

long
mailbox_find(const struct mailbox *mb, uint32_t uid)
{
	return find_in(mb->m, mb->n, uid);
}

int
mailbox_open(const char *dir, bool create, struct mailbox **out, const char **error_r)
{
	return mailbox_open_watched(dir, create, NULL, NULL, out, error_r);
}

int
mailbox_open_watched(const char *dir, bool create, void (*drain)(void *), void *arg,
    struct mailbox **out, const char **error_r)
{
	static char errbuf[256];
	if (strncmp(dir, "mbox:", 5) == 0) {
		struct mailbox *mb = xcalloc(1, sizeof(*mb));
		mb->priv = xcalloc(1, sizeof(*mb->priv));
		mb->priv->curfd = mb->priv->newfd = -1;
		mb->dir = xstrdup(dir);
		mb->refs = 1;
		mb->uidnext = 1;
		mb->highestmodseq = now_us();
		if (mbox_box_open(mb, dir, error_r) != 0 || mailbox_sync(mb, true, error_r) < 0) {
			snprintf(errbuf, sizeof(errbuf), "%s", *error_r);
			*error_r = errbuf;
			mailbox_unref(&mb);
			return -1;
		}
		*out = mb;
		return 0;
	}
	if (create && maildir_create(dir, error_r) != STORE_OK)
		return -1;
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(errbuf, sizeof(errbuf), "%s: no such mailbox", dir);
		*error_r = errbuf;
		return -1;
	}
	struct mailbox *mb = xcalloc(1, sizeof(*mb));
	mb->priv = xcalloc(1, sizeof(*mb->priv));
	mb->priv->curfd = mb->priv->newfd = -1;
	mb->dir = xstrdup(dir);
	mb->refs = 1;
	mb->uidnext = 1;
	mb->readonly = access(dir, W_OK) != 0;
	/* Above anything shown before, even when the index is lost. */
	mb->highestmodseq = now_us();
	if (drain != NULL) {
		mb->priv->watched = true;
		mb->priv->drain = drain;
		mb->priv->drain_arg = arg;
	}
	idx_load(mb);
	int r = mailbox_sync(mb, true, error_r);
	idx_loaded(mb);
	if (r < 0) {
		snprintf(errbuf, sizeof(errbuf), "%s", *error_r);
		*error_r = errbuf;
		mailbox_unref(&mb);
		return -1;
	}
	*out = mb;
	return 0;
}

void
mailbox_ref(struct mailbox *mb)
{
	mb->refs++;
}

void
mailbox_unref(struct mailbox **mbp)
{
	struct mailbox *mb = *mbp;
	*mbp = NULL;
	if (mb == NULL || --mb->refs > 0)
		return;
	mailbox_flush(mb);
	for (size_t i = 0; i < mb->n; i++)
		mailbox_msg_free(&mb->m[i]);
	free(mb->m);
	buf_free(&mb->priv->ilog);
	free(mb->priv->dirty);
	mbox_box_free(mb);
	for (int i = 0; i < 26; i++)
		free(mb->kw[i]);
	uidlist_free(&mb->priv->ul_file);
	expect_clear(mb->priv);
	free(mb->priv->expect);
	free(mb->priv->arrived);
	if (mb->priv->curfd >= 0)
		close(mb->priv->curfd);
	if (mb->priv->newfd >= 0)
		close(mb->priv->newfd);
	free(mb->priv);
	free(mb->dir);
	free(mb);
}

int
mailbox_set_flags(struct mailbox *mb, size_t i, unsigned flags, uint32_t kw,
    const char **error_r)
{
	struct mbx_msg *m = &mb->m[i];
	flags &= MF_STORED;
	if (flags == m->flags && kw == m->kw)
		return 0;
	if (IS_MBOX(mb)) {
		if (mb->readonly) {
			*error_r = "mailbox is read-only";
			return -1;
		}
		m->flags = (uint8_t)flags;
		m->kw = kw;
		m->modseq = ++mb->highestmodseq;
		mbox_box_touch(mb, i);
		return 0;
	}
	char nn[1024], from[4096], to[4096];
	if (md_name_format(m->fname, strlen(m->fname), md_flags_of(flags) | kept_md_flags(m->fname),
	    kw, nn, sizeof(nn)) < 0) {
		*error_r = "file name too long";
		return -1;
	}
	snprintf(from, sizeof(from), "%s/%s/%s", mb->dir, m->in_new ? "new" : "cur", m->fname);
	snprintf(to, sizeof(to), "%s/cur/%s", mb->dir, nn);
	if (rename(from, to) != 0) {
		if (errno == ENOENT)
			return 1;
		*error_r = mb_err(mb, "rename", errno);
		return -1;
	}
	if (strcmp(m->fname, nn) != 0) {	/* rename(a, a) makes no event */
		expect(mb, m->in_new, m->fname);
		expect(mb, false, nn);
	}
	free(m->fname);
	m->fname = xstrdup(nn);
	m->in_new = false;
	m->flags = (uint8_t)flags;
	m->kw = kw;
	m->modseq = ++mb->highestmodseq;
	mark_dirty(mb, m);
	return 0;
}

int
mailbox_expunge(struct mailbox *mb, size_t i, const char **error_r)
{
	char p[4096];
	if (IS_MBOX(mb) && mb->readonly) {
		*error_r = "mailbox is read-only";
		return -1;
	}
	if (!IS_MBOX(mb)) {
		snprintf(p, sizeof(p), "%s/%s/%s", mb->dir, mb->m[i].in_new ? "new" : "cur",
		    mb->m[i].fname);
		if (unlink(p) == 0)
			expect(mb, mb->m[i].in_new, mb->m[i].fname);
		else if (errno != ENOENT) {
			*error_r = mb_err(mb, "unlink", errno);
			return -1;
		}
	}
	uint32_t uid = mb->m[i].uid;
	mailbox_msg_free(&mb->m[i]);
	memmove(&mb->m[i], &mb->m[i + 1], (mb->n - i - 1) * sizeof(*mb->m));
	mb->n--;
	mb->expunge_modseq = ++mb->highestmodseq;
	if (IS_MBOX(mb)) {
		mbox_box_gone(mb, uid);
		return 0;
	}
	log_expunged(mb, uid);
	mb->priv->ul_dead++;
	snprintf(p, sizeof(p), "%s/cur", mb->dir);
	stamp_get(p, &mb->priv->cur);
	return 0;
}

void
mailbox_learn_vsize(struct mailbox *mb, size_t i, const char *data, size_t len)
{
	if (mb->m[i].vsize >= 0)
		return;
	size_t bare = 0;	/* LFs without a CR before them */
	for (const char *q = data; (q = memchr(q, '\n', (size_t)(data + len - q))) != NULL; q++)
		bare += q == data || q[-1] != '\r';
	mb->m[i].vsize = (int64_t)(len + bare);
	mark_dirty(mb, &mb->m[i]);
}

int
mailbox_stat(struct mailbox *mb, size_t i)
{
	struct mbx_msg *m = &mb->m[i];
	if (m->size >= 0 && m->vsize >= 0 && m->idate >= 0)
		return 0;
	if (IS_MBOX(mb)) {
		size_t len;
		const char *err;
		char *data = mailbox_read(mb, i, &len, &err);
		if (data == NULL)
			return -1;
		mb->m[i].size = (int64_t)len;
		mailbox_learn_vsize(mb, i, data, len);
		if (mb->m[i].idate < 0)
			mb->m[i].idate = 0;
		free(data);
		return 0;
	}
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s/%s", mb->dir, m->in_new ? "new" : "cur", m->fname);
	struct stat sb;
	if (stat(p, &sb) != 0)
		return -1;
	m->idate = sb.st_mtime;
	if (m->size < 0)
		m->size = sb.st_size;
	mark_dirty(mb, m);
	if (m->vsize < 0) {
		size_t len;
		const char *err;
		char *data = mailbox_read(mb, i, &len, &err);
		if (data == NULL)
			return -1;
		mailbox_learn_vsize(mb, i, data, len);
		free(data);
	}
	return 0;
}

#define HDR_CACHE_MAX	(8u << 20)	/* bytes of header texts kept per folder */

char *
mailbox_read_header(struct mailbox *mb, size_t i, size_t *len_r, const char **error_r)
{
	struct mbx_msg *m = &mb->m[i];
	if (m->hdr != NULL) {
		*len_r = m->hdr_len;
		char *copy = xmalloc((size_t)m->hdr_len + 1);
		memcpy(copy, m->hdr, m->hdr_len);
		copy[m->hdr_len] = '\0';
		return copy;
	}
	size_t len;
	char *data = mailbox_read(mb, i, &len, error_r);
	if (data == NULL)
		return NULL;
	/* Through the first empty line (LF or CRLF), or everything. */
	size_t h = len;
	for (size_t k = 0; k + 1 < len; k++)
		if (data[k] == '\n' && (data[k + 1] == '\n' ||
		    (data[k + 1] == '\r' && k + 2 < len && data[k + 2] == '\n'))) {
			h = k + (data[k + 1] == '\n' ? 2 : 3);
			break;
		}
	data[h] = '\0';
	if (h < UINT32_MAX && mb->priv->hdr_bytes + h <= HDR_CACHE_MAX) {
		m->hdr = xstrndup(data, h);
		m->hdr_len = (uint32_t)h;
		mb->priv->hdr_bytes += h;
	}
	*len_r = h;
	return data;
}

char *
mailbox_read(struct mailbox *mb, size_t i, size_t *len_r, const char **error_r)
{
	struct mbx_priv *pv = mb->priv;
	if (pv->mbox != NULL)
		return mbox_box_read(mb, i, len_r, error_r);
	bool in_new = mb->m[i].in_new;
	int *dfd = in_new ? &pv->newfd : &pv->curfd;
	if (*dfd < 0) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", mb->dir, in_new ? "new" : "cur");
		*dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	int fd = *dfd < 0 ? -1 : openat(*dfd, mb->m[i].fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = errno == ENOENT ? "expunged" : mb_err(mb, "open", errno);
		return NULL;
	}
	/* The size in the name (,S=) sizes the buffer: a short read of a
	 * regular file is its end, so one read() usually does. */
	size_t cap = mb->m[i].size > 0 ? (size_t)mb->m[i].size + 1 : 8192, len = 0;
	char *data = xmalloc(cap + 1);
	for (;;) {
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			free(data);
			*error_r = mb_err(mb, "read", e);
			return NULL;
		}
		len += (size_t)n;
		if (n == 0 || len < cap)
			break;
		if (cap > SIZE_MAX / 4) {
			close(fd);
			free(data);
			*error_r = "message too large";
			return NULL;
		}
		cap *= 2;
		data = xrealloc(data, cap + 1);
	}
	close(fd);
	data[len] = '\0';
	*len_r = len;
	return data;
}

/* Store a file in cur/ under a unique name with its flags; the base name
 * in base_r. */
static int
store_file(struct mailbox *mb, const char *data, size_t len, unsigned flags, uint32_t kw,
    int64_t idate, char *base_r, size_t basesz, char *fname_r, size_t fnsz, const char **error_r)
{
	char tp[4096], cp[4096];
	size_t vsize = len + maildir_count_lf(data, len);
	for (int tries = 0; tries < 10; tries++) {
		if (maildir_unique(base_r, basesz, len, vsize) != 0) {
			*error_r = "file name too long";
			return -1;
		}
		if (md_name_format(base_r, strlen(base_r), md_flags_of(flags), kw, fname_r, fnsz) < 0) {
			*error_r = "file name too long";
			return -1;
		}
		snprintf(tp, sizeof(tp), "%s/tmp/%s", mb->dir, base_r);
		snprintf(cp, sizeof(cp), "%s/cur/%s", mb->dir, fname_r);
		int fd = open(tp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			*error_r = mb_err(mb, "tmp/", errno);
			return -1;
		}
		size_t off = 0;
		while (off < len) {
			ssize_t n = write(fd, data + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		int e = errno;
		if (off == len && idate >= 0) {
			struct timespec ts[2] = { { idate, 0 }, { idate, 0 } };
			futimens(fd, ts);
		}
		if (off != len || (!mb->sync_later && fdatasync(fd) != 0)) {
			close(fd);
			unlink(tp);
			*error_r = mb_err(mb, "write", off != len ? e : errno);
			return -1;
		}
		close(fd);
		if (rename(tp, cp) != 0) {
			e = errno;
			unlink(tp);
			*error_r = mb_err(mb, "rename", e);
			return -1;
		}
		expect(mb, false, fname_r);
		if (!mb->sync_later) {
			char cd[4096];
			snprintf(cd, sizeof(cd), "%s/cur", mb->dir);
			fsync_dir(cd);
		}
		return 0;
	}
	*error_r = "cannot make a unique file name";
	return -1;
}

static int
add_stored(struct mailbox *mb, const char *base, const char *fname, unsigned flags, uint32_t kw,
    int64_t size, int64_t vsize, int64_t idate, uint32_t *uid_r, const char **error_r)
{
	char *names[1] = { (char *)base };
	uint32_t uid = 0;
	if (assign_uids(mb, names, 1, &uid, error_r) != 0 || uid == 0) {
		if (uid == 0 && *error_r == NULL)
			*error_r = "no UID left";
		char p[4096];
		snprintf(p, sizeof(p), "%s/cur/%s", mb->dir, fname);
		if (unlink(p) == 0)
			expect(mb, false, fname);
		return -1;
	}
	struct mbx_msg *m = mailbox_push(mb);
	m->uid = uid;
	m->flags = (uint8_t)(flags & MF_STORED);
	m->kw = kw;
	m->size = size;
	m->vsize = vsize;
	m->idate = idate;
	m->modseq = ++mb->highestmodseq;
	msg_set_name(m, xstrdup(fname));
	mark_dirty(mb, m);
	if (mb->sync_later && mb->hidden_from == 0)
		mb->hidden_from = uid;
	if (mb->n > 1 && mb->m[mb->n - 2].uid > uid)
		qsort(mb->m, mb->n, sizeof(*mb->m), cmp_msg_uid);
	if (uid >= mb->uidnext)
		mb->uidnext = uid + 1;
	char p[4096];
	snprintf(p, sizeof(p), "%s/cur", mb->dir);
	stamp_get(p, &mb->priv->cur);
	*uid_r = uid;
	return 0;
}

int
mailbox_append(struct mailbox *mb, const char *data, size_t len, unsigned flags,
    const char *const *keywords, size_t nkeywords, int64_t idate, uint32_t *uid_r,
    const char **error_r)
{
	if (mb->readonly) {
		*error_r = "mailbox is read-only";
		return -1;
	}
	uint32_t kw = 0;
	for (size_t i = 0; i < nkeywords; i++) {
		int k = mailbox_keyword(mb, keywords[i], true);
		if (k >= 0)
			kw |= 1u << k;
	}
	if (idate < 0 && IS_MBOX(mb))
		idate = time(NULL);
	if (IS_MBOX(mb))
		return mbox_box_append(mb, data, len, flags, kw, idate, uid_r, error_r);
	/* Stored with LF line ends, as deliveries are. */
	char *lf = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			continue;
		lf[n++] = data[i];
	}
	if (idate < 0)
		idate = time(NULL);
	char base[MAILDIR_NAME_MAX], fname[MAILDIR_NAME_MAX + 64];
	*error_r = NULL;
	int r = store_file(mb, lf, n, flags, kw, idate, base, sizeof(base), fname, sizeof(fname),
	    error_r);
	size_t vsize = n + maildir_count_lf(lf, n);
	free(lf);
	if (r != 0)
		return -1;
	return add_stored(mb, base, fname, flags, kw, (int64_t)n, (int64_t)vsize, idate, uid_r,
	    error_r);
}

int
mailbox_copy(struct mailbox *src, size_t i, struct mailbox *dst, uint32_t *uid_r,
    const char **error_r)
{
	if (dst->readonly) {
		*error_r = "mailbox is read-only";
		return -1;
	}
	if (mailbox_stat(src, i) != 0) {
		*error_r = "expunged";
		return -1;
	}
	struct mbx_msg *m = &src->m[i];
	uint32_t kw = 0;
	for (int k = 0; k < 26; k++)
		if ((m->kw & (1u << k)) && src->kw[k] != NULL) {
			int d = mailbox_keyword(dst, src->kw[k], true);
			if (d >= 0)
				kw |= 1u << d;
		}
	if (IS_MBOX(src) || IS_MBOX(dst)) {
		/* No link between an mbox and a Maildir: the bytes are copied. */
		size_t dlen;
		char *text = mailbox_read(src, i, &dlen, error_r);
		if (text == NULL)
			return -1;
		m = &src->m[i];
		int r;
		if (IS_MBOX(dst))
			r = mbox_box_append(dst, text, dlen, m->flags, kw, m->idate, uid_r, error_r);
		else {
			char b[MAILDIR_NAME_MAX], fn[MAILDIR_NAME_MAX + 64];
			*error_r = NULL;
			r = store_file(dst, text, dlen, m->flags, kw, m->idate, b, sizeof(b), fn,
			    sizeof(fn), error_r);
			if (r == 0)
				r = add_stored(dst, b, fn, m->flags, kw, (int64_t)dlen,
				    (int64_t)(dlen + maildir_count_lf(text, dlen)), m->idate, uid_r,
				    error_r);
		}
		free(text);
		return r;
	}
	char from[4096];
	snprintf(from, sizeof(from), "%s/%s/%s", src->dir, m->in_new ? "new" : "cur", m->fname);
	size_t len = 0;
	char *data = NULL;
	char base[MAILDIR_NAME_MAX], fname[MAILDIR_NAME_MAX + 64];
	*error_r = NULL;
	/* A link keeps the bytes; the sizes in the name come from the source. */
	int r;
	{
		char lbase[MAILDIR_NAME_MAX];
		char lname[MAILDIR_NAME_MAX + 64];
		size_t sz = (size_t)m->size, vs = (size_t)m->vsize;
		r = -1;
		for (int tries = 0; tries < 10 && r != 0; tries++) {
			if (maildir_unique(lbase, sizeof(lbase), sz, vs) != 0 ||
			    md_name_format(lbase, strlen(lbase),
			    md_flags_of(m->flags) | kept_md_flags(m->fname), kw, lname,
			    sizeof(lname)) < 0)
				break;
			char to[4096];
			snprintf(to, sizeof(to), "%s/cur/%s", dst->dir, lname);
			if (link(from, to) == 0) {
				r = 0;
				expect(dst, false, lname);
				strlcpy(base, lbase, sizeof(base));
				strlcpy(fname, lname, sizeof(fname));
				char cd[4096];
				snprintf(cd, sizeof(cd), "%s/cur", dst->dir);
				fsync_dir(cd);
			} else if (errno != EEXIST)
				break;
		}
	}
	if (r != 0) {
		data = mailbox_read(src, i, &len, error_r);
		if (data == NULL)
			return -1;
		r = store_file(dst, data, len, m->flags, kw, m->idate, base, sizeof(base), fname,
		    sizeof(fname), error_r);
		free(data);
		if (r != 0)
			return -1;
	}
	return add_stored(dst, base, fname, m->flags, kw, m->size, m->vsize, m->idate, uid_r,
	    error_r);
}

uint64_t
mailbox_total_size(struct mailbox *mb)
{
	uint64_t t = 0;
	for (size_t i = 0; i < mb->n; i++) {
		if (mb->m[i].vsize < 0)
			mailbox_stat(mb, i);
		if (mb->m[i].vsize > 0)
			t += (uint64_t)mb->m[i].vsize;
	}
	return t;
}
