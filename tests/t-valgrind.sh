#!/usr/bin/env bash
# tests/t-valgrind.sh - the golden transcripts of pop3-handler and
# smtp-handler (tests/t-pop3-golden.sh, tests/t-smtp-golden.sh) run with
# every handler process under valgrind (memcheck, --leak-check=full,
# definite leaks count as errors). Reported per transcript: PASS when
# each of its processes ran clean and the transcript still matched.
# Valgrind replaces malloc through the dynamic loader, so the handlers
# are linked again, dynamically, from the tree's objects into the temp
# dir (the installed handlers may be static PIEs). Skipped for ASan
# builds (make check-asan), which valgrind cannot run.
. "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null; then
	skip valgrind "valgrind is not installed"; summary; exit
fi
vg=$T/vg
mkdir -p "$vg"
runners=()
for prog in pop3 smtp; do
	dir=$prog-handler
	objs=()
	for c in "$top/$dir"/*.c; do
		case $c in *_test.c) continue ;; esac
		objs+=("${c%.c}.o")
	done
	if [ ! -x "$top/$dir/$dir" ] || [ ! -f "$top/lib/libpostern.a" ]; then
		skip "valgrind $prog" "$dir is not built"; continue
	fi
	if grep -q __asan_init "$top/$dir/$dir" "$top/lib/libpostern.a" 2>/dev/null; then
		skip "valgrind $prog" "$dir is an ASan build"; continue
	fi
	bin=$T/$dir
	if ! ${CC:-cc} -pie -o "$bin" "${objs[@]}" "$top/lib/libpostern.a" \
		-lbearssl -lcdb -lcrypt 2>"$T/link-$prog.log"; then
		fail "valgrind $prog: dynamic link" "$(head -n 3 "$T/link-$prog.log")"; continue
	fi
	mkdir -p "$vg/$prog"
	cat >"$T/vg-$prog" <<X
#!/bin/sh
echo "\$\$ \$*" >>"$vg/$prog/calls"
exec valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --log-file="$vg/$prog/%p.log" "$bin" "\$@"
X
	chmod +x "$T/vg-$prog"
	runners+=("$prog")
done
[ ${#runners[@]} -gt 0 ] || { summary; exit; }

# both runners at once (each is sequential)
for prog in "${runners[@]}"; do
	if [ $prog = pop3 ]; then
		POP3_TEST_BIN=$T/vg-pop3 "$top/tests/t-pop3-golden.sh" >"$vg/pop3.out" 2>&1 &
	else
		SMTP_BIN=$T/vg-smtp "$top/tests/t-smtp-golden.sh" >"$vg/smtp.out" 2>&1 &
	fi
done
wait

for prog in "${runners[@]}"; do
	calls=$(wc -l <"$vg/$prog/calls" 2>/dev/null || echo 0)
	logs=$(find "$vg/$prog" -name '*.log' | wc -l)
	check "valgrind $prog: $calls handler runs, each under valgrind ($logs logs)" \
		test "$calls" -gt 20 -a "$calls" = "$logs"
done

# report: NAME -> its valgrind logs and the runner's verdict
report() {
	local prog=$1 name=$2 verdict=$3; shift 3
	local bad="" l
	for l in "$@"; do
		[ -s "$l" ] && bad="$bad $l"
	done
	if [ -n "$bad" ]; then
		fail "valgrind $prog $name" "memcheck errors:"
		for l in $bad; do grep -E "==[0-9]+== (Invalid|Conditional|Use of|Syscall|.*definitely|   (at|by) )" "$l" | head -n 12 | sed 's/^/    /'; done
	elif [ "$verdict" != PASS ]; then
		fail "valgrind $prog $name" "the transcript differed under valgrind"
	else
		pass "valgrind $prog $name"
	fi
}

if [ -f "$vg/pop3.out" ]; then
	# the pop3 runner gives each transcript its own dir: --users DIR/NAME/users.cdb
	for f in "$top"/tests/golden/pop3/*.in; do
		name=${f##*/}; name=${name%.in}
		case $name in *.pre) continue ;; esac
		logs=()
		while read -r pid args; do
			case " $args " in *"/$name/users.cdb "*) logs+=("$vg/pop3/$pid.log") ;; esac
		done <"$vg/pop3/calls"
		verdict=FAIL
		grep -qE "^PASS: $name\$" "$vg/pop3.out" && verdict=PASS
		report pop3 "$name" "$verdict" "${logs[@]}"
	done
	other=$(grep -vE "/users.cdb " "$vg/pop3/calls" | cut -d' ' -f1)
	report pop3 "option checks" PASS $(for p in $other; do echo "$vg/pop3/$p.log"; done)
fi
if [ -f "$vg/smtp.out" ]; then
	# the smtp runner runs the transcripts in order, each with --spool
	mapfile -t pids < <(grep -- "--spool" "$vg/smtp/calls" | cut -d' ' -f1)
	mapfile -t names < <(grep -oE "^(PASS|FAIL): golden [^: ]+" "$vg/smtp.out")
	if [ ${#pids[@]} -ne ${#names[@]} ]; then
		fail "valgrind smtp" "${#pids[@]} runs for ${#names[@]} transcripts"
	fi
	for i in "${!names[@]}"; do
		verdict=${names[$i]%%:*} name=${names[$i]##* }
		report smtp "$name" "$verdict" "$vg/smtp/${pids[$i]:-none}.log"
	done
	other=$(grep -v -- "--spool" "$vg/smtp/calls" | cut -d' ' -f1)
	report smtp "option checks" PASS $(for p in $other; do echo "$vg/smtp/$p.log"; done)
fi
summary
