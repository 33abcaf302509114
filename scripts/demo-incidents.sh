#!/bin/sh
# The demo's incident generator: keeps a scratch PostgreSQL busy with the
# trouble cockpit is built to show. Started by scripts/demo.sh, which puts it in
# its own session (setsid) so that one signal to the process group stops it and
# every psql/pgbench it started.
#
#   sh scripts/demo-incidents.sh ENVFILE     (ENVFILE: written by tests/lib/pgcluster.sh)
#
# What runs, all at once, each in its own bounded loop:
#   pgbench          shop traffic: 4 clients, ~40 tx/s (-R), custom scripts
#   lock chain       every ~30 s: inventory-sync updates account 1 and stays
#                    idle in transaction 20 s; three checkout sessions queue
#                    behind it, one of them two levels deep
#   deadlock         every ~45 s: two payments sessions update accounts 11 and
#                    12 in opposite order; PostgreSQL aborts one (server log)
#   slow query       every 2-4 s: events looked up by tracking_code, which has
#                    no index: a sequential scan of 3 million rows (~0.3-1 s)
#   bloat            every 3 s: batch updates (of an indexed column, so no HOT)
#                    and deletes on cart_sessions, where autovacuum is off; a
#                    manual VACUUM every ~20 minutes keeps it bounded
#   agents           report-bot   (tag /* agent_id=..., task_id=..., step=... */)
#                    etl-agent    (sqlcommenter /*agent_id='..',task_id='..'*/)
#                    runaway-agent: a ~200 ms query, 0.15 s pause, forever
#                    idle-tx-agent: BEGIN, a tagged UPDATE, then idle 3 minutes
#                    agent-pool-1..20: idle tagged connections
#
# Only psql and pgbench. No `set -e` here: a failed statement (the deadlock
# victim, say) must not end the loop it belongs to.
set -u

env_file=${1:?usage: demo-incidents.sh ENVFILE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# Own process group, so that `kill -- -PID` reaches every child and `kill 0`
# below reaches nothing outside it. demo.sh already starts us under setsid.
if [ "$(ps -o pgid= -p $$ | tr -d ' ')" != "$$" ]; then
	exec setsid sh "$0" "$@"
fi

# shellcheck disable=SC1090
. "$env_file"
export PGHOST="$COCKPIT_TEST_PGHOST" PGPORT="$COCKPIT_TEST_PGPORT" PGUSER=postgres PGDATABASE=postgres
unset PGOPTIONS PGAPPNAME

stopping=0
on_signal() {
	[ "$stopping" -eq 1 ] && return
	stopping=1
	trap '' TERM INT HUP
	kill -TERM 0 2>/dev/null
	wait
	exit 0
}
trap on_signal TERM INT HUP

log() { printf '%s incidents: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# sql APPNAME: run psql as application APPNAME on the script from stdin.
# Results are thrown away; errors go to the generator's log.
sql() {
	PGAPPNAME=$1 "$PGBIN/psql" -X -q >/dev/null
}
# sql_waiter APPNAME: the same, giving up on a lock after 60 s (a safety net:
# the lock chain's waiters are meant to wait ~20 s, never forever).
sql_waiter() {
	PGAPPNAME=$1 PGOPTIONS='-c lock_timeout=60s' "$PGBIN/psql" -X -q >/dev/null
}

# A small LCG, so that the loops need no process per random number.
rnd_state=$(( $$ * 7919 + $(date +%s) ))
rnd() { # rnd N: a number in [0, N)
	rnd_state=$(( (rnd_state * 1103515245 + 12345) % 2147483648 ))
	rnd_value=$(( (rnd_state / 256) % $1 ))
}

# --- pgbench: the shop's ordinary traffic ---------------------------------
pgbench_loop() {
	while :; do
		"$PGBIN/pgbench" -n -c 4 -j 2 -R 40 -T 3600 \
			-f "$ROOT/demo/pgbench/shop_rw.sql@3" -f "$ROOT/demo/pgbench/shop_ro.sql@7" \
			>/dev/null || :
		sleep 2
	done
}

# --- a lock chain every ~30 s ---------------------------------------------
#   inventory-sync (idle in transaction, holds account 1)
#     <- checkout-1 (holds account 2, waits for account 1)
#          <- checkout-2 (waits for account 2)
#          <- checkout-3 (waits for account 1, queued behind checkout-1)
lock_chain_loop() {
	sleep 5
	while :; do
		sql inventory-sync <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance - 5 WHERE id = 1;
\! sleep 20
COMMIT;
SQL
		sleep 1
		sql_waiter checkout-1 <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance + 1 WHERE id = 2;
UPDATE accounts SET balance = balance + 1 WHERE id = 1;
COMMIT;
SQL
		sleep 1
		sql_waiter checkout-2 <<'SQL' &
UPDATE accounts SET balance = balance + 1 WHERE id = 2;
SQL
		sql_waiter checkout-3 <<'SQL' &
UPDATE accounts SET balance = balance - 1 WHERE id = 1;
SQL
		wait
		sleep 8
	done
}

# --- a deadlock every ~45 s -----------------------------------------------
deadlock_loop() {
	sleep 20
	while :; do
		sql payments-a <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance - 10 WHERE id = 11;
\! sleep 1
UPDATE accounts SET balance = balance + 10 WHERE id = 12;
COMMIT;
SQL
		sleep 0.2
		sql payments-b <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance - 10 WHERE id = 12;
\! sleep 1
UPDATE accounts SET balance = balance + 10 WHERE id = 11;
COMMIT;
SQL
		wait
		sleep 43
	done
}

# --- the slow query: no index on events.tracking_code ----------------------
slow_query_loop() {
	while :; do
		{
			while :; do
				rnd 3000000
				code=$(( ((rnd_value + 1) * 2654435761) % 4294967296 ))
				echo "SELECT id, customer_id, kind, created_at FROM events WHERE tracking_code = 'TC-$code';" || exit 0
				rnd 3
				sleep $(( 2 + rnd_value ))
			done
		} | sql storefront
		sleep 2
	done
}

# --- bloat: cart_sessions, autovacuum off ---------------------------------
bloat_loop() {
	while :; do
		{
			i=0
			while :; do
				{
					echo "UPDATE cart_sessions SET items = items + 1, updated_at = now() WHERE id % 20 = $((i % 20));"
					if [ $((i % 5)) -eq 4 ]; then
						echo "DELETE FROM cart_sessions WHERE id IN (SELECT id FROM cart_sessions ORDER BY updated_at LIMIT 500);"
						echo "INSERT INTO cart_sessions (customer_id, items, updated_at) SELECT 1 + (random() * 99999)::int, 0, now() FROM generate_series(1, 500);"
					fi
					# Keep it bounded: ~1 million dead tuples, then a manual VACUUM.
					if [ $((i % 400)) -eq 399 ]; then
						echo "VACUUM cart_sessions;"
					fi
				} || exit 0
				i=$((i + 1))
				sleep 3
			done
		} | sql cart-service
		sleep 2
	done
}

# --- agents -----------------------------------------------------------------
# report-bot: plain key=value tag, a reporting query every 5 s, steps 1..5.
report_bot_loop() {
	while :; do
		{
			step=1
			while :; do
				echo "/* agent_id=report-bot, task_id=T-17, step=$step */ SELECT c.country, count(*) AS orders, sum(o.total) AS revenue FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > now() - interval '1 day' GROUP BY c.country ORDER BY revenue DESC;" || exit 0
				step=$((step % 5 + 1))
				sleep 5
			done
		} | sql report-bot
		sleep 2
	done
}

# etl-agent: sqlcommenter tag (quoted, url-encoded, appended), small batch
# inserts every 5 s.
etl_agent_loop() {
	while :; do
		{
			while :; do
				echo "INSERT INTO events (customer_id, kind, tracking_code, created_at) SELECT 1 + (random() * 99999)::int, 'import', 'TC-IMPORT-' || g, now() FROM generate_series(1, 200) g /*agent_id='etl-agent',task_id='load%2042'*/;" || exit 0
				sleep 5
			done
		} | sql etl-runner
		sleep 2
	done
}

# runaway-agent: a ~200 ms aggregate over 600k rows, again 0.15 s after each
# run finishes (psql's \watch), forever: about two thirds of one core.
runaway_agent_loop() {
	while :; do
		sql runaway-agent <<'SQL'
/* agent_id=runaway-agent, task_id=T-404, step=9 */ SELECT kind, count(*), sum(customer_id) FROM events WHERE id BETWEEN 1000000 AND 1600000 GROUP BY kind
\watch 0.15
SQL
		sleep 2
	done
}

# idle-tx-agent: opens a transaction, updates a row, then forgets about it for
# three minutes (holding the row lock and the xmin horizon), and again.
idle_tx_agent_loop() {
	while :; do
		sql idle-tx-agent <<'SQL'
BEGIN;
/* agent_id=idle-tx-agent, task_id=T-23, step=2 */ UPDATE customers SET email = email WHERE id = 4242;
\! sleep 180
ROLLBACK;
SQL
		sleep 5
	done
}

# agent-pool-N: idle tagged connections (a keepalive every 5 minutes).
agent_pool_loop() {
	n=$1
	while :; do
		sql "agent-pool-$n" <<SQL
/* agent_id=agent-pool-$n, task_id=keepalive */ SELECT 1
\\watch 300
SQL
		sleep 5
	done
}

log "generator $$ starting on $PGHOST port $PGPORT"
pgbench_loop &
lock_chain_loop &
deadlock_loop &
slow_query_loop &
bloat_loop &
report_bot_loop &
etl_agent_loop &
runaway_agent_loop &
idle_tx_agent_loop &
n=1
while [ $n -le 20 ]; do
	agent_pool_loop $n &
	n=$((n + 1))
done
log "all loops started"
# wait returns when a trapped signal arrives; the trap then stops everything.
while :; do
	wait
	sleep 1
done
