/*
 * test_proposal: the proposal object without a server — the line diff
 * (table of before/after texts and the exact lines expected), the JSON of
 * the diagnose contract, stable ids, deep copies that share nothing, and
 * the registry's names, risks and parameters.
 */
#include "act/action.h"
#include "act/proposal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct diff_case {
	const char *before;
	const char *after;
	const char *diff;
};

static void test_text_diff(void **state)
{
	static const struct diff_case cases[] = {
		{ "", "", "" },
		{ NULL, NULL, "" },
		{ "a\n", "a\n", "  a\n" },
		{ "", "a\nb\n", "+ a\n+ b\n" },
		{ "a\nb\n", "", "- a\n- b\n" },
		/* an index added in the middle of the list */
		{ "CREATE INDEX a_idx ON t (a)\nCREATE INDEX c_idx ON t (c)\n",
		  "CREATE INDEX a_idx ON t (a)\nCREATE INDEX b_idx ON t (b)\nCREATE INDEX c_idx ON t (c)\n",
		  "  CREATE INDEX a_idx ON t (a)\n+ CREATE INDEX b_idx ON t (b)\n  CREATE INDEX c_idx ON t (c)\n" },
		/* a setting changed: the old line goes, the new one comes */
		{ "search_path=app\nstatement_timeout=0\nwork_mem=4MB\n",
		  "search_path=app\nstatement_timeout=5s\nwork_mem=4MB\n",
		  "  search_path=app\n- statement_timeout=0\n+ statement_timeout=5s\n  work_mem=4MB\n" },
		/* no trailing newline is the same text */
		{ "x\ny", "x\ny\n", "  x\n  y\n" },
		/* the longest common subsequence is kept, not the first match */
		{ "a\nb\nc\nd\n", "b\nc\nd\ne\n", "- a\n  b\n  c\n  d\n+ e\n" },
		{ "a\nb\nc\n", "c\nb\na\n", "- a\n- b\n  c\n+ b\n+ a\n" },
		/* empty lines are lines */
		{ "a\n\nb\n", "a\nb\n", "  a\n- \n  b\n" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *d = proposal_text_diff(cases[i].before, cases[i].after);
		if (strcmp(d, cases[i].diff) != 0)
			fail_msg("case %zu: got\n%s\nwant\n%s", i, d, cases[i].diff);
		free(d);
	}
}

static struct proposal *sample(void)
{
	struct proposal *p = proposal_new();

	p->action = action_find("terminate_backend");
	assert_non_null(p->action);
	proposal_set(&p->runbook, "idle-in-transaction");
	proposal_set(&p->origin, "rule");
	proposal_set(&p->incident_key, "idle-in-transaction/4711");
	p->params = json_pack("{s:[i]}", "pids", 4711);
	proposal_set(&p->sql, "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE (pid = 4711)");
	proposal_set(&p->target, "pid 4711");
	proposal_set(&p->target_kind, "session");
	proposal_set(&p->diff, "- pid 4711 alice app=billing idle in transaction 00:05:12 UPDATE accounts\n");
	proposal_set(&p->rationale, "holds a lock 3 sessions wait for");
	p->evidence = json_pack("{s:i}", "waiters", 3);
	p->guard = json_pack("[{s:i,s:f,s:n,s:f}]", "pid", 4711, "backend_start", 1732250000.123456,
			     "xact_start", "query_start", 1732250100.5);
	p->verify.sql = strdup("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])");
	p->verify.args = json_pack("[s]", "{4711}");
	proposal_set(&p->verify.expect, "== 0");
	p->verify.wait_s = 1;
	p->verify.deadline_s = 10;
	p->verify.attempts = 2;
	p->risk = RISK_MEDIUM;
	p->confidence = 0.9;
	p->sessions = 1;
	p->decision = DECISION_APPROVAL;
	proposal_set(&p->policy_reason, "medium risk needs approval");
	return p;
}

static void test_json(void **state)
{
	struct proposal *p = sample();
	json_t *j;

	(void)state;
	proposal_make_id(p);
	j = proposal_to_json(p);
	/* the DESIGN contract's keys */
	static const char *const keys[] = { "action", "sql", "target", "risk", "confidence", "diff",
					    "rollback_sql", "verify", "decision", "policy_reason",
					    "estimate", "id", "runbook", "origin", "params",
					    "rationale", "evidence", "guard" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!json_object_get(j, keys[i]))
			fail_msg("key %s missing", keys[i]);
	assert_string_equal(json_string_value(json_object_get(j, "action")), "terminate_backend");
	assert_string_equal(json_string_value(json_object_get(j, "risk")), "medium");
	assert_string_equal(json_string_value(json_object_get(j, "decision")), "approval");
	assert_string_equal(json_string_value(json_object_get(j, "target")), "pid 4711");
	assert_true(json_is_null(json_object_get(j, "rollback_sql")));
	assert_true(json_is_null(json_object_get(j, "estimate")));
	assert_true(json_is_false(json_object_get(j, "reversible")));
	assert_true(json_real_value(json_object_get(j, "confidence")) > 0.89);
	json_t *v = json_object_get(j, "verify");
	assert_string_equal(json_string_value(json_object_get(v, "expect")), "== 0");
	assert_string_equal(json_string_value(json_array_get(json_object_get(v, "args"), 0)), "{4711}");
	assert_int_equal(json_integer_value(json_object_get(v, "attempts")), 2);
	json_t *g = json_array_get(json_object_get(j, "guard"), 0);
	assert_int_equal(json_integer_value(json_object_get(g, "pid")), 4711);
	assert_true(json_is_null(json_object_get(g, "xact_start")));
	assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(j, "params"), "pids"), 0)), 4711);
	assert_true(json_is_null(json_object_get(j, "table_bytes")));
	assert_null(json_object_get(j, "edited_from"));

	/* an edited proposal says so; a proposal without verify has null */
	proposal_set(&p->edited_from, "SELECT 1");
	proposal_set(&p->edit_diff, "- SELECT 1\n+ SELECT 2\n");
	free(p->verify.sql);
	p->verify.sql = NULL;
	json_decref(j);
	j = proposal_to_json(p);
	assert_string_equal(json_string_value(json_object_get(j, "edited_from")), "SELECT 1");
	assert_true(json_is_null(json_object_get(j, "verify")));
	/* it serialises */
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	free(s);
	json_decref(j);
	proposal_free(p);
}

static void test_ids(void **state)
{
	struct proposal *a = sample(), *b = sample();

	(void)state;
	proposal_make_id(a);
	proposal_make_id(b);
	assert_int_equal(strlen(a->id), 12);
	for (const char *c = a->id; *c; c++)
		assert_non_null(strchr("0123456789abcdef", *c));
	/* same runbook, action and target: same id, whatever else differs */
	b->confidence = 0.2;
	proposal_set(&b->sql, "SELECT 2");
	proposal_make_id(b);
	assert_string_equal(a->id, b->id);
	/* another target, runbook or action: another id */
	proposal_set(&b->target, "pid 4712");
	proposal_make_id(b);
	assert_string_not_equal(a->id, b->id);
	proposal_set(&b->target, "pid 4711");
	proposal_set(&b->runbook, "lock-chain");
	proposal_make_id(b);
	assert_string_not_equal(a->id, b->id);
	proposal_set(&b->runbook, "idle-in-transaction");
	b->action = action_find("cancel_backend");
	proposal_make_id(b);
	assert_string_not_equal(a->id, b->id);
	/* re-making is stable */
	b->action = action_find("terminate_backend");
	proposal_make_id(b);
	assert_string_equal(a->id, b->id);
	proposal_free(a);
	proposal_free(b);
}

static void test_dup(void **state)
{
	struct proposal *p = sample(), *d;

	(void)state;
	proposal_set(&p->rollback_sql, "SELECT 1");
	proposal_set(&p->estimate, "cost 10 -> 1");
	p->argv = json_pack("[ss]", "/bin/true", "x");
	d = proposal_dup(p);
	/* equal content, nothing shared */
	assert_ptr_not_equal(d->sql, p->sql);
	assert_string_equal(d->sql, p->sql);
	assert_ptr_not_equal(d->verify.sql, p->verify.sql);
	assert_ptr_not_equal(d->params, p->params);
	assert_true(json_equal(d->params, p->params));
	assert_ptr_not_equal(d->guard, p->guard);
	assert_true(json_equal(d->guard, p->guard));
	assert_ptr_not_equal(d->argv, p->argv);
	assert_ptr_equal(d->action, p->action);
	assert_string_equal(d->rollback_sql, "SELECT 1");
	assert_int_equal(d->sessions, 1);
	/* the copy lives on after the original is gone (ASan would see a use after free) */
	json_t *pj = proposal_to_json(p);
	proposal_free(p);
	json_t *dj = proposal_to_json(d);
	assert_true(json_equal(pj, dj));
	json_object_set_new(d->params, "pids", json_array());
	assert_false(json_equal(json_object_get(pj, "params"), d->params));
	json_decref(pj);
	json_decref(dj);
	proposal_free(d);
	proposal_free(NULL);
}

static void test_names(void **state)
{
	enum risk r;

	(void)state;
	static const char *const risks[] = { "low", "medium", "high", "critical" };
	for (size_t i = 0; i < ARRAY_SIZE(risks); i++) {
		assert_true(risk_parse(risks[i], &r));
		assert_int_equal(r, (int)i);
		assert_string_equal(risk_name(r), risks[i]);
	}
	assert_false(risk_parse("severe", &r));
	assert_false(risk_parse("", &r));
	assert_false(risk_parse(NULL, &r));
	assert_string_equal(decision_name(DECISION_ALLOW), "allow");
	assert_string_equal(decision_name(DECISION_APPROVAL), "approval");
	assert_string_equal(decision_name(DECISION_DENY), "deny");
	assert_string_equal(decision_name(DECISION_ESCALATE), "escalate");
	assert_string_equal(decision_name(DECISION_SKIP), "skip");
}

static void test_registry(void **state)
{
	static const struct {
		const char *name;
		enum risk risk;
		bool reversible;
		bool in_transaction;
		const char *first_param;
	} want[] = {
		{ "cancel_backend", RISK_LOW, false, true, "pids" },
		{ "terminate_backend", RISK_MEDIUM, false, true, "pids" },
		{ "create_index", RISK_MEDIUM, true, false, "table" },
		{ "drop_index", RISK_HIGH, false, false, "index" },
		{ "vacuum", RISK_MEDIUM, false, false, "table" },
		{ "analyze", RISK_LOW, false, true, "table" },
		{ "alter_role_set", RISK_MEDIUM, true, true, "role" },
		{ "alter_role_reset", RISK_MEDIUM, true, true, "role" },
		{ "revoke", RISK_HIGH, true, true, "role" },
		{ "drop_replication_slot", RISK_HIGH, false, true, "slot" },
		{ "rotate_logfile", RISK_LOW, false, true, NULL },
		{ "checkpoint", RISK_LOW, false, false, NULL },
		{ "shell", RISK_CRITICAL, false, false, "command" },
	};
	size_t n;
	const struct action_def *all = action_all(&n);

	(void)state;
	assert_int_equal(n, ARRAY_SIZE(want));
	for (size_t i = 0; i < n; i++) {
		const struct action_def *a = action_find(want[i].name);
		assert_non_null(a);
		assert_ptr_equal(a, &all[i]);
		assert_int_equal(a->risk, want[i].risk);
		assert_int_equal(a->reversible, want[i].reversible);
		assert_int_equal(a->in_transaction, want[i].in_transaction);
		assert_non_null(a->prepare);
		assert_true(a->summary && *a->summary);
		if (want[i].first_param) {
			assert_string_equal(a->params[0].name, want[i].first_param);
			assert_ptr_equal(action_param_find(a, want[i].first_param), &a->params[0]);
		} else {
			assert_int_equal(a->nparams, 0);
		}
		assert_null(action_param_find(a, "no_such_param"));
	}
	assert_int_equal(action_param_find(action_find("create_index"), "columns")->type, AP_COLUMNS);
	assert_false(action_param_find(action_find("create_index"), "name")->required);
	assert_null(action_find("drop_table"));
	assert_null(action_find(NULL));
	assert_null(action_find("terminate_backend "));
}

/* Without a connection prepare refuses, and an unknown action names the
 * registry. */
static void test_prepare_refusals(void **state)
{
	struct proposal *p = proposal_new();
	struct action_ctx ctx = { 0 };
	char err[512];

	(void)state;
	assert_int_equal(action_prepare(&ctx, "drop_table", NULL, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"drop_table\" is not in the registry"));
	assert_non_null(strstr(err, "terminate_backend"));
	assert_int_equal(action_prepare(&ctx, "checkpoint", NULL, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no connection"));
	assert_null(p->sql);
	proposal_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_diff),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_prepare_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
