/* libFuzzer target: conf_parse, conf_defaults, conf_dump (and reparsing the
 * dump), cidr_parse/cidr_match, conf_parse_size/time, conf_is_local_domain. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PATH "fuzz.conf"

/* Index of "hostname" in params.def (its bit in set_mask). */
static int
hostname_bit(void)
{
	static const char *const names[] = {
#define P(n, t, f, d, peer, doc) n,
#include "conf/params.def"
#undef P
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], "hostname") == 0)
			return (int)i;
	abort();
}

static char *
dump(const struct conf *c, bool all)
{
	char *s = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&s, &n);

	if (fp == NULL)
		abort();
	conf_dump(c, fp, all);
	fclose(fp);
	return s;
}

static void
check_cidr(const struct cidr *cd)
{
	unsigned total = cd->family == AF_INET ? 4 : 16;

	if (cd->family != AF_INET && cd->family != AF_INET6)
		abort();
	if (cd->bits > total * 8)
		abort();
	/* Host bits are zero. */
	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;
		unsigned char mask = lo >= cd->bits ? 0xff :
		    lo + 8 > cd->bits ? (unsigned char)(0xff >> (cd->bits - lo)) : 0;
		if (i >= total && cd->addr[i] != 0)
			abort();
		if (i < total && (cd->addr[i] & mask) != 0)
			abort();
	}
	/* The network address itself matches. */
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (cd->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, cd->addr, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, cd->addr, 16);
	}
	if (!cidr_match(cd, 1, (const struct sockaddr *)&ss))
		abort();
}

static void
check_valid(const struct conf *c)
{
	for (size_t i = 0; i < c->ndomains; i++) {
		const char *d = c->domains[i];
		size_t l = strlen(d);
		if (l == 0 || d[l - 1] == '.')
			abort();
		for (const char *p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
		if (!conf_is_local_domain(c, d))
			abort();
		char *up = xasprintf("%s.", d);
		for (char *p = up; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		if (!conf_is_local_domain(c, up))
			abort();
		free(up);
	}
	for (size_t i = 0; i < c->nnetworks; i++)
		check_cidr(&c->networks[i]);
	for (size_t i = 0; i < c->nusers; i++)
		if (c->users[i].kind != USERS_SYSTEM &&
		    (c->users[i].path == NULL || c->users[i].path[0] != '/'))
			abort();
	if (c->mailbox_path != NULL && c->mailbox_path[0] != '/' &&
	    !(c->mailbox_path[0] == '~' && c->mailbox_path[1] == '/'))
		abort();
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct listener_conf *l = &c->listeners[i];
		unsigned char tmp[16];
		if (inet_pton(AF_INET, l->host, tmp) != 1 && inet_pton(AF_INET6, l->host, tmp) != 1)
			abort();
		long port = strtol(l->port, NULL, 10);
		if (port < 1 || port > 65535)
			abort();
	}
}

/* Values that the dump cannot carry through a reparse: a line longer than the
 * parser accepts, or a value that would read as a comment. */
static bool
dump_reparsable(const char *s)
{
	const char *line = s;

	for (const char *p = s;; p++) {
		if (*p != '\n' && *p != '\0')
			continue;
		if ((size_t)(p - line) > 4096)
			return false;
		const char *eq = strstr(line, " = ");
		if (eq != NULL && eq < p && eq[3] == '#')
			return false;
		if (*p == '\0')
			return true;
		line = p + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	char *err = NULL;

	memset(&c, 0, sizeof(c));
	int rc = conf_parse((const char *)data, size, FUZZ_PATH, &c, &err);
	if (rc != 0) {
		if (rc != -1 || err == NULL || strncmp(err, FUZZ_PATH ":", strlen(FUZZ_PATH ":")) != 0)
			abort();
		/* "fuzz.conf:LINE: problem" with a line number inside the input. */
		char *end;
		unsigned long line = strtoul(err + strlen(FUZZ_PATH ":"), &end, 10);
		size_t lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (line < 1 || line > lines || strncmp(end, ": ", 2) != 0)
			abort();
		free(err);
		conf_free(&c);
	} else {
		if (err != NULL)
			abort();
		check_valid(&c);
		/* Keep conf_defaults off the resolver. */
		if (c.hostname == NULL || c.hostname[0] == '\0') {
			free(c.hostname);
			c.hostname = xstrdup("fuzz.example");
			c.set_mask |= 1ULL << hostname_bit();
		}
		conf_defaults(&c);
		check_valid(&c);
		char *d1 = dump(&c, true);
		char *dn = dump(&c, false);
		free(dn);
		if (dump_reparsable(d1)) {
			struct conf c2;
			memset(&c2, 0, sizeof(c2));
			if (conf_parse(d1, strlen(d1), "dump", &c2, &err) != 0) {
				fprintf(stderr, "dump does not reparse: %s\n%s", err, d1);
				abort();
			}
			conf_defaults(&c2);
			char *d2 = dump(&c2, true);
			if (strcmp(d1, d2) != 0) {
				fprintf(stderr, "dump changed:\n%s---\n%s", d1, d2);
				abort();
			}
			free(d2);
			conf_free(&c2);
		}
		free(d1);
		conf_free(&c);
	}

	/* The input as one value. */
	if (size < 200) {
		char *s = xstrndup((const char *)data, size);
		struct cidr cd;
		long long v;
		if (cidr_parse(s, &cd) == 0)
			check_cidr(&cd);
		if (conf_parse_size(s, &v) == 0 && v < 0)
			abort();
		if (conf_parse_time(s, &v) == 0 && v < 0)
			abort();
		free(s);
	}
	/* cidr_match with an address and a network from the input bytes. */
	if (size >= 34) {
		struct cidr cd;
		struct sockaddr_in6 s6;
		memset(&cd, 0, sizeof(cd));
		memset(&s6, 0, sizeof(s6));
		cd.family = data[0] & 1 ? AF_INET6 : AF_INET;
		cd.bits = data[1] % (cd.family == AF_INET ? 33 : 129);
		memcpy(cd.addr, data + 2, 16);
		s6.sin6_family = AF_INET6;
		memcpy(&s6.sin6_addr, data + 18, 16);
		(void)cidr_match(&cd, 1, (const struct sockaddr *)&s6);
		struct sockaddr_in s4 = { .sin_family = AF_INET };
		memcpy(&s4.sin_addr, data + 18, 4);
		(void)cidr_match(&cd, 1, (const struct sockaddr *)&s4);
	}
	return 0;
}
