"""Integration test harness for estafeta (Python 3 standard library only).

A Server owns one temporary lab under /tmp: config, users, aliases, spool,
mail tree and the sendmail/mailq/newaliases symlinks. It starts
`estafeta serve` in the foreground with stderr to a log file, in its own
process group, and always stops and removes everything again. At stop the
log is checked for sanitizer reports and crashes, so a test fails under the
ASan build even if its own assertions passed.

Tests register with @test("name") and raise Failure (via check/eq) to fail.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = None          # absolute path of the estafeta binary, set by run.py
LABEL = "build"
KEEP = False        # keep temp dirs (debugging)
VERBOSE = False

IS_ROOT = os.geteuid() == 0
if IS_ROOT:
    RUN_USER = "nobody"
else:
    RUN_USER = pwd.getpwuid(os.getuid()).pw_name
_pw = pwd.getpwnam(RUN_USER)
RUN_UID, RUN_GID = _pw.pw_uid, _pw.pw_gid

SAN_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                "AddressSanitizer:DEADLYSIGNAL", "SUMMARY: UndefinedBehaviorSanitizer")
CRASH_PATTERNS = ("worker process killed by signal",)

USERS = ("ameliana", "user1", "user2")


class Failure(AssertionError):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise Failure("%s: expected %r, got %r" % (what, expected, actual))


def note(msg):
    """A diagnostic line, printed only with -v (as a '#' comment line)."""
    if VERBOSE:
        print("# " + msg)
        sys.stdout.flush()


def short(data, n=160):
    s = repr(data)
    return s if len(s) <= n else s[:n] + "..."


# ---- registry ----

TESTS = []


def test(name):
    def deco(fn):
        TESTS.append((name, fn))
        return fn
    return deco


# ---- helpers ----

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value; return it or fail."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def split_message(data):
    """bytes of a stored message -> (list of (name, value) unfolded, body bytes).
    Stored messages use LF line ends."""
    text = data.replace(b"\r\n", b"\n")
    idx = text.find(b"\n\n")
    if idx < 0:
        head, body = text, b""
    else:
        head, body = text[:idx + 1], text[idx + 2:]
    headers = []
    for line in head.split(b"\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:
            n, v = headers[-1]
            headers[-1] = (n, v + b" " + line.strip())
            continue
        if b":" in line:
            n, v = line.split(b":", 1)
            headers.append((n.decode("latin-1"), v.strip()))
        else:
            headers.append(("", line))
    return headers, body


def header(headers, name):
    """All values of header name (case-insensitive) as str."""
    return [v.decode("latin-1") for n, v in headers if n.lower() == name.lower()]


# ---- raw SMTP client ----

class Raw:
    """Byte-exact SMTP client: every send() is one write on a TCP_NODELAY socket."""

    def __init__(self, port, src=None, timeout=10.0, banner=True, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(src, 0) if src else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.banner = self.reply() if banner else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def reply(self, timeout=None):
        """One complete reply -> (code, [lines]); (None, [partial]) at EOF."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        lines = []
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                if self.eof or not self._fill():
                    return (None, lines)
                continue
            line = self.buf[:nl].rstrip(b"\r").decode("latin-1")
            self.buf = self.buf[nl + 1:]
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                try:
                    code = int(line[:3])
                except ValueError:
                    code = -1
                return (code, lines)

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def code(self, line):
        return self.cmd(line)[0]

    def all_replies(self, timeout=10.0):
        """Every reply until the server closes the connection."""
        out = []
        self.sock.settimeout(timeout)
        while True:
            try:
                r = self.reply()
            except socket.timeout:
                out.append(("TIMEOUT", []))
                return out
            if r[0] is None:
                return out
            out.append(r)

    def quit_and_collect(self, timeout=10.0):
        """Send QUIT, return every reply up to the close (the last should be 221)."""
        try:
            self.send("QUIT\r\n")
        except OSError:
            pass
        return self.all_replies(timeout)

    def at_eof(self, timeout=3.0):
        """True when the server closed the connection (nothing more to read)."""
        self.sock.settimeout(timeout)
        try:
            while not self.eof:
                if not self._fill():
                    break
        except socket.timeout:
            return False
        except OSError:
            return True
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def queued_id(text):
    m = re.search(r"queued as ([0-9A-F]{16})", text)
    return m.group(1) if m else None


# ---- the server under test ----

class Server:
    """One estafeta lab: `with Server(...) as s:` starts it and always cleans up."""

    def __init__(self, settings=None, aliases=None, users=USERS, mailbox="maildir",
                 start=True, include_files=None):
        self.base = tempfile.mkdtemp(prefix="estafeta-it-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.base, "estafeta.conf")
        self.users_file = os.path.join(self.base, "users")
        self.aliases_file = os.path.join(self.base, "aliases")
        self.spool = os.path.join(self.base, "spool")
        self.mail = os.path.join(self.base, "mail")
        self.mbox_dir = os.path.join(self.base, "mbox")
        self.files = os.path.join(self.base, "files")   # writable by run_user
        self.bindir = os.path.join(self.base, "bin")
        self.logpath = os.path.join(self.base, "estafeta.log")
        self.proc = None
        self.logf = None
        self.killed = False
        self.start_offset = 0
        for d in (self.spool, self.mail, self.mbox_dir, self.files, self.bindir):
            os.mkdir(d, 0o755)
        for name in ("sendmail", "mailq", "newaliases", "estafeta"):
            os.symlink(BIN, os.path.join(self.bindir, name))
        with open(self.users_file, "w") as f:
            f.write("# test users (Dovecot passwd-file)\n")
            for u in users:
                f.write("%s:{PLAIN}pass::::::\n" % u)
        os.chmod(self.users_file, 0o644)
        if mailbox == "maildir":
            mb = "maildir %s/%%d/%%n/Maildir" % self.mail
        else:
            mb = "mbox %s/%%u" % self.mbox_dir
        self.settings = [
            ("hostname", "test.example"),
            ("domains", "lala.local localhost.test"),
            ("networks", "127.0.0.1/32"),
            ("users", "passwd-file " + self.users_file),
            ("mailbox", mb),
            ("spool", self.spool),
            ("run_user", RUN_USER),
            ("listen", "smtp 127.0.0.1:%d" % self.port),
        ]
        if aliases is not None:
            self.write_aliases(aliases)
            self.settings.append(("aliases", self.aliases_file))
        for k, v in (settings or {}).items():
            self.set(k, v)
        for name, text in (include_files or {}).items():
            p = os.path.join(self.base, name)
            with open(p, "w") as f:
                f.write(text.replace("@DIR@", self.base))
            os.chmod(p, 0o644)
        self.write_conf()
        if IS_ROOT:
            for d in (self.spool, self.mail, self.mbox_dir, self.files):
                chown_r(d, RUN_UID, RUN_GID)
        if start:
            self.start()

    # -- configuration --
    def set(self, key, value):
        for i, (k, _) in enumerate(self.settings):
            if k == key:
                if value is None:
                    del self.settings[i]
                else:
                    self.settings[i] = (key, value)
                return
        if value is not None:
            self.settings.append((key, value))

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write("# generated by tests/integration/harness.py\n")
            for k, v in self.settings:
                f.write("%s %s\n" % (k, v))
        os.chmod(self.conf, 0o644)

    def write_aliases(self, text):
        with open(self.aliases_file, "w") as f:
            f.write(text.replace("@DIR@", self.base))
        os.chmod(self.aliases_file, 0o644)

    def env(self, **extra):
        e = dict(os.environ)
        e["ESTAFETA_CONF"] = self.conf
        e["PATH"] = self.bindir + ":" + e.get("PATH", "/usr/bin:/bin")
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        e.update(extra)
        return e

    # -- process control --
    def start(self, timeout=15.0):
        self.logf = open(self.logpath, "ab")
        self.start_offset = self.logf.tell()
        self.killed = False
        self.proc = subprocess.Popen([BIN, "serve", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf, env=self.env(),
                                     start_new_session=True)
        # Ready = the worker logged "daemon started" (after queue recovery) and
        # the port accepts. Fail fast when the daemon dies or a sanitizer speaks.
        deadline = time.monotonic() + timeout
        started = False
        while True:
            log = self.log_since_start()
            for pat in SAN_PATTERNS:
                if pat in log:
                    i = log.find(pat)
                    j = log.rfind("\n", 0, i) + 1
                    raise Failure("sanitizer report at start: %s" %
                                  log[j:j + 300].strip().replace("\n", " | "))
            if self.proc.poll() is not None:
                raise Failure("daemon exited with status %s at start: %s" %
                              (self.proc.returncode, self.log_tail()))
            if not started and "daemon started" in log:
                started = True
            if started:
                try:
                    c = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                    c.close()
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise Failure("daemon not ready after %.0fs: %s" % (timeout, self.log_tail()))
            time.sleep(0.02)
        # The probe must not count against connection limits of the test.
        def probe_gone():
            log = self.log_since_start()
            n = len(re.findall(r"sid=\S+ connect from", log))
            return n >= 1 and n == len(re.findall(r"sid=\S+ disconnect from", log))
        wait_for(probe_gone, 5, 0.01, what="the start-up probe connection to be closed")

    def pids(self):
        """Our daemon's processes: the process group we created (root parent,
        worker, delivery children)."""
        out = []
        if self.proc is None:
            return out
        pgid = self.proc.pid
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    st = f.read()
                fields = st[st.rfind(")") + 2:].split()
                if int(fields[2]) == pgid:
                    out.append(int(p))
            except OSError:
                pass
        return out

    def kill9(self):
        """kill -9 the whole daemon: its process group (only processes we started)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        # the worker may still be dying; wait until the group is gone
        wait_for(lambda: not self.pids(), 10, what="killed daemon processes to exit")
        self.killed = True
        self.proc = None
        self.logf.close()
        self.logf = None

    def stop(self, timeout=20.0):
        """SIGTERM, wait, then SIGKILL. Returns a list of problems found (exit
        status, sanitizer reports, crashes)."""
        problems = []
        if self.proc is not None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                problems.append("daemon did not stop on SIGTERM within %.0fs" % timeout)
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                rc = self.proc.wait()
            else:
                if rc != 0:
                    problems.append("daemon exited with status %d after SIGTERM" % rc)
            # leftovers in the group (the worker after the parent died, children)
            deadline = time.monotonic() + 5
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.pids():
                problems.append("processes left after stop: %s" % self.pids())
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc = None
        if self.logf is not None:
            self.logf.close()
            self.logf = None
        problems.extend(self.log_problems())
        return problems

    def log_problems(self):
        log = self.log()
        out = []
        for pat in SAN_PATTERNS + CRASH_PATTERNS:
            i = log.find(pat)
            if i >= 0:
                j = log.rfind("\n", 0, i) + 1
                out.append("daemon log: %s" % log[j:j + 300].strip().replace("\n", " | "))
                break
        return out

    def cleanup(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
        if self.logf is not None:
            self.logf.close()
        if not KEEP:
            # a test may have made dirs unreadable
            for root, dirs, _ in os.walk(self.base):
                for d in dirs:
                    try:
                        os.chmod(os.path.join(root, d), 0o755)
                    except OSError:
                        pass
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        try:
            problems = self.stop()
        finally:
            if et is not None and VERBOSE:
                sys.stderr.write("---- log of %s ----\n%s\n" % (self.base, self.log_tail(4000)))
            self.cleanup()
        if problems:
            if et is None:
                raise Failure("; ".join(problems))
            # keep the original failure, but say what the log showed
            if isinstance(ev, Failure):
                ev.args = (str(ev) + " [also: " + "; ".join(problems) + "]",)
        return False

    # -- logs --
    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_since_start(self):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(self.start_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=600):
        return self.log()[-n:].replace("\n", " | ")

    def wait_log(self, regex, timeout=10.0, what=None):
        r = re.compile(regex, re.M)
        return wait_for(lambda: r.search(self.log()), timeout,
                        what=what or ("log line /%s/" % regex))

    def wait_delivered(self, qid, timeout=15.0):
        """Wait until the queue file of qid was removed (all recipients final)."""
        self.wait_log(r"\b%s: removed$" % qid, timeout, what="%s: removed in the log" % qid)

    # -- mail store --
    def maildir(self, user, domain="lala.local"):
        return os.path.join(self.mail, domain, user, "Maildir")

    def messages(self, user, domain="lala.local"):
        """Contents of the files in user's Maildir new/, in delivery order (the
        time in the unique name: seconds, then microseconds, which are not
        zero-padded, so plain name order is wrong within a second)."""
        d = os.path.join(self.maildir(user, domain), "new")
        out = []

        def order(n):
            m = re.match(r"(\d+)\.M(\d+)P\d+Q(\d+)", n)
            return (int(m.group(1)), int(m.group(2)), int(m.group(3)), n) if m else (0, 0, 0, n)
        try:
            names = sorted(os.listdir(d), key=order)
        except FileNotFoundError:
            return out
        for n in names:
            try:
                with open(os.path.join(d, n), "rb") as f:
                    out.append(f.read())
            except FileNotFoundError:
                pass
        return out

    def queue_ids(self):
        try:
            return sorted(n for n in os.listdir(os.path.join(self.spool, "queue"))
                          if re.fullmatch(r"[0-9A-F]{16}", n))
        except FileNotFoundError:
            return []

    def incoming(self):
        try:
            return os.listdir(os.path.join(self.spool, "incoming"))
        except FileNotFoundError:
            return []

    def wait_queue_empty(self, timeout=15.0):
        try:
            wait_for(lambda: not self.queue_ids(), timeout, what="the queue to become empty")
        except Failure as e:
            raise Failure("%s (left: %s)" % (e, self.queue_ids()[:5]))

    # -- CLI --
    def run(self, argv, input=None, env=None, timeout=30, check_san=True):
        """Run a command with ESTAFETA_CONF set; argv[0] may be a name in bin/.
        A sanitizer report on its stderr fails the test unless check_san=False."""
        if not os.path.isabs(argv[0]) and os.path.exists(os.path.join(self.bindir, argv[0])):
            argv = [os.path.join(self.bindir, argv[0])] + list(argv[1:])
        if isinstance(input, str):
            input = input.encode()
        p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env or self.env(), timeout=timeout)
        p.out = p.stdout.decode("utf-8", "replace")
        p.err = p.stderr.decode("utf-8", "replace")
        for pat in SAN_PATTERNS if check_san else ():
            i = p.err.find(pat)
            if i >= 0:
                frames = re.findall(r"#\d+ 0x[0-9a-f]+ in (\S+ src/\S+)", p.err[i:])
                raise Failure("`%s` (exit %d): %s; first frames: %s" %
                              (" ".join(os.path.basename(a) if j == 0 else a
                                        for j, a in enumerate(argv)), p.returncode,
                               p.err[i:].split("\n")[0], " <- ".join(frames[:4])))
        return p

    def cli(self, *args, **kw):
        return self.run([BIN] + list(args), **kw)

    # -- SMTP --
    def raw(self, **kw):
        return Raw(self.port, **kw)

    def send(self, rcpts, body, sender="sender@example.org", src=None, subject=None):
        """A whole SMTP transaction with Raw; returns (code, text) of the final reply."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        with Raw(self.port, src=src) as c:
            check(c.code("EHLO client.example") == 250, "EHLO refused")
            r = c.cmd("MAIL FROM:<%s>" % sender)
            check(r[0] == 250, "MAIL refused: %s" % r[1])
            ok = 0
            for rc in rcpts:
                r = c.cmd("RCPT TO:<%s>" % rc)
                if r[0] == 250:
                    ok += 1
            if ok == 0:
                return (r[0], " ".join(r[1]))
            r = c.cmd("DATA")
            check(r[0] == 354, "DATA: %s" % r[1])
            if isinstance(body, str):
                body = body.encode()
            if subject is not None:
                body = b"Subject: " + subject.encode() + b"\r\n\r\n" + body
            body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            lines = [(b"." + l if l.startswith(b".") else l) for l in body.split(b"\r\n")]
            c.send(b"\r\n".join(lines) + b".\r\n")
            r = c.reply()
            c.cmd("QUIT")
            return (r[0], " ".join(r[1]))


def as_run_user(cmd):
    """Run a shell command as run_user (as root: nobody, no supplementary groups):
    what a compromised network-facing worker could do."""
    kw = {}
    if IS_ROOT:
        kw = dict(user=RUN_UID, group=RUN_GID, extra_groups=[])
    return subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30, **kw)


def chown_r(path, uid, gid):
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)
