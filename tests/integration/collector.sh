#!/bin/sh
# Integration test of tlsrpt-collectd: the real daemon on a temp socket
# and a temp SQLite database. Sends the libtlsrpt fixture datagrams, a
# catalogue of bad datagrams between them, and checks every count and
# counter in SQLite after SIGTERM; then socket takeover rules, signals,
# the UTC day and the day boundary (under faketime). The whole test runs
# twice: with one receiver thread and with three reading the same socket
# (collector_receivers), each with its own table.

if [ -z "${COLLECTOR_RECEIVERS:-}" ]; then
	COLLECTOR_RECEIVERS=1 sh "$0" || exit 1
	COLLECTOR_RECEIVERS=3 exec sh "$0"
fi
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh
echo "# collector_receivers = $COLLECTOR_RECEIVERS"
printf 'collector_receivers = %s\n' "$COLLECTOR_RECEIVERS" >"$T/receivers.conf"
TLSRPTD_CONF=$T/receivers.conf
export TLSRPTD_CONF

send() {
	"$TOOLS/dgram-send" "$SOCK" "$@" || fail "dgram-send $*"
}

# --- 1. fixtures and bad datagrams ------------------------------------
G=$T/garbage
mkdir "$G"
printf '' >"$G/empty"
printf 'garbage' >"$G/syntax-word"
head -c 100 "$FIXTURES_DIR/success.json" >"$G/syntax-truncated"
printf '[1,2]' >"$G/not-object"
printf '{"d":"a.example","policies":null}' >"$G/no-policies-null"
printf '{"d":"a.example","policies":[]}' >"$G/no-policies-empty"
printf '{"d":"a.example","policies":[{"policy-type":2}]}' >"$G/no-policies-all-bad"
{ printf '{"d":"a.example","x":'; head -c 200 /dev/zero | tr '\0' '['; } >"$G/depth"
printf '{"d":5,"policies":[{"policy-type":2,"f":0}]}' >"$G/wrong-type"
printf '{"d":"caf\351.example","policies":[{"policy-type":2,"f":0}]}' >"$G/bad-domain"
printf '{"d":"a.example","d":"b.example","policies":[{"policy-type":2,"f":0}]}' >"$G/duplicate"
printf '{"d":"a.example","policies":[{"policy-type":-2,"f":0}],"pr":7}' >"$G/wrong-type-pr"
printf '\357\273\277{"d":"a.example","policies":[{"policy-type":2,"f":0}]}' >"$G/syntax-bom"
# valid but with one bad policy: the good one must be kept
printf '{"d":"mixed.example","policies":[{"policy-type":2,"t":0},{"policy-type":9,"t":0,"f":0}]}' >"$T/mixed.json"

start_collector -o collector_max_datagram_bytes=4096
FIX=$(ls "$FIXTURES_DIR"/*.json)
nfix=$(echo "$FIX" | wc -l)
# shellcheck disable=SC2086
send $FIX
for g in "$G"/*; do
	send "$g" "$FIXTURES_DIR/success.json"
done
send "$T/mixed.json"
"$TOOLS/dgram-send" -z 5000 "$SOCK" || fail "oversize send"
stop_collector
expect_eq "collector exits 0 on SIGTERM" 0 "$COLLECTOR_STATUS"

ngarbage=$(ls "$G" | wc -l)
counter() {
	v=$(sql "SELECT value FROM collector_stat WHERE name='$1'")
	echo "${v:-0}"
}
expect_eq "received counts every datagram" $((nfix + 2 * ngarbage + 2)) "$(counter received)"
expect_eq "accepted = fixtures + interleaved valid + mixed" $((nfix + ngarbage + 1)) "$(counter accepted)"
expect_eq "rejected total" $((ngarbage + 1)) "$(counter rejected)"
expect_eq "rejected_empty" 1 "$(counter rejected_empty)"
expect_eq "rejected_syntax (word, truncated, BOM)" 3 "$(counter rejected_syntax)"
expect_eq "rejected_not_object" 1 "$(counter rejected_not_object)"
expect_eq "rejected_no_policies (null, empty, all bad)" 3 "$(counter rejected_no_policies)"
expect_eq "rejected_depth" 1 "$(counter rejected_depth)"
expect_eq "rejected_wrong_type (d number, pr number)" 2 "$(counter rejected_wrong_type)"
expect_eq "rejected_bad_domain" 1 "$(counter rejected_bad_domain)"
expect_eq "rejected_duplicate_member" 1 "$(counter rejected_duplicate_member)"
expect_eq "rejected_oversize" 1 "$(counter rejected_oversize)"
expect_eq "dropped_policies (mixed datagram)" 1 "$(counter dropped_policies)"
expect_eq "repaired_utf8_strings (non-utf8 fixture)" 2 "$(counter repaired_utf8_strings)"

# The 14 fixtures hold 15 policies (two-policies has 2): 6 succeed, 9 fail.
# success.json was also sent once after every bad datagram, and the mixed
# datagram kept one no-policy-found success.
expect_eq "all successes counted" $((6 + ngarbage + 1)) \
    "$(sql "SELECT SUM(successful_sessions) FROM policy_counter")"
expect_eq "all failures counted" 9 "$(sql "SELECT SUM(failed_sessions) FROM policy_counter")"
expect_eq "success.json key holds fixture + interleaved copies" "$((1 + ngarbage))|2" \
    "$(sql "SELECT successful_sessions, failed_sessions FROM policy_counter WHERE report_domain='dom00000.example'")"
expect_eq "one row per aggregation key" 12 "$(sql "SELECT COUNT(*) FROM policy_counter")"
expect_eq "failure rows" "9|9" "$(sql "SELECT COUNT(*), SUM(sessions) FROM failure_counter")"
expect_eq "no-policy-found without policy-domain defaults to d" "example.net|9|[]|[]" \
    "$(sql "SELECT policy_domain, policy_type, policy_strings, mx_hosts FROM policy_counter WHERE report_domain='example.net' AND policy_type=9")"
expect_eq "Example.COM. normalised and merged with example.com (testing policy)" "1|1" \
    "$(sql "SELECT successful_sessions, failed_sessions FROM policy_counter WHERE report_domain='example.com' AND policy_type=2 AND mx_hosts='[]' AND policy_strings LIKE '%testing%'")"
expect_eq "Latin-1 bytes repaired to UTF-8" "mx1.example.com ESMTP Café ready|réponse" \
    "$(sql "SELECT receiving_mx_helo, failure_reason_code FROM failure_counter WHERE result_code=201 AND failure_reason_code <> ''")"
expect_eq "CRLF in EHLO reply kept" 1 \
    "$(sql "SELECT instr(receiving_mx_helo, char(13,10)) > 0 FROM failure_counter WHERE result_code=304")"
expect_eq "two policies in one datagram: tlsa success under its own domain" "1|0" \
    "$(sql "SELECT successful_sessions, failed_sessions FROM policy_counter WHERE policy_domain='mx1.example.com' AND policy_type=1")"
expect_eq "two policies in one datagram: sts failure detail" "303|192.0.2.25|mx1.example.com|203.0.113.5" \
    "$(sql "SELECT result_code, sending_mta_ip, receiving_mx_hostname, receiving_ip FROM failure_counter f JOIN policy_counter p ON p.id=f.policy_id WHERE p.mx_hosts='[\"mx1.example.com\"]'")"
expect_eq "policy strings stored as JSON array" '["3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6","2 1 1 8D02536C887482BC34FF54E41D2BA659BF85B341A0A20AFADB5813DCFBCF286D"]' \
    "$(sql "SELECT policy_strings FROM policy_counter WHERE policy_domain='mx.example.net' AND successful_sessions=1")"
expect_eq "escaped quote and backslash survive" 'certificate name "mx.other.example" does not match \*.backup' \
    "$(sql "SELECT failure_reason_code FROM failure_counter WHERE result_code=202")"
grep -q 'rejected datagram from pid [0-9]* uid [0-9]*' "$LOGFILE" || fail "bad datagrams are logged with the sender's pid and uid"
ok "bad datagrams logged with sender pid/uid"
nlines=$(grep -c 'rejected datagram' "$LOGFILE")
[ "$nlines" -le $((ngarbage + 1)) ] || fail "more reject log lines than rejects"
ok "reject log lines bounded"

# --- 2. log rate limit: 200 identical bad datagrams, at most 5 lines --
rm -f "$DB" "$DB"-*
: >"$LOGFILE"
start_collector
"$TOOLS/dgram-send" -r 200 "$SOCK" "$G/syntax-word" || fail "send"
# Three flush intervals with nothing but rejected datagrams counted: a
# flush without keys once passed NULL to qsort (UBSan stopped the
# collector under make check-asan).
sleep 0.3
send "$FIXTURES_DIR/success.json"
stop_collector
expect_eq "200 bad datagrams counted" 200 "$(counter rejected_syntax)"
expect_eq "valid datagram after a flood still counted" 1 "$(sql "SELECT SUM(successful_sessions) FROM policy_counter")"
n=$(grep -c 'rejected datagram' "$LOGFILE")
[ "$n" -le 5 ] || fail "rate limit: $n log lines for one reason"
ok "rate-limited log ($n lines for 200 bad datagrams)"

# --- 3. SIGTERM drains what is queued --------------------------------
rm -f "$DB" "$DB"-*
start_collector -o flush_interval_ms=600000
kill -STOP "$COLLECTOR_PID"
"$TOOLS/dgram-send" -r 10 "$SOCK" "$FIXTURES_DIR/success.json" || fail "send"
kill -TERM "$COLLECTOR_PID"
kill -CONT "$COLLECTOR_PID"
COLLECTOR_STATUS=0
wait "$COLLECTOR_PID" || COLLECTOR_STATUS=$?
expect_eq "exit 0 after drain" 0 "$COLLECTOR_STATUS"
expect_eq "datagrams queued at SIGTERM are counted" 10 "$(sql "SELECT SUM(successful_sessions) FROM policy_counter")"

# --- 3b. a locked database delays the flush, never reception ------------
rm -f "$DB" "$DB"-*
start_collector -o db_busy_timeout_ms=100
send "$FIXTURES_DIR/success.json"
sleep 0.5
# Hold the write lock for 4 s from another process.
{ echo "BEGIN IMMEDIATE;"; echo "INSERT INTO collector_stat VALUES ('lock','lock',1);"; sleep 4; echo "COMMIT;"; } |
    sqlite3 "$DB" &
LOCKER=$!
PIDS="$PIDS $LOCKER"
sleep 0.5
"$TOOLS/dgram-send" -r 3000 "$SOCK" "$FIXTURES_DIR/failure-certificate-expired.json" || fail "send"
kill -0 "$LOCKER" 2>/dev/null || fail "3000 datagrams took longer than the 4 s lock: reception stalled"
ok "3000 datagrams received while the database was locked"
wait "$LOCKER"
sleep 0.5
stop_collector
expect_eq "exit 0 after the lock was released" 0 "$COLLECTOR_STATUS"
expect_eq "all sessions written after the lock" "1|3000" \
    "$(sql "SELECT SUM(successful_sessions), SUM(failed_sessions) FROM policy_counter")"
errors=$(counter flush_errors)
[ "$errors" -ge 1 ] || fail "flush_errors not counted"
ok "flush errors counted ($errors) and retried"
grep -q "keeping them in memory and retrying" "$LOGFILE" || fail "no log line for the failed flush"
ok "failed flush logged"

# --- 4. socket ownership rules ------------------------------------------
rm -f "$DB" "$DB"-*
start_collector -o collector_socket_mode=0620
expect_eq "socket mode from config" 620 "$(stat -c %a "$SOCK")"
if "$BIN/tlsrpt-collectd" -f -o "collector_socket=$SOCK" -o "database=$T/other.db" 2>"$T/second.err"; then
	fail "second collector on the same socket started"
fi
grep -q "another tlsrpt-collectd" "$T/second.err" || fail "second collector message: $(cat "$T/second.err")"
ok "second collector on the same socket refused"
kill -9 "$COLLECTOR_PID"
wait "$COLLECTOR_PID" 2>/dev/null
[ -S "$SOCK" ] || fail "socket should be left behind by kill -9"
start_collector
send "$FIXTURES_DIR/success.json"
stop_collector
expect_eq "stale socket after kill -9 replaced, datagram counted" 1 \
    "$(sql "SELECT SUM(successful_sessions) FROM policy_counter")"
[ ! -e "$SOCK" ] || fail "socket not removed on clean stop"
ok "socket removed on clean stop"
echo "not a socket" >"$T/file.sock"
if "$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/file.sock" -o "database=$T/other.db" 2>"$T/nonsock.err"; then
	fail "collector replaced a regular file"
fi
expect_eq "regular file at socket path left alone" "not a socket" "$(cat "$T/file.sock")"
# A live socket bound by some other program is not taken over.
"$TOOLS/dgram-send" -L "$T/foreign.sock" &
PIDS="$PIDS $!"
wait_for_socket "$T/foreign.sock"
if "$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/foreign.sock" -o "database=$T/other.db" 2>"$T/foreign.err"; then
	fail "collector took over a live socket"
fi
grep -q "in use by another process" "$T/foreign.err" || fail "live socket message: $(cat "$T/foreign.err")"
[ -S "$T/foreign.sock" ] || fail "live socket removed"
ok "socket of another live process left alone"
long=$T/$(printf '%0120d' 0).sock
if "$BIN/tlsrpt-collectd" -f -o "collector_socket=$long" -o "database=$T/other.db" 2>"$T/long.err"; then
	fail "socket path longer than sun_path accepted"
fi
grep -q "longer than" "$T/long.err" || fail "long path message: $(cat "$T/long.err")"
ok "socket path longer than sun_path refused with a clear message"

# --- 5. command line ------------------------------------------------------
out=$("$BIN/tlsrpt-collectd" -n -o flush_interval_ms=250 -o "database=$DB")
echo "$out" | grep -qx "flush_interval_ms = 250" || fail "-n does not show the override"
ok "-n prints the effective config"
"$BIN/tlsrpt-collectd" -o flush_interval_ms=1 -n >/dev/null 2>"$T/conf.err"
expect_eq "config value out of bounds exits 2" 2 $?
grep -q "flush_interval_ms" "$T/conf.err" || fail "bounds message does not name the key"
printf 'flush_interval_ms = 500\nno_such_key = 1\n' >"$T/bad.conf"
"$BIN/tlsrpt-collectd" -c "$T/bad.conf" -n >/dev/null 2>"$T/conf.err"
expect_eq "unknown key in config file exits 2" 2 $?
grep -q "bad.conf:2: unknown key 'no_such_key'" "$T/conf.err" || fail "message: $(cat "$T/conf.err")"
ok "config error names file, line and key"
"$BIN/tlsrpt-collectd" -s -o "database=$DB" >"$T/stats.out" || fail "-s failed"
grep -q "received" "$T/stats.out" || fail "-s output lacks received"
ok "-s prints stored counters"

# --- 6. SIGUSR1 logs counters ----------------------------------------------
: >"$LOGFILE"
rm -f "$DB" "$DB"-*
start_collector
send "$FIXTURES_DIR/success.json"
# The signal and the datagram are not ordered: wait until it is counted.
i=0
until [ "$(sql "SELECT SUM(successful_sessions) FROM policy_counter" 2>/dev/null)" = 1 ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "datagram not flushed"; sleep 0.05
done
kill -USR1 "$COLLECTOR_PID"
i=0
until grep -q "counters since start: received=1 accepted=1" "$LOGFILE"; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "SIGUSR1 gave no counter line"; sleep 0.05
done
ok "SIGUSR1 logs the counters"
stop_collector

# --- 7. the day is the UTC day, whatever TZ says ----------------------------
rm -f "$DB" "$DB"-*
for zone in Pacific/Kiritimati Pacific/Pago_Pago; do
	before=$(date -u +%F)
	TZ=$zone start_collector
	send "$FIXTURES_DIR/success.json"
	stop_collector
	after=$(date -u +%F)
	day=$(sql "SELECT day FROM policy_counter ORDER BY id DESC LIMIT 1")
	[ "$day" = "$before" ] || [ "$day" = "$after" ] || fail "TZ=$zone: day $day, UTC day $before"
	ok "TZ=$zone: sessions stored under the UTC day $day"
done

# --- 8. across UTC midnight (libfaketime: the clock starts at 23:59:56Z) --
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [ -f "$FT" ]; then
	rm -f "$DB" "$DB"-*
	LD_PRELOAD=$FT FAKETIME="@2026-03-14 23:59:56" FAKETIME_DONT_FAKE_MONOTONIC=1 \
	    TZ=UTC ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" start_collector
	send "$FIXTURES_DIR/success.json"
	sleep 5
	send "$FIXTURES_DIR/success.json" "$FIXTURES_DIR/success.json"
	stop_collector
	expect_eq "counts split at UTC midnight" "2026-03-14|1
2026-03-15|2" "$(sql "SELECT day, successful_sessions FROM policy_counter ORDER BY day")"
else
	fail "libfaketime not installed (make deps installs faketime)"
fi

# --- 9. receiver threads ---------------------------------------------------
for bad in 0 9; do
	"$BIN/tlsrpt-collectd" -o collector_receivers=$bad -n >/dev/null 2>"$T/conf.err"
	expect_eq "collector_receivers=$bad is out of bounds (exit 2)" 2 $?
done
rm -f "$DB" "$DB"-*
: >"$LOGFILE"
start_collector
threads=$COLLECTOR_RECEIVERS
[ "$threads" = 1 ] && threads="1 receiver thread" || threads="$threads receiver threads"
grep -q "$threads" "$LOGFILE" || fail "start-up line does not say '$threads'"
ok "start-up line says $threads"
# Four blocking senders at once, one of them over two flush intervals.
SENDERS=""
for f in success.json failure-certificate-expired.json success.json \
    two-policies-sts-fail-tlsa-ok.json; do
	"$TOOLS/dgram-send" -r 2500 "$SOCK" "$FIXTURES_DIR/$f" &
	SENDERS="$SENDERS $!"
done
for p in $SENDERS; do
	wait "$p" || fail "dgram-send $p"
done
# The last datagrams may still be in the queue or a thread's batch when the
# senders return: ask again until the sum is complete (at most 5 s).
i=0
until grep -q "counters since start: received=10000 accepted=10000 sessions=12500" "$LOGFILE"; do
	i=$((i + 1))
	[ $i -gt 50 ] && fail "SIGUSR1: no line with the sum of all threads: $(grep 'counters since start' "$LOGFILE" | tail -1)"
	kill -USR1 "$COLLECTOR_PID"
	sleep 0.1
done
ok "SIGUSR1 sums the counters of every thread"
stop_collector
expect_eq "exit 0" 0 "$COLLECTOR_STATUS"
expect_eq "10,000 datagrams from 4 concurrent senders all counted" 10000 "$(counter received)"
expect_eq "every session stored once (12,500: two-policies has 2)" 12500 \
    "$(sql "SELECT SUM(successful_sessions + failed_sessions) FROM policy_counter")"
expect_eq "one key from three senders: 5000 successes, 2500 failures" "5000|2500" \
    "$(sql "SELECT successful_sessions, failed_sessions FROM policy_counter WHERE report_domain='dom00000.example'")"
expect_eq "its failure detail: 2500" 2500 \
    "$(sql "SELECT sessions FROM failure_counter WHERE result_code=204")"
expect_eq "one row per key however many tables held it" 0 \
    "$(sql "SELECT COUNT(*) FROM (SELECT 1 FROM policy_counter GROUP BY day, report_domain, tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts HAVING COUNT(*) > 1)")"
echo "collector: $TESTS_RUN checks passed"
