#!/usr/bin/env python3
"""t-relay-addrs.py - addresses on the relay path are kept as received
(issue 16 items 13 and 16): a bounce (DSN) for SRS, VERP and BATV
senders goes to the reverse-path exactly as given at MAIL; a recipient
relayed onward (outbound queue, pushed by etrn-client) or held for a
hold domain (flushed by `mailbox-admin queue flush`) keeps the case of
its local part (RFC 5321 2.4), only the domain is lowercased; local
look-ups stay case-insensitive. Real smtp-handler, etrn-client,
mailbox-admin and the recording sink on 127.0.0.1. The spool and the
maildirs are the service user's (nobody; see etrnlib.py): smtp-handler
runs with --user nobody, etrn-client as nobody, and `mailbox-admin queue
flush`, started as root, becomes nobody."""
import glob, os, subprocess, sys
PUBLIC_TMP = True      # the programs run as nobody: TMP outside the checkout
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

require("relay-addrs", programs=(SMTP, ETRN, ADMIN), tools=("cdb", "openssl"))

port = free_port()
users = make_db(TMP, port)
src = users[:-4]
readable(users, src)
# the spool's path may hold no symbolic link: the physical path of TMP
spool = service_dirs(os.path.join(os.path.realpath(TMP), "spool"))
service_dirs(os.path.join(TMP, "mail"))
ETRN_RUN = reachable_copy(ETRN) if SERVICE else ETRN
sinkdir = os.path.join(TMP, "sink")
replies = os.path.join(TMP, "replies")
open(replies, "w").close()
start_sink(sinkdir, port, "--replies", replies)
log = os.path.join(TMP, "smtp.log")


def flush(node):
    with open(log, "ab") as errf:
        return subprocess.run([ADMIN, "--db", src, "--spool", spool, "queue", "flush", node],
                              stdout=subprocess.PIPE, stderr=errf, timeout=60).returncode


def send(sender, rcpt, args=()):
    return smtp_session(users, spool, ["EHLO client.test", "MAIL FROM:<%s>" % sender,
                                       "RCPT TO:<%s>" % rcpt, "DATA", "Subject: t", "",
                                       "body", ".", "QUIT"], args=AS_SERVICE + tuple(args),
                       log=log)


def env_rcpts(queue):
    out = []
    for i in queue_ids(spool, queue):
        out += [r.split(" ", 1)[1] for r in read_env(spool, queue, i)["rcpt"]]
    return out


# --- item 16: the case of relayed and held local parts ----------------------
r = send("alice@example.jp", "Bob.Smith@Remote.Example", args=("--relay-clients", "192.0.2.0/24"))
check("relayed RCPT accepted", "250" in codes(r)[3:4], r)
check("outbound queue keeps the local part as received, domain lowercased",
      env_rcpts("outbound") == ["Bob.Smith@remote.example"], env_rcpts("outbound"))
p = subprocess.run([ETRN_RUN, "--port", str(port), "--push", spool, "--users", users,
                    "--timeout", "10", "127.0.0.1", "dialup.example"],
                   capture_output=True, timeout=60, preexec_fn=as_service)
check("push: etrn-client exit 0", p.returncode == 0, p.stderr)
m = sink_messages(sinkdir)
check("relayed: the sink got RCPT TO:<Bob.Smith@remote.example>",
      len(m) == 1 and m[0]["rcpt"] == ["Bob.Smith@remote.example"], m)

r = send("alice@example.jp", "Carol.Jones@Dialup.Example")
check("held RCPT accepted", "250" in codes(r)[3:4], r)
check("hold queue keeps the local part as received",
      env_rcpts("hold/dialup.example") == ["Carol.Jones@dialup.example"],
      env_rcpts("hold/dialup.example"))
check("flush: the queue empties", flush("dialup.example") == 0)
m = sink_messages(sinkdir)
check("held: the sink got RCPT TO:<Carol.Jones@dialup.example>",
      len(m) == 2 and m[1]["rcpt"] == ["Carol.Jones@dialup.example"], m)

r = send("bob@elsewhere.example", "Alice@Example.JP")
check("local users still match case-insensitively", "250" in codes(r)[3:4], r)
check("... and the message is in alice's maildir",
      len(glob.glob(os.path.join(TMP, "mail", "alice", "new", "*"))) == 1)

# --- item 13: DSNs to SRS, VERP and BATV reverse-paths, exactly -------------
with open(replies, "w") as f:
    f.write("rcpt * 550 5.1.1 no such user here\n")
senders = ["SRS0=HHH=TT=example.com=bob@fwd.example",
           "list-bounces+bob=example.com@lists.example",
           "prvs=1234abcd56=Bob@Batv.example"]
for i, s in enumerate(senders):
    r = send(s, "u%d@dialup.example" % i)
    check("MAIL FROM:<%s> accepted" % s, codes(r)[2:4] == ["250", "250"], r)
before = set(queue_ids(spool, "outbound"))
flush("dialup.example")
check("the refused messages left the hold queue",
      queue_ids(spool, "hold/dialup.example") == [], queue_ids(spool, "hold/dialup.example"))
dsn = {}
for i in set(queue_ids(spool, "outbound")) - before:
    e = read_env(spool, "outbound", i)
    dsn[e["rcpt"][0].split(" ", 1)[1]] = e
for s in senders:
    check("DSN queued for <%s> exactly as received" % s, s in dsn, sorted(dsn))
check("the DSNs carry the null sender",
      dsn and all(e.get("sender") == "<>" for e in dsn.values()), dsn)
check("no 'notification dropped' in the log",
      "notification dropped" not in open(log, encoding="latin-1").read())

# a DSN to a local sender given in another case still reaches the maildir
with open(replies, "w") as f:
    f.write("rcpt * 550 5.1.1 no such user here\n")
send("Alice@Example.JP", "u9@dialup.example")
flush("dialup.example")
check("DSN to <Alice@Example.JP> delivered into alice's maildir",
      len(glob.glob(os.path.join(TMP, "mail", "alice", "new", "*"))) == 2)

summary()
