#!/bin/sh
# lint.sh - the house rules a compiler does not check.
#
# Usage: sh tests/lint.sh   (or make lint)
#
# 1. No tracked C file under lib/ collector/ aggregator/ sender/ ingest/
#    tests/ calls a banned function (STYLE.md): strcpy strcat sprintf
#    vsprintf gets strtok atoi atol. Whole identifiers followed by '(',
#    so snprintf, vsnprintf, fgets and strtok_r are fine.
# 2. shellcheck passes on the project's shell scripts, when installed.
# 3. No tracked file holds a machine-local absolute path (a home or
#    workspace directory) that would break on any other machine.
#
# Prints each problem as file:line: and exits 1; prints "lint: ok" and
# exits 0 when there is none.

set -u

cd "$(dirname "$0")/.." || exit 2
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "lint: not a git work tree; the checks cover tracked files" >&2
	exit 2
fi

status=0
git_grep() {
	git --no-pager grep --no-color -n "$@"
}

# 1. Banned functions. git grep exits 1 for no match, >1 for trouble.
banned='strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol'
hits=$(git_grep -E "(^|[^[:alnum:]_])($banned)[[:space:]]*\\(" -- \
	'lib/*.[ch]' 'collector/*.[ch]' 'aggregator/*.[ch]' 'sender/*.[ch]' \
	'ingest/*.[ch]' 'tests/*.[ch]')
rc=$?
if [ "$rc" -eq 0 ]; then
	printf '%s\n' "$hits" | sed 's/^\([^:]*:[0-9]*\):/\1: banned function: /'
	status=1
elif [ "$rc" -ne 1 ]; then
	echo "lint: git grep failed ($rc)" >&2
	status=1
fi

# 2. Shell scripts.
if command -v shellcheck >/dev/null 2>&1; then
	scripts=""
	for f in tests/*.sh tests/*/*.sh contrib/*.sh contrib/*/*.sh .ci/run; do
		[ -f "$f" ] && scripts="$scripts $f"
	done
	# shellcheck disable=SC2086 # word splitting wanted; no blanks in names
	if [ -n "$scripts" ] && ! shellcheck -S warning -x $scripts; then
		status=1
	fi
else
	echo "lint: shellcheck not installed; scripts not checked" >&2
fi

# 3. Machine-local paths: a slash not preceded by a name character (so
#    URLs such as https://example.com/home/ pass), then the directory.
local_dirs='work|root|home'
hits=$(git_grep -E "(^|[^[:alnum:]_.-])/($local_dirs)/")
rc=$?
if [ "$rc" -eq 0 ]; then
	printf '%s\n' "$hits" | sed 's/^\([^:]*:[0-9]*\):/\1: machine-local path: /'
	status=1
elif [ "$rc" -ne 1 ]; then
	echo "lint: git grep failed ($rc)" >&2
	status=1
fi

if [ "$status" -eq 0 ]; then
	echo "lint: ok"
fi
exit "$status"
