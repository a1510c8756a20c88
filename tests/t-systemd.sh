#!/usr/bin/env bash
# tests/t-systemd.sh - the shipped units under a booted systemd, the way
# the README's "Running it for real" tells an administrator to run them.
#
# A minimal Debian 12 root (scripts/rootfs) gets the checkout's tracked
# files at /root/postern; in a chroot of it (host network, the host's
# /etc/apt read-only, in a private mount namespace) the build packages and
# the test clients are installed and postern is built. Then the root is
# booted with systemd-nspawn -b --private-network (systemd 252 as PID 1,
# only a loopback: the standard ports are free) and, inside, through
# nsenter: make install PREFIX=/usr, systemd-sysusers, systemd-tmpfiles,
# a database made with mailbox-admin, a certificate, the five sockets
# enabled, an etrn.conf. Real clients inside the container (swaks, curl,
# python3 smtplib/socket) then check: SMTP on 25 with STARTTLS into a
# maildir owned by the service user, submission on 587 (AUTH after
# STARTTLS) into the outbound queue, 465, POP3 on 110 (STLS) and 995, the
# session fields in `journalctl -o json` under each instance unit, STARTTLS
# gone (and the reason in the journal) with the certificate removed,
# MaxConnectionsPerSource, a permitted ETRN whose detached flusher delivers
# after the session's unit ended (and the unit is then collected),
# postern-etrn.service pushing the outbound queue to a relay, the timer,
# postern-etrn.service in ATRN mode (ETRN_MODE=atrn) collecting held mail
# from an smtp-handler --odmr provider into a local maildir, and the
# `systemd-analyze security` figures the README quotes.
#
# Prints how long each stage took. Everything is stopped (by PID) and
# removed (by path) on exit. Needs root, systemd-nspawn (systemd-container)
# and mmdebstrap (scripts/deps fresh), and the network for apt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-nspawn.sh"

PORT_HOLD=2526		# recording sink: the hold domain's registered host
PORT_RELAY=2527		# recording sink: the relay postern-etrn.service talks to
PORT_ODMR=2528		# ATRN stage: the provider's smtp-handler --odmr
PORT_PROV=2529		# ATRN stage: the provider's SMTP port that holds the mail
PW=t-systemd-secret
# The clients the checks use. libc6-dev: gcc only recommends it, and
# scripts/deps installs without recommends (issue 14, item 1).
CLIENTS="libc6-dev swaks libnet-ssleay-perl libauthen-sasl-perl curl openssl python3 ca-certificates"

nspawn_preflight "booted systemd"

# ---------------------------------------------------------------------
stage rootfs
nspawn_rootfs systemd

# ---------------------------------------------------------------------
stage "chroot: packages and build"
nspawn_chroot_stage t-systemd-chroot.sh "$CLIENTS" \
	"chroot: scripts/deps build, clients installed, make all" \
	"chroot: scripts/deps build, clients installed, make all" 8 <<'EOF'
scripts/deps build
t "scripts/deps build"
make -j2 all >/dev/null
t "make all"
EOF

# ---------------------------------------------------------------------
stage boot
nspawn_boot

# ---------------------------------------------------------------------
stage "install and configure (README: Running it for real)"
incheck "make install PREFIX=/usr, systemd-sysusers, systemd-tmpfiles --create" \
	sh -ec 'cd /root/postern && make install PREFIX=/usr >/dev/null
		systemctl daemon-reload
		systemd-sysusers
		systemd-tmpfiles --create
		id postern
		test "$(stat -c %U:%G:%a /var/spool/postern)" = postern:postern:750
		test "$(stat -c %U:%G:%a /etc/postern)" = root:postern:750'
incheck "database made with mailbox-admin" sh -ec "
	mailbox-admin domain add example.org
	echo $PW | mailbox-admin add alice@example.org --password-stdin
	mailbox-admin alias add postmaster@example.org alice@example.org
	mailbox-admin domain add dialup.example --hold --host 127.0.0.1:$PORT_HOLD --etrn-from 127.0.0.0/8
	test -s /etc/postern/users.cdb
	mailbox-admin domain list"
incheck "certificate and root-only key (0600) in /etc/postern" sh -ec '
	cd /etc/postern
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout tls.key -out tls.crt -days 2 -subj /CN=mail.example.org \
		-addext subjectAltName=DNS:mail.example.org 2>/dev/null
	chown root:root tls.key tls.crt
	chmod 0600 tls.key
	chmod 0644 tls.crt
	test "$(stat -c %U:%a tls.key)" = root:600'
incheck "systemctl enable --now the five sockets" sh -ec '
	systemctl enable --now postern-pop3.socket postern-pop3s.socket \
		postern-smtp.socket postern-submission.socket postern-submissions.socket 2>&1
	for s in pop3 pop3s smtp submission submissions; do
		test "$(systemctl is-active postern-$s.socket)" = active
		test "$(systemctl is-enabled postern-$s.socket)" = enabled
	done'
inpy "ports 25, 110, 465, 587, 995 listen" <<'EOF'
import socket
for p in (25, 110, 465, 587, 995):
    s = socket.create_connection(("127.0.0.1", p), 5); s.close()
EOF

# ---------------------------------------------------------------------
stage "SMTP and POP3 sessions"
incheck "SMTP 25: STARTTLS delivery into alice's maildir" \
	swaks --server 127.0.0.1:25 --tls --helo client.example --from bob@example.net \
	--to alice@example.org --header "Subject: via 25" --body "marker-port-25"
incheck "maildir owned by the service user, message in new/" sh -ec '
	d=/var/lib/postern/mail/example.org/alice
	test "$(stat -c %U "$d")" = postern
	f=$(grep -l marker-port-25 "$d"/new/*)
	test "$(stat -c %U "$f")" = postern
	echo "$f"'
inpy "submission 587 before STARTTLS: no AUTH offered, MAIL refused" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", 587, timeout=10)
s.ehlo("client.example")
if s.has_extn("auth") or not s.has_extn("starttls"):
    sys.exit("EHLO before STARTTLS: %r" % s.esmtp_features)
code, msg = s.mail("alice@example.org")
s.quit()
if code != 530:
    sys.exit("MAIL before STARTTLS answered %d %s" % (code, msg))
print("MAIL before STARTTLS:", code, msg.decode())
EOF
incheck "submission 587: STARTTLS + AUTH, into the outbound queue" \
	swaks --server 127.0.0.1:587 --tls --auth-user alice@example.org --auth-password "$PW" \
	--from alice@example.org --to someone@remote.example \
	--header "Subject: via 587" --body "marker-port-587"
incheck "the submission is queued (outbound)" sh -ec '
	grep -l marker-port-587 /var/spool/postern/outbound/msg/*
	mailbox-admin queue list | grep someone@remote.example'
incheck "SMTPS 465: AUTH, delivery" \
	swaks --server 127.0.0.1:465 --tlsc --auth-user alice@example.org --auth-password "$PW" \
	--from alice@example.org --to postmaster@example.org \
	--header "Subject: via 465" --body "marker-port-465"
incheck "POP3 110 STLS: two messages listed, the port-25 one retrieved" sh -ec "
	test \"\$(curl -sSk --ssl-reqd pop3://127.0.0.1:110/ -u alice@example.org:$PW | wc -l)\" = 2
	curl -sSk --ssl-reqd pop3://127.0.0.1:110/1 -u alice@example.org:$PW > /tmp/m1
	curl -sSk --ssl-reqd pop3://127.0.0.1:110/2 -u alice@example.org:$PW > /tmp/m2
	cat /tmp/m1 /tmp/m2 | grep -q marker-port-25"
incheck "POP3S 995: the port-465 message retrieved" sh -ec "
	{ curl -sSk pop3s://127.0.0.1:995/1 -u alice@example.org:$PW
	  curl -sSk pop3s://127.0.0.1:995/2 -u alice@example.org:$PW; } | grep -q marker-port-465"

# ---------------------------------------------------------------------
stage journal
cin journalctl --sync 2>/dev/null
inpy "journal: each session's fields under its instance unit" <<'EOF'
import json, re, subprocess, sys
out = subprocess.run(["journalctl", "-o", "json", "--no-pager"],
                     capture_output=True, text=True, check=True).stdout
ents = [json.loads(l) for l in out.splitlines() if l.strip()]
sess = [e for e in ents if "RESULT" in e]
need = {"smtp": 25, "submission": 587, "submissions": 465, "pop3": 110, "pop3s": 995}
bad = []
for name, port in need.items():
    pat = re.compile(r"^postern-%s@\d+-127\.0\.0\.1:%d-127\.0\.0\.1:\d+\.service$" % (name, port))
    mine = [e for e in sess if pat.match(e.get("_SYSTEMD_UNIT", ""))]
    if not mine:
        bad.append("%s: no session entry (units seen: %s)" % (name,
                   sorted({e.get("_SYSTEMD_UNIT") for e in sess})))
        continue
    tls = [e for e in mine if e.get("TLS_VERSION", "-").startswith("TLS")]
    users = [e for e in tls if e.get("USER") == "alice@example.org"]
    if not tls:
        bad.append("%s: no session with TLS_VERSION" % name)
    if name != "smtp" and not users:
        bad.append("%s: no TLS session with USER=alice@example.org" % name)
    for k in ("REMOTE_ADDR", "USER", "TLS_VERSION", "TLS_CIPHER", "RESULT", "DURATION_MS"):
        if any(k not in e for e in mine):
            bad.append("%s: an entry lacks %s" % (name, k))
    e = (users or tls or mine)[-1]
    print("%-12s %s USER=%s TLS_VERSION=%s RESULT=%s" % (name, e["_SYSTEMD_UNIT"],
          e.get("USER"), e.get("TLS_VERSION"), e.get("RESULT")))
if bad:
    print("\n".join(bad)); sys.exit(1)
EOF

# ---------------------------------------------------------------------
stage "certificate removed"
cin mv /etc/postern/tls.crt /etc/postern/tls.crt.off
inpy "no certificate: STARTTLS not offered on 25, the journal says why" <<'EOF'
import json, smtplib, subprocess, sys, time
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
port = s.sock.getsockname()[1]
s.ehlo("client.example")
offered = s.has_extn("starttls")
s.quit()
if offered:
    sys.exit("STARTTLS offered without a certificate")
unit_end = "-127.0.0.1:%d.service" % port
for _ in range(50):
    subprocess.run(["journalctl", "--sync"])
    out = subprocess.run(["journalctl", "-o", "json", "--no-pager"],
                         capture_output=True, text=True).stdout
    msgs = [json.loads(l) for l in out.splitlines() if l.strip()]
    msgs = [e.get("MESSAGE", "") for e in msgs
            if e.get("_SYSTEMD_UNIT", "").startswith("postern-smtp@")
            and e.get("_SYSTEMD_UNIT", "").endswith(unit_end)]
    why = [m for m in msgs if isinstance(m, str) and "TLS" in m and "cert" in m.lower()]
    if why:
        print(why[0]); break
    time.sleep(0.2)
else:
    sys.exit("no reason in the journal; the session logged: %r" % msgs)
EOF
inpy "no certificate: POP3S 995 closes at once" <<'EOF'
import socket, ssl, sys
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
try:
    with c.wrap_socket(socket.create_connection(("127.0.0.1", 995), 10)) as s:
        sys.exit("TLS handshake succeeded without a certificate")
except (ssl.SSLError, ConnectionError, OSError) as e:
    print("handshake refused:", type(e).__name__)
EOF
cin mv /etc/postern/tls.crt.off /etc/postern/tls.crt
incheck "certificate back: STARTTLS offered again" sh -c \
	'swaks --server 127.0.0.1:25 --quit-after EHLO 2>&1 | grep -q "250.STARTTLS"'

# ---------------------------------------------------------------------
stage MaxConnectionsPerSource
inpy "postern-pop3.socket: MaxConnectionsPerSource=8 holds, other sources served" <<'EOF'
import socket, subprocess, sys
lim = int(subprocess.run(["systemctl", "show", "-P", "MaxConnectionsPerSource",
                          "postern-pop3.socket"], capture_output=True, text=True).stdout)
held = []
for i in range(lim):
    s = socket.create_connection(("127.0.0.1", 110), 10)
    s.settimeout(10)
    if not s.recv(200).startswith(b"+OK"):
        sys.exit("connection %d: no greeting" % (i + 1))
    held.append(s)
x = socket.create_connection(("127.0.0.1", 110), 10)
x.settimeout(10)
try:
    extra = x.recv(200)
except ConnectionResetError:
    extra = b""
if extra != b"":
    sys.exit("connection %d from the same source was served: %r" % (lim + 1, extra))
y = socket.socket()
y.bind(("127.0.0.2", 0))
y.settimeout(10)
y.connect(("127.0.0.1", 110))
if not y.recv(200).startswith(b"+OK"):
    sys.exit("another source address was refused")
for s in held + [x, y]:
    s.close()
state = subprocess.run(["systemctl", "is-active", "postern-pop3.socket"],
                       capture_output=True, text=True).stdout.strip()
if state != "active":
    sys.exit("socket %s afterwards" % state)
print("%d held, connection %d closed at once, 127.0.0.2 served" % (lim, lim + 1))
EOF

# ---------------------------------------------------------------------
stage "ETRN: detached flusher"
# The sink holds its reply after the data for 4 s: the flusher is then
# still at work while the ETRN session is over.
incheck "recording sink for the hold domain (127.0.0.1:$PORT_HOLD)" sh -ec "
	mkdir -p /var/tmp/holdsink
	echo 'delay 4' > /var/tmp/holdsink.replies
	systemd-run -q --unit=t-holdsink python3 /root/postern/tests/sinksmtp.py \
		--port $PORT_HOLD --dir /var/tmp/holdsink --replies /var/tmp/holdsink.replies
	for i in \$(seq 1 50); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $PORT_HOLD), 1)' 2>/dev/null && exit 0; sleep 0.1; done
	exit 1"
incheck "mail for the hold domain is held" sh -ec '
	swaks --server 127.0.0.1:25 --tls --from bob@example.net --to carol@dialup.example \
		--header "Subject: held" --body marker-held >/dev/null
	grep -l marker-held /var/spool/postern/hold/dialup.example/msg/*'
inpy "permitted ETRN: flusher outlives the session unit, delivers, unit collected" <<'EOF'
import glob, json, os, smtplib, subprocess, sys, time
def sh(*a):
    return subprocess.run(a, capture_output=True, text=True).stdout
def session_units():
    return [l.split()[0] for l in sh("systemctl", "list-units", "--all", "--plain",
            "--no-legend", "postern-smtp@*").splitlines() if l.strip()]
def handlers():
    # [pid, ppid] of every smtp-handler process (no ps in a minimal root)
    r = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = open("/proc/%s/status" % p).read()
        except OSError:
            continue
        f = dict(l.split(":\t", 1) for l in st.splitlines() if ":\t" in l)
        if f.get("Name") == "smtp-handler":
            r.append([p, f.get("PPid", "?")])
    return r
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
port = s.sock.getsockname()[1]
s.ehlo("site.dialup.example")
code, msg = s.docmd("ETRN", "dialup.example")
s.quit()
if code not in (250, 251, 252, 253):
    sys.exit("ETRN answered %d %s" % (code, msg))
print("ETRN:", code, msg.decode())
unit = [u for u in session_units() if u.endswith("-127.0.0.1:%d.service" % port)]
# The session's process ends at QUIT; the flusher runs on.
t_end = time.time() + 3
while time.time() < t_end:
    unit = [u for u in session_units() if u.endswith("-127.0.0.1:%d.service" % port)]
    main = [sh("systemctl", "show", "-P", "MainPID", u).strip() for u in unit]
    if all(m in ("", "0") for m in main):
        break
    time.sleep(0.1)
else:
    sys.exit("the ETRN session's process did not end: %s" % unit)
fl = handlers()
if not fl:
    sys.exit("no flusher running after the session ended")
if glob.glob("/var/tmp/holdsink/msg-*.eml"):
    sys.exit("delivered before the session ended (sink delay too short?)")
print("session unit %s: main process gone; flusher pid %s (ppid %s) alive" %
      (unit[0] if unit else "(already collected)", fl[0][0], fl[0][1]))
t_end = time.time() + 60
while time.time() < t_end and not glob.glob("/var/tmp/holdsink/msg-*.json"):
    time.sleep(0.2)
got = sorted(glob.glob("/var/tmp/holdsink/msg-*.json"))
if not got:
    sys.exit("the flusher delivered nothing within 60 s")
j = json.load(open(got[0]))
body = open(got[0][:-5] + ".eml", "rb").read()
if j["rcpt"] != ["carol@dialup.example"] or b"marker-held" not in body:
    sys.exit("sink got %r" % j)
print("sink got the held message for", j["rcpt"])
t_end = time.time() + 30
while time.time() < t_end and (session_units() or handlers()):
    time.sleep(0.2)
if session_units() or handlers():
    sys.exit("left over: units %s, processes %s" % (session_units(), handlers()))
left = glob.glob("/var/spool/postern/hold/dialup.example/msg/*")
if left:
    sys.exit("hold queue not empty: %s" % left)
print("no postern-smtp@ unit, no flusher left; hold queue empty")
EOF
cin systemctl stop t-holdsink.service

# ---------------------------------------------------------------------
stage "postern-etrn.service and timer"
# The relay: a sink with STARTTLS and its own certificate for relay.test,
# which etrn-client verifies against the CA file named in etrn.conf.
incheck "relay sink with STARTTLS (relay.test:$PORT_RELAY) and etrn.conf" sh -ec "
	cd /etc/postern
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout /root/relay.key -out relay-ca.pem -days 2 -subj /CN=relay.test \
		-addext subjectAltName=DNS:relay.test 2>/dev/null
	chmod 0644 relay-ca.pem
	echo '127.0.0.1 relay.test' >> /etc/hosts
	mkdir -p /var/tmp/relaysink
	systemd-run -q --unit=t-relaysink python3 /root/postern/tests/sinksmtp.py \
		--port $PORT_RELAY --dir /var/tmp/relaysink --cert /etc/postern/relay-ca.pem --key /root/relay.key
	cat > /etc/postern/etrn.conf <<X
ETRN_HOST=relay.test
ETRN_NODES=\"example.org\"
ETRN_OPTS=\"--port $PORT_RELAY --tls starttls --ca /etc/postern/relay-ca.pem --push /var/spool/postern --linger 0\"
X
	for i in \$(seq 1 50); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $PORT_RELAY), 1)' 2>/dev/null && exit 0; sleep 0.1; done
	exit 1"
incheck "systemctl start postern-etrn.service succeeds" systemctl start postern-etrn.service
incheck "the relay got the queued submission over TLS, and ETRN example.org" sh -ec '
	f=$(grep -l marker-port-587 /var/tmp/relaysink/msg-*.eml)
	python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j[\"tls\"] and j[\"rcpt\"]==[\"someone@remote.example\"], j" "${f%.eml}.json"
	grep -qx example.org /var/tmp/relaysink/etrn.log'
incheck "the outbound queue is empty afterwards" sh -ec '
	! ls /var/spool/postern/outbound/msg/* 2>/dev/null | grep -q .'
incheck "etrn-client's output in the journal of postern-etrn.service" sh -ec '
	journalctl --sync
	journalctl -u postern-etrn.service -o cat --no-pager | grep example.org'
incheck "systemctl enable --now postern-etrn.timer: active, next run scheduled" sh -ec '
	systemctl enable --now postern-etrn.timer 2>&1
	test "$(systemctl is-active postern-etrn.timer)" = active
	n=$(systemctl show -P NextElapseUSecRealtime postern-etrn.timer)
	test -n "$n"; echo "next: $n"'
cin systemctl stop t-relaysink.service

# ---------------------------------------------------------------------
stage "postern-etrn.service in ATRN mode"
# The provider: smtp-handler --odmr (and a plain smtp-handler that holds
# the mail) with its own database and spool under /var/tmp/odmrprov,
# served per connection by systemd-socket-activate in transient units;
# AUTH (password) on the ODMR port, anonymous on the SMTP port.
# The site: the installed system, atrn.example a local domain there;
# etrn.conf switched to ETRN_MODE=atrn, the timer stopped meanwhile.
incheck "timer stopped for the stage, ETRN etrn.conf kept aside" sh -ec '
	systemctl stop postern-etrn.timer
	cp -p /etc/postern/etrn.conf /root/etrn.conf.etrn'
incheck "provider database and spool: atrn.example held for siteuser" sh -ec "
	P=/var/tmp/odmrprov
	mkdir -p \$P/spool
	A=\"--db \$P/users --spool \$P/spool --mail-root \$P/mail\"
	mailbox-admin \$A domain add isp.example
	echo $PW-isp | mailbox-admin \$A add siteuser@isp.example --password-stdin
	mailbox-admin \$A domain add atrn.example --hold --odmr siteuser@isp.example
	grep -q 'odmr=siteuser@isp.example' \$P/users"
incheck "provider: ODMR on 127.0.0.1:$PORT_ODMR, SMTP on 127.0.0.1:$PORT_PROV" sh -ec "
	P=/var/tmp/odmrprov
	H='/usr/libexec/postern/smtp-handler --allow-root --users '\$P/users.cdb' --spool '\$P/spool' --hostname mx.isp.test --auth-delay 0'
	systemd-run -q --unit=t-odmrprov systemd-socket-activate -l 127.0.0.1:$PORT_ODMR -a --inetd \$H --auth password --odmr
	systemd-run -q --unit=t-provsmtp systemd-socket-activate -l 127.0.0.1:$PORT_PROV -a --inetd \$H
	for p in $PORT_ODMR $PORT_PROV; do
		for i in \$(seq 1 50); do python3 -c 'import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), 1)' \$p 2>/dev/null && continue 2; sleep 0.1; done
		exit 1
	done"
inpy "three messages for atrn.example held by the provider" <<EOF
import glob, smtplib, sys
s = smtplib.SMTP("127.0.0.1", $PORT_PROV, timeout=10)
s.ehlo("client.example")
for i in range(3):
    s.sendmail("bob@example.net", ["dora@atrn.example"],
               "Subject: atrn %d\r\nMessage-ID: <atrn-%d@t-systemd>\r\n\r\nmarker-atrn-%d\r\n" % (i, i, i))
s.quit()
held = glob.glob("/var/tmp/odmrprov/spool/hold/atrn.example/msg/*")
if len(held) != 3:
    sys.exit("hold queue: %r" % held)
print("%d held" % len(held))
EOF
incheck "site: atrn.example a local domain, dora's maildir; ATRN etrn.conf" sh -ec "
	mailbox-admin domain add atrn.example
	echo $PW | mailbox-admin add dora@atrn.example --password-stdin
	echo $PW-isp > /etc/postern/atrn.password
	chown root:postern /etc/postern/atrn.password
	chmod 0640 /etc/postern/atrn.password
	cat > /etc/postern/etrn.conf <<X
ETRN_MODE=atrn
ETRN_HOST=127.0.0.1
ETRN_NODES=atrn.example
ETRN_OPTS=\"--port $PORT_ODMR --tls none --timeout 30 --auth-user siteuser@isp.example --auth-password-file /etc/postern/atrn.password\"
ATRN_HANDLER_OPTS=\"--spool /var/spool/postern --hostname site.atrn.example\"
X"
incheck "systemctl start postern-etrn.service (ATRN) succeeds" systemctl start postern-etrn.service
inpy "the held messages in dora's maildir (owned by postern), once each; hold queue empty" <<'EOF'
import glob, os, pwd, re, sys
d = "/var/lib/postern/mail/atrn.example/dora"
files = glob.glob(d + "/new/*") + glob.glob(d + "/cur/*")
ids = []
for f in files:
    if pwd.getpwuid(os.stat(f).st_uid).pw_name != "postern":
        sys.exit("%s not owned by postern" % f)
    m = re.search(rb"^Message-ID: (<[^>]*>)", open(f, "rb").read(), re.M | re.I)
    ids.append(m.group(1).decode() if m else "(none)")
want = ["<atrn-%d@t-systemd>" % i for i in range(3)]
if sorted(ids) != want:
    sys.exit("maildir Message-IDs %r, want %r" % (sorted(ids), want))
left = glob.glob("/var/tmp/odmrprov/spool/hold/atrn.example/msg/*")
if left:
    sys.exit("provider's hold queue not empty: %r" % left)
print("maildir:", " ".join(sorted(ids)), "- hold queue empty")
EOF
incheck "the journal of postern-etrn.service: ATRN atrn.example 250" sh -ec '
	journalctl --sync
	journalctl -u postern-etrn.service -o cat --no-pager | grep "^atrn.example: 250"'
incheck "a second start succeeds: 453, nothing waiting, nothing delivered twice" sh -ec '
	systemctl start postern-etrn.service
	journalctl --sync
	journalctl -u postern-etrn.service -o cat --no-pager | grep "^atrn.example: 453"
	test "$(find /var/lib/postern/mail/atrn.example/dora/new /var/lib/postern/mail/atrn.example/dora/cur -type f | wc -l)" = 3'
cin systemctl stop t-odmrprov.service t-provsmtp.service
incheck "ETRN etrn.conf restored, timer started again" sh -ec '
	mv /root/etrn.conf.etrn /etc/postern/etrn.conf
	systemctl start postern-etrn.timer
	test "$(systemctl is-active postern-etrn.timer)" = active'

# ---------------------------------------------------------------------
stage "systemd-analyze security"
# The figures quoted in the README of the checkout under test.
readme=$R/root/postern/README.md
readme_pop3=$(tr '\n' ' ' < "$readme" | grep -o 'rates the POP3 *services [0-9.]*' | grep -o '[0-9.]*$')
readme_smtp=$(tr '\n' ' ' < "$readme" | grep -o 'the SMTP and ETRN *services [0-9.]*' | grep -o '[0-9.]*$')
for u in pop3@ pop3s@ smtp@ submission@ submissions@ etrn; do
	case $u in pop3*) want=$readme_pop3 ;; *) want=$readme_smtp ;; esac
	unit=postern-$u.service
	# the real manager's figure for a loaded instance (online), and the
	# offline figure the README quotes, for the installed file
	inst=${unit/@./@t.}
	on=$(cin systemd-analyze security --no-pager "$inst" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	off=$(cin systemd-analyze security --no-pager --offline=true "/usr/lib/systemd/system/$unit" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -n "$want" ] && [ "$on" = "$want" ] && [ "$off" = "$want" ]; then
		pass "security $unit: $on (README: $want)"
	else
		fail "security $unit" "manager '$on', offline '$off', README '$want'"
	fi
done

# ---------------------------------------------------------------------
stage "units healthy at the end"
incheck "no failed postern unit" sh -ec '
	f=$(systemctl list-units --failed --all --plain --no-legend "postern-*")
	[ -z "$f" ] || { echo "$f"; exit 1; }'

inpy "the manager's warnings: none about the unit files" <<'EOF'
import json, subprocess, sys
out = subprocess.run(["journalctl", "-o", "json", "--no-pager", "_PID=1", "-p", "warning"],
                     capture_output=True, text=True).stdout
msgs = [json.loads(l).get("MESSAGE", "") for l in out.splitlines() if l.strip()]
mine = [m for m in msgs if isinstance(m, str) and "postern" in m]
seen = {}
for m in mine:
    k = m.split(":", 1)[-1].strip()[:100]
    seen[k] = seen.get(k, 0) + 1
for k, n in seen.items():
    print("PID 1 warned (%dx): %s" % (n, k))
bad = [m for m in mine if "/systemd/system/postern" in m]
if bad:
    print("\n".join(bad)); sys.exit(1)
EOF

stage shutdown
nspawn_shutdown
stage end
echo "t-systemd total: $(( $(date +%s) - _t0 )) s"
summary
