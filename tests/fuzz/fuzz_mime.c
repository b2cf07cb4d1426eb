/* fuzz_mime: parse a message (default and tiny limits), build BODYSTRUCTURE,
 * BODY and ENVELOPE; the tree stays inside the message and in order, the
 * output is well-formed IMAP (balanced, strings and literals intact). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* One IMAP value: NIL, number, quoted string, literal or a list of them.
 * Returns the index after it, 0 when malformed. */
static size_t
imap_value(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	for (;;) {
		if (i >= n)
			return 0;
		if (s[i] == '(') {
			depth++;
			i++;
			continue;
		}
		if (n - i >= 3 && memcmp(s + i, "NIL", 3) == 0)
			i += 3;
		else if (s[i] >= '0' && s[i] <= '9') {
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
		} else if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0' ||
				    (unsigned char)s[i] >= 0x80)
					return 0;
				if (s[i] == '\\') {
					if (i + 1 >= n || (s[i + 1] != '"' && s[i + 1] != '\\'))
						return 0;
					i++;
				}
			}
			if (i >= n)
				return 0;
			i++;
		} else if (s[i] == '{') {
			size_t len = 0, st = ++i;

			while (i < n && s[i] >= '0' && s[i] <= '9' && i - st < 12)
				len = len * 10 + (size_t)(s[i++] - '0');
			if (i == st || n - i < 3 || memcmp(s + i, "}\r\n", 3) != 0 || n - i - 3 < len ||
			    memchr(s + i + 3, '\0', len) != NULL)
				return 0;
			i += 3 + len;
		} else
			return 0;
		for (;;) {
			if (depth == 0)
				return i;
			if (i < n && s[i] == ')') {
				depth--;
				i++;
				continue;
			}
			if (i < n && s[i] == ' ' && i + 1 < n && s[i + 1] != ')' && s[i + 1] != ' ') {
				i++;
				break;
			}
			if (i < n && s[i] == '(' && s[i - 1] == ')')
				break;
			return 0;
		}
	}
}

static void
check_imap(const struct mime_buf *b)
{
	CHECK(b->len > 0 && b->p[0] == '(');
	CHECK(imap_value(b->p, b->len, 0) == b->len);
	CHECK(b->p[b->len] == '\0');
}

static void
check_part_range(const struct mime_msg *m, const struct mime_part *p)
{
	CHECK(p->hdr_off <= m->len && p->hdr_len <= m->len - p->hdr_off);
	CHECK(p->hdr_off + p->hdr_len == p->body_off);
	CHECK(p->body_len <= m->len - p->body_off);
	CHECK(p->hdr_lines <= p->hdr_len && p->body_lines <= p->body_len);
	CHECK(p->hdr_vlen >= p->hdr_len && p->hdr_vlen <= p->hdr_len + p->hdr_lines);
	CHECK(p->body_vlen >= p->body_len && p->body_vlen <= p->body_len + p->body_lines);
	CHECK(p->type != NULL && p->subtype != NULL && p->type_raw != NULL &&
	    p->subtype_raw != NULL && p->encoding != NULL && p->encoding_raw != NULL);
}

static void
check_tree(const struct mime_msg *m, const struct mime_limits *lim)
{
	const struct mime_part **st;
	size_t n = 0, count = 0, cap = m->nparts + 1, i;

	CHECK(m->nparts <= 2 * lim->max_parts + 1);
	st = malloc(cap * sizeof(*st));
	CHECK(st != NULL);
	st[n++] = &m->root;
	while (n > 0) {
		const struct mime_part *p = st[--n];
		size_t pend = p->body_off + p->body_len, prev = p->body_off;

		count++;
		CHECK(count <= m->nparts);
		check_part_range(m, p);
		CHECK(p->depth <= lim->max_depth + 1);
		CHECK(!p->opaque || (p->hdr_len == 0 && p->nchildren == 0 && p->message == NULL));
		CHECK(p->message == NULL || p->nchildren == 0);
		for (i = 0; i < p->nchildren; i++) {
			const struct mime_part *c = &p->children[i];

			CHECK(c->hdr_off >= prev);
			CHECK(c->body_off + c->body_len <= pend);
			CHECK(c->depth == p->depth + 1);
			prev = c->body_off + c->body_len;
		}
		if (p->message != NULL) {
			CHECK(p->message->hdr_off == p->body_off);
			CHECK(p->message->body_off + p->message->body_len == pend);
			CHECK(p->message->depth == p->depth + 1);
		}
		if (n + p->nchildren + 1 > cap) {
			cap = (n + p->nchildren + 1) * 2;
			st = realloc(st, cap * sizeof(*st));
			CHECK(st != NULL);
		}
		for (i = 0; i < p->nchildren; i++)
			st[n++] = &p->children[i];
		if (p->message != NULL)
			st[n++] = p->message;
	}
	free(st);
	CHECK(count == m->nparts);
}

static void
one(const char *msg, size_t size, const struct mime_limits *lim)
{
	static const char *const sections[] = { "1", "2", "1.1", "1.2", "2.1", "2.2", "1.1.1",
		"2.1.2", "3.1.1.1", "1.2.3.4.5" };
	static const char *const names[] = { "subject", "From", "content-type" };
	struct mime_msg m;
	struct mime_buf b = { NULL, 0, 0 };
	size_t i;
	char *v;

	CHECK(mime_parse(msg, size, lim, &m) == 0);
	check_tree(&m, lim);
	mime_bodystructure(&m, &m.root, true, &b);
	check_imap(&b);
	b.len = 0;
	mime_bodystructure(&m, &m.root, false, &b);
	check_imap(&b);
	b.len = 0;
	mime_envelope(msg + m.root.hdr_off, m.root.hdr_len, &b);
	check_imap(&b);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct mime_part *p = mime_section(&m, sections[i]);

		if (p == NULL)
			continue;
		check_part_range(&m, p);
		b.len = 0;
		mime_bodystructure(&m, p, true, &b);
		check_imap(&b);
	}
	b.len = 0;
	mime_header_fields(msg + m.root.hdr_off, m.root.hdr_len, names, 3, i & 1, &b);
	CHECK(b.len >= 1 && b.p[b.len - 1] == '\n');
	CHECK(b.len <= 2 * m.root.hdr_len + 2);
	v = mime_header_get(msg + m.root.hdr_off, m.root.hdr_len, "subject");
	if (v != NULL)
		CHECK(strlen(v) <= 3 * m.root.hdr_len);
	free(v);
	mime_buf_free(&b);
	mime_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mime_limits dflt = {
		MIME_MAX_DEPTH_DEFAULT, MIME_MAX_PARTS_DEFAULT, MIME_MAX_HEADER_DEFAULT
	};
	static const struct mime_limits tiny = { 2, 6, 64 };
	/* an exact-size copy, so reads past the end are caught */
	char *msg = malloc(size ? size : 1);

	CHECK(msg != NULL);
	if (size > 0)
		memcpy(msg, data, size);
	one(msg, size, &dflt);
	one(msg, size, &tiny);
	free(msg);
	return 0;
}
