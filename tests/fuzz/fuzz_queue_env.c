/* libFuzzer target: qenv_parse, its round trip through qenv_serialize, and
 * qenv_parse_state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "queue/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The trailer of an empty body: length 0, CRC-32 0. */
#define EMPTY_TRAILER "end 0 00000000\n"

static void
same_str(const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		abort();
}

static void
same_env(const struct qenv *a, const struct qenv *b)
{
	if (strcmp(a->id, b->id) != 0 || a->arrival != b->arrival || a->smtputf8 != b->smtputf8 ||
	    a->submit_uid != b->submit_uid || a->nrcpts != b->nrcpts)
		abort();
	same_str(a->sender, b->sender);
	same_str(a->client, b->client);
	same_str(a->helo, b->helo);
	same_str(a->envid, b->envid);
	same_str(a->ret, b->ret);
	same_str(a->body_type, b->body_type);
	for (size_t i = 0; i < a->nrcpts; i++) {
		same_str(a->rcpts[i].addr, b->rcpts[i].addr);
		same_str(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		if (a->rcpts[i].notify != b->rcpts[i].notify)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qenv e, e2;
	const char *err = NULL;
	/* An exact-size copy, so that any overread is seen. */
	char *buf = xmalloc(size ? size : 1);

	if (size > 0)
		memcpy(buf, data, size);
	if (qenv_parse(buf, size, &e, &err) != 0) {
		if (err == NULL || e.sender != NULL || e.rcpts != NULL || e.nrcpts != 0)
			abort();
		free(buf);
		return 0;
	}
	if (err != NULL || e.sender == NULL || e.nrcpts == 0 || e.id[0] == '\0')
		abort();
	if (e.body_off < 0 || (uint64_t)e.body_off + e.body_len > size)
		abort();

	/* parse -> serialize -> parse gives the same fields. */
	size_t slen;
	char *s = qenv_serialize(&e, &slen);
	if (memchr(s, '\0', slen) != NULL)
		abort();
	for (size_t i = 0; i < slen; i++)
		if (s[i] != '\n' && (s[i] < 0x20 || s[i] >= 0x7f))
			abort();
	s = xrealloc(s, slen + sizeof(EMPTY_TRAILER));
	memcpy(s + slen, EMPTY_TRAILER, sizeof(EMPTY_TRAILER));
	if (qenv_parse(s, slen + strlen(EMPTY_TRAILER), &e2, &err) != 0) {
		fprintf(stderr, "reparse failed: %s\n%s", err, s);
		abort();
	}
	same_env(&e, &e2);
	if ((size_t)e2.body_off != slen || e2.body_len != 0)
		abort();
	/* Serialising again is byte-identical. */
	size_t slen2;
	char *s2 = qenv_serialize(&e2, &slen2);
	if (slen2 != slen || memcmp(s, s2, slen) != 0)
		abort();
	free(s2);
	free(s);
	qenv_free(&e2);

	/* The body (and the input as a whole) as a state file. */
	(void)qenv_parse_state(buf + e.body_off, e.body_len, &e);
	(void)qenv_parse_state(buf, size, &e);
	for (size_t i = 0; i < e.nrcpts; i++)
		if (e.rcpts[i].status != RCPT_PENDING && e.rcpts[i].status != RCPT_SENT &&
		    e.rcpts[i].status != RCPT_BOUNCED)
			abort();
	qenv_free(&e);
	free(buf);
	return 0;
}
