/*
 * testpg: integration-test helpers; see testpg.h.
 */
#include "lib/testpg.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tp_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "integration test: %s is not set; run through tests/run.sh "
			"(make check), which starts the PostgreSQL cluster\n", name);
		exit(1);
	}
	return v;
}

const char *tp_dsn(void)
{
	return tp_env("COCKPIT_TEST_DSN");
}

const char *tp_monitor_dsn(void)
{
	return tp_env("COCKPIT_TEST_MONITOR_DSN");
}

PGconn *tp_connect(const char *application_name)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { tp_dsn(), application_name, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

void tp_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

void tp_send(PGconn *c, const char *sql)
{
	if (!PQsendQuery(c, sql))
		fail_msg("send %s: %s", sql, PQerrorMessage(c));
}

ExecStatusType tp_finish(PGconn *c, int timeout_ms, char *sqlstate)
{
	ExecStatusType st = PGRES_COMMAND_OK;
	PGresult *r;
	struct pollfd p = { PQsocket(c), POLLIN, 0 };
	int waited = 0;

	if (sqlstate)
		sqlstate[0] = '\0';
	while (PQisBusy(c)) {
		if (waited >= timeout_ms)
			fail_msg("query did not finish within %d ms", timeout_ms);
		poll(&p, 1, 50);
		waited += 50;
		PQconsumeInput(c);
	}
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
			st = PGRES_FATAL_ERROR;
			if (sqlstate && PQresultErrorField(r, PG_DIAG_SQLSTATE))
				snprintf(sqlstate, 6, "%s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
		}
		PQclear(r);
	}
	return st;
}

int tp_pid(PGconn *c)
{
	return PQbackendPID(c);
}

bool tp_wait(PGconn *c, const char *cond, int timeout_ms)
{
	char sql[2048];

	snprintf(sql, sizeof(sql), "SELECT (%s)::bool", cond);
	for (int waited = 0; waited <= timeout_ms; waited += 100) {
		PGresult *r = PQexec(c, sql);
		bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';

		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		PQclear(r);
		if (ok)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

void tp_statements_reset(PGconn *su, const char *role)
{
	const char *v[1] = { role };
	PGresult *r = PQexecParams(su, "SELECT pg_stat_statements_reset("
				       "(SELECT oid FROM pg_roles WHERE rolname = $1), 0, 0)",
				   1, NULL, v, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("pg_stat_statements_reset: %s", PQerrorMessage(su));
	PQclear(r);
}

long long tp_statement_calls(PGconn *su, const char *role, const char *prefix)
{
	const char *v[2] = { role, prefix };
	PGresult *r = PQexecParams(su, "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s "
				       "JOIN pg_roles r ON r.oid = s.userid "
				       "WHERE r.rolname = $1 AND starts_with(s.query, $2)",
				   2, NULL, v, NULL, NULL, 0);
	long long n;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("pg_stat_statements: %s", PQerrorMessage(su));
	n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

char *tp_cockpit_output(const char *args, int *rc)
{
	char cmd[4096], *out = NULL;
	size_t len = 0;
	FILE *f, *mem = open_memstream(&out, &len);
	int c;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tp_env("COCKPIT_BIN"), args);
	f = popen(cmd, "r");
	if (!f)
		fail_msg("popen %s", cmd);
	while ((c = fgetc(f)) != EOF)
		fputc(c, mem);
	c = pclose(f);
	*rc = WIFEXITED(c) ? WEXITSTATUS(c) : 128;
	fclose(mem);
	return out;
}

json_t *tp_cockpit_json(const char *args, int *rc)
{
	char cmd[4096];
	FILE *f;
	json_t *j;
	json_error_t e;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s", tp_env("COCKPIT_BIN"), args);
	f = popen(cmd, "r");
	if (!f)
		fail_msg("popen %s", cmd);
	j = json_loadf(f, 0, &e);
	st = pclose(f);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (!j)
		fprintf(stderr, "cockpit %s: output is not JSON: %s (line %d)\n", args, e.text, e.line);
	return j;
}

json_t *tp_find(json_t *arr, const char *key, json_int_t v)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		json_t *k = json_object_get(e, key);

		if (json_is_integer(k) && json_integer_value(k) == v)
			return e;
	}
	return NULL;
}

json_t *tp_find_str(json_t *arr, const char *key, const char *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		json_t *k = json_object_get(e, key);

		if (json_is_string(k) && strcmp(json_string_value(k), v) == 0)
			return e;
	}
	return NULL;
}
