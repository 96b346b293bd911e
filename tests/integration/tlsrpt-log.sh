#!/bin/sh
# tlsrpt-log: the exact datagram bytes (against the libtlsrpt fixtures),
# every validation error (exit 2, one line, nothing sent), send errors
# (exit 75), and a round trip through a real tlsrpt-collectd into SQLite.
#
# Env: BIN = directory with the built programs (required);
# FIXTURES_DIR = libtlsrpt datagram fixtures (default tests/data/datagrams,
# the byte-identical copy of the shared fixtures, relative to the repo root).
set -u

: "${BIN:?BIN must name the directory with the built programs}"
: "${FIXTURES_DIR:=tests/data/datagrams}"
LOG=$BIN/tlsrpt-log
COLLECTD=$BIN/tlsrpt-collectd

tmp=$(mktemp -d) || exit 1
collector_pid=""

cleanup() {
	if [ -n "$collector_pid" ]; then
		kill -KILL "$collector_pid" 2>/dev/null
		wait "$collector_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "not ok - $*" >&2
	exit 1
}

ok() {
	echo "ok - $*"
}

[ -x "$LOG" ] || fail "no executable $LOG"
[ -x "$COLLECTD" ] || fail "no executable $COLLECTD"
[ -d "$FIXTURES_DIR" ] || fail "no fixture directory $FIXTURES_DIR"
command -v sqlite3 >/dev/null 2>&1 || fail "sqlite3 is not installed"

# Never read the system configuration.
: >"$tmp/empty.conf"
TLSRPTD_CONF=$tmp/empty.conf
export TLSRPTD_CONF

# The 0x80+ byte and the control characters the tests need.
CR=$(printf '\r')
TAB=$(printf '\t')
NL='
'
SOH=$(printf '\001')
ESC=$(printf '\033')
DEL=$(printf '\177')
E_ACUTE=$(printf '\351')

# ---- 1. exact bytes -------------------------------------------------

# check_print DESCRIPTION EXPECTED_JSON ARGS...
check_print() {
	desc=$1
	expected=$2
	shift 2
	out=$("$LOG" --print "$@" 2>"$tmp/err") ||
		fail "$desc: exit $?: $(cat "$tmp/err")"
	[ "$out" = "$expected" ] ||
		fail "$desc:${NL}   got: $out${NL}  want: $expected"
	[ -s "$tmp/err" ] && fail "$desc: unexpected stderr: $(cat "$tmp/err")"
	ok "$desc"
}

# check_fixture NAME ARGS...: output minus its newline == fixture bytes.
check_fixture() {
	name=$1
	shift
	fixture=$FIXTURES_DIR/$name.json
	[ -f "$fixture" ] || fail "$name: no fixture $fixture"
	"$LOG" --print "$@" >"$tmp/out" 2>"$tmp/err" ||
		fail "$name: exit $?: $(cat "$tmp/err")"
	[ "$(tail -c 1 "$tmp/out" | od -An -tx1 | tr -d ' ')" = 0a ] ||
		fail "$name: output does not end with a newline"
	printf '%s' "$(cat "$tmp/out")" >"$tmp/stripped"
	[ $(($(wc -c <"$tmp/out") - 1)) -eq "$(wc -c <"$tmp/stripped")" ] ||
		fail "$name: more than one trailing newline"
	cmp "$tmp/stripped" "$fixture" ||
		fail "$name: differs from $fixture${NL}   got: $(cat "$tmp/stripped")"
	ok "--print matches fixture $name.json byte for byte"
}

check_print "minimal success: no-policy-found, policy-domain defaults to d" \
	'{"dpv": "1","d": "example.org","policies":[{"policy-type":9,"policy-domain": "example.org","t":0,"f":0}]}' \
	--domain example.org --result success
check_print "policy type by number, explicit policy-domain, wildcard mx-host" \
	'{"dpv": "1","d": "example.net","policies":[{"policy-type":1,"policy-domain": "mx.example.net","mx-host":["*.example.net"],"t":0,"f":0}]}' \
	--domain example.net --policy-type 1 --policy-domain mx.example.net \
	--mx-host '*.example.net' --result success
check_print "failure with only a code" \
	'{"dpv": "1","d": "example.com","policies":[{"policy-type":2,"policy-domain": "example.com","failure-details":[{"c":205}],"t":1,"f":1}]}' \
	--domain example.com --policy-type sts --result validation-failure
check_print "values are sent as given (no lower-casing, trailing dot kept)" \
	'{"dpv": "1","d": "Example.COM.","policies":[{"policy-type":2,"policy-domain": "MX.Example.COM","failure-details":[{"c":302,"n": "MX1.Example.COM"}],"t":1,"f":1}]}' \
	--domain Example.COM. --policy-type 2 --policy-domain MX.Example.COM \
	--result sts-policy-invalid --mx-hostname MX1.Example.COM
check_print "TAB, CR and LF in --mx-helo are escaped, quote and backslash too" \
	'{"dpv": "1","d": "example.com","policies":[{"policy-type":9,"policy-domain": "example.com","failure-details":[{"c":201,"h": "250-a\t\"b\"\r\n250 c\\d","a": "x \"y\" \\z"}],"t":1,"f":1}]}' \
	--domain example.com --result starttls-not-supported \
	--mx-helo "250-a$TAB\"b\"$CR${NL}250 c\\d" --additional-info 'x "y" \z'
check_print "IPv6 addresses and a domain of 253 bytes (the cap)" \
	"{\"dpv\": \"1\",\"d\": \"$(printf '%0253d' 0)\",\"policies\":[{\"policy-type\":9,\"policy-domain\": \"$(printf '%0253d' 0)\",\"failure-details\":[{\"c\":306,\"s\": \"2001:db8::1\",\"r\": \"::ffff:192.0.2.1\"}],\"t\":1,\"f\":1}]}" \
	--domain "$(printf '%0253d' 0)" --result dane-required \
	--sending-ip 2001:db8::1 --receiving-ip ::ffff:192.0.2.1

check_fixture failure-certificate-expired \
	--domain dom00000.example \
	--record 'v=TLSRPTv1;rua=mailto:tlsrpt@dom00000.example' \
	--policy-type sts --policy-domain dom00000.example \
	--policy-string 'version: STSv1' --policy-string 'mode: enforce' \
	--policy-string 'mx: mx1.dom00000.example' \
	--policy-string 'mx: mx2.dom00000.example' \
	--policy-string 'max_age: 604800' \
	--mx-host mx1.dom00000.example --mx-host mx2.dom00000.example \
	--result certificate-expired --sending-ip 192.0.2.10 \
	--mx-hostname mx1.dom00000.example --mx-helo mx1.dom00000.example \
	--receiving-ip 203.0.113.1 --reason 'certificate has expired'
check_fixture success \
	--domain dom00000.example \
	--record 'v=TLSRPTv1;rua=mailto:tlsrpt@dom00000.example' \
	--policy-type sts \
	--policy-string 'version: STSv1' --policy-string 'mode: enforce' \
	--policy-string 'mx: mx1.dom00000.example' \
	--policy-string 'mx: mx2.dom00000.example' \
	--policy-string 'max_age: 604800' \
	--mx-host mx1.dom00000.example --mx-host mx2.dom00000.example \
	--result success
check_fixture sts-policy-fetch-error \
	--domain example.com \
	--record 'v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://tlsrpt.example.com/v1' \
	--policy-type sts --result sts-policy-fetch-error \
	--sending-ip 192.0.2.25 \
	--additional-info 'https://mta-sts.example.com/.well-known/mta-sts.txt' \
	--reason 'HTTP 404'

REC='v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://tlsrpt.example.com/v1'
TLSA1='3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6'
TLSA2='2 1 1 8D02536C887482BC34FF54E41D2BA659BF85B341A0A20AFADB5813DCFBCF286D'
check_fixture tlsa-invalid-downgrade \
	--domain example.net --record "$REC" --policy-type tlsa \
	--policy-domain mx.example.net \
	--policy-string "$TLSA1" --policy-string "$TLSA2" \
	--result tlsa-invalid --sending-ip 192.0.2.25 \
	--mx-hostname mx.example.net \
	--mx-helo "250-mx.example.net$CR${NL}250-PIPELINING$CR${NL}250 STARTTLS" \
	--receiving-ip 198.51.100.10 --reason all-TLSA-records-unusable
check_fixture sts-testing-host-mismatch-ipv6 \
	--domain example.com --record "$REC" --policy-type sts \
	--policy-string 'version: STSv1' --policy-string 'mode: testing' \
	--policy-string 'mx: mx1.example.com' \
	--policy-string 'mx: *.backup.example.com' \
	--policy-string 'max_age: 86400' \
	--mx-host mx1.example.com --mx-host '*.backup.example.com' \
	--result certificate-host-mismatch --sending-ip 2001:db8::25 \
	--mx-hostname b1.backup.example.com --mx-helo b1.backup.example.com \
	--receiving-ip 2001:db8:1::10 \
	--reason 'certificate name "mx.other.example" does not match \*.backup'
check_fixture non-utf8-latin1 \
	--domain example.com --record "$REC" --policy-type sts \
	--policy-string 'version: STSv1' --policy-string 'mode: testing' \
	--policy-string 'mx: mx1.example.com' \
	--policy-string 'mx: *.backup.example.com' \
	--policy-string 'max_age: 86400' \
	--result starttls-not-supported --sending-ip 192.0.2.25 \
	--mx-hostname mx1.example.com \
	--mx-helo "mx1.example.com ESMTP Caf$E_ACUTE ready" \
	--receiving-ip 203.0.113.5 --reason "r${E_ACUTE}ponse"
check_fixture mixed-case-trailing-dot \
	--domain Example.COM. --record "$REC" --policy-type 2 \
	--policy-domain Example.COM. \
	--policy-string 'version: STSv1' --policy-string 'mode: testing' \
	--policy-string 'mx: mx1.example.com' \
	--policy-string 'mx: *.backup.example.com' \
	--policy-string 'max_age: 86400' --result success
check_fixture dane-required \
	--domain example.net --record "$REC" --policy-type tlsa \
	--policy-domain mx.example.net --result dane-required \
	--sending-ip 192.0.2.25 --mx-hostname mx.example.net \
	--receiving-ip 198.51.100.10
check_fixture no-policy-found-with-domain \
	--domain example.com --record "$REC" --policy-type no-policy-found \
	--result success

# ---- -h, -V, -n ----------------------------------------------------------

"$LOG" -h >"$tmp/out" 2>"$tmp/err" || fail "-h: exit $?"
for opt in domain record policy-type policy-domain policy-string mx-host \
	result sending-ip mx-hostname mx-helo receiving-ip additional-info \
	reason socket print wait; do
	grep -q -- "^    --$opt" "$tmp/out" || fail "-h does not list --$opt"
done
grep -q 'certificate-expired (204)' "$tmp/out" || fail "-h lacks the results"
ok "-h prints the manual with every option and result"
[ "$("$LOG" -V)" = "tlsrpt-log $("$COLLECTD" -V | cut -d' ' -f2)" ] ||
	fail "-V: $("$LOG" -V)"
ok "-V prints the version"
"$LOG" -n -o collector_socket=/x/y.sock | grep -qx 'collector_socket = /x/y.sock' ||
	fail "-n does not show the -o override"
ok "-n prints the effective configuration"

# ---- 3. sending to a missing socket ----------------------------------

"$LOG" --domain example.com --result success --socket "$tmp/missing.sock" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 75 ] || fail "missing socket: exit $rc, want 75"
grep -q "^tlsrpt-log: collector not running? no socket at $tmp/missing.sock" \
	"$tmp/err" || fail "missing socket: message: $(cat "$tmp/err")"
ok "missing socket (--socket) exits 75 naming the socket"

"$LOG" -o "collector_socket=$tmp/missing2.sock" --domain example.com \
	--result success >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 75 ] || fail "missing socket via -o: exit $rc, want 75"
grep -q "$tmp/missing2.sock" "$tmp/err" ||
	fail "missing socket via -o: message: $(cat "$tmp/err")"
ok "missing socket (-o collector_socket) exits 75 naming the socket"

# ---- collector helpers ------------------------------------------------

# start_collector NAME: socket $tmp/NAME.sock, database $tmp/NAME.db
start_collector() {
	"$COLLECTD" -f -o "collector_socket=$tmp/$1.sock" \
		-o "database=$tmp/$1.db" -o flush_interval_ms=100 \
		2>>"$tmp/collectd.log" &
	collector_pid=$!
	i=0
	while [ ! -S "$tmp/$1.sock" ]; do
		i=$((i + 1))
		[ "$i" -le 100 ] ||
			fail "collector socket $tmp/$1.sock did not appear: $(cat "$tmp/collectd.log")"
		kill -0 "$collector_pid" 2>/dev/null ||
			fail "collector exited early: $(cat "$tmp/collectd.log")"
		sleep 0.1
	done
}

stop_collector() {
	kill -TERM "$collector_pid"
	wait "$collector_pid"
	rc=$?
	collector_pid=""
	[ "$rc" -eq 0 ] || fail "collector exited $rc: $(cat "$tmp/collectd.log")"
}

start_collector c
SOCK=$tmp/c.sock

# ---- 2. validation errors: exit 2, one line, nothing sent -----------

# check_invalid DESCRIPTION EXPECTED_TEXT ARGS...; the live collector
# socket is the target, so anything sent would show in the counts below.
check_invalid() {
	desc=$1
	want=$2
	shift 2
	"$LOG" -o "collector_socket=$SOCK" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "$desc: exit $rc, want 2 ($(cat "$tmp/err"))"
	[ -s "$tmp/out" ] && fail "$desc: unexpected stdout: $(cat "$tmp/out")"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] ||
		fail "$desc: want one line on stderr, got: $(cat "$tmp/err")"
	grep -q '^tlsrpt-log: ' "$tmp/err" ||
		fail "$desc: message lacks the program name: $(cat "$tmp/err")"
	grep -qF -- "$want" "$tmp/err" ||
		fail "$desc: message lacks '$want': $(cat "$tmp/err")"
	ok "rejected: $desc"
}

D='--domain example.com'
F='--result certificate-expired'
LONG254=$(printf '%0254d' 0)
# shellcheck disable=SC2086 # $D and $F are two words on purpose
{
check_invalid "missing --domain" "--domain is required" --result success
check_invalid "missing --result" "--result is required" $D
check_invalid "unknown policy type" "unknown policy type 'dane'" $D --result success --policy-type dane
check_invalid "unknown policy type number" "unknown policy type '3'" $D --result success --policy-type 3
check_invalid "policy type in upper case" "unknown policy type 'STS'" $D --result success --policy-type STS
check_invalid "unknown result, names listed" "valid: success, starttls-not-supported," $D --result expired
check_invalid "unknown result lists all names" "dnssec-invalid, dane-required" $D --result 204
for opt in sending-ip:192.0.2.1 mx-hostname:mx.example.com mx-helo:hello \
	receiving-ip:192.0.2.2 additional-info:info reason:why; do
	check_invalid "--${opt%%:*} with --result success" \
		"--${opt%%:*} is a failure detail" $D --result success \
		"--${opt%%:*}" "${opt#*:}"
done
check_invalid "IPv4 out of range" "'192.0.2.256' is not an IPv4 or IPv6" $D $F --sending-ip 192.0.2.256
check_invalid "IPv6 garbage" "is not an IPv4 or IPv6" $D $F --receiving-ip 2001:db8::zz
check_invalid "IP with a port" "is not an IPv4 or IPv6" $D $F --receiving-ip 192.0.2.1:25
check_invalid "empty IP" "is not an IPv4 or IPv6" $D $F --sending-ip ''
check_invalid "empty --domain" "--domain: empty name" --domain '' --result success
check_invalid "--domain of 254 bytes" "longer than 253 bytes" --domain "$LONG254" --result success
check_invalid "space in --domain" "--domain: byte 0x20" --domain 'exa mple.com' --result success
check_invalid "wildcard in --domain" "--domain: byte 0x2a" --domain '*.example.com' --result success
check_invalid "slash in --domain" "--domain: byte 0x2f" --domain example.com/x --result success
check_invalid "non-ASCII in --domain" "--domain: byte 0xc3" --domain 'exämple.com' --result success
check_invalid "bad --policy-domain" "--policy-domain: byte 0x40" $D --result success --policy-domain a@b
check_invalid "empty --policy-domain" "--policy-domain: empty name" $D --result success --policy-domain ''
check_invalid "bad --mx-hostname" "--mx-hostname: byte 0x3a" $D $F --mx-hostname mx:25
check_invalid "--mx-hostname of 254 bytes" "longer than 253 bytes" $D $F --mx-hostname "$LONG254"
check_invalid "bare '*' as --mx-host" "--mx-host: byte 0x2a" $D --result success --mx-host '*'
check_invalid "'*.' alone as --mx-host" "--mx-host: empty name" $D --result success --mx-host '*.'
check_invalid "wildcard inside --mx-host" "--mx-host: byte 0x2a" $D --result success --mx-host 'mx.*.example.com'
check_invalid "empty --mx-host" "--mx-host: empty name" $D --result success --mx-host ''
check_invalid "control byte in --mx-helo" "--mx-helo: control character 0x01" $D $F --mx-helo "a${SOH}b"
check_invalid "DEL in --mx-helo" "--mx-helo: control character 0x7f" $D $F --mx-helo "a${DEL}b"
check_invalid "newline in --reason" "--reason: control character 0x0a" $D $F --reason "a${NL}b"
check_invalid "CR in --additional-info" "--additional-info: control character 0x0d" $D $F --additional-info "a${CR}b"
check_invalid "TAB in --policy-string" "--policy-string: control character 0x09" $D --result success --policy-string "mode:${TAB}enforce"
check_invalid "ESC in --record" "--record: control character 0x1b" $D --result success --record "v=TLSRPTv1;${ESC}"
check_invalid "empty --reason" "--reason: empty value" $D $F --reason ''
check_invalid "--record without v=TLSRPTv1" "--record: must start with v=TLSRPTv1" $D --result success --record 'rua=mailto:a@example.com'
check_invalid "--record in lower case" "--record: must start with v=TLSRPTv1" $D --result success --record 'v=tlsrptv1; rua=mailto:a@example.com'
check_invalid "unknown option" "unknown or ambiguous option --colour" $D --result success --colour
check_invalid "option without its value" "option --record needs a value" $D --result success --record
check_invalid "stray argument" "unexpected argument 'extra'" $D --result success extra
check_invalid "--domain given twice" "--domain given twice" $D $D --result success
check_invalid "socket path too long for sun_path" "socket path longer than 107 bytes" $D --result success --socket "/$(printf '%0107d' 0)"
check_invalid "bad -o key" "-o " $D --result success -o no_such_key=1

# Caps: EV_MAX_STRINGS policy strings plus mx hosts per datagram, and
# collector_max_datagram_bytes (the collector drops anything larger).
set -- --domain example.com --result success --print
i=0
while [ "$i" -lt 1023 ]; do
	set -- "$@" --policy-string "s$i"
	i=$((i + 1))
done
"$LOG" "$@" --mx-host mx.example.com >"$tmp/out" 2>"$tmp/err" ||
	fail "1024 strings: exit $?: $(cat "$tmp/err")"
grep -q '"s1022"\],"mx-host":\["mx.example.com"\]' "$tmp/out" ||
	fail "1024 strings: unexpected output"
ok "1024 --policy-string/--mx-host values (the cap) are accepted"
shift 5
check_invalid "1025 --policy-string/--mx-host values" "more than 1024" \
	$D --result success "$@" --mx-host a.example --mx-host b.example

small='-o collector_max_datagram_bytes=4096'
base=$("$LOG" $small $D $F --reason x --print | wc -c)
fill=$(printf "%0$((4096 - base + 2))d" 0)
"$LOG" $small $D $F --reason "$fill" --print >"$tmp/out" 2>"$tmp/err" ||
	fail "4096-byte datagram: exit $?: $(cat "$tmp/err")"
[ "$(wc -c <"$tmp/out")" -eq 4097 ] ||
	fail "4096-byte datagram: got $(wc -c <"$tmp/out") bytes with the newline"
ok "a datagram of exactly collector_max_datagram_bytes is accepted"
check_invalid "datagram over collector_max_datagram_bytes" \
	"datagram larger than collector_max_datagram_bytes (4096)" \
	$small $D $F --reason "${fill}y"
}

# ---- 4. end to end ----------------------------------------------------

E2E_REC='v=TLSRPTv1; rua=mailto:tlsrpt@e2e.example'
e2e() {
	"$LOG" --socket "$SOCK" --domain e2e.example --record "$E2E_REC" \
		--policy-type sts --policy-string 'version: STSv1' \
		--policy-string 'mode: enforce' --mx-host mx1.e2e.example "$@" ||
		fail "end to end: tlsrpt-log $* exited $?"
}
e2e --result success
e2e --result success
e2e --result success --wait
e2e --result certificate-expired --sending-ip 192.0.2.10 \
	--mx-hostname mx1.e2e.example --receiving-ip 203.0.113.1 \
	--reason 'certificate has expired'
e2e --result starttls-not-supported --sending-ip 192.0.2.10 \
	--mx-hostname mx1.e2e.example --mx-helo "250-mx1$CR${NL}250 8BITMIME" \
	--additional-info 'STARTTLS not offered'
ok "end to end: 3 successes and 2 failures sent"
# Let a periodic flush write them before stopping: this test is about
# what tlsrpt-log sends; the drain on SIGTERM is collector.sh's business.
DB=$tmp/c.db
i=0
until [ "$(sqlite3 -batch "$DB" "SELECT sum(successful_sessions +
	failed_sessions) FROM policy_counter" 2>/dev/null)" = 5 ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] ||
		fail "end to end: the 5 sessions did not reach $DB within 10 s"
	sleep 0.1
done
stop_collector
ok "end to end: collector stopped cleanly with SIGTERM"

got=$(sqlite3 -batch "$DB" "SELECT policy_type, policy_domain, tlsrpt_record,
	policy_strings, mx_hosts, successful_sessions, failed_sessions
	FROM policy_counter WHERE report_domain = 'e2e.example'") ||
	fail "end to end: sqlite3 failed"
want="2|e2e.example|$E2E_REC|[\"version: STSv1\",\"mode: enforce\"]|[\"mx1.e2e.example\"]|3|2"
[ "$got" = "$want" ] ||
	fail "end to end: policy_counter:${NL}   got: $got${NL}  want: $want"
ok "end to end: policy_counter has successful_sessions=3, failed_sessions=2"

got=$(sqlite3 -batch "$DB" "SELECT result_code, sending_mta_ip,
	receiving_mx_hostname, hex(receiving_mx_helo), receiving_ip,
	additional_information, failure_reason_code, sessions
	FROM failure_counter f JOIN policy_counter p ON p.id = f.policy_id
	WHERE p.report_domain = 'e2e.example' ORDER BY result_code")
helo_hex=$(printf '250-mx1\r\n250 8BITMIME' | od -An -tx1 | tr -d ' \n' |
	tr 'a-f' 'A-F')
want="201|192.0.2.10|mx1.e2e.example|$helo_hex||STARTTLS not offered||1
204|192.0.2.10|mx1.e2e.example||203.0.113.1||certificate has expired|1"
[ "$got" = "$want" ] ||
	fail "end to end: failure_counter:${NL}   got: $got${NL}  want: $want"
ok "end to end: failure_counter has codes 201 and 204 with their details"

got=$(sqlite3 -batch "$DB" "SELECT
	(SELECT count(*) FROM policy_counter),
	(SELECT sum(successful_sessions) + sum(failed_sessions) FROM policy_counter),
	(SELECT sum(value) FROM collector_stat WHERE name = 'received')")
[ "$got" = "1|5|5" ] ||
	fail "end to end: rows|sessions|received = $got, want 1|5|5 (a rejected invocation sent something?)"
ok "end to end: the collector received exactly the 5 valid datagrams"

# ---- 3b. stale socket, full queue, --wait ------------------------------

start_collector q
kill -STOP "$collector_pid"
# Nobody reads while the collector is stopped: the kernel queue fills up.
i=0
rc=0
while [ "$i" -lt 10000 ]; do
	"$LOG" --socket "$tmp/q.sock" --domain example.com --result success \
		2>"$tmp/err" || {
		rc=$?
		break
	}
	i=$((i + 1))
done
[ "$rc" -eq 75 ] || fail "full queue: exit $rc, want 75: $(cat "$tmp/err")"
grep -q "^tlsrpt-log: $tmp/q.sock: collector busy (queue full" "$tmp/err" ||
	fail "full queue: message: $(cat "$tmp/err")"
ok "full queue exits 75 at once ('collector busy') after $i datagrams"

start=$(date +%s)
"$LOG" --socket "$tmp/q.sock" --domain example.com --result success --wait \
	2>"$tmp/err"
rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -eq 75 ] || fail "--wait on a full queue: exit $rc, want 75"
grep -q "queue still full after 5 s" "$tmp/err" ||
	fail "--wait on a full queue: message: $(cat "$tmp/err")"
if [ "$elapsed" -lt 4 ] || [ "$elapsed" -gt 8 ]; then
	fail "--wait on a full queue: gave up after ${elapsed} s, want 5"
fi
ok "--wait gives up after 5 s when the queue stays full (exit 75)"

(sleep 1 && kill -CONT "$collector_pid") &
resume_pid=$!
"$LOG" --socket "$tmp/q.sock" --domain example.com --result success --wait \
	2>"$tmp/err" || fail "--wait: exit $?: $(cat "$tmp/err")"
wait "$resume_pid"
ok "--wait blocks until the collector reads again"

kill -KILL "$collector_pid"
wait "$collector_pid" 2>/dev/null
collector_pid=""
[ -S "$tmp/q.sock" ] || fail "stale socket: socket vanished after SIGKILL"
"$LOG" --socket "$tmp/q.sock" --domain example.com --result success \
	2>"$tmp/err"
rc=$?
[ "$rc" -eq 75 ] || fail "stale socket: exit $rc, want 75"
grep -q "^tlsrpt-log: $tmp/q.sock: stale socket" "$tmp/err" ||
	fail "stale socket: message: $(cat "$tmp/err")"
ok "stale socket (ECONNREFUSED) exits 75"

echo "# all tlsrpt-log checks passed"
