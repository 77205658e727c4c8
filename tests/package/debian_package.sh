#!/usr/bin/env bash
# tests/package/debian_package.sh: the Debian package, installed and purged
# on this machine. It installs the .deb with apt-get (pulling only runtime
# libraries), checks the easd system user, /etc/easd/easd.conf (root:easd
# 640, data in /var/lib/easd, logs in /var/log/easd), the directories
# (easd:easd 750), the unit (installed and enabled), the logrotate file, that
# easd and easctl run and easctl can create the store as the easd user, and
# that the package depends on no test tool; then purges it: the conffile and
# /var/log/easd go, /var/lib/easd with a store in it stays (debian/easd.postrm).
#
# Slow and it changes the machine (apt-get install and purge, a system user):
# `make package-check` runs it, `make check` does not. Needs root and
# EASD_SOURCE; uses DEB_OUT/easd_VERSION_ARCH.deb (DEB_OUT defaults to
# EASD_SOURCE/debian/out), built by `make deb` when it is not there.
# Refuses to run where easd is installed (the package, or by hand: the
# easd user, /etc/easd, /var/lib/easd or /var/log/easd exist), not to harm it;
# at the end it removes the easd user and store it made.
#
# Prints one ok/FAIL line per case and exits non-zero if any failed.
set -u

src=${EASD_SOURCE:?EASD_SOURCE must name the repository}
out=${DEB_OUT:-$src/debian/out}
case $out in /*) ;; *) out=$src/$out ;; esac

tmp=$(mktemp -d)
failures=0
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (apt-get install and purge)"; exit 1; }
if dpkg-query -W -f='${Status}' easd 2> /dev/null | grep -q 'installed'; then
	echo "FAIL: the easd package is already installed here: purge it first (apt-get purge easd)"
	exit 1
fi

# What it creates and removes must be its own: not an easd installed by hand.
for path in /etc/easd /var/lib/easd /var/log/easd; do
	[ -e "$path" ] && { echo "FAIL: $path exists (an easd installed by hand?): not touching it"; exit 1; }
done
getent passwd easd > /dev/null && { echo "FAIL: the user easd exists (an easd installed by hand?)"; exit 1; }

version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$out/easd_${version}_$arch.deb
if [ ! -f "$deb" ]; then
	echo "== no $deb: make deb"
	make -s -C "$src" deb DEB_OUT="$out" > "$tmp/deb.out" 2>&1 ||
		{ echo "FAIL: make deb: $(tail -20 "$tmp/deb.out")"; exit 1; }
fi
pass "package $(basename "$deb")"

# ---- what it depends on ----
depends=$(dpkg-deb -f "$deb" Depends)
echo "   Depends: $depends"
test_tools=$(echo "$depends" | tr ',|' '\n\n' | sed 's/^ *//; s/ .*//' |
	grep -E '^(clang|libclang|wrk|libwbxml2|swaks|cmocka|libcmocka|postfix|gcc|make|xxd|lintian|debhelper)' || true)
if [ -z "$test_tools" ]; then pass "Depends names no build or test tool"; else fail "Depends has test tools: $test_tools"; fi
if echo "$depends" | grep -q -- '-dev'; then fail "Depends has -dev packages: $depends"; else pass "Depends has no -dev package"; fi
for lib in libmicrohttpd libsqlite3 libgmime-3.0 libical libcurl libsystemd0 adduser; do
	echo "$depends" | grep -q "$lib" || fail "Depends lacks $lib"
done
recommends=$(dpkg-deb -f "$deb" Recommends)
if echo "$recommends" | grep -q 'postfix | mail-transport-agent'; then pass "Recommends: $recommends"; else fail "Recommends: $recommends"; fi
if dpkg-deb -c "$deb" | grep -qE '(easbench|cmocka|wbxml2)'; then fail "the package ships a test tool"; else pass "no test tool in the package"; fi

# ---- install ----
if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$deb" > "$tmp/install.out" 2>&1; then
	pass "apt-get install ./$(basename "$deb")"
else
	echo "FAIL: apt-get install: $(tail -20 "$tmp/install.out")"
	exit 1
fi
# From here on, purge whatever happens.
trap 'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -q easd > /dev/null 2>&1; rm -rf "$tmp"' EXIT

if [ "$(dpkg-query -W -f='${Status}' easd)" = "install ok installed" ]; then pass "dpkg: easd installed"; else fail "dpkg status: $(dpkg-query -W -f='${Status}' easd)"; fi

user=$(getent passwd easd)
group=$(getent group easd)
uid=$(echo "$user" | cut -d: -f3)
if [ -n "$user" ] && [ -n "$group" ] && [ "$uid" -lt 1000 ] &&
	[ "$(echo "$user" | cut -d: -f6)" = /var/lib/easd ] && [ "$(echo "$user" | cut -d: -f7)" = /usr/sbin/nologin ] &&
	[ "$(id -gn easd)" = easd ]; then
	pass "system user easd (uid $uid, group easd, home /var/lib/easd, no login shell)"
else
	fail "easd user: '$user' group: '$group'"
fi

config=/etc/easd/easd.conf
if [ "$(stat -c '%U:%G %a' "$config" 2> /dev/null)" = "root:easd 640" ]; then
	pass "$config is root:easd 640"
else
	fail "$config: $(stat -c '%U:%G %a' "$config" 2>&1)"
fi
if grep -qx 'data_dir = /var/lib/easd' "$config" && grep -qx 'dir = /var/log/easd' "$config"; then
	pass "$config keeps data in /var/lib/easd and logs in /var/log/easd"
else
	fail "$config: $(grep -E '^(data_)?dir' "$config")"
fi
if grep -qx "$config" /var/lib/dpkg/info/easd.conffiles; then pass "$config is a conffile"; else fail "conffiles: $(cat /var/lib/dpkg/info/easd.conffiles 2>&1)"; fi

for dir in /var/lib/easd /var/log/easd; do
	if [ "$(stat -c '%U:%G %a' "$dir" 2> /dev/null)" = "easd:easd 750" ]; then
		pass "$dir is easd:easd 750"
	else
		fail "$dir: $(stat -c '%U:%G %a' "$dir" 2>&1)"
	fi
done

unit=$(dpkg -L easd | grep '/systemd/system/easd.service$')
if [ -n "$unit" ] && grep -qx 'ExecStart=/usr/sbin/easd -c /etc/easd/easd.conf' "$unit" && grep -qx 'User=easd' "$unit"; then
	pass "unit $unit starts /usr/sbin/easd as easd"
else
	fail "unit: '$unit'"
fi
if command -v systemd-analyze > /dev/null; then
	if systemd-analyze verify "$unit" > "$tmp/verify.out" 2>&1 && ! grep -q . "$tmp/verify.out"; then
		pass "systemd-analyze verify accepts the installed unit (no warning)"
	else
		fail "systemd-analyze verify: $(cat "$tmp/verify.out")"
	fi
fi
# systemctl is-enabled needs a running systemd; the enablement is the symlink.
wants=/etc/systemd/system/multi-user.target.wants/easd.service
if [ -L "$wants" ] && [ "$(readlink -f "$wants")" = "$(readlink -f "$unit")" ]; then
	pass "easd.service is enabled ($wants)"
else
	fail "not enabled: $(ls -l "$wants" 2>&1)"
fi
if [ -f /etc/logrotate.d/easd ] && grep -q '^/var/log/easd/\*.log' /etc/logrotate.d/easd; then
	pass "/etc/logrotate.d/easd rotates /var/log/easd"
else
	fail "no /etc/logrotate.d/easd"
fi
if command -v logrotate > /dev/null; then
	if logrotate -d /etc/logrotate.d/easd > "$tmp/logrotate.out" 2>&1 && ! grep -qi 'error' "$tmp/logrotate.out"; then
		pass "logrotate -d accepts it"
	else
		fail "logrotate -d: $(grep -i error "$tmp/logrotate.out")"
	fi
fi

for page in easd.8 easctl.8 easd.conf.5; do
	dpkg -L easd | grep -q "/man/man${page##*.}/$page.gz$" || fail "no man page $page"
done

want_version=$(sed -n 's/^#define EASD_VERSION "\(.*\)"$/\1/p' "$src/src/config/config.h")
got=$(/usr/sbin/easd --version 2>&1)
if echo "$got" | grep -q "$want_version"; then pass "easd --version: $got"; else fail "easd --version: $got"; fi
got=$(/usr/sbin/easctl --version 2>&1)
if echo "$got" | grep -q "$want_version"; then pass "easctl --version: $got"; else fail "easctl --version: $got"; fi

# The easd user reads the configuration and writes the store: a user added
# as easd lands in /var/lib/easd/easd.sqlite, owned by easd.
if echo 'package-test-password' | runuser -u easd -- /usr/sbin/easctl -c "$config" user add pkgtest > "$tmp/add.out" 2>&1 &&
	runuser -u easd -- /usr/sbin/easctl -c "$config" user list 2>&1 | grep -qx 'pkgtest' &&
	[ "$(stat -c %U /var/lib/easd/easd.sqlite 2> /dev/null)" = easd ]; then
	pass "as easd, easctl creates the store /var/lib/easd/easd.sqlite and adds a user"
else
	fail "easctl as easd: $(cat "$tmp/add.out"; ls -l /var/lib/easd 2>&1)"
fi
# Other users cannot read the configuration or the store.
if runuser -u nobody -- cat "$config" > /dev/null 2>&1 || runuser -u nobody -- ls /var/lib/easd > /dev/null 2>&1; then
	fail "nobody reads $config or /var/lib/easd"
else
	pass "nobody can read $config or /var/lib/easd"
fi

# ---- the service: started as its unit starts it, serving, reloaded, stopped ----
# Without a running systemd (a container), the unit's ExecStart runs as its
# User= through setpriv (which execs: the pid is easd's), and ExecReload's
# SIGHUP is sent by hand. Ports chosen by the kernel, so nothing here clashes.
cat >> "$config" <<'CONF'
[http]
listen = 127.0.0.1:0
port_file = /var/lib/easd/http.port
[lmtp]
listen =
[metrics]
listen =
CONF
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
# shellcheck disable=SC2086 # the unit's command line, split as systemd does for a plain one
setpriv --reuid=easd --regid=easd --init-groups -- $exec_start > "$tmp/easd.out" 2>&1 &
easd_pid=$!
for _ in $(seq 100); do [ -s /var/lib/easd/http.port ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat /var/lib/easd/http.port 2> /dev/null)/Microsoft-Server-ActiveSync"
options() { curl -s -o /dev/null -w '%{http_code}' -u pkgtest:package-test-password -X OPTIONS "$url"; }
if [ "$(options)" = 200 ]; then pass "the installed easd, started as its unit does, serves a client"; else fail "not served: $(cat "$tmp/easd.out")"; fi
echo '[push]' >> "$config"
echo 'heartbeat_min = 120' >> "$config"
kill -HUP "$easd_pid"
for _ in $(seq 50); do grep -q 'SIGHUP: reloaded' /var/log/easd/easd.log 2> /dev/null && break; sleep 0.1; done
if grep -q "SIGHUP: reloaded $config: changed \[push\] heartbeat_min" /var/log/easd/easd.log && [ "$(options)" = 200 ]; then
	pass "reloaded (ExecReload's SIGHUP): it says what changed and serves on"
else
	fail "reload: $(tail -3 /var/log/easd/easd.log 2>&1)"
fi
kill -TERM "$easd_pid"
if wait "$easd_pid"; then pass "SIGTERM stops it cleanly (status 0)"; else fail "stop: status $?: $(tail -3 "$tmp/easd.out")"; fi
echo 'a log line' > /var/log/easd/easd.log

# ---- a reinstall keeps the site's configuration and permissions ----
echo '# the site changed this' >> "$config"
if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --reinstall -o Dpkg::Options::=--force-confold "$deb" > "$tmp/reinstall.out" 2>&1 &&
	grep -q 'the site changed this' "$config" && [ "$(stat -c '%U:%G %a' "$config")" = "root:easd 640" ]; then
	pass "a reinstall keeps the site's easd.conf, root:easd 640"
else
	fail "reinstall: $(tail -5 "$tmp/reinstall.out"; stat -c '%U:%G %a' "$config")"
fi

# ---- remove, then purge ----
if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 remove -y -q easd > "$tmp/remove.out" 2>&1 &&
	[ ! -e /usr/sbin/easd ] && [ -f "$config" ] && [ -d /var/log/easd ]; then
	pass "apt-get remove: the programs go, easd.conf and the logs stay"
else
	fail "remove: $(tail -5 "$tmp/remove.out")"
fi
if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -q easd > "$tmp/purge.out" 2>&1; then
	pass "apt-get purge easd"
else
	fail "apt-get purge: $(tail -5 "$tmp/purge.out")"
fi
trap 'rm -rf "$tmp"' EXIT
if dpkg-query -W -f='${Status}' easd 2> /dev/null | grep -q installed; then fail "still installed after purge"; fi
if [ ! -e "$config" ] && [ ! -e /etc/easd ]; then pass "purge removes the conffile $config and /etc/easd"; else fail "left: $(ls -la /etc/easd 2>&1)"; fi
if [ ! -e /etc/logrotate.d/easd ]; then pass "purge removes /etc/logrotate.d/easd"; else fail "/etc/logrotate.d/easd left"; fi
if [ ! -e /var/log/easd ]; then pass "purge removes the logs /var/log/easd"; else fail "/var/log/easd left"; fi
if [ ! -e "$wants" ]; then pass "purge removes the enablement symlink"; else fail "$wants left"; fi
if [ -f /var/lib/easd/easd.sqlite ]; then
	pass "purge keeps /var/lib/easd with the users' store (easd.sqlite)"
else
	fail "purge removed the store: $(ls -la /var/lib/easd 2>&1)"
fi
if getent passwd easd > /dev/null; then pass "purge keeps the easd system user (it owns the kept store)"; else fail "the easd user was removed"; fi
if grep -q 'is kept' "$tmp/purge.out"; then pass "purge says the store is kept"; else fail "purge said nothing about /var/lib/easd"; fi

# A purge with an empty /var/lib/easd removes it: install again, purge at once.
rm -rf /var/lib/easd
if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$deb" > "$tmp/install2.out" 2>&1 &&
	[ "$(stat -c '%U:%G %a' /var/lib/easd 2> /dev/null)" = "easd:easd 750" ] &&
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -q easd > "$tmp/purge2.out" 2>&1 &&
	[ ! -e /var/lib/easd ] && [ ! -e /etc/easd ]; then
	pass "install with the user already there, then purge: an empty /var/lib/easd goes too"
else
	fail "second install/purge: $(tail -5 "$tmp/install2.out" "$tmp/purge2.out"; ls -la /var/lib/easd 2>&1)"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -q easd > /dev/null 2>&1
fi

# Leave the machine as it was: the test's own user and store.
deluser --system --quiet easd > /dev/null 2>&1 || true
getent group easd > /dev/null && delgroup --system --quiet easd > /dev/null 2>&1
rm -rf /var/lib/easd

[ "$failures" -eq 0 ] && echo "all Debian package tests passed"
[ "$failures" -eq 0 ]
