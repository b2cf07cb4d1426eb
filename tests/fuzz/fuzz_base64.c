/* fuzz_base64: b64_decode is strict and canonical; b64_encode round trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *in, *dec, *rt;
	char *enc;
	size_t declen = size / 4 * 3, enclen = b64_encoded_len(size), outlen, k;

	/* Exact-size buffers so ASan sees any access past the end. */
	in = malloc(size ? size : 1);
	dec = malloc(declen ? declen : 1);
	rt = malloc(size ? size : 1);
	enc = malloc(enclen + 1);
	if (in == NULL || dec == NULL || rt == NULL || enc == NULL)
		abort();
	memcpy(in, data, size);

	/* Whatever decodes encodes back to exactly the input. */
	if (b64_decode((const char *)in, size, dec, declen, &outlen) == 0) {
		if (size % 4 != 0 || outlen > declen || outlen + 2 < declen)
			abort();
		if (b64_encode(dec, outlen, enc, enclen + 1) != size || memcmp(enc, in, size) != 0)
			abort();
		/* One byte less room never fits. */
		if (outlen > 0 && b64_decode((const char *)in, size, dec, outlen - 1, &k) != -1)
			abort();
	}

	/* Any bytes encode to a NUL-terminated text of the announced length
	 * that decodes back, into exactly size bytes. */
	if (b64_encode(in, size, enc, enclen + 1) != enclen || strlen(enc) != enclen)
		abort();
	if (b64_decode(enc, enclen, rt, size, &outlen) != 0 || outlen != size ||
	    memcmp(rt, in, size) != 0)
		abort();
	if (size > 0 && b64_decode(enc, enclen, rt, size - 1, &outlen) != -1)
		abort();
	/* No room for the NUL: refused, and the buffer holds "". */
	if (b64_encode(in, size, enc, enclen) != (size_t)-1 || (enclen > 0 && enc[0] != '\0'))
		abort();
	free(in);
	free(dec);
	free(rt);
	free(enc);
	return 0;
}
