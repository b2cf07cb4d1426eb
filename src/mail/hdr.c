/* hdr: incremental RFC 5322 header-block scanner (pure, chunking-independent). */
#include "mail/hdr.h"

#include <string.h>
#include <strings.h>

enum {
	H_BOL = 0,	/* start of a header line */
	H_NAME,		/* in a field name */
	H_WSP,		/* WSP between name and ':' (obs-optional, RFC 5322 4.5.3) */
	H_FIELD		/* in a field body or continuation line */
};

static const struct {
	const char *name;
	unsigned bit;
} known[] = {
	{ "From", HDR_HAVE_FROM },
	{ "Date", HDR_HAVE_DATE },
	{ "Message-ID", HDR_HAVE_MESSAGE_ID },
	{ "To", HDR_HAVE_TO },
	{ "Cc", HDR_HAVE_CC },
	{ "Bcc", HDR_HAVE_BCC },
	{ "Subject", HDR_HAVE_SUBJECT },
	{ "Sender", HDR_HAVE_SENDER },
};

void
hdr_scan_init(struct hdr_scan *h)
{
	memset(h, 0, sizeof(*h));
	h->state = H_BOL;
}

/* RFC 5322 ftext: printable US-ASCII except ':'. */
static int
is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static void
field_done(struct hdr_scan *h)
{
	size_t i;

	h->nfields++;
	/* A truncated name is longer than any we look for. */
	if (h->name_len >= sizeof(h->name))
		return;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(h->name, known[i].name) == 0)
			h->have |= known[i].bit;
}

/* The current line is not part of the header block: the body starts here. */
static void
to_body(struct hdr_scan *h)
{
	h->in_body = true;
	h->line_bytes = 0;
}

void
hdr_scan_feed(struct hdr_scan *h, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && !h->in_body; i++) {
		unsigned char c = (unsigned char)p[i];

		switch (h->state) {
		case H_BOL:
			if (c == '\n') {
				/* The empty line belongs to the header block. */
				h->header_bytes++;
				to_body(h);
			} else if (c == ' ' || c == '\t') {
				/* Continuation, unless there is nothing to continue. */
				if (h->nfields == 0)
					to_body(h);
				else {
					h->line_bytes = 1;
					h->state = H_FIELD;
				}
			} else if (is_ftext(c)) {
				h->name[0] = (char)c;
				h->name[1] = '\0';
				h->name_len = 1;
				h->line_bytes = 1;
				h->state = H_NAME;
			} else
				to_body(h);
			break;
		case H_NAME:
			h->line_bytes++;
			if (is_ftext(c)) {
				/* name stays a NUL-terminated prefix; name_len
				 * counts the whole name. */
				if (h->name_len < sizeof(h->name) - 1) {
					h->name[h->name_len] = (char)c;
					h->name[h->name_len + 1] = '\0';
				}
				h->name_len++;
			} else if (c == ':') {
				field_done(h);
				h->state = H_FIELD;
			} else if (c == ' ' || c == '\t')
				h->state = H_WSP;
			else
				to_body(h);
			break;
		case H_WSP:
			h->line_bytes++;
			if (c == ':') {
				field_done(h);
				h->state = H_FIELD;
			} else if (c != ' ' && c != '\t')
				to_body(h);
			break;
		case H_FIELD:
			h->line_bytes++;
			if (c == '\n') {
				h->header_bytes += h->line_bytes;
				h->line_bytes = 0;
				h->state = H_BOL;
			}
			break;
		default:
			to_body(h);
			break;
		}
	}
}
