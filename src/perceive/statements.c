/*
 * statements: pg_stat_statements deltas, ranking and the text cache; see
 * statements.h.
 *
 * Two open-addressing hash tables keyed by (queryid, userid, dbid,
 * toplevel): the previous sample (rebuilt each update) and the text cache
 * keyed by queryid alone (texts are the same across users and databases
 * often enough, and this keeps the cache small).
 */
#include "perceive/statements.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/mem.h"
#include "perceive/agents.h"
#include "perceive/pgconn.h"
#include "perceive/snapshot.h"

#define TEXT_MAX 2048       /* bytes of text kept per statement */
#define TEXT_CACHE_MAX 4096 /* cache entries kept at most (texts only for top ones) */
#define WANT_MAX 500        /* texts asked for per refresh at most */

struct prev_entry {
	int64_t queryid;
	unsigned userid, dbid;
	bool toplevel, used;
	double calls, total_ms, rows;
};

struct text_entry {
	int64_t queryid;
	bool used;
	bool fetched;      /* text was asked for (even if it was not found) */
	char *text;        /* owned, may be NULL */
	char *agent_id;    /* owned, may be NULL */
	char *task_id;     /* owned, may be NULL */
	int64_t last_top;  /* update sequence when last in the top list */
};

struct window_time {
	int64_t queryid;
	double ms;
};

struct delta {
	const struct stmt_row *row;
	double calls, total_ms, rows;
};

struct statements_state {
	struct prev_entry *prev;
	size_t prev_cap;
	struct prev_entry *spare; /* the table before prev, reused to avoid page faults */
	size_t spare_cap;
	double prev_time;   /* epoch s of the previous sample; 0 none */
	struct text_entry *texts;
	size_t texts_cap, ntexts;
	int64_t seq;
	int64_t *want;      /* queryids needing text after the last update */
	size_t nwant, want_alloc;
	struct agent_time *times;
	size_t times_alloc;
	struct window_time *last;   /* every delta of the last window (queryid, ms) */
	size_t nlast, last_alloc;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t row_hash(int64_t q, unsigned u, unsigned d, bool top)
{
	return mix64((uint64_t)q ^ ((uint64_t)u << 32) ^ ((uint64_t)d * 0x9e3779b97f4a7c15ULL) ^ top);
}

struct statements_state *statements_state_new(void)
{
	struct statements_state *st = xcalloc(1, sizeof(*st));

	st->texts_cap = 2 * TEXT_CACHE_MAX;
	st->texts = xcalloc(st->texts_cap, sizeof(*st->texts));
	return st;
}

static void text_entry_clear(struct text_entry *t)
{
	free(t->text);
	free(t->agent_id);
	free(t->task_id);
	memset(t, 0, sizeof(*t));
}

void statements_state_free(struct statements_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->texts_cap; i++)
		text_entry_clear(&st->texts[i]);
	free(st->texts);
	free(st->prev);
	free(st->spare);
	free(st->want);
	free(st->times);
	free(st->last);
	free(st);
}

void statements_build_sql(struct strbuf *sql, const char *extversion)
{
	/* toplevel appeared in 1.9 (PostgreSQL 14); *_exec_time in 1.8 (13). */
	bool has_toplevel = extversion && strverscmp(extversion, "1.9") >= 0;

	strbuf_addf(sql,
		"/* cockpit collector: statements */ "
		"SELECT s.queryid, s.userid, s.dbid, %s, s.calls, s.total_exec_time, s.rows, "
		"s.max_exec_time, s.mean_exec_time, s.stddev_exec_time, r.rolname, d.datname "
		"FROM pg_stat_statements(false) s "
		"LEFT JOIN pg_roles r ON r.oid = s.userid "
		"LEFT JOIN pg_database d ON d.oid = s.dbid "
		"WHERE s.queryid IS NOT NULL",
		has_toplevel ? "s.toplevel" : "true");
}

size_t statements_parse(PGresult *r, struct stmt_row **rows)
{
	int n = r ? PQntuples(r) : 0;
	struct stmt_row *out;

	*rows = NULL;
	if (n <= 0)
		return 0;
	out = xmalloc((size_t)n * sizeof(*out));
	for (int i = 0; i < n; i++) {
		struct stmt_row *x = &out[i];

		x->queryid = pgconn_int(r, i, 0, 0);
		x->userid = (unsigned)pgconn_int(r, i, 1, 0);
		x->dbid = (unsigned)pgconn_int(r, i, 2, 0);
		x->toplevel = pgconn_bool(r, i, 3);
		x->calls = pgconn_double(r, i, 4, 0);
		x->total_ms = pgconn_double(r, i, 5, 0);
		x->rows = pgconn_double(r, i, 6, 0);
		x->max_ms = pgconn_double(r, i, 7, 0);
		x->mean_ms = pgconn_double(r, i, 8, 0);
		x->stddev_ms = pgconn_double(r, i, 9, 0);
		x->user = pgconn_str(r, i, 10);
		x->database = pgconn_str(r, i, 11);
	}
	*rows = out;
	return (size_t)n;
}

static struct text_entry *text_find(struct statements_state *st, int64_t qid, bool create)
{
	size_t mask = st->texts_cap - 1;

	for (size_t i = mix64((uint64_t)qid) & mask;; i = (i + 1) & mask) {
		struct text_entry *t = &st->texts[i];

		if (t->used && t->queryid == qid)
			return t;
		if (!t->used) {
			if (!create)
				return NULL;
			t->used = true;
			t->queryid = qid;
			st->ntexts++;
			return t;
		}
	}
}

/* Keep the cache bounded: when full, rebuild it with the entries seen in a
 * top list most recently. */
static void text_cache_trim(struct statements_state *st)
{
	struct text_entry *old = st->texts;
	size_t cap = st->texts_cap, keep = TEXT_CACHE_MAX / 2, kept = 0;
	int64_t cutoff = st->seq - 2;

	if (st->ntexts < TEXT_CACHE_MAX)
		return;
	st->texts = xcalloc(cap, sizeof(*st->texts));
	st->ntexts = 0;
	for (size_t i = 0; i < cap; i++) {
		struct text_entry *t = &old[i];

		if (t->used && (t->last_top >= cutoff || t->agent_id) && kept < keep) {
			if (t->last_top < cutoff) {
				free(t->text); /* keep the tags, drop the text */
				t->text = NULL;
			}
			*text_find(st, t->queryid, true) = *t;
			kept++;
		} else {
			text_entry_clear(t);
		}
	}
	free(old);
}

static int cmp_delta(const void *x, const void *y)
{
	const struct delta *a = x, *b = y;

	if (a->total_ms != b->total_ms)
		return a->total_ms < b->total_ms ? 1 : -1;
	if (a->calls != b->calls)
		return a->calls < b->calls ? 1 : -1;
	return a->row->queryid < b->row->queryid ? -1 : a->row->queryid > b->row->queryid;
}

/* Remember a queryid whose text we lack; duplicates are removed later by
 * want_unique(), which also keeps the order (top statements first). */
static void swap_delta(struct delta *a, struct delta *b)
{
	struct delta t = *a;

	*a = *b;
	*b = t;
}

/* Move the k largest deltas (by cmp_delta order) to d[0..k) sorted,
 * quickselect-style: expected O(n + k log k). */
static void select_top(struct delta *d, size_t n, size_t k)
{
	size_t lo = 0, hi = n;

	if (k >= n) {
		if (n > 1)
			qsort(d, n, sizeof(*d), cmp_delta);
		return;
	}
	while (hi - lo > 1) {
		size_t store = lo, mid = lo + (hi - lo) / 2;

		swap_delta(&d[mid], &d[hi - 1]);
		for (size_t i = lo; i + 1 < hi; i++)
			if (cmp_delta(&d[i], &d[hi - 1]) < 0)
				swap_delta(&d[i], &d[store++]);
		swap_delta(&d[store], &d[hi - 1]);
		if (store == k)
			break;
		if (store < k)
			lo = store + 1;
		else
			hi = store;
	}
	qsort(d, k, sizeof(*d), cmp_delta);
}

static void want_add(struct statements_state *st, int64_t qid)
{
	if (st->nwant >= 4 * WANT_MAX)
		return;
	XGROW(st->want, st->want_alloc, st->nwant + 1);
	st->want[st->nwant++] = qid;
}

static void want_unique(struct statements_state *st)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nwant && n < WANT_MAX; i++) {
		bool dup = false;

		/* n <= WANT_MAX: quadratic in at most 500 entries. */
		for (size_t j = 0; j < n && !dup; j++)
			dup = st->want[j] == st->want[i];
		if (!dup)
			st->want[n++] = st->want[i];
	}
	st->nwant = n;
}

double statements_update(struct statements_state *st, const struct stmt_row *rows, size_t n,
			 double now, size_t top, struct snapshot *s)
{
	struct prev_entry *old = st->prev;
	size_t old_cap = st->prev_cap, cap = 16, nd = 0;
	struct delta *d = NULL;
	double window = st->prev_time > 0 ? now - st->prev_time : 0, total = 0;

	st->seq++;
	st->nlast = 0;
	st->nwant = 0;
	while (cap < 2 * n + 2)
		cap *= 2;
	if (st->spare && st->spare_cap == cap) {
		st->prev = st->spare;
		memset(st->prev, 0, cap * sizeof(*st->prev));
	} else {
		free(st->spare);
		st->prev = xcalloc(cap, sizeof(*st->prev));
	}
	st->spare = NULL;
	st->prev_cap = cap;
	if (window > 0 && n)
		d = xmalloc(n * sizeof(*d));

	for (size_t i = 0; i < n; i++) {
		const struct stmt_row *r = &rows[i];
		uint64_t h = row_hash(r->queryid, r->userid, r->dbid, r->toplevel);
		struct prev_entry *p;
		size_t mask = cap - 1, j;

		if (d && old) {
			size_t omask = old_cap - 1;

			for (j = h & omask; old[j].used; j = (j + 1) & omask) {
				const struct prev_entry *o = &old[j];

				if (o->queryid == r->queryid && o->userid == r->userid &&
				    o->dbid == r->dbid && o->toplevel == r->toplevel) {
					double dc = r->calls - o->calls;

					/* Fewer calls than before: the entry was
					 * evicted and re-created; count it afresh. */
					if (dc < 0)
						d[nd] = (struct delta){ r, r->calls, r->total_ms, r->rows };
					else
						d[nd] = (struct delta){ r, dc, r->total_ms - o->total_ms,
									r->rows - o->rows };
					if (d[nd].calls > 0) {
						total += d[nd].total_ms;
						nd++;
					}
					break;
				}
			}
			if (!old[j].used && r->calls > 0 && st->prev_time > 0) {
				/* New since the previous sample. */
				d[nd] = (struct delta){ r, r->calls, r->total_ms, r->rows };
				total += d[nd].total_ms;
				nd++;
			}
		}
		for (j = h & mask; st->prev[j].used; j = (j + 1) & mask)
			;
		p = &st->prev[j];
		*p = (struct prev_entry){ r->queryid, r->userid, r->dbid, r->toplevel, true,
					  r->calls, r->total_ms, r->rows };
	}
	st->spare = old;
	st->spare_cap = old_cap;
	st->prev_time = now;
	s->statements = NULL;
	s->nstatements = 0;
	s->statements_window_s = window;
	if (!d)
		return 0;

	/* The top `top` deltas to the front, sorted: a selection, not a full
	 * sort — at 10,000 statements that is the difference that matters. */
	select_top(d, nd, top);
	for (size_t i = 0; i < nd && i < top; i++) {
		struct text_entry *t = text_find(st, d[i].row->queryid, false);

		if (!t || !t->fetched)
			want_add(st, d[i].row->queryid);
	}
	/* Remember every delta for the agent attribution, and ask for the
	 * texts (so the tags) we do not know yet. */
	XGROW(st->last, st->last_alloc, nd);
	for (size_t i = 0; i < nd; i++) {
		struct text_entry *t = text_find(st, d[i].row->queryid, false);

		st->last[st->nlast++] = (struct window_time){ d[i].row->queryid, d[i].total_ms };
		if (!t || !t->fetched)
			want_add(st, d[i].row->queryid);
	}
	if (nd > top)
		nd = top;
	s->statements = nd ? arena_alloc(&s->arena, nd * sizeof(*s->statements)) : NULL;
	s->nstatements = nd;
	for (size_t i = 0; i < nd; i++) {
		struct snap_statement *x = &s->statements[i];
		const struct stmt_row *r = d[i].row;
		struct text_entry *t = text_find(st, r->queryid, false);

		x->queryid = r->queryid;
		x->user = arena_strdup(&s->arena, r->user);
		x->database = arena_strdup(&s->arena, r->database);
		x->calls = d[i].calls;
		x->calls_per_s = d[i].calls / window;
		x->total_ms = d[i].total_ms;
		x->mean_ms = d[i].calls > 0 ? d[i].total_ms / d[i].calls : 0;
		x->max_ms = r->max_ms;
		x->p99_ms_estimate = r->mean_ms + 2.326 * r->stddev_ms;
		if (x->p99_ms_estimate > r->max_ms && r->max_ms > 0)
			x->p99_ms_estimate = r->max_ms;
		x->share = total > 0 ? d[i].total_ms / total : 0;
		x->rows = d[i].rows;
		if (t)
			t->last_top = st->seq;
		if (t && t->fetched && !t->text)
			want_add(st, r->queryid); /* text dropped from the cache: ask again */
	}
	free(d);
	want_unique(st);
	return total;
}

void statements_agent_times(struct statements_state *st, struct agent_time **times, size_t *ntimes)
{
	size_t nt = 0;

	for (size_t i = 0; i < st->nlast; i++) {
		struct text_entry *t = text_find(st, st->last[i].queryid, false);

		if (!t || !t->agent_id)
			continue;
		XGROW(st->times, st->times_alloc, nt + 1);
		st->times[nt].agent_id = t->agent_id;
		st->times[nt].ms = st->last[i].ms;
		nt++;
	}
	*times = nt ? st->times : NULL;
	*ntimes = nt;
}

size_t statements_missing_texts(struct statements_state *st, size_t max, struct strbuf *sql)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nwant && n < max; i++) {
		struct text_entry *t = text_find(st, st->want[i], false);

		if (t && t->text)
			continue;
		if (t && t->fetched && t->last_top != st->seq)
			continue; /* asked before: not found, or evicted text of a non-top one */
		if (n == 0)
			strbuf_addstr(sql, "/* cockpit collector: statement texts */ "
				      "SELECT DISTINCT ON (queryid) queryid, left(query, 2048) "
				      "FROM pg_stat_statements WHERE queryid = ANY('{");
		else
			strbuf_addch(sql, ',');
		strbuf_addf(sql, "%lld", (long long)st->want[i]);
		n++;
	}
	if (n)
		strbuf_addstr(sql, "}'::bigint[])");
	return n;
}

void statements_store_texts(struct statements_state *st, PGresult *r)
{
	int n = r ? PQntuples(r) : 0;

	text_cache_trim(st);
	/* Mark everything asked as fetched, found or not. */
	for (size_t i = 0; i < st->nwant; i++) {
		struct text_entry *t = text_find(st, st->want[i], true);

		t->fetched = true;
	}
	for (int i = 0; i < n; i++) {
		int64_t qid = pgconn_int(r, i, 0, 0);
		const char *q = pgconn_str(r, i, 1);
		struct text_entry *t = text_find(st, qid, true);
		struct arena a;
		struct agent_tags tags;

		t->fetched = true;
		free(t->text);
		t->text = q ? xstrndup(q, TEXT_MAX) : NULL;
		arena_init(&a);
		if (!t->agent_id && agents_parse_tags(q, &a, &tags)) {
			t->agent_id = xstrdup(tags.agent_id);
			t->task_id = tags.task_id ? xstrdup(tags.task_id) : NULL;
		}
		arena_release(&a);
	}
}

void statements_fill_texts(struct statements_state *st, struct snapshot *s)
{
	for (size_t i = 0; i < s->nstatements; i++) {
		struct snap_statement *x = &s->statements[i];
		struct text_entry *t = text_find(st, x->queryid, false);

		if (!t)
			continue;
		t->last_top = st->seq;
		x->query = arena_strdup(&s->arena, t->text);
		x->agent_id = arena_strdup(&s->arena, t->agent_id);
		x->task_id = arena_strdup(&s->arena, t->task_id);
	}
}
