#!/usr/bin/env bash
# t-pop3-throttle.sh - the per-address login throttle of pop3-handler is
# not reset by a successful login: one valid account must not buy fresh
# guesses at another from the same address.
. "$(dirname "$0")/lib.sh"
[ -x "$POP3" ] || { skip "pop3 throttle" "pop3-handler not built"; summary; exit; }
h=$(openssl passwd -6 pw)
mkdir -p "$T/mail"
cat > "$T/users" <<X
example.org domain
alice@example.org $h $T/mail/alice
bob@example.org $h $T/mail/bob
X
cdb -c -m "$T/users.cdb" "$T/users"
pop() {	# pop3 session from one (piped) address; prints the replies
	printf '%s\r\n' "$@" | TCPREMOTEIP=192.0.2.9 "$POP3" --users "$T/users.cdb" \
		--throttle-file "$T/throttle" --fail-delay 0 2>>"$T/log" | tr -d '\r'
}
pop "USER bob@example.org" "PASS x1" "USER bob@example.org" "PASS x2" \
	"USER bob@example.org" "PASS x3" >/dev/null
r=$(pop "USER alice@example.org" "PASS pw" "QUIT")
check "alice logs in after bob's 3 free failures" grep -q "^+OK.*maildir\|^+OK.*message" <<<"$r"
pop "USER bob@example.org" "PASS x4" "QUIT" >/dev/null
r=$(pop "USER bob@example.org" "PASS pw" "QUIT")
check "bob is still throttled after alice's success" grep -q "^-ERR \[SYS/TEMP\].*try again" <<<"$r"
summary
