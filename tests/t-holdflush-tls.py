#!/usr/bin/env python3
"""t-holdflush-tls.py - the hold-queue flusher's TLS policy per hold
domain (issue 16 item 8: no silent TLS stripping): tls=may, require and
verify against a sink whose TLS is broken (offers STARTTLS, says 220,
answers the handshake with garbage), a good TLS sink with a certificate
from the test CA (for localhost), and a sink without STARTTLS.
  may     broken -> delivered in plain text, the fallback logged
  require broken -> kept (temporary failure), the log says why
  verify  broken -> kept, the log says why
  require good   -> delivered over TLS
  verify  good   -> delivered over TLS (chain checked against tls-ca=)
  verify  good, another CA -> kept
  require/verify, no STARTTLS -> kept; may -> delivered, logged
Flushes run synchronously with `mailbox-admin queue flush`, started as
root: the flusher becomes the spool's owner, the service user nobody (the
handler holds the mail with --user nobody; see etrnlib.py), and reads the
database and the CA files as that user. Every sink is on 127.0.0.1 and
stopped by PID at the end."""
import os, subprocess, sys
PUBLIC_TMP = True      # the flusher runs as nobody: TMP outside the checkout
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

require("holdflush-tls", programs=(SMTP, ADMIN), tools=("cdb", "openssl"))

pki = os.path.join(TMP, "pki")
subprocess.run([os.path.join(HERE, "mkcerts"), pki], check=True)
ca = os.path.join(pki, "ca.pem")
other = os.path.join(TMP, "other-ca.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                os.path.join(TMP, "other-ca.key"), "-out", other, "-days", "2",
                "-subj", "/CN=some other CA", "-addext", "basicConstraints=critical,CA:TRUE"],
               check=True, capture_output=True)

p_broken, p_good, p_plain = free_port(), free_port(), free_port()
d_broken, d_good, d_plain = (os.path.join(TMP, n) for n in ("broken", "good", "plain"))
start_sink(d_broken, p_broken, "--broken-tls")
start_sink(d_good, p_good, "--cert", os.path.join(pki, "ec.crt"), "--key",
           os.path.join(pki, "ec.key"))
start_sink(d_plain, p_plain)

extra = """
may.example       hold host=127.0.0.1:%(b)d
req.example       hold host=127.0.0.1:%(b)d tls=require
ver.example       hold host=localhost:%(b)d tls=verify tls-ca=%(ca)s
reqgood.example   hold host=127.0.0.1:%(g)d tls=require
vergood.example   hold host=localhost:%(g)d tls=verify tls-ca=%(ca)s
verother.example  hold host=localhost:%(g)d tls=verify tls-ca=%(o)s
mayplain.example  hold host=127.0.0.1:%(p)d tls=may
reqplain.example  hold host=127.0.0.1:%(p)d tls=require
""" % {"b": p_broken, "g": p_good, "p": p_plain, "ca": ca, "o": other}
users = make_db(TMP, p_plain, extra)
src = users[:-4]
readable(users, src, ca, other)
os.chmod(pki, 0o755)
# the spool's path may hold no symbolic link: the physical path of TMP
spool = service_dirs(os.path.join(os.path.realpath(TMP), "spool"))
log = os.path.join(TMP, "smtp.log")


def flush_log(node):
    """Holds one message for node, flushes it; returns (exit, log text)."""
    r = smtp_session(users, spool, hold_session(["someone@" + node], tag=node), log=log,
                     args=AS_SERVICE)
    if len(queue_ids(spool, "hold/" + node)) != 1:
        return None, "not held: %r" % r
    lf = os.path.join(TMP, node + ".log")
    with open(lf, "wb") as errf:
        rc = subprocess.run([ADMIN, "--db", src, "--spool", spool, "queue", "flush", node],
                            stdout=subprocess.DEVNULL, stderr=errf, timeout=60).returncode
    return rc, open(lf, encoding="latin-1").read()


def got(d, node):
    return [m for m in sink_messages(d) if m["rcpt"] and m["rcpt"][0].endswith("@" + node)]


def kept(node):
    return len(queue_ids(spool, "hold/" + node)) == 1


# a sink whose TLS is broken
rc, text = flush_log("may.example")
check("may + broken TLS: delivered (queue empty, exit 0)", rc == 0 and not kept("may.example"),
      (rc, text))
m = got(d_broken, "may.example")
check("may + broken TLS: the sink got it in plain text", len(m) == 1 and not m[0]["tls"], m)
check("may + broken TLS: the fallback is logged",
      "TLS handshake failed" in text and "falling back to plain text (tls=may)" in text, text)

for node, what in (("req.example", "require"), ("ver.example", "verify")):
    rc, text = flush_log(node)
    check("%s + broken TLS: kept in the queue (exit 75)" % what, rc == 75 and kept(node),
          (rc, text))
    check("%s + broken TLS: nothing reached the sink" % what, got(d_broken, node) == [])
    check("%s + broken TLS: the log says why" % what,
          "TLS handshake failed" in text and "(tls=%s: not sent without TLS)" % what in text,
          text)
    check("%s + broken TLS: no second, plain-text connection" % what,
          text.count("TLS handshake failed") == 1 and "falling back" not in text and
          "connected to" not in text, text)

# a good TLS sink
rc, text = flush_log("reqgood.example")
m = got(d_good, "reqgood.example")
check("require + good TLS: delivered over TLS", rc == 0 and len(m) == 1 and m[0]["tls"],
      (rc, m, text))
rc, text = flush_log("vergood.example")
m = got(d_good, "vergood.example")
check("verify + certificate from the test CA: delivered over TLS",
      rc == 0 and len(m) == 1 and m[0]["tls"], (rc, m, text))
check("verify: the log says the certificate was verified",
      "with TLS, certificate verified (tls=verify)" in text, text)
rc, text = flush_log("verother.example")
check("verify + a CA that did not sign it: kept", rc == 75 and kept("verother.example") and
      got(d_good, "verother.example") == [], (rc, text))
check("verify + another CA: the log says why",
      "TLS handshake failed" in text and "tls=verify" in text, text)

# a sink without STARTTLS
rc, text = flush_log("reqplain.example")
check("require + no STARTTLS: kept", rc == 75 and kept("reqplain.example"), (rc, text))
check("require + no STARTTLS: the log says why", "STARTTLS not offered" in text, text)
rc, text = flush_log("mayplain.example")
check("may + no STARTTLS: delivered in plain text",
      rc == 0 and len(got(d_plain, "mayplain.example")) == 1, (rc, text))
check("may + no STARTTLS: logged", "does not offer STARTTLS: sending without TLS" in text,
      text)

# mailbox-admin shows the policy and refuses a bad one
out = subprocess.run([ADMIN, "--db", src, "domain", "list"], capture_output=True,
                     text=True).stdout
line = [l for l in out.splitlines() if l.startswith("vergood.example ")]
check("domain list shows tls=verify", line and line[0].endswith("tls=verify"), out)
line = [l for l in out.splitlines() if l.startswith("may.example ")]
check("domain list shows the default tls=may", line and line[0].endswith("tls=may"), out)
with open(src, "a") as f:
    f.write("bad.example hold tls=maybe\n")
p = subprocess.run([ADMIN, "--db", src, "check"], capture_output=True, text=True)
check("mailbox-admin check refuses tls=maybe (65)", p.returncode == 65 and
      "tls= must be may, require or verify" in p.stdout + p.stderr, (p.returncode, p.stderr))

summary()
