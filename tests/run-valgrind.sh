#!/bin/sh
# run-valgrind.sh - the unit suites and integration scripts with every
# program of ours under valgrind memcheck (make check-valgrind).
#
# Usage: BIN=build/bin TOOLS=build/tests sh tests/run-valgrind.sh \
#            build/tests/check_buf build/tests/check_conf ...
#
# Each program is replaced by a two-line shell script (a shim, in a
# temporary directory) that execs valgrind on the real one; the unit
# suites go through tests/run-unit.sh with CK_FORK=no, and the
# integration scripts get BIN and TOOLS pointing at the shims, so every
# daemon, command and test tool they start, whichever way they start it,
# runs under memcheck with the same pid (kill and wait work as before).
# The load generators (NATIVE below) are linked, not wrapped.
# TLSRPTD_TEST_SLOWDOWN=5 tells tests/integration/common.sh to wait five
# times longer for a program to be ready (SLOW there).
#
# A program fails when memcheck reports any error or a definite or
# indirect leak: its exit status is then 99 (--error-exitcode) and, as
# that may go unnoticed in a script that kills or ignores the program,
# every valgrind log is also read after each suite and script. The logs
# with errors are printed; the others are removed with the temporary
# directory.
#
# Integration scripts run by default (DEFAULT below): aggregator,
# config-sample, dkim, e2e (every daemon and command along the whole
# chain, HTTPS and mail), postfix-log, tlsrpt-log. Left out, and why:
#   collector, ingest, sender, dns, bad-input
#                 memcheck-clean, but each has a time or memory bound
#                 made for native speed (a faketime clock started 4 s
#                 before midnight, a 5 s wait for a signal's answer,
#                 VmHWM under 200 MiB, send_timeout_s = 5, a DNS timeout
#                 of at most 8 s, daemons killed after 5 s): they fail
#                 under valgrind for that alone; they join the default
#                 once those bounds scale with $SLOW (common.sh)
#   crash         its figures (loss within one flush interval of a paced
#                 load, kill -9 timing) are about native speed
#   pg, pg-inbound, pg-outbound
#                 need a PostgreSQL server and run long; CI time
#   privilege     needs root, bounds latency under attack, and has other
#                 users run a copy of tlsrpt-log (they cannot write the
#                 valgrind logs)
#   dashboard     drives headless Chromium, with its own timeouts
#   install       compares the installed binaries with $BIN byte for byte
#   test-servers  tests the Python test servers: none of our programs
# The benchmarks (make bench) are not run either: they measure speed.
# VG_SCRIPTS runs any of them (with the same valgrind options).
#
# Env: VALGRIND (default valgrind), VALGRIND_EXTRA (more options, e.g.
# --track-origins=yes), VG_JOBS (unit suites run at once; default the
# number of CPUs), VG_SCRIPTS (integration scripts to run instead of
# the default set, e.g. "collector ingest", or paths of scripts run from
# the top of the tree; "none" for none).
# Exits 1 when a suite or script failed or memcheck found anything.

set -u

: "${BIN:?BIN must name the directory of the built programs}"
: "${TOOLS:=$BIN/../tests}"
VALGRIND=${VALGRIND:-valgrind}
# See above for why these and not the others.
DEFAULT="aggregator config-sample dkim e2e postfix-log tlsrpt-log"

command -v "$VALGRIND" >/dev/null 2>&1 || {
	echo "run-valgrind: $VALGRIND not found (make deps installs valgrind)" >&2
	exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd) || exit 2
here=$(pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-valgrind.XXXXXX") || exit 2
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$W/bin" "$W/tools" "$W/unit" "$W/logs"

# shim DIR PROGRAM: DIR/name execs valgrind on PROGRAM, logging to
# $W/logs/name.PID.log. Paths are put in single quotes.
shim() {
	name=$(basename "$2")
	case $W$2 in
	*"'"*)
		echo "run-valgrind: a quote in $W or $2" >&2
		exit 2
		;;
	esac
	{
		echo '#!/bin/sh'
		echo "exec $VALGRIND -q --tool=memcheck --error-exitcode=99" \
		    "--leak-check=full --show-leak-kinds=definite,indirect" \
		    "--errors-for-leak-kinds=definite,indirect --num-callers=30" \
		    "--suppressions='$top/tests/valgrind.supp' ${VALGRIND_EXTRA:-}" \
		    "--log-file='$W/logs/$name.%p.log' '$2' \"\$@\""
	} >"$1/$name"
	chmod 755 "$1/$name"
}

# check_logs WHAT: 0 when no valgrind log of WHAT shows an error; prints
# the logs that do and removes all of them.
check_logs() {
	bad=0
	for f in "$W"/logs/*.log; do
		[ -e "$f" ] || continue
		# -q leaves only errors, leaks and the error summary in a log;
		# a process killed with SIGKILL has no summary.
		if grep -Eq '== (ERROR SUMMARY: [1-9]|[A-Z][a-z]+ .*(read|write|free|jump|uninitialised|overlap)|.* are (definitely|indirectly) lost|Process terminating with default action of signal (4|6|7|8|11) )' "$f"; then
			echo "VALGRIND $1: $(basename "$f" .log)"
			sed 's/^/    /' "$f"
			bad=1
		fi
		rm -f "$f"
	done
	return $bad
}

# Load generators stay native: their job is to be fast, and the tests
# that use them measure what the daemon does with the load.
NATIVE="tlsrpt-loadgen tlsrpt-ingest-load dgram-send"
for d in bin:"$BIN" tools:"$TOOLS"; do
	for p in "${d#*:}"/*; do
		if [ ! -f "$p" ] || [ ! -x "$p" ]; then continue; fi
		case " $NATIVE " in
		*" $(basename "$p") "*) ln -s "$p" "$W/${d%%:*}/" ;;
		*) shim "$W/${d%%:*}" "$p" ;;
		esac
	done
done

# cpu_now: sets CPU to the CPU seconds (user + system) of the children
# waited for so far; on a shared machine a better guide to CI time than
# the wall clock. `times` runs here, not in a subshell, to see them.
cpu_now() {
	times >"$W/times"
	CPU=$(awk 'NR == 2 {
	    n = split($1 " " $2, f, " "); s = 0
	    for (i = 1; i <= n; i++) { split(f[i], ms, "m"); s += ms[1] * 60 + ms[2] }
	    printf "%d", s }' "$W/times")
}

failed=0
t0=$(date +%s)

# --- unit suites -------------------------------------------------------------
units=""
for t in "$@"; do
	case $t in
	/*) prog=$t ;;
	*) prog=$here/$t ;;
	esac
	[ -x "$prog" ] || {
		echo "FAIL $(basename "$t"): not built"
		failed=1
		continue
	}
	shim "$W/unit" "$prog"
	units="$units $W/unit/$(basename "$t")"
done
if [ -n "$units" ]; then
	# Independent and CPU-bound under valgrind: VG_JOBS (default: the
	# number of CPUs) at a time, each through run-unit.sh, its output
	# kept apart and shown in order.
	# shellcheck disable=SC2086,SC2016 # one word per suite ($W has no
	# blanks); $1 and $2 are for the inner sh
	printf '%s\n' $units | CK_FORK=no xargs -P "${VG_JOBS:-$(nproc 2>/dev/null || echo 2)}" \
	    -I '{}' sh -c 'sh "$1" "$2" >"$2.out" 2>&1' sh "$top/tests/run-unit.sh" '{}'
	for u in $units; do
		grep -v '^unit: ' "$u.out"
		grep -q '^PASS ' "$u.out" || failed=1
	done
	check_logs unit || failed=1
fi
t1=$(date +%s)
cpu_now
c1=$CPU
echo "valgrind: unit suites in $((t1 - t0)) s, $c1 s CPU"

# --- integration scripts ---------------------------------------------------------
cd "$top" || exit 2
SCRIPTS=${VG_SCRIPTS:-$DEFAULT}
[ "$SCRIPTS" = none ] && SCRIPTS=""
for name in $SCRIPTS; do
	case $name in
	*/*) script=$name name=$(basename "$name" .sh) ;;
	*) script=tests/integration/$name.sh ;;
	esac
	s0=$(date +%s)
	cpu_now
	cs0=$CPU
	out=$(BIN=$W/bin TOOLS=$W/tools TLSRPTD_TEST_SLOWDOWN=5 sh "$script" 2>&1)
	status=$?
	cpu_now
	secs="$(($(date +%s) - s0)) s, $((CPU - cs0)) s CPU"
	if [ $status -eq 0 ]; then
		echo "PASS $name ($(echo "$out" | grep -c '^ok') checks, $secs)"
	else
		echo "FAIL $name ($secs)"
		echo "$out" | sed 's/^/    /'
		failed=1
	fi
	check_logs "$name" || failed=1
done
cpu_now
echo "valgrind: integration scripts in $(($(date +%s) - t1)) s, $((CPU - c1)) s CPU"
exit $failed
