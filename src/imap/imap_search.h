/* imap_search: IMAP SEARCH programs (RFC 3501 6.4.4, RFC 9051 6.4.4), the
 * CONDSTORE MODSEQ key (RFC 7162 3.1.5), ESEARCH result options (RFC 4731,
 * RFC 9051) with SEARCHRES SAVE (RFC 5182), and the SEARCH / ESEARCH
 * responses. Pure and bounded: no I/O; the caller hands in each message's
 * metadata and, on demand, its stored text.
 *
 * Use: imap_search_parse() the arguments after SEARCH (or after the SORT
 * criteria / THREAD algorithm, with SEARCH_F_CHARSET_FIRST), then per
 * command imap_search_bind() the sequence sets to the mailbox, then
 * imap_search_match() each message, then imap_search_response() the
 * matching numbers. */
#ifndef IMAP_SEARCH_H
#define IMAP_SEARCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parser.h"
#include "imap/seqset.h"
#include "mail/mime.h"

/* One message as the search sees it. */
struct search_msg {
	uint32_t seq, uid;
	unsigned flags;		/* MF_* (store/mflags.h), MF_RECENT included */
	uint64_t modseq;	/* CONDSTORE; 0 when the mailbox has none */
	uint64_t size;		/* RFC822.SIZE */
	long long internal;	/* INTERNALDATE, UTC seconds since the epoch */
	int internal_tz;	/* INTERNALDATE's zone, minutes east of UTC */
	void *priv;		/* the caller's */
};

/* How to get what is not in struct search_msg. */
struct search_ops {
	/* The whole stored message (LF or CRLF line ends). NULL on error: it
	 * then matches no key needing it (HEADER-like keys, BODY, TEXT,
	 * SENT*). Valid until the next call; called at most once per
	 * imap_search_match() / per message in imap_sort()/imap_thread(). NULL
	 * function: no message has any text. */
	const char *(*message)(void *ctx, const struct search_msg *m, size_t *len);
	/* Whether m has keyword kw (as the client wrote it; case-insensitive
	 * comparison is up to the caller). NULL function: no keywords. */
	bool (*has_keyword)(void *ctx, const struct search_msg *m, const char *kw);
	void *ctx;
};

/* Bounds of a search program. Nesting counts parenthesized lists and the
 * operands of OR and NOT, except that chains of the same operator are
 * flattened: "OR a OR b OR c ..." and "NOT NOT NOT ..." do not nest. */
#define SEARCH_MAX_DEPTH	100
#define SEARCH_MAX_KEYS		10000	/* keys, lists and ORs */
#define SEARCH_MAX_RANGES	100000	/* ranges in one sequence set */

/* imap_search_parse flags */
#define SEARCH_F_CHARSET_FIRST	0x01	/* SORT / THREAD: the first argument is a
					 * charset (no CHARSET keyword, no RETURN) */

/* imap_search_parse results */
#define SEARCH_OK		0
#define SEARCH_BAD		(-1)	/* answer BAD *err */
#define SEARCH_BADCHARSET	(-2)	/* answer NO [BADCHARSET (UTF-8 US-ASCII)] *err */

/* Texts of *err, for replies and tests. */
#define SEARCH_E_NOKEY		"Missing search key"
#define SEARCH_E_UNKNOWN	"Unknown search key"
#define SEARCH_E_NOARG		"Missing search key argument"
#define SEARCH_E_STRING		"Invalid string in search key"
#define SEARCH_E_DATE		"Invalid date in search key"
#define SEARCH_E_NUMBER		"Invalid number in search key"
#define SEARCH_E_KEYWORD	"Invalid keyword in search key"
#define SEARCH_E_MODSEQ		"Invalid MODSEQ search key"
#define SEARCH_E_RETURN		"Invalid RETURN options"
#define SEARCH_E_CHARSET	"Missing or invalid charset"
#define SEARCH_E_BADCHARSET	"Unsupported charset"
#define SEARCH_E_DEPTH		"Search program too deeply nested"
#define SEARCH_E_MANY		"Too many search keys"
#define SEARCH_E_PAREN		"Empty parenthesized search key"

/* ESEARCH result options (RETURN (...)) */
#define SEARCH_RET_MIN		0x01
#define SEARCH_RET_MAX		0x02
#define SEARCH_RET_ALL		0x04
#define SEARCH_RET_COUNT	0x08
#define SEARCH_RET_SAVE		0x10

struct search_prog;

/*
 * Parse a search program from the arguments after SEARCH / UID SEARCH:
 *   [RETURN (opts)] [CHARSET cs] key *(key)
 * (with SEARCH_F_CHARSET_FIRST: cs key *(key)). Keys are case-insensitive:
 *   ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED
 *   UNDELETED UNDRAFT UNFLAGGED UNSEEN; KEYWORD k, UNKEYWORD k;
 *   BCC CC FROM TO SUBJECT BODY TEXT s; HEADER field s;
 *   BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE date (d-Mon-yyyy, day 1 or
 *   2 digits, quoted or not); LARGER SMALLER n (up to 2^63-1);
 *   UID set; set (sequence numbers; "*", "$");
 *   MODSEQ ["/flags/..." priv|shared|all] n (the entry is accepted and
 *   ignored: the message's own mod-sequence is compared);
 *   NOT key; OR key key; ( key *(key) ).
 * Strings are astrings (atom, quoted, literal; not literal8). The charset
 * may be UTF-8 or US-ASCII (any case); anything else is SEARCH_BADCHARSET.
 * RETURN options: MIN MAX ALL COUNT SAVE, any case; "RETURN ()" is ALL.
 * Sequence sets are checked for syntax here and resolved by
 * imap_search_bind().
 *
 * Returns SEARCH_OK with *out (free with imap_search_free), or SEARCH_BAD /
 * SEARCH_BADCHARSET with *err one of the SEARCH_E_* texts above or a
 * seqset_parse() text, and *out NULL. Never recurses: an OR whose operand
 * is an OR becomes one n-ary OR and NOTs just toggle, so "OR a OR b OR c
 * ..." and "NOT NOT ..." of any length are flat; other nesting (lists,
 * "OR NOT OR NOT ...") is bounded by SEARCH_MAX_DEPTH.
 */
int imap_search_parse(const struct imap_arg *args, size_t nargs, unsigned flags,
    struct search_prog **out, const char **err);
void imap_search_free(struct search_prog *p);

/*
 * Resolve the program's sequence sets against the mailbox as it is now:
 * nmsgs messages, the highest UID maxuid. Call before matching, and again
 * whenever the mailbox changed since. As Dovecot does, numbers beyond the
 * mailbox are not errors: they match nothing ("*" is the last message;
 * "5:*" covers 5 down to the last one). "$" is the saved result (RFC
 * 5182) as a set of UIDs, for plain sets and for UID sets alike; saved
 * NULL makes "$" an error. 0, or -1 with *err (the program is then
 * unusable until bound again).
 */
int imap_search_bind(struct search_prog *p, uint32_t nmsgs, uint32_t maxuid,
    const struct seqset *saved, const char **err);

/*
 * Whether m matches. String keys are substring matches after decoding:
 *  - header keys (FROM TO CC BCC SUBJECT HEADER) look at every field of
 *    that name, its value unfolded, RFC 2047-decoded to UTF-8, with runs
 *    of blanks as one space; address fields (From To Cc Bcc Sender
 *    Reply-To) also match their addresses written out as
 *    "name <local@domain>" (decoded, comments dropped). An empty string
 *    matches the messages that have the field.
 *  - BODY: the decoded text of every leaf part (base64 and
 *    quoted-printable undone; text parts converted from their charset to
 *    UTF-8 when iconv knows it, else the raw bytes), and the headers of
 *    enclosed messages; TEXT: the message's header fields (decoded as
 *    above) or its body.
 *  - Comparisons fold case: ASCII, and the simple case folding of Latin-1,
 *    Latin Extended-A, Greek and Cyrillic letters (imap_casefold()).
 * BEFORE/ON/SINCE compare the calendar day of INTERNALDATE in its own zone;
 * SENT* the day of the Date: field in its own zone, or, without a
 * parseable Date:, that of INTERNALDATE (as Dovecot). NEW is RECENT and
 * UNSEEN, OLD is not RECENT. LARGER/SMALLER compare size, MODSEQ n is
 * modseq >= n. Bounded: no recursion, per-call memory linear in the
 * message.
 */
bool imap_search_match(const struct search_prog *p, const struct search_msg *m,
    const struct search_ops *ops);

/* Whether matching needs ops->message (otherwise it is never called: a
 * flag-only search need not open any file). */
bool imap_search_needs_message(const struct search_prog *p);
/* Whether matching needs more of a message than its header (BODY, TEXT):
 * otherwise ops->message may give the header alone, through its empty line. */
bool imap_search_needs_body(const struct search_prog *p);
/* Whether the program has a MODSEQ key: the response then carries the
 * highest mod-sequence (RFC 7162 3.1.5), and the command enables
 * CONDSTORE. */
bool imap_search_has_modseq(const struct search_prog *p);
/* Whether RETURN was given (the answer is then ESEARCH), and its options
 * (SEARCH_RET_*; "RETURN ()" gives SEARCH_RET_ALL; 0 without RETURN). */
bool imap_search_has_return(const struct search_prog *p);
unsigned imap_search_return(const struct search_prog *p);

/*
 * What SAVE keeps (RFC 5182 2.4), from the UIDs of the matches in
 * ascending order: all of them, except that MIN and/or MAX without ALL or
 * COUNT keep just those. out is overwritten (seqset_free the old one
 * first) and is empty when nothing matched.
 */
void imap_search_saved(const struct search_prog *p, const uint32_t *uids, size_t n,
    struct seqset *out);

/*
 * The untagged response to a search, as a malloc'd string ending in CRLF
 * (*len its length without the NUL), from the matching numbers nums[0..n)
 * (sequence numbers, or UIDs when uid; ascending) and, when the program
 * has a MODSEQ key, their mod-sequences (modseqs NULL: no MODSEQ item).
 *  - without RETURN and !esearch: "* SEARCH 2 5 7 (MODSEQ 9)" (RFC 7162
 *    3.1.5; the MODSEQ part only when something matched)
 *  - with RETURN, or esearch (IMAP4rev2 without RETURN: ALL):
 *    "* ESEARCH (TAG "A1") UID MIN 2 MAX 7 COUNT 3 ALL 2,5,7 MODSEQ 9";
 *    MIN, MAX and ALL are left out when nothing matched, COUNT never;
 *    MODSEQ is the highest of all matches, or with MIN/MAX but neither
 *    ALL nor COUNT of just the MIN/MAX messages (RFC 7162 3.2), and left
 *    out when nothing matched.
 * NULL (and *len 0) when RETURN (SAVE) alone asks for no response.
 */
char *imap_search_response(const struct search_prog *p, const char *tag, bool uid,
    bool esearch, const uint32_t *nums, const uint64_t *modseqs, size_t n, size_t *len);

/* ---- helpers shared with imap_sort ---- */

/*
 * Case folding for comparisons (i;unicode-casemap in a simple form): ASCII
 * letters to upper case (as i;ascii-casemap, so ordering matches RFC 5256
 * SORT), and the simple Unicode case folding of Latin-1, Latin Extended-A,
 * Greek and Cyrillic (and U+1E9E, K, A-ring signs). Bytes that are not
 * valid UTF-8 are kept. No normalization. Returns a malloc'd,
 * NUL-terminated copy (never longer than the input), *outlen its length
 * (outlen may be NULL).
 */
char *imap_casefold(const char *s, size_t len, size_t *outlen);

/* A header field of a message (raw bytes of the stored text). */
struct imap_hfield {
	const char *name;	/* without the colon and blanks before it */
	size_t name_len;
	const char *value;	/* after the colon, up to the field's last line end
				 * (folding line breaks included) */
	size_t value_len;
};
/*
 * Walk the header block at the start of msg: start with *pos 0; false at
 * the end of the header (the empty line, or the end of msg). Lines that
 * are not fields (no colon) are skipped. *hdr_len (may be NULL) is set to
 * the header block's length, empty line included, once false is returned.
 */
bool imap_header_next(const char *msg, size_t len, size_t *pos, struct imap_hfield *f,
    size_t *hdr_len);

/* A mailbox of an address list (RFC 5322 3.4): name (display name, or an
 * addr-spec's trailing comment) RFC 2047-decoded UTF-8, "" when none;
 * local (addr-mailbox, quotes and escapes removed; may be ""); domain
 * (addr-host, "" when none). */
#define imap_mailbox mime_address
/* The mailboxes of an address-list field value (group names and route
 * addresses dropped), at most max of them: mime_addresses() with
 * MIME_ADDR_SEARCH | MIME_ADDR_DECODE. Iterative; never fails on
 * malformed input. Returns the count; *out is malloc'd (NULL when 0),
 * free with imap_mailboxes_free. */
size_t imap_mailboxes(const char *value, size_t len, size_t max, struct imap_mailbox **out);
void imap_mailboxes_free(struct imap_mailbox *v, size_t n);
#endif
