#!/usr/bin/env bash
# t-smtp-throttle.sh - smtp-handler's AUTH obeys the per-address login
# throttle shared across connections (and with pop3-handler): after
# repeated failures from one address, AUTH is refused (454 4.7.0) without
# a password check, even with the right password; another address still
# logs in; POP3 failures count too; the state file never grows.
. "$(dirname "$0")/lib.sh"
[ -x "$SMTP" ] || { skip "smtp throttle" "smtp-handler not built"; summary; exit; }
h=$(openssl passwd -6 pw)
mkdir -p "$T/mail" "$T/spool"
cat > "$T/users" <<X
example.org domain
alice@example.org $h $T/mail/alice
X
cdb -c -m "$T/users.cdb" "$T/users"
b64() { printf '\0alice@example.org\0%s' "$1" | base64 -w0; }
smtp() {	# ADDRESS PASSWORD: one session with AUTH PLAIN; prints the AUTH reply
	printf 'EHLO c.test\r\nAUTH PLAIN %s\r\nQUIT\r\n' "$(b64 "$2")" |
		TCPREMOTEIP=$1 "$SMTP" --users "$T/users.cdb" --spool "$T/spool" \
		--auth password --auth-delay 0 --throttle-file "$T/throttle" \
		--hostname mx.test 2>>"$T/log" | tr -d '\r' | grep -E '^(235|454|535)'
}
r=$(smtp 192.0.2.1 pw)
check "right password logs in" grep -q '^235' <<<"$r"
for i in 1 2 3 4 5; do smtp 192.0.2.1 "wrong$i" >/dev/null; done
size=$(stat -c %s "$T/throttle")
r=$(smtp 192.0.2.1 pw)
check "after 5 failures the right password is refused with 454 4.7.0" grep -q '^454 4.7.0' <<<"$r"
check "the refusal is logged" grep -q 'throttled' "$T/log"
r=$(smtp 192.0.2.2 pw)
check "another address still logs in" grep -q '^235' <<<"$r"
if [ -x "$POP3" ]; then
	for i in 1 2 3 4 5; do
		printf 'USER alice@example.org\r\nPASS bad%s\r\nQUIT\r\n' "$i" |
			TCPREMOTEIP=192.0.2.3 "$POP3" --users "$T/users.cdb" \
			--throttle-file "$T/throttle" --fail-delay 0 >/dev/null 2>&1
	done
	r=$(smtp 192.0.2.3 pw)
	check "POP3 failures from an address throttle its SMTP AUTH" grep -q '^454' <<<"$r"
fi
for i in $(seq 1 200); do smtp "192.0.2.$((i % 250 + 4))" bad >/dev/null; done
check "the state file never grows" test "$(stat -c %s "$T/throttle")" = "$size"
summary
