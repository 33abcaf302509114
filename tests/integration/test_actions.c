/*
 * Integration: every registry action prepared against a real PostgreSQL 15,
 * as cockpit's pg_monitor role (COCKPIT_TEST_MONITOR_DSN), with the guard
 * taken from a snapshot the collector took of staged sessions (one idle in
 * transaction, one running pg_sleep). Asserts the rendered SQL, rollback,
 * diff lines and guard; made-up columns, tables, roles, settings, values
 * and an active slot are refused with the reason. Then the rendered SQL of
 * a few is run as the superuser to prove it does what the diff says:
 * terminate reaches exactly the guarded pid (and a guard with a wrong
 * backend_start reaches nobody), cancel cancels, CREATE INDEX
 * CONCURRENTLY and its rollback, ALTER ROLE SET and its rollback, REVOKE and
 * its GRANT, VACUUM, dropping a slot — each checked with the proposal's own
 * verify query.
 *
 * The round's memo (struct action_memo): the same alter_role_set prepared
 * three times in one round checks the role, the setting, the value and
 * the superuser flag once (pg_stat_statements of the monitor role) and
 * renders the same proposal; a refused value is asked again; a new round
 * checks again and sees what changed in between.
 *
 * Objects are prefixed h2act_ and dropped at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act/action.h"
#include "act/proposal.h"
#include "core/config.h"
#include "perceive/collector.h"
#include "perceive/snapshot.h"
#include "lib/testpg.h"

static PGconn *adm;        /* superuser: setup and running the rendered SQL */
static PGconn *mon;        /* cockpit's monitor role: the prepare connection */
static struct config cfg;
static struct action_memo *round_memo; /* what prep() and refused() check through; NULL: live */
static struct config_shell_action shell;
static char *shell_argv[4];
static char sh_gzip[] = "/usr/bin/gzip", sh_level[] = "-9", sh_file[] = "{file}",
	    sh_name[] = "compress_log", sh_summary[] = "compress an old server log file",
	    sh_pattern[] = "/[A-Za-z0-9_./-]+";

#define LONGCOL "a_very_long_column_name_that_goes_on_and_on_and_on_and_on_xx"

static void cleanup_objects(PGconn *c)
{
	PGresult *r = PQexec(c,
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
		"WHERE slot_name LIKE 'h2act%' AND NOT active");
	PQclear(r);
	r = PQexec(c, "DROP TABLE IF EXISTS h2act_users, h2act_users_name_idx, h2act_long CASCADE");
	PQclear(r);
	r = PQexec(c, "DROP ROLE IF EXISTS h2act_agent");
	PQclear(r);
}

static int setup(void **state)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { tp_monitor_dsn(), "cockpit-test-actions", NULL };

	(void)state;
	adm = tp_connect("h2act-setup");
	cleanup_objects(adm);
	tp_exec(adm, "CREATE TABLE h2act_users (id int PRIMARY KEY, email text, name text, "
		     "created timestamptz DEFAULT now()) WITH (autovacuum_enabled = off)");
	tp_exec(adm, "INSERT INTO h2act_users (id, email, name) SELECT g, 'u' || g || '@example.com', "
		     "'user ' || g FROM generate_series(1, 2000) g");
	tp_exec(adm, "DELETE FROM h2act_users WHERE id > 1500");
	tp_exec(adm, "CREATE TABLE h2act_long (id int, " LONGCOL " int)");
	tp_exec(adm, "CREATE ROLE h2act_agent");
	tp_exec(adm, "GRANT SELECT, DELETE ON h2act_users TO h2act_agent");
	tp_exec(adm, "ALTER ROLE h2act_agent SET work_mem = '8MB'");
	mon = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(mon) != CONNECTION_OK)
		fail_msg("connect as the monitor role: %s", PQerrorMessage(mon));

	config_init_defaults(&cfg);
	shell_argv[0] = sh_gzip;
	shell_argv[1] = sh_level;
	shell_argv[2] = sh_file;
	shell_argv[3] = NULL;
	shell.name = sh_name;
	shell.summary = sh_summary;
	shell.argv = shell_argv;
	shell.nargv = 3;
	shell.arg_pattern = sh_pattern;
	shell.timeout_s = 30;
	cfg.shell_actions = &shell;
	cfg.nshell_actions = 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cfg.shell_actions = NULL;
	cfg.nshell_actions = 0;
	config_release(&cfg);
	cleanup_objects(adm);
	PQfinish(mon);
	PQfinish(adm);
	return 0;
}

/* prepare name with params (JSON text); returns the proposal or fails. */
static struct proposal *prep(const struct snapshot *snap, const char *name, const char *params)
{
	struct action_ctx ctx = { .conn = mon, .snap = snap, .cfg = &cfg, .memo = round_memo };
	struct proposal *p = proposal_new();
	json_t *j = params ? json_loads(params, 0, NULL) : NULL;
	char err[1024];

	if (params && !j)
		fail_msg("bad test params %s", params);
	if (action_prepare(&ctx, name, j, p, err, sizeof(err)) != 0)
		fail_msg("%s %s: %s", name, params ? params : "", err);
	json_decref(j);
	/* what prepare renders passes its own edit check */
	if (p->action->stmt_kind && action_check_sql(p, p->sql, err, sizeof(err)) != 0)
		fail_msg("%s: its own SQL fails the edit check: %s\n%s", name, err, p->sql);
	return p;
}

/* prepare must refuse with a reason containing want. */
static void refused(const struct snapshot *snap, const char *name, const char *params,
		    const char *want)
{
	struct action_ctx ctx = { .conn = mon, .snap = snap, .cfg = &cfg, .memo = round_memo };
	struct proposal *p = proposal_new();
	json_t *j = params ? json_loads(params, 0, NULL) : NULL;
	char err[1024] = "";

	if (action_prepare(&ctx, name, j, p, err, sizeof(err)) == 0)
		fail_msg("%s %s prepared (%s), want refusal \"%s\"", name, params, p->sql, want);
	if (!strstr(err, want))
		fail_msg("%s %s: reason \"%s\" lacks \"%s\"", name, params, err, want);
	json_decref(j);
	proposal_free(p);
}

static void has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *s = text; s && *s;) {
		if (strncmp(s, line, n) == 0 && (s[n] == '\n' || s[n] == '\0'))
			return;
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	fail_msg("no line \"%s\" in\n%s", line, text ? text : "(null)");
}

static void has_prefix_line(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *s = text; s && *s;) {
		if (strncmp(s, prefix, n) == 0)
			return;
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	fail_msg("no line starting \"%s\" in\n%s", prefix, text ? text : "(null)");
}

/* Run sql as the superuser: number of rows, or -1 on error (sqlstate set). */
static int run_sql(const char *sql, char *sqlstate)
{
	PGresult *r = PQexec(adm, sql);
	int n = -1;

	if (sqlstate)
		sqlstate[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		n = PQntuples(r);
	else if (PQresultStatus(r) == PGRES_COMMAND_OK)
		n = 0;
	else if (sqlstate && PQresultErrorField(r, PG_DIAG_SQLSTATE))
		snprintf(sqlstate, 6, "%s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
	PQclear(r);
	return n;
}

/* The proposal's verify query, measured as the executor would. */
static double measure(const struct proposal *p)
{
	const char *v[8];
	size_t n = json_array_size(p->verify.args);
	PGresult *r;
	double x;

	assert_non_null(p->verify.sql);
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(p->verify.args, i));
	r = PQexecParams(adm, p->verify.sql, (int)n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("verify %s: %s", p->verify.sql, PQerrorMessage(adm));
	x = strtod(PQgetvalue(r, 0, 0), NULL);
	PQclear(r);
	return x;
}

static struct snapshot *take_snapshot(void)
{
	char err[512];
	struct collector *c = collector_new(&cfg, NULL, tp_monitor_dsn(), err, sizeof(err));
	struct snapshot *s;

	if (!c)
		fail_msg("collector: %s", err);
	s = collector_collect(c, true);
	if (!s->connected)
		fail_msg("snapshot: %s", s->error);
	collector_free(c);
	return s;
}

static double guard_num(const json_t *g, const char *key)
{
	return json_real_value(json_object_get(g, key));
}

/* ------------------------------------------------------------- sessions */

static void test_signals(void **state)
{
	PGconn *idle = tp_connect("h2act-idle"), *busy = tp_connect("h2act-busy");
	int pidle = tp_pid(idle), pbusy = tp_pid(busy);
	char cond[256], want[256], sqlstate[6], params[128];
	struct snapshot *snap;
	struct proposal *p;

	(void)state;
	tp_exec(idle, "BEGIN; UPDATE h2act_users SET name = 'x' WHERE id = 1");
	tp_send(busy, "SELECT pg_sleep(60)");
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND "
		 "state = 'active' AND query LIKE 'SELECT pg_sleep%%')", pbusy);
	assert_true(tp_wait(adm, cond, 5000));
	snap = take_snapshot();
	assert_true(snapshot_find_session(snap, pidle) != SIZE_MAX);

	/* terminate the idle-in-transaction session */
	snprintf(params, sizeof(params), "{\"pids\": [%d]}", pidle);
	p = prep(snap, "terminate_backend", params);
	snprintf(want, sizeof(want), "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
		 "WHERE (pid = %d AND abs(extract(epoch FROM backend_start) - ", pidle);
	assert_memory_equal(p->sql, want, strlen(want));
	assert_non_null(strstr(p->sql, "AND abs(extract(epoch FROM xact_start) - "));
	assert_null(p->rollback_sql);
	snprintf(want, sizeof(want), "pid %d", pidle);
	assert_string_equal(p->target, want);
	assert_string_equal(p->target_kind, "session");
	assert_int_equal(p->sessions, 1);
	assert_int_equal(p->risk, RISK_MEDIUM);
	snprintf(want, sizeof(want), "- pid %d postgres app=h2act-idle idle in transaction ", pidle);
	has_prefix_line(p->diff, want);
	assert_non_null(strstr(p->diff, "UPDATE h2act_users SET name = 'x' WHERE id = 1"));
	json_t *g = json_array_get(p->guard, 0);
	assert_int_equal(json_integer_value(json_object_get(g, "pid")), pidle);
	const struct snap_session *ss = &snap->sessions[snapshot_find_session(snap, pidle)];
	assert_true(fabs(guard_num(g, "backend_start") - ss->backend_start) < 1e-9);
	assert_true(fabs(guard_num(g, "xact_start") - ss->xact_start) < 1e-9);
	assert_string_equal(json_string_value(json_object_get(g, "state")), "idle in transaction");
	assert_string_equal(json_string_value(json_object_get(g, "user")), "postgres");
	assert_string_equal(json_string_value(json_object_get(g, "application")), "h2act-idle");
	assert_string_equal(p->verify.expect, "== 0");
	assert_true(measure(p) == 1);

	/* cancel is for running statements only */
	refused(snap, "cancel_backend", params,
		"cancel_backend only cancels a running statement; terminate_backend is the action "
		"for idle in transaction");

	/* both sessions at once: one statement, both pids */
	snprintf(params, sizeof(params), "{\"pids\": [%d, %d, %d]}", pidle, pbusy, pidle);
	struct proposal *both = prep(snap, "terminate_backend", params);
	snprintf(want, sizeof(want), "pids %d, %d", pidle, pbusy);
	assert_string_equal(both->target, want);
	assert_int_equal(both->sessions, 2);
	assert_int_equal(json_array_size(both->guard), 2);
	snprintf(want, sizeof(want), "- pid %d postgres app=h2act-busy active ", pbusy);
	has_prefix_line(both->diff, want);
	proposal_free(both);

	/* refusals: cockpit's own session, a background process, a dead pid */
	snprintf(params, sizeof(params), "{\"pids\": [%d]}", PQbackendPID(mon));
	refused(snap, "terminate_backend", params, "is cockpit's own session");
	PGresult *r = PQexec(adm, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'");
	assert_int_equal(PQntuples(r), 1);
	snprintf(params, sizeof(params), "{\"pids\": [%s]}", PQgetvalue(r, 0, 0));
	PQclear(r);
	refused(snap, "terminate_backend", params, "is a checkpointer, not a client backend");
	refused(snap, "terminate_backend", "{\"pids\": [2147483000]}", "pid 2147483000 is not a live backend");
	refused(snap, "terminate_backend", "{\"pids\": []}", "params.pids: empty");
	refused(snap, "terminate_backend", "{\"pids\": [\"abc\"]}", "params.pids[0]: not a backend pid");
	refused(snap, "terminate_backend", "{\"pid\": 1}", "params.pid: not a parameter of terminate_backend — use pids");

	/* a guard with a wrong backend_start reaches nobody */
	char real[32], wrong[32], *bad = strdup(p->sql), *at;
	snprintf(real, sizeof(real), "%.6f", guard_num(g, "backend_start"));
	snprintf(wrong, sizeof(wrong), "%.6f", guard_num(g, "backend_start") - 1.0);
	assert_int_equal(strlen(real), strlen(wrong));
	at = strstr(bad, real);
	assert_non_null(at);
	memcpy(at, wrong, strlen(wrong));
	assert_int_equal(run_sql(bad, NULL), 0);
	free(bad);
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d)", pidle);
	assert_true(tp_wait(adm, cond, 100));

	/* the right guard reaches exactly that pid */
	r = PQexec(adm, p->sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	assert_int_equal(atoi(PQgetvalue(r, 0, 0)), pidle);
	assert_string_equal(PQgetvalue(r, 0, 1), "t");
	PQclear(r);
	snprintf(cond, sizeof(cond), "NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d)", pidle);
	assert_true(tp_wait(adm, cond, 5000));
	assert_true(measure(p) == 0);
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d)", pbusy);
	assert_true(tp_wait(adm, cond, 100));
	proposal_free(p);

	/* cancel the running pg_sleep: the statement ends, the session stays */
	snprintf(params, sizeof(params), "{\"pids\": [%d]}", pbusy);
	p = prep(snap, "cancel_backend", params);
	assert_int_equal(p->risk, RISK_LOW);
	snprintf(want, sizeof(want), "+ pid %d postgres app=h2act-busy: statement cancelled, the "
		 "session stays", pbusy);
	has_line(p->diff, want);
	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->sql, NULL), 1);
	assert_int_equal(tp_finish(busy, 5000, sqlstate), PGRES_FATAL_ERROR);
	assert_string_equal(sqlstate, "57014");
	assert_true(measure(p) == 0);
	tp_exec(busy, "SELECT 1");
	proposal_free(p);

	/* a snapshot whose session has another backend_start than the live
	 * pid (the pid was reused since) is refused */
	struct snapshot *stale = snapshot_new();
	struct snap_session fake = snap->sessions[snapshot_find_session(snap, pbusy)];
	fake.backend_start -= 10;
	stale->sessions = &fake;
	stale->nsessions = 1;
	snprintf(params, sizeof(params), "{\"pids\": [%d]}", pbusy);
	refused(stale, "terminate_backend", params,
		"belongs to a different session than in the snapshot (it started again since)");
	stale->sessions = NULL;
	stale->nsessions = 0;
	snapshot_unref(stale);

	snapshot_unref(snap);
	PQfinish(idle);
	PQfinish(busy);
}

/* --------------------------------------------------------------- indexes */

static void test_create_and_drop_index(void **state)
{
	struct proposal *p, *rb, *d;
	char err[512];

	(void)state;
	p = prep(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"email\"]}");
	assert_string_equal(p->sql, "CREATE INDEX CONCURRENTLY \"h2act_users_email_idx\" ON "
				    "\"public\".\"h2act_users\" USING \"btree\" (\"email\")");
	assert_string_equal(p->rollback_sql, "DROP INDEX CONCURRENTLY IF EXISTS "
					     "\"public\".\"h2act_users_email_idx\"");
	has_prefix_line(p->diff, "  indexes on public.h2act_users (");
	has_line(p->diff, "  CREATE UNIQUE INDEX h2act_users_pkey ON public.h2act_users USING btree (id)");
	has_line(p->diff, "+ CREATE INDEX h2act_users_email_idx ON public.h2act_users USING btree (email)");
	assert_string_equal(p->target, "public.h2act_users");
	assert_string_equal(p->target_kind, "table");
	assert_false(p->in_transaction);
	assert_true(p->table_bytes > 0);
	assert_true(p->statement_timeout_ms > 60000);
	assert_string_equal(json_string_value(json_object_get(p->params, "name")), "h2act_users_email_idx");
	assert_true(measure(p) == 0);

	/* an edit that changes the columns but keeps the table is accepted */
	assert_int_equal(action_check_sql(p, "CREATE INDEX CONCURRENTLY h2act_users_email_name_idx "
					     "ON public.h2act_users (email, name)", err, sizeof(err)), 0);
	assert_int_equal(action_check_sql(p, "DROP TABLE h2act_users", err, sizeof(err)), -1);
	assert_string_equal(err, "the edit is a DropStmt; create_index runs an IndexStmt only");

	/* refusals */
	refused(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"emial\"]}",
		"params.columns: column \"emial\" does not exist in public.h2act_users — pick one "
		"of: id, email, name, created");
	refused(NULL, "create_index", "{\"table\": \"h2act_nope\", \"columns\": [\"id\"]}",
		"params.table: relation \"h2act_nope\" does not exist");
	refused(NULL, "create_index", "{\"table\": \"h2act_users_pkey\", \"columns\": [\"id\"]}",
		"public.h2act_users_pkey is an index, not a table");
	refused(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"id\"]}",
		"index public.h2act_users_pkey already covers these leading columns");
	refused(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"email\", \"email\"]}",
		"listed twice");
	refused(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"email\"], \"method\": \"rtree\"}",
		"params.method: \"rtree\" is not an index method");
	refused(NULL, "create_index", "{\"table\": \"h2act_users\", \"colums\": [\"email\"]}",
		"params.colums: not a parameter of create_index — use table, columns, name, method");
	refused(NULL, "create_index", "{\"table\": \"a.b.c.d\", \"columns\": [\"email\"]}",
		"params.table: \"a.b.c.d\" is not a valid relation name (improper relation name");

	/* run it, verify, and it now covers the column */
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_true(measure(p) == 1);
	refused(NULL, "create_index", "{\"table\": \"public.h2act_users\", \"columns\": [\"email\"]}",
		"index public.h2act_users_email_idx already covers these leading columns");

	/* drop_index: the definition stays in the diff */
	d = prep(NULL, "drop_index", "{\"index\": \"public.h2act_users_email_idx\"}");
	assert_string_equal(d->sql, "DROP INDEX CONCURRENTLY \"public\".\"h2act_users_email_idx\"");
	assert_null(d->rollback_sql);
	assert_int_equal(d->risk, RISK_HIGH);
	has_line(d->diff, "- CREATE INDEX h2act_users_email_idx ON public.h2act_users USING btree (email)");
	has_line(d->diff, "  CREATE UNIQUE INDEX h2act_users_pkey ON public.h2act_users USING btree (id)");
	has_line(d->diff, "  to re-create it: CREATE INDEX h2act_users_email_idx ON public.h2act_users "
			  "USING btree (email)");
	assert_string_equal(d->target, "public.h2act_users_email_idx");
	assert_string_equal(d->target_kind, "index");
	refused(NULL, "drop_index", "{\"index\": \"h2act_users_pkey\"}",
		"backs constraint h2act_users_pkey");
	refused(NULL, "drop_index", "{\"index\": \"h2act_users\"}", "is a table, not an index");
	proposal_free(d);

	/* the rollback removes it */
	assert_int_equal(run_sql(p->rollback_sql, NULL), 0);
	assert_true(measure(p) == 0);
	proposal_free(p);

	/* a taken default name gets a number; a long one is cut to 63 bytes */
	tp_exec(adm, "CREATE TABLE h2act_users_name_idx (x int)");
	p = prep(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"name\"]}");
	assert_string_equal(json_string_value(json_object_get(p->params, "name")), "h2act_users_name_idx1");
	has_line(p->diff, "+ CREATE INDEX h2act_users_name_idx1 ON public.h2act_users USING btree (name)");
	proposal_free(p);
	p = prep(NULL, "create_index", "{\"table\": \"h2act_long\", \"columns\": [\"" LONGCOL "\", \"id\"]}");
	rb = p;
	const char *name = json_string_value(json_object_get(rb->params, "name"));
	assert_true(strlen(name) <= 63);
	assert_memory_equal(name, "h2act_long_a_very_long", 22);
	assert_string_equal(name + strlen(name) - 4, "_idx");
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->rollback_sql, NULL), 0);
	proposal_free(p);
	refused(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"name\"], \"name\": \"h2act_users_name_idx\"}",
		"a relation named public.h2act_users_name_idx exists already");

	/* the INVALID index a failed CREATE INDEX CONCURRENTLY leaves: it does
	 * not cover anything and drop_index removes it */
	char sqlstate[6];
	tp_exec(adm, "INSERT INTO h2act_users (id, email, name) VALUES (3000, 'dup@example.com', 'user 1')");
	assert_int_equal(run_sql("CREATE UNIQUE INDEX CONCURRENTLY h2act_users_name_uq ON h2act_users (name)",
				 sqlstate), -1);
	assert_string_equal(sqlstate, "23505");
	d = prep(NULL, "drop_index", "{\"index\": \"h2act_users_name_uq\"}");
	has_line(d->diff, "- CREATE UNIQUE INDEX h2act_users_name_uq ON public.h2act_users USING btree (name) -- INVALID");
	p = prep(NULL, "create_index", "{\"table\": \"h2act_users\", \"columns\": [\"name\"], \"name\": \"h2act_users_name_btree\"}");
	has_line(p->diff, "  CREATE UNIQUE INDEX h2act_users_name_uq ON public.h2act_users USING btree (name) -- INVALID");
	proposal_free(p);
	assert_true(measure(d) == 1);
	assert_int_equal(run_sql(d->sql, NULL), 0);
	assert_true(measure(d) == 0);
	proposal_free(d);
}

/* --------------------------------------------------------------- vacuum */

static void test_vacuum_analyze(void **state)
{
	struct proposal *p;
	double before;

	(void)state;
	assert_true(tp_wait(adm, "(SELECT n_dead_tup FROM pg_stat_all_tables WHERE relname = 'h2act_users') >= 500", 5000));
	p = prep(NULL, "vacuum", "{\"table\": \"h2act_users\"}");
	assert_string_equal(p->sql, "VACUUM (ANALYZE) \"public\".\"h2act_users\"");
	assert_null(p->rollback_sql);
	assert_false(p->in_transaction);
	assert_int_equal(p->risk, RISK_MEDIUM);
	has_prefix_line(p->diff, "- public.h2act_users: ");
	assert_non_null(strstr(p->diff, " dead tuples ("));
	has_prefix_line(p->diff, "+ public.h2act_users: 0 dead tuples, their space reusable");
	has_line(p->diff, "+ public.h2act_users: planner statistics refreshed");
	assert_string_equal(p->verify.expect, "< baseline");
	struct proposal *full = prep(NULL, "vacuum", "{\"table\": \"public.h2act_users\", \"full\": true, \"analyze\": false}");
	assert_string_equal(full->sql, "VACUUM (FULL) \"public\".\"h2act_users\"");
	assert_int_equal(full->risk, RISK_HIGH);
	has_prefix_line(full->diff, "  ACCESS EXCLUSIVE lock on public.h2act_users for the whole rewrite (");
	has_prefix_line(full->diff, "+ public.h2act_users: 0 dead tuples, rewritten to about ");
	proposal_free(full);
	refused(NULL, "vacuum", "{\"table\": \"h2act_users\", \"full\": \"maybe\"}", "params.full: must be true or false");

	before = measure(p);
	assert_true(before >= 500);
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_true(tp_wait(adm, "(SELECT n_dead_tup FROM pg_stat_all_tables WHERE relname = 'h2act_users') < 500", 5000));
	assert_true(measure(p) < before);
	proposal_free(p);

	p = prep(NULL, "analyze", "{\"table\": \"h2act_users\"}");
	assert_string_equal(p->sql, "ANALYZE \"public\".\"h2act_users\"");
	assert_true(p->in_transaction);
	has_line(p->diff, "+ public.h2act_users: statistics from now");
	before = measure(p);
	usleep(20 * 1000);
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_true(tp_wait(adm, "(SELECT last_analyze IS NOT NULL FROM pg_stat_all_tables WHERE relname = 'h2act_users')", 5000));
	assert_true(measure(p) > before);
	proposal_free(p);
}

/* ----------------------------------------------------------------- roles */

static char *role_config(void)
{
	PGresult *r = PQexec(adm, "SELECT coalesce((SELECT array_to_string(setconfig, ',') "
				  "FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
				  "WHERE r.rolname = 'h2act_agent' AND s.setdatabase = 0), '')");
	char *s = strdup(PQgetvalue(r, 0, 0));

	PQclear(r);
	return s;
}

static void test_roles(void **state)
{
	struct proposal *p;
	char *cfgs;

	(void)state;
	p = prep(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"statement_timeout\", \"value\": \"5s\"}");
	assert_string_equal(p->sql, "ALTER ROLE \"h2act_agent\" SET \"statement_timeout\" = '5s'");
	assert_string_equal(p->rollback_sql, "ALTER ROLE \"h2act_agent\" RESET \"statement_timeout\"");
	assert_string_equal(p->target, "role h2act_agent");
	assert_string_equal(p->target_kind, "role");
	has_line(p->diff, "+ statement_timeout=5s");
	has_line(p->diff, "  work_mem=8MB");
	assert_true(measure(p) == 0);
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->rollback_sql, NULL), 0);
	cfgs = role_config();
	assert_string_equal(cfgs, "work_mem=8MB");
	free(cfgs);
	proposal_free(p);

	/* changing an existing value: the rollback restores it */
	p = prep(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"WORK_MEM\", \"value\": \"16MB\"}");
	assert_string_equal(p->sql, "ALTER ROLE \"h2act_agent\" SET \"work_mem\" = '16MB'");
	assert_string_equal(p->rollback_sql, "ALTER ROLE \"h2act_agent\" SET \"work_mem\" = '8MB'");
	has_line(p->diff, "- work_mem=8MB");
	has_line(p->diff, "+ work_mem=16MB");
	assert_int_equal(run_sql(p->sql, NULL), 0);
	cfgs = role_config();
	assert_string_equal(cfgs, "work_mem=16MB");
	free(cfgs);
	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->rollback_sql, NULL), 0);
	cfgs = role_config();
	assert_string_equal(cfgs, "work_mem=8MB");
	free(cfgs);
	proposal_free(p);

	/* reset, and its rollback */
	p = prep(NULL, "alter_role_reset", "{\"role\": \"h2act_agent\", \"setting\": \"work_mem\"}");
	assert_string_equal(p->sql, "ALTER ROLE \"h2act_agent\" RESET \"work_mem\"");
	assert_string_equal(p->rollback_sql, "ALTER ROLE \"h2act_agent\" SET \"work_mem\" = '8MB'");
	has_line(p->diff, "- work_mem=8MB");
	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_true(measure(p) == 0);
	assert_int_equal(run_sql(p->rollback_sql, NULL), 0);
	assert_true(measure(p) == 1);
	proposal_free(p);

	refused(NULL, "alter_role_reset", "{\"role\": \"h2act_agent\", \"setting\": \"statement_timeout\"}",
		"has no setting for statement_timeout in all databases — nothing to reset");
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"work_mem\", \"value\": \"8MB\"}",
		"already has work_mem=8MB");
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_nobody\", \"setting\": \"work_mem\", \"value\": \"8MB\"}",
		"params.role: role \"h2act_nobody\" does not exist");
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"statment_timeout\", \"value\": \"5s\"}",
		"params.setting: \"statment_timeout\" is not a server setting");
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"max_wal_size\", \"value\": \"1GB\"}",
		"max_wal_size has context sighup and cannot be set per role");
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"statement_timeout\", \"value\": \"5 parsecs\"}",
		"params.value: the server rejects \"5 parsecs\" for statement_timeout");
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"statement_timeout\"}",
		"params.value: missing");
	/* a superuser setting the monitor role may not try: its type is checked */
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"log_min_duration_statement\", \"value\": \"soon\"}",
		"params.value: log_min_duration_statement takes a number");
	p = prep(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"log_min_duration_statement\", \"value\": \"250ms\"}");
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->rollback_sql, NULL), 0);
	proposal_free(p);
	/* the check left the prepare connection outside any transaction */
	assert_int_equal(PQtransactionStatus(mon), PQTRANS_IDLE);
}

/* ------------------------------------------------------------ round memo */

/* The monitor role's pg_stat_statements calls of statements starting with
 * prefix since statements_reset(). */
static void statements_reset(void)
{
	tp_statements_reset(adm, PQuser(mon));
}

static long long calls_of(const char *prefix)
{
	return tp_statement_calls(adm, PQuser(mon), prefix);
}

#define CHECK_ROLE     "/* cockpit action: params.role */ SELECT oid FROM pg_roles"
#define CHECK_CFG      "/* cockpit action: params.role */ SELECT cfg FROM pg_db_role_setting"
#define CHECK_SETTING  "/* cockpit action: params.setting */ SELECT"
#define CHECK_SUPER    "/* cockpit action */ SELECT rolsuper"
#define CHECK_BEGIN    "/* cockpit action: value check */ BEGIN"
#define CHECK_SET      "/* cockpit action: value check */ SELECT set_config"

static void test_memo_round(void **state)
{
	static const char params[] =
		"{\"role\": \"h2act_agent\", \"setting\": \"statement_timeout\", \"value\": \"7s\"}";
	static const char *const checks[] = { CHECK_ROLE, CHECK_CFG, CHECK_SETTING, CHECK_SUPER,
					      CHECK_BEGIN, CHECK_SET };
	struct proposal *live, *p[3];

	(void)state;
	live = prep(NULL, "alter_role_set", params);
	statements_reset();

	/* One round, three times the same proposal: each check once. */
	round_memo = action_memo_new();
	for (size_t i = 0; i < 3; i++)
		p[i] = prep(NULL, "alter_role_set", params);
	for (size_t k = 0; k < sizeof(checks) / sizeof(checks[0]); k++) {
		if (calls_of(checks[k]) != 1)
			fail_msg("%s ran %lld times in one round, want once", checks[k], calls_of(checks[k]));
	}
	assert_true(action_memo_hits(round_memo) > 0);
	/* and what the memo answered renders what the live checks rendered */
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(p[i]->sql, live->sql);
		assert_string_equal(p[i]->rollback_sql, live->rollback_sql);
		assert_string_equal(p[i]->diff, live->diff);
		assert_string_equal(p[i]->target, live->target);
		assert_int_equal(p[i]->risk, live->risk);
		proposal_free(p[i]);
	}
	proposal_free(live);

	/* A value the server refuses is not remembered: asked each time. */
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"statement_timeout\", \"value\": \"5 parsecs\"}",
		"params.value: the server rejects");
	refused(NULL, "alter_role_set", "{\"role\": \"h2act_agent\", \"setting\": \"statement_timeout\", \"value\": \"5 parsecs\"}",
		"params.value: the server rejects");
	assert_int_equal(calls_of(CHECK_BEGIN), 3);
	assert_int_equal(calls_of(CHECK_SETTING), 1);
	assert_int_equal(PQtransactionStatus(mon), PQTRANS_IDLE);
	action_memo_free(round_memo);

	/* The next round checks again, and sees what changed in between. */
	tp_exec(adm, "ALTER ROLE h2act_agent SET statement_timeout = '7s'");
	round_memo = action_memo_new();
	refused(NULL, "alter_role_set", params, "role h2act_agent already has statement_timeout=7s");
	assert_int_equal(calls_of(CHECK_ROLE), 2);
	assert_int_equal(calls_of(CHECK_CFG), 2);
	assert_int_equal(calls_of(CHECK_SETTING), 2);
	assert_int_equal(calls_of(CHECK_SET), 2);
	action_memo_free(round_memo);
	round_memo = NULL;
	tp_exec(adm, "ALTER ROLE h2act_agent RESET statement_timeout");
}

/* ---------------------------------------------------------------- revoke */

static bool has_priv(const char *priv)
{
	char sql[256];
	PGresult *r;
	bool b;

	snprintf(sql, sizeof(sql), "SELECT has_table_privilege('h2act_agent', 'public.h2act_users', '%s')", priv);
	r = PQexec(adm, sql);
	b = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return b;
}

static void test_revoke(void **state)
{
	struct proposal *p;

	(void)state;
	p = prep(NULL, "revoke", "{\"role\": \"h2act_agent\", \"privilege\": \"delete\", \"table\": \"h2act_users\"}");
	assert_string_equal(p->sql, "REVOKE DELETE ON TABLE \"public\".\"h2act_users\" FROM \"h2act_agent\"");
	assert_string_equal(p->rollback_sql, "GRANT DELETE ON TABLE \"public\".\"h2act_users\" TO \"h2act_agent\"");
	has_line(p->diff, "- h2act_agent: DELETE on public.h2act_users");
	has_line(p->diff, "  h2act_agent: SELECT on public.h2act_users");
	assert_int_equal(p->risk, RISK_HIGH);
	assert_string_equal(p->target, "role h2act_agent: DELETE on public.h2act_users");
	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->sql, NULL), 0);
	assert_false(has_priv("DELETE"));
	assert_true(has_priv("SELECT"));
	assert_true(measure(p) == 0);
	assert_int_equal(run_sql(p->rollback_sql, NULL), 0);
	assert_true(has_priv("DELETE"));
	proposal_free(p);

	p = prep(NULL, "revoke", "{\"role\": \"h2act_agent\", \"privilege\": \"SELECT\", \"schema\": \"public\"}");
	assert_string_equal(p->sql, "REVOKE SELECT ON ALL TABLES IN SCHEMA \"public\" FROM \"h2act_agent\"");
	assert_string_equal(p->rollback_sql, "GRANT SELECT ON TABLE \"public\".\"h2act_users\" TO \"h2act_agent\"");
	proposal_free(p);

	refused(NULL, "revoke", "{\"role\": \"h2act_agent\", \"privilege\": \"UPDATE\", \"table\": \"h2act_users\"}",
		"role h2act_agent holds no direct UPDATE grant on public.h2act_users — nothing to revoke");
	refused(NULL, "revoke", "{\"role\": \"h2act_agent\", \"privilege\": \"DROP\", \"table\": \"h2act_users\"}",
		"params.privilege: \"DROP\" is not a table privilege");
	refused(NULL, "revoke", "{\"role\": \"h2act_agent\", \"privilege\": \"SELECT\"}",
		"give exactly one of table");
	refused(NULL, "revoke", "{\"role\": \"h2act_agent\", \"privilege\": \"ALL\", \"schema\": \"public\"}",
		"ALL needs a table");
	refused(NULL, "revoke", "{\"role\": \"h2act_agent\", \"privilege\": \"SELECT\", \"schema\": \"h2act_nope\"}",
		"params.schema: schema \"h2act_nope\" does not exist");
}

/* ----------------------------------------------------- slots and server */

static void test_slots_and_server(void **state)
{
	struct proposal *p;
	PGconn *repl;
	char dsn[1024], sql[256];
	PGresult *r;

	(void)state;
	tp_exec(adm, "SELECT pg_create_physical_replication_slot('h2act_slot', true)");
	p = prep(NULL, "drop_replication_slot", "{\"slot\": \"h2act_slot\"}");
	assert_string_equal(p->sql, "SELECT pg_drop_replication_slot('h2act_slot')");
	has_prefix_line(p->diff, "- slot h2act_slot (physical) inactive, restart_lsn ");
	assert_non_null(strstr(p->diff, "of WAL"));
	assert_string_equal(p->target, "slot h2act_slot");
	assert_int_equal(p->risk, RISK_HIGH);
	refused(NULL, "drop_replication_slot", "{\"slot\": \"h2act_none\"}",
		"params.slot: replication slot \"h2act_none\" does not exist — the slots are: ");

	/* an active slot (a walsender streams from it) is refused */
	tp_exec(adm, "SELECT pg_create_physical_replication_slot('h2act_active', true)");
	snprintf(dsn, sizeof(dsn), "%s replication=true application_name=h2act-walreceiver", tp_dsn());
	repl = PQconnectdb(dsn);
	assert_int_equal(PQstatus(repl), CONNECTION_OK);
	r = PQexec(adm, "SELECT pg_current_wal_flush_lsn()");
	snprintf(sql, sizeof(sql), "START_REPLICATION SLOT h2act_active PHYSICAL %s", PQgetvalue(r, 0, 0));
	PQclear(r);
	assert_int_equal(PQsendQuery(repl, sql), 1);
	assert_true(tp_wait(adm, "(SELECT active FROM pg_replication_slots WHERE slot_name = 'h2act_active')", 5000));
	refused(NULL, "drop_replication_slot", "{\"slot\": \"h2act_active\"}",
		"params.slot: slot h2act_active is active (pid ");
	PQfinish(repl);
	assert_true(tp_wait(adm, "NOT (SELECT active FROM pg_replication_slots WHERE slot_name = 'h2act_active')", 5000));
	tp_exec(adm, "SELECT pg_drop_replication_slot('h2act_active')");

	assert_true(measure(p) == 1);
	assert_int_equal(run_sql(p->sql, NULL), 1);
	assert_true(measure(p) == 0);
	proposal_free(p);

	p = prep(NULL, "rotate_logfile", NULL);
	assert_string_equal(p->sql, "SELECT pg_rotate_logfile()");
	assert_string_equal(p->target, "server");
	has_prefix_line(p->diff, "- server log ");
	proposal_free(p);
	refused(NULL, "rotate_logfile", "{\"force\": true}", "params.force: not a parameter of rotate_logfile — it takes none");

	p = prep(NULL, "checkpoint", NULL);
	assert_string_equal(p->sql, "CHECKPOINT");
	assert_false(p->in_transaction);
	has_prefix_line(p->diff, "- last checkpoint ");
	assert_int_equal(run_sql(p->sql, NULL), 0);
	proposal_free(p);
}

/* ----------------------------------------------------------------- shell */

static void test_shell(void **state)
{
	struct proposal *p;

	(void)state;
	p = prep(NULL, "shell", "{\"command\": \"compress_log\", \"args\": {\"file\": \"/var/log/pg/old.log\"}}");
	assert_string_equal(p->sql, "/usr/bin/gzip -9 /var/log/pg/old.log");
	assert_int_equal(json_array_size(p->argv), 3);
	assert_string_equal(json_string_value(json_array_get(p->argv, 2)), "/var/log/pg/old.log");
	assert_int_equal(p->risk, RISK_CRITICAL);
	assert_string_equal(p->target_kind, "host");
	assert_string_equal(p->target, "shell compress_log");
	has_line(p->diff, "+ runs on the cockpit host: /usr/bin/gzip -9 /var/log/pg/old.log (killed after 30 s)");
	assert_null(p->rollback_sql);
	char err[256];
	assert_int_equal(action_check_sql(p, "rm -rf /", err, sizeof(err)), -1);
	proposal_free(p);

	refused(NULL, "shell", "{\"command\": \"compress_log\", \"args\": {\"file\": \"/x; rm -rf /\"}}",
		"params.args.file: \"/x; rm -rf /\" does not match the pattern /[A-Za-z0-9_./-]+ of shell action compress_log");
	refused(NULL, "shell", "{\"command\": \"compress_log\", \"args\": {\"file\": \"/ok\", \"extra\": \"/x\"}}",
		"params.args.extra: shell action compress_log has no {extra}");
	refused(NULL, "shell", "{\"command\": \"compress_log\"}", "params.args.file: missing");
	refused(NULL, "shell", "{\"command\": \"rm\"}",
		"params.command: \"rm\" is not a shell action of the config — declare it under shell_actions (declared: compress_log)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_create_and_drop_index),
		cmocka_unit_test(test_vacuum_analyze),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_memo_round),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_slots_and_server),
		cmocka_unit_test(test_shell),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
