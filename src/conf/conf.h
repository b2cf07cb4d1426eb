/* conf: the one configuration file: parse (pure), validate, dump like postconf -n. */
#ifndef CONF_H
#define CONF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

enum conf_type { CT_STR, CT_INT, CT_SIZE, CT_TIME, CT_ENUM };

struct cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

/* smtp: port 25 (STARTTLS offered); submission: 587, TLS and AUTH required
 * (RFC 6409); submissions: 465, implicit TLS and AUTH required (RFC 8314). */
enum listen_kind {
	LISTEN_SMTP, LISTEN_SUBMISSION, LISTEN_SUBMISSIONS,
	LISTEN_IMAP, LISTEN_IMAPS, LISTEN_POP3, LISTEN_POP3S,
};
/* The listener serves IMAP or POP3 (not SMTP). */
#define LISTEN_IS_MAIL_ACCESS(k) ((k) >= LISTEN_IMAP)
/* The listener starts with a TLS handshake. */
#define LISTEN_IS_IMPLICIT_TLS(k) ((k) == LISTEN_SUBMISSIONS || (k) == LISTEN_IMAPS || \
	(k) == LISTEN_POP3S)
struct listener_conf {
	enum listen_kind kind;
	char *name;		/* "smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s" */
	char *host;		/* numeric address */
	char *port;
	char *cert, *key;	/* cert=FILE key=FILE: this listener's own certificate */
	unsigned line;
};

/* tls_sni NAME CERT [KEY]: the certificate for clients asking for NAME. */
struct tls_sni_conf {
	char *name, *cert, *key;
	unsigned line;
};

enum users_kind { USERS_SYSTEM, USERS_PASSWD_FILE, USERS_SQLITE };
struct users_conf {
	enum users_kind kind;
	char *path;		/* passwd-file, sqlite */
	unsigned line;
};

/* auth_listen PATH [mode=0660] [user=U] [group=G]: a Dovecot-protocol auth
 * socket for other programs (Postfix smtpd_sasl_type = dovecot). */
struct auth_listen_conf {
	char *path;
	unsigned mode;
	char *user, *group;	/* NULL: root / run_user's group */
	unsigned line;
};

enum mailbox_kind { MAILBOX_MAILDIR, MAILBOX_MBOX };

struct conf {
	char *path;
	/* scalar settings: one field per params.def row */
	char *hostname, *spool, *run_user, *default_privs, *aliases, *recipient_delimiter, *banner;
	char *bare_newline, *log_level, *sync_method, *tls_cert, *tls_key, *smtpd_tls_security_level;
	char *smtpd_sasl_auth_enable, *auth_mechanisms, *disable_plaintext_auth, *plaintext_auth_loopback,
	    *auth_allow_plain_passwords, *reject_sender_login_mismatch;
	long long message_size_limit, queue_minfree, recipient_limit, line_length_limit, smtpd_timeout,
	    max_connections, max_connections_per_ip, max_errors, delivery_threads,
	    minimal_backoff_time, maximal_backoff_time, maximal_queue_lifetime, mbox_lock_timeout,
	    auth_failure_delay, auth_max_failures, auth_threads, auth_cache_ttl;
	/* which scalars were set explicitly (bit per params.def row) */
	uint64_t set_mask;

	char **domains;		/* lower-cased, no trailing dot */
	size_t ndomains;
	struct cidr *networks;
	size_t nnetworks;
	char *networks_text;	/* as written, for dumps */
	struct users_conf *users;
	size_t nusers;
	enum mailbox_kind mailbox_kind;
	char *mailbox_path;	/* "~/Maildir", "/var/mail/%u", "/srv/mail/%d/%n" */
	bool mailbox_set;
	struct listener_conf *listeners;
	size_t nlisteners;
	struct auth_listen_conf *auth_listen;
	size_t nauth_listen;
	struct tls_sni_conf *tls_sni;
	size_t ntls_sni;
};

/* Parse config text (pure). Returns 0, or -1 with *error_r allocated "file:line: problem". */
int conf_parse(const char *text, size_t len, const char *path, struct conf *c, char **error_r);
/* Fill defaults for everything not set; hostname from the system when empty. */
void conf_defaults(struct conf *c);
/* Read and parse a file, then apply defaults. */
int conf_load(const char *path, struct conf *c, char **error_r);
void conf_free(struct conf *c);
/* Print settings that differ from the defaults, one "name = value" a line. */
void conf_dump(const struct conf *c, FILE *fp, bool all);
/* Print the reference of every setting (for docs and --help). */
void conf_print_reference(FILE *fp);

bool conf_is_local_domain(const struct conf *c, const char *domain);
/* May a password travel in clear on this connection (Dovecot's
 * disable_plaintext_auth, our plaintext_auth_loopback)? */
bool conf_plaintext_allowed(const struct conf *c, bool tls, bool loopback);
/* Whether the config file set this scalar setting (else it has its default). */
bool conf_is_set(const struct conf *c, const char *name);
bool cidr_match(const struct cidr *list, size_t n, const struct sockaddr *sa);
int cidr_parse(const char *s, struct cidr *out);
/* Parse "52428800", "10M", "300s", "5d" etc. 0 or -1. */
int conf_parse_size(const char *s, long long *v);
int conf_parse_time(const char *s, long long *v);
#endif
