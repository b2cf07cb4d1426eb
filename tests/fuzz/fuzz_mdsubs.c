/* libFuzzer target: md_subs_parse and md_keywords_parse, each with a format
 * and parse-again round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "store/mdfiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
subs(const char *text, size_t size, char sep)
{
	struct md_subs s, again;
	const char *err = NULL;
	size_t len;
	char *out;

	if (md_subs_parse(text, size, 1000, sep, &s, &err) < 0) {
		if (err == NULL || s.names != NULL)
			abort();
		return;
	}
	for (size_t i = 0; i < s.n; i++) {
		const char *nm = s.names[i];
		size_t n = strlen(nm);

		if (n == 0 || nm[0] == sep || nm[n - 1] == sep)
			abort();
		for (size_t j = 0; j < n; j++)
			if ((unsigned char)nm[j] < 0x20 || nm[j] == 0x7f ||
			    (nm[j] == sep && nm[j + 1] == sep))
				abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(s.names[j], nm) == 0)
				abort();
	}
	out = md_subs_format(&s, &len);
	if (len != strlen(out) || strncmp(out, "V\t2\n\n", 5) != 0)
		abort();
	if (md_subs_parse(out, len, 1000, sep, &again, &err) < 0 || again.n != s.n)
		abort();
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.names[i], again.names[i]) != 0)
			abort();
	/* Removing and adding back keeps the set. */
	if (s.n > 0) {
		char *first = xstrdup(s.names[0]);
		if (md_subs_remove(&again, first) < 0 || md_subs_add(&again, first) < 0 ||
		    again.n != s.n)
			abort();
		free(first);
	}
	free(out);
	md_subs_free(&again);
	md_subs_free(&s);
}

static void
keywords(const char *text, size_t size)
{
	struct md_keywords k, again;
	size_t len;
	char *out;

	if (md_keywords_parse(text, size, &k) < 0) {
		if (memchr(text, '\0', size) == NULL)
			abort();
		return;
	}
	out = md_keywords_format(&k, &len);
	if (len != strlen(out) || md_keywords_parse(out, len, &again) < 0)
		abort();
	for (int i = 0; i < 26; i++) {
		if ((k.names[i] == NULL) != (again.names[i] == NULL))
			abort();
		if (k.names[i] == NULL)
			continue;
		if (strcmp(k.names[i], again.names[i]) != 0)
			abort();
		/* Found at its own index or at another holding the same name. */
		{
			int j = md_keywords_find(&k, k.names[i]);
			if (j < 0 || strcasecmp(k.names[j], k.names[i]) != 0)
				abort();
			if (md_keywords_add(&k, k.names[i]) != j)
				abort();
		}
	}
	free(out);
	md_keywords_free(&again);
	md_keywords_free(&k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	subs(text, size, size % 2 ? '/' : '.');
	keywords(text, size);
	return 0;
}
