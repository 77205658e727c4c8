#!/bin/sh
# bench_mail.sh: sending through a real Postfix (make bench). 50 devices
# (easbench's sender profile) send SendMail after SendMail to each other;
# easd submits each to Postfix (tests/lib/postfix.sh: its own configuration
# on loopback), which hands it back to easd over LMTP. Measured: messages
# submitted per second, SendMail latency, easd's CPU and RSS per message,
# and that every message arrived once.
# Usage: bench_mail.sh BUILD RESULT_FILE. MAIL_DEVICES (50) and MAIL_SECONDS
# (30) change the sizes. Needs root (Postfix).
set -eu
build=$1
result=$2
devices=${MAIL_DEVICES:-50}
seconds=${MAIL_SECONDS:-30}
source=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"
easd_pid=
trap 'if [ -n "$easd_pid" ]; then kill $easd_pid 2>/dev/null || true; wait $easd_pid 2>/dev/null || true; fi;
      "$source/tests/lib/postfix.sh" stop "$tmp/postfix" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
lmtp_port=$(free_port)
smtp_port=$(free_port)

cat > "$tmp/easd.conf" <<CONF
[http]
listen = 127.0.0.1:0
port_file = $tmp/port
[store]
data_dir = $tmp/data
[log]
dir = $tmp/log
[metrics]
listen =
[lmtp]
listen = 127.0.0.1:$lmtp_port
local_domains = example.org
[smtp]
relay = 127.0.0.1:$smtp_port
max_messages_per_hour = 0
CONF

say() { printf '%s\n' "$*" | tee -a "$tmp/report"; }
json_field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$2"; }
inbox_total() {
	sqlite3 "$tmp/data/easd.sqlite" "SELECT count(*) FROM items i JOIN folders f ON f.id = i.folder_id WHERE f.type = 2"
}

say "Sending through Postfix (make bench: bench/bench_mail.sh with $build/easbench --profile sender)"
say "date: $(date -u +%Y-%m-%dT%H:%MZ), command: make bench, nproc $(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
say "easd: release build, SQLite store; Postfix $(postconf -d mail_version | sed 's/.*= //') on loopback with its own"
say "      configuration; easbench, Postfix and easd on the same machine; $devices devices over $devices users"

i=0
while [ $i -lt "$devices" ]; do echo benchmark | "$build/easctl" -c "$tmp/easd.conf" user add "bench$i" >/dev/null; i=$((i + 1)); done
"$source/tests/lib/postfix.sh" start "$tmp/postfix" "$smtp_port" "$lmtp_port"
"$build/easd" -c "$tmp/easd.conf" 2>>"$tmp/easd.stderr" &
easd_pid=$!
while [ ! -s "$tmp/port" ]; do sleep 0.05; done
url="http://127.0.0.1:$(cat "$tmp/port")"
sleep 1
rss0=$(awk '/^VmRSS/ { print $2 }' /proc/"$easd_pid"/status)

say ""
say "$devices devices send for $seconds s, one SendMail after another each (a new ClientId each time)"
"$build/easbench" --quiet --url "$url" --users "$devices" --devices "$devices" --profile sender \
	--duration "$seconds" --easd-pid "$easd_pid" --json "$tmp/send.json" > "$tmp/send.txt"
sed 's/^/  /' "$tmp/send.txt" | tee -a "$tmp/report"
sent=$(json_field wakes "$tmp/send.json")
cpu=$(json_field cpu_seconds_after_ready "$tmp/send.json")
rss1=$(json_field rss_kb_end "$tmp/send.json")
say "  easd CPU per message: $(awk -v c="$cpu" -v n="$sent" 'BEGIN { printf "%.2f", (n > 0 ? c * 1000 / n : 0) }') ms" \
	"($cpu s over $sent messages; easd also takes each one back over LMTP)"
say "  easd RSS: $rss0 kB idle before, $rss1 kB at the end (+$((rss1 - rss0)) kB with $devices connections and" \
	"threads busy; $(( (rss1 - rss0) * 1024 / (sent > 0 ? sent : 1) )) bytes per message sent if it were all theirs)"

# Every message comes back once: wait for Postfix to empty its queue. easd's
# record of sends counts those still in flight when easbench stopped too
# (they finish within a second).
sleep 2
recorded=$(sqlite3 "$tmp/data/easd.sqlite" "SELECT count(*) FROM sent_messages WHERE state = 1")
for _ in $(seq 300); do
	[ "$(inbox_total)" -ge "$recorded" ] && [ -z "$("$source/tests/lib/postfix.sh" queue "$tmp/postfix")" ] && break
	sleep 0.1
done
say "  delivered back into Inboxes: $(inbox_total) of the $recorded easd recorded as sent (in Postfix's queue" \
	"still: $("$source/tests/lib/postfix.sh" queue "$tmp/postfix" | grep -c . || true))"
cp "$tmp/report" "$result"
[ -z "${MAIL_KEEP:-}" ] || cp -r "$tmp" "$MAIL_KEEP"
