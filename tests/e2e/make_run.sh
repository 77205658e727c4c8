#!/usr/bin/env bash
# tests/e2e/make_run.sh: what `make run` runs once it has built
# (tools/run-demo.sh), in a directory of its own: EASD_PORT and
# EASD_LMTP_PORT are used also when var/easd.conf exists, a second run
# stops the easd an earlier one left, and no easd is left behind when the
# demo is stopped or its easd cannot start. Needs EASD_SOURCE, EASD_BUILD
# and swaks. Prints one ok/FAIL line per case; exits non-zero if any failed.
set -u

src=${EASD_SOURCE:?EASD_SOURCE must name the repository}
build=$(cd "${EASD_BUILD:?EASD_BUILD must name the build folder}" && pwd)
tmp=$(mktemp -d)
failures=0
demos=()
blocker=

# The easd processes running on var/easd.conf from the demo's directory.
demo_easds() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/cwd" 2> /dev/null)" = "$tmp/demo" ] &&
			tr '\0' ' ' < "$p/cmdline" 2> /dev/null | grep -q 'easd -c var/easd.conf $' && echo "${p#/proc/}"
	done
}

# Also an easd a failing run-demo.sh left (the bug this tests for) is stopped.
cleanup() {
	for pid in "${demos[@]}" $blocker $(demo_easds); do kill -TERM "$pid" 2> /dev/null; done
	wait 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

command -v swaks > /dev/null || { echo "FAIL: swaks is not installed"; exit 1; }

port_accepts() {
	(exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

# A random high port nothing listens on.
free_port() {
	local port
	while :; do
		# Below Linux's ephemeral range (32768 on): no outgoing connection holds it
		# while nothing listens there (a port above it failed to bind once).
		port=$((20000 + RANDOM % 12000))
		port_accepts "$port" || { echo "$port"; return; }
	done
}

# Starts run-demo.sh with these ports; its output in $tmp/demo-N.out, its pid in demo_pid.
start_demo() { # http port, LMTP port, N
	(cd "$tmp/demo" && EASD_PORT=$1 EASD_LMTP_PORT=$2 EASD_BUILD=$build exec "$src/tools/run-demo.sh") \
		> "$tmp/demo-$3.out" 2>&1 &
	demo_pid=$!
	demos+=("$demo_pid")
}

# Waits (20 s at most) until demo N says easd runs, or has ended. Returns 0 if it runs.
demo_running() { # N, pid
	for _ in $(seq 200); do
		grep -q 'easd is running' "$tmp/demo-$1.out" && return 0
		kill -0 "$2" 2> /dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Waits (10 s at most) for a process to end; returns its exit status, or 255 if it did not.
ended() {
	for _ in $(seq 100); do
		kill -0 "$1" 2> /dev/null || { wait "$1"; return; }
		sleep 0.1
	done
	return 255
}

# A var/easd.conf of an earlier run, with ports of its own (never bound: the runs name theirs).
mkdir -p "$tmp/demo/var"
ln -s "$src/data" "$tmp/demo/data"
printf '[http]\nlisten = 127.0.0.1:1\n[store]\ndata_dir = var/data\n[log]\ndir = var/log\n[lmtp]\nlisten = 127.0.0.1:2\nlocal_domains = localhost\n[metrics]\nlisten =\n' \
	> "$tmp/demo/var/easd.conf"

# ---- the ports asked for win over an existing var/easd.conf ----

http1=$(free_port) lmtp1=$(free_port)
start_demo "$http1" "$lmtp1" 1
first=$demo_pid
if demo_running 1 "$first" && port_accepts "$http1" && port_accepts "$lmtp1" &&
   grep -qx "run-demo: var/easd.conf: \[http\] listen was 127.0.0.1:1, now 127.0.0.1:$http1" "$tmp/demo-1.out" &&
   grep -qx "listen = 127.0.0.1:$lmtp1" "$tmp/demo/var/easd.conf" &&
   grep -q "URL: *http://127.0.0.1:$http1/Microsoft-Server-ActiveSync" "$tmp/demo-1.out" &&
   [ "$(cat "$tmp/demo/var/easd.pid")" = "$(demo_easds)" ]; then
	pass make_run_writes_the_ports_asked_for_into_an_existing_config
else
	fail "make_run_writes_the_ports_asked_for_into_an_existing_config: $(cat "$tmp/demo-1.out")"
fi
first_easd=$(demo_easds)

# ---- a second run with other ports stops the first one's easd ----

http2=$(free_port) lmtp2=$(free_port)
start_demo "$http2" "$lmtp2" 2
second=$demo_pid
if demo_running 2 "$second" && port_accepts "$http2" && port_accepts "$lmtp2" && ! port_accepts "$http1" &&
   grep -qx "run-demo: stopping the easd an earlier make run left running (pid $first_easd)" "$tmp/demo-2.out" &&
   ! kill -0 "$first_easd" 2> /dev/null && [ "$(demo_easds)" = "$(cat "$tmp/demo/var/easd.pid")" ]; then
	pass make_run_again_with_other_ports_stops_the_earlier_easd
else
	fail "make_run_again_with_other_ports_stops_the_earlier_easd: $(cat "$tmp/demo-2.out")"
fi
# The first run ends with its easd, and leaves the second run's pid file alone.
ended "$first"
status=$?
if [ "$status" -ne 255 ] && [ "$(cat "$tmp/demo/var/easd.pid")" = "$(demo_easds)" ]; then
	pass make_run_earlier_run_ends_with_its_easd
else
	fail "make_run_earlier_run_ends_with_its_easd (status $status)"
fi

# ---- stopped (as Ctrl-C does; a background job cannot get SIGINT), it leaves nothing ----

kill -TERM "$second"
ended "$second"
status=$?
if [ "$status" -eq 0 ] && [ -z "$(demo_easds)" ] && [ ! -e "$tmp/demo/var/easd.pid" ]; then
	pass make_run_stopped_leaves_no_easd
else
	fail "make_run_stopped_leaves_no_easd (status $status, easd $(demo_easds))"
fi

# ---- an easd that cannot start (its port taken) is not left running ----

http3=$(free_port) lmtp3=$(free_port)
printf '[http]\nlisten = 127.0.0.1:%s\n[store]\ndata_dir = %s/blocker\n[log]\ndir = %s/blocker\n[lmtp]\nlisten =\n[metrics]\nlisten =\n' \
	"$http3" "$tmp" "$tmp" > "$tmp/blocker.conf"
"$build/easd" -c "$tmp/blocker.conf" 2> "$tmp/blocker.err" &
blocker=$!
for _ in $(seq 100); do port_accepts "$http3" && break; sleep 0.1; done
start_demo "$http3" "$lmtp3" 3
ended "$demo_pid"
status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 255 ] && grep -q 'run-demo: easd did not start' "$tmp/demo-3.out" &&
   [ -z "$(demo_easds)" ] && [ ! -e "$tmp/demo/var/easd.pid" ] && ! port_accepts "$lmtp3"; then
	pass make_run_easd_that_cannot_start_is_not_left_running
else
	fail "make_run_easd_that_cannot_start_is_not_left_running (status $status, easd $(demo_easds)): $(cat "$tmp/demo-3.out"); the blocker on $http3 said: $(cat "$tmp/blocker.err")"
fi

[ "$failures" -eq 0 ] || { echo "$failures make run test(s) failed"; exit 1; }
echo "all make run tests passed"
