#!/usr/bin/env bash
# tests/e2e/postfix_recipe.sh: the administrator's Postfix recipe
# (doc/postfix-main.cf.example) as it is, in front of a real easd: mail for
# users arrives, unknown users are refused during the SMTP dialogue (no
# backscatter), +tag addresses and aliases work, postmaster has a home,
# and only trusted hosts may relay. Postfix runs with its own configuration
# on loopback (tests/lib/postfix.sh); an outside client is simulated by
# connecting from 127.0.0.2, outside mynetworks here.
#
# Needs root, postfix, swaks, sqlite3; EASD_BUILD and EASD_SOURCE.
# Prints one ok/FAIL line per case; exits non-zero if any failed.
set -u

build=${EASD_BUILD:?EASD_BUILD must name the build folder}
source=${EASD_SOURCE:?EASD_SOURCE must name the repository}
easd=$build/easd
easctl=$build/easctl
postfix_sh=$source/tests/lib/postfix.sh

tmp=$(mktemp -d)
chmod 755 "$tmp" # Postfix (user postfix) reaches its queue inside
easd_pid=
failures=0

cleanup() {
	"$postfix_sh" stop "$tmp/postfix" > /dev/null 2>&1
	if [ -n "$easd_pid" ]; then
		kill "$easd_pid" 2> /dev/null
		wait "$easd_pid" 2> /dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for tool in swaks sqlite3 postfix python3; do
	command -v "$tool" > /dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

lmtp_port=$(free_port)
smtp_port=$(free_port)
cat > "$tmp/easd.conf" <<CONF
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
listen = 127.0.0.1:$lmtp_port
local_domains = example.org
CONF
mkdir -p "$tmp/data" "$tmp/log"
for user in alice bob; do
	echo "secret password" | "$easctl" -c "$tmp/easd.conf" user add "$user" > "$tmp/out" 2>&1 ||
		{ echo "FAIL: easctl user add $user: $(cat "$tmp/out")"; exit 1; }
done
"$easd" -c "$tmp/easd.conf" 2>> "$tmp/easd.err" &
easd_pid=$!

# The recipe, but only 127.0.0.1 trusted, and outside mail kept in the queue.
sed 's|^mynetworks = .*|mynetworks = 127.0.0.1/32|' "$source/doc/postfix-main.cf.example" > "$tmp/site.cf"
echo "defer_transports = smtp" >> "$tmp/site.cf"
if ! "$postfix_sh" start "$tmp/postfix" "$smtp_port" "$lmtp_port" "$tmp/site.cf"; then
	echo "FAIL: Postfix did not start"
	exit 1
fi
for _ in $(seq 100); do
	[ -s "$tmp/http.port" ] && break
	sleep 0.1
done

# Inbox messages of a user, waited for (up to 15 s) to reach a count.
inbox_reaches() {
	local n
	for _ in $(seq 150); do
		n=$(sqlite3 "$tmp/data/easd.sqlite" "SELECT count(*) FROM items i JOIN folders f ON i.folder_id = f.id
			JOIN users u ON f.user_id = u.id WHERE u.name = '$1' AND f.type = 2 AND i.deleted = 0")
		[ "$n" = "$2" ] && return 0
		sleep 0.1
	done
	echo "($1 has $n messages, not $2)"
	return 1
}

# SMTP to Postfix from an address (127.0.0.1 trusted, 127.0.0.2 the outside).
smtp_from() {
	local source_address=$1
	shift
	swaks --server 127.0.0.1 --port "$smtp_port" --local-interface "$source_address" \
		--helo client.example.net --timeout 30 "$@" > "$tmp/out" 2>&1
}

refused_at_rcpt() {
	grep -qE '^<\*\* +5[0-9][0-9] ' "$tmp/out" && grep -qE '^ -> RCPT TO' "$tmp/out"
}

smtp_from 127.0.0.2 --from someone@outside.test --to alice@example.org
if inbox_reaches alice 1; then pass "outside mail to a user arrives"; else fail "mail to alice: $(tail -3 "$tmp/out")"; fi

smtp_from 127.0.0.2 --from someone@outside.test --to nobody@example.org
if refused_at_rcpt && [ -z "$("$postfix_sh" queue "$tmp/postfix")" ]; then
	pass "an unknown user is refused during the dialogue, nothing queued (no backscatter)"
else
	fail "unknown user: $(grep -E '^<' "$tmp/out" | tail -2) queue: $("$postfix_sh" queue "$tmp/postfix")"
fi

smtp_from 127.0.0.2 --from someone@outside.test --to alice+lists@example.org
if inbox_reaches alice 2; then pass "alice+lists@ reaches alice"; else fail "+tag: $(tail -3 "$tmp/out")"; fi

smtp_from 127.0.0.2 --from someone@outside.test --to postmaster@example.org
if inbox_reaches alice 3; then pass "postmaster has a home"; else fail "postmaster: $(tail -3 "$tmp/out")"; fi

smtp_from 127.0.0.2 --from someone@outside.test --to team@example.org
if inbox_reaches alice 4 && inbox_reaches bob 1; then pass "an alias list reaches each member"; else fail "team alias"; fi

smtp_from 127.0.0.2 --from someone@outside.test --to victim@elsewhere.test
if refused_at_rcpt; then pass "an outside host cannot relay"; else fail "open relay: $(cat "$tmp/out")"; fi

smtp_from 127.0.0.1 --from alice@example.org --to dave@elsewhere.test
if "$postfix_sh" queue "$tmp/postfix" | grep -q '"address": "dave@elsewhere.test"'; then
	pass "easd's host relays outside mail (it waits in the queue here)"
else
	fail "outbound relay: $(tail -3 "$tmp/out")"
fi

[ "$failures" -eq 0 ]
