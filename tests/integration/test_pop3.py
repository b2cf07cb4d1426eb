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
from test_imap import ImapLab, PASS, client_ctx


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
        cur = os.listdir(os.path.join(s.maildir(), "cur"))
        eq(len(cur), 1, "one file left after QUIT")
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
