/* libFuzzer target: aliases_parse, aliases_parse_list, lookup and expansion. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aliases/aliases.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const uint8_t *data;
	size_t size;
};

static bool
fz_local(void *ctx, const char *domain)
{
	(void)ctx;
	return strcmp(domain, "example.com") == 0 || strcmp(domain, "localhost") == 0;
}

/* Fixed small include files; "/self" is the input itself as a list. */
static int
fz_read(void *ctx, const char *path, char **data_r, size_t *len_r, uid_t *owner_r,
    gid_t *gid_r, const char **error_r)
{
	static const struct {
		const char *path, *text;
		uid_t uid;
		gid_t gid;
	} files[] = {
		{ "/a", "root, b@example.com, /var/log/a\n\"|/bin/cat -\"\n", 1000, 100 },
		{ "/loop", ":include:/loop, :include:/a, x@remote.org\n", 0, 0 },
		{ "/nest", ":include:/nest2\n", 1001, 0 },
		{ "/nest2", ":include:/nest, :include:/self, postmaster\n", 1002, 7 },
		{ "/bad", "x y\n", 1000, 100 },
	};
	struct fz *f = ctx;

	if (strcmp(path, "/self") == 0) {
		*data_r = xmalloc(f->size + 1);
		memcpy(*data_r, f->data, f->size);
		(*data_r)[f->size] = '\0';
		*len_r = f->size;
		*owner_r = 1003;
		*gid_r = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (strcmp(files[i].path, path) == 0) {
			*data_r = xstrdup(files[i].text);
			*len_r = strlen(files[i].text);
			*owner_r = files[i].uid;
			*gid_r = files[i].gid;
			return 0;
		}
	}
	*error_r = "no such file";
	return -1;
}

/* Invariants the callers rely on: abort so the fuzzer reports them. */
static void
check_result(const struct alias_result *r)
{
	if (r->ndests > 1000)
		abort();
	for (size_t i = 0; i < r->ndests; i++) {
		const struct alias_dest *d = &r->dests[i];
		if ((d->kind == DEST_FILE || d->kind == DEST_PIPE) && d->uid == 0)
			abort();
		for (size_t j = 0; j < i; j++)
			if (r->dests[j].kind == d->kind && r->dests[j].uid == d->uid &&
			    r->dests[j].gid == d->gid && strcmp(r->dests[j].value, d->value) == 0)
				abort();
	}
}

static void
expand_one(const struct aliases *a, const char *name, const struct alias_expand_ops *ops)
{
	struct alias_result r;
	const char *err = NULL;

	if (aliases_expand(a, name, ops, &r, &err) == 0) {
		check_result(&r);
		alias_result_free(&r);
	} else if (err == NULL || r.ndests != 0 || r.dests != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct alias_expand_ops ops = {
		.is_local_domain = fz_local,
		.read_include = fz_read,
		.ctx = &f,
		.default_uid = 65534,
		.default_gid = 65534,
	};
	struct alias_target *t;
	size_t n;
	char *err = NULL, *warn = NULL;
	struct aliases *a;

	if (aliases_parse_list((const char *)data, size, "/fuzz", &t, &n, &err) == 0)
		alias_targets_free(t, n);
	else if (err == NULL)
		abort();
	free(err);
	err = NULL;

	a = aliases_parse((const char *)data, size, "/etc/aliases", &err, &warn);
	if (a == NULL) {
		if (err == NULL || warn != NULL)
			abort();
		free(err);
		return 0;
	}
	free(warn);
	a->owner = size % 3 == 0 ? 0 : 1000;
	a->group = size % 2 == 0 ? 0 : 100;
	for (size_t i = 0; i < a->nentries; i++) {
		const struct alias_entry *e = &a->entries[i];
		if (i > 0 && strcmp(a->entries[i - 1].name, e->name) >= 0)
			abort();
		if (e->ntargets == 0 || aliases_lookup(a, e->name) != e)
			abort();
	}
	/* Expanding every entry would be quadratic in the input: take a few. */
	for (size_t i = 0; i < a->nentries && i < 8; i++) {
		char *upper = xstrdup(a->entries[i].name);
		for (char *c = upper; *c != '\0'; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - ('a' - 'A'));
		if (aliases_lookup(a, upper) != &a->entries[i])
			abort();
		expand_one(a, upper, &ops);
		free(upper);
	}
	expand_one(a, "root", &ops);
	expand_one(a, "postmaster", &ops);
	aliases_free(&a);
	return 0;
}
