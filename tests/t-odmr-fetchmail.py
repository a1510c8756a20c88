#!/usr/bin/env python3
"""t-odmr-fetchmail.py - AUTH CRAM-MD5 (RFC 2195) on the ODMR port and
fetchmail's ODMR client against it. smtp-handler --odmr (socket-activated
on 127.0.0.1) holds mail for odmr.example, which site@example.jp may
collect with its apop= secret; fetchmail `protocol ODMR` authenticates
with CRAM-MD5, says ATRN and relays the turned-around session to a
recording SMTP sink (tests/sinksmtp.py): each held message arrives byte
for byte and the hold queue empties. And: CRAM-MD5 is offered only with
--odmr, only when some user has apop=, not to a plaintext remote peer
(a PROXY header from 192.0.2.7) but to the same peer after STARTTLS;
the challenge is <digits.digits@host>; a right answer logs in, a wrong
one and a user without apop= (even with the digest keyed by its login
password) get the same 535; the failures count in the per-address
throttle (454 afterwards, even when right) and in the session's try
limit."""
import base64, ctypes, hashlib, hmac, os, re, socket, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *
from odmrlib import SockTalk

require("odmr-fetchmail", programs=(SMTP,),
        tools=("cdb", "openssl", "systemd-socket-activate", "fetchmail"))

SECRET = "cram-secret-1"
H = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True,
                   text=True, check=True).stdout.strip()
MAIL = os.path.join(TMP, "mail")
sinkport = free_port()
os.makedirs(os.path.join(TMP, "cram"))
os.makedirs(os.path.join(TMP, "plain"))
# alice (login password "secret", no apop=) and site (apop= secret)
users = make_db(os.path.join(TMP, "cram"), sinkport,
                "odmr.example hold odmr=site@example.jp,alice@example.jp\n"
                "site@example.jp %s %s/site apop=%s\n" % (H, MAIL, SECRET))
plain_users = make_db(os.path.join(TMP, "plain"), sinkport,
                      "odmr.example hold odmr=alice@example.jp")
spool = os.path.join(TMP, "spool")
HOLD = "hold/odmr.example"
log = os.path.join(TMP, "handler.log")
throttle = os.path.join(TMP, "throttle")


def args(db=users, odmr=True):
    return [SMTP, "--users", db, "--spool", spool, "--hostname", "mx.example.jp",
            "--auth", "password", "--auth-delay", "0", "--throttle-file", throttle] + \
        (["--odmr"] if odmr else [])


def ehlo(t, name="site.test"):
    t.send(("EHLO %s\r\n" % name).encode())
    lines = [t.line()]
    while lines[-1][:4] != "250 " and lines[-1] not in ("", "(timeout)"):
        lines.append(t.line())
    return lines


def auth_line(lines):
    return [l for l in lines if l.startswith("250-AUTH ")]


def cram(t, user, key):
    """AUTH CRAM-MD5 answered with HMAC-MD5(key, challenge): (challenge, reply)."""
    r = t.cmd("AUTH CRAM-MD5")
    if not r.startswith("334 "):
        return None, r
    ch = base64.b64decode(r[4:])
    d = hmac.new(key.encode(), ch, hashlib.md5).hexdigest()
    return ch, t.cmd(base64.b64encode(("%s %s" % (user, d)).encode()).decode())


def piped(db=users, odmr=True, peer=None):
    env = dict(os.environ)
    if peer:
        env["TCPREMOTEIP"] = peer
    t = Talk(args(db, odmr), env=env, capture_stderr=True)
    t.reply()
    return t


# --- where CRAM-MD5 is offered ------------------------------------------------
t = piped(odmr=False)
e = ehlo(t)
check("without --odmr: AUTH offered without CRAM-MD5",
      auth_line(e) and not any("CRAM-MD5" in l for l in e), e)
check("without --odmr: AUTH CRAM-MD5 -> 504", t.cmd("AUTH CRAM-MD5").startswith("504"))
t.cmd("QUIT")
t.close()

t = piped(db=plain_users)
e = ehlo(t)
check("--odmr, no user has apop=: CRAM-MD5 not offered",
      auth_line(e) and not any("CRAM-MD5" in l for l in e), e)
t.cmd("QUIT")
t.close()

port = free_port()
socket_activate(port, args(), log=log)
t = SockTalk(port)
t.reply()
e = ehlo(t)
check("--odmr on loopback: AUTH PLAIN LOGIN CRAM-MD5 (and AUTH=)",
      "250-AUTH PLAIN LOGIN CRAM-MD5" in e and "250-AUTH=PLAIN LOGIN CRAM-MD5" in e, e)
ch, r = cram(t, "site@example.jp", SECRET)
check("challenge is <random.time@hostname>",
      ch is not None and re.fullmatch(rb"<\d+\.\d+@mx\.example\.jp>", ch), ch)
check("right CRAM-MD5 answer -> 235", r.startswith("235"), r)
check("ATRN after CRAM-MD5 -> 453 (nothing held yet)",
      t.cmd("ATRN odmr.example").startswith("453"))
t.cmd("QUIT")
t.close()
check("the log names CRAM-MD5", wait_for(lambda: "AUTH CRAM-MD5: site@example.jp "
                                         "authenticated" in open(log).read()))

# a plaintext connection from a remote peer (PROXY header from the
# trusted balancer 127.0.0.1 naming 192.0.2.7): no AUTH at all, 538
pport = free_port()
socket_activate(pport, args() + ["--proxy-from", "127.0.0.1"], log=log)
t = SockTalk(pport)
t.send(b"PROXY TCP4 192.0.2.7 192.0.2.1 4242 366\r\n")
t.reply()
e = ehlo(t)
check("plaintext remote peer: CRAM-MD5 not offered",
      not any("CRAM-MD5" in l for l in e) and not auth_line(e), e)
check("plaintext remote peer: AUTH CRAM-MD5 -> 538",
      t.cmd("AUTH CRAM-MD5").startswith("538"))
t.cmd("QUIT")
t.close()

# the same remote peer after STARTTLS: CRAM-MD5 offered, and it logs in
pki = os.path.join(TMP, "pki")
subprocess.run([os.path.join(HERE, "mkcerts"), pki], check=True, capture_output=True)
tport = free_port()
socket_activate(tport, args() + ["--proxy-from", "127.0.0.1", "--tls", "starttls",
                                 "--cert", os.path.join(pki, "ec.crt"),
                                 "--key", os.path.join(pki, "ec.key")], log=log)
t = SockTalk(tport)
t.send(b"PROXY TCP4 192.0.2.7 192.0.2.1 4242 366\r\n")
t.reply()
e = ehlo(t)
check("remote peer before STARTTLS: no CRAM-MD5", not any("CRAM-MD5" in l for l in e), e)
check("STARTTLS -> 220", t.cmd("STARTTLS").startswith("220"))
t.tls()
e = ehlo(t)
check("remote peer over TLS: CRAM-MD5 offered", "250-AUTH PLAIN LOGIN CRAM-MD5" in e, e)
_, r = cram(t, "site@example.jp", SECRET)
check("remote peer over TLS: CRAM-MD5 login -> 235", r.startswith("235"), r)
t.cmd("QUIT")
t.close()

# --- failures: same 535, try limit, throttle ---------------------------------
t = piped(peer="192.0.2.20")
ehlo(t)
_, r1 = cram(t, "site@example.jp", "wrong")
_, r2 = cram(t, "alice@example.jp", "secret")   # no apop=: the login password is no key
check("wrong answer -> 535", r1.startswith("535 5.7.8"), r1)
check("user without apop= -> the same 535", r2 == r1, (r1, r2))
check("initial response refused (the server speaks first) -> 501",
      t.cmd("AUTH CRAM-MD5 dGlt").startswith("501"))
r = t.cmd("AUTH CRAM-MD5")
check("cancel -> 501", r.startswith("334") and t.cmd("*").startswith("501"))
_, r3 = cram(t, "nobody@example.jp", "x")
check("third failure ends the session (421)", r3.startswith("421"), r3)
t.close()

# the failures above (2 + 1) and two more make five from 192.0.2.20
t = piped(peer="192.0.2.20")
ehlo(t)
cram(t, "site@example.jp", "wrong")
cram(t, "site@example.jp", "wrong")
t.cmd("QUIT")
t.close()
t = piped(peer="192.0.2.20")
ehlo(t)
_, r = cram(t, "site@example.jp", SECRET)
check("after five CRAM-MD5 failures the right answer gets 454 (throttled)",
      r.startswith("454 4.7.0"), r)
t.cmd("QUIT")
t.close()
t = piped(peer="192.0.2.21")
ehlo(t)
_, r = cram(t, "site@example.jp", SECRET)
check("another address still logs in with CRAM-MD5", r.startswith("235"), r)
t.cmd("QUIT")
t.close()

# --- fetchmail protocol ODMR --------------------------------------------------
sinkdir = os.path.join(TMP, "sink")
start_sink(sinkdir, sinkport)
smtp_session(users, spool, hold_session(["a@odmr.example", "b@odmr.example"], tag="fm"))
smtp_session(users, spool, [
    "EHLO client.test", "MAIL FROM:<alice@example.jp> BODY=8BITMIME",
    "RCPT TO:<c@odmr.example>", "DATA", "Subject: 8bit", "",
    "gr\u00fc\u00dfe  ", "\t.", ".", "..", "", "end", ".", "QUIT"])
held = {}
for i in queue_ids(spool, HOLD):
    with open(os.path.join(spool, HOLD, "msg", i), "rb") as f:
        held[i] = f.read()
check("3 messages held", len(held) == 3, list(held))

home = os.path.join(TMP, "fmhome")
os.makedirs(home)
rc = os.path.join(home, "fetchmailrc")
with open(rc, "w") as f:
    f.write('poll 127.0.0.1 service %d protocol ODMR no dns\n'
            '  user "site@example.jp" password "%s"\n'
            '  fetchdomains odmr.example smtphost 127.0.0.1/%d\n' % (port, SECRET, sinkport))
os.chmod(rc, 0o600)
env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
fm = ["fetchmail", "-f", rc, "--nosyslog", "-N", "-v", "--pidfile", os.path.join(home, "pid")]


def own_hostname():
    """fetchmail's ODMR mode looks its own host name up unless it has a
    dot, and exits when it cannot (a pristine root has no /etc/hosts line
    for the machine's name): it runs in a UTS namespace of its own named
    fetchmail.test, so no name is looked up."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x04000000) != 0:          # CLONE_NEWUTS
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUTS)")
    socket.sethostname("fetchmail.test")
p = subprocess.run(fm, capture_output=True, text=True, env=env, timeout=120, preexec_fn=own_hostname)
out = p.stdout + p.stderr
check("fetchmail ODMR exits 0", p.returncode == 0, (p.returncode, out[-1500:]))
check("fetchmail authenticated with CRAM-MD5", "AUTH CRAM-MD5" in out, out[-1500:])
check("fetchmail said ATRN odmr.example", "ATRN odmr.example" in out, out[-1500:])
msgs = sink_messages(sinkdir) if wait_for(lambda: len(sink_messages(sinkdir)) >= 3) else \
    sink_messages(sinkdir)
check("the sink got the 3 messages", len(msgs) == 3, [m.get("rcpt") for m in msgs])
want = sorted(d.replace(b"\n", b"\r\n") for d in held.values())
got = sorted(m["data"] for m in msgs)
check("each held message arrived byte for byte", want == got,
      [(w[-60:], g[-60:]) for w, g in zip(want, got) if w != g][:2])
check("envelopes as held", sorted(r for m in msgs for r in m["rcpt"]) ==
      ["a@odmr.example", "b@odmr.example", "c@odmr.example"] and
      all(m["from"] == "alice@example.jp" for m in msgs), msgs)
check("the hold queue is empty", queue_ids(spool, HOLD) == [], queue_ids(spool, HOLD))
check("the provider logged the CRAM-MD5 login of fetchmail's session",
      open(log).read().count("AUTH CRAM-MD5: site@example.jp authenticated") >= 2)

# nothing held now: fetchmail's ATRN gets 453 (fetchmail 6.4 ends with
# status 0 and "You have no mail"); the sink gets nothing more
p = subprocess.run(fm, capture_output=True, text=True, env=env, timeout=120, preexec_fn=own_hostname)
out = p.stdout + p.stderr
check("second fetchmail: ATRN -> 453, nothing more delivered",
      p.returncode in (0, 1) and "ODMR< 453 " in out and len(sink_messages(sinkdir)) == 3,
      (p.returncode, out[-800:]))
summary()
