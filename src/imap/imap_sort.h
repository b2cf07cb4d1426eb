/* imap_sort: SORT and THREAD (RFC 5256; DISPLAYFROM/DISPLAYTO, RFC 5957)
 * over messages the search already selected. Pure and bounded: no I/O,
 * no recursion, O(n log n) in the number of messages and references. The
 * messages come as struct search_msg with struct search_ops (see
 * imap_search.h); each message's text is asked for once. */
#ifndef IMAP_SORT_H
#define IMAP_SORT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parser.h"
#include "imap/imap_search.h"

enum sort_key {
	SORT_ARRIVAL,		/* INTERNALDATE */
	SORT_CC,		/* addr-mailbox of the first Cc address */
	SORT_DATE,		/* Date: as UTC; INTERNALDATE when missing or bad */
	SORT_FROM,		/* addr-mailbox of the first From address */
	SORT_SIZE,		/* RFC822.SIZE */
	SORT_SUBJECT,		/* base subject (imap_base_subject) */
	SORT_TO,		/* addr-mailbox of the first To address */
	SORT_DISPLAYFROM,	/* first From's display name, else local@domain */
	SORT_DISPLAYTO,		/* the same for To */
};

#define SORT_MAX_CRITERIA	16

struct sort_crit {
	enum sort_key key;
	bool reverse;
};

/* A parsed sort criteria list; plain data, nothing to free. */
struct sort_prog {
	struct sort_crit c[SORT_MAX_CRITERIA];
	size_t n;
};

#define SORT_E_CRITERIA		"Invalid sort criteria"
#define SORT_E_MANY		"Too many sort criteria"
#define THREAD_E_ALG		"Unknown threading algorithm"

/*
 * Parse the criteria list of SORT: "(" ["REVERSE"] key *(SP ["REVERSE"]
 * key) ")" with the keys ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM
 * DISPLAYTO, any case. 0, or -1 with *err (a SORT_E_* text). The charset
 * and search keys that follow go to imap_search_parse() with
 * SEARCH_F_CHARSET_FIRST.
 */
int imap_sort_parse(const struct imap_arg *list, struct sort_prog *out, const char **err);

/* Whether imap_sort() calls ops->message (not for ARRIVAL and SIZE). */
bool imap_sort_needs_message(const struct sort_prog *p);

/*
 * Order msgs[0..n) in place by the criteria; messages equal by all of them
 * keep mailbox order (ascending seq), REVERSE or not (RFC 5256 3). Each
 * message's keys are extracted once. Strings compare after imap_casefold()
 * (i;ascii-casemap for ASCII, simple Unicode folding beyond); a missing
 * address or subject is the empty string and sorts first.
 */
void imap_sort(const struct sort_prog *p, struct search_msg *msgs, size_t n,
    const struct search_ops *ops);

/* "* SORT 3 1 2\r\n" for msgs in their order (UIDs when uid), with
 * " (MODSEQ n)" before the CRLF when modseq (the search had a MODSEQ key,
 * RFC 7162 3.1.5) and there is at least one message. malloc'd, *len its
 * length. */
char *imap_sort_response(const struct search_msg *msgs, size_t n, bool uid, bool modseq,
    size_t *len);

enum thread_alg {
	THREAD_ORDEREDSUBJECT,
	THREAD_REFERENCES,
};

/* The algorithm argument of THREAD (an atom, any case). 0, or -1 with
 * *err THREAD_E_ALG. */
int imap_thread_parse(const struct imap_arg *arg, enum thread_alg *out, const char **err);

/*
 * Thread msgs[0..n) (any order; seq numbers unique) and return the
 * response text that follows "* THREAD ", e.g. "(3 6 (4 23)(44 7 96))(2)"
 * ("" for no messages; no CRLF), malloc'd, *len its length. Numbers are
 * UIDs when uid. Sent dates are Date: as UTC, else INTERNALDATE; ties go
 * by seq.
 *  - ORDEREDSUBJECT (RFC 5256 3): groups of equal base subject, each in
 *    sent-date order; the first message is the parent and all others its
 *    children (siblings of each other): "(1 (2)(5))", "(1 2)" for two.
 *  - REFERENCES (RFC 5256 3, steps 1-6): Message-ID / References /
 *    In-Reply-To (the first msg-id; only when References has none) with
 *    case-sensitive ids, duplicates and missing ids made unique, dummies
 *    for referenced unknown ids, no link that would make a loop (checked
 *    in O(log n) with a link-cut tree), dummies pruned, top-level threads
 *    grouped by base subject, siblings by sent date. A chain a-b-c is
 *    "(a b c)" however long.
 */
char *imap_thread(enum thread_alg alg, const struct search_msg *msgs, size_t n,
    const struct search_ops *ops, bool uid, size_t *len);

/*
 * The base subject of RFC 5256 2.1: RFC 2047 words decoded to UTF-8, tabs
 * and line breaks as spaces, runs of spaces as one; then, repeatedly,
 * trailing "(fwd)" and blanks, leading "Re:"/"Fw:"/"Fwd:" (with [blob]s
 * before them and one between the word and the colon), leading [blob]s
 * when something is left, and a "[fwd: ...]" wrapper. Case-insensitive;
 * the result keeps the case of the input. malloc'd, NUL-terminated.
 * imap_base_subject_ex also tells whether a reply or forward marker was
 * removed (REFERENCES step 5 needs it); refwd may be NULL.
 */
char *imap_base_subject(const char *subject, size_t len);
char *imap_base_subject_ex(const char *subject, size_t len, bool *refwd);
#endif
