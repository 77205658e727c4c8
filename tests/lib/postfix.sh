#!/usr/bin/env bash
# tests/lib/postfix.sh: a real Postfix for the tests, with its own
# configuration and queue in a folder of the test's, on loopback ports; the
# system's Postfix (if any) is not touched. Needs root (Postfix's master
# runs as root and drops to the postfix user) and the postfix package.
#
#   postfix.sh start DIR SMTP_PORT LMTP_PORT [SITE]   listen on
#       127.0.0.1:SMTP_PORT; mail for example.org goes to easd's LMTP on
#       127.0.0.1:LMTP_PORT, mail for other domains stays deferred in the
#       queue (no outside delivery), refused@outside.test is refused with
#       550. SITE: a main.cf part to use instead of those rules (the
#       administrator's recipe), its LMTP port 2424 made LMTP_PORT.
#   postfix.sh queue DIR    the queue as JSON lines (postqueue -j)
#   postfix.sh stop DIR     stops it (the folder stays; the test removes it)
set -eu

command=${1:?start, queue or stop}
dir=${2:?the folder}

write_main_cf() {
	local lmtp_port=$1 site=${2:-}
	cat > "$dir/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.org
mydomain = example.org
myorigin = example.org
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
defer_transports = smtp
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
CONF
	if [ -n "$site" ]; then
		sed "s/127.0.0.1:2424/127.0.0.1:$lmtp_port/" "$site" >> "$dir/main.cf"
	else
		cat >> "$dir/main.cf" <<CONF
mynetworks = 127.0.0.0/8
relay_domains = example.org
transport_maps = inline:{ example.org=lmtp:inet:127.0.0.1:$lmtp_port }
smtpd_recipient_restrictions = check_recipient_access inline:{ { refused@outside.test = REJECT no such user } }, permit_mynetworks, reject_unauth_destination
CONF
	fi
}

write_master_cf() {
	local smtp_port=$1
	cat > "$dir/master.cf" <<CONF
127.0.0.1:$smtp_port inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CONF
}

case $command in
start)
	smtp_port=${3:?SMTP port}
	lmtp_port=${4:?LMTP port}
	mkdir -p "$dir/queue"
	chmod 755 "$dir" "$dir/queue"
	write_main_cf "$lmtp_port" "${5:-}"
	write_master_cf "$smtp_port"
	postfix -c "$dir" start 2> "$dir/start.log" || { cat "$dir/start.log" >&2; exit 1; }
	# Up when the SMTP port answers.
	for _ in $(seq 100); do
		if (exec 3<> "/dev/tcp/127.0.0.1/$smtp_port") 2> /dev/null; then
			exit 0
		fi
		sleep 0.1
	done
	echo "postfix.sh: Postfix does not listen on $smtp_port" >&2
	exit 1
	;;
queue)
	postqueue -c "$dir" -j
	;;
messages)
	# Each queued message whole (headers and body), one after the other.
	for id in $(postqueue -c "$dir" -j | sed -n 's/.*"queue_id": *"\([0-9A-Za-z]*\)".*/\1/p'); do
		postcat -c "$dir" -hbq "$id" 2> /dev/null || true
	done
	;;
stop)
	postfix -c "$dir" stop 2> /dev/null || true
	# master waits for its children; give it a moment, then insist.
	for _ in $(seq 50); do
		[ -e "$dir/queue/pid/master.pid" ] || exit 0
		pid=$(tr -dc 0-9 < "$dir/queue/pid/master.pid")
		[ -n "$pid" ] && kill -0 "$pid" 2> /dev/null || exit 0
		sleep 0.1
	done
	postfix -c "$dir" abort 2> /dev/null || true
	;;
*)
	echo "postfix.sh: unknown command $command" >&2
	exit 2
	;;
esac
