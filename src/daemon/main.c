/* estafeta: one executable. `estafeta serve` is the daemon; the other
 * subcommands are the admin CLI. Called as sendmail, mailq or newaliases it
 * behaves as those. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "daemon/cli.h"
#include "daemon/serve.h"
#include "auth/authd.h"
#include "auth/password.h"
#include "lib/tls.h"
#include "users/passwd_file.h"
#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue.h"
#include "users/users.h"

#define VERSION "0.1.0"

static const char *
default_conf(void)
{
	const char *e = getenv("ESTAFETA_CONF");
	return e && *e ? e : "/etc/estafeta/estafeta.conf";
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: estafeta COMMAND [options]\n"
	    "\n"
	    "commands:\n"
	    "  serve [-c FILE] [-d] [-v]    run the mail server: SMTP, submission, IMAP, POP3\n"
	    "                               (foreground; -d: daemon + syslog)\n"
	    "  check [-c FILE] [-a]         validate the config and the files it names, print\n"
	    "                               the settings that differ from defaults (-a: all)\n"
	    "  queue [-c FILE] list         list queued messages (like mailq)\n"
	    "  queue [-c FILE] show ID      print a queued message with its envelope\n"
	    "  queue [-c FILE] flush        retry every queued message now\n"
	    "  queue [-c FILE] delete ID... delete messages (ALL: every message; like postsuper -d)\n"
	    "  user [-c FILE] add NAME      add a user to the 'users sqlite' database (asks the\n"
	    "                               password; --password-stdin, --uid, --gid, --home)\n"
	    "  user [-c FILE] passwd NAME   change a user's password\n"
	    "  user [-c FILE] del NAME      delete a user\n"
	    "  user [-c FILE] list          list the users\n"
	    "  user [-c FILE] show NAME     show a user (without the secrets)\n"
	    "  auth [-c FILE] test NAME     log in as NAME through the running daemon's auth\n"
	    "                               service (asks the password; --password-stdin)\n"
	    "  newaliases [-c FILE]         check the aliases file and tell the daemon to reload it\n"
	    "  sendmail [options] [rcpt...] submit a message read from stdin (see sendmail --help)\n"
	    "  demo [DIR]                   build the lala.local demo lab in DIR and run it\n"
	    "  reference                    print every setting with default and meaning\n"
	    "  version                      print the version\n"
	    "\n"
	    "FILE defaults to $ESTAFETA_CONF or /etc/estafeta/estafeta.conf.\n"
	    "Run as sendmail, mailq or newaliases (symlinks) it behaves as those commands.\n");
}

static int
load(const char *path, struct conf *c)
{
	char *err;
	if (conf_load(path, c, &err) < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static int
cmd_serve(int argc, char **argv)
{
	const char *cf = default_conf();
	bool daemonize = false, debug = false;
	int ch;
	while ((ch = getopt(argc, argv, "c:dvh")) != -1) {
		switch (ch) {
		case 'c': cf = optarg; break;
		case 'd': daemonize = true; break;
		case 'v': debug = true; break;
		case 'h':
			printf("usage: estafeta serve [-c FILE] [-d] [-v]\n"
			    "  Run the server in the foreground, logging to stderr.\n"
			    "  -d  detach and log to syslog (facility mail)\n"
			    "  -v  debug logging\n"
			    "  SIGHUP reloads config, users and aliases; SIGUSR1 retries the queue;\n"
			    "  SIGTERM stops.\n");
			return 0;
		default: return 2;
		}
	}
	return serve_main(cf, daemonize, debug);
}

/* Subject and expiry of a certificate file: 0, or 1 when unreadable or expired. */
static int
cert_report(const char *cert, const char *note)
{
	char cn[256], *err = NULL;
	time_t exp;
	if (tls_cert_info(cert, cn, sizeof(cn), &exp, &err) < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		free(err);
		return 1;
	}
	char when[32];
	struct tm tm;
	gmtime_r(&exp, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	fprintf(stderr, "estafeta: TLS certificate %s: CN=%s, valid until %s%s%s\n", cert, cn, when,
	    exp < time(NULL) ? " (EXPIRED)" : "", note);
	return exp < time(NULL) ? 1 : 0;
}

/* Users of passwd-files whose stored password no login can match. */
static void
check_passwords(const struct conf *c)
{
	bool allow_plain = strcmp(c->auth_allow_plain_passwords, "yes") == 0;
	for (size_t i = 0; i < c->nusers; i++) {
		char *data, *err = NULL;
		size_t len;
		if (c->users[i].kind != USERS_PASSWD_FILE ||
		    read_file(c->users[i].path, 64 << 20, &data, &len) < 0)
			continue;
		struct pwf *f = pwf_parse(data, len, c->users[i].path, &err);
		free(data);
		free(err);
		for (size_t j = 0; f != NULL && j < f->nusers; j++) {
			const char *pw = f->users[j].password;
			const char *why = pw[0] ? password_check_stored(pw, allow_plain) : NULL;
			if (why != NULL)
				fprintf(stderr, "estafeta: %s:%u: warning: user %s cannot log in: %s\n",
				    f->path, f->users[j].line, f->users[j].user, why);
		}
		if (f != NULL)
			pwf_free(&f);
	}
}

static int
cmd_check(int argc, char **argv)
{
	const char *cf = default_conf();
	bool all = false;
	int ch, rc = 0;
	while ((ch = getopt(argc, argv, "c:ah")) != -1) {
		switch (ch) {
		case 'c': cf = optarg; break;
		case 'a': all = true; break;
		case 'h':
			printf("usage: estafeta check [-c FILE] [-a]\n"
			    "  Validate the config file and the files it names (aliases, passwd-files,\n"
			    "  user databases), report problems as file:line: problem, then print the\n"
			    "  settings that differ from the defaults (like postconf -n; -a prints all).\n");
			return 0;
		default: return 2;
		}
	}
	struct conf c;
	if (load(cf, &c) < 0)
		return 1;
	char *err = NULL;
	struct aliases *a = NULL;
	if (serve_load_aliases(&c, &a, &err) < 0) {
		fprintf(stderr, "estafeta: %s\n", err);
		free(err);
		rc = 1;
	} else if (a)
		aliases_free(&a);
	struct userdb *u = userdb_open(&c, getuid(), getgid(), &err);
	if (u == NULL) {
		fprintf(stderr, "estafeta: %s\n", err);
		free(err);
		rc = 1;
	} else
		userdb_free(&u);
	if (c.mailbox_kind == MAILBOX_MAILDIR && strstr(c.mailbox_path, "%") == NULL &&
	    c.mailbox_path[0] == '/')
		fprintf(stderr, "estafeta: %s: warning: mailbox %s has no %%u/%%n: all users share "
		    "one mailbox\n", cf, c.mailbox_path);
	bool need_tls = strcmp(c.smtpd_tls_security_level, "none") != 0;
	for (size_t i = 0; i < c.nlisteners; i++)
		need_tls |= c.listeners[i].kind != LISTEN_SMTP;
	if (need_tls) {
		char cert[4096], key[4096];
		serve_tls_paths(&c, cert, key, sizeof(cert));
		if (access(cert, R_OK) < 0 && c.tls_cert[0] == '\0')
			fprintf(stderr, "estafeta: note: no tls_cert: a self-signed certificate for %s "
			    "will be made in %s on first start\n", c.hostname, cert);
		else
			rc |= cert_report(cert, c.tls_cert[0] == '\0' ? " (self-signed)" : "");
		for (size_t i = 0; i < c.nlisteners; i++)
			if (c.listeners[i].cert != NULL)
				rc |= cert_report(c.listeners[i].cert, "");
		for (size_t i = 0; i < c.ntls_sni; i++)
			rc |= cert_report(c.tls_sni[i].cert, "");
	}
	const char *why = authd_check_mechs(c.auth_mechanisms);
	if (why != NULL) {
		fprintf(stderr, "estafeta: %s: %s\n", cf, why);
		rc = 1;
	}
	check_passwords(&c);
	conf_dump(&c, stdout, all);
	conf_free(&c);
	return rc;
}

static pid_t
daemon_pid(const struct conf *c)
{
	char path[4096], *data;
	size_t len;
	struct stat st;
	snprintf(path, sizeof(path), "%s/estafeta.pid", c->spool);
	/* Only a pid file written by root or by us is believed. */
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    read_file_nofollow(path, 64, &data, &len) < 0)
		return -1;
	long pid = strtol(data, NULL, 10);
	free(data);
	if (pid <= 1 || kill((pid_t)pid, 0) < 0)
		return -1;
	return (pid_t)pid;
}

static int
queue_list_print(const struct conf *c)
{
	char **ids;
	size_t n;
	char qdir[4096];
	snprintf(qdir, sizeof(qdir), "%s/queue", c->spool);
	if (queue_list(c->spool, &ids, &n) < 0) {
		fprintf(stderr, "mailq: cannot read %s: %s\n", qdir, strerror(errno));
		return 1;
	}
	if (n == 0) {
		printf("Mail queue is empty\n");
		free(ids);
		return 0;
	}
	printf("-Queue ID-       --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
	unsigned long long total = 0;
	for (size_t i = 0; i < n; i++) {
		struct qenv env;
		const char *err;
		if (queue_load(qdir, ids[i], &env, &err) < 0) {
			printf("%-16s (unreadable: %s)\n", ids[i], err);
			free(ids[i]);
			continue;
		}
		char when[32];
		struct tm tm;
		localtime_r(&env.arrival, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
		printf("%-16s %8zu %-20s %s\n", env.id, env.body_len, when,
		    env.sender[0] ? env.sender : "MAILER-DAEMON");
		total += env.body_len;
		for (size_t r = 0; r < env.nrcpts; r++) {
			if (env.rcpts[r].status != RCPT_PENDING)
				continue;
			if (env.rcpts[r].last_error)
				printf("%47s(%s)\n", "", env.rcpts[r].last_error);
			printf("%47s%s\n", "", env.rcpts[r].addr);
		}
		printf("\n");
		qenv_free(&env);
		free(ids[i]);
	}
	free(ids);
	printf("-- %llu Kbytes in %zu Request%s.\n", (total + 1023) / 1024, n, n == 1 ? "" : "s");
	return 0;
}

static int
cmd_queue(int argc, char **argv)
{
	const char *cf = default_conf();
	int ch;
	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c': cf = optarg; break;
		case 'h':
			printf("usage: estafeta queue [-c FILE] list | show ID | flush | delete ID...|ALL\n");
			return 0;
		default: return 2;
		}
	}
	const char *sub = optind < argc ? argv[optind++] : "list";
	struct conf c;
	if (load(cf, &c) < 0)
		return 1;
	int rc = 0;
	if (strcmp(sub, "list") == 0) {
		rc = queue_list_print(&c);
	} else if (strcmp(sub, "flush") == 0) {
		pid_t pid = daemon_pid(&c);
		if (pid < 0 || kill(pid, SIGUSR1) < 0) {
			fprintf(stderr, "estafeta: the daemon is not running (no %s/estafeta.pid)\n",
			    c.spool);
			rc = 1;
		}
	} else if (strcmp(sub, "delete") == 0) {
		if (optind >= argc) {
			fprintf(stderr, "usage: estafeta queue delete ID...|ALL\n");
			rc = 2;
		}
		char **ids = NULL;
		size_t n = 0;
		if (rc == 0 && optind < argc && strcmp(argv[optind], "ALL") == 0) {
			if (queue_list(c.spool, &ids, &n) < 0) {
				fprintf(stderr, "estafeta: cannot read the queue: %s\n", strerror(errno));
				rc = 1;
			}
		} else if (rc == 0) {
			for (int i = optind; i < argc; i++) {
				ids = xreallocarray(ids, n + 1, sizeof(char *));
				ids[n++] = xstrdup(argv[i]);
			}
		}
		size_t deleted = 0;
		for (size_t i = 0; i < n; i++) {
			if (strlen(ids[i]) != QUEUE_ID_LEN || strspn(ids[i], "0123456789ABCDEF") !=
			    QUEUE_ID_LEN) {
				fprintf(stderr, "estafeta: %s: not a queue id\n", ids[i]);
				rc = 1;
			} else if (queue_remove(c.spool, ids[i]) < 0) {
				fprintf(stderr, "estafeta: %s: %s\n", ids[i], strerror(errno));
				rc = 1;
			} else
				deleted++;
			free(ids[i]);
		}
		free(ids);
		if (n > 0)
			fprintf(stderr, "estafeta: Deleted: %zu message%s\n", deleted, deleted == 1 ? "" : "s");
	} else if (strcmp(sub, "show") == 0) {
		if (optind >= argc) {
			fprintf(stderr, "usage: estafeta queue show ID\n");
			rc = 2;
		} else {
			char path[4096], *data;
			size_t len;
			snprintf(path, sizeof(path), "%s/queue/%s", c.spool, argv[optind]);
			if (strchr(argv[optind], '/') != NULL || read_file_nofollow(path, (size_t)1 << 31, &data,
			    &len) < 0) {
				fprintf(stderr, "estafeta: %s: no such queued message\n", argv[optind]);
				rc = 1;
			} else {
				fwrite(data, 1, len, stdout);
				free(data);
			}
		}
	} else {
		fprintf(stderr, "estafeta: unknown queue command '%s'\n", sub);
		rc = 2;
	}
	conf_free(&c);
	return rc;
}

static int
cmd_newaliases(int argc, char **argv)
{
	const char *cf = default_conf();
	int ch;
	while ((ch = getopt(argc, argv, "c:h")) != -1) {
		switch (ch) {
		case 'c': cf = optarg; break;
		case 'h':
			printf("usage: newaliases [-c FILE]\n"
			    "  Check the aliases file named by the config and make the running\n"
			    "  daemon reload it. estafeta reads aliases(5) text directly: there is no\n"
			    "  database to build.\n");
			return 0;
		default: return 2;
		}
	}
	struct conf c;
	if (load(cf, &c) < 0)
		return 1;
	char *err;
	struct aliases *a = NULL;
	int rc = 0;
	if (serve_load_aliases(&c, &a, &err) < 0) {
		fprintf(stderr, "newaliases: %s\n", err);
		free(err);
		rc = 1;
	} else {
		if (a == NULL)
			fprintf(stderr, "newaliases: no aliases file configured\n");
		else {
			fprintf(stderr, "newaliases: %s: %zu aliases\n", c.aliases, a->nentries);
			aliases_free(&a);
		}
		pid_t pid = daemon_pid(&c);
		if (pid > 0)
			kill(pid, SIGHUP);
	}
	conf_free(&c);
	return rc;
}

static int
cmd_reference(void)
{
	printf("| setting | default | Postfix/Dovecot | meaning |\n|---|---|---|---|\n");
	conf_print_reference(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	char *prog = basename(argv[0]);

	log_init("estafeta", false, LOG_L_INFO);
	if (strcmp(prog, "sendmail") == 0)
		return sendmail_main(argc, argv, default_conf());
	if (strcmp(prog, "mailq") == 0) {
		struct conf c;
		if (load(default_conf(), &c) < 0)
			return 1;
		int rc = queue_list_print(&c);
		conf_free(&c);
		return rc;
	}
	if (strcmp(prog, "newaliases") == 0)
		return cmd_newaliases(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	/* "estafeta CMD --help" is "-h" for every command. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0)
			argv[i] = (char *)"-h";
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc, argv);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc, argv);
	if (strcmp(cmd, "auth") == 0)
		return auth_main(argc, argv);
	if (strcmp(cmd, "queue") == 0)
		return cmd_queue(argc, argv);
	if (strcmp(cmd, "user") == 0)
		return user_main(argc, argv);
	if (strcmp(cmd, "mailq") == 0) {
		argv[0] = (char *)"queue";
		return cmd_queue(argc, argv);
	}
	if (strcmp(cmd, "newaliases") == 0)
		return cmd_newaliases(argc, argv);
	if (strcmp(cmd, "sendmail") == 0)
		return sendmail_main(argc, argv, default_conf());
	if (strcmp(cmd, "demo") == 0)
		return demo_main(argc, argv);
	if (strcmp(cmd, "reference") == 0)
		return cmd_reference();
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("estafeta %s\n", VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "estafeta: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
