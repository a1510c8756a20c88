#!/usr/bin/env python3
"""t-smtp-postmaster.py - bare RCPT TO:<postmaster> (RFC 5321 4.5.1: MUST
be accepted) whatever --hostname is: delivered to postmaster@HOSTNAME when
--hostname is a local domain, else to postmaster@ the first local domain
of the database (smtp-handler(8)); never relayed, even for an
authenticated or relay client."""
import os, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("postmaster", (SMTP,), ("cdb", "openssl"))
h = subprocess.run(["openssl", "passwd", "-6", "pw"], capture_output=True, text=True,
                   check=True).stdout.strip()
mail = os.path.join(TMP, "mail")
src = os.path.join(TMP, "users")
with open(src, "w") as f:
    f.write("""dial.example hold host=127.0.0.1:9
first.example domain
second.example domain
postmaster@first.example alias pm1@first.example
pm1@first.example %(h)s %(m)s/pm1
postmaster@second.example %(h)s %(m)s/pm2
""" % {"h": h, "m": mail})
subprocess.run(["cdb", "-c", "-m", src + ".cdb", src], check=True)
users = src + ".cdb"
spool = os.path.join(TMP, "spool")


def session(hostname, rcpt, peer="198.51.100.7", args=()):
    lines = ["EHLO c.test", "MAIL FROM:<someone@remote.example>", "RCPT TO:<%s>" % rcpt,
             "DATA", "Subject: to %s via %s" % (rcpt, hostname), "", "hello", ".", "QUIT"]
    env = dict(os.environ, TCPREMOTEIP=peer)
    p = subprocess.run([SMTP, "--users", users, "--spool", spool, "--hostname", hostname]
                       + list(args), input="".join(l + "\r\n" for l in lines).encode(),
                       capture_output=True, env=env, timeout=30)
    return p.stdout.decode()


def count(box):
    d = os.path.join(mail, box, "new")
    return len(os.listdir(d)) if os.path.isdir(d) else 0


def outbound():
    d = os.path.join(spool, "outbound", "env")
    return len(os.listdir(d)) if os.path.isdir(d) else 0


out = session("mx.elsewhere.example", "postmaster")
check("--hostname not local: <postmaster> accepted", "250 2.1.5" in out and
      "Relay access denied" not in out, out)
check("... delivered to the first local domain's postmaster (alias -> pm1)",
      count("pm1") == 1 and count("pm2") == 0, (count("pm1"), count("pm2")))

out = session("second.example", "PostMaster")
check("--hostname a local domain: <PostMaster> accepted", "250 2.1.5" in out, out)
check("... delivered to postmaster@second.example", count("pm2") == 1 and count("pm1") == 1,
      (count("pm1"), count("pm2")))

out = session("dial.example", "postmaster", peer="127.0.0.1", args=["--relay-clients",
                                                                     "127.0.0.0/8"])
check("--hostname a hold domain, relay client: accepted, to the first local domain",
      "250 2.1.5" in out and count("pm1") == 2, (out, count("pm1")))
check("... never queued for relaying or holding", outbound() == 0 and
      not os.path.isdir(os.path.join(spool, "hold")), os.listdir(spool) if os.path.isdir(spool) else None)

# a database without a local domain: refused permanently, not relayed
with open(src, "w") as f:
    f.write("dial.example hold host=127.0.0.1:9\n")
subprocess.run(["cdb", "-c", "-m", src + ".cdb", src], check=True)
out = session("mx.elsewhere.example", "postmaster")
check("no local domain at all: 550 (nobody to deliver to), not 554 relay",
      "550 5.1.1" in out, out)
summary()
