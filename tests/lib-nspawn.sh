# tests/lib-nspawn.sh - sourced (after tests/lib.sh) by the tests that run
# postern in a booted Debian 12 (tests/t-systemd.sh, tests/t-deb.sh).
#   stage NAME             prints the previous stage's time, starts NAME
#   nspawn_preflight NAME  skip (and exit) unless root with the tools
#   nspawn_rootfs TAG      a fresh root ($R, in a tmpfs under $base) from
#                          scripts/rootfs, the checkout at /root/postern
#   nspawn_chroot SCRIPT ARGS...  runs the sh SCRIPT (a file in $R) in a
#                          chroot (host network, the host's /etc/apt
#                          read-only, private mounts); log $T/chroot.log
#   nspawn_chroot_stage NAME CLIENTS PASS FAIL LINES  the chroot stage: the
#                          script /root/NAME prepares apt (no daemon
#                          started, apt-get update, CLIENTS installed),
#                          runs the body read from stdin (t "what" prints
#                          a step's time), cleans up; PASS, or FAIL with
#                          the log's last LINES lines (and exit)
#   nspawn_boot            boots $R (systemd-nspawn -b --private-network);
#                          $npid, $cpid (the container's PID 1)
#   cin / incheck / inpy   run a command / a check / a python3 check inside
#   teardown               stops everything (by PID), removes the root
# The EXIT trap (teardown; cleanup) is set here.

base='' R='' npid='' cpid='' chpid=''
_t0=$(date +%s) _st=$(date +%s) _sn=
stage() {
	local now
	now=$(date +%s)
	[ -z "$_sn" ] || echo "stage $_sn: $((now - _st)) s"
	_sn=$1 _st=$now
	[ "$1" = end ] || echo "== stage $1"
}

# Stops the container (poweroff through PID 1, then SIGKILL), unmounts
# the root's tmpfs (and whatever an interrupted run left under it),
# removes the folder.
teardown() {
	local i m
	if [ -n "$chpid" ] && kill -0 "$chpid" 2>/dev/null; then
		echo "teardown: stopping the chroot stage (process group $chpid)"
		kill -TERM -- "-$chpid" 2>/dev/null
		sleep 2
		kill -KILL -- "-$chpid" 2>/dev/null
		wait "$chpid" 2>/dev/null
	fi
	if [ -n "$npid" ] && kill -0 "$npid" 2>/dev/null; then
		[ -z "$cpid" ] || kill -s RTMIN+4 "$cpid" 2>/dev/null
		for i in $(seq 1 150); do
			kill -0 "$npid" 2>/dev/null || break
			sleep 0.2
		done
		echo "teardown: container stopped after $((i / 5)) s"
		if kill -0 "$npid" 2>/dev/null; then
			echo "teardown: the container did not power off in 30 s: SIGKILL"
			[ -z "$cpid" ] || kill -KILL "$cpid" 2>/dev/null
			kill -KILL "$npid" 2>/dev/null
		fi
		wait "$npid" 2>/dev/null
	fi
	if [ -n "$base" ] && [ -d "$base" ] && [ -n "${KEEP_TMP:-}" ]; then
		echo "teardown: KEEP_TMP: $R kept (a tmpfs: umount it)"
	elif [ -n "$base" ] && [ -d "$base" ]; then
		# The chroot stage mounts in a private namespace: here only
		# the tmpfs, or more if a run was interrupted.
		findmnt -rn -o TARGET | grep -F "$base/" | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null
		done
		rm -rf --one-file-system "$base"
	fi
}
trap 'teardown; cleanup' EXIT
trap 'exit 130' INT TERM HUP

# cin CMD...: run CMD inside the booted container (all its namespaces,
# its root), with a clean environment.
cin() {
	nsenter -t "$cpid" -a -r -w -- /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 "$@"
}
# incheck NAME CMD...: pass when CMD (inside) exits 0, else fail with the
# end of its output.
incheck() {
	local n=$1 out
	shift
	if out=$(cin "$@" 2>&1); then
		pass "$n"
		[ -z "${VERBOSE:-}" ] || echo "$out" | sed 's/^/    /'
	else
		fail "$n" "$(echo "$out" | tail -n 6 | tr '\n' '|')"
	fi
}
# inpy NAME: a python3 program on stdin, run inside; it exits non-zero
# (printing why) on failure; its stdout is shown under the PASS line.
inpy() {
	local n=$1 out
	if out=$(cin python3 - 2>&1); then
		pass "$n"
		[ -z "$out" ] || echo "$out" | sed 's/^/    /'
	else
		fail "$n" "$(echo "$out" | tail -n 6 | tr '\n' '|')"
	fi
}

nspawn_preflight() {
	local c
	if [ "$(id -u)" != 0 ]; then
		skip "$1" "needs root (systemd-nspawn, chroot, mounts)"
		summary; exit
	fi
	for c in systemd-nspawn mmdebstrap nsenter unshare; do
		if ! command -v "$c" >/dev/null; then
			skip "$1" "$c is not installed (scripts/deps fresh)"
			summary; exit
		fi
	done
}

nspawn_rootfs() {
	base=$(mktemp -d "/var/tmp/postern-$1.XXXXXX")
	R=$base/root
	mkdir "$R"
	# The root lives in a tmpfs: dpkg's many fsyncs and the removal of
	# some 40,000 files cost minutes on a busy disk, a tmpfs is gone at
	# umount.
	if ! mount -t tmpfs -o size=4g,mode=0755 "postern-$1" "$R"; then
		fail "tmpfs for the root"; summary; exit
	fi
	if ! "$top/scripts/rootfs" unpack "$R"; then
		fail "unpack the Debian 12 root"; summary; exit
	fi
	mkdir -p "$R/root/postern"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$top" && git ls-files -z | tar --null --ignore-failed-read -T - -cf -) |
			tar -C "$R/root/postern" -xf -
	else
		tar -C "$top" --exclude=./tests/tmp --exclude=./build -cf - . |
			tar -C "$R/root/postern" -xf -
	fi
	check "checkout copied to /root/postern" test -f "$R/root/postern/Makefile"
	cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null
}

nspawn_chroot() {
	local script=$1
	shift
	# Mounts live in a private mount namespace: they end with it. In the
	# background, in its own process group, so that a signal to the test
	# (tests/run's timeout) is acted on at once and teardown can stop it.
	setsid -w unshare -m --propagation private -- /bin/sh -ec '
		R=$1 script=$2
		shift 2
		mount -t proc proc "$R/proc"
		mount -t sysfs sysfs "$R/sys"
		mount --bind /dev "$R/dev"
		mount -t tmpfs tmpfs "$R/tmp"
		mount --bind /etc/apt "$R/etc/apt"
		mount -o remount,bind,ro "$R/etc/apt"
		exec chroot "$R" /usr/bin/env -i \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
			/bin/sh "$script" "$@"
		' sh "$R" "$script" "$@" > "$T/chroot.log" 2>&1 &
	chpid=$!
	if wait "$chpid"; then
		chpid=
		return 0
	fi
	chpid=
	return 1
}

nspawn_chroot_stage() {
	local name=$1 clients=$2 ok=$3 bad=$4 lines=$5
	{
		cat <<'EOF'
set -e
t0=$(date +%s)
t() { echo "chroot-time $(( $(date +%s) - t0 )) s: $1"; t0=$(date +%s); }
# package scripts must not start daemons in the chroot
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
cd /root/postern
apt-get update -qq
t "apt-get update"
apt-get install -y -qq --no-install-recommends $1 >/dev/null
t "clients installed"
EOF
		cat
		printf 'apt-get clean\nrm -f /usr/sbin/policy-rc.d /root/%s\n' "$name"
	} > "$R/root/$name"
	if nspawn_chroot "/root/$name" "$clients"; then
		pass "$ok"
		sed -n 's/^chroot-time /    /p' "$T/chroot.log"
	else
		fail "$bad" "$(tail -n "$lines" "$T/chroot.log" | tr '\n' '|')"
		summary; exit
	fi
}

nspawn_boot() {
	local i p q ns state
	systemd-nspawn -q -D "$R" -b --register=no --keep-unit --private-network \
		--console=passive -M "postern-t$$" > "$T/nspawn.log" 2>&1 &
	npid=$!
	# The container's PID 1: a descendant of nspawn whose innermost PID is 1.
	for i in $(seq 1 100); do
		for p in $(pgrep -P "$npid"; for q in $(pgrep -P "$npid"); do pgrep -P "$q"; done); do
			ns=$(awk '/^NSpid:/ { print $NF " " NF }' "/proc/$p/status" 2>/dev/null)
			[ "${ns%% *}" = 1 ] && { cpid=$p; break 2; }
		done
		kill -0 "$npid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$cpid" ]; then
		fail "systemd-nspawn -b started" "$(tail -n 8 "$T/nspawn.log" | tr '\n' '|')"
		summary; exit
	fi
	state=
	for i in $(seq 1 120); do
		state=$(cin systemctl is-system-running 2>/dev/null)
		case $state in running|degraded) break ;; esac
		sleep 0.5
	done
	case $state in
	running) pass "booted: systemd $(cin systemctl --version | awk 'NR==1 { print $2 }') is PID 1, system running" ;;
	degraded) pass "booted: system degraded (not caused by postern, nothing of it installed yet)"
		cin systemctl --failed --no-legend --plain | sed 's/^/    failed: /' ;;
	*) fail "booted to running/degraded within 60 s" "state '$state'"
		summary; exit ;;
	esac
	check "PID 1 is systemd" test "$(cin cat /proc/1/comm)" = systemd
}

# nspawn_shutdown NAME: powers the container off and removes the root;
# a check that both happened.
nspawn_shutdown() {
	local was=$npid
	teardown
	npid='' cpid=''
	if kill -0 "$was" 2>/dev/null; then
		fail "container powered off" "systemd-nspawn (PID $was) still runs"
	elif [ -z "${KEEP_TMP:-}" ] && { [ -e "$base" ] || findmnt -rn -o TARGET | grep -qF "$base/"; }; then
		fail "container powered off, root removed" "$base is still there or mounted"
	else
		pass "container powered off${KEEP_TMP:+ (root kept: KEEP_TMP)}${KEEP_TMP:-, root removed}"
	fi
}
