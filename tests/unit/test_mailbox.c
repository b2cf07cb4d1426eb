/* Unit tests for src/store/mailbox: UIDs, flags, keywords and MODSEQs kept
 * in sync with a Maildir that others (deliveries, Dovecot, another
 * estafeta) change too; an existing Dovecot Maildir built from the files
 * in data/dovecot/ is adopted with Dovecot's UIDs. */
#include "tu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/util.h"
#include "store/mailbox.h"
#include "store/maildir.h"
#include "store/mdfiles.h"

struct fx {
	char *root;
	char *md;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->root = tu_tmpdir();
	f->md = xasprintf("%s/Maildir", f->root);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	mailbox_set_lock_timeout_ms(10000);
	tu_rmtree(f->root);
	free(f->root);
	free(f->md);
	free(f);
	return 0;
}

/* ---- helpers ---- */


static void
put_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, len), 0);
	assert_int_equal(close(fd), 0);
}

static void
put_str(const char *path, const char *s)
{
	put_file(path, s, strlen(s));
}

static char *
slurp(const char *path)
{
	char *data;
	size_t len;

	if (read_file(path, 64 << 20, &data, &len) != 0)
		return NULL;
	return data;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static size_t
count_dir(const char *md, const char *sub)
{
	char *p = xasprintf("%s/%s", md, sub);
	DIR *d = opendir(p);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	free(p);
	return n;
}

/* Deliver body; the base name (malloc'd). */
static char *
deliver(const char *md, const char *body)
{
	char name[MAILDIR_NAME_MAX];
	const char *err = NULL;

	assert_int_equal(maildir_deliver(md, NULL, 0, body, strlen(body), 1, name, sizeof(name),
	    &err), STORE_OK);
	assert_memory_equal(name, "new/", 4);
	return xstrdup(name + 4);
}

static char *
base_of(const struct mbx_msg *m)
{
	return xstrndup(m->fname, m->base_len);
}

static void
assert_base(const struct mbx_msg *m, const char *want)
{
	char *b = base_of(m);

	assert_string_equal(b, want);
	free(b);
}

static char *
cur_path(const struct mailbox *mb, size_t i)
{
	return xasprintf("%s/%s/%s", mb->dir, mb->m[i].in_new ? "new" : "cur", mb->m[i].fname);
}

static struct mailbox *
open_ok(const char *dir, bool create)
{
	struct mailbox *mb = NULL;
	const char *err = NULL;

	if (mailbox_open(dir, create, &mb, &err) != 0)
		fail_msg("mailbox_open %s: %s", dir, err);
	return mb;
}

static int
sync_ok(struct mailbox *mb, bool force)
{
	const char *err = NULL;
	int r = mailbox_sync(mb, force, &err);

	if (r < 0)
		fail_msg("mailbox_sync: %s", err);
	return r;
}

static struct uidlist
read_uidlist(const char *dir)
{
	char *p = xasprintf("%s/dovecot-uidlist", dir), *text = slurp(p);
	struct uidlist ul;
	const char *err = NULL;
	unsigned line = 0;

	assert_non_null(text);
	if (uidlist_parse(text, strlen(text), 1u << 24, &ul, &err, &line) != 0)
		fail_msg("dovecot-uidlist line %u: %s", line, err);
	free(text);
	free(p);
	return ul;
}

static void
set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static const char *const bodies[] = {
	"Subject: one\n\nfirst\n",
	"Subject: two\n\nsecond\nmessage\n",
	"Subject: three\n\nthird\n",
};

/* ---- open, deliveries, the uidlist ---- */

static void
test_open_create(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = NULL, *mb2, *alias;
	const char *err = NULL;
	uint64_t t0 = (uint64_t)time(NULL) * 1000000u;

	assert_int_equal(mailbox_open(f->md, false, &mb, &err), -1);
	assert_non_null(err);
	assert_null(mb);
	mb = open_ok(f->md, true);
	char *p = xasprintf("%s/cur", f->md);
	assert_true(exists(p));
	free(p);
	assert_int_equal(mb->n, 0);
	assert_int_equal(mb->uidnext, 1);
	assert_true(mb->uidvalidity != 0);
	assert_int_equal(mb->refs, 1);
	assert_false(mb->readonly);
	/* MODSEQs start above the clock in microseconds */
	assert_true(mb->highestmodseq >= t0);
	/* an empty mailbox has its UIDVALIDITY on disk already */
	struct uidlist ul = read_uidlist(f->md);
	assert_int_equal(ul.version, 3);
	assert_int_equal(ul.uidvalidity, mb->uidvalidity);
	assert_int_equal(ul.next_uid, 1);
	assert_int_equal(ul.n, 0);
	uidlist_free(&ul);

	mb2 = open_ok(f->md, false);
	assert_int_equal(mb2->uidvalidity, mb->uidvalidity);
	mailbox_unref(&mb2);
	assert_null(mb2);

	mailbox_ref(mb);
	assert_int_equal(mb->refs, 2);
	alias = mb;
	mailbox_unref(&alias);
	assert_null(alias);
	assert_int_equal(mb->refs, 1);
	mailbox_unref(&mb);
	mailbox_unref(&mb);	/* NULL-safe */

	/* a plain file is no mailbox */
	p = xasprintf("%s/file", f->root);
	put_str(p, "x");
	assert_int_equal(mailbox_open(p, false, &mb, &err), -1);
	free(p);
}

static void
test_sync_deliveries(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	char *base[3];
	uint64_t hm = mb->highestmodseq;

	assert_int_equal(sync_ok(mb, false), 0);
	for (size_t i = 0; i < 3; i++)
		base[i] = deliver(f->md, bodies[i]);
	assert_int_equal(count_dir(f->md, "new"), 3);
	assert_int_equal(sync_ok(mb, false), 1);
	/* they stay in new/ until their flags change */
	assert_int_equal(count_dir(f->md, "new"), 3);
	assert_int_equal(count_dir(f->md, "cur"), 0);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mb->uidnext, 4);
	for (size_t i = 0; i < 3; i++) {
		struct mbx_msg *m = &mb->m[i];
		size_t len;
		const char *err = NULL;

		assert_int_equal(m->uid, i + 1);
		assert_base(m, base[i]);
		assert_string_equal(m->fname + m->base_len, "");
		assert_true(m->in_new);
		assert_true(m->recent);
		assert_int_equal(m->flags, 0);
		assert_int_equal(m->kw, 0);
		assert_true(m->modseq > hm);
		assert_true(m->modseq <= mb->highestmodseq);
		if (i > 0)
			assert_true(m->modseq > mb->m[i - 1].modseq);
		/* sizes from the name (,S= ,W=) without a stat */
		assert_int_equal(m->size, strlen(bodies[i]));
		assert_int_equal(m->vsize, strlen(bodies[i]) + maildir_count_lf(bodies[i],
		    strlen(bodies[i])));
		char *data = mailbox_read(mb, i, &len, &err);
		assert_non_null(data);
		assert_int_equal(len, strlen(bodies[i]));
		assert_string_equal(data, bodies[i]);
		free(data);
	}
	assert_int_equal(mailbox_find(mb, 2), 1);
	assert_int_equal(mailbox_find(mb, 4), -1);
	assert_int_equal(mailbox_find(mb, 0), -1);
	/* nothing new: no change, whether forced or not */
	hm = mb->highestmodseq;
	assert_int_equal(sync_ok(mb, false), 0);
	assert_int_equal(sync_ok(mb, true), 0);
	assert_int_equal(mb->highestmodseq, hm);
	/* one more, after the others */
	char *b4 = deliver(f->md, "Subject: four\n\n4\n");
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 4);
	assert_int_equal(mb->m[3].uid, 4);
	assert_base(&mb->m[3], b4);
	free(b4);
	/* a flag change moves the file to cur/; an expunge in new/ unlinks there */
	const char *err = NULL;
	assert_int_equal(mailbox_set_flags(mb, 0, MF_SEEN, 0, &err), 0);
	assert_false(mb->m[0].in_new);
	assert_string_equal(mb->m[0].fname + mb->m[0].base_len, ":2,S");
	assert_int_equal(count_dir(f->md, "new"), 3);
	assert_int_equal(count_dir(f->md, "cur"), 1);
	size_t len;
	char *data = mailbox_read(mb, 0, &len, &err);
	assert_non_null(data);
	assert_string_equal(data, bodies[0]);
	free(data);
	assert_int_equal(mailbox_expunge(mb, 1, &err), 0);
	assert_int_equal(count_dir(f->md, "new"), 2);
	assert_int_equal(mb->n, 3);
	/* another object sees the same */
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_int_equal(mb2->n, 3);
	assert_int_equal(mb2->m[0].flags, MF_SEEN);
	assert_false(mb2->m[0].in_new);
	assert_true(mb2->m[1].in_new);
	assert_int_equal(mb2->m[1].uid, 3);
	mailbox_unref(&mb2);
	for (size_t i = 0; i < 3; i++)
		free(base[i]);
	mailbox_unref(&mb);
}

/* UIDs follow delivery order, which the numbers in the names give: strcmp
 * would put "M100000" before "M99999" and "Q10" before "Q2". */
static void
test_delivery_order(void **state)
{
	struct fx *f = *state;
	static const char *const order[] = {
		"1700000000.M99999P7Q1.host,S=2,W=3",
		"1700000000.M100000P7Q2.host,S=2,W=3",
		"1700000000.M100000P7Q10.host,S=2,W=3",
		"1700000001.M5P7Q11.host,S=2,W=3",
		"1700000010.M0P7Q12.host,S=2,W=3",
	};
	static const size_t made[] = { 3, 1, 4, 0, 2 };
	const char *err = NULL;

	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	for (size_t i = 0; i < 5; i++) {
		char *p = xasprintf("%s/new/%s", f->md, order[made[i]]);
		put_str(p, "x\n");
		free(p);
	}
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(mb->m[i].uid, i + 1);
		assert_base(&mb->m[i], order[i]);
	}
	mailbox_unref(&mb);
}

static void
test_uidlist_written_and_reread(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	char *base[3];

	for (size_t i = 0; i < 3; i++)
		base[i] = deliver(f->md, bodies[i]);
	sync_ok(mb, false);
	char *p = xasprintf("%s/dovecot-uidlist", f->md), *text = slurp(p);
	assert_non_null(text);
	/* Dovecot v3: "3 V<uidvalidity> N<next>" then "<uid> :<base name>" */
	char *hdr = xasprintf("3 V%u N", mb->uidvalidity);
	assert_memory_equal(text, hdr, strlen(hdr));
	for (size_t i = 0; i < 3; i++) {
		char *line = xasprintf("\n%zu :%s\n", i + 1, base[i]);
		assert_non_null(strstr(text, line));
		free(line);
	}
	free(hdr);
	struct uidlist ul = read_uidlist(f->md);
	assert_int_equal(ul.version, 3);
	assert_int_equal(ul.uidvalidity, mb->uidvalidity);
	assert_int_equal(ul.n, 3);
	assert_int_equal(ul.next_uid, 4);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ul.recs[i].uid, i + 1);
		assert_string_equal(ul.recs[i].name, base[i]);
	}
	uidlist_free(&ul);

	/* a second object (another process) sees the same UIDs */
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_int_equal(mb2->uidvalidity, mb->uidvalidity);
	assert_int_equal(mb2->uidnext, 4);
	assert_int_equal(mb2->n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(mb2->m[i].uid, i + 1);
		assert_string_equal(mb2->m[i].fname, mb->m[i].fname);
		/* still in new/: new to whoever sees them first, as in Maildir */
		assert_true(mb2->m[i].recent);
	}
	/* a delivery the second one lists first keeps its UID for the first */
	char *b4 = deliver(f->md, "Subject: 4\n\n4\n");
	assert_int_equal(sync_ok(mb2, false), 1);
	assert_int_equal(mb2->m[3].uid, 4);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 4);
	assert_int_equal(mb->m[3].uid, 4);
	assert_base(&mb->m[3], b4);
	assert_true(mb->m[3].recent);	/* in new/ for both */
	assert_int_equal(mb->uidnext, 5);
	/* appended: the header stays, a record is added */
	char *text2 = slurp(p);
	assert_memory_equal(text2, text, strlen(text));
	char *rec = xasprintf("4 :%s\n", b4);
	assert_string_equal(text2 + strlen(text), rec);
	free(rec);
	free(text2);
	free(b4);
	free(text);
	free(p);
	for (size_t i = 0; i < 3; i++)
		free(base[i]);
	mailbox_unref(&mb2);
	mailbox_unref(&mb);
}

/* ---- changes by others ---- */

static void
test_external_flag_change(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);

	free(deliver(f->md, bodies[0]));
	free(deliver(f->md, bodies[1]));
	sync_ok(mb, false);
	uint64_t hm = mb->highestmodseq, ms1 = mb->m[1].modseq;

	/* another process (a MUA on the files) renames message 1 */
	char *from = cur_path(mb, 0), *b = base_of(&mb->m[0]);
	char *to = xasprintf("%s/cur/%s:2,FS", f->md, b);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[0].flags, MF_FLAGGED | MF_SEEN);
	assert_int_equal(mb->m[0].kw, 0);
	assert_true(mb->m[0].modseq > hm);
	assert_int_equal(mb->highestmodseq, mb->m[0].modseq);
	assert_int_equal(mb->m[1].modseq, ms1);
	char *want = xasprintf("%s:2,FS", b);
	assert_string_equal(mb->m[0].fname, want);
	free(want);
	hm = mb->highestmodseq;
	assert_int_equal(sync_ok(mb, false), 0);
	assert_int_equal(mb->highestmodseq, hm);

	/* another estafeta sets a new keyword on message 2 */
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_int_equal(mailbox_keyword(mb2, "work", true), 0);
	const char *err = NULL;
	assert_int_equal(mailbox_set_flags(mb2, 1, MF_ANSWERED, 1u << 0, &err), 0);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->m[1].flags, MF_ANSWERED);
	assert_int_equal(mb->m[1].kw, 1u << 0);
	assert_non_null(mb->kw[0]);
	assert_string_equal(mb->kw[0], "work");
	assert_true(mb->m[1].modseq > hm);
	assert_int_equal(mb->highestmodseq, mb->m[1].modseq);
	assert_int_equal(mailbox_keyword(mb, "WORK", false), 0);
	/* a rename that changes nothing IMAP sees (an unknown flag) bumps no MODSEQ */
	hm = mb->highestmodseq;
	free(from);
	free(to);
	from = cur_path(mb, 0);
	to = xasprintf("%s/cur/%s:2,FSZ", f->md, b);
	assert_int_equal(rename(from, to), 0);
	sync_ok(mb, false);
	assert_int_equal(mb->highestmodseq, hm);
	assert_int_equal(mb->m[0].flags, MF_FLAGGED | MF_SEEN);
	free(b);
	free(from);
	free(to);
	mailbox_unref(&mb2);
	mailbox_unref(&mb);
}

static void
test_external_expunge(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);

	for (size_t i = 0; i < 3; i++)
		free(deliver(f->md, bodies[i]));
	sync_ok(mb, false);
	uint64_t hm = mb->highestmodseq;
	char *p = cur_path(mb, 1);
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[0].uid, 1);
	assert_int_equal(mb->m[1].uid, 3);
	assert_true(mb->expunge_modseq > hm);
	assert_int_equal(mb->expunge_modseq, mb->highestmodseq);
	assert_int_equal(mailbox_find(mb, 2), -1);
	/* all of them */
	for (size_t i = 0; i < 2; i++) {
		p = cur_path(mb, i);
		assert_int_equal(unlink(p), 0);
		free(p);
	}
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 0);
	assert_int_equal(mb->uidnext, 4);	/* UIDs never come back */
	free(deliver(f->md, bodies[0]));
	sync_ok(mb, false);
	assert_int_equal(mb->m[0].uid, 4);
	mailbox_unref(&mb);
}

/* A file in new/ that already has its info keeps it. */
static void
test_new_with_info(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	char *p = xasprintf("%s/new/1700000001.M1P1.h:2,S", f->md);
	put_str(p, "x\n");
	free(p);
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 1);
	assert_string_equal(mb->m[0].fname, "1700000001.M1P1.h:2,S");
	assert_int_equal(mb->m[0].flags, MF_SEEN);
	assert_true(mb->m[0].recent);
	mailbox_unref(&mb);
}

/* Two files with one base name are one message, not two with one UID. */
static void
test_duplicate_base_name(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	char *p = xasprintf("%s/cur/1700000001.M1P1.h:2,S", f->md);
	put_str(p, "x\n");
	free(p);
	p = xasprintf("%s/cur/1700000001.M1P1.h:2,RS", f->md);
	put_str(p, "x\n");
	free(p);
	p = xasprintf("%s/cur/1700000002.M1P1.h:2,", f->md);
	put_str(p, "y\n");
	free(p);
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[0].uid, 1);
	assert_int_equal(mb->m[1].uid, 2);
	assert_base(&mb->m[0], "1700000001.M1P1.h");
	assert_base(&mb->m[1], "1700000002.M1P1.h");
	sync_ok(mb, true);
	assert_int_equal(mb->n, 2);
	mailbox_unref(&mb);
}

/* ---- our own changes ---- */

static void
test_set_flags(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	const char *err = NULL;

	char *base = deliver(f->md, bodies[0]);
	sync_ok(mb, false);
	assert_int_equal(mailbox_keyword(mb, "$Forwarded", true), 0);
	assert_int_equal(mailbox_keyword(mb, "custom", true), 1);
	assert_int_equal(mailbox_keyword(mb, "custom", true), 1);
	assert_int_equal(mailbox_keyword(mb, "CUSTOM", false), 1);
	assert_int_equal(mailbox_keyword(mb, "nope", false), -1);
	char *kp = xasprintf("%s/dovecot-keywords", f->md), *kt = slurp(kp);
	assert_string_equal(kt, "0 $Forwarded\n1 custom\n");
	free(kt);

	uint64_t hm = mb->highestmodseq;
	char *old = cur_path(mb, 0);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_SEEN | MF_FLAGGED | MF_ANSWERED | MF_DELETED |
	    MF_DRAFT | MF_RECENT, 3, &err), 0);
	char *want = xasprintf("%s:2,DFRSTab", base);
	assert_string_equal(mb->m[0].fname, want);
	free(want);
	char *now = cur_path(mb, 0);
	assert_true(exists(now));
	assert_false(exists(old));
	assert_int_equal(mb->m[0].flags, MF_STORED);	/* \Recent is never stored */
	assert_int_equal(mb->m[0].kw, 3);
	assert_true(mb->m[0].modseq > hm);
	assert_int_equal(mb->highestmodseq, mb->m[0].modseq);
	/* no change, no rename, no MODSEQ */
	hm = mb->highestmodseq;
	assert_int_equal(mailbox_set_flags(mb, 0, MF_STORED, 3, &err), 0);
	assert_int_equal(mb->highestmodseq, hm);
	/* our own rename is no change for the next sync */
	assert_int_equal(sync_ok(mb, false), 0);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_SEEN, 0, &err), 0);
	want = xasprintf("%s:2,S", base);
	assert_string_equal(mb->m[0].fname, want);
	free(want);
	/* another process sees it */
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_int_equal(mb2->m[0].flags, MF_SEEN);
	assert_int_equal(mb2->m[0].kw, 0);
	assert_string_equal(mb2->kw[1], "custom");
	mailbox_unref(&mb2);
	/* a file gone meanwhile: 1, and the next sync drops it */
	free(now);
	now = cur_path(mb, 0);
	assert_int_equal(unlink(now), 0);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_SEEN | MF_FLAGGED, 0, &err), 1);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 0);
	free(now);
	free(old);
	free(kp);
	free(base);
	mailbox_unref(&mb);
}

/* Courier's P (passed) survives our renames, as in Dovecot. */
static void
test_set_flags_keeps_unknown(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	char *p = xasprintf("%s/cur/1700000003.M3P3.courier:2,PSZ", f->md);
	put_str(p, "x\n");
	free(p);
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->m[0].flags, MF_SEEN);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_SEEN | MF_FLAGGED, 0, &err), 0);
	assert_string_equal(mb->m[0].fname, "1700000003.M3P3.courier:2,FPSZ");
	assert_int_equal(mailbox_set_flags(mb, 0, 0, 0, &err), 0);
	assert_string_equal(mb->m[0].fname, "1700000003.M3P3.courier:2,PZ");
	mailbox_unref(&mb);
}

static void
test_keyword_limits(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);

	for (int i = 0; i < 26; i++) {
		char name[16];
		snprintf(name, sizeof(name), "kw%d", i);
		assert_int_equal(mailbox_keyword(mb, name, true), i);
	}
	assert_int_equal(mailbox_keyword(mb, "one-too-many", true), -1);
	assert_int_equal(mailbox_keyword(mb, "KW25", true), 25);
	assert_int_equal(mailbox_keyword(mb, "", true), -1);
	mailbox_unref(&mb);

	/* empty and control characters are refused when there is room too */
	char *md2 = xasprintf("%s/Other", f->root);
	mb = open_ok(md2, true);
	assert_int_equal(mailbox_keyword(mb, "", true), -1);
	assert_int_equal(mailbox_keyword(mb, "a\tb", true), -1);
	assert_int_equal(mailbox_keyword(mb, "ok", true), 0);
	/* a keyword another process added is found once created is asked */
	struct mailbox *mb2 = open_ok(md2, false);
	assert_int_equal(mailbox_keyword(mb2, "later", true), 1);
	assert_int_equal(mailbox_keyword(mb, "later", true), 1);
	mailbox_unref(&mb2);
	mailbox_unref(&mb);
	free(md2);
}

static void
test_expunge(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	const char *err = NULL;

	for (size_t i = 0; i < 3; i++)
		free(deliver(f->md, bodies[i]));
	sync_ok(mb, false);
	uint64_t hm = mb->highestmodseq;
	char *p = cur_path(mb, 0);
	assert_int_equal(mailbox_expunge(mb, 0, &err), 0);
	assert_false(exists(p));
	free(p);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[0].uid, 2);
	assert_int_equal(mb->m[1].uid, 3);
	assert_true(mb->expunge_modseq > hm);
	assert_int_equal(mb->expunge_modseq, mb->highestmodseq);
	assert_int_equal(sync_ok(mb, false), 0);
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_int_equal(mb2->n, 2);
	assert_int_equal(mb2->m[0].uid, 2);
	/* the file is already gone: still fine */
	p = cur_path(mb, 1);
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(mailbox_expunge(mb, 1, &err), 0);
	assert_int_equal(mb->n, 1);
	assert_int_equal(sync_ok(mb2, false), 1);
	assert_int_equal(mb2->n, 1);
	assert_int_equal(mb2->m[0].uid, 2);
	mailbox_unref(&mb2);
	mailbox_unref(&mb);
}

static void
test_append(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	static const char crlf[] = "From: a@example.org\r\nSubject: t\r\n\r\nline1\r\nline2\r\n";
	static const char lf[] = "From: a@example.org\nSubject: t\n\nline1\nline2\n";
	const char *const kws[] = { "$Important", "todo" };
	const char *err = NULL;
	uint32_t uid = 0;

	free(deliver(f->md, bodies[0]));
	sync_ok(mb, false);
	uint64_t hm = mb->highestmodseq;
	assert_int_equal(mailbox_append(mb, crlf, strlen(crlf), MF_SEEN | MF_FLAGGED | MF_RECENT,
	    kws, 2, 1600000000, &uid, &err), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(mb->uidnext, 3);
	long i = mailbox_find(mb, uid);
	assert_int_equal(i, 1);
	struct mbx_msg *m = &mb->m[i];
	assert_int_equal(m->size, strlen(lf));
	assert_int_equal(m->vsize, strlen(crlf));
	assert_int_equal(m->idate, 1600000000);
	assert_int_equal(m->flags, MF_SEEN | MF_FLAGGED);
	assert_int_equal(m->kw, 3);
	assert_string_equal(mb->kw[0], "$Important");
	assert_string_equal(mb->kw[1], "todo");
	assert_true(m->modseq > hm);
	assert_false(m->recent);
	/* the file: LF, its mtime the internal date, sizes and flags in its name */
	char *p = cur_path(mb, (size_t)i), *data = slurp(p);
	assert_string_equal(data, lf);
	free(data);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mtime, 1600000000);
	assert_int_equal(st.st_size, strlen(lf));
	char *sw = xasprintf(",S=%zu,W=%zu:2,FSab", strlen(lf), strlen(crlf));
	assert_non_null(strstr(m->fname, sw));
	free(sw);
	assert_int_equal(count_dir(f->md, "tmp"), 0);
	size_t len;
	data = mailbox_read(mb, (size_t)i, &len, &err);
	assert_int_equal(len, strlen(lf));
	free(data);
	/* listed, so another process gives it the same UID */
	struct uidlist ul = read_uidlist(f->md);
	assert_int_equal(ul.recs[ul.n - 1].uid, 2);
	char *b = base_of(m);
	assert_string_equal(ul.recs[ul.n - 1].name, b);
	free(b);
	uidlist_free(&ul);
	assert_int_equal(sync_ok(mb, false), 0);	/* our own append is no news */

	struct mailbox *mb2 = open_ok(f->md, false);
	i = mailbox_find(mb2, 2);
	assert_int_equal(i, 1);
	m = &mb2->m[i];
	assert_int_equal(m->flags, MF_SEEN | MF_FLAGGED);
	assert_string_equal(mb2->kw[0], "$Important");
	assert_int_equal(m->kw, 3);
	assert_int_equal(mailbox_stat(mb2, (size_t)i), 0);
	assert_int_equal(m->size, strlen(lf));
	assert_int_equal(m->vsize, strlen(crlf));
	assert_int_equal(m->idate, 1600000000);

	/* appended by the second: the first sees it after a sync */
	time_t t0 = time(NULL);
	static const char bare[] = "Subject: cr\n\na\rb\n";
	assert_int_equal(mailbox_append(mb2, bare, strlen(bare), 0, NULL, 0, -1, &uid, &err), 0);
	assert_int_equal(uid, 3);
	assert_int_equal(sync_ok(mb, false), 1);
	i = mailbox_find(mb, 3);
	assert_int_equal(i, 2);
	assert_int_equal(mailbox_stat(mb, (size_t)i), 0);
	assert_int_equal(mb->m[i].size, strlen(bare));	/* a lone CR stays */
	assert_int_equal(mb->m[i].vsize, strlen(bare) + 3);
	assert_true(mb->m[i].idate >= t0 && mb->m[i].idate <= time(NULL));
	assert_false(mb->m[i].recent);
	free(p);
	mailbox_unref(&mb2);
	mailbox_unref(&mb);
}

static void
test_copy(void **state)
{
	struct fx *f = *state;
	char *dd = xasprintf("%s/.Dst", f->md);
	struct mailbox *src = open_ok(f->md, true), *dst = open_ok(dd, true);
	const char *err = NULL;
	uint32_t uid = 0;

	/* different keyword tables */
	assert_int_equal(mailbox_keyword(dst, "zzz", true), 0);
	assert_int_equal(mailbox_keyword(src, "a0", true), 0);
	assert_int_equal(mailbox_keyword(src, "b1", true), 1);
	free(deliver(f->md, bodies[1]));
	sync_ok(src, false);
	assert_int_equal(mailbox_set_flags(src, 0, MF_SEEN | MF_ANSWERED, 1u << 1, &err), 0);
	char *sp = cur_path(src, 0);
	set_mtime(sp, 1500000000);
	src->m[0].idate = -1;	/* as if not stat-ed yet */

	assert_int_equal(mailbox_copy(src, 0, dst, &uid, &err), 0);
	assert_int_equal(uid, 1);
	assert_int_equal(dst->n, 1);
	struct mbx_msg *m = &dst->m[0];
	assert_int_equal(m->flags, MF_SEEN | MF_ANSWERED);
	assert_string_equal(dst->kw[1], "b1");
	assert_null(dst->kw[2]);	/* only the keywords the message has */
	assert_int_equal(m->kw, 1u << 1);
	assert_int_equal(m->idate, 1500000000);
	assert_int_equal(m->size, src->m[0].size);
	assert_int_equal(m->vsize, src->m[0].vsize);
	char *want = xasprintf(",S=%lld,W=%lld:2,RSb", (long long)m->size, (long long)m->vsize);
	assert_non_null(strstr(m->fname, want));
	free(want);
	/* a hard link: the same file */
	char *dp = cur_path(dst, 0);
	struct stat s1, s2;
	assert_int_equal(stat(sp, &s1), 0);
	assert_int_equal(stat(dp, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	assert_int_equal(s2.st_nlink, 2);
	/* another process sees the copy with its keyword by name */
	struct mailbox *d2 = open_ok(dd, false);
	assert_int_equal(d2->n, 1);
	assert_int_equal(d2->m[0].uid, 1);
	assert_int_equal(d2->m[0].flags, MF_SEEN | MF_ANSWERED);
	assert_int_equal(d2->m[0].kw, 1u << mailbox_keyword(d2, "b1", false));
	mailbox_unref(&d2);

	/* into the same mailbox, enough times to move the message array */
	for (uint32_t k = 0; k < 70; k++) {
		assert_int_equal(mailbox_copy(src, 0, src, &uid, &err), 0);
		assert_int_equal(uid, k + 2);
	}
	assert_int_equal(src->n, 71);
	assert_int_equal(src->m[70].flags, MF_SEEN | MF_ANSWERED);
	assert_int_equal(src->m[70].kw, 1u << 1);

	/* the source vanished */
	assert_int_equal(unlink(sp), 0);
	err = NULL;
	assert_int_equal(mailbox_copy(src, 0, dst, &uid, &err), -1);
	assert_non_null(err);
	assert_string_equal(err, "expunged");
	assert_int_equal(dst->n, 1);
	free(sp);
	free(dp);
	free(dd);
	mailbox_unref(&dst);
	mailbox_unref(&src);
}

static void
test_stat_read_total(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	/* no ,S= nor ,W= in the name: a stat and a read; mixed line ends */
	static const char a[] = "A: b\r\n\r\nx\n";	/* 10 bytes, 11 with CRLF */
	static const char b[] = "Subject: s\n\nbody\n";

	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	char *pa = xasprintf("%s/cur/1700000001.M1P1.legacyhost:2,", f->md);
	char *pb = xasprintf("%s/cur/1700000002.M2P2.estafeta,S=%zu:2,S", f->md, strlen(b));
	put_str(pa, a);
	put_str(pb, b);
	set_mtime(pa, 1500000000);
	set_mtime(pb, 1500000100);
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[0].size, -1);
	assert_int_equal(mb->m[0].vsize, -1);
	assert_int_equal(mb->m[0].idate, -1);
	assert_int_equal(mb->m[1].size, strlen(b));	/* from the name */
	assert_int_equal(mb->m[1].vsize, -1);
	assert_int_equal(mailbox_stat(mb, 0), 0);
	assert_int_equal(mb->m[0].size, 10);
	assert_int_equal(mb->m[0].vsize, 11);
	assert_int_equal(mb->m[0].idate, 1500000000);
	assert_int_equal(mailbox_total_size(mb), 11 + strlen(b) + 3);
	assert_int_equal(mb->m[1].vsize, strlen(b) + 3);
	assert_int_equal(mb->m[1].idate, 1500000100);

	size_t len;
	char *data = mailbox_read(mb, 0, &len, &err);
	assert_non_null(data);
	assert_int_equal(len, 10);
	assert_memory_equal(data, a, 10);
	free(data);
	/* gone: "expunged"; a stat that still needs the file fails */
	assert_int_equal(unlink(pa), 0);
	err = NULL;
	assert_null(mailbox_read(mb, 0, &len, &err));
	assert_string_equal(err, "expunged");
	mb->m[0].idate = -1;
	assert_int_equal(mailbox_stat(mb, 0), -1);
	free(pa);
	free(pb);
	mailbox_unref(&mb);
}

/* ---- an existing Dovecot Maildir ---- */

/* A message of exactly size bytes with vsize - size line ends. */
static char *
make_msg(long size, long vsize)
{
	char *m = xmalloc((size_t)size + 1);
	long nl = vsize - size;

	assert_true(nl >= 1 && nl <= size);
	memset(m, 'x', (size_t)size);
	for (long k = 1; k <= nl; k++)
		m[size * k / nl - 1] = '\n';
	m[size] = '\0';
	return m;
}

/* Root Maildir from data/dovecot: every message of "filenames" in its
 * folder, the uidlists and keywords as Dovecot left them. inbox_ul: which
 * INBOX uidlist (the three stages). */
static void
build_dovecot(const char *md, const char *inbox_ul)
{
	static const struct {
		const char *folder, *uidlist, *keywords;
	} folders[] = {
		{ "", NULL, "inbox-keywords" },
		{ "/.Sent", "sent-uidlist", "sent-keywords" },
		{ "/.a.b", "ab-uidlist", NULL },
		{ "/.&ANw-mlaut", "umlaut-uidlist", NULL },
	};
	const char *err = NULL;
	size_t len;

	for (size_t i = 0; i < 4; i++) {
		char *dir = xasprintf("%s%s", md, folders[i].folder);
		assert_int_equal(maildir_create(dir, &err), STORE_OK);
		const char *ul = i == 0 ? inbox_ul : folders[i].uidlist;
		char *text = tu_dovecot_vector(ul, &len), *p = xasprintf("%s/dovecot-uidlist", dir);
		put_file(p, text, len);
		free(text);
		free(p);
		if (folders[i].keywords != NULL) {
			text = tu_dovecot_vector(folders[i].keywords, &len);
			p = xasprintf("%s/dovecot-keywords", dir);
			put_file(p, text, len);
			free(text);
			free(p);
		}
		free(dir);
	}
	char *list = tu_dovecot_vector("filenames", &len), *save = NULL;
	for (char *line = strtok_r(list, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		assert_non_null(t2);
		*t1 = *t2 = '\0';
		char *folder = strcmp(line, "INBOX") == 0 ? xstrdup("") : xasprintf("/.%s", line);
		for (char *c = folder; *c != '\0'; c++)
			if (c > folder + 1 && *c == '/')
				*c = '.';
		struct md_name mn;
		md_name_parse(t2 + 1, &mn);
		long size = mn.size >= 0 ? (long)mn.size : 49;
		long vsize = mn.vsize >= 0 ? (long)mn.vsize : 54;
		char *body = make_msg(size, vsize);
		char *p = xasprintf("%s%s/%s/%s", md, folder, t1 + 1, t2 + 1);
		put_str(p, body);
		free(p);
		free(body);
		free(folder);
	}
	free(list);
}

static void
test_dovecot_adopt(void **state)
{
	struct fx *f = *state;
	static const uint32_t uids[] = { 1, 2, 3, 5, 6, 7, 8, 9 };
	static const char *const bases[] = {
		"1795705389.M360431P19519.vm,S=100,W=107",
		"1795705389.M385853P19519.vm,S=101,W=108",
		"1795705389.M407617P19519.vm,S=102,W=109",
		"1795705389.M450784P19519.vm,S=104,W=111",
		"1795705389.M468427P19519.vm,S=105,W=112",
		"1700000001.M1P1.legacyhost",
		"1700000002.M2P2.estafeta,S=49",
		"1700000003.M3P3.courier",
	};
	static const struct {
		unsigned flags;
		uint32_t kw;
	} want[] = {
		{ MF_SEEN, 1u << 0 },				/* Sa */
		{ MF_FLAGGED | MF_ANSWERED | MF_SEEN, 6 },	/* FRSbc */
		{ MF_DRAFT, (1u << 0) | (1u << 3) },		/* Dad */
		{ MF_SEEN | MF_DELETED, 1u << 4 },		/* STe */
		{ 0, 0 }, { 0, 0 }, { 0, 0 },
		{ MF_ANSWERED | MF_SEEN, 0 },			/* RS */
	};
	static const char *const kwn[] = { "$Forwarded", "$Junk", "custom1", "Custom-Two",
		"$label1" };

	build_dovecot(f->md, "inbox-uidlist");
	char *up = xasprintf("%s/dovecot-uidlist", f->md), *before = slurp(up);
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->uidvalidity, 1795705389);
	assert_int_equal(mb->uidnext, 10);
	assert_int_equal(mb->n, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(mb->m[i].uid, uids[i]);
		assert_base(&mb->m[i], bases[i]);
		assert_int_equal(mb->m[i].flags, want[i].flags);
		assert_int_equal(mb->m[i].kw, want[i].kw);
		assert_false(mb->m[i].recent);
	}
	for (int k = 0; k < 5; k++)
		assert_string_equal(mb->kw[k], kwn[k]);
	assert_null(mb->kw[5]);
	assert_int_equal(mailbox_keyword(mb, "custom-two", false), 3);
	/* sizes: the names' W, or the files for the three without one */
	assert_int_equal(mb->m[0].vsize, 107);
	assert_int_equal(mb->m[5].vsize, -1);
	assert_int_equal(mb->m[6].size, 49);
	assert_int_equal(mailbox_total_size(mb), 107 + 108 + 109 + 111 + 112 + 3 * 54);
	assert_int_equal(mb->m[5].size, 49);
	/* adopting writes nothing */
	char *after = slurp(up);
	assert_string_equal(after, before);
	free(after);

	/* a delivery is appended; Dovecot's header stays as it was */
	char *b = deliver(f->md, "Subject: new\n\nnew\n");
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->m[8].uid, 10);
	after = slurp(up);
	assert_memory_equal(after, before, strlen(before));
	char *rec = xasprintf("10 :%s\n", b);
	assert_string_equal(after + strlen(before), rec);
	free(rec);
	free(after);
	free(b);
	/* setting a keyword Dovecot defined uses its letter */
	const char *err = NULL;
	assert_int_equal(mailbox_set_flags(mb, 4, MF_SEEN, 1u << mailbox_keyword(mb, "$Junk",
	    false), &err), 0);
	assert_string_equal(mb->m[4].fname, "1795705389.M468427P19519.vm,S=105,W=112:2,Sb");
	mailbox_unref(&mb);

	/* the other folders */
	char *p = xasprintf("%s/.Sent", f->md);
	mb = open_ok(p, false);
	assert_int_equal(mb->uidvalidity, 1795705392);
	assert_int_equal(mb->n, 1);
	assert_int_equal(mb->m[0].uid, 1);
	assert_int_equal(mb->m[0].flags, MF_SEEN);
	assert_int_equal(mb->m[0].kw, 1);
	assert_string_equal(mb->kw[0], "$Forwarded");
	mailbox_unref(&mb);
	free(p);
	/* a/b: its message still in new/ but listed (N1 behind it) */
	p = xasprintf("%s/.a.b", f->md);
	mb = open_ok(p, false);
	assert_int_equal(mb->uidvalidity, 1795705391);
	assert_int_equal(mb->n, 1);
	assert_int_equal(mb->m[0].uid, 1);
	assert_int_equal(mb->uidnext, 2);
	assert_true(mb->m[0].recent);
	assert_string_equal(mb->m[0].fname, "1795705389.M708393P19519.vm,S=112,W=119");
	assert_true(mb->m[0].in_new);
	assert_int_equal(count_dir(p, "new"), 1);
	mailbox_unref(&mb);
	free(p);
	p = xasprintf("%s/.&ANw-mlaut", f->md);
	mb = open_ok(p, false);
	assert_int_equal(mb->uidvalidity, 1795705393);
	assert_int_equal(mb->m[0].uid, 1);
	assert_int_equal(mb->m[0].flags, MF_FLAGGED);
	mailbox_unref(&mb);
	free(p);
	free(before);
	free(up);
}

/* Dovecot's appends leave the header behind: N7 while UIDs 7-9 are
 * listed, and UID 4 listed though its file is gone. */
static void
test_dovecot_appended(void **state)
{
	struct fx *f = *state;

	build_dovecot(f->md, "inbox-uidlist-appended");
	struct mailbox *mb = open_ok(f->md, false);
	static const uint32_t uids[] = { 1, 2, 3, 5, 6, 7, 8, 9 };
	assert_int_equal(mb->uidvalidity, 1795705389);
	assert_int_equal(mb->n, 8);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(mb->m[i].uid, uids[i]);
	assert_int_equal(mb->uidnext, 10);
	free(deliver(f->md, "Subject: new\n\nnew\n"));
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->m[8].uid, 10);
	mailbox_unref(&mb);
	mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 9);
	assert_int_equal(mb->m[8].uid, 10);
	mailbox_unref(&mb);
}

/* The three files dropped in after Dovecot's last write get 7, 8, 9 in
 * delivery order, as Dovecot gave them. */
static void
test_dovecot_unlisted(void **state)
{
	struct fx *f = *state;

	build_dovecot(f->md, "inbox-uidlist-expunged");
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->uidvalidity, 1795705389);
	assert_int_equal(mb->n, 8);
	assert_int_equal(mb->m[4].uid, 6);
	assert_int_equal(mb->m[5].uid, 7);
	assert_base(&mb->m[5], "1700000001.M1P1.legacyhost");
	assert_int_equal(mb->m[6].uid, 8);
	assert_base(&mb->m[6], "1700000002.M2P2.estafeta,S=49");
	assert_int_equal(mb->m[7].uid, 9);
	assert_base(&mb->m[7], "1700000003.M3P3.courier");
	assert_int_equal(mb->uidnext, 10);
	struct uidlist ul = read_uidlist(f->md);
	assert_int_equal(ul.uidvalidity, 1795705389);
	assert_string_equal(ul.guid, "4236b9152d4a086b3f4c000083ecc375");
	assert_int_equal(ul.recs[ul.n - 1].uid, 9);
	uidlist_free(&ul);
	mailbox_unref(&mb);
}

/* ---- the lock ---- */

static void
test_stale_lock_broken(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	char *lp = xasprintf("%s/dovecot-uidlist.lock", f->md);

	put_str(lp, "99999\n");
	set_mtime(lp, time(NULL) - 180);
	free(deliver(f->md, bodies[0]));
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 1);
	assert_int_equal(mb->m[0].uid, 1);
	assert_false(exists(lp));
	free(lp);
	mailbox_unref(&mb);
}

static void
test_fresh_lock_waits_then_fails(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true), *mb2 = NULL;
	char *lp = xasprintf("%s/dovecot-uidlist.lock", f->md);
	const char *err = NULL;

	mailbox_set_lock_timeout_ms(200);
	put_str(lp, "1\n");
	free(deliver(f->md, bodies[0]));
	unsigned long long t0 = now_ms();
	assert_int_equal(mailbox_sync(mb, false, &err), -1);
	assert_true(now_ms() - t0 >= 150);	/* it waited */
	assert_non_null(err);
	assert_non_null(strstr(err, "locked"));
	assert_int_equal(mb->n, 0);
	assert_true(exists(lp));	/* a fresh lock is not ours to break */
	/* opening fails the same way while a message waits for its UID */
	err = NULL;
	assert_int_equal(mailbox_open(f->md, false, &mb2, &err), -1);
	assert_non_null(err);
	assert_null(mb2);
	/* once the lock is gone the next sync lists the message, although
	 * the directories look as the failed sync left them */
	assert_int_equal(unlink(lp), 0);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 1);
	assert_int_equal(mb->m[0].uid, 1);
	/* our own lock is gone after each use */
	assert_false(exists(lp));
	free(lp);
	mailbox_unref(&mb);
}

/* A failed rewrite leaves no lock behind (it would stall every sync for
 * two minutes): here dovecot-uidlist is a directory nothing replaces. */
static void
test_failed_write_unlocks(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;

	mailbox_set_lock_timeout_ms(200);
	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	char *up = xasprintf("%s/dovecot-uidlist", f->md), *keep = xasprintf("%s/x", up);
	char *lp = xasprintf("%s/dovecot-uidlist.lock", f->md);
	assert_int_equal(mkdir(up, 0700), 0);
	assert_int_equal(mkdir(keep, 0700), 0);
	struct mailbox *mb = open_ok(f->md, false);
	assert_false(exists(lp));
	free(deliver(f->md, bodies[0]));
	err = NULL;
	assert_int_equal(mailbox_sync(mb, false, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "dovecot-uidlist"));
	assert_false(exists(lp));
	assert_int_equal(mb->n, 0);
	/* repaired: listed at the next sync */
	assert_int_equal(rmdir(keep), 0);
	assert_int_equal(rmdir(up), 0);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 1);
	free(lp);
	free(keep);
	free(up);
	mailbox_unref(&mb);
}

/* ---- a lost or replaced uidlist ---- */

static void
make_three(const char *md)
{
	const char *err = NULL;

	assert_int_equal(maildir_create(md, &err), STORE_OK);
	for (int i = 1; i <= 3; i++) {
		char *p = xasprintf("%s/cur/170000000%d.M1P1.h:2,", md, i);
		put_str(p, "x\n");
		free(p);
	}
	char *p = xasprintf("%s/dovecot-uidlist", md);
	put_str(p, "3 V1000 N8\n5 :1700000001.M1P1.h\n6 :1700000002.M1P1.h\n"
	    "7 :1700000003.M1P1.h\n");
	free(p);
}

static void
test_uidlist_missing_new_uidvalidity(void **state)
{
	struct fx *f = *state;
	time_t t0 = time(NULL);

	make_three(f->md);
	struct mailbox *mb1 = open_ok(f->md, false);
	assert_int_equal(mb1->uidvalidity, 1000);
	assert_int_equal(mb1->m[0].uid, 5);
	char *up = xasprintf("%s/dovecot-uidlist", f->md);
	assert_int_equal(unlink(up), 0);
	/* a new process has no memory of the UIDs: new UIDVALIDITY, new UIDs */
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_true(mb2->uidvalidity != 1000);
	assert_true(mb2->uidvalidity >= (uint32_t)t0);
	assert_int_equal(mb2->n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(mb2->m[i].uid, i + 1);
	assert_int_equal(mb2->uidnext, 4);
	struct uidlist ul = read_uidlist(f->md);
	assert_int_equal(ul.uidvalidity, mb2->uidvalidity);
	assert_int_equal(ul.n, 3);
	uidlist_free(&ul);
	/* the old object follows the new list */
	sync_ok(mb1, true);
	assert_int_equal(mb1->uidvalidity, mb2->uidvalidity);
	assert_int_equal(mb1->n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(mb1->m[i].uid, i + 1);
		assert_string_equal(mb1->m[i].fname, mb2->m[i].fname);
	}
	/* someone resets the UIDs (a new UIDVALIDITY): both follow */
	put_str(up, "3 V2000 N4\n1 :1700000003.M1P1.h\n2 :1700000002.M1P1.h\n"
	    "3 :1700000001.M1P1.h\n");
	sync_ok(mb1, false);
	assert_int_equal(mb1->uidvalidity, 2000);
	assert_base(&mb1->m[0], "1700000003.M1P1.h");
	assert_int_equal(mb1->n, 3);
	/* a broken list is replaced, with a new UIDVALIDITY */
	put_str(up, "garbage\n");
	mailbox_unref(&mb2);
	mb2 = open_ok(f->md, false);
	assert_true(mb2->uidvalidity != 2000);
	assert_int_equal(mb2->n, 3);
	ul = read_uidlist(f->md);
	assert_int_equal(ul.version, 3);
	assert_int_equal(ul.uidvalidity, mb2->uidvalidity);
	uidlist_free(&ul);
	free(up);
	mailbox_unref(&mb2);
	mailbox_unref(&mb1);
}

/* The list vanishes under an open mailbox that then lists a new message:
 * it writes back what it knows, so every process keeps the same UIDs. */
static void
test_uidlist_lost_while_open(void **state)
{
	struct fx *f = *state;

	make_three(f->md);
	struct mailbox *mb1 = open_ok(f->md, false);
	char *up = xasprintf("%s/dovecot-uidlist", f->md);
	assert_int_equal(unlink(up), 0);
	char *b = deliver(f->md, bodies[0]);
	assert_int_equal(sync_ok(mb1, false), 1);
	assert_int_equal(mb1->uidvalidity, 1000);
	assert_int_equal(mb1->n, 4);
	assert_int_equal(mb1->m[3].uid, 8);
	struct uidlist ul = read_uidlist(f->md);
	assert_int_equal(ul.uidvalidity, 1000);
	assert_int_equal(ul.n, 4);
	assert_int_equal(ul.recs[0].uid, 5);
	assert_string_equal(ul.recs[3].name, b);
	uidlist_free(&ul);
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_int_equal(mb2->uidvalidity, 1000);
	assert_int_equal(mb2->n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(mb2->m[i].uid, mb1->m[i].uid);
		assert_string_equal(mb2->m[i].fname, mb1->m[i].fname);
	}
	free(b);
	free(up);
	mailbox_unref(&mb2);
	mailbox_unref(&mb1);
}

/* Records of expunged files are dropped once they are most of the list,
 * and only then; the list is not rewritten again at each delivery. */
static void
test_dead_records_pruned(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	enum { N = 2100, GONE = 1500 };

	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	for (int i = 0; i < N; i++) {
		char *p = xasprintf("%s/cur/%d.M%dP1.h:2,", f->md, 1700000000 + i, i);
		put_str(p, "x\n");
		free(p);
	}
	struct mailbox *mb = open_ok(f->md, false);
	assert_int_equal(mb->n, N);
	for (size_t i = 0; i < GONE; i++) {
		char *p = cur_path(mb, i);
		assert_int_equal(unlink(p), 0);
		free(p);
	}
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, N - GONE);
	struct uidlist ul = read_uidlist(f->md);
	assert_int_equal(ul.n, N);	/* still listed, as Dovecot leaves them */
	uidlist_free(&ul);
	free(deliver(f->md, bodies[0]));
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->m[mb->n - 1].uid, N + 1);
	ul = read_uidlist(f->md);
	assert_int_equal(ul.n, N - GONE + 1);
	assert_int_equal(ul.recs[0].uid, GONE + 1);
	assert_int_equal(ul.next_uid, N + 2);
	uidlist_free(&ul);
	/* the next delivery appends */
	char *up = xasprintf("%s/dovecot-uidlist", f->md), *before = slurp(up);
	char *b = deliver(f->md, bodies[1]);
	sync_ok(mb, false);
	char *after = slurp(up), *rec = xasprintf("%d :%s\n", N + 2, b);
	assert_memory_equal(after, before, strlen(before));
	assert_string_equal(after + strlen(before), rec);
	struct mailbox *mb2 = open_ok(f->md, false);
	assert_int_equal(mb2->n, N - GONE + 2);
	for (size_t i = 0; i < mb2->n; i++)
		assert_int_equal(mb2->m[i].uid, mb->m[i].uid);
	free(rec);
	free(after);
	free(before);
	free(b);
	free(up);
	mailbox_unref(&mb2);
	mailbox_unref(&mb);
}

/* ---- size ---- */

/* ---- estafeta.index ---- */

/* Closed and opened again: MODSEQs, sizes, dates and the cached texts come
 * from the index, HIGHESTMODSEQ does not go back, nothing is read again. */
static void
test_index_reopen(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	for (size_t i = 0; i < 3; i++)
		free(deliver(f->md, bodies[i]));
	struct mailbox *mb = open_ok(f->md, true);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mailbox_set_flags(mb, 1, MF_SEEN, 0, &err), 0);
	assert_int_equal(mailbox_stat(mb, 2), 0);
	mailbox_cache(mb, 0, MBX_ENVELOPE, "(env0)", 6);
	mailbox_cache(mb, 2, MBX_BODYSTRUCTURE, "(bs2)", 5);
	uint64_t ms[3], hms = mb->highestmodseq;
	int64_t idate2 = mb->m[2].idate, vsize2 = mb->m[2].vsize;
	for (size_t i = 0; i < 3; i++)
		ms[i] = mb->m[i].modseq;
	uint32_t uv = mb->uidvalidity;
	mailbox_unref(&mb);
	char *ip = xasprintf("%s/estafeta.index", f->md);
	assert_true(exists(ip));

	mb = open_ok(f->md, false);
	assert_int_equal(mb->uidvalidity, uv);
	assert_int_equal(mb->n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(mb->m[i].modseq, ms[i]);
	assert_true(mb->highestmodseq >= hms);
	assert_int_equal(mb->m[2].idate, idate2);
	assert_int_equal(mb->m[2].vsize, vsize2);
	size_t len;
	const char *t = mailbox_cached(mb, 0, MBX_ENVELOPE, &len);
	assert_non_null(t);
	assert_memory_equal(t, "(env0)", 6);
	assert_null(mailbox_cached(mb, 1, MBX_ENVELOPE, &len));
	t = mailbox_cached(mb, 2, MBX_BODYSTRUCTURE, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(t, "(bs2)", 5);

	/* A change appended to the log, then a flag flipped back: the index
	 * holds the last state, so the flag's MODSEQ is the newest one. */
	assert_int_equal(mailbox_set_flags(mb, 0, MF_FLAGGED, 0, &err), 0);
	mailbox_flush(mb);
	assert_int_equal(mailbox_set_flags(mb, 0, 0, 0, &err), 0);
	uint64_t ms0 = mb->m[0].modseq;
	assert_true(ms0 > ms[0]);
	mailbox_unref(&mb);
	mb = open_ok(f->md, false);
	assert_int_equal(mb->m[0].modseq, ms0);
	assert_int_equal(mb->m[1].modseq, ms[1]);
	mailbox_unref(&mb);
	free(ip);
}

/* What other programs did while it was closed shows as new MODSEQs. */
static void
test_index_changes_while_closed(void **state)
{
	struct fx *f = *state;
	for (size_t i = 0; i < 3; i++)
		free(deliver(f->md, bodies[i]));
	struct mailbox *mb = open_ok(f->md, true);
	uint64_t hms = mb->highestmodseq, ms2 = mb->m[2].modseq;
	char *from = cur_path(mb, 0), *gone = cur_path(mb, 1);
	char *to = xasprintf("%s/cur/%.*s:2,FS", f->md, (int)mb->m[0].base_len, mb->m[0].fname);
	mailbox_unref(&mb);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(unlink(gone), 0);
	free(deliver(f->md, "Subject: four\n\nfourth\n"));

	mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mb->m[0].flags, MF_SEEN | MF_FLAGGED);
	assert_true(mb->m[0].modseq > hms);
	assert_int_equal(mb->m[1].uid, 3);
	assert_int_equal(mb->m[1].modseq, ms2);
	assert_int_equal(mb->m[2].uid, 4);
	assert_true(mb->m[2].modseq > hms);
	assert_true(mb->expunge_modseq > hms);
	mailbox_unref(&mb);
	free(from);
	free(to);
	free(gone);
}

/* A damaged index, a torn log, one of another UIDVALIDITY: the mailbox
 * opens from its files and the index is written again whole. */
static void
test_index_damaged(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	for (size_t i = 0; i < 3; i++)
		free(deliver(f->md, bodies[i]));
	struct mailbox *mb = open_ok(f->md, true);
	mailbox_cache(mb, 1, MBX_ENVELOPE, "(e)", 3);
	uint64_t ms1 = mb->m[1].modseq;
	mailbox_unref(&mb);
	char *ip = xasprintf("%s/estafeta.index", f->md);
	size_t len;
	char *good;
	assert_int_equal(read_file(ip, 1 << 20, &good, &len), 0);

	/* a torn log entry after the snapshot: ignored, then folded away */
	char *torn = xmalloc(len + 5);
	memcpy(torn, good, len);
	memcpy(torn + len, "R\0\0\0", 5);
	put_file(ip, torn, len + 5);
	mb = open_ok(f->md, false);
	assert_int_equal(mb->m[1].modseq, ms1);
	assert_int_equal(mailbox_set_flags(mb, 1, MF_SEEN, 0, &err), 0);
	uint64_t ms1b = mb->m[1].modseq;
	mailbox_unref(&mb);
	mb = open_ok(f->md, false);
	assert_int_equal(mb->m[1].modseq, ms1b);
	assert_non_null(mailbox_cached(mb, 1, MBX_ENVELOPE, &len));
	mailbox_unref(&mb);

	/* every byte of the snapshot flipped in turn: never a crash, never a
	 * wrong record (the damaged ones are rebuilt) */
	for (size_t k = 0; k < len; k += 7) {
		char *bad = xmalloc(len);
		memcpy(bad, good, len);
		bad[k] ^= 0x5a;
		put_file(ip, bad, len);
		free(bad);
		mb = open_ok(f->md, false);
		assert_int_equal(mb->n, 3);
		for (size_t i = 0; i < 3; i++)
			assert_int_equal(mb->m[i].uid, i + 1);
		mailbox_unref(&mb);
	}
	/* garbage and an empty file */
	put_str(ip, "not an index at all");
	mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 3);
	mailbox_unref(&mb);
	char *again;
	assert_int_equal(read_file(ip, 1 << 20, &again, &len), 0);
	assert_memory_equal(again, "ESTIDX1\n", 8);
	free(again);
	put_str(ip, "");
	mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 3);
	mailbox_unref(&mb);

	/* new UIDVALIDITY (the uidlist went): the old records do not apply */
	assert_int_equal(read_file(ip, 1 << 20, &again, &len), 0);
	free(again);
	char *ul = xasprintf("%s/dovecot-uidlist", f->md);
	mb = open_ok(f->md, false);
	mailbox_cache(mb, 0, MBX_ENVELOPE, "(old)", 5);
	mailbox_unref(&mb);
	assert_int_equal(unlink(ul), 0);
	sleep(1);	/* UIDVALIDITY is the time */
	mb = open_ok(f->md, false);
	assert_null(mailbox_cached(mb, 0, MBX_ENVELOPE, &len));
	mailbox_unref(&mb);
	free(ul);
	free(ip);
	free(good);
	free(torn);
}

/* The log is folded into a new snapshot once it outgrows half of it. */
static void
test_index_log_folded(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	free(deliver(f->md, bodies[0]));
	struct mailbox *mb = open_ok(f->md, true);
	mailbox_flush(mb);
	char *ip = xasprintf("%s/estafeta.index", f->md);
	struct stat st;
	assert_int_equal(stat(ip, &st), 0);
	off_t first = st.st_size, most = 0;
	for (int k = 0; k < 2000; k++) {
		assert_int_equal(mailbox_set_flags(mb, 0, (k & 1) ? MF_SEEN : 0, 0, &err), 0);
		mailbox_flush(mb);
		assert_int_equal(stat(ip, &st), 0);
		if (st.st_size > most)
			most = st.st_size;
	}
	assert_true(most < first + 64 * 1024 + 1024);
	uint64_t ms = mb->m[0].modseq;
	mailbox_unref(&mb);
	mb = open_ok(f->md, false);
	assert_int_equal(mb->m[0].modseq, ms);
	mailbox_unref(&mb);
	free(ip);
}

static void
test_ten_thousand(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	enum { N = 10000 };
	char **names = xcalloc(N, sizeof(char *));

	assert_int_equal(maildir_create(f->md, &err), STORE_OK);
	/* microseconds of varying width: delivery order is not strcmp order */
	for (int i = 0; i < N; i++) {
		names[i] = xasprintf("%d.M%dP4242Q%d.host,S=14,W=16", 1700000000 + i / 1000,
		    (i % 1000) * 1000, i + 1);
		char *p = xasprintf("%s/new/%s", f->md, names[i]);
		put_str(p, "Subject: x\n\nb\n");
		free(p);
	}
	unsigned long long t0 = now_ms();
	struct mailbox *mb = open_ok(f->md, false);
	unsigned long long t1 = now_ms();
	assert_int_equal(mb->n, N);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(mb->m[i].uid, i + 1);
		assert_base(&mb->m[i], names[i]);
	}
	assert_int_equal(count_dir(f->md, "new"), N);
	unsigned long long t2 = now_ms();
	struct mailbox *mb2 = open_ok(f->md, false);
	unsigned long long t3 = now_ms();
	assert_int_equal(mb2->n, N);
	assert_int_equal(mb2->m[N - 1].uid, N);
	assert_int_equal(sync_ok(mb2, false), 0);
	unsigned long long t4 = now_ms();
	assert_int_equal(mailbox_total_size(mb2), (uint64_t)N * 16);
	for (size_t i = 0; i < N; i += 100)
		assert_int_equal(mailbox_set_flags(mb, i, MF_SEEN, 0, &err), 0);
	unsigned long long t5 = now_ms();
	assert_int_equal(sync_ok(mb2, false), 1);
	unsigned long long t6 = now_ms();
	for (size_t i = 0; i < N; i++)
		assert_int_equal(mb2->m[i].flags, i % 100 == 0 ? MF_SEEN : 0);
	print_message("10000 messages: first open %llu ms, reopen %llu ms, "
	    "sync %llu ms, 100 flag changes %llu ms, their sync %llu ms\n",
	    t1 - t0, t3 - t2, t4 - t3, t5 - t4, t6 - t5);
	for (int i = 0; i < N; i++)
		free(names[i]);
	free(names);
	mailbox_unref(&mb2);
	mailbox_unref(&mb);
}

/* Appends whose sync the caller does later are hidden until it says so. */
static void
test_sync_later_hidden(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	const char *err = NULL;
	uint32_t u1, u2, u3;
	assert_int_equal(mailbox_append(mb, "Subject: 1\n\nx\n", 14, 0, NULL, 0, -1, &u1, &err), 0);
	assert_int_equal(mb->hidden_from, 0);
	mb->sync_later = true;
	assert_int_equal(mailbox_append(mb, "Subject: 2\n\nx\n", 14, 0, NULL, 0, -1, &u2, &err), 0);
	assert_int_equal(mailbox_append(mb, "Subject: 3\n\nx\n", 14, 0, NULL, 0, -1, &u3, &err), 0);
	mb->sync_later = false;
	assert_int_equal(mb->hidden_from, u2);
	assert_true(mailbox_visible(mb, u1));
	assert_false(mailbox_visible(mb, u2));
	assert_false(mailbox_visible(mb, u3));
	/* the files and the uidlist hold them already (one syncfs makes them durable) */
	assert_int_equal(mb->n, 3);
	char *ul = xasprintf("%s/dovecot-uidlist", f->md);
	char *text = slurp(ul);
	assert_non_null(text);
	char want[32];
	snprintf(want, sizeof(want), "\n%u :", u3);
	assert_non_null(strstr(text, want));
	free(text);
	free(ul);
	mb->hidden_from = 0;
	assert_true(mailbox_visible(mb, u3));
	mailbox_unref(&mb);
	mb = open_ok(f->md, false);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mb->hidden_from, 0);
	mailbox_unref(&mb);
}

/* The header alone, through its empty line; kept after the first read. */
static void
test_read_header(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	const char *err = NULL;
	uint32_t u;
	static const char *const msgs[] = {
		"Subject: a\nFrom: x@y\n\nbody\n\nmore\n",
		"Subject: crlf\r\n\r\nbody\r\n",
		"Subject: no body\n",
	};
	static const char *const want[] = { "Subject: a\nFrom: x@y\n\n", "Subject: crlf\n\n",
		"Subject: no body\n" };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(mailbox_append(mb, msgs[i], strlen(msgs[i]), 0, NULL, 0, -1, &u, &err),
		    0);
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		char *h = mailbox_read_header(mb, i, &len, &err);
		assert_non_null(h);
		assert_int_equal(len, strlen(want[i]));
		assert_string_equal(h, want[i]);
		free(h);
	}
	/* from memory now: the file is not read again */
	char *p = cur_path(mb, 0);
	assert_int_equal(unlink(p), 0);
	free(p);
	size_t len;
	char *h = mailbox_read_header(mb, 0, &len, &err);
	assert_non_null(h);
	assert_string_equal(h, want[0]);
	free(h);
	assert_null(mailbox_read(mb, 0, &len, &err));
	mailbox_unref(&mb);
}

/* ---- watched (inotify events instead of rescans) ---- */

struct watch {
	int fd, wd_cur, wd_new;
	struct mailbox *mb;
	unsigned own, foreign, arrivals, drains;
};

static void
watch_drain(void *arg)
{
	struct watch *w = arg;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	w->drains++;
	while ((n = read(w->fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (w->mb == NULL || ev->len == 0)
				continue;
			bool in_new = ev->wd == w->wd_new;
			bool arrived = (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0;
			if (!mailbox_event(w->mb, in_new, arrived, ev->name))
				w->own++;
			else if (in_new && arrived)
				w->arrivals++;
			else
				w->foreign++;
		}
}

static struct mailbox *
open_watched(const char *md, struct watch *w)
{
	char p[PATH_MAX];
	uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR;
	memset(w, 0, sizeof(*w));
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(w->fd >= 0);
	snprintf(p, sizeof(p), "%s/cur", md);
	w->wd_cur = inotify_add_watch(w->fd, p, mask);
	snprintf(p, sizeof(p), "%s/new", md);
	w->wd_new = inotify_add_watch(w->fd, p, mask);
	assert_true(w->wd_cur >= 0 && w->wd_new >= 0);
	const char *err = NULL;
	struct mailbox *mb = NULL;
	assert_int_equal(mailbox_open_watched(md, false, watch_drain, w, &mb, &err), 0);
	w->mb = mb;
	return mb;
}

static void
test_watched_own_and_foreign(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f->md, true);
	mailbox_unref(&mb);
	free(deliver(f->md, bodies[0]));
	free(deliver(f->md, bodies[1]));
	struct watch w;
	mb = open_watched(f->md, &w);
	assert_int_equal(mb->n, 2);	/* in new/, not moved */

	/* Our own changes, all in the same second: each event is ours, and
	 * the folder is not read again. */
	const char *err = NULL;
	uint32_t uid;
	assert_int_equal(mailbox_append(mb, "Subject: a\n\nx\n", 14, MF_SEEN, NULL, 0, -1, &uid,
	    &err), 0);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_FLAGGED, 0, &err), 0);
	assert_int_equal(mailbox_expunge(mb, 1, &err), 0);
	assert_int_equal(sync_ok(mb, false), 0);
	assert_int_equal(w.foreign, 0);
	assert_int_equal(w.own, 4);	/* append, new/ -> cur/ (2), unlink in new/ */
	assert_int_equal(count_dir(f->md, "new"), 0);
	assert_int_equal(mb->n, 2);

	/* Another program renames a file right after (same second, same
	 * mtime tick as ours): the event is not ours, so cur/ is read. */
	uint64_t hm = mb->highestmodseq;
	char *from = cur_path(mb, 1), *b = base_of(&mb->m[1]);
	char *to = xasprintf("%s/cur/%s:2,RS", f->md, b);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(w.foreign, 2);
	assert_int_equal(mb->m[1].flags, MF_ANSWERED | MF_SEEN);
	assert_true(mb->highestmodseq > hm);
	/* ... and afterwards our own changes are known again without a scan */
	assert_int_equal(mailbox_set_flags(mb, 1, MF_SEEN, 0, &err), 0);
	assert_int_equal(sync_ok(mb, false), 0);
	assert_int_equal(w.foreign, 2);

	/* A delivery lands in new/ and is taken from its event alone. */
	free(deliver(f->md, bodies[2]));
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(w.foreign, 2);
	assert_int_equal(w.arrivals, 1);
	assert_int_equal(mb->n, 3);
	assert_true(mb->m[2].recent);
	assert_true(mb->m[2].in_new);
	size_t len;
	char *data = mailbox_read(mb, 2, &len, &err);
	assert_non_null(data);
	assert_string_equal(data, bodies[2]);
	free(data);

	/* A file removed behind our back */
	free(from);
	from = cur_path(mb, 0);
	assert_int_equal(unlink(from), 0);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->n, 2);

	/* Lost events: read cur/ again. */
	free(to);
	to = xasprintf("%s/cur/%s:2,F", f->md, b);
	free(from);
	from = cur_path(mb, 0);
	assert_int_equal(rename(from, to), 0);
	char tmp[8192];
	while (read(w.fd, tmp, sizeof(tmp)) > 0)	/* the events are gone */
		;
	mailbox_event(mb, false, false, NULL);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->m[0].flags, MF_FLAGGED);

	/* Unwatched: back to the stamps, which see the next change. */
	mailbox_unwatch(mb);
	free(from);
	from = cur_path(mb, 0);
	free(to);
	to = xasprintf("%s/cur/%s:2,D", f->md, b);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(sync_ok(mb, false), 1);
	assert_int_equal(mb->m[0].flags, MF_DRAFT);
	free(from);
	free(to);
	free(b);
	mailbox_unref(&mb);
	close(w.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_deliveries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uidlist_written_and_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_flag_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_with_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_base_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_flags_keeps_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyword_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stat_read_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dovecot_adopt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dovecot_appended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dovecot_unlisted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_lock_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_lock_waits_then_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_unlocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uidlist_missing_new_uidvalidity, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_uidlist_lost_while_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_records_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ten_thousand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_changes_while_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_log_folded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watched_own_and_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_later_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_header, setup, teardown),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
