#!/usr/bin/env python3
"""t-etrn-golden.py - golden ETRN transcripts piped into smtp-handler.

Each tests/golden/etrn/NAME.in is sent in one write (a pipelined batch),
each line with CRLF appended (bare LF with the directive "#!lf"); "\\xHH"
in a line is that byte; lines starting with "##" are comments;
"#!env NAME=VALUE" sets the environment (the default peer is
TCPREMOTEIP=192.0.2.5, inside dialup.example's etrn-from). Every case
gets a fresh spool; the held mail goes to the recording sink. The replies,
with queue ids masked, must equal NAME.out (UPDATE_GOLDEN=1 rewrites).
"""
import os, re, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

G = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "etrn")
if not os.access(SMTP, os.X_OK):
    skip("etrn-golden", "smtp-handler is not built")
    summary()

port = free_port()
users = make_db(TMP, port)
sinkdir = os.path.join(TMP, "sink")
start_sink(sinkdir, port)


def mask(text):
    text = re.sub(r"\d{9,}\.M\d+P\d+Q\d+\.[A-Za-z0-9.-]+", "ID", text)
    return text


for name in sorted(f[:-3] for f in os.listdir(G) if f.endswith(".in")):
    env = dict(os.environ)
    env["TCPREMOTEIP"] = "192.0.2.5"
    eol = b"\r\n"
    data = b""
    for line in open(os.path.join(G, name + ".in"), encoding="utf-8").read().splitlines():
        if line.startswith("##"):
            continue
        if line.startswith("#!env "):
            k, _, v = line[6:].partition("=")
            env[k] = v
            continue
        if line == "#!lf":
            eol = b"\n"
            continue
        raw = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), line)
        data += raw.encode("latin-1") + b"\0EOL"
    data = data.replace(b"\0EOL", eol)
    spool = os.path.join(TMP, "spool-" + name)
    errf = open(os.path.join(TMP, name + ".log"), "wb")
    p = subprocess.run([SMTP, "--users", users, "--spool", spool, "--hostname",
                        "mx.example.jp"], input=data, stdout=subprocess.PIPE,
                       stderr=errf, env=env, timeout=30)
    errf.close()
    got = mask(p.stdout.decode("utf-8", "backslashreplace").replace("\r\n", "\n"))
    outp = os.path.join(G, name + ".out")
    if os.environ.get("UPDATE_GOLDEN"):
        with open(outp, "w") as f:
            f.write(got)
    want = open(outp).read() if os.path.exists(outp) else None
    check("golden %s" % name, got == want,
          "\n--- want\n%s--- got\n%s" % (want, got))
    # held mail of the case must drain to the sink (no flusher left behind)
    check("golden %s: hold queues drained" % name, wait_for(lambda: all(
        queue_ids(spool, "hold/" + n) == [] for n in
        (os.listdir(os.path.join(spool, "hold")) if os.path.isdir(os.path.join(spool, "hold"))
         else []))))
summary()
