/* Unit tests for an mbox file behind the mailbox API (store/mailbox_mbox):
 * UIDs and flags kept in the file as Dovecot and mutt read them, deliveries
 * seen, appends, expunges and flag changes written back in place, an
 * interrupted rewrite undone. */
#include "tu.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "store/mailbox.h"
#include "store/maildir.h"
#include "store/mbox.h"

struct fx {
	char *root;
	char *path;	/* the mbox */
	char *spec;	/* "mbox:PATH" */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->root = tu_tmpdir();
	f->path = xasprintf("%s/user", f->root);
	f->spec = xasprintf("mbox:%s", f->path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	tu_rmtree(f->root);
	free(f->root);
	free(f->path);
	free(f->spec);
	free(f);
	return 0;
}

static void
deliver(const struct fx *f, const char *msg)
{
	const char *err = NULL;
	if (mbox_deliver(f->path, "a@example.org", time(NULL), NULL, 0, msg, strlen(msg), 5,
	    &err) != STORE_OK)
		fail_msg("mbox_deliver: %s", err);
}

static char *
slurp(const char *path)
{
	char *d;
	size_t l;
	if (read_file(path, 1 << 24, &d, &l) != 0)
		return NULL;
	return d;
}

static struct mailbox *
open_ok(const struct fx *f)
{
	struct mailbox *mb = NULL;
	const char *err = NULL;
	if (mailbox_open(f->spec, false, &mb, &err) != 0)
		fail_msg("mailbox_open: %s", err);
	return mb;
}

static void
assert_text(struct mailbox *mb, size_t i, const char *want)
{
	size_t len;
	const char *err = NULL;
	char *t = mailbox_read(mb, i, &len, &err);
	if (t == NULL)
		fail_msg("mailbox_read: %s", err);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(t, want, len);
	free(t);
}

static const char *const msgs[] = {
	"From: a@example.org\nSubject: one\n\nfirst\nFrom the start\n",
	"From: b@example.org\nSubject: two\n\nsecond\n>From quoted\n",
	"From: c@example.org\nSubject: three\n\nthird\n",
};

static void
test_missing_is_empty(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb = open_ok(f);
	assert_int_equal(mb->n, 0);
	assert_true(mb->uidvalidity != 0);
	assert_int_equal(mb->uidnext, 1);
	mailbox_unref(&mb);
	struct stat st;
	assert_int_equal(stat(f->path, &st), -1);	/* reading made no file */
}

static void
test_deliveries_get_uids_in_file(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	for (int i = 0; i < 3; i++)
		deliver(f, msgs[i]);
	struct mailbox *mb = open_ok(f);
	assert_int_equal(mb->n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(mb->m[i].uid, i + 1);
		assert_true(mb->m[i].recent);
		assert_text(mb, i, msgs[i]);
		assert_int_equal(mb->m[i].size, strlen(msgs[i]));
	}
	uint32_t uv = mb->uidvalidity;
	/* written back: X-IMAPbase, X-UID, Status O */
	char *text = slurp(f->path);
	assert_non_null(strstr(text, "X-IMAPbase: "));
	assert_non_null(strstr(text, "X-UID: 3\n"));
	assert_non_null(strstr(text, "Status: O\n"));
	assert_non_null(strstr(text, "\n>From the start\n"));	/* still quoted on disk */
	free(text);
	/* a delivery while open: what is known still reads before a sync */
	deliver(f, "Subject: four\n\nfourth\n");
	assert_text(mb, 2, msgs[2]);
	assert_int_equal(mailbox_sync(mb, true, &err), 1);
	assert_int_equal(mb->n, 4);
	assert_int_equal(mb->m[3].uid, 4);
	assert_text(mb, 3, "Subject: four\n\nfourth\n");
	mailbox_unref(&mb);

	mb = open_ok(f);
	assert_int_equal(mb->uidvalidity, uv);
	assert_int_equal(mb->n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(mb->m[i].uid, i + 1);
		assert_false(mb->m[i].recent);
	}
	assert_int_equal(mb->uidnext, 5);
	mailbox_unref(&mb);
}

static void
test_flags_expunge_append(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	for (int i = 0; i < 3; i++)
		deliver(f, msgs[i]);
	struct mailbox *mb = open_ok(f);
	uint64_t hm = mb->highestmodseq;
	assert_int_equal(mailbox_keyword(mb, "todo", true), 0);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_SEEN | MF_FLAGGED, 1, &err), 0);
	assert_true(mb->m[0].modseq > hm);
	assert_int_equal(mailbox_expunge(mb, 1, &err), 0);
	assert_int_equal(mb->n, 2);
	assert_true(mailbox_pending(mb) > 0);
	mailbox_flush(mb);
	assert_int_equal(mailbox_pending(mb), 0);
	char *text = slurp(f->path);
	assert_null(strstr(text, "Subject: two"));
	assert_non_null(strstr(text, "Status: RO\nX-Status: F\nX-Keywords: todo\n"));
	free(text);
	/* the rest still reads the same */
	assert_text(mb, 0, msgs[0]);
	assert_text(mb, 1, msgs[2]);
	uint32_t uid = 0;
	static const char crlf[] = "Subject: five\r\n\r\nFrom here\r\nend\r\n";
	assert_int_equal(mailbox_append(mb, crlf, strlen(crlf), MF_SEEN, NULL, 0, 1700000000,
	    &uid, &err), 0);
	assert_int_equal(uid, 4);
	assert_text(mb, 2, "Subject: five\n\nFrom here\nend\n");
	mailbox_unref(&mb);

	mb = open_ok(f);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mb->m[0].uid, 1);
	assert_int_equal(mb->m[0].flags, MF_SEEN | MF_FLAGGED);
	assert_int_equal(mb->m[0].kw, 1);
	assert_string_equal(mb->kw[0], "todo");
	assert_int_equal(mb->m[1].uid, 3);
	assert_int_equal(mb->m[2].uid, 4);
	assert_int_equal(mb->m[2].flags, MF_SEEN);
	assert_int_equal(mb->m[2].idate, 1700000000);
	assert_text(mb, 2, "Subject: five\n\nFrom here\nend\n");
	/* the highest UID expunged: never given again */
	assert_int_equal(mailbox_expunge(mb, 2, &err), 0);
	mailbox_unref(&mb);
	deliver(f, "Subject: six\n\nsix\n");
	mb = open_ok(f);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mb->m[2].uid, 5);
	mailbox_unref(&mb);
}

/* Another program (mutt) changes Status: the flags change, MODSEQ grows. */
static void
test_external_change(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	deliver(f, msgs[0]);
	struct mailbox *mb = open_ok(f);
	uint64_t hm = mb->highestmodseq;
	char *text = slurp(f->path);
	char *st = strstr(text, "Status: O\n");
	assert_non_null(st);
	struct buf b = { 0 };
	buf_add(&b, text, (size_t)(st - text));
	buf_adds(&b, "Status: RO\n");
	buf_adds(&b, st + 10);
	int fd = open(f->path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, b.p, b.len), 0);
	close(fd);
	assert_int_equal(mailbox_sync(mb, true, &err), 1);
	assert_int_equal(mb->m[0].flags, MF_SEEN);
	assert_true(mb->m[0].modseq > hm);
	mailbox_unref(&mb);
	buf_free(&b);
	free(text);
}

/* An mbox Dovecot wrote keeps its UIDs and UIDVALIDITY. */
static void
test_dovecot_written(void **state)
{
	struct fx *f = *state;
	static const char dc[] =
	    "From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n"
	    "X-IMAPbase: 1700000000 0000000042 $Junk\n"
	    "X-UID: 40\n"
	    "Status: RO\n"
	    "Subject: a\n\nbody a\n\n"
	    "From x@example.org Thu Nov 26 10:01:00 2026\n"
	    "Subject: b\n"
	    "X-UID: 42\n"
	    "Status: O\n"
	    "X-Status: A\n"
	    "X-Keywords: $Junk\n\nbody b\n\n";
	int fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write_all(fd, dc, strlen(dc)), 0);
	close(fd);
	struct mailbox *mb = open_ok(f);
	assert_int_equal(mb->uidvalidity, 1700000000);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[0].uid, 40);
	assert_int_equal(mb->m[0].flags, MF_SEEN);
	assert_int_equal(mb->m[1].uid, 42);
	assert_int_equal(mb->m[1].flags, MF_ANSWERED);
	assert_int_equal(mb->uidnext, 43);
	assert_text(mb, 0, "Subject: a\n\nbody a\n");
	assert_text(mb, 1, "Subject: b\n\nbody b\n");
	mailbox_unref(&mb);
	/* nothing to write (all seen before, all with UIDs): the file is as
	 * it was */
	char *t = slurp(f->path);
	assert_string_equal(t, dc);
	free(t);
}

/* Dovecot leaves "From " lines in bodies unquoted and counts on
 * Content-Length (a file a real Dovecot wrote): one message stays one,
 * through a rewrite too. */
static void
test_dovecot_content_length(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	size_t len;
	char *text = tu_dovecot_vector("mbox-inbox-clen", &len);
	int fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write_all(fd, text, len), 0);
	close(fd);
	free(text);
	struct mailbox *mb = open_ok(f);
	assert_int_equal(mb->n, 2);
	size_t n;
	char *t = mailbox_read(mb, 0, &n, &err);
	assert_non_null(strstr(t, "\n\nFrom here on\n"));
	free(t);
	assert_int_equal(mailbox_set_flags(mb, 1, MF_SEEN, 0, &err), 0);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_FLAGGED, 0, &err), 0);
	assert_int_equal(mailbox_commit(mb, &err), 0);
	mailbox_unref(&mb);
	mb = open_ok(f);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[0].flags, MF_FLAGGED);
	assert_int_equal(mb->m[1].flags, MF_SEEN);
	t = mailbox_read(mb, 0, &n, &err);
	assert_non_null(strstr(t, "\n\nFrom here on\n"));
	free(t);
	mailbox_unref(&mb);
}

/* A rewrite that was cut short (the journal is still there) is undone at
 * the next open; bytes a delivery appended after the crash are kept. */
static void
test_journal_recovery(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 3; i++)
		deliver(f, msgs[i]);
	struct mailbox *mb = open_ok(f);
	mailbox_unref(&mb);
	char *good = slurp(f->path);
	size_t len = strlen(good), start = len / 3;
	/* journal: the old bytes from start on; the file: half a new text */
	char *jp = xasprintf("%s/.user.estafeta-journal", f->root);
	int fd = open(jp, O_WRONLY | O_CREAT, 0600);
	uint64_t h[3] = { start, len, len - 40 };
	assert_int_equal(write_all(fd, "ESTMBJ1\n", 8), 0);
	assert_int_equal(write_all(fd, h, sizeof(h)), 0);
	assert_int_equal(write_all(fd, good + start, len - start), 0);
	close(fd);
	static const char late[] = "From late@example.org Thu Nov 26 11:00:00 2026\nSubject: late\n\nlate\n\n";
	fd = open(f->path, O_WRONLY);
	assert_int_equal(pwrite(fd, "GARBAGE GARBAGE", 15, (off_t)start), 15);
	assert_int_equal(pwrite(fd, late, strlen(late), (off_t)len), (ssize_t)strlen(late));
	close(fd);
	mb = open_ok(f);
	assert_int_equal(mb->n, 4);
	assert_text(mb, 0, msgs[0]);
	assert_text(mb, 1, msgs[1]);
	assert_text(mb, 2, msgs[2]);
	assert_text(mb, 3, "Subject: late\n\nlate\n");
	mailbox_unref(&mb);
	struct stat st;
	assert_int_equal(stat(jp, &st), -1);
	free(jp);
	free(good);
}

/* Copies between a Maildir and the mbox carry flags and bytes. */
static void
test_copy_between(void **state)
{
	struct fx *f = *state;
	const char *err = NULL;
	deliver(f, msgs[0]);
	char *md = xasprintf("%s/Maildir", f->root);
	struct mailbox *dst = NULL, *mb = open_ok(f);
	assert_int_equal(mailbox_open(md, true, &dst, &err), 0);
	assert_int_equal(mailbox_set_flags(mb, 0, MF_FLAGGED, 0, &err), 0);
	uint32_t uid = 0;
	assert_int_equal(mailbox_copy(mb, 0, dst, &uid, &err), 0);
	assert_int_equal(uid, 1);
	assert_int_equal(dst->m[0].flags, MF_FLAGGED);
	assert_text(dst, 0, msgs[0]);
	assert_int_equal(mailbox_copy(dst, 0, mb, &uid, &err), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(mb->n, 2);
	assert_int_equal(mb->m[1].flags, MF_FLAGGED);
	assert_text(mb, 1, msgs[0]);
	mailbox_unref(&mb);
	mailbox_unref(&dst);
	free(md);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliveries_get_uids_in_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_expunge_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dovecot_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dovecot_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_between, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
