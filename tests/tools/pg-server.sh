#!/bin/sh
# pg-server.sh - a throwaway PostgreSQL server for tests, on loopback.
#
# Usage: sh tests/tools/pg-server.sh start DIR   -> prints the URI of an
#            empty database "tlsrptd" (superuser tlsrptd, trust auth,
#            127.0.0.1, a free high port), data in DIR/pgdata
#        sh tests/tools/pg-server.sh stop DIR
#        sh tests/tools/pg-server.sh pause DIR / resume DIR
#            (SIGSTOP/SIGCONT the postmaster: a database that hangs)
#        sh tests/tools/pg-server.sh kill DIR / restart DIR
#            (an outage: immediate shutdown, then start on the same port)
#
# PostgreSQL refuses to run as root: when run as root, DIR is handed to
# the "postgres" user the Debian package creates (or nobody) and the
# server runs as that user. The server binaries come from pg_config
# --bindir or the newest /usr/lib/postgresql/*/bin. Exits 77 (skip) when
# no server is installed.
set -eu

cmd=${1:?usage: pg-server.sh start|stop|pause|resume|kill|restart DIR}
dir=${2:?usage: pg-server.sh start|stop|... DIR}

bindir=""
for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
	[ -n "$d" ] && [ -x "$d/initdb" ] && bindir=$d
done
if [ -z "$bindir" ]; then
	echo "pg-server.sh: no PostgreSQL server installed (initdb not found)" >&2
	exit 77
fi

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$owner" -- "$@"
	else
		"$@"
	fi
}

owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	owner=nobody
	id postgres >/dev/null 2>&1 && owner=postgres
fi

pgdata=$dir/pgdata
log=$dir/pg.log

start_server() {
	as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$log" -w -t 30 \
	    -o "-c listen_addresses=127.0.0.1 -p $1 -k $dir/pgsock" start >/dev/null
}

case $cmd in
start)
	mkdir -p "$dir/pgsock"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$owner" "$dir" "$dir/pgsock"
		chmod 0755 "$dir"
	fi
	as_owner "$bindir/initdb" -D "$pgdata" -U tlsrptd --auth=trust \
	    --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	# fsync off: a test server, and the machine has slow disks. A commit
	# still reaches the kernel before it is acknowledged (synchronous_commit
	# stays on), so the "kill" outage below loses nothing we were told was
	# committed; only a crash of the whole machine could.
	{
		echo "fsync = off"
		echo "full_page_writes = off"
		echo "max_connections = 200"
		echo "shared_buffers = 64MB"
	} >>"$pgdata/postgresql.conf"
	port=""
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
		if start_server "$p" 2>/dev/null; then
			port=$p
			break
		fi
	done
	[ -n "$port" ] || { cat "$log" >&2; exit 1; }
	echo "$port" >"$dir/port"
	as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U tlsrptd tlsrptd
	echo "postgresql://tlsrptd@127.0.0.1:$port/tlsrptd"
	;;
stop)
	[ -d "$pgdata" ] && as_owner "$bindir/pg_ctl" -D "$pgdata" -m immediate -w stop \
	    >/dev/null 2>&1 || true
	;;
pause | resume)
	pid=$(head -n 1 "$pgdata/postmaster.pid")
	sig=STOP
	[ "$cmd" = resume ] && sig=CONT
	# The postmaster and its children (backends serve the connections).
	for p in $pid $(pgrep -P "$pid" || true); do
		kill -s "$sig" "$p"
	done
	;;
kill)
	as_owner "$bindir/pg_ctl" -D "$pgdata" -m immediate -w stop >/dev/null
	;;
restart)
	start_server "$(cat "$dir/port")"
	;;
*)
	echo "pg-server.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
