/* demo: `estafeta demo [DIR]` — the lala.local lab of the seed guide, built in
 * DIR without touching the host's users, then served in the foreground. */
#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/cli.h"
#include "daemon/serve.h"
#include "lib/util.h"

static int
write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (atomic_write(path, text, strlen(text), mode) < 0) {
		fprintf(stderr, "estafeta demo: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static char *
hash_pass(const char *pw)
{
	char *salt = crypt_gensalt_ra("$6$", 0, NULL, 0);
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = salt ? crypt_r(pw, salt, cd) : NULL;
	char *out = xasprintf("{SHA512-CRYPT}%s", h && h[0] == '$' ? h : "*");
	free(salt);
	free(cd);
	return out;
}

int
demo_main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("DEMO_DIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp/estafeta-demo";
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: estafeta demo [DIR]\n"
		    "  Build the lala.local lab (host aoki.lala.local; users ameliana, user1, user2\n"
		    "  with password 'pass'; mail under DIR) and run it in the foreground.\n"
		    "  ESTAFETA_PORT_BASE=N moves every listener to N + its standard port\n"
		    "  (20000: SMTP on 20025). Without it: standard ports as root, 20000 otherwise.\n");
		return 0;
	}
	const char *pb = getenv("ESTAFETA_PORT_BASE");
	long base = pb && *pb ? strtol(pb, NULL, 10) : (geteuid() == 0 ? 0 : 20000);
	if (base < 0 || base > 65000) {
		fprintf(stderr, "estafeta demo: ESTAFETA_PORT_BASE must be 0..65000\n");
		return 2;
	}
	char abs[4096];
	if (mkdir_p(dir, 0755) < 0 || realpath(dir, abs) == NULL) {
		fprintf(stderr, "estafeta demo: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	chmod(abs, 0755);
	char path[4096], *conf, *users;
	snprintf(path, sizeof(path), "%s/mail", abs);
	mkdir_p(path, 0755);
	snprintf(path, sizeof(path), "%s/bin", abs);
	mkdir_p(path, 0755);

	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[sl > 0 ? sl : 0] = '\0';
	static const char *const links[] = { "sendmail", "mailq", "newaliases", "estafeta", NULL };
	for (int i = 0; links[i]; i++) {
		snprintf(path, sizeof(path), "%s/bin/%s", abs, links[i]);
		unlink(path);
		if (symlink(self, path) < 0)
			fprintf(stderr, "estafeta demo: %s: %s\n", path, strerror(errno));
	}

	const char *run_user = "estafeta";
	if (geteuid() == 0 && getpwnam(run_user) == NULL)
		run_user = "nobody";
	conf = xasprintf(
	    "# estafeta demo lab: the lala.local setup of the seed guide.\n"
	    "hostname   aoki.lala.local\n"
	    "domains    lala.local aoki.lala.local localhost\n"
	    "networks   127.0.0.0/8 ::1/128\n"
	    "users      passwd-file %s/users\n"
	    "mailbox    maildir %s/mail/%%d/%%n/Maildir\n"
	    "aliases    %s/aliases\n"
	    "spool      %s/spool\n"
	    "run_user   %s\n"
	    "minimal_backoff_time 60s\n"
	    "listen smtp 127.0.0.1:%ld\n"
	    "# mail clients: STARTTLS then AUTH on submission, TLS from the start on\n"
	    "# submissions; the self-signed certificate is made in spool/tls/.\n"
	    "listen submission 127.0.0.1:%ld\n"
	    "listen submissions 127.0.0.1:%ld\n"
	    "# reading mail: IMAP (STARTTLS) and IMAPS, POP3 (STLS) and POP3S\n"
	    "listen imap 127.0.0.1:%ld\n"
	    "listen imaps 127.0.0.1:%ld\n"
	    "listen pop3 127.0.0.1:%ld\n"
	    "listen pop3s 127.0.0.1:%ld\n"
	    "disable_plaintext_auth yes\n",
	    abs, abs, abs, abs, geteuid() == 0 ? run_user : getpwuid(geteuid())->pw_name, base + 25,
	    base + 587, base + 465, base + 143, base + 993, base + 110, base + 995);
	char *h1 = hash_pass("pass"), *h2 = hash_pass("pass"), *h3 = hash_pass("pass");
	users = xasprintf("# user:password:uid:gid:gecos:home:shell (Dovecot passwd-file)\n"
	    "ameliana:%s::::::\nuser1:%s::::::\nuser2:%s::::::\n", h1, h2, h3);
	int rc = write_text(abs, "estafeta.conf", conf, 0644) | write_text(abs, "users", users, 0640) |
	    write_text(abs, "aliases",
	    "# aliases(5): run `newaliases` (bin/newaliases) after editing.\n"
	    "postmaster: root\n"
	    "root: ameliana\n"
	    "abuse: postmaster\n"
	    "team: user1, user2\n", 0644);
	char *mrc = xasprintf("set sendmail=%s/bin/sendmail\n", abs);
	rc |= write_text(abs, "mailrc", mrc, 0644);
	free(mrc);
	free(conf);
	free(users);
	free(h1);
	free(h2);
	free(h3);
	if (rc != 0)
		return 1;
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(run_user);
		if (pw != NULL) {
			char cmd[8300];
			snprintf(cmd, sizeof(cmd), "chown -R %u:%u '%s/mail' '%s/users'",
			    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, abs, abs);
			if (system(cmd) != 0)
				fprintf(stderr, "estafeta demo: chown of %s/mail failed\n", abs);
		}
	}
	printf("estafeta demo lab in %s (domain lala.local, host aoki.lala.local)\n"
	    "  users: ameliana, user1, user2 (password: pass); aliases: postmaster, root, abuse, team\n"
	    "  SMTP:  127.0.0.1:%ld   submission (STARTTLS + AUTH): %ld   submissions (TLS): %ld\n"
	    "  IMAP:  %ld (STARTTLS)   IMAPS: %ld   POP3: %ld (STLS)   POP3S: %ld\n"
	    "         Thunderbird: IMAP 127.0.0.1 port %ld SSL/TLS, SMTP port %ld STARTTLS, "
	    "user1 / pass\n"
	    "  try:   swaks --server 127.0.0.1:%ld --from test@example.org --to ameliana@lala.local\n"
	    "         swaks --server 127.0.0.1:%ld --tls --auth PLAIN --auth-user user1 "
	    "--auth-password pass --from user1@lala.local --to ameliana@lala.local\n"
	    "         echo \"first message\" | MAILRC=%s/mailrc ESTAFETA_CONF=%s/estafeta.conf "
	    "mail -s 1 ameliana@lala.local\n"
	    "         ls %s/mail/lala.local/ameliana/Maildir/new/\n"
	    "         ESTAFETA_CONF=%s/estafeta.conf %s/bin/mailq\n"
	    "  stop:  Ctrl-C\n\n",
	    abs, base + 25, base + 587, base + 465, base + 143, base + 993, base + 110, base + 995,
	    base + 993, base + 587, base + 25, base + 587, abs, abs, abs, abs, abs);
	fflush(stdout);
	snprintf(path, sizeof(path), "%s/estafeta.conf", abs);
	setenv("ESTAFETA_CONF", path, 1);
	return serve_main(path, false, false);
}
