#!/bin/sh
# Integration test of what running as root changes, and of the ingest
# endpoint under attack. Needs root (CI runs the tests as root); prints
# why and passes when it is not root, or a tool it needs is missing.
#
#  - tlsrpt-collectd and tlsrpt-ingestd started as root with
#    collector_user / ingest_user set to a throwaway system user (created
#    here with useradd, removed at exit): every thread runs with that
#    user's uid and gid, no supplementary group, no capability
#    (/proc/PID/task/*/status);
#  - the collector socket has collector_socket_owner, _group and _mode; a
#    user in that group can send, another user cannot (EACCES, exit 75),
#    and the collector counts the member's datagram only;
#  - the databases the daemons create belong to that user and are not
#    world-readable, even when started with umask 022 (they set 027
#    themselves, as the systemd units do);
#  - a root-owned read-only database: each daemon refuses to start and
#    names the file, instead of taking data it cannot write;
#  - tlsrpt-ingestd, exposed directly (ingest_max_connections_per_ip = 4;
#    the default 0 suits a proxy in front), under slowloris (headers one
#    byte a second over 20 connections from each of 3 addresses), a
#    flood of 3 x ingest_max_connections connections from one address,
#    oversized headers and oversized bodies, all at once, while a
#    reporter on 127.0.0.1 POSTs a valid report every 200 ms: each one
#    stored, each within 2 s; trickled headers cut off after
#    ingest_request_timeout_s; then idle connections from 40 addresses,
#    twice ingest_max_connections: never more than that many sockets
#    held (the reporter then waits for a slot: printed, not checked);
#    served normally afterwards;
#  - no GET opens a file (strace -f on the daemon): ../ and %2e%2e
#    traversal, absolute paths, symlinks named like the embedded assets
#    in its working directory; the assets served are the embedded bytes.
# What ingest.sh covers (one slow client, a flood on one address, the
# caps one at a time) is not repeated here.
# shellcheck source=tests/integration/common.sh
. tests/integration/common.sh

case $BIN in
/*) ;;
*) BIN=$(pwd)/$BIN ;;	# the ingest daemon starts in another directory
esac

skip() {
	echo "# skip privilege: $*"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (useradd, and daemons started as root)"
for tool in useradd userdel groupadd groupdel setpriv curl; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
for p in tlsrpt-collectd tlsrpt-ingestd tlsrpt-log; do
	[ -x "$BIN/$p" ] || fail "$BIN/$p is not built"
done

# --- throwaway users and groups ------------------------------------------------
# D runs the daemons, members of G may write the collector socket (as
# postfix does), M is in G, O is not. Names are unique to this run.
sfx=$$
D=tlsrptd-d$sfx
G=tlsrptd-g$sfx
M=tlsrptd-m$sfx
O=tlsrptd-o$sfx
USERS_MADE=""
GROUPS_MADE=""
priv_cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	# userdel refuses while a process of the user runs.
	i=0
	while [ -n "$USERS_MADE" ] && pgrep -u "$(echo "$USERS_MADE" | tr ' ' ',' | sed 's/^,//')" \
	    >/dev/null 2>&1 && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	for u in $USERS_MADE; do
		userdel "$u" 2>/dev/null
	done
	for g in $GROUPS_MADE; do
		getent group "$g" >/dev/null && groupdel "$g" 2>/dev/null
	done
	cleanup
}
trap priv_cleanup EXIT
trap 'exit 1' INT TERM

# retry CMD...: useradd and groupadd fail while another process
# holds /etc/passwd's lock.
retry() {
	n=0
	until "$@" 2>"$T/useradd.err"; do
		n=$((n + 1))
		[ $n -ge 20 ] && fail "$*: $(cat "$T/useradd.err")"
		sleep 0.2
	done
}
for name in "$D" "$G" "$M" "$O"; do
	getent passwd "$name" >/dev/null && fail "user $name exists already"
	getent group "$name" >/dev/null && fail "group $name exists already"
done
retry groupadd -r "$G"
GROUPS_MADE="$G"
for u in "$D" "$M" "$O"; do
	USERS_MADE="$USERS_MADE $u"
	GROUPS_MADE="$GROUPS_MADE $u"
	if [ "$u" = "$M" ]; then
		retry useradd -r -M -d /nonexistent -s /usr/sbin/nologin -U -G "$G" "$u"
	else
		retry useradd -r -M -d /nonexistent -s /usr/sbin/nologin -U "$u"
	fi
done
DUID=$(id -u "$D")
DGID=$(id -g "$D")
if [ "$DUID" -eq 0 ] || [ "$DGID" -eq 0 ]; then
	fail "user $D: uid $DUID gid $DGID"
fi
ok "throwaway users $D ($DUID:$DGID), $M (in $G), $O and group $G"

# The layout of the units: the run and state directories belong to the
# user, the state one closed to others; T itself only traversable.
chmod 0711 "$T"
mkdir "$T/run" "$T/state" "$T/bin" "$T/www"
chown "$D:$D" "$T/run" "$T/state"
chmod 0755 "$T/run"
chmod 0750 "$T/state"
# M and O run tlsrpt-log from here: the build tree may be closed to them.
cp "$BIN/tlsrpt-log" "$T/bin/"
chmod 0755 "$T/bin" "$T/bin/tlsrpt-log"
# A permissive umask, as an administrator's shell may have: the daemons
# must not leave their databases world-readable because of it.
umask 0022

# check_creds WHAT PID: every thread has D's uid and gid, D's group only,
# and no capability.
check_creds() {
	ntask=0
	for st in /proc/"$2"/task/*/status; do
		got=$(awk '
		    $1 == "Uid:" || $1 == "Gid:" { printf "%s %s %s %s %s|", $1, $2, $3, $4, $5 }
		    $1 == "Groups:" { printf "Groups:"; for (i = 2; i <= NF; i++) printf " %s", $i; printf "|" }
		    $1 ~ /^Cap(Inh|Prm|Eff|Amb):$/ { printf "%s %s|", $1, $2 }' "$st")
		want="Uid: $DUID $DUID $DUID $DUID|Gid: $DGID $DGID $DGID $DGID|Groups: $DGID|"
		want="${want}CapInh: 0000000000000000|CapPrm: 0000000000000000|"
		want="${want}CapEff: 0000000000000000|CapAmb: 0000000000000000|"
		[ "$got" = "$want" ] || fail "$1: $st: '$got', expected '$want'"
		ntask=$((ntask + 1))
	done
	[ $ntask -ge 1 ] || fail "$1: no /proc/$2/task"
	ok "$1: all $ntask threads run as $DUID:$DGID, groups $DGID only, no capabilities"
}

# file_is WHAT FILE OWNER:GROUP MODE
file_is() {
	expect_eq "$1" "$3 $4" "$(stat -c '%U:%G %a' "$2")"
}

# ===========================================================================
# tlsrpt-collectd
# ===========================================================================
SOCK=$T/run/collector.sock
DB=$T/state/tlsrpt.db
start_collector -o "collector_user=$D" -o "collector_socket_owner=$D" \
    -o "collector_socket_group=$G" -o collector_socket_mode=0660
check_creds collector "$COLLECTOR_PID"
file_is "collector socket: owner, group, mode" "$SOCK" "$D:$G" 660

# send AS DOMAIN: tlsrpt-log as user AS; sets RC, ERR.
send() {
	RC=0
	setpriv --reuid="$1" --regid="$1" --init-groups "$T/bin/tlsrpt-log" \
	    -o "collector_socket=$SOCK" --domain "$2" --result success \
	    >/dev/null 2>"$T/send.err" || RC=$?
	ERR=$(head -n 1 "$T/send.err")
}
send "$M" member.example
expect_eq "a member of $G sends: exit 0 ($ERR)" 0 "$RC"
send "$O" other.example
expect_eq "a user outside $G cannot send: exit 75" 75 "$RC"
case $ERR in
*"ermission denied"*) ok "... and is told why: $ERR" ;;
*) fail "user outside the group: '$ERR', expected Permission denied" ;;
esac
stop_collector
expect_eq "collector: SIGTERM, exit 0" 0 "$COLLECTOR_STATUS"
expect_eq "only the member's datagram counted" "member.example|1" \
    "$(sql "SELECT group_concat(report_domain) || '|' || SUM(successful_sessions) FROM policy_counter")"
file_is "outbound database: the user's, 0640 under umask 022" "$DB" "$D:$D" 640
for f in "$DB"-*; do
	[ -e "$f" ] || continue
	file_is "$(basename "$f"): the user's, 0640" "$f" "$D:$D" 640
done

# ===========================================================================
# tlsrpt-ingestd: credentials, files, attacks
# ===========================================================================
IDB=$T/state/inbound.db
LOGFILE=$T/ingestd.log
SECRET="secret-$$-$(date +%s)"
echo "$SECRET" >"$T/www/secret.txt"
chown "$D" "$T/www/secret.txt"
chmod 0755 "$T/www"
# Files named like the embedded ones, in the daemon's working directory.
for f in ingest/web/*; do
	ln -s secret.txt "$T/www/$(basename "$f")"
done
ln -s . "$T/www/assets"
ln -s / "$T/www/rootfs"
MAXC=64
PERIP=4
: >"$LOGFILE"
(cd "$T/www" && exec "$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 \
    -o "ingest_database=$IDB" -o "database=$DB" -o "ingest_user=$D" \
    -o ingest_max_connections=$MAXC -o ingest_max_connections_per_ip=$PERIP \
    -o ingest_request_timeout_s=4 -o ingest_connection_timeout_s=3 \
    -o ingest_threads=2) >>"$LOGFILE" 2>&1 &
IPID=$!
PIDS="$PIDS $IPID"
i=0
until grep -q "listening on" "$LOGFILE"; do
	kill -0 "$IPID" 2>/dev/null || fail "tlsrpt-ingestd exited at start"
	i=$((i + 1))
	[ $i -gt 200 ] && fail "tlsrpt-ingestd not ready after 10 s"
	sleep 0.05
done
IPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:0 port \([0-9][0-9]*\) .*/\1/p' "$LOGFILE")
[ -n "$IPORT" ] || fail "no port in: $(cat "$LOGFILE")"
ok "ingestd started as root, listening on port $IPORT"
check_creds ingestd "$IPID"
file_is "inbound database: the user's, 0640" "$IDB" "$D:$D" 640

# --- attacks beside a reporter ----------------------------------------------------
cat >"$T/attack.py" <<'EOPY'
import http.client, json, os, socket, sys, threading, time

mode, port, seconds, pid, maxc = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
stop = threading.Event()
out = {}
lock = threading.Lock()

def report(i):
    return json.dumps({"organization-name": "Privilege Test Org",
        "date-range": {"start-datetime": "2026-03-01T00:00:00Z",
                       "end-datetime": "2026-03-01T23:59:59Z"},
        "contact-info": "tlsrpt@reporter.example", "report-id": "%s-%d" % (mode, i),
        "policies": [{"policy": {"policy-type": "no-policy-found", "policy-domain": "example.com"},
                      "summary": {"total-successful-session-count": 1,
                                  "total-failure-session-count": 0}}]}).encode()

def conn(src, timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(src, 0))

def reporter():
    """A valid report every 200 ms from 127.0.0.1, one connection each."""
    lat, bad, i = [], [], 0
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                           source_address=("127.0.0.1", 0))
            c.request("POST", "/tlsrpt", report(i), {"Content-Type": "application/tlsrpt+json"})
            r = c.getresponse()
            st, text = r.status, r.read().decode(errors="replace").strip()
            c.close()
        except Exception as e:
            st, text = 0, repr(e)
        dt = time.monotonic() - t0
        lat.append(dt)
        if st != 200 or text != "stored":
            bad.append("%s-%d: %d %s after %.2f s" % (mode, i, st, text, dt))
        i += 1
        time.sleep(max(0.0, 0.2 - dt))
    lat.sort()
    out["reporter"] = "posted=%d failed=%d max_ms=%d median_ms=%d %s" % (
        i, len(bad), lat[-1] * 1000, lat[len(lat) // 2] * 1000, "; ".join(bad[:3]))

def slowloris(srcs, per_src):
    """Headers one byte a second over per_src connections from each address;
    a connection the server closed is opened again. Those the server held
    (closed after more than 2 s) show how long it lets a request trickle."""
    head = b"POST /tlsrpt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/tlsrpt+json\r\nX-Padding: " + b"a" * 4000
    socks, opened, held, longest = [], 0, 0, 0.0
    while not stop.is_set():
        while len(socks) < len(srcs) * per_src:
            src = srcs[len(socks) % len(srcs)]
            try:
                s = conn(src)
                s.setblocking(False)
                socks.append([s, 0, time.monotonic()])
                opened += 1
            except OSError:
                break
        for e in list(socks):
            s, n, t0 = e
            try:
                s.send(head[n % len(head):n % len(head) + 1])
                e[1] += 1
                if s.recv(4096) == b"":
                    raise ConnectionResetError()
            except BlockingIOError:
                pass
            except OSError:
                life = time.monotonic() - t0
                if life > 2:
                    held += 1
                    longest = max(longest, life)
                s.close()
                socks.remove(e)
        time.sleep(1.0)
    for e in socks:
        e[0].close()
    out["slowloris"] = "opened=%d held_then_cut=%d longest_s=%.1f" % (opened, held, longest)

def flood(src, n):
    """n connections at once from one address, kept open, opened again."""
    socks, opened, refused = [], 0, 0
    while not stop.is_set():
        while len(socks) < n and not stop.is_set():
            try:
                socks.append(conn(src, 2))
                opened += 1
            except OSError:
                refused += 1
                break
        time.sleep(0.2)
        for s in list(socks):
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    raise ConnectionResetError()
            except BlockingIOError:
                continue
            except OSError:
                pass
            s.close()
            socks.remove(s)
    for s in socks:
        s.close()
    with lock:
        out.setdefault("flood", [0, 0])
        out["flood"][0] += opened
        out["flood"][1] += refused

def answer(s):
    s.settimeout(5)
    data = b""
    try:
        while b"\r\n" not in data:
            got = s.recv(4096)
            if not got:
                break
            data += got
    except OSError:
        pass
    s.close()
    return data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed"

def oversized(src):
    """Headers over ingest_max_header_bytes (one of 64 KiB, 2000 small
    ones), a huge Content-Length, a chunked body past the cap."""
    codes = {}
    def note(k, v):
        codes.setdefault(k, {}).setdefault(v, 0)
        codes[k][v] += 1
    while not stop.is_set():
        for kind in ("bigheader", "manyheaders", "length", "chunked"):
            try:
                s = conn(src)
                req = b"POST /tlsrpt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                if kind == "bigheader":
                    s.sendall(req + b"X-Big: " + b"a" * 65536 + b"\r\n\r\n")
                elif kind == "manyheaders":
                    s.sendall(req + b"".join(b"X-H%d: %s\r\n" % (k, b"b" * 20) for k in range(2000)) + b"\r\n")
                elif kind == "length":
                    s.sendall(req + b"Content-Length: 10000000000\r\n\r\n")
                else:
                    s.sendall(req + b"Transfer-Encoding: chunked\r\n\r\n")
                    chunk = b"%x\r\n%s\r\n" % (65536, b"{" * 65536)
                    for _ in range(12 * 16):
                        s.sendall(chunk)
                    s.sendall(b"0\r\n\r\n")
                note(kind, answer(s))
            except OSError as e:
                note(kind, "closed")
        time.sleep(0.1)
    out["oversized"] = " ".join("%s=%s" % (k, ",".join("%s:%d" % kv for kv in sorted(v.items())))
                                for k, v in sorted(codes.items()))

def sockets():
    n = 0
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            n += os.readlink("/proc/%s/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n

if mode.startswith("report-"):
    # The reporter, in a process of its own: the attackers' work must not
    # delay it (as it would through the interpreter lock).
    threads = [threading.Thread(target=reporter)]
elif mode == "one":
    # Each attack from addresses of its own, each held to the per-address cap.
    threads = [threading.Thread(target=slowloris, args=(["127.0.0.2", "127.0.0.3", "127.0.0.4"], 20)),
               threading.Thread(target=flood, args=("127.0.0.5", 3 * maxc)),
               threading.Thread(target=oversized, args=("127.0.0.6",))]
else:
    # Idle connections from 40 addresses: twice ingest_max_connections.
    threads = [threading.Thread(target=flood, args=("127.0.1.%d" % k, 2 * maxc // 40 + 1))
               for k in range(1, 41)]
for t in threads:
    t.start()
most = 0
t0 = time.monotonic()
while time.monotonic() - t0 < seconds:
    if not mode.startswith("report-"):
        most = max(most, sockets())
    time.sleep(0.1)
stop.set()
for t in threads:
    t.join()
if not mode.startswith("report-"):
    out["sockets"] = "most=%d" % most
    out["flood"] = "opened=%d connect_failed=%d" % tuple(out["flood"])
for k in sorted(out):
    print("%s %s" % (k, out[k]))
EOPY
# attack MODE SECONDS: the attackers of MODE (at the lowest priority:
# their CPU is not the server's in real life) beside the reporter, both
# for SECONDS; the figures in $T/MODE.out.
attack() {
	$PY "$T/attack.py" "report-$1" "$IPORT" "$2" "$IPID" "$MAXC" >"$T/report-$1.out" \
	    2>"$T/report.err" &
	rpid=$!
	PIDS="$PIDS $rpid"
	nice -n 19 $PY "$T/attack.py" "$1" "$IPORT" "$2" "$IPID" "$MAXC" >"$T/$1.out" 2>"$T/attack.err" ||
	    fail "attack.py $1: $(cat "$T/attack.err")"
	wait "$rpid" || fail "attack.py report-$1: $(cat "$T/report.err")"
	cat "$T/report-$1.out" >>"$T/$1.out"
	kill -0 "$IPID" 2>/dev/null || fail "tlsrpt-ingestd died under attack ($1)"
}
# field FILE LINE KEY: KEY=value of the line starting with LINE.
field() {
	sed -n "s/^$2 .*$3=\([0-9.]*\).*/\1/p" "$1"
}
attack one 12
r=$(sed -n 's/^reporter //p' "$T/one.out")
posted=$(field "$T/one.out" reporter posted)
[ "$posted" -ge 20 ] || fail "the reporter posted only $posted reports: $r"
[ "$(field "$T/one.out" reporter failed)" = 0 ] || fail "reports refused under attack: $r"
[ "$(field "$T/one.out" reporter max_ms)" -lt 2000 ] || fail "a report took more than 2 s under attack: $r"
ok "under attack, $posted reports from 127.0.0.1 all stored, each within 2 s: $r"
expect_eq "... all in the database" "$posted" \
    "$(sqlite3 -batch -noheader "$IDB" "SELECT COUNT(*) FROM report WHERE report_id LIKE 'report-one-%'")"
r=$(sed -n 's/^slowloris //p' "$T/one.out")
held=$(field "$T/one.out" slowloris held_then_cut)
longest=$(field "$T/one.out" slowloris longest_s)
[ "$held" -ge $((3 * PERIP)) ] || fail "slowloris: $r; expected at least $((3 * PERIP)) held, then cut off"
[ "${longest%.*}" -lt 7 ] || fail "slowloris: a connection trickled its headers for $longest s (ingest_request_timeout_s=4): $r"
ok "slowloris (3 addresses x 20 connections, 1 header byte/s): $PERIP per address held, cut off after at most $longest s: $r"
r=$(sed -n 's/^oversized //p' "$T/one.out")
for k in bigheader manyheaders; do
	echo "$r" | grep -Eq "(^| )$k=(431|closed)(:[0-9]+)*( |$)" || fail "$k: $r"
done
echo "$r" | grep -Eq "(^| )length=413:[0-9]+( |$)" || fail "Content-Length 10^10: $r"
echo "$r" | grep -Eq "(^| )chunked=413:[0-9]+( |$)" || fail "chunked past the cap: $r"
ok "oversized headers (431) and bodies (413) refused: $r"
most=$(field "$T/one.out" sockets most)
[ "$most" -le $((3 * PERIP + PERIP + 4)) ] ||
    fail "the daemon held $most sockets; the per-address cap allows $((4 * PERIP)) to the attackers"
ok "flood of $((3 * MAXC)) connections from one address ($(sed -n 's/^flood //p' "$T/one.out")): the daemon held at most $most sockets in all"

# Idle connections from 40 addresses, twice the cap: the daemon holds no
# more than the cap. The reporter then waits for a slot (the price of a
# full server), so its figures are only printed.
attack many 5
most=$(field "$T/many.out" sockets most)
[ "$most" -le $((MAXC + 1)) ] || fail "the daemon held $most sockets, more than ingest_max_connections=$MAXC + the listener"
[ "$most" -ge $((MAXC / 2)) ] || fail "the flood from 40 addresses reached only $most sockets: $(cat "$T/many.out")"
ok "flood from 40 addresses ($(sed -n 's/^flood //p' "$T/many.out")): at most $most sockets (cap $MAXC + listener); reporter meanwhile: $(sed -n 's/^reporter //p' "$T/many.out")"

# --- afterwards ---------------------------------------------------------------------
t0=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
code=$(curl -sS -o "$T/after.out" -w '%{http_code}' --max-time 5 -H 'Content-Type: application/tlsrpt+json' \
    --data-binary '{"organization-name":"After","date-range":{"start-datetime":"2026-03-02T00:00:00Z","end-datetime":"2026-03-02T23:59:59Z"},"contact-info":"x@example","report-id":"after-1","policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]}' \
    "http://127.0.0.1:$IPORT/tlsrpt" 2>&1)
expect_eq "after the attack: a report stored ($(($(awk '{ printf "%d", $1 * 1000 }' /proc/uptime) - t0)) ms)" \
    "200 stored" "$code $(head -n 1 "$T/after.out")"
expect_eq "after the attack: GET /api/status" 200 \
    "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$IPORT/api/status")"
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$IPID/status")
ok "ingestd VmHWM after the attack: $hwm KiB"

# --- no request opens a file ------------------------------------------------------
get() {
	curl -sS --path-as-is -g -o "$T/get.out" -w '%{http_code}' --max-time 5 \
	    "http://127.0.0.1:$IPORT$1" 2>/dev/null || echo " curl failed"
}
if command -v strace >/dev/null 2>&1; then
	strace -f -qq -e trace=open,openat,openat2,creat,accept,accept4 -o "$T/strace.out" -p "$IPID" 2>"$T/strace.err" &
	SPID=$!
	PIDS="$PIDS $SPID"
	# Attached when every thread shows a tracer.
	i=0
	while awk '$1 == "TracerPid:" && $2 == 0 { bad = 1 } END { exit !bad }' /proc/"$IPID"/task/*/status; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "strace did not attach: $(cat "$T/strace.err")"
		sleep 0.05
	done
fi
bad=""
n=0
for path in "/../../../../../../etc/passwd" "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd" \
    "/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd" "/assets/../../../../etc/passwd" \
    "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd" "/assets/%2e%2e/%2e%2e/etc/passwd" \
    "/..%5c..%5c..%5cetc%5cpasswd" "/etc/passwd" "//etc/passwd" "/rootfs/etc/passwd" \
    "$T/www/secret.txt" "/$T/www/secret.txt" "/secret.txt" "/assets/secret.txt" \
    "/assets/assets/app.js" "/assets/./app.js" "/assets/rootfs/etc/passwd" \
    "/api/reports/..%2f..%2f..%2fetc%2fpasswd/raw" "/api/../../etc/passwd" "/metrics/../../etc/passwd" \
    "/tlsrpt/../../etc/passwd" "/index.html" "/app.js" "/assets/index.html"; do
	code=$(get "$path")
	n=$((n + 1))
	if grep -q -e "$SECRET" -e '^root:' "$T/get.out"; then
		bad="$bad $path($code)"
	fi
	case $code in
	4[0-9][0-9]) ;;
	*) bad="$bad $path($code)" ;;
	esac
done
[ -z "$bad" ] || fail "traversal answered with something else than an error: $bad"
ok "$n traversal, absolute and symlinked paths: 4xx each, no file content"
# libmicrohttpd decodes %00 into the URL, which then ends there: this is
# /assets/app.js, the embedded one.
code=$(get "/assets/app.js%00.html")
case $code in
4[0-9][0-9]) ok "/assets/app.js%00.html: $code" ;;
200)
	cmp -s ingest/web/app.js "$T/get.out" || fail "/assets/app.js%00.html: 200 but not the embedded app.js"
	ok "/assets/app.js%00.html: 200 with the embedded app.js (the URL ends at the NUL), no file"
	;;
*) fail "/assets/app.js%00.html: $code" ;;
esac
for f in ingest/web/*; do
	name=$(basename "$f")
	case $name in
	*.html) continue ;;	# pages are served under their own URL
	esac
	code=$(get "/assets/$name")
	if [ "$code" != 200 ] || ! cmp -s "$f" "$T/get.out"; then
		fail "/assets/$name: $code, not the embedded bytes (a symlink of that name is in the cwd)"
	fi
done
ok "/assets/* are the embedded bytes despite same-named symlinks in the working directory"
if [ -n "${SPID:-}" ]; then
	kill -INT "$SPID"
	wait "$SPID" 2>/dev/null
	# The databases may be opened (the API opens them on first use);
	# nothing else. The accepts show strace saw the requests.
	accepts=$(grep -c ' accept4\{0,1\}(' "$T/strace.out")
	[ "$accepts" -ge "$n" ] || fail "strace saw $accepts accepts for $n requests: $(head -n 5 "$T/strace.out")"
	opens=$(grep -Ec ' (open|openat|openat2|creat)\(' "$T/strace.out")
	opened=$(grep -E ' (open|openat|openat2|creat)\(' "$T/strace.out" | grep -o '"[^"]*"' |
	    grep -v "^\"$T/state/" | sort -u | tr '\n' ' ')
	[ -z "$opened" ] || fail "the daemon opened $opened while answering GETs"
	ok "strace -f: $accepts connections accepted, no file opened but the databases ($opens open calls)"
else
	ok "# strace not installed: the open check was skipped"
fi
kill -TERM "$IPID"
ISTATUS=0
wait "$IPID" || ISTATUS=$?
expect_eq "ingestd: SIGTERM, exit 0" 0 "$ISTATUS"

# ===========================================================================
# A root-owned, read-only database
# ===========================================================================
mkdir "$T/ro"
cp "$DB" "$T/ro/tlsrpt.db"
cp "$IDB" "$T/ro/inbound.db"
chmod 0644 "$T/ro/tlsrpt.db" "$T/ro/inbound.db"
chmod 0755 "$T/ro"
sum0=$(cksum "$T/ro/tlsrpt.db" "$T/ro/inbound.db")
# refused WHAT FILE CMD...: CMD exits non-zero within 20 s and names FILE.
refused() {
	what=$1 file=$2
	shift 2
	rc=0
	timeout 20 "$@" >"$T/ro.log" 2>&1 || rc=$?
	[ $rc = 124 ] && fail "$what: started with the read-only database $file"
	[ $rc != 0 ] || fail "$what: exit 0 with the read-only database $file"
	grep -q "$file" "$T/ro.log" || fail "$what: exit $rc without naming $file: $(cat "$T/ro.log")"
	ok "$what: refuses a root-owned read-only database (exit $rc): $(head -n 1 "$T/ro.log")"
}
refused collector "$T/ro/tlsrpt.db" "$BIN/tlsrpt-collectd" -f -o "collector_socket=$T/run/ro.sock" \
    -o "database=$T/ro/tlsrpt.db" -o "collector_user=$D"
refused ingestd "$T/ro/inbound.db" "$BIN/tlsrpt-ingestd" -f -o ingest_listen=127.0.0.1:0 \
    -o "ingest_database=$T/ro/inbound.db" -o "database=$T/ro/tlsrpt.db" -o "ingest_user=$D"
expect_eq "the read-only databases are unchanged" "$sum0" "$(cksum "$T/ro/tlsrpt.db" "$T/ro/inbound.db")"

echo "all $TESTS_RUN privilege checks passed"
