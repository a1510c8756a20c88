#!/usr/bin/env python3
"""t-admin-queue-owner.py - `mailbox-admin queue flush/remove` started as
root act as the spool's owner (issue 15 item 7): the service user is
nobody here. Mail is held by smtp-handler --user nobody; root flushes it
to a sink answering 450, then 550 (DSNs to a local sender's maildir and,
for a remote sender, into outbound/); every file under the spool and the
maildirs is then owned by nobody with no group/other access, and the next
flush run as nobody works. A spool owned by root, or by a uid without a
passwd entry, is refused before anything is touched."""
import os, pwd, stat, subprocess, sys
PUBLIC_TMP = True      # the queue commands run as nobody: TMP outside the checkout
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

require("admin-queue-owner", (SMTP, ADMIN), ("cdb",))
if os.geteuid() != 0:
    skip("admin-queue-owner", "needs root (the case under test)")
    summary()
try:
    NOBODY = pwd.getpwnam("nobody")
except KeyError:
    skip("admin-queue-owner", "no user nobody")
    summary()
UID, GID = NOBODY.pw_uid, NOBODY.pw_gid

os.chmod(TMP, 0o755)
port = free_port()
users = make_db(TMP, port)
text = users[:-4]
# the spool's path may hold no symbolic link: the physical path of TMP
spool = os.path.join(os.path.realpath(TMP), "spool")
mail = os.path.join(TMP, "mail")
for d in (spool, mail):
    os.mkdir(d, 0o700)
    os.chown(d, UID, GID)
sinkdir = os.path.join(TMP, "sink")
replies = os.path.join(TMP, "replies")
open(replies, "w").close()
start_sink(sinkdir, port, "--replies", replies)
HOLD = "hold/dialup.example"
AS_NOBODY = ["--user", "nobody"]


def as_nobody():
    os.setgroups([])
    os.setgid(GID)
    os.setuid(UID)


ADMIN_NOBODY = reachable_copy(ADMIN)     # nobody must execute it


def admin(args, user=None, sp=spool):
    p = subprocess.run([ADMIN_NOBODY if user else ADMIN, "--db", text, "--spool", sp] + args,
                       capture_output=True, text=True, timeout=120,
                       preexec_fn=as_nobody if user else None)
    return p.returncode, p.stdout + p.stderr


def foreign(*roots):
    """Paths under roots not owned by nobody or open to group/other."""
    bad = []
    for root in roots:
        for d, dirs, files in os.walk(root):
            for n in [d] + [os.path.join(d, f) for f in files]:
                st = os.lstat(n)
                if st.st_uid != UID or st.st_gid != GID or st.st_mode & 0o077:
                    bad.append("%s %d:%d %o" % (os.path.relpath(n, TMP), st.st_uid,
                                                st.st_gid, stat.S_IMODE(st.st_mode)))
    return bad


def hold(rcpts, sender, tag):
    r = smtp_session(users, spool, hold_session(rcpts, sender=sender, tag=tag),
                     args=AS_NOBODY)
    return codes(r).count("250")


# held by the handler as the service user
n = hold(["a@dialup.example"], "alice@example.jp", "local") + \
    hold(["b@dialup.example"], "bob@remote.example", "remote")
check("2 messages held by smtp-handler --user nobody",
      len(queue_ids(spool, HOLD)) == 2, queue_ids(spool, HOLD))
check("the handler's spool files are nobody's", foreign(spool) == [], foreign(spool))

# --- refusals: root-owned spool, an owner without a passwd entry ----------
for owner, what in ((0, "owned by root"), (54321, "no passwd entry")):
    sp = os.path.join(os.path.realpath(TMP), "spool-%d" % owner)
    os.makedirs(os.path.join(sp, HOLD, "env"))
    for d, _, _ in os.walk(sp):
        os.chown(d, owner, owner)
    for args in (["queue", "flush", "dialup.example"], ["queue", "remove", "1.x"],
                 ["queue", "list"]):
        rc, out = admin(args, sp=sp)
        check("%s, spool %s: refused (77)" % (args[1], what), rc == 77 and what in out,
              (rc, out))
    check("spool %s: nothing created" % what,
          sorted(os.listdir(os.path.join(sp, HOLD))) == ["env"],
          os.listdir(os.path.join(sp, HOLD)))

# --- root flushes against 450 -----------------------------------------------
with open(replies, "w") as f:
    f.write("rcpt * 450 4.2.0 try again later\n")
rc, out = admin(["queue", "flush", "dialup.example"])
check("root flush, 450: exit 75, both still queued",
      rc == 75 and len(queue_ids(spool, HOLD)) == 2, (rc, out))
env = read_env(spool, HOLD, queue_ids(spool, HOLD)[0])
check("the 450 was recorded in the envelope", int(env.get("attempts", 0)) >= 1, env)
check("root flush, 450: .lock exists", os.path.exists(os.path.join(spool, HOLD, ".lock")))
bad = foreign(spool, mail)
check("after the 450 flush every spool file is nobody's, 0600/0700", bad == [], bad)

# --- root flushes against 550: DSNs -----------------------------------------
with open(replies, "w") as f:
    f.write("rcpt * 550 5.1.1 no such user\n")
rc, out = admin(["queue", "flush", "dialup.example"])
check("root flush, 550: exit 0, hold queue empty",
      rc == 0 and queue_ids(spool, HOLD) == [], (rc, out))
new = os.path.join(mail, "alice", "new")
check("DSN for the local sender in her maildir",
      os.path.isdir(new) and len(os.listdir(new)) == 1,
      os.listdir(new) if os.path.isdir(new) else "no maildir")
check("DSN for the remote sender in outbound/",
      len(queue_ids(spool, "outbound")) == 1, queue_ids(spool, "outbound"))
bad = foreign(spool, mail)
check("after the 550 flush every file (outbound/, DSNs) is nobody's", bad == [], bad)

# --- queue remove as root ---------------------------------------------------
ids = queue_ids(spool, "outbound")
rc, out = admin(["queue", "remove", ids[0]] if ids else ["queue", "list"])
check("root queue remove of the outbound DSN", rc == 0 and queue_ids(spool, "outbound") == [],
      (rc, out))
bad = foreign(spool, mail)
check("after queue remove every file is nobody's", bad == [], bad)

# --- the service user carries on ---------------------------------------------
open(replies, "w").close()
before = len(sink_messages(sinkdir))
hold(["c@dialup.example"], "carol@remote.example", "later")
rc, out = admin(["queue", "flush", "dialup.example"], user=True)
check("next flush as nobody: exit 0, delivered",
      rc == 0 and len(sink_messages(sinkdir)) == before + 1 and
      queue_ids(spool, HOLD) == [], (rc, out, len(sink_messages(sinkdir)) - before))
rc, out = admin(["queue", "list"], user=True)
check("queue list as nobody", rc == 0 and "0 messages" in out, (rc, out))

summary()
