/* libFuzzer target: pwf_parse and pwf_lookup. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "users/passwd_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct pwf *p = pwf_parse((const char *)data, size, "/etc/passwd-file", &err);

	if (p == NULL) {
		if (err == NULL)
			abort();
		free(err);
		return 0;
	}
	for (size_t i = 0; i < p->nusers; i++) {
		const struct pwf_user *u = &p->users[i];
		char *upper;

		if (i > 0 && strcmp(p->users[i - 1].user, u->user) >= 0)
			abort();
		if (u->user[0] == '\0' || u->uid < -1 || u->gid < -1)
			abort();
		upper = xstrdup(u->user);
		for (char *c = upper; *c != '\0'; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - ('a' - 'A'));
		if (pwf_lookup(p, upper) != u || pwf_lookup(p, u->user) != u)
			abort();
		free(upper);
	}
	/* A key taken from the input itself. */
	if (size > 0 && size < 64) {
		char *key = xstrndup((const char *)data, size);
		(void)pwf_lookup(p, key);
		free(key);
	}
	pwf_free(&p);
	return 0;
}
