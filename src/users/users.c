#include "users/users.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "users/passwd_file.h"

struct userdb {
	const struct conf *conf;
	struct pwf **files;	/* one per users_conf, NULL for system */
	size_t n;
	uid_t vuid;
	gid_t vgid;
};

struct userdb *
userdb_open(const struct conf *c, uid_t vuid, gid_t vgid, char **error_r)
{
	struct userdb *u = xcalloc(1, sizeof(*u));
	u->conf = c;
	u->n = c->nusers;
	u->files = xcalloc(u->n, sizeof(*u->files));
	u->vuid = vuid;
	u->vgid = vgid;
	for (size_t i = 0; i < c->nusers; i++) {
		if (c->users[i].kind != USERS_PASSWD_FILE)
			continue;
		char *data;
		size_t len;
		if (read_file(c->users[i].path, 64 << 20, &data, &len) < 0) {
			*error_r = xasprintf("%s: %s", c->users[i].path, strerror(errno));
			userdb_free(&u);
			return NULL;
		}
		u->files[i] = pwf_parse(data, len, c->users[i].path, error_r);
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
	for (size_t i = 0; i < u->n; i++)
		if (u->files[i])
			pwf_free(&u->files[i]);
	free(u->files);
	free(u);
	*up = NULL;
}

int
userdb_lookup(const struct userdb *u, const char *local, const char *domain, struct user_info *ui)
{
	char full[600];

	memset(ui, 0, sizeof(*ui));
	if (local[0] == '\0' || strlen(local) >= sizeof(ui->local) || strlen(domain) >= sizeof(ui->domain))
		return 0;
	for (size_t i = 0; i < u->n; i++) {
		if (u->files[i] == NULL) {
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
			return 1;
		}
		const struct pwf_user *pu = NULL;
		if (domain[0] != '\0') {
			snprintf(full, sizeof(full), "%s@%s", local, domain);
			pu = pwf_lookup(u->files[i], full);
		}
		if (pu == NULL)
			pu = pwf_lookup(u->files[i], local);
		if (pu == NULL)
			continue;
		strlcpy(ui->name, pu->user, sizeof(ui->name));
		const char *at = strchr(pu->user, '@');
		if (at != NULL) {
			snprintf(ui->local, sizeof(ui->local), "%.*s", (int)(at - pu->user), pu->user);
			strlcpy(ui->domain, at + 1, sizeof(ui->domain));
		} else {
			strlcpy(ui->local, pu->user, sizeof(ui->local));
			strlcpy(ui->domain, domain, sizeof(ui->domain));
		}
		strlcpy(ui->home, pu->home ? pu->home : "", sizeof(ui->home));
		ui->uid = pu->uid >= 0 ? (uid_t)pu->uid : u->vuid;
		ui->gid = pu->gid >= 0 ? (gid_t)pu->gid : u->vgid;
		ui->is_virtual = true;
		return 1;
	}
	return 0;
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
