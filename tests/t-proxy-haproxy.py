#!/usr/bin/env python3
"""t-proxy-haproxy.py - the PROXY protocol with a real HAProxy (issue 19).

HAProxy (Debian's haproxy, started here as a plain process on loopback with
a generated configuration, mode tcp) sits in front of pop3-handler (POP3,
and POP3S as TLS passthrough) and smtp-handler (SMTP and submission with
STARTTLS), each under systemd-socket-activate with --proxy-from 127.0.0.1;
every service is reached once through `send-proxy` (v1) and once through
`send-proxy-v2`. Clients come from 127.0.0.2, 127.0.0.3 (bound source
addresses) and ::1. Asserted is what the handlers saw: the session
summary's REMOTE_ADDR and PROXY_VIA, the login log line, the Received:
header, the relay decision (--relay-clients 127.0.0.2: 127.0.0.2 may
relay, 127.0.0.3 may not, though HAProxy itself is 127.0.0.1), the
throttle key (failed logins from 127.0.0.3 throttle 127.0.0.3 only), and
that without a header from the balancer's address nothing is served while
a forged PROXY line from elsewhere is only a bad command."""
import os, re, socket, smtplib, ssl, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("proxy-haproxy", (POP3, SMTP), ("haproxy", "openssl", "cdb", "systemd-socket-activate"))

PKI = os.path.join(TMP, "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), PKI], check=True, capture_output=True)
CHAIN, SKEY = os.path.join(PKI, "chain-ec.pem"), os.path.join(PKI, "ec.key")
MAIL = os.path.join(TMP, "mail")
SPOOL = os.path.join(TMP, "spool")
os.makedirs(SPOOL)
PW = "secret"
DB = example_users(MAIL, password=PW)
THR = os.path.join(TMP, "throttle")
LOGENV = {"POSTERN_LOG": "stderr"}

ipv6 = True
try:
    s6 = socket.socket(socket.AF_INET6)
    s6.bind(("::1", 0))
    s6.close()
except OSError:
    ipv6 = False

# --- the handlers, each behind its activator on 127.0.0.1 -------------------------
services = {
    "pop3": [POP3, "--users", DB, "--throttle-file", THR, "--fail-delay", "0"],
    "pop3s": [POP3, "--users", DB, "--throttle-file", THR, "--fail-delay", "0",
              "--tls", "implicit", "--cert", CHAIN, "--key", SKEY],
    "smtp": [SMTP, "--users", DB, "--spool", SPOOL, "--throttle-file", THR,
             "--hostname", "mx.test", "--auth", "anonymous", "--relay-clients", "127.0.0.2"],
    "submission": [SMTP, "--users", DB, "--spool", SPOOL, "--throttle-file", THR,
                   "--hostname", "mx.test", "--auth", "password", "--tls", "starttls",
                   "--require-tls", "--cert", CHAIN, "--key", SKEY, "--auth-delay", "0"],
}
back, logs = {}, {}
for name, argv in services.items():
    back[name] = free_port()
    logs[name] = os.path.join(TMP, name + ".log")
    socket_activate(back[name], argv + ["--proxy-from", "127.0.0.1"], env=LOGENV,
                    log=logs[name])

# --- HAProxy: a v1 and a v2 front end per service ---------------------------------
front = {}
cfg = ["global", "    maxconn 200", "defaults", "    mode tcp",
       "    timeout connect 5s", "    timeout client 60s", "    timeout server 60s"]
for name in services:
    for ver, opt in (("v1", "send-proxy"), ("v2", "send-proxy-v2")):
        port = free_port()
        front[name, ver] = port
        cfg += ["listen %s_%s" % (name, ver), "    bind 127.0.0.1:%d" % port]
        if ipv6:
            cfg += ["    bind ipv6@::1:%d" % port]
        cfg += ["    server s1 127.0.0.1:%d %s" % (back[name], opt)]
HCFG = os.path.join(TMP, "haproxy.cfg")
with open(HCFG, "w") as f:
    f.write("\n".join(cfg) + "\n")
r = subprocess.run(["haproxy", "-c", "-f", HCFG], capture_output=True, text=True)
if not check("haproxy accepts the generated configuration", r.returncode == 0, r.stderr[-400:]):
    summary()
Server(["haproxy", "-db", "-f", HCFG], log=os.path.join(TMP, "haproxy.log"))
for (name, ver), port in front.items():
    if not wait_port(port):
        check("haproxy listens on %s %s" % (name, ver), False)
        summary()


def connect(port, src, family=socket.AF_INET):
    dst = "127.0.0.1" if family == socket.AF_INET else "::1"
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(20)
    s.bind((src, 0))
    s.connect((dst, port))
    return s


class Line(CRLFLines):
    """CRLF lines over a socket (plain or TLS)."""

    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def recv_some(self, end):
        try:
            return self.s.recv(4096)
        except (socket.timeout, OSError):
            return b""          # as the end of the stream

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.line()


def pop3_login(port, src, user, pw, family=socket.AF_INET, tls=False):
    """Greeting, USER, PASS, STAT, QUIT: the PASS reply."""
    s = connect(port, src, family)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    l = Line(s)
    greet = l.line()
    if not greet.startswith("+OK"):
        s.close()
        return "greeting: " + greet
    l.cmd("USER " + user)
    r = l.cmd("PASS " + pw)
    if r.startswith("+OK"):
        l.cmd("STAT")
    l.cmd("QUIT")
    s.close()
    return r


def log_text(name):
    time.sleep(0.3)    # the summary is written as the handler exits
    with open(logs[name], errors="replace") as f:
        return f.read()


def summaries(name):
    """The session summaries of the test's clients (each from 127.0.0.2 and
    up, or ::1); the readiness probes through HAProxy (from 127.0.0.1,
    nothing sent) may log theirs at any later moment on a loaded
    machine, so they are left out."""
    return [l for l in log_text(name).splitlines() if " session REMOTE_ADDR=" in l
            and not (" REMOTE_ADDR=127.0.0.1 PROXY_VIA=127.0.0.1 " in l and " BYTES_IN=0 " in l)]


def wait_summaries(name, n, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        s = summaries(name)
        if len(s) >= n:
            return s
    return summaries(name)


# --- POP3 through send-proxy (v1) and send-proxy-v2 -------------------------------
r = pop3_login(front["pop3", "v1"], "127.0.0.2", "alice@example.org", PW)
check("POP3 via send-proxy from 127.0.0.2: login", r.startswith("+OK"), r)
s = wait_summaries("pop3", 1)
check("POP3 v1: the summary names the client and the balancer",
      s and "REMOTE_ADDR=127.0.0.2 PROXY_VIA=127.0.0.1 " in s[-1] and "USER=alice@example.org" in s[-1],
      s[-1:] if s else "no summary")
check("POP3 v1: the login line names the client",
      "login: user=alice@example.org mech=USER peer=127.0.0.2" in log_text("pop3"))

r = pop3_login(front["pop3", "v2"], "127.0.0.3", "alice@example.org", PW)
check("POP3 via send-proxy-v2 from 127.0.0.3: login", r.startswith("+OK"), r)
s = wait_summaries("pop3", 2)
check("POP3 v2: REMOTE_ADDR=127.0.0.3", s and "REMOTE_ADDR=127.0.0.3 PROXY_VIA=127.0.0.1 " in s[-1],
      s[-1:] if s else "")
if ipv6:
    r = pop3_login(front["pop3", "v2"], "::1", "alice@example.org", PW, socket.AF_INET6)
    check("POP3 via send-proxy-v2 from ::1: login", r.startswith("+OK"), r)
    s = wait_summaries("pop3", 3)
    check("POP3 v2 over IPv6: REMOTE_ADDR=::1", s and "REMOTE_ADDR=::1 PROXY_VIA=127.0.0.1 " in s[-1],
          s[-1:] if s else "")
    r = pop3_login(front["pop3", "v1"], "::1", "alice@example.org", PW, socket.AF_INET6)
    s = wait_summaries("pop3", 4)
    check("POP3 v1 (TCP6) from ::1: login, REMOTE_ADDR=::1",
          r.startswith("+OK") and s and "REMOTE_ADDR=::1 PROXY_VIA=127.0.0.1 " in s[-1], (r, s[-1:]))
else:
    skip("POP3 over IPv6", "no ::1 on this host")

# --- POP3S: TLS passes through HAProxy; the header comes before the handshake ------
for ver, src in (("v1", "127.0.0.2"), ("v2", "127.0.0.3")):
    n = len(summaries("pop3s"))
    r = pop3_login(front["pop3s", ver], src, "alice@example.org", PW, tls=True)
    check("POP3S (TLS passthrough) via %s from %s: login" % (ver, src), r.startswith("+OK"), r)
    s = wait_summaries("pop3s", n + 1)
    check("POP3S %s: REMOTE_ADDR=%s with TLS" % (ver, src),
          s and ("REMOTE_ADDR=%s PROXY_VIA=127.0.0.1 " % src) in s[-1] and "TLS_VERSION=TLS1.2" in s[-1]
          .replace("TLSv1.2", "TLS1.2").replace("TLS 1.2", "TLS1.2"), s[-1:] if s else "")

# --- the throttle key is the client's address --------------------------------------
for i in range(5):    # the first 3 failures cost nothing, the 5th try waits
    r = pop3_login(front["pop3", "v1" if i % 2 else "v2"], "127.0.0.3", "bob@example.org", "wrong")
text = log_text("pop3")
check("failed logins through the balancer are recorded for 127.0.0.3",
      "login failed: user=bob@example.org mech=USER peer=127.0.0.3" in text)
check("127.0.0.3 is throttled after its failures", "peer 127.0.0.3 throttled" in text,
      [l for l in text.splitlines() if "throttled" in l or "failed" in l][-4:])
check("the balancer's address is never the throttle key",
      "peer 127.0.0.1 throttled" not in text and "peer=127.0.0.1" not in text)
r = pop3_login(front["pop3", "v2"], "127.0.0.2", "alice@example.org", PW)
check("127.0.0.2 through the same balancer is not throttled", r.startswith("+OK"), r)
check("no throttling of 127.0.0.2", "peer 127.0.0.2 throttled" not in log_text("pop3"))


# --- SMTP: relay decision and Received: by the client's address --------------------
def smtp_send(port, src, rcpts, subject, family=socket.AF_INET, starttls=False, login=None):
    """Returns (refused recipients dict or exception text)."""
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    try:
        c = smtplib.SMTP(host, port, local_hostname="client.test", timeout=20,
                         source_address=(src, 0))
        if starttls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c.starttls(context=ctx)
            c.ehlo("client.test")
        if login:
            c.login(*login)
        refused = c.sendmail("sender@example.net", rcpts,
                             "Subject: %s\r\nMessage-ID: <%s@test>\r\n\r\nbody\r\n" % (subject, subject))
        c.quit()
        return refused
    except smtplib.SMTPRecipientsRefused as e:
        return {k: v for k, v in e.recipients.items()}
    except Exception as e:
        return "error: %r" % e


def delivered(subject):
    d = os.path.join(MAIL, "alice", "new")
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, f), errors="replace") as fh:
            t = fh.read()
        if "Subject: %s\n" % subject in t:
            return t
    return ""


def queued():
    d = os.path.join(SPOOL, "outbound", "env")
    out = []
    for f in os.listdir(d) if os.path.isdir(d) else []:
        with open(os.path.join(d, f), errors="replace") as fh:
            out.append(fh.read())
    return out


r = smtp_send(front["smtp", "v1"], "127.0.0.2", ["alice@example.org", "friend@remote.test"], "relay-v1")
check("SMTP via send-proxy from 127.0.0.2 (in --relay-clients): both recipients accepted", r == {}, r)
t = delivered("relay-v1")
check("Received: names 127.0.0.2", "Received: from client.test ([127.0.0.2])" in t, t[:300])
check("the remote recipient is queued for relaying",
      any("rcpt P friend@remote.test" in e for e in queued()), queued())

r = smtp_send(front["smtp", "v2"], "127.0.0.3", ["alice@example.org", "other@remote.test"], "relay-v2")
check("SMTP via send-proxy-v2 from 127.0.0.3 (outside --relay-clients): relaying refused",
      isinstance(r, dict) and list(r) == ["other@remote.test"] and r["other@remote.test"][0] == 554, r)
t = delivered("relay-v2")
check("Received: names 127.0.0.3", "Received: from client.test ([127.0.0.3])" in t, t[:300])
s = wait_summaries("smtp", 2)
check("SMTP summaries name the clients and the balancer",
      len(s) >= 2 and "REMOTE_ADDR=127.0.0.2 PROXY_VIA=127.0.0.1 " in s[-2]
      and "REMOTE_ADDR=127.0.0.3 PROXY_VIA=127.0.0.1 " in s[-1], s[-2:])
if ipv6:
    r = smtp_send(front["smtp", "v1"], "::1", ["alice@example.org", "third@remote.test"], "relay-v6",
                  socket.AF_INET6)
    check("SMTP via send-proxy from ::1: relaying refused (not listed)",
          isinstance(r, dict) and list(r) == ["third@remote.test"], r)
    t = delivered("relay-v6")
    check("Received: names [IPv6:::1]", "Received: from client.test ([IPv6:::1])" in t, t[:300])

# --- submission: STARTTLS and AUTH after the header --------------------------------
for ver, src in (("v1", "127.0.0.4"), ("v2", "127.0.0.2")):
    subj = "submission-" + ver
    r = smtp_send(front["submission", ver], src, ["alice@example.org"], subj, starttls=True,
                  login=("alice@example.org", PW))
    check("submission via %s from %s: STARTTLS, AUTH, accepted" % (ver, src), r == {}, r)
    t = delivered(subj)
    check("submission %s: Received: names %s" % (ver, src),
          ("Received: from client.test ([%s])" % src) in t, t[:300])
s = wait_summaries("submission", 2)
check("submission summaries: client, balancer, user and TLS",
      len(s) >= 2 and "REMOTE_ADDR=127.0.0.2 PROXY_VIA=127.0.0.1 " in s[-1]
      and "USER=alice@example.org" in s[-1] and "TLS_VERSION=-" not in s[-1], s[-2:])

# --- straight to the handler: no header from the balancer's address; a forged one --
sock = connect(back["pop3"], "127.0.0.1")
sock.sendall(b"CAPA\r\n")
got = Line(sock).line()
sock.close()
check("from the balancer's address without a header: closed, no greeting", got == "", got)
check("... and logged", re.search(r"PROXY header from 127\.0\.0\.1: .*closing", log_text("pop3")) is not None)
sock = connect(back["smtp"], "127.0.0.2")
l = Line(sock)
greet = l.line()
r = l.cmd("PROXY TCP4 127.0.0.2 127.0.0.1 1234 25")
l.cmd("QUIT")
sock.close()
check("from an unlisted address a PROXY line is an unknown command",
      greet.startswith("220") and r.startswith("500"), (greet, r))

summary()
