#!/usr/bin/env bash
# tests/e2e/backup_restore.sh: easctl backup and restore against the real
# easd. Backups are taken while easd runs and receives mail over LMTP (from
# swaks, one message after another); each must open, pass SQLite's
# integrity check and hold every message delivered before it began. A
# restore is refused while easd runs; once easd is stopped it puts a backup
# in place and the restarted easd serves it. Needs EASD_BUILD (folder with
# easd and easctl) and EASD_SOURCE (the repository); swaks and sqlite3
# installed.
#
# Prints one ok/FAIL line per case and exits non-zero if any failed. easd
# and the mail loop are stopped and the temporary folder removed on every
# exit path.
set -u

build=${EASD_BUILD:?EASD_BUILD must name the build folder}
: "${EASD_SOURCE:?EASD_SOURCE must name the repository}"
easd=$build/easd
easctl=$build/easctl
messages=40

tmp=$(mktemp -d)
easd_pid=
mail_pid=
failures=0

cleanup() {
	for pid in "$mail_pid" "$easd_pid"; do
		if [ -n "$pid" ]; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

for tool in swaks sqlite3; do
	command -v "$tool" > /dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

write_config() {
	cat > "$tmp/easd.conf" <<EOF
[http]
listen = 127.0.0.1:0
port_file = $tmp/http.port
[store]
data_dir = $tmp/data
[log]
dir = $tmp/log
[metrics]
listen =
[lmtp]
listen = 127.0.0.1:$1
local_domains = example.org
EOF
}

port_accepts() {
	(exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

# A random high port; another one if easd cannot bind it (in use). As tests/e2e/lmtp_swaks.sh.
start_easd() {
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		lmtp_port=$((20000 + RANDOM % 40000))
		write_config "$lmtp_port"
		rm -f "$tmp/http.port"
		"$easd" -c "$tmp/easd.conf" 2>> "$tmp/easd.err" &
		easd_pid=$!
		for _ in $(seq 100); do
			if ! kill -0 "$easd_pid" 2> /dev/null; then
				wait "$easd_pid"
				easd_pid=
				break
			fi
			if [ -s "$tmp/http.port" ] && port_accepts "$lmtp_port"; then
				return 0
			fi
			sleep 0.1
		done
		if [ -n "$easd_pid" ]; then
			echo "easd did not open port $lmtp_port in 10 s" >&2
			return 1
		fi
		grep -q 'in use' "$tmp/easd.err" || return 1
	done
	return 1
}

# SIGTERM, then the exit status (or "timeout" after 10 s).
stop_easd() {
	kill -TERM "$easd_pid"
	stop_status=timeout
	for _ in $(seq 100); do
		if ! kill -0 "$easd_pid" 2> /dev/null; then
			wait "$easd_pid"
			stop_status=$?
			easd_pid=
			return
		fi
		sleep 0.1
	done
}

ctl() { "$easctl" -c "$tmp/easd.conf" "$@"; }

# Live messages of alice in the database at $1.
items_in() {
	sqlite3 "$1" "SELECT count(*) FROM items i JOIN folders f ON i.folder_id = f.id
		JOIN users u ON f.user_id = u.id WHERE u.name = 'alice' AND i.deleted = 0"
}

# One message to alice over LMTP; 0 when easd answered 250.
deliver() {
	swaks --protocol LMTP --server 127.0.0.1 --port "$lmtp_port" --helo mta.example.net \
		--from sender@example.net --to alice@example.org --timeout 20 \
		--header "Subject: $1" --body "message $1" > "$tmp/swaks-$1.out" 2>&1 &&
		grep -qE '^<(-|\*\*) +250 2.0.0 <alice@example.org> delivered' "$tmp/swaks-$1.out"
}

# ---- set-up: alice with one message ----

mkdir -p "$tmp/data" "$tmp/log"
write_config 0
if ! echo "secret password" | ctl user add alice > "$tmp/out" 2>&1; then
	echo "FAIL: easctl user add alice: $(cat "$tmp/out")"
	exit 1
fi
if ! start_easd; then
	echo "FAIL: easd did not start: $(cat "$tmp/easd.err")"
	exit 1
fi
if ! deliver first; then
	echo "FAIL: first delivery: $(cat "$tmp/swaks-first.out")"
	exit 1
fi

# ---- backups while mail arrives ----

# The mail loop: each message delivered (250) is a line of $tmp/delivered, any other answer one of $tmp/refused.
: > "$tmp/delivered"
: > "$tmp/refused"
(
	for n in $(seq "$messages"); do
		if deliver "n$n"; then echo "n$n" >> "$tmp/delivered"; else echo "n$n" >> "$tmp/refused"; fi
	done
) &
mail_pid=$!

# A backup holds at least the messages delivered before it began (and the
# first one), and at most those delivered by its end plus the one in flight.
backups=0
during=0
bad=
mid_backup=
mid_count=
while kill -0 "$mail_pid" 2> /dev/null || [ "$backups" -eq 0 ]; do
	before=$(wc -l < "$tmp/delivered")
	file=$tmp/live-$backups.backup
	if ! ctl backup "$file" > "$tmp/out" 2> "$tmp/err"; then
		bad="backup $backups failed: $(cat "$tmp/err")"
		break
	fi
	after=$(wc -l < "$tmp/delivered")
	check=$(sqlite3 "$file" 'PRAGMA integrity_check' 2>&1)
	count=$(items_in "$file")
	if [ "$check" != ok ] || [ "$count" -lt $((before + 1)) ] || [ "$count" -gt $((after + 2)) ]; then
		bad="backup $backups: integrity '$check', $count messages, $before..$after delivered around it"
		break
	fi
	if [ "$before" -gt 0 ] && [ "$after" -lt "$messages" ]; then
		during=$((during + 1))
		if [ -z "$mid_backup" ]; then
			mid_backup=$file
			mid_count=$count
		fi
	fi
	backups=$((backups + 1))
	sleep 0.05
done
wait "$mail_pid"
mail_pid=
if [ -z "$bad" ] && [ "$during" -gt 0 ]; then
	pass "backup_while_lmtp_delivers_is_consistent ($backups backups, $during while mail arrived)"
else
	fail "backup_while_lmtp_delivers_is_consistent (${bad:-no backup was taken while mail arrived})"
fi

if [ "$(wc -l < "$tmp/delivered")" -eq "$messages" ] && [ ! -s "$tmp/refused" ]; then
	pass lmtp_deliveries_unharmed_by_backups
else
	fail "lmtp_deliveries_unharmed_by_backups (refused: $(tr '\n' ' ' < "$tmp/refused"))"
fi

# Once the mail is in, a backup holds every message, the last one's text included.
final=$tmp/final.backup
if ctl backup "$final" > "$tmp/out" 2> "$tmp/err" && grep -q "^backup $final: .*, 1 user$" "$tmp/out" &&
   [ "$(items_in "$final")" = $((messages + 1)) ] &&
   [ "$(sqlite3 "$final" "SELECT count(*) FROM items WHERE CAST(content AS TEXT) LIKE '%Subject: n$messages%'")" = 1 ]; then
	pass backup_holds_every_delivered_message
else
	fail "backup_holds_every_delivered_message ($(items_in "$final") messages: $(cat "$tmp/out" "$tmp/err"))"
fi

# ---- restore: refused while easd runs, done once it is stopped ----

status=0
ctl restore "$mid_backup" > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 1 ] && grep -q "restore: an easd serves $tmp/data; stop it first (nothing was changed)" "$tmp/err" &&
   deliver after-refusal && [ "$(items_in "$tmp/data/easd.sqlite")" = $((messages + 2)) ]; then
	pass restore_refused_while_easd_runs
else
	fail "restore_refused_while_easd_runs (status $status: $(cat "$tmp/err"))"
fi

stop_easd
status=0
ctl restore "$mid_backup" > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$stop_status" = 0 ] && [ "$status" -eq 0 ] && grep -q "^restored $mid_backup into $tmp/data/easd.sqlite: " "$tmp/out" &&
   start_easd && [ "$(items_in "$tmp/data/easd.sqlite")" = "$mid_count" ] && deliver after-restore &&
   [ "$(items_in "$tmp/data/easd.sqlite")" = $((mid_count + 1)) ]; then
	pass restore_after_stop_is_served_by_the_next_easd
else
	fail "restore_after_stop_is_served_by_the_next_easd (stop $stop_status, restore $status: $(cat "$tmp/out" "$tmp/err"), $(tail -3 "$tmp/easd.err"))"
fi

[ "$failures" -eq 0 ] || { echo "$failures backup test(s) failed"; exit 1; }
echo "all backup tests passed"
