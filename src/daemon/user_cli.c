/* user_cli: `estafeta user` — manage the SQLite user database of `users sqlite PATH`. */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "conf/conf.h"
#include "daemon/cli.h"
#include "lib/util.h"
#include "users/sqldb.h"

#define PW_MAX	1024

static const char *
default_conf(void)
{
	const char *e = getenv("ESTAFETA_CONF");
	return e && *e ? e : "/etc/estafeta/estafeta.conf";
}

static int
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: estafeta user [-c FILE] add [--password-stdin] [--uid N] [--gid N] [--home DIR] NAME\n"
	    "       estafeta user [-c FILE] passwd [--password-stdin] NAME\n"
	    "       estafeta user [-c FILE] del NAME\n"
	    "       estafeta user [-c FILE] list\n"
	    "       estafeta user [-c FILE] show NAME\n"
	    "  Manage the user database of the config's first 'users sqlite PATH' line\n"
	    "  (add creates it). NAME is 'user' or 'user@domain', stored lower-cased.\n"
	    "  The password is asked twice on the terminal, or read from the first line\n"
	    "  of standard input with --password-stdin. Without --uid/--gid the user's\n"
	    "  mail is owned by run_user.\n");
	return fp == stdout ? 0 : 2;
}

/* Lower-case and check a user name; NULL when fine, else why not. */
static const char *
name_check(const char *in, char *out, size_t outsz)
{
	size_t n = strlen(in);

	if (n == 0 || n > 255 || n >= outsz)
		return "must be 1 to 255 bytes";
	for (size_t i = 0; i <= n; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch != '\0' && (ch < 0x20 || ch == 0x7f || isspace(ch) || ch == ':' || ch == '/'))
			return "must not contain ':', '/', blanks or control characters";
		out[i] = (char)tolower(ch);
	}
	const char *at = strchr(out, '@');
	if (at != NULL && (at == out || at[1] == '\0' || strchr(at + 1, '@') != NULL))
		return "must be 'user' or 'user@domain'";
	size_t ll = at ? (size_t)(at - out) : n;
	if ((ll == 1 && out[0] == '.') || (ll == 2 && strncmp(out, "..", 2) == 0) ||
	    (at != NULL && (strcmp(at + 1, ".") == 0 || strcmp(at + 1, "..") == 0)))
		return "must not be '.' or '..'";
	return NULL;
}

static int
parse_id(const char *s, long *v, const char *what)
{
	char *end;

	errno = 0;
	long l = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || l < 0 || l > INT_MAX) {
		fprintf(stderr, "estafeta: --%s %s: not a number\n", what, s);
		return -1;
	}
	if (l == 0) {
		fprintf(stderr, "estafeta: --%s 0: mail is never delivered as root\n", what);
		return -1;
	}
	*v = l;
	return 0;
}

/* First line of stdin, read unbuffered so no copy stays in a stdio buffer. */
static int
password_from_stdin(char *buf, size_t bufsz)
{
	size_t n = 0;
	char ch;
	ssize_t r;

	while ((r = read(STDIN_FILENO, &ch, 1)) == 1 && ch != '\n') {
		if (n + 1 >= bufsz) {
			fprintf(stderr, "estafeta: password too long (at most %zu bytes)\n", bufsz - 1);
			return -1;
		}
		buf[n++] = ch;
	}
	if (r < 0) {
		fprintf(stderr, "estafeta: reading the password: %s\n", strerror(errno));
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

static volatile sig_atomic_t tty_sig;

static void
on_tty_sig(int sig)
{
	tty_sig = sig;
}

/* getpass(3) without its static buffer: no echo, and a signal restores the
 * terminal before it takes effect. */
static int
tty_ask(int fd, const char *prompt, char *buf, size_t bufsz)
{
	static const int sigs[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGTSTP };
	struct sigaction sa, old[5];
	struct termios saved, t;
	size_t n = 0;
	ssize_t r = 0;
	char ch;
	int rc = 0;

	if (tcgetattr(fd, &saved) < 0) {
		fprintf(stderr, "estafeta: /dev/tty: %s\n", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tty_sig;	/* no SA_RESTART: read returns EINTR */
	sigemptyset(&sa.sa_mask);
	tty_sig = 0;
	for (size_t i = 0; i < 5; i++)
		sigaction(sigs[i], &sa, &old[i]);
	t = saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_lflag |= ICANON;
	(void)tcsetattr(fd, TCSAFLUSH, &t);
	if (write(fd, prompt, strlen(prompt)) < 0)
		rc = -1;
	while (rc == 0 && tty_sig == 0 && (r = read(fd, &ch, 1)) == 1 && ch != '\n') {
		if (n + 1 >= bufsz)
			rc = -1;
		else
			buf[n++] = ch;
	}
	buf[n] = '\0';
	if (r < 0 || r == 0)
		rc = -1;
	(void)tcsetattr(fd, TCSAFLUSH, &saved);
	if (write(fd, "\n", 1) < 0) {
		/* only cosmetic: the line after the unechoed input */
	}
	for (size_t i = 0; i < 5; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (tty_sig != 0) {
		explicit_bzero(buf, bufsz);
		raise(tty_sig);
		fprintf(stderr, "estafeta: interrupted\n");
		return -1;
	}
	if (rc < 0)
		fprintf(stderr, "estafeta: no password read%s\n",
		    n + 1 >= bufsz ? " (too long)" : "");
	return rc;
}

static int
password_from_tty(const char *name, char *buf, size_t bufsz)
{
	char again[PW_MAX], prompt[400];
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		fprintf(stderr, "estafeta: no terminal to ask for the password on (%s); use "
		    "--password-stdin\n", strerror(errno));
		return -1;
	}
	snprintf(prompt, sizeof(prompt), "New password for %s: ", name);
	int rc = tty_ask(fd, prompt, buf, bufsz);
	if (rc == 0)
		rc = tty_ask(fd, "Retype the password: ", again, sizeof(again));
	if (rc == 0 && strcmp(buf, again) != 0) {
		fprintf(stderr, "estafeta: the passwords differ\n");
		rc = -1;
	}
	explicit_bzero(again, sizeof(again));
	close(fd);
	return rc;
}

int
cli_password_once(bool from_stdin, const char *prompt, char *buf, size_t bufsz)
{
	if (from_stdin)
		return password_from_stdin(buf, bufsz);
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "estafeta: no terminal to ask for the password on (%s); use "
		    "--password-stdin\n", strerror(errno));
		return -1;
	}
	int rc = tty_ask(fd, prompt, buf, bufsz);
	close(fd);
	return rc;
}

/* Ask for the password and fill in both hashes. */
static int
set_password(struct sqldb_user *u, bool from_stdin)
{
	char pw[PW_MAX];
	int rc = from_stdin ? password_from_stdin(pw, sizeof(pw)) :
	    password_from_tty(u->name, pw, sizeof(pw));

	if (rc == 0 && pw[0] == '\0') {
		fprintf(stderr, "estafeta: empty password\n");
		rc = -1;
	}
	if (rc == 0 && (password_hash(pw, u->password, sizeof(u->password)) < 0 ||
	    password_scram(pw, u->scram, sizeof(u->scram)) < 0)) {
		fprintf(stderr, "estafeta: cannot hash the password\n");
		rc = -1;
	}
	explicit_bzero(pw, sizeof(pw));
	return rc;
}

/* As root: root:<run_user's group> 0640, so that the daemon's worker can read it. */
static int
fix_owner(const struct conf *c, const char *path)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(c->run_user);
	if (pw == NULL)
		pw = getpwnam("nobody");
	if (pw == NULL)
		return 0;
	gid_t gid = pw->pw_gid;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (((st.st_uid != 0 || st.st_gid != gid) && fchown(fd, 0, gid) < 0) ||
	    ((st.st_mode & 07777) != 0640 && fchmod(fd, 0640) < 0))
		goto fail;
	close(fd);
	return 0;
fail:
	fprintf(stderr, "estafeta: %s: cannot make it readable for %s: %s\n", path, pw->pw_name,
	    errno == EINVAL ? "not a regular file" : strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void
fmt_time(long long t, bool full, char *out, size_t outsz)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL || (full ?
	    strftime(out, outsz, "%Y-%m-%d %H:%M:%S %z", &tm) :
	    strftime(out, outsz, "%Y-%m-%d", &tm)) == 0)
		strlcpy(out, "-", outsz);
}

static void
fmt_id(long id, const char *virt, char *out, size_t outsz)
{
	if (id < 0)
		strlcpy(out, virt, outsz);
	else
		snprintf(out, outsz, "%ld", id);
}

static int
list_one(const struct sqldb_user *u, void *ctx)
{
	char ids[64], when[32], a[24], b[24];
	(void)ctx;

	if (u->uid < 0 && u->gid < 0)
		strlcpy(ids, "virtual", sizeof(ids));
	else {
		fmt_id(u->uid, "-", a, sizeof(a));
		fmt_id(u->gid, "-", b, sizeof(b));
		snprintf(ids, sizeof(ids), "%s/%s", a, b);
	}
	fmt_time(u->created, false, when, sizeof(when));
	printf("%-32s %-17s %-24s %s\n", u->name, ids, u->home[0] ? u->home : "-", when);
	return 0;
}

/* "{CRYPT}" of "{CRYPT}$y$...": the scheme only, never the secret. */
static void
scheme_of(const char *stored, char *out, size_t outsz)
{
	const char *e;

	if (stored[0] == '\0')
		strlcpy(out, "none", outsz);
	else if (stored[0] == '{' && (e = strchr(stored, '}')) != NULL)
		snprintf(out, outsz, "%.*s", (int)(e - stored + 1), stored);
	else
		strlcpy(out, "crypt(3) hash", outsz);
}

static void
show(const struct sqldb_user *u, const struct conf *c)
{
	char a[300], virt[300], when[64];

	snprintf(virt, sizeof(virt), "virtual (run_user %s)", c->run_user);
	printf("name:     %s\n", u->name);
	fmt_id(u->uid, virt, a, sizeof(a));
	printf("uid:      %s\n", a);
	fmt_id(u->gid, virt, a, sizeof(a));
	printf("gid:      %s\n", a);
	printf("home:     %s\n", u->home[0] ? u->home : "-");
	scheme_of(u->password, a, sizeof(a));
	printf("password: %s\n", a);
	scheme_of(u->scram, a, sizeof(a));
	printf("scram:    %s\n", a);
	fmt_time(u->created, true, when, sizeof(when));
	printf("created:  %s\n", when);
	fmt_time(u->changed, true, when, sizeof(when));
	printf("changed:  %s\n", when);
}

static const char *
sqlite_path(const struct conf *c)
{
	for (size_t i = 0; i < c->nusers; i++)
		if (c->users[i].kind == USERS_SQLITE)
			return c->users[i].path;
	return NULL;
}

/* Open for the subcommand; writers of an existing database get it read-write. */
static struct sqldb *
db_open(const struct conf *c, const char *path, bool create, bool write)
{
	struct stat st;
	char *err = NULL;

	if (!create && stat(path, &st) < 0 && errno == ENOENT) {
		fprintf(stderr, "estafeta: %s: no such user database (create it with "
		    "'estafeta user add')\n", path);
		return NULL;
	}
	struct sqldb *db = sqldb_open(path, create || write, &err);
	if (db == NULL) {
		fprintf(stderr, "estafeta: %s\n", err);
		free(err);
		return NULL;
	}
	if ((create || write) && fix_owner(c, path) < 0)
		sqldb_close(&db);
	return db;
}

static int
cmd_add(const struct conf *c, const char *path, const char *name, long uid, long gid,
    const char *home, bool from_stdin)
{
	struct sqldb *db = NULL;
	struct sqldb_user u;
	struct stat st;
	char *err = NULL;
	int r, rc = 1;

	/* An existing user is reported before the password is asked for; a new
	 * database is made only once there is a password to store in it. */
	if (stat(path, &st) == 0) {
		if ((db = db_open(c, path, true, true)) == NULL)
			return 1;
		if ((r = sqldb_get(db, name, &u)) != 0) {
			if (r < 0)
				fprintf(stderr, "estafeta: %s: cannot read the user database\n", path);
			else
				fprintf(stderr, "estafeta: %s: user exists (change the password with "
				    "'estafeta user passwd')\n", name);
			goto out;
		}
	}
	memset(&u, 0, sizeof(u));
	strlcpy(u.name, name, sizeof(u.name));
	u.uid = uid;
	u.gid = gid;
	strlcpy(u.home, home ? home : "", sizeof(u.home));
	if (set_password(&u, from_stdin) < 0)
		goto out;
	if (db == NULL && (db = db_open(c, path, true, true)) == NULL)
		goto out;
	if ((r = sqldb_put(db, &u, false, &err)) <= 0) {
		fprintf(stderr, "estafeta: %s\n", r < 0 ? err : "user exists");
		free(err);
		goto out;
	}
	fprintf(stderr, "estafeta: user %s added to %s\n", name, path);
	rc = 0;
out:
	explicit_bzero(&u, sizeof(u));
	sqldb_close(&db);
	return rc;
}

int
user_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "password-stdin", no_argument, NULL, 'P' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "home", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cf = default_conf(), *home = NULL, *why;
	bool from_stdin = false, ids = false;
	long uid = -1, gid = -1;
	char name[256];
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cf = optarg; break;
		case 'P': from_stdin = true; break;
		case 'u': if (parse_id(optarg, &uid, "uid") < 0) return 1; ids = true; break;
		case 'g': if (parse_id(optarg, &gid, "gid") < 0) return 1; ids = true; break;
		case 'H': home = optarg; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind >= argc)
		return usage(stderr);
	const char *sub = argv[optind++];
	int nargs = argc - optind;
	bool is_add = strcmp(sub, "add") == 0, is_passwd = strcmp(sub, "passwd") == 0;
	bool is_del = strcmp(sub, "del") == 0, is_list = strcmp(sub, "list") == 0;
	if (!is_add && !is_passwd && !is_del && !is_list && strcmp(sub, "show") != 0) {
		fprintf(stderr, "estafeta: unknown user command '%s'\n", sub);
		return usage(stderr);
	}
	if (nargs != (is_list ? 0 : 1))
		return usage(stderr);
	if ((!is_add && (ids || home != NULL)) || (!is_add && !is_passwd && from_stdin)) {
		fprintf(stderr, "estafeta: user %s: option not allowed here\n", sub);
		return usage(stderr);
	}
	if (home != NULL && (home[0] != '/' || strlen(home) >= sizeof(((struct sqldb_user *)0)->home) ||
	    strpbrk(home, "\n\r\t") != NULL)) {
		fprintf(stderr, "estafeta: --home %s: not an absolute path\n", home);
		return 1;
	}
	if (nargs == 1 && (why = name_check(argv[optind], name, sizeof(name))) != NULL) {
		fprintf(stderr, "estafeta: bad user name '%s': %s\n", argv[optind], why);
		return 1;
	}

	struct conf c;
	char *err = NULL;
	if (conf_load(cf, &c, &err) < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		free(err);
		return 1;
	}
	const char *path = sqlite_path(&c);
	if (path == NULL) {
		fprintf(stderr, "estafeta: %s: no 'users sqlite PATH' line: there is no user database "
		    "to manage\n", cf);
		conf_free(&c);
		return 1;
	}
	if (is_add) {
		rc = cmd_add(&c, path, name, uid, gid, home, from_stdin);
		conf_free(&c);
		return rc;
	}
	struct sqldb *db = db_open(&c, path, false, is_passwd || is_del);
	if (db == NULL) {
		conf_free(&c);
		return 1;
	}
	struct sqldb_user u;
	int r;
	if (is_list) {
		if (sqldb_list(db, list_one, NULL) < 0) {
			fprintf(stderr, "estafeta: %s: cannot list the users\n", path);
			rc = 1;
		}
	} else if ((r = sqldb_get(db, name, &u)) < 0) {
		fprintf(stderr, "estafeta: %s: cannot read the user database\n", path);
		rc = 1;
	} else if (r == 0) {
		fprintf(stderr, "estafeta: %s: no such user in %s\n", name, path);
		rc = 1;
	} else if (is_passwd) {
		if (set_password(&u, from_stdin) < 0)
			rc = 1;
		else if (sqldb_put(db, &u, true, &err) < 0) {
			fprintf(stderr, "estafeta: %s\n", err);
			free(err);
			rc = 1;
		} else
			fprintf(stderr, "estafeta: password of %s changed\n", name);
	} else if (is_del) {
		if ((r = sqldb_del(db, name, &err)) < 0) {
			fprintf(stderr, "estafeta: %s\n", err);
			free(err);
			rc = 1;
		} else if (r == 0) {
			fprintf(stderr, "estafeta: %s: no such user in %s\n", name, path);
			rc = 1;
		} else
			fprintf(stderr, "estafeta: user %s deleted (the mailbox is left alone)\n", name);
	} else
		show(&u, &c);
	explicit_bzero(&u, sizeof(u));
	sqldb_close(&db);
	conf_free(&c);
	return rc;
}
