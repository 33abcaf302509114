/*
 * testpg: helpers for integration tests against the throwaway cluster that
 * tests/run.sh starts (COCKPIT_TEST_DSN etc. in the environment).
 */
#ifndef COCKPIT_TESTS_TESTPG_H
#define COCKPIT_TESTS_TESTPG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

/* Skip-proof: abort the test binary with a message when the cluster env is
 * missing (integration tests never silently pass). */
const char *tp_dsn(void);          /* superuser DSN */
const char *tp_monitor_dsn(void);  /* the pg_monitor role cockpit runs as */
const char *tp_env(const char *name);
/* Connect as the superuser with an application_name; fails the test on error. */
PGconn *tp_connect(const char *application_name);
/* Run SQL, fail the test on error. */
void tp_exec(PGconn *c, const char *sql);
/* Send SQL without waiting (it will block). */
void tp_send(PGconn *c, const char *sql);
/* Wait (<= timeout_ms) for the sent query's result; returns its status
 * (PGRES_FATAL_ERROR for errors) and the SQLSTATE into sqlstate (6 bytes). */
ExecStatusType tp_finish(PGconn *c, int timeout_ms, char *sqlstate);
int tp_pid(PGconn *c);
/* Poll until `SELECT <cond>` is true (<= timeout_ms); returns success. */
bool tp_wait(PGconn *c, const char *cond, int timeout_ms);
/* pg_stat_statements on su (a superuser connection): forget role's
 * entries; how many times role ran statements starting with prefix since. */
void tp_statements_reset(PGconn *su, const char *role);
long long tp_statement_calls(PGconn *su, const char *role, const char *prefix);
/* Run "$COCKPIT_BIN args" and parse stdout as JSON; *rc gets the exit code.
 * Returns NULL when stdout is not JSON (stderr is left on the test's). */
json_t *tp_cockpit_json(const char *args, int *rc);
/* Run "$COCKPIT_BIN args" capturing stdout+stderr into a malloc'ed string. */
char *tp_cockpit_output(const char *args, int *rc);
/* Find an element of a JSON array whose integer member key equals v. */
json_t *tp_find(json_t *arr, const char *key, json_int_t v);
json_t *tp_find_str(json_t *arr, const char *key, const char *v);

#endif
