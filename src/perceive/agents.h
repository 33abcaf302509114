/*
 * agents: who is an AI agent, and what each agent is doing.
 *
 * Agents tag their SQL with comments, in either form:
 *     agent_id=X, task_id=Y, step=Z          (plain key=value)
 *     agent_id='X',task_id='Y'               (sqlcommenter: quoted, url-encoded)
 * inside a C-style comment
 * anywhere in the statement (sqlcommenter appends, others prepend). A
 * session's application_name matching a configured fnmatch pattern also makes
 * it an agent (agent_id = application_name) when it carries no tag.
 *
 * agents_aggregate() folds a snapshot's sessions and statements into one
 * snap_agent per agent_id.
 */
#ifndef COCKPIT_PERCEIVE_AGENTS_H
#define COCKPIT_PERCEIVE_AGENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

struct snapshot;

struct agent_tags {
	const char *agent_id; /* in the arena passed to the parser; NULL if absent */
	const char *task_id;
	const char *step;
};

/* Parse the first comment carrying agent_id in text. Values are url-decoded
 * (sqlcommenter), trimmed, and limited to 128 bytes; a malformed tag yields
 * no agent_id (never a crash, never a partial garbage value).
 * Returns true when an agent_id was found. */
bool agents_parse_tags(const char *text, struct arena *a, struct agent_tags *out);
/* True when application_name matches one of the fnmatch patterns. */
bool agents_match_app(const char *application, char *const *patterns, size_t npatterns);
/* Statement time in the window attributed to one agent (summed by the
 * collector over every pg_stat_statements delta, not just the top ones the
 * snapshot keeps). */
struct agent_time {
	const char *agent_id; /* borrowed */
	double ms;
};

/* Fill s->agents from s->sessions (tags already parsed into each session)
 * and the statement times. total_ms is all statement time in the window (the
 * denominator of db_time_share); 0 when unknown. Allocates in s->arena. */
void agents_aggregate(struct snapshot *s, const struct agent_time *times, size_t ntimes,
		      double total_ms);

#endif
