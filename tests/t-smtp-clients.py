#!/usr/bin/env python3
"""t-smtp-clients.py - smtp-handler with real clients over real sockets
under systemd-socket-activate: Python smtplib (plain, STARTTLS, SMTPS,
AUTH PLAIN/LOGIN), swaks (--pipeline, --tls, --auth), curl smtp:// and
smtps://, openssl s_client -starttls smtp; the STARTTLS injection
regression; 200 messages from 8 parallel clients; kill -9 during DATA;
ENOSPC on a small tmpfs; the idle timeout; fd-3 activation."""
import os, re, shutil, signal, smtplib, socket, ssl, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("smtp-clients", (SMTP,), ("cdb", "openssl", "systemd-socket-activate"))

PKI = os.path.join(TMP, "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), PKI], check=True)
CA = os.path.join(PKI, "ca.pem")
CERT = os.path.join(PKI, "chain-ec.pem")
KEY = os.path.join(PKI, "ec.key")
MAIL = os.path.join(TMP, "mail")
SPOOL = os.path.join(TMP, "spool")
FULL = os.path.join(TMP, "full")          # small tmpfs for ENOSPC
os.makedirs(MAIL)
os.makedirs(SPOOL)
os.makedirs(FULL)

HASH = subprocess.run(["openssl", "passwd", "-6", "secret"], check=True,
                      capture_output=True, text=True).stdout.strip()
with open(os.path.join(TMP, "users"), "w") as f:
    f.write(f"""example.test domain
alice@example.test {HASH} {MAIL}/alice
bob@example.test {HASH} {MAIL}/bob
load@example.test {HASH} {MAIL}/load
kill@example.test {HASH} {MAIL}/kill
full@example.test {HASH} {FULL}/maildir
postmaster@example.test alias alice@example.test
example.org domain
alice@example.org {HASH} {MAIL}/certuser
""")
DB = os.path.join(TMP, "users.cdb")
subprocess.run(["cdb", "-c", "-m", DB, os.path.join(TMP, "users")], check=True)

BASE = [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test",
        "--auth-delay", "0", "--throttle-file", os.path.join(TMP, "throttle")]
TLSARGS = ["--cert", CERT, "--key", KEY]
LOG = os.path.join(TMP, "server.log")

def serve(args, env=None):
    port = free_port()
    socket_activate(port, BASE + args, env=env, log=LOG)
    return port

P_MX = serve(["--auth", "anonymous,password", "--tls", "starttls"] + TLSARGS)
P_SUB = serve(["--auth", "password", "--tls", "starttls", "--require-tls"] + TLSARGS)
P_SMTPS = serve(["--auth", "password", "--tls", "implicit"] + TLSARGS)
P_CERT = serve(["--auth", "certificate,password", "--tls", "implicit",
                "--client-ca", CA] + TLSARGS)

CTX = ssl.create_default_context(cafile=CA)
CTX.check_hostname = False          # the certificate names localhost

def mailbox(user):
    d = os.path.join(MAIL, user, "new")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []

def read_msg(user, name):
    with open(os.path.join(MAIL, user, "new", name), "rb") as f:
        return f.read()

def wait_count(user, n, secs=5):
    end = time.time() + secs
    while time.time() < end and len(mailbox(user)) < n:
        time.sleep(0.05)
    return len(mailbox(user))

def split_headers(data):
    """Our three prepended headers, and the rest (exactly as sent)."""
    m = re.match(rb"(Return-Path: [^\n]*\nDelivered-To: [^\n]*\n"
                 rb"Received: [^\n]*(?:\n\t[^\n]*)*\n)(.*)\Z", data, re.S)
    return (m.group(1), m.group(2)) if m else (None, None)

BODY = ("From: sender@remote.test\r\nTo: alice@example.test\r\n"
        "Subject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?=\r\n\r\n"
        "Grüße — 8-bit body\r\n.leading dot\r\n\r\nlast line\r\n").encode()
STORED = BODY.replace(b"\r\n", b"\n")

def lines(f):
    """One (possibly multi-line) SMTP reply as a list of lines."""
    out = []
    while True:
        l = f.readline()
        out.append(l)
        if len(l) < 4 or l[3:4] != b"-":
            return out


def section(title, fn):
    """Runs one group of checks; an exception is one failure, not the end."""
    try:
        fn()
    except Exception as e:
        check(title, False, "exception: %r" % (e))

# --- smtplib, plain, 8BITMIME
def t00():
    before = len(mailbox("alice"))
    with smtplib.SMTP("127.0.0.1", P_MX, timeout=10) as c:
        c.ehlo("plain.client")
        check("ehlo advertises extensions",
              all(c.has_extn(x) for x in ("pipelining", "size", "8bitmime", "smtputf8",
                                          "enhancedstatuscodes", "chunking", "starttls", "auth")))
        c.sendmail("sender@remote.test", ["alice@example.test"], BODY,
                   mail_options=["BODY=8BITMIME"])
    check("smtplib plain: delivered", wait_count("alice", before + 1) == before + 1)
    data = read_msg("alice", mailbox("alice")[-1])
    hdr, rest = split_headers(data)
    check("plain: body stored byte for byte (LF, dot unstuffed, 8-bit)", rest == STORED, rest)
    check("plain: trace headers", hdr is not None and b"Return-Path: <sender@remote.test>\n" in hdr
          and b"Delivered-To: alice@example.test\n" in hdr and b"from plain.client ([127.0.0.1])" in hdr
          and b"with ESMTP id" in hdr and b"for <alice@example.test>;" in hdr, hdr)
    name = mailbox("alice")[-1]
    sz = re.search(r",S=(\d+),W=(\d+)", name)
    check("plain: ,S= and ,W= match the file", sz and int(sz.group(1)) == len(data)
          and int(sz.group(2)) == len(data) + data.count(b"\n"), name)


# --- smtplib STARTTLS + AUTH LOGIN
def t01():
    before = len(mailbox("bob"))
    with smtplib.SMTP("127.0.0.1", P_MX, timeout=10) as c:
        c.ehlo("tls.client")
        c.starttls(context=CTX)
        c.ehlo("tls.client")
        check("after STARTTLS no STARTTLS is offered", not c.has_extn("starttls"))
        c.user, c.password = "alice@example.test", "secret"
        code, _ = c.auth("LOGIN", c.auth_login)
        check("STARTTLS: AUTH LOGIN", code == 235, code)
        c.sendmail("alice@example.test", ["bob@example.test"], b"Subject: tls\r\n\r\nvia tls\r\n")
    check("STARTTLS: delivered", wait_count("bob", before + 1) == before + 1)
    hdr, rest = split_headers(read_msg("bob", mailbox("bob")[-1]))
    check("STARTTLS: Received names TLS and the user", hdr and b"with ESMTPSA" in hdr
          and b"TLSv1.2" in hdr and b"authenticated as alice@example.test" in hdr, hdr)


# --- submission: --require-tls
def t02():
    with smtplib.SMTP("127.0.0.1", P_SUB, timeout=10) as c:
        c.ehlo("sub.client")
        check("submission: no AUTH before TLS", not c.has_extn("auth"))
        code, _ = c.mail("alice@example.test")
        check("submission: MAIL before TLS is 530", code == 530, code)
        c.starttls(context=CTX)
        c.ehlo("sub.client")
        code, _ = c.mail("alice@example.test")
        check("submission: MAIL before AUTH is 530", code == 530, code)
        c.rset()
        c.login("alice@example.test", "secret")
        envdir = os.path.join(SPOOL, "outbound", "env")
        queued = len(os.listdir(envdir)) if os.path.isdir(envdir) else 0
        r = c.sendmail("alice@example.test", ["friend@remote.test"], b"Subject: out\r\n\r\nout\r\n")
        check("submission: relayed to the outbound queue", r == {}
              and len(os.listdir(envdir)) == queued + 1)


# --- SMTPS + AUTH PLAIN
def t03():
    with smtplib.SMTP_SSL("127.0.0.1", P_SMTPS, timeout=10, context=CTX) as c:
        c.ehlo("smtps.client")
        c.user, c.password = "alice@example.test", "secret"
        code, _ = c.auth("PLAIN", c.auth_plain)
        check("SMTPS: AUTH PLAIN", code == 235, code)
        try:
            c.login("alice@example.test", "secret")
        except smtplib.SMTPException:
            pass
        before = len(mailbox("alice"))
        c.sendmail("alice@example.test", ["alice@example.test"], b"Subject: smtps\r\n\r\nsmtps\r\n")
    check("SMTPS: delivered", wait_count("alice", before + 1) == before + 1)

    with smtplib.SMTP_SSL("127.0.0.1", P_SMTPS, timeout=10, context=CTX) as c:
        c.ehlo("smtps.client")
        try:
            c.login("alice@example.test", "wrong")
            ok = False
        except smtplib.SMTPAuthenticationError as e:
            ok = e.smtp_code == 535
        check("SMTPS: wrong password is 535", ok)


# --- swaks
def t04():
    def swaks(args, label):
        if not shutil.which("swaks"):
            skip(label, "swaks is not installed")
            return None
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--helo", "swaks.client",
                            "--from", "sender@remote.test", "--timeout", "10"] + args,
                           capture_output=True, text=True, timeout=60)
        return r

    before = len(mailbox("alice"))
    r = swaks(["--port", str(P_MX), "--to", "alice@example.test", "--pipeline"], "swaks --pipeline")
    if r is not None:
        check("swaks --pipeline", r.returncode == 0 and wait_count("alice", before + 1) == before + 1,
              r.stdout[-500:])
    before = len(mailbox("alice"))
    r = swaks(["--port", str(P_MX), "--to", "alice@example.test", "--tls"], "swaks --tls")
    if r is not None:
        check("swaks --tls", r.returncode == 0 and wait_count("alice", before + 1) == before + 1,
              r.stdout[-500:])
    before = len(mailbox("bob"))
    r = swaks(["--port", str(P_SUB), "--to", "bob@example.test", "--tls", "--auth", "PLAIN",
               "--auth-user", "alice@example.test", "--auth-password", "secret"], "swaks --auth")
    if r is not None:
        check("swaks --tls --auth PLAIN on submission",
              r.returncode == 0 and wait_count("bob", before + 1) == before + 1, r.stdout[-500:])
    r = swaks(["--port", str(P_SMTPS), "--to", "bob@example.test", "--tlsc", "--auth", "LOGIN",
               "--auth-user", "alice@example.test", "--auth-password", "secret"], "swaks --tlsc")
    if r is not None:
        check("swaks --tlsc --auth LOGIN on SMTPS", r.returncode == 0, r.stdout[-500:])


# --- curl
def t05():
    MSG = os.path.join(TMP, "curl.eml")
    with open(MSG, "wb") as f:
        f.write(b"Subject: curl\r\n\r\nuploaded by curl\r\n.dot line\r\n")
    if shutil.which("curl"):
        before = len(mailbox("alice"))
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "smtp://127.0.0.1:%d/curl.client" % P_MX,
                            "--mail-from", "sender@remote.test", "--mail-rcpt", "alice@example.test",
                            "--upload-file", MSG], capture_output=True, text=True)
        check("curl smtp://", r.returncode == 0 and wait_count("alice", before + 1) == before + 1, r.stderr)
        if r.returncode == 0:
            _, rest = split_headers(read_msg("alice", mailbox("alice")[-1]))
            check("curl smtp://: body exact", rest == b"Subject: curl\n\nuploaded by curl\n.dot line\n", rest)
        before = len(mailbox("alice"))
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", CA,
                            "smtps://127.0.0.1:%d/curl.client" % P_SMTPS,
                            "--user", "alice@example.test:secret",
                            "--mail-from", "alice@example.test", "--mail-rcpt", "alice@example.test",
                            "--upload-file", MSG], capture_output=True, text=True)
        check("curl smtps:// with AUTH", r.returncode == 0 and wait_count("alice", before + 1) == before + 1,
              r.stderr)
    else:
        skip("curl", "curl is not installed")


# --- openssl s_client -starttls smtp
def t06():
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % P_MX,
                        "-CAfile", CA, "-servername", "localhost", "-quiet", "-verify_return_error"],
                       input="EHLO openssl.client\r\nQUIT\r\n", capture_output=True, text=True, timeout=30)
    check("openssl s_client -starttls smtp", r.returncode == 0 and "250-mx.test" in r.stdout
          and "250-STARTTLS" not in r.stdout and "221" in r.stdout, r.stdout + r.stderr)
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % P_SMTPS, "-tls1_1"],
                       input="", capture_output=True, text=True, timeout=30)
    check("SMTPS refuses TLS 1.1", "Cipher is (NONE)" in r.stdout or r.returncode != 0)


# --- STARTTLS command injection (CVE-2011-0411 class)
def t07():
    s = socket.create_connection(("127.0.0.1", P_MX), timeout=10)
    f = s.makefile("rb")
    lines(f)
    s.sendall(b"EHLO inject.client\r\n")
    lines(f)
    s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\n")
    first = lines(f)[0]
    check("injection: 220 to STARTTLS", first.startswith(b"220"), first)
    t = CTX.wrap_socket(s, server_hostname="localhost")
    tf = t.makefile("rb")
    t.sendall(b"EHLO inject.client\r\n")
    lines(tf)
    t.sendall(b"MAIL FROM:<good@remote.test>\r\n")
    r1 = lines(tf)[0]
    check("injection: injected MAIL was not executed (MAIL is accepted, not 503)",
          r1.startswith(b"250"), r1)
    t.sendall(b"QUIT\r\n")
    lines(tf)
    t.close()
    with open(LOG, errors="replace") as lf:
        check("injection: discarded bytes were logged", "discarded" in lf.read())


# --- 200 messages from 8 parallel clients
def t08():
    N_CLIENTS, PER = 8, 25
    errors = []

    def client(k):
        try:
            with smtplib.SMTP("127.0.0.1", P_MX, timeout=30) as c:
                for i in range(PER):
                    mid = "<load-%d-%d@test>" % (k, i)
                    c.sendmail("sender@remote.test", ["load@example.test"],
                               ("Message-ID: %s\r\nSubject: load\r\n\r\n%s\r\n" % (mid, "x" * 4000)).encode())
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(N_CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    names = mailbox("load")
    ids = []
    for n in names:
        m = re.search(rb"Message-ID: (<[^>]*>)", read_msg("load", n))
        ids.append(m.group(1) if m else None)
    check("parallel: no client error", not errors, errors[:3])
    check("parallel: 200 messages arrived", len(names) == N_CLIENTS * PER, len(names))
    check("parallel: each exactly once", len(set(ids)) == N_CLIENTS * PER and None not in ids)


# --- kill -9 during DATA: nothing in new/, the next session works
def t09():
    p = subprocess.Popen(BASE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    started = time.time()
    p.stdin.write(b"EHLO killer\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<kill@example.test>\r\nDATA\r\n"
                  b"Subject: killed\r\n\r\n" + (b"y" * 998 + b"\r\n") * 200)
    p.stdin.flush()
    out = b""
    while b"354" not in out:
        out += p.stdout.read1(4096)
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    kdir = os.path.join(MAIL, "kill")
    check("kill -9: nothing in new/", mailbox("kill") == [])
    tmpf = os.listdir(os.path.join(kdir, "tmp")) if os.path.isdir(os.path.join(kdir, "tmp")) else []
    check("kill -9: tmp/ holds at most the killed session's file",
          len(tmpf) <= 1 and all(os.path.getmtime(os.path.join(kdir, "tmp", x)) >= started - 1 for x in tmpf), tmpf)
    r = subprocess.run(BASE, input=b"EHLO again\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<kill@example.test>\r\n"
                       b"DATA\r\nSubject: after\r\n\r\nok\r\n.\r\nQUIT\r\n", capture_output=True, timeout=30)
    check("kill -9: the next session delivers", len(mailbox("kill")) == 1, r.stdout)


# --- ENOSPC on a small tmpfs: 452 4.3.1, nothing partial, next one works
def t10():
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", FULL],
                             capture_output=True).returncode == 0
    if not mounted:
        skip("ENOSPC", "mounting a tmpfs is not permitted here")
    else:
        try:
            big = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 600
            with smtplib.SMTP("127.0.0.1", P_MX, timeout=30) as c:
                c.ehlo("full.client")
                try:
                    c.sendmail("a@remote.test", ["full@example.test"], big)
                    code = 250
                except smtplib.SMTPDataError as e:
                    code, msg = e.smtp_code, e.smtp_error
                check("ENOSPC: 452 4.3.1", code == 452, code)
                nd = os.path.join(FULL, "maildir")
                check("ENOSPC: nothing in new/ or tmp/",
                      os.listdir(os.path.join(nd, "new")) == [] and os.listdir(os.path.join(nd, "tmp")) == [])
                r = c.sendmail("a@remote.test", ["full@example.test"], b"Subject: small\r\n\r\nfits\r\n")
                check("ENOSPC: the next transaction works", r == {} and len(os.listdir(os.path.join(nd, "new"))) == 1)
        finally:
            subprocess.run(["umount", FULL])


# --- idle timeout
def t11():
    p_to = serve(["--timeout", "1"])
    s = socket.create_connection(("127.0.0.1", p_to), timeout=10)
    f = s.makefile("rb")
    lines(f)
    t0 = time.time()
    s.sendall(b"EHLO slow\r\n")
    lines(f)
    r = lines(f)[0]
    check("idle timeout: 421 4.4.2 after --timeout", r.startswith(b"421 4.4.2") and time.time() - t0 < 5, r)
    s.close()


# --- fd 3 (LISTEN_FDS) activation
def t12():
    port = free_port()
    Server(["systemd-socket-activate", "-l", "127.0.0.1:%d" % port, "-a",
            "-E", "POSTERN_ALLOW_ROOT=1"] + BASE, log=LOG)
    if wait_port(port):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            code, _ = c.noop()
            check("fd 3 activation", code == 250, code)
    else:
        check("fd 3 activation", False, "server did not start")


# --- AUTH EXTERNAL with a client certificate
def t_external():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.check_hostname = False
    ctx.load_cert_chain(os.path.join(PKI, "client.crt"), os.path.join(PKI, "client.key"))
    with smtplib.SMTP_SSL("127.0.0.1", P_CERT, timeout=10, context=ctx) as c:
        c.ehlo("cert.client")
        check("certificate: EXTERNAL offered", "EXTERNAL" in c.esmtp_features.get("auth", ""),
              c.esmtp_features)
        code, msg = c.docmd("AUTH", "EXTERNAL =")
        check("certificate: AUTH EXTERNAL", code == 235, (code, msg))
        r = c.sendmail("alice@example.org", ["friend@remote.test"], b"Subject: cert\r\n\r\nx\r\n")
        check("certificate: may relay", r == {})
    with smtplib.SMTP_SSL("127.0.0.1", P_CERT, timeout=10, context=CTX) as c:
        c.ehlo("nocert.client")
        check("no certificate: no EXTERNAL, password offered",
              "EXTERNAL" not in c.esmtp_features.get("auth", "")
              and "PLAIN" in c.esmtp_features.get("auth", ""), c.esmtp_features)
        code, _ = c.docmd("AUTH", "EXTERNAL =")
        check("no certificate: AUTH EXTERNAL refused", code == 504, code)
        code, _ = c.mail("a@remote.test")
        check("certificate,password port: MAIL before AUTH is 530", code == 530, code)


# --- a 25 MiB message: stored exactly, memory stays flat
def t_big():
    if not os.path.exists("/usr/bin/time"):
        skip("25 MiB", "/usr/bin/time is not installed")
        return
    line = b"0123456789" * 7 + b"abcdef\r\n"          # 78 octets
    n = 25 * 1024 * 1024 // len(line)
    msg = b"Subject: big\r\n\r\n" + line * n
    inp = (b"EHLO big.client\r\nMAIL FROM:<a@remote.test> SIZE=%d\r\n"
           b"RCPT TO:<bob@example.test>\r\nDATA\r\n" % len(msg)) + msg + b".\r\nQUIT\r\n"
    before = len(mailbox("bob"))
    r = subprocess.run(["/usr/bin/time", "-f", "maxrss=%M"] + BASE, input=inp,
                       capture_output=True, timeout=120)
    rss = int(re.search(rb"maxrss=(\d+)", r.stderr).group(1))
    check("25 MiB: accepted", b"250 2.0.0 OK id=" in r.stdout and len(mailbox("bob")) == before + 1,
          r.stdout[-300:])
    name = mailbox("bob")[-1]
    _, rest = split_headers(read_msg("bob", name))
    check("25 MiB: body exact", rest == msg.replace(b"\r\n", b"\n"))
    if b"__asan" in open(SMTP, "rb").read():
        skip("25 MiB: peak RSS", "sanitizer build: its memory is not the program's")
    else:
        check("25 MiB: peak RSS under 8 MiB (%d KiB)" % rss, rss < 8192, rss)


section('smtplib, plain, 8BITMIME', t00)
section('25 MiB message', t_big)
section('AUTH EXTERNAL', t_external)
section('smtplib STARTTLS + AUTH LOGIN', t01)
section('submission: --require-tls', t02)
section('SMTPS + AUTH PLAIN', t03)
section('swaks', t04)
section('curl', t05)
section('openssl s_client -starttls smtp', t06)
section('STARTTLS command injection (CVE-2011-0411 class)', t07)
section('200 messages from 8 parallel clients', t08)
section('kill -9 during DATA: nothing in new/, the next session works', t09)
section('ENOSPC on a small tmpfs: 452 4.3.1, nothing partial, next one works', t10)
section('idle timeout', t11)
section('fd 3 (LISTEN_FDS) activation', t12)
summary()
