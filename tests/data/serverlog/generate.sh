#!/bin/sh
# Regenerate the server-log samples from a real PostgreSQL 15.
#
#   sh tests/data/serverlog/generate.sh OUTDIR
#
# Starts a throwaway cluster (tests/lib/pgcluster.sh: stderr, csvlog and
# jsonlog at once, log_line_prefix '%m [%p] %q%u@%d '), provokes each
# deadlock with concurrent psql sessions, and copies the bytes each scenario
# added to the three logs to OUTDIR/NAME.{log,csv,json}. The prefix_*.log
# samples change log_line_prefix (and log_error_verbosity) with ALTER SYSTEM
# first. Pids, xids, OIDs and times differ on every run, so after copying new
# samples over tests/data/serverlog/ update the tables in
# tests/unit/test_serverlog.c.
set -eu
out=${1:?output directory}
top=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/cockpit-serverlog.XXXXXX)
chmod 755 "$work"
trap 'sh "$top/tests/lib/pgcluster.sh" stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
sh "$top/tests/lib/pgcluster.sh" start "$work/pg" >/dev/null
. "$work/pg/env"
export PGHOST="$COCKPIT_TEST_PGHOST" PGPORT="$COCKPIT_TEST_PGPORT"
PSQL="${PGBIN:-/usr/lib/postgresql/15/bin}/psql -X -q"
logdir=$COCKPIT_TEST_LOGDIR

admin() { $PSQL -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
# sess APPNAME: run stdin as app_user in database shop, errors expected
sess() { PGAPPNAME="$1" $PSQL -U app_user -d shop >/dev/null 2>&1 || true; }
slice_start() {
	for e in log csv json; do stat -c %s "$logdir/postgresql.$e" >"$work/off.$e"; done
}
slice_end() { # NAME
	sleep 1.5 # the logging collector writes asynchronously
	for e in log csv json; do
		tail -c +$(($(cat "$work/off.$e") + 1)) "$logdir/postgresql.$e" >"$out/$1.$e"
	done
}
setconf() {
	for kv in "$@"; do admin -c "ALTER SYSTEM SET $kv"; done
	admin -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
}
# two_way NAME ROW_A ROW_B: the classic two-session deadlock
two_way() {
	sess "$1-a" <<SQL &
BEGIN;
UPDATE accounts SET balance = balance - 1 WHERE id = $2;
SELECT pg_sleep(1);
UPDATE accounts SET balance = balance + 1 WHERE id = $3;
COMMIT;
SQL
	sess "$1-b" <<SQL &
BEGIN;
UPDATE accounts SET balance = balance - 1 WHERE id = $3;
SELECT pg_sleep(1.2);
UPDATE accounts SET balance = balance + 1 WHERE id = $2;
COMMIT;
SQL
	wait
}
errs() {
	sess errs <<'SQL'
SELECT 1 / 0;
DO $$BEGIN RAISE EXCEPTION 'deadlock detected'; END$$;
SQL
}

admin -c "CREATE ROLE app_user LOGIN" -c "CREATE DATABASE shop OWNER app_user"
$PSQL -U app_user -d shop -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL DEFAULT 0);
INSERT INTO accounts SELECT g, 'owner ' || g, 100 FROM generate_series(1, 10) g;
CREATE TABLE orders (id serial PRIMARY KEY, account int, amount numeric);
CREATE TABLE ledger (id serial PRIMARY KEY, note text);
CREATE FUNCTION f_one() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION f_two() RETURNS int LANGUAGE sql AS 'SELECT 2';
SQL

# deadlock: two sessions update two rows in opposite order
slice_start
sess accounts-a <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance - 10 WHERE id = 1;
SELECT pg_sleep(1);
UPDATE accounts SET balance = balance + 10 WHERE id = 2;
COMMIT;
SQL
sess accounts-b <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance - 20 WHERE id = 2;
SELECT pg_sleep(1.2);
UPDATE accounts SET balance = balance + 20 WHERE id = 1;
COMMIT;
SQL
wait
slice_end deadlock

# deadlock3: a cycle of three
slice_start
for i in 1 2 3; do
	from=$((i + 2)); to=$((i % 3 + 3))
	sess "transfer-$i" <<SQL &
BEGIN;
UPDATE accounts SET balance = balance - $i WHERE id = $from;
SELECT pg_sleep(1.$((i - 1)));
UPDATE accounts SET balance = balance + $i WHERE id = $to;
COMMIT;
SQL
done
wait
slice_end deadlock3

# relation: LOCK TABLE in opposite order
slice_start
sess batch-orders <<'SQL' &
BEGIN;
LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE;
SELECT pg_sleep(1);
LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;
COMMIT;
SQL
sess batch-ledger <<'SQL' &
BEGIN;
LOCK TABLE ledger IN EXCLUSIVE MODE;
SELECT pg_sleep(1.2);
INSERT INTO orders (account, amount) VALUES (1, 5);
COMMIT;
SQL
wait
slice_end relation

# tuple: b waits for a's xid holding the tuple lock, c waits for that tuple
# lock, a waits for c's xid
slice_start
sess tuple-a <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance + 1 WHERE id = 6;
SELECT pg_sleep(2);
UPDATE accounts SET balance = balance + 1 WHERE id = 7;
COMMIT;
SQL
sleep 0.3
sess tuple-b <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance + 2 WHERE id = 6;
COMMIT;
SQL
sleep 0.3
sess tuple-c <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance + 3 WHERE id = 7;
UPDATE accounts SET balance = balance + 3 WHERE id = 6;
COMMIT;
SQL
wait
slice_end tuple

# advisory: transaction-level advisory locks in opposite order
slice_start
sess job-runner-1 <<'SQL' &
BEGIN;
SELECT pg_advisory_xact_lock(42);
SELECT pg_sleep(1);
SELECT pg_advisory_xact_lock(7, 99);
COMMIT;
SQL
sess job-runner-2 <<'SQL' &
BEGIN;
SELECT pg_advisory_xact_lock(7, 99);
SELECT pg_sleep(1.2);
SELECT pg_advisory_xact_lock(42);
COMMIT;
SQL
wait
slice_end advisory

# vxid: CREATE INDEX CONCURRENTLY waits for a writer's virtual transaction,
# the writer then wants a lock the index build holds
slice_start
sess writer <<'SQL' &
BEGIN;
INSERT INTO ledger (note) VALUES ('pending');
SELECT pg_sleep(1.5);
LOCK TABLE ledger IN SHARE UPDATE EXCLUSIVE MODE;
COMMIT;
SQL
sleep 0.3
sess indexer <<'SQL' &
CREATE INDEX CONCURRENTLY ledger_note_idx ON ledger (note);
SQL
wait
slice_end vxid

# object: DROP FUNCTION locks the function objects
slice_start
sess ddl-1 <<'SQL' &
BEGIN;
DROP FUNCTION f_one();
SELECT pg_sleep(1);
DROP FUNCTION f_two();
ROLLBACK;
SQL
sess ddl-2 <<'SQL' &
BEGIN;
DROP FUNCTION f_two();
SELECT pg_sleep(1.2);
DROP FUNCTION f_one();
ROLLBACK;
SQL
wait
slice_end object

# noise: other errors, a RAISE 'deadlock detected', a log line quoted in a
# statement, a checkpoint, a FATAL, a lock timeout; then a deadlock with
# multi-line statements (and a tab in application_name) as the last thing
slice_start
sess reporting <<'SQL'
SELECT id,
       owner
  FROM accounts
 WHERE id = = 1;
SELECT 1 / 0;
INSERT INTO accounts (id, owner) VALUES (1, 'dup');
DO $$BEGIN RAISE EXCEPTION 'deadlock detected'; END$$;
SELECT 'deadlock detected'::int;
SELECT count(*) FROM accounts WHERE owner = '
2026-11-22 04:15:19.218 UTC [4165] app_user@shop ERROR:  deadlock detected
Process 1 waits for ShareLock on transaction 1; blocked by process 2.' AND 1/0 = 1;
SQL
admin -c CHECKPOINT
PGAPPNAME=noise $PSQL -U app_user -d nope -c 'SELECT 1' >/dev/null 2>&1 || true
sess locker <<'SQL' &
BEGIN;
UPDATE accounts SET balance = 0 WHERE id = 10;
SELECT pg_sleep(1.5);
COMMIT;
SQL
sleep 0.3
sess impatient <<'SQL'
SET lock_timeout = '200ms';
UPDATE accounts SET balance = 1 WHERE id = 10;
SQL
sess "payroll	job" <<'SQL' &
BEGIN;
UPDATE accounts
	SET balance = balance - 5,
	    owner = owner || ' (paid)'
 WHERE id = 8;
SELECT pg_sleep(1);
/* second leg */
UPDATE accounts
   SET balance = balance + 5
 WHERE id = 9;
COMMIT;
SQL
sess refunds <<'SQL' &
BEGIN;
UPDATE accounts SET balance = balance - 7 WHERE id = 9;
SELECT pg_sleep(1.2);
WITH r AS (
  SELECT 8 AS id
)
UPDATE accounts a
   SET balance = balance + 7
  FROM r
 WHERE a.id = r.id;
COMMIT;
SQL
wait
slice_end noise

# prefixes and verbosity (stderr only differs)
setconf "log_line_prefix = '%m [%p] '"
slice_start; errs; two_way default 1 2; admin -c CHECKPOINT; slice_end prefix_default
setconf "log_line_prefix = '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h %e '" \
	"log_error_verbosity = verbose"
slice_start; errs; two_way verbose 3 4; admin -c CHECKPOINT; slice_end prefix_verbose
setconf "log_line_prefix = '%m '" "log_error_verbosity = default"
slice_start; errs; two_way nopid 5 6; admin -c CHECKPOINT; slice_end prefix_nopid
setconf "log_line_prefix = '%m [%p] %e '" "log_error_verbosity = terse"
slice_start; errs; two_way terse 7 8; admin -c CHECKPOINT; slice_end terse
setconf "log_line_prefix = '%m [%p] %q%u@%d '" "log_error_verbosity = default" \
	"log_min_error_statement = fatal"
slice_start; two_way nostmt 1 3; errs; slice_end nostatement
admin -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

# long: a statement longer than track_activity_query_size, multibyte text
pad=$(printf 'Überweisung €%.0s' $(seq 1 80))
slice_start
sess long-a <<SQL &
BEGIN;
UPDATE accounts SET balance = balance - 1 WHERE id = 1;
SELECT pg_sleep(1);
UPDATE accounts SET balance = balance + 1, owner = owner WHERE id = 2 /* $pad */;
COMMIT;
SQL
sess long-b <<SQL &
BEGIN;
UPDATE accounts SET balance = balance - 1 WHERE id = 2;
SELECT pg_sleep(1.2);
UPDATE accounts SET owner = 'José Ñúñez' WHERE id = 1;
COMMIT;
SQL
wait
slice_end long

# only stderr shows the prefixes
for b in prefix_default prefix_verbose prefix_nopid; do rm -f "$out/$b.csv" "$out/$b.json"; done
echo "samples written to $out"
