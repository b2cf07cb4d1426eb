/* seqset: IMAP sequence sets (RFC 9051 section 9: sequence-set) — pure. */
#ifndef SEQSET_H
#define SEQSET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct seqrange {
	uint32_t lo, hi;	/* lo <= hi */
};

struct seqset {
	struct seqrange *r;	/* sorted, merged (no overlaps, no adjacent ranges) */
	size_t n;
};

/* seqset_parse flags */
#define SEQSET_UID		0x01	/* UIDs, not message sequence numbers */
#define SEQSET_ALLOW_EMPTY	0x02	/* sequence numbers: an empty mailbox gives
					 * an empty set instead of an error */

/*
 * Parse "1", "2:4", "7:*", "*", "1,3:5,9:*" and "$" (SEARCHRES, RFC 5182:
 * *saved is returned as a copy; error when saved is NULL; "$" stands alone).
 * Numbers are nz-number, 1..4294967295 without leading zeros ("0", "01"
 * are errors); no spaces; "4:2" means 2:4. At most max_ranges ranges before
 * merging. 0 ok (free with seqset_free), -1 with *err.
 *
 * '*' is max: the number of messages, or the highest UID (0 when the
 * mailbox is empty).
 *  - Sequence numbers (RFC 9051 9, seq-number): a number above max is an
 *    error, and so is '*' in an empty mailbox; with SEQSET_ALLOW_EMPTY an
 *    empty mailbox gives an empty set for any well-formed input.
 *  - UIDs (SEQSET_UID, RFC 9051 6.4.9): any number is fine (UIDs that do
 *    not exist just match nothing); a range with '*' covers max whichever
 *    side the other end is on ("559:*" with max 500 is 500:559); in an empty
 *    mailbox '*' is 0, which no set contains ("*" is then empty, "5:*" is
 *    1:5).
 */
int seqset_parse(const char *s, uint32_t max, unsigned flags, const struct seqset *saved,
    size_t max_ranges, struct seqset *out, const char **err);
void seqset_free(struct seqset *s);
bool seqset_has(const struct seqset *s, uint32_t v);
uint64_t seqset_count(const struct seqset *s);
/* Canonical text ("1:3,5,9:12"; "" for the empty set). Like snprintf:
 * returns the length without the NUL; when that is >= outsz nothing is
 * written (out may be NULL then). */
size_t seqset_format(const struct seqset *s, char *out, size_t outsz);
/* The canonical text of the set of numbers v[0..n), malloc'd. */
char *seqset_list_str(const uint32_t *v, size_t n);
/* Build from a sorted-or-not list of numbers (for UIDPLUS, ESEARCH);
 * duplicates are merged, 0 is left out. */
void seqset_from_list(const uint32_t *v, size_t n, struct seqset *out);
#endif
