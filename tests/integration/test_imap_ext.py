"""Scripted IMAP protocol tests, one per extension: ENABLE, ID, NAMESPACE,
UNSELECT, LITERAL+, MULTIAPPEND, UIDPLUS, MOVE, CONDSTORE, QRESYNC,
ESEARCH/SEARCHRES, SORT, THREAD, LIST-EXTENDED/LIST-STATUS, SPECIAL-USE,
CREATE-SPECIAL-USE, STATUS=SIZE, BINARY, UTF8=ACCEPT, SASL-IR, CHILDREN."""
import base64
import re

from harness import check, eq, test
from test_imap import ImapLab, RawImap


def session(s, user="user1"):
    r = RawImap(s.imap)
    l = r.cmd("L", "LOGIN %s pass" % user)
    check(l[-1].startswith("L OK"), "login: %r" % l)
    return r


def tagged(lines):
    return lines[-1].split(" ", 2)[1]


def append(r, tag, mailbox, msg, flags=""):
    data = msg.encode() if isinstance(msg, str) else msg
    r.send("%s APPEND %s %s{%d+}\r\n" % (tag, mailbox, flags + " " if flags else "", len(data)))
    r.send(data + b"\r\n")
    return r.until(tag)


MSG = ("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: %s\r\n"
       "Message-ID: <%s@example.org>\r\n%sDate: %s\r\n\r\n%s\r\n")


def msg(subject, mid, date="Thu, 26 Nov 2026 10:00:00 +0000", refs="", body="text"):
    return MSG % (subject, mid, ("References: %s\r\n" % refs) if refs else "", date, body)


@test("imap ext: ENABLE, ID, NAMESPACE, UNSELECT, CLOSE")
def t_basic_ext():
    with ImapLab() as s:
        r = session(s)
        l = r.cmd("a", "ENABLE CONDSTORE UTF8=ACCEPT NOSUCHTHING")
        check("* ENABLED CONDSTORE UTF8=ACCEPT" in l, "ENABLED: %r" % l)
        l = r.cmd("b", 'ID ("name" "test")')
        check(any(x.startswith("* ID (") and "estafeta" in x for x in l), "ID: %r" % l)
        l = r.cmd("c", "NAMESPACE")
        check('* NAMESPACE (("" "/")) NIL NIL' in l, "NAMESPACE: %r" % l)
        r.cmd("d", "SELECT INBOX")
        append(r, "e", "INBOX", msg("x", "1"), r"(\Deleted)")
        l = r.cmd("f", "UNSELECT")
        eq(tagged(l), "OK", "UNSELECT")
        l = r.cmd("g", "FETCH 1 FLAGS")
        eq(tagged(l), "BAD", "no folder after UNSELECT")
        r.cmd("h", "SELECT INBOX")
        l = r.cmd("i", "CLOSE")
        eq(tagged(l), "OK", "CLOSE")
        l = r.cmd("j", "STATUS INBOX (MESSAGES)")
        check("* STATUS INBOX (MESSAGES 0)" in l, "CLOSE expunged \\Deleted: %r" % l)
        r.close()


@test("imap ext: LITERAL+ and MULTIAPPEND (all or nothing), APPENDUID")
def t_multiappend():
    with ImapLab() as s:
        r = session(s)
        a, b = msg("one", "m1"), msg("two", "m2")
        r.send('a APPEND INBOX (\\Seen) {%d+}\r\n%s {%d+}\r\n%s\r\n' % (len(a), a, len(b), b))
        l = r.until("a")
        check(re.match(r"a OK \[APPENDUID \d+ 1:2\]", l[-1]) is not None, "MULTIAPPEND: %r" % l)
        r.send('b APPEND INBOX {%d+}\r\n%s (\\Bogus) {%d+}\r\n%s\r\n' % (len(a), a, len(b), b))
        l = r.until("b")
        eq(tagged(l), "BAD", "bad flag in the second message")
        l = r.cmd("c", "STATUS INBOX (MESSAGES UIDNEXT)")
        check("* STATUS INBOX (MESSAGES 2 UIDNEXT 3)" in l, "nothing from the failed one: %r" % l)
        # a synchronizing literal gets "+" first
        r.send("d APPEND INBOX {%d}\r\n" % len(a))
        check(r.line().startswith("+"), "continuation")
        r.send(a + "\r\n")
        eq(tagged(r.until("d")), "OK", "synchronizing literal")
        l = append(r, "e", "NoSuchFolder", a)
        check(l[-1].startswith("e NO [TRYCREATE]"), "TRYCREATE: %r" % l)
        r.close()


@test("imap ext: CONDSTORE (MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE) and QRESYNC")
def t_condstore():
    with ImapLab() as s:
        r = session(s)
        for i in range(3):
            append(r, "a%d" % i, "INBOX", msg("m%d" % i, "c%d" % i))
        l = r.cmd("b", "SELECT INBOX (CONDSTORE)")
        hm = [int(m.group(1)) for x in l for m in [re.search(r"HIGHESTMODSEQ (\d+)", x)] if m]
        check(hm and hm[0] > 0, "HIGHESTMODSEQ: %r" % l)
        l = r.cmd("c", "FETCH 1:* (MODSEQ)")
        ms = [int(x) for x in re.findall(r"MODSEQ \((\d+)\)", " ".join(l))]
        eq(len(ms), 3, "MODSEQ for each message")
        l = r.cmd("d", "STORE 2 +FLAGS (\\Seen)")
        m2 = int(re.search(r"MODSEQ \((\d+)\)", " ".join(l)).group(1))
        check(m2 > max(ms), "MODSEQ grew: %d > %d" % (m2, max(ms)))
        l = r.cmd("e", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % max(ms))
        eq(len([x for x in l if " FETCH " in x]), 1, "only the changed one: %r" % l)
        l = r.cmd("f", "STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % (min(ms) - 1))
        check("[MODIFIED 1]" in l[-1], "conditional store refused: %r" % l)
        l = r.cmd("g", "SEARCH MODSEQ %d" % (max(ms) + 1))
        check(any(x.startswith("* SEARCH 2 (MODSEQ %d)" % m2) for x in l), "SEARCH MODSEQ: %r" % l)
        uv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(r.cmd("h", "STATUS INBOX (UIDVALIDITY)"))).group(1))
        r.cmd("i", "STORE 3 +FLAGS (\\Deleted)")
        r.cmd("j", "EXPUNGE")
        r.cmd("k", "UNSELECT")
        r.close()
        r = session(s)
        l = r.cmd("a", "ENABLE QRESYNC")
        check("* ENABLED QRESYNC" in l, "ENABLE QRESYNC: %r" % l)
        l = r.cmd("b", "SELECT INBOX (QRESYNC (%d %d 1:3))" % (uv, max(ms)))
        check("* VANISHED (EARLIER) 3" in l, "VANISHED (EARLIER): %r" % l)
        check(any(re.match(r"\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ", x) for x in l),
              "changed flags reported: %r" % l)
        append(r, "c", "INBOX", msg("m4", "c4"))
        r.cmd("d", "NOOP")
        r.cmd("e", "STORE 3 +FLAGS (\\Deleted)")
        l = r.cmd("f", "EXPUNGE")
        check("* VANISHED 4" in l, "VANISHED instead of EXPUNGE: %r" % l)
        r.close()


@test("imap ext: ESEARCH and SEARCHRES ($)")
def t_esearch():
    with ImapLab() as s:
        r = session(s)
        for i in range(5):
            append(r, "a%d" % i, "INBOX", msg("s%d" % i, "e%d" % i), r"(\Seen)" if i % 2 else "")
        r.cmd("b", "SELECT INBOX")
        l = r.cmd("c", "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
        check('* ESEARCH (TAG "c") MIN 1 MAX 5 COUNT 3 ALL 1,3,5' in l, "ESEARCH: %r" % l)
        l = r.cmd("d", "UID SEARCH RETURN (SAVE) SEEN")
        eq(tagged(l), "OK", "SAVE")
        check(not any(x.startswith("* ") for x in l[:-1]), "SAVE alone answers nothing: %r" % l)
        l = r.cmd("e", "FETCH $ (UID)")
        eq(sorted(re.findall(r"UID (\d+)", " ".join(l))), ["2", "4"], "FETCH $: %r" % l)
        l = r.cmd("f", "SEARCH $ SUBJECT s3")
        check("* SEARCH 4" in l, "SEARCH with $: %r" % l)
        r.close()


@test("imap ext: SORT and THREAD")
def t_sort_thread():
    with ImapLab() as s:
        r = session(s)
        append(r, "a", "INBOX", msg("b topic", "t1", "Thu, 26 Nov 2026 10:00:00 +0000"))
        append(r, "b", "INBOX", msg("Re: b topic", "t2", "Thu, 26 Nov 2026 11:00:00 +0000",
                                    refs="<t1@example.org>"))
        append(r, "c", "INBOX", msg("a topic", "t3", "Wed, 25 Nov 2026 10:00:00 +0000"))
        r.cmd("d", "SELECT INBOX")
        l = r.cmd("e", "SORT (SUBJECT) UTF-8 ALL")
        check("* SORT 3 1 2" in l, "SORT SUBJECT: %r" % l)
        l = r.cmd("f", "SORT (REVERSE DATE) UTF-8 ALL")
        check("* SORT 2 1 3" in l, "SORT REVERSE DATE: %r" % l)
        l = r.cmd("g", "UID SORT (ARRIVAL) UTF-8 SUBJECT topic")
        check("* SORT 1 2 3" in l, "UID SORT: %r" % l)
        l = r.cmd("h", "THREAD REFERENCES UTF-8 ALL")
        check("* THREAD (3)(1 2)" in l, "THREAD REFERENCES: %r" % l)
        l = r.cmd("i", "THREAD ORDEREDSUBJECT UTF-8 ALL")
        check("* THREAD (3)(1 2)" in l, "THREAD ORDEREDSUBJECT: %r" % l)
        l = r.cmd("j", "SORT (NOSUCHKEY) UTF-8 ALL")
        eq(tagged(l), "BAD", "bad sort key")
        r.close()


@test("imap ext: LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CREATE-SPECIAL-USE, STATUS=SIZE")
def t_list_ext():
    with ImapLab() as s:
        r = session(s)
        append(r, "a", "INBOX", msg("x", "l1"))
        l = r.cmd("b", 'LIST (SPECIAL-USE) "" "*"')
        names = sorted(re.findall(r'"/" "?([^"]+)"?$', x)[0] for x in l if x.startswith("* LIST"))
        eq(names, ["Archive", "Drafts", "Junk", "Sent", "Trash"], "special-use selection")
        l = r.cmd("c", 'LIST "" "INBOX" RETURN (STATUS (MESSAGES SIZE UIDNEXT))')
        check(any(re.match(r'\* STATUS "?INBOX"? \(MESSAGES 1 SIZE \d+ UIDNEXT 2\)', x) for x in l),
              "LIST-STATUS: %r" % l)
        l = r.cmd("d", "CREATE Old (USE (\\Archive))")
        eq(tagged(l), "OK", "CREATE-SPECIAL-USE")
        l = r.cmd("e", 'LIST "" "Old" RETURN (SPECIAL-USE)')
        check(any("\\Archive" in x for x in l if x.startswith("* LIST")), "use kept: %r" % l)
        for bad in ("\\Nonsense", "\\Flagged"):
            l = r.cmd("f", "CREATE Bad (USE (%s))" % bad)
            check("[USEATTR]" in l[-1], "USEATTR for %s: %r" % (bad, l))
        r.cmd("g", "CREATE p/q")
        l = r.cmd("h", 'LIST "" "p"')
        check(any("\\HasChildren" in x for x in l), "CHILDREN: %r" % l)
        l = r.cmd("i", 'LIST (SUBSCRIBED) "" "*"')
        check(any("Sent" in x and "\\Subscribed" in x for x in l), "SUBSCRIBED: %r" % l)
        l = r.cmd("j", 'LIST "" ""')
        check('* LIST (\\Noselect) "/" ""' in l, "delimiter: %r" % l)
        r.close()


@test("imap ext: BINARY, BODY sections, partial fetch, BODYSTRUCTURE")
def t_binary():
    with ImapLab() as s:
        r = session(s)
        raw = bytes(range(256))
        mime = ("From: a@b\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
                "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
                "Content-Type: text/plain\r\n\r\nhello =\r\n\r\n--XX\r\n"
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(raw).decode().replace("\n", "\r\n") + "--XX--\r\n")
        append(r, "a", "INBOX", mime)
        r.cmd("b", "SELECT INBOX")
        l = r.cmd("c", "FETCH 1 (BINARY.SIZE[2])")
        check("BINARY.SIZE[2] 256" in l[0], "BINARY.SIZE: %r" % l)
        r.send("d FETCH 1 (BINARY.PEEK[2])\r\n")
        head = r.line()
        m = re.search(r"~\{(\d+)\}$", head) or re.search(r"\{(\d+)\}$", head)
        check(m is not None and int(m.group(1)) == 256, "BINARY literal: %r" % head)
        r.s.settimeout(10)
        while len(r.buf) < 256:
            r.buf += r.s.recv(65536)
        eq(r.buf[:256], raw, "decoded bytes")
        r.buf = r.buf[256:]
        r.until("d")
        l = r.cmd("e", "FETCH 1 (BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.4>)")
        t = "\r\n".join(l)
        check("BODY[1] {9}" in t or 'BODY[1] "hello =\r\n"' in t, "part 1: %r" % t)
        check("Subject: bin" in t, "HEADER.FIELDS: %r" % t)
        check("BODY[TEXT]<0> {4}" in t or 'BODY[TEXT]<0> "--XX"' in t, "partial: %r" % t)
        l = r.cmd("f", "FETCH 1 BODYSTRUCTURE")
        check('("text" "plain"' in l[0].lower() or '"text" "plain"' in l[0].lower(),
              "BODYSTRUCTURE: %r" % l)
        check('"mixed" ("boundary" "XX")' in l[0].lower().replace("'", '"') or "mixed" in l[0].lower(),
              "multipart: %r" % l)
        l = r.cmd("g", "FETCH 1 FLAGS")
        check("\\Seen" not in l[0], "PEEK leaves \\Seen alone: %r" % l)
        r.close()


@test("imap ext: UTF8=ACCEPT names and SASL-IR")
def t_utf8_saslir():
    with ImapLab() as s:
        r = RawImap(s.imap)
        ir = base64.b64encode(b"\0user1\0pass").decode()
        l = r.cmd("a", "AUTHENTICATE PLAIN " + ir)
        check(l[-1].startswith("a OK"), "SASL-IR: %r" % l)
        l = r.cmd("b", "ENABLE UTF8=ACCEPT")
        check("* ENABLED UTF8=ACCEPT" in l, "enabled: %r" % l)
        r.send('c CREATE "Caf\u00e9"\r\n'.encode())
        eq(tagged(r.until("c")), "OK", "UTF-8 name")
        l = r.cmd("d", 'LIST "" "Caf*"')
        check(any("Caf\u00e9" in x for x in l), "UTF-8 listed: %r" % l)
        r.close()
        r = session(s)
        l = r.cmd("e", 'LIST "" "Caf*"')
        check(any("Caf&AOk-" in x for x in l), "mUTF-7 for other clients: %r" % l)
        r.close()


def modseqs(lines):
    out = {}
    for x in lines:
        u, m = re.search(r"UID (\d+)", x), re.search(r"MODSEQ \((\d+)\)", x)
        if " FETCH " in x and u and m:
            out[int(u.group(1))] = int(m.group(1))
    return out


@test("imap ext: MODSEQs and cached ENVELOPE/BODYSTRUCTURE survive a restart (estafeta.index)")
def t_index_restart():
    import glob
    import os
    with ImapLab() as s:
        r = session(s)
        for i in range(3):
            append(r, "a%d" % i, "INBOX", msg("r%d" % i, "r%d" % i))
        r.cmd("b", "ENABLE QRESYNC")
        l = r.cmd("c", "SELECT INBOX")
        uv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(l)).group(1))
        r.cmd("d", "UID STORE 2 +FLAGS (\\Seen)")
        before = r.cmd("e", "UID FETCH 1:* (MODSEQ ENVELOPE BODYSTRUCTURE)")
        hm = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(r.cmd("f", "STATUS INBOX (HIGHESTMODSEQ)"))).group(1))
        ms = modseqs(before)
        eq(len(ms), 3, "MODSEQs: %r" % before)
        r.close()
        s.stop()
        md = s.maildir("user1")
        check(os.path.exists(os.path.join(md, "estafeta.index")), "estafeta.index written")
        s.start()
        s.wait_log(r"auth service started", 10)

        r = session(s)
        r.cmd("a", "ENABLE QRESYNC")
        l = r.cmd("b", "SELECT INBOX (QRESYNC (%d %d))" % (uv, hm))
        eq([x for x in l if " FETCH " in x or "VANISHED" in x], [], "nothing changed across the restart")
        hm2 = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(l)).group(1))
        check(hm2 >= hm, "HIGHESTMODSEQ did not go back: %d < %d" % (hm2, hm))
        after = r.cmd("c", "UID FETCH 1:* (MODSEQ ENVELOPE BODYSTRUCTURE)")
        eq(modseqs(after), ms, "same MODSEQs")
        eq([x for x in after if "FETCH" in x], [x for x in before if "FETCH" in x], "same FETCH answers")
        r.close()
        s.stop()

        # flags changed and a message removed by another program meanwhile
        files = sorted(glob.glob(os.path.join(md, "cur", "*")))
        eq(len(files), 3, "three files: %r" % files)
        os.rename(files[0], files[0] + "F")
        os.unlink(files[2])
        s.start()
        s.wait_log(r"auth service started", 10)
        r = session(s)
        r.cmd("a", "ENABLE QRESYNC")
        l = r.cmd("b", "SELECT INBOX (QRESYNC (%d %d 1:3))" % (uv, hm2))
        fetched = [x for x in l if " FETCH " in x]
        eq(len(fetched), 1, "the renamed one: %r" % l)
        check("\\Flagged" in fetched[0], "its new flag: %r" % fetched)
        check(any(x.startswith("* VANISHED (EARLIER) ") for x in l), "the removed one: %r" % l)
        r.close()
