"""The SQLite user database: estafeta user add/passwd/del/list/show and `users sqlite PATH`."""
import os
import re
import stat
import subprocess

import harness

from harness import Server, check, eq, test


def lab(**kw):
    """A lab whose users line names a SQLite database (not created yet)."""
    s = Server(start=False, **kw)
    s.db = os.path.join(s.base, "users.db")
    s.set("users", "sqlite " + s.db)
    s.write_conf()
    return s


def add(s, name, password="Secret-1", *opts):
    return s.cli("user", "add", "-c", s.conf, "--password-stdin", *(list(opts) + [name]),
                 input=password + "\n")


@test("users: estafeta user add/list/show/passwd/del on a new database")
def t_user_cli():
    with lab() as s:
        # list/show before the database exists: a clear error
        p = s.cli("user", "-c", s.conf, "list")
        eq(p.returncode, 1, "list without a database")
        check("no such user database (create it with 'estafeta user add')" in p.err,
              "list without a database: %r" % p.err)

        p = add(s, "Alice")
        eq(p.returncode, 0, "user add (stderr %r)" % p.err)
        st = os.stat(s.db)
        eq(stat.S_IMODE(st.st_mode), 0o640, "mode of the new database")
        if harness.IS_ROOT:
            eq((st.st_uid, st.st_gid), (0, harness.RUN_GID), "owner of the database as root")
        check(not os.path.exists(s.db + "-wal"), "the database is in WAL mode")

        p = add(s, "bob@Lala.Local", "pw2", "--uid", "4242", "--gid", "4343", "--home",
                "/srv/bob")
        eq(p.returncode, 0, "user add with uid/gid/home (stderr %r)" % p.err)
        # ESTAFETA_CONF is the default config; the name exists in another case
        p = s.cli("user", "add", "--password-stdin", "ALICE", input="x\n")
        eq(p.returncode, 1, "adding an existing user")
        check("user exists" in p.err, "existing user: %r" % p.err)

        p = s.cli("user", "-c", s.conf, "list")
        eq(p.returncode, 0, "user list (stderr %r)" % p.err)
        lines = p.out.splitlines()
        eq(len(lines), 2, "list lines %r" % p.out)
        check(re.fullmatch(r"alice\s+virtual\s+-\s+\d{4}-\d\d-\d\d", lines[0]),
              "list line for alice: %r" % lines[0])
        check(re.fullmatch(r"bob@lala\.local\s+4242/4343\s+/srv/bob\s+\d{4}-\d\d-\d\d", lines[1]),
              "list line for bob: %r" % lines[1])

        p = s.cli("user", "-c", s.conf, "show", "alice")
        eq(p.returncode, 0, "user show")
        check(re.search(r"^name:\s+alice$", p.out, re.M), "show name: %r" % p.out)
        check(re.search(r"^uid:\s+virtual", p.out, re.M), "show uid: %r" % p.out)
        check(re.search(r"^password:\s+\{CRYPT\}$", p.out, re.M), "show password: %r" % p.out)
        check(re.search(r"^scram:\s+\{SCRAM-SHA-256\}$", p.out, re.M), "show scram: %r" % p.out)
        check(re.search(r"^created:\s+\d{4}-\d\d-\d\d ", p.out, re.M), "show created: %r" % p.out)
        check("$y$" not in p.out and "4096," not in p.out, "show printed a secret: %r" % p.out)
        p = s.cli("user", "-c", s.conf, "show", "BOB@lala.local")
        check(re.search(r"^uid:\s+4242$", p.out, re.M) and
              re.search(r"^home:\s+/srv/bob$", p.out, re.M), "show bob: %r" % p.out)

        # the stored secrets are real hashes, never the password
        with open(s.db, "rb") as f:
            raw = f.read()
        check(b"Secret-1" not in raw, "the password is stored in clear")
        check(b"{CRYPT}$y$" in raw and b"{SCRAM-SHA-256}4096," in raw, "hashes not stored")

        p = s.cli("user", "-c", s.conf, "passwd", "--password-stdin", "alice", input="Other-2\n")
        eq(p.returncode, 0, "user passwd (stderr %r)" % p.err)
        with open(s.db, "rb") as f:
            check(f.read() != raw, "passwd changed nothing")
        p = s.cli("user", "-c", s.conf, "passwd", "--password-stdin", "carol", input="x\n")
        eq(p.returncode, 1, "passwd of an unknown user")
        p = s.cli("user", "-c", s.conf, "passwd", "--password-stdin", "alice", input="\n")
        eq(p.returncode, 1, "empty password")
        check("empty password" in p.err, "empty password: %r" % p.err)
        # no terminal and no --password-stdin: refused, never from argv
        p = subprocess.run([harness.BIN, "user", "-c", s.conf, "add", "dave"], input=b"pw\n",
                           capture_output=True, env=s.env(), timeout=30, start_new_session=True)
        eq(p.returncode, 1, "add without a terminal or --password-stdin")
        check(b"--password-stdin" in p.stderr, "no terminal: %r" % p.stderr)

        p = s.cli("user", "-c", s.conf, "del", "Bob@lala.local")
        eq(p.returncode, 0, "user del (stderr %r)" % p.err)
        p = s.cli("user", "-c", s.conf, "del", "bob@lala.local")
        eq(p.returncode, 1, "del of a deleted user")
        p = s.cli("user", "-c", s.conf, "list")
        eq([l.split()[0] for l in p.out.splitlines()], ["alice"], "list after del")


@test("users: estafeta user rejects bad names and usage")
def t_user_bad():
    with lab() as s:
        for bad in ("", "a:b", "a b", "tab\tx", "a/b", "ctl\x01x", "@lala.local", "a@",
                    "a@b@c", "..", "x" * 256):
            p = add(s, bad)
            eq(p.returncode, 1, "add %r" % bad)
            check("bad user name" in p.err, "add %r: %r" % (bad, p.err))
        check(not os.path.exists(s.db), "a bad name created the database")
        p = add(s, "y" * 255)
        eq(p.returncode, 0, "a 255-byte name (stderr %r)" % p.err)
        for argv, rc in ((["frob"], 2), (["add"], 2), (["list", "extra"], 2), (["show"], 2),
                         (["del", "a", "b"], 2), (["del", "--uid", "5", "a"], 2),
                         (["add", "--uid", "x", "--password-stdin", "a"], 1)):
            p = s.cli("user", "-c", s.conf, *argv, input="pw\n")
            eq(p.returncode, rc, "exit status of user %s" % argv)
        p = s.cli("user", "-c", s.conf, "add", "--uid", "0", "--password-stdin", "r", input="x\n")
        eq(p.returncode, 1, "uid 0")
        p = s.cli("user", "-h")
        eq(p.returncode, 0, "user -h")
        check("estafeta user" in p.out, "help: %r" % p.out)

        # a config without a sqlite users line
        s.set("users", "passwd-file " + s.users_file)
        s.write_conf()
        p = add(s, "zed")
        eq(p.returncode, 1, "add without 'users sqlite'")
        check("no 'users sqlite PATH' line" in p.err, "no sqlite line: %r" % p.err)


@test("users: daemon with users sqlite accepts DB users, 550 for others, delivers virtually")
def t_user_daemon():
    with lab() as s:
        # the daemon refuses to start without its database
        p = s.cli("check", "-c", s.conf)
        eq(p.returncode, 1, "check without the database")
        check("no such user database" in p.err, "check: %r" % p.err)
        eq(add(s, "dbuser").returncode, 0, "add dbuser")
        eq(add(s, "vip@localhost.test").returncode, 0, "add vip@localhost.test")
        s.start()
        with s.raw() as c:
            eq(c.code("EHLO client.example"), 250, "EHLO")
            eq(c.code("MAIL FROM:<sender@example.org>"), 250, "MAIL")
            eq(c.code("RCPT TO:<DBUser@lala.local>"), 250, "RCPT to a DB user")
            eq(c.code("RCPT TO:<dbuser+tag@lala.local>"), 250, "RCPT with an extension")
            eq(c.code("RCPT TO:<vip@localhost.test>"), 250, "RCPT to user@domain")
            eq(c.code("RCPT TO:<vip@lala.local>"), 550, "user@domain under another domain")
            eq(c.code("RCPT TO:<nosuch@lala.local>"), 550, "RCPT to an unknown user")
            eq(c.code("RCPT TO:<ameliana@lala.local>"), 550, "passwd-file user not configured")
        code, text = s.send("dbuser@lala.local", "hello from sqlite\r\n", subject="db")
        eq(code, 250, "message to dbuser (%s)" % text)
        qid = harness.queued_id(text)
        s.wait_delivered(qid)
        msgs = s.messages("dbuser")
        eq(len(msgs), 1, "messages in %s" % s.maildir("dbuser"))
        check(b"hello from sqlite" in msgs[0], "body delivered")
        st = os.stat(s.maildir("dbuser"))
        eq(st.st_uid, harness.RUN_UID, "virtual mailbox owner")
        code, text = s.send("vip@localhost.test", "to vip\r\n")
        eq(code, 250, "message to vip (%s)" % text)
        s.wait_delivered(harness.queued_id(text))
        eq(len(s.messages("vip", "localhost.test")), 1, "vip's mailbox")

        # changes by the CLI apply at once, without a reload
        eq(add(s, "late").returncode, 0, "add while running")
        with s.raw() as c:
            eq(c.code("EHLO client.example"), 250, "EHLO")
            eq(c.code("MAIL FROM:<sender@example.org>"), 250, "MAIL")
            eq(c.code("RCPT TO:<late@lala.local>"), 250, "user added while running")
        eq(s.cli("user", "-c", s.conf, "del", "dbuser").returncode, 0, "del while running")
        with s.raw() as c:
            eq(c.code("EHLO client.example"), 250, "EHLO")
            eq(c.code("MAIL FROM:<sender@example.org>"), 250, "MAIL")
            eq(c.code("RCPT TO:<dbuser@lala.local>"), 550, "deleted user")
        check("lookup failure" not in s.log(), "temporary lookup failures: %s" % s.log_tail())
