/* Unit tests for src/store/mdfiles: real files from Dovecot 2.3 (tests/unit/
 * data/dovecot/, see its README) and hand-written edge cases. */
#include "tu.h"

#include <libgen.h>
#include <limits.h>
#include <stdbool.h>

#include "lib/util.h"
#include "store/mdfiles.h"

#define NEL(a)	(sizeof(a) / sizeof((a)[0]))

static void
check_str(const char *what, size_t idx, const char *got, const char *want)
{
	if (got == NULL || want == NULL || strcmp(got, want) != 0) {
		print_error("%s case %zu:\n got: [%s]\nwant: [%s]\n", what, idx,
		    got != NULL ? got : "(null)", want != NULL ? want : "(null)");
		fail();
	}
}

/* A copy in a buffer of exactly len bytes, so that ASan sees any over-read. */
static char *
exact(const char *s, size_t len)
{
	char *p = xmalloc(len);

	memcpy(p, s, len);
	return p;
}

/* The vectors: $MDFILES_DATA, or beside this source file, or beside the
 * binary (build/tests/ -> tests/unit/data/dovecot). */

/* ---- dovecot-uidlist ---- */

/* "v3 V1 N2 G<guid> X<extra> T0\n" then "uid|name|ext\n" per record. */
static char *
dump_uidlist(const struct uidlist *u)
{
	char *out = xasprintf("v%u V%u N%u G%s X%s T%d\n", u->version, u->uidvalidity,
	    u->next_uid, u->guid, u->hdr_extra != NULL ? u->hdr_extra : "", u->truncated);

	for (size_t i = 0; i < u->n; i++) {
		char *n = xasprintf("%s%u|%s|%s\n", out, u->recs[i].uid, u->recs[i].name,
		    u->recs[i].ext != NULL ? u->recs[i].ext : "");
		free(out);
		out = n;
	}
	return out;
}

static void
parse_vector(const char *name, struct uidlist *u, char **text_r, size_t *len_r)
{
	const char *err = NULL;
	unsigned line = 0;

	*text_r = tu_dovecot_vector(name, len_r);
	if (uidlist_parse(*text_r, *len_r, 100000, u, &err, &line) < 0)
		fail_msg("%s: line %u: %s", name, line, err);
}

static void
test_uidlist_vectors(void **state)
{
	static const struct {
		const char *file;
		uint32_t uidvalidity, next_uid;
		const char *guid;
		size_t n;
		bool same_text;	/* formats back byte for byte */
	} v[] = {
		/* an expunged UID 4 stays listed until the next rewrite */
		{ "inbox-uidlist-expunged", 1795705389, 7, "4236b9152d4a086b3f4c000083ecc375",
		  6, true },
		/* 7-9 appended under "N7": the header is not rewritten */
		{ "inbox-uidlist-appended", 1795705389, 10, "4236b9152d4a086b3f4c000083ecc375",
		  9, false },
		{ "inbox-uidlist", 1795705389, 10, "4236b9152d4a086b3f4c000083ecc375", 8, true },
		{ "sent-uidlist", 1795705392, 2, "d8ffcb1f2d4a086b3f4c000083ecc375", 1, false },
		{ "ab-uidlist", 1795705391, 2, "10239a1e2d4a086b3f4c000083ecc375", 1, false },
		{ "umlaut-uidlist", 1795705393, 2, "98907f202d4a086b3f4c000083ecc375", 1, false },
	};

	(void)state;
	for (size_t i = 0; i < NEL(v); i++) {
		struct uidlist u;
		char *text, *out;
		size_t len, olen;

		parse_vector(v[i].file, &u, &text, &len);
		assert_int_equal(u.version, 3);
		assert_int_equal(u.uidvalidity, v[i].uidvalidity);
		assert_int_equal(u.next_uid, v[i].next_uid);
		assert_string_equal(u.guid, v[i].guid);
		assert_null(u.hdr_extra);
		assert_false(u.truncated);
		assert_int_equal(u.n, v[i].n);
		for (size_t j = 0; j < u.n; j++) {
			assert_non_null(strstr(text, u.recs[j].name));
			assert_ptr_equal(uidlist_find(&u, u.recs[j].uid), &u.recs[j]);
		}
		out = uidlist_format(&u, &olen);
		if (v[i].same_text) {
			assert_int_equal(olen, len);
			assert_memory_equal(out, text, len);
		}
		free(out);
		free(text);
		uidlist_free(&u);
	}
}

/* The rewritten INBOX uidlist: W/S fields, the expunged UID gone. */
static void
test_uidlist_vector_fields(void **state)
{
	struct uidlist u;
	const struct uidlist_rec *r;
	const char *val;
	char *text, *d;
	size_t len, vlen;

	(void)state;
	parse_vector("inbox-uidlist", &u, &text, &len);
	d = dump_uidlist(&u);
	check_str("dump", 0, d,
	    "v3 V1795705389 N10 G4236b9152d4a086b3f4c000083ecc375 X T0\n"
	    "1|1795705389.M360431P19519.vm,S=100,W=107|\n"
	    "2|1795705389.M385853P19519.vm,S=101,W=108|\n"
	    "3|1795705389.M407617P19519.vm,S=102,W=109|\n"
	    "5|1795705389.M450784P19519.vm,S=104,W=111|\n"
	    "6|1795705389.M468427P19519.vm,S=105,W=112|\n"
	    "7|1700000001.M1P1.legacyhost|W54 S49\n"
	    "8|1700000002.M2P2.estafeta,S=49|W54\n"
	    "9|1700000003.M3P3.courier|W54 S49\n");
	free(d);
	assert_null(uidlist_find(&u, 4));
	assert_null(uidlist_find(&u, 0));
	assert_null(uidlist_find(&u, 10));
	r = uidlist_find(&u, 7);
	assert_int_equal(uidlist_rec_ext(r, 'W', &val, &vlen), 0);
	assert_int_equal(vlen, 2);
	assert_memory_equal(val, "54", 2);
	assert_int_equal(uidlist_rec_ext(r, 'S', &val, &vlen), 0);
	assert_int_equal(vlen, 2);
	assert_memory_equal(val, "49", 2);
	assert_int_equal(uidlist_rec_ext(uidlist_find(&u, 8), 'S', &val, &vlen), -1);
	assert_int_equal(uidlist_rec_ext(uidlist_find(&u, 1), 'W', &val, &vlen), -1);
	free(text);
	uidlist_free(&u);
}

/* Every prefix of a real file, in a buffer of its exact size: the records of
 * its complete lines, as a reader racing Dovecot's append sees them. */
static void
test_uidlist_prefixes(void **state)
{
	static const char *const files[] = { "inbox-uidlist", "inbox-uidlist-appended" };

	(void)state;
	for (size_t f = 0; f < NEL(files); f++) {
		struct uidlist whole;
		char *text;
		size_t len, hdr_end;

		parse_vector(files[f], &whole, &text, &len);
		hdr_end = (size_t)((char *)memchr(text, '\n', len) - text) + 1;
		for (size_t k = 0; k <= len; k++) {
			char *p = exact(text, k);
			struct uidlist u;
			const char *err = NULL;
			unsigned line = 0, lines = 0;
			int ret = uidlist_parse(p, k, 100, &u, &err, &line);

			for (size_t j = 0; j < k; j++)
				lines += p[j] == '\n';
			if (k < hdr_end) {
				assert_int_equal(ret, -1);
				assert_int_equal(line, 1);
				assert_string_equal(err, k == 0 ? "empty file" :
				    "no complete header line");
			} else {
				assert_int_equal(ret, 0);
				assert_int_equal(u.n, lines - 1);
				for (size_t j = 0; j < u.n; j++) {
					assert_int_equal(u.recs[j].uid, whole.recs[j].uid);
					assert_string_equal(u.recs[j].name, whole.recs[j].name);
				}
				assert_true(u.n == 0 || u.next_uid > u.recs[u.n - 1].uid);
				uidlist_free(&u);
			}
			free(p);
		}
		free(text);
		uidlist_free(&whole);
	}
}

#define G32 "0123456789abcdef0123456789ABCDEF"

static const struct {
	const char *in;
	const char *dump;
} uidlist_ok[] = {
	{ "3 V1 N1\n", "v3 V1 N1 G X T0\n" },
	/* unknown header fields kept, in their order; field order is free */
	{ "3 V5 N9 G" G32 " Xfoo Y\n", "v3 V5 N9 G" G32 " XXfoo Y T0\n" },
	{ "3 Xfoo N9  V5   Pbar\n1 :a\n", "v3 V5 N9 G XXfoo Pbar T0\n1|a|\n" },
	{ "3 V5 V6 N1 N2\n", "v3 V6 N2 G X T0\n" },
	/* next_uid: above the last UID whatever the header says */
	{ "3 V1 N2\n5 :a\n", "v3 V1 N6 G X T0\n5|a|\n" },
	{ "3 V1 N100\n5 :a\n", "v3 V1 N100 G X T0\n5|a|\n" },
	{ "3 V4294967295 N4294967295\n4294967294 :a\n",
	  "v3 V4294967295 N4294967295 G X T0\n4294967294|a|\n" },
	{ "3 V1 N1\n007 :a\n", "v3 V1 N8 G X T0\n7|a|\n" },
	/* extension fields: kept one space apart; keys other than A-Z dropped */
	{ "3 V1 N1\n1 W12 S10 :a\n", "v3 V1 N2 G X T0\n1|a|W12 S10\n" },
	{ "3 V1 N1\n1  W1   w2 3x S  Gabc  :a\n", "v3 V1 N2 G X T0\n1|a|W1 S Gabc\n" },
	{ "3 V1 N1\n1 w1 :a\n", "v3 V1 N2 G X T0\n1|a|\n" },
	{ "3 V1 N1\n1 W1/2:x :a\n", "v3 V1 N2 G X T0\n1|a|W1/2:x\n" },
	/* names: spaces kept, info dropped, later record of a name wins */
	{ "3 V1 N1\n1 :a b \n", "v3 V1 N2 G X T0\n1|a b |\n" },
	{ "3 V1 N1\n1 : a\n", "v3 V1 N2 G X T0\n1| a|\n" },
	{ "3 V1 N1\n1 :a,S=5:2,FS\n2 :b:2,\n", "v3 V1 N3 G X T0\n1|a,S=5|\n2|b|\n" },
	{ "3 V1 N1\n1 :a\n2 :b\n3 :a:2,S\n4 :c\n5 :b\n",
	  "v3 V1 N6 G X T0\n3|a|\n4|c|\n5|b|\n" },
	{ "3 V1 N1\n1 :\xc3\xa9t\xc3\xa9\x01\n", "v3 V1 N2 G X T0\n1|\xc3\xa9t\xc3\xa9\x01|\n" },
	/* CRLF line ends */
	{ "3 V1 N5\r\n1 :a\r\n2 W3 :b\r\n", "v3 V1 N5 G X T0\n1|a|\n2|b|W3\n" },
	/* an unterminated last line is an append in progress */
	{ "3 V1 N5\n1 :a\n2 :b", "v3 V1 N5 G X T0\n1|a|\n" },
	{ "3 V1 N5\n1 :a\nrubbish", "v3 V1 N5 G X T0\n1|a|\n" },
	{ "3 V1 N5\n1 :a\n\r", "v3 V1 N5 G X T0\n1|a|\n" },
	/* version 1: no ':', the name may carry its info */
	{ "1 1234 10\n3 name1\n5  name2:2,S\n", "v1 V1234 N10 G X T0\n3|name1|\n5|name2|\n" },
	{ "1  1234   10 whatever\n", "v1 V1234 N10 G X T0\n" },
};

static void
test_uidlist_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < NEL(uidlist_ok); i++) {
		size_t len = strlen(uidlist_ok[i].in);
		char *p = exact(uidlist_ok[i].in, len), *d;
		const char *err = NULL;
		unsigned line = 0;
		struct uidlist u;

		if (uidlist_parse(p, len, 100, &u, &err, &line) < 0) {
			print_error("case %zu: line %u: %s\n", i, line, err);
			fail();
		}
		d = dump_uidlist(&u);
		check_str("uidlist_ok", i, d, uidlist_ok[i].dump);
		free(d);
		uidlist_free(&u);
		free(p);
	}
}

static const struct {
	const char *in;
	size_t len;		/* 0: strlen */
	unsigned line;
	const char *err;
} uidlist_err[] = {
	{ "", 0, 1, "empty file" },
	{ "3 V1 N1", 0, 1, "no complete header line" },
	{ "\n", 0, 1, "invalid version number" },
	{ "3\n", 0, 1, "invalid version number" },
	{ "31 V1 N1\n", 0, 1, "invalid version number" },
	{ "x V1 N1\n", 0, 1, "invalid version number" },
	{ " 3 V1 N1\n", 0, 1, "invalid version number" },
	{ "2 V1 N1\n", 0, 1, "unsupported version" },
	{ "2 1 1\n", 0, 1, "unsupported version" },
	{ "4 V1 N1\n", 0, 1, "unsupported version" },
	{ "0 V1 N1\n", 0, 1, "unsupported version" },
	{ "3 N5\n", 0, 1, "broken header" },
	{ "3 V5\n", 0, 1, "broken header" },
	{ "3 \n", 0, 1, "broken header" },
	{ "3 V0 N5\n", 0, 1, "broken header" },
	{ "3 V1 N0\n", 0, 1, "broken header" },
	{ "3 V12x N5\n", 0, 1, "broken header" },
	{ "3 V N5\n", 0, 1, "broken header" },
	{ "3 V-1 N5\n", 0, 1, "broken header" },
	{ "3 V4294967296 N5\n", 0, 1, "broken header" },
	{ "3 V1 N1 Gxyz\n", 0, 1, "invalid mailbox GUID" },
	{ "3 V1 N1 G\n", 0, 1, "invalid mailbox GUID" },
	{ "3 V1 N1 G0123456789abcdef0123456789abcdeg\n", 0, 1, "invalid mailbox GUID" },
	{ "3 V1 N1 G0123456789abcdef0123456789abcdef0\n", 0, 1, "invalid mailbox GUID" },
	{ "1 5\n", 0, 1, "broken header" },
	{ "1 5 x\n", 0, 1, "broken header" },
	{ "1 0 5\n", 0, 1, "broken header" },
	{ "3 V1 N1\r\r\n", 0, 1, "CR inside a line" },
	{ "3 V1 N1\n0 :a\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\nx :a\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\n :a\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\n1:a\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\n1\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\n\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\n-1 :a\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\n4294967295 :a\n", 0, 2, "invalid UID" },
	{ "3 V1 N1\n99999999999 :a\n", 0, 2, "invalid UID" },
	/* out of order */
	{ "3 V1 N1\n2 :a\n1 :b\n", 0, 3, "UIDs not ascending" },
	{ "3 V1 N1\n2 :a\n2 :b\n", 0, 3, "UIDs not ascending" },
	{ "3 V1 N9\n1 :a\n5 :b\n3 :c\n", 0, 4, "UIDs not ascending" },
	/* version 1 only: UIDs must be below the header's next UID */
	{ "1 1 5\n4 a\n5 b\n", 0, 3, "UID at or above the header's next UID" },
	{ "3 V1 N1\n1 a\n", 0, 2, "missing ':' before the file name" },
	{ "3 V1 N1\n1 W5\n", 0, 2, "missing ':' before the file name" },
	{ "3 V1 N1\n1 W5:a\n", 0, 2, "missing ':' before the file name" },
	{ "3 V1 N1\n1 \n", 0, 2, "missing ':' before the file name" },
	{ "3 V1 N1\n1 :\n", 0, 2, "empty file name" },
	{ "3 V1 N1\n1 ::2,S\n", 0, 2, "empty file name" },
	{ "1 1 5\n3 \n", 0, 2, "empty file name" },
	{ "1 1234 10\n3 :x\n", 0, 2, "empty file name" },
	{ "3 V1 N1\n1 :a/b\n", 0, 2, "file name with '/'" },
	{ "3 V1 N1\n1 :a:2,/\n", 0, 2, "file name with '/'" },
	{ "1 1 5\n3 ../x\n", 0, 2, "file name with '/'" },
	{ "3 V1 N1\n1 :a\rb\n", 0, 2, "CR inside a line" },
	{ "3 V1 N1\n1 :a\r\r\n", 0, 2, "CR inside a line" },
	{ "3 V1 N1\n1 :a\0b\n", 15, 2, "NUL byte" },
	{ "3 V1\0 N1\n", 9, 1, "NUL byte" },
	{ "3 V1 N1\n1 :a\n2 :b\0", 18, 3, "NUL byte" },
};

static void
test_uidlist_err(void **state)
{
	(void)state;
	for (size_t i = 0; i < NEL(uidlist_err); i++) {
		size_t len = uidlist_err[i].len ? uidlist_err[i].len : strlen(uidlist_err[i].in);
		char *p = exact(uidlist_err[i].in, len);
		const char *err = NULL;
		unsigned line = 0;
		struct uidlist u;

		memset(&u, 0xa5, sizeof(u));
		if (uidlist_parse(p, len, 100, &u, &err, &line) == 0) {
			print_error("case %zu: parsed\n", i);
			fail();
		}
		check_str("uidlist_err", i, err, uidlist_err[i].err);
		if (line != uidlist_err[i].line) {
			print_error("case %zu: line %u, want %u\n", i, line, uidlist_err[i].line);
			fail();
		}
		/* freed and zeroed: another free is harmless */
		assert_null(u.recs);
		assert_null(u.hdr_extra);
		uidlist_free(&u);
		free(p);
	}
	/* error outputs are optional */
	assert_int_equal(uidlist_parse("x", 1, 1, &(struct uidlist){ 0 }, NULL, NULL), -1);
}

static void
test_uidlist_bounds(void **state)
{
	const size_t n = 100000;
	char *big = xmalloc(n * 64 + 64), *line;
	size_t off, len;
	const char *err;
	unsigned ln;
	struct uidlist u;

	(void)state;
	/* max_recs bounds the records, not the lines */
	assert_int_equal(uidlist_parse("3 V1 N1\n1 :a\n2 :b\n3 :c\n", 23, 3, &u, &err, &ln), 0);
	assert_int_equal(u.n, 3);
	uidlist_free(&u);
	assert_int_equal(uidlist_parse("3 V1 N1\n1 :a\n2 :b\n3 :c\n", 23, 2, &u, &err, &ln), -1);
	assert_string_equal(err, "too many records");
	assert_int_equal(ln, 4);
	assert_int_equal(uidlist_parse("3 V1 N1\n", 8, 0, &u, &err, &ln), 0);
	uidlist_free(&u);

	off = (size_t)sprintf(big, "3 V1 N1 G%s\n", G32);
	for (size_t i = 1; i <= n; i++)
		off += (size_t)sprintf(big + off, "%zu W%zu :%zu.M%zuP1.host,S=%zu\n", i * 3, i,
		    i, i, i);
	assert_int_equal(uidlist_parse(big, off, n, &u, &err, &ln), 0);
	assert_int_equal(u.n, n);
	assert_int_equal(u.next_uid, n * 3 + 1);
	for (size_t i = 1; i <= n; i += 997)
		assert_int_equal(uidlist_find(&u, (uint32_t)(i * 3))->uid, i * 3);
	assert_null(uidlist_find(&u, 3 * 500 + 1));
	uidlist_free(&u);
	assert_int_equal(uidlist_parse(big, off, 1000, &u, &err, &ln), -1);
	assert_string_equal(err, "too many records");
	assert_int_equal(ln, 1002);

	/* 4095 bytes before the LF still fit Dovecot's 4 KiB buffer; one more
	 * and reading stops there, the records before it kept. */
	line = big;
	off = (size_t)sprintf(line, "3 V1 N1\n1 :a\n2 ");
	len = off + 4095 - 2;
	memset(line + off, 'W', len - off);
	memcpy(line + len - 3, " :b\n3 :c\n", 10);
	len = strlen(line);
	assert_int_equal(uidlist_parse(line, len, 10, &u, &err, &ln), 0);
	assert_false(u.truncated);
	assert_int_equal(u.n, 3);
	uidlist_free(&u);
	memmove(line + 15, line + 14, len - 14 + 1);
	len++;
	assert_int_equal(uidlist_parse(line, len, 10, &u, &err, &ln), 0);
	assert_true(u.truncated);
	assert_int_equal(u.n, 1);
	assert_int_equal(u.next_uid, 2);
	uidlist_free(&u);
	/* a header that does not fit is no header */
	memset(big, 'X', 5000);
	memcpy(big, "3 V1 N1 ", 8);
	big[5000] = '\n';
	assert_int_equal(uidlist_parse(big, 5001, 10, &u, &err, &ln), -1);
	assert_string_equal(err, "header line too long");

	/* names are file names: at most 255 bytes */
	off = (size_t)sprintf(big, "3 V1 N1\n1 :");
	memset(big + off, 'n', 255);
	memcpy(big + off + 255, "\n", 2);
	assert_int_equal(uidlist_parse(big, strlen(big), 10, &u, &err, &ln), 0);
	assert_int_equal(strlen(u.recs[0].name), 255);
	uidlist_free(&u);
	memcpy(big + off + 255, "n\n", 3);
	assert_int_equal(uidlist_parse(big, strlen(big), 10, &u, &err, &ln), -1);
	assert_string_equal(err, "file name longer than 255 bytes");
	/* ... counted without the info */
	memcpy(big + off + 255, ":2,S\n", 6);
	assert_int_equal(uidlist_parse(big, strlen(big), 10, &u, &err, &ln), 0);
	uidlist_free(&u);
	free(big);
}

static void
test_uidlist_build(void **state)
{
	struct uidlist u, back;
	const char *err, *val;
	size_t len, vlen;
	unsigned ln;
	char *out;

	(void)state;
	memset(&u, 0, sizeof(u));
	u.uidvalidity = 1234567890;
	u.next_uid = 1;
	assert_int_equal(uidlist_append(&u, 1, "1.M1P1.h,S=5", NULL), 0);
	assert_int_equal(u.next_uid, 2);
	assert_int_equal(uidlist_append(&u, 5, "5.M5P5.h", "W10 S9"), 0);
	assert_int_equal(u.next_uid, 6);
	/* the uid must grow; names and fields must read back as written */
	assert_int_equal(uidlist_append(&u, 5, "x", NULL), -1);
	assert_int_equal(uidlist_append(&u, 3, "x", NULL), -1);
	assert_int_equal(uidlist_append(&u, 0, "x", NULL), -1);
	assert_int_equal(uidlist_append(&u, UINT32_MAX, "x", NULL), -1);
	assert_int_equal(uidlist_append(&u, 9, "", NULL), -1);
	assert_int_equal(uidlist_append(&u, 9, "a/b", NULL), -1);
	assert_int_equal(uidlist_append(&u, 9, "a:2,S", NULL), -1);
	assert_int_equal(uidlist_append(&u, 9, "a\nb", NULL), -1);
	assert_int_equal(uidlist_append(&u, 9, "a\r", NULL), -1);
	assert_int_equal(uidlist_append(&u, 9, "a", ""), -1);
	assert_int_equal(uidlist_append(&u, 9, "a", "w1"), -1);
	assert_int_equal(uidlist_append(&u, 9, "a", "W1  S2"), -1);
	assert_int_equal(uidlist_append(&u, 9, "a", " W1"), -1);
	assert_int_equal(uidlist_append(&u, 9, "a", "W1 "), -1);
	assert_int_equal(uidlist_append(&u, 9, "a", "W1 :"), -1);
	assert_int_equal(uidlist_append(&u, 9, "a", "W1\n"), -1);
	assert_int_equal(u.n, 2);
	assert_int_equal(uidlist_append(&u, 9, "a b", "G W1 Px:y"), 0);
	out = uidlist_format(&u, &len);
	assert_string_equal(out, "3 V1234567890 N10\n1 :1.M1P1.h,S=5\n5 W10 S9 :5.M5P5.h\n"
	    "9 G W1 Px:y :a b\n");
	assert_int_equal(len, strlen(out));
	free(out);
	assert_int_equal(uidlist_rec_ext(&u.recs[2], 'G', &val, &vlen), 0);
	assert_int_equal(vlen, 0);
	assert_int_equal(uidlist_rec_ext(&u.recs[2], 'P', &val, &vlen), 0);
	assert_int_equal(vlen, 3);
	assert_memory_equal(val, "x:y", 3);
	assert_int_equal(uidlist_rec_ext(&u.recs[2], 'X', &val, &vlen), -1);

	memcpy(u.guid, G32, 33);
	u.hdr_extra = xstrdup("Xkeep Z");
	u.next_uid = 100;
	out = uidlist_format(&u, &len);
	assert_string_equal(out, "3 V1234567890 N100 G" G32 " Xkeep Z\n1 :1.M1P1.h,S=5\n"
	    "5 W10 S9 :5.M5P5.h\n9 G W1 Px:y :a b\n");
	assert_int_equal(uidlist_parse(out, len, 10, &back, &err, &ln), 0);
	assert_int_equal(back.next_uid, 100);
	assert_string_equal(back.hdr_extra, "Xkeep Z");
	assert_string_equal(back.guid, G32);
	assert_int_equal(back.n, 3);
	assert_string_equal(back.recs[2].ext, "G W1 Px:y");
	free(out);
	uidlist_free(&back);
	uidlist_free(&u);
	uidlist_free(&u);
	uidlist_free(NULL);

	/* version 1 is written as 3 */
	assert_int_equal(uidlist_parse("1 7 9\n3 a:2,S\n", 14, 10, &u, &err, &ln), 0);
	out = uidlist_format(&u, &len);
	assert_string_equal(out, "3 V7 N9\n3 :a\n");
	free(out);
	uidlist_free(&u);
}

/* ---- Maildir file names ---- */

#define ALLF	(MDF_DRAFT | MDF_FLAGGED | MDF_PASSED | MDF_REPLIED | MDF_SEEN | MDF_TRASHED)
#define KW(c)	(1u << ((c) - 'a'))

static const struct {
	const char *name;
	size_t base_len, info_off;
	unsigned flags;
	uint32_t keywords;
	bool has_info;
	int64_t size, vsize;
} names[] = {
	/* as Dovecot named them (data/dovecot/filenames) */
	{ "1795705389.M360431P19519.vm,S=100,W=107:2,Sa", 39, 39, MDF_SEEN, KW('a'), true,
	  100, 107 },
	{ "1795705389.M385853P19519.vm,S=101,W=108:2,FRSbc", 39, 39,
	  MDF_FLAGGED | MDF_REPLIED | MDF_SEEN, KW('b') | KW('c'), true, 101, 108 },
	{ "1795705389.M407617P19519.vm,S=102,W=109:2,Dad", 39, 39, MDF_DRAFT,
	  KW('a') | KW('d'), true, 102, 109 },
	{ "1795705389.M450784P19519.vm,S=104,W=111:2,STe", 39, 39, MDF_SEEN | MDF_TRASHED,
	  KW('e'), true, 104, 111 },
	{ "1795705389.M468427P19519.vm,S=105,W=112:2,", 39, 39, 0, 0, true, 105, 112 },
	{ "1795705389.M708393P19519.vm,S=112,W=119", 39, 39, 0, 0, false, 112, 119 },
	{ "1700000002.M2P2.estafeta,S=49:2,", 29, 29, 0, 0, true, 49, -1 },
	{ "1700000003.M3P3.courier:2,RS", 23, 23, MDF_REPLIED | MDF_SEEN, 0, true, -1, -1 },
	{ "1700000001.M1P1.legacyhost", 26, 26, 0, 0, false, -1, -1 },
	/* all flags and keywords; P is the Maildir "passed" */
	{ "x:2,DFPRSTabcdefghijklmnopqrstuvwxyz", 1, 1, ALLF, 0x3ffffff, true, -1, -1 },
	{ "x:2,zP", 1, 1, MDF_PASSED, KW('z'), true, -1, -1 },
	/* unknown flags and what follows a ',' are ignored */
	{ "x:2,1SX!", 1, 1, MDF_SEEN, 0, true, -1, -1 },
	{ "x:2,S,T", 1, 1, MDF_SEEN, 0, true, -1, -1 },
	{ "x:2,,S", 1, 1, 0, 0, true, -1, -1 },
	/* info without ":2," */
	{ "x:1,S", 1, 1, 0, 0, false, -1, -1 },
	{ "x:2S", 1, 1, 0, 0, false, -1, -1 },
	{ "x:2", 1, 1, 0, 0, false, -1, -1 },
	{ "x:", 1, 1, 0, 0, false, -1, -1 },
	{ "x;2,S", 5, 5, 0, 0, false, -1, -1 },
	/* ':' elsewhere: the base ends at the first, the info starts at the last */
	{ "a:b:2,S", 1, 3, MDF_SEEN, 0, true, -1, -1 },
	{ "a:2,S:x", 1, 5, 0, 0, false, -1, -1 },
	{ ":2,S", 0, 0, MDF_SEEN, 0, true, -1, -1 },
	{ "", 0, 0, 0, 0, false, -1, -1 },
	/* sizes: the first ,S= / ,W= of the base, digits up to ',' or the base end */
	{ "b,S=0,W=0", 9, 9, 0, 0, false, 0, 0 },
	{ "b,W=7,S=5:2,S", 9, 9, MDF_SEEN, 0, true, 5, 7 },
	{ "b,S=", 4, 4, 0, 0, false, -1, -1 },
	{ "b,S=,W=3", 8, 8, 0, 0, false, -1, 3 },
	{ "b,S=12x,W=3", 11, 11, 0, 0, false, -1, 3 },
	{ "b,S=x,S=2", 9, 9, 0, 0, false, -1, -1 },
	{ "b,S=1,S=2", 9, 9, 0, 0, false, 1, -1 },
	{ "b,S=-1", 6, 6, 0, 0, false, -1, -1 },
	{ "b,S=+1", 6, 6, 0, 0, false, -1, -1 },
	{ "b,S= 1", 6, 6, 0, 0, false, -1, -1 },
	{ "b,S=9223372036854775807", 23, 23, 0, 0, false, INT64_MAX, -1 },
	{ "b,S=9223372036854775808", 23, 23, 0, 0, false, -1, -1 },
	{ "b,S=99999999999999999999999", 27, 27, 0, 0, false, -1, -1 },
	{ "b,S=000123", 10, 10, 0, 0, false, 123, -1 },
	{ "b,s=5,w=6", 9, 9, 0, 0, false, -1, -1 },
	{ "bS=5", 4, 4, 0, 0, false, -1, -1 },
	{ "b:2,S,S=5", 1, 1, MDF_SEEN, 0, true, -1, -1 },
	{ "b,S=5:x,W=6", 5, 5, 0, 0, false, 5, -1 },
	{ "b,S=5,", 6, 6, 0, 0, false, 5, -1 },
	{ ",S=5", 4, 4, 0, 0, false, 5, -1 },
};

static void
test_md_name_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < NEL(names); i++) {
		struct md_name m;
		char *p = xstrdup(names[i].name);

		memset(&m, 0xa5, sizeof(m));
		md_name_parse(p, &m);
		if (m.base_len != names[i].base_len || m.info_off != names[i].info_off ||
		    m.flags != names[i].flags || m.keywords != names[i].keywords ||
		    m.has_info != names[i].has_info || m.size != names[i].size ||
		    m.vsize != names[i].vsize) {
			print_error("case %zu [%s]: base %zu info %zu flags %#x kw %#x has %d "
			    "size %lld vsize %lld\n", i, p, m.base_len, m.info_off, m.flags,
			    m.keywords, m.has_info, (long long)m.size, (long long)m.vsize);
			fail();
		}
		free(p);
	}
}

/* Every file name Dovecot wrote: its base is in the folder's uidlist, its
 * flags and keyword letters are those Dovecot's IMAP showed. */
static void
test_md_name_vectors(void **state)
{
	static const struct {
		const char *uid_name;
		unsigned flags;
		const char *keywords;	/* names, ' ' between */
	} want[] = {
		{ "1795705389.M360431P19519.vm", MDF_SEEN, "$Forwarded" },
		{ "1795705389.M385853P19519.vm", MDF_FLAGGED | MDF_REPLIED | MDF_SEEN,
		  "$Junk custom1" },
		{ "1795705389.M407617P19519.vm", MDF_DRAFT, "$Forwarded Custom-Two" },
		{ "1795705389.M450784P19519.vm", MDF_SEEN | MDF_TRASHED, "$label1" },
		{ "1795705389.M468427P19519.vm", 0, "" },
		{ "legacyhost", 0, "" },
		{ "estafeta", 0, "" },
		{ "courier", MDF_REPLIED | MDF_SEEN, "" },
	};
	struct uidlist u;
	struct md_keywords k;
	char *text, *kwtext, *fn, *save = NULL;
	size_t len, kwlen, fnlen, seen = 0;

	(void)state;
	parse_vector("inbox-uidlist", &u, &text, &len);
	kwtext = tu_dovecot_vector("inbox-keywords", &kwlen);
	assert_int_equal(md_keywords_parse(kwtext, kwlen, &k), 0);
	fn = tu_dovecot_vector("filenames", &fnlen);
	fn = xrealloc(fn, fnlen + 1);
	fn[fnlen] = '\0';
	for (char *l = strtok_r(fn, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char *folder = l, *sub = strchr(folder, '\t') + 1, *name = strchr(sub, '\t') + 1;
		char kws[256] = "";
		struct md_name m;
		const struct uidlist_rec *r = NULL;

		sub[-1] = name[-1] = '\0';
		if (strcmp(folder, "INBOX") != 0)
			continue;
		md_name_parse(name, &m);
		for (size_t i = 0; i < u.n; i++)
			if (strlen(u.recs[i].name) == m.base_len &&
			    memcmp(u.recs[i].name, name, m.base_len) == 0)
				r = &u.recs[i];
		assert_non_null(r);
		for (int i = 0; i < 26; i++)
			if (m.keywords & (1u << i)) {
				assert_non_null(k.names[i]);
				snprintf(kws + strlen(kws), sizeof(kws) - strlen(kws), "%s%s",
				    kws[0] != '\0' ? " " : "", k.names[i]);
			}
		for (size_t i = 0; i < NEL(want); i++) {
			if (strstr(name, want[i].uid_name) == NULL)
				continue;
			assert_int_equal(m.flags, want[i].flags);
			check_str("keywords", i, kws, want[i].keywords);
			seen++;
		}
		/* sizes: from the name, or the uidlist's W field */
		if (m.vsize < 0) {
			const char *v;
			size_t vl;
			assert_int_equal(uidlist_rec_ext(r, 'W', &v, &vl), 0);
		}
	}
	assert_int_equal(seen, NEL(want));
	md_keywords_free(&k);
	free(fn);
	free(kwtext);
	free(text);
	uidlist_free(&u);
}

static const struct {
	const char *name;
	unsigned flags;
	uint32_t keywords;
	const char *out;	/* NULL: -1 */
} formats[] = {
	{ "abc", MDF_SEEN, 0, "abc:2,S" },
	{ "abc", 0, 0, "abc:2," },
	{ "abc,S=5,W=6", ALLF, KW('a') | KW('c') | KW('z'), "abc,S=5,W=6:2,DFPRSTacz" },
	{ "abc", MDF_TRASHED | MDF_DRAFT, KW('b'), "abc:2,DTb" },
	/* the old info is replaced... */
	{ "abc:2,S", MDF_FLAGGED, 0, "abc:2,F" },
	{ "abc:2,FRSab", 0, KW('c'), "abc:2,c" },
	{ "abc:1,foo", MDF_SEEN, 0, "abc:2,S" },
	{ "abc:", MDF_SEEN, 0, "abc:2,S" },
	{ "abc:2", MDF_SEEN, 0, "abc:2,S" },
	/* ...but the flags we do not know and what follows a ',' stay */
	{ "abc:2,SXa", MDF_SEEN, KW('b'), "abc:2,SXb" },
	{ "abc:2,1S!", MDF_FLAGGED, 0, "abc:2,!1F" },
	{ "abc:2,S,extra", 0, 0, "abc:2,,extra" },
	{ "abc:2,S,x,y", MDF_DRAFT, KW('a'), "abc:2,Da,x,y" },
	{ "abc:2,\xc3\xa9S", MDF_SEEN, 0, "abc:2,S\xc3\xa9" },
	/* ':' elsewhere: the info is the part after the last one */
	{ "a:b:2,S", MDF_FLAGGED, 0, "a:b:2,F" },
	{ "a:2,S:x", MDF_SEEN, 0, "a:2,S:2,S" },
	{ "", 0, 0, NULL },
	{ ":2,S", 0, 0, NULL },
	{ ":", 0, 0, NULL },
	{ "a/b", 0, 0, NULL },
	{ "ab:2,/", 0, 0, NULL },
};

static void
test_md_name_format(void **state)
{
	char out[64];

	(void)state;
	for (size_t i = 0; i < NEL(formats); i++) {
		size_t len = strlen(formats[i].name);
		char *p = exact(formats[i].name, len);
		int n = md_name_format(p, len, formats[i].flags, formats[i].keywords, out,
		    sizeof(out));

		if (formats[i].out == NULL) {
			if (n != -1) {
				print_error("case %zu: %d [%s]\n", i, n, out);
				fail();
			}
		} else {
			if (n < 0)
				check_str("format", i, "(-1)", formats[i].out);
			check_str("format", i, out, formats[i].out);
			assert_int_equal(n, strlen(out));
		}
		free(p);
	}
	/* a NUL inside the given length */
	assert_int_equal(md_name_format("a\0b", 3, 0, 0, out, sizeof(out)), -1);
	/* only len bytes are read */
	assert_int_equal(md_name_format("abcdef", 3, MDF_SEEN, 0, out, sizeof(out)), 7);
	assert_string_equal(out, "abc:2,S");
	/* exactly fitting, one short */
	assert_int_equal(md_name_format("abc", 3, MDF_SEEN, KW('q'), out, 10), 8);
	assert_string_equal(out, "abc:2,Sq");
	assert_int_equal(md_name_format("abc", 3, MDF_SEEN, KW('q'), out, 9), 8);
	assert_int_equal(md_name_format("abc", 3, MDF_SEEN, KW('q'), out, 8), -1);
	assert_int_equal(md_name_format("abc", 3, 0, 0, out, 6), -1);
	assert_int_equal(md_name_format("abc", 3, 0, 0, out, 7), 6);
	assert_int_equal(md_name_format("abc", 3, 0, 0, out, 0), -1);
	/* flags outside the enum and keywords above z are ignored */
	assert_int_equal(md_name_format("a", 1, 1u << 9, 1u << 30, out, sizeof(out)), 4);
	assert_string_equal(out, "a:2,");

	/* every flag set and a spread of keywords read back as written */
	for (unsigned f = 0; f <= ALLF; f++) {
		for (uint32_t kw = 0; kw < (1u << 26); kw = kw * 7 + 1 + f) {
			struct md_name m, m0;
			char buf[80];

			assert_true(md_name_format("1.M2P3.h,S=9,W=10:2,X", 21, f, kw, buf,
			    sizeof(buf)) > 0);
			md_name_parse(buf, &m);
			md_name_parse("1.M2P3.h,S=9,W=10:2,X", &m0);
			assert_int_equal(m.flags, f);
			assert_int_equal(m.keywords, kw);
			assert_true(m.has_info);
			assert_int_equal(m.base_len, m0.base_len);
			assert_int_equal(m.size, 9);
			assert_int_equal(m.vsize, 10);
			assert_non_null(strchr(buf, 'X'));
		}
	}
}

/* ---- dovecot-keywords ---- */

static char *
dump_keywords(const struct md_keywords *k)
{
	char *out = xstrdup("");

	for (int i = 0; i < 26; i++) {
		char *n;
		if (k->names[i] == NULL)
			continue;
		n = xasprintf("%s%d=%s|", out, i, k->names[i]);
		free(out);
		out = n;
	}
	return out;
}

static const struct {
	const char *in;
	const char *dump;
} kw_cases[] = {
	{ "", "" },
	{ "0 $Junk\n1 $NonJunk\n", "0=$Junk|1=$NonJunk|" },
	/* gaps */
	{ "0 a\n5 b\n25 z\n", "0=a|5=b|25=z|" },
	{ "25 z\n0 a\n", "0=a|25=z|" },
	/* lines Dovecot skips */
	{ "x a\n-1 a\n26 a\n99999999999 a\n1\n1 \n 1 a\n+1 a\n1x a\n\n0  \n2 b\n", "0= |2=b|" },
	{ "1\tb\n2 a\tb\n3 a\001\n4 ok\n", "4=ok|" },
	/* leading zeros, names with spaces, the later line for an index wins */
	{ "01 a\n007 b c\n", "1=a|7=b c|" },
	{ "0 a\n0 b\n", "0=b|" },
	/* CRLF; an unterminated last line is ignored, as Dovecot does */
	{ "0 a\r\n1 b\r\n", "0=a|1=b|" },
	{ "0 a\n1 b", "0=a|" },
	{ "0 a\n1 b\r", "0=a|" },
	{ "0 a\n1 b\r\r\n", "0=a|" },
	{ "0 \xc3\xa9t\xc3\xa9\n", "0=\xc3\xa9t\xc3\xa9|" },
};

static void
test_keywords(void **state)
{
	struct md_keywords k;
	char *text, *out, *d, *big;
	size_t len, olen;

	(void)state;
	for (size_t i = 0; i < NEL(kw_cases); i++) {
		size_t n = strlen(kw_cases[i].in);
		char *p = exact(kw_cases[i].in, n);

		assert_int_equal(md_keywords_parse(p, n, &k), 0);
		d = dump_keywords(&k);
		check_str("keywords", i, d, kw_cases[i].dump);
		free(d);
		md_keywords_free(&k);
		free(p);
	}
	assert_int_equal(md_keywords_parse("0 a\n1 b\0\n", 9, &k), -1);
	assert_int_equal(md_keywords_parse(NULL, 0, &k), 0);
	md_keywords_free(&k);

	/* the real file; lookups are case-insensitive */
	text = tu_dovecot_vector("inbox-keywords", &len);
	assert_int_equal(md_keywords_parse(text, len, &k), 0);
	d = dump_keywords(&k);
	assert_string_equal(d, "0=$Forwarded|1=$Junk|2=custom1|3=Custom-Two|4=$label1|");
	free(d);
	assert_int_equal(md_keywords_find(&k, "$Junk"), 1);
	assert_int_equal(md_keywords_find(&k, "$JUNK"), 1);
	assert_int_equal(md_keywords_find(&k, "custom-two"), 3);
	assert_int_equal(md_keywords_find(&k, "$Label1"), 4);
	assert_int_equal(md_keywords_find(&k, "$Junk "), -1);
	assert_int_equal(md_keywords_find(&k, ""), -1);
	out = md_keywords_format(&k, &olen);
	assert_int_equal(olen, len);
	assert_memory_equal(out, text, len);
	free(out);
	/* Dovecot gives a new keyword the first free index */
	assert_int_equal(md_keywords_add(&k, "$junk"), 1);
	assert_int_equal(md_keywords_add(&k, "New"), 5);
	free(k.names[2]);
	k.names[2] = NULL;
	assert_int_equal(md_keywords_add(&k, "Other"), 2);
	assert_int_equal(md_keywords_add(&k, ""), -1);
	assert_int_equal(md_keywords_add(&k, "a\tb"), -1);
	for (int i = 0; i < 20; i++) {
		char n[8];
		snprintf(n, sizeof(n), "k%d", i);
		assert_int_equal(md_keywords_add(&k, n), 6 + i);
	}
	assert_int_equal(md_keywords_add(&k, "one-too-many"), -1);
	assert_int_equal(md_keywords_add(&k, "K19"), 25);
	out = md_keywords_format(&k, &olen);
	assert_int_equal(strncmp(out, "0 $Forwarded\n1 $Junk\n2 Other\n3 Custom-Two\n", 42), 0);
	assert_non_null(strstr(out, "\n25 k19\n"));
	free(out);
	md_keywords_free(&k);
	md_keywords_free(&k);
	md_keywords_free(NULL);
	free(text);

	/* duplicates: the later line's index is found, as Dovecot's hash does */
	assert_int_equal(md_keywords_parse("0 a\n1 A\n", 8, &k), 0);
	assert_int_equal(md_keywords_find(&k, "a"), 1);
	md_keywords_free(&k);
	assert_int_equal(md_keywords_parse("1 A\n0 a\n", 8, &k), 0);
	assert_int_equal(md_keywords_find(&k, "A"), 0);
	md_keywords_free(&k);

	/* Dovecot's 1 KiB buffer: a longer line ends the reading */
	big = xmalloc(2100);
	memcpy(big, "0 a\n1 ", 6);
	memset(big + 6, 'L', 1021);
	memcpy(big + 1027, "\n2 c\n", 6);
	assert_int_equal(md_keywords_parse(big, strlen(big), &k), 0);
	assert_int_equal(strlen(k.names[1]), 1021);
	assert_string_equal(k.names[2], "c");
	md_keywords_free(&k);
	memmove(big + 7, big + 6, strlen(big + 6) + 1);
	assert_int_equal(md_keywords_parse(big, strlen(big), &k), 0);
	d = dump_keywords(&k);
	assert_string_equal(d, "0=a|");
	free(d);
	md_keywords_free(&k);
	free(big);
}

/* ---- subscriptions ---- */

static char *
dump_subs(const struct md_subs *s)
{
	char *out = xstrdup("");

	for (size_t i = 0; i < s->n; i++) {
		char *n = xasprintf("%s%s|", out, s->names[i]);
		free(out);
		out = n;
	}
	return out;
}

static const struct {
	const char *in;
	size_t len;	/* 0: strlen */
	char sep;
	const char *dump;
} subs_cases[] = {
	{ "", 0, '/', "" },
	{ "V\t2\n\n", 0, '/', "" },
	{ "V\t2\n\na\tb\nSent\n&ANw-mlaut\nINBOX\n", 0, '/', "a/b|Sent|&ANw-mlaut|INBOX|" },
	{ "V\t2\n\na\tb\tc\n", 0, '.', "a.b.c|" },
	/* version 1: Maildir++ names, '.' between levels */
	{ "a.b\nSent\nINBOX\n", 0, '/', "a/b|Sent|INBOX|" },
	{ "a.b\nSent\n", 0, '.', "a.b|Sent|" },
	{ "V\t2\na.b\n", 0, '/', "a/b|" },
	{ "V\t3\n\na.b\n", 0, '/', "a/b|" },
	/* names kept as they are: modified UTF-7 as Dovecot writes, UTF-8 too */
	{ "V\t2\n\nTr&AOQ-sh\tx\n\xc3\x9cmlaut\n", 0, '/', "Tr&AOQ-sh/x|\xc3\x9cmlaut|" },
	/* tab escapes */
	{ "V\t2\n\nx\001Ay\n", 0, '/', "xAy|" },
	{ "V\t2\n\nfoo\001\n", 0, '/', "foo|" },
	{ "V\t2\n\na\001tb\nok\n", 0, '/', "ok|" },
	{ "V\t2\n\na\001/b\n", 0, '/', "" },
	{ "V\t2\n\na\001.b\n", 0, '/', "a.b|" },
	/* a level holding the separator cannot be shown */
	{ "V\t2\n\na/b\tc\n", 0, '/', "" },
	{ "a/b.c\n", 0, '/', "" },
	/* one trailing separator is dropped, as Dovecot does */
	{ "V\t2\n\na\tb\t\n", 0, '/', "a/b|" },
	{ "a.b.\n", 0, '/', "a/b|" },
	{ "a.b..\n", 0, '/', "" },
	/* skipped: empty names and levels, control characters */
	{ "V\t2\n\n\n\na\t\tb\n\tb\n\t\nok\n", 0, '/', "ok|" },
	{ "a..b\n.a\n.\n\x7f\nok\n", 0, '/', "ok|" },
	{ "V\t2\n\ninbox\nSent\nINBOX\n", 0, '/', "INBOX|Sent|" },
	{ "Inbox\ninbox.x\n", 0, '/', "INBOX|inbox/x|" },
	/* duplicates: the first is kept */
	{ "V\t2\n\nb\na\nb\na\tc\na\n", 0, '/', "b|a|a/c|" },
	/* CRLF; an unterminated last line is taken */
	{ "V\t2\r\n\r\na\r\nb\r\n", 0, '/', "a|b|" },
	{ "V\t2\n\na\tb\r\nc", 0, '/', "a/b|c|" },
	{ "V\t2\n\na\r\r\n", 0, '/', "" },
};

static void
test_subs(void **state)
{
	struct md_subs s;
	const char *err;
	char *text, *out, *d, *big;
	size_t len, olen;

	(void)state;
	for (size_t i = 0; i < NEL(subs_cases); i++) {
		size_t n = subs_cases[i].len ? subs_cases[i].len : strlen(subs_cases[i].in);
		char *p = exact(subs_cases[i].in, n);

		err = NULL;
		if (md_subs_parse(p, n, 100, subs_cases[i].sep, &s, &err) < 0)
			check_str("subs", i, err, "(success)");
		assert_int_equal(s.sep, subs_cases[i].sep);
		d = dump_subs(&s);
		check_str("subs", i, d, subs_cases[i].dump);
		free(d);
		/* what we write reads back the same */
		out = md_subs_format(&s, &olen);
		md_subs_free(&s);
		assert_int_equal(md_subs_parse(out, olen, 100, subs_cases[i].sep, &s, &err), 0);
		d = dump_subs(&s);
		check_str("subs again", i, d, subs_cases[i].dump);
		free(d);
		free(out);
		md_subs_free(&s);
		free(p);
	}

	/* the real file writes back byte for byte */
	text = tu_dovecot_vector("subscriptions", &len);
	assert_int_equal(md_subs_parse(text, len, 10, '/', &s, &err), 0);
	assert_int_equal(s.n, 4);
	out = md_subs_format(&s, &olen);
	assert_int_equal(olen, len);
	assert_memory_equal(out, text, len);
	free(out);

	/* add and remove; INBOX in any case is "INBOX" */
	assert_int_equal(md_subs_add(&s, "inbox"), 0);
	assert_int_equal(md_subs_add(&s, "New/Sub"), 0);
	assert_int_equal(md_subs_add(&s, "New/Sub"), 0);
	assert_int_equal(md_subs_add(&s, "a\tb"), -1);
	assert_int_equal(md_subs_add(&s, ""), -1);
	assert_int_equal(md_subs_add(&s, "/a"), -1);
	assert_int_equal(md_subs_add(&s, "a/"), -1);
	assert_int_equal(md_subs_add(&s, "a//b"), -1);
	assert_int_equal(md_subs_add(&s, "a.b"), 0);
	assert_int_equal(s.n, 6);
	assert_int_equal(md_subs_remove(&s, "Sent"), 0);
	assert_int_equal(md_subs_remove(&s, "Sent"), -1);
	assert_int_equal(md_subs_remove(&s, "Inbox"), 0);
	out = md_subs_format(&s, &olen);
	assert_string_equal(out, "V\t2\n\na\tb\n&ANw-mlaut\nNew\tSub\na.b\n");
	free(out);
	md_subs_free(&s);
	md_subs_free(&s);
	md_subs_free(NULL);
	free(text);

	/* errors */
	assert_int_equal(md_subs_parse("V\t2\n\na\0b\n", 9, 10, '/', &s, &err), -1);
	assert_string_equal(err, "NUL byte");
	assert_null(s.names);
	assert_int_equal(md_subs_parse("a\nb\nc\nb\n", 8, 2, '/', &s, &err), -1);
	assert_string_equal(err, "too many subscriptions");
	assert_int_equal(md_subs_parse("a\nb\na\nb\n", 8, 2, '/', &s, &err), 0);
	md_subs_free(&s);
	assert_int_equal(md_subs_parse(NULL, 0, 2, '/', &s, NULL), 0);
	md_subs_free(&s);
	/* Dovecot's limit: 4096 bytes a line (the CR counts) */
	big = xmalloc(4200);
	memset(big, 'x', 4096);
	memcpy(big + 4096, "\n", 2);
	assert_int_equal(md_subs_parse(big, 4097, 10, '/', &s, &err), 0);
	assert_int_equal(s.n, 1);
	md_subs_free(&s);
	assert_int_equal(md_subs_parse(big, 4096, 10, '/', &s, &err), 0);
	md_subs_free(&s);
	memcpy(big + 4096, "\r\n", 3);
	assert_int_equal(md_subs_parse(big, 4098, 10, '/', &s, &err), -1);
	assert_string_equal(err, "line too long");
	memcpy(big + 4096, "x", 2);
	assert_int_equal(md_subs_parse(big, 4097, 10, '/', &s, &err), -1);
	assert_string_equal(err, "line too long");
	free(big);
}

/* Every prefix of the real keywords and subscriptions files, in buffers of
 * their exact size: the complete lines are read as in the whole file. */
static void
test_prefixes(void **state)
{
	struct md_keywords whole_k, k;
	struct md_subs whole_s, s;
	const char *err;
	char *text;
	size_t len;

	(void)state;
	text = tu_dovecot_vector("inbox-keywords", &len);
	assert_int_equal(md_keywords_parse(text, len, &whole_k), 0);
	for (size_t n = 0; n <= len; n++) {
		char *p = exact(text, n);
		int lines = 0;

		for (size_t i = 0; i < n; i++)
			lines += p[i] == '\n';
		assert_int_equal(md_keywords_parse(p, n, &k), 0);
		for (int i = 0; i < 26; i++) {
			if (i < lines)
				assert_string_equal(k.names[i], whole_k.names[i]);
			else
				assert_null(k.names[i]);
		}
		md_keywords_free(&k);
		free(p);
	}
	md_keywords_free(&whole_k);
	free(text);

	text = tu_dovecot_vector("subscriptions", &len);
	assert_int_equal(md_subs_parse(text, len, 10, '/', &whole_s, &err), 0);
	for (size_t n = 0; n <= len; n++) {
		char *p = exact(text, n);

		assert_int_equal(md_subs_parse(p, n, 10, '/', &s, &err), 0);
		assert_true(s.n <= whole_s.n);
		for (size_t i = 0; i < s.n; i++) {
			/* the last may be a cut name (read as version 1 while the
			 * header is incomplete) */
			if (i + 1 < s.n || p[n - 1] == '\n')
				assert_string_equal(s.names[i], whole_s.names[i]);
		}
		md_subs_free(&s);
		free(p);
	}
	md_subs_free(&whole_s);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uidlist_vectors),
		cmocka_unit_test(test_uidlist_vector_fields),
		cmocka_unit_test(test_uidlist_prefixes),
		cmocka_unit_test(test_uidlist_ok),
		cmocka_unit_test(test_uidlist_err),
		cmocka_unit_test(test_uidlist_bounds),
		cmocka_unit_test(test_uidlist_build),
		cmocka_unit_test(test_md_name_parse),
		cmocka_unit_test(test_md_name_vectors),
		cmocka_unit_test(test_md_name_format),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_subs),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
