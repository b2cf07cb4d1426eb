/* serve: the daemon entry point. */
#ifndef SERVE_H
#define SERVE_H
#include <stdbool.h>

#include "aliases/aliases.h"
#include "conf/conf.h"

int serve_main(const char *conf_path, bool daemonize, bool debug);
/* Load c->aliases (none when unset). 0, or -1 with *error_r allocated. */
int serve_load_aliases(const struct conf *c, struct aliases **a_r, char **error_r);
#endif
