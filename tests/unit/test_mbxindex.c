/* Unit tests for store/mbxindex: the estafeta.index format, byte by byte. */
#include "tu.h"

#include "lib/buf.h"
#include "store/mbxindex.h"

static struct mbxi_rec
rec(uint32_t uid, const char *base, const char *env, const char *bs)
{
	struct mbxi_rec r = { .uid = uid, .flags = 0x08, .kw = 5, .modseq = 100 + uid,
		.size = 10 * uid, .vsize = 11 * uid, .idate = 1700000000 + uid, .base = base,
		.base_len = (uint16_t)strlen(base), .env = env, .bs = bs };
	r.env_len = env ? (uint32_t)strlen(env) : 0;
	r.bs_len = bs ? (uint32_t)strlen(bs) : 0;
	return r;
}

static void
snapshot(struct buf *b)
{
	struct mbxi_rec a = rec(1, "1.M1P1.h", "(env)", NULL),
	    c = rec(3, "3.M3P1.h", NULL, "(\"text\" \"plain\")"), e = rec(7, "7.M7P1.h", "", "");
	mbxi_snap_begin(b, 1234, 8, 500, 90, 3);
	mbxi_put_rec(b, &a);
	mbxi_put_rec(b, &c);
	mbxi_put_rec(b, &e);
	mbxi_snap_end(b, 0);
}

static void
test_roundtrip(void **state)
{
	(void)state;
	struct buf b = { 0 };
	snapshot(&b);
	assert_memory_equal(b.p, "ESTIDX1\n", 8);
	/* header 40, records 52 + names and texts, hash 8 */
	assert_int_equal(b.len, 40 + 3 * 52 + 3 * 8 + 5 + 16 + 8);
	struct mbxi x;
	const char *err = NULL;
	assert_int_equal(mbxi_parse(b.p, b.len, 10, &x, &err), 0);
	assert_int_equal(x.uidvalidity, 1234);
	assert_int_equal(x.uidnext, 8);
	assert_int_equal(x.highestmodseq, 500);
	assert_int_equal(x.expunge_modseq, 90);
	assert_int_equal(x.n, 3);
	assert_int_equal(x.snap_len, b.len);
	assert_int_equal(x.good_len, b.len);
	const struct mbxi_rec *r = mbxi_find(&x, 3);
	assert_non_null(r);
	assert_int_equal(r->flags, 0x08);
	assert_int_equal(r->kw, 5);
	assert_int_equal(r->modseq, 103);
	assert_int_equal(r->size, 30);
	assert_int_equal(r->vsize, 33);
	assert_int_equal(r->idate, 1700000003);
	assert_memory_equal(r->base, "3.M3P1.h", 8);
	assert_null(r->env);
	assert_int_equal(r->bs_len, 16);
	assert_memory_equal(r->bs, "(\"text\" \"plain\")", 16);
	r = mbxi_find(&x, 7);
	assert_non_null(r->env);	/* cached and empty is not "not cached" */
	assert_int_equal(r->env_len, 0);
	assert_null(mbxi_find(&x, 2));
	assert_null(mbxi_find(&x, 8));
	mbxi_free(&x);
	buf_free(&b);
}

static void
test_log(void **state)
{
	(void)state;
	struct buf b = { 0 };
	snapshot(&b);
	size_t snap = b.len;
	struct mbxi_rec n = rec(9, "9.M9P1.h", "(nine)", NULL), c = rec(3, "3.M3P1.h", NULL, NULL);
	c.flags = 0x01;
	c.modseq = 600;
	mbxi_log_rec(&b, &n);		/* added */
	mbxi_log_rec(&b, &c);		/* replaced */
	mbxi_log_expunge(&b, 1, 601);	/* gone */
	mbxi_log_header(&b, 1234, 10, 602, 601);
	struct mbxi x;
	const char *err = NULL;
	assert_int_equal(mbxi_parse(b.p, b.len, 10, &x, &err), 0);
	assert_int_equal(x.nlog, 4);
	assert_int_equal(x.snap_len, snap);
	assert_int_equal(x.good_len, b.len);
	assert_int_equal(x.n, 3);
	assert_null(mbxi_find(&x, 1));
	assert_int_equal(mbxi_find(&x, 3)->flags, 0x01);
	assert_int_equal(mbxi_find(&x, 3)->modseq, 600);
	assert_null(mbxi_find(&x, 3)->bs);
	assert_memory_equal(mbxi_find(&x, 9)->env, "(nine)", 6);
	assert_int_equal(x.uidnext, 10);
	assert_int_equal(x.highestmodseq, 602);
	assert_int_equal(x.expunge_modseq, 601);
	mbxi_free(&x);

	/* cut anywhere inside the log: the entries before the cut stay */
	size_t ends[5] = { snap }, ne = 1;
	for (size_t cut = snap; cut <= b.len; cut++) {
		assert_int_equal(mbxi_parse(b.p, cut, 10, &x, &err), 0);
		assert_true(x.good_len <= cut);
		if (x.good_len == cut && (ne == 0 || ends[ne - 1] != cut))
			ends[ne++] = cut;
		mbxi_free(&x);
	}
	assert_int_equal(ne, 5);
	assert_int_equal(ends[4], b.len);
	/* a flipped byte in an entry ends the log there */
	size_t at = ends[2] + 10;
	b.p[at] ^= 1;
	assert_int_equal(mbxi_parse(b.p, b.len, 10, &x, &err), 0);
	assert_int_equal(x.good_len, ends[2]);
	assert_int_equal(x.nlog, 2);
	assert_non_null(mbxi_find(&x, 1));
	mbxi_free(&x);
	buf_free(&b);
}

static void
test_bad_snapshot(void **state)
{
	(void)state;
	struct buf b = { 0 };
	snapshot(&b);
	struct mbxi x;
	const char *err = NULL;
	/* any flipped byte of the snapshot, any cut: refused */
	for (size_t i = 0; i < b.len; i++) {
		b.p[i] ^= 0x20;
		err = NULL;
		assert_int_equal(mbxi_parse(b.p, b.len, 10, &x, &err), -1);
		assert_non_null(err);
		b.p[i] ^= 0x20;
	}
	for (size_t cut = 0; cut < b.len; cut++)
		assert_int_equal(mbxi_parse(b.p, cut, 10, &x, &err), -1);
	/* more records than allowed */
	assert_int_equal(mbxi_parse(b.p, b.len, 2, &x, &err), -1);
	/* UIDs out of order, a name with '/', UIDVALIDITY 0 */
	struct buf c = { 0 };
	struct mbxi_rec r1 = rec(5, "a", NULL, NULL), r2 = rec(4, "b", NULL, NULL),
	    r3 = rec(6, "../x", NULL, NULL);
	mbxi_snap_begin(&c, 1, 7, 1, 0, 2);
	mbxi_put_rec(&c, &r1);
	mbxi_put_rec(&c, &r2);
	mbxi_snap_end(&c, 0);
	assert_int_equal(mbxi_parse(c.p, c.len, 10, &x, &err), -1);
	buf_reset(&c);
	mbxi_snap_begin(&c, 1, 7, 1, 0, 1);
	mbxi_put_rec(&c, &r3);
	mbxi_snap_end(&c, 0);
	assert_int_equal(mbxi_parse(c.p, c.len, 10, &x, &err), -1);
	buf_reset(&c);
	mbxi_snap_begin(&c, 0, 7, 1, 0, 0);
	mbxi_snap_end(&c, 0);
	assert_int_equal(mbxi_parse(c.p, c.len, 10, &x, &err), -1);
	buf_free(&c);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_bad_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
