#!/usr/bin/env bash
# tests/e2e/man_pages.sh: the man pages in doc/man stay true. Each page
# renders without a warning, through man(1) as a user reads it and through
# groff with every warning on; it names the release of src/config/config.h;
# every section and key of easd.conf.example is an entry of easd.conf.5
# (under its own section); every command `easctl --help` lists is an entry
# of easctl.8's COMMANDS. Needs EASD_BUILD (folder with easctl) and
# EASD_SOURCE (the repository); man (man-db) and groff (groff-base)
# installed.
#
# Prints one ok/FAIL line per case and exits non-zero if any failed.
set -u

build=${EASD_BUILD:?EASD_BUILD must name the build folder}
src=${EASD_SOURCE:?EASD_SOURCE must name the repository}
easctl=$build/easctl
man_dir=$src/doc/man
pages="easd.8 easctl.8 easd.conf.5"

tmp=$(mktemp -d)
failures=0

trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

command -v man > /dev/null || { echo "FAIL: man is not installed (apt-get install man-db)"; exit 1; }
command -v groff > /dev/null || { echo "FAIL: groff is not installed (apt-get install groff-base)"; exit 1; }

# A page as text, one paragraph a line (no filling at 80 columns, no
# hyphenation, no bold or underlining), for matching words in it.
render() {
	groff -man -Tutf8 -rHY=0 -rLL=5000n -P-cbou "$1" 2> /dev/null
}

version=$(sed -n 's/^#define EASD_VERSION "\(.*\)"$/\1/p' "$src/src/config/config.h")
[ -n "$version" ] || fail "EASD_VERSION not found in src/config/config.h"

# ---- every page renders without a warning and names the release ----

for name in $pages; do
	page=$man_dir/$name
	if [ ! -f "$page" ]; then
		fail "man_page_exists $name ($page is missing)"
		continue
	fi
	status=0
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" > "$tmp/out" 2> "$tmp/err" || status=$?
	if [ "$status" -eq 0 ] && [ -s "$tmp/out" ] && [ ! -s "$tmp/err" ]; then
		pass "man_renders_without_warnings $name"
	else
		fail "man_renders_without_warnings $name (status $status: $(head -5 "$tmp/err"))"
	fi
	status=0
	groff -man -ww -z "$page" > "$tmp/out" 2> "$tmp/err" || status=$?
	if [ "$status" -eq 0 ] && [ ! -s "$tmp/err" ]; then
		pass "groff_renders_without_warnings $name"
	else
		fail "groff_renders_without_warnings $name (status $status: $(head -5 "$tmp/err"))"
	fi
	if grep -q "^\.TH .* \"easd $version\" " "$page"; then
		pass "man_page_names_release $name"
	else
		fail "man_page_names_release $name (.TH does not say \"easd $version\": $(grep '^\.TH' "$page"))"
	fi
done

# ---- every key of easd.conf.example is an entry of easd.conf.5 ----

example=$src/easd.conf.example
conf_page=$man_dir/easd.conf.5
# "section key" lines, in the example's order.
awk '
	/^[ \t]*[;#]/ { next }
	/^[ \t]*\[[^]]+\]/ { s = $0; sub(/^[ \t]*\[/, "", s); sub(/\].*/, "", s); section = s; next }
	/^[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ { k = $0; sub(/^[ \t]*/, "", k); sub(/[ \t]*=.*/, "", k); print section, k }
' "$example" > "$tmp/keys"
if [ ! -s "$tmp/keys" ]; then
	fail "easd_conf_example_has_keys (none read from $example)"
elif [ -f "$conf_page" ]; then
	count=$(wc -l < "$tmp/keys")
	missing=""
	for section in $(cut -d' ' -f1 "$tmp/keys" | uniq); do
		grep -qx "\.SS \"\[$section\]\"" "$conf_page" || missing="$missing [$section]"
	done
	while read -r section key; do
		# The lines of the section's subsection, up to the next heading.
		if ! awk -v head=".SS \"[$section]\"" -v entry=".B $key" '
			$0 == head { inside = 1; next }
			inside && /^\.S[HS] / { inside = 0 }
			inside && $0 == entry { found = 1 }
			END { exit !found }
		' "$conf_page"; then
			missing="$missing [$section]$key"
		fi
	done < "$tmp/keys"
	if [ -z "$missing" ]; then
		pass "easd_conf_5_has_every_key ($count keys)"
	else
		fail "easd_conf_5_has_every_key (not an entry of easd.conf.5:$missing)"
	fi
fi

# ---- every easctl command is an entry of easctl.8 ----

easctl_page=$man_dir/easctl.8
# -c /dev/null: the help does not depend on this host's /etc/easd/easd.conf.
status=0
"$easctl" -c /dev/null --help > "$tmp/help" 2> "$tmp/err" || status=$?
# The commands: "user add", "deliver", "wbxml decode", ... (lines of two
# spaces, the command, its subcommand in lower case if it has one).
sed -n '/^commands:$/,$p' "$tmp/help" |
	sed -n 's/^  \([a-z][a-z]*\)\( [a-z][a-z]*\)\{0,1\}\( .*\)\{0,1\}$/\1\2/p' > "$tmp/commands"
if [ "$status" -ne 0 ] || [ ! -s "$tmp/commands" ]; then
	fail "easctl_help_lists_commands (status $status: $(head -3 "$tmp/err"))"
elif [ -f "$easctl_page" ]; then
	render "$easctl_page" | awk '/^COMMANDS$/ { inside = 1; next } inside && /^[A-Z]/ { inside = 0 } inside' > "$tmp/easctl.txt"
	count=$(wc -l < "$tmp/commands")
	missing=""
	while read -r command; do
		grep -Eq "^ +$command( |$)" "$tmp/easctl.txt" || missing="$missing '$command'"
	done < "$tmp/commands"
	if [ -z "$missing" ]; then
		pass "easctl_8_has_every_command ($count commands)"
	else
		fail "easctl_8_has_every_command (not an entry of easctl.8's COMMANDS:$missing)"
	fi
fi

[ "$failures" -eq 0 ] || { echo "$failures man page test(s) failed"; exit 1; }
echo "all man page tests passed"
