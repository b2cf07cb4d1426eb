#include "conf/conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

struct param {
	const char *name;
	enum conf_type type;
	size_t off;		/* offsetof the field in struct conf */
	const char *def, *peer, *doc;
};

#define P(n, t, f, d, peer, doc) { n, CT_##t, offsetof(struct conf, f), d, peer, doc },
static const struct param params[] = {
#include "conf/params.def"
};
#undef P
#define NPARAMS (sizeof(params) / sizeof(params[0]))

static const char *const enum_bare_newline[] = { "normalize", "reject", NULL };
static const char *const enum_log_level[] = { "debug", "info", "warning", "error", NULL };
static const char *const enum_sync_method[] = { "syncfs", "fsync", NULL };
static const char *const enum_tls_level[] = { "none", "may", "encrypt", NULL };

static const char *const enum_yesno[] = { "yes", "no", NULL };
static const char *const yesno_params[] = { "smtpd_sasl_auth_enable", "disable_plaintext_auth",
	"plaintext_auth_loopback", "auth_allow_plain_passwords", "reject_sender_login_mismatch" };

static const char *const *
param_enum(const struct param *p)
{
	if (strcmp(p->name, "bare_newline") == 0)
		return enum_bare_newline;
	if (strcmp(p->name, "log_level") == 0)
		return enum_log_level;
	if (strcmp(p->name, "sync_method") == 0)
		return enum_sync_method;
	if (strcmp(p->name, "smtpd_tls_security_level") == 0)
		return enum_tls_level;
	for (size_t i = 0; i < sizeof(yesno_params) / sizeof(yesno_params[0]); i++)
		if (strcmp(p->name, yesno_params[i]) == 0)
			return enum_yesno;
	return NULL;
}

struct unit {
	char c;
	long long mul;
};

/* A non-negative number with an optional one-letter unit from units. */
static int
parse_with_unit(const char *s, const struct unit *units, long long *v)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || n < 0)
		return -1;
	long long mul = 1;
	if (*end != '\0') {
		const struct unit *u = units;
		while (u->c != '\0' && u->c != *end)
			u++;
		if (u->c == '\0' || end[1] != '\0')
			return -1;
		mul = u->mul;
	}
	if (n > LLONG_MAX / mul)
		return -1;
	*v = n * mul;
	return 0;
}

int
conf_parse_size(const char *s, long long *v)
{
	static const struct unit units[] = { { 'k', 1024 }, { 'K', 1024 }, { 'm', 1 << 20 },
		{ 'M', 1 << 20 }, { 'g', 1LL << 30 }, { 'G', 1LL << 30 }, { '\0', 0 } };
	return parse_with_unit(s, units, v);
}

int
conf_parse_time(const char *s, long long *v)
{
	static const struct unit units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 },
		{ 'd', 86400 }, { 'w', 7 * 86400 }, { '\0', 0 } };
	return parse_with_unit(s, units, v);
}

int
cidr_parse(const char *s, struct cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long bits = -1;

	if (alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	/* [::1]/128 as Postfix writes IPv6 networks */
	char *a = buf;
	if (a[0] == '[' && alen > 2 && a[alen - 1] == ']') {
		a[alen - 1] = '\0';
		a++;
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, a, out->addr) == 1) {
		out->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, a, out->addr) == 1) {
		out->family = AF_INET6;
		bits = 128;
	} else
		return -1;
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1 || b < 0 || b > bits)
			return -1;
		bits = b;
	}
	out->bits = (unsigned)bits;
	/* Mask host bits so that 10.1.2.3/8 means 10.0.0.0/8. */
	unsigned total = out->family == AF_INET ? 4 : 16;
	for (unsigned i = 0; i < total; i++) {
		unsigned lo = i * 8;
		if (lo >= out->bits)
			out->addr[i] = 0;
		else if (lo + 8 > out->bits)
			out->addr[i] &= (unsigned char)(0xff << (8 - (out->bits - lo)));
	}
	return 0;
}

static bool
cidr_match_one(const struct cidr *c, const unsigned char *addr, int family)
{
	if (c->family != family)
		return false;
	unsigned full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (addr[full] & mask) == c->addr[full];
}

bool
cidr_match(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
	unsigned char v4[4];
	const unsigned char *addr;
	int family = sa->sa_family;

	if (family == AF_UNIX)
		return true;	/* local submission */
	if (family == AF_INET)
		addr = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		/* IPv4-mapped IPv6 clients match IPv4 networks too. */
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(addr, mapped, 12) == 0) {
			memcpy(v4, addr + 12, 4);
			for (size_t i = 0; i < n; i++)
				if (cidr_match_one(&list[i], v4, AF_INET))
					return true;
		}
	} else
		return false;
	for (size_t i = 0; i < n; i++)
		if (cidr_match_one(&list[i], addr, family))
			return true;
	return false;
}

bool
conf_plaintext_allowed(const struct conf *c, bool tls, bool loopback)
{
	return tls || strcmp(c->disable_plaintext_auth, "no") == 0 ||
	    (strcmp(c->plaintext_auth_loopback, "yes") == 0 && loopback);
}

bool
conf_is_set(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (strcmp(params[i].name, name) == 0)
			return (c->set_mask & (1ULL << i)) != 0;
	return false;
}

bool
conf_is_local_domain(const struct conf *c, const char *domain)
{
	size_t dl = strlen(domain);
	if (dl > 0 && domain[dl - 1] == '.')
		dl--;
	for (size_t i = 0; i < c->ndomains; i++)
		if (strlen(c->domains[i]) == dl && strncasecmp(c->domains[i], domain, dl) == 0)
			return true;
	return false;
}

/* Tokenizer over one logical line: words separated by blanks (and commas for lists). */
static char *
next_word(char **p, bool comma)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t' || (comma && *s == ','))
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	char *w = s;
	while (*s != '\0' && *s != ' ' && *s != '\t' && !(comma && *s == ','))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return w;
}

static int
set_param(struct conf *c, const struct param *p, const char *value, const char **why)
{
	void *field = (char *)c + p->off;
	long long v;

	switch (p->type) {
	case CT_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CT_ENUM: {
		const char *const *e = param_enum(p);
		for (; e && *e; e++)
			if (strcmp(*e, value) == 0) {
				free(*(char **)field);
				*(char **)field = xstrdup(value);
				return 0;
			}
		*why = "is not one of the allowed values";
		return -1;
	}
	case CT_INT:
	case CT_SIZE:
		if (conf_parse_size(value, &v) < 0) {
			*why = p->type == CT_INT ? "needs a non-negative number" :
			    "needs a size (bytes, or a number with K, M or G)";
			return -1;
		}
		*(long long *)field = v;
		return 0;
	case CT_TIME:
		if (conf_parse_time(value, &v) < 0) {
			*why = "needs a time (seconds, or a number with s, m, h, d or w)";
			return -1;
		}
		*(long long *)field = v;
		return 0;
	}
	return -1;
}

static int
parse_hostport(const char *s, char **host_r, char **port_r)
{
	const char *colon;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		*host_r = xstrndup(s + 1, (size_t)(rb - s - 1));
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		*host_r = xstrndup(s, (size_t)(colon - s));
	}
	const char *port = colon + 1;
	char *end;
	long pn = strtol(port, &end, 10);
	if (*end != '\0' || end == port || pn <= 0 || pn > 65535) {
		free(*host_r);
		return -1;
	}
	if (strcmp(*host_r, "*") == 0 || **host_r == '\0') {
		free(*host_r);
		*host_r = xstrdup("0.0.0.0");
	}
	unsigned char tmp[16];
	if (inet_pton(AF_INET, *host_r, tmp) != 1 && inet_pton(AF_INET6, *host_r, tmp) != 1) {
		free(*host_r);
		return -1;
	}
	*port_r = xstrdup(port);
	return 0;
}

static void
add_domain(struct conf *c, const char *d)
{
	char *x = xstrdup(d);
	size_t l = strlen(x);
	if (l > 0 && x[l - 1] == '.')
		x[l - 1] = '\0';
	str_lower(x);
	c->domains = xreallocarray(c->domains, c->ndomains + 1, sizeof(char *));
	c->domains[c->ndomains++] = x;
}

static bool
valid_domain(const char *d)
{
	size_t l = strlen(d);
	if (l == 0 || l > 253)
		return false;
	for (const char *p = d; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	return d[0] != '.' && strstr(d, "..") == NULL;
}

/* Apply one logical line (already stripped of comments, continuations joined). */
static int
conf_directive(struct conf *c, char *line, unsigned lineno, char **error_r)
{
	char *p = line;
	const char *why = NULL;
	char *name = next_word(&p, false);
	char *w;

	if (name == NULL)
		return 0;
	/* Accept "name = value" as in main.cf. */
	char *eq = strchr(name, '=');
	if (eq != NULL) {
		/* "name=value" or "name= value": the value is everything after
		 * '='. next_word cut the line after the word: join it again. */
		char *wend = name + strlen(name);
		if (p > wend)
			*wend = ' ';
		*eq = '\0';
		p = eq + 1;
	} else {
		/* "name = value" or "name =value" */
		char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '=')
			p = q + 1;
	}
	char namebuf[64];
	strlcpy(namebuf, name, sizeof(namebuf));
	name = namebuf;

	if (strcmp(name, "domains") == 0 || strcmp(name, "mydestination") == 0) {
		while ((w = next_word(&p, true)) != NULL) {
			if (!valid_domain(w)) {
				*error_r = xasprintf("%s:%u: '%s' is not a valid domain name", c->path, lineno, w);
				return -1;
			}
			add_domain(c, w);
		}
		return 0;
	}
	if (strcmp(name, "networks") == 0 || strcmp(name, "mynetworks") == 0) {
		while ((w = next_word(&p, true)) != NULL) {
			struct cidr cd;
			if (cidr_parse(w, &cd) < 0) {
				*error_r = xasprintf("%s:%u: '%s' is not a network (address or address/bits)",
				    c->path, lineno, w);
				return -1;
			}
			c->networks = xreallocarray(c->networks, c->nnetworks + 1, sizeof(cd));
			c->networks[c->nnetworks++] = cd;
			char *old = c->networks_text;
			c->networks_text = old ? xasprintf("%s %s", old, w) : xstrdup(w);
			free(old);
		}
		return 0;
	}
	if (strcmp(name, "users") == 0) {
		struct users_conf u = { .line = lineno };
		w = next_word(&p, false);
		if (w != NULL && strcmp(w, "system") == 0)
			u.kind = USERS_SYSTEM;
		else if (w != NULL && (strcmp(w, "passwd-file") == 0 || strcmp(w, "sqlite") == 0)) {
			u.kind = strcmp(w, "sqlite") == 0 ? USERS_SQLITE : USERS_PASSWD_FILE;
			const char *kind = w;
			w = next_word(&p, false);
			if (w == NULL || w[0] != '/') {
				*error_r = xasprintf("%s:%u: users %s needs an absolute path",
				    c->path, lineno, kind);
				return -1;
			}
			u.path = xstrdup(w);
		} else {
			*error_r = xasprintf("%s:%u: users must be 'system', 'passwd-file PATH' or "
			    "'sqlite PATH'", c->path, lineno);
			return -1;
		}
		if (next_word(&p, false) != NULL) {
			free(u.path);
			*error_r = xasprintf("%s:%u: too many words for users", c->path, lineno);
			return -1;
		}
		c->users = xreallocarray(c->users, c->nusers + 1, sizeof(u));
		c->users[c->nusers++] = u;
		return 0;
	}
	if (strcmp(name, "mailbox") == 0 || strcmp(name, "mail_location") == 0) {
		char *kind = next_word(&p, false);
		char *path = NULL;
		if (kind != NULL && (path = strchr(kind, ':')) != NULL)
			*path++ = '\0';	/* Dovecot style maildir:~/Maildir */
		else
			path = next_word(&p, false);
		if (kind == NULL || path == NULL || *path == '\0' || next_word(&p, false) != NULL) {
			*error_r = xasprintf("%s:%u: mailbox needs 'maildir PATH' or 'mbox PATH'",
			    c->path, lineno);
			return -1;
		}
		if (strcmp(kind, "maildir") == 0)
			c->mailbox_kind = MAILBOX_MAILDIR;
		else if (strcmp(kind, "mbox") == 0)
			c->mailbox_kind = MAILBOX_MBOX;
		else {
			*error_r = xasprintf("%s:%u: unknown mailbox format '%s' (maildir or mbox)",
			    c->path, lineno, kind);
			return -1;
		}
		if (path[0] != '/' && !(path[0] == '~' && path[1] == '/')) {
			*error_r = xasprintf("%s:%u: mailbox path must start with / or ~/", c->path, lineno);
			return -1;
		}
		free(c->mailbox_path);
		c->mailbox_path = xstrdup(path);
		c->mailbox_set = true;
		return 0;
	}
	if (strcmp(name, "tls_sni") == 0) {
		struct tls_sni_conf t = { .line = lineno };
		char *n = next_word(&p, false), *cert = next_word(&p, false), *key = next_word(&p, false);
		if (n == NULL || cert == NULL || cert[0] != '/' || (key != NULL && key[0] != '/') ||
		    next_word(&p, false) != NULL || strlen(n) > 253 || strpbrk(n, "/:") != NULL) {
			*error_r = xasprintf("%s:%u: tls_sni needs NAME CERTFILE [KEYFILE] (absolute paths)",
			    c->path, lineno);
			return -1;
		}
		t.name = xstrdup(n);
		str_lower(t.name);
		t.cert = xstrdup(cert);
		t.key = xstrdup(key ? key : cert);
		c->tls_sni = xreallocarray(c->tls_sni, c->ntls_sni + 1, sizeof(t));
		c->tls_sni[c->ntls_sni++] = t;
		return 0;
	}
	if (strcmp(name, "auth_listen") == 0) {
		struct auth_listen_conf a = { .line = lineno, .mode = 0660 };
		w = next_word(&p, false);
		if (w == NULL || w[0] != '/') {
			*error_r = xasprintf("%s:%u: auth_listen needs an absolute socket path", c->path, lineno);
			return -1;
		}
		a.path = xstrdup(w);
		while ((w = next_word(&p, false)) != NULL) {
			char *end;
			if (strncmp(w, "mode=", 5) == 0) {
				unsigned long m = strtoul(w + 5, &end, 8);
				if (w[5] == '\0' || *end != '\0' || m > 0777)
					goto bad_auth_listen;
				a.mode = (unsigned)m;
			} else if (strncmp(w, "user=", 5) == 0 && w[5] != '\0') {
				free(a.user);
				a.user = xstrdup(w + 5);
			} else if (strncmp(w, "group=", 6) == 0 && w[6] != '\0') {
				free(a.group);
				a.group = xstrdup(w + 6);
			} else {
bad_auth_listen:
				*error_r = xasprintf("%s:%u: auth_listen option '%s' is not mode=OCTAL, user=NAME "
				    "or group=NAME", c->path, lineno, w);
				free(a.path);
				free(a.user);
				free(a.group);
				return -1;
			}
		}
		c->auth_listen = xreallocarray(c->auth_listen, c->nauth_listen + 1, sizeof(a));
		c->auth_listen[c->nauth_listen++] = a;
		return 0;
	}
	if (strcmp(name, "listen") == 0) {
		char *kind = next_word(&p, false);
		char *addr = next_word(&p, false);
		struct listener_conf l = { .line = lineno };
		if (kind == NULL || addr == NULL) {
			*error_r = xasprintf("%s:%u: listen needs a service and ADDRESS:PORT", c->path, lineno);
			return -1;
		}
		if (strcmp(kind, "smtp") == 0)
			l.kind = LISTEN_SMTP;
		else if (strcmp(kind, "submission") == 0)
			l.kind = LISTEN_SUBMISSION;
		else if (strcmp(kind, "submissions") == 0 || strcmp(kind, "smtps") == 0) {
			l.kind = LISTEN_SUBMISSIONS;
			kind = (char *)"submissions";
		} else if (strcmp(kind, "imap") == 0)
			l.kind = LISTEN_IMAP;
		else if (strcmp(kind, "imaps") == 0)
			l.kind = LISTEN_IMAPS;
		else if (strcmp(kind, "pop3") == 0)
			l.kind = LISTEN_POP3;
		else if (strcmp(kind, "pop3s") == 0)
			l.kind = LISTEN_POP3S;
		else {
			*error_r = xasprintf("%s:%u: unknown listener '%s' (smtp, submission, "
			    "submissions, imap, imaps, pop3, pop3s)", c->path, lineno, kind);
			return -1;
		}
		if (parse_hostport(addr, &l.host, &l.port) < 0) {
			*error_r = xasprintf("%s:%u: '%s' is not ADDRESS:PORT (numeric address, [v6]:port or *:port)",
			    c->path, lineno, addr);
			return -1;
		}
		while ((w = next_word(&p, false)) != NULL) {
			char **dst = strncmp(w, "cert=", 5) == 0 ? &l.cert :
			    strncmp(w, "key=", 4) == 0 ? &l.key : NULL;
			const char *v = dst == &l.cert ? w + 5 : w + 4;
			if (dst == NULL || v[0] != '/') {
				*error_r = xasprintf(dst == NULL ? "%s:%u: unknown listen option '%s' (cert=FILE, key=FILE)" :
				    "%s:%u: listen option '%s' needs an absolute path", c->path, lineno, w);
				free(l.host);
				free(l.port);
				free(l.cert);
				free(l.key);
				return -1;
			}
			free(*dst);
			*dst = xstrdup(v);
		}
		if (l.key != NULL && l.cert == NULL) {
			*error_r = xasprintf("%s:%u: listen key= without cert=", c->path, lineno);
			free(l.host);
			free(l.port);
			free(l.key);
			return -1;
		}
		l.name = xstrdup(kind);
		c->listeners = xreallocarray(c->listeners, c->nlisteners + 1, sizeof(l));
		c->listeners[c->nlisteners++] = l;
		return 0;
	}
	for (size_t i = 0; i < NPARAMS; i++) {
		if (strcmp(params[i].name, name) != 0)
			continue;
		/* The value is the rest of the line, trimmed (banner may have spaces). */
		while (*p == ' ' || *p == '\t')
			p++;
		size_t l = strlen(p);
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			p[--l] = '\0';
		if (params[i].type != CT_STR && params[i].type != CT_ENUM && l == 0) {
			*error_r = xasprintf("%s:%u: %s needs a value", c->path, lineno, name);
			return -1;
		}
		if (params[i].type != CT_STR && strpbrk(p, " \t") != NULL) {
			*error_r = xasprintf("%s:%u: %s takes one value", c->path, lineno, name);
			return -1;
		}
		if (strcmp(name, "hostname") == 0 && l > 0 && !valid_domain(p)) {
			*error_r = xasprintf("%s:%u: %s: '%s' is not a valid domain name", c->path,
			    lineno, name, p);
			return -1;
		}
		if (set_param(c, &params[i], p, &why) < 0) {
			*error_r = xasprintf("%s:%u: %s: '%s' %s", c->path, lineno, name, p, why);
			return -1;
		}
		c->set_mask |= 1ULL << i;
		return 0;
	}
	*error_r = xasprintf("%s:%u: unknown setting '%s'", c->path, lineno, name);
	return -1;
}

int
conf_parse(const char *text, size_t len, const char *path, struct conf *c, char **error_r)
{
	char *logical = NULL;
	size_t llen = 0;
	unsigned lstart = 0, lineno = 0;
	const char *p = text, *end = text + len;
	int rc = 0;

	if (c->path == NULL)
		c->path = xstrdup(path);
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)p[i];
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				*error_r = xasprintf("%s:%u: control character in line", path, lineno);
				free(logical);
				return -1;
			}
		}
		if (n > 4096) {
			*error_r = xasprintf("%s:%u: line too long", path, lineno);
			free(logical);
			return -1;
		}
		/* Strip comments: '#' at line start or after blank. */
		size_t cut = n;
		for (size_t i = 0; i < n; i++)
			if (p[i] == '#' && (i == 0 || p[i - 1] == ' ' || p[i - 1] == '\t')) {
				cut = i;
				break;
			}
		bool blank = true;
		for (size_t i = 0; i < cut; i++)
			if (p[i] != ' ' && p[i] != '\t')
				blank = false;
		bool cont = cut > 0 && (p[0] == ' ' || p[0] == '\t') && !blank;
		if (cont && logical != NULL) {
			logical = xrealloc(logical, llen + cut + 2);
			logical[llen++] = ' ';
			memcpy(logical + llen, p, cut);
			llen += cut;
			logical[llen] = '\0';
		} else if (cont) {
			*error_r = xasprintf("%s:%u: continuation line without a setting before it",
			    path, lineno);
			return -1;
		} else if (!blank || (cut == n && n == 0)) {
			if (logical != NULL) {
				rc = conf_directive(c, logical, lstart, error_r);
				free(logical);
				logical = NULL;
			}
			if (!blank) {
				logical = xstrndup(p, cut);
				llen = cut;
				lstart = lineno;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (rc == 0 && logical != NULL)
		rc = conf_directive(c, logical, lstart, error_r);
	free(logical);
	return rc;
}

void
conf_defaults(struct conf *c)
{
	const char *why;
	for (size_t i = 0; i < NPARAMS; i++)
		if (!(c->set_mask & (1ULL << i)))
			(void)set_param(c, &params[i], params[i].def, &why);
	if (c->hostname == NULL || c->hostname[0] == '\0') {
		char h[256] = "localhost";
		gethostname(h, sizeof(h) - 1);
		h[sizeof(h) - 1] = '\0';
		if (strchr(h, '.') == NULL) {
			struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *res = NULL;
			if (getaddrinfo(h, NULL, &hints, &res) == 0 && res && res->ai_canonname)
				strlcpy(h, res->ai_canonname, sizeof(h));
			if (res)
				freeaddrinfo(res);
		}
		free(c->hostname);
		c->hostname = xstrdup(h);
	}
	if (c->ndomains == 0) {
		add_domain(c, c->hostname);
		add_domain(c, "localhost");
	}
	if (c->nnetworks == 0) {
		struct cidr cd;
		cidr_parse("127.0.0.0/8", &cd);
		c->networks = xreallocarray(NULL, 2, sizeof(cd));
		c->networks[0] = cd;
		cidr_parse("::1/128", &cd);
		c->networks[1] = cd;
		c->nnetworks = 2;
	}
	if (c->nusers == 0) {
		c->users = xcalloc(1, sizeof(*c->users));
		c->users[0].kind = USERS_SYSTEM;
		c->nusers = 1;
	}
	if (c->mailbox_path == NULL) {
		c->mailbox_kind = MAILBOX_MAILDIR;
		c->mailbox_path = xstrdup("~/Maildir");
	}
	/* Every "$hostname" in the banner, as Postfix expands $myhostname. */
	if (strstr(c->banner, "$hostname") != NULL) {
		size_t cap = strlen(c->banner) + 1, n = 0;
		char *b = xmalloc(cap);
		for (const char *p = c->banner; *p;) {
			const char *ins = p;
			size_t l = 1;
			if (strncmp(p, "$hostname", 9) == 0) {
				ins = c->hostname;
				l = strlen(ins);
				p += 9;
			} else
				p++;
			if (n + l + 1 > cap) {
				cap = (n + l + 1) * 2;
				b = xrealloc(b, cap);
			}
			memcpy(b + n, ins, l);
			n += l;
		}
		b[n] = '\0';
		free(c->banner);
		c->banner = b;
	}
}

int
conf_load(const char *path, struct conf *c, char **error_r)
{
	char *data;
	size_t len;

	memset(c, 0, sizeof(*c));
	if (read_file(path, 1 << 20, &data, &len) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = conf_parse(data, len, path, c, error_r);
	free(data);
	if (rc == 0)
		conf_defaults(c);
	else
		conf_free(c);
	return rc;
}

void
conf_free(struct conf *c)
{
	for (size_t i = 0; i < NPARAMS; i++)
		if (params[i].type == CT_STR || params[i].type == CT_ENUM)
			free(*(char **)((char *)c + params[i].off));
	for (size_t i = 0; i < c->ndomains; i++)
		free(c->domains[i]);
	free(c->domains);
	free(c->networks);
	free(c->networks_text);
	for (size_t i = 0; i < c->nusers; i++)
		free(c->users[i].path);
	free(c->users);
	free(c->mailbox_path);
	for (size_t i = 0; i < c->nlisteners; i++) {
		free(c->listeners[i].name);
		free(c->listeners[i].host);
		free(c->listeners[i].cert);
		free(c->listeners[i].key);
		free(c->listeners[i].port);
	}
	free(c->listeners);
	for (size_t i = 0; i < c->ntls_sni; i++) {
		free(c->tls_sni[i].name);
		free(c->tls_sni[i].cert);
		free(c->tls_sni[i].key);
	}
	free(c->tls_sni);
	for (size_t i = 0; i < c->nauth_listen; i++) {
		free(c->auth_listen[i].path);
		free(c->auth_listen[i].user);
		free(c->auth_listen[i].group);
	}
	free(c->auth_listen);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

void
conf_dump(const struct conf *c, FILE *fp, bool all)
{
	for (size_t i = 0; i < NPARAMS; i++) {
		if (!all && !(c->set_mask & (1ULL << i)))
			continue;
		const void *f = (const char *)c + params[i].off;
		if (params[i].type == CT_STR || params[i].type == CT_ENUM)
			fprintf(fp, "%s = %s\n", params[i].name, *(char *const *)f);
		else
			fprintf(fp, "%s = %lld\n", params[i].name, *(const long long *)f);
	}
	fprintf(fp, "domains =");
	for (size_t i = 0; i < c->ndomains; i++)
		fprintf(fp, " %s", c->domains[i]);
	fprintf(fp, "\nnetworks = %s\n", c->networks_text ? c->networks_text : "127.0.0.0/8 ::1/128");
	for (size_t i = 0; i < c->nusers; i++)
		fprintf(fp, "users = %s%s%s\n", c->users[i].kind == USERS_SYSTEM ? "system" :
		    c->users[i].kind == USERS_SQLITE ? "sqlite" : "passwd-file",
		    c->users[i].path ? " " : "", c->users[i].path ? c->users[i].path : "");
	fprintf(fp, "mailbox = %s %s\n", c->mailbox_kind == MAILBOX_MAILDIR ? "maildir" : "mbox",
	    c->mailbox_path);
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];
		fprintf(fp, "listen = %s %s%s%s:%s%s%s%s%s\n", l->name, strchr(l->host, ':') ? "[" : "",
		    l->host, strchr(l->host, ':') ? "]" : "", l->port, l->cert ? " cert=" : "",
		    l->cert ? l->cert : "", l->key ? " key=" : "", l->key ? l->key : "");
	}
	for (size_t i = 0; i < c->ntls_sni; i++)
		fprintf(fp, "tls_sni = %s %s %s\n", c->tls_sni[i].name, c->tls_sni[i].cert,
		    c->tls_sni[i].key);
	for (size_t i = 0; i < c->nauth_listen; i++) {
		const struct auth_listen_conf *a = &c->auth_listen[i];
		fprintf(fp, "auth_listen = %s mode=%04o%s%s%s%s\n", a->path, a->mode,
		    a->user ? " user=" : "", a->user ? a->user : "", a->group ? " group=" : "",
		    a->group ? a->group : "");
	}
}

void
conf_print_reference(FILE *fp)
{
	for (size_t i = 0; i < NPARAMS; i++)
		fprintf(fp, "| `%s` | `%s` | %s | %s |\n", params[i].name, params[i].def, params[i].peer,
		    params[i].doc);
}
