/* libFuzzer target: mboxf_parse, and what rewrites and appends must keep:
 * offsets in bounds and ordered, mboxf_message_size equal to the length of
 * mboxf_message, a rewrite parses back to the same messages (texts and
 * bodies unchanged but for the LF an unterminated last line gets) with the
 * metadata written, rewriting that again gives the same bytes, and an
 * appended message reads back as the message given (CRLF as LF, hidden
 * headers dropped). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "store/mboxfile.h"
#include "store/mflags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort(), saying which invariant broke. */
#define FAIL()	fail_at(__LINE__)

static void __attribute__((noreturn))
fail_at(int line)
{
	fprintf(stderr, "fuzz_mboxfile.c:%d: invariant broken\n", line);
	abort();
}

#define MAX_MSGS	1000

struct text {
	char *p;
	size_t n;
};

static void
check_offsets(const char *buf, size_t len, const struct mboxf *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct mboxf_msg *m = &f->m[i];
		size_t next = i + 1 < f->n ? f->m[i + 1].from_off : len;

		if (!(m->from_off < m->hdr_off && m->hdr_off <= m->hdr_end &&
		    m->hdr_end <= m->body_off && m->body_off <= m->end && m->end <= next &&
		    next <= len))
			FAIL();
		if (memcmp(buf + m->from_off, "From ", 5) != 0)
			FAIL();
		if (m->hdr_end == m->end ? m->body_off != m->end : m->body_off - m->hdr_end > 2)
			FAIL();
		if (m->kw_len > 0 && (m->kw_off < m->hdr_off || m->kw_off + m->kw_len > m->hdr_end))
			FAIL();
		if (m->from_date < -1 || (m->flags & ~(unsigned)MF_STORED) != 0)
			FAIL();
		/* Between messages (and at the end at most) one empty line. */
		if (next - m->end > 2 || (i + 1 < f->n && next == m->end) ||
		    (next > m->end && buf[next - 1] != '\n' &&
		    !(i + 1 == f->n && next - m->end == 1 && buf[m->end] == '\r')) ||
		    (next - m->end == 2 && buf[m->end] != '\r'))
			FAIL();
	}
	if (f->base_kw_len > 0 && (f->n == 0 || f->base_kw_off < f->m[0].hdr_off ||
	    f->base_kw_off + f->base_kw_len > f->m[0].hdr_end))
		FAIL();
	if (f->uidvalidity == 0 && (f->uid_last != 0 || f->base_kw_len != 0))
		FAIL();
}

static struct text
message(const char *buf, const struct mboxf_msg *m)
{
	struct text t;

	t.p = mboxf_message(buf, m, &t.n);
	if (t.p == NULL || t.p[t.n] != '\0' || mboxf_message_size(buf, m) != t.n)
		FAIL();
	return t;
}

/* Keyword names one space apart. */
static char *
kwnorm(const char *s, size_t len)
{
	struct buf b = { 0 };
	size_t pos = 0, off, n;

	buf_reset(&b);
	while (mboxf_next_keyword(s, len, &pos, &off, &n)) {
		if (n == 0 || off + n > len || pos > len)
			FAIL();
		if (b.len > 0)
			buf_addc(&b, ' ');
		buf_add(&b, s + off, n);
	}
	return b.p;
}

/* b is a, or a with the LF an unterminated last line gets. */
static bool
same_text(const struct text *a, const char *b, size_t bn)
{
	if (a->n > 0 && a->p[a->n - 1] != '\n')
		return bn == a->n + 1 && memcmp(a->p, b, a->n) == 0 && b[a->n] == '\n';
	return bn == a->n && memcmp(a->p, b, bn) == 0;
}

static void
check_meta(const char *buf, const struct mboxf_msg *m, const struct mboxf_update *u)
{
	char *kw = kwnorm(buf + m->kw_off, m->kw_len), *want;

	want = kwnorm(u->keywords != NULL ? u->keywords : "",
	    u->keywords != NULL ? strlen(u->keywords) : 0);
	if (m->uid != u->uid || m->flags != (u->flags & MF_STORED) || m->old != u->old ||
	    strcmp(kw, want) != 0)
		FAIL();
	free(kw);
	free(want);
}

static bool
hidden(const char *s, size_t n)
{
	static const char *const names[] = { "content-length", "status", "x-status",
		"x-keywords", "x-uid", "x-imapbase", "x-imap" };
	const char *colon = memchr(s, ':', n);
	size_t k;

	if (colon == NULL || s[0] == ' ' || s[0] == '\t')
		return false;
	k = (size_t)(colon - s);
	while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == k && strncasecmp(s, names[i], k) == 0 &&
		    memchr(s, '\0', k) == NULL)
			return true;
	return false;
}

/* What mboxf_message must give for an appended msg, computed another way:
 * CRLF -> LF first, then the header lines split and filtered. */
static struct text
expected_append(const char *msg, size_t len)
{
	char *lf = xmalloc(len + 1);
	struct buf b = { 0 };
	size_t n = 0, i = 0;
	bool in_hdr = true, skip = false;
	struct text t;

	for (size_t k = 0; k < len; k++) {
		if (msg[k] == '\r' && k + 1 < len && msg[k + 1] == '\n')
			continue;
		lf[n++] = msg[k];
	}
	buf_reset(&b);
	while (i < n) {
		const char *nl = memchr(lf + i, '\n', n - i);
		size_t e = nl != NULL ? (size_t)(nl - lf) + 1 : n;
		size_t cl = e - i - (nl != NULL);

		if (in_hdr) {
			if (cl == 0 || (cl == 1 && lf[i] == '\r')) {
				in_hdr = false;
			} else if (lf[i] == ' ' || lf[i] == '\t') {
				if (skip) {
					i = e;
					continue;
				}
			} else {
				skip = hidden(lf + i, cl);
				if (skip) {
					i = e;
					continue;
				}
			}
		}
		buf_add(&b, lf + i, e - i);
		i = e;
	}
	if (b.len > 0 && b.p[b.len - 1] != '\n')
		buf_addc(&b, '\n');
	free(lf);
	t.p = b.p;
	t.n = b.len;
	return t;
}

static uint64_t
hash(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ULL;
	return h;
}

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *const kwsets[] = { NULL, "", "$Forwarded", "a  b,c\tjunk", " \r\n x " };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *err = NULL;
	struct mboxf f, g, h;
	struct mboxf_update *upd;
	struct text *texts;
	char **kws, *basekw;
	struct buf out = { 0 }, again = { 0 }, app = { 0 };
	uint64_t rnd = hash(data, size) | 1;
	unsigned line = 0;
	size_t kept = 0;

	if (mboxf_parse(buf, size, MAX_MSGS, &f, &err, &line) < 0) {
		if (err == NULL || line == 0)
			FAIL();
		return 0;
	}
	check_offsets(buf, size, &f);
	texts = xcalloc(f.n + 1, sizeof(*texts));
	kws = xcalloc(f.n + 1, sizeof(*kws));
	upd = xcalloc(f.n + 1, sizeof(*upd));
	for (size_t i = 0; i < f.n; i++) {
		texts[i] = message(buf, &f.m[i]);
		kws[i] = kwnorm(buf + f.m[i].kw_off, f.m[i].kw_len);
		upd[i] = (struct mboxf_update){ true, f.m[i].uid, f.m[i].flags, f.m[i].old,
		    kws[i] };
	}
	basekw = kwnorm(buf + f.base_kw_off, f.base_kw_len);

	/* Keep all, same metadata: same messages back. */
	mboxf_rewrite(buf, &f, upd, f.uidvalidity, f.uid_last, basekw, &out);
	if (mboxf_parse(out.p, out.len, MAX_MSGS, &g, &err, &line) < 0 || g.n != f.n)
		FAIL();
	check_offsets(out.p, out.len, &g);
	if (g.pseudo != f.pseudo || g.uidvalidity != f.uidvalidity || g.uid_last != f.uid_last)
		FAIL();
	{
		char *bk = kwnorm(out.p + g.base_kw_off, g.base_kw_len);

		if (strcmp(bk, basekw) != 0)
			FAIL();
		free(bk);
	}
	for (size_t i = 0; i < g.n; i++) {
		const struct mboxf_msg *a = &f.m[i], *b = &g.m[i];
		struct text t = message(out.p, b);
		struct text body = { (char *)buf + a->body_off, a->end - a->body_off };

		if (!same_text(&texts[i], t.p, t.n))
			FAIL();
		if (!same_text(&body, out.p + b->body_off, b->end - b->body_off))
			FAIL();
		if (a->from_date != b->from_date || a->from_date_local != b->from_date_local)
			FAIL();
		check_meta(out.p, b, &upd[i]);
		free(t.p);
	}
	/* What a rewrite wrote, rewritten: the same bytes. */
	mboxf_rewrite(out.p, &g, upd, g.uidvalidity, g.uid_last, basekw, &again);
	if (again.len != out.len || memcmp(again.p, out.p, out.len) != 0)
		FAIL();
	buf_free(&again);

	/* Some expunged, other metadata. */
	{
		uint32_t uv = (uint32_t)next_rand(&rnd) % 3, ul = (uint32_t)next_rand(&rnd);
		size_t j = 0;

		for (size_t i = 0; i < f.n; i++) {
			uint64_t r = next_rand(&rnd);

			upd[i].keep = (r & 3) != 0;
			upd[i].uid = (r >> 2) % 4 == 0 ? 0 : (uint32_t)(r >> 8);
			upd[i].flags = (unsigned)(r >> 40) & (MF_STORED | MF_RECENT);
			upd[i].old = (r >> 50) & 1;
			upd[i].keywords = kwsets[(r >> 52) % 5];
			kept += upd[i].keep;
		}
		mboxf_rewrite(buf, &f, upd, uv, ul, "x  $y\n", &again);
		if (mboxf_parse(again.p, again.len, MAX_MSGS, &h, &err, &line) < 0 ||
		    h.n != kept)
			FAIL();
		check_offsets(again.p, again.len, &h);
		if (kept > 0 && (h.pseudo != (f.pseudo && upd[0].keep) ||
		    h.uidvalidity != uv || h.uid_last != (uv != 0 ? ul : 0) ||
		    h.base_kw_len != (uv != 0 ? 4 : 0)))
			FAIL();
		for (size_t i = 0; i < f.n; i++) {
			struct text t;

			if (!upd[i].keep)
				continue;
			t = message(again.p, &h.m[j]);
			if (!same_text(&texts[i], t.p, t.n))
				FAIL();
			check_meta(again.p, &h.m[j], &upd[i]);
			free(t.p);
			j++;
		}
		mboxf_free(&h);
		buf_free(&again);
	}

	/* The input as a new message, appended after the rewrite and after
	 * the input itself. */
	{
		struct mboxf_update u = { false, (uint32_t)next_rand(&rnd) % 5,
			(unsigned)next_rand(&rnd) & MF_STORED, next_rand(&rnd) & 1,
			kwsets[next_rand(&rnd) % 5] };
		int64_t idate = (int64_t)(next_rand(&rnd) % 300000000000ULL) - 1000;
		int64_t want_date = idate >= 0 && idate <= 253402300799LL ? idate : 0;
		const char *sender = (rnd & 3) == 0 ? NULL : (rnd & 3) == 1 ? "" : "a b\n@c";
		struct text want = expected_append(buf, size);
		bool has_clen = false;
		for (size_t k = 0; k + 14 <= size && !has_clen; k++)
			has_clen = strncasecmp((const char *)buf + k, "content-length", 14) == 0;
		struct buf nm = { 0 };
		const char *sep;

		mboxf_format_new(buf, size, sender, idate, &u, &nm);
		if (nm.len == 0 || nm.p[nm.len - 1] != '\n' || memcmp(nm.p, "From ", 5) != 0)
			FAIL();
		for (int round = 0; round < 2; round++) {
			const char *base = round == 0 ? out.p : buf;
			size_t blen = round == 0 ? out.len : size;
			struct mboxf *was = round == 0 ? &g : &f;
			struct text t;

			buf_reset(&app);
			buf_add(&app, base, blen);
			sep = mboxf_append_sep(blen > 3 ? base + blen - 3 : base, blen > 3 ? 3 : blen);
			if (round == 0 && *sep != '\0')
				FAIL();	/* a rewrite ends ready for an append */
			buf_adds(&app, sep);
			buf_add(&app, nm.p, nm.len);
			buf_addc(&app, '\n');
			if (mboxf_parse(app.p, app.len, MAX_MSGS + 1, &h, &err, &line) < 0)
				FAIL();
			/* A Content-Length of the input that pointed nowhere may now
			 * end right before the new From_ line, as Dovecot would read
			 * it too. A rewrite corrects them (round 0 stays strict). */
			if (round == 1 && has_clen) {
				mboxf_free(&h);
				continue;
			}
			if (h.n != was->n + 1)
				FAIL();
			check_offsets(app.p, app.len, &h);
			for (size_t i = 0; i < was->n; i++) {
				t = message(app.p, &h.m[i]);
				if (!same_text(&texts[i], t.p, t.n))
					FAIL();
				free(t.p);
			}
			t = message(app.p, &h.m[was->n]);
			if (t.n != want.n || memcmp(t.p, want.p, t.n) != 0)
				FAIL();
			free(t.p);
			if (h.m[was->n].from_date != want_date || !h.m[was->n].from_date_local)
				FAIL();
			u.flags &= MF_STORED;
			check_meta(app.p, &h.m[was->n], &u);
			mboxf_free(&h);
		}
		free(want.p);
		buf_free(&nm);
	}

	for (size_t i = 0; i < f.n; i++) {
		free(texts[i].p);
		free(kws[i]);
	}
	free(texts);
	free(kws);
	free(upd);
	free(basekw);
	buf_free(&out);
	buf_free(&app);
	mboxf_free(&g);
	mboxf_free(&f);
	return 0;
}
