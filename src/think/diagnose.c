/*
 * diagnose: the rules tier (think/diagnose.h). For one incident: the
 * detector's own analysis (EXPLAIN/HypoPG for slow queries), the runbook's
 * context queries (read only, with a timeout), then each action whose `when`
 * holds becomes a proposal — parameters bound from the evidence, prepared
 * against the live catalog by the action registry, verification and
 * rationale bound, and judged by policy. Nothing here executes anything:
 * the only statements it sends are the context queries (inside a READ ONLY
 * transaction), the registry's catalog checks and the plan analysis.
 *
 * What did not become a proposal says why: an action whose preparation
 * failed is listed in the evidence under "rejected" ({action, reason}); an
 * incident without proposals gets `escalation` naming the cause.
 */
#include "think/diagnose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/action.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "think/plan.h"

#define DIAGNOSE_CONTEXT_TIMEOUT_MS 5000
#define DIAGNOSE_CONTEXT_MAX_ROWS 200

/* Bind a list of templates to an array of text values (JSON strings, or
 * null for SQL NULL). *missing names the first template with no value. */
static json_t *bind_args(const json_t *tmpls, const json_t *ev, const char **missing)
{
	json_t *out = json_array(), *t;
	size_t i;

	*missing = NULL;
	json_array_foreach(tmpls, i, t) {
		char *s = NULL;

		if (runbook_bind_param(t, ev, &s) != 0 && !*missing)
			*missing = json_is_string(t) ? json_string_value(t) : "?";
		json_array_append_new(out, s ? json_string(s) : json_null());
		free(s);
	}
	return out;
}

/* ---- context queries ------------------------------------------------------ */

static json_t *cell_json(PGresult *r, int row, int col)
{
	const char *v;
	json_t *j;

	if (PQgetisnull(r, row, col))
		return json_null();
	v = PQgetvalue(r, row, col);
	switch (PQftype(r, col)) {
	case 20: case 21: case 23: case 26: case 28:      /* int8 int2 int4 oid xid */
		return json_integer(strtoll(v, NULL, 10));
	case 700: case 701: case 1700:                    /* float4 float8 numeric */
		return json_real(strtod(v, NULL));
	case 16:                                          /* bool */
		return json_boolean(v[0] == 't');
	case 114: case 3802:                              /* json jsonb */
		j = json_loads(v, JSON_DECODE_ANY, NULL);
		return j ? j : json_string(v);
	default:
		return json_string(v);
	}
}

static json_t *rows_json(PGresult *r)
{
	json_t *rows = json_array();
	int n = PQntuples(r);

	if (n > DIAGNOSE_CONTEXT_MAX_ROWS)
		n = DIAGNOSE_CONTEXT_MAX_ROWS;
	for (int i = 0; i < n; i++) {
		json_t *o = json_object();

		for (int c = 0; c < PQnfields(r); c++)
			json_object_set_new(o, PQfname(r, c), cell_json(r, i, c));
		json_array_append_new(rows, o);
	}
	return rows;
}

/* A utility statement of the context transaction, tagged like every
 * statement cockpit sends (it shows up honestly in pg_stat_activity). */
static bool exec_ok(PGconn *conn, const char *sql)
{
	struct strbuf tagged = STRBUF_INIT;
	PGresult *r;
	bool ok;

	strbuf_addf(&tagged, "/* cockpit diagnose */ %s", sql);
	r = PQexec(conn, tagged.buf);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	strbuf_release(&tagged);
	return ok;
}

static void one_line(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	for (size_t n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
		s[n - 1] = '\0';
}

/* The context transaction: READ ONLY, with its timeouts. */
static bool context_begin(PGconn *conn, json_t *ctx)
{
	char buf[192], msg[512];

	/* one round trip; each statement tagged (pg_stat_statements keeps
	 * them apart) */
	snprintf(buf, sizeof(buf), "BEGIN READ ONLY; /* cockpit diagnose */ SET LOCAL "
		 "statement_timeout = %d; /* cockpit diagnose */ SET LOCAL lock_timeout = %d",
		 DIAGNOSE_CONTEXT_TIMEOUT_MS, DIAGNOSE_CONTEXT_TIMEOUT_MS);
	if (exec_ok(conn, buf))
		return true;
	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
	one_line(msg);
	exec_ok(conn, "ROLLBACK");
	json_object_clear(ctx);
	json_object_set_new(ctx, "error", json_string(msg));
	return false;
}

/* Each query in its own savepoint of one READ ONLY transaction: a failing
 * query costs its own rows, not the others'. A query the round's memo
 * answers (the same SQL and values earlier in the round) is not sent; the
 * transaction is opened for the first one it does not. */
static json_t *run_context(PGconn *conn, struct action_memo *memo, const struct runbook *rb,
			   const json_t *ev)
{
	json_t *ctx = json_object();
	bool open = false;

	for (size_t i = 0; i < rb->ncontext; i++) {
		const struct runbook_query *q = &rb->context[i];
		json_t *args = q->args ? bind_args(q->args, ev, &(const char *){ NULL }) : json_array();
		size_t n = json_array_size(args);
		const char **vals = xcalloc(n ? n : 1, sizeof(*vals));
		struct strbuf sql = STRBUF_INIT;
		PGresult *r;
		json_t *rows;

		for (size_t k = 0; k < n; k++)
			vals[k] = json_string_value(json_array_get(args, k));
		strbuf_addf(&sql, "/* cockpit diagnose: %s/%s */ %s", rb->name, q->name, q->sql);
		r = action_memo_get(memo, conn, sql.buf, (int)n, vals);
		if (!r && !open && !(open = context_begin(conn, ctx))) {
			strbuf_release(&sql);
			free(vals);
			json_decref(args);
			return ctx;
		}
		if (r) {
			rows = rows_json(r);
		} else {
			exec_ok(conn, "SAVEPOINT cockpit_context");
			r = PQexecParams(conn, sql.buf, (int)n, NULL, vals, NULL, NULL, 0);
			if (PQresultStatus(r) == PGRES_TUPLES_OK) {
				action_memo_put(memo, conn, sql.buf, (int)n, vals, r);
				rows = rows_json(r);
				exec_ok(conn, "RELEASE SAVEPOINT cockpit_context");
			} else {
				char msg[512];

				snprintf(msg, sizeof(msg), "context query '%s' of runbook '%s' failed: %s",
					 q->name, rb->name, PQresultErrorMessage(r));
				one_line(msg);
				rows = json_pack("{s:s}", "error", msg);
				exec_ok(conn, "ROLLBACK TO SAVEPOINT cockpit_context");
			}
		}
		json_object_set_new(ctx, q->name, rows);
		PQclear(r);
		strbuf_release(&sql);
		free(vals);
		json_decref(args);
	}
	if (open)
		exec_ok(conn, "ROLLBACK");
	return ctx;
}

/* ---- detector-specific analysis ------------------------------------------ */

static void analyse_slow_query(const struct diagnose_ctx *ctx, const struct runbook *rb,
			       struct incident *in)
{
	const char *query = json_string_value(runbook_path(in->evidence, "statement.query"));
	struct plan_opts o = {
		.min_cost = runbook_threshold(rb, "min_cost", 100),
		.min_gain = runbook_threshold(rb, "min_gain", 0.5),
		.timeout_ms = (int)runbook_threshold(rb, "plan_timeout_ms", 5000),
		.min_table_rows = runbook_threshold(rb, "min_table_rows", 10000),
	};
	char err[512] = "";

	if (!query)
		return;
	if (plan_analyze(ctx->conn, query, &o, in->evidence, err, sizeof(err)) != 0)
		json_object_set_new(in->evidence, "plan_error", json_string(err[0] ? err : "plan analysis failed"));
}

/* ---- proposals ------------------------------------------------------------ */

/* What the action is expected to achieve, from the evidence, or NULL. */
static char *estimate_for(const char *action, const json_t *ev)
{
	char buf[512];
	json_t *ix = runbook_path(ev, "index");

	if (strcmp(action, "create_index") == 0 && ix) {
		double b = json_number_value(json_object_get(ix, "cost_before"));
		double a = json_number_value(json_object_get(ix, "cost_after"));

		if (b > 0) {
			snprintf(buf, sizeof(buf), "cost %.1f -> %.1f (-%.1f%%)%s", b, a, (b - a) * 100.0 / b,
				 json_is_true(json_object_get(ix, "hypopg")) ? " with a hypothetical index (HypoPG)" : "");
			return xstrdup(buf);
		}
	}
	if ((strcmp(action, "cancel_backend") == 0 || strcmp(action, "terminate_backend") == 0) &&
	    runbook_path(ev, "waiting")) {
		snprintf(buf, sizeof(buf), "releases %lld waiting session(s)",
			 (long long)json_integer_value(runbook_path(ev, "waiting")));
		return xstrdup(buf);
	}
	if (strcmp(action, "vacuum") == 0 && runbook_path(ev, "table.dead_tuples")) {
		snprintf(buf, sizeof(buf), "makes %lld dead tuples reusable",
			 (long long)json_integer_value(runbook_path(ev, "table.dead_tuples")));
		return xstrdup(buf);
	}
	if (strcmp(action, "drop_replication_slot") == 0 && runbook_path(ev, "inactive_slot.retained_bytes")) {
		snprintf(buf, sizeof(buf), "frees up to %.1f MB of retained WAL",
			 (double)json_integer_value(runbook_path(ev, "inactive_slot.retained_bytes")) / 1048576.0);
		return xstrdup(buf);
	}
	return NULL;
}

static void reject(json_t *ev, const char *action, const char *reason)
{
	json_t *arr = json_object_get(ev, "rejected");

	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(ev, "rejected", arr);
	}
	json_array_append_new(arr, json_pack("{s:s, s:s}", "action", action, "reason", reason));
}

static void add_proposal(struct incident *in, struct proposal *p)
{
	in->proposals = xrealloc(in->proposals, (in->nproposals + 1) * sizeof(*in->proposals));
	in->proposals[in->nproposals++] = p;
}

static void copy_verify(struct proposal_verify *dst, const struct proposal_verify *tmpl,
			const json_t *ev)
{
	const char *missing;

	dst->sql = xstrdup(tmpl->sql);
	dst->args = tmpl->args ? bind_args(tmpl->args, ev, &missing) : NULL;
	dst->expect = tmpl->expect ? xstrdup(tmpl->expect) : NULL;
	dst->wait_s = tmpl->wait_s;
	dst->deadline_s = tmpl->deadline_s;
	dst->attempts = tmpl->attempts;
}

/* One action of the runbook: a proposal, or NULL with a rejection noted. */
static struct proposal *propose(const struct diagnose_ctx *ctx, const struct runbook *rb,
				const struct runbook_action *ra, struct incident *in, const json_t *view)
{
	struct action_ctx actx = { .conn = ctx->conn, .snap = ctx->snap, .cfg = ctx->cfg,
				   .memo = ctx->memo };
	json_t *params = json_object(), *t;
	const char *name, *missing = NULL;
	struct proposal *p;
	char err[512] = "", msg[700];

	json_object_foreach(ra->params, name, t) {
		json_t *v = runbook_bind_value(t, view);

		if (!v) {
			if (!missing)
				missing = json_is_string(t) ? json_string_value(t) : name;
			continue;
		}
		json_object_set_new(params, name, v);
	}
	if (missing) {
		snprintf(msg, sizeof(msg), "the evidence has no value for %s (runbook %s:%d)", missing,
			 rb->file ? rb->file : rb->name, ra->line);
		reject(in->evidence, ra->action, msg);
		json_decref(params);
		return NULL;
	}
	p = proposal_new();
	proposal_set(&p->runbook, rb->name);
	proposal_set(&p->origin, "rule");
	proposal_set(&p->incident_key, in->key);
	p->confidence = ra->confidence;
	p->risk = ra->risk_given ? ra->risk : RISK_LOW;
	if (ra->verify.sql)
		copy_verify(&p->verify, &ra->verify, view);
	if (action_prepare(&actx, ra->action, params, p, err, sizeof(err)) != 0) {
		reject(in->evidence, ra->action, err[0] ? err : "the action refused its parameters");
		json_decref(params);
		proposal_free(p);
		return NULL;
	}
	if (ra->risk_given && ra->risk > p->risk)
		p->risk = ra->risk;
	if (!p->params)
		p->params = json_incref(params);
	json_decref(params);
	if (ra->rationale) {
		char *r = runbook_bind_text(ra->rationale, view);

		proposal_set(&p->rationale, r);
		free(r);
	}
	if (!p->estimate) {
		char *e = estimate_for(ra->action, view);

		proposal_set(&p->estimate, e);
		free(e);
	}
	json_decref(p->evidence);
	p->evidence = json_incref(in->evidence);
	policy_decide(ctx->cfg, ctx->policy, p, ctx->now);
	proposal_make_id(p);
	return p;
}

static void set_escalation(struct incident *in, const char *why)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *rej = json_object_get(in->evidence, "rejected"), *manual = json_object_get(in->evidence, "manual");
	size_t i;
	json_t *v;

	strbuf_init(&sb, 128);
	strbuf_addstr(&sb, why);
	json_array_foreach(rej, i, v)
		strbuf_addf(&sb, "; %s refused: %s", json_string_value(json_object_get(v, "action")),
			    json_string_value(json_object_get(v, "reason")));
	json_array_foreach(manual, i, v)
		strbuf_addf(&sb, "%s%s", i ? "; " : "; by hand (not an action cockpit takes): ",
			    json_string_value(v));
	free(in->escalation);
	in->escalation = strbuf_detach(&sb, NULL);
}

size_t diagnose_incident(const struct diagnose_ctx *ctx, struct incident *in)
{
	const struct runbook *rb = runbook_find(ctx->runbooks, in->runbook);
	bool any_when = false;
	json_t *view;
	char why[512];

	if (!rb) {
		snprintf(why, sizeof(why), "no runbook named '%s' is loaded", in->runbook);
		set_escalation(in, why);
		return 0;
	}
	if (!ctx->conn || PQstatus(ctx->conn) != CONNECTION_OK) {
		if (!in->escalation)
			set_escalation(in, "no database connection to check the proposals against the catalog");
		return 0;
	}
	if (!in->evidence)
		in->evidence = json_object();
	json_object_del(in->evidence, "rejected");
	/* The analysis first: context queries may bind what it found
	 * ({index.table}). */
	if (rb->detector && strcmp(rb->detector, "slow_query") == 0)
		analyse_slow_query(ctx, rb, in);
	json_decref(in->context);
	in->context = run_context(ctx->conn, ctx->memo, rb, in->evidence);
	/* The detector already knows nothing may be done (a prepared transaction,
	 * cockpit's own session): report only. */
	if (in->escalation)
		return 0;
	/* Bindings see the evidence and, under "context", the context rows:
	 * {context.deadlock_timeout.0.ms}. */
	view = json_copy(in->evidence);
	json_object_set(view, "context", in->context);
	for (size_t i = 0; i < rb->nactions; i++) {
		const struct runbook_action *ra = &rb->actions[i];
		struct proposal *p;

		if (!runbook_when_holds(ra->when, view))
			continue;
		any_when = true;
		p = propose(ctx, rb, ra, in, view);
		if (p)
			add_proposal(in, p);
	}
	json_decref(view);
	if (in->nproposals == 0) {
		if (any_when)
			snprintf(why, sizeof(why), "no proposal survived validation for runbook '%s'", rb->name);
		else
			snprintf(why, sizeof(why), "the cause is not clear: no action of runbook '%s' applies "
				 "to this evidence — a human must look", rb->name);
		set_escalation(in, why);
	}
	return in->nproposals;
}

size_t diagnose_all(const struct diagnose_ctx *ctx, struct incident_list *l)
{
	struct diagnose_ctx round = *ctx;
	struct action_memo *own = NULL;
	size_t n = 0;

	if (!round.memo)
		round.memo = own = action_memo_new();
	for (size_t i = 0; i < l->n; i++)
		n += diagnose_incident(&round, &l->v[i]);
	action_memo_free(own);
	return n;
}
