/*
 * fuzz_imap_parser: frame a byte stream, then parse each framed command.
 * Framing must give the same events however the input is chunked, commands
 * must be contiguous, and the parser gets each command in an exact-size
 * buffer (ASan: it never reads past it). A parsed tree written back as IMAP
 * text parses to the same tree.
 *
 * Input: byte 0 picks the limits, byte 1 seeds the chunk sizes, the rest
 * is the stream.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fev {
	enum imap_frame_ev ev;
	size_t end, cmd_len;
	uint64_t lsize;
	bool nonsync;
};

struct trace {
	struct fev *e;
	size_t n;
	struct imap_framer f;
};

/* how: 0 all at once, 1 byte by byte, else chunk sizes from seed. */
static void
frame(const char *in, size_t len, const struct imap_frame_limits *lim, int how,
    unsigned seed, struct trace *t)
{
	size_t off = 0, n, used, clen, boundary = 0;
	uint64_t ls;
	bool ns;
	enum imap_frame_ev ev;

	memset(&t->f, 0, sizeof(t->f));
	t->n = 0;
	while (off < len) {
		if (how == 0)
			n = len - off;
		else if (how == 1)
			n = 1;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 23;
			if (n > len - off)
				n = len - off;
		}
		ev = imap_frame(&t->f, lim, in + off, n, &used, &clen, &ls, &ns);
		if (used == 0 || used > n)
			abort();
		off += used;
		switch (ev) {
		case IMAP_FRAME_MORE:
			if (used != n || t->f.skipping)
				abort();
			continue;
		case IMAP_FRAME_DROPPED:
			if (t->f.skipping) {
				if (used != n)
					abort();
				continue;
			}
			if (in[off - 1] != '\n')
				abort();
			boundary = off;
			break;
		case IMAP_FRAME_COMMAND:
			if (in[off - 1] != '\n' || off - clen != boundary || clen > lim->max_command)
				abort();
			boundary = off;
			break;
		case IMAP_FRAME_CONTINUE:
			if (in[off - 1] != '\n' || ns || off - clen != boundary ||
			    ls > lim->max_literal)
				abort();
			break;
		case IMAP_FRAME_LITERAL_TOO_BIG:
			if (in[off - 1] != '\n')
				abort();
			boundary = off;
			break;
		case IMAP_FRAME_TOO_LONG:
			if (!t->f.skipping) {
				if (in[off - 1] != '\n')
					abort();
				boundary = off;
			}
			break;
		default:
			abort();
		}
		t->e[t->n].ev = ev;
		t->e[t->n].end = off;
		t->e[t->n].cmd_len = ev == IMAP_FRAME_COMMAND || ev == IMAP_FRAME_CONTINUE ? clen : 0;
		t->e[t->n].lsize = ev == IMAP_FRAME_CONTINUE || ev == IMAP_FRAME_LITERAL_TOO_BIG ?
		    ls : 0;
		t->e[t->n].nonsync = ns;
		t->n++;
	}
}

static void
same(const struct trace *a, const struct trace *b)
{
	if (a->n != b->n || a->f.cmd_len != b->f.cmd_len || a->f.line_len != b->f.line_len ||
	    a->f.literal_left != b->f.literal_left || a->f.nliterals != b->f.nliterals ||
	    a->f.in_literal != b->f.in_literal || a->f.skipping != b->f.skipping ||
	    a->f.lit_size != b->f.lit_size || a->f.lit_state != b->f.lit_state ||
	    a->f.lit_plus != b->f.lit_plus || a->f.in_quote != b->f.in_quote ||
	    a->f.quote_esc != b->f.quote_esc)
		abort();
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].ev != b->e[i].ev || a->e[i].end != b->e[i].end ||
		    a->e[i].cmd_len != b->e[i].cmd_len || a->e[i].lsize != b->e[i].lsize ||
		    a->e[i].nonsync != b->e[i].nonsync)
			abort();
}

/* ---- the parse tree ---- */

static bool
tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

static void
check_args(const struct imap_arg *a, size_t n, size_t depth, size_t *count,
    const struct imap_parse_limits *lim)
{
	for (size_t i = 0; i < n; i++) {
		++*count;
		if (a[i].type == IMAP_ARG_LIST) {
			if (a[i].str != NULL || (a[i].list == NULL) != (a[i].nlist == 0) ||
			    depth + 1 > lim->max_depth)
				abort();
			check_args(a[i].list, a[i].nlist, depth + 1, count, lim);
			continue;
		}
		if (a[i].str == NULL || a[i].str[a[i].len] != '\0' || a[i].list != NULL)
			abort();
		if (a[i].literal && a[i].literal8)
			abort();
		if (a[i].type != IMAP_ARG_STRING && (a[i].literal || a[i].literal8))
			abort();
		if (!a[i].literal8 && memchr(a[i].str, '\0', a[i].len) != NULL)
			abort();
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_SECTION:
			if (a[i].len == 0)
				abort();
			if ((a[i].type == IMAP_ARG_SECTION) != (strchr(a[i].str, '[') != NULL &&
			    a[i].str[0] != '\\'))
				abort();
			for (size_t k = 0; k < a[i].len; k++) {
				unsigned char c = (unsigned char)a[i].str[k];

				if (c < 0x20 || c > 0x7e || (a[i].type == IMAP_ARG_ATOM && c == ' '))
					abort();
			}
			break;
		case IMAP_ARG_NIL:
			if (a[i].len != 3 || strcasecmp(a[i].str, "NIL") != 0)
				abort();
			break;
		case IMAP_ARG_STRING:
			break;
		default:
			abort();
		}
	}
}

struct buf {
	char *p;
	size_t n, cap;
};

static void
put(struct buf *b, const void *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

/* The tree as IMAP text again. */
static void
write_args(const struct imap_arg *a, size_t n, struct buf *b)
{
	char hdr[40];
	size_t q;

	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put(b, " ", 1);
		switch (a[i].type) {
		case IMAP_ARG_LIST:
			put(b, "(", 1);
			write_args(a[i].list, a[i].nlist, b);
			put(b, ")", 1);
			break;
		case IMAP_ARG_STRING:
			if (a[i].literal8) {
				q = (size_t)snprintf(hdr, sizeof(hdr), "~{%zu}\r\n", a[i].len);
				put(b, hdr, q);
				put(b, a[i].str, a[i].len);
				break;
			}
			q = imap_quote(a[i].str, a[i].len, NULL, 0);
			if (b->n + q + 1 > b->cap) {
				b->cap = b->n + q + 1 + 64;
				if ((b->p = realloc(b->p, b->cap)) == NULL)
					abort();
			}
			if (imap_quote(a[i].str, a[i].len, b->p + b->n, b->cap - b->n) != q)
				abort();
			b->n += q;
			break;
		default:
			put(b, a[i].str, a[i].len);
			break;
		}
	}
}

static void
same_args(const struct imap_arg *a, size_t na, const struct imap_arg *b, size_t nb)
{
	if (na != nb)
		abort();
	for (size_t i = 0; i < na; i++) {
		if (a[i].type != b[i].type || a[i].literal8 != b[i].literal8)
			abort();
		if (a[i].type == IMAP_ARG_LIST)
			same_args(a[i].list, a[i].nlist, b[i].list, b[i].nlist);
		else if (a[i].len != b[i].len || memcmp(a[i].str, b[i].str, a[i].len) != 0)
			abort();
	}
}

static void
parse_one(const char *cmd, size_t len, const struct imap_parse_limits *lim)
{
	struct imap_cmd c, c2;
	struct buf b = { NULL, 0, 0 };
	const char *err = NULL;
	char *copy, tag[IMAP_TAG_MAX + 1];
	size_t count = 0;

	/* Exact size: any read past the command is an ASan error. */
	if ((copy = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(copy, cmd, len);
	if (imap_parse_tag(copy, len, tag) == 0 && (tag[0] == '\0' || strlen(tag) > IMAP_TAG_MAX))
		abort();
	if (imap_parse(copy, len, lim, &c, &err) != 0) {
		if (err == NULL || c.args != NULL || c.nargs != 0 || c.arena != NULL)
			abort();
		if (strcmp(c.tag, "*") != 0)
			for (const char *p = c.tag; *p; p++)
				if (!tag_char((unsigned char)*p))
					abort();
		free(copy);
		return;
	}
	if (len == 0 || copy[len - 1] != '\n' || c.tag[0] == '\0' || c.name[0] == '\0')
		abort();
	for (const char *p = c.name; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			abort();
	if (imap_parse_tag(copy, len, tag) != 0 || strcmp(tag, c.tag) != 0)
		abort();
	check_args(c.args, c.nargs, 0, &count, lim);
	if (count > lim->max_args)
		abort();
	for (size_t i = 0; i < c.nargs; i++)
		(void)imap_arg_astring(&c.args[i]);

	/* Written back and parsed again: the same tree. */
	put(&b, c.tag, strlen(c.tag));
	put(&b, " ", 1);
	put(&b, c.name, strlen(c.name));
	if (c.nargs > 0) {
		put(&b, " ", 1);
		write_args(c.args, c.nargs, &b);
	}
	put(&b, "\r\n", 2);
	if (imap_parse(b.p, b.n, lim, &c2, &err) != 0) {
		fprintf(stderr, "reparse failed: %s: %.*s\n", err, (int)b.n, b.p);
		abort();
	}
	if (strcmp(c.tag, c2.tag) != 0 || strcmp(c.name, c2.name) != 0)
		abort();
	same_args(c.args, c.nargs, c2.args, c2.nargs);
	imap_cmd_free(&c2);
	imap_cmd_free(&c);
	free(b.p);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_frame_limits lim;
	struct imap_parse_limits plim;
	struct trace whole, bytes, chunks;
	const char *in;
	size_t i, len;
	unsigned seed;
	uint8_t b0;

	if (size < 2)
		return 0;
	b0 = data[0];
	seed = data[1];
	in = (const char *)data + 2;
	len = size - 2;
	lim.max_line = (b0 & 3) == 0 ? 16 : (b0 & 3) == 1 ? 64 : 1000;
	lim.max_literal = (b0 >> 2 & 1) ? 20 : 4096;
	lim.max_nonsync = (b0 >> 3 & 1) ? 10 : lim.max_literal;
	lim.max_command = (b0 >> 4 & 1) ? 100 : 100000;
	lim.max_literals = (b0 >> 5 & 1) ? 2 : 10;
	plim.max_depth = (b0 >> 6 & 1) ? 3 : 20;
	plim.max_args = (b0 >> 7 & 1) ? 10 : 1000;

	whole.e = malloc((len + 1) * sizeof(*whole.e));
	bytes.e = malloc((len + 1) * sizeof(*bytes.e));
	chunks.e = malloc((len + 1) * sizeof(*chunks.e));
	if (whole.e == NULL || bytes.e == NULL || chunks.e == NULL)
		abort();
	frame(in, len, &lim, 0, 0, &whole);
	frame(in, len, &lim, 1, 0, &bytes);
	frame(in, len, &lim, 2, seed, &chunks);
	same(&whole, &bytes);
	same(&whole, &chunks);

	for (i = 0; i < whole.n; i++)
		if (whole.e[i].ev == IMAP_FRAME_COMMAND)
			parse_one(in + whole.e[i].end - whole.e[i].cmd_len, whole.e[i].cmd_len,
			    &plim);
	/* The raw input as one command too: errors, never overreads. */
	parse_one(in, len, &plim);

	free(whole.e);
	free(bytes.e);
	free(chunks.e);
	return 0;
}
