/*
 * activity: the fast path — sessions, lock waits and server counters in one
 * round trip per refresh.
 *
 * Three statements pipelined in one transaction (so pg_stat_activity is read
 * once and the three agree):
 *   1. server: version, max_connections, commit/block counters, recovery, lag;
 *   2. sessions: pg_stat_activity, query text truncated server-side, plus the
 *      agent tag comment cut out server-side when it lies past the cut;
 *   3. lock waits: for sessions waiting on a heavyweight lock only,
 *      pg_blocking_pids() joined with pg_locks (read once, and not at all when
 *      nobody waits) for the requested lock and the modes the blocker holds
 *      on the same object — hard vs soft is decided here, client side, from
 *      PostgreSQL's lock conflict table.
 * Every statement opens with a comment naming cockpit, so the collector shows
 * up honestly in the very views it renders.
 */
#ifndef COCKPIT_PERCEIVE_ACTIVITY_H
#define COCKPIT_PERCEIVE_ACTIVITY_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "core/strbuf.h"

struct snapshot;
struct config;

#define ACTIVITY_NQUERIES 3

/* SQL of the three fast statements for a server version (server_version_num)
 * and a query text length cut. Appends to sql[i] (initialised by the caller). */
void activity_build_sql(struct strbuf sql[ACTIVITY_NQUERIES], int version_num, int query_max_len);
/* Fill s->server, s->sessions and s->edges from the three results (any may
 * be NULL after an error: that part stays empty). prev is the previous
 * snapshot for the TPS and cache-hit deltas, or NULL. Agent tags are parsed
 * here, using cfg's application_name patterns. */
void activity_parse(struct snapshot *s, const struct snapshot *prev, const struct config *cfg,
		    PGresult *server, PGresult *sessions, PGresult *waits);
/* True when a session holding `held` blocks one requesting `requested`
 * (PostgreSQL's table of conflicting lock modes). Unknown modes conflict. */
bool activity_modes_conflict(const char *held, const char *requested);

#endif
