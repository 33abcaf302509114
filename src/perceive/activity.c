/*
 * activity: fast-path SQL and its parsing; see activity.h.
 */
#include "perceive/activity.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "perceive/agents.h"
#include "perceive/pgconn.h"
#include "perceive/snapshot.h"

/* Lock modes in PostgreSQL's order; bit i of conflicts[j] set when mode i
 * conflicts with mode j (src/backend/storage/lmgr/lock.c LockConflicts). */
static const char *const lock_modes[] = {
	"AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
	"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock",
};
#define B(i) (1u << (i))
static const unsigned lock_conflicts[] = {
	/* AccessShare */ B(7),
	/* RowShare */ B(6) | B(7),
	/* RowExclusive */ B(4) | B(5) | B(6) | B(7),
	/* ShareUpdateExclusive */ B(3) | B(4) | B(5) | B(6) | B(7),
	/* Share */ B(2) | B(3) | B(5) | B(6) | B(7),
	/* ShareRowExclusive */ B(2) | B(3) | B(4) | B(5) | B(6) | B(7),
	/* Exclusive */ B(1) | B(2) | B(3) | B(4) | B(5) | B(6) | B(7),
	/* AccessExclusive */ B(0) | B(1) | B(2) | B(3) | B(4) | B(5) | B(6) | B(7),
};
#undef B

static int lock_mode_index(const char *m)
{
	for (size_t i = 0; i < sizeof(lock_modes) / sizeof(*lock_modes); i++)
		if (strcmp(lock_modes[i], m) == 0)
			return (int)i;
	return -1;
}

bool activity_modes_conflict(const char *held, const char *requested)
{
	int h = lock_mode_index(held), r = lock_mode_index(requested);

	if (h < 0 || r < 0)
		return true;
	return (lock_conflicts[r] >> h) & 1u;
}

void activity_build_sql(struct strbuf sql[ACTIVITY_NQUERIES], int version_num, int query_max_len)
{
	bool has_waitstart = version_num >= 140000;

	if (query_max_len < 32)
		query_max_len = 32;
	/* The replication lag from pg_stat_get_wal_senders() itself: the
	 * pg_stat_replication view joins it to pg_stat_get_activity(), a second
	 * pass over every backend a refresh (0.19 -> 0.06 ms a call with 220
	 * backends). */
	strbuf_addstr(&sql[0],
		"/* cockpit collector: server */ "
		"SELECT date_part('epoch', now()), current_setting('server_version'), "
		"current_setting('server_version_num')::int, current_setting('max_connections')::int, "
		"pg_is_in_recovery(), d.xacts, d.hit, d.rd, "
		"CASE WHEN pg_is_in_recovery() "
		"THEN date_part('epoch', now() - pg_last_xact_replay_timestamp()) "
		"ELSE (SELECT date_part('epoch', max(greatest(write_lag, flush_lag, replay_lag))) "
		"FROM pg_stat_get_wal_senders()) END "
		"FROM (SELECT sum(xact_commit + xact_rollback) AS xacts, sum(blks_hit) AS hit, "
		"sum(blks_read) AS rd FROM pg_stat_database) d");
	strbuf_addf(&sql[1],
		"/* cockpit collector: sessions */ "
		"SELECT pid, leader_pid, usename, datname, application_name, "
		"CASE WHEN client_addr IS NOT NULL THEN host(client_addr) "
		"WHEN client_port = -1 THEN 'local' END, backend_type, state, "
		"wait_event_type, wait_event, date_part('epoch', backend_start), "
		"date_part('epoch', xact_start), date_part('epoch', query_start), "
		"date_part('epoch', state_change), age(backend_xmin), left(query, %d), "
		"CASE WHEN octet_length(query) > %d AND strpos(query, 'agent_id') > 0 "
		"THEN substring(query FROM '/\\*[^*]*agent_id[^*]*\\*/') END "
		"FROM pg_stat_activity ORDER BY pid",
		query_max_len, query_max_len);
	/* pg_locks is read once (MATERIALIZED) and only when somebody waits
	 * (the EXISTS is a one-time filter); pg_blocking_pids() runs only for
	 * waiters: both take the lock manager's partition locks. */
	strbuf_addf(&sql[2],
		"/* cockpit collector: lock waits */ "
		"WITH w AS MATERIALIZED (SELECT pid, leader_pid FROM pg_stat_activity "
		"WHERE wait_event_type = 'Lock'), "
		"l AS MATERIALIZED (SELECT * FROM pg_locks WHERE EXISTS (SELECT 1 FROM w)) "
		"SELECT coalesce(w.leader_pid, w.pid), b.pid, q.locktype, q.mode, "
		"CASE WHEN q.relation IS NOT NULL THEN q.relation::regclass::text END, %s, "
		"(SELECT string_agg(g.mode, ',') FROM l g WHERE g.granted "
		"AND (g.pid = b.pid OR (b.pid = 0 AND g.pid IS NULL)) "
		"AND g.locktype = q.locktype "
		"AND g.database IS NOT DISTINCT FROM q.database "
		"AND g.relation IS NOT DISTINCT FROM q.relation "
		"AND g.page IS NOT DISTINCT FROM q.page AND g.tuple IS NOT DISTINCT FROM q.tuple "
		"AND g.virtualxid IS NOT DISTINCT FROM q.virtualxid "
		"AND g.transactionid IS NOT DISTINCT FROM q.transactionid "
		"AND g.classid IS NOT DISTINCT FROM q.classid AND g.objid IS NOT DISTINCT FROM q.objid "
		"AND g.objsubid IS NOT DISTINCT FROM q.objsubid) "
		"FROM w JOIN l q ON q.pid = w.pid AND NOT q.granted "
		"CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid)",
		has_waitstart ? "date_part('epoch', q.waitstart)" : "NULL::float8");
}

static void parse_server(struct snapshot *s, const struct snapshot *prev, PGresult *r)
{
	struct snap_server *v = &s->server;

	if (!r || PQntuples(r) < 1)
		return;
	v->now = pgconn_double(r, 0, 0, 0);
	v->version = arena_strdup(&s->arena, pgconn_str(r, 0, 1));
	v->version_num = (int)pgconn_int(r, 0, 2, 0);
	v->max_connections = (int)pgconn_int(r, 0, 3, 0);
	v->in_recovery = pgconn_bool(r, 0, 4);
	v->xact_total = pgconn_int(r, 0, 5, 0);
	v->blks_hit = pgconn_int(r, 0, 6, 0);
	v->blks_read = pgconn_int(r, 0, 7, 0);
	v->replication_lag_s = pgconn_double(r, 0, 8, -1);
	if (prev && prev->connected && prev->server.now > 0 && v->now > prev->server.now) {
		double dt = v->now - prev->server.now;
		int64_t dh = v->blks_hit - prev->server.blks_hit;
		int64_t dr = v->blks_read - prev->server.blks_read;

		if (v->xact_total >= prev->server.xact_total)
			v->tps = (double)(v->xact_total - prev->server.xact_total) / dt;
		if (dh >= 0 && dr >= 0 && dh + dr > 0)
			v->cache_hit_ratio = (double)dh / (double)(dh + dr);
		else if (dh >= 0 && dr >= 0 && prev->server.cache_hit_ratio >= 0)
			v->cache_hit_ratio = prev->server.cache_hit_ratio;
	}
}

static void parse_sessions(struct snapshot *s, const struct config *cfg, PGresult *r)
{
	int n = r ? PQntuples(r) : 0;
	struct arena *a = &s->arena;

	s->sessions = n ? arena_alloc(a, (size_t)n * sizeof(*s->sessions)) : NULL;
	s->nsessions = (size_t)n;
	for (int i = 0; i < n; i++) {
		struct snap_session *x = &s->sessions[i];
		struct agent_tags tags;

		x->pid = (int)pgconn_int(r, i, 0, 0);
		x->leader_pid = (int)pgconn_int(r, i, 1, 0);
		if (x->leader_pid == x->pid)
			x->leader_pid = 0;
		x->user = arena_strdup(a, pgconn_str(r, i, 2));
		x->database = arena_strdup(a, pgconn_str(r, i, 3));
		x->application = arena_strdup(a, pgconn_str(r, i, 4));
		x->client = arena_strdup(a, pgconn_str(r, i, 5));
		x->backend_type = arena_strdup(a, pgconn_str(r, i, 6));
		x->state = arena_strdup(a, pgconn_str(r, i, 7));
		x->wait_event_type = arena_strdup(a, pgconn_str(r, i, 8));
		x->wait_event = arena_strdup(a, pgconn_str(r, i, 9));
		x->backend_start = pgconn_double(r, i, 10, 0);
		x->xact_start = pgconn_double(r, i, 11, 0);
		x->query_start = pgconn_double(r, i, 12, 0);
		x->state_change = pgconn_double(r, i, 13, 0);
		x->xmin_age = pgconn_int(r, i, 14, -1);
		x->query = arena_strdup(a, pgconn_str(r, i, 15));
		if (agents_parse_tags(pgconn_str(r, i, 16), a, &tags) ||
		    agents_parse_tags(x->query, a, &tags)) {
			x->agent_id = tags.agent_id;
			x->task_id = tags.task_id;
			x->step = tags.step;
		} else if (cfg && agents_match_app(x->application, cfg->agent_app_patterns,
						   cfg->nagent_app_patterns)) {
			x->agent_id = x->application;
		}
	}
}

/* Does any of the comma-separated held modes conflict with requested? */
static bool held_conflicts(const char *held, const char *requested)
{
	char mode[40];

	while (held && *held) {
		size_t len = strcspn(held, ",");

		if (len < sizeof(mode)) {
			memcpy(mode, held, len);
			mode[len] = '\0';
			if (activity_modes_conflict(mode, requested))
				return true;
		}
		held += len;
		if (*held == ',')
			held++;
	}
	return false;
}

static void parse_waits(struct snapshot *s, PGresult *r)
{
	int n = r ? PQntuples(r) : 0;
	struct arena *a = &s->arena;

	s->edges = n ? arena_alloc(a, (size_t)n * sizeof(*s->edges)) : NULL;
	s->nedges = 0;
	for (int i = 0; i < n; i++) {
		struct lockgraph_edge *e = &s->edges[s->nedges];

		e->waiter = (int)pgconn_int(r, i, 0, -1);
		e->blocker = (int)pgconn_int(r, i, 1, -1);
		if (e->waiter < 0 || e->blocker < 0 || e->waiter == e->blocker)
			continue; /* a parallel worker "blocked" by its own leader */
		e->locktype = arena_strdup(a, pgconn_str(r, i, 2));
		e->mode = arena_strdup(a, pgconn_str(r, i, 3));
		e->relation = arena_strdup(a, pgconn_str(r, i, 4));
		e->wait_start = pgconn_double(r, i, 5, 0);
		e->hard = e->mode && held_conflicts(pgconn_str(r, i, 6), e->mode);
		s->nedges++;
	}
}

void activity_parse(struct snapshot *s, const struct snapshot *prev, const struct config *cfg,
		    PGresult *server, PGresult *sessions, PGresult *waits)
{
	parse_server(s, prev, server);
	parse_sessions(s, cfg, sessions);
	parse_waits(s, waits);
}
