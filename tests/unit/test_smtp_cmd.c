/* test_smtp_cmd: SMTP command line parsing. */
#include "tu.h"

#include "smtp/smtp_cmd.h"

#define E_UNK   "500 5.5.1 Command unrecognized"
#define E_CHARS "500 5.5.2 Invalid characters in command"
#define E_FROM  "501 5.1.7 Bad sender address syntax"
#define E_TO    "501 5.1.3 Bad recipient address syntax"
#define E_PARAM "501 5.5.4 Syntax error in parameters"
#define E_MANY  "555 5.5.4 Too many parameters"
#define E_DUP   "555 5.5.4 Duplicate parameter"
#define E_MAIL  "501 5.5.4 Syntax: MAIL FROM:<address>"
#define E_RCPT  "501 5.5.4 Syntax: RCPT TO:<address>"
#define E_BDAT  "501 5.5.4 Syntax: BDAT chunk-size [LAST]"

struct cmdcase {
	const char *line;
	unsigned flags;
	const char *err;	/* NULL: must parse */
	enum smtp_verb verb;
	const char *arg;	/* expected arg; NULL: arg must be NULL */
	const char *addr;	/* addr_format of the path ("" null path) */
	const char *params;	/* "KEY=VAL KEY" as parsed */
};

static const struct cmdcase cases[] = {
	/* Verbs, case-insensitive, with and without arguments. */
	{ "HELO example.com", 0, NULL, SMTP_V_HELO, "example.com", NULL, NULL },
	{ "helo  example.com  ", 0, NULL, SMTP_V_HELO, "example.com", NULL, NULL },
	{ "EHLO [127.0.0.1]", 0, NULL, SMTP_V_EHLO, "[127.0.0.1]", NULL, NULL },
	{ "eHlO x y", 0, NULL, SMTP_V_EHLO, "x y", NULL, NULL },
	{ "EHLO", 0, "501 5.5.4 Syntax: EHLO hostname", 0, NULL, NULL, NULL },
	{ "EHLO   ", 0, "501 5.5.4 Syntax: EHLO hostname", 0, NULL, NULL, NULL },
	{ "HELO", 0, "501 5.5.4 Syntax: HELO hostname", 0, NULL, NULL, NULL },
	{ "DATA", 0, NULL, SMTP_V_DATA, "", NULL, NULL },
	{ "data  ", 0, NULL, SMTP_V_DATA, "", NULL, NULL },
	{ "DATA x", 0, "501 5.5.4 Syntax: DATA", 0, NULL, NULL, NULL },
	{ "RSET", 0, NULL, SMTP_V_RSET, "", NULL, NULL },
	{ "RSET now", 0, "501 5.5.4 Syntax: RSET", 0, NULL, NULL, NULL },
	{ "QUIT", 0, NULL, SMTP_V_QUIT, "", NULL, NULL },
	{ "quit please", 0, "501 5.5.4 Syntax: QUIT", 0, NULL, NULL, NULL },
	{ "STARTTLS", 0, NULL, SMTP_V_STARTTLS, "", NULL, NULL },
	{ "StartTLS x", 0, "501 5.5.4 Syntax: STARTTLS", 0, NULL, NULL, NULL },
	{ "NOOP", 0, NULL, SMTP_V_NOOP, "", NULL, NULL },
	{ "NOOP hello there ", 0, NULL, SMTP_V_NOOP, "hello there", NULL, NULL },
	{ "HELP", 0, NULL, SMTP_V_HELP, "", NULL, NULL },
	{ "help mail", 0, NULL, SMTP_V_HELP, "mail", NULL, NULL },
	{ "VRFY", 0, NULL, SMTP_V_VRFY, "", NULL, NULL },
	{ "VRFY root", 0, NULL, SMTP_V_VRFY, "root", NULL, NULL },
	{ "EXPN list", 0, NULL, SMTP_V_EXPN, "list", NULL, NULL },
	{ "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", 0, NULL, SMTP_V_AUTH, "PLAIN dGVzdAB0ZXN0AHRlc3Q=",
	  NULL, NULL },
	{ "AUTH", 0, "501 5.5.4 Syntax: AUTH mechanism [initial-response]", 0, NULL, NULL, NULL },
	/* Unknown verbs. */
	{ "", 0, E_UNK, 0, NULL, NULL, NULL },
	{ "   ", 0, E_UNK, 0, NULL, NULL, NULL },
	{ " HELO x", 0, E_UNK, 0, NULL, NULL, NULL },
	{ "HELOX x", 0, E_UNK, 0, NULL, NULL, NULL },
	{ "HEL", 0, E_UNK, 0, NULL, NULL, NULL },
	{ "MAILFROM:<a@b>", 0, E_UNK, 0, NULL, NULL, NULL },
	{ "GET / HTTP/1.1", 0, E_UNK, 0, NULL, NULL, NULL },
	{ "UNKNOWN", 0, E_UNK, 0, NULL, NULL, NULL },
	/* Control bytes anywhere. */
	{ "HELO a\tb", 0, E_CHARS, 0, NULL, NULL, NULL },
	{ "HELO a\rb", 0, E_CHARS, 0, NULL, NULL, NULL },
	{ "NOOP \x1b[2J", 0, E_CHARS, 0, NULL, NULL, NULL },
	{ "NOOP \x7f", 0, E_CHARS, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b>\n", 0, E_CHARS, 0, NULL, NULL, NULL },
	/* MAIL FROM. */
	{ "MAIL FROM:<a@b>", 0, NULL, SMTP_V_MAIL, NULL, "a@b", "" },
	{ "mail from:<A@B>", 0, NULL, SMTP_V_MAIL, NULL, "A@b", "" },
	{ "MAIL FROM: <a@b>", 0, NULL, SMTP_V_MAIL, NULL, "a@b", "" },
	{ "MAIL FROM:<>", 0, NULL, SMTP_V_MAIL, NULL, "", "" },
	{ "MAIL FROM:<> ", 0, NULL, SMTP_V_MAIL, NULL, "", "" },
	{ "MAIL  FROM:<a@b>", 0, NULL, SMTP_V_MAIL, NULL, "a@b", "" },
	{ "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME", 0, NULL, SMTP_V_MAIL, NULL, "a@b",
	  "SIZE=100 BODY=8BITMIME" },
	{ "MAIL FROM:<a@b>   size=100    body=8bitmime  ", 0, NULL, SMTP_V_MAIL, NULL, "a@b",
	  "SIZE=100 BODY=8bitmime" },
	{ "MAIL FROM:<a@b> SMTPUTF8", 0, NULL, SMTP_V_MAIL, NULL, "a@b", "SMTPUTF8" },
	{ "MAIL FROM:<@r1,@r2:a@b> AUTH=<>", 0, NULL, SMTP_V_MAIL, NULL, "a@b", "AUTH=<>" },
	{ "MAIL FROM:<\"a b\"@c> ENVID=x+2By", 0, NULL, SMTP_V_MAIL, NULL, "\"a b\"@c",
	  "ENVID=x+2By" },
	{ "MAIL FROM:<\"a> b\"@c> X-Y=1", 0, NULL, SMTP_V_MAIL, NULL, "\"a> b\"@c", "X-Y=1" },
	{ "MAIL FROM:<user%ext@local>", 0, NULL, SMTP_V_MAIL, NULL, "user%ext@local", "" },
	{ "MAIL FROM:<j\xc3\xbc@d> SMTPUTF8", 0, NULL, SMTP_V_MAIL, NULL, "j\xc3\xbc@d",
	  "SMTPUTF8" },
	{ "MAIL FROM:<j\xc3\xbc@d> smtputf8", 0, NULL, SMTP_V_MAIL, NULL, "j\xc3\xbc@d",
	  "SMTPUTF8" },
	{ "MAIL FROM:<j\xc3\xbc@d>", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<j\xc3\xbc@d>", ADDR_F_UTF8, NULL, SMTP_V_MAIL, NULL, "j\xc3\xbc@d", "" },
	{ "MAIL FROM:<postmaster>", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<postmaster>", ADDR_F_ALLOW_POSTMASTER, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:a@b", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:a@b", ADDR_F_NO_BRACKETS, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b>x", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b>>", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a b@c>", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b@c>", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@-b>", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:  <a@b>", 0, E_FROM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:", 0, E_MAIL, 0, NULL, NULL, NULL },
	{ "MAIL FROM: ", 0, E_MAIL, 0, NULL, NULL, NULL },
	{ "MAIL", 0, E_MAIL, 0, NULL, NULL, NULL },
	{ "MAIL TO:<a@b>", 0, E_MAIL, 0, NULL, NULL, NULL },
	{ "MAIL FROM <a@b>", 0, E_MAIL, 0, NULL, NULL, NULL },
	{ "MAIL FROM :<a@b>", 0, E_MAIL, 0, NULL, NULL, NULL },
	{ "MAIL FRO", 0, E_MAIL, 0, NULL, NULL, NULL },
	/* Parameters. */
	{ "MAIL FROM:<a@b> =1", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> SIZE=", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> SIZE==1", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> SIZE=1=2", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> -X=1", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> X_Y=1", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> X.Y", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> X=\xc3\xbc", 0, E_PARAM, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> X-=1", 0, NULL, SMTP_V_MAIL, NULL, "a@b", "X-=1" },
	{ "MAIL FROM:<a@b> 8BIT", 0, NULL, SMTP_V_MAIL, NULL, "a@b", "8BIT" },
	{ "MAIL FROM:<a@b> SIZE=1 size=2", 0, E_DUP, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> BODY BODY", 0, E_DUP, 0, NULL, NULL, NULL },
	{ "MAIL FROM:<a@b> A B C D E F G H I J K L M N O P", 0, NULL, SMTP_V_MAIL, NULL,
	  "a@b", "A B C D E F G H I J K L M N O P" },
	{ "MAIL FROM:<a@b> A B C D E F G H I J K L M N O P Q", 0, E_MANY, 0, NULL, NULL, NULL },
	/* RCPT TO. */
	{ "RCPT TO:<a@b>", 0, NULL, SMTP_V_RCPT, NULL, "a@b", "" },
	{ "rcpt to: <a@B.>", 0, NULL, SMTP_V_RCPT, NULL, "a@b", "" },
	{ "RCPT TO:<postmaster>", 0, NULL, SMTP_V_RCPT, NULL, "postmaster", "" },
	{ "RCPT TO:<Postmaster>", 0, NULL, SMTP_V_RCPT, NULL, "Postmaster", "" },
	{ "RCPT TO:<>", 0, E_TO, 0, NULL, NULL, NULL },
	{ "RCPT TO:<>", ADDR_F_ALLOW_NULL, E_TO, 0, NULL, NULL, NULL },
	{ "RCPT TO:<\"user@ext\"@local>", 0, NULL, SMTP_V_RCPT, NULL, "\"user@ext\"@local",
	  "" },
	{ "RCPT TO:<@local:user@ext>", 0, NULL, SMTP_V_RCPT, NULL, "user@ext", "" },
	{ "RCPT TO:<user@ext@local>", 0, E_TO, 0, NULL, NULL, NULL },
	{ "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b", 0, NULL, SMTP_V_RCPT,
	  NULL, "a@b", "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b" },
	{ "RCPT TO:<j\xc3\xbc@d> SMTPUTF8", 0, E_TO, 0, NULL, NULL, NULL },
	{ "RCPT TO:<j\xc3\xbc@d>", ADDR_F_UTF8, NULL, SMTP_V_RCPT, NULL, "j\xc3\xbc@d", "" },
	{ "RCPT TO:a@b", 0, E_TO, 0, NULL, NULL, NULL },
	{ "RCPT FROM:<a@b>", 0, E_RCPT, 0, NULL, NULL, NULL },
	{ "RCPT TO", 0, E_RCPT, 0, NULL, NULL, NULL },
	{ "RCPT", 0, E_RCPT, 0, NULL, NULL, NULL },
	{ "RCPT TO:<a@b> X=1 X=2", 0, E_DUP, 0, NULL, NULL, NULL },
	/* BDAT. */
	{ "BDAT 0", 0, NULL, SMTP_V_BDAT, "0", NULL, NULL },
	{ "BDAT 1000 LAST", 0, NULL, SMTP_V_BDAT, "1000 LAST", NULL, NULL },
	{ "bdat 12 last ", 0, NULL, SMTP_V_BDAT, "12 last", NULL, NULL },
	{ "BDAT 12   LAST", 0, NULL, SMTP_V_BDAT, "12   LAST", NULL, NULL },
	{ "BDAT 18446744073709551615", 0, NULL, SMTP_V_BDAT, "18446744073709551615", NULL,
	  NULL },
	{ "BDAT 00000000000000000001", 0, NULL, SMTP_V_BDAT, "00000000000000000001", NULL,
	  NULL },
	{ "BDAT 18446744073709551616", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 99999999999999999999", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 000000000000000000001", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT -1", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT +1", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 1x", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 0x10", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 10 LAS", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 10 LASTX", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 10 LAST X", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 10LAST", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT LAST", 0, E_BDAT, 0, NULL, NULL, NULL },
	{ "BDAT 1 2", 0, E_BDAT, 0, NULL, NULL, NULL },
};

static void
params_str(const struct smtp_cmd *cmd, char *buf, size_t bufsz)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < cmd->nparams; i++) {
		if (i > 0)
			strlcat(buf, " ", bufsz);
		strlcat(buf, cmd->params[i].key, bufsz);
		if (cmd->params[i].value != NULL) {
			strlcat(buf, "=", bufsz);
			strlcat(buf, cmd->params[i].value, bufsz);
		}
	}
}

static void
test_table(void **state)
{
	struct smtp_cmd cmd;
	const char *err;
	char line[512], buf[512];
	size_t i, n;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cmdcase *c = &cases[i];

		n = strlen(c->line);
		assert_true(n < sizeof(line));
		memcpy(line, c->line, n + 1);
		err = NULL;
		r = smtp_cmd_parse(line, n, c->flags, &cmd, &err);
		if (c->err != NULL) {
			if (r != -1 || err == NULL || strcmp(err, c->err) != 0)
				fail_msg("case %zu \"%s\": r=%d err \"%s\", want \"%s\"", i,
				    c->line, r, err ? err : "(null)", c->err);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu \"%s\": rejected \"%s\"", i, c->line,
			    err ? err : "(null)");
		if (cmd.verb != c->verb)
			fail_msg("case %zu \"%s\": verb %d", i, c->line, cmd.verb);
		if (c->arg == NULL ? cmd.arg != NULL :
		    (cmd.arg == NULL || strcmp(cmd.arg, c->arg) != 0))
			fail_msg("case %zu \"%s\": arg \"%s\"", i, c->line,
			    cmd.arg ? cmd.arg : "(null)");
		if (c->addr != NULL) {
			assert_true(addr_format(&cmd.addr, buf, sizeof(buf)) >= 0);
			if (strcmp(buf, c->addr) != 0)
				fail_msg("case %zu \"%s\": addr \"%s\"", i, c->line, buf);
			assert_int_equal(cmd.addr.null, c->addr[0] == '\0');
		}
		if (c->params != NULL) {
			params_str(&cmd, buf, sizeof(buf));
			if (strcmp(buf, c->params) != 0)
				fail_msg("case %zu \"%s\": params \"%s\"", i, c->line, buf);
		} else
			assert_int_equal(cmd.nparams, 0);
	}
}

static void
test_bdat_values(void **state)
{
	static const struct {
		const char *line;
		uint64_t size;
		int last;
	} t[] = {
		{ "BDAT 0", 0, 0 },
		{ "BDAT 0 LAST", 0, 1 },
		{ "BDAT 1000 last", 1000, 1 },
		{ "BDAT 18446744073709551615", UINT64_MAX, 0 },
		{ "BDAT 18446744073709551614 LAST", UINT64_MAX - 1, 1 },
		{ "BDAT 00000000000000000042", 42, 0 },
	};
	struct smtp_cmd cmd;
	char line[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		strlcpy(line, t[i].line, sizeof(line));
		assert_int_equal(smtp_cmd_parse(line, strlen(line), 0, &cmd, NULL), 0);
		assert_int_equal(cmd.verb, SMTP_V_BDAT);
		assert_true(cmd.bdat_size == t[i].size);
		assert_int_equal(cmd.bdat_last, t[i].last);
	}
}

/* NUL inside the line is caught, not treated as the end of the line. */
static void
test_nul(void **state)
{
	struct smtp_cmd cmd;
	const char *err = NULL;
	char line[] = "MAIL FROM:<a@b>\0 SIZE=1";

	(void)state;
	assert_int_equal(smtp_cmd_parse(line, sizeof(line) - 1, 0, &cmd, &err), -1);
	assert_string_equal(err, E_CHARS);
	char l2[] = "RCPT TO:<a\0b@c>";
	assert_int_equal(smtp_cmd_parse(l2, sizeof(l2) - 1, 0, &cmd, &err), -1);
	assert_string_equal(err, E_CHARS);
	char l3[] = "\0";
	assert_int_equal(smtp_cmd_parse(l3, 1, 0, &cmd, &err), -1);
	assert_string_equal(err, E_CHARS);
}

static void
test_param_lookup(void **state)
{
	struct smtp_cmd cmd;
	char line[] = "MAIL FROM:<a@b> size=10 Body=8BITMIME smtputf8 RET=HDRS";
	const struct smtp_param *p;

	(void)state;
	assert_int_equal(smtp_cmd_parse(line, strlen(line), 0, &cmd, NULL), 0);
	assert_int_equal(cmd.nparams, 4);
	p = smtp_cmd_param(&cmd, "SIZE");
	assert_non_null(p);
	assert_string_equal(p->key, "SIZE");
	assert_string_equal(p->value, "10");
	p = smtp_cmd_param(&cmd, "BODY");
	assert_non_null(p);
	assert_string_equal(p->value, "8BITMIME");
	p = smtp_cmd_param(&cmd, "SMTPUTF8");
	assert_non_null(p);
	assert_null(p->value);
	assert_non_null(smtp_cmd_param(&cmd, "RET"));
	assert_null(smtp_cmd_param(&cmd, "ENVID"));
	assert_null(smtp_cmd_param(&cmd, "SIZ"));
	/* Pointers are into the line. */
	assert_true(p->key >= line && p->key < line + sizeof(line));
}

/* Many random-ish lines: no crash, no reads beyond len (ASan build). */
static void
test_prefixes(void **state)
{
	struct smtp_cmd cmd;
	const char *err;
	size_t i, k, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].line);
		for (k = 0; k <= n; k++) {
			char *p = malloc(k + 1);

			assert_non_null(p);
			memcpy(p, cases[i].line, k);
			p[k] = '\0';
			err = NULL;
			if (smtp_cmd_parse(p, k, cases[i].flags, &cmd, &err) != 0)
				assert_non_null(err);
			free(p);
		}
	}
}

static void
test_xtext(void **state)
{
	static const struct {
		const char *in;
		const char *out;	/* NULL: malformed */
	} t[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "a+2Bb", "a+b" },
		{ "+3D", "=" },
		{ "rfc822;user+40example.com", "rfc822;user@example.com" },
		{ "+20", " " },
		{ "+7E", "~" },
		{ "+41+42+43", "ABC" },
		{ "+2b", NULL },		/* lower-case hex */
		{ "+2", NULL },
		{ "+", NULL },
		{ "a+", NULL },
		{ "+G0", NULL },
		{ "+0D", NULL },		/* CR */
		{ "+0A", NULL },		/* LF */
		{ "+00", NULL },		/* NUL */
		{ "+09", NULL },
		{ "+1B", NULL },
		{ "+7F", NULL },
		{ "+80", NULL },
		{ "+FF", NULL },
		{ "a b", NULL },		/* SP must be encoded */
		{ "a=b", NULL },
		{ "a\rb", NULL },
		{ "a\nb", NULL },
		{ "\xc3\xbc", NULL },
		{ "a\x7f", NULL },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = smtp_xtext_decode(t[i].in, out, sizeof(out));

		if (t[i].out == NULL) {
			if (r != -1)
				fail_msg("xtext %zu \"%s\": accepted \"%s\"", i, t[i].in, out);
		} else if (r != 0 || strcmp(out, t[i].out) != 0)
			fail_msg("xtext %zu \"%s\": r=%d \"%s\"", i, t[i].in, r, out);
	}
	/* Output space is respected. */
	assert_int_equal(smtp_xtext_decode("abc", out, 4), 0);
	assert_int_equal(smtp_xtext_decode("abcd", out, 4), -1);
	assert_int_equal(smtp_xtext_decode("ab+2B", out, 3), -1);
	assert_int_equal(smtp_xtext_decode("ab+2B", out, 4), 0);
	assert_string_equal(out, "ab+");
	assert_int_equal(smtp_xtext_decode("", out, 1), 0);
	assert_int_equal(smtp_xtext_decode("a", out, 0), -1);
}

static void
test_verb_names(void **state)
{
	(void)state;
	assert_string_equal(smtp_verb_name(SMTP_V_HELO), "HELO");
	assert_string_equal(smtp_verb_name(SMTP_V_EHLO), "EHLO");
	assert_string_equal(smtp_verb_name(SMTP_V_MAIL), "MAIL");
	assert_string_equal(smtp_verb_name(SMTP_V_RCPT), "RCPT");
	assert_string_equal(smtp_verb_name(SMTP_V_DATA), "DATA");
	assert_string_equal(smtp_verb_name(SMTP_V_BDAT), "BDAT");
	assert_string_equal(smtp_verb_name(SMTP_V_RSET), "RSET");
	assert_string_equal(smtp_verb_name(SMTP_V_NOOP), "NOOP");
	assert_string_equal(smtp_verb_name(SMTP_V_QUIT), "QUIT");
	assert_string_equal(smtp_verb_name(SMTP_V_VRFY), "VRFY");
	assert_string_equal(smtp_verb_name(SMTP_V_EXPN), "EXPN");
	assert_string_equal(smtp_verb_name(SMTP_V_HELP), "HELP");
	assert_string_equal(smtp_verb_name(SMTP_V_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_verb_name(SMTP_V_AUTH), "AUTH");
	assert_string_equal(smtp_verb_name(SMTP_V_UNKNOWN), "UNKNOWN");
	assert_string_equal(smtp_verb_name(SMTP_V__COUNT), "UNKNOWN");
	assert_string_equal(smtp_verb_name((enum smtp_verb)-1), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bdat_values),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_param_lookup),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_verb_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
