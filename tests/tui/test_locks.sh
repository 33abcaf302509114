#!/bin/bash
# TUI: a real lock chain on the real server; the Locks screen must show the
# root blocker's pid above its waiters, the blocker idle in transaction.
. "$(dirname "$0")/lib.sh"

# Start from a server with no sessions left over from other tests.
psql_su -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null
psql_su -c "DROP TABLE IF EXISTS tui_chain; CREATE TABLE tui_chain (id int PRIMARY KEY, v int); INSERT INTO tui_chain VALUES (1, 0)"
# The root: takes the row and stays idle in transaction — psql reads its
# commands from a FIFO this script holds open; closing it ends the session.
fifo=$(mktemp -u /tmp/cockpit-tui-fifo.XXXXXX)
mkfifo "$fifo"
"$PGBIN/psql" -X -q -d "$COCKPIT_TEST_DSN" <"$fifo" >/dev/null 2>&1 &
bg_pids="$bg_pids $!"
exec 3>"$fifo"
rm -f "$fifo"
echo "SET application_name = 'tui-root'; BEGIN; UPDATE tui_chain SET v = 1 WHERE id = 1;" >&3
sleep 0.5
"$PGBIN/psql" -X -q -d "$COCKPIT_TEST_DSN" -c "SET application_name = 'tui-w1'" -c "UPDATE tui_chain SET v = 2 WHERE id = 1" >/dev/null 2>&1 &
bg_pids="$bg_pids $!"
sleep 0.5
"$PGBIN/psql" -X -q -d "$COCKPIT_TEST_DSN" -c "SET application_name = 'tui-w2'" -c "UPDATE tui_chain SET v = 3 WHERE id = 1" >/dev/null 2>&1 &
bg_pids="$bg_pids $!"
for i in $(seq 50); do
	n=$(psql_su -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('tui-w1','tui-w2') AND wait_event_type = 'Lock'")
	[ "$n" = 2 ] && break; sleep 0.1
done
root=$(psql_su -A -t -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'tui-root'")
w1=$(psql_su -A -t -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'tui-w1'")
w2=$(psql_su -A -t -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'tui-w2'")

tui_start 120 40 "$COCKPIT_BIN -d '$COCKPIT_TEST_MONITOR_DSN'"
check "overview lists the lock chain" tui_wait "lock chain: pid $root blocks 2 sessions" 10
tui_keys 3
check "locks screen shows the chain" tui_wait "$w2 waits" 5
screen=$(tui_screen)
lr=$(echo "$screen" | grep -n "^$root " | head -1 | cut -d: -f1)
l1=$(echo "$screen" | grep -n "$w1 waits" | head -1 | cut -d: -f1)
l2=$(echo "$screen" | grep -n "$w2 waits" | head -1 | cut -d: -f1)
check "root blocker $root is a tree root" test -n "$lr"
check "root above its waiters ($lr < $l1 < $l2)" test "${lr:-99}" -lt "${l1:-0}" -a "${l1:-99}" -lt "${l2:-0}"
check "root shown idle in transaction" sh -c "echo \"\$0\" | grep \"^$root \" | grep -q 'idle in transaction'" "$screen"
check "tab badge counts the waiters" sh -c "echo \"\$0\" | grep -q '3 Locks (2)'" "$screen"
tui_keys q
check "q quits" tui_exited 10
exec 3>&-
finish
