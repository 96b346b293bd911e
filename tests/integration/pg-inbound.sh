#!/bin/sh
# Integration test of the inbound side on PostgreSQL (issue 10): a
# throwaway server on loopback (tests/tools/pg-server.sh, always stopped)
# and the same run twice, once with SQLite files and once with
# ingest_database and database set to the server's postgresql:// URI.
#
#  - check_inbound passes on both engines (every test twice);
#  - tlsrpt-ingestd takes every real report (tests/data/real-reports)
#    POSTed as JSON and as gzip, a report with quotes, a backslash,
#    markup and an escape character; duplicates (and the RFC example
#    re-encoded) answer "duplicate" and add nothing; garbage is refused
#    with the counters of ingest_stat bumped; tlsrpt-ingest stores every
#    .eml fixture once (exit 0, twice); raw bytes are kept exactly;
#  - the outbound side (tlsrpt-aggregate on either database, delivery
#    states set by SQL) is read through database = postgresql:// too;
#  - every API answer (lists with filters, limit and truncated, each
#    report and its raw JSON, status, 400/404), /metrics and tlsrptctl in
#    JSON, CSV and table form are identical on both engines, but for the
#    arrival and creation times of this run (checked to lie within it);
#  - then, on each engine: 40 reports POSTed twice (JSON and gzip) all at
#    once are stored once each, every duplicate answered as such (one
#    duplicate in the writer's batch must not spoil it); a report the
#    database refuses (a trigger) gets 500 while the 19 beside it are
#    stored, and is stored once the trigger is gone;
#  - the server killed under a running tlsrpt-ingestd: the API answers
#    503, /metrics says the database cannot be read, a report gets 500,
#    tlsrpt-ingest exits 75; once the server is back, all of it works
#    again without a restart.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

: "${BUILD:=build}"
RR=tests/data/real-reports
H=$T/helper.py
SUITE=$BUILD/tests/check_inbound
for p in "$BIN/tlsrpt-ingestd" "$BIN/tlsrpt-ingest" "$BIN/tlsrptctl" "$BIN/tlsrpt-aggregate" "$SUITE"; do
	[ -x "$p" ] || fail "$p is not built"
done
command -v psql >/dev/null 2>&1 || fail "psql missing (make deps installs postgresql)"

# The server runs as another user when we are root, and must reach its
# data directory: not under $T, which only we may enter.
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/tlsrptd-pg.XXXXXX") || fail "mktemp"
pg_stop() {
	sh tests/tools/pg-server.sh stop "$PGDIR"
	rm -rf "$PGDIR"
}
trap 'pg_stop; cleanup' EXIT INT TERM
URI=$(sh tests/tools/pg-server.sh start "$PGDIR") || fail "PostgreSQL server did not start"
ok "PostgreSQL server on loopback: $URI"

psql_q() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$URI" -c "SET client_min_messages = warning" \
	    -c "$1"
}
pg_reset() {
	psql_q "DROP SCHEMA IF EXISTS tlsrptd_outbound CASCADE;
	    DROP SCHEMA IF EXISTS tlsrptd_inbound CASCADE" || fail "reset schemas"
}

# --- the unit suite on both engines -------------------------------------------
t0=$(date +%s)
CK_FORK=yes "$SUITE" >"$T/unit-sq.out" 2>&1 ||
    { cat "$T/unit-sq.out" >&2; fail "check_inbound on SQLite"; }
TLSRPTD_TEST_PG=$URI CK_FORK=yes "$SUITE" >"$T/unit-pg.out" 2>&1 ||
    { cat "$T/unit-pg.out" >&2; fail "check_inbound on PostgreSQL"; }
nsq=$(sed -n 's/.*Checks: \([0-9]*\),.*/\1/p' "$T/unit-sq.out")
npg=$(sed -n 's/.*Checks: \([0-9]*\),.*/\1/p' "$T/unit-pg.out")
if [ -z "$nsq" ] || [ "$nsq" -eq 0 ]; then
	fail "check_inbound ran no test: $(cat "$T/unit-sq.out")"
fi
expect_eq "check_inbound passes with every test on both engines ($(($(date +%s) - t0)) s)" \
    "$((2 * nsq))" "$npg"
pg_reset

# --- helpers in Python ------------------------------------------------------------
cat >"$H" <<'EOPY'
import calendar, gzip, json, os, sys, time

TIMES = ("received", "last_received", "created")

def report(org, rid, ok, failed):
    pol = {"policy": {"policy-type": "sts", "policy-domain": "example.com",
                      "policy-string": ["version: STSv1", "mode: enforce",
                                        "mx: mx1.example.com", "max_age: 604800"],
                      "mx-host": ["mx1.example.com"]},
           "summary": {"total-successful-session-count": ok,
                       "total-failure-session-count": failed}}
    if failed:
        pol["failure-details"] = [{"result-type": "certificate-expired",
            "sending-mta-ip": "192.0.2.7", "receiving-mx-hostname": "MX1.Example.COM.",
            "receiving-ip": "198.51.100.25", "failed-session-count": failed}]
    return {"organization-name": org,
            "date-range": {"start-datetime": "2026-03-01T00:00:00Z",
                           "end-datetime": "2026-03-01T23:59:59Z"},
            "contact-info": "tlsrpt@reporter.example", "report-id": rid,
            "policies": [pol]}

def reports(d, prefix, n):
    """PREFIX-i.json and .json.gz, i < n; prints the summed counts."""
    sum_ok = sum_failed = 0
    for i in range(int(n)):
        ok, failed = 10 + i, i % 4
        text = json.dumps(report("Burst Org", "%s-%d" % (prefix, i), ok, failed), indent=1)
        open(os.path.join(d, "%s-%d.json" % (prefix, i)), "w").write(text)
        open(os.path.join(d, "%s-%d.json.gz" % (prefix, i)), "wb").write(
            gzip.compress(text.encode(), mtime=0))
        sum_ok += ok
        sum_failed += failed
    print(sum_ok, sum_failed)

def reencode(src, dst):
    r = json.load(open(src))
    open(dst, "wb").write(gzip.compress(json.dumps(r, indent=8).encode(), mtime=0))

def strip(v, lo, hi, seen):
    """v without the times (ISO 8601 strings) under the keys in TIMES,
    which must lie within [lo, hi]; counters named so stay."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in TIMES and isinstance(x, str):
                seen.append(x)
                t = calendar.timegm(time.strptime(x, "%Y-%m-%dT%H:%M:%SZ"))
                if not lo <= t <= hi:
                    sys.exit("%s %r is not within this run (%d..%d)" % (k, x, lo, hi))
                continue
            out[k] = strip(x, lo, hi, seen)
        return out
    if isinstance(v, list):
        return [strip(x, lo, hi, seen) for x in v]
    return v

def norm_json(path, lo, hi):
    """The JSON of path without this run's times, compact, in its order."""
    seen = []
    v = strip(json.load(open(path)), int(lo), int(hi), seen)
    open(path + ".norm", "w").write(json.dumps(v, ensure_ascii=False) + "\n")
    open(path + ".times", "w").write("\n".join(sorted(set(str(s) for s in seen))))

def norm_text(path, *timefiles):
    """Text with every time listed in timefiles replaced by <time>."""
    text = open(path, encoding="utf-8").read()
    times = set()
    for f in timefiles:
        times.update(t for t in open(f).read().split("\n") if t)
    for t in sorted(times, key=len, reverse=True):
        text = text.replace(t, "<time>")
    open(path + ".norm", "w", encoding="utf-8").write(text)

def ids(path):
    print(" ".join(str(r["id"]) for r in json.load(open(path))["rows"]))

globals()[sys.argv[1]](*sys.argv[2:])
EOPY

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
$PY "$H" reencode "$RR/rfc8460-example.json" "$T/rfc-reencoded.json.gz" || fail "re-encode"
printf '{"organization-name": "Broken Inc.", "report-id": ' >"$T/garbage.json"
printf '{"hello": "world"}' >"$T/notreport.json"
head -c 100 "$RR/google-imparser-1.json.gz" >"$T/half.gz"
printf 'GIF89a\001\000' >"$T/notreport.gif"

# --- per engine ----------------------------------------------------------------------
# run_sql ENGINE SET SQL: SQL on the engine's inbound or outbound database.
run_sql() {
	if [ "$1" = pg ]; then
		psql_q "SET search_path = tlsrptd_$2; $3"
	elif [ "$2" = inbound ]; then
		sqlite3 -batch -noheader "$T/in.db" "$3"
	else
		sqlite3 -batch -noheader "$T/out.db" "$3"
	fi
}

# seed_outbound ENGINE TARGET: what dashboard.sh seeds, through the
# aggregator and SQL both engines take.
seed_outbound() {
	cat >"$T/agg-$1.conf" <<EOC
database = $2
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
retention_days = 3650
EOC
	"$BIN/tlsrpt-aggregate" -c "$T/agg-$1.conf" --day 2026-03-01 >"$T/agg-$1.log" 2>&1 ||
	    { cat "$T/agg-$1.log" >&2; fail "$1: tlsrpt-aggregate creates the outbound database"; }
	for c in "2026-03-14 a.example 90 10" "2026-03-14 b.example 50 0" \
	    "2026-03-14 c.example 7 3" "2026-03-14 d.example 1 1" \
	    "2026-03-15 a.example 40 0" "2026-03-15 e.example 12 4"; do
		# shellcheck disable=SC2086 # four words
		set -- "$1" $c
		run_sql "$1" outbound "INSERT INTO policy_counter (day, report_domain,
		    tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts,
		    successful_sessions, failed_sessions) VALUES ('$2', '$3',
		    'v=TLSRPTv1; rua=mailto:tlsrpt@$3', 2, '$3',
		    '[\"version: STSv1\",\"mode: testing\"]', '[]', $4, $5);
		    INSERT INTO failure_counter (policy_id, result_code, sending_mta_ip,
		    receiving_mx_hostname, receiving_mx_helo, receiving_ip,
		    additional_information, failure_reason_code, sessions)
		    SELECT id, 204, '192.0.2.1', 'mx.$3', '', '198.51.100.1', '',
		    'certificate has expired', $5 FROM policy_counter
		    WHERE day = '$2' AND report_domain = '$3'" || fail "$1: add counters $3"
	done
	for day in 2026-03-14 2026-03-15; do
		"$BIN/tlsrpt-aggregate" -c "$T/agg-$1.conf" --day $day >>"$T/agg-$1.log" 2>&1 ||
		    { cat "$T/agg-$1.log" >&2; fail "$1: aggregate $day"; }
	done
	today=$(date -u +%Y-%m-%d)
	run_sql "$1" outbound "
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
INSERT INTO collector_stat VALUES ('$today', 'received', 42), ('$today', 'accepted', 40),
    ('$today', 'rejected', 2), ('$today', 'rejected_syntax', 2), ('2026-03-14', 'received', 1000);
INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type, policy_domain,
    policy_strings, mx_hosts, successful_sessions, failed_sessions)
VALUES ('$today', 'f.example', '', 2, 'f.example', '[]', '[]', 30, 6)" || fail "$1: delivery states"
	ok "$1: outbound database seeded ($(run_sql "$1" outbound "SELECT count(*) FROM report") reports)"
}

# start_ingestd ENGINE: on 127.0.0.1 port 0 with the dashboard beside
# ingest_path; sets IPID, B (base URL), LOGFILE.
start_ingestd() {
	LOGFILE=$T/$1-ingestd.log
	: >"$LOGFILE"
	"$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 -o "ingest_database=$IN" \
	    -o "database=$OUT" >>"$LOGFILE" 2>&1 &
	IPID=$!
	PIDS="$PIDS $IPID"
	i=0
	until grep -q "listening on" "$LOGFILE"; do
		kill -0 "$IPID" 2>/dev/null || { cat "$LOGFILE" >&2; fail "$1: tlsrpt-ingestd exited at start"; }
		i=$((i + 1))
		[ $i -gt 200 ] && fail "$1: tlsrpt-ingestd not ready after 10 s"
		sleep 0.05
	done
	B=http://127.0.0.1:$(sed -n 's/.*listening on [^ ]* port \([0-9][0-9]*\) .*/\1/p' "$LOGFILE")
}
stop_ingestd() {
	kill -TERM "$IPID"
	rc=0
	wait "$IPID" || rc=$?
	[ "$rc" = 0 ] || { cat "$LOGFILE" >&2; fail "$1: tlsrpt-ingestd exit $rc after SIGTERM"; }
}

fetch() {
	curl -sS --noproxy '*' --max-time 20 "$@"
}
# post WHAT WANT-CODE WANT-BODY FILE [curl options]
post() {
	what=$1 wcode=$2 wbody=$3 file=$4
	shift 4
	code=$(fetch -o "$T/resp" -w '%{http_code}' --data-binary "@$file" "$@" "$B/tlsrpt") ||
	    fail "$what: curl failed"
	body=$(head -n 1 "$T/resp")
	[ "$code" = "$wcode" ] || fail "$what: HTTP $code $body, expected $wcode"
	# shellcheck disable=SC2254 # the pattern is meant to match
	case $body in
	$wbody) ;;
	*) fail "$what: '$body', expected '$wbody'" ;;
	esac
}

# raw_count ENGINE FILE: rows whose raw bytes are FILE's exactly.
raw_count() {
	hex=$(od -An -v -tx1 "$2" | tr -d ' \n')
	if [ "$1" = pg ]; then
		run_sql pg inbound "SELECT count(*) FROM report WHERE raw = decode('$hex', 'hex')"
	else
		run_sql sq inbound "SELECT count(*) FROM report WHERE raw = X'$hex'"
	fi
}

# ingest_run ENGINE: everything up to the outputs compared below.
ingest_run() {
	e=$1
	D=$T/$e
	mkdir -p "$D/api" "$D/ctl"
	RUN_FROM=$(date +%s)
	seed_outbound "$e" "$OUT"
	start_ingestd "$e"
	n=0
	for f in "$RR"/*.json "$T/evil.json"; do
		post "$e: POST $(basename "$f")" 200 stored "$f" -H 'Content-Type: application/tlsrpt+json'
		n=$((n + 1))
	done
	for f in "$RR"/*.json.gz; do
		post "$e: POST $(basename "$f")" 200 stored "$f" -H 'Content-Type: application/tlsrpt+gzip'
		n=$((n + 1))
	done
	ok "$e: $n reports POSTed as JSON and gzip: stored"
	for f in "$RR"/*.json "$RR"/*.json.gz "$T/evil.json" "$T/rfc-reencoded.json.gz"; do
		post "$e: POST $(basename "$f") again" 200 duplicate "$f"
	done
	ok "$e: every report again, and the RFC example re-encoded: duplicate"
	post "$e: garbage JSON" 400 "malformed: not JSON*" "$T/garbage.json"
	post "$e: not a report" 400 "malformed: *organization-name*" "$T/notreport.json"
	post "$e: gzip cut short" 400 "malformed: broken gzip data" "$T/half.gz"
	post "$e: neither gzip nor JSON" 415 "unsupported: image/png*" "$T/notreport.gif" \
	    -H 'Content-Type: image/png'
	ok "$e: garbage refused (400, 415)"
	m=0
	for f in "$RR"/*.eml; do
		"$BIN/tlsrpt-ingest" -o "ingest_database=$IN" -o ingest_dkim_verify=no <"$f" \
		    2>"$T/mail.err" || fail "$e: tlsrpt-ingest $(basename "$f"): exit $? $(cat "$T/mail.err")"
		m=$((m + 1))
	done
	for f in "$RR"/*.eml; do
		"$BIN/tlsrpt-ingest" -o "ingest_database=$IN" -o ingest_dkim_verify=no <"$f" \
		    2>"$T/mail.err" || fail "$e: $(basename "$f") again: exit $? $(cat "$T/mail.err")"
	done
	ok "$e: $m mails piped to tlsrpt-ingest twice: exit 0"
	stop_ingestd "$e"
	expect_eq "$e: one row per report and mail" "$((n + m))" \
	    "$(run_sql "$e" inbound "SELECT count(*) FROM report")"
	for f in "$RR"/*.json "$RR"/*.json.gz "$T/evil.json" "$RR"/*.eml; do
		[ "$(raw_count "$e" "$f")" = 1 ] || fail "$e: raw bytes of $(basename "$f") not kept"
	done
	ok "$e: the raw bytes of every report and mail kept exactly"
	expect_eq "$e: ingest_stat" \
	    "duplicates=$((n + 1 + m)) received=$((2 * n + 1 + 4 + 2 * m)) rejected_bad_gzip=1 rejected_missing=1 rejected_not_json=1 rejected_unsupported=1 stored=$((n + m))" \
	    "$(run_sql "$e" inbound "SELECT name || '=' || value FROM ingest_stat
	        WHERE value <> 0 ORDER BY name" | tr '\n' ' ' | sed 's/ $//')"

	# What the dashboard and tlsrptctl say, from a daemon that only reads.
	start_ingestd "$e"
	fetch "$B/api/reports" >"$D/api/reports.json" || fail "$e: GET /api/reports"
	for u in status domains summary failures outbound \
	    "domains?domain=example.com" "summary?domain=example.com&since=2024-02-01" \
	    "reports?org=Google%20Inc.&since=2024-01-01&until=2025-12-31" "reports?limit=3" \
	    "reports?domain=company-y.example" "failures?org=Microsoft%20Corporation" \
	    "failures?domain=escape.example" "outbound?domain=a.example" "outbound?limit=2" \
	    "reports/99999" "reports?since=2025-13-01" "reports/abc"; do
		name=$(echo "$u" | tr '?&=%/' '_____')
		code=$(fetch -o "$D/api/$name.json" -w '%{http_code}' "$B/api/$u") ||
		    fail "$e: GET /api/$u"
		echo "$u $code" >>"$D/api/codes"
	done
	for id in $($PY "$H" ids "$D/api/reports.json"); do
		fetch -o "$D/api/report-$id.json" "$B/api/reports/$id" || fail "$e: GET report $id"
		fetch -o "$D/api/raw-$id.txt" "$B/api/reports/$id/raw" || fail "$e: GET raw $id"
	done
	fetch "$B/metrics" >"$D/metrics.txt" || fail "$e: GET /metrics"
	ctl() {
		"$BIN/tlsrptctl" -o "ingest_database=$IN" -o "database=$OUT" "$@"
	}
	for cmd in domains summary reports failures outbound; do
		for fmt in json csv table; do
			ctl --format "$fmt" "$cmd" >"$D/ctl/$cmd.$fmt" 2>"$T/ctl.err" ||
			    fail "$e: tlsrptctl $cmd --format $fmt: $(cat "$T/ctl.err")"
		done
	done
	ctl status >"$D/ctl/status.json" || fail "$e: tlsrptctl status"
	ctl --format json --domain example.com --since 2024-01-01 reports >"$D/ctl/filtered.json" ||
	    fail "$e: tlsrptctl reports with filters"
	for id in 1 9 $((n + 1)); do
		ctl show "$id" >"$D/ctl/show-$id.txt" || fail "$e: tlsrptctl show $id"
	done
	rc=0
	ctl show 99999 >/dev/null 2>&1 || rc=$?
	expect_eq "$e: tlsrptctl show of a missing report: exit 1" 1 "$rc"
	stop_ingestd "$e"
	RUN_TO=$(date +%s)
	ok "$e: API, /metrics and tlsrptctl answers saved ($((RUN_TO - RUN_FROM)) s)"
}

IN=$T/in.db
OUT=$T/out.db
ingest_run sq
SQ_FROM=$RUN_FROM SQ_TO=$RUN_TO
IN=$URI
OUT=$URI
ingest_run pg
PG_FROM=$RUN_FROM PG_TO=$RUN_TO

# --- the two runs compared ------------------------------------------------------------
cmp -s "$T/sq/api/codes" "$T/pg/api/codes" ||
    fail "API status codes differ: $(diff "$T/sq/api/codes" "$T/pg/api/codes")"
if ! grep -qx "reports/99999 404" "$T/pg/api/codes" ||
    ! grep -qx "reports?since=2025-13-01 400" "$T/pg/api/codes"; then
	fail "404 and 400 expected: $(cat "$T/pg/api/codes")"
fi
ok "API status codes equal ($(wc -l <"$T/pg/api/codes") requests, 404 and 400 among them)"
ncmp=0
for f in "$T"/sq/api/*.json "$T"/sq/ctl/*.json; do
	g=$T/pg/${f#"$T"/sq/}
	[ -f "$g" ] || fail "no PostgreSQL twin of ${f#"$T"/}"
	$PY "$H" norm_json "$f" "$SQ_FROM" "$SQ_TO" || fail "${f#"$T"/}"
	$PY "$H" norm_json "$g" "$PG_FROM" "$PG_TO" || fail "${g#"$T"/}"
	cmp -s "$f.norm" "$g.norm" ||
	    fail "${f#"$T"/sq/} differs: $(diff "$f.norm" "$g.norm" | head -c 1500)"
	ncmp=$((ncmp + 1))
done
ok "$ncmp JSON answers (API and tlsrptctl) identical on both engines, times of the run aside"
for f in "$T"/sq/api/raw-*.txt "$T"/sq/ctl/*.csv "$T"/sq/ctl/*.table "$T"/sq/ctl/show-*.txt; do
	g=$T/pg/${f#"$T"/sq/}
	$PY "$H" norm_text "$f" "$T"/sq/api/*.times "$T"/sq/ctl/*.times || fail "${f#"$T"/}"
	$PY "$H" norm_text "$g" "$T"/pg/api/*.times "$T"/pg/ctl/*.times || fail "${g#"$T"/}"
	cmp -s "$f.norm" "$g.norm" ||
	    fail "${f#"$T"/sq/} differs: $(diff "$f.norm" "$g.norm" | head -c 1500)"
	ncmp=$((ncmp + 1))
done
ok "raw reports, CSV, tables and show output identical too ($ncmp files in all)"
if ! grep -q '"evil-1"' "$T/pg/api/reports.json" ||
    ! grep -q 'Evil \\"Org\\" \\\\ <b>Inc</b>\\u001[bB]\[31m, Ltd' "$T/pg/api/reports.json"; then
	fail "the crafted organization name did not come back as sent"
fi
ok "quotes, backslash, markup and an escape character come back from PostgreSQL as sent"

# /metrics: the same samples, but when each organization's last report arrived.
for e in sq pg; do
	grep -v '^tlsrpt_inbound_last_report_received_timestamp_seconds{' "$T/$e/metrics.txt" \
	    >"$T/$e/metrics.norm"
done
cmp -s "$T/sq/metrics.norm" "$T/pg/metrics.norm" ||
    fail "/metrics differs: $(diff "$T/sq/metrics.norm" "$T/pg/metrics.norm" | head -c 1500)"
if ! grep -qx 'tlsrpt_database_available{database="inbound"} 1' "$T/pg/metrics.txt" ||
    ! grep -qx 'tlsrpt_database_available{database="outbound"} 1' "$T/pg/metrics.txt"; then
	fail "/metrics on PostgreSQL: a database not available"
fi
grep -qx 'tlsrpt_inbound_sessions_total{policy_domain="company-y.example",organization="Company-X",result="failure"} 303' \
    "$T/pg/metrics.txt" || fail "/metrics on PostgreSQL: Company-X's failures"
grep -qx 'tlsrpt_outbound_deliveries{state="failed"} 2' "$T/pg/metrics.txt" ||
    fail "/metrics on PostgreSQL: failed deliveries: $(grep '^tlsrpt_outbound' "$T/pg/metrics.txt")"
grep -qx 'tlsrpt_collector_events_total{counter="received"} 42' "$T/pg/metrics.txt" ||
    fail "/metrics on PostgreSQL: the collector's counters of today"
awk -v lo="$PG_FROM" -v hi="$PG_TO" '/^tlsrpt_inbound_last_report_received_timestamp_seconds{/ {
	n++; if ($NF < lo || $NF > hi) bad++ } END { exit !(n > 0 && bad == 0) }' "$T/pg/metrics.txt" ||
    fail "/metrics on PostgreSQL: last report times not within the run"
ok "/metrics identical on both engines ($(grep -vc '^#' "$T/pg/metrics.txt") samples), arrival times within the run"

# --- many at once, duplicates in the same batch ------------------------------------------
$PY "$H" reports "$T" burst 40 >"$T/burst.sums" || fail "generate reports"
burst() {
	e=$1
	start_ingestd "$e"
	t0=$(date +%s%N)
	for i in $(seq 0 39); do
		echo "$T/burst-$i.json"
		echo "$T/burst-$i.json.gz"
	done | xargs -P 16 -I '{}' curl -sS --noproxy '*' -o '{}.'"$e" -w '%{http_code}\n' \
	    --max-time 20 --data-binary '@{}' "$B/tlsrpt" >"$T/$e-burst.out" 2>&1
	t1=$(date +%s%N)
	expect_eq "$e: 80 POSTs at once: 200 each" 80 "$(grep -cx 200 "$T/$e-burst.out")"
	expect_eq "$e: ... 40 stored" 40 "$(cat "$T"/burst-*."$e" | grep -cx stored)"
	expect_eq "$e: ... and 40 duplicates" 40 "$(cat "$T"/burst-*."$e" | grep -cx duplicate)"
	expect_eq "$e: ... each stored once with its totals" "40|$(tr ' ' '|' <"$T/burst.sums")" \
	    "$(run_sql "$e" inbound "SELECT count(*) || '|' || sum(successful_sessions) || '|' ||
	        sum(failed_sessions) FROM report WHERE report_id LIKE 'burst-%'")"
	ok "$e: 80 concurrent POSTs in $(((t1 - t0) / 1000000)) ms"

	# A report the database refuses, among 19 it takes.
	if [ "$e" = pg ]; then
		run_sql pg inbound "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql
		    AS \$\$ BEGIN IF NEW.report_id = 'poison-7' THEN
		    RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END \$\$;
		    CREATE TRIGGER refuse_poison BEFORE INSERT ON report FOR EACH ROW
		    EXECUTE FUNCTION refuse_poison()" || fail "pg: trigger"
	else
		run_sql sq inbound "CREATE TRIGGER refuse_poison BEFORE INSERT ON report
		    WHEN NEW.report_id = 'poison-7'
		    BEGIN SELECT RAISE(ABORT, 'refused by the test'); END" || fail "sq: trigger"
	fi
	$PY "$H" reports "$T" poison 20 >/dev/null || fail "generate reports"
	for i in $(seq 0 19); do
		echo "$T/poison-$i.json.gz"
	done | xargs -P 8 -I '{}' curl -sS --noproxy '*' -o /dev/null -w '{} %{http_code}\n' \
	    --max-time 20 --data-binary '@{}' "$B/tlsrpt" >"$T/$e-poison.codes" 2>&1
	expect_eq "$e: the report the database refuses: 500" 500 \
	    "$(sed -n 's/.*poison-7.json.gz //p' "$T/$e-poison.codes")"
	expect_eq "$e: ... the 19 beside it: 200" 19 "$(grep -c ' 200$' "$T/$e-poison.codes")"
	expect_eq "$e: ... and stored" 19 \
	    "$(run_sql "$e" inbound "SELECT count(*) FROM report WHERE report_id LIKE 'poison-%'")"
	post "$e: the refused one again" 500 "fault: *refused by the test*" "$T/poison-7.json.gz"
	if [ "$e" = pg ]; then
		run_sql pg inbound "DROP TRIGGER refuse_poison ON report" || fail "drop trigger"
	else
		run_sql sq inbound "DROP TRIGGER refuse_poison" || fail "drop trigger"
	fi
	post "$e: ... stored once the database takes it" 200 stored "$T/poison-7.json.gz"
	stop_ingestd "$e"
	expect_eq "$e: store errors counted" 2 \
	    "$(run_sql "$e" inbound "SELECT value FROM ingest_stat WHERE name = 'store_errors'")"
}
IN=$T/in.db
OUT=$T/out.db
burst sq
IN=$URI
OUT=$URI
burst pg

# --- the server goes away and comes back ----------------------------------------------
start_ingestd pg
$PY "$H" reports "$T" outage 2 >/dev/null || fail "generate reports"
expect_eq "pg: before the outage the API answers" 200 \
    "$(fetch -o /dev/null -w '%{http_code}' "$B/api/domains")"
sh tests/tools/pg-server.sh kill "$PGDIR" || fail "kill the server"
expect_eq "server down: the API answers 503" 503 \
    "$(fetch -o "$T/503.json" -w '%{http_code}' "$B/api/domains")"
fetch "$B/metrics" >"$T/metrics-down.txt" || fail "server down: GET /metrics"
grep -qx 'tlsrpt_database_available{database="inbound"} 0' "$T/metrics-down.txt" ||
    fail "server down: /metrics does not say so: $(head -n 5 "$T/metrics-down.txt")"
ok "server down: /metrics says the databases cannot be read"
post "server down: a report" 500 "fault: *" "$T/outage-0.json.gz"
rc=0
"$BIN/tlsrpt-ingest" -o "ingest_database=$URI" -o ingest_dkim_verify=no \
    <"$RR/google-mox-1.eml" 2>"$T/mail.err" || rc=$?
expect_eq "server down: tlsrpt-ingest exits 75 (the MTA keeps the mail)" 75 "$rc"
sh tests/tools/pg-server.sh restart "$PGDIR" || fail "restart the server"
kill -0 "$IPID" || fail "tlsrpt-ingestd died during the outage"
expect_eq "server back: the API answers" 200 \
    "$(fetch -o /dev/null -w '%{http_code}' "$B/api/domains")"
fetch "$B/metrics" >"$T/metrics-up.txt" || fail "server back: GET /metrics"
grep -qx 'tlsrpt_database_available{database="inbound"} 1' "$T/metrics-up.txt" ||
    fail "server back: /metrics: $(head -n 5 "$T/metrics-up.txt")"
post "server back: the report refused during the outage" 200 stored "$T/outage-0.json.gz"
post "server back: another" 200 stored "$T/outage-1.json.gz"
ok "server back: reports stored, API and /metrics read the database again"
stop_ingestd pg
echo "all $TESTS_RUN pg-inbound checks passed"
