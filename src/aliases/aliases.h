/* aliases: aliases(5) file parser (pure) and recursive expansion. */
#ifndef ALIASES_H
#define ALIASES_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum alias_kind {
	ALIAS_ADDR,	/* "user" or "user@domain" (may be another alias) */
	ALIAS_FILE,	/* "/path/to/file": append the message */
	ALIAS_PIPE,	/* "|command args": run the command, message on stdin */
	ALIAS_INCLUDE	/* ":include:/path": a file with more targets */
};

struct alias_target {
	enum alias_kind kind;
	char *value;	/* address, absolute path, or command text after '|' */
};

struct alias_entry {
	char *name;	/* lower-cased local part */
	struct alias_target *targets;
	size_t ntargets;
	unsigned line;	/* line of the entry in its file */
};

struct aliases {
	char *path;	/* file name used in error messages */
	uid_t owner;	/* owner of the file: pipes/files run as this user (never root) */
	gid_t group;	/* owner's primary group for pipes/files (0: default_gid) */
	struct alias_entry *entries;	/* sorted by name for lookup */
	size_t nentries;
};

/*
 * Parse text in aliases(5) format: "name: target, target, ...", '#' comments,
 * continuation lines starting with whitespace, quoted targets ("|cmd arg"),
 * and name may be quoted. Duplicate names: the later one wins with a warning
 * (like postalias). Returns a new struct (free with aliases_free), or NULL with
 * *error_r set to an allocated "file:line: problem" text.
 * Warnings (duplicates) go to *warnings_r as an allocated newline-separated
 * string, or NULL when none.
 */
struct aliases *aliases_parse(const char *text, size_t len, const char *path,
    char **error_r, char **warnings_r);
void aliases_free(struct aliases **a);

/* Parse the contents of an :include: file: targets separated by ',' or newlines,
 * '#' comments. Returns 0 or -1 with *error_r allocated "file:line: problem". */
int aliases_parse_list(const char *text, size_t len, const char *path,
    struct alias_target **targets_r, size_t *ntargets_r, char **error_r);
void alias_targets_free(struct alias_target *t, size_t n);

/* Case-insensitive exact lookup of a local part. */
const struct alias_entry *aliases_lookup(const struct aliases *a, const char *name);

/* Expansion: the result is a list of final destinations. */
enum alias_dest_kind { DEST_LOCAL, DEST_REMOTE, DEST_FILE, DEST_PIPE };
struct alias_dest {
	enum alias_dest_kind kind;
	char *value;	/* local user name, remote address, path, or command */
	uid_t uid;	/* FILE/PIPE: run/write as this uid (owner of the alias source) */
	gid_t gid;
};
struct alias_result {
	struct alias_dest *dests;
	size_t ndests;
};
void alias_result_free(struct alias_result *r);

struct alias_expand_ops {
	/* Is domain one of ours? (so "user@ourdomain" targets expand locally) */
	bool (*is_local_domain)(void *ctx, const char *domain);
	/* Read an :include: file: contents and owner. 0 or -1 with *error_r set.
	 * *data_r is malloc'd; aliases_expand frees it. */
	int (*read_include)(void *ctx, const char *path, char **data_r, size_t *len_r,
	    uid_t *owner_r, gid_t *gid_r, const char **error_r);
	void *ctx;
	uid_t default_uid;	/* used instead of root (uid 0) for FILE/PIPE */
	gid_t default_gid;
};

/*
 * Expand local part `name` (already stripped of +extension and lower-cased):
 * if it is not an alias the result is just DEST_LOCAL name. An alias that
 * reaches itself (directly or through others) delivers to the user of that
 * name (like "root: root, admin"); other loops end there too. Bounded: depth
 * 20, 1000 destinations, 100 includes; duplicates are removed. Returns 0, or
 * -1 with *error_r (static text) when an include cannot be read or a bound is
 * exceeded (a temporary failure for the caller). A syntax error in an include
 * file is reported in a per-thread buffer valid until the next call.
 */
int aliases_expand(const struct aliases *a, const char *name, const struct alias_expand_ops *ops,
    struct alias_result *r, const char **error_r);
#endif
