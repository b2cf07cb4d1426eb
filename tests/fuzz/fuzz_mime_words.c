/* fuzz_mime_words: RFC 2047 decoding gives valid UTF-8 without NUL, of
 * bounded size; RFC 5322 date parsing stays in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void
check_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, j;

	while (i < n) {
		unsigned char c = s[i];
		unsigned long cp;

		CHECK(c != 0);
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c < 0xe0)
			k = 2;
		else if (c >= 0xe0 && c < 0xf0)
			k = 3;
		else if (c >= 0xf0 && c < 0xf5)
			k = 4;
		else
			abort();
		CHECK(n - i >= k);
		cp = c & (0x7f >> k);
		for (j = 1; j < k; j++) {
			CHECK((s[i + j] & 0xc0) == 0x80);
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		CHECK(!(k == 3 && cp < 0x800) && !(k == 4 && cp < 0x10000));
		CHECK(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
		i += k;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1), *z, *out;
	long long utc;
	int tz;

	CHECK(in != NULL);
	if (size > 0)
		memcpy(in, data, size);
	out = mime_decode_words(in, size);
	CHECK(out != NULL);
	check_utf8((const unsigned char *)out, strlen(out));
	CHECK(strlen(out) <= 16 * size + 16);
	free(out);
	free(in);

	z = malloc(size + 1);
	CHECK(z != NULL);
	if (size > 0)
		memcpy(z, data, size);
	z[size] = '\0';
	if (mime_parse_date(z, &utc, &tz) == 0) {
		CHECK(tz > -6000 && tz < 6000);
		/* years 1 to 9999, give or take a zone */
		CHECK(utc >= -62135596800LL - 6000 * 60 && utc <= 253402300800LL + 6000 * 60);
	}
	free(z);
	return 0;
}
