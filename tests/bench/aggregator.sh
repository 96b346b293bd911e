#!/bin/sh
# Aggregator benchmark (make bench): 10 million sessions over 50,000
# report domains pre-loaded as collector counters (3 policies and 4
# failure rows per domain), then one `tlsrpt-aggregate --day` builds,
# gzips and stores every report. Prints the figures; the target is
# <= 10 s on 2 cores. Not a pass/fail timing test in `make test`.
set -eu
: "${BIN:?BIN must name the directory of the built programs}"
DOMAINS=${BENCH_DOMAINS:-50000}
T=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
DB=$T/bench.db
cat >"$T/bench.conf" <<EOC
database = $DB
organization_name = Bench Mail Operator
contact_info = tlsrpt@bench.example
report_submitter = bench.example
retention_days = 3650
EOC
TLSRPTD_CONF=/dev/null "$BIN/tlsrpt-aggregate" -c "$T/bench.conf" --day 2026-03-01 2>/dev/null
sqlite3 "$DB" <<EOF_SQL
BEGIN;
WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < $DOMAINS - 1)
INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type,
    policy_domain, policy_strings, mx_hosts, successful_sessions, failed_sessions)
SELECT '2026-03-10', printf('d%05d.example', i),
    printf('v=TLSRPTv1; rua=mailto:tlsrpt@d%05d.example', i), t.ty,
    CASE t.ty WHEN 1 THEN printf('mx1.d%05d.example', i) ELSE printf('d%05d.example', i) END,
    CASE t.ty
    WHEN 2 THEN printf('["version: STSv1","mode: enforce","mx: mx1.d%05d.example","mx: mx2.d%05d.example","max_age: 604800"]', i, i)
    WHEN 1 THEN '["3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"]'
    ELSE '[]' END,
    CASE t.ty WHEN 2 THEN printf('["mx1.d%05d.example","mx2.d%05d.example"]', i, i) ELSE '[]' END,
    60, 7
FROM d, (SELECT 1 AS ty UNION ALL SELECT 2 UNION ALL SELECT 9) t;
INSERT INTO failure_counter SELECT id, 204, '192.0.2.10', 'mx1.' || report_domain,
    'mx1.' || report_domain, '203.0.113.1', '', 'certificate has expired', 4
    FROM policy_counter WHERE policy_type <> 9;
INSERT INTO failure_counter SELECT id, 201, '2001:db8::25', 'mx2.' || report_domain, '',
    '2001:db8:1::10', 'STARTTLS not offered', '', 3
    FROM policy_counter WHERE policy_type <> 9;
COMMIT;
EOF_SQL
rows=$(sqlite3 "$DB" "SELECT COUNT(*) || ' policy rows, ' || SUM(successful_sessions + failed_sessions) || ' sessions' FROM policy_counter")
frows=$(sqlite3 "$DB" "SELECT COUNT(*) FROM failure_counter")
echo "aggregator bench: $DOMAINS report domains, $rows, $frows failure rows (nproc $(nproc))"
start=$(date +%s.%N)
/usr/bin/time -f "%e s elapsed, %U s user, %S s sys, max RSS %M KiB" \
    "$BIN/tlsrpt-aggregate" -c "$T/bench.conf" --day 2026-03-10 2>"$T/time.out" || {
	cat "$T/time.out"; exit 1; }
end=$(date +%s.%N)
grep -v "tlsrpt-aggregate:" "$T/time.out" | sed 's/^/  /'
stored=$(sqlite3 "$DB" "SELECT COUNT(*) || ' reports, ' || SUM(successful_sessions + failed_sessions) || ' sessions, ' || SUM(length(json)) || ' JSON bytes, ' || SUM(length(gzip)) || ' gzip bytes' FROM report")
echo "  stored: $stored"
awk -v s="$start" -v e="$end" 'BEGIN { d = e - s;
	printf "  reports built and stored in %.2f s (target <= 10 s): %s\n", d, d <= 10 ? "PASS" : "MISS" }'
