#!/usr/bin/env python3
"""t-queue-expire.py - issue 15 items 2 and 3: lifetimes, warnings,
bounces and leftovers (`mailbox-admin queue expire`), and bounded hold
queues (max-held=).
- --older-than 0s: a held message from a local sender -> an RFC 3464
  multipart/report in the sender's maildir (Action: failed, Status: 4.4.7);
  from a remote sender -> a null-sender DSN in the outbound queue; from the
  null sender -> removed without any notice;
- an outbound message 5 h old -> one delay warning (Action: delayed), and
  only one over two runs; 6 days old -> returned (5 days outbound lifetime);
- per hold domain lifetime=1h expires a 2 h old message, the 30 d default
  keeps one;
- crash leftovers (queue tmp/ older than a day, msg/ without env/ older
  than an hour, maildir tmp/ older than 36 h) removed, nothing else;
- max-held: 452 4.3.1 once full, 552 5.3.4 when SIZE= alone exceeds it,
  other hold domains unaffected; queue list / stat show the fill;
- mailbox-admin domain add --hold --lifetime/--max-held validated.
The spool and the maildirs are the service user's (nobody; see
etrnlib.py): smtp-handler runs with --user nobody, and the queue
commands, started as root, become nobody."""
import email, email.policy, os, re, subprocess, sys, time
PUBLIC_TMP = True      # the queue commands run as nobody: TMP outside the checkout
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

require("queue-expire", (SMTP, ADMIN), ("cdb", "openssl"))
users = make_db(TMP, free_port(),
                "short.example hold host=127.0.0.1:9 lifetime=1h\n"
                "capped.example hold host=127.0.0.1:9 max-held=3K\n")
db = users[:-4]
readable(users, db)
# the spool's path may hold no symbolic link: the physical path of TMP
spool = service_dirs(os.path.join(os.path.realpath(TMP), "spool"))
service_dirs(os.path.join(TMP, "mail"))
ALICE = os.path.join(TMP, "mail", "alice")
HOLD = "hold/dialup.example"


def admin(*args):
    p = subprocess.run([ADMIN, "--db", db, "--spool", spool] + list(args),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def send(sender, rcpts, subject="t", peer="192.0.2.5", args=(), body="hello", size=None):
    lines = ["EHLO c.test", "MAIL FROM:<%s>%s" % (sender, " SIZE=%d" % size if size else "")]
    lines += ["RCPT TO:<%s>" % r for r in rcpts]
    lines += ["DATA", "Subject: %s" % subject, "Message-ID: <%s@t>" % subject, "", body, ".",
              "QUIT"]
    return smtp_session(users, spool, lines, peer=peer, args=AS_SERVICE + tuple(args))


def maildir_msgs(d):
    n = os.path.join(d, "new")
    return sorted(os.listdir(n)) if os.path.isdir(n) else []


def report(path):
    """(Action, Status, Final-Recipient) of a DSN file, or None."""
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    if m.get_content_type() != "multipart/report" or \
            m.get_param("report-type") != "delivery-status":
        return None
    for part in m.walk():
        if part.get_content_type() == "message/delivery-status":
            text = part.as_string()
            get = lambda k: (re.search(r"^%s: *(.*)$" % k, text, re.M) or [None, None])[1]
            return get("Action"), get("Status"), get("Final-Recipient"), m["Subject"]
    return None


def set_arrival(queue, ident, secs_ago):
    p = os.path.join(spool, queue, "env", ident)
    t = open(p).read()
    t = re.sub(r"^arrival \d+$", "arrival %d" % int(time.time() - secs_ago), t, flags=re.M)
    open(p, "w").write(t)


# --- 1. --older-than 0s: local sender, remote sender, null sender -------------
r = send("alice@example.jp", ["u1@dialup.example"], "local-sender")
r2 = send("bob@remote.example", ["u2@dialup.example"], "remote-sender")
r3 = send("", ["u3@dialup.example"], "null-sender")
check("three messages held", len(queue_ids(spool, HOLD)) == 3, (r, r2, r3))
before_alice = maildir_msgs(ALICE)
rc, out, err = admin("queue", "expire", "--older-than", "0s", "dialup.example")
check("queue expire --older-than 0s NODE -> 0", rc == 0, (rc, out, err))
check("one line per expired message", len(re.findall(r"^expired hold/dialup.example ", out,
                                                      re.M)) == 3, out)
check("the null-sender message said so", "null sender: no notice" in out, out)
check("the hold queue is empty", queue_ids(spool, HOLD) == [])
new = [m for m in maildir_msgs(ALICE) if m not in before_alice]
check("one notice in the local sender's maildir", len(new) == 1, new)
if new:
    rep = report(os.path.join(ALICE, "new", new[0]))
    check("it is a multipart/report: Action failed, Status 4.4.7, the recipient",
          rep is not None and rep[0] == "failed" and rep[1] == "4.4.7" and
          rep[2] == "rfc822; u1@dialup.example", rep)
ob = queue_ids(spool, "outbound")
envs = [read_env(spool, "outbound", i) for i in ob]
check("the remote sender's notice is queued outbound, from <>, to the sender",
      len(envs) == 1 and envs[0]["sender"] == "<>" and
      envs[0]["rcpt"] == ["P bob@remote.example"], envs)
if ob:
    rep = report(os.path.join(spool, "outbound", "msg", ob[0]))
    check("... and is a report with Action failed, Status 4.4.7",
          rep is not None and rep[:2] == ("failed", "4.4.7"), rep)
    admin("queue", "remove", ob[0])

# --- 2. outbound: a delay warning once, then the 5-day lifetime --------------
relay = ["--relay-clients", "127.0.0.1/32"]
r = send("alice@example.jp", ["carol@remote.example"], "outbound", peer="127.0.0.1", args=relay)
ob = queue_ids(spool, "outbound")
check("an outbound message queued", len(ob) == 1, r)
oid = ob[0] if ob else "none"
set_arrival("outbound", oid, 5 * 3600)
before_alice = maildir_msgs(ALICE)
rc, out, err = admin("queue", "expire")
check("5 h old: one 'warned' line", rc == 0 and re.search(r"^warned outbound %s " % re.escape(oid),
                                                          out, re.M), (rc, out, err))
new = [m for m in maildir_msgs(ALICE) if m not in before_alice]
check("a delay warning in the sender's maildir", len(new) == 1, new)
if new:
    rep = report(os.path.join(ALICE, "new", new[0]))
    check("... Action: delayed, a 4.x.x status", rep is not None and rep[0] == "delayed" and
          rep[1].startswith("4."), rep)
check("the envelope notes the warning", "warned" in read_env(spool, "outbound", oid))
rc, out, err = admin("queue", "expire")
check("second run: no second warning", rc == 0 and not re.search(r"^warned ", out, re.M) and
      len(maildir_msgs(ALICE)) == len(before_alice) + 1, (out, err))
check("still queued", queue_ids(spool, "outbound") == [oid])
set_arrival("outbound", oid, 6 * 86400)
rc, out, err = admin("queue", "expire")
check("6 days old: expired (5-day outbound lifetime)",
      rc == 0 and "expired outbound %s" % oid in out and queue_ids(spool, "outbound") == [],
      (out, err))
newest = sorted(maildir_msgs(ALICE), key=lambda n: os.path.getmtime(
    os.path.join(ALICE, "new", n)))[-1]
rep = report(os.path.join(ALICE, "new", newest))
check("... returned: Action failed, Status 4.4.7, rcpt carol",
      rep is not None and rep[:3] == ("failed", "4.4.7", "rfc822; carol@remote.example"), rep)

# --- 3. per-domain lifetime= -----------------------------------------------------
send("alice@example.jp", ["x@short.example"], "short")
send("alice@example.jp", ["y@dialup.example"], "long")
sid = queue_ids(spool, "hold/short.example")
lid = queue_ids(spool, HOLD)
for q, ids in (("hold/short.example", sid), (HOLD, lid)):
    for i in ids:
        set_arrival(q, i, 2 * 3600)
rc, out, err = admin("queue", "expire")
check("lifetime=1h: a 2 h old held message expires",
      sid and "expired hold/short.example %s" % sid[0] in out and
      queue_ids(spool, "hold/short.example") == [], (out, err))
check("default 30 d: a 2 h old held message stays", lid and queue_ids(spool, HOLD) == lid,
      (out, queue_ids(spool, HOLD)))

# --- 4. crash leftovers ---------------------------------------------------------
def mkfile(path, age):
    """A leftover of the service user, age seconds old."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write("x")
    give_service(path)
    t = time.time() - age
    os.utime(path, (t, t))


hq = os.path.join(spool, HOLD)
old = {"tmp-old": (os.path.join(hq, "tmp", "1.M1P1.stale"), 2 * 86400),
       "orphan-old": (os.path.join(hq, "msg", "2.M2P2.orphan"), 2 * 3600),
       "maildir-tmp-old": (os.path.join(ALICE, "tmp", "3.M3P3.old"), 40 * 3600)}
keep = {"tmp-fresh": (os.path.join(hq, "tmp", "4.M4P4.fresh"), 600),
        "orphan-fresh": (os.path.join(hq, "msg", "5.M5P5.orphan"), 600),
        "maildir-tmp-fresh": (os.path.join(ALICE, "tmp", "6.M6P6.new"), 3600)}
for p, age in list(old.values()) + list(keep.values()):
    mkfile(p, age)
rc, out, err = admin("queue", "expire")
for k, (p, _) in old.items():
    check("leftover removed: %s" % k, not os.path.exists(p) and ("removed " + p) in out,
          (out, err))
for k, (p, _) in keep.items():
    check("kept: %s" % k, os.path.exists(p))
check("kept: the held message", queue_ids(spool, HOLD) == lid)
check("the removals are logged", err.count("expire: removed") == 3, err)

# --- 5. max-held ----------------------------------------------------------------
big = "x" * 3500
r = send("alice@example.jp", ["a@capped.example"], "fill", body=big)
check("capped: the first message fits (queue empty)", "250 2.0.0" in "\n".join(r), r)
r = send("alice@example.jp", ["b@capped.example", "c@dialup.example"], "over")
check("capped: once full, RCPT -> 452 4.3.1", any(l.startswith("452 4.3.1") for l in r), r)
check("... another hold domain is not affected", any(l.startswith("250 2.1.5 Recipient <c@dialup")
                                                     for l in r), r)
admin("queue", "expire", "--older-than", "0s", "capped.example")
r = send("alice@example.jp", ["d@capped.example"], "declared", size=5000)
check("capped: SIZE= alone above max-held -> 552 5.3.4",
      any(l.startswith("552 5.3.4") for l in r), r)
r = send("alice@example.jp", ["e@capped.example"], "small", size=100)
check("capped: an empty queue takes a small message", "250 2.0.0" in "\n".join(r), r)
rc, out, err = admin("queue", "list")
check("queue list shows the fill", re.search(r"^queue hold/capped.example: 1 message, \d+ bytes, "
                                             r"max-held 3K, \d+% full$", out, re.M), out)
rc, out, err = admin("stat", "capped.example")
check("stat HOLD-DOMAIN shows the fill", rc == 0 and "max-held 3K" in out, (out, err))

# --- 6. the options through mailbox-admin ---------------------------------------
rc, out, err = admin("domain", "add", "new.example", "--hold", "--lifetime", "10d",
                     "--max-held", "5M")
check("domain add --hold --lifetime 10d --max-held 5M", rc == 0 and
      re.search(r"^new.example +hold.*lifetime=10d.*max-held=5M", open(db).read(), re.M),
      (rc, out, err))
rc, out, err = admin("domain", "add", "bad.example", "--hold", "--lifetime", "10 days")
check("an invalid lifetime is refused (65)", rc == 65, (rc, out, err))
rc, out, err = admin("queue", "expire", "--older-than", "soon")
check("an invalid --older-than is a usage error (64)", rc == 64, (rc, out, err))
summary()
