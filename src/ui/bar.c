/*
 * bar: fill arithmetic and drawing of horizontal bars; see bar.h.
 *
 * A label drawn over the bar keeps the role of each cell under it, so the
 * part over the filled cells is in the fill role and the rest in the empty
 * role: the boundary stays visible through the text.
 */
#include "ui/bar.h"

#include <math.h>

int bar_cells(double fraction, int w)
{
	int n;

	if (w <= 0 || isnan(fraction) || fraction <= 0)
		return 0;
	if (fraction >= 1)
		return w;
	n = (int)lround(fraction * w);
	if (n < 1)
		n = 1;
	if (n > w - 1)
		n = w - 1;
	return n < 0 ? 0 : n;
}

enum theme_role bar_role(double fraction, double warn, double crit)
{
	if (crit > 0 && fraction >= crit)
		return THEME_CRIT;
	if (warn > 0 && fraction >= warn)
		return THEME_WARN;
	return THEME_BAR_FILL;
}

void bar_draw(struct canvas *c, int x, int y, int w, double fraction, enum theme_role fill_role,
	      const char *label, enum bar_label where)
{
	int bw = w, filled, lw;

	if (w <= 0)
		return;
	if (!label)
		where = BAR_LABEL_NONE;
	lw = where == BAR_LABEL_NONE ? 0 : canvas_text_width(label);
	if (where == BAR_LABEL_AFTER) {
		bw = w - lw - 1;
		if (bw < 1)
			bw = w > 1 ? 1 : 0;
	}
	filled = bar_cells(fraction, bw);
	canvas_fill(c, x, y, filled, fill_role, canvas_glyph(c, GLYPH_BLOCK_FULL));
	canvas_fill(c, x + filled, y, bw - filled, THEME_BAR_EMPTY,
		    canvas_glyph(c, GLYPH_BLOCK_LIGHT));
	if (where == BAR_LABEL_OVER) {
		int lx = lw < bw ? x + (bw - lw) / 2 : x;
		int n = canvas_text(c, lx, y, bw - (lx - x), THEME_NORMAL, label);

		/* keep each cell's bar role under the text */
		for (int i = 0; i < n; i++) {
			bool over_fill = lx + i < x + filled;

			canvas_role(c, lx + i, y, 1, over_fill ? fill_role : THEME_BAR_EMPTY);
		}
	} else if (where == BAR_LABEL_AFTER && w - bw - 1 > 0) {
		canvas_fill(c, x + bw, y, 1, THEME_NORMAL, ' ');
		canvas_text(c, x + bw + 1, y, w - bw - 1, THEME_NORMAL, label);
	}
}
