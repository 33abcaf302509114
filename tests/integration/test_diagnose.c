/*
 * Integration: detect + diagnose against a real PostgreSQL 15, runbook by
 * runbook. Each test runs the runbook's own drill (its setup, each session
 * on its own connection sent and left running, settle_s, cleanup) with the
 * tp_* helpers, collects a snapshot as cockpit does (collector_collect, as
 * the pg_monitor role), detects, diagnoses on a real connection and checks
 * the proposal: the expected action on the expected target — the root
 * blocker's pid and never a waiter's, the agent's running statements, the
 * role, the slot, the table.
 *
 * Precision too: a healthy server's sessions are never named by an
 * incident, a waiter is never a target, a plain lock wait is not a deadlock.
 *
 * One round, one memo: three agent-runaway incidents of one role, diagnosed
 * together, send each of their identical checks (the role, its settings,
 * the setting, the value, the context queries) once — pg_stat_statements of
 * the monitor role says so — and come out with the same proposals; the next
 * diagnose_all() sends them again, and so does each incident diagnosed
 * without a memo.
 *
 * Drills whose incident needs a threshold no sandbox reaches (disk 85%,
 * 90% of max_connections, a minute idle in transaction) lower that one
 * threshold in the test's config, as each drill's comment says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/action.h"
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "perceive/collector.h"
#include "perceive/snapshot.h"
#include "think/detect.h"
#include "think/diagnose.h"
#include "think/runbook.h"
#include "lib/observe.h"
#include "lib/testpg.h"

struct env {
	struct config cfg;
	struct runbook_set set;
	PGconn *conn;                /* the monitor role, as cockpit runs */
	struct snapshot *snap;
	struct incident_list incidents;
};

struct drill {
	PGconn *setup;
	PGconn *s[32];
	int pid[32];
	size_t n;
	const struct runbook *rb;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const char *top = getenv("COCKPIT_TOP");
	char dir[4096], *errs = NULL, conninfo[1024];

	config_init_defaults(&e->cfg);
	snprintf(dir, sizeof(dir), "%s/runbooks", top && *top ? top : ".");
	runbook_load_dir(dir, &e->set, &errs);
	/* Other runbooks' problems are theirs; ours must all be loaded. */
	free(errs);
	snprintf(conninfo, sizeof(conninfo), "%s application_name=cockpit-test-diagnose", tp_monitor_dsn());
	e->conn = PQconnectdb(conninfo);
	if (PQstatus(e->conn) != CONNECTION_OK)
		fail_msg("cannot connect as the monitor role: %s", PQerrorMessage(e->conn));
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	incident_list_release(&e->incidents);
	if (e->snap)
		snapshot_unref(e->snap);
	PQfinish(e->conn);
	runbook_set_release(&e->set);
	config_release(&e->cfg);
	free(e);
	return 0;
}

static const struct runbook *need(struct env *e, const char *name)
{
	const struct runbook *rb = runbook_find(&e->set, name);

	if (!rb)
		fail_msg("runbook %s did not load from runbooks/", name);
	return rb;
}

static void drill_up(struct drill *d, const struct runbook *rb)
{
	memset(d, 0, sizeof(*d));
	d->rb = rb;
	d->setup = tp_connect("drill-setup");
	if (rb->drill.setup)
		tp_exec(d->setup, rb->drill.setup);
	assert_true(rb->drill.nsessions <= 32);
	for (size_t i = 0; i < rb->drill.nsessions; i++) {
		char app[128];

		snprintf(app, sizeof(app), "drill-%s-%zu", rb->name, i + 1);
		d->s[i] = tp_connect(app);
		d->pid[i] = tp_pid(d->s[i]);
		tp_send(d->s[i], rb->drill.sessions[i]);
		d->n++;
	}
	clock_sleep_ms((int64_t)rb->drill.settle_s * 1000);
}

static void drill_down(struct drill *d)
{
	for (size_t i = 0; i < d->n; i++) {
		PGcancel *c = PQgetCancel(d->s[i]);
		char buf[256];

		/* A sleeping backend does not notice a closed socket: cancel it. */
		if (c) {
			PQcancel(c, buf, sizeof(buf));
			PQfreeCancel(c);
		}
		PQfinish(d->s[i]);
	}
	if (d->rb->drill.cleanup)
		tp_exec(d->setup, d->rb->drill.cleanup);
	PQfinish(d->setup);
}

static void dump(const struct incident *in)
{
	json_t *j = incident_to_json(in);
	char *s = json_dumps(j, JSON_INDENT(1));

	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(j);
}

/* Collect, detect with every runbook, diagnose every incident. */
static void observe(struct env *e)
{
	tp_observe(&e->cfg, &e->set, e->conn, &e->snap, &e->incidents);
	/* COCKPIT_TEST_DUMP=1: print what was found, to read it. */
	if (getenv("COCKPIT_TEST_DUMP"))
		for (size_t i = 0; i < e->incidents.n; i++)
			dump(&e->incidents.v[i]);
}

static struct incident *incident_with_key(struct env *e, const char *prefix)
{
	for (size_t i = 0; i < e->incidents.n; i++)
		if (strncmp(e->incidents.v[i].key, prefix, strlen(prefix)) == 0)
			return &e->incidents.v[i];
	return NULL;
}

static struct proposal *proposal_of(struct incident *in, const char *action)
{
	for (size_t i = 0; i < in->nproposals; i++)
		if (in->proposals[i]->action && strcmp(in->proposals[i]->action->name, action) == 0)
			return in->proposals[i];
	return NULL;
}

static struct proposal *expect_proposal(struct incident *in, const char *action)
{
	struct proposal *p;

	assert_non_null(in);
	p = proposal_of(in, action);
	if (!p) {
		dump(in);
		fail_msg("incident %s has no %s proposal (escalation: %s)", in->key, action,
			 in->escalation ? in->escalation : "none");
	}
	assert_non_null(p->sql);
	assert_non_null(p->target);
	assert_non_null(p->id);
	assert_string_equal(p->origin, "rule");
	assert_string_equal(p->incident_key, in->key);
	return p;
}

static bool pids_contain(const json_t *params, int pid)
{
	json_t *pids = json_object_get(params, "pids"), *v;
	size_t i;

	json_array_foreach(pids, i, v)
		if (json_integer_value(v) == pid)
			return true;
	return false;
}

/* No proposal of any incident signals pid. */
static void never_targeted(struct env *e, int pid)
{
	for (size_t i = 0; i < e->incidents.n; i++)
		for (size_t k = 0; k < e->incidents.v[i].nproposals; k++)
			if (pids_contain(e->incidents.v[i].proposals[k]->params, pid))
				fail_msg("pid %d (a victim) is a target of %s", pid, e->incidents.v[i].key);
}

static bool array_has_pid(const json_t *a, int pid)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_integer_value(v) == pid)
			return true;
	return false;
}

/* Does compact JSON text hold "pid":N (N whole)? */
static bool names_pid(const char *text, int pid)
{
	char needle[32];
	size_t n = (size_t)snprintf(needle, sizeof(needle), "\"pid\":%d", pid);

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		if (p[n] < '0' || p[n] > '9')
			return true;
	return false;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_lock_chain(void **state)
{
	struct env *e = *state;
	struct drill d;
	struct incident *in;
	struct proposal *p;
	char key[64], target[64];

	drill_up(&d, need(e, "lock-chain"));
	observe(e);
	snprintf(key, sizeof(key), "lock-chain/pid=%d/", d.pid[0]);
	in = incident_with_key(e, key);
	if (!in)
		fail_msg("no lock-chain incident for the drill's root pid %d", d.pid[0]);
	assert_int_equal(json_integer_value(runbook_path(in->evidence, "root.pid")), d.pid[0]);
	assert_string_equal(json_string_value(runbook_path(in->evidence, "root.state")), "idle in transaction");
	assert_true(array_has_pid(runbook_path(in->evidence, "waiter_pids"), d.pid[1]));
	assert_true(array_has_pid(runbook_path(in->evidence, "waiter_pids"), d.pid[2]));
	assert_true(json_is_array(json_object_get(in->context, "blocker_locks")));
	/* Idle in transaction: terminate (not cancel), the root and only it. */
	assert_null(proposal_of(in, "cancel_backend"));
	p = expect_proposal(in, "terminate_backend");
	assert_true(pids_contain(p->params, d.pid[0]));
	assert_int_equal(json_array_size(json_object_get(p->params, "pids")), 1);
	snprintf(target, sizeof(target), "%d", d.pid[0]);
	assert_non_null(strstr(p->target, target));
	assert_non_null(p->verify.sql);
	assert_string_equal(json_string_value(json_array_get(p->verify.args, 0)), target);
	assert_non_null(p->rationale);
	assert_non_null(strstr(p->rationale, target));
	/* The victims are never targets; a plain lock wait is not a deadlock;
	 * the waiters are not idle-in-transaction incidents either. */
	never_targeted(e, d.pid[1]);
	never_targeted(e, d.pid[2]);
	for (size_t i = 0; i < e->incidents.n; i++) {
		const struct incident *x = &e->incidents.v[i];
		json_t *cyc = runbook_path(x->evidence, "live_cycles"), *c;
		size_t k;

		if (strcmp(x->runbook, "deadlock") == 0)
			json_array_foreach(cyc, k, c)
				for (int s = 0; s < 3; s++)
					assert_false(array_has_pid(c, d.pid[s]));
		if (strcmp(x->runbook, "idle-in-transaction") == 0)
			assert_int_not_equal(json_integer_value(runbook_path(x->evidence, "session.pid")),
					     d.pid[0]);
	}
	drill_down(&d);
}

static void test_idle_in_transaction(void **state)
{
	struct env *e = *state;
	struct drill d;
	struct incident *in;
	struct proposal *p;
	char key[64];

	/* The drill's comment: idle_in_transaction_s below settle_s. */
	e->cfg.thresholds.idle_in_transaction_s = 1;
	drill_up(&d, need(e, "idle-in-transaction"));
	observe(e);
	snprintf(key, sizeof(key), "idle-in-transaction/pid=%d/", d.pid[0]);
	in = incident_with_key(e, key);
	if (!in)
		fail_msg("no idle-in-transaction incident for pid %d", d.pid[0]);
	assert_string_equal(json_string_value(runbook_path(in->evidence, "reasons.0")), "idle");
	p = expect_proposal(in, "terminate_backend");
	assert_true(pids_contain(p->params, d.pid[0]));
	p = expect_proposal(in, "alter_role_set");
	assert_string_equal(json_string_value(json_object_get(p->params, "setting")),
			    "idle_in_transaction_session_timeout");
	assert_string_equal(json_string_value(json_object_get(p->params, "role")),
			    json_string_value(runbook_path(in->evidence, "session.user")));
	drill_down(&d);
	e->cfg.thresholds.idle_in_transaction_s = 60;
}

static void test_agent_runaway(void **state)
{
	struct env *e = *state;
	struct drill d;
	struct incident *in;
	struct proposal *p;
	json_t *pids, *v;
	size_t i;

	drill_up(&d, need(e, "agent-runaway"));
	observe(e);
	in = incident_with_key(e, "agent-runaway/drill_runaway");
	if (!in)
		fail_msg("no agent-runaway incident for agent drill_runaway");
	assert_int_equal(json_integer_value(runbook_path(in->evidence, "agent.sessions")), (json_int_t)d.n);
	p = expect_proposal(in, "cancel_backend");
	/* Its own running statements, oldest first, at most max_sessions. */
	pids = json_object_get(p->params, "pids");
	assert_true(json_array_size(pids) >= 1);
	assert_true(json_array_size(pids) <= (size_t)e->cfg.policy.max_sessions);
	json_array_foreach(pids, i, v) {
		bool mine = false;

		for (size_t k = 0; k < d.n; k++)
			mine |= json_integer_value(v) == d.pid[k];
		assert_true(mine);
	}
	p = expect_proposal(in, "alter_role_set");
	assert_string_equal(json_string_value(json_object_get(p->params, "setting")), "statement_timeout");
	drill_down(&d);
}

static void test_agent_hygiene(void **state)
{
	struct env *e = *state;
	struct drill d;
	struct incident *in;
	struct proposal *p;
	bool st = false, it = false;

	drill_up(&d, need(e, "agent-hygiene"));
	observe(e);
	in = incident_with_key(e, "agent-hygiene/agent_drill");
	if (!in)
		fail_msg("no agent-hygiene incident for role agent_drill");
	assert_true(json_is_true(runbook_path(in->evidence, "missing_statement_timeout")));
	assert_string_equal(json_string_value(runbook_path(in->evidence, "delete_table")), "public.drill_hygiene");
	for (size_t i = 0; i < in->nproposals; i++) {
		p = in->proposals[i];
		if (strcmp(p->action->name, "alter_role_set") != 0)
			continue;
		assert_string_equal(json_string_value(json_object_get(p->params, "role")), "agent_drill");
		st |= strcmp(json_string_value(json_object_get(p->params, "setting")), "statement_timeout") == 0;
		it |= strcmp(json_string_value(json_object_get(p->params, "setting")),
			     "idle_in_transaction_session_timeout") == 0;
	}
	assert_true(st && it);
	p = expect_proposal(in, "revoke");
	assert_string_equal(json_string_value(json_object_get(p->params, "privilege")), "DELETE");
	assert_string_equal(json_string_value(json_object_get(p->params, "table")), "public.drill_hygiene");
	drill_down(&d);
}

static void test_bloat(void **state)
{
	struct env *e = *state;
	struct drill d;
	struct incident *in;
	struct proposal *p;

	drill_up(&d, need(e, "bloat"));
	/* The statistics arrive a moment after the DELETE commits. */
	assert_true(tp_wait(d.setup, "coalesce((SELECT n_dead_tup >= 15000 FROM pg_stat_user_tables "
				     "WHERE relname = 'drill_bloat'), false)", 15000));
	observe(e);
	in = incident_with_key(e, "bloat/public.drill_bloat");
	if (!in)
		fail_msg("no bloat incident for public.drill_bloat");
	assert_true(json_is_true(runbook_path(in->evidence, "autovacuum_stalled")));
	p = expect_proposal(in, "vacuum");
	assert_string_equal(json_string_value(json_object_get(p->params, "table")), "public.drill_bloat");
	/* VACUUM FULL only as the high-risk alternative, its lock spelled out. */
	for (size_t i = 0; i < in->nproposals; i++)
		if (json_is_true(json_object_get(in->proposals[i]->params, "full"))) {
			assert_true(in->proposals[i]->risk >= RISK_HIGH);
			assert_non_null(strstr(in->proposals[i]->rationale, "ACCESS EXCLUSIVE"));
		}
	drill_down(&d);
}

static void test_disk_space(void **state)
{
	struct env *e = *state;
	struct drill d;
	struct incident *in;
	struct proposal *p;

	/* The drill's comment: warn below the volume's current use. */
	e->cfg.thresholds.disk_warn_pct = 1;
	drill_up(&d, need(e, "disk-space"));
	assert_true(tp_wait(d.setup, "coalesce((SELECT n_dead_tup >= 15000 FROM pg_stat_user_tables "
				     "WHERE relname = 'drill_disk'), false)", 15000));
	observe(e);
	in = incident_with_key(e, "disk-space/");
	if (!in)
		fail_msg("no disk-space incident (is the data directory measurable? %s)",
			 e->snap->disk.fs_known ? "yes" : "no");
	assert_true(json_integer_value(runbook_path(in->evidence, "inactive_slot_count")) >= 1);
	p = expect_proposal(in, "drop_replication_slot");
	assert_string_equal(json_string_value(json_object_get(p->params, "slot")), "drill_disk_slot");
	assert_true(p->risk >= RISK_HIGH);
	/* The breakdown names the bloated table; VACUUM of the worst one. */
	assert_non_null(tp_find_str(runbook_path(in->evidence, "bloated_tables"), "table", "public.drill_disk"));
	p = expect_proposal(in, "vacuum");
	assert_string_equal(json_string_value(json_object_get(p->params, "table")),
			    json_string_value(runbook_path(in->evidence, "bloated_table.table")));
	drill_down(&d);
	e->cfg.thresholds.disk_warn_pct = 85;
}

static void test_connection_exhaustion(void **state)
{
	struct env *e = *state;
	struct drill d;
	struct incident *in;
	struct proposal *p;
	json_t *cands, *v;
	size_t i;

	drill_up(&d, need(e, "connection-exhaustion"));
	/* The drill's comment: a threshold the drill's sessions reach. */
	e->cfg.thresholds.connections_pct = 1;
	observe(e);
	in = incident_with_key(e, "connection-exhaustion");
	if (!in)
		fail_msg("no connection-exhaustion incident");
	assert_true(json_integer_value(runbook_path(in->evidence, "connections")) >= (json_int_t)d.n);
	p = expect_proposal(in, "terminate_backend");
	/* Only idle sessions the detector named, never cockpit's own. */
	cands = runbook_path(in->evidence, "candidates");
	json_array_foreach(json_object_get(p->params, "pids"), i, v) {
		json_t *c = tp_find(cands, "pid", json_integer_value(v));

		assert_non_null(c);
		assert_string_equal(json_string_value(json_object_get(c, "state")), "idle");
		assert_true(strncmp(json_string_value(json_object_get(c, "application")), "cockpit", 7) != 0);
	}
	drill_down(&d);
	e->cfg.thresholds.connections_pct = 90;
}

static void test_healthy_sessions_are_never_named(void **state)
{
	struct env *e = *state;
	PGconn *c[4];
	int pid[4];

	for (int i = 0; i < 4; i++) {
		c[i] = tp_connect("healthy-app");
		pid[i] = tp_pid(c[i]);
		tp_exec(c[i], "SELECT count(*) FROM pg_class");
	}
	/* One short transaction in flight, committed at once. */
	tp_exec(c[0], "BEGIN; SELECT 1; COMMIT");
	observe(e);
	for (size_t i = 0; i < e->incidents.n; i++) {
		const struct incident *in = &e->incidents.v[i];
		char *text = json_dumps(in->evidence, JSON_COMPACT);

		for (int k = 0; k < 4; k++) {
			if (names_pid(text, pid[k]))
				fail_msg("a healthy session (pid %d) is named by %s", pid[k], in->key);
			never_targeted(e, pid[k]);
		}
		free(text);
		/* Nothing session-based may come from these sessions at all. */
		assert_null(strstr(in->key, "healthy-app"));
	}
	for (int i = 0; i < 4; i++)
		PQfinish(c[i]);
}

/* Forget in's proposals, to diagnose it again. */
static void drop_proposals(struct incident *in)
{
	for (size_t i = 0; i < in->nproposals; i++)
		proposal_free(in->proposals[i]);
	free(in->proposals);
	in->proposals = NULL;
	in->nproposals = 0;
}

/* An agent-runaway incident of agent id for role, as the detector writes
 * it, with no session of its own (only the role's proposal applies). */
static void add_runaway(struct env *e, struct incident_list *l, const char *id, const char *role)
{
	char key[64];
	json_t *ev = json_pack("{s:{s:s, s:i, s:i, s:i}, s:[s], s:[], s:i, s:[], s:i, s:[], s:s, "
			       "s:[{s:s, s:i}], s:s}",
			       "agent", "agent_id", id, "sessions", 0, "active", 0, "idle", 0,
			       "reasons", "sessions", "active_pids", "active_count", 0,
			       "idle_pids", "idle_count", 0, "sessions", "role", role,
			       "roles", "name", role, "count", 1, "suggested_statement_timeout", "90s");

	assert_non_null(ev);
	snprintf(key, sizeof(key), "agent-runaway/%s", id);
	incident_list_add(l, need(e, "agent-runaway"), key, "an agent of the memo test", ev);
}

static void test_round_memo(void **state)
{
	static const char *const checks[] = {
		"/* cockpit action: params.role */ SELECT oid FROM pg_roles",
		"/* cockpit action: params.role */ SELECT cfg FROM pg_db_role_setting",
		"/* cockpit action: params.setting */ SELECT",
		"/* cockpit action */ SELECT rolsuper",
		"/* cockpit action: value check */ BEGIN",
		"/* cockpit action: value check */ SELECT set_config",
		"/* cockpit diagnose: agent-runaway/agent_sessions */",
		"/* cockpit diagnose: agent-runaway/role_settings */",
		"/* cockpit diagnose */ BEGIN READ ONLY",
	};
	struct env *e = *state;
	struct incident_list l = { NULL, 0 };
	struct diagnose_ctx gc;
	PGconn *su = tp_connect("diagnose-memo");
	const char *mon = PQuser(e->conn);
	struct proposal *first;

	tp_exec(su, "DROP ROLE IF EXISTS h_memo_agent; CREATE ROLE h_memo_agent; "
		    "ALTER ROLE h_memo_agent SET work_mem = '8MB'");
	observe(e);  /* a snapshot, as diagnose needs one */
	for (int i = 0; i < 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "memo_%d", i);
		add_runaway(e, &l, id, "h_memo_agent");
	}
	gc = (struct diagnose_ctx){ .conn = e->conn, .snap = e->snap, .cfg = &e->cfg,
				    .runbooks = &e->set, .now = (double)clock_wall_us() / 1e6 };
	tp_statements_reset(su, mon);

	/* One round: each check once, the same proposal for each incident. */
	assert_int_equal(diagnose_all(&gc, &l), 3);
	for (size_t k = 0; k < sizeof(checks) / sizeof(checks[0]); k++)
		if (tp_statement_calls(su, mon, checks[k]) != 1)
			fail_msg("%s ran %lld times in one round of 3 incidents, want once", checks[k],
				 tp_statement_calls(su, mon, checks[k]));
	first = expect_proposal(&l.v[0], "alter_role_set");
	assert_string_equal(first->sql, "ALTER ROLE \"h_memo_agent\" SET \"statement_timeout\" = '90s'");
	for (size_t i = 1; i < l.n; i++) {
		struct proposal *p = expect_proposal(&l.v[i], "alter_role_set");

		assert_string_equal(p->sql, first->sql);
		assert_string_equal(p->rollback_sql, first->rollback_sql);
		assert_string_equal(p->diff, first->diff);
		assert_true(json_equal(l.v[i].context, l.v[0].context));
	}
	/* the role's one row of settings, in every incident's context */
	assert_int_equal(json_array_size(json_object_get(l.v[0].context, "role_settings")), 1);
	assert_int_equal(PQtransactionStatus(e->conn), PQTRANS_IDLE);

	/* The next round asks again: nothing is kept between rounds. */
	for (size_t i = 0; i < l.n; i++)
		drop_proposals(&l.v[i]);
	assert_int_equal(diagnose_all(&gc, &l), 3);
	for (size_t k = 0; k < sizeof(checks) / sizeof(checks[0]); k++)
		assert_int_equal(tp_statement_calls(su, mon, checks[k]), 2);

	/* No memo: each incident checks live. */
	for (size_t i = 0; i < l.n; i++) {
		drop_proposals(&l.v[i]);
		assert_int_equal(diagnose_incident(&gc, &l.v[i]), 1);
	}
	for (size_t k = 0; k < sizeof(checks) / sizeof(checks[0]); k++)
		assert_int_equal(tp_statement_calls(su, mon, checks[k]), 5);

	incident_list_release(&l);
	tp_exec(su, "DROP ROLE h_memo_agent");
	PQfinish(su);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy_sessions_are_never_named),
		cmocka_unit_test(test_lock_chain),
		cmocka_unit_test(test_idle_in_transaction),
		cmocka_unit_test(test_agent_runaway),
		cmocka_unit_test(test_agent_hygiene),
		cmocka_unit_test(test_bloat),
		cmocka_unit_test(test_disk_space),
		cmocka_unit_test(test_connection_exhaustion),
		cmocka_unit_test(test_round_memo),
	};

	return cmocka_run_group_tests_name("diagnose", tests, setup, teardown);
}
