#include "auth/auth_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/authproto.h"
#include "lib/log.h"
#include "lib/util.h"

#define MECHS_MAX 8

struct auth_request {
	struct auth_client *ac;
	struct auth_request *next;
	unsigned long id;
	auth_cb cb;
	void *ctx;
	struct event *fail_ev;	/* deferred TEMPFAIL when the service is unreachable */
};

struct auth_client {
	struct event_base *eb;
	char *path;
	struct bufferevent *bev;
	bool ready;		/* DONE seen */
	struct {
		char name[32];
		bool plaintext;
	} mechs[MECHS_MAX];
	int nmechs;
	struct auth_request *reqs;
	unsigned long next_id;
	unsigned long long last_try_ms;
	char ticket[128];	/* of the OK being reported */
};

static void ac_disconnect(struct auth_client *ac, const char *why);

static void
req_unlink(struct auth_request *r)
{
	for (struct auth_request **pp = &r->ac->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return;
		}
}

static void
req_free(struct auth_request *r)
{
	req_unlink(r);
	if (r->fail_ev)
		event_free(r->fail_ev);
	free(r);
}

static struct auth_request *
req_find(struct auth_client *ac, unsigned long id)
{
	for (struct auth_request *r = ac->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* The last callback of a request; it is freed first so that the callback may
 * start another one. */
static void
req_finish(struct auth_request *r, enum auth_status st, const char *data, const char *user)
{
	auth_cb cb = r->cb;
	void *ctx = r->ctx;
	req_free(r);
	cb(ctx, st, data, user);
}

static const char *
param(char **argv, int argc, const char *name)
{
	size_t n = strlen(name);
	for (int i = 2; i < argc; i++)
		if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static void
ac_line(struct auth_client *ac, char *line, size_t len)
{
	char *argv[AUTHPROTO_ARGS_MAX];
	int argc = authproto_split(line, len, argv, AUTHPROTO_ARGS_MAX);
	if (argc < 1)
		return;
	if (strcmp(argv[0], "MECH") == 0 && argc >= 2 && ac->nmechs < MECHS_MAX) {
		strlcpy(ac->mechs[ac->nmechs].name, argv[1], sizeof(ac->mechs[0].name));
		ac->mechs[ac->nmechs].plaintext = false;
		for (int i = 2; i < argc; i++)
			if (strcmp(argv[i], "plaintext") == 0)
				ac->mechs[ac->nmechs].plaintext = true;
		ac->nmechs++;
		return;
	}
	if (strcmp(argv[0], "DONE") == 0) {
		ac->ready = true;
		return;
	}
	if (argc < 2)
		return;
	char *end;
	unsigned long id = strtoul(argv[1], &end, 10);
	struct auth_request *r = *end == '\0' ? req_find(ac, id) : NULL;
	if (r == NULL)
		return;
	if (strcmp(argv[0], "CONT") == 0)
		r->cb(r->ctx, AUTH_CONTINUE, argc >= 3 ? argv[2] : "", NULL);
	else if (strcmp(argv[0], "OK") == 0) {
		const char *t = param(argv, argc, "ticket");
		strlcpy(ac->ticket, t ? t : "", sizeof(ac->ticket));
		req_finish(r, AUTH_OK, param(argv, argc, "resp"), param(argv, argc, "user"));
		explicit_bzero(ac->ticket, sizeof(ac->ticket));
	}
	else if (strcmp(argv[0], "FAIL") == 0) {
		bool temp = false;
		for (int i = 2; i < argc; i++)
			if (strcmp(argv[i], "temp") == 0 || strcmp(argv[i], "code=temp_fail") == 0)
				temp = true;
		req_finish(r, temp ? AUTH_TEMPFAIL : AUTH_FAIL, param(argv, argc, "reason"), NULL);
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct auth_client *ac = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while (ac->bev != NULL && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len <= AUTHPROTO_LINE_MAX)
			ac_line(ac, line, len);
		free(line);
	}
	if (ac->bev != NULL && evbuffer_get_length(in) > AUTHPROTO_LINE_MAX)
		ac_disconnect(ac, "line too long");
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		ac_disconnect(arg, what & BEV_EVENT_EOF ? "closed" : strerror(errno));
}

static int
ac_connect(struct auth_client *ac)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (ac->bev != NULL)
		return 0;
	ac->last_try_ms = now_ms();
	if (strlcpy(sun.sun_path, ac->path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		log_warn("auth service %s: %s", ac->path, strerror(errno));
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	ac->bev = bufferevent_socket_new(ac->eb, fd, BEV_OPT_CLOSE_ON_FREE);
	if (ac->bev == NULL) {
		close(fd);
		return -1;
	}
	ac->nmechs = 0;
	ac->ready = false;
	bufferevent_setcb(ac->bev, on_read, NULL, on_event, ac);
	bufferevent_enable(ac->bev, EV_READ);
	evbuffer_add_printf(bufferevent_get_output(ac->bev), "VERSION\t1\t2\nCPID\t%d\n", (int)getpid());
	return 0;
}

static void
ac_disconnect(struct auth_client *ac, const char *why)
{
	log_warn("auth service connection lost: %s", why);
	if (ac->bev)
		bufferevent_free(ac->bev);
	ac->bev = NULL;
	ac->ready = false;
	ac->nmechs = 0;
	while (ac->reqs)
		req_finish(ac->reqs, AUTH_TEMPFAIL, "auth service unavailable", NULL);
	ac_connect(ac);
}

struct auth_client *
auth_client_new(struct event_base *eb, const char *socket_path)
{
	struct auth_client *ac = xcalloc(1, sizeof(*ac));
	ac->eb = eb;
	ac->path = xstrdup(socket_path);
	ac_connect(ac);
	return ac;
}

const char *
auth_client_ticket(const struct auth_client *ac)
{
	return ac->ticket;
}

void
auth_client_free(struct auth_client **acp)
{
	struct auth_client *ac = *acp;
	if (ac == NULL)
		return;
	while (ac->reqs)
		req_free(ac->reqs);
	if (ac->bev)
		bufferevent_free(ac->bev);
	free(ac->path);
	free(ac);
	*acp = NULL;
}

bool
auth_client_has_mech(const struct auth_client *ac, const char *mech, bool *plaintext)
{
	for (int i = 0; i < ac->nmechs; i++)
		if (strcasecmp(ac->mechs[i].name, mech) == 0) {
			if (plaintext)
				*plaintext = ac->mechs[i].plaintext;
			return true;
		}
	return false;
}

const char *
auth_client_mechs(const struct auth_client *ac, bool with_plaintext, char *buf, unsigned bufsz)
{
	buf[0] = '\0';
	if (!ac->ready)
		return buf;
	for (int i = 0; i < ac->nmechs; i++) {
		if (ac->mechs[i].plaintext && !with_plaintext)
			continue;
		if (buf[0])
			strlcat(buf, " ", bufsz);
		strlcat(buf, ac->mechs[i].name, bufsz);
	}
	return buf;
}

static void
on_fail_ev(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	req_finish(arg, AUTH_TEMPFAIL, "auth service unavailable", NULL);
}

static void
put_field(struct evbuffer *out, const char *name, const char *v)
{
	char esc[AUTHPROTO_LINE_MAX];
	if (authproto_escape(v, strlen(v), esc, sizeof(esc)) < 0)
		return;
	evbuffer_add_printf(out, "\t%s=%s", name, esc);
}

struct auth_request *
auth_client_start(struct auth_client *ac, const char *mech, const char *service, const char *lip,
    const char *rip, bool secured, const char *resp, auth_cb cb, void *ctx)
{
	struct auth_request *r = xcalloc(1, sizeof(*r));
	r->ac = ac;
	r->id = ++ac->next_id;
	r->cb = cb;
	r->ctx = ctx;
	r->next = ac->reqs;
	ac->reqs = r;
	if (ac->bev == NULL && (now_ms() - ac->last_try_ms < 1000 || ac_connect(ac) < 0)) {
		r->fail_ev = evtimer_new(ac->eb, on_fail_ev, r);
		struct timeval tv = { 0, 0 };
		evtimer_add(r->fail_ev, &tv);
		return r;
	}
	struct evbuffer *out = bufferevent_get_output(ac->bev);
	char m[64];
	if (authproto_escape(mech, strlen(mech), m, sizeof(m)) < 0)
		strlcpy(m, "?", sizeof(m));
	evbuffer_add_printf(out, "AUTH\t%lu\t%s", r->id, m);
	put_field(out, "service", service);
	evbuffer_add_printf(out, "\tnologin");
	if (lip && *lip)
		put_field(out, "lip", lip);
	if (rip && *rip)
		put_field(out, "rip", rip);
	if (secured)
		evbuffer_add_printf(out, "\tsecured");
	if (resp != NULL)
		put_field(out, "resp", resp);
	evbuffer_add(out, "\n", 1);
	return r;
}

void
auth_client_continue(struct auth_request *r, const char *b64)
{
	struct auth_client *ac = r->ac;
	if (ac->bev == NULL)
		return;	/* the TEMPFAIL is on its way */
	char esc[AUTHPROTO_LINE_MAX];
	if (authproto_escape(b64, strlen(b64), esc, sizeof(esc)) < 0)
		strlcpy(esc, "*", sizeof(esc));	/* not base64: the service refuses it */
	evbuffer_add_printf(bufferevent_get_output(ac->bev), "CONT\t%lu\t%s\n", r->id, esc);
}

void
auth_client_cancel(struct auth_request *r)
{
	struct auth_client *ac = r->ac;
	if (ac->bev != NULL && r->fail_ev == NULL)
		evbuffer_add_printf(bufferevent_get_output(ac->bev), "CANCEL\t%lu\n", r->id);
	req_free(r);
}
