/* mailstore: a user's folders in one Maildir++ tree — the names IMAP shows,
 * the directories they live in, subscriptions and special-use folders.
 *
 * The root Maildir is INBOX; folder "a/b" (IMAP, hierarchy separator '/')
 * is the directory "<root>/.a.b", its levels stored in modified UTF-7 as
 * Dovecot and Courier write them (IMAP names here are UTF-8). A level may
 * not be empty, start with '.' or '~', or hold '.', '/', '\\', '%', '*',
 * control characters or invalid UTF-8; a whole name is at most 255 bytes
 * stored (the directory name ".a.b", NAME_MAX) and 16 levels deep. So no
 * name ever leaves the root. "INBOX" in any case is the root; "INBOX/x" (a
 * first level "inbox" in any case too) is the folder ".INBOX.x" (Dovecot's
 * Maildir++ layout does the same).
 *
 * Errors (*error_r) are text for a tagged NO that begins with an RFC 5530
 * response code where one fits ("[NONEXISTENT] Mailbox doesn't exist");
 * they stay valid until the next call from the same thread. */
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
	char *root;		/* the user's Maildir (INBOX, and the folders) */
	char *inbox_mbox;	/* INBOX is this mbox file instead; NULL */
};

struct mailstore_folder {
	char *name;		/* UTF-8 IMAP name, "INBOX" first */
	bool has_children;
	bool nonexistent;	/* only a parent of existing folders ("a" for ".a.b") */
	unsigned special;	/* enum special_use */
};

/* root: the user's Maildir; created (with cur/ new/ tmp/) when missing,
 * together with the default folders Drafts, Sent, Trash, Junk and Archive
 * (subscribed, with INBOX) on first use. First use: no "subscriptions"
 * file and no folder directory at all — a new Maildir, or one deliveries
 * made before the first login. A Maildir with folders (Dovecot's,
 * Courier's) gets nothing, and once the subscriptions file exists deleted
 * defaults are not made again. A symlinked root is refused (as
 * maildir_create refuses it). 0, or -1 with *error_r. */
int mailstore_open(const char *root, struct mailstore *ms, const char **error_r);
/* root may be "ROOT\nINBOX=/var/mail/user" (mailstore_spec): INBOX is then
 * that mbox file (mailstore_path gives "mbox:FILE\nROOT", which
 * mailbox_open takes) and the folders are Maildir++ folders of ROOT. */
void mailstore_close(struct mailstore *ms);
/* What mailbox_open takes for the INBOX of a store spec (POP3, which
 * opens nothing else); malloc'd. */
char *mailstore_inbox(const char *spec);

/* Check an IMAP name and give its directory (malloc'd); NULL with
 * *error_r ("Invalid mailbox name" style text, for NO). Normalizes INBOX. */
char *mailstore_path(const struct mailstore *ms, const char *name, const char **error_r);
/* "INBOX" for any case of it, else name itself (a static or name). */
const char *mailstore_canon(const char *name);

/* All folders, sorted (INBOX first, then by bytes), with parents that exist
 * only as prefixes (nonexistent). Only real directories count, never
 * symlinks, and only names that mailstore_path maps back to the same
 * directory (so not ".INBOX", ".inbox.x", "..DOVECOT-TRASH" or names that
 * are not canonical modified UTF-7). special: from the folder's
 * estafeta-special-use file ("\Sent\n"; an empty file: none); without
 * one, a top-level Drafts, Sent, Trash, Junk or Archive has its default
 * (Dovecot keeps special-use in its configuration, by these names).
 * -1 when the root cannot be read. Free with mailstore_list_free. */
int mailstore_list(const struct mailstore *ms, struct mailstore_folder **out, size_t *n_r);
void mailstore_list_free(struct mailstore_folder *f, size_t n);

/* RFC 9051 6.3.9 pattern match: '*' any characters, '%' any but the
 * separator; INBOX matched case-insensitively. */
bool mailstore_match(const char *pattern, const char *name);

/* CREATE (parents created as needed; a trailing separator is dropped):
 * 0, -1 with *error_r. Each folder gets cur/ new/ tmp/ and the empty
 * "maildirfolder" Dovecot and Courier make. special: SU_* for
 * CREATE-SPECIAL-USE (remembered in dovecot-style file
 * "<folder>/estafeta-special-use"); SU_ALL and SU_FLAGGED are virtual
 * folders we do not have: "[USEATTR]". */
int mailstore_create(struct mailstore *ms, const char *name, unsigned special,
    const char **error_r);
/* DELETE: the folder's messages and directory (not its children; INBOX
 * cannot be deleted; a folder with children loses only its messages and
 * becomes \Noselect, as RFC 9051 6.3.5 allows: its directory goes and its
 * name stays as a parent). The directory is first renamed out of sight
 * ("..estafeta-trash.*"), then cur/ new/ tmp/ and the dovecot*,
 * estafeta-*, courierimap* and maildirfolder files are removed; anything
 * else in it makes an error, and the folder (without its messages) is put
 * back. Subscriptions stay (RFC 9051 6.3.9). */
int mailstore_delete(struct mailstore *ms, const char *name, const char **error_r);
/* RENAME (children move too: ".a.b" -> ".x.b"; parents of the new name
 * are made; subscriptions of the name and its children follow. INBOX: its
 * messages (cur/ and new/) move to the new folder with a copy of
 * dovecot-keywords and get new UIDs there; INBOX and its children stay,
 * RFC 9051 6.3.6). Nothing moves when the new name or a child's is taken. */
int mailstore_rename(struct mailstore *ms, const char *from, const char *to,
    const char **error_r);

/* Subscriptions (the Maildir++ "subscriptions" file, Dovecot's format,
 * rewritten under Dovecot's "subscriptions.lock"). The folder need not
 * exist. Unsubscribing a name that is not there succeeds; it may be a name
 * another program wrote that our naming rules refuse. */
int mailstore_subscribe(struct mailstore *ms, const char *name, bool on, const char **error_r);
/* Subscribed names, UTF-8 (malloc'd array of malloc'd strings); names
 * that are not modified UTF-7 are left out. */
int mailstore_subscriptions(const struct mailstore *ms, char ***names_r, size_t *n_r);
#endif
