/*
 * sparkline: a short history of one number, drawn as a row of block levels.
 *
 * A screen keeps one struct sparkline per metric (tps, waiting sessions,
 * WAL rate), pushes a sample per snapshot and draws the newest samples into
 * a few cells: the newest on the right, eight levels ▁▂▃▄▅▆▇█ (ASCII
 * " .:-=+*#" on an ascii canvas), scaled to the largest sample in view or
 * to a fixed maximum. A NaN or negative sample (no data that refresh) is a
 * gap, not a zero, so a collector outage is visible as a hole.
 *
 * The scaling is the pure function sparkline_levels(), unit-tested; drawing
 * only maps levels to glyphs. UI thread only; the ring is owned.
 */
#ifndef COCKPIT_UI_SPARKLINE_H
#define COCKPIT_UI_SPARKLINE_H

#include <stddef.h>

#include "ui/canvas.h"
#include "ui/theme.h"

#define SPARKLINE_LEVELS 8
#define SPARKLINE_GAP (-1) /* level of a cell with no (valid) sample */

struct sparkline {
	double *ring;   /* owned; cap samples, oldest at (head - len) mod cap */
	size_t cap;
	size_t len;     /* samples held, <= cap */
	size_t head;    /* index the next sample goes to */
};

/* Hold the last capacity samples (at least 1). */
void sparkline_init(struct sparkline *s, size_t capacity);
void sparkline_release(struct sparkline *s);
void sparkline_push(struct sparkline *s, double v);
void sparkline_reset(struct sparkline *s);
/* Sample i, 0 = oldest held; NaN past the end. */
double sparkline_get(const struct sparkline *s, size_t i);
/* The newest sample, NaN when empty. */
double sparkline_last(const struct sparkline *s);
/*
 * Levels for width cells from values[0..n) (oldest first): the newest width
 * samples, right-aligned; cells with no sample, and NaN or negative samples,
 * get SPARKLINE_GAP. Otherwise level = ceil(8 * v / max) - 1 clamped to 0..7,
 * so 0 and tiny values are the lowest bar and max is the full block. max > 0
 * scales to that fixed maximum (larger samples clip to 7); max <= 0 or NaN
 * scales to the largest valid sample in view (all zero: all level 0).
 */
void sparkline_levels(const double *values, size_t n, int width, double max, int *out_levels);
/* Draw the newest width samples at (x, y) in role; max as above. */
void sparkline_draw(const struct sparkline *s, struct canvas *c, int x, int y, int width,
		    double max, enum theme_role role);

#endif
