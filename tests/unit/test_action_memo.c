/*
 * test_action_memo: the round's memo of catalog checks without a server.
 * Results are built with libpq's PQmakeEmptyPGresult/PQsetvalue; the
 * connections are real PGconn objects that never connected (a socket
 * directory that does not exist), which is all the memo needs of them: an
 * identity. A result comes back only for the same SQL, the same values (a
 * NULL is not '') and the same connection; failed results are never kept;
 * the entry and byte bounds hold.
 */
#include "act/action.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ROLE_SQL "/* cockpit action: params.role */ SELECT oid FROM pg_roles WHERE rolname = $1"

/* A PGconn that never reaches a server (fails at once: no such socket). */
static PGconn *offline_conn(void)
{
	PGconn *c = PQconnectdb("host=/nonexistent/cockpit-test-memo port=1 connect_timeout=1");

	assert_non_null(c);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	return c;
}

/* One text column "v" with one row holding value (NULL for SQL NULL). */
static PGresult *one_value(const char *value)
{
	PGresAttDesc att = { .name = (char *)"v", .typid = 25, .typlen = -1, .atttypmod = -1 };
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	assert_non_null(r);
	assert_true(PQsetResultAttrs(r, 1, &att));
	assert_true(PQsetvalue(r, 0, 0, (char *)value, value ? (int)strlen(value) : -1));
	return r;
}

static void test_same_check_is_answered(void **state)
{
	struct action_memo *m = action_memo_new();
	PGconn *c = offline_conn();
	const char *v[1] = { "postgres" };
	PGresult *r = one_value("10"), *got, *again;

	(void)state;
	assert_null(action_memo_get(m, c, ROLE_SQL, 1, v));
	action_memo_put(m, c, ROLE_SQL, 1, v, r);
	PQclear(r);  /* the memo keeps its own copy */
	assert_int_equal(action_memo_size(m), 1);
	got = action_memo_get(m, c, ROLE_SQL, 1, v);
	assert_non_null(got);
	assert_int_equal(PQresultStatus(got), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(got), 1);
	assert_int_equal(PQnfields(got), 1);
	assert_string_equal(PQfname(got, 0), "v");
	assert_int_equal(PQftype(got, 0), 25);
	assert_string_equal(PQgetvalue(got, 0, 0), "10");
	/* each answer is the caller's own copy */
	again = action_memo_get(m, c, ROLE_SQL, 1, v);
	assert_non_null(again);
	assert_ptr_not_equal(again, got);
	PQclear(got);
	assert_string_equal(PQgetvalue(again, 0, 0), "10");
	PQclear(again);
	assert_int_equal(action_memo_hits(m), 2);
	/* putting it again keeps one entry */
	r = one_value("10");
	action_memo_put(m, c, ROLE_SQL, 1, v, r);
	PQclear(r);
	assert_int_equal(action_memo_size(m), 1);
	action_memo_free(m);
	PQfinish(c);
}

static void test_other_checks_miss(void **state)
{
	struct action_memo *m = action_memo_new();
	PGconn *c = offline_conn(), *other = offline_conn();
	const char *two[2] = { "a", "b" }, *joined[2] = { "ab", NULL }, *empty[1] = { "" },
		   *null[1] = { NULL }, *role[1] = { "postgres" }, *Role[1] = { "Postgres" };
	PGresult *r = one_value("x");

	(void)state;
	action_memo_put(m, c, "SELECT $1, $2", 2, two, r);
	action_memo_put(m, c, "SELECT $1", 1, empty, r);
	action_memo_put(m, c, ROLE_SQL, 1, role, r);
	PQclear(r);
	assert_int_equal(action_memo_size(m), 3);
	/* values: their split, NULL against '', case */
	assert_null(action_memo_get(m, c, "SELECT $1, $2", 2, joined));
	assert_null(action_memo_get(m, c, "SELECT $1", 1, null));
	assert_null(action_memo_get(m, c, ROLE_SQL, 1, Role));
	/* the SQL text, tag included */
	assert_null(action_memo_get(m, c, "/* cockpit action: resolve */ SELECT $1", 1, empty));
	assert_null(action_memo_get(m, c, ROLE_SQL " ", 1, role));
	/* another connection */
	assert_null(action_memo_get(m, other, ROLE_SQL, 1, role));
	assert_null(action_memo_get(m, NULL, ROLE_SQL, 1, role));
	assert_int_equal(action_memo_hits(m), 0);
	/* the ones that were put still answer */
	r = action_memo_get(m, c, "SELECT $1", 1, empty);
	assert_non_null(r);
	PQclear(r);
	r = action_memo_get(m, c, "SELECT $1, $2", 2, two);
	assert_non_null(r);
	PQclear(r);
	assert_int_equal(action_memo_hits(m), 2);
	action_memo_free(m);
	PQfinish(c);
	PQfinish(other);
}

static void test_failures_are_not_kept(void **state)
{
	struct action_memo *m = action_memo_new();
	PGconn *c = offline_conn();
	const char *v[1] = { "postgres" };
	PGresult *err = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR),
		 *cmd = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);

	(void)state;
	action_memo_put(m, c, ROLE_SQL, 1, v, err);
	action_memo_put(m, c, ROLE_SQL, 1, v, cmd);
	action_memo_put(m, c, ROLE_SQL, 1, v, NULL);
	assert_int_equal(action_memo_size(m), 0);
	assert_null(action_memo_get(m, c, ROLE_SQL, 1, v));
	PQclear(err);
	PQclear(cmd);
	action_memo_free(m);
	PQfinish(c);
}

static void test_no_memo(void **state)
{
	PGconn *c = offline_conn();
	const char *v[1] = { "postgres" };
	PGresult *r = one_value("10");

	(void)state;
	/* NULL is "no memo": every call is a no-op and every check runs live */
	action_memo_put(NULL, c, ROLE_SQL, 1, v, r);
	assert_null(action_memo_get(NULL, c, ROLE_SQL, 1, v));
	assert_int_equal(action_memo_hits(NULL), 0);
	assert_int_equal(action_memo_size(NULL), 0);
	action_memo_free(NULL);
	PQclear(r);
	PQfinish(c);
}

static void test_bounds(void **state)
{
	struct action_memo *m = action_memo_new();
	PGconn *c = offline_conn();
	PGresult *r = one_value("1"), *got;
	char name[32], *big;
	const char *v[1] = { name };

	(void)state;
	for (int i = 0; i < ACTION_MEMO_MAX_ENTRIES + 10; i++) {
		snprintf(name, sizeof(name), "role%d", i);
		action_memo_put(m, c, ROLE_SQL, 1, v, r);
	}
	PQclear(r);
	assert_int_equal(action_memo_size(m), ACTION_MEMO_MAX_ENTRIES);
	snprintf(name, sizeof(name), "role%d", ACTION_MEMO_MAX_ENTRIES - 1);
	got = action_memo_get(m, c, ROLE_SQL, 1, v);
	assert_non_null(got);
	PQclear(got);
	snprintf(name, sizeof(name), "role%d", ACTION_MEMO_MAX_ENTRIES);
	assert_null(action_memo_get(m, c, ROLE_SQL, 1, v));
	action_memo_free(m);

	/* a result larger than the byte bound is not kept */
	m = action_memo_new();
	big = malloc(ACTION_MEMO_MAX_BYTES + 1);
	assert_non_null(big);
	memset(big, 'x', ACTION_MEMO_MAX_BYTES);
	big[ACTION_MEMO_MAX_BYTES] = '\0';
	r = one_value(big);
	snprintf(name, sizeof(name), "big");
	action_memo_put(m, c, ROLE_SQL, 1, v, r);
	assert_int_equal(action_memo_size(m), 0);
	PQclear(r);
	free(big);
	action_memo_free(m);
	PQfinish(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_check_is_answered),
		cmocka_unit_test(test_other_checks_miss),
		cmocka_unit_test(test_failures_are_not_kept),
		cmocka_unit_test(test_no_memo),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
