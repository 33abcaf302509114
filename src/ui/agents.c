/*
 * agents: the Agents screen — one row per AI agent (from the agent_id /
 * task_id tags agents put in SQL comments, or application_name patterns):
 * sessions by state, share of database time with its sparkline, longest
 * idle-in-transaction, current task and step. Enter drills into one agent:
 * its sessions and its statements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "perceive/snapshot.h"
#include "ui/format.h"
#include "ui/history.h"
#include "ui/screen.h"
#include "ui/sparkline.h"
#include "ui/table.h"

enum { C_AGENT, C_SESS, C_ACTIVE, C_IDLEX, C_WAIT, C_SHARE, C_SPARK, C_IDLEMAX, C_QMAX, C_TASK, C_COUNT };

static const struct table_column columns[C_COUNT] = {
	{ "AGENT", 12, 2, TABLE_ALIGN_LEFT, true, false },
	{ "SESS", 4, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "ACTIVE", 6, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "IDLE-TX", 7, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "WAIT", 4, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "DBTIME", 6, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "TREND", 12, 1, TABLE_ALIGN_LEFT, false, false },
	{ "MAX ITX", 7, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "MAX Q", 6, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "TASK/STEP", 10, 2, TABLE_ALIGN_LEFT, true, false },
};

static const struct key_help keys[] = {
	{ "Enter", "drill into the selected agent: its sessions and statements (Esc back)" },
	{ "", "DBTIME: share of pg_stat_statements time in the window (else of active sessions)" },
	{ "", "ITX: idle in transaction; MAX ITX / MAX Q: the longest idle transaction / query" },
};

struct agents {
	struct table table;
	const struct snapshot *snap;
	char *drill;                 /* owned: agent being drilled into, or NULL */
	size_t drill_top;
};

static double share(const struct snap_agent *a)
{
	return a->db_time_share > 0 ? a->db_time_share : a->active_share;
}

static const char *cell(void *ctx, size_t row, size_t col, char *buf, size_t size,
			enum theme_role *role)
{
	struct agents *st = ctx;
	const struct snap_agent *a = &st->snap->agents[row];

	*role = THEME_NORMAL;
	switch (col) {
	case C_AGENT: *role = THEME_AGENT; return a->agent_id ? a->agent_id : "?";
	case C_SESS: snprintf(buf, size, "%d", a->sessions); return buf;
	case C_ACTIVE: snprintf(buf, size, "%d", a->active); return buf;
	case C_IDLEX:
		if (a->idle_in_transaction)
			*role = THEME_STATE_IDLE_XACT;
		snprintf(buf, size, "%d", a->idle_in_transaction);
		return buf;
	case C_WAIT:
		if (a->waiting)
			*role = THEME_STATE_WAITING;
		snprintf(buf, size, "%d", a->waiting);
		return buf;
	case C_SHARE:
		if (share(a) >= 0.5)
			*role = THEME_CRIT;
		return fmt_percent(share(a), buf, size);
	case C_SPARK: return ""; /* drawn over the cell after the table */
	case C_IDLEMAX:
		if (a->longest_idle_in_xact_s > 60)
			*role = THEME_WARN;
		return a->idle_in_transaction ? fmt_duration(a->longest_idle_in_xact_s, buf, size) : "";
	case C_QMAX: return a->active ? fmt_duration(a->longest_query_s, buf, size) : "";
	case C_TASK:
		snprintf(buf, size, "%s%s%s", a->task_id ? a->task_id : "", a->step ? " / " : "",
			 a->step ? a->step : "");
		return buf;
	}
	return "";
}

static int cmp(void *ctx, size_t x, size_t y, size_t col)
{
	struct agents *st = ctx;
	const struct snap_agent *a = &st->snap->agents[x], *b = &st->snap->agents[y];
	double u = 0, w = 0;

	switch (col) {
	case C_SESS: u = a->sessions; w = b->sessions; break;
	case C_ACTIVE: u = a->active; w = b->active; break;
	case C_IDLEX: u = a->idle_in_transaction; w = b->idle_in_transaction; break;
	case C_WAIT: u = a->waiting; w = b->waiting; break;
	case C_SHARE: u = share(a); w = share(b); break;
	case C_IDLEMAX: u = a->longest_idle_in_xact_s; w = b->longest_idle_in_xact_s; break;
	case C_QMAX: u = a->longest_query_s; w = b->longest_query_s; break;
	default: {
		char b1[256], b2[256];
		enum theme_role r;

		return strcasecmp(cell(ctx, x, col, b1, sizeof(b1), &r), cell(ctx, y, col, b2, sizeof(b2), &r));
	}
	}
	return (u > w) - (u < w);
}

static int64_t key(void *ctx, size_t row)
{
	const char *id = ((struct agents *)ctx)->snap->agents[row].agent_id;

	return (int64_t)mem_hash(id ? id : "", id ? strlen(id) : 0);
}

static void *create(void)
{
	struct agents *st = xcalloc(1, sizeof(*st));
	static const struct table_source src = { cell, cmp, key };

	table_init(&st->table, columns, C_COUNT, &src);
	table_set_sort(&st->table, C_SHARE, true);
	return st;
}

static void destroy(void *p)
{
	struct agents *st = p;

	table_release(&st->table);
	free(st->drill);
	free(st);
}

static void draw_drill(struct agents *st, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	const struct snapshot *s = v->snap;
	double now = screen_server_now(v, s);
	int y = r.y, end = r.y + r.h;
	char title[200], line[600], q[400], age[32];
	size_t n = 0;

	snprintf(title, sizeof(title), "Agent %s: sessions (Esc: back to all agents)", st->drill);
	screen_title(c, r.x, y++, r.w, title);
	for (size_t i = 0; i < s->nsessions && y < end - 3; i++) {
		const struct snap_session *x = &s->sessions[i];
		double since = x->state && strcmp(x->state, "active") == 0 ? x->query_start : x->state_change;

		if (!x->agent_id || strcmp(x->agent_id, st->drill) != 0)
			continue;
		n++;
		fmt_duration(since > 0 ? now - since : -1, age, sizeof(age));
		snprintf(line, sizeof(line), "%-7d %-20.20s %7s  %-8.8s %s", x->pid, x->state ? x->state : "",
			 age, x->task_id ? x->task_id : "", fmt_oneline(x->query ? x->query : "", q, sizeof(q)));
		canvas_text(c, r.x + 1, y++, r.w - 2,
			    x->state && strncmp(x->state, "idle in transaction", 19) == 0 ? THEME_STATE_IDLE_XACT
											   : THEME_NORMAL, line);
	}
	if (!n)
		canvas_text(c, r.x + 1, y++, r.w - 2, THEME_DIM, "no session right now");
	if (y >= end - 1)
		return;
	screen_title(c, r.x, y++, r.w, "Its statements in the window");
	n = 0;
	for (size_t i = 0; i < s->nstatements && y < end; i++) {
		const struct snap_statement *x = &s->statements[i];
		char mean[32], tot[32];

		if (!x->agent_id || strcmp(x->agent_id, st->drill) != 0)
			continue;
		n++;
		snprintf(line, sizeof(line), "%8s total %8s mean %7.1f/s  %s", fmt_duration(x->total_ms / 1000, tot, sizeof(tot)),
			 fmt_duration(x->mean_ms / 1000, mean, sizeof(mean)), x->calls_per_s,
			 fmt_oneline(x->query ? x->query : "", q, sizeof(q)));
		canvas_text(c, r.x + 1, y++, r.w - 2, THEME_NORMAL, line);
	}
	if (!n)
		canvas_text(c, r.x + 1, y, r.w - 2, THEME_DIM, "none among the top statements of the window");
}

static void draw(void *p, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	struct agents *st = p;
	const struct snapshot *s = v->snap;
	struct canvas_rect tr = { r.x, r.y + 1, r.w, r.h - 1 };

	if (!s) {
		canvas_text(c, r.x + 1, r.y + 1, r.w - 2, THEME_DIM, "waiting for the first snapshot...");
		return;
	}
	st->snap = s;
	table_set_rows(&st->table, st, s->nagents);
	if (st->drill) {
		draw_drill(st, v, c, r);
		return;
	}
	screen_title(c, r.x, r.y, r.w, "AI agents (SQL comment tags agent_id / task_id / step)");
	if (!s->nagents) {
		canvas_text(c, r.x + 1, r.y + 1, r.w - 2, THEME_DIM,
			    "no tagged sessions: agents tag their SQL with /* agent_id=..., task_id=... */");
		return;
	}
	table_draw(&st->table, c, tr);
	/* Sparklines over the TREND column. */
	if (st->table.col_w && st->table.col_w[C_SPARK] > 0)
		for (int y = st->table.body_y; y < st->table.body_y + st->table.body_h; y++) {
			size_t idx = st->table.top + (size_t)(y - st->table.body_y), row;
			const struct sparkline *sp;

			if (idx >= table_count(&st->table))
				break;
			row = table_row(&st->table, idx);
			sp = history_agent(v->hist, s->agents[row].agent_id);
			if (sp)
				sparkline_draw(sp, c, st->table.col_x[C_SPARK], y, st->table.col_w[C_SPARK], 1.0,
					       THEME_SPARK);
		}
}

static bool on_key(void *p, const struct view *v, int k)
{
	struct agents *st = p;
	size_t row;

	(void)v;
	if (st->drill) {
		if (k == UI_KEY_ESC || k == UI_KEY_BACKSPACE || k == UI_KEY_LEFT || k == 'h') {
			free(st->drill);
			st->drill = NULL;
			return true;
		}
		return false;
	}
	switch (k) {
	case UI_KEY_ENTER: case UI_KEY_RIGHT: case 'l':
		if (st->snap && table_selected(&st->table, &row) && st->snap->agents[row].agent_id)
			st->drill = xstrdup(st->snap->agents[row].agent_id);
		return true;
	}
	return screen_table_key(&st->table, k);
}

static bool on_click(void *p, const struct view *v, int x, int y)
{
	struct agents *st = p;

	(void)v;
	if (st->drill)
		return false;
	return screen_table_click(&st->table, x, y);
}

static void on_filter(void *p, const char *text)
{
	table_set_filter(&((struct agents *)p)->table, text);
}

static const char *filter_text(void *p)
{
	return table_filter(&((struct agents *)p)->table);
}

const struct screen_ops screen_agents = {
	"Agents", keys, sizeof(keys) / sizeof(*keys), create, destroy, draw, on_key, on_click,
	on_filter, filter_text,
};
