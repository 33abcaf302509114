/*
 * Unit tests for think/detect.c: every detector on snapshots built in
 * memory (sessions, wait-for edges + snapshot_build_locks(), statements,
 * disk, agents), for recall (the incident is there, with the evidence the
 * runbooks bind to) and for precision (a waiter is never the target, a
 * plain lock wait is not a deadlock, cockpit's own sessions are never
 * targets, a healthy server gives nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "perceive/agents.h"
#include "perceive/snapshot.h"
#include "think/detect.h"
#include "think/runbook.h"

#define NOW 1700000000.0

/* ---- fixtures ------------------------------------------------------------ */

struct sess {
	int pid;
	const char *state;
	double state_age;        /* seconds before NOW */
	double xact_age;
	const char *app;
	const char *user;
	const char *wait;        /* wait_event_type */
	int64_t xmin_age;
	const char *agent;
};

struct edge {
	int waiter, blocker;
	double waited;           /* seconds before NOW the wait began; 0 unknown */
};

static struct snapshot *make(const struct sess *ss, size_t ns, const struct edge *es, size_t ne)
{
	struct snapshot *s = snapshot_new();

	s->connected = true;
	s->server.now = NOW;
	s->collected_at = NOW;
	s->server.max_connections = 100;
	s->sessions = arena_alloc(&s->arena, (ns ? ns : 1) * sizeof(*s->sessions));
	s->nsessions = ns;
	for (size_t i = 0; i < ns; i++) {
		struct snap_session *x = &s->sessions[i];

		memset(x, 0, sizeof(*x));
		x->pid = ss[i].pid;
		x->state = ss[i].state;
		x->backend_type = "client backend";
		x->user = ss[i].user ? ss[i].user : "app";
		x->database = "shop";
		x->application = ss[i].app ? ss[i].app : "web";
		x->wait_event_type = ss[i].wait;
		x->backend_start = NOW - 3600 - ss[i].pid;
		x->state_change = NOW - ss[i].state_age;
		x->query_start = NOW - ss[i].state_age;
		x->xact_start = ss[i].xact_age > 0 ? NOW - ss[i].xact_age : 0;
		x->xmin_age = ss[i].xmin_age ? ss[i].xmin_age : -1;
		x->query = "UPDATE t SET v = v + 1 WHERE id = 1";
		x->agent_id = ss[i].agent;
	}
	s->edges = arena_alloc(&s->arena, (ne ? ne : 1) * sizeof(*s->edges));
	s->nedges = ne;
	for (size_t i = 0; i < ne; i++)
		s->edges[i] = (struct lockgraph_edge){ es[i].waiter, es[i].blocker, true, "ShareLock",
						       "transactionid", "public.t",
						       es[i].waited > 0 ? NOW - es[i].waited : 0 };
	snapshot_build_locks(s);
	return s;
}

#define MAKE(ss, es) make(ss, sizeof(ss) / sizeof((ss)[0]), es, sizeof(es) / sizeof((es)[0]))

struct fx {
	struct config cfg;
	struct runbook_set set;
	struct incident_list out;
};

#define DRILL "drill: {setup: SELECT 1, cleanup: SELECT 1}\n"

static const char *const runbook_yaml[] = {
	"name: lock-chain\ntitle: t\nseverity: critical\nreport_only: true\nguidance: g\n"
	"trigger: {detector: lock_chain, thresholds: {min_waiters: 1, wait_ms: 0}}\n" DRILL,
	"name: deadlock\ntitle: t\nseverity: warning\nreport_only: true\nguidance: g\n"
	"trigger: {detector: deadlock, thresholds: {window_s: 3600}}\n" DRILL,
	"name: slow-query\ntitle: t\nseverity: warning\nreport_only: true\nguidance: g\n"
	"trigger: {detector: slow_query, thresholds: {min_calls: 2}}\n" DRILL,
	"name: disk-space\ntitle: t\nseverity: warning\nreport_only: true\nguidance: g\n"
	"trigger: {detector: disk_space}\n" DRILL,
	"name: bloat\ntitle: t\nseverity: warning\nreport_only: true\nguidance: g\n"
	"trigger: {detector: bloat}\n" DRILL,
	"name: idle-in-transaction\ntitle: t\nseverity: warning\nreport_only: true\nguidance: g\n"
	"trigger: {detector: idle_in_transaction, thresholds: {xmin_age: 1000000}}\n" DRILL,
	"name: connection-exhaustion\ntitle: t\nseverity: critical\nreport_only: true\nguidance: g\n"
	"trigger: {detector: connection_exhaustion}\n" DRILL,
	"name: agent-runaway\ntitle: t\nseverity: warning\nreport_only: true\nguidance: g\n"
	"trigger: {detector: agent_runaway, thresholds: {sessions: 5, query_s: 60}}\n" DRILL,
};

static void load(struct runbook_set *set, const char *yaml)
{
	char *errs = NULL;
	char name[64];
	const char *n = strstr(yaml, "name: ") + 6;

	snprintf(name, sizeof(name), "%.*s.yaml", (int)strcspn(n, "\n"), n);
	if (runbook_load_buffer(set, name, yaml, strlen(yaml), &errs) != 0)
		fail_msg("runbook %s: %s", name, errs ? errs : "?");
	free(errs);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	config_init_defaults(&f->cfg);
	for (size_t i = 0; i < sizeof(runbook_yaml) / sizeof(runbook_yaml[0]); i++)
		load(&f->set, runbook_yaml[i]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	incident_list_release(&f->out);
	runbook_set_release(&f->set);
	config_release(&f->cfg);
	free(f);
	return 0;
}

/* Run the one runbook named name on s; returns the incident count. */
static int run_one(struct fx *f, const struct snapshot *s, const char *name)
{
	const struct runbook *rb = runbook_find(&f->set, name);
	struct detect_ctx ctx = { s, &f->cfg, &f->set, NULL };

	assert_non_null(rb);
	incident_list_release(&f->out);
	return detect_find(rb->detector)(&ctx, rb, &f->out);
}

static json_int_t ev_int(const struct incident *in, const char *path)
{
	json_t *v = runbook_path(in->evidence, path);

	assert_non_null(v);
	return json_integer_value(v);
}

static const char *ev_str(const struct incident *in, const char *path)
{
	json_t *v = runbook_path(in->evidence, path);

	assert_non_null(v);
	return json_string_value(v);
}

static bool array_has(const json_t *a, json_int_t v)
{
	size_t i;
	json_t *x;

	json_array_foreach(a, i, x)
		if (json_integer_value(x) == v)
			return true;
	return false;
}

/* ---- registry ------------------------------------------------------------ */

static void test_registry(void **state)
{
	const char *const *names = detect_names();
	size_t n = 0;

	(void)state;
	for (; names[n]; n++)
		assert_non_null(detect_find(names[n]));
	assert_int_equal(n, 9);
	assert_null(detect_find("lock-chain"));
	assert_null(detect_find(NULL));
	assert_non_null(detect_find("agent_hygiene"));
}

/* ---- lock_chain ----------------------------------------------------------- */

static void test_lock_chain_idle_root(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 100, "idle in transaction", 30, 40, NULL, NULL, NULL, 0, NULL },
		{ 200, "active", 5, 5, NULL, NULL, "Lock", 0, NULL },
		{ 300, "active", 3, 3, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 200, 100, 5 }, { 300, 200, 3 } };
	struct snapshot *s = MAKE(ss, es);
	const struct incident *in;
	json_t *waiters;
	size_t i;
	json_t *w;

	assert_int_equal(run_one(f, s, "lock-chain"), 1);
	in = &f->out.v[0];
	assert_string_equal(in->runbook, "lock-chain");
	assert_int_equal(in->severity, SEVERITY_CRITICAL);
	assert_non_null(strstr(in->key, "lock-chain/pid=100/"));
	assert_null(in->escalation);
	assert_int_equal(ev_int(in, "root.pid"), 100);
	assert_int_equal(ev_int(in, "root.pids.0"), 100);
	assert_int_equal(json_array_size(runbook_path(in->evidence, "root.pids")), 1);
	assert_string_equal(ev_str(in, "root.state"), "idle in transaction");
	assert_int_equal(ev_int(in, "root.blocking"), 2);
	assert_int_equal(ev_int(in, "waiting"), 2);
	assert_int_equal(ev_int(in, "depth"), 2);
	assert_true(json_number_value(runbook_path(in->evidence, "max_wait_s")) > 4.9);
	assert_true(json_number_value(runbook_path(in->evidence, "root.xact_age_s")) > 39.9);
	/* The victims are listed, never as the root. */
	waiters = runbook_path(in->evidence, "waiters");
	assert_int_equal(json_array_size(waiters), 2);
	json_array_foreach(waiters, i, w)
		assert_int_not_equal(json_integer_value(json_object_get(w, "pid")), 100);
	assert_true(array_has(runbook_path(in->evidence, "waiter_pids"), 200));
	assert_true(array_has(runbook_path(in->evidence, "waiter_pids"), 300));
	assert_false(array_has(runbook_path(in->evidence, "waiter_pids"), 100));
	snapshot_unref(s);
}

static void test_lock_chain_active_root_and_threshold(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 10, "active", 20, 20, NULL, NULL, NULL, 0, NULL },
		{ 11, "active", 0.5, 0.5, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 11, 10, 0.5 } };
	struct snapshot *s = MAKE(ss, es);
	struct runbook *rb = (struct runbook *)runbook_find(&f->set, "lock-chain");

	/* By effect: a half-second wait is already an incident with wait_ms 0. */
	assert_int_equal(run_one(f, s, "lock-chain"), 1);
	assert_string_equal(ev_str(&f->out.v[0], "root.state"), "active");
	assert_true(json_number_value(runbook_path(f->out.v[0].evidence, "root.query_age_s")) > 19.9);
	/* With wait_ms 1000 it is not yet. */
	json_object_set_new(rb->thresholds, "wait_ms", json_integer(1000));
	assert_int_equal(run_one(f, s, "lock-chain"), 0);
	/* min_waiters 2: one waiter is not enough. */
	json_object_set_new(rb->thresholds, "wait_ms", json_integer(0));
	json_object_set_new(rb->thresholds, "min_waiters", json_integer(2));
	assert_int_equal(run_one(f, s, "lock-chain"), 0);
	json_object_set_new(rb->thresholds, "min_waiters", json_integer(1));
	snapshot_unref(s);
}

static void test_lock_chain_prepared_and_own(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 20, "active", 2, 2, NULL, NULL, "Lock", 0, NULL },
		{ 30, "idle in transaction", 9, 9, "cockpit-executor", NULL, NULL, 0, NULL },
		{ 31, "active", 2, 2, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 20, 0, 2 }, { 31, 30, 2 } };
	struct snapshot *s = MAKE(ss, es);
	const struct incident *prep = NULL, *own = NULL;

	assert_int_equal(run_one(f, s, "lock-chain"), 2);
	for (size_t i = 0; i < f->out.n; i++) {
		if (ev_int(&f->out.v[i], "root.pid") == 0)
			prep = &f->out.v[i];
		else if (ev_int(&f->out.v[i], "root.pid") == 30)
			own = &f->out.v[i];
	}
	assert_non_null(prep);
	assert_non_null(own);
	/* Reported, escalated, nothing to signal. */
	assert_non_null(prep->escalation);
	assert_non_null(strstr(prep->escalation, "prepared"));
	assert_string_equal(ev_str(prep, "root.kind"), "prepared");
	assert_int_equal(json_array_size(runbook_path(prep->evidence, "root.pids")), 0);
	assert_non_null(own->escalation);
	assert_string_equal(ev_str(own, "root.kind"), "cockpit");
	snapshot_unref(s);
}

/* ---- deadlock -------------------------------------------------------------- */

static void test_plain_wait_is_not_a_deadlock(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 1, "idle in transaction", 10, 10, NULL, NULL, NULL, 0, NULL },
		{ 2, "active", 5, 5, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 2, 1, 5 } };
	struct snapshot *s = MAKE(ss, es);

	assert_int_equal(run_one(f, s, "deadlock"), 0);
	snapshot_unref(s);
}

static void test_live_cycle_is_a_deadlock_not_a_chain(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 1, "active", 3, 10, NULL, NULL, "Lock", 0, NULL },
		{ 2, "active", 2, 8, NULL, NULL, "Lock", 0, NULL },
		{ 3, "active", 1, 1, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 1, 2, 3 }, { 2, 1, 2 }, { 3, 1, 1 } };
	struct snapshot *s = MAKE(ss, es);

	assert_int_equal(run_one(f, s, "deadlock"), 1);
	assert_int_equal(ev_int(&f->out.v[0], "live_count"), 1);
	assert_non_null(strstr(f->out.v[0].key, "deadlock/"));
	/* The cycle has no root blocker: not a lock chain. */
	assert_int_equal(run_one(f, s, "lock-chain"), 0);
	snapshot_unref(s);
}

/* ---- idle_in_transaction ---------------------------------------------------- */

static void test_idle_in_transaction(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 40, "idle in transaction", 120, 130, NULL, "app_rw", NULL, 0, NULL },   /* old */
		{ 41, "idle in transaction", 5, 5, NULL, NULL, NULL, 0, NULL },           /* young */
		{ 42, "idle in transaction", 5, 500, NULL, "batch", NULL, 2000000, NULL },/* xmin */
		{ 43, "idle in transaction (aborted)", 300, 300, "cockpit-brain", NULL, NULL, 0, NULL },
		{ 44, "idle", 900, 0, NULL, NULL, NULL, 0, NULL },
		{ 45, "idle in transaction", 200, 200, NULL, NULL, NULL, 0, NULL },       /* blocks 46 */
		{ 46, "active", 3, 3, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 46, 45, 3 } };
	struct snapshot *s = MAKE(ss, es);
	bool seen40 = false, seen42 = false;

	assert_int_equal(run_one(f, s, "idle-in-transaction"), 2);
	for (size_t i = 0; i < f->out.n; i++) {
		const struct incident *in = &f->out.v[i];
		json_int_t pid = ev_int(in, "session.pid");

		/* 45 blocks: it is lock-chain's; 43 is cockpit's own; 41 is young. */
		assert_true(pid == 40 || pid == 42);
		if (pid == 40) {
			seen40 = true;
			assert_string_equal(ev_str(in, "session.user"), "app_rw");
			assert_string_equal(ev_str(in, "role"), "app_rw");
			assert_true(json_number_value(runbook_path(in->evidence, "session.idle_s")) > 119);
			assert_string_equal(ev_str(in, "reasons.0"), "idle");
			assert_string_equal(ev_str(in, "suggested_idle_timeout"), "120s");
		} else {
			seen42 = true;
			assert_true(json_is_true(runbook_path(in->evidence, "holds_xmin")));
			assert_string_equal(ev_str(in, "reasons.0"), "xmin");
		}
	}
	assert_true(seen40 && seen42);
	snapshot_unref(s);
}

static void test_idle_blocker_without_lock_chain_runbook(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 45, "idle in transaction", 2, 2, NULL, NULL, NULL, 0, NULL },
		{ 46, "active", 1, 1, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 46, 45, 1 } };
	struct snapshot *s = MAKE(ss, es);
	struct runbook_set only = { 0 };
	struct detect_ctx ctx = { s, &f->cfg, &only, NULL };
	struct incident_list out = { 0 };

	load(&only, runbook_yaml[5]);
	/* At any age when it blocks, and nobody else owns it. */
	assert_int_equal(detect_run(&ctx, &out), 1);
	assert_int_equal(json_integer_value(runbook_path(out.v[0].evidence, "session.pid")), 45);
	assert_int_equal(json_integer_value(runbook_path(out.v[0].evidence, "blocking")), 1);
	incident_list_release(&out);
	runbook_set_release(&only);
	snapshot_unref(s);
}

/* ---- slow_query ------------------------------------------------------------ */

static void test_slow_query(void **state)
{
	struct fx *f = *state;
	struct snapshot *s = make(NULL, 0, NULL, 0);
	struct snap_statement *st;

	s->statements = st = arena_alloc(&s->arena, 4 * sizeof(*st));
	s->nstatements = 4;
	memset(st, 0, 4 * sizeof(*st));
	st[0] = (struct snap_statement){ .queryid = 42, .query = "SELECT * FROM orders WHERE customer_id = $1",
		.calls = 10, .mean_ms = 450, .total_ms = 4500, .share = 0.8, .user = "app", .database = "shop" };
	st[1] = (struct snap_statement){ .queryid = 43, .query = "/* cockpit collector: sessions */ SELECT 1",
		.calls = 10, .mean_ms = 900 };
	st[2] = (struct snap_statement){ .queryid = 44, .query = "SELECT pg_sleep($1)", .calls = 1, .mean_ms = 900 };
	st[3] = (struct snap_statement){ .queryid = 45, .query = "SELECT 1", .calls = 1000, .mean_ms = 0.01,
		.p99_ms_estimate = 0.05 };
	/* Before the second sample there is no window: nothing. */
	assert_int_equal(run_one(f, s, "slow-query"), 0);
	s->statements_window_s = 10;
	assert_int_equal(run_one(f, s, "slow-query"), 1);
	assert_string_equal(f->out.v[0].key, "slow-query/queryid=42");
	assert_int_equal(ev_int(&f->out.v[0], "statement.queryid"), 42);
	assert_string_equal(ev_str(&f->out.v[0], "basis"), "mean");
	assert_string_equal(ev_str(&f->out.v[0], "statement.user"), "app");
	/* An estimated p99 past p99_ms counts too, and says so. */
	st[0].mean_ms = 50;
	st[0].p99_ms_estimate = 1500;
	assert_int_equal(run_one(f, s, "slow-query"), 1);
	assert_string_equal(ev_str(&f->out.v[0], "basis"), "p99_estimate");
	snapshot_unref(s);
}

/* ---- disk_space ------------------------------------------------------------- */

static void set_fs(struct snapshot *s, double pct)
{
	s->disk.fs_known = true;
	s->disk.fs_path = "/var/lib/postgresql";
	s->disk.fs_source = "statvfs";
	s->disk.fs_total_bytes = 100000;
	s->disk.fs_used_bytes = (int64_t)(pct * 1000);
	s->disk.fs_avail_bytes = 100000 - s->disk.fs_used_bytes;
}

static void test_disk_space(void **state)
{
	struct fx *f = *state;
	struct snapshot *s = make(NULL, 0, NULL, 0);
	struct snap_slot *sl = arena_alloc(&s->arena, 3 * sizeof(*sl));
	struct snap_table *t = arena_alloc(&s->arena, 2 * sizeof(*t));

	sl[0] = (struct snap_slot){ "standby1", "physical", true, 5000, "reserved" };
	sl[1] = (struct snap_slot){ "old_cdc", "logical", false, 9000, "extended" };
	sl[2] = (struct snap_slot){ "tiny", "physical", false, 10, "reserved" };
	s->disk.slots = sl;
	s->disk.nslots = 3;
	t[0] = (struct snap_table){ "public", "events", 50000, 1000, 9000, 0.9, 0, 0, 0, 0 };
	t[1] = (struct snap_table){ "Sales", "Orders", 20000, 1000, 10, 0.01, 0, 0, 0, 0 };
	s->disk.tables = t;
	s->disk.ntables = 2;
	s->disk.log_bytes = 30000;
	s->disk.log_files = 3;

	assert_int_equal(run_one(f, s, "disk-space"), 0);   /* fs unknown */
	set_fs(s, 50);
	assert_int_equal(run_one(f, s, "disk-space"), 0);
	set_fs(s, 90);
	assert_int_equal(run_one(f, s, "disk-space"), 1);
	assert_int_equal(f->out.v[0].severity, SEVERITY_WARNING);
	assert_string_equal(ev_str(&f->out.v[0], "level"), "warning");
	/* The inactive slot retaining the most WAL first; the active one never. */
	assert_string_equal(ev_str(&f->out.v[0], "inactive_slot.name"), "old_cdc");
	assert_int_equal(ev_int(&f->out.v[0], "inactive_slot_count"), 2);
	assert_string_equal(ev_str(&f->out.v[0], "bloated_table.table"), "public.events");
	assert_string_equal(ev_str(&f->out.v[0], "tables.1.table"), "\"Sales\".\"Orders\"");
	assert_true(json_number_value(runbook_path(f->out.v[0].evidence, "logs.share")) > 0.3);
	set_fs(s, 97);
	assert_int_equal(run_one(f, s, "disk-space"), 1);
	assert_int_equal(f->out.v[0].severity, SEVERITY_CRITICAL);
	snapshot_unref(s);
}

/* ---- bloat -------------------------------------------------------------------- */

static void test_bloat(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 7, "idle in transaction", 100, 7200, NULL, NULL, NULL, 3000000, NULL },
	};
	struct snapshot *s = make(ss, 1, NULL, 0);
	struct snap_table *t = arena_alloc(&s->arena, 3 * sizeof(*t));

	t[0] = (struct snap_table){ "public", "events", 50000, 5000, 5000, 0.5, 0, NOW - 7 * 86400, 0, 0 };
	t[1] = (struct snap_table){ "public", "few", 5000, 100, 900, 0.9, 0, 0, 0, 0 };        /* < dead_min */
	t[2] = (struct snap_table){ "public", "fresh", 5000, 100000, 2000, 0.02, 0, NOW - 60, 0, 0 };
	s->disk.tables = t;
	s->disk.ntables = 3;
	assert_int_equal(run_one(f, s, "bloat"), 1);
	assert_string_equal(f->out.v[0].key, "bloat/public.events");
	assert_string_equal(ev_str(&f->out.v[0], "table.table"), "public.events");
	assert_int_equal(ev_int(&f->out.v[0], "table.dead_tuples"), 5000);
	assert_true(json_is_true(runbook_path(f->out.v[0].evidence, "autovacuum_stalled")));
	assert_int_equal(ev_int(&f->out.v[0], "xmin_holder.pid"), 7);
	snapshot_unref(s);
}

/* ---- connection_exhaustion ------------------------------------------------ */

static void test_connection_exhaustion(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 1, "idle", 50, 0, "web", NULL, NULL, 0, NULL },
		{ 2, "idle", 500, 0, "web", NULL, NULL, 0, NULL },
		{ 3, "idle", 5000, 0, "cockpit", NULL, NULL, 0, NULL },
		{ 4, "active", 1, 1, "web", NULL, NULL, 0, NULL },
		{ 5, "idle", 300, 0, "crewai-x", NULL, NULL, 0, "bot" },
		{ 6, "idle", 100, 0, "web", NULL, NULL, 0, NULL },
		{ 7, "idle in transaction", 900, 900, "web", NULL, NULL, 0, NULL },
		{ 8, "idle", 10, 0, "batch", NULL, NULL, 0, NULL },
		{ 9, "idle", 20, 0, "batch", NULL, NULL, 0, NULL },
	};
	struct snapshot *s = make(ss, 9, NULL, 0);
	json_t *c;

	s->server.max_connections = 100;
	assert_int_equal(run_one(f, s, "connection-exhaustion"), 0);   /* 9% */
	s->server.max_connections = 10;                               /* 90% */
	assert_int_equal(run_one(f, s, "connection-exhaustion"), 1);
	assert_int_equal(ev_int(&f->out.v[0], "connections"), 9);
	assert_string_equal(ev_str(&f->out.v[0], "by_application.0.name"), "web");
	assert_int_equal(ev_int(&f->out.v[0], "by_application.0.count"), 5);
	assert_string_equal(ev_str(&f->out.v[0], "by_agent.0.name"), "bot");
	/* Oldest idle first, at most policy.max_sessions (3), never cockpit's,
	 * never a session in a transaction. */
	c = runbook_path(f->out.v[0].evidence, "candidate_pids");
	assert_int_equal(json_array_size(c), (size_t)f->cfg.policy.max_sessions);
	assert_int_equal(json_integer_value(json_array_get(c, 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(c, 1)), 5);
	assert_int_equal(json_integer_value(json_array_get(c, 2)), 6);
	snapshot_unref(s);
}

/* ---- agent_runaway ----------------------------------------------------------- */

static void test_agent_runaway(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 1, "active", 100, 100, "a", "agent_bot", NULL, 0, "bot" },
		{ 2, "active", 5, 5, "a", "agent_bot", NULL, 0, "bot" },
		{ 3, "active", 50, 50, "a", "agent_bot", "Lock", 0, "bot" },   /* a victim */
		{ 4, "idle", 10, 0, "a", "agent_bot", NULL, 0, "bot" },
		{ 5, "active", 2, 2, "a", "agent_calm", NULL, 0, "calm" },
		{ 6, "active", 200, 200, "web", NULL, NULL, 0, NULL },
	};
	struct snapshot *s = make(ss, 6, NULL, 0);
	json_t *pids;

	agents_aggregate(s, NULL, 0, 0);
	assert_int_equal(run_one(f, s, "agent-runaway"), 1);
	assert_string_equal(f->out.v[0].key, "agent-runaway/bot");
	assert_string_equal(ev_str(&f->out.v[0], "agent.agent_id"), "bot");
	assert_string_equal(ev_str(&f->out.v[0], "role"), "agent_bot");
	assert_string_equal(ev_str(&f->out.v[0], "reasons.0"), "query_s");
	pids = runbook_path(f->out.v[0].evidence, "active_pids");
	assert_int_equal(json_array_size(pids), 2);
	assert_int_equal(json_integer_value(json_array_get(pids, 0)), 1);   /* oldest first */
	assert_false(array_has(pids, 3));
	assert_true(array_has(runbook_path(f->out.v[0].evidence, "idle_pids"), 4));
	assert_string_equal(ev_str(&f->out.v[0], "suggested_statement_timeout"), "60s");
	snapshot_unref(s);
}

/* ---- the whole set ------------------------------------------------------------ */

static void test_healthy_server_gives_nothing(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 1, "idle", 30, 0, NULL, NULL, NULL, 0, NULL },
		{ 2, "idle", 3, 0, NULL, NULL, NULL, 0, NULL },
		{ 3, "active", 0.01, 0.01, NULL, NULL, NULL, 5, NULL },
		{ 4, "idle in transaction", 0.2, 0.3, NULL, NULL, NULL, 3, NULL },
		{ 5, "active", 0.2, 0.2, "cockpit-collector", NULL, NULL, 0, NULL },
	};
	struct snapshot *s = make(ss, 5, NULL, 0);
	struct snap_statement *st = arena_alloc(&s->arena, sizeof(*st));
	struct detect_ctx ctx = { s, &f->cfg, &f->set, NULL };

	*st = (struct snap_statement){ .queryid = 1, .query = "SELECT * FROM t WHERE id = $1", .calls = 5000,
		.mean_ms = 0.2, .p99_ms_estimate = 1.1, .share = 0.9 };
	s->statements = st;
	s->nstatements = 1;
	s->statements_window_s = 10;
	set_fs(s, 40);
	agents_aggregate(s, NULL, 0, 0);
	incident_list_release(&f->out);
	assert_int_equal(detect_run(&ctx, &f->out), 0);
	assert_int_equal(f->out.n, 0);
	snapshot_unref(s);
}

static void test_run_orders_by_severity_and_json(void **state)
{
	struct fx *f = *state;
	static const struct sess ss[] = {
		{ 40, "idle in transaction", 120, 130, NULL, NULL, NULL, 0, NULL },
		{ 100, "idle in transaction", 30, 40, NULL, NULL, NULL, 0, NULL },
		{ 200, "active", 5, 5, NULL, NULL, "Lock", 0, NULL },
	};
	static const struct edge es[] = { { 200, 100, 5 } };
	struct snapshot *s = MAKE(ss, es);
	struct detect_ctx ctx = { s, &f->cfg, &f->set, NULL };
	json_t *j;

	incident_list_release(&f->out);
	assert_int_equal(detect_run(&ctx, &f->out), 2);
	/* lock-chain is critical, idle-in-transaction a warning. */
	assert_string_equal(f->out.v[0].runbook, "lock-chain");
	assert_string_equal(f->out.v[1].runbook, "idle-in-transaction");
	assert_true(f->out.v[0].detected_at == NOW);
	j = incident_to_json(&f->out.v[0]);
	assert_string_equal(json_string_value(json_object_get(j, "runbook")), "lock-chain");
	assert_string_equal(json_string_value(json_object_get(j, "severity")), "critical");
	assert_true(json_is_object(json_object_get(j, "evidence")));
	assert_true(json_is_array(json_object_get(j, "proposals")));
	assert_non_null(json_string_value(json_object_get(j, "summary")));
	json_decref(j);
	snapshot_unref(s);
}

static void test_table_name_quoting(void **state)
{
	char *a = detect_table_name("public", "orders");
	char *b = detect_table_name("Sales", "my \"t\"");
	char *c = detect_table_name(NULL, "x1");

	(void)state;
	assert_string_equal(a, "public.orders");
	assert_string_equal(b, "\"Sales\".\"my \"\"t\"\"\"");
	assert_string_equal(c, "x1");
	free(a);
	free(b);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_table_name_quoting),
		cmocka_unit_test_setup_teardown(test_lock_chain_idle_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_chain_active_root_and_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_chain_prepared_and_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_wait_is_not_a_deadlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_cycle_is_a_deadlock_not_a_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_blocker_without_lock_chain_runbook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bloat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_exhaustion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_runaway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_healthy_server_gives_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_orders_by_severity_and_json, setup, teardown),
	};

	return cmocka_run_group_tests_name("detect", tests, NULL, NULL);
}
