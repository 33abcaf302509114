#!/bin/sh
# The LLM prompt of each runbook's drill: size, what was truncated, what
# redaction removed, how many past incidents were recalled.
#
#   bench/prompts.sh BUILD_PATH [AUDIT_LOG]
#
# A scratch PostgreSQL 15 (tests/lib/pgcluster.sh: no other load), then per
# runbook: `cockpit drill NAME` in the background, and once its incident is
# open `cockpit diagnose --json --show-prompt` (nothing is sent to any LLM).
# AUDIT_LOG is the history the prompts recall past incidents from (default:
# none, so the figures are of the prompts alone; `cockpit diagnose` writes no
# audit records itself, so the drills run here add none).
# The config lowers three thresholds as the drills' notes in runbooks/ say
# (idle in transaction 2 s, connections 5%, disk 1%). Prints one line per drill: tokens (estimate, 4 bytes each), bytes, fenced
# untrusted blocks, redactions by kind, injection flags, truncated sections.
set -eu
build=${1:?build path}
audit=${2:-}
command -v python3 >/dev/null 2>&1 || { echo "prompts: python3 is missing (scripts/deps.sh bench installs it)" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/cockpit-prompts.XXXXXX)
chmod 755 "$dir"
drill_pid=""
cleanup() {
	[ -n "$drill_pid" ] && kill "$drill_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	sh "$top/tests/lib/pgcluster.sh" stop "$dir" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
sh "$top/tests/lib/pgcluster.sh" start "$dir" >/dev/null
. "$dir/env"
mon=$COCKPIT_TEST_MONITOR_DSN
conf=$dir/prompts.conf
{
	printf 'paths:\n  runbooks_dir: %s/runbooks\n' "$top"
	if [ -n "$audit" ]; then printf '  audit_log: %s\n' "$audit"; else printf '  audit_log: %s/none.jsonl\n' "$dir"; fi
	# the thresholds the runbooks' drill notes name, so that every drill
	# opens its incident on a small scratch server within seconds
	printf 'thresholds:\n  idle_in_transaction_s: 2\n  connections_pct: 5\n  disk_warn_pct: 1\n'
} >"$conf"
cockpit="$build/cockpit"
names=$("$cockpit" -c "$conf" drill -d "$COCKPIT_TEST_DSN" 2>/dev/null | awk 'NR > 1 {print $1}')
printf '%-22s %7s %7s %6s %8s  %s\n' drill tokens bytes fenced recalled "redacted / injection / truncated"
for name in $names; do
	"$cockpit" -c "$conf" drill "$name" --duration 40 -d "$COCKPIT_TEST_DSN" >"$dir/drill-$name.out" 2>&1 &
	drill_pid=$!
	out=""
	for _ in $(seq 1 30); do
		sleep 1
		"$cockpit" -c "$conf" diagnose --json --show-prompt --window 1 -d "$mon" \
			>"$dir/prompt-$name.json" 2>/dev/null || true
		out=$(python3 - "$dir/prompt-$name.json" "$name" <<'PY'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
for p in doc.get("prompts", []):
    body = json.loads(p["body"])
    meta = p["prompt"]
    user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
    if ("(runbook %s," % sys.argv[2]) not in user:
        continue
    red = ", ".join("%s %d" % (k, v) for k, v in sorted(meta["redacted"].items()) if v) or "nothing"
    inj = ", ".join(meta["injection"]) or "none"
    tr = "; ".join(meta["truncated"]) or "nothing"
    rec = meta.get("recalled", {})
    print("%-22s %7d %7d %6d %4d/%-3d  %s / %s / %s" % (sys.argv[2], meta["tokens"], len(p["body"]),
          meta["fenced"], rec.get("incidents", 0), rec.get("of", 0), red, inj, tr))
    break
PY
)
		[ -n "$out" ] && break
	done
	kill "$drill_pid" 2>/dev/null || true
	wait "$drill_pid" 2>/dev/null || true
	drill_pid=""
	if [ -n "$out" ]; then echo "$out"; else printf '%-22s did not open an incident within 30 s\n' "$name"; fi
done
