/* authd: the auth service process. The event loop owns connections and SASL
 * state; user lookups and password hashing run on a thread pool so that one
 * slow hash never stalls other sessions. */
#include "auth/authd.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/authproto.h"
#include "auth/ticket.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "lib/log.h"
#include "lib/util.h"
#include "users/users.h"

enum mech { M_PLAIN, M_LOGIN, M_SCRAM, M_COUNT };
static const char *const mech_names[M_COUNT] = { "PLAIN", "LOGIN", "SCRAM-SHA-256" };
static const char *const mech_flags[M_COUNT] = { "plaintext", "plaintext", "mutual-auth" };

enum job { J_VERIFY, J_SCRAM };
enum res { RES_OK, RES_FAIL, RES_TEMP };

struct authd;
struct aconn;

struct areq {
	struct aconn *conn;	/* NULL once the connection is gone */
	struct areq *next;	/* in conn->reqs */
	struct areq *qnext;	/* in the job or done queue */
	unsigned long id;
	enum mech mech;
	int step;
	bool busy;		/* owned by a thread until it is back on the done queue */
	bool cancelled;
	char service[16];
	char rip[64];
	bool secured;
	bool final_resp_ok;
	bool final_sent;	/* SCRAM's server-final went out in a CONT: an empty CONT finishes */
	struct event *delay_ev;
	/* filled by the event loop before a job */
	enum job job;
	char login[SASL_NAME_MAX + 1];
	char pass[SASL_PASS_MAX + 1];
	/* filled by the thread */
	enum res res;
	const char *why;	/* for the log */
	char user[256];
	struct scram_secret sec;
	bool sec_real;
	bool cached;		/* the login was remembered (auth_cache_ttl) */
	struct scram_server scram;
};

struct aconn {
	struct authd *d;
	struct aconn *next, *prev;
	struct bufferevent *bev;
	struct areq *reqs;
	bool version_ok;
	unsigned long cpid;
	bool internal;		/* our own sessions' socket: OK carries a ticket */
};

#define FAIL_SLOTS 4096
#define CACHE_SLOTS 4096

/* A login that succeeded: HMAC(key, user, stored hash, password). A changed
 * password (another stored hash) never matches; wrong passwords are never
 * cached, so guessing still pays the full hash and the failure delay. */
struct cache_slot {
	unsigned char mac[32];
	unsigned long long expires_ms;
};
struct fail_slot {
	char rip[64];
	unsigned count;
	unsigned long long last_ms;
};

struct authd {
	struct event_base *eb;
	char *conf_path;
	struct conf *conf;
	struct userdb *udb;
	pthread_rwlock_t udb_lock;
	bool mech_on[M_COUNT];
	char mech_list[64];
	struct aconn *conns;
	unsigned long next_cuid;
	unsigned char fake_key[32];
	char dummy_like[256];
	char cookie[33];

	/* thread pool */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct areq *jobs, **jobs_tail;
	struct areq *done;
	bool quit;
	pthread_t *threads;
	size_t nthreads;
	int wake[2];
	int internal_fd;	/* listening socket of the worker's connections */
	struct event *wake_ev;

	struct fail_slot *fails;
	struct cache_slot *cache;
	pthread_mutex_t cache_mu;
	unsigned char cache_key[32];
};

const char *
authd_check_mechs(const char *list)
{
	char buf[256], *save;

	if (strlen(list) >= sizeof(buf))
		return "auth_mechanisms is too long";
	strlcpy(buf, list, sizeof(buf));
	for (char *w = strtok_r(buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		size_t i;
		for (i = 0; i < M_COUNT; i++)
			if (strcasecmp(w, mech_names[i]) == 0)
				break;
		if (i == M_COUNT)
			return "auth_mechanisms: unknown mechanism (known: plain, login, scram-sha-256)";
	}
	return NULL;
}

static void
mechs_from_conf(struct authd *d)
{
	char buf[256], *save;
	bool secrets = false;

	memset(d->mech_on, 0, sizeof(d->mech_on));
	/* Configured: SCRAM unless only system users (they never have a
	 * secret). Default: SCRAM only when every backend is an SQLite user
	 * database, whose users all have one; clients that prefer SCRAM do
	 * not fall back when a user has only a crypt hash. */
	bool all_sqlite = d->conf->nusers > 0;
	for (size_t i = 0; i < d->conf->nusers; i++) {
		if (d->conf->users[i].kind != USERS_SYSTEM)
			secrets = true;
		if (d->conf->users[i].kind != USERS_SQLITE)
			all_sqlite = false;
	}
	if (!conf_is_set(d->conf, "auth_mechanisms"))
		secrets = all_sqlite;
	strlcpy(buf, d->conf->auth_mechanisms, sizeof(buf));
	for (char *w = strtok_r(buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
		for (int i = 0; i < M_COUNT; i++)
			if (strcasecmp(w, mech_names[i]) == 0)
				d->mech_on[i] = i != M_SCRAM || secrets;
	d->mech_list[0] = '\0';
	for (int i = 0; i < M_COUNT; i++)
		if (d->mech_on[i]) {
			if (d->mech_list[0])
				strlcat(d->mech_list, " ", sizeof(d->mech_list));
			strlcat(d->mech_list, mech_names[i], sizeof(d->mech_list));
		}
}

/* ---- failures per client address ---- */

static struct fail_slot *
fail_slot(struct authd *d, const char *rip)
{
	unsigned h = 2166136261u;
	for (const char *p = rip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct fail_slot *f = &d->fails[h % FAIL_SLOTS];
	if (strcmp(f->rip, rip) != 0 || now_ms() - f->last_ms > 15 * 60 * 1000ULL) {
		strlcpy(f->rip, rip, sizeof(f->rip));
		f->count = 0;
	}
	return f;
}

/* ---- worker threads ---- */

/* Find the user for a login name: "name" or "name@domain". A domain that is
 * not ours only matches a user stored with that full address. */
static int
lookup(struct authd *d, const char *login, struct user_info *ui, char *pw, size_t pwsz,
    char *scram, size_t scramsz)
{
	char name[SASL_NAME_MAX + 1], *at;
	const char *domain = "";
	bool foreign = false;

	strlcpy(name, login, sizeof(name));
	str_lower(name);
	if ((at = strrchr(name, '@')) != NULL) {
		*at = '\0';
		domain = at + 1;
		if (name[0] == '\0' || domain[0] == '\0')
			return 0;
		foreign = true;
		for (size_t i = 0; i < d->conf->ndomains; i++)
			if (strcmp(d->conf->domains[i], domain) == 0)
				foreign = false;
	}
	int rc = userdb_password(d->udb, name, domain, ui, pw, pwsz, scram, scramsz);
	if (rc == 1 && foreign && strchr(ui->name, '@') == NULL)
		rc = 0;
	return rc;
}

static void
cache_mac(struct authd *d, const char *user, const char *stored, const char *pass,
    unsigned char mac[32])
{
	size_t ul = strlen(user), sl = strlen(stored), pl = strlen(pass);
	unsigned char *buf = xmalloc(ul + sl + pl + 2);
	unsigned int len = 32;
	memcpy(buf, user, ul + 1);
	memcpy(buf + ul + 1, stored, sl + 1);
	memcpy(buf + ul + sl + 2, pass, pl);
	if (HMAC(EVP_sha256(), d->cache_key, sizeof(d->cache_key), buf, ul + sl + pl + 2, mac,
	    &len) == NULL)
		memset(mac, 0, 32);	/* never matches: slots start empty with expires 0 */
	OPENSSL_cleanse(buf, ul + sl + pl + 2);
	free(buf);
}

/* true when this exact login succeeded within auth_cache_ttl. */
static bool
cache_hit(struct authd *d, const unsigned char mac[32], long long ttl)
{
	if (ttl <= 0)
		return false;
	struct cache_slot *c = &d->cache[(mac[0] | mac[1] << 8) % CACHE_SLOTS];
	pthread_mutex_lock(&d->cache_mu);
	bool hit = c->expires_ms > now_ms() && CRYPTO_memcmp(c->mac, mac, 32) == 0;
	pthread_mutex_unlock(&d->cache_mu);
	return hit;
}

static void
cache_put(struct authd *d, const unsigned char mac[32], long long ttl)
{
	if (ttl <= 0)
		return;
	struct cache_slot *c = &d->cache[(mac[0] | mac[1] << 8) % CACHE_SLOTS];
	pthread_mutex_lock(&d->cache_mu);
	memcpy(c->mac, mac, 32);
	c->expires_ms = now_ms() + (unsigned long long)ttl * 1000;
	pthread_mutex_unlock(&d->cache_mu);
}

/* The password of a "{PLAIN}x" / "{CLEARTEXT}x" entry, else NULL. */
static const char *
plain_stored(const char *pw)
{
	if (strncasecmp(pw, "{PLAIN}", 7) == 0)
		return pw + 7;
	if (strncasecmp(pw, "{CLEARTEXT}", 11) == 0)
		return pw + 11;
	return NULL;
}

static void
job_run(struct authd *d, struct areq *r)
{
	struct user_info ui;
	char pw[512], scram[512];

	pthread_rwlock_rdlock(&d->udb_lock);
	int rc = lookup(d, r->login, &ui, pw, sizeof(pw), scram, sizeof(scram));
	bool allow_plain = strcmp(d->conf->auth_allow_plain_passwords, "yes") == 0;
	long long ttl = d->conf->auth_cache_ttl;
	pthread_rwlock_unlock(&d->udb_lock);
	unsigned char mac[32];

	r->user[0] = '\0';
	if (rc < 0) {
		r->res = RES_TEMP;
		r->why = "user database unavailable";
	} else if (r->job == J_SCRAM) {
		r->sec_real = rc == 1 && password_scram_get(scram[0] ? scram : pw, &r->sec) == 1;
		if (!r->sec_real && rc == 1 && allow_plain && plain_stored(pw) != NULL) {
			/* A clear-text password makes its SCRAM secret at login (as
			 * Dovecot does), with a salt that stays the same per user. */
			struct scram_secret salt;
			scram_secret_fake(d->fake_key, ui.name, 4096, &salt);
			r->sec_real = scram_secret_make(plain_stored(pw), salt.salt, salt.saltlen, 4096,
			    &r->sec) == 0;
		}
		if (!r->sec_real)
			scram_secret_fake(d->fake_key, r->login, 4096, &r->sec);
		r->res = RES_OK;
		r->why = rc == 1 ? "no SCRAM secret stored" : "unknown user";
		if (rc == 1)
			strlcpy(r->user, ui.name, sizeof(r->user));
	} else if (rc == 0) {
		password_dummy_verify(d->dummy_like, r->pass);
		r->res = RES_FAIL;
		r->why = "unknown user";
	} else {
		strlcpy(r->user, ui.name, sizeof(r->user));
		cache_mac(d, ui.name, pw, r->pass, mac);
		r->cached = cache_hit(d, mac, ttl);
		enum pw_result v = r->cached ? PW_OK : password_verify(pw, r->pass, allow_plain);
		switch (v) {
		case PW_OK:
			r->res = RES_OK;
			cache_put(d, mac, ttl);
			break;
		case PW_MISMATCH:
			r->res = RES_FAIL;
			r->why = "password mismatch";
			break;
		case PW_UNSUPPORTED:
			r->res = RES_FAIL;
			r->why = password_check_stored(pw, allow_plain);
			if (r->why == NULL)
				r->why = "password scheme not usable";
			break;
		default:
			r->res = RES_TEMP;
			r->why = "password check failed";
			break;
		}
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(scram, sizeof(scram));
	OPENSSL_cleanse(r->pass, sizeof(r->pass));
}

static void *
thread_main(void *arg)
{
	struct authd *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (d->jobs == NULL && !d->quit)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->quit)
			break;
		struct areq *r = d->jobs;
		d->jobs = r->qnext;
		if (d->jobs == NULL)
			d->jobs_tail = &d->jobs;
		pthread_mutex_unlock(&d->mu);
		job_run(d, r);
		pthread_mutex_lock(&d->mu);
		bool was_empty = d->done == NULL;
		r->qnext = d->done;
		d->done = r;
		if (was_empty) {
			char b = 1;
			(void)!write(d->wake[1], &b, 1);
		}
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void
job_submit(struct authd *d, struct areq *r, enum job j)
{
	r->job = j;
	r->busy = true;
	r->qnext = NULL;
	pthread_mutex_lock(&d->mu);
	*d->jobs_tail = r;
	d->jobs_tail = &r->qnext;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* ---- replies ---- */

static void
send_line(struct aconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
send_line(struct aconn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
}

static void
req_free(struct areq *r)
{
	if (r->delay_ev)
		event_free(r->delay_ev);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

static void
req_unlink(struct areq *r)
{
	if (r->conn != NULL)
		for (struct areq **pp = &r->conn->reqs; *pp; pp = &(*pp)->next)
			if (*pp == r) {
				*pp = r->next;
				break;
			}
	r->conn = NULL;
}

static void
req_done(struct areq *r)
{
	req_unlink(r);
	req_free(r);
}

/* A login name for the log: also blanks, '<', '>' and '=' as \xHH, so that no
 * name can forge the fields a fail2ban filter reads after it. */
static void
log_name(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)src; *p && o + 5 < dstsz; p++) {
		if (*p <= ' ' || *p >= 0x7f || strchr("<>=\"\\", *p) != NULL)
			o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02X", *p);
		else
			dst[o++] = (char)*p;
	}
	dst[o] = '\0';
}

static void
log_fail(struct areq *r, const char *who, const char *why)
{
	char u[200], rip[80];
	log_name(u, sizeof(u), who);
	log_escape(rip, sizeof(rip), r->rip, strlen(r->rip));
	log_info("auth failed: service=%s mech=%s user=<%s> rip=%s reason=\"%s\"",
	    r->service[0] ? r->service : "-", mech_names[r->mech], u, rip[0] ? rip : "-", why);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct areq *r = arg;
	(void)fd;
	(void)what;
	if (r->conn != NULL)
		send_line(r->conn, "FAIL\t%lu\tuser=%s", r->id, r->login[0] ? r->login : "");
	req_done(r);
}

/* A wrong credential: logged now, answered after the failure delay. */
static void
req_fail(struct areq *r, const char *why)
{
	struct authd *d = r->conn->d;
	struct fail_slot *f = fail_slot(d, r->rip);
	unsigned shift = f->count < 3 ? f->count : 3;
	long long ms = d->conf->auth_failure_delay * 1000LL << shift;

	f->count++;
	f->last_ms = now_ms();
	log_fail(r, r->login, why);
	/* The name goes back only as the client sent it (it has it anyway). */
	for (char *p = r->login; *p; p++)
		if (*p == '\t' || (unsigned char)*p < 0x20)
			*p = '?';
	r->delay_ev = evtimer_new(d->eb, on_delay, r);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(r->delay_ev, &tv);
}

/* The request is malformed or cannot be served: answered at once. */
static void
req_error(struct areq *r, const char *reason, bool temp)
{
	log_fail(r, r->login[0] ? r->login : "?", reason);
	send_line(r->conn, "FAIL\t%lu\treason=%s%s", r->id, reason, temp ? "\ttemp" : "");
	req_done(r);
}

static void
req_ok(struct areq *r, const char *final_b64)
{
	char u[512];
	if (final_b64 != NULL && !r->final_resp_ok) {
		/* Clients like Postfix ignore data in OK: the server's last word
		 * goes in a CONT, and an empty answer to it finishes. */
		r->final_sent = true;
		send_line(r->conn, "CONT\t%lu\t%s", r->id, final_b64);
		return;
	}
	struct fail_slot *f = fail_slot(r->conn->d, r->rip);
	f->count = 0;
	if (authproto_escape(r->user, strlen(r->user), u, sizeof(u)) < 0) {
		req_error(r, "user name too long", false);
		return;
	}
	log_debug("auth ok: service=%s mech=%s user=<%s> rip=%s cached=%s", r->service,
	    mech_names[r->mech], u, r->rip, r->cached ? "yes" : "no");
	/* For the worker: proof of this login for the root parent (system
	 * users' mail processes). */
	char tk[TICKET_MAX + 8] = "";
	if (r->conn->internal && ticket_key_ready()) {
		strlcpy(tk, "\tticket=", sizeof(tk));
		if (!ticket_make(r->user, tk + 8, sizeof(tk) - 8))
			tk[0] = '\0';
	}
	if (final_b64 != NULL)
		send_line(r->conn, "OK\t%lu\tuser=%s%s\tresp=%s", r->id, u, tk, final_b64);
	else
		send_line(r->conn, "OK\t%lu\tuser=%s%s", r->id, u, tk);
	req_done(r);
}

static void
req_cont(struct areq *r, const void *data, size_t n)
{
	char b64[2048];
	if (b64_encode(data, n, b64, sizeof(b64)) == (size_t)-1) {
		req_error(r, "challenge too long", true);
		return;
	}
	send_line(r->conn, "CONT\t%lu\t%s", r->id, b64);
}

/* ---- mechanisms ---- */

static void
mech_step(struct areq *r, const unsigned char *in, size_t n)
{
	const char *err;

	switch (r->mech) {
	case M_PLAIN: {
		struct sasl_plain p;
		if (sasl_plain_parse(in, n, &p) < 0) {
			req_error(r, "invalid PLAIN message", false);
			return;
		}
		strlcpy(r->login, p.authcid, sizeof(r->login));
		if (p.authzid[0] != '\0' && strcmp(p.authzid, p.authcid) != 0) {
			OPENSSL_cleanse(&p, sizeof(p));
			req_fail(r, "authorization identity differs");
			return;
		}
		strlcpy(r->pass, p.passwd, sizeof(r->pass));
		OPENSSL_cleanse(&p, sizeof(p));
		job_submit(r->conn->d, r, J_VERIFY);
		return;
	}
	case M_LOGIN:
		if (r->step == 0) {
			if (n == 0 || n > SASL_NAME_MAX || memchr(in, '\0', n) || !utf8_valid(in, n)) {
				req_error(r, "invalid user name", false);
				return;
			}
			memcpy(r->login, in, n);
			r->login[n] = '\0';
			r->step = 1;
			req_cont(r, "Password:", 9);
			return;
		}
		if (n == 0 || n > SASL_PASS_MAX || memchr(in, '\0', n)) {
			req_fail(r, "invalid password");
			return;
		}
		memcpy(r->pass, in, n);
		r->pass[n] = '\0';
		job_submit(r->conn->d, r, J_VERIFY);
		return;
	case M_SCRAM:
		if (r->step == 0) {
			if (scram_server_client_first(&r->scram, in, n, &err) < 0) {
				req_error(r, err, false);
				return;
			}
			strlcpy(r->login, r->scram.authcid, sizeof(r->login));
			if (r->scram.authzid[0] != '\0' && strcmp(r->scram.authzid, r->scram.authcid) != 0) {
				req_fail(r, "authorization identity differs");
				return;
			}
			job_submit(r->conn->d, r, J_SCRAM);
			return;
		} else {
			char out[256];
			size_t outlen = 0;
			int rc = scram_server_client_final(&r->scram, &r->sec, in, n, out, sizeof(out),
			    &outlen, &err);
			if (rc < 0) {
				req_error(r, err, false);
				return;
			}
			if (rc == 0 || !r->sec_real) {
				req_fail(r, r->sec_real ? "password mismatch" : r->why);
				return;
			}
			char b64[512];
			if (b64_encode(out, outlen, b64, sizeof(b64)) == (size_t)-1) {
				req_error(r, "server message too long", true);
				return;
			}
			req_ok(r, b64);
			return;
		}
	default:
		break;
	}
}

/* A thread finished a job for r. */
static void
job_done(struct areq *r)
{
	r->busy = false;
	if (r->conn == NULL || r->cancelled) {
		req_done(r);
		return;
	}
	if (r->res == RES_TEMP) {
		req_error(r, "temporary failure", true);
		return;
	}
	if (r->job == J_SCRAM) {
		char out[1024], snonce[33];
		unsigned char rnd[18];
		char b64[64];
		RAND_bytes(rnd, sizeof(rnd));
		b64_encode(rnd, sizeof(rnd), b64, sizeof(b64));
		strlcpy(snonce, b64, sizeof(snonce));
		int n = scram_server_first(&r->scram, &r->sec, snonce, out, sizeof(out));
		if (n < 0) {
			req_error(r, "cannot build SCRAM challenge", true);
			return;
		}
		r->step = 1;
		req_cont(r, out, (size_t)n);
		return;
	}
	if (r->res == RES_OK)
		req_ok(r, NULL);
	else
		req_fail(r, r->why);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct authd *d = arg;
	char buf[64];
	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&d->mu);
	struct areq *list = d->done;
	d->done = NULL;
	pthread_mutex_unlock(&d->mu);
	/* Oldest first. */
	struct areq *rev = NULL;
	while (list) {
		struct areq *n = list->qnext;
		list->qnext = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct areq *n = rev->qnext;
		job_done(rev);
		rev = n;
	}
}

/* ---- connections ---- */

static void
conn_free(struct aconn *c)
{
	struct authd *d = c->d;
	while (c->reqs) {
		struct areq *r = c->reqs;
		c->reqs = r->next;
		r->conn = NULL;
		if (!r->busy)
			req_free(r);	/* a busy one is freed when its job comes back */
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

static struct areq *
req_find(struct aconn *c, unsigned long id)
{
	for (struct areq *r = c->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static void
cmd_auth(struct aconn *c, const struct authproto_auth *a)
{
	struct authd *d = c->d;
	int m;

	if (req_find(c, a->id) != NULL) {
		send_line(c, "FAIL\t%lu\treason=duplicate request id", a->id);
		return;
	}
	struct areq *r = xcalloc(1, sizeof(*r));
	r->conn = c;
	r->id = a->id;
	r->next = c->reqs;
	c->reqs = r;
	strlcpy(r->service, a->service, sizeof(r->service));
	strlcpy(r->rip, a->rip, sizeof(r->rip));
	r->secured = a->secured;
	r->final_resp_ok = a->final_resp_ok;
	for (m = 0; m < M_COUNT; m++)
		if (strcasecmp(a->mech, mech_names[m]) == 0)
			break;
	r->mech = m < M_COUNT ? (enum mech)m : M_PLAIN;
	if (m == M_COUNT || !d->mech_on[m]) {
		req_error(r, "unsupported mechanism", false);
		return;
	}
	if (strcmp(mech_flags[m], "plaintext") == 0 && !a->secured &&
	    strcmp(d->conf->disable_plaintext_auth, "yes") == 0) {
		req_error(r, "plaintext authentication disallowed on non-secure connections", false);
		return;
	}
	if (a->resp == NULL) {
		if (m == M_LOGIN)
			req_cont(r, "Username:", 9);
		else
			req_cont(r, "", 0);
		return;
	}
	unsigned char buf[AUTHPROTO_LINE_MAX];
	size_t n;
	if (b64_decode(a->resp, strlen(a->resp), buf, sizeof(buf), &n) < 0) {
		req_error(r, "invalid base64 data", false);
		return;
	}
	if (m == M_LOGIN && n == 0) {
		req_cont(r, "Username:", 9);
		return;
	}
	mech_step(r, buf, n);
	OPENSSL_cleanse(buf, n);
}

static void
cmd_cont(struct aconn *c, unsigned long id, const char *data)
{
	struct areq *r = req_find(c, id);
	unsigned char buf[AUTHPROTO_LINE_MAX];
	size_t n;

	if (r == NULL || r->busy || r->delay_ev != NULL) {
		send_line(c, "FAIL\t%lu\treason=unexpected CONT", id);
		return;
	}
	if (r->final_sent) {
		if (data[0] == '\0') {
			r->final_sent = false;
			r->final_resp_ok = true;
			req_ok(r, NULL);
		} else
			req_fail(r, "client refused the server's proof");
		return;
	}
	if (b64_decode(data, strlen(data), buf, sizeof(buf), &n) < 0) {
		req_error(r, "invalid base64 data", false);
		return;
	}
	mech_step(r, buf, n);
	OPENSSL_cleanse(buf, n);
}

/* 0 to go on, -1 to drop the connection. */
static int
conn_line(struct aconn *c, char *line, size_t len)
{
	char *argv[AUTHPROTO_ARGS_MAX];
	struct authproto_msg m;
	const char *err;
	int argc = authproto_split(line, len, argv, AUTHPROTO_ARGS_MAX);

	if (argc < 0 || authproto_parse(argv, argc, &m, &err) < 0) {
		log_warn("auth client: bad line: %s", argc < 0 ? "too many fields or control characters" : err);
		return -1;
	}
	if (m.cmd != AP_VERSION && !c->version_ok) {
		log_warn("auth client: command before VERSION");
		return -1;
	}
	switch (m.cmd) {
	case AP_VERSION:
		if (m.major != 1) {
			log_warn("auth client: protocol version %lu not supported", m.major);
			return -1;
		}
		c->version_ok = true;
		break;
	case AP_CPID:
		c->cpid = m.id;
		break;
	case AP_AUTH:
		cmd_auth(c, &m.auth);
		break;
	case AP_CONT:
		cmd_cont(c, m.id, m.data);
		break;
	case AP_CANCEL: {
		struct areq *r = req_find(c, m.id);
		if (r != NULL) {
			if (r->busy) {
				r->cancelled = true;
				req_unlink(r);
			} else
				req_done(r);
		}
		break;
	}
	default:
		break;	/* unknown commands are ignored (protocol rule) */
	}
	return 0;
}

static void
on_conn_read(struct bufferevent *bev, void *arg)
{
	struct aconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		int rc = len > AUTHPROTO_LINE_MAX ? -1 : conn_line(c, line, len);
		OPENSSL_cleanse(line, len);
		free(line);
		if (rc < 0) {
			conn_free(c);
			return;
		}
	}
	if (evbuffer_get_length(in) > AUTHPROTO_LINE_MAX) {
		log_warn("auth client: line too long");
		conn_free(c);
	}
}

static void
on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct authd *d = arg;
	(void)what;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct aconn *c = xcalloc(1, sizeof(*c));
	c->d = d;
	c->internal = lfd == d->internal_fd;
	c->bev = bufferevent_socket_new(d->eb, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	bufferevent_setcb(c->bev, on_conn_read, NULL, on_conn_event, c);
	bufferevent_enable(c->bev, EV_READ);
	send_line(c, "VERSION\t1\t2");
	for (int i = 0; i < M_COUNT; i++)
		if (d->mech_on[i])
			send_line(c, "MECH\t%s\t%s", mech_names[i], mech_flags[i]);
	send_line(c, "SPID\t%d", (int)getpid());
	send_line(c, "CUID\t%lu", ++d->next_cuid);
	send_line(c, "COOKIE\t%s", d->cookie);
	send_line(c, "DONE");
}

/* ---- setup ---- */

static void
reload(struct authd *d)
{
	struct conf *nc = xcalloc(1, sizeof(*nc));
	char *err = NULL;
	struct userdb *nu = NULL;

	if (conf_load(d->conf_path, nc, &err) < 0 ||
	    (nu = userdb_open(nc, getuid(), getgid(), &err)) == NULL) {
		log_err("auth: reload failed, keeping the previous users: %s", err);
		free(err);
		conf_free(nc);
		free(nc);
		return;
	}
	pthread_rwlock_wrlock(&d->udb_lock);
	struct userdb *ou = d->udb;
	struct conf *oc = d->conf;
	d->udb = nu;
	d->conf = nc;
	mechs_from_conf(d);
	pthread_rwlock_unlock(&d->udb_lock);
	userdb_free(&ou);
	conf_free(oc);
	free(oc);
	log_info("auth: users reloaded");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct authd *d = arg;
	(void)what;
	if (sig == SIGHUP)
		reload(d);
	else
		event_base_loopexit(d->eb, NULL);
}

int
authd_main(const char *conf_path, struct conf *c, const int *lfds, size_t nlfds)
{
	struct authd d = { .conf = c };
	char *err = NULL;
	unsigned char rnd[16];

	/* Password hashes live here: no core dumps, no ptrace by the same uid. */
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN);
	d.conf_path = xstrdup(conf_path);
	d.udb = userdb_open(c, getuid(), getgid(), &err);
	if (d.udb == NULL) {
		log_err("auth: %s", err);
		free(err);
		return 1;
	}
	pthread_rwlock_init(&d.udb_lock, NULL);
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.jobs_tail = &d.jobs;
	d.fails = xcalloc(FAIL_SLOTS, sizeof(*d.fails));
	d.cache = xcalloc(CACHE_SLOTS, sizeof(*d.cache));
	pthread_mutex_init(&d.cache_mu, NULL);
	mechs_from_conf(&d);
	if (RAND_bytes(d.fake_key, sizeof(d.fake_key)) != 1 || RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    RAND_bytes(d.cache_key, sizeof(d.cache_key)) != 1)
		fatalx("auth: no randomness");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(d.cookie + 2 * i, 3, "%02x", rnd[i]);
	if (password_hash("estafeta dummy password", d.dummy_like, sizeof(d.dummy_like)) < 0)
		fatalx("auth: cannot make a password hash (libxcrypt)");

	if (pipe2(d.wake, O_NONBLOCK | O_CLOEXEC) < 0)
		fatalx("auth: pipe: %s", strerror(errno));
	d.eb = event_base_new();
	if (d.eb == NULL)
		fatalx("auth: event_base_new failed");
	d.wake_ev = event_new(d.eb, d.wake[0], EV_READ | EV_PERSIST, on_wake, &d);
	event_add(d.wake_ev, NULL);
	struct event **lev = xcalloc(nlfds + 1, sizeof(*lev));
	d.internal_fd = nlfds > 0 ? lfds[0] : -1;
	for (size_t i = 0; i < nlfds; i++) {
		evutil_make_socket_nonblocking(lfds[i]);
		lev[i] = event_new(d.eb, lfds[i], EV_READ | EV_PERSIST, on_accept, &d);
		event_add(lev[i], NULL);
	}
	struct event *sigs[3];
	int signums[3] = { SIGHUP, SIGTERM, SIGINT };
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(d.eb, signums[i], on_signal, &d);
		event_add(sigs[i], NULL);
	}

	sigset_t all;
	sigemptyset(&all);
	sigaddset(&all, SIGTERM);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGHUP);
	pthread_sigmask(SIG_UNBLOCK, &all, NULL);	/* blocked by the parent until now */

	long n = c->auth_threads > 0 ? c->auth_threads : sysconf(_SC_NPROCESSORS_ONLN);
	d.nthreads = n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
	d.threads = xcalloc(d.nthreads, sizeof(*d.threads));
	for (size_t i = 0; i < d.nthreads; i++)
		if (pthread_create(&d.threads[i], NULL, thread_main, &d) != 0)
			fatalx("auth: pthread_create failed");
	log_info("auth service started: mechanisms=\"%s\" threads=%zu sockets=%zu", d.mech_list,
	    d.nthreads, nlfds);

	event_base_dispatch(d.eb);

	pthread_mutex_lock(&d.mu);
	d.quit = true;
	pthread_cond_broadcast(&d.cv);
	pthread_mutex_unlock(&d.mu);
	for (size_t i = 0; i < d.nthreads; i++)
		pthread_join(d.threads[i], NULL);
	while (d.conns)
		conn_free(d.conns);
	on_wake(d.wake[0], 0, &d);	/* frees what the threads handed back */
	for (struct areq *r = d.jobs; r; ) {
		struct areq *nx = r->qnext;
		req_free(r);
		r = nx;
	}
	for (size_t i = 0; i < nlfds; i++) {
		event_free(lev[i]);
		close(lfds[i]);
	}
	free(lev);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_free(d.wake_ev);
	event_base_free(d.eb);
	close(d.wake[0]);
	close(d.wake[1]);
	free(d.threads);
	free(d.fails);
	OPENSSL_cleanse(d.cache, CACHE_SLOTS * sizeof(*d.cache));
	free(d.cache);
	userdb_free(&d.udb);
	conf_free(d.conf);
	free(d.conf);
	free(d.conf_path);
	return 0;
}
