/* mime: MIME structure of a stored message (RFC 2045-2049, RFC 2231
 * parameters, RFC 2047 encoded words) and the IMAP views built from it:
 * ENVELOPE, BODYSTRUCTURE/BODY, section addressing (RFC 9051 6.4.5).
 * Pure and bounded. Messages are stored with LF line ends; IMAP counts
 * CRLF, so every size has a raw form (bytes stored) and a virtual form
 * (raw + number of LFs not already preceded by CR). CRLF-stored input
 * works too. */
#ifndef MIME_H
#define MIME_H
#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct mime_param {
	char *name;		/* lower-cased; an RFC 2231 extended value keeps its
				 * '*' ("filename*") */
	char *name_raw;		/* as written (BODYSTRUCTURE shows this, as Dovecot does) */
	char *value;		/* RFC 2231 continuations joined; charset'lang' and %XX
				 * kept as sent (a plain segment joined to extended ones
				 * gets its '%' escaped as %25) */
};

struct mime_part {
	/* where: byte offsets into the stored message */
	size_t hdr_off, hdr_len;	/* header block, including the empty line */
	size_t body_off, body_len;
	size_t hdr_lines, body_lines;	/* LF counts (BODYSTRUCTURE "lines") */
	size_t hdr_vlen, body_vlen;	/* CRLF sizes; = len + lines for LF-stored text */
	/* Content-Type (defaults: text/plain charset=us-ascii; message/rfc822 in
	 * multipart/digest), lower-cased type and subtype; the _raw twins are
	 * as written, for BODYSTRUCTURE. A text/ part without a (plain)
	 * charset gets charset=us-ascii appended to params, as Dovecot shows. */
	char *type, *subtype;
	char *type_raw, *subtype_raw;
	struct mime_param *params;	/* plain ones in order, then RFC 2231 ones by name */
	size_t nparams;
	char *id, *description, *md5;	/* unfolded values; NULL when absent */
	char *encoding;			/* upper-cased token, default "7BIT" */
	char *encoding_raw;		/* as written, default "7bit" */
	char *disposition;		/* NULL when absent, lower-cased */
	char *disposition_raw;
	struct mime_param *disp_params;
	size_t ndisp_params;
	char *language, *location;	/* as written (language list comma separated) */
	struct mime_part *children;	/* multipart parts, in order; none when the
					 * boundary is missing or never appears */
	size_t nchildren;
	struct mime_part *message;	/* message/rfc822 (and global): the enclosed message */
	unsigned depth;			/* root 0 */
	bool opaque;			/* not parsed (limits): shown as
					 * application/octet-stream, hdr_len 0 */
};

/* Limits. Beyond max_depth, or once max_parts parts exist, a multipart or
 * message/rfc822 part gets one opaque child covering its whole body
 * (Dovecot does the same for messages); a multipart that runs out of
 * parts while being split folds the rest of its body (later boundaries,
 * epilogue) into its last part. Opaque children are not counted, so a
 * message never has more than 2 * max_parts parts, and parsing costs
 * O(len * min(max_depth, nesting)). */
struct mime_limits {
	unsigned max_depth;	/* nesting (multipart and message/rfc822) */
	size_t max_parts;	/* parts in total (opaque ones aside) */
	size_t max_header;	/* bytes of one header block examined for MIME fields */
};
#define MIME_MAX_DEPTH_DEFAULT	100
#define MIME_MAX_PARTS_DEFAULT	10000
#define MIME_MAX_HEADER_DEFAULT	(256 * 1024)

struct mime_msg {
	const char *data;	/* the message (borrowed) */
	size_t len;
	struct mime_part root;
	size_t nparts;		/* all parts, opaque ones included */
	void *arena;
};

/* Parse (lim NULL: the defaults above); never fails on malformed input
 * (best effort like every IMAP server): missing boundaries end at the
 * parent's end, bad headers are skipped, an invalid Content-Type is the
 * default. Always 0 (running out of memory is fatal). */
int mime_parse(const char *data, size_t len, const struct mime_limits *lim, struct mime_msg *out);
void mime_free(struct mime_msg *m);

/* The first parameter named name (case-insensitive), plain or RFC 2231
 * extended ("name*"), or NULL. */
const struct mime_param *mime_param_find(const struct mime_param *params, size_t n,
    const char *name);

/* A growing output buffer; start from all zeroes. Output is appended and
 * kept NUL-terminated. The name stays for callers; it is lib/buf.h's. */
#define mime_buf buf
static inline void
mime_buf_free(struct mime_buf *b)
{
	buf_free(b);
}

/* IMAP ENVELOPE of a header block, parentheses included: (date subject
 * from sender reply-to to cc bcc in-reply-to message-id). Values are raw
 * (unfolded, nothing decoded), NIL when missing; sender and reply-to
 * default to from; groups as (NIL NIL "name" NIL) ... (NIL NIL NIL NIL);
 * a mailbox without local part or domain gets "MISSING_MAILBOX" or
 * "MISSING_DOMAIN" (as Dovecot). Strings are quoted ('"' and '\' escaped)
 * or literals {n}\r\n when they hold CR, LF, NUL (sent as U+FFFD) or
 * 8-bit bytes. */
void mime_envelope(const char *hdr, size_t len, struct mime_buf *out);
/* A mailbox of an address list (RFC 5322 3.4). */
struct mime_address {
	char *name;	/* display name (or an addr-spec's trailing comment), line
			 * breaks dropped; "" when none */
	char *local;	/* local part; may be "" */
	char *domain;	/* domain, "" when none */
};
/* mime_addresses flags */
#define MIME_ADDR_DECODE	0x01	/* names RFC 2047-decoded to UTF-8 */
#define MIME_ADDR_SEARCH	0x02	/* read as SEARCH and SORT always have,
					 * where it differs from ENVELOPE: see below */
/*
 * The mailboxes of an address-list field value (group names and route
 * addresses dropped), at most max of them, read as ENVELOPE reads them
 * (the same parser): local part and domain as written, quotes included.
 * With MIME_ADDR_SEARCH instead:
 *  - local part and domain lose their quotes and backslash escapes;
 *  - an addr-spec outside "<>" is a mailbox only when its local part or
 *    domain is left non-empty (ENVELOPE: when it has text or an "@");
 *  - a blank written before a "." in a display name is kept;
 *  - in an obs-route, words after a "," are route too ("<@a,b:c@d>" is
 *    c@d; ENVELOPE reads b and drops the rest).
 * Iterative; never fails on malformed input. Returns the count; *out is
 * malloc'd (NULL when 0), free with mime_addresses_free.
 */
size_t mime_addresses(const char *value, size_t len, size_t max, unsigned flags,
    struct mime_address **out);
void mime_addresses_free(struct mime_address *v, size_t n);

/* BODYSTRUCTURE (extended) or BODY (not extended) of a part, parentheses
 * included, same string rules. Sizes are virtual, "lines" are LF counts;
 * a multipart without parts shows one empty text/plain part (as Dovecot).
 * Iterative: no recursion however deep the tree. */
void mime_bodystructure(const struct mime_msg *m, const struct mime_part *p, bool extended,
    struct mime_buf *out);

/* The part for a section number ("1.2.3"; "" is the whole message). NULL
 * when there is no such part. For a message/rfc822 part, "N" names the
 * part itself and its sub-parts go on through the enclosed message; a
 * non-multipart message (the root, or an enclosed one) has only part 1,
 * itself. */
const struct mime_part *mime_section(const struct mime_msg *m, const char *section);

/* Header fields (unfolded: line breaks removed, leading blanks skipped;
 * name case-insensitive): the value of the first named field, or NULL.
 * Free with free(). */
char *mime_header_get(const char *hdr, size_t len, const char *name);
/* Header block restricted to (or without, when not) the named fields, in
 * the original order and form, ending with the empty line (CRLF when the
 * block uses CRLF, else LF) — for BODY[HEADER.FIELDS (...)] and
 * HEADER.FIELDS.NOT. */
void mime_header_fields(const char *hdr, size_t len, const char *const *names, size_t nnames,
    bool not, struct mime_buf *out);

/* RFC 2047 encoded words in a header value to UTF-8 (Q and B, any charset
 * iconv knows; unknown charsets and malformed words: kept as written);
 * whitespace between adjacent encoded words dropped; line breaks removed.
 * The result is valid UTF-8 without NUL (bad bytes become U+FFFD). For
 * SEARCH and SORT. Free with free(). */
char *mime_decode_words(const char *value, size_t len);
/* Undo a part's Content-Transfer-Encoding (the upper-cased token of
 * struct mime_part), appending the result to out: BASE64 leniently (junk
 * skipped, "=" ends a group: some senders glue encoded blocks together),
 * QUOTED-PRINTABLE with soft line breaks (LF or CRLF, blanks before them
 * allowed; a bad escape is kept as written). false, and nothing appended,
 * for any other encoding (NULL included): the body is as stored. */
bool mime_decode_body(const char *encoding, const char *s, size_t n, struct mime_buf *out);
/* Convert n bytes of s with cd (from iconv_open("UTF-8", charset)),
 * appending to out; a byte it cannot convert becomes U+FFFD and is
 * skipped, an incomplete sequence at the end becomes U+FFFD. With clean
 * the output is also made valid UTF-8 without NUL (as for header text);
 * without it, it is kept as iconv wrote it (body text may hold NUL). */
void mime_iconv(iconv_t cd, const char *s, size_t n, bool clean, struct mime_buf *out);
/* Parse an RFC 5322 date (with the obsolete forms: 2- and 3-digit years,
 * no seconds, named and military zones, comments) to a UTC time (seconds
 * since the epoch) and the zone offset in minutes. An unknown or missing
 * zone counts as +0000. -1 when unparseable. utc and tz_minutes may be
 * NULL. */
int mime_parse_date(const char *value, long long *utc, int *tz_minutes);
/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, m 1-12); negative
 * before it. */
long long mime_days_from_civil(long long y, unsigned m, unsigned d);
/* The index of the ")" closing the RFC 5322 comment that opens at s[i]
 * == '(' (comments nest, backslash escapes), or n when it never closes. */
size_t mime_comment_end(const char *s, size_t n, size_t i);
#endif
