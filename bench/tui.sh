#!/bin/sh
# The interactive cockpit's cost per refresh at 200x50 on a loaded server:
# terminal bytes, CPU and peak RSS, and the time to the first screen with
# data. cockpit runs in tmux under script(1), whose log counts every byte
# cockpit writes to its terminal; CPU comes from /proc.
#   bench/tui.sh BUILD_PATH [SCREEN_KEY]   (default 2: Sessions, the most rows)
set -eu
build=${1:?build path}
key=${2:-2}
secs=${BENCH_SECONDS:-30}
. "$(dirname "$0")/lib.sh"
bench_start "$build" $((secs + 40))
dsn=$(bench_role cockpit_tui)
sock="cockpit-bench-$$"
tm() { tmux -L "$sock" -f /dev/null "$@"; }
out="$dir/tty.out"
t0=$(date +%s%N)
tm new-session -d -s b -x 200 -y 50 "script -q -f -c \"$bench_top/cockpit -d '$dsn'\" $out"
# Time to first screen with data: the header shows the server version.
while ! tm capture-pane -t b -p | grep -q "PostgreSQL 15"; do
	sleep 0.01
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 10000 ] && break
done
first_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
tm send-keys -t b "$key"
sleep 3
pid=$(pgrep -f "^$bench_top/cockpit -d" | head -1)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
b0=$(stat -c %s "$out"); c0=$(cpu); s0=$(date +%s%N)
sleep "$secs"
b1=$(stat -c %s "$out"); c1=$(cpu); s1=$(date +%s%N)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
tm capture-pane -t b -p >"$dir/screen.txt"
tm send-keys -t b q
sleep 0.5
tm kill-server 2>/dev/null || true
awk -v b="$((b1 - b0))" -v c="$((c1 - c0))" -v hz="$hz" -v ns="$((s1 - s0))" -v rss="$rss" -v first="$first_ms" 'BEGIN {
	n = ns / 1e9  # refreshes at the default 1 s period
	printf "steady-state refreshes measured          %.0f\n", n
	printf "terminal bytes per refresh               %.0f\n", b / n
	printf "cockpit CPU ms per refresh               %.2f\n", c * 1000 / hz / n
	printf "peak RSS                                 %.1f MB\n", rss / 1024
	printf "time to first screen with data           %d ms (tmux polling, 10 ms steps)\n", first
}'
