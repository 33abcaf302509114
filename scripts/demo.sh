#!/bin/sh
# make demo: a scratch PostgreSQL 15 with live incidents, and the cockpit on it.
#
#   sh scripts/demo.sh            start everything, open the cockpit; quitting it
#                                 (or Ctrl-C, SIGTERM, SIGHUP) stops everything
#   sh scripts/demo.sh start      cluster + schema + incident generator, no UI;
#                                 prints the env file's path (source it for
#                                 COCKPIT_TEST_DSN / COCKPIT_TEST_MONITOR_DSN)
#   sh scripts/demo.sh stop       stop the generator and the cluster, check that
#                                 nothing is left running
#   sh scripts/demo.sh status     what is running
#
# Environment: DEMO_DIR (default ./.demo in the repository), DEMO_NO_TUI=1
# (without a command: text snapshots every 2 s instead of the interactive
# screen), PGBIN (default /usr/lib/postgresql/15/bin).
#
# The cluster comes from tests/lib/pgcluster.sh: Unix socket in DEMO_DIR, TCP
# on 127.0.0.1, a free port, trust authentication. The generator is
# scripts/demo-incidents.sh, in its own session; its pid (= its process group)
# is in DEMO_DIR/incidents.pid, its log in DEMO_DIR/incidents.log.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO_DIR=${DEMO_DIR:-$ROOT/.demo}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
COCKPIT=${COCKPIT:-$ROOT/cockpit}
PGCLUSTER="$ROOT/tests/lib/pgcluster.sh"
export PGBIN

case "$DEMO_DIR" in
/ | "") echo "demo: refusing DEMO_DIR='$DEMO_DIR'" >&2; exit 2 ;;
/*) ;;
*) DEMO_DIR=$PWD/$DEMO_DIR ;;
esac

say() { printf 'demo: %s\n' "$*" >&2; }

psql_su() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$COCKPIT_TEST_PGHOST" -p "$COCKPIT_TEST_PGPORT" \
		-U postgres -d postgres "$@"
}

# The demo cluster's postmaster, if it runs (a stale postmaster.pid may name a
# pid that now belongs to something else: check its command line).
postmaster_pid() {
	[ -f "$DEMO_DIR/data/postmaster.pid" ] || return 0
	p=$(head -n 1 "$DEMO_DIR/data/postmaster.pid" 2>/dev/null || :)
	case "$p" in '' | *[!0-9]*) return 0 ;; esac
	case "$(ps -o args= -p "$p" 2>/dev/null || :)" in
	*"$DEMO_DIR/data"*) echo "$p" ;;
	esac
}

# The generator's process group, if it is still ours: some process in it runs
# demo-incidents.sh (a pid in a stale file may belong to something else now).
generator_pgid() {
	pg=$(cat "$DEMO_DIR/incidents.pid" 2>/dev/null || :)
	case "$pg" in '' | *[!0-9]*) return 0 ;; esac
	if ps -eo pgid=,args= | awk -v g="$pg" '$1 == g && /demo-incidents\.sh/ { found = 1 } END { exit !found }'; then
		echo "$pg"
	fi
}

# Every live (not zombie) process of a group, "pid args" per line. A
# zombie's parent (init, once demo.sh is gone) reaps it in its own time.
group_members() {
	ps -eo pid=,pgid=,stat=,args= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { $2 = ""; $3 = ""; print }'
}

# Live processes of the demo cluster: the postmaster and its children.
cluster_members() {
	[ -n "$1" ] || return 0
	ps -eo pid=,ppid=,stat=,args= | awk -v p="$1" '($1 == p || $2 == p) && $3 !~ /^Z/ { $2 = ""; $3 = ""; print }'
}

# wait_gone SECONDS CMD...: until CMD prints nothing, at most SECONDS.
wait_gone() {
	n=$(($1 * 10))
	shift
	while [ -n "$("$@")" ] && [ "$n" -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ -z "$("$@")" ]
}

stop_generator() {
	pg=$(generator_pgid)
	[ -n "$pg" ] || return 0
	say "stopping the incident generator (process group $pg)"
	# (kill -SIG -PGID: dash's kill takes no "--")
	kill -TERM "-$pg" 2>/dev/null || :
	if ! wait_gone 5 group_members "$pg"; then
		say "generator still running after 5 s, killing it"
		kill -KILL "-$pg" 2>/dev/null || :
		wait_gone 2 group_members "$pg" || :
	fi
}

stop_all() {
	gen=$(generator_pgid)
	pm=$(postmaster_pid)
	stop_generator
	if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
		say "stopping PostgreSQL (postmaster $pm)"
	fi
	sh "$PGCLUSTER" stop "$DEMO_DIR" || :
	[ -n "$pm" ] && { wait_gone 5 cluster_members "$pm" || :; }
	# Check: nothing of the generator's group, nothing of the cluster.
	left=""
	[ -n "$gen" ] && left=$(group_members "$gen")
	[ -n "$pm" ] && left="$left$(cluster_members "$pm")"
	if [ -n "$left" ]; then
		say "still running after stop:"
		printf '%s\n' "$left" >&2
		return 1
	fi
	rm -f "$DEMO_DIR/incidents.pid"
	return 0
}

is_running() {
	pm=$(postmaster_pid)
	{ [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; } || [ -n "$(generator_pgid)" ]
}

start_all() {
	t0=$(date +%s)
	if [ -d "$DEMO_DIR" ] && is_running; then
		say "a demo is already running in $DEMO_DIR; stopping it first"
		stop_all
	fi
	rm -rf "$DEMO_DIR"
	say "starting PostgreSQL 15 in $DEMO_DIR"
	# Extra postgresql.conf lines:
	#  - no parallel query: the slow query stays one plain sequential scan and
	#    the two cores the demo aims at stay usable;
	#  - autovacuum wakes often, so the other tables are kept clean and the one
	#    with autovacuum disabled (cart_sessions) stands out;
	#  - cluster_name shows in the server's process titles (ps).
	sh "$PGCLUSTER" start "$DEMO_DIR" \
		"max_parallel_workers_per_gather = 0" \
		"autovacuum_naptime = 15s" \
		"cluster_name = 'cockpit-demo'" >&2
	# shellcheck disable=SC1091
	. "$DEMO_DIR/env"
	say "loading the shop schema (3 million events; ~10-30 s)"
	psql_su -f "$ROOT/demo/schema.sql" >/dev/null
	say "starting the incident generator"
	setsid sh "$ROOT/scripts/demo-incidents.sh" "$DEMO_DIR/env" \
		</dev/null >"$DEMO_DIR/incidents.log" 2>&1 &
	echo $! >"$DEMO_DIR/incidents.pid"
	# Ready when the idle agent pool has connected (the last loop started).
	i=0
	while [ $i -lt 150 ]; do
		n=$(psql_su -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'agent-pool-%'" 2>/dev/null || echo 0)
		[ "$n" -ge 20 ] && break
		if [ -z "$(generator_pgid)" ]; then
			say "the incident generator died; its log:"
			cat "$DEMO_DIR/incidents.log" >&2
			return 1
		fi
		sleep 0.2
		i=$((i + 1))
	done
	say "ready in $(( $(date +%s) - t0 )) s: PostgreSQL on port $COCKPIT_TEST_PGPORT, socket in $COCKPIT_TEST_PGHOST"
	say "lock chain every ~30 s, deadlock every ~45 s, slow query every 2-4 s, bloat on cart_sessions, agents"
}

status() {
	pm=$(postmaster_pid)
	gen=$(generator_pgid)
	rc=0
	if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
		echo "postgres:  running (postmaster $pm, port $(cat "$DEMO_DIR/port" 2>/dev/null), socket in $DEMO_DIR)"
	else
		echo "postgres:  not running"
		rc=3
	fi
	if [ -n "$gen" ]; then
		echo "generator: running (process group $gen, $(group_members "$gen" | wc -l) processes, log $DEMO_DIR/incidents.log)"
	else
		echo "generator: not running"
		rc=3
	fi
	[ -f "$DEMO_DIR/env" ] && echo "env:       $DEMO_DIR/env"
	if [ $rc -eq 0 ]; then
		# shellcheck disable=SC1091
		. "$DEMO_DIR/env"
		psql_su -tAc "SELECT '  ' || rpad(coalesce(nullif(application_name, ''), backend_type), 28) || ' ' || coalesce(state, '') || ' ' || count(*) FROM pg_stat_activity GROUP BY application_name, backend_type, state ORDER BY 1" || :
	fi
	return $rc
}

# --- the interactive run ------------------------------------------------------

cockpit_pid=""
cleaned=0
cleanup() {
	rc=$?
	[ $cleaned -eq 1 ] && return
	cleaned=1
	trap '' INT TERM HUP
	if [ -n "$cockpit_pid" ] && kill -0 "$cockpit_pid" 2>/dev/null; then
		kill -TERM "$cockpit_pid" 2>/dev/null || :
		i=0
		while kill -0 "$cockpit_pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
		if kill -0 "$cockpit_pid" 2>/dev/null; then
			kill -KILL "$cockpit_pid" 2>/dev/null || :
			if [ -t 0 ]; then stty sane 2>/dev/null || :; fi
		fi
	fi
	if stop_all; then
		say "stopped: nothing the demo started is left running"
	else
		rc=1
	fi
	exit $rc
}

# Text snapshots every 2 s, until Ctrl-C. $1: why, shown on top.
snapshot_loop() {
	say "showing 'cockpit snapshot' and 'cockpit diagnose' every 2 s; Ctrl-C stops the demo"
	printf 'paths:\n  runbooks_dir: %s\n  audit_log: %s\n' \
		"$ROOT/runbooks" "$DEMO_DIR/audit.jsonl" >"$DEMO_DIR/diagnose.conf"
	while :; do
		out=$("$COCKPIT" snapshot -d "$COCKPIT_TEST_MONITOR_DSN" 2>&1) || :
		out="$out
$("$COCKPIT" -c "$DEMO_DIR/diagnose.conf" diagnose -d "$COCKPIT_TEST_MONITOR_DSN" 2>&1 | cut -c1-160)" || :
		[ -t 1 ] && printf '\033[H\033[2J'
		printf '%s  cockpit demo, %s (Ctrl-C stops the demo)\n%s\n\n' "$(date +%H:%M:%S)" "$1" "$out"
		sleep 2
	done
}

run() {
	[ -x "$COCKPIT" ] || { say "$COCKPIT is missing: run 'make' first"; exit 2; }
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	start_all
	if [ "${DEMO_NO_TUI:-0}" = 1 ]; then
		snapshot_loop "text mode (DEMO_NO_TUI=1)"
	fi
	say "opening the cockpit as cockpit_monitor (pg_monitor), mode assist (audit log: $DEMO_DIR/audit.jsonl); quit it to stop the demo"
	# The cockpit runs as a child we wait for (not exec): the traps above must
	# outlive it, and `wait` lets SIGTERM/SIGHUP to this script act at once.
	# An asynchronous child would get /dev/null as stdin and SIGINT ignored:
	# give it the terminal back and the default signal dispositions.
	errf="$DEMO_DIR/cockpit.stderr"
	if env --default-signal=INT true 2>/dev/null; then
		set -- env --default-signal=INT,QUIT "$COCKPIT"
	else
		set -- "$COCKPIT"
	fi
	exec 3<&0
	t0=$(date +%s)
	# Monitoring as cockpit_monitor (pg_monitor); approved actions run
	# through the executor as the cluster's superuser (a scratch cluster:
	# on a real server give the executor its own, narrower role, see
	# README). assist mode: nothing runs until you accept it (a).
	printf 'mode: assist\npaths:\n  runbooks_dir: %s\n  audit_log: %s\n' \
		"$ROOT/runbooks" "$DEMO_DIR/audit.jsonl" >"$DEMO_DIR/cockpit.conf"
	"$@" -c "$DEMO_DIR/cockpit.conf" -d "$COCKPIT_TEST_MONITOR_DSN" \
		--executor "$COCKPIT_TEST_DSN" <&3 2>"$errf" 3<&- &
	cockpit_pid=$!
	rc=0
	wait "$cockpit_pid" || rc=$?
	cockpit_pid=""
	if [ $rc -eq 2 ] && [ $(( $(date +%s) - t0 )) -le 5 ] && grep -q "not built" "$errf"; then
		cat "$errf" >&2
		snapshot_loop "text mode (this build has no interactive screen)"
	fi
	cat "$errf" >&2
	exit $rc
}

case "${1:-run}" in
run)
	run
	;;
start)
	# On failure part-way, stop what did start.
	trap 'rc=$?; if [ $rc -ne 0 ]; then say "start failed; cleaning up"; stop_all || :; fi; exit $rc' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	start_all
	echo "$DEMO_DIR/env"
	;;
stop)
	if [ -d "$DEMO_DIR" ]; then
		stop_all
		say "stopped"
	else
		say "no demo in $DEMO_DIR"
	fi
	;;
status)
	status
	;;
-h | --help | help)
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
	;;
*)
	echo "usage: sh scripts/demo.sh [start|stop|status]" >&2
	exit 2
	;;
esac
