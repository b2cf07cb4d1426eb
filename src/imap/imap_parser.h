/* imap_parser: IMAP4rev1/rev2 command framing and parsing (RFC 3501 section
 * 9, RFC 9051 section 9, LITERAL+/LITERAL- RFC 7888, BINARY literal8 RFC 3516).
 * Pure and bounded. Two steps: the framer finds where a command ends in the
 * byte stream (lines joined by literals) and tells the session when to send
 * a continuation; the parser turns one complete command into a tag, a name
 * and an argument tree. */
#ifndef IMAP_PARSER_H
#define IMAP_PARSER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- framing ---- */

/* Zero it (memset or "= { 0 }") before the first command. */
struct imap_framer {
	size_t cmd_len;		/* bytes of the current command seen so far */
	size_t line_len;	/* bytes of the current line (since the last literal) */
	uint64_t literal_left;	/* bytes of a literal still to come */
	size_t nliterals;
	bool in_literal;
	bool skipping;		/* after an error: drop input up to the end of the line */
	/* Where the line's end stands in a "{123+}\r" announcement, and
	 * whether a quoted string is open (a "{5}" inside one is text). */
	uint64_t lit_size;	/* saturates at UINT64_MAX */
	unsigned char lit_state;
	bool lit_plus;
	bool in_quote, quote_esc;
};

enum imap_frame_ev {
	IMAP_FRAME_MORE,	/* all input used, the command is not complete */
	IMAP_FRAME_CONTINUE,	/* a synchronizing literal {n} was announced and is
				 * acceptable: send "+ ..." and read on */
	IMAP_FRAME_COMMAND,	/* a complete command: *cmd_len bytes from its start,
				 * CRLF (or LF) included */
	IMAP_FRAME_TOO_LONG,	/* a line is longer than max_line or the command
				 * longer than max_command: answer BAD; the rest of
				 * that line is dropped (IMAP_FRAME_DROPPED) unless
				 * the byte that went over was its LF */
	IMAP_FRAME_LITERAL_TOO_BIG, /* {n} larger than max_literal ({n+}: max_nonsync),
				 * beyond max_command or max_literals: answer BAD
				 * (for a synchronizing literal no data follows; for
				 * {n+} the session should close). The framer is
				 * ready for the next command. */
	IMAP_FRAME_DROPPED,	/* *used bytes were the rest of an over-long line:
				 * not part of any command. Such a call stops right
				 * after the LF, so it never mixes dropped bytes
				 * with the next command's. */
};

/* Every limit is hard (0 means none allowed, not "no limit"). */
struct imap_frame_limits {
	size_t max_line;	/* longest line between literals, CRLF excluded */
	uint64_t max_literal;	/* largest single literal */
	uint64_t max_nonsync;	/* largest {n+}: 4096 for LITERAL- (RFC 7888 4),
				 * max_literal for LITERAL+ */
	size_t max_command;	/* largest whole command, literals and CRLFs included */
	size_t max_literals;	/* most literals in one command */
};

/* Feed bytes; *used tells how many were consumed (the rest belongs to the
 * next call). After IMAP_FRAME_COMMAND the framer is reset for the next
 * command. *literal_size is set for CONTINUE and LITERAL_TOO_BIG (UINT64_MAX
 * when the number overflowed); *nonsync tells whether the literal was {n+}.
 * A literal is "{" 1*DIGIT ["+"] "}" (or "~{...}", literal8) right before the
 * line's CRLF or LF, outside a quoted string. The result is the same however
 * the input is split between calls. */
enum imap_frame_ev imap_frame(struct imap_framer *f, const struct imap_frame_limits *lim,
    const char *buf, size_t len, size_t *used, size_t *cmd_len, uint64_t *literal_size,
    bool *nonsync);

/* ---- parsing ---- */

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* also sequence sets, flags (\Seen), numbers, '*'-free atoms */
	IMAP_ARG_STRING,	/* quoted string (unescaped) or literal */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,		/* ( ... ) */
	IMAP_ARG_SECTION,	/* BODY[...]<...> style: atom with a bracketed part, kept whole */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;	/* NUL-terminated copy in the command's arena (not for LIST) */
	size_t len;		/* bytes (a literal may contain NUL only if literal8) */
	bool literal;		/* came as {n} / {n+} */
	bool literal8;		/* came as ~{n} (BINARY) */
	struct imap_arg *list;	/* LIST children */
	size_t nlist;
};

#define IMAP_TAG_MAX 64
#define IMAP_NAME_MAX 32

struct imap_cmd {
	char tag[IMAP_TAG_MAX + 1];
	char name[IMAP_NAME_MAX + 1];	/* upper-cased; "UID FETCH" for UID commands */
	struct imap_arg *args;		/* top-level arguments after the name */
	size_t nargs;
	void *arena;			/* everything above lives here */
};

struct imap_parse_limits {
	size_t max_depth;	/* parenthesis nesting (a section's inner lists count) */
	size_t max_args;	/* arguments in total, all levels (a list counts too) */
};

/* The texts of imap_parse errors (*err), for BAD replies and tests. */
#define IMAP_E_EMPTY		"Empty command"
#define IMAP_E_TAG		"Invalid tag"
#define IMAP_E_TAGLEN	"Tag too long"
#define IMAP_E_NOCMD		"Missing command"
#define IMAP_E_CMD		"Invalid command name"
#define IMAP_E_CMDLEN	"Command name too long"
#define IMAP_E_UID		"Missing command after UID"
#define IMAP_E_NOSPACE	"Missing space"
#define IMAP_E_EXTRASP	"Unexpected space"
#define IMAP_E_NOARG		"Missing argument"
#define IMAP_E_CHAR		"Invalid character"
#define IMAP_E_FLAG		"Invalid flag"
#define IMAP_E_QUOTED	"Unterminated quoted string"
#define IMAP_E_ESCAPE	"Invalid escape in quoted string"
#define IMAP_E_QNUL		"NUL in quoted string"
#define IMAP_E_LITERAL	"Invalid literal"
#define IMAP_E_LITBIG	"Literal too big"
#define IMAP_E_LITSHORT	"Truncated literal"
#define IMAP_E_LITNUL	"NUL in literal"
#define IMAP_E_PAREN		"Unexpected )"
#define IMAP_E_UNCLOSED	"Missing )"
#define IMAP_E_DEPTH		"Too deeply nested"
#define IMAP_E_ARGS		"Too many arguments"
#define IMAP_E_SECTION	"Missing ] in section"
#define IMAP_E_SECTCHAR	"Invalid character in section"
#define IMAP_E_SECTLIT	"Invalid literal in section"
#define IMAP_E_CRLF		"Missing CRLF"
#define IMAP_E_TRAILING	"Data after CRLF"

/*
 * Parse one complete command (as framed above: it ends with its CRLF or
 * LF). 0 ok (free with imap_cmd_free), -1 with *err (a short reason for the
 * BAD reply) and, when it could be read, tag filled in (else "*").
 *
 * Syntax (RFC 9051 9): tag SP name [SP arg *(SP arg)] CRLF, single spaces,
 * none after "(" or before ")" or at the end. Tags are ASTRING-CHAR but "+".
 * Atoms are ATOM-CHAR plus the list wildcards "*" "%" and "]", with an
 * optional leading "\" (flags). An atom with "[" runs to the matching "]"
 * (outside quoted strings and inner parentheses) across spaces and goes on
 * with atom characters ("<0.100>"): that is a SECTION, its text as written
 * except that a literal inside it (a header-fld-name) becomes a quoted
 * string. "NIL" in any case is NIL. Quoted strings allow only \" and \\ and
 * no CR/LF/NUL (8-bit is let through for UTF8=ACCEPT); literals are taken
 * byte-exact (NUL only in literal8).
 */
int imap_parse(const char *cmd, size_t len, const struct imap_parse_limits *lim,
    struct imap_cmd *out, const char **err);
void imap_cmd_free(struct imap_cmd *c);

/* The tag at the start of a (possibly partial) command, for the BAD reply to
 * IMAP_FRAME_TOO_LONG / LITERAL_TOO_BIG. 0 when a valid tag followed by SP
 * is there, else -1 and tag is "*". */
int imap_parse_tag(const char *cmd, size_t len, char tag[IMAP_TAG_MAX + 1]);

/* An argument used as an astring (mailbox names, LOGIN): the text of an
 * atom (not a flag, no wildcards), a string (not literal8), NIL as written
 * (a mailbox may be called "nil"), or a SECTION made only of ASTRING-CHARs
 * ("[Gmail]/Sent"). NULL otherwise. */
const char *imap_arg_astring(const struct imap_arg *a);

/* Quote a string for a response: "..." (with \" and \\) when it is short
 * (at most IMAP_QUOTE_MAX bytes) and has no CR, LF or 8-bit byte, else a
 * literal {n}\r\n... . NUL bytes cannot be sent in any IMAP string and are
 * left out. Like snprintf: returns the length of the result without its
 * NUL; when that is >= outsz nothing is written (out may be NULL then). */
#define IMAP_QUOTE_MAX 1024
size_t imap_quote(const char *s, size_t len, char *out, size_t outsz);
#endif
