#!/bin/sh
# cockpit side by side with pg_activity and pg_top on one loaded server.
#
#   bench/peers.sh BUILD_PATH
#
# One scratch PostgreSQL 15 with the load of bench/lib.sh (pgbench scale 10,
# 8 clients; 200 idle agent-tagged connections; a 3-level lock chain),
# log_connections on and pg_stat_statements.track_planning on. Each tool runs
# in tmux at 200x50 under script(1) at a 1 s refresh, as its own pg_monitor
# role, on the screen with the most data (cockpit: Sessions, key 2 — the
# screen that writes the most bytes a refresh under this load), for
# BENCH_SECONDS (default 30), interleaved over BENCH_ROUNDS rounds (default 3:
# cockpit, pg_activity, pg_top, cockpit, ...). Per run, over the steady-state
# window after the first screen and a 3 s settling time:
#   refreshes       calls of the tool's most-called statement (each runs its
#                   per-refresh query once a refresh), so slow refreshes and
#                   a tool that falls behind its period are counted as they are
#   tool CPU        on-CPU ns of all its threads (/proc/PID/task/*/schedstat;
#                   utime+stime ticks are shown too) / refreshes
#   peak RSS        VmHWM at the end
#   statements, exec + plan ms   pg_stat_statements of the tool's role, reset
#                   at the start of the window, / refreshes (cockpit's slow
#                   data every 10 s is amortised over the window)
#   connections     "connection authorized: user=ROLE" in the server log / refreshes
#   terminal bytes  bytes script(1) logged during the window / refreshes
#   first screen    the tool's exec to the first capture of its pane showing
#                   server data (bench_tty_first: polled every 5 ms by a watcher
#                   started before the tool, so tmux's and script(1)'s start-up
#                   are not counted), and less the floor of the round (a
#                   program that prints at once, started and polled the same
#                   way): the tool's own part
# Round trips are counted once per tool in round 1, after its window, with
# strace on its socket: a send after a receive starts a round trip (a lone
# Terminate message does not); refreshes are the bursts of traffic.
# Prints one table of medians with cockpit/peer ratios and the issue's targets.
# A peer that is not installed or cannot run is named in the table, never
# given numbers.
set -eu
build=${1:?build path}
secs=${BENCH_SECONDS:-30}
rounds=${BENCH_ROUNDS:-3}
. "$(dirname "$0")/lib.sh"

tools="cockpit"
missing=""
if command -v pg_activity >/dev/null 2>&1; then tools="$tools pg_activity"; else missing="$missing pg_activity"; fi
if command -v pg_top >/dev/null 2>&1; then tools="$tools pg_top"; else missing="$missing pg_top"; fi
ntools=$(echo $tools | wc -w)

bench_start "$build" $(( rounds * ntools * (secs + 25) + 120 )) "log_connections = on"
log="$dir/log/postgresql.log"
res="$dir/results"
: >"$res"
role_of() { case $1 in cockpit) echo bench_cockpit ;; pg_activity) echo bench_pgactivity ;; pg_top) echo bench_pgtop ;; esac; }
for t in $tools; do bench_role "$(role_of "$t")" >/dev/null; done
host=$COCKPIT_TEST_PGHOST
port=$COCKPIT_TEST_PGPORT

# A session that stays up keeps the tmux server's own start-up out of the
# first-screen times.
bench_tm new-session -d -s keep -x 80 -y 24 "sleep 100000"

# Starts the tool and sets $first_ms (bench_tty_first).
launch() {
	ere=$(data_ere "$1")
	case $1 in
	cockpit)
		bench_tty_first "$1" "$ere" 15000 "$bench_top/cockpit" -d "host=$host port=$port dbname=postgres user=bench_cockpit" ;;
	pg_activity)
		# Defaults otherwise, as an on-call engineer starts it (it sums
		# pg_database_size() every refresh unless --no-db-size).
		bench_tty_first "$1" "$ere" 15000 pg_activity --refresh 1 -h "$host" -p "$port" -U bench_pgactivity -d postgres ;;
	pg_top)
		# -s 1: 1 s delay; without -W it reconnects for every refresh.
		bench_tty_first "$1" "$ere" 15000 pg_top -s 1 -h "$host" -p "$port" -U bench_pgtop -d postgres ;;
	esac
}

# A line that only a screen with server data has.
data_ere() {
	case $1 in
	cockpit) echo 'PostgreSQL 15.*(live|stale)' ;;  # header: version from the server
	pg_activity) echo '^[0-9]+ +postgres ' ;;     # a session row
	pg_top) echo '^ +[0-9]+ +[a-z_]+ +[0-9.]+[KMG] ' ;;  # a backend row
	esac
}

# The pg_stat_statements row of a role: statements, exec ms, plan ms, refreshes.
pgss() {
	psql -A -t -F ' ' -c "SELECT coalesce(sum(calls), 0), coalesce(round(sum(total_exec_time)::numeric, 3), 0),
	       coalesce(round(sum(total_plan_time)::numeric, 3), 0), coalesce(max(calls), 0)
	FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$1'"
}

conns() { grep -c "connection authorized: user=$1 " "$log" 2>/dev/null || true; }

# Round trips per refresh from strace: prints "median max bursts".
round_trips() {
	pid=$1
	command -v strace >/dev/null 2>&1 || { echo "- - 0"; return 0; }
	timeout 8 strace -f -qq -ttt -e trace=sendto,recvfrom,connect,sendmsg,recvmsg -p "$pid" -o "$dir/strace.out" 2>/dev/null || true
	awk '
	/ (sendto|sendmsg|recvfrom|recvmsg|connect)\(/ {
		t = $2
		if (!match($0, /(sendto|sendmsg|recvfrom|recvmsg|connect)\([0-9]+/)) next
		call = substr($0, RSTART, RLENGTH); fd = call; sub(/.*\(/, "", fd); sub(/\(.*/, "", call)
		if ($0 ~ /= -1 /) next
		if (last != "" && t - last > 0.3) { if (rt > 0) b[nb++] = rt; rt = 0 }
		last = t
		if (call == "connect") { state[fd] = "recv"; next }
		if (call ~ /^send/) {
			if ($0 ~ /"X\\0\\0\\0\\4", 5/) next  # Terminate: no answer awaited
			if (state[fd] != "send") rt++
			state[fd] = "send"
		} else state[fd] = "recv"
	}
	END {
		if (rt > 0) b[nb++] = rt
		# the first and last bursts may be cut by the 8 s window
		lo = nb > 2 ? 1 : 0; hi = nb > 2 ? nb - 1 : nb
		n = 0; max = 0
		for (i = lo; i < hi; i++) { v[n++] = b[i]; if (b[i] > max) max = b[i] }
		if (n == 0) { print "- - 0"; exit }
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
		print v[int((n - 1) / 2)], max, n
	}' "$dir/strace.out"
}

run_one() {
	t=$1; r=$2
	role=$(role_of "$t")
	launch "$t"
	pid=$tty_pid
	first=$first_ms
	if [ -z "$pid" ] || [ "$first" = timeout ] || ! kill -0 "$pid" 2>/dev/null; then
		bench_tm capture-pane -t "$t" -p >"$dir/$t.fail" 2>/dev/null || true
		echo "$t fail 1" >>"$res"
		echo "  round $r: $t did not show a screen with data within 15 s; its screen:" >&2
		sed -n '1,12p' "$dir/$t.fail" >&2
		bench_tty_stop "$t" q
		return 0
	fi
	[ "$t" = cockpit ] && bench_tm send-keys -t cockpit 2
	sleep 3
	psql -A -t -c "SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = '$role'), 0, 0)" >/dev/null
	b0=$(stat -c %s "$dir/$t.tty"); c0=$(bench_cpu_ns "$pid"); k0=$(bench_ticks_ns "$pid"); n0=$(conns "$role")
	s0=$(date +%s%N)
	sleep "$secs"
	b1=$(stat -c %s "$dir/$t.tty"); c1=$(bench_cpu_ns "$pid"); k1=$(bench_ticks_ns "$pid")
	s1=$(date +%s%N)
	rss=$(bench_hwm_kb "$pid")
	read -r calls exec plan refreshes <<EOF
$(pgss "$role")
EOF
	sleep 0.3  # the logging collector writes a moment later
	n1=$(conns "$role")
	bench_tm capture-pane -t "$t" -p >"$dir/$t.screen"
	[ "$refreshes" -gt 0 ] || refreshes=$(( (s1 - s0) / 1000000000 ))
	awk -v t="$t" -v n="$refreshes" -v cpu="$((c1 - c0))" -v ticks="$((k1 - k0))" -v rss="$rss" \
	    -v calls="$calls" -v exec="$exec" -v plan="$plan" -v conns="$((n1 - n0))" \
	    -v bytes="$((b1 - b0))" -v first="$first" -v floor="${floor_ms:-}" -v wall="$((s1 - s0))" 'BEGIN {
		printf "%s refreshes %d\n", t, n
		printf "%s period_s %.3f\n", t, wall / 1e9 / n
		printf "%s cpu_ms %.3f\n", t, cpu / 1e6 / n
		printf "%s ticks_ms %.3f\n", t, ticks / 1e6 / n
		printf "%s rss_mb %.1f\n", t, rss / 1024
		printf "%s stmts %.2f\n", t, calls / n
		printf "%s exec_ms %.3f\n", t, exec / n
		printf "%s plan_ms %.3f\n", t, plan / n
		printf "%s server_ms %.3f\n", t, (exec + plan) / n
		printf "%s conns %.2f\n", t, conns / n
		printf "%s bytes %.0f\n", t, bytes / n
		printf "%s first_s %.3f\n", t, first / 1000
		if (floor != "") printf "%s own_first_s %.3f\n", t, (first - floor) / 1000
	}' >>"$res"
	if [ "$r" -eq 1 ]; then
		read -r rt_med rt_max rt_n <<EOF
$(round_trips "$pid")
EOF
		echo "$t rt_med $rt_med" >>"$res"; echo "$t rt_max $rt_max" >>"$res"
	fi
	bench_tty_stop "$t" q
	printf '  round %d: %-11s %3d refreshes, first screen %5s ms, %5d terminal bytes/refresh\n' "$r" "$t" "$refreshes" "$first" "$(( (b1 - b0) / refreshes ))" >&2
}

# The floor of a first-screen time: a program that prints at once, started
# and polled the same way.
floor_first() {
	bench_tty_first floor '^floor ready' 15000 sh -c 'echo "floor ready"; exec sleep 60'
	f=$first_ms
	bench_tty_stop floor C-c
	floor_ms=
	[ "$f" = timeout ] || { floor_ms=$f; awk -v f="$f" 'BEGIN { printf "floor first_s %.3f\n", f / 1000 }' >>"$res"; }
}

echo "tools: $tools${missing:+ (not installed:$missing — scripts/deps.sh bench installs them)}; $rounds rounds of ${secs} s each" >&2
r=1
while [ "$r" -le "$rounds" ]; do
	floor_first
	for t in $tools; do run_one "$t" "$r"; done
	r=$((r + 1))
done

# Where each tool's server time went (its last window and after).
for t in $tools; do
	echo "-- $t: its costliest statements (per call, since its last window began) --"
	psql -c "SELECT round((total_exec_time / greatest(calls, 1))::numeric, 3) AS exec_ms,
	       round((total_plan_time / greatest(plans, 1))::numeric, 3) AS plan_ms, calls,
	       left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS statement
	FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$(role_of "$t")'
	ORDER BY total_exec_time + total_plan_time DESC LIMIT 5"
	[ "$t" = cockpit ] || continue
	echo "-- cockpit: by component (its collector connection and the brain's) --"
	psql -c "SELECT coalesce(substring(query from '/\* cockpit ([a-z]+)'), '(no tag)') AS component,
	       sum(calls) AS calls, round(sum(total_exec_time + total_plan_time)::numeric, 3) AS exec_plan_ms
	FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'bench_cockpit'
	GROUP BY 1 ORDER BY 3 DESC"
done


# cockpit's own count of its round trips: the same collector, recording.
ck_rt="-"
if "$bench_top/cockpit" record -o "$dir/rec.jsonl" --interval 1 --duration 6 \
	-d "host=$host port=$port dbname=postgres user=bench_cockpit" >/dev/null 2>&1; then
	ck_rt=$(grep '"slow_refreshed":false' "$dir/rec.jsonl" | grep -o '"round_trips":[0-9]*' |
		awk -F: '$2 > m {m = $2} END {print m ? m : "-"}')
fi

awk -v missing="$missing" -v ck_rt="$ck_rt" -v tools="$tools" -v rounds="$rounds" -v secs="$secs" '
function median(t, m,    n, i, j, x, v) {
	n = cnt[t, m]
	if (n == 0) return ""
	for (i = 0; i < n; i++) v[i] = val[t, m, i]
	for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
	return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
}
function cell(t, m, fmt,    x) {
	if (failed[t] && !cnt[t, m]) return "cannot run"
	if (!(t in present)) return "not installed"
	x = median(t, m)
	if (x == "" || x == "-") return "-"
	return sprintf(fmt, x)
}
function ratio(m, p,    a, b) {
	a = median("cockpit", m); b = median(p, m)
	if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) return "-"
	return sprintf("%.2f", a / b)
}
function have(t, m) { return (t in present) && median(t, m) != "" && median(t, m) != "-" }
function verdict(ok, known) { return known ? (ok ? "met" : "NOT met") : "unknown" }
{
	if ($2 == "fail") { failed[$1] = 1; next }
	val[$1, $2, cnt[$1, $2]++] = $3
}
END {
	split(tools, tl, " ")
	for (i in tl) present[tl[i]] = 1
	present["floor"] = 1
	split(missing, ml, " ")
	c = "cockpit"; a = "pg_activity"; p = "pg_top"
	printf "\nmedians of %d rounds of %d s; per refresh unless said; 200x50, 1 s refresh\n", rounds, secs
	fmt = "%-30s %11s %13s %13s %9s %9s  %-32s %s\n"
	printf fmt, "", "cockpit", "pg_activity", "pg_top", "ck/pga", "ck/pgtop", "target", ""
	printf fmt, "refreshes in the window", cell(c, "refreshes", "%d"), cell(a, "refreshes", "%d"), cell(p, "refreshes", "%d"), "", "", "", ""
	printf fmt, "actual period (s)", cell(c, "period_s", "%.2f"), cell(a, "period_s", "%.2f"), cell(p, "period_s", "%.2f"), "", "", "", ""
	ok = have(c, "cpu_ms") && have(a, "cpu_ms") && have(p, "cpu_ms") && median(c, "cpu_ms") <= median(a, "cpu_ms") / 10 && median(c, "cpu_ms") < median(p, "cpu_ms")
	printf fmt, "tool CPU ms (schedstat)", cell(c, "cpu_ms", "%.2f"), cell(a, "cpu_ms", "%.2f"), cell(p, "cpu_ms", "%.2f"), ratio("cpu_ms", a), ratio("cpu_ms", p), "<= 1/10 pga and < pg_top", verdict(ok, have(c, "cpu_ms") && have(a, "cpu_ms") && have(p, "cpu_ms"))
	printf fmt, "tool CPU ms (utime+stime)", cell(c, "ticks_ms", "%.2f"), cell(a, "ticks_ms", "%.2f"), cell(p, "ticks_ms", "%.2f"), ratio("ticks_ms", a), ratio("ticks_ms", p), "(10 ms ticks, for reference)", ""
	ok = have(c, "rss_mb") && have(a, "rss_mb") && median(c, "rss_mb") <= median(a, "rss_mb") / 4
	printf fmt, "peak RSS MB", cell(c, "rss_mb", "%.1f"), cell(a, "rss_mb", "%.1f"), cell(p, "rss_mb", "%.1f"), ratio("rss_mb", a), ratio("rss_mb", p), "<= 1/4 pga", verdict(ok, have(c, "rss_mb") && have(a, "rss_mb"))
	printf fmt, "SQL statements", cell(c, "stmts", "%.2f"), cell(a, "stmts", "%.2f"), cell(p, "stmts", "%.2f"), ratio("stmts", a), ratio("stmts", p), "", ""
	ok = have(c, "rt_med") && median(c, "rt_med") == 1
	printf fmt, "round trips, all conns (strace)", cell(c, "rt_med", "%d"), cell(a, "rt_med", "%d"), cell(p, "rt_med", "%d"), ratio("rt_med", a), ratio("rt_med", p), "1 per fast refresh", verdict(ok, have(c, "rt_med"))
	printf fmt, "round trips, max (strace)", cell(c, "rt_max", "%d"), cell(a, "rt_max", "%d"), cell(p, "rt_max", "%d"), "", "", "(slow refreshes included)", ""
	printf fmt, "round trips (collector report)", ck_rt, "", "", "", "", "(fast refreshes, max)", ""
	printf fmt, "server exec ms", cell(c, "exec_ms", "%.3f"), cell(a, "exec_ms", "%.3f"), cell(p, "exec_ms", "%.3f"), ratio("exec_ms", a), ratio("exec_ms", p), "", ""
	printf fmt, "server plan ms", cell(c, "plan_ms", "%.3f"), cell(a, "plan_ms", "%.3f"), cell(p, "plan_ms", "%.3f"), ratio("plan_ms", a), ratio("plan_ms", p), "", ""
	ok = have(c, "server_ms") && have(a, "server_ms") && median(c, "server_ms") <= median(a, "server_ms") / 3
	printf fmt, "server exec + plan ms", cell(c, "server_ms", "%.3f"), cell(a, "server_ms", "%.3f"), cell(p, "server_ms", "%.3f"), ratio("server_ms", a), ratio("server_ms", p), "<= 1/3 pga (slow amortised)", verdict(ok, have(c, "server_ms") && have(a, "server_ms"))
	printf fmt, "new connections", cell(c, "conns", "%.2f"), cell(a, "conns", "%.2f"), cell(p, "conns", "%.2f"), "", "", "", ""
	ok = have(c, "bytes") && have(p, "bytes") && median(c, "bytes") < median(p, "bytes")
	printf fmt, "terminal bytes", cell(c, "bytes", "%d"), cell(a, "bytes", "%d"), cell(p, "bytes", "%d"), ratio("bytes", a), ratio("bytes", p), "< pg_top", verdict(ok, have(c, "bytes") && have(p, "bytes"))
	ok = have(c, "first_s") && median(c, "first_s") <= 0.2
	printf fmt, "first screen with data (s)", cell(c, "first_s", "%.3f"), cell(a, "first_s", "%.3f"), cell(p, "first_s", "%.3f"), ratio("first_s", a), ratio("first_s", p), "<= 0.2 s", verdict(ok, have(c, "first_s"))
	printf fmt, "  less the floor (s)", cell(c, "own_first_s", "%.3f"), cell(a, "own_first_s", "%.3f"), cell(p, "own_first_s", "%.3f"), ratio("own_first_s", a), ratio("own_first_s", p), "(the floor of its round taken out)", ""
	printf "first-screen floor: %s s, a program that prints at once (sh -c echo), started and polled the same way\n", cell("floor", "first_s", "%.3f")
	if (missing != "")
		printf "not installed:%s — their columns are empty; scripts/deps.sh bench installs them\n", missing
}' "$res"
