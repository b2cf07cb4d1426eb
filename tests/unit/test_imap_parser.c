/* test_imap_parser: IMAP command framing and parsing. */
#include "tu.h"

#include <stdbool.h>

#include "imap/imap_parser.h"


/* Inputs may hold NUL: keep their length. */
#define IN(s) s, sizeof(s) - 1

static const struct imap_parse_limits plim = { 8, 100 };
static const struct imap_frame_limits flim = {
	.max_line = 8192, .max_literal = 1 << 20, .max_nonsync = 4096,
	.max_command = 1 << 22, .max_literals = 16,
};

/*
 * Arguments as text: atoms as written, NIL, "quoted" (escaped, \xHH for
 * bytes outside printable ASCII), L"literal", B"literal8", #SECTION, (list).
 */
struct sb {
	char p[4096];
	size_t n;
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
	assert_true(b->n + n < sizeof(b->p));
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
dump_args(const struct imap_arg *a, size_t n, struct sb *b)
{
	char hex[8];
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_str(b, " ");
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
			assert_non_null(a[i].str);
			assert_int_equal(strlen(a[i].str), a[i].len);
			sb_add(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_NIL:
			assert_true(a[i].len == 3 && strcasecmp(a[i].str, "NIL") == 0);
			sb_str(b, "NIL");
			break;
		case IMAP_ARG_SECTION:
			sb_str(b, "#");
			sb_add(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_STRING:
			assert_non_null(a[i].str);
			assert_int_equal(a[i].str[a[i].len], '\0');
			assert_false(a[i].literal && a[i].literal8);
			if (a[i].literal)
				sb_str(b, "L");
			else if (a[i].literal8)
				sb_str(b, "B");
			sb_str(b, "\"");
			for (k = 0; k < a[i].len; k++) {
				unsigned char c = (unsigned char)a[i].str[k];

				if (c == '"' || c == '\\') {
					sb_str(b, "\\");
					sb_add(b, (const char *)&c, 1);
				} else if (c < 0x20 || c > 0x7e) {
					snprintf(hex, sizeof(hex), "\\x%02x", c);
					sb_str(b, hex);
				} else
					sb_add(b, (const char *)&c, 1);
			}
			sb_str(b, "\"");
			break;
		case IMAP_ARG_LIST:
			assert_null(a[i].str);
			assert_true((a[i].list == NULL) == (a[i].nlist == 0));
			sb_str(b, "(");
			dump_args(a[i].list, a[i].nlist, b);
			sb_str(b, ")");
			break;
		default:
			fail_msg("bad arg type %d", a[i].type);
		}
	}
}

struct pcase {
	const char *in;
	size_t len;
	const char *tag;
	const char *name;	/* NULL: must fail with err */
	const char *args;
	const char *err;
};

#define OK(s, tag, name, args) { IN(s), tag, name, args, NULL }
#define BAD(s, tag, err) { IN(s), tag, NULL, NULL, err }

static const struct pcase cases[] = {
	/* RFC 9051 / RFC 3501 examples and everyday client commands. */
	OK("a001 LOGIN SMITH SESAME\r\n", "a001", "LOGIN", "SMITH SESAME"),
	OK("A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n", "A001", "LOGIN",
	    "L\"FRED FOOBAR\" L\"fat man\""),
	OK("a LOGIN \"fred\" \"a\\\"b\\\\c\"\r\n", "a", "LOGIN", "\"fred\" \"a\\\"b\\\\c\""),
	OK("a LOGIN {5+}\r\nfred! {3+}\r\npw \r\n", "a", "LOGIN", "L\"fred!\" L\"pw \""),
	OK("A142 SELECT INBOX\r\n", "A142", "SELECT", "INBOX"),
	OK("a1 select inbox\r\n", "a1", "SELECT", "inbox"),
	OK("A932 EXAMINE blurdybloop\r\n", "A932", "EXAMINE", "blurdybloop"),
	OK("A02 SELECT INBOX (CONDSTORE)\r\n", "A02", "SELECT", "INBOX (CONDSTORE)"),
	OK("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
	    "A02", "SELECT", "INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"),
	OK("a1 SELECT [Gmail]/Sent\r\n", "a1", "SELECT", "#[Gmail]/Sent"),
	OK("a1 SELECT \"[Gmail]/Sent Mail\"\r\n", "a1", "SELECT", "\"[Gmail]/Sent Mail\""),
	OK("a SELECT \"\xc3\xa4\xc3\xb6\"\r\n", "a", "SELECT", "\"\\xc3\\xa4\\xc3\\xb6\""),
	OK("a SELECT &AOQ-\r\n", "a", "SELECT", "&AOQ-"),
	OK("A003 CREATE owatagusiam/\r\n", "A003", "CREATE", "owatagusiam/"),
	OK("A683 DELETE blurdybloop\r\n", "A683", "DELETE", "blurdybloop"),
	OK("A683 RENAME blurdybloop sarasoop\r\n", "A683", "RENAME", "blurdybloop sarasoop"),
	OK("A002 SUBSCRIBE #news.comp.mail.mime\r\n", "A002", "SUBSCRIBE",
	    "#news.comp.mail.mime"),
	OK("A101 LIST \"\" \"\"\r\n", "A101", "LIST", "\"\" \"\""),
	OK("A682 LIST \"\" *\r\n", "A682", "LIST", "\"\" *"),
	OK("A01 LIST \"\" %\r\n", "A01", "LIST", "\"\" %"),
	OK("A102 LIST #news.comp.mail.misc \"\"\r\n", "A102", "LIST",
	    "#news.comp.mail.misc \"\""),
	OK("A103 LIST /usr/staff/jones \"\"\r\n", "A103", "LIST", "/usr/staff/jones \"\""),
	OK("A202 LIST ~/Mail/ %\r\n", "A202", "LIST", "~/Mail/ %"),
	OK("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n", "A02", "LIST", "(SUBSCRIBED) \"\" \"*\""),
	OK("A03 LIST (SUBSCRIBED) \"\" % RETURN (CHILDREN STATUS (MESSAGES))\r\n", "A03", "LIST",
	    "(SUBSCRIBED) \"\" % RETURN (CHILDREN STATUS (MESSAGES))"),
	OK("A04 LIST (REMOTE SUBSCRIBED) \"/\" \"*\"\r\n", "A04", "LIST",
	    "(REMOTE SUBSCRIBED) \"/\" \"*\""),
	OK("A05 LIST () \"\" (\"INBOX\" \"Drafts\" Sent/%) RETURN (SPECIAL-USE)\r\n", "A05",
	    "LIST", "() \"\" (\"INBOX\" \"Drafts\" Sent/%) RETURN (SPECIAL-USE)"),
	OK("a LIST \"\" \"[Gmail]/%\"\r\n", "a", "LIST", "\"\" \"[Gmail]/%\""),
	OK("A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", "A042", "STATUS",
	    "blurdybloop (UIDNEXT MESSAGES)"),
	OK("a STATUS x ()\r\n", "a", "STATUS", "x ()"),
	OK("A003 APPEND saved-messages (\\Seen) {5}\r\nhello\r\n", "A003", "APPEND",
	    "saved-messages (\\Seen) L\"hello\""),
	OK("A003 APPEND saved-messages (\\Seen \\Draft) \"7-Feb-1994 21:52:25 -0800\" {5}\r\n"
	    "hello\r\n", "A003", "APPEND",
	    "saved-messages (\\Seen \\Draft) \"7-Feb-1994 21:52:25 -0800\" L\"hello\""),
	OK("A004 APPEND INBOX \" 7-Feb-1994 21:52:25 +0100\" {5+}\r\nhel\r\n\r\n", "A004",
	    "APPEND", "INBOX \" 7-Feb-1994 21:52:25 +0100\" L\"hel\\x0d\\x0a\""),
	OK("A005 APPEND Drafts (\\Draft) ~{6}\r\nab\0cd\n\r\n", "A005", "APPEND",
	    "Drafts (\\Draft) B\"ab\\x00cd\\x0a\""),
	OK("A006 APPEND Drafts ~{3+}\r\n\0\0\0\r\n", "A006", "APPEND", "Drafts B\"\\x00\\x00\\x00\""),
	OK("a APPEND x {4}\r\n\r\n\r\n\r\n", "a", "APPEND", "x L\"\\x0d\\x0a\\x0d\\x0a\""),
	OK("a APPEND x {3}\r\nab\r\n", "a", "APPEND", "x L\"ab\\x0d\""),
	OK("a LOGIN {0}\r\n {0}\r\n\r\n", "a", "LOGIN", "L\"\" L\"\""),
	OK("a LOGIN {0+}\r\n {00}\r\n\r\n", "a", "LOGIN", "L\"\" L\"\""),
	OK("a X ({1}\r\nz)\r\n", "a", "X", "(L\"z\")"),
	OK("a X ({1}\r\n( ~{1}\r\n))\r\n", "a", "X", "(L\"(\" B\")\")"),
	OK("a X {3}\r\n{3}\r\n", "a", "X", "L\"{3}\""),
	OK("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n", "A654", "FETCH",
	    "2:4 (FLAGS #BODY[HEADER.FIELDS (DATE FROM)])"),
	OK("a003 fetch 12 full\r\n", "a003", "FETCH", "12 full"),
	OK("a004 fetch 12 body[header]\r\n", "a004", "FETCH", "12 #body[header]"),
	OK("a005 FETCH 12 BODY.PEEK[TEXT]\r\n", "a005", "FETCH", "12 #BODY.PEEK[TEXT]"),
	OK("a006 fetch 12 (body[1.2.MIME] BODY.PEEK[HEADER.FIELDS.NOT (Received \"X-Spam\")]"
	    "<0.2048>)\r\n", "a006", "FETCH",
	    "12 (#body[1.2.MIME] #BODY.PEEK[HEADER.FIELDS.NOT (Received \"X-Spam\")]<0.2048>)"),
	OK("a007 FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)\r\n", "a007",
	    "FETCH", "1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)"),
	OK("a008 FETCH 1 (BINARY.PEEK[1]<0.100> BINARY.SIZE[1])\r\n", "a008", "FETCH",
	    "1 (#BINARY.PEEK[1]<0.100> #BINARY.SIZE[1])"),
	OK("a009 FETCH 1 BODY[]<0.100>\r\n", "a009", "FETCH", "1 #BODY[]<0.100>"),
	OK("a FETCH 1 BINARY[1.2]<0.10>\r\n", "a", "FETCH", "1 #BINARY[1.2]<0.10>"),
	OK("a FETCH 1 (BODY[] RFC822.HEADER RFC822.TEXT UID MODSEQ)\r\n", "a", "FETCH",
	    "1 (#BODY[] RFC822.HEADER RFC822.TEXT UID MODSEQ)"),
	OK("a FETCH 1 ALL\r\n", "a", "FETCH", "1 ALL"),
	OK("a FETCH 1,3:5,9:* FAST\r\n", "a", "FETCH", "1,3:5,9:* FAST"),
	OK("a FETCH $ (FLAGS)\r\n", "a", "FETCH", "$ (FLAGS)"),
	OK("a FETCH 1 BODY[HEADER.FIELDS ({4}\r\nFROM \"TO\")]\r\n", "a", "FETCH",
	    "1 #BODY[HEADER.FIELDS (\"FROM\" \"TO\")]"),
	OK("a FETCH 1 BODY[HEADER.FIELDS ({3}\r\na\"\\)]\r\n", "a", "FETCH",
	    "1 #BODY[HEADER.FIELDS (\"a\\\"\\\\\")]"),
	OK("a FETCH 1 BODY[HEADER.FIELDS (\"X]\" Y])]\r\n", "a", "FETCH",
	    "1 #BODY[HEADER.FIELDS (\"X]\" Y])]"),
	OK("a FETCH 1 BODY[HEADER.FIELDS (X-[a])]\r\n", "a", "FETCH",
	    "1 #BODY[HEADER.FIELDS (X-[a])]"),
	OK("a FETCH 1 (BODY[1]<0.10> FLAGS)\r\n", "a", "FETCH", "1 (#BODY[1]<0.10> FLAGS)"),
	OK("a011 FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n", "a011", "FETCH",
	    "1:* (FLAGS) (CHANGEDSINCE 12345)"),
	OK("A999 UID FETCH 4827313:4828442 FLAGS\r\n", "A999", "UID FETCH",
	    "4827313:4828442 FLAGS"),
	OK("a uid fetch 1 (uid)\r\n", "a", "UID FETCH", "1 (uid)"),
	OK("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", "A003", "STORE", "2:4 +FLAGS (\\Deleted)"),
	OK("A004 STORE 2:4 +FLAGS.SILENT (\\Deleted)\r\n", "A004", "STORE",
	    "2:4 +FLAGS.SILENT (\\Deleted)"),
	OK("A005 STORE 1 -FLAGS ($Forwarded \\Seen)\r\n", "A005", "STORE",
	    "1 -FLAGS ($Forwarded \\Seen)"),
	OK("a STORE 1 FLAGS ()\r\n", "a", "STORE", "1 FLAGS ()"),
	OK("a STORE 1 FLAGS \\Seen\r\n", "a", "STORE", "1 FLAGS \\Seen"),
	OK("a STORE 1 FLAGS (\\*)\r\n", "a", "STORE", "1 FLAGS (\\*)"),
	OK("a UID STORE 1:* (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Seen \\Flagged)\r\n", "a",
	    "UID STORE", "1:* (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Seen \\Flagged)"),
	OK("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n", "A282", "SEARCH",
	    "FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
	OK("A283 SEARCH TEXT \"string not in mailbox\"\r\n", "A283", "SEARCH",
	    "TEXT \"string not in mailbox\""),
	OK("A284 SEARCH CHARSET UTF-8 TEXT {12}\r\n"
	    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n", "A284", "SEARCH",
	    "CHARSET UTF-8 TEXT L\"\\xd0\\xbf\\xd1\\x80\\xd0\\xb8\\xd0\\xb2\\xd0\\xb5\\xd1\\x82\""),
	OK("A285 SEARCH CHARSET UTF-8 OR (FROM {3+}\r\nbob SUBJECT b) NOT (OR TO c CC d) UNSEEN"
	    "\r\n", "A285", "SEARCH",
	    "CHARSET UTF-8 OR (FROM L\"bob\" SUBJECT b) NOT (OR TO c CC d) UNSEEN"),
	OK("A286 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
	    "A286", "SEARCH", "RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
	OK("A287 UID SEARCH 1:100,200:* UID 5:* LARGER 1024\r\n", "A287", "UID SEARCH",
	    "1:100,200:* UID 5:* LARGER 1024"),
	OK("A288 SEARCH HEADER \"Message-ID\" \"<x@y>\" NOT NOT DELETED\r\n", "A288", "SEARCH",
	    "HEADER \"Message-ID\" \"<x@y>\" NOT NOT DELETED"),
	OK("A289 SEARCH OR OR (SEEN) (NOT (OR ANSWERED (DRAFT))) KEYWORD $Junk\r\n", "A289",
	    "SEARCH", "OR OR (SEEN) (NOT (OR ANSWERED (DRAFT))) KEYWORD $Junk"),
	OK("a UID MOVE 42:69 foo\r\n", "a", "UID MOVE", "42:69 foo"),
	OK("a MOVE 1:3 \"Deleted Items\"\r\n", "a", "MOVE", "1:3 \"Deleted Items\""),
	OK("A003 COPY 2:4 MEETING\r\n", "A003", "COPY", "2:4 MEETING"),
	OK("A003 UID EXPUNGE 3000:3002\r\n", "A003", "UID EXPUNGE", "3000:3002"),
	OK("t1 ENABLE UTF8=ACCEPT\r\n", "t1", "ENABLE", "UTF8=ACCEPT"),
	OK("t2 ENABLE CONDSTORE QRESYNC\r\n", "t2", "ENABLE", "CONDSTORE QRESYNC"),
	OK("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music "
	    "Limited\")\r\n", "a023", "ID",
	    "(\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")"),
	OK("a024 ID (\"name\" \"x\" \"version\" NIL)\r\n", "a024", "ID",
	    "(\"name\" \"x\" \"version\" NIL)"),
	OK("a025 ID nil\r\n", "a025", "ID", "NIL"),
	OK("a026 X \"NIL\" NILS nIl\r\n", "a026", "X", "\"NIL\" NILS NIL"),
	OK("a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n", "a", "AUTHENTICATE",
	    "PLAIN dGVzdAB0ZXN0AHRlc3Q="),
	OK("a AUTHENTICATE PLAIN =\r\n", "a", "AUTHENTICATE", "PLAIN ="),
	OK("a AUTHENTICATE SCRAM-SHA-256\r\n", "a", "AUTHENTICATE", "SCRAM-SHA-256"),
	OK("A002 IDLE\r\n", "A002", "IDLE", ""),
	OK("a COMPRESS DEFLATE\r\n", "a", "COMPRESS", "DEFLATE"),
	OK("a002 NOOP\r\n", "a002", "NOOP", ""),
	OK("a002 NOOP\n", "a002", "NOOP", ""),
	OK("a NOOP ~abc\r\n", "a", "NOOP", "~abc"),
	OK("A023 LOGOUT\r\n", "A023", "LOGOUT", ""),
	OK("abcd CAPABILITY\r\n", "abcd", "CAPABILITY", ""),
	OK("a1 STARTTLS\r\n", "a1", "STARTTLS", ""),
	OK("A341 CLOSE\r\n", "A341", "CLOSE", ""),
	OK("a UNSELECT\r\n", "a", "UNSELECT", ""),
	OK("A202 EXPUNGE\r\n", "A202", "EXPUNGE", ""),
	OK("A1 NAMESPACE\r\n", "A1", "NAMESPACE", ""),
	OK("a GETQUOTAROOT INBOX\r\n", "a", "GETQUOTAROOT", "INBOX"),
	OK("a SETMETADATA INBOX (/private/comment {5}\r\nhello /shared/x NIL)\r\n", "a",
	    "SETMETADATA", "INBOX (/private/comment L\"hello\" /shared/x NIL)"),
	OK("a X ((a) (b (c)) ((())))\r\n", "a", "X", "((a) (b (c)) ((())))"),
	OK("a]1 NOOP\r\n", "a]1", "NOOP", ""),
	OK("A.b-c_d!#$&'=~|^`/:;<>?@[ NOOP\r\n", "A.b-c_d!#$&'=~|^`/:;<>?@[", "NOOP", ""),
	OK("a X-FOO_BAR.1 x\r\n", "a", "X-FOO_BAR.1", "x"),
	OK("a X \"\t\x7f\"\r\n", "a", "X", "\"\\x09\\x7f\""),
	OK("a X \"\"\r\n", "a", "X", "\"\""),

	/* Empty lines and missing parts. */
	BAD("", "*", IMAP_E_EMPTY),
	BAD("\r\n", "*", IMAP_E_EMPTY),
	BAD("\n", "*", IMAP_E_EMPTY),
	BAD("a1\r\n", "a1", IMAP_E_NOCMD),
	BAD("a1\n", "a1", IMAP_E_NOCMD),
	BAD("a1 \r\n", "a1", IMAP_E_NOCMD),
	BAD("a1", "a1", IMAP_E_CRLF),
	BAD("a1 NOOP", "a1", IMAP_E_CRLF),
	BAD("a1 NOOP\r", "a1", IMAP_E_CRLF),
	BAD("a1 NOOP\r\r\n", "a1", IMAP_E_CMD),
	BAD("a1 NOOP x\r\r\n", "a1", IMAP_E_CHAR),
	BAD("a1 NOOP\n\r\n", "a1", IMAP_E_TRAILING),
	BAD("a NOOP\r\nb NOOP\r\n", "a", IMAP_E_TRAILING),
	/* Tags. */
	BAD("a+1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("+ NOOP\r\n", "*", IMAP_E_TAG),
	BAD("* NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a*1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a%1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a(1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a)1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a{1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a\"1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a\\1 NOOP\r\n", "*", IMAP_E_TAG),
	BAD(" a NOOP\r\n", "*", IMAP_E_TAG),
	BAD("\ta NOOP\r\n", "*", IMAP_E_TAG),
	BAD("\xc3\xa4 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a\xc3\xa4 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a\x01 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a\x7f NOOP\r\n", "*", IMAP_E_TAG),
	BAD("a\0 NOOP\r\n", "*", IMAP_E_TAG),
	BAD("\0\r\n", "*", IMAP_E_TAG),
	BAD("a\rb NOOP\r\n", "*", IMAP_E_TAG),
	BAD("01234567890123456789012345678901234567890123456789012345678901234 NOOP\r\n", "*",
	    IMAP_E_TAGLEN),
	OK("0123456789012345678901234567890123456789012345678901234567890123 NOOP\r\n",
	    "0123456789012345678901234567890123456789012345678901234567890123", "NOOP", ""),
	/* Command names. */
	BAD("a  NOOP\r\n", "a", IMAP_E_CMD),
	BAD("a NO(OP\r\n", "a", IMAP_E_CMD),
	BAD("a NO\"OP\r\n", "a", IMAP_E_CMD),
	BAD("a NOOP(\r\n", "a", IMAP_E_CMD),
	BAD("a NO%P\r\n", "a", IMAP_E_CMD),
	BAD("a NO*P\r\n", "a", IMAP_E_CMD),
	BAD("a NO]P\r\n", "a", IMAP_E_CMD),
	BAD("a NO\\P\r\n", "a", IMAP_E_CMD),
	BAD("a NO\xc3\xa4\r\n", "a", IMAP_E_CMD),
	BAD("a (NOOP)\r\n", "a", IMAP_E_CMD),
	BAD("a \"NOOP\"\r\n", "a", IMAP_E_CMD),
	BAD("a {4}\r\nNOOP\r\n", "a", IMAP_E_CMD),
	BAD("a ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\r\n", "a", IMAP_E_CMDLEN),
	BAD("a UID ABCDEFGHIJKLMNOPQRSTUVWXYZ012\r\n", "a", IMAP_E_CMDLEN),
	OK("a UID ABCDEFGHIJKLMNOPQRSTUVWXYZ01\r\n", "a", "UID ABCDEFGHIJKLMNOPQRSTUVWXYZ01", ""),
	OK("a ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\r\n", "a", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", ""),
	BAD("a UID\r\n", "a", IMAP_E_UID),
	BAD("a UID \r\n", "a", IMAP_E_UID),
	BAD("a uid\n", "a", IMAP_E_UID),
	BAD("a UID  FETCH 1 FLAGS\r\n", "a", IMAP_E_CMD),
	BAD("a UID(FETCH)\r\n", "a", IMAP_E_CMD),
	/* Spacing. */
	BAD("a NOOP \r\n", "a", IMAP_E_NOARG),
	BAD("a X a \r\n", "a", IMAP_E_NOARG),
	BAD("a X  b\r\n", "a", IMAP_E_EXTRASP),
	BAD("a X ( b)\r\n", "a", IMAP_E_EXTRASP),
	BAD("a X (b )\r\n", "a", IMAP_E_EXTRASP),
	BAD("a X ( )\r\n", "a", IMAP_E_EXTRASP),
	BAD("a X (b)(c)\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X \"b\"c\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X \"b\"\"c\"\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X b\"c\"\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X b(c)\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X {1}\r\nbc\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X {3}\r\nabcd\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X\tb\r\n", "a", IMAP_E_CMD),
	BAD("a X b\tc\r\n", "a", IMAP_E_CHAR),
	/* Parentheses. */
	BAD("a X (b\r\n", "a", IMAP_E_UNCLOSED),
	BAD("a X (\r\n", "a", IMAP_E_UNCLOSED),
	BAD("a X ((b)\r\n", "a", IMAP_E_UNCLOSED),
	BAD("a X (b (c)\r\n", "a", IMAP_E_UNCLOSED),
	BAD("a X b)\r\n", "a", IMAP_E_PAREN),
	BAD("a X )\r\n", "a", IMAP_E_PAREN),
	BAD("a X (b))\r\n", "a", IMAP_E_PAREN),
	BAD("a X ())\r\n", "a", IMAP_E_PAREN),
	BAD("a X ({1}\r\n)\r\n", "a", IMAP_E_UNCLOSED),
	/* Atoms and flags. */
	BAD("a SELECT \xc3\xa4\r\n", "a", IMAP_E_CHAR),
	BAD("a SELECT a\xc3\xa4\r\n", "a", IMAP_E_CHAR),
	BAD("a SELECT a\x01" "b\r\n", "a", IMAP_E_CHAR),
	BAD("a SELECT \x01\r\n", "a", IMAP_E_CHAR),
	BAD("a SELECT a\x7f\r\n", "a", IMAP_E_CHAR),
	BAD("a SELECT a\0b\r\n", "a", IMAP_E_CHAR),
	BAD("a SELECT a\rb\r\n", "a", IMAP_E_CHAR),
	BAD("a SELECT \r\r\n", "a", IMAP_E_CHAR),
	BAD("a X \\\r\n", "a", IMAP_E_FLAG),
	BAD("a X (\\)\r\n", "a", IMAP_E_FLAG),
	BAD("a X \\\\Seen\r\n", "a", IMAP_E_FLAG),
	BAD("a X a\\b\r\n", "a", IMAP_E_CHAR),
	OK("a X } a}b\r\n", "a", "X", "} a}b"),
	/* Quoted strings. */
	BAD("a X \"abc\r\n", "a", IMAP_E_QUOTED),
	BAD("a X \"abc\n", "a", IMAP_E_QUOTED),
	BAD("a X \"\r\n", "a", IMAP_E_QUOTED),
	BAD("a X \"a\\bc\"\r\n", "a", IMAP_E_ESCAPE),
	BAD("a X \"a\\n\"\r\n", "a", IMAP_E_ESCAPE),
	BAD("a X \"a\\'\"\r\n", "a", IMAP_E_ESCAPE),
	BAD("a X \"a\\\xc3\xa4\"\r\n", "a", IMAP_E_ESCAPE),
	BAD("a X \"a\\\r\n", "a", IMAP_E_QUOTED),
	BAD("a X \"a\\\"\r\n", "a", IMAP_E_QUOTED),
	BAD("a X \"a\0b\"\r\n", "a", IMAP_E_QNUL),
	BAD("a X \"a\\\0\"\r\n", "a", IMAP_E_ESCAPE),
	BAD("a X \"a\rb\"\r\n", "a", IMAP_E_QUOTED),
	BAD("a X \"a\r\n\"\r\n", "a", IMAP_E_QUOTED),
	/* Literals. */
	BAD("a X {5}\r\nab\r\n", "a", IMAP_E_LITSHORT),
	BAD("a X {5}\r\n", "a", IMAP_E_LITSHORT),
	BAD("a X {18446744073709551615}\r\n", "a", IMAP_E_LITSHORT),
	BAD("a X {18446744073709551616}\r\n", "a", IMAP_E_LITBIG),
	BAD("a X {99999999999999999999999}\r\n", "a", IMAP_E_LITBIG),
	BAD("a X {}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {+}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5a}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {-1}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5-}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {+5}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5++}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X { 5}\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5 }\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5}x\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5} y\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5}\r\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {5\r\n", "a", IMAP_E_LITERAL),
	BAD("a X {\r\n", "a", IMAP_E_LITERAL),
	BAD("a X ~{\r\n", "a", IMAP_E_LITERAL),
	BAD("a X ~{3\r\n", "a", IMAP_E_LITERAL),
	BAD("a X x{1}\r\nx\r\n", "a", IMAP_E_NOSPACE),
	BAD("a X {3}\r\na\0b\r\n", "a", IMAP_E_LITNUL),
	BAD("a X {3+}\r\n\0bc\r\n", "a", IMAP_E_LITNUL),
	BAD("a X {1}\r\n\n", "a", IMAP_E_CRLF),
	/* Sections. */
	BAD("a FETCH 1 BODY[HEADER\r\n", "a", IMAP_E_SECTION),
	BAD("a FETCH 1 BODY[\r\n", "a", IMAP_E_SECTION),
	BAD("a FETCH 1 BODY[(]\r\n", "a", IMAP_E_SECTION),
	BAD("a FETCH 1 BODY[HEADER.FIELDS (A]\r\n", "a", IMAP_E_SECTION),
	BAD("a FETCH 1 BODY[)]\r\n", "a", IMAP_E_PAREN),
	BAD("a FETCH 1 BODY[\x01]\r\n", "a", IMAP_E_SECTCHAR),
	BAD("a FETCH 1 BODY[\xc3\xa4]\r\n", "a", IMAP_E_SECTCHAR),
	BAD("a FETCH 1 BODY[HEADER.FIELDS (\"\xc3\xa4\")]\r\n", "a", IMAP_E_SECTCHAR),
	BAD("a FETCH 1 BODY[HEADER.FIELDS (\"\t\")]\r\n", "a", IMAP_E_SECTCHAR),
	BAD("a FETCH 1 BODY[a\\b]\r\n", "a", IMAP_E_SECTCHAR),
	BAD("a FETCH 1 BODY[[]]\r\n", "a", IMAP_E_SECTCHAR),
	BAD("a FETCH 1 BODY[HEADER.FIELDS (\"A)]\r\n", "a", IMAP_E_QUOTED),
	BAD("a FETCH 1 BODY[HEADER.FIELDS (\"A\\x\")]\r\n", "a", IMAP_E_ESCAPE),
	BAD("a FETCH 1 BODY[HEADER.FIELDS ({3}\r\na\rb)]\r\n", "a", IMAP_E_SECTLIT),
	BAD("a FETCH 1 BODY[HEADER.FIELDS ({3}\r\n\xc3\xa4x)]\r\n", "a", IMAP_E_SECTLIT),
	BAD("a FETCH 1 BODY[HEADER.FIELDS ({9}\r\nab)]\r\n", "a", IMAP_E_LITSHORT),
	BAD("a FETCH 1 BODY[HEADER.FIELDS {3} x]\r\n", "a", IMAP_E_LITERAL),
	BAD("a FETCH 1 BODY[]<0.10\"x\">\r\n", "a", IMAP_E_NOSPACE),
	BAD("a FETCH 1 (BODY[1] BODY[2]\r\n", "a", IMAP_E_UNCLOSED),
};

static void
check_case(const struct pcase *c, size_t idx, const char *in)
{
	struct imap_cmd cmd;
	struct sb b;
	const char *err = NULL;
	int r;

	r = imap_parse(in, c->len, &plim, &cmd, &err);
	if (c->name == NULL) {
		if (r != -1 || err == NULL || strcmp(err, c->err) != 0)
			fail_msg("case %zu \"%s\": r=%d err \"%s\", want \"%s\"", idx, c->in, r,
			    err ? err : "(null)", c->err);
		if (strcmp(cmd.tag, c->tag) != 0)
			fail_msg("case %zu \"%s\": tag \"%s\", want \"%s\"", idx, c->in, cmd.tag,
			    c->tag);
		assert_null(cmd.args);
		assert_int_equal(cmd.nargs, 0);
		assert_null(cmd.arena);
		imap_cmd_free(&cmd);
		return;
	}
	if (r != 0)
		fail_msg("case %zu \"%s\": rejected \"%s\"", idx, c->in, err ? err : "(null)");
	if (strcmp(cmd.tag, c->tag) != 0 || strcmp(cmd.name, c->name) != 0)
		fail_msg("case %zu \"%s\": tag \"%s\" name \"%s\"", idx, c->in, cmd.tag, cmd.name);
	b.n = 0;
	b.p[0] = '\0';
	dump_args(cmd.args, cmd.nargs, &b);
	if (strcmp(b.p, c->args) != 0)
		fail_msg("case %zu \"%s\":\n got  %s\n want %s", idx, c->in, b.p, c->args);
	imap_cmd_free(&cmd);
	assert_null(cmd.arena);
	imap_cmd_free(&cmd);
}

static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* An exact-size copy: ASan catches any read past the command. */
		char *in = malloc(cases[i].len ? cases[i].len : 1);

		assert_non_null(in);
		memcpy(in, cases[i].in, cases[i].len);
		check_case(&cases[i], i, in);
		free(in);
	}
}

/* Every prefix of every case is parsed without crashing or reading past it;
 * a prefix that does not end in LF is never a command. */
static void
test_prefixes(void **state)
{
	struct imap_cmd cmd;
	const char *err;
	size_t i, k;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (k = 0; k < cases[i].len; k++) {
			char *p = malloc(k ? k : 1);

			assert_non_null(p);
			memcpy(p, cases[i].in, k);
			err = NULL;
			r = imap_parse(p, k, &plim, &cmd, &err);
			if (r == 0) {
				assert_true(k > 0 && p[k - 1] == '\n');
				imap_cmd_free(&cmd);
			} else
				assert_non_null(err);
			free(p);
		}
	}
}

/* ---- framing ---- */

struct fev {
	enum imap_frame_ev ev;
	size_t end;		/* stream offset just after the event's bytes */
	size_t cmd_len;
	uint64_t lsize;
	bool nonsync;
};

#define MAXEV 512

struct trace {
	struct fev e[MAXEV];
	size_t n;
	struct imap_framer f;	/* state at the end */
};

/*
 * Frame a stream. how: 0 all at once, 1 byte by byte, 2 random chunk sizes.
 * MORE is not recorded; a run of DROPPED is recorded once, when it ends.
 * Checks that commands are contiguous: each starts where the previous
 * command, rejected literal or dropped line ended.
 */
static void
frame_trace(const char *in, size_t len, const struct imap_frame_limits *lim, int how,
    unsigned seed, struct trace *t)
{
	size_t off = 0, n, used, cmd_len, boundary = 0;
	uint64_t lsize;
	bool nonsync;
	enum imap_frame_ev ev;

	memset(t, 0, sizeof(*t));
	while (off < len) {
		if (how == 0)
			n = len - off;
		else if (how == 1)
			n = 1;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 17;
			if (n > len - off)
				n = len - off;
		}
		ev = imap_frame(&t->f, lim, in + off, n, &used, &cmd_len, &lsize, &nonsync);
		assert_true(used <= n);
		assert_true(used > 0);
		off += used;
		switch (ev) {
		case IMAP_FRAME_MORE:
			assert_int_equal(used, n);
			assert_false(t->f.skipping);
			continue;
		case IMAP_FRAME_DROPPED:
			if (t->f.skipping) {
				assert_int_equal(used, n);
				continue;
			}
			assert_int_equal(in[off - 1], '\n');
			boundary = off;
			break;
		case IMAP_FRAME_COMMAND:
			assert_int_equal(in[off - 1], '\n');
			assert_int_equal(off - cmd_len, boundary);
			boundary = off;
			break;
		case IMAP_FRAME_CONTINUE:
			assert_int_equal(in[off - 1], '\n');
			assert_false(nonsync);
			assert_int_equal(off - cmd_len, boundary);
			break;
		case IMAP_FRAME_LITERAL_TOO_BIG:
			assert_int_equal(in[off - 1], '\n');
			boundary = off;
			break;
		case IMAP_FRAME_TOO_LONG:
			if (!t->f.skipping) {
				assert_int_equal(in[off - 1], '\n');
				boundary = off;
			}
			break;
		}
		assert_true(t->n < MAXEV);
		t->e[t->n].ev = ev;
		t->e[t->n].end = off;
		t->e[t->n].cmd_len = ev == IMAP_FRAME_COMMAND || ev == IMAP_FRAME_CONTINUE ?
		    cmd_len : 0;
		t->e[t->n].lsize = lsize;
		t->e[t->n].nonsync = nonsync;
		t->n++;
	}
}

static void
same_trace(const struct trace *a, const struct trace *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->e[i].ev, b->e[i].ev);
		assert_int_equal(a->e[i].end, b->e[i].end);
		assert_int_equal(a->e[i].cmd_len, b->e[i].cmd_len);
		assert_true(a->e[i].lsize == b->e[i].lsize);
		assert_int_equal(a->e[i].nonsync, b->e[i].nonsync);
	}
	assert_int_equal(a->f.cmd_len, b->f.cmd_len);
	assert_int_equal(a->f.line_len, b->f.line_len);
	assert_true(a->f.literal_left == b->f.literal_left);
	assert_int_equal(a->f.nliterals, b->f.nliterals);
	assert_int_equal(a->f.in_literal, b->f.in_literal);
	assert_int_equal(a->f.skipping, b->f.skipping);
}

/* Frame whole, byte by byte and in random chunks: all the same. */
static void
trace_all(const char *in, size_t len, const struct imap_frame_limits *lim, struct trace *t)
{
	static struct trace t2;
	unsigned seed;

	frame_trace(in, len, lim, 0, 0, t);
	frame_trace(in, len, lim, 1, 0, &t2);
	same_trace(t, &t2);
	for (seed = 1; seed < 8; seed++) {
		frame_trace(in, len, lim, 2, seed, &t2);
		same_trace(t, &t2);
	}
}

/* Every command the parser accepts frames as exactly one command. */
static void
test_table_frames(void **state)
{
	static struct trace t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];

		if (c->len == 0)
			continue;
		trace_all(c->in, c->len, &flim, &t);
		if (c->name == NULL)
			continue;
		if (t.n == 0 || t.e[t.n - 1].ev != IMAP_FRAME_COMMAND ||
		    t.e[t.n - 1].end != c->len || t.e[t.n - 1].cmd_len != c->len)
			fail_msg("case %zu \"%s\": not framed as one command", i, c->in);
		for (size_t k = 0; k + 1 < t.n; k++)
			assert_int_equal(t.e[k].ev, IMAP_FRAME_CONTINUE);
	}
}

/* All cases back to back in one stream, chunked every way. */
static void
test_stream(void **state)
{
	static struct trace t;
	char *all;
	size_t i, n = 0, ncmd = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		n += cases[i].len;
	all = malloc(n);
	assert_non_null(all);
	n = 0;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Leave out inputs that do not end their line: they would join
		 * the next one. */
		if (cases[i].len == 0 || cases[i].in[cases[i].len - 1] != '\n')
			continue;
		if (strstr(cases[i].in, "5}\r\n") != NULL && cases[i].name == NULL)
			continue;
		memcpy(all + n, cases[i].in, cases[i].len);
		n += cases[i].len;
	}
	trace_all(all, n, &flim, &t);
	for (i = 0; i < t.n; i++)
		if (t.e[i].ev == IMAP_FRAME_COMMAND)
			ncmd++;
	assert_true(ncmd > 150);
	assert_int_equal(t.f.cmd_len, 0);
	free(all);
}

static enum imap_frame_ev
frame1(struct imap_framer *f, const struct imap_frame_limits *lim, const char *s,
    size_t *used, size_t *cmd_len, uint64_t *lsize, bool *nonsync)
{
	return imap_frame(f, lim, s, strlen(s), used, cmd_len, lsize, nonsync);
}

static void
test_frame_basic(void **state)
{
	struct imap_framer f;
	size_t used, clen;
	uint64_t ls;
	bool ns;
	const char *s;

	(void)state;
	memset(&f, 0, sizeof(f));
	/* Pipelined commands: one at a time. */
	s = "a NOOP\r\nb NOOP\nc";
	assert_int_equal(frame1(&f, &flim, s, &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(used, 8);
	assert_int_equal(clen, 8);
	assert_int_equal(imap_frame(&f, &flim, s + 8, strlen(s + 8), &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(used, 7);
	assert_int_equal(clen, 7);
	assert_int_equal(imap_frame(&f, &flim, s + 15, 1, &used, &clen, &ls, &ns),
	    IMAP_FRAME_MORE);
	assert_int_equal(used, 1);
	assert_int_equal(f.cmd_len, 1);
	assert_int_equal(imap_frame(&f, &flim, "", 0, &used, &clen, &ls, &ns), IMAP_FRAME_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(frame1(&f, &flim, "\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(clen, 3);

	/* RFC 9051 7.5: the synchronizing literal dance. */
	memset(&f, 0, sizeof(f));
	s = "A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n";
	assert_int_equal(frame1(&f, &flim, s, &used, &clen, &ls, &ns), IMAP_FRAME_CONTINUE);
	assert_int_equal(used, 17);
	assert_int_equal(clen, 17);
	assert_true(ls == 11);
	assert_false(ns);
	assert_true(f.in_literal);
	assert_true(f.literal_left == 11);
	assert_int_equal(frame1(&f, &flim, s + 17, &used, &clen, &ls, &ns), IMAP_FRAME_CONTINUE);
	assert_int_equal(used, 17);
	assert_true(ls == 7);
	assert_int_equal(frame1(&f, &flim, s + 34, &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(used, 9);
	assert_int_equal(clen, strlen(s));
	assert_int_equal(f.cmd_len, 0);

	/* {n+}: no continuation. */
	memset(&f, 0, sizeof(f));
	s = "a LOGIN {3+}\r\nabc {1+}\n\n\r\n";
	assert_int_equal(frame1(&f, &flim, s, &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(used, strlen(s));
	assert_int_equal(clen, strlen(s));
	/* literal8, synchronizing or not. */
	s = "a APPEND x ~{2}\r\n";
	assert_int_equal(frame1(&f, &flim, s, &used, &clen, &ls, &ns), IMAP_FRAME_CONTINUE);
	assert_true(ls == 2);
	assert_int_equal(imap_frame(&f, &flim, "\0\n\r\n", 4, &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(clen, strlen(s) + 4);
	s = "a APPEND x ~{2+}\r\n\r\n\r\n";
	assert_int_equal(frame1(&f, &flim, s, &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(clen, strlen(s));

	/* {0}: a continuation, then the line goes on at once. */
	memset(&f, 0, sizeof(f));
	s = "a LOGIN {0}\r\n {0}\r\n\r\n";
	assert_int_equal(frame1(&f, &flim, s, &used, &clen, &ls, &ns), IMAP_FRAME_CONTINUE);
	assert_true(ls == 0);
	assert_false(f.in_literal);
	assert_int_equal(frame1(&f, &flim, s + used, &used, &clen, &ls, &ns),
	    IMAP_FRAME_CONTINUE);
	assert_int_equal(frame1(&f, &flim, "\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(clen, strlen(s));

	/* Fewer literal bytes than announced: more is needed. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(frame1(&f, &flim, "a X {5}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_CONTINUE);
	assert_int_equal(frame1(&f, &flim, "ab\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_MORE);
	assert_int_equal(used, 4);
	assert_true(f.literal_left == 1);
	assert_int_equal(frame1(&f, &flim, "c", &used, &clen, &ls, &ns), IMAP_FRAME_MORE);
	assert_false(f.in_literal);
	assert_int_equal(frame1(&f, &flim, "\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(clen, 9 + 5 + 2);
}

/* Only "{n}" / "{n+}" right before the line end, outside quotes, counts. */
static void
test_frame_not_literals(void **state)
{
	static const char *const t[] = {
		"a X {5} y\r\n", "a X {}\r\n", "a X {+}\r\n", "a X {5a}\r\n", "a X {-5}\r\n",
		"a X {5-}\r\n", "a X {+5}\r\n", "a X {5++}\r\n", "a X { 5}\r\n", "a X {5 }\r\n",
		"a X {5 +}\r\n", "a X {5}}\r\n", "a X {5}\r\r\n", "a X {5}x\r\n", "a X {{}\r\n",
		"a X \"{5}\r\n", "a X \"a\\\"{5}\r\n", "a X \"{5}\"\r\n", "a X {5\r\n",
		"a X 5}\r\n", "a X {5}\r}\r\n", "a X \"\\\\\\\" {5}\r\n",
	};
	struct imap_framer f;
	size_t i, used, clen;
	uint64_t ls;
	bool ns;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&f, 0, sizeof(f));
		if (frame1(&f, &flim, t[i], &used, &clen, &ls, &ns) != IMAP_FRAME_COMMAND ||
		    used != strlen(t[i]) || clen != used)
			fail_msg("\"%s\": not one plain command", t[i]);
	}
	/* A quote that closes before the literal, and escapes that end. */
	static const char *const lit[] = {
		"a X \"\\\\\" {5}\r\n", "a X \"x\" {5}\r\n", "a X \"\\\"\" {5}\r\n",
		"a X {9}{5}\r\n", "a X {{5}\r\n", "a X {05}\r\n", "a X\"\" {5}\n",
		"a X BODY[HEADER.FIELDS {5}\r\n",
	};
	for (i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
		memset(&f, 0, sizeof(f));
		if (frame1(&f, &flim, lit[i], &used, &clen, &ls, &ns) != IMAP_FRAME_CONTINUE ||
		    used != strlen(lit[i]) || ls != 5)
			fail_msg("\"%s\": not a literal", lit[i]);
	}
}

static void
test_frame_literal_limits(void **state)
{
	struct imap_frame_limits lim = flim;
	struct imap_framer f;
	size_t used, clen;
	uint64_t ls;
	bool ns;

	(void)state;
	memset(&f, 0, sizeof(f));
	/* Overflow saturates and is always too big. */
	lim.max_literal = UINT64_MAX;
	lim.max_nonsync = UINT64_MAX;
	lim.max_command = SIZE_MAX;
	assert_int_equal(frame1(&f, &lim, "a X {99999999999999999999999}\r\nb NOOP\r\n", &used,
	    &clen, &ls, &ns), IMAP_FRAME_LITERAL_TOO_BIG);
	assert_true(ls == UINT64_MAX);
	assert_false(ns);
	assert_int_equal(used, strlen("a X {99999999999999999999999}\r\n"));
	/* The framer is ready for the next command. */
	assert_int_equal(f.cmd_len, 0);
	assert_false(f.skipping);
	assert_int_equal(frame1(&f, &lim, "b NOOP\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(frame1(&f, &lim, "a X {18446744073709551616+}\r\n", &used, &clen, &ls,
	    &ns), IMAP_FRAME_LITERAL_TOO_BIG);
	assert_true(ls == UINT64_MAX);
	assert_true(ns);

	/* {4294967295}: fine when the limits allow it. */
	lim = flim;
	lim.max_literal = 4294967295u;
	lim.max_command = SIZE_MAX;
	assert_int_equal(frame1(&f, &lim, "a APPEND x {4294967295}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_CONTINUE);
	assert_true(ls == 4294967295u);
	assert_true(f.literal_left == 4294967295u);
	memset(&f, 0, sizeof(f));
	assert_int_equal(frame1(&f, &lim, "a APPEND x {4294967296}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_LITERAL_TOO_BIG);
	assert_true(ls == 4294967296u);
	lim.max_literal = 100;
	assert_int_equal(frame1(&f, &lim, "a APPEND x {4294967295}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_LITERAL_TOO_BIG);
	assert_int_equal(frame1(&f, &lim, "a APPEND x {100}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_CONTINUE);
	memset(&f, 0, sizeof(f));
	assert_int_equal(frame1(&f, &lim, "a APPEND x {101}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_LITERAL_TOO_BIG);
	assert_true(ls == 101);

	/* LITERAL-: {n+} over max_nonsync is refused, {n} of the same size not. */
	lim = flim;
	assert_int_equal(frame1(&f, &lim, "a APPEND x {4097+}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_LITERAL_TOO_BIG);
	assert_true(ns);
	assert_true(ls == 4097);
	assert_int_equal(frame1(&f, &lim, "a APPEND x {4096+}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_MORE);
	assert_true(f.literal_left == 4096);
	memset(&f, 0, sizeof(f));
	assert_int_equal(frame1(&f, &lim, "a APPEND x {4097}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_CONTINUE);

	/* max_literals. */
	lim = flim;
	lim.max_literals = 2;
	memset(&f, 0, sizeof(f));
	assert_int_equal(frame1(&f, &lim, "a X {1+}\r\na {1}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_CONTINUE);
	assert_int_equal(frame1(&f, &lim, "b {1}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_LITERAL_TOO_BIG);
	assert_int_equal(f.nliterals, 0);
	lim.max_literals = 0;
	assert_int_equal(frame1(&f, &lim, "a X {0}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_LITERAL_TOO_BIG);

	/* max_command: a literal that would not fit. */
	lim = flim;
	lim.max_command = 30;
	memset(&f, 0, sizeof(f));
	/* 10 bytes so far; 20 more fit, and then there is no room for the LF. */
	assert_int_equal(frame1(&f, &lim, "a X {21}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_LITERAL_TOO_BIG);
	assert_int_equal(frame1(&f, &lim, "a X {20}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_CONTINUE);
	assert_int_equal(frame1(&f, &lim, "01234567890123456789", &used, &clen, &ls, &ns),
	    IMAP_FRAME_MORE);
	assert_int_equal(frame1(&f, &lim, "\n", &used, &clen, &ls, &ns), IMAP_FRAME_TOO_LONG);
	assert_false(f.skipping);
	assert_int_equal(f.cmd_len, 0);
	assert_int_equal(frame1(&f, &lim, "a X {19}\r\n0123456789012345678\r\n", &used, &clen,
	    &ls, &ns), IMAP_FRAME_CONTINUE);
	assert_int_equal(frame1(&f, &lim, "0123456789012345678\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(clen, 30);
}

static void
test_frame_too_long(void **state)
{
	struct imap_frame_limits lim = flim;
	struct imap_framer f;
	size_t used, clen;
	uint64_t ls;
	bool ns;

	(void)state;
	lim.max_line = 10;
	memset(&f, 0, sizeof(f));
	/* Exactly max_line bytes before CRLF or LF. */
	assert_int_equal(frame1(&f, &lim, "a NOOP 123\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(frame1(&f, &lim, "a NOOP 123\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	/* One more: TOO_LONG at the 11th byte, then the rest of the line goes. */
	assert_int_equal(frame1(&f, &lim, "a NOOP 1234\r\nb NOOP\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_TOO_LONG);
	assert_int_equal(used, 11);
	assert_true(f.skipping);
	assert_int_equal(frame1(&f, &lim, "\r\nb NOOP\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_DROPPED);
	assert_int_equal(used, 2);
	assert_false(f.skipping);
	assert_int_equal(frame1(&f, &lim, "b NOOP\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(clen, 8);
	/* A CR at the limit that is not followed by LF is content. */
	assert_int_equal(frame1(&f, &lim, "a NOOP 123\rx\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_TOO_LONG);
	assert_int_equal(used, 12);
	assert_int_equal(frame1(&f, &lim, "\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_DROPPED);
	assert_int_equal(frame1(&f, &lim, "a NOOP 123\r\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_TOO_LONG);
	assert_int_equal(used, 12);
	assert_int_equal(frame1(&f, &lim, "\n", &used, &clen, &ls, &ns), IMAP_FRAME_DROPPED);
	/* Long junk without LF: dropped in any chunking, even a literal announcement. */
	assert_int_equal(frame1(&f, &lim, "0123456789abcdef", &used, &clen, &ls, &ns),
	    IMAP_FRAME_TOO_LONG);
	assert_int_equal(frame1(&f, &lim, "xxxx {5}", &used, &clen, &ls, &ns),
	    IMAP_FRAME_DROPPED);
	assert_int_equal(used, 8);
	assert_true(f.skipping);
	assert_int_equal(frame1(&f, &lim, "\r\nabcde\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_DROPPED);
	assert_int_equal(used, 2);
	assert_int_equal(frame1(&f, &lim, "abcde\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	/* The line length restarts after each literal. */
	assert_int_equal(frame1(&f, &lim, "a X {30+}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_MORE);
	assert_int_equal(frame1(&f, &lim, "012345678901234567890123456789", &used, &clen, &ls,
	    &ns), IMAP_FRAME_MORE);
	assert_int_equal(frame1(&f, &lim, " 3456789012\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_TOO_LONG);
	assert_int_equal(frame1(&f, &lim, "\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_DROPPED);
	assert_int_equal(frame1(&f, &lim, "a X {30+}\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_MORE);
	assert_int_equal(frame1(&f, &lim, "012345678901234567890123456789", &used, &clen, &ls,
	    &ns), IMAP_FRAME_MORE);
	assert_int_equal(frame1(&f, &lim, " 345678901\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(clen, 11 + 30 + 12);
	/* max_line 0: only empty lines. */
	lim.max_line = 0;
	assert_int_equal(frame1(&f, &lim, "\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_COMMAND);
	assert_int_equal(frame1(&f, &lim, "a\r\n", &used, &clen, &ls, &ns), IMAP_FRAME_TOO_LONG);
	assert_int_equal(used, 1);

	/* max_command hit by line bytes. */
	lim = flim;
	lim.max_command = 12;
	memset(&f, 0, sizeof(f));
	assert_int_equal(frame1(&f, &lim, "a NOOP 123\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_COMMAND);
	assert_int_equal(frame1(&f, &lim, "a NOOP 1234\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_TOO_LONG);
	assert_int_equal(used, 13);
	assert_false(f.skipping);
	assert_int_equal(frame1(&f, &lim, "a NOOP 12345\r\n", &used, &clen, &ls, &ns),
	    IMAP_FRAME_TOO_LONG);
	assert_int_equal(used, 13);
	assert_true(f.skipping);
	assert_int_equal(frame1(&f, &lim, "\n", &used, &clen, &ls, &ns), IMAP_FRAME_DROPPED);
}

/* Streams with limits hit, framed in every chunking. */
static void
test_frame_chunking(void **state)
{
	static const char stream[] =
	    "a NOOP\r\n"
	    "b LOGIN {5}\r\nhello {3+}\r\nabc\r\n"
	    "c 0123456789012345678901234567890123456789 much too long {5}\r\nfoo\r\n"
	    "d APPEND x {999999}\r\n"
	    "e APPEND x {99999999999999999999999+}\r\n"
	    "f X {0}\r\n\r\n"
	    "g X \"{5}\r\n"
	    "h X ~{4}\r\n\0\r\n\n\r\n"
	    "\r\n"
	    "i X {1}\r\n{ {1}\r\n}\r\n"
	    "j X {5000+}\r\n"
	    "k X \"\\\" {3}\r\n"
	    "l X {1}\r\n\n\n"
	    "m X {3}\r\nab";
	struct imap_frame_limits lim = flim;
	static struct trace t;
	size_t i, cmds = 0, big = 0, longs = 0, conts = 0;

	(void)state;
	lim.max_line = 40;
	lim.max_literal = 1000;
	trace_all(stream, sizeof(stream) - 1, &lim, &t);
	for (i = 0; i < t.n; i++) {
		cmds += t.e[i].ev == IMAP_FRAME_COMMAND;
		big += t.e[i].ev == IMAP_FRAME_LITERAL_TOO_BIG;
		longs += t.e[i].ev == IMAP_FRAME_TOO_LONG;
		conts += t.e[i].ev == IMAP_FRAME_CONTINUE;
	}
	assert_int_equal(cmds, 10);
	assert_int_equal(big, 3);
	assert_int_equal(longs, 1);
	assert_int_equal(conts, 7);
	/* It ends inside m's literal. */
	assert_true(t.f.in_literal);
	assert_true(t.f.literal_left == 1);
}

/* ---- parse limits and tree ---- */

static void
test_limits(void **state)
{
	struct imap_parse_limits lim = { 3, 5 };
	struct imap_cmd cmd;
	const char *err;

	(void)state;
	assert_int_equal(imap_parse(IN("a X (((a)))\r\n"), &lim, &cmd, &err), 0);
	assert_int_equal(cmd.nargs, 1);
	imap_cmd_free(&cmd);
	assert_int_equal(imap_parse(IN("a X ((((a))))\r\n"), &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_DEPTH);
	assert_string_equal(cmd.tag, "a");
	assert_int_equal(imap_parse(IN("a X ((((\r\n"), &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_DEPTH);
	/* A section's inner lists count with the outer ones. */
	assert_int_equal(imap_parse(IN("a FETCH 1 (BODY[HEADER.FIELDS (A)])\r\n"), &lim, &cmd,
	    &err), 0);
	imap_cmd_free(&cmd);
	assert_int_equal(imap_parse(IN("a FETCH 1 ((BODY[X ((A))]))\r\n"), &lim, &cmd, &err),
	    -1);
	assert_string_equal(err, IMAP_E_DEPTH);
	/* Five arguments in all, lists included. */
	assert_int_equal(imap_parse(IN("a X 1 2 3 4 5\r\n"), &lim, &cmd, &err), 0);
	imap_cmd_free(&cmd);
	assert_int_equal(imap_parse(IN("a X 1 2 3 4 5 6\r\n"), &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_ARGS);
	assert_int_equal(imap_parse(IN("a X (1 (2) 3)\r\n"), &lim, &cmd, &err), 0);
	imap_cmd_free(&cmd);
	assert_int_equal(imap_parse(IN("a X (1 (2) 3 \"4\")\r\n"), &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_ARGS);
	assert_int_equal(imap_parse(IN("a X () () () () () ()\r\n"), &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_ARGS);
	assert_int_equal(imap_parse(IN("a X {1}\r\na {1}\r\nb {1}\r\nc NIL x BODY[]\r\n"), &lim,
	    &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_ARGS);
	/* Zero limits: no lists, no arguments; names still fine. */
	lim.max_depth = 0;
	lim.max_args = 0;
	assert_int_equal(imap_parse(IN("a UID EXPUNGE\r\n"), &lim, &cmd, &err), 0);
	assert_string_equal(cmd.name, "UID EXPUNGE");
	imap_cmd_free(&cmd);
	assert_int_equal(imap_parse(IN("a X ()\r\n"), &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_ARGS);
	lim.max_args = 10;
	assert_int_equal(imap_parse(IN("a X ()\r\n"), &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_DEPTH);
	assert_int_equal(imap_parse(IN("a FETCH 1 BODY[HEADER.FIELDS (A)]\r\n"), &lim, &cmd,
	    &err), -1);
	assert_string_equal(err, IMAP_E_DEPTH);
	assert_int_equal(imap_parse(IN("a FETCH 1 BODY[HEADER]\r\n"), &lim, &cmd, &err), 0);
	imap_cmd_free(&cmd);
}

/* Deep nesting and many arguments with big limits: no recursion, no quadratic blowup. */
static void
test_big(void **state)
{
	struct imap_parse_limits lim = { 100000, 1000000 };
	struct imap_cmd cmd;
	const char *err;
	size_t n = 50000, i, len;
	char *s = malloc(2 * n + 16);
	const struct imap_arg *a;

	(void)state;
	assert_non_null(s);
	len = 0;
	memcpy(s, "a X ", 4);
	len = 4;
	for (i = 0; i < n; i++)
		s[len++] = '(';
	for (i = 0; i < n; i++)
		s[len++] = ')';
	s[len++] = '\r';
	s[len++] = '\n';
	assert_int_equal(imap_parse(s, len, &lim, &cmd, &err), 0);
	a = cmd.args;
	for (i = 0; i < n; i++) {
		assert_int_equal(a->type, IMAP_ARG_LIST);
		assert_int_equal(a->nlist, i + 1 < n ? 1 : 0);
		a = a->list;
	}
	imap_cmd_free(&cmd);
	lim.max_depth = n - 1;
	assert_int_equal(imap_parse(s, len, &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_DEPTH);
	free(s);

	s = malloc(2 * n + 16);
	assert_non_null(s);
	memcpy(s, "a X (", 5);
	len = 5;
	for (i = 0; i < n; i++) {
		s[len++] = (char)('a' + i % 26);
		s[len++] = ' ';
	}
	s[len - 1] = ')';
	s[len++] = '\n';
	lim.max_depth = 1;
	assert_int_equal(imap_parse(s, len, &lim, &cmd, &err), 0);
	assert_int_equal(cmd.nargs, 1);
	assert_int_equal(cmd.args[0].nlist, n);
	assert_string_equal(cmd.args[0].list[n - 1].str, "b");
	imap_cmd_free(&cmd);
	lim.max_args = n;
	assert_int_equal(imap_parse(s, len, &lim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_ARGS);
	free(s);
}

static void
test_tree(void **state)
{
	static const char in[] =
	    "A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> \"q\" {3}\r\n"
	    "l\0t ~{2}\r\n\0\n nil) extra\r\n";
	struct imap_cmd cmd;
	const struct imap_arg *l;
	const char *err = "x";

	(void)state;
	/* NUL in a plain literal is refused. */
	assert_int_equal(imap_parse(in, sizeof(in) - 1, &plim, &cmd, &err), -1);
	assert_string_equal(err, IMAP_E_LITNUL);
	assert_string_equal(cmd.tag, "A1");
	assert_string_equal(cmd.name, "");

	static const char in2[] =
	    "A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> \"q\" {3}\r\n"
	    "l\"t ~{2}\r\n\0\n nil) extra\r\n";
	err = NULL;
	assert_int_equal(imap_parse(in2, sizeof(in2) - 1, &plim, &cmd, &err), 0);
	assert_null(err);
	assert_string_equal(cmd.tag, "A1");
	assert_string_equal(cmd.name, "UID FETCH");
	assert_int_equal(cmd.nargs, 3);
	assert_non_null(cmd.arena);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_ATOM);
	assert_string_equal(cmd.args[0].str, "1:*");
	assert_int_equal(cmd.args[0].len, 3);
	assert_false(cmd.args[0].literal);
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[1].nlist, 6);
	assert_null(cmd.args[1].str);
	l = cmd.args[1].list;
	assert_int_equal(l[0].type, IMAP_ARG_ATOM);
	assert_string_equal(l[0].str, "FLAGS");
	assert_int_equal(l[1].type, IMAP_ARG_SECTION);
	assert_string_equal(l[1].str, "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>");
	assert_int_equal(l[1].nlist, 0);
	assert_int_equal(l[2].type, IMAP_ARG_STRING);
	assert_string_equal(l[2].str, "q");
	assert_false(l[2].literal);
	assert_false(l[2].literal8);
	assert_int_equal(l[3].type, IMAP_ARG_STRING);
	assert_true(l[3].literal);
	assert_false(l[3].literal8);
	assert_int_equal(l[3].len, 3);
	assert_memory_equal(l[3].str, "l\"t", 4);
	assert_int_equal(l[4].type, IMAP_ARG_STRING);
	assert_true(l[4].literal8);
	assert_false(l[4].literal);
	assert_int_equal(l[4].len, 2);
	assert_memory_equal(l[4].str, "\0\n", 3);
	assert_int_equal(l[5].type, IMAP_ARG_NIL);
	assert_string_equal(l[5].str, "nil");
	assert_int_equal(cmd.args[2].type, IMAP_ARG_ATOM);
	assert_string_equal(cmd.args[2].str, "extra");
	imap_cmd_free(&cmd);
	assert_null(cmd.arena);
	assert_null(cmd.args);
	assert_int_equal(cmd.nargs, 0);
	/* A NULL err is fine. */
	assert_int_equal(imap_parse(IN("a\r\n"), &plim, &cmd, NULL), -1);
}

/* RFC 9051 6.3.12's message, as APPEND would send it. */
static void
test_append_rfc(void **state)
{
	static const char msg[] =
	    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
	    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
	    "Subject: afternoon meeting\r\n"
	    "To: mooch@owatagu.siam.edu.example\r\n"
	    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	    "\r\n"
	    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
	static const struct {
		const char *pre, *post;	/* around the literal's size */
	} fmt[] = {
		{ "A003 APPEND saved-messages (\\Seen) {", "}\r\n" },
		{ "A003 APPEND saved-messages (\\Seen) {", "+}\r\n" },
		{ "A003 APPEND saved-messages (\\Seen $Label1) \"07-Feb-1994 21:52:25 -0800\" {",
		  "}\r\n" },
		{ "A003 APPEND saved-messages ~{", "}\r\n" },
	};
	static struct trace t;
	struct imap_cmd cmd;
	const struct imap_arg *last;
	const char *err;
	char buf[1024];
	size_t i, n, mlen = sizeof(msg) - 1;

	(void)state;
	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		n = (size_t)snprintf(buf, sizeof(buf), "%s%zu%s", fmt[i].pre, mlen, fmt[i].post);
		memcpy(buf + n, msg, mlen);
		n += mlen;
		memcpy(buf + n, "\r\n", 2);
		n += 2;
		trace_all(buf, n, &flim, &t);
		assert_int_equal(t.e[t.n - 1].ev, IMAP_FRAME_COMMAND);
		assert_int_equal(t.e[t.n - 1].cmd_len, n);
		assert_int_equal(t.n, fmt[i].post[0] == '+' ? 1 : 2);
		if (t.n == 2)
			assert_true(t.e[0].lsize == mlen);
		assert_int_equal(imap_parse(buf, n, &plim, &cmd, &err), 0);
		assert_string_equal(cmd.name, "APPEND");
		last = &cmd.args[cmd.nargs - 1];
		assert_int_equal(last->type, IMAP_ARG_STRING);
		assert_int_equal(last->len, mlen);
		assert_memory_equal(last->str, msg, mlen);
		assert_int_equal(last->literal8, strchr(fmt[i].pre, '~') != NULL);
		imap_cmd_free(&cmd);
	}
}

static void
test_parse_tag(void **state)
{
	char tag[IMAP_TAG_MAX + 1];
	char longtag[IMAP_TAG_MAX + 3];

	(void)state;
	assert_int_equal(imap_parse_tag(IN("a1 NOOP"), tag), 0);
	assert_string_equal(tag, "a1");
	assert_int_equal(imap_parse_tag(IN("a1 "), tag), 0);
	assert_string_equal(tag, "a1");
	assert_int_equal(imap_parse_tag(IN("x] 0123456789"), tag), 0);
	assert_string_equal(tag, "x]");
	assert_int_equal(imap_parse_tag(IN("a1"), tag), -1);
	assert_string_equal(tag, "*");
	assert_int_equal(imap_parse_tag(IN(""), tag), -1);
	assert_int_equal(imap_parse_tag(IN(" a"), tag), -1);
	assert_int_equal(imap_parse_tag(IN("a+ NOOP"), tag), -1);
	assert_int_equal(imap_parse_tag(IN("a\r\n"), tag), -1);
	assert_string_equal(tag, "*");
	memset(longtag, 'x', sizeof(longtag));
	longtag[IMAP_TAG_MAX] = ' ';
	assert_int_equal(imap_parse_tag(longtag, IMAP_TAG_MAX + 1, tag), 0);
	assert_int_equal(strlen(tag), IMAP_TAG_MAX);
	longtag[IMAP_TAG_MAX] = 'x';
	longtag[IMAP_TAG_MAX + 1] = ' ';
	assert_int_equal(imap_parse_tag(longtag, IMAP_TAG_MAX + 2, tag), -1);
}

static void
test_astring(void **state)
{
	static const struct {
		const char *in;
		const char *want[4];	/* per argument; NULL: not an astring */
	} t[] = {
		{ "a X INBOX \"a b\" nil [Gmail]/Sent\r\n", { "INBOX", "a b", "nil", "[Gmail]/Sent" } },
		{ "a X \\Seen * a% ()\r\n", { NULL, NULL, NULL, NULL } },
		{ "a X BODY[1] BODY[HEADER.FIELDS (A)] {1}\r\nx ~{1}\r\ny\r\n",
		  { "BODY[1]", NULL, "x", NULL } },
		{ "a X a]b \"\" NIL ~a\r\n", { "a]b", "", "NIL", "~a" } },
	};
	struct imap_cmd cmd;
	const char *err, *s;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(imap_parse(t[i].in, strlen(t[i].in), &plim, &cmd, &err), 0);
		assert_int_equal(cmd.nargs, 4);
		for (k = 0; k < 4; k++) {
			s = imap_arg_astring(&cmd.args[k]);
			if (t[i].want[k] == NULL)
				assert_null(s);
			else {
				assert_non_null(s);
				assert_string_equal(s, t[i].want[k]);
			}
		}
		imap_cmd_free(&cmd);
	}
}

static void
test_quote(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} t[] = {
		{ IN(""), "\"\"" },
		{ IN("INBOX"), "\"INBOX\"" },
		{ IN("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"" },
		{ IN("tab\there"), "\"tab\there\"" },
		{ IN("two\r\nlines"), "{10}\r\ntwo\r\nlines" },
		{ IN("lf\n"), "{3}\r\nlf\n" },
		{ IN("cr\r"), "{3}\r\ncr\r" },
		{ IN("\xc3\xa4"), "{2}\r\n\xc3\xa4" },
		{ IN("a\0b"), "\"ab\"" },
		{ IN("\0"), "\"\"" },
		{ IN("\"\r"), "{2}\r\n\"\r" },
		{ IN("\0\xff\0"), "{1}\r\n\xff" },
	};
	char out[2100], big[1100];
	struct imap_cmd cmd;
	const char *err;
	size_t i, n, len;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = imap_quote(t[i].in, t[i].len, out, sizeof(out));
		assert_int_equal(n, strlen(t[i].out));
		assert_string_equal(out, t[i].out);
		/* Measuring, and a buffer one byte short. */
		assert_int_equal(imap_quote(t[i].in, t[i].len, NULL, 0), n);
		memset(out, 'Z', sizeof(out));
		assert_int_equal(imap_quote(t[i].in, t[i].len, out, n), n);
		assert_int_equal(out[0], 'Z');
		assert_int_equal(imap_quote(t[i].in, t[i].len, out, n + 1), n);
		assert_int_equal(out[n], '\0');
	}
	/* Up to IMAP_QUOTE_MAX bytes quoted, then a literal. */
	memset(big, 'x', sizeof(big));
	n = imap_quote(big, IMAP_QUOTE_MAX, out, sizeof(out));
	assert_int_equal(n, IMAP_QUOTE_MAX + 2);
	assert_int_equal(out[0], '"');
	n = imap_quote(big, IMAP_QUOTE_MAX + 1, out, sizeof(out));
	assert_int_equal(n, IMAP_QUOTE_MAX + 1 + strlen("{1025}\r\n"));
	assert_memory_equal(out, "{1025}\r\nxxx", 11);
	/* What comes out parses back to the same string. */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char in[128], want[64];
		size_t wl = 0, k;

		len = (size_t)snprintf(in, sizeof(in), "a X ");
		len += imap_quote(t[i].in, t[i].len, in + len, sizeof(in) - len);
		memcpy(in + len, "\r\n", 2);
		len += 2;
		assert_int_equal(imap_parse(in, len, &plim, &cmd, &err), 0);
		assert_int_equal(cmd.nargs, 1);
		assert_int_equal(cmd.args[0].type, IMAP_ARG_STRING);
		for (k = 0; k < t[i].len; k++)
			if (t[i].in[k] != '\0')
				want[wl++] = t[i].in[k];
		assert_int_equal(cmd.args[0].len, wl);
		assert_memory_equal(cmd.args[0].str, want, wl);
		imap_cmd_free(&cmd);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_table_frames),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_frame_basic),
		cmocka_unit_test(test_frame_not_literals),
		cmocka_unit_test(test_frame_literal_limits),
		cmocka_unit_test(test_frame_too_long),
		cmocka_unit_test(test_frame_chunking),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_append_rfc),
		cmocka_unit_test(test_parse_tag),
		cmocka_unit_test(test_astring),
		cmocka_unit_test(test_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
