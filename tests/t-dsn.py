#!/usr/bin/env python3
"""t-dsn.py - delivery status notifications on request (RFC 3461; issue 15
item 5), with the real smtp-handler, mailbox-admin and the recording sink
tests/sinksmtp.py on 127.0.0.1:
- EHLO advertises DSN; a table of malformed or repeated RET=, ENVID=,
  NOTIFY= and ORCPT= -> 501 5.5.4, well-formed ones -> 250 (also a RCPT
  line longer than 512 octets with a 480-octet ORCPT), an unknown
  parameter keeps 555, parameters after HELO keep 555;
- expiry (`mailbox-admin queue expire --older-than 0s`): NOTIFY=NEVER
  -> no notice; NOTIFY=FAILURE,DELAY -> a notice; RET=HDRS -> the third
  part is text/rfc822-headers without the body; RET=FULL -> message/rfc822
  with the body; ENVID -> Original-Envelope-Id, ORCPT -> Original-Recipient;
  NOTIFY=FAILURE only -> no delay warning for a 5 h old outbound message;
- NOTIFY=SUCCESS on local delivery -> a multipart/report in the local
  sender's maildir, Action delivered, Status 2.0.0, without our trace
  lines; from a remote sender -> a null-sender notice in the outbound
  queue; without NOTIFY=SUCCESS -> none;
- a held message with NOTIFY=SUCCESS flushed to a sink without DSN ->
  Action relayed (and no DSN parameter sent to it); to a sink with DSN ->
  RET/ENVID/NOTIFY/ORCPT verbatim on MAIL/RCPT and no relayed notice;
- a 5xx refusal at the next hop for NOTIFY=NEVER -> no bounce;
- etrn-client --push of the outbound queue to a relay with DSN passes
  RET/ENVID/NOTIFY/ORCPT on verbatim, without a relayed notice."""
import email, email.policy, os, re, subprocess, sys, time
PUBLIC_TMP = True      # the queue commands run as nobody: TMP outside the checkout
sys.path.insert(0, os.path.dirname(__file__))
from etrnlib import *

require("dsn", (SMTP, ADMIN), ("cdb", "openssl"))
port, port2 = free_port(), free_port()
h = subprocess.run(["openssl", "passwd", "-6", "secret"], capture_output=True, text=True,
                   check=True).stdout.strip()
users = make_db(TMP, port,
                "bob@example.jp %s %s/bob\n"
                "dsnhop.example hold host=127.0.0.1:%d\n" %
                (h, os.path.join(TMP, "mail"), port2))
db = users[:-4]
readable(users, db)
spool = service_dirs(os.path.join(os.path.realpath(TMP), "spool"))
service_dirs(os.path.join(TMP, "mail"))
ALICE = os.path.join(TMP, "mail", "alice")
BOB = os.path.join(TMP, "mail", "bob")
HOLD = "hold/dialup.example"
sinkdir, sink2dir = os.path.join(TMP, "sink"), os.path.join(TMP, "sink2")
replies = os.path.join(TMP, "replies")
start_sink(sinkdir, port, "--replies", replies)
start_sink(sink2dir, port2, "--dsn")


def admin(*args):
    p = subprocess.run([ADMIN, "--db", db, "--spool", spool] + list(args),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def session(lines, peer="192.0.2.5", args=()):
    return smtp_session(users, spool, lines, peer=peer, args=AS_SERVICE + tuple(args))


def send(sender, rcpts, subject="t", mail_params="", peer="192.0.2.5", args=(),
         body="the body text"):
    """rcpts: addresses, or (address, params) pairs."""
    lines = ["EHLO c.test", "MAIL FROM:<%s>%s" % (sender, mail_params)]
    for r in rcpts:
        a, p = (r, "") if isinstance(r, str) else r
        lines.append("RCPT TO:<%s>%s" % (a, p))
    lines += ["DATA", "Subject: %s" % subject, "Message-ID: <%s@t>" % subject, "", body, ".",
              "QUIT"]
    return session(lines, peer=peer, args=args)


def accepted(r):
    return any(l.startswith("250 2.0.0 OK id=") for l in r)


def maildir_msgs(d):
    n = os.path.join(d, "new")
    return sorted(os.listdir(n)) if os.path.isdir(n) else []


def new_in(d, before):
    return [os.path.join(d, "new", m) for m in maildir_msgs(d) if m not in before]


def parse(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def report(path):
    """(message, delivery-status text, third part) of a DSN, or None."""
    m = parse(path)
    if m.get_content_type() != "multipart/report" or \
            m.get_param("report-type") != "delivery-status":
        return None
    parts = list(m.iter_parts())
    if len(parts) != 3 or parts[1].get_content_type() != "message/delivery-status":
        return None
    status = parts[1].as_string()
    return m, status, parts[2]


def field(status, name):
    f = re.findall(r"^%s: *(.*)$" % name, status, re.M)
    return f


# --- 1. EHLO and the parameter table -----------------------------------------
r = session(["EHLO c.test", "QUIT"])
check("EHLO advertises DSN", "250-DSN" in r, r)

MAIL_OK = "MAIL FROM:<alice@example.jp>"
bad_mail = ["RET=", "RET=FOO", "RET=FULL RET=HDRS", "RET", "ENVID=", "ENVID=a+2",
            "ENVID=a=b", "ENVID=a+20b", "ENVID=a+2bc", "ENVID=" + "e" * 101,
            "ENVID=a ENVID=b", "ENVID"]
bad_rcpt = ["NOTIFY=", "NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=SOMETIMES",
            "NOTIFY=SUCCESS,", "NOTIFY=,DELAY", "NOTIFY=SUCCESS NOTIFY=DELAY", "NOTIFY",
            "ORCPT=", "ORCPT=rfc822", "ORCPT=;a@b", "ORCPT=rfc822;", "ORCPT=rfc822;a+2",
            "ORCPT=rfc822;a+0Db", "ORCPT=rfc822;a=b", "ORCPT=rfc_822;a",
            "ORCPT=rfc822;" + "o" * 494, "ORCPT=rfc822;a ORCPT=rfc822;b"]
lines = ["EHLO c.test"]
for p in bad_mail:
    lines += ["%s %s" % (MAIL_OK, p), "RSET"]
lines += [MAIL_OK]
for p in bad_rcpt:
    lines += ["RCPT TO:<alice@example.jp> %s" % p]
lines += ["QUIT"]
r = session(lines, args=("--max-errors", "100"))
codes_ = [l for l in r if re.match(r"^\d{3} ", l)]
# replies: 220, 250 (EHLO), then per bad MAIL: 501 + 250 (RSET), 250 MAIL, the RCPTs
mail_replies = codes_[2:2 + 2 * len(bad_mail):2]
for p, rep in zip(bad_mail, mail_replies):
    check("MAIL ... %s -> 501 5.5.4" % p[:40], rep.startswith("501 5.5.4 Syntax: "), rep)
check("every bad MAIL answered", len(mail_replies) == len(bad_mail), r)
rcpt_replies = codes_[3 + 2 * len(bad_mail):3 + 2 * len(bad_mail) + len(bad_rcpt)]
for p, rep in zip(bad_rcpt, rcpt_replies):
    check("RCPT ... %s -> 501 5.5.4" % p[:40], rep.startswith("501 5.5.4 Syntax: "), rep)
check("every bad RCPT answered", len(rcpt_replies) == len(bad_rcpt), r)

long_orcpt = "rfc822;" + "o" * 473 + "@example.org"
line = "RCPT TO:<alice@example.jp> NOTIFY=delay,Failure ORCPT=" + long_orcpt
r = session(["EHLO c.test", MAIL_OK + " RET=hdrs ENVID=QQ+2B314", line,
             "RCPT TO:<bob@example.jp> NOTIFY=NEVER FOO=BAR", "QUIT"])
check("well-formed RET/ENVID -> 250", any(l.startswith("250 2.1.0") for l in r), r)
check("a %d-octet RCPT line with NOTIFY and a 492-octet ORCPT -> 250" % len(line),
      len(line) > 512 and any(l.startswith("250 2.1.5 Recipient <alice@") for l in r), r)
check("an unknown parameter still -> 555 5.5.4",
      any(l.startswith("555 5.5.4 Unsupported parameter") for l in r), r)
r = session(["HELO c.test", MAIL_OK + " RET=FULL", "QUIT"])
check("parameters after HELO -> 555 (as before)",
      any(l.startswith("555 5.5.4 Parameters need EHLO") for l in r), r)
r = session(["EHLO c.test", MAIL_OK + " SIZE=1000 RET=FULL ENVID=" + "+2B" * 100, "QUIT"])
check("a MAIL line with an ENVID of 100 octets as 300 of xtext -> 250",
      any(l.startswith("250 2.1.0") for l in r), r)
r = session(["EHLO c.test", MAIL_OK + " ENVID=" + "x" * 900, "QUIT"])
check("a MAIL line beyond 512 + 320 octets -> 500", any(l.startswith("500 5.5.2") for l in r),
      r)

# --- 2. expiry: NOTIFY honoured, RET, ENVID, ORCPT --------------------------------
before = maildir_msgs(ALICE)
r1 = send("alice@example.jp", [("never@dialup.example", " NOTIFY=NEVER")], "never")
check("NOTIFY=NEVER message held", accepted(r1), r1)
rc, out, err = admin("queue", "expire", "--older-than", "0s", "dialup.example")
check("expire: NOTIFY=NEVER -> no notice", rc == 0 and "no notice asked for (NOTIFY)" in out and
      new_in(ALICE, before) == [], (rc, out, err))

before = maildir_msgs(ALICE)
r1 = send("alice@example.jp",
          [("u1@dialup.example", " NOTIFY=FAILURE,DELAY ORCPT=rfc822;U1+2Bx@dialup.example")],
          "hdrs", " RET=HDRS ENVID=env+2Bid-42", body="SECRET-BODY-LINE")
check("RET=HDRS ENVID ORCPT message held", accepted(r1), r1)
rc, out, err = admin("queue", "expire", "--older-than", "0s", "dialup.example")
new = new_in(ALICE, before)
check("expire: NOTIFY=FAILURE,DELAY -> one notice", rc == 0 and len(new) == 1 and
      "returned to the sender" in out, (out, err, new))
rep = report(new[0]) if new else None
check("... a multipart/report", rep is not None, new)
if rep:
    m, st, third = rep
    check("... Action failed, Status 4.4.7", field(st, "Action") == ["failed"] and
          field(st, "Status") == ["4.4.7"], st)
    check("... Original-Envelope-Id: the ENVID decoded",
          field(st, "Original-Envelope-Id") == ["env+id-42"], st)
    check("... Original-Recipient: the ORCPT decoded",
          field(st, "Original-Recipient") == ["rfc822;U1+x@dialup.example"], st)
    body = third.as_string()
    check("RET=HDRS: the third part is text/rfc822-headers without the body",
          third.get_content_type() == "text/rfc822-headers" and "Subject: hdrs" in body and
          "SECRET-BODY-LINE" not in body, body)

before = maildir_msgs(ALICE)
send("alice@example.jp", ["u2@dialup.example"], "full", " RET=FULL", body="FULL-BODY-LINE")
admin("queue", "expire", "--older-than", "0s", "dialup.example")
new = new_in(ALICE, before)
rep = report(new[0]) if len(new) == 1 else None
check("no NOTIFY (= FAILURE,DELAY): a notice", rep is not None, new)
if rep:
    third = rep[2]
    check("RET=FULL: message/rfc822 with the body",
          third.get_content_type() == "message/rfc822" and
          "FULL-BODY-LINE" in third.as_string(), third.as_string()[:500])

# NOTIFY=FAILURE only: no delay warning for a 5 h old outbound message
relay = ["--relay-clients", "127.0.0.1/32"]
r = send("alice@example.jp", [("carol@remote.example", " NOTIFY=FAILURE")], "nodelay",
         peer="127.0.0.1", args=relay)
ob = queue_ids(spool, "outbound")
check("an outbound message queued", accepted(r) and len(ob) == 1, r)
for i in ob:
    p = os.path.join(spool, "outbound", "env", i)
    t = open(p).read()
    check("the envelope keeps NOTIFY", "\ndsn FAILURE -\n" in t, t)
    open(p, "w").write(re.sub(r"^arrival \d+$", "arrival %d" % int(time.time() - 5 * 3600),
                              t, flags=re.M))
before = maildir_msgs(ALICE)
rc, out, err = admin("queue", "expire")
check("NOTIFY=FAILURE: no delay warning at 5 h", rc == 0 and not re.search(r"^warned ", out, re.M) and
      new_in(ALICE, before) == [], (out, err))
for i in ob:
    admin("queue", "remove", i)

# --- 3. success on local delivery ---------------------------------------------------
before_a, before_b = maildir_msgs(ALICE), maildir_msgs(BOB)
r = send("alice@example.jp", [("bob@example.jp", " NOTIFY=SUCCESS ORCPT=rfc822;bob@example.jp")],
         "success", " ENVID=ok1", body="SUCCESS-BODY")
check("NOTIFY=SUCCESS to a local user: 250", accepted(r), r)
check("... delivered to bob", len(new_in(BOB, before_b)) == 1)
new = new_in(ALICE, before_a)
check("... one notice in the local sender's maildir", len(new) == 1, new)
rep = report(new[0]) if new else None
check("... a multipart/report (Python's email package)", rep is not None)
if rep:
    m, st, third = rep
    check("... Action delivered, Status 2.0.0, Final-Recipient bob",
          field(st, "Action") == ["delivered"] and field(st, "Status") == ["2.0.0"] and
          field(st, "Final-Recipient") == ["rfc822; bob@example.jp"], st)
    check("... ENVID and ORCPT reported", field(st, "Original-Envelope-Id") == ["ok1"] and
          field(st, "Original-Recipient") == ["rfc822;bob@example.jp"], st)
    h3 = third.as_string()
    check("... the original's header, not its body, not our trace lines",
          third.get_content_type() == "text/rfc822-headers" and "Subject: success" in h3 and
          "SUCCESS-BODY" not in h3 and "Delivered-To:" not in h3 and
          "Return-Path:" not in h3, h3)
    check("... from <> (Return-Path)", open(new[0], "rb").read().startswith(b"Return-Path: <>"))

before_a = maildir_msgs(ALICE)
r = send("alice@example.jp", [("bob@example.jp", " NOTIFY=FAILURE")], "nosuccess")
check("without NOTIFY=SUCCESS: no success notice", accepted(r) and new_in(ALICE, before_a) == [])

r = send("dave@remote.example", [("bob@example.jp", " NOTIFY=SUCCESS")], "remote")
ob = queue_ids(spool, "outbound")
envs = [read_env(spool, "outbound", i) for i in ob]
check("a remote sender's success notice goes to the outbound queue, from <>",
      accepted(r) and len(envs) == 1 and envs[0]["sender"] == "<>" and
      envs[0]["rcpt"] == ["P dave@remote.example"], (r, envs))
if ob:
    with open(os.path.join(spool, "outbound", "msg", ob[0]), "rb") as f:
        t = f.read().decode("utf-8", "replace")
    check("... Action: delivered", "\nAction: delivered\n" in t, t[:800])
    admin("queue", "remove", ob[0])

# --- 4. relayed: a next hop without DSN, and one with DSN ------------------------
before_a = maildir_msgs(ALICE)
r = send("alice@example.jp", [("s1@dialup.example", " NOTIFY=SUCCESS,FAILURE"),
                              ("s2@dialup.example", "")], "relay1", " RET=HDRS ENVID=r1")
check("held for a next hop without DSN", accepted(r), r)
rc, out, err = admin("queue", "flush", "dialup.example")
msgs = sink_messages(sinkdir)
check("flushed to the sink without DSN", rc == 0 and len(msgs) == 1 and
      sorted(msgs[0]["rcpt"]) == ["s1@dialup.example", "s2@dialup.example"], (rc, out, err, msgs))
log = open(os.path.join(sinkdir, "commands.log")).read()
check("... no DSN parameter sent to it", "NOTIFY=" not in log and "RET=" not in log and
      "ENVID=" not in log, log)
new = new_in(ALICE, before_a)
rep = report(new[0]) if len(new) == 1 else None
check("a relayed notice in the sender's maildir", rep is not None, new)
if rep:
    st = rep[1]
    check("... Action relayed for s1 only, Status 2.0.0",
          field(st, "Action") == ["relayed"] and field(st, "Status") == ["2.0.0"] and
          field(st, "Final-Recipient") == ["rfc822; s1@dialup.example"], st)
    check("... ENVID reported", field(st, "Original-Envelope-Id") == ["r1"], st)

before_a = maildir_msgs(ALICE)
r = send("alice@example.jp",
         [("t1@dsnhop.example", " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;T1+2Bx@dsnhop.example"),
          ("t2@dsnhop.example", " NOTIFY=NEVER")], "relay2", " RET=HDRS ENVID=QQ+2B314")
check("held for a next hop with DSN", accepted(r), r)
rc, out, err = admin("queue", "flush", "dsnhop.example")
msgs = sink_messages(sink2dir)
check("flushed to the sink with DSN", rc == 0 and len(msgs) == 1, (rc, out, err, msgs))
log = open(os.path.join(sink2dir, "commands.log")).read()
check("MAIL carries RET and ENVID verbatim",
      "MAIL FROM:<alice@example.jp> SIZE=" in log and
      re.search(r"^MAIL FROM:<alice@example\.jp> .*RET=HDRS ENVID=QQ\+2B314$", log, re.M), log)
check("RCPT carries NOTIFY and ORCPT verbatim",
      "RCPT TO:<t1@dsnhop.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;T1+2Bx@dsnhop.example\n"
      in log and "RCPT TO:<t2@dsnhop.example> NOTIFY=NEVER\n" in log, log)
check("no relayed notice (the next hop takes NOTIFY on)", new_in(ALICE, before_a) == [],
      new_in(ALICE, before_a))

# --- 5. a next hop's 5xx for NOTIFY=NEVER: no bounce -------------------------------
with open(replies, "w") as f:
    f.write("rcpt * 550 5.1.1 no such user\n")
before_a = maildir_msgs(ALICE)
r = send("alice@example.jp", [("n1@dialup.example", " NOTIFY=NEVER")], "refused-never")
rc, out, err = admin("queue", "flush", "dialup.example")
check("refused, NOTIFY=NEVER: no bounce, the message is gone",
      accepted(r) and new_in(ALICE, before_a) == [] and queue_ids(spool, HOLD) == [],
      (out, err, queue_ids(spool, HOLD)))
r = send("alice@example.jp", [("n2@dialup.example", "")], "refused")
rc, out, err = admin("queue", "flush", "dialup.example")
new = new_in(ALICE, before_a)
rep = report(new[0]) if len(new) == 1 else None
check("refused, no NOTIFY: a bounce (Action failed, 5.1.1)",
      rep is not None and field(rep[1], "Action") == ["failed"] and
      field(rep[1], "Status") == ["5.1.1"], new)
os.unlink(replies)

# --- 6. etrn-client --push to a relay with DSN ------------------------------------
ETRN_RUN = reachable_copy(ETRN)      # run as the spool's owner
before_a = maildir_msgs(ALICE)
r = send("alice@example.jp", [("p1@remote.example", " NOTIFY=SUCCESS ORCPT=rfc822;p1@remote.example")],
         "push", " RET=FULL ENVID=push1", peer="127.0.0.1", args=relay)
check("an outbound message with DSN parameters queued", accepted(r), r)
p = subprocess.run([ETRN_RUN, "--port", str(port2), "--push", spool, "--users", users,
                    "127.0.0.1", "dialup.example"], capture_output=True, text=True, timeout=60,
                   preexec_fn=as_service)
log = open(os.path.join(sink2dir, "commands.log")).read()
check("push -> 0, the queue empty", p.returncode == 0 and queue_ids(spool, "outbound") == [],
      (p.returncode, p.stdout, p.stderr))
check("push: MAIL and RCPT carry the parameters verbatim",
      re.search(r"^MAIL FROM:<alice@example\.jp> .*RET=FULL ENVID=push1$", log, re.M) and
      "RCPT TO:<p1@remote.example> NOTIFY=SUCCESS ORCPT=rfc822;p1@remote.example\n" in log, log)
check("push: no relayed notice", new_in(ALICE, before_a) == [])
summary()
