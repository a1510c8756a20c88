"""tests/harness.py - shared by the Python tests (tests/t-*.py).

check(name, cond, detail) counts; skip(name, reason); summary() prints the
last line "N passed, M failed, K skipped" and exits. Also: built program
paths, a private temp dir, free ports, and Server (a background process
such as systemd-socket-activate, stopped by PID at exit).
"""
import atexit, os, shutil, signal, socket, subprocess, sys, tempfile, time

TOP = os.environ.get("POSTERN_TOP") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POP3 = os.path.join(TOP, "pop3-handler", "pop3-handler")
SMTP = os.path.join(TOP, "smtp-handler", "smtp-handler")
ETRN = os.path.join(TOP, "etrn-client", "etrn-client")
ADMIN = os.path.join(TOP, "mailbox-admin", "mailbox-admin")

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
    cmd = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port, "-a", "--inetd"]
    for k, v in (env or {}).items():
        cmd += ["-E", "%s=%s" % (k, v)]
    s = Server(cmd + list(argv), log=log)
    if not wait_port(port):
        raise RuntimeError("server on port %d did not start" % port)
    return s


def summary():
    print("%d passed, %d failed, %d skipped" % (_counts["p"], _counts["f"], _counts["s"]), flush=True)
    sys.exit(1 if _counts["f"] else 0)


@atexit.register
def _cleanup():
    for s in _servers:
        s.stop()
    if not os.environ.get("KEEP_TMP"):
        shutil.rmtree(TMP, ignore_errors=True)
