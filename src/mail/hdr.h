/* hdr: incremental RFC 5322 header-block scanner over LF-terminated text (pure). */
#ifndef HDR_H
#define HDR_H
#include <stdbool.h>
#include <stddef.h>

#define HDR_HAVE_FROM       0x01
#define HDR_HAVE_DATE       0x02
#define HDR_HAVE_MESSAGE_ID 0x04
#define HDR_HAVE_TO         0x08
#define HDR_HAVE_CC         0x10
#define HDR_HAVE_BCC        0x20
#define HDR_HAVE_SUBJECT    0x40
#define HDR_HAVE_SENDER     0x80

struct hdr_scan {
	int state;		/* internal */
	char name[32];		/* current field name being read (truncated) */
	size_t name_len;
	unsigned have;		/* HDR_HAVE_* seen in the header block */
	bool in_body;		/* the empty line (or a non-header line) was seen */
	size_t header_bytes;	/* bytes of the header block, including the empty line */
	unsigned long nfields;
	size_t line_bytes;	/* internal: bytes of the current header line so far */
};

void hdr_scan_init(struct hdr_scan *h);
/* Feed message text (LF line endings). Stops looking once in_body is set. */
void hdr_scan_feed(struct hdr_scan *h, const char *p, size_t len);
#endif
