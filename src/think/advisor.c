/*
 * advisor: LLM consults on their own thread (see advisor.h).
 *
 * One consult record per open incident key holds what the brain last
 * submitted (a copy of the incident, a snapshot reference, its evidence
 * signature), the state of the newest consult, the text streaming in, the
 * tokens spent and the newest finished advice. The thread takes the most
 * severe queued consult, copies its inputs and works without the lock;
 * only the streamed pieces and the end take it, for a moment. A consult
 * whose incident was forgotten while it ran is audited and dropped.
 */
#include "think/advisor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act/audit.h"
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/pgconn.h"
#include "perceive/snapshot.h"
#include "think/detect.h"
#include "think/recall.h"
#include "think/runbook.h"

struct consult {
	char *key;                  /* owned */
	char *sig;                  /* owned: the newest submitted evidence signature */
	enum severity severity;
	enum advice_state state;
	struct incident in;         /* owned: the newest submitted incident */
	struct snapshot *snap;      /* owned reference: the snapshot it came from */
	double first_seen;          /* epoch s */
	int64_t queued_ms;          /* monotonic, for the order */
	int64_t started_ms;         /* monotonic: the running consult's start */
	int64_t first_token_ms;     /* running: -1 until text came */
	struct strbuf text;         /* owned: the running consult's text so far */
	size_t chunks;
	int64_t spent;              /* tokens, all consults of this incident */
	double last_end;            /* epoch s of the last finished consult, 0 none */
	bool wanted;                /* changed evidence waits (interval, budget, a run) */
	bool held;                  /* the operator cancelled: no consult until retry */
	struct advice *advice;      /* owned reference, or NULL */
};

struct advisor {
	struct advisor_opts o;
	struct pgconn_keeper conn;  /* advisor thread only */
	char *api_key;              /* owned copy of o.api_key, or NULL */

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;         /* guards the fields below */
	pthread_cond_t cond;
	bool stop;
	struct consult *v;
	size_t n, alloc;
	char *running;              /* owned: key of the consult in flight, or NULL */
	atomic_bool cancel;         /* the consult in flight */
	struct advisor_stats stats;
	void (*notify)(void *);
	void *notify_arg;

	int64_t last_wake_ms;       /* advisor thread only */
	struct recall *recall;      /* advisor thread only: the audit history's index */
};

const char *advice_state_name(enum advice_state s)
{
	switch (s) {
	case ADVICE_NONE: return "none";
	case ADVICE_QUEUED: return "queued";
	case ADVICE_RUNNING: return "running";
	case ADVICE_DONE: return "done";
	case ADVICE_FAILED: return "failed";
	case ADVICE_CANCELLED: return "cancelled";
	}
	return "?";
}

/* ---- advice -------------------------------------------------------------- */

struct advice *advice_ref(struct advice *a)
{
	if (a)
		atomic_fetch_add(&a->refs, 1);
	return a;
}

void advice_unref(struct advice *a)
{
	if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	free(a->key);
	free(a->sig);
	free(a->runbook);
	llmdiag_result_release(&a->r);
	free(a);
}

/* ---- consults ------------------------------------------------------------ */

static struct consult *find(struct advisor *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, key) == 0)
			return &a->v[i];
	return NULL;
}

static void consult_release(struct consult *c)
{
	free(c->key);
	free(c->sig);
	incident_release(&c->in);
	snapshot_unref(c->snap);
	strbuf_release(&c->text);
	advice_unref(c->advice);
}

static void wake(struct advisor *a)
{
	unsigned char byte = 1;

	if (a->o.wake_fd >= 0) {
		ssize_t w = write(a->o.wake_fd, &byte, 1);

		(void)w; /* a full pipe already wakes the reader */
	}
}

/* Room for another consult in the incident's budget? */
static bool budget_left(const struct advisor *a, const struct consult *c)
{
	const struct config_llm *l = &a->o.cfg->llm;

	return (int64_t)l->budget_tokens - c->spent > (int64_t)l->max_tokens;
}

static void enqueue(struct advisor *a, struct consult *c)
{
	c->state = ADVICE_QUEUED;
	c->wanted = false;
	c->queued_ms = clock_mono_ms();
	pthread_cond_signal(&a->cond);
}

/* Changed evidence waiting for its turn: queue it when it may go. True
 * when it was queued now. */
static bool maybe_requeue(struct advisor *a, struct consult *c, double now)
{
	if (!c->wanted || c->held || c->state == ADVICE_QUEUED || c->state == ADVICE_RUNNING)
		return false;
	if (now - c->last_end < ADVISOR_RECONSULT_S || !budget_left(a, c))
		return false;
	enqueue(a, c);
	return true;
}

/* The queued consult to run next: most severe, then first queued. */
static struct consult *next_queued(struct advisor *a)
{
	struct consult *best = NULL;

	for (size_t i = 0; i < a->n; i++) {
		struct consult *c = &a->v[i];

		if (c->state != ADVICE_QUEUED)
			continue;
		if (!best || c->severity > best->severity ||
		    (c->severity == best->severity && c->queued_ms < best->queued_ms))
			best = c;
	}
	return best;
}

/* ---- the thread ---------------------------------------------------------- */

static void on_chunk(void *arg, const char *text, size_t len)
{
	struct advisor *a = arg;
	struct consult *c;
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&a->mu);
	c = a->running ? find(a, a->running) : NULL;
	if (c) {
		strbuf_add(&c->text, text, len);
		c->chunks++;
		if (c->first_token_ms < 0)
			c->first_token_ms = now - c->started_ms;
	}
	pthread_mutex_unlock(&a->mu);
	if (now - a->last_wake_ms >= ADVISOR_WAKE_MS) {
		a->last_wake_ms = now;
		wake(a);
	}
}

static void audit_advice(struct advisor *a, const struct advice *adv)
{
	json_t *f, *props = json_array();
	char err[256];

	if (!a->o.audit)
		return;
	f = llmdiag_to_json(&adv->r);
	for (size_t i = 0; i < adv->r.nproposals; i++)
		json_array_append_new(props, proposal_to_json(adv->r.proposals[i]));
	json_object_set_new(f, "incident", json_string(adv->key));
	json_object_set_new(f, "runbook", adv->runbook ? json_string(adv->runbook) : json_null());
	json_object_set_new(f, "state", json_string(advice_state_name(adv->state)));
	json_object_set_new(f, "proposals", props);
	json_object_set_new(f, "detect_to_first_token_ms", json_integer(adv->detect_to_first_token_ms));
	json_object_set_new(f, "detect_to_done_ms", json_integer(adv->detect_to_done_ms));
	if (audit_append(a->o.audit, "llm.diagnosis", f, err, sizeof(err)) != 0)
		fprintf(stderr, "cockpit: audit: %s\n", err);
	json_decref(f);
}

/* One consult, its inputs copied under the lock by the caller. */
static struct advice *consult_run(struct advisor *a, struct incident *in, struct snapshot *snap,
				  const char *sig, double first_seen, int64_t spent)
{
	struct advice *adv = xcalloc(1, sizeof(*adv));
	PGconn *conn = pgconn_keeper_get(&a->conn);
	struct llmdiag_opts lo;
	int64_t t0;
	int rc;

	atomic_init(&adv->refs, 1);
	adv->key = xstrdup(in->key);
	adv->sig = xstrdup(sig);
	adv->runbook = in->runbook ? xstrdup(in->runbook) : NULL;
	adv->first_seen = first_seen;
	adv->started_at = (double)clock_wall_us() / 1e6;
	memset(&lo, 0, sizeof(lo));
	lo.cfg = a->o.cfg;
	lo.conn = conn;
	lo.snap = snap;
	lo.rb = a->o.runbooks ? runbook_find(a->o.runbooks, in->runbook) : NULL;
	lo.recall = a->recall;
	lo.policy = a->o.policy;
	lo.now = adv->started_at;
	lo.api_key = a->api_key;
	lo.on_chunk = on_chunk;
	lo.arg = a;
	lo.cancel = &a->cancel;
	lo.spent_tokens = spent;
	t0 = clock_mono_ms();
	rc = llmdiag_run(&lo, in, &adv->r);
	if (conn && PQstatus(conn) != CONNECTION_OK)
		pgconn_keeper_drop(&a->conn, PQerrorMessage(conn));
	adv->finished_at = (double)clock_wall_us() / 1e6;
	adv->state = adv->r.status == LLM_ERR_CANCELLED ? ADVICE_CANCELLED :
		     rc == 0 ? ADVICE_DONE : ADVICE_FAILED;
	{
		double lead_ms = (adv->started_at - first_seen) * 1000.0;

		if (lead_ms < 0)
			lead_ms = 0;
		adv->detect_to_first_token_ms = adv->r.first_token_ms >= 0 ?
			(int64_t)lead_ms + adv->r.first_token_ms : -1;
		adv->detect_to_done_ms = (int64_t)lead_ms + (clock_mono_ms() - t0);
	}
	return adv;
}

static void *advisor_main(void *arg)
{
	struct advisor *a = arg;

	/* Built here, off the UI's path; brought up to date before each consult. */
	a->recall = recall_new(a->o.cfg->audit_log, a->o.runbooks, 0);
	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct consult *c;
		struct incident in;
		struct snapshot *snap;
		struct advice *adv;
		char *sig;
		double first_seen;
		int64_t spent;

		while (!a->stop && !(c = next_queued(a)))
			pthread_cond_wait(&a->cond, &a->mu);
		if (a->stop)
			break;
		c->state = ADVICE_RUNNING;
		c->started_ms = clock_mono_ms();
		c->first_token_ms = -1;
		c->chunks = 0;
		strbuf_reset(&c->text);
		incident_copy(&in, &c->in);
		snap = snapshot_ref(c->snap);
		sig = xstrdup(c->sig);
		first_seen = c->first_seen;
		spent = c->spent;
		a->running = xstrdup(c->key);
		atomic_store(&a->cancel, false);
		a->stats.consults++;
		pthread_mutex_unlock(&a->mu);
		wake(a);

		recall_refresh(a->recall);
		adv = consult_run(a, &in, snap, sig, first_seen, spent);
		audit_advice(a, adv);
		incident_release(&in);
		snapshot_unref(snap);
		free(sig);

		pthread_mutex_lock(&a->mu);
		c = find(a, a->running);
		free(a->running);
		a->running = NULL;
		a->stats.tokens_in += adv->r.tokens_in;
		a->stats.tokens_out += adv->r.tokens_out;
		if (adv->state == ADVICE_DONE)
			a->stats.done++;
		else if (adv->state == ADVICE_FAILED)
			a->stats.failed++;
		else
			a->stats.cancelled++;
		if (c) {
			c->spent += adv->r.tokens_in + adv->r.tokens_out;
			c->last_end = adv->finished_at;
			c->state = adv->state;
			advice_unref(c->advice);
			c->advice = adv;
			adv = NULL;
			/* Evidence that changed while it ran: the advice is for
			 * the old state; the new one waits its turn. */
			if (strcmp(c->advice->sig, c->sig) != 0)
				c->wanted = true;
		}
		advice_unref(adv);
		pthread_mutex_unlock(&a->mu);
		if (a->notify)
			a->notify(a->notify_arg);
		wake(a);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

struct advisor *advisor_new(const struct advisor_opts *o, char *err, size_t errlen)
{
	struct advisor *a;

	if (!o || !o->cfg) {
		snprintf(err, errlen, "advisor: no configuration given");
		return NULL;
	}
	if (o->cfg->llm.provider == LLM_PROVIDER_NONE) {
		snprintf(err, errlen, "LLM off (llm.provider none): rules only");
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->o = *o;
	a->api_key = o->api_key ? xstrdup(o->api_key) : NULL;
	a->o.api_key = a->api_key;
	a->o.conninfo = NULL;
	a->o.password_env = NULL;
	pgconn_keeper_init(&a->conn, o->conninfo, o->password_env, "cockpit-llm",
			   o->cfg->connect_timeout_s, o->cfg->statement_timeout_ms);
	atomic_init(&a->cancel, false);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cond, NULL);
	return a;
}

int advisor_start(struct advisor *a)
{
	if (!a || a->started)
		return 0;
	a->stop = false;
	if (pthread_create(&a->thread, NULL, advisor_main, a) != 0)
		return -1;
	a->started = true;
	return 0;
}

void advisor_stop(struct advisor *a)
{
	if (!a || !a->started)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	atomic_store(&a->cancel, true);
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	a->started = false;
}

void advisor_free(struct advisor *a)
{
	if (!a)
		return;
	advisor_stop(a);
	recall_free(a->recall);
	pgconn_keeper_release(&a->conn);
	for (size_t i = 0; i < a->n; i++)
		consult_release(&a->v[i]);
	free(a->v);
	free(a->running);
	free(a->api_key);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void advisor_set_notify(struct advisor *a, void (*fn)(void *arg), void *arg)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->notify = fn;
	a->notify_arg = arg;
	pthread_mutex_unlock(&a->mu);
}

/* ---- the brain's side ---------------------------------------------------- */

static void set_inputs(struct consult *c, const struct incident *in, const char *sig,
		       struct snapshot *s)
{
	incident_release(&c->in);
	incident_copy(&c->in, in);
	snapshot_unref(c->snap);
	c->snap = snapshot_ref(s);
	free(c->sig);
	c->sig = xstrdup(sig);
	c->severity = in->severity;
}

void advisor_submit(struct advisor *a, const struct incident *in, const char *sig,
		    struct snapshot *s, double first_seen)
{
	struct consult *c;
	double now = (double)clock_wall_us() / 1e6;
	bool queued = false;

	if (!a || !in || !in->key || !sig || !s)
		return;
	/* An operator's own request is no incident to reason about. */
	if (in->runbook && strcmp(in->runbook, "operator") == 0)
		return;
	pthread_mutex_lock(&a->mu);
	c = find(a, in->key);
	if (!c) {
		XGROW(a->v, a->alloc, a->n + 1);
		c = &a->v[a->n++];
		memset(c, 0, sizeof(*c));
		c->key = xstrdup(in->key);
		c->first_seen = first_seen;
		c->first_token_ms = -1;
		strbuf_init(&c->text, 0);
		set_inputs(c, in, sig, s);
		enqueue(a, c);
		queued = true;
	} else {
		if (strcmp(c->sig, sig) != 0) {
			set_inputs(c, in, sig, s);
			c->wanted = c->state != ADVICE_QUEUED;
		}
		queued = maybe_requeue(a, c, now);
	}
	pthread_mutex_unlock(&a->mu);
	if (queued)
		wake(a);
}

bool advisor_apply(struct advisor *a, struct incident *in, const char *sig,
		   const struct config *cfg, struct policy_state *policy, double now)
{
	struct consult *c;
	struct advice *adv = NULL;
	size_t n;

	if (!a || !in || !in->key || !sig)
		return false;
	pthread_mutex_lock(&a->mu);
	c = find(a, in->key);
	if (c && c->advice && c->advice->state == ADVICE_DONE && strcmp(c->advice->sig, sig) == 0)
		adv = advice_ref(c->advice);
	pthread_mutex_unlock(&a->mu);
	if (!adv)
		return false;
	n = llmdiag_apply(&adv->r, cfg, policy, in, now);
	advice_unref(adv);
	return n > 0;
}

void advisor_forget(struct advisor *a, const char *key)
{
	struct consult *c;

	if (!a || !key)
		return;
	pthread_mutex_lock(&a->mu);
	c = find(a, key);
	if (c) {
		if (a->running && strcmp(a->running, key) == 0)
			atomic_store(&a->cancel, true);
		consult_release(c);
		*c = a->v[--a->n];
	}
	pthread_mutex_unlock(&a->mu);
}

/* ---- the UI's side ------------------------------------------------------- */

void advisor_view(struct advisor *a, const char *key, struct advice_view *v)
{
	struct consult *c;

	memset(v, 0, sizeof(*v));
	v->first_token_ms = -1;
	if (!a || !key) {
		v->text = xstrdup("");
		v->model = xstrdup("");
		return;
	}
	v->model = xstrdup(a->o.cfg->llm.model ? a->o.cfg->llm.model : "?");
	pthread_mutex_lock(&a->mu);
	c = find(a, key);
	if (c) {
		v->state = c->state;
		v->spent_tokens = c->spent;
		v->waiting = c->wanted;
		v->advice = advice_ref(c->advice);
		v->stale = c->advice && strcmp(c->advice->sig, c->sig) != 0;
		if (c->state == ADVICE_RUNNING) {
			v->text = xstrndup(c->text.buf ? c->text.buf : "", c->text.len);
			v->running_ms = clock_mono_ms() - c->started_ms;
			v->first_token_ms = c->first_token_ms;
			v->chunks = c->chunks;
		} else if (c->state == ADVICE_QUEUED) {
			for (size_t i = 0; i < a->n; i++) {
				const struct consult *o = &a->v[i];

				if (o != c && (o->state == ADVICE_RUNNING ||
					       (o->state == ADVICE_QUEUED &&
						(o->severity > c->severity ||
						 (o->severity == c->severity && o->queued_ms < c->queued_ms)))))
					v->queued_ahead++;
			}
		}
		if (v->advice && v->advice->r.model) {
			free(v->model);
			v->model = xstrdup(v->advice->r.model);
		}
	}
	pthread_mutex_unlock(&a->mu);
	if (!v->text)
		v->text = xstrdup(v->advice && v->advice->r.reasoning ? v->advice->r.reasoning : "");
}

void advice_view_release(struct advice_view *v)
{
	free(v->text);
	free(v->model);
	advice_unref(v->advice);
	memset(v, 0, sizeof(*v));
}

void advisor_cancel(struct advisor *a, const char *key, char *msg, size_t msglen)
{
	struct consult *c;

	if (!a) {
		snprintf(msg, msglen, "no LLM is configured (llm: in cockpit.conf)");
		return;
	}
	pthread_mutex_lock(&a->mu);
	c = key ? find(a, key) : NULL;
	if (!c || (c->state != ADVICE_QUEUED && c->state != ADVICE_RUNNING)) {
		snprintf(msg, msglen, "no LLM diagnosis is running for this incident");
	} else if (c->state == ADVICE_QUEUED) {
		c->state = c->advice ? c->advice->state : ADVICE_CANCELLED;
		c->held = true;
		c->wanted = false;
		snprintf(msg, msglen, "LLM diagnosis cancelled before it started (L asks again)");
	} else {
		atomic_store(&a->cancel, true);
		c->held = true;
		c->wanted = false;
		snprintf(msg, msglen, "cancelling the LLM diagnosis (L asks again)");
	}
	pthread_mutex_unlock(&a->mu);
	wake(a);
}

void advisor_retry(struct advisor *a, const char *key, char *msg, size_t msglen)
{
	struct consult *c;

	if (!a) {
		snprintf(msg, msglen, "no LLM is configured (llm: in cockpit.conf)");
		return;
	}
	pthread_mutex_lock(&a->mu);
	c = key ? find(a, key) : NULL;
	if (!c) {
		snprintf(msg, msglen, "the LLM has not seen this incident yet");
	} else if (c->state == ADVICE_QUEUED || c->state == ADVICE_RUNNING) {
		snprintf(msg, msglen, "the LLM is already on it");
	} else if (!budget_left(a, c)) {
		snprintf(msg, msglen, "budget spent: %lld of llm.budget_tokens (%d) used on this incident",
			 (long long)c->spent, a->o.cfg->llm.budget_tokens);
	} else {
		c->held = false;
		enqueue(a, c);
		snprintf(msg, msglen, "asking the LLM again");
	}
	pthread_mutex_unlock(&a->mu);
	wake(a);
}

void advisor_get_stats(struct advisor *a, struct advisor_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	*st = a->stats;
	pthread_mutex_unlock(&a->mu);
}
