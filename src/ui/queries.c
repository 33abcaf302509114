/*
 * queries: the Queries screen — statements ranked over the window
 * (pg_stat_statements deltas, not since-reset totals), the statements that
 * are running long right now, and a pane with the selected statement's
 * normalised text — and, when the diagnosis explained it (a slow-query
 * incident on the brain's board), its plan as a tree with the what-if index.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/snapshot.h"
#include "think/brain.h"
#include "ui/format.h"
#include "ui/screen.h"
#include "ui/table.h"

enum { C_TOTAL, C_SHARE, C_CALLS, C_MEAN, C_P99, C_ROWS, C_AGENT, C_QUERY, C_COUNT };

static const struct table_column columns[C_COUNT] = {
	{ "TIME", 7, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "SHARE", 5, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "CALLS/S", 7, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "MEAN", 7, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "P99~", 6, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "ROWS", 6, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "AGENT", 8, 1, TABLE_ALIGN_LEFT, true, false },
	{ "QUERY (normalised)", 12, 8, TABLE_ALIGN_LEFT, false, false },
};

static const struct key_help keys[] = {
	{ "s / S", "rank by total time, share, calls, mean, p99 estimate, rows" },
	{ "Enter", "show / hide the selected statement's full text (and its plan, when diagnosed)" },
	{ "", "P99~ is an estimate (mean + 2.3 stddev since reset), not a measurement" },
};

struct queries {
	struct table table;
	const struct snapshot *snap;
	bool detail;
};

static const char *cell(void *ctx, size_t row, size_t col, char *buf, size_t size,
			enum theme_role *role)
{
	struct queries *st = ctx;
	const struct snap_statement *x = &st->snap->statements[row];

	*role = THEME_NORMAL;
	switch (col) {
	case C_TOTAL:
		return fmt_duration(x->total_ms / 1000.0, buf, size);
	case C_SHARE:
		if (x->share >= 0.5)
			*role = THEME_WARN;
		return fmt_percent(x->share, buf, size);
	case C_CALLS:
		return fmt_count(x->calls_per_s, buf, size);
	case C_MEAN:
		if (x->mean_ms >= 200)
			*role = THEME_CRIT;
		return fmt_duration(x->mean_ms / 1000.0, buf, size);
	case C_P99:
		*role = THEME_DIM;
		return fmt_duration(x->p99_ms_estimate / 1000.0, buf, size);
	case C_ROWS:
		return fmt_count(x->rows, buf, size);
	case C_AGENT:
		*role = THEME_AGENT;
		return x->agent_id ? x->agent_id : "";
	case C_QUERY:
		if (!x->query) {
			*role = THEME_DIM;
			snprintf(buf, size, "(text not fetched yet: queryid %lld)", (long long)x->queryid);
			return buf;
		}
		return fmt_oneline(x->query, buf, size);
	}
	return "";
}

static double num(const struct snap_statement *x, size_t col)
{
	switch (col) {
	case C_TOTAL: return x->total_ms;
	case C_SHARE: return x->share;
	case C_CALLS: return x->calls_per_s;
	case C_MEAN: return x->mean_ms;
	case C_P99: return x->p99_ms_estimate;
	case C_ROWS: return x->rows;
	}
	return 0;
}

static int cmp(void *ctx, size_t a, size_t b, size_t col)
{
	struct queries *st = ctx;
	const struct snap_statement *x = &st->snap->statements[a], *y = &st->snap->statements[b];

	if (col == C_AGENT)
		return strcmp(x->agent_id ? x->agent_id : "", y->agent_id ? y->agent_id : "");
	return (num(x, col) > num(y, col)) - (num(x, col) < num(y, col));
}

static int64_t key(void *ctx, size_t row)
{
	return ((struct queries *)ctx)->snap->statements[row].queryid;
}

static void *create(void)
{
	struct queries *st = xcalloc(1, sizeof(*st));
	static const struct table_source src = { cell, cmp, key };

	table_init(&st->table, columns, C_COUNT, &src);
	table_set_sort(&st->table, C_TOTAL, true);
	return st;
}

static void destroy(void *p)
{
	struct queries *st = p;

	table_release(&st->table);
	free(st);
}

/* Active statements running longest now, from the sessions. */
static void draw_long_running(const struct snapshot *s, const struct view *v, struct canvas *c,
			      struct canvas_rect r)
{
	const struct snap_session *top[8];
	size_t n = 0;
	double now = screen_server_now(v, s);
	int y = r.y;

	screen_title(c, r.x, y++, r.w, "Running longest now");
	for (size_t i = 0; i < s->nsessions; i++) {
		const struct snap_session *x = &s->sessions[i];
		size_t k;

		if (!x->state || strcmp(x->state, "active") != 0 || x->query_start <= 0 ||
		    !x->backend_type || strcmp(x->backend_type, "client backend") != 0 ||
		    (x->application && strcmp(x->application, "cockpit") == 0))
			continue;
		for (k = n; k > 0 && top[k - 1]->query_start > x->query_start; k--)
			if (k < 8)
				top[k] = top[k - 1];
		if (k < 8) {
			top[k] = x;
			if (n < 8)
				n++;
		}
	}
	if (!n)
		canvas_text(c, r.x + 1, y, r.w - 2, THEME_DIM, "no statement is running");
	for (size_t i = 0; i < n && y < r.y + r.h; i++, y++) {
		char line[512], age[32], q[400];
		double a = now - top[i]->query_start;

		fmt_duration(a, age, sizeof(age));
		snprintf(line, sizeof(line), "%8s  %-7d %-10.10s %s", age, top[i]->pid,
			 top[i]->agent_id ? top[i]->agent_id : (top[i]->user ? top[i]->user : ""),
			 fmt_oneline(top[i]->query ? top[i]->query : "", q, sizeof(q)));
		canvas_text(c, r.x + 1, y, r.w - 2,
			    a * 1000 >= v->cfg->thresholds.slow_query_mean_ms ? THEME_WARN : THEME_NORMAL, line);
	}
}

/* The slow-query diagnosis of queryid on the board, or NULL. */
static const json_t *diagnosis_of(const struct view *v, int64_t queryid)
{
	if (!v->board)
		return NULL;
	for (size_t i = 0; i < v->board->incidents.n; i++) {
		const struct incident *in = &v->board->incidents.v[i];
		json_t *q = runbook_path(in->evidence, "statement.queryid");

		if (in->runbook && strcmp(in->runbook, "slow-query") == 0 && json_is_integer(q) &&
		    json_integer_value(q) == queryid && runbook_path(in->evidence, "plan.json"))
			return in->evidence;
	}
	return NULL;
}

/* One line per plan node, indented by depth: "-> Seq Scan on public.t o
 * (cost 17885, rows 25) Filter: ...". */
static void plan_lines(const json_t *node, int depth, struct strbuf *out, int *n, int max)
{
	const char *type, *rel, *schema, *alias, *filter, *index;
	json_t *plans;
	size_t i;
	json_t *child;

	if (!json_is_object(node) || *n >= max || depth > 20)
		return;
	type = json_string_value(json_object_get(node, "Node Type"));
	rel = json_string_value(json_object_get(node, "Relation Name"));
	schema = json_string_value(json_object_get(node, "Schema"));
	alias = json_string_value(json_object_get(node, "Alias"));
	index = json_string_value(json_object_get(node, "Index Name"));
	filter = json_string_value(json_object_get(node, "Filter"));
	if (!filter)
		filter = json_string_value(json_object_get(node, "Index Cond"));
	if (!filter)
		filter = json_string_value(json_object_get(node, "Hash Cond"));
	strbuf_addf(out, "%*s%s%s", depth * 2, "", depth ? "-> " : "", type ? type : "?");
	if (index)
		strbuf_addf(out, " using %s", index);
	if (rel)
		strbuf_addf(out, " on %s%s%s%s%s", schema ? schema : "", schema ? "." : "", rel,
			    alias && strcmp(alias, rel) ? " " : "", alias && strcmp(alias, rel) ? alias : "");
	strbuf_addf(out, "  (cost %.0f, rows %.0f)",
		    json_number_value(json_object_get(node, "Total Cost")),
		    json_number_value(json_object_get(node, "Plan Rows")));
	if (filter)
		strbuf_addf(out, "  %s", filter);
	strbuf_addch(out, '\n');
	(*n)++;
	plans = json_object_get(node, "Plans");
	json_array_foreach(plans, i, child)
		plan_lines(child, depth + 1, out, n, max);
}

/* The plan pane: the tree, then the what-if index or why there is none. */
static void draw_plan(const json_t *ev, struct canvas *c, struct canvas_rect r)
{
	struct strbuf sb = STRBUF_INIT;
	const json_t *idx = runbook_path(ev, "index");
	const char *note = json_string_value(runbook_path(ev, "plan_note"));
	int n = 0, y = r.y;
	char *line, *save = NULL;

	screen_title(c, r.x, y++, r.w, "Plan (EXPLAIN, generic; from the diagnosis)");
	plan_lines(runbook_path(ev, "plan.json"), 0, &sb, &n, r.h - 2);
	for (line = strtok_r(sb.buf, "\n", &save); line && y < r.y + r.h - 1;
	     line = strtok_r(NULL, "\n", &save))
		canvas_text(c, r.x + 1, y++, r.w - 2,
			    strstr(line, "Seq Scan") ? THEME_WARN : THEME_NORMAL, line);
	strbuf_reset(&sb);
	if (json_is_object(idx))
		strbuf_addf(&sb, "what-if index on %s (%s): cost %.0f -> %.1f (-%.0f%%, HypoPG)",
			    json_string_value(json_object_get(idx, "table")),
			    json_string_value(json_object_get(idx, "columns_text")),
			    json_number_value(json_object_get(idx, "cost_before")),
			    json_number_value(json_object_get(idx, "cost_after")),
			    100.0 * json_number_value(json_object_get(idx, "gain")));
	else if (note)
		strbuf_addstr(&sb, note);
	if (sb.len && y < r.y + r.h)
		canvas_text(c, r.x + 1, y, r.w - 2, THEME_OK, sb.buf);
	strbuf_release(&sb);
}

static void draw(void *p, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	struct queries *st = p;
	const struct snapshot *s = v->snap;
	int lower = r.h >= 16 ? 6 : 0, detail = 0, plan_h = 0;
	char title[200], win[32];
	size_t row;
	const json_t *plan_ev = NULL;

	if (!s) {
		canvas_text(c, r.x + 1, r.y + 1, r.w - 2, THEME_DIM, "waiting for the first snapshot...");
		return;
	}
	st->snap = s;
	table_set_rows(&st->table, st, s->nstatements);
	if (st->detail && r.h >= 20)
		detail = 6;
	if (detail && table_selected(&st->table, &row) &&
	    (plan_ev = diagnosis_of(v, s->statements[row].queryid)) != NULL && r.h >= 30) {
		plan_h = r.h >= 44 ? 14 : 9;
		lower = 0;
	}
	fmt_duration(s->statements_window_s, win, sizeof(win));
	snprintf(title, sizeof(title), "Top statements over the last %s (pg_stat_statements deltas)",
		 s->statements_window_s > 0 ? win : "window");
	screen_title(c, r.x, r.y, r.w, title);
	if (!s->nstatements) {
		int y = r.y + 1;

		for (size_t i = 0; i < s->nproblems; i++)
			if (strcmp(s->problems[i].panel, "statements") == 0) {
				canvas_text(c, r.x + 1, y++, r.w - 2, THEME_WARN, s->problems[i].message);
				canvas_text(c, r.x + 1, y++, r.w - 2, THEME_DIM, s->problems[i].fix);
			}
		canvas_text(c, r.x + 1, y, r.w - 2, THEME_DIM,
			    s->statements_window_s > 0 ? "no statement ran in the window"
						       : "statements appear after the second sample");
	} else {
		table_draw(&st->table, c, (struct canvas_rect){ r.x, r.y + 1, r.w,
								r.h - 1 - lower - detail - plan_h });
	}
	if (plan_h)
		draw_plan(plan_ev, c, (struct canvas_rect){ r.x, r.y + r.h - plan_h, r.w, plan_h });
	if (detail && table_selected(&st->table, &row)) {
		const struct snap_statement *x = &s->statements[row];
		int y = r.y + r.h - lower - detail - plan_h;
		char t2[96];
		const char *q = x->query ? x->query : "";

		snprintf(t2, sizeof(t2), "queryid %lld  %s@%s", (long long)x->queryid,
			 x->user ? x->user : "?", x->database ? x->database : "?");
		screen_title(c, r.x, y++, r.w, t2);
		screen_wrap(c, r.x + 1, y, r.w - 2, detail - 1, THEME_NORMAL, q);
	}
	if (lower)
		draw_long_running(s, v, c, (struct canvas_rect){ r.x, r.y + r.h - lower, r.w, lower });
}

static bool on_key(void *p, const struct view *v, int k)
{
	struct queries *st = p;

	(void)v;
	if (k == UI_KEY_ENTER) {
		st->detail = !st->detail;
		return true;
	}
	return screen_table_key(&st->table, k);
}

static bool on_click(void *p, const struct view *v, int x, int y)
{
	struct queries *st = p;

	(void)v;
	return screen_table_click(&st->table, x, y);
}

static void on_filter(void *p, const char *text)
{
	table_set_filter(&((struct queries *)p)->table, text);
}

static const char *filter_text(void *p)
{
	return table_filter(&((struct queries *)p)->table);
}

const struct screen_ops screen_queries = {
	"Queries", keys, sizeof(keys) / sizeof(*keys), create, destroy, draw, on_key, on_click,
	on_filter, filter_text,
};
