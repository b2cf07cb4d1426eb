/* fuzz_sasl_plain: sasl_plain_parse accepts only what it can give back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_plain p;
	unsigned char *in, *re;
	size_t zl, cl, pl, n;

	if ((in = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	if (sasl_plain_parse(in, size, &p) != 0) {
		if (p.authzid[0] != '\0' || p.authcid[0] != '\0' || p.passwd[0] != '\0')
			abort();
		free(in);
		return 0;
	}
	zl = strnlen(p.authzid, sizeof(p.authzid));
	cl = strnlen(p.authcid, sizeof(p.authcid));
	pl = strnlen(p.passwd, sizeof(p.passwd));
	if (zl > SASL_NAME_MAX || cl == 0 || cl > SASL_NAME_MAX || pl == 0 || pl > SASL_PASS_MAX)
		abort();
	if (!utf8_valid((const unsigned char *)p.authzid, zl) ||
	    !utf8_valid((const unsigned char *)p.authcid, cl) ||
	    !utf8_valid((const unsigned char *)p.passwd, pl))
		abort();
	if (has_control(p.authzid) || has_control(p.authcid))
		abort();
	/* The fields put back together are the message. */
	n = zl + cl + pl + 2;
	if (n != size || (re = malloc(n)) == NULL)
		abort();
	memcpy(re, p.authzid, zl);
	re[zl] = '\0';
	memcpy(re + zl + 1, p.authcid, cl);
	re[zl + 1 + cl] = '\0';
	memcpy(re + zl + cl + 2, p.passwd, pl);
	if (memcmp(re, in, n) != 0)
		abort();
	free(re);
	free(in);
	return 0;
}
