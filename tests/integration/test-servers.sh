#!/bin/sh
# Integration test of the test servers the sender tests use:
# tests/tools/mkcerts.sh, https-sink.py and smtp-sink.py, driven by the
# curl command line on loopback. HTTPS status codes and saved requests,
# certificate failures (unknown CA, wrong CA, expired), plain HTTP, IPv6,
# 1000 concurrent POSTs; SMTP with required STARTTLS, refused plaintext,
# AUTH, temporary failure. Every server is started here and killed on exit.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

command -v curl >/dev/null 2>&1 || fail "curl not installed (Debian package curl)"
$PY -c 'import aiosmtpd' 2>/dev/null || fail "python3-aiosmtpd not installed"


sh tests/tools/mkcerts.sh "$T/pki" || fail "mkcerts.sh"
PKI=$T/pki
for f in ca.pem ca.key server.pem server.key wrongca.pem wrong.pem wrong.key expired.pem expired.key; do
	[ -s "$PKI/$f" ] || fail "mkcerts.sh did not write $f"
done
ok "mkcerts.sh wrote the CA, server, wrong and expired certificates"

# The report body: gzipped JSON, binary bytes.
gzip -n -c tests/data/golden/mixed-ipv6.json >"$T/report.gz"
SIZE=$(wc -c <"$T/report.gz" | tr -d ' ')

# --- 1. HTTPS sink, valid certificate ---------------------------------
REQ=$T/req
start_sink https $PY tests/tools/https-sink.py --port 0 --host 127.0.0.1 \
    --cert "$PKI/server.pem" --key "$PKI/server.key" --dir "$REQ"
HP=$SINK_PORT
URL=https://127.0.0.1:$HP

# post PATH [curl args...]: POSTs report.gz, prints the HTTP status code
# and leaves curl's stderr in $T/curl.err; curl's exit status is returned.
post() {
	p=$1
	shift
	curl -q -sS -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" \
	    -H 'Content-Type: application/tlsrpt+gzip' --data-binary @"$T/report.gz" \
	    "$@" "$URL$p" 2>"$T/curl.err"
}

expect_eq "POST /ok -> 200" 200 "$(post /ok)"
cmp -s "$T/report.gz" "$REQ/000001.body" || fail "saved body differs from the posted bytes"
ok "body saved byte for byte"
expect_eq "meta: method" POST "$(jget "$REQ/000001.meta.json" method)"
expect_eq "meta: path" /ok "$(jget "$REQ/000001.meta.json" path)"
expect_eq "meta: status" 200 "$(jget "$REQ/000001.meta.json" status)"
expect_eq "meta: length" "$SIZE" "$(jget "$REQ/000001.meta.json" length)"
expect_eq "meta: Content-Type recorded (lower-case key)" application/tlsrpt+gzip \
    "$(jget "$REQ/000001.meta.json" headers content-type)"
expect_eq "POST /created -> 201" 201 "$(post /created)"
expect_eq "POST /accepted -> 202" 202 "$(post /accepted)"
expect_eq "POST /bad -> 400" 400 "$(post /bad)"
expect_eq "POST /error -> 500" 500 "$(post /error)"
expect_eq "POST /unknown -> 404" 404 "$(post /unknown)"
expect_eq "query string ignored for routing" 200 "$(post '/ok?dest=a')"
expect_eq "GET -> 405" 405 "$(curl -q -sS -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" "$URL/ok")"
expect_eq "statuses saved in order" "201 202 400 500 404 200 405" \
    "$(for n in 2 3 4 5 6 7 8; do jget "$REQ/00000$n.meta.json" status; done | tr '\n' ' ' | sed 's/ $//')"

out=$(curl -q -sS -o /dev/null -w '%{http_code} %{num_redirects} %{redirect_url}' \
    --cacert "$PKI/ca.pem" --data-binary @"$T/report.gz" "$URL/redirect")
expect_eq "/redirect -> 302 to /ok, not followed" "302 0 $URL/ok" "$out"
expect_eq "redirect not followed: one request saved" 9 "$(count "$REQ" .meta.json)"

codes=""
for _ in 1 2 3 4; do
	codes="$codes $(post '/flaky?fail=2')"
done
expect_eq "/flaky?fail=2: 500 twice, then 200" " 500 500 200 200" "$codes"
expect_eq "/flaky counts per target" "500 200 500 500 200" \
    "$(post '/flaky?fail=1&id=b') $(post '/flaky?fail=1&id=b') $(post /flaky) $(post /flaky) $(post /flaky)"

expect_eq "chunked upload -> 200" 200 "$(post /ok -H 'Transfer-Encoding: chunked')"
last=$(count "$REQ" .meta.json)
last=$(printf '%06d' "$last")
cmp -s "$T/report.gz" "$REQ/$last.body" || fail "chunked body not saved byte for byte"
expect_eq "chunked: meta length" "$SIZE" "$(jget "$REQ/$last.meta.json" length)"

# localhost resolved by curl itself: no resolver involved.
expect_eq "DNS:localhost in the certificate" 200 \
    "$(curl -q -sS -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" -d x \
    --resolve "localhost:$HP:127.0.0.1" "https://localhost:$HP/ok")"

head -c $((50 * 1024 * 1024 + 1)) /dev/zero >"$T/big"
before=$(count "$REQ" .meta.json)
code=$(curl -q -sS -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" \
    --data-binary @"$T/big" "$URL/ok" 2>"$T/curl.err")
expect_eq "body over 50 MiB -> 413" 413 "$code"
expect_eq "413 recorded" 413 "$(jget "$REQ/$(printf '%06d' $((before + 1))).meta.json" status)"
rm -f "$T/big"

before=$(count "$REQ" .meta.json)
rc=0
post '/slow?delay=5' --max-time 1 >/dev/null || rc=$?
expect_eq "/slow: client timeout (curl exit 28)" 28 "$rc"
expect_eq "/slow: request saved before the answer" $((before + 1)) "$(count "$REQ" .meta.json)"

# 1000 concurrent POSTs over up to 50 connections.
before=$(count "$REQ" .meta.json)
curl -q -sS --parallel --parallel-max 50 --cacert "$PKI/ca.pem" \
    -H 'Content-Type: application/tlsrpt+gzip' --data-binary @"$T/report.gz" \
    -o /dev/null -w '%{http_code}\n' "$URL/ok?n=[1-1000]" >"$T/codes" 2>"$T/curl.err" ||
    fail "parallel curl: $(cat "$T/curl.err")"
expect_eq "1000 concurrent POSTs -> 1000 x 200" 1000 "$(grep -c '^200$' "$T/codes")"
expect_eq "1000 concurrent POSTs saved" $((before + 1000)) "$(count "$REQ" .meta.json)"
$PY -c 'import sys, os
d, first, n, ref = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), open(sys.argv[4], "rb").read()
for i in range(first, first + n):
    if open(os.path.join(d, "%06d.body" % i), "rb").read() != ref:
        sys.exit("%06d.body differs" % i)' "$REQ" $((before + 1)) 1000 "$T/report.gz" ||
    fail "concurrent bodies"
ok "1000 concurrent bodies numbered without gaps, all byte for byte"
expect_eq "no temporary files left" 0 "$(find "$REQ" -name '.*.tmp' | wc -l | tr -d ' ')"

# --- 2. certificate failures --------------------------------------------
before=$(count "$REQ" .meta.json)
rc=0
curl -q -sS -o /dev/null --data-binary @"$T/report.gz" "$URL/ok" 2>"$T/curl.err" || rc=$?
expect_eq "client without the test CA: verification fails (curl exit 60)" 60 "$rc"
expect_eq "failed handshake: nothing saved" "$before" "$(count "$REQ" .meta.json)"
grep -q '^tls-error 127.0.0.1:' "$T/https.out" || fail "no tls-error line"
ok "failed handshake logged"

start_sink https-wrong $PY tests/tools/https-sink.py --cert "$PKI/wrong.pem" \
    --key "$PKI/wrong.key" --dir "$T/req-wrong"
WP=$SINK_PORT
rc=0
curl -q -sS -o /dev/null --cacert "$PKI/ca.pem" --data-binary @"$T/report.gz" \
    "https://127.0.0.1:$WP/ok" 2>"$T/curl.err" || rc=$?
expect_eq "certificate from another CA: curl exit 60" 60 "$rc"
grep -q "unable to get local issuer certificate" "$T/curl.err" || fail "wrong CA: $(cat "$T/curl.err")"
expect_eq "wrong CA: nothing saved" 0 "$(count "$T/req-wrong" .meta.json)"
code=$(curl -q -sS -k -o /dev/null -w '%{http_code}' --data-binary @"$T/report.gz" \
    "https://127.0.0.1:$WP/ok")
expect_eq "wrong CA with --insecure: 200 (only verification failed)" 200 "$code"

start_sink https-expired $PY tests/tools/https-sink.py --cert "$PKI/expired.pem" \
    --key "$PKI/expired.key" --dir "$T/req-expired"
EP=$SINK_PORT
rc=0
curl -q -sS -o /dev/null --cacert "$PKI/ca.pem" --data-binary @"$T/report.gz" \
    "https://127.0.0.1:$EP/ok" 2>"$T/curl.err" || rc=$?
expect_eq "expired certificate: curl exit 60" 60 "$rc"
grep -q "expired" "$T/curl.err" || fail "expired: $(cat "$T/curl.err")"
ok "expired: curl names the expiry"
code=$(curl -q -sS -k -o /dev/null -w '%{http_code}' --data-binary @"$T/report.gz" \
    "https://127.0.0.1:$EP/ok")
expect_eq "expired with --insecure: 200" 200 "$code"

# --- 3. plain HTTP, IPv6 ---------------------------------------------------
start_sink http $PY tests/tools/https-sink.py --dir "$T/req-http"
PP=$SINK_PORT
out=$(curl -q -sS -o /dev/null -w '%{http_code}' --data-binary @"$T/report.gz" \
    "http://127.0.0.1:$PP/ok")
expect_eq "plain HTTP POST -> 200" 200 "$out"
cmp -s "$T/report.gz" "$T/req-http/000001.body" || fail "plain HTTP body differs"
out=$(curl -q -sS -o /dev/null -w '%{redirect_url}' -d x "http://127.0.0.1:$PP/redirect")
expect_eq "plain HTTP redirect keeps the scheme" "http://127.0.0.1:$PP/ok" "$out"

if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
	start_sink https6 $PY tests/tools/https-sink.py --host ::1 \
	    --cert "$PKI/server.pem" --key "$PKI/server.key" --dir "$T/req6"
	out=$(curl -q -sS -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" \
	    --data-binary @"$T/report.gz" "https://[::1]:$SINK_PORT/ok")
	expect_eq "HTTPS on ::1, IP:::1 in the certificate" 200 "$out"
else
	ok "# SKIP no ::1 on this host"
fi
if $PY tests/tools/https-sink.py --host 192.0.2.1 --dir "$T/x" >/dev/null 2>&1; then
	fail "https-sink accepted a non-loopback address"
fi
ok "https-sink refuses a non-loopback address"

# --- 4. SMTP ----------------------------------------------------------------
printf 'From: a@x.example\r\nTo: b@y.example\r\nSubject: test\r\n\r\nreport\r\n.leading dot\r\n' >"$T/msg"

# send_mail PORT [curl args...]: sends $T/msg; curl's stderr in $T/curl.err,
# its exit status returned. The path names the EHLO domain (curl would
# use the upload file's name otherwise).
send_mail() {
	mp=$1
	shift
	curl -q -sS --mail-from a@x.example --mail-rcpt b@y.example \
	    --upload-file "$T/msg" "$@" "smtp://127.0.0.1:$mp/client.example" 2>"$T/curl.err"
}

start_sink smtp-tls $PY tests/tools/smtp-sink.py --port 0 --maildir "$T/mail-tls" \
    --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" --require-starttls
SP=$SINK_PORT
send_mail "$SP" --ssl-reqd --cacert "$PKI/ca.pem" || fail "STARTTLS mail: $(cat "$T/curl.err")"
ok "mail over required STARTTLS accepted"
cmp -s "$T/msg" "$T/mail-tls/000001.eml" || fail "saved message differs"
ok "message saved byte for byte (dot-stuffing undone)"
E=$T/mail-tls/000001.envelope.json
expect_eq "envelope: MAIL FROM" a@x.example "$(jget "$E" mail_from)"
expect_eq "envelope: RCPT TO" '["b@y.example"]' "$(jget "$E" rcpt_tos)"
expect_eq "envelope: TLS" true "$(jget "$E" tls)"
expect_eq "envelope: EHLO name from the URL path" client.example "$(jget "$E" helo)"

rc=0
curl -q -sS -v --mail-from a@x.example --mail-rcpt b@y.example --upload-file "$T/msg" \
    "smtp://127.0.0.1:$SP/client.example" >/dev/null 2>"$T/curl.err" || rc=$?
expect_eq "plaintext against required STARTTLS: curl exit 55" 55 "$rc"
grep -q '^< 530 Must issue a STARTTLS command first' "$T/curl.err" ||
    fail "no 530 reply: $(cat "$T/curl.err")"
ok "server answers MAIL with '530 Must issue a STARTTLS command first'"
expect_eq "plaintext: nothing saved" 1 "$(count "$T/mail-tls" .eml)"

rc=0
send_mail "$SP" --ssl-reqd || rc=$?
expect_eq "STARTTLS without the test CA: curl exit 60" 60 "$rc"
expect_eq "unverified: nothing saved" 1 "$(count "$T/mail-tls" .eml)"

curl -q -sS --mail-from a@x.example --mail-rcpt b@y.example --mail-rcpt c@z.example \
    --upload-file "$T/msg" --ssl-reqd --cacert "$PKI/ca.pem" \
    "smtp://127.0.0.1:$SP/client.example" 2>"$T/curl.err" || fail "two recipients: $(cat "$T/curl.err")"
expect_eq "envelope: two recipients" '["b@y.example", "c@z.example"]' \
    "$(jget "$T/mail-tls/000002.envelope.json" rcpt_tos)"

start_sink smtp-plain $PY tests/tools/smtp-sink.py --maildir "$T/mail-plain" --fail-first 1
NP=$SINK_PORT
rc=0
send_mail "$NP" --ssl-reqd --cacert "$PKI/ca.pem" || rc=$?
expect_eq "--ssl-reqd against a server without STARTTLS: curl exit 64" 64 "$rc"
rc=0
code=$(send_mail "$NP" -w '%{response_code}') || rc=$?
expect_eq "--fail-first: 451 after DATA (curl exit 8, response code 451)" "8 451" "$rc $code"
expect_eq "--fail-first: nothing saved" 0 "$(count "$T/mail-plain" .eml)"
send_mail "$NP" || fail "plain mail after the temporary failure: $(cat "$T/curl.err")"
expect_eq "plain mail accepted after the temporary failure, tls false" false \
    "$(jget "$T/mail-plain/000001.envelope.json" tls)"

start_sink smtp-auth $PY tests/tools/smtp-sink.py --maildir "$T/mail-auth" \
    --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key" --require-starttls --auth
AP=$SINK_PORT
rc=0
send_mail "$AP" --ssl-reqd --cacert "$PKI/ca.pem" -v || rc=$?
expect_eq "AUTH required, none given: curl exit 55" 55 "$rc"
grep -q '^< 530 5.7.0 Authentication required' "$T/curl.err" || fail "no 530 5.7.0: $(cat "$T/curl.err")"
rc=0
send_mail "$AP" --ssl-reqd --cacert "$PKI/ca.pem" --user tlsrpt:wrong || rc=$?
expect_eq "AUTH with a wrong password: curl exit 67" 67 "$rc"
grep -q '^auth-failed user=tlsrpt$' "$T/smtp-auth.out" || fail "no auth-failed line"
expect_eq "failed AUTH: nothing saved" 0 "$(count "$T/mail-auth" .eml)"
send_mail "$AP" --ssl-reqd --cacert "$PKI/ca.pem" --user tlsrpt:secret || fail "AUTH PLAIN: $(cat "$T/curl.err")"
expect_eq "AUTH PLAIN: auth_user in the envelope" tlsrpt "$(jget "$T/mail-auth/000001.envelope.json" auth_user)"
send_mail "$AP" --ssl-reqd --cacert "$PKI/ca.pem" --user tlsrpt:secret --login-options AUTH=LOGIN ||
    fail "AUTH LOGIN: $(cat "$T/curl.err")"
expect_eq "AUTH LOGIN accepted" 2 "$(count "$T/mail-auth" .eml)"
if $PY tests/tools/smtp-sink.py --maildir "$T/x" --auth >/dev/null 2>&1; then
	fail "smtp-sink --auth without TLS started"
fi
ok "smtp-sink --auth without a certificate refused"

echo "test-servers: $TESTS_RUN checks passed"
