#!/bin/sh
# Runs every tests/integration/*.sh (except common.sh) with BIN and TOOLS
# from the environment; prints PASS/FAIL per script, exits non-zero if any
# failed. The output of a failing script is shown in full.
: "${BIN:?}"
failed=0
for t in tests/integration/*.sh; do
	name=$(basename "$t" .sh)
	[ "$name" = common ] && continue
	out=$(sh "$t" 2>&1)
	status=$?
	if [ $status -eq 0 ]; then
		echo "PASS $name ($(echo "$out" | grep -c '^ok'))"
	else
		echo "FAIL $name"
		echo "$out" | sed 's/^/    /'
		failed=1
	fi
done
exit $failed
