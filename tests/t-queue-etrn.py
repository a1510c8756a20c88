#!/usr/bin/env python3
"""t-queue-etrn.py - issue 15 item 1: a permitted ETRN is never dropped.
For each client (etrn-client plain, etrn-client --tls implicit, fetchmail
--protocol ETRN), on its own hold node with its own slow sink (4 s before
the reply to the data): message A is held, ETRN #1 starts the flush; while
A is still being sent, message B arrives and ETRN #2 (inside the 30 s rate
limit) is answered 253; both A and B must reach the sink, once each,
within the documented bound (30 s after the request, plus the sink's
delays) without a third ETRN. A burst of ETRNs for a fourth node starts
one flusher and one pass, not a storm."""
import glob, os, shutil, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

require("queue-etrn", (SMTP, ETRN), ("cdb", "openssl", "systemd-socket-activate"))
NODES = ("na.example", "nb.example", "nc.example", "nd.example")
ports = {n: free_port() for n in NODES}
extra = "\n".join("%s hold host=127.0.0.1:%d etrn-from=127.0.0.1,::1" % (n, ports[n])
                  for n in NODES)
users = make_db(TMP, free_port(), extra)
spool = os.path.join(TMP, "spool")
sinks = {}
for n in NODES:
    d = os.path.join(TMP, "sink-" + n)
    os.makedirs(d)
    rep = os.path.join(TMP, "replies-" + n)
    with open(rep, "w") as f:
        f.write("delay 4\n")
    start_sink(d, ports[n], "--replies", rep)
    sinks[n] = d
pki = os.path.join(TOP, "tests", "tmp", "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), pki], check=True,
               capture_output=True)
CA = os.path.join(pki, "ca.pem")


def serve(extra_args=()):
    port = free_port()
    socket_activate(port, [SMTP, "--users", users, "--spool", spool, "--hostname",
                           "mx.example.jp"] + list(extra_args),
                    log=os.path.join(TMP, "smtp-%d.log" % port))
    return port


plain = serve()
implicit = serve(["--tls", "implicit", "--cert", os.path.join(pki, "ec.crt"),
                  "--key", os.path.join(pki, "ec.key")])


def hold(node, tag):
    r = smtp_session(users, spool, hold_session(["u@" + node], tag=tag))
    return codes(r).count("250") >= 3


def etrn_plain(node):
    p = subprocess.run([ETRN, "--port", str(plain), "127.0.0.1", node],
                       capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def etrn_implicit(node):
    p = subprocess.run([ETRN, "--port", str(implicit), "--tls", "implicit", "--ca", CA,
                        "localhost", node], capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def etrn_fetchmail(node):
    home = os.path.join(TMP, "fmhome-" + node)
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    p = subprocess.run(["fetchmail", "--nosyslog", "-v", "--protocol", "ETRN", "--port",
                        str(plain), "--fetchdomains", node, "127.0.0.1"],
                       capture_output=True, text=True, env=env, timeout=60)
    return p.stdout + p.stderr


def subjects(node):
    out = []
    for m in sink_messages(sinks[node]):
        for line in m["data"].split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out.append(line[9:].decode())
    return sorted(out)


def data_started(node):
    p = os.path.join(sinks[node], "commands.log")
    return os.path.exists(p) and "DATA" in open(p).read()


results = {}


def scenario(name, node, etrn):
    res = []
    res.append(("%s: message A held" % name, hold(node, "A"), ""))
    out1 = etrn(node)
    res.append(("%s: ETRN #1 -> 253" % name, "253 2.0.0" in out1, out1))
    started = wait_for(lambda: data_started(node), 20)
    res.append(("%s: the first flush is sending A" % name, started, ""))
    res.append(("%s: message B held while A is being sent" % name, hold(node, "B"), ""))
    t2 = time.time()
    out2 = etrn(node)
    res.append(("%s: ETRN #2 inside the 30 s interval -> 253 (not dropped)" % name,
                "253 2.0.0" in out2, out2))
    # bound: 30 s after the first pass started, plus 4 s per message at the sink
    ok = wait_for(lambda: subjects(node) == ["A 0", "B 0"], 30 + 8 + 10)
    res.append(("%s: A and B both reached the sink, once each, %.0f s after ETRN #2"
                % (name, time.time() - t2), ok, subjects(node)))
    res.append(("%s: the hold queue is empty" % name,
                wait_for(lambda: queue_ids(spool, "hold/" + node) == [], 5),
                queue_ids(spool, "hold/" + node)))
    results[name] = res


threads = [threading.Thread(target=scenario, args=a) for a in
           (("etrn-client", "na.example", etrn_plain),
            ("etrn-client --tls implicit", "nb.example", etrn_implicit))]
if shutil.which("fetchmail"):
    threads.append(threading.Thread(target=scenario,
                                    args=("fetchmail ETRN", "nc.example", etrn_fetchmail)))
else:
    check("fetchmail is installed (scripts/deps)", False)
for t in threads:
    t.start()


def flusher_pids(node):
    """processes holding node's .flusher open"""
    target = os.path.join(spool, "hold", node, ".flusher")
    pids = set()
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == target:
                pids.add(fd.split("/")[2])
        except OSError:
            pass
    return pids


# a burst of ETRNs for one node: one flusher, one pass
hold("nd.example", "S")
r = smtp_session(users, spool, ["EHLO c.test"] + ["ETRN nd.example"] * 15 + ["QUIT"],
                 peer="127.0.0.1")
c = codes(r)
check("burst: 15 ETRNs answered 253", c.count("253") == 15, r)
most = 0
end = time.time() + 3
while time.time() < end:
    most = max(most, len(flusher_pids("nd.example")))
    time.sleep(0.05)
check("burst: at most one flusher for the node at a time", most <= 1, most)
check("burst: the message arrived once", wait_for(lambda: subjects("nd.example") == ["S 0"], 20),
      subjects("nd.example"))
time.sleep(2)
ehlos = open(os.path.join(sinks["nd.example"], "commands.log")).read().count("EHLO")
check("burst: one session with the node's host (no storm)", ehlos == 1, ehlos)

for t in threads:
    t.join(120)
for name in sorted(results):
    for n, ok, detail in results[name]:
        check(n, ok, detail)
summary()
