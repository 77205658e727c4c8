#!/usr/bin/env bash
# tests/e2e/soak_push.sh: push over many cycles against a real easd, driven
# by easbench. Each cycle, devices provision, sync, park Pings, hang them up
# (FIN and RST in turn) and park again, while mail arrives over LMTP and
# wakes them; then easbench exits and every connection closes. After each
# cycle easd's descriptors must be back where they were after the first
# (nothing stays parked, no socket is left in CLOSE_WAIT) and its RSS must
# stay flat. Seconds in make check; make soak runs it for minutes
# (SOAK_CYCLES, SOAK_SECONDS, SOAK_DEVICES).
set -u

build=${EASD_BUILD:?EASD_BUILD must name the build folder}
cycles=${SOAK_CYCLES:-3}
seconds=${SOAK_SECONDS:-4}
devices=${SOAK_DEVICES:-40}
users=10
rss_slack_kb=${SOAK_RSS_SLACK_KB:-3072}
# Under AddressSanitizer freed memory waits in a quarantine (256 MB), so RSS says nothing there.
check_rss=yes
if nm -D "$build/easd" 2>/dev/null | grep -q __asan_init; then check_rss=no; fi

tmp=$(mktemp -d)
easd_pid=
failures=0
cleanup() {
	if [ -n "$easd_pid" ]; then
		kill "$easd_pid" 2>/dev/null
		wait "$easd_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# easd on an HTTP port of its choosing and an LMTP port of ours: another is tried if that one is taken.
start_easd() {
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
	rm -f "$tmp/port"
	"$build/easd" -c "$tmp/easd.conf" 2> "$tmp/easd.stderr" &
	easd_pid=$!
	for _ in $(seq 100); do
		[ -s "$tmp/port" ] && kill -0 "$easd_pid" 2>/dev/null && return 0
		kill -0 "$easd_pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$easd_pid" 2>/dev/null
	easd_pid=
	return 1
}
for _ in 1 2 3 4 5; do
	lmtp_port=$(( 30000 + RANDOM % 30000 ))
	start_easd && break
done
[ -n "$easd_pid" ] || { echo "FAIL: easd did not start"; cat "$tmp/easd.stderr"; exit 1; }
for i in $(seq 0 $((users - 1))); do
	echo benchmark | "$build/easctl" -c "$tmp/easd.conf" user add "bench$i" > /dev/null || exit 1
done
url="http://127.0.0.1:$(cat "$tmp/port")"

rss_kb() { awk '/^VmRSS/ { print $2 }' /proc/"$easd_pid"/status; }
fds() { ls /proc/"$easd_pid"/fd | wc -l; }
# easd's descriptors once the closed connections are gone (a second at most).
settled_fds() {
	local want=$1 n
	for _ in $(seq 20); do
		n=$(fds)
		[ "$n" -le "$want" ] && break
		sleep 0.05
	done
	echo "$n"
}

base_fds=
base_rss=
for cycle in $(seq "$cycles"); do
	if ! "$build/easbench" --quiet --url "$url" --users "$users" --devices "$devices" --heartbeat 60 \
		--duration "$seconds" --profile hang-up --hang-up-ms 300 --lmtp "127.0.0.1:$lmtp_port" --rate 20 \
		--json "$tmp/cycle.json" > "$tmp/cycle.txt"; then
		fail "cycle $cycle: easbench did not get every device set up"
		cat "$tmp/cycle.txt"
	fi
	grep -q '"errors": {"transport": 0, "http": 0, "wbxml": 0, "status": 0}' "$tmp/cycle.json" ||
		fail "cycle $cycle: errors $(sed -n 's/.*"errors": \({[^}]*}\).*/\1/p' "$tmp/cycle.json")"
	if [ -z "$base_fds" ]; then
		sleep 1
		base_fds=$(fds)
		base_rss=$(rss_kb)
		continue
	fi
	now_fds=$(settled_fds "$base_fds")
	now_rss=$(rss_kb)
	echo "cycle $cycle: easd $now_fds descriptors (after cycle 1: $base_fds), RSS $now_rss kB (after cycle 1: $base_rss kB)"
	[ "$now_fds" -le "$base_fds" ] || fail "cycle $cycle: $now_fds descriptors, $base_fds after the first cycle"
	[ "$check_rss" = no ] || [ "$now_rss" -le $((base_rss + rss_slack_kb)) ] ||
		fail "cycle $cycle: RSS $now_rss kB, $base_rss kB after the first"
done
hang_ups=$(grep -c 'client_gone' "$tmp/log/access.log")
[ "$hang_ups" -gt 0 ] && pass "soak_push_hang_ups_logged ($hang_ups)" || fail "no client_gone in the access log"
woken=$(awk -F'\t' '$7 == "Ping" && $10 == "2"' "$tmp/log/access.log" | wc -l)
[ "$woken" -gt 0 ] && pass "soak_push_pings_woken_by_mail ($woken)" || fail "no Ping was woken by mail"
[ "$failures" -eq 0 ] && pass "soak_push_descriptors_and_rss_flat over $cycles cycles of $seconds s"

kill "$easd_pid"
wait "$easd_pid"
status=$?
easd_pid=
[ "$status" -eq 0 ] || { fail "easd exited with $status"; cat "$tmp/easd.stderr"; }
[ "$failures" -eq 0 ] || { echo "$failures failed"; exit 1; }
echo "soak_push: all passed"
