#!/usr/bin/env python3
"""tests/sinksmtp.py - a tiny recording SMTP sink for tests.

  sinksmtp.py --port N --dir OUT [--replies FILE] [--no-etrn]
              [--no-pipelining] [--cert PEM --key PEM] [--auth USER:PASS]
              [--host ADDR] [--broken-tls] [--smtputf8] [--no-8bitmime]
              [--dsn]

Listens on 127.0.0.1:N (or ADDR:N; one thread per connection). Every
accepted message is written atomically as OUT/msg-<n>.eml (the data, dot-unstuffed,
CRLF as received) and OUT/msg-<n>.json ({"from", "rcpt", "tls", "auth",
"helo", "params": the MAIL parameters after the path}). Each command line is appended to OUT/commands.log (AUTH
arguments masked) and each ETRN argument to OUT/etrn.log.

--smtputf8 advertises SMTPUTF8; --no-8bitmime does not advertise 8BITMIME;
--dsn advertises DSN (RFC 3461); without it RET=/ENVID= on MAIL and
NOTIFY=/ORCPT= on RCPT are refused 555 5.5.4.
A MAIL FROM whose path or parameters need an extension not advertised
(8-bit octets in the path without SMTPUTF8, SMTPUTF8, BODY=8BITMIME) is
refused 555 5.5.4, as a strict server would.

--broken-tls offers STARTTLS, says 220 and answers the handshake with
garbage, then closes (a server whose TLS is broken, or an attacker).

--replies FILE is re-read at every RCPT and at the end of DATA; lines:
  rcpt ADDRESS CODE TEXT    reply to RCPT TO:<ADDRESS> (ADDRESS * = any)
  data CODE TEXT            reply after the data instead of 250
  etrn CODE TEXT            reply to ETRN instead of 250
  greeting CODE TEXT        first reply
  delay SECONDS             wait this long before the reply after the data
Blank lines and # comments are ignored.
"""
import argparse, json, os, socket, socketserver, ssl, sys, threading

lock = threading.Lock()
counter = [0]


def load_replies(path):
    r = {"rcpt": {}, "data": None, "etrn": None, "greeting": None, "delay": None}
    if not path or not os.path.exists(path):
        return r
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if parts[0] == "rcpt" and len(parts) == 3:
                addr, rest = parts[1], parts[2]
                r["rcpt"][addr.lower()] = rest
            elif parts[0] in ("data", "etrn", "greeting", "delay"):
                r[parts[0]] = " ".join(parts[1:])
    return r


def append(path, text):
    with lock:
        with open(path, "a") as f:
            f.write(text)


class Handler(socketserver.StreamRequestHandler):
    def send(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(4096)
        if not line:
            return None
        return line.decode("utf-8", "surrogateescape").rstrip("\r\n")

    def handle(self):
        a = self.server.args
        self.tls = False
        self.auth = None
        self.helo = None
        out = a.dir
        rep = load_replies(a.replies)
        self.send(rep["greeting"] or "220 sink.test ESMTP sinksmtp")
        mail, rcpts = None, []
        while True:
            line = self.readline()
            if line is None:
                return
            verb = line.split(" ", 1)[0].upper()
            logged = line if verb != "AUTH" else "AUTH ***"
            with lock:
                with open(os.path.join(out, "commands.log"), "ab") as f:
                    f.write(logged.encode("utf-8", "surrogateescape") + b"\n")
            arg = line[len(verb):].strip()
            if verb in ("EHLO", "HELO"):
                self.helo = arg
                mail, rcpts = None, []
                if verb == "HELO":
                    self.send("250 sink.test")
                    continue
                caps = ["sink.test"]
                if not a.no_pipelining:
                    caps.append("PIPELINING")
                caps += ["SIZE 10000000", "ENHANCEDSTATUSCODES"]
                if not a.no_8bitmime:
                    caps.append("8BITMIME")
                if a.smtputf8:
                    caps.append("SMTPUTF8")
                if a.dsn:
                    caps.append("DSN")
                if (a.cert or a.broken_tls) and not self.tls:
                    caps.append("STARTTLS")
                if a.auth:
                    caps.append("AUTH PLAIN")
                if not a.no_etrn:
                    caps.append("ETRN")
                for i, c in enumerate(caps):
                    self.send("250%s%s" % (" " if i == len(caps) - 1 else "-", c))
            elif verb == "STARTTLS" and a.broken_tls:
                # says yes, then answers the ClientHello with garbage
                self.send("220 2.0.0 go ahead")
                self.rfile.read1(4096)
                self.wfile.write(b"\x15\x03\x03\x00\x02\x02\x28not TLS at all\r\n")
                self.wfile.flush()
                return
            elif verb == "STARTTLS" and a.cert and not self.tls:
                self.send("220 2.0.0 go ahead")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(a.cert, a.key)
                self.connection = ctx.wrap_socket(self.connection, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                self.tls = True
                self.helo = None
            elif verb == "AUTH" and a.auth:
                import base64
                parts = arg.split()
                ok = False
                if len(parts) == 2 and parts[0].upper() == "PLAIN":
                    try:
                        f = base64.b64decode(parts[1]).split(b"\0")
                        ok = len(f) == 3 and (f[1] + b":" + f[2]).decode() == a.auth
                    except Exception:
                        ok = False
                if ok:
                    self.auth = a.auth.split(":")[0]
                    self.send("235 2.7.0 ok")
                else:
                    self.send("535 5.7.8 bad credentials")
            elif verb == "MAIL":
                if not arg.upper().startswith("FROM:<"):
                    self.send("501 5.5.4 syntax")
                    continue
                import re
                m = re.match(r"(?i)FROM:<(.*?)>(?: +(.*))?$", arg)
                path = m.group(1) if m else ""
                params = (m.group(2) or "").split() if m else []
                up = [x.upper() for x in params]
                if (("SMTPUTF8" in up or any(ord(ch) > 127 for ch in path))
                        and not a.smtputf8) or \
                        ("BODY=8BITMIME" in up and a.no_8bitmime) or \
                        (any(x.startswith(("RET=", "ENVID=")) for x in up) and not a.dsn):
                    self.send("555 5.5.4 extension not offered")
                    continue
                mail = path
                self.params = params
                rcpts = []
                self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                if mail is None:
                    self.send("503 5.5.1 MAIL first")
                    continue
                addr = arg[4:].strip().lstrip("<").split(">")[0]
                rparams = arg.split(">", 1)[1].upper().split() if ">" in arg else []
                if any(x.startswith(("NOTIFY=", "ORCPT=")) for x in rparams) and not a.dsn:
                    self.send("555 5.5.4 extension not offered")
                    continue
                rep = load_replies(a.replies)
                r = rep["rcpt"].get(addr.lower()) or rep["rcpt"].get("*")
                if r:
                    self.send(r)
                    if r.startswith("2"):
                        rcpts.append(addr)
                else:
                    rcpts.append(addr)
                    self.send("250 2.1.5 ok")
            elif verb == "DATA":
                if mail is None or not rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.send("354 go ahead")
                data = []
                while True:
                    raw = self.rfile.readline(1 << 20)
                    if not raw:
                        return
                    if raw == b".\r\n":
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    data.append(raw)
                rep = load_replies(a.replies)
                if rep["delay"]:
                    import time
                    time.sleep(float(rep["delay"]))
                if rep["data"] and not rep["data"].startswith("2"):
                    self.send(rep["data"])
                else:
                    with lock:
                        counter[0] += 1
                        n = counter[0]
                    base = os.path.join(out, "msg-%d" % n)
                    with open(base + ".eml.tmp", "wb") as f:
                        f.write(b"".join(data))
                    with open(base + ".json.tmp", "w") as f:
                        json.dump({"from": mail, "rcpt": rcpts, "tls": self.tls,
                                   "auth": self.auth, "helo": self.helo,
                                   "params": self.params}, f)
                    os.rename(base + ".json.tmp", base + ".json")
                    os.rename(base + ".eml.tmp", base + ".eml")
                    self.send(rep["data"] or "250 2.0.0 queued as %d" % n)
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.send("250 2.0.0 ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 ok")
            elif verb == "ETRN" and not a.no_etrn:
                append(os.path.join(out, "etrn.log"), arg + "\n")
                rep = load_replies(a.replies)
                self.send(rep["etrn"] or "250 2.0.0 queuing for node %s started" % arg)
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 command not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--replies")
    p.add_argument("--no-etrn", action="store_true")
    p.add_argument("--no-pipelining", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--broken-tls", action="store_true")
    p.add_argument("--smtputf8", action="store_true")
    p.add_argument("--no-8bitmime", action="store_true")
    p.add_argument("--dsn", action="store_true")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    srv = Server((a.host, a.port), Handler)
    srv.args = a
    srv.serve_forever()


if __name__ == "__main__":
    main()
