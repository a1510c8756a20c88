"""tests/odmrlib.py - shared by the ODMR tests (t-odmr-*.py): the
customer's side of a turned-around session (this test acts as the site's
SMTP server after ATRN's 250) over a piped handler (harness.Talk) or a
socket, plain or TLS (SockTalk)."""
import select, socket, ssl, time
from harness import CRLFLines


class SockTalk(CRLFLines):
    """The Talk interface (line, reply, send, cmd) over a socket."""

    def __init__(self, port, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.timeout = timeout

    def tls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")

    def recv_some(self, end):
        if time.time() > end:
            return None
        try:
            return self.s.recv(65536)
        except (socket.timeout, OSError):
            return None

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError:
            pass

    def cmd(self, s):
        self.send(s.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
        return 0, b""


def customer(t, rcpt_reply=lambda rcpt: "250 2.1.5 ok", drop_in_data=None):
    """Acts as the customer's SMTP server after ATRN's 250: returns
    (messages accepted, lines seen). drop_in_data(n): True to drop the
    connection in the middle of the n-th DATA (0-based) without a reply."""
    msgs, seen = [], []
    t.send(b"220 site.test ESMTP customer\r\n")
    cur, ndata = None, 0
    while True:
        l = t.line()
        seen.append(l)
        if l in ("(timeout)", ""):
            break
        v = l[:4].upper()
        if v in ("EHLO", "HELO"):
            t.send(b"250-site.test\r\n250 8BITMIME\r\n")
        elif v == "MAIL":
            cur = {"from": l[10:].strip("<>"), "rcpt": [], "data": b""}
            t.send(b"250 2.1.0 ok\r\n")
        elif v == "RCPT":
            a = l[8:].strip("<>")
            rr = rcpt_reply(a)
            if rr.startswith("250"):
                cur["rcpt"].append(a)
            t.send(rr.encode() + b"\r\n")
        elif v == "DATA":
            t.send(b"354 go\r\n")
            body = b""
            d = t.line()
            if drop_in_data and drop_in_data(ndata):
                seen.append("(dropped)")
                return msgs, seen
            ndata += 1
            while d != ".":
                if d == "(timeout)":
                    return msgs, seen
                body += d.encode("latin-1") + b"\r\n"
                d = t.line()
            cur["data"] = body
            if cur["rcpt"]:
                msgs.append(cur)
            t.send(b"250 2.0.0 queued\r\n")
        elif v == "QUIT":
            t.send(b"221 bye\r\n")
            break
        elif v == "RSET":
            t.send(b"250 ok\r\n")
        else:
            t.send(b"502 no\r\n")
    return msgs, seen
