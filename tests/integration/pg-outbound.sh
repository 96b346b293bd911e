#!/bin/sh
# Integration test of tlsrpt-aggregate and tlsrpt-send on PostgreSQL
# (database = postgresql://...), against a throwaway server on loopback
# (tests/tools/pg-server.sh, always stopped at exit).
#
# Aggregator: the datagrams of aggregator.sh go to two collectors (under
# libfaketime, across midnight), one writing SQLite and one PostgreSQL,
# which must store the same counters; aggregator.sh's random and
# size-cap counters are written to SQLite and copied into PostgreSQL row
# by row. The reports built on PostgreSQL must equal the golden files and
# be byte-identical (JSON and gzip) to those built from the same counters
# on SQLite. Idempotence, --force, retention, an error in the middle of
# a day (rolled back whole). Two aggregators at once build every report
# once.
# Sender: the setup of sender.sh (dnsmasq, HTTPS and SMTP sinks) with the
# outbox in PostgreSQL: deliveries, back-off and give-up, no-destination
# reasons, kill -9 in the middle of a delivery; the advisory lock: a
# second tlsrpt-send refused while one runs, a -D sender that retakes it
# after a reconnect and stops when another session took it.
# Exits 0 with a note when no PostgreSQL server is installed.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

A=tests/data/aggregate
GOLD=tests/data/golden
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -f "$FT" ] || fail "libfaketime missing (make deps installs faketime)"

# The server's files belong to the postgres user when we run as root: a
# directory of its own that it can reach (mktemp -d makes it 0700).
PGT=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-pg.XXXXXX")
chmod 0755 "$PGT"
pg_cleanup() {
	cleanup
	sh tests/tools/pg-server.sh stop "$PGT/srv" 2>/dev/null
	rm -rf "$PGT"
}
trap pg_cleanup EXIT
trap 'exit 1' INT TERM
started=$(date +%s)
status=0
URI=$(sh tests/tools/pg-server.sh start "$PGT/srv" 2>"$T/pg-start.err") || status=$?
if [ $status -eq 77 ]; then
	echo "pg-outbound: skipped: $(cat "$T/pg-start.err")"
	exit 0
fi
[ $status -eq 0 ] || fail "pg-server.sh start: $(cat "$T/pg-start.err")"
ok "PostgreSQL test server up in $(($(date +%s) - started)) s"

# pg SQL: run SQL on $PGURI (default $URI) in the outbound schema,
# unaligned output like sqlite3's ("a|b").
pg() {
	PGOPTIONS='-c search_path=tlsrptd_outbound -c client_min_messages=warning' \
	    psql -X -q -A -t -v ON_ERROR_STOP=1 "${PGURI:-$URI}" -c "$1"
}
# advisory_key NAME: the key of lib/db's advisory lock NAME (FNV-1a).
advisory_key() {
	$PY -c 'import sys
h = 2166136261
for c in sys.argv[1].encode():
    h = ((h ^ c) * 16777619) & 0xffffffff
print(h & 0x7fffffff)' "$1"
}
# pg_load SQLITE_DB TABLE...: copy the rows of TABLEs into $PGURI (COPY
# text format), policy ids moved past those already there.
pg_load() {
	offset=$(pg "SELECT COALESCE(MAX(id), 0) FROM policy_counter")
	$PY - "$offset" "$@" <<'EOPY' | PGOPTIONS='-c search_path=tlsrptd_outbound' \
	    psql -X -q -v ON_ERROR_STOP=1 "${PGURI:-$URI}" >/dev/null || fail "load $*"
import sqlite3, sys
offset = int(sys.argv[1])
db = sqlite3.connect(sys.argv[2])
def field(v):
    if v is None:
        return "\\N"
    if isinstance(v, bytes):
        return "\\\\x" + v.hex()
    v = str(v)
    for c, e in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        v = v.replace(c, e)
    return v
print("BEGIN;")
for table in sys.argv[3:]:
    cur = db.execute("SELECT * FROM " + table)
    names = [d[0] for d in cur.description]
    moved = [i for i, n in enumerate(names) if (table, n) in
             (("policy_counter", "id"), ("failure_counter", "policy_id"))]
    print("COPY %s (%s) FROM STDIN;" % (table, ", ".join(names)))
    for row in cur:
        print("\t".join(field(v + offset if i in moved else v) for i, v in enumerate(row)))
    print("\\.")
# Rows keep their ids: move the identity past them.
print("SELECT setval(pg_get_serial_sequence('policy_counter', 'id'),"
      " (SELECT COALESCE(MAX(id), 0) + 1 FROM policy_counter), false);")
print("COMMIT;")
EOPY
}
# unhex: hex digits on stdin to bytes on stdout.
unhex() {
	$PY -c 'import binascii, sys; sys.stdout.buffer.write(binascii.unhexlify(sys.stdin.read().strip()))'
}
# sqlite_reports/pg_reports WHERE: the reports of a database, every column
# that must not depend on the engine, one line each, in one order.
REPORT_COLS="day, report_domain, tlsrpt_record, report_id, policies,
    successful_sessions, failed_sessions, merged_details, state, json"
sqlite_reports() {
	sql "SELECT $REPORT_COLS, hex(gzip) FROM report WHERE $1 ORDER BY day, report_domain, tlsrpt_record"
}
pg_reports() {
	pg "SELECT $REPORT_COLS, upper(encode(gzip, 'hex')) FROM report WHERE $1 ORDER BY day, report_domain, tlsrpt_record"
}
RANDOM_DAYS="day IN ('2026-03-10', '2026-03-11')"

DB=$T/tlsrpt.db
cat >"$T/agg.conf" <<EOC
database = $DB
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
# the test days lie in March 2026; keep them
retention_days = 3650
EOC
sed "s|^database = .*|database = $URI|" "$T/agg.conf" >"$T/pg.conf"
agg_sqlite() { "$BIN/tlsrpt-aggregate" -c "$T/agg.conf" "$@"; }
agg_pg() { "$BIN/tlsrpt-aggregate" -c "$T/pg.conf" "$@"; }

# --- the datagrams of aggregator.sh, through two collectors: SQLite, PostgreSQL -
# Both run under libfaketime from 2026-03-14 23:59:52 on; the last
# datagrams leave more than 8 s after the later one started: past
# midnight for both.
collector() {
	SOCK=$1
	DB=$2
	LD_PRELOAD=$FT FAKETIME="@2026-03-14 23:59:52" FAKETIME_DONT_FAKE_MONOTONIC=1 \
	    TZ=UTC ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" start_collector
}
collector "$T/sqlite.sock" "$T/tlsrpt.db"
SQLITE_COLLECTOR=$COLLECTOR_PID
collector "$T/pg.sock" "$URI"
PG_COLLECTOR=$COLLECTOR_PID
DB=$T/tlsrpt.db
# send [-r N] FILE...: to both collectors.
send() {
	repeat=1
	if [ "$1" = -r ]; then
		repeat=$2
		shift 2
	fi
	for s in "$T/sqlite.sock" "$T/pg.sock"; do
		"$TOOLS/dgram-send" -r "$repeat" "$s" "$@" || fail "dgram-send $*"
	done
}
for f in "$FIXTURES_DIR"/*.json; do
	send "$f"
done
send -r 3 "$FIXTURES_DIR/tlsa-success.json" "$A/nopolicy.json" "$A/multimx-ok.json"
send -r 2 "$FIXTURES_DIR/tlsa-invalid-downgrade.json" "$A/multimx-fail1.json"
send "$A/multimx-fail2.json" "$A/boundary.json" "$A/unknown-codes.json"
sleep 9
send "$A/boundary.json" "$A/boundary.json"
for p in "$SQLITE_COLLECTOR" "$PG_COLLECTOR"; do
	kill -TERM "$p"
	wait "$p" || fail "collector $p exited with $?"
done
LOGFILE=""
expect_eq "counters on both sides of midnight" "2026-03-14|2026-03-15" \
    "$(sql "SELECT group_concat(day, '|') FROM (SELECT DISTINCT day FROM policy_counter ORDER BY day)")"
expect_eq "schema created in tlsrptd_outbound" 3 \
    "$(pg "SELECT version FROM tlsrptd_schema WHERE name = 'outbound'")"
POLICY_ROWS="SELECT day, report_domain, tlsrpt_record, policy_type, policy_domain,
    policy_strings, mx_hosts, successful_sessions, failed_sessions FROM policy_counter
    ORDER BY day, report_domain, tlsrpt_record, policy_type, policy_domain,
    policy_strings, mx_hosts"
FAILURE_ROWS="SELECT p.day, p.report_domain, p.tlsrpt_record, p.policy_type,
    p.policy_domain, p.policy_strings, p.mx_hosts, f.result_code, f.sending_mta_ip,
    f.receiving_mx_hostname, f.receiving_mx_helo, f.receiving_ip,
    f.additional_information, f.failure_reason_code, f.sessions
    FROM failure_counter f JOIN policy_counter p ON p.id = f.policy_id
    ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14"
sql "$POLICY_ROWS" >"$T/policy.sqlite"
pg "$POLICY_ROWS" >"$T/policy.pg"
sql "$FAILURE_ROWS" >"$T/failure.sqlite"
pg "$FAILURE_ROWS" >"$T/failure.pg"
[ -s "$T/failure.pg" ] || fail "no failure counters in PostgreSQL"
cmp -s "$T/policy.sqlite" "$T/policy.pg" && cmp -s "$T/failure.sqlite" "$T/failure.pg" ||
	fail "the collectors wrote different counters: $(diff "$T/policy.sqlite" "$T/policy.pg" | head -5; diff "$T/failure.sqlite" "$T/failure.pg" | head -5)"
ok "the collector wrote the same counters to PostgreSQL as to SQLite"
COUNTS="SELECT (SELECT COUNT(*) FROM policy_counter) || '|' || (SELECT COUNT(*) FROM failure_counter) || '|' || (SELECT SUM(sessions) FROM failure_counter)"

# --- golden reports via --print, and the same bytes as SQLite ---------------
for case in example.net:2026-03-14:tlsa example.com:2026-03-14:mixed-ipv6 \
    dom00000.example:2026-03-14:sts nopolicy.example:2026-03-14:no-policy-found \
    multimx.example:2026-03-14:multi-mx boundary.example:2026-03-14:boundary-day1 \
    boundary.example:2026-03-15:boundary-day2 future.example:2026-03-14:unknown-codes; do
	domain=${case%%:*}
	rest=${case#*:}
	day=${rest%%:*}
	name=${rest#*:}
	agg_pg --print "$domain" --day "$day" >"$T/$name.pg.json" 2>"$T/print.err" ||
		fail "--print $domain $day on PostgreSQL: $(cat "$T/print.err")"
	agg_sqlite --print "$domain" --day "$day" >"$T/$name.sqlite.json" 2>"$T/print.err" ||
		fail "--print $domain $day on SQLite: $(cat "$T/print.err")"
	cmp -s "$T/$name.pg.json" "$GOLD/$name.json" ||
		fail "golden $name differs on PostgreSQL: $(diff "$GOLD/$name.json" "$T/$name.pg.json" | head -20)"
	cmp -s "$T/$name.pg.json" "$T/$name.sqlite.json" || fail "$name: PostgreSQL and SQLite differ"
	ok "golden report $name ($domain, $day) on PostgreSQL, same bytes as SQLite"
done
if agg_pg --print no-such.example --day 2026-03-14 >/dev/null 2>&1; then
	fail "--print for a domain without counters succeeded on PostgreSQL"
fi
ok "--print without counters fails"

# --- stored reports: byte-identical to SQLite's -------------------------------
agg_sqlite 2>"$T/agg-sqlite.log" || fail "aggregate on SQLite: $(cat "$T/agg-sqlite.log")"
agg_pg 2>"$T/agg-pg.log" || fail "aggregate on PostgreSQL: $(cat "$T/agg-pg.log")"
expect_eq "reports stored for both days" "2026-03-14|7
2026-03-15|1" "$(pg "SELECT day, COUNT(*) FROM report GROUP BY day ORDER BY day")"
expect_eq "days marked aggregated" 2 "$(pg "SELECT COUNT(*) FROM aggregated_day")"
expect_eq "same summary lines as SQLite" "$(sed -n 's/.*\(2026-[0-9-]*: .*\)$/\1/p' "$T/agg-sqlite.log")" \
    "$(sed -n 's/.*\(2026-[0-9-]*: .*\)$/\1/p' "$T/agg-pg.log")"
grep -q "1 policies of unknown type skipped, 1 unknown result codes" "$T/agg-pg.log" ||
	fail "unknown type/code not logged: $(cat "$T/agg-pg.log")"
ok "unknown policy type skipped and unknown code mapped, both logged"
sqlite_reports "1 = 1" >"$T/reports.sqlite"
pg_reports "1 = 1" >"$T/reports.pg"
[ -s "$T/reports.pg" ] || fail "no reports read back from PostgreSQL"
cmp -s "$T/reports.sqlite" "$T/reports.pg" ||
	fail "stored reports differ: $(diff "$T/reports.sqlite" "$T/reports.pg" | cut -c1-200 | head -10)"
ok "stored reports (JSON, gzip bytes, counts, ids) identical on both engines"
expect_eq "sessions in = sessions out" \
    "$(pg "SELECT SUM(successful_sessions) || '|' || SUM(failed_sessions) FROM policy_counter WHERE policy_type IN (1,2,9)")" \
    "$(pg "SELECT SUM(successful_sessions) || '|' || SUM(failed_sessions) FROM report")"
pg "SELECT encode(gzip, 'hex') FROM report WHERE report_domain = 'example.net'" | unhex >"$T/example.net.gz"
pg "SELECT json FROM report WHERE report_domain = 'example.net'" >"$T/example.net.json"
expect_eq "bytea read back inflates to the stored JSON" "$(cat "$T/example.net.json")" \
    "$(gunzip -c "$T/example.net.gz")"
expect_eq "stored JSON is the compact form of the golden file" "$(tr -d ' \n' <"$GOLD/tlsa.json")" \
    "$(tr -d ' \n' <"$T/example.net.json")"

# --- idempotence and --force ------------------------------------------------
before=$(pg "SELECT id, report_id, encode(gzip, 'hex'), created_at FROM report ORDER BY id")
sleep 1
agg_pg --day 2026-03-14 2>"$T/agg2.log" || fail "re-run: $(cat "$T/agg2.log")"
agg_pg 2>>"$T/agg2.log" || fail "re-run: $(cat "$T/agg2.log")"
expect_eq "re-running changes nothing" "$before" \
    "$(pg "SELECT id, report_id, encode(gzip, 'hex'), created_at FROM report ORDER BY id")"
grep -q "7 reports (0 new, 0 rebuilt, 7 kept)" "$T/agg2.log" || fail "re-run log: $(cat "$T/agg2.log")"
ok "re-run keeps existing reports"
agg_pg --day 2026-03-14 --force 2>"$T/agg3.log" || fail "--force: $(cat "$T/agg3.log")"
grep -q "0 new, 7 rebuilt" "$T/agg3.log" || fail "--force log: $(cat "$T/agg3.log")"
expect_eq "--force rebuilds pending reports with identical content" \
    "$(echo "$before" | cut -d'|' -f1-3)" "$(pg "SELECT id, report_id, encode(gzip, 'hex') FROM report ORDER BY id")"
pg "UPDATE report SET state = 'delivered' WHERE report_domain = 'example.net'"
pg "UPDATE policy_counter SET successful_sessions = successful_sessions + 100 WHERE report_domain IN ('example.net', 'example.com')"
agg_pg --day 2026-03-14 --force 2>"$T/agg4.log" || fail "--force: $(cat "$T/agg4.log")"
expect_eq "--force leaves a delivered report alone" "$(tr -d ' \n' <"$GOLD/tlsa.json")" \
    "$(pg "SELECT json FROM report WHERE report_domain = 'example.net'" | tr -d ' \n')"
grep -q "already handed to the sender" "$T/agg4.log" || fail "no log for the delivered report"
ok "--force refusal for a delivered report logged"
expect_eq "--force picks up late counters of a pending report" \
    "$(pg "SELECT SUM(successful_sessions) FROM policy_counter WHERE day = '2026-03-14' AND report_domain = 'example.com'")" \
    "$(pg "SELECT successful_sessions FROM report WHERE report_domain = 'example.com'")"
if agg_pg --day 2099-01-01 2>"$T/agg5.log"; then
	fail "aggregating an unfinished day succeeded"
fi
grep -q "not finished" "$T/agg5.log" || fail "unfinished day message"
ok "unfinished day refused"

# --- random and size-capped counters; two aggregators at once ---------------
DB=$T/random.db
sed "s|^database = .*|database = $DB|" "$T/agg.conf" >"$T/random.conf"
"$BIN/tlsrpt-aggregate" -c "$T/random.conf" --day 2026-03-01 2>/dev/null || fail "create db"
$PY - "$DB" <<'EOPY' || fail "random counters"
import json, random, sqlite3, sys
random.seed(8460)
db = sqlite3.connect(sys.argv[1])
for d in range(300):
    dom = "r%03d.example" % d
    for rec in range(random.choice([1, 1, 1, 2])):
        for p in range(random.randint(1, 4)):
            typ = random.choice([1, 2, 9])
            ok, bad = random.randint(0, 10**6), random.randint(0, 5000)
            db.execute("INSERT INTO policy_counter (day, report_domain, tlsrpt_record,"
                " policy_type, policy_domain, policy_strings, mx_hosts,"
                " successful_sessions, failed_sessions) VALUES (?,?,?,?,?,?,?,?,?)",
                ("2026-03-10", dom, "v=TLSRPTv1; rua=mailto:r@%s; x=%d" % (dom, rec), typ,
                 "mx%d.%s" % (p, dom), json.dumps(["s %d" % p]), "[]", ok, bad))
            pid = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            for f in range(random.randint(0, 6)):
                db.execute("INSERT INTO failure_counter VALUES (?,?,?,?,?,?,?,?,?)",
                    (pid, random.choice([201, 202, 203, 204, 205, 301, 302, 303, 304, 305, 306, 999]),
                     "192.0.2.%d" % f, "mx.%s" % dom, "", "198.51.100.%d" % f, "", "", random.randint(1, 10**5)))
db.execute("INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type,"
    " policy_domain, policy_strings, mx_hosts, successful_sessions, failed_sessions)"
    " VALUES ('2026-03-11', 'big.example', '', 2, 'big.example', '[]', '[]', 5, 20000)")
pid = db.execute("SELECT last_insert_rowid()").fetchone()[0]
for i in range(5000):
    db.execute("INSERT INTO failure_counter VALUES (?,?,?,?,?,?,?,?,?)",
        (pid, 202 if i % 2 else 204, "192.0.2.1", "mx%d.big.example" % i, "helo %d" % i,
         "198.51.100.%d" % (i % 250), "", "reason %d" % i, 1 + (i % 7)))
db.commit()
EOPY
"$BIN/tlsrpt-aggregate" -c "$T/random.conf" -o report_max_bytes=20000 2>"$T/rand-sqlite.log" ||
	fail "aggregate random counters on SQLite: $(cat "$T/rand-sqlite.log")"
N=$(sql "SELECT COUNT(*) FROM report WHERE $RANDOM_DAYS")
[ "$N" -gt 300 ] || fail "only $N random reports on SQLite"
pg_load "$DB" policy_counter failure_counter
expect_eq "random counters copied" "$(sql "$COUNTS")" \
    "$(pg "SELECT (SELECT COUNT(*) FROM policy_counter WHERE $RANDOM_DAYS) || '|' || (SELECT COUNT(*) FROM failure_counter f JOIN policy_counter p ON p.id = f.policy_id WHERE p.$RANDOM_DAYS) || '|' || (SELECT SUM(sessions) FROM failure_counter f JOIN policy_counter p ON p.id = f.policy_id WHERE p.$RANDOM_DAYS)")"
# Both find the same two days pending at the same moment; each day is built
# by one of them, the other leaves it (the day lock).
agg_pg -o report_max_bytes=20000 2>"$T/race1.log" &
R1=$!
agg_pg -o report_max_bytes=20000 2>"$T/race2.log" &
R2=$!
PIDS="$PIDS $R1 $R2"
s1=0
s2=0
wait "$R1" || s1=$?
wait "$R2" || s2=$?
[ "$s1|$s2" = "0|0" ] || fail "two aggregators at once: exit $s1 and $s2:
$(cat "$T/race1.log" "$T/race2.log")"
ok "two aggregators at once both succeed"
expect_eq "two aggregators at once: every report once" "$N|$N" \
    "$(pg "SELECT COUNT(*) || '|' || COUNT(DISTINCT report_id) FROM report WHERE $RANDOM_DAYS")"
new=$(cat "$T/race1.log" "$T/race2.log" | sed -n 's/.* reports (\([0-9]*\) new, .*/\1/p' | awk '{s += $1} END {print s}')
expect_eq "the two runs together inserted each report once" "$N" "$new"
# A run that lists the pending days after the other finished one skips it.
for day in 2026-03-10 2026-03-11; do
	grep -q "$day: [0-9]* reports (" "$T/race1.log" "$T/race2.log" || fail "$day built by neither run"
done
ok "both days built"
# A run that starts after the other one finished every day has nothing to do.
if grep -v -e ": 2026-03-1[01]: [0-9]* reports (" -e "merged [0-9]* rare failure-details" \
    -e "no finished day waiting" -e ": 2026-03-1[01]: another tlsrpt-aggregate is building this day; left to it" \
    "$T/race1.log" "$T/race2.log"; then
	fail "unexpected messages from the two runs"
fi
ok "no messages beyond the usual ones"
sqlite_reports "$RANDOM_DAYS" >"$T/random.sqlite"
pg_reports "$RANDOM_DAYS" >"$T/random.pg"
cmp -s "$T/random.sqlite" "$T/random.pg" ||
	fail "random reports differ: $(diff "$T/random.sqlite" "$T/random.pg" | cut -c1-200 | head -6)"
ok "$N random and capped reports identical on both engines"
grep -q "merged .* rare failure-details rows" "$T/race1.log" "$T/race2.log" || fail "merge not logged"
expect_eq "capped report stays under report_max_bytes" t \
    "$(pg "SELECT length(json) <= 20000 AND merged_details > 0 FROM report WHERE report_domain = 'big.example'")"

# --- retention ---------------------------------------------------------------
old=$(date -u -d '400 days ago' +%F)
pg "INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts, successful_sessions) VALUES ('$old', 'old.example', '', 9, 'old.example', '[]', '[]', 1)"
pg "INSERT INTO collector_stat VALUES ('$old', 'received', 1)"
agg_pg -o retention_days=300 2>"$T/ret.log" || fail "retention run: $(cat "$T/ret.log")"
expect_eq "counters older than retention_days deleted" "0|0" \
    "$(pg "SELECT (SELECT COUNT(*) FROM policy_counter WHERE day = '$old') || '|' || (SELECT COUNT(*) FROM collector_stat WHERE day = '$old')")"
expect_eq "recent days kept" "$N" "$(pg "SELECT COUNT(*) FROM report WHERE $RANDOM_DAYS")"
expect_eq "its report and day deleted too" "0|0" \
    "$(pg "SELECT (SELECT COUNT(*) FROM report WHERE day = '$old') || '|' || (SELECT COUNT(*) FROM aggregated_day WHERE day = '$old')")"
grep -q "retention: deleted [0-9]* rows older than" "$T/ret.log" || fail "retention not logged: $(cat "$T/ret.log")"
ok "retention logged"

# --- an error inside the transaction: nothing of the day is stored ------------
for d in a b c; do
	pg "INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts, successful_sessions) VALUES ('2026-03-12', '$d.example', '', 2, '$d.example', '[]', '[]', 1)"
done
pg "CREATE FUNCTION refuse_b() RETURNS trigger LANGUAGE plpgsql AS
    \$\$ BEGIN IF NEW.report_domain = 'b.example' THEN RAISE EXCEPTION 'no report for b.example'; END IF; RETURN NEW; END \$\$"
pg "CREATE TRIGGER refuse_b BEFORE INSERT ON report FOR EACH ROW EXECUTE FUNCTION refuse_b()"
status=0
agg_pg --day 2026-03-12 2>"$T/err.log" || status=$?
expect_eq "a failed insert fails the run" 1 "$status"
grep -q "2026-03-12 b.example: store report: no report for b.example" "$T/err.log" ||
	fail "error not reported: $(cat "$T/err.log")"
grep -q "2026-03-12: not built; nothing of it stored" "$T/err.log" || fail "rollback not reported: $(cat "$T/err.log")"
expect_eq "the day rolled back whole" "0|0" \
    "$(pg "SELECT (SELECT COUNT(*) FROM report WHERE day = '2026-03-12') || '|' || (SELECT COUNT(*) FROM aggregated_day WHERE day = '2026-03-12')")"
pg "DROP TRIGGER refuse_b ON report"
agg_pg --day 2026-03-12 2>"$T/err.log" || fail "after the trigger is gone: $(cat "$T/err.log")"
expect_eq "built once the error is gone" 3 "$(pg "SELECT COUNT(*) FROM report WHERE day = '2026-03-12'")"

# --- a day another run is building is left to it -----------------------------
pg "INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts, successful_sessions) VALUES ('2026-03-09', 'locked.example', '', 2, 'locked.example', '[]', '[]', 1)"
KEY=$(advisory_key "aggregate 2026-03-09")
pg "SELECT pg_advisory_lock(8460, $KEY); SELECT pg_sleep(3)" >/dev/null &
LOCKER=$!
PIDS="$PIDS $LOCKER"
i=0
until [ "$(pg "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 8460 AND objid = $KEY AND granted")" = 1 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the test's session never took the day lock"
	sleep 0.05
done
agg_pg --day 2026-03-09 2>"$T/lock.log" || fail "run beside a day lock: $(cat "$T/lock.log")"
grep -q "2026-03-09: another tlsrpt-aggregate is building this day; left to it" "$T/lock.log" ||
	fail "no message for the locked day: $(cat "$T/lock.log")"
expect_eq "a day locked by another run is left alone" "0|0" \
    "$(pg "SELECT (SELECT COUNT(*) FROM report WHERE day = '2026-03-09') || '|' || (SELECT COUNT(*) FROM aggregated_day WHERE day = '2026-03-09')")"
wait "$LOCKER"
agg_pg --day 2026-03-09 2>"$T/lock.log" || fail "run after the lock: $(cat "$T/lock.log")"
expect_eq "built by the next run once the lock is gone" 1 "$(pg "SELECT COUNT(*) FROM report WHERE day = '2026-03-09'")"

# --- sender: the setup of sender.sh, outbox in PostgreSQL ----------------------
pg "CREATE DATABASE send" || fail "create database send"
PGURI=${URI%/*}/send
sh tests/tools/mkcerts.sh "$T/pki" || fail "mkcerts"
P=$T/pki
start_sink https "$PY" tests/tools/https-sink.py --dir "$T/https" --cert "$P/server.pem" --key "$P/server.key"
H=$SINK_PORT
start_sink smtp "$PY" tests/tools/smtp-sink.py --maildir "$T/mail" --tls-cert "$P/server.pem" \
    --tls-key "$P/server.key" --require-starttls
S=$SINK_PORT
cat >"$T/dns.conf" <<EOD
local=/example/
txt-record=_smtp._tls.b.example,"v=TLSRPTv1; rua=https://127.0.0.1:$H/created?d=b,https://127.0.0.1:$H/bad?d=b"
txt-record=_smtp._tls.f.example,"v=TLSRPTv1; rua=mailto:one@f.example"
txt-record=_smtp._tls.f.example,"v=TLSRPTv1; rua=mailto:two@f.example"
txt-record=_smtp._tls.g.example,"v=TLSRPTv1; rua=http://127.0.0.1:$H/ok"
EOD
start_dns "$T/dns.conf"
cat >"$T/send.conf" <<EOC
database = $PGURI
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
retention_days = 3650
dns_server = 127.0.0.1:$DNS_PORT
https_ca_file = $P/ca.pem
smtp_relay = smtp://127.0.0.1:$S/reporter.example
smtp_require_tls = yes
smtp_ca_file = $P/ca.pem
send_spread_s = 0
send_timeout_s = 5
send_retry_base_s = 600
EOC
agg() { "$BIN/tlsrpt-aggregate" -c "$T/send.conf" "$@"; }
snd() { "$BIN/tlsrpt-send" -c "$T/send.conf" "$@"; }
# add_counter DAY DOMAIN RECORD: one sts policy with 5 successes, 1 failure.
add_counter() {
	pg "WITH p AS (INSERT INTO policy_counter (day, report_domain, tlsrpt_record,
	    policy_type, policy_domain, policy_strings, mx_hosts, successful_sessions,
	    failed_sessions) VALUES ('$1', '$2', '$3', 2, '$2', '[\"version: STSv1\",\"mode: testing\"]',
	    '[]', 5, 1) RETURNING id)
	    INSERT INTO failure_counter SELECT id, 204, '192.0.2.1', 'mx.$2', '',
	    '198.51.100.1', '', 'certificate has expired', 1 FROM p"
}
state() { pg "SELECT state FROM report WHERE report_domain = '$1'"; }
dstate() { pg "SELECT state || '|' || attempts || '|' || last_error FROM delivery WHERE uri LIKE '%$1%'"; }
# Advisory locks of tlsrpt-send sessions (lib/db db_try_lock).
send_locks() { pg "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 8460 AND objsubid = 2"; }

agg --print nobody.example --day 2026-03-01 >/dev/null 2>&1
D1=2026-03-14
add_counter $D1 a.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/ok?d=a,mailto:tlsrpt@a.example"
for d in b c d e f g; do
	add_counter $D1 $d.example ""
done
pg "UPDATE policy_counter SET tlsrpt_record = 'v=TLSRPTv1; rua=https://127.0.0.1:$H/error?d=c' WHERE report_domain = 'c.example'"
pg "UPDATE policy_counter SET tlsrpt_record = 'v=TLSRPTv1; rua=https://127.0.0.1:$H/redirect?d=d' WHERE report_domain = 'd.example'"
agg --day $D1 2>"$T/agg.log" || fail "aggregate: $(cat "$T/agg.log")"
expect_eq "seven reports to send" 7 "$(pg "SELECT COUNT(*) FROM report WHERE state = 'pending'")"

snd --dry-run >"$T/dry.out" 2>"$T/dry.err" || fail "dry run: $(cat "$T/dry.err")"
grep -q "a.example $D1: would send to https://127.0.0.1:$H/ok?d=a" "$T/dry.out" || fail "dry run output: $(cat "$T/dry.out")"
expect_eq "dry run writes nothing" "0|7" "$(pg "SELECT (SELECT COUNT(*) FROM delivery) || '|' || (SELECT COUNT(*) FROM report WHERE state = 'pending')")"
expect_eq "dry run sends nothing" 0 "$(count "$T/https" .meta.json)"

LOGFILE=$T/send1.log
snd 2>"$LOGFILE" || fail "send run failed"
expect_eq "a: report delivered" delivered "$(state a.example)"
expect_eq "a: https delivery" "delivered|1|" "$(dstate 'ok?d=a')"
expect_eq "a: mail delivery" "delivered|1|" "$(dstate 'mailto:tlsrpt@a.example')"
f=$(grep -l '"/ok?d=a"' "$T"/https/*.meta.json)
pg "SELECT encode(gzip, 'hex') FROM report WHERE report_domain = 'a.example'" | unhex >"$T/a.gz"
cmp -s "$T/a.gz" "${f%.meta.json}.body" || fail "a: POSTed body differs from the stored gzip"
ok "a: POST body is exactly the gzip stored in PostgreSQL"
env=$(grep -l 'tlsrpt@a.example' "$T"/mail/*.envelope.json)
expect_eq "a: mail went through STARTTLS" true "$(jget "$env" tls)"
$PY - "${env%.envelope.json}.eml" "$T/a.gz" <<'EOPY' || fail "a: mail attachment"
import email, email.policy, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.compat32)
att = [p for p in msg.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
assert len(att) == 1 and att[0].get_payload(decode=True) == open(sys.argv[2], "rb").read()
EOPY
ok "a: mail attachment is the stored gzip"
expect_eq "b: DNS record, one destination accepts" delivered "$(state b.example)"
expect_eq "b: 201 counts as delivered" "delivered|1|" "$(dstate 'created?d=b')"
expect_eq "b: 400 is a failure to retry" "pending|1|HTTP 400" "$(dstate 'bad?d=b')"
next=$(pg "SELECT next_attempt_at - CAST(extract(epoch FROM now()) AS bigint) FROM delivery WHERE uri LIKE '%bad?d=b%'")
if [ "$next" -lt 500 ] || [ "$next" -gt 700 ]; then
	fail "b: first retry in $next s, expected about 600"
fi
ok "b: first retry about send_retry_base_s later ($next s)"
expect_eq "c: 500 retried later" "pending|1|HTTP 500" "$(dstate 'error?d=c')"
expect_eq "c: report still pending" pending "$(state c.example)"
expect_eq "d: redirect not followed" t "$(pg "SELECT last_error LIKE 'HTTP 302 redirect to https://127.0.0.1:$H/ok, not followed' FROM delivery WHERE uri LIKE '%redirect?d=d%'")"
expect_eq "e: no record" "no-destination|no TXT record at _smtp._tls.e.example" \
    "$(pg "SELECT state || '|' || plan_error FROM report WHERE report_domain = 'e.example'")"
expect_eq "f: two records" "no-destination|_smtp._tls.f.example: 2 TLSRPT records" \
    "$(pg "SELECT state || '|' || plan_error FROM report WHERE report_domain = 'f.example'")"
expect_eq "g: http-only record invalid" t \
    "$(pg "SELECT state = 'no-destination' AND plan_error LIKE 'invalid TLSRPT record%no usable rua%' FROM report WHERE report_domain = 'g.example'")"
expect_eq "the lock went with the session" 0 "$(send_locks)"

before=$(count "$T/https" .meta.json)
snd 2>"$T/send2.log" || fail "second run: $(cat "$T/send2.log")"
expect_eq "second run sends nothing not yet due" "$before" "$(count "$T/https" .meta.json)"
pg "UPDATE delivery SET next_attempt_at = 0 WHERE state = 'pending'"
snd -o send_retry_window_s=60 -o send_retry_base_s=120 2>"$T/send3.log" || fail "third run"
expect_eq "c: given up after the retry window" "failed|2|HTTP 500" "$(dstate 'error?d=c')"
expect_eq "c: report failed when every destination failed" failed "$(state c.example)"
expect_eq "b: delivered report stays delivered" delivered "$(state b.example)"
grep -q "giving up on .* to https://127.0.0.1:$H/error?d=c after 2 attempts: HTTP 500" "$T/send3.log" ||
	fail "give-up not logged: $(cat "$T/send3.log")"
ok "give-up logged"
expect_eq "delivered destinations never sent again" 1 "$(grep -l '"/ok?d=a"' "$T"/https/*.meta.json | wc -l | tr -d ' ')"

# stage DAY DOMAIN RECORD: a new report, aggregated and waiting.
stage() {
	add_counter "$1" "$2" "$3"
	agg --day "$1" 2>>"$T/agg.log" || fail "aggregate $1"
}
# wait_in_flight DOMAIN: until its delivery is in flight and at the server.
wait_in_flight() {
	i=0
	until [ "$(pg "SELECT state FROM delivery WHERE uri LIKE '%d=$1%'")" = in-flight ]; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "$1 never in flight"; sleep 0.05
	done
	until grep -q "\"/slow?delay=3&d=$1\"" "$T"/https/*.meta.json 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "$1 never reached the server"; sleep 0.05
	done
}

# --- kill -9 in the middle of a delivery -----------------------------------------
pg "UPDATE delivery SET next_attempt_at = CAST(extract(epoch FROM now()) AS bigint) + 86400 WHERE state = 'pending'"
stage 2026-03-03 k.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/slow?delay=3&d=k"
stage 2026-03-04 l.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/ok?d=l"
"$BIN/tlsrpt-send" -c "$T/send.conf" -o send_concurrency=1 -o send_timeout_s=30 2>"$T/send5.log" &
SPID=$!
PIDS="$PIDS $SPID"
wait_in_flight k
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
expect_eq "after kill -9: k in flight, l still pending" "in-flight|pending" \
    "$(pg "SELECT (SELECT state FROM delivery WHERE uri LIKE '%d=k%') || '|' || (SELECT state FROM delivery WHERE uri LIKE '%d=l%')")"
# The server ends the dead client's session (and its lock) when it sees
# the connection closed: a restart right after may find it still there.
i=0
until [ "$(send_locks)" = 0 ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the killed sender's lock stays"; sleep 0.05
done
delivered_before=$(pg "SELECT COUNT(*) FROM delivery WHERE state = 'delivered'")
snd -o send_timeout_s=30 2>"$T/send6.log" || fail "run after kill -9: $(cat "$T/send6.log")"
grep -q "1 deliveries were in flight when the last run stopped" "$T/send6.log" || fail "recovery not logged: $(cat "$T/send6.log")"
expect_eq "k and l delivered after the restart" "delivered|delivered" \
    "$(pg "SELECT (SELECT state FROM delivery WHERE uri LIKE '%d=k%') || '|' || (SELECT state FROM delivery WHERE uri LIKE '%d=l%')")"
expect_eq "only the in-flight one was sent twice" "2|1" \
    "$(grep -l '"/slow?delay=3&d=k"' "$T"/https/*.meta.json | wc -l | tr -d ' ')|$(grep -l '"/ok?d=l"' "$T"/https/*.meta.json | wc -l | tr -d ' ')"
expect_eq "nothing delivered before the crash was sent again" "$((delivered_before + 2))" \
    "$(pg "SELECT COUNT(*) FROM delivery WHERE state = 'delivered'")"

# --- two tlsrpt-send at once: the second refuses, touches nothing ------------------
stage 2026-03-05 m.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/slow?delay=3&d=m"
"$BIN/tlsrpt-send" -c "$T/send.conf" -o send_timeout_s=30 2>"$T/send7.log" &
SPID=$!
PIDS="$PIDS $SPID"
wait_in_flight m
expect_eq "the running sender holds the lock" 1 "$(send_locks)"
status=0
snd 2>"$T/send8.log" || status=$?
expect_eq "a second tlsrpt-send exits 1" 1 "$status"
grep -q "another tlsrpt-send is working on postgresql://tlsrptd@127.0.0.1:[0-9]*/send; not starting" "$T/send8.log" ||
	fail "second sender's message: $(cat "$T/send8.log")"
ok "second sender says why"
# Recovering it would have put it back to pending; on a slow machine the
# first sender may already have finished it (delivered), which is fine.
m_state=$(pg "SELECT state || '|' || attempts FROM delivery WHERE uri LIKE '%d=m%'")
case $m_state in
"in-flight|1" | "delivered|1") ok "the second did not recover the first's in-flight delivery ($m_state)" ;;
*) fail "the second touched the first's in-flight delivery: $m_state" ;;
esac
status=0
wait "$SPID" || status=$?
expect_eq "the first sender finishes" 0 "$status"
expect_eq "m: delivered once" "delivered|1|1" \
    "$(pg "SELECT state || '|' || attempts FROM delivery WHERE uri LIKE '%d=m%'")|$(grep -l '"/slow?delay=3&d=m"' "$T"/https/*.meta.json | wc -l | tr -d ' ')"
snd 2>"$T/send9.log" || fail "a sender after the first ended: $(cat "$T/send9.log")"
ok "the lock is free again once the first sender ended"

# --- -D: a reconnect retakes the lock; losing it to another sender stops ------------
lock_holder() {
	pg "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 8460 AND objsubid = 2 AND granted"
}
# wait_holder NOT_PID: until a session other than NOT_PID holds the lock.
wait_holder() {
	i=0
	while holder=$(lock_holder); [ -z "$holder" ] || [ "$holder" = "$1" ]; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "no new lock holder"; sleep 0.05
	done
}
"$BIN/tlsrpt-send" -c "$T/send.conf" -D -o send_interval_s=1 2>"$T/send10.log" &
SPID=$!
PIDS="$PIDS $SPID"
wait_holder none
first=$holder
pg "SELECT pg_terminate_backend($first)" >/dev/null
wait_holder "$first"
kill -0 "$SPID" 2>/dev/null || fail "-D sender stopped after its session was ended: $(cat "$T/send10.log")"
ok "-D sender reconnected and took the lock again"
# Another session takes the lock while the sender (stopped meanwhile) has
# lost its connection.
KEY=$(advisory_key tlsrpt-send)
kill -STOP "$SPID"
second=$holder
pg "SELECT pg_terminate_backend($second)" >/dev/null
pg "SELECT pg_advisory_lock(8460, $KEY); SELECT pg_sleep(2)" >/dev/null &
LOCKER=$!
PIDS="$PIDS $LOCKER"
wait_holder "$second"
kill -CONT "$SPID"
status=0
wait "$SPID" || status=$?
expect_eq "-D sender exits 1 when another session has the lock" 1 "$status"
grep -q "another tlsrpt-send is working on postgresql://tlsrptd@127.0.0.1:[0-9]*/send; stopping" "$T/send10.log" ||
	fail "stop message: $(cat "$T/send10.log")"
ok "-D sender says why it stops"
wait "$LOCKER"
echo "pg-outbound: $TESTS_RUN checks passed in $(($(date +%s) - started)) s"
