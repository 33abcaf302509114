/*
 * brain: detection and diagnosis on their own thread, published as boards
 * (see brain.h).
 *
 * The thread sleeps on a condition variable until the UI pokes it (a new
 * snapshot) or feeds it one (replay). A round: detect on the snapshot,
 * then for each incident either diagnose it on the brain's connection or
 * carry over the proposals of its last diagnosis, audit what is new, and
 * publish a new board. The brain keeps one memo per incident key (first
 * seen, first proposal, the evidence signature it last diagnosed, the
 * proposal ids it audited); a memo whose incident is gone is audited as
 * cleared and dropped.
 *
 * The incidents one round diagnoses share the round's catalog checks
 * (struct action_memo of act/action.h, not the memos above): ten agents of
 * one role check that role, its settings and the proposed value once a
 * round. It is made when the round starts and freed when it ends, so no
 * check outlives its round.
 */
#include "think/brain.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/collector.h"
#include "perceive/pgconn.h"
#include "perceive/snapshot.h"
#include "think/advisor.h"
#include "think/diagnose.h"

struct memo {
	char *key;                  /* owned: incident key */
	char *runbook;              /* owned */
	enum severity severity;
	double first_seen;          /* epoch s */
	double proposal_at;         /* epoch s, 0 none */
	char *sig;                  /* owned: evidence signature last diagnosed, NULL never */
	double diagnosed_at;        /* epoch s, 0 never */
	struct proposal **props;    /* owned copies of the last diagnosis */
	size_t nprops;
	char *escalation;           /* owned, or NULL */
	json_t *context;            /* owned, or NULL */
	json_t *evidence;           /* owned: the evidence as the diagnosis left it
	                               (plan, candidates, rejected...), or NULL */
	char **audited;             /* owned: proposal ids already audited */
	size_t naudited;
	bool seen;                  /* in the current round */
};

/* An operator's request and, once prepared, its proposal. */
struct request {
	char action[32];
	int pid;
	double backend_start;
	double at;                  /* epoch s */
	struct proposal *p;         /* owned, NULL until prepared (brain thread) */
	char *refused;              /* owned: why it could not be prepared, or NULL */
};

#define BRAIN_REQUEST_TTL_S 600

struct brain {
	struct brain_opts o;        /* conninfo and password_env live in conn; note is ours */
	char *note;                 /* owned */

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;         /* guards everything up to the brain-thread section */
	pthread_cond_t cond;
	bool stop, poked;
	struct snapshot *fed;       /* owned reference: the next snapshot to think about */
	struct board *board;        /* owned reference: newest */
	int64_t seq;
	struct request *reqs_in;    /* operators' new requests (brain_request) */
	size_t nreqs_in;
	bool requested;             /* a new request: think even without a new snapshot */

	/* Brain thread only. */
	struct pgconn_keeper conn;  /* the monitoring conninfo, application_name cockpit-brain */
	int64_t last_snap_seq;
	struct memo *memos;
	size_t nmemos, memos_alloc;
	char audit_err[256];
	struct request *reqs;       /* the requests being shown (taken from reqs_in) */
	size_t nreqs;
	double catalog_at;          /* epoch s of the last catalog detection, 0 never */
	struct board **dead;        /* owned references: boards replaced, freed here
	                               once ours is the last (see publish) */
	size_t ndead, dead_alloc;
};

/* ---- boards ------------------------------------------------------------ */

struct board *board_ref(struct board *b)
{
	if (b)
		atomic_fetch_add(&b->refs, 1);
	return b;
}

void board_unref(struct board *b)
{
	if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	incident_list_release(&b->incidents);
	free(b->times);
	free(b->note);
	free(b);
}

const struct proposal *board_find_proposal(const struct board *b, const char *id,
					   const struct incident **in)
{
	if (!b || !id)
		return NULL;
	for (size_t i = 0; i < b->incidents.n; i++) {
		const struct incident *x = &b->incidents.v[i];

		for (size_t k = 0; k < x->nproposals; k++)
			if (x->proposals[k]->id && strcmp(x->proposals[k]->id, id) == 0) {
				if (in)
					*in = x;
				return x->proposals[k];
			}
	}
	return NULL;
}

size_t board_find_incident(const struct board *b, const char *key)
{
	if (!b || !key)
		return SIZE_MAX;
	for (size_t i = 0; i < b->incidents.n; i++)
		if (b->incidents.v[i].key && strcmp(b->incidents.v[i].key, key) == 0)
			return i;
	return SIZE_MAX;
}

/* ---- memos ------------------------------------------------------------- */

static void memo_drop_diagnosis(struct memo *m)
{
	for (size_t i = 0; i < m->nprops; i++)
		proposal_free(m->props[i]);
	free(m->props);
	m->props = NULL;
	m->nprops = 0;
	free(m->escalation);
	m->escalation = NULL;
	json_decref(m->context);
	m->context = NULL;
	json_decref(m->evidence);
	m->evidence = NULL;
}

static void memo_release(struct memo *m)
{
	memo_drop_diagnosis(m);
	for (size_t i = 0; i < m->naudited; i++)
		free(m->audited[i]);
	free(m->audited);
	free(m->key);
	free(m->runbook);
	free(m->sig);
}

static struct memo *memo_find(struct brain *b, const char *key)
{
	for (size_t i = 0; i < b->nmemos; i++)
		if (strcmp(b->memos[i].key, key) == 0)
			return &b->memos[i];
	return NULL;
}

static bool memo_audited(const struct memo *m, const char *id)
{
	for (size_t i = 0; i < m->naudited; i++)
		if (strcmp(m->audited[i], id) == 0)
			return true;
	return false;
}

/* ---- audit ------------------------------------------------------------- */

static void brain_audit(struct brain *b, const char *kind, json_t *fields)
{
	char err[256];

	if (b->o.audit && audit_append(b->o.audit, kind, fields, err, sizeof(err)) != 0)
		snprintf(b->audit_err, sizeof(b->audit_err), "%s", err);
	json_decref(fields);
}

/* ---- the evidence signature --------------------------------------------- */

/* What about an incident's evidence matters for its proposals: every
 * session in it (pid, state, statement and transaction start — the guard a
 * signal carries) and every pid list. Same signature: same proposals. */
static void sig_walk(const json_t *j, json_t *items)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			sig_walk(v, items);
		return;
	}
	if (!json_is_object(j))
		return;
	if (json_is_integer(json_object_get(j, "pid"))) {
		static const char *const keys[] = { "state", "backend_start", "xact_start", "query_start" };
		struct strbuf sb;

		strbuf_init(&sb, 64);
		strbuf_addf(&sb, "pid=%lld", (long long)json_integer_value(json_object_get(j, "pid")));
		for (size_t n = 0; n < sizeof(keys) / sizeof(*keys); n++) {
			json_t *x = json_object_get(j, keys[n]);

			if (json_is_string(x))
				strbuf_addf(&sb, " %s=%s", keys[n], json_string_value(x));
			else if (json_is_number(x))
				strbuf_addf(&sb, " %s=%.6f", keys[n], json_number_value(x));
		}
		json_array_append_new(items, json_string(sb.buf));
		strbuf_release(&sb);
	}
	json_object_foreach((json_t *)j, k, v) {
		if (strcmp(k, "pids") == 0 && json_is_array(v)) {
			json_t *p;
			struct strbuf sb;

			strbuf_init(&sb, 32);
			strbuf_addstr(&sb, "pids=");
			json_array_foreach(v, i, p)
				strbuf_addf(&sb, "%lld,", (long long)json_integer_value(p));
			json_array_append_new(items, json_string(sb.buf));
			strbuf_release(&sb);
		} else if (json_is_object(v) || json_is_array(v)) {
			sig_walk(v, items);
		}
	}
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *evidence_signature(const json_t *evidence)
{
	json_t *items = json_array(), *v;
	const char **s;
	size_t n, i;
	struct strbuf sb;

	sig_walk(evidence, items);
	n = json_array_size(items);
	s = xcalloc(n ? n : 1, sizeof(*s));
	json_array_foreach(items, i, v)
		s[i] = json_string_value(v);
	qsort(s, n, sizeof(*s), cmp_cstr);
	strbuf_init(&sb, 64);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(s[i], s[i - 1]) != 0)
			strbuf_addf(&sb, "%s;", s[i]);
	free(s);
	json_decref(items);
	return strbuf_detach(&sb, NULL);
}

/* ---- one round ---------------------------------------------------------- */

static void incident_add_proposal(struct incident *in, struct proposal *p)
{
	in->proposals = xrealloc(in->proposals, (in->nproposals + 1) * sizeof(*in->proposals));
	in->proposals[in->nproposals++] = p;
}

static void memo_keep_diagnosis(struct memo *m, const struct incident *in, const char *sig,
				double now)
{
	memo_drop_diagnosis(m);
	m->props = xcalloc(in->nproposals ? in->nproposals : 1, sizeof(*m->props));
	for (size_t i = 0; i < in->nproposals; i++)
		m->props[i] = proposal_dup(in->proposals[i]);
	m->nprops = in->nproposals;
	m->escalation = in->escalation ? xstrdup(in->escalation) : NULL;
	m->context = in->context ? json_deep_copy(in->context) : NULL;
	m->evidence = in->evidence ? json_deep_copy(in->evidence) : NULL;
	free(m->sig);
	m->sig = xstrdup(sig);
	m->diagnosed_at = now;
}

static void memo_carry(struct brain *b, const struct memo *m, struct incident *in, double now)
{
	for (size_t i = 0; i < m->nprops; i++) {
		/* The memo's JSON by reference: only this thread counts it
		 * (see publish). */
		struct proposal *p = proposal_dup_shared(m->props[i]);

		/* Time moved: rate limits, idempotency and windows may say
		 * otherwise now (an escalation stays one). */
		if (p->decision != DECISION_ESCALATE)
			policy_decide(b->o.cfg, b->o.policy, p, now);
		incident_add_proposal(in, p);
	}
	if (!in->escalation && m->escalation)
		in->escalation = xstrdup(m->escalation);
	if (!in->context && m->context)
		in->context = json_deep_copy(m->context);
	/* The detector's fresh values stay; what the diagnosis added (the
	 * plan, the candidates, the rejected actions) comes along. */
	if (in->evidence && m->evidence)
		json_object_update_missing(in->evidence, m->evidence);
}

static json_t *incident_brief(const struct incident *in)
{
	return json_pack("{s:s, s:s?, s:s, s:s?}", "incident", in->key, "runbook", in->runbook,
			 "severity", severity_name(in->severity), "summary", in->summary);
}

static char *make_note(struct brain *b, bool have_conn)
{
	struct strbuf sb;

	strbuf_init(&sb, 128);
	if (b->note)
		strbuf_addstr(&sb, b->note);
	if (!b->conn.conninfo) {
		strbuf_addf(&sb, "%sdetection only: no database connection for diagnosis, so nothing is proposed",
			    sb.len ? "; " : "");
	} else if (!have_conn) {
		strbuf_addf(&sb, "%sno brain connection (%s): detection goes on, diagnosis waits for it",
			    sb.len ? "; " : "", b->conn.err[0] ? b->conn.err : "connecting");
	}
	if (b->audit_err[0])
		strbuf_addf(&sb, "%saudit: %s", sb.len ? "; " : "", b->audit_err);
	if (!sb.len) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

static void request_release(struct request *r)
{
	proposal_free(r->p);
	free(r->refused);
}

/* The operators' requests as incidents of runbook "operator": prepared once
 * (on this thread, which owns the catalog connection), re-judged by policy
 * each round, dropped when the session is gone or the request is old. */
static void operator_incidents(struct brain *b, const struct snapshot *s, PGconn *conn,
			       double now, struct incident_list *list)
{
	/* Take the new ones; the rest of the work holds no lock (preparing
	 * talks to the server, and the UI must never wait on that). */
	pthread_mutex_lock(&b->mu);
	if (b->nreqs_in) {
		b->reqs = xrealloc(b->reqs, (b->nreqs + b->nreqs_in) * sizeof(*b->reqs));
		memcpy(b->reqs + b->nreqs, b->reqs_in, b->nreqs_in * sizeof(*b->reqs));
		b->nreqs += b->nreqs_in;
		free(b->reqs_in);
		b->reqs_in = NULL;
		b->nreqs_in = 0;
	}
	pthread_mutex_unlock(&b->mu);
	for (size_t i = 0; i < b->nreqs;) {
		struct request *r = &b->reqs[i];
		size_t si = snapshot_find_session(s, r->pid);
		const struct snap_session *ss = si != SIZE_MAX ? &s->sessions[si] : NULL;
		struct incident *in;
		char key[128], summary[512];

		bool dup = false;

		for (size_t k = 0; k < i; k++)
			dup |= b->reqs[k].pid == r->pid && strcmp(b->reqs[k].action, r->action) == 0;
		if (dup || !ss || fabs(ss->backend_start - r->backend_start) > 1e-5 ||
		    now - r->at > BRAIN_REQUEST_TTL_S) {
			request_release(r);
			b->reqs[i] = b->reqs[--b->nreqs];
			continue;
		}
		if (!r->p && !r->refused && conn) {
			struct action_ctx actx = { .conn = conn, .snap = s, .cfg = b->o.cfg };
			json_t *params = json_pack("{s:[i]}", "pids", r->pid);
			struct proposal *p = proposal_new();
			char err[512] = "";

			proposal_set(&p->runbook, "operator");
			proposal_set(&p->origin, "operator");
			p->confidence = 1.0;
			if (action_prepare(&actx, r->action, params, p, err, sizeof(err)) != 0) {
				r->refused = xstrdup(err[0] ? err : "the action refused the session");
				proposal_free(p);
			} else {
				proposal_set(&p->rationale, "asked for by the operator on the Sessions screen");
				r->p = p;
			}
			json_decref(params);
		}
		snprintf(key, sizeof(key), "operator/%s/pid=%d/%.6f", r->action, r->pid,
			 r->backend_start);
		snprintf(summary, sizeof(summary), "operator asked for %s of pid %d (%s, %s, %s)",
			 r->action, r->pid, ss->user ? ss->user : "?",
			 ss->application && *ss->application ? ss->application : "no application",
			 ss->state ? ss->state : "?");
		in = incident_list_add(list, NULL, key, summary,
				       json_pack("{s:o}", "session", detect_session_json(ss, now)));
		free(in->runbook);
		in->runbook = xstrdup("operator");
		in->severity = SEVERITY_INFO;
		in->detected_at = r->at;
		if (r->p) {
			struct proposal *p = proposal_dup(r->p);

			proposal_set(&p->incident_key, key);
			proposal_make_id(p);
			policy_decide(b->o.cfg, b->o.policy, p, now);
			incident_add_proposal(in, p);
		} else if (r->refused) {
			in->escalation = xstrdup(r->refused);
		}
		i++;
	}
}

void brain_request(struct brain *b, const char *action, int pid, double backend_start)
{
	if (!b || !action || pid <= 0)
		return;
	struct request *r;

	pthread_mutex_lock(&b->mu);
	b->reqs_in = xrealloc(b->reqs_in, (b->nreqs_in + 1) * sizeof(*b->reqs_in));
	r = &b->reqs_in[b->nreqs_in++];
	memset(r, 0, sizeof(*r));
	snprintf(r->action, sizeof(r->action), "%s", action);
	r->pid = pid;
	r->backend_start = backend_start;
	r->at = (double)clock_wall_us() / 1e6;
	b->requested = true;
	b->poked = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->mu);
}

/* The incidents of the detectors that need the catalog, from the last
 * board, for a round that did not read the catalog. */
static void carry_catalog_incidents(struct brain *b, struct incident_list *list)
{
	struct board *prev;

	pthread_mutex_lock(&b->mu);
	prev = board_ref(b->board);
	pthread_mutex_unlock(&b->mu);
	if (!prev)
		return;
	for (size_t i = 0; i < prev->incidents.n; i++) {
		const struct incident *in = &prev->incidents.v[i];
		const struct runbook *rb = runbook_find(b->o.runbooks, in->runbook);
		struct incident *c;

		if (!rb || strcmp(rb->detector, "agent_hygiene") != 0)
			continue;
		c = incident_list_add(list, rb, in->key, in->summary,
				      in->evidence ? json_deep_copy(in->evidence) : NULL);
		c->severity = in->severity;
		c->detected_at = in->detected_at;
		if (in->escalation)
			c->escalation = xstrdup(in->escalation);
	}
	board_unref(prev);
}

static struct board *round_run(struct brain *b, struct snapshot *s)
{
	struct incident_list list = { NULL, 0 };
	struct detect_ctx dc;
	struct diagnose_ctx gc;
	PGconn *conn = pgconn_keeper_get(&b->conn);
	double now = (double)clock_wall_us() / 1e6;
	struct board *nb = xcalloc(1, sizeof(*nb));
	struct action_memo *checks = action_memo_new();  /* this round's only */
	bool catalog;

	for (size_t i = 0; i < b->nmemos; i++)
		b->memos[i].seen = false;
	memset(&dc, 0, sizeof(dc));
	dc.snap = s;
	dc.cfg = b->o.cfg;
	dc.runbooks = b->o.runbooks;
	/* Detectors that read the catalog (agent roles) run on the slow
	 * period, not every refresh: between, their incidents carry over. */
	catalog = conn && (b->catalog_at <= 0 ||
			   (now - b->catalog_at) * 1000.0 >= b->o.cfg->slow_refresh_ms);
	dc.conn = catalog ? conn : NULL;
	if (b->o.runbooks)
		detect_run(&dc, &list);
	if (catalog)
		b->catalog_at = now;
	else
		carry_catalog_incidents(b, &list);
	operator_incidents(b, s, conn, now, &list);

	memset(&gc, 0, sizeof(gc));
	gc.conn = conn;
	gc.snap = s;
	gc.cfg = b->o.cfg;
	gc.runbooks = b->o.runbooks;
	gc.policy = b->o.policy;
	gc.memo = checks;

	nb->times = xcalloc(list.n ? list.n : 1, sizeof(*nb->times));
	for (size_t i = 0; i < list.n; i++) {
		struct incident *in = &list.v[i];
		struct memo *m;
		char *sig;

		if (!in->key)
			continue;
		m = memo_find(b, in->key);
		if (!m) {
			XGROW(b->memos, b->memos_alloc, b->nmemos + 1);
			m = &b->memos[b->nmemos++];
			memset(m, 0, sizeof(*m));
			m->key = xstrdup(in->key);
			m->runbook = in->runbook ? xstrdup(in->runbook) : NULL;
			m->severity = in->severity;
			m->first_seen = in->detected_at > 0 ? in->detected_at : now;
			{
				json_t *f = incident_brief(in);

				if (in->evidence)
					json_object_set(f, "evidence", in->evidence);
				brain_audit(b, "incident.open", f);
			}
		}
		m->seen = true;
		sig = evidence_signature(in->evidence);
		/* An operator's request was prepared when it came in. */
		if (in->nproposals == 0 && strcmp(in->runbook, "operator") != 0) {
			bool fresh = !m->sig || strcmp(m->sig, sig) != 0 ||
				     now - m->diagnosed_at >= BRAIN_REDIAGNOSE_S;

			if (conn && fresh) {
				gc.now = (double)clock_wall_us() / 1e6;
				diagnose_incident(&gc, in);
				nb->diagnosed++;
				memo_keep_diagnosis(m, in, sig, gc.now);
				if (PQstatus(conn) != CONNECTION_OK) {
					char why[300];

					snprintf(why, sizeof(why), "lost during diagnosis: %s", PQerrorMessage(conn));
					pgconn_keeper_drop(&b->conn, why);
					conn = NULL;
					gc.conn = NULL;
					dc.conn = NULL;
				}
			} else if (m->sig && strcmp(m->sig, sig) == 0) {
				memo_carry(b, m, in, now);
			}
			/* Changed evidence and no connection: the old proposals
			 * would target what is no longer there; show none. */
		}
		/* The LLM's second opinion: asked on its own thread, put on
		 * the incident once it came for this very evidence. */
		advisor_submit(b->o.advisor, in, sig, s, m->first_seen);
		advisor_apply(b->o.advisor, in, sig, b->o.cfg, b->o.policy, now);
		free(sig);
		if (in->nproposals > 0 && m->proposal_at <= 0)
			m->proposal_at = (double)clock_wall_us() / 1e6;
		nb->times[i].first_seen = m->first_seen;
		nb->times[i].proposal_at = m->proposal_at;
		nb->times[i].proposal_ms = m->proposal_at > 0 ? (m->proposal_at - m->first_seen) * 1000.0 : -1;
		for (size_t k = 0; k < in->nproposals; k++) {
			const struct proposal *p = in->proposals[k];
			json_t *f;

			if (!p->id || memo_audited(m, p->id))
				continue;
			m->audited = xrealloc(m->audited, (m->naudited + 1) * sizeof(*m->audited));
			m->audited[m->naudited++] = xstrdup(p->id);
			f = json_pack("{s:s, s:o, s:f}", "incident", in->key, "proposal", proposal_to_json(p),
				      "detect_to_proposal_ms", nb->times[i].proposal_ms);
			brain_audit(b, "proposal", f);
		}
	}

	/* Incidents that are gone. */
	for (size_t i = 0; i < b->nmemos;) {
		struct memo *m = &b->memos[i];

		if (m->seen) {
			i++;
			continue;
		}
		{
			json_t *f = json_pack("{s:s, s:s?, s:s, s:f, s:I}", "incident", m->key, "runbook",
					      m->runbook, "severity", severity_name(m->severity),
					      "lasted_s", now - m->first_seen, "proposals", (json_int_t)m->naudited);

			if (m->proposal_at > 0)
				json_object_set_new(f, "detect_to_proposal_ms",
						    json_real((m->proposal_at - m->first_seen) * 1000.0));
			brain_audit(b, "incident.clear", f);
		}
		advisor_forget(b->o.advisor, m->key);
		memo_release(m);
		b->memos[i] = b->memos[--b->nmemos];
	}

	action_memo_free(checks);
	atomic_init(&nb->refs, 1);
	nb->snapshot_seq = s->stats.seq;
	nb->at = now;
	nb->incidents = list;
	nb->note = make_note(b, conn != NULL);
	return nb;
}

/* Free the replaced boards no one else holds now. */
static void sweep_dead(struct brain *b)
{
	for (size_t i = 0; i < b->ndead;) {
		if (atomic_load(&b->dead[i]->refs) == 1) {
			board_unref(b->dead[i]);
			b->dead[i] = b->dead[--b->ndead];
		} else {
			i++;
		}
	}
}

/*
 * A replaced board goes on the dead list and is freed here, on this
 * thread, once every other reference is dropped: the UI drops its own as
 * soon as it has drawn the newest. So the free of a big board (hundreds of
 * incidents, their evidence, their proposals) never lands on the UI
 * between two key presses, and every jansson reference count the boards
 * share with the memos (carried proposals' JSON, the evidence the last
 * diagnosis added) is only ever taken and dropped on this thread: jansson's
 * counts are not safe for two threads to change (act/proposal.h). The UI's
 * atomic decrement, read here by atomic_load, orders its last reads of a
 * board before the free.
 */
static void publish(struct brain *b, struct board *nb)
{
	struct board *old;
	unsigned char byte = 1;

	pthread_mutex_lock(&b->mu);
	nb->seq = ++b->seq;
	old = b->board;
	b->board = nb;
	pthread_mutex_unlock(&b->mu);
	sweep_dead(b);
	if (old) {
		XGROW(b->dead, b->dead_alloc, b->ndead + 1);
		b->dead[b->ndead++] = old;
	}
	if (b->o.wake_fd >= 0) {
		ssize_t w = write(b->o.wake_fd, &byte, 1);

		(void)w; /* a full pipe already wakes the reader */
	}
}

/* ---- the thread -------------------------------------------------------- */

static void *brain_main(void *arg)
{
	struct brain *b = arg;

	for (;;) {
		struct snapshot *s;
		bool fed, requested;

		pthread_mutex_lock(&b->mu);
		while (!b->stop && !b->poked)
			pthread_cond_wait(&b->cond, &b->mu);
		if (b->stop) {
			pthread_mutex_unlock(&b->mu);
			break;
		}
		b->poked = false;
		s = b->fed;
		b->fed = NULL;
		requested = b->requested;
		b->requested = false;
		pthread_mutex_unlock(&b->mu);
		fed = s != NULL;
		if (!s && b->o.collector)
			s = collector_get(b->o.collector);
		/* A collector snapshot already thought about, or one that only
		 * repeats old data while disconnected: nothing new to think. */
		if (s && (fed || requested || (s->connected && s->stats.seq != b->last_snap_seq))) {
			b->last_snap_seq = s->stats.seq;
			publish(b, round_run(b, s));
		}
		snapshot_unref(s);
	}
	pgconn_keeper_drop(&b->conn, NULL);
	return NULL;
}

/* The advisor finished a consult: think again without a new snapshot, so
 * that its advice reaches a board now. */
static void rethink(void *arg)
{
	struct brain *b = arg;

	pthread_mutex_lock(&b->mu);
	b->requested = true;
	b->poked = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->mu);
}

struct brain *brain_new(const struct brain_opts *o, char *err, size_t errlen)
{
	struct brain *b;

	if (!o || !o->cfg) {
		snprintf(err, errlen, "brain: no configuration given");
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	b->o = *o;
	pgconn_keeper_init(&b->conn, o->conninfo, o->password_env, "cockpit-brain",
			   o->cfg->connect_timeout_s, o->cfg->statement_timeout_ms);
	b->note = o->note && *o->note ? xstrdup(o->note) : NULL;
	b->o.conninfo = b->conn.conninfo;
	b->o.password_env = b->conn.password_env;
	b->o.note = b->note;
	b->last_snap_seq = -1;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cond, NULL);
	advisor_set_notify(o->advisor, rethink, b);
	return b;
}

int brain_start(struct brain *b)
{
	if (b->started)
		return 0;
	b->stop = false;
	if (pthread_create(&b->thread, NULL, brain_main, b) != 0)
		return -1;
	b->started = true;
	return 0;
}

void brain_poke(struct brain *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->poked = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->mu);
}

void brain_feed(struct brain *b, struct snapshot *s)
{
	struct snapshot *old;

	if (!b || !s)
		return;
	pthread_mutex_lock(&b->mu);
	old = b->fed;
	b->fed = snapshot_ref(s);
	b->poked = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->mu);
	snapshot_unref(old);
}

void brain_stop(struct brain *b)
{
	if (!b || !b->started)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	b->started = false;
}

void brain_free(struct brain *b)
{
	if (!b)
		return;
	brain_stop(b);
	pgconn_keeper_release(&b->conn);
	for (size_t i = 0; i < b->nmemos; i++)
		memo_release(&b->memos[i]);
	free(b->memos);
	for (size_t i = 0; i < b->nreqs; i++)
		request_release(&b->reqs[i]);
	free(b->reqs);
	free(b->reqs_in);
	board_unref(b->board);
	for (size_t i = 0; i < b->ndead; i++)
		board_unref(b->dead[i]);
	free(b->dead);
	snapshot_unref(b->fed);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->mu);
	free(b->note);
	free(b);
}

struct board *brain_get(struct brain *b)
{
	struct board *r;

	if (!b)
		return NULL;
	pthread_mutex_lock(&b->mu);
	r = board_ref(b->board);
	pthread_mutex_unlock(&b->mu);
	return r;
}

struct board *brain_think(struct brain *b, struct snapshot *s)
{
	struct board *nb;

	if (!b || !s || b->started)
		return NULL;
	nb = round_run(b, s);
	b->last_snap_seq = s->stats.seq;
	board_ref(nb);
	publish(b, nb);
	return nb;
}
