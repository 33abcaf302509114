# Shared set-up of the benchmarks: a scratch PostgreSQL 15 under the load
# the issue names — pgbench scale 10 with 8 clients, 200 idle agent-tagged
# connections and a 3-level lock chain — and a pg_monitor role per tool so
# pg_stat_statements can tell their costs apart. Sourced by bench/*.sh.
#   bench_start BUILD_PATH SECONDS   (sets $dir, $COCKPIT_TEST_* and psql())
#   bench_role NAME                  (a pg_monitor role with cockpit's grants)
set -eu
PGBIN=/usr/lib/postgresql/15/bin
bench_pids=""
bench_top=$(cd "$(dirname "$0")/.." && pwd)

bench_cleanup() {
	for p in $bench_pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${dir:-}" ] && sh "$bench_top/tests/lib/pgcluster.sh" stop "$dir" >/dev/null 2>&1 || true
	[ -n "${dir:-}" ] && rm -rf "$dir"
}
trap bench_cleanup EXIT INT TERM

psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$COCKPIT_TEST_PGHOST" -p "$COCKPIT_TEST_PGPORT" -U postgres -d postgres "$@"; }

bench_start() {
	build=$1; load_secs=$2
	dir=$(mktemp -d /tmp/cockpit-bench.XXXXXX)
	chmod 755 "$dir"
	sh "$bench_top/tests/lib/pgcluster.sh" start "$dir" "pg_stat_statements.track_planning = on" >/dev/null
	. "$dir/env"
	"$PGBIN/pgbench" -q -i -s 10 -h "$COCKPIT_TEST_PGHOST" -p "$COCKPIT_TEST_PGPORT" -U postgres postgres >/dev/null 2>&1
	"$PGBIN/pgbench" -c 8 -j 2 -T "$load_secs" -h "$COCKPIT_TEST_PGHOST" -p "$COCKPIT_TEST_PGPORT" -U postgres postgres >/dev/null 2>&1 &
	bench_pids="$bench_pids $!"
	"$build/bench/bench_load" "$COCKPIT_TEST_DSN" 200 --chain >"$dir/load.out" 2>&1 &
	bench_pids="$bench_pids $!"
	for _ in $(seq 1 100); do grep -q ready "$dir/load.out" 2>/dev/null && break; sleep 0.1; done
	sleep 2
}

bench_role() {
	psql -c "CREATE ROLE $1 LOGIN IN ROLE pg_monitor" \
	     -c "GRANT EXECUTE ON FUNCTION pg_current_logfile(text) TO $1" \
	     -c "GRANT EXECUTE ON FUNCTION pg_read_binary_file(text, bigint, bigint, boolean) TO $1"
	echo "host=$COCKPIT_TEST_PGHOST port=$COCKPIT_TEST_PGPORT dbname=postgres user=$1"
}
