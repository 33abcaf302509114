/*
 * action: the registry of act/action.h, each action's prepare() and the
 * check of edited SQL.
 *
 * prepare() reads the catalog through ctx->conn with $n parameters only;
 * everything it renders into SQL goes through PQescapeIdentifier /
 * PQescapeLiteral, or is a number formatted here, or a keyword taken from
 * a fixed table in this file. The diff is the before/after of the state the
 * action changes, read from the same catalog.
 *
 * action_check_sql() parses an edit with libpg_query and compares it with
 * the tree of the SQL prepare() rendered (p->sql): the rendered statement
 * is the reference for the kind and the target, so nothing else has to be
 * remembered in the proposal.
 */
#include "act/action.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/snapshot.h"

#define NPARAMS(a) (sizeof(a) / sizeof((a)[0]))
/* Guard tolerance on epoch seconds: timestamps are microseconds; a double
 * near 1.7e9 holds them to about 2.4e-7 s. */
#define EPOCH_TOLERANCE "0.000002"
#define NAMEDATALEN_MAX 63

/* ---------------------------------------------------------------- helpers */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The server's primary message without the trailing newline. */
static void server_message(const PGresult *r, PGconn *c, char *buf, size_t size)
{
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	if (!m)
		m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	if (!m || !*m)
		m = "no message (the connection may be gone)";
	snprintf(buf, size, "%s", m);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
}

/* ------------------------------------------------------------------ memo */

struct memo_entry {
	PGconn *conn;       /* borrowed: identity only, never used */
	int backend_pid;    /* with conn: the session the result came from */
	uint64_t hash;      /* of key */
	char *key;          /* owned: the SQL, then each value (see memo_key) */
	size_t keylen;
	PGresult *res;      /* owned copy, PGRES_TUPLES_OK */
};

struct action_memo {
	struct memo_entry *v;   /* owned */
	size_t n, alloc;
	size_t bytes;           /* keys and cell values kept */
	size_t hits;
};

/* The SQL, a NUL, then per value 'N' (SQL NULL) or 'V', its length, ':'
 * and its bytes: no two (sql, values) share a key. */
static char *memo_key(const char *sql, int n, const char *const *v, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_init(&sb, strlen(sql) + 32);
	strbuf_add(&sb, sql, strlen(sql) + 1);
	for (int i = 0; i < n; i++) {
		if (!v[i]) {
			strbuf_addch(&sb, 'N');
			continue;
		}
		strbuf_addf(&sb, "V%zu:", strlen(v[i]));
		strbuf_addstr(&sb, v[i]);
	}
	return strbuf_detach(&sb, len);
}

static struct memo_entry *memo_find(struct action_memo *m, PGconn *conn, const char *key,
				    size_t len, uint64_t h)
{
	int pid = PQbackendPID(conn);

	for (size_t i = 0; i < m->n; i++) {
		struct memo_entry *e = &m->v[i];

		if (e->hash == h && e->conn == conn && e->backend_pid == pid && e->keylen == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

struct action_memo *action_memo_new(void)
{
	return xcalloc(1, sizeof(struct action_memo));
}

void action_memo_free(struct action_memo *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key);
		PQclear(m->v[i].res);
	}
	free(m->v);
	free(m);
}

PGresult *action_memo_get(struct action_memo *m, PGconn *conn, const char *sql, int n,
			  const char *const *v)
{
	struct memo_entry *e;
	PGresult *copy;
	size_t len;
	char *key;

	if (!m || !conn || m->n == 0)
		return NULL;
	key = memo_key(sql, n, v, &len);
	e = memo_find(m, conn, key, len, mem_hash(key, len));
	free(key);
	if (!e)
		return NULL;
	copy = PQcopyResult(e->res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (copy)
		m->hits++;
	return copy;
}

void action_memo_put(struct action_memo *m, PGconn *conn, const char *sql, int n,
		     const char *const *v, const PGresult *r)
{
	struct memo_entry *e;
	size_t len, bytes;
	uint64_t h;
	char *key;
	PGresult *copy;

	if (!m || !conn || PQresultStatus(r) != PGRES_TUPLES_OK || m->n >= ACTION_MEMO_MAX_ENTRIES)
		return;
	key = memo_key(sql, n, v, &len);
	bytes = len;
	for (int row = 0; row < PQntuples(r); row++)
		for (int col = 0; col < PQnfields(r); col++)
			bytes += (size_t)PQgetlength(r, row, col) + 1;
	h = mem_hash(key, len);
	if (m->bytes + bytes > ACTION_MEMO_MAX_BYTES || memo_find(m, conn, key, len, h) ||
	    !(copy = PQcopyResult(r, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES))) {
		free(key);
		return;
	}
	XGROW(m->v, m->alloc, m->n + 1);
	e = &m->v[m->n++];
	e->conn = conn;
	e->backend_pid = PQbackendPID(conn);
	e->hash = h;
	e->key = key;
	e->keylen = len;
	e->res = copy;
	m->bytes += bytes;
}

size_t action_memo_hits(const struct action_memo *m)
{
	return m ? m->hits : 0;
}

size_t action_memo_size(const struct action_memo *m)
{
	return m ? m->n : 0;
}

/* PQexecParams through the memo (m may be NULL): the remembered result's
 * copy, or the server's, kept when it succeeded. The caller owns it. */
static PGresult *exec_memo(struct action_memo *m, PGconn *c, const char *sql, int n,
			   const char *const *v)
{
	PGresult *r = action_memo_get(m, c, sql, n, v);

	if (r)
		return r;
	r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	action_memo_put(m, c, sql, n, v, r);
	return r;
}

/* ---------------------------------------------------------------- queries */

/* A catalog query with text parameters, tagged so it shows up honestly in
 * pg_stat_activity and pg_stat_statements (DESIGN.md safety rule 6), through
 * the round's memo when there is one (m may be NULL): the result (tuples or
 * command ok), or NULL with "what: the catalog query failed: ..." in err. */
static PGresult *run(struct action_memo *m, PGconn *c, const char *sql, int n,
		     const char *const *v, char *err, size_t errlen, const char *what)
{
	struct strbuf tagged = STRBUF_INIT;
	PGresult *r;
	ExecStatusType st;
	char msg[512];

	strbuf_addf(&tagged, "/* cockpit action: %s */ %s", what, sql);
	r = exec_memo(m, c, tagged.buf, n, v);
	strbuf_release(&tagged);
	st = PQresultStatus(r);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	server_message(r, c, msg, sizeof(msg));
	snprintf(err, errlen, "%s: the catalog query failed: %s — check the connection "
		 "and that cockpit's role may read the catalog", what, msg);
	PQclear(r);
	return NULL;
}

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static double dval(const PGresult *r, int row, int col, double dflt)
{
	const char *s = val(r, row, col);
	return s ? strtod(s, NULL) : dflt;
}

static long long ival(const PGresult *r, int row, int col, long long dflt)
{
	const char *s = val(r, row, col);
	return s ? strtoll(s, NULL, 10) : dflt;
}

/* Escaped identifier / literal as our own allocation, NULL on a bad encoding. */
static char *ident(PGconn *c, const char *s)
{
	char *e = PQescapeIdentifier(c, s, strlen(s));
	char *d;

	if (!e)
		return NULL;
	d = xstrdup(e);
	PQfreemem(e);
	return d;
}

static char *literal(PGconn *c, const char *s)
{
	char *e = PQescapeLiteral(c, s, strlen(s));
	char *d;

	if (!e)
		return NULL;
	d = xstrdup(e);
	PQfreemem(e);
	return d;
}

/* "schema"."name" */
static char *qident(PGconn *c, const char *schema, const char *name)
{
	char *a = ident(c, schema), *b = ident(c, name), *r = NULL;

	if (a && b) {
		size_t n = strlen(a) + strlen(b) + 2;
		r = xmalloc(n);
		snprintf(r, n, "%s.%s", a, b);
	}
	free(a);
	free(b);
	return r;
}

/* A PostgreSQL array literal of text values ({"a","b\"c"}), passed as a $n
 * parameter (never pasted into SQL). */
static char *pg_array(const char *const *v, size_t n)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_init(&sb, 64);
	strbuf_addch(&sb, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(&sb, ',');
		strbuf_addch(&sb, '"');
		for (const char *s = v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				strbuf_addch(&sb, '\\');
			strbuf_addch(&sb, *s);
		}
		strbuf_addch(&sb, '"');
	}
	strbuf_addch(&sb, '}');
	return strbuf_detach(&sb, NULL);
}

static void fmt_bytes(int64_t b, char *buf, size_t size)
{
	if (b < 0)
		snprintf(buf, size, "size unknown");
	else if (b < 10 * 1024)
		snprintf(buf, size, "%lld bytes", (long long)b);
	else if (b < 10LL * 1024 * 1024)
		snprintf(buf, size, "%lld kB", (long long)(b / 1024));
	else if (b < 10LL * 1024 * 1024 * 1024)
		snprintf(buf, size, "%lld MB", (long long)(b / (1024 * 1024)));
	else
		snprintf(buf, size, "%.1f GB", (double)b / (1024.0 * 1024 * 1024));
}

static void fmt_duration(double s, char *buf, size_t size)
{
	long long t = s > 0 ? (long long)s : 0;

	snprintf(buf, size, "%02lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
}

/* A string parameter: 0 with *out (NULL when absent and optional), or -1. */
static int param_string(const json_t *params, const char *name, bool required,
			const char **out, char *err, size_t errlen)
{
	json_t *v = params ? json_object_get(params, name) : NULL;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return fail(err, errlen, "params.%s: missing — this action needs it", name);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return fail(err, errlen, "params.%s: must be a non-empty string", name);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, errlen, "params.%s: contains a NUL byte — give plain text", name);
	*out = json_string_value(v);
	return 0;
}

static int param_bool(const json_t *params, const char *name, bool dflt, bool *out,
		      char *err, size_t errlen)
{
	json_t *v = params ? json_object_get(params, name) : NULL;

	*out = dflt;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (!strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "yes")) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "no")) {
			*out = false;
			return 0;
		}
	}
	return fail(err, errlen, "params.%s: must be true or false", name);
}

static const char *relkind_name(char k)
{
	switch (k) {
	case 'r': return "a table";
	case 'p': return "a partitioned table";
	case 'i': return "an index";
	case 'I': return "a partitioned index";
	case 'v': return "a view";
	case 'm': return "a materialized view";
	case 'S': return "a sequence";
	case 'f': return "a foreign table";
	case 'c': return "a composite type";
	case 't': return "a TOAST table";
	default: return "a relation of another kind";
	}
}

/* A relation resolved from the catalog. */
struct rel {
	char oid[16];
	char *schema;    /* owned */
	char *name;      /* owned */
	char *display;   /* owned: schema.name as written by the catalog */
	char *sql;       /* owned: "schema"."name", escaped */
	char kind;
	int64_t bytes;   /* pg_total_relation_size */
};

static void rel_release(struct rel *r)
{
	free(r->schema);
	free(r->name);
	free(r->display);
	free(r->sql);
	memset(r, 0, sizeof(*r));
}

/* Resolve text (a relation name as SQL would read it) to a relation whose
 * relkind is one of kinds; what names the parameter, need the kind wanted. */
static int rel_resolve(struct action_memo *m, PGconn *c, const char *what, const char *text,
		       const char *kinds, const char *need, const char *action, struct rel *out,
		       char *err, size_t errlen)
{
	static const char sql[] =
		"/* cockpit action: resolve */ "
		"SELECT c.oid, n.nspname, c.relname, c.relkind, pg_total_relation_size(c.oid) "
		"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.oid = to_regclass($1)";
	const char *v[1] = { text };
	PGresult *r;
	size_t n;

	memset(out, 0, sizeof(*out));
	r = exec_memo(m, c, sql, 1, v);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		char msg[512];
		server_message(r, c, msg, sizeof(msg));
		if (state && strncmp(state, "42", 2) == 0)
			fail(err, errlen, "params.%s: \"%s\" is not a valid relation name (%s) — "
			     "give %s as schema.name", what, text, msg, need);
		else
			fail(err, errlen, "params.%s: the catalog query failed: %s — check the "
			     "connection and that cockpit's role may read the catalog", what, msg);
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		return fail(err, errlen, "params.%s: relation \"%s\" does not exist — give %s "
			    "that exists, as schema.name", what, text, need);
	}
	out->kind = PQgetvalue(r, 0, 3)[0];
	if (!strchr(kinds, out->kind)) {
		fail(err, errlen, "params.%s: %s.%s is %s, not %s — %s needs %s", what,
		     PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), relkind_name(out->kind), need,
		     action, need);
		PQclear(r);
		return -1;
	}
	snprintf(out->oid, sizeof(out->oid), "%s", PQgetvalue(r, 0, 0));
	out->schema = xstrdup(PQgetvalue(r, 0, 1));
	out->name = xstrdup(PQgetvalue(r, 0, 2));
	out->bytes = ival(r, 0, 4, -1);
	PQclear(r);
	n = strlen(out->schema) + strlen(out->name) + 2;
	out->display = xmalloc(n);
	snprintf(out->display, n, "%s.%s", out->schema, out->name);
	out->sql = qident(c, out->schema, out->name);
	if (!out->sql) {
		rel_release(out);
		return fail(err, errlen, "params.%s: the name is not valid in the connection's "
			    "encoding — give it in UTF-8", what);
	}
	return 0;
}

/* The indexes of a table, one pg_get_indexdef per line ordered by name,
 * into sb (each line ending in '\n'). */
static int index_list(struct action_memo *m, PGconn *c, const char *oid, struct strbuf *sb,
		      char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' "
		"ELSE ' -- INVALID' END "
		"FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid "
		"WHERE i.indrelid = $1::oid ORDER BY ci.relname";
	const char *v[1] = { oid };
	PGresult *r = run(m, c, sql, 1, v, err, errlen, "indexes");

	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		strbuf_addf(sb, "%s\n", PQgetvalue(r, i, 0));
	PQclear(r);
	return 0;
}

/* Append the verify query for the default verification. */
static void set_verify(struct proposal *p, const char *sql, json_t *args, const char *expect,
		       int wait_s, int deadline_s)
{
	if (p->verify.sql) {
		json_decref(args);
		return;
	}
	p->verify.sql = xstrdup(sql);
	json_decref(p->verify.args);
	p->verify.args = args;
	proposal_set(&p->verify.expect, expect);
	if (p->verify.wait_s == 0)
		p->verify.wait_s = wait_s;
	if (p->verify.deadline_s == 0)
		p->verify.deadline_s = deadline_s;
}

static void set_str(char **field, struct strbuf *sb)
{
	free(*field);
	*field = strbuf_detach(sb, NULL);
}

/* ---------------------------------------------------------------- signals */

struct target_session {
	int pid;
	double backend_start, xact_start, query_start; /* epoch s; 0 = NULL */
	char *user, *application, *state, *query;       /* owned */
	double state_s;                                 /* time in the current state */
};

static void sessions_free(struct target_session *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].user);
		free(s[i].application);
		free(s[i].state);
		free(s[i].query);
	}
	free(s);
}

/* params.pids: an integer, a digit string, or an array of those. */
static int parse_pids(const json_t *params, int **out, size_t *n, char *err, size_t errlen)
{
	json_t *v = params ? json_object_get(params, "pids") : NULL;
	json_t *one[1];
	json_t *const *items;
	size_t count;
	int *pids;

	*out = NULL;
	*n = 0;
	if (!v || json_is_null(v))
		return fail(err, errlen, "params.pids: missing — give the backend pids to signal");
	if (json_is_array(v)) {
		count = json_array_size(v);
		items = NULL;
	} else {
		one[0] = v;
		items = one;
		count = 1;
	}
	if (count == 0)
		return fail(err, errlen, "params.pids: empty — give at least one backend pid");
	pids = xcalloc(count, sizeof(*pids));
	for (size_t i = 0; i < count; i++) {
		json_t *e = items ? items[i] : json_array_get(v, i);
		long long x = 0;
		char *end;

		if (json_is_integer(e)) {
			x = json_integer_value(e);
		} else if (json_is_string(e) && json_string_length(e) > 0) {
			x = strtoll(json_string_value(e), &end, 10);
			if (*end)
				x = 0;
		}
		if (x <= 0 || x > INT32_MAX) {
			free(pids);
			return fail(err, errlen, "params.pids[%zu]: not a backend pid (a positive "
				    "integer) — give pids from pg_stat_activity", i);
		}
		bool dup = false;
		for (size_t j = 0; j < *n; j++)
			dup = dup || pids[j] == (int)x;
		if (!dup)
			pids[(*n)++] = (int)x;
	}
	*out = pids;
	return 0;
}

static char *dupn(const char *s)
{
	return xstrdup(s ? s : "");
}

/* Check every pid against pg_stat_activity and take its guard from the
 * snapshot (what the operator saw) or, when the snapshot lacks it, from the
 * catalog now. */
static int load_sessions(const struct action_ctx *ctx, const int *pids, size_t n, bool cancel,
			 struct target_session **out, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT a.pid, a.backend_type, coalesce(a.application_name, ''), "
		"coalesce(a.usename::text, ''), coalesce(a.state, ''), "
		"extract(epoch FROM a.backend_start), extract(epoch FROM a.xact_start), "
		"extract(epoch FROM a.query_start), coalesce(a.query, ''), "
		"extract(epoch FROM now() - coalesce(a.state_change, a.query_start, a.backend_start)), "
		"a.pid = pg_backend_pid() "
		"FROM pg_stat_activity a WHERE a.pid = ANY($1::int[])";
	struct strbuf arr = STRBUF_INIT;
	struct target_session *s;
	const char *v[1];
	PGresult *r;

	strbuf_init(&arr, 32);
	strbuf_addch(&arr, '{');
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&arr, "%s%d", i ? "," : "", pids[i]);
	strbuf_addch(&arr, '}');
	v[0] = arr.buf;
	r = run(ctx->memo, ctx->conn, sql, 1, v, err, errlen, "params.pids");
	strbuf_release(&arr);
	if (!r)
		return -1;
	s = xcalloc(n, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		int row = -1;
		for (int k = 0; k < PQntuples(r); k++)
			if (atoi(PQgetvalue(r, k, 0)) == pids[i])
				row = k;
		if (row < 0) {
			fail(err, errlen, "params.pids: pid %d is not a live backend — the session "
			     "has ended; refresh and propose again", pids[i]);
			goto fail;
		}
		const char *btype = PQgetvalue(r, row, 1), *app = PQgetvalue(r, row, 2);
		if (strcmp(btype, "client backend") != 0) {
			fail(err, errlen, "params.pids: pid %d is a %s, not a client backend — "
			     "cockpit signals client sessions only", pids[i], btype);
			goto fail;
		}
		if (PQgetvalue(r, row, 10)[0] == 't' || strncmp(app, "cockpit", 7) == 0) {
			fail(err, errlen, "params.pids: pid %d is cockpit's own session (%s) — "
			     "cockpit never signals itself", pids[i], *app ? app : "this connection");
			goto fail;
		}
		double live_bs = dval(r, row, 5, 0);
		size_t k = ctx->snap ? snapshot_find_session(ctx->snap, pids[i]) : SIZE_MAX;
		const struct snap_session *ss = k != SIZE_MAX ? &ctx->snap->sessions[k] : NULL;
		if (ss && fabs(ss->backend_start - live_bs) > 1e-5) {
			fail(err, errlen, "params.pids: pid %d belongs to a different session than "
			     "in the snapshot (it started again since) — refresh and propose again",
			     pids[i]);
			goto fail;
		}
		s[i].pid = pids[i];
		if (ss) {
			s[i].backend_start = ss->backend_start;
			s[i].xact_start = ss->xact_start;
			s[i].query_start = ss->query_start;
			s[i].user = dupn(ss->user);
			s[i].application = dupn(ss->application);
			s[i].state = dupn(ss->state);
			s[i].query = dupn(ss->query);
		} else {
			s[i].backend_start = live_bs;
			s[i].xact_start = dval(r, row, 6, 0);
			s[i].query_start = dval(r, row, 7, 0);
			s[i].user = dupn(PQgetvalue(r, row, 3));
			s[i].application = dupn(app);
			s[i].state = dupn(PQgetvalue(r, row, 4));
			s[i].query = dupn(PQgetvalue(r, row, 8));
		}
		s[i].state_s = dval(r, row, 9, 0);
		if (cancel && strcmp(s[i].state, "active") != 0) {
			fail(err, errlen, "params.pids: pid %d is %s, not running a statement — "
			     "cancel_backend only cancels a running statement; terminate_backend is "
			     "the action for %s", pids[i], *s[i].state ? s[i].state : "without state",
			     *s[i].state ? s[i].state : "such a session");
			goto fail;
		}
	}
	PQclear(r);
	*out = s;
	return 0;
fail:
	PQclear(r);
	sessions_free(s, n);
	return -1;
}

static void add_time_cond(struct strbuf *sb, const char *col, double t)
{
	if (t == 0)
		strbuf_addf(sb, " AND %s IS NULL", col);
	else
		strbuf_addf(sb, " AND abs(extract(epoch FROM %s) - %.6f) < " EPOCH_TOLERANCE,
			    col, t);
}

static json_t *jtime(double t)
{
	return t == 0 ? json_null() : json_real(t);
}

/* One line of the query for the diff: whitespace collapsed, at most 80 bytes
 * (cut on a UTF-8 boundary). */
static void add_query_line(struct strbuf *sb, const char *q)
{
	size_t start = sb->len, n = 0;
	bool space = false;

	for (const char *s = q; *s && n < 80; s++) {
		if (isspace((unsigned char)*s)) {
			space = n > 0;
			continue;
		}
		if (space) {
			strbuf_addch(sb, ' ');
			n++;
			space = false;
		}
		strbuf_addch(sb, *s);
		n++;
	}
	if (n >= 80) {
		while (sb->len > start && ((unsigned char)sb->buf[sb->len - 1] & 0xC0) == 0x80)
			sb->len--;
		if (sb->len > start && ((unsigned char)sb->buf[sb->len - 1] & 0x80))
			sb->len--;
		sb->buf[sb->len] = '\0';
		strbuf_addstr(sb, " ...");
	}
}

static int prepare_signal(const struct action_ctx *ctx, const json_t *params,
			  struct proposal *p, char *err, size_t errlen, bool cancel)
{
	const char *fn = cancel ? "pg_cancel_backend" : "pg_terminate_backend";
	struct strbuf sql = STRBUF_INIT, diff = STRBUF_INIT, target = STRBUF_INIT,
		      apids = STRBUF_INIT, abs_ = STRBUF_INIT, aqs = STRBUF_INIT;
	struct target_session *s = NULL;
	int *pids = NULL;
	size_t n = 0;
	json_t *guard;

	if (parse_pids(params, &pids, &n, err, errlen) < 0)
		return -1;
	if (load_sessions(ctx, pids, n, cancel, &s, err, errlen) < 0) {
		free(pids);
		return -1;
	}
	strbuf_init(&sql, 256);
	strbuf_init(&diff, 256);
	strbuf_init(&target, 32);
	strbuf_init(&apids, 32);
	strbuf_init(&abs_, 64);
	strbuf_init(&aqs, 64);
	guard = json_array();
	strbuf_addf(&sql, "SELECT pid, %s(pid) FROM pg_stat_activity WHERE ", fn);
	strbuf_addstr(&target, n == 1 ? "pid " : "pids ");
	for (size_t i = 0; i < n; i++) {
		char dur[32];

		strbuf_addf(&sql, "%s(pid = %d", i ? " OR " : "", s[i].pid);
		add_time_cond(&sql, "backend_start", s[i].backend_start);
		add_time_cond(&sql, "xact_start", s[i].xact_start);
		add_time_cond(&sql, "query_start", s[i].query_start);
		strbuf_addch(&sql, ')');
		strbuf_addf(&target, "%s%d", i ? ", " : "", s[i].pid);
		strbuf_addf(&apids, "%s%d", i ? "," : "", s[i].pid);
		strbuf_addf(&abs_, "%s%.6f", i ? "," : "", s[i].backend_start);
		strbuf_addf(&aqs, "%s%.6f", i ? "," : "", s[i].query_start);

		fmt_duration(s[i].state_s, dur, sizeof(dur));
		strbuf_addf(&diff, "- pid %d %s app=%s %s %s ", s[i].pid, s[i].user,
			    *s[i].application ? s[i].application : "-",
			    *s[i].state ? s[i].state : "-", dur);
		add_query_line(&diff, s[i].query);
		strbuf_addch(&diff, '\n');
		if (cancel)
			strbuf_addf(&diff, "+ pid %d %s app=%s: statement cancelled, the session "
				    "stays\n", s[i].pid, s[i].user,
				    *s[i].application ? s[i].application : "-");

		json_t *g = json_object();
		json_object_set_new(g, "pid", json_integer(s[i].pid));
		json_object_set_new(g, "backend_start", jtime(s[i].backend_start));
		json_object_set_new(g, "xact_start", jtime(s[i].xact_start));
		json_object_set_new(g, "query_start", jtime(s[i].query_start));
		json_object_set_new(g, "user", json_string(s[i].user));
		json_object_set_new(g, "application", json_string(s[i].application));
		json_object_set_new(g, "state", json_string(s[i].state));
		json_object_set_new(g, "query", json_string(s[i].query));
		json_array_append_new(guard, g);
	}
	set_str(&p->sql, &sql);
	set_str(&p->diff, &diff);
	set_str(&p->target, &target);
	proposal_set(&p->target_kind, "session");
	proposal_set(&p->rollback_sql, NULL);
	json_decref(p->guard);
	p->guard = guard;
	p->sessions = (int)n;

	char *a1 = xmalloc(apids.len + 3), *a2 = xmalloc(abs_.len + 3), *a3 = xmalloc(aqs.len + 3);
	snprintf(a1, apids.len + 3, "{%s}", apids.buf);
	snprintf(a2, abs_.len + 3, "{%s}", abs_.buf);
	snprintf(a3, aqs.len + 3, "{%s}", aqs.buf);
	if (cancel) {
		/* the statement seen is no longer running (the session may stay) */
		set_verify(p, "SELECT count(*) FROM pg_stat_activity a "
			      "JOIN unnest($1::int[], $2::float8[], $3::float8[]) AS g(pid, bs, qs) "
			      "ON a.pid = g.pid AND abs(extract(epoch FROM a.backend_start) - g.bs) < "
			      EPOCH_TOLERANCE " AND abs(extract(epoch FROM a.query_start) - g.qs) < "
			      EPOCH_TOLERANCE " WHERE a.state = 'active'",
			   json_pack("[sss]", a1, a2, a3), "== 0", 1, 10);
	} else {
		set_verify(p, "SELECT count(*) FROM pg_stat_activity a "
			      "JOIN unnest($1::int[], $2::float8[]) AS g(pid, bs) "
			      "ON a.pid = g.pid AND abs(extract(epoch FROM a.backend_start) - g.bs) < "
			      EPOCH_TOLERANCE,
			   json_pack("[ss]", a1, a2), "== 0", 1, 10);
	}
	free(a1);
	free(a2);
	free(a3);
	strbuf_release(&apids);
	strbuf_release(&abs_);
	strbuf_release(&aqs);
	sessions_free(s, n);
	free(pids);
	return 0;
}

static int prepare_cancel(const struct action_ctx *ctx, const json_t *params,
			  struct proposal *p, char *err, size_t errlen)
{
	return prepare_signal(ctx, params, p, err, errlen, true);
}

static int prepare_terminate(const struct action_ctx *ctx, const json_t *params,
			     struct proposal *p, char *err, size_t errlen)
{
	return prepare_signal(ctx, params, p, err, errlen, false);
}

/* ---------------------------------------------------------------- indexes */

static const char *const index_methods[] = { "btree", "hash", "gist", "gin", "brin", "spgist" };

/* Truncate s to at most max bytes on a UTF-8 character boundary. */
static void utf8_truncate(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

static int relname_taken(struct action_memo *m, PGconn *c, const char *nsp_oid, const char *name,
			 bool *taken, char *err, size_t errlen)
{
	const char *v[2] = { nsp_oid, name };
	PGresult *r = run(m, c, "SELECT 1 FROM pg_class WHERE relnamespace = $1::oid AND relname = $2",
			  2, v, err, errlen, "params.name");

	if (!r)
		return -1;
	*taken = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

static int prepare_create_index(const struct action_ctx *ctx, const json_t *params,
				struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	const char *table, *name, *method;
	json_t *cols = json_object_get(params, "columns");
	struct rel t;
	PGresult *r = NULL;
	struct strbuf sb = STRBUF_INIT, before = STRBUF_INIT, after = STRBUF_INIT;
	const char **colv = NULL;
	char *attnums = NULL, *colarr = NULL, *nsp = NULL, *iname = NULL, *isql = NULL;
	size_t ncols;
	int rc = -1;

	if (param_string(params, "table", true, &table, err, errlen) < 0 ||
	    param_string(params, "name", false, &name, err, errlen) < 0 ||
	    param_string(params, "method", false, &method, err, errlen) < 0)
		return -1;
	if (!json_is_array(cols) || json_array_size(cols) == 0)
		return fail(err, errlen, "params.columns: must be a non-empty array of column names");
	ncols = json_array_size(cols);
	if (ncols > 32)
		return fail(err, errlen, "params.columns: %zu columns — an index takes at most 32",
			    ncols);
	if (!method)
		method = "btree";
	bool known = false;
	for (size_t i = 0; i < NPARAMS(index_methods); i++)
		known = known || strcmp(method, index_methods[i]) == 0;
	if (!known)
		return fail(err, errlen, "params.method: \"%s\" is not an index method — use btree, "
			    "hash, gist, gin, brin or spgist", method);
	if (name && strlen(name) > NAMEDATALEN_MAX)
		return fail(err, errlen, "params.name: \"%s\" is longer than %d bytes — give a "
			    "shorter name", name, NAMEDATALEN_MAX);
	if (rel_resolve(m, c, "table", table, "rpm", "a table", "create_index", &t, err, errlen) < 0)
		return -1;

	/* columns, in the table's catalog */
	const char *v2[4] = { t.oid };
	r = run(m, c, "SELECT attname, attnum FROM pg_attribute WHERE attrelid = $1::oid "
		   "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", 1, v2, err, errlen,
		"params.columns");
	if (!r)
		goto out;
	colv = xcalloc(ncols, sizeof(*colv));
	strbuf_init(&sb, 32);
	strbuf_addch(&sb, '{');
	for (size_t i = 0; i < ncols; i++) {
		json_t *e = json_array_get(cols, i);
		int row = -1;
		if (!json_is_string(e) || json_string_length(e) == 0) {
			fail(err, errlen, "params.columns[%zu]: must be a column name (a string)", i);
			goto out;
		}
		for (int k = 0; k < PQntuples(r); k++)
			if (strcmp(PQgetvalue(r, k, 0), json_string_value(e)) == 0)
				row = k;
		if (row < 0) {
			struct strbuf all = STRBUF_INIT;
			strbuf_init(&all, 64);
			for (int k = 0; k < PQntuples(r) && k < 20; k++)
				strbuf_addf(&all, "%s%s", k ? ", " : "", PQgetvalue(r, k, 0));
			if (PQntuples(r) > 20)
				strbuf_addstr(&all, ", ...");
			fail(err, errlen, "params.columns: column \"%s\" does not exist in %s — pick "
			     "one of: %s", json_string_value(e), t.display, all.buf);
			strbuf_release(&all);
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(colv[j], PQgetvalue(r, row, 0)) == 0) {
				fail(err, errlen, "params.columns: column \"%s\" is listed twice — "
				     "name each column once", colv[j]);
				goto out;
			}
		}
		colv[i] = PQgetvalue(r, row, 0);
		strbuf_addf(&sb, "%s%s", i ? "," : "", PQgetvalue(r, row, 1));
	}
	strbuf_addch(&sb, '}');
	attnums = strbuf_detach(&sb, NULL);
	colarr = pg_array(colv, ncols);

	/* an existing valid index with these leading columns and method */
	char nbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%zu", ncols);
	v2[1] = attnums;
	v2[2] = method;
	v2[3] = nbuf;
	PGresult *cov = run(m, c,
		"SELECT n.nspname || '.' || ci.relname, pg_get_indexdef(i.indexrelid) "
		"FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid "
		"JOIN pg_namespace n ON n.oid = ci.relnamespace JOIN pg_am am ON am.oid = ci.relam "
		"WHERE i.indrelid = $1::oid AND i.indisvalid AND i.indpred IS NULL "
		"AND am.amname = $3 "
		"AND (string_to_array(i.indkey::text, ' ')::int2[])[1:$4::int] = $2::int2[] "
		"ORDER BY ci.relname LIMIT 1", 4, v2, err, errlen, "params.columns");
	if (!cov)
		goto out;
	if (PQntuples(cov) > 0) {
		fail(err, errlen, "params.columns: index %s already covers these leading columns "
		     "(%s) — no new index is needed", PQgetvalue(cov, 0, 0), PQgetvalue(cov, 0, 1));
		PQclear(cov);
		goto out;
	}
	PQclear(cov);

	/* the name: given, or <table>_<cols>_idx made unique like PostgreSQL does */
	{
		PGresult *ns = run(m, c, "SELECT relnamespace FROM pg_class WHERE oid = $1::oid", 1, v2,
				   err, errlen, "params.table");
		if (!ns)
			goto out;
		nsp = xstrdup(PQgetvalue(ns, 0, 0));
		PQclear(ns);
	}
	bool taken;
	if (name) {
		if (relname_taken(m, c, nsp, name, &taken, err, errlen) < 0)
			goto out;
		if (taken) {
			fail(err, errlen, "params.name: a relation named %s.%s exists already — "
			     "choose another name or leave name out", t.schema, name);
			goto out;
		}
		iname = xstrdup(name);
	} else {
		struct strbuf base = STRBUF_INIT;
		strbuf_init(&base, 64);
		strbuf_addstr(&base, t.name);
		for (size_t i = 0; i < ncols; i++)
			strbuf_addf(&base, "_%s", colv[i]);
		for (int k = 0; k < 1000; k++) {
			char suffix[16], *cand;
			size_t keep;
			if (k == 0)
				snprintf(suffix, sizeof(suffix), "_idx");
			else
				snprintf(suffix, sizeof(suffix), "_idx%d", k);
			keep = NAMEDATALEN_MAX - strlen(suffix);
			cand = xmalloc(base.len + strlen(suffix) + 1);
			memcpy(cand, base.buf, base.len + 1);
			utf8_truncate(cand, keep);
			strcat(cand, suffix);
			if (relname_taken(m, c, nsp, cand, &taken, err, errlen) < 0) {
				free(cand);
				strbuf_release(&base);
				goto out;
			}
			if (!taken) {
				iname = cand;
				break;
			}
			free(cand);
		}
		strbuf_release(&base);
		if (!iname) {
			fail(err, errlen, "params.name: no free default name for the index on %s — "
			     "give params.name", t.display);
			goto out;
		}
	}

	/* SQL */
	char *qn = ident(c, iname), *qm = ident(c, method);
	isql = qident(c, t.schema, iname);
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "CREATE INDEX CONCURRENTLY %s ON %s USING %s (", qn ? qn : "", t.sql,
		    qm ? qm : "");
	bool bad = !qn || !qm || !isql;
	for (size_t i = 0; i < ncols; i++) {
		char *qc = ident(c, colv[i]);
		bad = bad || !qc;
		strbuf_addf(&sb, "%s%s", i ? ", " : "", qc ? qc : "");
		free(qc);
	}
	strbuf_addch(&sb, ')');
	free(qn);
	free(qm);
	if (bad) {
		strbuf_release(&sb);
		fail(err, errlen, "params: a name is not valid in the connection's encoding — "
		     "give names in UTF-8");
		goto out;
	}
	set_str(&p->sql, &sb);
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "DROP INDEX CONCURRENTLY IF EXISTS %s", isql);
	set_str(&p->rollback_sql, &sb);

	/* diff: the index list before and after, the new line as the server
	 * would print it */
	strbuf_init(&before, 256);
	strbuf_init(&after, 256);
	if (index_list(m, c, t.oid, &before, err, errlen) < 0)
		goto out;
	{
		const char *v5[5] = { iname, t.schema, t.name, method, colarr };
		PGresult *d = run(m, c,
			"SELECT format('CREATE INDEX %I ON %I.%I USING %s (%s)', $1::text, $2::text, $3::text, $4::text, "
			"(SELECT string_agg(quote_ident(x), ', ' ORDER BY o) "
			" FROM unnest($5::text[]) WITH ORDINALITY AS u(x, o)))", 5, v5, err, errlen,
			"diff");
		if (!d)
			goto out;
		/* keep the list ordered by name: insert the new line in place */
		const char *newline = PQgetvalue(d, 0, 0);
		PGresult *names = run(m, c, "SELECT ci.relname FROM pg_index i JOIN pg_class ci "
					 "ON ci.oid = i.indexrelid WHERE i.indrelid = $1::oid "
					 "ORDER BY ci.relname", 1, v2, err, errlen, "diff");
		if (!names) {
			PQclear(d);
			goto out;
		}
		const char *line = before.buf;
		bool placed = false;
		for (int k = 0; k < PQntuples(names); k++) {
			const char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
			if (!placed && strcmp(iname, PQgetvalue(names, k, 0)) < 0) {
				strbuf_addf(&after, "%s\n", newline);
				placed = true;
			}
			strbuf_add(&after, line, len);
			line += len;
		}
		if (!placed)
			strbuf_addf(&after, "%s\n", newline);
		PQclear(names);
		PQclear(d);
	}
	{
		char *d = proposal_text_diff(before.buf, after.buf);
		char size[32];
		fmt_bytes(t.bytes, size, sizeof(size));
		strbuf_init(&sb, 256);
		strbuf_addf(&sb, "  indexes on %s (%s)\n%s", t.display, size, d);
		free(d);
		set_str(&p->diff, &sb);
	}
	proposal_set(&p->target, t.display);
	proposal_set(&p->target_kind, "table");
	p->table_bytes = t.bytes;
	p->in_transaction = false;
	json_object_set_new(p->params, "name", json_string(iname));
	json_object_set_new(p->params, "method", json_string(method));
	set_verify(p, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
		      "JOIN pg_namespace n ON n.oid = c.relnamespace "
		      "WHERE n.nspname = $1 AND c.relname = $2 AND i.indisvalid",
		   json_pack("[ss]", t.schema, iname), "== 1", 0, 30);
	rc = 0;
out:
	PQclear(r);
	strbuf_release(&sb);
	strbuf_release(&before);
	strbuf_release(&after);
	free(colv);
	free(attnums);
	free(colarr);
	free(nsp);
	free(iname);
	free(isql);
	rel_release(&t);
	return rc;
}

static int prepare_drop_index(const struct action_ctx *ctx, const json_t *params,
			      struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	const char *index;
	struct rel ix;
	struct strbuf before = STRBUF_INIT, after = STRBUF_INIT, sb = STRBUF_INIT;
	PGresult *r;
	int rc = -1;

	if (param_string(params, "index", true, &index, err, errlen) < 0)
		return -1;
	if (rel_resolve(m, c, "index", index, "iI", "an index", "drop_index", &ix, err, errlen) < 0)
		return -1;
	if (ix.kind == 'I') {
		fail(err, errlen, "params.index: %s is an index on a partitioned table — DROP INDEX "
		     "CONCURRENTLY cannot drop it; drop it by hand in a maintenance window",
		     ix.display);
		goto out;
	}
	const char *v[1] = { ix.oid };
	r = run(m, c, "SELECT i.indrelid, tn.nspname || '.' || tc.relname, pg_get_indexdef(i.indexrelid), "
		   "(SELECT string_agg(conname, ', ') FROM pg_constraint WHERE conindid = i.indexrelid), "
		   "pg_total_relation_size(i.indrelid), pg_relation_size(i.indexrelid), "
		   "coalesce(s.idx_scan, 0) "
		   "FROM pg_index i JOIN pg_class tc ON tc.oid = i.indrelid "
		   "JOIN pg_namespace tn ON tn.oid = tc.relnamespace "
		   "LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid "
		   "WHERE i.indexrelid = $1::oid", 1, v, err, errlen, "params.index");
	if (!r)
		goto out;
	if (PQntuples(r) != 1) {
		PQclear(r);
		fail(err, errlen, "params.index: %s vanished while it was checked — refresh",
		     ix.display);
		goto out;
	}
	if (val(r, 0, 3)) {
		fail(err, errlen, "params.index: %s backs constraint %s — drop_index cannot remove "
		     "it; drop or change the constraint instead", ix.display, val(r, 0, 3));
		PQclear(r);
		goto out;
	}
	char *toid = xstrdup(PQgetvalue(r, 0, 0)), *tname = xstrdup(PQgetvalue(r, 0, 1)),
	     *def = xstrdup(PQgetvalue(r, 0, 2));
	int64_t tbytes = ival(r, 0, 4, -1), ibytes = ival(r, 0, 5, -1);
	long long scans = ival(r, 0, 6, 0);
	PQclear(r);

	strbuf_init(&before, 256);
	strbuf_init(&after, 256);
	if (index_list(m, c, toid, &before, err, errlen) < 0) {
		free(toid);
		free(tname);
		free(def);
		goto out;
	}
	/* after: every line but the dropped index's definition */
	for (const char *line = before.buf; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		size_t dl = strlen(def);
		bool dropped = len >= dl && strncmp(line, def, dl) == 0 &&
			       (len == dl || strncmp(line + dl, " -- INVALID", len - dl) == 0);
		if (!dropped)
			strbuf_addf(&after, "%.*s\n", (int)len, line);
		line += len + (nl ? 1 : 0);
	}
	char *d = proposal_text_diff(before.buf, after.buf);
	char isz[32], tsz[32];
	fmt_bytes(ibytes, isz, sizeof(isz));
	fmt_bytes(tbytes, tsz, sizeof(tsz));
	strbuf_init(&sb, 256);
	strbuf_addf(&sb, "  indexes on %s (%s); %s is %s, %lld scans since the statistics reset\n%s"
		    "  to re-create it: %s\n", tname, tsz, ix.display, isz, scans, d, def);
	free(d);
	set_str(&p->diff, &sb);
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "DROP INDEX CONCURRENTLY %s", ix.sql);
	set_str(&p->sql, &sb);
	proposal_set(&p->rollback_sql, NULL);
	proposal_set(&p->target, ix.display);
	proposal_set(&p->target_kind, "index");
	p->table_bytes = tbytes;
	p->in_transaction = false;
	set_verify(p, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		      "WHERE n.nspname = $1 AND c.relname = $2",
		   json_pack("[ss]", ix.schema, ix.name), "== 0", 0, 30);
	free(toid);
	free(tname);
	free(def);
	rc = 0;
out:
	strbuf_release(&before);
	strbuf_release(&after);
	rel_release(&ix);
	return rc;
}

/* ---------------------------------------------------------- vacuum/analyze */

static int prepare_vacuum(const struct action_ctx *ctx, const json_t *params,
			  struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	const char *table;
	bool analyze, full;
	struct rel t;
	struct strbuf sb = STRBUF_INIT;
	PGresult *r;

	if (param_string(params, "table", true, &table, err, errlen) < 0 ||
	    param_bool(params, "analyze", true, &analyze, err, errlen) < 0 ||
	    param_bool(params, "full", false, &full, err, errlen) < 0)
		return -1;
	if (rel_resolve(m, c, "table", table, "rpm", "a table", "vacuum", &t, err, errlen) < 0)
		return -1;
	const char *v[1] = { t.oid };
	r = run(m, c, "SELECT coalesce(s.n_dead_tup, 0), coalesce(s.n_live_tup, 0), "
		   "coalesce(to_char(greatest(s.last_vacuum, s.last_autovacuum), "
		   "'YYYY-MM-DD HH24:MI:SS'), 'never') "
		   "FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid "
		   "WHERE c.oid = $1::oid", 1, v, err, errlen, "params.table");
	if (!r) {
		rel_release(&t);
		return -1;
	}
	long long dead = ival(r, 0, 0, 0), live = ival(r, 0, 1, 0);
	char last[40], size[32], after_size[32];
	snprintf(last, sizeof(last), "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	fmt_bytes(t.bytes, size, sizeof(size));
	double share = live + dead > 0 ? 100.0 * (double)dead / (double)(live + dead) : 0;

	strbuf_init(&sb, 64);
	if (full)
		strbuf_addf(&sb, "VACUUM (FULL%s) %s", analyze ? ", ANALYZE" : "", t.sql);
	else if (analyze)
		strbuf_addf(&sb, "VACUUM (ANALYZE) %s", t.sql);
	else
		strbuf_addf(&sb, "VACUUM %s", t.sql);
	set_str(&p->sql, &sb);

	strbuf_init(&sb, 256);
	if (full)
		strbuf_addf(&sb, "  ACCESS EXCLUSIVE lock on %s for the whole rewrite (%s): every "
			    "read and write of it waits\n", t.display, size);
	strbuf_addf(&sb, "- %s: %lld dead tuples (%.1f%% of %lld), %s, last vacuum %s\n",
		    t.display, dead, share, live + dead, size, last);
	if (full) {
		int64_t est = t.bytes >= 0 && live + dead > 0
			? (int64_t)((double)t.bytes * (double)live / (double)(live + dead)) : -1;
		fmt_bytes(est, after_size, sizeof(after_size));
		strbuf_addf(&sb, "+ %s: 0 dead tuples, rewritten to about %s\n", t.display,
			    after_size);
	} else {
		strbuf_addf(&sb, "+ %s: 0 dead tuples, their space reusable (the files keep %s)\n",
			    t.display, size);
	}
	if (analyze)
		strbuf_addf(&sb, "+ %s: planner statistics refreshed\n", t.display);
	set_str(&p->diff, &sb);
	if (full && p->risk < RISK_HIGH)
		p->risk = RISK_HIGH;
	proposal_set(&p->rollback_sql, NULL);
	proposal_set(&p->target, t.display);
	proposal_set(&p->target_kind, "table");
	p->table_bytes = t.bytes;
	p->in_transaction = false;
	set_verify(p, "SELECT coalesce(n_dead_tup, 0) FROM pg_stat_all_tables WHERE relid = $1::oid",
		   json_pack("[s]", t.oid), dead > 0 ? "< baseline" : "<= baseline", 0, 60);
	rel_release(&t);
	return 0;
}

static int prepare_analyze(const struct action_ctx *ctx, const json_t *params,
			   struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	const char *table;
	struct rel t;
	struct strbuf sb = STRBUF_INIT;
	PGresult *r;

	if (param_string(params, "table", true, &table, err, errlen) < 0)
		return -1;
	if (rel_resolve(m, c, "table", table, "rpm", "a table", "analyze", &t, err, errlen) < 0)
		return -1;
	const char *v[1] = { t.oid };
	r = run(m, c, "SELECT coalesce(to_char(greatest(s.last_analyze, s.last_autoanalyze), "
		   "'YYYY-MM-DD HH24:MI:SS'), 'never'), coalesce(s.n_mod_since_analyze, 0) "
		   "FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid "
		   "WHERE c.oid = $1::oid", 1, v, err, errlen, "params.table");
	if (!r) {
		rel_release(&t);
		return -1;
	}
	strbuf_init(&sb, 64);
	strbuf_addf(&sb, "ANALYZE %s", t.sql);
	set_str(&p->sql, &sb);
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "- %s: statistics from %s, %s rows changed since\n"
		    "+ %s: statistics from now\n", t.display, PQgetvalue(r, 0, 0),
		    PQgetvalue(r, 0, 1), t.display);
	set_str(&p->diff, &sb);
	PQclear(r);
	proposal_set(&p->rollback_sql, NULL);
	proposal_set(&p->target, t.display);
	proposal_set(&p->target_kind, "table");
	p->table_bytes = t.bytes;
	p->in_transaction = true;
	set_verify(p, "SELECT extract(epoch FROM coalesce(greatest(last_analyze, last_autoanalyze), "
		      "'epoch'::timestamptz)) FROM pg_stat_all_tables WHERE relid = $1::oid",
		   json_pack("[s]", t.oid), "> baseline", 0, 30);
	rel_release(&t);
	return 0;
}

/* ------------------------------------------------------------------ roles */

struct role_setting {
	char oid[16];
	char *name;        /* owned: pg_settings name (lower case) */
	char *vartype;     /* owned */
	char **config;     /* owned: "name=value" of the role's database-wide settings */
	size_t nconfig;
};

static void role_setting_release(struct role_setting *rs)
{
	free(rs->name);
	free(rs->vartype);
	for (size_t i = 0; i < rs->nconfig; i++)
		free(rs->config[i]);
	free(rs->config);
	memset(rs, 0, sizeof(*rs));
}

static int role_resolve(struct action_memo *m, PGconn *c, const char *role, char oid[16],
			char *err, size_t errlen)
{
	const char *v[1] = { role };
	PGresult *r = run(m, c, "SELECT oid FROM pg_roles WHERE rolname = $1", 1, v, err, errlen,
			  "params.role");

	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return fail(err, errlen, "params.role: role \"%s\" does not exist — give a role "
			    "from pg_roles", role);
	}
	snprintf(oid, 16, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* Role, setting (user-settable) and the role's current settings. */
static int role_setting_load(struct action_memo *m, PGconn *c, const json_t *params,
			     struct role_setting *rs, const char **role, char *err, size_t errlen)
{
	const char *setting;
	PGresult *r;

	memset(rs, 0, sizeof(*rs));
	if (param_string(params, "role", true, role, err, errlen) < 0 ||
	    param_string(params, "setting", true, &setting, err, errlen) < 0)
		return -1;
	if (role_resolve(m, c, *role, rs->oid, err, errlen) < 0)
		return -1;
	const char *v[1] = { setting };
	r = run(m, c, "SELECT name, context, vartype FROM pg_settings WHERE name = lower($1)", 1, v,
		err, errlen, "params.setting");
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return fail(err, errlen, "params.setting: \"%s\" is not a server setting — check "
			    "the name in pg_settings", setting);
	}
	const char *ctxname = PQgetvalue(r, 0, 1);
	if (strcmp(ctxname, "user") != 0 && strcmp(ctxname, "superuser") != 0) {
		fail(err, errlen, "params.setting: %s has context %s and cannot be set per role — "
		     "ALTER ROLE sets only settings of context user or superuser",
		     PQgetvalue(r, 0, 0), ctxname);
		PQclear(r);
		return -1;
	}
	rs->name = xstrdup(PQgetvalue(r, 0, 0));
	rs->vartype = xstrdup(PQgetvalue(r, 0, 2));
	PQclear(r);
	const char *v2[1] = { rs->oid };
	r = run(m, c, "SELECT cfg FROM pg_db_role_setting s, unnest(s.setconfig) AS cfg "
		   "WHERE s.setrole = $1::oid AND s.setdatabase = 0", 1, v2, err, errlen,
		"params.role");
	if (!r) {
		role_setting_release(rs);
		return -1;
	}
	rs->nconfig = (size_t)PQntuples(r);
	rs->config = xcalloc(rs->nconfig + 1, sizeof(*rs->config));
	for (size_t i = 0; i < rs->nconfig; i++)
		rs->config[i] = xstrdup(PQgetvalue(r, (int)i, 0));
	PQclear(r);
	return 0;
}

/* The role's current value of rs->name, or NULL. */
static const char *role_current(const struct role_setting *rs)
{
	size_t n = strlen(rs->name);

	for (size_t i = 0; i < rs->nconfig; i++)
		if (strncmp(rs->config[i], rs->name, n) == 0 && rs->config[i][n] == '=')
			return rs->config[i] + n + 1;
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "  role r (all databases)" and the settings before/after as a diff;
 * newval NULL: the setting is removed. */
static char *role_diff(const char *role, const struct role_setting *rs, const char *newval)
{
	struct strbuf before = STRBUF_INIT, after = STRBUF_INIT, out = STRBUF_INIT;
	const char **lines = xcalloc(rs->nconfig + 1, sizeof(*lines));
	size_t n = 0, nl = strlen(rs->name);
	char *d;

	for (size_t i = 0; i < rs->nconfig; i++)
		lines[n++] = rs->config[i];
	qsort(lines, n, sizeof(*lines), cmp_str);
	strbuf_init(&before, 128);
	strbuf_init(&after, 128);
	bool placed = false;
	for (size_t i = 0; i < n; i++) {
		strbuf_addf(&before, "%s\n", lines[i]);
		bool same = strncmp(lines[i], rs->name, nl) == 0 && lines[i][nl] == '=';
		if (newval && !placed && (same || strcmp(lines[i], rs->name) > 0)) {
			strbuf_addf(&after, "%s=%s\n", rs->name, newval);
			placed = true;
		}
		if (!same)
			strbuf_addf(&after, "%s\n", lines[i]);
	}
	if (newval && !placed)
		strbuf_addf(&after, "%s=%s\n", rs->name, newval);
	free(lines);
	d = proposal_text_diff(before.buf, after.buf);
	strbuf_init(&out, 256);
	strbuf_addf(&out, "  role %s (all databases; new sessions only)\n%s", role, d);
	free(d);
	strbuf_release(&before);
	strbuf_release(&after);
	return strbuf_detach(&out, NULL);
}

/* ALTER ROLE "r" SET "s" = 'v' (or RESET when v is NULL) into a new string. */
static char *role_sql(PGconn *c, const char *role, const char *setting, const char *value)
{
	char *qr = ident(c, role), *qs = ident(c, setting), *qv = value ? literal(c, value) : NULL;
	struct strbuf sb = STRBUF_INIT;

	if (!qr || !qs || (value && !qv)) {
		free(qr);
		free(qs);
		free(qv);
		return NULL;
	}
	strbuf_init(&sb, 64);
	if (value)
		strbuf_addf(&sb, "ALTER ROLE %s SET %s = %s", qr, qs, qv);
	else
		strbuf_addf(&sb, "ALTER ROLE %s RESET %s", qr, qs);
	free(qr);
	free(qs);
	free(qv);
	return strbuf_detach(&sb, NULL);
}

/* The server's verdict on value for setting: set_config in a transaction
 * (or a savepoint) that is rolled back. When cockpit's role may not set a
 * superuser setting, the type is checked from pg_settings instead and
 * ALTER ROLE itself checks the rest when it runs. The memo keeps the whole
 * sequence's outcome under the set_config statement when the server
 * accepted the value; a refusal is asked again. */
static int value_check(struct action_memo *m, PGconn *c, const char *setting, const char *value,
		       char *err, size_t errlen)
{
	static const char set_sql[] = "/* cockpit action: value check */ SELECT set_config($1, $2, true)";
	bool in_tx = PQtransactionStatus(c) != PQTRANS_IDLE;
	const char *v[2] = { setting, value };
	PGresult *r, *set;
	char msg[512];
	int rc = 0;

	r = action_memo_get(m, c, set_sql, 2, v);
	if (r) {
		PQclear(r);
		return 0;
	}
	r = PQexec(c, in_tx ? "/* cockpit action: value check */ SAVEPOINT cockpit_value_check" :
			     "/* cockpit action: value check */ BEGIN");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		server_message(r, c, msg, sizeof(msg));
		PQclear(r);
		return fail(err, errlen, "params.value: cannot check the value: %s — check the "
			    "connection", msg);
	}
	PQclear(r);
	set = PQexecParams(c, set_sql, 2, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(set) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(set, PG_DIAG_SQLSTATE);
		const char *hint = PQresultErrorField(set, PG_DIAG_MESSAGE_HINT);
		server_message(set, c, msg, sizeof(msg));
		if (state && strcmp(state, "42501") == 0) {
			rc = 1; /* not allowed to try: fall back to the type check */
		} else {
			rc = fail(err, errlen, "params.value: the server rejects \"%s\" for %s: %s%s%s",
				  value, setting, msg, hint ? " — " : " — give a valid value",
				  hint ? hint : "");
		}
	}
	r = PQexec(c, in_tx ? "/* cockpit action: value check */ ROLLBACK TO SAVEPOINT cockpit_value_check" :
			     "/* cockpit action: value check */ ROLLBACK");
	/* Accepted and rolled back: the round may take the verdict as it is. */
	if (rc == 0 && PQresultStatus(r) == PGRES_COMMAND_OK)
		action_memo_put(m, c, set_sql, 2, v, set);
	PQclear(r);
	PQclear(set);
	if (in_tx) {
		r = PQexec(c, "/* cockpit action: value check */ RELEASE SAVEPOINT cockpit_value_check");
		PQclear(r);
	}
	if (rc <= 0)
		return rc;

	r = run(m, c, "SELECT vartype, coalesce(enumvals::text, '') FROM pg_settings WHERE name = $1",
		1, v, err, errlen, "params.value");
	if (!r)
		return -1;
	const char *vt = PQgetvalue(r, 0, 0);
	rc = 0;
	if (strcmp(vt, "bool") == 0) {
		static const char *const ok[] = { "on", "off", "true", "false", "yes", "no", "1", "0" };
		bool good = false;
		for (size_t i = 0; i < NPARAMS(ok); i++)
			good = good || strcasecmp(value, ok[i]) == 0;
		if (!good)
			rc = fail(err, errlen, "params.value: %s is a boolean — give on or off",
				  setting);
	} else if (strcmp(vt, "enum") == 0) {
		const char *vals = PQgetvalue(r, 0, 1);
		char *list = xstrdup(vals), *tok, *save = NULL;
		bool good = false;
		for (tok = strtok_r(list, "{},\"", &save); tok; tok = strtok_r(NULL, "{},\"", &save))
			good = good || strcasecmp(tok, value) == 0;
		free(list);
		if (!good)
			rc = fail(err, errlen, "params.value: \"%s\" is not one of %s's values %s",
				  value, setting, vals);
	} else if (strcmp(vt, "integer") == 0 || strcmp(vt, "real") == 0) {
		char *end;
		(void)strtod(value, &end);
		if (end == value)
			rc = fail(err, errlen, "params.value: %s takes a number (with an optional "
				  "unit) — \"%s\" is not one", setting, value);
	}
	PQclear(r);
	return rc;
}

/* A role default on a superuser also binds the administrators' and the
 * maintenance jobs' sessions: such a change is high risk, and the diff
 * says why. */
static void role_superuser_note(struct action_memo *m, PGconn *c, const char *role,
				struct proposal *p)
{
	const char *v[1] = { role };
	PGresult *r = exec_memo(m, c, "/* cockpit action */ SELECT rolsuper FROM pg_roles "
				"WHERE rolname = $1", 1, v);
	bool super = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		     strcmp(PQgetvalue(r, 0, 0), "t") == 0;

	PQclear(r);
	if (!super)
		return;
	if (p->risk < RISK_HIGH)
		p->risk = RISK_HIGH;
	{
		struct strbuf sb = STRBUF_INIT;

		strbuf_addstr(&sb, p->diff ? p->diff : "");
		if (sb.len && sb.buf[sb.len - 1] != '\n')
			strbuf_addch(&sb, '\n');
		strbuf_addf(&sb, "  note: %s is a superuser: the setting also binds administrators' "
			    "and maintenance sessions (risk raised to high)\n", role);
		free(p->diff);
		p->diff = strbuf_detach(&sb, NULL);
	}
}

static int prepare_alter_role_set(const struct action_ctx *ctx, const json_t *params,
				  struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	struct role_setting rs;
	const char *role, *value;
	char *sql, *rollback, *stored;
	size_t n;

	if (role_setting_load(m, c, params, &rs, &role, err, errlen) < 0)
		return -1;
	if (param_string(params, "value", true, &value, err, errlen) < 0 ||
	    value_check(m, c, rs.name, value, err, errlen) < 0) {
		role_setting_release(&rs);
		return -1;
	}
	const char *old = role_current(&rs);
	if (old && strcmp(old, value) == 0) {
		fail(err, errlen, "params.value: role %s already has %s=%s — nothing to change",
		     role, rs.name, value);
		role_setting_release(&rs);
		return -1;
	}
	sql = role_sql(c, role, rs.name, value);
	rollback = role_sql(c, role, rs.name, old);
	if (!sql || !rollback) {
		free(sql);
		free(rollback);
		role_setting_release(&rs);
		return fail(err, errlen, "params: a value is not valid in the connection's "
			    "encoding — give it in UTF-8");
	}
	free(p->sql);
	p->sql = sql;
	free(p->rollback_sql);
	p->rollback_sql = rollback;
	free(p->diff);
	p->diff = role_diff(role, &rs, value);
	role_superuser_note(m, c, role, p);
	n = strlen(role) + 6;
	char *t = xmalloc(n);
	snprintf(t, n, "role %s", role);
	free(p->target);
	p->target = t;
	proposal_set(&p->target_kind, "role");
	p->in_transaction = true;
	n = strlen(rs.name) + strlen(value) + 2;
	stored = xmalloc(n);
	snprintf(stored, n, "%s=%s", rs.name, value);
	set_verify(p, "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
		      "WHERE r.rolname = $1 AND s.setdatabase = 0 AND $2 = ANY(s.setconfig)",
		   json_pack("[ss]", role, stored), "== 1", 0, 10);
	free(stored);
	role_setting_release(&rs);
	return 0;
}

static int prepare_alter_role_reset(const struct action_ctx *ctx, const json_t *params,
				    struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	struct role_setting rs;
	const char *role;
	char *sql, *rollback;
	size_t n;

	if (role_setting_load(m, c, params, &rs, &role, err, errlen) < 0)
		return -1;
	const char *old = role_current(&rs);
	if (!old) {
		fail(err, errlen, "params.setting: role %s has no setting for %s in all databases — "
		     "nothing to reset", role, rs.name);
		role_setting_release(&rs);
		return -1;
	}
	sql = role_sql(c, role, rs.name, NULL);
	rollback = role_sql(c, role, rs.name, old);
	if (!sql || !rollback) {
		free(sql);
		free(rollback);
		role_setting_release(&rs);
		return fail(err, errlen, "params: a name is not valid in the connection's "
			    "encoding — give it in UTF-8");
	}
	free(p->sql);
	p->sql = sql;
	free(p->rollback_sql);
	p->rollback_sql = rollback;
	free(p->diff);
	p->diff = role_diff(role, &rs, NULL);
	n = strlen(role) + 6;
	char *t = xmalloc(n);
	snprintf(t, n, "role %s", role);
	free(p->target);
	p->target = t;
	proposal_set(&p->target_kind, "role");
	p->in_transaction = true;
	set_verify(p, "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
		      "WHERE r.rolname = $1 AND s.setdatabase = 0 AND EXISTS "
		      "(SELECT 1 FROM unnest(s.setconfig) AS c WHERE split_part(c, '=', 1) = $2)",
		   json_pack("[ss]", role, rs.name), "== 0", 0, 10);
	role_setting_release(&rs);
	return 0;
}

/* ----------------------------------------------------------------- revoke */

static const char *const privileges[] = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "ALL",
};

static int prepare_revoke(const struct action_ctx *ctx, const json_t *params,
			  struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	const char *role, *priv_in, *table, *schema, *priv = NULL;
	char roid[16];
	struct rel t;
	struct strbuf before = STRBUF_INIT, after = STRBUF_INIT, sb = STRBUF_INIT,
		      oids = STRBUF_INIT, privs = STRBUF_INIT, objs = STRBUF_INIT;
	PGresult *r = NULL;
	char *qrole = NULL, *qschema = NULL;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	if (param_string(params, "role", true, &role, err, errlen) < 0 ||
	    param_string(params, "privilege", true, &priv_in, err, errlen) < 0 ||
	    param_string(params, "table", false, &table, err, errlen) < 0 ||
	    param_string(params, "schema", false, &schema, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < NPARAMS(privileges); i++)
		if (strcasecmp(priv_in, privileges[i]) == 0)
			priv = privileges[i];
	if (!priv)
		return fail(err, errlen, "params.privilege: \"%s\" is not a table privilege — use "
			    "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER or ALL",
			    priv_in);
	if (!!table == !!schema)
		return fail(err, errlen, "params: give exactly one of table (one table) and schema "
			    "(all its tables)");
	if (schema && strcmp(priv, "ALL") == 0)
		return fail(err, errlen, "params.privilege: ALL needs a table, not a schema — the "
			    "rollback must restore exactly the grants that were there; revoke one "
			    "privilege at a time");
	if (role_resolve(m, c, role, roid, err, errlen) < 0)
		return -1;
	if (table && rel_resolve(m, c, "table", table, "rpvmf", "a table or view", "revoke", &t,
				 err, errlen) < 0)
		return -1;
	if (schema) {
		const char *vs[1] = { schema };
		r = run(m, c, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, vs, err, errlen,
			"params.schema");
		if (!r)
			goto out;
		if (PQntuples(r) == 0) {
			fail(err, errlen, "params.schema: schema \"%s\" does not exist — give a "
			     "schema from pg_namespace", schema);
			goto out;
		}
		PQclear(r);
		r = NULL;
	}

	/* the role's direct grants on the table(s), every privilege */
	const char *v[3] = { roid, table ? t.oid : NULL, schema };
	r = run(m, c, "SELECT c.oid, n.nspname, c.relname, a.privilege_type, a.is_grantable "
		   "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
		   "aclexplode(c.relacl) AS a "
		   "WHERE a.grantee = $1::oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
		   "AND (($2::oid IS NOT NULL AND c.oid = $2::oid) "
		   "OR ($2::oid IS NULL AND n.nspname = $3)) "
		   "ORDER BY n.nspname, c.relname, a.privilege_type", 3, v, err, errlen,
		"params.privilege");
	if (!r)
		goto out;
	strbuf_init(&before, 256);
	strbuf_init(&after, 256);
	strbuf_init(&oids, 64);
	strbuf_init(&privs, 64);
	strbuf_init(&objs, 128);
	int hits = 0, grantable = 0;
	const char *last_oid = "";
	for (int i = 0; i < PQntuples(r); i++) {
		const char *oid = PQgetvalue(r, i, 0), *nsp = PQgetvalue(r, i, 1),
			   *rel = PQgetvalue(r, i, 2), *pt = PQgetvalue(r, i, 3);
		bool match = strcmp(priv, "ALL") == 0 || strcmp(pt, priv) == 0;
		strbuf_addf(&before, "%s: %s on %s.%s\n", role, pt, nsp, rel);
		if (!match) {
			strbuf_addf(&after, "%s: %s on %s.%s\n", role, pt, nsp, rel);
			continue;
		}
		hits++;
		grantable += PQgetvalue(r, i, 4)[0] == 't';
		if (strcmp(oid, last_oid) != 0) {
			char *q = qident(c, nsp, rel);
			if (!q) {
				fail(err, errlen, "params.table: a name is not valid in the "
				     "connection's encoding");
				goto out;
			}
			strbuf_addf(&oids, "%s%s", oids.len ? "," : "", oid);
			strbuf_addf(&objs, "%s%s", objs.len ? ", " : "", q);
			free(q);
		}
		/* the privileges the rollback grants back (ALL: per table, one table only) */
		if (table)
			strbuf_addf(&privs, "%s%s", privs.len ? ", " : "", pt);
		last_oid = oid;
	}
	if (hits == 0) {
		fail(err, errlen, "params.privilege: role %s holds no direct %s grant on %s%s — "
		     "nothing to revoke (a privilege through a group role or PUBLIC is revoked "
		     "there)", role, priv, table ? t.display : "the tables of schema ",
		     table ? "" : schema);
		goto out;
	}
	qrole = ident(c, role);
	if (schema)
		qschema = ident(c, schema);
	if (!qrole || (schema && !qschema)) {
		fail(err, errlen, "params: a name is not valid in the connection's encoding");
		goto out;
	}
	strbuf_init(&sb, 128);
	if (table)
		strbuf_addf(&sb, "REVOKE %s ON TABLE %s FROM %s", priv, t.sql, qrole);
	else
		strbuf_addf(&sb, "REVOKE %s ON ALL TABLES IN SCHEMA %s FROM %s", priv, qschema, qrole);
	set_str(&p->sql, &sb);
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "GRANT %s ON TABLE %s TO %s%s", table ? privs.buf : priv, objs.buf,
		    qrole, grantable == hits ? " WITH GRANT OPTION" : "");
	set_str(&p->rollback_sql, &sb);
	{
		char *d = proposal_text_diff(before.buf, after.buf);
		strbuf_init(&sb, 256);
		strbuf_addf(&sb, "  direct grants of role %s on %s%s\n%s", role,
			    table ? t.display : "the tables of schema ", table ? "" : schema, d);
		if (grantable && grantable != hits)
			strbuf_addstr(&sb, "  note: some grants were WITH GRANT OPTION; the rollback "
					   "grants without it\n");
		free(d);
		set_str(&p->diff, &sb);
	}
	strbuf_init(&sb, 64);
	strbuf_addf(&sb, "role %s: %s on %s%s", role, priv, table ? t.display : "schema ",
		    table ? "" : schema);
	set_str(&p->target, &sb);
	proposal_set(&p->target_kind, "role");
	p->in_transaction = true;
	p->table_bytes = table ? t.bytes : -1;
	json_object_set_new(p->params, "privilege", json_string(priv));
	{
		char *arr = xmalloc(oids.len + 3);
		snprintf(arr, oids.len + 3, "{%s}", oids.buf);
		set_verify(p, "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) AS a "
			      "WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) "
			      "AND c.oid = ANY($2::oid[]) AND ($3 = 'ALL' OR a.privilege_type = $3)",
			   json_pack("[sss]", role, arr, priv), "== 0", 0, 10);
		free(arr);
	}
	rc = 0;
out:
	PQclear(r);
	free(qrole);
	free(qschema);
	strbuf_release(&before);
	strbuf_release(&after);
	strbuf_release(&oids);
	strbuf_release(&privs);
	strbuf_release(&objs);
	rel_release(&t);
	return rc;
}

/* ----------------------------------------------------------- server-level */

static int prepare_drop_slot(const struct action_ctx *ctx, const json_t *params,
			     struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	const char *slot;
	struct strbuf sb = STRBUF_INIT;
	PGresult *r;
	char *lit;

	if (param_string(params, "slot", true, &slot, err, errlen) < 0)
		return -1;
	const char *v[1] = { slot };
	r = run(m, c, "SELECT slot_type, coalesce(plugin::text, ''), coalesce(database::text, ''), "
		   "active, coalesce(active_pid, 0), coalesce(restart_lsn::text, 'none'), "
		   "CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL "
		   "ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END, "
		   "coalesce(wal_status, ''), "
		   "(SELECT string_agg(slot_name::text, ', ' ORDER BY slot_name) "
		   " FROM pg_replication_slots) "
		   "FROM pg_replication_slots WHERE slot_name = $1", 1, v, err, errlen, "params.slot");
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = run(m, c, "SELECT coalesce(string_agg(slot_name::text, ', ' ORDER BY slot_name), "
			   "'none') FROM pg_replication_slots", 0, NULL, err, errlen, "params.slot");
		if (!r)
			return -1;
		fail(err, errlen, "params.slot: replication slot \"%s\" does not exist — the slots "
		     "are: %s", slot, PQgetvalue(r, 0, 0));
		PQclear(r);
		return -1;
	}
	if (PQgetvalue(r, 0, 3)[0] == 't') {
		fail(err, errlen, "params.slot: slot %s is active (pid %s streams from it) — only "
		     "an inactive slot is dropped; stop its consumer first", slot,
		     PQgetvalue(r, 0, 4));
		PQclear(r);
		return -1;
	}
	lit = literal(c, slot);
	if (!lit) {
		PQclear(r);
		return fail(err, errlen, "params.slot: the name is not valid in the connection's "
			    "encoding");
	}
	strbuf_init(&sb, 64);
	strbuf_addf(&sb, "SELECT pg_drop_replication_slot(%s)", lit);
	free(lit);
	set_str(&p->sql, &sb);
	char wal[32];
	fmt_bytes(ival(r, 0, 6, -1), wal, sizeof(wal));
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "- slot %s (%s", slot, PQgetvalue(r, 0, 0));
	if (*PQgetvalue(r, 0, 1))
		strbuf_addf(&sb, ", plugin %s", PQgetvalue(r, 0, 1));
	if (*PQgetvalue(r, 0, 2))
		strbuf_addf(&sb, ", database %s", PQgetvalue(r, 0, 2));
	strbuf_addf(&sb, ") inactive, restart_lsn %s, retains %s of WAL%s%s\n", PQgetvalue(r, 0, 5),
		    val(r, 0, 6) ? wal : "an unknown amount", *PQgetvalue(r, 0, 7) ? ", wal_status " : "",
		    PQgetvalue(r, 0, 7));
	strbuf_addf(&sb, "+ the WAL it retains can be recycled at the next checkpoint\n");
	set_str(&p->diff, &sb);
	PQclear(r);
	strbuf_init(&sb, 64);
	strbuf_addf(&sb, "slot %s", slot);
	set_str(&p->target, &sb);
	proposal_set(&p->target_kind, "slot");
	proposal_set(&p->rollback_sql, NULL);
	p->in_transaction = true;
	set_verify(p, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
		   json_pack("[s]", slot), "== 0", 0, 10);
	return 0;
}

static int prepare_rotate_logfile(const struct action_ctx *ctx, const json_t *params,
				  struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct action_memo *m = ctx->memo;
	struct strbuf sb = STRBUF_INIT;
	PGresult *r;

	(void)params;
	r = run(m, c, "SELECT current_setting('logging_collector')", 0, NULL, err, errlen,
		"rotate_logfile");
	if (!r)
		return -1;
	if (strcmp(PQgetvalue(r, 0, 0), "on") != 0) {
		PQclear(r);
		return fail(err, errlen, "rotate_logfile: logging_collector is off — the server "
			    "writes no log file of its own to rotate");
	}
	PQclear(r);
	/* pg_current_logfile() may be denied to cockpit's role: then the diff
	 * says so and the default verification is left out */
	r = PQexec(c, "/* cockpit action: rotate_logfile */ SELECT pg_current_logfile()");
	const char *file = PQresultStatus(r) == PGRES_TUPLES_OK ? val(r, 0, 0) : NULL;
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "- server log %s\n+ server log: a new file\n",
		    file ? file : "(cockpit may not read pg_current_logfile)");
	set_str(&p->diff, &sb);
	if (file)
		set_verify(p, "SELECT count(*) FROM (SELECT pg_current_logfile() AS f) x "
			      "WHERE f IS DISTINCT FROM $1", json_pack("[s]", file), "== 1", 1, 10);
	PQclear(r);
	proposal_set(&p->sql, "SELECT pg_rotate_logfile()");
	proposal_set(&p->rollback_sql, NULL);
	proposal_set(&p->target, "server");
	proposal_set(&p->target_kind, "server");
	p->in_transaction = true;
	return 0;
}

static int prepare_checkpoint(const struct action_ctx *ctx, const json_t *params,
			      struct proposal *p, char *err, size_t errlen)
{
	PGconn *c = ctx->conn;
	struct strbuf sb = STRBUF_INIT;
	PGresult *r;

	(void)params;
	(void)err;
	(void)errlen;
	r = PQexec(c, "/* cockpit action: checkpoint */ SELECT checkpoint_time, redo_lsn, "
		      "extract(epoch FROM checkpoint_time)::text FROM pg_control_checkpoint()");
	strbuf_init(&sb, 128);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		strbuf_addf(&sb, "- last checkpoint %s (redo %s)\n+ a checkpoint now: dirty buffers "
			    "written, WAL before it recyclable\n", PQgetvalue(r, 0, 0),
			    PQgetvalue(r, 0, 1));
		set_verify(p, "SELECT extract(epoch FROM checkpoint_time) FROM pg_control_checkpoint()",
			   json_array(), "> baseline", 0, 60);
	} else {
		strbuf_addstr(&sb, "- last checkpoint: unknown (cockpit may not read "
				   "pg_control_checkpoint)\n+ a checkpoint now\n");
	}
	PQclear(r);
	set_str(&p->diff, &sb);
	proposal_set(&p->sql, "CHECKPOINT");
	proposal_set(&p->rollback_sql, NULL);
	proposal_set(&p->target, "server");
	proposal_set(&p->target_kind, "server");
	p->in_transaction = false;
	return 0;
}

/* ------------------------------------------------------------------ shell */

/* A word as a POSIX shell would need it quoted, for display only (argv runs
 * through execve, never a shell). */
static void add_shell_word(struct strbuf *sb, const char *w)
{
	bool plain = *w != '\0';

	for (const char *s = w; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("@%_+=:,./-", *s))
			plain = false;
	if (plain) {
		strbuf_addstr(sb, w);
		return;
	}
	strbuf_addch(sb, '\'');
	for (const char *s = w; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(sb, "'\\''");
		else
			strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '\'');
}

static int prepare_shell(const struct action_ctx *ctx, const json_t *params,
			 struct proposal *p, char *err, size_t errlen)
{
	const struct config *cfg = ctx->cfg;
	const struct config_shell_action *sa = NULL;
	const char *command;
	json_t *args = params ? json_object_get(params, "args") : NULL;
	struct strbuf word = STRBUF_INIT, disp = STRBUF_INIT, pat = STRBUF_INIT;
	json_t *argv = NULL, *used = NULL;
	regex_t re;
	int rc = -1;

	if (param_string(params, "command", true, &command, err, errlen) < 0)
		return -1;
	for (size_t i = 0; cfg && i < cfg->nshell_actions; i++)
		if (strcmp(cfg->shell_actions[i].name, command) == 0)
			sa = &cfg->shell_actions[i];
	if (!sa) {
		struct strbuf names = STRBUF_INIT;
		strbuf_init(&names, 64);
		for (size_t i = 0; cfg && i < cfg->nshell_actions; i++)
			strbuf_addf(&names, "%s%s", i ? ", " : "", cfg->shell_actions[i].name);
		fail(err, errlen, "params.command: \"%s\" is not a shell action of the config — "
		     "declare it under shell_actions (declared: %s)", command,
		     names.len ? names.buf : "none");
		strbuf_release(&names);
		return -1;
	}
	if (sa->nargv == 0)
		return fail(err, errlen, "params.command: shell action %s has an empty argv — fix "
			    "it in the config", command);
	if (args && !json_is_null(args) && !json_is_object(args))
		return fail(err, errlen, "params.args: must be an object of name: value");
	if (!sa->arg_pattern)
		return fail(err, errlen, "params.command: shell action %s has no arg_pattern — "
			    "declare one in the config so arguments can be checked", command);
	strbuf_init(&pat, 64);
	strbuf_addf(&pat, "^(%s)$", sa->arg_pattern);
	if (regcomp(&re, pat.buf, REG_EXTENDED | REG_NOSUB) != 0) {
		strbuf_release(&pat);
		return fail(err, errlen, "params.command: the arg_pattern of shell action %s is not "
			    "a valid POSIX extended regular expression — fix it in the config",
			    command);
	}
	strbuf_release(&pat);
	argv = json_array();
	used = json_object();
	strbuf_init(&disp, 128);
	for (size_t i = 0; i < sa->nargv; i++) {
		const char *s = sa->argv[i];
		strbuf_init(&word, 64);
		while (*s) {
			const char *close;
			size_t len;
			if (*s == '{' && (close = strchr(s + 1, '}')) != NULL &&
			    (len = strspn(s + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789_")) > 0 &&
			    s + 1 + len == close) {
				char key[128];
				snprintf(key, sizeof(key), "%.*s", (int)len, s + 1);
				json_t *a = args ? json_object_get(args, key) : NULL;
				if (!a) {
					fail(err, errlen, "params.args.%s: missing — shell action %s "
					     "needs {%s}", key, command, key);
					goto out;
				}
				if (!json_is_string(a) ||
				    strlen(json_string_value(a)) != json_string_length(a)) {
					fail(err, errlen, "params.args.%s: must be a string", key);
					goto out;
				}
				if (regexec(&re, json_string_value(a), 0, NULL, 0) != 0) {
					fail(err, errlen, "params.args.%s: \"%s\" does not match the "
					     "pattern %s of shell action %s — give a value it allows",
					     key, json_string_value(a), sa->arg_pattern, command);
					goto out;
				}
				strbuf_addstr(&word, json_string_value(a));
				json_object_set(used, key, a);
				s = close + 1;
			} else {
				strbuf_addch(&word, *s++);
			}
		}
		json_array_append_new(argv, json_string(word.buf));
		if (i)
			strbuf_addch(&disp, ' ');
		add_shell_word(&disp, word.buf);
		strbuf_release(&word);
	}
	if (args && json_is_object(args)) {
		const char *key;
		json_t *value;
		json_object_foreach(args, key, value) {
			(void)value;
			if (!json_object_get(used, key)) {
				fail(err, errlen, "params.args.%s: shell action %s has no {%s} in its "
				     "argv — leave it out", key, command, key);
				goto out;
			}
		}
	}
	json_decref(p->argv);
	p->argv = argv;
	argv = NULL;
	set_str(&p->sql, &disp);
	{
		struct strbuf sb = STRBUF_INIT;
		strbuf_init(&sb, 128);
		strbuf_addf(&sb, "+ runs on the cockpit host: %s", p->sql);
		if (sa->timeout_s > 0)
			strbuf_addf(&sb, " (killed after %d s)", sa->timeout_s);
		strbuf_addch(&sb, '\n');
		if (sa->summary && *sa->summary)
			strbuf_addf(&sb, "  %s\n", sa->summary);
		set_str(&p->diff, &sb);
		strbuf_init(&sb, 64);
		strbuf_addf(&sb, "shell %s", command);
		set_str(&p->target, &sb);
	}
	proposal_set(&p->target_kind, "host");
	proposal_set(&p->rollback_sql, NULL);
	p->in_transaction = false;
	if (p->risk < RISK_CRITICAL)
		p->risk = RISK_CRITICAL;
	if (sa->timeout_s > 0 && p->statement_timeout_ms == 0)
		p->statement_timeout_ms = sa->timeout_s * 1000;
	rc = 0;
out:
	strbuf_release(&word);
	strbuf_release(&disp);
	json_decref(argv);
	json_decref(used);
	regfree(&re);
	return rc;
}

/* --------------------------------------------------------------- registry */

static const struct action_param params_pids[] = {
	{ "pids", AP_PIDS, true, "backend pids (pg_stat_activity.pid), one or an array" },
};
static const struct action_param params_create_index[] = {
	{ "table", AP_TABLE, true, "the table to index, \"schema.table\" or \"table\"" },
	{ "columns", AP_COLUMNS, true, "the indexed columns, in order" },
	{ "name", AP_NAME, false, "index name; default <table>_<columns>_idx" },
	{ "method", AP_NAME, false, "btree (default), hash, gist, gin, brin or spgist" },
};
static const struct action_param params_drop_index[] = {
	{ "index", AP_INDEX, true, "the index to drop, \"schema.index\" or \"index\"" },
};
static const struct action_param params_vacuum[] = {
	{ "table", AP_TABLE, true, "the table to vacuum" },
	{ "analyze", AP_BOOL, false, "also ANALYZE (default true)" },
	{ "full", AP_BOOL, false, "VACUUM FULL: rewrites the table under ACCESS EXCLUSIVE (high risk)" },
};
static const struct action_param params_analyze[] = {
	{ "table", AP_TABLE, true, "the table to analyze" },
};
static const struct action_param params_alter_role_set[] = {
	{ "role", AP_ROLE, true, "the role whose default changes" },
	{ "setting", AP_SETTING, true, "a setting of context user or superuser, e.g. statement_timeout" },
	{ "value", AP_VALUE, true, "the new value, checked by the server" },
};
static const struct action_param params_alter_role_reset[] = {
	{ "role", AP_ROLE, true, "the role whose default is removed" },
	{ "setting", AP_SETTING, true, "the setting to reset" },
};
static const struct action_param params_revoke[] = {
	{ "role", AP_ROLE, true, "the role losing the privilege" },
	{ "privilege", AP_PRIVILEGE, true,
	  "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER or ALL" },
	{ "table", AP_TABLE, false, "one table (give table or schema)" },
	{ "schema", AP_NAME, false, "all tables of this schema (give table or schema)" },
};
static const struct action_param params_slot[] = {
	{ "slot", AP_SLOT, true, "an inactive replication slot" },
};
static const struct action_param params_shell[] = {
	{ "command", AP_NAME, true, "a shell action declared in the config (shell_actions)" },
	{ "args", AP_STRING, false, "object: {name} substitutions, each matching the command's arg_pattern" },
};

/* Long-running maintenance gets its own statement_timeout (6 h): the
 * policy default (a minute) would cancel it half-way. */
#define LONG_MS (6 * 3600 * 1000)
/* CREATE INDEX CONCURRENTLY waits (under lock_timeout) for every older
 * transaction to end, holding only SHARE UPDATE EXCLUSIVE, which blocks no
 * reads or writes: a policy-wide 2 s would make it fail, and leave an
 * INVALID index, whenever a long transaction runs somewhere. */
#define CIC_LOCK_MS (10 * 60 * 1000)

static const struct action_def registry[] = {
	{ "cancel_backend", "cancel the running statement of backends (pg_cancel_backend)",
	  RISK_LOW, false, true, "SelectStmt", params_pids, NPARAMS(params_pids), 0, 0,
	  prepare_cancel },
	{ "terminate_backend", "end backends' sessions (pg_terminate_backend)",
	  RISK_MEDIUM, false, true, "SelectStmt", params_pids, NPARAMS(params_pids), 0, 0,
	  prepare_terminate },
	{ "create_index", "CREATE INDEX CONCURRENTLY on a table's columns",
	  RISK_MEDIUM, true, false, "IndexStmt", params_create_index,
	  NPARAMS(params_create_index), CIC_LOCK_MS, LONG_MS, prepare_create_index },
	{ "drop_index", "DROP INDEX CONCURRENTLY (the definition is kept in the diff)",
	  RISK_HIGH, false, false, "DropStmt", params_drop_index, NPARAMS(params_drop_index),
	  0, LONG_MS, prepare_drop_index },
	{ "vacuum", "VACUUM (ANALYZE) a table; FULL rewrites it",
	  RISK_MEDIUM, false, false, "VacuumStmt", params_vacuum, NPARAMS(params_vacuum),
	  0, LONG_MS, prepare_vacuum },
	{ "analyze", "ANALYZE a table (fresh planner statistics)",
	  RISK_LOW, false, true, "VacuumStmt", params_analyze, NPARAMS(params_analyze),
	  0, LONG_MS, prepare_analyze },
	{ "alter_role_set", "ALTER ROLE ... SET a default setting (new sessions)",
	  RISK_MEDIUM, true, true, "AlterRoleSetStmt", params_alter_role_set,
	  NPARAMS(params_alter_role_set), 0, 0, prepare_alter_role_set },
	{ "alter_role_reset", "ALTER ROLE ... RESET a default setting (new sessions)",
	  RISK_MEDIUM, true, true, "AlterRoleSetStmt", params_alter_role_reset,
	  NPARAMS(params_alter_role_reset), 0, 0, prepare_alter_role_reset },
	{ "revoke", "REVOKE a table privilege from a role",
	  RISK_HIGH, true, true, "GrantStmt", params_revoke, NPARAMS(params_revoke), 0, 0,
	  prepare_revoke },
	{ "drop_replication_slot", "drop an inactive replication slot that retains WAL",
	  RISK_HIGH, false, true, "SelectStmt", params_slot, NPARAMS(params_slot), 0, 0,
	  prepare_drop_slot },
	{ "rotate_logfile", "switch the server log to a new file (pg_rotate_logfile)",
	  RISK_LOW, false, true, "SelectStmt", NULL, 0, 0, 0, prepare_rotate_logfile },
	{ "checkpoint", "force a CHECKPOINT",
	  RISK_LOW, false, false, "CheckPointStmt", NULL, 0, 0, LONG_MS, prepare_checkpoint },
	{ "shell", "run a shell action declared in the config (argv, never a shell)",
	  RISK_CRITICAL, false, false, NULL, params_shell, NPARAMS(params_shell), 0, 0,
	  prepare_shell },
};

const struct action_def *action_all(size_t *n)
{
	if (n)
		*n = NPARAMS(registry);
	return registry;
}

const struct action_def *action_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < NPARAMS(registry); i++)
		if (strcmp(registry[i].name, name) == 0)
			return &registry[i];
	return NULL;
}

const struct action_param *action_param_find(const struct action_def *a, const char *name)
{
	if (!a || !name)
		return NULL;
	for (size_t i = 0; i < a->nparams; i++)
		if (strcmp(a->params[i].name, name) == 0)
			return &a->params[i];
	return NULL;
}

int action_prepare(const struct action_ctx *ctx, const char *name, const json_t *params,
		   struct proposal *p, char *err, size_t errlen)
{
	const struct action_def *a = action_find(name);
	const char *key;
	json_t *value;

	if (!a) {
		struct strbuf names = STRBUF_INIT;
		strbuf_init(&names, 256);
		for (size_t i = 0; i < NPARAMS(registry); i++)
			strbuf_addf(&names, "%s%s", i ? ", " : "", registry[i].name);
		fail(err, errlen, "action \"%s\" is not in the registry — use one of: %s",
		     name ? name : "(none)", names.buf);
		strbuf_release(&names);
		return -1;
	}
	if (!ctx || !ctx->conn)
		return fail(err, errlen, "%s: no connection to check the parameters against — "
			    "prepare needs the target's connection", a->name);
	if (params && !json_is_object(params) && !json_is_null(params))
		return fail(err, errlen, "%s: params must be an object of name: value", a->name);
	if (params && json_is_object(params)) {
		json_object_foreach((json_t *)params, key, value) {
			(void)value;
			if (!action_param_find(a, key)) {
				struct strbuf names = STRBUF_INIT;
				strbuf_init(&names, 64);
				for (size_t i = 0; i < a->nparams; i++)
					strbuf_addf(&names, "%s%s", i ? ", " : "", a->params[i].name);
				fail(err, errlen, "params.%s: not a parameter of %s — %s%s", key,
				     a->name, a->nparams ? "use " : "it takes none",
				     names.len ? names.buf : "");
				strbuf_release(&names);
				return -1;
			}
		}
	}
	p->action = a;
	if (p->risk < a->risk)
		p->risk = a->risk;
	json_decref(p->params);
	p->params = params && json_is_object(params) ? json_deep_copy(params) : json_object();
	if (p->lock_timeout_ms == 0)
		p->lock_timeout_ms = a->default_lock_timeout_ms;
	if (p->statement_timeout_ms == 0)
		p->statement_timeout_ms = a->default_statement_timeout_ms;
	p->in_transaction = a->in_transaction;
	p->table_bytes = -1;
	p->sessions = 0;
	if (a->prepare(ctx, p->params, p, err, errlen) < 0)
		return -1;
	if (p->verify.sql && p->verify.attempts == 0 && ctx->cfg)
		p->verify.attempts = ctx->cfg->policy.verify_attempts;
	return 0;
}

/* ------------------------------------------------------------ edited SQL */

/* Parse sql: exactly one statement; *kind and *node its node type and body.
 * Returns the tree (caller decrefs) or NULL with err. */
static json_t *parse_one(const char *sql, const char *what, const char **kind, json_t **node,
			 char *err, size_t errlen)
{
	PgQueryParseResult pr = pg_query_parse(sql);
	json_t *tree, *stmts, *stmt;
	json_error_t je;
	const char *k;
	json_t *v;

	if (pr.error) {
		fail(err, errlen, "%s does not parse: %s at character %d — fix the SQL", what,
		     pr.error->message, pr.error->cursorpos);
		pg_query_free_parse_result(pr);
		return NULL;
	}
	tree = json_loads(pr.parse_tree, 0, &je);
	pg_query_free_parse_result(pr);
	if (!tree) {
		fail(err, errlen, "%s: the parse tree is not JSON (%s) — a libpg_query bug", what,
		     je.text);
		return NULL;
	}
	stmts = json_object_get(tree, "stmts");
	if (json_array_size(stmts) != 1) {
		fail(err, errlen, "%s holds %zu statements; cockpit runs exactly one", what,
		     json_array_size(stmts));
		json_decref(tree);
		return NULL;
	}
	stmt = json_object_get(json_array_get(stmts, 0), "stmt");
	*kind = NULL;
	*node = NULL;
	json_object_foreach(stmt, k, v) {
		*kind = k;
		*node = v;
	}
	if (!*kind) {
		fail(err, errlen, "%s is empty; cockpit runs exactly one statement", what);
		json_decref(tree);
		return NULL;
	}
	return tree;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static const char *article(const char *s)
{
	return strchr("AEIOU", s[0]) ? "an" : "a";
}

/* The same relation: the edit's schema as written must match; an
 * unqualified name matches only a relation in public (the executor's
 * search_path could resolve it elsewhere). */
static bool rangevar_match(const json_t *orig, const json_t *edit)
{
	const char *os = jstr(orig, "schemaname"), *es = jstr(edit, "schemaname");

	if (strcmp(jstr(orig, "relname"), jstr(edit, "relname")) != 0)
		return false;
	if (*es)
		return strcmp(os, es) == 0;
	return !*os || strcmp(os, "public") == 0;
}

static void rangevar_name(const json_t *rv, char *buf, size_t size)
{
	const char *s = jstr(rv, "schemaname");
	snprintf(buf, size, "%s%s%s", s, *s ? "." : "", jstr(rv, "relname"));
}

/* The strings of a List node ({"List":{"items":[{"String":{"sval":..}}]}}). */
static void list_names(const json_t *list, const char **schema, const char **name)
{
	json_t *items = json_object_get(json_object_get(list, "List"), "items");
	size_t n = json_array_size(items);

	*schema = "";
	*name = "";
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_object_get(json_array_get(items, i), "String");
		const char *v = json_string_value(json_object_get(s, "sval"));
		if (!v)
			v = json_string_value(json_object_get(s, "str"));
		if (i + 1 == n)
			*name = v ? v : "";
		else
			*schema = v ? v : "";
	}
}

static const char *last_name(const json_t *names)
{
	size_t n = json_array_size(names);
	json_t *s = n ? json_object_get(json_array_get(names, n - 1), "String") : NULL;
	const char *v = json_string_value(json_object_get(s, "sval"));

	if (!v)
		v = json_string_value(json_object_get(s, "str"));
	return v ? v : "";
}

static bool is_pid_column(const json_t *n);

struct select_rules {
	const char *action;
	const char *main_fn;            /* must be called */
	const char *const *allowed;     /* other functions allowed, NULL-terminated */
	const char *relation;           /* the only relation it may read, or NULL: none */
	/* found */
	int main_calls;
	char bad[400];
};

static void select_walk(const json_t *j, struct select_rules *r)
{
	const char *k;
	json_t *v;
	size_t i;

	if (r->bad[0])
		return;
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			select_walk(v, r);
		return;
	}
	if (!json_is_object(j))
		return;
	json_object_foreach((json_t *)j, k, v) {
		size_t kl = strlen(k);
		if (r->bad[0])
			return;
		if (isupper((unsigned char)k[0]) && kl > 4 && strcmp(k + kl - 4, "Stmt") == 0 &&
		    strcmp(k, "SelectStmt") != 0) {
			snprintf(r->bad, sizeof(r->bad), "the edit contains %s %s; %s runs a SELECT "
				 "of %s() only", article(k), k, r->action, r->main_fn);
			return;
		}
		if (strcmp(k, "intoClause") == 0) {
			snprintf(r->bad, sizeof(r->bad), "the edit is a SELECT INTO (it creates a "
				 "table); %s runs a SELECT of %s() only", r->action, r->main_fn);
			return;
		}
		if (strcmp(k, "FuncCall") == 0) {
			const char *fn = last_name(json_object_get(v, "funcname"));
			bool ok = strcmp(fn, r->main_fn) == 0;
			if (ok) {
				r->main_calls++;
				/* a signal goes to the row's pid, never to a constant */
				json_t *args = json_object_get(v, "args");
				if (r->relation && (json_array_size(args) != 1 ||
						    !is_pid_column(json_array_get(args, 0)))) {
					snprintf(r->bad, sizeof(r->bad), "the edit calls %s() on "
						 "something else than the row's pid; %s signals the "
						 "pids of pg_stat_activity rows its WHERE selects",
						 r->main_fn, r->action);
					return;
				}
			}
			for (size_t a = 0; !ok && r->allowed && r->allowed[a]; a++)
				ok = strcmp(fn, r->allowed[a]) == 0;
			if (!ok) {
				snprintf(r->bad, sizeof(r->bad), "the edit calls %s(); %s may call "
					 "only %s()", fn, r->action, r->main_fn);
				return;
			}
		}
		if (strcmp(k, "RangeVar") == 0 || strcmp(k, "RangeFunction") == 0 ||
		    strcmp(k, "RangeSubselect") == 0) {
			const char *s = jstr(v, "schemaname");
			if (strcmp(k, "RangeVar") != 0 || !r->relation ||
			    strcmp(jstr(v, "relname"), r->relation) != 0 ||
			    (*s && strcmp(s, "pg_catalog") != 0)) {
				char name[160];
				if (strcmp(k, "RangeVar") == 0)
					rangevar_name(v, name, sizeof(name));
				else
					snprintf(name, sizeof(name), "a %s",
						 strcmp(k, "RangeFunction") == 0 ? "function"
										 : "subquery");
				snprintf(r->bad, sizeof(r->bad), "the edit reads %s; %s reads %s%s",
					 name, r->action, r->relation ? r->relation : "no table",
					 r->relation ? " only" : "");
				return;
			}
		}
		select_walk(v, r);
	}
}

/* An integer constant, or -1. */
static long long const_int(const json_t *n)
{
	json_t *c = json_object_get(n, "A_Const");
	json_t *iv = json_object_get(json_object_get(c, "ival"), "ival");

	if (!c)
		return -1;
	if (json_is_integer(iv))
		return json_integer_value(iv);
	/* ival 0 is omitted from the tree */
	if (json_object_get(c, "ival"))
		return 0;
	return -1;
}

static bool is_pid_column(const json_t *n)
{
	json_t *cr = json_object_get(n, "ColumnRef");
	return cr && strcmp(last_name(json_object_get(cr, "fields")), "pid") == 0;
}

static bool pid_allowed(long long pid, const int *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Is this conjunct "pid = N" / "pid IN (N, ...)" with every N allowed? */
static bool pid_conjunct(const json_t *n, const int *pids, size_t npids)
{
	json_t *e = json_object_get(n, "A_Expr");
	const char *kind = jstr(e, "kind");
	json_t *l, *r;

	if (!e)
		return false;
	l = json_object_get(e, "lexpr");
	r = json_object_get(e, "rexpr");
	if (strcmp(kind, "AEXPR_OP") == 0 && strcmp(last_name(json_object_get(e, "name")), "=") == 0) {
		if (is_pid_column(l))
			return pid_allowed(const_int(r), pids, npids);
		if (is_pid_column(r))
			return pid_allowed(const_int(l), pids, npids);
		return false;
	}
	if (strcmp(kind, "AEXPR_IN") == 0 && is_pid_column(l) &&
	    strcmp(last_name(json_object_get(e, "name")), "=") == 0) {
		json_t *items = json_object_get(json_object_get(r, "List"), "items");
		size_t i;
		json_t *x;
		if (!items)
			items = r;
		if (!json_is_array(items) || json_array_size(items) == 0)
			return false;
		json_array_foreach(items, i, x)
			if (!pid_allowed(const_int(x), pids, npids))
				return false;
		return true;
	}
	return false;
}

/* Every row the WHERE can select has one of the proposal's pids: the
 * clause is pid = N, or an AND with such a conjunct, or an OR of those. */
static bool where_bounded(const json_t *w, const int *pids, size_t npids)
{
	json_t *b = json_object_get(w, "BoolExpr");
	size_t i;
	json_t *x;

	if (!w)
		return false;
	if (!b)
		return pid_conjunct(w, pids, npids);
	if (strcmp(jstr(b, "boolop"), "OR_EXPR") == 0) {
		json_array_foreach(json_object_get(b, "args"), i, x)
			if (!where_bounded(x, pids, npids))
				return false;
		return true;
	}
	if (strcmp(jstr(b, "boolop"), "AND_EXPR") == 0) {
		json_array_foreach(json_object_get(b, "args"), i, x)
			if (where_bounded(x, pids, npids))
				return true;
	}
	return false;
}

/* The pids of a signal SQL rendered by prepare (its WHERE's pid = N). */
static void collect_pids(const json_t *w, int **pids, size_t *n, size_t *alloc)
{
	json_t *b = json_object_get(w, "BoolExpr");
	json_t *e = json_object_get(w, "A_Expr");
	size_t i;
	json_t *x;

	if (b) {
		json_array_foreach(json_object_get(b, "args"), i, x)
			collect_pids(x, pids, n, alloc);
	} else if (e && is_pid_column(json_object_get(e, "lexpr"))) {
		long long v = const_int(json_object_get(e, "rexpr"));
		if (v > 0) {
			XGROW(*pids, *alloc, *n + 1);
			(*pids)[(*n)++] = (int)v;
		}
	}
}

static int check_select(const struct proposal *p, const json_t *orig, const json_t *edit,
			char *err, size_t errlen)
{
	static const char *const guard_fns[] = { "abs", "extract", "date_part", NULL };
	const char *name = p->action->name;
	struct select_rules r;

	memset(&r, 0, sizeof(r));
	r.action = name;
	if (strcmp(name, "cancel_backend") == 0 || strcmp(name, "terminate_backend") == 0) {
		r.main_fn = name[0] == 'c' ? "pg_cancel_backend" : "pg_terminate_backend";
		r.allowed = guard_fns;
		r.relation = "pg_stat_activity";
	} else if (strcmp(name, "drop_replication_slot") == 0) {
		r.main_fn = "pg_drop_replication_slot";
	} else {
		r.main_fn = "pg_rotate_logfile";
	}
	select_walk(edit, &r);
	if (r.bad[0])
		return fail(err, errlen, "%s", r.bad);
	if (r.main_calls == 0)
		return fail(err, errlen, "the edit does not call %s(); %s runs it", r.main_fn, name);
	if (!r.relation && r.main_calls > 1)
		return fail(err, errlen, "the edit calls %s() %d times; %s calls it once", r.main_fn,
			    r.main_calls, name);
	if (r.relation) {
		int *pids = NULL;
		size_t n = 0, alloc = 0;
		collect_pids(json_object_get(orig, "whereClause"), &pids, &n, &alloc);
		bool ok = where_bounded(json_object_get(edit, "whereClause"), pids, n);
		free(pids);
		if (!ok)
			return fail(err, errlen, "the edit's WHERE does not bound every row to a pid of "
				    "the proposal (pid = N with N among %s) — keep the pid conditions",
				    p->target ? p->target : "its pids");
	}
	if (strcmp(name, "drop_replication_slot") == 0) {
		/* the slot literal of the edit's call must be the proposal's */
		json_t *ot = json_object_get(json_object_get(json_array_get(
			json_object_get(orig, "targetList"), 0), "ResTarget"), "val");
		json_t *et = json_object_get(json_object_get(json_array_get(
			json_object_get(edit, "targetList"), 0), "ResTarget"), "val");
		json_t *oa = json_array_get(json_object_get(json_object_get(ot, "FuncCall"), "args"), 0);
		json_t *ea = json_array_get(json_object_get(json_object_get(et, "FuncCall"), "args"), 0);
		const char *os = json_string_value(json_object_get(json_object_get(
			json_object_get(oa, "A_Const"), "sval"), "sval"));
		const char *es = json_string_value(json_object_get(json_object_get(
			json_object_get(ea, "A_Const"), "sval"), "sval"));
		if (json_array_size(json_object_get(edit, "targetList")) != 1 || !os || !es ||
		    strcmp(os, es) != 0)
			return fail(err, errlen, "the edit drops another slot than %s; "
				    "drop_replication_slot drops the proposal's slot only",
				    p->target ? p->target : "the proposal's");
	}
	return 0;
}

int action_check_sql(const struct proposal *p, const char *sql, char *err, size_t errlen)
{
	const struct action_def *a = p ? p->action : NULL;
	const char *okind, *ekind;
	json_t *otree = NULL, *etree = NULL, *o, *e;
	char n1[160], n2[160];
	int rc = -1;

	if (!a)
		return fail(err, errlen, "the proposal names no action — nothing to check the edit "
			    "against");
	if (!a->stmt_kind)
		return fail(err, errlen, "%s runs an argv from the config, not SQL — it cannot be "
			    "edited; change the shell action in the config", a->name);
	if (!sql || !*sql)
		return fail(err, errlen, "the edit is empty; %s runs %s %s", a->name,
			    article(a->stmt_kind), a->stmt_kind);
	if (!p->sql)
		return fail(err, errlen, "the proposal has no prepared SQL to compare the edit with "
			    "— prepare it first");
	otree = parse_one(p->sql, "the proposal's SQL", &okind, &o, err, errlen);
	if (!otree)
		return -1;
	etree = parse_one(sql, "the edit", &ekind, &e, err, errlen);
	if (!etree)
		goto out;
	if (strcmp(ekind, a->stmt_kind) != 0) {
		fail(err, errlen, "the edit is %s %s; %s runs %s %s only", article(ekind), ekind,
		     a->name, article(a->stmt_kind), a->stmt_kind);
		goto out;
	}
	if (strcmp(ekind, "IndexStmt") == 0) {
		rangevar_name(json_object_get(e, "relation"), n1, sizeof(n1));
		if (!rangevar_match(json_object_get(o, "relation"), json_object_get(e, "relation"))) {
			fail(err, errlen, "the edit indexes %s; create_index indexes %s only", n1,
			     p->target ? p->target : "the proposal's table");
			goto out;
		}
		if (!json_is_true(json_object_get(e, "concurrent"))) {
			fail(err, errlen, "the edit drops CONCURRENTLY; create_index builds without "
			     "blocking writes only CONCURRENTLY");
			goto out;
		}
	} else if (strcmp(ekind, "DropStmt") == 0) {
		const char *os, *on, *es, *en;
		if (strcmp(jstr(e, "removeType"), "OBJECT_INDEX") != 0) {
			fail(err, errlen, "the edit drops %s; drop_index drops an index only",
			     jstr(e, "removeType"));
			goto out;
		}
		if (json_array_size(json_object_get(e, "objects")) != 1) {
			fail(err, errlen, "the edit drops %zu indexes; drop_index drops one",
			     json_array_size(json_object_get(e, "objects")));
			goto out;
		}
		list_names(json_array_get(json_object_get(o, "objects"), 0), &os, &on);
		list_names(json_array_get(json_object_get(e, "objects"), 0), &es, &en);
		if (strcmp(on, en) != 0 || (*es ? strcmp(os, es) != 0 : strcmp(os, "public") != 0)) {
			fail(err, errlen, "the edit drops %s%s%s; drop_index drops %s only", es,
			     *es ? "." : "", en, p->target ? p->target : "the proposal's index");
			goto out;
		}
		if (!json_is_true(json_object_get(e, "concurrent"))) {
			fail(err, errlen, "the edit drops CONCURRENTLY; drop_index drops without "
			     "blocking reads and writes only CONCURRENTLY");
			goto out;
		}
		if (strcmp(jstr(e, "behavior"), "DROP_CASCADE") == 0) {
			fail(err, errlen, "the edit adds CASCADE; drop_index drops the index only");
			goto out;
		}
	} else if (strcmp(ekind, "VacuumStmt") == 0) {
		json_t *orels = json_object_get(o, "rels"), *erels = json_object_get(e, "rels");
		json_t *orv = json_object_get(json_object_get(json_array_get(orels, 0),
							      "VacuumRelation"), "relation");
		json_t *erv = json_object_get(json_object_get(json_array_get(erels, 0),
							      "VacuumRelation"), "relation");
		bool ofull = false, efull = false;
		size_t i;
		json_t *x;
		if (json_is_true(json_object_get(o, "is_vacuumcmd")) !=
		    json_is_true(json_object_get(e, "is_vacuumcmd"))) {
			fail(err, errlen, "the edit is %s; %s runs %s only",
			     json_is_true(json_object_get(e, "is_vacuumcmd")) ? "a VACUUM" : "an ANALYZE",
			     a->name, strcmp(a->name, "analyze") == 0 ? "ANALYZE" : "VACUUM");
			goto out;
		}
		if (json_array_size(erels) != 1 || !erv) {
			fail(err, errlen, "the edit names %zu tables; %s works on %s only",
			     json_array_size(erels), a->name, p->target ? p->target : "one table");
			goto out;
		}
		if (json_object_get(json_object_get(json_array_get(erels, 0), "VacuumRelation"),
				    "va_cols")) {
			/* a column list is allowed: it only narrows ANALYZE */
		}
		rangevar_name(erv, n1, sizeof(n1));
		if (!rangevar_match(orv, erv)) {
			fail(err, errlen, "the edit works on %s; %s works on %s only", n1, a->name,
			     p->target ? p->target : "the proposal's table");
			goto out;
		}
		json_array_foreach(json_object_get(o, "options"), i, x)
			ofull = ofull || strcmp(jstr(json_object_get(x, "DefElem"), "defname"), "full") == 0;
		json_array_foreach(json_object_get(e, "options"), i, x)
			efull = efull || strcmp(jstr(json_object_get(x, "DefElem"), "defname"), "full") == 0;
		if (efull && !ofull) {
			fail(err, errlen, "the edit adds FULL (an ACCESS EXCLUSIVE rewrite); propose "
			     "vacuum with full: true instead, which is judged as high risk");
			goto out;
		}
	} else if (strcmp(ekind, "AlterRoleSetStmt") == 0) {
		json_t *or = json_object_get(o, "role"), *er = json_object_get(e, "role");
		json_t *os = json_object_get(o, "setstmt"), *es = json_object_get(e, "setstmt");
		if (json_object_get(e, "database")) {
			fail(err, errlen, "the edit adds IN DATABASE; %s sets the role's setting for "
			     "all databases only", a->name);
			goto out;
		}
		if (strcmp(jstr(er, "roletype"), "ROLESPEC_CSTRING") != 0 ||
		    strcmp(jstr(or, "rolename"), jstr(er, "rolename")) != 0) {
			fail(err, errlen, "the edit alters role %s; %s alters %s only",
			     *jstr(er, "rolename") ? jstr(er, "rolename") : "ALL or CURRENT_USER",
			     a->name, p->target ? p->target : "the proposal's role");
			goto out;
		}
		if (strcmp(jstr(os, "name"), jstr(es, "name")) != 0) {
			fail(err, errlen, "the edit changes setting %s; %s changes %s only",
			     *jstr(es, "name") ? jstr(es, "name") : "ALL", a->name, jstr(os, "name"));
			goto out;
		}
		if (strcmp(jstr(os, "kind"), jstr(es, "kind")) != 0) {
			fail(err, errlen, "the edit is a %s; %s runs %s only",
			     strcmp(jstr(es, "kind"), "VAR_SET_VALUE") == 0 ? "SET" : "RESET or SET "
			     "FROM CURRENT", a->name, strcmp(a->name, "alter_role_set") == 0
			     ? "SET name = value" : "RESET name");
			goto out;
		}
	} else if (strcmp(ekind, "GrantStmt") == 0) {
		json_t *oo = json_object_get(o, "objects"), *eo = json_object_get(e, "objects");
		json_t *eg = json_object_get(e, "grantees");
		const char *orole = jstr(json_object_get(json_array_get(json_object_get(o, "grantees"),
								       0), "RoleSpec"), "rolename");
		char *op, *ep;
		if (json_is_true(json_object_get(e, "is_grant"))) {
			fail(err, errlen, "the edit is a GRANT; revoke runs REVOKE only");
			goto out;
		}
		if (strcmp(jstr(e, "objtype"), "OBJECT_TABLE") != 0 ||
		    strcmp(jstr(o, "targtype"), jstr(e, "targtype")) != 0 ||
		    json_array_size(oo) != json_array_size(eo)) {
			fail(err, errlen, "the edit revokes on other objects; revoke works on %s only",
			     p->target ? p->target : "the proposal's table");
			goto out;
		}
		for (size_t i = 0; i < json_array_size(eo); i++) {
			json_t *ox = json_array_get(oo, i), *ex = json_array_get(eo, i);
			bool same;
			if (json_object_get(ex, "RangeVar"))
				same = rangevar_match(json_object_get(ox, "RangeVar"),
						      json_object_get(ex, "RangeVar"));
			else
				same = json_equal(ox, ex);
			if (!same) {
				fail(err, errlen, "the edit revokes on other objects; revoke works on "
				     "%s only", p->target ? p->target : "the proposal's table");
				goto out;
			}
		}
		if (json_array_size(eg) != 1 ||
		    strcmp(jstr(json_object_get(json_array_get(eg, 0), "RoleSpec"), "rolename"),
			   orole) != 0) {
			fail(err, errlen, "the edit revokes from other roles; revoke revokes from %s "
			     "only", orole);
			goto out;
		}
		op = json_dumps(json_object_get(o, "privileges"), JSON_SORT_KEYS | JSON_COMPACT);
		ep = json_dumps(json_object_get(e, "privileges"), JSON_SORT_KEYS | JSON_COMPACT);
		bool same = (!op && !ep) || (op && ep && strcmp(op, ep) == 0);
		free(op);
		free(ep);
		if (!same) {
			fail(err, errlen, "the edit revokes other privileges; the rollback restores "
			     "the proposal's only — propose revoke with that privilege instead");
			goto out;
		}
		if (strcmp(jstr(e, "behavior"), "DROP_CASCADE") == 0) {
			fail(err, errlen, "the edit adds CASCADE; revoke does not revoke dependent "
			     "grants");
			goto out;
		}
	} else if (strcmp(ekind, "SelectStmt") == 0) {
		if (check_select(p, o, e, err, errlen) < 0)
			goto out;
	} else if (strcmp(ekind, "CheckPointStmt") == 0) {
		/* nothing to compare */
	}
	(void)n2;
	rc = 0;
out:
	json_decref(otree);
	json_decref(etree);
	return rc;
}
