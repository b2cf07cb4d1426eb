/* mailbox: one Maildir folder as IMAP and POP3 see it — UIDs, flags,
 * keywords, MODSEQ, sizes and dates, kept in sync with the files.
 *
 * The files are the truth: dovecot-uidlist maps base names to UIDs (read,
 * appended and rewritten under Dovecot's dovecot-uidlist.lock), flags and
 * keywords are in the file names (":2,FLAGS", letters from
 * dovecot-keywords), so Dovecot, Courier, a MUA or another estafeta process
 * can work on the same Maildir. A sync notices their changes: it costs
 * three stat calls when nothing changed, a readdir of new/ and cur/
 * otherwise.
 *
 * estafeta.index (store/mbxindex.h) keeps what the names do not: each
 * message's MODSEQ, sizes, INTERNALDATE and its ENVELOPE and BODYSTRUCTURE.
 * A mailbox opened again takes them for every file whose UID and base name
 * match; a file whose flags differ from the recorded ones (changed by
 * another program meanwhile) gets a new MODSEQ. HIGHESTMODSEQ restarts at
 * the larger of the recorded one and the current time in microseconds, so
 * it never goes back while UIDVALIDITY stays, even when the index is lost.
 * Changes reach the index at mailbox_flush (appended to its log) and when
 * the mailbox is closed.
 *
 * Not thread-safe: one event loop owns a mailbox, and every session of
 * that process on the folder shares it (mailbox_ref). */
#ifndef MAILBOX_H
#define MAILBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/mflags.h"

struct mbx_msg {
	uint32_t uid;
	uint8_t flags;		/* MF_STORED bits */
	bool recent;		/* first seen in new/ by this process, not yet shown */
	bool in_new;		/* the file is in new/ (no flags yet), not cur/ */
	uint32_t kw;		/* bit i: keyword i of mailbox->kw (dovecot-keywords) */
	uint64_t modseq;
	int64_t size, vsize;	/* bytes as stored / with CRLF; -1 until known */
	int64_t idate;		/* INTERNALDATE: the file's mtime; -1 until known */
	char *fname;		/* file name in cur/ (new/ when in_new) */
	uint16_t base_len;	/* the base name: fname up to its first ':' */
	bool idx_dirty;		/* its estafeta.index record is behind */
	bool mbox_pending;	/* mbox: flags changed here, not in the file yet */
	uint64_t off, end;	/* mbox: its From_ line and its end in the file */
	uint32_t env_len, bs_len, hdr_len;
	char *env, *bs;		/* cached ENVELOPE and BODYSTRUCTURE texts; NULL */
	char *hdr;		/* cached header, through its empty line (searches); NULL */
};

/* A change seen by a sync, or made through this API, for the sessions:
 * each session remembers the change count it has shown. */
struct mailbox {
	char *dir;		/* the Maildir (or Maildir++ folder) directory */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	struct mbx_msg *m;	/* ascending UID */
	size_t n, cap;
	char *kw[26];		/* keyword names by index (dovecot-keywords); NULL unused */
	uint64_t expunge_modseq; /* highest MODSEQ at which a message went away */
	unsigned refs;
	bool readonly;		/* the directory is not writable by us */
	/* Maildir: appends skip their fdatasync/fsync calls; the caller makes
	 * them durable itself (one syncfs for many, lib/bgsync) before it
	 * acknowledges them. An mbox ignores it. */
	bool sync_later;
	/* UIDs from hidden_from on were appended with sync_later and are not
	 * durable yet (0: none): no session shows them, so a crash cannot
	 * lose a UID a client has seen (it would be given out again). The
	 * caller clears it once they are durable. */
	uint32_t hidden_from;
	unsigned syncing;	/* appends of the caller still waiting for their sync */
	struct mbx_priv *priv;	/* sync state */
};

static inline bool
mailbox_visible(const struct mailbox *mb, uint32_t uid)
{
	return mb->hidden_from == 0 || uid < mb->hidden_from;
}

/* Open (creating cur/ new/ tmp/ when create is set and they are missing)
 * and sync. dir "mbox:PATH[\nJOURNALDIR]" opens an mbox file instead
 * (store/mailbox_mbox.h); everything below works on both. 0, or -1 with *error_r (static or strerror text). */
int mailbox_open(const char *dir, bool create, struct mailbox **out, const char **error_r);
void mailbox_ref(struct mailbox *mb);
void mailbox_unref(struct mailbox **mb);

/* Bring the mailbox up to date with the files: new/ moved to cur/ (recent),
 * new files given UIDs, vanished ones removed, renamed ones' flags taken
 * (MODSEQ bumped). force: rescan even if the directories look unchanged.
 * Returns 1 when something changed, 0 when not, -1 with *error_r. */
int mailbox_sync(struct mailbox *mb, bool force, const char **error_r);

/* Change events. The owner watches cur/ and new/ (inotify) and passes
 * every event on cur/ to mailbox_event, in order (name NULL: events were
 * lost). While each one is a change this mailbox made itself, a sync reads
 * no directory but new/, instead of all of cur/ whenever it changed in the
 * last two seconds. drain(arg) runs at the start of every sync: it must
 * deliver the events queued so far. mailbox_open_watched is for watches
 * made before the open (no change can fall between its scan and them);
 * mailbox_watch for watches made after (the next sync reads cur/ once
 * more). Not for an mbox (ignored). */
int mailbox_open_watched(const char *dir, bool create, void (*drain)(void *), void *arg,
    struct mailbox **out, const char **error_r);
void mailbox_watch(struct mailbox *mb, void (*drain)(void *), void *arg);
void mailbox_unwatch(struct mailbox *mb);
/* An event on new/ (in_new) or cur/; arrived: a name came (created, moved
 * in), else one went. false when it was our own change; true when not: a
 * delivery into new/ is taken by the next sync alone, anything else makes
 * it read both directories. */
bool mailbox_event(struct mailbox *mb, bool in_new, bool arrived, const char *name);

/* Index of uid in mb->m, or -1. */
long mailbox_find(const struct mailbox *mb, uint32_t uid);

/* Set the flags and keywords of message i (rename in cur/, MODSEQ bumped
 * when anything changed). 0, 1 when the file is gone (it will vanish on
 * the next sync), -1 with *error_r. */
int mailbox_set_flags(struct mailbox *mb, size_t i, unsigned flags, uint32_t kw,
    const char **error_r);
/* Keyword index for a name, added to dovecot-keywords when create is set
 * and it is new. -1 when unknown (or no room: 26 at most). */
int mailbox_keyword(struct mailbox *mb, const char *name, bool create);

/* Remove message i's file and its entry (indexes above i shift down). */
int mailbox_expunge(struct mailbox *mb, size_t i, const char **error_r);

/* Fill in size, vsize and idate of message i (stat, and a read of the file
 * when its name has no ,W=). 0 or -1. */
int mailbox_stat(struct mailbox *mb, size_t i);
/* Note message i's CRLF size from its text when the name did not carry
 * it (,W=), so nobody reads the file again for it. */
void mailbox_learn_vsize(struct mailbox *mb, size_t i, const char *data, size_t len);
/* The whole message, malloc'd (*len_r bytes, NUL added). NULL with
 * *error_r; a vanished file gives NULL and error "expunged". */
char *mailbox_read(struct mailbox *mb, size_t i, size_t *len_r, const char **error_r);

/* Message i's header through its empty line (all of it when it has no
 * body), malloc'd like mailbox_read. Kept in memory after the first read
 * (up to a budget per folder), so header searches, SORT and THREAD read
 * each file once. */
char *mailbox_read_header(struct mailbox *mb, size_t i, size_t *len_r, const char **error_r);

/* Add a message (LF or CRLF line ends; stored with LF, as deliveries are)
 * with flags, keyword names and internal date (-1: now; the file's mtime);
 * durable before return unless sync_later is set. The new UID in *uid_r. 0, or -1 with *error_r. */
int mailbox_append(struct mailbox *mb, const char *data, size_t len, unsigned flags,
    const char *const *keywords, size_t nkeywords, int64_t idate, uint32_t *uid_r,
    const char **error_r);
/* Copy message i of src into dst (a hard link when possible), keeping
 * flags and keywords (by name) and the internal date. *uid_r the UID in
 * dst. */
int mailbox_copy(struct mailbox *src, size_t i, struct mailbox *dst, uint32_t *uid_r,
    const char **error_r);

/* The cached ENVELOPE or BODYSTRUCTURE text of message i, or NULL. */
enum mbx_cached { MBX_ENVELOPE, MBX_BODYSTRUCTURE };
const char *mailbox_cached(const struct mailbox *mb, size_t i, enum mbx_cached which,
    size_t *len_r);
void mailbox_cache(struct mailbox *mb, size_t i, enum mbx_cached which, const char *text,
    size_t len);

/* Write the changes since the last flush to estafeta.index (appended to
 * its log; rewritten whole when the log grew past half of it). Not
 * durable: the index is a cache the files can rebuild. */
void mailbox_flush(struct mailbox *mb);
/* Make the expunges and flag changes so far permanent in the files now
 * (an mbox is rewritten; a Maildir's are already). 0, or -1 with
 * *error_r. */
int mailbox_commit(struct mailbox *mb, const char **error_r);
/* How much waits for a flush (0: nothing); it grows with every change, so
 * an owner can flush once a folder has gone quiet. */
size_t mailbox_pending(const struct mailbox *mb);

/* Sum of the message sizes (STATUS SIZE, POP3 STAT), stat-ing as needed. */
uint64_t mailbox_total_size(struct mailbox *mb);

/* How long a sync waits for another process's dovecot-uidlist.lock before
 * it fails (default 10000 ms; a lock older than 2 minutes is broken).
 * For tests, which cannot wait that long. */
void mailbox_set_lock_timeout_ms(unsigned ms);
#endif
