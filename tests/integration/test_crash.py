"""Durability: kill -9 under load loses no acknowledged message; a spool that
cannot be written gives 4xx, never 250."""
import collections
import os
import re
import socket
import threading
import time

from harness import IS_ROOT, Raw, note, Server, check, eq, header, queued_id, split_message, test

CLIENTS = 50
LOAD_SECONDS = 2.0


def load_client(port, idx, stop, acked, lock, stats):
    n = 0
    while not stop.is_set():
        try:
            c = Raw(port, timeout=10)
        except OSError:
            return
        try:
            if c.banner[0] != 220 or c.code("EHLO load%d.example" % idx) != 250:
                with lock:
                    stats["refused"] += 1
                time.sleep(0.05)
                continue
            while not stop.is_set():
                tok = "crash-%02d-%05d" % (idx, n)
                n += 1
                # pipelined envelope, then the body: two round trips per message
                c.send("MAIL FROM:<load@example.org>\r\nRCPT TO:<user1@lala.local>\r\nDATA\r\n")
                codes = [c.reply()[0] for _ in range(3)]
                if None in codes:
                    return      # the daemon was killed
                if codes != [250, 250, 354]:
                    with lock:
                        stats["bad-envelope %s" % codes] += 1
                    c.cmd("RSET")
                    continue
                c.send("Subject: %s\r\nX-Token: %s\r\n\r\n%s\r\n.\r\n" % (tok, tok, tok))
                code, lines = c.reply()
                if code == 250:
                    with lock:
                        acked[tok] = queued_id(lines[0])
                elif code is None:
                    return
                else:
                    with lock:
                        stats["final-%s" % code] += 1
        except (OSError, socket.timeout):
            return
        finally:
            c.close()


@test("crash: kill -9 during 50 concurrent senders, restart: every 250'd message is delivered")
def t_crash_durability():
    with Server({"max_connections_per_ip": "500", "max_connections": "1000",
                 "delivery_threads": "4"}) as s:
        acked, lock, stop = {}, threading.Lock(), threading.Event()
        stats = collections.Counter()
        threads = [threading.Thread(target=load_client,
                                    args=(s.port, i, stop, acked, lock, stats), daemon=True)
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(LOAD_SECONDS)
        pids = s.pids()
        check(len(pids) >= (2 if IS_ROOT else 1), "daemon processes before the kill: %s" % pids)
        s.kill9()
        stop.set()
        for t in threads:
            t.join(15)
        with lock:
            got = dict(acked)
        check(len(got) >= 20, "only %d messages acknowledged in %.0fs (stats %s)" %
              (len(got), LOAD_SECONDS, dict(stats)))
        check(not stats, "refusals under load: %s" % dict(stats))
        s.start()
        s.wait_queue_empty(90)
        seen = collections.Counter()
        for m in s.messages("user1"):
            hdrs, _ = split_message(m)
            for v in header(hdrs, "X-Token"):
                seen[v] += 1
        missing = sorted(set(got) - set(seen))
        note("crash: %d acknowledged, %d distinct delivered, %d duplicates, %d missing" %
             (len(got), len(seen), sum(seen.values()) - len(seen), len(missing)))
        check(not missing, "%d of %d acknowledged messages lost after kill -9 + restart, e.g. %s" %
              (len(missing), len(got), ", ".join("%s (%s)" % (t, got[t]) for t in missing[:5])))
        # no stray files in the spool after recovery
        eq(s.incoming(), [], "spool/incoming after recovery")


@test("crash: unwritable spool/incoming -> 4xx at DATA, never 250; works again after")
def t_spool_incoming_unwritable():
    # As root the network-facing worker runs as nobody, so file permissions
    # apply to it as well: the same trick works for root and non-root runs.
    with Server() as s:
        inc = os.path.join(s.spool, "incoming")
        os.chmod(inc, 0)
        try:
            with Raw(s.port) as c:
                c.cmd("EHLO c.example")
                c.cmd("MAIL FROM:<a@example.org>")
                c.cmd("RCPT TO:<user1@lala.local>")
                code, lines = c.cmd("DATA")
                if code == 354:
                    c.send("Subject: nospool\r\n\r\nx\r\n.\r\n")
                    code, lines = c.reply()
                check(code is not None and 400 <= code < 500,
                      "reply with an unwritable spool: %r (must be 4xx, never 250)" % lines)
                c.cmd("QUIT")
        finally:
            os.chmod(inc, 0o700)
        code, text = s.send("user1@lala.local", "after\r\n", subject="after")
        eq(code, 250, "message after the spool is writable again (%s)" % text)
        s.wait_delivered(queued_id(text))
        msgs = s.messages("user1")
        eq(len(msgs), 1, "messages delivered")
        eq(header(split_message(msgs[0])[0], "Subject"), ["after"], "subject")


@test("crash: unwritable spool/queue -> 451 after the dot, nothing queued or delivered")
def t_spool_queue_unwritable():
    with Server() as s:
        qd = os.path.join(s.spool, "queue")
        os.chmod(qd, 0o500)
        try:
            with Raw(s.port) as c:
                c.cmd("EHLO c.example")
                c.cmd("MAIL FROM:<a@example.org>")
                c.cmd("RCPT TO:<user1@lala.local>")
                eq(c.code("DATA"), 354, "DATA")
                c.send("Subject: noqueue\r\n\r\nx\r\n.\r\n")
                code, lines = c.reply()
                eq(code, 451, "reply when the commit cannot rename into queue/ (%r)" % lines)
                c.cmd("QUIT")
        finally:
            os.chmod(qd, 0o700)
        time.sleep(0.5)
        eq(s.queue_ids(), [], "queue")
        eq(s.incoming(), [], "spool/incoming leftovers")
        eq(s.messages("user1"), [], "mailbox")
        check(re.search(r"queue commit failed", s.log()), "no 'queue commit failed' log line")
