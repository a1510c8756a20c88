# tests/lib.sh - sourced by shell tests (tests/t-*.sh).
# pass NAME / fail NAME [detail] / skip NAME REASON / check NAME CMD...
# summary (last line: "N passed, M failed, K skipped"; exit status).
# Also: a private temp dir ($T), free-port picking, start/stop of
# background servers by PID, and the paths of the built programs.
set -u
top=${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
POP3=$top/pop3-handler/pop3-handler
SMTP=$top/smtp-handler/smtp-handler
ETRN=$top/etrn-client/etrn-client
ADMIN=$top/mailbox-admin/mailbox-admin
mkdir -p "$top/tests/tmp"
# Tests run the handlers as root without --user; they refuse that unless
# told (startup_refuse_root). Spawners that clear the environment
# (systemd-socket-activate, xinetd) need -E or --allow-root themselves.
export POSTERN_ALLOW_ROOT=1
# $T: the test's private temp dir, under tests/tmp. A test in which an
# unprivileged user (nobody) must reach it sets PUBLIC_TMP=1 before
# sourcing this file: the checkout may sit where that user cannot pass (a
# clone in /root, mode 0700), so $T is then made under /var/tmp instead,
# mode 0711 (passable, not listable); as in tests/harness.py.
if [ -n "${PUBLIC_TMP:-}" ]; then
	T=$(mktemp -d "/var/tmp/postern-${0##*/}.XXXXXX") && chmod 711 "$T"
else
	T=$(mktemp -d "$top/tests/tmp/${0##*/}.XXXXXX")
fi
_p=0; _f=0; _s=0; _pids=()
pass() { _p=$((_p + 1)); echo "PASS: $1"; }
fail() { _f=$((_f + 1)); echo "FAIL: $1${2:+: $2}"; }
skip() { _s=$((_s + 1)); echo "SKIP: $1: $2"; }
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
# free_port: a TCP port on 127.0.0.1 nobody listens on.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_port PORT: until something listens (max ~5 s).
wait_port() {
	local i
	for i in $(seq 1 100); do
		python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# bg CMD...: start in the background, remember the PID for cleanup.
bg() { "$@" & _pids+=($!); }
cleanup() {
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
# reachable_copy PROG: with PUBLIC_TMP=1 (above), the path of a copy of
# PROG in $T/bin that an unprivileged user may execute.
reachable_copy() {
	mkdir -p "$T/bin" && chmod 0755 "$T/bin" &&
	install -m 0755 "$1" "$T/bin/${1##*/}" && echo "$T/bin/${1##*/}"
}
summary() { echo "$_p passed, $_f failed, $_s skipped"; [ "$_f" -eq 0 ]; }

# fuzz_replay_build TARGET...: builds the fuzz targets without libFuzzer
# (fuzz/standalone.c reads files) into $out/replay/bin/ (out=
# tests/tmp/fuzz-replay, kept between runs), with ASan + UBSan when $CC
# has them; exports POSTERN_FUZZ_PKI when tests/tmp/pki has a key (the
# session TLS variants run without a certificate otherwise). Sets out,
# CC, san. 0, or 1 after a FAIL line.
fuzz_replay_build() {
	local t bins=()
	out=$top/tests/tmp/fuzz-replay
	mkdir -p "$out"
	CC=${CC:-cc}
	san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
	echo 'int main(void){return 0;}' >"$T/probe.c"
	if ! $CC $san -o "$T/probe" "$T/probe.c" 2>/dev/null || ! "$T/probe"; then
		san=""
		echo "note: $CC cannot build with ASan/UBSan here; replaying without"
	fi
	for t in "$@"; do bins+=("$out/replay/bin/$t"); done
	if ! make -s -f fuzz/fuzz.mk MODE=replay OUT="$out" CC="$CC" SAN="$san" \
		-j"$(nproc)" "${bins[@]}" >"$T/build.log" 2>&1; then
		fail "build the replay targets" "$(tail -n 5 "$T/build.log")"
		return 1
	fi
	if [ -f "$top/tests/tmp/pki/ec.crt" ]; then
		mkdir -p "$out/pki"
		cp "$top/tests/tmp/pki/ec.crt" "$out/pki/tls.crt"
		cp "$top/tests/tmp/pki/ec.key" "$out/pki/tls.key"
		export POSTERN_FUZZ_PKI=$out/pki
	fi
	return 0
}
