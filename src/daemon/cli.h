/* cli: the subcommands that are programs of their own (sendmail, demo, user). */
#ifndef CLI_H
#define CLI_H
int sendmail_main(int argc, char **argv, const char *conf_path);
int demo_main(int argc, char **argv);
/* estafeta user add|passwd|del|list|show: the SQLite user database. */
int user_main(int argc, char **argv);
#endif
