/*
 * Integration: the executor (src/act/executor.c) against a real PostgreSQL
 * 15. Proposals are built by hand, as prepare() would fill them, and run
 * both synchronously (executor_run_now) and on the executor's thread.
 *
 * Every case checks the server (the session died, the index exists or not)
 * and the audit log (the records of the job, in order, and an intact chain).
 * The cases run in a database of their own, h4x_exec_<pid>, dropped at the end:
 * CREATE INDEX CONCURRENTLY waits (under lock_timeout) for every older
 * transaction of its database, and other tests' sessions must not decide
 * the outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/executor.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "lib/testpg.h"

struct fixture {
	struct config cfg;
	char dir[64];
	char log[128];
	struct audit *audit;
	struct policy_state *policy;
	PGconn *admin;
};

static struct fixture fx;
static char dsn[1024];   /* the superuser DSN, database db */
static char db[64];      /* h4x_exec_<pid>: runs of several builds do not meet */

static PGconn *connect_app(const char *application_name)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { dsn, application_name, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

static int setup(void **state)
{
	char err[512], sql[160];

	(void)state;
	config_init_defaults(&fx.cfg);
	fx.cfg.mode = MODE_ASSIST;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/h4x-executor.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(fx.log, sizeof(fx.log), "%s/audit.jsonl", fx.dir);
	fx.audit = audit_open(fx.log, err, sizeof(err));
	if (!fx.audit)
		fail_msg("%s", err);
	fx.policy = policy_state_new();
	fx.admin = tp_connect("h4x-admin");
	snprintf(db, sizeof(db), "h4x_exec_%d", (int)getpid());
	tp_exec(fx.admin, "SET client_min_messages = warning");
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	tp_exec(fx.admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	tp_exec(fx.admin, sql);
	PQfinish(fx.admin);
	snprintf(dsn, sizeof(dsn), "%s dbname=%s", tp_dsn(), db);
	fx.admin = connect_app("h4x-admin");
	tp_exec(fx.admin, "CREATE TABLE h4x_t (a int, b text)");
	tp_exec(fx.admin, "INSERT INTO h4x_t SELECT g, 'x' || g FROM generate_series(1, 1000) g");
	tp_exec(fx.admin, "CREATE TABLE h4x_dup (a int)");
	tp_exec(fx.admin, "INSERT INTO h4x_dup VALUES (1), (1), (2)");
	tp_exec(fx.admin, "CREATE SEQUENCE h4x_seq");
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	PQfinish(fx.admin);
	fx.admin = tp_connect("h4x-admin");
	snprintf(cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	tp_exec(fx.admin, cmd);
	PQfinish(fx.admin);
	audit_close(fx.audit);
	policy_state_free(fx.policy);
	config_release(&fx.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx.dir);
	return 0;
}

static struct executor_opts opts(void)
{
	return (struct executor_opts){
		.cfg = &fx.cfg, .conninfo = dsn, .audit = fx.audit,
		.policy = fx.policy, .wake_fd = -1,
	};
}

static struct proposal *mk(const char *action, const char *id)
{
	struct proposal *p = proposal_new();

	p->action = action_find(action);
	assert_non_null(p->action);
	proposal_set(&p->id, id);
	p->risk = p->action->risk;
	p->in_transaction = p->action->in_transaction;
	p->confidence = 0.95;
	p->decision = DECISION_APPROVAL;
	p->table_bytes = -1;
	return p;
}

static void set_verify(struct proposal *p, const char *sql, const char *arg, const char *expect,
		       int deadline_s)
{
	proposal_set(&p->verify.sql, sql);
	p->verify.args = arg ? json_pack("[s]", arg) : NULL;
	proposal_set(&p->verify.expect, expect);
	p->verify.wait_s = 0;
	p->verify.deadline_s = deadline_s;
	p->verify.attempts = 1;
}

static char *scalar(const char *sql)
{
	PGresult *r = PQexec(fx.admin, sql);
	char *v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(fx.admin));
	v = xstrdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static bool exists(const char *cond)
{
	char sql[1024], *v;
	bool t;

	snprintf(sql, sizeof(sql), "SELECT EXISTS (%s)", cond);
	v = scalar(sql);
	t = v[0] == 't';
	free(v);
	return t;
}

/* The kinds of the audit records of proposal id, in order, space-separated. */
static char *kinds_of(const char *id)
{
	FILE *f = fopen(fx.log, "r");
	char *line = NULL, *out = NULL;
	size_t cap = 0, len = 0;
	FILE *mem = open_memstream(&out, &len);

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		json_t *r = json_loads(line, 0, NULL);
		const char *pid = json_string_value(json_object_get(r, "proposal_id"));

		if (pid && strcmp(pid, id) == 0)
			fprintf(mem, "%s%s", len || ftell(mem) ? " " : "",
			        json_string_value(json_object_get(r, "kind")));
		json_decref(r);
	}
	free(line);
	fclose(f);
	fclose(mem);
	return out;
}

/* The last record of kind for id (new reference), or NULL. */
static json_t *record_of(const char *id, const char *kind)
{
	FILE *f = fopen(fx.log, "r");
	char *line = NULL;
	size_t cap = 0;
	json_t *found = NULL;

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		json_t *r = json_loads(line, 0, NULL);
		const char *pid = json_string_value(json_object_get(r, "proposal_id"));
		const char *k = json_string_value(json_object_get(r, "kind"));

		if (pid && k && strcmp(pid, id) == 0 && strcmp(k, kind) == 0) {
			json_decref(found);
			found = json_incref(r);
		}
		json_decref(r);
	}
	free(line);
	fclose(f);
	return found;
}

static void assert_chain_intact(void)
{
	struct audit_verify_result res;
	char err[256];

	if (audit_verify(fx.log, &res, err, sizeof(err)) != 0)
		fail_msg("audit chain: %s %s", err, res.reason);
	assert_true(res.records > 0);
}

static void assert_has(const char *s, const char *needle)
{
	if (!s || !strstr(s, needle))
		fail_msg("expected '%s' in '%s'", needle, s ? s : "(null)");
}

/* An idle-in-transaction session and the terminate proposal for it, its
 * guard read from pg_stat_activity (as prepare() does). bad_guard: a
 * backend_start that does not match. */
static struct proposal *terminate_proposal(PGconn *victim, const char *id, bool bad_guard)
{
	struct proposal *p = mk("terminate_backend", id);
	int pid = tp_pid(victim);
	char sql[1024], cond[256], target[32];
	PGresult *r;
	char *bs, *xs, *qs;

	tp_exec(victim, "BEGIN");
	tp_exec(victim, "SELECT 1");
	snprintf(cond, sizeof(cond), "SELECT 1 FROM pg_stat_activity WHERE pid = %d AND state = "
	         "'idle in transaction'", pid);
	snprintf(sql, sizeof(sql), "EXISTS (%s)", cond);
	assert_true(tp_wait(fx.admin, sql, 5000));
	snprintf(sql, sizeof(sql), "SELECT backend_start::text, xact_start::text, "
	         "query_start::text FROM pg_stat_activity WHERE pid = %d", pid);
	r = PQexec(fx.admin, sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	bs = PQescapeLiteral(fx.admin, bad_guard ? "2001-01-01 00:00:00+00" : PQgetvalue(r, 0, 0),
	                     strlen(bad_guard ? "2001-01-01 00:00:00+00" : PQgetvalue(r, 0, 0)));
	xs = PQescapeLiteral(fx.admin, PQgetvalue(r, 0, 1), strlen(PQgetvalue(r, 0, 1)));
	qs = PQescapeLiteral(fx.admin, PQgetvalue(r, 0, 2), strlen(PQgetvalue(r, 0, 2)));
	snprintf(sql, sizeof(sql), "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
	         "WHERE pid = %d AND backend_start = %s::timestamptz AND xact_start IS NOT "
	         "DISTINCT FROM %s::timestamptz AND query_start IS NOT DISTINCT FROM "
	         "%s::timestamptz", pid, bs, xs, qs);
	proposal_set(&p->sql, sql);
	p->guard = json_pack("[{s:i, s:s, s:s, s:s}]", "pid", pid, "backend_start",
	                     PQgetvalue(r, 0, 0), "xact_start", PQgetvalue(r, 0, 1),
	                     "query_start", PQgetvalue(r, 0, 2));
	p->params = json_pack("{s:[i]}", "pids", pid);
	snprintf(target, sizeof(target), "pid %d", pid);
	proposal_set(&p->target, target);
	proposal_set(&p->target_kind, "session");
	p->sessions = 1;
	snprintf(target, sizeof(target), "%d", pid);
	set_verify(p, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int", target,
	           "== 0", 5);
	PQfreemem(bs);
	PQfreemem(xs);
	PQfreemem(qs);
	PQclear(r);
	return p;
}

/* ---------------------------------------------------------------- cases */

static void test_terminate_idle_in_transaction(void **state)
{
	PGconn *victim = connect_app("h4x-victim");
	struct proposal *p = terminate_proposal(victim, "h4x-terminate", false);
	struct executor_opts o = opts();
	struct job_view v;
	char err[512] = "", cond[128], expect[64], *kinds;
	json_t *done;
	int pid = tp_pid(victim);

	(void)state;
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_DONE);
	assert_int_equal(v.state, JOB_DONE);
	snprintf(expect, sizeof(expect), "pg_terminate_backend reached pid %d", pid);
	assert_has(v.detail, expect);
	assert_true(v.baseline == 1);
	assert_true(v.measured == 0);
	assert_true(v.finished_at >= v.started_at && v.started_at > 0);
	snprintf(cond, sizeof(cond), "NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d)",
	         pid);
	assert_true(tp_wait(fx.admin, cond, 1000));
	kinds = kinds_of("h4x-terminate");
	assert_string_equal(kinds, "exec.start verify.baseline exec.done verify.pass");
	free(kinds);
	done = record_of("h4x-terminate", "exec.done");
	assert_non_null(done);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(done, "pids_reached"),
	                                                   0)), pid);
	assert_has(json_string_value(json_object_get(done, "sql")), "pg_terminate_backend");
	json_decref(done);
	done = record_of("h4x-terminate", "exec.start");
	assert_string_equal(json_string_value(json_object_get(done, "decision")), "approval");
	assert_true(json_is_true(json_object_get(done, "accepted")));
	assert_int_equal(json_integer_value(json_object_get(done, "lock_timeout_ms")), 2000);
	json_decref(done);
	assert_chain_intact();

	/* the run is remembered: policy now skips the same action on the same pid */
	p->decision = DECISION_APPROVAL;
	assert_int_equal(policy_decide(&fx.cfg, fx.policy, p, (double)clock_wall_us() / 1e6),
	                 DECISION_SKIP);
	job_view_release(&v);
	proposal_free(p);
	PQfinish(victim);
}

static void test_guard_mismatch(void **state)
{
	PGconn *victim = connect_app("h4x-victim2");
	struct proposal *p = terminate_proposal(victim, "h4x-guard", true);
	struct executor_opts o = opts();
	struct job_view v;
	char err[512] = "", expect[160], cond[128], *kinds;
	int pid = tp_pid(victim);

	(void)state;
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_FAILED);
	snprintf(expect, sizeof(expect), "pid %d is no longer the session of the proposal "
	         "(guard did not match): nothing was signalled", pid);
	assert_has(v.detail, expect);
	assert_has(err, expect);
	/* nobody was reached: the victim is still idle in its transaction */
	snprintf(cond, sizeof(cond), "EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %d AND "
	         "state = 'idle in transaction')", pid);
	assert_true(tp_wait(fx.admin, cond, 0));
	tp_exec(victim, "COMMIT");
	kinds = kinds_of("h4x-guard");
	assert_string_equal(kinds, "exec.start verify.baseline exec.error");
	free(kinds);
	assert_chain_intact();
	job_view_release(&v);
	proposal_free(p);
	PQfinish(victim);
}

/* A verification that gets worse runs the rollback: the index is gone. */
static void test_rollback_on_worse(void **state)
{
	struct proposal *p = mk("create_index", "h4x-rollback");
	struct executor_opts o = opts();
	struct job_view v;
	char err[512] = "", *kinds;
	json_t *fail;

	(void)state;
	proposal_set(&p->sql, "CREATE INDEX CONCURRENTLY h4x_rb_idx ON h4x_t (a)");
	proposal_set(&p->rollback_sql, "DROP INDEX CONCURRENTLY IF EXISTS h4x_rb_idx");
	proposal_set(&p->target, "public.h4x_t");
	p->params = json_pack("{s:s, s:[s], s:s}", "table", "h4x_t", "columns", "a",
	                      "name", "h4x_rb_idx");
	/* a counter that rises with every look: always worse than its baseline */
	set_verify(p, "SELECT nextval('h4x_seq')", NULL, "< baseline", 2);
	if (executor_run_now(&o, p, true, &v, err, sizeof(err)) != JOB_ROLLED_BACK)
		fail_msg("%s: %s", job_state_name(v.state), err);
	assert_has(v.detail, "worse than before (< baseline)");
	assert_has(v.detail, "rolled back: DROP INDEX CONCURRENTLY IF EXISTS h4x_rb_idx");
	assert_true(v.measured > v.baseline);
	assert_false(exists("SELECT 1 FROM pg_class WHERE relname = 'h4x_rb_idx'"));
	kinds = kinds_of("h4x-rollback");
	assert_string_equal(kinds, "exec.start verify.baseline exec.done verify.fail "
	                    "rollback.start rollback.done");
	free(kinds);
	fail = record_of("h4x-rollback", "verify.fail");
	assert_true(json_real_value(json_object_get(fail, "measured")) >
	            json_real_value(json_object_get(fail, "baseline")));
	json_decref(fail);
	assert_chain_intact();
	job_view_release(&v);
	proposal_free(p);
}

/* A verification that fails without getting worse: every attempt, then
 * escalate; the action ran once. */
static void test_verify_escalates(void **state)
{
	struct proposal *p = mk("analyze", "h4x-escalate");
	struct executor_opts o = opts();
	struct job_view v;
	char err[512] = "", *kinds;

	(void)state;
	o.policy = NULL;
	proposal_set(&p->sql, "ANALYZE h4x_t");
	proposal_set(&p->target, "public.h4x_t");
	assert_true(p->in_transaction);
	set_verify(p, "SELECT 5", NULL, "< 1", 1);
	p->verify.attempts = 2;
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_ESCALATED);
	assert_has(err, "verify failed 2 times (5, expected < 1): a human must look");
	assert_true(v.baseline == 5 && v.measured == 5);
	kinds = kinds_of("h4x-escalate");
	assert_string_equal(kinds, "exec.start verify.baseline exec.done verify.fail verify.fail "
	                    "escalate");
	free(kinds);
	assert_true(exists("SELECT 1 FROM pg_stat_user_tables WHERE relname = 'h4x_t' AND "
	                   "last_analyze IS NOT NULL"));
	job_view_release(&v);
	proposal_free(p);
}

/* Stopping drops what is still queued, with a record for each. */
static void test_stop_drops_queued(void **state)
{
	struct proposal *p = mk("analyze", "h4x-dropped");
	struct executor_opts o = opts();
	struct executor *e;
	struct job_view *v;
	size_t n;
	char err[512] = "", *kinds;

	(void)state;
	o.policy = NULL;
	proposal_set(&p->sql, "ANALYZE h4x_t");
	proposal_set(&p->target, "public.h4x_t");
	e = executor_new(&o, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), 0);   /* never started */
	executor_stop(e);
	v = executor_jobs(e, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, JOB_REFUSED);
	assert_has(v[0].detail, "dropped: cockpit stopped before it ran");
	job_views_free(v, n);
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), -1);
	assert_has(err, "the executor is stopping");
	executor_free(e);
	kinds = kinds_of("h4x-dropped");
	assert_string_equal(kinds, "exec.dropped");
	free(kinds);
	proposal_free(p);
}

/* A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an INVALID index: named. */
static void test_invalid_index_reported(void **state)
{
	struct proposal *p = mk("create_index", "h4x-invalid");
	struct executor_opts o = opts();
	struct job_view v;
	char err[512] = "";
	json_t *e;

	(void)state;
	proposal_set(&p->sql, "CREATE UNIQUE INDEX CONCURRENTLY h4x_uq_idx ON h4x_dup (a)");
	proposal_set(&p->rollback_sql, "DROP INDEX CONCURRENTLY IF EXISTS h4x_uq_idx");
	proposal_set(&p->target, "public.h4x_dup");
	p->params = json_pack("{s:s, s:[s], s:s}", "table", "h4x_dup", "columns", "a",
	                      "name", "h4x_uq_idx");
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_FAILED);
	assert_has(v.detail, "create_index failed: ");
	assert_has(v.detail, "23505");
	assert_has(v.detail, "left INVALID index public.h4x_uq_idx: drop it with drop_index");
	assert_true(exists("SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
	                   "WHERE c.relname = 'h4x_uq_idx' AND NOT i.indisvalid"));
	e = record_of("h4x-invalid", "exec.error");
	assert_string_equal(json_string_value(json_object_get(e, "invalid_index")),
	                    "public.h4x_uq_idx");
	json_decref(e);
	tp_exec(fx.admin, "DROP INDEX h4x_uq_idx");
	job_view_release(&v);
	proposal_free(p);
}

static void test_observe_refuses(void **state)
{
	struct proposal *p = mk("create_index", "h4x-observe");
	struct executor_opts o = opts();
	struct job_view v;
	struct executor *e;
	char err[512] = "", *kinds;
	struct stat before, after;

	(void)state;
	proposal_set(&p->sql, "CREATE INDEX CONCURRENTLY h4x_obs_idx ON h4x_t (b)");
	fx.cfg.mode = MODE_OBSERVE;
	assert_int_equal(stat(fx.log, &before), 0);
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_REFUSED);
	assert_has(err, "observe mode: nothing runs");
	assert_int_equal(v.state, JOB_REFUSED);
	e = executor_new(&o, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(executor_start(e), 0);
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), -1);
	assert_has(err, "observe mode");
	executor_free(e);
	fx.cfg.mode = MODE_ASSIST;
	assert_int_equal(stat(fx.log, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	kinds = kinds_of("h4x-observe");
	assert_string_equal(kinds, "");
	free(kinds);
	assert_false(exists("SELECT 1 FROM pg_class WHERE relname = 'h4x_obs_idx'"));
	job_view_release(&v);
	proposal_free(p);
}

static void test_shadow_records_only(void **state)
{
	struct proposal *p = mk("create_index", "h4x-shadow");
	struct executor_opts o = opts();
	struct job_view v;
	char err[512] = "", *kinds;
	json_t *r;

	(void)state;
	proposal_set(&p->sql, "CREATE INDEX CONCURRENTLY h4x_shadow_idx ON h4x_t (b)");
	p->decision = DECISION_ALLOW;
	fx.cfg.mode = MODE_SHADOW;
	/* create_index is medium risk: it would have run once accepted */
	assert_int_equal(executor_run_now(&o, p, false, &v, err, sizeof(err)), JOB_REFUSED);
	assert_has(err, "shadow mode, policy says approval: it runs once an operator accepts it");
	job_view_release(&v);
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_SHADOWED);
	fx.cfg.mode = MODE_ASSIST;
	assert_has(v.detail, "shadow mode");
	assert_false(exists("SELECT 1 FROM pg_class WHERE relname = 'h4x_shadow_idx'"));
	kinds = kinds_of("h4x-shadow");
	assert_string_equal(kinds, "shadow.would_run");
	free(kinds);
	r = record_of("h4x-shadow", "shadow.would_run");
	assert_string_equal(json_string_value(json_object_get(r, "sql")),
	                    "CREATE INDEX CONCURRENTLY h4x_shadow_idx ON h4x_t (b)");
	assert_string_equal(json_string_value(json_object_get(r, "mode")), "shadow");
	json_decref(r);
	job_view_release(&v);
	proposal_free(p);
}

/* Wait until job id is final; its view is copied to *out. */
static void wait_job(struct executor *e, const char *id, struct job_view *out, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		size_t n;
		struct job_view *v = executor_jobs(e, &n);

		for (size_t i = 0; i < n; i++) {
			if (strcmp(v[i].proposal_id, id) == 0 && job_state_final(v[i].state)) {
				*out = v[i];
				memset(&v[i], 0, sizeof(v[i]));
				job_views_free(v, n);
				return;
			}
		}
		job_views_free(v, n);
		usleep(50 * 1000);
	}
	fail_msg("job %s did not finish within %d ms", id, timeout_ms);
}

/* The thread: a terminate, a duplicate submission refused, the job list and
 * the wake pipe. */
static void test_thread_terminate(void **state)
{
	PGconn *victim = connect_app("h4x-victim3");
	struct proposal *p = terminate_proposal(victim, "h4x-thread", false);
	struct executor_opts o = opts();
	struct executor *e;
	struct job_view v;
	char err[512] = "", buf[64], *kinds;
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	o.wake_fd = fds[1];
	o.policy = NULL;
	p->verify.wait_s = 1;
	e = executor_new(&o, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), 0);
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), -1);
	assert_has(err, "a job for this proposal is already queued");
	assert_int_equal(executor_start(e), 0);
	wait_job(e, "h4x-thread", &v, 15000);
	assert_int_equal(v.state, JOB_DONE);
	assert_has(v.detail, "pg_terminate_backend reached pid");
	assert_true(read(fds[0], buf, sizeof(buf)) > 0);
	kinds = kinds_of("h4x-thread");
	assert_string_equal(kinds, "exec.start verify.baseline exec.done verify.pass");
	free(kinds);
	job_view_release(&v);
	/* finished: it may be submitted again (policy is the judge of that) */
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), 0);
	wait_job(e, "h4x-thread", &v, 15000);
	job_view_release(&v);
	executor_free(e);
	assert_chain_intact();
	close(fds[0]);
	close(fds[1]);
	proposal_free(p);
	PQfinish(victim);
}

/* The executor's own backend is terminated mid-statement: outcome unknown,
 * audited, never retried. */
static void test_connection_lost(void **state)
{
	struct proposal *p = mk("analyze", "h4x-lost");
	struct executor_opts o = opts();
	struct executor *e;
	struct job_view v;
	char err[512] = "", *kinds;
	json_t *u;

	(void)state;
	proposal_set(&p->sql, "SELECT pg_sleep(30)");
	proposal_set(&p->target, "public.h4x_t");
	e = executor_new(&o, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(executor_start(e), 0);
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), 0);
	assert_true(tp_wait(fx.admin, "EXISTS (SELECT 1 FROM pg_stat_activity WHERE "
	                    "application_name = 'cockpit-executor' AND datname = "
	                    "current_database() AND query LIKE "
	                    "'%cockpit-executor h4x-lost */ SELECT pg_sleep(30)%')", 10000));
	tp_exec(fx.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	        "application_name = 'cockpit-executor' AND datname = current_database() "
	        "AND query LIKE '%pg_sleep(30)%'");
	wait_job(e, "h4x-lost", &v, 10000);
	assert_int_equal(v.state, JOB_UNKNOWN);
	assert_has(v.detail, "outcome unknown: the connection dropped after the statement was "
	           "sent; check before re-running");
	/* not retried: no new statement, no second start */
	usleep(500 * 1000);
	assert_false(exists("SELECT 1 FROM pg_stat_activity WHERE application_name = "
	                    "'cockpit-executor' AND datname = current_database() AND query "
	                    "LIKE '%pg_sleep(30)%'"));
	kinds = kinds_of("h4x-lost");
	assert_string_equal(kinds, "exec.start exec.unknown");
	free(kinds);
	u = record_of("h4x-lost", "exec.unknown");
	assert_string_equal(json_string_value(json_object_get(u, "outcome")), "unknown");
	json_decref(u);
	job_view_release(&v);

	/* the same action on the same target again: skipped by policy, since
	 * it may have run */
	proposal_set(&p->sql, "SELECT 1");
	proposal_set(&p->id, "h4x-after-lost");
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), -1);
	assert_has(err, "policy says skip");
	assert_has(err, "analyze on public.h4x_t ran ");
	/* elsewhere: the next job reconnects */
	proposal_set(&p->target, "public.h4x_dup");
	assert_int_equal(executor_submit(e, p, true, err, sizeof(err)), 0);
	wait_job(e, "h4x-after-lost", &v, 10000);
	assert_int_equal(v.state, JOB_DONE);
	job_view_release(&v);
	executor_free(e);
	assert_chain_intact();
	proposal_free(p);
}

/* The audit log's disk is full: the job does not run, and says why. */
static void test_audit_disk_full(void **state)
{
	char mnt[128], log[160], fill[160], err[512] = "";
	struct audit *a;
	struct executor_opts o = opts();
	struct proposal *p = mk("create_index", "h4x-full");
	struct job_view v;
	bool mounted;
	struct rlimit old_lim;
	int fd;

	(void)state;
	snprintf(mnt, sizeof(mnt), "%s/tiny", fx.dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	mounted = mount("tmpfs", mnt, "tmpfs", 0, "size=64k") == 0;
	snprintf(log, sizeof(log), "%s/audit.jsonl", mnt);
	a = audit_open(log, err, sizeof(err));
	assert_non_null(a);
	getrlimit(RLIMIT_FSIZE, &old_lim);
	if (mounted) {
		char block[4096];

		memset(block, 'x', sizeof(block));
		snprintf(fill, sizeof(fill), "%s/fill", mnt);
		fd = open(fill, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		while (write(fd, block, sizeof(block)) > 0)
			;
		assert_int_equal(errno, ENOSPC);
		close(fd);
	} else {
		/* no mount (not root): a file size limit has the same effect */
		struct rlimit lim = old_lim;
		struct stat st;

		fprintf(stderr, "mount tmpfs: %s; using RLIMIT_FSIZE\n", strerror(errno));
		signal(SIGXFSZ, SIG_IGN);
		assert_int_equal(stat(log, &st), 0);
		lim.rlim_cur = (rlim_t)st.st_size + 16;
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	}
	o.audit = a;
	proposal_set(&p->sql, "CREATE INDEX CONCURRENTLY h4x_full_idx ON h4x_t (a)");
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_FAILED);
	assert_has(v.detail, log);
	assert_has(v.detail, mounted ? "No space left on device" : "too large");
	assert_has(v.detail, "nothing was executed");
	assert_false(exists("SELECT 1 FROM pg_class WHERE relname = 'h4x_full_idx'"));
	audit_close(a);
	if (mounted) {
		assert_int_equal(umount(mnt), 0);
	} else {
		setrlimit(RLIMIT_FSIZE, &old_lim);
	}
	job_view_release(&v);
	proposal_free(p);
}

/* Shell actions: execve without a shell, output and exit status audited,
 * a timeout ends the process. */
static void test_shell(void **state)
{
	struct proposal *p = mk("shell", "h4x-shell");
	struct executor_opts o = opts();
	struct job_view v;
	char err[512] = "";
	json_t *r;
	struct config_shell_action sa = { 0 };
	char *argv0[] = { (char *)"/bin/sleep", (char *)"30", NULL };
	int64_t t0;

	(void)state;
	p->argv = json_pack("[s, s]", "/bin/echo", "hello $HOME");
	proposal_set(&p->sql, "/bin/echo 'hello $HOME'");
	proposal_set(&p->target, "host");
	p->params = json_pack("{s:s}", "command", "say");
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_DONE);
	assert_has(v.detail, "/bin/echo exited with status 0");
	r = record_of("h4x-shell", "exec.done");
	/* no shell: $HOME stays as written */
	assert_string_equal(json_string_value(json_object_get(r, "stdout")), "hello $HOME\n");
	assert_int_equal(json_integer_value(json_object_get(r, "exit_status")), 0);
	json_decref(r);
	job_view_release(&v);

	/* it ran: the same command on the same target is skipped for now */
	proposal_set(&p->id, "h4x-shell-again");
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_REFUSED);
	assert_has(err, "policy says skip");
	assert_has(err, "shell on host ran ");
	job_view_release(&v);
	o.policy = NULL;   /* no history from here on */

	json_decref(p->argv);
	p->argv = json_pack("[s]", "/bin/false");
	proposal_set(&p->id, "h4x-shell-false");
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_FAILED);
	assert_has(v.detail, "/bin/false exited with status 1");
	job_view_release(&v);

	/* timeout_s from the config's shell action */
	sa.name = (char *)"slow";
	sa.argv = argv0;
	sa.nargv = 2;
	sa.timeout_s = 1;
	fx.cfg.shell_actions = &sa;
	fx.cfg.nshell_actions = 1;
	json_decref(p->argv);
	p->argv = json_pack("[s, s]", "/bin/sleep", "30");
	json_object_set_new(p->params, "command", json_string("slow"));
	proposal_set(&p->id, "h4x-shell-slow");
	t0 = clock_mono_ms();
	assert_int_equal(executor_run_now(&o, p, true, &v, err, sizeof(err)), JOB_FAILED);
	assert_true(clock_mono_ms() - t0 < 10000);
	assert_has(v.detail, "/bin/sleep was killed by signal 15 after its timeout");
	fx.cfg.shell_actions = NULL;
	fx.cfg.nshell_actions = 0;
	r = record_of("h4x-shell-slow", "exec.error");
	assert_true(json_is_true(json_object_get(r, "timed_out")));
	json_decref(r);
	job_view_release(&v);
	assert_chain_intact();
	proposal_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terminate_idle_in_transaction),
		cmocka_unit_test(test_guard_mismatch),
		cmocka_unit_test(test_rollback_on_worse),
		cmocka_unit_test(test_verify_escalates),
		cmocka_unit_test(test_stop_drops_queued),
		cmocka_unit_test(test_invalid_index_reported),
		cmocka_unit_test(test_observe_refuses),
		cmocka_unit_test(test_shadow_records_only),
		cmocka_unit_test(test_thread_terminate),
		cmocka_unit_test(test_connection_lost),
		cmocka_unit_test(test_audit_disk_full),
		cmocka_unit_test(test_shell),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
