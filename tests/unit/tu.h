/* tu.h: helpers shared by the cmocka unit tests. */
#ifndef TU_H
#define TU_H
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"

/* A fresh temporary directory; the caller removes it with tu_rmtree(). */
static inline char *
tu_tmpdir(void)
{
	char *t = strdup("/tmp/estafeta-test.XXXXXX");
	if (t == NULL || mkdtemp(t) == NULL)
		abort();
	return t;
}

static inline void
tu_rmtree(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		abort();
}

/* A test vector from tests/unit/data/dovecot/ (files a real Dovecot
 * wrote): $MDFILES_DATA, next to this source, or next to the binary. */
static inline char *
tu_dovecot_vector(const char *name, size_t *len_r)
{
	char path[PATH_MAX], exe[PATH_MAX];
	const char *env = getenv("MDFILES_DATA");
	char *data = NULL;
	ssize_t n;

	if (env != NULL) {
		snprintf(path, sizeof(path), "%s/%s", env, name);
		if (read_file(path, 1 << 20, &data, len_r) == 0)
			return data;
	}
	snprintf(path, sizeof(path), "%.*s/data/dovecot/%s",
	    (int)(strrchr(__FILE__, '/') - __FILE__), __FILE__, name);
	if (read_file(path, 1 << 20, &data, len_r) == 0)
		return data;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(path, sizeof(path), "%s/../../tests/unit/data/dovecot/%s", dirname(exe),
		    name);
		if (read_file(path, 1 << 20, &data, len_r) == 0)
			return data;
	}
	fail_msg("test vector %s not found (set MDFILES_DATA)", name);
	return NULL;
}

#endif
