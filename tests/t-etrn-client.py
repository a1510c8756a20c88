#!/usr/bin/env python3
"""t-etrn-client.py - etrn-client against the recording sink: usage
errors (64), a server without ETRN (69, the queue still pushed), ETRN
replies mapped to exit codes, connection failure (75), AUTH, STARTTLS
with certificate checks, the outbound push (10 messages, one recipient
deferred -> 9 leave, 1 stays; 5xx -> DSN), two concurrent runs never
sending a message twice, and --linger."""
import os, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

if not os.access(ETRN, os.X_OK):
    skip("etrn-client", "etrn-client is not built")
    summary()


def readf(path):
    return open(path).read() if os.path.exists(path) else ""


def run(args, timeout=60):
    p = subprocess.run([ETRN] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# usage
for args, name in (([], "no arguments"), (["host"], "no node"),
                   (["--tls", "maybe", "h", "n.example"], "bad --tls"),
                   (["--auth-user", "u", "h", "n.example"], "--auth-user alone"),
                   (["h", "bad..node"], "invalid node"),
                   (["--port", "70000", "h", "n.example"], "bad port"),
                   (["--frobnicate", "h", "n.example"], "unknown option")):
    rc, out, err = run(args)
    check("usage: %s -> 64" % name, rc == 64, (rc, err))
rc, out, err = run(["--help"])
check("--help lists every option", rc == 0 and all(o in out for o in (
    "--port", "--tls", "--ca", "--helo", "--auth-user", "--auth-password-file",
    "--push", "--timeout", "--linger")), out)
rc, out, err = run(["--version"])
check("--version", rc == 0 and "etrn-client" in out, out)

# connection refused -> 75
rc, out, err = run(["--port", str(free_port()), "--timeout", "5", "127.0.0.1", "n.example"])
check("connection refused -> 75", rc == 75, (rc, err))

# a server without ETRN -> 69 (but the push still happens)
p_noetrn = free_port()
d_noetrn = os.path.join(TMP, "sink-noetrn")
start_sink(d_noetrn, p_noetrn, "--no-etrn")
rc, out, err = run(["--port", str(p_noetrn), "127.0.0.1", "dialup.example"])
check("no ETRN advertised -> 69", rc == 69, (rc, out, err))
check("no ETRN: one line per node on stdout", out.strip() ==
      "dialup.example: not sent (the server does not offer ETRN)", out)
check("no ETRN: a clear message", "does not advertise ETRN" in err, err)
check("no ETRN: no ETRN command sent",
      "ETRN" not in readf(os.path.join(d_noetrn, "commands.log")))

# ETRN replies -> exit codes
port = free_port()
sinkdir = os.path.join(TMP, "sink")
replies = os.path.join(TMP, "replies")
open(replies, "w").close()
start_sink(sinkdir, port, "--replies", replies, "--auth", "site@isp.test:pw0rd")
rc, out, err = run(["--port", str(port), "--helo", "me.example", "127.0.0.1",
                    "dialup.example", "@other.example", "#q1.example"])
check("ETRN accepted -> 0", rc == 0, (rc, out, err))
check("one line per node", len(out.strip().splitlines()) == 3 and
      out.startswith("dialup.example: 250 "), out)
check("the sink saw the three ETRNs",
      readf(os.path.join(sinkdir, "etrn.log")).split() ==
      ["dialup.example", "@other.example", "#q1.example"])
for reply, want in (("459 4.7.1 node not allowed", 69), ("458 4.3.0 unable", 75),
                    ("251 2.0.0 no messages", 0), ("253 2.0.0 OK, 5 pending", 0),
                    ("500 5.5.1 what", 69), ("421 4.3.2 bye", 75)):
    with open(replies, "w") as f:
        f.write("etrn %s\n" % reply)
    rc, out, err = run(["--port", str(port), "127.0.0.1", "dialup.example"])
    check("ETRN reply %s -> %d" % (reply[:3], want), rc == want, (rc, out, err))
open(replies, "w").close()

# AUTH (loopback without TLS is allowed), right and wrong password
pw = os.path.join(TMP, "pw")
with open(pw, "w") as f:
    f.write("pw0rd\n")
os.chmod(pw, 0o600)
rc, out, err = run(["--port", str(port), "--auth-user", "site@isp.test",
                    "--auth-password-file", pw, "127.0.0.1", "dialup.example"])
check("AUTH PLAIN over loopback -> 0", rc == 0, (rc, err))
with open(pw, "w") as f:
    f.write("wrong\n")
rc, out, err = run(["--port", str(port), "--auth-user", "site@isp.test",
                    "--auth-password-file", pw, "127.0.0.1", "dialup.example"])
check("AUTH refused -> 69", rc == 69 and "AUTH refused" in err, (rc, err))
check("the password never appears in the sink's log",
      "pw0rd" not in readf(os.path.join(sinkdir, "commands.log")))
rc, out, err = run(["--port", str(p_noetrn), "--auth-user", "site@isp.test",
                    "--auth-password-file", pw, "127.0.0.1", "dialup.example"])
check("AUTH not offered -> 69", rc == 69, (rc, err))

# STARTTLS to the sink: verified by name against the test CA
pki = os.path.join(TOP, "tests", "tmp", "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), pki], check=True)
p_tls = free_port()
start_sink(os.path.join(TMP, "sink-tls"), p_tls, "--cert", os.path.join(pki, "chain-ec.pem"),
           "--key", os.path.join(pki, "ec.key"))
rc, out, err = run(["--port", str(p_tls), "--tls", "starttls", "--ca",
                    os.path.join(pki, "ca.pem"), "localhost", "dialup.example"])
check("STARTTLS with a valid certificate -> 0", rc == 0, (rc, out, err))
log = readf(os.path.join(TMP, "sink-tls", "commands.log")).splitlines()
check("EHLO sent again after STARTTLS", [l.split()[0] for l in log][:4] ==
      ["EHLO", "STARTTLS", "EHLO", "ETRN"], log)
rc, out, err = run(["--port", str(p_tls), "--tls", "starttls", "--ca",
                    os.path.join(pki, "ca.pem"), "127.0.0.1", "dialup.example"])
check("STARTTLS to an IP literal fails the name check -> 75", rc == 75, (rc, err))
rc, out, err = run(["--port", str(p_tls), "--tls", "starttls", "--ca",
                    untrusted_ca(), "localhost", "dialup.example"])
check("STARTTLS with an untrusted certificate -> 75", rc == 75, (rc, err))
rc, out, err = run(["--port", str(port), "--tls", "starttls", "--ca",
                    os.path.join(pki, "ca.pem"), "localhost", "dialup.example"])
check("STARTTLS not offered -> 69", rc == 69, (rc, err))

# --- push -----------------------------------------------------------
if not os.access(SMTP, os.X_OK):
    skip("etrn-client push", "smtp-handler is not built (needed to fill the queue)")
    summary()
users = make_db(TMP, port)
spool = os.path.join(TMP, "spool")
RELAY = ["--relay-clients", "192.0.2.0/24"]


def fill(n, tag, rcpt_fmt="r%d@remote.test"):
    r = smtp_session(users, spool, hold_session([rcpt_fmt % i for i in range(n)], tag=tag),
                     args=RELAY)
    return r


fill(10, "push")
check("10 messages in the outbound queue", len(queue_ids(spool, "outbound")) == 10,
      queue_ids(spool, "outbound"))
with open(replies, "w") as f:
    f.write("rcpt r4@remote.test 451 4.2.1 mailbox busy\n")
before = len(sink_messages(sinkdir))
rc, out, err = run(["--port", str(port), "--push", spool, "--users", users,
                    "127.0.0.1", "dialup.example"])
check("push with one deferral -> 75", rc == 75, (rc, out, err))
check("push: 9 messages arrived", len(sink_messages(sinkdir)) - before == 9)
left = queue_ids(spool, "outbound")
check("push: 1 message stays", len(left) == 1, left)
if left:
    e = read_env(spool, "outbound", left[0])
    check("push: the deferred one is r4, attempts 1",
          e["rcpt"][0].startswith("P r4@remote.test") and e["attempts"] == "1", e)
pushed = [m for m in sink_messages(sinkdir) if m["rcpt"][0].endswith("@remote.test")]
check("push: envelope and body as queued", all(
    m["from"] == "alice@example.jp" and b"\r\n.line starting with a dot\r\n" in m["data"]
    for m in pushed))
open(replies, "w").close()
rc, out, err = run(["--port", str(port), "--push", spool, "--users", users,
                    "127.0.0.1", "dialup.example"])
check("second push -> 0", rc == 0, (rc, out, err))
check("second push: the 10th arrived", len(sink_messages(sinkdir)) - before == 10)
check("second push: queue empty", queue_ids(spool, "outbound") == [])

# 5xx during the push -> DSN to the local sender, message removed
with open(replies, "w") as f:
    f.write("rcpt r1@remote.test 550 5.1.1 no such user here\n")
fill(2, "bounce")
rc, out, err = run(["--port", str(port), "--push", spool, "--users", users,
                    "127.0.0.1", "dialup.example"])
newdir = os.path.join(TMP, "mail", "alice", "new")
dsn = [open(os.path.join(newdir, n), "rb").read() for n in os.listdir(newdir)] \
    if os.path.isdir(newdir) else []
check("push 5xx: a DSN in the sender's maildir", len(dsn) == 1 and
      b"Final-Recipient: rfc822; r1@remote.test" in dsn[0] and b"Status: 5.1.1" in dsn[0],
      dsn)
check("push 5xx: the queue is empty, exit 0 (the bounce is the outcome)",
      queue_ids(spool, "outbound") == [] and rc == 0, (rc, err))
open(replies, "w").close()

# two concurrent runs never send a message twice
fill(10, "conc")
with open(replies, "w") as f:
    f.write("delay 0.1\n")
before = len(sink_messages(sinkdir))
res = []


def bgrun():
    res.append(run(["--port", str(port), "--push", spool, "--users", users,
                    "127.0.0.1", "dialup.example"]))


ts = [threading.Thread(target=bgrun) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
open(replies, "w").close()
got = [m for m in sink_messages(sinkdir)[before:]]
ids = [l for m in got for l in m["data"].split(b"\r\n") if l.startswith(b"Message-ID:")]
check("concurrent runs: both exit 0", [r[0] for r in res] == [0, 0], res)
check("concurrent runs: 10 messages, each exactly once",
      len(got) == 10 and len(set(ids)) == 10, (len(got), len(set(ids))))
check("concurrent runs: queue empty", queue_ids(spool, "outbound") == [])

# --linger keeps the process up after QUIT
t0 = time.time()
rc, out, err = run(["--port", str(port), "--linger", "1", "127.0.0.1", "dialup.example"])
check("--linger 1 waits after QUIT", rc == 0 and time.time() - t0 >= 1.0)
summary()
