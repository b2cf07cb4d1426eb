"""Admin CLI: mailq, estafeta queue list/show/flush/delete, estafeta check."""
import os
import re

import harness

from harness import Server, check, eq, header, queued_id, short, split_message, test, wait_for


def queue_two(s):
    ids = []
    for rcpt in ("a@ext.example", "b@ext.example"):
        code, text = s.send(rcpt, "queued for %s\r\n" % rcpt, subject="to " + rcpt)
        eq(code, 250, "remote recipient %s (%s)" % (rcpt, text))
        qid = queued_id(text)
        s.wait_log(r"%s: to=<%s> .*status=deferred" % (qid, re.escape(rcpt)), 10)
        ids.append(qid)
    return ids


@test("cli: mailq and queue list/show/flush/delete ID/delete ALL")
def t_queue_cli():
    with Server() as s:
        a, b = queue_two(s)
        p = s.run(["mailq"])
        eq(p.returncode, 0, "mailq exit status (stderr %r)" % p.err)
        for qid, rcpt in ((a, "a@ext.example"), (b, "b@ext.example")):
            check(re.search(r"^%s\s+\d+ .+ sender@example\.org$" % qid, p.out, re.M),
                  "mailq has no line for %s: %r" % (qid, p.out))
            check(re.search(r"^\s+%s$" % re.escape(rcpt), p.out, re.M),
                  "mailq does not list %s" % rcpt)
        check(re.search(r"^-- \d+ Kbytes in 2 Requests\.$", p.out, re.M),
              "mailq summary: %r" % p.out)
        # sendmail -bp is mailq too
        p2 = s.run(["sendmail", "-bp"])
        check(a in p2.out and b in p2.out, "sendmail -bp: %r" % p2.out)

        p = s.cli("queue", "-c", s.conf, "show", a)
        eq(p.returncode, 0, "queue show exit status")
        check(p.out.startswith("estafeta-queue 1\n"), "show: no magic: %s" % short(p.out))
        check(re.search(r"^id %s$" % a, p.out, re.M), "show: no id line")
        check(re.search(r"^rcpt \d+ a@ext\.example -$", p.out, re.M), "show: no rcpt line: %s" %
              short(p.out, 400))
        check("Subject: to a@ext.example\n" in p.out and "queued for a@ext.example\n" in p.out,
              "show: message text missing")
        p = s.cli("queue", "-c", s.conf, "show", "0123456789ABCDEF")
        eq(p.returncode, 1, "queue show of a missing id")
        p = s.cli("queue", "-c", s.conf, "show", "../estafeta.pid")
        eq(p.returncode, 1, "queue show with a path")
        eq(p.out, "", "queue show with a path printed something")

        before = len(re.findall(r"status=deferred", s.log()))
        p = s.cli("queue", "-c", s.conf, "flush")
        eq(p.returncode, 0, "queue flush exit status (stderr %r)" % p.err)
        s.wait_log(r"flushing the queue", 5)
        wait_for(lambda: len(re.findall(r"status=deferred", s.log())) >= before + 2, 10,
                 what="both messages retried after flush")

        p = s.cli("queue", "-c", s.conf, "delete", a)
        eq(p.returncode, 0, "queue delete exit status (stderr %r)" % p.err)
        check("Deleted: 1 message" in p.err, "delete output: %r" % p.err)
        eq(s.queue_ids(), [b], "queue after deleting one")
        p = s.cli("queue", "-c", s.conf, "delete", "nonsense")
        eq(p.returncode, 1, "delete of a malformed id")
        check("not a queue id" in p.err, "delete nonsense: %r" % p.err)
        p = s.cli("queue", "-c", s.conf, "delete", "ALL")
        eq(p.returncode, 0, "delete ALL exit status")
        check("Deleted: 1 message" in p.err, "delete ALL output: %r" % p.err)
        p = s.run(["mailq"])
        eq(p.out.strip(), "Mail queue is empty", "mailq after delete ALL")
        eq(os.listdir(os.path.join(s.spool, "state")), [], "spool/state leftovers")
        # the daemon copes with its scheduled messages being gone
        p = s.cli("queue", "-c", s.conf, "flush")
        eq(p.returncode, 0, "flush after delete")
        for qid in (a, b):
            s.wait_log(r"%s: removed from the queue by the administrator" % qid, 10)
        check("cannot open queue file" not in s.log(),
              "the scheduler kept retrying a deleted message")
        with s.raw() as c:
            eq(c.code("NOOP"), 250, "daemon alive after flush of deleted messages")
        eq(s.stop(), [], "problems at stop")
        p = s.cli("queue", "-c", s.conf, "flush")
        eq(p.returncode, 1, "queue flush without a running daemon")
        check("not running" in p.err, "flush without daemon: %r" % p.err)


@test("cli: estafeta check reports file:line errors and prints non-default settings")
def t_check():
    with Server({"recipient_limit": "3", "max_errors": "7"}, start=False) as s:
        p = s.cli("check", "-c", s.conf)
        eq(p.returncode, 0, "check of a good config (stderr %r)" % p.err)
        for line in ("hostname = test.example", "recipient_limit = 3", "max_errors = 7",
                     "spool = %s" % s.spool, "domains = lala.local localhost.test",
                     "networks = 127.0.0.1/32", "listen = smtp 127.0.0.1:%d" % s.port):
            check(re.search(r"^%s$" % re.escape(line), p.out, re.M),
                  "check output lacks %r: %r" % (line, p.out))
        for default in ("message_size_limit", "smtpd_timeout", "line_length_limit"):
            check(not re.search(r"^%s = " % default, p.out, re.M),
                  "check printed the default setting %s" % default)
        p = s.cli("check", "-a", "-c", s.conf)
        check(re.search(r"^message_size_limit = 52428800$", p.out, re.M),
              "check -a lacks the default message_size_limit: %s" % short(p.out, 300))

        with open(s.conf) as f:
            lines = f.read().splitlines()
        for bad, why in (("recipient_limit lots", "recipient_limit"),
                         ("frobnicate yes", "unknown setting"),
                         ("networks 10.0.0.0/33", "not a network"),
                         ("bare_newline sometimes", "bare_newline")):
            with open(s.conf, "w") as f:
                f.write("\n".join(lines[:3] + [bad] + lines[3:]) + "\n")
            # (sanitizer cleanliness of these error paths: separate test below)
            p = s.cli("check", "-c", s.conf, check_san=False)
            eq(p.returncode, 1, "check exit status for %r" % bad)
            check("%s:4:" % s.conf in p.err and why in p.err,
                  "check error for %r lacks file:4: / %r: %r" % (bad, why, p.err))
            p = s.cli("serve", "-c", s.conf, timeout=10, check_san=False)
            eq(p.returncode, 1, "serve exit status for %r" % bad)
        # a broken aliases file is reported with its own file:line
        with open(s.conf, "w") as f:
            f.write("\n".join(lines) + "\naliases %s\n" % s.aliases_file)
        with open(s.aliases_file, "w") as f:
            f.write("ok: user1\nbad: \"unterminated\n")
        p = s.cli("check", "-c", s.conf, check_san=False)
        eq(p.returncode, 1, "check exit status for a broken aliases file")
        check("%s:2:" % s.aliases_file in p.err, "aliases error lacks file:2: %r" % p.err)


@test("cli: version, reference, unknown command")
def t_misc_cli():
    with Server(start=False) as s:
        p = s.cli("version")
        eq(p.returncode, 0, "version exit status")
        check(re.match(r"estafeta \d+\.\d+\.\d+$", p.out.strip()), "version: %r" % p.out)
        p = s.cli("reference")
        eq(p.returncode, 0, "reference exit status")
        for name in ("recipient_limit", "message_size_limit", "bare_newline", "smtpd_timeout"):
            check("`%s`" % name in p.out, "reference lacks %s" % name)
        p = s.cli("frobnicate")
        eq(p.returncode, 2, "unknown command exit status")


@test("cli: config accepts 'name value', 'name = value' and 'name=value'")
def t_conf_forms():
    with Server(start=False) as s:
        base = open(s.conf).read()
        for form in ("recipient_limit 7", "recipient_limit = 7", "recipient_limit=7",
                     "recipient_limit =7", "recipient_limit= 7", "recipient_limit\t7"):
            with open(s.conf, "w") as f:
                f.write(base + form + "  # trailing comment\n")
            p = s.cli("check", "-c", s.conf)
            eq(p.returncode, 0, "check exit status for %r (stderr %r)" % (form, p.err))
            check(re.search(r"^recipient_limit = 7$", p.out, re.M),
                  "%r not understood: %r" % (form, p.out))


@test("cli: estafeta demo lab (ESTAFETA_PORT_BASE) takes mail from swaks, mail(1) and submission")
def t_demo():
    import shutil
    import signal
    import socket
    import subprocess
    import tempfile
    import time
    import harness
    from harness import SAN_PATTERNS, free_port
    if shutil.which("swaks") is None:
        raise harness.Skip("swaks is not installed (tools/deps.sh installs it)")
    d = tempfile.mkdtemp(prefix="estafeta-it-demo-", dir="/tmp")
    os.chmod(d, 0o755)
    lab = os.path.join(d, "lab")
    port = free_port()
    log = open(os.path.join(d, "demo.log"), "wb")
    env = dict(os.environ, ESTAFETA_PORT_BASE=str(port - 25))
    proc = subprocess.Popen([harness.BIN, "demo", lab], stdout=log, stderr=log, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def up():
            if proc.poll() is not None:
                raise harness.Failure("demo exited with %s" % proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return open(os.path.join(d, "demo.log"), "rb").read().count(b"daemon started")
            except OSError:
                return False
        wait_for(up, 15, what="the demo lab on port %d" % port)
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--from",
                            "test@example.org", "--to", "ameliana@lala.local", "--h-Subject",
                            "via swaks", "--body", "swaks body"], capture_output=True, text=True,
                           timeout=30)
        eq(p.returncode, 0, "swaks exit status (%s)" % p.stdout[-300:])
        check(re.search(r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]{16}", p.stdout),
              "swaks saw no 250 queued as: %s" % p.stdout[-300:])
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--from",
                            "test@example.org", "--to", "team@lala.local", "--h-Subject",
                            "team", "--body", "to the team"], capture_output=True, text=True,
                           timeout=30)
        eq(p.returncode, 0, "swaks to team@ exit status")
        sub = port - 25 + 587
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % sub, "--auth", "PLAIN",
                            "--auth-user", "user1", "--auth-password", "pass", "--from",
                            "user1@lala.local", "--to", "ameliana@lala.local"],
                           capture_output=True, text=True, timeout=30)
        check(p.returncode != 0 and "250 2.0.0 Ok" not in p.stdout,
              "submission took AUTH without TLS: %s" % p.stdout[-300:])
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % sub, "--tls", "--auth", "PLAIN",
                            "--auth-user", "user1", "--auth-password", "pass", "--from",
                            "user1@lala.local", "--to", "ameliana@lala.local", "--h-Subject",
                            "submitted"], capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "swaks on submission exit status (%s)" % p.stdout[-300:])
        check("235 2.7.0" in p.stdout, "no 235 on submission: %s" % p.stdout[-300:])
        menv = dict(os.environ, MAILRC=os.path.join(lab, "mailrc"),
                    ESTAFETA_CONF=os.path.join(lab, "estafeta.conf"), HOME=d)
        p = subprocess.run(["mail", "-s", "1", "ameliana@lala.local"], input="first message\n",
                           capture_output=True, text=True, env=menv, timeout=30)
        eq(p.returncode, 0, "mail exit status (%s)" % p.stderr)

        def maildir(u):
            nd = os.path.join(lab, "mail", "lala.local", u, "Maildir", "new")
            try:
                return [open(os.path.join(nd, n), "rb").read() for n in sorted(os.listdir(nd))]
            except FileNotFoundError:
                return []
        wait_for(lambda: len(maildir("ameliana")) == 3 and maildir("user1") and maildir("user2"),
                 10, what="demo deliveries")
        subjects = sorted(header(split_message(m)[0], "Subject")[0] for m in maildir("ameliana"))
        eq(subjects, ["1", "submitted", "via swaks"], "ameliana's subjects")
        check(any(b"first message" in m for m in maildir("ameliana")), "mail(1) body missing")
        eq(len(maildir("user1")) + len(maildir("user2")), 2, "team alias deliveries")
        # Reading it back as Thunderbird would: IMAPS (993) and POP3S (995).
        import imaplib
        import poplib
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = imaplib.IMAP4_SSL("127.0.0.1", port - 25 + 993, ssl_context=ctx)
        c.login("ameliana", "pass")
        typ, data = c.select("INBOX")
        eq(data[0], b"3", "ameliana's INBOX over IMAPS")
        c.logout()
        c = imaplib.IMAP4("127.0.0.1", port - 25 + 143)
        check("LOGINDISABLED" in c.capabilities, "demo IMAP refuses plaintext before STARTTLS")
        c.starttls(ctx)
        c.login("user1", "pass")
        c.logout()
        pp = poplib.POP3_SSL("127.0.0.1", port - 25 + 995, context=ctx)
        pp.user("user2")
        pp.pass_("pass")
        eq(pp.stat()[0], 1, "user2's mail over POP3S")
        pp.quit()
        p = subprocess.run([os.path.join(lab, "bin", "mailq")], capture_output=True, text=True,
                           env=dict(os.environ, ESTAFETA_CONF=os.path.join(lab, "estafeta.conf")))
        eq(p.stdout.strip(), "Mail queue is empty", "mailq in the demo lab")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        text = open(os.path.join(d, "demo.log"), "rb").read().decode("utf-8", "replace")
        if not harness.KEEP:
            shutil.rmtree(d, ignore_errors=True)
    for pat in SAN_PATTERNS:
        check(pat not in text, "demo log: %s" % text[text.find(pat):text.find(pat) + 300])
    eq(proc.returncode, 0, "demo exit status after SIGTERM")


@test("reload: SIGHUP applies a changed setting, a broken file keeps the old one, clean stop after")
def t_reload():
    import signal
    with Server({"recipient_limit": "3"}) as s:
        def rcpt_codes():
            with s.raw() as c:
                c.cmd("EHLO c.example")
                c.cmd("MAIL FROM:<a@example.org>")
                return [c.code("RCPT TO:<%s@lala.local>" % u) for u in ("user1", "user2", "ameliana")]
        eq(rcpt_codes(), [250, 250, 250], "recipient_limit 3")
        s.set("recipient_limit", "1")
        s.write_conf()
        os.kill(s.proc.pid, signal.SIGHUP)
        s.wait_log(r"reloaded configuration from", 5)
        eq(rcpt_codes(), [250, 452, 452], "recipient_limit 1 after SIGHUP")
        with open(s.conf, "a") as f:
            f.write("recipient_limit many\n")
        os.kill(s.proc.pid, signal.SIGHUP)
        s.wait_log(r"reload failed, keeping the running configuration: .*:\d+: recipient_limit", 5)
        eq(rcpt_codes(), [250, 452, 452], "recipient_limit after a failed reload")
        code, text = s.send("user1@lala.local", "after reloads\r\n", subject="reloaded")
        eq(code, 250, "message after reloads")
        s.wait_delivered(queued_id(text))
        problems = s.stop()
        check(not problems, "stop after reloads: %s" % "; ".join(problems))


@test("sanitizers: CLI error paths (bad config for check/serve/queue/sendmail) are clean")
def t_cli_error_paths_san():
    # Only meaningful under the ASan build; under the release build it just
    # checks the exit statuses.
    with Server(start=False) as s:
        with open(s.conf, "a") as f:
            f.write("recipient_limit lots\n")
        reports = []
        for argv in (["estafeta", "check", "-c", s.conf], ["estafeta", "serve", "-c", s.conf],
                     ["estafeta", "queue", "-c", s.conf, "list"], ["sendmail", "user1@lala.local"],
                     ["estafeta", "newaliases", "-c", s.conf]):
            p = s.run(argv, input="Subject: x\n\nx\n", timeout=10, check_san=False)
            check(p.returncode != 0, "%s with a bad config exited 0" % " ".join(argv[:2]))
            for pat in harness.SAN_PATTERNS:
                i = p.err.find(pat)
                if i >= 0:
                    frames = re.findall(r"#\d+ 0x[0-9a-f]+ in (\S+ src/\S+)", p.err[i:])
                    reports.append("`%s`: %s (%s)" % (" ".join(argv[:2]), p.err[i:].split("\n")[0],
                                                      " <- ".join(frames[:3])))
                    break
        eq(reports, [], "sanitizer reports")
