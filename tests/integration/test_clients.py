"""Real Debian mail clients against the daemon's IMAP and POP3 servers: curl
(imap, imaps, pop3, pop3s), mbsync (isync) in both directions, fetchmail with
UIDL bookkeeping, and mutt driven through tmux for a read-and-reply.

The clients run as root (like the test runner) in a directory inside the lab,
which the daemon never reads; the Maildirs stay owned by run_user because the
clients only talk to the daemon over loopback sockets. Every check compares
message bytes or flags with what the server stored, not only exit codes."""
import os
import re
import shutil
import smtplib
import subprocess
import time

import harness
from harness import Failure, Skip, check, eq, test, wait_for
from test_imap import ImapLab, PASS
from test_auth import scram_secret

SERVER_NAME = "test.example"     # the hostname the lab's self-signed certificate is for


# ---- helpers ----

def need(*binaries):
    for b in binaries:
        if shutil.which(b) is None:
            raise Skip("%s is not installed (tools/deps.sh installs it)" % b)


def workdir(s, name):
    d = os.path.join(s.base, name)
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def run(argv, env=None, timeout=30, input=None):
    p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def client_env(home, **extra):
    e = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
         "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    e.update(extra)
    return e


def mkmsg(msgid, subject, body, frm="Sender <sender@example.org>", to="user1@lala.local",
          extra=""):
    """A message with CRLF line ends (what goes over SMTP/IMAP)."""
    text = ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s>\n"
            "Date: Thu, 26 Nov 2026 10:00:00 +0000\n%s\n%s"
            % (frm, to, subject, msgid, extra, body))
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def deliver(s, msg, to="user1@lala.local", sender="sender@example.org"):
    with smtplib.SMTP("127.0.0.1", s.port, timeout=10) as c:
        c.sendmail(sender, [to], msg)


def msgid_of(data):
    m = re.search(rb"^Message-ID:\s*<([^>\r\n]+)>", data, re.M | re.I)
    return m.group(1).decode() if m else None


def lf(data):
    return data.replace(b"\r\n", b"\n")


def crlf(data):
    return lf(data).replace(b"\n", b"\r\n")


def same(actual, expected, what):
    """eq() for message bytes with a short message: where they first differ."""
    if actual == expected:
        return
    i = next((k for k in range(min(len(actual), len(expected))) if actual[k] != expected[k]),
             min(len(actual), len(expected)))
    raise Failure("%s: %d bytes, expected %d; first difference at %d: got %r, expected %r"
                  % (what, len(actual), len(expected), i, actual[max(0, i - 40):i + 60],
                     expected[max(0, i - 40):i + 60]))


def strip_tuid(data):
    """mbsync inserts an X-TUID: header into the messages it stores (to find them
    again after an interrupted sync); it is not part of the message."""
    return re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", data, count=1)


def maildir_files(path):
    """{file name: path} of the messages in the Maildir folder path (new and cur)."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            for n in os.listdir(d):
                out[n] = os.path.join(d, n)
    return out


def maildir_by_id(path):
    """{Message-ID: bytes} of a Maildir folder (fails on duplicates)."""
    out = {}
    for n, p in maildir_files(path).items():
        with open(p, "rb") as f:
            data = f.read()
        mid = msgid_of(data)
        check(mid not in out, "Message-ID %s twice in %s" % (mid, path))
        out[mid] = data
    return out


def server_stored(s, user):
    """{Message-ID: bytes} as the daemon stored them in user's INBOX (LF ends)."""
    return maildir_by_id(s.maildir(user))


def imap_fetch_all(c, folder):
    """{Message-ID: (uid, flags str, bytes)} of a server folder via imaplib."""
    typ, data = c.select('"%s"' % folder, readonly=True)
    eq(typ, "OK", "SELECT %s" % folder)
    if data[0] == b"0":
        return {}
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    eq(typ, "OK", "UID FETCH in %s" % folder)
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, raw = item
        uid = int(re.search(rb"UID (\d+)", meta).group(1))
        flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode()
        out[msgid_of(raw)] = (uid, flags, raw)
    return out


def imap_folders(c):
    typ, data = c.list()
    eq(typ, "OK", "LIST")
    names = []
    for line in data:
        m = re.search(rb'\) "." (?:"((?:[^"\\]|\\.)*)"|(\S+))$', line)
        check(m is not None, "LIST line: %r" % line)
        names.append((m.group(1) or m.group(2)).decode())
    return sorted(names)


def make_other_cert(d):
    """A self-signed certificate for the same name that the server does not have."""
    need("openssl")
    key, cert = os.path.join(d, "other.key"), os.path.join(d, "other.pem")
    p = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-subj", "/CN=" + SERVER_NAME, "-addext", "subjectAltName=DNS:" + SERVER_NAME,
             "-days", "2", "-keyout", key, "-out", cert])
    check(p.returncode == 0, "openssl req: %s" % p.err[-300:])
    return cert


def server_cert(s, d):
    src = os.path.join(s.spool, "tls", "cert.pem")
    check(os.path.exists(src), "no certificate in %s" % src)
    dst = os.path.join(d, "server.pem")
    shutil.copyfile(src, dst)
    return dst


# ---- curl ----

def curl(s, url, *args, user="user1:" + PASS, timeout=20):
    need("curl")
    argv = ["curl", "-sS", "--max-time", str(timeout - 5), "--user", user] + list(args) + [url]
    return run(argv, env=client_env(s.base), timeout=timeout)


def curl_ok(s, url, *args, **kw):
    p = curl(s, url, *args, **kw)
    check(p.returncode == 0, "curl %s %s: exit %d: %s" % (" ".join(args), url, p.returncode,
                                                          p.err.strip()[-300:]))
    return p


@test("clients: curl over imap:// and imaps:// (UID and MAILINDEX fetch, SECTION, LIST, "
      "custom UID SEARCH, APPEND upload, verified TLS)")
def t_curl_imap():
    need("curl")
    with ImapLab() as s:
        d = workdir(s, "curl")
        bodies = {
            "alpha": "First message.\n",
            "beta": "Second message with a dot line:\n.\n..two\n.end\nand a long line " +
                    "x" * 900 + "\n",
            "gamma": "Third one.\n\nWith an empty line inside.\n",
            "delta": "Fourth.\n",
        }
        for i, subj in enumerate(("alpha", "beta", "gamma", "delta")):
            deliver(s, mkmsg("curl%d@clients.test" % i, subj, bodies[subj]))
            s.wait_delivered(i + 1)
        stored = server_stored(s, "user1")
        eq(len(stored), 4, "messages stored")
        # Expunge UID 1 so that UIDs and sequence numbers differ (UID n = seq n-1).
        c = s.login()
        c.select("INBOX")
        c.store("1", "+FLAGS", r"\Deleted")
        eq(c.expunge()[0], "OK", "EXPUNGE")
        c.logout()
        base = "imap://127.0.0.1:%d" % s.imap

        # UID fetch: UID 2 is "beta"; the whole message is what the server stored, in CRLF.
        p = curl_ok(s, base + "/INBOX;UID=2")
        same(p.stdout, crlf(stored["curl1@clients.test"]), "imap:// INBOX;UID=2 bytes")
        check(p.stdout.endswith(crlf(bodies["beta"].encode())), "beta body at the end")
        # MAILINDEX is the sequence number: 2 is UID 3 ("gamma").
        p = curl_ok(s, base + "/INBOX;MAILINDEX=2")
        same(p.stdout, crlf(stored["curl2@clients.test"]), "imap:// INBOX;MAILINDEX=2 bytes")
        # SECTION=TEXT is the body only.
        p = curl_ok(s, base + "/INBOX;UID=3;SECTION=TEXT")
        same(p.stdout, crlf(bodies["gamma"].encode()), "SECTION=TEXT of UID 3")
        p = curl_ok(s, base + "/INBOX;UID=4;SECTION=HEADER.FIELDS%20(SUBJECT)")
        same(p.stdout, b"Subject: delta\r\n\r\n", "SECTION=HEADER.FIELDS (SUBJECT)")
        # A UID that was expunged is an error, not some other message.
        p = curl(s, base + "/INBOX;UID=1")
        check(p.returncode != 0 and b"alpha" not in p.stdout,
              "fetch of an expunged UID: exit %d, out %r" % (p.returncode, p.stdout[:200]))

        # Folder list.
        c = s.login()
        eq(c.create("Work")[0], "OK", "CREATE Work")
        c.logout()
        p = curl_ok(s, base + "/")
        names = sorted(re.findall(r'^\* LIST \([^)]*\) "/" "?([^"\r\n]+)"?\r?$', p.out, re.M))
        eq(names, ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash", "Work"], "LIST via curl")
        check(re.search(r'^\* LIST \([^)]*\\Sent[^)]*\) "/" "?Sent', p.out, re.M) is not None,
              "special-use \\Sent in %r" % p.out)

        # Custom commands on the selected mailbox.
        p = curl_ok(s, base + "/INBOX", "-X", "UID SEARCH SUBJECT gamma")
        eq(p.out.strip(), "* SEARCH 3", "UID SEARCH SUBJECT gamma")
        p = curl_ok(s, base + "/INBOX", "-X", "SEARCH OR SUBJECT beta SUBJECT delta")
        eq(p.out.strip(), "* SEARCH 1 3", "SEARCH (sequence numbers after the expunge)")
        p = curl_ok(s, base + "/INBOX", "-X", "UID FETCH 2:* (FLAGS)")
        flags = {}
        for line in p.out.splitlines():
            m = re.search(r"\bUID (\d+)", line)
            f = re.search(r"\bFLAGS \(([^)]*)\)", line)
            if line.startswith("* ") and m and f:
                flags[int(m.group(1))] = f.group(1)
        eq(sorted(flags), [2, 3, 4], "UID FETCH 2:* FLAGS answered for: %r" % p.out)
        check("\\Seen" in flags[2] and "\\Seen" in flags[3],
              "curl's BODY[] fetches set \\Seen: %r" % flags)

        # Upload (APPEND) into Work, then read it back with imaplib.
        up = mkmsg("upload@clients.test", "uploaded by curl", "Appended with curl -T.\n.\nend\n")
        fn = os.path.join(d, "up.eml")
        with open(fn, "wb") as f:
            f.write(up)
        curl_ok(s, base + "/Work", "-T", fn)
        c = s.login()
        got = imap_fetch_all(c, "Work")
        eq(list(got), ["upload@clients.test"], "Work after upload")
        same(got["upload@clients.test"][2], up, "uploaded message bytes")
        c.logout()

        # imaps:// without verification (-k) and with real verification against the
        # lab's self-signed certificate (by name, with --resolve pinning it to loopback).
        p = curl_ok(s, "imaps://127.0.0.1:%d/INBOX;UID=4" % s.imaps, "-k")
        same(p.stdout, crlf(stored["curl3@clients.test"]), "imaps:// -k UID=4 bytes")
        cert = server_cert(s, d)
        p = curl_ok(s, "imaps://%s:%d/INBOX;UID=2" % (SERVER_NAME, s.imaps), "--cacert", cert,
                    "--resolve", "%s:%d:127.0.0.1" % (SERVER_NAME, s.imaps))
        same(p.stdout, crlf(stored["curl1@clients.test"]), "imaps:// verified UID=2 bytes")
        other = make_other_cert(d)
        p = curl(s, "imaps://%s:%d/INBOX;UID=2" % (SERVER_NAME, s.imaps), "--cacert", other,
                 "--resolve", "%s:%d:127.0.0.1" % (SERVER_NAME, s.imaps))
        eq(p.returncode, 60, "curl exit with a CA that did not sign the server certificate")
        # STARTTLS on the plain port (--ssl-reqd) works too.
        p = curl_ok(s, base + "/INBOX;UID=3;SECTION=TEXT", "--ssl-reqd", "-k")
        same(p.stdout, crlf(bodies["gamma"].encode()), "imap:// with STARTTLS")

        # Wrong password: curl says "login denied" (67) and gets no data.
        p = curl(s, base + "/INBOX;UID=2", user="user1:wrong")
        eq(p.returncode, 67, "curl exit for a wrong password")
        eq(p.stdout, b"", "no data for a wrong password")


@test("clients: curl over pop3:// and pop3s:// (LIST, RETR, UIDL, TOP, DELE)")
def t_curl_pop3():
    need("curl")
    with ImapLab() as s:
        bodies = ["One.\n", "Two, with dots:\n.\n.leading\n..double\n", "Three.\n" * 40]
        for i, b in enumerate(bodies):
            deliver(s, mkmsg("pop%d@clients.test" % i, "pop %d" % i, b))
            s.wait_delivered(i + 1)
        stored = server_stored(s, "user1")
        order = ["pop0@clients.test", "pop1@clients.test", "pop2@clients.test"]
        base = "pop3://127.0.0.1:%d" % s.pop3

        p = curl_ok(s, base + "/")
        got = [tuple(int(x) for x in l.split()) for l in p.out.splitlines() if l.strip()]
        eq(got, [(i + 1, len(crlf(stored[m]))) for i, m in enumerate(order)],
           "pop3:// LIST: numbers and CRLF sizes")
        p = curl_ok(s, base + "/1")
        same(p.stdout, crlf(stored[order[0]]), "pop3:// RETR 1 bytes")
        p = curl_ok(s, base + "/2")
        same(p.stdout, crlf(stored[order[1]]), "pop3:// RETR 2 bytes (dot-stuffing undone)")
        check(p.stdout.endswith(b"\r\n.\r\n.leading\r\n..double\r\n"), "dot lines intact")

        # pop3s:// with -k, and verified against the lab certificate by name.
        p = curl_ok(s, "pop3s://127.0.0.1:%d/3" % s.pop3s, "-k")
        same(p.stdout, crlf(stored[order[2]]), "pop3s:// RETR 3 bytes")
        d = workdir(s, "curl")
        cert = server_cert(s, d)
        p = curl_ok(s, "pop3s://%s:%d/1" % (SERVER_NAME, s.pop3s), "--cacert", cert,
                    "--resolve", "%s:%d:127.0.0.1" % (SERVER_NAME, s.pop3s))
        same(p.stdout, crlf(stored[order[0]]), "pop3s:// verified RETR 1 bytes")

        # Custom commands: UIDL (the IMAP UID and UIDVALIDITY) and TOP.
        p = curl_ok(s, base + "/", "-X", "UIDL")
        uidl = [l.split() for l in p.out.splitlines() if l.strip()]
        eq([u[0] for u in uidl], ["1", "2", "3"], "UIDL numbers: %r" % p.out)
        eq(len(set(u[1] for u in uidl)), 3, "UIDL ids unique: %r" % p.out)
        check(all(re.fullmatch(r"%08X[0-9A-F]{8}" % (i + 1), u[1]) for i, u in enumerate(uidl)),
              "UIDL is %%08X uid %%08X uidvalidity: %r" % uidl)
        p = curl_ok(s, base + "/", "-X", "TOP 2 1")
        head = lf(stored[order[1]]).split(b"\n\n")[0]
        eq(lf(p.stdout), head + b"\n\nTwo, with dots:\n", "TOP 2 1")

        # DELE through curl (-I: no transfer), then the message is gone for good.
        p = curl_ok(s, base + "/1", "-X", "DELE", "-I")
        p = curl_ok(s, base + "/")
        eq(len([l for l in p.out.splitlines() if l.strip()]), 2, "LIST after DELE: %r" % p.out)
        eq(sorted(server_stored(s, "user1")), order[1:], "Maildir after DELE")

        p = curl(s, base + "/1", user="user1:wrong")
        eq(p.returncode, 67, "curl exit for a wrong POP3 password")


# ---- mbsync ----

MBSYNC_RC = """\
IMAPAccount lab
Host 127.0.0.1
Port {port}
User user1
Pass {password}
{tls}
AuthMechs {mech}
Timeout 20

IMAPStore lab-remote
Account lab

MaildirStore lab-local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel lab
Far :lab-remote:
Near :lab-local:
Patterns *
Create Both
Remove None
Expunge Both
SyncState *
"""


def mbsync_rc(d, name, port, local, tls="SSLType None", mech="*"):
    os.makedirs(local, exist_ok=True)      # mbsync creates folders, not the store root
    rc = os.path.join(d, name)
    with open(rc, "w") as f:
        f.write(MBSYNC_RC.format(port=port, password=PASS, tls=tls, mech=mech, local=local))
    os.chmod(rc, 0o600)
    return rc


def mbsync(d, rc, *extra, expect_ok=True):
    need("mbsync")
    p = run(["mbsync"] + list(extra) + ["-a", "-c", rc], env=client_env(d), timeout=40)
    if expect_ok:
        check(p.returncode == 0, "mbsync %s exit %d: %s" % (" ".join(extra), p.returncode,
                                                           (p.err + p.out)[-600:]))
    return p


def local_folders(root):
    out = []
    for dirpath, dirs, files in os.walk(root):
        if all(os.path.isdir(os.path.join(dirpath, x)) for x in ("cur", "new", "tmp")):
            out.append(os.path.relpath(dirpath, root))
    return sorted(out)


def info_flags(name):
    m = re.search(r":2,([A-Za-z]*)$", name)
    return m.group(1) if m else ""


@test("clients: mbsync mirrors folders and bytes both ways, flags, expunges; idle resync is a no-op")
def t_mbsync():
    need("mbsync")
    with ImapLab() as s:
        d = workdir(s, "mbsync")
        local = os.path.join(d, "Mail")
        sent = {}
        for i in range(24):
            body = "Message number %d.\n" % i
            if i % 5 == 0:
                body += ".\n. a dot line\nFrom the start of a line\n"
            if i % 7 == 0:
                body += ("word " * 150).strip() + "\n" + ("x" * 990 + "\n") * 3
            mid = "mb%02d@clients.test" % i
            sent[mid] = mkmsg(mid, "mbsync %02d" % i, body)
            deliver(s, sent[mid])
        s.wait_delivered(24)
        c = s.login()
        eq(c.create("Work")[0], "OK", "CREATE Work")
        eq(c.create("Work/Projects")[0], "OK", "CREATE Work/Projects")
        for i in range(4):
            flags = [r"(\Seen)", r"(\Flagged)", None, r"(\Seen \Answered)"][i]
            mid = "work%d@clients.test" % i
            eq(c.append("Work", flags, None, mkmsg(mid, "work %d" % i, "Work item %d\n" % i))[0],
               "OK", "APPEND to Work")
        eq(c.append("Work/Projects", None, None,
                    mkmsg("proj@clients.test", "project", "Nested folder.\n"))[0], "OK", "APPEND")
        c.select("INBOX")
        eq(c.uid("COPY", "3:4", "Work")[0], "OK", "UID COPY 3:4 Work")
        server = {f: imap_fetch_all(c, f) for f in imap_folders(c)}
        total = sum(len(v) for v in server.values())
        eq(total, 24 + 4 + 1 + 2, "messages on the server")

        # 1. First sync: every folder and every message arrives, byte for byte.
        rc = mbsync_rc(d, "mbsyncrc", s.imap, local)
        mbsync(d, rc)
        eq(local_folders(local), sorted(server), "folders mirrored")
        for folder, msgs in server.items():
            here = maildir_by_id(os.path.join(local, folder))
            eq(sorted(here), sorted(msgs), "Message-IDs in local %s" % folder)
            for mid, (uid, flags, raw) in msgs.items():
                same(strip_tuid(lf(here[mid])), lf(raw), "local copy of %s in %s" % (mid, folder))
        for mid in sent:
            check(crlf(server["INBOX"][mid][2]).endswith(sent[mid].split(b"\r\n\r\n", 1)[1]),
                  "server body of %s is what was sent" % mid)
        work_names = maildir_files(os.path.join(local, "Work"))
        wflags = {}
        for n, p in work_names.items():
            with open(p, "rb") as f:
                wflags[msgid_of(f.read())] = info_flags(n)
        eq(wflags["work0@clients.test"], "S", "\\Seen as S")
        eq(wflags["work1@clients.test"], "F", "\\Flagged as F")
        eq(wflags["work2@clients.test"], "", "no flags")
        eq(wflags["work3@clients.test"], "RS", "\\Answered \\Seen as RS")

        # 2. Flag a message locally (Maildir info F), delete another on the server.
        inbox = os.path.join(local, "INBOX")
        by_id = {}
        for n, p in maildir_files(inbox).items():
            with open(p, "rb") as f:
                by_id[msgid_of(f.read())] = p
        p = by_id["mb10@clients.test"]
        base_name = os.path.basename(p).split(":2,")[0]
        fl = "".join(sorted(set(info_flags(os.path.basename(p)) + "F")))
        os.rename(p, os.path.join(inbox, "cur", base_name + ":2," + fl))
        uid_gone = server["INBOX"]["mb11@clients.test"][0]
        c.select("INBOX")
        eq(c.uid("STORE", str(uid_gone), "+FLAGS", r"(\Deleted)")[0], "OK", "STORE \\Deleted")
        eq(c.expunge()[0], "OK", "EXPUNGE")
        # ... and a new message in local Work, to be uploaded.
        new = mkmsg("local@clients.test", "written locally", "Made in the near Maildir.\n")
        with open(os.path.join(local, "Work", "new", "1790000000.1_1.near"), "wb") as f:
            f.write(lf(new))
        mbsync(d, rc)
        srv_inbox = imap_fetch_all(c, "INBOX")
        check("\\Flagged" in srv_inbox["mb10@clients.test"][1],
              "local F reached the server: %r" % (srv_inbox["mb10@clients.test"][1],))
        check("\\Flagged" not in srv_inbox["mb12@clients.test"][1], "others not flagged")
        check("mb11@clients.test" not in maildir_by_id(inbox),
              "message expunged on the server is gone locally")
        eq(len(maildir_files(inbox)), 23, "local INBOX after the expunge")
        srv_work = imap_fetch_all(c, "Work")
        check("local@clients.test" in srv_work, "locally written message uploaded: %r"
              % sorted(srv_work))
        same(strip_tuid(lf(srv_work["local@clients.test"][2])), lf(new), "uploaded bytes on the server")
        names = [n for n in maildir_files(os.path.join(local, "Work"))
                 if n.startswith("1790000000.1_1.near")]
        check(len(names) == 1 and ",U=%d" % srv_work["local@clients.test"][0] in names[0],
              "local file got the server UID: %r" % names)

        # 3. Nothing changed: a sync transfers nothing, on either side.
        snap_local = {f: sorted(maildir_files(os.path.join(local, f))) for f in local_folders(local)}
        snap_server = {f: {m: (u, fl) for m, (u, fl, _) in imap_fetch_all(c, f).items()}
                       for f in imap_folders(c)}
        p = mbsync(d, rc, "-Dn")
        trace = p.out + p.err
        sent_cmds = re.findall(r"^>>> \d+ (.*)$", trace, re.M)
        check(sent_cmds, "no IMAP trace from mbsync -Dn: %r" % trace[:300])
        busy = [l for l in sent_cmds if re.search(r"\b(APPEND|STORE|EXPUNGE|COPY|CREATE)\b", l)
                or re.search(r"BODY(\.PEEK)?\[\]", l)]
        eq(busy, [], "IMAP commands of an idle resync")
        eq({f: sorted(maildir_files(os.path.join(local, f))) for f in local_folders(local)},
           snap_local, "local Maildir after an idle resync")
        eq({f: {m: (u, fl) for m, (u, fl, _) in imap_fetch_all(c, f).items()}
            for f in imap_folders(c)}, snap_server, "server after an idle resync")

        # 4. The same over imaps, verifying the lab's self-signed certificate, into a
        # fresh Maildir; and a certificate the server does not have is refused.
        cert = server_cert(s, d)
        local2 = os.path.join(d, "Mail2")
        rc2 = mbsync_rc(d, "mbsyncrc-tls", s.imaps, local2, mech="PLAIN",
                        tls="SSLType IMAPS\nCertificateFile %s\nSystemCertificates no" % cert)
        mbsync(d, rc2)
        eq(local_folders(local2), local_folders(local), "folders over imaps")
        for f in local_folders(local):
            a = maildir_by_id(os.path.join(local, f))
            b = maildir_by_id(os.path.join(local2, f))
            eq(sorted(b), sorted(a), "Message-IDs of %s over imaps" % f)
            for m in a:
                same(strip_tuid(lf(b[m])), strip_tuid(lf(a[m])), "imaps copy of %s in %s" % (m, f))
        local3 = os.path.join(d, "Mail3")
        rc3 = mbsync_rc(d, "mbsyncrc-badcert", s.imaps, local3,
                        tls="SSLType IMAPS\nCertificateFile %s\nSystemCertificates no"
                        % make_other_cert(d))
        p = mbsync(d, rc3, expect_ok=False)
        check(p.returncode != 0, "mbsync accepted a certificate it was not given")
        check("certificate" in (p.out + p.err).lower(), "certificate error: %r" % (p.out + p.err))
        eq(sum(len(maildir_files(os.path.join(local3, f))) for f in local_folders(local3))
           if os.path.isdir(local3) else 0, 0, "nothing fetched with a bad certificate")
        c.logout()


# ---- fetchmail ----

FETCHMAIL_MDA = """#!/bin/sh
# fetchmail MDA: one file per message
exec cat > "$(mktemp -p '{out}' msg.XXXXXXXX)"
"""


def fetchmail(d, name, port, out, opts, ssl="sslproto ''"):
    need("fetchmail")
    mda = os.path.join(d, "mda.sh")
    if not os.path.exists(mda):
        with open(mda, "w") as f:
            f.write(FETCHMAIL_MDA.format(out=out))
        os.chmod(mda, 0o755)
    rc = os.path.join(d, name)
    with open(rc, "w") as f:
        f.write("set no syslog\n"
                "poll 127.0.0.1 protocol pop3 port %d auth password uidl\n"
                "  user \"user2\" there with password \"%s\"\n"
                "  %s\n  %s\n  mda \"%s\"\n" % (port, PASS, ssl, opts, mda))
    os.chmod(rc, 0o600)
    p = run(["fetchmail", "--nosyslog", "--norewrite", "--nodetach", "-i",
             os.path.join(d, "fetchids"), "-f", rc], env=client_env(d), timeout=40)
    p.trace = p.out + p.err
    return p


def fetched(out):
    """{Message-ID: bytes} of what fetchmail handed to the MDA, with the Received
    header fetchmail adds removed."""
    res = {}
    for n in sorted(os.listdir(out)):
        with open(os.path.join(out, n), "rb") as f:
            data = f.read()
        head, sep, body = data.partition(b"\n\n")
        blocks = []             # one list of lines per (folded) header field
        for l in head.split(b"\n"):
            if l[:1] in (b" ", b"\t") and blocks:
                blocks[-1].append(l)
            else:
                blocks.append([l])
        ours = [b for b in blocks if b[0].startswith(b"Received:")
                and b"(fetchmail-" in b"".join(b)]
        check(len(ours) == 1, "fetchmail's Received header in %s: %r" % (n, head[:400]))
        keep = [l for b in blocks if b is not ours[0] for l in b]
        data2 = b"\n".join(keep) + sep + body
        mid = msgid_of(data2)
        check(mid not in res, "fetchmail delivered %s twice" % mid)
        res[mid] = data2
    return res


@test("clients: fetchmail keeps with UIDL, then fetches and deletes all; pop3s verified")
def t_fetchmail():
    need("fetchmail")
    with ImapLab() as s:
        d = workdir(s, "fetchmail")
        out = os.path.join(d, "out")
        os.mkdir(out)
        bodies = ["Plain text.\n", "Dots:\n.\n..\n.x\n", "From me, at the start\nFrom here\n",
                  "", ("Long " + "y" * 900 + "\n") * 5]
        for i, b in enumerate(bodies):
            deliver(s, mkmsg("fm%d@clients.test" % i, "fetch %d" % i, b, to="user2@lala.local"),
                    to="user2@lala.local")
            s.wait_delivered(i + 1, user="user2")
        stored = server_stored(s, "user2")
        eq(len(stored), 5, "stored for user2")

        # 1. keep: everything is fetched, the server keeps it.
        p = fetchmail(d, "rc1", s.pop3, out, "keep")
        eq(p.returncode, 0, "fetchmail exit (keep): %s" % p.trace[-500:])
        got = fetched(out)
        eq(sorted(got), sorted(stored), "Message-IDs fetched")
        for mid, data in stored.items():
            same(got[mid], lf(data), "fetched bytes of %s" % mid)
        eq(len(server_stored(s, "user2")), 5, "kept on the server")
        check(os.path.exists(os.path.join(d, "fetchids")), "fetchmail wrote its UIDL file")

        # 2. keep again: UIDL says all are old, nothing is fetched (exit 1: no mail).
        p = fetchmail(d, "rc1", s.pop3, out, "keep")
        eq(p.returncode, 1, "fetchmail exit with nothing new: %s" % p.trace[-500:])
        eq(len(os.listdir(out)), 5, "nothing fetched twice")

        # 3. pop3s with certificate checking against the lab certificate: only the
        # new message comes; with a certificate the server does not have, nothing.
        deliver(s, mkmsg("fm5@clients.test", "fetch 5", "Sixth.\n", to="user2@lala.local"),
                to="user2@lala.local")
        s.wait_delivered(6, user="user2")
        cert = server_cert(s, d)
        bad = make_other_cert(d)
        p = fetchmail(d, "rc2", s.pop3s, out, "keep",
                      ssl="ssl sslcertck sslcertfile '%s' sslcommonname %s" % (bad, SERVER_NAME))
        check(p.returncode not in (0, 1), "fetchmail accepted a certificate it was not given: "
              "exit %d: %s" % (p.returncode, p.trace[-300:]))
        eq(len(os.listdir(out)), 5, "nothing fetched with a bad certificate")
        p = fetchmail(d, "rc2", s.pop3s, out, "keep",
                      ssl="ssl sslcertck sslcertfile '%s' sslcommonname %s" % (cert, SERVER_NAME))
        eq(p.returncode, 0, "fetchmail exit (pop3s): %s" % p.trace[-500:])
        got = fetched(out)
        eq(len(got), 6, "one more message over pop3s")
        same(got["fm5@clients.test"], lf(server_stored(s, "user2")["fm5@clients.test"]),
           "pop3s fetched bytes")

        # 4. no keep, fetchall: all six again, then the server mailbox is empty.
        shutil.rmtree(out)
        os.mkdir(out)
        p = fetchmail(d, "rc3", s.pop3, out, "nokeep fetchall")
        eq(p.returncode, 0, "fetchmail exit (nokeep fetchall): %s" % p.trace[-500:])
        eq(len(fetched(out)), 6, "all fetched")
        eq(server_stored(s, "user2"), {}, "user2's Maildir after fetch-and-delete")
        p = fetchmail(d, "rc3", s.pop3, out, "nokeep fetchall")
        eq(p.returncode, 1, "nothing left: %s" % p.trace[-300:])
        c = s.login("user2")
        typ, data = c.select("INBOX")
        eq(data[0], b"0", "IMAP sees the empty INBOX")
        c.logout()


# ---- mutt in tmux ----

MUTTRC = """\
set folder="imap://user1:{password}@127.0.0.1:{imap}/"
set spoolfile="+INBOX"
set smtp_url="smtp://127.0.0.1:{smtp}/"
set from="user1@lala.local"
set realname="User One"
set use_from=yes
set editor="{editor}"
set ssl_starttls=no
set ssl_force_tls=no
set record=""
set header_cache=""
set message_cachedir=""
set imap_check_subscribed=no
set mail_check=1
set timeout=1
set fast_reply=yes
set include=yes
set abort_noattach=no
set recall=no
set postpone=no
set copy=no
set move=no
set sendmail_wait=0
set wait_key=no
set beep=no
set confirmappend=no
set quit=yes
set sort=date
set mark_old=no
"""

EDITOR = """#!/bin/sh
# mutt's editor: add a line to the reply, no terminal needed
printf 'Noon works for me.\\n' >> "$1"
"""


class Tmux:
    """One private tmux server (own socket in the lab) with one session."""

    def __init__(self, d, name, cmd, env):
        need("tmux")
        self.sock = os.path.join(d, "tmux.sock")
        self.name = name
        conf = os.path.join(d, "tmux.conf")
        with open(conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self.env = env
        p = run(["tmux", "-S", self.sock, "-f", conf, "new-session", "-d", "-s", name,
                 "-x", "200", "-y", "50", cmd], env=env, timeout=10)
        check(p.returncode == 0, "tmux new-session: %s" % p.err)

    def tmux(self, *args):
        return run(["tmux", "-S", self.sock] + list(args), env=self.env, timeout=10)

    def pane(self):
        p = self.tmux("capture-pane", "-p", "-t", self.name)
        return p.out if p.returncode == 0 else ""

    def keys(self, *keys):
        p = self.tmux("send-keys", "-t", self.name, *keys)
        check(p.returncode == 0, "tmux send-keys %r: %s" % (keys, p.err))

    def dead(self):
        p = self.tmux("display-message", "-p", "-t", self.name, "#{pane_dead}")
        return p.returncode != 0 or p.out.strip() == "1"

    def wait(self, pred, what, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            text = self.pane()
            if pred(text):
                return text
            if time.monotonic() > deadline:
                raise Failure("timed out after %.0fs waiting for %s; pane:\n%s"
                              % (timeout, what, "\n".join(l.rstrip() for l in text.splitlines()
                                                        if l.strip())))
            time.sleep(0.2)

    def close(self):
        self.tmux("kill-session", "-t", self.name)
        self.tmux("kill-server")


def flags_of(s, user, msgid):
    c = s.login(user)
    try:
        c.select("INBOX", readonly=True)
        typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID", msgid)
        uids = data[0].split()
        if len(uids) != 1:
            return None
        typ, data = c.uid("FETCH", uids[0].decode(), "(FLAGS)")
        return re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode()
    finally:
        c.logout()


@test("clients: mutt (in tmux) reads a message over IMAP, replies by SMTP, marks it answered")
def t_mutt():
    need("mutt", "tmux")
    with ImapLab() as s:
        d = workdir(s, "mutt")
        os.mkdir(os.path.join(d, "tmp"))
        original = mkmsg("lunch-1@lala.local", "Lunch on Friday",
                         "Shall we meet at noon?\nThe usual place.\n",
                         frm="Ameliana <ameliana@lala.local>")
        deliver(s, original, sender="ameliana@lala.local")
        s.wait_delivered(1)
        editor = os.path.join(d, "editor.sh")
        with open(editor, "w") as f:
            f.write(EDITOR)
        os.chmod(editor, 0o755)
        rc = os.path.join(d, "muttrc")
        with open(rc, "w") as f:
            f.write(MUTTRC.format(password=PASS, imap=s.imap, smtp=s.port, editor=editor))
        env = client_env(d, TMPDIR=os.path.join(d, "tmp"), TERM="xterm")
        name = "estafeta-mutt-%d" % os.getpid()
        cmd = "env HOME=%s TMPDIR=%s/tmp mutt -n -F %s" % (d, d, rc)
        t = Tmux(d, name, cmd, env)
        try:
            t.wait(lambda x: "Lunch on Friday" in x and "Ameliana" in x,
                   "the index to list the message")
            t.keys("Enter")
            t.wait(lambda x: "Shall we meet at noon?" in x and "The usual place." in x,
                   "the pager to show the body")
            t.keys("r")
            t.wait(lambda x: "Subject: Re: Lunch on Friday" in x and "y:Send" in x,
                   "the compose screen")
            t.keys("y")
            t.wait(lambda x: "Mail sent." in x, "\"Mail sent.\"")
            replies = wait_for(lambda: server_stored(s, "ameliana"), 15,
                               what="the reply in ameliana's Maildir")
            eq(len(replies), 1, "one reply")
            reply = list(replies.values())[0]
            hdrs, body = harness.split_message(reply)
            eq(harness.header(hdrs, "Subject"), ["Re: Lunch on Friday"], "reply Subject")
            eq(harness.header(hdrs, "In-Reply-To"), ["<lunch-1@lala.local>"], "In-Reply-To")
            check("<lunch-1@lala.local>" in " ".join(harness.header(hdrs, "References")),
                  "References: %r" % harness.header(hdrs, "References"))
            check("user1@lala.local" in harness.header(hdrs, "From")[0], "From: %r" % hdrs)
            check("ameliana@lala.local" in harness.header(hdrs, "To")[0], "To: %r" % hdrs)
            check(b"> Shall we meet at noon?\n> The usual place.\n" in body,
                  "quoted original in %r" % body)
            check(body.rstrip().endswith(b"Noon works for me."), "editor's line in %r" % body)
            # Back to the index and sync: the server gets \Answered and \Seen.
            t.keys("q")
            t.wait(lambda x: "Mutt: =INBOX" in x, "the index")
            t.keys("$")
            wait_for(lambda: "\\Answered" in (flags_of(s, "user1", "<lunch-1@lala.local>") or ""),
                     15, 0.2, what="\\Answered on the server (flags now %r)"
                     % flags_of(s, "user1", "<lunch-1@lala.local>"))
            check("\\Seen" in flags_of(s, "user1", "<lunch-1@lala.local>"), "\\Seen too")
            # New mail while mutt is open shows up in the index (mail_check polling).
            deliver(s, mkmsg("later@lala.local", "Also: dessert?", "Cake?\n",
                             frm="Ameliana <ameliana@lala.local>"), sender="ameliana@lala.local")
            t.wait(lambda x: "Also: dessert?" in x, "the new message in the index", timeout=20)
            t.keys("q")
            t.wait(lambda x: t.dead(), "mutt to exit")
            later = flags_of(s, "user1", "<later@lala.local>")
            check(later is not None and "\\Seen" not in later,
                  "the new message left unread: %r" % later)
        finally:
            t.close()


# ---- SCRAM-SHA-256 with the clients' default mechanism choice ----

class ScramLab(ImapLab):
    """ImapLab plus user "scram1" whose passwd-file entry is a SCRAM-SHA-256
    secret, with SCRAM-SHA-256 offered (auth_mechanisms set: by default it is
    offered only when every user has a SCRAM secret, i.e. SQLite databases;
    {PLAIN} users get a secret made at login)."""

    def __init__(self, *a, **kw):
        st = dict(kw.pop("settings", None) or {})
        st.setdefault("auth_mechanisms", "plain login scram-sha-256")
        ImapLab.__init__(self, *a, settings=st, **kw)

    def start(self, *a, **kw):
        with open(self.users_file) as f:
            text = f.read()
        if "scram1:" not in text:
            with open(self.users_file, "a") as f:
                f.write("scram1:%s::::::\n" % scram_secret(PASS))
        return ImapLab.start(self, *a, **kw)


@test("clients: mbsync and mutt log in with SCRAM-SHA-256 (Cyrus SASL, their default choice)")
def t_scram_clients():
    need("mbsync", "mutt", "tmux")
    with ScramLab() as s:
        deliver(s, mkmsg("scram@clients.test", "over scram", "Salted.\n", to="scram1@lala.local"),
                to="scram1@lala.local")
        s.wait_delivered(1, user="scram1")
        d = workdir(s, "scram")
        local = os.path.join(d, "Mail")
        cert = server_cert(s, d)
        rc = mbsync_rc(d, "mbsyncrc", s.imaps, local, mech="*",
                       tls="SSLType IMAPS\nCertificateFile %s\nSystemCertificates no" % cert)
        with open(rc) as f:
            text = f.read().replace("User user1", "User scram1")
        with open(rc, "w") as f:
            f.write(text)
        p = mbsync(d, rc, "-Dn", expect_ok=False)
        trace = p.out + p.err
        check("AUTHENTICATE SCRAM-SHA-256" in trace,
              "mbsync did not choose SCRAM-SHA-256: %s" % trace[-600:])
        check(p.returncode == 0, "mbsync with SCRAM-SHA-256: exit %d: %s"
              % (p.returncode, trace[-600:]))
        got = maildir_by_id(os.path.join(local, "INBOX"))
        same(strip_tuid(lf(got.get("scram@clients.test", b""))),
             lf(server_stored(s, "scram1")["scram@clients.test"]), "message fetched over SCRAM")
        check(s.wait_log(r"imap login user=scram1 ", 5), "login logged")

        # mutt with no imap_authenticators: Cyrus SASL picks SCRAM-SHA-256 too.
        mrc = os.path.join(d, "muttrc")
        with open(mrc, "w") as f:
            f.write('set folder="imap://scram1:%s@127.0.0.1:%d/"\nset spoolfile="+INBOX"\n'
                    'set ssl_starttls=no\nset ssl_force_tls=no\nset header_cache=""\n'
                    'set message_cachedir=""\nset imap_check_subscribed=no\nset quit=yes\n'
                    'set mark_old=no\n' % (PASS, s.imap))
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        t = Tmux(d, "estafeta-scram-%d" % os.getpid(),
                 "env HOME=%s TMPDIR=%s/tmp mutt -n -F %s" % (d, d, mrc),
                 client_env(d, TERM="xterm"))
        try:
            t.wait(lambda x: "over scram" in x or "authentication failed" in x.lower(),
                   "mutt to list the message")
            check("over scram" in t.pane(), "mutt login: %s" % t.pane().strip()[-300:])
            t.keys("q")
            t.wait(lambda x: t.dead(), "mutt to exit")
        finally:
            t.close()
        log = s.log()
        check(re.search(r"mech=SCRAM-SHA-256", log) is None,
              "a SCRAM login failed: %s" % re.findall(r".*auth failed.*", log))
        eq(len(re.findall(r"imap login user=scram1 ", log)), 2, "two SCRAM logins (mbsync, mutt)")
