#!/usr/bin/env python3
"""t-tls-clientcert.py - the client-certificate matrix (issue 6).

A throwaway CA made now (tests/mkcerts plus `openssl ca` here) issues: a
valid client certificate (e-mail SAN = a user), one from an unknown CA,
a serverAuth-only one from the right CA, an expired one, two revoked ones
(by serial and by fingerprint, through `mailbox-admin cert revoke`), one
for a disabled user ('!' hash), one for a locked user and one for a
nopop3 user. Each is presented to POP3S, POP3+STLS, SMTPS and
submission+STARTTLS (systemd-socket-activate on 127.0.0.1, --client-ca
and --client-revoked) with Python ssl, `openssl s_client` and `curl
--cert`: only the valid one (and the nopop3 one, on SMTP only) sees
EXTERNAL in CAPA/EHLO and can AUTH EXTERNAL; every other one sees no
EXTERNAL, is refused AUTH EXTERNAL, can still log in with a password,
and its reason is logged (CLIENT_CERT=CODE:NAME in the summary)."""
import os, poplib, re, shutil, smtplib, ssl, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("tls-clientcert", (POP3, SMTP, ADMIN), ("openssl", "cdb", "systemd-socket-activate", "curl"))


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, **kw)


# --- the PKI -----------------------------------------------------------------
PKI = os.path.join(TMP, "pki")
run([os.path.join(TOP, "tests", "mkcerts"), PKI])
CA = os.path.join(PKI, "ca.pem")
CHAIN = os.path.join(PKI, "chain-ec.pem")
SKEY = os.path.join(PKI, "ec.key")
M = os.path.join(TMP, "matrix")
os.makedirs(M)

CA_CNF = """[ca]
default_ca = tca
[tca]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial.txt
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
"""


def make_ca(name, cert=None, key=None):
    """An `openssl ca` directory; a new self-signed CA unless given."""
    d = os.path.join(M, name)
    os.makedirs(d)
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial.txt"), "w") as f:
        f.write("%X\n" % (0x1000 + len(os.listdir(M)) * 0x100))
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(CA_CNF.format(d=d))
    if cert is None:
        cert, key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
             "-out", cert, "-days", "30", "-subj", "/CN=postern test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return (d, cert, key)


def issue(ca, name, email, eku="clientAuth", dates=None, cn=None):
    """A P-256 client certificate; returns (crt, key)."""
    d, cacert, cakey = ca
    key, csr, crt, ext = (os.path.join(M, name + s) for s in (".key", ".csr", ".crt", ".ext"))
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                "extendedKeyUsage=%s\nsubjectAltName=email:%s\n" % (eku, email))
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
    run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + (cn or email.split("@")[0]),
         "-out", csr])
    when = ["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "30"]
    run(["openssl", "ca", "-batch", "-config", os.path.join(d, "ca.cnf"), "-cert", cacert,
         "-keyfile", cakey, "-in", csr, "-out", crt, "-extfile", ext, "-notext"] + when)
    os.chmod(key, 0o600)
    return (crt, key)


GOOD = make_ca("good", CA, os.path.join(PKI, "ca.key"))
OTHER = make_ca("other")
CERTS = {
    "valid": issue(GOOD, "valid", "alice@example.org"),
    "unknown-ca": issue(OTHER, "unknown-ca", "alice@example.org"),
    "server-eku": issue(GOOD, "server-eku", "alice@example.org", eku="serverAuth"),
    "expired": issue(GOOD, "expired", "alice@example.org",
                     dates=("20200101000000Z", "20200201000000Z")),
    "revoked-serial": issue(GOOD, "revoked-serial", "alice@example.org"),
    "revoked-fpr": issue(GOOD, "revoked-fpr", "alice@example.org"),
    "disabled": issue(GOOD, "disabled", "dave@example.org"),
    "locked": issue(GOOD, "locked", "lock@example.org"),
    "nopop3": issue(GOOD, "nopop3", "nopop@example.org"),
    # an e-mail SAN too long to decode (BearSSL: status -1), a CN that
    # names alice: must not fall back to the CN (issue 16)
    "bad-san": issue(GOOD, "bad-san", "a" * 300 + "@example.org", cn="alice@example.org"),
}
# what the summary's CLIENT_CERT says for each (None: the user itself)
REASON = {
    "unknown-ca": "untrusted:alice@example.org",
    "server-eku": "no-clientauth:alice@example.org",
    "expired": "untrusted:alice@example.org",
    "revoked-serial": "revoked:alice@example.org",
    "revoked-fpr": "revoked:alice@example.org",
    "disabled": "no-user:dave@example.org",
    "locked": "locked:lock@example.org",
    "bad-san": "bad-email:-",
}


def x509(crt, what):
    out = run(["openssl", "x509", "-in", crt, "-noout", what], text=True).stdout.strip()
    return out


# --- users, revocation list --------------------------------------------------
MAIL = os.path.join(TMP, "mail")
SPOOL = os.path.join(TMP, "spool")
os.makedirs(SPOOL)
for u in ("alice", "dave", "lock", "nopop"):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(MAIL, u, sub))
with open(os.path.join(MAIL, "alice", "new", "1.M1P1.test,S=20,W=21"), "w") as f:
    f.write("Subject: hi\n\nhello\n")
PW = "secret"
HASH = run(["openssl", "passwd", "-6", PW], text=True).stdout.strip()
with open(os.path.join(TMP, "users"), "w") as f:
    f.write(f"""example.org domain
alice@example.org {HASH} {MAIL}/alice
dave@example.org !{HASH} {MAIL}/dave
lock@example.org {HASH} {MAIL}/lock locked
nopop@example.org {HASH} {MAIL}/nopop nopop3
""")
DB = os.path.join(TMP, "users.cdb")
run(["cdb", "-c", "-m", DB, os.path.join(TMP, "users")])

REVOKED = os.path.join(TMP, "revoked")
serial = x509(CERTS["revoked-serial"][0], "-serial")          # "serial=1A03"
fpr = x509(CERTS["revoked-fpr"][0], "-fingerprint")           # default sha1: replaced below
fpr = run(["openssl", "x509", "-in", CERTS["revoked-fpr"][0], "-noout", "-fingerprint",
           "-sha256"], text=True).stdout.strip()              # "sha256 Fingerprint=AB:.."
r = subprocess.run([ADMIN, "--db", os.path.join(TMP, "users"), "--revoked", REVOKED,
                    "cert", "revoke", serial, fpr], capture_output=True, text=True)
check("mailbox-admin cert revoke (serial and fingerprint as openssl prints them)",
      r.returncode == 0 and os.path.exists(REVOKED + ".cdb"), r.stderr)
listed = subprocess.run([ADMIN, "--revoked", REVOKED, "cert", "list"], capture_output=True,
                        text=True).stdout
check("cert list shows both keys, lowercase hex without colons",
      serial.split("=")[1].lower() in listed and
      fpr.split("=")[1].replace(":", "").lower() in listed, listed)

# --- the four endpoints ------------------------------------------------------
COMMON_TLS = ["--cert", CHAIN, "--key", SKEY, "--client-ca", CA,
              "--client-revoked", REVOKED + ".cdb"]
POP = [POP3, "--users", DB, "--throttle-file", os.path.join(TMP, "throttle"),
       "--fail-delay", "0"]
SMT = [SMTP, "--users", DB, "--spool", SPOOL, "--hostname", "mx.test", "--auth-delay", "0",
       "--auth", "password,certificate"]
ENDPOINTS = {}
for name, argv in (("pop3s", POP + ["--tls", "implicit"]),
                   ("pop3-stls", POP + ["--tls", "starttls"]),
                   ("smtps", SMT + ["--tls", "implicit"]),
                   ("submission", SMT + ["--tls", "starttls", "--require-tls"])):
    port = free_port()
    log = os.path.join(TMP, name + ".log")
    socket_activate(port, argv + COMMON_TLS, log=log)
    ENDPOINTS[name] = (port, log)


def ctx_for(cert):
    c = ssl.create_default_context(cafile=CA)      # server cert has IP:127.0.0.1
    if cert:
        c.load_cert_chain(*CERTS[cert])
    return c


def expect_external(cert, ep):
    return cert == "valid" or (cert == "nopop3" and not ep.startswith("pop3"))


def cert_user(cert):
    return {"nopop3": "nopop@example.org"}.get(cert, "alice@example.org")


# --- Python ssl --------------------------------------------------------------
def py_pop3(cert, ep, port):
    if ep == "pop3s":
        p = poplib.POP3_SSL("127.0.0.1", port, context=ctx_for(cert), timeout=10)
    else:
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.stls(context=ctx_for(cert))
    try:
        sasl = p.capa().get("SASL", [])
        want = expect_external(cert, ep)
        check("python %s %s: EXTERNAL %s" % (ep, cert, "offered" if want else "not offered"),
              ("EXTERNAL" in sasl) == want, sasl)
        try:
            r = p._shortcmd("AUTH EXTERNAL =")
        except poplib.error_proto as e:
            r = e.args[0]
        if want:
            check("python %s %s: AUTH EXTERNAL logs in" % (ep, cert),
                  r.startswith(b"+OK") and p.stat()[0] == 1, r)
        else:
            check("python %s %s: AUTH EXTERNAL refused" % (ep, cert), r.startswith(b"-ERR"), r)
            p.user("alice@example.org")
            r = p.pass_(PW)
            check("python %s %s: password login still works" % (ep, cert),
                  r.startswith(b"+OK") and p.stat()[0] == 1, r)
        p.quit()
    finally:
        p.close()


def py_smtp(cert, ep, port):
    if ep == "smtps":
        c = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx_for(cert), timeout=10)
    else:
        c = smtplib.SMTP("127.0.0.1", port, timeout=10)
        c.ehlo("matrix.test")
        c.starttls(context=ctx_for(cert))
    try:
        c.ehlo("matrix.test")
        auth = c.esmtp_features.get("auth", "").split()
        want = expect_external(cert, ep)
        check("python %s %s: EXTERNAL %s" % (ep, cert, "offered" if want else "not offered"),
              ("EXTERNAL" in auth) == want and "PLAIN" in auth, auth)
        code, msg = c.docmd("AUTH", "EXTERNAL =")
        if want:
            check("python %s %s: AUTH EXTERNAL" % (ep, cert), code == 235, (code, msg))
            code, msg = c.mail(cert_user(cert))
            check("python %s %s: MAIL after EXTERNAL" % (ep, cert), code == 250, (code, msg))
        else:
            check("python %s %s: AUTH EXTERNAL refused" % (ep, cert), code == 504, (code, msg))
            try:
                code, msg = c.login("alice@example.org", PW)
            except smtplib.SMTPException as e:
                code, msg = -1, repr(e)
            check("python %s %s: password login still works" % (ep, cert), code == 235,
                  (code, msg))
        c.quit()
    finally:
        c.close()


# --- openssl s_client ----------------------------------------------------------
def s_client(cert, ep, port):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet",
            "-CAfile", CA, "-verify_return_error"]
    if cert:
        argv += ["-cert", CERTS[cert][0], "-key", CERTS[cert][1]]
    pop = ep.startswith("pop3")
    if ep == "pop3-stls":
        argv += ["-starttls", "pop3"]
    elif ep == "submission":
        argv += ["-starttls", "smtp", "-name", "matrix.test"]
    if pop:
        script = "CAPA\r\nAUTH EXTERNAL =\r\nQUIT\r\n"
    else:
        script = "EHLO matrix.test\r\nAUTH EXTERNAL =\r\nQUIT\r\n"
    r = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=20)
    out = r.stdout
    want = expect_external(cert, ep)
    if pop:
        offered = any(l.startswith("SASL") and "EXTERNAL" in l for l in out.splitlines())
        authed = "Logged in" in out
    else:
        offered = any(l.startswith("250") and "AUTH" in l and "EXTERNAL" in l
                      for l in out.splitlines())
        authed = "\n235 " in "\n" + out
    check("s_client %s %s: EXTERNAL %s" % (ep, cert, "offered and accepted" if want
                                           else "neither offered nor accepted"),
          offered == want and authed == want, out[-600:] + r.stderr[-300:])


# --- curl --cert -----------------------------------------------------------------
def curl(cert, ep, port):
    scheme = {"pop3s": "pop3s", "pop3-stls": "pop3", "smtps": "smtps",
              "submission": "smtp"}[ep]
    base = ["curl", "-sS", "--max-time", "15", "--noproxy", "*", "--cacert", CA,
            "--cert", CERTS[cert][0], "--key", CERTS[cert][1]]
    if scheme in ("pop3", "smtp"):
        base += ["--ssl-reqd"]
    url = "%s://127.0.0.1:%d/" % (scheme, port)
    user = cert_user(cert)
    if ep.startswith("pop3"):
        tail = [url]
    else:
        msgf = os.path.join(TMP, "curlmsg")
        with open(msgf, "w") as f:
            f.write("Subject: curl\r\n\r\nhi\r\n")
        tail = [url, "--mail-from", user, "--mail-rcpt", "alice@example.org",
                "--upload-file", msgf]
    want = expect_external(cert, ep)
    r = subprocess.run(base + ["--login-options", "AUTH=EXTERNAL", "-u", user + ":"] + tail,
                       capture_output=True, text=True, timeout=30)
    ok = r.returncode == 0 and (not ep.startswith("pop3") or r.stdout.startswith("1 "))
    check("curl %s %s: AUTH=EXTERNAL %s" % (ep, cert, "works" if want else "fails"),
          ok == want, (r.returncode, r.stdout[-200:], r.stderr[-300:]))
    if not want:
        r = subprocess.run(base + ["-u", "alice@example.org:" + PW] +
                           [a if a != user else "alice@example.org" for a in tail],
                           capture_output=True, text=True, timeout=30)
        check("curl %s %s: password login still works" % (ep, cert),
              r.returncode == 0 and (not ep.startswith("pop3") or r.stdout.startswith("1 ")),
              (r.returncode, r.stdout[-200:], r.stderr[-300:]))


MATRIX = [None] + list(CERTS)
for ep, (port, log) in ENDPOINTS.items():
    for cert in MATRIX:
        label = cert or "no-cert"
        try:
            if ep.startswith("pop3"):
                py_pop3(cert, ep, port)
            else:
                py_smtp(cert, ep, port)
        except Exception as e:  # noqa: BLE001
            check("python %s %s" % (ep, label), False, repr(e))
        try:
            s_client(cert, ep, port)
        except Exception as e:  # noqa: BLE001
            check("s_client %s %s" % (ep, label), False, repr(e))
        if cert:
            try:
                curl(cert, ep, port)
            except Exception as e:  # noqa: BLE001
                check("curl %s %s" % (ep, label), False, repr(e))

# --- what the logs say ---------------------------------------------------------------
time.sleep(0.3)
for ep, (port, log) in ENDPOINTS.items():
    with open(log, errors="replace") as f:
        text = f.read()
    for cert, why in REASON.items():
        check("log %s %s: summary CLIENT_CERT=%s" % (ep, cert, why),
              "CLIENT_CERT=" + why in text, why)
    check("log %s: the refusals give reasons" % ep,
          "not used: revoked" in text and "not used: chain not trusted" in text and
          "not used: extended key usage" in text, "")
    check("log %s: the valid certificate names its user" % ep,
          "CLIENT_CERT=alice@example.org" in text and
          "user alice@example.org (serial" in text, "")
    check("log %s: nopop3 certificate %s" % (ep, "refused" if ep.startswith("pop3")
                                             else "accepted"),
          ("CLIENT_CERT=barred:nopop@example.org" in text) == ep.startswith("pop3") and
          ("CLIENT_CERT=nopop@example.org" in text) != ep.startswith("pop3"), "")
    # exit 1 = a failed handshake (the port probe); 4/6/7/8/11 = a signal
    bad = re.findall(r"died with code (4|6|7|8|11)\b", text)
    check("log %s: no handler crashed" % ep, not bad, bad)

summary()
