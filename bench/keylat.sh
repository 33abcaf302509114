#!/bin/sh
# Key latency of the interactive cockpit while its server is hung.
#
#   bench/keylat.sh BUILD_PATH
#
# cockpit runs in tmux at 200x50 on the loaded scratch server of
# bench/lib.sh. Each of BENCH_KEYS (default 200) key presses switches the
# screen (2 Sessions, 1 Overview, alternating); the time is taken from just
# before the key is sent until the pane shows the new screen (tmux control
# mode: send-keys, then capture-pane at each %output of the pane). Three series:
#   floor     the same measurement on `cat >/dev/null` (the terminal's own
#             echo, no program work at all): what tmux, the pty and the
#             polling cost by themselves;
#   baseline  cockpit with its server answering;
#   hung      cockpit after its collector's backend (application_name
#             'cockpit' of its role) was stopped with SIGSTOP: every query of
#             the collector hangs. The backend gets SIGCONT at the end, always.
#   llm stall cockpit with an LLM configured whose endpoint (the scripted fake
#             of tests/fakes, BUILD/tests/fakes/fake-llm) streams half a
#             diagnosis and then goes silent: the keys alternate 7 Proposals
#             (the incident's LLM status line, the advisor's view read every
#             frame) and 1 Overview while the advisor thread waits in the
#             transfer.
# Prints p50/p99/max in ms for each; the target is p99 <= 50 ms while hung
# and while the LLM stalls.
set -eu
build=${1:?build path}
nkeys=${BENCH_KEYS:-200}
command -v python3 >/dev/null 2>&1 || { echo "keylat: python3 is missing (the harness); scripts/deps.sh bench installs it" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
stopped=""
keylat_cleanup() {
	for p in $stopped; do kill -CONT "$p" 2>/dev/null || true; done
	stopped=""
	bench_cleanup
}
trap keylat_cleanup EXIT INT TERM

bench_start "$build" 300
dsn=$(bench_role bench_keylat)
bench_tm new-session -d -s keep -x 80 -y 24 "sleep 100000"

# The harness (tests/tui/keylat.py, shared with tests/tui/test_scale.sh) is
# one process on a tmux control-mode client: it sends the key, waits for the
# pane's %output notification, and captures the pane (each a command on the
# same client, no process started per poll) until the change shows. Spawning
# a tmux client per poll costs tens of ms on a machine this loaded, which
# would swamp what is measured.
#   series NAME FILE KIND   (KIND: echo — any change of the pane; screens —
#                            alternate 2/1 until the Sessions/Overview marker;
#                            proposals — alternate 1/7 from the Proposals
#                            screen, Overview/Proposals)
series() {
	size=$(bench_tm display -p -t "$1" '#{pane_width}x#{pane_height}')
	[ "$size" = 200x50 ] || { echo "keylat: pane $1 is $size, not 200x50" >&2; exit 1; }
	i=0
	while [ "$i" -lt "$nkeys" ]; do
		case $3 in
		echo) printf 'x\t\n' ;;
		screens) [ $((i % 2)) = 0 ] && printf '2\tAPP/AGENT\n' || printf '1\tlongest transaction \n' ;;
		proposals) [ $((i % 2)) = 0 ] && printf '1\tlongest transaction \n' || printf '7\t), proposals (\n' ;;
		esac
		i=$((i + 1))
	done >"$2.plan"
	python3 "$bench_top/tests/tui/keylat.py" "$bench_tmux" "$1" "$2.plan" "$2" >/dev/null
}

stats() {
	sort -n "$2" | awk -v what="$1" '{ v[NR] = $1 } END {
		p50 = v[int(NR * 0.50 + 0.999)]; p99 = v[int(NR * 0.99 + 0.999)]
		printf "%-48s p50 %6.1f ms   p99 %6.1f ms   max %6.1f ms   (%d presses)\n",
			what, p50 / 1000, p99 / 1000, v[NR] / 1000, NR
	}'
}

bench_tty_start floor cat
sleep 0.5
series floor "$dir/floor.us" echo
bench_tty_stop floor C-d

bench_tty_start cockpit "$bench_top/cockpit" -d "$dsn"
first=$(bench_tty_wait cockpit "PostgreSQL 15" 15000)
[ "$first" = timeout ] && { echo "keylat: cockpit showed no server data within 15 s" >&2; exit 1; }
sleep 3  # the first slow refresh is in
series cockpit "$dir/baseline.us" screens

# Hang the server: stop the collector's backend.
backends=$(psql -A -t -c "SELECT pid FROM pg_stat_activity WHERE usename = 'bench_keylat' AND application_name = 'cockpit'")
[ -n "$backends" ] || { echo "keylat: no backend with application_name 'cockpit' for role bench_keylat" >&2; exit 1; }
for p in $backends; do kill -STOP "$p"; stopped="$stopped $p"; done
sleep 2.5  # the collector's next refresh is now stuck in the server
series cockpit "$dir/hung.us" screens
still=0
for p in $stopped; do [ "$(awk '{print $3}' "/proc/$p/stat")" = T ] && still=$((still + 1)); done
bench_tm capture-pane -t cockpit -p >"$dir/hung.screen"
for p in $stopped; do kill -CONT "$p" 2>/dev/null || true; done
stopped=""
bench_tty_stop cockpit q

# The LLM stalls: the fake streams half a reply, then nothing (each consult
# the same; one runs at a time), timeouts far beyond the series.
fake_bin="$build/tests/fakes/fake-llm"
[ -x "$fake_bin" ] || { echo "keylat: $fake_bin is missing (make test-bins builds it)" >&2; exit 1; }
"$fake_bin" --url-file "$dir/llm.url" --log "$dir/llm.jsonl" --chunk-delay 20 \
	stall-midstream stall-midstream stall-midstream stall-midstream >"$dir/llm.out" 2>&1 &
bench_pids="$bench_pids $!"
for _ in $(seq 1 50); do [ -s "$dir/llm.url" ] && break; sleep 0.1; done
[ -s "$dir/llm.url" ] || { echo "keylat: the fake LLM did not start: $(cat "$dir/llm.out")" >&2; exit 1; }
cat >"$dir/llm.conf" <<EOF
paths:
  state_dir: $dir/state
  audit_log: $dir/llm-audit.jsonl
  runbooks_dir: $bench_top/runbooks
llm:
  provider: openai
  base_url: $(cat "$dir/llm.url")
  model: bench-stall
  first_token_s: 600
  idle_s: 600
  total_s: 3600
EOF
bench_tty_start cockpit "$bench_top/cockpit" -c "$dir/llm.conf" -d "$dsn"
first=$(bench_tty_wait cockpit "PostgreSQL 15" 15000)
[ "$first" = timeout ] && { echo "keylat: cockpit (LLM) showed no server data within 15 s" >&2; exit 1; }
bench_tm send-keys -t cockpit 7
stalled=$(bench_tty_wait cockpit "LLM \(bench-stall\): thinking for" 20000)
[ "$stalled" = timeout ] && { echo "keylat: no LLM consult started within 20 s" >&2; bench_tm capture-pane -t cockpit -p >&2; exit 1; }
sleep 1  # the half reply is in; the transfer is silent now
series cockpit "$dir/llm.us" proposals
bench_tm send-keys -t cockpit 7
bench_tty_wait cockpit "LLM \(bench-stall\): thinking for" 5000 >/dev/null
bench_tm capture-pane -t cockpit -p >"$dir/llm.screen"
bench_tty_stop cockpit q
consults=$(wc -l <"$dir/llm.jsonl")

echo "key press -> changed screen, 200x50, tmux control mode ($(echo $backends | wc -w) collector backend(s) stopped; still stopped at the end: $still)"
echo "cockpit's header while hung: $(head -1 "$dir/hung.screen" | sed 's/  */ /g')"
stats "floor: cat >/dev/null (terminal echo)" "$dir/floor.us"
stats "cockpit, server answering (1/2 screen keys)" "$dir/baseline.us"
stats "cockpit, collector backend SIGSTOPped" "$dir/hung.us"
stats "cockpit, LLM endpoint stalled (7/1 screen keys)" "$dir/llm.us"
echo "the LLM's status while stalled ($consults request(s) to the fake): $(grep -o 'LLM (bench-stall)[^│|]*' "$dir/llm.screen" | head -1 | sed 's/  *$//')"
verdict() {
	sort -n "$2" | awk -v what="$1" '{ v[NR] = $1 } END {
		p99 = v[int(NR * 0.99 + 0.999)] / 1000
		printf "target p99 <= 50 ms %s: %s (p99 %.1f ms)\n", what, p99 <= 50 ? "met" : "NOT met", p99
	}'
}
verdict "while hung" "$dir/hung.us"
verdict "while the LLM stalls" "$dir/llm.us"
