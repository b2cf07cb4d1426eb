/* mutf7: IMAP modified UTF-7 mailbox names (RFC 3501 section 5.1.3) — pure. */
#ifndef MUTF7_H
#define MUTF7_H
#include <stddef.h>

/* UTF-8 -> modified UTF-7, the one canonical form: printable ASCII as
 * itself ("&" as "&-"), each run of other characters as one "&...-" shift
 * with zero padding bits. 0, or -1 when the input is not valid UTF-8 (or
 * has NUL) or the output does not fit (outsz includes the NUL). */
int mutf7_encode(const char *utf8, size_t len, char *out, size_t outsz);
/* Modified UTF-7 -> UTF-8, NUL-terminated. 0, or -1 when not canonical
 * modified UTF-7 (bad base64, "&-" is '&', printable ASCII must not be
 * encoded, unterminated shift, needless or non-zero padding bits, two
 * shifts in a row, lone surrogates, NUL, bytes outside 0x20-0x7e) or out is
 * too small. Whatever decodes encodes back to the same bytes. */
int mutf7_decode(const char *mutf7, size_t len, char *out, size_t outsz);
#endif
