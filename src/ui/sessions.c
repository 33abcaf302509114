/*
 * sessions: the Sessions screen — every backend in a sortable, filterable
 * table in the spirit of pg_activity, with a detail pane for the full query.
 *
 * Client backends only by default ('a' shows background workers too).
 * Cancel and terminate are proposals of the self-healing loop, never direct
 * SQL from here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "perceive/snapshot.h"
#include "ui/format.h"
#include "think/brain.h"
#include "ui/screen.h"
#include "ui/table.h"

enum { C_PID, C_USER, C_DB, C_APP, C_STATE, C_WAIT, C_XACT, C_QAGE, C_QUERY, C_COUNT };

static const struct table_column columns[C_COUNT] = {
	{ "PID", 7, 0, TABLE_ALIGN_RIGHT, true, false },
	{ "USER", 8, 1, TABLE_ALIGN_LEFT, true, false },
	{ "DB", 8, 1, TABLE_ALIGN_LEFT, true, false },
	{ "APP/AGENT", 10, 2, TABLE_ALIGN_LEFT, true, false },
	{ "STATE", 8, 1, TABLE_ALIGN_LEFT, true, false },
	{ "WAIT", 9, 1, TABLE_ALIGN_LEFT, true, false },
	{ "XACT", 6, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "QUERY AGE", 9, 0, TABLE_ALIGN_RIGHT, true, true },
	{ "QUERY", 10, 6, TABLE_ALIGN_LEFT, false, false },
};

static const struct key_help keys[] = {
	{ "Enter", "show / hide the full query of the selected session" },
	{ "a", "all backends / client backends only" },
	{ "c", "propose cancelling the selected session's statement (Proposals screen, 7)" },
	{ "x", "propose terminating the selected session (Proposals screen, 7)" },
	{ "click", "select a row; click a header to sort by it" },
};

struct sessions {
	struct table table;
	const struct snapshot *snap;   /* borrowed for the frame */
	size_t *rows;                  /* owned: snapshot session indices shown */
	size_t nrows, rows_alloc;
	bool all;
	bool detail;
	double now;
};

static const struct snap_session *row_session(struct sessions *st, size_t row)
{
	return &st->snap->sessions[st->rows[row]];
}

static double since(double t, double now)
{
	return t > 0 && now > t ? now - t : -1;
}

/* QUERY AGE: an active session's query's age; otherwise how long it has
 * been idle (*idle set), which matters to the minute, not the second, past
 * a minute: a coarse age keeps 200 idle rows from repainting every refresh. */
static double query_age(const struct sessions *st, const struct snap_session *x, bool *idle)
{
	*idle = !x->state || strcmp(x->state, "active") != 0;
	return since(*idle ? x->state_change : x->query_start, st->now);
}

/* An idle age QUERY AGE prints in whole minutes (rounded down): from one
 * minute to an hour; fmt_age's forms below and above. */
static bool idle_in_minutes(double a)
{
	return a >= 60 && a < 3600;
}

/* XACT's sort key. A session outside a transaction whose state changed
 * under a second ago sorts with the sub-second transactions: a busy OLTP
 * session flips between the two many times a second, and told apart its
 * row jumped between blocks on every refresh. Busy sessions stay together
 * above the idle ones, in pid order. */
static double xact_key(const struct sessions *st, const struct snap_session *x)
{
	double age = since(x->xact_start, st->now), idle;

	if (age >= 0)
		return fmt_age_key(age);
	idle = since(x->state_change, st->now);
	return idle >= 0 && idle < 1 ? 0 : -1;
}

/* What the QUERY AGE column prints, as a sort key (see fmt_age_key). */
static double query_age_key(const struct sessions *st, const struct snap_session *x)
{
	bool idle;
	double a = query_age(st, x, &idle);

	if (idle && idle_in_minutes(a))
		return floor(a / 60) * 60;
	return fmt_age_key(a);
}

static enum theme_role state_role(const struct snap_session *x)
{
	if (x->wait_event_type && strcmp(x->wait_event_type, "Lock") == 0)
		return THEME_STATE_WAITING;
	if (!x->state)
		return THEME_DIM;
	if (strcmp(x->state, "active") == 0)
		return THEME_STATE_ACTIVE;
	if (strncmp(x->state, "idle in transaction", 19) == 0)
		return THEME_STATE_IDLE_XACT;
	return THEME_STATE_IDLE;
}

static const char *cell(void *ctx, size_t row, size_t col, char *buf, size_t size,
			enum theme_role *role)
{
	struct sessions *st = ctx;
	const struct snap_session *x = row_session(st, row);

	*role = THEME_NORMAL;
	switch (col) {
	case C_PID:
		snprintf(buf, size, "%d", x->pid);
		return buf;
	case C_USER:
		return x->user ? x->user : "";
	case C_DB:
		return x->database ? x->database : "";
	case C_APP:
		if (x->agent_id) {
			*role = THEME_AGENT;
			snprintf(buf, size, "%s%s%s", x->agent_id, x->task_id ? "/" : "",
				 x->task_id ? x->task_id : "");
			return buf;
		}
		return x->application && *x->application ? x->application :
		       (x->backend_type ? x->backend_type : "");
	case C_STATE:
		*role = state_role(x);
		return x->state ? x->state : "";
	case C_WAIT:
		if (!x->wait_event)
			return "";
		/* Event names are unique; only a lock wait says what kind. */
		if (x->wait_event_type && strcmp(x->wait_event_type, "Lock") == 0) {
			*role = THEME_STATE_WAITING;
			snprintf(buf, size, "Lock:%s", x->wait_event);
			return buf;
		}
		return x->wait_event;
	case C_XACT:
		if (since(x->xact_start, st->now) > 60)
			*role = THEME_WARN;
		return fmt_age(since(x->xact_start, st->now), buf, size);
	case C_QAGE: {
		bool idle;
		double a = query_age(st, x, &idle);

		if (idle) {
			*role = THEME_DIM;
			if (idle_in_minutes(a)) {
				snprintf(buf, size, "%.0fm", floor(a / 60));
				return buf;
			}
		} else if (a > 5) {
			*role = THEME_WARN;
		}
		return fmt_age(a, buf, size);
	}
	case C_QUERY:
		return fmt_oneline(x->query ? x->query : "", buf, size);
	}
	return "";
}

static int cmp_double(double a, double b)
{
	return a < b ? -1 : a > b;
}

static int cmp(void *ctx, size_t a, size_t b, size_t col)
{
	struct sessions *st = ctx;
	const struct snap_session *x = row_session(st, a), *y = row_session(st, b);

	switch (col) {
	case C_PID:
		return (x->pid > y->pid) - (x->pid < y->pid);
	case C_XACT:
		return cmp_double(xact_key(st, x), xact_key(st, y));
	case C_QAGE:
		return cmp_double(query_age_key(st, x), query_age_key(st, y));
	default: {
		char b1[256], b2[256];
		enum theme_role r;
		const char *s1 = cell(ctx, a, col, b1, sizeof(b1), &r);
		const char *s2 = cell(ctx, b, col, b2, sizeof(b2), &r);

		return strcasecmp(s1, s2);
	}
	}
}

static int64_t key(void *ctx, size_t row)
{
	return ((struct sessions *)ctx)->snap->sessions[((struct sessions *)ctx)->rows[row]].pid;
}

static void *create(void)
{
	struct sessions *st = xcalloc(1, sizeof(*st));
	static const struct table_source src = { cell, cmp, key };

	table_init(&st->table, columns, C_COUNT, &src);
	table_set_sort(&st->table, C_XACT, true);
	st->table.show_summary = true;
	return st;
}

static void destroy(void *p)
{
	struct sessions *st = p;

	table_release(&st->table);
	free(st->rows);
	free(st);
}

static void refresh_rows(struct sessions *st, const struct view *v)
{
	const struct snapshot *s = v->snap;

	st->snap = s;
	st->now = screen_server_now(v, s);
	st->nrows = 0;
	for (size_t i = 0; s && i < s->nsessions; i++) {
		const struct snap_session *x = &s->sessions[i];

		if (!st->all && (!x->backend_type || strcmp(x->backend_type, "client backend") != 0))
			continue;
		XGROW(st->rows, st->rows_alloc, st->nrows + 1);
		st->rows[st->nrows++] = i;
	}
	table_set_rows(&st->table, st, st->nrows);
}

static void draw(void *p, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	struct sessions *st = p;
	struct canvas_rect tr = r;
	size_t row;

	refresh_rows(st, v);
	if (!v->snap) {
		canvas_text(c, r.x + 1, r.y + 1, r.w - 2, THEME_DIM, "waiting for the first snapshot...");
		return;
	}
	if (st->detail && r.h > 10)
		tr.h = r.h - 7;
	table_draw(&st->table, c, tr);
	if (st->detail && r.h > 10 && table_selected(&st->table, &row)) {
		const struct snap_session *x = row_session(st, row);
		const char *q = x->query ? x->query : "";
		int y = tr.y + tr.h, w = r.w - 2;
		char title[200], age[32];

		fmt_age_since(x->backend_start, st->now, age, sizeof(age));
		snprintf(title, sizeof(title), "pid %d  %s@%s  %s  connected %s ago  %s", x->pid,
			 x->user ? x->user : "-", x->database ? x->database : "-",
			 x->client ? x->client : "", age, x->backend_type ? x->backend_type : "");
		screen_title(c, r.x, y++, r.w, title);
		screen_wrap(c, r.x + 1, y, w, 6, THEME_NORMAL, q);
	}
}

/* c / x: never straight to SQL — the brain prepares a proposal (catalog
 * check, guard, diff, policy) that runs only when accepted on the
 * Proposals screen. */
static void request(struct sessions *st, const struct view *v, const char *action)
{
	const struct snap_session *x;
	size_t row;

	if (!v->req)
		return;
	if (!v->act || !v->act->brain) {
		snprintf(v->req->message, sizeof(v->req->message),
			 "%s: nothing can be proposed here (replay, or no brain)", action);
		return;
	}
	if (!st->snap || !table_selected(&st->table, &row)) {
		snprintf(v->req->message, sizeof(v->req->message), "%s: select a session first", action);
		return;
	}
	x = row_session(st, row);
	brain_request(v->act->brain, action, x->pid, x->backend_start);
	snprintf(v->req->message, sizeof(v->req->message),
		 "%s of pid %d proposed: review and accept it on the Proposals screen (7)",
		 action, x->pid);
}

static bool on_key(void *p, const struct view *v, int k)
{
	struct sessions *st = p;

	switch (k) {
	case UI_KEY_ENTER: st->detail = !st->detail; return true;
	case 'a': st->all = !st->all; return true;
	case 'c': request(st, v, "cancel_backend"); return true;
	case 'x': request(st, v, "terminate_backend"); return true;
	}
	return screen_table_key(&st->table, k);
}

static bool on_click(void *p, const struct view *v, int x, int y)
{
	struct sessions *st = p;

	(void)v;
	return screen_table_click(&st->table, x, y);
}

static void on_filter(void *p, const char *text)
{
	table_set_filter(&((struct sessions *)p)->table, text);
}

static const char *filter_text(void *p)
{
	return table_filter(&((struct sessions *)p)->table);
}

const struct screen_ops screen_sessions = {
	"Sessions", keys, sizeof(keys) / sizeof(*keys), create, destroy, draw, on_key, on_click,
	on_filter, filter_text,
};
