/*
 * table: the one table widget every screen uses (STYLE rule 6).
 *
 * A screen declares its columns once (a static array of struct
 * table_column) and gives three callbacks; the table never sees the row
 * type. Rows are numbered 0..nrows-1 in the caller's order (the "source"
 * row); the table keeps its own order array of the rows it shows (the
 * filter applied, then a stable sort), so the caller's data is never copied
 * or reordered.
 *
 * The flow per snapshot: table_set_rows(t, snapshot, n) re-filters and
 * re-sorts and keeps the selected row by its key (a pid, a queryid: the
 * caller's int64 identity) so the cursor stays on the same session while
 * rows move; if that row is gone, the cursor keeps its index, clamped. Key
 * handlers call table_move / table_toggle_sort / table_set_filter and redraw;
 * draw calls table_draw, which lays the columns out to the width it is given
 * and copies styled text into the canvas. Nothing here calls curses.
 *
 * Column layout: columns are kept left to right while each fits at its
 * min_w (one blank cell between columns); the ones that do not fit are
 * dropped from the right. Spare width goes to the kept columns by flex
 * weight; when no kept column has a weight, the last kept column (typically
 * the query) takes it all.
 *
 * Ownership: the column array is borrowed for the table's life; ctx is
 * borrowed until the next table_set_rows (the table calls back into it from
 * every function below, so keep the snapshot referenced meanwhile); the
 * order array, the filter string and the layout arrays are owned.
 * UI thread only.
 */
#ifndef COCKPIT_UI_TABLE_H
#define COCKPIT_UI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ui/canvas.h"
#include "ui/theme.h"

#define TABLE_CELL_MAX 1024 /* bytes of the buffer handed to a cell callback */

enum table_align { TABLE_ALIGN_LEFT, TABLE_ALIGN_RIGHT };

struct table_column {
	const char *title;      /* borrowed (a literal) */
	int min_w;              /* cells; the column is dropped when this does not fit */
	int flex;               /* weight in the spare width; 0: stays at min_w */
	enum table_align align;
	bool sortable;
	bool desc_first;        /* a first click sorts descending (numbers: biggest first) */
};

/* Text of one cell: write into buf (size bytes) and return buf, or return any
 * string that lives until the next callback (a field of the row). NULL
 * shows as empty. *role arrives as THEME_NORMAL; set it to colour the cell.
 * Whitespace runs (newlines in a query) are collapsed by the table. */
typedef const char *table_cell_fn(void *ctx, size_t row, size_t col, char *buf, size_t size,
				  enum theme_role *role);
/* <0, 0, >0 like strcmp, ascending, for two source rows on column col. */
typedef int table_cmp_fn(void *ctx, size_t a, size_t b, size_t col);
/* The identity of a source row (pid, queryid, ...). */
typedef int64_t table_key_fn(void *ctx, size_t row);

struct table_source {
	table_cell_fn *cell;    /* required */
	table_cmp_fn *cmp;      /* NULL: compare cell text, case-insensitively */
	table_key_fn *key;      /* NULL: the selection keeps its index across updates */
};

enum table_move { TABLE_UP, TABLE_DOWN, TABLE_PAGE_UP, TABLE_PAGE_DOWN, TABLE_HOME, TABLE_END };

enum table_hit { TABLE_HIT_NONE, TABLE_HIT_HEADER, TABLE_HIT_ROW };

struct table {
	const struct table_column *cols; /* borrowed; ncols entries */
	size_t ncols;
	struct table_source src;
	bool show_summary;      /* set by the caller: last line of the rect says
				   "N rows" / "N of M rows match 'x'" */

	void *ctx;              /* borrowed until the next table_set_rows */
	size_t nrows;           /* rows in the source */
	size_t *order;          /* owned; shown rows as source indices, nshown of them */
	size_t nshown;
	size_t order_alloc;
	size_t *scratch;        /* owned; merge-sort buffer */
	size_t scratch_alloc;

	int sort_col;           /* column index, or -1: source order */
	bool sort_desc;
	char *filter;           /* owned; "" when no filter */

	size_t sel;             /* selected index into order (0 when empty) */
	size_t top;             /* first shown index on screen */
	int64_t sel_key;        /* key of the selected row, kept across updates */
	bool sel_key_valid;

	/* Layout of the last table_layout()/table_draw(), for hit-testing. */
	int *col_x, *col_w;     /* owned; ncols each; col_w 0: column dropped */
	struct canvas_rect rect;
	int body_y, body_h;     /* rows on screen (body_h >= 0) */
};

/* cols (borrowed) must outlive t; src is copied; starts empty, unsorted. */
void table_init(struct table *t, const struct table_column *cols, size_t ncols,
		const struct table_source *src);
void table_release(struct table *t);
/* New data: ctx (borrowed) holds nrows rows. Re-filters, re-sorts and keeps
 * the selection on the same key. */
void table_set_rows(struct table *t, void *ctx, size_t nrows);
/* Sort by col (-1: source order), keeping the selected row. A column that is
 * not sortable is refused (returns false). */
bool table_set_sort(struct table *t, int col, bool desc);
/* Header click / sort key: the sorted column flips direction; another
 * sortable column becomes the sort, in its desc_first direction. */
bool table_toggle_sort(struct table *t, size_t col);
/* Move the sort to the next (dir > 0) or previous sortable column. */
bool table_sort_next(struct table *t, int dir);
/* Case-insensitive substring over every cell of a row, dropped columns
 * included; NULL or "" clears. The string is copied. */
void table_set_filter(struct table *t, const char *filter);
const char *table_filter(const struct table *t);
/* Move the selection; pages are the body height of the last layout.
 * Returns true when the selection changed. */
bool table_move(struct table *t, enum table_move m);
/* Select shown index i (clamped), e.g. after a click. Returns true if changed. */
bool table_select(struct table *t, size_t i);
/* Source row of the selection; false when nothing is shown. */
bool table_selected(const struct table *t, size_t *row);
/* Rows shown (after the filter) and the source row at shown index i. */
size_t table_count(const struct table *t);
size_t table_row(const struct table *t, size_t i);
/* Lay the columns out into r (header at r.y, then the body, then the summary
 * line if enabled) and scroll so the selection is visible. table_draw calls
 * it; call it directly to hit-test before a first draw. */
void table_layout(struct table *t, struct canvas_rect r);
/* Lay out into r and draw: header in THEME_TITLE with a sort arrow, rows in
 * the roles the cell callback gives, the selected row reversed. Every cell
 * of r is written; nothing outside r is. */
void table_draw(struct table *t, struct canvas *c, struct canvas_rect r);
/* What screen cell (x, y) of the last layout is: a header (*index = column)
 * or a row (*index = shown index, for table_select). */
enum table_hit table_hit(const struct table *t, int x, int y, size_t *index);

#endif
