#!/usr/bin/env python3
"""t-etrn-mx.py - the hold-queue flush of a domain without host=, through
DNS: MX records in preference order, the domain's own address when it has
no MX, a null MX (RFC 7505: returned to the sender with 5.1.10), a
failing DNS server, and the loops a DNS
answer may cause (issue 16): an MX that resolves to loopback or to an
address of this host, our own name as the best MX (RFC 5321 5.1), and an
MX that is an IP literal - each refused, logged, the mail kept. The test
re-runs itself inside a private network and mount namespace (unshare -n
-m): its own loopback, its own /etc/resolv.conf naming a stub DNS server
of its own on 127.0.0.1:53; the recording sink runs in a second network
namespace on 192.0.2.25:25 (a veth pair, 192.0.2.1 on our side), since a
next hop from DNS may not be loopback or one of our own addresses.
Nothing reaches the system resolver or any outside address. It exercises
the real (static) smtp-handler's res_query and getaddrinfo."""
import os, shutil, socket, struct, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))

INNER = "--in-namespace"

if INNER not in sys.argv:
    from harness import skip, summary
    for tool in ("unshare", "nsenter", "ip", "mount", "cdb", "openssl"):
        if not shutil.which(tool):
            skip("etrn-mx", tool + " is not installed")
            summary()
    if os.geteuid() != 0:
        skip("etrn-mx", "needs root for a network namespace (unshare -n -m)")
        summary()
    probe = subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        skip("etrn-mx", "cannot create namespaces here: %s" % probe.stderr.decode().strip())
        summary()
    r = subprocess.run(["unshare", "-n", "-m", sys.executable, os.path.abspath(__file__), INNER],
                       timeout=300)
    sys.exit(r.returncode)

# ---------------------------------------------------------------- inside
from etrnlib import *

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
resolv = os.path.join(TMP, "resolv.conf")
with open(resolv, "w") as f:
    f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
hosts = os.path.join(TMP, "hosts")
with open(hosts, "w") as f:
    f.write("127.0.0.1 localhost\n")
subprocess.run(["mount", "--make-rprivate", "/"], check=True)
subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)

# --- the stub DNS server ------------------------------------------------------
T_A, T_MX, T_AAAA = 1, 15, 28
ZONE = {   # name -> {type: [rdata...]} or an rcode (2 SERVFAIL, 3 NXDOMAIN)
    "dialup.example": {T_MX: [(10, "mx1.dialup.example")]},
    "mx1.dialup.example": {T_A: ["192.0.2.25"]},
    "two.example": {T_MX: [(20, "mx2.two.example"), (5, "dead.two.example")]},
    "dead.two.example": {T_A: ["192.0.2.26"]},       # nothing listens there
    "mx2.two.example": {T_A: ["192.0.2.25"]},
    "nomx.example": {T_A: ["192.0.2.25"]},           # no MX: its own address
    "null.example": {T_MX: [(0, "")]},               # RFC 7505 null MX
    "fail.example": 2,
    "loop.example": {T_MX: [(10, "mx.loop.example")]},
    "mx.loop.example": {T_A: ["127.0.0.1"]},         # loopback: a loop
    "own.example": {T_MX: [(10, "mx.own.example")]},
    "mx.own.example": {T_A: ["192.0.2.1"]},          # our own interface
    "self.example": {T_MX: [(10, "mx.example.jp"), (20, "mx1.dialup.example")]},
    "iplit.example": {T_MX: [(10, "192.0.2.25")]},   # an IP literal as MX
}
queries = []


def encode_name(name):
    out = b""
    for label in filter(None, name.split(".")):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def answer(query):
    qid, flags = struct.unpack(">HH", query[:4])
    p, labels = 12, []
    while query[p]:
        labels.append(query[p + 1:p + 1 + query[p]].decode().lower())
        p += 1 + query[p]
    qtype, = struct.unpack(">H", query[p + 1:p + 3])
    question = query[12:p + 5]
    name = ".".join(labels)
    queries.append((name, qtype))
    zone = ZONE.get(name)
    rcode, rrs = 0, []
    if zone is None:
        rcode = 3
    elif isinstance(zone, int):
        rcode = zone
    else:
        for rd in zone.get(qtype, []):
            if qtype == T_MX:
                data = struct.pack(">H", rd[0]) + encode_name(rd[1])
            elif qtype == T_A:
                data = socket.inet_aton(rd)
            else:
                continue
            rrs.append(b"\xc0\x0c" + struct.pack(">HHIH", qtype, 1, 60, len(data)) + data)
    head = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(rrs), 0, 0)
    return head + question + b"".join(rrs)


def dns_server(sock):
    while True:
        try:
            data, addr = sock.recvfrom(4096)
            sock.sendto(answer(data), addr)
        except OSError:
            return
        except Exception:
            continue


udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 53))
threading.Thread(target=dns_server, args=(udp,), daemon=True).start()

# --- the database, the sink on port 25 -----------------------------------------
h = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True, text=True,
                   check=True).stdout.strip()
src = os.path.join(TMP, "users")
with open(src, "w") as f:
    f.write("example.jp domain\nalice@example.jp %s %s/mail/alice\n"
            "postmaster@example.jp alias alice@example.jp\n" % (h, TMP))
    for d in ("dialup.example", "two.example", "nomx.example", "null.example", "fail.example",
              "loop.example", "own.example", "self.example", "iplit.example"):
        f.write("%s hold etrn-from=192.0.2.0/24\n" % d)
subprocess.run(["cdb", "-c", "-m", src + ".cdb", src], check=True)
users = src + ".cdb"
spool = os.path.join(TMP, "spool")
sinkdir = os.path.join(TMP, "sink")
log = os.path.join(TMP, "smtp.log")

# the sink's network namespace, held by a process of ours, joined by veth
holder = Server(["unshare", "-n", "sleep", "600"])
ns = str(holder.proc.pid)
own_ns = os.readlink("/proc/self/ns/net")
wait_for(lambda: os.readlink("/proc/%s/ns/net" % ns) != own_ns, 5)
subprocess.run(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=True)
subprocess.run(["ip", "link", "set", "v1", "netns", ns], check=True)
subprocess.run(["ip", "addr", "add", "192.0.2.1/24", "dev", "v0"], check=True)
subprocess.run(["ip", "link", "set", "v0", "up"], check=True)
for cmd in (["ip", "addr", "add", "192.0.2.25/24", "dev", "v1"],
            ["ip", "addr", "add", "192.0.2.26/24", "dev", "v1"],
            ["ip", "link", "set", "v1", "up"], ["ip", "link", "set", "lo", "up"]):
    subprocess.run(["nsenter", "-t", ns, "-n"] + cmd, check=True)
os.makedirs(sinkdir, exist_ok=True)
Server(["nsenter", "-t", ns, "-n", sys.executable, SINK, "--port", "25", "--dir", sinkdir,
        "--host", "192.0.2.25"], log=os.path.join(TMP, "sink.log"))
if not wait_port(25, host="192.0.2.25", timeout=10):
    check("the sink starts on 192.0.2.25:25 in its namespace", False)
    summary()


def hold_and_flush(domain, n=1):
    rc = ["u%d@%s" % (i, domain) for i in range(n)]
    r = smtp_session(users, spool, hold_session(rc, tag=domain), log=log)
    held = len(queue_ids(spool, "hold/" + domain))
    r2 = smtp_session(users, spool, ["EHLO c.test", "ETRN " + domain, "QUIT"], log=log)
    return held, r2


def delivered_for(domain):
    return [m for m in sink_messages(sinkdir) if m["rcpt"] and m["rcpt"][0].endswith("@" + domain)]


def log_has(text):
    try:
        return text in open(log, encoding="latin-1").read()
    except OSError:
        return False


# 1. one MX: delivered to it, the queue empties
held, r = hold_and_flush("dialup.example", 2)
check("MX: 2 messages held for dialup.example", held == 2, held)
check("MX: ETRN starts the flush (253)", any(l.startswith("253") for l in r), r)
check("MX: both arrive at mx1.dialup.example (192.0.2.25:25)",
      wait_for(lambda: len(delivered_for("dialup.example")) == 2), sink_messages(sinkdir))
check("MX: the hold queue is empty",
      wait_for(lambda: queue_ids(spool, "hold/dialup.example") == []),
      queue_ids(spool, "hold/dialup.example"))
check("MX: the MX was asked, then the exchanger's address",
      ("dialup.example", T_MX) in queries and ("mx1.dialup.example", T_A) in queries, queries)

# 2. two MX: the preferred one (5) refuses connections, the next (20) takes it
held, r = hold_and_flush("two.example")
check("two MX: delivered through the second exchanger",
      wait_for(lambda: len(delivered_for("two.example")) == 1), sink_messages(sinkdir))
check("two MX: the preferred exchanger was tried first",
      ("dead.two.example", T_A) in queries and
      queries.index(("dead.two.example", T_A)) < queries.index(("mx2.two.example", T_A))
      if ("mx2.two.example", T_A) in queries else False, queries)
check("two MX: the hold queue is empty",
      wait_for(lambda: queue_ids(spool, "hold/two.example") == []))

# 3. no MX record: the domain's own address
held, r = hold_and_flush("nomx.example")
check("no MX: delivered to the domain's own A record",
      wait_for(lambda: len(delivered_for("nomx.example")) == 1), sink_messages(sinkdir))
check("no MX: the hold queue is empty",
      wait_for(lambda: queue_ids(spool, "hold/nomx.example") == []))

# 4. null MX (RFC 7505): a permanent failure, 5.1.10, returned to the sender
alice_new = os.path.join(TMP, "mail", "alice", "new")
before = len(os.listdir(alice_new)) if os.path.isdir(alice_new) else 0
held, r = hold_and_flush("null.example")
check("null MX: ETRN accepted", any(l.startswith("253") for l in r), r)
check("null MX: logged", wait_for(lambda: log_has("node null.example: null MX")),
      open(log, encoding="latin-1").read()[-400:])
check("null MX: nothing delivered, the message left the hold queue",
      wait_for(lambda: queue_ids(spool, "hold/null.example") == []) and
      delivered_for("null.example") == [], queue_ids(spool, "hold/null.example"))
def dsns():
    if not os.path.isdir(alice_new):
        return []
    return [open(os.path.join(alice_new, n), "rb").read() for n in sorted(os.listdir(alice_new))]
check("null MX: a DSN in the sender's maildir: Action failed, Status 5.1.10",
      wait_for(lambda: len(dsns()) == before + 1) and
      any(b"Action: failed" in d and b"Status: 5.1.10" in d and
          b"Final-Recipient: rfc822; u0@null.example" in d for d in dsns()),
      [d[-600:] for d in dsns()])

# 5. the DNS server fails: temporary, the mail stays, logged
held, r = hold_and_flush("fail.example")
check("SERVFAIL: logged", wait_for(lambda: log_has("node fail.example: MX lookup failed")))
check("SERVFAIL: nothing delivered, the message stays held",
      delivered_for("fail.example") == [] and
      len(queue_ids(spool, "hold/fail.example")) == 1)

# 6. loops from DNS: refused, logged, the mail stays held, nothing sent
def refused(domain, text, what):
    n0 = len(sink_messages(sinkdir))
    held, r = hold_and_flush(domain)
    check("%s: ETRN accepted" % what, any(l.startswith("253") for l in r), r)
    check("%s: logged" % what, wait_for(lambda: log_has(text), 20),
          open(log, encoding="latin-1").read()[-600:])
    time.sleep(0.5)
    check("%s: nothing delivered, the message stays held" % what,
          len(sink_messages(sinkdir)) == n0 and
          len(queue_ids(spool, "hold/" + domain)) == 1, queue_ids(spool, "hold/" + domain))


refused("loop.example", "mx.loop.example resolves to 127.0.0.1, loopback or an address "
        "of this host: refused", "MX resolving to loopback")
refused("own.example", "mx.own.example resolves to 192.0.2.1, loopback or an address "
        "of this host: refused", "MX resolving to our own address")
refused("self.example", "node self.example: we (mx.example.jp) are its best MX",
        "our own name as the best MX (RFC 5321 5.1)")
refused("iplit.example", "node iplit.example: MX lookup failed: no usable MX record",
        "an IP literal as the only MX")
check("IP literal: logged as skipped",
      log_has("node iplit.example: 1 MX record(s) skipped"))

udp.close()
summary()
