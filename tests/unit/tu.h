/* tu.h: helpers shared by the cmocka unit tests. */
#ifndef TU_H
#define TU_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

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
#endif
