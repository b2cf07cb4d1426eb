/* mailstore: a user's folders in one Maildir++ tree — the names IMAP shows,
 * the directories they live in, subscriptions and special-use folders.
 *
 * The root Maildir is INBOX; folder "a/b" (IMAP, hierarchy separator '/')
 * is the directory "<root>/.a.b", its levels stored in modified UTF-7 as
 * Dovecot and Courier write them (IMAP names here are UTF-8). A level may
 * not be empty, start with '.' or '~', or hold '.', '/', '\\', '%', '*',
 * control characters or invalid UTF-8; a whole name is at most 255 bytes
 * stored and 16 levels deep. So no name ever leaves the root. "INBOX" in
 * any case is the root; "INBOX/x" is the folder ".INBOX.x" (Dovecot's
 * Maildir++ layout does the same). */
#ifndef MAILSTORE_H
#define MAILSTORE_H
#include <stdbool.h>
#include <stddef.h>

#define MAILSTORE_SEP '/'

/* RFC 6154 special-use attributes. */
enum special_use {
	SU_NONE = 0,
	SU_ALL = 1 << 0,
	SU_ARCHIVE = 1 << 1,
	SU_DRAFTS = 1 << 2,
	SU_FLAGGED = 1 << 3,
	SU_JUNK = 1 << 4,
	SU_SENT = 1 << 5,
	SU_TRASH = 1 << 6,
};

struct mailstore {
	char *root;		/* the user's Maildir (INBOX) */
};

struct mailstore_folder {
	char *name;		/* UTF-8 IMAP name, "INBOX" first */
	bool has_children;
	bool nonexistent;	/* only a parent of existing folders ("a" for ".a.b") */
	unsigned special;	/* enum special_use */
};

/* root: the user's Maildir; created (with cur/ new/ tmp/) when missing,
 * together with the default folders Drafts, Sent, Trash, Junk and Archive
 * (subscribed) on first use. 0, or -1 with *error_r. */
int mailstore_open(const char *root, struct mailstore *ms, const char **error_r);
void mailstore_close(struct mailstore *ms);

/* Check an IMAP name and give its directory (malloc'd); NULL with
 * *error_r ("Invalid mailbox name" style text, for NO). Normalizes INBOX. */
char *mailstore_path(const struct mailstore *ms, const char *name, const char **error_r);
/* "INBOX" for any case of it, else name itself (a static or name). */
const char *mailstore_canon(const char *name);

/* All folders, sorted (INBOX first), with parents that exist only as
 * prefixes. Free with mailstore_list_free. */
int mailstore_list(const struct mailstore *ms, struct mailstore_folder **out, size_t *n_r);
void mailstore_list_free(struct mailstore_folder *f, size_t n);

/* RFC 9051 6.3.9 pattern match: '*' any characters, '%' any but the
 * separator; INBOX matched case-insensitively. */
bool mailstore_match(const char *pattern, const char *name);

/* CREATE (parents created as needed; a trailing separator is dropped):
 * 0, -1 with *error_r. special: SU_* for CREATE-SPECIAL-USE (remembered in
 * dovecot-style file "<folder>/estafeta-special-use"). */
int mailstore_create(struct mailstore *ms, const char *name, unsigned special,
    const char **error_r);
/* DELETE: the folder's messages and directory (not its children; INBOX
 * cannot be deleted; a folder with children loses only its messages and
 * becomes \Noselect, as RFC 9051 6.3.5 allows). */
int mailstore_delete(struct mailstore *ms, const char *name, const char **error_r);
/* RENAME (children move too; INBOX: its messages move to the new folder
 * and INBOX stays, RFC 9051 6.3.6). */
int mailstore_rename(struct mailstore *ms, const char *from, const char *to,
    const char **error_r);

/* Subscriptions (the Maildir++ "subscriptions" file, Dovecot's format). */
int mailstore_subscribe(struct mailstore *ms, const char *name, bool on, const char **error_r);
/* Subscribed names (malloc'd array of malloc'd strings). */
int mailstore_subscriptions(const struct mailstore *ms, char ***names_r, size_t *n_r);
#endif
