/* libFuzzer target: md_name_parse and md_name_format round trips. Input: a
 * flags byte, four keyword bytes, then the name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "store/mdfiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ALLF	(MDF_DRAFT | MDF_FLAGGED | MDF_PASSED | MDF_REPLIED | MDF_SEEN | MDF_TRASHED)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct md_name m, f, f2;
	unsigned flags;
	uint32_t kw;
	size_t len, outsz;
	char *name, *out, *out2;
	int n, n2;

	if (size < 5)
		return 0;
	flags = data[0] & ALLF;
	kw = ((uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
	    (uint32_t)data[4] << 24) & 0x3ffffff;
	len = size - 5;
	name = xmalloc(len + 1);
	memcpy(name, data + 5, len);
	name[len] = '\0';

	md_name_parse(name, &m);
	{
		size_t sl = strlen(name);
		if (m.base_len > m.info_off || m.info_off > sl)
			abort();
		if (m.base_len < sl && name[m.base_len] != ':')
			abort();
		if (memchr(name, ':', m.base_len) != NULL)
			abort();
		if (m.has_info && strncmp(name + m.info_off, ":2,", 3) != 0)
			abort();
		if (!m.has_info && (m.flags != 0 || m.keywords != 0))
			abort();
		if (m.flags & ~(unsigned)ALLF || m.keywords & ~0x3ffffffu)
			abort();
		if (m.size < -1 || m.vsize < -1)
			abort();
	}

	/* Exact buffer: the result must fit or fail, never overrun. */
	outsz = len + 3 + 128 + 1;
	out = xmalloc(outsz);
	n = md_name_format(name, len, flags, kw, out, outsz);
	if (n < 0) {
		/* Only for names it must refuse. */
		if (len > 0 && name[0] != ':' && memchr(name, '\0', len) == NULL &&
		    memchr(name, '/', len) == NULL)
			abort();
	} else {
		if ((size_t)n != strlen(out))
			abort();
		md_name_parse(out, &f);
		if (!f.has_info || f.flags != flags || f.keywords != kw)
			abort();
		if (f.base_len != m.base_len || f.size != m.size || f.vsize != m.vsize)
			abort();
		/* The same flags again change nothing; a smaller buffer fails cleanly. */
		out2 = xmalloc((size_t)n + 1);
		n2 = md_name_format(out, (size_t)n, flags, kw, out2, (size_t)n + 1);
		if (n2 != n || memcmp(out, out2, (size_t)n + 1) != 0)
			abort();
		if (md_name_format(out, (size_t)n, flags, kw, out2, (size_t)n) != -1)
			abort();
		/* Other flags, then back. */
		n2 = md_name_format(out, (size_t)n, flags ^ ALLF, kw ^ 0x3ffffff, out2,
		    (size_t)n + 1);
		if (n2 >= 0) {
			md_name_parse(out2, &f2);
			if (f2.flags != (flags ^ ALLF) || f2.keywords != (kw ^ 0x3ffffff))
				abort();
		}
		free(out2);
	}
	free(out);
	free(name);
	return 0;
}
