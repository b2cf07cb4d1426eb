#include "users/users.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/util.h"
#include "users/passwd_file.h"
#include "users/sqldb.h"

struct userdb {
	enum users_kind *kinds;	/* one per users_conf */
	struct pwf **files;	/* passwd-file, else NULL */
	struct sqldb **dbs;	/* sqlite, else NULL */
	size_t n;
	uid_t vuid;
	gid_t vgid;
};

/* Where userdb_password wants the secrets; NULL pw: lookup only. */
struct secret {
	char *pw;
	size_t pwsz;
	char *scram;
	size_t scramsz;
};

struct userdb *
userdb_open(const struct conf *c, uid_t vuid, gid_t vgid, char **error_r)
{
	struct userdb *u = xcalloc(1, sizeof(*u));
	u->n = c->nusers;
	u->kinds = xcalloc(u->n, sizeof(*u->kinds));
	u->files = xcalloc(u->n, sizeof(*u->files));
	u->dbs = xcalloc(u->n, sizeof(*u->dbs));
	u->vuid = vuid;
	u->vgid = vgid;
	for (size_t i = 0; i < c->nusers; i++) {
		const char *path = c->users[i].path;
		u->kinds[i] = c->users[i].kind;
		if (c->users[i].kind == USERS_SQLITE) {
			char *err = NULL;
			u->dbs[i] = sqldb_open(path, false, &err);
			if (u->dbs[i] == NULL) {
				if (errno == ENOENT) {
					free(err);
					err = xasprintf("%s: no such user database (create it with "
					    "'estafeta user add')", path);
				}
				*error_r = err;
				userdb_free(&u);
				return NULL;
			}
			continue;
		}
		if (c->users[i].kind != USERS_PASSWD_FILE)
			continue;
		char *data;
		size_t len;
		if (read_file(path, 64 << 20, &data, &len) < 0) {
			*error_r = xasprintf("%s: %s", path, strerror(errno));
			userdb_free(&u);
			return NULL;
		}
		u->files[i] = pwf_parse(data, len, path, error_r);
		free(data);
		if (u->files[i] == NULL) {
			userdb_free(&u);
			return NULL;
		}
	}
	return u;
}

void
userdb_free(struct userdb **up)
{
	struct userdb *u = *up;
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		if (u->files[i])
			pwf_free(&u->files[i]);
		if (u->dbs[i])
			sqldb_close(&u->dbs[i]);
	}
	free(u->files);
	free(u->dbs);
	free(u->kinds);
	free(u);
	*up = NULL;
}

/* 0, or -1 when a secret does not fit (a cut hash would never match). */
static int
put_secret(char *out, size_t outsz, const char *v)
{
	return strlcpy(out, v, outsz) < outsz ? 0 : -1;
}

/* Shadow hash of a system user. */
static int
system_secret(const struct passwd *pw, const struct secret *s)
{
	struct spwd sp, *res = NULL;
	char buf[4096];

	/* Unreadable, glibc says "not found" and nss-systemd even makes up a
	 * locked "!*" entry for root: neither may pass for an answer. */
	int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return -1;
	if (fd >= 0)
		close(fd);
	int e = getspnam_r(pw->pw_name, &sp, buf, sizeof(buf), &res);
	if (res != NULL)
		return put_secret(s->pw, s->pwsz, sp.sp_pwdp);
	if (e != 0 && e != ENOENT && e != ESRCH)
		return -1;
	/* No shadow entry: the hash is in the passwd field. */
	return put_secret(s->pw, s->pwsz, pw->pw_passwd);
}

/* A virtual user (passwd-file or sqlite row) named full ("user[@domain]"). */
static void
fill_virtual(const struct userdb *u, const char *full, const char *domain, const char *home,
    long uid, long gid, struct user_info *ui)
{
	strlcpy(ui->name, full, sizeof(ui->name));
	const char *at = strchr(full, '@');
	if (at != NULL) {
		snprintf(ui->local, sizeof(ui->local), "%.*s", (int)(at - full), full);
		strlcpy(ui->domain, at + 1, sizeof(ui->domain));
	} else {
		strlcpy(ui->local, full, sizeof(ui->local));
		strlcpy(ui->domain, domain, sizeof(ui->domain));
	}
	strlcpy(ui->home, home ? home : "", sizeof(ui->home));
	ui->uid = uid >= 0 ? (uid_t)uid : u->vuid;
	ui->gid = gid >= 0 ? (gid_t)gid : u->vgid;
	ui->is_virtual = true;
}

static int
find(const struct userdb *u, const char *local, const char *domain, struct user_info *ui,
    const struct secret *s)
{
	char full[600];

	memset(ui, 0, sizeof(*ui));
	if (s != NULL) {
		s->pw[0] = '\0';
		s->scram[0] = '\0';
	}
	if (local[0] == '\0' || strlen(local) >= sizeof(ui->local) || strlen(domain) >= sizeof(ui->domain))
		return 0;
	for (size_t i = 0; i < u->n; i++) {
		if (u->kinds[i] == USERS_SYSTEM) {
			/* System users: only plain names; reject anything getpwnam would
			 * treat specially. */
			if (strpbrk(local, "/@:") != NULL)
				continue;
			struct passwd pw, *res = NULL;
			char buf[4096];
			int e = getpwnam_r(local, &pw, buf, sizeof(buf), &res);
			if (e != 0 && e != ENOENT && e != ESRCH)
				return -1;
			if (res == NULL)
				continue;
			strlcpy(ui->name, pw.pw_name, sizeof(ui->name));
			strlcpy(ui->local, pw.pw_name, sizeof(ui->local));
			strlcpy(ui->domain, domain, sizeof(ui->domain));
			strlcpy(ui->home, pw.pw_dir, sizeof(ui->home));
			ui->uid = pw.pw_uid;
			ui->gid = pw.pw_gid;
			if (s != NULL && system_secret(&pw, s) < 0)
				return -1;
			return 1;
		}
		if (domain[0] != '\0')
			snprintf(full, sizeof(full), "%s@%s", local, domain);
		if (u->kinds[i] == USERS_SQLITE) {
			struct sqldb_user su;
			int r = domain[0] != '\0' ? sqldb_get(u->dbs[i], full, &su) : 0;
			if (r == 0)
				r = sqldb_get(u->dbs[i], local, &su);
			if (r < 0)
				return -1;
			if (r == 0)
				continue;
			fill_virtual(u, su.name, domain, su.home, su.uid, su.gid, ui);
			if (s != NULL && (put_secret(s->pw, s->pwsz, su.password) < 0 ||
			    put_secret(s->scram, s->scramsz, su.scram) < 0))
				return -1;
			return 1;
		}
		const struct pwf_user *pu = NULL;
		if (domain[0] != '\0')
			pu = pwf_lookup(u->files[i], full);
		if (pu == NULL)
			pu = pwf_lookup(u->files[i], local);
		if (pu == NULL)
			continue;
		fill_virtual(u, pu->user, domain, pu->home, pu->uid, pu->gid, ui);
		if (s != NULL) {
			if (put_secret(s->pw, s->pwsz, pu->password) < 0)
				return -1;
			if (strncasecmp(pu->password, "{SCRAM-SHA-256}", 15) == 0 &&
			    put_secret(s->scram, s->scramsz, pu->password) < 0)
				return -1;
		}
		return 1;
	}
	return 0;
}

int
userdb_lookup(const struct userdb *u, const char *local, const char *domain, struct user_info *ui)
{
	return find(u, local, domain, ui, NULL);
}

int
userdb_password(const struct userdb *u, const char *local, const char *domain,
    struct user_info *ui, char *pw, size_t pwsz, char *scram, size_t scramsz)
{
	struct secret s = { pw, pwsz, scram, scramsz };

	if (pwsz == 0 || scramsz == 0)
		return -1;
	int r = find(u, local, domain, ui, &s);
	if (r <= 0) {
		/* Nothing half-copied is left behind. */
		explicit_bzero(pw, pwsz);
		explicit_bzero(scram, scramsz);
	}
	return r;
}

int
mailbox_expand(const char *tmpl, const struct user_info *ui, char *out, size_t outsz)
{
	size_t o = 0;
	const char *p = tmpl;

#define PUT(s) do { \
		size_t _l = strlen(s); \
		if (o + _l >= outsz) return -1; \
		memcpy(out + o, s, _l); o += _l; \
	} while (0)

	if (p[0] == '~' && p[1] == '/') {
		if (ui->home[0] != '/')
			return -1;
		PUT(ui->home);
		p++;
	}
	for (; *p; p++) {
		if (*p != '%') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'u': PUT(ui->name); break;
		case 'n': PUT(ui->local); break;
		case 'd': PUT(ui->domain); break;
		case 'h': if (ui->home[0] != '/') return -1; PUT(ui->home); break;
		case '%': PUT("%"); break;
		default: return -1;
		}
	}
#undef PUT
	out[o] = '\0';
	/* User and domain names never climb out of the mail tree. */
	if (strstr(out, "/../") != NULL || (o >= 3 && strcmp(out + o - 3, "/..") == 0) ||
	    strncmp(out, "../", 3) == 0 || strcmp(out, "..") == 0)
		return -1;
	return 0;
}

void
local_strip_ext(char *local, const char *delims)
{
	if (delims == NULL || *delims == '\0')
		return;
	/* Keep owner-/-request style names intact: only cut after the first char. */
	char *d = strpbrk(local + (local[0] ? 1 : 0), delims);
	if (d != NULL)
		*d = '\0';
}

void
userdb_split_login(const char *login, const char *default_domain, char *local, size_t localsz,
    char *domain, size_t domainsz)
{
	strlcpy(local, login, localsz);
	char *at = strrchr(local, '@');
	if (at != NULL) {
		strlcpy(domain, at + 1, domainsz);
		*at = '\0';
	} else
		strlcpy(domain, default_domain ? default_domain : "", domainsz);
	str_lower(local);
}

int
mailstore_spec(bool mbox, const char *tmpl, const struct user_info *ui, char *out, size_t outsz)
{
	if (!mbox)
		return mailbox_expand(tmpl, ui, out, outsz);
	char spool[1024];
	if (mailbox_expand(tmpl, ui, spool, sizeof(spool)) < 0 || spool[0] != '/')
		return -1;
	int n;
	if (ui->home[0] == '/')
		n = snprintf(out, outsz, "%s/Maildir\nINBOX=%s", ui->home, spool);
	else {
		/* No home (a virtual user): beside the spool file, hidden. */
		const char *slash = strrchr(spool, '/');
		n = snprintf(out, outsz, "%.*s/.%s.folders\nINBOX=%s", (int)(slash - spool), spool,
		    slash + 1, spool);
	}
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}
