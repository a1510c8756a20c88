#!/usr/bin/env python3
"""t-reliability-load.py - load: 100 concurrent SMTP deliveries (smtplib
over real TCP, handlers under systemd-socket-activate) into two mailboxes
while 3 POP3 clients (poplib) retrieve and delete in a loop for a fixed
number of rounds. Every Message-ID acknowledged with 250 must end
exactly once per recipient: retrieved and deleted in a session whose QUIT
succeeded, or still in the maildir. [IN-USE] answers (two clients on one
mailbox) are counted, not errors. LOAD_MESSAGES and LOAD_ROUNDS scale it."""
import os, poplib, re, shutil, smtplib, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

N = int(os.environ.get("LOAD_MESSAGES", "100"))
ROUNDS = int(os.environ.get("LOAD_ROUNDS", "25"))
require("load", (POP3, SMTP), ("cdb", "openssl", "systemd-socket-activate"))

MAIL = os.path.join(TMP, "mail")
SPOOL = os.path.join(TMP, "spool")
os.makedirs(MAIL)
os.makedirs(SPOOL)
DB = example_users(MAIL)
P_SMTP = free_port()
socket_activate(P_SMTP, [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test"],
                log=os.path.join(TMP, "smtp.log"))
P_POP3 = free_port()
socket_activate(P_POP3, [POP3, "--users", DB, "--throttle-file", os.path.join(TMP, "throttle"),
                         "--fail-delay", "0"], log=os.path.join(TMP, "pop3.log"))

acked = {}            # id -> set of recipients (user names) acknowledged
lock = threading.Lock()
go = threading.Barrier(N + 3)
smtp_errors = []


def sender(i):
    rcpts = [["alice"], ["bob"], ["alice", "bob"]][i % 3]
    mid = "load-%d" % i
    msg = ("From: s%d@remote.test\r\nTo: list\r\nSubject: load %d\r\nMessage-ID: <%s@reliab.test>\r\n\r\n"
           % (i, i, mid)) + ("body line %d\r\n" % i) * (1 + i % 50)
    go.wait()
    for attempt in range(5):
        try:
            s = smtplib.SMTP("127.0.0.1", P_SMTP, timeout=60)
            s.ehlo("load%d.test" % i)
            refused = s.sendmail("s%d@remote.test" % i, ["%s@example.org" % u for u in rcpts], msg)
            s.quit()
            with lock:
                acked[mid] = set(u for u in rcpts if "%s@example.org" % u not in refused)
            return
        except (OSError, smtplib.SMTPException) as e:
            err = e
            time.sleep(0.2)
    with lock:
        smtp_errors.append("%s: %r" % (mid, err))


deleted = {"alice": [], "bob": []}     # ids retrieved-and-deleted per mailbox
pop_stats = {"sessions": 0, "in-use": 0, "errors": 0, "retrieved": 0}


def reader(k):
    user = ["alice", "bob", "alice"][k]
    go.wait()
    for r in range(ROUNDS):
        try:
            p = poplib.POP3("127.0.0.1", P_POP3, timeout=60)
            p.user(user + "@example.org")
            try:
                p.pass_("pw")
            except poplib.error_proto as e:
                with lock:
                    pop_stats["in-use" if b"IN-USE" in str(e).encode() else "errors"] += 1
                p.quit()
                time.sleep(0.05)
                continue
            got = []
            n = p.stat()[0]
            for i in range(1, n + 1):
                lines = p.retr(i)[1]
                m = [re.search(rb"<(load-\d+)@", l) for l in lines]
                m = [x.group(1).decode() for x in m if x]
                got.append(m[0] if m else "?")
                p.dele(i)
            p.quit()          # raises unless +OK
            with lock:
                deleted[user].extend(got)
                pop_stats["sessions"] += 1
                pop_stats["retrieved"] += len(got)
        except (OSError, poplib.error_proto) as e:
            with lock:
                pop_stats["errors"] += 1
        time.sleep(0.05)


threads = [threading.Thread(target=sender, args=(i,)) for i in range(N)]
threads += [threading.Thread(target=reader, args=(k,)) for k in range(3)]
start = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join(300)
took = time.time() - start

remaining = {"alice": [], "bob": []}
for u in remaining:
    for sub in ("new", "cur"):
        d = os.path.join(MAIL, u, sub)
        for n in os.listdir(d) if os.path.isdir(d) else []:
            m = re.search(rb"<(load-\d+)@", open(os.path.join(d, n), "rb").read())
            remaining[u].append(m.group(1).decode() if m else "?")

print("%.1f s: %d messages acknowledged, %d POP3 sessions completed (%d messages retrieved "
      "and deleted), %d [IN-USE], %d other POP3 errors; %d + %d left in the maildirs"
      % (took, len(acked), pop_stats["sessions"], pop_stats["retrieved"], pop_stats["in-use"],
         pop_stats["errors"], len(remaining["alice"]), len(remaining["bob"])))
check("all %d deliveries acknowledged" % N, len(acked) == N and not smtp_errors, smtp_errors[:3])
bad = []
for mid, users in acked.items():
    for u in ("alice", "bob"):
        c = deleted[u].count(mid) + remaining[u].count(mid)
        want = 1 if u in users else 0
        if c != want:
            bad.append("%s in %s: %d times (deleted %d, left %d), want %d"
                       % (mid, u, c, deleted[u].count(mid), remaining[u].count(mid), want))
unknown = [x for u in ("alice", "bob") for x in deleted[u] + remaining[u] if x not in acked]
for b in bad[:10]:
    print(b)
check("every acknowledged Message-ID ends exactly once per recipient "
      "(retrieved-and-deleted or left in the maildir)", not bad, len(bad))
check("nothing unknown in the mailboxes", not unknown, unknown[:5])
check("the POP3 clients completed sessions during the load", pop_stats["sessions"] >= ROUNDS)
summary()
