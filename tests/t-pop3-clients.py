#!/usr/bin/env python3
"""tests/t-pop3-clients.py - pop3-handler with real clients over real
sockets under systemd-socket-activate on 127.0.0.1: Python poplib (plain,
STLS, POP3S with ECDSA and RSA certificates, APOP), curl pop3:// and
pop3s://, fetchmail (keep and no-keep), openssl s_client -starttls pop3,
STLS injection, the session lock, kill -9 after DELE, a 10 MiB message
byte-exact, a 100,000-message maildir, the login failure delay, and
plaintext refusal from a non-loopback address (in a private network
namespace)."""
import base64, hashlib, os, poplib, re, shutil, signal, socket, ssl
import subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: E402,F403

POP3 = os.environ.get("POP3_TEST_BIN", POP3)  # to try another build
require("pop3-clients", (POP3,), ("systemd-socket-activate", "cdb", "openssl"))

PKI = os.path.join(TMP, "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), PKI], check=True)
CA = os.path.join(PKI, "ca.pem")
MAIL = os.path.join(TMP, "mail")
PW = "pw"
HASH = subprocess.run(["openssl", "passwd", "-6", PW], check=True,
                      capture_output=True, text=True).stdout.strip()
USERS = ["alice", "fred", "big", "huge", "kim", "lock", "erin", "curl", "gone"]
with open(os.path.join(TMP, "users"), "w") as f:
    f.write("example.org domain\n")
    for u in USERS:
        f.write("%s@example.org %s %s/%s%s\n" % (
            u, HASH, MAIL, u, " apop=tanstaafl" if u == "erin" else ""))
DB = os.path.join(TMP, "users.cdb")
subprocess.run(["cdb", "-c", "-m", DB, os.path.join(TMP, "users")], check=True)

_seq = [0]


def deliver(user, body, sub="new"):
    """Writes a message the way a delivery names it (,S= and ,W=)."""
    d = os.path.join(MAIL, user)
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, s), exist_ok=True)
    _seq[0] += 1
    name = "%d.M%dP%dQ%d.clients,S=%d,W=%d" % (
        1700000000 + _seq[0], _seq[0], os.getpid(), _seq[0], len(body),
        len(body) + body.count(b"\n"))
    with open(os.path.join(d, sub, name), "wb") as f:
        f.write(body)
    return name


def pop3_form(body):
    """What RETR must send after the status line: CRLF, dot-stuffed."""
    lines = body.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = [b"." + l if l.startswith(b".") else l for l in lines]
    return b"\r\n".join(out) + b"\r\n.\r\n"


def msg(i, extra=b""):
    return (b"From: sender@example.net\nTo: someone@example.org\n"
            b"Subject: message %d\n\nbody of message %d\n.a dotted line\n%s"
            % (i, i, extra))


def maildir_count(user):
    d = os.path.join(MAIL, user)
    return sum(len(os.listdir(os.path.join(d, s))) for s in ("new", "cur"))


for u in ("alice", "fred", "kim", "lock", "erin", "curl"):
    for i in range(1, 4):
        deliver(u, msg(i))

EC = [os.path.join(PKI, "chain-ec.pem"), os.path.join(PKI, "ec.key")]
RSA = [os.path.join(PKI, "rsa.crt"), os.path.join(PKI, "rsa.key")]


def handler(*extra, throttle="throttle"):
    return [POP3, "--users", DB, "--throttle-file", os.path.join(TMP, throttle),
            "--hostname", "clients.test", "--fail-delay", "0"] + list(extra)


def serve(name, argv):
    port = free_port()
    log = os.path.join(TMP, name + ".log")
    srv = socket_activate(port, argv, log=log)
    return port, srv, log


P_STLS, S_STLS, L_STLS = serve("stls", handler("--tls", "starttls", "--cert", EC[0],
                                               "--key", EC[1]))
P_SSL_EC, _, _ = serve("pop3s-ec", handler("--tls", "implicit", "--cert", EC[0],
                                           "--key", EC[1]))
P_SSL_RSA, _, _ = serve("pop3s-rsa", handler("--tls", "implicit", "--cert", RSA[0],
                                             "--key", RSA[1]))
P_PLAIN, _, _ = serve("plain", handler(throttle="throttle-plain"))

CTX = ssl.create_default_context(cafile=CA)


def readlog(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# --- poplib, plain from loopback (plaintext allowed there) -----------------
try:
    p = poplib.POP3("127.0.0.1", P_STLS, timeout=10)
    caps = p.capa()
    check("capa before login: STLS, USER, SASL PLAIN, RESP-CODES",
          "STLS" in caps and "USER" in caps and caps.get("SASL") == ["PLAIN"]
          and "RESP-CODES" in caps and "PIPELINING" in caps, caps)
    p.user("alice@example.org")
    p.pass_(PW)
    n, size = p.stat()
    check("poplib plain: STAT", n == 3 and size > 0, (n, size))
    resp, lines, _ = p.retr(1)
    check("poplib plain: RETR content", b"\r\n".join(lines) + b"\r\n" ==
          msg(1).replace(b"\n", b"\r\n"), lines)
    resp, lines, _ = p.uidl()
    check("poplib plain: UIDL", len(lines) == 3 and all(
        re.match(rb"^\d+ \S+,S=\d+,W=\d+$", l) for l in lines), lines)
    caps = p.capa()
    check("capa after login: no USER/STLS", "USER" not in caps and "STLS" not in caps
          and "TOP" in caps, caps)
    p.quit()
except Exception as e:  # noqa: BLE001
    check("poplib plain session", False, repr(e))

# --- poplib STLS -------------------------------------------------------------
try:
    p = poplib.POP3("127.0.0.1", P_STLS, timeout=10)
    p.stls(context=CTX)
    caps = p.capa()
    check("STLS: capa after TLS has no STLS", "STLS" not in caps and "USER" in caps, caps)
    cipher = p.sock.cipher()
    check("STLS: TLS 1.2 ECDHE AEAD", cipher[1] == "TLSv1.2" and "ECDHE" in cipher[0]
          and ("GCM" in cipher[0] or "CHACHA20" in cipher[0]), cipher)
    p.user("alice@example.org")
    p.pass_(PW)
    check("STLS: login and STAT", p.stat()[0] == 3)
    try:
        p._shortcmd("STLS")
        check("STLS refused after login", False)
    except poplib.error_proto as e:
        check("STLS refused after login", str(e).startswith("b'-ERR"), e)
    p.quit()
except Exception as e:  # noqa: BLE001
    check("poplib STLS session", False, repr(e))

# --- POP3S, ECDSA and RSA ----------------------------------------------------
for label, port, kx in (("ECDSA", P_SSL_EC, "ECDHE-ECDSA"), ("RSA", P_SSL_RSA, "ECDHE-RSA")):
    try:
        p = poplib.POP3_SSL("127.0.0.1", port, context=CTX, timeout=10)
        cipher = p.sock.cipher()
        check("POP3S %s: TLS 1.2, %s" % (label, kx),
              cipher[1] == "TLSv1.2" and cipher[0].startswith(kx), cipher)
        caps = p.capa()
        check("POP3S %s: no STLS offered" % label, "STLS" not in caps and "USER" in caps, caps)
        p.user("alice@example.org")
        p.pass_(PW)
        resp, lines, _ = p.retr(2)
        check("POP3S %s: RETR" % label, b"message 2" in b"\n".join(lines))
        p.quit()
    except Exception as e:  # noqa: BLE001
        check("POP3S %s session" % label, False, repr(e))

# --- APOP -----------------------------------------------------------------
try:
    p = poplib.POP3("127.0.0.1", P_STLS, timeout=10)
    check("greeting carries an APOP timestamp",
          re.search(rb"<\d+\.\d+\.\d+@clients\.test>", p.getwelcome()), p.getwelcome())
    p.apop("erin@example.org", "tanstaafl")
    check("APOP login", p.stat()[0] == 3)
    p.quit()
    p = poplib.POP3("127.0.0.1", P_PLAIN, timeout=10)
    try:
        p.apop("alice@example.org", "tanstaafl")
        check("APOP refused for a user without apop=", False)
    except poplib.error_proto as e:
        check("APOP refused for a user without apop=", b"[AUTH]" in e.args[0], e)
    p.quit()
except Exception as e:  # noqa: BLE001
    check("APOP", False, repr(e))

# --- AUTH PLAIN through poplib's raw commands --------------------------------
try:
    p = poplib.POP3_SSL("127.0.0.1", P_SSL_EC, context=CTX, timeout=10)
    tok = base64.b64encode(b"\0alice@example.org\0" + PW.encode()).decode()
    r = p._shortcmd("AUTH PLAIN " + tok)
    check("AUTH PLAIN over POP3S", r.startswith(b"+OK"), r)
    p.quit()
except Exception as e:  # noqa: BLE001
    check("AUTH PLAIN over POP3S", False, repr(e))

# --- AUTH EXTERNAL with a client certificate (alice@example.org) -------------
try:
    port, _, _ = serve("pop3s-ca", handler("--tls", "implicit", "--cert", EC[0], "--key", EC[1],
                                           "--client-ca", CA, throttle="throttle-ca"))
    cctx = ssl.create_default_context(cafile=CA)
    cctx.load_cert_chain(os.path.join(PKI, "client.crt"), os.path.join(PKI, "client.key"))
    p = poplib.POP3_SSL("127.0.0.1", port, context=cctx, timeout=10)
    caps = p.capa()
    check("client cert: SASL PLAIN EXTERNAL offered", caps.get("SASL") == ["PLAIN", "EXTERNAL"], caps)
    r = p._shortcmd("AUTH EXTERNAL =")
    check("client cert: AUTH EXTERNAL logs in as alice", r.startswith(b"+OK") and
          p.stat()[0] == 3, r)
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", port, context=CTX, timeout=10)
    caps = p.capa()
    check("no client cert: no EXTERNAL, password still works",
          caps.get("SASL") == ["PLAIN"] and p.user("alice@example.org") and
          p.pass_(PW).startswith(b"+OK"), caps)
    try:
        p._shortcmd("AUTH EXTERNAL =")
        check("no client cert: AUTH EXTERNAL refused", False)
    except poplib.error_proto:
        check("no client cert: AUTH EXTERNAL refused", True)
    p.quit()
except Exception as e:  # noqa: BLE001
    check("AUTH EXTERNAL", False, repr(e))

# --- curl ----------------------------------------------------------------------
if shutil.which("curl"):
    cu = ["curl", "-s", "-S", "--max-time", "20", "-u", "curl@example.org:" + PW]
    r = subprocess.run(cu + ["pop3://127.0.0.1:%d/" % P_PLAIN], capture_output=True)
    check("curl pop3:// LIST", r.returncode == 0 and
          re.match(rb"^1 \d+\r\n2 \d+\r\n3 \d+\r\n$", r.stdout), (r.returncode, r.stdout, r.stderr))
    r = subprocess.run(cu + ["pop3://127.0.0.1:%d/2" % P_PLAIN], capture_output=True)
    check("curl pop3:// RETR", r.returncode == 0 and
          r.stdout.replace(b"\r\n", b"\n") == msg(2), (r.returncode, r.stdout[:200], r.stderr))
    r = subprocess.run(cu + ["--ssl-reqd", "--cacert", CA,
                             "pop3://127.0.0.1:%d/1" % P_STLS], capture_output=True)
    check("curl pop3:// with STLS (--ssl-reqd)", r.returncode == 0 and
          r.stdout.replace(b"\r\n", b"\n") == msg(1), (r.returncode, r.stdout[:200], r.stderr))
    for label, port in (("ECDSA", P_SSL_EC), ("RSA", P_SSL_RSA)):
        r = subprocess.run(cu + ["--cacert", CA, "pop3s://127.0.0.1:%d/" % port],
                           capture_output=True)
        check("curl pop3s:// LIST (%s)" % label, r.returncode == 0 and
              r.stdout.count(b"\r\n") == 3, (r.returncode, r.stdout, r.stderr))
        r = subprocess.run(cu + ["--cacert", CA, "pop3s://127.0.0.1:%d/3" % port],
                           capture_output=True)
        check("curl pop3s:// RETR (%s)" % label, r.returncode == 0 and
              r.stdout.replace(b"\r\n", b"\n") == msg(3), (r.returncode, r.stdout[:200], r.stderr))
else:
    skip("curl", "curl not installed")

# --- openssl s_client -starttls pop3 -----------------------------------------
r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % P_STLS,
                    "-starttls", "pop3", "-CAfile", CA, "-verify_return_error",
                    "-crlf", "-quiet", "-verify_quiet"],
                   input=b"USER alice@example.org\nPASS pw\nSTAT\nQUIT\n",
                   capture_output=True, timeout=30)
check("openssl s_client -starttls pop3", r.returncode == 0 and
      re.search(rb"\+OK 3 \d+\r\n", r.stdout) and b"+OK Bye" in r.stdout,
      (r.returncode, r.stdout, r.stderr[-300:]))


# --- a raw client ------------------------------------------------------------
class Raw:
    def __init__(self, port, tls_ctx=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        if tls_ctx:
            self.sock = tls_ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self):
        return self.f.readline()

    def cmd(self, c):
        self.sock.sendall(c.encode() + b"\r\n")
        return self.line()

    def multi(self):
        out = []
        while True:
            l = self.f.readline()
            if l in (b".\r\n", b""):
                return out
            out.append(l)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- STLS injection ------------------------------------------------------------
try:
    c = Raw(P_STLS)
    c.sock.sendall(b"STLS\r\nUSER alice@example.org\r\n")
    r = c.line()
    check("injection: STLS answered", r.startswith(b"+OK"), r)
    # the reader may have buffered nothing beyond the +OK line
    t = CTX.wrap_socket(c.sock, server_hostname="localhost")
    tf = t.makefile("rb")
    t.sendall(b"PASS pw\r\n")
    r = tf.readline()
    check("injection: pipelined USER was not executed", r.startswith(b"-ERR") and
          b"USER" in r, r)
    t.sendall(b"QUIT\r\n")
    tf.readline()
    t.close()
    time.sleep(0.3)
    check("injection: discarded bytes logged", "discarded" in readlog(L_STLS))
except Exception as e:  # noqa: BLE001
    check("STLS injection", False, repr(e))

# --- the session lock -------------------------------------------------------
try:
    # QUIT releases the lock before its +OK: reconnecting at once works
    results = []
    for _ in range(10):
        c = Raw(P_PLAIN)
        c.cmd("USER lock@example.org")
        results.append(c.cmd("PASS pw")[:3])
        c.cmd("QUIT")
        c.close()
    check("back-to-back sessions never meet their own lock",
          results == [b"+OK"] * 10, results)
except Exception as e:  # noqa: BLE001
    check("back-to-back sessions", False, repr(e))
try:
    a = Raw(P_PLAIN)
    a.cmd("USER lock@example.org")
    ra = a.cmd("PASS pw")
    b = Raw(P_PLAIN)
    b.cmd("USER lock@example.org")
    rb = b.cmd("PASS pw")
    check("second session gets [IN-USE]", ra.startswith(b"+OK") and
          rb.startswith(b"-ERR [IN-USE]"), (ra, rb))
    b.cmd("QUIT")
    b.close()
    a.cmd("QUIT")
    a.close()
    time.sleep(0.2)
    b = Raw(P_PLAIN)
    b.cmd("USER lock@example.org")
    check("lock released after QUIT", b.cmd("PASS pw").startswith(b"+OK"))
    b.cmd("QUIT")
    b.close()
except Exception as e:  # noqa: BLE001
    check("session lock", False, repr(e))


# --- kill -9 after DELE ------------------------------------------------------
def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    rest = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(rest[1]) == ppid:
                out.append(int(d))
    return out


try:
    port = free_port()
    srv = socket_activate(port, handler(throttle="throttle-kill"),
                          log=os.path.join(TMP, "kill.log"))
    before = maildir_count("kim")
    c = Raw(port)
    c.cmd("USER kim@example.org")
    c.cmd("PASS pw")
    r1, r2 = c.cmd("DELE 1"), c.cmd("DELE 2")
    # the readiness probe of socket_activate() has its own handler,
    # which may still be exiting (slowly, under sanitizers)
    for _ in range(100):
        kids = children(srv.proc.pid)
        if len(kids) <= 1:
            break
        time.sleep(0.05)
    check("kill: one handler running", len(kids) == 1, kids)
    for k in kids:
        os.kill(k, signal.SIGKILL)
    time.sleep(0.3)
    c.close()
    check("kill -9 after DELE deletes nothing", r1.startswith(b"+OK") and
          r2.startswith(b"+OK") and maildir_count("kim") == before, (r1, r2, before))
    c = Raw(port)
    c.cmd("USER kim@example.org")
    r = c.cmd("PASS pw")
    st = c.cmd("STAT")
    check("next session after kill works", r.startswith(b"+OK") and
          st.startswith(b"+OK %d " % before), (r, st))
    c.cmd("QUIT")
    c.close()
except Exception as e:  # noqa: BLE001
    check("kill -9", False, repr(e))

# --- a message removed by another program during the session ---------------
try:
    for i in range(1, 3):
        deliver("gone", msg(i))
    c = Raw(P_PLAIN)
    c.cmd("USER gone@example.org")
    c.cmd("PASS pw")
    d = os.path.join(MAIL, "gone", "new")
    first = sorted(os.listdir(d))[0]
    os.unlink(os.path.join(d, first))
    r = c.cmd("RETR 1")
    r2 = c.cmd("STAT")
    c.sock.sendall(b"RETR 2\r\n")
    r3 = c.line()
    c.multi()
    r4 = c.cmd("DELE 1")
    r5 = c.cmd("QUIT")
    c.close()
    check("vanished message: -ERR [SYS/TEMP], the session continues",
          r.startswith(b"-ERR [SYS/TEMP]") and r2.startswith(b"+OK 2 ") and
          r3.startswith(b"+OK") and r4.startswith(b"+OK") and r5.startswith(b"+OK"),
          (r, r2, r3, r4, r5))
    check("vanished message: the other one is intact", maildir_count("gone") == 1)
except Exception as e:  # noqa: BLE001
    check("vanished message", False, repr(e))

# --- a client trickling bytes is cut off by --timeout ------------------------
try:
    port, _, _ = serve("trickle", handler("--timeout", "1", throttle="throttle-trickle"))
    c = Raw(port)
    t0 = time.time()
    closed = False
    try:
        for ch in b"NOOPNOOPNOOPNOOPNOOPNOOP":
            c.sock.sendall(bytes([ch]))
            time.sleep(0.25)
            c.sock.settimeout(0.01)
            try:
                if c.sock.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
    except OSError:
        closed = True
    dt = time.time() - t0
    check("trickling client cut off after ~1 s", closed and dt < 6.0, (closed, dt))
    c.close()
except Exception as e:  # noqa: BLE001
    check("trickle", False, repr(e))

# --- a 10 MiB message, byte-exact --------------------------------------------
try:
    lines = []
    i = 0
    total = 0
    while total < 10 * 1024 * 1024:
        if i % 97 == 0:
            l = b"." * (i % 3 + 1) + b" dotted line %d" % i
        else:
            l = (b"line %08d " % i) + b"abcdefghijklmnopqrstuvwxyz0123456789" * 2
        lines.append(l)
        total += len(l) + 1
        i += 1
    body = b"From: big@example.net\nSubject: ten mebibytes\n\n" + b"\n".join(lines) + b"\n"
    deliver("huge", body)
    want = pop3_form(body)
    c = Raw(P_PLAIN)
    c.cmd("USER huge@example.org")
    c.cmd("PASS pw")
    st = c.cmd("STAT")
    check("10 MiB: STAT size = CRLF octets", st.strip() == b"+OK 1 %d" %
          (len(body) + body.count(b"\n")), st)
    t0 = time.time()
    c.sock.sendall(b"RETR 1\r\n")
    status = c.line()
    got = bytearray()
    while not got.endswith(b"\r\n.\r\n"):
        chunk = c.f.read1(1 << 20)
        if not chunk:
            break
        got += chunk
    dt = time.time() - t0
    check("10 MiB: status line", status == b"+OK %d octets\r\n" %
          (len(body) + body.count(b"\n")), status)
    check("10 MiB: RETR byte-exact (CRLF, dot-stuffed)", bytes(got) == want,
          (len(got), len(want)))
    print("info: RETR of %d octets in %.3f s (%.0f MiB/s, Python client)" %
          (len(got), dt, len(got) / dt / 1048576))
    c.cmd("QUIT")
    c.close()
except Exception as e:  # noqa: BLE001
    check("10 MiB message", False, repr(e))

# --- 100,000 messages ------------------------------------------------------
try:
    d = os.path.join(MAIL, "big")
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, s), exist_ok=True)
    body = b"From: a@example.net\nSubject: small\n\n" + b"x" * 900 + b"\n"
    w = len(body) + body.count(b"\n")
    t0 = time.time()
    for k in range(100000):
        sub = "cur" if k % 2 else "new"
        name = "%d.M%dP1Q%d.big,S=%d,W=%d%s" % (1600000000 + k, k, k, len(body), w,
                                                ":2,S" if sub == "cur" else "")
        fd = os.open(os.path.join(d, sub, name), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, body)
        os.close(fd)
    print("info: generated 100,000 messages in %.1f s" % (time.time() - t0))
    c = Raw(P_PLAIN)
    c.cmd("USER big@example.org")
    t0 = time.time()
    r = c.cmd("PASS pw")
    t1 = time.time()
    st = c.cmd("STAT")
    t2 = time.time()
    c.sock.sendall(b"UIDL\r\n")
    first = c.line()
    ul = c.multi()
    t3 = time.time()
    check("100k: login", r.startswith(b"+OK"), r)
    check("100k: STAT", st.strip() == b"+OK 100000 %d" % (100000 * w), st)
    check("100k: UIDL lists 100000 in order", first.startswith(b"+OK") and len(ul) == 100000
          and ul[0].startswith(b"1 1600000000.") and ul[-1].startswith(b"100000 1600099999."),
          (first, len(ul)))
    print("info: 100k maildir: login %.1f ms, STAT %.1f ms, UIDL %.1f ms (with the "
          "Python client)" % ((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3))
    c.sock.sendall(b"LIST 100000\r\nRETR 99999\r\n")
    l1 = c.line()
    l2 = c.line()
    c.multi()
    check("100k: LIST/RETR of late messages", l1.strip() == b"+OK 100000 %d" % w and
          l2.startswith(b"+OK"), (l1, l2))
    c.cmd("QUIT")
    c.close()
except Exception as e:  # noqa: BLE001
    check("100k maildir", False, repr(e))

# --- the login failure delay (on a pipe) -------------------------------------
try:
    t0 = time.time()
    r = subprocess.run([POP3, "--users", DB, "--throttle-file", os.path.join(TMP, "thr-delay"),
                        "--fail-delay", "1"],
                       input=b"USER alice@example.org\r\nPASS bad\r\nUSER alice@example.org\r\n"
                       b"PASS bad\r\nQUIT\r\n", capture_output=True, timeout=30)
    dt = time.time() - t0
    check("failed logins delayed 1 s then 2 s", r.stdout.count(b"-ERR [AUTH]") == 2 and
          dt >= 3.0, (dt, r.stdout))
except Exception as e:  # noqa: BLE001
    check("failure delay", False, repr(e))

# --- fetchmail (last: it deletes) -------------------------------------------
if shutil.which("fetchmail"):
    home = os.path.join(TMP, "fmhome")
    os.makedirs(home, exist_ok=True)
    out = os.path.join(TMP, "fetched.mbox")
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 service %d protocol pop3 auth password\n'
                '  user "fred@example.org" there with password "%s" is "root" here\n'
                '  sslproto "" mda "/bin/sh -c \'cat >> %s\'"\n' % (P_PLAIN, PW, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    base = ["fetchmail", "-f", rc, "--nosyslog", "--nodetach", "-a", "--pidfile",
            os.path.join(home, "pid")]
    before = maildir_count("fred")
    r = subprocess.run(base + ["-k"], env=env, capture_output=True, timeout=60)
    got = open(out, "rb").read() if os.path.exists(out) else b""
    check("fetchmail keep: retrieved all, kept all", r.returncode == 0 and
          got.count(b"Subject: message") == 3 and maildir_count("fred") == before,
          (r.returncode, r.stdout[-300:], r.stderr[-300:], maildir_count("fred")))
    r = subprocess.run(base, env=env, capture_output=True, timeout=60)
    got = open(out, "rb").read() if os.path.exists(out) else b""
    check("fetchmail no-keep: retrieved and deleted", r.returncode == 0 and
          got.count(b"Subject: message") == 6 and maildir_count("fred") == 0,
          (r.returncode, r.stdout[-300:], r.stderr[-300:], maildir_count("fred")))
else:
    skip("fetchmail", "fetchmail not installed")

# --- plaintext refused from a non-loopback address ----------------------------
# A private network namespace where 192.0.2.1 (TEST-NET-1) is a local
# address on lo: no packet leaves the machine.
NS_SCRIPT = r'''
set -e
ip link set lo up
ip addr add 192.0.2.1/32 dev lo
systemd-socket-activate -l 192.0.2.1:110 -a --inetd -E POSTERN_ALLOW_ROOT=1 "$@" 2>/dev/null &
pid=$!
trap 'kill $pid' EXIT
python3 - <<'PY'
import socket, time
for i in range(100):
    try:
        s = socket.create_connection(("192.0.2.1", 110), 1); break
    except OSError:
        time.sleep(0.05)
f = s.makefile("rb")
print(f.readline().decode().strip())
for c in (b"CAPA", b"USER alice@example.org", b"AUTH PLAIN AGFAYgBj", b"QUIT"):
    s.sendall(c + b"\r\n")
    l = f.readline()
    print(l.decode().strip())
    if c == b"CAPA":
        while l not in (b".\r\n", b""):
            l = f.readline(); print(l.decode().strip())
PY
'''
if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
    r = subprocess.run(["unshare", "-n", "bash", "-c", NS_SCRIPT, "ns"] +
                       handler(throttle="throttle-ns"), capture_output=True, timeout=30)
    o = r.stdout.decode(errors="replace")
    if r.returncode != 0 and "Operation not permitted" in r.stderr.decode(errors="replace"):
        skip("plaintext from non-loopback", "no network namespaces here")
    else:
        check("non-loopback: USER/SASL not advertised",
              "\nTOP" in o and "\nUSER\n" not in o and "SASL" not in o, o)
        check("non-loopback: USER and AUTH PLAIN refused with [AUTH]",
              o.count("-ERR [AUTH] Plaintext login") == 2, o)
else:
    skip("plaintext from non-loopback", "needs root, unshare and ip")

summary()
