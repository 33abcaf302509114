#!/bin/sh
# Collector cost per refresh on a loaded scratch server; see bench/run.sh.
#   bench/collector.sh BUILD_PATH   (holds bench/bench_load; ./cockpit is used)
set -eu
build=${1:?build path}
secs=${BENCH_SECONDS:-30}
. "$(dirname "$0")/lib.sh"
bench_start "$build" $((secs + 40))
dsn=$(bench_role cockpit_bench)
top=$bench_top
psql -c "SELECT pg_stat_statements_reset()" >/dev/null
/usr/bin/time -f "%e %U %S %M" -o "$dir/time.out" "$top/cockpit" record -o "$dir/rec.jsonl" \
	--interval 1 --duration "$secs" -d "$dsn" 2>/dev/null
refreshes=$(wc -l <"$dir/rec.jsonl")
read -r wall user sys rss <"$dir/time.out"
sessions=$(tail -n 1 "$dir/rec.jsonl" | grep -o '"pid":' | wc -l)
psql -A -t -F ' ' -c "
SELECT count(DISTINCT queryid), sum(calls), round(sum(total_exec_time)::numeric, 3), round(sum(total_plan_time)::numeric, 3),
       round(sum(total_exec_time) FILTER (WHERE query LIKE '%collector: server%' OR query LIKE '%collector: sessions%' OR query LIKE '%collector: lock waits%')::numeric, 3),
       sum(calls) FILTER (WHERE query LIKE '%collector: server%' OR query LIKE '%collector: sessions%' OR query LIKE '%collector: lock waits%')
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'cockpit_bench'" >"$dir/pgss.out"
read -r kinds calls exec plan fast_exec fast_calls <"$dir/pgss.out"
psql -c "SELECT calls, round((total_exec_time / calls)::numeric, 3) AS exec_ms, round((total_plan_time / greatest(plans, 1))::numeric, 3) AS plan_ms, plans, substring(query from '/\\* cockpit collector: ([a-z ]+)') AS statement FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'cockpit_bench' ORDER BY total_exec_time DESC" >"$dir/per-statement.out"
rt=$(grep -o '"round_trips":[0-9]*' "$dir/rec.jsonl" | awk -F: '{s+=$2} END {print s}')
/usr/bin/time -f "%M" -o "$dir/snap.out" "$top/cockpit" snapshot --json -d "$dsn" >/dev/null
snap_rss=$(cat "$dir/snap.out")
cat "$dir/per-statement.out"
"$build/bench/bench_collector" "$dsn" 20 1000
awk -v n="$refreshes" -v calls="$calls" -v exec="$exec" -v plan="$plan" -v fe="$fast_exec" -v fc="$fast_calls" \
    -v user="$user" -v sys="$sys" -v rss="$rss" -v rt="$rt" -v sessions="$sessions" -v snap="$snap_rss" 'BEGIN {
	printf "sessions on the server (last snapshot)   %d\n", sessions
	printf "refreshes recorded                       %d\n", n
	printf "round trips per refresh (mean)           %.2f\n", rt / n
	printf "SQL statements per refresh (mean)        %.2f\n", calls / n
	printf "server exec ms per refresh, all (mean)   %.3f\n", exec / n
	printf "server plan ms per refresh, all (mean)   %.3f\n", plan / n
	printf "server exec ms per fast refresh          %.3f  (%d fast statements)\n", fe / (fc / 3), fc
	printf "cockpit record CPU ms per refresh        %.3f  (collection + JSON encoding)\n", (user + sys) * 1000 / n
	printf "peak RSS of cockpit record               %.1f MB\n", rss / 1024
	printf "peak RSS of cockpit snapshot             %.1f MB\n", snap / 1024
}'
