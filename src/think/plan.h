/*
 * plan: the slow-query analysis — EXPLAIN (FORMAT JSON) of a normalised
 * statement from pg_stat_statements (PREPARE with plan_cache_mode =
 * force_generic_plan, so its $n parameters need no values: EXECUTE passes
 * NULL for each, counted from the ParamRefs libpg_query finds; never
 * ANALYZE), the Seq Scans with a filter on large tables, candidate columns
 * from the plan's filters and join conditions and from the statement's
 * WHERE/JOIN clauses parsed with libpg_query, and a what-if estimate with
 * HypoPG when the extension is installed in the database.
 *
 * An index is proposed only when the query's cost is material (>=
 * min_cost, default 100), the estimated cost falls by at least min_gain
 * (default 0.5) with the hypothetical index, and no existing valid,
 * non-partial index already covers the leading columns; single columns
 * first, then two-column orders of the three best singles, which must
 * halve the best single's cost again to win. Without HypoPG nothing is
 * proposed (the gain would be guesswork): the candidates are listed and
 * plan_note says why.
 *
 * Safety: everything runs inside BEGIN READ ONLY with SET LOCAL
 * statement_timeout and lock_timeout (timeout_ms each), so a statement that
 * writes (UPDATE, DELETE, INSERT ... SELECT) is planned, never run.
 * hypopg_create_index() works inside the READ ONLY transaction
 * (hypothetical indexes live in the backend's memory, not in the catalog;
 * checked on PostgreSQL 15.18 with HypoPG 1.3.1), so no write-capable
 * transaction is ever opened. A prepared statement keeps its cached generic
 * plan, so each what-if PREPAREs again after hypopg_create_index. Prepared
 * statements and hypothetical indexes are not transactional: plan_analyze
 * DEALLOCATEs and calls hypopg_reset() itself, also after errors, and
 * leaves the session as it found it (idle, nothing prepared, no
 * hypothetical index). Every statement is tagged with a comment.
 *
 * Runs on the thread that owns conn; conn must be idle (no open
 * transaction) and connected to the statement's database.
 */
#ifndef COCKPIT_THINK_PLAN_H
#define COCKPIT_THINK_PLAN_H

#include <jansson.h>
#include <libpq-fe.h>

struct plan_opts {
	double min_cost;       /* 100 */
	double min_gain;       /* 0.5 */
	int timeout_ms;        /* statement_timeout and lock_timeout of each step (5000) */
	double min_table_rows; /* a "large" table: pg_class.reltuples (10000), or
	                          relpages >= min_table_rows / 100 when never analysed */
};

/*
 * Analyse query (normalised text, $n parameters allowed); o may be NULL and
 * fields left 0 take their defaults. Adds to evidence:
 *   "plan": {"total_cost": N, "parameters": N,
 *            "seq_scans": [{"table": "public.t", "alias", "filter", "rows"
 *                           (pg_class.reltuples), "pages", "plan_rows",
 *                           "cost", "large": bool}],
 *            "json": <the plan trimmed for the UI and the LLM: noisy keys
 *                     (Output, Parallel Aware, Plan Width...) dropped, at most
 *                     12 levels and 200 nodes ("Plans omitted": n), strings
 *                     cut at 300 bytes>},
 *   "candidates": [{"table": "public.t", "columns": ["a"], "cost_before": N,
 *                   "cost_after": N, "gain": 0.99, "hypopg": true,
 *                   "uses_index": bool}],   best (lowest cost_after) first;
 *                  without HypoPG: [{"table", "columns", "cost_before",
 *                  "hypopg": false}]
 *   "index": {"table": "public.t", "columns": ["a", "b"],
 *             "columns_array": "{\"a\",\"b\"}" (a text[] literal for $n::text[]),
 *             "columns_text": "a, b", "cost_before", "cost_after", "gain"}:
 *            the best candidate worth proposing, absent when none is,
 *   "covered": [{"table", "columns", "index"}]: candidates an existing index
 *            already covers (absent when none),
 *   "plan_note": why nothing is proposed (no HypoPG, covered, cost too small,
 *            gain too small, no Seq Scan with a filter, not explainable...).
 * Returns 0 (also when the statement is of a kind not analysed — only
 * SELECT, UPDATE, DELETE and INSERT ... SELECT are — with the note), or -1
 * with err when it cannot be explained at all: it does not parse, the
 * server refuses it, a timeout, conn busy (the note is still set).
 */
int plan_analyze(PGconn *conn, const char *query, const struct plan_opts *o,
		 json_t *evidence, char *err, size_t errlen);

/*
 * Columns compared (=, <, IN, BETWEEN, LIKE, IS NULL...; casts allowed) to
 * constants, parameters, other columns or subqueries in the WHERE and JOIN
 * clauses of query, per relation as written, aliases resolved:
 * {"orders": ["customer_id", "status"], "public.items": ["sku"]}; a
 * function of a column (lower(email) = $1) is not listed. Subqueries, CTEs
 * and UNION branches are walked with their own scopes. An unqualified
 * column in a FROM list of several relations is listed under each (the
 * catalog decides; plan_analyze keeps only columns the table has).
 * libpg_query only, no server; a new reference, or NULL when query does
 * not parse.
 */
json_t *plan_clause_columns(const char *query);

#endif
