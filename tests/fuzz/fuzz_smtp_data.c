/*
 * fuzz_smtp_data: the DATA/BDAT scanner must give the same output, end
 * position and counters however the input is chunked, must agree with a
 * simple whole-buffer model, and may only end at CRLF "." CRLF.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	char *out;
	size_t outlen, consumed;
	struct smtp_data d;
};

/* how: 0 whole, 1 byte at a time, else chunk sizes drawn from seed. */
static void
run(struct run *r, const char *in, size_t len, enum smtp_data_mode mode, size_t max_line,
    int how, unsigned seed)
{
	size_t off = 0, n, used, olen;
	char *buf;

	smtp_data_init(&r->d, mode, max_line);
	r->outlen = 0;
	/* Exact-size scratch: ASan catches any write past len + SLACK. */
	if ((buf = malloc(len + SMTP_DATA_SLACK)) == NULL)
		abort();
	while (off < len && !r->d.done) {
		if (how == 0)
			n = len - off;
		else if (how == 1)
			n = 1;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 13;
			if (n > len - off)
				n = len - off;
		}
		used = smtp_data_feed(&r->d, in + off, n, buf, n + SMTP_DATA_SLACK, &olen);
		if (used > n || olen > n + 1)
			abort();
		if (used < n && !r->d.done)
			abort();
		memcpy(r->out + r->outlen, buf, olen);
		r->outlen += olen;
		off += used;
	}
	r->consumed = off;
	olen = smtp_data_finish(&r->d, buf, SMTP_DATA_SLACK);
	if (olen > 2)
		abort();
	memcpy(r->out + r->outlen, buf, olen);
	r->outlen += olen;
	free(buf);
}

static void
same(const struct run *a, const struct run *b)
{
	if (a->outlen != b->outlen || memcmp(a->out, b->out, a->outlen) != 0 ||
	    a->consumed != b->consumed || a->d.done != b->d.done ||
	    a->d.in_bytes != b->d.in_bytes || a->d.out_bytes != b->d.out_bytes ||
	    a->d.lines != b->d.lines || a->d.long_lines != b->d.long_lines ||
	    a->d.bare_lf != b->d.bare_lf || a->d.bare_cr != b->d.bare_cr ||
	    a->d.nul != b->d.nul)
		abort();
}

/* Whole-buffer model of the same rules, written independently. */
static void
reference(const char *in, size_t n, enum smtp_data_mode mode, char *out, size_t *outlen,
    size_t *consumed, bool *done)
{
	enum { B_CRLF, B_LF, B_NONE } bol = B_CRLF;
	size_t i = 0, o = 0;

	*done = false;
	while (i < n) {
		if (mode == SMTP_DATA_DOT && bol == B_CRLF && n - i >= 3 &&
		    memcmp(in + i, ".\r\n", 3) == 0) {
			*done = true;
			i += 3;
			break;
		}
		if (mode == SMTP_DATA_DOT && bol != B_NONE && in[i] == '.') {
			i++;
			bol = B_NONE;
			continue;
		}
		if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') {
			out[o++] = '\n';
			i += 2;
			bol = B_CRLF;
		} else if (in[i] == '\n') {
			out[o++] = '\n';
			i++;
			bol = B_LF;
		} else {
			out[o++] = in[i++];
			bol = B_NONE;
		}
	}
	if (!*done && bol == B_NONE)
		out[o++] = '\n';
	*outlen = o;
	*consumed = i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, bytes, chunks;
	enum smtp_data_mode mode;
	size_t max_line, reflen, refcons;
	bool refdone;
	char *in, *ref;
	unsigned seed;

	if (size < 2)
		return 0;
	mode = (data[0] & 1) ? SMTP_DATA_RAW : SMTP_DATA_DOT;
	max_line = (data[0] >> 1) & 0x0f;
	seed = data[1];
	data += 2;
	size -= 2;
	if ((in = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	whole.out = malloc(size + 8);
	bytes.out = malloc(size + 8);
	chunks.out = malloc(size + 8);
	ref = malloc(size + 8);
	if (whole.out == NULL || bytes.out == NULL || chunks.out == NULL || ref == NULL)
		abort();

	run(&whole, in, size, mode, max_line, 0, 0);
	run(&bytes, in, size, mode, max_line, 1, 0);
	run(&chunks, in, size, mode, max_line, 2, seed);
	same(&whole, &bytes);
	same(&whole, &chunks);

	reference(in, size, mode, ref, &reflen, &refcons, &refdone);
	if (whole.d.done != refdone || whole.consumed != refcons || whole.outlen != reflen ||
	    memcmp(whole.out, ref, reflen) != 0)
		abort();

	/* The end is only ever CRLF "." CRLF (the first CRLF may be DATA's). */
	if (whole.d.done) {
		size_t c = whole.consumed;

		if (mode != SMTP_DATA_DOT || c < 3 || memcmp(in + c - 3, ".\r\n", 3) != 0)
			abort();
		if (c != 3 && (c < 5 || memcmp(in + c - 5, "\r\n", 2) != 0))
			abort();
	} else if (whole.consumed != size)
		abort();
	if (whole.d.in_bytes != whole.consumed || whole.d.out_bytes != whole.outlen)
		abort();
	/* Output never has more lines than LFs, and only LF line endings. */
	if (whole.outlen > 0 && !whole.d.done && whole.out[whole.outlen - 1] != '\n')
		abort();

	free(in);
	free(whole.out);
	free(bytes.out);
	free(chunks.out);
	free(ref);
	return 0;
}
