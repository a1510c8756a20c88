"""tests/etrnlib.py - shared set-up for the ETRN tests (t-etrn-*.py):
a user database with local and hold domains, SMTP sessions piped into
smtp-handler, the recording sink (tests/sinksmtp.py), queue inspection,
clean-up of detached hold-queue flushers started by the tests, and the
service user that owns the spool of the tests running queue commands."""
import atexit, glob, json, os, pwd, signal, subprocess, sys, time

from harness import *

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = os.path.join(HERE, "sinksmtp.py")


def make_db(d, sink_port, extra=""):
    """users + users.cdb in d; returns the CDB path."""
    h = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True,
                       text=True, check=True).stdout.strip()
    mail = os.path.join(d, "mail")
    text = """# ETRN test database
example.jp            domain
dialup.example        hold   host=127.0.0.1:%(p)d  etrn-from=192.0.2.0/24,127.0.0.1
sub.dialup.example    hold   host=127.0.0.1:%(p)d  etrn-from=192.0.2.0/24
authonly.example.jp   hold   host=127.0.0.1:%(p)d
alice@example.jp      %(h)s  %(m)s/alice
postmaster@example.jp alias  alice@example.jp
%(x)s
""" % {"p": sink_port, "h": h, "m": mail, "x": extra}
    src = os.path.join(d, "users")
    with open(src, "w") as f:
        f.write(text)
    subprocess.run(["cdb", "-c", "-m", src + ".cdb", src], check=True)
    return src + ".cdb"


# --- the service user ---------------------------------------------------------
# Started as root, `mailbox-admin queue ...` becomes the owner of the spool
# and refuses a spool owned by root (mailbox-admin(8), WORKING AS ROOT). A
# test that runs queue commands as root therefore gives, as an installation
# does, the spool, every maildir a notice may be delivered into and the user
# database to an unprivileged service user, here nobody: it makes them with
# service_dirs(), runs smtp-handler with AS_SERVICE (--user nobody) so that
# the handler's files are nobody's too, and any other program that writes
# to the spool with preexec_fn=as_service. Such a test sets PUBLIC_TMP =
# True before importing this module: nobody must reach TMP also when the
# checkout sits in /root (mode 0700). Not run as root, nothing switches and
# these are no-ops.
def _service_user():
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


SERVICE = _service_user()
AS_SERVICE = ("--user", "nobody") if SERVICE else ()


def service_dirs(*paths):
    """Makes each directory (mode 0700; its parents must exist) and gives
    it to the service user; returns the first path."""
    for p in paths:
        os.mkdir(p, 0o700)
        if SERVICE:
            os.chown(p, *SERVICE)
    return paths[0] if paths else None


def give_service(*paths):
    """Gives files and whole trees (no link followed) to the service user."""
    if not SERVICE:
        return
    for root in paths:
        os.chown(root, *SERVICE, follow_symlinks=False)
        if os.path.isdir(root) and not os.path.islink(root):
            for d, dirs, files in os.walk(root):
                for n in dirs + files:
                    os.chown(os.path.join(d, n), *SERVICE, follow_symlinks=False)


def readable(*paths):
    """Opens files (the user database, CA certificates) to the service user
    for reading: mode 0644."""
    for p in paths:
        os.chmod(p, 0o644)


def as_service():
    """preexec_fn: the child runs as the service user (when root)."""
    if SERVICE:
        os.setgroups([])
        os.setgid(SERVICE[1])
        os.setuid(SERVICE[0])


def smtp_session(users, spool, lines, peer="192.0.2.5", args=(), log=None):
    """Pipes lines (CRLF added) into smtp-handler; returns its reply lines."""
    env = dict(os.environ)
    env["TCPREMOTEIP"] = peer
    data = "".join(l + "\r\n" for l in lines).encode()
    errf = open(log or os.path.join(TMP, "smtp.log"), "ab")
    p = subprocess.run([SMTP, "--users", users, "--spool", spool,
                        "--hostname", "mx.example.jp"] + list(args),
                       input=data, stdout=subprocess.PIPE, stderr=errf, env=env,
                       timeout=30)
    errf.close()
    return p.stdout.decode("utf-8", "replace").splitlines()


def hold_session(rcpts, sender="alice@example.jp", tag="held"):
    """Client lines that send one message per recipient."""
    lines = ["EHLO client.test"]
    for i, r in enumerate(rcpts):
        lines += ["MAIL FROM:<%s>" % sender, "RCPT TO:<%s>" % r, "DATA",
                  "Subject: %s %d" % (tag, i), "Message-ID: <%s.%d@test>" % (tag, i),
                  "", "body %s %d" % (tag, i), "..line starting with a dot", "."]
    lines.append("QUIT")
    return lines


def codes(replies):
    return [l[:3] for l in replies if len(l) >= 4 and l[3] == " "]


def queue_ids(spool, queue):
    d = os.path.join(spool, queue, "env")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def xtext_decode(s):
    """RFC 3461 xtext ("+HH" for an octet) to a str (UTF-8)."""
    b, i = bytearray(), 0
    raw = s.encode("utf-8", "surrogateescape")
    while i < len(raw):
        if raw[i] == 0x2B:
            b.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            b.append(raw[i])
            i += 1
    return b.decode("utf-8", "surrogateescape")


def read_env(spool, queue, ident):
    """An envelope as a dict; addresses decoded ("rcpt": ["STATE ADDR[ REPLY]"])."""
    out = {"rcpt": []}
    with open(os.path.join(spool, queue, "env", ident), encoding="utf-8",
              errors="surrogateescape") as f:
        v2 = f.readline() == "postern-queue 2\n"
        for line in f:
            k, _, v = line.rstrip("\n").partition(" ")
            if k == "rcpt":
                if v2:
                    st, _, rest = v.partition(" ")
                    a, sp, reply = rest.partition(" ")
                    v = st + " " + xtext_decode(a) + sp + reply
                out["rcpt"].append(v)
            elif k == "sender" and v2 and v != "<>":
                out[k] = xtext_decode(v)
            else:
                out[k] = v
    return out


def sink_messages(d):
    out = []
    for j in sorted(glob.glob(os.path.join(d, "msg-*.json"))):
        with open(j) as f:
            e = json.load(f)
        eml = j[:-5] + ".eml"
        if os.path.exists(eml):
            e["data"] = open(eml, "rb").read()
            out.append(e)
    return out


def wait_for(cond, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def start_sink(d, port, *extra):
    os.makedirs(d, exist_ok=True)
    s = Server([sys.executable, SINK, "--port", str(port), "--dir", d] + list(extra),
               log=os.path.join(TMP, "sink-%d.log" % port))
    if not wait_port(port):
        raise RuntimeError("sink did not start")
    return s


def backdate(spool, queue):
    """Makes the next ETRN for queue start a flush (rate limit passed)."""
    p = os.path.join(spool, queue, ".etrn-stamp")
    if os.path.exists(p):
        t = time.time() - 3600
        os.utime(p, (t, t))


def _flushers():
    """PIDs of processes holding files under TMP open (detached flushers)."""
    pids = []
    roots = (TMP, os.path.realpath(TMP))
    for fd_dir in glob.glob("/proc/[0-9]*/fd"):
        pid = int(fd_dir.split("/")[2])
        if pid == os.getpid():
            continue
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(os.path.join(fd_dir, fd)).startswith(roots):
                        pids.append(pid)
                        break
                except OSError:
                    pass
        except OSError:
            pass
    return pids


@atexit.register
def _kill_flushers():
    for pid in _flushers():
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
