/*
 * proposals: the Proposals screen — the operator's side of the
 * self-healing loop. The open incidents of the brain's newest board and
 * their proposals in a table; for the selected one a detail pane: the diff
 * of the state it changes (+ / - lines coloured), the SQL, the rollback,
 * the verification, evidence, rationale, estimate, the policy's decision
 * with its reasons, and the live state of its job; below, the recent
 * actions of the executor (they outlive the incident they fixed, so
 * "verification passed" stays visible after the chain is gone).
 *
 * Keys are commands to the act layer, never SQL: accept hands a copy to
 * the executor (executor_submit) after auditing the decision; reject asks
 * for a reason; defer hides a proposal for ten minutes or until its
 * incident changes; edit runs $VISUAL/$EDITOR on the SQL (through the
 * loop, which leaves curses for it), checks the edit with
 * action_check_sql() and asks policy again. Every decision is audited:
 * decision.accept, decision.reject, decision.defer, decision.edit.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/executor.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "think/advisor.h"
#include "think/brain.h"
#include "ui/format.h"
#include "ui/screen.h"
#include "ui/table.h"

#define DEFER_S 600

enum { C_SEV, C_ACTION, C_TARGET, C_RISK, C_DECISION, C_STATE, C_CONF, C_RUNBOOK, C_SUMMARY, C_COUNT };

static const struct table_column columns[C_COUNT] = {
	{ "SEV", 4, 0, TABLE_ALIGN_LEFT, true, true },
	{ "ACTION", 17, 0, TABLE_ALIGN_LEFT, true, false },
	{ "TARGET", 12, 1, TABLE_ALIGN_LEFT, true, false },
	{ "RISK", 6, 0, TABLE_ALIGN_LEFT, true, true },
	{ "DECISION", 8, 0, TABLE_ALIGN_LEFT, true, false },
	{ "STATE", 10, 0, TABLE_ALIGN_LEFT, true, false },
	{ "CONF", 4, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "RUNBOOK", 12, 0, TABLE_ALIGN_LEFT, true, false },
	{ "SUMMARY", 16, 4, TABLE_ALIGN_LEFT, false, false },
};

static const struct key_help keys[] = {
	{ "j k, Up Down", "select a proposal" },
	{ "a", "accept: run it (high / critical risk: type the target to confirm)" },
	{ "e", "edit the SQL in $VISUAL / $EDITOR (checked, then judged again)" },
	{ "r", "reject, with a typed reason (audited)" },
	{ "d", "defer: hide for 10 min or until the incident changes" },
	{ "u", "show / hide rejected and deferred proposals" },
	{ "l", "the LLM's diagnosis of the incident (reasoning as it streams) / back" },
	{ "C", "cancel the LLM diagnosis of the incident" },
	{ "L", "ask the LLM again (within the incident's token budget)" },
	{ "J K", "scroll the detail pane" },
	{ "Enter", "detail pane full height / back" },
};

struct row {
	size_t inc;                    /* index into the board's incidents */
	const struct proposal *p;      /* borrowed (board or an edit), NULL: incident without one */
	int hidden;                    /* 0, 1 deferred, 2 rejected */
};

struct edit {                      /* an operator's edited copy */
	char *id, *incident;
	struct proposal *p;            /* owned */
};

struct hide {
	char *id, *incident;
	char *summary, *sql;           /* what it looked like: a change shows it again */
	double until;                  /* epoch s; 0: for the incident's life (rejected) */
	bool rejected;
};

struct label {                     /* what a job was, for the actions list */
	char *id, *text;
};

enum pending { PEND_NONE, PEND_CONFIRM, PEND_REJECT, PEND_EDIT };

struct proposals {
	struct table table;
	const struct board *board;     /* borrowed identity of what rows point into */
	int64_t board_seq;
	struct row *rows;
	size_t nrows, rows_alloc;
	const struct job_view *jobs;   /* borrowed for the frame (cell callback) */
	size_t njobs;
	struct edit *edits;
	size_t nedits;
	struct hide *hides;
	size_t nhides;
	struct label *labels;
	size_t nlabels;
	bool show_hidden;
	bool full;                     /* detail pane full height */
	bool llm;                      /* the detail pane shows the LLM's diagnosis */
	int detail_top;
	enum pending pending;
	char pending_id[128];
	char pending_incident[512];
	char *evidence;                /* owned: evidence_inc's evidence as text, of the board
	                                  numbered evidence_seq (boards never change) */
	int64_t evidence_seq;
	size_t evidence_inc;
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t hash_str(const char *s)
{
	return mem_hash(s ? s : "", s ? strlen(s) : 0);
}

static enum theme_role severity_role(enum severity s)
{
	return s == SEVERITY_CRITICAL ? THEME_CRIT : s == SEVERITY_WARNING ? THEME_WARN : THEME_NORMAL;
}

static enum theme_role risk_role(enum risk r)
{
	static const enum theme_role roles[] = {
		THEME_RISK_LOW, THEME_RISK_MEDIUM, THEME_RISK_HIGH, THEME_RISK_CRITICAL,
	};

	return (unsigned)r < 4 ? roles[r] : THEME_NORMAL;
}

static const char *job_text(enum job_state s)
{
	switch (s) {
	case JOB_QUEUED: return "queued";
	case JOB_RUNNING: return "running";
	case JOB_VERIFYING: return "verifying";
	case JOB_DONE: return "done: verification passed";
	case JOB_FAILED: return "failed";
	case JOB_ROLLED_BACK: return "rolled back";
	case JOB_ESCALATED: return "escalated";
	case JOB_UNKNOWN: return "outcome unknown";
	case JOB_SHADOWED: return "shadow: would run";
	case JOB_REFUSED: return "refused";
	}
	return "?";
}

static enum theme_role job_role(enum job_state s)
{
	switch (s) {
	case JOB_DONE: return THEME_OK;
	case JOB_FAILED: case JOB_ESCALATED: case JOB_UNKNOWN: return THEME_CRIT;
	case JOB_ROLLED_BACK: case JOB_REFUSED: return THEME_WARN;
	case JOB_SHADOWED: return THEME_DIM;
	default: return THEME_NORMAL;
	}
}

static const struct job_view *job_for(const struct job_view *jobs, size_t n, const char *id)
{
	for (size_t i = n; id && i-- > 0;)
		if (jobs[i].proposal_id && strcmp(jobs[i].proposal_id, id) == 0)
			return &jobs[i];
	return NULL;
}

static struct edit *edit_find(struct proposals *st, const char *id, const char *incident)
{
	for (size_t i = 0; i < st->nedits; i++)
		if (strcmp(st->edits[i].id, id) == 0 && strcmp(st->edits[i].incident, incident) == 0)
			return &st->edits[i];
	return NULL;
}

static void edit_release(struct edit *e)
{
	free(e->id);
	free(e->incident);
	proposal_free(e->p);
}

static void hide_release(struct hide *h)
{
	free(h->id);
	free(h->incident);
	free(h->summary);
	free(h->sql);
}

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* 0 shown, 1 deferred, 2 rejected. */
static int hidden_state(const struct proposals *st, const struct incident *in, const struct proposal *p,
			double now)
{
	for (size_t i = 0; i < st->nhides; i++) {
		const struct hide *h = &st->hides[i];

		if (strcmp(h->id, p->id ? p->id : "") != 0 || strcmp(h->incident, in->key) != 0)
			continue;
		if (h->rejected)
			return 2;
		if (now < h->until && same_str(h->summary, in->summary) && same_str(h->sql, p->sql))
			return 1;
	}
	return 0;
}

static void label_set(struct proposals *st, const struct proposal *p)
{
	char buf[320];

	snprintf(buf, sizeof(buf), "%s on %s", p->action ? p->action->name : "?", p->target ? p->target : "?");
	for (size_t i = 0; i < st->nlabels; i++)
		if (strcmp(st->labels[i].id, p->id) == 0) {
			free(st->labels[i].text);
			st->labels[i].text = xstrdup(buf);
			return;
		}
	st->labels = xrealloc(st->labels, (st->nlabels + 1) * sizeof(*st->labels));
	st->labels[st->nlabels].id = xstrdup(p->id);
	st->labels[st->nlabels].text = xstrdup(buf);
	st->nlabels++;
}

static const char *label_get(const struct proposals *st, const char *id)
{
	for (size_t i = 0; id && i < st->nlabels; i++)
		if (strcmp(st->labels[i].id, id) == 0)
			return st->labels[i].text;
	return NULL;
}

/* ---- rows -------------------------------------------------------------- */

static const char *cell(void *ctx, size_t row, size_t col, char *buf, size_t size, enum theme_role *role)
{
	struct proposals *st = ctx;
	const struct row *r = &st->rows[row];
	const struct incident *in = &st->board->incidents.v[r->inc];
	const struct proposal *p = r->p;
	const struct job_view *j = p ? job_for(st->jobs, st->njobs, p->id) : NULL;

	*role = r->hidden ? THEME_DIM : THEME_NORMAL;
	switch (col) {
	case C_SEV:
		if (!r->hidden)
			*role = severity_role(in->severity);
		return in->severity == SEVERITY_CRITICAL ? "crit" : in->severity == SEVERITY_WARNING ? "warn" : "info";
	case C_ACTION:
		if (!p) {
			*role = THEME_WARN;
			return "(escalated)";
		}
		if (p->origin && strcmp(p->origin, "llm") == 0) {
			snprintf(buf, size, "llm:%s", p->action ? p->action->name : "?");
			return buf;
		}
		return p->action ? p->action->name : "?";
	case C_TARGET:
		return p ? p->target : "";
	case C_RISK:
		if (!p)
			return "";
		if (!r->hidden)
			*role = risk_role(p->risk);
		return risk_name(p->risk);
	case C_DECISION:
		if (!p)
			return "";
		if (r->hidden)
			return r->hidden == 2 ? "rejected" : "deferred";
		if (p->decision == DECISION_DENY || p->decision == DECISION_ESCALATE)
			*role = THEME_WARN;
		snprintf(buf, size, "%s%s", decision_name(p->decision), p->edited_from ? "*" : "");
		return buf;
	case C_STATE:
		if (!j)
			return "";
		*role = job_role(j->state);
		return j->state == JOB_DONE ? "verified" : job_state_name(j->state);
	case C_CONF:
		if (!p)
			return "";
		snprintf(buf, size, "%.2f", p->confidence);
		return buf;
	case C_RUNBOOK:
		return in->runbook;
	case C_SUMMARY:
		return p && p->rationale ? p->rationale : in->escalation ? in->escalation : in->summary;
	}
	return "";
}

static int64_t row_key(void *ctx, size_t row)
{
	struct proposals *st = ctx;
	const struct row *r = &st->rows[row];

	return (int64_t)(hash_str(r->p ? r->p->id : st->board->incidents.v[r->inc].key) >> 1);
}

static void *create(void)
{
	struct proposals *st = xcalloc(1, sizeof(*st));
	struct table_source src = { cell, NULL, row_key };

	table_init(&st->table, columns, C_COUNT, &src);
	st->board_seq = -1;
	return st;
}

static void destroy(void *p)
{
	struct proposals *st = p;

	table_release(&st->table);
	free(st->rows);
	for (size_t i = 0; i < st->nedits; i++)
		edit_release(&st->edits[i]);
	free(st->edits);
	for (size_t i = 0; i < st->nhides; i++)
		hide_release(&st->hides[i]);
	free(st->hides);
	for (size_t i = 0; i < st->nlabels; i++) {
		free(st->labels[i].id);
		free(st->labels[i].text);
	}
	free(st->labels);
	free(st->evidence);
	free(st);
}

/* Forget edits and hides of incidents that are gone. */
static void prune(struct proposals *st, const struct board *b, double now)
{
	for (size_t i = 0; i < st->nedits;)
		if (board_find_incident(b, st->edits[i].incident) == SIZE_MAX) {
			edit_release(&st->edits[i]);
			st->edits[i] = st->edits[--st->nedits];
		} else {
			i++;
		}
	for (size_t i = 0; i < st->nhides;)
		if (board_find_incident(b, st->hides[i].incident) == SIZE_MAX ||
		    (!st->hides[i].rejected && now >= st->hides[i].until)) {
			hide_release(&st->hides[i]);
			st->hides[i] = st->hides[--st->nhides];
		} else {
			i++;
		}
}

static void add_row(struct proposals *st, size_t inc, const struct proposal *p, int hidden)
{
	XGROW(st->rows, st->rows_alloc, st->nrows + 1);
	st->rows[st->nrows++] = (struct row){ inc, p, hidden };
}

/* Rows for the view's board (and the jobs for the cells). Called from
 * every entry point: the board may have been swapped since the last one. */
static void rebuild(struct proposals *st, const struct view *v, bool force)
{
	const struct board *b = v->board;

	st->jobs = v->jobs;
	st->njobs = v->njobs;
	if (!force && b == st->board && (b ? b->seq : -1) == st->board_seq)
		return;
	st->board = b;
	st->board_seq = b ? b->seq : -1;
	st->nrows = 0;
	if (b) {
		prune(st, b, v->now);
		for (size_t i = 0; i < b->incidents.n; i++) {
			const struct incident *in = &b->incidents.v[i];

			if (!in->nproposals)
				add_row(st, i, NULL, 0);
			for (size_t k = 0; k < in->nproposals; k++) {
				const struct proposal *p = in->proposals[k];
				struct edit *e = p->id ? edit_find(st, p->id, in->key) : NULL;
				int h = hidden_state(st, in, p, v->now);

				if (h && !st->show_hidden)
					continue;
				add_row(st, i, e ? e->p : p, h);
			}
		}
	}
	table_set_rows(&st->table, st, st->nrows);
}

static const struct row *selected(struct proposals *st)
{
	size_t r;

	if (!st->board || !table_selected(&st->table, &r) || r >= st->nrows)
		return NULL;
	return &st->rows[r];
}

/* ---- the detail pane ----------------------------------------------------- */

struct line {
	enum theme_role role;
	char *text;     /* owned */
	bool title;
};

struct lines {
	struct line *v;
	size_t n, alloc;
};

static void line_add(struct lines *l, enum theme_role role, bool title, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void line_add(struct lines *l, enum theme_role role, bool title, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, 64);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	XGROW(l->v, l->alloc, l->n + 1);
	l->v[l->n++] = (struct line){ role, strbuf_detach(&sb, NULL), title };
}

/* Each line of text as its own line; diff lines coloured by their prefix. */
static void lines_add_text(struct lines *l, enum theme_role role, bool diff, const char *text)
{
	const char *q = text;

	while (q && *q) {
		size_t n = strcspn(q, "\n");
		enum theme_role r = role;

		if (diff && n >= 1 && q[0] == '+')
			r = THEME_DIFF_ADD;
		else if (diff && n >= 1 && q[0] == '-')
			r = THEME_DIFF_DEL;
		line_add(l, r, false, "  %.*s", (int)n, q);
		q += n;
		if (*q == '\n')
			q++;
	}
}

static void lines_release(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
}

/* ---- the LLM's side ------------------------------------------------------ */

static bool is_llm(const struct proposal *p)
{
	return p->origin && strcmp(p->origin, "llm") == 0;
}

static bool json_has_string(const json_t *a, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_string(e) && s && strcmp(json_string_value(e), s) == 0)
			return true;
	return false;
}

/* One line under the incident: what the LLM is doing about it. Calm when
 * there is none: the rules' proposals are the product, the LLM an extra. */
static void llm_status_line(const struct view *v, const struct incident *in, const struct advice_view *av,
			    bool pane, struct lines *l)
{
	const struct advice *a = av->advice;
	const char *more = pane ? "l goes back" : "l shows the reasoning";
	char b1[32];

	if (!v->act || !v->act->advisor) {
		line_add(l, THEME_DIM, false, "LLM: %s", v->act && v->act->no_llm ? v->act->no_llm :
			 "replay: no LLM diagnosis");
		return;
	}
	switch (av->state) {
	case ADVICE_NONE:
		line_add(l, THEME_DIM, false, "LLM: %s", in->runbook && strcmp(in->runbook, "operator") == 0 ?
			 "not asked (an operator's own request)" : "not asked yet");
		return;
	case ADVICE_QUEUED:
		line_add(l, THEME_DIM, false, "LLM (%s): queued, %zu ahead — C cancels", av->model, av->queued_ahead);
		return;
	case ADVICE_RUNNING:
		line_add(l, THEME_NORMAL, false, "LLM (%s): thinking for %s, %zu piece%s streamed — %s, C cancels",
			 av->model, fmt_duration((double)av->running_ms / 1000.0, b1, sizeof(b1)), av->chunks,
			 av->chunks == 1 ? "" : "s", more);
		return;
	case ADVICE_CANCELLED:
		line_add(l, THEME_DIM, false, "LLM (%s): cancelled — the rules' proposals stand (L asks again)", av->model);
		return;
	case ADVICE_FAILED:
		line_add(l, THEME_WARN, false, "LLM (%s): %s (L asks again)", av->model,
			 a && a->r.status_text ? a->r.status_text : "no diagnosis");
		return;
	case ADVICE_DONE:
		break;
	}
	{
		size_t own = a ? a->r.nproposals : 0, rej = a ? json_array_size(a->r.rejected) : 0;
		size_t agreed = a ? json_array_size(a->r.agreed) : 0;

		line_add(l, av->stale ? THEME_DIM : THEME_NORMAL, false,
			 "LLM (%s): confidence %.2f; agrees with %zu rule proposal%s, %zu of its own, %zu rejected%s — %s",
			 av->model, a ? a->r.confidence : 0.0, agreed, agreed == 1 ? "" : "s", own, rej,
			 av->stale ? "; for an earlier state of the incident" : "", more);
	}
}

static void llm_pane(const struct view *v, const struct incident *in, const struct advice_view *av,
		     struct lines *l)
{
	const struct advice *a = av->advice;
	char b1[32];

	line_add(l, THEME_TITLE, true, "LLM diagnosis (%s): %s", av->model, advice_state_name(av->state));
	llm_status_line(v, in, av, true, l);
	if (!v->act || !v->act->advisor)
		return;
	if (av->stale)
		line_add(l, THEME_WARN, false, "  this answer is for an earlier state of the incident: its proposals are not applied%s",
			 av->waiting ? "; it is asked again within a minute" : "");
	else if (av->waiting)
		line_add(l, THEME_DIM, false, "  the evidence changed: the LLM is asked again once a minute has passed and budget is left");
	if (av->state == ADVICE_RUNNING)
		line_add(l, THEME_DIM, false, "  first token %s; %lld tokens spent on this incident before",
			 av->first_token_ms >= 0 ? fmt_duration((double)av->first_token_ms / 1000.0, b1, sizeof(b1)) : "not yet",
			 (long long)av->spent_tokens);
	if (a && av->state != ADVICE_RUNNING) {
		const json_t *pm = a->r.prompt_meta;
		const json_t *inj = pm ? json_object_get(pm, "injection") : NULL;

		line_add(l, THEME_DIM, false, "  tokens %lld in / %lld out%s, first token %lld ms, %lld ms in all, cost ~%.4f, prompt sha256 %.12s",
			 (long long)a->r.tokens_in, (long long)a->r.tokens_out, a->r.tokens_estimated ? " (estimated)" : "",
			 (long long)a->r.first_token_ms, (long long)a->r.latency_ms, a->r.cost_estimate, a->r.prompt_hash);
		if (pm) {
			char *tr = json_dumps(json_object_get(pm, "truncated"), JSON_COMPACT);
			char *rd = json_dumps(json_object_get(pm, "redacted"), JSON_COMPACT | JSON_SORT_KEYS);

			line_add(l, THEME_DIM, false, "  prompt: %lld tokens, %lld untrusted blocks fenced; truncated %s; redacted %s",
				 (long long)json_integer_value(json_object_get(pm, "tokens")),
				 (long long)json_integer_value(json_object_get(pm, "fenced")), tr ? tr : "[]", rd ? rd : "{}");
			free(tr);
			free(rd);
		}
		if (json_array_size(inj)) {
			char *ij = json_dumps(inj, JSON_COMPACT);

			line_add(l, THEME_WARN, false, "  instruction-like text in the untrusted data (%s): flagged; it cannot add actions",
				 ij ? ij : "?");
			free(ij);
		}
	}
	if (a && a->state == ADVICE_DONE) {
		size_t i;
		json_t *h;

		line_add(l, THEME_TITLE, true, "Root cause (confidence %.2f)", a->r.confidence);
		lines_add_text(l, THEME_NORMAL, false, a->r.root_cause ? a->r.root_cause : "");
		if (json_array_size(a->r.hypotheses)) {
			line_add(l, THEME_TITLE, true, "Hypotheses");
			json_array_foreach(a->r.hypotheses, i, h)
				line_add(l, THEME_NORMAL, false, "  %.2f  %s",
					 json_number_value(json_object_get(h, "probability")),
					 json_string_value(json_object_get(h, "text")) ?
					 json_string_value(json_object_get(h, "text")) : "");
		}
		/* Side by side: what the rules propose, what the LLM makes of it. */
		line_add(l, THEME_TITLE, true, "Rules and LLM");
		for (size_t k = 0; k < in->nproposals; k++) {
			const struct proposal *p = in->proposals[k];

			if (is_llm(p))
				continue;
			line_add(l, THEME_NORMAL, false, "  rules  %-18s %-24s %.2f  %s",
				 p->action ? p->action->name : "?", p->target ? p->target : "", p->confidence,
				 json_has_string(a->r.agreed, p->id) ? "the LLM agrees" :
				 a->r.nproposals ? "the LLM proposes otherwise" : "the LLM proposes nothing");
		}
		for (i = 0; i < a->r.nproposals; i++) {
			const struct proposal *p = a->r.proposals[i];

			line_add(l, p->decision == DECISION_ESCALATE ? THEME_DIM : THEME_NORMAL, false,
				 "  LLM    %-18s %-24s %.2f  %s", p->action ? p->action->name : "?",
				 p->target ? p->target : "", p->confidence, decision_name(p->decision));
		}
		if (!in->nproposals && !a->r.nproposals)
			line_add(l, THEME_DIM, false, "  neither proposes an action: a human must look");
		if (json_array_size(a->r.rejected)) {
			json_t *e;

			line_add(l, THEME_TITLE, true, "Rejected (%zu)", json_array_size(a->r.rejected));
			json_array_foreach(a->r.rejected, i, e) {
				const char *what = json_string_value(json_object_get(e, "action"));

				if (!what)
					what = json_string_value(json_object_get(e, "item"));
				line_add(l, THEME_WARN, false, "  %s: %s", what ? what : "?",
					 json_string_value(json_object_get(e, "reason")) ?
					 json_string_value(json_object_get(e, "reason")) : "");
			}
		}
	}
	line_add(l, THEME_TITLE, true, "Reasoning%s", av->state == ADVICE_RUNNING ? " (streaming)" : "");
	lines_add_text(l, THEME_NORMAL, false, *av->text ? av->text :
		       av->state == ADVICE_RUNNING ? "(waiting for the first token)" : "(none)");
}

/* An incident's evidence as text, dumped once per board and incident: a
 * lock chain's lists every session behind the root (tens of KB at a few
 * hundred waiters), the same on every frame until the next board. */
static const char *evidence_text(struct proposals *st, size_t inc)
{
	const struct incident *in = &st->board->incidents.v[inc];

	if (st->evidence && st->evidence_seq == st->board_seq && st->evidence_inc == inc)
		return st->evidence;
	free(st->evidence);
	st->evidence = in->evidence ? json_dumps(in->evidence, JSON_COMPACT | JSON_SORT_KEYS |
								JSON_REAL_PRECISION(15))
				    : NULL;
	st->evidence_seq = st->board_seq;
	st->evidence_inc = inc;
	return st->evidence;
}

/* The selected row's detail (or its incident's LLM pane); *tail is set
 * when the pane should follow its end (reasoning streaming in). */
static void detail_lines(struct proposals *st, const struct view *v, const struct row *r,
			 struct lines *l, bool *tail)
{
	const struct incident *in = &st->board->incidents.v[r->inc];
	const struct proposal *p = r->p;
	size_t bi = r->inc;
	const struct board_times *t = st->board->times ? &st->board->times[bi] : NULL;
	char b1[32], b2[32];

	line_add(l, severity_role(in->severity), false, "%s  [%s, %s]", in->summary ? in->summary : "",
		 in->runbook ? in->runbook : "?", severity_name(in->severity));
	if (t)
		line_add(l, THEME_DIM, false, "  open for %s%s%s%s", fmt_age_since(t->first_seen, v->now, b1, sizeof(b1)),
			 t->proposal_ms >= 0 ? "; proposal " : "",
			 t->proposal_ms >= 0 ? fmt_duration(t->proposal_ms / 1000.0, b2, sizeof(b2)) : "",
			 t->proposal_ms >= 0 ? " after detection" : "");
	{
		struct advice_view av;

		advisor_view(v->act ? v->act->advisor : NULL, in->key, &av);
		*tail = false;
		if (st->llm) {
			llm_pane(v, in, &av, l);
			*tail = av.state == ADVICE_RUNNING;
			advice_view_release(&av);
			return;
		}
		llm_status_line(v, in, &av, false, l);
		advice_view_release(&av);
	}
	if (!p) {
		line_add(l, THEME_WARN, false, "escalated: %s",
			 in->escalation ? in->escalation : "no action fits: a human must look");
	} else {
		const struct job_view *j = job_for(v->jobs, v->njobs, p->id);
		char reason[256];
		enum policy_gate g = v->act ? policy_gate(v->act->mode, p->decision, true, reason, sizeof(reason))
					    : GATE_REFUSE;

		line_add(l, risk_role(p->risk), false, "%s on %s: risk %s, confidence %.2f, decision %s%s",
			 p->action ? p->action->name : "?", p->target ? p->target : "?", risk_name(p->risk),
			 p->confidence, decision_name(p->decision), r->hidden == 2 ? " (rejected)" :
			 r->hidden == 1 ? " (deferred)" : "");
		if (p->policy_reason && *p->policy_reason)
			line_add(l, THEME_NORMAL, false, "policy: %s", p->policy_reason);
		if (!v->act)
			line_add(l, THEME_DIM, false, "replay: nothing can run");
		else if (v->act->mode == MODE_OBSERVE)
			line_add(l, THEME_WARN, false, "observe mode: nothing can run (start with --mode assist)");
		else if (g == GATE_REFUSE)
			line_add(l, THEME_WARN, false, "a would be refused now: %s", reason);
		else if (!v->act->executor)
			line_add(l, THEME_WARN, false, "cannot run: %s",
				 v->act->no_executor ? v->act->no_executor : "no executor");
		if (j) {
			line_add(l, job_role(j->state), true, "Job: %s", job_text(j->state));
			if (j->detail && *j->detail)
				line_add(l, job_role(j->state), false, "  %s", j->detail);
			if (!isnan(j->baseline) || !isnan(j->measured))
				line_add(l, THEME_NORMAL, false, "  verify: baseline %g, measured %g", j->baseline,
					 j->measured);
		}
		if (p->diff && *p->diff) {
			line_add(l, THEME_TITLE, true, "Diff");
			lines_add_text(l, THEME_NORMAL, true, p->diff);
		}
		line_add(l, THEME_TITLE, true, "SQL%s", p->edited_from ? " (edited)" : "");
		lines_add_text(l, THEME_NORMAL, false, p->sql ? p->sql : "(none)");
		if (p->edit_diff) {
			line_add(l, THEME_TITLE, true, "Your edit");
			lines_add_text(l, THEME_NORMAL, true, p->edit_diff);
		}
		line_add(l, THEME_TITLE, true, "Rollback");
		lines_add_text(l, p->rollback_sql ? THEME_NORMAL : THEME_DIM, false,
			       p->rollback_sql ? p->rollback_sql : "none: the action is not reversible");
		line_add(l, THEME_TITLE, true, "Verify");
		if (p->verify.sql) {
			lines_add_text(l, THEME_NORMAL, false, p->verify.sql);
			line_add(l, THEME_DIM, false, "  expect %s, first check after %ds, deadline %ds, %d attempt%s",
				 p->verify.expect ? p->verify.expect : "?", p->verify.wait_s, p->verify.deadline_s,
				 p->verify.attempts, p->verify.attempts == 1 ? "" : "s");
		} else {
			line_add(l, THEME_DIM, false, "  none");
		}
		if (p->rationale) {
			line_add(l, THEME_TITLE, true, "Rationale");
			lines_add_text(l, THEME_NORMAL, false, p->rationale);
		}
		if (p->estimate) {
			line_add(l, THEME_TITLE, true, "Estimate");
			lines_add_text(l, THEME_NORMAL, false, p->estimate);
		}
	}
	if (in->evidence) {
		const char *ev = evidence_text(st, r->inc);

		line_add(l, THEME_TITLE, true, "Evidence");
		line_add(l, THEME_DIM, false, "  %s", ev ? ev : "");
	}
}

/* Rows the lines take at width w (as draw_lines counts them). */
static int lines_rows(const struct lines *l, int w)
{
	int rows = 0;

	for (size_t i = 0; i < l->n; i++) {
		int need = l->v[i].title ? 1 : (canvas_text_width(l->v[i].text) + w - 1) / (w > 0 ? w : 1);

		rows += need < 1 ? 1 : need;
	}
	return rows;
}

/* Lines are wrapped to w; returns the rows used. */
static int draw_lines(const struct lines *l, int skip, struct canvas *c, struct canvas_rect r)
{
	int y = r.y, row = 0;

	for (size_t i = 0; i < l->n && y < r.y + r.h; i++) {
		int need = l->v[i].title ? 1 : (canvas_text_width(l->v[i].text) + r.w - 1) / (r.w > 0 ? r.w : 1);

		if (need < 1)
			need = 1;
		if (row + need <= skip) {
			row += need;
			continue;
		}
		if (l->v[i].title) {
			screen_title(c, r.x, y++, r.w, l->v[i].text);
		} else {
			/* Wrap; skip the part above the scroll position. */
			int used = screen_wrap(c, r.x, y, r.w, r.y + r.h - y, l->v[i].role, l->v[i].text);

			y += used;
		}
		row += need;
	}
	return y - r.y;
}

static void draw_jobs(const struct proposals *st, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	char title[64];
	int y = r.y;

	snprintf(title, sizeof(title), "Actions (%zu)", v->njobs);
	screen_title(c, r.x, y++, r.w, title);
	for (size_t i = v->njobs; i-- > 0 && y < r.y + r.h;) {
		const struct job_view *j = &v->jobs[i];
		const char *lab = label_get(st, j->proposal_id);
		char b1[32], when[40], what[200], line[640];

		fmt_age_since(j->started_at, v->now, b1, sizeof(b1));
		snprintf(when, sizeof(when), "%s ago", b1);
		if (lab)
			snprintf(what, sizeof(what), "%s", lab);
		else
			fmt_oneline(j->sql_run ? j->sql_run : (j->proposal_id ? j->proposal_id : "?"), what, sizeof(what));
		snprintf(line, sizeof(line), "%-9s %s: %s%s%s", when, what, job_text(j->state),
			 j->detail && *j->detail ? " — " : "", j->detail ? j->detail : "");
		canvas_text(c, r.x + 1, y++, r.w - 2, job_role(j->state), line);
	}
}

static void draw(void *sp, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	struct proposals *st = sp;
	const struct board *b = v->board;
	enum cockpit_mode mode = v->act ? v->act->mode : v->cfg->mode;
	int y = r.y, end = r.y + r.h, jobs_h = 0, table_h;
	char line[512];
	size_t nprop = 0;
	const struct row *sel;

	rebuild(st, v, false);
	/* The mode, prominently: it says what a does. */
	switch (mode) {
	case MODE_OBSERVE:
		snprintf(line, sizeof(line), " mode OBSERVE: nothing can run (start with --mode assist) ");
		break;
	case MODE_SHADOW:
		snprintf(line, sizeof(line), " mode SHADOW: what would run is recorded; nothing runs ");
		break;
	case MODE_ASSIST:
		snprintf(line, sizeof(line), " mode ASSIST: a proposal runs when you accept it ");
		break;
	case MODE_AUTO:
		snprintf(line, sizeof(line), " mode AUTO: policy-allowed low-risk actions run; the rest wait for you ");
		break;
	}
	canvas_fill(c, r.x, y, r.w, THEME_NORMAL, ' ');
	canvas_text(c, r.x, y, r.w, mode == MODE_OBSERVE ? THEME_WARN : mode == MODE_AUTO ? THEME_CRIT : THEME_TAB_ACTIVE,
		    line);
	if (!v->act && r.w > canvas_text_width(line) + 10)
		canvas_text(c, r.x + canvas_text_width(line) + 1, y, -1, THEME_DIM, "(replay: nothing runs)");
	y++;
	if (!b) {
		canvas_text(c, r.x + 1, y + 1, r.w - 2, THEME_DIM,
			    v->snap ? "thinking: the first board is on its way..." : "waiting for the first snapshot...");
		return;
	}
	if (b->note && y < end)
		canvas_text(c, r.x + 1, y++, r.w - 2, THEME_WARN, b->note);
	for (size_t i = 0; i < b->incidents.n; i++)
		nprop += b->incidents.v[i].nproposals;
	if (v->njobs && r.h >= 16)
		jobs_h = v->njobs + 1 < 5 ? (int)v->njobs + 1 : 5;
	if (!st->nrows) {
		snprintf(line, sizeof(line), "Open incidents (0)");
		screen_title(c, r.x, y++, r.w, line);
		canvas_text(c, r.x + 1, y, r.w - 2, THEME_OK,
			    b->incidents.n ? "every proposal is deferred or rejected (u shows them)"
					   : "no open incidents: nothing to decide");
		if (jobs_h || (v->njobs && end - y > 3)) {
			int h = end - (y + 2);

			draw_jobs(st, v, c, (struct canvas_rect){ r.x, y + 2, r.w, h > 8 ? 8 : h });
		}
		return;
	}
	snprintf(line, sizeof(line), "Open incidents (%zu), proposals (%zu)%s", b->incidents.n, nprop,
		 st->show_hidden ? ", hidden ones shown" : "");
	screen_title(c, r.x, y++, r.w, line);
	sel = NULL;
	if (st->full) {
		sel = selected(st);
		table_h = 0;
	} else {
		int avail = end - y - jobs_h;

		table_h = (int)st->nrows + 1;
		if (table_h > avail / 3 && avail >= 12)
			table_h = avail / 3 > 3 ? avail / 3 : 3;
		if (table_h > avail)
			table_h = avail;
		if (avail < 8)
			table_h = avail; /* small terminal: the list only */
		table_draw(&st->table, c, (struct canvas_rect){ r.x, y, r.w, table_h });
		y += table_h;
		sel = selected(st);
	}
	if (sel && end - jobs_h - y > 1) {
		struct lines l = { NULL, 0, 0 };
		int dh = end - jobs_h - y;

		bool tail = false;
		int skip;

		detail_lines(st, v, sel, &l, &tail);
		if (st->detail_top < 0)
			st->detail_top = 0;
		skip = st->detail_top;
		/* Streaming and not scrolled by hand: keep the newest text in view. */
		if (tail && skip == 0 && lines_rows(&l, r.w - 2) > dh)
			skip = lines_rows(&l, r.w - 2) - dh;
		draw_lines(&l, skip, c, (struct canvas_rect){ r.x + 1, y, r.w - 2, dh });
		lines_release(&l);
		y += dh;
	}
	if (jobs_h)
		draw_jobs(st, v, c, (struct canvas_rect){ r.x, end - jobs_h, r.w, jobs_h });
}

/* ---- commands ------------------------------------------------------------ */

static void msg(const struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void msg(const struct view *v, const char *fmt, ...)
{
	va_list ap;

	if (!v->req)
		return;
	va_start(ap, fmt);
	vsnprintf(v->req->message, sizeof(v->req->message), fmt, ap);
	va_end(ap);
}

/* Audit a decision; false (and a message) when the record was not written. */
static bool audit_decision(const struct view *v, const char *kind, const struct incident *in,
			   const struct proposal *p, json_t *extra)
{
	json_t *f = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "incident", in ? in->key : NULL,
			      "proposal_id", p->id, "action", p->action ? p->action->name : NULL,
			      "target", p->target, "sql", p->sql);
	char err[256];
	int rc;

	if (extra)
		json_object_update(f, extra);
	json_decref(extra);
	if (!v->act || !v->act->audit) {
		json_decref(f);
		msg(v, "no audit log: %s is not recorded (see paths.audit_log)", kind);
		return false;
	}
	rc = audit_append(v->act->audit, kind, f, err, sizeof(err));
	json_decref(f);
	if (rc != 0) {
		msg(v, "%s", err);
		return false;
	}
	return true;
}

/* The proposal a pending prompt is about, as shown now (an edit when there is one). */
static const struct proposal *pending_proposal(struct proposals *st, const struct view *v,
					       const struct incident **in)
{
	const struct proposal *p;
	struct edit *e;

	rebuild(st, v, false);
	p = board_find_proposal(v->board, st->pending_id, in);
	if (!p || strcmp((*in)->key, st->pending_incident) != 0)
		return NULL;
	e = edit_find(st, st->pending_id, st->pending_incident);
	return e ? e->p : p;
}

static void remember_pending(struct proposals *st, enum pending what, const struct incident *in,
			     const struct proposal *p)
{
	st->pending = what;
	snprintf(st->pending_id, sizeof(st->pending_id), "%s", p->id ? p->id : "");
	snprintf(st->pending_incident, sizeof(st->pending_incident), "%s", in->key);
}

static void run_accept(struct proposals *st, const struct view *v, const struct incident *in,
		       const struct proposal *p, const char *typed)
{
	char err[256];
	json_t *extra = json_pack("{s:s, s:s, s:s, s:s?}", "risk", risk_name(p->risk), "decision",
				  decision_name(p->decision), "mode", config_mode_name(v->act->mode),
				  "confirmed_by_typing", typed);

	if (p->edit_diff)
		json_object_set_new(extra, "edit_diff", json_string(p->edit_diff));
	if (!audit_decision(v, "decision.accept", in, p, extra))
		return; /* nothing runs without its record */
	if (executor_submit(v->act->executor, p, true, err, sizeof(err)) != 0) {
		msg(v, "not run: %s", err);
		return;
	}
	label_set(st, p);
	msg(v, v->act->mode == MODE_SHADOW ? "shadow mode: %s on %s recorded as would-run; nothing runs"
					    : "accepted: %s on %s queued (progress below)",
	    p->action ? p->action->name : "?", p->target ? p->target : "?");
}

/* Does typed name the target? "pid 4711" is confirmed by "pid 4711" or
 * "4711"; "public.orders" by itself. */
static bool confirms(const char *target, const char *typed)
{
	const char *last;

	if (!target || !typed)
		return false;
	while (*typed == ' ')
		typed++;
	if (!*typed)
		return false;
	if (strcmp(target, typed) == 0)
		return true;
	last = strrchr(target, ' ');
	return last && strcmp(last + 1, typed) == 0;
}

static void confirm_done(void *sp, const struct view *v, const char *text)
{
	struct proposals *st = sp;
	const struct incident *in = NULL;
	const struct proposal *p = pending_proposal(st, v, &in);

	st->pending = PEND_NONE;
	if (!text) {
		msg(v, "accept cancelled");
		return;
	}
	if (!p) {
		msg(v, "the proposal is gone (its incident changed or cleared): nothing run");
		return;
	}
	if (!confirms(p->target, text)) {
		msg(v, "'%s' is not the target '%s': nothing run", text, p->target ? p->target : "?");
		return;
	}
	run_accept(st, v, in, p, text);
}

static void key_accept(struct proposals *st, const struct view *v, const struct row *r)
{
	const struct incident *in = &st->board->incidents.v[r->inc];
	const struct proposal *p = r->p;
	const struct job_view *j;
	char reason[256];

	if (!p) {
		msg(v, "nothing to accept: %s", in->escalation ? in->escalation : "no action fits this incident");
		return;
	}
	if (!v->act) {
		msg(v, "replay: nothing can run");
		return;
	}
	if (v->act->mode == MODE_OBSERVE) {
		msg(v, "observe mode: nothing can run (start with --mode assist)");
		return;
	}
	if (r->hidden == 2) {
		msg(v, "you rejected this proposal; it stays rejected while the incident lasts");
		return;
	}
	if (policy_gate(v->act->mode, p->decision, true, reason, sizeof(reason)) == GATE_REFUSE) {
		msg(v, "policy refuses: %s", reason);
		return;
	}
	if (!v->act->executor) {
		msg(v, "cannot run: %s", v->act->no_executor ? v->act->no_executor : "no executor");
		return;
	}
	j = job_for(v->jobs, v->njobs, p->id);
	if (j && !job_state_final(j->state)) {
		msg(v, "already %s", job_text(j->state));
		return;
	}
	if (p->risk >= RISK_HIGH) {
		remember_pending(st, PEND_CONFIRM, in, p);
		snprintf(v->req->prompt_label, sizeof(v->req->prompt_label), "risk %s: type %s to run %s: ",
			 risk_name(p->risk), p->target ? p->target : "the target", p->action ? p->action->name : "it");
		v->req->prompt = true;
		v->req->done = confirm_done;
		v->req->st = st;
		return;
	}
	run_accept(st, v, in, p, NULL);
}

static void reject_done(void *sp, const struct view *v, const char *text)
{
	struct proposals *st = sp;
	const struct incident *in = NULL;
	const struct proposal *p = pending_proposal(st, v, &in);
	struct hide *h;

	st->pending = PEND_NONE;
	if (!text) {
		msg(v, "reject cancelled");
		return;
	}
	while (*text == ' ')
		text++;
	if (!*text) {
		msg(v, "a rejection needs a reason: nothing recorded (r to try again)");
		return;
	}
	if (!p) {
		msg(v, "the proposal is gone (its incident changed or cleared): nothing recorded");
		return;
	}
	if (!audit_decision(v, "decision.reject", in, p, json_pack("{s:s}", "reason", text)))
		return;
	st->hides = xrealloc(st->hides, (st->nhides + 1) * sizeof(*st->hides));
	h = &st->hides[st->nhides++];
	memset(h, 0, sizeof(*h));
	h->id = xstrdup(p->id);
	h->incident = xstrdup(in->key);
	h->rejected = true;
	rebuild(st, v, true);
	msg(v, "rejected %s on %s: \"%s\" is in the audit log", p->action ? p->action->name : "?",
	    p->target ? p->target : "?", text);
}

static void key_reject(struct proposals *st, const struct view *v, const struct row *r)
{
	const struct incident *in = &st->board->incidents.v[r->inc];

	if (!r->p) {
		msg(v, "nothing to reject: this incident has no proposal");
		return;
	}
	remember_pending(st, PEND_REJECT, in, r->p);
	snprintf(v->req->prompt_label, sizeof(v->req->prompt_label), "why reject %s on %s? ",
		 r->p->action ? r->p->action->name : "it", r->p->target ? r->p->target : "?");
	v->req->prompt = true;
	v->req->done = reject_done;
	v->req->st = st;
}

static void key_defer(struct proposals *st, const struct view *v, const struct row *r)
{
	const struct incident *in = &st->board->incidents.v[r->inc];
	const struct proposal *p = r->p;
	struct hide *h;

	if (!p) {
		msg(v, "nothing to defer: this incident has no proposal");
		return;
	}
	if (r->hidden) {
		msg(v, "already %s", r->hidden == 2 ? "rejected" : "deferred");
		return;
	}
	if (!audit_decision(v, "decision.defer", in, p, json_pack("{s:i}", "for_s", DEFER_S)))
		return;
	st->hides = xrealloc(st->hides, (st->nhides + 1) * sizeof(*st->hides));
	h = &st->hides[st->nhides++];
	memset(h, 0, sizeof(*h));
	h->id = xstrdup(p->id);
	h->incident = xstrdup(in->key);
	h->summary = in->summary ? xstrdup(in->summary) : NULL;
	h->sql = p->sql ? xstrdup(p->sql) : NULL;
	h->until = v->now + DEFER_S;
	rebuild(st, v, true);
	msg(v, "deferred %s on %s for 10 min or until the incident changes", p->action ? p->action->name : "?",
	    p->target ? p->target : "?");
}

static char *trim_copy(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

static void edit_done(void *sp, const struct view *v, const char *text)
{
	struct proposals *st = sp;
	const struct incident *in = NULL;
	const struct proposal *orig;
	struct proposal *copy;
	struct edit *e;
	char err[256], *sql, *orig_sql;

	st->pending = PEND_NONE;
	rebuild(st, v, false);
	orig = board_find_proposal(v->board, st->pending_id, &in);
	if (!text) {
		if (!v->req->message[0])
			msg(v, "edit cancelled");
		return;
	}
	if (!orig || strcmp(in->key, st->pending_incident) != 0) {
		msg(v, "the proposal is gone (its incident changed or cleared): the edit is dropped");
		return;
	}
	sql = trim_copy(text);
	orig_sql = trim_copy(orig->sql ? orig->sql : "");
	e = edit_find(st, orig->id, in->key);
	if (strcmp(sql, e ? e->p->sql : orig_sql) == 0) {
		msg(v, "no change");
		goto out;
	}
	if (strcmp(sql, orig_sql) == 0) {
		/* Back to the original: drop the edit. */
		if (e) {
			edit_release(e);
			*e = st->edits[--st->nedits];
		}
		audit_decision(v, "decision.edit", in, orig, json_pack("{s:s}", "reverted", "to the proposal's SQL"));
		rebuild(st, v, true);
		msg(v, "edit reverted: the proposal's own SQL is back");
		goto out;
	}
	if (action_check_sql(orig, sql, err, sizeof(err)) != 0) {
		msg(v, "edit refused: %s; the original is kept", err);
		goto out;
	}
	copy = proposal_dup(orig);
	proposal_set(&copy->edited_from, orig->sql);
	proposal_set(&copy->sql, sql);
	free(copy->edit_diff);
	copy->edit_diff = proposal_text_diff(orig->sql ? orig->sql : "", sql);
	policy_decide(v->cfg, v->act ? v->act->policy : NULL, copy, v->now);
	if (!audit_decision(v, "decision.edit", in, copy,
			    json_pack("{s:s, s:s?, s:s, s:s?}", "edited_from", orig->sql ? orig->sql : "",
				      "edit_diff", copy->edit_diff, "decision", decision_name(copy->decision),
				      "policy_reason", copy->policy_reason))) {
		proposal_free(copy);
		goto out;
	}
	if (e) {
		proposal_free(e->p);
		e->p = copy;
	} else {
		st->edits = xrealloc(st->edits, (st->nedits + 1) * sizeof(*st->edits));
		st->edits[st->nedits++] = (struct edit){ xstrdup(orig->id), xstrdup(in->key), copy };
	}
	rebuild(st, v, true);
	msg(v, "edited: policy says %s%s; a runs the edited SQL", decision_name(copy->decision),
	    copy->decision == DECISION_DENY || copy->decision == DECISION_ESCALATE ? " (it will not run)" : "");
out:
	free(sql);
	free(orig_sql);
}

static void key_edit(struct proposals *st, const struct view *v, const struct row *r)
{
	const struct incident *in = &st->board->incidents.v[r->inc];

	if (!r->p) {
		msg(v, "nothing to edit: this incident has no proposal");
		return;
	}
	if (r->p->argv) {
		msg(v, "shell actions are argv from the configuration: they cannot be edited here");
		return;
	}
	remember_pending(st, PEND_EDIT, in, r->p);
	free(v->req->edit_text);
	v->req->edit_text = xstrdup(r->p->sql ? r->p->sql : "");
	v->req->done = edit_done;
	v->req->st = st;
}

static bool on_key(void *sp, const struct view *v, int k)
{
	struct proposals *st = sp;
	const struct row *r;

	rebuild(st, v, false);
	switch (k) {
	case 'J':
		st->detail_top++;
		return true;
	case 'K':
		if (st->detail_top > 0)
			st->detail_top--;
		return true;
	case UI_KEY_ENTER:
		st->full = !st->full;
		st->detail_top = 0;
		return true;
	case 'l':
		st->llm = !st->llm;
		st->detail_top = 0;
		return true;
	case 'C': case 'L':
		r = selected(st);
		if (!v->req)
			return true;
		if (!r) {
			msg(v, "no incident selected");
			return true;
		}
		if (k == 'C')
			advisor_cancel(v->act ? v->act->advisor : NULL, st->board->incidents.v[r->inc].key,
				       v->req->message, sizeof(v->req->message));
		else
			advisor_retry(v->act ? v->act->advisor : NULL, st->board->incidents.v[r->inc].key,
				      v->req->message, sizeof(v->req->message));
		return true;
	case 'u':
		st->show_hidden = !st->show_hidden;
		rebuild(st, v, true);
		msg(v, st->show_hidden ? "showing rejected and deferred proposals" : "hiding rejected and deferred proposals");
		return true;
	case 'a': case 'e': case 'r': case 'd':
		if (!v->req)
			return true;
		r = selected(st);
		if (!r) {
			msg(v, "no proposal selected");
			return true;
		}
		if (k == 'a')
			key_accept(st, v, r);
		else if (k == 'e')
			key_edit(st, v, r);
		else if (k == 'r')
			key_reject(st, v, r);
		else
			key_defer(st, v, r);
		return true;
	}
	if (screen_table_key(&st->table, k)) {
		st->detail_top = 0;
		return true;
	}
	return false;
}

static bool on_click(void *sp, const struct view *v, int x, int y)
{
	struct proposals *st = sp;

	rebuild(st, v, false);
	if (screen_table_click(&st->table, x, y)) {
		st->detail_top = 0;
		return true;
	}
	return false;
}

static void on_filter(void *sp, const char *text)
{
	struct proposals *st = sp;

	table_set_filter(&st->table, text);
}

static const char *filter_text(void *sp)
{
	struct proposals *st = sp;

	return table_filter(&st->table);
}

const struct screen_ops screen_proposals = {
	"Proposals", keys, sizeof(keys) / sizeof(*keys), create, destroy, draw, on_key, on_click,
	on_filter, filter_text,
};
