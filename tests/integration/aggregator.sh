#!/bin/sh
# Integration test of tlsrpt-aggregate. Counters come from the real
# collector running under libfaketime on 2026-03-14 (and across its
# midnight); reports are compared with golden files in tests/data/golden,
# validated against schema/tlsrpt-report.schema.json with python3-jsonschema,
# checked for idempotence, --force, gzip bytes, caps, retention and
# counts in = counts out over random counters.
# UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

PY=/usr/bin/python3
SCHEMA=schema/tlsrpt-report.schema.json
A=tests/data/aggregate
GOLD=tests/data/golden
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -f "$FT" ] || fail "libfaketime missing (make deps installs faketime)"

CONF=$T/agg.conf
DB=$T/tlsrpt.db
cat >"$CONF" <<EOC
database = $DB
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
# the test days lie in March 2026; keep them
retention_days = 3650
EOC
agg() {
	"$BIN/tlsrpt-aggregate" -c "$CONF" "$@"
}
send() {
	"$TOOLS/dgram-send" "$SOCK" "$@" || fail "dgram-send $*"
}

# --- counters for 2026-03-14 and a little of 2026-03-15 ------------------
LD_PRELOAD=$FT FAKETIME="@2026-03-14 23:59:52" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    TZ=UTC ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" start_collector
for f in "$FIXTURES_DIR"/*.json; do
	send "$f"
done
"$TOOLS/dgram-send" -r 3 "$SOCK" "$FIXTURES_DIR/tlsa-success.json" "$A/nopolicy.json" \
    "$A/multimx-ok.json" || fail send
"$TOOLS/dgram-send" -r 2 "$SOCK" "$FIXTURES_DIR/tlsa-invalid-downgrade.json" \
    "$A/multimx-fail1.json" || fail send
send "$A/multimx-fail2.json" "$A/boundary.json" "$A/unknown-codes.json"
sleep 9
send "$A/boundary.json" "$A/boundary.json"
stop_collector
expect_eq "counters on both sides of midnight" "2026-03-14|2026-03-15" \
    "$(sql "SELECT group_concat(day, '|') FROM (SELECT DISTINCT day FROM policy_counter ORDER BY day)")"

# --- golden reports via --print -------------------------------------------
for case in example.net:2026-03-14:tlsa example.com:2026-03-14:mixed-ipv6 \
    dom00000.example:2026-03-14:sts nopolicy.example:2026-03-14:no-policy-found \
    multimx.example:2026-03-14:multi-mx boundary.example:2026-03-14:boundary-day1 \
    boundary.example:2026-03-15:boundary-day2 future.example:2026-03-14:unknown-codes; do
	domain=${case%%:*}
	rest=${case#*:}
	day=${rest%%:*}
	name=${rest#*:}
	agg --print "$domain" --day "$day" >"$T/$name.json" 2>"$T/print.err" ||
		fail "--print $domain $day: $(cat "$T/print.err")"
	if [ -n "${UPDATE_GOLDEN:-}" ]; then
		cp "$T/$name.json" "$GOLD/$name.json"
	fi
	cmp -s "$T/$name.json" "$GOLD/$name.json" ||
		fail "golden $name differs: $(diff "$GOLD/$name.json" "$T/$name.json" | head -20)"
	ok "golden report $name ($domain, $day)"
done
$PY tests/tools/validate-report.py "$SCHEMA" "$GOLD"/*.json >"$T/v.out" ||
	fail "golden reports do not validate: $(grep invalid "$T/v.out")"
ok "every golden report validates against the schema"
if agg --print no-such.example --day 2026-03-14 >/dev/null 2>&1; then
	fail "--print for a domain without counters succeeded"
fi
ok "--print without counters fails"

# --- store: one report per (day, domain, record), idempotent -------------
agg 2>"$T/agg.log" || fail "aggregate: $(cat "$T/agg.log")"
expect_eq "reports stored for both days" "2026-03-14|7
2026-03-15|1" "$(sql "SELECT day, COUNT(*) FROM report GROUP BY day ORDER BY day")"
expect_eq "days marked aggregated" 2 "$(sql "SELECT COUNT(*) FROM aggregated_day")"
grep -q "1 policies of unknown type skipped, 1 unknown result codes" "$T/agg.log" ||
	fail "unknown type/code not logged: $(cat "$T/agg.log")"
ok "unknown policy type skipped and unknown code mapped, both logged"
expect_eq "state pending for the sender" "pending" "$(sql "SELECT DISTINCT state FROM report")"
expect_eq "sessions in = sessions out" \
    "$(sql "SELECT SUM(successful_sessions), SUM(failed_sessions) FROM policy_counter WHERE policy_type IN (1,2,9)")" \
    "$(sql "SELECT SUM(successful_sessions), SUM(failed_sessions) FROM report")"
sql "SELECT writefile('$T/r' || id || '.json.gz', gzip), writefile('$T/r' || id || '.json', json) FROM report" >/dev/null
for gz in "$T"/r*.json.gz; do
	gunzip -c "$gz" | cmp -s - "${gz%.gz}" || fail "gzip column of $gz does not match json"
done
ok "gzip bytes inflate to the exact stored JSON"
$PY tests/tools/validate-report.py "$SCHEMA" "$T"/r*.json >"$T/v.out" ||
	fail "stored reports do not validate: $(grep invalid "$T/v.out")"
ok "every stored report validates against the schema"
expect_eq "stored JSON is the compact form of --print" "$(tr -d ' \n' <"$GOLD/tlsa.json")" \
    "$(sql "SELECT json FROM report WHERE report_domain='example.net'" | tr -d ' \n')"
expect_eq "report-id usable as msg-id and stable" "20260314.example.net.$(sql "SELECT substr(report_id, 22, 12) FROM report WHERE report_domain='example.net'")@reporter.example" \
    "$(sql "SELECT report_id FROM report WHERE report_domain='example.net'")"
before=$(sql "SELECT id, report_id, hex(gzip), created_at FROM report ORDER BY id")
sleep 1
agg --day 2026-03-14 2>"$T/agg2.log" || fail "re-run: $(cat "$T/agg2.log")"
agg 2>>"$T/agg2.log" || fail "re-run: $(cat "$T/agg2.log")"
expect_eq "re-running changes nothing" "$before" "$(sql "SELECT id, report_id, hex(gzip), created_at FROM report ORDER BY id")"
grep -q "7 reports (0 new, 0 rebuilt, 7 kept)" "$T/agg2.log" || fail "re-run log: $(cat "$T/agg2.log")"
ok "re-run keeps existing reports"
agg --day 2026-03-14 --force 2>"$T/agg3.log" || fail "--force: $(cat "$T/agg3.log")"
grep -q "0 new, 7 rebuilt" "$T/agg3.log" || fail "--force log: $(cat "$T/agg3.log")"
expect_eq "--force rebuilds pending reports with identical content" \
    "$(echo "$before" | cut -d'|' -f1-3)" "$(sql "SELECT id, report_id, hex(gzip) FROM report ORDER BY id")"
sql "UPDATE report SET state='delivered' WHERE report_domain='example.net'"
sql "UPDATE policy_counter SET successful_sessions = successful_sessions + 100 WHERE report_domain IN ('example.net', 'example.com')"
agg --day 2026-03-14 --force 2>"$T/agg4.log" || fail "--force: $(cat "$T/agg4.log")"
expect_eq "--force leaves a delivered report alone" "$(tr -d ' \n' <"$GOLD/tlsa.json")" \
    "$(sql "SELECT json FROM report WHERE report_domain='example.net'" | tr -d ' \n')"
grep -q "already handed to the sender" "$T/agg4.log" || fail "no log for the delivered report"
ok "--force refusal for a delivered report logged"
expect_eq "--force picks up late counters of a pending report" \
    "$(sql "SELECT SUM(successful_sessions) FROM policy_counter WHERE day='2026-03-14' AND report_domain='example.com'")" \
    "$(sql "SELECT successful_sessions FROM report WHERE report_domain='example.com'")"
if agg --day 2099-01-01 2>"$T/agg5.log"; then
	fail "aggregating an unfinished day succeeded"
fi
grep -q "not finished" "$T/agg5.log" || fail "unfinished day message"
ok "unfinished day refused"

# --- counts in = counts out over random counters ------------------------
DB=$T/random.db
sed "s|^database = .*|database = $DB|" "$CONF" >"$T/random.conf"
"$BIN/tlsrpt-aggregate" -c "$T/random.conf" --day 2026-03-01 2>/dev/null || fail "create db"
$PY - "$DB" <<'EOPY' || fail "random counters"
import json, random, sqlite3, sys
random.seed(8460)
db = sqlite3.connect(sys.argv[1])
pid = 0
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
db.commit()
EOPY
"$BIN/tlsrpt-aggregate" -c "$T/random.conf" --day 2026-03-10 2>"$T/rand.log" || fail "aggregate: $(cat "$T/rand.log")"
$PY - "$DB" <<'EOPY' || fail "counts in != counts out"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
want = {}
for dom, rec, ok, bad in db.execute("SELECT report_domain, tlsrpt_record, SUM(successful_sessions),"
        " SUM(failed_sessions) FROM policy_counter WHERE day='2026-03-10' GROUP BY 1, 2"):
    want[(dom, rec)] = [ok, bad, 0]
for dom, rec, n in db.execute("SELECT p.report_domain, p.tlsrpt_record, SUM(f.sessions) FROM failure_counter f"
        " JOIN policy_counter p ON p.id = f.policy_id WHERE p.day='2026-03-10' GROUP BY 1, 2"):
    want[(dom, rec)][2] = n
got = {}
for dom, rec, text in db.execute("SELECT report_domain, tlsrpt_record, json FROM report WHERE day='2026-03-10'"):
    r = json.loads(text)
    ok = sum(p["summary"]["total-successful-session-count"] for p in r["policies"])
    bad = sum(p["summary"]["total-failure-session-count"] for p in r["policies"])
    det = sum(f["failed-session-count"] for p in r["policies"] for f in p.get("failure-details", []))
    got[(dom, rec)] = [ok, bad, det]
if want != got:
    diff = [k for k in want if want[k] != got.get(k)]
    print("mismatch for", len(diff), "reports, e.g.", diff[:3], [want[k] for k in diff[:3]], [got.get(k) for k in diff[:3]])
    sys.exit(1)
print(len(got), "reports, counts match")
EOPY
ok "random counters: per-report session and failure-detail sums equal the counters"

# --- size cap: thousands of distinct failure details -------------------
$PY - "$DB" <<'EOPY' || fail "cap counters"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
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
"$BIN/tlsrpt-aggregate" -c "$T/random.conf" -o report_max_bytes=20000 --day 2026-03-11 2>"$T/cap.log" ||
	fail "cap: $(cat "$T/cap.log")"
grep -q "merged .* rare failure-details rows" "$T/cap.log" || fail "merge not logged: $(cat "$T/cap.log")"
ok "merge logged"
expect_eq "capped report stays under report_max_bytes" 1 \
    "$(sql "SELECT length(json) <= 20000 AND merged_details > 0 FROM report WHERE report_domain='big.example'")"
expect_eq "failure-detail counts exact after merging" \
    "$(sql "SELECT SUM(sessions) FROM failure_counter f JOIN policy_counter p ON p.id=f.policy_id WHERE p.report_domain='big.example'")" \
    "$(sql "SELECT SUM(value ->> 'failed-session-count') FROM report r, json_each(r.json, '$.policies[0].failure-details') WHERE report_domain='big.example'")"
sql "SELECT writefile('$T/big.json', json) FROM report WHERE report_domain='big.example'" >/dev/null
$PY tests/tools/validate-report.py "$SCHEMA" "$T/big.json" >/dev/null || fail "capped report invalid"
ok "capped report validates"

# --- retention ---------------------------------------------------------
old=$(date -u -d '400 days ago' +%F)
sql "INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts, successful_sessions) VALUES ('$old', 'old.example', '', 9, 'old.example', '[]', '[]', 1)"
sql "INSERT INTO collector_stat VALUES ('$old', 'received', 1)"
"$BIN/tlsrpt-aggregate" -c "$T/random.conf" -o retention_days=300 2>"$T/ret.log" || fail "retention run: $(cat "$T/ret.log")"
expect_eq "counters older than retention_days deleted" "0|0" \
    "$(sql "SELECT (SELECT COUNT(*) FROM policy_counter WHERE day='$old'), (SELECT COUNT(*) FROM collector_stat WHERE day='$old')")"
expect_eq "recent days kept" 1 "$(sql "SELECT COUNT(*) > 0 FROM policy_counter WHERE day='2026-03-10'")" 
grep -q "retention: deleted" "$T/ret.log" || fail "retention not logged"
ok "retention logged"

# --- configuration checks -------------------------------------------------
"$BIN/tlsrpt-aggregate" -c "$CONF" -o contact_info=someone@elsewhere.example --day 2026-03-14 2>"$T/id.err"
expect_eq "contact_info outside report_submitter exits 2" 2 $?
grep -q "not an address at report_submitter" "$T/id.err" || fail "message: $(cat "$T/id.err")"
"$BIN/tlsrpt-aggregate" -o "database=$DB" --day 2026-03-14 2>"$T/id.err"
expect_eq "missing identity exits 2" 2 $?

# --- the schema itself: real reports, and what it must reject ------------
R=tests/data/real-reports
for f in "$R"/*.json "$R"/*.json.gz "$R"/*.eml; do
	case $(basename "$f") in
	stalwart-cryinc-1.json) want=invalid ;;	# contact-info is null
	microsoft-mox-1.eml) want=invalid ;;	# date-range without a time zone
	*) want=valid ;;
	esac
	got=$($PY tests/tools/validate-report.py "$SCHEMA" "$f" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "schema: $f is $got, expected $want"
done
ok "schema accepts the RFC example and valid real reports, rejects the two broken ones"
base='{"organization-name":"o","date-range":{"start-datetime":"2026-03-14T00:00:00Z","end-datetime":"2026-03-15T00:00:00Z"},"contact-info":"a@b.example","report-id":"1","policies":[{"policy":{"policy-type":"sts","policy-domain":"b.example"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}XX}]}'
echo "$base" | sed 's/XX//' >"$T/s-ok.json"
$PY tests/tools/validate-report.py "$SCHEMA" "$T/s-ok.json" >/dev/null || fail "minimal report rejected"
n=0
for mut in 's/"organization-name":"o",//' 's/"contact-info":"a@b.example"/"contact-info":null/' \
    's/"policies":\[/"policies":[{}],"x":[/' 's/"policy-type":"sts"/"policy-type":"STS"/' \
    's/"total-failure-session-count":0/"total-failure-session-count":-1/' \
    's/"total-successful-session-count":1/"total-successful-session-count":1.5/' \
    's/2026-03-14T00:00:00Z/2026-03-14 00:00:00/' 's/,"policy-domain":"b.example"//' \
    's/XX/,"failure-details":[{"result-type":"starttls-not-supported"}]/' \
    's/XX/,"failure-details":[{"result-type":"starttls-not-supported","failed-session-count":1,"sending-mta-ip":"300.1.2.3"}]/' \
    's/XX/,"failure-details":[{"result-type":"starttls-not-supported","failed-session-count":1,"receiving-ip":"mx.example"}]/' \
    's/XX/,"failure-details":[{"result-type":"Bad Type","failed-session-count":1}]/' \
    's/"policy-domain":"b.example"/"policy-domain":"b.example","mx-host":[1]/' \
    's/"policies":\[.*\]}$/"policies":[]}/'; do
	echo "$base" | sed "$mut" | sed 's/XX//' >"$T/s-bad.json"
	if $PY tests/tools/validate-report.py "$SCHEMA" "$T/s-bad.json" >/dev/null; then
		fail "schema accepted a broken report ($mut)"
	fi
	n=$((n + 1))
done
ok "schema rejects $n broken variants"
echo "aggregator: $TESTS_RUN checks passed"
