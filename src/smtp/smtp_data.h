/* smtp_data: DATA / BDAT content scanner (pure, incremental, smuggling-safe). */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Only <CR><LF>.<CR><LF> ends DATA (the leading CRLF may be the one that ended
 * the DATA command itself, i.e. an empty message "." on the first line).
 * Output is the message with line endings stored as a single LF, dot-stuffing
 * removed (DATA mode only). A bare LF ends a line (counted in bare_lf) but can
 * never end the message: "\n.\n", "\n.\r\n", "\r.\r\n" etc. are content.
 * A bare CR not followed by LF is kept as content (counted in bare_cr).
 */
enum smtp_data_mode { SMTP_DATA_DOT, SMTP_DATA_RAW /* BDAT chunk: no dot handling */ };

struct smtp_data {
	enum smtp_data_mode mode;
	int state;		/* internal */
	size_t max_line;	/* longest allowed line without its line ending; 0 = none */
	size_t line_len;	/* current line length so far */
	uint64_t out_bytes;	/* output bytes produced in total */
	uint64_t in_bytes;	/* input bytes consumed in total */
	uint64_t lines;
	uint64_t long_lines;	/* lines longer than max_line */
	uint64_t bare_lf, bare_cr, nul;
	bool done;		/* end of DATA seen (DOT mode) */
};

/* Start a message. max_line: e.g. 998 (RFC 5322 2.1.1). */
void smtp_data_init(struct smtp_data *d, enum smtp_data_mode mode, size_t max_line);
/* Switch mode for the next BDAT chunk while keeping line state and counters. */
void smtp_data_set_mode(struct smtp_data *d, enum smtp_data_mode mode);

/*
 * Consume input. Writes output to out (capacity outsz, which must be at least
 * len + SMTP_DATA_SLACK) and returns the number of input bytes consumed; sets
 * *outlen. In DOT mode it stops right after the terminating ".\r\n" (bytes
 * after it are the next pipelined command and are not consumed) and sets
 * d->done. In RAW mode it consumes everything.
 */
#define SMTP_DATA_SLACK 8
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len, char *out, size_t outsz,
    size_t *outlen);

/* End of the whole message (after DATA's end or BDAT LAST): flush any held
 * byte (e.g. a trailing bare CR) and terminate a last unterminated line with
 * LF. out needs SMTP_DATA_SLACK bytes. Returns bytes written. */
size_t smtp_data_finish(struct smtp_data *d, char *out, size_t outsz);
#endif
