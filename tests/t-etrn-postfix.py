#!/usr/bin/env python3
"""t-etrn-postfix.py - etrn-client against a real Postfix: a private
instance (its own config and queue directories under the test's temp dir,
master -d in the foreground, smtpd on a loopback port) that relays
dialup.example to the recording sink but holds it (defer_transports)
until a flush; fast_flush_domains enables ETRN for it. Mail sent to
Postfix arrives at the sink only after etrn-client's ETRN."""
import grp, os, pwd, shutil, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
PUBLIC_TMP = True      # Postfix runs as 'postfix': its queue outside the checkout
from etrnlib import *

MASTER = "/usr/lib/postfix/sbin/master"
if not os.access(ETRN, os.X_OK):
    skip("etrn-postfix", "etrn-client is not built")
    summary()
if not os.access(MASTER, os.X_OK):
    skip("etrn-postfix", "Postfix is not installed (%s)" % MASTER)
    summary()
try:
    pf_uid = pwd.getpwnam("postfix").pw_uid
    pd_gid = grp.getgrnam("postdrop").gr_gid
except KeyError:
    skip("etrn-postfix", "no postfix user or postdrop group")
    summary()
if os.geteuid() != 0:
    skip("etrn-postfix", "a private Postfix instance needs root (its queue "
         "directories belong to the postfix user)")
    summary()

pf = os.path.join(TMP, "postfix")
etc, queue, data = (os.path.join(pf, d) for d in ("etc", "queue", "data"))
for d in (etc, queue, data):
    os.makedirs(d)
os.chmod(pf, 0o755)
os.chmod(TMP, 0o755)
os.chown(data, pf_uid, -1)
os.makedirs(os.path.join(queue, "pid"))
for d in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
          "incoming", "private", "saved", "trace"):
    p = os.path.join(queue, d)
    os.mkdir(p, 0o700)
    os.chown(p, pf_uid, 0)
for d, mode in (("maildrop", 0o730), ("public", 0o710)):
    p = os.path.join(queue, d)
    os.mkdir(p)
    os.chown(p, pf_uid, pd_gid)
    os.chmod(p, mode)

sport, pport = free_port(), free_port()
sinkdir = os.path.join(TMP, "sink")
start_sink(sinkdir, sport)
with open(os.path.join(etc, "main.cf"), "w") as f:
    f.write("""compatibility_level = 3.6
queue_directory = %(q)s
data_directory = %(d)s
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
local_recipient_maps =
relay_domains = dialup.example
relay_recipient_maps =
fast_flush_domains = $relay_domains
smtpd_etrn_restrictions = permit_mynetworks, reject
mynetworks = 127.0.0.0/8
transport_maps = inline:{ dialup.example=smtp:[127.0.0.1]:%(s)d }
defer_transports = smtp
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtputf8_enable = no
alias_maps =
alias_database =
biff = no
maillog_file = %(pf)s/maillog
maillog_file_prefixes = %(pf)s
""" % {"q": queue, "d": data, "s": sport, "pf": pf})
with open(os.path.join(etc, "master.cf"), "w") as f:
    f.write("127.0.0.1:%d inet n - n - - smtpd\n" % pport)
    for line in ("cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
                 "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce",
                 "defer unix - - n - 0 bounce", "trace unix - - n - 0 bounce",
                 "verify unix - - n - 1 verify", "flush unix n - n 1000? 0 flush",
                 "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp",
                 "relay unix - - n - - smtp", "error unix - - n - - error",
                 "retry unix - - n - - error", "discard unix - - n - - discard",
                 "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache",
                 "postlog unix-dgram n - n - 1 postlogd", "showq unix n - n - - showq",
                 "pickup unix n - n 60 1 pickup"):
        f.write(line + "\n")

master = Server([MASTER, "-c", etc, "-d"], log=os.path.join(TMP, "master.log"))
if not wait_port(pport, timeout=15):
    log = open(os.path.join(pf, "maillog")).read() if os.path.exists(
        os.path.join(pf, "maillog")) else ""
    # Postfix is installed and we are root: not starting is a failure.
    check("the private Postfix starts", False, log[-300:] or open(
        os.path.join(TMP, "master.log"), errors="replace").read()[-300:])
    summary()
time.sleep(0.5)

s = smtplib.SMTP("127.0.0.1", pport, timeout=20)
s.sendmail("a@b.test", ["u1@dialup.example", "u2@dialup.example"],
           "Subject: via postfix\r\nMessage-ID: <pf.1@test>\r\n\r\nhello\r\n")
s.quit()
time.sleep(1.5)
check("Postfix holds the mail (defer_transports) until ETRN", sink_messages(sinkdir) == [])

p = subprocess.run([ETRN, "--port", str(pport), "127.0.0.1", "dialup.example"],
                   capture_output=True, text=True, timeout=60)
check("etrn-client vs Postfix: ETRN accepted -> 0",
      p.returncode == 0 and p.stdout.startswith("dialup.example: 250"), (p.returncode, p.stdout,
                                                                          p.stderr))
check("Postfix delivered the held mail to the node's host after ETRN",
      wait_for(lambda: len(sink_messages(sinkdir)) == 1, 20))
m = sink_messages(sinkdir)
check("envelope kept", bool(m) and sorted(m[0]["rcpt"]) == ["u1@dialup.example",
                                                            "u2@dialup.example"], m)

p = subprocess.run([ETRN, "--port", str(pport), "127.0.0.1", "nosuch.example"],
                   capture_output=True, text=True, timeout=60)
check("etrn-client vs Postfix: a domain not in fast_flush_domains -> 459, exit 69",
      p.returncode == 69 and "nosuch.example: 459" in p.stdout, (p.returncode, p.stdout))
master.stop()
summary()
