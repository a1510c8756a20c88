#!/usr/bin/env bash
# tests/t-fuzz-regress.sh - replays every saved fuzz input through the
# fuzz targets built WITHOUT libFuzzer (fuzz/standalone.c reads files):
# fuzz/regress/NAME/ (crashers found earlier: each must now pass) and the
# seed corpora fuzz/corpus/NAME/. Built with cc and ASan + UBSan when the
# compiler supports them (else plain), in tests/tmp/fuzz-replay (kept
# between runs, rebuilt as sources change). The session targets run a
# real handler session per input in one process, each twice (the second
# run must say the same: nothing of a session survives into the next).
. "$(dirname "$0")/lib.sh"
cd "$top" || exit 1
out=$top/tests/tmp/fuzz-replay
mkdir -p "$out"
CC=${CC:-cc}
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
echo 'int main(void){return 0;}' >"$T/probe.c"
if ! $CC $san -o "$T/probe" "$T/probe.c" 2>/dev/null || ! "$T/probe"; then
	san=""
	echo "note: $CC cannot build with ASan/UBSan here; replaying without"
fi
mapfile -t targets < <(fuzz/run --list)
bins=()
for t in "${targets[@]}"; do bins+=("$out/replay/bin/$t"); done
if ! make -s -f fuzz/fuzz.mk MODE=replay OUT="$out" CC="$CC" SAN="$san" \
	-j"$(nproc)" "${bins[@]}" >"$T/build.log" 2>&1; then
	fail "build the replay targets" "$(tail -n 5 "$T/build.log")"
	summary; exit
fi
# PEM inputs need no key material from the tree; session TLS variants
# run without a certificate unless tests/tmp/pki exists.
[ -f "$top/tests/tmp/pki/ec.crt" ] && {
	mkdir -p "$out/pki"
	cp "$top/tests/tmp/pki/ec.crt" "$out/pki/tls.crt"
	cp "$top/tests/tmp/pki/ec.key" "$out/pki/tls.key"
	export POSTERN_FUZZ_PKI=$out/pki
}
for t in "${targets[@]}"; do
	for kind in regress corpus; do
		d=fuzz/$kind/$t
		[ -d "$d" ] || continue
		n=$(find "$d" -type f | wc -l)
		[ "$n" -gt 0 ] || continue
		log=$T/$t-$kind.log
		if (timeout 300 "$out/replay/bin/$t" "$d" >"$log" 2>&1) 2>/dev/null; then
			pass "$t: $n $kind inputs"
		else
			# name the input that failed: rerun one by one
			bad=""
			for f in "$d"/*; do
				(timeout 60 "$out/replay/bin/$t" "$f" >/dev/null 2>&1) 2>/dev/null ||
					{ bad="$bad ${f##*/}"; }
			done
			fail "$t: $kind" "failing input(s):$bad"
			grep -E "FUZZ CHECK|ERROR:|SUMMARY|runtime error|transcripts differ" "$log" |
				head -n 4 | sed 's/^/    /'
		fi
	done
done
summary
