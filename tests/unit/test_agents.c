/*
 * Unit tests: agent tag parsing (both comment forms, malformed tags) and
 * per-agent aggregation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/arena.h"
#include "perceive/agents.h"
#include "perceive/snapshot.h"

struct tag_case {
	const char *text;
	const char *agent_id; /* NULL: no agent expected */
	const char *task_id;
	const char *step;
};

static const struct tag_case tag_cases[] = {
	{ "/* agent_id=billing-bot, task_id=T-42, step=3 */ SELECT 1", "billing-bot", "T-42", "3" },
	{ "SELECT 1 /*agent_id='etl%20agent',task_id='job%2F7'*/", "etl agent", "job/7", NULL },
	{ "SELECT * FROM t /*action='index',agent_id='a1',framework='x'*/", "a1", NULL, NULL },
	{ "/* app=web */ SELECT 1 /* agent_id=second */", "second", NULL, NULL },
	{ "/*agent_id=\"quoted\" , step = 'two' */ UPDATE t SET x=1", "quoted", NULL, "two" },
	{ "  /*   agent_id = spaced ,task_id=  t9  */ SELECT", "spaced", "t9", NULL },
	/* malformed */
	{ "SELECT 1 /* agent_id='unterminated */", NULL, NULL, NULL },
	{ "SELECT 1 /* agent_id=x", NULL, NULL, NULL },            /* truncated comment */
	{ "SELECT 1 /*agent_id='bad%zzenc'*/", NULL, NULL, NULL },  /* bad url escape */
	{ "SELECT 1 /*agent_id='bad%4'*/", NULL, NULL, NULL },      /* short escape */
	{ "SELECT 1 /*agent_id='ctl%0Achar'*/", NULL, NULL, NULL }, /* control char */
	{ "SELECT 1 /* agent_id= */", NULL, NULL, NULL },           /* empty value */
	{ "SELECT 'agent_id=x' FROM t", NULL, NULL, NULL },         /* not in a comment */
	{ "SELECT 1 -- agent_id=x", NULL, NULL, NULL },             /* line comments are not tags */
	{ "", NULL, NULL, NULL },
	{ "/* task_id=only */ SELECT 1", NULL, NULL, NULL },
};

static void test_tag_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tag_cases) / sizeof(*tag_cases); i++) {
		const struct tag_case *c = &tag_cases[i];
		struct arena a;
		struct agent_tags t;
		bool found;

		arena_init(&a);
		found = agents_parse_tags(c->text, &a, &t);
		if (c->agent_id) {
			if (!found)
				fail_msg("case %zu (%s): no agent found", i, c->text);
			assert_string_equal(t.agent_id, c->agent_id);
			if (c->task_id)
				assert_string_equal(t.task_id, c->task_id);
			else
				assert_null(t.task_id);
			if (c->step)
				assert_string_equal(t.step, c->step);
			else
				assert_null(t.step);
		} else if (found) {
			fail_msg("case %zu (%s): unexpected agent '%s'", i, c->text, t.agent_id);
		}
		arena_release(&a);
	}
}

static void test_tag_long_value_rejected(void **state)
{
	char text[600];
	struct arena a;
	struct agent_tags t;

	(void)state;
	strcpy(text, "/* agent_id=");
	memset(text + strlen(text), 'x', 300);
	strcpy(text + 12 + 300, " */ SELECT 1");
	arena_init(&a);
	assert_false(agents_parse_tags(text, &a, &t));
	assert_false(agents_parse_tags(NULL, &a, &t));
	arena_release(&a);
}

static void test_app_patterns(void **state)
{
	char p1[] = "agent-*", p2[] = "langchain*";
	char *pats[] = { p1, p2 };

	(void)state;
	assert_true(agents_match_app("agent-7", pats, 2));
	assert_true(agents_match_app("langchain-sql", pats, 2));
	assert_false(agents_match_app("psql", pats, 2));
	assert_false(agents_match_app(NULL, pats, 2));
	assert_false(agents_match_app("", pats, 2));
}

static void test_aggregate(void **state)
{
	struct snapshot *s = snapshot_new();
	struct agent_time times[] = { { "a", 300.0 }, { "b", 100.0 }, { "ghost", 50.0 } };

	(void)state;
	s->server.now = 1000.0;
	s->nsessions = 5;
	s->sessions = arena_alloc(&s->arena, 5 * sizeof(*s->sessions));
	s->sessions[0] = (struct snap_session){ .pid = 1, .state = "active", .backend_type = "client backend",
		.query_start = 990.0, .agent_id = "a", .task_id = "t1", .step = "s1" };
	s->sessions[1] = (struct snap_session){ .pid = 2, .state = "idle in transaction",
		.backend_type = "client backend", .state_change = 940.0, .agent_id = "a" };
	s->sessions[2] = (struct snap_session){ .pid = 3, .state = "active", .backend_type = "client backend",
		.wait_event_type = "Lock", .query_start = 999.0, .agent_id = "b" };
	s->sessions[3] = (struct snap_session){ .pid = 4, .state = "active", .backend_type = "client backend" };
	s->sessions[4] = (struct snap_session){ .pid = 5, .state = "idle", .backend_type = "client backend",
		.agent_id = "b" };
	agents_aggregate(s, times, 3, 500.0);
	assert_int_equal(s->nagents, 3);
	/* ordered by statement time */
	assert_string_equal(s->agents[0].agent_id, "a");
	assert_int_equal(s->agents[0].sessions, 2);
	assert_int_equal(s->agents[0].active, 1);
	assert_int_equal(s->agents[0].idle_in_transaction, 1);
	assert_true(s->agents[0].longest_idle_in_xact_s > 59.9 && s->agents[0].longest_idle_in_xact_s < 60.1);
	assert_true(s->agents[0].longest_query_s > 9.9 && s->agents[0].longest_query_s < 10.1);
	assert_string_equal(s->agents[0].task_id, "t1");
	assert_true(s->agents[0].db_time_share > 0.59 && s->agents[0].db_time_share < 0.61);
	assert_true(s->agents[0].active_share > 0.33 && s->agents[0].active_share < 0.34);
	assert_string_equal(s->agents[1].agent_id, "b");
	assert_int_equal(s->agents[1].waiting, 1);
	assert_int_equal(s->agents[1].idle, 1);
	/* an agent seen only in statements still shows up */
	assert_string_equal(s->agents[2].agent_id, "ghost");
	assert_int_equal(s->agents[2].sessions, 0);
	snapshot_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_table),
		cmocka_unit_test(test_tag_long_value_rejected),
		cmocka_unit_test(test_app_patterns),
		cmocka_unit_test(test_aggregate),
	};

	return cmocka_run_group_tests_name("agents", tests, NULL, NULL);
}
