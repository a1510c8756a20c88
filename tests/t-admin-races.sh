#!/usr/bin/env bash
# tests/t-admin-races.sh - mailbox-admin, run as root, never follows a
# symbolic link that the service user (here: nobody, owner of the mail
# root) can plant: a link as a parent component of a maildir before `add`
# and before `del` makes the command refuse with a clear message, and
# nothing outside the mail root is created, chowned or removed; then the
# same with a process (as nobody) swapping a domain folder and a link
# with renameat2(RENAME_EXCHANGE) while adds and dels run.
PUBLIC_TMP=1	# nobody works in the mail root: $T outside the checkout
. "$(dirname "$0")/lib.sh"

if [ ! -x "$ADMIN" ]; then
	fail mailbox-admin "not built ($ADMIN)"
	summary; exit
fi
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	skip "admin races" "needs root and a user nobody"
	summary; exit
fi

# maildir paths may hold no symbolic link: the physical path of $T
T=$(cd "$T" && pwd -P)
DB=$T/etc/users
MAIL=$T/mail
V=$T/victim
chmod 755 "$T"
mkdir -p "$T/etc" "$MAIL"
chown nobody:nogroup "$MAIL"
chmod 700 "$MAIL"
A() { "$ADMIN" --db "$DB" --mail-root "$MAIL" --owner nobody "$@"; }
add() { local a=$1; shift; printf 'pw\n' | A add "$a" --password-stdin "$@"; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
snap() { md5sum <"$DB"; md5sum <"$DB.cdb"; }
# the tree an attacker would like root to chown or remove
victim() {
	find "$V" -printf '%p %u:%g %m %s\n' | sort
}
mkdir -p "$V/carol/tmp" "$V/carol/new" "$V/carol/cur" "$V/tmp"
echo precious >"$V/carol/cur/1.precious:2,S"
chmod 1777 "$V/tmp"
V0=$(victim)
# refused NAME CODE PATTERN CMD...: exit CODE, PATTERN on stderr, the
# database unchanged, the victim untouched
refused() {
	local name=$1 code=$2 pat=$3 before rc; shift 3
	before=$(snap)
	"$@" >"$T/out" 2>"$T/err" </dev/null; rc=$?
	if [ "$rc" != "$code" ]; then
		fail "$name" "exit $rc, expected $code: $(head -c 300 "$T/err")"
	elif ! grep -q -- "$pat" "$T/err"; then
		fail "$name" "no '$pat' in: $(head -c 300 "$T/err")"
	elif [ "$before" != "$(snap)" ]; then
		fail "$name" "database changed"
	elif [ "$(victim)" != "$V0" ]; then
		fail "$name" "the victim tree changed: $(diff <(echo "$V0") <(victim) | head -n 5 | tr '\n' ' ')"
	else
		pass "$name"
	fi
}

A domain add example.jp >/dev/null
A domain add example.org >/dev/null

# --- add: a link as the domain folder ---------------------------------------
as_nobody ln -s "$V" "$MAIL/example.jp"
printf 'pw\n' >"$T/pw"
refused "add through a linked domain folder is refused" 73 "symbolic link" \
	bash -c "A() { '$ADMIN' --db '$DB' --mail-root '$MAIL' --owner nobody \"\$@\"; }; A add bob@example.jp --password-stdin <'$T/pw'"
check "nothing created in the link's target" [ ! -e "$V/bob" ]
# a link to a stand-in for / (a real / would get /NAME, or a chowned
# /tmp through path/tmp; the test never risks the real one)
as_nobody ln -s "$V" "$MAIL/example.org"
refused "add through a link to a root-owned tree is refused" 73 "symbolic link" \
	bash -c "'$ADMIN' --db '$DB' --mail-root '$MAIL' --owner nobody add tmp@example.org --password-stdin <'$T/pw'"
check "its tmp/ still root's" [ "$(stat -c %u "$V/tmp")" = 0 ]
rm "$MAIL/example.org"
# a link deeper in a --maildir path
as_nobody mkdir "$MAIL/deep"
as_nobody ln -s "$V" "$MAIL/deep/x"
refused "add --maildir through a link is refused" 73 "symbolic link" \
	bash -c "'$ADMIN' --db '$DB' --mail-root '$MAIL' --owner nobody add dora@example.jp --maildir '$MAIL/deep/x/dora' --password-stdin <'$T/pw'"
# the maildir itself a link to an existing directory
as_nobody ln -s "$V/carol" "$MAIL/deep/erin"
refused "add with the maildir a link is refused" 73 "symbolic link" \
	bash -c "'$ADMIN' --db '$DB' --mail-root '$MAIL' --owner nobody add erin@example.jp --maildir '$MAIL/deep/erin' --password-stdin <'$T/pw'"
rm "$MAIL/example.jp"

# a normal add still works and chowns what it made
check "add works without links" add carol@example.jp
check "new domain folder owned by nobody" [ "$(stat -c %U "$MAIL/example.jp")" = nobody ]
check "maildir subfolders owned by nobody" [ "$(stat -c %U "$MAIL/example.jp/carol/tmp")" = nobody ]

# --- del: the domain folder swapped for a link ------------------------------
as_nobody mv "$MAIL/example.jp" "$MAIL/example.jp.real"
as_nobody ln -s "$V" "$MAIL/example.jp"
refused "stat through a linked domain folder is refused" 65 "symbolic link" A stat carol@example.jp
refused "del through a linked domain folder is refused" 65 "symbolic link" A del carol@example.jp
check "victim's carol still there" [ -f "$V/carol/cur/1.precious:2,S" ]
rm "$MAIL/example.jp"
as_nobody mv "$MAIL/example.jp.real" "$MAIL/example.jp"
check "del works without links" A del carol@example.jp
check "carol's maildir removed" [ ! -e "$MAIL/example.jp/carol" ]
check "victim untouched after the dels" [ "$(victim)" = "$V0" ]

# --- a swapper running while adds and dels run -------------------------------
# nobody exchanges the real domain folder and a link to the victim, as
# fast as it can (RENAME_EXCHANGE: the name is always one or the other).
as_nobody ln -s "$V" "$MAIL/swap"
cat >"$T/swapper.py" <<'PY'
import ctypes, os, pwd, sys
a, b = (p.encode() for p in sys.argv[1:3])
libc = ctypes.CDLL(None, use_errno=True)
pw = pwd.getpwnam("nobody")
os.setgroups([]); os.setgid(pw.pw_gid); os.setuid(pw.pw_uid)
open(sys.argv[3], "w").close()
while True:
    libc.renameat2(-100, a, -100, b, 2)   # AT_FDCWD, RENAME_EXCHANGE
PY
mkdir "$T/run" && chown nobody "$T/run"
python3 "$T/swapper.py" "$MAIL/example.jp" "$MAIL/swap" "$T/run/up" &
swapper=$!
for i in $(seq 1 50); do [ -e "$T/run/up" ] && break; sleep 0.1; done
check "swapper runs" kill -0 $swapper
added=0 refusals=0 dels=0
for i in $(seq 1 25); do
	if printf 'pw\n' | A add "u$i@example.jp" --password-stdin >/dev/null 2>>"$T/race.err"; then
		added=$((added + 1))
		A del "u$i@example.jp" >/dev/null 2>>"$T/race.err" && dels=$((dels + 1))
	else
		refusals=$((refusals + 1))
	fi
done
kill $swapper; wait $swapper 2>/dev/null
echo "during the swaps: $added adds, $dels dels, $refusals refusals"
check "victim untouched during the swaps" [ "$(victim)" = "$V0" ]
check "nothing of the victim owned by nobody" [ -z "$(find "$V" -user nobody)" ]
other=$(grep -v -e 'symbolic link' -e 'changed while' -e 'nothing changed' -e 'not fully removed' \
	-e 'no longer exists' "$T/race.err" | head -n 3)
if [ -z "$other" ]; then
	pass "every refusal names the link"
else
	fail "every refusal names the link" "$other"
fi

summary
