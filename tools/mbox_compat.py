#!/usr/bin/env python3
"""Check src/store/mboxfile against a real Dovecot 2.3 mbox INBOX, both ways.

Runs the same private Dovecot as tools/dovecot_compat.py (own base_dir, config
and users under a temp dir, IMAP on 127.0.0.1 only), with
mail_location = mbox:~/mail:INBOX=<tmp>/spool/%u, and a small C driver built
from src/store/mboxfile.c:

  A. Dovecot writes, we read: APPEND (flags, keywords, CRLF, "From " and
     ">From " body lines), STORE, EXPUNGE through imaplib; then our parser
     reads the INBOX file and must agree with Dovecot's IMAP (UIDVALIDITY,
     UIDNEXT, UIDs, flags, keywords, message texts; INTERNALDATE is shown).
  A2. A body line "From " after an empty line, which Dovecot writes
     unquoted (it relies on Content-Length): we must see the same messages
     as Dovecot (the parser trusts Content-Length where Dovecot does).
  B. We write, Dovecot reads: mboxf_rewrite (other flags, an expunge) plus
     an mboxf_format_new append, as a new user's INBOX; Dovecot must show our
     UIDVALIDITY, UIDNEXT, UIDs, flags, keywords and texts, and after it
     rewrites the file (a STORE) our parser must read its flags back.

Texts differ only where Dovecot is known to differ (it neither quotes nor
unquotes From_ lines): those are noted, not counted. Prints one line per check
and exits non-zero on a mismatch. --save-vectors DIR copies the INBOX files Dovecot
wrote in A and A2 (tests/unit/data/dovecot/mbox-inbox, mbox-inbox-clen).
Needs root.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot_compat as dc_mod  # noqa: E402

ROOT = dc_mod.ROOT
MAILUID = dc_mod.MAILUID

DRIVER = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "store/mboxfile.h"
#include "store/mflags.h"

static char *
readf(const char *path, size_t *len)
{
	char *d;
	if (read_file(path, 1 << 26, &d, len) < 0) {
		perror(path);
		exit(2);
	}
	return d;
}

static void
kw(const char *s, size_t n)
{
	size_t pos = 0, off, k;
	int first = 1;
	while (mboxf_next_keyword(s, n, &pos, &off, &k)) {
		printf("%s%.*s", first ? "" : " ", (int)k, s + off);
		first = 0;
	}
}

static unsigned
flags_of(const char *s)
{
	unsigned f = 0;
	for (; *s; s++)
		f |= *s == 'S' ? MF_SEEN : *s == 'A' ? MF_ANSWERED : *s == 'F' ? MF_FLAGGED :
		    *s == 'T' ? MF_DRAFT : *s == 'D' ? MF_DELETED : 0;
	return f;
}

int
main(int argc, char **argv)
{
	struct mboxf f;
	const char *err = "";
	unsigned line = 0;
	size_t len;
	char *d;

	if (argc == 3 && strcmp(argv[1], "dump") == 0) {
		d = readf(argv[2], &len);
		if (mboxf_parse(d, len, 100000, &f, &err, &line) < 0) {
			printf("ERR %u %s\n", line, err);
			return 0;
		}
		printf("BASE %u %u %d ", f.uidvalidity, f.uid_last, f.pseudo);
		kw(d + f.base_kw_off, f.base_kw_len);
		printf("\n");
		for (size_t i = 0; i < f.n; i++) {
			const struct mboxf_msg *m = &f.m[i];
			size_t tl;
			char *t = mboxf_message(d, m, &tl);
			printf("MSG %u %s%s%s%s%s %d %lld %d ", m->uid,
			    m->flags & MF_SEEN ? "S" : "", m->flags & MF_ANSWERED ? "A" : "",
			    m->flags & MF_FLAGGED ? "F" : "", m->flags & MF_DRAFT ? "T" : "",
			    m->flags & MF_DELETED ? "D" : "", m->old, (long long)m->from_date,
			    m->from_date_local);
			kw(d + m->kw_off, m->kw_len);
			printf("\t");
			for (size_t k = 0; k < tl; k++)
				printf("%02x", (unsigned char)t[k]);
			printf("\n");
			free(t);
		}
		return 0;
	}
	/* rewrite FILE uidvalidity uid_last basekw < "keep uid flags old kw" lines */
	if (argc == 6 && strcmp(argv[1], "rewrite") == 0) {
		struct mboxf_update *u;
		struct buf out = { 0 };
		char ln[1024];
		d = readf(argv[2], &len);
		if (mboxf_parse(d, len, 100000, &f, &err, &line) < 0)
			return 1;
		u = xcalloc(f.n + 1, sizeof(*u));
		for (size_t i = 0; i < f.n; i++) {
			char fl[16] = "", kwb[512] = "";
			int keep = 0, old = 0;
			unsigned uid = 0;
			if (fgets(ln, sizeof(ln), stdin) == NULL ||
			    sscanf(ln, "%d %u %15s %d %511[^\n]", &keep, &uid, fl, &old, kwb) < 4)
				return 1;
			u[i].keep = keep;
			u[i].uid = uid;
			u[i].flags = flags_of(fl);
			u[i].old = old;
			u[i].keywords = xstrdup(kwb);
		}
		mboxf_rewrite(d, &f, u, (uint32_t)strtoul(argv[3], NULL, 10),
		    (uint32_t)strtoul(argv[4], NULL, 10), argv[5], &out);
		fwrite(out.p, 1, out.len, stdout);
		return 0;
	}
	/* append FILE MSGFILE uid flags kw idate: FILE + sep + new + "\n" */
	if (argc == 8 && strcmp(argv[1], "append") == 0) {
		struct mboxf_update u = { 0 };
		struct buf out = { 0 };
		size_t ml;
		char *msg;
		d = readf(argv[2], &len);
		msg = readf(argv[3], &ml);
		u.uid = (uint32_t)strtoul(argv[4], NULL, 10);
		u.flags = flags_of(argv[5]);
		u.keywords = argv[6];
		buf_add(&out, d, len);
		buf_adds(&out, mboxf_append_sep(d, len));
		mboxf_format_new(msg, ml, "sender@example.org", strtoll(argv[7], NULL, 10), &u,
		    &out);
		buf_addc(&out, '\n');
		fwrite(out.p, 1, out.len, stdout);
		return 0;
	}
	fprintf(stderr, "usage: mboxtool dump|rewrite|append ...\n");
	return 2;
}
'''


def build_driver(tmp):
    src = os.path.join(tmp, "mboxtool.c")
    exe = os.path.join(tmp, "mboxtool")
    with open(src, "w") as f:
        f.write(DRIVER)
    bsd = subprocess.run(["pkg-config", "--cflags", "--libs", "libbsd-overlay"],
                         capture_output=True, text=True).stdout.split()
    cflags = [a for a in bsd if not a.startswith("-l")]
    libs = [a for a in bsd if a.startswith("-l")]
    subprocess.run([os.environ.get("CC", "cc"), "-std=c17", "-D_GNU_SOURCE", "-O1", "-g",
                    "-I" + os.path.join(ROOT, "src"), *cflags, "-o", exe, src,
                    os.path.join(ROOT, "src/store/mboxfile.c"),
                    os.path.join(ROOT, "src/mail/mime.c"),
                    os.path.join(ROOT, "src/lib/buf.c"),
                    os.path.join(ROOT, "src/lib/util.c"),
                    os.path.join(ROOT, "src/lib/log.c"), *libs], check=True)
    return exe


def dump(exe, path):
    out = subprocess.run([exe, "dump", path], capture_output=True, check=True).stdout.decode()
    d = {"msgs": []}
    for ln in out.splitlines():
        if ln.startswith("ERR "):
            d["error"] = ln[4:]
        elif ln.startswith("BASE "):
            p = ln[5:].split(" ", 3)
            d["uidvalidity"], d["uid_last"], d["pseudo"] = int(p[0]), int(p[1]), p[2] == "1"
            d["base_kw"] = p[3].split() if len(p) > 3 else []
        elif ln.startswith("MSG "):
            head, _, hexed = ln[4:].partition("\t")
            p = head.split(" ", 5)
            d["msgs"].append({"uid": int(p[0]), "flags": p[1], "old": p[2] == "1",
                              "date": int(p[3]), "local": p[4] == "1",
                              "kw": p[5].split() if len(p) > 5 else [],
                              "text": bytes.fromhex(hexed)})
    return d


FLAG_OF = {"\\Seen": "S", "\\Answered": "A", "\\Flagged": "F", "\\Draft": "T",
           "\\Deleted": "D"}
check = dc_mod.check
note = dc_mod.note
ok = dc_mod.ok


def imap_view(m):
    """uid -> (flag letters, keywords, text with LF, internaldate) of INBOX, read-only."""
    ok(m.select("INBOX", readonly=True))
    typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        s = item[0].decode()
        uid = int(re.search(r"UID (\d+)", s).group(1))
        fl = re.search(r"FLAGS \(([^)]*)\)", s).group(1).split()
        letters = "".join(c for f, c in FLAG_OF.items() if f in fl)
        kws = sorted(f for f in fl if not f.startswith("\\"))
        idate = re.search(r'INTERNALDATE "([^"]*)"', s).group(1)
        out[uid] = (letters, kws, item[1].replace(b"\r\n", b"\n"), idate)
    m.close()
    return out


def imap_status(m):
    data = ok(m.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)"))[0].decode()
    return {k: int(v) for k, v in re.findall(r"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", data)}


def order_flags(s):
    return "".join(c for c in "SAFTD" if c in s)


def unquote(text):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", text)


def compare(what, ours, dove, status):
    check(f"{what}: UIDVALIDITY", ours["uidvalidity"], status["UIDVALIDITY"])
    check(f"{what}: UIDNEXT (last UID + 1)", ours["uid_last"] + 1, status["UIDNEXT"])
    check(f"{what}: messages", len(ours["msgs"]), len(dove))
    check(f"{what}: UIDs", [m["uid"] for m in ours["msgs"]], sorted(dove))
    for m in ours["msgs"]:
        if m["uid"] not in dove:
            continue
        fl, kws, text, idate = dove[m["uid"]]
        check(f"{what}: UID {m['uid']} flags", order_flags(m["flags"]), fl)
        check(f"{what}: UID {m['uid']} keywords", sorted(m["kw"]), kws)
        if m["text"] == text:
            check(f"{what}: UID {m['uid']} text", True, True)
        elif m["text"] == unquote(text):
            note(f"{what}: UID {m['uid']} text: Dovecot shows the mboxrd '>' we remove")
        else:
            check(f"{what}: UID {m['uid']} text", m["text"], text)
        check(f"{what}: UID {m['uid']} date has no zone", m["local"], True)
        note(f"{what}: UID {m['uid']} From_ date {m['date']}, Dovecot INTERNALDATE {idate}")


def msg(i, body=b""):
    return (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: mbox " + str(i).encode()
            + b"\r\nMessage-ID: <mbox" + str(i).encode() + b"@example.org>\r\n\r\n" + body
            + b"body " + str(i).encode() + b"\r\n")


def scenario_a(dc, exe, spool, save):
    print("== A: Dovecot writes, our parser reads")
    m = dc.login("dove")
    ok(m.append("INBOX", "(\\Seen)", None, msg(1)))
    ok(m.append("INBOX", "(\\Flagged $Forwarded Junk)", None, msg(2)))
    ok(m.append("INBOX", "(\\Answered \\Draft)", None,
                msg(3, b"text\r\nFrom here, after text\r\n>From quoted\r\n\r\n"
                    b">>From after an empty line\r\n")))
    ok(m.append("INBOX", "(\\Deleted)", None, msg(4)))
    ok(m.append("INBOX", None, None, msg(5)))
    ok(m.select("INBOX"))
    ok(m.uid("STORE", "2", "+FLAGS", "(\\Seen)"))
    ok(m.uid("STORE", "4", "+FLAGS", "(\\Deleted)"))
    ok(m.expunge())
    m.close()
    status = imap_status(m)
    dove = imap_view(m)
    m.logout()
    path = os.path.join(spool, "dove")
    if save:
        shutil.copyfile(path, os.path.join(save, "mbox-inbox"))
    ours = dump(exe, path)
    if "error" in ours:
        check("A: parse", ours["error"], None)
        return path
    compare("A", ours, dove, status)
    check("A: X-IMAPbase keywords", sorted(ours["base_kw"]), ["$Forwarded", "Junk"])
    return path


def scenario_a2(dc, exe, spool, save):
    print("== A2: a body line 'From ' after an empty line, as Dovecot writes it")
    m = dc.login("dove2")
    ok(m.append("INBOX", None, None, msg(1, b"para\r\n\r\nFrom here on\r\n")))
    ok(m.append("INBOX", None, None, msg(2)))
    ok(m.select("INBOX"))
    m.close()
    dove = imap_view(m)
    m.logout()
    if save:
        shutil.copyfile(os.path.join(spool, "dove2"), os.path.join(save, "mbox-inbox-clen"))
    ours = dump(exe, os.path.join(spool, "dove2"))
    check("A2: as many messages as Dovecot shows", len(ours["msgs"]), len(dove))


def scenario_b(dc, exe, spool, tmp, dove_file):
    print("== B: we write, Dovecot reads")
    ours = dump(exe, dove_file)
    spec = []
    for i, m in enumerate(ours["msgs"]):
        # first: + \Answered; second: expunged; others: all flags cleared
        if i == 0:
            spec.append(f"1 {m['uid']} {m['flags']}A 1 Junk")
        elif i == 1:
            spec.append(f"0 {m['uid']} - 1")
        else:
            spec.append(f"1 {m['uid']} - 1 ")
    last = ours["uid_last"] + 5
    r = subprocess.run([exe, "rewrite", dove_file, str(ours["uidvalidity"]), str(last),
                        "$Forwarded Junk"], input="\n".join(spec).encode() + b"\n",
                       capture_output=True, check=True)
    mid = os.path.join(tmp, "rewritten")
    with open(mid, "wb") as f:
        f.write(r.stdout)
    newmsg = os.path.join(tmp, "newmsg")
    with open(newmsg, "wb") as f:
        f.write(msg(9, b"From the new one\r\n>From quoted\r\n\r\n"))
    r = subprocess.run([exe, "append", mid, newmsg, str(last + 1), "F", "$Forwarded",
                        "1795687200"], capture_output=True, check=True)
    path = os.path.join(spool, "ours")
    with open(path, "wb") as f:
        f.write(r.stdout)
    os.chown(path, MAILUID, MAILUID)
    os.chmod(path, 0o600)
    # X-IMAPbase still says `last`: the appended UID is above it, as after a
    # delivery; Dovecot then counts on from the highest X-UID.
    ours = dump(exe, path)
    m = dc.login("ours")
    status = imap_status(m)
    dove = imap_view(m)
    ours["uid_last"] = max(mm["uid"] for mm in ours["msgs"])
    compare("B", ours, dove, status)
    # Dovecot rewrites our file: we read its flags back.
    ok(m.select("INBOX"))
    ok(m.uid("STORE", str(last + 1), "+FLAGS", "(\\Seen \\Answered Junk)"))
    m.close()
    status = imap_status(m)
    dove = imap_view(m)
    m.logout()
    again = dump(exe, path)
    if "error" in again:
        check("B': parse", again["error"], None)
        return
    check("B': X-IMAPbase as Dovecot rewrote it: last UID", again["uid_last"], last + 1)
    compare("B'", again, dove, status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--save-vectors", metavar="DIR",
                    help="copy the INBOX files Dovecot wrote in A and A2 into DIR")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(),
                                                    "estafeta-dovecot-cache"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (Dovecot switches to uid 65534 for the mail)", file=sys.stderr)
        return 2
    if not os.access("/usr/sbin/dovecot", os.X_OK):
        print("no /usr/sbin/dovecot: skipped", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="estafeta-mbox-compat.")
    os.chmod(tmp, 0o755)
    dc = None
    try:
        exe = build_driver(tmp)
        bindir = dc_mod.imap_bindir(args.cache)
        dc = dc_mod.Dovecot(tmp, bindir, ["dove", "dove2", "ours"])
        spool = os.path.join(tmp, "spool")
        os.makedirs(spool)
        os.chown(spool, MAILUID, MAILUID)
        for u in ("dove", "dove2", "ours"):
            os.makedirs(os.path.join(dc.mail, u, "mail"))
            for d in (os.path.join(dc.mail, u), os.path.join(dc.mail, u, "mail")):
                os.chown(d, MAILUID, MAILUID)
        conf = open(dc.conf).read()
        conf = re.sub(r"(?m)^mail_location = .*$",
                      f"mail_location = mbox:~/mail:INBOX={spool}/%u\n"
                      "mbox_lazy_writes = no\nmbox_write_locks = fcntl dotlock", conf)
        open(dc.conf, "w").write(conf)
        dc.start()
        print(f"private Dovecot pid {dc.pid} on 127.0.0.1:{dc.port}, INBOX in {spool}")
        dove_file = scenario_a(dc, exe, spool, args.save_vectors)
        scenario_a2(dc, exe, spool, args.save_vectors)
        scenario_b(dc, exe, spool, tmp, dove_file)
    finally:
        if dc is not None:
            if dc.pid is None:
                # A start that failed half way may have left a master behind.
                subprocess.run(["/usr/bin/doveadm", "-c", dc.conf, "stop"],
                               capture_output=True)
            dc.stop()
            log = os.path.join(dc.dir, "dovecot.log")
            if os.path.exists(log):
                for ln in open(log, errors="replace"):
                    if ("Error" in ln or "Warning" in ln or "Panic" in ln) and \
                            "Killed with signal 15" not in ln:
                        note("dovecot.log: " + ln.rstrip())
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    results = dc_mod.results
    bad = results.count(False)
    print(f"{len(results) - bad} matched, {bad} mismatched")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
