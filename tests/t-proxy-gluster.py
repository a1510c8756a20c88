#!/usr/bin/env python3
"""t-proxy-gluster.py - two hosts on one GlusterFS volume behind one HAProxy
(issue 19).

Three network namespaces made here: L (192.0.2.1 on a bridge: glusterd
with a replica-2 volume whose bricks are local directories, HAProxy, a
recording SMTP sink, and this test's clients, which all come from
127.0.0.1 in L) and the "hosts" A (192.0.2.11) and B (192.0.2.12). Each
host mounts the volume through FUSE in its own mount namespace (a holder
process keeps it) at the same path, and runs pop3-handler and
smtp-handler under its own systemd-socket-activate with --proxy-from
192.0.2.1; maildirs, spool, user database and throttle file live on the
volume. HAProxy balances between A and B (send-proxy-v2 to A,
send-proxy to B) and also offers A-only and B-only front ends.

Asserted: flock() and fcntl() locks taken through one mount exclude the
other (the code uses flock: maildir session lock, queue locks, hold-flush
lock, throttle); concurrent deliveries through both hosts, with POP3
sessions through both going on, store every Message-ID exactly once; a
message delivered through one host is listed at once by a POP3 session
through the other, and no saved listing (.postern-*.cache) is written on
the FUSE mount; [IN-USE] across hosts; ETRN through both hosts at once
delivers each held message exactly once (one flusher per node); failed
logins through one host throttle the client through the other (the
throttle file is shared). Everything started is stopped by PID, the
mounts, the volume and the namespaces are removed, and the test checks
that nothing of it is left."""
import atexit, ctypes, fcntl, glob, os, re, shutil, socket, smtplib, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from harness import *

require("proxy-gluster", (POP3, SMTP),
        ("ip", "glusterd", "gluster", "mount.glusterfs", "haproxy", "nsenter", "unshare",
         "systemd-socket-activate", "cdb", "openssl"))
if os.geteuid() != 0:
    check("proxy-gluster runs as root (namespaces, FUSE mounts)", False)
    summary()
if os.path.exists("/var/run/glusterd.socket"):
    try:
        socket.socket(socket.AF_UNIX).connect("/var/run/glusterd.socket")
        check("no other glusterd is running (this test starts its own)", False)
        summary()
    except OSError:
        pass

N = "pgl%d" % os.getpid()
G = "/var/tmp/postern-gl.%d" % os.getpid()      # bricks, logs, mount point
SH = G + "/shared"                               # the volume, in A and B
SINKPORT = 2525
PW = "secret"
holders, servers, started = {}, [], {"glusterd": None}
RUN = dict(capture_output=True, text=True, timeout=120)


def sh(*argv, ns=None):
    if ns:
        argv = ("ip", "netns", "exec", N + ns) + argv
    return subprocess.run(list(argv), **RUN)


def teardown():
    for s in servers:
        s.stop()
    for h, p in holders.items():
        subprocess.run(["nsenter", "-t", str(p.pid), "-m", "-r", "-w", "umount", SH], capture_output=True)
        p.kill()
        p.wait()
    holders.clear()
    if started["glusterd"]:
        sh("gluster", "--mode=script", "volume", "stop", "pvol", "force", ns="L")
        sh("gluster", "--mode=script", "volume", "delete", "pvol", ns="L")
        pids = []
        for pf in [G + "/glusterd.pid"] + glob.glob("/var/run/gluster/shd/pvol/*.pid") + \
                glob.glob("/var/run/gluster/vols/pvol/*.pid"):
            try:
                pids.append(int(open(pf).read().strip()))
            except (OSError, ValueError):
                pass
        for p in pids:
            # A pid file may be stale (an earlier run on this disk): only
            # a gluster process of this run is stopped.
            try:
                cmd = open("/proc/%d/cmdline" % p, "rb").read()
            except OSError:
                continue
            if b"gluster" not in cmd or (G.encode() not in cmd and b"pvol" not in cmd):
                continue
            try:
                os.kill(p, 15)
            except ProcessLookupError:
                pass
        started["glusterd"].wait(10)
        started["glusterd"] = None
        # bricks and the self-heal daemon exit on their own time after TERM
        end = time.time() + 30
        while time.time() < end and subprocess.run(["pgrep", "-f", G], capture_output=True).returncode == 0:
            time.sleep(0.2)
    for n in ("A", "B", "L"):
        subprocess.run(["ip", "netns", "del", N + n], capture_output=True)
    shutil.rmtree(G, ignore_errors=True)


atexit.register(teardown)

# --- the network: L with a bridge, A and B on it ---------------------------------
os.makedirs(G + "/log")
os.makedirs(SH)
cmds = [["ip", "netns", "add", N + n] for n in "LAB"] + [
    ["ip", "-n", N + "L", "link", "add", "br0", "type", "bridge"],
    ["ip", "-n", N + "L", "link", "set", "br0", "up"],
    ["ip", "-n", N + "L", "addr", "add", "192.0.2.1/24", "dev", "br0"],
    ["ip", "-n", N + "L", "link", "set", "lo", "up"]]
for h, a in (("A", 11), ("B", 12)):
    cmds += [["ip", "link", "add", "v" + h, "netns", N + "L", "type", "veth", "peer", "name", "eth0",
              "netns", N + h],
             ["ip", "-n", N + "L", "link", "set", "v" + h, "master", "br0", "up"],
             ["ip", "-n", N + h, "addr", "add", "192.0.2.%d/24" % a, "dev", "eth0"],
             ["ip", "-n", N + h, "link", "set", "eth0", "up"],
             ["ip", "-n", N + h, "link", "set", "lo", "up"]]
for c in cmds:
    r = subprocess.run(c, capture_output=True, text=True)
    if r.returncode:
        check("network setup: " + " ".join(c), False, r.stderr)
        summary()

# This process joins L: its clients, HAProxy and the sink live there.
libc = ctypes.CDLL(None, use_errno=True)
with open("/run/netns/" + N + "L") as f:
    if libc.setns(f.fileno(), 0x40000000) != 0:
        check("setns into L", False, os.strerror(ctypes.get_errno()))
        summary()

# --- glusterd and the volume ------------------------------------------------------
started["glusterd"] = subprocess.Popen(
    ["glusterd", "-N", "--log-file=" + G + "/log/glusterd.log", "-p", G + "/glusterd.pid"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ok = False
for i in range(60):
    if sh("gluster", "--mode=script", "volume", "list").returncode == 0:
        ok = True
        break
    time.sleep(0.5)
check("glusterd answers", ok)
r = sh("gluster", "--mode=script", "volume", "create", "pvol", "replica", "2",
       "192.0.2.1:" + G + "/brick1", "192.0.2.1:" + G + "/brick2", "force")
check("volume create (replica 2)", r.returncode == 0, r.stdout + r.stderr)
r = sh("gluster", "--mode=script", "volume", "start", "pvol")
if not check("volume start", r.returncode == 0, r.stdout + r.stderr):
    summary()

# --- the hosts: a FUSE mount each, in its own mount namespace ----------------------
for h in "AB":
    p = subprocess.Popen(["ip", "netns", "exec", N + h, "unshare", "-m", "--propagation", "private",
                          "sh", "-c", "mount -t glusterfs -o log-file=%s/log/mount%s.log "
                          "192.0.2.1:/pvol %s && echo mounted && exec sleep 100000" % (G, h, SH)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    holders[h] = p
    line = p.stdout.readline().strip()
    if not check("host %s mounts the volume in its own mount namespace" % h, line == "mounted", line):
        summary()
V = {h: "/proc/%d/root%s" % (holders[h].pid, SH) for h in "AB"}   # the volume as each host sees it
check("the root namespace does not see the mounts", os.listdir(SH) == [])
with open(V["A"] + "/probe", "w") as f:
    f.write("from A\n")
check("a file written through A is read through B", open(V["B"] + "/probe").read() == "from A\n")


def inhost(h, argv):
    return ["nsenter", "-t", str(holders[h].pid), "-m", "-n", "-r", "-w"] + argv


# --- locks across the two mounts ----------------------------------------------------
def other_mount_lock(kind):
    """A child (through A) holds a lock on V/lk; can we take it through B?"""
    code = ("import fcntl,sys,time\nf=open(sys.argv[1],'a')\n"
            "fcntl.%s(f,fcntl.LOCK_EX)\nprint('held',flush=True)\ntime.sleep(3)\n" % kind)
    c = subprocess.Popen(["python3", "-c", code, V["A"] + "/lk-" + kind], stdout=subprocess.PIPE, text=True)
    c.stdout.readline()
    f = open(V["B"] + "/lk-" + kind, "a")
    try:
        getattr(fcntl, kind)(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        excluded = False
    except OSError:
        excluded = True
    c.wait()
    t0 = time.time()
    getattr(fcntl, kind)(f, fcntl.LOCK_EX)      # released: now it is ours
    f.close()
    return excluded, time.time() - t0


ex, t = other_mount_lock("flock")
check("flock through A excludes flock through B (the code's lock type)", ex and t < 5)
ex, t = other_mount_lock("lockf")
check("fcntl (POSIX) lock through A excludes one through B", ex and t < 5)

# --- data on the volume: users, maildirs, spool, throttle ---------------------------
h5 = subprocess.run(["openssl", "passwd", "-5", PW], check=True, capture_output=True, text=True).stdout.strip()
with open(V["A"] + "/users", "w") as f:
    f.write("example.org domain\n"
            "dialup.test hold host=192.0.2.1:%d etrn-from=127.0.0.0/8\n"
            "alice@example.org %s %s/mail/alice\nbob@example.org %s %s/mail/bob\n"
            % (SINKPORT, h5, SH, h5, SH))
r = subprocess.run(["cdb", "-c", "-m", V["A"] + "/users.cdb", V["A"] + "/users"], capture_output=True)
check("user database built on the volume", r.returncode == 0)
os.makedirs(V["A"] + "/spool")
DB, SPOOL = SH + "/users.cdb", SH + "/spool"
# The throttle file stays on each host's local disk: per host (README,
# "Several hosts": GlusterFS's client-side caching does not give the
# small read-modify-write records of the throttle a coherent view).
THR = {h: G + "/throttle-%s" % h for h in ("A", "B")}

logs = {}
for h, a in (("A", 11), ("B", 12)):
    env = ["-E", "POSTERN_LOG=stderr"]
    for name, port, argv in (
            ("pop3", 110, [POP3, "--users", DB, "--throttle-file", THR[h], "--fail-delay", "0",
                           "--hostname", "host%s.test" % h.lower()]),
            ("smtp", 25, [SMTP, "--users", DB, "--spool", SPOOL, "--throttle-file", THR[h],
                          "--hostname", "host%s.test" % h.lower(), "--auth", "anonymous"])):
        logs[h, name] = G + "/log/%s-%s.log" % (h, name)
        servers.append(Server(inhost(h, ["systemd-socket-activate", "-l", "192.0.2.%d:%d" % (a, port),
                                         "--inetd", "-a"] + env + argv + ["--allow-root", "--proxy-from", "192.0.2.1"]),
                              log=logs[h, name]))
for h, a in (("A", 11), ("B", 12)):
    for port in (110, 25):
        if not check("host %s serves port %d" % (h, port), wait_port(port, "192.0.2.%d" % a)):
            summary()

os.makedirs(G + "/sink")
with open(G + "/sink.replies", "w") as f:
    f.write("delay 0.3\n")
servers.append(Server(["python3", os.path.join(TOP, "tests", "sinksmtp.py"), "--host", "192.0.2.1",
                       "--port", str(SINKPORT), "--dir", G + "/sink", "--replies", G + "/sink.replies"],
                      log=G + "/log/sink.log"))

fp = {k: free_port() for k in ("pop3", "pop3A", "pop3B", "smtp", "smtpA", "smtpB")}
cfg = ["defaults", "    mode tcp", "    timeout connect 5s", "    timeout client 60s",
       "    timeout server 60s"]
for name, port in (("pop3", 110), ("smtp", 25)):
    for suffix, members in (("", "AB"), ("A", "A"), ("B", "B")):
        cfg += ["listen %s%s" % (name, suffix), "    bind 127.0.0.1:%d" % fp[name + suffix],
                "    balance roundrobin"]
        for h in members:
            cfg += ["    server %s 192.0.2.%d:%d %s" % (h, 11 if h == "A" else 12, port,
                                                       "send-proxy-v2" if h == "A" else "send-proxy")]
with open(G + "/haproxy.cfg", "w") as f:
    f.write("\n".join(cfg) + "\n")
servers.append(Server(["haproxy", "-db", "-f", G + "/haproxy.cfg"], log=G + "/log/haproxy.log"))
for k, port in fp.items():
    if not check("haproxy front end %s" % k, wait_port(port)):
        summary()
if not check("the sink listens", wait_port(SINKPORT, "192.0.2.1")):
    summary()


# --- clients ------------------------------------------------------------------------
def smtp_send(port, rcpts, mid, subject="test"):
    try:
        c = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=60)
        c.sendmail("sender@example.net", rcpts,
                   "Subject: %s\r\nMessage-ID: <%s>\r\n\r\nbody of %s\r\n" % (subject, mid, mid))
        c.quit()
        return True
    except Exception as e:
        return "%r" % e


class Pop3(CRLFLines):
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 60)
        self.buf = b""
        self.greet = self.line()

    def recv_some(self, end):
        return self.s.recv(65536)

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.line()

    def multi(self, c):
        first = self.cmd(c)
        out = []
        if first.startswith("+OK"):
            while True:
                l = self.line()
                if l == ".":
                    break
                out.append(l[1:] if l.startswith("..") else l)
        return first, out

    def login(self, user):
        self.cmd("USER " + user)
        return self.cmd("PASS " + PW)

    def close(self):
        try:
            self.cmd("QUIT")
        except OSError:
            pass
        self.s.close()


def ids_in(h, user):
    """Message-IDs in user's maildir, as seen through host h."""
    out = []
    for sub in ("new", "cur"):
        d = "%s/mail/%s/%s" % (V[h], user, sub)
        for f in os.listdir(d) if os.path.isdir(d) else []:
            m = re.search(r"^Message-ID: <([^>]+)>", open(os.path.join(d, f), errors="replace").read(), re.M)
            out.append(m.group(1) if m else "?")
    return out


# --- concurrent deliveries and POP3 sessions through both hosts --------------------
want = {"alice": [], "bob": []}
jobs = []
for i in range(36):
    rc = [["alice@example.org"], ["bob@example.org"], ["alice@example.org", "bob@example.org"]][i % 3]
    mid = "m%d@test" % i
    jobs.append((rc, mid))
    for r in rc:
        want[r.split("@")[0]].append(mid)
results, pop_answers = [], []
stop = threading.Event()


def deliverer(part):
    for rc, mid in part:
        results.append(smtp_send(fp["smtp"], rc, mid))


def popper(user):
    while not stop.is_set():
        try:
            p = Pop3(fp["pop3"])
            r = p.login(user + "@example.org")
            if r.startswith("+OK"):
                r = p.cmd("STAT")
                p.multi("UIDL")
            pop_answers.append(r)
            p.close()
        except OSError as e:
            pop_answers.append("error %r" % e)


ths = [threading.Thread(target=deliverer, args=(jobs[k::6],)) for k in range(6)]
ths += [threading.Thread(target=popper, args=(u,)) for u in ("alice", "bob")]
for t in ths:
    t.start()
for t in ths[:6]:
    t.join(300)
stop.set()
for t in ths[6:]:
    t.join(60)
check("36 concurrent deliveries through both hosts accepted", results == [True] * 36,
      [r for r in results if r is not True][:3])
for user in ("alice", "bob"):
    for h in "AB":
        got = sorted(ids_in(h, user))
        check("%s: every Message-ID exactly once (seen through %s)" % (user, h), got == sorted(want[user]),
              "%d vs %d" % (len(got), len(want[user])))
bad = [a for a in pop_answers if not (a.startswith("+OK") or a.startswith("-ERR [IN-USE]"))]
check("%d POP3 sessions alongside: only +OK or -ERR [IN-USE]" % len(pop_answers),
      pop_answers and not bad, bad[:3])
for h in "AB":
    t = open(logs[h, "smtp"]).read()
    check("host %s took deliveries, peer named by the header" % h,
          "REMOTE_ADDR=127.0.0.1 PROXY_VIA=192.0.2.1 " in t and "MESSAGES=1" in t)

# --- a listing never misses a delivered message ------------------------------------
time.sleep(2.5)     # let the directories settle: a local file system would save a listing now
p = Pop3(fp["pop3A"])
p.login("alice@example.org")
p.close()
caches = glob.glob(V["A"] + "/mail/*/.postern-*.cache")
check("no saved listing is written on the FUSE mount (listed live)", caches == [], caches)
missing = []
for i in range(8):
    via, other = ("A", "B") if i % 2 == 0 else ("B", "A")
    mid = "seq%d@test" % i
    if smtp_send(fp["smtp" + via], ["alice@example.org"], mid) is not True:
        missing.append("delivery %s failed" % mid)
        continue
    want["alice"].append(mid)
    p = Pop3(fp["pop3" + other])
    r = p.login("alice@example.org")
    first, uidl = p.multi("UIDL")
    n = len(uidl)
    if n != len(want["alice"]):
        missing.append("%s via %s: %d listed, %d delivered (%s)" % (mid, other, n, len(want["alice"]), r))
    p.close()
check("a message delivered through one host is listed at once through the other (8 times)",
      not missing, missing[:3])

# --- [IN-USE] across hosts -----------------------------------------------------------
pa = Pop3(fp["pop3A"])
ra = pa.login("alice@example.org")
pb = Pop3(fp["pop3B"])
rb = pb.login("alice@example.org")
pb.close()
check("a session through A holds the mailbox: B answers [IN-USE]",
      ra.startswith("+OK") and rb.startswith("-ERR [IN-USE]"), (ra, rb))
# RETR everything through A, DELE, QUIT: the mailbox empties on the volume
first, lst = pa.multi("LIST")
seen = []
for l in lst:
    num = l.split()[0]
    _, body = pa.multi("RETR " + num)
    m = [x for x in body if x.lower().startswith("message-id:")]
    seen.append(m[0].split("<")[1].rstrip(">") if m else "?")
    pa.cmd("DELE " + num)
pa.close()
check("RETR through A: every Message-ID exactly once", sorted(seen) == sorted(want["alice"]),
      "%d vs %d" % (len(seen), len(want["alice"])))
pb = Pop3(fp["pop3B"])
rb = pb.login("alice@example.org")
st = pb.cmd("STAT")
pb.close()
check("after QUIT through A, B logs in and finds the mailbox empty",
      rb.startswith("+OK") and st.startswith("+OK 0 "), (rb, st))

# --- one hold-queue flusher per node across both hosts -----------------------------
held = []
for i in range(6):
    mid = "held%d@test" % i
    if smtp_send(fp["smtp"], ["x@dialup.test"], mid) is True:
        held.append(mid)
check("6 messages held for dialup.test (through both hosts)", len(held) == 6)
etrn = {}


def etrn_via(h):
    try:
        c = smtplib.SMTP("127.0.0.1", fp["smtp" + h], local_hostname="client.test", timeout=60)
        c.ehlo()
        etrn[h] = c.docmd("ETRN", "dialup.test")
        c.quit()
    except Exception as e:
        etrn[h] = repr(e)


ts = [threading.Thread(target=etrn_via, args=(h,)) for h in "AB"]
for t in ts:
    t.start()
for t in ts:
    t.join(60)
check("ETRN through both hosts at once accepted",
      all(isinstance(v, tuple) and v[0] in (250, 251, 253) for v in etrn.values()), etrn)


def sink_ids():
    out = []
    for f in glob.glob(G + "/sink/msg-*.eml"):
        m = re.search(r"^Message-ID: <([^>]+)>", open(f, errors="replace").read(), re.M | re.I)
        out.append(m.group(1) if m else "?")
    return out


end = time.time() + 60
while time.time() < end and len(sink_ids()) < 6:
    time.sleep(0.5)
time.sleep(3)       # a second flusher, if any, would deliver again now
got = sorted(sink_ids())
check("each held message reached the node's server exactly once", got == sorted(held), got)
left = [f for f in glob.glob(V["B"] + "/spool/hold/*/env/*")] + \
    [f for f in glob.glob(V["B"] + "/spool/*/dialup.test/env/*")]
check("the hold queue is empty afterwards (seen through B)", left == [], left)

# --- the throttle is per host ------------------------------------------------------
# Three quick failures cost nothing; three more, each after the delay has
# run out, raise the wait to 8 s (time enough on a loaded machine).
for wait in (0, 0, 0, 2.5, 4.5, 8.5):
    time.sleep(wait)
    p = Pop3(fp["pop3A"])
    p.login("bob@example.org-nope")
    p.close()
p = Pop3(fp["pop3A"])
ra = p.login("bob@example.org")
p.close()
p = Pop3(fp["pop3B"])
rb = p.login("bob@example.org")
p.close()
check("failures through A throttle the client through A (per-host throttle)",
      ra.startswith("-ERR") and "peer 127.0.0.1 throttled" in open(logs["A", "pop3"]).read(), ra)
check("... and not through B (its own throttle file)", rb.startswith("+OK"), rb)

# --- cleanup, and nothing left ------------------------------------------------------
hp = [str(p.pid) for p in holders.values()]
teardown()
left = subprocess.run(["pgrep", "-f", G], capture_output=True, text=True).stdout.split()
check("no process of the test is left (glusterd, bricks, mounts, handlers)", left == [], left)
nss = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
check("the namespaces are gone", N not in nss)
check("the brick and mount directories are gone", not os.path.exists(G))
summary()
