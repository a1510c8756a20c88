#!/usr/bin/env python3
"""t-atrn-client.py - etrn-client --atrn (RFC 2645, the ODMR customer
side) end to end: the provider is smtp-handler --odmr under
systemd-socket-activate with mail held for odmr.example; the site is
etrn-client --atrn with its own user database, spool and maildirs, whose
smtp-handler serves the turned-around session. Held mail lands in the
site's maildirs byte for byte and the hold queue empties; a second ATRN
gets 453 (exit 0); a node the user may not collect 450 (69); no AUTH 530
and a wrong password 535 (69); a provider that cuts the turned-around
DATA (a recording cut-off proxy) loses nothing and sends nothing twice
at the next ATRN; plain, STARTTLS and implicit TLS; --push before ATRN;
the options etrn.conf gives (--mode=, --smtp-handler-args=)."""
import os, select, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

require("atrn-client", programs=(SMTP, ETRN),
        tools=("cdb", "openssl", "systemd-socket-activate"))

pki = os.path.join(TMP, "pki")
subprocess.run([os.path.join(HERE, "mkcerts"), pki], check=True)
CA = os.path.join(pki, "ca.pem")

# --- the provider: odmr.example held for alice, other.example for bob --------
pusers = make_db(TMP, free_port(), "odmr.example hold odmr=alice@example.jp\n"
                 "other.example hold odmr=bob@example.jp\n"
                 "bob@example.jp  %s  %s/bob" % (
                     subprocess.run(["openssl", "passwd", "-6", "secret"],
                                    capture_output=True, text=True,
                                    check=True).stdout.strip(),
                     os.path.join(TMP, "mail")))
pspool = os.path.join(TMP, "pspool")
HOLD = "hold/odmr.example"
PLOG = os.path.join(TMP, "provider.log")
PBASE = [SMTP, "--users", pusers, "--spool", pspool, "--hostname", "mx.isp.test",
         "--auth", "password", "--odmr", "--auth-delay", "0",
         "--cert", os.path.join(pki, "ec.crt"), "--key", os.path.join(pki, "ec.key")]

# --- the site: odmr.example is a local domain here ---------------------------
site = os.path.join(TMP, "site")
os.mkdir(site)
smail = os.path.join(site, "mail")
with open(os.path.join(site, "users"), "w") as f:
    f.write("odmr.example  domain\n"
            "u0@odmr.example  !  %(m)s/u0\n"
            "u1@odmr.example  !  %(m)s/u1\n"
            "u2@odmr.example  !  %(m)s/u2\n" % {"m": smail})
subprocess.run(["cdb", "-c", "-m", os.path.join(site, "users.cdb"),
                os.path.join(site, "users")], check=True)
susers = os.path.join(site, "users.cdb")
sspool = os.path.join(site, "spool")
pwfile = os.path.join(site, "password")
with open(pwfile, "w") as f:
    f.write("secret\n")
os.chmod(pwfile, 0o600)
badpw = os.path.join(site, "badpassword")
with open(badpw, "w") as f:
    f.write("wrong\n")
os.chmod(badpw, 0o600)


def provider(tls):
    port = free_port()
    socket_activate(port, PBASE + ["--tls", tls], log=PLOG)
    return port


def atrn(port, nodes=("odmr.example",), tls="none", user="alice@example.jp",
         pw=pwfile, extra=(), host="127.0.0.1", timeout=60):
    args = [ETRN, "--atrn", "--port", str(port), "--timeout", "20",
            "--smtp-handler", SMTP, "--users", susers,
            "--smtp-handler-args", "--spool %s --hostname site.test" % sspool]
    if tls != "none":
        args += ["--tls", tls, "--ca", CA]
    if user:
        args += ["--auth-user", user, "--auth-password-file", pw]
    p = subprocess.run(args + list(extra) + [host] + list(nodes),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def hold(tag, n=3):
    """n messages held for odmr.example (u0.. u(n-1)); returns their bodies
    as submitted (the lines after DATA, LF-ended, dot-unstuffed)."""
    r = smtp_session(pusers, pspool, hold_session(
        ["u%d@odmr.example" % i for i in range(n)], tag=tag))
    check("%s: %d messages held" % (tag, n), codes(r).count("250") >= 3 * n, r)
    out = []
    for i in range(n):
        out.append(("Subject: %s %d\nMessage-ID: <%s.%d@test>\n\nbody %s %d\n"
                    ".line starting with a dot\n" % (tag, i, tag, i, tag, i)).encode())
    return out


def delivered(user):
    """The messages in the site maildir of user (new/), oldest first."""
    d = os.path.join(smail, user, "new")
    if not os.path.isdir(d):
        return []
    names = sorted(os.listdir(d), key=lambda n: os.stat(os.path.join(d, n)).st_mtime_ns)
    return [open(os.path.join(d, n), "rb").read() for n in names]


def all_delivered():
    return sum((delivered("u%d" % i) for i in range(3)), [])


def lands(tag, sent, before):
    """Each submitted message is in its maildir exactly once more than
    before, byte for byte after the site's own Received: line (and the
    provider's, added when it was held)."""
    ok = True
    for i, body in enumerate(sent):
        msgs = [m for m in delivered("u%d" % i) if m.endswith(body)]
        old = [m for m in before.get(i, []) if m.endswith(body)]
        if len(msgs) - len(old) != 1:
            ok = check("%s: u%d got its message once" % (tag, i), False,
                       (len(msgs), len(old)))
            continue
        m = msgs[-1]
        lines = m[:-len(body)].decode("latin-1").split("\n")
        ok &= check("%s: u%d: original headers and body byte-exact, after "
                    "Return-Path, Delivered-To, the site's and the provider's "
                    "Received:" % (tag, i),
                    len(lines) == 9 and lines[8] == ""
                    and lines[0] == "Return-Path: <alice@example.jp>"
                    and lines[1] == "Delivered-To: u%d@odmr.example" % i
                    and lines[2] == "Received: from mx.isp.test ([127.0.0.1])"
                    and lines[3].startswith("\tby site.test (postern) with ESMTP")
                    and lines[5].startswith("Received: from client.test ([192.0.2.5])")
                    and lines[6].startswith("\tby mx.example.jp (postern)"), lines)
    return ok


def snapshot():
    return {i: delivered("u%d" % i) for i in range(3)}


# --- plain, STARTTLS and implicit TLS ------------------------------------------
for tls in ("none", "starttls", "implicit"):
    port = provider(tls)
    sent = hold(tls)
    before = snapshot()
    rc, out, err = atrn(port, tls=tls, host="localhost" if tls != "none" else "127.0.0.1")
    check("%s: ATRN -> exit 0" % tls, rc == 0, (rc, out, err))
    check("%s: 250 printed for the node list" % tls,
          out.startswith("odmr.example: 250"), out)
    lands(tls, sent, before)
    check("%s: the provider's hold queue is empty" % tls,
          queue_ids(pspool, HOLD) == [], queue_ids(pspool, HOLD))
    rc, out, err = atrn(port, tls=tls, host="localhost" if tls != "none" else "127.0.0.1")
    check("%s: a second ATRN -> 453, exit 0" % tls,
          rc == 0 and out.startswith("odmr.example: 453"), (rc, out, err))
    check("%s: nothing delivered twice" % tls,
          len(all_delivered()) == sum(len(v) for v in snapshot().values())
          and lands("%s (again)" % tls, [], before) is not False)

port = provider("none")


def site_db(broken=None):
    """The site's database; broken: a user whose record is unreadable (the
    site's smtp-handler answers 451 for it)."""
    with open(os.path.join(site, "users"), "w") as f:
        f.write("odmr.example  domain\n")
        for i in range(3):
            f.write("u%d@odmr.example  %s  %s/u%d\n" % (
                i, "x" if broken == i else "!", smail, i))
    subprocess.run(["cdb", "-c", "-m", susers, os.path.join(site, "users")],
                   check=True)


# --- refusals -------------------------------------------------------------------
sent = hold("refusals", 1)
rc, out, err = atrn(port, nodes=("other.example",))
check("a node the user may not collect -> 450, exit 69",
      rc == 69 and out.startswith("other.example: 450"), (rc, out, err))
rc, out, err = atrn(port, nodes=("odmr.example", "other.example"))
check("a list with a node the user may not collect -> 450, exit 69",
      rc == 69 and out.startswith("odmr.example,other.example: 450"), (rc, out, err))
rc, out, err = atrn(port, user=None)
check("ATRN without AUTH -> 530, exit 69",
      rc == 69 and out.startswith("odmr.example: 530"), (rc, out, err))
rc, out, err = atrn(port, pw=badpw)
check("a wrong password -> 535, exit 69, no ATRN sent",
      rc == 69 and "AUTH refused" in err and "535" in err and out == "", (rc, out, err))
check("refusals: the held message stays", len(queue_ids(pspool, HOLD)) == 1)
plain = free_port()
socket_activate(plain, [SMTP, "--users", pusers, "--spool", pspool, "--auth",
                        "password", "--auth-delay", "0"], log=PLOG)
rc, out, err = atrn(plain)
check("a server without ATRN (no --odmr) -> exit 69",
      rc == 69 and "does not advertise ATRN" in err
      and out.strip() == "odmr.example: not sent (the server does not offer ATRN)",
      (rc, out, err))
before = snapshot()
rc, out, err = atrn(port, extra=["--mode=atrn"])
check("--mode=atrn (as etrn.conf gives it) -> 250, exit 0", rc == 0, (rc, out, err))
lands("--mode=atrn", sent, before)

# --- a temporary failure at the site keeps the message at the provider ----------
sent = hold("tempfail")
before = snapshot()
site_db(broken=1)
rc, out, err = atrn(port)
check("the site's smtp-handler answers 451 for one recipient -> exit 75",
      rc == 75 and "RESULT=quit" in err and "smtp-handler exit 75" in err,
      (rc, out, err))
check("tempfail: the other two delivered, u1's message still held",
      len(delivered("u0")) == len(before[0]) + 1 and len(delivered("u2")) ==
      len(before[2]) + 1 and len(delivered("u1")) == len(before[1])
      and len(queue_ids(pspool, HOLD)) == 1, queue_ids(pspool, HOLD))
site_db()
rc, out, err = atrn(port)
check("tempfail: the next ATRN delivers the rest -> exit 0", rc == 0, (rc, out, err))
lands("tempfail", sent, before)
check("tempfail: the hold queue is empty", queue_ids(pspool, HOLD) == [])


# --- the connection cut in the middle of the turned-around DATA -----------------
def cutting_proxy(target, after_bytes=None):
    """A one-connection proxy to target that cuts both sides in the middle of
    the second message's data (after the provider's second DATA command, half
    of the next bytes it sends), or (TLS, where commands cannot be seen) once
    the provider sent after_bytes bytes. Returns (port, thread, record)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    rec = {"cut": False}

    def run():
        ls.settimeout(30)
        try:
            c, _ = ls.accept()
        except OSError:
            return
        u = socket.create_connection(("127.0.0.1", target), timeout=30)
        seen = b""
        try:
            while True:
                r, _, _ = select.select([c, u], [], [], 30)
                if not r:
                    return
                for s_ in r:
                    d = s_.recv(65536)
                    if not d:
                        return
                    if s_ is u:
                        if after_bytes and len(seen) + len(d) > after_bytes:
                            c.sendall(d[:max(1, after_bytes - len(seen))])
                            rec["cut"] = True
                            return
                        if not after_bytes and seen.count(b"DATA\r\n") >= 2:
                            c.sendall(d[:max(1, len(d) // 2)])
                            rec["cut"] = True
                            return
                        seen += d
                        c.sendall(d)
                    else:
                        u.sendall(d)
        finally:
            for x in (c, u, ls):
                try:
                    x.close()
                except OSError:
                    pass

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return ls.getsockname()[1], th, rec


sent = hold("cut")
before = snapshot()
pp, th, rec = cutting_proxy(port)
rc, out, err = atrn(pp)
th.join(30)
check("cut: the proxy cut the second message's data", rec["cut"])
check("cut: etrn-client -> exit 75 (the session did not end with QUIT)",
      rc == 75 and 'RESULT="disconnected in transaction"' in err
      and "smtp-handler exit 75" in err, (rc, out, err))
check("cut: the first message delivered, the second not, the rest held",
      len(delivered("u0")) == len(before[0]) + 1
      and len(delivered("u1")) == len(before[1])
      and len(queue_ids(pspool, HOLD)) == 2, (queue_ids(pspool, HOLD), err))
check("cut: no partial message left in the site's maildir tmp/",
      all(not os.listdir(os.path.join(smail, "u%d" % i, "tmp")) for i in range(3)
          if os.path.isdir(os.path.join(smail, "u%d" % i, "tmp"))))
rc, out, err = atrn(port)
check("cut: the next ATRN -> exit 0", rc == 0, (rc, out, err))
lands("cut", sent, before)
check("cut: the hold queue is empty", queue_ids(pspool, HOLD) == [])

# over implicit TLS: a small message, then a 2 MB one cut after 1 MB
tport = provider("implicit")
big = "x" * 998
r = smtp_session(pusers, pspool, [
    "EHLO client.test", "MAIL FROM:<alice@example.jp>", "RCPT TO:<u0@odmr.example>",
    "DATA", "Subject: small", "", "small one", ".",
    "MAIL FROM:<alice@example.jp>", "RCPT TO:<u1@odmr.example>", "DATA",
    "Subject: big", ""] + [big] * 2000 + [".", "QUIT"])
check("cut/TLS: two messages held", len(queue_ids(pspool, HOLD)) == 2, r)
before = snapshot()
pp, th, rec = cutting_proxy(tport, after_bytes=1000000)
rc, out, err = atrn(pp, tls="implicit", host="localhost")
th.join(30)
check("cut/TLS: the proxy cut the big message's data", rec["cut"])
check("cut/TLS: exit 75, the handler saw the connection end in DATA",
      rc == 75 and 'RESULT="disconnected in transaction"' in err, (rc, out, err))
check("cut/TLS: the small one delivered, the big one still held",
      len(delivered("u0")) == len(before[0]) + 1
      and len(delivered("u1")) == len(before[1])
      and len(queue_ids(pspool, HOLD)) == 1, (queue_ids(pspool, HOLD), err))
rc, out, err = atrn(tport, tls="implicit", host="localhost")
check("cut/TLS: the next ATRN -> exit 0", rc == 0, (rc, out, err))
m = delivered("u1")
check("cut/TLS: the big one delivered once, whole",
      len(m) == len(before[1]) + 1 and m[-1].endswith(
          ("Subject: big\n\n" + (big + "\n") * 2000).encode())
      and len(delivered("u0")) == len(before[0]) + 1, len(m))
check("cut/TLS: the hold queue is empty", queue_ids(pspool, HOLD) == [])

# --- --push before ATRN ---------------------------------------------------------
r = smtp_session(susers, sspool, ["EHLO client.test", "MAIL FROM:<u0@odmr.example>",
                                  "RCPT TO:<someone@far.example>", "DATA",
                                  "Subject: pushed", "", "out", ".", "QUIT"],
                 args=["--relay-clients", "192.0.2.0/24"])
check("push: one message in the site's outbound queue",
      len(queue_ids(sspool, "outbound")) == 1, r)
sent = hold("push", 1)
before = snapshot()
rc, out, err = atrn(port, extra=["--push", sspool])
check("push: --push then ATRN -> exit 0", rc == 0, (rc, out, err))
check("push: the site's outbound queue is empty",
      queue_ids(sspool, "outbound") == [], queue_ids(sspool, "outbound"))
check("push: the message is in the provider's outbound queue",
      len(queue_ids(pspool, "outbound")) == 1, queue_ids(pspool, "outbound"))
check("push: logged before the ATRN",
      err.find("push: 1 message") != -1 and err.find("push: 1 message") < err.find("ATRN "),
      err)
lands("push", sent, before)

# --- postern-etrn.service's ExecStart= with an etrn.conf, both modes ----------
# (systemd's rules for EnvironmentFile= and ExecStart=: "${VAR}" is one
# word, empty when unset; "$VAR" alone is split at blanks, nothing when
# unset; the unit's @PREFIX@ programs are the built ones)
def unit_argv(conf):
    env = {}
    for line in conf.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v[1:-1] if v[:1] == '"' and v[-1:] == '"' else v
    exec_line = [l for l in open(os.path.join(TOP, "units", "postern-etrn.service"))
                 if l.startswith("ExecStart=")][0][len("ExecStart="):].split()
    argv = []
    for w in exec_line:
        w = w.replace("@PREFIX@/sbin/etrn-client", ETRN).replace(
            "@PREFIX@/libexec/postern/smtp-handler", SMTP)
        if w.startswith("$") and not w.startswith("${"):
            argv += env.get(w[1:], "").split()
        else:
            while "${" in w:
                a, b = w.index("${"), w.index("}")
                w = w[:a] + env.get(w[a + 2:b], "") + w[b + 1:]
            argv.append(w)
    return argv


sent = hold("unit", 1)
before = snapshot()
argv = unit_argv("""ETRN_MODE=atrn
ETRN_HOST=127.0.0.1
ETRN_NODES="odmr.example"
ETRN_OPTS="--port %d --timeout 20 --users %s --auth-user alice@example.jp --auth-password-file %s"
ATRN_HANDLER_OPTS="--spool %s --hostname site.test"
""" % (port, susers, pwfile, sspool))
p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
check("unit, ETRN_MODE=atrn: ATRN, exit 0",
      p.returncode == 0 and "ATRN odmr.example: 250" in p.stderr, (argv, p.returncode, p.stderr))
lands("unit", sent, before)
argv = unit_argv("""ETRN_HOST=127.0.0.1
ETRN_NODES="odmr.example"
ETRN_OPTS="--port %d --timeout 20"
""" % port)
p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
check("unit, ETRN_MODE unset: --mode= and --smtp-handler-args= empty, ETRN sent",
      "--mode=" in argv and "--smtp-handler-args=" in argv
      and "ETRN odmr.example: " in p.stderr and "ATRN" not in p.stderr
      and p.returncode in (0, 69, 75), (argv, p.returncode, p.stderr))

# --- usage ------------------------------------------------------------------------
for args, name in ((["--atrn", "h", "@odmr.example"], "--atrn with an @node"),
                   (["--atrn", "h", "#queue"], "--atrn with a #queue"),
                   (["--atrn", "--linger", "5", "h", "odmr.example"], "--atrn --linger"),
                   (["--mode", "turn", "h", "odmr.example"], "bad --mode"),
                   (["--atrn", "--smtp-handler", "smtp-handler", "h", "n.example"],
                    "relative --smtp-handler"),
                   (["--atrn", "--smtp-handler-args", " ".join(["-x"] * 40), "h",
                     "n.example"], "too many --smtp-handler-args")):
    p = subprocess.run([ETRN] + args, capture_output=True, text=True, timeout=30)
    check("usage: %s -> 64" % name, p.returncode == 64, (p.returncode, p.stderr))
p = subprocess.run([ETRN, "--help"], capture_output=True, text=True, timeout=30)
check("--help lists --atrn, --mode, --smtp-handler, --smtp-handler-args",
      all(o in p.stdout for o in ("--atrn", "--mode", "--smtp-handler ",
                                  "--smtp-handler-args")), p.stdout)

summary()
