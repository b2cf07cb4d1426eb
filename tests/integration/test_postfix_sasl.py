"""A real Postfix (Debian's) authenticating SMTP clients through estafeta's
auth_listen socket (smtpd_sasl_type = dovecot): the mechanisms Postfix offers
come from estafeta, PLAIN and LOGIN work, a wrong password is refused and
logged by estafeta, and an authenticated client may relay through Postfix.

Each test runs a private Postfix instance: its own config_directory and
queue_directory in a temporary directory, listening on a free loopback high
port, stopped by its own master pid in a finally block. /etc/postfix, the
system instance and port 25 are never touched. Skipped only when
/usr/sbin/postfix is missing or the tests do not run as root (Postfix must be
started as root)."""
import base64
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

from harness import (IS_ROOT, Failure, Raw, Server, Skip, check, eq, free_port, note, test,
                     wait_for)

POSTFIX = "/usr/sbin/postfix"
PASS = "Tr0ub4dor&3"


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user, password=PASS):
    return b64("\0%s\0%s" % (user, password))


def need_postfix():
    if not os.path.exists(POSTFIX):
        raise Skip("%s is missing (apt-get install postfix, or tools/deps.sh)" % POSTFIX)
    if not IS_ROOT:
        raise Skip("a private Postfix instance must be started as root")


def sha512_crypt(password):
    p = subprocess.run(["openssl", "passwd", "-6", password], capture_output=True, text=True,
                       timeout=10)
    h = p.stdout.strip()
    check(p.returncode == 0 and h.startswith("$6$"), "openssl passwd -6: %r" % (p.stderr,))
    return h


def users_text():
    h = sha512_crypt(PASS)
    return "".join("%s:{SHA512-CRYPT}%s::::::\n" % (u, h) for u in ("user1", "user2"))


class Estafeta(Server):
    """estafeta with an auth_listen socket that Postfix's smtpd (running as
    the postfix user) can connect to: owned by postfix, mode 0660."""

    def __init__(self, settings=None, auth_sock=None):
        st = {"auth_failure_delay": "0", "disable_plaintext_auth": "no"}
        st.update(settings or {})
        Server.__init__(self, settings=st, start=False)
        self.auth_sock = auth_sock or os.path.join(self.base, "auth-postfix")
        try:
            pwd.getpwnam("postfix")
            owner = " user=postfix group=postfix"
        except KeyError:
            owner = ""
        self.set("auth_listen", "%s mode=0660%s" % (self.auth_sock, owner))
        with open(self.users_file, "w") as f:
            f.write(users_text())
        os.chmod(self.users_file, 0o644)
        self.write_conf()
        try:
            self.start()
            self.wait_log(r"auth service started", 10)
        except BaseException:
            self.stop()
            self.cleanup()
            raise

    def mechanisms(self):
        """The MECH lines of estafeta's own auth handshake, in order."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.auth_sock)
        buf = b""
        try:
            while b"DONE\n" not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
        finally:
            s.close()
        return [l.split("\t")[1] for l in buf.decode("latin-1").split("\n")
                if l.startswith("MECH\t")]


MAIN_CF = """\
compatibility_level = 3.6
config_directory = {d}/etc
queue_directory = {d}/spool
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
multi_instance_name = postfix-estafeta-test
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
myhostname = postfix.test
mydomain = postfix.test
myorigin = postfix.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 192.0.2.1/32
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
default_transport = discard:postfix-sasl-test
smtpd_banner = $myhostname ESMTP
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl_path}
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = none
smtpd_tls_auth_only = no
broken_sasl_auth_clients = no
smtp_tls_security_level = none
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
biff = no
"""

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance in a temporary directory; `with Postfix(path)
    as p:` starts it and always stops it (its own master pid only) and removes
    the directory."""

    def __init__(self, sasl_path):
        self.dir = tempfile.mkdtemp(prefix="estafeta-pf-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.maillog = os.path.join(self.dir, "maillog")
        self.port = free_port()
        self.master_pid = None
        for d in (self.etc, self.spool, os.path.join(self.dir, "data")):
            os.mkdir(d, 0o755)
        os.chown(os.path.join(self.dir, "data"), pwd.getpwnam("postfix").pw_uid, -1)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(d=self.dir, sasl_path=sasl_path))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))

    def postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.etc] + list(args), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self):
        self.postfix("set-permissions")     # creates the queue directories
        p = self.postfix("start")
        if p.returncode != 0:
            raise Failure("postfix start failed (%d): %s" % (p.returncode,
                                                            (p.stdout + p.stderr)[-600:]))
        pidfile = os.path.join(self.spool, "pid", "master.pid")

        def master():
            try:
                with open(pidfile) as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return None
        self.master_pid = wait_for(master, 20, what="Postfix's master.pid")

        def listening():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, 20, what="Postfix listening on 127.0.0.1:%d" % self.port)
        note("postfix master pid %d on port %d, dir %s" % (self.master_pid, self.port, self.dir))

    def alive(self):
        try:
            os.kill(self.master_pid, 0)
            return True
        except (ProcessLookupError, TypeError):
            return False

    def stop(self):
        if self.master_pid is not None:
            self.postfix("stop", timeout=30)
            deadline = time.monotonic() + 15
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.alive():    # our own master only, never by name
                os.kill(self.master_pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, regex, timeout=10):
        r = re.compile(regex, re.M)
        return wait_for(lambda: r.search(self.log()), timeout,
                        what="Postfix maillog line /%s/" % regex)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *a):
        self.stop()
        return False


def auth_line(caps):
    """The AUTH capability of an EHLO reply (list of lines) -> [mechanisms]."""
    for l in caps:
        m = re.match(r"250[- ]AUTH[ =](.*)$", l)
        if m:
            return m.group(1).split()
    return None


def session(p):
    c = Raw(p.port)
    eq(c.banner[0], 220, "Postfix banner")
    code, caps = c.cmd("EHLO client.example")
    eq(code, 250, "EHLO")
    return c, caps


@test("postfix sasl: Postfix's EHLO lists estafeta's mechanisms; AUTH PLAIN 235, wrong "
      "password 535 logged by estafeta; authenticated relay")
def t_postfix_plain():
    need_postfix()
    with Estafeta() as s:
        mechs = s.mechanisms()
        check("PLAIN" in mechs and "LOGIN" in mechs, "estafeta's MECH lines: %r" % mechs)
        with Postfix(s.auth_sock) as p:
            c, caps = session(p)
            with c:
                eq(auth_line(caps), mechs, "mechanisms in Postfix's EHLO (%r)" % caps)
                # no AUTH yet: Postfix refuses to relay
                c.cmd("MAIL FROM:<user1@example.org>")
                code, lines = c.cmd("RCPT TO:<someone@example.net>")
                eq(code, 554, "relay before AUTH: %r" % lines)
                c.cmd("RSET")
                code, lines = c.cmd("AUTH PLAIN " + plain("user1", "wrong-password"))
                eq(code, 535, "AUTH PLAIN with a wrong password: %r" % lines)
                s.wait_log(r'auth failed: service=smtp mech=PLAIN user=<user1> '
                           r'rip=127\.0\.0\.1 reason="password mismatch"', 10)
                code, lines = c.cmd("AUTH PLAIN " + plain("user1"))
                eq(code, 235, "AUTH PLAIN with the right password: %r" % lines)
                eq(c.code("MAIL FROM:<user1@example.org>"), 250, "MAIL after AUTH")
                code, lines = c.cmd("RCPT TO:<someone@example.net>")
                eq(code, 250, "relay after AUTH: %r" % lines)
                code, lines = c.cmd("DATA")
                eq(code, 354, "DATA: %r" % lines)
                code, lines = c.cmd("Subject: via postfix\r\n\r\nhello\r\n.")
                eq(code, 250, "end of DATA: %r" % lines)
                c.cmd("QUIT")
            p.wait_log(r"client=\S+, sasl_method=PLAIN, sasl_username=user1$", 10)
            p.wait_log(r"to=<someone@example\.net>, relay=none, .*status=sent \(postfix-sasl-test\)",
                       15)
            check("Connection lost to authentication server" not in p.log() and
                  "SASL: Connect to" not in p.log(),
                  "Postfix lost its auth connection: %s" % p.log()[-800:])


@test("postfix sasl: AUTH LOGIN with smtplib through Postfix; an unknown user gets 535")
def t_postfix_login():
    need_postfix()
    with Estafeta() as s:
        with Postfix(s.auth_sock) as p:
            c = smtplib.SMTP("127.0.0.1", p.port, timeout=20)
            try:
                c.ehlo("client.example")
                check("LOGIN" in c.esmtp_features.get("auth", "").split(),
                      "no LOGIN in Postfix's AUTH: %r" % c.esmtp_features)
                c.user, c.password = "nosuchuser", PASS
                try:
                    c.auth("LOGIN", c.auth_login, initial_response_ok=False)
                    raise Failure("AUTH LOGIN of an unknown user succeeded")
                except smtplib.SMTPAuthenticationError as e:
                    eq(e.smtp_code, 535, "AUTH LOGIN of an unknown user")
                s.wait_log(r'auth failed: service=smtp mech=LOGIN user=<nosuchuser> '
                           r'rip=127\.0\.0\.1 ', 10)
                c.user, c.password = "user2", PASS
                code, resp = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
                eq(code, 235, "AUTH LOGIN (334 Username:, 334 Password:) %r" % resp)
                c.sendmail("user2@example.org", ["other@example.net"],
                           "Subject: login\r\n\r\nvia LOGIN\r\n")
            finally:
                try:
                    c.quit()
                except (smtplib.SMTPException, OSError):
                    pass
            p.wait_log(r"client=\S+, sasl_method=LOGIN, sasl_username=user2$", 10)


@test("postfix sasl: mechanisms follow estafeta's auth_mechanisms; smtpd_sasl_path relative "
      "to Postfix's queue_directory; swaks AUTH PLAIN")
def t_postfix_relative_path():
    need_postfix()
    with Postfix("private/estafeta-auth") as p:
        # the socket beside Postfix's own private services (how Dovecot's is usually set up)
        sock = os.path.join(p.spool, "private", "estafeta-auth")
        with Estafeta(settings={"auth_mechanisms": "login plain"}, auth_sock=sock) as s:
            mechs = s.mechanisms()
            eq(sorted(mechs), ["LOGIN", "PLAIN"], "estafeta's MECH lines")
            c, caps = session(p)
            with c:
                eq(auth_line(caps), mechs, "AUTH in Postfix's EHLO (%r)" % caps)
                code, lines = c.cmd("AUTH SCRAM-SHA-256 " + b64("n,,n=user1,r=abcdefgh"))
                check(code in (504, 535), "a mechanism estafeta does not offer: %r" % lines)
                c.cmd("QUIT")
            if shutil.which("swaks"):
                r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(p.port),
                                    "--auth", "PLAIN", "--auth-user", "user1",
                                    "--auth-password", PASS, "--from", "user1@example.org",
                                    "--to", "x@example.net", "--quit-after", "AUTH",
                                    "--timeout", "20"],
                                   capture_output=True, text=True, timeout=60)
                check(r.returncode == 0 and "235 2.7.0 Authentication successful" in r.stdout,
                      "swaks AUTH PLAIN through Postfix (rc %d): %s" % (r.returncode,
                                                                         r.stdout[-600:]))


@test("postfix sasl: SCRAM-SHA-256 through Postfix: the server signature comes in a 334, "
      "235 after the empty answer")
def t_postfix_scram():
    import test_auth
    need_postfix()
    secret = test_auth.scram_secret(PASS)
    with Estafeta(settings={"auth_mechanisms": "plain login scram-sha-256"}) as s:
        with open(s.users_file, "a") as f:
            f.write("scram1:%s::::::\n" % secret)
        import signal
        os.kill(s.proc.pid, signal.SIGHUP)
        s.wait_log(r"auth: users reloaded", 10)
        with Postfix(s.auth_sock) as p:
            c, caps = session(p)
            with c:
                check("SCRAM-SHA-256" in (auth_line(caps) or []), "no SCRAM in %r" % caps)
                (code, lines), verified = test_auth.scram_login(c, "scram1", PASS)
                check(verified, "server signature not verified")
                eq(code, 235, "SCRAM through Postfix: %r" % lines)
            c, caps = session(p)
            with c:
                (code, lines), verified = test_auth.scram_login(c, "scram1", "wrong")
                eq(code, 535, "SCRAM with a wrong password through Postfix: %r" % lines)
