#!/bin/sh
# bench_push.sh: push on a real easd, driven by easbench (make bench).
#   1. N devices park Pings (normal profile): easd's RSS growth per parked
#      Ping, and its CPU over a minute of them idle;
#   2. the same devices, woken by mail from the LMTP injector at RATE
#      messages per second: wake latency from the 250 to the Ping answer;
#   3. devices that hang up their parked Pings (FIN and RST in turn) and
#      ping again: easd's descriptors and RSS at the end against the start.
# Usage: bench_push.sh BUILD RESULT_FILE. PUSH_DEVICES (10000), PUSH_RATE
# (100) and PUSH_SECONDS (60) change the sizes.
set -eu
build=$1
result=$2
devices=${PUSH_DEVICES:-10000}
rate=${PUSH_RATE:-100}
seconds=${PUSH_SECONDS:-60}
users=$(( (devices + 3) / 4 ))   # 4 devices a user, well under [push] max_parked_per_user
tmp=$(mktemp -d)
easd_pid=
trap 'if [ -n "$easd_pid" ]; then kill $easd_pid 2>/dev/null || true; wait $easd_pid 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
lmtp_port=$(( 20000 + $$ % 20000 ))

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
CONF

say() { printf '%s\n' "$*" | tee -a "$tmp/report"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' /proc/"$easd_pid"/status; }
fds() { ls /proc/"$easd_pid"/fd | wc -l; }
json_field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$2"; }

say "Push on a real easd (make bench: bench/bench_push.sh with $build/easbench)"
say "date: $(date -u +%Y-%m-%dT%H:%MZ), command: make bench, nproc $(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
say "easd: release build, threads = nproc, SQLite store, provisioning required; easbench on the same machine"
say "      (one process, curl multi on epoll), $devices devices over $users users (4 each)"
say "descriptor limit of this machine: $(ulimit -Hn) per process (easd and easbench each hold one socket per device)"

start=$(date +%s)
i=0
while [ $i -lt $users ]; do echo benchmark | "$build/easctl" -c "$tmp/easd.conf" user add "bench$i" >/dev/null; i=$((i + 1)); done
say "set-up: $users users created with easctl in $(( $(date +%s) - start )) s"

"$build/easd" -c "$tmp/easd.conf" 2>>"$tmp/easd.stderr" &
easd_pid=$!
while [ ! -s "$tmp/port" ]; do sleep 0.05; done
url="http://127.0.0.1:$(cat "$tmp/port")"
sleep 1
rss0=$(rss_kb)
fds0=$(fds)
say "easd idle after start: RSS $rss0 kB, $fds0 descriptors"

say ""
say "1. $devices devices park Pings (HeartbeatInterval 3540), then $seconds s idle"
"$build/easbench" --quiet --url "$url" --users "$users" --devices "$devices" --heartbeat 3540 \
	--duration "$seconds" --easd-pid "$easd_pid" --json "$tmp/idle.json" > "$tmp/idle.txt"
sed 's/^/  /' "$tmp/idle.txt" | tee -a "$tmp/report"
rss1=$(json_field rss_kb_ready "$tmp/idle.json")
say "  easd RSS growth per parked Ping: $(( (rss1 - rss0) * 1024 / devices )) bytes (($rss1 - $rss0) kB / $devices; target <= 16 KB)"
say "  easd CPU while $devices Pings were parked: $(json_field cpu_seconds_after_ready "$tmp/idle.json") s over $seconds s (target ~0)"

say ""
say "2. the same devices woken by mail: $rate messages/s over LMTP, $seconds s"
"$build/easbench" --quiet --url "$url" --users "$users" --devices "$devices" --heartbeat 3540 \
	--duration "$seconds" --lmtp "127.0.0.1:$lmtp_port" --rate "$rate" --easd-pid "$easd_pid" \
	--json "$tmp/wake.json" > "$tmp/wake.txt"
sed 's/^/  /' "$tmp/wake.txt" | tee -a "$tmp/report"

say ""
hang=$(( devices < 1000 ? devices : 1000 ))
say "3. $hang devices hang up their parked Pings after 200 ms (FIN and RST in turn) and ping again, 30 s"
"$build/easbench" --quiet --url "$url" --users "$users" --devices "$hang" --heartbeat 3540 --duration 30 \
	--profile hang-up --hang-up-ms 200 --easd-pid "$easd_pid" --json "$tmp/hang.json" > "$tmp/hang.txt"
sed 's/^/  /' "$tmp/hang.txt" | tee -a "$tmp/report"
sleep 2
say "  after easbench exited: easd $(fds) descriptors (at start $fds0), RSS $(rss_kb) kB;" \
	"$(grep -c 'client_gone' "$tmp/log/access.log") client_gone lines in the access log"

kill "$easd_pid"
wait "$easd_pid" && status=0 || status=$?
easd_pid=
say ""
say "whole run: $(( $(date +%s) - start )) s; easd stopped with status $status"
cp "$tmp/report" "$result"
[ -z "${PUSH_KEEP_LOG:-}" ] || cp "$tmp/log/access.log" "$PUSH_KEEP_LOG"
