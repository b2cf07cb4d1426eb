/* addrlist: extract addr-specs from RFC 5322 address-list header values (pure). */
#ifndef ADDRLIST_H
#define ADDRLIST_H
#include <stddef.h>

/*
 * Walk an address-list such as
 *   Name <a@b>, c@d, "Last, First" <e@f> (comment), group: g@h, i@j;, undisclosed-recipients:;
 * and call cb once per addr-spec (without angle brackets, comments or display
 * names; quoted local parts keep their quotes). Bounded: at most max_addrs
 * callbacks, nesting of comments at most 32. Returns the number of addresses
 * found, or -1 when the value is malformed (unbalanced quotes, brackets or
 * parentheses); addresses found before the error have been reported.
 */
int addrlist_parse(const char *value, size_t len, size_t max_addrs,
    void (*cb)(void *ctx, const char *addr, size_t addrlen), void *ctx);
#endif
