#!/bin/sh
# check.sh RESULTS: what `make check` runs once `make deps` has: the build,
# the tests (make test), the same tests under ASan + UBSan (make
# test-asan) and the fuzz check (make fuzz-check); then one line, "N
# passed, N failed", over every suite those ran.
#
# Each suite (a unit or e2e test program, a test script, a fuzz target)
# writes "passed NAME" or "failed NAME" into RESULTS (the Makefile's
# record_suite, told the file by CHECK_RESULTS). A step that fails without
# a failed suite of its own (a build that breaks) counts as one failed
# suite. A failed step does not stop the next, but a failed build stops
# all: the count is then over what ran. Exits 1 if anything failed. $MAKE
# is the make to run (the Makefile passes its own, with its flags).
set -u
make=${MAKE:-make}
results=$1
mkdir -p "$(dirname "$results")"
: > "$results"
status=0

failures() { grep -c '^failed ' "$results"; }

step() {
	before=$(failures)
	$make "$@" CHECK_RESULTS="$results" && return 0
	status=1
	[ "$(failures)" -gt "$before" ] || echo "failed make $* (see its messages above)" >> "$results"
	return 1
}

if step all; then
	step test
	step test-asan
	step fuzz-check
fi
grep '^failed ' "$results" | sed 's/^failed /FAILED: /'
echo "$(grep -c '^passed ' "$results") passed, $(failures) failed"
exit $status
