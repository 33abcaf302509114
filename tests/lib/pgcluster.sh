#!/bin/sh
# A throwaway PostgreSQL 15 cluster for tests, the demo and benchmarks.
#
#   pgcluster.sh start DIR [extra postgresql.conf lines...]
#   pgcluster.sh restart DIR
#   pgcluster.sh stop DIR
#
# start: initdb in DIR/data (as the postgres user when run as root: initdb
# refuses root), Unix socket in DIR, TCP on 127.0.0.1, a free port, fsync off,
# pg_stat_statements preloaded, lock waits logged, the server log in all three
# formats (stderr, csvlog, jsonlog) under DIR/log. Writes DIR/env with
# COCKPIT_TEST_DSN and friends, ready to source.
set -eu
cmd=${1:?start|stop}
dir=${2:?directory}
shift 2
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "$cmd" in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; chmod 755 "$dir"; fi
	as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; exit 1; }
	as_pg mkdir -p "$dir/log"
	cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 400
shared_buffers = 128MB
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 10000
pg_stat_statements.track = top
track_io_timing = on
log_lock_waits = on
deadlock_timeout = 500ms
logging_collector = on
log_destination = 'stderr,csvlog,jsonlog'
log_directory = '$dir/log'
log_filename = 'postgresql.log'
log_rotation_age = 0
log_rotation_size = 0
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
CONF
	for line in "$@"; do echo "$line" >>"$dir/data/postgresql.conf"; done
	tries=0
	while :; do
		port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ))
		if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
			break
		fi
		tries=$((tries + 1))
		if [ $tries -ge 8 ]; then cat "$dir/server.log"; exit 1; fi
	done
	echo "$port" >"$dir/port"
	psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"; }
	psql -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
		-c "CREATE EXTENSION IF NOT EXISTS hypopg" \
		-c "CREATE ROLE cockpit_monitor LOGIN IN ROLE pg_monitor, pg_read_all_data" \
		-c "GRANT EXECUTE ON FUNCTION pg_read_binary_file(text, bigint, bigint, boolean) TO cockpit_monitor" \
		-c "GRANT EXECUTE ON FUNCTION pg_current_logfile(text) TO cockpit_monitor" >/dev/null
	cat >"$dir/env" <<ENV
COCKPIT_TEST_DIR='$dir'
COCKPIT_TEST_PGHOST='$dir'
COCKPIT_TEST_PGPORT='$port'
COCKPIT_TEST_PGDATA='$dir/data'
COCKPIT_TEST_LOGDIR='$dir/log'
COCKPIT_TEST_DSN='host=$dir port=$port dbname=postgres user=postgres'
COCKPIT_TEST_MONITOR_DSN='host=$dir port=$port dbname=postgres user=cockpit_monitor'
ENV
	echo "started PostgreSQL on port $port, socket in $dir"
	;;
restart)
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 -o "-p $(cat "$dir/port")" -l "$dir/server.log" restart >/dev/null
	;;
stop)
	[ -d "$dir/data" ] || exit 0
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	;;
*)
	echo "usage: pgcluster.sh start|stop DIR" >&2
	exit 2
	;;
esac
