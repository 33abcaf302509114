#!/bin/sh
# Re-make demo/recording.jsonl, the recording `cockpit replay` shows without
# PostgreSQL: start the demo without UI, let the incidents get going, record,
# stop the demo.
#
#   sh scripts/make-recording.sh [OUTPUT]      (default demo/recording.jsonl)
#
# Knobs: RECORD_INTERVAL (s, default 2), RECORD_DURATION (s, default 90),
# RECORD_WARMUP (s, default 25: the first deadlock comes ~20 s after start),
# DEMO_DIR (as for demo.sh; a demo already running there is restarted).
# About 40 KB per snapshot: 90 s at a 2 s interval is ~2 MB.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$ROOT/demo/recording.jsonl}
interval=${RECORD_INTERVAL:-2}
duration=${RECORD_DURATION:-90}
warmup=${RECORD_WARMUP:-25}

[ -x "$ROOT/cockpit" ] || make -C "$ROOT" cockpit

env_file=$(DEMO_NO_TUI=1 sh "$ROOT/scripts/demo.sh" start)
trap 'sh "$ROOT/scripts/demo.sh" stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# shellcheck disable=SC1090
. "$env_file"

echo "make-recording: warming up ${warmup} s" >&2
sleep "$warmup"
tmp="$out.tmp"
rm -f "$tmp" # cockpit record appends
echo "make-recording: recording ${duration} s every ${interval} s" >&2
"$ROOT/cockpit" record -o "$tmp" --interval "$interval" --duration "$duration" \
	-d "$COCKPIT_TEST_MONITOR_DSN"

# Every line a version 1 snapshot, and the incidents the demo is about in it.
if command -v python3 >/dev/null 2>&1; then
	python3 - "$tmp" <<'PY'
import json, sys
path = sys.argv[1]
roots = deadlocks = slow = 0
agents = set()
bloat = 0.0
n = 0
with open(path) as f:
    for i, line in enumerate(f, 1):
        j = json.loads(line)
        if j.get("version") != 1:
            sys.exit(f"{path}:{i}: version is {j.get('version')!r}, not 1")
        n += 1
        roots = max(roots, len(j["lock_graph"]["roots"]))
        deadlocks = max(deadlocks, len(j.get("deadlocks") or []))
        slow += any("WHERE tracking_code" in (s.get("query") or "") for s in j["statements"])
        agents.update(a["agent_id"] for a in j["agents"])
        for t in j["disk"]["tables"]:
            if t["name"] == "cart_sessions":
                bloat = max(bloat, t["dead_ratio"])
missing = [a for a in ("report-bot", "etl-agent", "runaway-agent", "idle-tx-agent", "agent-pool-1")
           if a not in agents]
print(f"make-recording: {n} snapshots; lock roots <= {roots}, deadlocks {deadlocks}, "
      f"slow query in {slow} snapshots, {len(agents)} agents, cart_sessions dead ratio <= {bloat}",
      file=sys.stderr)
if not roots or not deadlocks or not slow or missing:
    sys.exit(f"make-recording: incomplete recording (missing agents: {missing})")
PY
fi
mv "$tmp" "$out"
echo "make-recording: wrote $out ($(wc -c <"$out") bytes)" >&2
