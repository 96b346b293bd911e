#!/bin/sh
# tlsrpt-postfix-log: (1) --print over every Postfix 3.7 log excerpt in
# tests/data/postfix-logs gives exactly its .expected datagrams, plus the
# configuration switches (own report mail, DANE "Verified"); (2) end to
# end: a real tlsrpt-collectd, the adapter following a log file the test
# appends to line by line (a line split over two writes, a 1 MB line,
# random bytes, a rotation by rename, a truncation), counts checked in
# SQLite; (3) garbage on standard input is counted, never a crash; a
# missing collector costs datagrams, not the process.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

PFLOG=$BIN/tlsrpt-postfix-log
DATA=tests/data/postfix-logs
OWN=tlsrpt-noreply@report.example.net
NL='
'

[ -x "$PFLOG" ] || fail "no executable $PFLOG"
command -v sqlite3 >/dev/null 2>&1 || fail "sqlite3 is not installed"

# counter NAME FILE: the value of NAME in the last "counters:" line of FILE
counter() {
	grep 'counters:' "$2" | tail -n 1 | tr ' ' '\n' |
	    sed -n "s/^$1=\\([0-9][0-9]*\\)\$/\\1/p"
}

# ---- 1. --print: the exact datagrams -----------------------------------

for log in "$DATA"/*.log; do
	name=$(basename "$log" .log)
	"$PFLOG" --print -o "mail_from=$OWN" <"$log" >"$T/$name.out" \
	    2>"$T/$name.err" || fail "$name: exit $?: $(cat "$T/$name.err")"
	cmp -s "$T/$name.out" "$DATA/$name.expected" ||
	    fail "$name: output differs from $name.expected:$NL$(diff \
	    "$DATA/$name.expected" "$T/$name.out")"
	sessions=$(wc -l <"$T/$name.out" | tr -d ' ')
	expect_eq "$name: counted sessions" "$sessions" \
	    "$(counter sessions "$T/$name.err")"
	ok "--print $name.log gives $name.expected ($sessions datagrams)"
done

expect_eq "interleaved: sessions of our report mail skipped" 2 \
    "$(counter own_report_mail "$T/interleaved.err")"
expect_eq "interleaved: sessions without a delivery line expire" 2 \
    "$(counter unmatched "$T/interleaved.err")"
expect_eq "garbage: lines that are not log lines" 9 \
    "$(counter lines_unparsed "$T/garbage.err")"
expect_eq "garbage: IP-literal and non-ASCII recipient domains" 2 \
    "$(counter bad_domain "$T/garbage.err")"

"$PFLOG" --print -o "contact_info=$OWN" <"$DATA/interleaved.log" \
    >"$T/contact.out" 2>/dev/null || fail "contact_info run: exit $?"
cmp -s "$T/contact.out" "$DATA/interleaved.expected" ||
	fail "contact_info does not stand in for an empty mail_from"
ok "contact_info names our report mail when mail_from is empty"

"$PFLOG" --print <"$DATA/interleaved.log" >"$T/noown.out" 2>/dev/null ||
	fail "run without a report sender: exit $?"
expect_eq "without a report sender our report mail counts too" 9 \
    "$(wc -l <"$T/noown.out" | tr -d ' ')"
grep -q '"d": "example.org".*"c":201' "$T/noown.out" ||
	fail "without a report sender: the report mail's 201 is missing"

"$PFLOG" --print -o postfix_log_dane_verified=yes <"$DATA/dane.log" \
    >"$T/dv.out" 2>/dev/null || fail "dane_verified run: exit $?"
expect_eq "postfix_log_dane_verified: Verified is a tlsa success" \
    '{"dpv": "1","d": "dane2.example","policies":[{"policy-type":1,"policy-domain": "mx.dane2.example","t":0,"f":0}]}' \
    "$(grep '"d": "dane2.example"' "$T/dv.out")"
expect_eq "postfix_log_dane_verified changes only Verified sessions" \
    "$(grep -v dane2 "$DATA/dane.expected")" "$(grep -v dane2 "$T/dv.out")"

"$PFLOG" -h | grep -q -- '--from-start' || fail "-h does not list --from-start"
"$PFLOG" --from-start </dev/null 2>"$T/err" && fail "--from-start without -F accepted"
grep -q 'needs -F' "$T/err" || fail "--from-start without -F: $(cat "$T/err")"
"$PFLOG" --bogus </dev/null 2>/dev/null
expect_eq "an unknown option exits 2" 2 "$?"
"$PFLOG" -n | grep -q '^postfix_log_session_timeout_s = ' ||
	fail "-n does not print postfix_log_session_timeout_s"
ok "usage errors exit 2; -h and -n work"

# ---- 2. end to end: follow a log file into a real collector -------------

start_collector
LOGF=$T/mail.log
# Already in the file before the adapter starts: must not be read.
cp "$DATA/success.log" "$LOGF"
"$PFLOG" -F "$LOGF" -o "collector_socket=$SOCK" -o "mail_from=$OWN" \
    >"$T/pf.out" 2>"$T/pf.err" &
PF_PID=$!
PIDS="$PIDS $PF_PID"
i=0
until grep -q "following $LOGF from its end" "$T/pf.err"; do
	kill -0 "$PF_PID" 2>/dev/null || fail "adapter exited: $(cat "$T/pf.err")"
	i=$((i + 1))
	[ $i -le 200 ] || fail "adapter not following $LOGF after 10 s"
	sleep 0.05
done

# feed FILE: append FILE to the followed log, one write per line
feed() {
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s\n' "$line" >>"$LOGF"
	done <"$1"
}

total() {
	sql "SELECT coalesce(sum(successful_sessions + failed_sessions), 0)
	    FROM policy_counter"
}

# wait_sessions N: until the collector has stored N sessions (10 s)
wait_sessions() {
	i=0
	while [ "$(total)" != "$1" ]; do
		kill -0 "$PF_PID" 2>/dev/null ||
		    fail "adapter exited: $(cat "$T/pf.err")"
		i=$((i + 1))
		[ $i -le 200 ] || fail "collector has $(total) sessions, want $1"
		sleep 0.05
	done
	ok "end to end: $1 sessions reached the collector ($2)"
}

feed "$DATA/success.log"
wait_sessions 5 "the lines already in the file were skipped"

# One line in two writes: the adapter must wait for its end.
first=$(head -n 1 "$DATA/starttls.log")
printf '%s' "$(printf '%s' "$first" | cut -c1-40)" >>"$LOGF"
sleep 0.4
printf '%s\n' "$(printf '%s' "$first" | cut -c41-)" >>"$LOGF"
tail -n +2 "$DATA/starttls.log" >"$T/starttls.rest"
feed "$T/starttls.rest"
wait_sessions 10 "a line written in two parts"

# A 1 MB line without newline, random bytes, NUL bytes: counted, skipped.
head -c 1048576 /dev/zero | tr '\0' 'x' >>"$LOGF"
printf '\n' >>"$LOGF"
head -c 65536 /dev/urandom >>"$LOGF"
printf '\nNov 23 10:09:59 mx postfix/smtp[2299]: \000 x\n' >>"$LOGF"

# Rotation: rename, a new file under the old name.
mv "$LOGF" "$LOGF.1"
feed "$DATA/certificates.log"
wait_sessions 20 "after a rotation by rename"

# Truncation in place (copytruncate); the adapter must notice the shrink
# before the file grows again.
: >"$LOGF"
sleep 0.6
feed "$DATA/dane.log"
wait_sessions 29 "after a truncation"

feed "$DATA/interleaved.log"
wait_sessions 36 "interleaved processes, our report mail left out"

kill -USR1 "$PF_PID"
i=0
until grep -q 'counters:' "$T/pf.err"; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "no counters after SIGUSR1"
	sleep 0.05
done
kill -TERM "$PF_PID"
status=0
wait "$PF_PID" || status=$?
expect_eq "adapter exits 0 on SIGTERM" 0 "$status"
expect_eq "adapter: sessions" 36 "$(counter sessions "$T/pf.err")"
expect_eq "adapter: sent" 36 "$(counter sent "$T/pf.err")"
expect_eq "adapter: dropped" 0 "$(counter dropped "$T/pf.err")"
expect_eq "adapter: own report mail" 2 "$(counter own_report_mail "$T/pf.err")"
expect_eq "adapter: unmatched (expired, or waiting at exit)" 2 \
    "$(counter unmatched "$T/pf.err")"
expect_eq "adapter: the 1 MB line" 1 "$(counter lines_oversize "$T/pf.err")"
[ "$(counter lines_unparsed "$T/pf.err")" -ge 2 ] ||
	fail "adapter: random bytes not counted as unparsed lines"
ok "adapter: random and NUL bytes counted as unparsed lines"
stop_collector
expect_eq "collector exits 0" 0 "$COLLECTOR_STATUS"

got=$(sql "SELECT report_domain, policy_type, policy_domain,
	sum(successful_sessions), sum(failed_sessions) FROM policy_counter
	WHERE tlsrpt_record = '' AND policy_strings = '[]' AND mx_hosts = '[]'
	GROUP BY report_domain, policy_type, policy_domain
	ORDER BY report_domain, policy_type")
want='anon.example|9|anon.example|1|1
chain.example|9|chain.example|0|1
dane.example|1|mx.dane.example|0|1
dane2.example|9|dane2.example|1|0
daneonly.example|1|mx.daneonly.example|0|1
example.com|9|example.com|4|1
example.net|9|example.net|3|2
example.org|9|example.org|3|1
expired.example|9|expired.example|0|2
future.example|9|future.example|0|1
insecure.example|9|insecure.example|0|1
internal-ca.example|9|internal-ca.example|0|1
lookup.example|1|mx.lookup.example|0|1
multi.example|9|multi.example|1|1
notlsa.example|9|notlsa.example|0|2
refuse.example|9|refuse.example|0|1
self.example|9|self.example|0|1
tlsa.example|1|mx.tlsa.example|0|1
verified-dane.example|1|mx.verified-dane.example|1|0
wrongname.example|9|wrongname.example|0|2'
[ "$got" = "$want" ] ||
	fail "policy_counter:$NL   got:$NL$got$NL  want:$NL$want"
ok "policy_counter: sessions per domain and policy"

got=$(sql "SELECT p.report_domain, f.result_code, f.receiving_mx_hostname,
	f.receiving_ip, f.failure_reason_code, sum(f.sessions)
	FROM failure_counter f JOIN policy_counter p ON p.id = f.policy_id
	WHERE f.sending_mta_ip = '' AND f.receiving_mx_helo = ''
	AND f.additional_information = ''
	GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 5")
want='anon.example|203|mx.anon.example|203.0.113.21|Server certificate not verified|1
chain.example|203|mx.chain.example|203.0.113.45|num=21:unable to verify the first certificate|1
dane.example|304|mx.dane.example|203.0.113.60|all-TLSA-records-unusable|1
daneonly.example|304|mx.daneonly.example|198.51.100.72|all-TLSA-records-unusable|1
example.com|201|mx6.example.com|2001:db8::25|starttls-not-offered|1
example.net|201|mx1.example.net|198.51.100.10|starttls-not-offered|2
example.org|201|mx.example.org|203.0.113.20|starttls-not-offered|1
expired.example|204|mx.expired.example|192.0.2.40|certificate has expired|2
future.example|205|mx.future.example|203.0.113.44|certificate not yet valid|1
insecure.example|306|mx.insecure.example||non DNSSEC destination|1
internal-ca.example|203|mx.internal-ca.example|192.0.2.41|untrusted issuer /C=XX/O=Example Internal/CN=Example Internal Root CA|1
lookup.example|305|mx.lookup.example||TLSA lookup error|1
multi.example|204|mx1.multi.example|198.51.100.50|certificate has expired|1
notlsa.example|306|mx1.notlsa.example||no TLSA records found|1
notlsa.example|306|mx2.notlsa.example||no TLSA records found|1
refuse.example|201|mx.refuse.example|192.0.2.30|starttls-refused: 454 4.7.0 TLS not available due to local problem|1
self.example|203|mx.self.example|192.0.2.42|self-signed certificate|1
tlsa.example|304|mx.tlsa.example|203.0.113.61|num=65:No matching DANE TLSA records|1
wrongname.example|202|mx.wrongname.example|192.0.2.43|Server certificate not verified|1
wrongname.example|202|mx.wrongname.example|192.0.2.43|num=62:hostname mismatch|1'
[ "$got" = "$want" ] ||
	fail "failure_counter:$NL   got:$NL$got$NL  want:$NL$want"
ok "failure_counter: result codes, servers and reasons"

# ---- 3. garbage on standard input; no collector ------------------------

head -c 1048576 /dev/urandom >"$T/random.bin"
"$PFLOG" --print <"$T/random.bin" >"$T/random.out" 2>"$T/random.err" ||
	fail "1 MB of random bytes: exit $?: $(cat "$T/random.err")"
[ ! -s "$T/random.out" ] || fail "random bytes gave datagrams"
[ "$(counter lines_read "$T/random.err")" -gt 0 ] ||
	fail "random bytes: no lines counted"
ok "1 MB of random bytes: lines counted, nothing sent, exit 0"

head -c 1048576 /dev/zero | tr '\0' 'x' >"$T/long.txt"
"$PFLOG" --print <"$T/long.txt" >"$T/long.out" 2>"$T/long.err" ||
	fail "1 MB line without newline: exit $?"
expect_eq "1 MB line without newline is one oversize line" 1 \
    "$(counter lines_oversize "$T/long.err")"

{ cat "$T/long.txt"; printf '\n'; cat "$DATA/success.log"; } |
    "$PFLOG" --print >"$T/after.out" 2>/dev/null || fail "long line + log: exit $?"
cmp -s "$T/after.out" "$DATA/success.expected" ||
	fail "a 1 MB line spoils the lines after it"
ok "the lines after a 1 MB line are read as usual"

"$PFLOG" -o "collector_socket=$T/absent.sock" <"$DATA/success.log" \
    2>"$T/absent.err" || fail "no collector: exit $?"
expect_eq "no collector: datagrams dropped" 5 "$(counter dropped "$T/absent.err")"
grep -q "datagram for example.com lost: $T/absent.sock" "$T/absent.err" ||
	fail "no collector: no log line naming the socket"
ok "no collector: every datagram counted as dropped, exit 0"

echo "# $TESTS_RUN postfix-log checks passed"
