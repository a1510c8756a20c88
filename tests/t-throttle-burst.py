#!/usr/bin/env python3
"""t-throttle-burst.py - the login throttle's check and record are one
step (issue 16 item 10).

One address fails 4 times (the 4th costs a 2 s wait), the wait runs out,
and then 16 real pop3-handlers (pipes, all from that address, one shared
--throttle-file) send a wrong password at the same moment. Exactly one
password may be verified (the answer -ERR [AUTH] and a "wrong user or
secret" log line); the other 15 are refused with the throttle reply
(-ERR [SYS/TEMP]) without a verification. The same with 16 smtp-handlers
and AUTH PLAIN (535 once, 454 fifteen times). A deliberately slow hash
(SHA-512 crypt, 300,000 rounds) keeps the verification window wide, so
the two-step code this replaced lets several sessions through.
A success takes the pending failure back: after a burst, the right
password (once the wait has run out) logs in, and the address's count
does not grow by it (the next wrong password waits as long as before)."""
import base64, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("throttle burst", (POP3, SMTP), ("cdb", "perl"))

MAIL = os.path.join(TMP, "mail")
SPOOL = os.path.join(TMP, "spool")
os.makedirs(MAIL)
os.makedirs(SPOOL)
DB = os.path.join(TMP, "users.cdb")
h = subprocess.run(["perl", "-e", 'print crypt("pw", q($6$rounds=300000$burstsalt$))'],
                   check=True, capture_output=True, text=True).stdout.strip()
with open(DB + ".txt", "w") as f:
    f.write("example.org domain\nalice@example.org %s %s/alice\n" % (h, MAIL))
subprocess.run(["cdb", "-c", "-m", DB, DB + ".txt"], check=True)
N = 16


def pop3(throttle, log):
    return [POP3, "--users", DB, "--throttle-file", throttle, "--fail-delay", "0"]


def smtp(throttle):
    return [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test",
            "--auth", "password", "--auth-delay", "0", "--throttle-file", throttle]


def env(addr, log):
    e = dict(os.environ)
    e.update(TCPREMOTEIP=addr, POSTERN_LOG="stderr")
    return e


def pop3_fail(throttle, addr, n):
    """n sequential wrong passwords (at most 3 per connection)."""
    while n > 0:
        t = Talk(pop3(throttle, None), env=env(addr, None))
        t.line()
        for _ in range(min(n, 3)):
            t.cmd("USER alice@example.org")
            t.cmd("PASS wrong")
            n -= 1
        t.close()


def burst_pop3(throttle, addr, password):
    talks = [Talk(pop3(throttle, None), env=env(addr, None), capture_stderr=True, timeout=60)
             for _ in range(N)]
    for t in talks:
        t.line()
        t.cmd("USER alice@example.org")
    for t in talks:                     # all at once
        t.send(("PASS %s\r\n" % password).encode())
    replies = [t.line() for t in talks]
    logs = []
    for t in talks:
        t.send(b"QUIT\r\n")
        logs.append(t.close()[1].decode("latin-1"))
    return replies, "".join(logs)


def burst_smtp(throttle, addr, password):
    b64 = base64.b64encode(b"\0alice@example.org\0" + password.encode()).decode()
    talks = [Talk(smtp(throttle), env=env(addr, None), capture_stderr=True, timeout=60)
             for _ in range(N)]
    for t in talks:
        t.reply()
        t.cmd("EHLO c.test")
    for t in talks:
        t.send(("AUTH PLAIN %s\r\n" % b64).encode())
    replies = [t.reply() for t in talks]
    for t in talks:
        t.send(b"QUIT\r\n")
        t.close()
    return replies


# POP3: 4 failures, the 2 s wait runs out, then the burst
th = os.path.join(TMP, "throttle-pop3")
pop3_fail(th, "192.0.2.9", 4)
time.sleep(2.5)
replies, logs = burst_pop3(th, "192.0.2.9", "wrong")
verified = sum(r.startswith("-ERR [AUTH]") for r in replies)
refused = sum(r.startswith("-ERR [SYS/TEMP]") for r in replies)
check("pop3 burst: exactly one of 16 passwords verified", verified == 1, replies)
check("pop3 burst: the other 15 get the throttle reply", refused == N - 1, replies)
check("pop3 burst: one 'wrong user or secret' in the logs",
      logs.count("wrong user or secret") == 1, logs.count("wrong user or secret"))
check("pop3 burst: 15 'throttled' log lines", logs.count("address throttled") == N - 1,
      logs.count("address throttled"))

# the 5th failure costs 4 s; after it, the right password logs in once
time.sleep(4.5)
replies, logs = burst_pop3(th, "192.0.2.9", "pw")
ok = sum(r.startswith("+OK") for r in replies)
check("pop3 burst, right password: one login, 15 throttled",
      ok == 1 and sum(r.startswith("-ERR [SYS/TEMP]") for r in replies) == N - 1, replies)
# the success took its pending failure back: 5 failures, so the next
# attempt waits 4 s (not 8) from the success
time.sleep(4.5)
t = Talk(pop3(th, None), env=env("192.0.2.9", None))
t.line()
t.cmd("USER alice@example.org")
r = t.cmd("PASS wrong")
t.close()
check("pop3: after the success, the wait is still the 5-failure one (4 s)",
      r.startswith("-ERR [AUTH]"), r)

# SMTP: the same with AUTH PLAIN
th = os.path.join(TMP, "throttle-smtp")
pop3_fail(th, "192.0.2.10", 4)
time.sleep(2.5)
replies = burst_smtp(th, "192.0.2.10", "wrong")
check("smtp burst: exactly one 535 (verified)", sum(r.startswith("535") for r in replies) == 1,
      replies)
check("smtp burst: 15 x 454 (throttled)", sum(r.startswith("454") for r in replies) == N - 1,
      replies)
summary()
