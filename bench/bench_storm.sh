#!/bin/sh
# bench_storm.sh: do storming devices hurt the others? (issue 12; make bench)
# A real easd with default [guard] and [autoblock], driven by easbench:
#   A. NORMAL devices (4 a user) poll: a Sync of their Inbox every INTERVAL
#      ms while mail arrives over LMTP at RATE messages per second; each
#      Sync is timed (p50, p99), and easd's CPU and RSS sampled;
#   B. the same devices beside STORMERS (5 a user, so the per-user guard
#      applies) in four kinds at once: retry-storm, synckey0-looper,
#      bulk-contacts, policy-refresh-ignorer. The figure: p99 in B over p99
#      in A (target: within 2x); then how the stormers were answered, and
#      easctl report and device list on the access log, which should name
#      them first.
# Usage: bench_storm.sh BUILD RESULT_FILE. STORM_SECONDS (60), STORM_NORMAL
# (200), STORM_INTERVAL (2000) and STORM_RATE (10) change the sizes;
# STORM_ONLY=PROFILE runs that kind of stormer alone, STORM_NICE=N runs
# the stormers' easbench at that nice value (to tell what easd spends on
# them from what their own clients take of the same cores);
# STORM_KEEP_LOG=FILE keeps the access log.
set -eu
build=$1
result=$2
seconds=${STORM_SECONDS:-60}
normal=${STORM_NORMAL:-200}
interval=${STORM_INTERVAL:-2000}
rate=${STORM_RATE:-10}
only=${STORM_ONLY:-}
nice=${STORM_NICE:-0}
users=$(( (normal + 3) / 4 ))
tmp=$(mktemp -d)
easd_pid=
trap 'if [ -n "$easd_pid" ]; then kill $easd_pid 2>/dev/null || true; wait $easd_pid 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
lmtp_port=$(( 20000 + $$ % 20000 ))
# The stormers: profile, user prefix, users (5 devices each), extra options.
stormers='retry-storm stormretry 3 -
synckey0-looper stormzero 3 -
bulk-contacts stormbulk 2 --contacts=1000
policy-refresh-ignorer stormpolicy 2 -'
[ -z "$only" ] || stormers=$(echo "$stormers" | grep "^$only ")
[ -n "$stormers" ] || { echo "bench_storm.sh: no stormer named $only" >&2; exit 2; }

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
conf=$tmp/easd.conf

say() { printf '%s\n' "$*" | tee -a "$tmp/report"; }
indent() { sed 's/^/  /' "$1" | tee -a "$tmp/report"; }
json_field() { sed -n "s/.*\"$1\": {*\"*\([0-9.]*\).*/\1/p" "$2"; }
p99() { sed -n 's/.*"latency_ms": {"p50": \([0-9.]*\), "p90": [0-9.]*, "p99": \([0-9.]*\).*/\2/p' "$1"; }
p50() { sed -n 's/.*"latency_ms": {"p50": \([0-9.]*\).*/\1/p' "$1"; }
# CPU seconds (user + system) of this shell's children that have ended
# (times runs in this shell: in a pipe or $(...) it would count a subshell's).
children_cpu() { times > "$tmp/times"; awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$tmp/times"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print "-" }'; }

say "Storming devices beside devices in order, on a real easd (make bench: bench/bench_storm.sh with $build/easbench)"
command="sh bench/bench_storm.sh $build $result"
[ -z "${MAKELEVEL:-}" ] || command="make bench"
say "date: $(date -u +%Y-%m-%dT%H:%MZ), command: $command"
say "machine: nproc $(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo);" \
	"load average at start $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine)"
say "easd: release build, threads = nproc, SQLite store, provisioning required, default [guard] and [autoblock]:"
say "      [guard] max_requests 16, max_store_sessions 32, requests_per_minute 600, seconds_per_minute 30,"
say "      bytes_per_minute 1 GiB, tarpit 2; [autoblock] sync_key_zero 10 600 3600, same_sync 30 300 600, same_failure"
say "      30 300 900, never_provisions 20 600 3600, user_agent_changes 10 3600 3600, command_rate 500 60 600,"
say "      ping_loop 60 600 600; easbench processes on the same 2 cores as easd"

start=$(date +%s)
i=0
while [ $i -lt $users ]; do echo benchmark | "$build/easctl" -c "$conf" user add "bench$i" >/dev/null; i=$((i + 1)); done
echo "$stormers" | while read -r profile prefix n extra; do
	i=0
	while [ $i -lt "$n" ]; do echo benchmark | "$build/easctl" -c "$conf" user add "$prefix$i" >/dev/null; i=$((i + 1)); done
done
storm_users=$(echo "$stormers" | awk '{ n += $3 } END { print n }')
storm_devices=$(( storm_users * 5 ))
say "set-up: $users users bench0.. for $normal devices in order (4 each), $storm_users users storm*0.. for" \
	"$storm_devices stormers (5 each), created with easctl in $(( $(date +%s) - start )) s"

"$build/easd" -c "$conf" 2>>"$tmp/easd.stderr" &
easd_pid=$!
while [ ! -s "$tmp/port" ]; do sleep 0.05; done
url="http://127.0.0.1:$(cat "$tmp/port")"
sleep 1

# The devices in order: pollers, with mail arriving for their users; the
# times around each run pick its lines in the access log.
poll() {
	date -u '+%Y-%m-%d %H:%M:%S' > "$tmp/$1.from"
	"$build/easbench" --quiet --url "$url" --users "$users" --devices "$normal" --profile poller \
		--interval "$interval" --lmtp "127.0.0.1:$lmtp_port" --rate "$rate" --duration "$seconds" \
		--easd-pid "$easd_pid" --json "$tmp/$1.json" > "$tmp/$1.txt" || true
	date -u -d '+1 second' '+%Y-%m-%d %H:%M:%S' > "$tmp/$1.to"
}

say ""
say "A. baseline: $normal devices sync their Inbox every $interval ms, $rate messages/s arrive, $seconds s"
children_cpu > "$tmp/cpu0"
poll baseline
indent "$tmp/baseline.txt"

say ""
say "B. storm: the same $normal devices, and beside them from 5 s before to after the end" \
	"(easbench at nice $nice):"
pids=
echo "$stormers" > "$tmp/stormers"
while read -r profile prefix n extra; do
	[ "$extra" != - ] || extra=
	say "   $(( n * 5 )) $profile devices (users $prefix""0..$prefix$(( n - 1 ))) $extra"
	# shellcheck disable=SC2086 # extra is one option or none
	nice -n "$nice" "$build/easbench" --quiet --url "$url" --users "$n" --user-prefix "$prefix" --devices $(( n * 5 )) \
		--profile "$profile" --duration $(( seconds + 15 )) $extra --json "$tmp/$profile.json" \
		> "$tmp/$profile.txt" 2>&1 &
	pids="$pids $!"
done < "$tmp/stormers"
children_cpu > "$tmp/cpu1"
sleep 5
poll storm
# shellcheck disable=SC2086
wait $pids || true
children_cpu > "$tmp/cpu2"
indent "$tmp/storm.txt"
say "  the stormers (their easbench reports):"
while read -r profile prefix n extra; do indent "$tmp/$profile.txt"; done < "$tmp/stormers"


# How the stormers were answered, from the access log: per kind, requests
# by HTTP status and the most frequent reasons.
answered() {
	awk -F'\t' -v prefix="$1" '
		/^#Fields:/ { sub(/^#Fields: /, ""); n = split($0, f, " "); for (i = 1; i <= n; i++) col[f[i]] = i; next }
		/^#/ { next }
		index($col["cs-username"], prefix) == 1 {
			total++; status[$col["sc-status"]]++
			if ($col["x-reason"] != "-") reason[$col["x-reason"]]++
		}
		END {
			line = sprintf("%s*: %d requests;", prefix, total)
			for (s in status) line = line sprintf(" HTTP %s: %d", s, status[s])
			print line
			for (r in reason) printf "      %8d %s\n", reason[r], r | "sort -rn | head -4"
		}' "$tmp/log/access.log"
}

say "  the stormers as easd answered them (access log: requests by HTTP status, the top reasons):"
while read -r profile prefix n extra; do answered "$prefix" > "$tmp/answered.txt"; indent "$tmp/answered.txt"; done \
	< "$tmp/stormers"

# A percentile of the numbers on standard input.
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { print NR ? v[int(p * (NR - 1) + 0.5) + 1] : 0 }'; }
# The pollers' Syncs of a phase as easd timed them (the access log's
# time-taken and x-store-wait, ms): what easd did apart from the clients.
server_side() {
	awk -F'\t' -v from="$(cat "$tmp/$1.from")" -v to="$(cat "$tmp/$1.to")" '
		/^#Fields:/ { sub(/^#Fields: /, ""); n = split($0, f, " "); for (i = 1; i <= n; i++) col[f[i]] = i; next }
		/^#/ { next }
		{ t = $col["date"] " " $col["time"] }
		t >= from && t < to && index($col["cs-username"], "bench") == 1 && $col["x-command"] == "Sync" {
			print $col["time-taken"], $col["x-store-wait"]
		}' "$tmp/log/access.log" > "$tmp/$1.syncs"
	printf '%s Syncs, time-taken p50 %s ms, p99 %s ms, max %s ms; x-store-wait p99 %s ms, max %s ms, %s of them waited\n' \
		"$(wc -l < "$tmp/$1.syncs")" "$(cut -d' ' -f1 "$tmp/$1.syncs" | pct 0.5)" \
		"$(cut -d' ' -f1 "$tmp/$1.syncs" | pct 0.99)" "$(cut -d' ' -f1 "$tmp/$1.syncs" | pct 1)" \
		"$(cut -d' ' -f2 "$tmp/$1.syncs" | pct 0.99)" "$(cut -d' ' -f2 "$tmp/$1.syncs" | pct 1)" \
		"$(awk '$2 > 0' "$tmp/$1.syncs" | wc -l)"
}

base_p99=$(p99 "$tmp/baseline.json")
storm_p99=$(p99 "$tmp/storm.json")
say ""
say "Figures:"
say "  Sync latency of the devices in order: p50 $(p50 "$tmp/baseline.json") ms, p99 $base_p99 ms alone;" \
	"p50 $(p50 "$tmp/storm.json") ms, p99 $storm_p99 ms beside the stormers"
say "  p99(storm) / p99(baseline) = $(ratio "$storm_p99" "$base_p99") (target: within 2)"
say "  the same Syncs in easd's access log (easd's own time, without the clients' queueing):"
say "    baseline: $(server_side baseline)"
say "    storm:    $(server_side storm)"
for phase in baseline storm; do
	cpu=$(json_field cpu_seconds_after_ready "$tmp/$phase.json")
	say "  easd in $phase: CPU $cpu s over $seconds s ($(percent "$cpu" "$seconds") % of one core)," \
		"RSS peak $(json_field rss_kb_peak "$tmp/$phase.json") kB, $(json_field threads "$tmp/$phase.json") threads"
done
cpu0=$(cat "$tmp/cpu0"); cpu1=$(cat "$tmp/cpu1"); cpu2=$(cat "$tmp/cpu2")
say "  easbench (the clients, same machine): $(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN { printf "%.1f", a - b }') s of CPU" \
	"in A, $(awk -v a="$cpu2" -v b="$cpu1" 'BEGIN { printf "%.1f", a - b }') s in B (pollers and stormers)"

say ""
say "easctl -c CONF report --since 1h (the whole run):"
"$build/easctl" -c "$conf" report --since 1h --top 12 > "$tmp/by_device.txt" 2>&1 || true
indent "$tmp/by_device.txt"
say ""
say "easctl -c CONF report --since 1h --by user:"
"$build/easctl" -c "$conf" report --since 1h --by user --top 12 > "$tmp/by_user.txt" 2>&1 || true
indent "$tmp/by_user.txt"
say ""
say "easctl -c CONF device list, the devices not allowed:"
"$build/easctl" -c "$conf" device list > "$tmp/devices.txt" 2>&1 || true
{ head -1 "$tmp/devices.txt"; grep -v '^USER' "$tmp/devices.txt" | grep -v 'allow' || true; } > "$tmp/blocked.txt"
indent "$tmp/blocked.txt"
say "  ($(grep -c 'allow' "$tmp/devices.txt" || true) devices allowed, not shown)"

kill "$easd_pid"
wait "$easd_pid" && status=0 || status=$?
easd_pid=
say ""
say "whole run: $(( $(date +%s) - start )) s; easd stopped with status $status"
cp "$tmp/report" "$result"
[ -z "${STORM_KEEP_LOG:-}" ] || cp "$tmp/log/access.log" "$STORM_KEEP_LOG"
