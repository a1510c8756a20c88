#!/usr/bin/env bash
# t-smtp-data-parse.sh - builds tests/t-smtp-data-parse.c with
# smtp-handler/dataparse.c (under ASan+UBSan when the compiler has them)
# and runs the differential test of the DATA/BDAT machine: a fixed seed,
# then a fresh one (printed, to rerun: t-smtp-data-parse BIN ITER SEED).
. "$(dirname "$0")/lib.sh"
cc=${CC:-cc}
src=("$top/tests/t-smtp-data-parse.c" "$top/smtp-handler/dataparse.c")
flags=(-std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla -I "$top/smtp-handler")
bin=$T/t-smtp-data-parse
san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
if "$cc" "${flags[@]}" "${san[@]}" -o "$bin" "${src[@]}" 2>"$T/cc.err"; then
	pass "build (sanitizers)"
elif "$cc" "${flags[@]}" -o "$bin" "${src[@]}" 2>"$T/cc.err"; then
	pass "build (no sanitizers here)"
else
	fail "build" "$(head -c 600 "$T/cc.err")"
	summary
	exit
fi
run() {
	local out
	out=$("$bin" "$@" 2>&1)
	local rc=$?
	echo "$out" | grep -v '^[0-9]* passed' | head -20
	[ $rc -eq 0 ] && echo "$out" | tail -1 | grep -q ' 0 failed'
}
check "differential, fixed seed" run 1500 20261124
seed=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ^ $$ + 1 ))
check "differential, seed $seed" run 800 "$seed"
summary
