/* mboxfile: read and rewrite an mbox file (/var/mail/<user>) as Dovecot 2.3
 * and mutt keep it, so that IMAP and POP3 can serve it: where each message
 * starts and ends, the metadata headers Dovecot and c-client (UW-IMAP, Pine)
 * keep in it, the message as a client sees it, and the text of a whole-file
 * rewrite or of an append. Pure: the caller reads, locks and writes the
 * file; nothing here does I/O or keeps state between calls.
 *
 * The format, as read here:
 *  - A message starts with a "From " line (From_) at the start of the text
 *    or right after an empty line ("\n" or "\r\n"). A "From " line after a
 *    non-empty line is body text (mutt and Dovecot are lenient the same
 *    way). Empty lines before the first From_ line are skipped; any other
 *    text there is an error.
 *  - The empty line before the next From_ line, and one empty last line of
 *    the file (also a lone "\r" there: a CRLF file cut short), separate
 *    messages and belong to no message.
 *  - Content-Length moves a boundary only where Dovecot's reader lets it:
 *    when the body it gives ends with an empty line followed by a From_
 *    line, or at the end of the text, and reaches past the first such
 *    place. Dovecot's writer leaves "From " lines in bodies unquoted and
 *    relies on it; mboxrd and mboxo files (mutt, mbox_deliver) do not need
 *    it, and one that points anywhere else is ignored.
 *  - Headers run from the line after From_ to the first empty line; the
 *    body follows it. Lines end in LF; CRLF is tolerated ("\r\n" is an
 *    empty line too) and kept as stored.
 *  - Every line of the message (headers too: mbox_deliver quotes them all)
 *    matching ^>*From  was given one more '>' when written (mboxrd); the
 *    message as a client sees it has one '>' removed from lines matching
 *    ^>+From . Dovecot itself neither quotes nor unquotes (it relies on
 *    Content-Length); mutt and mbox_deliver quote.
 *  - Metadata headers (names in any case, folded values allowed, the first
 *    of duplicates wins):
 *      Status: R = \Seen, O = old (not \Recent)
 *      X-Status: A = \Answered, F = \Flagged, T = \Draft, D = \Deleted
 *      X-Keywords: keyword names, separated by spaces (or commas, folding)
 *      X-UID: the UID, decimal
 *      X-IMAPbase: "<uidvalidity> <last used UID>[ <keyword names>]", first
 *        message only (a later one is hidden but not read). The second
 *        number is the last UID given out, as Dovecot and c-client write
 *        it, not UIDNEXT.
 *      X-IMAP: the same, marking the first message as the pseudo message
 *        ("DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA") that
 *        c-client and Dovecot keep in an otherwise empty mbox.
 *    These and Content-Length are hidden from clients, as Dovecot hides
 *    them (mbox_hide_headers: a stored Content-Length describes the stored
 *    body, not what the client is shown). */
#ifndef MBOXFILE_H
#define MBOXFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

struct mboxf_msg {
	size_t from_off;	/* the "From " line */
	size_t hdr_off;		/* first header line (after the From_ line's LF) */
	size_t hdr_end;		/* the empty line that ends the headers; == end when none */
	size_t body_off;	/* first byte of the body, after that empty line; == end
				 * when there is no empty line */
	size_t end;		/* end of the message, without the separating empty line */
	uint32_t uid;		/* X-UID; 0 when absent, 0, not decimal or over UINT32_MAX */
	unsigned flags;		/* MF_SEEN | MF_ANSWERED | MF_FLAGGED | MF_DRAFT | MF_DELETED
				 * (store/mflags.h) from Status and X-Status */
	bool old;		/* Status has O: seen by a previous session, not \Recent */
	size_t kw_off, kw_len;	/* the X-Keywords value as stored (folding included),
				 * without the whitespace around it; kw_len 0 when absent */
	int64_t from_date;	/* the From_ line's date as seconds since the epoch, read
				 * as UTC; -1 when unparsable or before 1970 */
	bool from_date_local;	/* that date had no zone (or one named other than
				 * UT/UTC/GMT): it is the writer's wall clock, so off
				 * by the writer's UTC offset. mbox_deliver, mutt and
				 * Dovecot write local time; mboxf_format_new UTC. */
};

struct mboxf {
	struct mboxf_msg *m;
	size_t n;
	uint32_t uidvalidity;	/* X-IMAPbase of the first message; 0 when absent or */
	uint32_t uid_last;	/* its numbers are not decimal, over UINT32_MAX, or
				 * uidvalidity is 0 (both are then 0) */
	size_t base_kw_off, base_kw_len;	/* keyword names after the two numbers
						 * (raw), base_kw_len 0 when none */
	bool pseudo;		/* the first message has X-IMAP: the pseudo message */
};

/* Parse buf[0..len) (may hold NUL bytes; need not end in LF). 0, or -1 with
 * *error_r (static text) and *line_r (1-based line) for text before the
 * first From_ line or more than max_msgs messages. An empty text, or one of
 * only empty lines, is an empty mbox. out is zeroed first and freed on
 * error. Offsets hold: from_off < hdr_off <= hdr_end <= body_off <= end <=
 * next from_off, end <= len. Linear in len. */
int mboxf_parse(const char *buf, size_t len, size_t max_msgs, struct mboxf *out,
    const char **error_r, unsigned *line_r);
/* NULL-safe; leaves *f zeroed. */
void mboxf_free(struct mboxf *f);

/* The message as IMAP and POP3 show it: the header lines without Status,
 * X-Status, X-Keywords, X-UID, X-IMAPbase, X-IMAP and Content-Length
 * (each with its continuation lines), then the empty line and the body, all
 * with one '>' removed from lines matching ^>+From . Line ends as stored
 * (LF; CRLF when the file has them); the last line has no LF when the
 * file's last line had none. malloc'd, NUL-terminated; *len_r its length
 * (the text may hold NUL bytes). */
char *mboxf_message(const char *buf, const struct mboxf_msg *m, size_t *len_r);
/* Its length, without building it (RFC822.SIZE, POP3 LIST count LF as one
 * byte here: the caller adds the CRs). Always equal to mboxf_message's. */
size_t mboxf_message_size(const char *buf, const struct mboxf_msg *m);

/* The next keyword name of a raw keyword list (a kw_off/kw_len or
 * base_kw_off/base_kw_len range, or mboxf_update.keywords): names are runs
 * of bytes other than ',' and bytes at or below ' ' or 0x7f. Scanning from
 * *pos: true with the name at s + *off_r, *len_r bytes long, and *pos past
 * it; false when no name is left. */
bool mboxf_next_keyword(const char *s, size_t len, size_t *pos, size_t *off_r, size_t *len_r);

/* New metadata for one message. keywords: names as mboxf_next_keyword reads
 * them (written one space apart; separators and control bytes never reach
 * the file), NULL or "" for none. flags: the MF_* bits above (MF_RECENT and
 * others are ignored). old: write O in Status. */
struct mboxf_update {
	bool keep;		/* false: expunged, left out of the rewrite */
	uint32_t uid;		/* X-UID when non-zero */
	unsigned flags;
	bool old;
	const char *keywords;
};

/* A whole new mbox text, appended to out: every kept message of f (upd[i]
 * for f->m[i]), in order, as
 *   its From_ line (given an LF when it had none, at the end of the file);
 *   its header lines without Status, X-Status, X-Keywords, X-UID,
 *     X-IMAPbase, X-IMAP and Content-Length (all others are kept, in
 *     order; an unterminated last header line gets its LF);
 *   the new metadata headers, in Dovecot's order:
 *     "X-IMAPbase: <uidvalidity> <uid_last, 10 digits zero-padded>[ <names>]"
 *       on the first kept message only, when uidvalidity is non-zero; it is
 *       "X-IMAP: ..." (written even for uidvalidity 0) when that message is
 *       f's pseudo message, so that it stays one;
 *     "X-UID: <uid>" when uid is non-zero;
 *     "Status: " R (MF_SEEN) then O (old), when either;
 *     "X-Status: " A F T D (answered, flagged, draft, deleted), when any;
 *     "X-Keywords: <names one space apart>" when there is a name;
 *     "Content-Length: <the body's length as written>" when it had one
 *       (and a body), so it always points at its own end;
 *   its empty line and body, byte for byte (so still quoted; an
 *     unterminated last line, which only the file's last message can have,
 *     gets an LF: the one change a message's text can see);
 *   then "\n", the separating empty line, after every message, the last
 *     one too (so the text ends in an empty line and is ready for an
 *     append; mbox_deliver does the same).
 * Nothing when no message is kept. Rewriting what this wrote with the same
 * metadata gives the same text. */
void mboxf_rewrite(const char *buf, const struct mboxf *f, const struct mboxf_update *upd,
    uint32_t uidvalidity, uint32_t uid_last, const char *base_keywords, struct buf *out);

/* One new message in mbox form for IMAP APPEND or COPY into the mbox,
 * appended to out:
 *   "From <sender> <date>\n": sender as mbox_deliver writes it (NULL or ""
 *     -> MAILER-DAEMON, blanks and controls -> '_'), date the asctime form
 *     of idate in UTC, without zone ("Thu Nov 26 10:00:00 2026"); an idate
 *     before 1970 or after 9999 is written as the epoch;
 *   msg with every CRLF turned into LF, its header lines (up to the first
 *     empty line as mboxf_parse will see it once stored: "\n", "\r\n",
 *     or a lone "\r" last) without any of the headers
 *     mboxf_message hides (a client must not set UIDs or flags that way),
 *     the metadata headers of upd (as mboxf_rewrite writes them, without
 *     X-IMAPbase; upd->keep is ignored) before the empty line (at the end
 *     when there is none), then the empty line and body; every line
 *     mboxrd-quoted;
 *   ending in exactly one "\n": the last line's LF, added when msg's last
 *     line had none (so a message that is not empty always ends in LF).
 * The separating empty line is the caller's: write mboxf_append_sep() of
 * the file's end before this text and "\n" after it. Then mboxf_message of
 * the new message is msg with CRLF turned into LF, the hidden headers left
 * out, and an LF after an unterminated last line. */
void mboxf_format_new(const char *msg, size_t len, const char *sender, int64_t idate,
    const struct mboxf_update *upd, struct buf *out);

/* What to write at the end of an mbox text before a new From_ line, so
 * that it starts a message and the last message keeps its text (but for
 * the LF an unterminated last line needs): "" when the text is empty or
 * ends in an empty line, "\n" when it ends in LF or in an empty line
 * missing its LF (a lone "\r"), "\n\n" otherwise. tail is the whole text
 * or at least its last 3 bytes. */
const char *mboxf_append_sep(const char *tail, size_t len);

/* ---- shared with mbox_deliver ---- */

/* "From <sender> <asctime of tm>\n": sender as described at
 * mboxf_format_new, tm a broken-down time (local or UTC, the caller's
 * choice; tm_wday and tm_mon are taken modulo 7 and 12, so a bad one
 * cannot index out of the name tables). */
void mboxf_add_from_line(struct buf *out, const char *sender, const struct tm *tm);

/* mboxrd quoting, streamed: every line matching ^>*From  gets one more
 * '>'. Text may come in pieces of any size, cut anywhere. */
struct mboxf_quoter {
	bool bol;		/* at a line start, or only '>'s since it */
	unsigned char held;	/* bytes of "From " matched there, not yet written */
};
/* bol: whether the first byte starts a line. */
void mboxf_quote_init(struct mboxf_quoter *q, bool bol);
void mboxf_quote(struct mboxf_quoter *q, const char *s, size_t n, struct buf *out);
/* Writes what is held back (a line cut inside "From "). */
void mboxf_quote_end(struct mboxf_quoter *q, struct buf *out);
#endif
