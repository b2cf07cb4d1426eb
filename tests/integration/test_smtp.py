"""SMTP protocol: basic delivery, EHLO/commands, ordering and limits,
pipelining, BDAT/CHUNKING, DSN parameters."""
import re
import smtplib
import socket
import time

from harness import (Raw, Server, check, eq, header, queued_id, short, split_message, test,
                     wait_for)

BODY = "Hello from the integration suite.\r\nSecond line.\r\n"


@test("smtp: smtplib delivery to a virtual user (Received, Return-Path, Delivered-To, log)")
def t_basic():
    with Server() as s:
        token = "tok-basic-%d" % time.time_ns()
        msg = ("From: Sender <sender@example.org>\r\nTo: user1@lala.local\r\n"
               "Subject: %s\r\n\r\n%s" % (token, BODY))
        c = smtplib.SMTP("127.0.0.1", s.port, timeout=10)
        try:
            eq(c.ehlo("client.example")[0], 250, "EHLO")
            eq(c.mail("sender@example.org")[0], 250, "MAIL")
            eq(c.rcpt("user1@lala.local")[0], 250, "RCPT")
            code, text = c.data(msg.encode())
            text = text.decode()
        finally:
            c.quit()
        eq(code, 250, "final DATA reply code")
        qid = queued_id(text)
        check(qid is not None, "250 reply has no 'queued as ID': %r" % text)
        s.wait_delivered(qid)
        msgs = s.messages("user1")
        eq(len(msgs), 1, "messages in user1's Maildir new/")
        hdrs, body = split_message(msgs[0])
        eq(header(hdrs, "Return-Path"), ["<sender@example.org>"], "Return-Path")
        eq(header(hdrs, "Delivered-To"), ["user1@lala.local"], "Delivered-To")
        rec = header(hdrs, "Received")
        check(len(rec) == 1 and "127.0.0.1" in rec[0] and qid in rec[0] and
              "test.example" in rec[0], "Received header: %r" % rec)
        eq(header(hdrs, "Subject"), [token], "Subject")
        # order: Return-Path, Delivered-To, Received come first
        eq([n for n, _ in hdrs[:3]], ["Return-Path", "Delivered-To", "Received"], "header order")
        eq(body, BODY.replace("\r\n", "\n").encode(), "body")
        log = s.log()
        check(re.search(r"%s: to=<user1@lala.local> relay=maildir delay=[0-9.]+ dsn=2\.0\.0 "
                        r"status=sent \(" % qid, log), "no 'to=<user1@lala.local> ... "
              "status=sent' log line for %s" % qid)
        check(re.search(r"%s: from=<sender@example.org> size=\d+ nrcpt=1" % qid, log),
              "no from= log line for %s" % qid)
        check(re.search(r"%s: client=\[127\.0\.0\.1\]" % qid, log), "no client= log line")


@test("smtp: EHLO keywords, HELO, VRFY 252, HELP 214, NOOP, RSET, QUIT 221")
def t_ehlo():
    with Server() as s:
        c = smtplib.SMTP("127.0.0.1", s.port, timeout=10)
        code, _ = c.ehlo("client.example")
        eq(code, 250, "EHLO")
        feats = set(c.esmtp_features)
        for kw in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                   "chunking", "dsn"):
            check(kw in feats, "EHLO does not advertise %s (got %s)" % (kw.upper(), sorted(feats)))
        check(c.esmtp_features["size"].strip().isdigit(), "SIZE has no number")
        c.close()
        with Raw(s.port) as r:
            check(r.banner[0] == 220 and "test.example" in r.banner[1][0],
                  "banner: %r" % r.banner[1])
            code, lines = r.cmd("HELO client.example")
            eq(code, 250, "HELO")
            check(len(lines) == 1, "HELO reply must be one line: %r" % lines)
            eq(r.code("VRFY user1"), 252, "VRFY")
            eq(r.code("HELP"), 214, "HELP")
            eq(r.code("NOOP"), 250, "NOOP")
            eq(r.code("MAIL FROM:<a@example.org>"), 250, "MAIL after HELO")
            eq(r.code("RSET"), 250, "RSET")
            # RSET cleared the transaction: RCPT needs MAIL again
            eq(r.code("RCPT TO:<user1@lala.local>"), 503, "RCPT after RSET")
            rs = r.quit_and_collect()
            eq([x[0] for x in rs], [221], "QUIT replies")


@test("smtp: out-of-order commands get 503 (DATA/RCPT before MAIL, MAIL twice)")
def t_order():
    with Server() as s, Raw(s.port) as c:
        eq(c.code("MAIL FROM:<a@example.org>"), 503, "MAIL before EHLO")
        eq(c.code("EHLO client.example"), 250, "EHLO")
        eq(c.code("DATA"), 503, "DATA before MAIL")
        eq(c.code("RCPT TO:<user1@lala.local>"), 503, "RCPT before MAIL")
        eq(c.code("BDAT 0 LAST"), 503, "BDAT 0 LAST before MAIL")
        eq(c.code("MAIL FROM:<a@example.org>"), 250, "MAIL")
        eq(c.code("MAIL FROM:<b@example.org>"), 503, "second MAIL")
        eq(c.code("DATA"), 554, "DATA without recipients")
        eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT")
        eq(c.code("DATA"), 354, "DATA")
        c.send("Subject: order\r\n\r\nx\r\n.\r\n")
        eq(c.reply()[0], 250, "end of data")
        rs = c.quit_and_collect()
        eq([x[0] for x in rs], [221], "QUIT")
        s.wait_queue_empty()
        eq(len(s.messages("user1")), 1, "messages delivered")


@test("smtp: after a rejected message the transaction is reset (503 for RCPT/DATA)")
def t_reset_after_error():
    with Server({"line_length_limit": "100"}) as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        eq(c.code("MAIL FROM:<a@example.org>"), 250, "MAIL")
        eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT")
        eq(c.code("DATA"), 354, "DATA")
        c.send("Subject: long\r\n\r\n" + "y" * 300 + "\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 550, "reply to a message with a 300-byte line (limit 100)")
        check("5.6.0" in lines[0], "no 5.6.0: %r" % lines)
        eq(c.code("RCPT TO:<user2@lala.local>"), 503, "RCPT after the rejected message")
        eq(c.code("DATA"), 503, "DATA after the rejected message")
        # SIZE rejection in MAIL also leaves no transaction behind
        eq(c.code("MAIL FROM:<a@example.org> SIZE=999999999999"), 552, "MAIL with huge SIZE")
        eq(c.code("RCPT TO:<user2@lala.local>"), 503, "RCPT after the refused MAIL")
        c.cmd("QUIT")
        time.sleep(0.3)
        eq(s.queue_ids(), [], "queue")
        eq(s.messages("user1") + s.messages("user2"), [], "mailboxes")


@test("smtp: recipient_limit 3 -> 4th RCPT gets 452 4.5.3, three deliveries")
def t_rcpt_limit():
    with Server({"recipient_limit": "3"},
                users=("ameliana", "user1", "user2", "user3")) as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<a@example.org>")
        codes = [c.code("RCPT TO:<%s@lala.local>" % u) for u in ("user1", "user2", "ameliana")]
        eq(codes, [250, 250, 250], "first three RCPTs")
        code, lines = c.cmd("RCPT TO:<user3@lala.local>")
        eq(code, 452, "4th RCPT")
        check("4.5.3" in lines[0], "no 4.5.3 in %r" % lines)
        eq(c.code("DATA"), 354, "DATA")
        c.send("Subject: limit\r\n\r\nx\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 250, "end of data")
        qid = queued_id(lines[0])
        s.wait_delivered(qid)
        for u in ("user1", "user2", "ameliana"):
            eq(len(s.messages(u)), 1, "messages for %s" % u)
        eq(len(s.messages("user3")), 0, "messages for user3 (over the limit)")
        c.cmd("QUIT")


@test("smtp: message over message_size_limit -> 552 5.3.4, nothing delivered; SIZE= too big -> 552")
def t_size_limit():
    with Server({"message_size_limit": "2000"}) as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        code, lines = c.cmd("MAIL FROM:<a@example.org> SIZE=5000")
        eq(code, 552, "MAIL with SIZE=5000 > limit")
        check("5.3.4" in lines[0], "no 5.3.4 in %r" % lines)
        eq(c.code("MAIL FROM:<a@example.org> SIZE=18446744073709551617"), 552,
           "MAIL with SIZE beyond 2^64")
        eq(c.code("MAIL FROM:<a@example.org> SIZE=100"), 250, "MAIL with SIZE=100")
        eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT")
        eq(c.code("DATA"), 354, "DATA")
        big = "".join("line %05d %s\r\n" % (i, "z" * 60) for i in range(200))   # ~14 KB
        c.send("Subject: big\r\n\r\n" + big + ".\r\n")
        code, lines = c.reply()
        eq(code, 552, "reply to a 14 KB message (limit 2000)")
        check("5.3.4" in lines[0], "no 5.3.4 in %r" % lines)
        # the session is still usable and a small message passes
        eq(c.code("MAIL FROM:<a@example.org>"), 250, "MAIL after 552")
        eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT after 552")
        eq(c.code("DATA"), 354, "DATA after 552")
        c.send("Subject: small\r\n\r\nsmall\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 250, "small message")
        s.wait_delivered(queued_id(lines[0]))
        msgs = s.messages("user1")
        eq(len(msgs), 1, "messages delivered (only the small one)")
        eq(header(split_message(msgs[0])[0], "Subject"), ["small"], "delivered subject")
        eq(s.incoming(), [], "spool/incoming leftovers")
        c.cmd("QUIT")


@test("smtp: command line over 512 bytes -> 500 5.5.2, session continues")
def t_long_command():
    with Server() as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        code, lines = c.cmd("NOOP " + "x" * 600)
        eq(code, 500, "600-byte NOOP")
        check("5.5.2" in lines[0], "no 5.5.2 in %r" % lines)
        code, lines = c.cmd("HELO " + "h" * 3000)
        eq(code, 500, "3000-byte HELO")
        check("5.5.2" in lines[0], "no 5.5.2 in %r" % lines)
        code, lines = c.cmd("MAIL FROM:<" + "a" * 2000 + "@example.org>")
        check(code in (500, 501), "2000-byte MAIL: %r" % lines)
        eq(c.code("NOOP"), 250, "NOOP afterwards")
        rs = c.quit_and_collect()
        eq([x[0] for x in rs], [221], "QUIT (one reply per command, nothing extra)")


@test("smtp: DATA line over 1000 bytes -> 550 5.6.0, nothing delivered")
def t_long_data_line():
    with Server() as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<user1@lala.local>")
        eq(c.code("DATA"), 354, "DATA")
        c.send("Subject: long\r\n\r\nok line\r\n" + "L" * 1200 + "\r\nafter\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 550, "reply to a 1200-byte text line")
        check("5.6.0" in lines[0], "no 5.6.0 in %r" % lines)
        # exactly 998 is fine
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<user1@lala.local>")
        c.cmd("DATA")
        c.send("Subject: edge\r\n\r\n" + "E" * 998 + "\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 250, "reply to a 998-byte line")
        s.wait_delivered(queued_id(lines[0]))
        msgs = s.messages("user1")
        eq(len(msgs), 1, "delivered messages")
        check(b"E" * 998 + b"\n" in msgs[0], "998-byte line not stored intact")
        c.cmd("QUIT")


@test("smtp: NUL byte in DATA -> rejected, nothing delivered")
def t_nul():
    with Server() as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<user1@lala.local>")
        eq(c.code("DATA"), 354, "DATA")
        c.send(b"Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n")
        code, lines = c.reply()
        check(code is not None and 500 <= code < 600, "NUL message reply: %r" % lines)
        rs = c.quit_and_collect()
        eq([x[0] for x in rs], [221], "QUIT")
        time.sleep(0.3)
        eq(s.queue_ids(), [], "queue")
        eq(s.messages("user1"), [], "mailbox")


@test("smtp: max_errors 3 -> 421 and the connection is closed")
def t_max_errors():
    with Server({"max_errors": "3"}) as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        c.send("FOO\r\nBAR\r\nBAZ\r\nNOOP\r\nNOOP\r\n")
        rs = c.all_replies(5)
        codes = [x[0] for x in rs]
        eq(codes[:3], [500, 500, 500], "replies to three bad commands")
        check(len(codes) == 4 and codes[3] == 421, "expected one 421 then close, got %r" % rs)
        check("4.7.0" in rs[3][1][0], "421 without 4.7.0: %r" % rs[3][1])


@test("smtp: smtpd_timeout 2s -> 421 4.4.2 and close")
def t_timeout():
    with Server({"smtpd_timeout": "2s"}) as s, Raw(s.port) as c:
        eq(c.code("EHLO client.example"), 250, "EHLO")
        t0 = time.monotonic()
        code, lines = c.reply(timeout=8)
        took = time.monotonic() - t0
        eq(code, 421, "reply after idling")
        check("4.4.2" in lines[0], "no 4.4.2: %r" % lines)
        check(1.5 <= took <= 6, "timeout came after %.1fs (configured 2s)" % took)
        check(c.at_eof(), "connection not closed after 421")
        s.wait_log(r"timeout after command from \[127\.0\.0\.1\]", 3)


@test("smtp: max_connections_per_ip 2 -> third connection gets 421 4.7.0")
def t_conn_limit():
    with Server({"max_connections_per_ip": "2"}) as s:
        a, b = Raw(s.port), Raw(s.port)
        try:
            eq(a.banner[0], 220, "first connection")
            eq(b.banner[0], 220, "second connection")
            c = Raw(s.port)
            try:
                eq(c.banner[0], 421, "third connection")
                check("4.7.0" in c.banner[1][0], "no 4.7.0: %r" % c.banner[1])
                check(c.at_eof(), "third connection not closed")
            finally:
                c.close()
            # from another address the limit is separate
            d = Raw(s.port, src="127.0.0.2")
            eq(d.banner[0], 220, "connection from 127.0.0.2")
            d.close()
        finally:
            a.close()
            b.close()
        # after one closes, a new one is admitted
        def fresh():
            x = Raw(s.port)
            ok = x.banner[0] == 220
            x.close()
            return ok
        wait_for(fresh, 5, 0.2, "a connection to be admitted again")


@test("smtp: pipelining MAIL, 3xRCPT, DATA in one write -> replies in order")
def t_pipelining():
    with Server() as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        c.send("MAIL FROM:<p@example.org>\r\nRCPT TO:<user1@lala.local>\r\n"
               "RCPT TO:<nosuch@lala.local>\r\nRCPT TO:<user2@lala.local>\r\nDATA\r\n")
        rs = [c.reply() for _ in range(5)]
        eq([x[0] for x in rs], [250, 250, 550, 250, 354], "pipelined replies")
        check("2.1.0" in rs[0][1][0] and "2.1.5" in rs[1][1][0], "enhanced codes: %r" % rs)
        c.send("Subject: piped\r\n\r\nbody\r\n.\r\nNOOP\r\n")
        code, lines = c.reply()
        eq(code, 250, "end of data")
        eq(c.reply()[0], 250, "NOOP pipelined after the dot")
        s.wait_delivered(queued_id(lines[0]))
        eq(len(s.messages("user1")), 1, "user1 messages")
        eq(len(s.messages("user2")), 1, "user2 messages")
        c.cmd("QUIT")


def _strip_trace(msg):
    """Drop Return-Path, Delivered-To and Received (with continuations)."""
    lines = msg.split(b"\n")
    i = 0
    while i < len(lines):
        l = lines[i]
        if l.startswith((b"Return-Path:", b"Delivered-To:", b"Received:")):
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
            continue
        break
    return b"\n".join(lines[i:])


@test("bdat: BDAT 20 LAST with CRLF.CRLF RSET inside -> one message, exact content")
def t_bdat_last():
    # From 127.0.0.2 (not in networks): no header fixups, so the content is exact.
    with Server() as s, Raw(s.port, src="127.0.0.2") as c:
        c.cmd("EHLO client.example")
        eq(c.code("MAIL FROM:<b@example.org>"), 250, "MAIL")
        eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT")
        chunk = b"X: y\r\n\r\nA\r\n.\r\nRSET\r\n"
        eq(len(chunk), 20, "chunk length (test self-check)")
        c.send(b"BDAT 20 LAST\r\n" + chunk)
        code, lines = c.reply()
        eq(code, 250, "BDAT LAST reply")
        qid = queued_id(lines[0])
        check(qid, "no queue id in %r" % lines)
        rs = c.quit_and_collect()
        eq([x[0] for x in rs], [221], "replies after BDAT (an executed RSET would add a 250)")
        s.wait_delivered(qid)
        msgs = s.messages("user1")
        eq(len(msgs), 1, "messages")
        eq(_strip_trace(msgs[0]), b"X: y\n\nA\n.\nRSET\n", "stored content")


@test("bdat: several chunks are joined exactly; octet counts in replies")
def t_bdat_chunks():
    with Server() as s, Raw(s.port, src="127.0.0.2") as c:
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<b@example.org>")
        c.cmd("RCPT TO:<user2@lala.local>")
        parts = [b"Subject: chunks\r\n", b"\r\nfirst ", b"half\r\n.leading dot\r\nend\r\n"]
        c.send(b"BDAT %d\r\n" % len(parts[0]) + parts[0])
        code, lines = c.reply()
        eq(code, 250, "chunk 1")
        check(str(len(parts[0])) in lines[0], "chunk 1 count: %r" % lines)
        c.send(b"BDAT %d\r\n" % len(parts[1]) + parts[1] +
               b"BDAT %d\r\n" % len(parts[2]) + parts[2] + b"BDAT 0 LAST\r\n")
        r2, r3, r4 = c.reply(), c.reply(), c.reply()
        eq((r2[0], r3[0], r4[0]), (250, 250, 250), "chunk replies")
        total = sum(len(p) for p in parts)
        check(str(len(parts[0]) + len(parts[1])) in r2[1][0] and str(total) in r3[1][0],
              "octet counts: %r %r" % (r2[1], r3[1]))
        qid = queued_id(r4[1][0])
        check(qid, "no queue id in %r" % r4[1])
        s.wait_delivered(qid)
        msgs = s.messages("user2")
        eq(len(msgs), 1, "messages")
        eq(_strip_trace(msgs[0]), b"Subject: chunks\n\nfirst half\n.leading dot\nend\n",
           "stored content (no dot-unstuffing in BDAT)")
        c.cmd("QUIT")


@test("bdat: BDAT without MAIL -> 503 and chunk bytes are not executed")
def t_bdat_no_mail():
    with Server() as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        chunk = b"MAIL FROM:<evil@example.org>\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        code, lines = c.reply()
        eq(code, 503, "BDAT without MAIL")
        # if the chunk had been taken as a command, RCPT would now get 250
        eq(c.code("RCPT TO:<user1@lala.local>"), 503, "RCPT after the refused chunk")
        rs = c.quit_and_collect()
        eq([x[0] for x in rs], [221], "QUIT")
        eq(s.queue_ids(), [], "queue")


@test("bdat: huge BDAT size then close -> nothing queued; bad sizes -> 501")
def t_bdat_huge():
    with Server() as s:
        with Raw(s.port) as c:
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<b@example.org>")
            c.cmd("RCPT TO:<user1@lala.local>")
            c.send(b"BDAT 1000000000 LAST\r\nSubject: partial\r\n\r\n" + b"p" * 5000)
            time.sleep(0.3)
        s.wait_log(r"lost connection after DATA from \[127\.0\.0\.1\]", 5)
        with Raw(s.port) as c:
            c.cmd("EHLO client.example")
            c.cmd("MAIL FROM:<b@example.org>")
            c.cmd("RCPT TO:<user1@lala.local>")
            eq(c.code("BDAT 99999999999999999999999"), 501, "BDAT size beyond 2^64")
            eq(c.code("BDAT -1"), 501, "BDAT -1")
            eq(c.code("BDAT"), 501, "BDAT without size")
            c.cmd("QUIT")
        time.sleep(0.3)
        eq(s.queue_ids(), [], "queue")
        eq(s.incoming(), [], "spool/incoming")
        eq(s.messages("user1"), [], "mailbox")


@test("dsn: RET/ENVID/NOTIFY/ORCPT accepted and stored in the queue file")
def t_dsn():
    with Server() as s, Raw(s.port) as c:
        c.cmd("EHLO client.example")
        eq(c.code("MAIL FROM:<d@lala.local> RET=HDRS ENVID=abc"), 250, "MAIL with RET/ENVID")
        eq(c.code("RCPT TO:<x@ext.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@lala.local"), 250,
           "RCPT with NOTIFY/ORCPT")
        eq(c.code("RCPT TO:<y@ext.example> NOTIFY=NEVER,SUCCESS"), 501, "NOTIFY=NEVER,SUCCESS")
        eq(c.code("RCPT TO:<y@ext.example> NOTIFY=BOGUS"), 501, "NOTIFY=BOGUS")
        eq(c.code("DATA"), 354, "DATA")
        c.send("Subject: dsn\r\n\r\nx\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 250, "end of data")
        qid = queued_id(lines[0])
        c.cmd("QUIT")
        s.wait_log(r"%s: to=<x@ext.example> .*status=deferred" % qid, 10)
        p = s.cli("queue", "-c", s.conf, "show", qid)
        eq(p.returncode, 0, "queue show exit status (stderr %r)" % p.err)
        out = p.out
        check(re.search(r"^envid abc$", out, re.M), "no 'envid abc' in queue file: %s" % short(out, 400))
        check(re.search(r"^ret HDRS$", out, re.M), "no 'ret HDRS' in queue file")
        check(re.search(r"^rcpt 6 x@ext\.example x@lala\.local$", out, re.M),
              "rcpt line (notify 6 = SUCCESS|FAILURE, orcpt x@lala.local) missing: %s" %
              short(out, 400))
        check(re.search(r"^sender d@lala\.local$", out, re.M), "no sender line")


@test("smtp: 1.8 MB message (dots, 998-byte lines, 8-bit) in odd-sized writes stored byte-exact")
def t_big_exact():
    import random
    rnd = random.Random(1234)
    lines = []
    for i in range(20000):
        k = rnd.choice(["", ".", "..", ".x", "From x", "plain", "long", "8bit", "tab"])
        if k == "long":
            l = b"L" * rnd.randint(500, 998)
        elif k == "8bit":
            l = b"caf\xe9 \xff\x80 \xc3\xa9"
        elif k == "tab":
            l = b"\tindented"
        elif k == "plain":
            l = b"line %d %s" % (i, b"w" * rnd.randint(0, 80))
        else:
            l = k.encode()
        lines.append(l)
    body = b"\n".join(lines) + b"\n"
    wire = b"Subject: big\r\n\r\n" + b"".join(
        (b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"
    with Server() as s, Raw(s.port, src="127.0.0.2") as c:
        c.cmd("EHLO c.example")
        eq(c.code("MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=%d" % len(wire)), 250, "MAIL")
        eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT")
        eq(c.code("DATA"), 354, "DATA")
        pos = 0
        while pos < len(wire):
            n = rnd.randint(1, 70000)
            c.send(wire[pos:pos + n])
            pos += n
        code, lines_ = c.reply(timeout=30)
        eq(code, 250, "big message reply")
        qid = queued_id(lines_[0])
        # end of data split over several segments: CR LF . CR LF one by one
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<user2@lala.local>")
        c.cmd("DATA")
        for part in (b"Subject: split\r\n\r\nabc", b"\r", b"\n", b".", b"\r", b"\n"):
            c.send(part)
            time.sleep(0.05)
        code, lines2 = c.reply()
        eq(code, 250, "reply to an end-of-data sent byte by byte")
        s.wait_delivered(qid, 30)
        s.wait_delivered(queued_id(lines2[0]))
        msgs = s.messages("user1")
        eq(len(msgs), 1, "big messages stored")
        got = split_message(msgs[0])[1]
        if got != body:
            i = next((k for k in range(min(len(got), len(body))) if got[k] != body[k]),
                     min(len(got), len(body)))
            raise AssertionError("stored body differs from the sent one at byte %d of %d/%d: "
                                 "sent %r, stored %r" % (i, len(body), len(got),
                                                         body[i - 20:i + 20], got[i - 20:i + 20]))
        eq(split_message(s.messages("user2")[0])[1], b"abc\n", "split message body")
        c.cmd("QUIT")


@test("bdat: BDAT 0 LAST after MAIL/RCPT queues an empty message")
def t_bdat_empty():
    with Server() as s, Raw(s.port, src="127.0.0.2") as c:
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<a@example.org>")
        c.cmd("RCPT TO:<user1@lala.local>")
        code, lines = c.cmd("BDAT 0 LAST")
        eq(code, 250, "BDAT 0 LAST")
        s.wait_delivered(queued_id(lines[0]))
        eq(_strip_trace(s.messages("user1")[0]), b"", "stored content of an empty message")
        c.cmd("QUIT")


@test("smtp: max_connections 3 -> fourth connection (any address) gets 421")
def t_max_connections():
    with Server({"max_connections": "3"}) as s:
        conns = [Raw(s.port), Raw(s.port, src="127.0.0.2"), Raw(s.port, src="127.0.0.3")]
        try:
            eq([c.banner[0] for c in conns], [220, 220, 220], "first three connections")
            d = Raw(s.port, src="127.0.0.4")
            try:
                eq(d.banner[0], 421, "fourth connection")
                check(d.at_eof(), "fourth connection not closed")
            finally:
                d.close()
            eq(conns[0].code("NOOP"), 250, "existing connection still served")
        finally:
            for c in conns:
                c.close()


@test("smtp: client vanishing or timing out inside DATA leaves nothing behind")
def t_data_abandoned():
    with Server({"smtpd_timeout": "2s"}) as s:
        with Raw(s.port) as c:
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<a@example.org>")
            c.cmd("RCPT TO:<user1@lala.local>")
            eq(c.code("DATA"), 354, "DATA")
            c.send("Subject: gone\r\n\r\n" + "half a message\r\n" * 100)
        s.wait_log(r"lost connection after DATA from \[127\.0\.0\.1\]", 5)
        with Raw(s.port) as c:
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<a@example.org>")
            c.cmd("RCPT TO:<user1@lala.local>")
            c.cmd("DATA")
            c.send("Subject: slow\r\n\r\nstarted but never finished\r\n")
            code, lines = c.reply(timeout=8)
            eq(code, 421, "reply after idling inside DATA")
            check(c.at_eof(), "connection not closed after the DATA timeout")
        s.wait_log(r"timeout after DATA from \[127\.0\.0\.1\]", 3)
        time.sleep(0.3)
        eq(s.incoming(), [], "spool/incoming leftovers")
        eq(s.queue_ids(), [], "queue")
        eq(s.messages("user1"), [], "mailbox")
