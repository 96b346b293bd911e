#!/bin/sh
# Integration test of lib/dns.c + lib/txt.c against a real DNS server:
# dnsmasq on loopback with a high port, serving TLSRPT records in every
# shape the lookup has to handle (multi-string records, several records,
# SPF only, NXDOMAIN, NODATA, CNAME, records over 255, 1200 and 4096
# bytes, more than 16 records), queried through tests/tools/txt-lookup,
# over IPv4 and IPv6, then the failures: REFUSED, a stopped server
# (timeout) and a port where nothing listens.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

LOOKUP=${TOOLS:-$BIN/../tests}/txt-lookup
DNSMASQ=/usr/sbin/dnsmasq
[ -x "$LOOKUP" ] || fail "$LOOKUP not built"
[ -x "$DNSMASQ" ] || fail "dnsmasq not installed (Debian package dnsmasq-base)"

# ::1 is optional on CI machines; the IPv6 case needs it.
HAVE_IPV6=0
if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
	HAVE_IPV6=1
fi

# --- records ------------------------------------------------------------
# Records with commas go in a config file: only there does dnsmasq honour
# quotes. Unquoted commas separate character-strings and are dropped.
# dnsmasq cuts config lines at about 1 KB, so the long records (no
# commas) are given on the command line.
CONF=$T/dnsmasq.conf
cat >"$CONF" <<'EOF'
local=/example/
txt-record=_smtp._tls.plain.example,"v=TLSRPTv1; rua=mailto:tls@plain.example,https://r.plain.example/tlsrpt"
txt-record=_smtp._tls.split.example,"v=TLSRPTv1; rua=mailto:a@split.example",",https://r.split.example/x",", MAILTO:b@split.example"
txt-record=_smtp._tls.bare.example,v=TLSRPTv1; rua=mailto:a@bare.example,https://r.bare.example/x
txt-record=_smtp._tls.two.example,"v=TLSRPTv1; rua=mailto:a@two.example"
txt-record=_smtp._tls.two.example,"v=TLSRPTv1;rua=mailto:b@two.example"
txt-record=_smtp._tls.spf.example,"v=spf1 -all"
txt-record=_smtp._tls.mixed.example,"v=spf1 -all"
txt-record=_smtp._tls.mixed.example,"v=TLSRPTv10; rua=mailto:x@mixed.example"
txt-record=_smtp._tls.mixed.example,"v=TLSRPTv1 ; rua=http://h.mixed.example/,mailto:a@mixed.example"
cname=_smtp._tls.alias.example,_smtp._tls.plain.example
host-record=_smtp._tls.aonly.example,192.0.2.1
EOF
i=1
while [ $i -le 17 ]; do
	echo "txt-record=_smtp._tls.many.example,\"v=spf1 include:n$i.example -all\"" >>"$CONF"
	i=$((i + 1))
done
# long_record BYTES DOMAIN: a valid record of exactly BYTES bytes.
long_record() {
	head="v=TLSRPTv1; rua=mailto:a@$2; x="
	printf '%s' "$head"
	head -c $(($1 - ${#head})) /dev/zero | tr '\0' 0
}
R600=$(long_record 600 long.example)
R3000=$(long_record 3000 big.example)
R5000=$(long_record 5000 huge.example)
expect_eq "generated 600-byte record" 600 "${#R600}"

# --- start dnsmasq --------------------------------------------------------
# A free high port: dnsmasq exits at once when the bind fails, then we
# try the next one. Ready means it answers a record only it can have.
DNSLOG=$T/dnsmasq.log
LOGFILE=$DNSLOG
[ $HAVE_IPV6 = 1 ] && DNS_LISTEN_EXTRA=--listen-address=::1
start_dns "$CONF" --txt-record="_smtp._tls.long.example,$R600" \
    --txt-record="_smtp._tls.big.example,$R3000" \
    --txt-record="_smtp._tls.huge.example,$R5000"
PORT=$DNS_PORT
DNSMASQ_PID=$DNS_PID
ok "dnsmasq answering on 127.0.0.1:$PORT"

# lookup NAME [server]: runs txt-lookup -a; sets OUT (all lines), LAST
# (the result line) and RC.
lookup() {
	RC=0
	OUT=$("$LOOKUP" -a -s "${2:-127.0.0.1:$PORT}" "$1" 2>&1) || RC=$?
	LAST=$(printf '%s\n' "$OUT" | tail -n 1)
}
# expect_lookup WHAT NAME RC RESULT-LINE [server]
expect_lookup() {
	lookup "$2" "$5"
	expect_eq "$1: result" "$4" "$LAST"
	expect_eq "$1: exit code" "$3" "$RC"
}

# --- answers ----------------------------------------------------------------
expect_lookup "one record, one string" _smtp._tls.plain.example 0 "ok tls@plain.example https://r.plain.example/tlsrpt"
expect_eq "a quoted string keeps its commas" \
    "txt: v=TLSRPTv1; rua=mailto:tls@plain.example,https://r.plain.example/tlsrpt" \
    "$(printf '%s\n' "$OUT" | grep '^txt:')"

expect_lookup "one record in three strings" _smtp._tls.split.example 0 \
    "ok a@split.example https://r.split.example/x b@split.example"
expect_eq "three character-strings joined with no separator give the record back" \
    "txt: v=TLSRPTv1; rua=mailto:a@split.example,https://r.split.example/x, MAILTO:b@split.example" \
    "$(printf '%s\n' "$OUT" | grep '^txt:')"

# Unquoted, dnsmasq drops the commas; joined with no separator (as
# Postfix does) the URIs run together and nothing usable is left.
expect_lookup "commas lost to dnsmasq" _smtp._tls.bare.example 2 \
    "invalid: no usable rua URI (1 skipped; first 'mailto:a@bare.examplehttps://r.bare.example/x': address with a bad domain)"

expect_lookup "two TLSRPT records" _smtp._tls.two.example 2 "invalid: 2 TLSRPT records"
expect_eq "both TLSRPT records returned" 2 "$(printf '%s\n' "$OUT" | grep -c '^txt: v=TLSRPTv1')"
expect_lookup "SPF only" _smtp._tls.spf.example 1 "none: no TLSRPT record"
lookup _smtp._tls.mixed.example
expect_eq "SPF, v=TLSRPTv10 and 'v=TLSRPTv1 ;': one TLSRPT record, http skipped" \
    "note: 1 rua URI skipped; first 'http://h.mixed.example/': scheme http not supported
ok a@mixed.example" "$(printf '%s\n' "$OUT" | grep -v '^txt:')"
expect_eq "mixed: exit code" 0 "$RC"

expect_lookup "NXDOMAIN" _smtp._tls.nx.example 1 "none: _smtp._tls.nx.example: NXDOMAIN"
expect_lookup "NODATA (A record only)" _smtp._tls.aonly.example 1 "none: _smtp._tls.aonly.example: no TXT record"
expect_lookup "CNAME to a record" _smtp._tls.alias.example 0 "ok tls@plain.example https://r.plain.example/tlsrpt"
grep -q "config _smtp._tls.alias.example is <CNAME>" "$DNSLOG" || fail "alias was not answered with a CNAME"
ok "the alias was answered through a CNAME"

expect_lookup "600-byte record" _smtp._tls.long.example 0 "ok a@long.example"
expect_eq "600-byte record (several 255-byte strings) joined back" "txt: $R600" \
    "$(printf '%s\n' "$OUT" | grep '^txt:')"
expect_lookup "3000-byte record" _smtp._tls.big.example 0 "ok a@big.example"
expect_eq "3000-byte record, over the EDNS0 UDP size, arrives whole" "txt: $R3000" \
    "$(printf '%s\n' "$OUT" | grep '^txt:')"
nq=$(grep -c "query\[TXT\] _smtp._tls.big.example" "$DNSLOG")
[ "$nq" -ge 2 ] || fail "3000-byte answer: $nq queries; expected UDP (truncated) then TCP"
ok "3000-byte answer fetched again over TCP after truncation"

expect_lookup "5000-byte record" _smtp._tls.huge.example 2 "invalid: record longer than 4096 bytes"
expect_eq "record over 4096 bytes noted" "note: 1 TXT records longer than 4096 bytes cut" \
    "$(printf '%s\n' "$OUT" | grep '^note:')"
expect_eq "record over 4096 bytes cut to 4097" "txt: $(printf '%s' "$R5000" | head -c 4097)" \
    "$(printf '%s\n' "$OUT" | grep '^txt:')"

expect_lookup "17 TXT records" _smtp._tls.many.example 1 "none: no TLSRPT record"
expect_eq "17 TXT records: 16 kept" 16 "$(printf '%s\n' "$OUT" | grep -c '^txt:')"
expect_eq "17 TXT records: the cap noted" "note: 1 TXT records beyond 16 ignored" \
    "$(printf '%s\n' "$OUT" | grep '^note:')"

if [ $HAVE_IPV6 = 1 ]; then
	expect_lookup "IPv6 server" _smtp._tls.plain.example 0 "ok tls@plain.example https://r.plain.example/tlsrpt" \
	    "[::1]:$PORT"
	grep -q "query\[TXT\] _smtp._tls.plain.example from ::1" "$DNSLOG" ||
	    fail "no query from ::1 in the dnsmasq log"
	ok "IPv6 server [::1]:$PORT used"
else
	echo "# no ::1 on this machine: IPv6 server not tested"
fi

# --- failures ---------------------------------------------------------------
expect_lookup "REFUSED" _smtp._tls.a.invalid 3 "tempfail: _smtp._tls.a.invalid: REFUSED from 127.0.0.1:$PORT"
expect_lookup "bad server string" _smtp._tls.plain.example 3 \
    "tempfail: bad DNS server '127.0.0.1:x': want an IPv4 or IPv6 literal with an optional :port ([IPv6]:port)" \
    "127.0.0.1:x"
for bad in "[::1" "::1]:53" "[::1]:" "127.0.0.1:0" "127.0.0.1:65536" "127.0.0.1:+53" \
    "localhost" "ns.example:53" "fe80::1%lo" "[]:53"; do
	lookup _smtp._tls.plain.example "$bad"
	case $LAST in
	"tempfail: bad DNS server '$bad'"*) ok "server string '$bad' refused" ;;
	*) fail "server string '$bad': $LAST" ;;
	esac
done
expect_lookup "name with a space" "_smtp._tls.bad name.example" 1 "none: not a valid domain name"

# A stopped server: the socket is there, no answer comes. 2 tries of 2 s.
kill -STOP "$DNSMASQ_PID"
start=$(date +%s)
expect_lookup "stopped server" _smtp._tls.plain.example 3 \
    "tempfail: _smtp._tls.plain.example: no answer from 127.0.0.1:$PORT: Connection timed out"
elapsed=$(($(date +%s) - start))
kill -CONT "$DNSMASQ_PID"
if [ $elapsed -lt 3 ] || [ $elapsed -gt 8 ]; then
	fail "timeout took ${elapsed} s, expected about 4"
fi
ok "unanswered query gives up after ${elapsed} s"

# --- stop dnsmasq; then nothing listens on the port --------------------------
kill -TERM "$DNSMASQ_PID"
wait "$DNSMASQ_PID" 2>/dev/null
if kill -0 "$DNSMASQ_PID" 2>/dev/null; then
	fail "dnsmasq still running after SIGTERM"
fi
ok "dnsmasq stopped"
start=$(date +%s)
expect_lookup "nothing listening" _smtp._tls.plain.example 3 \
    "tempfail: _smtp._tls.plain.example: no answer from 127.0.0.1:$PORT: Connection refused"
elapsed=$(($(date +%s) - start))
[ $elapsed -le 3 ] || fail "refused port took ${elapsed} s"
ok "closed port reported within ${elapsed} s"
echo "dns: $TESTS_RUN checks passed"
