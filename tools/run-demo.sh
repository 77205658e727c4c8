#!/bin/sh
# run-demo.sh: what `make run` does after building. Sets up ./var (config,
# a demo user demo/demodemo, a few demo messages delivered over LMTP), then runs
# easd in the foreground until Ctrl-C.
#
# EASD_PORT and EASD_LMTP_PORT choose the ports; given, they are written
# into an existing var/easd.conf too. An easd that an earlier run left
# going from this var/ (var/easd.pid) is stopped first: both would share
# var/data, and the earlier one would keep the ports.
set -eu
build=${EASD_BUILD:-build}
conf=var/easd.conf
pid_file=var/easd.pid

mkdir -p var
if [ ! -f "$conf" ]; then
	cat > "$conf" <<CONF
; Written by make run; see easd.conf.example for every key.
[http]
listen = 127.0.0.1:${EASD_PORT:-8080}
[store]
data_dir = var/data
[log]
dir = var/log
[lmtp]
listen = 127.0.0.1:${EASD_LMTP_PORT:-2424}
local_domains = localhost
CONF
fi

# The value of key in [section] of var/easd.conf (empty when absent).
conf_value() {
	awk -v section="[$1]" -v key="$2" '
		/^\[/ { here = ($0 == section) }
		here && $0 ~ "^[ \t]*" key "[ \t]*=" { sub(/^[^=]*=[ \t]*/, ""); value = $0 }
		END { print value }' "$conf"
}

# Sets listen in [section] to address: replaces the line, else adds one
# under the section's header, else adds the section.
set_listen() {
	awk -v section="[$1]" -v address="$2" '
		{ line[NR] = $0 }
		/^\[/ { here = ($0 == section); if (here) header = NR }
		here && /^[ \t]*listen[ \t]*=/ { line[NR] = "listen = " address; done = 1 }
		END {
			for (i = 1; i <= NR; i++) {
				print line[i]
				if (!done && i == header) print "listen = " address
			}
			if (!done && !header) print section "\nlisten = " address
		}' "$conf" > "$conf.new"
	mv "$conf.new" "$conf"
}

# Asked-for ports the file does not have yet: the file follows, and says so.
use_port() { # section, port
	old=$(conf_value "$1" listen)
	[ "$old" != "127.0.0.1:$2" ] || return 0
	set_listen "$1" "127.0.0.1:$2"
	echo "run-demo: $conf: [$1] listen was ${old:-not set}, now 127.0.0.1:$2"
}
[ -z "${EASD_PORT:-}" ] || use_port http "$EASD_PORT"
[ -z "${EASD_LMTP_PORT:-}" ] || use_port lmtp "$EASD_LMTP_PORT"
http_listen=$(conf_value http listen)
lmtp_listen=$(conf_value lmtp listen)
lmtp_port=${lmtp_listen##*:}

# The pid in var/easd.pid, while that process is easd running on
# var/easd.conf from this directory (a pid is reused once its process ends).
earlier_easd() {
	pid=$(cat "$pid_file" 2> /dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	[ "$(readlink "/proc/$pid/cwd" 2> /dev/null)" = "$(pwd -P)" ] || return 1
	tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q "easd -c $conf \$" || return 1
	echo "$pid"
}
if pid=$(earlier_easd); then
	echo "run-demo: stopping the easd an earlier make run left running (pid $pid)"
	kill -TERM "$pid" 2> /dev/null || true
	tries=0
	while kill -0 "$pid" 2> /dev/null; do
		tries=$((tries + 1))
		if [ "$tries" -gt 100 ]; then
			echo "run-demo: easd (pid $pid) did not stop within 10 s; stop it, then make run again" >&2
			exit 1
		fi
		sleep 0.1
	done
fi
rm -f "$pid_file"

new_user=no
if ! "$build/easctl" -c "$conf" user list | grep -qx demo; then
	echo demodemo | "$build/easctl" -c "$conf" user add demo
	new_user=yes
fi

# However this script ends (Ctrl-C, easd failing to start, an error), no
# easd of it is left running; the pid file goes with it unless a later
# run wrote its own.
easd=
stop_easd() {
	if [ -n "$easd" ] && kill -0 "$easd" 2> /dev/null; then
		kill -TERM "$easd" 2> /dev/null || true
		wait "$easd" || true
	fi
	if [ -n "$easd" ] && [ "$(cat "$pid_file" 2> /dev/null)" = "$easd" ]; then
		rm -f "$pid_file"
	fi
}
trap stop_easd EXIT
trap 'exit 0' INT TERM
trap 'exit 1' HUP
"$build/easd" -c "$conf" &
easd=$!
echo "$easd" > "$pid_file"

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
  URL:      http://$http_listen/Microsoft-Server-ActiveSync
  account:  demo / demodemo   (mail for demo@localhost via LMTP on $lmtp_listen)
  check:    curl -i -u demo:demodemo -X OPTIONS http://$http_listen/Microsoft-Server-ActiveSync
  log:      var/log/access.log

INFO
wait $easd
