/* libFuzzer target: uidlist_parse; what parses formats back to the same records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "store/mdfiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_invariants(const struct uidlist *u)
{
	if (u->uidvalidity == 0 || u->next_uid == 0 || (u->version != 1 && u->version != 3))
		abort();
	if (u->guid[0] != '\0' && strlen(u->guid) != 32)
		abort();
	for (size_t i = 0; i < u->n; i++) {
		const struct uidlist_rec *r = &u->recs[i];
		size_t n = strlen(r->name);

		if (r->uid == 0 || r->uid == UINT32_MAX || r->uid >= u->next_uid)
			abort();
		if (i > 0 && r->uid <= u->recs[i - 1].uid)
			abort();
		if (n == 0 || n > 255 || strpbrk(r->name, "/:\r\n") != NULL)
			abort();
		if (r->ext != NULL && (r->ext[0] < 'A' || r->ext[0] > 'Z'))
			abort();
		if (uidlist_find(u, r->uid) != r)
			abort();
		for (size_t j = 0; j < i && u->n < 300; j++)
			if (strcmp(u->recs[j].name, r->name) == 0)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidlist u, again;
	const char *err = NULL, *val;
	unsigned line = 0;
	size_t len, vlen;
	char *text;

	if (uidlist_parse((const char *)data, size, 10000, &u, &err, &line) < 0) {
		if (err == NULL || line == 0)
			abort();
		return 0;
	}
	check_invariants(&u);
	for (size_t i = 0; i < u.n; i++)
		if (uidlist_rec_ext(&u.recs[i], 'W', &val, &vlen) == 0 &&
		    (val < u.recs[i].ext || val + vlen > u.recs[i].ext + strlen(u.recs[i].ext)))
			abort();
	text = uidlist_format(&u, &len);
	if (len != strlen(text))
		abort();
	if (uidlist_parse(text, len, 10000, &again, &err, &line) < 0)
		abort();
	check_invariants(&again);
	if (again.version != 3 || again.truncated || again.uidvalidity != u.uidvalidity ||
	    again.next_uid != u.next_uid || strcmp(again.guid, u.guid) != 0 ||
	    (u.hdr_extra == NULL) != (again.hdr_extra == NULL) ||
	    (u.hdr_extra != NULL && strcmp(u.hdr_extra, again.hdr_extra) != 0) ||
	    again.n != u.n)
		abort();
	for (size_t i = 0; i < u.n; i++) {
		const struct uidlist_rec *a = &u.recs[i], *b = &again.recs[i];

		if (a->uid != b->uid || strcmp(a->name, b->name) != 0 ||
		    (a->ext == NULL) != (b->ext == NULL) ||
		    (a->ext != NULL && strcmp(a->ext, b->ext) != 0))
			abort();
	}
	/* Appending what was read rebuilds the same records. */
	{
		struct uidlist c = { .uidvalidity = u.uidvalidity, .next_uid = 1 };

		for (size_t i = 0; i < u.n; i++)
			if (uidlist_append(&c, u.recs[i].uid, u.recs[i].name, u.recs[i].ext) < 0)
				abort();
		if (c.n != u.n || (u.n > 0 && c.next_uid != u.recs[u.n - 1].uid + 1))
			abort();
		uidlist_free(&c);
	}
	free(text);
	uidlist_free(&again);
	uidlist_free(&u);
	return 0;
}
