#!/usr/bin/env bash
# t-smtp-data-parse.sh - builds tests/t-smtp-data-parse.c with
# smtp-handler/dataparse.c (under ASan+UBSan when the compiler has them)
# and runs the differential test of the DATA/BDAT machine, with the SSE2
# scan and with the portable one (-DDP_PORTABLE): a fixed seed, then a
# fresh one (printed; to rerun, build as below and run BIN ITER SEED).
. "$(dirname "$0")/lib.sh"
cc=${CC:-cc}
src=("$top/tests/t-smtp-data-parse.c" "$top/smtp-handler/dataparse.c")
flags=(-std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wvla -I "$top/smtp-handler")
san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
run() {
	local out
	out=$("$@" 2>&1)
	local rc=$?
	echo "$out" | grep -v '^[0-9]* passed' | head -20
	[ $rc -eq 0 ] && echo "$out" | tail -1 | grep -q ' 0 failed'
}
seed=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ^ $$ + 1 ))
for variant in simd portable; do
	bin=$T/t-smtp-data-parse-$variant
	v=()
	[ $variant = portable ] && v=(-DDP_PORTABLE)
	if "$cc" "${flags[@]}" "${v[@]}" "${san[@]}" -o "$bin" "${src[@]}" 2>"$T/cc.err"; then
		pass "build $variant (sanitizers)"
	elif "$cc" "${flags[@]}" "${v[@]}" -o "$bin" "${src[@]}" 2>"$T/cc.err"; then
		pass "build $variant (no sanitizers here)"
	else
		fail "build $variant" "$(head -c 600 "$T/cc.err")"
		continue
	fi
	check "$variant: differential, fixed seed" run "$bin" 1000 20261124
	check "$variant: differential, seed $seed" run "$bin" 500 "$seed"
done
summary
