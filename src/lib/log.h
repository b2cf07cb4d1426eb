/* log: one line per event, key=value. stderr in the foreground, syslog as a daemon. */
#ifndef LOG_H
#define LOG_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_L_DEBUG, LOG_L_INFO, LOG_L_WARN, LOG_L_ERR };

void log_init(const char *ident, bool use_syslog, enum log_level min);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_L_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_L_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_L_WARN, __VA_ARGS__)
#define log_err(...)   log_msg(LOG_L_ERR, __VA_ARGS__)
/* Broken invariant: log and exit. Never reachable from peer input. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copy untrusted text for a log line: non-printables and '"' '\\' become \xHH,
 * at most dstsz-1 bytes. Returns dst. */
char *log_escape(char *dst, size_t dstsz, const char *src, size_t srclen);
#endif
