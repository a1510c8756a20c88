#!/usr/bin/env python3
"""t-etrn-server.py - the server side of ETRN: mail for a hold domain is
held by smtp-handler; a permitted ETRN (peer from TCPREMOTEIP, pipe mode)
flushes it in the background to the node's host (tests/sinksmtp.py);
counts, 251/253/459/501; 4xx stays and is retried; 5xx -> a DSN in the
sender's maildir."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

if not os.access(SMTP, os.X_OK):
    skip("etrn-server", "smtp-handler is not built")
    summary()

port = free_port()
tport = free_port()
users = make_db(TMP, port, "secure.example hold host=127.0.0.1:%d etrn-from=192.0.2.0/24" % tport)
spool = os.path.join(TMP, "spool")
sinkdir = os.path.join(TMP, "sink")
replies = os.path.join(TMP, "replies")
open(replies, "w").close()
start_sink(sinkdir, port, "--replies", replies)
HOLD = "hold/dialup.example"

# EHLO advertises ETRN (there are hold domains)
r = smtp_session(users, spool, ["EHLO client.test", "QUIT"])
check("EHLO advertises ETRN", "250-ETRN" in r or "250 ETRN" in r, r)

# hold 3 messages through the real smtp-handler
r = smtp_session(users, spool, hold_session(["u1@dialup.example", "u2@dialup.example",
                                             "U3@Dialup.Example"]))
check("3 messages accepted for the hold domain", codes(r).count("250") >= 7, r)
check("3 messages held", len(queue_ids(spool, HOLD)) == 3, queue_ids(spool, HOLD))
check("nothing reached the sink before ETRN", sink_messages(sinkdir) == [])

# not permitted: wrong address, no authentication
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"],
                 peer="198.51.100.7")
check("ETRN from a foreign address -> 459", "459" in codes(r), r)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN authonly.example.jp", "QUIT"])
check("ETRN for a hold domain without etrn-from, unauthenticated -> 459",
      "459" in codes(r), r)
check("refused ETRN moved nothing", len(queue_ids(spool, HOLD)) == 3)

# unknown node, local domain, bad syntax
r = smtp_session(users, spool, ["EHLO c.test", "ETRN nosuch.example",
                                "ETRN example.jp", "ETRN #nosuch.example",
                                "ETRN bad..name", "ETRN @", "QUIT"])
c = codes(r)
check("unknown node -> 459", c[2:3] == ["459"], r)
check("local domain -> 459", c[3:4] == ["459"], r)
check("unknown #queue -> 459", c[4:5] == ["459"], r)
check("invalid node -> 501", c[5:7] == ["501", "501"], r)

# ETRN inside a mail transaction -> 503
r = smtp_session(users, spool, ["EHLO c.test", "MAIL FROM:<alice@example.jp>",
                                "ETRN dialup.example", "QUIT"])
check("ETRN inside a transaction -> 503", codes(r)[3:4] == ["503"], r)

# the permitted ETRN
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
line = [l for l in r if l.startswith("253")]
check("permitted ETRN -> 253 with the count 3",
      bool(line) and " 3 pending messages for node dialup.example started" in line[0], r)
check("all 3 arrive at the sink", wait_for(lambda: len(sink_messages(sinkdir)) == 3),
      len(sink_messages(sinkdir)))
check("the hold queue is empty", wait_for(lambda: queue_ids(spool, HOLD) == []),
      queue_ids(spool, HOLD))
msgs = sink_messages(sinkdir)
rc = sorted(m["rcpt"][0] for m in msgs)
# the local part keeps its case (RFC 5321 2.4), the domain is lowercased
check("envelopes as held", rc == ["U3@dialup.example", "u1@dialup.example",
                                  "u2@dialup.example"] and
      all(m["from"] == "alice@example.jp" for m in msgs), [(m["from"], m["rcpt"]) for m in msgs])
check("body intact, dot line unstuffed, CRLF on the wire",
      all(b"\r\n.line starting with a dot\r\n" in m["data"] and b"Subject: held" in m["data"]
          for m in msgs), msgs[:1])
check("EHLO name of the flush is --hostname",
      all(m["helo"] == "mx.example.jp" for m in msgs), [m["helo"] for m in msgs])

# second ETRN -> 251
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
check("second ETRN -> 251", "251" in codes(r), r)

# @domain covers the domain and its subdomains, #queue = the node's queue
r = smtp_session(users, spool, hold_session(["a@sub.dialup.example", "b@dialup.example"],
                                            tag="at"))
backdate(spool, HOLD)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN @dialup.example", "QUIT"])
line = [l for l in r if l.startswith("253")]
check("ETRN @domain -> 253 with both nodes' count 2",
      bool(line) and " 2 pending messages for node @dialup.example" in line[0], r)
check("@domain flushed both nodes", wait_for(lambda: len(sink_messages(sinkdir)) == 5))
backdate(spool, HOLD)
r = smtp_session(users, spool, hold_session(["q@dialup.example"], tag="hash"))
r = smtp_session(users, spool, ["EHLO c.test", "ETRN #dialup.example", "QUIT"])
check("ETRN #queue -> 253 1", any(l.startswith("253") and " 1 pending" in l for l in r), r)
check("#queue flushed", wait_for(lambda: len(sink_messages(sinkdir)) == 6))

# an authenticated user of the parent domain may ask for a node without
# etrn-from (authonly.example.jp below example.jp)
r = smtp_session(users, spool, hold_session(["x@authonly.example.jp"], tag="auth"))
import base64
tok = base64.b64encode(b"\0alice@example.jp\0secret").decode()
r = smtp_session(users, spool, ["EHLO c.test", "AUTH PLAIN " + tok,
                                "ETRN authonly.example.jp", "QUIT"],
                 peer="198.51.100.7", args=["--auth", "anonymous,password"])
check("authenticated user of the domain -> 253",
      "235" in codes(r) and any(l.startswith("253") for l in r), r)
check("authonly flushed", wait_for(lambda: len(sink_messages(sinkdir)) == 7))

# 4xx: the message stays, with attempts counted, and is retried
with open(replies, "w") as f:
    f.write("rcpt slow@dialup.example 451 4.3.0 try again later\n")
r = smtp_session(users, spool, hold_session(["slow@dialup.example"], tag="slow"))
backdate(spool, HOLD)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
check("ETRN with a deferring host -> 253 1", any(l.startswith("253 ") and " 1 pending" in l
                                                  for l in r), r)


def attempted():
    ids = queue_ids(spool, HOLD)
    return len(ids) == 1 and read_env(spool, HOLD, ids[0]).get("attempts") == "1"


check("4xx: the message stays with attempts 1", wait_for(attempted))
ids = queue_ids(spool, HOLD)
if ids:
    e = read_env(spool, HOLD, ids[0])
    check("4xx: next-try in the future, last reply kept",
          int(e.get("next-try", "0")) > time.time() and "451 4.3.0" in e["rcpt"][0], e)
check("4xx: nothing new at the sink", len(sink_messages(sinkdir)) == 7)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
check("ETRN again within the rate limit still answers 253 1",
      any(l.startswith("253 ") and " 1 pending" in l for l in r), r)
open(replies, "w").close()
backdate(spool, HOLD)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
check("retried after 4xx: delivered", wait_for(lambda: len(sink_messages(sinkdir)) == 8))
check("retried after 4xx: queue empty", wait_for(lambda: queue_ids(spool, HOLD) == []))

# 5xx: a DSN reaches the sender's maildir, the message leaves the queue
with open(replies, "w") as f:
    f.write("rcpt bad@dialup.example 550 5.1.1 <bad@dialup.example>: no such user\n")
r = smtp_session(users, spool, hold_session(["bad@dialup.example", "good@dialup.example"],
                                            tag="bounce")[:-1] +
                 ["MAIL FROM:<alice@example.jp>", "RCPT TO:<bad2@dialup.example>",
                  "RCPT TO:<ok2@dialup.example>", "DATA", "Subject: two", "", "x", ".",
                  "QUIT"])
with open(replies, "a") as f:
    f.write("rcpt bad2@dialup.example 554 5.7.1 refused\n")
backdate(spool, HOLD)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
newdir = os.path.join(TMP, "mail", "alice", "new")


def dsns():
    return [open(os.path.join(newdir, n), "rb").read()
            for n in (sorted(os.listdir(newdir)) if os.path.isdir(newdir) else [])]


check("5xx: DSNs in the sender's maildir", wait_for(lambda: len(dsns()) == 2), len(dsns()))
check("5xx: queue empty", wait_for(lambda: queue_ids(spool, HOLD) == []),
      queue_ids(spool, HOLD))
ds = dsns()
check("DSN is a multipart/report delivery-status",
      all(b"multipart/report; report-type=delivery-status" in d and
          b"Content-Type: message/delivery-status" in d for d in ds))
check("DSN names the failed recipient and status",
      any(b"Final-Recipient: rfc822; bad@dialup.example" in d and b"Status: 5.1.1" in d
          for d in ds) and
      any(b"Final-Recipient: rfc822; bad2@dialup.example" in d and b"Status: 5.7.1" in d
          for d in ds))
check("DSN does not name the accepted recipients",
      not any(b"Final-Recipient: rfc822; good" in d or b"Final-Recipient: rfc822; ok2" in d
              for d in ds))
check("DSN has the null sender", all(d.startswith(b"Return-Path: <>") for d in ds))
check("accepted recipients of the bounced messages were delivered",
      wait_for(lambda: len(sink_messages(sinkdir)) == 10), len(sink_messages(sinkdir)))

# a bounce of a message from the null sender produces no DSN
r = smtp_session(users, spool, ["EHLO c.test", "MAIL FROM:<>", "RCPT TO:<bad@dialup.example>",
                                "DATA", "Subject: bounce of a bounce", "", "x", ".", "QUIT"])
backdate(spool, HOLD)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
check("null sender + 5xx: removed", wait_for(lambda: queue_ids(spool, HOLD) == []))
time.sleep(0.3)
check("null sender + 5xx: no DSN", len(dsns()) == 2)

# opportunistic STARTTLS towards a node's host that offers it
pki = os.path.join(TOP, "tests", "tmp", "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), pki], check=True)
tsink = os.path.join(TMP, "sink-tls")
start_sink(tsink, tport, "--cert", os.path.join(pki, "ec.crt"), "--key",
           os.path.join(pki, "ec.key"))
r = smtp_session(users, spool, hold_session(["t@secure.example"], tag="tls"))
r = smtp_session(users, spool, ["EHLO c.test", "ETRN secure.example", "QUIT"])
check("flush to a host offering STARTTLS: delivered",
      wait_for(lambda: len(sink_messages(tsink)) == 1))
m = sink_messages(tsink)
check("flush used STARTTLS (opportunistic, unverified: the name is an IP here)",
      bool(m) and m[0]["tls"] is True, m)
check("EHLO repeated after STARTTLS", bool(m) and m[0]["helo"] == "mx.example.jp")

# an unreachable host: messages stay, ETRN still 253
os.rename(users, users + ".bak")
users = make_db(TMP, free_port())
r = smtp_session(users, spool, hold_session(["late@dialup.example"], tag="late"))
backdate(spool, HOLD)
r = smtp_session(users, spool, ["EHLO c.test", "ETRN dialup.example", "QUIT"])
check("host down: 253", any(l.startswith("253 ") for l in r), r)
check("host down: message stays with attempts 1", wait_for(attempted))
summary()
