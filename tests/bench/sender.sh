#!/bin/sh
# Sender benchmark (make bench): 10,000 reports, each with one https rua
# on the local HTTPS sink (tests/tools/https-sink.py, throwaway CA), are
# delivered by one tlsrpt-send run. Prints the figures; the target is
# <= 30 s on 2 cores. The sink is a Python process: its CPU is part of
# the figure.
set -eu
: "${BIN:?BIN must name the directory of the built programs}"
REPORTS=${BENCH_REPORTS:-10000}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-bench.XXXXXX")
SINK=
trap '[ -n "$SINK" ] && kill "$SINK" 2>/dev/null; rm -rf "$T"' EXIT INT TERM
sh tests/tools/mkcerts.sh "$T/pki"
$PY tests/tools/https-sink.py --dir "$T/https" --cert "$T/pki/server.pem" \
    --key "$T/pki/server.key" >"$T/sink.out" 2>"$T/sink.err" &
SINK=$!
i=0
until grep -q '^listening' "$T/sink.out"; do
	i=$((i + 1)); [ $i -gt 200 ] && { echo "sink did not start" >&2; exit 1; }
	sleep 0.05
done
PORT=$(sed -n 's/^listening //p' "$T/sink.out")
DB=$T/bench.db
cat >"$T/bench.conf" <<EOC
database = $DB
organization_name = Bench Mail Operator
contact_info = tlsrpt@bench.example
report_submitter = bench.example
retention_days = 3650
https_ca_file = $T/pki/ca.pem
send_spread_s = 0
EOC
export TLSRPTD_CONF=/dev/null
"$BIN/tlsrpt-aggregate" -c "$T/bench.conf" --day 2026-03-01 2>/dev/null
sqlite3 "$DB" "WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < $REPORTS - 1)
INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type, policy_domain,
    policy_strings, mx_hosts, successful_sessions, failed_sessions)
SELECT '2026-03-10', printf('d%05d.example', i),
    printf('v=TLSRPTv1; rua=https://localhost:$PORT/ok?d=%05d', i), 2, printf('d%05d.example', i),
    '[\"version: STSv1\",\"mode: enforce\"]', '[]', 100, 0 FROM d"
"$BIN/tlsrpt-aggregate" -c "$T/bench.conf" --day 2026-03-10 2>/dev/null
echo "sender bench: $REPORTS reports to https://localhost:$PORT (nproc $(nproc))"
start=$(date +%s.%N)
/usr/bin/time -f "  send process: %e s elapsed, %U s user, %S s sys, max RSS %M KiB" \
    "$BIN/tlsrpt-send" -c "$T/bench.conf" 2>"$T/send.err" || { tail "$T/send.err"; exit 1; }
end=$(date +%s.%N)
grep -v "tlsrpt-send:" "$T/send.err" || true
delivered=$(sqlite3 "$DB" "SELECT COUNT(*) FROM delivery WHERE state = 'delivered'")
received=$(find "$T/https" -name '*.meta.json' | wc -l)
echo "  delivered $delivered, the sink saved $received requests"
awk -v s="$start" -v e="$end" -v n="$delivered" -v want="$REPORTS" 'BEGIN { d = e - s;
	printf "  %d reports delivered in %.2f s (%.0f/s; target %d in <= 30 s): %s\n", n, d, n / d,
	    want, (d <= 30 && n == want) ? "PASS" : "MISS" }'
