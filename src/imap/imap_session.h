/* imap_session: one IMAP connection — state, the selected folder's view,
 * and the commands. Internal to imap_server (imap_server.c owns the list
 * of sessions and the shared folders; imap_fetch.c builds FETCH data). */
#ifndef IMAP_SESSION_H
#define IMAP_SESSION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "imap/imap_parser.h"
#include "imap/seqset.h"
#include "store/mailbox.h"
#include "store/mailstore.h"

struct imap_server;
struct conn;
struct event_base;
struct auth_request;
struct append_job;

enum imap_state { IS_NOAUTH, IS_AUTH, IS_SELECTED, IS_LOGOUT };

struct imap_session {
	struct imap_server *srv;
	struct imap_session *next, *prev;
	struct conn *c;
	char sid[12];
	char addr[64];
	bool loopback;
	enum listen_kind kind;
	void *tls;			/* SSL_CTX for STARTTLS (a reference), or NULL */
	enum imap_state state;
	struct imap_framer fr;
	size_t scan;			/* input bytes the framer has seen */
	unsigned bad;			/* BAD replies in a row */
	char user[256];
	struct mailstore ms;

	/* authentication in progress */
	struct auth_request *areq;
	char atag[IMAP_TAG_MAX + 1];
	bool auth_wait, auth_exchange, auth_is_login;

	struct relay *relay;		/* handed off: bytes go to the user's mail process */

	/* an APPEND whose files are being made durable: input waits */
	struct append_job *ajob;
	bool sync_wait;

	/* IDLE */
	bool idling;
	char itag[IMAP_TAG_MAX + 1];

	/* ENABLE / client kind */
	bool condstore, qresync, utf8, rev2;

	/* the selected folder: sequence numbers are indexes into uids */
	struct mailbox *mb;
	char *mbname;
	bool readonly;
	uint32_t *uids;
	size_t n, cap;
	uint8_t *recent;		/* per message: \Recent for this session (rev1) */
	uint64_t modseq_seen;		/* changes up to here were reported */
	struct seqset saved;		/* SEARCHRES ($) */
	bool notify_pending;		/* changes to tell at the next chance */
};

struct imap_session *imap_session_new(struct imap_server *srv, struct event_base *eb, int fd,
    const char *addr, const struct sockaddr *sa, enum listen_kind kind, void *tls);
void imap_session_start(struct imap_session *s);
/* A session logged in elsewhere (mail process): open the store at maildir
 * and answer the login with tag. */
void imap_session_adopt(struct imap_session *s, const char *user, const char *maildir,
    const char *tag);
/* The selected folder changed: report now if idling, else at the next
 * command that may. */
void imap_session_notify(struct imap_session *s);
/* Server stopping: BYE and close. */
void imap_session_shutdown(struct imap_session *s);
void imap_session_destroy(struct imap_session *s);
/* Detach a session from its APPEND in progress (it finishes without it). */
void imap_append_orphan(struct imap_session *s);

/* imap_server.c services for the sessions */
struct mailbox *imap_box_open(struct imap_server *srv, const char *dir, bool create,
    const char **error_r);
void imap_box_close(struct imap_server *srv, struct mailbox **mb);
void imap_box_changed(struct imap_server *srv, struct mailbox *mb, struct imap_session *except);
const struct conf *imap_server_conf(const struct imap_server *srv);
struct auth_client *imap_server_auth(const struct imap_server *srv);
int imap_server_user_maildir(struct imap_server *srv, const char *user, char *path, size_t sz);
/* The owner's handoff (imap_server_ops); -1 when there is none. */
struct imap_handoff;
int imap_server_handoff(struct imap_server *srv, const struct imap_handoff *h);
struct event_base *imap_server_eb(const struct imap_server *srv);
/* Where appends are made durable off the loop; NULL when each is synced
 * itself (sync_method fsync). */
struct bgsync *imap_server_bgsync(struct imap_server *srv);
bool imap_server_stopping(const struct imap_server *srv);
void imap_server_unlink(struct imap_server *srv, struct imap_session *s);

/* imap_fetch.c: FETCH and STORE */
void imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd, bool uid);
void imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd, bool uid);
/* "(\Seen $Label1)" for a message of the selected folder. */
void imap_flags_str(const struct imap_session *s, size_t mi, size_t seq, char *buf, size_t sz);
/* Index in s->mb->m of the message at sequence number seq (1-based), or
 * -1 when it was expunged meanwhile. */
long imap_msg_index(const struct imap_session *s, size_t seq);
/* Resolve a sequence set argument to sequence numbers (uid: UIDs) of the
 * view. 0 or -1 with *err. */
int imap_set_parse(struct imap_session *s, const char *arg, bool uid, struct seqset *out,
    const char **err);
/* imap_search_cmd.c: SEARCH, SORT, THREAD */
void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd, bool uid);
void imap_cmd_sort(struct imap_session *s, const struct imap_cmd *cmd, bool uid, bool thread);
/* Flags of APPEND and STORE: a list or one flag; keywords point into l. */
int imap_parse_flags(const struct imap_arg *l, unsigned *flags, const char ***kw, size_t *nkw);
/* Output */
void imap_out(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_write(struct imap_session *s, const void *p, size_t n);
void imap_tagged(struct imap_session *s, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "* VANISHED (EARLIER) ..." for the UIDs of the set (below UIDNEXT) that
 * the folder no longer has (QRESYNC: MODSEQs of expunged messages are not
 * kept, so every such UID is reported, as RFC 7162 3.2.5.1 allows). */
void imap_vanished_earlier(struct imap_session *s, const struct seqset *uids);
/* This session changed flags itself (and answered with them): when the
 * view was current before (HIGHESTMODSEQ was `before`), it still is. */
void imap_own_change(struct imap_session *s, uint64_t before);
/* Report expunges (when allowed), new messages and flag changes. */
void imap_view_update(struct imap_session *s, bool expunges);
#endif
