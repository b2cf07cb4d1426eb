/* seqset: IMAP sequence sets (pure, bounded, no I/O). */
#include "imap/seqset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define E_SYNTAX	"Invalid sequence set"
#define E_RANGE		"Message sequence number out of range"
#define E_MANY		"Too many ranges in sequence set"
#define E_NOSAVED	"No saved search result"

static int
fail(struct seqset *out, const char **err, const char *why)
{
	free(out->r);
	out->r = NULL;
	out->n = 0;
	if (err != NULL)
		*err = why;
	return -1;
}

/* seq-number = nz-number / "*"; *v is 0 for "*". */
static int
parse_number(const char **pp, uint32_t *v)
{
	const char *p = *pp;
	uint64_t x = 0;

	if (*p == '*') {
		*pp = p + 1;
		*v = 0;
		return 0;
	}
	/* nz-number = digit-nz *DIGIT: no leading zero */
	if (*p < '1' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > UINT32_MAX)
			return -1;
	}
	*pp = p;
	*v = (uint32_t)x;
	return 0;
}

static int
cmp_range(const void *a, const void *b)
{
	const struct seqrange *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Sort and merge overlapping and adjacent ranges in place. */
static void
normalize(struct seqset *s)
{
	size_t i, m = 0;

	if (s->n > 1)
		qsort(s->r, s->n, sizeof(*s->r), cmp_range);
	for (i = 0; i < s->n; i++) {
		if (m > 0 && (uint64_t)s->r[i].lo <= (uint64_t)s->r[m - 1].hi + 1) {
			if (s->r[i].hi > s->r[m - 1].hi)
				s->r[m - 1].hi = s->r[i].hi;
		} else
			s->r[m++] = s->r[i];
	}
	s->n = m;
	if (m == 0) {
		free(s->r);
		s->r = NULL;
	}
}

int
seqset_parse(const char *s, uint32_t max, unsigned flags, const struct seqset *saved,
    size_t max_ranges, struct seqset *out, const char **err)
{
	const char *p;
	size_t nr = 1;
	uint32_t a, b, lo, hi;
	bool uid = (flags & SEQSET_UID) != 0, none;

	out->r = NULL;
	out->n = 0;
	if (strcmp(s, "$") == 0) {
		if (saved == NULL)
			return fail(out, err, E_NOSAVED);
		if (saved->n > 0) {
			out->r = xreallocarray(NULL, saved->n, sizeof(*out->r));
			memcpy(out->r, saved->r, saved->n * sizeof(*out->r));
		}
		out->n = saved->n;
		return 0;
	}
	/* Count first: the allocation is bounded by max_ranges. */
	for (p = s; *p != '\0'; p++)
		if (*p == ',')
			nr++;
	if (nr > max_ranges)
		return fail(out, err, E_MANY);
	/* Sequence numbers of an empty mailbox: nothing exists to name. */
	none = !uid && max == 0 && (flags & SEQSET_ALLOW_EMPTY) != 0;
	out->r = xreallocarray(NULL, nr, sizeof(*out->r));
	for (p = s;;) {
		if (parse_number(&p, &a) == -1)
			return fail(out, err, E_SYNTAX);
		b = a;
		if (*p == ':') {
			p++;
			if (parse_number(&p, &b) == -1)
				return fail(out, err, E_SYNTAX);
		}
		if (*p != ',' && *p != '\0')
			return fail(out, err, E_SYNTAX);
		if (a == 0)
			a = max;
		if (b == 0)
			b = max;
		lo = a < b ? a : b;
		hi = a < b ? b : a;
		if (!uid && !none && (hi > max || lo == 0))
			return fail(out, err, E_RANGE);
		/* UID '*' of an empty mailbox is 0, which no message has. */
		if (lo == 0)
			lo = 1;
		if (!none && hi != 0) {
			out->r[out->n].lo = lo;
			out->r[out->n].hi = hi;
			out->n++;
		}
		if (*p == '\0')
			break;
		p++;
	}
	normalize(out);
	return 0;
}

void
seqset_free(struct seqset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

bool
seqset_has(const struct seqset *s, uint32_t v)
{
	size_t lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v < s->r[mid].lo)
			hi = mid;
		else if (v > s->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t
seqset_count(const struct seqset *s)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		n += (uint64_t)s->r[i].hi - s->r[i].lo + 1;
	return n;
}

/* One range as text, with its leading comma unless it is the first. */
static size_t
range_text(const struct seqset *s, size_t i, char *tmp, size_t tmpsz)
{
	int k;

	if (s->r[i].lo == s->r[i].hi)
		k = snprintf(tmp, tmpsz, "%s%u", i ? "," : "", (unsigned)s->r[i].lo);
	else
		k = snprintf(tmp, tmpsz, "%s%u:%u", i ? "," : "", (unsigned)s->r[i].lo,
		    (unsigned)s->r[i].hi);
	return (size_t)k;
}

size_t
seqset_format(const struct seqset *s, char *out, size_t outsz)
{
	char tmp[32];
	size_t i, k, need = 0, o = 0;

	for (i = 0; i < s->n; i++)
		need += range_text(s, i, tmp, sizeof(tmp));
	if (need >= outsz)
		return need;
	for (i = 0; i < s->n; i++) {
		k = range_text(s, i, tmp, sizeof(tmp));
		memcpy(out + o, tmp, k);
		o += k;
	}
	out[o] = '\0';
	return o;
}

void
seqset_from_list(const uint32_t *v, size_t n, struct seqset *out)
{
	size_t i;

	out->r = NULL;
	out->n = 0;
	if (n == 0)
		return;
	out->r = xreallocarray(NULL, n, sizeof(*out->r));
	for (i = 0; i < n; i++) {
		if (v[i] == 0)
			continue;
		out->r[out->n].lo = out->r[out->n].hi = v[i];
		out->n++;
	}
	normalize(out);
}

char *
seqset_list_str(const uint32_t *v, size_t n)
{
	struct seqset set;
	seqset_from_list(v, n, &set);
	size_t l = seqset_format(&set, NULL, 0);
	char *t = xmalloc(l + 1);
	seqset_format(&set, t, l + 1);
	seqset_free(&set);
	return t;
}
