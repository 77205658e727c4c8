#!/usr/bin/env bash
# tests/e2e/install.sh: `make install` into a staging folder (DESTDIR,
# PREFIX=/usr) puts what an administrator expects where Debian keeps it:
# the programs, the man pages, the documentation, a systemd unit that
# systemd-analyze accepts, and /etc/easd/easd.conf with /var paths, which a
# second install leaves as the site changed it. The installed easd runs.
# Needs EASD_BUILD and EASD_SOURCE; systemd-analyze (package systemd).
set -u

build=${EASD_BUILD:?EASD_BUILD must name the build folder}
source=${EASD_SOURCE:?EASD_SOURCE must name the repository}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

stage=$tmp/stage
# BUILD as make test names it (relative to the repository): the same target
# names as the build's, so make install finds everything made and remakes
# nothing (an absolute path would be other targets: a rebuild without the
# build's flags, and dependency files that no longer match).
build_in_source=$(realpath --relative-to="$source" "$build")
install_easd() {
	make -s -C "$source" install BUILD="$build_in_source" DESTDIR="$stage" PREFIX=/usr > "$tmp/out" 2>&1
}
if ! install_easd; then
	echo "FAIL: make install: $(tail -5 "$tmp/out")"
	exit 1
fi

missing=
for file in usr/sbin/easd usr/sbin/easctl usr/share/man/man8/easd.8 usr/share/man/man8/easctl.8 \
	usr/share/man/man5/easd.conf.5 usr/share/doc/easd/easd.conf.example usr/share/doc/easd/running.md \
	usr/lib/systemd/system/easd.service etc/easd/easd.conf; do
	[ -e "$stage/$file" ] || missing="$missing $file"
done
if [ -z "$missing" ]; then pass "every file is installed"; else fail "missing:$missing"; fi

version=$("$stage/usr/sbin/easd" --version 2>&1)
if [ "$version" = "$("$build/easd" --version)" ]; then pass "the installed easd runs ($version)"; else fail "easd --version: $version"; fi

config=$stage/etc/easd/easd.conf
if grep -qx 'data_dir = /var/lib/easd' "$config" && grep -qx 'dir = /var/log/easd' "$config" &&
	[ "$(stat -c %a "$config")" = 640 ]; then
	pass "/etc/easd/easd.conf keeps its data in /var/lib/easd and logs in /var/log/easd, mode 640"
else
	fail "easd.conf: $(grep -E '^(data_)?dir' "$config") mode $(stat -c %a "$config")"
fi

unit=$stage/usr/lib/systemd/system/easd.service
if grep -qx 'ExecStart=/usr/sbin/easd -c /etc/easd/easd.conf' "$unit" && grep -qx 'Type=notify' "$unit"; then
	pass "the unit starts /usr/sbin/easd, Type=notify"
else
	fail "unit: $(grep -E '^(ExecStart|Type)=' "$unit")"
fi
if ! command -v systemd-analyze > /dev/null; then
	fail "systemd-analyze is not installed (package systemd)"
elif mkdir -p "$tmp/verify" &&
	sed "s|^ExecStart=/usr/sbin/easd|ExecStart=$stage/usr/sbin/easd|" "$unit" > "$tmp/verify/easd.service" &&
	MANPATH=$stage/usr/share/man systemd-analyze verify "$tmp/verify/easd.service" > "$tmp/verify.out" 2>&1 &&
	! grep -q . "$tmp/verify.out"; then
	# The staged easd and man pages stand in for the installed ones.
	pass "systemd-analyze verify accepts the unit (no warning)"
else
	fail "systemd-analyze verify: $(cat "$tmp/verify.out")"
fi

echo '# the site changed this' >> "$config"
install_easd
if grep -q 'the site changed this' "$config"; then pass "a second install keeps the site's easd.conf"; else fail "easd.conf overwritten"; fi

[ "$failures" -eq 0 ] && echo "all install tests passed"
[ "$failures" -eq 0 ]
