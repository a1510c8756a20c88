#!/usr/bin/env bash
# tests/t-pop3-spawners.sh - the same short POP3 session under each
# spawner on 127.0.0.1: tcpserver (ucspi-tcp), xinetd (a test copy of the
# shipped units/xinetd/postern-pop3 when it exists), and
# systemd-socket-activate in fd-3 mode (LISTEN_FDS, no --inetd) and in
# inetd mode. Every session logs in, lists, retrieves, deletes one
# message and quits; the maildir must then have lost exactly that one.
. "$(dirname "$0")/lib.sh"
POP3=${POP3_TEST_BIN:-$POP3}   # to try another build

if [ ! -x "$POP3" ]; then
	skip pop3-spawners "pop3-handler not built"; summary; exit
fi
command -v cdb >/dev/null || { skip pop3-spawners "cdb not installed"; summary; exit; }

HASH=$(openssl passwd -6 pw)
"$top/tests/mkcerts" "$T/pki" || { fail mkcerts; summary; exit; }
printf 'example.org domain\nalice@example.org %s %s/mail/alice\n' "$HASH" "$T" >"$T/users"
cdb -c -m "$T/users.cdb" "$T/users"

# fill N: a fresh maildir for alice with N messages.
fill() {
	local m=$T/mail/alice i body
	rm -rf "$m"
	mkdir -p "$m/new" "$m/cur" "$m/tmp"
	for i in $(seq 1 "$1"); do
		body=$(printf 'Subject: spawner %d\n\nhello %d\n' "$i" "$i")
		printf '%s\n' "$body" >"$m/new/$((1700000000 + i)).M${i}P1Q1.spawn,S=$(( ${#body} + 1 )),W=$(( ${#body} + 4 ))"
	done
}
count() { find "$T/mail/alice/new" "$T/mail/alice/cur" -type f | wc -l; }

# session NAME PORT: one pipelined session over TCP; checks the replies.
session() {
	local name=$1 port=$2 out
	fill 3
	out=$(python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
print(f.readline().decode().rstrip())
s.sendall(b"CAPA\r\nUSER alice@example.org\r\nPASS pw\r\nSTAT\r\nLIST\r\n"
          b"RETR 2\r\nDELE 2\r\nQUIT\r\n")
data = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    data += c
sys.stdout.write(data.decode())
PY
)
	if grep -q $'^+OK 3 93\r$' <<<"$out" && grep -q $'^hello 2\r$' <<<"$out" &&
	   grep -q '^+OK Bye (1 message deleted)' <<<"$out" && [ "$(count)" -eq 2 ]; then
		pass "$name: session"
	else
		fail "$name: session" "$(printf '%s' "$out" | tr '\r' ' ' | head -30; echo "count=$(count)")"
	fi
}

# --allow-root: the spawners run it as root (xinetd: user = root below)
ARGS=(--users "$T/users.cdb" --throttle-file "$T/throttle" --fail-delay 0
	--tls starttls --cert "$T/pki/chain-ec.pem" --key "$T/pki/ec.key"
	--allow-root)

# --- tcpserver ---------------------------------------------------------------
if command -v tcpserver >/dev/null; then
	port=$(free_port)
	bg tcpserver -q -R -H -l 0 127.0.0.1 "$port" "$POP3" "${ARGS[@]}" 2>"$T/tcpserver.log"
	if wait_port "$port"; then session tcpserver "$port"; else fail tcpserver "did not listen"; fi
else
	skip tcpserver "ucspi-tcp not installed"
fi

# --- xinetd ------------------------------------------------------------------
if command -v xinetd >/dev/null; then
	port=$(free_port)
	conf=$T/xinetd.conf
	shipped=$top/units/xinetd/postern-pop3
	if [ -f "$shipped" ]; then
		# The shipped service, made local: our port, the built binary,
		# test paths, root instead of the service user, on loopback.
		args="${ARGS[*]}"
		sed -e '/^[[:space:]]*#/d' \
		    -e "s|^\([[:space:]]*port[[:space:]]*=\).*|\1 $port|" \
		    -e "s|^\([[:space:]]*server[[:space:]]*=\).*|\1 $POP3|" \
		    -e "s|^\([[:space:]]*server_args[[:space:]]*=\).*|\1 $args|" \
		    -e "s|^\([[:space:]]*user[[:space:]]*=\).*|\1 root|" \
		    -e "s|^\([[:space:]]*group[[:space:]]*=\).*|\1 root|" \
		    -e "s|^\([[:space:]]*disable[[:space:]]*=\).*|\1 no|" \
		    -e "s|^\([[:space:]]*log_type[[:space:]]*=\).*|\1 FILE $T/xinetd-svc.log|" \
		    -e "s|^{|{\n\tbind = 127.0.0.1|" "$shipped" >"$conf"
		note="from units/xinetd/postern-pop3"
	else
		cat >"$conf" <<X
service postern-pop3
{
	type        = UNLISTED
	port        = $port
	bind        = 127.0.0.1
	socket_type = stream
	protocol    = tcp
	wait        = no
	user        = root
	server      = $POP3
	server_args = ${ARGS[*]}
	flags       = NODELAY
	log_type    = FILE $T/xinetd-svc.log
	disable     = no
}
X
		note="(no shipped config yet: a minimal one)"
	fi
	bg xinetd -dontfork -f "$conf" -pidfile "$T/xinetd.pid" 2>"$T/xinetd.log"
	if wait_port "$port"; then
		session "xinetd $note" "$port"
	else
		fail "xinetd" "did not listen: $(tail -5 "$T/xinetd.log")"
	fi
else
	skip xinetd "xinetd not installed"
fi

# --- systemd-socket-activate -----------------------------------------------
if command -v systemd-socket-activate >/dev/null; then
	port=$(free_port)
	bg systemd-socket-activate -l "127.0.0.1:$port" -a "$POP3" "${ARGS[@]}" 2>"$T/ssa3.log"
	if wait_port "$port"; then session "systemd-socket-activate fd 3" "$port"; else fail ssa-fd3 "did not listen"; fi
	port=$(free_port)
	bg systemd-socket-activate -l "127.0.0.1:$port" -a --inetd "$POP3" "${ARGS[@]}" 2>"$T/ssa0.log"
	if wait_port "$port"; then session "systemd-socket-activate --inetd" "$port"; else fail ssa-inetd "did not listen"; fi
else
	skip systemd-socket-activate "not installed"
fi
summary
