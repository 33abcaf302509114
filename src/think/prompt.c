/*
 * prompt: context assembly for one incident (see prompt.h).
 */
#include "think/prompt.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act/action.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/snapshot.h"
#include "think/detect.h"
#include "think/llm.h"
#include "think/recall.h"
#include "think/runbook.h"

/* Untrusted text is cut to this many bytes at first; halved while the
 * evidence does not fit, down to PROMPT_MIN_UNTRUSTED. */
#define PROMPT_MAX_UNTRUSTED 2000
#define PROMPT_MIN_UNTRUSTED 120
/* Tokens kept back for the closing "Truncated:" line. */
#define PROMPT_RESERVE 80
/* Tables whose schema is looked up. */
#define PROMPT_MAX_TABLES 4
/* Bytes of a related runbook's guidance shown. */
#define PROMPT_RUNBOOK_GUIDANCE 160

static const char prompt_system_text[] =
	"You are the diagnosis assistant of cockpit, a tool that keeps PostgreSQL servers "
	"healthy. Rules already diagnosed the incident below; add your reasoning: the root "
	"cause, ranked hypotheses, and remediation proposals. You may only propose actions "
	"from the registry listed in the message, with parameters naming sessions, tables, "
	"columns and roles that appear in the evidence or the schema; every proposal is "
	"checked against the live catalog and a policy before anyone sees it, and nothing "
	"runs without it. Literals were replaced by $n and personal data by [email], "
	"[card], [phone], [secret]: never guess them.\n";

/* ---------------------------------------------------------------- scrub */

struct scrub {
	struct strbuf blocks;     /* fenced untrusted text, labelled */
	struct redact_report rep;
	unsigned injection;
	size_t nq, nl;            /* block counters: q1.., l1.. */
	size_t max_untrusted;     /* bytes of one untrusted text */
	size_t cut;               /* untrusted texts cut */
};

static bool key_is_sql(const char *key)
{
	static const char *const k[] = { "query", "statement", "sql", "definition", NULL };

	for (size_t i = 0; key && k[i]; i++)
		if (strcmp(key, k[i]) == 0)
			return true;
	return false;
}

static bool key_is_log(const char *key)
{
	static const char *const k[] = { "message", "detail", "hint", "line", "lines", "log",
					 "report", "text", "application", "comment",
					 "error_message", NULL };

	for (size_t i = 0; key && k[i]; i++)
		if (strcmp(key, k[i]) == 0)
			return true;
	return false;
}

/* Plan condition strings hold literals: mask them as SQL fragments. */
static bool key_is_cond(const char *key)
{
	return key && (strstr(key, "Cond") || strstr(key, "Filter"));
}

static json_t *scrub_string(struct scrub *s, const char *key, const char *text)
{
	bool sql = key_is_sql(key);
	char *clean, *fenced, label[32];
	size_t len = strlen(text);

	if (!sql && !key_is_log(key)) {
		clean = key_is_cond(key) ? redact_sql(text, &s->rep) : redact_text(text, &s->rep);
		json_t *v = json_string(clean);
		free(clean);
		return v ? v : json_string("[not UTF-8]");
	}
	if (len == 0)
		return json_string("");
	s->injection |= redact_injection_flags(text);
	clean = sql ? redact_sql(text, &s->rep) : redact_text(text, &s->rep);
	if (strlen(clean) > s->max_untrusted) {
		size_t n = s->max_untrusted;

		while (n > 0 && ((unsigned char)clean[n] & 0xc0) == 0x80)
			n--;   /* do not split a UTF-8 sequence */
		char *c2 = xmalloc(n + sizeof(" [cut]"));

		memcpy(c2, clean, n);
		memcpy(c2 + n, " [cut]", sizeof(" [cut]"));
		free(clean);
		clean = c2;
		s->cut++;
	}
	if (sql)
		snprintf(label, sizeof(label), "q%zu", ++s->nq);
	else
		snprintf(label, sizeof(label), "l%zu", ++s->nl);
	fenced = redact_fence(sql ? "query" : "log", clean, &s->rep);
	strbuf_addf(&s->blocks, "%s:\n%s", label, fenced);
	free(fenced);
	free(clean);

	char ref[64];

	snprintf(ref, sizeof(ref), "see untrusted %s", label);
	return json_string(ref);
}

static json_t *scrub_value(struct scrub *s, const char *key, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return scrub_string(s, key, json_string_value(v));
	case JSON_ARRAY: {
		json_t *out = json_array();
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e)
			json_array_append_new(out, scrub_value(s, key, e));
		return out;
	}
	case JSON_OBJECT: {
		json_t *out = json_object();
		const char *k;
		json_t *e;

		json_object_foreach((json_t *)v, k, e)
			json_object_set_new(out, k, scrub_value(s, k, e));
		return out;
	}
	default:
		return json_deep_copy(v);
	}
}

/* ---------------------------------------------------------------- trimming */

/* The longest array (more than one item) under v, with its dotted path. */
static void longest_array(json_t *v, const char *path, json_t **best, char *bpath, size_t blen)
{
	if (json_is_array(v)) {
		if (json_array_size(v) > 1 && (!*best || json_array_size(v) > json_array_size(*best))) {
			*best = v;
			snprintf(bpath, blen, "%s", path);
		}
		size_t i;
		json_t *e;
		char sub[256];

		json_array_foreach(v, i, e) {
			snprintf(sub, sizeof(sub), "%s.%zu", path, i);
			longest_array(e, sub, best, bpath, blen);
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *e;
		char sub[256];

		json_object_foreach(v, k, e) {
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			longest_array(e, sub, best, bpath, blen);
		}
	}
}

/* Keys people look at first: what is wrong and who causes it. */
static const char *const first_keys[] = {
	"errors", "error", "root", "blockers", "blocker", "cycle", "session", "reasons", NULL,
};

/* The evidence in the order the model should read it. */
static json_t *ordered_evidence(const struct incident *in, const json_t *evidence)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;

	if (in->escalation)
		json_object_set_new(out, "escalation", json_string(in->escalation));
	for (size_t i = 0; first_keys[i]; i++)
		if ((v = json_object_get(evidence, first_keys[i])))
			json_object_set(out, first_keys[i], v);
	json_object_foreach((json_t *)evidence, k, v)
		if (!json_object_get(out, k) && strcmp(k, "plan") != 0)
			json_object_set(out, k, v);
	if (in->context && json_object_size(in->context) > 0)
		json_object_set(out, "context", in->context);
	return out;
}

/* ---------------------------------------------------------------- sections */

static void add_summary(struct strbuf *sb, const struct snapshot *snap)
{
	size_t active = 0, idle_tx = 0, waiting = 0;

	for (size_t i = 0; i < snap->nsessions; i++) {
		const struct snap_session *ss = &snap->sessions[i];

		if (ss->state && strcmp(ss->state, "active") == 0)
			active++;
		if (ss->state && detect_is_idle_in_transaction(ss->state))
			idle_tx++;
		if (ss->wait_event_type && strcmp(ss->wait_event_type, "Lock") == 0)
			waiting++;
	}
	strbuf_addf(sb, "PostgreSQL %s%s; sessions %zu of max_connections %d: %zu active, "
		    "%zu idle in transaction, %zu waiting on locks",
		    snap->server.version ? snap->server.version : "?",
		    snap->server.in_recovery ? " (standby)" : "", snap->nsessions,
		    snap->server.max_connections, active, idle_tx, waiting);
	if (snap->server.tps >= 0)
		strbuf_addf(sb, "; %.0f transactions/s", snap->server.tps);
	if (snap->server.cache_hit_ratio >= 0)
		strbuf_addf(sb, "; cache hit %.1f%%", 100 * snap->server.cache_hit_ratio);
	if (snap->server.replication_lag_s >= 0)
		strbuf_addf(sb, "; replication lag %.1f s", snap->server.replication_lag_s);
	if (snap->disk.fs_known && snap->disk.fs_total_bytes > 0)
		strbuf_addf(sb, "; data volume %.1f%% used",
			    100.0 * (double)snap->disk.fs_used_bytes / (double)snap->disk.fs_total_bytes);
	strbuf_addf(sb, "; %zu deadlock reports, %zu lock edges.\n", snap->ndeadlocks,
		    snap->nedges);
}

static const char *param_type_name(enum action_param_type t)
{
	switch (t) {
	case AP_PID: return "pid";
	case AP_PIDS: return "[pid]";
	case AP_TABLE: return "table";
	case AP_INDEX: return "index";
	case AP_COLUMNS: return "[column]";
	case AP_ROLE: return "role";
	case AP_SETTING: return "setting";
	case AP_VALUE: return "value";
	case AP_PRIVILEGE: return "privilege";
	case AP_SLOT: return "slot";
	case AP_BOOL: return "bool";
	case AP_NAME: return "name";
	case AP_STRING: return "string";
	}
	return "?";
}

static const char *risk_word(enum risk r)
{
	static const char *const w[] = { "low", "medium", "high", "critical" };

	return (unsigned)r < 4 ? w[r] : "?";
}

static void add_actions(struct strbuf *sb)
{
	size_t n;
	const struct action_def *a = action_all(&n);

	for (size_t i = 0; i < n; i++) {
		strbuf_addf(sb, "- %s(", a[i].name);
		for (size_t j = 0; j < a[i].nparams; j++)
			strbuf_addf(sb, "%s%s%s: %s", j ? ", " : "", a[i].params[j].name,
				    a[i].params[j].required ? "" : "?",
				    param_type_name(a[i].params[j].type));
		strbuf_addf(sb, ") risk %s: %s\n", risk_word(a[i].risk), a[i].summary);
	}
}

static void collect_tables(const json_t *v, const char *key, json_t *set)
{
	if (json_is_string(v) && key &&
	    (strcmp(key, "table") == 0 || strcmp(key, "relation") == 0 ||
	     strcmp(key, "relations") == 0)) {
		if (json_array_size(set) < PROMPT_MAX_TABLES) {
			size_t i;
			json_t *e;

			json_array_foreach(set, i, e)
				if (strcmp(json_string_value(e), json_string_value(v)) == 0)
					return;
			json_array_append(set, (json_t *)v);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e)
			collect_tables(e, key, set);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *e;

		json_object_foreach((json_t *)v, k, e)
			collect_tables(e, k, set);
	}
}

/* Columns (type, comment) and indexes of the tables named in the evidence. */
static void add_schema(struct strbuf *sb, PGconn *conn, const json_t *evidence,
		       struct scrub *s)
{
	json_t *tables = json_array();
	size_t i;
	json_t *t;

	collect_tables(evidence, NULL, tables);
	json_array_foreach(tables, i, t) {
		const char *name = json_string_value(t);
		const char *pv[1] = { name };
		PGresult *r = PQexecParams(conn,
			"/* cockpit prompt: columns */ SELECT c.oid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod), "
			"col_description(a.attrelid, a.attnum) FROM pg_class c "
			"JOIN pg_attribute a ON a.attrelid = c.oid "
			"WHERE c.oid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
			"ORDER BY a.attnum", 1, NULL, pv, NULL, NULL, 0);

		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
			strbuf_addf(sb, "%s columns:", PQgetvalue(r, 0, 0));
			for (int row = 0; row < PQntuples(r); row++) {
				strbuf_addf(sb, "%s %s %s", row ? "," : "", PQgetvalue(r, row, 1),
					    PQgetvalue(r, row, 2));
				if (!PQgetisnull(r, row, 3)) {
					char *c = redact_text(PQgetvalue(r, row, 3), &s->rep);

					s->injection |= redact_injection_flags(c);
					/* comments are data: quoted JSON, never prose */
					json_t *js = json_string(c);
					char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;

					strbuf_addf(sb, " (comment %s)", q ? q : "?");
					free(q);
					json_decref(js);
					free(c);
				}
			}
			strbuf_addch(sb, '\n');
		}
		PQclear(r);
		r = PQexecParams(conn,
			"/* cockpit prompt: indexes */ SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
			"WHERE i.indrelid = to_regclass($1) ORDER BY 1", 1, NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			for (int row = 0; row < PQntuples(r); row++) {
				char *d = redact_sql(PQgetvalue(r, row, 0), &s->rep);

				strbuf_addf(sb, "  %s\n", d);
				free(d);
			}
		PQclear(r);
	}
	json_decref(tables);
}

/* The first keep past incidents of rr, redacted, in one untrusted block:
 * their summaries, queries and the LLM's words came from the server. */
static void add_history(struct strbuf *sb, const struct recall_result *rr, size_t keep,
			struct redact_report *rep, unsigned *inj)
{
	struct strbuf h;
	char *fenced;

	if (rr->n == 0) {
		strbuf_addf(sb, "\n## Similar past incidents\nNone among the %zu past incident%s of "
			    "the audit history.\n", rr->history, rr->history == 1 ? "" : "s");
		return;
	}
	strbuf_init(&h, 512);
	for (size_t i = 0; i < keep && i < rr->n; i++) {
		const struct recall_hit *x = &rr->v[i];
		const char *text[] = { x->summary, x->query, x->done, x->root_cause };
		const char *label[] = { "summary", "query", "done", "root cause given then" };

		strbuf_addf(&h, "%zu. %s, runbook %s, ", i + 1, x->at ? x->at : "?",
			    x->runbook ? x->runbook : "?");
		if (x->lasted_s >= 0)
			strbuf_addf(&h, "lasted %.0fs", x->lasted_s);
		else
			strbuf_addstr(&h, "not seen to clear");
		strbuf_addf(&h, " (similarity %.1f)\n", x->score);
		for (size_t t = 0; t < sizeof(text) / sizeof(text[0]); t++) {
			char *clean;

			if (!text[t])
				continue;
			*inj |= redact_injection_flags(text[t]);
			clean = t == 1 ? redact_sql(text[t], rep) : redact_text(text[t], rep);
			strbuf_addf(&h, "   %s: %s\n", label[t], clean);
			free(clean);
		}
	}
	fenced = redact_fence("history", h.buf, rep);
	strbuf_addf(sb, "\n## Similar past incidents (%zu of the %zu in the audit history, most "
		    "similar first)\n%s", keep, rr->history, fenced);
	free(fenced);
	strbuf_release(&h);
}

/* Runbooks are the operators' own text, like the guidance above. */
static void add_related(struct strbuf *sb, const struct recall_result *rr)
{
	strbuf_addstr(sb, "\n## Related runbooks (others whose text matches this incident)\n");
	for (size_t i = 0; i < rr->nrb; i++) {
		const struct recall_runbook_hit *x = &rr->rb[i];
		const char *g = x->guidance ? x->guidance : "";
		size_t n = strcspn(g, "\n");

		if (n > PROMPT_RUNBOOK_GUIDANCE) {
			n = PROMPT_RUNBOOK_GUIDANCE;
			while (n > 0 && ((unsigned char)g[n] & 0xc0) == 0x80)
				n--;
		}
		strbuf_addf(sb, "- %s%s%s%s %.*s%s\n", x->name, x->title ? ": " : "",
			    x->title ? x->title : "", n ? "." : "", (int)n, g, g[n] && n ? "..." : "");
	}
}

/* ---------------------------------------------------------------- build */

static int64_t tok(size_t bytes)
{
	return llm_estimate_tokens(bytes);
}

static void note(json_t *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(json_t *tr, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(tr, json_string(buf));
}

/* Scrub and render the evidence, trimming until it fits max_tok (0: any). */
static char *render_evidence(const struct incident *in, int64_t max_tok, json_t *tr,
			     struct scrub *out)
{
	json_t *raw = ordered_evidence(in, in->evidence ? in->evidence : json_null());
	json_t *work = json_deep_copy(raw);
	size_t max_untrusted = PROMPT_MAX_UNTRUSTED;
	json_t *halved = json_object();   /* path -> [kept, of] */
	char *text = NULL;

	for (;;) {
		struct scrub s = { .max_untrusted = max_untrusted };
		struct strbuf sb;

		strbuf_init(&s.blocks, 256);
		strbuf_init(&sb, 1024);
		json_t *clean = scrub_value(&s, NULL, work);
		char *js = json_dumps(clean, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));

		json_decref(clean);
		strbuf_addf(&sb, "%s\n", js ? js : "{}");
		free(js);
		if (s.blocks.len)
			strbuf_addf(&sb, "Untrusted text the evidence refers to:\n%s", s.blocks.buf);
		strbuf_release(&s.blocks);

		json_t *best = NULL;
		char path[256] = "";

		if (max_tok > 0 && tok(sb.len) > max_tok)
			longest_array(work, "evidence", &best, path, sizeof(path));
		if (max_tok <= 0 || tok(sb.len) <= max_tok ||
		    (!best && max_untrusted <= PROMPT_MIN_UNTRUSTED)) {
			if (max_tok > 0 && tok(sb.len) > max_tok) {
				/* still too long: cut, keeping whole lines of the JSON */
				size_t keep = (size_t)max_tok * 4;

				while (keep > 0 && sb.buf[keep] != '\n')
					keep--;
				sb.len = keep;
				sb.buf[keep] = '\0';
				strbuf_addstr(&sb, "\n[evidence cut here]\n");
				note(tr, "evidence: cut at %zu bytes", keep);
			}
			*out = s;
			text = strbuf_detach(&sb, NULL);
			break;
		}
		strbuf_release(&sb);
		if (best) {
			size_t n = json_array_size(best), keep = n / 2;
			json_t *h = json_object_get(halved, path);

			if (!h)
				json_object_set_new(halved, path, json_pack("[ii]", 0, (json_int_t)n));
			json_array_set_new(json_object_get(halved, path), 0,
					   json_integer((json_int_t)keep));
			while (json_array_size(best) > keep)
				json_array_remove(best, json_array_size(best) - 1);
		} else {
			max_untrusted /= 2;
		}
	}
	const char *k;
	json_t *h;

	json_object_foreach(halved, k, h)
		note(tr, "%s: kept %lld of %lld items", k,
		     (long long)json_integer_value(json_array_get(h, 0)),
		     (long long)json_integer_value(json_array_get(h, 1)));
	if (out->cut)
		note(tr, "untrusted text: %zu texts cut to %zu bytes", out->cut, out->max_untrusted);
	json_decref(halved);
	json_decref(work);
	json_decref(raw);
	return text;
}

int prompt_build(const struct incident *in, const struct snapshot *snap,
		 const struct runbook *rb, const struct prompt_opts *o, struct prompt *out,
		 char *err, size_t errlen)
{
	struct strbuf sys, user, actions, sec;
	int64_t budget = o ? o->budget_tokens : 0, left;
	struct scrub ev;
	json_t *tr = json_array();
	const json_t *plan = in->evidence ? json_object_get(in->evidence, "plan") : NULL;

	memset(out, 0, sizeof(*out));
	strbuf_init(&sys, 2048);
	strbuf_addstr(&sys, prompt_system_text);
	strbuf_addstr(&sys, REDACT_FENCE_RULE);
	strbuf_addch(&sys, '\n');
	strbuf_addstr(&sys, llm_reply_schema);
	strbuf_addch(&sys, '\n');

	strbuf_init(&actions, 2048);
	strbuf_addstr(&actions, "## Registry actions (the only ones you may propose; "
			       "parameter? is optional)\n");
	add_actions(&actions);

	left = budget > 0 ? budget - tok(sys.len) - tok(actions.len) - PROMPT_RESERVE : 0;
	if (budget > 0 && left < 64) {
		snprintf(err, errlen, "prompt: a budget of %lld tokens cannot hold the "
			 "instructions and the action list (%lld tokens) — raise llm.budget_tokens",
			 (long long)budget, (long long)(tok(sys.len) + tok(actions.len)));
		strbuf_release(&sys);
		strbuf_release(&actions);
		json_decref(tr);
		return -1;
	}

	strbuf_init(&user, 8192);
	strbuf_addf(&user, "## Incident %s (runbook %s, severity %s)\n", in->key ? in->key : "?",
		    in->runbook ? in->runbook : "?", severity_name(in->severity));
	struct redact_report sumrep = { 0 };
	{
		char *sum = redact_text(in->summary ? in->summary : "", &sumrep);

		strbuf_addf(&user, "Summary: %s\n\n## Evidence (errors and blockers first)\n", sum);
		free(sum);
	}
	int64_t head = tok(user.len);
	char *evtext = render_evidence(in, budget > 0 ? (left - head > 1 ? left - head : 1) : 0,
				       tr, &ev);

	strbuf_addstr(&user, evtext);
	free(evtext);
	out->redacted = ev.rep;
	redact_report_add(&out->redacted, &sumrep);
	out->injection = ev.injection;
	out->nfenced = ev.nq + ev.nl;
	if (budget > 0)
		left -= tok(user.len);

	/* optional sections, in order; each only when it fits */
	struct recall_result rr = { 0 };

	if (o && o->recall)
		recall_query(o->recall, in, PROMPT_RECALL_INCIDENTS, PROMPT_RECALL_RUNBOOKS, &rr);
	strbuf_init(&sec, 1024);
	for (int part = 0; part < 6; part++) {
		const char *name = NULL;
		struct redact_report srep = { 0 };
		unsigned sinj = 0;
		size_t sfenced = 0, keep = 0;

		strbuf_reset(&sec);
		if (part == 0 && snap) {
			name = "snapshot summary";
			strbuf_addstr(&sec, "\n## Snapshot summary\n");
			add_summary(&sec, snap);
		} else if (part == 1 && plan) {
			struct scrub ps = { .max_untrusted = PROMPT_MAX_UNTRUSTED };

			strbuf_init(&ps.blocks, 64);
			json_t *clean = scrub_value(&ps, NULL, plan);
			char *js = json_dumps(clean, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));

			name = "plan";
			strbuf_addf(&sec, "\n## Plan (EXPLAIN JSON)\n%s\n%s", js ? js : "null",
				    ps.blocks.len ? ps.blocks.buf : "");
			free(js);
			json_decref(clean);
			strbuf_release(&ps.blocks);
			srep = ps.rep;
			sinj = ps.injection;
			sfenced = ps.nq + ps.nl;
		} else if (part == 2 && rb && rb->guidance && *rb->guidance) {
			name = "runbook guidance";
			strbuf_addf(&sec, "\n## Runbook guidance (%s)\n%s\n",
				    rb->title ? rb->title : rb->name, rb->guidance);
		} else if (part == 3 && o && o->catalog && in->evidence) {
			struct scrub ss = { .max_untrusted = PROMPT_MAX_UNTRUSTED };

			strbuf_init(&ss.blocks, 64);
			name = "schema";
			strbuf_addstr(&sec, "\n## Schema of the tables in the evidence\n");
			size_t before = sec.len;

			add_schema(&sec, o->catalog, in->evidence, &ss);
			strbuf_release(&ss.blocks);
			if (sec.len == before)
				continue;
			srep = ss.rep;
			sinj = ss.injection;
		} else if (part == 4 && rr.history > 0) {
			/* the least similar go first when it does not fit */
			name = "similar past incidents";
			for (keep = rr.n;; keep--) {
				strbuf_reset(&sec);
				memset(&srep, 0, sizeof(srep));
				sinj = 0;
				add_history(&sec, &rr, keep, &srep, &sinj);
				if (budget <= 0 || tok(sec.len) <= left || keep <= 1)
					break;
			}
			sfenced = rr.n > 0;
			if (keep < rr.n && tok(sec.len) <= left)
				note(tr, "similar past incidents: kept %zu of %zu", keep, rr.n);
		} else if (part == 5 && rr.nrb > 0) {
			name = "related runbooks";
			add_related(&sec, &rr);
		}
		if (!name)
			continue;
		if (budget > 0 && tok(sec.len) > left) {
			if (part == 2 && left > 32) {
				/* guidance is our own text: keep its start */
				size_t cut = (size_t)(left - 8) * 4;

				while (cut > 0 && ((unsigned char)sec.buf[cut] & 0xc0) == 0x80)
					cut--;
				sec.len = cut;
				sec.buf[cut] = '\0';
				strbuf_addstr(&sec, " [cut]\n");
				note(tr, "%s: cut to %zu bytes", name, cut);
			} else {
				note(tr, "%s: left out (%lld tokens, %lld left)", name,
				     (long long)tok(sec.len), (long long)(left > 0 ? left : 0));
				continue;
			}
		}
		strbuf_add(&user, sec.buf, sec.len);
		if (budget > 0)
			left -= tok(sec.len);
		redact_report_add(&out->redacted, &srep);
		out->injection |= sinj;
		out->nfenced += sfenced;
		if (part == 4) {
			out->recalled = keep;
			out->recall_history = rr.history;
		} else if (part == 5) {
			out->recalled_runbooks = rr.nrb;
		}
	}
	strbuf_release(&sec);
	recall_result_release(&rr);

	strbuf_addch(&user, '\n');
	strbuf_add(&user, actions.buf, actions.len);
	strbuf_release(&actions);
	strbuf_addstr(&user, "\nTruncated: ");
	if (json_array_size(tr) == 0) {
		strbuf_addstr(&user, "nothing.\n");
	} else {
		size_t i;
		json_t *e;

		json_array_foreach(tr, i, e)
			strbuf_addf(&user, "%s%s", i ? "; " : "", json_string_value(e));
		strbuf_addstr(&user, ".\n");
	}
	out->truncated = tr;
	out->tokens = tok(sys.len) + tok(user.len);
	out->system = strbuf_detach(&sys, NULL);
	out->user = strbuf_detach(&user, NULL);
	return 0;
}

void prompt_release(struct prompt *p)
{
	free(p->system);
	free(p->user);
	json_decref(p->truncated);
	memset(p, 0, sizeof(*p));
}

char *prompt_request_body(const struct prompt *p, const struct llm_opts *o, char *err,
			  size_t errlen)
{
	struct llm_request req = { .system = p->system, .user = p->user };

	return llm_request_body(o, &req, err, errlen);
}

json_t *prompt_meta_to_json(const struct prompt *p)
{
	return json_pack("{sI so so so sI s{sI sI sI}}", "tokens", (json_int_t)p->tokens,
			 "truncated", p->truncated ? json_incref(p->truncated) : json_array(),
			 "redacted", redact_report_to_json(&p->redacted), "injection",
			 redact_injection_to_json(p->injection), "fenced", (json_int_t)p->nfenced,
			 "recalled", "incidents", (json_int_t)p->recalled, "of",
			 (json_int_t)p->recall_history, "runbooks", (json_int_t)p->recalled_runbooks);
}
