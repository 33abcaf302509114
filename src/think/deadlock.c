/*
 * deadlock: the post-mortem of logged deadlocks and the live cycles of the
 * lock graph (see deadlock.h).
 *
 * What one 40P01 report tells: each process's current statement and whom
 * it waited for. The statement a process runs when it waits names what it
 * wanted; the process it waited for already held exactly that. So for P
 * waiting on Q: Q took "what P wants" first and "what Q wants" second. That
 * gives every participant's order without the earlier statements of the
 * transactions, which the log never shows.
 */
#include "think/deadlock.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/lockgraph.h"
#include "perceive/snapshot.h"
#include "think/pgq.h"

/* A constant or parameter as text ("2", "abc", "$1"), or NULL. */
static char *const_text(const json_t *node)
{
	json_t *body, *v;
	const char *kind = pgq_node_kind(node, &body);
	char buf[64];

	while (kind && strcmp(kind, "TypeCast") == 0)
		kind = pgq_node_kind(json_object_get(body, "arg"), &body);
	if (!kind)
		return NULL;
	if (strcmp(kind, "ParamRef") == 0) {
		snprintf(buf, sizeof(buf), "$%lld", (long long)json_integer_value(json_object_get(body, "number")));
		return xstrdup(buf);
	}
	if (strcmp(kind, "A_Const") != 0)
		return NULL;
	if ((v = json_object_get(body, "ival"))) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(json_object_get(v, "ival")));
		return xstrdup(buf);
	}
	if ((v = json_object_get(body, "sval")))
		return xstrdup(pgq_str(v, "sval") ? pgq_str(v, "sval") : "");
	if ((v = json_object_get(body, "fval")))
		return xstrdup(pgq_str(v, "fval") ? pgq_str(v, "fval") : "");
	if ((v = json_object_get(body, "boolval")))
		return xstrdup(json_is_true(json_object_get(v, "boolval")) ? "true" : "false");
	return NULL;
}

/* The column of a ColumnRef naming alias's relation (or unqualified), or NULL. */
static const char *key_column(const json_t *node, const char *alias, const char *rel)
{
	json_t *body, *fields;
	const char *kind = pgq_node_kind(node, &body), *qual;
	size_t n;

	while (kind && strcmp(kind, "TypeCast") == 0)
		kind = pgq_node_kind(json_object_get(body, "arg"), &body);
	if (!kind || strcmp(kind, "ColumnRef") != 0)
		return NULL;
	fields = json_object_get(body, "fields");
	n = json_array_size(fields);
	if (n == 0 || n > 3)
		return NULL;
	if (n >= 2) {
		qual = pgq_str(json_object_get(json_array_get(fields, n - 2), "String"), "sval");
		if (!qual || (strcmp(qual, alias) != 0 && strcmp(qual, rel) != 0))
			return NULL;
	}
	return pgq_str(json_object_get(json_array_get(fields, n - 1), "String"), "sval");
}

/* col = const terms of the top-level AND of where into key. */
static void where_key(json_t *key, const json_t *where, const char *alias, const char *rel)
{
	json_t *body, *v;
	const char *kind = pgq_node_kind(where, &body);
	size_t i;

	if (!kind)
		return;
	if (strcmp(kind, "BoolExpr") == 0) {
		if (strcmp(pgq_str(body, "boolop") ? pgq_str(body, "boolop") : "", "AND_EXPR") == 0)
			json_array_foreach(json_object_get(body, "args"), i, v)
				where_key(key, v, alias, rel);
		return;
	}
	if (strcmp(kind, "A_Expr") == 0 && strcmp(pgq_str(body, "kind") ? pgq_str(body, "kind") : "", "AEXPR_OP") == 0) {
		const char *op = pgq_str(json_object_get(json_array_get(json_object_get(body, "name"), 0), "String"), "sval");
		const json_t *l = json_object_get(body, "lexpr"), *r = json_object_get(body, "rexpr");
		const char *col = key_column(l, alias, rel);
		char *val = const_text(r);

		if (!col || !val) {
			free(val);
			col = key_column(r, alias, rel);
			val = const_text(l);
		}
		if (op && strcmp(op, "=") == 0 && col && val)
			json_object_set_new(key, col, json_string(val));
		free(val);
	}
}

static void add_rel(json_t *out, const json_t *rv, const char *action, const json_t *where)
{
	char *w = pgq_rangevar_name(rv);
	const char *alias = pgq_str(json_object_get(rv, "alias"), "aliasname");
	json_t *o;

	if (!w)
		return;
	o = json_pack("{s:s, s:s}", "relation", w, "action", action);
	if (where) {
		json_t *key = json_object();

		where_key(key, where, alias ? alias : pgq_str(rv, "relname"), pgq_str(rv, "relname"));
		if (json_object_size(key) > 0)
			json_object_set(o, "key", key);
		json_decref(key);
	}
	json_array_append_new(out, o);
	free(w);
}

static void from_rels(json_t *out, const json_t *node, const char *action, const json_t *where, bool single)
{
	json_t *body;
	const char *kind = pgq_node_kind(node, &body);

	if (!kind)
		return;
	if (strcmp(kind, "RangeVar") == 0)
		add_rel(out, body, action, single ? where : NULL);
	else if (strcmp(kind, "JoinExpr") == 0) {
		from_rels(out, json_object_get(body, "larg"), action, NULL, false);
		from_rels(out, json_object_get(body, "rarg"), action, NULL, false);
	}
}

static const char *lock_mode_name(json_int_t m)
{
	static const char *const names[] = {
		"", "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
		"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE",
	};

	return m >= 1 && m <= 8 ? names[m] : "ACCESS EXCLUSIVE";
}

static void stmt_rels(json_t *out, const char *kind, const json_t *body)
{
	json_t *v, *sb;
	size_t i;

	if (strcmp(kind, "UpdateStmt") == 0 || strcmp(kind, "DeleteStmt") == 0) {
		add_rel(out, json_object_get(body, "relation"), strcmp(kind, "UpdateStmt") == 0 ? "update" : "delete",
			json_object_get(body, "whereClause"));
	} else if (strcmp(kind, "InsertStmt") == 0) {
		add_rel(out, json_object_get(body, "relation"), "insert", NULL);
	} else if (strcmp(kind, "LockStmt") == 0) {
		char action[48];

		snprintf(action, sizeof(action), "lock %s", lock_mode_name(json_integer_value(json_object_get(body, "mode"))));
		json_array_foreach(json_object_get(body, "relations"), i, v) {
			const char *k = pgq_node_kind(v, &sb);

			if (k && strcmp(k, "RangeVar") == 0)
				add_rel(out, sb, action, NULL);
		}
	} else if (strcmp(kind, "SelectStmt") == 0) {
		json_t *lc = json_object_get(body, "lockingClause"), *from = json_object_get(body, "fromClause");
		json_t *where = json_object_get(body, "whereClause");
		bool single = json_array_size(from) == 1;

		json_array_foreach(lc, i, v) {
			json_t *c = json_object_get(v, "LockingClause"), *r;
			const char *st = pgq_str(c, "strength");
			const char *action = !st ? "select for update" :
				strcmp(st, "LCS_FORKEYSHARE") == 0 ? "select for key share" :
				strcmp(st, "LCS_FORSHARE") == 0 ? "select for share" :
				strcmp(st, "LCS_FORNOKEYUPDATE") == 0 ? "select for no key update" : "select for update";
			json_t *locked = json_object_get(c, "lockedRels");
			size_t k;

			if (json_array_size(locked) > 0) {
				json_array_foreach(locked, k, r) {
					const char *rk = pgq_node_kind(r, &sb);

					if (rk && strcmp(rk, "RangeVar") == 0) {
						/* FOR UPDATE OF alias: find the relation it names. */
						size_t f;
						json_t *fi, *fb;
						bool found = false;

						json_array_foreach(from, f, fi) {
							const char *fk = pgq_node_kind(fi, &fb);
							const char *al = pgq_str(json_object_get(fb, "alias"), "aliasname");

							if (fk && strcmp(fk, "RangeVar") == 0 &&
							    (strcmp(al ? al : pgq_str(fb, "relname"), pgq_str(sb, "relname")) == 0)) {
								add_rel(out, fb, action, single ? where : NULL);
								found = true;
							}
						}
						if (!found)
							add_rel(out, sb, action, NULL);
					}
				}
			} else {
				json_array_foreach(from, k, r)
					from_rels(out, r, action, where, single);
			}
		}
	}
	/* WITH clauses may lock too (WITH x AS (UPDATE ...)). */
	json_array_foreach(json_object_get(json_object_get(body, "withClause"), "ctes"), i, v) {
		const char *ck = pgq_node_kind(json_object_get(json_object_get(v, "CommonTableExpr"), "ctequery"), &sb);

		if (ck)
			stmt_rels(out, ck, sb);
	}
}

json_t *deadlock_statement_relations(const char *sql)
{
	PgQueryParseResult r = pg_query_parse(sql);
	json_t *tree, *out = NULL, *st, *body;
	size_t i;

	if (r.error) {
		pg_query_free_parse_result(r);
		return NULL;
	}
	tree = json_loads(r.parse_tree, 0, NULL);
	pg_query_free_parse_result(r);
	if (!tree)
		return NULL;
	out = json_array();
	json_array_foreach(json_object_get(tree, "stmts"), i, st) {
		const char *kind = pgq_node_kind(json_object_get(st, "stmt"), &body);

		if (kind)
			stmt_rels(out, kind, body);
	}
	json_decref(tree);
	return out;
}

/* ---------------------------------------------------------------------------
 * Reports.
 */

/* pg_query_fingerprint of sql as hex text (owned), or NULL. */
static char *fingerprint(const char *sql)
{
	PgQueryFingerprintResult r;
	char *out = NULL;

	if (!sql)
		return NULL;
	r = pg_query_fingerprint(sql);
	if (!r.error && r.fingerprint_str)
		out = xstrdup(r.fingerprint_str);
	pg_query_free_fingerprint_result(r);
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The statements' fingerprints, sorted and joined with '+': the same for
 * the same statements whatever their constants and order. */
static char *pair_fingerprint(const char *const *stmts, size_t n)
{
	char **fps = xcalloc(n ? n : 1, sizeof(*fps));
	struct strbuf sb;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		fps[k] = fingerprint(stmts[i]);
		fps[k] = fps[k] ? fps[k] : xstrdup("unknown");
		k++;
	}
	qsort(fps, k, sizeof(*fps), cmp_str);
	strbuf_init(&sb, 64);
	for (size_t i = 0; i < k; i++) {
		strbuf_addf(&sb, "%s%s", i ? "+" : "", fps[i]);
		free(fps[i]);
	}
	free(fps);
	return strbuf_detach(&sb, NULL);
}

/* The resource a participant wanted: the relation its statement writes or
 * locks (entry, with the row key when pinned), else rel, the relation of
 * the lock it waited for. Sets *table (borrowed from entry or rel) and
 * returns a label ("accounts(id=2)"), owned; NULL when neither is known. */
static char *resource(const json_t *entry, const char *rel, const char **table)
{
	json_t *key;
	struct strbuf sb;
	const char *k;
	json_t *v;
	bool first = true;

	*table = entry ? pgq_str(entry, "relation") : rel;
	if (!*table)
		return NULL;
	strbuf_init(&sb, 48);
	strbuf_addstr(&sb, *table);
	key = json_object_get(entry, "key");
	if (json_object_size(key) > 0) {
		strbuf_addch(&sb, '(');
		json_object_foreach(key, k, v) {
			strbuf_addf(&sb, "%s%s=%s", first ? "" : ",", k, json_string_value(v));
			first = false;
		}
		strbuf_addch(&sb, ')');
	}
	return strbuf_detach(&sb, NULL);
}

/* Does relation as written ("public.t" or "t") name rel ("t")? */
static bool names_rel(const char *written_rel, const char *rel)
{
	const char *dot = strrchr(written_rel, '.');

	return strcmp(written_rel, rel) == 0 || (dot && strcmp(dot + 1, rel) == 0);
}

struct part {
	int pid;
	int waits_for;
	const char *statement;
	json_t *rels;           /* owned, or NULL */
	char *want;             /* owned label, or NULL */
	const char *want_table; /* borrowed */
	const char *hint;       /* borrowed: relation the lock or CONTEXT names, or NULL */
	const char *key_col;    /* borrowed: first key column, or NULL */
};

/* Analyse one cycle (a report or a live cycle) into a JSON report body:
 * procs[] with relations and their orders, fingerprint. */
static json_t *cycle_json(struct part *p, size_t n)
{
	json_t *procs = json_array(), *out = json_object();
	const char **stmts = xcalloc(n ? n : 1, sizeof(*stmts));
	char *fp;

	for (size_t i = 0; i < n; i++) {
		p[i].rels = p[i].statement ? deadlock_statement_relations(p[i].statement) : NULL;
		stmts[i] = p[i].statement;
	}
	for (size_t i = 0; i < n; i++) {
		size_t nrels = json_array_size(p[i].rels);
		json_t *entry = NULL, *key, *e;
		size_t k;

		if (p[i].want)
			continue;
		/* A text of several statements (a multi-statement query string)
		 * names several relations: the one the lock or the CONTEXT line
		 * names, else the last one (the statement that ran last). */
		if (nrels > 1 && p[i].hint)
			json_array_foreach(p[i].rels, k, e)
				if (!entry && names_rel(pgq_str(e, "relation"), p[i].hint))
					entry = e;
		if (!entry && nrels > 0)
			entry = json_array_get(p[i].rels, nrels - 1);
		p[i].want = resource(entry, p[i].hint, &p[i].want_table);
		key = json_object_get(entry, "key");
		if (json_object_size(key) > 0) {
			const char *kn;

			json_object_foreach(key, kn, e) {
				p[i].key_col = kn;
				break;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:i, s:s?, s:O?}", "pid", p[i].pid, "statement", p[i].statement,
				      "relations", p[i].rels);
		const char *held = NULL;

		if (p[i].waits_for)
			json_object_set_new(o, "waits_for", json_integer(p[i].waits_for));
		/* What p[i] holds: what its waiter wants. */
		for (size_t k = 0; k < n; k++)
			if (p[k].waits_for == p[i].pid && p[k].want)
				held = p[k].want;
		if (p[i].want)
			json_object_set_new(o, "wants", json_string(p[i].want));
		if (held) {
			json_object_set_new(o, "holds", json_string(held));
			if (p[i].want)
				json_object_set_new(o, "order", json_pack("[s,s]", held, p[i].want));
		}
		json_array_append_new(procs, o);
	}
	fp = pair_fingerprint(stmts, n);
	json_object_set_new(out, "procs", procs);
	json_object_set_new(out, "fingerprint", json_string(fp));
	free(fp);
	free(stmts);
	return out;
}

static void parts_release(struct part *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(p[i].rels);
		free(p[i].want);
	}
	free(p);
}

/* Table of a resource label ("accounts(id=2)" -> "accounts"), owned. */
static char *label_table(const char *label)
{
	const char *paren = strchr(label, '(');

	return paren ? xstrndup(label, (size_t)(paren - label)) : xstrdup(label);
}

static void add_unique(json_t *arr, json_t *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
		if (json_equal(x, v)) {
			json_decref(v);
			return;
		}
	json_array_append_new(arr, v);
}

/* Fill pair's tables, orders and recommendation from one analysed cycle. */
static void pair_absorb(json_t *pair, const json_t *cycle)
{
	json_t *tables = json_object_get(pair, "tables"), *orders = json_object_get(pair, "orders");
	json_t *rows = json_object_get(pair, "row_orders"), *p;
	size_t i;

	json_array_foreach(json_object_get(cycle, "procs"), i, p) {
		json_t *ord = json_object_get(p, "order");
		const char *a, *b;
		char *ta, *tb;

		if (json_array_size(ord) != 2)
			continue;
		a = json_string_value(json_array_get(ord, 0));
		b = json_string_value(json_array_get(ord, 1));
		ta = label_table(a);
		tb = label_table(b);
		add_unique(tables, json_string(ta));
		add_unique(tables, json_string(tb));
		if (strcmp(ta, tb) != 0)
			add_unique(orders, json_pack("[s,s]", ta, tb));
		else
			add_unique(rows, json_pack("[s,s]", a, b));
		free(ta);
		free(tb);
	}
}

static void recommend(json_t *pair, const char *key_col)
{
	json_t *tables = json_object_get(pair, "tables"), *orders = json_object_get(pair, "orders");
	json_t *rows = json_object_get(pair, "row_orders"), *o;
	struct strbuf sb;
	size_t i, n = json_array_size(tables);
	const char **sorted;

	strbuf_init(&sb, 256);
	if (json_array_size(orders) > 0) {
		sorted = xcalloc(n, sizeof(*sorted));
		for (i = 0; i < n; i++)
			sorted[i] = json_string_value(json_array_get(tables, i));
		qsort(sorted, n, sizeof(*sorted), cmp_str);
		strbuf_addstr(&sb, "transactions lock the same tables in conflicting orders (");
		json_array_foreach(orders, i, o)
			strbuf_addf(&sb, "%s%s then %s", i ? "; " : "", json_string_value(json_array_get(o, 0)),
				    json_string_value(json_array_get(o, 1)));
		strbuf_addstr(&sb, "): take locks on ");
		for (i = 0; i < n; i++)
			strbuf_addf(&sb, "%s%s", i == 0 ? "" : i + 1 == n ? " before " : ", before ", sorted[i]);
		strbuf_addstr(&sb, " in every transaction");
		json_object_set_new(pair, "consistent_order", json_array());
		for (i = 0; i < n; i++)
			json_array_append_new(json_object_get(pair, "consistent_order"), json_string(sorted[i]));
		free(sorted);
	} else if (json_array_size(rows) > 0) {
		const char *t = json_string_value(json_array_get(tables, 0));

		strbuf_addf(&sb, "transactions lock rows of %s in conflicting orders (", t);
		json_array_foreach(rows, i, o)
			strbuf_addf(&sb, "%s%s then %s", i ? "; " : "", json_string_value(json_array_get(o, 0)),
				    json_string_value(json_array_get(o, 1)));
		if (key_col)
			strbuf_addf(&sb, "): lock the rows in ascending %s order in every transaction "
				    "(e.g. SELECT ... FROM %s WHERE %s = ANY(...) ORDER BY %s FOR UPDATE first)",
				    key_col, t, key_col, key_col);
		else
			strbuf_addstr(&sb, "): lock the rows in one fixed order (by primary key) in every transaction");
		json_object_set_new(pair, "consistent_order", json_pack("[s]", t));
	} else {
		strbuf_addstr(&sb, "the participants' statements do not show which tables they locked "
				   "(log_min_error_statement above error?): make every transaction take its "
				   "locks in one fixed order and keep transactions short");
	}
	json_object_set_new(pair, "recommendation", json_string(sb.buf));
	strbuf_release(&sb);
}

static json_t *pair_find(json_t *pairs, const char *fp)
{
	size_t i;
	json_t *p;

	json_array_foreach(pairs, i, p)
		if (strcmp(pgq_str(p, "fingerprint"), fp) == 0)
			return p;
	return NULL;
}

static json_t *pair_new(json_t *pairs, const char *fp)
{
	json_t *p = json_pack("{s:s, s:i, s:i, s:[], s:[], s:[]}", "fingerprint", fp, "count", 0,
			      "seen_total", 0, "tables", "orders", "row_orders");

	json_array_append_new(pairs, p);
	return p;
}

static void role_add(json_t *counts, const char *user)
{
	if (!user || !*user)
		return;
	json_object_set_new(counts, user, json_integer(json_integer_value(json_object_get(counts, user)) + 1));
}

/* The relation a CONTEXT line names ("while updating tuple (0,2) in
 * relation \"accounts\""), copied into buf; NULL when none. */
static const char *context_relation(struct strbuf *buf, const char *context)
{
	const char *q = context ? strstr(context, "relation \"") : NULL, *end;

	if (!q)
		return NULL;
	q += strlen("relation \"");
	end = strchr(q, '"');
	if (!end)
		return NULL;
	strbuf_reset(buf);
	strbuf_add(buf, q, (size_t)(end - q));
	return buf->buf;
}

/* Parts of a logged report. */
static struct part *report_parts(const struct snap_deadlock *d, struct strbuf *ar)
{
	struct part *p = xcalloc(d->nprocs ? d->nprocs : 1, sizeof(*p));

	for (size_t i = 0; i < d->nprocs; i++) {
		const struct snap_deadlock_proc *sp = &d->procs[i];

		p[i].pid = sp->pid;
		p[i].waits_for = sp->blocked_by;
		p[i].statement = sp->statement ? sp->statement : sp->pid == d->pid ? d->statement : NULL;
		p[i].hint = sp->relation;
		if (!p[i].hint && sp->pid == d->pid)
			p[i].hint = context_relation(ar, d->context);
	}
	return p;
}

static json_t *live_cycles(const struct snapshot *s, json_t *pairs, json_t *rolecount, json_t **victim)
{
	const struct lockgraph *g = s->locks;
	json_t *out = json_array();

	*victim = NULL;
	if (!g)
		return out;
	for (size_t c = 0; c < g->ncycles; c++) {
		const struct lockgraph_cycle *cy = &g->cycles[c];
		struct part *p = xcalloc(cy->count ? cy->count : 1, sizeof(*p));
		json_t *pids = json_array(), *cj, *pair, *young = NULL;
		double ystart = -1;
		const char *key_col = NULL;

		for (size_t k = 0; k < cy->count; k++) {
			const struct lockgraph_node *nd = &g->nodes[g->cycle_nodes[cy->first + k]];
			size_t si = snapshot_find_session(s, nd->pid);

			p[k].pid = nd->pid;
			json_array_append_new(pids, json_integer(nd->pid));
			/* Whom it waits for inside the cycle. */
			for (size_t e = nd->out_first; e < nd->out_first + nd->out_count; e++) {
				size_t bi = lockgraph_find(g, g->edges[e].blocker);

				if (bi != SIZE_MAX && g->nodes[bi].cycle == (int)c) {
					p[k].waits_for = g->edges[e].blocker;
					p[k].hint = g->edges[e].relation;
					break;
				}
			}
			if (si != SIZE_MAX) {
				const struct snap_session *ss = &s->sessions[si];

				p[k].statement = ss->query;
				role_add(rolecount, ss->user);
				if (ss->xact_start > ystart) {
					ystart = ss->xact_start;
					json_decref(young);
					young = json_pack("{s:i, s:[i], s:f, s:f, s:s?, s:s?, s:s?}", "pid", ss->pid,
							  "pids", ss->pid, "xact_start", ss->xact_start,
							  "xact_age_s", s->collected_at - ss->xact_start,
							  "user", ss->user, "application", ss->application,
							  "query", ss->query);
				}
			}
		}
		cj = cycle_json(p, cy->count);
		for (size_t k = 0; k < cy->count; k++)
			if (p[k].key_col)
				key_col = p[k].key_col;
		json_object_set_new(cj, "pids", pids);
		if (young)
			json_object_set(cj, "youngest", young);
		pair = pair_find(pairs, pgq_str(cj, "fingerprint"));
		if (!pair)
			pair = pair_new(pairs, pgq_str(cj, "fingerprint"));
		json_object_set_new(pair, "live", json_true());
		pair_absorb(pair, cj);
		recommend(pair, key_col);
		if (young && !*victim)
			*victim = json_incref(young);
		json_decref(young);
		json_array_append_new(out, cj);
		parts_release(p, cy->count);
	}
	return out;
}

json_t *deadlock_analyze(const struct snapshot *s, double window_s)
{
	json_t *reports = json_array(), *pairs = json_array(), *rolecount = json_object(), *fps = json_array();
	json_t *live, *victim, *out, *cyc, *roles, *v;
	size_t count = 0, i;
	const char *k, *top_role = NULL;
	json_int_t top = 0;

	if (!s) {
		json_decref(reports);
		json_decref(pairs);
		json_decref(rolecount);
		json_decref(fps);
		return NULL;
	}
	for (i = 0; i < s->ndeadlocks; i++) {
		const struct snap_deadlock *d = &s->deadlocks[i];
		bool in_window = window_s <= 0 || d->at <= 0 || d->at >= s->collected_at - window_s;
		struct strbuf ctxrel;
		struct part *p;
		json_t *cj, *pair;
		const char *key_col = NULL;

		strbuf_init(&ctxrel, 32);
		p = report_parts(d, &ctxrel);
		cj = cycle_json(p, d->nprocs);

		for (size_t n = 0; n < d->nprocs; n++)
			if (p[n].key_col)
				key_col = p[n].key_col;
		pair = pair_find(pairs, pgq_str(cj, "fingerprint"));
		if (!pair && in_window)
			pair = pair_new(pairs, pgq_str(cj, "fingerprint"));
		json_array_append_new(fps, json_string(pgq_str(cj, "fingerprint")));
		if (pair && in_window) {
			json_object_set_new(pair, "count",
					    json_integer(json_integer_value(json_object_get(pair, "count")) + 1));
			json_object_set_new(pair, "last_at", json_real(d->at));
			pair_absorb(pair, cj);
			recommend(pair, key_col);
		}
		if (in_window) {
			json_object_set_new(cj, "at", json_real(d->at));
			json_object_set_new(cj, "pid", json_integer(d->pid));
			if (d->user)
				json_object_set_new(cj, "user", json_string(d->user));
			if (d->database)
				json_object_set_new(cj, "database", json_string(d->database));
			if (d->application)
				json_object_set_new(cj, "application", json_string(d->application));
			if (d->context)
				json_object_set_new(cj, "context", json_string(d->context));
			role_add(rolecount, d->user);
			json_array_append(reports, cj);
			count++;
		}
		json_decref(cj);
		parts_release(p, d->nprocs);
		strbuf_release(&ctxrel);
	}
	/* How often each pair recurs across every kept report, old ones too. */
	json_array_foreach(fps, i, v) {
		json_t *pair = pair_find(pairs, json_string_value(v));

		if (pair)
			json_object_set_new(pair, "seen_total",
					    json_integer(json_integer_value(json_object_get(pair, "seen_total")) + 1));
	}
	json_decref(fps);
	live = live_cycles(s, pairs, rolecount, &victim);
	if (count == 0 && json_array_size(live) == 0) {
		json_decref(reports);
		json_decref(pairs);
		json_decref(rolecount);
		json_decref(live);
		json_decref(victim);
		return NULL;
	}
	out = json_object();
	json_object_set_new(out, "reports", reports);
	json_object_set_new(out, "pairs", pairs);
	cyc = json_array();
	json_array_foreach(live, i, v)
		json_array_append(cyc, json_object_get(v, "pids"));
	json_object_set_new(out, "live_cycles", cyc);
	json_object_set_new(out, "live", live);
	if (victim)
		json_object_set_new(out, "victim", victim);
	roles = json_array();
	json_object_foreach(rolecount, k, v) {
		json_array_append_new(roles, json_string(k));
		if (json_integer_value(v) > top) {
			top = json_integer_value(v);
			top_role = k;
		}
	}
	json_object_set_new(out, "roles", roles);
	if (top_role)
		json_object_set_new(out, "role", json_string(top_role));
	json_decref(rolecount);
	json_object_set_new(out, "count", json_integer((json_int_t)count));
	json_object_set_new(out, "live_count", json_integer((json_int_t)json_array_size(cyc)));
	{
		json_t *topp = NULL, *pp;

		json_array_foreach(pairs, i, pp)
			if (!topp || json_integer_value(json_object_get(pp, "count")) >
				     json_integer_value(json_object_get(topp, "count")))
				topp = pp;
		if (topp)
			json_object_set(out, "top", topp);
	}
	return out;
}
