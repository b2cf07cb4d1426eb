/* smtp_data: DATA / BDAT content scanner (pure, incremental, smuggling-safe). */
#include "smtp/smtp_data.h"

#include <string.h>

/*
 * States. Held input (a CR, a leading dot) is remembered in the state, not in
 * a buffer, so any chunking of the input gives the same output.
 */
enum {
	S_BOL_CRLF = 0,	/* start of a line that began after CRLF (or DATA's CRLF) */
	S_BOL_LF,	/* start of a line that began after a bare LF */
	S_MID,		/* inside a line */
	S_CR,		/* inside a line, CR held */
	S_DOT,		/* CRLF "." seen, dot held */
	S_DOT_CR,	/* CRLF "." CR seen, dot and CR held */
	S_END		/* CRLF "." CRLF seen */
};

void
smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode, size_t max_line)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->max_line = max_line;
	d->state = S_BOL_CRLF;
}

void
smtp_data_set_mode(struct smtp_data *d, enum smtp_data_mode mode)
{
	d->mode = mode;
}

static void
put(struct smtp_data *d, char *out, size_t *o, unsigned char c)
{
	out[(*o)++] = (char)c;
	/* Count a long line once, when it crosses the limit. */
	if (++d->line_len == d->max_line + 1 && d->max_line != 0)
		d->long_lines++;
}

static void
put_nl(struct smtp_data *d, char *out, size_t *o)
{
	out[(*o)++] = '\n';
	d->lines++;
	d->line_len = 0;
}

/* A byte inside a line (nothing held). */
static void
content(struct smtp_data *d, unsigned char c, char *out, size_t *o)
{
	if (c == '\r') {
		d->state = S_CR;
		return;
	}
	if (c == '\n') {
		/* Ends the line, never the message. */
		d->bare_lf++;
		put_nl(d, out, o);
		d->state = S_BOL_LF;
		return;
	}
	if (c == '\0')
		d->nul++;
	put(d, out, o, c);
	d->state = S_MID;
}

/* The held CR was not followed by LF: it is a content byte. */
static void
bare_cr(struct smtp_data *d, char *out, size_t *o)
{
	d->bare_cr++;
	put(d, out, o, '\r');
	d->state = S_MID;
}

/* One input byte; writes at most 2 output bytes. Returns 1 at the end. */
static int
step(struct smtp_data *d, unsigned char c, char *out, size_t *o)
{
	switch (d->state) {
	case S_BOL_CRLF:
		if (c == '.' && d->mode == SMTP_DATA_DOT) {
			d->state = S_DOT;
			return 0;
		}
		break;
	case S_BOL_LF:
		if (c == '.' && d->mode == SMTP_DATA_DOT) {
			/* Unstuff, but this line can never end the message. */
			d->state = S_MID;
			return 0;
		}
		break;
	case S_MID:
		break;
	case S_CR:
		if (c == '\n') {
			put_nl(d, out, o);
			d->state = S_BOL_CRLF;
			return 0;
		}
		bare_cr(d, out, o);
		break;
	case S_DOT:
		/* Otherwise the dot was stuffing: drop it. */
		if (c == '\r') {
			d->state = S_DOT_CR;
			return 0;
		}
		break;
	case S_DOT_CR:
		if (c == '\n') {
			if (d->mode == SMTP_DATA_DOT) {
				d->state = S_END;
				return 1;
			}
			/* Switched to RAW meanwhile: just a line "." unstuffed. */
			put_nl(d, out, o);
			d->state = S_BOL_CRLF;
			return 0;
		}
		bare_cr(d, out, o);
		break;
	default:
		return 1;
	}
	content(d, c, out, o);
	return 0;
}

size_t
smtp_data_feed(struct smtp_data *d, const char *in, size_t len, char *out, size_t outsz,
    size_t *outlen)
{
	size_t i = 0, o = 0;

	if (!d->done) {
		/* Each byte emits at most 2; never write past outsz even if the
		 * caller gave less than len + SMTP_DATA_SLACK. */
		while (i < len && outsz - o >= 2) {
			if (step(d, (unsigned char)in[i++], out, &o)) {
				d->done = true;
				break;
			}
		}
	}
	d->in_bytes += i;
	d->out_bytes += o;
	*outlen = o;
	return i;
}

size_t
smtp_data_finish(struct smtp_data *d, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz < 2)
		return 0;
	switch (d->state) {
	case S_CR:
	case S_DOT_CR:
		bare_cr(d, out, &o);
		put_nl(d, out, &o);
		break;
	case S_MID:
	case S_DOT:
		/* An unterminated last line (possibly "." unstuffed to ""). */
		put_nl(d, out, &o);
		break;
	default:
		return 0;
	}
	d->state = S_BOL_CRLF;
	d->out_bytes += o;
	return o;
}
