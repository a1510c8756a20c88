#!/usr/bin/env python3
"""t-reliability-kill-smtp.py - kill -9 of smtp-handler at random points
while it receives DATA and while it delivers (crash consistency).

Each trial pipes one transaction (two local recipients, one message with
a unique Message-ID, 1-400 KiB) into a fresh smtp-handler and kills it
with SIGKILL either part-way through the message data or 0-15 ms after the
final ".", i.e. during delivery. Afterwards, over all trials:
- a message whose 250 reached the client is in both new/ dirs, complete;
- a message killed during DATA is nowhere;
- a message killed during delivery without its 250 may be present (the
  kill fell between the last rename and the reply: SMTP's at-least-once
  case); if present it is complete, and the count is reported;
- no Message-ID is in a mailbox twice, no file in new/ is partial;
- tmp/ holds only files of killed sessions (P<pid> of a killed one);
- the next session delivers normally.
RELIABILITY_TRIALS (default 100) sets the number of trials (`make soak`
may raise it)."""
import os, random, re, shutil, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

TRIALS = int(os.environ.get("RELIABILITY_TRIALS", "100"))
if not os.access(SMTP, os.X_OK):
    skip("kill-smtp", "smtp-handler is not built")
    summary()
if not shutil.which("cdb"):
    skip("kill-smtp", "cdb (tinycdb) is not installed")
    summary()

MAIL = os.path.join(TMP, "mail")
SPOOL = os.path.join(TMP, "spool")
os.makedirs(MAIL)
os.makedirs(SPOOL)
HASH = "$5$rounds=1000$salt$CK1ITaA4GpdHypVX6.4q3LW4WknJvxdC47nsmjKm0cA"
with open(os.path.join(TMP, "users"), "w") as f:
    f.write("example.test domain\n"
            "alice@example.test %s %s/alice\n"
            "bob@example.test %s %s/bob\n"
            "postmaster@example.test alias alice@example.test\n" % (HASH, MAIL, HASH, MAIL))
DB = os.path.join(TMP, "users.cdb")
subprocess.run(["cdb", "-c", "-m", DB, os.path.join(TMP, "users")], check=True)
ARGV = [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test",
        "--timeout", "20"]
rnd = random.Random(int(os.environ.get("RELIABILITY_SEED", "0")) or None)
seed = rnd.randrange(1 << 30)
rnd.seed(seed)
print("seed", seed, "(RELIABILITY_SEED reproduces the trial plan)")


def body_for(i, size):
    line = ("trial %d " % i).encode() + b"x" * 70 + b"\r\n"
    n = max(1, size // len(line))
    return b"Subject: trial %d\r\nMessage-ID: <trial-%d@reliab.test>\r\n\r\n" % (i, i) + line * n


killed_pids, outcome, expected = set(), {}, {}
for i in range(TRIALS):
    size = rnd.randrange(1024, 400 * 1024)
    body = body_for(i, size)
    expected[i] = body.replace(b"\r\n", b"\n")
    mode = "data" if i % 2 == 0 else "delivery"
    p = subprocess.Popen(ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    r = OutputReader(p.stdout)
    r.start()
    p.stdin.write(b"EHLO killer.test\r\nMAIL FROM:<k@remote.test>\r\n"
                  b"RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    p.stdin.flush()
    if not r.wait_for(rb"\n354 "):
        check("trial %d: 354" % i, False, r.data)
        p.kill(); p.wait()
        continue
    try:
        if mode == "data":
            cut = rnd.randrange(0, len(body))
            p.stdin.write(body[:cut])
            p.stdin.flush()
            time.sleep(rnd.random() * 0.003)
        else:
            p.stdin.write(body + b".\r\n")
            p.stdin.flush()
            time.sleep(rnd.random() * 0.015)
    except BrokenPipeError:
        pass
    p.send_signal(signal.SIGKILL)
    p.wait()
    r.join(5)
    killed_pids.add(p.pid)
    outcome[i] = (mode, re.search(rb"\n354 [^\n]*\n250 ", r.data) is not None)


def mailbox_ids(user):
    """Message-ID number -> list of (path, content) in new/."""
    found = {}
    d = os.path.join(MAIL, user, "new")
    for n in os.listdir(d) if os.path.isdir(d) else []:
        data = open(os.path.join(d, n), "rb").read()
        m = re.search(rb"Message-ID: <trial-(\d+)@reliab.test>", data)
        found.setdefault(int(m.group(1)) if m else -1, []).append((n, data))
    return found


lost = dup = partial = early = 0
unacked_present = 0
boxes = {u: mailbox_ids(u) for u in ("alice", "bob")}
for u, ids in boxes.items():
    for k, copies in ids.items():
        if k < 0:
            partial += 1
            print("file without a Message-ID in %s/new:" % u, [c[0] for c in copies])
            continue
        if len(copies) > 1:
            dup += 1
            print("duplicate trial %d in %s" % (k, u))
        for name, data in copies:
            if not data.endswith(expected[k]):
                partial += 1
                print("partial or altered copy of trial %d in %s: %s" % (k, u, name))
for i, (mode, acked) in outcome.items():
    present = [i in boxes[u] for u in ("alice", "bob")]
    if acked and not all(present):
        lost += 1
        print("trial %d: 250 seen but copies present: %s" % (i, present))
    if not acked and any(present):
        if mode == "data":
            early += 1
            print("trial %d: killed during DATA but delivered" % i)
        else:
            unacked_present += 1
acked_n = sum(1 for m, a in outcome.values() if a)
print("%d trials: %d acknowledged, %d killed in DATA, %d killed in delivery "
      "without 250 (%d of these delivered: kill after the commit)"
      % (len(outcome), acked_n, sum(1 for m, a in outcome.values() if m == "data"),
         sum(1 for m, a in outcome.values() if m == "delivery" and not a), unacked_present))
check("%d trials ran" % TRIALS, len(outcome) == TRIALS, len(outcome))
check("every acknowledged message is in both mailboxes", lost == 0, lost)
check("nothing killed during DATA was delivered", early == 0, early)
check("no duplicate Message-ID in a mailbox", dup == 0, dup)
check("no partial or altered file in new/", partial == 0, partial)

stray_bad = []
stray = 0
for u in ("alice", "bob"):
    d = os.path.join(MAIL, u, "tmp")
    for n in os.listdir(d) if os.path.isdir(d) else []:
        stray += 1
        m = re.search(r"P(\d+)Q", n)
        if not m or int(m.group(1)) not in killed_pids:
            stray_bad.append(n)
print("stray tmp/ files:", stray)
check("tmp/ holds only files of killed sessions", not stray_bad, stray_bad[:5])
check("nothing went to the spool", not any(files for _, _, files in os.walk(SPOOL)))

r = subprocess.run(ARGV, input=b"EHLO again.test\r\nMAIL FROM:<k@remote.test>\r\n"
                   b"RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: after\r\n\r\nok\r\n.\r\nQUIT\r\n",
                   capture_output=True, timeout=30)
check("the next session delivers", re.search(rb"\n250 2\.0\.0 ", r.stdout) is not None, r.stdout[-200:])
summary()
