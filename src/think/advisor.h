/*
 * advisor: the LLM diagnosis thread of the TUI.
 *
 * The brain (think/brain.h) finds incidents and the runbooks' rules make
 * their proposals within the same round; the advisor adds the LLM's
 * reasoning on its own thread, so that a slow, stalled or absent model never
 * holds up the rules nor the screen. The brain hands it every open incident
 * each round (advisor_submit, cheap when nothing changed); the advisor
 * consults the model for an incident when it first sees it, and again when
 * the incident's evidence changed (a new evidence signature) once
 * ADVISOR_RECONSULT_S have passed since the last answer and the incident's
 * token budget (llm.budget_tokens, across all its consults) is not spent.
 * One consult runs at a time, most severe incident first; each is one
 * llmdiag_run (think/llmdiag.h: prompt under budget, redaction, streaming,
 * validation through the registry, the live catalog and policy) on the
 * advisor's own connection (the monitoring conninfo, application_name
 * cockpit-llm) and on copies of the incident and of its snapshot reference.
 * The prompt shows the most similar past incidents of the audit log
 * (paths.audit_log) and related runbooks: the advisor thread indexes the
 * log's tail when it starts and reads what was appended before each
 * consult (think/recall.h).
 *
 * While the model streams, its text is kept per incident and the UI reads a
 * copy (advisor_view); the wake pipe gets a byte at most every
 * ADVISOR_WAKE_MS while text flows and once at every change of state. A
 * finished consult is published as an immutable, reference-counted advice;
 * the brain puts it on the incidents of its next boards (advisor_apply:
 * agreement raises the rules' proposals, the LLM's own proposals stand
 * beside them) as long as the evidence signature is the one it was given
 * for — an advice for an earlier state is shown as such and never applied.
 *
 * Cancelled from the UI (advisor_cancel), when the incident clears
 * (advisor_forget) and at stop: the libcurl transfer notices within ~20 ms.
 * Every consult that ends (answer, failure, cancel) is audited as
 * "llm.diagnosis" with the incident, the accounting (tokens in/out,
 * latency, time to the first token, cost estimate, prompt hash, what the
 * prompt truncated and redacted), the diagnosis, what was rejected and why,
 * and the full redacted reasoning, for post-incident review.
 *
 * llm.provider none: no advisor is made (advisor_new returns NULL with the
 * calm line in err); the screens say "rules only".
 *
 * Thread affinity: advisor_new/start/stop/free from the owner (UI) thread;
 * submit/apply/forget from the brain thread; view/cancel/retry from the UI
 * thread; every call returns without waiting on the network.
 */
#ifndef COCKPIT_THINK_ADVISOR_H
#define COCKPIT_THINK_ADVISOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "think/llmdiag.h"

struct config;
struct runbook_set;
struct policy_state;
struct audit;
struct snapshot;
struct incident;
struct advisor;

#define ADVISOR_RECONSULT_S 60  /* changed evidence is consulted again after this */
#define ADVISOR_WAKE_MS 100     /* streamed text wakes the UI at most this often */

enum advice_state {
	ADVICE_NONE,        /* never submitted (or forgotten) */
	ADVICE_QUEUED,
	ADVICE_RUNNING,     /* the request is out: text may be streaming */
	ADVICE_DONE,        /* a validated diagnosis */
	ADVICE_FAILED,      /* no usable diagnosis: unreachable, timeout, garbage, budget... */
	ADVICE_CANCELLED,
};

const char *advice_state_name(enum advice_state s);

/* One finished consult. Immutable once published. */
struct advice {
	_Atomic int refs;
	char *key;                   /* owned: the incident */
	char *sig;                   /* owned: the evidence signature it was asked about */
	char *runbook;               /* owned */
	enum advice_state state;     /* DONE, FAILED or CANCELLED */
	struct llmdiag_result r;     /* owned: diagnosis, accounting, status_text */
	double first_seen;           /* epoch s: the incident was first seen */
	double started_at;           /* epoch s: the request went out */
	double finished_at;          /* epoch s */
	int64_t detect_to_first_token_ms;   /* -1 when no text came */
	int64_t detect_to_done_ms;
};

struct advice *advice_ref(struct advice *a);
void advice_unref(struct advice *a);

struct advisor_opts {
	const struct config *cfg;              /* borrowed: llm, policy */
	const struct runbook_set *runbooks;    /* borrowed: guidance */
	const char *conninfo;                  /* monitoring conninfo (copied); NULL: the
	                                          catalog checks fail, so no LLM proposal
	                                          validates (the reasoning still shows) */
	const char *password_env;              /* or NULL (copied) */
	struct policy_state *policy;           /* borrowed, may be NULL */
	struct audit *audit;                   /* borrowed, may be NULL */
	int wake_fd;                           /* the UI's wake pipe; -1 none */
	const char *api_key;                   /* tests only: NULL reads llm.api_key_env */
};

/* NULL with one calm line in err when cfg->llm.provider is none. */
struct advisor *advisor_new(const struct advisor_opts *o, char *err, size_t errlen);
int advisor_start(struct advisor *a);
/* Cancel what runs, join the thread. */
void advisor_stop(struct advisor *a);
void advisor_free(struct advisor *a);

/* Called (on the advisor thread) after each consult ends, so the brain
 * thinks again and puts the advice on a board. */
void advisor_set_notify(struct advisor *a, void (*fn)(void *arg), void *arg);

/* The brain's side. in: an open incident with the rules' proposals of this
 * round; sig: its evidence signature; s: the snapshot it came from (a
 * reference is taken when a consult is queued); first_seen: epoch s. */
void advisor_submit(struct advisor *a, const struct incident *in, const char *sig,
		    struct snapshot *s, double first_seen);
/* Put the advice for (in->key, sig), when there is one, on in (see
 * llmdiag_apply). True when it changed in. */
bool advisor_apply(struct advisor *a, struct incident *in, const char *sig,
		   const struct config *cfg, struct policy_state *policy, double now);
/* The incident cleared: cancel its consult and drop what is known. */
void advisor_forget(struct advisor *a, const char *key);

/* What the UI shows for one incident. */
struct advice_view {
	enum advice_state state;     /* of the newest consult */
	char *text;                  /* owned: the streamed text so far (RUNNING), or the
	                                advice's full reasoning; never NULL */
	char *model;                 /* owned, never NULL */
	int64_t running_ms;          /* RUNNING: since the request went out */
	int64_t first_token_ms;      /* RUNNING: -1 until text came */
	size_t chunks;               /* streamed pieces so far */
	size_t queued_ahead;         /* QUEUED: consults before it */
	int64_t spent_tokens;        /* on this incident so far */
	bool stale;                  /* advice is for an earlier state of the incident */
	bool waiting;                /* changed evidence waits for ADVISOR_RECONSULT_S or budget */
	struct advice *advice;       /* owned reference: the newest finished consult, or NULL */
};

/* Fill v (release with advice_view_release). Never blocks on the thread's
 * work: the lock is held only while copying. */
void advisor_view(struct advisor *a, const char *key, struct advice_view *v);
void advice_view_release(struct advice_view *v);
/* The operator's keys: cancel a queued or running consult; ask again (the
 * budget still holds; the interval does not). One line in msg. */
void advisor_cancel(struct advisor *a, const char *key, char *msg, size_t msglen);
void advisor_retry(struct advisor *a, const char *key, char *msg, size_t msglen);

/* Counters, for the closing figures and tests. */
struct advisor_stats {
	int64_t consults, done, failed, cancelled;
	int64_t tokens_in, tokens_out;
};
void advisor_get_stats(struct advisor *a, struct advisor_stats *st);

#endif
