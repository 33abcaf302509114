/*
 * test_plan_clauses: the server-free halves of think/plan.h and
 * think/deadlock.h — the columns a statement's WHERE/JOIN clauses compare
 * (aliases resolved), the relations and row keys a statement writes or
 * locks, and the deadlock post-mortem over snapshots holding the real
 * reports of tests/data/serverlog (parsed with perceive/serverlog.h, as the
 * collector does) and a live cycle built from lock-graph edges.
 */
#include "think/plan.h"
#include "think/deadlock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/strbuf.h"
#include "perceive/serverlog.h"
#include "perceive/snapshot.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void assert_json(json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, 0, NULL);

	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY);

		fail_msg("got %s\nwant %s", g ? g : "NULL", want_text);
	}
	json_decref(want);
}

/* ---- plan_clause_columns ----------------------------------------------- */

static const struct {
	const char *sql;
	const char *want;
} clause_cases[] = {
	{ "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id "
	  "WHERE o.status = $1 AND c.region = 'eu'",
	  "{\"customers\": [\"id\", \"region\"], \"orders\": [\"customer_id\", \"status\"]}" },
	{ "SELECT count(*) FROM public.t WHERE a = $1 AND b BETWEEN $2 AND $3 AND c IN (1, 2) AND d IS NULL",
	  "{\"public.t\": [\"a\", \"b\", \"c\", \"d\"]}" },
	/* A function of a column is not an indexable comparison of it. */
	{ "SELECT 1 FROM t WHERE lower(email) = $1 AND x::text = 'a'",
	  "{\"t\": [\"x\"]}" },
	{ "UPDATE accounts a SET balance = balance + $1 WHERE a.id = $2",
	  "{\"accounts\": [\"id\"]}" },
	{ "DELETE FROM q USING r WHERE q.rid = r.id AND r.kind = $1",
	  "{\"q\": [\"rid\"], \"r\": [\"id\", \"kind\"]}" },
	{ "INSERT INTO archive SELECT * FROM events e WHERE e.created < $1",
	  "{\"events\": [\"created\"]}" },
	/* Subqueries keep their own scope; the outer alias resolves inside. */
	{ "SELECT * FROM orders o WHERE o.total > $1 AND EXISTS "
	  "(SELECT 1 FROM items i WHERE i.order_id = o.id AND i.sku = $2)",
	  "{\"orders\": [\"total\", \"id\"], \"items\": [\"order_id\", \"sku\"]}" },
	{ "SELECT * FROM a WHERE x = 1 UNION ALL SELECT * FROM b WHERE y = 2",
	  "{\"a\": [\"x\"], \"b\": [\"y\"]}" },
	{ "WITH recent AS (SELECT * FROM logs WHERE at > $1) SELECT * FROM recent r WHERE r.level = $2",
	  "{\"logs\": [\"at\"], \"recent\": [\"level\"]}" },
	/* Unqualified in a join: listed under both, the catalog decides. */
	{ "SELECT * FROM a, b WHERE flag = true",
	  "{\"a\": [\"flag\"], \"b\": [\"flag\"]}" },
	{ "SELECT 1", "{}" },
};

static void test_clause_columns(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(clause_cases); i++) {
		json_t *got = plan_clause_columns(clause_cases[i].sql);

		assert_non_null(got);
		assert_json(got, clause_cases[i].want);
		json_decref(got);
	}
	assert_null(plan_clause_columns("SELEC * FROM t"));
}

/* ---- deadlock_statement_relations --------------------------------------- */

static const struct {
	const char *sql;
	const char *want;
} rel_cases[] = {
	{ "UPDATE accounts SET balance = balance + 10 WHERE id = 2",
	  "[{\"relation\": \"accounts\", \"action\": \"update\", \"key\": {\"id\": \"2\"}}]" },
	{ "UPDATE s.acc x SET v = 1 WHERE x.id = $1 AND x.region = 'eu' AND x.v > 3",
	  "[{\"relation\": \"s.acc\", \"action\": \"update\", \"key\": {\"id\": \"$1\", \"region\": \"eu\"}}]" },
	/* An OR pins no single row. */
	{ "DELETE FROM q WHERE id = 1 OR id = 2",
	  "[{\"relation\": \"q\", \"action\": \"delete\"}]" },
	{ "INSERT INTO orders (account, amount) VALUES (1, 5)",
	  "[{\"relation\": \"orders\", \"action\": \"insert\"}]" },
	{ "LOCK TABLE ledger, public.orders IN ACCESS EXCLUSIVE MODE",
	  "[{\"relation\": \"ledger\", \"action\": \"lock ACCESS EXCLUSIVE\"},"
	  " {\"relation\": \"public.orders\", \"action\": \"lock ACCESS EXCLUSIVE\"}]" },
	{ "LOCK TABLE a IN SHARE MODE",
	  "[{\"relation\": \"a\", \"action\": \"lock SHARE\"}]" },
	{ "SELECT * FROM jobs WHERE id = 7 FOR UPDATE",
	  "[{\"relation\": \"jobs\", \"action\": \"select for update\", \"key\": {\"id\": \"7\"}}]" },
	{ "SELECT * FROM a JOIN b ON a.id = b.aid WHERE a.id = 1 FOR SHARE OF b",
	  "[{\"relation\": \"b\", \"action\": \"select for share\"}]" },
	/* A plain SELECT locks nothing a deadlock is made of. */
	{ "SELECT * FROM a WHERE id = 1", "[]" },
	/* Statements in textual order. */
	{ "UPDATE b SET v = 1 WHERE k = 'x'; UPDATE a SET v = 2 WHERE k = 'y'",
	  "[{\"relation\": \"b\", \"action\": \"update\", \"key\": {\"k\": \"x\"}},"
	  " {\"relation\": \"a\", \"action\": \"update\", \"key\": {\"k\": \"y\"}}]" },
	{ "WITH moved AS (DELETE FROM inbox WHERE id = 3 RETURNING *) INSERT INTO done SELECT * FROM moved",
	  "[{\"relation\": \"done\", \"action\": \"insert\"},"
	  " {\"relation\": \"inbox\", \"action\": \"delete\", \"key\": {\"id\": \"3\"}}]" },
};

static void test_statement_relations(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rel_cases); i++) {
		json_t *got = deadlock_statement_relations(rel_cases[i].sql);

		assert_non_null(got);
		assert_json(got, rel_cases[i].want);
		json_decref(got);
	}
	assert_null(deadlock_statement_relations("UPDATE SET"));
}

/* ---- deadlock_analyze over logged reports ------------------------------- */

static char *sample_read(const char *name, size_t *len)
{
	const char *top = getenv("COCKPIT_TOP");
	struct strbuf path, data;
	char buf[8192];
	size_t n;
	FILE *f;

	strbuf_init(&path, 0);
	strbuf_addf(&path, "%s/tests/data/serverlog/%s", top && *top ? top : ".", name);
	f = fopen(path.buf, "rb");
	if (!f)
		fail_msg("cannot open sample '%s' (set COCKPIT_TOP or run from the repo top)", path.buf);
	strbuf_init(&data, 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&data, buf, n);
	fclose(f);
	strbuf_release(&path);
	return strbuf_detach(&data, len);
}

/* Append the reports of a log sample to s, as the collector converts them;
 * relation OIDs resolve through names (oid -> name pairs), at shifted by
 * shift_s. */
static void snapshot_add_log(struct snapshot *s, const char *name, double shift_s)
{
	struct serverlog_parser *p = serverlog_parser_new(SERVERLOG_AUTO);
	struct deadlock_report *r = NULL;
	size_t len, n;
	char *data = sample_read(name, &len);
	struct snap_deadlock *all;

	serverlog_parser_feed(p, data, len);
	serverlog_parser_finish(p);
	n = serverlog_parser_take(p, &r);
	assert_true(n > 0);
	all = arena_alloc(&s->arena, (s->ndeadlocks + n) * sizeof(*all));
	if (s->ndeadlocks)
		memcpy(all, s->deadlocks, s->ndeadlocks * sizeof(*all));
	for (size_t i = 0; i < n; i++) {
		struct snap_deadlock *d = &all[s->ndeadlocks + i];

		memset(d, 0, sizeof(*d));
		d->at = (double)r[i].time_us / 1e6 + shift_s;
		d->pid = r[i].pid;
		d->user = arena_strdup(&s->arena, r[i].user);
		d->database = arena_strdup(&s->arena, r[i].database);
		d->statement = arena_strdup(&s->arena, r[i].statement);
		d->context = arena_strdup(&s->arena, r[i].context);
		d->nprocs = r[i].nprocs;
		d->procs = arena_alloc(&s->arena, r[i].nprocs * sizeof(*d->procs));
		for (size_t k = 0; k < r[i].nprocs; k++) {
			struct snap_deadlock_proc *q = &d->procs[k];

			memset(q, 0, sizeof(*q));
			q->pid = r[i].procs[k].pid;
			q->mode = arena_strdup(&s->arena, r[i].procs[k].mode);
			q->locktype = arena_strdup(&s->arena, r[i].procs[k].locktype);
			q->object = arena_strdup(&s->arena, r[i].procs[k].object);
			q->blocked_by = r[i].procs[k].blocked_by;
			q->xid = r[i].procs[k].xid;
			q->statement = arena_strdup(&s->arena, r[i].procs[k].statement);
		}
	}
	s->deadlocks = all;
	s->ndeadlocks += n;
	if (s->collected_at < all[s->ndeadlocks - 1].at + 1)
		s->collected_at = all[s->ndeadlocks - 1].at + 1;
	serverlog_reports_free(r, n);
	serverlog_parser_free(p);
	free(data);
}

static json_t *proc_of(json_t *report, int pid)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(report, "procs"), i, p)
		if (json_integer_value(json_object_get(p, "pid")) == pid)
			return p;
	return NULL;
}

static void test_two_rows_opposite_order(void **state)
{
	struct snapshot *s = snapshot_new();
	json_t *ev, *rep, *pair, *p;
	const char *rec;

	(void)state;
	snapshot_add_log(s, "deadlock.log", 0);
	ev = deadlock_analyze(s, 3600);
	assert_non_null(ev);
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 1);
	rep = json_array_get(json_object_get(ev, "reports"), 0);
	assert_int_equal(json_integer_value(json_object_get(rep, "pid")), 4165);
	/* 4165 runs "... WHERE id = 2" and waits for 4164, so 4164 took
	 * row 2 first and then asked for row 1: the opposite order. */
	p = proc_of(rep, 4165);
	assert_non_null(p);
	assert_int_equal(json_integer_value(json_object_get(p, "waits_for")), 4164);
	assert_json(json_object_get(p, "order"), "[\"accounts(id=1)\", \"accounts(id=2)\"]");
	assert_json(json_object_get(p, "relations"),
		    "[{\"relation\": \"accounts\", \"action\": \"update\", \"key\": {\"id\": \"2\"}}]");
	p = proc_of(rep, 4164);
	assert_json(json_object_get(p, "order"), "[\"accounts(id=2)\", \"accounts(id=1)\"]");
	assert_string_equal(json_string_value(json_object_get(ev, "role")), "app_user");
	assert_json(json_object_get(ev, "roles"), "[\"app_user\"]");
	pair = json_array_get(json_object_get(ev, "pairs"), 0);
	assert_int_equal(json_integer_value(json_object_get(pair, "count")), 1);
	assert_json(json_object_get(pair, "tables"), "[\"accounts\"]");
	rec = json_string_value(json_object_get(pair, "recommendation"));
	assert_non_null(strstr(rec, "accounts(id=1) then accounts(id=2)"));
	assert_non_null(strstr(rec, "ascending id order"));
	/* Both statements are the same statement with other constants: one
	 * fingerprint twice. */
	{
		const char *fp = json_string_value(json_object_get(pair, "fingerprint"));
		const char *plus = strchr(fp, '+');

		assert_non_null(plus);
		assert_int_equal(strncmp(fp, plus + 1, (size_t)(plus - fp)), 0);
	}
	assert_int_equal(json_array_size(json_object_get(ev, "live_cycles")), 0);
	json_decref(ev);
	/* Outside the window: nothing. */
	s->collected_at += 7200;
	assert_null(deadlock_analyze(s, 3600));
	snapshot_unref(s);
}

static void test_two_tables_and_recurrence(void **state)
{
	struct snapshot *s = snapshot_new();
	json_t *ev, *pairs, *pair = NULL, *q;
	size_t i;
	const char *rec;

	(void)state;
	/* The same LOCK TABLE / INSERT deadlock three times, the first one
	 * long ago (outside the window), plus the row deadlocks. */
	snapshot_add_log(s, "relation.log", -86400);
	snapshot_add_log(s, "deadlock.log", 0);
	snapshot_add_log(s, "relation.log", 0);
	snapshot_add_log(s, "relation.log", 1);
	ev = deadlock_analyze(s, 3600);
	assert_non_null(ev);
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 3);
	pairs = json_object_get(ev, "pairs");
	assert_int_equal(json_array_size(pairs), 2);
	json_array_foreach(pairs, i, q)
		if (json_array_size(json_object_get(q, "orders")) > 0)
			pair = q;
	assert_non_null(pair);
	assert_int_equal(json_integer_value(json_object_get(pair, "count")), 2);
	assert_int_equal(json_integer_value(json_object_get(pair, "seen_total")), 3);
	/* 4251 (LOCK TABLE ledger) waits for 4250 (INSERT INTO orders), so
	 * 4250 took ledger first; 4251 took orders first. */
	assert_json(json_object_get(pair, "orders"), "[[\"orders\", \"ledger\"], [\"ledger\", \"orders\"]]");
	assert_json(json_object_get(pair, "consistent_order"), "[\"ledger\", \"orders\"]");
	rec = json_string_value(json_object_get(pair, "recommendation"));
	assert_non_null(strstr(rec, "take locks on ledger before orders in every transaction"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "top"), "count")), 2);
	json_decref(ev);
	snapshot_unref(s);
}

static void test_three_way_cycle(void **state)
{
	struct snapshot *s = snapshot_new();
	json_t *ev, *rep;

	(void)state;
	snapshot_add_log(s, "deadlock3.log", 0);
	ev = deadlock_analyze(s, 0);
	assert_non_null(ev);
	rep = json_array_get(json_object_get(ev, "reports"), 0);
	assert_int_equal(json_array_size(json_object_get(rep, "procs")), 3);
	/* 4230 (id=4) waits for 4232 (id=5) who waits for 4231 (id=3) who
	 * waits for 4230: 4232 holds row 4, 4231 holds row 5, 4230 holds 3. */
	assert_json(json_object_get(proc_of(rep, 4232), "order"), "[\"accounts(id=4)\", \"accounts(id=5)\"]");
	assert_json(json_object_get(proc_of(rep, 4231), "order"), "[\"accounts(id=5)\", \"accounts(id=3)\"]");
	assert_json(json_object_get(proc_of(rep, 4230), "order"), "[\"accounts(id=3)\", \"accounts(id=4)\"]");
	json_decref(ev);
	snapshot_unref(s);
}

/* ---- live cycles ---------------------------------------------------------- */

static void test_live_cycle(void **state)
{
	struct snapshot *s = snapshot_new();
	struct lockgraph_edge *e;
	json_t *ev, *live;
	const char *rec;

	(void)state;
	s->collected_at = 1000;
	s->nsessions = 3;
	s->sessions = arena_alloc(&s->arena, 3 * sizeof(*s->sessions));
	memset(s->sessions, 0, 3 * sizeof(*s->sessions));
	s->sessions[0] = (struct snap_session){ .pid = 11, .user = "app", .state = "active",
		.xact_start = 900, .query = "UPDATE inventory SET n = n - 1 WHERE sku = 'b'" };
	s->sessions[1] = (struct snap_session){ .pid = 12, .user = "app", .state = "active",
		.xact_start = 950, .query = "UPDATE inventory SET n = n - 1 WHERE sku = 'a'" };
	s->sessions[2] = (struct snap_session){ .pid = 13, .user = "report", .state = "active",
		.xact_start = 990, .query = "SELECT 1" };
	s->nedges = 3;
	s->edges = e = arena_alloc(&s->arena, 3 * sizeof(*e));
	memset(e, 0, 3 * sizeof(*e));
	e[0] = (struct lockgraph_edge){ .waiter = 11, .blocker = 12, .hard = true,
		.mode = "ShareLock", .locktype = "transactionid" };
	e[1] = (struct lockgraph_edge){ .waiter = 12, .blocker = 11, .hard = true,
		.mode = "ShareLock", .locktype = "transactionid" };
	/* A plain waiter outside the cycle is no participant. */
	e[2] = (struct lockgraph_edge){ .waiter = 13, .blocker = 11, .hard = true,
		.mode = "ShareLock", .locktype = "transactionid" };
	snapshot_build_locks(s);
	ev = deadlock_analyze(s, 3600);
	assert_non_null(ev);
	assert_int_equal(json_integer_value(json_object_get(ev, "count")), 0);
	assert_json(json_object_get(ev, "live_cycles"), "[[11, 12]]");
	live = json_array_get(json_object_get(ev, "live"), 0);
	/* The youngest transaction (least work done) is 12. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(live, "youngest"), "pid")), 12);
	assert_json(json_object_get(json_object_get(ev, "victim"), "pids"), "[12]");
	assert_json(json_object_get(ev, "roles"), "[\"app\"]");
	rec = json_string_value(json_object_get(json_array_get(json_object_get(ev, "pairs"), 0), "recommendation"));
	assert_non_null(strstr(rec, "ascending sku order"));
	json_decref(ev);
	snapshot_unref(s);

	/* No reports, no cycles: nothing to say. */
	s = snapshot_new();
	s->collected_at = 1000;
	snapshot_build_locks(s);
	assert_null(deadlock_analyze(s, 3600));
	snapshot_unref(s);
}

/* Multi-statement query strings (what pg_stat_activity and the log show
 * for a simple-protocol batch): the relation the lock names wins, else the
 * last statement that writes. */
static void test_live_cycle_multi_statement(void **state)
{
	struct snapshot *s = snapshot_new();
	struct lockgraph_edge *e;
	json_t *ev, *pair;

	(void)state;
	s->collected_at = 1000;
	s->nsessions = 2;
	s->sessions = arena_alloc(&s->arena, 2 * sizeof(*s->sessions));
	s->sessions[0] = (struct snap_session){ .pid = 21, .user = "app", .xact_start = 900,
		.query = "BEGIN; UPDATE acc SET b = b - 1 WHERE id = 1; SELECT pg_sleep(1); "
			 "UPDATE ledger SET t = t + 1 WHERE id = 1; COMMIT;" };
	s->sessions[1] = (struct snap_session){ .pid = 22, .user = "app", .xact_start = 901,
		.query = "BEGIN; UPDATE ledger SET t = t - 1 WHERE id = 1; "
			 "UPDATE acc SET b = b + 1 WHERE id = 1; SELECT 1; COMMIT;" };
	s->nedges = 2;
	s->edges = e = arena_alloc(&s->arena, 2 * sizeof(*e));
	memset(e, 0, 2 * sizeof(*e));
	e[0] = (struct lockgraph_edge){ .waiter = 21, .blocker = 22, .hard = true,
		.mode = "ShareLock", .locktype = "transactionid" };
	/* 22 waits on a tuple lock of acc: the lock names the relation. */
	e[1] = (struct lockgraph_edge){ .waiter = 22, .blocker = 21, .hard = true,
		.mode = "ExclusiveLock", .locktype = "tuple", .relation = "acc" };
	snapshot_build_locks(s);
	ev = deadlock_analyze(s, 3600);
	assert_non_null(ev);
	pair = json_array_get(json_object_get(ev, "pairs"), 0);
	assert_json(json_object_get(pair, "orders"), "[[\"acc\", \"ledger\"], [\"ledger\", \"acc\"]]");
	assert_non_null(strstr(json_string_value(json_object_get(pair, "recommendation")),
			       "take locks on acc before ledger"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "victim"), "pid")), 22);
	json_decref(ev);
	snapshot_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clause_columns),
		cmocka_unit_test(test_statement_relations),
		cmocka_unit_test(test_two_rows_opposite_order),
		cmocka_unit_test(test_two_tables_and_recurrence),
		cmocka_unit_test(test_three_way_cycle),
		cmocka_unit_test(test_live_cycle),
		cmocka_unit_test(test_live_cycle_multi_statement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
