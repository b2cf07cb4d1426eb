/* authproto: Dovecot's auth client protocol (v1), the one Postfix speaks with
 * smtpd_sasl_type = dovecot. Pure: line splitting, tab-escaping, and the
 * parse of the client commands the server accepts. */
#ifndef AUTHPROTO_H
#define AUTHPROTO_H
#include <stdbool.h>
#include <stddef.h>

#define AUTHPROTO_LINE_MAX 16384	/* longest line, LF excluded */
#define AUTHPROTO_ARGS_MAX 32

/* Split a line (no LF) on TABs in place and undo \001-escaping in each
 * field. Returns the field count, or -1 when there are more than max fields
 * or the line holds a NUL/CR. */
int authproto_split(char *line, size_t len, char **argv, int max);
/* Escape a value for a line (TAB, LF, CR, NUL and \001). Returns the length
 * written (NUL-terminated), or -1 when it does not fit. */
int authproto_escape(const char *in, size_t n, char *out, size_t outsz);

enum authproto_cmd { AP_VERSION, AP_CPID, AP_AUTH, AP_CONT, AP_CANCEL, AP_UNKNOWN };

struct authproto_auth {
	unsigned long id;
	const char *mech;
	const char *service;	/* "" when not given */
	const char *lip, *rip;	/* "" when not given */
	const char *resp;	/* initial response (base64), NULL when none */
	bool secured;		/* TLS or a connection the client considers secure */
	bool final_resp_ok;	/* the client takes final server data in OK's resp= */
	bool nologin;
};

struct authproto_msg {
	enum authproto_cmd cmd;
	unsigned long major, minor;	/* VERSION */
	unsigned long id;		/* CPID pid, CONT/CANCEL id */
	const char *data;		/* CONT */
	struct authproto_auth auth;	/* AUTH */
};

/* Interpret a split line. 0 ok, -1 malformed (*err says why). Pointers
 * refer into argv. Unknown optional AUTH parameters are ignored. */
int authproto_parse(char **argv, int argc, struct authproto_msg *m, const char **err);
#endif
