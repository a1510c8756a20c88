#!/usr/bin/env python3
"""t-envelope-exact.py - envelopes are carried exactly (issue 15 item 4):
a reverse-path with a quoted local part holding a blank or a
quoted-pair is accepted for a hold recipient and a local one at once
(250, both copies kept), stored in the queue envelope and relayed
byte-exact by `mailbox-admin queue flush` to the recording sink; an old
(version 1) envelope file is still read and flushed. Real
smtp-handler, mailbox-admin and tests/sinksmtp.py on 127.0.0.1."""
import glob, os, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
PUBLIC_TMP = True      # nobody must reach TMP also from a checkout in /root
from etrnlib import *

require("envelope-exact", programs=(SMTP, ADMIN), tools=("cdb", "openssl"))

# queue commands refuse a root-owned spool: everything runs as nobody
import pwd
NOBODY = pwd.getpwnam("nobody")
UID, GID = NOBODY.pw_uid, NOBODY.pw_gid
os.chmod(TMP, 0o755)
port, port2 = free_port(), free_port()
users = make_db(TMP, port, "strict.example hold host=127.0.0.1:%d "
                "etrn-from=127.0.0.1" % port2)
src = users[:-4]
spool = os.path.join(os.path.realpath(TMP), "spool")
for d in (spool, os.path.join(TMP, "mail")):
    os.mkdir(d, 0o700)
    os.chown(d, UID, GID)


ADMIN_RUN = reachable_copy(ADMIN)    # nobody executes it


def as_nobody():
    os.setgroups([])
    os.setgid(GID)
    os.setuid(UID)

sinkdir = os.path.join(TMP, "sink")
start_sink(sinkdir, port, "--smtputf8", "--replies", os.path.join(TMP, "replies"))
sink2dir = os.path.join(TMP, "sink2")
start_sink(sink2dir, port2, "--no-8bitmime")
log = os.path.join(TMP, "smtp.log")


def flush(node):
    with open(log, "ab") as errf:
        return subprocess.run([ADMIN_RUN, "--db", src, "--spool", spool, "queue", "flush", node],
                              stdout=subprocess.PIPE, stderr=errf, timeout=60,
                              preexec_fn=as_nobody).returncode


def send(mail, rcpts):
    lines = ["EHLO client.test", "MAIL FROM:" + mail]
    lines += ["RCPT TO:<%s>" % r for r in rcpts]
    lines += ["DATA", "Subject: t", "", "body", ".", "QUIT"]
    return smtp_session(users, spool, lines, args=("--user", "nobody"), log=log)


def maildir_count():
    return len(glob.glob(os.path.join(TMP, "mail", "alice", "new", "*")))


# a blank in a quoted local part, a hold and a local recipient
r = send('<"john doe"@example.net>', ["carol@dialup.example", "alice@example.jp"])
check('MAIL FROM:<"john doe"@example.net> with hold + local: 250 after DATA',
      codes(r)[1:6] == ["250", "250", "250", "250", "354"] and codes(r)[6:7] == ["250"], r)
check("the local copy is kept", maildir_count() == 1)
ids = queue_ids(spool, "hold/dialup.example")
check("the held copy is kept", len(ids) == 1, ids)
check("the envelope holds the sender exactly",
      ids and read_env(spool, "hold/dialup.example", ids[0]).get("sender") ==
      '"john doe"@example.net')
check("flush exits 0", flush("dialup.example") == 0)
m = sink_messages(sinkdir)
check('relayed as MAIL FROM:<"john doe"@example.net>',
      len(m) == 1 and m[0]["from"] == '"john doe"@example.net', m)

# a quoted-pair keeps its backslash
r = send('<"a\\"b"@example.net>', ["carol@dialup.example"])
check('MAIL FROM:<"a\\"b"@example.net>: 250', codes(r)[-2:-1] == ["250"], r)
flush("dialup.example")
m = sink_messages(sinkdir)
check('relayed as MAIL FROM:<"a\\"b"@example.net> (escape kept)',
      len(m) == 2 and m[1]["from"] == '"a\\"b"@example.net', m)
cmds = open(os.path.join(sinkdir, "commands.log"), "rb").read()
check("the sink saw the byte-exact reverse-paths",
      b'MAIL FROM:<"john doe"@example.net>' in cmds and
      b'MAIL FROM:<"a\\"b"@example.net>' in cmds, cmds)

# an envelope written by an older postern (version 1) is still flushed
r = send("<old@example.net>", ["dave@dialup.example"])
ids = queue_ids(spool, "hold/dialup.example")
check("one message held", len(ids) == 1, ids)
if ids:
    p = os.path.join(spool, "hold/dialup.example", "env", ids[0])
    e = read_env(spool, "hold/dialup.example", ids[0])
    with open(p, "w") as f:
        f.write("postern-queue 1\nid %s\nsender old@example.net\narrival %s\n"
                "attempts 0\nnext-try 0\nsize %s\nrcpt P dave@dialup.example\nend\n"
                % (ids[0], e["arrival"], e["size"]))
    os.chown(p, UID, GID)
flush("dialup.example")
m = sink_messages(sinkdir)
check("a version 1 envelope is read and relayed",
      len(m) == 3 and m[2]["from"] == "old@example.net" and
      m[2]["rcpt"] == ["dave@dialup.example"], m)
check("the hold queue is empty", queue_ids(spool, "hold/dialup.example") == [])

# --- SMTPUTF8 and BODY= go on when the next hop offers them --------------
r = send("<j\u00f6rg@ex\u00e4mple.net> SMTPUTF8 BODY=8BITMIME", ["erin@dialup.example"])
check("UTF-8 sender with SMTPUTF8 BODY=8BITMIME: 250", codes(r)[-2:-1] == ["250"], r)
flush("dialup.example")
m = sink_messages(sinkdir)
check("relayed to a sink offering SMTPUTF8 and 8BITMIME: exact path, both parameters",
      len(m) == 4 and m[3]["from"] == "j\u00f6rg@ex\u00e4mple.net" and
      "SMTPUTF8" in m[3]["params"] and "BODY=8BITMIME" in m[3]["params"], m[3:])
cmds = open(os.path.join(sinkdir, "commands.log"), "rb").read()
check("byte-exact UTF-8 MAIL FROM line",
      "MAIL FROM:<j\u00f6rg@ex\u00e4mple.net> SIZE=".encode() in cmds, cmds[-400:])
check("no SMTPUTF8 and no BODY= for a message without them",
      m and m[0]["params"] == [p for p in m[0]["params"] if p.startswith("SIZE=")], m[:1])

# a next hop without SMTPUTF8: refused 5.6.7, a DSN to the sender
before = maildir_count()
r = send("<alice@example.jp> SMTPUTF8", ["frank@strict.example"])
check("SMTPUTF8 message for strict.example: 250", codes(r)[-2:-1] == ["250"], r)
flush("strict.example")
check("not sent to the sink without SMTPUTF8", sink_messages(sink2dir) == [])
check("the message left the hold queue", queue_ids(spool, "hold/strict.example") == [])
new = sorted(set(glob.glob(os.path.join(TMP, "mail", "alice", "new", "*"))))
dsn = [open(f, "rb").read() for f in new]
check("a DSN reached the sender's maildir", maildir_count() == before + 1)
check("the DSN says 5.6.7 failed",
      any(b"Status: 5.6.7" in d and b"Action: failed" in d for d in dsn), dsn[-1:])

# a next hop without 8BITMIME: sent anyway, without BODY= (documented)
r = send("<alice@example.jp> BODY=8BITMIME", ["frank@strict.example"])
flush("strict.example")
m = sink_messages(sink2dir)
check("8BITMIME body to a sink without 8BITMIME: sent without BODY=",
      len(m) == 1 and not any(p.upper().startswith("BODY=") for p in m[0]["params"]), m)

# a DSN goes back to a quoted reverse-path with a blank, exactly
with open(os.path.join(TMP, "replies"), "w") as f:
    f.write("rcpt * 550 5.1.1 no such user here\n")
before = set(queue_ids(spool, "outbound"))
r = send('<"john doe"@example.net>', ["gone@dialup.example"])
flush("dialup.example")
dsn = [read_env(spool, "outbound", i) for i in set(queue_ids(spool, "outbound")) - before]
check('a DSN for <"john doe"@example.net> is queued to that exact address',
      len(dsn) == 1 and dsn[0]["rcpt"] == ['P "john doe"@example.net'] and
      dsn[0]["sender"] == "<>", dsn)
check("no 'notification dropped' in the log",
      "notification dropped" not in open(log, encoding="latin-1").read())

summary()
