#!/usr/bin/env python3
"""t-reliability-faults.py - faults under the handlers: a user database
that is missing, a directory, empty, truncated, garbage, holds a record
that does not parse, or is unreadable (EACCES, as an unprivileged user);
a database replaced during a session, atomically and (stress) rewritten
in place; a maildir removed or replaced by a file during a session;
EACCES on a maildir; ENOSPC with two recipients on different
filesystems (every copy or none); stale tmp/ files left by a crash.
Expected: temporary errors (POP3 [SYS/TEMP], SMTP 4xx) with a log line,
never a crash, never a partial message, and the next session works."""
import os, pwd, random, re, shutil, signal, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
PUBLIC_TMP = True      # handlers drop to 'nobody': TMP outside the checkout
from harness import *

require("faults", (POP3, SMTP), ("cdb", "openssl"))

os.chmod(TMP, 0o711)          # an unprivileged --user may pass through
PUB = os.path.join(TMP, "pub")
MAIL = os.path.join(PUB, "mail")
SPOOL = os.path.join(PUB, "spool")
os.makedirs(MAIL)
os.makedirs(SPOOL)
os.chmod(PUB, 0o755)
HASH = subprocess.run(["openssl", "passwd", "-5", "pw"], check=True,
                      capture_output=True, text=True).stdout.strip()
TEXT = os.path.join(PUB, "users")
DB = TEXT + ".cdb"


def make_db(extra="", path=DB, users=("alice", "bob")):
    lines = "example.org domain\npostmaster@example.org alias alice@example.org\n"
    for u in users:
        lines += "%s@example.org %s %s/%s\n" % (u, HASH, MAIL, u)
    src = path + ".txt"
    with open(src, "w") as f:
        f.write(lines + extra)
    subprocess.run(["cdb", "-c", "-m", path + ".new", src], check=True)
    os.rename(path + ".new", path)
    os.chmod(path, 0o644)


make_db()
THROTTLE = os.path.join(PUB, "throttle")


def pop3_argv(db=DB, *extra):
    return [POP3, "--users", db, "--throttle-file", THROTTLE, "--fail-delay", "0",
            "--timeout", "10"] + list(extra)


def smtp_argv(db=DB, *extra):
    return [SMTP, "--users", db, "--spool", SPOOL, "--hostname", "mx.test",
            "--auth-delay", "0", "--timeout", "10"] + list(extra)


def run(argv, data, env=None):
    e = dict(os.environ, POSTERN_LOG="stderr")
    if env:
        e.update(env)
    return subprocess.run(argv, input=data, capture_output=True, timeout=60, env=e)


def replies(out):
    return out.decode("latin-1").split("\r\n")


def deliver(user, body=b"Subject: seed\n\nseed\n"):
    md = os.path.join(MAIL, user)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    k = random.randrange(1 << 30)
    name = "%d.M%dP1Q1.faults,S=%d,W=%d" % (1700000000 + k % 1000, k, len(body), len(body) + body.count(b"\n"))
    with open(os.path.join(md, "new", name), "wb") as f:
        f.write(body)


POP3_LOGIN = b"USER alice@example.org\r\nPASS pw\r\nSTAT\r\nQUIT\r\n"
SMTP_RCPT = (b"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.org>\r\n"
             b"QUIT\r\n")


def normal_exit(r):
    return r.returncode >= 0 and r.returncode != 86


# --- A. a database that cannot be used --------------------------------------
def variant(name):
    p = os.path.join(PUB, "bad-" + name + ".cdb")
    if name == "missing":
        return p
    if name == "directory":
        os.mkdir(p)
        return p
    good = open(DB, "rb").read()
    data = {"empty": b"",
            "truncated-header": good[:1000],
            "truncated-half": good[:2048 + (len(good) - 2048) // 2],
            "truncated-last": good[:-1]}.get(name)
    if name == "bad-record":
        make_db(path=p, users=())
        subprocess.run(["cdb", "-c", "-m", p, "/dev/stdin"], check=True,
                       input=("example.org domain\nalice@example.org %s relative/path\n" % HASH).encode())
        return p
    if data is None:
        data = bytes(random.Random(7).randrange(256) for _ in range(4096))
    with open(p, "wb") as f:
        f.write(data)
    return p


for name in ("missing", "directory", "empty", "truncated-header", "truncated-half",
             "truncated-last", "bad-record", "garbage"):
    db = variant(name)
    r = run(pop3_argv(db), POP3_LOGIN)
    rp = replies(r.stdout)
    passr = rp[2] if len(rp) > 2 else ""
    # random bytes may look like a CDB; a cut in the last hash slot may
    # not be on alice's path
    strict = name not in ("garbage", "truncated-last")
    ok = normal_exit(r) and (passr.startswith("-ERR [SYS/TEMP]") if strict else
                             passr.startswith("-ERR") or name == "truncated-last")
    check("pop3, database %s: %s, no crash" % (name, "-ERR [SYS/TEMP]" if strict else "-ERR"),
          ok, "%s exit %d" % (passr, r.returncode))
    check("pop3, database %s: a log line" % name, len(r.stderr) > 0)
    r = run(smtp_argv(db), SMTP_RCPT)
    rcpt = [l for l in replies(r.stdout) if l and l[0] in "2345"]
    rcpt = rcpt[-2] if len(rcpt) >= 2 else ""
    strict = strict and name != "truncated-last"   # the lookup may not reach the cut
    ok = normal_exit(r) and (rcpt.startswith("4") if strict else
                             rcpt[:1] in ("4", "5") or name == "truncated-last")
    check("smtp, database %s: RCPT %s, no crash" % (name, "4xx" if strict else "refused"),
          ok, "%s exit %d" % (rcpt, r.returncode))

# unreadable (EACCES) for an unprivileged user
if os.geteuid() == 0:
    try:
        pwd.getpwnam("nobody")
        secret = os.path.join(TMP, "secret.cdb")      # TMP is 0711: no listing,
        shutil.copy(DB, secret)                       # file 0600 root: EACCES
        os.chmod(secret, 0o600)
        r = run(pop3_argv(secret, "--user", "nobody"), POP3_LOGIN)
        rp = replies(r.stdout)
        check("pop3, unreadable database (--user nobody): -ERR [SYS/TEMP]",
              len(rp) > 2 and rp[2].startswith("-ERR [SYS/TEMP]") and normal_exit(r), rp[:3])
        r = run(smtp_argv(secret, "--user", "nobody"), SMTP_RCPT)
        check("smtp, unreadable database (--user nobody): 4xx at RCPT",
              re.search(r"\r\n4\d\d [^\r]*\r\n221", r.stdout.decode("latin-1")) is not None
              and normal_exit(r), r.stdout[-200:])
    except KeyError:
        skip("unreadable database", "no user 'nobody'")
else:
    skip("unreadable database", "needs root to test as an unprivileged user (root reads anything)")


# --- B. the database replaced during a session ------------------------------
# (Talk: harness.Talk, an interactive session over pipes)


make_db()
t = Talk(smtp_argv())
t.reply()
t.cmd("EHLO c.test")
t.cmd("MAIL FROM:<a@remote.test>")
r1 = t.cmd("RCPT TO:<alice@example.org>")
make_db(users=("alice", "carol"))          # bob removed, carol added (rename)
r2 = t.cmd("RCPT TO:<bob@example.org>")
r3 = t.cmd("RCPT TO:<carol@example.org>")
t.cmd("DATA")
t.send(b"Subject: replaced\r\n\r\nbody\r\n.\r\n")
r4 = t.reply()
t.cmd("QUIT")
rc = t.close()[0]
check("smtp: database replaced mid-session: the new one answers (250/550/250, then 250)",
      r1.startswith("250") and r2.startswith("550") and r3.startswith("250") and r4.startswith("250")
      and rc == 0, (r1, r2, r3, r4, rc))
check("smtp: ... and both accepted recipients got it",
      all(len(os.listdir(os.path.join(MAIL, u, "new"))) == 1 for u in ("alice", "carol")))

make_db()
t = Talk(pop3_argv())
t.reply()
t.cmd("USER alice@example.org")
p1 = t.cmd("PASS pw")
make_db(users=("bob",))                 # alice gone from the database
p2 = t.cmd("STAT")
p3 = t.cmd("QUIT")
rc = t.close()[0]
check("pop3: database replaced after login: the session goes on",
      p1.startswith("+OK") and p2.startswith("+OK") and p3.startswith("+OK") and rc == 0,
      (p1, p2, p3, rc))
make_db()

# stress: the CDB rewritten IN PLACE (not the documented way) while
# sessions look users up; nothing may crash (e.g. SIGBUS on a mapping)
stop = threading.Event()
good = open(DB, "rb").read()


def rewriter():
    while not stop.is_set():
        with open(DB, "r+b") as f:
            f.truncate(0)
            f.write(good[:len(good) // 2])
            f.flush()
            time.sleep(0.0005)
            f.write(good[len(good) // 2:])
        time.sleep(0.0005)


th = threading.Thread(target=rewriter, daemon=True)
th.start()
crashes, odd = [], []
script = (b"EHLO c.test\r\n" + b"".join(
    b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
    b"RCPT TO:<nobody@example.org>\r\nRSET\r\n" for _ in range(30)) + b"QUIT\r\n")
for i in range(25):
    r = run(smtp_argv(), script)
    if r.returncode < 0:
        crashes.append("smtp signal %d" % -r.returncode)
    for l in replies(r.stdout):
        if l and not re.match(r"^(220|250|221|451|550|452|421)[ -]", l):
            odd.append(l)
    r = run(pop3_argv(), b"USER alice@example.org\r\nPASS pw\r\nQUIT\r\n")
    if r.returncode < 0:
        crashes.append("pop3 signal %d" % -r.returncode)
stop.set()
th.join()
with open(DB, "wb") as f:
    f.write(good)
check("database overwritten in place (as `cp new.cdb users.cdb` does) under 50 "
      "sessions: no crash (signal 7 = SIGBUS on the CDB mapping)", not crashes, crashes[:5])
check("... and only 250/451/550-style replies", not odd, odd[:5])


# --- C. the maildir removed or replaced during a session --------------------
for i in range(3):
    deliver("alice")
t = Talk(pop3_argv())
t.reply()
t.cmd("USER alice@example.org")
t.cmd("PASS pw")
shutil.rmtree(os.path.join(MAIL, "alice"))
l1 = t.cmd("LIST 1")
l2 = t.cmd("RETR 1")
while l2.startswith("+OK") and True:
    x = t.line()
    if x == ".":
        break
l3 = t.cmd("DELE 2")
l4 = t.cmd("QUIT")
rc = t.close()[0]
check("pop3: maildir removed mid-session: RETR -ERR, no crash",
      l2.startswith("-ERR") and rc in (0, 1), (l1, l2, l3, l4, rc))
r = run(pop3_argv(), POP3_LOGIN)
check("pop3: ... the next session logs in (empty mailbox)", b"+OK 0 0" in r.stdout, r.stdout)

t = Talk(smtp_argv())
t.reply()
t.cmd("EHLO c.test")
t.cmd("MAIL FROM:<a@remote.test>")
t.cmd("RCPT TO:<bob@example.org>")
shutil.rmtree(os.path.join(MAIL, "bob"), ignore_errors=True)
t.cmd("DATA")
t.send(b"Subject: recreated\r\n\r\nbody\r\n.\r\n")
d1 = t.reply()
t.cmd("QUIT")
rc = t.close()[0]
check("smtp: maildir removed between RCPT and DATA: recreated, 250",
      d1.startswith("250") and len(os.listdir(os.path.join(MAIL, "bob", "new"))) == 1, d1)

t = Talk(smtp_argv())
t.reply()
t.cmd("EHLO c.test")
t.cmd("MAIL FROM:<a@remote.test>")
t.cmd("RCPT TO:<bob@example.org>")
shutil.rmtree(os.path.join(MAIL, "bob"))
open(os.path.join(MAIL, "bob"), "w").close()    # a file where the maildir was
d2 = t.cmd("DATA")
if d2.startswith("354"):
    t.send(b"Subject: nowhere\r\n\r\nbody\r\n.\r\n")
    d2 = t.reply()
q = t.cmd("QUIT")
rc = t.close()[0]
check("smtp: maildir replaced by a file: 4xx (at DATA or after it), the session goes on",
      d2.startswith("4") and q.startswith("221") and rc == 0, (d2, q))
os.unlink(os.path.join(MAIL, "bob"))
r = run(pop3_argv(), b"USER bob@example.org\r\nPASS pw\r\nSTAT\r\nQUIT\r\n")
check("pop3: a maildir that is missing is an empty mailbox", b"+OK 0 0" in r.stdout, r.stdout)


# --- D. EACCES on a maildir --------------------------------------------------
if os.geteuid() == 0:
    shut = os.path.join(TMP, "shut")                 # root 0700: EACCES for nobody
    os.makedirs(os.path.join(shut, "dave", "new"))
    os.chmod(shut, 0o700)
    db2 = os.path.join(PUB, "eacces.cdb")
    with open(db2 + ".txt", "w") as f:
        f.write("example.org domain\ndave@example.org %s %s/dave\n" % (HASH, shut))
    subprocess.run(["cdb", "-c", "-m", db2, db2 + ".txt"], check=True)
    os.chmod(db2, 0o644)
    t = Talk(smtp_argv(db2, "--user", "nobody"))
    t.reply()
    t.cmd("EHLO c.test")
    t.cmd("MAIL FROM:<a@remote.test>")
    e1 = t.cmd("RCPT TO:<dave@example.org>")
    e2 = t.cmd("DATA") if e1.startswith("250") else ""
    if e2.startswith("354"):
        t.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
        e2 = t.reply()
    q = t.cmd("QUIT")
    rc = t.close()[0]
    check("smtp: EACCES on the maildir: 4xx (RCPT, DATA or after it), no crash",
          (e1.startswith("4") or e2.startswith("4")) and q.startswith("221") and rc == 0,
          (e1, e2, q, rc))
    r = subprocess.run(smtp_argv(db2, "--user", "nobody"), capture_output=True, timeout=30,
                       env=dict(os.environ, POSTERN_LOG="stderr"),
                       input=b"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<dave@example.org>\r\n"
                       b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    check("smtp: EACCES on the maildir: a log line naming the problem",
          re.search(rb"ermission denied|EACCES", r.stderr) is not None, r.stderr[-300:])
    r = run(pop3_argv(db2, "--user", "nobody"),
            b"USER dave@example.org\r\nPASS pw\r\nQUIT\r\n")
    rp = replies(r.stdout)
    check("pop3: EACCES on the maildir: -ERR [SYS/TEMP]",
          len(rp) > 2 and rp[2].startswith("-ERR [SYS/TEMP]") and normal_exit(r), rp[:3])
else:
    skip("EACCES on a maildir", "needs root to test as an unprivileged user")


# --- E. ENOSPC with two recipients on different filesystems -----------------
FULL = os.path.join(TMP, "full")
os.makedirs(FULL)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=384k,mode=0755", "tmpfs", FULL],
                         capture_output=True).returncode == 0
if not mounted:
    skip("ENOSPC", "mounting a tmpfs is not permitted here")
else:
    try:
        dbf = os.path.join(PUB, "full.cdb")
        with open(dbf + ".txt", "w") as f:
            f.write("example.org domain\nsmall@example.org %s %s/small\n"
                    "disk@example.org %s %s/disk\n" % (HASH, FULL, HASH, MAIL))
        subprocess.run(["cdb", "-c", "-m", dbf, dbf + ".txt"], check=True)
        big = b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 500      # ~500 KB
        for order in (("disk", "small"), ("small", "disk")):
            r = run(smtp_argv(dbf), b"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\n" +
                    b"".join(b"RCPT TO:<%s@example.org>\r\n" % u.encode() for u in order) +
                    b"DATA\r\n" + big + b".\r\nQUIT\r\n")
            out = r.stdout.decode("latin-1")
            files = []
            for base in (os.path.join(FULL, "small"), os.path.join(MAIL, "disk")):
                for sub in ("new", "tmp"):
                    d = os.path.join(base, sub)
                    files += os.listdir(d) if os.path.isdir(d) else []
            check("ENOSPC, recipients %s then %s: 452, no copy anywhere, no tmp file" % order,
                  re.search(r"\r\n452 4\.3\.1 [^\r]*\r\n221 ", out) is not None and not files
                  and normal_exit(r), (out[-160:], files))
        r = run(smtp_argv(dbf), b"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\n"
                b"RCPT TO:<small@example.org>\r\nRCPT TO:<disk@example.org>\r\nDATA\r\n"
                b"Subject: small\r\n\r\nfits\r\n.\r\nQUIT\r\n")
        check("ENOSPC: the next (small) message reaches both",
              re.search(rb"\r\n250 2\.0\.0 ", r.stdout) is not None and
              len(os.listdir(os.path.join(FULL, "small", "new"))) == 1 and
              len(os.listdir(os.path.join(MAIL, "disk", "new"))) == 1, r.stdout[-200:])
        # a full disk must not stop POP3 from deleting (freeing) mail
        try:
            with open(os.path.join(FULL, "filler"), "wb") as f:
                while True:
                    f.write(b"f" * 4096)
                    f.flush()
        except OSError:
            pass
        r = run(pop3_argv(dbf), b"USER small@example.org\r\nPASS pw\r\nDELE 1\r\nQUIT\r\n")
        check("ENOSPC: POP3 login, DELE and QUIT work on a full disk",
              r.stdout.count(b"+OK") == 5 and not os.listdir(os.path.join(FULL, "small", "new")) and
              not [n for n in os.listdir(os.path.join(FULL, "small", "cur"))], r.stdout)
    finally:
        subprocess.run(["umount", FULL])


# --- F. tmp/ files left by a crash are cleaned by a rule ---------------------
deliver("alice")
old = os.path.join(MAIL, "alice", "tmp", "1600000000.M1P999999Q1.crashed")
young = os.path.join(MAIL, "alice", "tmp", "%d.M1P999998Q1.inflight" % int(time.time()))
for p in (old, young):
    with open(p, "wb") as f:
        f.write(b"partial")
os.utime(old, (time.time() - 40 * 3600, time.time() - 40 * 3600))
run(smtp_argv(), b"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.org>\r\n"
    b"DATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n")
run(pop3_argv(), POP3_LOGIN)
check("a tmp/ file older than 36 h is removed by the next delivery or POP3 session "
      "(maildir_clean_tmp)", not os.path.exists(old))
check("a young tmp/ file (a delivery in progress) is kept", os.path.exists(young))
summary()
