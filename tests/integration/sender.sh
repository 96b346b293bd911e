#!/bin/sh
# Integration test of tlsrpt-send with real servers on loopback: dnsmasq
# for _smtp._tls TXT records, https-sink.py with a throwaway CA as HTTPS
# rua target (plus one with a certificate from another CA), smtp-sink.py
# (aiosmtpd) as relay with STARTTLS required, with AUTH, and with a
# temporary failure. Reports come from tlsrpt-aggregate over counters
# written with sqlite3. Checks what arrives byte for byte, the delivery
# states, back-off, give-up, no-destination reasons, --dry-run and
# kill -9 in the middle of a delivery.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

DB=$T/tlsrpt.db
sh tests/tools/mkcerts.sh "$T/pki" || fail "mkcerts"
P=$T/pki
start_sink https $PY tests/tools/https-sink.py --dir "$T/https" --cert "$P/server.pem" --key "$P/server.key"
H=$SINK_PORT
start_sink wrong $PY tests/tools/https-sink.py --dir "$T/wrong" --cert "$P/wrong.pem" --key "$P/wrong.key"
W=$SINK_PORT
start_sink smtp $PY tests/tools/smtp-sink.py --maildir "$T/mail" --tls-cert "$P/server.pem" \
    --tls-key "$P/server.key" --require-starttls
S=$SINK_PORT

cat >"$T/dns.conf" <<EOD
local=/example/
txt-record=_smtp._tls.b.example,"v=TLSRPTv1; rua=https://127.0.0.1:$H/created?d=b,https://127.0.0.1:$H/bad?d=b"
txt-record=_smtp._tls.j.example,"v=TLSRPTv1;rua=mailto:tlsrpt@j.example",",https://localhost:$H/ok?d=j"
txt-record=_smtp._tls.f.example,"v=TLSRPTv1; rua=mailto:one@f.example"
txt-record=_smtp._tls.f.example,"v=TLSRPTv1; rua=mailto:two@f.example"
txt-record=_smtp._tls.g.example,"v=TLSRPTv1; rua=http://127.0.0.1:$H/ok"
txt-record=_smtp._tls.spf.example,"v=spf1 -all"
EOD
start_dns "$T/dns.conf"

cat >"$T/send.conf" <<EOC
database = $DB
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
	sqlite3 "$DB" "INSERT INTO policy_counter (day, report_domain, tlsrpt_record,
	    policy_type, policy_domain, policy_strings, mx_hosts, successful_sessions,
	    failed_sessions) VALUES ('$1', '$2', '$3', 2, '$2', '[\"version: STSv1\",\"mode: testing\"]',
	    '[]', 5, 1);
	    INSERT INTO failure_counter VALUES (last_insert_rowid(), 204, '192.0.2.1',
	    'mx.$2', '', '198.51.100.1', '', 'certificate has expired', 1)"
}
state() { sql "SELECT state FROM report WHERE report_domain='$1'"; }
dstate() { sql "SELECT state || '|' || attempts || '|' || last_error FROM delivery WHERE uri LIKE '%$1%'"; }

agg --day 2026-03-01 2>/dev/null || fail "create database"
D1=2026-03-14
add_counter $D1 a.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/ok?d=a,mailto:tlsrpt@a.example"
for d in b c d e f g h j; do
	add_counter $D1 $d.example ""
done
sql "UPDATE policy_counter SET tlsrpt_record='v=TLSRPTv1; rua=https://127.0.0.1:$H/error?d=c' WHERE report_domain='c.example'"
sql "UPDATE policy_counter SET tlsrpt_record='v=TLSRPTv1; rua=https://127.0.0.1:$H/redirect?d=d' WHERE report_domain='d.example'"
sql "UPDATE policy_counter SET tlsrpt_record='v=TLSRPTv1; rua=https://localhost:$W/ok?d=h' WHERE report_domain='h.example'"
agg --day $D1 2>"$T/agg.log" || fail "aggregate: $(cat "$T/agg.log")"
expect_eq "nine reports to send" 9 "$(sql "SELECT COUNT(*) FROM report WHERE state='pending'")"

# --- dry run --------------------------------------------------------------
snd --dry-run >"$T/dry.out" 2>"$T/dry.err" || fail "dry run: $(cat "$T/dry.err")"
grep -q "a.example $D1: would send to https://127.0.0.1:$H/ok?d=a" "$T/dry.out" || fail "dry run output: $(cat "$T/dry.out")"
grep -q "e.example $D1: no destination: no TXT record at _smtp._tls.e.example" "$T/dry.out" || fail "dry run e: $(cat "$T/dry.out")"
expect_eq "dry run writes nothing" "0|9" "$(sql "SELECT (SELECT COUNT(*) FROM delivery), (SELECT COUNT(*) FROM report WHERE state='pending')")"
expect_eq "dry run sends nothing" 0 "$(count "$T/https" .meta.json)"

# --- first run ------------------------------------------------------------
LOGFILE=$T/send1.log
snd 2>"$LOGFILE" || fail "send run failed"
expect_eq "a: report delivered" delivered "$(state a.example)"
expect_eq "a: https delivery" "delivered|1|" "$(dstate 'ok?d=a')"
expect_eq "a: mail delivery" "delivered|1|" "$(dstate 'mailto:tlsrpt@a.example')"
f=$(grep -l '"/ok?d=a"' "$T"/https/*.meta.json)
sql "SELECT writefile('$T/a.gz', gzip), writefile('$T/a.json', json) FROM report WHERE report_domain='a.example'" >/dev/null
cmp -s "$T/a.gz" "${f%.meta.json}.body" || fail "a: POSTed body differs from the stored gzip"
ok "a: POST body is exactly the stored gzip"
expect_eq "a: Content-Type" application/tlsrpt+gzip "$(jget "$f" headers content-type)"
env=$(grep -l 'tlsrpt@a.example' "$T"/mail/*.envelope.json)
expect_eq "a: mail went through STARTTLS" true "$(jget "$env" tls)"
expect_eq "a: envelope sender" tlsrpt-noreply@reporter.example "$(jget "$env" mail_from)"
$PY - "${env%.envelope.json}.eml" "$T/a.json" <<'EOPY' || fail "a: mail layout"
import email, email.policy, gzip, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.compat32)
want = open(sys.argv[2], "rb").read()
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
assert msg.get_param("report-type") == "tlsrpt"
assert msg["TLS-Report-Domain"] == "a.example"
assert msg["TLS-Report-Submitter"] == "reporter.example"
assert msg["TLS-Required"] == "No"
rid = __import__("json").loads(want)["report-id"]
subject = " ".join(msg["Subject"].split())
assert subject == "Report Domain: a.example Submitter: reporter.example Report-ID: <%s>" % rid, subject
parts = [p for p in msg.walk() if not p.is_multipart()]
att = [p for p in parts if p.get_content_type() == "application/tlsrpt+gzip"]
assert len(att) == 1
name = att[0].get_filename()
assert name.startswith("reporter.example!a.example!1773446400!1773532800!") and name.endswith(".json.gz"), name
assert gzip.decompress(att[0].get_payload(decode=True)) == want
print("mail ok")
EOPY
ok "a: mail is RFC 8460 multipart/report and its attachment gunzips to the report"

expect_eq "b: DNS record, one destination accepts" delivered "$(state b.example)"
expect_eq "b: 201 counts as delivered" "delivered|1|" "$(dstate 'created?d=b')"
expect_eq "b: 400 is a failure to retry" "pending|1|HTTP 400" "$(dstate 'bad?d=b')"
next=$(sql "SELECT next_attempt_at - strftime('%s','now') FROM delivery WHERE uri LIKE '%bad?d=b%'")
[ "$next" -ge 500 ] && [ "$next" -le 700 ] || fail "b: first retry in $next s, expected about 600"
ok "b: first retry about send_retry_base_s later ($next s)"
expect_eq "c: 500 retried later" "pending|1|HTTP 500" "$(dstate 'error?d=c')"
expect_eq "c: report still pending" pending "$(state c.example)"
expect_eq "d: redirect not followed" 1 "$(sql "SELECT last_error LIKE 'HTTP 302 redirect to https://127.0.0.1:$H/ok, not followed' FROM delivery WHERE uri LIKE '%redirect?d=d%'")"
grep -q '"/ok"' "$T"/https/*.meta.json && fail "d: the redirect target was requested"
ok "d: redirect target never requested"
expect_eq "e: no record" "no-destination|no TXT record at _smtp._tls.e.example" \
    "$(sql "SELECT state || '|' || plan_error FROM report WHERE report_domain='e.example'")"
expect_eq "f: two records" "no-destination|_smtp._tls.f.example: 2 TLSRPT records" \
    "$(sql "SELECT state || '|' || plan_error FROM report WHERE report_domain='f.example'")"
expect_eq "g: http-only record invalid" 1 \
    "$(sql "SELECT state = 'no-destination' AND plan_error LIKE 'invalid TLSRPT record%no usable rua%' FROM report WHERE report_domain='g.example'")"
grep -q "e.example $D1: no report sent: no TXT record" "$LOGFILE" || fail "no-destination not logged"
ok "no-destination reasons logged"
expect_eq "h: certificate from another CA refused" 1 \
    "$(sql "SELECT state = 'pending' AND attempts = 1 AND last_error LIKE '%certificate%' FROM delivery WHERE uri LIKE '%d=h%'")"
expect_eq "h: nothing reached the wrong server" 0 "$(count "$T/wrong" .meta.json)"
expect_eq "j: TXT split in several strings joined" "delivered|delivered" \
    "$(sql "SELECT group_concat(s, '|') FROM (SELECT d.state AS s FROM delivery d JOIN report r ON r.id = d.report WHERE r.report_domain = 'j.example' ORDER BY d.id)")"

# --- nothing is sent twice; retries and give-up -----------------------------
before=$(count "$T/https" .meta.json)
snd 2>"$T/send2.log" || fail "second run"
expect_eq "second run sends nothing not yet due" "$before" "$(count "$T/https" .meta.json)"
sql "UPDATE delivery SET next_attempt_at = 0 WHERE state = 'pending'"
snd -o send_retry_window_s=60 -o send_retry_base_s=120 2>"$T/send3.log" || fail "third run"
expect_eq "c: given up after the retry window" "failed|2|HTTP 500" "$(dstate 'error?d=c')"
expect_eq "c: report failed when every destination failed" failed "$(state c.example)"
expect_eq "b: delivered report stays delivered" delivered "$(state b.example)"
grep -q "giving up on .* to https://127.0.0.1:$H/error?d=c after 2 attempts: HTTP 500" "$T/send3.log" ||
	fail "give-up not logged: $(cat "$T/send3.log")"
ok "give-up logged"
expect_eq "delivered destinations never sent again" 1 "$(grep -c '"/ok?d=a"' "$T"/https/*.meta.json | awk -F: '{s += $2} END {print s}')"

# stage DAY DOMAIN RECORD: a new report, aggregated and waiting.
stage() {
	add_counter "$1" "$2" "$3"
	agg --day "$1" 2>>"$T/agg.log" || fail "aggregate $1"
}

# --- timeout --------------------------------------------------------------
stage 2026-03-02 m.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/slow?delay=10&d=m"
snd -o send_timeout_s=2 2>"$T/send4.log" || fail "timeout run"
expect_eq "m: timeout is a failure to retry" 1 \
    "$(sql "SELECT state = 'pending' AND last_error LIKE '%timed out%' FROM delivery WHERE uri LIKE '%d=m%'")"

# --- kill -9 in the middle of a delivery -------------------------------------
sql "UPDATE delivery SET next_attempt_at = strftime('%s','now') + 86400 WHERE state = 'pending'"
stage 2026-03-03 k.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/slow?delay=3&d=k"
stage 2026-03-04 l.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/ok?d=l"
"$BIN/tlsrpt-send" -c "$T/send.conf" -o send_concurrency=1 -o send_timeout_s=30 2>"$T/send5.log" &
SPID=$!
PIDS="$PIDS $SPID"
i=0
until [ "$(sql "SELECT state FROM delivery WHERE uri LIKE '%d=k%'" 2>/dev/null)" = in-flight ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "k never in flight"; sleep 0.05
done
until [ "$(count "$T/https" .meta.json)" -gt "$before" ] && grep -q '"/slow?delay=3&d=k"' "$T"/https/*.meta.json; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "k never reached the server"; sleep 0.05
done
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
expect_eq "after kill -9: k in flight, l still pending" "in-flight|pending" \
    "$(sql "SELECT (SELECT state FROM delivery WHERE uri LIKE '%d=k%') || '|' || (SELECT state FROM delivery WHERE uri LIKE '%d=l%')")"
delivered_before=$(sql "SELECT COUNT(*) FROM delivery WHERE state = 'delivered'")
snd -o send_timeout_s=30 2>"$T/send6.log" || fail "run after kill -9"
grep -q "1 deliveries were in flight when the last run stopped" "$T/send6.log" || fail "recovery not logged: $(cat "$T/send6.log")"
expect_eq "k and l delivered after the restart" "delivered|delivered" \
    "$(sql "SELECT (SELECT state FROM delivery WHERE uri LIKE '%d=k%') || '|' || (SELECT state FROM delivery WHERE uri LIKE '%d=l%')")"
expect_eq "only the in-flight one was sent twice" "2|1" \
    "$(grep -l '"/slow?delay=3&d=k"' "$T"/https/*.meta.json | wc -l)|$(grep -l '"/ok?d=l"' "$T"/https/*.meta.json | wc -l)"
expect_eq "nothing delivered before the crash was sent again" "$((delivered_before + 2))" \
    "$(sql "SELECT COUNT(*) FROM delivery WHERE state = 'delivered'")"
expect_eq "a: still exactly one POST" 1 "$(grep -l '"/ok?d=a"' "$T"/https/*.meta.json | wc -l)"

# --- SMTP relay with AUTH, relay with a temporary failure, TLS refused -------
start_sink smtpauth $PY tests/tools/smtp-sink.py --maildir "$T/mailauth" --tls-cert "$P/server.pem" \
    --tls-key "$P/server.key" --require-starttls --auth
SA=$SINK_PORT
printf 'secret\n' >"$T/pw"
stage 2026-03-05 n.example "v=TLSRPTv1; rua=mailto:tlsrpt@n.example"
snd -o "smtp_relay=smtp://127.0.0.1:$SA/reporter.example" -o smtp_user=tlsrpt \
    -o "smtp_password_file=$T/pw" 2>"$T/send7.log" || fail "auth run"
expect_eq "n: delivered through an AUTH relay" "delivered|1|" "$(dstate 'tlsrpt@n.example')"
expect_eq "n: relay saw the AUTH user" tlsrpt "$(jget "$(ls "$T"/mailauth/*.envelope.json)" auth_user)"
start_sink smtpfail $PY tests/tools/smtp-sink.py --maildir "$T/mailfail" --fail-first 1
SF=$SINK_PORT
stage 2026-03-06 o.example "v=TLSRPTv1; rua=mailto:tlsrpt@o.example"
snd -o "smtp_relay=smtp://127.0.0.1:$SF/reporter.example" -o smtp_require_tls=yes 2>"$T/send8.log" || fail "notls run"
expect_eq "o: relay without STARTTLS refused when TLS is required" 1 \
    "$(sql "SELECT state = 'pending' AND attempts = 1 FROM delivery WHERE uri LIKE '%o.example%'")"
expect_eq "o: nothing reached the plaintext relay" 0 "$(count "$T/mailfail" .eml)"
sql "UPDATE delivery SET next_attempt_at = 0 WHERE uri LIKE '%o.example%'"
snd -o "smtp_relay=smtp://127.0.0.1:$SF/reporter.example" -o smtp_require_tls=no 2>"$T/send9.log" || fail "tempfail run"
expect_eq "o: 451 after DATA is retried" 1 \
    "$(sql "SELECT state = 'pending' AND attempts = 2 AND response_code = 451 FROM delivery WHERE uri LIKE '%o.example%'")"
sql "UPDATE delivery SET next_attempt_at = 0 WHERE uri LIKE '%o.example%'"
snd -o "smtp_relay=smtp://127.0.0.1:$SF/reporter.example" -o smtp_require_tls=no 2>"$T/send10.log" || fail "retry run"
expect_eq "o: delivered on the third attempt" "delivered|3|" "$(dstate 'tlsrpt@o.example')"

# --- without a relay: sendmail -i -t ----------------------------------------
cat >"$T/sendmail" <<EOS
#!/bin/sh
echo "\$@" >"$T/sendmail.args"
cat >"$T/sendmail.msg"
EOS
chmod +x "$T/sendmail"
stage 2026-03-07 q.example "v=TLSRPTv1; rua=mailto:tlsrpt@q.example"
snd -o smtp_relay= -o "sendmail_path=$T/sendmail" 2>"$T/send11.log" || fail "sendmail run"
expect_eq "q: delivered through sendmail" "delivered|1|" "$(dstate 'tlsrpt@q.example')"
expect_eq "q: sendmail called with -i -t" "-i -t" "$(cat "$T/sendmail.args")"
grep -q "^To: tlsrpt@q.example" "$T/sendmail.msg" || fail "q: To header missing"
ok "q: message handed to sendmail"

# --- DKIM-signed report mail, verified by libopendkim against dnsmasq --------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/dkim.pem" 2>/dev/null ||
	fail "openssl genpkey"
PUB=$(openssl pkey -in "$T/dkim.pem" -pubout -outform DER | base64 | tr -d '\n')
MAIN_DNS=$DNS_PORT
start_dns /dev/null "--txt-record=tlsrpt._domainkey.reporter.example,v=DKIM1; k=rsa; p=$PUB"
stage 2026-03-08 r.example "v=TLSRPTv1; rua=mailto:tlsrpt@r.example"
snd -o "dkim_key=$T/dkim.pem" -o dkim_selector=tlsrpt -o dkim_domain=reporter.example \
    2>"$T/send12.log" || fail "dkim run: $(cat "$T/send12.log")"
expect_eq "r: signed mail delivered" "delivered|1|" "$(dstate 'tlsrpt@r.example')"
eml=$(grep -l 'tlsrpt@r.example' "$T"/mail/*.envelope.json)
eml=${eml%.envelope.json}.eml
"$TOOLS/dkim-verify" -n "127.0.0.1:$DNS_PORT" "$eml" >"$T/dkim.out" 2>&1 ||
	fail "r: DKIM signature does not verify: $(tr "\n" " " <"$T/dkim.out")"
grep -q "^headers: .*tls-report-domain" "$T/dkim.out" || grep -qi "^headers: .*TLS-Report-Domain" "$T/dkim.out" ||
	fail "r: TLS-Report-Domain not signed: $(cat "$T/dkim.out")"
ok "r: DKIM signature verifies with libopendkim, TLS-Report-* headers signed"
[ "$MAIN_DNS" != "$DNS_PORT" ] || fail "second dnsmasq reused the port"

# --- 202 accepted; first attempts spread over send_spread_s ---------------
stage 2026-03-09 s.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/accepted?d=s"
snd 2>"$T/send13.log" || fail "202 run"
expect_eq "s: 202 counts as delivered" "delivered|1|" "$(dstate 'accepted?d=s')"
for d in t u v w x y z; do
	add_counter 2026-03-10 $d.example "v=TLSRPTv1; rua=https://127.0.0.1:$H/ok?d=$d"
done
agg --day 2026-03-10 2>>"$T/agg.log" || fail "aggregate spread day"
now=$(date +%s)
snd -o send_spread_s=3600 2>"$T/send14.log" || fail "spread run"
expect_eq "spread: nothing due yet was sent" 0 "$(grep -c '"/ok?d=[t-z]"' "$T"/https/*.meta.json | awk -F: '{s += $2} END {print s}')"
spread=$(sql "SELECT MIN(next_attempt_at) - $now >= 0 AND MAX(next_attempt_at) - $now <= 3601 AND MAX(next_attempt_at) > MIN(next_attempt_at) FROM delivery d JOIN report r ON r.id = d.report WHERE r.day = '2026-03-10'")
expect_eq "spread: first attempts at distinct moments within send_spread_s" 1 "$spread"
echo "sender: $TESTS_RUN checks passed"
