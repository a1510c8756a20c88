#!/usr/bin/env python3
"""t-etrn-e2e.py - ETRN end to end with real peers: etrn-client against
smtp-handler under systemd-socket-activate (plain, STARTTLS with the
test CA, implicit TLS), against smtp-handler without hold domains (no
ETRN: exit 69), fetchmail --protocol ETRN against smtp-handler, and
etrn-client against a private Postfix instance with ETRN
(fast_flush_domains) on a loopback port."""
import os, shutil, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

for prog, name in ((SMTP, "smtp-handler"), (ETRN, "etrn-client")):
    if not os.access(prog, os.X_OK):
        skip("etrn-e2e", "%s is not built" % name)
        summary()
if not shutil.which("systemd-socket-activate"):
    skip("etrn-e2e", "systemd-socket-activate is not installed")
    summary()

sport = free_port()
users = make_db(TMP, sport)
spool = os.path.join(TMP, "spool")
sinkdir = os.path.join(TMP, "sink")
start_sink(sinkdir, sport)
HOLD = "hold/dialup.example"
pki = os.path.join(TOP, "tests", "tmp", "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), pki], check=True)
CA = os.path.join(pki, "ca.pem")


def run(args, timeout=60):
    p = subprocess.run([ETRN] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def serve(extra=(), db=None):
    port = free_port()
    socket_activate(port, [SMTP, "--users", db or users, "--spool", spool,
                           "--hostname", "mx.example.jp"] + list(extra),
                    log=os.path.join(TMP, "smtp-%d.log" % port))
    return port


def hold(n, tag):
    smtp_session(users, spool, hold_session(["%s%d@dialup.example" % (tag, i)
                                             for i in range(n)], tag=tag))
    backdate(spool, HOLD)


# plain, under systemd-socket-activate; the peer is 127.0.0.1 (etrn-from)
port = serve()
hold(2, "plain")
rc, out, err = run(["--port", str(port), "127.0.0.1", "dialup.example", "nosuch.example"])
check("etrn-client vs smtp-handler: 459 for the unknown node -> 69", rc == 69, (rc, out, err))
check("etrn-client vs smtp-handler: 253 with the count",
      "dialup.example: 253 2.0.0 OK, 2 pending messages for node dialup.example started"
      in out, out)
check("held mail arrived at the node's host",
      wait_for(lambda: len(sink_messages(sinkdir)) == 2), len(sink_messages(sinkdir)))
check("hold queue empty", wait_for(lambda: queue_ids(spool, HOLD) == []))
rc, out, err = run(["--port", str(port), "127.0.0.1", "dialup.example"])
check("etrn-client vs smtp-handler again: 251 -> 0",
      rc == 0 and "dialup.example: 251 " in out, (rc, out, err))

# a server without ETRN: smtp-handler with no hold domain
nohold = os.path.join(TMP, "nohold")
with open(nohold, "w") as f:
    f.write("example.jp domain\n")
subprocess.run(["cdb", "-c", "-m", nohold + ".cdb", nohold], check=True)
port2 = serve(db=nohold + ".cdb")
rc, out, err = run(["--port", str(port2), "127.0.0.1", "dialup.example"])
check("smtp-handler without hold domains: no ETRN -> 69",
      rc == 69 and "does not advertise ETRN" in err, (rc, out, err))

# STARTTLS and implicit TLS against smtp-handler, verified with the test CA
tls_args = ["--cert", os.path.join(pki, "ec.crt"), "--key", os.path.join(pki, "ec.key")]
port3 = serve(["--tls", "starttls"] + tls_args)
hold(1, "tls")
rc, out, err = run(["--port", str(port3), "--tls", "starttls", "--ca", CA, "localhost",
                    "dialup.example"])
check("etrn-client --tls starttls vs smtp-handler -> 253, exit 0",
      rc == 0 and "dialup.example: 253 " in out, (rc, out, err))
check("STARTTLS run: the mail arrived", wait_for(lambda: len(sink_messages(sinkdir)) == 3))
rc, out, err = run(["--port", str(port3), "--tls", "starttls", "--ca",
                    untrusted_ca(), "localhost", "dialup.example"])
check("etrn-client --tls starttls with the wrong CA -> 75", rc == 75, (rc, out, err))
port4 = serve(["--tls", "implicit"] + tls_args)
rc, out, err = run(["--port", str(port4), "--tls", "implicit", "--ca", CA, "localhost",
                    "dialup.example"])
check("etrn-client --tls implicit vs smtp-handler -> 0",
      rc == 0 and "dialup.example: 251 " in out, (rc, out, err))

# fetchmail --protocol ETRN against smtp-handler
if shutil.which("fetchmail"):
    hold(2, "fm")
    home = os.path.join(TMP, "fmhome")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    p = subprocess.run(["fetchmail", "--nosyslog", "-v", "--protocol", "ETRN", "--port",
                        str(port), "--fetchdomains", "dialup.example", "127.0.0.1"],
                       capture_output=True, text=True, env=env, timeout=60)
    both = p.stdout + p.stderr
    check("fetchmail --protocol ETRN: 253 from smtp-handler", "253 2.0.0" in both and
          p.returncode == 0, (p.returncode, both))
    check("fetchmail's ETRN flushed the mail",
          wait_for(lambda: len(sink_messages(sinkdir)) == 5), len(sink_messages(sinkdir)))
else:
    skip("fetchmail", "fetchmail is not installed")

summary()
