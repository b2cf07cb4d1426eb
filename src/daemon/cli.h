/* cli: the subcommands that are programs of their own (sendmail, demo, user). */
#ifndef CLI_H
#define CLI_H
#include <stdbool.h>
#include <stddef.h>
int sendmail_main(int argc, char **argv, const char *conf_path);
int demo_main(int argc, char **argv);
/* estafeta user add|passwd|del|list|show: the SQLite user database. */
int user_main(int argc, char **argv);
/* estafeta auth test: a login through the running daemon's auth service. */
int auth_main(int argc, char **argv);
/* A password from the first line of stdin, or asked once on /dev/tty without
 * echo. 0, or -1 after a message on stderr. */
int cli_password_once(bool from_stdin, const char *prompt, char *buf, size_t bufsz);
#endif
