#!/bin/sh
# Add up the automake test-suite.log summaries of the build directories
# given, plus the extra counts below, and print one line: "N passed,
# M failed[, K skipped]". A directory without a test-suite.log (the build
# broke) counts as one failure. Exits non-zero when anything failed.
# SUMMARY_EXTRA_PASSED / SUMMARY_EXTRA_FAILED add checks run outside the
# automake harness (.ci/run's install test).
passed=${SUMMARY_EXTRA_PASSED:-0} failed=${SUMMARY_EXTRA_FAILED:-0} skipped=0
for dir in "$@"; do
	log="$dir/test-suite.log"
	if [ ! -f "$log" ]; then
		echo "$dir: no test-suite.log (build or test run did not finish)"
		failed=$((failed + 1))
		continue
	fi
	count() { sed -n "s/^# $1: *\([0-9][0-9]*\).*/\1/p" "$log" | head -n 1; }
	p=$(count PASS) f=$(count FAIL) e=$(count ERROR) x=$(count XPASS) s=$(count SKIP)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
	skipped=$((skipped + ${s:-0}))
done
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
