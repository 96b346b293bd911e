#!/bin/sh
# Integration test of the report mail (lib/mail.c) and its DKIM signature
# (lib/dkim.c): a throw-away RSA key, its public half served by a real
# dnsmasq on loopback, and two independent verifiers asking that server:
# our dkim_verify_mail() on libopendkim (tests/tools/dkim-verify.c) and
# dkimpy in its RFC 8460 mode (tests/tools/dkimpy-verify.py). Also parses
# the mail with Python's email package and gunzips the attachment back to
# the report. Then dkim_verify_mail()'s verdicts on the real DNS path: key
# missing (NXDOMAIN, no TXT), a server that refuses, an IPv6 server, the
# system resolver, LF line endings.
#
# Needs: $TOOLS/mail-compose, dkim-verify and txt-lookup, openssl, dnsmasq
# (Debian dnsmasq-base), /usr/bin/python3 with dkim and dns (python3-dkim,
# python3-dnspython).
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

REPORT=tests/data/golden/sts.json
SIGNER=reporter.example

for tool in mail-compose dkim-verify txt-lookup; do
	[ -x "$TOOLS/$tool" ] || fail "$TOOLS/$tool is not built"
done
[ -x /usr/sbin/dnsmasq ] || fail "dnsmasq missing (Debian package dnsmasq-base)"
command -v openssl >/dev/null 2>&1 || fail "openssl missing (Debian package openssl)"
$PY -c 'import dkim, dns.resolver' 2>/dev/null ||
	fail "$PY cannot import dkim and dns (Debian python3-dkim python3-dnspython)"

# --- 1. key and DNS -----------------------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/key.pem" \
	2>/dev/null || fail "openssl genpkey"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" \
	2>/dev/null || fail "openssl genpkey EC"
PUB=$(openssl pkey -in "$T/key.pem" -pubout -outform DER | base64 | tr -d '\n')
[ "${#PUB}" -gt 300 ] || fail "public key too short: ${#PUB}"

# One key, four selectors that differ only in the service type (s=).
record() {
	echo "--txt-record=$1._domainkey.$SIGNER,v=DKIM1; k=rsa; ${2:+s=$2; }p=$PUB"
}

# reporter.example is local: a name without a record is NXDOMAIN, and
# nodata. has an address but no TXT. Other names get REFUSED (no upstream).
cat >"$T/dnsmasq.conf" <<'EOF'
local=/reporter.example/
host-record=nodata._domainkey.reporter.example,192.0.2.1
EOF
# ::1 is optional on CI machines; the IPv6 case needs it.
HAVE_IPV6=0
if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
	HAVE_IPV6=1
	DNS_LISTEN_EXTRA=--listen-address=::1
fi
# multi has two TXT records, only one of them a key; dnsmasq answers
# the one given last first.
start_dns "$T/dnsmasq.conf" "$(record tlsrpt tlsrpt)" "$(record email email)" \
	"$(record both email:tlsrpt)" "$(record any '')" \
	"$(record multi tlsrpt)" "--txt-record=multi._domainkey.$SIGNER,site-verification=x"
DNS=127.0.0.1:$DNS_PORT
LOGFILE=$T/dnsmasq.log

# The record is longer than 255 bytes, so it travels as several strings
# that every verifier must join; check that this case is really tested.
strings=$($PY -c '
import sys, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv[1])
a = r.resolve("tlsrpt._domainkey.reporter.example", "TXT", lifetime=5)
print(len(a[0].strings), b"".join(a[0].strings).decode().split("; p=")[0])
' "$DNS_PORT") || fail "TXT query to dnsmasq"
expect_eq "key record served as 2 strings (over 255 bytes)" "2 v=DKIM1; k=rsa; s=tlsrpt" \
	"$strings"

# --- 2. compose and sign ------------------------------------------------
compose() {
	"$TOOLS/mail-compose" "$@" "$REPORT" || fail "mail-compose $*"
}
compose >"$T/plain.eml"
for sel in tlsrpt email both any missing nodata multi; do
	compose -k "$T/key.pem" -s "$sel" -d "$SIGNER" >"$T/$sel.eml"
done

# --- 3. the mail parses as an RFC 8460 report ---------------------------
$PY -c '
import email, gzip, sys
from email import policy
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.default)
parts = list(m.iter_parts())
att = parts[-1]
data = att.get_payload(decode=True)
print(m.get_content_type(), m.get_param("report-type"))
print(m["Subject"])
print(m["TLS-Report-Domain"], m["TLS-Report-Submitter"], m["TLS-Required"],
      m["Auto-Submitted"], m["MIME-Version"])
print(" ".join(p.get_content_type() for p in parts), parts[0].get_content_charset())
print(att.get_content_disposition(), att["Content-Transfer-Encoding"])
print(att.get_filename())
print(att.get_param("name") == att.get_filename())
print(gzip.decompress(data) == open(sys.argv[2], "rb").read())
print(sum(len(p.defects) for p in m.walk()))
' "$T/tlsrpt.eml" "$REPORT" >"$T/parsed" 2>&1 || fail "python email: $(cat "$T/parsed")"
line() {
	sed -n "$1p" "$T/parsed"
}
expect_eq "top level multipart/report, report-type tlsrpt" "multipart/report tlsrpt" "$(line 1)"
expect_eq "Subject, unfolded" \
	"Report Domain: example.com Submitter: reporter.example Report-ID: <2026-03-14T00:00:00Z_idx1_example.com@reporter.example>" \
	"$(line 2)"
expect_eq "TLS-Report-Domain, -Submitter, TLS-Required, Auto-Submitted, MIME-Version" \
	"example.com reporter.example No auto-generated 1.0" "$(line 3)"
expect_eq "parts: text/plain us-ascii, then the gzip report" \
	"text/plain application/tlsrpt+gzip us-ascii" "$(line 4)"
expect_eq "attachment, base64" "attachment base64" "$(line 5)"
expect_eq "filename submitter!domain!begin!end!uid.json.gz" \
	"reporter.example!example.com!1773446400!1773532799!20260314T000000Zidx1examplecom.json.gz" \
	"$(line 6)"
expect_eq "Content-Type name= equals the filename" "True" "$(line 7)"
expect_eq "attachment gunzips to the report JSON, byte for byte" "True" "$(line 8)"
expect_eq "no MIME defects" "0" "$(line 9)"
grep -q "$(printf '[^\r]$')" "$T/tlsrpt.eml" && fail "a line without CR before LF"
grep -q '^$' "$T/tlsrpt.eml" && fail "an empty line without CR"
ok "CRLF line endings throughout"

# --- 4. the signature's tags --------------------------------------------
$PY -c '
import email, sys
h = email.message_from_bytes(open(sys.argv[1], "rb").read())["DKIM-Signature"]
tags = dict(t.strip().split("=", 1) for t in "".join(h.split()).split(";") if t)
print(tags["a"], tags["c"], tags["d"], tags["s"], "l" in tags)
print(tags["h"])
' "$T/tlsrpt.eml" >"$T/tags" || fail "DKIM-Signature tags"
expect_eq "a=rsa-sha256 c=relaxed/relaxed d= s=, no l=" \
	"rsa-sha256 relaxed/relaxed reporter.example tlsrpt False" "$(sed -n 1p "$T/tags")"
expect_eq "h= covers the RFC 8460 headers, over-signs From, Subject, TLS-Report-*" \
	"From:To:Date:Subject:Message-ID:MIME-Version:TLS-Report-Domain:TLS-Report-Submitter:TLS-Required:Content-Type:From:Subject:TLS-Report-Domain:TLS-Report-Submitter" \
	"$(sed -n 2p "$T/tags")"

# --- 5. verifiers, key service types -----------------------------------
# opendkim FILE [SERVER]: dkim_verify_mail()'s verdict (libopendkim);
# dkimpy MODE FILE: dkimpy's. The output goes to $T/v; a verifier that
# crashed instead of judging fails the test, so an expected "fail" can
# never be a crash.
opendkim() {
	rc=0
	"$TOOLS/dkim-verify" -n "${2-$DNS}" "$1" >"$T/v" 2>&1 || rc=$?
	judged dkim-verify $rc
}
dkimpy() {
	rc=0
	$PY tests/tools/dkimpy-verify.py -n "$DNS" --tlsrpt "$1" "$2" >"$T/v" 2>&1 || rc=$?
	judged dkimpy-verify $rc
}
judged() {
	if [ "$2" -gt 1 ] || ! grep -q '^result: ' "$T/v" || grep -q Sanitizer "$T/v"; then
		fail "$1 gave no verdict (exit $2): $(cat "$T/v")"
	fi
	return "$2"
}
v() {
	sed -n "s/^$1: //p" "$T/v"
}

opendkim "$T/any.eml" || fail "libopendkim, key without s=: $(cat "$T/v")"
expect_eq "libopendkim: key without s= passes, body hash matches" "pass *|match" \
	"$(v result) $(v key-service)|$(v body-hash)"
opendkim "$T/both.eml" || fail "libopendkim, s=email:tlsrpt: $(cat "$T/v")"
expect_eq "libopendkim: s=email:tlsrpt passes" "pass email:tlsrpt" "$(v result) $(v key-service)"
opendkim "$T/tlsrpt.eml" || fail "libopendkim, s=tlsrpt: $(cat "$T/v")"
expect_eq "libopendkim: s=tlsrpt passes (RFC 8460), key may sign reports" \
	"pass tlsrpt yes|match" "$(v result) $(v key-service) $(v key-tlsrpt)|$(v body-hash)"
opendkim "$T/email.eml" || fail "libopendkim, s=email: $(cat "$T/v")"
expect_eq "libopendkim: s=email passes, but the key is not a tlsrpt key" \
	"pass email no" "$(v result) $(v key-service) $(v key-tlsrpt)"
dkimpy strict "$T/tlsrpt.eml" || fail "dkimpy strict, s=tlsrpt: $(cat "$T/v")"
ok "dkimpy in strict RFC 8460 mode: s=tlsrpt key passes"
dkimpy strict "$T/email.eml" && fail "dkimpy strict passed an s=email key"
expect_eq "dkimpy strict: s=email key refused (RFC 8460 MAY ignore it)" \
	"Message is tlsrpt and Service Type is not tlsrpt" "$(v reason)"
dkimpy yes "$T/any.eml" || fail "dkimpy, key without s=: $(cat "$T/v")"
ok "dkimpy (tlsrpt, not strict): key without s= passes"
opendkim "$T/plain.eml" && fail "libopendkim passed an unsigned mail"
expect_eq "libopendkim: unsigned mail gets none" "none no signature" "$(v result) $(v reason)"

# Interop note, not an assertion: dkimpy and s=email:tlsrpt.
dkimpy yes "$T/both.eml"
echo "note - dkimpy on s=email:tlsrpt: $(v result) ($(v reason))"

# --- 6. tampering -------------------------------------------------------
# tamper NAME SED-SCRIPT: applied to any.eml (libopendkim) and tlsrpt.eml (dkimpy).
tamper() {
	sed "$2" "$T/any.eml" >"$T/$1-od.eml"
	sed "$2" "$T/tlsrpt.eml" >"$T/$1-py.eml"
	cmp -s "$T/any.eml" "$T/$1-od.eml" && fail "tamper $1 changed nothing"
}
tamper body 's/aggregate report/aggregate rep0rt/'
opendkim "$T/body-od.eml" && fail "libopendkim passed a changed body byte"
expect_eq "libopendkim: one body byte changed fails on the body hash" "fail mismatch" \
	"$(v result) $(v body-hash)"
dkimpy strict "$T/body-py.eml" && fail "dkimpy passed a changed body byte"
case $(v reason) in
"body hash mismatch"*) ok "dkimpy: one body byte changed fails on the body hash" ;;
*) fail "dkimpy body change: $(v reason)" ;;
esac

tamper domain 's/^TLS-Report-Domain: example.com/TLS-Report-Domain: example.net/'
opendkim "$T/domain-od.eml" && fail "libopendkim passed a changed TLS-Report-Domain"
expect_eq "libopendkim: TLS-Report-Domain changed fails (it is in h=)" \
	"fail signature verification failed" "$(v result) $(v reason)"
dkimpy strict "$T/domain-py.eml" && fail "dkimpy passed a changed TLS-Report-Domain"
ok "dkimpy: TLS-Report-Domain changed fails"

tamper second 's/^From: /TLS-Report-Domain: evil.example\r\nFrom: /'
opendkim "$T/second-od.eml" && fail "libopendkim passed an added TLS-Report-Domain"
ok "libopendkim: a second TLS-Report-Domain added on top fails (over-signed)"
dkimpy strict "$T/second-py.eml" && fail "dkimpy passed an added TLS-Report-Domain"
ok "dkimpy: a second TLS-Report-Domain added on top fails"

# Controls: changes DKIM allows must still pass, so the failures above
# come from the change and not from a verifier that fails everything.
tamper space 's/^TLS-Report-Domain: example.com/TLS-Report-Domain:   example.com/'
opendkim "$T/space-od.eml" || fail "libopendkim, relaxed whitespace: $(cat "$T/v")"
dkimpy strict "$T/space-py.eml" || fail "dkimpy, relaxed whitespace: $(cat "$T/v")"
ok "both: extra blanks in TLS-Report-Domain still pass (relaxed)"
tamper received 's/^From: /Received: from mx.reporter.example by mx.example.com;\r\n\tSat, 14 Mar 2026 04:00:01 +0000\r\nFrom: /'
opendkim "$T/received-od.eml" || fail "libopendkim, added Received: $(cat "$T/v")"
dkimpy strict "$T/received-py.eml" || fail "dkimpy, added Received: $(cat "$T/v")"
ok "both: a Received header added in transit still passes"

# --- 7. verdicts on the DNS path ----------------------------------------
opendkim "$T/missing.eml" && fail "passed without a key"
expect_eq "no key record (NXDOMAIN): fail, as the library says" \
	"fail|no key: missing._domainkey.$SIGNER: NXDOMAIN|-|no" \
	"$(v result)|$(v reason)|$(v key-service)|$(v key-tlsrpt)"
opendkim "$T/nodata.eml" && fail "passed without a key"
expect_eq "no TXT at the key name: fail" \
	"fail|no key: nodata._domainkey.$SIGNER: no TXT record" "$(v result)|$(v reason)"
compose -k "$T/key.pem" -s tlsrpt -d elsewhere.example >"$T/elsewhere.eml"
opendkim "$T/elsewhere.eml" && fail "passed without an answer"
expect_eq "server refuses the key query: temperror" \
	"temperror|key query: tlsrpt._domainkey.elsewhere.example: REFUSED from $DNS" \
	"$(v result)|$(v reason)"
first=$("$TOOLS/txt-lookup" -a -s "$DNS" "multi._domainkey.$SIGNER" | sed -n 1p) || true
expect_eq "two TXT records at multi., the first not a key" "txt: site-verification=x" "$first"
opendkim "$T/multi.eml" || fail "two TXT records: $(cat "$T/v")"
ok "two TXT records at the key name: the v=DKIM1 one is used, pass"
tr -d '\r' <"$T/tlsrpt.eml" >"$T/lf.eml"
opendkim "$T/lf.eml" || fail "LF line ends: $(cat "$T/v")"
ok "the same mail with LF line ends (as a mail store keeps it) passes"
if [ $HAVE_IPV6 = 1 ]; then
	opendkim "$T/tlsrpt.eml" "[::1]:$DNS_PORT" || fail "IPv6 server: $(cat "$T/v")"
	grep -q "query\[TXT\] tlsrpt._domainkey.$SIGNER from ::1" "$T/dnsmasq.log" ||
		fail "no key query from ::1 in the dnsmasq log"
	ok "key query to an IPv6 server [::1]:$DNS_PORT: pass"
else
	echo "# no ::1 on this machine: IPv6 server not tested"
fi
# The system resolver does not know reporter.example: NXDOMAIN (fail),
# or temperror on a machine without DNS; either way a verdict.
opendkim "$T/any.eml" '' && fail "system resolver passed a key only dnsmasq has"
case $(v result) in
fail | temperror) ok "-n '': system resolver asked, $(v result): $(v reason)" ;;
*) fail "system resolver: $(cat "$T/v")" ;;
esac
rc=0
"$TOOLS/dkim-verify" -n dns.example "$T/any.eml" >"$T/v" 2>&1 || rc=$?
expect_eq "bad server string refused, exit 2" "2 dkim-verify: bad DNS server 'dns.example'" \
	"$rc $(cut -d: -f1-2 "$T/v")"

# --- 8. signer errors ---------------------------------------------------
# sign_err NAME EXPECTED-START ARGS...: mail-compose must fail with that message.
sign_err() {
	name=$1
	want=$2
	shift 2
	"$TOOLS/mail-compose" "$@" "$REPORT" >/dev/null 2>"$T/err" &&
		fail "$name: mail-compose succeeded"
	case $(cat "$T/err") in
	"mail-compose: $want"*) ok "$name" ;;
	*) fail "$name: $(cat "$T/err")" ;;
	esac
}
sign_err "missing key file: cannot read key" "cannot read key $T/none.pem: No such file" \
	-k "$T/none.pem" -s tlsrpt -d "$SIGNER"
sign_err "EC key: bad key, not RSA" "bad key $T/ec.pem: not RSA" \
	-k "$T/ec.pem" -s tlsrpt -d "$SIGNER"
sign_err "selector with a newline: refused" "bad DKIM selector" \
	-k "$T/key.pem" -s "$(printf 'a\nb')" -d "$SIGNER"
sign_err "report domain with CRLF: refused before signing" "bad report domain" \
	-k "$T/key.pem" -s tlsrpt -d "$SIGNER" -D "$(printf 'example.com\r\nBcc: x@y.example')"

grep -q "query\[TXT\] tlsrpt._domainkey.$SIGNER from 127.0.0.1" "$T/dnsmasq.log" ||
	fail "no key query reached dnsmasq"
ok "key queries went to our dnsmasq"
echo "dkim: $TESTS_RUN tests"
