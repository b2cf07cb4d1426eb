/* mailbox_mbox: an mbox file behind the mailbox API (store/mailbox.h), for
 * an INBOX in /var/mail/%u. Private to src/store: mailbox.c calls these
 * when a mailbox is opened with an "mbox:" spec.
 *
 * The file stays what Dovecot, mutt and the deliveries read: UIDs in X-UID
 * and X-IMAPbase, flags in Status/X-Status, keywords in X-Keywords
 * (store/mboxfile.h). Changes are kept in memory and written at the next
 * sync or flush, by rewriting the file in place from the first byte that
 * differs (a delivery appends; most rewrites touch only the tail). Locks:
 * fcntl on the file, and a dotlock when its directory is writable, as the
 * deliveries take them. A rewrite first saves the bytes it replaces in a
 * journal (fsync'd), so a crash in the middle is undone at the next open;
 * where no journal can be written (the directory and no folder root
 * writable) the rewrite is not protected, as with Dovecot and mutt. */
#ifndef MAILBOX_MBOX_H
#define MAILBOX_MBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mailbox;
struct mbx_mbox;

/* mailbox.c: where a mailbox keeps its mbox state; a new zeroed message
 * at the end of mb->m; a message's allocations freed. */
struct mbx_msg;
struct mbx_mbox **mailbox_mbox_slot(struct mailbox *mb);
struct mbx_msg *mailbox_push(struct mailbox *mb);
void mailbox_msg_free(struct mbx_msg *m);

/* spec: "mbox:PATH" or "mbox:PATH\nJOURNALDIR". A missing file is an
 * empty mailbox (created by the first append). */
int mbox_box_open(struct mailbox *mb, const char *spec, const char **error_r);
void mbox_box_free(struct mailbox *mb);
int mbox_box_sync(struct mailbox *mb, bool force, const char **error_r);
/* Write what changed in memory (flags, expunges, new UIDs). */
int mbox_box_flush(struct mailbox *mb, const char **error_r);
bool mbox_box_pending(const struct mailbox *mb);
/* Message i's flags changed, or it was expunged (uid): written later. */
void mbox_box_touch(struct mailbox *mb, size_t i);
void mbox_box_gone(struct mailbox *mb, uint32_t uid);
char *mbox_box_read(struct mailbox *mb, size_t i, size_t *len_r, const char **error_r);
int mbox_box_append(struct mailbox *mb, const char *data, size_t len, unsigned flags,
    uint32_t kw, int64_t idate, uint32_t *uid_r, const char **error_r);
/* Keyword index of a name (in memory, 26 at most); -1 when full. */
int mbox_box_keyword(struct mailbox *mb, const char *name, bool create);
#endif
