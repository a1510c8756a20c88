#!/usr/bin/env bash
# t-root-refusal.sh - a handler started as root without --user refuses
# to serve (issue 16): no greeting, exit status 1, a log line saying what
# to do; it serves with --user (as that user), with --allow-root, or with
# POSTERN_ALLOW_ROOT=1 in its environment. Also through
# systemd-socket-activate, which passes no environment of its own.
. "$(dirname "$0")/lib.sh"
[ -x "$POP3" ] && [ -x "$SMTP" ] || { fail "handlers not built"; summary; exit; }
[ "$(id -u)" = 0 ] || { fail "this test needs root (it checks the refusal)"; summary; exit; }
printf 'example.org domain\n' > "$T/users"
cdb -c -m "$T/users.cdb" "$T/users"
chmod 755 "$T"; chmod 644 "$T/users.cdb"
mkdir -p "$T/spool"
P=("$POP3" --users "$T/users.cdb" --throttle-file "$T/throttle")
S=("$SMTP" --users "$T/users.cdb" --spool "$T/spool" --hostname mx.test)
run() {	# run CMD... : the handler's output, stderr to $T/err; sets rc
	printf 'QUIT\r\n' | env -u POSTERN_ALLOW_ROOT "$@" 2>"$T/err" | tr -d '\r' >"$T/out"
	rc=${PIPESTATUS[1]}
}
for h in pop3 smtp; do
	if [ $h = pop3 ]; then cmd=("${P[@]}"); greet='^\+OK'; else cmd=("${S[@]}"); greet='^220 '; fi
	run "${cmd[@]}"
	check "$h: as root without --user: no greeting" test ! -s "$T/out"
	check "$h: as root without --user: exit status 1" test "$rc" = 1
	check "$h: the refusal says what to do" grep -q 'refusing to serve as root: give --user NAME.*--allow-root' "$T/err"
	run "${cmd[@]}" --allow-root
	check "$h: --allow-root serves" grep -q "$greet" "$T/out"
	run env POSTERN_ALLOW_ROOT=1 "${cmd[@]}"
	check "$h: POSTERN_ALLOW_ROOT=1 serves" grep -q "$greet" "$T/out"
	run env POSTERN_ALLOW_ROOT=yes "${cmd[@]}"
	check "$h: POSTERN_ALLOW_ROOT=yes is not 1: refused" test ! -s "$T/out"
	run "${cmd[@]}" --user nobody
	check "$h: --user nobody serves" grep -q "$greet" "$T/out"
done
# systemd-socket-activate: the handler gets no POSTERN_ALLOW_ROOT from us
if command -v systemd-socket-activate >/dev/null; then
	port=$(free_port)
	bg env -u POSTERN_ALLOW_ROOT systemd-socket-activate -l "127.0.0.1:$port" -a --inetd \
		"${P[@]}" 2>"$T/ssa.log"
	wait_port "$port" || fail "socket-activate did not listen"
	g=$(python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$port),5); print(s.recv(100))")
	check "socket-activated as root without --user: connection closed without a greeting" test "$g" = "b''"
	sleep 0.2
	check "socket-activated: the refusal is logged" grep -q 'refusing to serve as root' "$T/ssa.log"
else
	fail "systemd-socket-activate not installed"
fi
summary
