#!/usr/bin/env python3
"""Check src/store/mdfiles against a real Dovecot 2.3, both ways.

Runs a private Dovecot (own base_dir, state_dir, config and users under a temp
dir; IMAP on 127.0.0.1 and a free high port only; never /etc/dovecot, never the
system service) and a small C driver built from src/store/mdfiles.c:

  A. Dovecot writes, we read: APPEND, CREATE, SUBSCRIBE, STORE, EXPUNGE through
     imaplib; then our parsers read dovecot-uidlist, dovecot-keywords,
     subscriptions and the file names, and must agree with what Dovecot's IMAP
     says (UIDVALIDITY, UIDNEXT, UIDs, flags, keywords, sizes, LSUB).
  B. We write, Dovecot reads: a Maildir whose uidlist, keywords, subscriptions
     and file names come from our formatters; Dovecot must show our UIDs,
     UIDVALIDITY, next UID, flags, keywords, sizes and subscriptions, continue
     our UIDs, and keep our header fields when it rewrites.
  C. Old and odd files: a version 1 uidlist and subscriptions file, and the
     edge rules we copied from Dovecot's readers (unterminated last lines, the
     keywords line buffer).

Prints one line per check ("ok" or "MISMATCH") and exits non-zero on any
mismatch. --save-vectors DIR copies the files Dovecot wrote in A (the unit test
vectors in tests/unit/data/dovecot/). Needs root (Dovecot drops to uid 65534).
Dovecot's imap binaries come from /usr/lib/dovecot, or else from the
dovecot-imapd package of the installed dovecot-core version, downloaded with
apt-get and unpacked into a cache directory (not installed).
"""
import argparse
import imaplib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAILUID = 65534
SEP = "/"
PASS = "compat-pass"
IMAP_BINS = ["imap", "imap-login", "imap-urlauth", "imap-urlauth-login",
             "imap-urlauth-worker", "imap-hibernate"]

DRIVER = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/util.h"
#include "store/mdfiles.h"

static char *
slurp(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0, r;
	char *b = xmalloc(cap);
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = xrealloc(b, cap *= 2);
	}
	*len = n;
	return b;
}

static char *
readf(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	b = slurp(f, len);
	fclose(f);
	return b;
}

static unsigned
flagbits(const char *s)
{
	unsigned f = 0;
	for (; *s; s++)
		f |= *s == 'D' ? MDF_DRAFT : *s == 'F' ? MDF_FLAGGED : *s == 'P' ? MDF_PASSED :
		    *s == 'R' ? MDF_REPLIED : *s == 'S' ? MDF_SEEN : *s == 'T' ? MDF_TRASHED : 0;
	return f;
}

int
main(int argc, char **argv)
{
	size_t len;
	char *t, line[8192];

	if (argc >= 3 && strcmp(argv[1], "parse-uidlist") == 0) {
		struct uidlist u;
		const char *err;
		unsigned ln;
		t = readf(argv[2], &len);
		if (uidlist_parse(t, len, 1000000, &u, &err, &ln) < 0) {
			printf("ERR %u %s\n", ln, err);
			return 0;
		}
		printf("VERSION %u\nUIDVALIDITY %u\nNEXTUID %u\nGUID %s\nEXTRA %s\nTRUNCATED %d\n",
		    u.version, u.uidvalidity, u.next_uid, u.guid,
		    u.hdr_extra ? u.hdr_extra : "", u.truncated);
		for (size_t i = 0; i < u.n; i++)
			printf("REC %u\t%s\t%s\n", u.recs[i].uid, u.recs[i].name,
			    u.recs[i].ext ? u.recs[i].ext : "");
		uidlist_free(&u);
	} else if (argc >= 3 && strcmp(argv[1], "parse-keywords") == 0) {
		struct md_keywords k;
		t = readf(argv[2], &len);
		if (md_keywords_parse(t, len, &k) < 0) {
			printf("ERR NUL\n");
			return 0;
		}
		for (int i = 0; i < 26; i++)
			if (k.names[i])
				printf("KW %d\t%s\n", i, k.names[i]);
		md_keywords_free(&k);
	} else if (argc >= 4 && strcmp(argv[1], "parse-subs") == 0) {
		struct md_subs s;
		const char *err;
		t = readf(argv[2], &len);
		if (md_subs_parse(t, len, 100000, argv[3][0], &s, &err) < 0) {
			printf("ERR %s\n", err);
			return 0;
		}
		for (size_t i = 0; i < s.n; i++)
			printf("SUB %s\n", s.names[i]);
		md_subs_free(&s);
	} else if (argc >= 3 && strcmp(argv[1], "parse-name") == 0) {
		struct md_name m;
		char fl[8], kw[27];
		int nf = 0, nk = 0;
		md_name_parse(argv[2], &m);
		for (const char *p = "DFPRST"; *p; p++)
			if (m.flags & flagbits((char[]){ *p, 0 }))
				fl[nf++] = *p;
		for (int i = 0; i < 26; i++)
			if (m.keywords & (1u << i))
				kw[nk++] = (char)('a' + i);
		fl[nf] = kw[nk] = 0;
		printf("BASE %.*s\nINFO %d\nFLAGS %s\nKW %s\nSIZE %lld\nVSIZE %lld\n",
		    (int)m.base_len, argv[2], m.has_info, fl, kw, (long long)m.size,
		    (long long)m.vsize);
	} else if (argc >= 5 && strcmp(argv[1], "format-name") == 0) {
		uint32_t kw = 0;
		for (const char *p = argv[4]; *p; p++)
			kw |= 1u << (*p - 'a');
		if (md_name_format(argv[2], strlen(argv[2]), flagbits(argv[3]), kw, line,
		    sizeof(line)) < 0)
			return 1;
		printf("%s\n", line);
	} else if (argc >= 2 && strcmp(argv[1], "format-uidlist") == 0) {
		/* stdin: "uidvalidity next_uid guid [extra]", then "uid\tname\text" */
		struct uidlist u;
		char *p, *nm, *ex;
		memset(&u, 0, sizeof(u));
		if (fgets(line, sizeof(line), stdin) == NULL)
			return 1;
		line[strcspn(line, "\n")] = 0;
		u.uidvalidity = (uint32_t)strtoul(strtok(line, " "), NULL, 10);
		u.next_uid = (uint32_t)strtoul(strtok(NULL, " "), NULL, 10);
		snprintf(u.guid, sizeof(u.guid), "%s", strtok(NULL, " "));
		if ((p = strtok(NULL, "")) != NULL)
			u.hdr_extra = xstrdup(p);
		while (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\n")] = 0;
			nm = strchr(line, '\t');
			*nm++ = 0;
			ex = strchr(nm, '\t');
			*ex++ = 0;
			if (uidlist_append(&u, (uint32_t)strtoul(line, NULL, 10), nm,
			    *ex ? ex : NULL) < 0)
				return 1;
		}
		t = uidlist_format(&u, &len);
		fwrite(t, 1, len, stdout);
		uidlist_free(&u);
	} else if (argc >= 2 && strcmp(argv[1], "format-keywords") == 0) {
		/* stdin: "index name" */
		struct md_keywords k;
		memset(&k, 0, sizeof(k));
		while (fgets(line, sizeof(line), stdin) != NULL) {
			int i = atoi(line);
			line[strcspn(line, "\n")] = 0;
			k.names[i] = xstrdup(strchr(line, ' ') + 1);
		}
		t = md_keywords_format(&k, &len);
		fwrite(t, 1, len, stdout);
		md_keywords_free(&k);
	} else if (argc >= 3 && strcmp(argv[1], "format-subs") == 0) {
		struct md_subs s;
		memset(&s, 0, sizeof(s));
		s.sep = argv[2][0];
		while (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\n")] = 0;
			if (md_subs_add(&s, line) < 0)
				return 1;
		}
		t = md_subs_format(&s, &len);
		fwrite(t, 1, len, stdout);
		md_subs_free(&s);
	} else {
		fprintf(stderr, "usage: mdtool parse-uidlist|parse-keywords|parse-subs|"
		    "parse-name|format-name|format-uidlist|format-keywords|format-subs\n");
		return 2;
	}
	return 0;
}
'''

results = []


def check(what, got, want):
    ok = got == want
    results.append(ok)
    print(f"{'ok      ' if ok else 'MISMATCH'} {what}: "
          + (f"{got!r}" if ok else f"ours/got {got!r} != Dovecot/want {want!r}"))
    return ok


def note(text):
    print(f"         {text}")


# ---- the C driver ----

def build_driver(tmp):
    src = os.path.join(tmp, "mdtool.c")
    exe = os.path.join(tmp, "mdtool")
    with open(src, "w") as f:
        f.write(DRIVER)
    bsd = subprocess.run(["pkg-config", "--cflags", "--libs", "libbsd-overlay"],
                         capture_output=True, text=True).stdout.split()
    cflags = [a for a in bsd if not a.startswith("-l")]
    libs = [a for a in bsd if a.startswith("-l")]
    subprocess.run([os.environ.get("CC", "cc"), "-std=c17", "-D_GNU_SOURCE", "-O1", "-g",
                    "-I" + os.path.join(ROOT, "src"), *cflags, "-o", exe, src,
                    os.path.join(ROOT, "src/store/mdfiles.c"),
                    os.path.join(ROOT, "src/lib/util.c"),
                    os.path.join(ROOT, "src/lib/log.c"), *libs], check=True)
    return exe


class Tool:
    def __init__(self, exe):
        self.exe = exe

    def run(self, *args, stdin=None):
        r = subprocess.run([self.exe, *args], input=stdin, capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"mdtool {args[0]} failed: {r.stderr!r}")
        return r.stdout

    def uidlist(self, path):
        out = self.run("parse-uidlist", path).decode("utf-8", "replace")
        d = {"recs": []}
        for ln in out.splitlines():
            k, _, v = ln.partition(" ")
            if k == "ERR":
                d["error"] = v
            elif k == "REC":
                uid, name, ext = v.split("\t")
                d["recs"].append((int(uid), name, ext))
            else:
                d[k.lower()] = v
        return d

    def keywords(self, path):
        if not os.path.exists(path):
            return {}
        out = self.run("parse-keywords", path).decode("utf-8", "replace")
        kw = {}
        for ln in out.splitlines():
            if ln.startswith("KW "):
                i, name = ln[3:].split("\t", 1)
                kw[int(i)] = name
        return kw

    def subs(self, path, sep):
        out = self.run("parse-subs", path, sep).decode("utf-8", "replace")
        return [ln[4:] for ln in out.splitlines() if ln.startswith("SUB ")]

    def name(self, fname):
        out = self.run("parse-name", fname).decode("utf-8", "replace")
        d = {}
        for ln in out.splitlines():
            k, _, v = ln.partition(" ")
            d[k.lower()] = v
        return d

    def format_name(self, base, flags, kw):
        return self.run("format-name", base, flags, kw).decode().strip()


# ---- the private Dovecot ----

def dovecot_version():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "dovecot-core"],
                       capture_output=True, text=True)
    return r.stdout.strip()


def imap_bindir(cache):
    if all(os.access(f"/usr/lib/dovecot/{b}", os.X_OK) for b in IMAP_BINS):
        return "/usr/lib/dovecot"
    ver = dovecot_version()
    d = os.path.join(cache, "dovecot-imapd-" + re.sub(r"[^0-9A-Za-z.+~-]", "_", ver))
    bindir = os.path.join(d, "usr/lib/dovecot")
    if all(os.access(os.path.join(bindir, b), os.X_OK) for b in IMAP_BINS):
        return bindir
    os.makedirs(d, exist_ok=True)
    # The imap binaries of exactly the installed dovecot-core, unpacked, not installed.
    print(f"fetching dovecot-imapd={ver} (unpacked into {d}, not installed)")
    r = subprocess.run(["apt-get", "download", f"dovecot-imapd={ver}"], cwd=d,
                       capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "download", f"dovecot-imapd={ver}"], cwd=d, check=True,
                       capture_output=True)
    debs = [f for f in os.listdir(d) if f.endswith(".deb")]
    subprocess.run(["dpkg-deb", "-x", os.path.join(d, debs[0]), d], check=True)
    return bindir


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Dovecot:
    def __init__(self, tmp, bindir, users):
        self.dir = os.path.join(tmp, "dovecot")
        self.mail = os.path.join(tmp, "mail")
        self.port = free_port()
        os.makedirs(os.path.join(self.dir, "run"))
        os.makedirs(os.path.join(self.dir, "state"))
        os.makedirs(self.mail)
        os.chown(self.mail, MAILUID, MAILUID)
        with open(os.path.join(self.dir, "users"), "w") as f:
            for u in users:
                f.write(f"{u}:{{PLAIN}}{PASS}:{MAILUID}:{MAILUID}::{self.mail}/{u}::\n")
        services = "".join(f"service {b} {{\n  executable = {bindir}/{b}\n}}\n"
                           for b in IMAP_BINS if b != "imap-login")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"""instance_name = estafeta-compat-{self.port}
base_dir = {self.dir}/run
state_dir = {self.dir}/state
protocols = imap
listen = 127.0.0.1
log_path = {self.dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 100
mail_location = maildir:{self.mail}/%u
mail_privileged_group =
mail_plugins =
# sizes fetched through doveadm land in dovecot-uidlist as W/S fields
mail_always_cache_fields = size.virtual
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.dir}/users
}}
userdb {{
  driver = passwd-file
  args = {self.dir}/users
}}
namespace inbox {{
  inbox = yes
  separator = {SEP}
}}
{services}service imap-login {{
  executable = {bindir}/imap-login
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""")
        self.pid = None

    def start(self):
        subprocess.run(["/usr/sbin/dovecot", "-c", self.conf], check=True)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        with open(os.path.join(self.dir, "run", "master.pid")) as f:
            self.pid = int(f.read().strip())

    def stop(self):
        if self.pid is None:
            return
        subprocess.run(["/usr/bin/doveadm", "-c", self.conf, "stop"], capture_output=True)
        for _ in range(100):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, 15)
        self.pid = None

    def login(self, user):
        m = imaplib.IMAP4("127.0.0.1", self.port)
        m.login(user, PASS)
        return m

    def doveadm(self, *args):
        return subprocess.run(["/usr/bin/doveadm", "-c", self.conf, *args],
                              capture_output=True, text=True, check=True).stdout


# ---- IMAP helpers ----

def ok(resp):
    typ, data = resp
    if typ != "OK":
        raise RuntimeError(f"IMAP: {typ} {data}")
    return data


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def status(m, box):
    data = ok(m.status(quote(box), "(UIDVALIDITY UIDNEXT MESSAGES)"))[0].decode()
    return {k: int(v) for k, v in re.findall(r"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", data)}


def fetch_all(m, box):
    """uid -> (set of flags without \\Recent, RFC822.SIZE); EXAMINE: CLOSE expunges nothing."""
    ok(m.select(quote(box), readonly=True))
    typ, data = m.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE)")
    out = {}
    for item in data:
        if item is None:
            continue
        s = item.decode() if isinstance(item, bytes) else item[0].decode()
        mm = re.search(r"UID (\d+)", s)
        if not mm:
            continue
        flags = set(re.search(r"FLAGS \(([^)]*)\)", s).group(1).split()) - {"\\Recent"}
        size = int(re.search(r"RFC822.SIZE (\d+)", s).group(1))
        out[int(mm.group(1))] = (flags, size)
    m.close()
    return out


def lsub(m):
    data = ok(m.lsub('""', '"*"'))
    names = []
    for item in data:
        if item is None:
            continue
        s = item.decode()
        mm = re.match(r'\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$', s)
        n = mm.group(2)
        if n.startswith('"'):
            n = n[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        names.append(n)
    return names


IMAP_OF = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
           "T": "\\Deleted"}


def our_view(tool, folder_dir):
    """What our parsers say about a Maildir folder: uid -> (flags, size)."""
    ul = tool.uidlist(os.path.join(folder_dir, "dovecot-uidlist"))
    kw = tool.keywords(os.path.join(folder_dir, "dovecot-keywords"))
    by_name = {name: (uid, ext) for uid, name, ext in ul["recs"]}
    view, unmapped = {}, []
    for sub in ("cur", "new"):
        d = os.path.join(folder_dir, sub)
        for fname in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            n = tool.name(fname)
            if n["base"] not in by_name:
                unmapped.append(fname)
                continue
            uid, ext = by_name[n["base"]]
            flags = {IMAP_OF[c] for c in n["flags"] if c in IMAP_OF}
            for c in n["kw"]:
                flags.add(kw.get(ord(c) - ord("a"), f"<no name for {c}>"))
            vsize = int(n["vsize"])
            if vsize < 0:
                w = [f[1:] for f in ext.split() if f.startswith("W")]
                vsize = int(w[0]) if w else -1
            view[uid] = (flags, vsize)
    return ul, view, unmapped


def folder_dir(maildir, box):
    if box == "INBOX":
        return maildir
    return os.path.join(maildir, "." + box.replace(SEP, "."))


# ---- A: Dovecot writes, we read ----

def msg(i, extra=""):
    return (f"From: a@example.org\r\nTo: b@example.org\r\nSubject: compat {i}{extra}\r\n"
            f"Message-ID: <compat{i}@example.org>\r\n\r\nbody {i}\r\n" + "x" * i + "\r\n").encode()


def scenario_a(dc, tool, save_dir):
    print("== A: Dovecot writes, our parsers read")
    user = "dove"
    md = os.path.join(dc.mail, user)
    m = dc.login(user)
    for i in range(1, 7):
        ok(m.append("INBOX", None, None, msg(i)))
    folders = ["a", f"a{SEP}b", "Sent", "&ANw-mlaut", "Trash"]
    for f in folders:
        ok(m.create(quote(f)))
    for f in [f"a{SEP}b", "Sent", "&ANw-mlaut", "INBOX", "Trash"]:
        ok(m.subscribe(quote(f)))
    ok(m.unsubscribe("Trash"))
    ok(m.select("INBOX"))
    ok(m.store("1", "+FLAGS", "(\\Seen $Forwarded)"))
    ok(m.store("2", "+FLAGS", "(\\Seen \\Answered \\Flagged $Junk custom1)"))
    ok(m.store("3", "+FLAGS", "(\\Draft Custom-Two $Forwarded)"))
    ok(m.store("4", "+FLAGS", "(\\Deleted)"))
    ok(m.expunge())
    ok(m.store("4", "+FLAGS", "(\\Deleted \\Seen $label1)"))
    ok(m.unselect())
    ok(m.append("Sent", "(\\Seen $Forwarded)", None, msg(9)))
    ok(m.append(quote(f"a{SEP}b"), None, None, msg(10)))
    ok(m.append(quote("&ANw-mlaut"), "(\\Flagged)", None, msg(11)))
    m.logout()
    snap = {}
    with open(os.path.join(md, "dovecot-uidlist"), "rb") as f:
        snap["inbox-uidlist-expunged"] = f.read()

    # Messages another MDA put into new/ and cur/ (no ,W=; one without ,S=);
    # doveadm then records their sizes as W/S fields of dovecot-uidlist.
    legacy = b"From: x@example.org\nSubject: legacy\n\nline1\nline2\n"
    for sub, name in (("new", "1700000001.M1P1.legacyhost"),
                      ("new", f"1700000002.M2P2.estafeta,S={len(legacy)}"),
                      ("cur", "1700000003.M3P3.courier:2,RS")):
        p = os.path.join(md, sub, name)
        with open(p, "wb") as f:
            f.write(legacy)
        os.chown(p, MAILUID, MAILUID)
    m = dc.login(user)
    ok(m.select("INBOX"))
    m.logout()
    with open(os.path.join(md, "dovecot-uidlist"), "rb") as f:
        snap["inbox-uidlist-appended"] = f.read()
    dc.doveadm("fetch", "-u", user, "size.virtual", "mailbox", "INBOX", "all")
    dc.doveadm("fetch", "-u", user, "size.physical", "mailbox", "INBOX", "all")

    m = dc.login(user)
    for box in ["INBOX", "Sent", f"a{SEP}b", "&ANw-mlaut", "a"]:
        st = status(m, box)
        imap = fetch_all(m, box)
        fd = folder_dir(md, box)
        ul, ours, unmapped = our_view(tool, fd)
        if "error" in ul:
            check(f"{box}: uidlist parses", ul["error"], "no error")
            continue
        check(f"{box}: UIDVALIDITY", int(ul["uidvalidity"]), st["UIDVALIDITY"])
        check(f"{box}: next UID", int(ul["nextuid"]), st["UIDNEXT"])
        check(f"{box}: UIDs, flags, keywords, RFC822.SIZE of {len(imap)} messages",
              ours, imap)
        if unmapped:
            note(f"files not in the uidlist yet: {unmapped}")
    check("subscriptions (LSUB)", sorted(tool.subs(os.path.join(md, "subscriptions"), SEP)),
          sorted(lsub(m)))
    m.logout()
    with open(os.path.join(md, "dovecot-uidlist")) as f:
        note("INBOX dovecot-uidlist as Dovecot wrote it:")
        for ln in f.read().splitlines():
            note("  " + ln)
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
        copies = {"inbox-uidlist": "dovecot-uidlist", "inbox-keywords": "dovecot-keywords",
                  "subscriptions": "subscriptions",
                  "sent-uidlist": ".Sent/dovecot-uidlist",
                  "sent-keywords": ".Sent/dovecot-keywords",
                  "ab-uidlist": ".a.b/dovecot-uidlist",
                  "umlaut-uidlist": ".&ANw-mlaut/dovecot-uidlist"}
        for dst, src in copies.items():
            shutil.copyfile(os.path.join(md, src), os.path.join(save_dir, dst))
        for dst, data in snap.items():
            with open(os.path.join(save_dir, dst), "wb") as f:
                f.write(data)
        with open(os.path.join(save_dir, "filenames"), "w") as f:
            for box in ["INBOX", "Sent", f"a{SEP}b", "&ANw-mlaut"]:
                fd = folder_dir(md, box)
                for sub in ("cur", "new"):
                    d = os.path.join(fd, sub)
                    for fname in sorted(os.listdir(d)):
                        f.write(f"{box}\t{sub}\t{fname}\n")
        note(f"vectors saved in {save_dir}")


# ---- B: we write, Dovecot reads ----

def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, MAILUID, MAILUID)


def make_maildir(path):
    for sub in ("", "cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
        os.chown(os.path.join(path, sub), MAILUID, MAILUID)


def scenario_b(dc, tool):
    print("== B: our formatters write, Dovecot reads")
    user = "ours"
    md = os.path.join(dc.mail, user)
    make_maildir(md)
    uidvalidity, next_uid, guid = 1234567890, 100, "0123456789abcdef0123456789abcdef"
    # uid, flags, keyword letters, message, whether the name carries ,W=
    msgs = [(10, "S", "a", msg(21), True),
            (20, "FR", "cz", msg(22), True),
            (35, "DT", "", msg(23), False),
            (36, "", "ac", msg(24), True)]
    keywords = {0: "$Forwarded", 2: "Custom-Two", 25: "zlast"}
    recs, want = [], {}
    for uid, fl, kw, body, with_w in msgs:
        lf = body.replace(b"\r\n", b"\n")
        base = f"17000001{uid:02d}.M{uid}P7.estafeta,S={len(lf)}"
        if with_w:
            base += f",W={len(body)}"
        name = tool.format_name(base, fl, kw)
        write_file(os.path.join(md, "cur", name), lf)
        recs.append(f"{uid}\t{base}\t{'' if with_w else 'W%d' % len(body)}")
        flags = {IMAP_OF[c] for c in fl} | {keywords[ord(c) - 97] for c in kw}
        want[uid] = (flags, len(body))
    spec = f"{uidvalidity} {next_uid} {guid} Xestafeta\n" + "\n".join(recs) + "\n"
    write_file(os.path.join(md, "dovecot-uidlist"),
               tool.run("format-uidlist", stdin=spec.encode()))
    write_file(os.path.join(md, "dovecot-keywords"),
               tool.run("format-keywords",
                        stdin="".join(f"{i} {n}\n" for i, n in keywords.items()).encode()))
    subs = ["INBOX", "Sent", f"a{SEP}b", "&ANw-mlaut"]
    write_file(os.path.join(md, "subscriptions"),
               tool.run("format-subs", SEP, stdin=("\n".join(subs) + "\n").encode()))
    for box in ["Sent", "a", f"a{SEP}b", "&ANw-mlaut"]:
        fd = folder_dir(md, box)
        make_maildir(fd)
        write_file(os.path.join(fd, "maildirfolder"), b"")
    with open(os.path.join(md, "dovecot-uidlist")) as f:
        note("our dovecot-uidlist: " + " | ".join(f.read().splitlines()))
    with open(os.path.join(md, "subscriptions"), "rb") as f:
        note(f"our subscriptions: {f.read()!r}")

    m = dc.login(user)
    st = status(m, "INBOX")
    check("UIDVALIDITY Dovecot shows", st["UIDVALIDITY"], uidvalidity)
    check("UIDNEXT Dovecot shows", st["UIDNEXT"], next_uid)
    check("UIDs, flags, keywords, RFC822.SIZE Dovecot shows", fetch_all(m, "INBOX"), want)
    check("LSUB Dovecot shows", sorted(lsub(m)), sorted(subs))
    typ, data = m.append("INBOX", None, None, msg(25))
    check("APPEND continues our UIDs", re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups(),
          (str(uidvalidity).encode(), str(next_uid).encode()))
    ok(m.select("INBOX"))
    ok(m.uid("STORE", "20", "+FLAGS", "(NewKeyword)"))
    ok(m.create(quote(f"New{SEP}Sub")))
    ok(m.subscribe(quote(f"New{SEP}Sub")))
    m.logout()
    dc.doveadm("force-resync", "-u", user, "INBOX")

    kw = tool.keywords(os.path.join(md, "dovecot-keywords"))
    check("keywords after Dovecot added one (first free index)", kw,
          {**keywords, 1: "NewKeyword"})
    ul, ours, unmapped = our_view(tool, md)
    m = dc.login(user)
    imap = fetch_all(m, "INBOX")
    check("our reading of Dovecot's rewrite: UIDs, flags, keywords, sizes", ours, imap)
    check("header fields kept by Dovecot (V, N, G, extra)",
          (int(ul["uidvalidity"]), int(ul["nextuid"]), ul["guid"], ul["extra"]),
          (uidvalidity, next_uid + 1, guid, "Xestafeta"))
    check("subscriptions after Dovecot added one",
          sorted(tool.subs(os.path.join(md, "subscriptions"), SEP)), sorted(lsub(m)))
    m.logout()
    with open(os.path.join(md, "dovecot-uidlist")) as f:
        note("after Dovecot: " + " | ".join(f.read().splitlines()))


# ---- C: old formats and Dovecot's reader edges ----

def scenario_c(dc, tool):
    print("== C: version 1 files and reader edges, both readers side by side")
    user = "old"
    md = os.path.join(dc.mail, user)
    make_maildir(md)
    body = msg(31).replace(b"\r\n", b"\n")
    names = {5: "1600000005.M5P5.oldhost,S=%d" % len(body),
             7: "1600000007.M7P7.oldhost,S=%d" % len(body)}
    write_file(os.path.join(md, "cur", names[5] + ":2,S"), body)
    write_file(os.path.join(md, "cur", names[7] + ":2,FS"), body)
    # Version 1 (Courier / Dovecot 1.0): no ':' before the name, which may carry info.
    write_file(os.path.join(md, "dovecot-uidlist"),
               f"1 1111111111 60\n5 {names[5]}\n7 {names[7]}:2,S\n".encode())
    write_file(os.path.join(md, "subscriptions"), b"Sent\na.b\nINBOX\n")
    for box in ["Sent", f"a{SEP}b"]:
        make_maildir(folder_dir(md, box))
        write_file(os.path.join(folder_dir(md, box), "maildirfolder"), b"")

    # Unterminated last lines and an over-long keywords line.
    edge = folder_dir(md, "edge")
    make_maildir(edge)
    write_file(os.path.join(edge, "maildirfolder"), b"")
    ebase = ["1600000100.M1P1.edge", "1600000101.M2P2.edge", "1600000102.M3P3.edge"]
    for i, b in enumerate(ebase):
        write_file(os.path.join(edge, "cur", b + ":2,abc"[: 3 + i + 1]), body)
    write_file(os.path.join(edge, "dovecot-uidlist"),
               ("3 V2222222222 N3 G00112233445566778899aabbccddeeff\n"
                f"1 :{ebase[0]}\n2 :{ebase[1]}\n3 :{ebase[2]}").encode())
    write_file(os.path.join(edge, "dovecot-keywords"),
               b"0 kwA\n1 " + b"L" * 1100 + b"\n2 kwC\n")
    edge2 = folder_dir(md, "edge2")
    make_maildir(edge2)
    write_file(os.path.join(edge2, "maildirfolder"), b"")
    write_file(os.path.join(edge2, "cur", "1600000200.M1P1.edge2:2,ab"), body)
    write_file(os.path.join(edge2, "dovecot-keywords"), b"0 kwA\n1 kwB")

    ul = tool.uidlist(os.path.join(md, "dovecot-uidlist"))
    m = dc.login(user)
    st = status(m, "INBOX")
    check("v1 uidlist: UIDVALIDITY", int(ul["uidvalidity"]), st["UIDVALIDITY"])
    check("v1 uidlist: UIDs of the files",
          sorted(uid for uid, _, _ in ul["recs"]), sorted(fetch_all(m, "INBOX")))
    check("v1 uidlist: next UID", int(ul["nextuid"]), st["UIDNEXT"])
    check("v1 subscriptions ('.' between levels)",
          sorted(tool.subs(os.path.join(md, "subscriptions"), SEP)), sorted(lsub(m)))

    ul = tool.uidlist(os.path.join(edge, "dovecot-uidlist"))
    kw = tool.keywords(os.path.join(edge, "dovecot-keywords"))
    imap = fetch_all(m, "edge")
    uid_of = {name: uid for uid, name, _ in ul["recs"]}
    check("unterminated last uidlist line: UIDs we take from the file",
          sorted(uid_of.values()), [u for u in (1, 2) if u in imap])
    third = [u for u in imap if u not in (1, 2)]
    note(f"Dovecot gave the file on the unterminated line UID {third} "
         f"(ours: not mapped, next UID {ul['nextuid']})")
    check("keywords: reading stops at a line over 1 KiB (we name only 'a')", kw, {0: "kwA"})
    note(f"Dovecot's flags for the file with letters abc: {sorted(imap.get(1, ({}, 0))[0])}, "
         f"{sorted(imap.get(3, ({}, 0))[0])}")
    named = {f for v in imap.values() for f in v[0]}
    check("Dovecot does not know kwC either", "kwC" in named, False)
    kw2 = tool.keywords(os.path.join(edge2, "dovecot-keywords"))
    imap2 = fetch_all(m, "edge2")
    check("keywords: unterminated last line ignored (we name only 'a')", kw2, {0: "kwA"})
    check("Dovecot does not know kwB either",
          "kwB" in {f for v in imap2.values() for f in v[0]}, False)
    note(f"Dovecot's flags for letters ab: {[sorted(v[0]) for v in imap2.values()]}")
    m.logout()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--save-vectors", metavar="DIR",
                    help="copy the files Dovecot wrote in A into DIR")
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
    tmp = tempfile.mkdtemp(prefix="estafeta-dovecot-compat.")
    os.chmod(tmp, 0o755)
    dc = None
    try:
        tool = Tool(build_driver(tmp))
        bindir = imap_bindir(args.cache)
        dc = Dovecot(tmp, bindir, ["dove", "ours", "old"])
        dc.start()
        print(f"private Dovecot {subprocess.run(['/usr/sbin/dovecot', '--version'], capture_output=True, text=True).stdout.strip()}"
              f" pid {dc.pid} on 127.0.0.1:{dc.port}, separator '{SEP}', in {tmp}")
        scenario_a(dc, tool, args.save_vectors)
        scenario_b(dc, tool)
        scenario_c(dc, tool)
    finally:
        if dc is not None:
            dc.stop()
            log = os.path.join(dc.dir, "dovecot.log")
            if os.path.exists(log):
                errs = [ln for ln in open(log, errors="replace")
                        if "Error" in ln or "Warning" in ln or "Panic" in ln]
                for ln in errs:
                    if "Killed with signal 15" not in ln:
                        note("dovecot.log: " + ln.rstrip())
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    bad = results.count(False)
    print(f"{len(results) - bad} matched, {bad} mismatched")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
