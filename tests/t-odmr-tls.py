#!/usr/bin/env python3
"""t-odmr-tls.py - ODMR (RFC 2645) over real sockets: smtp-handler --odmr
under systemd-socket-activate on 127.0.0.1, with implicit TLS and with
STARTTLS; after ATRN the turned-around session runs inside the same TLS
session (this test is the site's SMTP server on the TLS socket). And a
connection dropped in the middle of the turned-around DATA: nothing is
lost and nothing is sent twice at the next ATRN."""
import base64, os, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *
from odmrlib import SockTalk, customer

require("odmr-tls", programs=(SMTP,), tools=("cdb", "openssl", "systemd-socket-activate"))

pki = os.path.join(TMP, "pki")
subprocess.run([os.path.join(HERE, "mkcerts"), pki], check=True)
users = make_db(TMP, free_port(), "odmr.example hold odmr=alice@example.jp")
spool = os.path.join(TMP, "spool")
HOLD = "hold/odmr.example"
TOK = base64.b64encode(b"\0alice@example.jp\0secret").decode()
BASE = [SMTP, "--users", users, "--spool", spool, "--hostname", "mx.example.jp",
        "--auth", "password", "--odmr", "--auth-delay", "0",
        "--cert", os.path.join(pki, "ec.crt"), "--key", os.path.join(pki, "ec.key")]
log = os.path.join(TMP, "handler.log")


def hold(tag, n=2):
    smtp_session(users, spool, hold_session(["%s%d@odmr.example" % (tag, i)
                                             for i in range(n)], tag=tag))


def ehlo(t, name="site.test"):
    t.send(("EHLO %s\r\n" % name).encode())
    lines = [t.line()]
    while lines[-1][:4] != "250 " and lines[-1] not in ("", "(timeout)"):
        lines.append(t.line())
    return lines


for mode in ("implicit", "starttls"):
    port = free_port()
    socket_activate(port, BASE + ["--tls", mode], log=log)
    hold(mode)
    check("%s: 2 held" % mode, len(queue_ids(spool, HOLD)) == 2)
    t = SockTalk(port)
    if mode == "implicit":
        t.tls()
    check("%s: greeting" % mode, t.reply().startswith("220"))
    e = ehlo(t)
    if mode == "starttls":
        check("starttls: STARTTLS offered", any("STARTTLS" in l for l in e), e)
        check("starttls: 220 to STARTTLS", t.cmd("STARTTLS").startswith("220"))
        t.tls()
        e = ehlo(t)
    check("%s: ATRN and AUTH advertised over TLS" % mode,
          any("ATRN" in l for l in e) and any(l.startswith("250-AUTH") for l in e), e)
    check("%s: AUTH" % mode, t.cmd("AUTH PLAIN " + TOK).startswith("235"))
    r = t.cmd("ATRN odmr.example")
    check("%s: ATRN -> 250" % mode, r.startswith("250"), r)
    msgs, seen = customer(t)
    t.close()
    check("%s: both messages came down the TLS connection" % mode,
          sorted(m["rcpt"][0] for m in msgs) == ["%s0@odmr.example" % mode,
                                                  "%s1@odmr.example" % mode], seen)
    check("%s: QUIT at the end" % mode, seen[-1:] == ["QUIT"], seen[-2:])
    check("%s: the hold queue is empty" % mode, queue_ids(spool, HOLD) == [],
          queue_ids(spool, HOLD))

# dropped in the middle of the second message's DATA (piped session)
hold("drop", 3)
ids = queue_ids(spool, HOLD)
check("drop: 3 held", len(ids) == 3)
PIPE = BASE                    # same options, no TLS on a pipe
t = Talk(PIPE, capture_stderr=True)
t.reply()
ehlo(t)
t.cmd("AUTH PLAIN " + TOK)
check("drop: ATRN -> 250", t.cmd("ATRN odmr.example").startswith("250"))
first, seen = customer(t, drop_in_data=lambda n: n == 1)
rc, err = t.close()
check("drop: the first message was accepted before the drop", len(first) == 1, seen)
check("drop: the handler ended cleanly", rc == 0, (rc, err[-300:]))
left = queue_ids(spool, HOLD)
check("drop: the two not accepted stay held", len(left) == 2, left)
t = Talk(PIPE, capture_stderr=True)
t.reply()
ehlo(t)
t.cmd("AUTH PLAIN " + TOK)
check("drop: next ATRN -> 250", t.cmd("ATRN odmr.example").startswith("250"))
rest, seen = customer(t)
t.close()
got = sorted(m["rcpt"][0] for m in first + rest)
check("drop: every message arrived exactly once over the two sessions",
      got == ["drop0@odmr.example", "drop1@odmr.example", "drop2@odmr.example"], got)
check("drop: the hold queue is empty", queue_ids(spool, HOLD) == [])
summary()
