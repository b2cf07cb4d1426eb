"""Local delivery: aliases (lists, nesting, :include:, loops, |command, /file,
newaliases), mbox, address extensions, sendmail/mail submission, restart
recovery."""
import os
import re
import time

from harness import (IS_ROOT, RUN_GID, RUN_UID, Raw, Server, Skip, check, eq, header, queued_id,
                     short, split_message, test, wait_for)

ALIASES = """# aliases(5) for the integration suite
team: user1, user2
staff: team, ameliana
incl: :include:@DIR@/include.list
loopa: loopb
loopb: loopa
runit: |@DIR@/files/pipe.sh
archive: @DIR@/files/archive.mbox
"""

PIPE_SH = """#!/bin/sh
id -u > @DIR@/files/pipe.uid
printf '%s|%s\\n' "$SENDER" "$RECIPIENT" > @DIR@/files/pipe.env
cat > @DIR@/files/pipe.out
"""


def alias_server(**kw):
    s = Server(aliases=ALIASES, include_files={"include.list": "ameliana\nuser1\n"}, start=False,
               **kw)
    try:
        p = os.path.join(s.files, "pipe.sh")
        with open(p, "w") as f:
            f.write(PIPE_SH.replace("@DIR@", s.base))
        os.chmod(p, 0o755)
        if IS_ROOT:
            os.chown(p, RUN_UID, RUN_GID)
        s.start()
    except BaseException:
        s.cleanup()
        raise
    return s


def counts(s, users=("ameliana", "user1", "user2")):
    return {u: len(s.messages(u)) for u in users}


def deliver(s, rcpt, subject, body="alias body\r\n", src=None):
    code, text = s.send(rcpt, body, subject=subject, src=src)
    eq(code, 250, "final reply for %s (%s)" % (rcpt, text))
    qid = queued_id(text)
    s.wait_delivered(qid)
    return qid


@test("aliases: list, alias of alias, :include: file")
def t_alias_lists():
    with alias_server() as s:
        deliver(s, "team@lala.local", "to team")
        eq(counts(s), {"ameliana": 0, "user1": 1, "user2": 1}, "after team")
        deliver(s, "staff@lala.local", "to staff")
        eq(counts(s), {"ameliana": 1, "user1": 2, "user2": 2}, "after staff (team + ameliana)")
        deliver(s, "incl@lala.local", "to incl")
        eq(counts(s), {"ameliana": 2, "user1": 3, "user2": 2}, "after incl (:include: list)")
        m = s.messages("ameliana")[-1]
        hdrs, body = split_message(m)
        eq(header(hdrs, "Subject"), ["to incl"], "subject of the included delivery")
        eq(body, b"alias body\n", "body")


@test("aliases: loop a->b->a neither hangs nor crashes; daemon keeps serving")
def t_alias_loop():
    with alias_server() as s:
        code, text = s.send("loopa@lala.local", "loop\r\n", subject="loop")
        eq(code, 250, "RCPT/DATA to loopa (%s)" % text)
        qid = queued_id(text)
        s.wait_log(r"%s: to=<loopa@lala\.local> .*status=(sent|bounced|deferred)" % qid, 10)
        s.wait_delivered(qid, 10)
        with Raw(s.port) as c:
            eq(c.code("EHLO again.example"), 250, "EHLO after the loop")
        deliver(s, "user1@lala.local", "after loop")
        eq(len(s.messages("user1")), 1, "user1 still gets mail")


@test("aliases: |command runs with the message on stdin (as nobody when root)")
def t_alias_pipe():
    with alias_server() as s:
        deliver(s, "runit@lala.local", "piped", body="to the pipe\r\n")
        out = os.path.join(s.files, "pipe.out")
        wait_for(lambda: os.path.exists(out), 5, what="pipe.out")
        with open(out, "rb") as f:
            data = f.read()
        hdrs, body = split_message(data)
        eq(header(hdrs, "Subject"), ["piped"], "Subject seen by the command")
        eq(body, b"to the pipe\n", "body seen by the command")
        eq(header(hdrs, "Delivered-To"), ["runit@lala.local"], "Delivered-To seen by the command")
        with open(os.path.join(s.files, "pipe.uid")) as f:
            uid = int(f.read().strip())
        eq(uid, RUN_UID, "uid the command ran as (id -u)")
        eq(os.stat(out).st_uid, RUN_UID, "owner of the file the command created")
        with open(os.path.join(s.files, "pipe.env")) as f:
            eq(f.read().strip(), "sender@example.org|runit@lala.local", "SENDER|RECIPIENT env")
        check(re.search(r"to=<runit@lala\.local> relay=pipe .*status=sent", s.log()),
              "no relay=pipe status=sent log line")


@test("aliases: /file target appends in mbox format")
def t_alias_file():
    with alias_server() as s:
        deliver(s, "archive@lala.local", "first archived")
        deliver(s, "archive@lala.local", "second archived", body="From here on\r\n")
        p = os.path.join(s.files, "archive.mbox")
        with open(p, "rb") as f:
            data = f.read()
        check(data.startswith(b"From sender@example.org "), "no From_ line first: %s" % short(data))
        froms = [l for l in data.split(b"\n") if l.startswith(b"From ")]
        eq(len(froms), 2, "From_ lines (messages) in the file")
        check(b"Subject: first archived\n" in data and b"Subject: second archived\n" in data,
              "subjects missing")
        check(b"\n>From here on\n" in data, "body line 'From here on' not quoted as >From")
        eq(os.stat(p).st_uid, RUN_UID, "owner of the /file mailbox")


@test("aliases: newaliases after editing the file makes the daemon use the new alias")
def t_newaliases():
    with alias_server() as s:
        with Raw(s.port) as c:
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<a@example.org>")
            eq(c.code("RCPT TO:<fresh@lala.local>"), 550, "RCPT to the not yet existing alias")
        with open(s.aliases_file, "a") as f:
            f.write("fresh: user2\n")
        p = s.run(["newaliases"])
        eq(p.returncode, 0, "newaliases exit status (stderr %r)" % p.err)
        check(re.search(r"\b8 aliases\b", p.err), "newaliases did not report 8 aliases: %r" % p.err)
        s.wait_log(r"reloaded configuration from", 5)
        deliver(s, "fresh@lala.local", "fresh alias")
        eq(counts(s), {"ameliana": 0, "user1": 0, "user2": 1}, "delivery through the new alias")
        # estafeta newaliases -c FILE + SIGHUP path too
        with open(s.aliases_file, "a") as f:
            f.write("fresher: ameliana\n")
        p = s.cli("newaliases", "-c", s.conf)
        eq(p.returncode, 0, "estafeta newaliases exit status (stderr %r)" % p.err)
        wait_for(lambda: s.log().count("reloaded configuration from") >= 2, 5,
                 what="second reload")
        deliver(s, "fresher@lala.local", "fresher alias")
        eq(counts(s)["ameliana"], 1, "delivery through the second new alias")


@test("aliases: newaliases on a broken file reports file:line and keeps the old aliases")
def t_newaliases_bad():
    with alias_server() as s:
        with open(s.aliases_file, "a") as f:
            f.write("broken user1\n")
        p = s.run(["newaliases"])
        eq(p.returncode, 1, "newaliases exit status on a broken file")
        check("%s:9:" % s.aliases_file in p.err, "no file:line in %r" % p.err)
        deliver(s, "team@lala.local", "still works")
        eq(counts(s), {"ameliana": 0, "user1": 1, "user2": 1}, "old aliases still active")


@test("mbox: From_ line, >From quoting, two messages appended")
def t_mbox():
    with Server(mailbox="mbox") as s:
        deliver(s, "user1@lala.local", "mbox one", body="plain body\r\n")
        deliver(s, "user1@lala.local", "mbox two",
                body="line\r\nFrom me\r\n>From quoted\r\nFromage\r\n")
        p = os.path.join(s.mbox_dir, "user1")
        with open(p, "rb") as f:
            data = f.read()
        check(re.match(rb"From sender@example\.org (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                       rb"[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\n", data),
              "bad first From_ line: %s" % short(data[:80]))
        froms = [l for l in data.split(b"\n") if l.startswith(b"From ")]
        eq(len(froms), 2, "From_ lines")
        check(b"\n>From me\n" in data, "'From me' not quoted")
        check(b"\n>>From quoted\n" in data, "'>From quoted' not quoted again (mboxrd)")
        check(b"\nFromage\n" in data, "'Fromage' must stay as is")
        check(b"\nReturn-Path: <sender@example.org>\nDelivered-To: user1@lala.local\n" in data,
              "Return-Path/Delivered-To missing")
        # messages separated by an empty line before the second From_
        starts = [m.start() for m in re.finditer(rb"(?m)^From ", data)]
        eq(len(starts), 2, "From_ line positions")
        eq(data[starts[1] - 2:starts[1]], b"\n\n", "blank line before the second From_")
        eq(data[-2:], b"\n\n", "mbox ends with a blank line")


@test("delivery: user+tag@lala.local goes to user's mailbox")
def t_plus_tag():
    with Server() as s:
        deliver(s, "user1+tag@lala.local", "tagged")
        msgs = s.messages("user1")
        eq(len(msgs), 1, "messages for user1")
        hdrs, _ = split_message(msgs[0])
        eq(header(hdrs, "Subject"), ["tagged"], "subject")
        eq(header(hdrs, "Delivered-To"), ["user1@lala.local"], "Delivered-To")
        check(not os.path.exists(s.maildir("user1+tag")), "a user1+tag Maildir was created")


@test("delivery: user names are case-insensitive (USER1@LALA.LOCAL)")
def t_case():
    with Server() as s:
        deliver(s, "USER1@LALA.LOCAL", "upper")
        eq(len(s.messages("user1")), 1, "messages for user1")


@test("sendmail -t -i: To/Cc/Bcc all receive, Bcc removed from every copy")
def t_sendmail_t():
    with Server() as s:
        msg = ("To: user1@lala.local\nCc: user2@lala.local\nBcc: ameliana@lala.local\n"
               "Subject: sendmail-t\n\nhello via sendmail\n.\nnot the end\n")
        p = s.run(["sendmail", "-t", "-i"], input=msg)
        eq(p.returncode, 0, "sendmail exit status (stderr %r)" % p.err)
        s.wait_queue_empty()
        wait_for(lambda: all(s.messages(u) for u in ("user1", "user2", "ameliana")), 5,
                 what="all three deliveries")
        for u in ("user1", "user2", "ameliana"):
            msgs = s.messages(u)
            eq(len(msgs), 1, "messages for %s" % u)
            hdrs, body = split_message(msgs[0])
            eq(header(hdrs, "Bcc"), [], "Bcc header in %s's copy" % u)
            eq(header(hdrs, "Subject"), ["sendmail-t"], "subject")
            eq(header(hdrs, "To"), ["user1@lala.local"], "To")
            eq(header(hdrs, "Cc"), ["user2@lala.local"], "Cc")
            leaked = [(n, v) for n, v in hdrs if b"ameliana" in v and n != "Delivered-To"]
            eq(leaked, [], "headers naming the Bcc recipient in %s's copy" % u)
            eq(body, b"hello via sendmail\n.\nnot the end\n", "body (-i keeps the '.' line)")
            check(header(hdrs, "Message-ID") and header(hdrs, "Date"),
                  "Message-ID/Date not added for local submission")


@test("sendmail -f sender -F 'Full Name' rcpt: From header with the full name")
def t_sendmail_f():
    with Server() as s:
        p = s.run(["sendmail", "-f", "sender", "-F", "Full Name", "user1@lala.local"],
                  input="Subject: fullname\n\nbody\n")
        eq(p.returncode, 0, "sendmail exit status (stderr %r)" % p.err)
        s.wait_queue_empty()
        msgs = wait_for(lambda: s.messages("user1"), 5, what="delivery")
        hdrs, body = split_message(msgs[0])
        frm = header(hdrs, "From")
        eq(len(frm), 1, "From headers")
        check("Full Name" in frm[0] and "sender@test.example" in frm[0], "From: %r" % frm)
        eq(header(hdrs, "Return-Path"), ["<sender@test.example>"], "Return-Path")
        eq(body, b"body\n", "body")
        # without -i a lone "." ends the message
        p = s.run(["sendmail", "user2@lala.local"], input="Subject: dot\n\nbefore\n.\nafter\n")
        eq(p.returncode, 0, "sendmail exit status (stderr %r)" % p.err)
        s.wait_queue_empty()
        msgs = wait_for(lambda: s.messages("user2"), 5, what="delivery to user2")
        eq(split_message(msgs[0])[1], b"before\n", "body cut at the lone dot")


@test("mail -s 1 ameliana@lala.local via MAILRC sendmail delivers; local uid logged")
def t_mailx():
    with Server() as s:
        mailrc = os.path.join(s.base, "mailrc")
        with open(mailrc, "w") as f:
            f.write("set sendmail=%s/sendmail\n" % s.bindir)
        env = s.env(MAILRC=mailrc, HOME=s.base)
        p = s.run(["/usr/bin/mail", "-s", "1", "ameliana@lala.local"], input="first message\n",
                  env=env)
        eq(p.returncode, 0, "mail exit status (stderr %r)" % p.err)
        s.wait_queue_empty()
        msgs = wait_for(lambda: s.messages("ameliana"), 10, what="delivery to ameliana")
        eq(len(msgs), 1, "messages")
        hdrs, body = split_message(msgs[0])
        eq(header(hdrs, "Subject"), ["1"], "Subject")
        check(b"first message" in body, "body: %r" % body)
        check(header(hdrs, "From"), "no From header")
        check(re.search(r": client=local uid=%d\b" % os.getuid(), s.log()),
              "no 'client=local uid=%d' log line" % os.getuid())
        rec = header(hdrs, "Received")
        check(rec and "from userid %d" % os.getuid() in rec[0], "Received: %r" % rec)


@test("restart: a message queued for a remote domain survives a restart")
def t_restart_remote():
    with Server() as s:
        code, text = s.send("far@ext.example", "remote\r\n", subject="remote")
        eq(code, 250, "remote recipient from 127.0.0.1 (%s)" % text)
        qid = queued_id(text)
        s.wait_log(r"%s: to=<far@ext\.example> .*status=deferred" % qid, 10)
        problems = s.stop()
        eq(problems, [], "problems at stop")
        eq(s.queue_ids(), [qid], "queue after stop")
        s.start()
        s.wait_log(r"queue: 1 message\(s\) to deliver from the previous run", 5)
        p = s.cli("queue", "-c", s.conf, "list")
        eq(p.returncode, 0, "queue list exit status")
        check(qid in p.out and "far@ext.example" in p.out, "queue list after restart: %r" % p.out)
        wait_for(lambda: len(re.findall(r"%s: to=<far@ext\.example> .*status=deferred" % qid,
                                        s.log())) >= 2, 10, what="a second attempt after restart")


@test("restart: temporary Maildir failure is deferred, then delivered after fix + queue flush")
def t_temp_failure():
    with Server() as s:
        dom = os.path.join(s.mail, "lala.local")
        os.mkdir(dom, 0o755)
        blocker = os.path.join(dom, "user2")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        if IS_ROOT:
            os.chown(dom, RUN_UID, RUN_GID)
            os.chown(blocker, RUN_UID, RUN_GID)
        code, text = s.send("user2@lala.local", "retry me\r\n", subject="retry")
        eq(code, 250, "accepted")
        qid = queued_id(text)
        s.wait_log(r"%s: to=<user2@lala\.local> relay=maildir .*dsn=4\.\d\.\d status=deferred" % qid, 10)
        eq(s.queue_ids(), [qid], "queue while deferred")
        p = s.cli("queue", "-c", s.conf, "list")
        check(qid in p.out and "user2@lala.local" in p.out, "queue list: %r" % p.out)
        # a restart keeps it
        eq(s.stop(), [], "problems at stop")
        s.start()
        os.unlink(blocker)
        p = s.cli("queue", "-c", s.conf, "flush")
        eq(p.returncode, 0, "queue flush exit status (stderr %r)" % p.err)
        s.wait_delivered(qid, 10)
        msgs = s.messages("user2")
        eq(len(msgs), 1, "delivered after the fix")
        eq(header(split_message(msgs[0])[0], "Subject"), ["retry"], "subject")


@test("delivery: system user with another uid (users system) via the root parent")
def t_system_user():
    import pwd
    try:
        pw = pwd.getpwnam("mail")
    except KeyError:
        raise Skip("no 'mail' system user on this host")
    s = Server(start=False)
    with s:
        s.set("users", "system")
        s.set("mailbox", "maildir %s/%%u/Maildir" % s.mail)
        s.write_conf()
        os.chmod(s.mail, 0o1777)
        s.start()
        qids = []
        for i in range(5):
            code, text = s.send("mail@lala.local", "to a system user %d\r\n" % i, subject="sys%d" % i)
            eq(code, 250, "RCPT/DATA to mail@lala.local (%s)" % text)
            qids.append(queued_id(text))
        if IS_ROOT:
            for q in qids:
                s.wait_delivered(q)
            new = os.path.join(s.mail, "mail", "Maildir", "new")
            names = sorted(os.listdir(new))
            eq(len(names), 5, "messages in mail's Maildir")
            for n in names:
                st = os.stat(os.path.join(new, n))
                eq((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid), "owner of %s" % n)
            eq(os.stat(os.path.join(s.mail, "mail", "Maildir")).st_uid, pw.pw_uid,
               "owner of the Maildir")
            # root itself is never delivered to
            code, text = s.send("root@lala.local", "to root\r\n", subject="root")
            if code == 250:
                q = queued_id(text)
                s.wait_log(r"%s: to=<root@lala\.local> .*status=(deferred|bounced)" % q, 10)
            check(not os.path.exists(os.path.join(s.mail, "root")), "a mailbox for root was created")
        else:
            for q in qids:
                s.wait_log(r"%s: to=<mail@lala\.local> .*dsn=4\.\d\.\d status=deferred" % q, 10)
            eq(len(s.queue_ids()), 5, "messages kept in the queue (not started as root)")


@test("delivery: deferred message is retried after minimal_backoff_time without a flush")
def t_backoff_retry():
    with Server({"minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}) as s:
        dom = os.path.join(s.mail, "lala.local")
        os.mkdir(dom, 0o755)
        blocker = os.path.join(dom, "user1")
        with open(blocker, "w") as f:
            f.write("x\n")
        if IS_ROOT:
            os.chown(dom, RUN_UID, RUN_GID)
        code, text = s.send("user1@lala.local", "retry\r\n", subject="backoff")
        eq(code, 250, "accepted")
        qid = queued_id(text)
        s.wait_log(r"%s: to=<user1@lala\.local> .*status=deferred" % qid, 5)
        os.unlink(blocker)
        s.wait_delivered(qid, 8)
        eq(len(s.messages("user1")), 1, "delivered by the automatic retry")


@test("delivery: maximal_queue_lifetime expiry bounces and removes the message")
def t_lifetime():
    with Server({"minimal_backoff_time": "1s", "maximal_queue_lifetime": "2s"}) as s:
        code, text = s.send("far@ext.example", "old\r\n", subject="expire")
        eq(code, 250, "accepted")
        qid = queued_id(text)
        s.wait_log(r"%s: to=<far@ext\.example> relay=none .*dsn=4\.4\.7 status=bounced "
                   r"\(message expired" % qid, 10)
        s.wait_delivered(qid, 5)
        eq(s.queue_ids(), [], "queue")


@test("delivery: concurrent deliveries into one mbox keep every message intact")
def t_mbox_concurrent():
    import threading
    with Server(mailbox="mbox", settings={"delivery_threads": "4"}) as s:
        errors = []

        def sender(i):
            for j in range(6):
                code, text = s.send("user1@lala.local", ("tok-%d-%d\r\n" % (i, j)) * 40,
                                    subject="c%d-%d" % (i, j))
                if code != 250:
                    errors.append(text)
        ts = [threading.Thread(target=sender, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        eq(errors, [], "refused messages")
        s.wait_queue_empty(30)
        with open(os.path.join(s.mbox_dir, "user1"), "rb") as f:
            data = f.read()
        eq(len(re.findall(rb"(?m)^From ", data)), 48, "From_ lines")
        bad = [(i, j) for i in range(8) for j in range(6)
               if data.count(b"tok-%d-%d\n" % (i, j)) != 40]
        eq(bad, [], "messages whose 40 body lines are not all present")
        check(not os.path.exists(os.path.join(s.mbox_dir, "user1.lock")), "dotlock left behind")


@test("shutdown: SIGTERM while a |command delivery runs stops within 10s, message not lost")
def t_stop_during_pipe():
    with Server(aliases="slow: |/bin/sleep 60\n") as s:
        code, text = s.send("slow@lala.local", "slow\r\n", subject="slow")
        eq(code, 250, "accepted")
        qid = queued_id(text)
        time.sleep(0.5)     # the command is running now
        t0 = time.monotonic()
        problems = s.stop(timeout=10)
        took = time.monotonic() - t0
        check(not problems, "SIGTERM during a running |command delivery: %s (after %.1fs)" %
              ("; ".join(problems), took))
        # at-least-once: either delivered (log) or still queued
        check(qid in s.queue_ids() or re.search(r"%s: removed" % qid, s.log()),
              "message %s neither delivered nor queued after the stop" % qid)
