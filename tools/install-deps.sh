#!/bin/sh
# install-deps.sh: install the Debian packages easd needs, only those missing.
# Idempotent and non-interactive; run as root or with sudo available.
set -eu

packages="$*"
missing=""
for package in $packages; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $package"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
