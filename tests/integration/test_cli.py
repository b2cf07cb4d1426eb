"""Admin CLI: mailq, estafeta queue list/show/flush/delete, estafeta check."""
import os
import re

from harness import Server, check, eq, queued_id, short, test, wait_for


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
            p = s.cli("check", "-c", s.conf)
            eq(p.returncode, 1, "check exit status for %r" % bad)
            check("%s:4:" % s.conf in p.err and why in p.err,
                  "check error for %r lacks file:4: / %r: %r" % (bad, why, p.err))
            p = s.cli("serve", "-c", s.conf, timeout=10)
            eq(p.returncode, 1, "serve exit status for %r" % bad)
        # a broken aliases file is reported with its own file:line
        with open(s.conf, "w") as f:
            f.write("\n".join(lines) + "\naliases %s\n" % s.aliases_file)
        with open(s.aliases_file, "w") as f:
            f.write("ok: user1\nbad: \"unterminated\n")
        p = s.cli("check", "-c", s.conf)
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
