#!/bin/sh
# Crash, full-disk and broken-database behaviour with the real programs:
#  1. kill -9 of the collector under a paced, blocking load: what is lost
#     is bounded by one flush interval (plus the commit of the previous
#     one and the socket queue); restarts on the stale socket; the
#     database stays intact and the counts keep adding up.
#  2. kill -9 of the sender mid-delivery: covered by sender.sh (below).
#  3. full disk (a small tmpfs) and a file-size limit (prlimit on the
#     running collector, also one too small for the WAL to grow): the
#     collector keeps counting in memory, warns, and writes everything
#     exactly once when space returns.
#  4. a corrupt database (garbage, truncated, a broken page) and a
#     database locked by another writer, for collector, aggregator and
#     sender: a clear message naming the file, a non-zero exit, nothing
#     lost without a word.
# Needs root for the tmpfs variant; it is skipped with a message where
# mount is not permitted.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

MOUNTED=""
crash_cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "$MOUNTED" ]; then
		sleep 0.2
		umount "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED" 2>/dev/null
	fi
	cleanup
}
# On INT/TERM stop here (exit runs the EXIT trap), rather than go on
# after the cleanup.
trap crash_cleanup EXIT
trap 'exit 1' INT TERM

FIX=$FIXTURES_DIR
QLIMIT=$(($(cat /proc/sys/net/unix/max_dgram_qlen) + 1))

send() {
	"$TOOLS/dgram-send" "$SOCK" "$@" || fail "dgram-send $*"
}
# lg FIELD: a field of the load generator's result line in $T/lg.out
lg() {
	tr ' ' '\n' <"$T/lg.out" | sed -n "s/^$1=//p"
}
stat_sum() {
	sql "SELECT COALESCE(SUM(value), 0) FROM collector_stat WHERE name = '$1'"
}
sessions() {
	sql "SELECT COALESCE(SUM(successful_sessions), 0) || '|' ||
	    COALESCE(SUM(failed_sessions), 0) FROM policy_counter"
}
# wait_until WHAT SECONDS CMD...: polls CMD every 0.1 s
wait_until() {
	wu_what=$1
	wu_max=$(($2 * 10))
	shift 2
	wu_i=0
	until "$@"; do
		wu_i=$((wu_i + 1))
		[ $wu_i -gt $wu_max ] && fail "$wu_what: not after $((wu_max / 10)) s"
		sleep 0.1
	done
}
sessions_are() {
	[ "$(sessions 2>/dev/null)" = "$1" ]
}
log_has() {
	grep -q "$1" "$LOGFILE"
}
# log_has_alive PATTERN: log_has, failing at once when the collector died.
log_has_alive() {
	if ! kill -0 "$COLLECTOR_PID" 2>/dev/null; then
		COLLECTOR_STATUS=0
		wait "$COLLECTOR_PID" || COLLECTOR_STATUS=$?
		fail "collector died (exit status $COLLECTOR_STATUS)"
	fi
	log_has "$1"
}
integrity() {
	expect_eq "$1: PRAGMA integrity_check" ok "$(sql "PRAGMA integrity_check")"
}

# --- 1. kill -9 under load ---------------------------------------------------
# The load generator paces RATE datagrams/s with blocking sends, so none is
# lost before the collector's socket; after the kill its sends fail
# (connection refused), so "sent" is what reached the collector. What the
# collector had not committed is lost: the interval being counted, plus the
# previous one while its commit is still running (COMMIT_MS allows for the
# flusher's CPU time: 5-20 ms per 2,000 datagrams here), plus the socket
# queue. Two delays the collector does not control widen the window and are
# measured, not guessed: the time the kernel kept the flusher thread (nice
# 19) waiting for a CPU (schedstat; zero on an idle machine, hundreds of ms
# when other processes keep both CPUs busy), and how late the load
# generator's ticks ran (it then catches up, sending more in the window).
RATE=4000
INTERVAL_MS=500
COMMIT_MS=100
STRICT=$((RATE * INTERVAL_MS / 1000 + QLIMIT))
# flusher_wait_ms: run-queue wait so far of the collector's nice-19
# thread(s), FLUSHER_TIDS; shell builtins only, for it runs just before the
# kill, when a fork may wait for a CPU too.
flusher_wait_ms() {
	wait_ns=0
	for tid in $FLUSHER_TIDS; do
		if [ -r "/proc/$COLLECTOR_PID/task/$tid/schedstat" ]; then
			read -r _ ns _ <"/proc/$COLLECTOR_PID/task/$tid/schedstat"
			wait_ns=$((wait_ns + ns))
		fi
	done
	echo $(((wait_ns + 999999) / 1000000))
}
DB=$T/kill.db
SOCK=$T/kill.sock
stored=0
worst=0
conclusive=0
n=0
# Kills at 0.3-0.75 s after the first flush under load, so at different
# points of the flush cycle.
stored_more_than() {
	[ "$(stat_sum accepted 2>/dev/null)" -gt "$1" ] 2>/dev/null
}
for at in 0.3 0.45 0.6 0.75; do
	n=$((n + 1))
	start_collector -o flush_interval_ms=$INTERVAL_MS
	# Threads at nice 19: field 19 of stat, the 17th after "pid (comm) ".
	FLUSHER_TIDS=$(awk '{ sub(/^.*\) /, ""); if ($17 == 19) { split(FILENAME, p, "/"); print p[5] } }' \
	    /proc/"$COLLECTOR_PID"/task/*/stat)
	[ -n "$FLUSHER_TIDS" ] || echo "# no nice-19 thread in the collector: the flusher's wait is not measured"
	"$BIN/tlsrpt-loadgen" -v -s "$SOCK" -b -r $RATE -n $((RATE * 8)) -k 2000 \
	    >"$T/lg.out" 2>"$T/lg.err" &
	LG=$!
	PIDS="$PIDS $LG"
	wait_until "kill $n: first flush under load" 10 stored_more_than "$stored"
	sleep "$at"
	starved=$(flusher_wait_ms)
	kill -9 "$COLLECTOR_PID"
	wait "$COLLECTOR_PID" 2>/dev/null
	wait "$LG" || fail "loadgen: $(cat "$T/lg.err")"
	sent=$(lg sent)
	[ "$(lg lost)" -gt 0 ] || fail "kill $n: the load ended before the kill"
	grep -q "Connection refused" "$T/lg.err" || fail "kill $n: loadgen: $(cat "$T/lg.err")"
	# Less than one interval's worth sent: the loadgen ran slow (busy
	# machine); the kill still checks integrity and double counting, and
	# the bound check below counts it as inconclusive.
	[ "$sent" -gt $((RATE * INTERVAL_MS / 1000)) ] ||
	    echo "# kill $n: only $sent sent before the kill (slow machine)"
	late=$(sed -n 's/.*(worst \([0-9.]*\) ms).*/\1/p' "$T/lg.err" | awk '{printf "%d", $1 + 0.999}')
	bound=$((RATE * (INTERVAL_MS + COMMIT_MS + starved + ${late:-0}) / 1000 + QLIMIT))
	now=$(stat_sum accepted)
	lost=$((stored + sent - now))
	[ "$lost" -ge 0 ] || fail "kill $n: $((-lost)) datagrams counted twice"
	# The bound is a property of the native build: under the sanitizers
	# a commit takes several times COMMIT_MS, so there it is printed only.
	case $BUILD in
	*asan*) [ "$lost" -le "$bound" ] ||
	    echo "# kill $n: lost $lost, more than $bound (sanitizer build: not checked)" ;;
	*) [ "$lost" -le "$bound" ] ||
	    fail "kill $n ${at} s after a flush: lost $lost of $sent datagrams, more than $bound" ;;
	esac
	ok "kill -9 $n ${at} s after a flush at $RATE/s: $sent sent, $lost lost; bound $bound: interval $INTERVAL_MS ms + commit $COMMIT_MS + flusher waiting for a CPU $starved + sender late ${late:-0}, + queue $QLIMIT (interval + queue alone: $STRICT)"
	[ "$lost" -gt "$worst" ] && worst=$lost
	[ "$bound" -lt "$sent" ] && conclusive=$((conclusive + 1))
	stored=$now
	integrity "after kill $n"
	expect_eq "after kill $n: policy counters and the sessions counter committed together" \
	    "$(stat_sum sessions)" \
	    "$(sql "SELECT SUM(successful_sessions + failed_sessions) FROM policy_counter")"
	[ -S "$SOCK" ] || fail "kill -9 should leave the socket behind"
done
# A bound above what was sent proves nothing (flushing only at exit
# would pass it): on a machine too busy for that, say so. The rest of
# each kill (integrity, nothing counted twice, counters with their rows)
# was checked all the same; the figure is left to a quieter run.
if [ "$conclusive" -gt 0 ]; then
	ok "$conclusive of 4 kills had a loss bound below what was sent"
else
	echo "# machine too busy: no kill had a loss bound below what was sent (bound not checked this run)"
fi
start_collector
send "$FIX/success.json"
stop_collector
expect_eq "restart on the stale socket after the last kill exits 0 on SIGTERM" 0 "$COLLECTOR_STATUS"
expect_eq "counts keep adding across $n kills" $((stored + 1)) "$(stat_sum accepted)"
integrity "after the kills"
echo "# kill -9: worst loss $worst datagrams at $RATE/s, flush every $INTERVAL_MS ms ($STRICT = one interval + queue)"

# --- 2. kill -9 of the sender mid-delivery ------------------------------------
# sender.sh ("kill -9 in the middle of a delivery") kills tlsrpt-send while
# a report is in flight and checks both sides: the pending report queued
# behind it is delivered by the next run (no pending report lost), and
# nothing delivered before the crash is sent again (the delivered count and
# "a: still exactly one POST"); only the in-flight one arrives twice.

# --- 3a. full disk: a 2 MiB tmpfs ----------------------------------------------
# Filled while the collector runs: the WAL cannot take the next flush.
M=$T/disk
mkdir "$M"
if mount -t tmpfs -o size=2m tmpfs "$M" 2>"$T/mount.err"; then
	MOUNTED=$M
	DB=$M/tlsrpt.db
	SOCK=$T/full.sock
	start_collector
	send "$FIX/success.json"
	wait_until "first datagram flushed" 5 sessions_are "1|0"
	cat /dev/zero >"$M/filler" 2>/dev/null
	expect_eq "tmpfs full" 0 "$(df -P "$M" | awk 'NR == 2 {print $4}')"
	"$TOOLS/dgram-send" -r 300 "$SOCK" "$FIX/success.json" || fail send
	"$TOOLS/dgram-send" -r 200 "$SOCK" "$FIX/failure-certificate-expired.json" || fail send
	wait_until "disk-full warning" 5 log_has_alive "failed, keeping them in memory and retrying: .*database or disk is full"
	ok "full disk: warning logged"
	kill -USR1 "$COLLECTOR_PID"
	wait_until "SIGUSR1 counters" 5 log_has "counters since start: received=501 accepted=501"
	ok "full disk: all 501 datagrams counted in memory"
	kill -0 "$COLLECTOR_PID" || fail "collector died on a full disk"
	expect_eq "full disk: nothing new in the database yet" "1|0" "$(sessions)"
	rm "$M/filler"
	wait_until "flush after space returned" 10 sessions_are "301|200"
	log_has "database writable again" || fail "recovery not logged"
	ok "space back: every session written"
	stop_collector
	expect_eq "full disk: exit 0 on SIGTERM" 0 "$COLLECTOR_STATUS"
	expect_eq "full disk: nothing counted twice" "301|200|501" "$(sessions)|$(stat_sum accepted)"
	[ "$(stat_sum flush_errors)" -ge 1 ] || fail "flush_errors not counted"
	integrity "full disk"
	umount "$M" || fail "umount $M"
	MOUNTED=""
else
	echo "# SKIP full tmpfs: cannot mount one here: $(cat "$T/mount.err")"
fi

# --- 3b. file-size limit on the running collector --------------------------------
# Logging into a pipe, as to syslog in production: a log file would be
# over the limit too.
start_collector_piped() {
	LOGFILE=$T/piped.log
	: >"$LOGFILE"
	rm -f "$T/log.fifo"
	mkfifo "$T/log.fifo"
	cat "$T/log.fifo" >>"$LOGFILE" &
	PIDS="$PIDS $!"
	"$BIN/tlsrpt-collectd" -f -o "collector_socket=$SOCK" -o "database=$DB" \
	    -o flush_interval_ms=100 >"$T/log.fifo" 2>&1 &
	COLLECTOR_PID=$!
	PIDS="$PIDS $COLLECTOR_PID"
	wait_until "collector listening" 20 log_has "listening on"
}
if command -v prlimit >/dev/null; then
	DB=$T/fsize.db
	SOCK=$T/fsize.sock
	start_collector_piped
	send "$FIX/success.json"
	wait_until "first datagram flushed" 5 sessions_are "1|0"
	# Soft limit only: raising it again needs no privilege.
	prlimit --pid "$COLLECTOR_PID" --fsize=0: || fail "prlimit"
	"$TOOLS/dgram-send" -r 300 "$SOCK" "$FIX/success.json" || fail send
	"$TOOLS/dgram-send" -r 200 "$SOCK" "$FIX/failure-certificate-expired.json" || fail send
	wait_until "file-size warning" 5 log_has_alive "failed, keeping them in memory and retrying"
	kill -0 "$COLLECTOR_PID" || fail "collector died over the file-size limit (SIGXFSZ?)"
	ok "file-size limit: SIGXFSZ ignored, write failed, warning logged"
	expect_eq "file-size limit: nothing new in the database yet" "1|0" "$(sessions)"
	prlimit --pid "$COLLECTOR_PID" --fsize=unlimited: || fail "prlimit"
	wait_until "flush after the limit was raised" 10 sessions_are "301|200"
	stop_collector
	expect_eq "file-size limit: exit 0 on SIGTERM" 0 "$COLLECTOR_STATUS"
	expect_eq "file-size limit: every session once" "301|200|501" "$(sessions)|$(stat_sum accepted)"
	integrity "file-size limit"

	# The WAL cannot grow: limit just past its size (part of one frame).
	DB=$T/wal.db
	SOCK=$T/wal.sock
	start_collector_piped
	send "$FIX/success.json"
	wait_until "first datagram flushed" 5 sessions_are "1|0"
	wal=$(stat -c %s "$DB-wal")
	prlimit --pid "$COLLECTOR_PID" --fsize=$((wal + 1000)): || fail "prlimit"
	"$BIN/tlsrpt-loadgen" -s "$SOCK" -b -n 0 -k 3000 >"$T/lg.out" 2>"$T/lg.err" ||
	    fail "loadgen: $(cat "$T/lg.err")"
	wait_until "WAL-full warning" 5 log_has_alive "failed, keeping them in memory and retrying"
	kill -0 "$COLLECTOR_PID" || fail "collector died when the WAL could not grow"
	expect_eq "WAL cannot grow: nothing new in the database" "1|0" "$(sessions)"
	[ "$(stat -c %s "$DB-wal")" -le $((wal + 1000)) ] || fail "WAL grew past the limit"
	ok "WAL cannot grow past $((wal + 1000)) bytes: flush fails, $(lg sent) datagrams ($(lg keys) keys) held in memory"
	prlimit --pid "$COLLECTOR_PID" --fsize=unlimited: || fail "prlimit"
	want=$(($(lg sessions) - $(lg failures) + 1))"|"$(lg failures)
	wait_until "flush after the WAL could grow again" 10 sessions_are "$want"
	stop_collector
	expect_eq "WAL cannot grow: exit 0 on SIGTERM" 0 "$COLLECTOR_STATUS"
	expect_eq "WAL cannot grow: every session once" "$want|$(($(lg sent) + 1))" \
	    "$(sessions)|$(stat_sum accepted)"
	integrity "WAL cannot grow"
else
	echo "# SKIP file-size limit: prlimit (util-linux) not installed"
fi

# Started under a limit too small for the database: an error, not SIGXFSZ.
rc=0
out=$( (ulimit -f 1 && exec "$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/ulimit.sock" \
    -o "database=$T/ulimit.db") 2>&1) || rc=$?
expect_eq "started under ulimit -f 1: exit 1 (not killed by SIGXFSZ)" 1 "$rc"
case $out in
*"$T/ulimit.db: "*) ok "ulimit -f: message names the database: $out" ;;
*) fail "ulimit -f: message does not name the database: $out" ;;
esac

# --- 4a. corrupt databases -----------------------------------------------------------
CONF=$T/send.conf
cat >"$CONF" <<EOC
organization_name = Example Mail Operator
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
retention_days = 3650
dns_server = 127.0.0.1:9
send_spread_s = 0
smtp_relay =
sendmail_path = $T/sendmail
EOC
# A database with real content, cleanly closed (no WAL left).
DB=$T/good.db
SOCK=$T/good.sock
start_collector
"$BIN/tlsrpt-loadgen" -s "$SOCK" -b -n 0 -k 3000 >"$T/lg.out" 2>"$T/lg.err" ||
    fail "loadgen: $(cat "$T/lg.err")"
stop_collector
[ ! -e "$DB-wal" ] || fail "WAL left after a clean stop"
size=$(stat -c %s "$DB")
yes "not an sqlite database" | head -c 20000 >"$T/garbage.db"
head -c $((size / 2)) "$DB" >"$T/half.db"
head -c 100 "$DB" >"$T/header.db"
for bad in garbage half header; do
	f=$T/$bad.db
	cp "$f" "$T/orig.db"
	rc=0
	"$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/bad.sock" -o "database=$f" \
	    >"$T/bad.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "collector started on $bad.db"
	grep -q "$f: .*\(not a database\|malformed\)" "$T/bad.out" ||
	    fail "collector on $bad.db: $(cat "$T/bad.out")"
	[ ! -e "$T/bad.sock" ] || fail "collector on $bad.db left its socket"
	rc=0
	"$BIN/tlsrpt-aggregate" -c "$CONF" -o "database=$f" >"$T/bad.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "aggregator exited 0 on $bad.db"
	grep -q "$f: .*\(not a database\|malformed\)" "$T/bad.out" ||
	    fail "aggregator on $bad.db: $(cat "$T/bad.out")"
	rc=0
	"$BIN/tlsrpt-send" -c "$CONF" -o "database=$f" >"$T/bad.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "sender exited 0 on $bad.db"
	grep -q "$f: .*\(not a database\|malformed\)" "$T/bad.out" ||
	    fail "sender on $bad.db: $(cat "$T/bad.out")"
	cmp -s "$f" "$T/orig.db" || fail "$bad.db was modified"
	ok "$bad.db: collector, aggregator and sender exit non-zero naming the file; file untouched"
done

# A broken page inside a database whose header is fine: nothing notices at
# start (that would take a full integrity check), the collector keeps the
# counts, warns at every retry, and on SIGTERM gives up after 10 s in all,
# exits 1 and says what it could not write.
cp "$DB" "$T/page.db"
# On a finished day, so that the aggregator reads them.
sqlite3 "$T/page.db" "UPDATE policy_counter SET day = '2026-03-14'" || fail "move day"
[ ! -e "$T/page.db-wal" ] || fail "sqlite3 left a WAL"
root=$(sqlite3 "$T/page.db" "SELECT rootpage FROM sqlite_master WHERE name = 'policy_counter'")
psize=$(sqlite3 "$T/page.db" "PRAGMA page_size")
yes garbage | head -c "$psize" |
    dd of="$T/page.db" bs="$psize" seek=$((root - 1)) conv=notrunc 2>/dev/null
DB=$T/page.db
SOCK=$T/page.sock
start_collector
send "$FIX/success.json"
wait_until "corruption warning" 5 log_has "keeping them in memory and retrying: .*database disk image is malformed"
send "$FIX/success.json"
t0=$(date +%s)
stop_collector
took=$(($(date +%s) - t0))
expect_eq "broken page: exit 1 on SIGTERM" 1 "$COLLECTOR_STATUS"
log_has "giving up: 1 sessions in 1 keys were not written" || fail "give-up not logged"
log_has "stopped with counts that could not be written" || fail "loss not logged at exit"
[ "$took" -le 14 ] || fail "SIGTERM took $took s (10 s to give up for all tallies)"
ok "broken page: the collector said what it could not write and stopped in $took s"
rc=0
"$BIN/tlsrpt-aggregate" -c "$CONF" -o "database=$DB" --day 2026-03-14 >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "aggregator exited 0 on a broken counter table"
grep -q "malformed" "$T/bad.out" || fail "aggregator on a broken page: $(cat "$T/bad.out")"
ok "broken page: the aggregator exits $rc: $(grep -m 1 malformed "$T/bad.out")"

# --- 4b. a database locked by another writer ------------------------------------
DB=$T/lock.db
mkdir "$T/mail"
# With $T/slow, holds the delivery until $T/go exists (at most 20 s).
cat >"$T/sendmail" <<EOS
#!/bin/sh
i=0
while [ -e "$T/slow" ] && [ ! -e "$T/go" ] && [ \$i -lt 200 ]; do
	sleep 0.1
	i=\$((i + 1))
done
cat >"\$(mktemp "$T/mail/msg.XXXXXX")"
EOS
chmod +x "$T/sendmail"
agg() { "$BIN/tlsrpt-aggregate" -c "$CONF" -o "database=$DB" "$@"; }
snd() { "$BIN/tlsrpt-send" -c "$CONF" -o "database=$DB" "$@"; }
# stage DAY: counters of d<DAY>.example on DAY, report to mailto.
stage() {
	sql "INSERT INTO policy_counter (day, report_domain, tlsrpt_record, policy_type,
	    policy_domain, policy_strings, mx_hosts, successful_sessions, failed_sessions)
	    VALUES ('$1', 'd$1.example', 'v=TLSRPTv1; rua=mailto:tlsrpt@d$1.example', 2,
	    'd$1.example', '[\"version: STSv1\",\"mode: testing\"]', '[]', 5, 0)"
}
mails() {
	grep -l "^TLS-Report-Domain: d$1.example" "$T"/mail/msg.* 2>/dev/null | wc -l | tr -d ' '
}
reports() {
	sql "SELECT COUNT(*) FROM report WHERE report_domain = 'd$1.example'"
}
# hold_lock SECONDS: another process holds the write lock for that long.
hold_lock() {
	{ echo ".timeout 5000"; echo "BEGIN IMMEDIATE;"
	  echo "INSERT INTO collector_stat VALUES ('1970-01-01', 'lock', 1);"
	  sleep "$1"; echo "ROLLBACK;"; } | sqlite3 "$DB" &
	LOCKER=$!
	PIDS="$PIDS $LOCKER"
	wait_until "lock taken" 5 locked
}
locked() {
	! sqlite3 "$DB" ".timeout 0" "BEGIN IMMEDIATE; ROLLBACK;" 2>/dev/null
}
agg --day 2026-03-01 2>/dev/null || fail "create $DB"
stage 2026-03-02
stage 2026-03-03
agg --day 2026-03-02 2>"$T/agg.err" || fail "aggregate: $(cat "$T/agg.err")"

hold_lock 3
rc=0
agg -o db_busy_timeout_ms=300 --day 2026-03-03 2>"$T/agg.err" || rc=$?
[ "$rc" -ne 0 ] || fail "aggregator exited 0 while it could not write"
grep -q "database is locked" "$T/agg.err" || fail "aggregator message: $(cat "$T/agg.err")"
ok "locked, short busy timeout: aggregator exits $rc: $(tail -n 1 "$T/agg.err")"
rc=0
snd -o db_busy_timeout_ms=300 2>"$T/send.err" || rc=$?
[ "$rc" -ne 0 ] || fail "sender exited 0 while it could not write"
grep -q "database is locked" "$T/send.err" || fail "sender message: $(cat "$T/send.err")"
expect_eq "locked: the sender sent nothing it could not record" 0 "$(mails 2026-03-02)"
ok "locked, short busy timeout: sender exits $rc: $(grep -m 1 locked "$T/send.err")"
wait "$LOCKER"
expect_eq "locked: the aggregator stored nothing" 0 "$(reports 2026-03-03)"
agg --day 2026-03-03 2>"$T/agg.err" || fail "aggregate after the lock: $(cat "$T/agg.err")"
snd 2>"$T/send.err" || fail "send after the lock: $(cat "$T/send.err")"
expect_eq "after the lock: both reports built and delivered once" "1|1|1|1" \
    "$(reports 2026-03-02)|$(reports 2026-03-03)|$(mails 2026-03-02)|$(mails 2026-03-03)"

# Locked while a report is in flight: it cannot be marked delivered; the
# sender says so and exits 1, and the next run sends it again (the one
# duplicate README allows), never a report it recorded as delivered.
stage 2026-03-04
agg --day 2026-03-04 2>"$T/agg.err" || fail "aggregate: $(cat "$T/agg.err")"
touch "$T/slow"
snd -o db_busy_timeout_ms=300 2>"$T/send.err" &
SND=$!
PIDS="$PIDS $SND"
inflight() {
	[ "$(sql "SELECT state FROM delivery WHERE uri = 'mailto:tlsrpt@d2026-03-04.example'" 2>/dev/null)" = in-flight ]
}
wait_until "delivery in flight" 5 inflight
hold_lock 3
touch "$T/go"
rc=0
wait "$SND" || rc=$?
rm "$T/slow" "$T/go"
[ "$rc" -ne 0 ] || fail "sender exited 0 though it could not record a delivery"
grep -q "database is locked" "$T/send.err" || fail "sender message: $(cat "$T/send.err")"
ok "locked mid-delivery: sender exits $rc: $(grep -m 1 locked "$T/send.err")"
grep -q "was delivered to mailto:tlsrpt@d2026-03-04.example but could not be recorded; it stays in flight and the next run sends it again" "$T/send.err" ||
	fail "no message for the unrecorded delivery: $(cat "$T/send.err")"
if grep -q "tlsrpt-send: delivered " "$T/send.err"; then
	fail "an unrecorded delivery logged as delivered: $(cat "$T/send.err")"
fi
ok "locked mid-delivery: the log says it was sent but not recorded"
wait "$LOCKER"
expect_eq "locked mid-delivery: delivery still in flight" in-flight \
    "$(sql "SELECT state FROM delivery WHERE uri = 'mailto:tlsrpt@d2026-03-04.example'")"
snd 2>"$T/send.err" || fail "send after the lock: $(cat "$T/send.err")"
grep -q "1 deliveries were in flight" "$T/send.err" || fail "recovery not logged: $(cat "$T/send.err")"
expect_eq "next run: delivered; only the unrecorded one sent twice" "delivered|2|1|1" \
    "$(sql "SELECT state FROM delivery WHERE uri = 'mailto:tlsrpt@d2026-03-04.example'")|$(mails 2026-03-04)|$(mails 2026-03-02)|$(mails 2026-03-03)"

# A lock shorter than db_busy_timeout_ms (5 s): both wait and succeed.
stage 2026-03-05
hold_lock 2
agg --day 2026-03-05 2>"$T/agg.err" || fail "aggregator did not wait for a 2 s lock: $(cat "$T/agg.err")"
wait "$LOCKER"
hold_lock 2
snd 2>"$T/send.err" || fail "sender did not wait for a 2 s lock: $(cat "$T/send.err")"
wait "$LOCKER"
expect_eq "2 s lock, 5 s busy timeout: aggregator and sender waited, report delivered once" "1|1" \
    "$(reports 2026-03-05)|$(mails 2026-03-05)"
integrity "lock tests"
echo "crash: $TESTS_RUN checks passed"
