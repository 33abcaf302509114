/*
 * locks: the Locks screen — the live wait-for graph as trees from each root
 * blocker (most sessions blocked first), deadlock cycles as their own
 * groups, the selected session's query, and the latest deadlock reports
 * from the server log with every participant's statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "perceive/snapshot.h"
#include "ui/format.h"
#include "ui/locktree.h"
#include "ui/screen.h"

static const struct key_help keys[] = {
	{ "j k, Up Down", "select a session in the tree" },
	{ "Enter", "show / hide the deadlock reports pane" },
	{ "click", "select a line" },
};

struct locks {
	struct locktree tree;
	const struct snapshot *built_for; /* borrowed identity: tree is for this snapshot */
	int64_t built_seq;
	size_t sel, top;
	int sel_pid;                       /* keeps the selection across refreshes */
	bool reports;                      /* deadlock pane shown */
	struct canvas_rect tree_rect;
};

static void *create(void)
{
	struct locks *st = xcalloc(1, sizeof(*st));

	st->built_seq = -1;
	st->sel = SIZE_MAX;
	st->sel_pid = -1;
	st->reports = true;
	return st;
}

static void destroy(void *p)
{
	struct locks *st = p;

	locktree_release(&st->tree);
	free(st);
}

static void rebuild(struct locks *st, const struct snapshot *s)
{
	if (s == st->built_for && s && s->stats.seq == st->built_seq)
		return;
	locktree_release(&st->tree);
	memset(&st->tree, 0, sizeof(st->tree));
	locktree_build(&st->tree, s);
	st->built_for = s;
	st->built_seq = s ? s->stats.seq : -1;
	st->sel = st->sel_pid >= 0 ? locktree_find(&st->tree, st->sel_pid, 0) : SIZE_MAX;
	if (st->sel == SIZE_MAX && st->tree.nlines)
		st->sel = 0;
}

static void draw_deadlocks(const struct snapshot *s, struct canvas *c, struct canvas_rect r)
{
	int y = r.y;
	char title[128];

	snprintf(title, sizeof(title), "Deadlocks in the server log (%zu)", s->ndeadlocks);
	screen_title(c, r.x, y++, r.w, title);
	if (!s->ndeadlocks) {
		for (size_t i = 0; i < s->nproblems; i++)
			if (strcmp(s->problems[i].panel, "deadlocks") == 0) {
				canvas_text(c, r.x + 1, y++, r.w - 2, THEME_WARN, s->problems[i].message);
				canvas_text(c, r.x + 1, y++, r.w - 2, THEME_DIM, s->problems[i].fix);
				return;
			}
		canvas_text(c, r.x + 1, y, r.w - 2, THEME_DIM, "none reported");
		return;
	}
	/* Newest first. */
	for (size_t k = s->ndeadlocks; k-- > 0 && y < r.y + r.h;) {
		const struct snap_deadlock *d = &s->deadlocks[k];
		char ago[32], line[512];
		double now = s->server.now > 0 ? s->server.now : s->collected_at;

		fmt_age_since(d->at, now, ago, sizeof(ago));
		snprintf(line, sizeof(line), "%s ago  %s@%s  pid %d aborted", ago, d->user ? d->user : "?",
			 d->database ? d->database : "?", d->pid);
		canvas_text(c, r.x + 1, y++, r.w - 2, THEME_LOCK_CYCLE, line);
		for (size_t i = 0; i < d->nprocs && y < r.y + r.h; i++) {
			const struct snap_deadlock_proc *p = &d->procs[i];
			char q[300];

			snprintf(line, sizeof(line), "  %d waits for %s on %s (held by %d): %s", p->pid,
				 p->mode ? p->mode : "?", p->relation ? p->relation : (p->object ? p->object : "?"),
				 p->blocked_by, fmt_oneline(p->statement ? p->statement : "", q, sizeof(q)));
			canvas_text(c, r.x + 1, y++, r.w - 2, THEME_NORMAL, line);
		}
	}
}

static void draw(void *p, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	struct locks *st = p;
	const struct snapshot *s = v->snap;
	struct canvas_rect tr = r;
	int lower = 0;
	char title[160];

	if (!s) {
		canvas_text(c, r.x + 1, r.y + 1, r.w - 2, THEME_DIM, "waiting for the first snapshot...");
		return;
	}
	rebuild(st, s);
	if (st->reports && r.h >= 14)
		lower = r.h / 3 < 12 ? r.h / 3 : 12;
	snprintf(title, sizeof(title), "Wait-for graph: %zu root blocker%s, %zu cycle%s, %zu waiting, deepest chain %d",
		 s->locks ? s->locks->nroots : 0, s->locks && s->locks->nroots == 1 ? "" : "s",
		 s->locks ? s->locks->ncycles : 0, s->locks && s->locks->ncycles == 1 ? "" : "s",
		 s->locks ? s->locks->nnodes - s->locks->nroots : 0, s->locks ? s->locks->max_depth : 0);
	if (s->locks && !s->locks->nnodes)
		snprintf(title, sizeof(title), "Wait-for graph");
	screen_title(c, r.x, r.y, r.w, title);
	tr.y = r.y + 1;
	tr.h = r.h - 1 - lower;
	/* Keep the selection visible. */
	if (st->sel != SIZE_MAX) {
		if (st->sel < st->top)
			st->top = st->sel;
		if (tr.h > 0 && st->sel >= st->top + (size_t)tr.h)
			st->top = st->sel - (size_t)tr.h + 1;
	}
	if (st->top >= st->tree.nlines)
		st->top = 0;
	st->tree_rect = tr;
	locktree_draw(&st->tree, c, tr, st->top, st->sel);
	if (lower)
		draw_deadlocks(s, c, (struct canvas_rect){ r.x, r.y + r.h - lower, r.w, lower });
}

static void select_line(struct locks *st, size_t i)
{
	if (i >= st->tree.nlines)
		return;
	st->sel = i;
	st->sel_pid = st->tree.lines[i].kind == LOCKTREE_CYCLE_HEAD ? -1 : st->tree.lines[i].pid;
}

static bool on_key(void *p, const struct view *v, int k)
{
	struct locks *st = p;
	size_t n = st->tree.nlines;

	(void)v;
	switch (k) {
	case 'j': case UI_KEY_DOWN:
		if (n)
			select_line(st, st->sel == SIZE_MAX ? 0 : (st->sel + 1 < n ? st->sel + 1 : st->sel));
		return true;
	case 'k': case UI_KEY_UP:
		if (n)
			select_line(st, st->sel == SIZE_MAX || st->sel == 0 ? 0 : st->sel - 1);
		return true;
	case 'g': case UI_KEY_HOME:
		select_line(st, 0);
		return true;
	case 'G': case UI_KEY_END:
		if (n)
			select_line(st, n - 1);
		return true;
	case UI_KEY_ENTER:
		st->reports = !st->reports;
		return true;
	}
	return false;
}

static bool on_click(void *p, const struct view *v, int x, int y)
{
	struct locks *st = p;

	(void)v;
	(void)x;
	if (y < st->tree_rect.y || y >= st->tree_rect.y + st->tree_rect.h)
		return false;
	select_line(st, st->top + (size_t)(y - st->tree_rect.y));
	return true;
}

const struct screen_ops screen_locks = {
	"Locks", keys, sizeof(keys) / sizeof(*keys), create, destroy, draw, on_key, on_click, NULL, NULL,
};
