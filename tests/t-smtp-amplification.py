#!/usr/bin/env python3
"""t-smtp-amplification.py - a client cannot make smtp-handler read the
disk without end (issue 16 item 1). A mailbox with a quota holds a few
MiB of messages whose names lack ,W= and ,S= (as Courier, Dovecot or a
hand copy names them); looping MAIL/RCPT/RSET at it reads almost nothing
(/proc/PID/io rchar of the live handler: the usage is taken from names and
fstatat, once per session), and the session ends at the documented
bounds: --max-transactions (MAIL, default 100) and --max-resets (RSET,
default 100) with 421 4.7.0, --max-session-recipients (RCPT, default
1000) with 452 4.5.3; each with a log line. The usage kept for the session
follows its own deliveries: a second message that would exceed the quota
is refused."""
import os, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("smtp-amplification", (SMTP,), ("cdb", "openssl"))

MAIL = os.path.join(TMP, "mail")
SPOOL = os.path.join(TMP, "spool")
os.makedirs(SPOOL)
MD = os.path.join(MAIL, "alice")
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(MD, sub))
MIB = 1 << 20
block = (b"x" * 99 + b"\n") * (MIB // 100)
for i in range(4):
    with open(os.path.join(MD, "cur", "17000000%02d.M1P1Q1.courier:2,S" % i), "wb") as f:
        f.write(block)
USED = 4 * len(block)
HASH = subprocess.run(["openssl", "passwd", "-5", "pw"], check=True,
                      capture_output=True, text=True).stdout.strip()


def make_db(quota):
    src = os.path.join(TMP, "users.txt")
    with open(src, "w") as f:
        f.write("example.org domain\nalice@example.org %s %s quota=%d\n" % (HASH, MD, quota))
    subprocess.run(["cdb", "-c", "-m", os.path.join(TMP, "users.cdb"), src], check=True)


make_db(100 * MIB)


def start(*extra):
    t = Talk([SMTP, "--users", os.path.join(TMP, "users.cdb"), "--spool", SPOOL,
              "--hostname", "mx.test", "--timeout", "20"] + list(extra),
             env=dict(os.environ, POSTERN_LOG="stderr"), capture_stderr=True)
    t.reply()
    t.cmd("EHLO client.test")
    return t


def rchar(pid):
    with open("/proc/%d/io" % pid) as f:
        for l in f:
            if l.startswith("rchar:"):
                return int(l.split()[1])
    return -1


# 100 loops at the default bounds, pipelined
t = start()
r0 = rchar(t.p.pid)
t.send(b"MAIL FROM:<x@client.test>\r\nRCPT TO:<alice@example.org>\r\nRSET\r\n" * 100)
replies = [t.reply() for _ in range(300)]
r1 = rchar(t.p.pid)
ok = all(replies[i].startswith("250") for i in range(300))
check("100 MAIL/RCPT/RSET loops accepted", ok, [r for r in replies if not r.startswith("250")][:3])
check("... reading almost nothing (not the %.1f MiB mailbox at each RCPT)" % (USED / MIB),
      0 <= r1 - r0 < 256 * 1024, "rchar grew by %d" % (r1 - r0))
last = t.cmd("MAIL FROM:<x@client.test>")
rc, err = t.close()
check("MAIL number 101 (default --max-transactions 100): 421 4.7.0 and the end",
      last == "421 4.7.0 mx.test Too many transactions in this session, closing connection"
      and rc == 0, (last, rc))
check("... logged", b"more than 100 MAIL commands in one session" in err and
      b'RESULT="too many transactions"' in err, err[-400:])

# RSET bound (default 100): NOOP does not count, RSET does
t = start()
t.send(b"RSET\r\n" * 100)
replies = [t.reply() for _ in range(100)]
last = t.cmd("RSET")
rc, err = t.close()
check("RSET number 101 (default --max-resets 100): 421 4.7.0",
      all(r.startswith("250") for r in replies) and last.startswith("421 4.7.0 "), last)
check("... logged", b"more than 100 RSET commands in one session" in err, err[-300:])

t = start("--max-resets", "3")
rs = [t.cmd("RSET") for _ in range(4)]
rc, _ = t.close()
check("--max-resets 3: the 4th RSET ends the session",
      [r[:9] for r in rs] == ["250 2.0.0"] * 3 + ["421 4.7.0"] and rc == 0, rs)

t = start("--max-transactions", "2")
rs = [t.cmd(c) for c in ("MAIL FROM:<>", "RSET", "MAIL FROM:<>", "RSET", "MAIL FROM:<>")]
t.close()
check("--max-transactions 2: the 3rd MAIL ends the session",
      [r[:3] for r in rs] == ["250"] * 4 + ["421"], rs)

# recipients in all (default 1000): 452 4.5.3 beyond, the session goes on
t = start("--max-session-recipients", "5")
rs = [t.cmd("MAIL FROM:<>")] + [t.cmd("RCPT TO:<alice@example.org>") for _ in range(6)]
d = t.cmd("DATA")
t.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
q = t.reply()
rc, err = t.close()
check("--max-session-recipients 5: the 6th RCPT gets 452 4.5.3",
      [r[:9] for r in rs] == ["250 2.1.0"] + ["250 2.1.5"] * 5 + ["452 4.5.3"], rs)
check("... and the accepted ones still get the message", d.startswith("354") and q.startswith("250"), (d, q))
check("... logged", b"more than 5 RCPT commands in one session" in err, err[-300:])

# the kept usage follows this session's own deliveries
for n in os.listdir(os.path.join(MD, "new")):
    os.unlink(os.path.join(MD, "new", n))
make_db(USED + 1500)
t = start()
res = []
for i in range(2):
    res.append(t.cmd("MAIL FROM:<x@client.test>"))
    res.append(t.cmd("RCPT TO:<alice@example.org>"))
    res.append(t.cmd("DATA"))
    t.send(b"Subject: %d\r\n\r\n" % i + b"y" * 1000 + b"\r\n.\r\n")
    res.append(t.reply())
t.cmd("QUIT")
t.close()
check("quota: the 1st message fits, the 2nd (counted with the 1st) does not",
      res[3].startswith("250 ") and res[7].startswith("552 5.2.2"), res)
check("... one message stored", len(os.listdir(os.path.join(MD, "new"))) == 1,
      os.listdir(os.path.join(MD, "new")))

r = subprocess.run([SMTP, "--help"], capture_output=True, text=True)
check("--help names the bounds", all(o in r.stdout for o in
      ("--max-transactions", "--max-resets", "--max-session-recipients")), r.stdout)
summary()
