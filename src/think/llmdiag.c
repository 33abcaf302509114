/*
 * llmdiag: one LLM diagnosis of one incident (see llmdiag.h).
 */
#include "think/llmdiag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/action.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "think/detect.h"
#include "think/redact.h"

/* Request-body overhead over the prompt's own text (JSON escaping, keys). */
#define LLMDIAG_BODY_SLACK 0.85

void llmdiag_llm_opts(const struct config *cfg, const struct incident *in, const char *key,
		      struct llm_opts *lo)
{
	const struct config_llm *l = &cfg->llm;

	llm_opts_defaults(lo);
	lo->provider = l->provider == LLM_PROVIDER_ANTHROPIC ? "anthropic" : "openai";
	lo->base_url = l->base_url;
	lo->model = (in && in->severity == SEVERITY_CRITICAL && l->model_complex) ?
		    l->model_complex : l->model;
	lo->api_key = key;
	lo->connect_timeout_ms = l->connect_s * 1000;
	lo->first_byte_timeout_ms = l->first_token_s * 1000;
	lo->idle_timeout_ms = l->idle_s * 1000;
	lo->total_timeout_ms = l->total_s * 1000;
	lo->max_tokens = l->max_tokens;
	lo->temperature = l->temperature;
	lo->stream = l->stream;
	lo->retries = l->max_retries;
	lo->budget_tokens = l->budget_tokens;
}

static const char *api_key(const struct llmdiag_opts *o)
{
	if (o->api_key)
		return o->api_key;
	if (o->cfg->llm.api_key_env)
		return getenv(o->cfg->llm.api_key_env);
	return NULL;
}

int llmdiag_prompt(const struct llmdiag_opts *o, const struct incident *in, struct prompt *p,
		   char *err, size_t errlen)
{
	const struct config_llm *l = &o->cfg->llm;
	struct prompt_opts po = { .catalog = o->conn, .recall = o->recall };
	int64_t left = (int64_t)l->budget_tokens - (o->spent_tokens > 0 ? o->spent_tokens : 0);
	int64_t room = (int64_t)((double)(left - l->max_tokens) * LLMDIAG_BODY_SLACK);

	if (room <= 0 && o->spent_tokens > 0) {
		snprintf(err, errlen, "budget spent: %lld of llm.budget_tokens (%d) already used on "
			 "this incident — raise budget_tokens to ask again",
			 (long long)o->spent_tokens, l->budget_tokens);
		memset(p, 0, sizeof(*p));
		return -1;
	}
	if (room <= 0) {
		snprintf(err, errlen, "llm.budget_tokens (%d) leaves no room for a prompt after "
			 "llm.max_tokens (%d) — raise budget_tokens or lower max_tokens",
			 l->budget_tokens, l->max_tokens);
		memset(p, 0, sizeof(*p));
		return -1;
	}
	po.budget_tokens = room;
	return prompt_build(in, o->snap, o->rb, &po, p, err, errlen);
}

char *llmdiag_request_body(const struct llmdiag_opts *o, const struct incident *in, char *err,
			   size_t errlen)
{
	struct prompt p;
	struct llm_opts lo;
	char *body;

	if (llmdiag_prompt(o, in, &p, err, errlen) != 0)
		return NULL;
	llmdiag_llm_opts(o->cfg, in, NULL, &lo);
	body = prompt_request_body(&p, &lo, err, errlen);
	prompt_release(&p);
	return body;
}

static void reject(json_t *rejected, const char *action, const char *reason)
{
	json_array_append_new(rejected, json_pack("{ss ss}", "action", action ? action : "?",
						  "reason", reason));
}

/* The rule proposal (origin "rule") with the same action and target. */
static struct proposal *rule_twin(struct incident *in, const struct proposal *p)
{
	for (size_t i = 0; i < in->nproposals; i++) {
		struct proposal *q = in->proposals[i];

		if (q->action == p->action && q->target && p->target &&
		    strcmp(q->target, p->target) == 0 && q->origin && strcmp(q->origin, "rule") == 0)
			return q;
	}
	return NULL;
}

void llmdiag_agree(const struct config *cfg, struct policy_state *policy, struct proposal *rule,
		   double llm_confidence, double now)
{
	double c = rule->confidence > llm_confidence ? rule->confidence : llm_confidence;
	struct strbuf sb;

	c += LLMDIAG_AGREE_BONUS;
	if (c > LLMDIAG_MAX_CONFIDENCE)
		c = LLMDIAG_MAX_CONFIDENCE;
	if (llm_confidence < LLMDIAG_MIN_CONFIDENCE || c <= rule->confidence)
		return;
	strbuf_init(&sb, 256);
	strbuf_addf(&sb, "%s%sThe LLM agrees (confidence %.2f): confidence %.2f -> %.2f.",
		    rule->rationale ? rule->rationale : "", rule->rationale ? " " : "", llm_confidence,
		    rule->confidence, c);
	proposal_set(&rule->rationale, sb.buf);
	strbuf_release(&sb);
	rule->confidence = c;
	policy_decide(cfg, policy, rule, now);
}

size_t llmdiag_apply(const struct llmdiag_result *r, const struct config *cfg,
		     struct policy_state *policy, struct incident *in, double now)
{
	size_t changed = 0, i;
	json_t *id;

	if (!r->ok)
		return 0;
	json_array_foreach(r->agreed, i, id) {
		for (size_t k = 0; k < in->nproposals; k++) {
			struct proposal *q = in->proposals[k];

			if (q->id && q->origin && strcmp(q->origin, "rule") == 0 &&
			    strcmp(q->id, json_string_value(id)) == 0) {
				llmdiag_agree(cfg, policy, q, r->confidence, now);
				changed++;
			}
		}
	}
	for (i = 0; i < r->nproposals; i++) {
		struct proposal *p = proposal_dup(r->proposals[i]);
		bool dup = false;

		for (size_t k = 0; k < in->nproposals && !dup; k++)
			dup = in->proposals[k]->id && p->id && strcmp(in->proposals[k]->id, p->id) == 0;
		if (dup) {
			proposal_free(p);
			continue;
		}
		/* An escalation stays one (low confidence); the rest is judged
		 * again with the current time, like a carried rule proposal. */
		if (p->decision != DECISION_ESCALATE)
			policy_decide(cfg, policy, p, now);
		in->proposals = xrealloc(in->proposals, (in->nproposals + 1) * sizeof(*in->proposals));
		in->proposals[in->nproposals++] = p;
		changed++;
	}
	return changed;
}

int llmdiag_validate(const struct llmdiag_opts *o, struct incident *in, const char *text,
		     size_t len, struct llmdiag_result *r)
{
	struct llm_diagnosis d;
	char err[512];
	size_t n;
	const struct action_def *all = action_all(&n);
	const char **names = xmalloc((n + 1) * sizeof(*names));
	struct action_ctx actx = { .conn = o->conn, .snap = o->snap, .cfg = o->cfg };
	int64_t t0 = clock_mono_ms();

	for (size_t i = 0; i < n; i++)
		names[i] = all[i].name;
	names[n] = NULL;
	if (!r->rejected)
		r->rejected = json_array();
	if (!r->agreed)
		r->agreed = json_array();
	if (llm_parse_diagnosis(text, len, names, &d, err, sizeof(err)) != 0) {
		free(names);
		struct strbuf sb;

		strbuf_init(&sb, 128);
		strbuf_addf(&sb, "invalid reply: %s — the rules' proposals stand", err);
		free(r->status_text);
		r->status_text = strbuf_detach(&sb, NULL);
		r->validate_ms = clock_mono_ms() - t0;
		return -1;
	}
	free(names);
	r->root_cause = redact_text(d.root_cause ? d.root_cause : "", NULL);
	r->confidence = d.confidence;
	r->hypotheses = json_array();
	for (size_t i = 0; i < d.nhypotheses; i++) {
		char *h = redact_text(d.hypotheses[i].text, NULL);

		json_array_append_new(r->hypotheses, json_pack("{ss sf}", "text", h, "probability",
							       d.hypotheses[i].probability));
		free(h);
	}
	{
		size_t i;
		json_t *e;

		json_array_foreach(d.rejected, i, e)
			json_array_append(r->rejected, e);
	}
	for (size_t i = 0; i < d.nproposals; i++) {
		const struct llm_proposal *lp = &d.proposals[i];
		struct proposal *p;

		if (!action_find(lp->action)) {
			snprintf(err, sizeof(err), "action '%s' is not in the registry", lp->action);
			reject(r->rejected, lp->action, err);
			continue;
		}
		p = proposal_new();
		proposal_set(&p->runbook, in->runbook);
		proposal_set(&p->origin, "llm");
		proposal_set(&p->incident_key, in->key);
		p->confidence = d.confidence;
		err[0] = '\0';
		if (action_prepare(&actx, lp->action, lp->params, p, err, sizeof(err)) != 0) {
			reject(r->rejected, lp->action,
			       err[0] ? err : "the action refused its parameters");
			proposal_free(p);
			continue;
		}
		{
			char *why = redact_text(lp->rationale ? lp->rationale : "", NULL);
			struct strbuf sb;

			strbuf_init(&sb, 128);
			strbuf_addf(&sb, "LLM (confidence %.2f): %s", d.confidence, why);
			proposal_set(&p->rationale, sb.buf);
			strbuf_release(&sb);
			free(why);
		}
		json_decref(p->evidence);
		p->evidence = in->evidence ? json_incref(in->evidence) : NULL;
		policy_decide(o->cfg, o->policy, p, o->now);
		if (d.confidence < LLMDIAG_MIN_CONFIDENCE && p->decision != DECISION_DENY) {
			struct strbuf sb;

			strbuf_init(&sb, 128);
			strbuf_addf(&sb, "%s%sLLM confidence %.2f < %.2f: escalate only",
				    p->policy_reason ? p->policy_reason : "",
				    p->policy_reason ? "; " : "", d.confidence, LLMDIAG_MIN_CONFIDENCE);
			proposal_set(&p->policy_reason, sb.buf);
			strbuf_release(&sb);
			p->decision = DECISION_ESCALATE;
		}
		proposal_make_id(p);

		struct proposal *twin = rule_twin(in, p);

		if (twin) {
			llmdiag_agree(o->cfg, o->policy, twin, d.confidence, o->now);
			json_array_append_new(r->agreed, json_string(twin->id ? twin->id : "?"));
			proposal_free(p);
			continue;
		}
		r->proposals = xrealloc(r->proposals, (r->nproposals + 1) * sizeof(*r->proposals));
		r->proposals[r->nproposals++] = p;
	}
	llm_diagnosis_release(&d);
	r->ok = true;
	free(r->status_text);
	r->status_text = xstrdup("ok");
	r->validate_ms = clock_mono_ms() - t0;
	return 0;
}

int llmdiag_run(const struct llmdiag_opts *o, struct incident *in, struct llmdiag_result *r)
{
	struct prompt p;
	struct llm_opts lo;
	struct llm_request req;
	struct llm_call call = { o->on_chunk, o->arg, o->cancel };
	struct llm_result res;
	char err[512];

	memset(r, 0, sizeof(*r));
	r->first_token_ms = -1;
	llmdiag_llm_opts(o->cfg, in, api_key(o), &lo);
	if (o->spent_tokens > 0 && lo.budget_tokens > 0)
		lo.budget_tokens = lo.budget_tokens > o->spent_tokens ? lo.budget_tokens - o->spent_tokens : 1;
	r->model = xstrdup(lo.model ? lo.model : "?");
	if (o->cfg->llm.provider == LLM_PROVIDER_NONE) {
		r->status = LLM_ERR_CONFIG;
		r->status_text = xstrdup("off: llm.provider is none — rules only");
		return -1;
	}
	if (llmdiag_prompt(o, in, &p, err, sizeof(err)) != 0) {
		r->status = LLM_ERR_BUDGET;
		r->status_text = xstrdup(err);
		return -1;
	}
	r->prompt_meta = prompt_meta_to_json(&p);
	req.system = p.system;
	req.user = p.user;
	llm_complete(&lo, &req, &call, &res);
	prompt_release(&p);
	r->status = res.status;
	r->tokens_in = res.tokens_in;
	r->tokens_out = res.tokens_out;
	r->tokens_estimated = res.tokens_estimated;
	r->first_token_ms = res.first_token_ms;
	r->latency_ms = res.total_ms;
	memcpy(r->prompt_hash, res.prompt_sha256, sizeof(r->prompt_hash));
	r->cost_estimate = (double)res.tokens_in / 1000.0 * o->cfg->llm.cost_in_per_1k +
			   (double)res.tokens_out / 1000.0 * o->cfg->llm.cost_out_per_1k;
	r->reasoning = redact_text(res.text ? res.text : "", NULL);
	if (res.status != LLM_OK) {
		struct strbuf sb;
		const char *kind = res.status == LLM_ERR_CONNECT ? "unreachable" :
				   llm_status_name(res.status);

		strbuf_init(&sb, 128);
		strbuf_addf(&sb, "%s: %s — the rules' proposals stand", kind,
			    res.error ? res.error : "no reply");
		r->status_text = strbuf_detach(&sb, NULL);
		llm_result_release(&res);
		return -1;
	}
	int rc = llmdiag_validate(o, in, res.text, strlen(res.text), r);

	llm_result_release(&res);
	return rc;
}

void llmdiag_result_release(struct llmdiag_result *r)
{
	free(r->status_text);
	free(r->model);
	free(r->root_cause);
	free(r->reasoning);
	json_decref(r->hypotheses);
	json_decref(r->rejected);
	json_decref(r->agreed);
	json_decref(r->prompt_meta);
	for (size_t i = 0; i < r->nproposals; i++)
		proposal_free(r->proposals[i]);
	free(r->proposals);
	memset(r, 0, sizeof(*r));
}

json_t *llmdiag_to_json(const struct llmdiag_result *r)
{
	json_t *j = json_object();

	json_object_set_new(j, "status", json_string(r->status_text ? r->status_text : "?"));
	json_object_set_new(j, "model", r->model ? json_string(r->model) : json_null());
	json_object_set_new(j, "tokens_in", json_integer(r->tokens_in));
	json_object_set_new(j, "tokens_out", json_integer(r->tokens_out));
	json_object_set_new(j, "tokens_estimated", json_boolean(r->tokens_estimated));
	json_object_set_new(j, "first_token_ms", json_integer(r->first_token_ms));
	json_object_set_new(j, "latency_ms", json_integer(r->latency_ms));
	json_object_set_new(j, "validate_ms", json_integer(r->validate_ms));
	json_object_set_new(j, "cost_estimate", json_real(r->cost_estimate));
	json_object_set_new(j, "prompt_hash",
			    r->prompt_hash[0] ? json_string(r->prompt_hash) : json_null());
	json_object_set_new(j, "root_cause", r->root_cause ? json_string(r->root_cause) : json_null());
	json_object_set_new(j, "confidence", r->ok ? json_real(r->confidence) : json_null());
	json_object_set_new(j, "hypotheses", r->hypotheses ? json_incref(r->hypotheses) : json_array());
	json_object_set_new(j, "rejected", r->rejected ? json_incref(r->rejected) : json_array());
	json_object_set_new(j, "agreed", r->agreed ? json_incref(r->agreed) : json_array());
	json_object_set_new(j, "prompt", r->prompt_meta ? json_incref(r->prompt_meta) : json_null());
	json_object_set_new(j, "reasoning", r->reasoning ? json_string(r->reasoning) : json_null());
	return j;
}
