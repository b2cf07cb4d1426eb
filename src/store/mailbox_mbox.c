#include "store/mailbox_mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/mailbox.h"
#include "store/mbox.h"
#include "store/mboxfile.h"

#define MBOX_MAX	((size_t)2 << 30)	/* bytes of an mbox read into memory at most */
#define MBOX_MSGS	(1u << 22)
#define LOCK_SECS	10
#define JOURNAL_MAGIC	"ESTMBJ1\n"

struct mbx_mbox {
	char *path;
	char *journal;		/* NULL: rewrites are not journaled */
	bool exists;
	int64_t size, ino, mtime_s;
	long mtime_ns;
	uint32_t file_uid_last;	/* X-IMAPbase in the file; 0: none */
	bool dirty;		/* the file is behind: flags, UIDs, expunges, X-IMAPbase */
	uint32_t *gone;		/* UIDs expunged here, still in the file */
	size_t ngone, gcap;
	char errbuf[300];
};

static struct mbx_mbox *
X(const struct mailbox *mb)
{
	return *mailbox_mbox_slot((struct mailbox *)mb);
}

static const char *
xerr(struct mailbox *mb, const char *what, int e)
{
	struct mbx_mbox *x = X(mb);
	snprintf(x->errbuf, sizeof(x->errbuf), "%s: %s: %s", x->path, what, strerror(e));
	return x->errbuf;
}

static void
stamp_of(struct mbx_mbox *x, const struct stat *st)
{
	x->exists = true;
	x->size = st->st_size;
	x->ino = (int64_t)st->st_ino;
	x->mtime_s = st->st_mtim.tv_sec;
	x->mtime_ns = st->st_mtim.tv_nsec;
}

static bool
stamp_same(const struct mbx_mbox *x, const struct stat *st)
{
	return x->exists && x->size == st->st_size && x->ino == (int64_t)st->st_ino &&
	    x->mtime_s == st->st_mtim.tv_sec && x->mtime_ns == st->st_mtim.tv_nsec;
}

/* ---- keywords: names in mb->kw, in memory (the file names them) ---- */

int
mbox_box_keyword(struct mailbox *mb, const char *name, bool create)
{
	for (int i = 0; i < 26; i++)
		if (mb->kw[i] != NULL && strcasecmp(mb->kw[i], name) == 0)
			return i;
	if (!create)
		return -1;
	for (int i = 0; i < 26; i++)
		if (mb->kw[i] == NULL) {
			mb->kw[i] = xstrdup(name);
			return i;
		}
	return -1;
}

static uint32_t
kw_of(struct mailbox *mb, const char *buf, size_t off, size_t len)
{
	uint32_t kw = 0;
	size_t pos = 0, o, l;
	while (len > 0 && mboxf_next_keyword(buf + off, len, &pos, &o, &l)) {
		char *name = xstrndup(buf + off + o, l);
		int k = mbox_box_keyword(mb, name, true);
		free(name);
		if (k >= 0)
			kw |= 1u << k;
	}
	return kw;
}

static char *
kw_names(const struct mailbox *mb, uint32_t kw)
{
	struct buf b = { 0 };
	for (int k = 0; k < 26; k++)
		if ((kw & (1u << k)) && mb->kw[k] != NULL) {
			if (b.len > 0)
				buf_addc(&b, ' ');
			buf_adds(&b, mb->kw[k]);
		}
	if (b.p == NULL)
		return NULL;
	return b.p;
}

/* ---- the journal: the bytes a rewrite replaces ---- */

/* "ESTMBJ1\n" u64 start u64 old_len u64 new_len, then old[start..old_len). */
static int
journal_write(struct mbx_mbox *x, const char *old, size_t start, size_t old_len,
    size_t new_len)
{
	if (x->journal == NULL)
		return 0;
	int fd = open(x->journal, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	uint64_t h[3] = { start, old_len, new_len };
	int r = write_all(fd, JOURNAL_MAGIC, 8) == 0 && write_all(fd, h, sizeof(h)) == 0 &&
	    write_all(fd, old + start, old_len - start) == 0 && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	if (r != 0)
		unlink(x->journal);
	return r;
}

static void
journal_done(struct mbx_mbox *x)
{
	if (x->journal != NULL)
		unlink(x->journal);
}

/* A rewrite that did not finish: put the old bytes back. Bytes beyond both
 * lengths were appended after the crash (a delivery): they are kept, after
 * the restored text. */
static void
journal_recover(struct mbx_mbox *x, int fd)
{
	char *j;
	size_t jl;
	if (x->journal == NULL || read_file(x->journal, MBOX_MAX, &j, &jl) != 0)
		return;
	uint64_t h[3];
	struct stat st;
	if (jl < 8 + sizeof(h) || memcmp(j, JOURNAL_MAGIC, 8) != 0 || fstat(fd, &st) != 0) {
		free(j);
		journal_done(x);
		return;
	}
	memcpy(h, j + 8, sizeof(h));
	size_t start = h[0], old_len = h[1], new_len = h[2], size = (size_t)st.st_size;
	if (start > old_len || jl - 8 - sizeof(h) != old_len - start) {
		free(j);
		journal_done(x);
		return;
	}
	size_t span = old_len > new_len ? old_len : new_len;
	char *extra = NULL;
	size_t nextra = 0;
	if (size > span) {
		nextra = size - span;
		extra = xmalloc(nextra);
		if (pread(fd, extra, nextra, (off_t)span) != (ssize_t)nextra)
			nextra = 0;
	}
	const char *old = j + 8 + sizeof(h);
	bool ok = pwrite(fd, old, old_len - start, (off_t)start) == (ssize_t)(old_len - start) &&
	    (nextra == 0 || pwrite(fd, extra, nextra, (off_t)old_len) == (ssize_t)nextra) &&
	    ftruncate(fd, (off_t)(old_len + nextra)) == 0 && fsync(fd) == 0;
	if (ok)
		journal_done(x);
	log_warn("%s: an interrupted rewrite was %s", x->path, ok ? "undone" : "NOT undone");
	free(extra);
	free(j);
}

/* ---- reading and merging ---- */

static bool
is_gone(const struct mbx_mbox *x, uint32_t uid)
{
	for (size_t i = 0; i < x->ngone; i++)
		if (x->gone[i] == uid)
			return true;
	return false;
}

static int
cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct mbx_msg *)a)->uid, y = ((const struct mbx_msg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Bring mb->m in line with the parsed file: known UIDs keep their entry
 * (flags changed here and not written yet win), expunged ones stay out,
 * new messages get UIDs. uids_r[k]: the UID of f->m[k], 0 when it is left
 * out. Returns 1 when the view changed. */
static int
merge(struct mailbox *mb, const char *buf, const struct mboxf *f, uint32_t *uids_r)
{
	struct mbx_mbox *x = X(mb);
	int changed = 0;
	if (f->uidvalidity != 0 && mb->uidvalidity != 0 && f->uidvalidity != mb->uidvalidity) {
		/* Someone gave the file new UIDs: start over with theirs. */
		for (size_t i = 0; i < mb->n; i++)
			mailbox_msg_free(&mb->m[i]);
		mb->n = 0;
		mb->uidnext = 1;
		x->ngone = 0;
		mb->expunge_modseq = ++mb->highestmodseq;
		changed = 1;
	}
	/* UIDs at or above this were given by another program (Dovecot
	 * appends with X-UID): kept. Below it and unknown: a new UID. */
	uint32_t prev_next = mb->uidnext;
	x->file_uid_last = f->uidvalidity != 0 ? f->uid_last : 0;
	if (f->uidvalidity != 0) {
		mb->uidvalidity = f->uidvalidity;
		if (f->uid_last >= mb->uidnext)
			mb->uidnext = f->uid_last + 1;
	} else if (mb->uidvalidity == 0)
		mb->uidvalidity = (uint32_t)time(NULL);
	if (f->uidvalidity == 0 && f->n > 0)
		x->dirty = true;	/* X-IMAPbase to write */
	for (size_t k = 0; k < f->n; k++)
		if (f->m[k].uid >= mb->uidnext && f->m[k].uid < UINT32_MAX - 1 &&
		    !is_gone(x, f->m[k].uid))
			mb->uidnext = f->m[k].uid + 1;

	size_t cap = f->n ? f->n : 1;
	struct mbx_msg *nm = xcalloc(cap, sizeof(*nm));
	bool *used = xcalloc(mb->n ? mb->n : 1, sizeof(bool));
	/* UIDs taken by new entries: a set, so a UID twice in the file gets
	 * a new one the second time. */
	size_t scap = 16;
	while (scap < 2 * cap)
		scap *= 2;
	uint32_t *set = xcalloc(scap, sizeof(uint32_t));
	size_t n = 0;
	for (size_t k = 0; k < f->n; k++) {
		const struct mboxf_msg *fm = &f->m[k];
		uids_r[k] = 0;
		if (k == 0 && f->pseudo)
			continue;	/* the folder-data message is no mail */
		uint32_t uid = fm->uid;
		if (uid != 0 && is_gone(x, uid))
			continue;
		long i = uid != 0 ? mailbox_find(mb, uid) : -1;
		struct mbx_msg *m = &nm[n];
		uint32_t kw = kw_of(mb, buf, fm->kw_off, fm->kw_len);
		if (i >= 0 && !used[i]) {
			used[i] = true;
			*m = mb->m[i];
			if (!m->mbox_pending && (m->flags != (fm->flags & MF_STORED) || m->kw != kw)) {
				m->flags = (uint8_t)(fm->flags & MF_STORED);
				m->kw = kw;
				m->modseq = ++mb->highestmodseq;
				changed = 1;
			}
		} else {
			memset(m, 0, sizeof(*m));
			size_t h = (uid * 2654435761u) & (scap - 1);
			bool taken = false;
			if (uid != 0)
				for (; set[h] != 0; h = (h + 1) & (scap - 1))
					if (set[h] == uid) {
						taken = true;
						break;
					}
			if (uid == 0 || i >= 0 || taken || uid < prev_next || uid >= UINT32_MAX - 1) {
				/* Never drop mail: a message without a usable UID gets one. */
				uid = mb->uidnext++;
				x->dirty = true;
				h = (uid * 2654435761u) & (scap - 1);
				while (set[h] != 0)
					h = (h + 1) & (scap - 1);
			}
			set[h] = uid;
			m->uid = uid;
			m->flags = (uint8_t)(fm->flags & MF_STORED);
			m->kw = kw;
			m->recent = !fm->old;
			if (!fm->old)
				x->dirty = true;	/* Status O to write */
			m->modseq = ++mb->highestmodseq;
			m->vsize = -1;
			m->idate = -1;
			changed = 1;
		}
		m->off = fm->from_off;
		m->end = fm->end;
		m->size = (int64_t)mboxf_message_size(buf, fm);
		if (m->idate < 0)
			m->idate = fm->from_date >= 0 ? fm->from_date : 0;
		uids_r[k] = m->uid;
		n++;
	}
	for (size_t i = 0; i < mb->n; i++)
		if (!used[i]) {
			mailbox_msg_free(&mb->m[i]);
			mb->expunge_modseq = ++mb->highestmodseq;
			changed = 1;
		}
	free(used);
	free(set);
	free(mb->m);
	mb->m = nm;
	mb->n = n;
	mb->cap = cap;
	if (n > 1)
		qsort(mb->m, n, sizeof(*mb->m), cmp_uid);
	return changed;
}

static int
read_all(int fd, size_t size, char **buf_r, const char **error_r)
{
	if (size > MBOX_MAX) {
		*error_r = "mbox too large";
		return -1;
	}
	char *buf = xmalloc(size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != size) {
		free(buf);
		*error_r = "short read";
		return -1;
	}
	buf[size] = '\0';
	*buf_r = buf;
	return 0;
}

/* Under the lock: read and parse the file, merge. buf and f are the
 * caller's to free. */
static int
load(struct mailbox *mb, int fd, char **buf_r, struct mboxf *f, uint32_t **uids_r,
    int *changed_r, const char **error_r)
{
	struct mbx_mbox *x = X(mb);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		*error_r = xerr(mb, "fstat", errno);
		return -1;
	}
	char *buf;
	if (read_all(fd, (size_t)st.st_size, &buf, error_r) != 0)
		return -1;
	const char *perr;
	unsigned line;
	if (mboxf_parse(buf, (size_t)st.st_size, MBOX_MSGS, f, &perr, &line) != 0) {
		snprintf(x->errbuf, sizeof(x->errbuf), "%s:%u: %s", x->path, line, perr);
		*error_r = x->errbuf;
		free(buf);
		return -1;
	}
	uint32_t *uids = xcalloc(f->n ? f->n : 1, sizeof(uint32_t));
	*changed_r = merge(mb, buf, f, uids);
	stamp_of(x, &st);
	*buf_r = buf;
	*uids_r = uids;
	return 0;
}

/* Write mb's state into the file (locked, read as buf/f): the new text
 * from the first differing byte on, journaled. */
static int
rewrite(struct mailbox *mb, int fd, const char *buf, size_t len, const struct mboxf *f,
    const uint32_t *uids, const char **error_r)
{
	struct mbx_mbox *x = X(mb);
	struct mboxf_update *upd = xcalloc(f->n ? f->n : 1, sizeof(*upd));
	char **names = xcalloc(f->n ? f->n : 1, sizeof(char *));
	uint32_t gone_max = 0;
	for (size_t i = 0; i < x->ngone; i++)
		if (x->gone[i] > gone_max)
			gone_max = x->gone[i];
	for (size_t k = 0; k < f->n; k++) {
		if (k == 0 && f->pseudo) {
			upd[k].keep = true;
			continue;
		}
		long i = uids[k] != 0 ? mailbox_find(mb, uids[k]) : -1;
		if (i < 0)
			continue;
		const struct mbx_msg *m = &mb->m[i];
		upd[k].keep = true;
		upd[k].uid = m->uid;
		upd[k].flags = m->flags;
		upd[k].old = true;
		names[k] = kw_names(mb, m->kw);
		upd[k].keywords = names[k];
	}
	/* X-IMAPbase's last UID may lag behind the X-UIDs (readers take the
	 * larger): moved only when it must, so an append does not rewrite the
	 * whole file. It must when the highest UID goes away. */
	uint32_t last = x->file_uid_last;
	if (last == 0 || gone_max > last || f->uidvalidity != mb->uidvalidity)
		last = mb->uidnext - 1;
	char *base = NULL;
	if (f->base_kw_len > 0)
		base = xstrndup(buf + f->base_kw_off, f->base_kw_len);
	struct buf out = { 0 };
	buf_reset(&out);
	mboxf_rewrite(buf, f, upd, mb->uidvalidity, last, base, &out);
	free(base);
	for (size_t k = 0; k < f->n; k++)
		free(names[k]);
	free(names);
	free(upd);
	size_t d = 0, lim = len < out.len ? len : out.len;
	while (d < lim && buf[d] == out.p[d])
		d++;
	int r = 0;
	if (d < len || d < out.len) {
		if (journal_write(x, buf, d, len, out.len) != 0) {
			*error_r = xerr(mb, "journal", errno);
			r = -1;
		} else if (pwrite(fd, out.p + d, out.len - d, (off_t)d) != (ssize_t)(out.len - d) ||
		    ftruncate(fd, (off_t)out.len) != 0 || fsync(fd) != 0) {
			int e = errno;
			journal_recover(x, fd);
			*error_r = xerr(mb, "rewrite", e);
			r = -1;
		} else
			journal_done(x);
	}
	if (r == 0) {
		/* Where every message is now. */
		struct mboxf nf;
		const char *perr;
		unsigned line;
		if (mboxf_parse(out.p, out.len, MBOX_MSGS, &nf, &perr, &line) == 0) {
			for (size_t k = 0; k < nf.n; k++) {
				long i = nf.m[k].uid != 0 ? mailbox_find(mb, nf.m[k].uid) : -1;
				if (i < 0)
					continue;
				mb->m[i].off = nf.m[k].from_off;
				mb->m[i].end = nf.m[k].end;
				mb->m[i].mbox_pending = false;
			}
			mboxf_free(&nf);
		}
		x->file_uid_last = last;
		x->ngone = 0;
		x->dirty = false;
		struct stat st;
		if (fstat(fd, &st) == 0)
			stamp_of(x, &st);
	}
	buf_free(&out);
	return r;
}

/* Lock, read, merge, and write back when anything is pending. */
static int
sync_locked(struct mailbox *mb, bool force, const char **error_r)
{
	struct mbx_mbox *x = X(mb);
	struct stat st;
	if (stat(x->path, &st) != 0) {
		if (errno != ENOENT) {
			*error_r = xerr(mb, "stat", errno);
			return -1;
		}
		/* No file: an empty mailbox (the spool file comes with mail). */
		int changed = 0;
		for (size_t i = 0; i < mb->n; i++) {
			mailbox_msg_free(&mb->m[i]);
			changed = 1;
		}
		if (changed)
			mb->expunge_modseq = ++mb->highestmodseq;
		mb->n = 0;
		x->exists = false;
		x->ngone = 0;
		x->dirty = false;
		if (mb->uidvalidity == 0)
			mb->uidvalidity = (uint32_t)time(NULL);
		return changed;
	}
	bool fresh = time(NULL) - st.st_mtim.tv_sec < 2;
	if (!force && !fresh && !x->dirty && stamp_same(x, &st))
		return 0;
	struct mbox_lock lk;
	if (mbox_lock_open(x->path, !mb->readonly, LOCK_SECS, &lk, error_r) != 0)
		return -1;
	journal_recover(x, lk.fd);
	char *buf = NULL;
	struct mboxf f;
	uint32_t *uids = NULL;
	int changed = 0;
	int r = load(mb, lk.fd, &buf, &f, &uids, &changed, error_r);
	if (r == 0 && x->dirty && !mb->readonly)
		r = rewrite(mb, lk.fd, buf, (size_t)x->size, &f, uids, error_r);
	if (buf != NULL) {
		mboxf_free(&f);
		free(buf);
	}
	free(uids);
	mbox_lock_close(&lk);
	return r < 0 ? -1 : changed;
}

int
mbox_box_sync(struct mailbox *mb, bool force, const char **error_r)
{
	return sync_locked(mb, force, error_r);
}

int
mbox_box_flush(struct mailbox *mb, const char **error_r)
{
	if (!X(mb)->dirty || mb->readonly)
		return 0;
	return sync_locked(mb, true, error_r) < 0 ? -1 : 0;
}

bool
mbox_box_pending(const struct mailbox *mb)
{
	return X(mb)->dirty;
}

void
mbox_box_touch(struct mailbox *mb, size_t i)
{
	mb->m[i].mbox_pending = true;
	X(mb)->dirty = true;
}

void
mbox_box_gone(struct mailbox *mb, uint32_t uid)
{
	struct mbx_mbox *x = X(mb);
	if (x->ngone == x->gcap) {
		x->gcap = x->gcap ? x->gcap * 2 : 16;
		x->gone = xreallocarray(x->gone, x->gcap, sizeof(*x->gone));
	}
	x->gone[x->ngone++] = uid;
	x->dirty = true;
}

char *
mbox_box_read(struct mailbox *mb, size_t i, size_t *len_r, const char **error_r)
{
	struct mbx_mbox *x = X(mb);
	struct mbx_msg *m = &mb->m[i];
	/* A rewrite moves messages: write first, so the offsets hold. */
	if (x->dirty && !mb->readonly && mbox_box_flush(mb, error_r) != 0)
		return NULL;
	m = &mb->m[i];
	int fd = open(x->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*error_r = errno == ENOENT ? "expunged" : xerr(mb, "open", errno);
		return NULL;
	}
	struct stat st;
	/* A delivery only appends: the offsets hold while the file is the
	 * same one and did not shrink (the From_ line is checked too). Any
	 * other change: its place is unknown until the next sync. */
	if (fstat(fd, &st) != 0 || !x->exists || (int64_t)st.st_ino != x->ino ||
	    st.st_size < x->size) {
		close(fd);
		*error_r = "expunged";
		return NULL;
	}
	size_t n = (size_t)(m->end - m->off);
	char *raw = xmalloc(n + 1);
	ssize_t got = pread(fd, raw, n, (off_t)m->off);
	if (got < 0) {
		int e = errno;
		close(fd);
		free(raw);
		*error_r = xerr(mb, "read", e);
		return NULL;
	}
	if ((size_t)got != n || n < 5 || memcmp(raw, "From ", 5) != 0) {
		close(fd);
		free(raw);
		*error_r = "expunged";	/* moved by another program: seen at the next sync */
		return NULL;
	}
	close(fd);
	raw[n] = '\0';
	struct mboxf one;
	const char *perr;
	unsigned line;
	char *text = NULL;
	if (mboxf_parse(raw, n, 2, &one, &perr, &line) == 0 && one.n >= 1) {
		text = mboxf_message(raw, &one.m[0], len_r);
		mboxf_free(&one);
	} else {
		if (one.m != NULL)
			mboxf_free(&one);
		*error_r = "expunged";
	}
	free(raw);
	return text;
}

int
mbox_box_append(struct mailbox *mb, const char *data, size_t len, unsigned flags, uint32_t kw,
    int64_t idate, uint32_t *uid_r, const char **error_r)
{
	struct mbx_mbox *x = X(mb);
	struct mbox_lock lk;
	if (mbox_lock_open(x->path, true, LOCK_SECS, &lk, error_r) != 0)
		return -1;
	journal_recover(x, lk.fd);
	/* Whatever changed meanwhile first: UIDs must come after theirs. */
	char *buf = NULL;
	struct mboxf f;
	uint32_t *uids = NULL;
	int changed = 0, r = load(mb, lk.fd, &buf, &f, &uids, &changed, error_r);
	if (r == 0 && x->dirty)
		r = rewrite(mb, lk.fd, buf, (size_t)x->size, &f, uids, error_r);
	if (buf != NULL) {
		mboxf_free(&f);
		free(buf);
	}
	free(uids);
	if (r != 0) {
		mbox_lock_close(&lk);
		return -1;
	}
	uint32_t uid = mb->uidnext;
	struct mboxf_update u = { .keep = true, .uid = uid, .flags = flags & MF_STORED, .old = true };
	char *names = kw_names(mb, kw);
	u.keywords = names;
	struct buf out = { 0 };
	buf_reset(&out);
	char tail[3] = { 0 };
	size_t tl = x->size < 3 ? (size_t)x->size : 3;
	if (tl > 0 && pread(lk.fd, tail, tl, (off_t)(x->size - (int64_t)tl)) != (ssize_t)tl)
		tl = 0;
	buf_adds(&out, mboxf_append_sep(tail, tl));
	size_t from = out.len;
	mboxf_format_new(data, len, NULL, idate, &u, &out);
	size_t to = out.len;
	buf_addc(&out, '\n');
	free(names);
	off_t orig = (off_t)x->size;
	if (pwrite(lk.fd, out.p, out.len, orig) != (ssize_t)out.len || fsync(lk.fd) != 0) {
		int e = errno;
		if (ftruncate(lk.fd, orig) == 0)
			(void)fsync(lk.fd);
		buf_free(&out);
		mbox_lock_close(&lk);
		*error_r = xerr(mb, "append", e);
		return -1;
	}
	struct stat st;
	if (fstat(lk.fd, &st) == 0)
		stamp_of(x, &st);
	mbox_lock_close(&lk);
	struct mbx_msg *m = mailbox_push(mb);
	m->uid = uid;
	m->flags = (uint8_t)(flags & MF_STORED);
	m->kw = kw;
	m->off = (uint64_t)orig + from;
	m->end = (uint64_t)orig + to;
	m->vsize = -1;
	m->idate = idate;
	m->modseq = ++mb->highestmodseq;
	/* The stored text is what a read gives back. */
	{
		struct mboxf one;
		const char *perr;
		unsigned line;
		m->size = -1;
		if (mboxf_parse(out.p + from, to - from, 2, &one, &perr, &line) == 0) {
			if (one.n == 1) {
				m->size = (int64_t)mboxf_message_size(out.p + from, &one.m[0]);
				m->end = m->off + one.m[0].end;
			}
			mboxf_free(&one);
		}
	}
	buf_free(&out);
	mb->uidnext = uid + 1;
	*uid_r = uid;
	return 0;
}

int
mbox_box_open(struct mailbox *mb, const char *spec, const char **error_r)
{
	struct mbx_mbox *x = xcalloc(1, sizeof(*x));
	*mailbox_mbox_slot(mb) = x;
	const char *p = spec + 5;
	const char *nl = strchr(p, '\n');
	x->path = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
	char *slash = strrchr(x->path, '/');
	char *dir = slash == NULL ? xstrdup(".") : slash == x->path ? xstrdup("/") :
	    xstrndup(x->path, (size_t)(slash - x->path));
	const char *base = slash ? slash + 1 : x->path;
	if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0)
		x->journal = xasprintf("%s/.%s.estafeta-journal", dir, base);
	else if (nl != NULL && nl[1] != '\0')
		x->journal = xasprintf("%s/.%s.estafeta-journal", nl + 1, base);
	free(dir);
	struct stat st;
	if (stat(x->path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			*error_r = "not an mbox file";
			return -1;
		}
		mb->readonly = access(x->path, W_OK) != 0;
	}
	mb->uidnext = 1;
	return 0;
}

void
mbox_box_free(struct mailbox *mb)
{
	struct mbx_mbox *x = X(mb);
	if (x == NULL)
		return;
	free(x->path);
	free(x->journal);
	free(x->gone);
	free(x);
	*mailbox_mbox_slot(mb) = NULL;
}
