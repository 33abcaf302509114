# Shared set-up of the benchmarks: a scratch PostgreSQL 15 under the load
# the issue names — pgbench scale 10 with 8 clients, 200 idle agent-tagged
# connections and a 3-level lock chain — a pg_monitor role per tool so
# pg_stat_statements can tell their costs apart, and the measuring of a
# program on a 200x50 terminal in tmux. Sourced by bench/*.sh.
#   bench_start BUILD_PATH SECONDS [CONF_LINE...]
#                                    (sets $dir, $COCKPIT_TEST_* and psql();
#                                     exports XDG_STATE_HOME=$dir/state, so the
#                                     cockpits measured keep their audit log
#                                     there: the user's own log gets none of the
#                                     bench's incidents, and no run starts with
#                                     what earlier runs left)
#   bench_role NAME                  (a pg_monitor role with cockpit's grants;
#                                     prints its conninfo)
#   bench_tty_start NAME COMMAND...  (COMMAND in tmux at 200x50 under script(1):
#                                     $dir/NAME.tty counts every byte it writes
#                                     to its terminal; sets $tty_pid, the
#                                     program's own pid)
#   bench_tty_wait NAME ERE MS       (capture the pane at each output of it until
#                                     a line matches ERE (Python re); prints the
#                                     ms since bench_tty_start, or "timeout")
#   bench_tty_first NAME ERE MS COMMAND...
#                                    (bench_tty_start with a watcher started
#                                     first; sets $first_ms, from the program's
#                                     exec to its pane's first line matching ERE)
#   bench_tty_stop NAME [KEY]        (send KEY, default q, then end the window)
#   bench_cpu_ns PID                 (CPU time of all its threads so far, ns)
#   bench_hwm_kb PID                 (peak RSS, VmHWM)
set -eu
PGBIN=/usr/lib/postgresql/15/bin
bench_pids=""
bench_top=$(cd "$(dirname "$0")/.." && pwd)
bench_tmux="cockpit-bench-$$"

bench_cleanup() {
	# A program whose tmux went away keeps running under script(1): end the
	# ones started here by their recorded pids.
	for f in "${dir:-/nonexistent}"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	tmux -L "$bench_tmux" kill-server >/dev/null 2>&1 || true
	for p in $bench_pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${dir:-}" ] && sh "$bench_top/tests/lib/pgcluster.sh" stop "$dir" >/dev/null 2>&1 || true
	if [ -n "${BENCH_KEEP:-}" ] && [ -n "${dir:-}" ]; then
		# The terminal streams (*.tty, script(1)'s), screens and results, for
		# a look at what each tool wrote; the cluster's data goes.
		mkdir -p "$BENCH_KEEP"
		cp "$dir"/*.tty "$dir"/*.screen "$dir"/results "$BENCH_KEEP"/ 2>/dev/null || true
	fi
	[ -n "${dir:-}" ] && rm -rf "$dir"
}
trap bench_cleanup EXIT INT TERM

psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$COCKPIT_TEST_PGHOST" -p "$COCKPIT_TEST_PGPORT" -U postgres -d postgres "$@"; }

bench_start() {
	build=$1; load_secs=$2
	shift 2
	dir=$(mktemp -d /tmp/cockpit-bench.XXXXXX)
	chmod 755 "$dir"
	export XDG_STATE_HOME="$dir/state"
	sh "$bench_top/tests/lib/pgcluster.sh" start "$dir" "pg_stat_statements.track_planning = on" "$@" >/dev/null
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

bench_tm() { tmux -L "$bench_tmux" -f /dev/null "$@"; }

bench_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# The command goes through a small script so no quoting is lost on the way
# through tmux and script(1); the shell writes its pid and execs the program,
# so the pid is the program's own.
bench_tty_start() {
	name=$1; shift
	{
		echo 'echo $$ >"$1"; shift; exec "$@"'
	} >"$dir/$name.run"
	rm -f "$dir/$name.pid" "$dir/$name.tty"
	# tmux needs the args as one shell string: quote each one.
	cmd="sh $dir/$name.run $dir/$name.pid"
	for a in "$@"; do cmd="$cmd '$(printf %s "$a" | sed "s/'/'\\\\''/g")'"; done
	printf %s "$cmd" >"$dir/$name.cmd"
	bench_now_ms >"$dir/$name.t0"
	if bench_tm has-session -t "$name" 2>/dev/null; then bench_tm kill-session -t "$name"; fi
	bench_tm new-session -d -s "$name" -x 200 -y 50 \
		"script -q -f -c \"sh $dir/$name.cmd\" $dir/$name.tty; sleep 30"
	for _ in $(seq 1 200); do [ -s "$dir/$name.pid" ] && break; sleep 0.01; done
	tty_pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
}

# Capture the pane at each output of it until a line matches (a tmux
# control-mode client, bench/ttywatch.py); the ms since bench_tty_start.
bench_tty_wait() {
	python3 "$bench_top/bench/ttywatch.py" wait "$bench_tmux" "$1" "$2" "$3" "$(cat "$dir/$1.t0")"
}

# bench_tty_start NAME COMMAND... with a watcher started before it, which
# sets $first_ms: from the program's exec to the first capture of its pane
# with a line matching ERE (polled every 5 ms), or "timeout". tmux's,
# script(1)'s and the watcher's own start-up stay out of it.
bench_tty_first() {
	name=$1; ere=$2; limit=$3; shift 3
	bench_tm has-session -t keep 2>/dev/null || bench_tm new-session -d -s keep -x 80 -y 24 "sleep 100000"
	bench_tm kill-session -t "=$name" 2>/dev/null || true
	rm -f "$dir/$name.ready"
	python3 "$bench_top/bench/ttywatch.py" first "$bench_tmux" keep "$name" "$ere" "$limit" \
		"$dir/$name.pid" "$dir/$name.ready" >"$dir/$name.first" &
	w=$!
	for _ in $(seq 1 500); do [ -e "$dir/$name.ready" ] && break; sleep 0.01; done
	bench_tty_start "$name" "$@"
	wait "$w" || true
	first_ms=$(cat "$dir/$name.first")
	[ -n "$first_ms" ] || first_ms=timeout
}

bench_tty_stop() {
	name=$1; key=${2:-q}
	pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
	bench_tm send-keys -t "$name" "$key" 2>/dev/null || true
	for _ in $(seq 1 50); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	bench_tm kill-session -t "$name" 2>/dev/null || true
}

# Sum over the threads of schedstat's on-CPU nanoseconds: the tick-based
# utime+stime of /proc/PID/stat moves in 10 ms steps, too coarse for a tool
# that spends a millisecond a refresh. Falls back to the ticks.
bench_cpu_ns() {
	if [ -r "/proc/$1/task" ] && cat /proc/"$1"/task/*/schedstat >/dev/null 2>&1; then
		cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'
	else
		awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f\n", ($14 + $15) * 1e9 / hz}' "/proc/$1/stat"
	fi
}

bench_ticks_ns() {
	awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f\n", ($14 + $15) * 1e9 / hz}' "/proc/$1/stat"
}

bench_hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
