#!/usr/bin/env python3
"""t-etrn-hostile.py - etrn-client against hostile scripted servers
(issue 16 items 14 and 15): a server trickling one continuation line a
second is cut off after --timeout for the whole reply (not per line); a
server that answers every command slowly is cut off by
--session-timeout; terminal escapes (ESC ] 0 ; ... BEL, ESC [ 2 J) in
the server's replies never reach etrn-client's stdout or stderr raw.
The servers are threads of this test on 127.0.0.1, closed at the end."""
import os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("etrn-hostile", programs=(ETRN,))


class Scripted:
    """Listens on 127.0.0.1; each connection runs script(conn, rfile)."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        try:
            self.script(c, c.makefile("rb"))
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop = True
        self.sock.close()


def send(c, text):
    c.sendall(text.encode("latin-1") + b"\r\n")


def ehlo_then(answer):
    """Greeting and EHLO answered at once; then answer(c, line) per command."""
    def script(c, f):
        send(c, "220 hostile.test ESMTP")
        while True:
            line = f.readline()
            if not line:
                return
            line = line.decode("latin-1").rstrip("\r\n")
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                send(c, "250-hostile.test")
                send(c, "250 ETRN")
            elif verb == "QUIT":
                send(c, "221 bye")
                return
            else:
                answer(c, line)
    return script


def run(args, timeout=60):
    start = time.time()
    try:
        p = subprocess.run([ETRN] + args, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.time() - start
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", e.stderr or b"", time.time() - start


# 1. one continuation line a second: the greeting never ends on its own
def trickle(c, f):
    for i in range(120):
        send(c, "220-still greeting you, line %d" % i)
        time.sleep(1)


s = Scripted(trickle)
rc, out, err, secs = run(["--port", str(s.port), "--timeout", "2", "127.0.0.1",
                          "dialup.example"], timeout=30)
check("trickled reply: etrn-client gives up (75)", rc == 75, (rc, err))
check("trickled reply: bounded by --timeout for the whole reply (%.1fs)" % secs,
      secs < 6, secs)
check("trickled reply: the reason is said", b"timed out" in err, err)
s.close()


# 2. every reply comes promptly enough for --timeout, but the session is long
def slow_etrn(c, line):
    time.sleep(1.5)
    send(c, "250 2.0.0 queuing started")


s = Scripted(ehlo_then(slow_etrn))
nodes = ["n%d.example" % i for i in range(8)]
rc, out, err, secs = run(["--port", str(s.port), "--timeout", "5",
                          "--session-timeout", "4", "127.0.0.1"] + nodes, timeout=40)
check("slow server: --session-timeout ends the session (75)", rc == 75, (rc, out, err))
check("slow server: bounded by --session-timeout (%.1fs)" % secs, secs < 8, secs)
check("slow server: the nodes not asked for are reported",
      b"not sent (connection lost)" in out, out)
check("slow server: the session limit is named", b"session time limit" in out + err,
      (out, err))
s.close()
rc, out, err, secs = run(["--session-timeout", "x", "127.0.0.1", "a.example"])
check("--session-timeout: a bad number is a usage error (64)", rc == 64, (rc, err))
rc, out, err, secs = run(["--help"])
check("--help lists --session-timeout", b"--session-timeout" in out, out)

# 3. terminal escapes in replies
ESC = "\x1b]0;owned by hostile.test\x07\x1b[2J"


def escapes(c, line):
    send(c, "250 2.0.0 ok " + ESC + " done")


s = Scripted(ehlo_then(escapes))
rc, out, err, secs = run(["--port", str(s.port), "--timeout", "5", "127.0.0.1",
                          "dialup.example"], timeout=30)
check("escapes: ETRN accepted (0)", rc == 0, (rc, out, err))
check("escapes: the reply is printed", out.startswith(b"dialup.example: 250 2.0.0 ok"), out)
check("escapes: no ESC or BEL on stdout", b"\x1b" not in out and b"\x07" not in out, out)
check("escapes: no ESC or BEL on stderr", b"\x1b" not in err and b"\x07" not in err, err)
s.close()


def bad_greeting(c, f):
    send(c, "554 5.3.2 go away " + ESC)
    f.readline()


s = Scripted(bad_greeting)
rc, out, err, secs = run(["--port", str(s.port), "--timeout", "5", "127.0.0.1",
                          "dialup.example"], timeout=30)
check("escapes in a refused greeting: 69", rc == 69, (rc, err))
check("escapes in a refused greeting: said on stderr",
      err.startswith(b"etrn-client: 127.0.0.1[127.0.0.1]:") and b"go away" in err, err)
check("escapes in a refused greeting: no ESC or BEL on stderr",
      b"\x1b" not in err and b"\x07" not in err, err)
s.close()

summary()
