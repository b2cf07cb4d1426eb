/* util: allocation that never returns NULL, strings, and durable file helpers. */
#ifndef UTIL_H
#define UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ASCII case-insensitive equality of a and the first n bytes of b, b NUL-free. */
bool str_ieq(const char *a, const char *b);
void str_lower(char *s);
/* strcmp of key, ASCII-lower-cased on the fly, with an already lower-cased
 * name (for bsearch over lower-cased tables). */
int str_cmp_lower(const char *key, const char *lowered);

/* Write all of buf, retrying short writes and EINTR. 0 or -1 with errno. */
/* s[0..n) as plain decimal (leading zeros allowed, nothing else), at most
 * max: 0 with *v_r, or -1. */
int parse_dec_u32(const char *s, size_t n, uint32_t max, uint32_t *v_r);
int write_all(int fd, const void *buf, size_t len);
/* Read a whole file (at most max bytes) into a NUL-terminated buffer. */
int read_file(const char *path, size_t max, char **data_r, size_t *len_r);
/* The same for files in directories others may write (the spool): refuses
 * symlinks and anything but a regular file. */
int read_file_nofollow(const char *path, size_t max, char **data_r, size_t *len_r);
/* fsync a directory by path. */
int fsync_dir(const char *path);
/* mkdir -p with mode for the created components. */
int mkdir_p(const char *path, mode_t mode);
/* Durable replace: write tmp, fsync, rename over path, fsync the directory. */
int atomic_write(const char *path, const void *data, size_t len, mode_t mode);
/* Monotonic clock in milliseconds. */
unsigned long long now_ms(void);
#endif
