/*
 * Unit tests: pg_stat_statements deltas — window arithmetic, resets,
 * ranking, the p99 estimate, the text cache and per-agent time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "perceive/agents.h"
#include "perceive/snapshot.h"
#include "perceive/statements.h"

static struct stmt_row row(int64_t qid, double calls, double total, double rows)
{
	struct stmt_row r = { .queryid = qid, .userid = 10, .dbid = 5, .toplevel = true,
			      .calls = calls, .total_ms = total, .rows = rows, .max_ms = 50,
			      .mean_ms = calls ? total / calls : 0, .stddev_ms = 2,
			      .user = "app", .database = "db" };
	return r;
}

static void test_first_sample_has_no_window(void **state)
{
	struct statements_state *st = statements_state_new();
	struct snapshot *s = snapshot_new();
	struct stmt_row rows[] = { row(1, 10, 100, 10) };

	(void)state;
	assert_true(statements_update(st, rows, 1, 100.0, 50, s) == 0);
	assert_int_equal(s->nstatements, 0);
	assert_true(s->statements_window_s == 0);
	snapshot_unref(s);
	statements_state_free(st);
}

static void test_deltas_and_ranking(void **state)
{
	struct statements_state *st = statements_state_new();
	struct snapshot *s1 = snapshot_new(), *s2 = snapshot_new();
	struct stmt_row a[] = { row(1, 10, 100, 10), row(2, 5, 500, 5), row(3, 100, 10, 0) };
	struct stmt_row b[] = { row(1, 30, 700, 30),   /* +20 calls, +600 ms */
				row(2, 6, 600, 6),     /* +1 call, +100 ms */
				row(3, 100, 10, 0),    /* idle: no delta */
				row(4, 2, 40, 2) };    /* new since the last sample */
	double total;

	(void)state;
	statements_update(st, a, 3, 100.0, 50, s1);
	total = statements_update(st, b, 4, 110.0, 50, s2);
	assert_true(total > 739.9 && total < 740.1);
	assert_true(s2->statements_window_s > 9.99 && s2->statements_window_s < 10.01);
	assert_int_equal(s2->nstatements, 3); /* the idle one has no delta */
	assert_int_equal(s2->statements[0].queryid, 1);
	assert_true(s2->statements[0].calls == 20);
	assert_true(s2->statements[0].total_ms == 600);
	assert_true(s2->statements[0].mean_ms == 30);
	assert_true(s2->statements[0].calls_per_s == 2);
	assert_true(s2->statements[0].rows == 20);
	assert_true(s2->statements[0].share > 0.81 && s2->statements[0].share < 0.82);
	assert_int_equal(s2->statements[1].queryid, 2);
	assert_int_equal(s2->statements[2].queryid, 4);
	assert_true(s2->statements[2].calls == 2);
	snapshot_unref(s1);
	snapshot_unref(s2);
	statements_state_free(st);
}

static void test_reset_counts_afresh(void **state)
{
	struct statements_state *st = statements_state_new();
	struct snapshot *s1 = snapshot_new(), *s2 = snapshot_new();
	struct stmt_row a[] = { row(1, 1000, 5000, 10) };
	struct stmt_row b[] = { row(1, 3, 9, 3) }; /* pg_stat_statements_reset() in between */

	(void)state;
	statements_update(st, a, 1, 100.0, 50, s1);
	statements_update(st, b, 1, 105.0, 50, s2);
	assert_int_equal(s2->nstatements, 1);
	assert_true(s2->statements[0].calls == 3);
	assert_true(s2->statements[0].total_ms == 9);
	snapshot_unref(s1);
	snapshot_unref(s2);
	statements_state_free(st);
}

static void test_top_limit_and_p99(void **state)
{
	struct statements_state *st = statements_state_new();
	struct snapshot *s1 = snapshot_new(), *s2 = snapshot_new();
	struct stmt_row a[200], b[200];

	(void)state;
	for (int i = 0; i < 200; i++) {
		a[i] = row(i + 1, 1, 1, 1);
		b[i] = row(i + 1, 2, 1 + i, 2); /* statement i+1 spent i ms */
	}
	b[7].stddev_ms = 1000; /* estimate above max: capped at max */
	statements_update(st, a, 200, 100.0, 10, s1);
	statements_update(st, b, 200, 101.0, 10, s2);
	assert_int_equal(s2->nstatements, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(s2->statements[i].queryid, 200 - i);
	for (size_t i = 0; i < s2->nstatements; i++)
		assert_true(s2->statements[i].p99_ms_estimate <= 50);
	snapshot_unref(s1);
	snapshot_unref(s2);
	statements_state_free(st);
}

/* A result shaped like the text-fetch query's (queryid, query), built
 * without a server. */
static PGresult *texts_result(const char *const *texts, const char *const *ids, int n)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[2] = {
		{ .name = (char *)"queryid", .typid = 20, .typlen = 8, .atttypmod = -1 },
		{ .name = (char *)"query", .typid = 25, .typlen = -1, .atttypmod = -1 },
	};

	assert_true(PQsetResultAttrs(r, 2, attrs));
	for (int i = 0; i < n; i++) {
		assert_true(PQsetvalue(r, i, 0, (char *)ids[i], (int)strlen(ids[i])));
		assert_true(PQsetvalue(r, i, 1, (char *)texts[i], (int)strlen(texts[i])));
	}
	return r;
}

static void test_texts_and_agent_time(void **state)
{
	struct statements_state *st = statements_state_new();
	struct snapshot *s1 = snapshot_new(), *s2 = snapshot_new(), *s3 = snapshot_new();
	struct stmt_row a[] = { row(41, 1, 1, 1), row(42, 1, 1, 1), row(43, 1, 1, 1) };
	struct stmt_row b[] = { row(41, 5, 101, 5), row(42, 3, 31, 3), row(43, 2, 11, 2) };
	struct stmt_row c[] = { row(41, 9, 201, 9), row(42, 5, 61, 5), row(43, 2, 11, 2) };
	static const char *const ids[] = { "41", "42" };
	static const char *const texts[] = {
		"/* agent_id=bot-a, task_id=T1 */ SELECT $1",
		"UPDATE t SET x = $1 /*agent_id='bot%20b'*/",
	};
	struct agent_time *t;
	size_t nt;
	struct strbuf sql = STRBUF_INIT;
	PGresult *r;

	(void)state;
	statements_update(st, a, 3, 100.0, 50, s1);
	statements_update(st, b, 3, 110.0, 50, s2);
	statements_agent_times(st, &t, &nt);
	assert_int_equal(nt, 0); /* texts unknown yet */
	assert_int_equal(statements_missing_texts(st, 500, &sql), 3);
	assert_non_null(strstr(sql.buf, "41"));
	assert_non_null(strstr(sql.buf, "43"));
	assert_non_null(strstr(sql.buf, "cockpit collector"));
	strbuf_release(&sql);
	/* 43's text was not found on the server: fetched, absent, not asked again. */
	r = texts_result(texts, ids, 2);
	statements_store_texts(st, r);
	PQclear(r);
	statements_fill_texts(st, s2);
	assert_string_equal(s2->statements[0].query, texts[0]);
	assert_string_equal(s2->statements[0].agent_id, "bot-a");
	assert_string_equal(s2->statements[0].task_id, "T1");
	/* Texts fetched in this refresh count for agent time right away. */
	statements_agent_times(st, &t, &nt);
	assert_int_equal(nt, 2);
	assert_string_equal(t[0].agent_id, "bot-a");
	assert_true(t[0].ms == 100);
	assert_string_equal(t[1].agent_id, "bot b");
	assert_true(t[1].ms == 30);
	statements_update(st, c, 3, 120.0, 50, s3);
	assert_int_equal(statements_missing_texts(st, 500, &sql), 0);
	strbuf_release(&sql);
	statements_agent_times(st, &t, &nt);
	assert_int_equal(nt, 2);
	assert_true(t[0].ms == 100 && t[1].ms == 30);
	snapshot_unref(s1);
	snapshot_unref(s2);
	snapshot_unref(s3);
	statements_state_free(st);
}

static void test_sql_by_version(void **state)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

	(void)state;
	statements_build_sql(&a, "1.8");
	statements_build_sql(&b, "1.10");
	assert_non_null(strstr(a.buf, "true"));
	assert_null(strstr(a.buf, "s.toplevel"));
	assert_non_null(strstr(b.buf, "s.toplevel"));
	assert_non_null(strstr(b.buf, "pg_stat_statements(false)"));
	strbuf_release(&a);
	strbuf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sample_has_no_window),
		cmocka_unit_test(test_deltas_and_ranking),
		cmocka_unit_test(test_reset_counts_afresh),
		cmocka_unit_test(test_top_limit_and_p99),
		cmocka_unit_test(test_texts_and_agent_time),
		cmocka_unit_test(test_sql_by_version),
	};

	return cmocka_run_group_tests_name("statements", tests, NULL, NULL);
}
