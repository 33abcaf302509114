/*
 * Integration: `cockpit snapshot --json` against a real PostgreSQL 15.
 *
 * Each test stages a real situation with libpq sessions — a three-session
 * lock chain with a soft (queued) waiter, a live deadlock cycle, a deadlock
 * PostgreSQL resolved (then its server-log report), agent-tagged sessions in
 * both tag forms, an idle-in-transaction session, a bloated table — and
 * checks what cockpit, running as the pg_monitor role, reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/testpg.h"

static json_t *snapshot_json(void)
{
	char args[1024];
	int rc;
	json_t *j;

	snprintf(args, sizeof(args), "snapshot --json --window 0.3 -d '%s'", tp_monitor_dsn());
	j = tp_cockpit_json(args, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
	assert_true(json_is_true(json_object_get(j, "connected")));
	return j;
}

static json_t *edge(json_t *j, int waiter, int blocker)
{
	json_t *edges = json_object_get(json_object_get(j, "lock_graph"), "edges");
	size_t i;
	json_t *e;

	json_array_foreach(edges, i, e)
		if (json_integer_value(json_object_get(e, "waiter")) == waiter &&
		    json_integer_value(json_object_get(e, "blocker")) == blocker)
			return e;
	return NULL;
}

static void test_lock_chain(void **state)
{
	PGconn *setup = tp_connect("test-setup"), *a = tp_connect("chain-a"),
	       *b = tp_connect("chain-b"), *c = tp_connect("chain-c"),
	       *d = tp_connect("chain-d"), *e = tp_connect("chain-e");
	int pa = tp_pid(a), pb = tp_pid(b), pc = tp_pid(c), pd = tp_pid(d), pe = tp_pid(e);
	char cond[256];
	json_t *j, *lg, *node, *sess, *ed;

	(void)state;
	tp_exec(setup, "DROP TABLE IF EXISTS chain; CREATE TABLE chain (id int PRIMARY KEY, v int);"
		       "INSERT INTO chain VALUES (1, 0), (2, 0)");
	/* A holds the row and goes idle in transaction: the root blocker. */
	tp_exec(a, "BEGIN; UPDATE chain SET v = 1 WHERE id = 1");
	tp_send(b, "UPDATE chain SET v = 2 WHERE id = 1");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", pb);
	assert_true(tp_wait(setup, cond, 5000));
	tp_send(c, "UPDATE chain SET v = 3 WHERE id = 1");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", pc);
	assert_true(tp_wait(setup, cond, 5000));
	/* D wants the whole table: blocked by the holders (hard). */
	tp_send(d, "BEGIN; LOCK TABLE chain IN ACCESS EXCLUSIVE MODE");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", pd);
	assert_true(tp_wait(setup, cond, 5000));
	/* E only reads, but queues behind D's request: a soft block. */
	tp_send(e, "SELECT count(*) FROM chain");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", pe);
	assert_true(tp_wait(setup, cond, 5000));

	j = snapshot_json();
	lg = json_object_get(j, "lock_graph");
	/* A is the only root; it blocks everyone else. */
	assert_int_equal(json_array_size(json_object_get(lg, "roots")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(lg, "roots"), 0)), pa);
	node = tp_find(json_object_get(lg, "nodes"), "pid", pa);
	assert_non_null(node);
	assert_int_equal(json_integer_value(json_object_get(node, "blocked_total")), 4);
	assert_int_equal(json_integer_value(json_object_get(node, "depth")), 0);
	sess = tp_find(json_object_get(j, "sessions"), "pid", pa);
	assert_string_equal(json_string_value(json_object_get(sess, "state")), "idle in transaction");
	/* B waits on A's transaction, hard. */
	ed = edge(j, pb, pa);
	assert_non_null(ed);
	assert_string_equal(json_string_value(json_object_get(ed, "kind")), "hard");
	assert_string_equal(json_string_value(json_object_get(ed, "locktype")), "transactionid");
	assert_string_equal(json_string_value(json_object_get(ed, "mode")), "ShareLock");
	assert_true(json_is_number(json_object_get(ed, "wait_start")));
	/* C waits on B (the tuple lock B holds while it waits): depth 2. */
	ed = edge(j, pc, pb);
	assert_non_null(ed);
	assert_string_equal(json_string_value(json_object_get(ed, "kind")), "hard");
	assert_string_equal(json_string_value(json_object_get(ed, "locktype")), "tuple");
	node = tp_find(json_object_get(lg, "nodes"), "pid", pc);
	assert_int_equal(json_integer_value(json_object_get(node, "depth")), 2);
	/* D: hard on A (RowExclusiveLock held on the table), relation named. */
	ed = edge(j, pd, pa);
	assert_non_null(ed);
	assert_string_equal(json_string_value(json_object_get(ed, "kind")), "hard");
	assert_string_equal(json_string_value(json_object_get(ed, "relation")), "chain");
	assert_string_equal(json_string_value(json_object_get(ed, "mode")), "AccessExclusiveLock");
	/* E: soft on D (D holds nothing on chain, it is only queued ahead). */
	ed = edge(j, pe, pd);
	assert_non_null(ed);
	assert_string_equal(json_string_value(json_object_get(ed, "kind")), "soft");
	assert_int_equal(json_array_size(json_object_get(lg, "cycles")), 0);
	json_decref(j);

	tp_exec(a, "ROLLBACK");
	tp_finish(b, 5000, NULL);
	tp_finish(c, 5000, NULL);
	tp_finish(d, 5000, NULL);
	tp_exec(d, "ROLLBACK");
	tp_finish(e, 5000, NULL);
	PQfinish(a); PQfinish(b); PQfinish(c); PQfinish(d); PQfinish(e);
	PQfinish(setup);
}

static void test_live_cycle_and_logged_deadlock(void **state)
{
	PGconn *setup = tp_connect("test-setup"), *x = tp_connect("dl-x"), *y = tp_connect("dl-y");
	int px = tp_pid(x), py = tp_pid(y), found = 0;
	char cond[256], sqlstate[6], sx[6];
	json_t *j, *cycles, *cyc, *deadlocks, *dl;
	size_t i;

	(void)state;
	tp_exec(setup, "DROP TABLE IF EXISTS dl; CREATE TABLE dl (id int PRIMARY KEY, v int);"
		       "INSERT INTO dl VALUES (1, 0), (2, 0)");
	/* A long deadlock_timeout keeps the cycle alive for the snapshot. */
	tp_exec(x, "SET deadlock_timeout = '60s'; BEGIN; UPDATE dl SET v = 1 WHERE id = 1");
	tp_exec(y, "SET deadlock_timeout = '60s'; BEGIN; UPDATE dl SET v = 1 WHERE id = 2");
	tp_send(x, "UPDATE dl SET v = 2 WHERE id = 2");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", px);
	assert_true(tp_wait(setup, cond, 5000));
	tp_send(y, "UPDATE dl SET v = 2 WHERE id = 1");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", py);
	assert_true(tp_wait(setup, cond, 5000));

	j = snapshot_json();
	cycles = json_object_get(json_object_get(j, "lock_graph"), "cycles");
	assert_int_equal(json_array_size(cycles), 1);
	cyc = json_array_get(cycles, 0);
	assert_int_equal(json_array_size(cyc), 2);
	assert_true(json_integer_value(json_array_get(cyc, 0)) == px || json_integer_value(json_array_get(cyc, 1)) == px);
	assert_true(json_integer_value(json_array_get(cyc, 0)) == py || json_integer_value(json_array_get(cyc, 1)) == py);
	/* A plain cycle has no root outside it. */
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "lock_graph"), "roots")), 0);
	json_decref(j);

	/* Let PostgreSQL resolve it: the next check runs with the short timeout. */
	{
		char sql[128];

		snprintf(sql, sizeof(sql), "SELECT pg_cancel_backend(%d)", py);
		tp_exec(setup, sql);
	}
	tp_finish(y, 5000, sqlstate);
	assert_string_equal(sqlstate, "57014");
	tp_finish(x, 5000, NULL);
	tp_exec(x, "ROLLBACK");
	tp_exec(y, "ROLLBACK");

	/* A real deadlock with the cluster's 500 ms deadlock_timeout. */
	tp_exec(x, "RESET deadlock_timeout; BEGIN; UPDATE dl SET v = 3 WHERE id = 1");
	tp_exec(y, "RESET deadlock_timeout; BEGIN; UPDATE dl SET v = 3 WHERE id = 2");
	tp_send(x, "UPDATE dl SET v = 4 WHERE id = 2");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", px);
	assert_true(tp_wait(setup, cond, 5000));
	tp_send(y, "UPDATE dl SET v = 4 WHERE id = 1");
	tp_finish(y, 10000, sqlstate);
	tp_finish(x, 10000, sx);
	assert_true(strcmp(sqlstate, "40P01") == 0 || strcmp(sx, "40P01") == 0);
	PQclear(PQexec(x, "ROLLBACK"));
	PQclear(PQexec(y, "ROLLBACK"));
	usleep(300 * 1000); /* let the logging collector write the report */

	j = snapshot_json();
	deadlocks = json_object_get(j, "deadlocks");
	json_array_foreach(deadlocks, i, dl) {
		json_t *procs = json_object_get(dl, "processes");
		json_t *p1 = tp_find(procs, "pid", px), *p2 = tp_find(procs, "pid", py);

		if (!p1 || !p2)
			continue;
		found = 1;
		assert_int_equal(json_array_size(procs), 2);
		assert_string_equal(json_string_value(json_object_get(p1, "locktype")), "transactionid");
		assert_int_equal(json_integer_value(json_object_get(p1, "blocked_by")), py);
		assert_int_equal(json_integer_value(json_object_get(p2, "blocked_by")), px);
		assert_non_null(strstr(json_string_value(json_object_get(p1, "statement")), "UPDATE dl SET v = 4 WHERE id = 2"));
		assert_non_null(strstr(json_string_value(json_object_get(p2, "statement")), "UPDATE dl SET v = 4 WHERE id = 1"));
		assert_string_equal(json_string_value(json_object_get(dl, "database")), "postgres");
	}
	if (!found) {
		char *dump = json_dumps(deadlocks, JSON_INDENT(1));

		fail_msg("no deadlock report with pids %d and %d: %s", px, py, dump);
	}
	json_decref(j);
	PQfinish(x);
	PQfinish(y);
	PQfinish(setup);
}

static void test_agents_idle_and_bloat(void **state)
{
	PGconn *setup = tp_connect("test-setup"), *a1 = tp_connect("worker"),
	       *a2 = tp_connect("worker"), *idle = tp_connect("idler"), *app = tp_connect("agent-pool-7");
	char cond[256];
	json_t *j, *agents, *ag, *sess, *tables, *t;

	(void)state;
	tp_exec(setup, "DROP TABLE IF EXISTS bloat; CREATE TABLE bloat (id int, pad text) "
		       "WITH (autovacuum_enabled = off);"
		       "INSERT INTO bloat SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;"
		       "DELETE FROM bloat WHERE id % 2 = 0");
	tp_send(a1, "/* agent_id=bot-a, task_id=T1, step=2 */ SELECT pg_sleep(30)");
	tp_send(a2, "SELECT pg_sleep(30) /*agent_id='bot%20b',task_id='T%2F2'*/");
	tp_send(app, "SELECT pg_sleep(30)");
	tp_exec(idle, "BEGIN; SELECT 1");
	snprintf(cond, sizeof(cond), "(SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%pg_sleep(30)%%' AND state = 'active' AND pid <> pg_backend_pid()) = 3");
	assert_true(tp_wait(setup, cond, 5000));
	/* Table statistics reach pg_stat_user_tables within a second. */
	assert_true(tp_wait(setup, "(SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloat') >= 10000", 10000));

	j = snapshot_json();
	agents = json_object_get(j, "agents");
	ag = tp_find_str(agents, "agent_id", "bot-a");
	assert_non_null(ag);
	assert_int_equal(json_integer_value(json_object_get(ag, "active")), 1);
	assert_string_equal(json_string_value(json_object_get(ag, "task_id")), "T1");
	assert_string_equal(json_string_value(json_object_get(ag, "step")), "2");
	ag = tp_find_str(agents, "agent_id", "bot b");
	assert_non_null(ag);
	assert_string_equal(json_string_value(json_object_get(ag, "task_id")), "T/2");
	/* application_name pattern from the default configuration: agent-* */
	ag = tp_find_str(agents, "agent_id", "agent-pool-7");
	assert_non_null(ag);
	sess = tp_find(json_object_get(j, "sessions"), "pid", tp_pid(idle));
	assert_string_equal(json_string_value(json_object_get(sess, "state")), "idle in transaction");
	assert_true(json_is_number(json_object_get(sess, "xact_start")));
	tables = json_object_get(json_object_get(j, "disk"), "tables");
	t = tp_find_str(tables, "name", "bloat");
	assert_non_null(t);
	assert_true(json_real_value(json_object_get(t, "dead_ratio")) > 0.4);
	assert_true(json_integer_value(json_object_get(t, "dead_tuples")) >= 10000);
	/* sizes */
	assert_non_null(tp_find_str(json_object_get(json_object_get(j, "disk"), "databases"), "name", "postgres"));
	assert_true(json_integer_value(json_object_get(json_object_get(j, "disk"), "wal_bytes")) > 0);
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(j, "disk"), "filesystem"), "known")));
	json_decref(j);

	PQrequestCancel(a1);
	PQrequestCancel(a2);
	PQrequestCancel(app);
	tp_finish(a1, 5000, NULL);
	tp_finish(a2, 5000, NULL);
	tp_finish(app, 5000, NULL);
	PQfinish(a1); PQfinish(a2); PQfinish(idle); PQfinish(app);
	PQfinish(setup);
}

static void test_statements_deltas(void **state)
{
	PGconn *setup = tp_connect("test-setup");
	char args[1024];
	int rc;
	json_t *j, *st;
	size_t i;
	json_t *e;
	int found = 0;

	(void)state;
	tp_exec(setup, "DROP TABLE IF EXISTS sq; CREATE TABLE sq AS SELECT g AS id FROM generate_series(1, 50000) g");
	/* The window of --window 2: the loop below runs inside it. */
	snprintf(args, sizeof(args), "snapshot --json --window 2 -d '%s' > /tmp/cockpit-it-stmts.json", tp_monitor_dsn());
	{
		char cmd[1200];
		FILE *p;

		snprintf(cmd, sizeof(cmd), "%s %s", tp_env("COCKPIT_BIN"), args);
		p = popen(cmd, "r");
		usleep(500 * 1000);
		for (int k = 0; k < 20; k++)
			tp_exec(setup, "SELECT count(*) FROM sq WHERE id % 7 = 3");
		rc = pclose(p);
		assert_int_equal(rc, 0);
	}
	j = json_load_file("/tmp/cockpit-it-stmts.json", 0, NULL);
	assert_non_null(j);
	st = json_object_get(j, "statements");
	json_array_foreach(st, i, e) {
		const char *q = json_string_value(json_object_get(e, "query"));

		if (q && strstr(q, "FROM sq WHERE id %")) {
			found = 1;
			/* A delta over the window, not the since-reset total. */
			assert_true(json_integer_value(json_object_get(e, "calls")) == 20);
			assert_true(json_number_value(json_object_get(e, "mean_ms")) > 0);
			assert_true(json_number_value(json_object_get(e, "share")) > 0);
			assert_non_null(json_object_get(e, "p99_ms_estimate"));
		}
	}
	assert_true(found);
	assert_true(json_number_value(json_object_get(j, "statements_window_s")) > 1.5);
	json_decref(j);
	unlink("/tmp/cockpit-it-stmts.json");
	PQfinish(setup);
}

static void test_bad_conninfo(void **state)
{
	int rc;
	char *out;

	(void)state;
	out = tp_cockpit_output("snapshot --json -d 'host=/nonexistent port=1 connect_timeout=2'", &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "cockpit: cannot collect from"));
	assert_non_null(strstr(out, "/nonexistent"));
	free(out);
	out = tp_cockpit_output("snapshot -d 'bogus=1'", &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "invalid connection option \"bogus\""));
	free(out);
	out = tp_cockpit_output("snapshot -d 'host=/nonexistent' -t other", &rc);
	assert_int_equal(rc, 2);
	free(out);
	out = tp_cockpit_output("snapshot --window x", &rc);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "--window"));
	free(out);
}

/* Each test starts from a server with no client sessions left over from a
 * failed one (a failing cmocka test longjmps past its cleanup). */
static int clean_server(void **state)
{
	PGconn *c = tp_connect("test-setup");

	(void)state;
	tp_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		   "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
	tp_wait(c, "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') = 1", 5000);
	PQfinish(c);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_lock_chain, clean_server),
		cmocka_unit_test_setup(test_live_cycle_and_logged_deadlock, clean_server),
		cmocka_unit_test_setup(test_agents_idle_and_bloat, clean_server),
		cmocka_unit_test_setup(test_statements_deltas, clean_server),
		cmocka_unit_test(test_bad_conninfo),
	};

	return cmocka_run_group_tests_name("snapshot_live", tests, NULL, NULL);
}
