#!/usr/bin/env bash
# tests/t-deb.sh - the Debian package (debian/) the way an administrator
# uses it, in a booted Debian 12 (make check-deb; opt-in in tests/run).
#
# In a chroot of a fresh minimal root (scripts/rootfs) only debhelper,
# dpkg-dev, fakeroot and what `apt-get build-dep` takes from
# debian/control are installed, so the Build-Depends are proved (the
# host's packages cannot help); dpkg-buildpackage -us -uc -b builds the
# package there. The root is then booted (tests/lib-nspawn.sh) and,
# inside: apt install ./postern_*.deb; the layout, the service user and
# folders, nothing enabled; mailbox-admin, a certificate, `systemctl
# enable --now postern-pop3s.socket postern-smtp.socket`; one delivery
# (swaks, STARTTLS) and one POP3S fetch (curl); a reinstall (upgrade path)
# keeps the sockets enabled and a running session alive; apt remove keeps
# mail, spool and configuration and removes the units; apt purge removes
# the configuration, keeps mail and spool, and leaves nothing of
# `dpkg -L postern` but shared folders.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-nspawn.sh"

PW=t-deb-secret
CLIENTS="swaks libnet-ssleay-perl libauthen-sasl-perl curl openssl python3 ca-certificates"

nspawn_preflight "Debian package in a booted systemd"

# ---------------------------------------------------------------------
stage rootfs
nspawn_rootfs deb

# ---------------------------------------------------------------------
stage "chroot: build-dep and dpkg-buildpackage"
nspawn_chroot_stage t-deb-chroot.sh "$CLIENTS" \
	"chroot: Build-Depends from debian/control suffice, package built" \
	"chroot: build-dep and dpkg-buildpackage" 12 <<'CHROOT'
apt-get install -y -qq --no-install-recommends debhelper dpkg-dev fakeroot >/dev/null
apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null
dpkg-checkbuilddeps
t "build-dep ./ (debian/control)"
dpkg-buildpackage -us -uc -b > /root/dpkg-buildpackage.log 2>&1 || {
	tail -n 30 /root/dpkg-buildpackage.log; exit 1; }
ls -l /root/postern_*.deb
t "dpkg-buildpackage -us -uc -b"
# Then (the stage's end): back to what a machine without the build tools
# has (apt's cache cleaned; not needed to run).
CHROOT
deb=$(cd "$R/root" && ls postern_*_amd64.deb 2>/dev/null | head -n 1)
check "postern_VERSION_amd64.deb built" test -n "$deb"

# ---------------------------------------------------------------------
stage boot
nspawn_boot

# ---------------------------------------------------------------------
stage "apt install ./$deb"
incheck "apt install ./$deb (offline: every Depends already there)" sh -ec "
	cd /root && apt-get install -y --no-install-recommends ./$deb
	dpkg-query -W -f='\${Status}' postern | grep -qx 'install ok installed'"
cin dpkg -L postern > "$T/files" 2>/dev/null
check "dpkg -L postern lists files" test -s "$T/files"
incheck "layout: handlers in /usr/libexec/postern, tools in /usr/sbin, man pages, units" sh -ec '
	test -x /usr/libexec/postern/pop3-handler
	test -x /usr/libexec/postern/smtp-handler
	test -x /usr/sbin/mailbox-admin
	test -x /usr/sbin/etrn-client
	test -f /usr/share/man/man8/mailbox-admin.8.gz
	test -f /usr/share/man/man5/postern-users.5.gz
	test -f /lib/systemd/system/postern-smtp.socket
	grep -q "^ExecStart=/usr/libexec/postern/smtp-handler" /lib/systemd/system/postern-smtp@.service
	test -f /usr/share/doc/postern/README.Debian'
incheck "postinst: service user, folders (sysusers, tmpfiles)" sh -ec '
	id postern
	test "$(stat -c %U:%G:%a /etc/postern)" = root:postern:750
	test "$(stat -c %U:%G:%a /var/spool/postern)" = postern:postern:750
	test "$(stat -c %U:%G:%a /var/lib/postern/mail)" = postern:postern:700'
incheck "nothing enabled or listening after install" sh -ec '
	for u in pop3 pop3s smtp submission submissions; do
		test "$(systemctl is-enabled postern-$u.socket)" = disabled
		! systemctl -q is-active postern-$u.socket
	done
	for u in queue etrn; do test "$(systemctl is-enabled postern-$u.timer)" = disabled; done
	! python3 -c "import socket; socket.create_connection((\"127.0.0.1\", 25), 2)" 2>/dev/null'
incheck "conffiles: xinetd files (disable = yes), /etc/postern/etrn.conf" sh -ec '
	for s in pop3 pop3s smtp submission submissions; do
		grep -Eq "^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes" /etc/xinetd.d/postern-$s
		dpkg-query -W -f="\${Conffiles}" postern | grep -q " /etc/xinetd.d/postern-$s "
	done
	dpkg-query -W -f="\${Conffiles}" postern | grep -q " /etc/postern/etrn.conf "'

# ---------------------------------------------------------------------
stage "configure and use"
incheck "mailbox-admin: domain, user (--password-stdin), postmaster alias" sh -ec "
	mailbox-admin domain add example.org
	echo $PW | mailbox-admin add alice@example.org --password-stdin
	mailbox-admin alias add postmaster@example.org alice@example.org
	test -s /etc/postern/users.cdb"
incheck "certificate and root-only key in /etc/postern" sh -ec '
	cd /etc/postern
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout tls.key -out tls.crt -days 2 -subj /CN=mail.example.org \
		-addext subjectAltName=DNS:mail.example.org 2>/dev/null
	chmod 0600 tls.key'
incheck "systemctl enable --now postern-pop3s.socket postern-smtp.socket" sh -ec '
	systemctl enable --now postern-pop3s.socket postern-smtp.socket 2>&1
	for s in pop3s smtp; do
		test "$(systemctl is-active postern-$s.socket)" = active
		test "$(systemctl is-enabled postern-$s.socket)" = enabled
	done'
incheck "delivery: swaks on 25 with STARTTLS to the postmaster alias" \
	swaks --server 127.0.0.1:25 --tls --helo client.example --from bob@example.net \
	--to postmaster@example.org --header "Subject: t-deb" --body "marker-t-deb"
incheck "the message is in a maildir owned by postern" sh -ec '
	f=$(grep -rl marker-t-deb /var/lib/postern/mail /var/mail 2>/dev/null | head -n 1)
	test -n "$f"
	test "$(stat -c %U "$f")" = postern
	echo "$f"'
incheck "POP3S 995 fetch with curl" sh -ec "
	curl -sSk pop3s://127.0.0.1:995/1 -u alice@example.org:$PW | grep -q marker-t-deb"

# ---------------------------------------------------------------------
stage "upgrade path (reinstall)"
# A POP3S session open across the reinstall: it must go on and finish.
cat > "$R/root/t-deb-session.py" <<'PY'
import poplib, ssl, sys, time
ctx = ssl._create_unverified_context()
p = poplib.POP3_SSL("127.0.0.1", 995, timeout=30, context=ctx)
p.user("alice@example.org"); p.pass_(sys.argv[1])
open("/root/session-open", "w").close()
while not __import__("os").path.exists("/root/upgrade-done"):
    time.sleep(0.2)
n, size = p.stat()
lines = b"\n".join(p.retr(1)[1])
p.quit()
if n != 1 or b"marker-t-deb" not in lines:
    sys.exit("after the upgrade: STAT %d, message %r" % (n, lines[:80]))
print("session opened before the upgrade: STAT, RETR, QUIT after it")
PY
cin sh -c "python3 /root/t-deb-session.py $PW > /root/session.out 2>&1; echo \$? > /root/session.rc" &
spid=$!
for i in $(seq 1 100); do [ -e "$R/root/session-open" ] && break; sleep 0.1; done
incheck "apt reinstall (prerm upgrade, postinst configure)" sh -ec "
	test -e /root/session-open
	cd /root && apt-get install -y --reinstall ./$deb"
cin touch /root/upgrade-done
wait "$spid"
check "a session open during the upgrade went on to QUIT" \
	sh -c "test \"\$(cat '$R/root/session.rc')\" = 0 || { cat '$R/root/session.out'; false; }"
incheck "after the upgrade: the two sockets still enabled and active" sh -ec '
	for s in pop3s smtp; do
		test "$(systemctl is-active postern-$s.socket)" = active
		test "$(systemctl is-enabled postern-$s.socket)" = enabled
	done
	test "$(systemctl is-enabled postern-pop3.socket)" = disabled'

# ---------------------------------------------------------------------
stage "apt remove"
incheck "apt remove postern" apt-get remove -y postern
incheck "remove: programs and units gone, sockets stopped" sh -ec '
	test ! -e /usr/sbin/mailbox-admin
	test ! -e /usr/libexec/postern/pop3-handler
	test ! -e /lib/systemd/system/postern-smtp.socket
	test ! -e /lib/systemd/system/postern-pop3s@.service
	! systemctl -q is-active postern-smtp.socket
	! systemctl -q is-active postern-pop3s.socket
	! python3 -c "import socket; socket.create_connection((\"127.0.0.1\", 995), 2)" 2>/dev/null
	dpkg-query -W -f="\${Status}" postern | grep -qx "deinstall ok config-files"'
incheck "remove: configuration, mail and spool kept" sh -ec '
	for f in users users.cdb tls.crt tls.key etrn.conf; do test -f /etc/postern/$f; done
	test -f /etc/xinetd.d/postern-smtp
	grep -rlq marker-t-deb /var/lib/postern/mail /var/mail 2>/dev/null
	test -d /var/spool/postern
	id postern'

# ---------------------------------------------------------------------
stage "apt purge"
incheck "apt purge postern" apt-get purge -y postern
incheck "purge: configuration gone" sh -ec '
	test ! -e /etc/postern
	! ls /etc/xinetd.d/postern-* 2>/dev/null
	! dpkg-query -W postern 2>/dev/null | grep -q .
	! find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled \
		/var/lib/systemd/deb-systemd-helper-masked -name "postern*" 2>/dev/null | grep .'
incheck "purge: mail, spool and the service user kept (README.Debian)" sh -ec '
	grep -rlq marker-t-deb /var/lib/postern/mail /var/mail 2>/dev/null
	test -d /var/spool/postern
	id postern'
# Every path the package owned is gone, but folders other packages share
# (/etc, /usr/share/man/man8...): a folder still there must not be
# postern's own (no "postern" in its name) and not be the package's alone.
left=$(while read -r p; do
	[ -e "$R$p" ] || [ -L "$R$p" ] || continue
	# A folder, or a merged-/usr link to one (/lib): shared unless named.
	if [ -d "$R$p" ]; then
		case $p in *postern*) echo "$p" ;; esac
	else
		echo "$p"
	fi
done < "$T/files")
check "purge: nothing of dpkg -L postern left ($(wc -l < "$T/files") paths checked)" test -z "$left"
[ -z "$left" ] || echo "$left" | sed 's/^/    left: /'

stage shutdown
nspawn_shutdown
stage end
echo "t-deb total: $(( $(date +%s) - _t0 )) s"
summary
