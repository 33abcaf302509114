/*
 * snapshot: lifetime and JSON of the immutable per-refresh picture.
 *
 * The JSON written here is the `cockpit snapshot --json` contract and the
 * line format of recordings; snapshot_from_json() reads it back for replay,
 * so every field written is read (the round trip is unit-tested).
 */
#include "perceive/snapshot.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"

struct snapshot *snapshot_new(void)
{
	struct snapshot *s = xcalloc(1, sizeof(*s));

	atomic_init(&s->refs, 1);
	arena_init(&s->arena);
	s->server.tps = -1;
	s->server.cache_hit_ratio = -1;
	s->server.replication_lag_s = -1;
	s->disk.wal_bytes = s->disk.log_bytes = s->disk.temp_bytes = -1;
	return s;
}

struct snapshot *snapshot_new_from(struct snapshot *base, bool all)
{
	struct snapshot *s = snapshot_new();

	if (!base)
		return s;
	s->base = snapshot_ref(base);
	s->generation = base->generation;
	s->target = base->target;
	s->statements = base->statements;
	s->nstatements = base->nstatements;
	s->statements_window_s = base->statements_window_s;
	s->disk = base->disk;
	s->deadlocks = base->deadlocks;
	s->ndeadlocks = base->ndeadlocks;
	/* Problems of the slow path stay true until the next slow refresh. */
	s->problems = base->problems;
	s->nproblems = base->nproblems;
	if (all) {
		s->server = base->server;
		s->sessions = base->sessions;
		s->nsessions = base->nsessions;
		s->edges = base->edges;
		s->nedges = base->nedges;
		s->agents = base->agents;
		s->nagents = base->nagents;
		s->collected_at = base->collected_at;
		s->collected_mono_ms = base->collected_mono_ms;
		s->stats = base->stats;
	}
	return s;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void snapshot_unref(struct snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	lockgraph_free(s->locks);
	arena_release(&s->arena);
	snapshot_unref(s->base);
	free(s);
}

void snapshot_build_locks(struct snapshot *s)
{
	lockgraph_free(s->locks);
	s->locks = lockgraph_build(s->edges, s->nedges);
}

void snapshot_add_problem(struct snapshot *s, const char *panel, const char *message,
			  const char *fix)
{
	struct snap_problem *p;
	size_t n = s->nproblems + 1;
	struct snap_problem *arr = arena_alloc(&s->arena, n * sizeof(*arr));

	if (s->nproblems)
		memcpy(arr, s->problems, s->nproblems * sizeof(*arr));
	p = &arr[s->nproblems];
	p->panel = arena_strdup(&s->arena, panel);
	p->message = arena_strdup(&s->arena, message);
	p->fix = arena_strdup(&s->arena, fix);
	s->problems = arr;
	s->nproblems = n;
}

size_t snapshot_find_session(const struct snapshot *s, int pid)
{
	for (size_t i = 0; i < s->nsessions; i++)
		if (s->sessions[i].pid == pid)
			return i;
	return SIZE_MAX;
}

double snapshot_age_s(const struct snapshot *s)
{
	if (s->collected_mono_ms)
		return (double)(clock_mono_ms() - s->collected_mono_ms) / 1000.0;
	return (double)clock_wall_us() / 1e6 - s->collected_at;
}

/* ---- writing ---------------------------------------------------------- */

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jtime(double t)
{
	return t > 0 ? json_real(t) : json_null();
}

static json_t *jnum(double v)
{
	/* NaN/inf are not JSON; -1 sentinels mean "unknown" -> null. */
	if (isnan(v) || isinf(v) || v < 0)
		return json_null();
	if (v == floor(v) && fabs(v) < 9e15)
		return json_integer((json_int_t)v);
	return json_real(round(v * 1000.0) / 1000.0);
}

static json_t *jint_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

static json_t *session_json(const struct snap_session *x)
{
	json_t *o = json_object();

	json_object_set_new(o, "pid", json_integer(x->pid));
	json_object_set_new(o, "leader_pid", x->leader_pid ? json_integer(x->leader_pid) : json_null());
	json_object_set_new(o, "user", jstr(x->user));
	json_object_set_new(o, "database", jstr(x->database));
	json_object_set_new(o, "application", jstr(x->application));
	json_object_set_new(o, "client", jstr(x->client));
	json_object_set_new(o, "backend_type", jstr(x->backend_type));
	json_object_set_new(o, "state", jstr(x->state));
	json_object_set_new(o, "wait_event_type", jstr(x->wait_event_type));
	json_object_set_new(o, "wait_event", jstr(x->wait_event));
	json_object_set_new(o, "backend_start", jtime(x->backend_start));
	json_object_set_new(o, "xact_start", jtime(x->xact_start));
	json_object_set_new(o, "query_start", jtime(x->query_start));
	json_object_set_new(o, "state_change", jtime(x->state_change));
	json_object_set_new(o, "xmin_age", jint_or_null(x->xmin_age));
	json_object_set_new(o, "query", jstr(x->query));
	json_object_set_new(o, "agent_id", jstr(x->agent_id));
	json_object_set_new(o, "task_id", jstr(x->task_id));
	json_object_set_new(o, "step", jstr(x->step));
	return o;
}

static json_t *lockgraph_json(const struct snapshot *s)
{
	const struct lockgraph *g = s->locks;
	json_t *o = json_object(), *nodes = json_array(), *edges = json_array();
	json_t *cycles = json_array(), *roots = json_array();

	for (size_t i = 0; i < s->nedges; i++) {
		const struct lockgraph_edge *e = &s->edges[i];
		json_t *je = json_object();

		json_object_set_new(je, "waiter", json_integer(e->waiter));
		json_object_set_new(je, "blocker", json_integer(e->blocker));
		json_object_set_new(je, "kind", json_string(e->hard ? "hard" : "soft"));
		json_object_set_new(je, "mode", jstr(e->mode));
		json_object_set_new(je, "locktype", jstr(e->locktype));
		json_object_set_new(je, "relation", jstr(e->relation));
		json_object_set_new(je, "wait_start", jtime(e->wait_start));
		json_array_append_new(edges, je);
	}
	for (size_t i = 0; g && i < g->nnodes; i++) {
		const struct lockgraph_node *n = &g->nodes[i];
		json_t *jn = json_object();

		json_object_set_new(jn, "pid", json_integer(n->pid));
		json_object_set_new(jn, "root", json_boolean(n->root));
		json_object_set_new(jn, "waiting", json_boolean(n->out_count > 0));
		json_object_set_new(jn, "blocking", json_integer((json_int_t)n->in_count));
		json_object_set_new(jn, "depth", json_integer(n->depth));
		json_object_set_new(jn, "cycle", n->cycle >= 0 ? json_integer(n->cycle) : json_null());
		json_object_set_new(jn, "blocked_total", json_integer((json_int_t)n->blocked_total));
		json_object_set_new(jn, "prepared_xact", json_boolean(n->pid == 0));
		json_array_append_new(nodes, jn);
	}
	for (size_t c = 0; g && c < g->ncycles; c++) {
		json_t *jc = json_array();

		for (size_t k = 0; k < g->cycles[c].count; k++)
			json_array_append_new(jc, json_integer(
				g->nodes[g->cycle_nodes[g->cycles[c].first + k]].pid));
		json_array_append_new(cycles, jc);
	}
	for (size_t r = 0; g && r < g->nroots; r++)
		json_array_append_new(roots, json_integer(g->nodes[g->roots[r]].pid));
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "edges", edges);
	json_object_set_new(o, "cycles", cycles);
	json_object_set_new(o, "roots", roots);
	json_object_set_new(o, "max_depth", json_integer(g ? g->max_depth : 0));
	return o;
}

static json_t *statement_json(const struct snap_statement *x)
{
	json_t *o = json_object();
	char id[32];

	/* queryid is a signed 64-bit hash: a string keeps it exact in every
	 * JSON consumer (JavaScript loses precision past 2^53). */
	snprintf(id, sizeof(id), "%lld", (long long)x->queryid);
	json_object_set_new(o, "queryid", json_string(id));
	json_object_set_new(o, "user", jstr(x->user));
	json_object_set_new(o, "database", jstr(x->database));
	json_object_set_new(o, "query", jstr(x->query));
	json_object_set_new(o, "calls", jnum(x->calls));
	json_object_set_new(o, "calls_per_s", jnum(x->calls_per_s));
	json_object_set_new(o, "total_ms", jnum(x->total_ms));
	json_object_set_new(o, "mean_ms", jnum(x->mean_ms));
	json_object_set_new(o, "max_ms_since_reset", jnum(x->max_ms));
	json_object_set_new(o, "p99_ms_estimate", jnum(x->p99_ms_estimate));
	json_object_set_new(o, "share", jnum(x->share));
	json_object_set_new(o, "rows", jnum(x->rows));
	json_object_set_new(o, "agent_id", jstr(x->agent_id));
	json_object_set_new(o, "task_id", jstr(x->task_id));
	return o;
}

static json_t *disk_json(const struct snap_disk *d)
{
	json_t *o = json_object(), *fs = json_object(), *dbs = json_array();
	json_t *slots = json_array(), *tables = json_array();

	json_object_set_new(fs, "known", json_boolean(d->fs_known));
	json_object_set_new(fs, "path", jstr(d->fs_path));
	json_object_set_new(fs, "source", jstr(d->fs_source));
	json_object_set_new(fs, "total_bytes", d->fs_known ? json_integer(d->fs_total_bytes) : json_null());
	json_object_set_new(fs, "used_bytes", d->fs_known ? json_integer(d->fs_used_bytes) : json_null());
	json_object_set_new(fs, "avail_bytes", d->fs_known ? json_integer(d->fs_avail_bytes) : json_null());
	json_object_set_new(o, "filesystem", fs);
	json_object_set_new(o, "wal_bytes", jint_or_null(d->wal_bytes));
	json_object_set_new(o, "wal_files", jint_or_null(d->wal_bytes < 0 ? -1 : d->wal_files));
	json_object_set_new(o, "log_bytes", jint_or_null(d->log_bytes));
	json_object_set_new(o, "log_files", jint_or_null(d->log_bytes < 0 ? -1 : d->log_files));
	json_object_set_new(o, "temp_bytes", jint_or_null(d->temp_bytes));
	json_object_set_new(o, "temp_files", jint_or_null(d->temp_bytes < 0 ? -1 : d->temp_files));
	for (size_t i = 0; i < d->ndatabases; i++) {
		json_t *j = json_object();

		json_object_set_new(j, "name", jstr(d->databases[i].name));
		json_object_set_new(j, "bytes", json_integer(d->databases[i].bytes));
		json_array_append_new(dbs, j);
	}
	for (size_t i = 0; i < d->nslots; i++) {
		const struct snap_slot *x = &d->slots[i];
		json_t *j = json_object();

		json_object_set_new(j, "name", jstr(x->name));
		json_object_set_new(j, "type", jstr(x->type));
		json_object_set_new(j, "active", json_boolean(x->active));
		json_object_set_new(j, "retained_bytes", jint_or_null(x->retained_bytes));
		json_object_set_new(j, "wal_status", jstr(x->wal_status));
		json_array_append_new(slots, j);
	}
	for (size_t i = 0; i < d->ntables; i++) {
		const struct snap_table *x = &d->tables[i];
		json_t *j = json_object();

		json_object_set_new(j, "schema", jstr(x->schema));
		json_object_set_new(j, "name", jstr(x->name));
		json_object_set_new(j, "total_bytes", json_integer(x->total_bytes));
		json_object_set_new(j, "live_tuples", json_integer(x->live_tuples));
		json_object_set_new(j, "dead_tuples", json_integer(x->dead_tuples));
		json_object_set_new(j, "dead_ratio", json_real(round(x->dead_ratio * 10000) / 10000));
		json_object_set_new(j, "last_vacuum", jtime(x->last_vacuum));
		json_object_set_new(j, "last_autovacuum", jtime(x->last_autovacuum));
		json_object_set_new(j, "last_analyze", jtime(x->last_analyze));
		json_object_set_new(j, "last_autoanalyze", jtime(x->last_autoanalyze));
		json_array_append_new(tables, j);
	}
	json_object_set_new(o, "databases", dbs);
	json_object_set_new(o, "replication_slots", slots);
	json_object_set_new(o, "tables", tables);
	json_object_set_new(o, "collected_at", jtime(d->collected_at));
	return o;
}

static json_t *agent_json(const struct snap_agent *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "agent_id", jstr(a->agent_id));
	json_object_set_new(o, "sessions", json_integer(a->sessions));
	json_object_set_new(o, "active", json_integer(a->active));
	json_object_set_new(o, "idle", json_integer(a->idle));
	json_object_set_new(o, "idle_in_transaction", json_integer(a->idle_in_transaction));
	json_object_set_new(o, "waiting", json_integer(a->waiting));
	json_object_set_new(o, "longest_idle_in_xact_s", jnum(a->longest_idle_in_xact_s));
	json_object_set_new(o, "longest_query_s", jnum(a->longest_query_s));
	json_object_set_new(o, "task_id", jstr(a->task_id));
	json_object_set_new(o, "step", jstr(a->step));
	json_object_set_new(o, "db_time_share", jnum(a->db_time_share));
	json_object_set_new(o, "db_time_ms", jnum(a->db_time_ms));
	json_object_set_new(o, "active_share", jnum(a->active_share));
	return o;
}

static json_t *deadlock_json(const struct snap_deadlock *d)
{
	json_t *o = json_object(), *procs = json_array();

	json_object_set_new(o, "at", jtime(d->at));
	json_object_set_new(o, "pid", json_integer(d->pid));
	json_object_set_new(o, "user", jstr(d->user));
	json_object_set_new(o, "database", jstr(d->database));
	json_object_set_new(o, "application", jstr(d->application));
	json_object_set_new(o, "statement", jstr(d->statement));
	json_object_set_new(o, "context", jstr(d->context));
	for (size_t i = 0; i < d->nprocs; i++) {
		const struct snap_deadlock_proc *p = &d->procs[i];
		json_t *j = json_object();

		json_object_set_new(j, "pid", json_integer(p->pid));
		json_object_set_new(j, "mode", jstr(p->mode));
		json_object_set_new(j, "locktype", jstr(p->locktype));
		json_object_set_new(j, "object", jstr(p->object));
		json_object_set_new(j, "relation", jstr(p->relation));
		json_object_set_new(j, "xid", p->xid ? json_integer((json_int_t)p->xid) : json_null());
		json_object_set_new(j, "blocked_by", json_integer(p->blocked_by));
		json_object_set_new(j, "statement", jstr(p->statement));
		json_array_append_new(procs, j);
	}
	json_object_set_new(o, "processes", procs);
	return o;
}

json_t *snapshot_to_json(const struct snapshot *s)
{
	json_t *o = json_object(), *arr, *srv = json_object(), *col = json_object();
	char ts[40];

	json_object_set_new(o, "version", json_integer(SNAPSHOT_JSON_VERSION));
	json_object_set_new(o, "target", jstr(s->target));
	json_object_set_new(o, "connected", json_boolean(s->connected));
	json_object_set_new(o, "error", jstr(s->error));
	json_object_set_new(o, "collected_at",
			    s->collected_at > 0 && s->collected_at < 1e11 ? json_string(clock_format_rfc3339(
				    (int64_t)(s->collected_at * 1e6), ts, sizeof(ts)))
						: json_null());
	json_object_set_new(o, "collected_at_epoch", jtime(s->collected_at));
	json_object_set_new(o, "age_s", json_real(round(snapshot_age_s(s) * 1000) / 1000));
	json_object_set_new(o, "server_version", jstr(s->server.version));

	json_object_set_new(srv, "version", jstr(s->server.version));
	json_object_set_new(srv, "version_num", json_integer(s->server.version_num));
	json_object_set_new(srv, "max_connections", json_integer(s->server.max_connections));
	json_object_set_new(srv, "in_recovery", json_boolean(s->server.in_recovery));
	json_object_set_new(srv, "replication_lag_s", jnum(s->server.replication_lag_s));
	json_object_set_new(srv, "tps", jnum(s->server.tps));
	json_object_set_new(srv, "cache_hit_ratio", jnum(s->server.cache_hit_ratio));
	json_object_set_new(srv, "xact_total", json_integer(s->server.xact_total));
	json_object_set_new(srv, "blks_hit", json_integer(s->server.blks_hit));
	json_object_set_new(srv, "blks_read", json_integer(s->server.blks_read));
	json_object_set_new(srv, "now", jtime(s->server.now));
	json_object_set_new(o, "server", srv);

	arr = json_array();
	for (size_t i = 0; i < s->nsessions; i++)
		json_array_append_new(arr, session_json(&s->sessions[i]));
	json_object_set_new(o, "sessions", arr);
	json_object_set_new(o, "lock_graph", lockgraph_json(s));

	arr = json_array();
	for (size_t i = 0; i < s->nstatements; i++)
		json_array_append_new(arr, statement_json(&s->statements[i]));
	json_object_set_new(o, "statements", arr);
	json_object_set_new(o, "statements_window_s", json_real(round(s->statements_window_s * 1000) / 1000));
	json_object_set_new(o, "disk", disk_json(&s->disk));

	arr = json_array();
	for (size_t i = 0; i < s->nagents; i++)
		json_array_append_new(arr, agent_json(&s->agents[i]));
	json_object_set_new(o, "agents", arr);

	arr = json_array();
	for (size_t i = 0; i < s->ndeadlocks; i++)
		json_array_append_new(arr, deadlock_json(&s->deadlocks[i]));
	json_object_set_new(o, "deadlocks", arr);

	arr = json_array();
	for (size_t i = 0; i < s->nproblems; i++) {
		json_t *p = json_object();

		json_object_set_new(p, "panel", jstr(s->problems[i].panel));
		json_object_set_new(p, "message", jstr(s->problems[i].message));
		json_object_set_new(p, "fix", jstr(s->problems[i].fix));
		json_array_append_new(arr, p);
	}
	json_object_set_new(o, "problems", arr);

	json_object_set_new(col, "seq", json_integer(s->stats.seq));
	json_object_set_new(col, "round_trips", json_integer(s->stats.round_trips));
	json_object_set_new(col, "statements", json_integer(s->stats.statements));
	json_object_set_new(col, "fast_ms", json_real(round(s->stats.fast_ms * 1000) / 1000));
	json_object_set_new(col, "slow_ms", json_real(round(s->stats.slow_ms * 1000) / 1000));
	json_object_set_new(col, "slow_refreshed", json_boolean(s->stats.slow_refreshed));
	json_object_set_new(o, "collector", col);
	return o;
}

/* ---- reading (replay) ------------------------------------------------- */

struct reader {
	struct snapshot *s;
	char *err;
	size_t errlen;
	int failed;
};

static void rfail(struct reader *r, const char *path, const char *what)
{
	if (r->failed++)
		return;
	snprintf(r->err, r->errlen, "field '%s': %s", path, what);
}

static const char *rstr(struct reader *r, json_t *o, const char *key, const char *path)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		char p[160];

		snprintf(p, sizeof(p), "%s.%s", path, key);
		rfail(r, p, "expected a string or null");
		return NULL;
	}
	return arena_strdup(&r->s->arena, json_string_value(v));
}

/* Numbers: missing/null -> dflt. */
static double rnum(struct reader *r, json_t *o, const char *key, const char *path, double dflt)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return dflt;
	if (!json_is_number(v)) {
		char p[160];

		snprintf(p, sizeof(p), "%s.%s", path, key);
		rfail(r, p, "expected a number or null");
		return dflt;
	}
	return json_number_value(v);
}

/* Integers: a JSON number that does not fit the C type is an error, never a
 * cast with undefined behaviour (recordings are files anyone can hand us). */
static int64_t rinteger(struct reader *r, json_t *o, const char *key, const char *path,
			int64_t dflt, double min, double max)
{
	json_t *v = json_object_get(o, key);
	double d;

	if (!v || json_is_null(v))
		return dflt;
	d = json_is_integer(v) ? (double)json_integer_value(v) : json_number_value(v);
	if (!json_is_number(v) || isnan(d) || d < min || d > max) {
		char p[160];

		snprintf(p, sizeof(p), "%s.%s", path, key);
		rfail(r, p, json_is_number(v) ? "number out of range" : "expected a number or null");
		return dflt;
	}
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)d;
}

#define RINT(r, o, key, path, dflt) ((int)rinteger(r, o, key, path, dflt, INT_MIN, INT_MAX))
#define RI64(r, o, key, path, dflt) rinteger(r, o, key, path, dflt, -9.2e18, 9.2e18)
#define RU64(r, o, key, path, dflt) ((uint64_t)rinteger(r, o, key, path, dflt, 0, 9.2e18))

static bool rbool(struct reader *r, json_t *o, const char *key, const char *path)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return false;
	if (!json_is_boolean(v)) {
		char p[160];

		snprintf(p, sizeof(p), "%s.%s", path, key);
		rfail(r, p, "expected true or false");
		return false;
	}
	return json_is_true(v);
}

/* Array at key (may be missing: count 0). Allocates n * size in the arena. */
static void *rarray(struct reader *r, json_t *o, const char *key, size_t size, size_t *n,
		    json_t **arr)
{
	json_t *v = json_object_get(o, key);

	*n = 0;
	*arr = NULL;
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_array(v)) {
		rfail(r, key, "expected an array");
		return NULL;
	}
	*arr = v;
	*n = json_array_size(v);
	return *n ? arena_alloc(&r->s->arena, *n * size) : NULL;
}

static void read_sessions(struct reader *r, json_t *o)
{
	json_t *arr, *e;
	size_t i;

	r->s->sessions = rarray(r, o, "sessions", sizeof(struct snap_session), &r->s->nsessions, &arr);
	json_array_foreach(arr, i, e) {
		struct snap_session *x = &r->s->sessions[i];
		const char *p = "sessions[]";

		if (!json_is_object(e)) {
			rfail(r, p, "expected an object");
			return;
		}
		if (!json_is_integer(json_object_get(e, "pid")))
			rfail(r, "sessions[].pid", "expected an integer");
		x->pid = RINT(r, e, "pid", p, 0);
		x->leader_pid = RINT(r, e, "leader_pid", p, 0);
		x->user = rstr(r, e, "user", p);
		x->database = rstr(r, e, "database", p);
		x->application = rstr(r, e, "application", p);
		x->client = rstr(r, e, "client", p);
		x->backend_type = rstr(r, e, "backend_type", p);
		x->state = rstr(r, e, "state", p);
		x->wait_event_type = rstr(r, e, "wait_event_type", p);
		x->wait_event = rstr(r, e, "wait_event", p);
		x->backend_start = rnum(r, e, "backend_start", p, 0);
		x->xact_start = rnum(r, e, "xact_start", p, 0);
		x->query_start = rnum(r, e, "query_start", p, 0);
		x->state_change = rnum(r, e, "state_change", p, 0);
		x->xmin_age = RI64(r, e, "xmin_age", p, -1);
		x->query = rstr(r, e, "query", p);
		x->agent_id = rstr(r, e, "agent_id", p);
		x->task_id = rstr(r, e, "task_id", p);
		x->step = rstr(r, e, "step", p);
	}
}

static void read_locks(struct reader *r, json_t *o)
{
	json_t *lg = json_object_get(o, "lock_graph"), *arr, *e;
	size_t i;

	if (!lg || json_is_null(lg))
		return;
	if (!json_is_object(lg)) {
		rfail(r, "lock_graph", "expected an object");
		return;
	}
	r->s->edges = rarray(r, lg, "edges", sizeof(struct lockgraph_edge), &r->s->nedges, &arr);
	json_array_foreach(arr, i, e) {
		struct lockgraph_edge *x = &r->s->edges[i];
		const char *p = "lock_graph.edges[]", *kind;

		if (!json_is_object(e)) {
			rfail(r, p, "expected an object");
			return;
		}
		x->waiter = RINT(r, e, "waiter", p, -1);
		x->blocker = RINT(r, e, "blocker", p, -1);
		if (x->waiter < 0 || x->blocker < 0)
			rfail(r, "lock_graph.edges[].waiter/blocker", "expected pids (integers >= 0)");
		kind = rstr(r, e, "kind", p);
		x->hard = kind && strcmp(kind, "hard") == 0;
		x->mode = rstr(r, e, "mode", p);
		x->locktype = rstr(r, e, "locktype", p);
		x->relation = rstr(r, e, "relation", p);
		x->wait_start = rnum(r, e, "wait_start", p, 0);
	}
}

static void read_statements(struct reader *r, json_t *o)
{
	json_t *arr, *e;
	size_t i;

	r->s->statements = rarray(r, o, "statements", sizeof(struct snap_statement),
				  &r->s->nstatements, &arr);
	json_array_foreach(arr, i, e) {
		struct snap_statement *x = &r->s->statements[i];
		const char *p = "statements[]", *id;

		if (!json_is_object(e)) {
			rfail(r, p, "expected an object");
			return;
		}
		id = rstr(r, e, "queryid", p);
		x->queryid = id ? strtoll(id, NULL, 10) : 0;
		x->user = rstr(r, e, "user", p);
		x->database = rstr(r, e, "database", p);
		x->query = rstr(r, e, "query", p);
		x->calls = rnum(r, e, "calls", p, 0);
		x->calls_per_s = rnum(r, e, "calls_per_s", p, 0);
		x->total_ms = rnum(r, e, "total_ms", p, 0);
		x->mean_ms = rnum(r, e, "mean_ms", p, 0);
		x->max_ms = rnum(r, e, "max_ms_since_reset", p, 0);
		x->p99_ms_estimate = rnum(r, e, "p99_ms_estimate", p, 0);
		x->share = rnum(r, e, "share", p, 0);
		x->rows = rnum(r, e, "rows", p, 0);
		x->agent_id = rstr(r, e, "agent_id", p);
		x->task_id = rstr(r, e, "task_id", p);
	}
	r->s->statements_window_s = rnum(r, o, "statements_window_s", "", 0);
}

static void read_disk(struct reader *r, json_t *o)
{
	json_t *d = json_object_get(o, "disk"), *fs, *arr, *e;
	struct snap_disk *x = &r->s->disk;
	size_t i;

	if (!d || json_is_null(d))
		return;
	if (!json_is_object(d)) {
		rfail(r, "disk", "expected an object");
		return;
	}
	fs = json_object_get(d, "filesystem");
	if (json_is_object(fs)) {
		x->fs_known = rbool(r, fs, "known", "disk.filesystem");
		x->fs_path = rstr(r, fs, "path", "disk.filesystem");
		x->fs_source = rstr(r, fs, "source", "disk.filesystem");
		x->fs_total_bytes = RI64(r, fs, "total_bytes", "disk.filesystem", 0);
		x->fs_used_bytes = RI64(r, fs, "used_bytes", "disk.filesystem", 0);
		x->fs_avail_bytes = RI64(r, fs, "avail_bytes", "disk.filesystem", 0);
	}
	x->wal_bytes = RI64(r, d, "wal_bytes", "disk", -1);
	x->wal_files = RI64(r, d, "wal_files", "disk", 0);
	x->log_bytes = RI64(r, d, "log_bytes", "disk", -1);
	x->log_files = RI64(r, d, "log_files", "disk", 0);
	x->temp_bytes = RI64(r, d, "temp_bytes", "disk", -1);
	x->temp_files = RI64(r, d, "temp_files", "disk", 0);
	x->collected_at = rnum(r, d, "collected_at", "disk", 0);
	x->databases = rarray(r, d, "databases", sizeof(*x->databases), &x->ndatabases, &arr);
	json_array_foreach(arr, i, e) {
		x->databases[i].name = rstr(r, e, "name", "disk.databases[]");
		x->databases[i].bytes = RI64(r, e, "bytes", "disk.databases[]", 0);
	}
	x->slots = rarray(r, d, "replication_slots", sizeof(*x->slots), &x->nslots, &arr);
	json_array_foreach(arr, i, e) {
		const char *p = "disk.replication_slots[]";

		x->slots[i].name = rstr(r, e, "name", p);
		x->slots[i].type = rstr(r, e, "type", p);
		x->slots[i].active = rbool(r, e, "active", p);
		x->slots[i].retained_bytes = RI64(r, e, "retained_bytes", p, -1);
		x->slots[i].wal_status = rstr(r, e, "wal_status", p);
	}
	x->tables = rarray(r, d, "tables", sizeof(*x->tables), &x->ntables, &arr);
	json_array_foreach(arr, i, e) {
		struct snap_table *t = &x->tables[i];
		const char *p = "disk.tables[]";

		t->schema = rstr(r, e, "schema", p);
		t->name = rstr(r, e, "name", p);
		t->total_bytes = RI64(r, e, "total_bytes", p, 0);
		t->live_tuples = RI64(r, e, "live_tuples", p, 0);
		t->dead_tuples = RI64(r, e, "dead_tuples", p, 0);
		t->dead_ratio = rnum(r, e, "dead_ratio", p, 0);
		t->last_vacuum = rnum(r, e, "last_vacuum", p, 0);
		t->last_autovacuum = rnum(r, e, "last_autovacuum", p, 0);
		t->last_analyze = rnum(r, e, "last_analyze", p, 0);
		t->last_autoanalyze = rnum(r, e, "last_autoanalyze", p, 0);
	}
}

static void read_agents(struct reader *r, json_t *o)
{
	json_t *arr, *e;
	size_t i;

	r->s->agents = rarray(r, o, "agents", sizeof(struct snap_agent), &r->s->nagents, &arr);
	json_array_foreach(arr, i, e) {
		struct snap_agent *a = &r->s->agents[i];
		const char *p = "agents[]";

		a->agent_id = rstr(r, e, "agent_id", p);
		a->sessions = RINT(r, e, "sessions", p, 0);
		a->active = RINT(r, e, "active", p, 0);
		a->idle = RINT(r, e, "idle", p, 0);
		a->idle_in_transaction = RINT(r, e, "idle_in_transaction", p, 0);
		a->waiting = RINT(r, e, "waiting", p, 0);
		a->longest_idle_in_xact_s = rnum(r, e, "longest_idle_in_xact_s", p, 0);
		a->longest_query_s = rnum(r, e, "longest_query_s", p, 0);
		a->task_id = rstr(r, e, "task_id", p);
		a->step = rstr(r, e, "step", p);
		a->db_time_share = rnum(r, e, "db_time_share", p, 0);
		a->db_time_ms = rnum(r, e, "db_time_ms", p, 0);
		a->active_share = rnum(r, e, "active_share", p, 0);
	}
}

static void read_deadlocks(struct reader *r, json_t *o)
{
	json_t *arr, *e, *parr, *pe;
	size_t i, k;

	r->s->deadlocks = rarray(r, o, "deadlocks", sizeof(struct snap_deadlock),
				 &r->s->ndeadlocks, &arr);
	json_array_foreach(arr, i, e) {
		struct snap_deadlock *d = &r->s->deadlocks[i];
		const char *p = "deadlocks[]";

		d->at = rnum(r, e, "at", p, 0);
		d->pid = RINT(r, e, "pid", p, 0);
		d->user = rstr(r, e, "user", p);
		d->database = rstr(r, e, "database", p);
		d->application = rstr(r, e, "application", p);
		d->statement = rstr(r, e, "statement", p);
		d->context = rstr(r, e, "context", p);
		d->procs = rarray(r, e, "processes", sizeof(*d->procs), &d->nprocs, &parr);
		json_array_foreach(parr, k, pe) {
			struct snap_deadlock_proc *x = &d->procs[k];
			const char *pp = "deadlocks[].processes[]";

			x->pid = RINT(r, pe, "pid", pp, 0);
			x->mode = rstr(r, pe, "mode", pp);
			x->locktype = rstr(r, pe, "locktype", pp);
			x->object = rstr(r, pe, "object", pp);
			x->relation = rstr(r, pe, "relation", pp);
			x->xid = RU64(r, pe, "xid", pp, 0);
			x->blocked_by = RINT(r, pe, "blocked_by", pp, 0);
			x->statement = rstr(r, pe, "statement", pp);
		}
	}
}

struct snapshot *snapshot_from_json(json_t *j, char *err, size_t errlen)
{
	struct reader r = { snapshot_new(), err, errlen, 0 };
	struct snapshot *s = r.s;
	json_t *v, *srv, *col, *arr, *e;
	size_t i;

	if (!json_is_object(j)) {
		snprintf(err, errlen, "expected a JSON object");
		goto fail;
	}
	v = json_object_get(j, "version");
	if (!json_is_integer(v) || json_integer_value(v) != SNAPSHOT_JSON_VERSION) {
		snprintf(err, errlen, "field 'version': expected %d (this cockpit reads version %d)",
			 SNAPSHOT_JSON_VERSION, SNAPSHOT_JSON_VERSION);
		goto fail;
	}
	if (!json_is_array(json_object_get(j, "sessions"))) {
		snprintf(err, errlen, "field 'sessions': missing or not an array");
		goto fail;
	}
	s->target = rstr(&r, j, "target", "");
	s->connected = rbool(&r, j, "connected", "");
	s->error = rstr(&r, j, "error", "");
	s->collected_at = rnum(&r, j, "collected_at_epoch", "", 0);
	srv = json_object_get(j, "server");
	if (json_is_object(srv)) {
		const char *p = "server";

		s->server.version = rstr(&r, srv, "version", p);
		s->server.version_num = RINT(&r, srv, "version_num", p, 0);
		s->server.max_connections = RINT(&r, srv, "max_connections", p, 0);
		s->server.in_recovery = rbool(&r, srv, "in_recovery", p);
		s->server.replication_lag_s = rnum(&r, srv, "replication_lag_s", p, -1);
		s->server.tps = rnum(&r, srv, "tps", p, -1);
		s->server.cache_hit_ratio = rnum(&r, srv, "cache_hit_ratio", p, -1);
		s->server.xact_total = RI64(&r, srv, "xact_total", p, 0);
		s->server.blks_hit = RI64(&r, srv, "blks_hit", p, 0);
		s->server.blks_read = RI64(&r, srv, "blks_read", p, 0);
		s->server.now = rnum(&r, srv, "now", p, 0);
	}
	read_sessions(&r, j);
	read_locks(&r, j);
	read_statements(&r, j);
	read_disk(&r, j);
	read_agents(&r, j);
	read_deadlocks(&r, j);
	s->problems = rarray(&r, j, "problems", sizeof(*s->problems), &s->nproblems, &arr);
	json_array_foreach(arr, i, e) {
		s->problems[i].panel = rstr(&r, e, "panel", "problems[]");
		s->problems[i].message = rstr(&r, e, "message", "problems[]");
		s->problems[i].fix = rstr(&r, e, "fix", "problems[]");
	}
	col = json_object_get(j, "collector");
	if (json_is_object(col)) {
		s->stats.seq = RI64(&r, col, "seq", "collector", 0);
		s->stats.round_trips = RINT(&r, col, "round_trips", "collector", 0);
		s->stats.statements = RINT(&r, col, "statements", "collector", 0);
		s->stats.fast_ms = rnum(&r, col, "fast_ms", "collector", 0);
		s->stats.slow_ms = rnum(&r, col, "slow_ms", "collector", 0);
		s->stats.slow_refreshed = rbool(&r, col, "slow_refreshed", "collector");
	}
	if (r.failed)
		goto fail;
	snapshot_build_locks(s);
	return s;
fail:
	snapshot_unref(s);
	return NULL;
}
