/* fuzz_scram: a whole server-side SCRAM-SHA-256 exchange. The input is
 * client-first NUL client-final; the secret and server nonce are those of
 * RFC 7677, so the RFC's messages make a complete, successful exchange. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

#define SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SECRET "4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=," \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s, int may_be_empty)
{
	size_t n = strnlen(s, SASL_NAME_MAX + 1);

	if (n > SASL_NAME_MAX || (n == 0 && !may_be_empty))
		abort();
	if (!utf8_valid((const unsigned char *)s, n))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scram_secret sec;
	struct scram_server s;
	const uint8_t *sep;
	unsigned char *first, *final;
	const char *err = NULL;
	char out[1024], cnonce[512];
	size_t flen, clen, outlen = 99;
	int r;

	if (scram_secret_parse(SECRET, &sec) != 0)
		abort();
	sep = memchr(data, '\0', size);
	flen = sep != NULL ? (size_t)(sep - data) : size;
	clen = sep != NULL ? size - flen - 1 : 0;
	/* Exact-size copies so ASan sees any read past the end. */
	first = malloc(flen ? flen : 1);
	final = malloc(clen ? clen : 1);
	if (first == NULL || final == NULL)
		abort();
	memcpy(first, data, flen);
	if (clen > 0)
		memcpy(final, sep + 1, clen);

	memset(&s, 0, sizeof(s));
	if (scram_server_client_first(&s, first, flen, &err) != 0) {
		if (err == NULL || *err == '\0' || s.state != SCRAM_FAILED || s.authcid[0] != '\0')
			abort();
		/* A failed exchange stays failed. */
		if (scram_server_first(&s, &sec, SNONCE, out, sizeof(out)) != -1)
			abort();
		goto done;
	}
	if (s.state != SCRAM_GOT_FIRST)
		abort();
	check_name(s.authcid, 0);
	check_name(s.authzid, 1);
	if (strncmp(s.gs2_header, "n,", 2) != 0 && strncmp(s.gs2_header, "y,", 2) != 0)
		abort();
	if (strlen(s.gs2_header) + strlen(s.client_first_bare) != flen)
		abort();
	strcpy(cnonce, s.nonce);

	r = scram_server_first(&s, &sec, SNONCE, out, sizeof(out));
	if (r <= 0 || (size_t)r != strlen(out) || strcmp(out, s.server_first) != 0)
		abort();
	if (strncmp(out, "r=", 2) != 0 || strncmp(out + 2, cnonce, strlen(cnonce)) != 0 ||
	    strcmp(s.nonce + strlen(cnonce), SNONCE) != 0)
		abort();

	err = NULL;
	r = scram_server_client_final(&s, &sec, final, clen, out, sizeof(out), &outlen, &err);
	switch (r) {
	case 1:
		if (s.state != SCRAM_DONE || outlen != 46 || strlen(out) != 46 ||
		    strncmp(out, "v=", 2) != 0)
			abort();
		break;
	case 0:
	case -1:
		if (s.state != SCRAM_FAILED || outlen != 0 || out[0] != '\0' || err == NULL)
			abort();
		break;
	default:
		abort();
	}
	/* Nothing more is accepted after the last step. */
	if (scram_server_client_final(&s, &sec, final, clen, out, sizeof(out), &outlen, &err) != -1)
		abort();
done:
	free(first);
	free(final);
	return 0;
}
