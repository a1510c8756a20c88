#!/usr/bin/env python3
"""t-pop3-renamed.py - messages another program (an IMAP server, a
script) renamed or deleted behind a POP3 session's back (issue 16 item 3):
a flag change in cur/ (NAME:2,S -> NAME:2,RS) or a move new/ -> cur/ with
flags is found again by the message's unique part, so RETR still works,
DELE+QUIT really deletes it, and the QUIT reply counts only what this
session deleted; a message already deleted by someone else is said so."""
import os, re, sys
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("pop3-renamed", (POP3,), ("cdb", "openssl"))

MAIL = os.path.join(TMP, "mail")
DB = example_users(MAIL)
MD = os.path.join(MAIL, "alice")
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(MD, sub))

A = "1700000001.M1P1Q1.ren,S=6,W=7"      # cur/, flags change
B = "1700000002.M1P1Q1.ren,S=6,W=7"      # new/ -> cur/ with flags
C = "1700000003.M1P1Q1.ren,S=6,W=7"      # deleted by someone else
D = "1700000004.M1P1Q1.ren,S=6,W=7"      # untouched


def put(sub, name, body):
    with open(os.path.join(MD, sub, name), "wb") as f:
        f.write(body)


put("cur", A + ":2,S", b"aaaa\nA\n"[:6])
put("new", B, b"bbbb\nB"[:6])
put("cur", C + ":2,", b"cccc\nC"[:6])
put("new", D, b"dddd\nD"[:6])


def files():
    return sorted(os.listdir(os.path.join(MD, "new")) +
                  os.listdir(os.path.join(MD, "cur")))


def session():
    t = Talk([POP3, "--users", DB, "--fail-delay", "0", "--timeout", "10"],
             env=dict(os.environ, POSTERN_LOG="stderr"), capture_stderr=True)
    t.reply()
    t.cmd("USER alice@example.org")
    return t, t.cmd("PASS pw")


def retr(t, n):
    st = t.cmd("RETR %d" % n)
    body = []
    if st.startswith("+OK"):
        while True:
            l = t.line()
            if l in (".", "(timeout)"):
                break
            body.append(l)
    return st, body


t, p = session()
check("login", p.startswith("+OK"), p)
stat = t.cmd("STAT")
check("4 messages", stat.startswith("+OK 4 "), stat)

# behind the session's back: flags of A changed, B moved with flags
os.rename(os.path.join(MD, "cur", A + ":2,S"), os.path.join(MD, "cur", A + ":2,RS"))
os.rename(os.path.join(MD, "new", B), os.path.join(MD, "cur", B + ":2,S"))
st, body = retr(t, 1)
check("RETR of a message whose flags changed works", st.startswith("+OK") and body == ["aaaa", "A"],
      (st, body))
st, body = retr(t, 2)
check("RETR of a message moved to cur/ with flags works", st.startswith("+OK") and body == ["bbbb", "B"],
      (st, body))
# renamed again after RETR, then deleted; C deleted by someone else
os.rename(os.path.join(MD, "cur", A + ":2,RS"), os.path.join(MD, "cur", A + ":2,RST"))
os.unlink(os.path.join(MD, "cur", C + ":2,"))
for n in (1, 2, 3):
    r = t.cmd("DELE %d" % n)
    check("DELE %d" % n, r.startswith("+OK"), r)
q = t.cmd("QUIT")
rc, err = t.close()
check("QUIT counts only what this session deleted",
      q == "+OK Bye (2 messages deleted, 1 already removed by another program)", q)
check("the renamed messages are really gone, the other one stays",
      files() == [D], files())
check("the log says one was gone already",
      b"already removed by another program" in err and b"GONE=1" in err, err[-600:])

# a plain session is unchanged: DELE of a message renamed before login
put("cur", A + ":2,S", b"aaaa\nA"[:6])
t, p = session()
os.rename(os.path.join(MD, "cur", A + ":2,S"), os.path.join(MD, "cur", A + ":2,FS"))
r = t.cmd("DELE 1")
q = t.cmd("QUIT")
t.close()
check("DELE+QUIT after a flag change: deleted and counted",
      r.startswith("+OK") and q == "+OK Bye (1 message deleted)" and files() == [D], (r, q, files()))
summary()
