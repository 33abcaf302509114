/*
 * table: filter, stable sort, selection and layout of the shared table
 * widget; see table.h.
 *
 * Every change of data, filter or sort goes through rebuild(): collect the
 * source rows that pass the filter (in source order), merge-sort them with
 * the caller's comparator (merge sort because it is stable and needs no
 * context-less comparator, unlike qsort), then put the selection back on
 * the row whose key was recorded when it was selected. The key is recorded
 * at selection time, not at rebuild time, because by then the old ctx (the
 * previous snapshot) may already be gone.
 *
 * The scroll offset keeps the selected row at the same height on screen
 * across a rebuild when it can, so a refresh does not make the list jump.
 */
#include "ui/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "ui/format.h"

static const char *cell_text(struct table *t, size_t row, size_t col, char *buf, size_t size,
			     enum theme_role *role)
{
	const char *s;

	*role = THEME_NORMAL;
	buf[0] = '\0';
	s = t->src.cell(t->ctx, row, col, buf, size, role);
	buf[size - 1] = '\0'; /* a callback that filled buf to the brim */
	return s ? s : "";
}

/* Text of a cell with whitespace runs folded, in out (TABLE_CELL_MAX). */
static const char *cell_line(struct table *t, size_t row, size_t col, char *out,
			     enum theme_role *role)
{
	char buf[TABLE_CELL_MAX];
	const char *s = cell_text(t, row, col, buf, sizeof(buf), role);

	if (!strpbrk(s, "\t\n\r\v\f"))
		return s == buf ? strcpy(out, buf) : s;
	return fmt_oneline(s, out, TABLE_CELL_MAX);
}

static int fold(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;

		while (i < n && hay[i] &&
		       fold((unsigned char)hay[i]) == fold((unsigned char)needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return n == 0;
}

static int strcmp_ci(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = fold((unsigned char)*a), cb = fold((unsigned char)*b);

		if (ca != cb || !ca)
			return ca - cb;
	}
}

/* Matched against the text as shown (whitespace folded), so a filter typed
 * from the screen finds a multi-line query. */
static bool row_matches(struct table *t, size_t row)
{
	char buf[TABLE_CELL_MAX];
	enum theme_role role;

	for (size_t col = 0; col < t->ncols; col++)
		if (contains_ci(cell_line(t, row, col, buf, &role), t->filter))
			return true;
	return false;
}

static int compare(struct table *t, size_t a, size_t b)
{
	size_t col = (size_t)t->sort_col;
	int r;

	if (t->src.cmp) {
		r = t->src.cmp(t->ctx, a, b, col);
	} else {
		char ba[TABLE_CELL_MAX], bb[TABLE_CELL_MAX];
		enum theme_role role;

		r = strcmp_ci(cell_text(t, a, col, ba, sizeof(ba), &role),
			      cell_text(t, b, col, bb, sizeof(bb), &role));
	}
	r = (r > 0) - (r < 0);
	return t->sort_desc ? -r : r;
}

/* Bottom-up merge sort of t->order; ties keep their order (stable). */
static void sort_rows(struct table *t)
{
	size_t n = t->nshown;
	size_t *src = t->order, *dst;

	if (t->sort_col < 0 || n < 2)
		return;
	XGROW(t->scratch, t->scratch_alloc, n);
	dst = t->scratch;
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi)
				dst[k++] = compare(t, src[j], src[i]) < 0 ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		size_t *tmp = src;

		src = dst;
		dst = tmp;
	}
	if (src != t->order) {
		memcpy(t->order, src, n * sizeof(*src));
	}
}

static void record_key(struct table *t)
{
	if (t->src.key && t->nshown) {
		t->sel_key = t->src.key(t->ctx, t->order[t->sel]);
		t->sel_key_valid = true;
	}
}

/* Scroll so the selection is on screen and no screen line is wasted below
 * the last row. */
static void scroll_to_selection(struct table *t)
{
	size_t h = t->body_h > 0 ? (size_t)t->body_h : 1;

	if (t->nshown == 0) {
		t->sel = t->top = 0;
		return;
	}
	if (t->sel >= t->nshown)
		t->sel = t->nshown - 1;
	if (t->top + h > t->nshown)
		t->top = t->nshown > h ? t->nshown - h : 0;
	if (t->sel < t->top)
		t->top = t->sel;
	if (t->sel >= t->top + h)
		t->top = t->sel - h + 1;
}

static void rebuild(struct table *t)
{
	size_t offset = t->sel >= t->top ? t->sel - t->top : 0;
	size_t old_sel = t->sel;
	bool found = false;

	XGROW(t->order, t->order_alloc, t->nrows ? t->nrows : 1);
	t->nshown = 0;
	for (size_t r = 0; r < t->nrows; r++)
		if (!t->filter[0] || row_matches(t, r))
			t->order[t->nshown++] = r;
	sort_rows(t);

	if (t->nshown == 0) {
		t->sel = t->top = 0; /* keep sel_key: the row may come back */
		return;
	}
	if (t->src.key && t->sel_key_valid) {
		for (size_t i = 0; i < t->nshown; i++) {
			if (t->src.key(t->ctx, t->order[i]) == t->sel_key) {
				t->sel = i;
				found = true;
				break;
			}
		}
	}
	if (!found)
		t->sel = old_sel < t->nshown ? old_sel : t->nshown - 1;
	t->top = t->sel >= offset ? t->sel - offset : 0;
	scroll_to_selection(t);
	record_key(t);
}

void table_init(struct table *t, const struct table_column *cols, size_t ncols,
		const struct table_source *src)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
	t->src = *src;
	t->sort_col = -1;
	t->filter = xstrdup("");
	t->col_x = xcalloc(ncols ? ncols : 1, sizeof(*t->col_x));
	t->col_w = xcalloc(ncols ? ncols : 1, sizeof(*t->col_w));
}

void table_release(struct table *t)
{
	free(t->order);
	free(t->scratch);
	free(t->filter);
	free(t->col_x);
	free(t->col_w);
	memset(t, 0, sizeof(*t));
	t->sort_col = -1;
}

void table_set_rows(struct table *t, void *ctx, size_t nrows)
{
	t->ctx = ctx;
	t->nrows = nrows;
	rebuild(t);
}

bool table_set_sort(struct table *t, int col, bool desc)
{
	if (col >= 0 && ((size_t)col >= t->ncols || !t->cols[col].sortable))
		return false;
	if (col < 0)
		desc = false;
	t->sort_col = col;
	t->sort_desc = desc;
	rebuild(t);
	return true;
}

bool table_toggle_sort(struct table *t, size_t col)
{
	if (col >= t->ncols || !t->cols[col].sortable)
		return false;
	if (t->sort_col == (int)col)
		return table_set_sort(t, (int)col, !t->sort_desc);
	return table_set_sort(t, (int)col, t->cols[col].desc_first);
}

bool table_sort_next(struct table *t, int dir)
{
	long n = (long)t->ncols;
	long start = t->sort_col >= 0 ? t->sort_col : (dir > 0 ? -1 : n);

	if (n == 0 || dir == 0)
		return false;
	for (long i = 1; i <= n; i++) {
		long c = ((start + (dir > 0 ? i : -i)) % n + n) % n;

		if (!t->cols[c].sortable)
			continue;
		if (c == t->sort_col)
			return false; /* the only sortable column */
		return table_set_sort(t, (int)c, t->cols[c].desc_first);
	}
	return false;
}

void table_set_filter(struct table *t, const char *filter)
{
	free(t->filter);
	t->filter = xstrdup(filter ? filter : "");
	rebuild(t);
}

const char *table_filter(const struct table *t)
{
	return t->filter;
}

bool table_select(struct table *t, size_t i)
{
	size_t old = t->sel;

	if (t->nshown == 0)
		return false;
	t->sel = i < t->nshown ? i : t->nshown - 1;
	scroll_to_selection(t);
	record_key(t);
	return t->sel != old;
}

bool table_move(struct table *t, enum table_move m)
{
	size_t page = t->body_h > 1 ? (size_t)t->body_h : 1;
	size_t i = t->sel;

	if (t->nshown == 0)
		return false;
	switch (m) {
	case TABLE_UP:
		i = i ? i - 1 : 0;
		break;
	case TABLE_DOWN:
		i++;
		break;
	case TABLE_PAGE_UP:
		i = i > page ? i - page : 0;
		break;
	case TABLE_PAGE_DOWN:
		i += page;
		break;
	case TABLE_HOME:
		i = 0;
		break;
	case TABLE_END:
		i = t->nshown - 1;
		break;
	}
	return table_select(t, i);
}

bool table_selected(const struct table *t, size_t *row)
{
	if (t->nshown == 0)
		return false;
	*row = t->order[t->sel];
	return true;
}

size_t table_count(const struct table *t)
{
	return t->nshown;
}

size_t table_row(const struct table *t, size_t i)
{
	return i < t->nshown ? t->order[i] : SIZE_MAX;
}

void table_layout(struct table *t, struct canvas_rect r)
{
	int width = r.w > 0 ? r.w : 0;
	int used = 0, flex = 0, spare, last = -1, last_flex = -1, given = 0;
	size_t kept = 0;

	for (size_t i = 0; i < t->ncols; i++) {
		int need = t->cols[i].min_w + (kept ? 1 : 0);

		t->col_w[i] = 0;
		t->col_x[i] = r.x + width;
		if (kept == i && used + need <= width) {
			t->col_x[i] = r.x + used + (kept ? 1 : 0);
			t->col_w[i] = t->cols[i].min_w;
			used += need;
			kept++;
		}
	}
	if (kept == 0 && t->ncols && width > 0) {
		/* not even the first column fits: show what we can of it */
		t->col_x[0] = r.x;
		t->col_w[0] = width;
		used = width;
		kept = 1;
	}
	for (size_t i = 0; i < kept; i++) {
		if (t->cols[i].flex > 0) {
			flex += t->cols[i].flex;
			last_flex = (int)i;
		}
		last = (int)i;
	}
	spare = width - used;
	if (spare > 0 && last >= 0) {
		if (flex == 0) {
			t->col_w[last] += spare;
		} else {
			for (size_t i = 0; i < kept; i++) {
				int extra = (int)((long)spare * t->cols[i].flex / flex);

				t->col_w[i] += extra;
				given += extra;
			}
			t->col_w[last_flex] += spare - given; /* rounding remainder */
			for (size_t i = 1; i < kept; i++)
				t->col_x[i] = t->col_x[i - 1] + t->col_w[i - 1] + 1;
		}
	}

	t->rect = r;
	t->body_y = r.y + 1;
	t->body_h = r.h - 1 - (t->show_summary ? 1 : 0);
	if (t->body_h < 0)
		t->body_h = 0;
	scroll_to_selection(t);
}

/* Write text into a column of width w at x, aligned; cut with an ellipsis. */
static void draw_aligned(struct canvas *c, int x, int y, int w, enum table_align align,
			 enum theme_role role, const char *s)
{
	int tw;

	if (w <= 0)
		return;
	tw = canvas_text_width(s);
	if (align == TABLE_ALIGN_RIGHT && tw < w)
		x += w - tw;
	canvas_text(c, x, y, w, role, s);
}

static void draw_header(struct table *t, struct canvas *c)
{
	int y = t->rect.y;

	canvas_fill(c, t->rect.x, y, t->rect.w, THEME_TITLE, ' ');
	for (size_t i = 0; i < t->ncols; i++) {
		const char *title = t->cols[i].title ? t->cols[i].title : "";
		int w = t->col_w[i], tw, x = t->col_x[i];

		if (w <= 0)
			continue;
		if (t->sort_col != (int)i) {
			draw_aligned(c, x, y, w, t->cols[i].align, THEME_TITLE, title);
			continue;
		}
		/* the title, then the arrow in the cell right after it */
		tw = canvas_text_width(title);
		if (tw > w - 1)
			tw = w - 1;
		if (t->cols[i].align == TABLE_ALIGN_RIGHT)
			x += w - 1 - tw;
		x += canvas_text(c, x, y, tw, THEME_TITLE, title);
		canvas_fill(c, x, y, 1, THEME_TITLE,
			    canvas_glyph(c, t->sort_desc ? GLYPH_ARROW_DOWN : GLYPH_ARROW_UP));
	}
}

static void draw_summary(struct table *t, struct canvas *c, int y)
{
	char line[256];
	int x = t->rect.x;

	canvas_fill(c, x, y, t->rect.w, THEME_DIM, ' ');
	if (t->filter[0])
		snprintf(line, sizeof(line), "%zu of %zu rows match ", t->nshown, t->nrows);
	else
		snprintf(line, sizeof(line), "%zu rows", t->nshown);
	x += canvas_text(c, x, y, t->rect.x + t->rect.w - x, THEME_DIM, line);
	if (t->filter[0]) {
		x += canvas_text(c, x, y, t->rect.x + t->rect.w - x, THEME_FILTER, "'");
		x += canvas_text(c, x, y, t->rect.x + t->rect.w - x - 1, THEME_FILTER, t->filter);
		canvas_text(c, x, y, t->rect.x + t->rect.w - x, THEME_FILTER, "'");
	}
}

/* Clip c to r inside the clip it had (outer). */
static void clip_within(struct canvas *c, struct canvas_rect r, struct canvas_rect outer)
{
	int x0 = r.x > outer.x ? r.x : outer.x;
	int y0 = r.y > outer.y ? r.y : outer.y;
	int x1 = r.x + r.w < outer.x + outer.w ? r.x + r.w : outer.x + outer.w;
	int y1 = r.y + r.h < outer.y + outer.h ? r.y + r.h : outer.y + outer.h;

	canvas_set_clip(c, (struct canvas_rect){ x0, y0, x1 - x0, y1 - y0 });
}

void table_draw(struct table *t, struct canvas *c, struct canvas_rect r)
{
	struct canvas_rect saved = c->clip;
	char buf[TABLE_CELL_MAX];

	table_layout(t, r);
	clip_within(c, r, saved);
	if (r.h > 0)
		draw_header(t, c);
	for (int i = 0; i < t->body_h; i++) {
		size_t idx = t->top + (size_t)i;
		int y = t->body_y + i;

		canvas_fill(c, r.x, y, r.w, THEME_NORMAL, ' ');
		if (idx >= t->nshown)
			continue;
		for (size_t col = 0; col < t->ncols; col++) {
			enum theme_role role;
			const char *s;

			if (t->col_w[col] <= 0)
				continue;
			s = cell_line(t, t->order[idx], col, buf, &role);
			draw_aligned(c, t->col_x[col], y, t->col_w[col], t->cols[col].align, role,
				     s);
		}
		if (idx == t->sel)
			canvas_attr(c, r.x, y, r.w, THEME_ATTR_REVERSE);
	}
	if (t->nshown == 0 && t->body_h > 0) {
		if (t->filter[0])
			canvas_printf(c, r.x, t->body_y, r.w, THEME_DIM, "no rows match '%s'",
				      t->filter);
		else
			canvas_text(c, r.x, t->body_y, r.w, THEME_DIM, "no rows");
	}
	if (t->show_summary && r.h > 1)
		draw_summary(t, c, r.y + r.h - 1);
	c->clip = saved;
}

enum table_hit table_hit(const struct table *t, int x, int y, size_t *index)
{
	const struct canvas_rect *r = &t->rect;

	if (x < r->x || x >= r->x + r->w || y < r->y || y >= r->y + r->h)
		return TABLE_HIT_NONE;
	if (y == r->y) {
		for (size_t i = 0; i < t->ncols; i++) {
			/* a column owns the gap after it */
			if (t->col_w[i] > 0 && x >= t->col_x[i] && x <= t->col_x[i] + t->col_w[i]) {
				*index = i;
				return TABLE_HIT_HEADER;
			}
		}
		return TABLE_HIT_NONE;
	}
	if (y >= t->body_y && y < t->body_y + t->body_h) {
		size_t i = t->top + (size_t)(y - t->body_y);

		if (i < t->nshown) {
			*index = i;
			return TABLE_HIT_ROW;
		}
	}
	return TABLE_HIT_NONE;
}
