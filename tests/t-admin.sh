#!/usr/bin/env bash
# tests/t-admin.sh - mailbox-admin end to end, in a temp dir: every
# command's effect on the text source, the CDB (read back with the stock
# `cdb` tool) and the maildirs; every error case leaves both files
# byte-identical; `cdb -c -m` builds the same database; concurrent adds
# lose nothing; readers never see a partial database during rebuilds.
# the queue commands run as nobody, who must reach $T also from a
# checkout in /root (mode 0700)
PUBLIC_TMP=1
. "$(dirname "$0")/lib.sh"

if [ ! -x "$ADMIN" ]; then
	skip mailbox-admin "not built ($ADMIN)"
	summary; exit
fi
if ! command -v cdb >/dev/null; then
	skip mailbox-admin "the stock cdb tool (package tinycdb) is missing"
	summary; exit
fi

# maildir paths may hold no symbolic link: the physical path of $T
T=$(cd "$T" && pwd -P)
DB=$T/etc/users
CDB=$DB.cdb
MAIL=$T/mail
SPOOL=$T/spool
mkdir -p "$T/etc" "$MAIL" "$SPOOL"
[ "$(id -u)" = 0 ] && getent group nogroup >/dev/null && chgrp nogroup "$T/etc"
A() { "$ADMIN" --db "$DB" --mail-root "$MAIL" --spool "$SPOOL" "$@"; }
# add ADDRESS PASSWORD [options]
add() { local a=$1 p=$2; shift 2; printf '%s\n' "$p" | A add "$a" --password-stdin "$@"; }
# q KEY: the CDB value (stock tool), fails when absent
q() { cdb -q "$CDB" "$1"; }
# verify PASSWORD HASH: libcrypt through perl
verify() { perl -e 'exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 0 : 1)' "$1" "$2"; }
hash_of() { q "$1" | awk '{print $1}'; }
snap() { { { md5sum <"$DB"; } 2>/dev/null || echo none; { md5sum <"$CDB"; } 2>/dev/null || echo none; } | tr '\n' ' '; }
# fails NAME CODE CMD...: exit status CODE, a message on stderr, and the
# text and the CDB unchanged
fails() {
	local name=$1 code=$2 before after rc; shift 2
	before=$(snap)
	"$@" >"$T/out" 2>"$T/err" </dev/null; rc=$?
	after=$(snap)
	if [ "$rc" != "$code" ]; then
		fail "$name" "exit $rc, expected $code: $(head -c 300 "$T/err")"
	elif [ ! -s "$T/err" ]; then
		fail "$name" "no message on stderr"
	elif [ "$before" != "$after" ]; then
		fail "$name" "database changed"
	else
		pass "$name"
	fi
}
no_temps() { ! ls "$T/etc" | grep -Eq '\.tmp\.|\.cdb\.[0-9]'; }

# --- help and version ------------------------------------------------------
help=$("$ADMIN" --help)
ok=1
for o in --db --spool --mail-root --owner --maildir --quota --password-stdin \
    --scheme --keep-mail --hold --host --etrn-from --force add passwd del \
    list lock unlock stat quota domain alias check build queue --revoked cert; do
	grep -q -- "$o" <<<"$help" || { ok=0; echo "help lacks $o"; }
done
check "--help lists every option and command" [ $ok = 1 ]
check "--version" bash -c "'$ADMIN' --version | grep -q '[0-9]\.[0-9]'"
fails "no command -> 64" 64 "$ADMIN" --db "$DB"

# --- domains -------------------------------------------------------------
check "domain add (missing text file is created)" A domain add Example.JP
check "text has the domain line" grep -qx 'example.jp  *domain' "$DB"
check "cdb -q finds the domain" [ "$(q example.jp)" = domain ]
check "text file mode 0640" [ "$(stat -c %a "$DB")" = 640 ]
check "cdb file mode 0640" [ "$(stat -c %a "$CDB")" = 640 ]
check "lock file beside the text" [ -f "$DB.lock" ]
if [ "$(id -u)" = 0 ] && [ "$(stat -c %G "$T/etc")" = nogroup ]; then
	check "new text takes the group of its directory" [ "$(stat -c %G "$DB")" = nogroup ]
	check "the CDB has the group of the text" [ "$(stat -c %G "$CDB")" = nogroup ]
else
	skip "group of a new database" "needs root and a group nogroup"
fi
check "domain add hold" A domain add dialup.example --hold --host 127.0.0.1:2525 \
	--etrn-from 192.0.2.0/24,2001:db8::/32
check "hold value in the CDB" [ "$(q dialup.example)" = \
	"hold                host=127.0.0.1:2525           etrn-from=192.0.2.0/24,2001:db8::/32" ]
check "domain add hold without options" A domain add mx.example --hold
check "domain add hold --odmr" A domain add odmr.example --hold \
	--odmr site@example.jp,other@example.jp
check "odmr= in the CDB" grep -q ' odmr=site@example.jp,other@example.jp$' \
	<<<"$(q odmr.example)"
check "domain add second local domain" A domain add example.org

# --- users -------------------------------------------------------------------
check "add alice (yescrypt default)" add alice@example.jp 'pass word 1' --quota 100M
v=$(q alice@example.jp)
check "alice in the CDB with \$y\$ hash" grep -q '^\$y\$' <<<"$v"
check "alice quota in the CDB" grep -q ' quota=100M$' <<<"$v"
check "alice maildir path in the record" grep -q " $MAIL/example.jp/alice " <<<"$v"
check "alice password verifies" verify 'pass word 1' "$(hash_of alice@example.jp)"
check "a wrong password does not" bash -c "! perl -e 'exit(crypt(\$ARGV[0],\$ARGV[1]) eq \$ARGV[1] ? 0 : 1)' wrong '$(hash_of alice@example.jp)'"
check "alice maildir tmp/new/cur" [ -d "$MAIL/example.jp/alice/tmp" -a -d "$MAIL/example.jp/alice/new" -a -d "$MAIL/example.jp/alice/cur" ]
check "alice maildir mode 0700" [ "$(stat -c %a "$MAIL/example.jp/alice")" = 700 ]
check "add with sha512crypt" add Bob@Example.JP 'b0b' --scheme sha512crypt
check "bob stored lowercase, \$6\$" grep -q '^\$6\$' <<<"$(q bob@example.jp)"
check "bob password verifies" verify b0b "$(hash_of bob@example.jp)"
check "add with bcrypt" add carol@example.jp 'c@rol' --scheme bcrypt
check "carol \$2b\$" grep -q '^\$2b\$' <<<"$(q carol@example.jp)"
check "carol password verifies" verify 'c@rol' "$(hash_of carol@example.jp)"
check "add with --maildir" add dave@example.org d --maildir "$T/other/dave"
check "dave maildir created" [ -d "$T/other/dave/new" ]
check "dave record names it" grep -q " $T/other/dave\$" <<<"$(q dave@example.org)"
if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	check "add with --owner nobody" add erin@example.org e --owner nobody
	check "maildir owned by nobody" [ "$(stat -c %U "$MAIL/example.org/erin")" = nobody ]
	check "new parent dir owned by nobody too" [ "$(stat -c %U "$MAIL/example.org")" = nobody ]
	check "subdirs owned by nobody" [ "$(stat -c %U "$MAIL/example.org/erin/cur")" = nobody ]
	A del erin@example.org >/dev/null
else
	skip "--owner" "needs root and a user nobody"
fi

# passwd
old=$(hash_of alice@example.jp)
check "passwd --password-stdin" bash -c "printf 'new pass\n' | '$ADMIN' --db '$DB' passwd alice@example.jp --password-stdin >/dev/null"
new=$(hash_of alice@example.jp)
check "new password verifies" verify 'new pass' "$new"
check "old password no longer" [ "$old" != "$new" ]
check "passwd keeps the quota" grep -q 'quota=100M' <<<"$(q alice@example.jp)"
check "passwd --scheme sha512crypt" bash -c "printf 'x\n' | '$ADMIN' --db '$DB' passwd bob@example.jp --password-stdin --scheme sha512crypt >/dev/null"
check "CRLF line end stripped" bash -c "printf 'crlf\r\n' | '$ADMIN' --db '$DB' passwd bob@example.jp --password-stdin >/dev/null"
check "crlf password verifies" verify crlf "$(hash_of bob@example.jp)"
if command -v setsid >/dev/null; then
	fails "passwd without a terminal -> 64" 64 setsid -w "$ADMIN" --db "$DB" passwd alice@example.jp
	fails "add without a terminal -> 64" 64 setsid -w "$ADMIN" --db "$DB" --mail-root "$MAIL" add zed@example.jp
	check "no maildir for zed" [ ! -e "$MAIL/example.jp/zed" ]
else
	skip "no terminal" "setsid missing"
fi

# the terminal prompt (a pseudo-terminal): twice, echo off
ttypw() { # ttypw ADDRESS FIRST SECOND: prints the exit status, then "ECHO" if a password was echoed
	python3 - "$ADMIN" "$DB" "$@" <<'PY'
import os, pty, select, sys
admin, db, addr, first, second = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(admin, [admin, "--db", db, "passwd", addr])
buf = b""
def expect(s):
    global buf
    while s not in buf:
        r, _, _ = select.select([fd], [], [], 10)
        if not r:
            return
        try:
            d = os.read(fd, 1024)
        except OSError:
            return
        if not d:
            return
        buf += d
expect(b"New password: ")
os.write(fd, first.encode() + b"\n")
expect(b"Retype new password: ")
os.write(fd, second.encode() + b"\n")
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    buf += d
_, st = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(st))
if first.encode() in buf or second.encode() in buf:
    print("ECHO")
PY
}
out=$(ttypw alice@example.jp 'tty pass' 'tty pass')
check "passwd on a terminal: exit 0, no echo" [ "$out" = 0 ]
check "terminal password verifies" verify 'tty pass' "$(hash_of alice@example.jp)"
before=$(snap)
out=$(ttypw alice@example.jp 'one pass' 'other pass')
check "passwd on a terminal: mismatch -> 65, no echo" [ "$out" = 65 ]
check "mismatch changed nothing" [ "$before" = "$(snap)" ]

# lock, unlock, quota
check "lock" A lock alice@example.jp
check "locked in the CDB" grep -q 'quota=100M,locked$' <<<"$(q alice@example.jp)"
check "lock again is fine" A lock alice@example.jp
check "unlock" A unlock alice@example.jp
check "unlocked in the CDB" bash -c "! cdb -q '$CDB' alice@example.jp | grep -q locked"
check "quota 1G" A quota alice@example.jp 1G
check "quota=1G in the CDB" grep -q 'quota=1G$' <<<"$(q alice@example.jp)"
check "quota 1536K" A quota alice@example.jp 1536k
check "quota=1536K" grep -q 'quota=1536K$' <<<"$(q alice@example.jp)"
check "quota 0 removes it" A quota alice@example.jp 0
check "no quota= left" bash -c "! cdb -q '$CDB' alice@example.jp | grep -q quota="

# aliases
check "alias add" A alias add postmaster@example.jp alice@example.jp Bob@example.jp,carol@example.jp
check "alias value normalised" [ "$(q postmaster@example.jp)" = \
	"alias               alice@example.jp,bob@example.jp,carol@example.jp" ]
check "alias to a remote address" A alias add fwd@example.org someone@elsewhere.example
check "alias del" A alias del fwd@example.org
check "alias gone from the CDB" bash -c "! cdb -q '$CDB' fwd@example.org"

# list / domain list / stat
out=$(A list)
check "list shows users without hashes" bash -c "grep -q '^alice@example.jp  *user' <<<'$out' && ! grep -q '\\\$y\\\$' <<<'$out'"
check "list DOMAIN filters" bash -c "[ \"\$('$ADMIN' --db '$DB' list example.org | wc -l)\" = 2 ]"
check "domain list" bash -c "'$ADMIN' --db '$DB' domain list | grep -q '^example.jp  *domain  *3 users, 1 alias'"
md=$MAIL/example.jp/alice
printf 'a\nb\n' >"$md/new/1000.M1P1Q1.h,S=4,W=6"
printf 'abc\n' >"$md/cur/1001.M1P1Q2.h,S=4,W=5:2,S"
printf 'x\ny\nz\n' >"$md/cur/1002.M1P1Q3.h:2,"
A quota alice@example.jp 100 >/dev/null
out=$(A stat alice@example.jp)
check "stat new" grep -q '^new: *1 messages, 6 bytes' <<<"$out"
check "stat cur (one size measured, LF counted as CRLF)" grep -q '^cur: *2 messages, 14 bytes' <<<"$out"
check "stat total" grep -q '^total: *3 messages, 20 bytes' <<<"$out"
check "stat quota" grep -q '^quota: *100 (100 bytes), 20% used' <<<"$out"
A quota alice@example.jp 0 >/dev/null

# comments, blank lines and order survive edits
cp "$DB" "$T/before"
{ echo '# a comment'; echo; echo '   # indented comment'; } >>"$DB"
sed -i '1i # header comment' "$DB"
A build >/dev/null
check "add keeps comments" add frank@example.jp f
check "header comment still first" [ "$(head -n1 "$DB")" = '# header comment' ]
check "comments kept" bash -c "grep -qx '# a comment' '$DB' && grep -qx '   # indented comment' '$DB'"
check "new line appended last" bash -c "tail -n1 '$DB' | grep -q '^frank@example.jp '"
check "old lines in order" bash -c "diff <(grep -v -e '^#' -e '^ *#' -e '^\$' -e '^frank' '$DB') '$T/before'"

# --- cdb -c -m compatibility -------------------------------------------------
cdb -c -m "$T/stock.cdb" "$DB"
check "stock cdb -c -m gives a byte-identical CDB" cmp -s "$T/stock.cdb" "$CDB"
check "cdb -d dumps equal" diff <(cdb -d "$T/stock.cdb") <(cdb -d "$CDB")
# a hand-written file with tabs, indents, odd spacing
cat >"$T/hand" <<EOF
# hand written
	example.net	domain
  postmaster@example.net    alias	a@example.net,  b@example.net
a@example.net $(hash_of bob@example.jp)	/var/mail/example.net/a  quota=1M,locked
hold.example hold host=[2001:db8::1]:25 etrn-from=10.0.0.0/8 etrn-from=192.0.2.1
b@example.net $(hash_of bob@example.jp) /var/mail/example.net/b nopop3 nosmtp   
EOF
"$ADMIN" --db "$T/hand" check >/dev/null 2>"$T/err"
check "hand-written file passes check" [ $? = 0 ]
check "build of the hand-written file" "$ADMIN" --db "$T/hand" build
cdb -c -m "$T/hand-stock.cdb" "$T/hand"
check "hand-written: identical to cdb -c -m" cmp -s "$T/hand-stock.cdb" "$T/hand.cdb"
check "hand-written: cdb -d equal" diff <(cdb -d "$T/hand-stock.cdb") <(cdb -d "$T/hand.cdb")

# --- error cases: exit code, message, nothing changed ---------------------------
A build >/dev/null
fails "bad address (doubled dot)" 65 A alias add a..b@example.jp alice@example.jp
fails "bad address (no @)" 65 add alice.example.jp x
fails "bad address (two @)" 65 add a@b@example.jp x
fails "bad address (space)" 65 add 'a b@example.jp' x
fails "bad address (65-octet local part)" 65 add "$(printf 'a%.0s' $(seq 65))@example.jp" x
fails "bad domain name" 65 A domain add exa_mple.jp
fails "bad domain name (label dash)" 65 A domain add x-.example
fails "unknown domain" 65 add zoe@nowhere.example x
fails "user in a hold domain" 65 add zoe@dialup.example x
fails "duplicate user" 65 add alice@example.jp x
fails "duplicate user (case)" 65 add ALICE@example.jp x
fails "user over an alias" 65 add postmaster@example.jp x
fails "duplicate domain" 65 A domain add example.jp
fails "duplicate alias" 65 A alias add postmaster@example.jp bob@example.jp
fails "alias in unknown domain" 65 A alias add x@nowhere.example alice@example.jp
fails "alias with a bad target" 65 A alias add x@example.jp 'bad target@x'
fails "alias to itself" 65 A alias add x@example.jp x@example.jp
fails "passwd missing user" 65 A passwd nobody@example.jp --password-stdin
fails "del missing user" 65 A del nobody@example.jp
fails "del an alias as a user" 65 A del postmaster@example.jp
fails "lock missing user" 65 A lock nobody@example.jp
fails "unlock missing user" 65 A unlock nobody@example.jp
fails "quota missing user" 65 A quota nobody@example.jp 1M
fails "stat missing user" 65 A stat nobody@example.jp
fails "alias del missing" 65 A alias del nobody@example.jp
fails "domain del missing" 65 A domain del nowhere.example
fails "bad size (letters)" 65 A quota alice@example.jp lots
fails "bad size (suffix)" 65 A quota alice@example.jp 12Q
fails "bad size (negative)" 65 A quota alice@example.jp -- -5
fails "a dash argument is an unknown option" 64 A quota alice@example.jp -5
fails "bad size (overflow)" 65 A quota alice@example.jp 99999999999999999999
fails "bad --quota on add" 65 add zoe@example.jp x --quota 1T
fails "bad CIDR" 65 A domain add h1.example --hold --etrn-from 192.0.2.0/33
fails "bad CIDR (garbage)" 65 A domain add h1.example --hold --etrn-from 10.0.0.0/8,nonsense
fails "bad CIDR (empty)" 65 A domain add h1.example --hold --etrn-from 10.0.0.0/8,,10.1.0.0/16
fails "bad --odmr (no domain)" 65 A domain add h1.example --hold --odmr site
fails "--odmr without --hold" 64 A domain add h1.example --odmr site@example.jp
fails "bad host" 65 A domain add h1.example --hold --host 'bad_host:25'
fails "bad port" 65 A domain add h1.example --hold --host 'relay.example:99999'
fails "relative --maildir" 65 add zoe@example.jp x --maildir relative/zoe
fails "--maildir with .." 65 add zoe@example.jp x --maildir /var/mail/../etc
fails "--maildir with a blank" 65 add zoe@example.jp x --maildir '/var/mail/a b'
fails "--maildir of another user" 65 add zoe@example.jp x --maildir "$MAIL/example.jp/alice"
fails "--maildir inside another's" 65 add zoe@example.jp x --maildir "$MAIL/example.jp/alice/.sub"
fails "empty password" 65 add zoe@example.jp ''
fails "no password on stdin" 65 A add zoe@example.jp --password-stdin
check "no maildir left for zoe" [ ! -e "$MAIL/example.jp/zoe" ]
fails "unknown command" 64 A frobnicate
fails "unknown option" 64 A list --frobnicate
fails "option of another command" 64 A list --keep-mail
fails "missing argument (add)" 64 A add
fails "missing argument (quota)" 64 A quota alice@example.jp
fails "too many arguments" 64 A lock alice@example.jp bob@example.jp
fails "option without its value" 64 A add zoe@example.jp --quota
fails "unknown scheme" 64 add zoe@example.jp x --scheme md5
fails "--host without --hold" 64 A domain add h2.example --host 127.0.0.1
fails "--hold on domain del" 64 A domain del example.org --hold
fails "unknown domain subcommand" 64 A domain rename example.org
fails "alias add without targets" 64 A alias add x@example.jp
fails "unknown queue subcommand" 64 A queue purge
fails "domain del with users" 65 A domain del example.jp
fails "list of an unknown domain" 65 A list nowhere.example
fails "bad domain for list" 65 A list 'bad_domain'
check "no temporary files left behind" no_temps

# a broken text: every change refused, build refused, check reports
cp "$DB" "$T/good"
cp "$CDB" "$T/good.cdb"
echo 'alice@example.jp  alias  bob@example.jp' >>"$DB"
fails "duplicate key in the text: build -> 65" 65 A build
fails "duplicate key in the text: add -> 65" 65 add zoe@example.jp x
fails "duplicate key: check -> 65" 65 A check
grep -q 'duplicate' "$T/err"; check "check names the duplicate" [ $? = 0 ]
cp "$T/good" "$DB"
echo 'Upper@example.jp  $6$x$y  /var/mail/u' >>"$DB"
fails "uppercase key in the text: build -> 65" 65 A build
cp "$T/good" "$DB"
echo 'bad@example.jp  $6$abc$def  relative/path' >>"$DB"
fails "relative maildir in the text: build -> 65" 65 A build
cp "$T/good" "$DB"
printf 'crlf.example domain\r\n' >>"$DB"
fails "CR in the text: build -> 65" 65 A build
cp "$T/good" "$DB"
check "the CDB was never touched" cmp -s "$T/good.cdb" "$CDB"
fails "check on a missing file -> 66" 66 "$ADMIN" --db "$T/none" check
fails "build on a missing file -> 66" 66 "$ADMIN" --db "$T/none" build

# --- check warnings ---------------------------------------------------------------
A check >"$T/out" 2>"$T/err"
check "check passes (0)" [ $? = 0 ]
check "check warns: example.org has no postmaster" grep -q 'no postmaster@example.org' "$T/err"
check "check does not warn for example.jp" bash -c "! grep -q 'no postmaster@example.jp' '$T/err'"
echo "legacy@example.jp  $(perl -e 'print crypt("x", "\$1\$abcdefgh\$")')  $MAIL/example.jp/legacy" >>"$DB"
echo "orphan@nowhere.example  alias  alice@example.jp" >>"$DB"
A check >"$T/out" 2>"$T/err"
check "check with warnings still 0" [ $? = 0 ]
check "check warns about a legacy hash" grep -q 'legacy@example.jp: warning: legacy password hash' "$T/err"
check "check warns about an orphan record" grep -q 'orphan@nowhere.example: warning: domain' "$T/err"
check "check warns the CDB is stale" grep -q 'not built from the current text' "$T/err"
check "build after a manual edit" A build
check "cdb has the manual record" bash -c "cdb -q '$CDB' legacy@example.jp >/dev/null"
A check >/dev/null 2>"$T/err"
check "check: CDB current now" bash -c "! grep -q 'not built' '$T/err'"

# --- del ------------------------------------------------------------------------
add gina@example.jp g >/dev/null
printf 'm\n' >"$MAIL/example.jp/gina/new/1.M1P1Q1.h,S=2,W=3"
check "del removes user and maildir" A del gina@example.jp
check "gina gone from the CDB" bash -c "! cdb -q '$CDB' gina@example.jp"
check "gina maildir removed" [ ! -e "$MAIL/example.jp/gina" ]
check "domain dir kept" [ -d "$MAIL/example.jp" ]
add hank@example.jp h >/dev/null
check "del --keep-mail" A del hank@example.jp --keep-mail
check "hank maildir kept" [ -d "$MAIL/example.jp/hank/new" ]
# a maildir with a symlink inside: the link goes, its target stays
add ivan@example.jp i >/dev/null
mkdir -p "$T/precious"; echo keep >"$T/precious/file"
ln -s "$T/precious" "$MAIL/example.jp/ivan/cur/link"
ln -s "$T/precious/file" "$MAIL/example.jp/ivan/new/flink"
check "del with symlinks inside" A del ivan@example.jp
check "symlink targets untouched" [ -f "$T/precious/file" ]
check "ivan maildir gone" [ ! -e "$MAIL/example.jp/ivan" ]
# the maildir itself is a symlink: refused, nothing changed
add judy@example.jp j --maildir "$T/judy-link" >/dev/null
rm -rf "$T/judy-link"; mkdir -p "$T/judy-real"/{tmp,new,cur}; ln -s "$T/judy-real" "$T/judy-link"
fails "del refuses a symlinked maildir" 65 A del judy@example.jp
check "symlinked maildir target untouched" [ -d "$T/judy-real/new" ]
# not a maildir: refused
rm "$T/judy-link"; mkdir -p "$T/judy-link/important"
fails "del refuses a directory that is not a maildir" 65 A del judy@example.jp
check "non-maildir kept" [ -d "$T/judy-link/important" ]
check "del --keep-mail still works" A del judy@example.jp --keep-mail
# maildir already gone
add kim@example.jp k >/dev/null
rm -rf "$MAIL/example.jp/kim"
check "del with a missing maildir" A del kim@example.jp

# --- domain del -------------------------------------------------------------------
check "domain del empty domain" A domain del mx.example
check "mx.example gone" bash -c "! cdb -q '$CDB' mx.example"
A domain add temp.example >/dev/null
add u1@temp.example u >/dev/null
A alias add postmaster@temp.example u1@temp.example >/dev/null
check "domain del --force" A domain del temp.example --force
check "its user and alias are gone" bash -c "! grep -q '@temp.example' '$DB' && ! cdb -q '$CDB' u1@temp.example"
check "its maildir is kept" [ -d "$MAIL/temp.example/u1" ]

# --- concurrency: 2 x 10 parallel adds lose nothing ---------------------------
A domain add conc.example >/dev/null
for b in 1 2; do
	(
		pids=()
		for i in $(seq 1 10); do
			printf 'pw\n' | "$ADMIN" --db "$DB" --mail-root "$MAIL" add "u$b-$i@conc.example" \
				--password-stdin --scheme sha512crypt >/dev/null 2>>"$T/conc.err" &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || echo "add failed" >>"$T/conc.err"; done
	) &
done
wait
n_text=$(grep -c '@conc.example ' "$DB")
n_cdb=$(cdb -d -m "$CDB" | grep -c '@conc.example ')
check "20 concurrent adds: all in the text" [ "$n_text" = 20 ]
check "20 concurrent adds: all in the CDB" [ "$n_cdb" = 20 ]
check "20 concurrent adds: no errors" [ ! -s "$T/conc.err" ]
check "database valid after concurrency" A check
check "no temporary files after concurrency" no_temps

# --- readers never see a partial database during rebuilds -------------------
(
	for i in $(seq 1 60); do A build >/dev/null || echo "build failed" >>"$T/build.err"; done
) &
builder=$!
reads=0; bad=0
want=$(q alice@example.jp)
while kill -0 $builder 2>/dev/null; do
	got=$(cdb -q "$CDB" alice@example.jp) || { bad=$((bad + 1)); continue; }
	[ "$got" = "$want" ] || bad=$((bad + 1))
	cdb -q "$CDB" u2-10@conc.example >/dev/null || bad=$((bad + 1))
	reads=$((reads + 1))
done
wait $builder
echo "reads during rebuilds: $reads, bad: $bad"
check "reader saw no failure or partial database ($reads reads)" [ "$bad" = 0 -a "$reads" -gt 10 ]
check "builds all succeeded" [ ! -s "$T/build.err" ]
check "no temporary files after rebuilds" no_temps

# --- queue commands ------------------------------------------------------------------
mkq() { # mkq QUEUE ID SENDER RCPT... : a message written as lib/queue does
	local qd=$SPOOL/$1 id=$2 from=$3; shift 3
	mkdir -p "$qd"/{tmp,msg,env}
	printf 'Subject: test %s\n\nbody\n' "$id" >"$qd/msg/$id"
	{
		printf 'postern-queue 1\nid %s\nsender %s\narrival %s\nattempts 0\nnext-try 0\nsize %s\n' \
			"$id" "$from" "$(( $(date +%s) - 3700 ))" "$(stat -c %s "$qd/msg/$id")"
		for r in "$@"; do printf 'rcpt P %s\n' "$r"; done
		printf 'end\n'
	} >"$qd/env/$id"
}
mkq outbound 1700000000.M1P1Q1.h alice@example.jp someone@remote.example other@remote.example
port=$(free_port)
A domain add flush.example --hold --host "127.0.0.1:$port" >/dev/null
mkq hold/flush.example 1700000001.M1P1Q1.h sender@remote.example a@flush.example
mkq hold/flush.example 1700000002.M1P1Q1.h sender@remote.example b@flush.example
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	# as root the queue commands act as the spool's owner: never root
	fails "queue list refuses a root-owned spool" 77 A queue list
	grep -q 'owned by root' "$T/err"; check "the refusal says why" [ $? = 0 ]
	chmod 711 "$T"
	chown -R nobody:nogroup "$SPOOL"
	chmod o+r "$CDB"
fi
out=$(A queue list)
check "queue list shows outbound" grep -q '^outbound  1700000000.M1P1Q1.h  age 1h0[01]m  size [0-9]*  from <alice@example.jp>' <<<"$out"
check "queue list shows recipients with state" grep -q '^    P someone@remote.example' <<<"$out"
check "queue list shows the hold queue" grep -q '^hold/flush.example  1700000002.M1P1Q1.h' <<<"$out"
check "queue list counts" grep -q '^3 messages$' <<<"$out"
check "queue list NODE" bash -c "[ \"\$('$ADMIN' --spool '$SPOOL' queue list flush.example | grep -c '^hold/')\" = 2 ]"
fails "queue remove unknown id" 65 A queue remove 1234.nope
fails "queue remove bad id" 65 A queue remove ../etc
fails "queue list bad node" 65 A queue list 'bad_node'
fails "queue flush a non-hold domain" 65 A queue flush example.jp
check "queue remove" A queue remove 1700000000.M1P1Q1.h
check "message and envelope gone" [ ! -e "$SPOOL/outbound/env/1700000000.M1P1Q1.h" -a ! -e "$SPOOL/outbound/msg/1700000000.M1P1Q1.h" ]
if [ -f "$top/tests/sinksmtp.py" ]; then
	mkdir -p "$T/sink"
	bg python3 "$top/tests/sinksmtp.py" --port "$port" --dir "$T/sink"
	if wait_port "$port"; then
		A queue flush flush.example >"$T/out" 2>"$T/err"
		check "queue flush exit 0" [ $? = 0 ]
		check "queue flush delivered both" [ "$(ls "$T/sink"/msg-*.eml 2>/dev/null | wc -l)" = 2 ]
		check "hold queue empty after flush" [ -z "$(ls "$SPOOL/hold/flush.example/env")" ]
	else
		fail "sink did not start"
	fi
else
	skip "queue flush" "tests/sinksmtp.py missing"
fi

# --- revoked client certificates -------------------------------------------------
R=$T/etc/revoked
C() { "$ADMIN" --revoked "$R" cert "$@"; }
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=alice@example.jp -keyout "$T/c.key" -out "$T/c.pem" 2>/dev/null
	serial=$(openssl x509 -in "$T/c.pem" -noout -serial)
	fpr=$(openssl x509 -in "$T/c.pem" -noout -fingerprint -sha256)
	skey=$(sed 's/^serial=//; s/^\(00\)*//' <<<"$serial" | tr A-F a-f)
	fkey=$(sed 's/.*=//; s/://g' <<<"$fpr" | tr A-F a-f)
	check "cert revoke (openssl -serial output)" C revoke "$serial"
	check "cert revoke (openssl -fingerprint output)" C revoke "$fpr"
	check "serial in the CDB, lowercase hex" bash -c "cdb -q '$R.cdb' '$skey' | grep -q '^revoked '"
	check "fingerprint in the CDB" bash -c "cdb -q '$R.cdb' '$fkey' >/dev/null"
	check "cert revoke again is a no-op" C revoke "$fkey"
	check "cert list" bash -c "'$ADMIN' --revoked '$R' cert list | grep -q '^2 revoked certificates'"
	check "leading 00 bytes of a serial dropped" C revoke 00:00:0a:ff
	check "serial 0aff" bash -c "cdb -q '$R.cdb' 0aff >/dev/null"
	cdb -c -m "$T/rstock.cdb" "$R"
	check "revocation CDB identical to cdb -c -m" cmp -s "$T/rstock.cdb" "$R.cdb"
	R0=$(md5sum <"$R")
	fails "cert revoke bad key" 65 C revoke xyz
	fails "cert revoke one bad key of two: nothing" 65 C revoke abcd nothex
	fails "cert unrevoke unknown" 65 C unrevoke 1234
	fails "cert unknown subcommand" 64 C frob
	check "revocation text unchanged by errors" [ "$(md5sum <"$R")" = "$R0" ]
	check "cert unrevoke" C unrevoke 0aff
	check "unrevoked gone" bash -c "! cdb -q '$R.cdb' 0aff"
else
	skip "cert" "openssl missing"
fi

# --- man pages -------------------------------------------------------------------------
if command -v groff >/dev/null; then
	for m in mailbox-admin.8 postern-users.5; do
		w=$(groff -man -Tutf8 -ww -z "$top/man/$m" 2>&1)
		check "man page $m: no groff warnings" [ -z "$w" ]
	done
else
	skip "man pages" "groff missing"
fi

summary
