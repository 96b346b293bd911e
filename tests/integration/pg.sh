#!/bin/sh
# Integration test of the PostgreSQL backend, issue 10: several MTA hosts'
# collectors feed one database and one report comes out.
#
# A throwaway PostgreSQL server (tests/tools/pg-server.sh, loopback, own
# data directory, run as a non-root user) takes the counters of three
# collectors at once, all fed the same load (so every upsert contends for
# the same rows). The totals must be exactly three times one run, and
# equal, key by key, to one SQLite collector fed the same load three
# times; the reports the aggregator builds from both must be byte-
# identical. Then the server goes away (killed, and hung) while a
# collector keeps receiving: nothing may be lost or counted twice once
# it is back. The database suites (check_db) run against the server too.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -f "$FT" ] || fail "libfaketime missing (make deps installs faketime)"
DAY=2026-03-14
PGDIR=$T/pg
# The server runs as an unprivileged user when we are root: let it reach its directory.
chmod 711 "$T"
mkdir -p "$PGDIR"
URI=$(sh tests/tools/pg-server.sh start "$PGDIR") || fail "PostgreSQL server did not start"
pg_stop() {
	sh tests/tools/pg-server.sh stop "$PGDIR"
}
trap 'pg_stop; cleanup' EXIT INT TERM
ok "PostgreSQL server on loopback: $URI"

psql_q() {
	psql -X -q -At "$URI" -c "SET search_path = tlsrptd_outbound" -c "$1"
}

# --- the database suites against this server -----------------------------
for suite in check_db check_inbound; do
	prog=$BUILD/tests/$suite
	[ -x "$prog" ] || fail "$prog not built"
	TLSRPTD_TEST_PG=$URI CK_FORK=yes "$prog" >"$T/$suite.out" 2>&1 ||
	    { cat "$T/$suite.out" >&2; fail "$suite on PostgreSQL"; }
	ok "$suite passes on PostgreSQL ($(grep -o '[0-9]*%: Checks: [0-9]*' "$T/$suite.out" | tail -1))"
done
# The suites leave their schemas behind: start from an empty database.
psql -X -q "$URI" -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS tlsrptd_outbound CASCADE" \
    -c "DROP SCHEMA IF EXISTS tlsrptd_inbound CASCADE" || fail "reset schemas"

# --- three collectors, one database ---------------------------------------
# collector N: socket $T/cN.sock, log $T/cN.log, pid in CPID_N
start_at() {
	n=$1
	db=$2
	log=$T/c$n.log
	: >"$log"
	LD_PRELOAD=$FT FAKETIME="@$DAY 12:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	    "$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/c$n.sock" -o "database=$db" \
	    -o flush_interval_ms=100 >>"$log" 2>&1 &
	eval "CPID_$n=\$!"
	PIDS="$PIDS $!"
	i=0
	until grep -q "listening on" "$log"; do
		kill -0 "$!" 2>/dev/null || { cat "$log" >&2; fail "collector $n exited at start"; }
		i=$((i + 1))
		[ $i -gt 400 ] && fail "collector $n not ready after 20 s"
		sleep 0.05
	done
}
stop_at() {
	eval "p=\$CPID_$1"
	kill -TERM "$p"
	wait "$p" || fail "collector $1 exit status $?"
}
load() {
	"$BIN/tlsrpt-loadgen" -s "$1" -b -n "$LOAD_N" -S 8460 -d 300 -k 3000 -f 7
}
LOAD_N=60000

for n in 1 2 3; do
	start_at "$n" "$URI"
done
ok "three collectors started against one PostgreSQL database"
for n in 1 2 3; do
	load "$T/c$n.sock" >"$T/load$n.out" &
	eval "LPID_$n=\$!"
done
for n in 1 2 3; do
	eval "wait \$LPID_$n" || fail "loadgen $n"
done
for n in 1 2 3; do
	stop_at "$n"
done
ok "three loads of $LOAD_N datagrams sent (blocking) and collectors stopped"

# field FILE NAME: NAME=value from the loadgen's summary line
field() {
	tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"
}
sessions=$(field "$T/load1.out" sessions)
failures=$(field "$T/load1.out" failures)
for n in 1 2 3; do
	expect_eq "load $n lost nothing" 0 "$(field "$T/load$n.out" lost)"
done
for n in 2 3; do
	expect_eq "load $n offered the same sessions" "$sessions" "$(field "$T/load$n.out" sessions)"
done
expect_eq "sessions in PostgreSQL = 3 x one load" "$((3 * sessions))" \
    "$(psql_q "SELECT sum(successful_sessions + failed_sessions) FROM policy_counter WHERE day = '$DAY'")"
expect_eq "failed sessions in PostgreSQL = 3 x one load" "$((3 * failures))" \
    "$(psql_q "SELECT sum(failed_sessions) FROM policy_counter WHERE day = '$DAY'")"
expect_eq "failure details add up to the failed sessions" "$((3 * failures))" \
    "$(psql_q "SELECT sum(sessions) FROM failure_counter")"
expect_eq "accepted datagrams counted by all three" "$((3 * LOAD_N))" \
    "$(psql_q "SELECT value FROM collector_stat WHERE day = '$DAY' AND name = 'accepted'")"
for n in 1 2 3; do
	if grep -qi "deadlock" "$T/c$n.log"; then
		ok "collector $n met a deadlock and retried: $(grep -ci deadlock "$T/c$n.log") lines"
	fi
done

# The same load three times into one SQLite collector: same rows.
SQ=$T/ref.db
start_at 4 "$SQ"
for _ in 1 2 3; do
	load "$T/c4.sock" >/dev/null || fail "loadgen (SQLite)"
done
stop_at 4
dump_cols="day, report_domain, tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts"
q_pol="SELECT $dump_cols, successful_sessions, failed_sessions FROM policy_counter ORDER BY $dump_cols"
q_fail="SELECT p.report_domain, p.policy_domain, f.result_code, f.sending_mta_ip, f.receiving_mx_hostname, f.receiving_mx_helo, f.receiving_ip, f.additional_information, f.failure_reason_code, f.sessions FROM failure_counter f JOIN policy_counter p ON p.id = f.policy_id ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
psql_q "$q_pol" >"$T/pg-pol.txt"
sqlite3 -batch -noheader "$SQ" "$q_pol" >"$T/sq-pol.txt"
psql_q "$q_fail" >"$T/pg-fail.txt"
sqlite3 -batch -noheader "$SQ" "$q_fail" >"$T/sq-fail.txt"
[ -s "$T/pg-pol.txt" ] || fail "no policy rows in PostgreSQL"
cmp -s "$T/pg-pol.txt" "$T/sq-pol.txt" ||
    fail "policy rows differ: $(diff "$T/sq-pol.txt" "$T/pg-pol.txt" | head -5)"
ok "policy_counter equal key by key to SQLite ($(wc -l <"$T/pg-pol.txt") rows)"
cmp -s "$T/pg-fail.txt" "$T/sq-fail.txt" ||
    fail "failure rows differ: $(diff "$T/sq-fail.txt" "$T/pg-fail.txt" | head -5)"
ok "failure_counter equal key by key to SQLite ($(wc -l <"$T/pg-fail.txt") rows)"

# --- one report per domain, from either database ---------------------------
for engine in pg sq; do
	db=$URI
	[ $engine = sq ] && db=$SQ
	cat >"$T/agg-$engine.conf" <<EOC
database = $db
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
retention_days = 3650
EOC
	"$BIN/tlsrpt-aggregate" -c "$T/agg-$engine.conf" --day "$DAY" >"$T/agg-$engine.out" 2>&1 ||
	    { cat "$T/agg-$engine.out" >&2; fail "tlsrpt-aggregate on $engine"; }
done
q_rep="SELECT report_id, json FROM report ORDER BY report_id"
psql_q "$q_rep" >"$T/pg-rep.txt"
sqlite3 -batch -noheader "$SQ" "$q_rep" >"$T/sq-rep.txt"
nrep=$(psql_q "SELECT count(*) FROM report")
[ "$nrep" -gt 0 ] || fail "no reports built on PostgreSQL"
cmp -s "$T/pg-rep.txt" "$T/sq-rep.txt" ||
    fail "reports differ: $(diff "$T/sq-rep.txt" "$T/pg-rep.txt" | head -3 | cut -c1-300)"
ok "$nrep reports from PostgreSQL byte-identical to the SQLite ones"
psql_q "SELECT json FROM report ORDER BY report_id LIMIT 1" >"$T/one.json"
/usr/bin/python3 tests/tools/validate-report.py schema/tlsrpt-report.schema.json "$T/one.json" \
    >/dev/null 2>&1 || fail "report from PostgreSQL is not schema-valid"
ok "report from PostgreSQL validates against the schema"
"$BIN/tlsrpt-aggregate" -c "$T/agg-pg.conf" --day "$DAY" >/dev/null 2>&1 || fail "re-run"
expect_eq "re-running the aggregator builds nothing twice" "$nrep" "$(psql_q "SELECT count(*) FROM report")"

# --- outage: server killed, then hung --------------------------------------
psql_q "DELETE FROM policy_counter; DELETE FROM collector_stat" || fail "clear counters"
start_at 5 "$URI"
one=$FIXTURES_DIR/success.json
sessions_of() {
	psql_q "SELECT COALESCE(sum(successful_sessions + failed_sessions), 0) FROM policy_counter"
}
"$TOOLS/dgram-send" -r 10 "$T/c5.sock" "$one" || fail "dgram-send"
i=0
until [ "$(sessions_of)" -ge 10 ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "first 10 sessions not flushed"
	sleep 0.1
done
base=$(sessions_of)
sh tests/tools/pg-server.sh kill "$PGDIR" || fail "kill server"
"$TOOLS/dgram-send" -r 500 "$T/c5.sock" "$one" || fail "dgram-send during outage"
sleep 2
kill -0 "$CPID_5" || fail "collector died during the outage"
grep -qi "warn\|cannot\|fail" "$T/c5.log" || fail "no warning logged during the outage"
ok "server down: collector keeps receiving and warns ($(grep -ci 'warn\|cannot\|fail' "$T/c5.log") lines)"
sh tests/tools/pg-server.sh restart "$PGDIR" || fail "restart server"
i=0
until [ "$(sessions_of)" -ge $((base + 500)) ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "counts of the outage not written after 30 s: $(sessions_of)"
	sleep 0.1
done
sleep 0.5
expect_eq "after the outage every session written once" "$((base + 500))" "$(sessions_of)"

sh tests/tools/pg-server.sh pause "$PGDIR" || fail "pause server"
"$TOOLS/dgram-send" -r 300 "$T/c5.sock" "$one" || fail "dgram-send while hung"
sleep 2
kill -0 "$CPID_5" || fail "collector died while the server hung"
sh tests/tools/pg-server.sh resume "$PGDIR" || fail "resume server"
i=0
until [ "$(sessions_of)" -ge $((base + 800)) ]; do
	i=$((i + 1))
	[ $i -gt 400 ] && fail "counts of the hang not written after 40 s: $(sessions_of)"
	sleep 0.1
done
stop_at 5
expect_eq "after a hung server every session written once" "$((base + 800))" "$(sessions_of)"
