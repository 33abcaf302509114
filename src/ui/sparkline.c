/*
 * sparkline: sample ring, level scaling and drawing; see sparkline.h.
 *
 * Levels use ceil(8v/max) - 1 rather than floor(8v/max): with floor, the
 * eight values max/8 .. max map to levels 1..7 with 7 twice and level 0
 * reserved for zero, so a steady ramp would never use the lowest bar; with
 * ceil every eighth of the range gets its own glyph and the peak is always
 * the full block.
 */
#include "ui/sparkline.h"

#include <math.h>
#include <stdlib.h>

#include "core/mem.h"

static const uint32_t level_utf8[SPARKLINE_LEVELS] = {
	/* ▁▂▃▄▅▆▇█ */
	0x2581, 0x2582, 0x2583, 0x2584, 0x2585, 0x2586, 0x2587, 0x2588,
};
static const char level_ascii[SPARKLINE_LEVELS + 1] = " .:-=+*#";

static bool valid(double v)
{
	return !isnan(v) && v >= 0;
}

void sparkline_init(struct sparkline *s, size_t capacity)
{
	s->cap = capacity ? capacity : 1;
	s->ring = xcalloc(s->cap, sizeof(*s->ring));
	s->len = 0;
	s->head = 0;
}

void sparkline_release(struct sparkline *s)
{
	free(s->ring);
	s->ring = NULL;
	s->cap = s->len = s->head = 0;
}

void sparkline_push(struct sparkline *s, double v)
{
	s->ring[s->head] = v;
	s->head = (s->head + 1) % s->cap;
	if (s->len < s->cap)
		s->len++;
}

void sparkline_reset(struct sparkline *s)
{
	s->len = 0;
	s->head = 0;
}

double sparkline_get(const struct sparkline *s, size_t i)
{
	if (i >= s->len)
		return NAN;
	return s->ring[(s->head + s->cap - s->len + i) % s->cap];
}

double sparkline_last(const struct sparkline *s)
{
	return s->len ? sparkline_get(s, s->len - 1) : NAN;
}

void sparkline_levels(const double *values, size_t n, int width, double max, int *out_levels)
{
	size_t w, shown, first;
	bool fixed = !isnan(max) && max > 0;

	if (width <= 0)
		return;
	w = (size_t)width;
	shown = n < w ? n : w;
	first = n - shown; /* oldest sample in view */
	if (!fixed) {
		max = 0;
		for (size_t i = first; i < n; i++)
			if (valid(values[i]) && values[i] > max)
				max = values[i];
	}
	for (size_t cell = 0; cell < w - shown; cell++)
		out_levels[cell] = SPARKLINE_GAP;
	for (size_t i = 0; i < shown; i++) {
		double v = values[first + i];
		int level;

		if (!valid(v)) {
			level = SPARKLINE_GAP;
		} else if (max <= 0 || isinf(max)) {
			level = isinf(v) ? SPARKLINE_LEVELS - 1 : 0;
		} else {
			double q = ceil(SPARKLINE_LEVELS * (v / max) - 1e-9) - 1;

			if (q > SPARKLINE_LEVELS - 1)
				q = SPARKLINE_LEVELS - 1;
			level = q < 0 ? 0 : (int)q;
		}
		out_levels[w - shown + i] = level;
	}
}

void sparkline_draw(const struct sparkline *s, struct canvas *c, int x, int y, int width,
		    double max, enum theme_role role)
{
	double *values;
	int *levels;
	size_t n;

	if (width <= 0)
		return;
	n = s->len < (size_t)width ? s->len : (size_t)width;
	values = xmalloc((n ? n : 1) * sizeof(*values));
	levels = xmalloc((size_t)width * sizeof(*levels));
	for (size_t i = 0; i < n; i++)
		values[i] = sparkline_get(s, s->len - n + i);
	sparkline_levels(values, n, width, max, levels);
	for (int i = 0; i < width; i++) {
		uint32_t ch = ' ';

		if (levels[i] != SPARKLINE_GAP)
			ch = c->ascii ? (uint32_t)level_ascii[levels[i]] : level_utf8[levels[i]];
		canvas_fill(c, x + i, y, 1, role, ch);
	}
	free(values);
	free(levels);
}
