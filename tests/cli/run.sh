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

[ "$failures" -eq 0 ] || { echo "$failures CLI test(s) failed"; exit 1; }
echo "all CLI tests passed"
