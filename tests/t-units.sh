#!/usr/bin/env bash
# tests/t-units.sh - the shipped units and xinetd services:
#  - `systemd-analyze verify --man=no` on copies of every unit whose
#    ExecStart= names the built binary (any stderr output or a non-zero
#    exit is a failure; a program not built yet is a SKIP);
#  - `systemd-analyze security --offline=true`: exposure printed per
#    service and checked against a threshold;
#  - sysusers.d and tmpfiles.d snippets applied to an empty root (postern
#    in no group mail, the mail root /var/lib/postern/mail 0700 postern);
#  - no unit may write /var/mail, each one that touches mail the mail root;
#  - `make install` substitutes @PREFIX@ everywhere;
#  - each xinetd file, on a test copy (loopback, high port, enabled), is
#    accepted by xinetd and serves a greeting.
. "$(dirname "$0")/lib.sh"

EXPOSURE_MAX=2.5	# "OK" on systemd's scale is below 4.0; we aim lower
U=$T/units
mkdir -p "$U"

bin_for() {
	case $1 in
	postern-pop3*) echo "$POP3" ;;
	postern-smtp*|postern-submission*|postern-odmr*) echo "$SMTP" ;;
	postern-etrn*) echo "$ETRN" ;;
	postern-queue*) echo "$ADMIN" ;;
	esac
}

# unit_copy SRC DEST BIN: the unit with ExecStart= pointed at BIN.
unit_copy() {
	sed -e "s|@PREFIX@/libexec/postern/[a-z0-9-]*|$3|" \
	    -e "s|@PREFIX@/sbin/[a-z0-9-]*|$3|" "$1" > "$2"
}

# verify NAME FILES...: run in $U; stderr must be empty, exit 0.
verify() {
	local name=$1 err rc
	shift
	err=$(cd "$U" && systemd-analyze verify --man=no "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$err" ]; then
		pass "verify $name"
	else
		fail "verify $name" "exit $rc: $(echo "$err" | head -n 5 | tr '\n' ' ')"
	fi
}

if ! command -v systemd-analyze >/dev/null; then
	skip "systemd units" "systemd-analyze not installed"
else
	# Services (with their sockets)
	for f in "$top"/units/*.service; do
		name=${f##*/}
		bin=$(bin_for "$name")
		sock=
		case $name in *@.service) sock=${name%@.service}.socket ;; esac
		if [ ! -x "$bin" ]; then
			skip "verify $name" "${bin#$top/} not built yet"
			# the socket still gets checked, with a stand-in service
			if [ -n "$sock" ]; then
				mkdir -p "$U/standin"
				cp "$top/units/$sock" "$U/standin/"
				unit_copy "$f" "$U/standin/$name" /bin/true
				(U=$U/standin; verify "$sock (stand-in service)" "./$sock" "./$name")
			fi
			continue
		fi
		unit_copy "$f" "$U/$name" "$bin"
		if [ -n "$sock" ]; then
			cp "$top/units/$sock" "$U/"
			verify "$name + $sock" "./$sock" "./$name"
		else
			verify "$name" "./$name"
		fi
	done

	# The timer, with its service pointed at a stand-in when etrn-client
	# is not built (the timer is what is checked here).
	mkdir -p "$U/timer"
	b=$ETRN; [ -x "$b" ] || b=/bin/true
	unit_copy "$top/units/postern-etrn.service" "$U/timer/postern-etrn.service" "$b"
	cp "$top/units/postern-etrn.timer" "$U/timer/"
	(U=$U/timer; verify postern-etrn.timer ./postern-etrn.timer ./postern-etrn.service)
	b=$ADMIN; [ -x "$b" ] || b=/bin/true
	unit_copy "$top/units/postern-queue.service" "$U/timer/postern-queue.service" "$b"
	cp "$top/units/postern-queue.timer" "$U/timer/"
	(U=$U/timer; verify postern-queue.timer ./postern-queue.timer ./postern-queue.service)
	check "postern-queue.timer is hourly" grep -q '^OnCalendar=hourly$' "$top/units/postern-queue.timer"
	U=$T/units

	# Exposure: independent of the binary, so always measured.
	mkdir -p "$U/sec"
	for f in "$top"/units/*.service; do
		name=${f##*/}
		unit_copy "$f" "$U/sec/$name" /usr/local/libexec/postern/x
		line=$(cd "$U/sec" && systemd-analyze security --offline=true "./$name" 2>&1 |
			grep 'Overall exposure level')
		val=$(sed -E 's/.*: ([0-9.]+) .*/\1/' <<<"$line")
		echo "exposure: ${name}: ${val:-?} ($(sed -E 's/.*[0-9] ([A-Z]+).*/\1/' <<<"$line"))"
		if [ -n "$val" ] && awk -v v="$val" -v m="$EXPOSURE_MAX" 'BEGIN{exit !(v <= m)}'; then
			pass "exposure $name $val <= $EXPOSURE_MAX"
		else
			fail "exposure $name" "${val:-no figure} > $EXPOSURE_MAX: $line"
		fi
	done
fi

# sysusers.d and tmpfiles.d on an empty root
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	R=$T/root
	mkdir -p "$R/etc/sysusers.d" "$R/etc/tmpfiles.d"
	cp "$top/units/postern.sysusers" "$R/etc/sysusers.d/postern.conf"
	cp "$top/units/postern.tmpfiles" "$R/etc/tmpfiles.d/postern.conf"
	out=$(systemd-sysusers --root="$R" 2>&1); rc=$?
	check "sysusers applies" [ $rc -eq 0 ]
	check "sysusers: user postern, no login" \
		grep -q '^postern:x:[0-9]*:[0-9]*:[^:]*:/var/lib/postern:/usr/sbin/nologin$' "$R/etc/passwd"
	check "sysusers: postern in no group mail" bash -c "! grep -Eq '^mail:x:[0-9]+:(.*,)?postern(,.*)?\$' '$R/etc/group'"
	out=$(systemd-tmpfiles --create --root="$R" 2>&1); rc=$?
	check "tmpfiles applies" [ $rc -eq 0 -a -z "$out" ]
	uid=$(awk -F: '$1=="postern"{print $3}' "$R/etc/passwd")
	mode() { stat -c '%a %u' "$R$1" 2>/dev/null; }
	check "tmpfiles: /etc/postern 750 root" [ "$(mode /etc/postern)" = "750 0" ]
	check "tmpfiles: no /var/mail of ours" [ ! -e "$R/var/mail" ]
	check "tmpfiles: mail root /var/lib/postern/mail 700 postern" [ "$(mode /var/lib/postern/mail)" = "700 $uid" ]
	check "tmpfiles: /var/spool/postern 750 postern" [ "$(mode /var/spool/postern)" = "750 $uid" ]
	check "tmpfiles: /var/lib/postern 750 postern" [ "$(mode /var/lib/postern)" = "750 $uid" ]
else
	skip "sysusers/tmpfiles" "systemd-sysusers or systemd-tmpfiles missing"
fi

# Least privilege for the mail root: no unit may write /var/mail, and
# every unit that delivers or serves mail may write the mail root.
check "no unit writes /var/mail" bash -c "! grep -n 'ReadWritePaths=.*/var/mail' '$top'/units/*.service"
for f in "$top"/units/postern-{pop3,pop3s,smtp,submission,submissions,odmr}@.service "$top"/units/postern-etrn.service; do
	check "${f##*/}: the mail root is writable" grep -q '^ReadWritePaths=-/var/lib/postern/mail' "$f"
done

# make install: @PREFIX@ substituted (programs are not rebuilt: -o all)
I=$T/inst
if make -s -C "$top" -o all install DESTDIR="$I" PREFIX=/usr >"$T/install.log" 2>&1; then
	n=$(ls "$I/usr/lib/systemd/system" 2>/dev/null | wc -l)
	check "install: every unit installed ($n)" \
		[ "$n" -eq "$(ls "$top"/units/*.socket "$top"/units/*.service "$top"/units/*.timer | wc -l)" ]
	check "install: no @PREFIX@ left" \
		bash -c "! grep -rq '@PREFIX@' '$I/usr/lib/systemd/system' '$I/etc/xinetd.d'"
	check "install: handlers under /usr/libexec/postern" \
		grep -q '^ExecStart=/usr/libexec/postern/pop3-handler ' "$I/usr/lib/systemd/system/postern-pop3@.service"
	check "install: etrn-client under /usr/sbin" \
		grep -q '^ExecStart=/usr/sbin/etrn-client ' "$I/usr/lib/systemd/system/postern-etrn.service"
	check "install: postern-queue runs mailbox-admin queue expire" \
		grep -q '^ExecStart=/usr/sbin/mailbox-admin queue expire$' "$I/usr/lib/systemd/system/postern-queue.service"
	check "install: sysusers.d/postern.conf" [ -f "$I/usr/lib/sysusers.d/postern.conf" ]
	check "install: tmpfiles.d/postern.conf" [ -f "$I/usr/lib/tmpfiles.d/postern.conf" ]
	check "install: xinetd files" [ "$(ls "$I/etc/xinetd.d" | wc -l)" -eq 6 ]
	check "install: the ODMR socket listens on port 366" \
		grep -q '^ListenStream=366$' "$I/usr/lib/systemd/system/postern-odmr.socket"
	check "install: the ODMR service runs smtp-handler --odmr" \
		grep -q '^ExecStart=/usr/libexec/postern/smtp-handler --odmr ' "$I/usr/lib/systemd/system/postern-odmr@.service"
	check "install: the ODMR xinetd service on port 366 with --odmr" \
		bash -c "grep -q '^[[:space:]]*port[[:space:]]*= 366\$' '$I/etc/xinetd.d/postern-odmr' && grep -q 'server_args.*--odmr' '$I/etc/xinetd.d/postern-odmr'"
else
	fail "make install" "$(tail -n 3 "$T/install.log" | tr '\n' ' ')"
fi

# xinetd: each service file on a test copy
greet() {	# greet PORT tls|plain -> first line from the server
	python3 - "$1" "$2" <<'PY'
import socket, ssl, sys
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if mode == "tls":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s)
buf = b""
try:
    while b"\n" not in buf:
        d = s.recv(512)
        if not d:
            break
        buf += d
except Exception as e:
    print("error:", e)
print(buf.split(b"\n")[0].decode(errors="replace").rstrip("\r"))
PY
}
if ! command -v xinetd >/dev/null; then
	skip "xinetd" "xinetd not installed"
else
	"$top/tests/mkcerts" "$T/pki"
	mkdir -p "$T/spool"
	me=$(id -un); grp=$(id -gn)
	for f in "$top"/units/xinetd/*; do
		name=${f##*/}
		bin=$(bin_for "$name")
		port=$(free_port)
		mode=plain; case $name in postern-pop3s|postern-submissions) mode=tls ;; esac
		want='^(\+OK|220)'
		cfg=$T/xinetd-$name
		sed -e "s|^\([[:space:]]*port[[:space:]]*=\).*|\1 $port|" \
		    -e "s|^\([[:space:]]*disable[[:space:]]*=\).*|\1 no|" \
		    -e "s|^\([[:space:]]*user[[:space:]]*=\).*|\1 $me|" \
		    -e "s|^\([[:space:]]*group[[:space:]]*=\).*|\1 $grp|" \
		    -e "s|^{|{\n\tbind = 127.0.0.1|" \
		    -e "s|/etc/postern/users.cdb|$T/users.cdb|" \
		    -e "s|/etc/postern/tls.crt|$T/pki/chain-ec.pem|" \
		    -e "s|/etc/postern/tls.key|$T/pki/ec.key|" \
		    -e "s|/var/spool/postern|$T/spool|" \
		    -e "s|^\([[:space:]]*server_args[[:space:]]*=.*\)|\1 --allow-root|" \
		    "$f" > "$cfg"
		if [ -x "$bin" ]; then
			sed -i "s|@PREFIX@/libexec/postern/[a-z0-9-]*|$bin|" "$cfg"
		else
			# parse check only: a stand-in server that greets
			sed -i -e "s|^\([[:space:]]*server[[:space:]]*=\).*|\1 /bin/echo|" \
			       -e "s|^\([[:space:]]*server_args[[:space:]]*=\).*|\1 +OK stand-in|" "$cfg"
			mode=plain
		fi
		xl=$T/xinetd-$name.log
		bg xinetd -dontfork -f "$cfg" -pidfile "$T/xinetd-$name.pid" -filelog "$xl"
		xpid=$!
		if ! wait_port "$port"; then
			fail "xinetd $name: listening" "$(tail -n 3 "$xl" 2>/dev/null | tr '\n' ' ')"
			kill "$xpid" 2>/dev/null
			continue
		fi
		line=$(greet "$port" "$mode")
		[ -x "$bin" ] && what="greeting ($mode)" || what="stand-in greeting (${bin#$top/} not built)"
		if [[ $line =~ $want ]]; then
			pass "xinetd $name: $what: $line"
		else
			fail "xinetd $name: $what" "got '$line'"
		fi
		if grep -Eq 'ERROR|Bad|Unknown|Missing' "$xl"; then
			fail "xinetd $name: config accepted" "$(grep -E 'ERROR|Bad|Unknown|Missing' "$xl" | head -n 2 | tr '\n' ' ')"
		else
			pass "xinetd $name: config accepted"
		fi
		kill "$xpid" 2>/dev/null
		wait "$xpid" 2>/dev/null
	done
fi

summary
