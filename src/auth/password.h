/* password: stored password schemes (Dovecot's names) — verify and hash. */
#ifndef PASSWORD_H
#define PASSWORD_H
#include <stdbool.h>
#include <stddef.h>

#include "auth/sasl.h"

/*
 * A stored password is "{SCHEME}data" or, without a prefix, a crypt(3) hash
 * (Dovecot's default scheme CRYPT). Schemes:
 *   CRYPT, SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT, BLF-CRYPT, DES-CRYPT  crypt(3) via libxcrypt
 *       (any prefix crypt_r understands: $y$ yescrypt, $6$, $5$, $2b$/$2y$, $1$, ...)
 *   ARGON2I, ARGON2ID          libargon2 encoded strings ($argon2id$v=19$m=...)
 *   SHA (SHA1), SHA256, SHA512 base64 of the digest (".HEX" suffix: hex; ".B64": base64)
 *   SSHA, SSHA256, SSHA512     base64 of digest || salt (same suffixes)
 *   SCRAM-SHA-256              ITER,SALT,STOREDKEY,SERVERKEY (see sasl.h)
 *   PLAIN, CLEARTEXT           the password itself, only when allow_plain
 * Scheme names are case-insensitive. Comparisons are constant-time. An empty
 * password, or nothing stored after the scheme, never matches.
 */
enum pw_result { PW_OK, PW_MISMATCH, PW_UNSUPPORTED, PW_ERROR };

enum pw_result password_verify(const char *stored, const char *password, bool allow_plain);
/* Spend the same time as verifying against a hash like `like` (used for
 * unknown users, so that they cannot be told from wrong passwords). When
 * `like` is NULL or unusable, the cost of a password_hash() hash. */
void password_dummy_verify(const char *like, const char *password);
/* New hash for a password: "{CRYPT}$y$..." (yescrypt, libxcrypt's default
 * cost). 0 ok, -1 error (empty password, out too small). */
int password_hash(const char *password, char *out, size_t outsz);
/* New "{SCRAM-SHA-256}..." secret (random 16-byte salt, 4096 iterations).
 * 0 ok, -1 error (as password_hash). */
int password_scram(const char *password, char *out, size_t outsz);
/* 1 when stored holds a SCRAM-SHA-256 secret (filled in), else 0. */
int password_scram_get(const char *stored, struct scram_secret *out);
/* NULL when the stored value is usable; else a reason, valid in this thread
 * until the next call ("unknown
 * scheme {FOO}", "{PLAIN} not allowed (auth_allow_plain_passwords)", "not a
 * crypt(3) hash this system supports"). For `estafeta check`. */
const char *password_check_stored(const char *stored, bool allow_plain);
#endif
