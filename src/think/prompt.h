/*
 * prompt: what an LLM is told about one incident, within a token budget.
 *
 * Promise: nothing leaves unredacted. The user message holds, in this
 * order: the incident's evidence (errors, escalation and blockers first),
 * a summary of the snapshot, the trimmed plan JSON when the evidence has
 * one, the runbook's guidance, the registry's actions with their
 * parameters (the only vocabulary the model may use), and the schema of
 * the tables the evidence names (columns, types, comments, indexes; only
 * when a catalog connection is given and it fits), then, when a recall
 * index is given (think/recall.h), the most similar past incidents of the
 * audit history (what was done and how it ended) and the related
 * runbooks. Every string goes
 * through think/redact.h: SQL normalised (no literals), PII and secrets
 * masked; query text, log lines, application names and column comments
 * are fenced as untrusted data (the evidence JSON points to the block:
 * "see untrusted q1"), and instruction-like text is flagged.
 *
 * Budget: tokens are estimated at 4 bytes each (llm_estimate_tokens). The
 * evidence and the action list are filled first, then the summary, plan,
 * guidance, schema, past incidents and related runbooks in turn; what
 * does not fit is trimmed (long arrays halved, blocks cut, the least
 * similar past incidents dropped) or left out, and the prompt ends with a line naming
 * everything it truncated (also in struct prompt.truncated).
 *
 * Thread affinity: any thread; the catalog connection and the recall index
 * belong to the caller.
 */
#ifndef COCKPIT_THINK_PROMPT_H
#define COCKPIT_THINK_PROMPT_H

#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "think/redact.h"

struct incident;
struct snapshot;
struct runbook;
struct llm_opts;
struct recall;

/* Past incidents and related runbooks shown at most. */
#define PROMPT_RECALL_INCIDENTS 3
#define PROMPT_RECALL_RUNBOOKS 2

struct prompt_opts {
	int64_t budget_tokens;   /* system + user message; 0: no limit */
	PGconn *catalog;         /* optional: schema of the tables in the evidence */
	struct recall *recall;   /* optional: similar past incidents and runbooks */
};

struct prompt {
	char *system;            /* owned */
	char *user;              /* owned */
	int64_t tokens;          /* estimate of system + user */
	json_t *truncated;       /* owned: ["evidence.waiters: kept 8 of 40", "schema: left out"] */
	struct redact_report redacted;
	unsigned injection;      /* enum redact_injection bits found in untrusted text */
	size_t nfenced;          /* untrusted blocks */
	size_t recalled;         /* past incidents shown */
	size_t recall_history;   /* past incidents they were chosen from */
	size_t recalled_runbooks;
};

/* Build the prompt for in. snap and rb may be NULL (no summary, no
 * guidance). Returns 0, or -1 with a message in err (the budget cannot
 * hold even the system prompt and the evidence's first lines). */
int prompt_build(const struct incident *in, const struct snapshot *snap,
		 const struct runbook *rb, const struct prompt_opts *o, struct prompt *out,
		 char *err, size_t errlen);
void prompt_release(struct prompt *p);

/* The exact request body llm_complete would send for p with o (o->model
 * etc.): for `cockpit diagnose --show-prompt`. Caller frees; NULL with err. */
char *prompt_request_body(const struct prompt *p, const struct llm_opts *o, char *err,
			  size_t errlen);

/* {tokens, truncated, redacted, injection, fenced, recalled}. New reference. */
json_t *prompt_meta_to_json(const struct prompt *p);

#endif
