"""IMAP (RFC 9051/3501 and extensions) against the real daemon with Python's
imaplib and raw sockets: login, delivery seen by SELECT/FETCH/IDLE, flags in
Maildir file names, APPEND/COPY/MOVE/EXPUNGE with UIDPLUS, folders, SEARCH,
several sessions on one folder, and bad input."""
import imaplib
import os
import re
import smtplib
import socket
import ssl
import time

import harness
from harness import Failure, Server, check, eq, free_port, test, wait_for

PASS = "pass"


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ImapLab(Server):
    """A Server with imap, imaps, pop3 and pop3s listeners, {PLAIN} passwords, no failure
    delay and mail under mail/<user>/Maildir."""

    def __init__(self, settings=None, loopback_plain=True, **kw):
        st = {"auth_failure_delay": "0", "auth_allow_plain_passwords": "yes"}
        if loopback_plain:
            st["plaintext_auth_loopback"] = "yes"
        st.update(settings or {})
        Server.__init__(self, settings=st, start=False, **kw)
        if "mailbox" not in st and kw.get("mailbox", "maildir") == "maildir":
            self.set("mailbox", "maildir %s/%%n/Maildir" % self.mail)
        for attempt in range(3):
            self.settings = [kv for kv in self.settings if kv[0] != "listen"]
            if attempt > 0:
                self.port = free_port()
            self.imap = free_port()
            self.imaps = free_port()
            self.pop3 = free_port()
            self.pop3s = free_port()
            self.settings.append(("listen", "smtp 127.0.0.1:%d" % self.port))
            self.settings.append(("listen", "imap 127.0.0.1:%d" % self.imap))
            self.settings.append(("listen", "imaps 127.0.0.1:%d" % self.imaps))
            self.settings.append(("listen", "pop3 127.0.0.1:%d" % self.pop3))
            self.settings.append(("listen", "pop3s 127.0.0.1:%d" % self.pop3s))
            self.write_conf()
            try:
                self.start()
                self.wait_log(r"auth service started", 10)
                return
            except Failure:
                in_use = "in use" in self.log_since_start()
                self.stop()
                if not in_use or attempt == 2:
                    raise

    def login(self, user="user1"):
        c = imaplib.IMAP4("127.0.0.1", self.imap)
        c.login(user, PASS)
        return c

    def maildir(self, user="user1"):
        return os.path.join(self.mail, user, "Maildir")

    def send(self, to="user1@lala.local", subject="hello", body="Hello there.\n"):
        msg = ("From: Sender <sender@example.org>\r\nTo: %s\r\nSubject: %s\r\n"
               "Message-ID: <%s@example.org>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n%s"
               % (to, subject, str(time.time()).replace(".", ""), body.replace("\n", "\r\n")))
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.sendmail("sender@example.org", [to], msg)

    def wait_delivered(self, n, user="user1"):
        md = self.maildir(user)

        def count():
            t = 0
            for sub in ("new", "cur"):
                p = os.path.join(md, sub)
                if os.path.isdir(p):
                    t += len(os.listdir(p))
            return t
        wait_for(lambda: count() >= n, 15, what="%d messages in %s" % (n, md))


class RawImap:
    def __init__(self, port, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            s = client_ctx().wrap_socket(s)
        self.s = s
        self.buf = b""
        self.greeting = self.line()

    def line(self, timeout=10):
        self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise Failure("connection closed; got %r" % self.buf)
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l.decode("utf-8", "replace")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def cmd(self, tag, text, timeout=10):
        """Send 'tag text' and collect lines up to the tagged reply."""
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag, timeout)

    def until(self, tag, timeout=10):
        lines = []
        while True:
            l = self.line(timeout)
            lines.append(l)
            if l.startswith(tag + " "):
                return lines

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (socket.timeout, OSError):
            return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def ok(typ, what):
    eq(typ, "OK", what)


@test("imap: greeting, CAPABILITY, LOGIN and LOGOUT")
def t_login():
    with ImapLab() as s:
        c = imaplib.IMAP4("127.0.0.1", s.imap)
        caps = c.capabilities
        for cap in ("IMAP4REV1", "IMAP4REV2", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC",
                    "SPECIAL-USE", "LITERAL+", "ENABLE", "NAMESPACE", "STARTTLS"):
            check(cap in caps, "capability %s in %r" % (cap, caps))
        typ, _ = c.login("user1", PASS)
        ok(typ, "login")
        check(s.wait_log(r"imap login user=user1", 5), "login logged")
        typ, _ = c.logout()
        eq(typ, "BYE", "logout")


@test("imap: LOGINDISABLED before TLS, LOGIN after STARTTLS")
def t_logindisabled():
    with ImapLab(loopback_plain=False) as s:
        r = RawImap(s.imap)
        caps = r.cmd("a", "CAPABILITY")
        check("LOGINDISABLED" in caps[0], "LOGINDISABLED offered: %r" % caps)
        check("AUTH=PLAIN" not in caps[0], "no plaintext mechanism before TLS")
        l = r.cmd("b", "LOGIN user1 pass")
        check(l[-1].startswith("b NO [PRIVACYREQUIRED]"), "login refused: %r" % l)
        r.close()
        c = imaplib.IMAP4("127.0.0.1", s.imap)
        c.starttls(client_ctx())
        check("LOGINDISABLED" not in c.capabilities, "not after TLS: %r" % (c.capabilities,))
        ok(c.login("user1", PASS)[0], "login over STARTTLS")
        c.logout()


@test("imap: implicit TLS (imaps) login and wrong password")
def t_imaps():
    with ImapLab() as s:
        c = imaplib.IMAP4_SSL("127.0.0.1", s.imaps, ssl_context=client_ctx())
        try:
            c.login("user1", "wrong")
            raise Failure("wrong password accepted")
        except imaplib.IMAP4.error as e:
            check("AUTHENTICATIONFAILED" in str(e), "failure code: %s" % e)
        ok(c.login("user1", PASS)[0], "login")
        c.logout()


@test("imap: delivered mail is in SELECT and FETCH, byte for byte with CRLF")
def t_select_fetch():
    with ImapLab() as s:
        s.send(subject="first", body="Line one.\nLine two.\n")
        s.wait_delivered(1)
        s.send(subject="second")
        s.wait_delivered(2)
        c = s.login()
        typ, data = c.select("INBOX")
        ok(typ, "select")
        eq(data[0], b"2", "EXISTS")
        uv = c.untagged_responses.get("UIDVALIDITY", [b"0"])[0]
        check(int(uv) > 0, "UIDVALIDITY")
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE ENVELOPE)")
        ok(typ, "fetch")
        check(b"UID 1 " in data[0] and b"\"first\"" in data[0], "envelope: %r" % data[0])
        typ, data = c.fetch("1", "(BODY.PEEK[TEXT] RFC822.SIZE)")
        body = data[0][1]
        eq(body, b"Line one.\r\nLine two.\r\n", "body with CRLF")
        typ, data = c.fetch("1", "(RFC822)")
        whole = data[0][1]
        size = int(re.search(rb"RFC822.SIZE (\d+)", c.fetch("1", "RFC822.SIZE")[1][0]).group(1))
        eq(len(whole), size, "RFC822.SIZE matches RFC822 length")
        check(b"\r\nSubject: first\r\n" in whole, "header present")
        # RFC822 sets \Seen; the file name carries S.
        typ, data = c.fetch("1", "FLAGS")
        check(b"\\Seen" in data[0], "\\Seen after RFC822: %r" % data[0])
        cur = os.listdir(os.path.join(s.maildir(), "cur"))
        check(any(n.endswith(":2,S") for n in cur), "S flag in a file name: %r" % cur)
        check(os.path.exists(os.path.join(s.maildir(), "dovecot-uidlist")), "uidlist written")
        c.logout()


@test("imap: STORE flags and keywords land in Maildir names; another session sees them")
def t_store():
    with ImapLab() as s:
        s.send()
        s.wait_delivered(1)
        a = s.login()
        b = s.login()
        a.select("INBOX")
        b.select("INBOX")
        typ, data = a.store("1", "+FLAGS", r"(\Flagged \Answered $Label1)")
        ok(typ, "store")
        check(b"\\Flagged" in data[0] and b"$Label1" in data[0], "store reply: %r" % data)
        cur = os.listdir(os.path.join(s.maildir(), "cur"))
        eq(len(cur), 1, "one file")
        check(re.search(r":2,FRa$", cur[0]) is not None, "FRa in %r" % cur[0])
        kw = open(os.path.join(s.maildir(), "dovecot-keywords")).read()
        eq(kw, "0 $Label1\n", "dovecot-keywords")
        typ, data = b.noop()
        fetches = b.untagged_responses.get("FETCH", [])
        check(any(b"\\Flagged" in x for x in fetches), "other session told: %r" % fetches)
        typ, data = a.store("1", "-FLAGS", r"(\Flagged)")
        check(b"\\Flagged" not in data[0], "flag removed: %r" % data)
        a.logout()
        b.logout()


@test("imap: APPEND with UIDPLUS, COPY, MOVE, EXPUNGE")
def t_append_copy_move():
    with ImapLab() as s:
        c = s.login()
        msg = b"From: a@b\r\nSubject: appended\r\n\r\nbody\r\n"
        typ, data = c.append("INBOX", r"(\Seen)", None, msg)
        ok(typ, "append")
        m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        check(m is not None, "APPENDUID: %r" % data)
        eq(m.group(2), b"1", "first UID")
        c.select("INBOX")
        typ, data = c.fetch("1", "(FLAGS BODY.PEEK[])")
        eq(data[0][1], msg, "appended message back")
        check(b"\\Seen" in data[0][0], "flag kept")
        ok(c.create("Work")[0], "create")
        typ, data = c.uid("COPY", "1", "Work")
        ok(typ, "copy")
        r = RawImap(s.imap)
        r.cmd("a", "LOGIN user1 pass")
        r.cmd("b", "SELECT INBOX")
        l = r.cmd("c", "UID COPY 1 Work")
        check(re.match(r"c OK \[COPYUID \d+ 1 2\]", l[-1]) is not None, "COPYUID: %r" % l)
        r.close()
        check(os.path.isdir(os.path.join(s.maildir(), ".Work", "cur")), ".Work is Maildir++")
        typ, data = c.status("Work", "(MESSAGES UIDNEXT)")
        check(b"MESSAGES 2 UIDNEXT 3" in data[0], "status: %r" % data)
        typ, data = c.uid("MOVE", "1", "Sent")
        ok(typ, "move")
        typ, data = c.select("INBOX")
        eq(data[0], b"0", "moved away")
        typ, data = c.select("Sent")
        eq(data[0], b"1", "moved in")
        c.store("1", "+FLAGS", r"\Deleted")
        typ, data = c.expunge()
        ok(typ, "expunge")
        eq(data[0], b"1", "EXPUNGE 1")
        typ, data = c.select("Sent")
        eq(data[0], b"0", "empty after expunge")
        c.logout()


@test("imap: LIST, special-use folders, LSUB, RENAME, DELETE")
def t_folders():
    with ImapLab() as s:
        c = s.login()
        typ, data = c.list()
        names = b" ".join(data)
        for f in (b"INBOX", b"Drafts", b"Sent", b"Trash", b"Junk", b"Archive"):
            check(f in names, "%s listed: %r" % (f, data))
        check(b"\\Sent" in names and b"\\Trash" in names, "special-use: %r" % data)
        ok(c.create("a/b")[0], "create nested")
        check(os.path.isdir(os.path.join(s.maildir(), ".a.b")), ".a.b on disk")
        typ, data = c.list('""', "a/*")
        check(any(re.search(rb' "?a/b"?$', x) for x in data), "nested listed: %r" % data)
        ok(c.subscribe("a/b")[0], "subscribe")
        typ, data = c.lsub('""', "*")
        check(any(b"a/b" in x for x in data), "lsub: %r" % data)
        ok(c.rename("a", "x")[0], "rename")
        check(os.path.isdir(os.path.join(s.maildir(), ".x.b")), "children renamed")
        ok(c.delete("x/b")[0], "delete")
        check(not os.path.exists(os.path.join(s.maildir(), ".x.b")), "deleted")
        ok(c.create("Caf&AOk-")[0], "create a modified UTF-7 name")
        check(os.path.isdir(os.path.join(s.maildir(), ".Caf&AOk-")), "stored as modified UTF-7")
        typ, data = c.list('""', "Caf*")
        check(any(re.search(rb' "?Caf&AOk-"?$', x) for x in data), "listed in modified UTF-7: %r" % data)
        c.logout()


@test("imap: mailbox names cannot leave the user's mail")
def t_hostile_names():
    with ImapLab() as s:
        r = RawImap(s.imap)
        r.cmd("a", "LOGIN user1 pass")
        for i, name in enumerate(("../user2", "/etc", "~user2", "a/../../b", ".hidden",
                                  "a//b", "..", "INBOX/../..")):
            for verb in ("CREATE", "SELECT", "DELETE"):
                l = r.cmd("t%d" % i, '%s "%s"' % (verb, name))
                check(l[-1].split(" ", 2)[1] != "OK", "%s %s refused: %r" % (verb, name, l))
        check(not os.path.exists(os.path.join(s.mail, "user2")), "nothing outside")
        for root, dirs, files in os.walk(s.base):
            for d in dirs:
                check(".." not in d, "no odd directory %s" % d)
        r.close()


@test("imap: IDLE hears about a delivery within a second")
def t_idle():
    with ImapLab() as s:
        c = s.login()
        c.select("INBOX")
        r = RawImap(s.imap)
        r.cmd("a", "LOGIN user1 pass")
        r.cmd("b", "SELECT INBOX")
        r.send("c IDLE\r\n")
        eq(r.line()[:1], "+", "idling")
        t0 = time.time()
        s.send(subject="wake up")
        line = r.line(timeout=30)
        took = time.time() - t0
        eq(line, "* 1 EXISTS", "EXISTS while idling")
        # SMTP, queue commit and delivery are in this time too; the machine
        # may be busy, so the bound is loose (the IDLE wake-up itself is an
        # inotify event away).
        check(took < 10.0, "heard within seconds (took %.2f s incl. SMTP)" % took)
        r.send("DONE\r\n")
        l = r.until("c")
        check(l[-1].startswith("c OK"), "IDLE done: %r" % l)
        r.close()
        c.logout()


@test("imap: SEARCH keys and ESEARCH")
def t_search():
    with ImapLab() as s:
        s.send(subject="apples", body="red fruit\n")
        s.wait_delivered(1)
        s.send(subject="pears", body="green fruit\n")
        s.wait_delivered(2)
        c = s.login()
        c.select("INBOX")
        c.store("2", "+FLAGS", r"\Flagged")
        typ, data = c.search(None, "SUBJECT", "apples")
        eq(data[0], b"1", "subject search")
        typ, data = c.search(None, "BODY", "green")
        eq(data[0], b"2", "body search")
        typ, data = c.search(None, "FLAGGED")
        eq(data[0], b"2", "flag search")
        typ, data = c.uid("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
        es = c.untagged_responses.pop("ESEARCH", [b""])
        check(b"UID MIN 1 MAX 2 COUNT 2" in es[0], "ESEARCH: %r" % es)
        typ, data = c.search("KOI8-R", "ALL")
        eq(typ, "NO", "unknown charset")
        check(b"BADCHARSET" in data[0], "BADCHARSET: %r" % data)
        c.logout()


@test("imap: bad input gets BAD/NO and the state is kept")
def t_bad_input():
    with ImapLab() as s:
        r = RawImap(s.imap)
        l = r.cmd("a", "SELECT INBOX")
        check(l[-1].startswith("a BAD"), "SELECT before login: %r" % l)
        r.send("b LOGIN {4294967295}\r\n")
        l = r.until("b")
        check(l[-1].startswith("b BAD"), "huge literal refused before reading: %r" % l)
        l = r.cmd("c", "LOGIN user1 pass")
        check(l[-1].startswith("c OK"), "still usable: %r" % l)
        l = r.cmd("d", "FETCH 1 FLAGS")
        check(l[-1].startswith("d BAD"), "FETCH without SELECT: %r" % l)
        l = r.cmd("e", "SELECT INBOX")
        check(l[-1].startswith("e OK"), "select: %r" % l)
        for tag, bad in (("f", "FETCH 1:* (FLAGS"), ("g", "FETCH 0 FLAGS"), ("h", "FETCH 1:x FLAGS"),
                         ("i", "STORE 1 +FLAGS (\\Bogus)"), ("j", "FETCH * BODY[1.0]"),
                         ("k", "NOSUCHCOMMAND"), ("l", "UID FETCH")):
            l = r.cmd(tag, bad)
            check(l[-1].startswith(tag + " BAD") or l[-1].startswith(tag + " NO"),
                  "%s answered BAD/NO: %r" % (bad, l))
        l = r.cmd("m", "NOOP")
        check(l[-1].startswith("m OK"), "still selected: %r" % l)
        r.send("n IDLE\r\n")
        r.line()
        r.send("NOTDONE\r\n")
        l = r.until("n")
        check(l[-1].startswith("n BAD"), "IDLE without DONE: %r" % l)
        r.send(b"o LOGIN a\x00b c\r\n")
        l = r.until("o")
        check(l[-1].startswith("o BAD") or l[-1].startswith("* BAD") or "BAD" in l[-1],
              "NUL: %r" % l)
        r.close()
        # Pre-login: a huge command is cut off early.
        r = RawImap(s.imap)
        r.send("a LOGIN " + "x" * 20000 + "\r\n")
        l = r.until("a")
        check(l[-1].startswith("a BAD"), "long pre-login line: %r" % l)
        r.close()
        # abrupt disconnect mid-literal, then the server still answers
        r = RawImap(s.imap)
        r.send("a LOGIN {10}\r\n")
        r.line()
        r.send("abc")
        r.close()
        c = s.login()
        ok(c.noop()[0], "server alive")
        c.logout()


@test("imap: an existing Dovecot-style Maildir keeps its UIDs")
def t_adopt():
    with ImapLab() as s:
        md = s.maildir("user2")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        names = ["1700000000.M1P1.host,S=30,W=32", "1700000001.M2P1.host,S=30,W=32"]
        for i, n in enumerate(names):
            with open(os.path.join(md, "cur", n + ":2,S"), "w") as f:
                f.write("Subject: old %d\n\nbody 1234567\n" % i)
        with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
            f.write("3 V1234567 N60 G0123456789abcdef0123456789abcdef\n")
            f.write("41 :%s\n57 :%s\n" % (names[0], names[1]))
        if harness.IS_ROOT:
            harness.chown_r(os.path.join(s.mail, "user2"), harness.RUN_UID, harness.RUN_GID)
        c = s.login("user2")
        typ, data = c.select("INBOX")
        eq(c.untagged_responses.get("UIDVALIDITY", [b"0"])[-1], b"1234567", "UIDVALIDITY kept")
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
        got = [int(x) for x in re.findall(rb"UID (\d+)", b" ".join(data))]
        eq(got, [41, 57], "UIDs kept")
        typ, data = c.append("INBOX", None, None, b"Subject: new\r\n\r\nx\r\n")
        check(b"APPENDUID 1234567 60" in data[0], "next UID from N60: %r" % data)
        c.logout()


@test("imap: many sessions on one folder: no flag update lost, expunges seen by all")
def t_concurrent():
    import threading
    with ImapLab() as s:
        c = s.login()
        for i in range(20):
            c.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody\r\n" % i)
        c.logout()
        errors = []

        def worker(k):
            try:
                x = s.login()
                x.select("INBOX")
                for i in range(1, 21):
                    typ, _ = x.store(str(i), "+FLAGS", "(kw%d)" % k)
                    if typ != "OK":
                        errors.append((k, i, typ))
                x.noop()
                x.logout()
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append((k, repr(e)))
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        eq(errors, [], "errors in the sessions")
        c = s.login()
        c.select("INBOX")
        typ, data = c.fetch("1:*", "FLAGS")
        for line in data:
            for k in range(6):
                check(b"kw%d" % k in line, "kw%d kept in %r" % (k, line))
        # expunge in one session, the other hears it at its next NOOP
        b = s.login()
        b.select("INBOX")
        c.store("1:5", "+FLAGS", r"\Deleted")
        c.expunge()
        b.noop()
        exp = b.untagged_responses.get("EXPUNGE", [])
        eq(len(exp), 5, "five EXPUNGEs in the other session: %r" % exp)
        typ, data = b.select("INBOX")
        eq(data[0], b"15", "15 left")
        c.logout()
        b.logout()


@test("imap: concurrent APPENDs: each OK'd message stored once, UIDs unique, IDLE hears all, a client gone mid-APPEND harms nothing")
def t_concurrent_append():
    import re
    import threading
    with ImapLab() as s:
        idle = RawImap(s.imap)
        idle.cmd("a", "LOGIN user1 pass")
        idle.cmd("b", "SELECT INBOX")
        idle.send("c IDLE\r\n")
        eq(idle.line()[:1], "+", "idling")
        errors, uids = [], []
        lock = threading.Lock()

        def worker(k):
            try:
                x = s.login()
                for i in range(10):
                    typ, data = x.append("INBOX", None, None,
                                         b"Subject: w%d-%d\r\n\r\nbody %d\r\n" % (k, i, i))
                    m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
                    if typ != "OK" or not m:
                        errors.append((k, i, typ, data))
                        continue
                    with lock:
                        uids.append(int(m.group(1)))
                x.logout()
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append((k, repr(e)))
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        # a client that sends a whole APPEND and hangs up at once
        r = RawImap(s.imap)
        r.cmd("a", "LOGIN user1 pass")
        msg = b"Subject: gone\r\n\r\nbye\r\n"
        r.send(b"b APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
        r.s.close()
        for t in ts:
            t.join(60)
        eq(errors, [], "APPEND errors")
        eq(len(uids), 80, "80 APPENDs answered OK")
        eq(len(set(uids)), 80, "UIDs unique")
        # the idling session hears every message (81 with the orphan's)
        seen, deadline = 0, time.time() + 20
        while seen < 81 and time.time() < deadline:
            l = idle.line(timeout=20)
            m = re.match(r"\* (\d+) EXISTS", l)
            if m:
                seen = int(m.group(1))
        eq(seen, 81, "EXISTS heard while idling")
        idle.send("DONE\r\n")
        idle.until("c")
        c = s.login()
        typ, data = c.select("INBOX")
        eq(data[0], b"81", "81 messages")
        typ, data = c.uid("SEARCH", "ALL")
        got = sorted(int(x) for x in data[0].split())
        check(set(uids) <= set(got), "every APPENDUID is in the folder")
        typ, data = c.search(None, 'SUBJECT "gone"')
        eq(len(data[0].split()), 1, "the hung-up client's message is stored once")
        c.logout()


@test("imap: deep MIME nesting and 100,000 parts: bounded time, valid BODYSTRUCTURE")
def t_mime_bombs():
    with ImapLab() as s:
        c = s.login()
        deep = "Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
        for i in range(1, 2000):
            deep += "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i)
        deep += "--b1999\r\n\r\nleaf\r\n"
        c.append("INBOX", None, None, deep.encode())
        many = ["Subject: many\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"]
        many.append("--x\r\n\r\np\r\n" * 100000)
        many.append("--x--\r\n")
        c.append("INBOX", None, None, "".join(many).encode())
        c.select("INBOX")
        for i in (1, 2):
            t0 = time.time()
            typ, data = c.fetch(str(i), "(BODYSTRUCTURE)")
            took = time.time() - t0
            ok(typ, "fetch %d" % i)
            bs = data[0] if isinstance(data[0], bytes) else data[0][0] + data[0][1]
            check(bs.count(b"(") == bs.count(b")") or b"{" in bs, "balanced BODYSTRUCTURE %d" % i)
            check(took < 20, "BODYSTRUCTURE %d took %.1f s" % (i, took))
        ok(c.noop()[0], "still serving")
        c.logout()


@test("imap: a 5 MB APPEND is stored and read back byte for byte")
def t_big_append():
    with ImapLab() as s:
        c = s.login()
        body = b"".join(b"line %07d of a big message\r\n" % i for i in range(180000))
        msg = b"Subject: big\r\n\r\n" + body
        typ, data = c.append("INBOX", None, None, msg)
        ok(typ, "append %d bytes" % len(msg))
        c.select("INBOX")
        typ, data = c.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        eq(data[0][1], msg, "read back")
        check(b"RFC822.SIZE %d" % len(msg) in data[0][0], "size: %r" % data[0][0][:80])
        c.logout()


@test("imap: a system user's mail is served by a mail process running as that user")
def t_system_user():
    import pwd
    import subprocess
    if not harness.IS_ROOT:
        raise harness.Skip("needs root to create a system user")
    name = "estit%d" % (os.getpid() % 100000)
    home = None
    try:
        with ImapLab(settings={"users": "system", "mailbox": "maildir ~/Maildir"}) as s:
            home = os.path.join(s.base, "home-" + name)
            try:
                subprocess.run(["useradd", "-m", "-d", home, "-s", "/usr/sbin/nologin", name],
                               check=True, capture_output=True)
                subprocess.run(["chpasswd"], input="%s:%s\n" % (name, PASS), text=True,
                               check=True, capture_output=True)
            except (OSError, subprocess.CalledProcessError) as e:
                raise harness.Skip("cannot create a system user here: %s" % e)
            os.chmod(s.base, 0o755)
            pw = pwd.getpwnam(name)
            s.send(to="%s@lala.local" % name, subject="for the system user")
            md = os.path.join(home, "Maildir")
            wait_for(lambda: os.path.isdir(os.path.join(md, "new")) and
                     len(os.listdir(os.path.join(md, "new"))) == 1, 15, what="delivery")
            for tls in (False, True):
                if tls:
                    c = imaplib.IMAP4_SSL("127.0.0.1", s.imaps, ssl_context=client_ctx())
                else:
                    c = imaplib.IMAP4("127.0.0.1", s.imap)
                ok(c.login(name, PASS)[0], "login (tls=%s)" % tls)
                typ, data = c.select("INBOX")
                eq(data[0], b"2" if tls else b"1", "messages (tls=%s)" % tls)
                typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                check(b"for the system user" in data[0][1], "subject: %r" % data)
                ok(c.append("INBOX", r"(\Seen)", None, b"Subject: mine\r\n\r\nx\r\n")[0], "append")
                c.logout()
            for root, dirs, files in os.walk(md):
                for f in dirs + files:
                    st = os.lstat(os.path.join(root, f))
                    eq((st.st_uid, f), (pw.pw_uid, f), "owned by the user")
            check(s.wait_log(r"mail process for uid=%d started" % pw.pw_uid, 5), "mail process")
            # IDLE through the relay
            r = RawImap(s.imap)
            r.cmd("a", "LOGIN %s %s" % (name, PASS))
            r.cmd("b", "SELECT INBOX")
            r.send("c IDLE\r\n")
            eq(r.line()[:1], "+", "idling")
            s.send(to="%s@lala.local" % name, subject="wake")
            eq(r.line(timeout=15), "* 4 EXISTS", "IDLE through the mail process")
            r.send("DONE\r\n")
            check(r.until("c")[-1].startswith("c OK"), "IDLE done")
            r.close()
            import poplib
            p = poplib.POP3("127.0.0.1", s.pop3, timeout=10)
            p.user(name)
            p.pass_(PASS)
            eq(p.stat()[0], 4, "POP3 through the mail process")
            p.quit()
            # a wrong password never reaches the mail process
            c = imaplib.IMAP4("127.0.0.1", s.imap)
            try:
                c.login(name, "wrong")
                raise Failure("wrong password accepted")
            except imaplib.IMAP4.error:
                pass
    finally:
        subprocess.run(["userdel", "-f", name], capture_output=True)


@test("imap: a system user's mbox spool in a /var/mail-like directory it cannot write to")
def t_system_user_mbox():
    import grp
    import pwd
    import subprocess
    if not harness.IS_ROOT:
        raise harness.Skip("needs root to create a system user")
    name = "estim%d" % (os.getpid() % 100000)
    try:
        spooldir = None
        with ImapLab(settings={"users": "system"}, mailbox="mbox") as s:
            # /var/mail as Debian has it: root:mail 2775, the spool file user:mail 0660
            spooldir = os.path.join(s.base, "varmail")
            os.mkdir(spooldir)
            try:
                mailgid = grp.getgrnam("mail").gr_gid
            except KeyError:
                raise harness.Skip("no mail group")
            os.chown(spooldir, 0, mailgid)
            os.chmod(spooldir, 0o2775)
            s.set("mailbox", "mbox %s/%%u" % spooldir)
            s.write_conf()
            s.stop()
            s.start()
            s.wait_log(r"auth service started", 10)
            home = os.path.join(s.base, "home-" + name)
            try:
                subprocess.run(["useradd", "-m", "-d", home, "-s", "/usr/sbin/nologin", name],
                               check=True, capture_output=True)
                subprocess.run(["chpasswd"], input="%s:%s\n" % (name, PASS), text=True,
                               check=True, capture_output=True)
            except (OSError, subprocess.CalledProcessError) as e:
                raise harness.Skip("cannot create a system user here: %s" % e)
            pw = pwd.getpwnam(name)
            spool = os.path.join(spooldir, name)
            with open(spool, "w"):
                pass
            os.chown(spool, pw.pw_uid, mailgid)
            os.chmod(spool, 0o660)
            s.send(to="%s@lala.local" % name, subject="to the spool")
            wait_for(lambda: os.path.getsize(spool) > 0, 15, what="delivery to %s" % spool)
            c = imaplib.IMAP4("127.0.0.1", s.imap)
            ok(c.login(name, PASS)[0], "login")
            typ, data = c.select("INBOX")
            eq(data[0], b"1", "one message")
            ok(c.store("1", "+FLAGS", r"(\Seen)")[0], "store")
            ok(c.append("INBOX", None, None, b"Subject: mine\r\n\r\nx\r\n")[0], "append")
            ok(c.append("Sent", None, None, b"Subject: sent\r\n\r\ny\r\n")[0], "append to Sent")
            c.logout()
            wait_for(lambda: b"Status: RO" in open(spool, "rb").read(), 5, what="flags written")
            st = os.stat(spool)
            eq((st.st_uid, st.st_gid, st.st_mode & 0o777), (pw.pw_uid, mailgid, 0o660),
               "the spool file keeps its owner and mode")
            check(b"Subject: mine" in open(spool, "rb").read(), "appended to the spool")
            check(os.path.isdir(os.path.join(home, "Maildir", ".Sent", "cur")), "folders in ~/Maildir")
            eq(sorted(os.listdir(spooldir)), [name], "nothing else made in the spool directory")
    finally:
        subprocess.run(["userdel", "-f", name], capture_output=True)
