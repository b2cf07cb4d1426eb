"""STARTTLS on SMTP (RFC 3207): the self-signed certificate, the handshake
with real clients, plaintext injection, and the required level."""
import os
import smtplib
import socket
import ssl
import subprocess

from harness import Server, check, eq, header, queued_id, split_message, test


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return lines
        lines.append(line)
        if line[3:4] != b"-":
            return lines


@test("tls: self-signed certificate for the hostname; STARTTLS then mail over TLS")
def t_starttls_mail():
    with Server() as s:
        cert = os.path.join(s.spool, "tls", "cert.pem")
        check(os.path.exists(cert), "no self-signed certificate in spool/tls")
        key = os.path.join(s.spool, "tls", "key.pem")
        eq(os.stat(key).st_mode & 0o077, 0, "key readable by others")
        p = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-subject", "-ext",
                            "subjectAltName"], capture_output=True, text=True)
        check("test.example" in p.stdout, "certificate names: %r" % p.stdout)
        import smtplib
        c = smtplib.SMTP("127.0.0.1", s.port, timeout=10)
        code, caps = c.ehlo()
        check(b"STARTTLS" in caps, "EHLO does not offer STARTTLS: %r" % caps)
        eq(c.starttls(context=client_ctx())[0], 220, "STARTTLS")
        code, caps = c.ehlo()
        check(b"STARTTLS" not in caps, "STARTTLS offered again inside TLS")
        eq(c.docmd("STARTTLS")[0], 503, "STARTTLS inside TLS")
        c.sendmail("a@example.org", ["user1@lala.local"], "Subject: over tls\r\n\r\nsecret\r\n")
        c.quit()
        s.wait_log(r"status=sent", 10)
        m = s.messages("user1")[-1]
        hdrs, body = split_message(m)
        rec = b"\n".join(l for l in m.split(b"\n\n")[0].split(b"\n"))
        check(b"with ESMTPS" in rec and b"(using TLSv1." in rec,
              "Received: does not record TLS: %r" % rec[:400])


@test("tls: STARTTLS injection: commands pipelined in clear text are discarded")
def t_starttls_injection():
    with Server() as s:
        r = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        f = r.makefile("rb")
        read_reply(f)
        r.sendall(b"EHLO x\r\n")
        read_reply(f)
        r.sendall(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n")
        eq(read_reply(f)[0][:3], b"220", "STARTTLS reply")
        t = client_ctx().wrap_socket(r, server_hostname="x")
        tf = t.makefile("rb")
        t.sendall(b"EHLO y\r\n")
        first = read_reply(tf)
        check(first and first[0].startswith(b"250-"),
              "first reply inside TLS is not the EHLO answer: %r" % first)
        t.sendall(b"RCPT TO:<user1@lala.local>\r\n")
        eq(read_reply(tf)[0][:3], b"503", "RCPT inside TLS: the clear-text MAIL must be gone")
        t.close()


@test("tls: MAIL before STARTTLS with smtpd_tls_security_level encrypt -> 530 5.7.0")
def t_tls_required():
    with Server(settings={"smtpd_tls_security_level": "encrypt"}) as s:
        with s.raw() as c:
            c.cmd("EHLO c.example")
            code, lines = c.cmd("MAIL FROM:<a@example.org>")
            eq(code, 530, "MAIL in clear text")
            check("5.7.0" in lines[0], "530 without 5.7.0: %r" % lines)


@test("tls: openssl s_client -starttls smtp completes a handshake")
def t_openssl_client():
    with Server() as s:
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % s.port,
                            "-starttls", "smtp", "-brief"], input="QUIT\n",
                           capture_output=True, text=True, timeout=20)
        out = p.stdout + p.stderr
        check("Protocol version: TLSv1.3" in out or "Protocol version: TLSv1.2" in out,
              "s_client did not negotiate TLS: %r" % out[-600:])


def make_cert(path_cert, path_key, cn):
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", path_key, "-out",
                        path_cert, "-subj", "/CN=" + cn, "-days", "2"],
                       capture_output=True, text=True)
    eq(p.returncode, 0, "openssl req (%s)" % p.stderr[-200:])
    os.chmod(path_key, 0o600)   # root's only, as in /etc/ssl/private


def peer_cn(port, sni=None, starttls=True):
    """The CN of the certificate a client gets (STARTTLS or implicit TLS)."""
    r = socket.create_connection(("127.0.0.1", port), timeout=10)
    if starttls:
        f = r.makefile("rb")
        read_reply(f)
        r.sendall(b"EHLO x\r\n")
        read_reply(f)
        r.sendall(b"STARTTLS\r\n")
        eq(read_reply(f)[0][:3], b"220", "STARTTLS")
    ctx = client_ctx()
    t = ctx.wrap_socket(r, server_hostname=sni)
    der = t.getpeercert(binary_form=True)
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der,
                       capture_output=True)
    t.close()
    m = p.stdout.decode().strip()
    return m.split("CN = ", 1)[-1] if "CN = " in m else m.split("CN=", 1)[-1]


@test("tls: tls_sni and a listener's own cert=; SIGHUP loads renewed certificates, "
      "a session in progress keeps working")
def t_sni_reload():
    import signal
    from harness import free_port
    with Server(start=False) as s:
        d = s.base
        for name, cn in (("main", "main.example"), ("sni", "other.example"),
                         ("own", "own.example")):
            make_cert(os.path.join(d, name + ".pem"), os.path.join(d, name + ".key"), cn)
        subs = free_port()
        s.set("tls_cert", os.path.join(d, "main.pem"))
        s.set("tls_key", os.path.join(d, "main.key"))
        s.settings.append(("tls_sni", "*.other.example %s/sni.pem %s/sni.key" % (d, d)))
        s.settings.append(("listen", "submissions 127.0.0.1:%d cert=%s/own.pem key=%s/own.key"
                           % (subs, d, d)))
        s.write_conf()
        s.start()
        eq(peer_cn(s.port), "main.example", "default certificate")
        eq(peer_cn(s.port, "mx.other.example"), "other.example", "SNI certificate")
        eq(peer_cn(s.port, "unknown.example"), "main.example", "unknown SNI name")
        eq(peer_cn(subs, starttls=False), "own.example", "listener's own certificate")
        eq(peer_cn(subs, "mx.other.example", starttls=False), "other.example",
           "SNI on the listener with its own certificate")

        # A session in TLS now, kept across the reload.
        c = smtplib.SMTP("127.0.0.1", s.port, timeout=10)
        c.ehlo()
        c.starttls(context=client_ctx())
        c.ehlo()
        make_cert(os.path.join(d, "main.pem"), os.path.join(d, "main.key"), "renewed.example")
        os.kill(s.proc.pid, signal.SIGHUP)
        s.wait_log(r"TLS certificates loaded", 10)
        eq(peer_cn(s.port), "renewed.example", "certificate after SIGHUP")
        c.sendmail("a@example.org", ["user1@lala.local"], "Subject: kept\r\n\r\nacross reload\r\n")
        c.quit()
        s.wait_log(r"status=sent", 10)

        # A broken key file: the reload keeps the certificates in use.
        with open(os.path.join(d, "main.key"), "w") as f:
            f.write("not a key\n")
        os.kill(s.proc.pid, signal.SIGHUP)
        s.wait_log(r"TLS reload failed, keeping the certificates in use", 10)
        eq(peer_cn(s.port), "renewed.example", "certificate after a failed reload")
