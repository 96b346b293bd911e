#!/bin/sh
# End to end, through the real programs and real servers on loopback:
# MTA datagrams (tlsrpt-log) -> tlsrpt-collectd (clock on 2026-03-14 by
# libfaketime) -> tlsrpt-aggregate -> tlsrpt-send (rua from dnsmasq) ->
# HTTPS to our tlsrpt-ingestd, or mail through an SMTP relay that
# requires STARTTLS, handed to tlsrpt-ingest -> the inbound database.
# Six scenarios (issue 8); the totals received must equal what the MTA
# logged.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -f "$FT" ] || fail "libfaketime missing"
P=$T/pki
sh tests/tools/mkcerts.sh "$P" || fail mkcerts
IN=$T/inbound.db
DB=$T/tlsrpt.db
CONF=$T/tlsrptd.conf
cat >"$CONF" <<EOC
database = $DB
ingest_database = $IN
ingest_listen = 127.0.0.1:0
ingest_tls_cert = $P/server.pem
ingest_tls_key = $P/server.key
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
retention_days = 3650
https_ca_file = $P/ca.pem
smtp_require_tls = yes
smtp_ca_file = $P/ca.pem
send_spread_s = 0
ingest_dkim_verify = no
EOC
export TLSRPTD_CONF="$CONF"

LOGFILE=$T/ingestd.log
"$BIN/tlsrpt-ingestd" -f >"$LOGFILE" 2>&1 &
PIDS="$PIDS $!"
i=0
until grep -q "listening on" "$LOGFILE"; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "ingestd did not start"; sleep 0.1
done
IP=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$LOGFILE" | head -1)
start_sink smtp $PY tests/tools/smtp-sink.py --maildir "$T/mail" --tls-cert "$P/server.pem" \
    --tls-key "$P/server.key" --require-starttls
S=$SINK_PORT
R=https://localhost:$IP/tlsrpt
cat >"$T/dns.conf" <<EOD
local=/example/
txt-record=_smtp._tls.testing.example,"v=TLSRPTv1; rua=$R"
txt-record=_smtp._tls.enforce.example,"v=TLSRPTv1;rua=$R"
txt-record=_smtp._tls.dane.example,"v=TLSRPTv1; rua=$R"
txt-record=_smtp._tls.nostarttls.example,"v=TLSRPTv1; rua=$R"
txt-record=_smtp._tls.mail.example,"v=TLSRPTv1; rua=mailto:tlsrpt@mail.example"
txt-record=_smtp._tls.two.example,"v=TLSRPTv1; rua=$R"
txt-record=_smtp._tls.two.example,"v=TLSRPTv1; rua=mailto:x@two.example"
txt-record=_smtp._tls.broken.example,"v=TLSRPTv1; rua=ftp://x.example/"
EOD
start_dns "$T/dns.conf"

# --- the MTA side: sessions on 2026-03-14 ---------------------------------
LOGFILE=$T/collector.log
LD_PRELOAD=$FT FAKETIME="@2026-03-14 10:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" start_collector
mta() { "$BIN/tlsrpt-log" -o "collector_socket=$SOCK" --wait "$@" || fail "tlsrpt-log $*"; }
# repeat N ARGS...: N sessions
repeat() {
	n=$1; shift
	while [ "$n" -gt 0 ]; do mta "$@"; n=$((n - 1)); done
}
sts_testing() {
	mta --domain testing.example --policy-type sts --policy-string "version: STSv1" \
	    --policy-string "mode: testing" --policy-string "mx: mx.testing.example" \
	    --policy-string "max_age: 86400" --mx-host mx.testing.example "$@"
}
# 1. MTA-STS testing: successes and reported failures.
for _ in 1 2 3 4 5; do sts_testing --result success; done
sts_testing --result sts-policy-fetch-error --sending-ip 192.0.2.25 \
    --additional-info https://mta-sts.testing.example/.well-known/mta-sts.txt --reason "HTTP 404"
sts_testing --result sts-webpki-invalid --sending-ip 192.0.2.25 --mx-hostname mx.testing.example
sts_testing --result certificate-host-mismatch --sending-ip 192.0.2.25 \
    --mx-hostname mx.testing.example --receiving-ip 203.0.113.5
# 2. MTA-STS enforce through a policy resolver: successes only.
repeat 7 --domain enforce.example --policy-type sts --policy-string "version: STSv1" \
    --policy-string "mode: enforce" --policy-string "mx: *.enforce.example" \
    --policy-string "max_age: 604800" --mx-host "*.enforce.example" --result success
# 3. DANE.
dane() {
	mta --domain dane.example --policy-type tlsa --policy-domain mx.dane.example \
	    --policy-string "3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6" "$@"
}
dane --result success
dane --result success
dane --result tlsa-invalid --sending-ip 192.0.2.25 --mx-hostname mx.dane.example --reason all-TLSA-records-unusable
dane --result dnssec-invalid --sending-ip 192.0.2.25 --mx-hostname mx.dane.example
dane --result dane-required --sending-ip 192.0.2.25 --mx-hostname mx.dane.example --receiving-ip 198.51.100.10
# 4. Receiver without STARTTLS.
repeat 3 --domain nostarttls.example --policy-type no-policy-found --result starttls-not-supported \
    --sending-ip 192.0.2.25 --mx-hostname mx.nostarttls.example --receiving-ip 198.51.100.20
# 5. Report by mail through a relay that requires STARTTLS.
repeat 2 --domain mail.example --policy-type no-policy-found --result success
# 6. No record, several records, a broken record.
for d in none.example two.example broken.example; do
	mta --domain $d --policy-type no-policy-found --result success
done
stop_collector
expect_eq "collector stopped cleanly" 0 "$COLLECTOR_STATUS"

# --- aggregate and send -------------------------------------------------
"$BIN/tlsrpt-aggregate" --day 2026-03-14 2>"$T/agg.log" || fail "aggregate: $(cat "$T/agg.log")"
expect_eq "one report per report domain" 8 "$(sql "SELECT COUNT(*) FROM report")"
"$BIN/tlsrpt-send" -o "dns_server=127.0.0.1:$DNS_PORT" \
    -o "smtp_relay=smtp://127.0.0.1:$S/reporter.example" 2>"$T/send.log" || fail "send: $(cat "$T/send.log")"
LOGFILE=$T/send.log
expect_eq "4 reports delivered over HTTPS, 1 by mail" "delivered|5" \
    "$(sql "SELECT state || '|' || COUNT(*) FROM report WHERE state = 'delivered'")"
for m in "$T"/mail/*.eml; do
	"$BIN/tlsrpt-ingest" <"$m" 2>>"$T/ingest.log" || fail "tlsrpt-ingest $m: $(cat "$T/ingest.log")"
done
ok "report mail handed to tlsrpt-ingest"

# --- what arrived equals what the MTA logged -----------------------------
got() { sqlite3 -batch -noheader "$IN" "$1"; }
totals() {
	got "SELECT SUM(successful_sessions) || '|' || SUM(failed_sessions) FROM report r
	    WHERE r.id IN (SELECT report FROM policy WHERE domain = '$1')"
}
expect_eq "1. sts testing: 5 ok, 3 failed" "5|3" "$(totals testing.example)"
expect_eq "1. failure types" "certificate-host-mismatch|1 sts-policy-fetch-error|1 sts-webpki-invalid|1" \
    "$(got "SELECT group_concat(t, ' ') FROM (SELECT f.result_type || '|' || f.count AS t FROM failure f
        JOIN policy p ON p.id = f.policy WHERE p.domain = 'testing.example' ORDER BY 1)")"
expect_eq "2. sts enforce: 7 ok, 0 failed" "7|0" "$(totals enforce.example)"
expect_eq "2. mx-host pattern kept" '["*.enforce.example"]' "$(got "SELECT mx FROM policy WHERE domain = 'enforce.example'")"
expect_eq "3. dane: 2 ok, 3 failed under the MX host" "2|3" "$(totals mx.dane.example)"
expect_eq "3. dane failure types" "dane-required dnssec-invalid tlsa-invalid" \
    "$(got "SELECT group_concat(t, ' ') FROM (SELECT f.result_type AS t FROM failure f
        JOIN policy p ON p.id = f.policy WHERE p.domain = 'mx.dane.example' ORDER BY 1)")"
expect_eq "4. no STARTTLS with both IPs" "starttls-not-supported|192.0.2.25|198.51.100.20|3" \
    "$(got "SELECT f.result_type || '|' || f.sending_ip || '|' || f.receiving_ip || '|' || f.count
        FROM failure f JOIN policy p ON p.id = f.policy WHERE p.domain = 'nostarttls.example'")"
expect_eq "5. mail through a STARTTLS-only relay" "2|0|mail" \
    "$(got "SELECT successful_sessions || '|' || failed_sessions || '|' || source FROM report
        WHERE report_id LIKE '%.mail.example.%'")"
[ "$(jget "$(ls "$T"/mail/*.envelope.json | head -1)" tls)" = true ] || fail "5. relay not used with TLS"
ok "5. relay saw STARTTLS"
expect_eq "6. no report for none/two/broken" \
    "broken.example|no-destination none.example|no-destination two.example|no-destination" \
    "$(sql "SELECT group_concat(t, ' ') FROM (SELECT report_domain || '|' || state AS t FROM report
        WHERE report_domain IN ('none.example','two.example','broken.example') ORDER BY 1)")"
grep -q "none.example 2026-03-14: no report sent: no TXT record" "$T/send.log" || fail "6. none not logged"
grep -q "two.example 2026-03-14: no report sent: .*2 TLSRPT records" "$T/send.log" || fail "6. two not logged"
grep -q "broken.example 2026-03-14: no report sent: invalid TLSRPT record" "$T/send.log" || fail "6. broken not logged"
ok "6. reasons logged"
expect_eq "nothing else arrived" 5 "$(got "SELECT COUNT(*) FROM report")"
echo "e2e: $TESTS_RUN checks passed"
