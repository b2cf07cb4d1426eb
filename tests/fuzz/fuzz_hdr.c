/* fuzz_hdr: the header-block scanner gives the same result however its input is split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_scan whole, bytes, chunks;
	const char *p = (const char *)data;

	hdr_scan_init(&whole);
	hdr_scan_feed(&whole, p, size);
	hdr_scan_init(&bytes);
	for (size_t i = 0; i < size; i++)
		hdr_scan_feed(&bytes, p + i, 1);
	/* chunk sizes taken from the data itself */
	hdr_scan_init(&chunks);
	for (size_t i = 0; i < size;) {
		size_t n = (size_t)(data[i] % 7) + 1;
		if (n > size - i)
			n = size - i;
		hdr_scan_feed(&chunks, p + i, n);
		i += n;
	}
	const struct hdr_scan *v[2] = { &bytes, &chunks };
	for (int k = 0; k < 2; k++)
		if (v[k]->have != whole.have || v[k]->in_body != whole.in_body ||
		    v[k]->header_bytes != whole.header_bytes || v[k]->nfields != whole.nfields)
			abort();
	if (whole.header_bytes > size)
		abort();
	return 0;
}
