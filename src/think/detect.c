/*
 * detect: the detectors of think/detect.h — one function per incident
 * class, each reading one snapshot (agent_hygiene also reads the role
 * catalog) and appending incidents whose evidence the runbook binds to.
 *
 * Shared rules, so that every detector is precise in the same way:
 *   - the target of an incident is never a session that waits on a lock
 *     (a victim), never cockpit's own session (application_name cockpit*),
 *     never a prepared transaction (it has no backend: report, escalate);
 *   - ages are measured against the server's clock at collection
 *     (snapshot server.now), so a skewed client clock changes nothing;
 *   - thresholds: the runbook's trigger.thresholds, else cockpit.conf's;
 *   - incident keys are stable while the incident lasts: a session is named
 *     by pid and backend_start (pids are reused), a table by its name.
 *
 * The evidence keys of each detector are documented for users in
 * runbooks/evidence.md; keep the two in step.
 */
#include "think/detect.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/snapshot.h"
#include "think/deadlock.h"

/* ---- small helpers ------------------------------------------------------ */

static double snap_now(const struct snapshot *s)
{
	return s->server.now > 0 ? s->server.now : s->collected_at;
}

static double age(double now, double at)
{
	return at > 0 && now > at ? now - at : 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

bool detect_is_own(const struct snap_session *ss)
{
	return ss->application && strncmp(ss->application, "cockpit", 7) == 0;
}

bool detect_is_idle_in_transaction(const char *state)
{
	return state && strncmp(state, "idle in transaction", 19) == 0;
}

static bool waits_on_lock(const struct snap_session *ss)
{
	return str_eq(ss->wait_event_type, "Lock");
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Seconds rounded to milliseconds, so evidence reads well. */
static json_t *jsec(double v)
{
	return json_real(round(v * 1000.0) / 1000.0);
}

/* An identifier as regclass input wants it: bare when it is a plain lower
 * case name, else double-quoted with quotes doubled. */
static void add_ident(struct strbuf *sb, const char *id)
{
	bool plain = id && *id && ((*id >= 'a' && *id <= 'z') || *id == '_');

	for (const char *p = id; plain && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
			plain = false;
	if (plain) {
		strbuf_addstr(sb, id);
		return;
	}
	strbuf_addch(sb, '"');
	for (const char *p = id ? id : ""; *p; p++) {
		if (*p == '"')
			strbuf_addch(sb, '"');
		strbuf_addch(sb, *p);
	}
	strbuf_addch(sb, '"');
}

char *detect_table_name(const char *schema, const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_init(&sb, 64);
	if (schema && *schema) {
		add_ident(&sb, schema);
		strbuf_addch(&sb, '.');
	}
	add_ident(&sb, name);
	return strbuf_detach(&sb, NULL);
}

static json_t *pid_list(int pid)
{
	json_t *a = json_array();

	json_array_append_new(a, json_integer(pid));
	return a;
}

/* Everything a runbook may want to know about one session. */
static json_t *session_json(const struct snap_session *ss, double now)
{
	json_t *o = json_object();

	json_object_set_new(o, "pid", json_integer(ss->pid));
	json_object_set_new(o, "pids", pid_list(ss->pid));
	json_object_set_new(o, "state", jstr(ss->state));
	json_object_set_new(o, "user", jstr(ss->user));
	json_object_set_new(o, "database", jstr(ss->database));
	json_object_set_new(o, "application", jstr(ss->application));
	json_object_set_new(o, "client", jstr(ss->client));
	json_object_set_new(o, "backend_type", jstr(ss->backend_type));
	json_object_set_new(o, "wait_event_type", jstr(ss->wait_event_type));
	json_object_set_new(o, "wait_event", jstr(ss->wait_event));
	json_object_set_new(o, "query", jstr(ss->query));
	json_object_set_new(o, "backend_start", json_real(ss->backend_start));
	json_object_set_new(o, "xact_start", ss->xact_start > 0 ? json_real(ss->xact_start) : json_null());
	json_object_set_new(o, "query_start", ss->query_start > 0 ? json_real(ss->query_start) : json_null());
	json_object_set_new(o, "xact_age_s", jsec(age(now, ss->xact_start)));
	json_object_set_new(o, "query_age_s", jsec(age(now, ss->query_start)));
	json_object_set_new(o, "state_age_s", jsec(age(now, ss->state_change)));
	json_object_set_new(o, "xmin_age", json_integer(ss->xmin_age));
	json_object_set_new(o, "agent_id", jstr(ss->agent_id));
	json_object_set_new(o, "task_id", jstr(ss->task_id));
	return o;
}

static double threshold(const struct runbook *rb, const char *name, double dflt)
{
	return runbook_threshold(rb, name, dflt);
}

static char *session_key(const char *runbook, int pid, double backend_start)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s/pid=%d/%.6f", runbook, pid, backend_start);
	return xstrdup(buf);
}

/* A suggested timeout for ALTER ROLE ... SET: a whole number of seconds,
 * never below floor_s. */
static json_t *timeout_value(double s, double floor_s)
{
	char buf[32];

	if (s < floor_s)
		s = floor_s;
	snprintf(buf, sizeof(buf), "%.0fs", ceil(s));
	return json_string(buf);
}

/* ---- lock_chain ---------------------------------------------------------- */

struct waiter_acc {
	json_t *waiters;
	json_t *pids;
	json_t *relations;
	double max_wait_s;
	int depth;
};

static double edge_wait_s(const struct snapshot *s, const struct lockgraph_edge *e, double now)
{
	size_t i;

	if (e->wait_start > 0)
		return age(now, e->wait_start);
	i = snapshot_find_session(s, e->waiter);
	if (i == SIZE_MAX)
		return 0;
	/* Without pg_locks.waitstart (before 14): the statement's age bounds it. */
	return age(now, s->sessions[i].state_change > 0 ? s->sessions[i].state_change :
							     s->sessions[i].query_start);
}

/* Every session waiting behind node ni, transitively, each once (BFS). */
static void collect_waiters(const struct snapshot *s, size_t root, double now,
			    struct waiter_acc *acc)
{
	const struct lockgraph *g = s->locks;
	size_t *queue = xmalloc((g->nnodes + 1) * sizeof(*queue));
	bool *seen = xcalloc(g->nnodes + 1, sizeof(*seen));
	size_t head = 0, tail = 0;

	queue[tail++] = root;
	seen[root] = true;
	while (head < tail) {
		const struct lockgraph_node *nd = &g->nodes[queue[head++]];

		for (size_t k = nd->in_first; k < nd->in_first + nd->in_count; k++) {
			const struct lockgraph_edge *e = &g->edges[g->in_edges[k]];
			size_t wi = lockgraph_find(g, e->waiter), si;
			double w;
			json_t *o;

			if (wi == SIZE_MAX || seen[wi])
				continue;
			seen[wi] = true;
			queue[tail++] = wi;
			w = edge_wait_s(s, e, now);
			o = json_object();
			json_object_set_new(o, "pid", json_integer(e->waiter));
			json_object_set_new(o, "blocked_by", json_integer(e->blocker));
			json_object_set_new(o, "wait_s", jsec(w));
			json_object_set_new(o, "mode", jstr(e->mode));
			json_object_set_new(o, "locktype", jstr(e->locktype));
			json_object_set_new(o, "relation", jstr(e->relation));
			json_object_set_new(o, "hard", json_boolean(e->hard));
			json_object_set_new(o, "depth", json_integer(g->nodes[wi].depth));
			si = snapshot_find_session(s, e->waiter);
			if (si != SIZE_MAX) {
				const struct snap_session *ws = &s->sessions[si];

				json_object_set_new(o, "user", jstr(ws->user));
				json_object_set_new(o, "application", jstr(ws->application));
				json_object_set_new(o, "query", jstr(ws->query));
			}
			json_array_append_new(acc->waiters, o);
			json_array_append_new(acc->pids, json_integer(e->waiter));
			if (e->relation) {
				bool dup = false;
				size_t j;
				json_t *v;

				json_array_foreach(acc->relations, j, v)
					if (str_eq(json_string_value(v), e->relation))
						dup = true;
				if (!dup)
					json_array_append_new(acc->relations, json_string(e->relation));
			}
			if (w > acc->max_wait_s)
				acc->max_wait_s = w;
			if (g->nodes[wi].depth > acc->depth)
				acc->depth = g->nodes[wi].depth;
		}
	}
	free(queue);
	free(seen);
}

static int detect_lock_chain(const struct detect_ctx *ctx, const struct runbook *rb,
			     struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	const struct lockgraph *g = s->locks;
	double now = snap_now(s);
	double min_waiters = threshold(rb, "min_waiters", 1);
	double wait_ms = threshold(rb, "wait_ms", ctx->cfg->thresholds.lock_wait_ms);
	double idle_ms = threshold(rb, "idle_ms", 250);
	int found = 0;

	if (!g)
		return 0;
	for (size_t r = 0; r < g->nroots; r++) {
		const struct lockgraph_node *nd = &g->nodes[g->roots[r]];
		struct waiter_acc acc = { json_array(), json_array(), json_array(), 0, 0 };
		size_t si = nd->pid ? snapshot_find_session(s, nd->pid) : SIZE_MAX;
		const struct snap_session *ss = si != SIZE_MAX ? &s->sessions[si] : NULL;
		json_t *ev, *root;
		struct incident *in;
		char *key, summary[512];
		const char *escalation = NULL;
		int target_pid = nd->pid;

		collect_waiters(s, g->roots[r], now, &acc);
		/* By effect: a root that sits idle in its transaction while
		 * others queue behind it is an incident once it has been idle
		 * for idle_ms (a busy application's gaps between the statements
		 * of one transaction are far shorter); a running root only when
		 * its longest waiter passed wait_ms (busy servers have short
		 * waits all the time: they are not incidents). */
		bool idle_root = ss && detect_is_idle_in_transaction(ss->state) &&
				 age(now, ss->state_change) * 1000.0 >= idle_ms;
		if ((double)json_array_size(acc.pids) < min_waiters ||
		    (!idle_root && acc.max_wait_s * 1000.0 < wait_ms)) {
			json_decref(acc.waiters);
			json_decref(acc.pids);
			json_decref(acc.relations);
			continue;
		}
		/* A parallel worker holds its leader's locks: the leader is the target. */
		if (ss && ss->leader_pid > 0 && ss->leader_pid != ss->pid) {
			size_t li = snapshot_find_session(s, ss->leader_pid);

			if (li != SIZE_MAX) {
				ss = &s->sessions[li];
				target_pid = ss->pid;
			}
		}
		if (ss) {
			root = session_json(ss, now);
			json_object_set_new(root, "kind", json_string(detect_is_own(ss) ? "cockpit" : "session"));
			if (target_pid != nd->pid)
				json_object_set_new(root, "worker_pid", json_integer(nd->pid));
		} else {
			root = json_object();
			json_object_set_new(root, "pid", json_integer(nd->pid));
			json_object_set_new(root, "pids", json_array());
			json_object_set_new(root, "state", json_string(nd->pid == 0 ? "prepared transaction" : "gone"));
			json_object_set_new(root, "kind", json_string(nd->pid == 0 ? "prepared" : "gone"));
		}
		json_object_set_new(root, "blocking", json_integer((json_int_t)nd->blocked_total));
		json_object_set_new(root, "direct_waiters", json_integer((json_int_t)nd->in_count));

		ev = json_object();
		json_object_set_new(ev, "root", root);
		json_object_set_new(ev, "waiters", acc.waiters);
		json_object_set_new(ev, "waiter_pids", acc.pids);
		json_object_set_new(ev, "waiting", json_integer((json_int_t)json_array_size(acc.pids)));
		json_object_set_new(ev, "relations", acc.relations);
		json_object_set_new(ev, "depth", json_integer(acc.depth));
		json_object_set_new(ev, "max_wait_s", jsec(acc.max_wait_s));
		json_object_set_new(ev, "max_sessions", json_integer(ctx->cfg->policy.max_sessions));

		if (!ss && nd->pid == 0) {
			escalation = "the root blocker is a prepared transaction (two-phase commit): it has no "
				     "backend to cancel or terminate — find it in pg_prepared_xacts and have its "
				     "owner COMMIT PREPARED or ROLLBACK PREPARED it";
			key = xstrdup("lock-chain/prepared");
			snprintf(summary, sizeof(summary),
				 "a prepared transaction blocks %zu session(s); longest wait %.1fs",
				 nd->blocked_total, acc.max_wait_s);
		} else if (!ss) {
			escalation = "the root blocker left pg_stat_activity between two reads; look again "
				     "at the next refresh";
			key = session_key("lock-chain", nd->pid, 0);
			snprintf(summary, sizeof(summary), "pid %d (gone) blocked %zu session(s)",
				 nd->pid, nd->blocked_total);
		} else {
			key = session_key("lock-chain", ss->pid, ss->backend_start);
			snprintf(summary, sizeof(summary),
				 "pid %d (%s, user %s, app '%s') blocks %zu session(s); longest wait %.1fs",
				 ss->pid, ss->state ? ss->state : "?", ss->user ? ss->user : "?",
				 ss->application ? ss->application : "", nd->blocked_total, acc.max_wait_s);
			if (detect_is_own(ss))
				escalation = "the root blocker is cockpit's own session: cockpit never signals "
					     "itself — look at what it runs (application_name cockpit*)";
		}
		in = incident_list_add(out, rb, key, summary, ev);
		if (escalation)
			in->escalation = xstrdup(escalation);
		free(key);
		found++;
	}
	return found;
}

/* ---- deadlock ------------------------------------------------------------- */

static int detect_deadlock(const struct detect_ctx *ctx, const struct runbook *rb,
			   struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	double window_s = threshold(rb, "window_s", 3600);
	json_t *ev = deadlock_analyze(s, window_s), *top;
	char key[256], summary[512];
	const char *fp;
	json_int_t count, live;

	if (!ev)
		return 0;
	count = json_integer_value(json_object_get(ev, "count"));
	live = json_integer_value(json_object_get(ev, "live_count"));
	if (count == 0 && live == 0) {
		json_decref(ev);
		return 0;
	}
	json_object_set_new(ev, "window_s", json_real(window_s));
	top = json_object_get(ev, "top");
	fp = json_string_value(json_object_get(top, "fingerprint"));
	snprintf(key, sizeof(key), "deadlock/%s", fp ? fp : "live");
	if (live > 0)
		snprintf(summary, sizeof(summary),
			 "%lld live lock cycle(s) now; %lld deadlock(s) logged in the last %.0fs",
			 (long long)live, (long long)count, window_s);
	else
		snprintf(summary, sizeof(summary),
			 "%lld deadlock(s) in the last %.0fs (the most frequent pair %lld time(s))",
			 (long long)count, window_s,
			 (long long)json_integer_value(json_object_get(top, "count")));
	incident_list_add(out, rb, key, summary, ev);
	return 1;
}

/* ---- slow_query ----------------------------------------------------------- */

static int detect_slow_query(const struct detect_ctx *ctx, const struct runbook *rb,
			     struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	double mean_thr = threshold(rb, "mean_ms", ctx->cfg->thresholds.slow_query_mean_ms);
	double p99_thr = threshold(rb, "p99_ms", 5 * mean_thr);
	double min_calls = threshold(rb, "min_calls", 1);
	int found = 0;

	if (s->statements_window_s <= 0)
		return 0;
	for (size_t i = 0; i < s->nstatements; i++) {
		const struct snap_statement *st = &s->statements[i];
		const char *basis = NULL;
		json_t *ev, *o;
		char key[64], summary[512];

		if (!st->query || strncmp(st->query, "/* cockpit", 10) == 0)
			continue;
		if (st->calls < min_calls || st->calls <= 0)
			continue;
		if (st->mean_ms >= mean_thr)
			basis = "mean";
		else if (p99_thr > 0 && st->p99_ms_estimate >= p99_thr)
			basis = "p99_estimate";
		if (!basis)
			continue;
		o = json_object();
		json_object_set_new(o, "queryid", json_integer(st->queryid));
		json_object_set_new(o, "query", json_string(st->query));
		json_object_set_new(o, "mean_ms", json_real(st->mean_ms));
		json_object_set_new(o, "calls", json_real(st->calls));
		json_object_set_new(o, "calls_per_s", json_real(st->calls_per_s));
		json_object_set_new(o, "total_ms", json_real(st->total_ms));
		json_object_set_new(o, "share", json_real(st->share));
		json_object_set_new(o, "max_ms", json_real(st->max_ms));
		json_object_set_new(o, "p99_ms_estimate", json_real(st->p99_ms_estimate));
		json_object_set_new(o, "rows", json_real(st->rows));
		json_object_set_new(o, "user", jstr(st->user));
		json_object_set_new(o, "database", jstr(st->database));
		json_object_set_new(o, "agent_id", jstr(st->agent_id));
		ev = json_object();
		json_object_set_new(ev, "statement", o);
		json_object_set_new(ev, "basis", json_string(basis));
		json_object_set_new(ev, "threshold_ms", json_real(strcmp(basis, "mean") == 0 ? mean_thr : p99_thr));
		json_object_set_new(ev, "window_s", json_real(s->statements_window_s));
		snprintf(key, sizeof(key), "slow-query/queryid=%lld", (long long)st->queryid);
		if (strcmp(basis, "mean") == 0)
			snprintf(summary, sizeof(summary),
				 "mean %.0f ms over %.0f call(s) in %.0fs (%.0f%% of DB time): %.120s",
				 st->mean_ms, st->calls, s->statements_window_s, st->share * 100, st->query);
		else
			snprintf(summary, sizeof(summary),
				 "estimated p99 %.0f ms (mean %.0f ms; an estimate from the stddev) : %.120s",
				 st->p99_ms_estimate, st->mean_ms, st->query);
		incident_list_add(out, rb, key, summary, ev);
		found++;
	}
	return found;
}

/* ---- disk_space ----------------------------------------------------------- */

static json_t *table_json(const struct snap_table *t, double now)
{
	json_t *o = json_object();
	char *name = detect_table_name(t->schema, t->name);
	double last = t->last_vacuum > t->last_autovacuum ? t->last_vacuum : t->last_autovacuum;

	json_object_set_new(o, "table", json_string(name));
	json_object_set_new(o, "schema", jstr(t->schema));
	json_object_set_new(o, "name", jstr(t->name));
	json_object_set_new(o, "total_bytes", json_integer(t->total_bytes));
	json_object_set_new(o, "live_tuples", json_integer(t->live_tuples));
	json_object_set_new(o, "dead_tuples", json_integer(t->dead_tuples));
	json_object_set_new(o, "dead_ratio", json_real(round(t->dead_ratio * 10000) / 10000));
	json_object_set_new(o, "last_vacuum", t->last_vacuum > 0 ? json_real(t->last_vacuum) : json_null());
	json_object_set_new(o, "last_autovacuum", t->last_autovacuum > 0 ? json_real(t->last_autovacuum) : json_null());
	json_object_set_new(o, "last_analyze", t->last_analyze > 0 ? json_real(t->last_analyze) : json_null());
	json_object_set_new(o, "last_autoanalyze", t->last_autoanalyze > 0 ? json_real(t->last_autoanalyze) : json_null());
	json_object_set_new(o, "vacuum_age_s", last > 0 ? jsec(age(now, last)) : json_integer(-1));
	free(name);
	return o;
}

static bool table_bloated(const struct snap_table *t, double ratio, double dead_min)
{
	return t->dead_ratio >= ratio && (double)t->dead_tuples >= dead_min && t->dead_tuples > 0;
}

static json_t *bytes_files(int64_t bytes, int64_t files, int64_t used)
{
	json_t *o = json_object();

	json_object_set_new(o, "bytes", bytes >= 0 ? json_integer(bytes) : json_null());
	json_object_set_new(o, "files", bytes >= 0 ? json_integer(files) : json_null());
	json_object_set_new(o, "share", bytes >= 0 && used > 0 ?
			    json_real(round((double)bytes / (double)used * 10000) / 10000) : json_real(0));
	return o;
}

static int detect_disk_space(const struct detect_ctx *ctx, const struct runbook *rb,
			     struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	const struct snap_disk *d = &s->disk;
	double warn = threshold(rb, "warn_pct", ctx->cfg->thresholds.disk_warn_pct);
	double crit = threshold(rb, "crit_pct", ctx->cfg->thresholds.disk_crit_pct);
	double ratio = ctx->cfg->thresholds.dead_tuple_ratio;
	double dead_min = ctx->cfg->thresholds.dead_tuple_min;
	double now = snap_now(s), pct;
	int64_t denom;
	json_t *ev, *fs, *arr, *inactive, *bloated;
	struct incident *in;
	char key[600], summary[512];
	const char *level;

	if (!d->fs_known)
		return 0;
	denom = d->fs_used_bytes + d->fs_avail_bytes;
	if (denom <= 0)
		return 0;
	/* As df computes it: blocks reserved for root count as neither. */
	pct = (double)d->fs_used_bytes * 100.0 / (double)denom;
	if (pct < warn)
		return 0;
	level = pct >= crit ? "critical" : "warning";

	ev = json_object();
	fs = json_object();
	json_object_set_new(fs, "path", jstr(d->fs_path));
	json_object_set_new(fs, "source", jstr(d->fs_source));
	json_object_set_new(fs, "total_bytes", json_integer(d->fs_total_bytes));
	json_object_set_new(fs, "used_bytes", json_integer(d->fs_used_bytes));
	json_object_set_new(fs, "avail_bytes", json_integer(d->fs_avail_bytes));
	json_object_set_new(fs, "used_pct", json_real(round(pct * 100) / 100));
	json_object_set_new(ev, "fs", fs);
	json_object_set_new(ev, "level", json_string(level));
	json_object_set_new(ev, "warn_pct", json_real(warn));
	json_object_set_new(ev, "crit_pct", json_real(crit));
	json_object_set_new(ev, "wal", bytes_files(d->wal_bytes, d->wal_files, d->fs_used_bytes));
	json_object_set_new(ev, "logs", bytes_files(d->log_bytes, d->log_files, d->fs_used_bytes));
	json_object_set_new(ev, "temp", bytes_files(d->temp_bytes, d->temp_files, d->fs_used_bytes));

	arr = json_array();
	for (size_t i = 0; i < d->ndatabases; i++)
		json_array_append_new(arr, json_pack("{s:s?, s:I}", "name", d->databases[i].name,
						     "bytes", (json_int_t)d->databases[i].bytes));
	json_object_set_new(ev, "databases", arr);

	arr = json_array();
	bloated = json_array();
	for (size_t i = 0; i < d->ntables; i++) {
		if (i < 10)
			json_array_append_new(arr, table_json(&d->tables[i], now));
		if (table_bloated(&d->tables[i], ratio, dead_min))
			json_array_append_new(bloated, table_json(&d->tables[i], now));
	}
	json_object_set_new(ev, "tables", arr);
	if (json_array_size(bloated) > 0)
		json_object_set(ev, "bloated_table", json_array_get(bloated, 0));
	json_object_set_new(ev, "bloated_count", json_integer((json_int_t)json_array_size(bloated)));
	json_object_set_new(ev, "bloated_tables", bloated);

	arr = json_array();
	inactive = json_array();
	for (size_t i = 0; i < d->nslots; i++) {
		const struct snap_slot *sl = &d->slots[i];
		json_t *o = json_pack("{s:s?, s:s?, s:b, s:I, s:s?}", "name", sl->name, "type", sl->type,
				      "active", sl->active, "retained_bytes", (json_int_t)sl->retained_bytes,
				      "wal_status", sl->wal_status);

		json_array_append(arr, o);
		if (!sl->active && sl->retained_bytes > 0) {
			size_t at = json_array_size(inactive);

			/* Largest retention first: the slot worth dropping first. */
			for (size_t k = 0; k < json_array_size(inactive); k++)
				if (json_integer_value(json_object_get(json_array_get(inactive, k), "retained_bytes")) <
				    sl->retained_bytes) {
					at = k;
					break;
				}
			json_array_insert(inactive, at, o);
		}
		json_decref(o);
	}
	json_object_set_new(ev, "slots", arr);
	if (json_array_size(inactive) > 0)
		json_object_set(ev, "inactive_slot", json_array_get(inactive, 0));
	json_object_set_new(ev, "inactive_slot_count", json_integer((json_int_t)json_array_size(inactive)));
	json_object_set_new(ev, "inactive_slots", inactive);

	snprintf(key, sizeof(key), "disk-space/%s", d->fs_path ? d->fs_path : "data");
	snprintf(summary, sizeof(summary), "%s is %.1f%% full (%s at %.0f%%)",
		 d->fs_path ? d->fs_path : "the data volume", pct, level,
		 strcmp(level, "critical") == 0 ? crit : warn);
	in = incident_list_add(out, rb, key, summary, ev);
	in->severity = strcmp(level, "critical") == 0 ? SEVERITY_CRITICAL : SEVERITY_WARNING;
	return 1;
}

/* ---- bloat ---------------------------------------------------------------- */

/* The session holding the xmin horizon back the most, or NULL. */
static const struct snap_session *xmin_holder(const struct snapshot *s)
{
	const struct snap_session *best = NULL;

	for (size_t i = 0; i < s->nsessions; i++)
		if (s->sessions[i].xmin_age > 0 && (!best || s->sessions[i].xmin_age > best->xmin_age))
			best = &s->sessions[i];
	return best;
}

static int detect_bloat(const struct detect_ctx *ctx, const struct runbook *rb,
			struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	const struct snap_disk *d = &s->disk;
	double ratio = threshold(rb, "dead_ratio", ctx->cfg->thresholds.dead_tuple_ratio);
	double dead_min = threshold(rb, "dead_min", ctx->cfg->thresholds.dead_tuple_min);
	double stall_s = threshold(rb, "vacuum_stall_s", 86400);
	double xmin_thr = threshold(rb, "xmin_age", 1000000);
	double now = snap_now(s);
	const struct snap_session *holder = xmin_holder(s);
	int found = 0;

	for (size_t i = 0; i < d->ntables; i++) {
		const struct snap_table *t = &d->tables[i];
		json_t *ev, *tj;
		char *name, key[600], summary[700];
		bool stalled;
		const char *why;

		if (!table_bloated(t, ratio, dead_min))
			continue;
		if (t->last_autovacuum <= 0) {
			stalled = true;
			why = "autovacuum never ran on it";
		} else {
			stalled = age(now, t->last_autovacuum) > stall_s;
			why = stalled ? "autovacuum has not run within vacuum_stall_s" : "autovacuum runs";
		}
		tj = table_json(t, now);
		name = xstrdup(json_string_value(json_object_get(tj, "table")));
		ev = json_object();
		json_object_set_new(ev, "table", tj);
		json_object_set_new(ev, "autovacuum_stalled", json_boolean(stalled));
		json_object_set_new(ev, "stall_reason", json_string(why));
		json_object_set_new(ev, "dead_ratio_threshold", json_real(ratio));
		if (holder && (double)holder->xmin_age >= xmin_thr) {
			/* VACUUM cannot remove rows this snapshot may still see. */
			json_t *h = session_json(holder, now);

			json_object_set_new(ev, "xmin_holder", h);
		}
		snprintf(key, sizeof(key), "bloat/%s", name);
		snprintf(summary, sizeof(summary), "%s: %lld dead tuples (%.0f%% of its rows); %s",
			 name, (long long)t->dead_tuples, t->dead_ratio * 100, why);
		incident_list_add(out, rb, key, summary, ev);
		free(name);
		found++;
	}
	return found;
}

/* ---- idle_in_transaction -------------------------------------------------- */

static bool runbooks_have_detector(const struct runbook_set *set, const char *detector)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (str_eq(set->v[i].detector, detector))
			return true;
	return false;
}

static int detect_idle_in_transaction(const struct detect_ctx *ctx, const struct runbook *rb,
				      struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	const struct lockgraph *g = s->locks;
	double idle_thr = threshold(rb, "idle_s", ctx->cfg->thresholds.idle_in_transaction_s);
	double xmin_thr = threshold(rb, "xmin_age", 1000000);
	double now = snap_now(s);
	bool chain_owns = runbooks_have_detector(ctx->runbooks, "lock_chain");
	int found = 0;

	for (size_t i = 0; i < s->nsessions; i++) {
		const struct snap_session *ss = &s->sessions[i];
		size_t ni = g ? lockgraph_find(g, ss->pid) : SIZE_MAX;
		size_t blocking = ni != SIZE_MAX ? g->nodes[ni].blocked_total : 0;
		double idle = age(now, ss->state_change);
		bool old = idle >= idle_thr, holds = ss->xmin_age >= 0 && (double)ss->xmin_age >= xmin_thr;
		json_t *ev, *sj, *reasons;
		char *key, summary[512];

		if (!detect_is_idle_in_transaction(ss->state) || detect_is_own(ss) || waits_on_lock(ss))
			continue;
		/* A root blocker with waiters is the lock-chain runbook's incident
		 * (it terminates idle-in-transaction roots): one incident per pid. */
		if (blocking > 0 && chain_owns)
			continue;
		if (!old && !holds && blocking == 0)
			continue;
		reasons = json_array();
		if (old)
			json_array_append_new(reasons, json_string("idle"));
		if (holds)
			json_array_append_new(reasons, json_string("xmin"));
		if (blocking > 0)
			json_array_append_new(reasons, json_string("blocking"));
		sj = session_json(ss, now);
		json_object_set_new(sj, "idle_s", jsec(idle));
		ev = json_object();
		json_object_set_new(ev, "session", sj);
		json_object_set_new(ev, "reasons", reasons);
		json_object_set_new(ev, "blocking", json_integer((json_int_t)blocking));
		json_object_set_new(ev, "holds_xmin", json_boolean(holds));
		json_object_set_new(ev, "idle_threshold_s", json_real(idle_thr));
		json_object_set_new(ev, "role", jstr(ss->user));
		/* The role fix: end such transactions on the server's side, a
		 * little after our own threshold. */
		json_object_set_new(ev, "suggested_idle_timeout", timeout_value(idle_thr * 2, 60));
		key = session_key("idle-in-transaction", ss->pid, ss->backend_start);
		snprintf(summary, sizeof(summary),
			 "pid %d (user %s, app '%s') idle in transaction for %.0fs%s%s",
			 ss->pid, ss->user ? ss->user : "?", ss->application ? ss->application : "",
			 idle, holds ? "; holds back the xmin horizon" : "",
			 blocking > 0 ? "; blocks other sessions" : "");
		incident_list_add(out, rb, key, summary, ev);
		free(key);
		found++;
	}
	return found;
}

/* ---- connection_exhaustion ------------------------------------------------ */

static void count_into(json_t *counts, const char *k)
{
	json_t *v;

	if (!k || !*k)
		k = "(none)";
	v = json_object_get(counts, k);
	if (v)
		json_integer_set(v, json_integer_value(v) + 1); /* counts is ours alone */
	else
		json_object_set_new(counts, k, json_integer(1));
}

/* {"a": 3, "b": 1} -> [{"name": "a", "count": 3}, ...] largest first. */
static json_t *counts_sorted(json_t *counts)
{
	json_t *arr = json_array(), *v;
	const char *k;

	json_object_foreach(counts, k, v) {
		size_t at = json_array_size(arr);

		for (size_t i = 0; i < json_array_size(arr); i++)
			if (json_integer_value(json_object_get(json_array_get(arr, i), "count")) <
			    json_integer_value(v)) {
				at = i;
				break;
			}
		json_array_insert_new(arr, at, json_pack("{s:s, s:I}", "name", k, "count", json_integer_value(v)));
	}
	json_decref(counts);
	return arr;
}

static bool client_backend(const struct snap_session *ss)
{
	return !ss->backend_type || strcmp(ss->backend_type, "client backend") == 0;
}

static int cmp_idle_oldest(const void *a, const void *b)
{
	const struct snap_session *x = *(const struct snap_session *const *)a;
	const struct snap_session *y = *(const struct snap_session *const *)b;

	if (x->state_change != y->state_change)
		return x->state_change < y->state_change ? -1 : 1;
	return x->pid - y->pid;
}

static int detect_connection_exhaustion(const struct detect_ctx *ctx, const struct runbook *rb,
					struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	double pct_thr = threshold(rb, "pct", ctx->cfg->thresholds.connections_pct);
	double now = snap_now(s), pct;
	int max = s->server.max_connections, n = 0, limit = ctx->cfg->policy.max_sessions;
	json_t *apps = json_object(), *agents = json_object(), *users = json_object(), *states = json_object();
	const struct snap_session **idle;
	size_t nidle = 0;
	json_t *ev, *cands, *cpids;
	char key[64], summary[256];

	if (max <= 0 || !s->connected) {
		json_decref(apps); json_decref(agents); json_decref(users); json_decref(states);
		return 0;
	}
	idle = xmalloc((s->nsessions + 1) * sizeof(*idle));
	for (size_t i = 0; i < s->nsessions; i++) {
		const struct snap_session *ss = &s->sessions[i];

		if (!client_backend(ss))
			continue;
		n++;
		count_into(apps, ss->application);
		count_into(users, ss->user);
		count_into(states, ss->state);
		if (ss->agent_id)
			count_into(agents, ss->agent_id);
		if (str_eq(ss->state, "idle") && !detect_is_own(ss))
			idle[nidle++] = ss;
	}
	pct = (double)n * 100.0 / (double)max;
	if (pct < pct_thr) {
		free(idle);
		json_decref(apps); json_decref(agents); json_decref(users); json_decref(states);
		return 0;
	}
	qsort(idle, nidle, sizeof(*idle), cmp_idle_oldest);
	cands = json_array();
	cpids = json_array();
	for (size_t i = 0; i < nidle && (limit <= 0 || i < (size_t)limit); i++) {
		json_t *o = session_json(idle[i], now);

		json_object_set_new(o, "idle_s", jsec(age(now, idle[i]->state_change)));
		json_array_append_new(cands, o);
		json_array_append_new(cpids, json_integer(idle[i]->pid));
	}
	ev = json_object();
	json_object_set_new(ev, "connections", json_integer(n));
	json_object_set_new(ev, "max_connections", json_integer(max));
	json_object_set_new(ev, "used_pct", json_real(round(pct * 100) / 100));
	json_object_set_new(ev, "threshold_pct", json_real(pct_thr));
	json_object_set_new(ev, "by_application", counts_sorted(apps));
	json_object_set_new(ev, "by_agent", counts_sorted(agents));
	json_object_set_new(ev, "by_user", counts_sorted(users));
	json_object_set_new(ev, "by_state", counts_sorted(states));
	json_object_set_new(ev, "idle_count", json_integer((json_int_t)nidle));
	json_object_set_new(ev, "candidates", cands);
	json_object_set_new(ev, "candidate_pids", cpids);
	json_object_set_new(ev, "candidate_count", json_integer((json_int_t)json_array_size(cpids)));
	snprintf(key, sizeof(key), "connection-exhaustion");
	snprintf(summary, sizeof(summary), "%d of max_connections %d in use (%.0f%%); %zu idle",
		 n, max, pct, nidle);
	incident_list_add(out, rb, key, summary, ev);
	free(idle);
	return 1;
}

/* ---- agent_runaway -------------------------------------------------------- */

static int cmp_query_oldest(const void *a, const void *b)
{
	const struct snap_session *x = *(const struct snap_session *const *)a;
	const struct snap_session *y = *(const struct snap_session *const *)b;

	if (x->query_start != y->query_start)
		return x->query_start < y->query_start ? -1 : 1;
	return x->pid - y->pid;
}

/* A string or null; false when s is not UTF-8 (as json_pack's "s?"). */
static bool set_str_or_null(json_t *o, const char *k, const char *s)
{
	json_t *v = s ? json_string(s) : json_null();

	return v && json_object_set_new_nocheck(o, k, v) == 0;
}

/* {"pid", "state", "user", "query_age_s", "wait_event_type"} of one of an
 * agent's sessions, built directly: json_pack's format parsing was a
 * quarter of the brain's work a refresh with 200 agent sessions. NULL (the
 * session left out, as json_pack did) when a text is not UTF-8. */
static json_t *session_brief(const struct snap_session *ss, double now)
{
	json_t *o = json_object();

	if (!o || json_object_set_new_nocheck(o, "pid", json_integer(ss->pid)) != 0 ||
	    !set_str_or_null(o, "state", ss->state) || !set_str_or_null(o, "user", ss->user) ||
	    json_object_set_new_nocheck(o, "query_age_s",
					json_real(round(age(now, ss->query_start) * 1000) / 1000)) != 0 ||
	    !set_str_or_null(o, "wait_event_type", ss->wait_event_type)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int detect_agent_runaway(const struct detect_ctx *ctx, const struct runbook *rb,
				struct incident_list *out)
{
	const struct snapshot *s = ctx->snap;
	double share_thr = threshold(rb, "db_share", 0.5);
	double min_db_ms = threshold(rb, "min_db_ms", 1000);
	double sessions_thr = threshold(rb, "sessions", 20);
	double query_thr = threshold(rb, "query_s", 60);
	double now = snap_now(s);
	int limit = ctx->cfg->policy.max_sessions, found = 0;
	const struct snap_session **act = xmalloc((s->nsessions + 1) * sizeof(*act));

	for (size_t a = 0; a < s->nagents; a++) {
		const struct snap_agent *ag = &s->agents[a];
		json_t *ev, *aj, *reasons, *roles, *pids, *sessions, *ended;
		size_t nact = 0, nidle = 0;
		char key[300], summary[512];

		reasons = json_array();
		if (s->statements_window_s > 0 && ag->db_time_share >= share_thr && ag->db_time_ms >= min_db_ms)
			json_array_append_new(reasons, json_string("db_share"));
		if ((double)ag->sessions >= sessions_thr)
			json_array_append_new(reasons, json_string("sessions"));
		if (ag->longest_query_s >= query_thr)
			json_array_append_new(reasons, json_string("query_s"));
		if (json_array_size(reasons) == 0) {
			json_decref(reasons);
			continue;
		}
		roles = json_object();
		sessions = json_array();
		ended = json_array();
		for (size_t i = 0; i < s->nsessions; i++) {
			const struct snap_session *ss = &s->sessions[i];

			if (!str_eq(ss->agent_id, ag->agent_id) || detect_is_own(ss))
				continue;
			count_into(roles, ss->user);
			json_array_append_new(sessions, session_brief(ss, now));
			/* Victims waiting on a lock are not the runaway's doing. */
			if (str_eq(ss->state, "active") && !waits_on_lock(ss))
				act[nact++] = ss;
			else if (str_eq(ss->state, "idle") || detect_is_idle_in_transaction(ss->state))
				if (limit <= 0 || nidle++ < (size_t)limit)
					json_array_append_new(ended, json_integer(ss->pid));
		}
		qsort(act, nact, sizeof(*act), cmp_query_oldest);
		pids = json_array();
		for (size_t i = 0; i < nact && (limit <= 0 || i < (size_t)limit); i++)
			json_array_append_new(pids, json_integer(act[i]->pid));

		aj = json_object();
		json_object_set_new(aj, "agent_id", json_string(ag->agent_id));
		json_object_set_new(aj, "sessions", json_integer(ag->sessions));
		json_object_set_new(aj, "active", json_integer(ag->active));
		json_object_set_new(aj, "idle", json_integer(ag->idle));
		json_object_set_new(aj, "idle_in_transaction", json_integer(ag->idle_in_transaction));
		json_object_set_new(aj, "waiting", json_integer(ag->waiting));
		json_object_set_new(aj, "longest_query_s", jsec(ag->longest_query_s));
		json_object_set_new(aj, "db_time_share", json_real(ag->db_time_share));
		json_object_set_new(aj, "db_time_ms", json_real(ag->db_time_ms));
		json_object_set_new(aj, "task_id", jstr(ag->task_id));
		json_object_set_new(aj, "step", jstr(ag->step));
		ev = json_object();
		json_object_set_new(ev, "agent", aj);
		json_object_set_new(ev, "reasons", reasons);
		json_object_set_new(ev, "active_pids", pids);
		json_object_set_new(ev, "active_count", json_integer((json_int_t)json_array_size(pids)));
		json_object_set_new(ev, "idle_pids", ended);
		json_object_set_new(ev, "idle_count", json_integer((json_int_t)json_array_size(ended)));
		json_object_set_new(ev, "sessions", sessions);
		roles = counts_sorted(roles);
		if (json_array_size(roles) > 0)
			json_object_set(ev, "role", json_object_get(json_array_get(roles, 0), "name"));
		json_object_set_new(ev, "roles", roles);
		json_object_set_new(ev, "suggested_statement_timeout", timeout_value(query_thr, 1));
		json_object_set_new(ev, "thresholds", json_pack("{s:f, s:f, s:f}", "db_share", share_thr,
								"sessions", sessions_thr, "query_s", query_thr));
		snprintf(key, sizeof(key), "agent-runaway/%s", ag->agent_id);
		snprintf(summary, sizeof(summary),
			 "agent %s: %d session(s), %d active, longest statement %.0fs, %.0f%% of DB time",
			 ag->agent_id, ag->sessions, ag->active, ag->longest_query_s, ag->db_time_share * 100);
		incident_list_add(out, rb, key, summary, ev);
		found++;
	}
	free(act);
	return found;
}

/* ---- agent_hygiene -------------------------------------------------------- */

static const char hygiene_roles_sql[] =
	"/* cockpit detect: agent roles */ "
	"SELECT r.rolname, r.rolsuper, r.rolbypassrls, "
	"(SELECT coalesce(json_agg(c ORDER BY s.setdatabase), '[]')::text "
	"   FROM pg_db_role_setting s, unnest(s.setconfig) c "
	"  WHERE s.setrole = r.oid AND s.setdatabase IN (0, "
	"        (SELECT oid FROM pg_database WHERE datname = current_database()))) "
	"FROM pg_roles r WHERE r.rolcanlogin AND r.rolname !~ '^pg_' ORDER BY r.rolname";

static const char hygiene_delete_sql[] =
	"/* cockpit detect: agent DELETE grants */ "
	"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
	"AND n.nspname !~ '^pg_toast' AND has_table_privilege($1, c.oid, 'DELETE') "
	"ORDER BY 1 LIMIT 20";

/* The value of setting name in a list of "name=value" texts, or NULL. */
static const char *setting_of(json_t *settings, const char *name)
{
	size_t i, len = strlen(name);
	json_t *v;
	const char *found = NULL;

	json_array_foreach(settings, i, v) {
		const char *t = json_string_value(v);

		if (t && strncmp(t, name, len) == 0 && t[len] == '=')
			found = t + len + 1;   /* the database-specific one comes last: it wins */
	}
	return found;
}

static bool setting_off(const char *v)
{
	return !v || strcmp(v, "0") == 0 || strcmp(v, "0ms") == 0 || strcmp(v, "0s") == 0;
}

static int detect_agent_hygiene(const struct detect_ctx *ctx, const struct runbook *rb,
				struct incident_list *out)
{
	const char *pattern = ctx->cfg->agent_role_pattern ? ctx->cfg->agent_role_pattern : "agent_*";
	double stmt_s = threshold(rb, "statement_timeout_s", 30);
	double idle_s = threshold(rb, "idle_timeout_s", 60);
	PGresult *r;
	int found = 0;

	if (!ctx->conn)
		return 0;
	r = PQexec(ctx->conn, hygiene_roles_sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		const char *role = PQgetvalue(r, i, 0);
		bool super = PQgetvalue(r, i, 1)[0] == 't', bypass = PQgetvalue(r, i, 2)[0] == 't';
		json_t *settings = json_loads(PQgetvalue(r, i, 3), 0, NULL), *problems, *manual, *dels, *ev, *rj;
		const char *st, *it;
		bool no_st, no_it;
		char key[300], summary[700];
		struct strbuf sb = STRBUF_INIT;

		if (fnmatch(pattern, role, 0) != 0) {
			json_decref(settings);
			continue;
		}
		if (!json_is_array(settings)) {
			json_decref(settings);
			settings = json_array();
		}
		st = setting_of(settings, "statement_timeout");
		it = setting_of(settings, "idle_in_transaction_session_timeout");
		no_st = setting_off(st);
		no_it = setting_off(it);
		dels = json_array();
		if (!super) {
			const char *params[1] = { role };
			PGresult *d = PQexecParams(ctx->conn, hygiene_delete_sql, 1, NULL, params, NULL, NULL, 0);

			if (PQresultStatus(d) == PGRES_TUPLES_OK)
				for (int k = 0; k < PQntuples(d); k++)
					json_array_append_new(dels, json_string(PQgetvalue(d, k, 0)));
			PQclear(d);
		}
		problems = json_array();
		manual = json_array();
		if (no_st)
			json_array_append_new(problems, json_string("no statement_timeout"));
		if (no_it)
			json_array_append_new(problems, json_string("no idle_in_transaction_session_timeout"));
		if (super) {
			json_array_append_new(problems, json_string("superuser"));
			json_array_append_new(manual, json_sprintf("ALTER ROLE %s NOSUPERUSER", role));
		}
		if (bypass) {
			json_array_append_new(problems, json_string("bypasses row level security"));
			json_array_append_new(manual, json_sprintf("ALTER ROLE %s NOBYPASSRLS", role));
		}
		if (json_array_size(dels) > 0)
			json_array_append_new(problems, json_string("DELETE on tables"));
		if (json_array_size(problems) == 0) {
			json_decref(settings);
			json_decref(problems);
			json_decref(manual);
			json_decref(dels);
			continue;
		}
		rj = json_object();
		json_object_set_new(rj, "name", json_string(role));
		json_object_set_new(rj, "superuser", json_boolean(super));
		json_object_set_new(rj, "bypassrls", json_boolean(bypass));
		json_object_set_new(rj, "settings", settings);
		json_object_set_new(rj, "statement_timeout", jstr(st));
		json_object_set_new(rj, "idle_in_transaction_session_timeout", jstr(it));
		ev = json_object();
		json_object_set_new(ev, "role", rj);
		json_object_set_new(ev, "pattern", json_string(pattern));
		json_object_set_new(ev, "problems", problems);
		json_object_set_new(ev, "missing_statement_timeout", json_boolean(no_st));
		json_object_set_new(ev, "missing_idle_timeout", json_boolean(no_it));
		json_object_set_new(ev, "suggested_statement_timeout", timeout_value(stmt_s, 1));
		json_object_set_new(ev, "suggested_idle_timeout", timeout_value(idle_s, 1));
		if (json_array_size(dels) > 0)
			json_object_set(ev, "delete_table", json_array_get(dels, 0));
		json_object_set_new(ev, "delete_count", json_integer((json_int_t)json_array_size(dels)));
		json_object_set_new(ev, "delete_tables", dels);
		if (json_array_size(manual) > 0)
			json_object_set(ev, "manual", manual);
		json_decref(manual);
		for (size_t k = 0; k < json_array_size(problems); k++) {
			if (k)
				strbuf_addstr(&sb, ", ");
			strbuf_addstr(&sb, json_string_value(json_array_get(problems, k)));
		}
		snprintf(key, sizeof(key), "agent-hygiene/%s", role);
		snprintf(summary, sizeof(summary), "agent role %s: %s", role, sb.buf);
		strbuf_release(&sb);
		incident_list_add(out, rb, key, summary, ev);
		found++;
	}
	PQclear(r);
	return found;
}

/* ---- registry ------------------------------------------------------------- */

struct detector {
	const char *name;
	detector_fn fn;
};

static const struct detector detectors[] = {
	{ "lock_chain", detect_lock_chain },
	{ "deadlock", detect_deadlock },
	{ "slow_query", detect_slow_query },
	{ "disk_space", detect_disk_space },
	{ "bloat", detect_bloat },
	{ "idle_in_transaction", detect_idle_in_transaction },
	{ "connection_exhaustion", detect_connection_exhaustion },
	{ "agent_runaway", detect_agent_runaway },
	{ "agent_hygiene", detect_agent_hygiene },
};
#define NDETECTORS (sizeof(detectors) / sizeof(detectors[0]))

static const char *const detector_names[NDETECTORS + 1] = {
	"lock_chain", "deadlock", "slow_query", "disk_space", "bloat",
	"idle_in_transaction", "connection_exhaustion", "agent_runaway",
	"agent_hygiene", NULL,
};

detector_fn detect_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < NDETECTORS; i++)
		if (strcmp(detectors[i].name, name) == 0)
			return detectors[i].fn;
	return NULL;
}

const char *const *detect_names(void)
{
	return detector_names;
}

static int cmp_severity(const void *a, const void *b)
{
	const struct incident *x = a, *y = b;

	if (x->severity != y->severity)
		return x->severity > y->severity ? -1 : 1;
	return 0;
}

size_t detect_run(const struct detect_ctx *ctx, struct incident_list *out)
{
	size_t before = out->n;

	if (!ctx->snap || !ctx->cfg || !ctx->runbooks)
		return 0;
	for (size_t i = 0; i < ctx->runbooks->n; i++) {
		const struct runbook *rb = &ctx->runbooks->v[i];
		detector_fn fn = detect_find(rb->detector);
		size_t first = out->n;
		int64_t t0 = clock_mono_us();
		double ms;

		if (!fn)
			continue;
		fn(ctx, rb, out);
		ms = (double)(clock_mono_us() - t0) / 1000.0;
		for (size_t k = first; k < out->n; k++) {
			out->v[k].detected_at = ctx->snap->collected_at;
			out->v[k].detect_ms = ms;
		}
	}
	/* Most severe first; insertion sort keeps the runbooks' order within a
	 * severity (qsort is not stable). */
	for (size_t i = before + 1; i < out->n; i++) {
		struct incident t = out->v[i];
		size_t j = i;

		while (j > before && cmp_severity(&out->v[j - 1], &t) > 0) {
			out->v[j] = out->v[j - 1];
			j--;
		}
		out->v[j] = t;
	}
	return out->n - before;
}

/* ---- incidents ------------------------------------------------------------ */

struct incident *incident_list_add(struct incident_list *l, const struct runbook *rb,
				   const char *key, const char *summary, json_t *evidence)
{
	struct incident *in;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	in = &l->v[l->n++];
	memset(in, 0, sizeof(*in));
	in->key = xstrdup(key ? key : "");
	in->runbook = xstrdup(rb && rb->name ? rb->name : "");
	in->severity = rb ? rb->severity : SEVERITY_WARNING;
	in->summary = xstrdup(summary ? summary : "");
	in->evidence = evidence ? evidence : json_object();
	return in;
}

void incident_release(struct incident *in)
{
	if (!in)
		return;
	free(in->key);
	free(in->runbook);
	free(in->summary);
	free(in->escalation);
	json_decref(in->evidence);
	json_decref(in->context);
	for (size_t i = 0; i < in->nproposals; i++)
		proposal_free(in->proposals[i]);
	free(in->proposals);
	memset(in, 0, sizeof(*in));
}

void incident_copy(struct incident *dst, const struct incident *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->key = src->key ? xstrdup(src->key) : NULL;
	dst->runbook = src->runbook ? xstrdup(src->runbook) : NULL;
	dst->severity = src->severity;
	dst->summary = src->summary ? xstrdup(src->summary) : NULL;
	dst->evidence = src->evidence ? json_deep_copy(src->evidence) : NULL;
	dst->escalation = src->escalation ? xstrdup(src->escalation) : NULL;
	dst->detected_at = src->detected_at;
	dst->detect_ms = src->detect_ms;
	dst->context = src->context ? json_deep_copy(src->context) : NULL;
	if (src->nproposals) {
		dst->proposals = xcalloc(src->nproposals, sizeof(*dst->proposals));
		for (size_t i = 0; i < src->nproposals; i++)
			dst->proposals[i] = proposal_dup(src->proposals[i]);
		dst->nproposals = src->nproposals;
	}
}

void incident_list_release(struct incident_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		incident_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

json_t *incident_to_json(const struct incident *in)
{
	json_t *j = json_object(), *props = json_array();

	json_object_set_new(j, "key", json_string(in->key));
	json_object_set_new(j, "runbook", json_string(in->runbook));
	json_object_set_new(j, "severity", json_string(severity_name(in->severity)));
	json_object_set_new(j, "summary", json_string(in->summary));
	json_object_set(j, "evidence", in->evidence ? in->evidence : json_null());
	json_object_set(j, "context", in->context ? in->context : json_null());
	json_object_set_new(j, "escalation", jstr(in->escalation));
	json_object_set_new(j, "detected_at", json_real(in->detected_at));
	json_object_set_new(j, "detect_ms", json_real(in->detect_ms));
	for (size_t i = 0; i < in->nproposals; i++)
		json_array_append_new(props, proposal_to_json(in->proposals[i]));
	json_object_set_new(j, "proposals", props);
	return j;
}

json_t *detect_session_json(const struct snap_session *ss, double now)
{
	return session_json(ss, now);
}
