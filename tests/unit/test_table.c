/*
 * test_table: the shared table widget (src/ui/table.c).
 *
 * The rows are a tiny session list behind the same callbacks a screen
 * writes (cell text, comparator, row key), drawn into a canvas and read back
 * as text. Covered: column layout from 120 down to 3 cells (a table of
 * widths), header and sort arrow, stable sorting in both directions, the
 * selection following its row across re-sorts, refreshes and filters,
 * scrolling that keeps the selection on screen, and hit-testing.
 */
#include "ui/table.h"

#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"

struct row {
	int pid;
	const char *user;
	double secs;
	const char *query;
};

struct rows {
	const struct row *v;
	size_t n;
};

enum { COL_PID, COL_USER, COL_TIME, COL_QUERY, NCOLS };

static const struct table_column columns[NCOLS] = {
	[COL_PID] = { "pid", 6, 0, TABLE_ALIGN_RIGHT, true, false },
	[COL_USER] = { "user", 8, 0, TABLE_ALIGN_LEFT, true, false },
	[COL_TIME] = { "time", 7, 0, TABLE_ALIGN_RIGHT, true, true },
	[COL_QUERY] = { "query", 10, 1, TABLE_ALIGN_LEFT, false, false },
};

static const char *cell(void *ctx, size_t r, size_t col, char *buf, size_t size,
			enum theme_role *role)
{
	const struct row *row = &((struct rows *)ctx)->v[r];

	switch (col) {
	case COL_PID:
		snprintf(buf, size, "%d", row->pid);
		return buf;
	case COL_USER:
		return row->user;
	case COL_TIME:
		if (row->secs >= 60)
			*role = THEME_WARN;
		snprintf(buf, size, "%.0fs", row->secs);
		return buf;
	default:
		return row->query;
	}
}

static int cmp(void *ctx, size_t a, size_t b, size_t col)
{
	const struct row *x = &((struct rows *)ctx)->v[a], *y = &((struct rows *)ctx)->v[b];

	switch (col) {
	case COL_PID:
		return (x->pid > y->pid) - (x->pid < y->pid);
	case COL_USER:
		return strcmp(x->user, y->user);
	case COL_TIME:
		return (x->secs > y->secs) - (x->secs < y->secs);
	default:
		return strcmp(x->query, y->query);
	}
}

static int64_t key(void *ctx, size_t r)
{
	return ((struct rows *)ctx)->v[r].pid;
}

static const struct table_source source = { cell, cmp, key };

static const struct row sample[] = {
	{ 30, "bob", 5, "select 1" },
	{ 10, "alice", 120, "update accounts\n   set x = 1" },
	{ 50, "bob", 61, "vacuum" },
	{ 20, "carol", 5, "select pg_sleep(10)" },
	{ 40, "alice", 7, "COMMIT" },
};
#define NSAMPLE (sizeof(sample) / sizeof(sample[0]))

static const char *row_text(const struct canvas *c, int y)
{
	static char buf[4096];
	size_t n;

	canvas_row_text(c, y, buf, sizeof(buf));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

/* pid of the row at shown index i */
static int pid_at(const struct table *t, const struct rows *rs, size_t i)
{
	return rs->v[table_row(t, i)].pid;
}

static int selected_pid(const struct table *t, const struct rows *rs)
{
	size_t r;

	return table_selected(t, &r) ? rs->v[r].pid : -1;
}

static void test_layout_widths(void **state)
{
	static const struct {
		int width;
		int w[NCOLS]; /* 0: dropped */
		int x[NCOLS];
	} cases[] = {
		{ 120, { 6, 8, 7, 96 }, { 0, 7, 16, 24 } },
		{ 40, { 6, 8, 7, 16 }, { 0, 7, 16, 24 } },
		{ 34, { 6, 8, 7, 10 }, { 0, 7, 16, 24 } },
		{ 33, { 6, 8, 17, 0 }, { 0, 7, 16, 0 } },  /* query dropped: time takes the rest */
		{ 23, { 6, 8, 7, 0 }, { 0, 7, 16, 0 } },
		{ 15, { 6, 8, 0, 0 }, { 0, 7, 0, 0 } },
		{ 10, { 10, 0, 0, 0 }, { 0, 0, 0, 0 } },
		{ 3, { 3, 0, 0, 0 }, { 0, 0, 0, 0 } },      /* not even pid fits: what we can */
	};
	struct table t;

	(void)state;
	table_init(&t, columns, NCOLS, &source);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		table_layout(&t, (struct canvas_rect){ 0, 0, cases[i].width, 5 });
		for (int col = 0; col < NCOLS; col++) {
			if (t.col_w[col] != cases[i].w[col] ||
			    (cases[i].w[col] && t.col_x[col] != cases[i].x[col]))
				fail_msg("width %d column %d: x %d w %d, want x %d w %d",
					 cases[i].width, col, t.col_x[col], t.col_w[col],
					 cases[i].x[col], cases[i].w[col]);
		}
	}
	table_release(&t);
}

static void test_layout_flex_weights(void **state)
{
	static const struct table_column cols[] = {
		{ "a", 4, 1, TABLE_ALIGN_LEFT, false, false },
		{ "b", 4, 0, TABLE_ALIGN_LEFT, false, false },
		{ "c", 4, 2, TABLE_ALIGN_LEFT, false, false },
	};
	struct table t;

	(void)state;
	table_init(&t, cols, 3, &source);
	/* 14 used, 10 spare: a gets 3, c gets 6 + the rounding remainder 1 */
	table_layout(&t, (struct canvas_rect){ 2, 0, 24, 3 });
	assert_int_equal(t.col_w[0], 7);
	assert_int_equal(t.col_w[1], 4);
	assert_int_equal(t.col_w[2], 11);
	assert_int_equal(t.col_x[0], 2);
	assert_int_equal(t.col_x[1], 10);
	assert_int_equal(t.col_x[2], 15);
	assert_int_equal(t.col_x[2] + t.col_w[2], 2 + 24);
	table_release(&t);
}

static void test_draw_40_columns(void **state)
{
	struct rows rs = { sample, NSAMPLE };
	struct canvas c;
	struct table t;

	(void)state;
	canvas_init(&c, 40, 8, false);
	table_init(&t, columns, NCOLS, &source);
	t.show_summary = true;
	table_set_rows(&t, &rs, rs.n);
	assert_true(table_set_sort(&t, COL_TIME, true));
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 40, 8 });
	assert_string_equal(row_text(&c, 0), "   pid user       time\xe2\x96\xbc query");
	for (int x = 0; x < 40; x++)
		assert_int_equal(canvas_at(&c, x, 0)->role, THEME_TITLE);
	/* time descending; the newline inside the query is folded */
	assert_string_equal(row_text(&c, 1), "    10 alice       120s update accounts…");
	assert_string_equal(row_text(&c, 2), "    50 bob          61s vacuum");
	assert_string_equal(row_text(&c, 3), "    40 alice         7s COMMIT");
	assert_string_equal(row_text(&c, 7), "5 rows");
	assert_string_equal(row_text(&c, 4), "    30 bob           5s select 1");
	/* the cell callback's role, and the selection (still pid 30, the first
	 * row before sorting) reversed across the row */
	assert_int_equal(canvas_at(&c, 20, 1)->role, THEME_WARN);
	assert_int_equal(canvas_at(&c, 20, 3)->role, THEME_NORMAL);
	for (int x = 0; x < 40; x++) {
		assert_true(canvas_at(&c, x, 4)->attr & THEME_ATTR_REVERSE);
		assert_false(canvas_at(&c, x, 1)->attr & THEME_ATTR_REVERSE);
	}
	/* ascending arrow, and an ascii canvas */
	canvas_release(&c);
	canvas_init(&c, 40, 8, true);
	table_toggle_sort(&t, COL_TIME);
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 40, 8 });
	assert_string_equal(row_text(&c, 0), "   pid user       time^ query");
	table_release(&t);
	canvas_release(&c);
}

static void test_draw_stays_in_rect(void **state)
{
	struct rows rs = { sample, NSAMPLE };
	struct canvas c;
	struct table t;

	(void)state;
	canvas_init(&c, 50, 10, false);
	for (int y = 0; y < 10; y++)
		canvas_fill(&c, 0, y, 50, THEME_NORMAL, '#');
	table_init(&t, columns, NCOLS, &source);
	table_set_rows(&t, &rs, rs.n);
	table_draw(&t, &c, (struct canvas_rect){ 5, 2, 30, 4 });
	for (int y = 0; y < 10; y++)
		for (int x = 0; x < 50; x++) {
			bool inside = x >= 5 && x < 35 && y >= 2 && y < 6;

			assert_int_equal(canvas_at(&c, x, y)->ch == '#', !inside);
		}
	assert_int_equal(c.clip.w, 50); /* the caller's clip is restored */
	table_release(&t);
	canvas_release(&c);
}

static void test_sort_stable(void **state)
{
	struct rows rs = { sample, NSAMPLE };
	struct table t;
	static const int by_user_asc[] = { 10, 40, 30, 50, 20 };
	static const int by_user_desc[] = { 20, 30, 50, 10, 40 }; /* ties still in source order */
	static const int by_time_asc[] = { 30, 20, 40, 50, 10 };

	(void)state;
	table_init(&t, columns, NCOLS, &source);
	table_set_rows(&t, &rs, rs.n);
	assert_true(table_set_sort(&t, COL_USER, false));
	for (size_t i = 0; i < NSAMPLE; i++)
		assert_int_equal(pid_at(&t, &rs, i), by_user_asc[i]);
	assert_true(table_set_sort(&t, COL_USER, true));
	for (size_t i = 0; i < NSAMPLE; i++)
		assert_int_equal(pid_at(&t, &rs, i), by_user_desc[i]);
	assert_true(table_set_sort(&t, COL_TIME, false));
	for (size_t i = 0; i < NSAMPLE; i++)
		assert_int_equal(pid_at(&t, &rs, i), by_time_asc[i]);
	/* not sortable; unsorted is source order */
	assert_false(table_set_sort(&t, COL_QUERY, false));
	assert_false(table_toggle_sort(&t, COL_QUERY));
	assert_int_equal(t.sort_col, COL_TIME);
	assert_true(table_set_sort(&t, -1, false));
	for (size_t i = 0; i < NSAMPLE; i++)
		assert_int_equal(pid_at(&t, &rs, i), sample[i].pid);
	table_release(&t);
}

/* A large stable sort: 2,000 rows with only 3 distinct keys. */
static void test_sort_stable_large(void **state)
{
	enum { N = 2000 };
	struct row *v = xcalloc(N, sizeof(*v));
	struct rows rs = { v, N };
	struct table t;

	(void)state;
	for (int i = 0; i < N; i++)
		v[i] = (struct row){ i, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", 0, "" };
	table_init(&t, columns, NCOLS, &source);
	table_set_rows(&t, &rs, rs.n);
	for (int desc = 0; desc < 2; desc++) {
		table_set_sort(&t, COL_USER, desc);
		for (size_t i = 1; i < N; i++) {
			const struct row *a = &v[table_row(&t, i - 1)], *b = &v[table_row(&t, i)];
			int c = strcmp(a->user, b->user);

			assert_true(desc ? c >= 0 : c <= 0);
			if (c == 0)
				assert_true(a->pid < b->pid);
		}
	}
	table_release(&t);
	free(v);
}

static void test_toggle_and_next(void **state)
{
	struct rows rs = { sample, NSAMPLE };
	struct table t;

	(void)state;
	table_init(&t, columns, NCOLS, &source);
	table_set_rows(&t, &rs, rs.n);
	assert_true(table_toggle_sort(&t, COL_TIME)); /* desc_first */
	assert_int_equal(t.sort_col, COL_TIME);
	assert_true(t.sort_desc);
	assert_true(table_toggle_sort(&t, COL_TIME));
	assert_false(t.sort_desc);
	assert_true(table_toggle_sort(&t, COL_PID));
	assert_false(t.sort_desc);
	/* next/previous sortable column, wrapping, skipping query */
	assert_true(table_sort_next(&t, 1));
	assert_int_equal(t.sort_col, COL_USER);
	assert_true(table_sort_next(&t, 1));
	assert_int_equal(t.sort_col, COL_TIME);
	assert_true(t.sort_desc);
	assert_true(table_sort_next(&t, 1));
	assert_int_equal(t.sort_col, COL_PID);
	assert_true(table_sort_next(&t, -1));
	assert_int_equal(t.sort_col, COL_TIME);
	table_set_sort(&t, -1, false);
	assert_true(table_sort_next(&t, -1));
	assert_int_equal(t.sort_col, COL_TIME);
	table_release(&t);
}

static void test_selection_follows_key(void **state)
{
	struct rows rs = { sample, NSAMPLE };
	struct table t;
	/* the next snapshot: rows reordered, 60 added */
	static const struct row next[] = {
		{ 60, "dave", 1, "select 2" }, { 50, "bob", 62, "vacuum" },
		{ 40, "alice", 8, "COMMIT" },  { 30, "bob", 6, "select 1" },
		{ 20, "carol", 6, "select pg_sleep(10)" },
	};
	/* and the one after: 30 gone */
	static const struct row after[] = { { 60, "dave", 2, "select 2" }, { 70, "eve", 1, "x" } };
	struct rows rs2 = { next, 5 }, rs3 = { after, 2 };

	(void)state;
	table_init(&t, columns, NCOLS, &source);
	table_set_rows(&t, &rs, rs.n);
	assert_int_equal(selected_pid(&t, &rs), 30); /* first row */
	table_move(&t, TABLE_DOWN);
	table_move(&t, TABLE_DOWN);
	table_move(&t, TABLE_DOWN);
	assert_int_equal(selected_pid(&t, &rs), 20);
	/* re-sorts move the row, the selection goes with it */
	table_set_sort(&t, COL_USER, false);
	assert_int_equal(selected_pid(&t, &rs), 20);
	assert_int_equal(t.sel, 4);
	table_set_sort(&t, COL_TIME, true);
	assert_int_equal(selected_pid(&t, &rs), 20);
	table_move(&t, TABLE_UP); /* time desc: 10 50 40 [30 20] -> 30 */
	assert_int_equal(selected_pid(&t, &rs), 30);
	/* a refresh with new data (the old array could be gone already):
	 * time desc is now 50 40 [30] 20 60 */
	table_set_rows(&t, &rs2, rs2.n);
	assert_int_equal(selected_pid(&t, &rs2), 30);
	assert_int_equal(t.sel, 2);
	/* the selected row disappears: same index, clamped (60 70 -> 70) */
	table_set_rows(&t, &rs3, rs3.n);
	assert_int_equal(t.sel, 1);
	assert_int_equal(selected_pid(&t, &rs3), 70);
	/* ... and from then on it follows the new row */
	table_set_sort(&t, COL_PID, true);
	assert_int_equal(selected_pid(&t, &rs3), 70);
	assert_int_equal(t.sel, 0);
	table_release(&t);
}

static void test_filter(void **state)
{
	struct rows rs = { sample, NSAMPLE };
	struct canvas c;
	struct table t;
	size_t r;

	(void)state;
	canvas_init(&c, 30, 6, false);
	table_init(&t, columns, NCOLS, &source);
	t.show_summary = true;
	table_set_rows(&t, &rs, rs.n);
	table_select(&t, 3); /* pid 20 */
	table_set_filter(&t, "SELECT");
	assert_string_equal(table_filter(&t), "SELECT");
	assert_int_equal(table_count(&t), 2);
	assert_int_equal(pid_at(&t, &rs, 0), 30);
	assert_int_equal(pid_at(&t, &rs, 1), 20);
	assert_int_equal(selected_pid(&t, &rs), 20);
	/* at 30 cells the query column is dropped but still filtered on */
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 30, 6 });
	assert_string_equal(row_text(&c, 5), "2 of 5 rows match 'SELECT'");
	assert_int_equal(canvas_at(&c, 20, 5)->role, THEME_FILTER);
	/* nothing matches: no selection, but the key survives */
	table_set_filter(&t, "zzz");
	assert_int_equal(table_count(&t), 0);
	assert_false(table_selected(&t, &r));
	assert_false(table_move(&t, TABLE_DOWN));
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 30, 6 });
	assert_string_equal(row_text(&c, 1), "no rows match 'zzz'");
	table_set_filter(&t, "select");
	assert_int_equal(selected_pid(&t, &rs), 20);
	table_set_filter(&t, NULL);
	assert_int_equal(table_count(&t), NSAMPLE);
	assert_int_equal(selected_pid(&t, &rs), 20);
	/* any column: user, formatted time; a filter that hides the selected
	 * row moves the selection for good (same index, clamped) */
	table_set_filter(&t, "ALI");
	assert_int_equal(table_count(&t), 2);
	assert_int_equal(selected_pid(&t, &rs), 40);
	table_set_filter(&t, "120s");
	assert_int_equal(table_count(&t), 1);
	table_set_filter(&t, "accounts set"); /* across the folded newline */
	assert_int_equal(table_count(&t), 1);
	table_set_filter(&t, "");
	assert_int_equal(selected_pid(&t, &rs), 10);
	table_release(&t);
	canvas_release(&c);
}

static const char *num_cell(void *ctx, size_t r, size_t col, char *buf, size_t size,
			    enum theme_role *role)
{
	(void)ctx;
	(void)col;
	(void)role;
	snprintf(buf, size, "row %03zu", r);
	return buf;
}

static int64_t num_key(void *ctx, size_t r)
{
	(void)ctx;
	return (int64_t)r;
}

static void check_visible(const struct table *t)
{
	assert_true(t->sel >= t->top);
	assert_true(t->sel < t->top + (size_t)t->body_h);
}

static void test_scroll(void **state)
{
	static const struct table_column cols[] = { { "n", 7, 1, TABLE_ALIGN_LEFT, true, false } };
	static const struct table_source src = { num_cell, NULL, num_key };
	struct canvas c;
	struct table t;
	int dummy;

	(void)state;
	canvas_init(&c, 20, 12, false);
	table_init(&t, cols, 1, &src);
	table_set_rows(&t, &dummy, 100);
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 20, 11 }); /* 10 body rows */
	assert_int_equal(t.body_h, 10);
	for (int i = 0; i < 15; i++) {
		assert_true(table_move(&t, TABLE_DOWN));
		check_visible(&t);
	}
	assert_int_equal(t.sel, 15);
	assert_int_equal(t.top, 6);
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 20, 11 });
	assert_string_equal(row_text(&c, 10), "row 015");
	assert_true(canvas_at(&c, 0, 10)->attr & THEME_ATTR_REVERSE);
	table_move(&t, TABLE_PAGE_DOWN);
	assert_int_equal(t.sel, 25);
	check_visible(&t);
	table_move(&t, TABLE_PAGE_UP);
	table_move(&t, TABLE_PAGE_UP);
	assert_int_equal(t.sel, 5);
	check_visible(&t);
	assert_true(table_move(&t, TABLE_END));
	assert_int_equal(t.sel, 99);
	assert_int_equal(t.top, 90);
	assert_false(table_move(&t, TABLE_DOWN));
	assert_true(table_move(&t, TABLE_HOME));
	assert_int_equal(t.top, 0);
	assert_false(table_move(&t, TABLE_UP));
	/* the list shrinks under the selection: clamped, still visible */
	table_move(&t, TABLE_END);
	table_set_rows(&t, &dummy, 40);
	assert_int_equal(t.sel, 39);
	check_visible(&t);
	assert_int_equal(t.top, 30);
	/* a smaller window keeps the selection on screen */
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 20, 4 });
	check_visible(&t);
	/* sorted by text without a comparator: "row 039" last ascending */
	table_set_sort(&t, 0, true);
	assert_int_equal(table_row(&t, 0), 39);
	assert_int_equal(t.sel, 0); /* key 39 followed */
	assert_int_equal(table_row(&t, 1000), SIZE_MAX);
	table_release(&t);
	canvas_release(&c);
}

static void test_hit(void **state)
{
	struct rows rs = { sample, NSAMPLE };
	struct canvas c;
	struct table t;
	size_t index = 99;

	(void)state;
	canvas_init(&c, 60, 20, false);
	table_init(&t, columns, NCOLS, &source);
	table_set_rows(&t, &rs, rs.n);
	table_draw(&t, &c, (struct canvas_rect){ 2, 3, 40, 10 });
	/* header: the column under x; a gap belongs to the column on its left */
	assert_int_equal(table_hit(&t, 2, 3, &index), TABLE_HIT_HEADER);
	assert_int_equal(index, COL_PID);
	assert_int_equal(table_hit(&t, 2 + 6, 3, &index), TABLE_HIT_HEADER);
	assert_int_equal(index, COL_PID);
	assert_int_equal(table_hit(&t, 2 + 7, 3, &index), TABLE_HIT_HEADER);
	assert_int_equal(index, COL_USER);
	assert_int_equal(table_hit(&t, 2 + 20, 3, &index), TABLE_HIT_HEADER);
	assert_int_equal(index, COL_TIME);
	assert_int_equal(table_hit(&t, 41, 3, &index), TABLE_HIT_HEADER);
	assert_int_equal(index, COL_QUERY);
	/* rows */
	assert_int_equal(table_hit(&t, 10, 4, &index), TABLE_HIT_ROW);
	assert_int_equal(index, 0);
	assert_int_equal(table_hit(&t, 10, 8, &index), TABLE_HIT_ROW);
	assert_int_equal(index, 4);
	assert_true(table_select(&t, index));
	assert_int_equal(selected_pid(&t, &rs), 40);
	/* below the last row, outside the rect */
	assert_int_equal(table_hit(&t, 10, 9, &index), TABLE_HIT_NONE);
	assert_int_equal(table_hit(&t, 1, 4, &index), TABLE_HIT_NONE);
	assert_int_equal(table_hit(&t, 42, 4, &index), TABLE_HIT_NONE);
	assert_int_equal(table_hit(&t, 10, 13, &index), TABLE_HIT_NONE);
	/* scrolled: the row under y is top + offset */
	table_draw(&t, &c, (struct canvas_rect){ 2, 3, 40, 3 }); /* 2 body rows */
	assert_true(t.top > 0);
	assert_int_equal(table_hit(&t, 10, 4, &index), TABLE_HIT_ROW);
	assert_int_equal(index, t.top);
	/* a click on a header sorts */
	table_hit(&t, 2 + 20, 3, &index);
	assert_true(table_toggle_sort(&t, index));
	assert_int_equal(t.sort_col, COL_TIME);
	table_release(&t);
	canvas_release(&c);
}

static void test_empty(void **state)
{
	struct canvas c;
	struct table t;
	size_t r;

	(void)state;
	canvas_init(&c, 30, 4, false);
	table_init(&t, columns, NCOLS, &source);
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 30, 4 });
	assert_string_equal(row_text(&c, 1), "no rows");
	assert_false(table_selected(&t, &r));
	assert_false(table_select(&t, 3));
	assert_int_equal(table_hit(&t, 3, 1, &r), TABLE_HIT_NONE);
	table_draw(&t, &c, (struct canvas_rect){ 0, 0, 0, 0 }); /* degenerate rect */
	table_release(&t);
	canvas_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_widths),
		cmocka_unit_test(test_layout_flex_weights),
		cmocka_unit_test(test_draw_40_columns),
		cmocka_unit_test(test_draw_stays_in_rect),
		cmocka_unit_test(test_sort_stable),
		cmocka_unit_test(test_sort_stable_large),
		cmocka_unit_test(test_toggle_and_next),
		cmocka_unit_test(test_selection_follows_key),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_scroll),
		cmocka_unit_test(test_hit),
		cmocka_unit_test(test_empty),
	};

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		fprintf(stderr, "test_table: locale C.UTF-8 is not available\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
