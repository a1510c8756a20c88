"""tests/harness.py - shared by the Python tests (tests/t-*.py).

check(name, cond, detail) counts; skip(name, reason); summary() prints the
last line "N passed, M failed, K skipped" and exits. Also: built program
paths, a private temp dir, free ports, Server (a background process
such as systemd-socket-activate, stopped by PID at exit) and Talk (an
interactive session with a handler over pipes).
"""
import atexit, os, re, select, shutil, signal, socket, subprocess, sys, tempfile, threading, time

TOP = os.environ.get("POSTERN_TOP") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POP3 = os.path.join(TOP, "pop3-handler", "pop3-handler")
SMTP = os.path.join(TOP, "smtp-handler", "smtp-handler")
ETRN = os.path.join(TOP, "etrn-client", "etrn-client")
ADMIN = os.path.join(TOP, "mailbox-admin", "mailbox-admin")

# The tests run the handlers as root without --user, which they refuse
# unless told (--allow-root, or this for everything started from here).
os.environ["POSTERN_ALLOW_ROOT"] = "1"
# TMP: the test's private temp dir, under tests/tmp. A test that runs a
# handler or a peer (Postfix) as an unprivileged user sets PUBLIC_TMP =
# True before importing this module: the checkout may sit where that user
# cannot reach (a clone in /root, mode 0700), so its TMP is then made
# under /var/tmp instead, mode 0711 (passable, not listable), and
# reachable_copy() puts the programs that user must execute there.
if getattr(sys.modules.get("__main__"), "PUBLIC_TMP", False):
    TMP = tempfile.mkdtemp(prefix="postern-" + os.path.basename(sys.argv[0]) + ".",
                           dir="/var/tmp")
    os.chmod(TMP, 0o711)
else:
    os.makedirs(os.path.join(TOP, "tests", "tmp"), exist_ok=True)
    TMP = tempfile.mkdtemp(prefix=os.path.basename(sys.argv[0]) + ".",
                           dir=os.path.join(TOP, "tests", "tmp"))
_counts = {"p": 0, "f": 0, "s": 0}
_servers = []


def check(name, cond, detail=""):
    if cond:
        _counts["p"] += 1
        print("PASS:", name, flush=True)
    else:
        _counts["f"] += 1
        print("FAIL:", name + (": " + str(detail) if detail else ""), flush=True)
    return cond


def skip(name, reason):
    _counts["s"] += 1
    print("SKIP: %s: %s" % (name, reason), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, host="127.0.0.1", timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A background process, killed (by PID) at exit."""

    def __init__(self, argv, env=None, log=None):
        self.log = open(log or os.path.join(TMP, "server.log"), "ab")
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen(argv, env=e, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        _servers.append(self)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def socket_activate(port, argv, env=None, log=None):
    """argv served per connection on 127.0.0.1:port (inetd style)."""
    cmd = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port, "-a", "--inetd",
           "-E", "POSTERN_ALLOW_ROOT=1"]
    for k, v in (env or {}).items():
        cmd += ["-E", "%s=%s" % (k, v)]
    s = Server(cmd + list(argv), log=log)
    if not wait_port(port):
        raise RuntimeError("server on port %d did not start" % port)
    return s


class CRLFLines:
    """CRLF-terminated lines read into self.buf (bytes, b"" at first) by
    the subclass's recv_some(end), which returns the bytes that came, b""
    at end of file, or None when nothing came by the deadline end (a
    time.time() value, or None when self has no timeout)."""

    def line(self):
        """One line without its CRLF; what is left at EOF; "(timeout)"
        when nothing complete came in time."""
        t = getattr(self, "timeout", None)
        end = time.time() + t if t is not None else None
        while b"\r\n" not in self.buf:
            b = self.recv_some(end)
            if b is None:
                return "(timeout)"
            if not b:
                r, self.buf = self.buf, b""
                return r.decode("latin-1")
            self.buf += b
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l.decode("latin-1")

    def reply(self):
        """One (multi-line) SMTP reply, or one POP3 status line: the last line."""
        l = self.line()
        while len(l) > 3 and l[3] == "-":
            l = self.line()
        return l


class OutputReader(threading.Thread):
    """Collects a pipe's bytes in .data in the background (a daemon thread:
    start() it); the waits are bounded in time."""

    def __init__(self, f):
        super().__init__(daemon=True)
        self.f, self.data, self.cond = f, b"", threading.Condition()

    def run(self):
        while True:
            b = os.read(self.f.fileno(), 65536)
            with self.cond:
                if b:
                    self.data += b
                self.cond.notify_all()
                if not b:
                    return

    def wait_count(self, pat, n, secs=20):
        """True once the regular expression pat matches n times in .data,
        False after secs seconds."""
        end = time.time() + secs
        with self.cond:
            while len(re.findall(pat, self.data)) < n:
                left = end - time.time()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def wait_for(self, pat, secs=10):
        """True once pat matches in .data, False after secs seconds."""
        return self.wait_count(pat, 1, secs)


class Talk(CRLFLines):
    """An interactive session with a handler on its stdin/stdout, every read
    bounded in time. stderr is captured (close() returns it) when
    capture_stderr, else discarded."""

    def __init__(self, argv, env=None, capture_stderr=False, timeout=30):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE if capture_stderr else subprocess.DEVNULL,
                                  env=env)
        self.buf = b""
        self.timeout = timeout

    def recv_some(self, end):
        left = end - time.time()
        if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
            return None
        return os.read(self.p.stdout.fileno(), 65536)

    def send(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except BrokenPipeError:
            pass

    def cmd(self, s):
        self.send(s.encode() + b"\r\n")
        return self.reply()

    def close(self):
        """Closes stdin and waits: (exit status or -999 after a kill, stderr)."""
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.p.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = -999
        err = self.p.stderr.read() if self.p.stderr else b""
        return rc, err


def require(group, programs=(), tools=()):
    """Skips the whole test (and exits) when a built program or a tool is
    missing."""
    for prog in programs:
        if not os.access(prog, os.X_OK):
            skip(group, os.path.basename(prog) + " is not built")
            summary()
    for tool in tools:
        if not shutil.which(tool):
            skip(group, tool + " is not installed")
            summary()


def reachable_copy(prog):
    """A copy of the program in TMP/bin (0755), executable by any user when
    TMP is public (PUBLIC_TMP); returns its path."""
    d = os.path.join(TMP, "bin")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    dst = os.path.join(d, os.path.basename(prog))
    shutil.copy(prog, dst)
    os.chmod(dst, 0o755)
    return dst


def untrusted_ca():
    """A CA certificate (PEM path) that signed none of the test
    certificates: made here, so a test of an untrusted peer depends on no
    CA bundle of the machine (a minimal Debian has no ca-certificates)."""
    d = os.path.join(TMP, "untrusted-ca")
    os.makedirs(d, exist_ok=True)
    pem = os.path.join(d, "ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.path.join(d, "ca.key"),
                    "-out", pem, "-days", "2", "-subj", "/CN=postern untrusted test CA",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return pem


def example_users(mail, db=None, password="pw"):
    """users.cdb (default TMP/users.cdb) for example.org: alice and bob with
    the password (SHA256-crypt) and maildirs mail/alice, mail/bob, and
    postmaster an alias of alice. Returns the database's path."""
    db = db or os.path.join(TMP, "users.cdb")
    h = subprocess.run(["openssl", "passwd", "-5", password], check=True,
                       capture_output=True, text=True).stdout.strip()
    with open(db + ".txt", "w") as f:
        f.write("example.org domain\npostmaster@example.org alias alice@example.org\n"
                "alice@example.org %s %s/alice\nbob@example.org %s %s/bob\n" % (h, mail, h, mail))
    subprocess.run(["cdb", "-c", "-m", db, db + ".txt"], check=True)
    return db


def summary():
    print("%d passed, %d failed, %d skipped" % (_counts["p"], _counts["f"], _counts["s"]), flush=True)
    sys.exit(1 if _counts["f"] else 0)


@atexit.register
def _cleanup():
    for s in _servers:
        s.stop()
    if not os.environ.get("KEEP_TMP"):
        shutil.rmtree(TMP, ignore_errors=True)
