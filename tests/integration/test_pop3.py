"""POP3 (RFC 1939, CAPA, AUTH, STLS) against the real daemon with Python's
poplib: the same INBOX and message ids as IMAP, DELE applied only at QUIT,
dot-stuffing, TOP, TLS, and bad input."""
import base64
import imaplib
import os
import poplib
import re
import socket

from harness import Failure, check, eq, test
from test_imap import ImapLab, PASS, client_ctx, ok


@test("pop3: USER/PASS, STAT, LIST, RETR with dot-stuffing, TOP")
def t_basic():
    with ImapLab() as s:
        s.send(subject="one", body="first line\n.dotted line\n..two dots\nlast\n")
        s.wait_delivered(1)
        s.send(subject="two", body="x\n" * 50)
        s.wait_delivered(2)
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        check(p.getwelcome().startswith(b"+OK"), "greeting")
        caps = p.capa()
        for c in ("TOP", "UIDL", "USER", "STLS", "SASL"):
            check(c in caps, "CAPA %s: %r" % (c, caps))
        p.user("user1")
        p.pass_(PASS)
        n, size = p.stat()
        eq(n, 2, "STAT count")
        resp, lines, octets = p.list()
        sizes = [int(l.split()[1]) for l in lines]
        eq(sum(sizes), size, "LIST sizes sum to STAT")
        resp, lines, octets = p.retr(1)
        body = b"\r\n".join(lines)
        check(b"\r\n.dotted line\r\n..two dots\r\nlast" in body, "dot-stuffing undone: %r" % body)
        eq(len(b"\r\n".join(lines)) + 2, sizes[0], "RETR size matches LIST")
        resp, lines, octets = p.top(2, 3)
        i = lines.index(b"")
        eq(len(lines) - i - 1, 3, "TOP 3 body lines")
        p.quit()


@test("pop3: UIDL is the IMAP UID and UIDVALIDITY, stable across sessions")
def t_uidl():
    with ImapLab() as s:
        s.send()
        s.wait_delivered(1)
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        p.user("user1")
        p.pass_(PASS)
        u1 = p.uidl()[1]
        p.quit()
        c = s.login()
        c.select("INBOX")
        uv = int(c.untagged_responses["UIDVALIDITY"][0])
        c.logout()
        eq(u1, [b"1 %08X%08X" % (1, uv)], "UIDL format %08Xu%08Xv")
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        p.user("user1")
        p.pass_(PASS)
        eq(p.uidl()[1], u1, "same UIDL in a new session")
        p.quit()


@test("pop3: DELE takes effect only at QUIT; RSET and lost connections keep mail")
def t_dele():
    with ImapLab() as s:
        s.send()
        s.wait_delivered(1)
        s.send()
        s.wait_delivered(2)
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        p.user("user1")
        p.pass_(PASS)
        p.dele(1)
        eq(p.stat()[0], 1, "deleted hidden")
        try:
            p.retr(1)
            raise Failure("RETR of a deleted message")
        except poplib.error_proto:
            pass
        p.rset()
        eq(p.stat()[0], 2, "RSET undeletes")
        p.dele(1)
        p.sock.close()      # no QUIT
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        p.user("user1")
        p.pass_(PASS)
        eq(p.stat()[0], 2, "nothing deleted without QUIT")
        p.dele(1)
        p.quit()
        left = [n for d in ("new", "cur") for n in os.listdir(os.path.join(s.maildir(), d))]
        eq(len(left), 1, "one file left after QUIT")
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        p.user("user1")
        p.pass_(PASS)
        eq(p.stat()[0], 1, "one message left")
        p.quit()


@test("pop3: STLS, pop3s and AUTH PLAIN; plaintext refused before TLS")
def t_tls():
    with ImapLab(loopback_plain=False) as s:
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        check("USER" not in p.capa(), "no USER before TLS")
        try:
            p.user("user1")
            raise Failure("USER accepted in clear")
        except poplib.error_proto as e:
            check(b"[AUTH]" in e.args[0], "refusal: %r" % e.args)
        p.stls(client_ctx())
        p.user("user1")
        p.pass_(PASS)
        p.quit()
        p = poplib.POP3_SSL("127.0.0.1", s.pop3s, timeout=10, context=client_ctx())
        r = p._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0user1\0" + PASS.encode()).decode())
        check(r.startswith(b"+OK"), "AUTH PLAIN: %r" % r)
        p.quit()
        p = poplib.POP3_SSL("127.0.0.1", s.pop3s, timeout=10, context=client_ctx())
        p.user("user1")
        try:
            p.pass_("wrong")
            raise Failure("wrong password accepted")
        except poplib.error_proto as e:
            check(b"[AUTH]" in e.args[0], "failure code: %r" % e.args)
        p.quit()


@test("pop3: bad input is answered -ERR and the session goes on")
def t_bad():
    with ImapLab() as s:
        s.send()
        s.wait_delivered(1)
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        for cmd in ("STAT", "RETR 1", "BOGUS", "PASS x"):
            try:
                p._shortcmd(cmd)
                raise Failure("%s accepted before login" % cmd)
            except poplib.error_proto:
                pass
        p.user("user1")
        p.pass_(PASS)
        for cmd in ("RETR 0", "RETR 2", "RETR x", "TOP 1 -1", "DELE 99", "LIST 1 2 3",
                    "RETR 4294967297"):
            try:
                p._shortcmd(cmd)
                raise Failure("%s accepted" % cmd)
            except poplib.error_proto:
                pass
        eq(p.stat()[0], 1, "still usable")
        p.sock.sendall(b"NOOP " + b"x" * 2000 + b"\r\n")
        check(p._getline()[0].startswith(b"-ERR"), "over-long line refused")
        p.sock.close()
        # The message is still there after all that.
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        p.user("user1")
        p.pass_(PASS)
        eq(p.stat()[0], 1, "mail kept")
        p.quit()


@test("mbox INBOX (mailbox mbox DIR/%u): IMAP and POP3 read and write the spool file in place")
def t_mbox_inbox():
    import time
    with ImapLab(mailbox="mbox") as s:
        spool = os.path.join(s.mbox_dir, "user1")

        def spool_text():
            with open(spool, "rb") as f:
                return f.read()

        s.send(subject="one", body="first\nFrom the start\n")
        s.send(subject="two", body="second\n")
        from harness import wait_for
        wait_for(lambda: os.path.exists(spool) and spool_text().count(b"\nSubject: ") == 2, 15,
                 what="two deliveries in %s" % spool)
        c = s.login()
        typ, data = c.select("INBOX")
        eq(data, [b"2"], "EXISTS")
        uv = int(c.untagged_responses["UIDVALIDITY"][0])
        typ, data = c.uid("FETCH", "1:*", "(UID RFC822.SIZE BODY.PEEK[])")
        bodies = [x[1] for x in data if isinstance(x, tuple)]
        eq(len(bodies), 2, "two bodies")
        check(b"\r\nFrom the start\r\n" in bodies[0], "From_ unquoted for the client: %r" % bodies[0])
        check(b"X-UID" not in bodies[0] and b"Status:" not in bodies[0], "metadata hidden: %r" % bodies[0])
        sizes = [int(m) for m in re.findall(rb"RFC822.SIZE (\d+)", b" ".join(x[0] for x in data if isinstance(x, tuple)))]
        eq(sizes, [len(b) for b in bodies], "RFC822.SIZE is the size sent")
        ok(c.uid("STORE", "1", "+FLAGS", r"(\Seen \Flagged)")[0], "STORE")
        ok(c.uid("STORE", "2", "+FLAGS", r"(\Deleted)")[0], "STORE deleted")
        ok(c.expunge()[0], "EXPUNGE")
        ok(c.append("INBOX", r"(\Answered)", None, b"Subject: appended\r\n\r\nFrom me\r\n")[0], "APPEND")
        ok(c.create("Work")[0], "CREATE Work")
        ok(c.append("Sent", None, None, b"Subject: sent\r\n\r\nsent\r\n")[0], "APPEND Sent")
        ok(c.uid("COPY", "1", "Sent")[0], "COPY to a folder")
        typ, data = c.status("Sent", "(MESSAGES)")
        check(b"MESSAGES 2" in data[0], "Sent holds two: %r" % data)
        c.noop()
        c.logout()
        # the spool file is what mutt and Dovecot read
        wait_for(lambda: b"X-Status: F" in spool_text(), 5, what="flags in the file")
        t = spool_text()
        check(b"Subject: two" not in t, "expunged from the file")
        check(b"Subject: appended" in t and b"\n>From me\n" in t, "appended, quoted: %r" % t)
        check(b"X-IMAPbase: %d " % uv in t, "X-IMAPbase: %r" % t[:300])
        check(re.search(rb"Status: RO\nX-Status: F\n", t) is not None, "Status/X-Status: %r" % t)
        check(os.path.isdir(os.path.join(s.mbox_dir, ".user1.folders", ".Sent", "cur")),
              "folders beside the spool file")

        # POP3 on the same file: same UIDs, DELE at QUIT
        p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
        p.user("user1")
        p.pass_(PASS)
        n, size = p.stat()
        eq(n, 2, "STAT")
        eq(p.uidl()[1], [b"1 %08X%08X" % (1, uv), b"2 %08X%08X" % (3, uv)], "UIDL")
        resp, lines, octets = p.retr(2)
        check(b"From me" in lines, "RETR: %r" % lines)
        p.dele(1)
        p.quit()
        wait_for(lambda: b"Subject: one" not in spool_text(), 5, what="DELE applied")

        # a delivery while a client idles: heard within the poll second
        c = s.login()
        c.select("INBOX")
        tag = c._new_tag().decode()
        c.send(("%s IDLE\r\n" % tag).encode())
        check(c.readline().startswith(b"+"), "IDLE continuation")
        t0 = time.time()
        s.send(subject="three")
        c.sock.settimeout(10)
        line = c.readline()
        check(re.match(rb"\* \d+ EXISTS", line) is not None, "EXISTS during IDLE: %r" % line)
        check(time.time() - t0 < 5, "heard in time")
        c.send(b"DONE\r\n")
        c.readline()
        c.logout()
