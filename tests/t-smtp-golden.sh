#!/usr/bin/env bash
# t-smtp-golden.sh - golden transcripts for smtp-handler.
#
# Each tests/golden/smtp/NAME.in is piped into smtp-handler in one write
# (so every case is also a pipelined batch); the replies, followed by a
# dump of everything delivered (maildir files byte for byte, queue
# envelopes and messages), must equal NAME.out after masking what
# changes from run to run (dates, unique names, ids).
#
# NAME.in format: one client line per line, sent with CRLF appended.
# printf %b escapes work inside a line (\r \n \0 \xHH \\), and a line
# ending in \c is sent without the CRLF. Lines starting with "##" are
# comments. Directives:
#   #!args OPTIONS...   extra smtp-handler options (@T@ = the test's
#                       temp dir, e.g. a database a #!pre command made)
#   #!env NAME=VALUE    environment (e.g. TCPREMOTEIP=192.0.2.7)
#   #!pre COMMAND       shell command run before (in $T, with $MAIL set)
# UPDATE_GOLDEN=1 rewrites the .out files (review the diff!).
. "$(dirname "$0")/lib.sh"

G=$top/tests/golden/smtp
SMTP=${SMTP_BIN:-$SMTP}   # SMTP_BIN: test another build
if [ ! -x "$SMTP" ]; then
	skip smtp-golden "smtp-handler is not built"
	summary; exit
fi
for tool in cdb openssl python3; do
	if ! command -v $tool >/dev/null; then
		skip smtp-golden "$tool is not installed"
		summary; exit
	fi
done

MAIL=$T/mail
HASH=$(openssl passwd -6 secret)
cat > "$T/users" <<EOF
# test database for the golden transcripts
example.test              domain
other.test                domain
dialup.test               hold      host=127.0.0.1:2525  etrn-from=192.0.2.0/24
odmr.test                 hold      odmr=alice@example.test
alice@example.test        $HASH     $MAIL/alice
bob@example.test          $HASH     $MAIL/bob            quota=2K
carol@example.test        $HASH     $MAIL/carol          nosmtp
dave@example.test         !$HASH    $MAIL/dave
erin@example.test         $HASH     $MAIL/erin           locked
postmaster@example.test   alias     alice@example.test
list@example.test         alias     alice@example.test,bob@example.test,friend@remote.test,alice@example.test
loop1@example.test        alias     loop2@example.test
loop2@example.test        alias     loop1@example.test
broken@example.test       alias     nobody@example.test
EOF
if ! cdb -c -m "$T/users.cdb" "$T/users"; then
	fail smtp-golden "cannot build the user database"
	summary; exit
fi

# dump DIR: what was delivered, with run-specific parts masked
dump() {
	python3 - "$1" <<'PY'
import os, re, sys
root = sys.argv[1]
# Sizes depend on run-specific text (pid digits in ids), so they are
# checked here against the file and shown as "ok" rather than numbers.
def mask(t):
    t = re.sub(r'\d{9,}\.M\d+P\d+Q\d+\.[A-Za-z0-9.-]+', 'UNIQUE', t)
    t = re.sub(r'(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w\w\w \d{4} \d\d:\d\d:\d\d [+-]\d{4}', 'DATE', t)
    t = re.sub(r'\b1\d{9}\b', 'TIME', t)
    return t
def show(data):
    text = data.decode('utf-8', 'backslashreplace').replace('\r', '\\r')
    sys.stdout.write(mask(text))
    if not text.endswith('\n'):
        sys.stdout.write('\\c\n')
for dirpath, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    rel = os.path.relpath(dirpath, root)
    for f in sorted(files):
        if f.startswith('.'):
            continue
        full = os.path.join(dirpath, f)
        r = os.path.join(rel, f)
        if 'tmp' in r.split(os.sep)[:-1]:
            print('=== STRAY TMP FILE', mask(r))
            continue
        data = open(full, 'rb').read()
        m = re.search(r',S=(\d+),W=(\d+)', f)
        if m:
            s_ok = int(m.group(1)) == len(data)
            w_ok = int(m.group(2)) == len(data) + data.count(b'\n')
            r = r[:r.index(',S=')] + ',S=%s,W=%s' % ('ok' if s_ok else 'BAD', 'ok' if w_ok else 'BAD') + r[r.index(',S=') + len(m.group(0)):]
        if os.path.basename(dirpath) == 'env':
            msg = os.path.join(os.path.dirname(dirpath), 'msg', f)
            want = os.path.getsize(msg) if os.path.exists(msg) else -1
            data = re.sub(rb'^size (\d+)$', lambda m: b'size ' + (b'ok' if int(m.group(1)) == want else b'BAD'), data, flags=re.M)
        print('===', mask(r))
        show(data)
PY
}

# a CRAM-MD5 challenge (base64 of "<digits...") is random
mask_replies() {
	sed -e 's/\r$//' \
	    -e 's/^334 PD[A-Za-z0-9+/]*=*$/334 CHALLENGE/' \
	    -e 's/[0-9]\{9,\}\.M[0-9]*P[0-9]*Q[0-9]*\.[A-Za-z0-9.-]*/UNIQUE/g' \
	    -e 's/[A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]\{4\} [0-9:]\{8\} [+-][0-9]\{4\}/DATE/g'
}

run_case() {
	local in=$1 name args=() envs=() pre=() line
	name=$(basename "$in" .in)
	rm -rf "$MAIL" "$T/spool" "$T/case"
	mkdir -p "$MAIL" "$T/spool" "$T/case"
	: > "$T/case/input"
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'#!args '*) read -r -a more <<<"${line#\#!args }"; args+=("${more[@]//@T@/$T}") ;;
		'#!env '*) envs+=("${line#\#!env }") ;;
		'#!pre '*) pre+=("${line#\#!pre }") ;;
		'##'*) ;;
		*) printf '%b\r\n' "$line" >> "$T/case/input" ;;
		esac
	done < "$in"
	for c in "${pre[@]}"; do (cd "$T" && MAIL=$MAIL eval "$c"); done
	env "${envs[@]}" "$SMTP" --users "$T/users.cdb" --spool "$T/spool" \
		--hostname mx.test --auth-delay 0 --throttle-file "$T/case/throttle" "${args[@]}" \
		< "$T/case/input" > "$T/case/replies" 2> "$T/case/log"
	echo "exit $?" >> "$T/case/replies"
	{
		mask_replies < "$T/case/replies"
		echo "--- mail"
		dump "$MAIL"
		echo "--- spool"
		dump "$T/spool"
	} > "$T/case/actual"
	if [ -n "${UPDATE_GOLDEN:-}" ]; then
		cp "$T/case/actual" "$G/$name.out"
	fi
	if [ ! -f "$G/$name.out" ]; then
		fail "golden $name" "no $name.out (make it with UPDATE_GOLDEN=1, then review it)"
	elif diff -u "$G/$name.out" "$T/case/actual" > "$T/case/diff"; then
		pass "golden $name"
	else
		fail "golden $name" "transcript differs"
		head -n 60 "$T/case/diff"
		echo "    log:"; sed 's/^/    /' "$T/case/log" | tail -n 15
	fi
}

# the command line itself
help=$("$SMTP" --help); rc=$?
missing=""
for o in users spool auth tls require-tls cert key client-ca client-revoked \
    relay-clients max-size max-recipients max-errors hostname timeout \
    session-timeout auth-delay throttle-file quota-tempfail odmr user debug help version \
    proxy-from; do
	grep -q -- "--$o" <<<"$help" || missing="$missing --$o"
	grep -qF -- "\\-\\-${o//-/\\-}" "$top/man/smtp-handler.8" || missing="$missing man:--$o"
done
check "--help exits 0 and lists every option${missing:+ (missing:$missing)}" \
	test "$rc" = 0 -a -z "$missing"
check "--version" bash -c '"$0" --version | grep -q "^smtp-handler (postern) [0-9]"' "$SMTP"
for bad in "--bogus" "--max-size abc" "--max-size 0" "--tls maybe" \
    "--timeout 0" "--max-recipients 1001" "--key x" "extra" \
    "--proxy-from 10.0.0.0/99" "--proxy-from"; do
	"$SMTP" $bad </dev/null >/dev/null 2>&1; rc=$?
	check "usage error exits 64: $bad" test "$rc" = 64
done

for in in "$G"/*.in; do
	[ -f "$in" ] || continue
	case " ${*:-} " in
	"  ") ;;
	*" $(basename "$in" .in) "*) ;;
	*) continue ;;
	esac
	run_case "$in"
done
summary
