#!/usr/bin/env bash
# tests/e2e/easctl_report.sh: `easctl report` on synthetic access logs. A
# log where one device storms (500 requests in 50 minutes: big contact
# uploads, errors, guard refusals) among ordinary ones: the stormer is
# ranked first and flagged, and only it; --by user and --by command add up;
# --since leaves out what is older; malformed lines are skipped and
# counted; a log of an older easd (fewer columns) is read; the JSON parses
# and its strings are escaped; the terminal output fits 100 columns; the
# group limit is tested at its value and one past it. Last, the log a
# real easd writes while its guard refuses a device. Needs EASD_BUILD
# (folder with easd and easctl) and EASD_SOURCE (the repository); python3
# and GNU date installed.
#
# Prints one ok/FAIL line per case and exits non-zero if any failed. easd
# is stopped and the temporary folder removed on every exit path.
set -u

build=${EASD_BUILD:?EASD_BUILD must name the build folder}
: "${EASD_SOURCE:?EASD_SOURCE must name the repository}"
easctl=$build/easctl
easd=$build/easd

tmp=$(mktemp -d)
easd_pid=
failures=0

cleanup() {
	if [ -n "$easd_pid" ]; then
		kill "$easd_pid" 2> /dev/null
		wait "$easd_pid" 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

command -v python3 > /dev/null || { echo "FAIL: python3 is not installed"; exit 1; }

now=$(date +%s)
fields='date time c-ip cs-username x-device-id x-device-type x-command x-protocol-version sc-status x-eas-status cs-bytes sc-bytes time-taken cs(User-Agent) x-reason x-store-wait x-class x-added x-changed x-deleted x-guard'
old_fields='date time c-ip cs-username x-device-id x-device-type x-command x-protocol-version sc-status x-eas-status cs-bytes sc-bytes time-taken cs(User-Agent) x-reason'

header() {
	printf '#Software: easd\n#Version: 1.0\n#Date: %s\n#Fields: %s\n' "$(date -u '+%F %T')" "$1"
}

# Requests as easd logs them, from lines of words: seconds ago, user, device
# id, device type, command, HTTP status, EAS status, bytes in, bytes out,
# milliseconds, reason, class, added, changed, deleted, guard.
to_log() {
	cat > "$tmp/spec"
	awk -v now="$now" '{ print "@" (now - $1) }' "$tmp/spec" | date -u -f - '+%F%t%T.123' > "$tmp/times"
	awk 'BEGIN { OFS = "\t" } {
		print "192.0.2.7", $2, $3, $4, $5, "16.1", $6, $7, $8, $9, $10, "Test/1.0", $11, 0, $12, $13, $14, $15, $16
	}' "$tmp/spec" | paste "$tmp/times" -
}

# The same with the columns of an easd before x-store-wait (15).
to_old_log() {
	to_log | cut -f1-15
}

# carol's STORM1, a line every 6 s over the last 50 minutes: every fifth a
# Sync uploading 150 contacts (2.5 MB, 0.9 s), every fifth a FolderSync
# with an unknown key, the other three refused by the guard.
stormer() {
	awk 'BEGIN { for (i = 0; i < 500; i++) {
		ago = 3000 - i * 6; k = i % 5
		if (k == 0) print ago, "carol STORM1 Android Sync 200 1 2500000 800 900 - Contacts 150 0 0 pass"
		else if (k == 4) print ago, "carol STORM1 Android FolderSync 200 9 13 40 5 sync_key_unknown - 0 0 0 pass"
		else print ago, "carol STORM1 Android Sync 503 - 0 0 1 request_budget - 0 0 0 refused"
	} }'
}

# Ordinary devices: alice's phone syncs mail and parks Pings of 15
# minutes (which are not time in easd), her tablet syncs; bob's first
# login is a 401 and he has one failed Sync in 30; erin's first sync
# uploads twice big (not a loop); frank's phone was last seen 2 hours ago.
ordinary() {
	awk 'BEGIN {
		for (i = 0; i < 40; i++) print 3000 - i * 70, "alice PHONE1 iPhone Sync 200 1 300 5000 40 - Email 0 1 0 pass"
		for (i = 0; i < 20; i++) print 2950 - i * 130, "alice PHONE1 iPhone Ping 200 1 80 20 900000 - - 0 0 0 pass"
		for (i = 0; i < 10; i++) print 2900 - i * 200, "alice PAD1 iPad Sync 200 1 300 3000 30 - Email 0 0 1 pass"
		print 2990, "bob WIN1 WindowsMail FolderSync 401 - 0 0 2 no_credentials - 0 0 0 -"
		for (i = 0; i < 30; i++) print 2980 - i * 90, "bob WIN1 WindowsMail Sync 200 " (i == 7 ? "3 60 40 3 sync_key_unknown" : "1 60 900 100 -") " Email 0 0 0 pass"
		for (i = 0; i < 2; i++) print 1100 - i * 60, "erin DROID7 Android Sync 200 1 90000 300 600 - Contacts 400 0 0 pass"
		for (i = 0; i < 5; i++) print 7200 + i * 60, "frank OLD9 iPhone Sync 200 1 300 5000 70000 - Email 0 0 0 pass"
	}'
}

{ header "$fields"; { stormer; ordinary; } | sort -rn -k1,1 | to_log; } > "$tmp/access.log"

# Runs easctl report ARGS; sets status, output in $tmp/out and $tmp/err.
report() {
	status=0
	"$easctl" -c /dev/null report "$@" > "$tmp/out" 2> "$tmp/err" || status=$?
}

# The table's rows (between the column headers and the blank line before the patterns).
rows() { awk '/^(USER|COMMAND) / { inside = 1; next } /^$|^\([0-9]+ more / { inside = 0 } inside' "$tmp/out"; }
patterns() { sed -n '/^patterns:/,$p' "$tmp/out"; }

# A value of the JSON in $tmp/out: python3 expression on j.
json() { python3 -c "import json, sys; j = json.load(open(sys.argv[1])); print($1)" "$tmp/out"; }

# ---- the stormer first, and flagged ----

report "$tmp/access.log"
if [ "$status" -eq 0 ] && rows | head -1 | grep -Eq '^carol +STORM1 +Android +500 +90\.8 ' &&
   [ "$(rows | wc -l)" -eq 5 ] && grep -q '^total:  603 requests of 5 devices, 96\.8 s in easd' "$tmp/out" &&
   grep -q '^        402 errors, 300 refused by the guard, 15850 items uploaded$' "$tmp/out"; then
	pass report_ranks_the_stormer_first
else
	fail "report_ranks_the_stormer_first (status $status: $(cat "$tmp/out" "$tmp/err"))"
fi

if patterns | grep -q '^  carol STORM1 (Android): 100 big Sync Contacts uploads, 15000 items, 238M in, every 30 s$' &&
   patterns | grep -q '^  carol STORM1 (Android): refused by the guard 300 times in 500 requests (request_budget)$' &&
   patterns | grep -q '^  carol STORM1 (Android): 400 errors in 500 requests (80%), top reason request_budget$' &&
   [ "$(patterns | wc -l)" -eq 4 ]; then
	pass report_flags_the_stormer_and_only_it
else
	fail "report_flags_the_stormer_and_only_it ($(patterns))"
fi

# alice's phone: 40 Syncs of 40 ms; its Pings waited 5 hours parked, which is no time in easd.
if rows | grep -Eq '^alice +PHONE1 +iPhone +60 +1\.60 '; then
	pass report_ping_wait_is_not_time_in_easd
else
	fail "report_ping_wait_is_not_time_in_easd ($(rows | grep PHONE1))"
fi

report --json "$tmp/access.log"
if [ "$status" -eq 0 ] &&
   [ "$(json 'j["groups"][0]["device_id"], j["groups"][0]["requests"], j["groups"][0]["refused"], j["groups"][0]["top_reason"]')" = \
     "STORM1 500 300 request_budget" ] &&
   [ "$(json 'sorted(p["pattern"] for p in j["patterns"])')" = "['error_share', 'guard_refusals', 'repeated_big_upload']" ] &&
   [ "$(json 'set(p.get("device", p.get("upload"))["device_id"] for p in j["patterns"])')" = "{'STORM1'}" ] &&
   [ "$(json 'j["since"], j["by"], j["totals"]["requests"], j["totals"]["groups"], j["lines_skipped"]')" = "1h device 603 5 0" ] &&
   [ "$(json '[g["ping_seconds"] for g in j["groups"] if g["device_id"] == "PHONE1"]')" = "[18000.0]" ]; then
	pass report_json_parses_and_says_the_same
else
	fail "report_json_parses_and_says_the_same (status $status: $(head -c 2000 "$tmp/out") $(cat "$tmp/err"))"
fi

# ---- other groupings ----

# (Options may follow the files.)
report "$tmp/access.log" --by user
if [ "$status" -eq 0 ] && [ "$(rows | awk '{ print $1, $2 }' | tr '\n' ' ')" = 'carol 500 bob 31 alice 70 erin 2 ' ]; then
	pass report_by_user_adds_up_a_users_devices
else
	fail "report_by_user_adds_up_a_users_devices ($(cat "$tmp/out"))"
fi

report --by command --json "$tmp/access.log"
if [ "$status" -eq 0 ] &&
   [ "$(json '" ".join("%s=%d" % (g["command"], g["requests"]) for g in j["groups"])')" = 'Sync=482 FolderSync=101 Ping=20' ] &&
   [ "$(json 'j["patterns"][0]["upload"]["class"], j["patterns"][0]["count"]')" = 'Contacts 100' ]; then
	pass report_by_command_adds_up_and_keeps_the_patterns
else
	fail "report_by_command_adds_up_and_keeps_the_patterns ($(head -c 2000 "$tmp/out"))"
fi

report --top 2 "$tmp/access.log"
if [ "$status" -eq 0 ] && [ "$(rows | wc -l)" -eq 2 ] && grep -qx '(3 more devices; --top 0 shows all)' "$tmp/out"; then
	pass report_top_limits_the_rows
else
	fail "report_top_limits_the_rows ($(cat "$tmp/out"))"
fi

# ---- the window: one request 10 and 30 minutes, 2, 5 and 30 hours and 3 days ago ----

{
	header "$fields"
	for ago in 259200 108000 18000 7200 1800 600; do
		echo "$ago dave PHONE$ago iPhone Sync 200 1 1 1 1 - Email 0 0 0 pass"
	done | to_log
} > "$tmp/window.log"
counts=
for since in 60s 20m 1h 3h 6h 2d all; do
	report --since "$since" --json "$tmp/window.log"
	counts="$counts $(json 'j["totals"]["requests"]')"
done
report --since 3h "$tmp/access.log"
frank_3h=$(rows | grep -c '^frank ')
report "$tmp/access.log"
frank_1h=$(rows | grep -c '^frank ')
report --since 5m "$tmp/window.log"
if [ "$counts" = ' 0 1 2 3 4 5 6' ] && [ "$frank_3h" = 1 ] && [ "$frank_1h" = 0 ] && [ "$status" -eq 0 ] &&
   grep -q '^window: no requests (since 5m); 1 file, 0 lines skipped$' "$tmp/out" &&
   grep -qx 'patterns: none' "$tmp/out"; then
	pass report_since_leaves_out_older_lines
else
	fail "report_since_leaves_out_older_lines (counts$counts, frank $frank_3h/$frank_1h; $(cat "$tmp/out"))"
fi

# ---- what is not a request line ----

{
	head -20 "$tmp/access.log"
	echo 'garbage'
	sed -n 21p "$tmp/access.log" | sed 's/^[0-9-]*/2026-13-01/'
	sed -n 22p "$tmp/access.log" | cut -f1-20
	sed -n 23p "$tmp/access.log" | awk 'BEGIN { FS = OFS = "\t" } { $9 = "OK"; print }'
	head -c 70000 /dev/zero | tr '\0' x; echo
	printf 'nul\0byte\n'
	echo '#Remark: comments and blank lines are no requests'
	echo
	sed -n 24p "$tmp/access.log" | tr -d '\n'
} > "$tmp/malformed.log"
report --since all --json "$tmp/malformed.log"
if [ "$status" -eq 0 ] && [ "$(json 'j["lines_skipped"], j["totals"]["requests"]')" = '6 17' ]; then
	report --since all "$tmp/malformed.log"
	if grep -q '; 1 file, 6 lines skipped$' "$tmp/out"; then
		pass report_skips_and_counts_malformed_lines
	else
		fail "report_skips_and_counts_malformed_lines ($(head -3 "$tmp/out"))"
	fi
else
	fail "report_skips_and_counts_malformed_lines (status $status: $(head -c 600 "$tmp/out") $(cat "$tmp/err"))"
fi

# An easd before x-store-wait ... x-guard; and the same file after an
# upgrade, where easd appends lines of more columns under the old header.
{ header "$old_fields"; stormer | to_old_log; } > "$tmp/old.log"
report --json "$tmp/old.log"
old=$(json 'j["lines_skipped"], j["groups"][0]["requests"], j["groups"][0]["errors"], j["groups"][0]["refused"], j["groups"][0]["items"], j["patterns"][0]["pattern"]')
ordinary | sort -rn -k1,1 | to_log >> "$tmp/old.log"
report --json "$tmp/old.log"
upgraded=$(json 'j["lines_skipped"], j["totals"]["requests"], j["totals"]["items"]')
if [ "$old" = '0 500 400 0 0 repeated_big_upload' ] && [ "$upgraded" = '0 603 850' ]; then
	pass report_reads_older_columns_and_an_upgraded_log
else
	fail "report_reads_older_columns_and_an_upgraded_log (old: $old; upgraded: $upgraded)"
fi

# ---- strings: the terminal's columns, JSON's escapes ----

long_user=$(printf 'someone.with.a.long.name%.0s' 1 2)@example.org
{
	header "$fields"
	echo "60 $long_user Appl1234567890ABCDEFGHIJKLMNOP SAMSUNGSMG991BXYZ Sync 200 1 10 10 99999 ping_repeated:sync_key_unknown - 0 0 0 pass" | to_log
	printf '%s\n' '60 quote\x22back\x5C Dev\x09tab iPhone Sync 200 1 1 1 1 - - 0 0 0 pass' | to_log
	printf '%s\n' "60 caf$(printf '\351') RAW$(printf '\001')1 iPhone Sync 200 1 1 1 1 - - 0 0 0 pass" | to_log
} > "$tmp/strings.log"
# (Lines longer than 100 columns, or with a byte outside printable ASCII, in each output.)
wide=0
for args in "$tmp/strings.log" "--by user $tmp/strings.log" "$tmp/access.log" "--by command $tmp/access.log"; do
	# shellcheck disable=SC2086 # the words of args are the arguments
	report $args
	wide=$((wide + $(LC_ALL=C awk 'length > 100 || /[^ -~]/' "$tmp/out" | wc -l)))
done
report "$tmp/strings.log"
if [ "$status" -eq 0 ] && [ "$wide" -eq 0 ] &&
   rows | head -1 | grep -Eq '^someone\.\.\. Appl123\.\.KLMNOP SAMSUNG\.\. +1 +99\.9 ' &&
   rows | grep -Eq '^caf\? +RAW\?1 '; then
	pass report_fits_100_columns
else
	fail "report_fits_100_columns ($wide wide lines: $(cat "$tmp/out"))"
fi
report --json "$tmp/strings.log"
if [ "$status" -eq 0 ] &&
   [ "$(json 'ascii([g["user"] + "|" + g["device_id"] for g in j["groups"]][1:])')" = "['caf\\xe9|RAW\\x011', 'quote\\\\x22back\\\\x5C|Dev\\\\x09tab']" ] &&
   [ "$(json 'j["groups"][0]["user"] == "'"$long_user"'", j["groups"][0]["top_reason"]')" = 'True ping_repeated:sync_key_unknown' ]; then
	pass report_json_escapes_strings
else
	fail "report_json_escapes_strings ($(cat "$tmp/out"))"
fi

# ---- the log directory, and refusals ----

mkdir -p "$tmp/log"
{ header "$fields"; ordinary | sort -rn -k1,1 | to_log; } > "$tmp/log/access.log.1"
{ header "$fields"; stormer | to_log; } > "$tmp/log/access.log"
printf '[log]\ndir = %s/log\n' "$tmp" > "$tmp/easd.conf"
status=0
"$easctl" -c "$tmp/easd.conf" report --json > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 0 ] && [ "$(json 'j["files"], j["totals"]["requests"]')" = '2 603' ]; then
	pass report_reads_the_log_dir_and_its_rotated_file
else
	fail "report_reads_the_log_dir_and_its_rotated_file (status $status: $(cat "$tmp/err"))"
fi
printf '[log]\ndir = %s/nolog\n' "$tmp" > "$tmp/nolog.conf"
status=0
"$easctl" -c "$tmp/nolog.conf" report > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 1 ] && grep -qx "easctl: report: $tmp/nolog/access.log: No such file or directory (is \[log\] dir right?)" "$tmp/err"; then
	pass report_without_a_log_says_where_it_looked
else
	fail "report_without_a_log_says_where_it_looked (status $status: $(cat "$tmp/err"))"
fi

usage_ok=yes
for args in '--since 5x' '--since 15' '--since -1h' '--by type' '--top many' '--top 100001' '--frobnicate' '--since'; do
	# shellcheck disable=SC2086 # the words of args are the arguments
	report $args "$tmp/access.log"
	[ "$status" -eq 2 ] && grep -q '^usage: easctl report ' "$tmp/err" || usage_ok="no ($args: status $status)"
done
report "$tmp/access.log" "$tmp/missing.log"
if [ "$usage_ok" = yes ] && [ "$status" -eq 1 ] && grep -q 'missing.log: No such file' "$tmp/err" &&
   "$easctl" report --help | grep -q 'report \[--since DURATION\]'; then
	pass report_usage_errors_and_help
else
	fail "report_usage_errors_and_help ($usage_ok, status $status: $(cat "$tmp/err"))"
fi

# ---- the group limit (REPORT_MAX_GROUPS) at its value and one past it ----

groups_log() {
	header "$fields"
	awk -v n="$1" -v date="$(date -u '+%F')" -v time="$(date -u '+%T')" 'BEGIN { OFS = "\t"; for (i = 0; i < n; i++)
		print date, time, "192.0.2.7", "user" i, "DEV" i, "iPhone", "Sync", "16.1", 200, 1, 1, 1, 1, "Test/1.0",
			"-", 0, "Email", 0, 0, 0, "pass" }'
}
groups_log 100000 > "$tmp/groups.log"
report --json --top 1 "$tmp/groups.log"
at_limit=$(json 'j["groups_capped"], j["totals"]["groups"], j["totals"]["requests"]')
groups_log 100001 > "$tmp/groups.log"
report --top 0 "$tmp/groups.log"
if [ "$at_limit" = 'False 100000 100000' ] && grep -qx '(more than 100000 devices: the requests of later ones are counted as "(others)")' "$tmp/out" &&
   [ "$(rows | grep -c '^(others) ')" -eq 1 ] && [ "$(rows | wc -l)" -eq 100001 ]; then
	pass report_groups_at_the_limit_and_one_past
else
	fail "report_groups_at_the_limit_and_one_past (at the limit: $at_limit; $(head -5 "$tmp/out"))"
fi

# ---- what easd writes: a device past [guard] requests_per_minute ----

mkdir -p "$tmp/real/data"
cat > "$tmp/real/easd.conf" <<EOF
[http]
listen = 127.0.0.1:0
port_file = $tmp/real/http.port
[store]
data_dir = $tmp/real/data
[log]
dir = $tmp/real/log
[metrics]
listen =
[lmtp]
listen =
[guard]
requests_per_minute = 5
; refusals at once: this reads the log, the tarpit has tests of its own
tarpit = 0
EOF
for user in alice bob; do
	echo "$user password" | "$easctl" -c "$tmp/real/easd.conf" user add "$user" > /dev/null
done
"$easd" -c "$tmp/real/easd.conf" 2> "$tmp/real/easd.err" &
easd_pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/real/http.port" ] && break
	sleep 0.1
done
port=$(cat "$tmp/real/http.port" 2> /dev/null)

# (The order of the devices is not looked at: refusals cost easd so little
# that the three password checks of bob's requests may take longer.)
# One request over HTTP/1.1 (bash's /dev/tcp): method, user (empty: no
# credentials), device id, command.
request() {
	local auth=
	[ -z "$2" ] || auth="Authorization: Basic $(printf '%s:%s password' "$2" "$2" | base64)"$'\r\n'
	exec 3<> "/dev/tcp/127.0.0.1/$port" || return 1
	printf '%s /Microsoft-Server-ActiveSync?Cmd=%s&User=%s&DeviceId=%s&DeviceType=TestPhone HTTP/1.1\r\nHost: localhost\r\nMS-ASProtocolVersion: 14.1\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n' \
		"$1" "$4" "${2:-nobody}" "$3" "$auth" >&3
	cat <&3 > /dev/null
	exec 3<&-
}
if [ -n "$port" ]; then
	for _ in $(seq 25); do
		request POST alice LOOP2 FolderSync
	done
	for _ in $(seq 3); do
		request OPTIONS bob CALM2 OPTIONS
	done
	request POST '' ANON3 FolderSync
fi
status=0
"$easctl" -c "$tmp/real/easd.conf" report --json > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 0 ] && [ -n "$port" ] &&
   [ "$(json 'j["lines_skipped"], j["totals"]["requests"], [(g["requests"], g["errors"], g["refused"] >= 19) for g in j["groups"] if g["device_id"] == "LOOP2"]')" = \
     '0 29 [(25, 25, True)]' ] &&
   [ "$(json '" ".join(p["pattern"] + ":" + p["device"]["device_id"] for p in j["patterns"])')" = 'guard_refusals:LOOP2 error_share:LOOP2' ] &&
   [ "$(json 'sorted((g["user"], g["errors"]) for g in j["groups"] if g["device_id"] != "LOOP2")')" = "[('-', 1), ('bob', 0)]" ]; then
	pass report_reads_what_easd_writes
else
	fail "report_reads_what_easd_writes (status $status, port $port: $(head -c 3000 "$tmp/out") $(cat "$tmp/err" "$tmp/real/easd.err"))"
fi

[ "$failures" -eq 0 ] || { echo "$failures easctl report test(s) failed"; exit 1; }
echo "all easctl report tests passed"
