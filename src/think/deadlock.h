/*
 * deadlock: post-mortem of deadlocks — PostgreSQL already aborted one
 * participant, so the product is the explanation and the prevention.
 *
 * From the server log's 40P01 reports (perceive/serverlog.h, relation OIDs
 * resolved by the collector) and from live cycles in the lock graph: which
 * transactions, which tables (statements parsed with libpg_query: the
 * relation each statement writes or locks and, where the WHERE clause
 * pins a key, which row), in which order each took them, how often this
 * pair of statements recurs (a fingerprint of the pair from
 * pg_query_fingerprint), and a recommendation: the conflicting order and one
 * consistent order to use.
 */
#ifndef COCKPIT_THINK_DEADLOCK_H
#define COCKPIT_THINK_DEADLOCK_H

#include <jansson.h>

struct snapshot;

/*
 * Evidence for the deadlock runbook from s (logged reports within window_s
 * seconds of s->collected_at — window_s <= 0: all kept reports — and the
 * live cycles of s->locks), or NULL when there are neither. A new reference:
 *   {"reports": [{"at", "pid" (the aborted backend), "user", "database",
 *                 "application", "context", "fingerprint",
 *                 "procs": [{"pid", "statement", "relations": [..] (as
 *                   deadlock_statement_relations), "waits_for": pid,
 *                   "wants": "accounts(id=2)", "holds": "accounts(id=1)",
 *                   "order": ["accounts(id=1)", "accounts(id=2)"]}]}],
 *    "pairs": [{"fingerprint", "count" (in the window), "seen_total" (all
 *               kept reports), "last_at", "live": true (a live cycle has it),
 *               "tables": ["a","b"], "orders": [["a","b"],["b","a"]] (table
 *               orders), "row_orders": [["t(id=1)","t(id=2)"], ...] (same
 *               table), "consistent_order": ["a","b"],
 *               "recommendation": "... take locks on a before b in every
 *               transaction" | "... lock the rows in ascending id order ..."}],
 *    "top": the pair with the highest count,
 *    "live_cycles": [[pid, pid...]],
 *    "live": [{"pids", "procs", "fingerprint", "youngest": {"pid", "pids":
 *              [pid], "xact_start", "xact_age_s", "user", "application",
 *              "query"}}],
 *    "victim": the first live cycle's youngest transaction (least work
 *              done), for terminate_backend's pids: "{victim.pids}",
 *    "roles": ["app"], "role": the most frequent one (alter_role_set),
 *    "count": reports in the window, "live_count": live cycles}
 *
 * The order each participant took its locks comes from the report alone:
 * a participant's statement names what it wanted; the one it waited for
 * already held exactly that, so it took "what its waiter wants" first.
 * For a multi-statement query string the relation the lock (or the CONTEXT
 * line) names is taken, else its last writing statement. The pair
 * fingerprint is the pg_query_fingerprint of each statement, sorted and
 * joined with '+': the same code path whatever its constants.
 */
json_t *deadlock_analyze(const struct snapshot *s, double window_s);

/*
 * What a statement writes or locks, in textual order, from libpg_query:
 * [{"relation": "public.a" (as written), "action": "update" | "delete" |
 *   "insert" | "lock ACCESS EXCLUSIVE" | "select for update" | "select for
 *   share" | ..., "key": {"id": "2"} when the WHERE clause pins columns of
 *   that relation with col = constant (or $n) in its top-level AND}].
 * Data-modifying CTEs count; a plain SELECT gives []. A new reference, or
 * NULL when sql does not parse.
 */
json_t *deadlock_statement_relations(const char *sql);

#endif
