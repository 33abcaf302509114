#!/bin/sh
# The interactive cockpit's cost per refresh at 200x50 on a loaded server:
# terminal bytes, CPU and peak RSS, and the time to the first screen with
# data. cockpit runs in tmux under script(1), whose log counts every byte
# cockpit writes to its terminal; CPU comes from /proc (bench/lib.sh).
#   bench/tui.sh BUILD_PATH [SCREEN_KEY]   (default 2: Sessions, the most rows)
set -eu
build=${1:?build path}
key=${2:-2}
secs=${BENCH_SECONDS:-30}
. "$(dirname "$0")/lib.sh"
bench_start "$build" $((secs + 40))
dsn=$(bench_role cockpit_tui)
# Time to first screen with data, from cockpit's exec: the header shows the
# server version.
bench_tty_first tui "PostgreSQL 15" 10000 "$bench_top/cockpit" -d "$dsn"
pid=$tty_pid
bench_tm send-keys -t tui "$key"
sleep 3
out="$dir/tui.tty"
b0=$(stat -c %s "$out"); c0=$(bench_cpu_ns "$pid"); s0=$(date +%s%N)
sleep "$secs"
b1=$(stat -c %s "$out"); c1=$(bench_cpu_ns "$pid"); s1=$(date +%s%N)
rss=$(bench_hwm_kb "$pid")
bench_tm capture-pane -t tui -p >"$dir/screen.txt"
bench_tty_stop tui q
awk -v b="$((b1 - b0))" -v c="$((c1 - c0))" -v ns="$((s1 - s0))" -v rss="$rss" -v first="$first_ms" 'BEGIN {
	n = ns / 1e9  # refreshes at the default 1 s period
	printf "steady-state refreshes measured          %.0f\n", n
	printf "terminal bytes per refresh               %.0f\n", b / n
	printf "cockpit CPU ms per refresh               %.2f\n", c / 1e6 / n
	printf "peak RSS                                 %.1f MB\n", rss / 1024
	printf "time to first screen with data           %s ms (from its exec, polled every 5 ms)\n", first
}'
