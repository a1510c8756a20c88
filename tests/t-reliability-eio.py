#!/usr/bin/env python3
"""t-reliability-eio.py - EIO under the handlers (issue 8), made by
tests/eiofs.c, a FUSE passthrough filesystem that fails chosen operations
on chosen paths (a control file, changed while mounted).
Checks: (1) smtp-handler delivering to a maildir whose create, write, fsync
or link/rename fails answers 4xx after DATA, leaves nothing in new/, logs
the error, and the next transaction (healthy maildir) gets 250; (2)
pop3-handler: RETR of a message whose open or read fails answers -ERR and
the session goes on; a maildir that cannot be looked up or listed gives
-ERR [SYS/TEMP] at login; (3) a users.cdb whose open, read or lookup fails:
POP3 login -ERR [SYS/TEMP], SMTP RCPT 4xx. Never a crash.
Needs /dev/fuse, libfuse3-dev and fuse3 (fusermount3); SKIPs otherwise."""
import atexit, os, re, select, shutil, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *
from eiolib import eiofs_mount

require("eio", (POP3, SMTP), ("cdb", "openssl", "cc", "pkg-config"))
SRC = os.path.join(TMP, "src")          # the real files
MNT = os.path.join(TMP, "mnt")          # the same, through eiofs
CTL = os.path.join(TMP, "control")
SPOOL = os.path.join(TMP, "spool")
for d in (SRC, MNT, SPOOL, os.path.join(SRC, "eiodb")):
    os.makedirs(d, exist_ok=True)
fs, fault = eiofs_mount("eio", SRC, MNT, CTL)

# --- users database and maildirs ----------------------------------------------
HASH = subprocess.run(["openssl", "passwd", "-5", "pw"], check=True,
                      capture_output=True, text=True).stdout.strip()
USERS = ("alice", "carol")              # carol's maildir is the failing one
MAILDIR = {"alice": "alice", "carol": "eio-carol"}


def make_db(path):
    src = os.path.join(TMP, "users.txt")
    with open(src, "w") as f:
        f.write("example.org domain\n")
        for u in USERS:
            f.write("%s@example.org %s %s/%s\n" % (u, HASH, MNT, MAILDIR[u]))
    subprocess.run(["cdb", "-c", "-m", path + ".new", src], check=True)
    os.rename(path + ".new", path)


DB = os.path.join(TMP, "users.cdb")                 # on the healthy disk
make_db(DB)
make_db(os.path.join(SRC, "eiodb", "users.cdb"))    # on eiofs
FDB = os.path.join(MNT, "eiodb", "users.cdb")
THROTTLE = os.path.join(TMP, "throttle")
for u in USERS:
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(SRC, MAILDIR[u], sub), exist_ok=True)


def pop3_argv(db=DB):
    return [POP3, "--users", db, "--throttle-file", THROTTLE, "--fail-delay", "0",
            "--timeout", "10"]


def smtp_argv(db=DB):
    return [SMTP, "--users", db, "--spool", SPOOL, "--hostname", "mx.test",
            "--auth-delay", "0", "--timeout", "10"]


def run(argv, data):
    try:
        return subprocess.run(argv, input=data, capture_output=True, timeout=40,
                              env=dict(os.environ, POSTERN_LOG="stderr"))
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(argv, -999, e.stdout or b"", e.stderr or b"")


def normal_exit(r):
    return r.returncode >= 0 and r.returncode != 86


def smtp_replies(out):
    """the final line of each SMTP reply"""
    return [l for l in out.decode("latin-1").split("\r\n") if len(l) >= 4 and l[3] == " "]


def pop3_replies(out, cmds):
    """the status line of each POP3 reply (greeting first) to `cmds`"""
    lines = out.decode("latin-1").split("\r\n")
    res, i = [], 0
    for c in [None] + cmds:
        if i >= len(lines):
            res.append("")
            continue
        st = lines[i]
        i += 1
        res.append(st)
        multi = c is not None and (c.startswith("RETR") or c.startswith("TOP") or
                                   c in ("LIST", "UIDL", "CAPA"))
        if multi and st.startswith("+OK"):
            while i < len(lines) and lines[i] != ".":
                i += 1
            i += 1
    return res


LOGRE = rb"<\d>[^\n]*(Input/output error|EIO|I/O error)"


def logged(r):
    return re.search(LOGRE, r.stderr) is not None


def errlines(r):
    """the error-level log lines, for a FAIL detail"""
    return [l for l in r.stderr.decode("latin-1").splitlines() if l[:3] in ("<3>", "<4>")][:3]


def files(user, sub):
    return os.listdir(os.path.join(SRC, MAILDIR[user], sub))


# --- (1) smtp: delivery to a failing maildir -----------------------------------
class SmtpTalk(Talk):
    """an interactive SMTP session over pipes (harness.Talk), log on stderr"""

    def __init__(self, argv):
        Talk.__init__(self, argv, env=dict(os.environ, POSTERN_LOG="stderr"), capture_stderr=True)

    def deliver(self, rcpt, subject):
        """MAIL, RCPT, DATA, body: the replies to RCPT, DATA and the final one"""
        self.cmd("MAIL FROM:<a@remote.test>")
        r = self.cmd("RCPT TO:<%s>" % rcpt)
        d = self.cmd("DATA") if r.startswith("250") else ""
        f = ""
        if d.startswith("354"):
            self.send(b"Subject: " + subject.encode() + b"\r\n\r\nbody\r\n.\r\n")
            f = self.reply()
        elif d.startswith("4"):
            f = d               # 4xx to DATA itself
        return r, d, f

    def finish(self):
        """closes the session: a CompletedProcess with its stderr"""
        rc, err = self.close()
        return subprocess.CompletedProcess([], rc, b"", err)


for ops, what in (("c", "create of the tmp/ file"), ("w", "write"), ("s", "fsync/close"),
                  ("n", "link/rename into new/")):
    fault("%s eio-carol" % ops)
    before_alice = len(files("alice", "new"))
    t = SmtpTalk(smtp_argv())
    t.reply()
    t.cmd("EHLO c.test")
    r1, d1, f1 = t.deliver("carol@example.org", "eio " + ops)
    fault()
    r2, d2, f2 = t.deliver("alice@example.org", "next")
    q = t.cmd("QUIT")
    r = t.finish()
    check("smtp, EIO on %s: 4xx at or after DATA, no crash" % what,
          r1.startswith("250") and re.match(r"45[12] ", f1) is not None and normal_exit(r),
          (r1, d1, f1, r.returncode))
    check("smtp, EIO on %s: nothing in new/" % what, not files("carol", "new"), files("carol", "new"))
    if ops != "n":      # with 'n' faults the tmp/ file cannot be unlinked either
        check("smtp, EIO on %s: no tmp/ file left" % what, not files("carol", "tmp"),
              files("carol", "tmp"))
    check("smtp, EIO on %s: a log line names the error" % what, logged(r), r.stderr[-300:])
    check("smtp, EIO on %s: the next transaction (healthy maildir) gets 250" % what,
          f2.startswith("250") and q.startswith("221") and
          len(files("alice", "new")) == before_alice + 1, (r2, d2, f2, q))
    for sub in ("new", "tmp"):
        for n in files("carol", sub):
            os.unlink(os.path.join(SRC, MAILDIR["carol"], sub, n))

# --- (2) pop3: a message that cannot be read; a maildir that cannot be listed ---
for n in files("alice", "new") + files("alice", "cur"):
    os.unlink(os.path.join(SRC, "alice", "new" if n in files("alice", "new") else "cur", n))
bodies = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\nsecond\r\n",
          b"Subject: three\r\n\r\nthird\r\n"]
for i, body in enumerate(bodies):
    tag = "eiomsg" if i == 1 else "okmsg"
    name = "%d.M%dP1Q1.%s,S=%d,W=%d" % (1700000000 + i, i, tag, len(body), len(body))
    with open(os.path.join(SRC, "alice", "new", name), "wb") as f:
        f.write(body)
CMDS = ["USER alice@example.org", "PASS pw", "STAT", "RETR 1", "RETR 2", "RETR 3",
        "NOOP", "QUIT"]
for ops, what in (("o", "open"), ("r", "read")):
    fault("%s eiomsg" % ops)
    r = run(pop3_argv(), "".join(c + "\r\n" for c in CMDS).encode())
    fault()
    rp = pop3_replies(r.stdout, CMDS)
    retr = rp[4:7]
    errs = [x for x in retr if x.startswith("-ERR")]
    check("pop3, EIO on %s of a message: RETR -ERR for it, +OK for the others, no crash" % what,
          len(errs) == 1 and sum(x.startswith("+OK") for x in retr) == 2 and normal_exit(r),
          (rp, r.returncode))
    check("pop3, EIO on %s of a message: the -ERR is [SYS/TEMP]" % what,
          len(errs) == 1 and errs[0].startswith("-ERR [SYS/TEMP]"), errs)
    check("pop3, EIO on %s of a message: the session goes on (NOOP, QUIT +OK)" % what,
          len(rp) > 8 and rp[7].startswith("+OK") and rp[8].startswith("+OK"), rp)
    check("pop3, EIO on %s of a message: a log line names the error" % what, logged(r),
          r.stderr[-300:])
    check("pop3, EIO on %s of a message: it is still in the maildir" % what,
          any("eiomsg" in n for n in files("alice", "new") + files("alice", "cur")))

CMDS = ["USER carol@example.org", "PASS pw", "STAT", "QUIT"]
for trig, what in (("l eio-carol", "the maildir itself (stat)"),
                   ("l eio-carol/new", "listing new/"),
                   ("l eio-carol/cur", "listing cur/")):
    fault(trig)
    r = run(pop3_argv(), "".join(c + "\r\n" for c in CMDS).encode())
    fault()
    rp = pop3_replies(r.stdout, CMDS)
    check("pop3, EIO on %s: login -ERR [SYS/TEMP], no crash" % what,
          rp[2].startswith("-ERR [SYS/TEMP]") and normal_exit(r), (rp, r.returncode))
    check("pop3, EIO on %s: a log line names the error" % what, logged(r), r.stderr[-300:])
r = run(pop3_argv(), "".join(c + "\r\n" for c in CMDS).encode())
rp = pop3_replies(r.stdout, CMDS)
check("pop3: the faults cleared, carol logs in", rp[2].startswith("+OK") and rp[3].startswith("+OK"), rp)

# --- (3) users.cdb on the failing filesystem ------------------------------------
for trig, what in (("o eiodb", "open"), ("r eiodb", "read"), ("l eiodb", "lookup (stat)")):
    fault(trig)
    cmds = ["USER alice@example.org", "PASS pw", "QUIT"]
    r = run(pop3_argv(FDB), "".join(c + "\r\n" for c in cmds).encode())
    rp = pop3_replies(r.stdout, cmds)
    check("pop3, EIO on %s of users.cdb: login -ERR [SYS/TEMP], no crash" % what,
          (rp[1].startswith("-ERR [SYS/TEMP]") or rp[2].startswith("-ERR [SYS/TEMP]"))
          and not rp[2].startswith("+OK") and normal_exit(r), (rp, r.returncode))
    # eiofs serves files with failing reads with direct_io, which rules out
    # mmap: the CDB then cannot be mapped at all, and the log names that
    # (ENODEV) rather than EIO
    named = logged(r) or (what == "read" and re.search(
        rb"<\d>[^\n]*users\.cdb: No such device", r.stderr) is not None)
    check("pop3, EIO on %s of users.cdb: a log line names the error" % what, named,
          errlines(r))
    r = run(smtp_argv(FDB), b"EHLO c.test\r\nMAIL FROM:<a@remote.test>\r\n"
            b"RCPT TO:<alice@example.org>\r\nQUIT\r\n")
    rp = smtp_replies(r.stdout)
    check("smtp, EIO on %s of users.cdb: RCPT 4xx, no crash" % what,
          (len(rp) > 3 and rp[3][:1] == "4" or rp[:1] and rp[0][:1] == "4") and normal_exit(r),
          (rp, r.returncode))
    named = logged(r) or (what == "read" and re.search(
        rb"<\d>[^\n]*users\.cdb: No such device", r.stderr) is not None)
    check("smtp, EIO on %s of users.cdb: a log line names the error" % what, named,
          errlines(r))
    fault()
cmds = ["USER alice@example.org", "PASS pw", "QUIT"]
r = run(pop3_argv(FDB), "".join(c + "\r\n" for c in cmds).encode())
check("pop3: users.cdb on eiofs without faults: login +OK",
      pop3_replies(r.stdout, cmds)[2].startswith("+OK"), r.stdout)
check("eiofs is still running (no handler hung it)", fs.poll() is None)
summary()
