#!/bin/sh
# bench_http.sh: requests per second of a real easd under wrk (100
# concurrent connections): OPTIONS, and a FolderSync with no changes from a
# provisioned device, with the credential cache on and off; easd's RSS idle
# and under load. Usage: bench_http.sh BUILD RESULT_FILE
set -eu
build=$1
result=$2
duration=${BENCH_SECONDS:-10}
connections=100
tmp=$(mktemp -d)
easd_pid=
trap 'if [ -n "$easd_pid" ]; then kill $easd_pid 2>/dev/null || true; wait $easd_pid 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT

start_easd() { # $1: auth cache seconds
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
listen =
[auth]
cache_seconds = $1
CONF
	rm -f "$tmp/port"
	"$build/easd" -c "$tmp/easd.conf" 2>>"$tmp/easd.stderr" &
	easd_pid=$!
	while [ ! -s "$tmp/port" ]; do sleep 0.05; done
	port=$(cat "$tmp/port")
	url="http://127.0.0.1:$port/Microsoft-Server-ActiveSync"
}

stop_easd() {
	kill "$easd_pid"
	wait "$easd_pid" || true
	easd_pid=
}

# "status:count ..." of the FolderSync lines in the access log: proof the load was real work.
eas_statuses() {
	awk -F'\t' '$7 == "FolderSync" { n[$10]++ } END { for (s in n) printf "%s:%d ", s, n[s] }' "$tmp/log/access.log"
}

rss_kb() { awk '/^VmRSS/ { print $2 }' /proc/"$easd_pid"/status; }

# POSTs XML (encoded with easctl) and prints the decoded XML answer.
post() { # $1 command, $2 XML, $3 policy key
	printf '%s' "$2" | "$build/easctl" wbxml encode > "$tmp/request.wbxml"
	curl -s -u bench:benchmark -H "MS-ASProtocolVersion: 14.1" -H "X-MS-PolicyKey: $3" \
		-H "Content-Type: application/vnd.ms-sync.wbxml" --data-binary @"$tmp/request.wbxml" \
		"$url?Cmd=$1&User=bench&DeviceId=BENCH1&DeviceType=bench" -o "$tmp/answer.wbxml"
	"$build/easctl" wbxml decode "$tmp/answer.wbxml"
}

element() { sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" | head -n 1; }

provision() {
	policy='<Provision xmlns="Provision"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>'
	temporary=$(post Provision "$policy</Policy></Policies></Provision>" 0 | element PolicyKey)
	key=$(post Provision "$policy<PolicyKey>$temporary</PolicyKey><Status>1</Status></Policy></Policies></Provision>" "$temporary" | element PolicyKey)
	sync_key=$(post FolderSync '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>' "$key" | element SyncKey)
	printf '<FolderSync xmlns="FolderHierarchy"><SyncKey>%s</SyncKey></FolderSync>' "$sync_key" |
		"$build/easctl" wbxml encode > "$tmp/foldersync.wbxml"
	cat > "$tmp/foldersync.lua" <<LUA
local f = io.open("$tmp/foldersync.wbxml", "rb")
wbxml = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=bench&DeviceId=BENCH1&DeviceType=bench"
wrk.body = wbxml
wrk.headers["Authorization"] = "Basic YmVuY2g6YmVuY2htYXJr"
wrk.headers["MS-ASProtocolVersion"] = "14.1"
wrk.headers["X-MS-PolicyKey"] = "$key"
wrk.headers["Content-Type"] = "application/vnd.ms-sync.wbxml"
LUA
}

cat > "$tmp/options.lua" <<'LUA'
wrk.method = "OPTIONS"
wrk.headers["Authorization"] = "Basic YmVuY2g6YmVuY2htYXJr"
LUA

# Runs wrk and prints "requests/s non-2xx peak-rss-kB".
load() { # $1 lua script
	wrk -t2 -c$connections -d${duration}s -s "$1" "$url" > "$tmp/wrk.out" 2>&1 &
	wrk_pid=$!
	peak=0
	while kill -0 $wrk_pid 2>/dev/null; do
		now=$(rss_kb)
		[ "$now" -gt "$peak" ] && peak=$now
		sleep 0.5
	done
	wait $wrk_pid
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$tmp/wrk.out")
	bad=$(awk '/Non-2xx/ { print $NF }' "$tmp/wrk.out")
	echo "$rps ${bad:-0} $peak"
}

mkdir -p "$tmp/data"
printf '[store]\ndata_dir = %s/data\n' "$tmp" > "$tmp/ctl.conf"
echo benchmark | "$build/easctl" -c "$tmp/ctl.conf" user add bench

start_easd 300
idle=$(rss_kb)
provision
set -- $(load "$tmp/options.lua"); options_rps=$1 options_bad=$2 options_rss=$3
set -- $(load "$tmp/foldersync.lua"); fs_rps=$1 fs_bad=$2 fs_rss=$3
stop_easd
cached_statuses=$(eas_statuses)
rm -f "$tmp/log/access.log"
start_easd 0
set -- $(load "$tmp/foldersync.lua"); nocache_rps=$1 nocache_bad=$2 nocache_rss=$3
stop_easd
uncached_statuses=$(eas_statuses)

{
	echo "easd over HTTP (make bench: bench/bench_http.sh)"
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "load: wrk -t2 -c$connections -d${duration}s on the same machine (wrk and easd share the cores)"
	echo "easd: release build, threads = nproc, SQLite store, provisioning required"
	echo
	printf '%-44s %12s %8s %14s\n' "request" "requests/s" "non-2xx" "peak RSS (kB)"
	printf '%-44s %12s %8s %14s\n' "OPTIONS (auth cached)" "$options_rps" "$options_bad" "$options_rss"
	printf '%-44s %12s %8s %14s\n' "FolderSync, no changes (auth cached)" "$fs_rps" "$fs_bad" "$fs_rss"
	printf '%-44s %12s %8s %14s\n' "FolderSync, no changes (cache off: yescrypt)" "$nocache_rps" "$nocache_bad" "$nocache_rss"
	echo
	echo "RSS idle after start: $idle kB"
	echo "FolderSync EAS statuses in the access log (status:count; 1 = success):"
	echo "  cache on:  $cached_statuses"
	echo "  cache off: $uncached_statuses"
} | tee "$result"
