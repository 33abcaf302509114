/*
 * diagnose: the rules tier. For each incident, run the detector-specific
 * analysis (think/plan.h for slow queries: EXPLAIN and HypoPG; the deadlock
 * detector already called think/deadlock.h), then its runbook's context
 * queries (they may bind what the analysis found, {index.table}), then
 * every action whose `when` holds (bindings see the evidence plus the
 * context rows under "context": {context.NAME.0.COLUMN}): bind parameters from the evidence, prepare it against
 * the live catalog (act/action.h), fill verification and rationale, and
 * let policy judge it. An action that fails validation is dropped with its
 * reason kept in the incident's evidence ("rejected": [...]); when no action
 * is left the incident escalates with the reason.
 *
 * The rules always produce their proposals within the same refresh; the LLM
 * (think/llm.h, later) may add or re-rank.
 *
 * Context queries run in one READ ONLY transaction (statement_timeout and
 * lock_timeout 5 s, each query in its own savepoint, at most 200 rows
 * each); their rows land in in->context as {name: [{column: value}]} or
 * {name: {"error": "..."}}. An incident that already carries an escalation
 * from its detector gets its context but no proposals. Verification
 * arguments are bound to text with runbook_bind_param().
 *
 * One round of diagnosis checks the same facts many times (ten agents of
 * one role: ten times its settings and the same ALTER ROLE checks). With
 * ctx->memo (act/action.h: struct action_memo) the round's identical
 * catalog checks and context queries — the same SQL and values on conn —
 * run once; the context transaction is opened only for a query the memo
 * does not answer. diagnose_all() is a round of its own; the brain makes one
 * memo a round for all the incidents it diagnoses.
 *
 * Runs on the thread that owns conn (the brain thread, or main for
 * `cockpit diagnose`). Never executes anything.
 */
#ifndef COCKPIT_THINK_DIAGNOSE_H
#define COCKPIT_THINK_DIAGNOSE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "think/detect.h"

struct action_memo;
struct config;
struct snapshot;
struct policy_state;

struct diagnose_ctx {
	PGconn *conn;                        /* required: catalog, EXPLAIN, HypoPG */
	const struct snapshot *snap;         /* required */
	const struct config *cfg;            /* required */
	const struct runbook_set *runbooks;  /* required */
	struct policy_state *policy;         /* may be NULL */
	double now;                          /* epoch seconds, for policy */
	struct action_memo *memo;            /* borrowed: this round's memo of checks, or NULL
	                                        (each incident checks live) */
};

/* Fill in->proposals (and in->context, in->escalation). Returns the number
 * of proposals. Call once per incident (the brain diagnoses a new incident
 * or one whose evidence changed, which is a new struct incident). */
size_t diagnose_incident(const struct diagnose_ctx *ctx, struct incident *in);
/* All of them, as one round: with ctx->memo NULL, a memo of its own for
 * the call (freed before it returns), else the caller's. */
size_t diagnose_all(const struct diagnose_ctx *ctx, struct incident_list *l);

#endif
