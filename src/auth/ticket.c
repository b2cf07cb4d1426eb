#include "auth/ticket.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static unsigned char key[32];
static bool have_key;

bool
ticket_key_init(void)
{
	have_key = getrandom(key, sizeof(key), 0) == (ssize_t)sizeof(key);
	return have_key;
}

bool
ticket_key_ready(void)
{
	return have_key;
}

static bool
mac(const char *user, long long expiry, char hex[65])
{
	char msg[512];
	unsigned char md[32];
	unsigned int mdlen = 0;
	int n = snprintf(msg, sizeof(msg), "%s%c%lld", user, '\0', expiry);
	if (n < 0 || (size_t)n >= sizeof(msg) ||
	    HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)msg, (size_t)n, md,
	    &mdlen) == NULL || mdlen != sizeof(md))
		return false;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return true;
}

bool
ticket_make(const char *user, char *out, size_t outsz)
{
	char hex[65];
	long long expiry = (long long)time(NULL) + TICKET_LIFETIME;
	if (!have_key || !mac(user, expiry, hex))
		return false;
	int n = snprintf(out, outsz, "%lld.%s", expiry, hex);
	return n > 0 && (size_t)n < outsz;
}

bool
ticket_check(const char *user, const char *ticket)
{
	char *dot, hex[65];
	long long expiry = strtoll(ticket, &dot, 10);
	if (!have_key || *dot != '.' || strlen(dot + 1) != 64 || expiry < (long long)time(NULL) ||
	    expiry > (long long)time(NULL) + TICKET_LIFETIME || !mac(user, expiry, hex))
		return false;
	return CRYPTO_memcmp(hex, dot + 1, 64) == 0;
}
