#!/bin/sh
# fuzz_check_one.sh TARGET: make fuzz-check's work for one libFuzzer target
# (the Makefile runs two at once, one per core): replay its corpus, then
# fuzz it for FUZZ_CHECK_SECONDS; a crash, leak or timeout fails it (its
# artifacts are named after it: build/fuzz/fuzz_wbxml-crash-...). Writes
# "passed|failed fuzz TARGET" into CHECK_RESULTS when set; exits 1 on failure.
set -u
t=$1
build=${FUZZ_BUILD:-build/fuzz}
seconds=${FUZZ_CHECK_SECONDS:-5}
corpus=fuzz/corpus/${t#fuzz_}
d=fuzz/${t#fuzz_}
if [ -f "$d.dict" ]; then d=$d.dict; else d=${d%%_*}.dict; fi
dict=
[ -f "$d" ] && dict=-dict=$d
result=passed
"$build/$t" -runs=0 -artifact_prefix="$build/$t-" "$corpus" > "$build/$t.replay.log" 2>&1 || result=failed
mkdir -p "$build/new-$t"
"$build/$t" -max_total_time="$seconds" $dict -print_final_stats=1 -artifact_prefix="$build/$t-" \
	"$build/new-$t" "$corpus" 2>&1 | grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE|==)' | sed "s/^/$t: /"
[ -z "$(ls "$build/$t"-crash-* "$build/$t"-leak-* "$build/$t"-timeout-* 2>/dev/null)" ] || result=failed
echo "== $t: replayed $corpus, then ${seconds}s: $result"
[ -z "${CHECK_RESULTS:-}" ] || echo "$result fuzz $t" >> "$CHECK_RESULTS"
[ "$result" = passed ]
