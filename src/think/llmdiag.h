/*
 * llmdiag: one LLM diagnosis of one incident, after the rules.
 *
 * Promise: the LLM adds reasoning; it never replaces the rules and never
 * gets around policy. llmdiag_run builds the prompt (think/prompt.h: budget,
 * redaction, fences), calls the model (think/llm.h), parses the reply
 * (llm_parse_diagnosis, only registry actions) and validates every proposal
 * exactly like a rule's: the action exists in the registry, action_prepare
 * checks each parameter against the live catalog (a made-up column is
 * rejected with the reason), then policy_decide. On top of policy, an LLM
 * proposal whose confidence is below LLMDIAG_MIN_CONFIDENCE can only
 * escalate. An LLM proposal equal (same action, same target) to one of the
 * rules' raises that rule proposal's confidence to
 * min(0.99, max(rule, llm) + LLMDIAG_AGREE_BONUS), says so in its rationale
 * and is judged by policy again; other LLM proposals are kept beside the
 * rules' with origin "llm". Failures (unreachable, timeout, garbage) leave
 * the rules' proposals exactly as they were and are reported as one line in
 * status.
 *
 * Synchronous: runs on the thread that owns the catalog connection (for
 * the TUI, a diagnosis thread with its own connection; cancel through
 * opts.cancel). Accounting for the audit is in struct llmdiag_result.
 */
#ifndef COCKPIT_THINK_LLMDIAG_H
#define COCKPIT_THINK_LLMDIAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "think/llm.h"
#include "think/prompt.h"

struct config;
struct incident;
struct snapshot;
struct runbook;
struct policy_state;
struct proposal;

#define LLMDIAG_MIN_CONFIDENCE 0.7
#define LLMDIAG_AGREE_BONUS 0.05
#define LLMDIAG_MAX_CONFIDENCE 0.99

struct llmdiag_opts {
	const struct config *cfg;        /* required: llm section, policy */
	PGconn *conn;                    /* required: catalog checks and schema */
	const struct snapshot *snap;     /* may be NULL: summary, pid guards */
	const struct runbook *rb;        /* may be NULL: guidance */
	struct recall *recall;           /* may be NULL: similar past incidents (think/recall.h;
	                                    the caller's thread's own) */
	struct policy_state *policy;     /* may be NULL */
	double now;                      /* epoch seconds, for policy */
	const char *api_key;             /* NULL: getenv(cfg->llm.api_key_env) */
	llm_chunk_fn on_chunk;           /* streamed reasoning, may be NULL */
	void *arg;
	atomic_bool *cancel;             /* may be NULL */
	int64_t spent_tokens;            /* already spent on this incident by earlier calls:
	                                    what is left of llm.budget_tokens is this call's */
};

struct llmdiag_result {
	enum llm_status status;          /* LLM_OK also when the reply did not validate: see ok */
	bool ok;                         /* a validated diagnosis came back */
	char *status_text;               /* owned: "ok", "unreachable: ...", "timeout: ...",
	                                    "invalid reply: ..." */
	char *model;                     /* owned */
	int64_t tokens_in, tokens_out;
	bool tokens_estimated;
	int64_t first_token_ms;          /* -1 when no text came */
	int64_t latency_ms;              /* the whole call */
	int64_t validate_ms;             /* parse + catalog + policy */
	double cost_estimate;            /* config prices; 0 when none set */
	char prompt_hash[65];
	char *root_cause;                /* owned, redacted, or NULL */
	double confidence;
	json_t *hypotheses;              /* owned: [{text, probability}] */
	json_t *rejected;                /* owned: [{item|action, reason}] */
	json_t *agreed;                  /* owned: ids of rule proposals the LLM confirmed */
	char *reasoning;                 /* owned: the model's full text, redacted */
	json_t *prompt_meta;             /* owned: prompt_meta_to_json */
	struct proposal **proposals;     /* owned: validated LLM proposals (origin "llm") */
	size_t nproposals;
};

/* The llm_opts for an incident from cfg->llm (model_complex for critical
 * incidents when set). Strings are borrowed from cfg and key. */
void llmdiag_llm_opts(const struct config *cfg, const struct incident *in, const char *key,
		      struct llm_opts *lo);

/* Build the prompt for in within the configured budget (what is left after
 * max_tokens). 0, or -1 with err. */
int llmdiag_prompt(const struct llmdiag_opts *o, const struct incident *in, struct prompt *p,
		   char *err, size_t errlen);

/* The exact request body that llmdiag_run would send (--show-prompt).
 * Caller frees; NULL with err. */
char *llmdiag_request_body(const struct llmdiag_opts *o, const struct incident *in, char *err,
			   size_t errlen);

/* Run the diagnosis; may raise in->proposals' confidence (agreement) and
 * re-judge them. Fills *r (release with llmdiag_result_release). Returns 0
 * when a validated diagnosis came back, -1 otherwise (r->status_text says
 * why; the rules' proposals are untouched). */
int llmdiag_run(const struct llmdiag_opts *o, struct incident *in, struct llmdiag_result *r);

/* Validate a model's reply text for in (the second half of llmdiag_run,
 * exposed for tests and replays). Fills the diagnosis fields of r. */
int llmdiag_validate(const struct llmdiag_opts *o, struct incident *in, const char *text,
		     size_t len, struct llmdiag_result *r);

/* Raise a rule proposal's confidence because the LLM (at llm_confidence)
 * proposed the same action on the same target: min(0.99, max(rule, llm) +
 * LLMDIAG_AGREE_BONUS), said in its rationale, judged by policy again.
 * Nothing changes below LLMDIAG_MIN_CONFIDENCE. */
void llmdiag_agree(const struct config *cfg, struct policy_state *policy, struct proposal *rule,
		   double llm_confidence, double now);

/* Put a finished diagnosis r on an incident that carries the rules'
 * proposals afresh (the brain's next rounds, on copies): the rule proposals
 * r agreed with (by id) are raised as llmdiag_agree says, and copies of r's
 * own proposals are added (judged by policy again at now, escalations kept)
 * unless one with the same id is there. Idempotent on fresh copies: apply
 * it to the rules' proposals as diagnosed, not to an earlier application.
 * Returns how many proposals it raised or added. */
size_t llmdiag_apply(const struct llmdiag_result *r, const struct config *cfg,
		     struct policy_state *policy, struct incident *in, double now);

void llmdiag_result_release(struct llmdiag_result *r);

/* {status, model, tokens_in, tokens_out, tokens_estimated, first_token_ms,
 * latency_ms, cost_estimate, prompt_hash, root_cause, confidence,
 * hypotheses, rejected, agreed, prompt, reasoning}. New reference. */
json_t *llmdiag_to_json(const struct llmdiag_result *r);

#endif
