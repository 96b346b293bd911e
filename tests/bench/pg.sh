#!/bin/sh
# PostgreSQL benchmark (make bench): three collectors, as on three MTA
# hosts, each fed at full speed by its own load generator (blocking sends,
# so nothing is lost in the socket queue), all writing to one throwaway
# PostgreSQL server on loopback. The three loads use the same seed, so the
# collectors upsert the very same rows: the worst case for row locks.
# Prints datagrams accepted per second (all three together), the time from
# SIGTERM until everything was written, and checks that the database holds
# exactly three times one load. Not a pass/fail timing test.
set -eu
: "${BIN:?BIN must name the directory of the built programs}"
N=${BENCH_PG_N:-300000}
KEYS=${BENCH_PG_KEYS:-20000}
T=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-bench.XXXXXX")
chmod 711 "$T"
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null || true
	done
	sh tests/tools/pg-server.sh stop "$T/pg" || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
export TLSRPTD_CONF=/dev/null
mkdir -p "$T/pg"
URI=$(sh tests/tools/pg-server.sh start "$T/pg")
echo "PostgreSQL bench: 3 collectors x $N datagrams (~$KEYS keys each, the same keys), one server on loopback (nproc $(nproc))"

for n in 1 2 3; do
	"$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/c$n.sock" -o "database=$URI" \
	    >"$T/c$n.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "CPID_$n=\$!"
done
for n in 1 2 3; do
	i=0
	until grep -q "listening on" "$T/c$n.log"; do
		i=$((i + 1))
		[ $i -gt 400 ] && { cat "$T/c$n.log"; exit 1; }
		sleep 0.05
	done
done
start=$(date +%s.%N)
for n in 1 2 3; do
	"$BIN/tlsrpt-loadgen" -s "$T/c$n.sock" -b -n "$N" -S 8460 -d 2000 -k "$KEYS" -f 7 \
	    >"$T/load$n.out" &
	eval "LPID_$n=\$!"
done
for n in 1 2 3; do
	eval "wait \$LPID_$n"
done
sent_end=$(date +%s.%N)
for n in 1 2 3; do
	eval "kill -TERM \$CPID_$n"
done
for n in 1 2 3; do
	eval "wait \$CPID_$n" || echo "collector $n exit status $?"
done
end=$(date +%s.%N)
PIDS=""

sessions=$(tr ' ' '\n' <"$T/load1.out" | sed -n 's/^sessions=//p')
got=$(psql -X -q -At "$URI" -c "SET search_path = tlsrptd_outbound" \
    -c "SELECT sum(successful_sessions + failed_sessions) FROM policy_counter")
rows=$(psql -X -q -At "$URI" -c "SET search_path = tlsrptd_outbound" \
    -c "SELECT (SELECT count(*) FROM policy_counter) || ' policy rows, ' || (SELECT count(*) FROM failure_counter) || ' failure rows'")
deadlocks=$(cat "$T"/c?.log | grep -ci deadlock || true)
errors=$(psql -X -q -At "$URI" -c "SET search_path = tlsrptd_outbound" \
    -c "SELECT COALESCE(sum(value), 0) FROM collector_stat WHERE name = 'flush_errors'")
awk -v s="$start" -v e="$sent_end" -v f="$end" -v n="$N" 'BEGIN {
	printf "  received:      %d datagrams in %.2f s = %.0f/s for the three together\n",
	    3 * n, e - s, 3 * n / (e - s)
	printf "  written:       last counts in the database %.2f s after the senders stopped\n", f - e
}'
echo "  database:      $rows; sessions $got, expected $((3 * sessions)) ($( [ "$got" = "$((3 * sessions))" ] && echo exact || echo MISMATCH))"
echo "  flush errors:  $errors (deadlock lines in the logs: $deadlocks)"
for n in 1 2 3; do
	echo "  load $n:        $(cat "$T/load$n.out")"
done
[ "$got" = "$((3 * sessions))" ]
