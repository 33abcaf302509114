/*
 * statements: pg_stat_statements as deltas over a window.
 *
 * pg_stat_statements holds totals since the last reset; what an operator
 * needs is what happened in the last minute. The collector reads the
 * counters (without query texts: pg_stat_statements(false) is cheap) on the
 * slow period; statements_update() subtracts the previous sample and ranks
 * the statements by time spent in the window. Query texts are fetched only
 * for statements that enter the top list and are not cached yet, and kept
 * only while they stay near the top, so memory stays flat at 10,000 entries.
 *
 * p99 is not in pg_stat_statements. The snapshot carries an estimate,
 * mean + 2.326 stddev over the since-reset distribution (normal
 * approximation), and names it p99_ms_estimate everywhere.
 *
 * Owned by the collector thread.
 */
#ifndef COCKPIT_PERCEIVE_STATEMENTS_H
#define COCKPIT_PERCEIVE_STATEMENTS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

struct snapshot;
struct agent_time;

struct stmt_row {
	int64_t queryid;
	unsigned userid;
	unsigned dbid;
	bool toplevel;
	double calls;
	double total_ms;
	double rows;
	double max_ms;
	double mean_ms;
	double stddev_ms;
	const char *user;     /* borrowed from the result */
	const char *database; /* borrowed */
};

struct statements_state;

struct statements_state *statements_state_new(void);
void statements_state_free(struct statements_state *st);

/* The counters query for a pg_stat_statements extension version ("1.9"). */
void statements_build_sql(struct strbuf *sql, const char *extversion);
/* Rows of that query's result (borrowing its strings). Returns the count;
 * *rows is malloc'ed (caller frees). */
size_t statements_parse(PGresult *r, struct stmt_row **rows);

/* Take a new sample taken at now (epoch seconds). Fills s->statements with
 * the top `top` statements of the window (texts from the cache, may be NULL
 * until fetched) and s->statements_window_s. Returns the window total in ms.
 * The first sample has no window: no statements, returns 0. */
double statements_update(struct statements_state *st, const struct stmt_row *rows, size_t n,
			 double now, size_t top, struct snapshot *s);
/* Statement time of the last window per agent, for every statement whose
 * text (and so its tags) is known — call after statements_store_texts() so
 * texts fetched in this refresh count. *times is owned by the state, its
 * strings too; valid until the next update or store. */
void statements_agent_times(struct statements_state *st, struct agent_time **times, size_t *ntimes);
/* Queryids (up to max) in the last top list or with time in the window whose
 * text is not cached; writes the text-fetch SQL into sql and returns how many,
 * 0 when nothing is missing. */
size_t statements_missing_texts(struct statements_state *st, size_t max, struct strbuf *sql);
/* Store texts fetched with that SQL (rows of queryid, query). */
void statements_store_texts(struct statements_state *st, PGresult *r);
/* Put cached texts and tags into s->statements (after store_texts). */
void statements_fill_texts(struct statements_state *st, struct snapshot *s);

#endif
