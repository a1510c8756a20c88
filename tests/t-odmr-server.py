#!/usr/bin/env python3
"""t-odmr-server.py - the provider side of ODMR (RFC 2645): smtp-handler
--odmr advertises ATRN, answers 502 outside ODMR mode, 530 before AUTH,
450 for a hold domain the user may not collect (odmr= list), 451 while
the node's queue lock is held, 453 when nothing is held; on 250 it turns
the piped session around and delivers the held mail to this test acting
as the customer's SMTP server: byte-exact bodies, a message removed only
when accepted, a 4xx recipient kept, and the session ends with QUIT."""
import base64, fcntl, os, sys
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *
from odmrlib import customer

port = free_port()
users = make_db(TMP, port, "odmr.example hold odmr=alice@example.jp\n"
                "other.example hold odmr=bob@example.jp")
spool = os.path.join(TMP, "spool")
HOLD = "hold/odmr.example"
TOK = base64.b64encode(b"\0alice@example.jp\0secret").decode()
ARGS = [SMTP, "--users", users, "--spool", spool, "--hostname", "mx.example.jp",
        "--auth", "anonymous,password"]


def talk(odmr=True):
    return Talk(ARGS + (["--odmr"] if odmr else []), capture_stderr=True)


def ehlo(t):
    lines = []
    t.send(b"EHLO site.test\r\n")
    l = t.line()
    while l[:4] != "250 " and l != "(timeout)" and l:
        lines.append(l)
        l = t.line()
    return lines + [l]


# outside ODMR mode: 502, no ATRN advertised
t = talk(odmr=False)
t.reply()
e = ehlo(t)
check("no ATRN advertised without --odmr", not any("ATRN" in l for l in e), e)
r = t.cmd("AUTH PLAIN " + TOK)
check("AUTH ok", r.startswith("235"), r)
check("ATRN outside ODMR mode -> 502", t.cmd("ATRN odmr.example").startswith("502"))
t.cmd("QUIT")
t.close()

t = talk()
t.reply()
e = ehlo(t)
check("EHLO advertises ATRN with --odmr", "250-ATRN" in e or "250 ATRN" in e, e)
check("EHLO advertises AUTH with --odmr", any(l.startswith("250-AUTH") for l in e), e)
check("ATRN without AUTH -> 530", t.cmd("ATRN odmr.example").startswith("530"))
check("AUTH ok", t.cmd("AUTH PLAIN " + TOK).startswith("235"))
check("ATRN for a domain the user may not collect -> 450",
      t.cmd("ATRN other.example").startswith("450"))
check("ATRN for a local domain -> 450", t.cmd("ATRN example.jp").startswith("450"))
check("ATRN mixing allowed and refused -> 450",
      t.cmd("ATRN odmr.example,other.example").startswith("450"))
check("ATRN bad syntax -> 501", t.cmd("ATRN odmr.example,").startswith("501"))
check("ATRN with nothing held -> 453", t.cmd("ATRN odmr.example").startswith("453"))
t.cmd("QUIT")
t.close()

# hold three messages (the third one's body is checked byte for byte)
r = smtp_session(users, spool, hold_session(["a@odmr.example", "b@odmr.example",
                                             "c@odmr.example"]))
check("3 messages held", len(queue_ids(spool, HOLD)) == 3, r)

# the node's queue lock held (a flush running) -> 451
lk = open(os.path.join(spool, HOLD, ".lock"), "a")
fcntl.flock(lk, fcntl.LOCK_EX)
t = talk()
t.reply()
ehlo(t)
t.cmd("AUTH PLAIN " + TOK)
check("ATRN while the node is being flushed -> 451",
      t.cmd("ATRN odmr.example").startswith("451"))
t.cmd("QUIT")
t.close()
fcntl.flock(lk, fcntl.LOCK_UN)
lk.close()


# 250, turned around: b@ gets a 4xx and stays held, the others arrive
t = talk()
t.reply()
ehlo(t)
t.cmd("AUTH PLAIN " + TOK)
r = t.cmd("ATRN odmr.example")
check("ATRN with mail held -> 250", r.startswith("250"), r)
msgs, seen = customer(t, lambda a: "451 4.3.0 later" if a.startswith("b@") else
                      "250 2.1.5 ok")
rc, err = t.close()
check("the provider sent EHLO mx.example.jp", seen[:1] == ["EHLO mx.example.jp"], seen[:3])
check("the provider ended with QUIT", seen[-1:] == ["QUIT"], seen[-3:])
check("handler exited 0 after the turn", rc == 0, (rc, err[-400:]))
check("2 messages delivered down the same connection", len(msgs) == 2,
      [m["rcpt"] for m in msgs])
check("envelopes as held", sorted(m["rcpt"][0] for m in msgs) ==
      ["a@odmr.example", "c@odmr.example"] and
      all(m["from"] == "alice@example.jp" for m in msgs), msgs)
check("bodies intact (dot-stuffed on the wire, CRLF)",
      all(b"\r\n..line starting with a dot\r\n" in m["data"] and
          b"Subject: held" in m["data"] for m in msgs), msgs[:1])
left = queue_ids(spool, HOLD)
check("the 4xx message stays held, the accepted ones are gone", len(left) == 1, left)

# second ATRN: the kept one is delivered now; then 453
t = talk()
t.reply()
ehlo(t)
t.cmd("AUTH PLAIN " + TOK)
check("second ATRN -> 250", t.cmd("ATRN odmr.example").startswith("250"))
msgs, seen = customer(t)
t.close()
check("the kept message arrives on the second ATRN",
      [m["rcpt"] for m in msgs] == [["b@odmr.example"]], msgs)
check("the hold queue is empty", queue_ids(spool, HOLD) == [], queue_ids(spool, HOLD))
t = talk()
t.reply()
ehlo(t)
t.cmd("AUTH PLAIN " + TOK)
check("third ATRN -> 453", t.cmd("ATRN odmr.example").startswith("453"))
t.cmd("QUIT")
t.close()
summary()
