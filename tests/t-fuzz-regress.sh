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
mapfile -t targets < <(fuzz/run --list)
fuzz_replay_build "${targets[@]}" || { summary; exit; }
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
