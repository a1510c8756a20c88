#!/usr/bin/env python3
"""t-tls-creds.py - TLS credentials of both handlers (issue 6).

- tls.crt / tls.key from $CREDENTIALS_DIRECTORY (no --cert/--key) work for
  POP3S, POP3 STLS, SMTPS and SMTP STARTTLS (real TLS clients under
  systemd-socket-activate);
- a key readable by group or others is warned about in the log;
- a missing key (explicit path, or absent from the credentials
  directory), a key the handler's user cannot read, and an undecodable
  key: a clear log line naming the problem; implicit TLS closes at once
  (nothing is sent: a plaintext reply would only garble the client's
  handshake), STARTTLS/STLS is not offered (SMTP also refuses a STARTTLS
  command with 454), never a crash. (POP3 STLS with an undecodable key,
  which answers -ERR [SYS/TEMP], is covered by the pop3 golden
  transcript stls-badcert.)
"""
import os, poplib, pwd, shutil, smtplib, ssl, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
PUBLIC_TMP = True      # the handler runs as 'nobody': TMP outside the checkout
from harness import *

require("tls-creds", (POP3, SMTP), ("openssl", "cdb", "systemd-socket-activate"))

os.chmod(TMP, 0o711)                  # an unprivileged user may pass through
PKI = os.path.join(TMP, "pki")
subprocess.run([os.path.join(TOP, "tests", "mkcerts"), PKI], check=True,
               capture_output=True)
os.chmod(PKI, 0o755)
CA = os.path.join(PKI, "ca.pem")


def cred_dir(name, crt=True, key=True, key_mode=0o600, key_src="ec.key"):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    os.chmod(d, 0o755)
    if crt:
        shutil.copy(os.path.join(PKI, "chain-ec.pem"), os.path.join(d, "tls.crt"))
        os.chmod(os.path.join(d, "tls.crt"), 0o644)
    if key:
        k = os.path.join(d, "tls.key")
        if key_src == "garbage":
            with open(k, "w") as f:
                f.write("-----BEGIN EC PRIVATE KEY-----\nnot a key\n"
                        "-----END EC PRIVATE KEY-----\n")
        else:
            shutil.copy(os.path.join(PKI, key_src), k)
        os.chmod(k, key_mode)
    return d


MAIL = os.path.join(TMP, "mail")
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(MAIL, "alice", sub))
SPOOL = os.path.join(TMP, "spool")
os.makedirs(SPOOL)
PW = "secret"
DB = example_users(MAIL, password=PW)
os.chmod(DB, 0o644)

# Copies the unprivileged user can execute wherever the checkout lies.
POP3, SMTP = reachable_copy(POP3), reachable_copy(SMTP)
POP = [POP3, "--users", DB, "--throttle-file", os.path.join(TMP, "throttle"),
       "--fail-delay", "0"]
SMT = [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test", "--auth-delay", "0",
       "--auth", "password"]

CTX = ssl.create_default_context(cafile=CA)

# --- credentials from $CREDENTIALS_DIRECTORY work, group-readable key warns ---
GOOD = cred_dir("creds-good")
LOOSE = cred_dir("creds-loose", key_mode=0o644)
for label, creds in (("0600 key", GOOD), ("0644 key", LOOSE)):
    env = {"CREDENTIALS_DIRECTORY": creds}
    logs = {}
    ports = {}
    for name, argv in (("pop3s", POP + ["--tls", "implicit"]),
                       ("pop3-stls", POP + ["--tls", "starttls"]),
                       ("smtps", SMT + ["--tls", "implicit"]),
                       ("smtp-starttls", SMT + ["--tls", "starttls"])):
        ports[name] = free_port()
        logs[name] = os.path.join(TMP, "%s-%s.log" % (name, label[:4]))
        socket_activate(ports[name], argv, env=env, log=logs[name])
    try:
        p = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=CTX, timeout=10)
        p.user("alice@example.org")
        check("credentials dir (%s): POP3S login" % label, p.pass_(PW).startswith(b"+OK"))
        p.quit()
    except Exception as e:  # noqa: BLE001
        check("credentials dir (%s): POP3S login" % label, False, repr(e))
    try:
        p = poplib.POP3("127.0.0.1", ports["pop3-stls"], timeout=10)
        check("credentials dir (%s): STLS offered" % label, "STLS" in p.capa())
        p.stls(context=CTX)
        p.user("alice@example.org")
        check("credentials dir (%s): STLS login" % label, p.pass_(PW).startswith(b"+OK"))
        p.quit()
    except Exception as e:  # noqa: BLE001
        check("credentials dir (%s): STLS login" % label, False, repr(e))
    try:
        with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], context=CTX, timeout=10) as c:
            check("credentials dir (%s): SMTPS login" % label,
                  c.login("alice@example.org", PW)[0] == 235)
    except Exception as e:  # noqa: BLE001
        check("credentials dir (%s): SMTPS login" % label, False, repr(e))
    try:
        with smtplib.SMTP("127.0.0.1", ports["smtp-starttls"], timeout=10) as c:
            c.ehlo("creds.test")
            check("credentials dir (%s): STARTTLS offered" % label,
                  c.has_extn("starttls"))
            c.starttls(context=CTX)
            c.ehlo("creds.test")
            check("credentials dir (%s): STARTTLS login" % label,
                  c.login("alice@example.org", PW)[0] == 235)
    except Exception as e:  # noqa: BLE001
        check("credentials dir (%s): STARTTLS login" % label, False, repr(e))
    for name, log in logs.items():
        with open(log, errors="replace") as f:
            text = f.read()
        warned = "group or others" in text
        if creds == LOOSE:
            check("%s: key readable by group/others is warned about" % name, warned,
                  text[-400:])
        else:
            check("%s: no warning for a 0600 key" % name, not warned, text[-400:])

# --- broken credentials: over pipes, as the handler's own user ----------------
NOBODY = None
try:
    pw = pwd.getpwnam("nobody")
    NOBODY = (pw.pw_uid, pw.pw_gid)
except KeyError:
    pass


def as_user(ids):
    def f():
        os.setgroups([])
        os.setgid(ids[1])
        os.setuid(ids[0])
    return f


def talk(argv, data, env=None, user=None):
    e = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    e.update(env or {})
    return subprocess.run(argv, input=data, capture_output=True, timeout=30, env=e,
                          preexec_fn=as_user(user) if user else None)


def died(r):
    return r.returncode < 0       # killed by a signal


CASES = [
    # name, extra argv, env, run as, what the log must say
    ("missing key file", ["--cert", os.path.join(PKI, "chain-ec.pem"),
                          "--key", os.path.join(TMP, "nonexistent.key")], {}, None,
     ("nonexistent.key", "No such file")),
    ("credentials dir without tls.key", [], {"CREDENTIALS_DIRECTORY":
                                             cred_dir("creds-nokey", key=False)}, None,
     ("CREDENTIALS_DIRECTORY",)),
    ("undecodable key", [], {"CREDENTIALS_DIRECTORY":
                             cred_dir("creds-garbage", key_src="garbage")}, None, ("tls.key",)),
]
if NOBODY and os.getuid() == 0:
    CASES.append(("key unreadable by the handler's user", [],
                  {"CREDENTIALS_DIRECTORY": cred_dir("creds-root", key_mode=0o600)}, NOBODY,
                  ("tls.key", "ermission denied")))
else:
    skip("unreadable key", "needs root and a user 'nobody' to drop to")

def pop3_capa(out):
    lines = out.split("\r\n")
    try:
        i = next(n for n, l in enumerate(lines) if l.startswith("+OK Capability"))
        return lines[i + 1:lines.index(".", i)]
    except (StopIteration, ValueError):
        return None


for name, extra, env, user, says in CASES:
    for h, argv, probe in (("pop3", POP, b"CAPA\r\nQUIT\r\n"),
                           ("smtp", SMT, b"EHLO x.test\r\nSTARTTLS\r\nQUIT\r\n")):
        # implicit TLS: closes at once, nothing written, logged
        r = talk(argv + ["--tls", "implicit"] + extra, b"\x16\x03\x01\x00\x05hello", env, user)
        err = r.stderr.decode(errors="replace")
        check("%s, implicit TLS, %s: closes at once, nothing sent, exit 1" % (h, name),
              r.stdout == b"" and r.returncode == 1, (r.returncode, r.stdout[:80]))
        check("%s, implicit TLS, %s: a clear log line" % (h, name),
              "<3>" in err and all(s in err for s in says), err[-500:])
        # STARTTLS / STLS: not offered, the session goes on
        r = talk(argv + ["--tls", "starttls"] + extra, probe, env, user)
        out = r.stdout.decode(errors="replace")
        err = r.stderr.decode(errors="replace")
        if h == "pop3" and name.startswith("undecodable"):
            # readable but undecodable: STLS is offered (decoded lazily at
            # the first STLS, then -ERR [SYS/TEMP]: golden stls-badcert)
            check("pop3, STLS, %s: no crash" % name, r.returncode == 0, r.returncode)
            continue
        if h == "pop3":
            capa = pop3_capa(out)
            check("pop3, STLS, %s: STLS not offered, the session goes on" % name,
                  capa is not None and "STLS" not in capa and "USER" in capa and
                  out.endswith("\r\n") and out.split("\r\n")[-2].startswith("+OK")
                  and r.returncode == 0, out[-300:])
        else:
            lines = out.split("\r\n")
            ehlo = [l for l in lines if l.startswith("250")]
            check("smtp, STARTTLS, %s: not offered, refused with 454, the session goes on"
                  % name, ehlo and not any("STARTTLS" in l for l in ehlo) and
                  any(l.startswith("454 ") for l in lines) and
                  any(l.startswith("221 ") for l in lines) and r.returncode == 0, out[-400:])
        check("%s, STARTTLS, %s: a clear log line" % (h, name),
              "<3>" in err and all(s in err for s in says), err[-500:])

summary()
