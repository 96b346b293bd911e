# Shared helpers for the integration tests (sourced, POSIX sh).
# Every test gets a private temp directory, removed on exit together with
# any daemon it started; nothing listens outside that directory.
# shellcheck shell=sh
# shellcheck disable=SC2034 # COLLECTOR_STATUS, DB... are read by the sourcing test

: "${BIN:?BIN must name the directory of the built programs}"
: "${TOOLS:=$BIN/../tests}"
: "${FIXTURES_DIR:=tests/data/datagrams}"

# Never read the host's /etc/tlsrptd/tlsrptd.conf in tests.
TLSRPTD_CONF=/dev/null
export TLSRPTD_CONF

T=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-test.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

TESTS_RUN=0
ok() {
	TESTS_RUN=$((TESTS_RUN + 1))
	echo "ok - $*"
}
fail() {
	echo "FAIL - $*" >&2
	if [ -n "${LOGFILE:-}" ] && [ -f "$LOGFILE" ]; then
		echo "--- last log lines ($LOGFILE):" >&2
		tail -n 20 "$LOGFILE" >&2
	fi
	exit 1
}
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
	ok "$1"
}
sql() {
	sqlite3 -batch -noheader "$DB" "$1"
}

# wait_for_socket PATH: up to 10 s.
wait_for_socket() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "socket $1 did not appear"
		sleep 0.05
	done
}

# start_collector [extra args...]: sets COLLECTOR_PID, SOCK, DB, LOGFILE.
# Ready means the daemon logged "listening on" (a stale socket file may
# exist before it binds).
start_collector() {
	SOCK=${SOCK:-$T/collector.sock}
	DB=${DB:-$T/tlsrpt.db}
	LOGFILE=$T/collector.log
	touch "$LOGFILE"
	before=$(grep -c "listening on" "$LOGFILE")
	"$BIN/tlsrpt-collectd" -f -o "collector_socket=$SOCK" -o "database=$DB" \
	    -o flush_interval_ms=100 "$@" >>"$LOGFILE" 2>&1 &
	COLLECTOR_PID=$!
	PIDS="$PIDS $COLLECTOR_PID"
	i=0
	while [ "$(grep -c "listening on" "$LOGFILE")" -le "$before" ]; do
		kill -0 "$COLLECTOR_PID" 2>/dev/null || fail "collector exited at start"
		i=$((i + 1))
		[ $i -gt 400 ] && fail "collector not ready after 20 s"
		sleep 0.05
	done
}

# stop_collector: SIGTERM and wait; sets COLLECTOR_STATUS.
stop_collector() {
	kill -TERM "$COLLECTOR_PID"
	COLLECTOR_STATUS=0
	wait "$COLLECTOR_PID" || COLLECTOR_STATUS=$?
}
