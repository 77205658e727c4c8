#!/usr/bin/env bash
# tests/e2e/lmtp_swaks.sh: the LMTP listener from the outside. Starts the
# real easd with a fresh store on loopback and speaks LMTP to it with swaks
# (a real client, not ours), then counts what reached the store with the
# sqlite3 CLI. Needs EASD_BUILD (folder with easd and easctl) and
# EASD_SOURCE (the repository); swaks and sqlite3 installed.
#
# Prints one ok/FAIL line per case and exits non-zero if any failed. easd is
# stopped and the temporary folder removed on every exit path.
set -u

build=${EASD_BUILD:?EASD_BUILD must name the build folder}
: "${EASD_SOURCE:?EASD_SOURCE must name the repository}"
easd=$build/easd
easctl=$build/easctl
max_message_size=100000

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
max_message_size = $max_message_size
EOF
}

port_accepts() {
	(exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

# A random high port; another one if easd cannot bind it (in use).
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

# Live messages in the user's folders.
items_of() {
	sqlite3 "$tmp/data/easd.sqlite" "SELECT count(*) FROM items i JOIN folders f ON i.folder_id = f.id
		JOIN users u ON f.user_id = u.id WHERE u.name = '$1' AND i.deleted = 0"
}

# swaks with the common options; the transcript goes to $tmp/out.
lmtp() {
	swaks --protocol LMTP --server 127.0.0.1 --port "$lmtp_port" --helo mta.example.net \
		--from sender@example.net --timeout 20 "$@" > "$tmp/out" 2>&1
}

# Whether the transcript holds a server reply line matching the pattern.
replied() {
	grep -qE "^<(-|\*\*) +$1" "$tmp/out"
}

# ---- set-up ----

mkdir -p "$tmp/data" "$tmp/log"
write_config 0
for user in alice bob; do
	if ! echo "secret password" | "$easctl" -c "$tmp/easd.conf" user add "$user" > "$tmp/out" 2>&1; then
		echo "FAIL: easctl user add $user: $(cat "$tmp/out")"
		exit 1
	fi
done
if ! start_easd; then
	echo "FAIL: easd did not start: $(cat "$tmp/easd.err")"
	exit 1
fi

# ---- cases ----

lmtp --to alice@example.org --header "Subject: one" --body "hello alice"
if replied '250 2.0.0 <alice@example.org> delivered' && [ "$(items_of alice)" = 1 ]; then
	pass lmtp_single_recipient_delivered_and_stored
else
	fail "lmtp_single_recipient_delivered_and_stored ($(items_of alice) items): $(cat "$tmp/out")"
fi

lmtp --to alice@example.org,bob@example.org --body "for both"
if replied '250 2.0.0 <alice@example.org> delivered' && replied '250 2.0.0 <bob@example.org> delivered' &&
   [ "$(items_of alice)" = 2 ] && [ "$(items_of bob)" = 1 ]; then
	pass lmtp_two_recipients_one_copy_each
else
	fail "lmtp_two_recipients_one_copy_each: $(cat "$tmp/out")"
fi

lmtp --to nobody@example.org,bob@example.org --body "one of two exists"
if replied '550 5.1.1 <nobody@example.org>' && replied '250 2.0.0 <bob@example.org> delivered' &&
   [ "$(items_of bob)" = 2 ] && [ "$(items_of alice)" = 2 ]; then
	pass lmtp_unknown_recipient_550_other_delivered
else
	fail "lmtp_unknown_recipient_550_other_delivered: $(cat "$tmp/out")"
fi

lmtp --to alice@other.example
if replied '550 5.1.1 <alice@other.example> not a local domain' && [ "$(items_of alice)" = 2 ]; then
	pass lmtp_foreign_domain_550
else
	fail "lmtp_foreign_domain_550: $(cat "$tmp/out")"
fi

# Over max_message_size: swaks sends no SIZE=, so the limit bites at the end of DATA.
head -c $((max_message_size + 1000)) /dev/zero | tr '\0' 'x' | fold -w 76 > "$tmp/big.txt"
lmtp --to alice@example.org,bob@example.org --body "@$tmp/big.txt"
if replied '552 5.3.4 <alice@example.org> message too big' &&
   replied '552 5.3.4 <bob@example.org> message too big' &&
   [ "$(items_of alice)" = 2 ] && [ "$(items_of bob)" = 2 ]; then
	pass lmtp_message_over_limit_552_nothing_stored
else
	fail "lmtp_message_over_limit_552_nothing_stored: $(tail -5 "$tmp/out")"
fi

# The stored copy starts with the header lines easd adds.
lmtp --to alice@example.org --header "Subject: after the hostile ones" --body "still works"
content=$(sqlite3 "$tmp/data/easd.sqlite" "SELECT CAST(content AS TEXT) FROM items ORDER BY id DESC LIMIT 1")
if replied '250 2.0.0 <alice@example.org> delivered' && [ "$(items_of alice)" = 3 ] &&
   printf '%s' "$content" | head -1 | grep -q '^Return-Path: <sender@example.net>' &&
   printf '%s' "$content" | grep -q '^Received: from mta.example.net by easd with LMTP; '; then
	pass lmtp_ordinary_delivery_after_rejections
else
	fail "lmtp_ordinary_delivery_after_rejections: $(cat "$tmp/out")"
fi

# ---- stop: SIGTERM with an idle connection open must still end promptly, status 0 ----

exec 4<> "/dev/tcp/127.0.0.1/$lmtp_port"
kill -TERM "$easd_pid"
status=timeout
for _ in $(seq 100); do
	if ! kill -0 "$easd_pid" 2> /dev/null; then
		wait "$easd_pid"
		status=$?
		break
	fi
	sleep 0.1
done
exec 4<&-
if [ "$status" = 0 ]; then
	easd_pid=
	pass easd_sigterm_exits_0_with_idle_lmtp_connection
else
	fail "easd_sigterm_exits_0_with_idle_lmtp_connection (status $status): $(tail -5 "$tmp/easd.err")"
fi

[ "$failures" -eq 0 ] || { echo "$failures LMTP test(s) failed"; exit 1; }
echo "all LMTP tests passed"
