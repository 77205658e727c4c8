#!/bin/sh
# run-demo.sh: what `make run` does after building. Sets up ./var (config,
# a demo user demo/demodemo, a few demo messages delivered over LMTP), then runs
# easd in the foreground until Ctrl-C.
set -eu
build=${EASD_BUILD:-build}
conf=var/easd.conf
port=${EASD_PORT:-8080}
lmtp_port=${EASD_LMTP_PORT:-2424}

mkdir -p var
if [ ! -f "$conf" ]; then
	cat > "$conf" <<CONF
; Written by make run; see easd.conf.example for every key.
[http]
listen = 127.0.0.1:$port
[store]
data_dir = var/data
[log]
dir = var/log
[lmtp]
listen = 127.0.0.1:$lmtp_port
local_domains = localhost
CONF
fi

new_user=no
if ! "$build/easctl" -c "$conf" user list | grep -qx demo; then
	echo demodemo | "$build/easctl" -c "$conf" user add demo
	new_user=yes
fi

"$build/easd" -c "$conf" &
easd=$!
trap 'kill -TERM $easd 2>/dev/null; wait $easd; exit 0' INT TERM

# Wait until LMTP answers, then deliver the demo messages the first time.
tries=0
until swaks --protocol LMTP --server 127.0.0.1 --port "$lmtp_port" --quit-after BANNER >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -gt 50 ] || ! kill -0 "$easd" 2>/dev/null; then
		echo "run-demo: easd did not start (see the messages above)" >&2
		exit 1
	fi
	sleep 0.1
done
if [ "$new_user" = yes ]; then
	for message in data/demo/*.eml; do
		swaks --silent 2 --protocol LMTP --server 127.0.0.1 --port "$lmtp_port" \
			--from postmaster@localhost --to demo@localhost --data "@$message" >/dev/null
	done
	echo "run-demo: delivered $(ls data/demo/*.eml | wc -l) demo messages to demo@localhost over LMTP"
fi

cat <<INFO

  easd is running (Ctrl-C stops it).
  URL:      http://127.0.0.1:$port/Microsoft-Server-ActiveSync
  account:  demo / demodemo   (mail for demo@localhost via LMTP on 127.0.0.1:$lmtp_port)
  check:    curl -i -u demo:demodemo -X OPTIONS http://127.0.0.1:$port/Microsoft-Server-ActiveSync
  log:      var/log/access.log

INFO
wait $easd
