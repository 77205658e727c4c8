#!/bin/sh
# tests/e2e/make_check.sh: make check's summary. tools/check.sh against a
# stand-in make whose steps report suites as the Makefile does: the last
# line counts every suite, a failed suite or step fails the check, a
# failed build stops it. Then the Makefile's own recording: make test
# with two scripts for suites, one failing. Needs EASD_SOURCE and
# EASD_BUILD. Prints one ok/FAIL line per case; exits non-zero if any failed.
set -u
src=${EASD_SOURCE:?EASD_SOURCE must name the repository}
build=${EASD_BUILD:?EASD_BUILD must name the build folder}
# Run by the make test below should the Makefile stop honouring SCRIPT_TESTS: not again.
[ -z "${EASD_MAKE_CHECK_INNER:-}" ] || { echo "skip: make_check.sh inside its own make test"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# The stand-in: "fake-make STEP CHECK_RESULTS=FILE" does what $tmp/STEP says:
# lines "passed NAME" / "failed NAME" for the file, then "exit N".
cat > "$tmp/fake-make" <<'FAKE'
#!/bin/sh
step=$1
results=${2#CHECK_RESULTS=}
echo "$step" >> "$(dirname "$0")/steps"
[ -f "$(dirname "$0")/$step" ] || exit 0
grep -v '^exit' "$(dirname "$0")/$step" >> "$results"
exit "$(sed -n 's/^exit //p' "$(dirname "$0")/$step")"
FAKE
chmod +x "$tmp/fake-make"

# Runs check.sh with the stand-in; its output in $tmp/out, exit status in status.
check() {
	rm -f "$tmp/steps"
	status=0
	MAKE="$tmp/fake-make" "$src/tools/check.sh" "$tmp/results/check-results" > "$tmp/out" 2>&1 || status=$?
}

printf 'passed build/tests/a\npassed tests/cli/run.sh on build\nexit 0\n' > "$tmp/test"
printf 'passed build/asan/tests/a\npassed tests/cli/run.sh on build/asan\nexit 0\n' > "$tmp/test-asan"
printf 'passed fuzz fuzz_a\nexit 0\n' > "$tmp/fuzz-check"
check
if [ "$status" -eq 0 ] && [ "$(tail -n 1 "$tmp/out")" = "5 passed, 0 failed" ] &&
   [ "$(tr '\n' ' ' < "$tmp/steps")" = "all test test-asan fuzz-check " ]; then
	pass check_counts_every_suite
else
	fail "check_counts_every_suite (status $status: $(cat "$tmp/out"))"
fi

# A failed suite, then a step that fails before any suite (its build): the rest still runs.
printf 'passed build/tests/a\nfailed build/tests/b\nexit 2\n' > "$tmp/test"
printf 'exit 2\n' > "$tmp/test-asan"
check
if [ "$status" -eq 1 ] && [ "$(tail -n 1 "$tmp/out")" = "2 passed, 2 failed" ] &&
   grep -qx 'FAILED: build/tests/b' "$tmp/out" && grep -qx 'FAILED: make test-asan (see its messages above)' "$tmp/out" &&
   [ "$(tr '\n' ' ' < "$tmp/steps")" = "all test test-asan fuzz-check " ]; then
	pass check_fails_and_names_failed_suites_and_steps
else
	fail "check_fails_and_names_failed_suites_and_steps (status $status: $(cat "$tmp/out"))"
fi

# A build that fails stops the check: nothing else would build either.
printf 'exit 2\n' > "$tmp/all"
check
if [ "$status" -eq 1 ] && [ "$(tail -n 1 "$tmp/out")" = "0 passed, 1 failed" ] &&
   [ "$(tr '\n' ' ' < "$tmp/steps")" = "all " ]; then
	pass check_stops_when_the_build_fails
else
	fail "check_stops_when_the_build_fails (status $status: $(cat "$tmp/out"))"
fi

# ---- the Makefile records each suite and goes on after a failure ----

printf '#!/bin/sh\nexit 0\n' > "$tmp/good.sh"
printf '#!/bin/sh\nexit 1\n' > "$tmp/bad.sh"
chmod +x "$tmp/good.sh" "$tmp/bad.sh"
status=0
EASD_MAKE_CHECK_INNER=1 env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -C "$src" test BUILD="$build" TESTS= PROGRAMS= \
	SCRIPT_TESTS="$tmp/bad.sh $tmp/good.sh" CHECK_RESULTS="$tmp/recorded" > "$tmp/out" 2>&1 || status=$?
if [ "$status" -ne 0 ] && [ "$(cat "$tmp/recorded" 2> /dev/null | tr '\n' '|')" = "failed $tmp/bad.sh on $build|passed $tmp/good.sh on $build|" ]; then
	pass make_test_records_each_suite_and_fails_after_all_ran
else
	fail "make_test_records_each_suite_and_fails_after_all_ran (status $status: $(cat "$tmp/out" "$tmp/recorded"))"
fi

[ "$failures" -eq 0 ] || { echo "$failures make check test(s) failed"; exit 1; }
echo "all make check tests passed"
