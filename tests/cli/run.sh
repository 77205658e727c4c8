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

# Standard input works; the namespaces are spelled as Exchange logs and
# libwbxml spell them, with the trailing colon.
if "$easctl" wbxml decode < "$tmp/aswbxml-sync-add-contact.wbxml" > "$tmp/out" &&
   grep -q '<contacts:FileAs>Funk, Don</contacts:FileAs>' "$tmp/out" &&
   grep -q '^<Sync xmlns="AirSync:" xmlns:contacts="Contacts:" xmlns:airsyncbase="AirSyncBase:">$' "$tmp/out"; then
	pass wbxml_decode_stdin
else
	fail wbxml_decode_stdin
fi

# libwbxml's tools (libwbxml2-utils) and ours read each other's XML: our
# XML through xml2wbxml (-a -n: no public id, no string table, as EAS
# wants) and wbxml2xml's through `easctl wbxml encode` give the bytes back;
# so do the examples' files in the colon-less spelling of MS-ASCMD.
for tool in xml2wbxml wbxml2xml; do
	command -v $tool > /dev/null || { echo "FAIL: $tool is not installed (apt-get install libwbxml2-utils)"; exit 1; }
done
for hex in "$src"/tests/data/examples/*.wbxml.hex; do
	name=$(basename "$hex" .wbxml.hex)
	if "$easctl" wbxml decode "$tmp/$name.wbxml" | xml2wbxml -a -n -o - - > "$tmp/$name.libwbxml" 2> /dev/null &&
	   cmp -s "$tmp/$name.wbxml" "$tmp/$name.libwbxml"; then
		pass "wbxml_decode_then_xml2wbxml $name"
	else
		fail "wbxml_decode_then_xml2wbxml $name"
	fi
	if wbxml2xml -l ACTIVESYNC -o - "$tmp/$name.wbxml" 2> /dev/null | "$easctl" wbxml encode > "$tmp/$name.colon" &&
	   cmp -s "$tmp/$name.wbxml" "$tmp/$name.colon" &&
	   "$easctl" wbxml encode "$src/tests/data/examples/$name.xml" > "$tmp/$name.plain" &&
	   cmp -s "$tmp/$name.wbxml" "$tmp/$name.plain"; then
		pass "wbxml_encode_both_spellings $name"
	else
		fail "wbxml_encode_both_spellings $name"
	fi
done

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

# The refusal names the user as stored: names ignore case.
ctl_in 'other password
' user add Alice
if [ "$status" -eq 1 ] && grep -qx 'easctl: user alice exists already (user names ignore case)' "$tmp/err" &&
   [ "$(ctl user list)" = alice ]; then
	pass user_add_other_case_names_the_stored_user
else
	fail "user_add_other_case_names_the_stored_user (status $status: $(cat "$tmp/err"))"
fi

# From a pipe the first line is the password, and it needs 8 characters (not bytes) too.
ctl_in 'seven c
' user add bob
status_short=$status
grep -qx 'easctl: the password has 7 characters; it needs at least 8; nothing changed' "$tmp/err" || status_short="$status_short ($(cat "$tmp/err"))"
ctl_in 'ééééééé
' user add bob
if [ "$status_short" = 1 ] && [ "$status" -eq 1 ] && grep -q 'has 7 characters; it needs at least 8' "$tmp/err" &&
   [ "$(ctl user list)" = alice ]; then
	pass user_add_short_password_refused
else
	fail "user_add_short_password_refused (status $status_short/$status: $(cat "$tmp/err"))"
fi
long_password=$(printf 'p%0299d' 0)
ctl_in "$long_password
" user add bob
if [ "$status" -eq 1 ] && grep -qx 'easctl: the password is longer than 254 bytes; nothing changed' "$tmp/err" &&
   [ "$(ctl user list)" = alice ]; then
	pass user_add_password_too_long_refused
else
	fail "user_add_password_too_long_refused (status $status: $(cat "$tmp/err"))"
fi

bad_names_ok=yes
for name in 'al ice' 'a/b' 'x@example.org' '' "$(printf '%065d' 0)"; do
	ctl_in 'password
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
ctl_in 'password
' user add "$long"
if [ "$status" -eq 0 ] && ctl user list | grep -qx "$long" && ctl user del "$long" 2> /dev/null; then
	pass user_add_name_of_64_characters
else
	fail "user_add_name_of_64_characters (status $status: $(cat "$tmp/err"))"
fi

ctl_in 'password
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

# A short one changes nothing.
ctl_in 'short
' user passwd alice
if [ "$status" -eq 1 ] && grep -q 'it needs at least 8' "$tmp/err" && [ "$(hash_of alice)" = "$after" ]; then
	pass user_passwd_short_keeps_hash
else
	fail "user_passwd_short_keeps_hash (status $status: $(cat "$tmp/err"))"
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

# An address works as over LMTP: a domain of [lmtp] local_domains (any case), the
# tag after a recipient_delimiter dropped; another domain is refused by name.
printf '[store]\ndata_dir = %s/data\n[lmtp]\nlocal_domains = localhost example.org\nrecipient_delimiter = +-\n' "$tmp" > "$tmp/domains.conf"
ctl_in 'frank password
' user add frank
addresses_ok=yes
for address in frank@localhost frank+lists@Example.ORG frank-news@localhost; do
	message "to $address" | "$easctl" -c "$tmp/domains.conf" deliver "$address" 2> "$tmp/err" ||
		addresses_ok="no ($address: $(cat "$tmp/err"))"
done
if [ "$addresses_ok" = yes ] && [ "$(items_of frank)" = 3 ]; then
	pass deliver_to_an_address_of_a_local_domain
else
	fail "deliver_to_an_address_of_a_local_domain $addresses_ok, $(items_of frank) items"
fi
status=0
message elsewhere | "$easctl" -c "$tmp/domains.conf" deliver frank@example.com 2> "$tmp/err" || status=$?
if [ "$status" -eq 1 ] && [ "$(items_of frank)" = 3 ] &&
   grep -qx 'easctl: frank@example.com: example.com is not a local domain (\[lmtp\] local_domains: localhost, example.org)' "$tmp/err"; then
	pass deliver_to_another_domain_refused
else
	fail "deliver_to_another_domain_refused (status $status: $(cat "$tmp/err"))"
fi
ctl_in "$(message nobody)" deliver nobody+tag@localhost
if [ "$status" -eq 1 ] && grep -qx 'easctl: no user nobody (for nobody+tag@localhost)' "$tmp/err"; then
	pass deliver_to_an_address_of_no_user_refused
else
	fail "deliver_to_an_address_of_no_user_refused (status $status: $(cat "$tmp/err"))"
fi

# An empty message, or one of blank lines only, is a mistake: nothing is stored.
status=0
ctl deliver frank < /dev/null > "$tmp/out" 2> "$tmp/err" || status=$?
status_empty=$status
grep -qx 'easctl: empty message: nothing delivered' "$tmp/err" || status_empty="$status ($(cat "$tmp/err"))"
printf '\r\n\n' > "$tmp/blank.eml"
ctl_in '' deliver frank "$tmp/blank.eml"
if [ "$status_empty" = 1 ] && [ "$status" -eq 1 ] && grep -qx 'easctl: empty message: nothing delivered' "$tmp/err" && [ "$(items_of frank)" = 3 ]; then
	pass deliver_empty_message_refused
else
	fail "deliver_empty_message_refused (status $status_empty/$status, $(items_of frank) items: $(cat "$tmp/err"))"
fi
ctl user del frank

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

# ---- backup and restore (the store now holds alice, with 3 messages, and carol) ----

users_in() { sqlite3 "$1" "SELECT group_concat(name, ' ') FROM (SELECT name FROM users ORDER BY name)"; }
backup=$tmp/one.backup
ctl_in '' backup "$backup"
if [ "$status" -eq 0 ] &&
   grep -qx "backup $backup: [0-9]* bytes, schema version [0-9]*, 2 users" "$tmp/out" &&
   [ "$(sqlite3 "$backup" 'PRAGMA integrity_check')" = ok ] && [ "$(users_in "$backup")" = 'alice carol' ] &&
   [ "$(sqlite3 "$backup" 'PRAGMA journal_mode')" = delete ] && [ "$(stat -c %a "$backup")" = 600 ] &&
   [ ! -e "$backup.tmp" ]; then
	pass backup_writes_a_checked_self_contained_copy
else
	fail "backup_writes_a_checked_self_contained_copy (status $status: $(cat "$tmp/out" "$tmp/err"))"
fi

ctl user del carol
ctl_in '' backup "$backup"
if [ "$status" -eq 1 ] && grep -q "backup: $backup exists; --force replaces it" "$tmp/err" &&
   [ "$(users_in "$backup")" = 'alice carol' ]; then
	pass backup_refuses_to_overwrite_without_force
else
	fail "backup_refuses_to_overwrite_without_force (status $status: $(cat "$tmp/err"))"
fi

echo 'an old file' > "$tmp/forced.backup"
ctl_in '' backup --force "$tmp/forced.backup"
if [ "$status" -eq 0 ] && grep -q ', 1 user$' "$tmp/out" && [ "$(users_in "$tmp/forced.backup")" = alice ]; then
	pass backup_force_replaces_the_file
else
	fail "backup_force_replaces_the_file (status $status: $(cat "$tmp/err"))"
fi

# carol was deleted after the backup: restoring it brings her back, and alice's mail with her.
if [ "$(id -u)" = 0 ]; then
	chown 65534:65534 "$db" && chmod 660 "$db"
fi
owner_before=$(stat -c '%u:%g %a' "$db")
ctl_in '' restore "$backup"
if [ "$status" -eq 0 ] && grep -qx "restored $backup into $tmp/data/easd.sqlite: [0-9]* bytes, schema version [0-9]*, 2 users" "$tmp/out" &&
   [ "$(ctl user list | tr '\n' ' ')" = 'alice carol ' ] && [ "$(items_of alice)" = 3 ] &&
   [ ! -e "$db.tmp" ] && [ "$(stat -c '%u:%g %a' "$db")" = "$owner_before" ]; then
	pass restore_brings_back_a_deleted_user
else
	fail "restore_brings_back_a_deleted_user (status $status, owner $(stat -c '%u:%g %a' "$db") was $owner_before: $(cat "$tmp/out" "$tmp/err"))"
fi

# A file that is no easd backup is refused before anything is touched.
cp "$db" "$tmp/db-before"
printf 'From: someone\r\n\r\nnot a database\r\n' > "$tmp/not-a-database"
ctl_in '' restore "$tmp/not-a-database"
if [ "$status" -eq 1 ] && [ ! -s "$tmp/out" ] &&
   grep -qx "easctl: restore: $tmp/not-a-database: cannot be read as an SQLite database: file is not a database; nothing was changed" "$tmp/err" &&
   cmp -s "$db" "$tmp/db-before" && [ "$(ctl user list | tr '\n' ' ')" = 'alice carol ' ]; then
	pass restore_of_a_file_that_is_not_a_database_refused
else
	fail "restore_of_a_file_that_is_not_a_database_refused (status $status: $(cat "$tmp/err"))"
fi

# An empty file is an empty SQLite database; a database of another program has no users table.
: > "$tmp/empty"
sqlite3 "$tmp/other.sqlite" 'CREATE TABLE notes (text TEXT)'
refusals_ok=yes
for file in "$tmp/empty" "$tmp/other.sqlite" "$tmp/missing"; do
	ctl_in '' restore "$file"
	grep -q "restore: $file: .*; nothing was changed" "$tmp/err" || refusals_ok="no ($(cat "$tmp/err"))"
	[ "$status" -eq 1 ] || refusals_ok="no (status $status for $file)"
done
if [ "$refusals_ok" = yes ] && grep -q 'No such file' "$tmp/err" && cmp -s "$db" "$tmp/db-before"; then
	pass restore_of_empty_foreign_or_missing_file_refused
else
	fail "restore_of_empty_foreign_or_missing_file_refused $refusals_ok"
fi

# A backup's schema: newer than this release is refused, older is restored and migrated by easd's next start.
latest=$(sqlite3 "$backup" 'PRAGMA user_version')
cp "$backup" "$tmp/newer.backup"
sqlite3 "$tmp/newer.backup" "PRAGMA user_version = $((latest + 1))"
ctl_in '' restore "$tmp/newer.backup"
if [ "$status" -eq 1 ] && grep -q "schema version $((latest + 1)) is newer than this release's ($latest)" "$tmp/err" &&
   cmp -s "$db" "$tmp/db-before"; then
	pass restore_of_a_newer_schema_refused
else
	fail "restore_of_a_newer_schema_refused (status $status: $(cat "$tmp/err"))"
fi
# (An old schema faked by its version number: only what restore says is looked at, in a data directory of its own.)
cp "$backup" "$tmp/older.backup"
sqlite3 "$tmp/older.backup" 'PRAGMA user_version = 1'
printf '[store]\ndata_dir = %s/olddata\n' "$tmp" > "$tmp/old.conf"
status=0
"$easctl" -c "$tmp/old.conf" restore "$tmp/older.backup" > "$tmp/out" 2> "$tmp/err" || status=$?
if [ "$status" -eq 0 ] && grep -qx "easd migrates it from schema version 1 to $latest when it next starts" "$tmp/out" &&
   [ "$(sqlite3 "$tmp/olddata/easd.sqlite" 'PRAGMA user_version')" = 1 ]; then
	pass restore_of_an_older_schema_says_easd_migrates_it
else
	fail "restore_of_an_older_schema_says_easd_migrates_it (status $status: $(cat "$tmp/out" "$tmp/err"))"
fi

ctl_in '' backup
backup_status=$status
ctl_in '' restore
if [ "$backup_status" -eq 2 ] && [ "$status" -eq 2 ] && grep -q 'usage: easctl restore FILE' "$tmp/err" &&
   "$easctl" backup --help | grep -q 'backup \[--force\] FILE' && "$easctl" restore --help | grep -q 'easd must be stopped'; then
	pass backup_restore_usage_and_help
else
	fail "backup_restore_usage_and_help (status $backup_status/$status)"
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
if echo 'dora password' | EASD_CONFIG="$tmp/env.conf" "$easctl" user add dora > /dev/null &&
   [ "$(EASD_CONFIG="$tmp/env.conf" "$easctl" user list)" = dora ] && [ -d "$tmp/envdata" ]; then
	pass easctl_config_from_environment
else
	fail easctl_config_from_environment
fi
set +e
"$easd" --no-such-option 2> /dev/null
[ $? -eq 2 ] && pass easd_usage_exit_2 || fail easd_usage_exit_2
set -e

# ---- easd does not start where it cannot write (it would answer every write Status 111) ----

# easd.conf with these data and log directories; run_easd runs easd (after the given
# command words) for 10 s at most: status, and stderr in $tmp/err.
dirs_conf() {
	printf '[http]\nlisten = 127.0.0.1:0\n[lmtp]\nlisten =\n[metrics]\nlisten =\n[store]\ndata_dir = %s\n[log]\ndir = %s\n' "$1" "$2" > "$tmp/dirs.conf"
}
run_easd() {
	status=0
	timeout 10 "$@" "$easd" -c "$tmp/dirs.conf" > /dev/null 2> "$tmp/err" || status=$?
}

# Tests run as root, whom permission bits do not stop: a directory under a regular file cannot be made.
: > "$tmp/a-file"
dirs_conf "$tmp/a-file/data" "$tmp/easd-log"
run_easd
if [ "$status" -eq 1 ] && grep -qx "easd: cannot write the data directory $tmp/a-file/data: Not a directory" "$tmp/err"; then
	pass easd_data_dir_not_writable_exits_naming_it
else
	fail "easd_data_dir_not_writable_exits_naming_it (status $status: $(cat "$tmp/err"))"
fi
dirs_conf "$tmp/easd-data" "$tmp/a-file/log"
run_easd
if [ "$status" -eq 1 ] && grep -qx "easd: cannot write the log directory $tmp/a-file/log: Not a directory" "$tmp/err"; then
	pass easd_log_dir_not_writable_exits_naming_it
else
	fail "easd_log_dir_not_writable_exits_naming_it (status $status: $(cat "$tmp/err"))"
fi

# A data directory with its database, mounted read-only (a mount namespace of easd's own).
mkdir -p "$tmp/ro-data" "$tmp/ro-log"
cp "$tmp/db-before" "$tmp/ro-data/easd.sqlite"
dirs_conf "$tmp/ro-data" "$tmp/ro-log"
read_only_then='d=$1; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" && exec "$@"'
if unshare -m sh -c "$read_only_then" sh "$tmp/ro-data" true 2> /dev/null; then
	run_easd unshare -m sh -c "$read_only_then" sh "$tmp/ro-data"
	if [ "$status" -eq 1 ] && grep -qx "easd: cannot write the data directory $tmp/ro-data: Read-only file system" "$tmp/err"; then
		pass easd_read_only_data_dir_exits_naming_it
	else
		fail "easd_read_only_data_dir_exits_naming_it (status $status: $(cat "$tmp/err"))"
	fi
else
	echo "skip: easd_read_only_data_dir_exits_naming_it (no mount namespace here)"
fi

# A database easd's user may not write, in a directory it may: SQLite would open it read-only without a word.
mkdir -p "$tmp/other-user/data" "$tmp/other-user/log"
cp "$tmp/db-before" "$tmp/other-user/data/easd.sqlite"
chmod 644 "$tmp/other-user/data/easd.sqlite"
dirs_conf "$tmp/other-user/data" "$tmp/other-user/log"
as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" = 0 ] && chown 65534:65534 "$tmp/other-user/data" "$tmp/other-user/log" &&
   chmod 755 "$tmp" "$tmp/other-user" && $as_nobody "$easd" --version > /dev/null 2>&1; then
	run_easd $as_nobody
	if [ "$status" -eq 1 ] &&
	   grep -qx "easd: cannot write the database $tmp/other-user/data/easd.sqlite: Permission denied" "$tmp/err"; then
		pass easd_database_not_writable_exits_naming_it
	else
		fail "easd_database_not_writable_exits_naming_it (status $status: $(cat "$tmp/err"))"
	fi
else
	echo "skip: easd_database_not_writable_exits_naming_it (needs root and setpriv)"
fi

[ "$failures" -eq 0 ] || { echo "$failures CLI test(s) failed"; exit 1; }
echo "all CLI tests passed"
