#!/bin/sh
# tests/cli/run.sh: easctl from the outside: exit codes, stdout, stderr.
# Needs EASD_SOURCE (repository) and EASD_BUILD (build folder).
set -eu
src=${EASD_SOURCE:-.}
easctl=${EASD_BUILD:-build}/easctl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# Every example decodes to XML that encodes back to the same bytes.
for hex in "$src"/tests/data/examples/*.wbxml.hex; do
	name=$(basename "$hex" .wbxml.hex)
	xxd -r -p "$hex" > "$tmp/$name.wbxml"
	if "$easctl" wbxml decode "$tmp/$name.wbxml" > "$tmp/$name.xml" &&
	   "$easctl" wbxml encode < "$tmp/$name.xml" > "$tmp/$name.again" &&
	   cmp -s "$tmp/$name.wbxml" "$tmp/$name.again"; then
		pass "wbxml_decode_encode_roundtrip $name"
	else
		fail "wbxml_decode_encode_roundtrip $name"
	fi
done

# Standard input works and the XML names the namespaces of the spec.
if "$easctl" wbxml decode < "$tmp/aswbxml-sync-add-contact.wbxml" | grep -q '<contacts:FileAs>Funk, Don</contacts:FileAs>'; then
	pass wbxml_decode_stdin
else
	fail wbxml_decode_stdin
fi

# A truncated message: exit 1, the byte offset and reason on stderr, nothing on stdout.
head -c 20 "$tmp/aswbxml-sync-add-contact.wbxml" > "$tmp/cut.wbxml"
if "$easctl" wbxml decode "$tmp/cut.wbxml" > "$tmp/out" 2> "$tmp/err"; then
	fail wbxml_decode_truncated_fails
else
	status=$?
	if [ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q 'truncated at byte 20: input ends before the root element does' "$tmp/err"; then
		pass wbxml_decode_truncated_fails
	else
		fail "wbxml_decode_truncated_fails (status $status: $(cat "$tmp/err"))"
	fi
fi

# Unknown element in XML: exit 1 with the line number.
printf '<Sync xmlns="AirSync">\n<Nope/>\n</Sync>\n' > "$tmp/bad.xml"
if "$easctl" wbxml encode "$tmp/bad.xml" > "$tmp/out" 2> "$tmp/err"; then
	fail wbxml_encode_unknown_element_fails
elif grep -q 'line 2: element not in the EAS code pages: Nope in AirSync' "$tmp/err"; then
	pass wbxml_encode_unknown_element_fails
else
	fail "wbxml_encode_unknown_element_fails ($(cat "$tmp/err"))"
fi

# Missing file and bad usage.
if "$easctl" wbxml decode "$tmp/missing" 2> "$tmp/err"; then
	fail wbxml_decode_missing_file
elif grep -q 'No such file' "$tmp/err"; then
	pass wbxml_decode_missing_file
else
	fail wbxml_decode_missing_file
fi
set +e
"$easctl" wbxml frobnicate 2> /dev/null
[ $? -eq 2 ] && pass easctl_usage_exit_2 || fail easctl_usage_exit_2
"$easctl" 2> /dev/null
[ $? -eq 2 ] && pass easctl_no_command_exit_2 || fail easctl_no_command_exit_2
set -e

# ---- administration: users and delivery on a store of their own ----

command -v sqlite3 > /dev/null || { echo "FAIL: sqlite3 is not installed"; exit 1; }
conf=$tmp/admin.conf
db=$tmp/data/easd.sqlite
printf '[store]\ndata_dir = %s/data\n' "$tmp" > "$conf"
ctl() { "$easctl" -c "$conf" "$@"; }
hash_of() { sqlite3 "$db" "SELECT password_hash FROM users WHERE name = '$1'"; }
# Live messages in the user's folders (the query of tests/e2e/lmtp_swaks.sh).
items_of() {
	sqlite3 "$db" "SELECT count(*) FROM items i JOIN folders f ON i.folder_id = f.id
		JOIN users u ON f.user_id = u.id WHERE u.name = '$1' AND i.deleted = 0"
}
# Runs easctl with the given stdin text; sets status, output in $tmp/out and $tmp/err.
ctl_in() {
	input=$1
	shift
	status=0
	printf '%s' "$input" | ctl "$@" > "$tmp/out" 2> "$tmp/err" || status=$?
}
message() {
	printf 'From: sender@example.net\r\nTo: alice@example.org\r\nSubject: %s\r\n\r\nhello\r\n' "$1"
}

ctl_in 'first password
' user add alice
if [ "$status" -eq 0 ] && [ "$(ctl user list)" = alice ] && [ -n "$(hash_of alice)" ]; then
	pass user_add_then_list
else
	fail "user_add_then_list (status $status: $(cat "$tmp/err"))"
fi

ctl_in 'other password
' user add alice
if [ "$status" -eq 1 ] && grep -q 'user alice exists already' "$tmp/err" && [ "$(ctl user list)" = alice ]; then
	pass user_add_twice_fails
else
	fail "user_add_twice_fails (status $status: $(cat "$tmp/err"))"
fi

bad_names_ok=yes
for name in 'al ice' 'a/b' 'x@example.org' '' "$(printf '%065d' 0)"; do
	ctl_in 'pw
' user add "$name"
	if [ "$status" -ne 1 ] || ! grep -q 'a user name is 1 to 64 letters' "$tmp/err"; then
		bad_names_ok="no ('$name': status $status: $(cat "$tmp/err"))"
	fi
done
if [ "$bad_names_ok" = yes ] && [ "$(ctl user list)" = alice ]; then
	pass user_add_bad_name_fails
else
	fail "user_add_bad_name_fails $bad_names_ok"
fi

# 64 characters is the limit, and allowed.
long=$(printf 'u%063d' 0)
ctl_in 'pw
' user add "$long"
if [ "$status" -eq 0 ] && ctl user list | grep -qx "$long" && ctl user del "$long" 2> /dev/null; then
	pass user_add_name_of_64_characters
else
	fail "user_add_name_of_64_characters (status $status: $(cat "$tmp/err"))"
fi

ctl_in 'pw
' user passwd nobody
if [ "$status" -eq 1 ] && grep -q 'no user nobody' "$tmp/err" && [ "$(ctl user list)" = alice ]; then
	pass user_passwd_unknown_fails
else
	fail "user_passwd_unknown_fails (status $status: $(cat "$tmp/err"))"
fi

before=$(hash_of alice)
ctl_in 'second password
' user passwd alice
after=$(hash_of alice)
if [ "$status" -eq 0 ] && [ -n "$after" ] && [ "$after" != "$before" ]; then
	pass user_passwd_changes_hash
else
	fail "user_passwd_changes_hash (status $status: $(cat "$tmp/err"))"
fi

# No password on stdin: nothing changes.
ctl_in '' user passwd alice
if [ "$status" -eq 1 ] && grep -q 'no password given' "$tmp/err" && [ "$(hash_of alice)" = "$after" ]; then
	pass user_passwd_empty_input_keeps_hash
else
	fail "user_passwd_empty_input_keeps_hash (status $status: $(cat "$tmp/err"))"
fi

message one > "$tmp/one.eml"
ctl_in '' deliver alice "$tmp/one.eml"
status_file=$status
ctl_in "$(message two)" deliver alice
if [ "$status_file" -eq 0 ] && [ "$status" -eq 0 ] && [ "$(items_of alice)" = 2 ] &&
   [ "$(sqlite3 "$db" "SELECT count(*) FROM items WHERE CAST(content AS TEXT) LIKE '%Subject: two%'")" = 1 ]; then
	pass deliver_stores_message
else
	fail "deliver_stores_message (status $status_file/$status, $(items_of alice) items: $(cat "$tmp/err"))"
fi

# Deleting a user deletes what it owns: no folder or message is left behind.
orphans() {
	sqlite3 "$db" "SELECT (SELECT count(*) FROM folders WHERE user_id NOT IN (SELECT id FROM users)) +
		(SELECT count(*) FROM items WHERE folder_id NOT IN (SELECT id FROM folders))"
}
ctl_in 'bob password
' user add bob
ctl_in "$(message for-bob)" deliver bob
bob_items=$(items_of bob)
ctl_in '' user del bob
if [ "$bob_items" = 1 ] && [ "$status" -eq 0 ] && [ "$(ctl user list)" = alice ] &&
   [ "$(sqlite3 "$db" "SELECT count(*) FROM users WHERE name = 'bob'")" = 0 ] &&
   [ "$(orphans)" = 0 ] && [ "$(items_of alice)" = 2 ]; then
	ctl_in "$(message late)" deliver bob
	if [ "$status" -eq 1 ] && grep -q 'no user bob' "$tmp/err"; then
		pass user_del_removes
	else
		fail "user_del_removes: deliver to the deleted user (status $status: $(cat "$tmp/err"))"
	fi
else
	fail "user_del_removes (status $status, bob had $bob_items items, $(orphans) orphans: $(cat "$tmp/err"))"
fi

ctl_in '' user del bob
if [ "$status" -eq 1 ] && grep -q 'no user bob' "$tmp/err"; then
	pass user_del_unknown_fails
else
	fail "user_del_unknown_fails (status $status: $(cat "$tmp/err"))"
fi

# [lmtp] max_message_size also bounds easctl deliver: at the limit stored, one past it refused.
small_conf=$tmp/small.conf
printf '[store]\ndata_dir = %s/data\n[lmtp]\nmax_message_size = 100\n' "$tmp" > "$small_conf"
{ message limit; head -c 100 /dev/zero | tr '\0' 'x'; } | head -c 100 > "$tmp/at-limit.eml"
{ message over; head -c 200 /dev/zero | tr '\0' 'x'; } | head -c 200 > "$tmp/over.eml"
status=0
"$easctl" -c "$small_conf" deliver alice "$tmp/at-limit.eml" > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 0 ] && [ "$(items_of alice)" = 3 ]; then
	pass deliver_at_max_message_size_stored
else
	fail "deliver_at_max_message_size_stored (status $status: $(cat "$tmp/err"))"
fi
status=0
"$easctl" -c "$small_conf" deliver alice "$tmp/over.eml" > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 1 ] && grep -q 'larger than 100 bytes' "$tmp/err" && [ "$(items_of alice)" = 3 ]; then
	pass deliver_over_max_message_size_fails
else
	fail "deliver_over_max_message_size_fails (status $status, $(items_of alice) items: $(cat "$tmp/err"))"
fi

printf '[store]\ndata_dir = %s/data\nfrobnicate = 1\n' "$tmp" > "$tmp/unknown.conf"
status=0
"$easctl" -c "$tmp/unknown.conf" user list > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] &&
   grep -q "unknown key 'frobnicate' in \[store\] (line 3)" "$tmp/err"; then
	pass config_unknown_key_fails
else
	fail "config_unknown_key_fails (status $status: $(cat "$tmp/err"))"
fi

# After the refusals, ordinary administration still works.
ctl_in 'carol password
' user add carol
if [ "$status" -eq 0 ] && [ "$(ctl user list | sort | tr '\n' ' ')" = 'alice carol ' ]; then
	pass user_add_after_failures
else
	fail "user_add_after_failures (status $status: $(cat "$tmp/err"))"
fi

# --version and --help, of both programs and of each easctl command.
easd=${EASD_BUILD:-build}/easd
if [ "$("$easctl" --version)" = "$("$easd" --version | sed 's/^easd/easctl/')" ] && "$easd" --version | grep -q '^easd [0-9]'; then
	pass version_of_both
else
	fail version_of_both
fi
if "$easd" --help | grep -q -- '--config FILE' && "$easctl" import --help | grep -q 'import USER FILE' &&
   "$easctl" help export | grep -q 'export USER CLASS' && ! "$easctl" import --help | grep -q 'user add'; then
	pass help_per_command
else
	fail help_per_command
fi
# Without -c, easctl takes $EASD_CONFIG.
printf '[store]\ndata_dir = %s/envdata\n' "$tmp" > "$tmp/env.conf"
if echo pw | EASD_CONFIG="$tmp/env.conf" "$easctl" user add dora > /dev/null &&
   [ "$(EASD_CONFIG="$tmp/env.conf" "$easctl" user list)" = dora ] && [ -d "$tmp/envdata" ]; then
	pass easctl_config_from_environment
else
	fail easctl_config_from_environment
fi
set +e
"$easd" --no-such-option 2> /dev/null
[ $? -eq 2 ] && pass easd_usage_exit_2 || fail easd_usage_exit_2
set -e

[ "$failures" -eq 0 ] || { echo "$failures CLI test(s) failed"; exit 1; }
echo "all CLI tests passed"
