/*
 * fuzz_mutf7: strict modified UTF-7 both ways. Whatever decodes must encode
 * back to the very same bytes (canonical only); whatever encodes must decode
 * back. Output space is respected exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t dsz = size + 1, esz = size * 4 + 8, n;
	char *in, *dec, *enc, *back;

	/* Exact-size input: any read past it is an ASan error. */
	if ((in = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(in, data, size);
	dec = malloc(dsz * 4);
	enc = malloc(esz);
	back = malloc(esz);
	if (dec == NULL || enc == NULL || back == NULL)
		abort();

	/* Decoding: UTF-8 out is never longer than... 4 bytes per 3 chars. */
	if (mutf7_decode(in, size, dec, dsz * 4) == 0) {
		n = strlen(dec);
		for (size_t i = 0; i < size; i++)
			if ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] > 0x7e)
				abort();
		if (mutf7_encode(dec, n, back, esz) != 0 || strlen(back) != size ||
		    memcmp(back, in, size) != 0)
			abort();
		/* Exactly n + 1 bytes are enough, n are not. */
		if (mutf7_decode(in, size, back, n + 1) != 0 || strcmp(back, dec) != 0)
			abort();
		if (mutf7_decode(in, size, back, n) != -1)
			abort();
	}

	/* Encoding the input as UTF-8. */
	if (mutf7_encode(in, size, enc, esz) == 0) {
		n = strlen(enc);
		if (memchr(in, '\0', size) != NULL)
			abort();
		if (mutf7_decode(enc, n, back, esz) != 0 || strlen(back) != size ||
		    memcmp(back, in, size) != 0)
			abort();
		if (mutf7_encode(in, size, back, n + 1) != 0 || strcmp(back, enc) != 0)
			abort();
		if (mutf7_encode(in, size, back, n) != -1)
			abort();
	}
	free(in);
	free(dec);
	free(enc);
	free(back);
	return 0;
}
