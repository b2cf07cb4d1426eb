"""SMTP AUTH (RFC 4954), the submission listeners (RFC 6409, RFC 8314), the
SASL mechanisms PLAIN, LOGIN and SCRAM-SHA-256 (RFC 5802/7677), relay for
authenticated clients, and the Dovecot auth protocol on auth_listen sockets."""
import base64
import hashlib
import hmac
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import warnings

from harness import (Failure, Raw, Server, check, eq, free_port, header, queued_id,
                     split_message, test, wait_for)

EXT = "127.0.0.2"   # a client outside `networks 127.0.0.1/32`
PASS = "pass"       # the harness's users file: every user has {PLAIN}pass

MAIL_TLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_FAILED = "535 5.7.8 Error: authentication failed"
ENC_REQUIRED = "538 5.7.11 Encryption required for requested authentication mechanism"


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user, password=PASS, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def crypt_hash(password, prefix="$y$j9T$"):
    """A crypt(3) hash made by Python; yescrypt when libxcrypt has it, else
    SHA512-CRYPT. Returns (scheme, hash)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        if prefix.startswith("$y$"):
            salt = prefix + crypt.mksalt(crypt.METHOD_SHA512)[3:].replace(".", "A")[:16]
            h = crypt.crypt(password, salt)
            if h and h.startswith("$y$"):
                return "CRYPT", h
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
        return "SHA512-CRYPT", h
    except ImportError:
        p = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True, text=True)
        return "SHA512-CRYPT", p.stdout.strip()


# ---- SCRAM-SHA-256 (RFC 5802, RFC 7677), client and stored secret ----

def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def scram_keys(password, salt, iters):
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    client_key = _hmac(salted, b"Client Key")
    return client_key, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key")


def scram_secret(password, salt=b"estafeta-salt-16", iters=4096):
    _, stored, server = scram_keys(password, salt, iters)
    return "{SCRAM-SHA-256}%d,%s,%s,%s" % (iters, b64(salt), b64(stored), b64(server))


def scram_login(c, user, password, ir=True):
    """SCRAM-SHA-256 over a Raw session. Returns (final (code, lines),
    server signature verified?)."""
    cnonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), cnonce)
    first = "n,," + first_bare
    if ir:
        code, lines = c.cmd("AUTH SCRAM-SHA-256 " + b64(first))
    else:
        code, lines = c.cmd("AUTH SCRAM-SHA-256")
        eq((code, lines), (334, ["334 "]), "AUTH SCRAM-SHA-256 without initial response")
        code, lines = c.cmd(b64(first))
    if code != 334:
        return (code, lines), False
    server_first = base64.b64decode(lines[0][4:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    check(attrs.get("r", "").startswith(cnonce) and len(attrs["r"]) > len(cnonce),
          "server nonce does not extend the client nonce: %r" % server_first)
    salt, iters = base64.b64decode(attrs["s"]), int(attrs["i"])
    client_key, stored_key, server_key = scram_keys(password, salt, iters)
    final_wo_proof = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join((first_bare, server_first, final_wo_proof)).encode()
    sig = _hmac(stored_key, auth_msg)
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    code, lines = c.cmd(b64(final_wo_proof + ",p=" + b64(proof)))
    if code != 334:
        return (code, lines), False
    server_final = base64.b64decode(lines[0][4:]).decode()
    expect = "v=" + b64(_hmac(server_key, auth_msg))
    verified = server_final == expect
    check(verified, "server signature: got %r, expected %r" % (server_final, expect))
    return c.cmd(""), verified


# ---- labs and clients ----

class Lab(Server):
    """A Server with a submission (587-like) listener and optionally a
    submissions (465-like) listener and an auth_listen socket. Failure delays
    are off and {PLAIN} passwords allowed unless settings say otherwise."""

    def __init__(self, settings=None, submission=True, submissions=False, users_text=None,
                 auth_listen=False, **kw):
        st = {"auth_failure_delay": "0", "auth_allow_plain_passwords": "yes"}
        st.update(settings or {})
        Server.__init__(self, settings=st, start=False, **kw)
        self.sub = self.subs = None
        self.auth_sock = None
        if auth_listen:
            self.auth_sock = os.path.join(self.base, "auth-client")
            self.settings.append(("auth_listen", "%s mode=0660" % self.auth_sock))
        if users_text is not None:
            with open(self.users_file, "w") as f:
                f.write(users_text)
            os.chmod(self.users_file, 0o644)
        for attempt in range(3):
            # free_port() races with other programs binding ports: on "in use"
            # the lab is tried again with new ports.
            self.settings = [kv for kv in self.settings if kv[0] != "listen"]
            if attempt > 0:
                self.port = free_port()
            self.settings.append(("listen", "smtp 127.0.0.1:%d" % self.port))
            if submission:
                self.sub = free_port()
                self.settings.append(("listen", "submission 127.0.0.1:%d" % self.sub))
            if submissions:
                self.subs = free_port()
                self.settings.append(("listen", "submissions 127.0.0.1:%d" % self.subs))
            self.write_conf()
            try:
                self.start()
                self.wait_log(r"auth service started", 10)
                return
            except Failure:
                in_use = "in use" in self.log_since_start()
                self.stop()
                if not in_use or attempt == 2:
                    self.cleanup()
                    raise
            except BaseException:
                self.stop()
                self.cleanup()
                raise


def starttls(c, ehlo=True):
    """STARTTLS on a Raw client, then (by default) EHLO again; returns the EHLO lines."""
    eq(c.cmd("STARTTLS")[0], 220, "STARTTLS")
    check(c.buf == b"", "bytes after the 220 to STARTTLS: %r" % c.buf)
    c.sock = client_ctx().wrap_socket(c.sock, server_hostname="test.example")
    if ehlo:
        code, lines = c.cmd("EHLO client.example")
        eq(code, 250, "EHLO inside TLS")
        return lines
    return None


def raw_tls(port, src=None):
    """A Raw client on an implicit-TLS port: the banner comes after the handshake."""
    c = Raw(port, src=src, banner=False)
    c.sock = client_ctx().wrap_socket(c.sock, server_hostname="test.example")
    c.banner = c.reply()
    return c


def sub_session(s, src=None):
    """Raw client on the submission port, after EHLO, STARTTLS, EHLO."""
    c = Raw(s.sub, src=src)
    eq(c.code("EHLO client.example"), 250, "EHLO")
    starttls(c)
    return c


def auth_mechs(lines):
    for l in lines:
        m = re.match(r"250[- ]AUTH (.*)$", l)
        if m:
            return m.group(1).split()
    return None


def smtplib_sub(s, src=None):
    c = smtplib.SMTP("127.0.0.1", s.sub, timeout=15,
                     source_address=(src, 0) if src else None)
    c.ehlo("client.example")
    eq(c.starttls(context=client_ctx())[0], 220, "STARTTLS")
    c.ehlo("client.example")
    return c


def timed(c, line):
    t0 = time.monotonic()
    r = c.cmd(line)
    return r, time.monotonic() - t0


def received_of(msg):
    return " ".join(header(split_message(msg)[0], "Received"))


def deliver_and_get(s, user, qid):
    s.wait_delivered(qid)
    msgs = s.messages(user)
    check(msgs, "nothing in %s's mailbox" % user)
    return msgs[-1]


# ---- submission with real clients ----

def smtplib_login_case(mech, initial_response):
    def run():
        with Lab() as s:
            c = smtplib.SMTP("127.0.0.1", s.sub, timeout=15)
            code, caps = c.ehlo("client.example")
            check(b"STARTTLS" in caps, "EHLO on submission does not offer STARTTLS: %r" % caps)
            check(not c.has_extn("auth"), "AUTH offered before STARTTLS on submission: %r" % caps)
            eq(c.starttls(context=client_ctx())[0], 220, "STARTTLS")
            c.ehlo("client.example")
            mechs = c.esmtp_features.get("auth", "").split()
            check(mech in mechs, "%s not offered after STARTTLS: %r" % (mech, mechs))
            c.user, c.password = "user1", PASS
            obj = c.auth_plain if mech == "PLAIN" else c.auth_login
            code, text = c.auth(mech, obj, initial_response_ok=initial_response)
            eq(code, 235, "AUTH %s (%s)" % (mech, text))
            # one message to a local user, one to a remote domain (relayed)
            r1 = c.sendmail("user1@lala.local", ["user2@lala.local"],
                            "Subject: local\r\n\r\nto a local user\r\n")
            eq(r1, {}, "refused recipients (local)")
            c.mail("user1@lala.local")
            code, text = c.rcpt("someone@ext.example")
            eq(code, 250, "RCPT to a remote domain after AUTH (%r)" % text)
            code, text = c.data(b"Subject: relayed\r\n\r\nto a remote domain\r\n")
            eq(code, 250, "DATA of the relayed message (%r)" % text)
            rqid = queued_id(text.decode())
            c.quit()
            check(rqid, "no queue id in %r" % text)
            s.wait_log(r"sasl_method=%s sasl_username=user1$" % mech, 5)
            s.wait_log(r"%s: to=<someone@ext\.example> .*status=deferred" % rqid, 15)
            check(rqid in s.queue_ids(), "the relayed message is not in the queue: %s" %
                  s.queue_ids())
            m = wait_for(lambda: s.messages("user2"), 15, what="delivery to user2")[0]
            rec = received_of(m)
            check("with ESMTPSA" in rec, "Received: does not say ESMTPSA: %r" % rec)
            check("[127.0.0.1]" in rec, "Received: without the client address: %r" % rec)
    return run


test("auth: submission STARTTLS + AUTH PLAIN (smtplib, SASL-IR): local delivery and a "
     "relayed message stays queued")(smtplib_login_case("PLAIN", True))
test("auth: submission STARTTLS + AUTH LOGIN (smtplib, two 334 steps): local delivery and a "
     "relayed message stays queued")(smtplib_login_case("LOGIN", False))
test("auth: submission STARTTLS + AUTH LOGIN with the user name as initial response")(
    smtplib_login_case("LOGIN", True))


@test("auth: submissions (implicit TLS) with smtplib.SMTP_SSL: banner after the handshake, "
      "AUTH, delivery with ESMTPSA")
def t_smtps_smtplib():
    with Lab(submissions=True) as s:
        with raw_tls(s.subs) as c:
            code, lines = c.banner
            eq(code, 220, "banner after the TLS handshake (%r)" % lines)
            check(c.sock.version() in ("TLSv1.2", "TLSv1.3"), "TLS version %r" % c.sock.version())
            code, lines = c.cmd("EHLO client.example")
            check("250-STARTTLS" not in lines, "STARTTLS offered on implicit TLS: %r" % lines)
            check({"PLAIN", "LOGIN"} <= set(auth_mechs(lines) or []),
                  "PLAIN/LOGIN not offered on implicit TLS: %r" % lines)
            c.cmd("QUIT")
        c = smtplib.SMTP_SSL("127.0.0.1", s.subs, timeout=15, context=client_ctx())
        c.ehlo("client.example")
        code, text = c.login("user2", PASS)
        eq(code, 235, "login (%r)" % text)
        eq(c.sendmail("user2@lala.local", ["user1@lala.local"],
                      "Subject: smtps\r\n\r\nover 465\r\n"), {}, "refused recipients")
        c.quit()
        m = wait_for(lambda: s.messages("user1"), 15, what="delivery to user1")[0]
        check("with ESMTPSA" in received_of(m), "Received: %r" % received_of(m))
        s.wait_log(r"sasl_username=user2$", 5)


def swaks(*args, timeout=30):
    p = subprocess.run(["swaks", "--server", "127.0.0.1", "--helo", "client.example"] +
                       list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


@test("auth: swaks --tls --auth PLAIN/LOGIN on submission and --tlsc on submissions")
def t_swaks():
    with Lab(submissions=True) as s:
        for i, (extra, mech) in enumerate(((["--port", str(s.sub), "--tls"], "PLAIN"),
                                           (["--port", str(s.sub), "--tls"], "LOGIN"),
                                           (["--port", str(s.subs), "--tlsc"], "PLAIN"),
                                           (["--port", str(s.subs), "--tlsc"], "LOGIN"))):
            rc, out = swaks(*(extra + ["--auth", mech, "--auth-user", "user1",
                                       "--auth-password", PASS, "--from", "user1@lala.local",
                                       "--to", "user2@lala.local",
                                       "--header", "Subject: swaks %d" % i]))
            check(rc == 0 and "<~  235 2.7.0 Authentication successful" in out,
                  "swaks %s %s (exit %d): %s" % (extra[-1], mech, rc, out[-700:]))
        wait_for(lambda: len(s.messages("user2")) == 4, 15, what="4 messages for user2")
        # without credentials swaks fails at MAIL
        rc, out = swaks("--port", str(s.subs), "--tlsc", "--from", "user1@lala.local",
                        "--to", "user2@lala.local")
        check(rc != 0 and AUTH_REQUIRED in out, "swaks without AUTH on 465 (exit %d): %s" %
              (rc, out[-500:]))


def s_client(port, starttls, commands):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-crlf", "-quiet",
            "-ign_eof"]
    if starttls:
        argv += ["-starttls", "smtp"]
    p = subprocess.run(argv, input="".join(l + "\n" for l in commands),
                       capture_output=True, text=True, timeout=30)
    return p.stdout


@test("auth: openssl s_client -starttls smtp (587) and implicit TLS (465) with AUTH PLAIN")
def t_openssl_auth():
    with Lab(submissions=True) as s:
        out = s_client(s.sub, True, ["EHLO client.example", "AUTH PLAIN " + plain("user1"),
                                     "MAIL FROM:<user1@lala.local>", "QUIT"])
        check(AUTH_OK in out, "s_client -starttls smtp: no 235: %r" % out[-600:])
        check("250 2.1.0" in out, "MAIL after AUTH: %r" % out[-600:])
        out = s_client(s.subs, False, ["EHLO client.example", "AUTH PLAIN " + plain("user2"),
                                       "MAIL FROM:<user2@lala.local>", "QUIT"])
        check(out.startswith("220 "), "no banner on 465 after the handshake: %r" % out[:200])
        check(AUTH_OK in out and "250 2.1.0" in out, "s_client on 465: %r" % out[-600:])
        s.wait_log(r"sasl_method=PLAIN sasl_username=user2$", 5)


# ---- what submission refuses ----

@test("auth: submission refuses MAIL and AUTH before STARTTLS with 530 5.7.0")
def t_sub_needs_tls():
    with Lab() as s, Raw(s.sub, src=EXT) as c:
        code, lines = c.cmd("EHLO client.example")
        eq(code, 250, "EHLO")
        check("250-STARTTLS" in lines, "no STARTTLS in %r" % lines)
        eq(auth_mechs(lines), None, "AUTH in EHLO before STARTTLS on submission")
        eq(c.cmd("MAIL FROM:<user1@lala.local>"), (530, [MAIL_TLS_FIRST]), "MAIL before STARTTLS")
        eq(c.cmd("AUTH PLAIN " + plain("user1")), (530, [MAIL_TLS_FIRST]),
           "AUTH PLAIN (right password) before STARTTLS")
        eq(c.cmd("AUTH LOGIN"), (530, [MAIL_TLS_FIRST]), "AUTH LOGIN before STARTTLS")
        eq(c.code("RCPT TO:<user2@lala.local>"), 503, "RCPT without MAIL")
        lines = starttls(c)
        check({"PLAIN", "LOGIN"} <= set(auth_mechs(lines) or []), "after STARTTLS: %r" % lines)
        c.cmd("QUIT")
        eq(s.queue_ids(), [], "queue")
        check("sasl_username" not in s.log(), "someone logged in")


@test("auth: MAIL without AUTH on submission (after STARTTLS) and submissions -> 530 "
      "Authentication required")
def t_sub_needs_auth():
    with Lab(submissions=True) as s:
        # 127.0.0.1 is in networks: being trusted must not replace AUTH on submission
        for src in (None, EXT):
            with sub_session(s, src=src) as c:
                eq(c.cmd("MAIL FROM:<user1@lala.local>"), (530, [AUTH_REQUIRED]),
                   "MAIL after STARTTLS without AUTH from %s" % (src or "127.0.0.1"))
                eq(c.code("RCPT TO:<user2@lala.local>"), 503, "RCPT without MAIL")
                eq(c.code("DATA"), 503, "DATA")
                c.cmd("QUIT")
            with raw_tls(s.subs, src=src) as c:
                eq(c.banner[0], 220, "banner")
                eq(c.code("EHLO client.example"), 250, "EHLO")
                eq(c.cmd("MAIL FROM:<user1@lala.local>"), (530, [AUTH_REQUIRED]),
                   "MAIL on submissions without AUTH")
                c.cmd("QUIT")
        # port 25 still takes mail for local users without AUTH
        with Raw(s.port, src=EXT) as c:
            c.cmd("EHLO client.example")
            eq(c.code("MAIL FROM:<a@example.org>"), 250, "MAIL on the smtp listener")
            c.cmd("QUIT")
        eq(s.queue_ids(), [], "queue")


@test("auth: STARTTLS injection on submission: a pipelined AUTH is not answered inside TLS")
def t_sub_starttls_injection():
    with Lab() as s, Raw(s.sub) as c:
        c.cmd("EHLO client.example")
        c.send("STARTTLS\r\nAUTH PLAIN %s\r\n" % plain("user1"))
        code, lines = c.reply()
        eq(code, 220, "STARTTLS (%r)" % lines)
        c.sock = client_ctx().wrap_socket(c.sock, server_hostname="test.example")
        check(c.buf == b"", "clear-text reply after 220: %r" % c.buf)
        code, lines = c.cmd("EHLO client.example")
        eq(code, 250, "first reply inside TLS must answer our EHLO, got %r" % lines)
        check({"PLAIN", "LOGIN"} <= set(auth_mechs(lines) or []),
              "AUTH gone from EHLO (injected AUTH took effect?): %r" % lines)
        eq(c.cmd("MAIL FROM:<user1@lala.local>"), (530, [AUTH_REQUIRED]),
           "MAIL: the injected AUTH must not have logged us in")
        c.cmd("QUIT")
        check("sasl_username" not in s.log(), "the injected AUTH logged in: %s" % s.log_tail())


# ---- failures, delays, limits ----

def hashed_users():
    scheme, h = crypt_hash(PASS)
    return "".join("%s:{%s}%s::::::\n" % (u, scheme, h) for u in ("user1", "user2"))


@test("auth: wrong password and unknown user: same 535, same delay (auth_failure_delay 1s), "
      "one log line each with user and rip")
def t_fail_same():
    with Lab({"auth_failure_delay": "1s", "auth_allow_plain_passwords": "no"},
             users_text=hashed_users()) as s:
        # a correct login first, so that the hash really is usable
        with sub_session(s, src="127.0.0.5") as c:
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "right password")
        results = {}
        for what, src, user, pw in (("wrong password", "127.0.0.2", "user1", "nope"),
                                    ("unknown user", "127.0.0.3", "nosuchuser", "nope")):
            with sub_session(s, src=src) as c:
                r, dt = timed(c, "AUTH PLAIN " + plain(user, pw))
                results[what] = (r, dt)
                c.cmd("QUIT")
        (r1, d1), (r2, d2) = results["wrong password"], results["unknown user"]
        eq(r1, (535, [AUTH_FAILED]), "reply to a wrong password")
        eq(r2, r1, "reply to an unknown user (must not differ from a wrong password)")
        check(d1 >= 0.9 and d2 >= 0.9, "failure answered too early: wrong password %.2fs, "
              "unknown user %.2fs" % (d1, d2))
        check(abs(d1 - d2) < 0.4, "delays differ: wrong password %.2fs, unknown user %.2fs" %
              (d1, d2))
        s.wait_log(r'auth failed: service=smtp mech=PLAIN user=<user1> rip=127\.0\.0\.2 '
                   r'reason="password mismatch"', 5)
        s.wait_log(r'auth failed: service=smtp mech=PLAIN user=<nosuchuser> rip=127\.0\.0\.3 '
                   r'reason="unknown user"', 5)
        eq(len(re.findall(r"auth failed: ", s.log())), 2, "auth failure log lines")


@test("auth: the failure delay grows for repeated failures from the same address only")
def t_fail_delay_grows():
    with Lab({"auth_failure_delay": "1s"}) as s:
        with sub_session(s, src="127.0.0.6") as c:
            r, d1 = timed(c, "AUTH PLAIN " + plain("user1", "bad1"))
            eq(r, (535, [AUTH_FAILED]), "first failure")
            r, d2 = timed(c, "AUTH PLAIN " + plain("user1", "bad2"))
            eq(r, (535, [AUTH_FAILED]), "second failure")
            c.cmd("QUIT")
        with sub_session(s, src="127.0.0.7") as c:
            r, d3 = timed(c, "AUTH PLAIN " + plain("user1", "bad3"))
            eq(r, (535, [AUTH_FAILED]), "failure from another address")
            c.cmd("QUIT")
        check(d1 >= 0.9, "first failure after %.2fs (auth_failure_delay 1s)" % d1)
        check(d2 >= 1.8 and d2 > d1 + 0.6, "second failure from the same address after %.2fs, "
              "first after %.2fs: the delay did not grow" % (d2, d1))
        check(0.9 <= d3 < 1.7, "first failure from another address after %.2fs" % d3)


@test("auth: auth_max_failures (3): the third 535 is followed by 421 4.7.0 and a close")
def t_max_failures():
    with Lab() as s, sub_session(s) as c:
        for i in range(2):
            eq(c.cmd("AUTH PLAIN " + plain("user1", "wrong%d" % i)), (535, [AUTH_FAILED]),
               "failure %d" % (i + 1))
        # a LOGIN failure counts as well
        eq(c.cmd("AUTH LOGIN " + b64("user1"))[0], 334, "AUTH LOGIN")
        c.send(b64("wrong2") + "\r\n")
        replies = c.all_replies(10)
        eq([r[0] for r in replies], [535, 421], "replies after the third failure")
        check("too many failed authentications" in replies[1][1][0] and
              "4.7.0" in replies[1][1][0], "421 text: %r" % replies[1][1])
        check(c.eof, "connection not closed after 421")


@test("auth: auth_max_failures 1 closes after the first failure; a new session may log in")
def t_max_failures_one():
    with Lab({"auth_max_failures": "1"}) as s:
        with sub_session(s) as c:
            c.send("AUTH PLAIN %s\r\n" % plain("user1", "nope"))
            eq([r[0] for r in c.all_replies(10)], [535, 421], "replies")
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "new session, right "
               "password")
            c.cmd("QUIT")


# ---- protocol details ----

@test("auth: SASL-IR and no initial response (334 then response), '=' for empty, LOGIN steps")
def t_sasl_ir():
    with Lab() as s:
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN"), (334, ["334 "]), "AUTH PLAIN without initial response")
            eq(c.cmd(plain("user1")), (235, [AUTH_OK]), "response after 334")
            c.cmd("QUIT")
        with sub_session(s) as c:
            eq(c.cmd("auth plain " + plain("user1")), (235, [AUTH_OK]),
               "lower-case mechanism with initial response")
            c.cmd("QUIT")
        with sub_session(s) as c:
            eq(c.cmd("AUTH LOGIN"), (334, ["334 VXNlcm5hbWU6"]), "AUTH LOGIN -> Username:")
            eq(c.cmd(b64("user2")), (334, ["334 UGFzc3dvcmQ6"]), "user name -> Password:")
            eq(c.cmd(b64(PASS)), (235, [AUTH_OK]), "password")
            c.cmd("QUIT")
        with sub_session(s) as c:
            eq(c.cmd("AUTH LOGIN ="), (334, ["334 VXNlcm5hbWU6"]),
               "AUTH LOGIN with an empty initial response ('=')")
            eq(c.cmd(b64("user2")), (334, ["334 UGFzc3dvcmQ6"]), "user name")
            eq(c.cmd(b64(PASS)), (235, [AUTH_OK]), "password")
            c.cmd("QUIT")
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN ="), (535, [AUTH_FAILED]), "PLAIN with an empty response")
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "then a good one")
            c.cmd("QUIT")
        eq(len(re.findall(r"sasl_username=user[12]$", s.log(), re.M)), 5, "logins logged")


@test("auth: '*' aborts with 501 5.7.0 (PLAIN and LOGIN); the session can authenticate after")
def t_abort():
    with Lab() as s, sub_session(s) as c:
        eq(c.cmd("AUTH PLAIN"), (334, ["334 "]), "AUTH PLAIN")
        eq(c.cmd("*"), (501, ["501 5.7.0 Authentication aborted"]), "'*'")
        eq(c.cmd("AUTH LOGIN"), (334, ["334 VXNlcm5hbWU6"]), "AUTH LOGIN")
        eq(c.cmd(b64("user1"))[0], 334, "user name")
        eq(c.cmd("*"), (501, ["501 5.7.0 Authentication aborted"]), "'*' at the password")
        eq(c.cmd("MAIL FROM:<user1@lala.local>"), (530, [AUTH_REQUIRED]), "MAIL after aborts")
        eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH after the aborts")
        eq(c.code("MAIL FROM:<user1@lala.local>"), 250, "MAIL after AUTH")
        c.cmd("QUIT")


@test("auth: AUTH twice -> 503; AUTH before EHLO (after STARTTLS) -> 503; unknown "
      "mechanism -> 504; syntax -> 501")
def t_auth_sequence():
    with Lab() as s:
        with Raw(s.sub) as c:
            c.cmd("EHLO client.example")
            starttls(c, ehlo=False)
            code, lines = c.cmd("AUTH PLAIN " + plain("user1"))
            eq(code, 503, "AUTH right after STARTTLS without a new EHLO (%r)" % lines)
            check("5.5.1" in lines[0], "no 5.5.1: %r" % lines)
            eq(c.code("EHLO client.example"), 250, "EHLO")
            eq(c.cmd("AUTH CRAM-MD5"), (504, ["504 5.5.4 Unrecognized authentication type"]),
               "unknown mechanism")
            eq(c.code("AUTH"), 501, "AUTH without a mechanism")
            eq(c.code("AUTH PLAIN a b"), 501, "AUTH with two arguments")
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH")
            code, lines = c.cmd("AUTH PLAIN " + plain("user2"))
            eq(code, 503, "second AUTH (%r)" % lines)
            check("5.5.1" in lines[0], "no 5.5.1 in %r" % lines)
            code, lines = c.cmd("EHLO client.example")
            eq(auth_mechs(lines), None, "AUTH still in EHLO after authenticating")
            eq(c.code("AUTH LOGIN"), 503, "AUTH after a new EHLO")
            c.cmd("QUIT")
        eq(len(re.findall(r"sasl_username=", s.log())), 1, "logins logged")
        check("sasl_username=user2" not in s.log(), "the second AUTH switched the user")


@test("auth: PLAIN with an authzid different from the authcid -> 535; the same one -> 235")
def t_authzid():
    with Lab() as s:
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN " + plain("user1", authzid="user2")), (535, [AUTH_FAILED]),
               "authzid user2, authcid user1, user1's password")
            eq(c.cmd("MAIL FROM:<user2@lala.local>"), (530, [AUTH_REQUIRED]), "MAIL")
            c.cmd("QUIT")
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN " + plain("user1", authzid="user1")), (235, [AUTH_OK]),
               "authzid equal to the authcid")
            c.cmd("QUIT")
        s.wait_log(r'auth failed: service=smtp mech=PLAIN user=<user1> rip=127\.0\.0\.1 '
                   r'reason="authorization identity differs"', 5)
        check("sasl_username=user2" not in s.log(), "logged in as user2: %s" % s.log_tail())


@test("auth: invalid base64 -> 501 5.5.2 (initial response and response to 334)")
def t_bad_base64():
    with Lab() as s, sub_session(s) as c:
        for bad in ("!!!!", "dXNlcjE", "dX=Nl", "dXNl:jE="):
            eq(c.cmd("AUTH PLAIN " + bad), (501, ["501 5.5.2 Cannot decode response"]),
               "initial response %r" % bad)
        eq(c.cmd("AUTH PLAIN"), (334, ["334 "]), "AUTH PLAIN")
        code, lines = c.cmd("!!not base64!!")
        eq(code, 501, "a response to 334 that is not base64 (RFC 4954 4: 501 5.5.2), got %r" %
           lines)
        check("5.5.2" in lines[0], "no 5.5.2: %r" % lines)
        eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH afterwards")
        c.cmd("QUIT")


# ---- SCRAM-SHA-256 ----

SCRAM_USERS = ("scram1:%s::::::\nuser1:{PLAIN}pass::::::\n" % scram_secret("s3cret pw"))
# Left at its default, SCRAM-SHA-256 is offered only with SQLite user databases.
SCRAM_ON = {"auth_mechanisms": "plain login scram-sha-256", "auth_failure_delay": "0",
            "auth_allow_plain_passwords": "yes"}


@test("auth: SCRAM-SHA-256 with a Python client: server signature checked, 235 after the "
      "empty response")
def t_scram():
    with Lab(users_text=SCRAM_USERS, settings=SCRAM_ON) as s:
        with sub_session(s, src=EXT) as c:
            lines = c.cmd("EHLO client.example")[1]
            check("SCRAM-SHA-256" in (auth_mechs(lines) or []), "SCRAM not offered: %r" % lines)
            (code, lines), ok = scram_login(c, "scram1", "s3cret pw")
            eq((code, lines), (235, [AUTH_OK]), "after the empty response")
            check(ok, "server signature not verified")
            eq(c.code("MAIL FROM:<scram1@lala.local>"), 250, "MAIL after SCRAM")
            c.cmd("QUIT")
        with sub_session(s) as c:
            (code, lines), ok = scram_login(c, "scram1", "s3cret pw", ir=False)
            eq((code, lines), (235, [AUTH_OK]), "SCRAM without an initial response")
            c.cmd("QUIT")
        s.wait_log(r"sasl_method=SCRAM-SHA-256 sasl_username=scram1$", 5)
        # the SCRAM secret also verifies a PLAIN password
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN " + plain("scram1", "s3cret pw")), (235, [AUTH_OK]),
               "PLAIN against a SCRAM secret")
            c.cmd("QUIT")


@test("auth: SCRAM-SHA-256 is not offered by default with passwd-files; configured, a "
      "{PLAIN} user logs in with it")
def t_scram_default():
    with Lab(users_text=SCRAM_USERS) as s:
        with sub_session(s) as c:
            mechs = auth_mechs(c.cmd("EHLO client.example")[1]) or []
            eq(sorted(mechs), ["LOGIN", "PLAIN"], "default mechanisms with a passwd-file")
            c.cmd("QUIT")
    with Lab(users_text=SCRAM_USERS, settings=SCRAM_ON) as s:
        with sub_session(s) as c:
            (code, lines), ok = scram_login(c, "user1", "pass")
            eq((code, lines), (235, [AUTH_OK]), "SCRAM for a {PLAIN} user")
            check(ok, "server signature not verified")
            c.cmd("QUIT")
        with sub_session(s) as c:
            (code, lines), ok = scram_login(c, "user1", "wrong")
            eq(code, 535, "wrong password")
            c.cmd("QUIT")


@test("auth: SCRAM-SHA-256 with a wrong password, an unknown user or a tampered final -> 535")
def t_scram_wrong():
    with Lab(users_text=SCRAM_USERS, settings=SCRAM_ON) as s:
        for user, pw in (("scram1", "wrong pw"), ("nosuchuser", "s3cret pw")):
            with sub_session(s) as c:
                code, lines = c.cmd("AUTH SCRAM-SHA-256 " + b64("n,,n=%s,r=abcdefghijklmnop" %
                                                                 user))
                eq(code, 334, "server-first for %s (an unknown user gets a fake one)" % user)
                sf = base64.b64decode(lines[0][4:]).decode()
                attrs = dict(kv.split("=", 1) for kv in sf.split(","))
                ck, sk, _ = scram_keys(pw, base64.b64decode(attrs["s"]), int(attrs["i"]))
                fwp = "c=biws,r=" + attrs["r"]
                am = ",".join(("n=%s,r=abcdefghijklmnop" % user, sf, fwp)).encode()
                proof = bytes(a ^ b for a, b in zip(ck, _hmac(sk, am)))
                eq(c.cmd(b64(fwp + ",p=" + b64(proof))), (535, [AUTH_FAILED]),
                   "client-final for %s / %s" % (user, pw))
                eq(c.cmd("MAIL FROM:<scram1@lala.local>"), (530, [AUTH_REQUIRED]), "MAIL")
                c.cmd("QUIT")
        s.wait_log(r'auth failed: service=smtp mech=SCRAM-SHA-256 user=<scram1> '
                   r'rip=127\.0\.0\.1 reason="password mismatch"', 5)
        s.wait_log(r'auth failed: service=smtp mech=SCRAM-SHA-256 user=<nosuchuser> ', 5)
        check("sasl_username=" not in s.log(), "somebody logged in")


# ---- relay ----

RELAY_MATRIX = [
    "user%ext.example@lala.local",
    "ext.example!user@lala.local",
    "@lala.local:user@ext.example",
    '"user@ext.example"@lala.local',
    "user@[192.0.2.1]",
    "user@ext.example.",
    "user@ext.example",
    # the same with an existing local user in the local part
    "user1%ext.example@lala.local",
    "ext.example!user1@lala.local",
    '"user1@ext.example"@lala.local',
    "@lala.local,@lala.local:user1@ext.example",
]


@test("auth: relay matrix from 127.0.0.2 without AUTH all refused, nothing queued; after "
      "AUTH over STARTTLS the same client relays")
def t_relay_matrix():
    with Lab() as s:
        got = []
        for addr in RELAY_MATRIX:
            with Raw(s.port, src=EXT) as c:
                c.cmd("EHLO client.example")
                eq(c.code("MAIL FROM:<a@example.org>"), 250, "MAIL")
                code, lines = c.cmd("RCPT TO:<%s>" % addr)
                if code not in (550, 554):
                    got.append("%s -> %r" % (addr, lines))
                    if code == 250:
                        c.cmd("DATA")
                        c.send("Subject: relay test\r\n\r\nx\r\n.\r\n")
                        c.reply()
                c.cmd("QUIT")
        eq(got, [], "relay tricks not refused with 550/554")
        time.sleep(0.3)
        eq(s.queue_ids(), [], "queue after the refused relay attempts")
        # the same address, authenticated over STARTTLS on port 25
        with Raw(s.port, src=EXT) as c:
            lines = c.cmd("EHLO client.example")[1]
            check("PLAIN" not in (auth_mechs(lines) or []), "PLAIN offered in clear: %r" % lines)
            starttls(c)
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH on port 25")
            eq(c.code("MAIL FROM:<user1@lala.local>"), 250, "MAIL")
            code, lines = c.cmd("RCPT TO:<user@ext.example>")
            eq(code, 250, "RCPT to a remote domain after AUTH (%r)" % lines)
            eq(c.code("DATA"), 354, "DATA")
            c.send("Subject: relayed after auth\r\n\r\nx\r\n.\r\n")
            code, lines = c.reply()
            eq(code, 250, "end of data")
            qid = queued_id(lines[0])
            c.cmd("QUIT")
        s.wait_log(r"%s: to=<user@ext\.example> .*status=deferred" % qid, 15)
        eq(s.queue_ids(), [qid], "queue")


@test("auth: a failed AUTH does not open the relay")
def t_relay_failed_auth():
    with Lab() as s, sub_session(s, src=EXT) as c:
        eq(c.cmd("AUTH PLAIN " + plain("user1", "bad")), (535, [AUTH_FAILED]), "wrong password")
        eq(c.cmd("MAIL FROM:<user1@lala.local>"), (530, [AUTH_REQUIRED]), "MAIL")
        c.cmd("QUIT")
    with Lab() as s, Raw(s.port, src=EXT) as c:
        c.cmd("EHLO client.example")
        starttls(c)
        eq(c.cmd("AUTH PLAIN " + plain("user1", "bad")), (535, [AUTH_FAILED]), "wrong password")
        eq(c.code("MAIL FROM:<user1@lala.local>"), 250, "MAIL on port 25")
        eq(c.code("RCPT TO:<user@ext.example>"), 554, "relay after a failed AUTH")
        c.cmd("QUIT")
        eq(s.queue_ids(), [], "queue")


# ---- port 25 settings ----

@test("auth: port 25, disable_plaintext_auth yes: no PLAIN/LOGIN in clear (538), offered "
      "after STARTTLS; plaintext_auth_loopback yes allows them from 127.0.0.1")
def t_port25_plaintext():
    with Lab() as s:
        with Raw(s.port) as c:
            lines = c.cmd("EHLO client.example")[1]
            mechs = auth_mechs(lines) or []
            check("PLAIN" not in mechs and "LOGIN" not in mechs,
                  "PLAIN/LOGIN offered before TLS: %r" % lines)
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (538, [ENC_REQUIRED]), "AUTH PLAIN in clear")
            eq(c.cmd("AUTH LOGIN"), (538, [ENC_REQUIRED]), "AUTH LOGIN in clear")
            lines = starttls(c)
            check({"PLAIN", "LOGIN"} <= set(auth_mechs(lines) or []), "after STARTTLS: %r" %
                  lines)
            eq(c.cmd("AUTH LOGIN " + b64("user1")), (334, ["334 UGFzc3dvcmQ6"]), "AUTH LOGIN")
            eq(c.cmd(b64(PASS)), (235, [AUTH_OK]), "password")
            c.cmd("QUIT")
        check("auth failed" not in s.log(), "a 538 reached the auth service")
    with Lab({"plaintext_auth_loopback": "yes"}) as s:
        with Raw(s.port) as c:
            lines = c.cmd("EHLO client.example")[1]
            check({"PLAIN", "LOGIN"} <= set(auth_mechs(lines) or []),
                  "plaintext_auth_loopback: not offered in clear from 127.0.0.1: %r" % lines)
            eq(c.code("MAIL FROM:<user1@lala.local>"), 250, "MAIL without AUTH on port 25")
            eq(c.cmd("AUTH PLAIN " + plain("user1")),
               (503, ["503 5.5.1 Error: MAIL transaction in progress"]), "AUTH after MAIL")
            eq(c.code("RSET"), 250, "RSET")
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH PLAIN in clear")
            eq(c.code("MAIL FROM:<user1@lala.local>"), 250, "MAIL")
            eq(c.code("RCPT TO:<user2@lala.local>"), 250, "RCPT")
            eq(c.code("DATA"), 354, "DATA")
            c.send("Subject: esmtpa\r\n\r\nx\r\n.\r\n")
            code, lines = c.reply()
            eq(code, 250, "message")
            c.cmd("QUIT")
        m = deliver_and_get(s, "user2", queued_id(lines[0]))
        rec = received_of(m)
        check(re.search(r"with ESMTPA\b", rec), "Received: without ESMTPA: %r" % rec)


@test("auth: smtpd_sasl_auth_enable no: no AUTH on port 25 (502), submission still has it")
def t_sasl_auth_enable_no():
    with Lab({"smtpd_sasl_auth_enable": "no"}) as s:
        with Raw(s.port) as c:
            eq(auth_mechs(c.cmd("EHLO client.example")[1]), None, "AUTH in EHLO (clear)")
            lines = starttls(c)
            eq(auth_mechs(lines), None, "AUTH in EHLO after STARTTLS")
            code, lines = c.cmd("AUTH PLAIN " + plain("user1"))
            eq(code, 502, "AUTH on port 25 (%r)" % lines)
            c.cmd("QUIT")
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH on submission")
            c.cmd("QUIT")
        check("sasl_username=user1" in s.log(), "no login logged")


@test("auth: reject_sender_login_mismatch yes: own address and login+tag ok, others 553 5.7.1")
def t_sender_login_mismatch():
    with Lab({"reject_sender_login_mismatch": "yes"}) as s, sub_session(s) as c:
        eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH")
        for addr, want in (("user1@lala.local", 250), ("User1@LALA.local", 250),
                           ("user1+tag@lala.local", 250), ("user1@localhost.test", 250),
                           ("", 250),
                           ("user2@lala.local", 553), ("user1x@lala.local", 553),
                           ("user1@ext.example", 553), ("user2+user1@lala.local", 553),
                           ("user1@[127.0.0.1]", 553)):
            code, lines = c.cmd("MAIL FROM:<%s>" % addr)
            eq(code, want, "MAIL FROM:<%s> (%r)" % (addr, lines))
            if code == 250:
                eq(c.code("RSET"), 250, "RSET")
            else:
                check(lines[0].startswith("553 5.7.1 <%s>" % addr) and
                      "not owned" in lines[0], "553 text: %r" % lines)
        c.cmd("QUIT")
    # without the setting, any sender goes
    with Lab() as s, sub_session(s) as c:
        eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "AUTH")
        eq(c.code("MAIL FROM:<user2@lala.local>"), 250, "someone else's address, setting off")
        c.cmd("QUIT")


# ---- the Dovecot auth protocol on auth_listen ----

class AuthConn:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.greeting = []
        while True:
            l = self.line()
            check(l is not None, "auth socket closed during the greeting: %r" % self.greeting)
            self.greeting.append(l)
            if l == "DONE":
                break

    def send(self, text):
        self.sock.sendall(text.encode("latin-1"))

    def line(self):
        """One line without its LF; None at EOF."""
        while b"\n" not in self.buf:
            try:
                d = self.sock.recv(4096)
            except ConnectionResetError:
                d = b""
            if not d:
                return None
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return l.decode("latin-1")

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


@test("auth: Dovecot auth protocol on auth_listen: handshake, PLAIN OK/FAIL, LOGIN via CONT, "
      "secured, garbage closes")
def t_dovecot_proto():
    with Lab(auth_listen=True) as s:
        with AuthConn(s.auth_sock) as a:
            g = a.greeting
            check(g[0].startswith("VERSION\t1\t"), "greeting starts with %r" % g[0])
            mechs = [l.split("\t") for l in g if l.startswith("MECH\t")]
            names = [m[1] for m in mechs]
            check("PLAIN" in names and "LOGIN" in names, "MECH lines: %r" % g)
            check(all("plaintext" in m[2:] for m in mechs if m[1] in ("PLAIN", "LOGIN")),
                  "PLAIN/LOGIN not flagged plaintext: %r" % mechs)
            for k in ("SPID", "CUID", "COOKIE"):
                check(any(l.startswith(k + "\t") for l in g), "no %s in %r" % (k, g))
            a.send("VERSION\t1\t0\nCPID\t%d\n" % os.getpid())
            a.send("AUTH\t1\tPLAIN\tservice=smtp\tsecured\trip=192.0.2.9\tresp=%s\n" %
                   plain("user1"))
            eq(a.line(), "OK\t1\tuser=user1", "PLAIN with the right password")
            a.send("AUTH\t2\tPLAIN\tservice=smtp\tsecured\trip=192.0.2.9\tfuture=x\tresp=%s\n"
                   % plain("user1", "wrong"))
            r = a.line()
            check(r is not None and r.startswith("FAIL\t2"), "wrong password: %r" % r)
            a.send("AUTH\t3\tLOGIN\tservice=smtp\tsecured\n")
            eq(a.line(), "CONT\t3\t" + b64("Username:"), "LOGIN, first challenge")
            a.send("CONT\t3\t%s\n" % b64("user2"))
            eq(a.line(), "CONT\t3\t" + b64("Password:"), "LOGIN, second challenge")
            a.send("CONT\t3\t%s\n" % b64(PASS))
            eq(a.line(), "OK\t3\tuser=user2", "LOGIN result")
            # disable_plaintext_auth yes: PLAIN without `secured` is refused
            a.send("AUTH\t4\tPLAIN\tservice=smtp\trip=192.0.2.9\tresp=%s\n" % plain("user1"))
            r = a.line()
            check(r is not None and r.startswith("FAIL\t4"), "PLAIN without secured: %r" % r)
            # unknown commands are ignored, the connection stays
            a.send("SOMETHING\tnew\n")
            # several requests in one write; ids echo back
            a.send("AUTH\t5\tPLAIN\tservice=imap\tsecured\tresp=%s\n"
                   "AUTH\t6\tNOSUCH\tservice=smtp\tsecured\n" % plain("user2"))
            got = sorted(a.line().split("\t")[:2] for _ in range(2))
            eq(got, [["FAIL", "6"], ["OK", "5"]], "two requests in one write")
            # garbage: the connection is dropped
            a.send("AUTH\tnot-a-number\tPLAIN\n")
            eq(a.line(), None, "reply to a malformed AUTH line (expected the connection closed)")
        s.wait_log(r'auth failed: service=smtp mech=PLAIN user=<user1> rip=192\.0\.2\.9 '
                   r'reason="password mismatch"', 5)
        for garbage in ("AUTH\t1\tPLAIN\n",                       # before VERSION
                        "VERSION\t2\t0\n",                        # unsupported major
                        "VERSION\t1\t0\nCPID\tx\n",
                        "VERSION\t1\t0\nAUTH\t1\n",
                        "VERSION\t1\t0\nAUTH\t1\tPLAIN\x00x\n",
                        "VERSION\t1\t0\nCONT\t\n"):
            with AuthConn(s.auth_sock) as a:
                a.send(garbage)
                eq(a.line(), None, "reply to %r (expected a close)" % garbage)
        # the service is still fine, and the SMTP side still authenticates
        with AuthConn(s.auth_sock) as a:
            a.send("VERSION\t1\t0\nAUTH\t7\tPLAIN\tservice=smtp\tsecured\tresp=%s\n" %
                   plain("user1"))
            eq(a.line(), "OK\t7\tuser=user1", "after the garbage")
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN " + plain("user1")), (235, [AUTH_OK]), "SMTP AUTH")
            c.cmd("QUIT")
        st = os.stat(s.auth_sock)
        eq(st.st_mode & 0o777, 0o660, "auth_listen socket mode")


@test("auth: the auth service killed mid-exchange -> 454 4.7.0; it is restarted and AUTH works "
      "again")
def t_authd_restart():
    with Lab() as s:
        m = re.search(r"\[(\d+)\]: auth service started", s.log())
        check(m, "no 'auth service started' line with a pid in the log")
        pid = int(m.group(1))
        check(pid in s.pids(), "auth service pid %d is not in the daemon's process group" % pid)
        with sub_session(s) as c:
            eq(c.cmd("AUTH PLAIN"), (334, ["334 "]), "AUTH PLAIN")
            os.kill(pid, signal.SIGKILL)
            code, lines = c.reply(timeout=10)
            eq((code, lines), (454, ["454 4.7.0 Temporary authentication failure"]),
               "pending exchange when the auth service dies")
            c.sock.settimeout(10)
            eq(c.cmd("MAIL FROM:<user1@lala.local>"), (530, [AUTH_REQUIRED]), "MAIL after 454")
            # Until the new service has greeted, AUTH is a temporary failure
            # (454), never a permanent one such as 504 "Unrecognized".
            deadline = time.monotonic() + 10
            while True:
                r = c.cmd("AUTH PLAIN " + plain("user1"))
                if r == (235, [AUTH_OK]) or time.monotonic() > deadline:
                    break
                eq(r, (454, ["454 4.7.0 Temporary authentication failure"]),
                   "AUTH while the auth service restarts")
                time.sleep(0.1)
            eq(r, (235, [AUTH_OK]), "AUTH after the restart")
            c.cmd("QUIT")
        eq(len(re.findall(r"\]: auth service started", s.log())), 2, "auth service starts")
        check(pid not in s.pids(), "the killed auth service is still there")


@test("auth: auth_cache_ttl: a repeated login is remembered, a changed password is not, "
      "a wrong one never")
def t_auth_cache():
    import shutil
    import tempfile
    import harness
    d = tempfile.mkdtemp(prefix="estafeta-it-db-", dir="/tmp")
    os.chmod(d, 0o755)
    db = os.path.join(d, "users.db")
    conf = os.path.join(d, "db.conf")
    with open(conf, "w") as f:
        f.write("users sqlite %s\nrun_user %s\n" % (db, harness.RUN_USER))

    def cli(*args, stdin=None):
        p = subprocess.run([harness.BIN, "user"] + list(args) + ["-c", conf], input=stdin,
                           capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, "estafeta user %s (stderr %r)" % (args[0], p.stderr))
    try:
        cli("add", "--password-stdin", "carol", stdin="Old-pass-1\n")
        with Lab({"users": "sqlite " + db, "auth_cache_ttl": "1h", "log_level": "debug"}) as s:
            def login(pw):
                with sub_session(s) as c:
                    return c.cmd("AUTH PLAIN " + plain("carol", pw))
            eq(login("Old-pass-1"), (235, [AUTH_OK]), "first login (hashed)")
            eq(login("Old-pass-1"), (235, [AUTH_OK]), "second login (remembered)")
            s.wait_log(r"auth ok: .*user=<carol> .*cached=yes", 5)
            eq(login("wrong")[0], 535, "wrong password after a remembered login")
            cli("passwd", "--password-stdin", "carol", stdin="New-pass-2\n")
            eq(login("Old-pass-1")[0], 535, "the old password after the change")
            eq(login("New-pass-2"), (235, [AUTH_OK]), "the new password")
            cli("del", "carol")
            eq(login("New-pass-2")[0], 535, "a deleted user")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@test("auth: estafeta auth test NAME logs in through the running daemon's auth service")
def t_auth_cli_test():
    with Lab() as s:
        p = s.cli("auth", "-c", s.conf, "test", "--password-stdin", "user1", input=PASS + "\n")
        eq(p.returncode, 0, "auth test with the right password (%r %r)" % (p.out, p.err))
        check("user1 auth succeeded" in p.out, "output: %r" % p.out)
        p = s.cli("auth", "-c", s.conf, "test", "--password-stdin", "user1", input="bad\n")
        eq(p.returncode, 77, "auth test with a wrong password (%r %r)" % (p.out, p.err))
        check("user1 auth failed" in p.out, "output: %r" % p.out)
        s.wait_log(r'auth failed: service=cli mech=PLAIN user=<user1> rip=local '
                   r'reason="password mismatch"', 5)
        p = s.cli("auth", "-c", s.conf, "test")
        eq(p.returncode, 2, "usage error")
