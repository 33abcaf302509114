/*
 * proposal: one remediation put to the operator — an action from the
 * registry (act/action.h) with bound parameters, the SQL (or argv) it runs,
 * the rollback registered before it runs, a verification, a rendered diff
 * of the state it changes, the evidence, a confidence and the policy's
 * decision with its reasons.
 *
 * A proposal is built by think/diagnose.c (rules) or the LLM thread, filled
 * by the action's prepare() (SQL, diff, guards) and judged by policy_decide().
 * Once published on a board (think/brain.h) it is immutable; the executor
 * works on its own copy (proposal_dup) and reports progress as job states.
 *
 * JSON (proposal_to_json) is part of the `cockpit diagnose --json` contract
 * (DESIGN.md): action, sql, target, risk, confidence, diff, rollback_sql,
 * verify, decision, policy_reason, estimate — plus id, incident, runbook,
 * origin, params, rationale, evidence, guard, argv (shell only),
 * target_kind, reversible, in_transaction, lock_timeout_ms,
 * statement_timeout_ms, sessions, table_bytes (null when unknown) and,
 * when edited, edited_from and edit_diff. Absent strings are null; verify
 * is null or {sql, args, expect, wait_s, deadline_s, attempts}.
 */
#ifndef COCKPIT_ACT_PROPOSAL_H
#define COCKPIT_ACT_PROPOSAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct action_def;

enum risk { RISK_LOW, RISK_MEDIUM, RISK_HIGH, RISK_CRITICAL };

enum decision {
	DECISION_ALLOW,      /* policy lets it run without approval (in auto mode) */
	DECISION_APPROVAL,   /* runs only when an operator accepts it */
	DECISION_DENY,       /* may not run; the reason says which rule */
	DECISION_ESCALATE,   /* confidence too low to act: a human must look */
	DECISION_SKIP,       /* idempotency: the same action ran on the same target recently */
};

/* How the verification judges the measured value (one number from verify.sql). */
struct proposal_verify {
	char *sql;           /* owned: returns one row, one numeric column; NULL: none */
	json_t *args;        /* owned: array of text parameters ($1, $2...) or NULL */
	char *expect;        /* owned: "< 1", "== 0", "<= baseline", "< baseline", ">= 1" ... */
	int wait_s;          /* wait after the action before the first check */
	int deadline_s;      /* give up (failed) after this long */
	int attempts;        /* failed verifications before the incident escalates */
};

struct proposal {
	char *id;            /* owned: stable across refreshes: "<runbook>/<action>/<target>" hashed to 12 hex */
	char *incident_key;  /* owned: the incident it answers (think/incident.h) */
	char *runbook;       /* owned */
	char *origin;        /* owned: "rule" or "llm" */
	const struct action_def *action;   /* registry entry (static) */
	json_t *params;      /* owned: object, parameter name -> value (validated) */

	char *sql;           /* owned: what runs (SQL), or the argv joined for display (shell) */
	json_t *argv;        /* owned: shell actions: array of strings for execve; else NULL */
	char *rollback_sql;  /* owned, or NULL when the action is not reversible */
	char *target;        /* owned: what it acts on, for people and policy: "pid 4711",
	                        "public.orders", "role app_agent", "slot s1" */
	char *target_kind;   /* owned: "session", "table", "index", "role", "slot", "server", "host" */
	enum risk risk;
	double confidence;   /* 0..1 */
	char *diff;          /* owned: state before/after, lines starting "- ", "+ " or "  " */
	char *rationale;     /* owned: why this action, in a sentence or two */
	char *estimate;      /* owned, or NULL: "cost 18334 -> 8.3 (-99.9%) with hypothetical index" */
	json_t *evidence;    /* owned reference: the facts it rests on (object) */
	json_t *guard;       /* owned, or NULL: what must still hold when it runs
	                        (sessions: [{pid, backend_start, xact_start, query_start}]) */
	struct proposal_verify verify;

	/* Limits the executor sets for this action's statement. */
	int lock_timeout_ms;
	int statement_timeout_ms;
	bool in_transaction; /* false: runs outside BEGIN (CREATE INDEX CONCURRENTLY) */

	/* Facts policy needs about the blast radius. */
	int sessions;        /* sessions it ends or signals (0 when none) */
	int64_t table_bytes; /* size of the table it locks or rewrites, -1 unknown */

	enum decision decision;
	char *policy_reason; /* owned: every rule that applied, "; "-separated */

	/* Operator edits: the original SQL and a unified diff, NULL when unedited. */
	char *edited_from;
	char *edit_diff;
};

/* A zeroed proposal with risk low, table_bytes -1, in_transaction true and
 * decision approval (nothing runs until policy says otherwise). */
struct proposal *proposal_new(void);
void proposal_free(struct proposal *p);
/* Deep copy (never NULL): nothing is shared, so a copy may go to another
 * thread. */
struct proposal *proposal_dup(const struct proposal *p);
/* A copy whose JSON (params, argv, evidence, guard, verify.args) is the
 * original's, by reference. Only for a thread that makes every reference
 * to that JSON itself, takes and drops: jansson reads the count plainly
 * beside its atomics and frees after a release-only decrement, so two
 * threads counting one value race (TSan caught the advisor's copies once).
 * Readers on other threads are fine as long as the last reference is
 * dropped after them, on the counting thread (think/brain.c). */
struct proposal *proposal_dup_shared(const struct proposal *p);
/* Set *field to a copy of s (NULL allowed), freeing the old value. */
void proposal_set(char **field, const char *s);
/* The stable id from runbook, action and target: the first 12 hex digits
 * of SHA-256("<runbook>/<action>/<target>"). */
void proposal_make_id(struct proposal *p);

const char *risk_name(enum risk r);          /* "low", "medium", "high", "critical" */
bool risk_parse(const char *s, enum risk *r);
const char *decision_name(enum decision d);  /* "allow", "approval", "deny", "escalate", "skip" */

/* New reference to the contract's JSON object. */
json_t *proposal_to_json(const struct proposal *p);

/* A unified diff of two texts (line based), "--- a\n+++ b\n" omitted: just
 * the lines, each prefixed "- ", "+ " or "  ", every line ending in '\n'
 * (a missing final newline is not a difference). A longest-common-
 * subsequence diff, O(lines^2) memory: meant for catalog-sized texts.
 * NULL counts as empty. Caller frees. */
char *proposal_text_diff(const char *before, const char *after);

#endif
