#!/bin/sh
# make bench: micro-benchmarks, then the collector's cost on a loaded server.
#
#   bench/run.sh BUILD_DIR
#
# 1. lock graph build + cycle detection at 1k/10k/50k waiting sessions;
# 2. pg_stat_statements deltas at 1k/10k/50k rows; the audit history's
#    index for the LLM's prompt (build, refresh, query) on 4/16/32 MB logs;
# 3. collector cost per refresh: a scratch PostgreSQL 15 (bench/collector.sh)
#    with pgbench (scale 10, 8 clients), 200 idle agent-tagged connections
#    and a 3-level lock chain; cockpit records for BENCH_SECONDS (default 30)
#    at a 1 s refresh as its own pg_monitor role, and pg_stat_statements of
#    that role gives statements and server time per refresh;
# 4. the interactive screen at 200x50 under the same load: terminal bytes,
#    CPU and peak RSS per refresh, time to the first screen (bench/tui.sh);
# 5. side by side with pg_activity and pg_top on one loaded server, interleaved
#    over BENCH_ROUNDS (default 3) rounds of BENCH_SECONDS: one table of
#    medians, cockpit/peer ratios and the issue's targets (bench/peers.sh);
# 6. key latency while the server is hung: 200 screen-switching key presses
#    with the collector's backend SIGSTOPped, against the same with the
#    server answering and tmux's own floor; then 200 more while the LLM
#    endpoint (the scripted fake) stalls mid-reply (bench/keylat.sh).
# 7. the LLM prompt of each runbook's drill: tokens, redactions, what was
#    truncated (bench/prompts.sh; nothing is sent).
# Time: roughly 3 min + 3 x BENCH_ROUNDS x (BENCH_SECONDS + 15 s); e.g.
# BENCH_SECONDS=10 BENCH_ROUNDS=1 make bench for a quick look. BENCH_KEEP=DIR
# keeps what the tools wrote to their terminals (script(1) streams, last
# screens) in DIR.
# A part that fails (a budget missed on a busy machine, a peer that cannot
# run) is named at the end; the parts after it still run.
set -eu
build=${1:?build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
failed=""
part() {
	title=$1; shift
	echo "== $title =="
	"$@" || failed="$failed
  $title"
	echo
}
part "lock graph (bench_lockgraph)" "$top/$build/bench/bench_lockgraph"
part "statement deltas (bench_statements)" "$top/$build/bench/bench_statements"
part "audit history index (bench_recall)" "$top/$build/bench/bench_recall"
part "collector cost per refresh (bench/collector.sh)" sh "$top/bench/collector.sh" "$top/$build"
part "the interactive screen at 200x50, Sessions (bench/tui.sh)" sh "$top/bench/tui.sh" "$top/$build" 2
part "side by side: cockpit, pg_activity, pg_top (bench/peers.sh)" sh "$top/bench/peers.sh" "$top/$build"
part "key latency with a hung server and a stalled LLM (bench/keylat.sh)" sh "$top/bench/keylat.sh" "$top/$build"
part "the LLM prompt per runbook drill (bench/prompts.sh)" sh "$top/bench/prompts.sh" "$top/$build"
if [ -n "$failed" ]; then
	echo "bench: these parts failed:$failed" >&2
	exit 1
fi
