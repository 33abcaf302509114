/*
 * bar: a horizontal fill bar (disk used, connections used, a share of DB
 * time) with a label.
 *
 * The filled part is drawn in a role the caller picks, usually through
 * bar_role() (THEME_BAR_FILL, THEME_WARN past a warning threshold,
 * THEME_CRIT past a critical one); the rest in THEME_BAR_EMPTY. The cells are
 * block glyphs (█ filled, ░ empty; '#' and '.' on an ascii canvas) so the
 * bar still reads with no colour at all. The cell count is the pure
 * function bar_cells(), unit-tested. Nothing is owned; UI thread only.
 */
#ifndef COCKPIT_UI_BAR_H
#define COCKPIT_UI_BAR_H

#include "ui/canvas.h"
#include "ui/theme.h"

enum bar_label {
	BAR_LABEL_NONE,
	BAR_LABEL_OVER,   /* label centred over the bar, in the role of the cells under it */
	BAR_LABEL_AFTER,  /* label right of the bar, one blank cell between; the bar shrinks */
};

/* Filled cells out of w for fraction (clamped to 0..1): rounded, but at
 * least 1 for any fraction > 0 and w - 1 at most below 1, so "almost empty"
 * and "almost full" stay distinguishable from empty and full. NaN: 0. */
int bar_cells(double fraction, int w);
/* THEME_CRIT at or past crit, THEME_WARN at or past warn, else THEME_BAR_FILL
 * (a threshold <= 0 or NaN is ignored). */
enum theme_role bar_role(double fraction, double warn, double crit);
/* Draw a bar of w cells at (x, y), label included. label may be NULL. */
void bar_draw(struct canvas *c, int x, int y, int w, double fraction, enum theme_role fill_role,
	      const char *label, enum bar_label where);

#endif
