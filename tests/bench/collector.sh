#!/bin/sh
# NAME
#	collector.sh - benchmark tlsrpt-collectd against its targets
# SYNOPSIS
#	BIN=build/bin sh tests/bench/collector.sh	(what `make bench` runs)
# DESCRIPTION
#	Starts the real collector on a socket and database in a private
#	temp directory, drives it with tlsrpt-loadgen, stops it with SIGTERM
#	(it drains the socket and flushes) and compares what the load
#	generator sent with what the collector stored:
#
#	(a) throughput: >= 250,000 datagrams/s accepted, zero loss, with
#	    blocking senders; measured with 1 and 2 sender processes.
#	(b) loss: zero datagrams lost at 50,000/s offered with MSG_DONTWAIT
#	    sends (what libtlsrpt does) for BENCH_SECONDS (default 60).
#	(c) memory: resident set <= 64 MiB with >= 100,000 distinct
#	    aggregation keys held in memory (one 60 s flush interval).
#
#	Losses depend on the kernel's unix datagram queue
#	(net.unix.max_dgram_qlen: 10 by default, 512 on systemd hosts) and
#	on what else runs on the machine: the CPU time other processes
#	used during each phase is printed, with a warning when it is high.
# ENVIRONMENT
#	BIN			directory holding tlsrpt-collectd and tlsrpt-loadgen
#	BENCH_SECONDS		duration of (b), default 60
#	BENCH_A_COUNT		datagrams per run of (a), default 2000000
#	BENCH_A_PROCS		sender process counts tried in (a), default "1 2"
#	BENCH_B_RATE		offered rate of (b), default 50000
#	BENCH_B_PROCS		sender processes in (b), default 1
#	BENCH_B_CATCHUP		total rate at which a late sender catches up in (b)
#				(tlsrpt-loadgen -C); default: at once, back to back
#	BENCH_B_QLEN		also run (b) with the collector in a private network
#				namespace with this max_dgram_qlen (e.g. 512, the
#				systemd default; needs root and unshare)
#	BENCH_C_KEYS		keys for (c), default 100000
#	BENCH_C_DOMAINS		report domains for (c), default 60000
#	BENCH_C_MAX_MIB		memory target of (c), default 64
#	BENCH_FLUSH_MS		flush_interval_ms for (a) and (b), default 1000
#	BENCH_COLLECTOR_ARGS	more collector arguments, e.g. "-o collector_realtime=yes"
#	BENCH_PHASES		phases to run, default "a b bq c" (bq: (b) again at
#				BENCH_B_QLEN); e.g. "b bq" to compare variants of (b)
# EXIT STATUS
#	0 when every target passed, 1 when one failed, 2 on a setup error.
# shellcheck shell=sh

: "${BIN:?BIN must name the directory of the built programs}"
BENCH_SECONDS=${BENCH_SECONDS:-60}
BENCH_A_COUNT=${BENCH_A_COUNT:-2000000}
BENCH_A_PROCS=${BENCH_A_PROCS:-1 2}
BENCH_B_RATE=${BENCH_B_RATE:-50000}
BENCH_B_PROCS=${BENCH_B_PROCS:-1}
BENCH_B_CATCHUP=${BENCH_B_CATCHUP:-0}
BENCH_C_KEYS=${BENCH_C_KEYS:-100000}
BENCH_C_DOMAINS=${BENCH_C_DOMAINS:-60000}
BENCH_C_MAX_MIB=${BENCH_C_MAX_MIB:-64}
BENCH_FLUSH_MS=${BENCH_FLUSH_MS:-1000}
BENCH_PHASES=${BENCH_PHASES:-a b bq c}
A_TARGET=250000

COLLECTD=$BIN/tlsrpt-collectd
LOADGEN=$BIN/tlsrpt-loadgen

# Never read the host's /etc/tlsrptd/tlsrptd.conf.
TLSRPTD_CONF=/dev/null
export TLSRPTD_CONF

for p in "$COLLECTD" "$LOADGEN"; do
	[ -x "$p" ] || { echo "bench: $p is missing; run make first" >&2; exit 2; }
done
command -v sqlite3 >/dev/null 2>&1 || { echo "bench: sqlite3 is needed" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-bench.XXXXXX") || exit 2
CPID=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$CPID" ]; then
		kill -TERM "$CPID" 2>/dev/null
		sleep 1
		kill -KILL "$CPID" 2>/dev/null
		wait "$CPID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

FAILED=0
RESULTS=""
catchup_text() {
	if [ "$BENCH_B_CATCHUP" = 0 ]; then
		echo "at once"
	else
		echo "at $BENCH_B_CATCHUP/s"
	fi
}

# phase NAME: true when NAME is in BENCH_PHASES.
phase() {
	case " $BENCH_PHASES " in
	*" $1 "*) return 0 ;;
	*) return 1 ;;
	esac
}

verdict() {	# verdict PASS|FAIL "text"
	[ "$1" = PASS ] || FAILED=1
	RESULTS="$RESULTS$1 $2
"
	echo "  => $1 $2"
}

die() {
	echo "bench: $*" >&2
	exit 2
}

# kv KEY "k=v k=v ...": the value of KEY, empty when absent.
kv() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

HZ=$(getconf CLK_TCK)
NPROC=$(nproc)

# Collector CPU seconds (utime + stime) of a live process.
proc_cpu() {
	# Fields after "pid (comm) ": utime and stime are the 12th and 13th.
	sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$HZ" '{ printf "%.2f", ($12 + $13) / hz }'
}

# "UPTIME BUSY": seconds since boot and busy CPU seconds of the whole
# machine, i.e. uptime times CPUs minus idle and iowait (those are exact
# under NO_HZ; the busy columns of /proc/stat are sampled per tick and
# miss the short runs of programs that sleep often).
sys_busy() {
	up=$(cut -d' ' -f1 /proc/uptime)
	awk -v hz="$HZ" -v up="$up" -v n="$NPROC" \
	    '$1 == "cpu" { printf "%s %.2f", up, up * n - ($5 + $6) / hz }' /proc/stat
}

status_kib() {	# status_kib PID VmRSS|VmHWM
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

calc() {
	awk "BEGIN { $1 }"
}

# start_collector PHASE [collector args...]: sets CPID, SOCK, DB, LOG.
start_collector() {
	phase=$1
	shift
	SOCK=$T/$phase.sock
	DB=$T/$phase.db
	LOG=$T/$phase.log
	# shellcheck disable=SC2086 # BENCH_COLLECTOR_ARGS is a word list
	set -- "$@" ${BENCH_COLLECTOR_ARGS:-}
	if [ -n "${NS_QLEN:-}" ]; then
		# A private network namespace has its own max_dgram_qlen;
		# unshare and sh exec, so $! is the collector.
		# shellcheck disable=SC2016 # expanded by the inner sh
		unshare -n sh -c 'echo "$1" >/proc/sys/net/unix/max_dgram_qlen &&
		    shift && exec "$@"' sh "$NS_QLEN" \
		    "$COLLECTD" -f -o collector_socket="$SOCK" -o database="$DB" "$@" 2>"$LOG" &
	else
		"$COLLECTD" -f -o collector_socket="$SOCK" -o database="$DB" "$@" 2>"$LOG" &
	fi
	CPID=$!
	i=0
	until grep -q "listening on" "$LOG" 2>/dev/null; do
		if ! kill -0 "$CPID" 2>/dev/null; then
			wait "$CPID"
			CPID=""
			cat "$LOG" >&2
			die "the collector did not start"
		fi
		i=$((i + 1))
		[ $i -gt 200 ] && die "the collector did not start within 10 s"
		sleep 0.05
	done
}

# stop_collector: SIGTERM, wait up to 60 s for the drain and flush.
# Sets CSTATUS; PEAK_KIB is the highest VmHWM seen while it stopped.
stop_collector() {
	kill -TERM "$CPID"
	i=0
	PEAK_KIB=0
	while kill -0 "$CPID" 2>/dev/null; do
		h=$(status_kib "$CPID" VmHWM 2>/dev/null)
		[ -n "$h" ] && [ "$h" -gt "$PEAK_KIB" ] && PEAK_KIB=$h
		i=$((i + 1))
		if [ $i -gt 1200 ]; then
			echo "bench: the collector did not stop within 60 s; killing it" >&2
			kill -KILL "$CPID"
		fi
		sleep 0.05
	done
	wait "$CPID"
	CSTATUS=$?
	CPID=""
	grep -E "warning|error" "$LOG" | head -n 3 | sed 's/^[^ ]* /  collector log: /'
	[ "$CSTATUS" = 0 ] || { echo "  collector exit status $CSTATUS; its log:"; tail -n 20 "$LOG"; }
}

sql() {
	sqlite3 -batch -noheader "$DB" "$1"
}

# loadgen_ran ERRFILE: stops the bench when the load generator printed
# no result line (its errors are in ERRFILE).
loadgen_ran() {
	case "$OUT" in
	*sent=*) ;;
	*) cat "$1" >&2; die "tlsrpt-loadgen failed" ;;
	esac
}

stat_sum() {
	v=$(sql "SELECT COALESCE(SUM(value), 0) FROM collector_stat WHERE name = '$1'")
	echo "${v:-0}"
}

# After a phase: what the collector stored. Sets RECEIVED ACCEPTED
# REJECTED STORED_SESSIONS STORED_FAILED STORED_KEYS.
read_db() {
	RECEIVED=$(stat_sum received)
	ACCEPTED=$(stat_sum accepted)
	REJECTED=$(stat_sum rejected)
	STORED_SESSIONS=$(sql "SELECT COALESCE(SUM(successful_sessions + failed_sessions), 0) FROM policy_counter")
	STORED_FAILED=$(sql "SELECT COALESCE(SUM(failed_sessions), 0) FROM policy_counter")
	STORED_KEYS=$(sql "SELECT (SELECT COUNT(*) FROM policy_counter) + (SELECT COUNT(*) FROM failure_counter)")
}

# Compares the loadgen's line ($OUT) with the database; prints both.
# Returns 0 when the collector stored exactly what was sent.
compare_counts() {
	sent=$(kv sent "$OUT")
	sessions=$(kv sessions "$OUT")
	failures=$(kv failures "$OUT")
	printf '  sent %s, received %s, accepted %s, rejected %s\n' \
	    "$sent" "$RECEIVED" "$ACCEPTED" "$REJECTED"
	printf '  sessions sent %s, stored %s; failed sessions sent %s, stored %s\n' \
	    "$sessions" "$STORED_SESSIONS" "$failures" "$STORED_FAILED"
	[ "$sent" = "$RECEIVED" ] && [ "$sent" = "$ACCEPTED" ] &&
	    [ "$sessions" = "$STORED_SESSIONS" ] && [ "$failures" = "$STORED_FAILED" ]
}

# Other processes' CPU during a phase: machine busy time minus collector
# and load generator CPU. Warns when it could have skewed the result.
noise() {	# noise "UP BUSY" (before) "UP BUSY" (after) COLLECTOR_CPU SENDER_CPU
	# shellcheck disable=SC2086 # split "UP BUSY" on purpose
	set -- $1 $2 "$3" "$4"
	wall=$(calc "printf \"%.1f\", $3 - $1")
	other=$(calc "o = $4 - $2 - $5 - $6; if (o < 0) o = 0; printf \"%.2f\", o")
	echo "  other processes used $other CPU-seconds in these $wall s" \
	    "($NPROC CPUs)"
	if [ "$(calc "print ($other > 0.05 * $wall * $NPROC) ? 1 : 0")" = 1 ]; then
		echo "  WARNING: the machine was not idle; figures may be worse than the collector's own"
	fi
}

QLEN=$(cat /proc/sys/net/unix/max_dgram_qlen)
WMEM=$(cat /proc/sys/net/core/wmem_default)
echo "tlsrpt-collectd benchmark ($(date -u '+%Y-%m-%dT%H:%M:%SZ'))"
echo "kernel: $(uname -sr), nproc=$NPROC, net.unix.max_dgram_qlen=$QLEN," \
    "net.core.wmem_default=$WMEM, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- (a) throughput with blocking senders -----------------------------
bench_a() {
	echo
	echo "(a) throughput: $BENCH_A_COUNT datagrams, blocking sends, as fast as possible"
	BEST_RATE=0
	BEST_PROCS=""
	A_OK=1
	for procs in $BENCH_A_PROCS; do
		echo " $procs sender process(es):"
		start_collector "a$procs" -o flush_interval_ms="$BENCH_FLUSH_MS"
		b0=$(sys_busy)
		c0=$(proc_cpu "$CPID")
		OUT=$("$LOADGEN" -s "$SOCK" -b -n "$BENCH_A_COUNT" -p "$procs" 2>"$T/a$procs.err")
		rc=$?
		c1=$(proc_cpu "$CPID")
		b1=$(sys_busy)
		stop_collector
		loadgen_ran "$T/a$procs.err"
		read_db
		echo "  loadgen: $OUT"
		[ $rc = 0 ] || { cat "$T/a$procs.err"; A_OK=0; }
		secs=$(kv seconds "$OUT")
		ccpu=$(calc "printf \"%.2f\", $c1 - $c0")
		rate=$(calc "printf \"%.0f\", ($secs > 0) ? $ACCEPTED / $secs : 0")
		us=$(calc "printf \"%.2f\", ($ACCEPTED > 0) ? $ccpu * 1e6 / $ACCEPTED : 0")
		compare_counts || { echo "  MISMATCH: not everything sent was stored"; A_OK=0; }
		[ "$(kv lost "$OUT")" = 0 ] || { echo "  LOSS: $(kv lost "$OUT") sends failed"; A_OK=0; }
		[ "$CSTATUS" = 0 ] || A_OK=0
		echo "  $rate datagrams/s accepted ($ACCEPTED in $secs s);" \
		    "collector CPU $ccpu s = $us us/datagram;" \
		    "sender CPU $(kv sender_cpu "$OUT") s"
		noise "$b0" "$b1" "$ccpu" "$(kv sender_cpu "$OUT")"
		if [ "$rate" -gt "$BEST_RATE" ]; then
			BEST_RATE=$rate
			BEST_PROCS=$procs
		fi
	done
	echo " best: $BEST_RATE datagrams/s with $BEST_PROCS sender process(es)"
	if [ $A_OK = 1 ] && [ "$BEST_RATE" -ge $A_TARGET ]; then
		verdict PASS "(a) $BEST_RATE datagrams/s >= $A_TARGET, zero loss (blocking, $BEST_PROCS sender process(es))"
	else
		verdict FAIL "(a) $BEST_RATE datagrams/s (target >= $A_TARGET with zero loss)"
	fi
}

# ---- (b) loss at 50,000/s with non-blocking sends ---------------------
B_COUNT=$((BENCH_B_RATE * BENCH_SECONDS))
bench_b() {
	echo
	echo "(b) loss: $BENCH_B_RATE datagrams/s offered for $BENCH_SECONDS s" \
	    "($B_COUNT datagrams), MSG_DONTWAIT like libtlsrpt, $BENCH_B_PROCS sender process(es)," \
	    "late senders catch up $(catchup_text)"
	start_collector b -o flush_interval_ms="$BENCH_FLUSH_MS"
	b0=$(sys_busy)
	c0=$(proc_cpu "$CPID")
	OUT=$("$LOADGEN" -s "$SOCK" -r "$BENCH_B_RATE" -C "$BENCH_B_CATCHUP" -n "$B_COUNT" -p "$BENCH_B_PROCS" -v 2>"$T/b.err")
	rc=$?
	c1=$(proc_cpu "$CPID")
	b1=$(sys_busy)
	stop_collector
	loadgen_ran "$T/b.err"
	read_db
	echo "  loadgen: $OUT"
	grep -E "pacing|losses per second" "$T/b.err" | sed 's/^tlsrpt-loadgen: /  loadgen: /'
	B_OK=1
	[ $rc = 0 ] || { cat "$T/b.err"; B_OK=0; }
	compare_counts || { echo "  MISMATCH: what was sent was not all stored"; B_OK=0; }
	[ "$CSTATUS" = 0 ] || B_OK=0
	lost=$(kv lost "$OUT")
	secs=$(kv seconds "$OUT")
	offered=$(calc "printf \"%.0f\", ($secs > 0) ? ($(kv sent "$OUT") + $lost) / $secs : 0")
	ccpu=$(calc "printf \"%.2f\", $c1 - $c0")
	echo "  offered $offered/s, sent $(kv rate "$OUT")/s; collector CPU $ccpu s" \
	    "($(calc "printf \"%.1f\", 100 * $ccpu / $secs")% of one CPU)"
	noise "$b0" "$b1" "$ccpu" "$(kv sender_cpu "$OUT")"
	echo "  loss=$lost at net.unix.max_dgram_qlen=$QLEN (eagain=$(kv eagain "$OUT")," \
	    "other_errors=$(kv other_errors "$OUT"))"
	[ "$(calc "print ($offered >= 0.99 * $BENCH_B_RATE) ? 1 : 0")" = 1 ] ||
	    { echo "  the sender did not reach the offered rate"; B_OK=0; }
	if [ $B_OK = 1 ] && [ "$lost" = 0 ]; then
		verdict PASS "(b) loss=0 of $B_COUNT at $BENCH_B_RATE/s for $BENCH_SECONDS s, net.unix.max_dgram_qlen=$QLEN"
	else
		verdict FAIL "(b) loss=$lost of $B_COUNT at $BENCH_B_RATE/s for $BENCH_SECONDS s, net.unix.max_dgram_qlen=$QLEN"
	fi
}

# (b) again with another queue length, for comparison (not a target).
bench_bq() {
	echo
	echo "(b') the same at net.unix.max_dgram_qlen=$BENCH_B_QLEN (private network namespace)"
	NS_QLEN=$BENCH_B_QLEN
	start_collector b2 -o flush_interval_ms="$BENCH_FLUSH_MS"
	NS_QLEN=""
	b0=$(sys_busy)
	c0=$(proc_cpu "$CPID")
	OUT=$("$LOADGEN" -s "$SOCK" -r "$BENCH_B_RATE" -C "$BENCH_B_CATCHUP" -n "$B_COUNT" -p "$BENCH_B_PROCS" -v 2>"$T/b2.err")
	c1=$(proc_cpu "$CPID")
	b1=$(sys_busy)
	stop_collector
	loadgen_ran "$T/b2.err"
	read_db
	echo "  loadgen: $OUT"
	grep -E "pacing|losses per second" "$T/b2.err" | sed 's/^tlsrpt-loadgen: /  loadgen: /'
	compare_counts || echo "  MISMATCH: what was sent was not all stored"
	noise "$b0" "$b1" "$(calc "printf \"%.2f\", $c1 - $c0")" "$(kv sender_cpu "$OUT")"
	echo "  loss=$(kv lost "$OUT") at net.unix.max_dgram_qlen=$BENCH_B_QLEN (for comparison)"
}

# ---- (c) memory with 100,000 keys -------------------------------------
bench_c() {
	echo
	echo "(c) memory: ~$BENCH_C_KEYS distinct keys ($BENCH_C_DOMAINS report domains)" \
	    "held in memory (flush_interval_ms=60000, collector_max_keys=250000)"
	start_collector c -o flush_interval_ms=60000 -o collector_max_keys=250000
	START_KIB=$(status_kib "$CPID" VmRSS)
	t0=$(date +%s)
	OUT=$("$LOADGEN" -s "$SOCK" -b -n 0 -k "$BENCH_C_KEYS" -d "$BENCH_C_DOMAINS" 2>"$T/c.err")
	rc=$?
	sleep 0.5	# the last queued datagrams
	RSS_KIB=$(status_kib "$CPID" VmRSS)
	HWM_KIB=$(status_kib "$CPID" VmHWM)
	held=$(($(date +%s) - t0))
	stop_collector
	loadgen_ran "$T/c.err"
	read_db
	echo "  loadgen: $OUT"
	C_OK=1
	[ $rc = 0 ] || { cat "$T/c.err"; C_OK=0; }
	[ "$held" -lt 55 ] || { echo "  took ${held}s: a flush may have emptied the table"; C_OK=0; }
	compare_counts || { echo "  MISMATCH: what was sent was not all stored"; C_OK=0; }
	[ "$CSTATUS" = 0 ] || C_OK=0
	[ "$(kv lost "$OUT")" = 0 ] || C_OK=0
	mib() {
		calc "printf \"%.1f\", $1 / 1024"
	}
	echo "  keys sent $(kv keys "$OUT"), stored $STORED_KEYS" \
	    "(policy_counter + failure_counter rows)"
	echo "  resident at start $(mib "$START_KIB") MiB; with the keys in memory:" \
	    "VmRSS $(mib "$RSS_KIB") MiB, VmHWM $(mib "$HWM_KIB") MiB;" \
	    "peak during the final flush $(mib "$PEAK_KIB") MiB"
	[ "$STORED_KEYS" = "$(kv keys "$OUT")" ] ||
	    echo "  NOTE: stored keys differ from the loadgen's count"
	[ "$STORED_KEYS" -ge "$BENCH_C_KEYS" ] || C_OK=0
	limit=$((BENCH_C_MAX_MIB * 1024))
	if [ $C_OK = 1 ] && [ "$HWM_KIB" -le $limit ] && [ "$RSS_KIB" -le $limit ]; then
		verdict PASS "(c) VmRSS $(mib "$RSS_KIB") MiB, VmHWM $(mib "$HWM_KIB") MiB <= $BENCH_C_MAX_MIB MiB with $STORED_KEYS keys"
	else
		verdict FAIL "(c) VmRSS $(mib "$RSS_KIB") MiB, VmHWM $(mib "$HWM_KIB") MiB with $STORED_KEYS keys (target <= $BENCH_C_MAX_MIB MiB, >= $BENCH_C_KEYS keys)"
	fi
}

phase a && bench_a
phase b && bench_b
phase bq && [ -n "${BENCH_B_QLEN:-}" ] && bench_bq
phase c && bench_c

echo
echo "summary:"
printf '%s' "$RESULTS"
exit $FAILED
