#!/usr/bin/env bash
# tests/t-session-reset.sh - a session leaves nothing behind for the next
# one in the same process: the session fuzz targets (pop3_session,
# smtp_session; fuzz/session.h) run every saved input (fuzz/corpus/NAME/
# and fuzz/regress/NAME/) alone in a fresh process, then all of them in
# one process in name order (each also run twice in a row there: the
# replay build's FUZZ_RECHECK), then all in one process in reverse order.
# Every input's transcript (the server's bytes, with unique names, the
# APOP timestamp and the bytes after the TLS go-ahead masked) must be the
# same in the three runs. Built like tests/t-fuzz-regress.sh (replay
# builds with ASan + UBSan when the compiler has them), in the same
# directory.
. "$(dirname "$0")/lib.sh"
cd "$top" || exit 1
targets=(pop3_session smtp_session)
fuzz_replay_build "${targets[@]}" || { summary; exit; }

# run BIN DIR RECHECK FILE...: transcripts of FILE... (one process) in DIR
run() {
	local bin=$1 dir=$2 recheck=$3
	shift 3
	mkdir -p "$dir"
	FUZZ_RECHECK=$recheck FUZZ_TRANSCRIPTS=$dir timeout 300 "$bin" "$@" \
		>>"$T/run.log" 2>&1
}

for t in "${targets[@]}"; do
	bin=$out/replay/bin/$t
	files=()
	for d in fuzz/corpus/$t fuzz/regress/$t; do
		[ -d "$d" ] || continue
		for f in "$d"/*; do [ -f "$f" ] && files+=("$f"); done
	done
	if [ ${#files[@]} -lt 2 ]; then
		fail "$t: inputs" "fewer than two saved inputs"
		continue
	fi
	# alone: one fresh process per input, its transcript in alone/N/
	bad=""
	for i in "${!files[@]}"; do
		run "$bin" "$T/$t/alone/$i" 0 "${files[$i]}" ||
			bad="$bad ${files[$i]##*/}"
	done
	[ -z "$bad" ] || fail "$t: alone" "failed:$bad"
	rev=()
	for ((i = ${#files[@]} - 1; i >= 0; i--)); do rev+=("${files[$i]}"); done
	if run "$bin" "$T/$t/forward" 1 "${files[@]}"; then
		pass "$t: ${#files[@]} inputs in one process, each twice in a row"
	else
		fail "$t: in one process" "$(grep -E "FUZZ CHECK|differ|ERROR" \
			"$T/run.log" | head -n 3)"
	fi
	run "$bin" "$T/$t/reverse" 0 "${rev[@]}" ||
		fail "$t: in one process, reversed"
	for order in forward reverse; do
		bad=""
		for i in "${!files[@]}"; do
			h=$(ls "$T/$t/alone/$i" 2>/dev/null | head -n 1)
			if [ -z "$h" ] ||
			    ! cmp -s "$T/$t/alone/$i/$h" "$T/$t/$order/$h"; then
				bad="$bad ${files[$i]##*/}"
			fi
		done
		if [ -z "$bad" ]; then
			pass "$t: $order: every transcript as when run alone"
		else
			fail "$t: $order: transcripts differ from a fresh process" \
				"$bad"
			for f in $bad; do
				for i in "${!files[@]}"; do
					[ "${files[$i]##*/}" = "$f" ] || continue
					h=$(ls "$T/$t/alone/$i" | head -n 1)
					diff "$T/$t/alone/$i/$h" "$T/$t/$order/$h" |
						head -n 6 | sed 's/^/    /'
				done
			done
		fi
	done
done
summary
