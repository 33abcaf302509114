/*
 * test_sparkline: history rings and level scaling (src/ui/sparkline.c).
 *
 * The scaling table gives samples, a width and a maximum, and the levels
 * expected per cell (G for a gap); below it, the ring buffer's wrap-around
 * and what draw puts on a Unicode and an ASCII canvas.
 */
#include "ui/sparkline.h"

#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define G SPARKLINE_GAP
#define MAXN 16

struct level_case {
	const char *name;
	double values[MAXN];
	size_t n;
	int width;
	double max; /* 0: auto */
	int want[MAXN];
};

static const struct level_case level_cases[] = {
	{ "all zero", { 0, 0, 0, 0 }, 4, 4, 0, { 0, 0, 0, 0 } },
	{ "constant", { 5, 5, 5 }, 3, 3, 0, { 7, 7, 7 } },
	{ "increasing: one level each", { 1, 2, 3, 4, 5, 6, 7, 8 }, 8, 8, 0,
	  { 0, 1, 2, 3, 4, 5, 6, 7 } },
	{ "half of max", { 0, 50, 100 }, 3, 3, 0, { 0, 3, 7 } },
	{ "tiny values are the lowest bar", { 0.001, 1000 }, 2, 2, 0, { 0, 7 } },
	{ "NaN and negative are gaps", { 4, NAN, 8, -1, 2 }, 5, 5, 0, { 3, G, 7, G, 1 } },
	{ "gaps do not count for max", { NAN, 2, -100 }, 3, 3, 0, { G, 7, G } },
	{ "only gaps", { NAN, -1 }, 2, 2, 0, { G, G } },
	{ "width larger: right-aligned", { 1, 2 }, 2, 5, 0, { G, G, G, 3, 7 } },
	{ "no samples", { 0 }, 0, 3, 0, { G, G, G } },
	{ "width smaller: newest only", { 100, 1, 2, 4 }, 4, 3, 0, { 1, 3, 7 } },
	{ "fixed max", { 10, 50, 100 }, 3, 3, 100, { 0, 3, 7 } },
	{ "fixed max clips", { 200, 25 }, 2, 2, 100, { 7, 1 } },
	{ "fixed max, all below", { 1, 1 }, 2, 2, 100, { 0, 0 } },
	{ "NaN max is auto", { 1, 2 }, 2, 2, NAN, { 3, 7 } },
	{ "infinite sample", { 1, INFINITY }, 2, 2, 0, { 0, 7 } },
};

static void test_levels(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(level_cases) / sizeof(level_cases[0]); i++) {
		const struct level_case *lc = &level_cases[i];
		int got[MAXN];

		memset(got, 0x55, sizeof(got));
		sparkline_levels(lc->values, lc->n, lc->width, lc->max, got);
		for (int k = 0; k < lc->width; k++)
			if (got[k] != lc->want[k])
				fail_msg("%s: cell %d is %d, want %d", lc->name, k, got[k],
					 lc->want[k]);
		assert_int_equal(got[lc->width], 0x55555555); /* nothing past width */
	}
	sparkline_levels(NULL, 0, 0, 0, NULL); /* width 0 writes nothing */
}

static void test_ring(void **state)
{
	struct sparkline s;

	(void)state;
	sparkline_init(&s, 3);
	assert_true(isnan(sparkline_last(&s)));
	sparkline_push(&s, 1);
	sparkline_push(&s, 2);
	assert_int_equal(s.len, 2);
	assert_true(sparkline_get(&s, 0) == 1);
	assert_true(sparkline_last(&s) == 2);
	sparkline_push(&s, 3);
	sparkline_push(&s, 4); /* drops 1 */
	assert_int_equal(s.len, 3);
	assert_true(sparkline_get(&s, 0) == 2);
	assert_true(sparkline_get(&s, 2) == 4);
	assert_true(isnan(sparkline_get(&s, 3)));
	for (int i = 5; i <= 100; i++)
		sparkline_push(&s, i);
	assert_true(sparkline_get(&s, 0) == 98);
	assert_true(sparkline_last(&s) == 100);
	sparkline_reset(&s);
	assert_int_equal(s.len, 0);
	sparkline_release(&s);
	sparkline_init(&s, 0); /* capacity 0 holds one */
	sparkline_push(&s, 7);
	sparkline_push(&s, 8);
	assert_true(sparkline_last(&s) == 8);
	assert_int_equal(s.len, 1);
	sparkline_release(&s);
}

static void test_draw(void **state)
{
	struct sparkline s;
	struct canvas u, a;
	char buf[128];

	(void)state;
	canvas_init(&u, 10, 1, false);
	canvas_init(&a, 10, 1, true);
	sparkline_init(&s, 32);
	for (int i = 1; i <= 8; i++)
		sparkline_push(&s, i);
	sparkline_push(&s, NAN);
	sparkline_draw(&s, &u, 0, 0, 10, 0, THEME_SPARK);
	sparkline_draw(&s, &a, 0, 0, 10, 0, THEME_SPARK);
	assert_string_equal(canvas_row_text(&u, 0, buf, sizeof(buf)),
			    " \xe2\x96\x81\xe2\x96\x82\xe2\x96\x83\xe2\x96\x84\xe2\x96\x85\xe2\x96\x86"
			    "\xe2\x96\x87\xe2\x96\x88 ");
	assert_int_equal(canvas_at(&u, 2, 0)->role, THEME_SPARK);
	assert_string_equal(canvas_row_text(&a, 0, buf, sizeof(buf)), "  .:-=+*# ");
	/* narrower than the history: the newest samples, rescaled to them */
	sparkline_push(&s, 2);
	sparkline_draw(&s, &u, 0, 0, 3, 0, THEME_SPARK);
	assert_string_equal(canvas_row_text(&u, 0, buf, sizeof(buf)),
			    "\xe2\x96\x88 \xe2\x96\x82\xe2\x96\x83\xe2\x96\x84\xe2\x96\x85\xe2\x96\x86"
			    "\xe2\x96\x87\xe2\x96\x88 ");
	sparkline_draw(&s, &u, 0, 0, 0, 0, THEME_SPARK); /* nothing */
	sparkline_release(&s);
	canvas_release(&u);
	canvas_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_draw),
	};

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		fprintf(stderr, "test_sparkline: locale C.UTF-8 is not available\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
