#!/bin/sh
# run_suite.sh SUITE: one test program of `make test`, its output held until
# it ends so that suites run at once (TEST_JOBS) do not mix their lines.
# Writes "passed SUITE" or "failed SUITE" into CHECK_RESULTS when set; exits 1
# when it failed. EASD_SOURCE and EASD_BUILD pass through to the suite.
set -u
suite=$1
out=$(mktemp)
result=passed
"$suite" > "$out" 2>&1 || result=failed
{ echo "== $suite"; cat "$out"; }
rm -f "$out"
[ -z "${CHECK_RESULTS:-}" ] || echo "$result $suite" >> "$CHECK_RESULTS"
[ "$result" = passed ]
