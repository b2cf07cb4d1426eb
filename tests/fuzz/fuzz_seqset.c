/*
 * fuzz_seqset: seqset_parse against an independent model, and canonical
 * form round trips. Input: byte 0 flags, bytes 1-4 max (little endian, the
 * top bits masked often to keep it small), the rest the set text.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mrange {
	uint32_t lo, hi;
};

/* A direct reading of RFC 9051's sequence-set, ranges left unsorted.
 * Returns the number of ranges, or -1. */
static long
model(const char *s, uint32_t max, unsigned flags, struct mrange *r, size_t maxr)
{
	bool uid = flags & SEQSET_UID, empty = !uid && max == 0 && (flags & SEQSET_ALLOW_EMPTY);
	uint64_t v[2];
	size_t n = 0, k;
	const char *p = s;

	for (;;) {
		for (k = 0; k < 2; k++) {
			if (*p == '*') {
				v[k] = max;
				p++;
			} else if (*p >= '1' && *p <= '9') {
				v[k] = 0;
				while (*p >= '0' && *p <= '9') {
					v[k] = v[k] * 10 + (uint64_t)(*p++ - '0');
					if (v[k] > UINT32_MAX)
						return -1;
				}
			} else
				return -1;
			if (k == 0) {
				if (*p != ':') {
					v[1] = v[0];
					break;
				}
				p++;
			}
		}
		if (n == maxr)
			return -2;
		r[n].lo = (uint32_t)(v[0] < v[1] ? v[0] : v[1]);
		r[n].hi = (uint32_t)(v[0] < v[1] ? v[1] : v[0]);
		if (!uid && !empty && (r[n].lo == 0 || r[n].hi > max))
			return -3;
		if (r[n].lo == 0)
			r[n].lo = 1;
		if (!empty && r[n].hi != 0)
			n++;
		if (*p == '\0')
			return (long)n;
		if (*p++ != ',')
			return -1;
	}
}

static bool
model_has(const struct mrange *r, long n, uint64_t v)
{
	for (long i = 0; i < n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seqset s, s2;
	struct mrange *mr;
	const char *err;
	char *str, *text;
	size_t len, maxr, i, tl;
	uint32_t max, *list;
	unsigned flags;
	uint64_t cnt;
	long mn;
	int r;

	if (size < 5)
		return 0;
	flags = data[0] & 3;
	memcpy(&max, data + 1, 4);
	if (data[0] & 4)
		max &= 0xff;
	maxr = (data[0] & 8) ? 4 : 1000;
	data += 5;
	size -= 5;
	/* Exact size with its NUL: any read past it is an ASan error. */
	len = strnlen((const char *)data, size);
	if ((str = malloc(len + 1)) == NULL)
		abort();
	memcpy(str, data, len);
	str[len] = '\0';

	r = seqset_parse(str, max, flags, NULL, maxr, &s, &err);
	if ((mr = malloc((len / 2 + 2) * sizeof(*mr))) == NULL)
		abort();
	mn = model(str, max, flags, mr, len / 2 + 2);
	/* Too many ranges (counted from the commas) may win over a syntax error. */
	if (r != 0) {
		if (err == NULL || s.r != NULL || s.n != 0)
			abort();
		if (mn >= 0 && strcmp(err, "Too many ranges in sequence set") != 0)
			abort();
		free(mr);
		free(str);
		return 0;
	}
	if (mn < 0)
		abort();
	/* Sorted, merged, within bounds, and the same set as the model. */
	cnt = 0;
	for (i = 0; i < s.n; i++) {
		if (s.r[i].lo == 0 || s.r[i].lo > s.r[i].hi)
			abort();
		if (i > 0 && (uint64_t)s.r[i].lo <= (uint64_t)s.r[i - 1].hi + 1)
			abort();
		if (!(flags & SEQSET_UID) && s.r[i].hi > max)
			abort();
		cnt += (uint64_t)s.r[i].hi - s.r[i].lo + 1;
		if (!model_has(mr, mn, s.r[i].lo) || !model_has(mr, mn, s.r[i].hi))
			abort();
		if (model_has(mr, mn, (uint64_t)s.r[i].lo - 1) && s.r[i].lo > 1)
			abort();
		if (model_has(mr, mn, (uint64_t)s.r[i].hi + 1))
			abort();
	}
	if (cnt != seqset_count(&s) || (s.n == 0) != (s.r == NULL))
		abort();
	for (long k = 0; k < mn; k++)
		if (!seqset_has(&s, mr[k].lo) || !seqset_has(&s, mr[k].hi) ||
		    !seqset_has(&s, mr[k].lo + (mr[k].hi - mr[k].lo) / 2))
			abort();

	/* Canonical text parses back to the same ranges. */
	tl = seqset_format(&s, NULL, 0);
	if ((text = malloc(tl + 1)) == NULL)
		abort();
	if (seqset_format(&s, text, tl + 1) != tl || strlen(text) != tl)
		abort();
	if (s.n > 0) {
		if (seqset_parse(text, UINT32_MAX, SEQSET_UID, NULL, s.n, &s2, &err) != 0 ||
		    s2.n != s.n || memcmp(s2.r, s.r, s.n * sizeof(*s.r)) != 0)
			abort();
		seqset_free(&s2);
	}
	/* "$" gives the saved set back. */
	if (seqset_parse("$", 0, 0, &s, 0, &s2, &err) != 0 || s2.n != s.n ||
	    (s.n && memcmp(s2.r, s.r, s.n * sizeof(*s.r)) != 0))
		abort();
	seqset_free(&s2);

	/* From a list of numbers: the same set as its ranges' endpoints. */
	if ((list = malloc((2 * s.n + 1) * sizeof(*list))) == NULL)
		abort();
	for (i = 0; i < s.n; i++) {
		list[2 * i] = s.r[s.n - 1 - i].hi;
		list[2 * i + 1] = s.r[s.n - 1 - i].lo;
	}
	seqset_from_list(list, 2 * s.n, &s2);
	for (i = 0; i < s2.n; i++)
		if (!seqset_has(&s, s2.r[i].lo) || !seqset_has(&s, s2.r[i].hi))
			abort();
	for (i = 0; i < s.n; i++)
		if (!seqset_has(&s2, s.r[i].lo) || !seqset_has(&s2, s.r[i].hi))
			abort();
	seqset_free(&s2);
	free(list);
	free(text);
	seqset_free(&s);
	free(mr);
	free(str);
	return 0;
}
