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

# Programs run slower under valgrind (make check-valgrind sets
# TLSRPTD_TEST_SLOWDOWN): the waits below for a program to be ready are
# multiplied by SLOW, which scripts may use for their own limits too.
SLOW=${TLSRPTD_TEST_SLOWDOWN:-1}

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

# wait_for_socket PATH: up to 10 s (times SLOW).
wait_for_socket() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		[ $i -gt $((200 * SLOW)) ] && fail "socket $1 did not appear"
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
		[ $i -gt $((400 * SLOW)) ] && fail "collector not ready after $((20 * SLOW)) s"
		sleep 0.05
	done
}

# stop_collector: SIGTERM and wait; sets COLLECTOR_STATUS.
stop_collector() {
	kill -TERM "$COLLECTOR_PID"
	COLLECTOR_STATUS=0
	wait "$COLLECTOR_PID" || COLLECTOR_STATUS=$?
}

PY=/usr/bin/python3

# start_sink NAME CMD...: runs CMD in the background, stdout in $T/NAME.out
# and stderr in $T/NAME.err, and waits up to 10 s for its "listening PORT"
# line; sets SINK_PORT and SINK_PID (killed at exit).
start_sink() {
	name=$1
	shift
	: >"$T/$name.out"
	"$@" >"$T/$name.out" 2>"$T/$name.err" &
	SINK_PID=$!
	PIDS="$PIDS $SINK_PID"
	i=0
	while :; do
		SINK_PORT=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$T/$name.out")
		[ -n "$SINK_PORT" ] && break
		kill -0 "$SINK_PID" 2>/dev/null || fail "$name exited at start: $(cat "$T/$name.err")"
		i=$((i + 1))
		[ $i -gt $((200 * SLOW)) ] && fail "$name not listening after $((10 * SLOW)) s"
		sleep 0.05
	done
}

# jget FILE KEY...: a value from a JSON file (nested keys; list index as
# a number). Strings print raw, anything else as JSON.
jget() {
	$PY -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$@"
}

# count DIR SUFFIX: number of saved files (not temporaries) in DIR
count() {
	find "$1" -maxdepth 1 -name "[0-9]*$2" | wc -l | tr -d ' '
}

# start_dns CONF [dnsmasq options...]: dnsmasq on 127.0.0.1 (and
# DNS_LISTEN_EXTRA, e.g. --listen-address=::1) at a free high port, with
# the records of CONF; sets DNS_PORT and DNS_PID. dnsmasq exits at once
# when the bind fails, then the next port is tried; ready means it
# answers a record only this run has. Queries are logged to $T/dnsmasq.log.
start_dns() {
	dns_conf=$1
	shift
	# A token only this instance serves: an earlier dnsmasq of the same
	# test on the same port must not pass for this one.
	DNS_SEQ=$((${DNS_SEQ:-0} + 1))
	token=ready$$-$DNS_SEQ
	try=0
	while [ $try -lt 20 ]; do
		try=$((try + 1))
		DNS_PORT=$((20000 + ($$ + try * 331) % 10000))
		: >"$T/dnsmasq.log"
		# shellcheck disable=SC2086 # DNS_LISTEN_EXTRA holds options
		/usr/sbin/dnsmasq --no-daemon --no-resolv --no-hosts --conf-file="$dns_conf" \
		    --pid-file= --bind-interfaces --listen-address=127.0.0.1 \
		    ${DNS_LISTEN_EXTRA:-} --port="$DNS_PORT" \
		    --log-queries --log-facility="$T/dnsmasq.log" \
		    --txt-record="_smtp._tls.$token.example,$token" "$@" \
		    >"$T/dnsmasq.err" 2>&1 &
		DNS_PID=$!
		PIDS="$PIDS $DNS_PID"
		n=0
		while kill -0 "$DNS_PID" 2>/dev/null; do
			if "$TOOLS/txt-lookup" -a -s "127.0.0.1:$DNS_PORT" "_smtp._tls.$token.example" 2>/dev/null |
			    grep -qx "txt: $token"; then
				return 0
			fi
			n=$((n + 1))
			[ $n -gt $((100 * SLOW)) ] && fail "dnsmasq not answering after $((10 * SLOW)) s"
			sleep 0.1
		done
		wait "$DNS_PID" 2>/dev/null
		grep -q "Address already in use" "$T/dnsmasq.err" ||
		    fail "dnsmasq exited: $(cat "$T/dnsmasq.err")"
	done
	fail "no free port for dnsmasq after $try tries"
}
