#!/usr/bin/env bash
# tests/t-layout.sh - scripts/check-layout on the tree (lib/'s folders
# include one way, no include circle between lib/ modules), and proof
# that it fails: on copies of lib/ in a temp dir (never the real tree)
# given an include against the order, an include circle (the old
# io.c <-> tls_io.c and log.c <-> startup.c ones), a folder outside the
# order and a header name used twice.
. "$(dirname "$0")/lib.sh"
cl=$top/scripts/check-layout

out=$("$cl" "$top" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q 'no violation' <<<"$out"; then
	pass "the tree: $out"
else
	fail "the tree" "$(head -n 5 <<<"$out")"
fi

# fresh NAME: a copy of lib/ at $T/NAME (prints its path)
fresh() {
	rm -rf "${T:?}/$1"
	mkdir -p "$T/$1"
	(cd "$top" && find lib -name '*.[ch]' -print0 | tar --null -cf - -T -) |
		tar -xf - -C "$T/$1"
	echo "$T/$1"
}
# addinc FILE HEADER: a line '#include "HEADER"' after FILE's last include
addinc() {
	local n
	n=$(grep -n '^#include' "$1" | tail -n 1 | cut -d: -f1)
	sed -i "${n}a #include \"$2\"" "$1"
	echo $((n + 1))
}
# expect_fail NAME DIR PATTERN: check-layout fails on DIR and says PATTERN
expect_fail() {
	local o r
	o=$("$cl" "$2" 2>&1)
	r=$?
	if [ $r -ne 0 ] && grep -qE -- "$3" <<<"$o"; then
		pass "$1: $(grep -E -- "$3" <<<"$o" | head -n 1)"
	else
		fail "$1" "exit $r, wanted /$3/: $(head -n 3 <<<"$o")"
	fi
}

d=$(fresh up)
check "a fresh copy passes" "$cl" "$d"
line=$(addinc "$d/lib/core/util.c" maildir.h)
expect_fail "core including store" "$d" "^lib/core/util.c:$line: includes \"maildir.h\" \\(lib/store/\\): lib/core/ may include only lib/core/$"

d=$(fresh side)
line=$(addinc "$d/lib/store/queue.c" userdb.h)
expect_fail "store including identity" "$d" "^lib/store/queue.c:$line: includes \"userdb.h\" \\(lib/identity/\\)"

d=$(fresh io)
line=$(addinc "$d/lib/net/tls_io.c" io.h)
expect_fail "the io <-> tls circle" "$d" "^lib/net/.*: include circle between modules io <-> tls.*lib/net/tls_io.c:$line \\(tls -> io\\)"

d=$(fresh log)
line=$(addinc "$d/lib/core/log.c" startup.h)
expect_fail "the log <-> startup circle" "$d" "include circle between modules log <-> startup.*lib/core/log.c:$line \\(log -> startup\\)"

d=$(fresh folder)
mkdir "$d/lib/extra"
printf '/* x.c */\n#include "util.h"\n' >"$d/lib/extra/x.c"
expect_fail "a folder outside the order" "$d" "^lib/extra/:0: folder not in the order"

d=$(fresh twice)
cp "$d/lib/core/util.h" "$d/lib/net/util.h"
expect_fail "a header name twice" "$d" "util.h:1: header name also in lib/"

d=$(fresh unknown)
line=$(addinc "$d/lib/relay/dsn.c" smtp.h)
expect_fail "a program's header" "$d" "^lib/relay/dsn.c:$line: includes \"smtp.h\", not a lib/ header"

# a unit test may include its folder and those below, nothing above
d=$(fresh unit)
line=$(addinc "$d/lib/core/util_test.c" queue.h)
expect_fail "a unit test including above" "$d" "^lib/core/util_test.c:$line: includes \"queue.h\""
summary
