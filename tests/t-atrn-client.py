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

summary()
