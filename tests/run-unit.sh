#!/bin/sh
# run-unit.sh - run check unit test programs and summarise them.
#
# Usage: sh tests/run-unit.sh build/tests/check_conf build/tests/check_buf ...
#
# Each program runs from the top of the source tree (tests may use
# relative paths such as tests/data/) with CK_FORK=yes unless the caller
# set CK_FORK, so one crashing test is reported instead of ending the
# suite. Prints "PASS check_x" or "FAIL check_x" per program, and the
# whole output of each failing one. Exits 1 when any failed, 2 on misuse.

set -u

if [ "$#" -eq 0 ]; then
	echo "usage: $0 test-program..." >&2
	exit 2
fi

CK_FORK=${CK_FORK:-yes}
export CK_FORK

top=$(cd "$(dirname "$0")/.." && pwd) || exit 2
here=$(pwd)
out=$(mktemp "${TMPDIR:-/tmp}/run-unit.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$top" || exit 2
passed=0
failed=0
for t in "$@"; do
	case $t in
	/*) prog=$t ;;
	*) prog=$here/$t ;;
	esac
	name=$(basename "$t")
	if [ ! -x "$prog" ]; then
		echo "FAIL $name"
		echo "    $t: not found or not executable"
		failed=$((failed + 1))
		continue
	fi
	if "$prog" >"$out" 2>&1; then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		rc=$?
		echo "FAIL $name (exit $rc)"
		sed 's/^/    /' "$out"
		failed=$((failed + 1))
	fi
done

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
