#!/usr/bin/env python3
"""t-tls-resume.py - TLS session resumption through the shared session
cache (issue 20), under systemd-socket-activate on 127.0.0.1: one process
per connection, so a resumed session proves the cache file carried it.

- `openssl s_client -sess_out` then `-sess_in`: the second connection
  reports "Reused", on POP3S, POP3+STLS, SMTPS and submission+STARTTLS;
  without --tls-session-cache it reports "New" (the test fails before
  the cache exists);
- Python ssl (`session=` on the second wrap_socket): session_reused, and
  a login works over the resumed session;
- curl, two transfers in one process (two users, so two connections):
  "SSL re-using session ID";
- the server name is part of the session: another SNI gets a full
  handshake;
- a client-certificate session is never stored: the next handshake is a
  full one and AUTH EXTERNAL is offered again (a session without a
  certificate on the same port is resumed);
- expiry (--tls-session-lifetime 2): reused at once, not after 3 s;
- 50 concurrent handshakes sharing the cache all succeed, the file keeps
  its size, header and mode, and their sessions then resume;
- a truncated, grown, garbage, symlinked, foreign-owned or 0644 cache
  file: no resumption, one log line naming the reason, no crash; after
  removing it, resumption works again."""
import os, re, socket, ssl, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("tls-resume", (POP3, SMTP), ("openssl", "cdb", "systemd-socket-activate", "curl"))

# --- the options: --help, man pages, bad values -----------------------------------------
for prog, man in ((POP3, "pop3-handler.8"), (SMTP, "smtp-handler.8")):
    name = os.path.basename(prog)
    h = subprocess.run([prog, "--help"], capture_output=True, text=True)
    text = open(os.path.join(TOP, "man", man)).read()
    for o in ("tls-session-cache", "tls-session-lifetime"):
        check("%s: --%s in --help and the man page" % (name, o),
              h.returncode == 0 and "--" + o in h.stdout and
              "\\-\\-" + o.replace("-", "\\-") in text, o)
    for bad in (["--tls-session-lifetime", "0"], ["--tls-session-lifetime", "86401"],
                ["--tls-session-lifetime", "1h"], ["--tls-session-cache", ""]):
        r = subprocess.run([prog] + bad, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        check("%s %s: refused before any protocol" % (name, " ".join(bad) or "''"),
              r.returncode == 64 and r.stdout == "", (r.returncode, r.stdout))

PKI = os.path.join(TMP, "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), PKI], check=True)
CA = os.path.join(PKI, "ca.pem")
CHAIN = os.path.join(PKI, "chain-ec.pem")
KEY = os.path.join(PKI, "ec.key")
CCERT, CKEY = os.path.join(PKI, "client.crt"), os.path.join(PKI, "client.key")
MAIL = os.path.join(TMP, "mail")
for u in ("alice", "bob"):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(MAIL, u, sub))
DB = example_users(MAIL)
SPOOL = os.path.join(TMP, "spool")
os.makedirs(SPOOL)
CACHE_HDR = b"postern-tlscache"
CACHE_SIZE = 64 + 4096 * 192

POP = [POP3, "--users", DB, "--throttle-file", os.path.join(TMP, "throttle"), "--fail-delay", "0",
       "--cert", CHAIN, "--key", KEY]
SMT = [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test", "--auth-delay", "0",
       "--auth", "password,certificate", "--cert", CHAIN, "--key", KEY]
EP = {}


def endpoint(name, argv, cache=True, extra=(), path=None):
    port = free_port()
    log = os.path.join(TMP, name + ".log")
    path = path or os.path.join(TMP, "cache-" + name)
    a = list(argv) + (["--tls-session-cache", path] if cache else []) + list(extra)
    socket_activate(port, a, log=log)
    EP[name] = (port, log, path)


endpoint("pop3s", POP + ["--tls", "implicit"])
endpoint("pop3-stls", POP + ["--tls", "starttls"])
endpoint("smtps", SMT + ["--tls", "implicit"])
endpoint("submission", SMT + ["--tls", "starttls", "--require-tls"])
endpoint("pop3s-nocache", POP + ["--tls", "implicit"], cache=False)
endpoint("pop3s-cert", POP + ["--tls", "implicit", "--client-ca", CA])
endpoint("smtps-cert", SMT + ["--tls", "implicit", "--client-ca", CA])
endpoint("pop3s-short", POP + ["--tls", "implicit", "--tls-session-lifetime", "2"])
endpoint("pop3s-bad", POP + ["--tls", "implicit"])
# the same cache file as pop3s, another certificate: same key, the chain
# without the CA; and another key (RSA)
POP_NOCERT = [a for a in POP if a not in ("--cert", CHAIN, "--key", KEY)]
endpoint("pop3s-otherchain", POP_NOCERT + ["--tls", "implicit", "--cert", os.path.join(PKI, "ec.crt"),
                                           "--key", KEY], path=EP["pop3s"][2])
endpoint("pop3s-otherkey", POP_NOCERT + ["--tls", "implicit", "--cert", os.path.join(PKI, "rsa.crt"),
                                         "--key", os.path.join(PKI, "rsa.key")], path=EP["pop3s"][2])


# --- openssl s_client ------------------------------------------------------------
def s_client(ep, sess, save, name=None, cert=False):
    port = EP[ep][0]
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", CA,
            "-verify_return_error", "-no_ticket"]
    argv += ["-sess_out" if save else "-sess_in", sess]
    if name:
        argv += ["-servername", name]
    if cert:
        argv += ["-cert", CCERT, "-key", CKEY]
    if ep == "pop3-stls":
        argv += ["-starttls", "pop3"]
    elif ep == "submission":
        argv += ["-starttls", "smtp", "-name", "resume.test"]
    script = "QUIT\r\n" if ep.startswith("pop3") else "EHLO resume.test\r\nQUIT\r\n"
    r = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=20)
    m = re.search(r"^(New|Reused), TLSv1\.2", r.stdout, re.M)
    return (m.group(1) if m else None), r.stdout[-400:] + r.stderr[-300:]


def s_client_pair(ep, **kw):
    sess = os.path.join(TMP, "sess-%s-%d" % (ep, time.monotonic_ns()))
    a, _ = s_client(ep, sess, True, **kw)
    b, out = s_client(ep, sess, False, **kw)
    return a, b, out


for ep in ("pop3s", "pop3-stls", "smtps", "submission"):
    a, b, out = s_client_pair(ep)
    check("s_client %s: first connection New, second Reused" % ep, (a, b) == ("New", "Reused"),
          (a, b, out))
a, b, out = s_client_pair("pop3s-nocache")
check("s_client without --tls-session-cache: never Reused", (a, b) == ("New", "New"), (a, b, out))
a, b, out = s_client_pair("pop3s", name="localhost")
check("s_client with SNI localhost: Reused", (a, b) == ("New", "Reused"), (a, b, out))
for other in ("pop3s-otherchain", "pop3s-otherkey"):
    sess = os.path.join(TMP, "sess-" + other)
    a, _ = s_client("pop3s", sess, True)
    b, out = s_client(other, sess, False)
    c, _ = s_client("pop3s", sess, False)
    check("s_client: a session of pop3s is not resumed by %s (same cache file), but still by pop3s"
          % other, (a, b, c) == ("New", "New", "Reused"), (a, b, c, out))
sess = os.path.join(TMP, "sess-sni")
s_client("pop3s", sess, True, name="localhost")
b, out = s_client("pop3s", sess, False, name="other.example")
check("s_client: a session made for one server name is not resumed for another", b == "New",
      (b, out))


# --- Python ssl -----------------------------------------------------------------
def ctx(cert=False):
    c = ssl.create_default_context(cafile=CA)
    c.maximum_version = ssl.TLSVersion.TLSv1_2
    c.options |= ssl.OP_NO_TICKET
    if cert:
        c.load_cert_chain(CCERT, CKEY)
    return c


class Conn(CRLFLines):
    """A line-based client on a raw socket, upgraded to TLS when asked."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def wrap(self, c, session=None):
        self.s = c.wrap_socket(self.s, server_hostname="127.0.0.1", session=session)
        self.buf = b""

    def recv_some(self, end):
        return self.s.recv(4096)

    def cmd(self, s):
        self.s.sendall(s.encode() + b"\r\n")
        return self.reply()

    def capa(self):
        self.s.sendall(b"CAPA\r\n")
        lines = [self.line()]
        while lines[-1] != "." and lines[-1]:
            lines.append(self.line())
        return lines

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def py_session(ep, c, session=None, login=False, timeout=10):
    """One session; returns (session, reused, extra)."""
    port = EP[ep][0]
    k = Conn(port, timeout)
    try:
        if ep in ("pop3s", "smtps", "pop3s-cert", "smtps-cert", "pop3s-short", "pop3s-bad"):
            k.wrap(c, session)
            k.reply()
        elif ep == "pop3-stls":
            k.reply()
            r = k.cmd("STLS")
            assert r.startswith("+OK"), r
            k.wrap(c, session)
        else:
            k.reply()
            k.cmd("EHLO resume.test")
            r = k.cmd("STARTTLS")
            assert r.startswith("220"), r
            k.wrap(c, session)
        extra = None
        if ep.startswith("pop3"):
            caps = k.capa()
            extra = any(l.startswith("SASL") and "EXTERNAL" in l for l in caps)
            if login:
                r1 = k.cmd("USER alice@example.org")
                r2 = k.cmd("PASS pw")
                extra = r1.startswith("+OK") and r2.startswith("+OK") and \
                    k.cmd("STAT").startswith("+OK 0")
            k.cmd("QUIT")
        else:
            k.s.sendall(b"EHLO resume.test\r\n")
            lines = [k.line()]
            while lines[-1][3:4] == "-":
                lines.append(k.line())
            extra = any("AUTH" in l and "EXTERNAL" in l for l in lines)
            k.cmd("QUIT")
        return k.s.session, k.s.session_reused, extra
    finally:
        k.close()


for ep in ("pop3s", "pop3-stls", "smtps", "submission"):
    try:
        c = ctx()
        s1, r1, _ = py_session(ep, c)
        s2, r2, ok = py_session(ep, c, s1, login=ep.startswith("pop3"))
        check("python %s: session= resumes (session_reused)" % ep, not r1 and r2, (r1, r2))
        if ep.startswith("pop3"):
            check("python %s: login over the resumed session" % ep, ok, ok)
    except Exception as e:  # noqa: BLE001
        check("python %s" % ep, False, repr(e))


# --- curl: two transfers, one process -------------------------------------------
for ep, scheme in (("pop3s", "pop3s"), ("pop3-stls", "pop3"), ("smtps", "smtps"),
                   ("submission", "smtp")):
    port = EP[ep][0]
    url = "%s://127.0.0.1:%d/" % (scheme, port)
    base = ["--cacert", CA, "--noproxy", "*", "--max-time", "15"]
    if scheme in ("pop3", "smtp"):
        base += ["--ssl-reqd"]
    if ep.startswith("pop3"):
        t1 = base + ["-u", "alice@example.org:pw", url]
        t2 = base + ["-u", "bob@example.org:pw", url]
    else:
        msgf = os.path.join(TMP, "curlmsg")
        with open(msgf, "w") as f:
            f.write("Subject: resume\r\n\r\nhi\r\n")
        t1 = base + ["-u", "alice@example.org:pw", "--mail-from", "alice@example.org",
                     "--mail-rcpt", "bob@example.org", "--upload-file", msgf, url]
        t2 = base + ["-u", "bob@example.org:pw", "--mail-from", "bob@example.org",
                     "--mail-rcpt", "alice@example.org", "--upload-file", msgf, url]
    r = subprocess.run(["curl", "-v", "-sS"] + t1 + ["--next"] + t2, capture_output=True,
                       text=True, timeout=40)
    conns = len(re.findall(r"^\* Connected to", r.stderr, re.M))
    check("curl %s: second transfer re-uses the session ID (two connections)" % ep,
          r.returncode == 0 and conns == 2 and "SSL re-using session ID" in r.stderr,
          (r.returncode, conns, r.stderr[-800:]))


# --- client certificates: never cached ------------------------------------------------
for ep in ("pop3s-cert", "smtps-cert"):
    try:
        c = ctx(cert=True)
        s1, r1, ext1 = py_session(ep, c)
        s2, r2, ext2 = py_session(ep, c, s1)
        check("python %s with a client certificate: EXTERNAL offered, session not resumed, "
              "EXTERNAL offered again (full handshake)" % ep,
              ext1 and not r2 and ext2, (ext1, r2, ext2))
        c = ctx()
        s1, r1, _ = py_session(ep, c)
        s2, r2, ext2 = py_session(ep, c, s1)
        check("python %s without a certificate: resumed, no EXTERNAL" % ep, r2 and not ext2,
              (r2, ext2))
    except Exception as e:  # noqa: BLE001
        check("python %s" % ep, False, repr(e))
a, b, out = s_client_pair("pop3s-cert", cert=True)
check("s_client pop3s with a client certificate: second connection New", (a, b) == ("New", "New"),
      (a, b, out))


# --- expiry ----------------------------------------------------------------------------
sess = os.path.join(TMP, "sess-short")
a, _ = s_client("pop3s-short", sess, True)
b, out = s_client("pop3s-short", sess, False)
check("lifetime 2 s: reused at once", (a, b) == ("New", "Reused"), (a, b, out))
time.sleep(3.2)
b, out = s_client("pop3s-short", sess, False)
check("lifetime 2 s: not reused after 3 s", b == "New", (b, out))
with open(EP["pop3s-short"][2], "rb") as f:
    blob = f.read()
check("the cache file stays %d bytes" % CACHE_SIZE, len(blob) == CACHE_SIZE, len(blob))


# --- 50 concurrent handshakes ------------------------------------------------------------
def hammer(n):
    res = [None] * n
    c = ctx()

    def one(i):
        try:
            # 50 handshakes at once on a shared 2-CPU machine (or under
            # ASan) may take a while: the point is that none fails
            s, r, _ = py_session("pop3s", c, timeout=90)
            res[i] = s
        except Exception as e:  # noqa: BLE001
            res[i] = e
    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    return c, res


c50, res = hammer(50)
bad = [r for r in res if not isinstance(r, ssl.SSLSession)]
check("50 concurrent handshakes sharing the cache all succeed", not bad, bad[:3])
path = EP["pop3s"][2]
st = os.stat(path)
with open(path, "rb") as f:
    head = f.read(16)
check("after 50: the cache file keeps its size, mode 0600 and header",
      st.st_size == CACHE_SIZE and (st.st_mode & 0o7777) == 0o600 and head == CACHE_HDR,
      (st.st_size, oct(st.st_mode), head))
reused = 0
good = [r for r in res if isinstance(r, ssl.SSLSession)]
for s in good:
    try:
        _, r, _ = py_session("pop3s", c50, s, timeout=30)
        reused += bool(r)
    except Exception:  # noqa: BLE001
        pass
check("after 50: each of their sessions resumes", good and reused == len(good),
      (reused, len(good)))


# --- corrupt, foreign and swapped files -------------------------------------------------------
port, blog, bpath = EP["pop3s-bad"]


def make_valid(p):
    """A valid cache of another service: the same handler made it."""
    if os.path.lexists(p):
        os.unlink(p)
    s_client_pair("pop3s-bad")     # creates bpath
    os.rename(bpath, p)


def case_truncated():
    s_client_pair("pop3s-bad")
    os.truncate(bpath, CACHE_SIZE - 100)


def case_grown():
    s_client_pair("pop3s-bad")
    os.truncate(bpath, CACHE_SIZE + 4096)


def case_garbage():
    with open(bpath, "wb") as f:
        f.write(os.urandom(CACHE_SIZE))
    os.chmod(bpath, 0o600)


def case_symlink():
    real = os.path.join(TMP, "real-cache")
    make_valid(real)
    os.symlink(real, bpath)


def case_owner():
    s_client_pair("pop3s-bad")
    os.chown(bpath, 65534, 65534)


def case_mode():
    s_client_pair("pop3s-bad")
    os.chmod(bpath, 0o644)


CASES = [("truncated", case_truncated, "wrong size"), ("grown", case_grown, "wrong size"),
         ("garbage", case_garbage, "bad header"), ("symlink", case_symlink, "symbolic link"),
         ("other owner", case_owner, "not owned"), ("mode 0644", case_mode, "mode is not 0600")]
if os.geteuid() != 0:
    CASES = [c for c in CASES if c[0] != "other owner"]
    skip("cache owned by another user", "needs root to chown")
for name, setup, reason in CASES:
    if os.path.lexists(bpath):
        os.unlink(bpath)
    setup()
    before = os.path.getsize(blog)
    a, b, out = s_client_pair("pop3s-bad")
    time.sleep(0.2)
    with open(blog, "rb") as f:
        f.seek(before)
        text = f.read().decode("latin-1")
    lines = [l for l in text.splitlines() if "TLS session cache " + bpath in l]
    check("%s cache file: both connections work, none resumed" % name, (a, b) == ("New", "New"),
          (a, b, out))
    check("%s cache file: a log line per connection names the reason" % name,
          len(lines) == 2 and all(reason in l and "no session resumption" in l for l in lines),
          lines)
    os.unlink(bpath)
    a, b, out = s_client_pair("pop3s-bad")
    check("%s cache file removed: resumption works again" % name, (a, b) == ("New", "Reused"),
          (a, b, out))

# --- the logs ---------------------------------------------------------------------------------
time.sleep(0.3)
for ep, (port, log, path) in EP.items():
    text = open(log, errors="replace").read()
    crashed = re.findall(r"died with code (4|6|7|8|11)\b", text)
    crashed += re.findall(r"(?:AddressSanitizer|LeakSanitizer|runtime error).*", text)[:3]
    check("log %s: no handler crashed (no signal, no sanitizer report)" % ep, not crashed, crashed)
    if ep != "pop3s-bad":
        check("log %s: no cache warnings" % ep, "TLS session cache" not in text,
              [l for l in text.splitlines() if "TLS session cache" in l][:3])
text = open(EP["smtps"][1], errors="replace").read()
check("log smtps: resumed handshakes are logged", "(resumed)" in text, "")

summary()
