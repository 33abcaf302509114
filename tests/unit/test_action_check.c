/*
 * test_action_check: safety rule 2 without a server — an operator's (or the
 * LLM's) edit of a proposal's SQL must parse (libpg_query) into exactly one
 * statement of the action's kind on the same target. Each case is the SQL
 * prepare() renders for an action, an edit, and whether the edit is
 * accepted or the words the refusal must contain.
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

#define TERMINATE_SQL \
	"SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE (pid = 4711 AND " \
	"abs(extract(epoch FROM backend_start) - 1732250000.123456) < 0.000002 AND xact_start " \
	"IS NULL AND abs(extract(epoch FROM query_start) - 1732250100.000001) < 0.000002) OR " \
	"(pid = 4712 AND abs(extract(epoch FROM backend_start) - 1732250000.5) < 0.000002 AND " \
	"xact_start IS NULL AND query_start IS NULL)"

struct check_case {
	const char *action;
	const char *sql;      /* what prepare rendered */
	const char *edit;
	const char *refusal;  /* NULL: accepted; else a substring of the reason */
};

static const struct check_case cases[] = {
	/* create_index */
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "CREATE INDEX CONCURRENTLY users_email_idx ON public.users USING btree (email)", NULL },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "CREATE INDEX CONCURRENTLY users_lower_email_idx ON users (lower(email), id)", NULL },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "DROP TABLE public.users", "the edit is a DropStmt; create_index runs an IndexStmt only" },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "CREATE INDEX CONCURRENTLY i ON public.users (email); DROP TABLE public.users",
	  "holds 2 statements" },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "CREATE INDEX CONCURRENTLY i ON public.orders (email)", "the edit indexes public.orders" },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "CREATE INDEX CONCURRENTLY i ON audit.users (email)", "the edit indexes audit.users" },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "CREATE INDEX i ON public.users (email)", "drops CONCURRENTLY" },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"public\".\"users\" USING \"btree\" (\"email\")",
	  "CREATE INDEX CONCURRENTLY ON public.users (email", "does not parse" },
	{ "create_index", "CREATE INDEX CONCURRENTLY \"i\" ON \"app\".\"users\" (\"email\")",
	  "CREATE INDEX CONCURRENTLY i ON users (email)", "the edit indexes users" },
	/* drop_index */
	{ "drop_index", "DROP INDEX CONCURRENTLY \"public\".\"users_email_idx\"",
	  "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx", NULL },
	{ "drop_index", "DROP INDEX CONCURRENTLY \"public\".\"users_email_idx\"",
	  "DROP INDEX CONCURRENTLY public.users_pkey", "drops public.users_pkey" },
	{ "drop_index", "DROP INDEX CONCURRENTLY \"public\".\"users_email_idx\"",
	  "DROP TABLE public.users_email_idx", "drops OBJECT_TABLE" },
	{ "drop_index", "DROP INDEX CONCURRENTLY \"public\".\"users_email_idx\"",
	  "DROP INDEX public.users_email_idx CASCADE", "drops CONCURRENTLY" },
	/* vacuum / analyze */
	{ "vacuum", "VACUUM (ANALYZE) \"public\".\"orders\"", "VACUUM (ANALYZE, VERBOSE) public.orders", NULL },
	{ "vacuum", "VACUUM (ANALYZE) \"public\".\"orders\"", "VACUUM FULL public.orders", "adds FULL" },
	{ "vacuum", "VACUUM (FULL, ANALYZE) \"public\".\"orders\"", "VACUUM (FULL) public.orders", NULL },
	{ "vacuum", "VACUUM (ANALYZE) \"public\".\"orders\"", "VACUUM public.orders, public.users", "names 2 tables" },
	{ "vacuum", "VACUUM (ANALYZE) \"public\".\"orders\"", "VACUUM", "names 0 tables" },
	{ "vacuum", "VACUUM (ANALYZE) \"public\".\"orders\"", "ANALYZE public.orders", "is an ANALYZE" },
	{ "analyze", "ANALYZE \"public\".\"orders\"", "ANALYZE public.orders (customer_id)", NULL },
	{ "analyze", "ANALYZE \"public\".\"orders\"", "ANALYZE public.users", "works on public.users" },
	/* roles */
	{ "alter_role_set", "ALTER ROLE \"app_agent\" SET \"statement_timeout\" = '5s'",
	  "ALTER ROLE app_agent SET statement_timeout = '10s'", NULL },
	{ "alter_role_set", "ALTER ROLE \"app_agent\" SET \"statement_timeout\" = '5s'",
	  "ALTER ROLE postgres SET statement_timeout = '5s'", "alters role postgres" },
	{ "alter_role_set", "ALTER ROLE \"app_agent\" SET \"statement_timeout\" = '5s'",
	  "ALTER ROLE ALL SET statement_timeout = '5s'", "alters role ALL" },
	{ "alter_role_set", "ALTER ROLE \"app_agent\" SET \"statement_timeout\" = '5s'",
	  "ALTER ROLE app_agent SET work_mem = '1GB'", "changes setting work_mem" },
	{ "alter_role_set", "ALTER ROLE \"app_agent\" SET \"statement_timeout\" = '5s'",
	  "ALTER ROLE app_agent SUPERUSER", "the edit is an AlterRoleStmt" },
	{ "alter_role_set", "ALTER ROLE \"app_agent\" SET \"statement_timeout\" = '5s'",
	  "ALTER ROLE app_agent IN DATABASE postgres SET statement_timeout = '5s'", "IN DATABASE" },
	{ "alter_role_reset", "ALTER ROLE \"app_agent\" RESET \"statement_timeout\"",
	  "ALTER ROLE app_agent SET statement_timeout = 0", "the edit is a SET" },
	{ "alter_role_reset", "ALTER ROLE \"app_agent\" RESET \"statement_timeout\"",
	  "alter role app_agent reset statement_timeout", NULL },
	/* revoke */
	{ "revoke", "REVOKE DELETE ON TABLE \"public\".\"orders\" FROM \"app_agent\"",
	  "REVOKE DELETE ON public.orders FROM app_agent", NULL },
	{ "revoke", "REVOKE DELETE ON TABLE \"public\".\"orders\" FROM \"app_agent\"",
	  "GRANT DELETE ON public.orders TO app_agent", "is a GRANT" },
	{ "revoke", "REVOKE DELETE ON TABLE \"public\".\"orders\" FROM \"app_agent\"",
	  "REVOKE DELETE ON public.orders FROM app_agent, postgres", "other roles" },
	{ "revoke", "REVOKE DELETE ON TABLE \"public\".\"orders\" FROM \"app_agent\"",
	  "REVOKE SELECT ON public.orders FROM app_agent", "other privileges" },
	{ "revoke", "REVOKE DELETE ON TABLE \"public\".\"orders\" FROM \"app_agent\"",
	  "REVOKE DELETE ON ALL TABLES IN SCHEMA public FROM app_agent", "other objects" },
	{ "revoke", "REVOKE DELETE ON ALL TABLES IN SCHEMA \"public\" FROM \"app_agent\"",
	  "REVOKE DELETE ON ALL TABLES IN SCHEMA public FROM app_agent", NULL },
	/* signals */
	{ "terminate_backend", TERMINATE_SQL, TERMINATE_SQL, NULL },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = 4711", NULL },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (4711, 4712)", NULL },
	{ "terminate_backend", TERMINATE_SQL, "SELECT pg_reload_conf()", "the edit calls pg_reload_conf()" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid), pg_reload_conf() FROM pg_stat_activity WHERE pid = 4711",
	  "the edit calls pg_reload_conf()" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "does not bound every row" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = 4711 OR true",
	  "does not bound every row" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = 1", "does not bound every row" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (4711, 99)",
	  "does not bound every row" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = 4711", "the edit calls pg_cancel_backend()" },
	{ "terminate_backend", TERMINATE_SQL,
	  "WITH d AS (DELETE FROM accounts RETURNING 1) SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = 4711",
	  "contains a DeleteStmt" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity, accounts WHERE pid = 4711",
	  "the edit reads accounts" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) INTO t FROM pg_stat_activity WHERE pid = 4711", "SELECT INTO" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = 4711; SELECT 1", "holds 2 statements" },
	{ "terminate_backend", TERMINATE_SQL, "TRUNCATE accounts", "the edit is a TruncateStmt" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = 4711 AND pg_terminate_backend(999)",
	  "on something else than the row's pid" },
	{ "terminate_backend", TERMINATE_SQL,
	  "SELECT pg_terminate_backend(pid + 1) FROM pg_stat_activity WHERE pid = 4711",
	  "on something else than the row's pid" },
	{ "drop_replication_slot", "SELECT pg_drop_replication_slot('s1')",
	  "SELECT pg_drop_replication_slot('s1') WHERE pg_drop_replication_slot('s2') IS NULL",
	  "calls pg_drop_replication_slot() 2 times" },
	{ "terminate_backend", TERMINATE_SQL, "SELECT 1", "does not call pg_terminate_backend()" },
	{ "cancel_backend", "SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity WHERE (pid = 4711 AND xact_start IS NULL)",
	  "SELECT pg_cancel_backend(4711)", "on something else than the row's pid" },
	{ "cancel_backend", "SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity WHERE (pid = 4711 AND xact_start IS NULL)",
	  "SELECT pg_cancel_backend(pid) FROM pg_stat_activity", "does not bound every row" },
	{ "cancel_backend", "SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity WHERE (pid = 4711 AND xact_start IS NULL)",
	  "SELECT pid, pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity WHERE pid = 4711", NULL },
	/* slots and the server */
	{ "drop_replication_slot", "SELECT pg_drop_replication_slot('s1')", "select pg_drop_replication_slot('s1')", NULL },
	{ "drop_replication_slot", "SELECT pg_drop_replication_slot('s1')", "SELECT pg_drop_replication_slot('s2')",
	  "drops another slot" },
	{ "drop_replication_slot", "SELECT pg_drop_replication_slot('s1')",
	  "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots", "reads pg_replication_slots" },
	{ "rotate_logfile", "SELECT pg_rotate_logfile()", "SELECT pg_rotate_logfile()", NULL },
	{ "rotate_logfile", "SELECT pg_rotate_logfile()", "SELECT pg_rotate_logfile(), pg_reload_conf()",
	  "calls pg_reload_conf()" },
	{ "checkpoint", "CHECKPOINT", "checkpoint", NULL },
	{ "checkpoint", "CHECKPOINT", "SELECT pg_switch_wal()", "the edit is a SelectStmt; checkpoint runs a CheckPointStmt only" },
	{ "shell", "gzip /var/log/x", "rm -rf /", "cannot be edited" },
	{ "checkpoint", "CHECKPOINT", "", "the edit is empty" },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct check_case *c = &cases[i];
		struct proposal *p = proposal_new();
		char err[512] = "";
		int rc;

		p->action = action_find(c->action);
		assert_non_null(p->action);
		proposal_set(&p->sql, c->sql);
		proposal_set(&p->target, "the target");
		rc = action_check_sql(p, c->edit, err, sizeof(err));
		if (!c->refusal && rc != 0)
			fail_msg("case %zu (%s): edit %s refused: %s", i, c->action, c->edit, err);
		if (c->refusal && rc == 0)
			fail_msg("case %zu (%s): edit %s accepted, want refusal with \"%s\"", i,
				 c->action, c->edit, c->refusal);
		if (c->refusal && !strstr(err, c->refusal))
			fail_msg("case %zu (%s): reason \"%s\" lacks \"%s\"", i, c->action, err,
				 c->refusal);
		proposal_free(p);
	}
}

/* The rendered SQL is what the edit is compared with: a proposal without
 * one, or without an action, cannot be checked. */
static void test_no_reference(void **state)
{
	struct proposal *p = proposal_new();
	char err[256];

	(void)state;
	assert_int_equal(action_check_sql(p, "CHECKPOINT", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "names no action"));
	p->action = action_find("checkpoint");
	assert_int_equal(action_check_sql(p, "CHECKPOINT", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no prepared SQL"));
	proposal_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_no_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
