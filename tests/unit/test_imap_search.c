/* test_imap_search: SEARCH programs, matching and the SEARCH / ESEARCH
 * responses. Several vectors are those of Dovecot's imaptest suite
 * (search-addresses, search-header, search-sets, search-date,
 * search-intdate, esearch, esearch-condstore). */
#include "tu.h"

#include <stdbool.h>
#include <strings.h>

#include "imap/imap_parser.h"
#include "imap/imap_search.h"
#include "mail/mime.h"
#include "store/mflags.h"

static const struct imap_parse_limits plim = { 1000, 200000 };

/* ---- a mailbox ---- */

struct tmsg {
	const char *text;
	const char *const *kw;	/* NULL-terminated */
};

struct box {
	struct search_msg *m;
	size_t n;
	unsigned calls;		/* ops.message calls */
};

static const char *
get_message(void *ctx, const struct search_msg *m, size_t *len)
{
	struct box *b = ctx;
	const struct tmsg *t = m->priv;

	b->calls++;
	if (t == NULL || t->text == NULL)
		return NULL;
	*len = strlen(t->text);
	return t->text;
}

static bool
has_keyword(void *ctx, const struct search_msg *m, const char *kw)
{
	const struct tmsg *t = m->priv;
	size_t i;

	(void)ctx;
	for (i = 0; t != NULL && t->kw != NULL && t->kw[i] != NULL; i++)
		if (strcasecmp(t->kw[i], kw) == 0)
			return true;
	return false;
}

/* UTC seconds of an RFC 5322 date (and its zone). */
static long long
when(const char *s, int *tz)
{
	long long t;

	if (mime_parse_date(s, &t, tz) != 0)
		fail_msg("bad test date %s", s);
	return t;
}

/* Parse "A SEARCH <keys>" and the search program in it. */
static int
parse_search(const char *keys, unsigned flags, struct search_prog **p, const char **err)
{
	struct imap_cmd cmd;
	const char *perr = NULL;
	size_t n = strlen(keys) + 16;
	char *buf = malloc(n);
	int r;

	assert_non_null(buf);
	snprintf(buf, n, "A SEARCH %s\r\n", keys);
	if (imap_parse(buf, strlen(buf), &plim, &cmd, &perr) != 0)
		fail_msg("imap_parse \"%s\": %s", keys, perr);
	*err = NULL;
	r = imap_search_parse(cmd.args, cmd.nargs, flags, p, err);
	imap_cmd_free(&cmd);
	free(buf);
	if (r != SEARCH_OK)
		assert_null(*p);
	return r;
}

static struct search_prog *
must_parse(const char *keys)
{
	struct search_prog *p;
	const char *err;

	if (parse_search(keys, 0, &p, &err) != SEARCH_OK)
		fail_msg("\"%s\" rejected: %s", keys, err);
	return p;
}

/* The sequence numbers of box's messages that match, "1 3 5". */
static const char *
matches(struct box *b, struct search_prog *p, const struct seqset *saved)
{
	static char out[1024];
	struct search_ops ops = { get_message, has_keyword, b };
	const char *err;
	uint32_t maxuid = 0;
	size_t i, o = 0;

	for (i = 0; i < b->n; i++)
		if (b->m[i].uid > maxuid)
			maxuid = b->m[i].uid;
	if (imap_search_bind(p, (uint32_t)b->n, maxuid, saved, &err) != 0)
		fail_msg("bind: %s", err);
	out[0] = '\0';
	for (i = 0; i < b->n; i++)
		if (imap_search_match(p, &b->m[i], &ops))
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%u", o ? " " : "",
			    (unsigned)b->m[i].seq);
	return out;
}

static void
expect(struct box *b, const char *keys, const char *want)
{
	static const struct seqrange r[] = { { 10, 10 }, { 12, 12 } };
	const struct seqset saved = { (struct seqrange *)r, 2 };
	struct search_prog *p = must_parse(keys);
	const char *got = matches(b, p, &saved);

	if (strcmp(got, want) != 0)
		fail_msg("SEARCH %s: \"%s\", want \"%s\"", keys, got, want);
	imap_search_free(p);
}

/* ---- the main fixture ---- */

static const char *const kw3[] = { "$Forwarded", "Work", NULL };

static const struct tmsg fixture[] = {
	{ "From: Alice Example <alice@example.org>\n"
	  "To: bob@example.net\n"
	  "Cc: Carol <carol@example.com>, dave@example.com\n"
	  "Subject: Hello   world\n"
	  "Date: Fri, 21 Nov 1997 09:55:06 -0600\n"
	  "Message-ID: <1@example.org>\n"
	  "\n"
	  "Hi Bob,\n"
	  "how are you?\n", NULL },
	{ "From: =?UTF-8?B?SsO8cmdlbg==?= <juergen@example.de>\n"
	  "To: \"Last, First\" <first.last@example.com>\n"
	  "Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=\n"
	  "Date: Sat, 22 Nov 1997 00:30:00 +0100\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=iso-8859-1\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "Viele Gr=FC=DFe aus M=FCnchen, soft=\n"
	  "break here.\n", NULL },
	{ "From: bob@example.net\n"
	  "To: alice@example.org\n"
	  "Subject: Re: Hello world\n"
	  "Date: Sun, 23 Nov 1997 12:00:00 +0000\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"XX\"\n"
	  "\n"
	  "preamble text\n"
	  "--XX\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "VGhlIHNlY3JldCB3b3Jk\n"
	  "IGlzIHN3b3JkZmlzaC4K\n"
	  "--XX\n"
	  "Content-Type: text/html; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "<p>Na=C3=AFve caf=C3=A9</p>\n"
	  "--XX\n"
	  "Content-Type: application/octet-stream\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "YmluYXJ5IHBheWxvYWQgemVicmEgAAEC\n"
	  "--XX--\n"
	  "epilogue text\n", kw3 },
	{ "From: Drafty <draft@example.org>\n"
	  "Subject: [PATCH] Fwd: draft notes (fwd)\n"
	  "X-Extra: hello\n"
	  "  beautiful\theader\n"
	  "\n"
	  "Draft body with Stra\xc3\x9f" "e.\n", NULL },
	{ "From: fwd@example.org\r\n"
	  "To: undisclosed-recipients:;\r\n"
	  "Subject: Fw: inner\r\n"
	  "Date: Mon, 24 Nov 1997 10:00:00 -0800\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "From: inner@example.org\r\n"
	  "Subject: =?utf-8?q?inner_subject_=C3=A9t=C3=A9?=\r\n"
	  "\r\n"
	  "inner body text\r\n", NULL },
	{ "From: <user-from (comment)@ (comment) domain.org>\n"
	  "To: user-to@domain.org (RealTo)\n"
	  "Bcc: hidden@example.org\n"
	  "Subject: addresses\n"
	  "Date: garbage date\n"
	  "\n"
	  "body6\n", NULL },
};

static struct search_msg fmsgs[6];
static struct box fbox = { fmsgs, 6, 0 };

static int
setup_fixture(void **state)
{
	static const struct {
		uint32_t uid;
		unsigned flags;
		uint64_t size, modseq;
		const char *internal;
	} meta[6] = {
		{ 10, MF_SEEN | MF_ANSWERED, 100, 5, "21 Nov 1997 16:00:00 +0000" },
		{ 11, MF_RECENT, 2000, 7, "22 Nov 1997 00:30:00 +0100" },
		{ 12, MF_FLAGGED | MF_SEEN, 3000, 9, "23 Nov 1997 12:00:00 +0000" },
		{ 13, MF_DELETED | MF_DRAFT, 50, 3, "21 Nov 1997 00:30:00 +0100" },
		{ 14, MF_RECENT | MF_SEEN, 400, 12, "24 Nov 1997 10:00:00 -0800" },
		{ 20, 0, 10, 1, "24 Nov 1997 21:00:00 -0500" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++) {
		memset(&fmsgs[i], 0, sizeof(fmsgs[i]));
		fmsgs[i].seq = (uint32_t)i + 1;
		fmsgs[i].uid = meta[i].uid;
		fmsgs[i].flags = meta[i].flags;
		fmsgs[i].size = meta[i].size;
		fmsgs[i].modseq = meta[i].modseq;
		fmsgs[i].internal = when(meta[i].internal, &fmsgs[i].internal_tz);
		fmsgs[i].priv = (void *)&fixture[i];
	}
	return 0;
}

static void
test_flags(void **state)
{
	(void)state;
	expect(&fbox, "ALL", "1 2 3 4 5 6");
	expect(&fbox, "all", "1 2 3 4 5 6");
	expect(&fbox, "ANSWERED", "1");
	expect(&fbox, "UNANSWERED", "2 3 4 5 6");
	expect(&fbox, "DELETED", "4");
	expect(&fbox, "UNDELETED", "1 2 3 5 6");
	expect(&fbox, "DRAFT", "4");
	expect(&fbox, "UNDRAFT", "1 2 3 5 6");
	expect(&fbox, "FLAGGED", "3");
	expect(&fbox, "UNFLAGGED", "1 2 4 5 6");
	expect(&fbox, "SEEN", "1 3 5");
	expect(&fbox, "UNSEEN", "2 4 6");
	expect(&fbox, "RECENT", "2 5");
	expect(&fbox, "NEW", "2");
	expect(&fbox, "OLD", "1 3 4 6");
	expect(&fbox, "Seen Flagged", "3");
	expect(&fbox, "KEYWORD $Forwarded", "3");
	expect(&fbox, "KEYWORD \"work\"", "3");
	expect(&fbox, "KEYWORD $Junk", "");
	expect(&fbox, "UNKEYWORD $Forwarded", "1 2 4 5 6");
	expect(&fbox, "UNKEYWORD $Junk", "1 2 3 4 5 6");
	expect(&fbox, "LARGER 400", "2 3");
	expect(&fbox, "LARGER 0", "1 2 3 4 5 6");
	expect(&fbox, "SMALLER 100", "4 6");
	expect(&fbox, "SMALLER 0", "");
	expect(&fbox, "LARGER 9223372036854775807", "");
	expect(&fbox, "MODSEQ 7", "2 3 5");
	expect(&fbox, "MODSEQ 0", "1 2 3 4 5 6");
	expect(&fbox, "MODSEQ \"/flags/\\\\Seen\" all 9", "3 5");
	expect(&fbox, "MODSEQ \"/flags/$Forwarded\" priv 12", "5");
	expect(&fbox, "MODSEQ \"/FLAGS/\\\\draft\" SHARED 13", "");
}

static void
test_headers(void **state)
{
	(void)state;
	expect(&fbox, "FROM alice", "1");
	expect(&fbox, "FROM ALICE", "1");
	expect(&fbox, "FROM \"Alice Example\"", "1");
	expect(&fbox, "FROM \"example <alice@\"", "1");
	expect(&fbox, "FROM \"Example org\"", "");
	/* RFC 2047 and case folding beyond ASCII */
	expect(&fbox, "FROM \"J\xc3\xbcrgen\"", "2");
	expect(&fbox, "FROM \"J\xc3\x9cRGEN\"", "2");
	expect(&fbox, "FROM \"SsO8cmdlbg\"", "");
	/* the address written out: comments gone */
	expect(&fbox, "FROM user-from@domain.org", "6");
	expect(&fbox, "FROM comment", "6");
	expect(&fbox, "FROM example.org", "1 4 5");
	expect(&fbox, "TO \"last, first\"", "2");
	expect(&fbox, "TO first.last@example.com", "2");
	expect(&fbox, "TO undisclosed", "5");
	expect(&fbox, "TO realto", "6");
	expect(&fbox, "TO \"realto <user-to\"", "6");
	expect(&fbox, "CC carol", "1");
	expect(&fbox, "CC dave@", "1");
	expect(&fbox, "CC nobody", "");
	expect(&fbox, "BCC hidden", "6");
	expect(&fbox, "SUBJECT \"hello world\"", "1 3");
	expect(&fbox, "SUBJECT \"hello  world\"", "1 3");
	expect(&fbox, "SUBJECT \"ello wor\"", "1 3");
	expect(&fbox, "SUBJECT \"caf\xc3\xa9\"", "2");
	expect(&fbox, "SUBJECT \"CAF\xc3\x89\"", "2");
	expect(&fbox, "SUBJECT \"cr\xc3\xa8me\"", "2");
	expect(&fbox, "SUBJECT Caf=E9", "");
	expect(&fbox, "SUBJECT inner", "5");
	expect(&fbox, "SUBJECT {5}\r\nHELLO", "1 3");
	expect(&fbox, "SUBJECT NIL", "");
	/* an empty string: the field is there */
	expect(&fbox, "SUBJECT \"\"", "1 2 3 4 5 6");
	expect(&fbox, "CC \"\"", "1");
	expect(&fbox, "HEADER X-Extra \"\"", "4");
	expect(&fbox, "NOT HEADER x-extra \"\"", "1 2 3 5 6");
	expect(&fbox, "HEADER x-extra beautiful", "4");
	expect(&fbox, "HEADER x-extra \"hello beautiful header\"", "4");
	expect(&fbox, "HEADER X-EXTRA \"eautiful head\"", "4");
	expect(&fbox, "HEADER Message-ID <1@example.org>", "1");
	expect(&fbox, "HEADER Content-Type multipart", "3");
	expect(&fbox, "HEADER Content-Type \"\"", "2 3 5");
	expect(&fbox, "HEADER From \"user-from@domain.org\"", "6");
	expect(&fbox, "HEADER X-Missing \"\"", "");
	/* a header field of an enclosed message is not the message's */
	expect(&fbox, "SUBJECT \"inner subject\"", "");
}

static void
test_body(void **state)
{
	(void)state;
	expect(&fbox, "BODY swordfish", "3");
	expect(&fbox, "BODY \"SECRET WORD\"", "3");
	expect(&fbox, "BODY \"na\xc3\xafve caf\xc3\xa9\"", "3");
	expect(&fbox, "BODY \"Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen\"", "2");
	expect(&fbox, "BODY \"softbreak here\"", "2");
	expect(&fbox, "BODY =FC", "");
	expect(&fbox, "BODY zebra", "3");
	expect(&fbox, "BODY VGhlIHNlY3JldCB3b3Jk", "");
	expect(&fbox, "BODY preamble", "");
	expect(&fbox, "BODY epilogue", "");
	expect(&fbox, "BODY \"inner body\"", "5");
	expect(&fbox, "BODY \"inner subject \xc3\xa9t\xc3\xa9\"", "5");
	expect(&fbox, "BODY hello", "");
	expect(&fbox, "BODY \"how are you\"", "1");
	expect(&fbox, "BODY \"Stra\xc3\x9f" "e\"", "4");
	expect(&fbox, "BODY \"STRA\xe1\xba\x9e" "E\"", "4");
	expect(&fbox, "BODY strasse", "");
	expect(&fbox, "BODY \"\"", "1 2 3 4 5 6");
	expect(&fbox, "TEXT hello", "1 3 4");
	expect(&fbox, "TEXT swordfish", "3");
	expect(&fbox, "TEXT \"x-extra: hello beautiful\"", "4");
	expect(&fbox, "TEXT inner", "5");
	expect(&fbox, "TEXT \"Message-ID: <1@\"", "1");
	expect(&fbox, "TEXT \"\"", "1 2 3 4 5 6");
}

static void
test_dates(void **state)
{
	(void)state;
	expect(&fbox, "ON 21-Nov-1997", "1 4");
	expect(&fbox, "ON 22-Nov-1997", "2");
	expect(&fbox, "ON \"24-nov-1997\"", "5 6");
	expect(&fbox, "BEFORE 22-Nov-1997", "1 4");
	expect(&fbox, "BEFORE 1-Jan-1990", "");
	expect(&fbox, "SINCE 24-Nov-1997", "5 6");
	expect(&fbox, "SINCE 01-Jan-2000", "");
	expect(&fbox, "SINCE 1-Jan-1970", "1 2 3 4 5 6");
	/* Date: in its own zone; none or garbage: INTERNALDATE */
	expect(&fbox, "SENTON 21-Nov-1997", "1 4");
	expect(&fbox, "SENTON 22-Nov-1997", "2");
	expect(&fbox, "SENTBEFORE 23-Nov-1997", "1 2 4");
	expect(&fbox, "SENTSINCE 24-Nov-1997", "5 6");
	expect(&fbox, "SENTSINCE 23-Nov-1997 SENTBEFORE 24-Nov-1997", "3");
}

/* Dovecot's search-intdate / search-date mailbox: messages around the
 * EET/EEST changes, each in its own zone. */
static const char *const zdates[] = {
	"24 Mar 2007 23:00:00 +0200", "25 Mar 2007 00:00:00 +0200",
	"25 Mar 2007 01:00:00 +0200", "25 Mar 2007 02:00:00 +0200",
	"25 Mar 2007 04:00:00 +0300", "25 Mar 2007 23:00:00 +0300",
	"26 Mar 2007 00:00:00 +0300", "27 Oct 2007 23:00:00 +0300",
	"28 Oct 2007 00:00:00 +0300", "28 Oct 2007 01:00:00 +0300",
	"28 Oct 2007 02:00:00 +0300", "28 Oct 2007 03:00:00 +0300",
	"28 Oct 2007 03:00:00 +0200", "28 Oct 2007 04:00:00 +0200",
	"28 Oct 2007 23:00:00 +0200", "29 Oct 2007 00:00:00 +0200",
};

static const struct {
	const char *keys, *want;
} zcases[] = {
	{ "BEFORE 24-mar-2007", "" },
	{ "BEFORE 25-mar-2007", "1" },
	{ "BEFORE 26-mar-2007", "1 2 3 4 5 6" },
	{ "BEFORE 27-mar-2007", "1 2 3 4 5 6 7" },
	{ "ON 23-mar-2007", "" },
	{ "ON 24-mar-2007", "1" },
	{ "ON 25-mar-2007", "2 3 4 5 6" },
	{ "ON 26-mar-2007", "7" },
	{ "1:7 SINCE 24-mar-2007", "1 2 3 4 5 6 7" },
	{ "1:7 SINCE 25-mar-2007", "2 3 4 5 6 7" },
	{ "1:7 SINCE 26-mar-2007", "7" },
	{ "1:7 SINCE 27-mar-2007", "" },
	{ "8:* BEFORE 27-oct-2007", "" },
	{ "8:* BEFORE 28-oct-2007", "8" },
	{ "8:* BEFORE 29-oct-2007", "8 9 10 11 12 13 14 15" },
	{ "8:* BEFORE 30-oct-2007", "8 9 10 11 12 13 14 15 16" },
	{ "8:* ON 26-oct-2007", "" },
	{ "8:* ON 27-oct-2007", "8" },
	{ "8:* ON 28-oct-2007", "9 10 11 12 13 14 15" },
	{ "8:* ON 29-oct-2007", "16" },
	{ "8:* SINCE 27-oct-2007", "8 9 10 11 12 13 14 15 16" },
	{ "8:* SINCE 28-oct-2007", "9 10 11 12 13 14 15 16" },
	{ "8:* SINCE 29-oct-2007", "16" },
	{ "8:* SINCE 30-oct-2007", "" },
};

static void
test_zones(void **state)
{
	struct search_msg m[16];
	struct tmsg t[16];
	struct box b = { m, 16, 0 };
	char text[16][128], keys[64];
	size_t i, k;

	(void)state;
	for (i = 0; i < 16; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].seq = m[i].uid = (uint32_t)i + 1;
		m[i].internal = when(zdates[i], &m[i].internal_tz);
		/* the Date: field says the same; INTERNALDATE is elsewhere */
		snprintf(text[i], sizeof(text[i]), "Date: Sun, %s\n\nbody\n", zdates[i]);
		t[i].text = text[i];
		t[i].kw = NULL;
		m[i].priv = &t[i];
	}
	for (k = 0; k < sizeof(zcases) / sizeof(zcases[0]); k++)
		expect(&b, zcases[k].keys, zcases[k].want);
	for (i = 0; i < 16; i++) {
		m[i].internal = 0;
		m[i].internal_tz = 0;
	}
	for (k = 0; k < sizeof(zcases) / sizeof(zcases[0]); k++) {
		const char *sp = strchr(zcases[k].keys, ' ');
		const char *key = zcases[k].keys[0] >= '0' && zcases[k].keys[0] <= '9' ?
		    sp + 1 : zcases[k].keys;

		snprintf(keys, sizeof(keys), "%.*sSENT%s",
		    key == zcases[k].keys ? 0 : (int)(sp + 1 - zcases[k].keys), zcases[k].keys,
		    key);
		expect(&b, keys, zcases[k].want);
	}
	/* the other side of the world */
	m[0].internal = when("1 Jan 2020 23:30:00 -1200", &m[0].internal_tz);
	b.n = 1;
	expect(&b, "ON 1-Jan-2020", "1");
	m[0].internal_tz = 14 * 60;
	expect(&b, "ON 3-Jan-2020", "1");
	m[0].internal_tz = 0;
	expect(&b, "ON 2-Jan-2020", "1");
	/* before 1970 */
	m[0].internal = when("31 Dec 1969 23:59:59 +0000", &m[0].internal_tz);
	expect(&b, "ON 31-Dec-1969", "1");
	expect(&b, "BEFORE 1-Jan-1970", "1");
	/* absurd stored values do not overflow */
	m[0].internal = INT64_MAX;
	m[0].internal_tz = INT32_MAX;
	expect(&b, "BEFORE 1-Jan-1970", "");
	m[0].internal = INT64_MIN;
	m[0].internal_tz = INT32_MIN;
	expect(&b, "SINCE 1-Jan-0000", "");
}

/* Dovecot's search-sets, after expunging the second of six messages. */
static void
test_sets(void **state)
{
	static const uint32_t uids[5] = { 101, 103, 104, 105, 106 };
	struct search_msg m[5];
	struct box b = { m, 5, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = uids[i];
	}
	expect(&b, "ALL", "1 2 3 4 5");
	expect(&b, "1:3,5", "1 2 3 5");
	expect(&b, "4:2", "2 3 4");
	expect(&b, "UID 101:103,105", "1 2 4");
	expect(&b, "UID 104:102", "2 3");
	expect(&b, "1:3 NOT UID 103", "1 3");
	expect(&b, "NOT 2,4", "1 3 5");
	expect(&b, "OR 1 UID 103", "1 2");
	expect(&b, "*", "5");
	expect(&b, "UID *", "5");
	expect(&b, "6:*", "5");
	expect(&b, "*:6", "5");
	expect(&b, "UID 107:*", "5");
	expect(&b, "*:3", "3 4 5");
	expect(&b, "1,4,*", "1 4 5");
	expect(&b, "1000", "");
	expect(&b, "UID 1000", "");
	expect(&b, "UID 1:100", "");
	/* "$" is the saved UIDs (here 10 and 12, none of which exist) */
	expect(&b, "$", "");
	expect(&b, "UID $", "");
	expect(&fbox, "$", "1 3");
	expect(&fbox, "UID $", "1 3");
	expect(&fbox, "NOT $", "2 4 5 6");
	expect(&fbox, "UID 11:13", "2 3 4");
	expect(&fbox, "UID 14:*", "5 6");
	expect(&fbox, "UID *", "6");
	expect(&fbox, "UID 100", "");
	expect(&fbox, "2,4:5", "2 4 5");
	expect(&fbox, "5:*", "5 6");
	/* an empty mailbox */
	b.n = 0;
	expect(&b, "1:*", "");
	expect(&b, "*", "");
}

static void
test_bind(void **state)
{
	struct search_prog *p = must_parse("OR $ 3");
	const struct seqset empty = { NULL, 0 };
	struct seqrange r = { 2, 2 };
	const struct seqset two = { &r, 1 };
	struct search_ops ops = { NULL, NULL, NULL };
	struct search_msg m;
	const char *err = NULL;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(imap_search_bind(p, 5, 5, NULL, &err), -1);
	assert_string_equal(err, "No saved search result");
	assert_int_equal(imap_search_bind(p, 5, 5, &empty, &err), 0);
	m.seq = 2;
	m.uid = 2;
	assert_false(imap_search_match(p, &m, &ops));
	m.seq = 3;
	assert_true(imap_search_match(p, &m, &ops));
	/* bound again, to a new state */
	assert_int_equal(imap_search_bind(p, 2, 2, &two, &err), 0);
	m.seq = m.uid = 2;
	assert_true(imap_search_match(p, &m, &ops));
	m.seq = 1;
	m.uid = 3;
	assert_false(imap_search_match(p, &m, &ops));
	imap_search_free(p);
	imap_search_free(NULL);
}

static void
test_logic(void **state)
{
	(void)state;
	expect(&fbox, "NOT SEEN", "2 4 6");
	expect(&fbox, "NOT NOT SEEN", "1 3 5");
	expect(&fbox, "NOT NOT NOT SEEN", "2 4 6");
	expect(&fbox, "OR SEEN DRAFT", "1 3 4 5");
	expect(&fbox, "OR OR SEEN DRAFT FLAGGED", "1 3 4 5");
	expect(&fbox, "OR SEEN OR DRAFT RECENT", "1 2 3 4 5");
	expect(&fbox, "OR OR ANSWERED DRAFT OR FLAGGED NEW", "1 2 3 4");
	expect(&fbox, "(SEEN FLAGGED)", "3");
	expect(&fbox, "NOT (SEEN FLAGGED)", "1 2 4 5 6");
	expect(&fbox, "OR (SEEN FLAGGED) DELETED", "3 4");
	expect(&fbox, "SEEN NOT OR ANSWERED FLAGGED", "5");
	expect(&fbox, "OR NOT SEEN NOT RECENT", "1 2 3 4 6");
	expect(&fbox, "NOT OR SEEN RECENT", "4 6");
	expect(&fbox, "OR NOT OR SEEN RECENT DRAFT", "4 6");
	expect(&fbox, "(((SEEN)) (NOT ANSWERED))", "3 5");
	expect(&fbox, "OR (NOT SEEN LARGER 100) (SEEN NOT LARGER 100)", "1 2");
	expect(&fbox, "NOT (OR SEEN (DRAFT DELETED))", "2 6");
	expect(&fbox, "UNSEEN NOT NOT UNSEEN", "2 4 6");
	expect(&fbox, "OR SUBJECT hello BODY swordfish", "1 3");
	expect(&fbox, "NOT BODY swordfish", "1 2 4 5 6");
	expect(&fbox, "1:4 OR FROM alice FROM draft", "1 4");
}

/* Long chains: flat, no stack growth, the right value. */
static void
test_chains(void **state)
{
	const size_t n = 20000;
	char *s = malloc(n * 16 + 64);
	struct search_prog *p;
	const char *err;
	size_t i, o;

	(void)state;
	assert_non_null(s);
	/* NOT x 20000 (even): SEEN */
	for (o = i = 0; i < n; i++)
		o += (size_t)sprintf(s + o, "NOT ");
	sprintf(s + o, "SEEN");
	p = must_parse(s);
	assert_string_equal(matches(&fbox, p, NULL), "1 3 5");
	imap_search_free(p);
	/* OR OR OR ... DELETED x x x: right- and left-nested */
	for (o = i = 0; i < 5000; i++)
		o += (size_t)sprintf(s + o, "OR ");
	o += (size_t)sprintf(s + o, "DELETED");
	for (i = 0; i < 5000; i++)
		o += (size_t)sprintf(s + o, " FLAGGED");
	p = must_parse(s);
	assert_string_equal(matches(&fbox, p, NULL), "3 4");
	imap_search_free(p);
	for (o = i = 0; i < 5000; i++)
		o += (size_t)sprintf(s + o, "OR UID %zu ", i + 1000);
	sprintf(s + o, "ANSWERED");
	p = must_parse(s);
	assert_string_equal(matches(&fbox, p, NULL), "1");
	imap_search_free(p);
	/* nesting that does not flatten is bounded */
	for (o = i = 0; i < SEARCH_MAX_DEPTH; i++)
		o += (size_t)sprintf(s + o, "(");
	o += (size_t)sprintf(s + o, "SEEN");
	for (i = 0; i < SEARCH_MAX_DEPTH; i++)
		o += (size_t)sprintf(s + o, ")");
	s[o] = '\0';
	p = must_parse(s);
	assert_string_equal(matches(&fbox, p, NULL), "1 3 5");
	imap_search_free(p);
	for (o = i = 0; i <= SEARCH_MAX_DEPTH; i++)
		o += (size_t)sprintf(s + o, "(");
	o += (size_t)sprintf(s + o, "SEEN");
	for (i = 0; i <= SEARCH_MAX_DEPTH; i++)
		o += (size_t)sprintf(s + o, ")");
	s[o] = '\0';
	assert_int_equal(parse_search(s, 0, &p, &err), SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_DEPTH);
	for (o = i = 0; i < 10000; i++)
		o += (size_t)sprintf(s + o, "OR NOT ");
	sprintf(s + o, "SEEN");
	assert_int_equal(parse_search(s, 0, &p, &err), SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_DEPTH);
	/* too many keys */
	for (o = i = 0; i < SEARCH_MAX_KEYS; i++)
		o += (size_t)sprintf(s + o, "%sSEEN", i ? " " : "");
	assert_int_equal(parse_search(s, 0, &p, &err), SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_MANY);
	free(s);
}

static const struct {
	const char *keys;
	int r;
	const char *err;
} errcases[] = {
	{ "FOO", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "SEEN FOO", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "\"SEEN\"", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "NIL", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "\\Seen", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "RETURN", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "SUBJECT", SEARCH_BAD, SEARCH_E_NOARG },
	{ "SUBJECT (a)", SEARCH_BAD, SEARCH_E_STRING },
	{ "SUBJECT ~{1}\r\na", SEARCH_BAD, SEARCH_E_STRING },
	{ "SUBJECT a*", SEARCH_BAD, SEARCH_E_STRING },
	{ "(SUBJECT) a", SEARCH_BAD, SEARCH_E_NOARG },
	{ "HEADER", SEARCH_BAD, SEARCH_E_NOARG },
	{ "HEADER subject", SEARCH_BAD, SEARCH_E_NOARG },
	{ "BEFORE", SEARCH_BAD, SEARCH_E_NOARG },
	{ "BEFORE 32-Jan-2000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 0-Jan-2000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 001-Jan-2000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 31-Apr-2000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 29-Feb-1900", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 1-Jan-00", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 1-Jan-20000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 1-Janu-2000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 1-Foo-2000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE 1/Jan/2000", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE \" 1-Jan-2000\"", SEARCH_BAD, SEARCH_E_DATE },
	{ "BEFORE \"1-Jan-2000 \"", SEARCH_BAD, SEARCH_E_DATE },
	{ "SENTON \"\"", SEARCH_BAD, SEARCH_E_DATE },
	{ "LARGER", SEARCH_BAD, SEARCH_E_NOARG },
	{ "LARGER x", SEARCH_BAD, SEARCH_E_NUMBER },
	{ "LARGER -1", SEARCH_BAD, SEARCH_E_NUMBER },
	{ "LARGER 1.5", SEARCH_BAD, SEARCH_E_NUMBER },
	{ "SMALLER 9223372036854775808", SEARCH_BAD, SEARCH_E_NUMBER },
	{ "SMALLER \"\"", SEARCH_BAD, SEARCH_E_NUMBER },
	{ "KEYWORD", SEARCH_BAD, SEARCH_E_NOARG },
	{ "KEYWORD \\Seen", SEARCH_BAD, SEARCH_E_STRING },
	{ "KEYWORD \"\"", SEARCH_BAD, SEARCH_E_KEYWORD },
	{ "UNKEYWORD (x)", SEARCH_BAD, SEARCH_E_STRING },
	{ "UID", SEARCH_BAD, SEARCH_E_NOARG },
	{ "UID foo", SEARCH_BAD, "Invalid sequence set" },
	{ "UID \"1\"", SEARCH_BAD, "Invalid sequence set" },
	{ "UID 0", SEARCH_BAD, "Invalid sequence set" },
	{ "1:", SEARCH_BAD, "Invalid sequence set" },
	{ "01", SEARCH_BAD, "Invalid sequence set" },
	{ "$,1", SEARCH_BAD, "Invalid sequence set" },
	{ "4294967296", SEARCH_BAD, "Invalid sequence set" },
	{ "MODSEQ", SEARCH_BAD, SEARCH_E_NOARG },
	{ "MODSEQ x", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "MODSEQ -1", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "MODSEQ 9223372036854775808", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "MODSEQ \"/flags/\\\\seen\" foo 5", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "MODSEQ \"/flags/\\\\seen\" all", SEARCH_BAD, SEARCH_E_NOARG },
	{ "MODSEQ \"/flags/\\\\seen\"", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "MODSEQ \"/other/x\" all 5", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "MODSEQ \"/flags/\" all 5", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "MODSEQ \"/flags/\\\\seen\" all \"5\"", SEARCH_BAD, SEARCH_E_MODSEQ },
	{ "NOT", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "SEEN NOT", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "OR", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "OR SEEN", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "OR OR SEEN DRAFT", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "(OR SEEN) DRAFT", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "(NOT) SEEN", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "OR (SEEN) NOT", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "()", SEARCH_BAD, SEARCH_E_PAREN },
	{ "SEEN (())", SEARCH_BAD, SEARCH_E_PAREN },
	{ "RETURN ()", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "RETURN (FOO) ALL", SEARCH_BAD, SEARCH_E_RETURN },
	{ "RETURN (MIN (MAX)) ALL", SEARCH_BAD, SEARCH_E_RETURN },
	{ "RETURN (\"MIN\") ALL", SEARCH_BAD, SEARCH_E_RETURN },
	{ "RETURN MIN ALL", SEARCH_BAD, SEARCH_E_RETURN },
	{ "RETURN (MIN) RETURN (MAX) ALL", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "ALL RETURN (MIN)", SEARCH_BAD, SEARCH_E_UNKNOWN },
	{ "CHARSET", SEARCH_BAD, SEARCH_E_CHARSET },
	{ "CHARSET UTF-8", SEARCH_BAD, SEARCH_E_NOKEY },
	{ "CHARSET (UTF-8) ALL", SEARCH_BAD, SEARCH_E_CHARSET },
	{ "CHARSET KOI8-R ALL", SEARCH_BADCHARSET, SEARCH_E_BADCHARSET },
	{ "CHARSET \"ISO-8859-1\" FOO", SEARCH_BADCHARSET, SEARCH_E_BADCHARSET },
	{ "CHARSET UTF8 ALL", SEARCH_BADCHARSET, SEARCH_E_BADCHARSET },
	{ "RETURN (MIN) CHARSET X ALL", SEARCH_BADCHARSET, SEARCH_E_BADCHARSET },
	{ "ALL CHARSET UTF-8", SEARCH_BAD, SEARCH_E_UNKNOWN },
};

static void
test_errors(void **state)
{
	struct search_prog *p;
	const char *err;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(errcases) / sizeof(errcases[0]); i++) {
		r = parse_search(errcases[i].keys, 0, &p, &err);
		if (r != errcases[i].r || err == NULL || strcmp(err, errcases[i].err) != 0)
			fail_msg("\"%s\": %d \"%s\", want %d \"%s\"", errcases[i].keys, r,
			    err ? err : "(null)", errcases[i].r, errcases[i].err);
	}
	/* no arguments at all */
	assert_int_equal(imap_search_parse(NULL, 0, 0, &p, &err), SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_NOKEY);
	assert_null(p);
	assert_int_equal(imap_search_parse(NULL, 0, SEARCH_F_CHARSET_FIRST, &p, &err), SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_CHARSET);
	/* a NULL err is fine */
	assert_int_equal(imap_search_parse(NULL, 0, 0, &p, NULL), SEARCH_BAD);
}

static void
test_charset(void **state)
{
	struct search_prog *p;
	const char *err;

	(void)state;
	expect(&fbox, "CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\"", "2");
	expect(&fbox, "CHARSET utf-8 SEEN", "1 3 5");
	expect(&fbox, "CHARSET \"US-ASCII\" SEEN", "1 3 5");
	expect(&fbox, "charset us-ascii SEEN", "1 3 5");
	expect(&fbox, "RETURN (COUNT) CHARSET UTF-8 SEEN", "1 3 5");
	/* SORT / THREAD: the charset comes first, no keyword, no RETURN */
	assert_int_equal(parse_search("UTF-8 SEEN", SEARCH_F_CHARSET_FIRST, &p, &err),
	    SEARCH_OK);
	assert_string_equal(matches(&fbox, p, NULL), "1 3 5");
	imap_search_free(p);
	assert_int_equal(parse_search("us-ascii ALL", SEARCH_F_CHARSET_FIRST, &p, &err),
	    SEARCH_OK);
	imap_search_free(p);
	assert_int_equal(parse_search("iso-8859-1 ALL", SEARCH_F_CHARSET_FIRST, &p, &err),
	    SEARCH_BADCHARSET);
	assert_string_equal(err, SEARCH_E_BADCHARSET);
	assert_int_equal(parse_search("SEEN", SEARCH_F_CHARSET_FIRST, &p, &err),
	    SEARCH_BADCHARSET);
	assert_int_equal(parse_search("UTF-8", SEARCH_F_CHARSET_FIRST, &p, &err), SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_NOKEY);
	assert_int_equal(parse_search("(UTF-8) ALL", SEARCH_F_CHARSET_FIRST, &p, &err),
	    SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_CHARSET);
	assert_int_equal(parse_search("UTF-8 RETURN (MIN) ALL", SEARCH_F_CHARSET_FIRST, &p,
	    &err), SEARCH_BAD);
	assert_string_equal(err, SEARCH_E_UNKNOWN);
}

/* ---- results ---- */

static char *
response(const char *keys, const char *tag, bool uid, bool esearch, const uint32_t *nums,
    const uint64_t *mods, size_t n)
{
	struct search_prog *p = must_parse(keys);
	size_t len = 12345;
	char *r = imap_search_response(p, tag, uid, esearch, nums, mods, n, &len);

	if (r != NULL)
		assert_int_equal(len, strlen(r));
	else
		assert_int_equal(len, 0);
	imap_search_free(p);
	return r;
}

static void
expect_response(const char *keys, bool uid, bool esearch, const uint32_t *nums,
    const uint64_t *mods, size_t n, const char *want)
{
	char *r = response(keys, "A1", uid, esearch, nums, mods, n);

	if (want == NULL) {
		assert_null(r);
		return;
	}
	assert_non_null(r);
	if (strcmp(r, want) != 0)
		fail_msg("%s: \"%s\", want \"%s\"", keys, r, want);
	free(r);
}

static void
test_return(void **state)
{
	static const uint32_t v[] = { 2, 3, 4, 5, 7, 9, 10 };
	static const uint64_t mv[] = { 50, 7, 90, 3, 20, 1, 4 };
	struct search_prog *p;

	(void)state;
	p = must_parse("ALL");
	assert_false(imap_search_has_return(p));
	assert_int_equal(imap_search_return(p), 0);
	assert_false(imap_search_has_modseq(p));
	imap_search_free(p);
	p = must_parse("RETURN () ALL");
	assert_true(imap_search_has_return(p));
	assert_int_equal(imap_search_return(p), SEARCH_RET_ALL);
	imap_search_free(p);
	p = must_parse("return (min Max COUNT all save) ALL");
	assert_int_equal(imap_search_return(p), SEARCH_RET_MIN | SEARCH_RET_MAX |
	    SEARCH_RET_ALL | SEARCH_RET_COUNT | SEARCH_RET_SAVE);
	imap_search_free(p);
	p = must_parse("RETURN (MIN MIN) NOT MODSEQ 5");
	assert_int_equal(imap_search_return(p), SEARCH_RET_MIN);
	assert_true(imap_search_has_modseq(p));
	imap_search_free(p);

	/* SEARCH */
	expect_response("ALL", false, false, v, NULL, 7, "* SEARCH 2 3 4 5 7 9 10\r\n");
	expect_response("ALL", true, false, v, NULL, 1, "* SEARCH 2\r\n");
	expect_response("ALL", false, false, v, NULL, 0, "* SEARCH\r\n");
	expect_response("ALL", false, false, v, mv, 7, "* SEARCH 2 3 4 5 7 9 10\r\n");
	expect_response("MODSEQ 1", false, false, v, mv, 7,
	    "* SEARCH 2 3 4 5 7 9 10 (MODSEQ 90)\r\n");
	expect_response("MODSEQ 1", false, false, v, NULL, 7, "* SEARCH 2 3 4 5 7 9 10\r\n");
	expect_response("MODSEQ 1", false, false, v, mv, 0, "* SEARCH\r\n");
	/* ESEARCH */
	expect_response("RETURN (MIN MAX COUNT ALL) ALL", true, false, v, NULL, 7,
	    "* ESEARCH (TAG \"A1\") UID MIN 2 MAX 10 COUNT 7 ALL 2:5,7,9:10\r\n");
	expect_response("RETURN (ALL COUNT MAX MIN) ALL", false, false, v, NULL, 3,
	    "* ESEARCH (TAG \"A1\") MIN 2 MAX 4 COUNT 3 ALL 2:4\r\n");
	expect_response("RETURN () ALL", false, false, v, NULL, 7,
	    "* ESEARCH (TAG \"A1\") ALL 2:5,7,9:10\r\n");
	expect_response("RETURN (MIN) ALL", false, false, v, NULL, 7,
	    "* ESEARCH (TAG \"A1\") MIN 2\r\n");
	expect_response("RETURN (MAX) ALL", true, false, v, NULL, 7,
	    "* ESEARCH (TAG \"A1\") UID MAX 10\r\n");
	expect_response("RETURN (COUNT) ALL", false, false, v, NULL, 7,
	    "* ESEARCH (TAG \"A1\") COUNT 7\r\n");
	/* nothing found: only COUNT is said (Dovecot's esearch test) */
	expect_response("RETURN () ALL", false, false, v, NULL, 0, "* ESEARCH (TAG \"A1\")\r\n");
	expect_response("RETURN (MIN) ALL", true, false, v, NULL, 0,
	    "* ESEARCH (TAG \"A1\") UID\r\n");
	expect_response("RETURN (MIN MAX ALL COUNT) ALL", true, false, v, mv, 0,
	    "* ESEARCH (TAG \"A1\") UID COUNT 0\r\n");
	/* IMAP4rev2: ESEARCH even without RETURN */
	expect_response("ALL", false, true, v, NULL, 2, "* ESEARCH (TAG \"A1\") ALL 2:3\r\n");
	expect_response("ALL", true, true, v, NULL, 0, "* ESEARCH (TAG \"A1\") UID\r\n");
	/* SAVE alone: no response; with others as usual */
	expect_response("RETURN (SAVE) ALL", false, false, v, NULL, 7, NULL);
	expect_response("RETURN (SAVE) ALL", false, true, v, NULL, 7, NULL);
	expect_response("RETURN (SAVE) MODSEQ 1", false, false, v, mv, 7, NULL);
	expect_response("RETURN (SAVE MIN) ALL", false, false, v, NULL, 7,
	    "* ESEARCH (TAG \"A1\") MIN 2\r\n");
	/* MODSEQ (RFC 7162 3.2; Dovecot's esearch-condstore) */
	expect_response("RETURN (ALL) MODSEQ 1", false, false, v, mv, 7,
	    "* ESEARCH (TAG \"A1\") ALL 2:5,7,9:10 MODSEQ 90\r\n");
	expect_response("RETURN (MIN) MODSEQ 1", false, false, v, mv, 7,
	    "* ESEARCH (TAG \"A1\") MIN 2 MODSEQ 50\r\n");
	expect_response("RETURN (MAX) MODSEQ 1", false, false, v, mv, 7,
	    "* ESEARCH (TAG \"A1\") MAX 10 MODSEQ 4\r\n");
	expect_response("RETURN (MIN MAX) MODSEQ 1", false, false, v + 1, mv + 1, 3,
	    "* ESEARCH (TAG \"A1\") MIN 3 MAX 5 MODSEQ 7\r\n");
	expect_response("RETURN (MAX COUNT) MODSEQ 1", false, false, v, mv, 7,
	    "* ESEARCH (TAG \"A1\") MAX 10 COUNT 7 MODSEQ 90\r\n");
	expect_response("RETURN (ALL) MODSEQ 1", false, false, v, mv, 0,
	    "* ESEARCH (TAG \"A1\")\r\n");
	expect_response("MODSEQ 1", true, true, v + 3, mv + 3, 2,
	    "* ESEARCH (TAG \"A1\") UID ALL 5,7 MODSEQ 20\r\n");
	/* no tag */
	{
		char *r = response("RETURN (COUNT) ALL", NULL, false, false, v, NULL, 1);

		assert_string_equal(r, "* ESEARCH COUNT 1\r\n");
		free(r);
	}
}

static void
test_saved(void **state)
{
	static const uint32_t v[] = { 4, 9, 12, 13, 20 };
	struct search_prog *p;
	struct seqset s;
	char buf[64];
	size_t i;
	static const struct {
		const char *keys, *want;
	} cases[] = {
		{ "RETURN (SAVE) ALL", "4,9,12:13,20" },
		{ "RETURN (SAVE ALL) ALL", "4,9,12:13,20" },
		{ "RETURN (SAVE COUNT MIN) ALL", "4,9,12:13,20" },
		{ "RETURN (SAVE MIN) ALL", "4" },
		{ "RETURN (SAVE MAX) ALL", "20" },
		{ "RETURN (SAVE MAX MIN) ALL", "4,20" },
		{ "ALL", "4,9,12:13,20" },
	};

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = must_parse(cases[i].keys);
		imap_search_saved(p, v, 5, &s);
		seqset_format(&s, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
		seqset_free(&s);
		imap_search_saved(p, v, 0, &s);
		assert_int_equal(s.n, 0);
		imap_search_free(p);
	}
}

/* Flag-only searches never read a message; others read it once. */
static void
test_needs_message(void **state)
{
	static const struct {
		const char *keys;
		bool needs, body;
	} cases[] = {
		{ "ALL", false, false }, { "SEEN NOT DELETED", false, false },
		{ "1:3 UID 5", false, false }, { "LARGER 5 SMALLER 9", false, false },
		{ "BEFORE 1-Jan-2000", false, false }, { "KEYWORD x MODSEQ 4", false, false },
		{ "ON 1-Jan-2000 SINCE 1-Jan-1999", false, false },
		{ "SENTON 1-Jan-2000", true, false }, { "SENTBEFORE 1-Jan-2000", true, false },
		{ "SENTSINCE 1-Jan-2000", true, false }, { "NOT SUBJECT x", true, false },
		{ "OR SEEN FROM x", true, false }, { "(TO x)", true, false }, { "CC x", true, false },
		{ "BCC x", true, false }, { "HEADER a b", true, false }, { "BODY x", true, true },
		{ "TEXT x", true, true }, { "OR FROM x NOT BODY y", true, true },
	};
	struct search_ops ops = { get_message, has_keyword, &fbox };
	struct search_prog *p;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = must_parse(cases[i].keys);
		assert_int_equal(imap_search_needs_message(p), cases[i].needs);
		assert_int_equal(imap_search_needs_body(p), cases[i].body);
		assert_int_equal(imap_search_bind(p, 6, 20, NULL, NULL), 0);
		fbox.calls = 0;
		for (k = 0; k < 6; k++)
			imap_search_match(p, &fmsgs[k], &ops);
		if (!cases[i].needs)
			assert_int_equal(fbox.calls, 0);
		else
			assert_true(fbox.calls <= 6);
		imap_search_free(p);
	}
	/* many text keys, still one read per message */
	p = must_parse("OR SUBJECT x OR BODY y OR TEXT z OR FROM a SENTON 1-Jan-2000");
	fbox.calls = 0;
	for (k = 0; k < 6; k++)
		imap_search_match(p, &fmsgs[k], &ops);
	assert_int_equal(fbox.calls, 6);
	imap_search_free(p);
}

/* A message that cannot be read matches no key that needs it; no ops at
 * all is the same. */
static void
test_unreadable(void **state)
{
	struct tmsg t = { NULL, NULL };
	struct search_msg m;
	struct box b = { &m, 1, 0 };

	(void)state;
	memset(&m, 0, sizeof(m));
	m.seq = m.uid = 1;
	m.priv = &t;
	m.internal = when("1 Jan 2001 00:00:00 +0000", &m.internal_tz);
	expect(&b, "SUBJECT \"\"", "");
	expect(&b, "BODY \"\"", "");
	expect(&b, "TEXT \"\"", "");
	expect(&b, "SENTON 1-Jan-2001", "");
	expect(&b, "NOT BODY x", "1");
	expect(&b, "ON 1-Jan-2001", "1");
	{
		struct search_prog *p = must_parse("OR KEYWORD x SUBJECT y");

		assert_int_equal(imap_search_bind(p, 1, 1, NULL, NULL), 0);
		assert_false(imap_search_match(p, &m, NULL));
		imap_search_free(p);
		p = must_parse("NOT KEYWORD x");
		assert_true(imap_search_match(p, &m, NULL));
		imap_search_free(p);
	}
}

/* ---- helpers ---- */

static void
test_casefold(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "abcXYZ_[]09", "ABCXYZ_[]09" },
		{ "\xc3\xa9\xc3\x89", "\xc3\xa9\xc3\xa9" },		/* é É */
		{ "\xc3\x9f", "\xc3\x9f" },				/* ß stays */
		{ "\xe1\xba\x9e", "\xc3\x9f" },				/* ẞ */
		{ "\xc3\x97\xc3\xb7", "\xc3\x97\xc3\xb7" },		/* × ÷ */
		{ "\xc5\xb8", "\xc3\xbf" },				/* Ÿ */
		{ "\xc5\x81\xc5\x82", "\xc5\x82\xc5\x82" },		/* Ł ł */
		{ "\xc4\x80\xc4\x81", "\xc4\x81\xc4\x81" },		/* Ā ā */
		{ "\xc5\xbf", "S" },					/* long s */
		{ "\xc4\xb0\xc4\xb1", "\xc4\xb0\xc4\xb1" },		/* İ ı: no simple fold */
		{ "\xc2\xb5", "\xce\xbc" },				/* micro */
		{ "\xce\xa3\xcf\x82\xcf\x83", "\xcf\x83\xcf\x83\xcf\x83" },	/* Σ ς σ */
		{ "\xce\x86", "\xce\xac" },				/* Ά */
		{ "\xd0\x96\xd0\x81", "\xd0\xb6\xd1\x91" },		/* Ж Ё */
		{ "\xd1\xa0", "\xd1\xa1" },				/* Ѡ */
		{ "\xe2\x84\xaa\xe2\x84\xab", "K\xc3\xa5" },		/* Kelvin, Angstrom */
		{ "\xff\xc3(\xe2\x82", "\xff\xc3(\xe2\x82" },		/* not UTF-8: kept */
		{ "", "" },
	};
	size_t i, n;
	char *f;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = imap_casefold(cases[i].in, strlen(cases[i].in), &n);
		assert_int_equal(n, strlen(cases[i].out));
		assert_string_equal(f, cases[i].out);
		free(f);
	}
	f = imap_casefold("a\0b", 3, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(f, "A\0B", 4);
	free(f);
}

static void
test_header_next(void **state)
{
	static const char msg[] =
	    "Subject: one\n"
	    "  two\r\n"
	    "junk line\n"
	    " orphan continuation\n"
	    "X-A :\tv\n"
	    "Empty:\n"
	    "\r\n"
	    "Body: no\n";
	struct imap_hfield f;
	size_t pos = 0, hl = 0;

	(void)state;
	assert_true(imap_header_next(msg, strlen(msg), &pos, &f, &hl));
	assert_int_equal(f.name_len, 7);
	assert_memory_equal(f.name, "Subject", 7);
	assert_int_equal(f.value_len, strlen(" one\n  two\r\n"));
	assert_memory_equal(f.value, " one\n  two\r\n", f.value_len);
	assert_true(imap_header_next(msg, strlen(msg), &pos, &f, &hl));
	assert_int_equal(f.name_len, 3);
	assert_memory_equal(f.name, "X-A", 3);
	assert_memory_equal(f.value, "\tv\n", f.value_len);
	assert_true(imap_header_next(msg, strlen(msg), &pos, &f, &hl));
	assert_memory_equal(f.name, "Empty", 5);
	assert_int_equal(f.value_len, 1);
	assert_false(imap_header_next(msg, strlen(msg), &pos, &f, &hl));
	assert_int_equal(hl, strlen(msg) - strlen("Body: no\n"));
	/* no empty line: all header; empty message */
	pos = 0;
	assert_true(imap_header_next("A: b", 4, &pos, &f, &hl));
	assert_int_equal(f.value_len, 2);
	assert_false(imap_header_next("A: b", 4, &pos, &f, &hl));
	assert_int_equal(hl, 4);
	pos = 0;
	assert_false(imap_header_next("", 0, &pos, &f, &hl));
	assert_int_equal(hl, 0);
	pos = 0;
	assert_false(imap_header_next("\nA: b\n", 6, &pos, &f, &hl));
	assert_int_equal(hl, 1);
}

static void
test_mailboxes(void **state)
{
	static const struct {
		const char *in;
		const char *want;	/* name|local|domain; ... */
	} cases[] = {
		{ "Alice <alice@example.org>", "Alice|alice|example.org;" },
		{ "alice@example.org", "|alice|example.org;" },
		{ "alice@example.org (Alice A)", "Alice A|alice|example.org;" },
		{ "\"Last, First\" <a.b@c>, d@e", "Last, First|a.b|c;|d|e;" },
		{ "=?utf-8?q?J=C3=BCrgen?= <j@x>", "J\xc3\xbcrgen|j|x;" },
		{ "\"=?utf-8?q?J=C3=BCrgen?=\" <j@x>", "J\xc3\xbcrgen|j|x;" },
		{ "<user-from (comment)@ (comment) domain.org>", "|user-from|domain.org;" },
		{ "group: a@b, C <c@d>;, e@f", "|a|b;C|c|d;|e|f;" },
		{ "undisclosed-recipients:;", "" },
		{ "<@route1,@route2:x@y>", "|x|y;" },
		{ "\"quoted local\"@example.org", "|quoted local|example.org;" },
		{ "\"a\\\"b\"@c", "|a\"b|c;" },
		{ "x@[127.0.0.1]", "|x|[127.0.0.1];" },
		{ "local-only", "|local-only|;" },
		{ "Name <>", "Name||;" },
		{ "A B C <abc@d>", "A B C|abc|d;" },
		{ "A.B <ab@c>", "A.B|ab|c;" },
		{ ",,, ;;", "" },
		{ "<<<>>>", "||;" },
		{ "@@@", "" },
		{ "a@b c@d", "|a|b;" },
		{ "(unclosed <a@b>", "" },
		{ "\"unclosed <a@b>", "|unclosed <a@b>|;" },
		{ "", "" },
	};
	struct imap_mailbox *mb;
	char buf[512];
	size_t i, k, n, o;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = imap_mailboxes(cases[i].in, strlen(cases[i].in), 100, &mb);
		for (o = 0, k = 0; k < n; k++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s|%s|%s;", mb[k].name,
			    mb[k].local, mb[k].domain);
		buf[o] = '\0';
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("\"%s\": \"%s\", want \"%s\"", cases[i].in, buf, cases[i].want);
		assert_true((n == 0) == (mb == NULL));
		imap_mailboxes_free(mb, n);
	}
	n = imap_mailboxes("a@b, c@d, e@f", 13, 2, &mb);
	assert_int_equal(n, 2);
	imap_mailboxes_free(mb, n);
	n = imap_mailboxes("a@b", 3, 0, &mb);
	assert_int_equal(n, 0);
	assert_null(mb);
}

/* Every prefix of some programs parses or fails cleanly (ASan). */
static void
test_prefixes(void **state)
{
	static const char *const progs[] = {
		"RETURN (MIN MAX) CHARSET UTF-8 OR (SEEN FROM \"x y\") NOT HEADER a {1}\r\nb",
		"MODSEQ \"/flags/\\\\seen\" all 5 UID 1:*,$ BEFORE \"1-Jan-2000\"",
	};
	struct search_prog *p;
	const char *err;
	struct imap_cmd cmd;
	const char *perr;
	char buf[256];
	size_t i, k, n;

	(void)state;
	for (i = 0; i < 2; i++) {
		n = strlen(progs[i]);
		for (k = 0; k <= n; k++) {
			snprintf(buf, sizeof(buf), "A SEARCH %.*s\r\n", (int)k, progs[i]);
			if (imap_parse(buf, strlen(buf), &plim, &cmd, &perr) != 0)
				continue;
			if (imap_search_parse(cmd.args, cmd.nargs, 0, &p, &err) == SEARCH_OK) {
				assert_int_equal(imap_search_bind(p, 3, 3, NULL, &err) == 0 ||
				    strchr(progs[i], '$') != NULL, 1);
				imap_search_free(p);
			} else
				assert_non_null(err);
			imap_cmd_free(&cmd);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_logic),
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_return),
		cmocka_unit_test(test_saved),
		cmocka_unit_test(test_needs_message),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_casefold),
		cmocka_unit_test(test_header_next),
		cmocka_unit_test(test_mailboxes),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, setup_fixture, NULL);
}
