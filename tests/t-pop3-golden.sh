#!/usr/bin/env bash
# tests/t-pop3-golden.sh - golden transcripts for pop3-handler: each
# tests/golden/pop3/NAME.in is piped (in one write) into the handler and
# its replies are compared with NAME.out. stdin is a pipe, so plaintext
# login is allowed, as for any tester.
#
# Per test, in a fresh directory: a users file from golden/pop3/users
# (or NAME.users) with a SHA512-crypt hash of "pw" made now, compiled by
# the stock `cdb -c -m`; alice's maildir with msg1 (cur/, seen), msg2
# (new/, dot-stuffing), msg3 (new/, no ,S=/,W=, no final newline), msg4
# (new/, a name longer than RFC 1939's 70-octet UIDL limit).
#
# NAME.in syntax: one client line per line, sent with CRLF; "<LF>" at the
#   end: bare LF instead; "<NUL>" a NUL byte; "<LONG n>" n letters 'A';
#   "<xHH>" the byte 0xHH; "<NOEOL>" at the end: no line end at all.
# Optional: NAME.args (extra options; @G@ is this folder), NAME.env
#   (NAME=VALUE words for the environment, e.g. TCPREMOTEIP=127.0.0.1),
#   NAME.users (users template),
#   NAME.pre.in (a session run first, output ignored), NAME.files
#   (expected `find new cur` of alice's maildir afterwards), NAME.inuse
#   (alice's maildir lock is held by another process), NAME.hold (keep
#   stdin open that many seconds after the input).
# Masked: the greeting's APOP timestamp. Every reply line must end in CRLF.
# GOLDEN_UPDATE=1 rewrites NAME.out / NAME.files from the actual results.
. "$(dirname "$0")/lib.sh"
G=$top/tests/golden/pop3
POP3=${POP3_TEST_BIN:-$POP3}   # to try another build

if [ ! -x "$POP3" ]; then
	skip pop3-golden "pop3-handler not built"; summary; exit
fi
if ! command -v cdb >/dev/null; then
	skip pop3-golden "cdb (tinycdb) not installed"; summary; exit
fi
HASH=$(openssl passwd -6 pw) || { fail hash "openssl passwd"; summary; exit; }

# mkmsg DIR SUB BASE SRC [INFO] [nosize]
mkmsg() {
	local s lf name
	s=$(stat -c %s "$4")
	lf=$(tr -cd '\n' <"$4" | wc -c)
	name="$3,S=$s,W=$((s + lf))"
	[ "${6-}" = nosize ] && name=$3
	cp "$4" "$1/$2/$name${5-}"
}

setup() {
	local d=$1 users=$2 m=$1/mail/alice
	mkdir -p "$d/mail" "$m/new" "$m/cur" "$m/tmp"
	sed -e "s|@HASH@|$HASH|" -e "s|@DIR@|$d/mail|" "$users" >"$d/users"
	cdb -c -m "$d/users.cdb" "$d/users" || return 1
	mkmsg "$m" cur 1700000001.M1P100Q1.golden "$G/msg1" ":2,S"
	mkmsg "$m" new 1700000002.M2P100Q1.golden "$G/msg2"
	mkmsg "$m" new 1700000003.M3P100Q1.golden "$G/msg3" "" nosize
	mkmsg "$m" new 1700000004.M4P100Q1.a-rather-long-host-name-that-makes-the-uidl-too-long.example "$G/msg4"
}

# Client lines -> bytes.
mkinput() {
	python3 - "$1" <<'PY'
import re, sys
out = bytearray()
for line in open(sys.argv[1], encoding="latin-1").read().split("\n")[:-1]:
    eol = b"\r\n"
    if line.endswith("<LF>"):
        line, eol = line[:-4], b"\n"
    if line.endswith("<NOEOL>"):
        line, eol = line[:-7], b""
    line = line.replace("<NUL>", "\0")
    line = re.sub(r"<x([0-9a-f]{2})>", lambda m: chr(int(m.group(1), 16)), line)
    line = re.sub(r"<LONG (\d+)>", lambda m: "A" * int(m.group(1)), line)
    out += line.encode("latin-1") + eol
sys.stdout.buffer.write(out)
PY
}

run_one() {
	local name=$1 d=$T/$1 users=$G/users args=() hold=0 raw rc
	[ -f "$G/$name.users" ] && users=$G/$name.users
	setup "$d" "$users" || { fail "$name" "setup"; return; }
	[ -f "$G/$name.args" ] && read -r -a args < <(sed "s|@G@|$G|g" "$G/$name.args")
	[ -f "$G/$name.hold" ] && hold=$(cat "$G/$name.hold")
	local envs=()
	[ -f "$G/$name.env" ] && read -r -a envs <"$G/$name.env"
	local cmd=(env "${envs[@]}" "$POP3" --users "$d/users.cdb" --throttle-file "$d/throttle"
		--hostname golden.test --fail-delay 0 "${args[@]}")
	if [ -f "$G/$name.pre.in" ]; then
		mkinput "$G/$name.pre.in" | timeout 20 "${cmd[@]}" >/dev/null 2>>"$d/log"
	fi
	mkinput "$G/$name.in" >"$d/input"
	if [ -f "$G/$name.inuse" ]; then
		cmd=(flock "$d/mail/alice/.postern-lock" "${cmd[@]}")
	fi
	{ cat "$d/input"; sleep "$hold"; } | timeout 20 "${cmd[@]}" >"$d/raw" 2>>"$d/log"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
		fail "$name" "exit status $rc"; return
	fi
	if LC_ALL=C grep -q -v $'\r$' "$d/raw"; then
		fail "$name: CRLF" "a reply line does not end in CRLF"
	fi
	sed -E -e 's/\r$//' -e '1s/<[0-9]+\.[0-9]+\.[0-9]+@golden\.test>/<TIMESTAMP>/' \
		"$d/raw" >"$d/out"
	(cd "$d/mail/alice" && find new cur -type f | LC_ALL=C sort) >"$d/files"
	if [ -n "${GOLDEN_UPDATE:-}" ]; then
		cp "$d/out" "$G/$name.out"
		[ -f "$G/$name.files" ] && cp "$d/files" "$G/$name.files"
		pass "$name (updated)"
		return
	fi
	if ! diff -u "$G/$name.out" "$d/out" >"$d/diff"; then
		fail "$name" "replies differ:"; sed 's/^/    /' "$d/diff" | head -40
		sed 's/^/    log: /' "$d/log" | head -10
		return
	fi
	if [ -f "$G/$name.files" ] && ! diff -u "$G/$name.files" "$d/files" >"$d/diff"; then
		fail "$name" "maildir afterwards differs:"; sed 's/^/    /' "$d/diff"
		return
	fi
	pass "$name"
}

# Options: --help lists every option, bad ones exit 64 before any
# protocol (nothing on stdout, which may be the client's connection).
help=$("$POP3" --help) && rc=0 || rc=$?
ok=1
for o in --users --tls --cert --key --client-ca --allow-plaintext-auth --hostname \
	--timeout --session-timeout --user --throttle-file --max-errors --fail-delay \
	--debug --help --version --proxy-from; do
	grep -q -e "$o" <<<"$help" || { ok=0; echo "missing in --help: $o"; }
done
check "--help lists every option (exit 0)" test $ok = 1 -a $rc = 0
check "--version" bash -c '"$1" --version | grep -q "^pop3-handler (postern) [0-9]"' _ "$POP3"
for bad in "--bogus" "--tls maybe" "--timeout 0" "--timeout 12x" "--cert x" "--max-errors -1" \
	"--client-ca x" "extra-argument" "--users" "--proxy-from 10.0.0.0/99"; do
	read -r -a a <<<"$bad"
	out=$(echo QUIT | "$POP3" "${a[@]}" 2>"$T/usage.err") && rc=0 || rc=$?
	if [ $rc = 64 ] && [ -z "$out" ] && grep -q usage "$T/usage.err"; then
		pass "bad option '$bad': usage, exit 64, nothing on stdout"
	else
		fail "bad option '$bad'" "exit $rc, stdout '$out'"
	fi
done

for f in "$G"/*.in; do
	name=${f##*/}
	name=${name%.in}
	case $name in *.pre) continue;; esac
	run_one "$name"
done
summary
