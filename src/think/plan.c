/*
 * plan: EXPLAIN of a normalised statement, Seq Scans with a filter on large
 * tables, candidate columns and HypoPG what-if estimates (see plan.h).
 *
 * The flow of plan_analyze():
 *   1. parse the text with libpg_query: one SELECT / UPDATE / DELETE /
 *      INSERT ... SELECT, its highest $n, its WHERE/JOIN columns;
 *   2. BEGIN READ ONLY, SET LOCAL statement_timeout, lock_timeout and
 *      plan_cache_mode = force_generic_plan; PREPARE; EXPLAIN (FORMAT JSON,
 *      VERBOSE) EXECUTE with NULL for every parameter (a generic plan never
 *      looks at them; VERBOSE gives the schema and alias-qualified columns);
 *   3. the scans of the plan, the catalog facts of their tables (size,
 *      columns, indexes) in one query per table;
 *   4. per candidate: hypopg_create_index, PREPARE again (a prepared
 *      statement keeps its cached generic plan, so the what-if needs a new
 *      one), EXPLAIN, hypopg_reset;
 *   5. ROLLBACK, DEALLOCATE (prepared statements outlive transactions).
 */
#include "think/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "core/mem.h"
#include "core/strbuf.h"
#include "think/pgq.h"

#define PLAN_DEFAULT_MIN_COST   100.0
#define PLAN_DEFAULT_MIN_GAIN   0.5
#define PLAN_DEFAULT_TIMEOUT_MS 5000
#define PLAN_DEFAULT_MIN_ROWS   10000.0
#define PLAN_MAX_COLUMNS        8      /* single-column tries per table */
#define PLAN_PAIR_SEEDS         3      /* best singles combined into pairs */
#define PLAN_TRIM_DEPTH         12
#define PLAN_TRIM_NODES         200
#define PLAN_TRIM_STRING        300

/* ---------------------------------------------------------------------------
 * libpg_query parse trees (JSON): every node is {"TypeName": {fields}}.
 */

struct scope_rel {
	const char *alias;    /* borrowed from the parse tree; alias or relname */
	char *written;        /* owned: "schema.rel" or "rel" as written */
};

struct scope {
	struct scope_rel *v;
	size_t n, alloc;
	const struct scope *outer;
};

static void scope_release(struct scope *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].written);
	free(s->v);
}

static void scope_add_rangevar(struct scope *s, const json_t *rv)
{
	const char *alias = pgq_str(json_object_get(rv, "alias"), "aliasname");
	char *w = pgq_rangevar_name(rv);

	if (!w)
		return;
	xgrow((void **)&s->v, &s->alloc, s->n + 1, sizeof(*s->v));
	s->v[s->n].alias = alias ? alias : pgq_str(rv, "relname");
	s->v[s->n].written = w;
	s->n++;
}

static void add_unique(json_t *arr, const char *str)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), str) == 0)
			return;
	json_array_append_new(arr, json_string(str));
}

static void add_column(json_t *out, const char *rel, const char *col)
{
	json_t *arr = json_object_get(out, rel);

	if (!arr) {
		arr = json_array();
		json_object_set_new(out, rel, arr);
	}
	add_unique(arr, col);
}

/* A ColumnRef (under any casts) resolved against the scopes into out. */
static bool add_columnref(json_t *out, const json_t *node, const struct scope *sc)
{
	json_t *body, *fields;
	const char *kind = pgq_node_kind(node, &body);
	const char *col, *qual = NULL;
	size_t n;

	while (kind && strcmp(kind, "TypeCast") == 0)
		kind = pgq_node_kind(json_object_get(body, "arg"), &body);
	if (!kind || strcmp(kind, "ColumnRef") != 0)
		return false;
	fields = json_object_get(body, "fields");
	n = json_array_size(fields);
	if (n == 0)
		return false;
	col = pgq_str(json_object_get(json_array_get(fields, n - 1), "String"), "sval");
	if (!col)
		return false;    /* t.* */
	if (n >= 2)
		qual = pgq_str(json_object_get(json_array_get(fields, n - 2), "String"), "sval");
	for (const struct scope *s = sc; s; s = s->outer) {
		if (qual) {
			for (size_t i = 0; i < s->n; i++) {
				const char *w = s->v[i].written, *dot = strrchr(w, '.');

				if (strcmp(s->v[i].alias, qual) == 0 ||
				    strcmp(w, qual) == 0 || (dot && strcmp(dot + 1, qual) == 0)) {
					add_column(out, w, col);
					return true;
				}
			}
		} else if (s->n > 0) {
			/* Unqualified in a scope of several relations: listed
			 * under each; the catalog decides which has it. */
			for (size_t i = 0; i < s->n; i++)
				add_column(out, s->v[i].written, col);
			return true;
		}
	}
	return true;
}

/* Something a column may be compared with: a constant, a parameter, another
 * column, a list or a subquery of those (casts allowed). */
static bool comparable(const json_t *node)
{
	json_t *body;
	const char *kind = pgq_node_kind(node, &body);

	while (kind && strcmp(kind, "TypeCast") == 0)
		kind = pgq_node_kind(json_object_get(body, "arg"), &body);
	if (!kind)
		return json_is_array(node) && json_array_size(node) > 0;
	if (strcmp(kind, "A_Const") == 0 || strcmp(kind, "ParamRef") == 0 ||
	    strcmp(kind, "ColumnRef") == 0 || strcmp(kind, "SubLink") == 0 ||
	    strcmp(kind, "A_ArrayExpr") == 0)
		return true;
	if (strcmp(kind, "List") == 0)
		return true;
	return false;
}

static void walk_stmt(json_t *out, const char *kind, const json_t *body, const struct scope *outer);

static void walk_expr(json_t *out, const json_t *node, const struct scope *sc)
{
	json_t *body, *v;
	const char *kind = pgq_node_kind(node, &body);
	size_t i;

	if (!kind)
		return;
	if (strcmp(kind, "BoolExpr") == 0) {
		json_array_foreach(json_object_get(body, "args"), i, v)
			walk_expr(out, v, sc);
	} else if (strcmp(kind, "A_Expr") == 0) {
		const json_t *l = json_object_get(body, "lexpr"), *r = json_object_get(body, "rexpr");
		bool lc = comparable(l), rc = comparable(r);

		if (lc && rc) {
			add_columnref(out, l, sc);
			add_columnref(out, r, sc);
		}
		walk_expr(out, l, sc);
		walk_expr(out, r, sc);
	} else if (strcmp(kind, "NullTest") == 0) {
		add_columnref(out, json_object_get(body, "arg"), sc);
	} else if (strcmp(kind, "SubLink") == 0) {
		json_t *sb;
		const char *sk = pgq_node_kind(json_object_get(body, "subselect"), &sb);

		if (json_object_get(body, "testexpr"))
			add_columnref(out, json_object_get(body, "testexpr"), sc);
		if (sk)
			walk_stmt(out, sk, sb, sc);
	}
}

/* Relations of a FROM list into sc; JOIN ... ON conditions collected later
 * (their columns may name relations listed after them). */
static void from_item(json_t *out, const json_t *node, struct scope *sc, json_t *quals)
{
	json_t *body;
	const char *kind = pgq_node_kind(node, &body);

	if (!kind)
		return;
	if (strcmp(kind, "RangeVar") == 0) {
		scope_add_rangevar(sc, body);
	} else if (strcmp(kind, "JoinExpr") == 0) {
		from_item(out, json_object_get(body, "larg"), sc, quals);
		from_item(out, json_object_get(body, "rarg"), sc, quals);
		if (json_object_get(body, "quals"))
			json_array_append(quals, json_object_get(body, "quals"));
	} else if (strcmp(kind, "RangeSubselect") == 0) {
		json_t *sb;
		const char *sk = pgq_node_kind(json_object_get(body, "subquery"), &sb);

		if (sk)
			walk_stmt(out, sk, sb, sc->outer);
	}
}

static void walk_stmt(json_t *out, const char *kind, const json_t *body, const struct scope *outer)
{
	struct scope sc = { .outer = outer };
	json_t *quals = json_array(), *v, *where = NULL;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(body, "withClause"), "ctes"), i, v) {
		json_t *cb;
		const char *ck = pgq_node_kind(json_object_get(json_object_get(v, "CommonTableExpr"),
							   "ctequery"), &cb);

		if (ck)
			walk_stmt(out, ck, cb, outer);
	}
	if (strcmp(kind, "SelectStmt") == 0) {
		json_t *l = json_object_get(body, "larg"), *r = json_object_get(body, "rarg");

		if (l && r) {
			walk_stmt(out, "SelectStmt", l, outer);
			walk_stmt(out, "SelectStmt", r, outer);
			goto done;
		}
		json_array_foreach(json_object_get(body, "fromClause"), i, v)
			from_item(out, v, &sc, quals);
		where = json_object_get(body, "whereClause");
	} else if (strcmp(kind, "UpdateStmt") == 0 || strcmp(kind, "DeleteStmt") == 0) {
		json_t *rel = json_object_get(body, "relation");

		if (rel)
			scope_add_rangevar(&sc, rel);
		json_array_foreach(json_object_get(body, strcmp(kind, "UpdateStmt") == 0 ?
						   "fromClause" : "usingClause"), i, v)
			from_item(out, v, &sc, quals);
		where = json_object_get(body, "whereClause");
	} else if (strcmp(kind, "InsertStmt") == 0) {
		json_t *sb;
		const char *sk = pgq_node_kind(json_object_get(body, "selectStmt"), &sb);

		if (sk)
			walk_stmt(out, sk, sb, outer);
		goto done;
	} else {
		goto done;
	}
	json_array_foreach(quals, i, v)
		walk_expr(out, v, &sc);
	if (where)
		walk_expr(out, where, &sc);
done:
	json_decref(quals);
	scope_release(&sc);
}

/* Parse sql; the "stmts" array (new reference) or NULL with the message. */
static json_t *parse_stmts(const char *sql, char *msg, size_t msglen)
{
	PgQueryParseResult r = pg_query_parse(sql);
	json_t *tree = NULL, *stmts = NULL;

	if (r.error) {
		snprintf(msg, msglen, "%s", r.error->message);
		goto out;
	}
	tree = json_loads(r.parse_tree, 0, NULL);
	stmts = json_incref(json_object_get(tree, "stmts"));
	if (!stmts)
		snprintf(msg, msglen, "empty statement");
out:
	json_decref(tree);
	pg_query_free_parse_result(r);
	return stmts;
}

json_t *plan_clause_columns(const char *query)
{
	char msg[256];
	json_t *stmts = parse_stmts(query, msg, sizeof(msg)), *out, *st, *body;
	size_t i;

	if (!stmts)
		return NULL;
	out = json_object();
	json_array_foreach(stmts, i, st) {
		const char *kind = pgq_node_kind(json_object_get(st, "stmt"), &body);

		if (kind)
			walk_stmt(out, kind, body, NULL);
	}
	json_decref(stmts);
	return out;
}

/* Highest ParamRef number anywhere in the tree. */
static int max_param(const json_t *node)
{
	int m = 0;

	if (json_is_object(node)) {
		const char *k;
		json_t *v;

		json_object_foreach((json_t *)node, k, v) {
			int x;

			if (strcmp(k, "ParamRef") == 0)
				x = (int)json_integer_value(json_object_get(v, "number"));
			else
				x = max_param(v);
			if (x > m)
				m = x;
		}
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;

		json_array_foreach(node, i, v) {
			int x = max_param(v);

			if (x > m)
				m = x;
		}
	}
	return m;
}

/* Which statements plan_analyze explains; NULL when it can, else why not. */
static const char *explainable(const char *kind, const json_t *body)
{
	if (strcmp(kind, "SelectStmt") == 0)
		return json_object_get(body, "intoClause") ? "SELECT INTO creates a table" : NULL;
	if (strcmp(kind, "UpdateStmt") == 0 || strcmp(kind, "DeleteStmt") == 0)
		return NULL;
	if (strcmp(kind, "InsertStmt") == 0) {
		json_t *sb;
		const char *sk = pgq_node_kind(json_object_get(body, "selectStmt"), &sb);

		if (sk && strcmp(sk, "SelectStmt") == 0 && json_object_get(sb, "fromClause"))
			return NULL;
		return "INSERT without a SELECT ... FROM reads no table";
	}
	return "only SELECT, UPDATE, DELETE and INSERT ... SELECT are analysed";
}

/* ---------------------------------------------------------------------------
 * The session: one read-only transaction, a prepared statement, HypoPG.
 */

struct session {
	PGconn *conn;
	const char *query;
	int nparams;
	char name[48];          /* prepared statement */
	bool prepared;
	bool in_xact;
	bool hypo_used;
	char *hypo_schema;      /* owned: quoted schema of the hypopg functions, or NULL */
	char *err;
	size_t errlen;
};

/* Run sql, tagged as the plan's unless it carries a tag of its own. */
static bool run(struct session *s, const char *sql, const char *what)
{
	struct strbuf tagged = STRBUF_INIT;
	PGresult *r;
	bool ok;

	if (strncmp(sql, "/*", 2) != 0) {
		strbuf_addf(&tagged, "/* cockpit plan */ %s", sql);
		sql = tagged.buf;
	}
	r = PQexec(s->conn, sql);
	strbuf_release(&tagged);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(s->err, s->errlen, "plan: %s failed: %s", what,
			 PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
	PQclear(r);
	return ok;
}

static bool deallocate(struct session *s)
{
	char sql[96];

	if (!s->prepared)
		return true;
	snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
	s->prepared = false;
	return run(s, sql, "DEALLOCATE");
}

static bool prepare(struct session *s)
{
	struct strbuf sb;
	bool ok;

	if (!deallocate(s))
		return false;
	strbuf_init(&sb, strlen(s->query) + 64);
	strbuf_addf(&sb, "PREPARE %s AS %s", s->name, s->query);
	ok = run(s, sb.buf, "PREPARE of the statement");
	strbuf_release(&sb);
	s->prepared = ok;
	return ok;
}

/* EXPLAIN the prepared statement; the "Plan" object (new reference). */
static json_t *explain(struct session *s)
{
	struct strbuf sb;
	PGresult *r;
	json_t *doc, *plan = NULL;

	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "/* cockpit plan */ EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE %s", s->name);
	if (s->nparams > 0) {
		strbuf_addch(&sb, '(');
		for (int i = 0; i < s->nparams; i++)
			strbuf_addstr(&sb, i ? ", NULL" : "NULL");
		strbuf_addch(&sb, ')');
	}
	r = PQexec(s->conn, sb.buf);
	strbuf_release(&sb);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
		snprintf(s->err, s->errlen, "plan: EXPLAIN failed: %s", PQresultErrorMessage(r));
		PQclear(r);
		return NULL;
	}
	doc = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	plan = json_incref(json_object_get(json_array_get(doc, 0), "Plan"));
	json_decref(doc);
	if (!plan)
		snprintf(s->err, s->errlen, "plan: EXPLAIN returned no plan");
	return plan;
}

static double plan_cost(const json_t *plan)
{
	return json_number_value(json_object_get(plan, "Total Cost"));
}

/* Find the installed hypopg's schema (quoted); false when not installed. */
static bool hypopg_find(struct session *s)
{
	PGresult *r = PQexec(s->conn, "/* cockpit plan */ SELECT quote_ident(n.nspname) FROM pg_extension e "
				      "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

	if (ok)
		s->hypo_schema = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return ok;
}

static bool hypopg_reset(struct session *s)
{
	char sql[160];

	if (!s->hypo_used)
		return true;
	snprintf(sql, sizeof(sql), "SELECT %s.hypopg_reset()", s->hypo_schema);
	s->hypo_used = false;
	return run(s, sql, "hypopg_reset()");
}

/*
 * Cost of the statement with a hypothetical index on table (schema, name)
 * over cols; -1 on error (s->err set). *uses: the plan names the index.
 */
static double hypo_cost(struct session *s, const char *schema, const char *rel,
			const char **cols, size_t ncols, bool *uses)
{
	struct strbuf ddl, sql;
	char *q;
	const char *params[1];
	PGresult *r;
	json_t *plan;
	double cost = -1;
	char *idxname = NULL;

	*uses = false;
	strbuf_init(&ddl, 128);
	strbuf_addstr(&ddl, "CREATE INDEX ON ");
	q = PQescapeIdentifier(s->conn, schema, strlen(schema));
	strbuf_addf(&ddl, "%s.", q);
	PQfreemem(q);
	q = PQescapeIdentifier(s->conn, rel, strlen(rel));
	strbuf_addf(&ddl, "%s (", q);
	PQfreemem(q);
	for (size_t i = 0; i < ncols; i++) {
		q = PQescapeIdentifier(s->conn, cols[i], strlen(cols[i]));
		strbuf_addf(&ddl, "%s%s", i ? ", " : "", q);
		PQfreemem(q);
	}
	strbuf_addch(&ddl, ')');
	strbuf_init(&sql, 128);
	strbuf_addf(&sql, "/* cockpit plan */ SELECT indexname FROM %s.hypopg_create_index($1)",
		    s->hypo_schema);
	params[0] = ddl.buf;
	s->hypo_used = true;
	r = PQexecParams(s->conn, sql.buf, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(s->err, s->errlen, "plan: hypopg_create_index('%s') failed: %s", ddl.buf,
			 PQresultErrorMessage(r));
		PQclear(r);
		goto out;
	}
	idxname = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!prepare(s))
		goto out;
	plan = explain(s);
	if (!plan)
		goto out;
	cost = plan_cost(plan);
	{
		char *text = json_dumps(plan, JSON_COMPACT);

		*uses = text && strstr(text, idxname) != NULL;
		free(text);
	}
	json_decref(plan);
	if (!hypopg_reset(s))
		cost = -1;
out:
	free(idxname);
	strbuf_release(&ddl);
	strbuf_release(&sql);
	return cost;
}

/* ---------------------------------------------------------------------------
 * The plan tree.
 */

struct scan {
	const char *schema, *rel, *alias;   /* borrowed from the plan */
	const char *filter;                 /* Seq Scan filter, or NULL */
	const char *node;                   /* node type */
	double plan_rows, cost;
};

struct scans {
	struct scan *v;
	size_t n, alloc;
	json_t *conds;                      /* array of join condition strings (borrowed) */
};

static void collect_scans(const json_t *plan, struct scans *out)
{
	static const char *const cond_keys[] = { "Hash Cond", "Merge Cond", "Join Filter" };
	const char *rel = pgq_str(plan, "Relation Name");
	size_t i;
	json_t *child;

	if (rel) {
		xgrow((void **)&out->v, &out->alloc, out->n + 1, sizeof(*out->v));
		out->v[out->n] = (struct scan){
			.schema = pgq_str(plan, "Schema"), .rel = rel, .alias = pgq_str(plan, "Alias"),
			.node = pgq_str(plan, "Node Type"),
			.filter = strcmp(pgq_str(plan, "Node Type") ? pgq_str(plan, "Node Type") : "", "Seq Scan") == 0 ?
				  pgq_str(plan, "Filter") : NULL,
			.plan_rows = json_number_value(json_object_get(plan, "Plan Rows")),
			.cost = plan_cost(plan),
		};
		out->n++;
	}
	for (i = 0; i < sizeof(cond_keys) / sizeof(*cond_keys); i++)
		if (pgq_str(plan, cond_keys[i]))
			json_array_append(out->conds, json_object_get(plan, cond_keys[i]));
	json_array_foreach(json_object_get(plan, "Plans"), i, child)
		collect_scans(child, out);
}

/* Every ColumnRef under node, in textual order, into out by qualifier. */
static void collect_refs(json_t *out, const json_t *node)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_array(node)) {
		json_array_foreach(node, i, v)
			collect_refs(out, v);
		return;
	}
	if (!json_is_object(node))
		return;
	json_object_foreach((json_t *)node, k, v) {
		if (strcmp(k, "ColumnRef") == 0) {
			json_t *f = json_object_get(v, "fields");
			size_t nf = json_array_size(f);
			const char *col = nf ? pgq_str(json_object_get(json_array_get(f, nf - 1), "String"), "sval") : NULL;
			const char *qual = nf >= 2 ? pgq_str(json_object_get(json_array_get(f, nf - 2), "String"), "sval") : "";

			if (col && qual)
				add_column(out, qual, col);
		} else {
			collect_refs(out, v);
		}
	}
}

/* Columns of a plan expression ("((t.a = $1) AND (t.b > 5))") by the alias
 * that qualifies them (VERBOSE qualifies every column): {"t": ["a", "b"]};
 * unqualified ones under "". Expressions that do not parse as SQL
 * ("(SubPlan 1)") give nothing. */
static json_t *expr_columns(const char *expr)
{
	struct strbuf sb;
	json_t *stmts, *out = json_object(), *body;
	char msg[128];

	strbuf_init(&sb, strlen(expr) + 32);
	strbuf_addf(&sb, "SELECT 1 WHERE %s", expr);
	stmts = parse_stmts(sb.buf, msg, sizeof(msg));
	strbuf_release(&sb);
	if (!stmts)
		return out;
	pgq_node_kind(json_object_get(json_array_get(stmts, 0), "stmt"), &body);
	collect_refs(out, json_object_get(body, "whereClause"));
	json_decref(stmts);
	return out;
}

/* ---------------------------------------------------------------------------
 * Tables: catalog facts, candidates, coverage.
 */

struct table {
	char *schema, *rel;     /* owned */
	char *qualified;        /* owned: "schema.rel" for evidence and create_index */
	double reltuples, relpages;
	json_t *attrs;          /* owned: array of column names */
	json_t *indexes;        /* owned: [{"name","valid","partial","columns":[..]}] */
	json_t *cand;           /* owned: candidate columns, most telling first */
	const char *filter;     /* borrowed: the Seq Scan filter, or NULL */
	const char *alias;      /* borrowed: alias of the Seq Scan */
	double scan_cost, plan_rows;
	bool large;
	bool seq;               /* a Seq Scan with a filter reads it */
};

static void table_release(struct table *t)
{
	free(t->schema);
	free(t->rel);
	free(t->qualified);
	json_decref(t->attrs);
	json_decref(t->indexes);
	json_decref(t->cand);
}

static const char table_sql[] =
	"/* cockpit plan */ SELECT c.reltuples, c.relpages,"
	" (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a"
	"   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"
	" (SELECT coalesce(json_agg(json_build_object('name', i.indexrelid::regclass::text,"
	"     'valid', i.indisvalid AND i.indisready, 'partial', i.indpred IS NOT NULL,"
	"     'columns', (SELECT json_agg(a.attname ORDER BY k.ord)"
	"                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)"
	"                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum))), '[]')"
	"   FROM pg_index i WHERE i.indrelid = c.oid)"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE n.nspname = $1 AND c.relname = $2";

static bool table_load(struct session *s, struct table *t)
{
	const char *params[2] = { t->schema, t->rel };
	PGresult *r = PQexecParams(s->conn, table_sql, 2, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		snprintf(s->err, s->errlen, "plan: catalog facts of %s failed: %s", t->qualified,
			 PQresultStatus(r) == PGRES_TUPLES_OK ? "no such table" : PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	t->reltuples = atof(PQgetvalue(r, 0, 0));
	t->relpages = atof(PQgetvalue(r, 0, 1));
	t->attrs = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
	t->indexes = json_loads(PQgetvalue(r, 0, 3), 0, NULL);
	PQclear(r);
	if (!t->attrs)
		t->attrs = json_array();
	if (!t->indexes)
		t->indexes = json_array();
	return true;
}

static bool has_attr(const struct table *t, const char *col)
{
	size_t i;
	json_t *v;

	json_array_foreach(t->attrs, i, v)
		if (strcmp(json_string_value(v), col) == 0)
			return true;
	return false;
}

static void add_cands(struct table *t, const json_t *cols)
{
	size_t i;
	json_t *v;

	json_array_foreach(cols, i, v)
		if (json_is_string(v) && has_attr(t, json_string_value(v)))
			add_unique(t->cand, json_string_value(v));
}

/* The name of a valid, non-partial index whose leading columns are cols,
 * or NULL. */
static const char *covering_index(const struct table *t, const char **cols, size_t n)
{
	size_t i, k;
	json_t *ix;

	json_array_foreach(t->indexes, i, ix) {
		json_t *ic = json_object_get(ix, "columns");

		if (!json_is_true(json_object_get(ix, "valid")) || json_is_true(json_object_get(ix, "partial")))
			continue;
		if (json_array_size(ic) < n)
			continue;
		for (k = 0; k < n; k++)
			if (!json_is_string(json_array_get(ic, k)) ||
			    strcmp(json_string_value(json_array_get(ic, k)), cols[k]) != 0)
				break;
		if (k == n)
			return pgq_str(ix, "name");
	}
	return NULL;
}

/* ---------------------------------------------------------------------------
 * The trimmed plan kept in evidence: the keys an operator or an LLM reads,
 * bounded in depth, node count and string length.
 */

static bool noisy_key(const char *k)
{
	static const char *const drop[] = {
		"Output", "Parallel Aware", "Async Capable", "Plan Width", "Single Copy",
		"Inner Unique", "Parent Relationship", "Subplan Name", "Disabled",
	};

	for (size_t i = 0; i < sizeof(drop) / sizeof(*drop); i++)
		if (strcmp(k, drop[i]) == 0)
			return true;
	return false;
}

static json_t *trim_plan(const json_t *plan, int depth, int *budget)
{
	json_t *out = json_object(), *v, *kids;
	const char *k;
	size_t i;

	(*budget)--;
	json_object_foreach((json_t *)plan, k, v) {
		if (noisy_key(k) || strcmp(k, "Plans") == 0)
			continue;
		if (json_is_string(v) && strlen(json_string_value(v)) > PLAN_TRIM_STRING) {
			char buf[PLAN_TRIM_STRING + 8];

			snprintf(buf, sizeof(buf), "%.*s...", PLAN_TRIM_STRING, json_string_value(v));
			json_object_set_new(out, k, json_string(buf));
		} else {
			json_object_set(out, k, v);
		}
	}
	kids = json_object_get(plan, "Plans");
	if (json_array_size(kids) == 0)
		return out;
	if (depth >= PLAN_TRIM_DEPTH || *budget <= 0) {
		json_object_set_new(out, "Plans omitted", json_integer((json_int_t)json_array_size(kids)));
		return out;
	}
	{
		json_t *arr = json_array();

		json_array_foreach(kids, i, v) {
			if (*budget <= 0) {
				json_object_set_new(out, "Plans omitted",
						    json_integer((json_int_t)(json_array_size(kids) - i)));
				break;
			}
			json_array_append_new(arr, trim_plan(v, depth + 1, budget));
		}
		json_object_set_new(out, "Plans", arr);
	}
	return out;
}

/* ---------------------------------------------------------------------------
 * plan_analyze
 */

static void note(json_t *evidence, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(json_t *evidence, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, 128);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	json_object_set_new(evidence, "plan_note", json_string(sb.buf));
	strbuf_release(&sb);
}

static json_t *candidate(const struct table *t, const char **cols, size_t n, double before,
			 double after, bool uses)
{
	json_t *c = json_object(), *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(cols[i]));
	json_object_set_new(c, "table", json_string(t->qualified));
	json_object_set_new(c, "columns", arr);
	json_object_set_new(c, "cost_before", json_real(before));
	json_object_set_new(c, "cost_after", json_real(after));
	json_object_set_new(c, "gain", json_real(before > 0 ? round((1.0 - after / before) * 1000) / 1000 : 0));
	json_object_set_new(c, "hypopg", json_true());
	json_object_set_new(c, "uses_index", json_boolean(uses));
	return c;
}

static int cmp_after(const void *a, const void *b)
{
	double x = json_number_value(json_object_get(*(json_t *const *)a, "cost_after"));
	double y = json_number_value(json_object_get(*(json_t *const *)b, "cost_after"));

	return (x > y) - (x < y);
}

/* Sort a JSON array of candidates by cost_after, ascending; stable, so of
 * two equal pairs the one tried first (led by the better single) stays first. */
static void sort_candidates(json_t *arr)
{
	size_t n = json_array_size(arr);

	for (size_t i = 1; i < n; i++) {
		json_t *v = json_incref(json_array_get(arr, i));
		size_t j = i;

		while (j > 0 && cmp_after(&v, &(json_t *){ json_array_get(arr, j - 1) }) < 0)
			j--;
		if (j != i) {
			json_array_remove(arr, i);
			json_array_insert(arr, j, v);
		}
		json_decref(v);
	}
}

/* Append c (a new reference) to covered unless an equal entry is there. */
static void covered_add(json_t *covered, json_t *c)
{
	size_t i;
	json_t *x;

	json_array_foreach(covered, i, x)
		if (json_equal(x, c)) {
			json_decref(c);
			return;
		}
	json_array_append_new(covered, c);
}

/*
 * The what-if tries for one table: single columns, then ordered pairs of
 * the best PLAN_PAIR_SEEDS. Appends to cands; covered combinations go to
 * covered. Returns false on a server error.
 */
static bool try_table(struct session *s, struct table *t, double before, json_t *cands,
		      json_t *covered)
{
	const char *seeds[PLAN_PAIR_SEEDS];
	size_t nseeds = 0, ncols = json_array_size(t->cand);
	json_t *singles = json_array(), *v;
	size_t i;
	bool ok = false;

	if (ncols > PLAN_MAX_COLUMNS)
		ncols = PLAN_MAX_COLUMNS;
	for (i = 0; i < ncols; i++) {
		const char *col = json_string_value(json_array_get(t->cand, i));
		const char *ix = covering_index(t, &col, 1);
		bool uses;
		double after;

		if (ix) {
			covered_add(covered, json_pack("{s:s, s:[s], s:s}", "table", t->qualified,
							"columns", col, "index", ix));
			continue;
		}
		after = hypo_cost(s, t->schema, t->rel, &col, 1, &uses);
		if (after < 0)
			goto out;
		json_array_append_new(singles, candidate(t, &col, 1, before, after, uses));
	}
	sort_candidates(singles);
	json_array_foreach(singles, i, v) {
		if (nseeds < PLAN_PAIR_SEEDS)
			seeds[nseeds++] = json_string_value(json_array_get(json_object_get(v, "columns"), 0));
		json_array_append(cands, v);
	}
	for (size_t a = 0; a < nseeds; a++) {
		for (size_t b = 0; b < nseeds; b++) {
			const char *pair[2] = { seeds[a], seeds[b] };
			const char *ix;
			bool uses;
			double after;

			if (a == b)
				continue;
			ix = covering_index(t, pair, 2);
			if (ix) {
				covered_add(covered, json_pack("{s:s, s:[s,s], s:s}", "table", t->qualified,
								"columns", pair[0], pair[1], "index", ix));
				continue;
			}
			after = hypo_cost(s, t->schema, t->rel, pair, 2, &uses);
			if (after < 0)
				goto out;
			json_array_append_new(cands, candidate(t, pair, 2, before, after, uses));
		}
	}
	ok = true;
out:
	json_decref(singles);
	return ok;
}

/* The best candidate worth proposing (borrowed), or NULL. Singles first;
 * a pair wins only when it halves the best single's cost again. */
static json_t *choose(json_t *cands, double min_gain)
{
	json_t *best = NULL, *c;
	size_t i;

	json_array_foreach(cands, i, c)
		if (json_array_size(json_object_get(c, "columns")) == 1 &&
		    json_number_value(json_object_get(c, "gain")) >= min_gain &&
		    (!best || cmp_after(&c, &best) < 0))
			best = c;
	json_array_foreach(cands, i, c) {
		double after = json_number_value(json_object_get(c, "cost_after"));

		if (json_array_size(json_object_get(c, "columns")) != 2 ||
		    json_number_value(json_object_get(c, "gain")) < min_gain)
			continue;
		if (!best || (json_array_size(json_object_get(best, "columns")) == 1 &&
			      after <= 0.5 * json_number_value(json_object_get(best, "cost_after"))) ||
		    (json_array_size(json_object_get(best, "columns")) == 2 && cmp_after(&c, &best) < 0)) {
			/* Without a qualifying single, the pair must still halve
			 * the best single's cost. */
			if (!best) {
				json_t *bs = NULL, *d;
				size_t j;

				json_array_foreach(cands, j, d)
					if (json_array_size(json_object_get(d, "columns")) == 1 &&
					    json_object_get(d, "cost_after") && (!bs || cmp_after(&d, &bs) < 0))
						bs = d;
				if (bs && after > 0.5 * json_number_value(json_object_get(bs, "cost_after")))
					continue;
			}
			best = c;
		}
	}
	return best;
}

static void covered_text(struct strbuf *sb, const json_t *covered)
{
	size_t i, k;
	json_t *c, *col;

	json_array_foreach(covered, i, c) {
		strbuf_addf(sb, "%s%s (", i ? "; " : "", pgq_str(c, "table"));
		json_array_foreach(json_object_get(c, "columns"), k, col)
			strbuf_addf(sb, "%s%s", k ? ", " : "", json_string_value(col));
		strbuf_addf(sb, ") is already covered by index %s", pgq_str(c, "index"));
	}
}

int plan_analyze(PGconn *conn, const char *query, const struct plan_opts *o,
		 json_t *evidence, char *err, size_t errlen)
{
	static atomic_uint counter;
	double min_cost = o && o->min_cost > 0 ? o->min_cost : PLAN_DEFAULT_MIN_COST;
	double min_gain = o && o->min_gain > 0 ? o->min_gain : PLAN_DEFAULT_MIN_GAIN;
	int timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : PLAN_DEFAULT_TIMEOUT_MS;
	double min_rows = o && o->min_table_rows > 0 ? o->min_table_rows : PLAN_DEFAULT_MIN_ROWS;
	struct session s = { .conn = conn, .query = query, .err = err, .errlen = errlen };
	struct scans scans = { 0 };
	struct table *tables = NULL;
	size_t ntables = 0, talloc = 0, i;
	json_t *stmts = NULL, *body, *plan = NULL, *clause = NULL, *pj, *seqs, *cands, *covered = NULL, *best;
	const char *kind, *why;
	char msg[256], sql[256];
	double before;
	int budget = PLAN_TRIM_NODES, rc = -1;
	bool any_seq = false, any_large = false;

	err[0] = '\0';
	stmts = parse_stmts(query, msg, sizeof(msg));
	if (!stmts) {
		note(evidence, "the statement does not parse (%s); pg_stat_statements may have cut it "
			       "at track_activity_query_size", msg);
		snprintf(err, errlen, "plan: statement does not parse: %s", msg);
		return -1;
	}
	if (json_array_size(stmts) != 1) {
		note(evidence, "%zu statements in one text: only a single statement is explained",
		     json_array_size(stmts));
		json_decref(stmts);
		return 0;
	}
	kind = pgq_node_kind(json_object_get(json_array_get(stmts, 0), "stmt"), &body);
	why = kind ? explainable(kind, body) : "empty statement";
	if (why) {
		note(evidence, "not explained: %s (%s)", why, kind ? kind : "?");
		json_decref(stmts);
		return 0;
	}
	s.nparams = max_param(stmts);
	json_decref(stmts);
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		note(evidence, "not explained: cockpit's connection was busy");
		snprintf(err, errlen, "plan: the connection is inside a transaction or busy; "
				      "plan_analyze needs an idle session");
		return -1;
	}
	clause = plan_clause_columns(query);
	snprintf(s.name, sizeof(s.name), "cockpit_plan_%u", atomic_fetch_add(&counter, 1) + 1);
	scans.conds = json_array();

	s.in_xact = run(&s, "/* cockpit plan */ BEGIN READ ONLY", "BEGIN READ ONLY");
	if (!s.in_xact)
		goto fail;
	/* one round trip; each statement tagged (pg_stat_statements keeps
	 * them apart) */
	snprintf(sql, sizeof(sql), "/* cockpit plan */ SET LOCAL statement_timeout = %d; "
		 "/* cockpit plan */ SET LOCAL lock_timeout = %d; "
		 "/* cockpit plan */ SET LOCAL plan_cache_mode = force_generic_plan",
		 timeout_ms, timeout_ms);
	if (!run(&s, sql, "SET LOCAL") || !prepare(&s))
		goto fail;
	plan = explain(&s);
	if (!plan)
		goto fail;
	before = plan_cost(plan);
	collect_scans(plan, &scans);

	pj = json_object();
	json_object_set_new(evidence, "plan", pj);
	json_object_set_new(pj, "total_cost", json_real(before));
	json_object_set_new(pj, "parameters", json_integer(s.nparams));
	seqs = json_array();
	json_object_set_new(pj, "seq_scans", seqs);
	json_object_set_new(pj, "json", trim_plan(plan, 0, &budget));
	cands = json_array();
	json_object_set_new(evidence, "candidates", cands);
	covered = json_array();

	/* One entry per table the plan scans. */
	for (i = 0; i < scans.n; i++) {
		struct scan *sc = &scans.v[i];
		const char *schema = sc->schema ? sc->schema : "public";
		struct table *t = NULL;

		for (size_t k = 0; k < ntables; k++)
			if (strcmp(tables[k].schema, schema) == 0 && strcmp(tables[k].rel, sc->rel) == 0)
				t = &tables[k];
		if (!t) {
			struct strbuf q;

			xgrow((void **)&tables, &talloc, ntables + 1, sizeof(*tables));
			t = &tables[ntables++];
			memset(t, 0, sizeof(*t));
			t->schema = xstrdup(schema);
			t->rel = xstrdup(sc->rel);
			strbuf_init(&q, 64);
			strbuf_addf(&q, "%s.%s", schema, sc->rel);
			t->qualified = strbuf_detach(&q, NULL);
			t->cand = json_array();
			if (!table_load(&s, t))
				goto fail;
			t->large = t->reltuples >= min_rows || t->relpages >= min_rows / 100;
		}
		if (sc->filter) {
			json_t *fc = expr_columns(sc->filter);

			if (!t->seq) {
				t->seq = true;
				t->filter = sc->filter;
				t->alias = sc->alias;
				t->scan_cost = sc->cost;
				t->plan_rows = sc->plan_rows;
			}
			add_cands(t, json_object_get(fc, sc->alias ? sc->alias : ""));
			add_cands(t, json_object_get(fc, ""));
			json_decref(fc);
			json_array_append_new(seqs, json_pack("{s:s, s:s?, s:s, s:f, s:f, s:f, s:f, s:b}",
				"table", t->qualified, "alias", sc->alias, "filter", sc->filter,
				"rows", t->reltuples, "pages", t->relpages, "plan_rows", sc->plan_rows,
				"cost", sc->cost, "large", t->large));
			any_seq = true;
		}
	}
	/* Columns of the parsed WHERE/JOIN clauses and the plan's join
	 * conditions, for the tables a Seq Scan filters. */
	for (i = 0; i < ntables; i++) {
		struct table *t = &tables[i];
		const char *k;
		json_t *v, *c;
		size_t j;

		json_object_foreach(clause, k, v) {
			const char *dot = strrchr(k, '.');

			if (strcmp(k, t->rel) == 0 || (dot && strcmp(dot + 1, t->rel) == 0 &&
							(size_t)(dot - k) == strlen(t->schema) &&
							strncmp(k, t->schema, strlen(t->schema)) == 0)) {
				if (t->seq)
					add_cands(t, v);
				else
					json_array_foreach(v, j, c) {
						const char *col = json_string_value(c);
						const char *ix = has_attr(t, col) ? covering_index(t, &col, 1) : NULL;

						if (ix)
							covered_add(covered, json_pack("{s:s, s:[s], s:s}",
								"table", t->qualified, "columns", col, "index", ix));
					}
			}
		}
		if (t->seq)
			json_array_foreach(scans.conds, j, c) {
				json_t *fc = expr_columns(json_string_value(c));

				add_cands(t, json_object_get(fc, t->alias ? t->alias : t->rel));
				json_decref(fc);
			}
		if (t->seq && t->large)
			any_large = true;
	}

	if (!hypopg_find(&s)) {
		for (i = 0; i < ntables; i++)
			if (tables[i].seq && tables[i].large && json_array_size(tables[i].cand) > 0)
				json_array_append_new(cands, json_pack("{s:s, s:O, s:f, s:b}", "table",
					tables[i].qualified, "columns", tables[i].cand, "cost_before", before,
					"hypopg", 0));
		note(evidence, "HypoPG is not installed in this database (CREATE EXTENSION hypopg): "
			       "no index is proposed, since without a what-if estimate the gain would be guesswork");
		rc = 0;
		goto done;
	}
	if (any_large && before >= min_cost)
		for (i = 0; i < ntables; i++)
			if (tables[i].seq && tables[i].large && !try_table(&s, &tables[i], before, cands, covered))
				goto fail;
	sort_candidates(cands);
	if (json_array_size(covered) > 0)
		json_object_set(evidence, "covered", covered);
	best = any_large && before >= min_cost ? choose(cands, min_gain) : NULL;
	if (best) {
		struct strbuf arr, txt;
		json_t *col;
		size_t k;

		/* The columns also as a PostgreSQL array literal ({"a","b"}) for
		 * $n::text[] arguments of verify and context queries, and as text. */
		strbuf_init(&arr, 32);
		strbuf_init(&txt, 32);
		strbuf_addch(&arr, '{');
		json_array_foreach(json_object_get(best, "columns"), k, col) {
			strbuf_addstr(&arr, k ? ",\"" : "\"");
			for (const char *c = json_string_value(col); *c; c++) {
				if (*c == '"' || *c == '\\')
					strbuf_addch(&arr, '\\');
				strbuf_addch(&arr, *c);
			}
			strbuf_addch(&arr, '"');
			strbuf_addf(&txt, "%s%s", k ? ", " : "", json_string_value(col));
		}
		strbuf_addch(&arr, '}');
		json_object_set_new(evidence, "index", json_pack("{s:O, s:O, s:s, s:s, s:O, s:O, s:O}",
			"table", json_object_get(best, "table"), "columns", json_object_get(best, "columns"),
			"columns_array", arr.buf, "columns_text", txt.buf,
			"cost_before", json_object_get(best, "cost_before"),
			"cost_after", json_object_get(best, "cost_after"), "gain", json_object_get(best, "gain")));
		strbuf_release(&arr);
		strbuf_release(&txt);
	} else {
		struct strbuf sb;

		strbuf_init(&sb, 256);
		strbuf_addstr(&sb, "no index proposed: ");
		if (!any_seq)
			strbuf_addstr(&sb, "the plan has no Seq Scan with a filter");
		else if (!any_large)
			strbuf_addf(&sb, "no Seq Scan with a filter reads a large table (>= %.0f rows)", min_rows);
		else if (before < min_cost)
			strbuf_addf(&sb, "the statement's estimated cost %.1f is below min_cost %.0f, not material",
				    before, min_cost);
		else if (json_array_size(cands) > 0) {
			json_t *c0 = json_array_get(cands, 0);

			strbuf_addf(&sb, "the best hypothetical index on %s lowers the cost from %.1f to %.1f "
				    "(gain %.2f < min_gain %.2f)", pgq_str(c0, "table"), before,
				    json_number_value(json_object_get(c0, "cost_after")),
				    json_number_value(json_object_get(c0, "gain")), min_gain);
		} else if (json_array_size(covered) == 0)
			strbuf_addstr(&sb, "the filtered tables have no column the filter compares directly");
		else
			strbuf_addstr(&sb, "every candidate column is covered");
		if (json_array_size(covered) > 0) {
			strbuf_addstr(&sb, "; ");
			covered_text(&sb, covered);
		}
		json_object_set_new(evidence, "plan_note", json_string(sb.buf));
		strbuf_release(&sb);
	}
	rc = 0;
	goto done;
fail:
	if (!json_object_get(evidence, "plan_note"))
		note(evidence, "the statement could not be explained: %s", err);
done:
	{
		/* Leave the session as we found it, keeping the first error. */
		char keep[512];

		snprintf(keep, sizeof(keep), "%s", err);
		if (s.in_xact && PQtransactionStatus(conn) == PQTRANS_INTRANS)
			hypopg_reset(&s);
		if (s.in_xact)
			run(&s, "ROLLBACK", "ROLLBACK");
		s.in_xact = false;
		deallocate(&s);
		hypopg_reset(&s);
		if (rc == 0)
			err[0] = '\0';
		else
			snprintf(err, errlen, "%s", keep);
	}
	for (i = 0; i < ntables; i++)
		table_release(&tables[i]);
	free(tables);
	free(scans.v);
	json_decref(scans.conds);
	json_decref(plan);
	json_decref(clause);
	json_decref(covered);
	free(s.hypo_schema);
	return rc;
}
