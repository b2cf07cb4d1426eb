/* sasl: SASL codecs (pure, bounded): base64, PLAIN (RFC 4616) and the server
 * side of SCRAM-SHA-256 (RFC 5802, RFC 7677). No I/O: callers supply the
 * stored secrets and the random nonce.
 *
 * No SASLprep (RFC 4013): passwords are used as given (UTF-8 bytes), so a
 * client must send the same bytes that were hashed. Names are only checked
 * to be valid UTF-8 without control characters (C0, DEL, C1). */
#ifndef SASL_H
#define SASL_H
#include <stdbool.h>
#include <stddef.h>

#define SASL_NAME_MAX 255	/* longest authcid/authzid, bytes */
#define SASL_PASS_MAX 1024	/* longest password, bytes */

/* base64 (RFC 4648 section 4), strict: padding required, no whitespace, no
 * bits set in the padding, nothing after '='. */
size_t b64_encoded_len(size_t n);	/* without the NUL */
/* Writes a NUL-terminated encoding; returns its length, or (size_t)-1 when
 * outsz is too small. */
size_t b64_encode(const void *in, size_t n, char *out, size_t outsz);
/* 0 on success (*outlen set), -1 when invalid or the result would not fit. */
int b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz, size_t *outlen);

/* PLAIN: [authzid] NUL authcid NUL passwd. Fields are valid UTF-8 without
 * NUL, authcid and passwd not empty, names without control characters.
 * 0 ok, -1 malformed (*out zeroed). */
struct sasl_plain {
	char authzid[SASL_NAME_MAX + 1];
	char authcid[SASL_NAME_MAX + 1];
	char passwd[SASL_PASS_MAX + 1];
};
int sasl_plain_parse(const unsigned char *msg, size_t len, struct sasl_plain *out);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool utf8_valid(const unsigned char *s, size_t len);

/* SCRAM-SHA-256 stored secret (what Dovecot writes as
 * {SCRAM-SHA-256}ITER,SALT_B64,STOREDKEY_B64,SERVERKEY_B64). */
#define SCRAM_SALT_MAX 64
#define SCRAM_ITER_MAX 10000000
struct scram_secret {
	unsigned iter;
	unsigned char salt[SCRAM_SALT_MAX];
	size_t saltlen;
	unsigned char stored_key[32];
	unsigned char server_key[32];
};
/* Derive from a password (PBKDF2-HMAC-SHA-256). 0 ok, -1 error (password
 * longer than SASL_PASS_MAX, salt or iter out of range). */
int scram_secret_make(const char *password, const unsigned char *salt, size_t saltlen,
    unsigned iter, struct scram_secret *out);
/* "ITER,SALT,STORED,SERVER" (no "{SCRAM-SHA-256}" prefix). Returns length or -1. */
int scram_secret_format(const struct scram_secret *s, char *out, size_t outsz);
/* Parse the same text (prefix already removed). 0 ok, -1 malformed
 * (iter 1..10000000, salt 1..SCRAM_SALT_MAX bytes, keys exactly 32 bytes). */
int scram_secret_parse(const char *text, struct scram_secret *out);
/* A secret for a user that does not exist, derived from key and name, so that
 * the exchange looks the same (salt and iteration count stable per name).
 * No proof matches it. iter is clamped to 1..SCRAM_ITER_MAX. */
void scram_secret_fake(const unsigned char key[32], const char *name, unsigned iter,
    struct scram_secret *out);

/* One server-side SCRAM-SHA-256 exchange. No channel binding: gs2 flag "n"
 * or "y" ("y" is fine as no -PLUS mechanism is offered); "p=" is refused.
 * Zero the struct before use. The calls must come in order (client_first,
 * first, client_final): one out of order returns -1. Any failure, wrong
 * proof included, ends the exchange in SCRAM_FAILED (authcid and authzid
 * stay set once client-first parsed, for logging). */
enum scram_state { SCRAM_START, SCRAM_GOT_FIRST, SCRAM_SENT_FIRST, SCRAM_DONE, SCRAM_FAILED };
struct scram_server {
	enum scram_state state;
	char authcid[SASL_NAME_MAX + 1];	/* after client-first, "=2C"/"=3D" decoded */
	char authzid[SASL_NAME_MAX + 1];	/* "" when none */
	char gs2_header[3 * SASL_NAME_MAX + 8];	/* as sent: authzid still escaped */
	char client_first_bare[1024];
	char server_first[1024];
	char nonce[512];			/* client nonce + server nonce */
};
/* client-first-message (at most 1023 bytes without the gs2 header, client
 * nonce at most 255). 0 ok (authcid/authzid set), -1 malformed (*err says why). */
int scram_server_client_first(struct scram_server *s, const unsigned char *msg, size_t len,
    const char **err);
/* server-first-message for this secret; snonce: printable ASCII except ','.
 * Returns its length, or -1. */
int scram_server_first(struct scram_server *s, const struct scram_secret *sec, const char *snonce,
    char *out, size_t outsz);
/* client-final-message: checks channel binding, nonce and proof.
 * 1 proof right (out = NUL-terminated server-final-message "v=...", its
 * length in *outlen), 0 wrong proof, -1 malformed (*err says why). */
int scram_server_client_final(struct scram_server *s, const struct scram_secret *sec,
    const unsigned char *msg, size_t len, char *out, size_t outsz, size_t *outlen, const char **err);
#endif
