/* test_mime: MIME structure and IMAP views. The BODYSTRUCTURE strings are
 * what Dovecot 2.3 (doveadm fetch imap.bodystructure) gives for the same
 * messages, apart from the few marked cases where we follow the RFC. */
#include "tu.h"

#include <time.h>

#include "mail/mime.h"

struct bcase {
	const char *name;
	const char *msg;
	const char *bodystructure;	/* extended */
	const char *body;		/* BODY, not extended */
};

static const struct bcase bcases[] = {
	{ "simple",
	  "From: Alice <alice@example.org>\n"
	  "To: bob@example.net\n"
	  "Subject: Hello\n"
	  "Date: Fri, 21 Nov 1997 09:55:06 -0600\n"
	  "Message-ID: <1234@local.machine.example>\n"
	  "\n"
	  "Hi Bob,\n"
	  "how are you?\n",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 23 2 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 23 2)" },
	{ "alternative",
	  "From: a@b.example\n"
	  "Subject: alt\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"alt-1\"\n"
	  "\n"
	  "This is a MIME message.\n"
	  "--alt-1\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "plain \xc3""\xa9""\n"
	  "--alt-1\n"
	  "Content-Type: text/html; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "<p>html =C3=A9</p>\n"
	  "--alt-1--\n"
	  "epilogue\n",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 0 NIL NIL NIL NIL)(\"text\" \"html\" "
	  "(\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 18 0 NIL NIL NIL NIL) \"alternative\" "
	  "(\"boundary\" \"alt-1\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 0)(\"text\" \"html\" (\"charset\" "
	  "\"utf-8\") NIL NIL \"quoted-printable\" 18 0) \"alternative\")" },
	{ "attachment",
	  "From: a@b.example\n"
	  "Subject: att\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=mix\n"
	  "\n"
	  "--mix\n"
	  "Content-Type: text/plain; charset=us-ascii\n"
	  "\n"
	  "see attached\n"
	  "\n"
	  "--mix\n"
	  "Content-Type: application/pdf; name=\"report.pdf\"\n"
	  "Content-Transfer-Encoding: base64\n"
	  "Content-Disposition: attachment;\n"
	  " filename*=UTF-8''%E2%82%AC%20report.pdf\n"
	  "Content-ID: <att1@b.example>\n"
	  "Content-Description: Quarterly report\n"
	  "\n"
	  "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\n"
	  "ZW5kc3RyZWFtCmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK\n"
	  "--mix--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 1 NIL NIL NIL "
	  "NIL)(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<att1@b.example>\" \"Quarterly report\" "
	  "\"base64\" 114 NIL (\"attachment\" (\"filename*\" \"UTF-8''%E2%82%AC%20report.pdf\")) NIL NIL) "
	  "\"mixed\" (\"boundary\" \"mix\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 1)(\"application\" \"pdf\" (\"name\" "
	  "\"report.pdf\") \"<att1@b.example>\" \"Quarterly report\" \"base64\" 114) \"mixed\")" },
	{ "related",
	  "From: a@b.example\n"
	  "Subject: rel\n"
	  "Content-Type: multipart/mixed; boundary=\"outer\"\n"
	  "\n"
	  "--outer\n"
	  "Content-Type: multipart/related; boundary=\"inner\"; type=\"text/html\"\n"
	  "\n"
	  "--inner\n"
	  "Content-Type: text/html\n"
	  "\n"
	  "<img src=\"cid:img1\">\n"
	  "--inner\n"
	  "Content-Type: image/png\n"
	  "Content-ID: <img1>\n"
	  "Content-Transfer-Encoding: base64\n"
	  "Content-Disposition: inline\n"
	  "\n"
	  "iVBORw0KGgo=\n"
	  "--inner--\n"
	  "\n"
	  "--outer\n"
	  "Content-Type: text/plain\n"
	  "Content-Disposition: attachment; filename=notes.txt\n"
	  "Content-Language: en, de\n"
	  "Content-Location: notes.txt\n"
	  "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
	  "\n"
	  "notes\n"
	  "--outer--\n",
	  "(((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 0 NIL NIL NIL NIL)(\"image\" "
	  "\"png\" NIL \"<img1>\" NIL \"base64\" 12 NIL (\"inline\" NIL) NIL NIL) \"related\" (\"boundary\" "
	  "\"inner\" \"type\" \"text/html\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	  "\"7bit\" 5 0 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename\" \"notes.txt\")) (\"en\" \"de\") "
	  "\"notes.txt\") \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)",
	  "(((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 0)(\"image\" \"png\" NIL \"<img1>\" "
	  "NIL \"base64\" 12) \"related\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) "
	  "\"mixed\")" },
	{ "rfc822",
	  "From: a@b.example\n"
	  "To: c@d.example\n"
	  "Subject: fwd\n"
	  "Content-Type: multipart/mixed; boundary=fw\n"
	  "\n"
	  "--fw\n"
	  "\n"
	  "forwarding\n"
	  "--fw\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Disposition: attachment\n"
	  "\n"
	  "From: \"Inner, Sender\" <inner@x.example>\n"
	  "To: grp: m1@x.example, m2@x.example;\n"
	  "Cc: undisclosed-recipients:;\n"
	  "Subject: inner subject\n"
	  "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n"
	  "Message-ID: <inner@x.example>\n"
	  "In-Reply-To: <prev@x.example>\n"
	  "Content-Type: multipart/alternative; boundary=ia\n"
	  "\n"
	  "--ia\n"
	  "\n"
	  "inner text\n"
	  "--ia\n"
	  "Content-Type: text/html\n"
	  "\n"
	  "<b>inner</b>\n"
	  "--ia--\n"
	  "\n"
	  "--fw--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)(\"message\" "
	  "\"rfc822\" NIL NIL NIL \"7bit\" 366 (\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"inner subject\" "
	  "((\"Inner, Sender\" NIL \"inner\" \"x.example\")) ((\"Inner, Sender\" NIL \"inner\" \"x.example\")) "
	  "((\"Inner, Sender\" NIL \"inner\" \"x.example\")) ((NIL NIL \"grp\" NIL)(NIL NIL \"m1\" "
	  "\"x.example\")(NIL NIL \"m2\" \"x.example\")(NIL NIL NIL NIL)) ((NIL NIL "
	  "\"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL \"<prev@x.example>\" "
	  "\"<inner@x.example>\") ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL "
	  "NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL) "
	  "\"alternative\" (\"boundary\" \"ia\") NIL NIL NIL) 17 NIL (\"attachment\" NIL) NIL NIL) \"mixed\" "
	  "(\"boundary\" \"fw\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0)(\"message\" \"rfc822\" NIL NIL "
	  "NIL \"7bit\" 366 (\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"inner subject\" ((\"Inner, Sender\" "
	  "NIL \"inner\" \"x.example\")) ((\"Inner, Sender\" NIL \"inner\" \"x.example\")) ((\"Inner, Sender\" "
	  "NIL \"inner\" \"x.example\")) ((NIL NIL \"grp\" NIL)(NIL NIL \"m1\" \"x.example\")(NIL NIL \"m2\" "
	  "\"x.example\")(NIL NIL NIL NIL)) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	  "NIL \"<prev@x.example>\" \"<inner@x.example>\") ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	  "NIL \"7bit\" 10 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0) \"alternative\") "
	  "17) \"mixed\")" },
	{ "digest",
	  "Subject: digest\n"
	  "Content-Type: multipart/digest; boundary=dg\n"
	  "\n"
	  "--dg\n"
	  "\n"
	  "From: one@x.example\n"
	  "Subject: first\n"
	  "\n"
	  "body one\n"
	  "\n"
	  "--dg\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Subject: second\n"
	  "\n"
	  "body two\n"
	  "--dg\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "not a message\n"
	  "--dg--\n",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 49 (NIL \"first\" ((NIL NIL \"one\" \"x.example\")) "
	  "((NIL NIL \"one\" \"x.example\")) ((NIL NIL \"one\" \"x.example\")) NIL NIL NIL NIL NIL) (\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL) 4 NIL NIL NIL "
	  "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 27 (NIL \"second\" NIL NIL NIL NIL NIL NIL NIL "
	  "NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL) 2 NIL NIL "
	  "NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL) "
	  "\"digest\" (\"boundary\" \"dg\") NIL NIL NIL)",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 49 (NIL \"first\" ((NIL NIL \"one\" \"x.example\")) "
	  "((NIL NIL \"one\" \"x.example\")) ((NIL NIL \"one\" \"x.example\")) NIL NIL NIL NIL NIL) (\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1) 4)(\"message\" \"rfc822\" NIL NIL NIL "
	  "\"7bit\" 27 (NIL \"second\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 8 0) 2)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	  "13 0) \"digest\")" },
	{ "noboundary",
	  "Subject: nb\n"
	  "Content-Type: multipart/mixed\n"
	  "\n"
	  "--x\n"
	  "\n"
	  "hi\n"
	  "--x--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL "
	  "NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")" },
	{ "neverboundary",
	  "Subject: nb2\n"
	  "Content-Type: multipart/mixed; boundary=zz\n"
	  "\n"
	  "just a preamble\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" "
	  "(\"boundary\" \"zz\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")" },
	{ "noclose",
	  "Subject: nc\n"
	  "Content-Type: multipart/mixed; boundary=q\n"
	  "\n"
	  "pre\n"
	  "--q\n"
	  "\n"
	  "one\n"
	  "--q\n"
	  "Content-Type: text/html\n"
	  "\n"
	  "<p>two</p>\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL)(\"text\" \"html\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"q\") NIL "
	  "NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)(\"text\" \"html\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 12 1) \"mixed\")" },
	{ "nestednoclose",
	  "Content-Type: multipart/mixed; boundary=o\n"
	  "\n"
	  "--o\n"
	  "Content-Type: multipart/alternative; boundary=i\n"
	  "\n"
	  "--i\n"
	  "\n"
	  "inner1\n"
	  "--i\n"
	  "\n"
	  "inner2\n"
	  "--o\n"
	  "\n"
	  "outer2\n"
	  "--o--\n",
	  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL)(\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL) \"alternative\" "
	  "(\"boundary\" \"i\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 "
	  "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)",
	  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 6 0) \"alternative\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	  "NIL \"7bit\" 6 0) \"mixed\")" },
	{ "trailingspace",
	  "Content-Type: multipart/mixed; boundary=\"t t\"\n"
	  "\n"
	  "--t t  \t\n"
	  "\n"
	  "first\n"
	  "--t t \n"
	  "\n"
	  "second\n"
	  "--t t--  \n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)(\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"t "
	  "t\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 6 0) \"mixed\")" },
	{ "emptyparts",
	  "Content-Type: multipart/mixed; boundary=e\n"
	  "\n"
	  "--e\n"
	  "--e\n"
	  "\n"
	  "--e\n"
	  "\n"
	  "\n"
	  "--e\n"
	  "Content-Type: text/html\n"
	  "\n"
	  "--e--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"e\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	  "0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")" },
	{ "nobody",
	  "From: a@b.example\n"
	  "Subject: no body\n"
	  "\n",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)" },
	{ "headeronly",
	  "From: a@b.example\n"
	  "Subject: header only",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)" },
	{ "empty",
	  "",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)" },
	{ "crlf",
	  "From: a@b.example\r\n"
	  "Subject: crlf\r\n"
	  "Content-Type: multipart/mixed; boundary=c\r\n"
	  "\r\n"
	  "--c\r\n"
	  "\r\n"
	  "line1\r\n"
	  "line2\r\n"
	  "--c\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "Subject: in\r\n"
	  "\r\n"
	  "inner\r\n"
	  "\r\n"
	  "--c--\r\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL)(\"message\" "
	  "\"rfc822\" NIL NIL NIL \"7bit\" 22 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) \"mixed\" "
	  "(\"boundary\" \"c\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1)(\"message\" \"rfc822\" NIL NIL "
	  "NIL \"7bit\" 22 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 7 1) 3) \"mixed\")" },
	{ "params",
	  "Content-Type: TEXT/Plain; Format=flowed; charset=\"ISO-8859-1\" (latin); delsp=yes\n"
	  "Content-Transfer-Encoding: Quoted-Printable\n"
	  "Content-Disposition: INLINE; filename*0*=ISO-8859-1''%E9t; filename*1=\"e 100%.txt\"; size=12\n"
	  "Content-Language: fr\n"
	  "\n"
	  "caf=E9\n",
	  "(\"TEXT\" \"Plain\" (\"Format\" \"flowed\" \"charset\" \"ISO-8859-1\" \"delsp\" \"yes\") NIL NIL "
	  "\"Quoted-Printable\" 8 1 NIL (\"INLINE\" (\"size\" \"12\" \"filename*\" \"ISO-8859-1''%E9te "
	  "100%25.txt\")) (\"fr\") NIL)",
	  "(\"TEXT\" \"Plain\" (\"Format\" \"flowed\" \"charset\" \"ISO-8859-1\" \"delsp\" \"yes\") NIL NIL "
	  "\"Quoted-Printable\" 8 1)" },
	{ "toplevel822",
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "From: x@y.example\n"
	  "Subject: inner\n"
	  "\n"
	  "body\n",
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 43 (NIL \"inner\" ((NIL NIL \"x\" \"y.example\")) ((NIL "
	  "NIL \"x\" \"y.example\")) ((NIL NIL \"x\" \"y.example\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)",
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 43 (NIL \"inner\" ((NIL NIL \"x\" \"y.example\")) ((NIL "
	  "NIL \"x\" \"y.example\")) ((NIL NIL \"x\" \"y.example\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) 4)" },
	{ "dupctype",
	  "Content-Type: text/html\n"
	  "Content-Type: image/gif\n"
	  "content-type: application/zip\n"
	  "\n"
	  "x\n",
	  "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
	  "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)" },
	{ "specials",
	  "From: \"Joe Q. Public\" <john.q.public@example.com>\n"
	  "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n"
	  "Cc: <boss@nil.test>, (Comment only) sysservices@example.net\n"
	  "Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>\n"
	  "Sender: Michael Jones <mjones@machine.example>\n"
	  "Bcc:\n"
	  "Subject: Saying Hello\n"
	  "\n"
	  "body\n",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)" },
	{ "a6",
	  "Content-Type: multipart/mixed; boundary=A\n"
	  "\n"
	  "--A\n"
	  "Content-Type: multipart/mixed; boundary=AB\n"
	  "\n"
	  "--AB\n"
	  "\n"
	  "inner\n"
	  "--AB--\n"
	  "\n"
	  "--A--\n",
	  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) \"mixed\" "
	  "(\"boundary\" \"AB\") NIL NIL NIL) \"mixed\" (\"boundary\" \"A\") NIL NIL NIL)",
	  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) \"mixed\") \"mixed\")" },
	{ "b4",
	  "Content-Type: multipart/mixed; boundary=m\n"
	  "Content-Disposition: inline; x=y\n"
	  "Content-Language: en-US, fr\n"
	  "Content-Location: loc\n"
	  "\n"
	  "--m\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Disposition: attachment\n"
	  "\n"
	  "Subject: in\n"
	  "\n"
	  "body\n"
	  "--m--\n",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 19 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) 2 NIL "
	  "(\"attachment\" NIL) NIL NIL) \"mixed\" (\"boundary\" \"m\") (\"inline\" (\"x\" \"y\")) (\"en-US\" \"fr\") "
	  "\"loc\")",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 19 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) 2) \"mixed\")" },
	{ "b5",
	  "Content-Type: application/x; a; b=; c=1; c=2; d=\"=?UTF-8?Q?x?=\"; e*0=a; e*2=c; e*1=b\n"
	  "\n"
	  "x\n",
	  "(\"application\" \"x\" (\"c\" \"1\" \"c\" \"2\" \"d\" \"=?UTF-8?Q?x?=\" \"e\" \"abc\") NIL NIL \"7bit\" 3 NIL "
	  "NIL NIL NIL)",
	  "(\"application\" \"x\" (\"c\" \"1\" \"c\" \"2\" \"d\" \"=?UTF-8?Q?x?=\" \"e\" \"abc\") NIL NIL \"7bit\" 3)" },
	{ "b6",
	  "Content-Type: application/x; f*0*=utf-8'en'a%41; f*1=\"b%42 c\"\n"
	  "\n"
	  "x\n",
	  "(\"application\" \"x\" (\"f*\" \"utf-8'en'a%41b%2542 c\") NIL NIL \"7bit\" 3 NIL NIL NIL NIL)",
	  "(\"application\" \"x\" (\"f*\" \"utf-8'en'a%41b%2542 c\") NIL NIL \"7bit\" 3)" },
	{ "b7",
	  "Content-Type: application/x; g*=us-ascii''x%20y; h*0=\"a b\"; h*1=c\n"
	  "\n"
	  "x\n",
	  "(\"application\" \"x\" (\"g*\" \"us-ascii''x%20y\" \"h\" \"a bc\") NIL NIL \"7bit\" 3 NIL NIL NIL NIL)",
	  "(\"application\" \"x\" (\"g*\" \"us-ascii''x%20y\" \"h\" \"a bc\") NIL NIL \"7bit\" 3)" },
	{ "b9",
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Content-Type: multipart/mixed; boundary=z\n"
	  "\n"
	  "--z\n"
	  "\n"
	  "a\n"
	  "--z\n"
	  "\n"
	  "b\n"
	  "--z--\n",
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 72 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	  "\"z\") NIL NIL NIL) 9 NIL NIL NIL NIL)",
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 72 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\") 9)" },
	{ "e3",
	  "Content-Type: text/plain; charset=\"a\\\"b\"; n=\"\\\\\"\n"
	  "\n"
	  "x\n",
	  "(\"text\" \"plain\" (\"charset\" \"a\\\"b\" \"n\" \"\\\\\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"a\\\"b\" \"n\" \"\\\\\") NIL NIL \"7bit\" 3 1)" },
	{ "d2",
	  "Content-Type: multipart/mixed; boundary=b\n"
	  "\n"
	  "--b\n"
	  "hello\n"
	  "--b\n"
	  "X: y\n"
	  "--b--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	  "\"b\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")" },
	{ "mixedeol",
	  "Content-Type: multipart/mixed; boundary=b\n"
	  "\n"
	  "--b\r\n"
	  "\r\n"
	  "cr\r\n"
	  "--b\n"
	  "\n"
	  "lf\n"
	  "--b--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)(\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	  "\"b\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 2 0)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 2 0) \"mixed\")" },
	{ "closefirst",
	  "Content-Type: multipart/mixed; boundary=\"b\"\n"
	  "\n"
	  "--b--\n"
	  "--b\n"
	  "\n"
	  "after close\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" "
	  "(\"boundary\" \"b\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")" },
	{ "closenolf",
	  "From: a@b\n"
	  "Content-Type: multipart/mixed; boundary=x\n"
	  "\n"
	  "--x\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "--x--",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" "
	  "(\"boundary\" \"x\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")" },
	{ "upper",
	  "content-type: Multipart/Alternative; BOUNDARY=Q\n"
	  "\n"
	  "--Q\n"
	  "\n"
	  "a\n"
	  "--Q--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"Alternative\" "
	  "(\"BOUNDARY\" \"Q\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"Alternative\")" },
	{ "rfc822-base64",
	  "Content-Type: message/rfc822\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "U3ViamVjdDogeAoKYm9keQo=\n",
	  "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 26 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL "
	  "NIL)",
	  "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 26 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 1)" },
	{ "report",
	  "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n"
	  "\n"
	  "--r\n"
	  "\n"
	  "bounce\n"
	  "--r\n"
	  "Content-Type: message/delivery-status\n"
	  "\n"
	  "Reporting-MTA: dns; x\n"
	  "\n"
	  "Final-Recipient: rfc822; a@b\n"
	  "--r\n"
	  "Content-Type: text/rfc822-headers\n"
	  "\n"
	  "Subject: orig\n"
	  "--r--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL)(\"message\" "
	  "\"delivery-status\" NIL NIL NIL \"7bit\" 53 NIL NIL NIL NIL)(\"text\" \"rfc822-headers\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL) \"report\" (\"report-type\" "
	  "\"delivery-status\" \"boundary\" \"r\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0)(\"message\" \"delivery-status\" "
	  "NIL NIL NIL \"7bit\" 53)(\"text\" \"rfc822-headers\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 "
	  "0) \"report\")" },
	{ "charset-ext",
	  "Content-Type: text/plain; charset*=utf-8''x\n"
	  "\n"
	  "x\n",
	  "(\"text\" \"plain\" (\"charset*\" \"utf-8''x\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL "
	  "NIL NIL)",
	  "(\"text\" \"plain\" (\"charset*\" \"utf-8''x\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)" },
	{ "rfc822-noclose",
	  "Content-Type: multipart/mixed; boundary=x\n"
	  "\n"
	  "--x\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Content-Type: multipart/mixed; boundary=y\n"
	  "\n"
	  "--y\n"
	  "\n"
	  "a\n"
	  "--x\n"
	  "\n"
	  "b\n"
	  "--x--\n",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 53 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" "
	  "(\"boundary\" \"y\") NIL NIL NIL) 4 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	  "NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 53 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\") 4)(\"text\" \"plain\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")" },
	{ "signed",
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256;\n"
	  " boundary=\"sig\"\n"
	  "\n"
	  "--sig\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: 7bit\n"
	  "\n"
	  "signed text\n"
	  "\n"
	  "--sig\n"
	  "Content-Type: application/pgp-signature; name=\"signature.asc\"\n"
	  "Content-Description: OpenPGP digital signature\n"
	  "Content-Disposition: attachment; filename=\"signature.asc\"\n"
	  "\n"
	  "-----BEGIN PGP SIGNATURE-----\n"
	  "abc\n"
	  "-----END PGP SIGNATURE-----\n"
	  "\n"
	  "--sig--\n",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL)(\"application\" "
	  "\"pgp-signature\" (\"name\" \"signature.asc\") NIL \"OpenPGP digital signature\" \"7bit\" 65 NIL "
	  "(\"attachment\" (\"filename\" \"signature.asc\")) NIL NIL) \"signed\" (\"protocol\" "
	  "\"application/pgp-signature\" \"micalg\" \"pgp-sha256\" \"boundary\" \"sig\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 13 1)(\"application\" \"pgp-signature\" "
	  "(\"name\" \"signature.asc\") NIL \"OpenPGP digital signature\" \"7bit\" 65) \"signed\")" },
	{ "continuations",
	  "Content-Type: text/plain;\n"
	  "\tcharset=\"utf-8\";\n"
	  "\tformat=flowed\n"
	  "Content-Disposition: inline;\n"
	  " filename*0=\"long name \";\n"
	  " filename*1=\"part two.txt\"\n"
	  "\n"
	  "x\n",
	  "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"7bit\" 3 1 NIL (\"inline\" "
	  "(\"filename\" \"long name part two.txt\")) NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"7bit\" 3 1)" },
	{ "encoded-names",
	  "Content-Type: image/jpeg; name=\"=?UTF-8?B?w6k=?=.jpg\"\n"
	  "Content-Disposition: attachment; filename=\"=?UTF-8?B?w6k=?=.jpg\"\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "/9j/\n",
	  "(\"image\" \"jpeg\" (\"name\" \"=?UTF-8?B?w6k=?=.jpg\") NIL NIL \"base64\" 6 NIL (\"attachment\" "
	  "(\"filename\" \"=?UTF-8?B?w6k=?=.jpg\")) NIL NIL)",
	  "(\"image\" \"jpeg\" (\"name\" \"=?UTF-8?B?w6k=?=.jpg\") NIL NIL \"base64\" 6)" },
	/* Dovecot 2.3 keeps the LF after "--ia--" in the message part (366 .. 17):
	 * RFC 2046 5.1.1 gives it to the "--fw--" delimiter line. */
	{ "rfc822close",
	  "From: a@b.example\n"
	  "To: c@d.example\n"
	  "Subject: fwd\n"
	  "Content-Type: multipart/mixed; boundary=fw\n"
	  "\n"
	  "--fw\n"
	  "\n"
	  "forwarding\n"
	  "--fw\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Disposition: attachment\n"
	  "\n"
	  "From: \"Inner, Sender\" <inner@x.example>\n"
	  "To: grp: m1@x.example, m2@x.example;\n"
	  "Cc: undisclosed-recipients:;\n"
	  "Subject: inner subject\n"
	  "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n"
	  "Message-ID: <inner@x.example>\n"
	  "In-Reply-To: <prev@x.example>\n"
	  "Content-Type: multipart/alternative; boundary=ia\n"
	  "\n"
	  "--ia\n"
	  "\n"
	  "inner text\n"
	  "--ia\n"
	  "Content-Type: text/html\n"
	  "\n"
	  "<b>inner</b>\n"
	  "--ia--\n"
	  "--fw--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)(\"message\" "
	  "\"rfc822\" NIL NIL NIL \"7bit\" 364 (\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"inner subject\" "
	  "((\"Inner, Sender\" NIL \"inner\" \"x.example\")) ((\"Inner, Sender\" NIL \"inner\" \"x.example\")) "
	  "((\"Inner, Sender\" NIL \"inner\" \"x.example\")) ((NIL NIL \"grp\" NIL)(NIL NIL \"m1\" "
	  "\"x.example\")(NIL NIL \"m2\" \"x.example\")(NIL NIL NIL NIL)) ((NIL NIL "
	  "\"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL \"<prev@x.example>\" "
	  "\"<inner@x.example>\") ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL "
	  "NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL) "
	  "\"alternative\" (\"boundary\" \"ia\") NIL NIL NIL) 16 NIL (\"attachment\" NIL) NIL NIL) \"mixed\" "
	  "(\"boundary\" \"fw\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0)(\"message\" \"rfc822\" NIL NIL "
	  "NIL \"7bit\" 364 (\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"inner subject\" ((\"Inner, Sender\" "
	  "NIL \"inner\" \"x.example\")) ((\"Inner, Sender\" NIL \"inner\" \"x.example\")) ((\"Inner, Sender\" "
	  "NIL \"inner\" \"x.example\")) ((NIL NIL \"grp\" NIL)(NIL NIL \"m1\" \"x.example\")(NIL NIL \"m2\" "
	  "\"x.example\")(NIL NIL NIL NIL)) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
	  "NIL \"<prev@x.example>\" \"<inner@x.example>\") ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	  "NIL \"7bit\" 10 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0) \"alternative\") "
	  "16) \"mixed\")" },
	/* Dovecot shows "text" "": RFC 2045 5.2 says an invalid Content-Type is the default. */
	{ "badctype",
	  "Content-Type: text\n"
	  "Content-Transfer-Encoding:\n"
	  "Content-Description:\n"
	  "\n"
	  "x\n",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL \"\" \"7bit\" 3 1 NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL \"\" \"7bit\" 3 1)" },
	/* Dovecot 2.3 shows message/global as a basic part; RFC 9051 gives it an
	 * envelope and body like message/rfc822. */
	{ "global",
	  "Content-Type: message/global\n"
	  "\n"
	  "Subject: =?utf-8?q?x?=\n"
	  "From: =?utf-8?q?N?= <n@x.example>\n"
	  "\n"
	  "body\n",
	  "(\"message\" \"global\" NIL NIL NIL \"7bit\" 67 (NIL \"=?utf-8?q?x?=\" ((\"=?utf-8?q?N?=\" NIL \"n\" "
	  "\"x.example\")) ((\"=?utf-8?q?N?=\" NIL \"n\" \"x.example\")) ((\"=?utf-8?q?N?=\" NIL \"n\" "
	  "\"x.example\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	  "6 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)",
	  "(\"message\" \"global\" NIL NIL NIL \"7bit\" 67 (NIL \"=?utf-8?q?x?=\" ((\"=?utf-8?q?N?=\" NIL \"n\" "
	  "\"x.example\")) ((\"=?utf-8?q?N?=\" NIL \"n\" \"x.example\")) ((\"=?utf-8?q?N?=\" NIL \"n\" "
	  "\"x.example\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	  "6 1) 4)" },
	/* Dovecot matches boundaries as prefixes ("--bb", "--b-" split parts);
	 * RFC 2046 allows only blanks after "--b". */
	{ "prefixes",
	  "Content-Type: multipart/mixed; boundary=b\n"
	  "\n"
	  "--b\n"
	  "\n"
	  "x\n"
	  "--bb\n"
	  "--b-\n"
	  "--b\t\n"
	  "\n"
	  "y\n"
	  "--b--\n",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 2 NIL NIL NIL NIL)(\"text\" "
	  "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	  "\"b\") NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 2)(\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")" },
};

#define NCASES (sizeof(bcases) / sizeof(bcases[0]))

/* ---- helpers ---- */

/* One IMAP value: NIL, a number, a quoted string, a literal or a
 * parenthesized list of values separated by single spaces. Iterative
 * over the nesting. Returns the index after it, 0 when malformed. */
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
			if (i < n && s[i] == ')')
				return 0;	/* no empty lists in these */
			continue;
		}
		if (n - i >= 3 && memcmp(s + i, "NIL", 3) == 0)
			i += 3;
		else if (s[i] >= '0' && s[i] <= '9') {
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
		} else if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n' || (unsigned char)s[i] >= 0x80)
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
			size_t len = 0;

			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				len = len * 10 + (size_t)(s[i] - '0');
			if (n - i < 3 || memcmp(s + i, "}\r\n", 3) != 0 || n - i - 3 < len)
				return 0;
			if (memchr(s + i + 3, '\0', len) != NULL)
				return 0;
			i += 3 + len;
		} else
			return 0;
		/* after a value: ' ' and another, or ')'s */
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
			/* lists of lists: ")(" */
			if (i < n && s[i] == '(' && i > 0 && s[i - 1] == ')')
				break;
			return 0;
		}
	}
}

static bool
imap_ok(const struct mime_buf *b)
{
	return b->len > 0 && b->p[0] == '(' && imap_value(b->p, b->len, 0) == b->len &&
	    b->p[b->len] == '\0';
}

/* Tree invariants: offsets inside the message, header then body,
 * children ordered inside the parent's body. Returns the part count. */
static size_t
check_tree(const struct mime_msg *m)
{
	const struct mime_part **st;
	size_t n = 0, count = 0, cap = m->nparts + 1, i;

	st = malloc(cap * sizeof(*st));
	assert_non_null(st);
	st[n++] = &m->root;
	while (n > 0) {
		const struct mime_part *p = st[--n];
		size_t pend;

		count++;
		assert_true(p->hdr_off <= m->len && p->hdr_len <= m->len - p->hdr_off);
		assert_int_equal(p->hdr_off + p->hdr_len, p->body_off);
		assert_true(p->body_len <= m->len - p->body_off);
		assert_true(p->hdr_lines <= p->hdr_len && p->body_lines <= p->body_len);
		assert_true(p->hdr_vlen >= p->hdr_len && p->hdr_vlen <= p->hdr_len + p->hdr_lines);
		assert_true(p->body_vlen >= p->body_len &&
		    p->body_vlen <= p->body_len + p->body_lines);
		assert_non_null(p->type);
		assert_non_null(p->encoding_raw);
		pend = p->body_off + p->body_len;
		for (i = 0; i < p->nchildren; i++) {
			const struct mime_part *c = &p->children[i];

			assert_true(c->hdr_off >= (i == 0 ? p->body_off :
			    p->children[i - 1].body_off + p->children[i - 1].body_len));
			assert_true(c->body_off + c->body_len <= pend);
			assert_int_equal(c->depth, p->depth + 1);
		}
		if (p->message != NULL) {
			assert_int_equal(p->message->hdr_off, p->body_off);
			assert_int_equal(p->message->body_off + p->message->body_len, pend);
			assert_int_equal(p->message->depth, p->depth + 1);
			assert_int_equal(p->nchildren, 0);
		}
		if (n + p->nchildren + 1 > cap) {
			cap = (n + p->nchildren + 1) * 2;
			st = realloc(st, cap * sizeof(*st));
			assert_non_null(st);
		}
		for (i = 0; i < p->nchildren; i++)
			st[n++] = &p->children[i];
		if (p->message != NULL)
			st[n++] = p->message;
	}
	free(st);
	assert_int_equal(count, m->nparts);
	return count;
}

/* LF line ends to CRLF. */
static char *
to_crlf(const char *s, size_t *len_r)
{
	size_t n = strlen(s), i, k = 0;
	char *o = malloc(2 * n + 1);

	assert_non_null(o);
	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			o[k++] = '\r';
		o[k++] = s[i];
	}
	o[k] = '\0';
	*len_r = k;
	return o;
}

static void
bs_of(const char *msg, size_t len, const struct mime_limits *lim, bool ext, struct mime_buf *b)
{
	struct mime_msg m;

	assert_int_equal(mime_parse(msg, len, lim, &m), 0);
	check_tree(&m);
	b->len = 0;
	mime_bodystructure(&m, &m.root, ext, b);
	assert_true(imap_ok(b));
	mime_free(&m);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- BODYSTRUCTURE ---- */

static void
test_bodystructure(void **state)
{
	struct mime_buf b = { NULL, 0, 0 };
	size_t i, clen;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		const struct bcase *c = &bcases[i];
		char *crlf;

		bs_of(c->msg, strlen(c->msg), NULL, true, &b);
		if (strcmp(b.p, c->bodystructure) != 0)
			fail_msg("%s: BODYSTRUCTURE\n got %s\nwant %s", c->name, b.p, c->bodystructure);
		bs_of(c->msg, strlen(c->msg), NULL, false, &b);
		if (strcmp(b.p, c->body) != 0)
			fail_msg("%s: BODY\n got %s\nwant %s", c->name, b.p, c->body);
		/* Stored with CRLF: virtual sizes and lines are the same. */
		if (strchr(c->msg, '\r') != NULL)
			continue;
		crlf = to_crlf(c->msg, &clen);
		bs_of(crlf, clen, NULL, true, &b);
		if (strcmp(b.p, c->bodystructure) != 0)
			fail_msg("%s (CRLF): BODYSTRUCTURE\n got %s\nwant %s", c->name, b.p,
			    c->bodystructure);
		free(crlf);
	}
	mime_buf_free(&b);
}

/* Every prefix of every message (a message cut anywhere), with default
 * and with tiny limits: the tree stays consistent and the output valid. */
static void
test_prefixes(void **state)
{
	static const struct mime_limits tiny = { 1, 3, 40 };
	struct mime_buf b = { NULL, 0, 0 };
	size_t i, k;

	(void)state;
	for (i = 0; i < NCASES; i++) {
		const char *msg = bcases[i].msg;
		size_t len = strlen(msg);

		for (k = 0; k <= len; k++) {
			struct mime_msg m;
			char *cut = malloc(k + 1);

			assert_non_null(cut);
			memcpy(cut, msg, k);	/* a copy of exactly k bytes for ASan */
			bs_of(cut, k, NULL, true, &b);
			bs_of(cut, k, &tiny, true, &b);
			bs_of(cut, k, &tiny, false, &b);
			assert_int_equal(mime_parse(cut, k, NULL, &m), 0);
			b.len = 0;
			mime_envelope(cut + m.root.hdr_off, m.root.hdr_len, &b);
			assert_true(imap_ok(&b));
			mime_free(&m);
			free(cut);
		}
	}
	mime_buf_free(&b);
}

static void
test_sizes(void **state)
{
	struct mime_msg m;
	const char *lf = "Subject: x\n\nab\ncd\n", *crlf = "Subject: x\r\n\r\nab\r\ncd\r\n";

	(void)state;
	assert_int_equal(mime_parse(lf, strlen(lf), NULL, &m), 0);
	assert_int_equal(m.root.hdr_len, 12);
	assert_int_equal(m.root.hdr_lines, 2);
	assert_int_equal(m.root.hdr_vlen, 14);
	assert_int_equal(m.root.body_off, 12);
	assert_int_equal(m.root.body_len, 6);
	assert_int_equal(m.root.body_lines, 2);
	assert_int_equal(m.root.body_vlen, 8);
	assert_int_equal(m.nparts, 1);
	mime_free(&m);
	assert_int_equal(mime_parse(crlf, strlen(crlf), NULL, &m), 0);
	assert_int_equal(m.root.hdr_len, 14);
	assert_int_equal(m.root.hdr_lines, 2);
	assert_int_equal(m.root.hdr_vlen, 14);
	assert_int_equal(m.root.body_len, 8);
	assert_int_equal(m.root.body_vlen, 8);
	mime_free(&m);
	/* NULL with length 0 is an empty message */
	assert_int_equal(mime_parse(NULL, 0, NULL, &m), 0);
	assert_int_equal(m.root.body_len, 0);
	assert_string_equal(m.root.type, "text");
	mime_free(&m);
}

/* The struct keeps normalized twins of what BODYSTRUCTURE shows as written. */
static void
test_fields(void **state)
{
	const char *msg = bcases[0].msg;
	struct mime_msg m;
	const struct mime_part *p;
	const struct mime_param *fn;
	size_t i;

	(void)state;
	for (i = 0; i < NCASES; i++)
		if (strcmp(bcases[i].name, "params") == 0)
			msg = bcases[i].msg;
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	p = &m.root;
	assert_string_equal(p->type, "text");
	assert_string_equal(p->type_raw, "TEXT");
	assert_string_equal(p->subtype, "plain");
	assert_string_equal(p->subtype_raw, "Plain");
	assert_string_equal(p->encoding, "QUOTED-PRINTABLE");
	assert_string_equal(p->encoding_raw, "Quoted-Printable");
	assert_string_equal(p->disposition, "inline");
	assert_string_equal(p->disposition_raw, "INLINE");
	assert_string_equal(p->language, "fr");
	assert_string_equal(mime_param_find(p->params, p->nparams, "CHARSET")->value, "ISO-8859-1");
	assert_string_equal(mime_param_find(p->params, p->nparams, "format")->name_raw, "Format");
	assert_null(mime_param_find(p->params, p->nparams, "name"));
	fn = mime_param_find(p->disp_params, p->ndisp_params, "filename");
	assert_non_null(fn);
	assert_string_equal(fn->name, "filename*");
	assert_string_equal(fn->value, "ISO-8859-1''%E9te 100%25.txt");
	assert_null(p->id);
	assert_null(p->md5);
	mime_free(&m);
}

/* ---- limits ---- */

static char *
gen_many(size_t nparts, size_t *len_r)
{
	size_t cap = 64 + nparts * 32, n, i;
	char *s = malloc(cap);

	assert_non_null(s);
	n = (size_t)snprintf(s, cap, "Content-Type: multipart/mixed; boundary=x\n\n");
	for (i = 0; i < nparts; i++)
		n += (size_t)snprintf(s + n, cap - n, "--x\n\np%zu\n", i);
	n += (size_t)snprintf(s + n, cap - n, "--x--\n");
	*len_r = n;
	return s;
}

/* depth nested multiparts (or message/rfc822 when rfc822) around "leaf". */
static char *
gen_deep(size_t depth, bool rfc822, size_t *len_r)
{
	size_t cap = 128 + depth * 96, n = 0, i;
	char *s = malloc(cap);

	assert_non_null(s);
	for (i = 0; i < depth; i++) {
		if (rfc822)
			n += (size_t)snprintf(s + n, cap - n,
			    "Subject: level %zu\nContent-Type: message/rfc822\n\n", i);
		else
			n += (size_t)snprintf(s + n, cap - n,
			    "Content-Type: multipart/mixed; boundary=b%zu\n\n--b%zu\n", i, i);
	}
	n += (size_t)snprintf(s + n, cap - n, "Subject: leaf\n\nleaf\n");
	for (i = depth; !rfc822 && i-- > 0;)
		n += (size_t)snprintf(s + n, cap - n, "--b%zu--\n", i);
	*len_r = n;
	return s;
}

static unsigned
max_depth(const struct mime_msg *m)
{
	const struct mime_part *p = &m->root;
	unsigned d = 0;

	/* these trees are chains: follow the first child or the message */
	while (p != NULL) {
		if (p->depth > d)
			d = p->depth;
		p = p->message != NULL ? p->message : p->nchildren > 0 ? &p->children[0] : NULL;
	}
	return d;
}

static void
test_many_parts(void **state)
{
	struct mime_msg m;
	struct mime_buf b = { NULL, 0, 0 };
	size_t len;
	char *s = gen_many(100000, &len);
	double t0 = now_s(), t;
	const struct mime_part *last;

	(void)state;
	assert_int_equal(mime_parse(s, len, NULL, &m), 0);
	mime_bodystructure(&m, &m.root, true, &b);
	t = now_s() - t0;
	assert_true(imap_ok(&b));
	assert_int_equal(check_tree(&m), MIME_MAX_PARTS_DEFAULT);
	assert_int_equal(m.root.nchildren, MIME_MAX_PARTS_DEFAULT - 1);
	/* the rest is folded into the last part */
	last = &m.root.children[m.root.nchildren - 1];
	assert_int_equal(last->body_off + last->body_len, len);
	assert_memory_equal(s + last->body_off, "p9998\n--x\n\np9999\n", 17);
	assert_non_null(mime_section(&m, "9999"));
	assert_null(mime_section(&m, "10000"));
	print_message("100000 parts, %zu bytes: %.3f s\n", len, t);
	assert_true(t < 5.0);
	mime_buf_free(&b);
	mime_free(&m);
	free(s);
}

static void
test_deep(void **state)
{
	struct mime_buf b = { NULL, 0, 0 };
	int rfc822;

	(void)state;
	for (rfc822 = 0; rfc822 <= 1; rfc822++) {
		struct mime_msg m;
		size_t len;
		char *s = gen_deep(10000, rfc822, &len);
		double t0 = now_s(), t;

		assert_int_equal(mime_parse(s, len, NULL, &m), 0);
		b.len = 0;
		mime_bodystructure(&m, &m.root, true, &b);
		t = now_s() - t0;
		assert_true(imap_ok(&b));
		check_tree(&m);
		/* MIME_MAX_DEPTH_DEFAULT parsed levels and one opaque leaf */
		assert_int_equal(max_depth(&m), MIME_MAX_DEPTH_DEFAULT + 1);
		assert_true(b.len < 100000);
		print_message("10000 deep %s, %zu bytes: %.3f s, %zu parts, %zu bytes out\n",
		    rfc822 ? "message/rfc822" : "multipart", len, t, m.nparts, b.len);
		assert_true(t < 5.0);
		mime_free(&m);
		free(s);
	}
	mime_buf_free(&b);
}

/* Exact output at the limits. */
static void
test_limit_shapes(void **state)
{
	static const struct {
		struct mime_limits lim;
		const char *msg, *want;
	} cases[] = {
		/* out of parts: the second part takes the rest */
		{ { 10, 3, 1000 },
		  "Content-Type: multipart/mixed; boundary=x\n\n--x\n\na\n--x\n\nb\n--x\n\nc\n--x--\n",
		  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)"
		  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 5 NIL NIL NIL NIL)"
		  " \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)" },
		/* too deep: the inner multipart gets one opaque part */
		{ { 1, 100, 1000 },
		  "Content-Type: multipart/mixed; boundary=x\n\n--x\n"
		  "Content-Type: multipart/alternative; boundary=y\n\n--y\n\na\n--y--\n--x--\n",
		  "(((\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 15 NIL NIL NIL NIL)"
		  " \"alternative\" (\"boundary\" \"y\") NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)" },
		/* a message too deep: envelope still shown, its body opaque */
		{ { 0, 100, 1000 },
		  "Content-Type: message/rfc822\n\nSubject: s\n\nbody\n",
		  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 20 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL)"
		  " (\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 20 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)" },
		/* one part allowed: the root only */
		{ { 10, 1, 1000 },
		  "Content-Type: multipart/mixed; boundary=x\n\n--x\n\na\n--x--\n",
		  "((\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 17 NIL NIL NIL NIL)"
		  " \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)" },
		/* only the first max_header bytes are looked at */
		{ { 10, 100, 20 },
		  "X-Long-Header: aaaaaaaaaa\nContent-Type: image/gif\n\nx\n",
		  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)" },
	};
	struct mime_buf b = { NULL, 0, 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bs_of(cases[i].msg, strlen(cases[i].msg), &cases[i].lim, true, &b);
		if (strcmp(b.p, cases[i].want) != 0)
			fail_msg("case %zu\n got %s\nwant %s", i, b.p, cases[i].want);
	}
	mime_buf_free(&b);
}

/* ---- sections ---- */

static const char *
body_of(const struct mime_msg *m, const char *section, size_t *len)
{
	const struct mime_part *p = mime_section(m, section);

	if (p == NULL)
		return NULL;
	*len = p->body_len;
	return m->data + p->body_off;
}

static void
test_sections(void **state)
{
	static const struct {
		const char *section;
		const char *body;	/* NULL: no such part */
	} fw[] = {
		{ "1", "forwarding" },
		{ "2.1", "inner text" },
		{ "2.2", "<b>inner</b>" },
		{ "2.3", NULL },
		{ "3", NULL },
		{ "0", NULL },
		{ "1.1", NULL },
		{ "01", NULL },
		{ "1.", NULL },
		{ ".1", NULL },
		{ "2..1", NULL },
		{ "2.1.1", NULL },
		{ "2.x", NULL },
		{ "99999999999999999999", NULL },
	};
	const char *msg = NULL, *b;
	struct mime_msg m;
	const struct mime_part *p;
	size_t i, len;

	(void)state;
	for (i = 0; i < NCASES; i++)
		if (strcmp(bcases[i].name, "rfc822") == 0)
			msg = bcases[i].msg;
	assert_non_null(msg);
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	assert_ptr_equal(mime_section(&m, ""), &m.root);
	for (i = 0; i < sizeof(fw) / sizeof(fw[0]); i++) {
		b = body_of(&m, fw[i].section, &len);
		if (fw[i].body == NULL) {
			if (b != NULL)
				fail_msg("section %s exists", fw[i].section);
			continue;
		}
		if (b == NULL || len != strlen(fw[i].body) || memcmp(b, fw[i].body, len) != 0)
			fail_msg("section %s: got %.*s", fw[i].section, b ? (int)len : 4,
			    b ? b : "NULL");
	}
	/* "2" is the message/rfc822 part; its header is the MIME header, the
	 * enclosed message's header is 2.HEADER */
	p = mime_section(&m, "2");
	assert_non_null(p);
	assert_non_null(p->message);
	assert_memory_equal(m.data + p->hdr_off, "Content-Type: message/rfc822\n", 29);
	assert_memory_equal(m.data + p->message->hdr_off, "From: \"Inner", 12);
	assert_string_equal(p->message->subtype, "alternative");
	mime_free(&m);

	/* A non-multipart message has part 1, itself. */
	msg = "Subject: s\n\nbody\n";
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	assert_ptr_equal(mime_section(&m, "1"), &m.root);
	assert_null(mime_section(&m, "2"));
	assert_null(mime_section(&m, "1.1"));
	mime_free(&m);

	/* Top-level message/rfc822: 1 is the root, 1.1 the enclosed text. */
	msg = "Content-Type: message/rfc822\n\nSubject: in\n\ninner body\n";
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	assert_ptr_equal(mime_section(&m, "1"), &m.root);
	b = body_of(&m, "1.1", &len);
	assert_non_null(b);
	assert_int_equal(len, 11);
	assert_memory_equal(b, "inner body\n", 11);
	assert_null(mime_section(&m, "1.2"));
	mime_free(&m);

	/* A multipart without parts has none to address. */
	msg = "Content-Type: multipart/mixed\n\n--x\n\nhi\n--x--\n";
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	assert_null(mime_section(&m, "1"));
	mime_free(&m);
}

/* ---- header fields ---- */

static void
test_header_fields(void **state)
{
	static const char hdr[] =
	    "From: a@b\nSubject: one\n two\nX-Spam: yes\nsubject: again\nTo : c@d\n\nbody: no\n";
	static const char *const names[] = { "SUBJECT", "to" };
	static const char *const none[] = { "x" };
	struct mime_buf b = { NULL, 0, 0 };
	char *v;

	(void)state;
	mime_header_fields(hdr, sizeof(hdr) - 1, names, 2, false, &b);
	assert_string_equal(b.p, "Subject: one\n two\nsubject: again\nTo : c@d\n\n");
	b.len = 0;
	mime_header_fields(hdr, sizeof(hdr) - 1, names, 2, true, &b);
	assert_string_equal(b.p, "From: a@b\nX-Spam: yes\n\n");
	b.len = 0;
	mime_header_fields(hdr, sizeof(hdr) - 1, none, 0, false, &b);
	assert_string_equal(b.p, "\n");
	b.len = 0;
	mime_header_fields(hdr, sizeof(hdr) - 1, none, 0, true, &b);
	assert_string_equal(b.p, "From: a@b\nSubject: one\n two\nX-Spam: yes\nsubject: again\n"
	    "To : c@d\n\n");
	/* CRLF block, and one without its empty line and final LF */
	b.len = 0;
	mime_header_fields("A: 1\r\nB: 2\r\n\r\n", 14, names, 2, true, &b);
	assert_string_equal(b.p, "A: 1\r\nB: 2\r\n\r\n");
	b.len = 0;
	mime_header_fields("A: 1\nTo: x", 10, names, 2, false, &b);
	assert_string_equal(b.p, "To: x\n\n");
	/* a line without a colon matches no name */
	b.len = 0;
	mime_header_fields("junk line\nTo: x\n\n", 17, names, 2, true, &b);
	assert_string_equal(b.p, "junk line\n\n");
	mime_buf_free(&b);

	v = mime_header_get(hdr, sizeof(hdr) - 1, "subject");
	assert_string_equal(v, "one two");
	free(v);
	v = mime_header_get(hdr, sizeof(hdr) - 1, "TO");
	assert_string_equal(v, "c@d");
	free(v);
	assert_null(mime_header_get(hdr, sizeof(hdr) - 1, "body"));
	assert_null(mime_header_get(hdr, sizeof(hdr) - 1, "From:"));
	v = mime_header_get("X:\n\tfolded\n", 11, "x");
	assert_string_equal(v, "folded");
	free(v);
	v = mime_header_get("X: a\0b\n", 7, "x");
	assert_string_equal(v, "a\xef\xbf\xbd" "b");
	free(v);
}

/* ---- ENVELOPE ---- */

static void
test_envelope(void **state)
{
	static const struct {
		const char *hdr;
		const char *want;
	} cases[] = {
		{ "",
		  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
		{ "From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: Hello\n"
		  "Date: Fri, 21 Nov 1997 09:55:06 -0600\nMessage-ID: <1234@local.machine.example>\n\n",
		  "(\"Fri, 21 Nov 1997 09:55:06 -0600\" \"Hello\" ((\"Alice\" NIL \"alice\" \"example.org\"))"
		  " ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\"))"
		  " ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL \"<1234@local.machine.example>\")" },
		/* RFC 5322 A.1.2, A.1.3 and A.5 (Dovecot gives the same) */
		{ "From: \"Joe Q. Public\" <john.q.public@example.com>\n"
		  "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n"
		  "Cc: <boss@nil.test>, (Comment only) sysservices@example.net\n"
		  "Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>\n"
		  "Sender: Michael Jones <mjones@machine.example>\nBcc:\n"
		  "Subject: Saying Hello\n\n",
		  "(NIL \"Saying Hello\" ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\"))"
		  " ((\"Michael Jones\" NIL \"mjones\" \"machine.example\"))"
		  " ((\"Mary Smith: Personal Account\" NIL \"smith\" \"home.example\"))"
		  " ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
		  "(\"Who?\" NIL \"one\" \"y.test\")) ((NIL NIL \"boss\" \"nil.test\")"
		  "(NIL NIL \"sysservices\" \"example.net\")) NIL NIL NIL)" },
		{ "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
		  "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n"
		  "Cc: Undisclosed recipients:;\n"
		  "Date: Thu,\n      13\n        Feb\n          1969\n      23:32\n"
		  "               -0330 (Newfoundland Time)\n\n",
		  "(\"Thu,      13        Feb          1969      23:32               -0330 (Newfoundland Time)\""
		  " NIL ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\"))"
		  " ((\"Pete\" NIL \"pete\" \"silly.test\")) ((NIL NIL \"A Group\" NIL)"
		  "(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")"
		  "(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL))"
		  " ((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)" },
		/* routes, empty names, missing parts, comment names; a quoted
		 * local part keeps its quotes (Dovecot drops them) */
		{ "From: foo\nTo: <@a,@b:u@v>, \"\" <g@h>, <>, \"john doe\"@x.y\n"
		  "Cc: empty:;, x@y (c1) (c2)\n"
		  "Bcc: (lead) d@e, Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n\n",
		  "(NIL NIL ((NIL NIL \"foo\" \"MISSING_DOMAIN\")) ((NIL NIL \"foo\" \"MISSING_DOMAIN\"))"
		  " ((NIL NIL \"foo\" \"MISSING_DOMAIN\")) ((NIL \"@a,@b\" \"u\" \"v\")(NIL NIL \"g\" \"h\")"
		  "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"\\\"john doe\\\"\" \"x.y\"))"
		  " ((NIL NIL \"empty\" NIL)(NIL NIL NIL NIL)(\"c2\" NIL \"x\" \"y\"))"
		  " ((NIL NIL \"d\" \"e\")(\"Pete\" NIL \"pete\" \"silly.test\")) NIL NIL)" },
		/* quoting: '"' and '\' escaped; 8-bit, NUL as literals; empty
		 * sender and reply-to are from; empty elements skipped */
		{ "Subject: a \"b\" \\ c\nFrom: caf\xc3\xa9 <x@y>\nSender:\nReply-To: (nobody)\n"
		  "To: a@b, , ,c@d\nIn-Reply-To:\nMessage-ID: nul\0here\n\n",
		  "(NIL \"a \\\"b\\\" \\\\ c\" (({5}\r\ncaf\xc3\xa9 NIL \"x\" \"y\"))"
		  " (({5}\r\ncaf\xc3\xa9 NIL \"x\" \"y\")) (({5}\r\ncaf\xc3\xa9 NIL \"x\" \"y\"))"
		  " ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL NIL \"\" {10}\r\nnul\xef\xbf\xbdhere)" },
		/* obsolete forms: blanks before the colon, folded values, first
		 * field wins; nothing is decoded */
		{ "Subject : =?utf-8?q?caf=C3=A9?=\n\tagain\nSubject: second\nMessage-ID:\n <folded@id>\n"
		  "From: =?utf-8?q?N?= <n@x>, \"Unclosed <a@b>\nCc: Mary <mary@x.test\n\n",
		  "(NIL \"=?utf-8?q?caf=C3=A9?=\tagain\" ((\"=?utf-8?q?N?=\" NIL \"n\" \"x\")"
		  "(NIL NIL \"\\\"Unclosed <a@b>\" \"MISSING_DOMAIN\")) ((\"=?utf-8?q?N?=\" NIL \"n\" \"x\")"
		  "(NIL NIL \"\\\"Unclosed <a@b>\" \"MISSING_DOMAIN\")) ((\"=?utf-8?q?N?=\" NIL \"n\" \"x\")"
		  "(NIL NIL \"\\\"Unclosed <a@b>\" \"MISSING_DOMAIN\")) NIL ((\"Mary\" NIL \"mary\" \"x.test\"))"
		  " NIL NIL \"<folded@id>\")" },
	};
	struct mime_buf b = { NULL, 0, 0 };
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].hdr);
		if (i == 5)
			len += strlen(cases[i].hdr + len + 1) + 1;	/* past the NUL */
		b.len = 0;
		mime_envelope(cases[i].hdr, len, &b);
		assert_true(imap_ok(&b));
		if (strcmp(b.p, cases[i].want) != 0)
			fail_msg("case %zu\n got %s\nwant %s", i, b.p, cases[i].want);
	}
	mime_buf_free(&b);
}

/* ---- encoded words ---- */

static void
test_decode_words(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" },
		{ "plain text", "plain text" },
		{ "=?UTF-8?B?w6nDqQ==?=", "\xc3\xa9\xc3\xa9" },
		{ "=?UTF-8?B?w6nDqQ?=", "\xc3\xa9\xc3\xa9" },		/* padding optional */
		{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
		{ "=?iso-8859-1?q?caf=e9?=", "caf\xc3\xa9" },
		/* RFC 2047 8 */
		{ "(=?ISO-8859-1?Q?a?=)", "(a)" },
		{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?=\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?=\r\n\t=?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
		/* a character split between two words */
		{ "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xe2\x82\xac" },
		{ "=?UTF-8?Q?=E2=82?= =?UTF-8?Q?=AC?= end", "\xe2\x82\xac end" },
		/* RFC 2231 5 language */
		{ "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
		{ "=?windows-1252?Q?=80_5?=", "\xe2\x82\xac 5" },
		{ "=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=",
		  "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf" },
		{ "=?koi8-r?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
		/* next to text without blanks (lenient, as most readers) */
		{ "a=?utf-8?q?b?=c", "abc" },
		/* folding removed */
		{ "one\n two\r\n\tthree", "one two\tthree" },
		/* invalid words are kept */
		{ "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=" },
		{ "=?UTF-8?B?***?=", "=?UTF-8?B?***?=" },
		{ "=?UTF-8?B?QUJDR?=", "=?UTF-8?B?QUJDR?=" },
		{ "=?no-such-charset?Q?x?=", "=?no-such-charset?Q?x?=" },
		{ "=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?=" },
		{ "=?UTF-8?Q?abc", "=?UTF-8?Q?abc" },
		{ "=??Q?abc?=", "=??Q?abc?=" },
		{ "=?utf-8?q?", "=?utf-8?q?" },
		{ "=?", "=?" },
		{ "=?UTF-8?Q?=ZZ=4?=", "=ZZ=4" },
		{ "=?utf-8?q?\?=", "" },
		{ "x =?bad?q?y?= =?utf-8?q?z?=", "x =?bad?q?y?= z" },
		/* bad bytes become U+FFFD, raw or decoded */
		{ "caf\xe9", "caf\xef\xbf\xbd" },
		{ "=?UTF-8?Q?=FF=00x?=", "\xef\xbf\xbd\xef\xbf\xbdx" },
		{ "=?us-ascii?q?=C3=A9?=", "\xc3\xa9" },
		{ "\xed\xa0\x80 \xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd" },
		{ "=?UTF-8?B?4oI=?= x", "\xef\xbf\xbd\xef\xbf\xbd x" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = mime_decode_words(cases[i].in, strlen(cases[i].in));

		assert_non_null(out);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: %s\n got %s\nwant %s", i, cases[i].in, out, cases[i].want);
		free(out);
	}
	/* NUL inside */
	{
		char *out = mime_decode_words("a\0b", 3);

		assert_string_equal(out, "a\xef\xbf\xbd" "b");
		free(out);
	}
}

/* Many words and charsets: linear, bounded iconv use. */
static void
test_decode_words_big(void **state)
{
	size_t n = 0, cap = 2000000, i;
	char *s = malloc(cap), *out;
	double t0;

	(void)state;
	assert_non_null(s);
	/* no "?=" anywhere: every "=?" is retried */
	while (n + 16 < cap / 2) {
		memcpy(s + n, "=?a?q?x=?b?q?y", 14);
		n += 14;
	}
	/* unknown charsets, all different */
	for (i = 0; n + 40 < cap; i++)
		n += (size_t)snprintf(s + n, cap - n, "=?x-%zu?q?a?= ", i);
	t0 = now_s();
	out = mime_decode_words(s, n);
	t0 = now_s() - t0;
	print_message("%zu bytes of bad words: %.3f s\n", n, t0);
	assert_true(t0 < 5.0);
	assert_int_equal(strlen(out), n);	/* all kept */
	free(out);
	free(s);
}

/* ---- dates ---- */

static void
test_dates(void **state)
{
	static const struct {
		const char *in;
		int ok;
		long long utc;
		int tz;
	} cases[] = {
		/* RFC 5322 A.1.1, A.1.2, A.5 */
		{ "Fri, 21 Nov 1997 09:55:06 -0600", 0, 880127706, -360 },
		{ "Tue, 1 Jul 2003 10:52:37 +0200", 0, 1057049557, 120 },
		{ "Thu,\n      13\n        Feb\n          1969\n      23:32\n"
		  "               -0330 (Newfoundland Time)", 0, -27723480, -210 },
		{ "Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 0, 760686745, -480 },
		/* obsolete: 2- and 3-digit years, named and military zones, no
		 * seconds, comments and blanks anywhere */
		{ "21 Nov 97 09:55:06 GMT", 0, 880106106, 0 },
		{ "Fri, 21 Nov 1997 09:55 EST", 0, 880124100, -300 },
		{ "1 Jan 00 00:00:00 Z", 0, 946684800, 0 },
		{ "1 Jan 2000 00:00:00 a", 0, 946684800, 0 },
		{ "1 Jan 49 00:00 +0000", 0, 2493072000, 0 },
		{ "1 Jan 50 00:00 +0000", 0, -631152000, 0 },
		{ "1 Jan 103 00:00 UT", 0, 1041379200, 0 },
		{ "Tue, 1 Jul 2003 10:52:37 PDT", 0, 1057081957, -420 },
		{ "Tue (x), 1 (y) Jul (z) 2003 10 : 52 : 37 +0200 (CEST)", 0, 1057049557, 120 },
		{ "Tuesday, 1 July 2003 10:52:37 +0200", 0, 1057049557, 120 },
		{ "tue, 01 JUL 2003 10:52:37 +0200", 0, 1057049557, 120 },
		{ "1 Jul 2003 10:52:37 CEST", 0, 1057056757, 0 },
		{ "1 Jul 2003 10:52:37", 0, 1057056757, 0 },
		{ "1 Jul 2003 10:52:37 -0000", 0, 1057056757, 0 },
		{ "1 Jul 2003 10:52:37 +0200 trailing junk", 0, 1057049557, 120 },
		{ "29 Feb 2000 12:00:00 +0000", 0, 951825600, 0 },
		{ "29 Feb 2004 00:00:00 +0000", 0, 1078012800, 0 },
		{ "31 Dec 2016 23:59:60 +0000", 0, 1483228800, 0 },
		{ "19 Jan 2038 03:14:08 +0000", 0, 2147483648LL, 0 },
		{ "1 Jan 0001 00:00 +0000", 0, -62135596800LL, 0 },
		{ "31 Dec 9999 23:59:59 +0000", 0, 253402300799LL, 0 },
		/* invalid */
		{ "", -1, 0, 0 },
		{ "garbage", -1, 0, 0 },
		{ "32 Jan 2020 00:00 +0000", -1, 0, 0 },
		{ "0 Jan 2020 00:00 +0000", -1, 0, 0 },
		{ "29 Feb 1900 00:00 +0000", -1, 0, 0 },
		{ "31 Apr 2003 00:00 +0000", -1, 0, 0 },
		{ "1 Foo 2003 10:00 +0000", -1, 0, 0 },
		{ "1 Ju 2003 10:00 +0000", -1, 0, 0 },
		{ "1 Jul 2003 24:00:00 +0000", -1, 0, 0 },
		{ "1 Jul 2003 10:60 +0000", -1, 0, 0 },
		{ "1 Jul 2003 10:52:61 +0000", -1, 0, 0 },
		{ "1 Jul 2003 10:52:37 +02", -1, 0, 0 },
		{ "1 Jul 2003 10:52:37 +2a00", -1, 0, 0 },
		{ "1 Jul 2003 10:52:37 +0260", -1, 0, 0 },
		{ "1 Jul 2003 10:52:37 0200", -1, 0, 0 },
		{ "1 Jul 2003", -1, 0, 0 },
		{ "1 Jul 2003 10", -1, 0, 0 },
		{ "1 Jul 1 10:00 +0000", -1, 0, 0 },
		{ "1 Jul 12345 10:00 +0000", -1, 0, 0 },
		{ "Xyz, 1 Jul 2003 10:00 +0000", -1, 0, 0 },
		{ "123 Jul 2003 10:00 +0000", -1, 0, 0 },
		{ "1 Jul 2003 10:00:00:00 +0000", -1, 0, 0 },
		{ "(unterminated 1 Jul 2003 10:00 +0000", -1, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long utc = 12345;
		int tz = 12345, r = mime_parse_date(cases[i].in, &utc, &tz);

		if (r != cases[i].ok)
			fail_msg("case %zu: %s: returned %d", i, cases[i].in, r);
		if (r == 0 && (utc != cases[i].utc || tz != cases[i].tz))
			fail_msg("case %zu: %s: %lld %d, want %lld %d", i, cases[i].in, utc, tz,
			    cases[i].utc, cases[i].tz);
	}
	assert_int_equal(mime_parse_date("1 Jul 2003 10:00 +0000", NULL, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodystructure),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_limit_shapes),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_decode_words),
		cmocka_unit_test(test_decode_words_big),
		cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
