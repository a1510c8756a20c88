#!/usr/bin/env python3
"""t-reliability-kill-pop3.py - kill -9 of pop3-handler after DELE and
during UPDATE (crash consistency of deletions and of the session lock).

A maildir holds up to 300 messages (new/ and cur/). Each trial logs in
over pipes, marks a random subset with DELE (pipelined) and then either
is killed once every DELE was answered (nothing may disappear), or sends
QUIT and is killed 0-6 ms later, during UPDATE (only DELE'd messages may
disappear; if "+OK" to QUIT reached the client, all of them are gone).
After every trial: no message that was not DELE'd is lost or altered,
UIDLs of survivors are unchanged, and the next session logs in at once
(the lock died with the process) and its STAT matches the files.
RELIABILITY_TRIALS (default 60) sets the number of trials."""
import os, random, re, shutil, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

TRIALS = int(os.environ.get("RELIABILITY_TRIALS", "60"))
require("kill-pop3", (POP3,), ("cdb", "openssl"))

MAIL = os.path.join(TMP, "mail")
MD = os.path.join(MAIL, "alice")
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(MD, sub))
HASH = subprocess.run(["openssl", "passwd", "-5", "pw"], check=True,
                      capture_output=True, text=True).stdout.strip()
with open(os.path.join(TMP, "users"), "w") as f:
    f.write("example.org domain\nalice@example.org %s %s\n" % (HASH, MD))
DB = os.path.join(TMP, "users.cdb")
subprocess.run(["cdb", "-c", "-m", DB, os.path.join(TMP, "users")], check=True)
ARGV = [POP3, "--users", DB, "--throttle-file", os.path.join(TMP, "throttle"),
        "--fail-delay", "0", "--timeout", "20"]
rnd = random.Random()
seed = int(os.environ.get("RELIABILITY_SEED", "0")) or rnd.randrange(1 << 30)
rnd.seed(seed)
print("seed", seed, "(RELIABILITY_SEED reproduces the trial plan)")

serial = [0]


def add_messages(n):
    for _ in range(n):
        serial[0] += 1
        k = serial[0]
        body = b"Subject: m%d\nMessage-ID: <m%d@reliab.test>\n\n" % (k, k) + b"line\n" * (k % 40 + 1)
        name = "%d.M%dP1Q1.reliab,S=%d,W=%d" % (1700000000 + k, k, len(body), len(body) + body.count(b"\n"))
        sub = "cur" if k % 3 == 0 else "new"
        if sub == "cur":
            name += ":2,S"
        with open(os.path.join(MD, sub, name), "wb") as f:
            f.write(body)


def snapshot():
    """UIDL -> (Message-ID number, content) for every message on disk."""
    snap = {}
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(MD, sub)):
            data = open(os.path.join(MD, sub, n), "rb").read()
            m = re.search(rb"<m(\d+)@", data)
            snap[n.split(":")[0]] = (int(m.group(1)) if m else -1, data)
    return snap


def session(script, wait_for=None):
    """Runs a session; returns its stdout (a fresh pop3-handler)."""
    return subprocess.run(ARGV, input=script, capture_output=True, timeout=60).stdout


add_messages(300)
bad = []
stats = {"after-dele": 0, "update": 0, "quit-ok": 0, "partly": 0}
for t in range(TRIALS):
    before = snapshot()
    if len(before) < 80:
        add_messages(300 - len(before))
        before = snapshot()
    # message numbers follow the handler's order (by name = delivery time)
    n = len(before)
    dele = sorted(rnd.sample(range(1, n + 1), rnd.randrange(1, n // 2)))
    mode = "after-dele" if t % 2 == 0 else "update"
    p = subprocess.Popen(ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    r = OutputReader(p.stdout)
    r.start()
    p.stdin.write(b"USER alice@example.org\r\nPASS pw\r\nUIDL\r\n" +
                  b"".join(b"DELE %d\r\n" % i for i in dele))
    p.stdin.flush()
    # greeting, USER, PASS, UIDL, every DELE answered
    ok = r.wait_count(rb"(?m)^\+OK", 4 + len(dele))
    uidl = dict((int(a), b.decode()) for a, b in
                re.findall(rb"(?m)^(\d+) (\S+)\r$", r.data))
    if not ok or len(uidl) != n:
        bad.append("trial %d: session did not get through DELE: %r" % (t, r.data[-300:]))
        p.kill(); p.wait()
        continue
    deleted_uidls = set(uidl[i] for i in dele)
    if mode == "update":
        p.stdin.write(b"QUIT\r\n")
        p.stdin.flush()
        time.sleep(rnd.random() * 0.006)
    p.send_signal(signal.SIGKILL)
    p.wait()
    r.join(5)
    stats[mode] += 1
    quit_ok = re.search(rb"\+OK[^\r\n]*\r\n$", r.data) is not None and mode == "update" \
        and r.data.count(b"+OK") >= 5 + len(dele)
    after = snapshot()
    gone = set(before) - set(after)
    if set(after) - set(before):
        bad.append("trial %d: new UIDLs appeared: %s" % (t, sorted(set(after) - set(before))[:3]))
    if gone - deleted_uidls:
        bad.append("trial %d (%s): lost messages that were not DELE'd: %s" % (t, mode, sorted(gone - deleted_uidls)[:3]))
    if mode == "after-dele" and gone:
        bad.append("trial %d: killed before QUIT, yet %d deleted" % (t, len(gone)))
    if quit_ok:
        stats["quit-ok"] += 1
        if deleted_uidls - gone:
            bad.append("trial %d: +OK to QUIT but %d DELE'd messages remain" % (t, len(deleted_uidls - gone)))
    elif gone:
        stats["partly"] += 1
    for u in after:
        if after[u][1] != before[u][1]:
            bad.append("trial %d: message %s altered" % (t, u))
    # the lock died with the process: the next session logs in and
    # sees exactly the files
    out = session(b"USER alice@example.org\r\nPASS pw\r\nSTAT\r\nQUIT\r\n")
    m = re.search(rb"\+OK (\d+) \d+\r\n\+OK", out)
    if not m or int(m.group(1)) != len(after):
        bad.append("trial %d: next session: %r (files: %d)" % (t, out[-200:], len(after)))
for b in bad[:10]:
    print(b)
print("trials: %(after-dele)d killed after DELE, %(update)d during UPDATE "
      "(%(quit-ok)d saw +OK to QUIT, %(partly)d killed part-way through deleting)" % stats)
check("%d trials ran" % TRIALS, stats["after-dele"] + stats["update"] == TRIALS)
check("no message lost or altered that a completed QUIT did not delete; "
      "the lock is released every time", not bad, len(bad))
summary()
