#!/usr/bin/env python3
"""t-queue-rollback.py - issue 16 item 6: a message for a local mailbox and
a hold queue whose maildir rename fails AFTER the queue copy was committed
must never be sent by a flush running in that window (the client gets 4xx
and will retry: a copy sent meanwhile would be a duplicate), the rolled
back copies are gone, and a healthy retry is delivered once.
The maildir lives on tests/eiofs.c (FUSE): "nz /bob/new/" makes the
rename into new/ take 3 s and then fail with EIO; during those 3 s the
test runs `mailbox-admin queue flush` against a recording sink.
The spool and the maildir are the service user's (nobody; see
etrnlib.py): smtp-handler runs with --user nobody (the FUSE file system is
mounted allow_other for it), and the flush, started as root, becomes
nobody."""
import atexit, os, shutil, subprocess, sys, time
PUBLIC_TMP = True      # the handler and the flush run as nobody: TMP outside the checkout
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *
from eiolib import eiofs_mount

require("queue-rollback", (SMTP, ADMIN), ("cdb", "openssl", "cc", "pkg-config"))
SRC = os.path.join(TMP, "src")
MNT = os.path.join(TMP, "mnt")
CTL = os.path.join(TMP, "control")
for d in (SRC, MNT):
    os.makedirs(d, exist_ok=True)
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(SRC, "bob", sub))
give_service(os.path.join(SRC, "bob"))
# allow_other: the handler, run as nobody, delivers through the mount
_, fault = eiofs_mount("queue-rollback", SRC, MNT, CTL, allow_other=bool(SERVICE))

h = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True, text=True,
                   check=True).stdout.strip()
sport = free_port()
users = make_db(TMP, sport, "bob@example.jp  %s  %s/bob" % (h, MNT))
db = users[:-4]
readable(users, db)
# the spool's path may hold no symbolic link: the physical path of TMP
spool = service_dirs(os.path.join(os.path.realpath(TMP), "spool"))
sinkdir = os.path.join(TMP, "sink")
start_sink(sinkdir, sport)
HOLD = "hold/dialup.example"
BOBNEW = os.path.join(SRC, "bob", "new")
LOG = os.path.join(TMP, "smtp-rollback.log")


def session(tag):
    lines = ["EHLO client.test", "MAIL FROM:<alice@example.jp>", "RCPT TO:<bob@example.jp>",
             "RCPT TO:<carol@dialup.example>", "DATA", "Subject: %s" % tag,
             "Message-ID: <%s@test>" % tag, "", "body %s" % tag, ".", "QUIT"]
    env = dict(os.environ, TCPREMOTEIP="192.0.2.5")
    return subprocess.Popen([SMTP, "--users", users, "--spool", spool, "--hostname",
                             "mx.example.jp"] + list(AS_SERVICE),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=open(LOG, "ab"), env=env), \
        "".join(l + "\r\n" for l in lines).encode()


def flush():
    return subprocess.run([ADMIN, "--db", db, "--spool", spool, "queue", "flush",
                           "dialup.example"], capture_output=True, text=True, timeout=120)


# 1. the maildir rename fails (slowly) after the queue copy is committed
fault("nz /bob/new/")
p, data = session("rolled-back")
p.stdin.write(data)
p.stdin.close()
seen = wait_for(lambda: queue_ids(spool, HOLD) != [], 10)
check("the queue copy is committed before the maildir rename", seen)
f = flush()                     # runs inside the 3 s window
out = p.stdout.read().decode()
p.wait(30)
cs = codes(out.splitlines())
check("the client gets 4xx after DATA (maildir rename failed)",
      "354" in cs and cs[cs.index("354") + 1][0] == "4", out)
check("the flush in the window ran (not refused: exit 0 or 75)", f.returncode in (0, 75),
      (f.returncode, f.stderr[-400:]))
check("the flush in the window sent nothing (no duplicate)",
      sink_messages(sinkdir) == [], (f.stdout, f.stderr, len(sink_messages(sinkdir))))
check("the queue copy was taken back", queue_ids(spool, HOLD) == [], queue_ids(spool, HOLD))
check("nothing left in the maildir's new/", os.listdir(BOBNEW) == [], os.listdir(BOBNEW))
check("msg/ and tmp/ of the queue are empty",
      all(os.listdir(os.path.join(spool, HOLD, s)) == [] for s in ("msg", "tmp")))

# 2. the client's retry, healthy: one copy each, sent once
fault()
p, data = session("retried")
out = p.communicate(data, 30)[0].decode()
cs = codes(out.splitlines())
check("the retry is accepted (250)", "354" in cs and cs[cs.index("354") + 1] == "250", out)
check("one copy in new/", len(os.listdir(BOBNEW)) == 1, os.listdir(BOBNEW))
f = flush()
check("the flush sends the retried message", f.returncode == 0 and
      wait_for(lambda: len(sink_messages(sinkdir)) == 1, 10), (f.stdout, f.stderr))
msgs = sink_messages(sinkdir)
check("the sink got exactly the retried message, once",
      len(msgs) == 1 and b"Subject: retried" in msgs[0]["data"],
      [m["data"][:200] for m in msgs])
summary()
