#!/bin/sh
# `make run`: the whole pipeline on this machine, under ./run/.
#
# Writes run/tlsrptd.conf (kept if present) and a throwaway CA, starts
# the collector (run/collector.sock) and the ingest endpoint with its
# dashboard (https://localhost:8460/), then runs a demo flow: sample TLS
# sessions for yesterday (logged through a second collector whose clock
# libfaketime sets to yesterday), tlsrpt-aggregate, and tlsrpt-send,
# which delivers the reports to our own ingest endpoint (the rua of the
# sample record). Ctrl-C stops everything.
set -eu
: "${BIN:?BIN must name the directory of the built programs}"
RUN=$(pwd)/run
PORT=${TLSRPTD_RUN_PORT:-8460}
mkdir -p "$RUN"
CONF=$RUN/tlsrptd.conf
if [ ! -f "$RUN/pki/ca.pem" ]; then
	sh tests/tools/mkcerts.sh "$RUN/pki"
fi
if [ ! -f "$CONF" ]; then
	"$BIN/tlsrpt-collectd" -C >"$CONF"
	cat >>"$CONF" <<EOC

# --- local settings written by make run ---
database = $RUN/tlsrpt.db
collector_socket = $RUN/collector.sock
collector_socket_mode = 0666
organization_name = Example Mail Operator (make run)
contact_info = tlsrpt-noreply@reporter.example
report_submitter = reporter.example
ingest_database = $RUN/inbound.db
ingest_listen = 127.0.0.1:$PORT
ingest_tls_cert = $RUN/pki/server.pem
ingest_tls_key = $RUN/pki/server.key
https_ca_file = $RUN/pki/ca.pem
send_spread_s = 0
retention_days = 3650
EOC
fi
export TLSRPTD_CONF="$CONF"
PIDS=""
stop() {
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	echo "stopped"
	exit 0
}
trap stop INT TERM

wait_for() {	# wait_for FILE PATTERN
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "make run: timeout waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1; }
		sleep 0.1
	done
}

: >"$RUN/collector.log"
"$BIN/tlsrpt-collectd" -f >>"$RUN/collector.log" 2>&1 &
PIDS="$PIDS $!"
: >"$RUN/ingestd.log"
"$BIN/tlsrpt-ingestd" -f >>"$RUN/ingestd.log" 2>&1 &
PIDS="$PIDS $!"
wait_for "$RUN/collector.log" "listening on"
wait_for "$RUN/ingestd.log" "listening on"

# --- demo flow: yesterday's sessions, aggregated and sent to ourselves ---
YESTERDAY=$(date -u -d yesterday +%F)
RECORD="v=TLSRPTv1; rua=https://localhost:$PORT/tlsrpt"
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
: >"$RUN/demo.log"
LD_PRELOAD=$FT FAKETIME="@$YESTERDAY 12:00:00" FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC \
    "$BIN/tlsrpt-collectd" -f -o "collector_socket=$RUN/demo.sock" >>"$RUN/demo.log" 2>&1 &
DEMO=$!
wait_for "$RUN/demo.log" "listening on"
demo_log() { "$BIN/tlsrpt-log" -o "collector_socket=$RUN/demo.sock" --wait --record "$RECORD" "$@"; }
i=0
while [ $i -lt 40 ]; do
	demo_log --domain example.com --policy-type sts --policy-string "version: STSv1" \
	    --policy-string "mode: testing" --policy-string "mx: mx1.example.com" \
	    --policy-string "max_age: 86400" --mx-host mx1.example.com --result success
	i=$((i + 1))
done
demo_log --domain example.com --policy-type sts --policy-string "version: STSv1" \
    --policy-string "mode: testing" --policy-string "mx: mx1.example.com" \
    --policy-string "max_age: 86400" --mx-host mx1.example.com \
    --result certificate-expired --sending-ip 192.0.2.25 --mx-hostname mx1.example.com \
    --receiving-ip 203.0.113.5 --reason "certificate has expired"
demo_log --domain example.net --policy-type tlsa --policy-domain mx.example.net \
    --policy-string "3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6" \
    --result tlsa-invalid --sending-ip 192.0.2.25 --mx-hostname mx.example.net \
    --receiving-ip 198.51.100.10 --reason all-TLSA-records-unusable
demo_log --domain example.org --policy-type no-policy-found --result starttls-not-supported \
    --sending-ip 192.0.2.25 --mx-hostname mx.example.org --receiving-ip 198.51.100.20
kill -TERM "$DEMO"
wait "$DEMO" || true
"$BIN/tlsrpt-aggregate" --day "$YESTERDAY" 2>>"$RUN/demo.log" || true
"$BIN/tlsrpt-send" 2>>"$RUN/demo.log" || true

cat <<EOM

tlsrptd is running from $RUN (Ctrl-C stops it):
  config      $CONF
  collector   socket $RUN/collector.sock -> database $RUN/tlsrpt.db
              (Postfix: smtp_tlsrpt_socket_name = $RUN/collector.sock)
  ingest      https://localhost:$PORT/tlsrpt -> database $RUN/inbound.db
  dashboard   https://localhost:$PORT/   (CA: $RUN/pki/ca.pem)
  metrics     https://localhost:$PORT/metrics
Demo: yesterday's ($YESTERDAY) sample sessions were aggregated and sent to our own
ingest endpoint; see the log in $RUN/demo.log. Reports received:
EOM
sqlite3 -box "$RUN/inbound.db" "SELECT org, report_id, successful_sessions AS ok,
    failed_sessions AS failed FROM report ORDER BY id DESC LIMIT 5" 2>/dev/null || true
cat <<EOM

Try:  $BIN/tlsrpt-log --domain example.org --policy-type no-policy-found --result success
      $BIN/tlsrptctl summary
      $BIN/tlsrpt-collectd -s
EOM
wait
