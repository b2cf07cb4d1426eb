/* mdfiles: the small files of a Maildir++ mailbox that Dovecot (and Courier)
 * write beside the messages, so that an existing Dovecot Maildir is adopted
 * in place and Dovecot can read ours: dovecot-uidlist (UID <-> file name,
 * UIDVALIDITY, next UID), dovecot-keywords (keyword <-> letter a..z), the
 * subscriptions file, and the ":2,FLAGS" info of a Maildir file name. Pure
 * parse and format; the store does the I/O, locking and renames.
 *
 * The rules below are those of Dovecot 2.3's own readers and writers
 * (checked against files a private Dovecot 2.3.19 wrote, tests/unit/data/
 * dovecot/, and by tools/dovecot_compat.py). Where we are stricter than
 * Dovecot it is said; a file we refuse is one Dovecot calls broken too or
 * one no Dovecot writes. */
#ifndef MDFILES_H
#define MDFILES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- dovecot-uidlist ----
 * Version 3 (all Dovecot since 1.1):
 *   "3 V<uidvalidity> N<nextuid> G<mailbox guid, 32 hex>[ <other fields>]\n"
 * then per message "<uid>[ <ext fields>] :<base name>\n", UIDs ascending.
 * Extension fields are "<A-Z><value>": W<vsize> and S<size> when the name
 * has no ,W= / ,S=, G<message guid>, P<pop3 uidl>, O<pop3 order>.
 * Version 1 (Courier, Dovecot 1.0): "1 <uidvalidity> <nextuid>\n" then
 * "<uid> <name>\n". Version 2 only existed in Dovecot development snapshots
 * and Dovecot 2.3 refuses it; so do we.
 *
 * Dovecot appends the records of new messages without rewriting the
 * header, so N is often at or below the last UID; like Dovecot we use
 * max(N, last UID + 1). It also leaves expunged messages listed until the
 * next rewrite. Lines end in LF (a CR before it is dropped); an unterminated
 * last line is an append in progress and is ignored, as Dovecot does.
 * Reading stops (and `truncated` is set) at a line longer than 4095 bytes,
 * where Dovecot's 4 KiB read buffer stops too. A file name is kept up to its
 * first ':' (Dovecot compares base names, and 2.3 writes only those; older
 * versions wrote ":2,FLAGS" too). Two records with the same name:
 * the later one wins, as in Dovecot. Extension fields whose key is not A-Z
 * are dropped (Dovecot drops them too); unknown header fields and the other
 * extension fields are kept and written back as they were. */
struct uidlist_rec {
	uint32_t uid;
	char *name;		/* base name: 1-255 bytes, no '/', ':', CR, LF or NUL */
	char *ext;		/* extension fields, one space apart ("W2048 S2000"), or NULL */
};

struct uidlist {
	unsigned version;	/* as read (1 or 3); uidlist_format writes 3 */
	uint32_t uidvalidity;
	uint32_t next_uid;	/* above every listed UID */
	char guid[33];		/* mailbox GUID as written; "" when absent */
	char *hdr_extra;	/* other header fields, one space apart, or NULL */
	bool truncated;		/* reading stopped at an over-long line */
	struct uidlist_rec *recs;	/* ascending uid */
	size_t n, cap;
};

/* NULL-safe; leaves *u zeroed. */
void uidlist_free(struct uidlist *u);
/* 0, or -1 with *error_r (static text) and *line_r (1-based line). Errors:
 * an empty file or header, a version other than 1 and 3, a header without a
 * non-zero V and N (or a G that is not 32 hex digits), a NUL byte, a CR that
 * does not end the line, a UID that is 0, not decimal, 4294967295 or more,
 * or not above the previous one, version 1 UIDs at or above the header's
 * next UID, a record without ':' (version 3), an empty name, one with '/'
 * or one over 255 bytes, more than max_recs records. out is zeroed first
 * and freed on error. */
int uidlist_parse(const char *text, size_t len, size_t max_recs, struct uidlist *out,
    const char **error_r, unsigned *line_r);
/* The whole file (version 3), NUL-terminated, malloc'd; *len_r its length.
 * The G field is left out when guid is "" (Dovecot then adds one). */
char *uidlist_format(const struct uidlist *u, size_t *len_r);
/* Append a record: uid above the last record's (next_uid becomes uid + 1
 * when needed), a base name as above, ext NULL or fields as above. 0, or -1
 * when any of that does not hold. */
int uidlist_append(struct uidlist *u, uint32_t uid, const char *name, const char *ext);
/* Binary search by uid; NULL when absent. */
const struct uidlist_rec *uidlist_find(const struct uidlist *u, uint32_t uid);
/* The value of extension field key ('W', 'S', 'G', 'P', 'O', ...) of a
 * record: 0 with *value_r (not NUL-terminated) and *len_r, or -1. */
int uidlist_rec_ext(const struct uidlist_rec *r, char key, const char **value_r,
    size_t *len_r);

/* ---- Maildir file names ----
 * "<base>[:2,<flags>[,<other>]]". Base names carry ",S=<size>" and
 * ",W=<vsize>" (size with CRLF line ends) when the writer knew them. Flags:
 * D draft, F flagged, P passed, R replied, S seen, T trashed; a..z are
 * keywords (dovecot-keywords). Dovecot takes the base up to the first ':'
 * and the info from the last ':'; it ignores flags it does not know
 * (including P: it keeps $Forwarded as a keyword) and keeps them, and
 * whatever follows a ',' in the flags, when it renames. */
enum md_flag {
	MDF_DRAFT = 1 << 0,
	MDF_FLAGGED = 1 << 1,
	MDF_PASSED = 1 << 2,
	MDF_REPLIED = 1 << 3,
	MDF_SEEN = 1 << 4,
	MDF_TRASHED = 1 << 5,
};

struct md_name {
	size_t base_len;	/* bytes up to the first ':' (what the uidlist stores) */
	size_t info_off;	/* offset of the last ':', or the name's length */
	unsigned flags;		/* enum md_flag */
	uint32_t keywords;	/* bit i: letter 'a' + i */
	bool has_info;		/* the last ':' starts ":2," */
	int64_t size, vsize;	/* from the first ,S= and ,W= of the base; -1 when
				 * absent, empty, over INT64_MAX or not followed by
				 * ',' or the end of the base (Dovecot reads an
				 * empty value as 0) */
};
/* Never fails: unknown flags are ignored (md_name_format keeps them). */
void md_name_parse(const char *name, struct md_name *out);
/* name[0..len) is a base or a whole file name; writes "<name without its
 * info>:2,<flags>" into out (NUL-terminated), the flags in ASCII order
 * (DFPRST, then the keyword letters), with the unknown flag characters and
 * any ",<other>" of the old ":2," info kept as Dovecot keeps them. Returns
 * the length, or -1 when it does not fit or the name is empty before its
 * ':' or holds '/' or NUL. */
int md_name_format(const char *name, size_t len, unsigned flags, uint32_t keywords, char *out,
    size_t outsz);

/* ---- dovecot-keywords ----
 * "<index> <keyword>\n" lines, index 0..25 -> letters a..z, written in index
 * order. Dovecot skips a line without a space, with an index that is not
 * plain decimal below 26 or with an empty name, lets a later line for an
 * index replace an earlier one, ignores an unterminated last line and stops
 * reading at a line over its 1 KiB buffer; so does md_keywords_parse (and
 * it skips names with control characters). Keywords are compared ASCII
 * case-insensitively, as Dovecot's dovecot-keywords lookup does; when two
 * indexes hold the same name, the one from the later line is found. */
struct md_keywords {
	char *names[26];	/* NULL where unused */
	unsigned seq[26];	/* order in which names[i] was set; 0 = unset */
	unsigned next_seq;
};
/* NULL-safe; leaves *k zeroed. */
void md_keywords_free(struct md_keywords *k);
/* 0, or -1 for a NUL byte. out is zeroed first. */
int md_keywords_parse(const char *text, size_t len, struct md_keywords *out);
char *md_keywords_format(const struct md_keywords *k, size_t *len_r);
/* Index of a keyword, or -1. */
int md_keywords_find(const struct md_keywords *k, const char *name);
/* Index of name, given the first free index when new (as Dovecot does);
 * -1 when all 26 are taken or name is empty or has a control character. */
int md_keywords_add(struct md_keywords *k, const char *name);

/* ---- subscriptions ----
 * Dovecot 2.x writes "V\t2\n\n" then one mailbox per line, its hierarchy
 * levels TAB-separated, each tab-escaped (\001 -> \0011, TAB -> \001t,
 * CR -> \001r, LF -> \001n); without that header (version 1, Dovecot 1.x)
 * a line is the name with Maildir++'s '.' between levels. Names are storage
 * names: modified UTF-7 as Dovecot 2.3 writes them by default (kept as they
 * are here, see imap/mutf7.h). md_subs holds them with `sep` between levels
 * (estafeta's IMAP uses '/'). Like Dovecot, parsing drops one trailing
 * separator, takes an unterminated last line, strips a CR before LF and
 * fails on a line over 4096 bytes; it skips names it cannot show (empty,
 * an empty level, a level holding sep, control characters) where Dovecot
 * drops them from the file, and keeps the first of duplicates. "inbox" in
 * any case is "INBOX", as Dovecot stores it. */
struct md_subs {
	char **names;
	size_t n, cap;
	char sep;		/* hierarchy separator of names; set before md_subs_add */
};
/* NULL-safe; leaves *s zeroed. */
void md_subs_free(struct md_subs *s);
/* 0, or -1 with *error_r: NUL byte, line too long, more than max names.
 * out is zeroed first (sep set) and freed on error. */
int md_subs_parse(const char *text, size_t len, size_t max, char sep, struct md_subs *out,
    const char **error_r);
/* Version 2 text, malloc'd, NUL-terminated. */
char *md_subs_format(const struct md_subs *s, size_t *len_r);
/* Add: 0 (also when already there), -1 for a name the parser would skip. */
int md_subs_add(struct md_subs *s, const char *name);
/* 0 when removed, -1 when it was not there. */
int md_subs_remove(struct md_subs *s, const char *name);
#endif
