#!/usr/bin/env python3
"""t-tls-logs.py - structured session summaries (issue 6).

The journal socket is replaced by a test listener (an AF_UNIX datagram
socket named by $POSTERN_JOURNAL_SOCKET, with POSTERN_LOG=journal), and
real TLS sessions run under systemd-socket-activate: a POP3S session
(client certificate, AUTH EXTERNAL, RETR) and an SMTPS session (password,
one message) each produce exactly one summary entry whose fields include
REMOTE_ADDR, USER, AUTH_MECH, TLS_VERSION, TLS_CIPHER, CLIENT_CERT,
MESSAGES, BYTES_IN, BYTES_OUT, DURATION_MS and RESULT, with the right
values; a refused certificate shows as CLIENT_CERT=CODE:NAME; and the
same sessions logged to stderr (POSTERN_LOG=stderr) give one text line
with the same keys."""
import os, poplib, shutil, smtplib, socket, ssl, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("tls-logs", (POP3, SMTP), ("openssl", "cdb", "systemd-socket-activate"))

PKI = os.path.join(TMP, "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), PKI], check=True, capture_output=True)
CA = os.path.join(PKI, "ca.pem")
CHAIN, SKEY = os.path.join(PKI, "chain-ec.pem"), os.path.join(PKI, "ec.key")
CLIENT = (os.path.join(PKI, "client.crt"), os.path.join(PKI, "client.key"))

# an untrusted client certificate for alice: same names, another CA
OTHER = os.path.join(TMP, "other")
os.makedirs(OTHER)
q = dict(check=True, capture_output=True)
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                OTHER + "/ca.key", "-out", OTHER + "/ca.pem", "-days", "2", "-subj", "/CN=other CA"], **q)
with open(OTHER + "/c.ext", "w") as f:
    f.write("extendedKeyUsage=clientAuth\nsubjectAltName=email:alice@example.org\n")
subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                OTHER + "/c.key"], **q)
subprocess.run(["openssl", "req", "-new", "-key", OTHER + "/c.key", "-subj", "/CN=alice",
                "-out", OTHER + "/c.csr"], **q)
subprocess.run(["openssl", "x509", "-req", "-in", OTHER + "/c.csr", "-CA", OTHER + "/ca.pem",
                "-CAkey", OTHER + "/ca.key", "-set_serial", "7", "-days", "2",
                "-extfile", OTHER + "/c.ext", "-out", OTHER + "/c.crt"], **q)
UNTRUSTED = (OTHER + "/c.crt", OTHER + "/c.key")

MAIL = os.path.join(TMP, "mail")
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(MAIL, "alice", sub))
with open(os.path.join(MAIL, "alice", "new", "1.M1P1.test,S=20,W=21"), "w") as f:
    f.write("Subject: hi\n\nhello\n")
SPOOL = os.path.join(TMP, "spool")
os.makedirs(SPOOL)
PW = "secret"
DB = example_users(MAIL, password=PW)

# --- the journal listener -------------------------------------------------------
JSOCK = os.path.join(TMP, "journal.sock")
jl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
jl.bind(JSOCK)
jl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)


def parse_entry(data):
    """journald's native protocol: KEY=value\\n, or KEY\\n<le64 len><bytes>\\n."""
    f, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            f[k.decode()] = v.decode(errors="replace")
            i = nl + 1
        else:
            n = int.from_bytes(data[nl + 1:nl + 9], "little")
            f[line.decode()] = data[nl + 9:nl + 9 + n].decode(errors="replace")
            i = nl + 9 + n + 1
    return f


def drain():
    out = []
    jl.settimeout(0.5)
    while True:
        try:
            out.append(parse_entry(jl.recv(65536)))
        except socket.timeout:
            return out


JENV = {"POSTERN_JOURNAL_SOCKET": JSOCK, "POSTERN_LOG": "journal"}
TLS = ["--cert", CHAIN, "--key", SKEY, "--client-ca", CA]
POP = [POP3, "--users", DB, "--throttle-file", os.path.join(TMP, "throttle"),
       "--fail-delay", "0", "--tls", "implicit"] + TLS
SMT = [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test", "--auth-delay", "0",
       "--auth", "password,certificate", "--tls", "implicit"] + TLS

P_POP = free_port()
socket_activate(P_POP, POP, env=JENV, log=os.path.join(TMP, "pop3.log"))
P_SMTP = free_port()
socket_activate(P_SMTP, SMT, env=JENV, log=os.path.join(TMP, "smtp.log"))
time.sleep(0.2)
drain()                       # the port probes' entries


def ctx(cert=None):
    c = ssl.create_default_context(cafile=CA)
    if cert:
        c.load_cert_chain(*cert)
    return c


def pop3_session(port, cert):
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx(cert), timeout=10)
    if cert == CLIENT:
        r = p._shortcmd("AUTH EXTERNAL =")
    else:
        p.user("alice@example.org")
        r = p.pass_(PW)
    p.retr(1)
    p.quit()
    return r


def smtp_session(port, cert):
    with smtplib.SMTP_SSL("127.0.0.1", port, context=ctx(cert), timeout=10) as c:
        c.ehlo("logs.test")
        c.login("alice@example.org", PW)
        c.sendmail("alice@example.org", ["alice@example.org"],
                   b"Subject: log test\r\n\r\nbody\r\n")


REQUIRED = ("REMOTE_ADDR", "USER", "AUTH_MECH", "TLS_VERSION", "TLS_CIPHER", "CLIENT_CERT",
            "MESSAGES", "BYTES_IN", "BYTES_OUT", "DURATION_MS", "RESULT")


def summaries(entries, what):
    return [e for e in entries if e.get("MESSAGE", "").startswith(what + " session")]


def check_summary(name, entries, what, want):
    s = summaries(entries, what)
    check("%s: exactly one summary entry" % name, len(s) == 1, [e.get("MESSAGE") for e in s])
    if not s:
        return None
    e = s[0]
    check("%s: all fields present" % name, all(k in e for k in REQUIRED),
          [k for k in REQUIRED if k not in e])
    check("%s: numeric fields are numbers, bytes counted" % name,
          all(e.get(k, "x").isdigit() for k in ("MESSAGES", "BYTES_IN", "BYTES_OUT",
                                                 "DURATION_MS"))
          and int(e.get("BYTES_IN", 0)) > 0 and int(e.get("BYTES_OUT", 0)) > 0, e)
    check("%s: TLS fields" % name, e.get("TLS_VERSION") == "TLSv1.2" and
          e.get("TLS_CIPHER", "").startswith("ECDHE-ECDSA-"), e)
    bad = {k: (e.get(k), v) for k, v in want.items() if e.get(k) != v}
    check("%s: field values %s" % (name, " ".join("%s=%s" % kv for kv in want.items())),
          not bad, bad)
    check("%s: journal metadata (PRIORITY=6, SYSLOG_IDENTIFIER, MESSAGE is the text line)"
          % name, e.get("PRIORITY") == "6" and
          e.get("SYSLOG_IDENTIFIER") == what + "-handler" and
          "RESULT=" + e.get("RESULT", "?") in e.get("MESSAGE", ""), e)
    return e


# --- journal: POP3 with a client certificate, SMTP with a password ----------------
try:
    r = pop3_session(P_POP, CLIENT)
    check("pop3 session with client certificate logged in", r.startswith(b"+OK"), r)
except Exception as e:  # noqa: BLE001
    check("pop3 session", False, repr(e))
ent = drain()
pop_e = check_summary("journal pop3 (EXTERNAL)", ent, "pop3", {
    "REMOTE_ADDR": "127.0.0.1", "USER": "alice@example.org", "AUTH_MECH": "EXTERNAL",
    "CLIENT_CERT": "alice@example.org", "MESSAGES": "1", "RESULT": "quit"})
check("journal pop3: the certificate line is its own entry",
      any("client certificate from 127.0.0.1: user alice@example.org" in e.get("MESSAGE", "")
          for e in ent), [e.get("MESSAGE") for e in ent])

try:
    smtp_session(P_SMTP, None)
except Exception as e:  # noqa: BLE001
    check("smtp session", False, repr(e))
ent = drain()
smtp_e = check_summary("journal smtp (PLAIN)", ent, "smtp", {
    "REMOTE_ADDR": "127.0.0.1", "USER": "alice@example.org", "AUTH_MECH": "PLAIN",
    "CLIENT_CERT": "-", "MESSAGES": "1", "RESULT": "quit"})

# a refused (untrusted) certificate: named in CLIENT_CERT with the reason
try:
    pop3_session(P_POP, UNTRUSTED)
    smtp_session(P_SMTP, UNTRUSTED)
except Exception as e:  # noqa: BLE001
    check("sessions with an untrusted certificate", False, repr(e))
ent = drain()
check_summary("journal pop3 (untrusted certificate)", ent, "pop3", {
    "USER": "alice@example.org", "AUTH_MECH": "USER",
    "CLIENT_CERT": "untrusted:alice@example.org", "MESSAGES": "1"})
check_summary("journal smtp (untrusted certificate)", ent, "smtp", {
    "USER": "alice@example.org", "AUTH_MECH": "PLAIN",
    "CLIENT_CERT": "untrusted:alice@example.org", "MESSAGES": "1"})
check("journal: the refusal has its reason",
      sum("not used: chain not trusted" in e.get("MESSAGE", "") for e in ent) == 2,
      [e.get("MESSAGE") for e in ent])
check("journal: nothing fell back to stderr",
      "pop3 session" not in open(os.path.join(TMP, "pop3.log"), errors="replace").read() and
      "smtp session" not in open(os.path.join(TMP, "smtp.log"), errors="replace").read())

# --- the text form: the same keys on one stderr line --------------------------------
SENV = {"POSTERN_LOG": "stderr"}
P_POP2, P_SMTP2 = free_port(), free_port()
socket_activate(P_POP2, POP, env=SENV, log=os.path.join(TMP, "pop3-text.log"))
socket_activate(P_SMTP2, SMT, env=SENV, log=os.path.join(TMP, "smtp-text.log"))
try:
    pop3_session(P_POP2, CLIENT)
    smtp_session(P_SMTP2, None)
except Exception as e:  # noqa: BLE001
    check("text-form sessions", False, repr(e))
time.sleep(0.3)
for what, journal_entry in (("pop3", pop_e), ("smtp", smtp_e)):
    with open(os.path.join(TMP, what + "-text.log"), errors="replace") as f:
        lines = [l for l in f if what + " session " in l and "USER=alice" in l]
    check("text %s: one summary line" % what, len(lines) == 1, lines)
    if not lines or not journal_entry:
        continue
    keys = [w.split("=", 1)[0] for w in lines[0].split(what + " session ", 1)[1].split()
            if "=" in w]
    jkeys = [k for k in journal_entry if k not in ("MESSAGE", "PRIORITY", "SYSLOG_FACILITY",
                                                   "SYSLOG_IDENTIFIER", "SYSLOG_PID")]
    check("text %s: the same keys as the journal entry" % what, sorted(keys) == sorted(jkeys),
          (keys, jkeys))
    check("text %s: starts with <6> (info)" % what, lines[0].startswith("<6>"), lines[0])

summary()
