/*
 * Integration: think/plan.h and think/deadlock.h against a real PostgreSQL 15
 * with pg_stat_statements and HypoPG.
 *
 * plan_analyze on a 200k-row table: an unindexed filter column is proposed
 * with its HypoPG estimate; with an index already there nothing is proposed
 * and the note says it is covered; a two-column filter wins as a pair; an
 * UPDATE is explained without running; a database without HypoPG gets the
 * note and no proposal; the session is left as found (no transaction, no
 * prepared statement, no hypothetical index).
 *
 * deadlock_analyze on a snapshot collected by `cockpit snapshot --json`
 * after a real two-table deadlock: both tables, both orders, the
 * recommendation.
 */
#include "think/plan.h"
#include "think/deadlock.h"

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
#include "perceive/snapshot.h"

static int setup_table(void **state)
{
	PGconn *c = tp_connect("h3b-plan-setup");

	(void)state;
	tp_exec(c, "DROP TABLE IF EXISTS h3b_plan_t;"
		   "CREATE TABLE h3b_plan_t (id int PRIMARY KEY, a int, b int, note text);"
		   "INSERT INTO h3b_plan_t SELECT g, g % 1000, g % 7, 'n' || g FROM generate_series(1, 200000) g;"
		   "ANALYZE h3b_plan_t");
	PQfinish(c);
	return 0;
}

static int teardown_table(void **state)
{
	PGconn *c = tp_connect("h3b-plan-setup");

	(void)state;
	tp_exec(c, "DROP TABLE IF EXISTS h3b_plan_t");
	PQfinish(c);
	return 0;
}

static long long scalar(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("'%s' failed: %s", sql, PQresultErrorMessage(r));
	v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* plan_analyze must leave the session as it found it. */
static void assert_session_clean(PGconn *c)
{
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_int_equal(scalar(c, "SELECT count(*) FROM pg_prepared_statements"), 0);
	assert_int_equal(scalar(c, "SELECT count(*) FROM hypopg_list_indexes"), 0);
}

static json_t *analyze(PGconn *c, const char *query, int want_rc)
{
	json_t *ev = json_object();
	char err[512];
	int rc = plan_analyze(c, query, NULL, ev, err, sizeof(err));

	if (rc != want_rc) {
		char *d = json_dumps(ev, JSON_INDENT(1));

		fail_msg("plan_analyze(%s) = %d (%s): %s", query, rc, err, d);
	}
	return ev;
}

static void assert_columns(const json_t *index, const char *c0, const char *c1)
{
	json_t *cols = json_object_get(index, "columns");

	assert_int_equal(json_array_size(cols), c1 ? 2 : 1);
	assert_string_equal(json_string_value(json_array_get(cols, 0)), c0);
	if (c1)
		assert_string_equal(json_string_value(json_array_get(cols, 1)), c1);
}

static void test_single_column(void **state)
{
	PGconn *c = tp_connect("h3b-plan");
	json_t *ev, *ix, *seq;

	(void)state;
	ev = analyze(c, "SELECT id, note FROM h3b_plan_t WHERE a = $1", 0);
	ix = json_object_get(ev, "index");
	assert_non_null(ix);
	assert_string_equal(json_string_value(json_object_get(ix, "table")), "public.h3b_plan_t");
	assert_columns(ix, "a", NULL);
	assert_true(json_number_value(json_object_get(ix, "cost_before")) >= 100);
	assert_true(json_number_value(json_object_get(ix, "gain")) >= 0.5);
	assert_true(json_number_value(json_object_get(ix, "cost_after")) <
		    json_number_value(json_object_get(ix, "cost_before")));
	seq = json_array_get(json_object_get(json_object_get(ev, "plan"), "seq_scans"), 0);
	assert_string_equal(json_string_value(json_object_get(seq, "table")), "public.h3b_plan_t");
	assert_true(json_number_value(json_object_get(seq, "rows")) >= 150000);
	assert_non_null(strstr(json_string_value(json_object_get(seq, "filter")), "$1"));
	assert_non_null(json_object_get(json_object_get(ev, "plan"), "json"));
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(ev, "candidates"), 0), "uses_index")));
	assert_null(json_object_get(ev, "plan_note"));
	assert_session_clean(c);
	json_decref(ev);
	PQfinish(c);
}

static void test_covered(void **state)
{
	PGconn *c = tp_connect("h3b-plan");
	json_t *ev;
	const char *note;

	(void)state;
	tp_exec(c, "CREATE INDEX h3b_plan_t_a_idx ON h3b_plan_t (a)");
	ev = analyze(c, "SELECT id, note FROM h3b_plan_t WHERE a = $1", 0);
	assert_null(json_object_get(ev, "index"));
	note = json_string_value(json_object_get(ev, "plan_note"));
	assert_non_null(note);
	assert_non_null(strstr(note, "covered by index h3b_plan_t_a_idx"));
	assert_session_clean(c);
	json_decref(ev);
	tp_exec(c, "DROP INDEX h3b_plan_t_a_idx");
	PQfinish(c);
}

static void test_two_columns(void **state)
{
	PGconn *c = tp_connect("h3b-plan");
	json_t *ev, *ix, *cand;
	double single_a = -1;
	size_t i;

	(void)state;
	ev = analyze(c, "SELECT id FROM h3b_plan_t t WHERE t.b = $1 AND t.a = $2", 0);
	ix = json_object_get(ev, "index");
	assert_non_null(ix);
	assert_columns(ix, "a", "b");
	/* The pair had to halve the best single column's cost again. */
	json_array_foreach(json_object_get(ev, "candidates"), i, cand)
		if (json_array_size(json_object_get(cand, "columns")) == 1 &&
		    strcmp(json_string_value(json_array_get(json_object_get(cand, "columns"), 0)), "a") == 0)
			single_a = json_number_value(json_object_get(cand, "cost_after"));
	assert_true(single_a > 0);
	assert_true(json_number_value(json_object_get(ix, "cost_after")) <= 0.5 * single_a);
	assert_session_clean(c);
	json_decref(ev);
	PQfinish(c);
}

static void test_write_explained_not_run(void **state)
{
	PGconn *c = tp_connect("h3b-plan");
	json_t *ev;

	(void)state;
	ev = analyze(c, "UPDATE h3b_plan_t SET note = $1 WHERE a = $2", 0);
	assert_true(json_number_value(json_object_get(json_object_get(ev, "plan"), "total_cost")) >= 100);
	assert_columns(json_object_get(ev, "index"), "a", NULL);
	assert_int_equal(scalar(c, "SELECT count(*) FROM h3b_plan_t WHERE note IS NULL OR note NOT LIKE 'n%'"), 0);
	assert_session_clean(c);
	json_decref(ev);

	/* Not a statement plan_analyze explains: a note, no plan. */
	ev = analyze(c, "INSERT INTO h3b_plan_t VALUES ($1, $2, $3, $4)", 0);
	assert_null(json_object_get(ev, "plan"));
	assert_non_null(json_object_get(ev, "plan_note"));
	json_decref(ev);
	ev = analyze(c, "SELECT * FROM h3b_plan_t WHERE a = $1 AND", -1);
	assert_non_null(strstr(json_string_value(json_object_get(ev, "plan_note")), "does not parse"));
	json_decref(ev);
	/* A statement the server rejects: the error, and a clean session. */
	ev = analyze(c, "SELECT * FROM h3b_plan_no_such_table WHERE a = $1", -1);
	assert_non_null(json_object_get(ev, "plan_note"));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_int_equal(scalar(c, "SELECT count(*) FROM pg_prepared_statements"), 0);
	json_decref(ev);
	PQfinish(c);
}

static void test_without_hypopg(void **state)
{
	PGconn *admin = tp_connect("h3b-plan-setup"), *c;
	char dsn[1024];
	json_t *ev;
	const char *note;

	(void)state;
	PQclear(PQexec(admin, "DROP DATABASE IF EXISTS h3b_plan_nohypo"));
	tp_exec(admin, "CREATE DATABASE h3b_plan_nohypo");
	snprintf(dsn, sizeof(dsn), "%s dbname=h3b_plan_nohypo application_name=h3b-plan", tp_dsn());
	c = PQconnectdb(dsn);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	tp_exec(c, "CREATE TABLE t (id int, a int);"
		   "INSERT INTO t SELECT g, g % 1000 FROM generate_series(1, 50000) g; ANALYZE t");
	ev = analyze(c, "SELECT * FROM t WHERE a = $1", 0);
	assert_null(json_object_get(ev, "index"));
	note = json_string_value(json_object_get(ev, "plan_note"));
	assert_non_null(note);
	assert_non_null(strstr(note, "HypoPG is not installed"));
	/* The candidate is still named, without an estimate. */
	assert_columns(json_array_get(json_object_get(ev, "candidates"), 0), "a", NULL);
	json_decref(ev);
	PQfinish(c);
	tp_exec(admin, "DROP DATABASE h3b_plan_nohypo");
	PQfinish(admin);
}

/* ---- deadlock ------------------------------------------------------------ */

static void test_logged_deadlock(void **state)
{
	PGconn *setup = tp_connect("h3b-plan-setup"), *x = tp_connect("h3b-dl-x"), *y = tp_connect("h3b-dl-y");
	int px = tp_pid(x), py = tp_pid(y);
	char cond[256], sx[6] = "", sy[6] = "", args[1024], err[256];
	json_t *j, *ev, *rep, *pair = NULL, *p;
	struct snapshot *s;
	size_t i;
	int rc;
	const char *rec;

	(void)state;
	tp_exec(setup, "DROP TABLE IF EXISTS h3b_dl_a, h3b_dl_b;"
		       "CREATE TABLE h3b_dl_a (id int PRIMARY KEY, v int); INSERT INTO h3b_dl_a VALUES (1, 0);"
		       "CREATE TABLE h3b_dl_b (id int PRIMARY KEY, v int); INSERT INTO h3b_dl_b VALUES (1, 0)");
	/* x takes a then b, y takes b then a. */
	tp_exec(x, "BEGIN; UPDATE h3b_dl_a SET v = v + 1 WHERE id = 1");
	tp_exec(y, "BEGIN; UPDATE h3b_dl_b SET v = v + 1 WHERE id = 1");
	tp_send(x, "UPDATE h3b_dl_b SET v = v + 1 WHERE id = 1");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND wait_event_type = 'Lock')", px);
	assert_true(tp_wait(setup, cond, 5000));
	tp_send(y, "UPDATE h3b_dl_a SET v = v + 1 WHERE id = 1");
	tp_finish(y, 10000, sy);
	tp_finish(x, 10000, sx);
	assert_true(strcmp(sx, "40P01") == 0 || strcmp(sy, "40P01") == 0);
	PQclear(PQexec(x, "ROLLBACK"));
	PQclear(PQexec(y, "ROLLBACK"));
	usleep(300 * 1000); /* let the logging collector write the report */

	snprintf(args, sizeof(args), "snapshot --json --window 0.3 -d '%s'", tp_monitor_dsn());
	j = tp_cockpit_json(args, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	s = snapshot_from_json(j, err, sizeof(err));
	if (!s)
		fail_msg("snapshot_from_json: %s", err);
	ev = deadlock_analyze(s, 3600);
	assert_non_null(ev);
	rep = NULL;
	json_array_foreach(json_object_get(ev, "reports"), i, p) {
		json_t *procs = json_object_get(p, "procs");

		if (json_array_size(procs) == 2 &&
		    (json_integer_value(json_object_get(json_array_get(procs, 0), "pid")) == px ||
		     json_integer_value(json_object_get(json_array_get(procs, 0), "pid")) == py) &&
		    (json_integer_value(json_object_get(json_array_get(procs, 1), "pid")) == px ||
		     json_integer_value(json_object_get(json_array_get(procs, 1), "pid")) == py))
			rep = p;
	}
	if (!rep) {
		char *d = json_dumps(ev, JSON_INDENT(1));

		fail_msg("no analysed report with pids %d and %d: %s", px, py, d);
	}
	/* The order each transaction took the tables, from the report alone. */
	json_array_foreach(json_object_get(rep, "procs"), i, p) {
		const char *first = json_string_value(json_array_get(json_object_get(p, "order"), 0));
		const char *then = json_string_value(json_array_get(json_object_get(p, "order"), 1));
		int pid = (int)json_integer_value(json_object_get(p, "pid"));

		assert_non_null(first);
		assert_non_null(then);
		assert_string_equal(first, pid == px ? "h3b_dl_a(id=1)" : "h3b_dl_b(id=1)");
		assert_string_equal(then, pid == px ? "h3b_dl_b(id=1)" : "h3b_dl_a(id=1)");
	}
	json_array_foreach(json_object_get(ev, "pairs"), i, p)
		if (strcmp(json_string_value(json_object_get(p, "fingerprint")),
			   json_string_value(json_object_get(rep, "fingerprint"))) == 0)
			pair = p;
	assert_non_null(pair);
	assert_true(json_integer_value(json_object_get(pair, "count")) >= 1);
	assert_int_equal(json_array_size(json_object_get(pair, "orders")), 2);
	rec = json_string_value(json_object_get(pair, "recommendation"));
	assert_non_null(strstr(rec, "take locks on h3b_dl_a before h3b_dl_b in every transaction"));
	assert_non_null(json_object_get(ev, "role"));
	json_decref(ev);
	snapshot_unref(s);
	json_decref(j);
	tp_exec(setup, "DROP TABLE h3b_dl_a, h3b_dl_b");
	PQfinish(x);
	PQfinish(y);
	PQfinish(setup);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_column),
		cmocka_unit_test(test_covered),
		cmocka_unit_test(test_two_columns),
		cmocka_unit_test(test_write_explained_not_run),
		cmocka_unit_test(test_without_hypopg),
		cmocka_unit_test(test_logged_deadlock),
	};

	return cmocka_run_group_tests(tests, setup_table, teardown_table);
}
