/* mbxindex: the format of estafeta.index, a folder's index beside its
 * messages: per UID the flags and keywords last seen with their MODSEQ, the
 * sizes, INTERNALDATE, and the ENVELOPE and BODYSTRUCTURE texts, so a
 * folder opened again (a restart, another process) neither reads every
 * message nor loses the MODSEQs CONDSTORE/QRESYNC clients hold.
 *
 * The file is a cache: the Maildir (file names, dovecot-uidlist) stays the
 * truth, and a file that is missing, damaged or of another UIDVALIDITY is
 * rebuilt from the messages. It is a snapshot followed by a log:
 *
 *   snapshot  "ESTIDX1\n" u32 uidvalidity u32 uidnext u64 highestmodseq
 *             u64 expunge_modseq u32 nrec u32 0, then nrec records, then
 *             u64 hash of all of it (header and records)
 *   record    u32 uid u8 flags u8 0 u16 base_len u32 kw u64 modseq
 *             i64 size i64 vsize i64 idate u32 env_len u32 bs_len, then the
 *             base name, the ENVELOPE text, the BODYSTRUCTURE text
 *             (a length of 0xffffffff: not known)
 *   log entry u8 type u8 0 u16 0 u32 len, len bytes, u64 hash of the 8 + len
 *             bytes before it; 'R': a record (added or replaced by UID),
 *             'X': u32 uid u64 modseq (expunged), 'H': u32 uidvalidity
 *             u32 uidnext u64 highestmodseq u64 expunge_modseq
 *
 * Integers are little-endian. A change appends log entries (one write); a
 * log grown past half the snapshot is folded into a new snapshot (written
 * beside, renamed over). A log entry cut short (a crash while appending)
 * or with a bad hash ends the log there. Pure: parse and format only. */
#ifndef MBXINDEX_H
#define MBXINDEX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define MBXI_MAGIC	"ESTIDX1\n"
#define MBXI_NONE	UINT32_MAX	/* env_len/bs_len: not cached */

struct mbxi_rec {
	uint32_t uid;
	uint8_t flags;		/* MF_STORED bits */
	uint32_t kw;
	uint64_t modseq;
	int64_t size, vsize, idate;	/* -1: unknown */
	const char *base;	/* base name (no ":2,"), base_len bytes, not NUL-terminated */
	uint16_t base_len;
	const char *env, *bs;	/* NULL when not cached; otherwise *_len bytes */
	uint32_t env_len, bs_len;
};

struct mbxi {
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq, expunge_modseq;
	struct mbxi_rec *r;	/* ascending UID; texts point into the parsed buffer */
	size_t n;
	size_t snap_len;	/* bytes of the snapshot; the log follows */
	size_t good_len;	/* bytes up to the end of the last valid log entry */
	size_t nlog;		/* log entries applied */
};

/* Parse buf (the whole file). The records point into buf, which must
 * outlive *out. At most max_recs records. 0, or -1 with *error_r (a
 * damaged or foreign snapshot: rebuild). A damaged log tail is not an
 * error: good_len says where the valid part ends. */
int mbxi_parse(const char *buf, size_t len, size_t max_recs, struct mbxi *out,
    const char **error_r);
void mbxi_free(struct mbxi *x);
/* The record of uid, or NULL. */
const struct mbxi_rec *mbxi_find(const struct mbxi *x, uint32_t uid);

/* Format a snapshot: the header, then records added one by one
 * (ascending UIDs), then mbxi_snap_end. */
void mbxi_snap_begin(struct buf *b, uint32_t uidvalidity, uint32_t uidnext,
    uint64_t highestmodseq, uint64_t expunge_modseq, uint32_t nrec);
void mbxi_put_rec(struct buf *b, const struct mbxi_rec *r);
void mbxi_snap_end(struct buf *b, size_t start);

/* Log entries, appended to b. */
void mbxi_log_rec(struct buf *b, const struct mbxi_rec *r);
void mbxi_log_expunge(struct buf *b, uint32_t uid, uint64_t modseq);
void mbxi_log_header(struct buf *b, uint32_t uidvalidity, uint32_t uidnext,
    uint64_t highestmodseq, uint64_t expunge_modseq);
#endif
