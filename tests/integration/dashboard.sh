#!/bin/sh
# Integration test of what tlsrpt-ingestd shows: the dashboard pages, the
# JSON API, /metrics, and tlsrptctl. The inbound database is seeded by
# POSTing the real reports of tests/data/real-reports (plus a crafted one
# whose organization name holds quotes, a backslash, markup and an escape
# character) to a real tlsrpt-ingestd on loopback; the outbound database
# is built by tlsrpt-aggregate from counters, with delivery states set by
# sqlite3. The expected figures are computed from the report files by
# tests/tools/dashboard-check.py, not read back from the database.
#  - every API endpoint: exact rows and order, filters, limit and
#    truncated, 400/404 with an error text, 503 without an outbound
#    database, and the outbound side picked up once it exists;
#  - /metrics: the text format checked line by line, exact values;
#  - tlsrptctl: JSON equal to the API, RFC 4180 CSV, aligned tables
#    without control characters, exit codes;
#  - the embedded files are served byte for byte and name no other host;
#  - basic auth on a separate dashboard listener: 401 without or with
#    wrong credentials (logged), 200 with them, no report POSTs there;
#    the ingest listener keeps taking reports; dashboard_enable = no;
#  - every page in headless Chromium: the DOM holds the expected figures
#    and report text stays text; a 1280x900 screenshot over 10 KB.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

RR=tests/data/real-reports
CHK="tests/tools/dashboard-check.py"
IN=$T/inbound.db
DB=$T/tlsrpt.db
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null 2>&1 || fail "chromium is not installed (make deps installs it)"
[ -x "$BIN/tlsrptctl" ] || fail "$BIN/tlsrptctl is not built"
mkdir -p "$T/ctl"

# Loopback only, never through a proxy from the environment.
fetch() {
	curl -sS --noproxy '*' --max-time 20 "$@"
}
# status URL [curl options]: the HTTP status code alone.
status() {
	u=$1
	shift
	fetch -o /dev/null -w '%{http_code}' "$@" "$u"
}
chk() {
	$PY "$CHK" "$@" || fail "dashboard-check.py $1"
}

# start_ingestd [options]: on 127.0.0.1 port 0; sets INGESTD_PID, B (the
# ingest listener's base URL) and, with dashboard_listen, D.
start_ingestd() {
	LOGFILE=$T/ingestd.log
	: >"$LOGFILE"
	"$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$IN" \
	    -o "database=$DB" "$@" >>"$LOGFILE" 2>&1 &
	INGESTD_PID=$!
	PIDS="$PIDS $INGESTD_PID"
	i=0
	while :; do
		port=$(sed -n 's/.*listening on [^ ]* port \([0-9][0-9]*\) .*/\1/p' "$LOGFILE")
		dport=$(sed -n 's/.*dashboard on [^ ]* port \([0-9][0-9]*\) .*/\1/p' "$LOGFILE")
		case " $* " in
		*dashboard_listen=*) [ -n "$port" ] && [ -n "$dport" ] && break ;;
		*) [ -n "$port" ] && break ;;
		esac
		kill -0 "$INGESTD_PID" 2>/dev/null || fail "tlsrpt-ingestd exited at start"
		i=$((i + 1))
		[ $i -gt 400 ] && fail "tlsrpt-ingestd not ready after 20 s"
		sleep 0.05
	done
	B=http://127.0.0.1:$port
	D=http://127.0.0.1:$dport
}
stop_ingestd() {
	kill -TERM "$INGESTD_PID"
	rc=0
	wait "$INGESTD_PID" || rc=$?
	expect_eq "tlsrpt-ingestd stops cleanly" 0 "$rc"
}

# browse PATH NAME: the DOM once the page's script ran, and a screenshot.
chrome() {
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
	    --no-first-run --disable-background-networking --disable-component-update \
	    --disable-sync --no-proxy-server --hide-scrollbars --user-data-dir="$T/chrome" \
	    --virtual-time-budget=5000 "$@" 2>>"$T/chrome.err"
}
browse() {
	chrome --dump-dom "$B$1" >"$T/$2.html" ||
		fail "chromium --dump-dom $1: $(tail -n 3 "$T/chrome.err")"
	chrome --window-size=1280,900 --screenshot="$T/$2.png" "$B$1" >/dev/null ||
		fail "chromium --screenshot $1: $(tail -n 3 "$T/chrome.err")"
	[ -s "$T/$2.png" ] || fail "no screenshot of $1"
}

# --- before there is an outbound database -----------------------------------
start_ingestd
expect_eq "no outbound database: 503" 503 "$(status "$B/api/outbound")"
fetch "$B/api/outbound" >"$T/503.json"
grep -q "No such file or directory" "$T/503.json" || fail "503 without the reason: $(cat "$T/503.json")"
ok "503 says why: $(cat "$T/503.json")"
fetch "$B/metrics" >"$T/metrics0.txt" || fail "metrics without outbound database"
grep -qx 'tlsrpt_database_available{database="outbound"} 0' "$T/metrics0.txt" ||
	fail "outbound database not reported missing in /metrics"
grep -q '^tlsrpt_outbound_' "$T/metrics0.txt" && fail "outbound series without a database"
ok "/metrics says the outbound database is missing and leaves its series out"
browse /outbound outbound-missing
chk dom outbound-missing "$T/outbound-missing.html"

# --- seed the inbound database through the ingest endpoint ------------------
cat >"$T/evil.json" <<'EOF'
{"organization-name": "Evil \"Org\" \\ <b>Inc</b>\u001b[31m, Ltd",
 "date-range": {"start-datetime": "2026-02-01T00:00:00Z", "end-datetime": "2026-02-01T23:59:59Z"},
 "contact-info": "x@evil.example", "report-id": "evil-1",
 "policies": [{"policy": {"policy-type": "sts", "policy-domain": "escape.example",
   "policy-string": ["version: STSv1", "mode: enforce"], "mx-host": ["mx.escape.example"]},
  "summary": {"total-successful-session-count": 7, "total-failure-session-count": 1},
  "failure-details": [{"result-type": "certificate-host-mismatch", "sending-mta-ip": "192.0.2.9",
   "receiving-mx-hostname": "MX.Escape.Example.", "failed-session-count": 1}]}]}
EOF
n=0
for f in "$RR"/*.json "$T/evil.json"; do
	got=$(fetch -H 'Content-Type: application/tlsrpt+json' --data-binary "@$f" "$B/tlsrpt")
	expect_eq "POST $(basename "$f")" stored "$got"
	n=$((n + 1))
done
for f in "$RR"/*.json.gz; do
	got=$(fetch -H 'Content-Type: application/tlsrpt+gzip' --data-binary "@$f" "$B/tlsrpt")
	expect_eq "POST $(basename "$f")" stored "$got"
	n=$((n + 1))
done
expect_eq "a report sent again" duplicate \
    "$(fetch --data-binary "@$RR/rfc8460-example.json" "$B/tlsrpt")"
expect_eq "not JSON: 400" 400 "$(status "$B/tlsrpt" --data-binary '{not json')"
expect_eq "POST to a dashboard URL on the ingest listener: 405" 405 \
    "$(status "$B/api/status" --data-binary "@$RR/rfc8460-example.json")"
$PY "$CHK" expect "$RR"/*.json "$T/evil.json" "$RR"/*.json.gz >"$T/expected.json" ||
	fail "expected figures"
expect_eq "reports in the expectation" "$n" \
    "$($PY -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["reports"]))' "$T/expected.json")"

# --- seed the outbound database: counters, aggregate, delivery states -------
cat >"$T/agg.conf" <<EOC
database = $DB
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
retention_days = 3650
EOC
"$BIN/tlsrpt-aggregate" -c "$T/agg.conf" --day 2026-03-01 2>"$T/agg.log" || fail "create database"
add_counter() {
	sqlite3 "$DB" "INSERT INTO policy_counter (day, report_domain, tlsrpt_record,
	    policy_type, policy_domain, policy_strings, mx_hosts, successful_sessions,
	    failed_sessions) VALUES ('$1', '$2', 'v=TLSRPTv1; rua=mailto:tlsrpt@$2', 2, '$2',
	    '[\"version: STSv1\",\"mode: testing\"]', '[]', $3, $4);
	    INSERT INTO failure_counter VALUES (last_insert_rowid(), 204, '192.0.2.1',
	    'mx.$2', '', '198.51.100.1', '', 'certificate has expired', $4)" || fail "add_counter $2"
}
add_counter 2026-03-14 a.example 90 10
add_counter 2026-03-14 b.example 50 0
add_counter 2026-03-14 c.example 7 3
add_counter 2026-03-14 d.example 1 1
add_counter 2026-03-15 a.example 40 0
add_counter 2026-03-15 e.example 12 4
for day in 2026-03-14 2026-03-15; do
	"$BIN/tlsrpt-aggregate" -c "$T/agg.conf" --day $day 2>>"$T/agg.log" || fail "aggregate $day"
done
sqlite3 "$DB" <<'EOSQL' || fail "delivery states"
UPDATE report SET state = 'delivered' WHERE day = '2026-03-14' AND report_domain = 'a.example';
UPDATE report SET state = 'no-destination', plan_error = 'no TXT record at _smtp._tls.c.example'
    WHERE report_domain = 'c.example';
UPDATE report SET state = 'failed' WHERE report_domain = 'd.example';
INSERT INTO delivery (report, uri, scheme, target, state, attempts, first_attempt_at,
    next_attempt_at, last_error, response_code, delivered_at)
SELECT id, 'https://rua.a.example/tlsrpt', 'https', 'https://rua.a.example/tlsrpt', 'delivered',
    1, 1773540000, 1773540000, '', 200, 1773540001
    FROM report WHERE day = '2026-03-14' AND report_domain = 'a.example';
INSERT INTO delivery (report, uri, scheme, target, state, attempts, first_attempt_at,
    next_attempt_at, last_error)
SELECT id, 'mailto:tlsrpt@a.example', 'mailto', 'tlsrpt@a.example', 'failed', 5, 1773540000,
    1773626400, '550 5.1.1 <tlsrpt@a.example>: no such user'
    FROM report WHERE day = '2026-03-14' AND report_domain = 'a.example';
INSERT INTO delivery (report, uri, scheme, target, state, attempts, first_attempt_at,
    next_attempt_at, last_error, response_code)
SELECT id, 'https://b.example/tlsrpt', 'https', 'https://b.example/tlsrpt', 'pending', 2,
    1773540000, 1773547200, 'HTTP 500', 500 FROM report WHERE report_domain = 'b.example';
INSERT INTO delivery (report, uri, scheme, target, state, attempts, first_attempt_at,
    next_attempt_at, last_error)
SELECT id, 'mailto:tlsrpt@d.example', 'mailto', 'tlsrpt@d.example', 'failed', 9, 1773540000,
    1773626400, 'connection refused' FROM report WHERE report_domain = 'd.example';
INSERT INTO delivery (report, uri, scheme, target, state, attempts, first_attempt_at,
    next_attempt_at)
SELECT id, 'https://rua.a.example/tlsrpt', 'https', 'https://rua.a.example/tlsrpt', 'in-flight',
    1, 1773626500, 1773626500 FROM report WHERE day = '2026-03-15' AND report_domain = 'a.example';
INSERT INTO collector_stat VALUES (strftime('%Y-%m-%d', 'now'), 'received', 42),
    (strftime('%Y-%m-%d', 'now'), 'accepted', 40), (strftime('%Y-%m-%d', 'now'), 'rejected', 2),
    (strftime('%Y-%m-%d', 'now'), 'rejected_syntax', 2), ('2026-03-14', 'received', 1000);
INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type, policy_domain,
    policy_strings, mx_hosts, successful_sessions, failed_sessions)
VALUES (strftime('%Y-%m-%d', 'now'), 'f.example', '', 2, 'f.example', '[]', '[]', 30, 6);
EOSQL
expect_eq "outbound database appears without a restart" 200 "$(status "$B/api/outbound")"

# Counters reach ingest_stat at the latest when the daemon stops.
stop_ingestd
start_ingestd

# --- JSON API and /metrics ----------------------------------------------------
chk api "$B" "$T/expected.json" "$RR"
fetch -D "$T/metrics.h" "$B/metrics" >"$T/metrics.txt" || fail "GET /metrics"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/metrics.h" ||
	fail "/metrics Content-Type: $(grep -i '^content-type' "$T/metrics.h")"
ok "/metrics Content-Type is the text format 0.0.4"
chk metrics "$T/metrics.txt" "$T/expected.json"
expect_eq "POST /metrics: 405" 405 "$(status "$B/metrics" -X POST)"
fetch -D "$T/405.h" -o /dev/null -X DELETE "$B/reports"
grep -qi '^allow: GET, HEAD' "$T/405.h" || fail "405 without Allow: GET, HEAD"
ok "405 names the methods the dashboard takes"
fetch -I "$B/" >"$T/head.h" || fail "HEAD /"
grep -q '^HTTP/1.1 200' "$T/head.h" || fail "HEAD /: $(head -n 1 "$T/head.h")"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" "$T/head.h" ||
	fail "no Content-Security-Policy"
ok "HEAD / 200 with a same-origin Content-Security-Policy"

# --- the embedded files ----------------------------------------------------------
for f in ingest/web/*; do
	name=$(basename "$f")
	case $name in
	index.html) url=/ ;;
	*.html) url=/${name%.html} ;;
	*) url=/assets/$name ;;
	esac
	fetch -o "$T/asset" "$B$url" || fail "GET $url"
	cmp -s "$T/asset" "$f" || fail "$url is not $f byte for byte"
done
ok "every file of ingest/web served byte for byte"
expect_eq "pages only under their own URL" 404 "$(status "$B/assets/index.html")"
expect_eq "no path walking" 404 "$(status "$B/assets/../web.c" --path-as-is)"
if grep -n 'https\?://' ingest/web/* | grep -v 'http://www.w3.org/2000/svg'; then
	fail "the dashboard names another host"
fi
ok "the dashboard's files name no other host"

# --- tlsrptctl ---------------------------------------------------------------------
ctl() {
	"$BIN/tlsrptctl" -o "ingest_database=$IN" -o "database=$DB" "$@"
}
for cmd in domains summary reports failures outbound; do
	ctl --format json "$cmd" >"$T/ctl/$cmd.json" 2>"$T/ctl.err" || fail "tlsrptctl $cmd: $(cat "$T/ctl.err")"
done
ctl reports --format csv >"$T/ctl/reports.csv" || fail "tlsrptctl reports --format csv"
ctl domains >"$T/ctl/domains.txt" || fail "tlsrptctl domains"
ctl reports --format table >"$T/ctl/reports.txt" || fail "tlsrptctl reports"
RID=$(sqlite3 "$IN" "SELECT id FROM report WHERE report_id = '5065427c-23d3-47ca-b6e0-946ea0e8c4be'")
ctl show "$RID" >"$T/ctl/show.txt" || fail "tlsrptctl show"
chk ctl "$T/ctl" "$T/expected.json" "$B"
ctl outbound --format csv --domain a.example >"$T/ctl/out.csv" || fail "tlsrptctl outbound csv"
expect_eq "outbound CSV: one row per delivery" 4 "$(wc -l <"$T/ctl/out.csv" | tr -d ' ')"
expect_eq "outbound CSV: a failed delivery" 1 "$(grep -c '^2026-03-14,a.example,delivered,90,10,mailto:tlsrpt@a.example,failed,5,,550 5.1.1 <tlsrpt@a.example>: no such user,' "$T/ctl/out.csv")"
rc=0; ctl show 99999 >/dev/null 2>&1 || rc=$?
expect_eq "show of a missing report: exit 1" 1 "$rc"
rc=0; ctl show abc >/dev/null 2>&1 || rc=$?
expect_eq "show of a bad id: exit 2" 2 "$rc"
rc=0; ctl reports --since 2025-13-01 >/dev/null 2>&1 || rc=$?
expect_eq "bad --since: exit 2" 2 "$rc"
rc=0; ctl reports --format xml >/dev/null 2>&1 || rc=$?
expect_eq "bad --format: exit 2" 2 "$rc"
rc=0; ctl frobnicate >/dev/null 2>&1 || rc=$?
expect_eq "unknown command: exit 2" 2 "$rc"
rc=0; "$BIN/tlsrptctl" -o "ingest_database=$IN" -o "database=$T/none.db" outbound >/dev/null 2>"$T/ctl.err" || rc=$?
expect_eq "outbound without its database: exit 1" 1 "$rc"
grep -q "none.db: No such file or directory" "$T/ctl.err" || fail "reason: $(cat "$T/ctl.err")"
ok "tlsrptctl says why the outbound database cannot be read"

# --- every page in Chromium ------------------------------------------------------------
browse / overview
chk dom overview "$T/overview.html" "$T/expected.json"
browse /failures failures
chk dom failures "$T/failures.html" "$T/expected.json"
browse /reports reports
chk dom reports "$T/reports.html" "$T/expected.json"
browse "/report?id=$RID" report
chk dom report "$T/report.html" "$T/expected.json" "$RR/rfc8460-example.json"
browse /outbound outbound
chk dom outbound "$T/outbound.html" "$T/expected.json"
for p in outbound-missing overview failures reports report outbound; do
	chk png "$T/$p.png"
done
stop_ingestd

# --- basic auth on a dashboard listener of its own ----------------------------------
printf 's3cret pass\nnot this line\n' >"$T/password"
start_ingestd -o dashboard_listen=127.0.0.1:0 -o dashboard_user=admin \
    -o "dashboard_password_file=$T/password"
expect_eq "dashboard moved off the ingest listener" 404 "$(status "$B/")"
for u in / /api/status /metrics /assets/app.js; do
	expect_eq "$u without credentials: 401" 401 "$(status "$D$u")"
done
fetch -D "$T/401.h" -o /dev/null "$D/"
grep -qi '^www-authenticate: basic realm="tlsrptd"' "$T/401.h" || fail "no Basic challenge"
ok "401 carries WWW-Authenticate: Basic realm=\"tlsrptd\""
expect_eq "wrong password: 401" 401 "$(status "$D/" -u 'admin:s3cret pas')"
expect_eq "longer password: 401" 401 "$(status "$D/" -u 'admin:s3cret pass2')"
expect_eq "wrong user: 401" 401 "$(status "$D/" -u 'Admin:s3cret pass')"
expect_eq "second line of the file is not the password: 401" 401 "$(status "$D/" -u 'admin:not this line')"
for u in / /api/status /metrics /assets/app.js "/api/reports/$RID/raw"; do
	expect_eq "$u with credentials: 200" 200 "$(status "$D$u" -u 'admin:s3cret pass')"
done
grep -q "dashboard: wrong user or password from 127.0.0.1" "$LOGFILE" || fail "failed logins not logged"
ok "failed logins logged with the client address"
sed 's/"evil-1"/"evil-2"/' "$T/evil.json" >"$T/evil2.json"
before=$(sqlite3 "$IN" "SELECT count(*) FROM report")
expect_eq "no report POSTs on the dashboard listener" 405 \
    "$(status "$D/tlsrpt" -u 'admin:s3cret pass' --data-binary "@$T/evil2.json")"
expect_eq "nothing stored there" "$before" "$(sqlite3 "$IN" "SELECT count(*) FROM report")"
expect_eq "the ingest listener still takes reports" stored \
    "$(fetch --data-binary "@$T/evil2.json" "$B/tlsrpt")"
stop_ingestd

# --- configuration -------------------------------------------------------------------------
rc=0
"$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$IN" \
    -o dashboard_user=admin >"$T/conf.log" 2>&1 || rc=$?
expect_eq "dashboard_user without a password file: exit 2" 2 "$rc"
rc=0
"$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$IN" \
    -o dashboard_user=admin -o "dashboard_password_file=$T/nofile" >"$T/conf.log" 2>&1 || rc=$?
expect_eq "a missing password file: exit 1" 1 "$rc"
: >"$T/empty"
rc=0
"$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$IN" \
    -o dashboard_user=admin -o "dashboard_password_file=$T/empty" >"$T/conf.log" 2>&1 || rc=$?
expect_eq "an empty password: exit 2" 2 "$rc"
start_ingestd -o dashboard_enable=no
expect_eq "dashboard_enable = no: no pages" 404 "$(status "$B/")"
expect_eq "dashboard_enable = no: no metrics" 404 "$(status "$B/metrics")"
stop_ingestd
