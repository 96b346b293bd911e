#!/bin/sh
# `make run`: a local tlsrptd under ./run/ for trying it out. Writes a
# config (kept if present), starts the collector in the foreground on
# run/collector.sock with the database run/tlsrpt.db, logs a few sample
# sessions with tlsrpt-log and shows the stored counts. Ctrl-C stops it.
set -eu
: "${BIN:?BIN must name the directory of the built programs}"
RUN=$(pwd)/run
mkdir -p "$RUN"
CONF=$RUN/tlsrptd.conf
if [ ! -f "$CONF" ]; then
	"$BIN/tlsrpt-collectd" -C >"$CONF"
	cat >>"$CONF" <<EOC

# --- local settings written by make run ---
database = $RUN/tlsrpt.db
collector_socket = $RUN/collector.sock
collector_socket_mode = 0666
flush_interval_ms = 1000
EOC
fi
"$BIN/tlsrpt-collectd" -f -c "$CONF" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0' INT TERM
i=0
while [ ! -S "$RUN/collector.sock" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "collector did not start" >&2; exit 1; }
	sleep 0.1
done
sleep 0.2
log() { "$BIN/tlsrpt-log" -c "$CONF" "$@"; }
log --domain example.com --record "v=TLSRPTv1; rua=mailto:tlsrpt@example.com" \
    --policy-type sts --policy-string "version: STSv1" --policy-string "mode: testing" \
    --policy-string "mx: mx1.example.com" --policy-string "max_age: 86400" \
    --mx-host mx1.example.com --result success
log --domain example.com --record "v=TLSRPTv1; rua=mailto:tlsrpt@example.com" \
    --policy-type sts --policy-string "version: STSv1" --policy-string "mode: testing" \
    --policy-string "mx: mx1.example.com" --policy-string "max_age: 86400" \
    --mx-host mx1.example.com --result certificate-expired \
    --sending-ip 192.0.2.25 --mx-hostname mx1.example.com --receiving-ip 203.0.113.5 \
    --reason "certificate has expired"
log --domain example.net --policy-type no-policy-found --result success
sleep 1.5
cat <<EOM

tlsrptd is running (collector pid $pid).
  config:    $CONF
  socket:    $RUN/collector.sock   (point smtp_tlsrpt_socket_name here)
  database:  $RUN/tlsrpt.db
Stored counts so far:
EOM
sqlite3 -box "$RUN/tlsrpt.db" "SELECT day, report_domain, policy_type, policy_domain,
    successful_sessions AS ok, failed_sessions AS failed FROM policy_counter" || true
cat <<EOM

Log more sessions with, for example:
  $BIN/tlsrpt-log -c $CONF --domain example.org --policy-type no-policy-found --result success
Counters: $BIN/tlsrpt-collectd -c $CONF -s
Press Ctrl-C to stop.
EOM
wait $pid
