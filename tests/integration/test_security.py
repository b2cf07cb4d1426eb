"""Relay control, open-relay address tricks, SMTP smuggling (end-of-data
ambiguity), bare LF policy, privilege separation."""
import os
import re
import signal
import subprocess
import time

from harness import (IS_ROOT, RUN_UID, Failure, Raw, Server, Skip, as_run_user, check, eq,
                     header, queued_id, short, split_message, test, wait_for)

EXT = "127.0.0.2"   # a client outside `networks 127.0.0.1/32`


@test("relay: unknown local user -> 550 5.1.1")
def t_unknown_user():
    with Server() as s, Raw(s.port, src=EXT) as c:
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<a@example.org>")
        code, lines = c.cmd("RCPT TO:<nosuchuser@lala.local>")
        eq(code, 550, "RCPT to an unknown user")
        check("5.1.1" in lines[0], "no 5.1.1 in %r" % lines)
        eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT to a known user afterwards")
        c.cmd("QUIT")


@test("relay: client outside networks -> 554 5.7.1 Relay access denied, nothing queued")
def t_relay_denied():
    with Server() as s, Raw(s.port, src=EXT) as c:
        c.cmd("EHLO c.example")
        eq(c.code("MAIL FROM:<a@example.org>"), 250, "MAIL")
        code, lines = c.cmd("RCPT TO:<user@ext.example>")
        eq(code, 554, "RCPT to a remote domain from outside networks")
        check("5.7.1" in lines[0] and "Relay access denied" in lines[0], "reply: %r" % lines)
        eq(c.code("DATA"), 554, "DATA without accepted recipients")
        c.cmd("QUIT")
        s.wait_log(r"sid=\S+ reject: RCPT from \[127\.0\.0\.2\]: 554 5\.7\.1 "
                   r"<user@ext\.example>: Relay access denied", 5)
        eq(s.queue_ids(), [], "queue")
        p = s.cli("queue", "-c", s.conf, "list")
        check("Mail queue is empty" in p.out, "queue list: %r" % p.out)


@test("relay: same from 127.0.0.1 (in networks) -> accepted, listed as deferred")
def t_relay_trusted():
    with Server() as s:
        code, text = s.send("user@ext.example", "relay me\r\n", subject="relayed")
        eq(code, 250, "remote recipient from a trusted client (%s)" % text)
        qid = queued_id(text)
        s.wait_log(r"%s: to=<user@ext\.example> relay=none delay=[0-9.]+ dsn=4\.\d\.\d "
                   r"status=deferred \(" % qid, 10)
        for argv in (["mailq"], [s.bindir + "/estafeta", "queue", "-c", s.conf, "list"]):
            p = s.run(argv)
            eq(p.returncode, 0, "%s exit status" % argv[0])
            check(re.search(r"^%s\s+\d+ .*sender@example\.org$" % qid, p.out, re.M),
                  "%s: no line for %s: %r" % (argv[0], qid, p.out))
            check(re.search(r"^\s+\(.*remote.*\)$", p.out, re.M),
                  "%s: no deferral reason: %r" % (argv[0], p.out))
            check(re.search(r"^\s+user@ext\.example$", p.out, re.M),
                  "%s: recipient not listed: %r" % (argv[0], p.out))
            check("in 1 Request." in p.out, "%s: summary line: %r" % (argv[0], p.out))


RELAY_TRICKS = [
    "user1%ext.example@lala.local",
    "ext.example!user1@lala.local",
    "@lala.local:user1@ext.example",
    '"user1@ext.example"@lala.local',
    "user1@[127.0.0.1]",
    "user1@ext.example.",
    "user1@ext.example@lala.local",
    '"user1%ext.example"@lala.local',
    "user1@lala.local.ext.example",
]


@test("relay: open-relay address tricks from outside networks are all refused")
def t_relay_tricks():
    with Server() as s:
        accepted = []
        for addr in RELAY_TRICKS:
            with Raw(s.port, src=EXT) as c:
                c.cmd("EHLO c.example")
                c.cmd("MAIL FROM:<a@example.org>")
                code, lines = c.cmd("RCPT TO:<%s>" % addr)
                if code is None or not (500 <= code < 600):
                    accepted.append("%s -> %s" % (addr, lines))
                    if code == 250:
                        c.cmd("DATA")
                        c.send("Subject: trick\r\n\r\nx\r\n.\r\n")
                        c.reply()
                c.cmd("QUIT")
        time.sleep(0.5)
        eq(accepted, [], "tricks not refused with 5xx")
        eq(s.queue_ids(), [], "queue")
        for u in ("user1", "user2", "ameliana"):
            eq(s.messages(u), [], "mailbox of %s" % u)


SMUGGLE = (b"MAIL FROM:<admin@lala.local>\r\nRCPT TO:<user1@lala.local>\r\nDATA\r\n"
           b"Subject: SMUGGLED\r\n\r\nx\r\n.\r\n")

EODS = ["\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r.\n", "\n.\r", "\r.\r", "\r\n\x00.\r\n",
        "\r\n.\r\r\n", "\r\r\n.\r\r\n", "\n\n.\r\n"]


def smuggle_case(eod):
    def run():
        with Server() as s:
            with Raw(s.port, src=EXT) as c:
                eq(c.code("EHLO attacker.example"), 250, "EHLO")
                eq(c.code("MAIL FROM:<a@ext.test>"), 250, "MAIL")
                eq(c.code("RCPT TO:<user1@lala.local>"), 250, "RCPT")
                eq(c.code("DATA"), 354, "DATA")
                c.send(b"Subject: one\r\n\r\nbody" + eod.encode("latin-1") + SMUGGLE)
                first = c.reply()
                rest = c.quit_and_collect()
            check(first[0] == 250 or (first[0] is not None and 500 <= first[0] < 600),
                  "final reply for the transaction: %r" % (first,))
            eq([r[0] for r in rest], [221], "replies after the final one (smuggled commands "
               "would add 250/250/354/250) [first=%s]" % first[1])
            if first[0] == 250:
                s.wait_delivered(queued_id(first[1][0]))
            else:
                time.sleep(0.3)
            s.wait_queue_empty(5)
            msgs = s.messages("user1")
            check(len(msgs) <= 1, "user1 got %d messages" % len(msgs))
            for m in msgs:
                hdrs, body = split_message(m)
                check(not any(b"SMUGGLED" in v for _, v in hdrs),
                      "a message has SMUGGLED in its headers: %s" % short(m, 300))
                eq(header(hdrs, "Subject"), ["one"], "Subject of the stored message")
            if first[0] == 250:
                eq(len(msgs), 1, "messages after a 250")
    return run


for _eod in EODS:
    test("smuggling: EOD %s + pipelined commands -> one reply, no SMUGGLED message" %
         repr(_eod))(smuggle_case(_eod))


@test("smuggling: bare_newline reject -> bare LF message gets 550 5.5.2, nothing stored")
def t_bare_lf_reject():
    with Server({"bare_newline": "reject"}) as s, Raw(s.port, src=EXT) as c:
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<a@ext.test>")
        c.cmd("RCPT TO:<user1@lala.local>")
        eq(c.code("DATA"), 354, "DATA")
        c.send("Subject: lf\r\n\r\nline1\nline2\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 550, "bare LF with bare_newline reject")
        check("5.5.2" in lines[0], "no 5.5.2 in %r" % lines)
        # a clean message still passes
        c.cmd("MAIL FROM:<a@ext.test>")
        c.cmd("RCPT TO:<user1@lala.local>")
        c.cmd("DATA")
        c.send("Subject: crlf\r\n\r\nline1\r\nline2\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 250, "CRLF-only message")
        s.wait_delivered(queued_id(lines[0]))
        msgs = s.messages("user1")
        eq(len(msgs), 1, "stored messages")
        eq(header(split_message(msgs[0])[0], "Subject"), ["crlf"], "subject of the stored one")
        c.cmd("QUIT")


@test("smuggling: bare_newline normalize (default) stores bare LF as a line end")
def t_bare_lf_normalize():
    with Server() as s, Raw(s.port, src=EXT) as c:
        c.cmd("EHLO c.example")
        c.cmd("MAIL FROM:<a@ext.test>")
        c.cmd("RCPT TO:<user1@lala.local>")
        c.cmd("DATA")
        c.send("Subject: lf\r\n\r\nline1\nline2\n.\nline3\r\n.\r\n")
        code, lines = c.reply()
        eq(code, 250, "bare LF message with normalize")
        s.wait_delivered(queued_id(lines[0]))
        msgs = s.messages("user1")
        eq(len(msgs), 1, "messages")
        # the "." line after a bare LF is content (kept, or unstuffed to an empty line)
        body = split_message(msgs[0])[1]
        check(body in (b"line1\nline2\n.\nline3\n", b"line1\nline2\n\nline3\n"),
              "body ('\\n.\\n' must not end the message): %r" % body)
        c.cmd("QUIT")


@test("privsep: network-facing worker runs as run_user, headers not rewritten for outsiders")
def t_privsep():
    with Server() as s:
        if IS_ROOT:
            m = s.wait_log(r"privileged parent pid=(\d+), worker pid=(\d+) runs as (\S+)", 5)
            parent, worker = int(m.group(1)), int(m.group(2))
            eq(parent, s.proc.pid, "parent pid")
            with open("/proc/%d/status" % worker) as f:
                st = f.read()
            uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st, re.M).groups()
            eq([int(u) for u in uids], [RUN_UID] * 4, "worker real/effective/saved/fs uid")
        else:
            m = s.wait_log(r"daemon started: .* uid=(\d+)", 5)
            eq(int(m.group(1)), os.getuid(), "daemon uid")
        # an untrusted client's message gets no Message-ID/Date/From added
        with Raw(s.port, src=EXT) as c:
            c.cmd("EHLO c.example")
            c.cmd("MAIL FROM:<a@ext.test>")
            c.cmd("RCPT TO:<user2@lala.local>")
            c.cmd("DATA")
            c.send("Subject: bare\r\n\r\nno headers\r\n.\r\n")
            code, lines = c.reply()
            eq(code, 250, "message from outside")
            qid = queued_id(lines[0])
            c.cmd("QUIT")
        s.wait_delivered(qid)
        hdrs, _ = split_message(s.messages("user2")[0])
        eq(header(hdrs, "Message-ID") + header(hdrs, "Date") + header(hdrs, "From"), [],
           "headers added to an untrusted client's message")
        # a trusted client's message gets them
        code, text = s.send("user1@lala.local", "x\r\n", subject="trusted")
        s.wait_delivered(queued_id(text))
        hdrs, _ = split_message(s.messages("user1")[0])
        check(header(hdrs, "Message-ID") and header(hdrs, "Date") and header(hdrs, "From"),
              "Message-ID/Date/From not added for a trusted client: %r" % hdrs)


NOT_ROOT = "not root: run_user is the caller, so there is no privilege boundary to test"


@test("privsep: restart as root does not follow run_user's symlinks in the spool (unlink/chown)")
def t_spool_symlinks():
    # The spool is writable by run_user. Whatever run_user (a compromised
    # worker, or any other process running as nobody) plants there must not
    # make the root parent delete or chown files outside the spool at start.
    if not IS_ROOT:
        raise Skip(NOT_ROOT)
    with Server() as s:
        eq(s.stop(), [], "problems at the first stop")
        victim = os.path.join(s.base, "victim-dir")
        os.mkdir(victim, 0o755)
        keep = os.path.join(victim, "keep.txt")
        with open(keep, "w") as f:
            f.write("root's file\n")
        vfile = os.path.join(s.base, "victim-file")
        with open(vfile, "w") as f:
            f.write("root only\n")
        os.chmod(vfile, 0o600)
        sp = s.spool
        r = as_run_user("mv {sp}/incoming {sp}/incoming.old && ln -s {v} {sp}/incoming && "
                        "mv {sp}/state {sp}/state.old && ln -s {f} {sp}/state"
                        .format(sp=sp, v=victim, f=vfile))
        if r.returncode != 0:
            # The spool top is root's: run_user cannot swap its directories at all.
            check("Permission denied" in r.stderr,
                  "rearranging the spool failed for another reason: %s" % r.stderr.strip())
            st = os.stat(sp)
            eq(st.st_uid, 0, "spool top owner")
            check(not (st.st_mode & 0o022), "spool top is group/other writable")
            check(not os.path.islink(os.path.join(sp, "incoming")), "spool/incoming is a symlink")
            return
        try:
            s.start()
        except Failure:
            pass    # refusing to start is fine; damage is not
        problems = []
        if not os.path.exists(keep):
            problems.append("root deleted %s (spool/incoming -> symlink to its directory)" % keep)
        st = os.stat(vfile)
        if st.st_uid != 0:
            problems.append("root chowned %s to uid %d (spool/state -> symlink to it)" %
                            (vfile, st.st_uid))
        check(not problems, "; ".join(problems))


@test("privsep: root's 'queue show' does not follow a symlink run_user planted in spool/queue")
def t_queue_show_symlink():
    if not IS_ROOT:
        raise Skip(NOT_ROOT)
    with Server() as s:
        secret = os.path.join(s.base, "secret")
        with open(secret, "w") as f:
            f.write("TOPSECRET-shadow-like\n")
        os.chmod(secret, 0o600)
        r = as_run_user("ln -s %s %s/queue/0123456789ABCDEF" % (secret, s.spool))
        eq(r.returncode, 0, "run_user can create entries in spool/queue (%s)" % r.stderr.strip())
        p = s.cli("queue", "-c", s.conf, "show", "0123456789ABCDEF")
        check("TOPSECRET" not in p.out, "estafeta queue show (as root) printed a root-only file "
              "through a symlink in spool/queue: %r" % p.out)
        os.unlink(os.path.join(s.spool, "queue", "0123456789ABCDEF"))


@test("privsep: root's 'queue flush' does not signal a pid run_user wrote into the pid file")
def t_pidfile_signal():
    if not IS_ROOT:
        raise Skip(NOT_ROOT)
    with Server() as s:
        victim = subprocess.Popen(["sleep", "60"])   # a root process of ours
        try:
            r = as_run_user("echo %d > {sp}/pid.tmp && mv -f {sp}/pid.tmp {sp}/estafeta.pid"
                            .format(sp=s.spool) % victim.pid)
            if r.returncode != 0:
                # The pid file lives in root's spool top: run_user cannot replace it.
                check("Permission denied" in r.stderr,
                      "replacing the pid file failed for another reason: %s" % r.stderr.strip())
            s.cli("queue", "-c", s.conf, "flush")
            time.sleep(0.3)
            rc = victim.poll()
            check(rc is None, "root's `estafeta queue flush` sent a signal to pid %d (a root "
                  "process) taken from the run_user-writable spool/estafeta.pid; it exited "
                  "with %s" % (victim.pid, rc))
        finally:
            if victim.poll() is None:
                victim.kill()
            victim.wait()


@test("signals: SIGHUP and SIGUSR1 sent back to back are both acted on")
def t_signals_back_to_back():
    with Server() as s:
        pid = s.proc.pid
        for i in range(5):
            r0 = s.log().count("reloaded configuration")
            f0 = s.log().count("flushing the queue")
            # like `kill -HUP $pid; kill -USR1 $pid` in a script
            os.kill(pid, signal.SIGHUP)
            os.kill(pid, signal.SIGUSR1)
            try:
                wait_for(lambda: s.log().count("reloaded configuration") > r0 and
                         s.log().count("flushing the queue") > f0, 3, what="reload and flush")
            except Failure:
                raise Failure("round %d: after SIGHUP+SIGUSR1 to pid %d the daemon logged "
                              "%d reload(s) and %d flush(es); expected one of each" %
                              (i + 1, pid, s.log().count("reloaded configuration") - r0,
                               s.log().count("flushing the queue") - f0))
