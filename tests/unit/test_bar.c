/*
 * test_bar: horizontal fill bars (src/ui/bar.c).
 *
 * A table of fractions and widths for the cell count (rounding, the
 * never-empty / never-full rule, clamping, NaN), the threshold roles, and
 * bars drawn with their label over and after the bar, read back from an
 * ASCII canvas so the expected rows stay readable.
 */
#include "ui/bar.h"

#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_cells(void **state)
{
	static const struct {
		double fraction;
		int w, want;
	} cases[] = {
		{ 0, 10, 0 },     { 0.5, 10, 5 },   { 0.86, 10, 9 },  { 0.84, 10, 8 },
		{ 0.001, 10, 1 }, /* any use shows */
		{ 0.999, 10, 9 }, /* not full until full */
		{ 1, 10, 10 },    { 1.7, 10, 10 },  { -0.5, 10, 0 },  { NAN, 10, 0 },
		{ 0.5, 0, 0 },    { 0.5, 1, 0 },    { 1, 1, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = bar_cells(cases[i].fraction, cases[i].w);

		if (got != cases[i].want)
			fail_msg("bar_cells(%g, %d) = %d, want %d", cases[i].fraction, cases[i].w,
				 got, cases[i].want);
	}
}

static void test_role(void **state)
{
	(void)state;
	assert_int_equal(bar_role(0.5, 0.85, 0.95), THEME_BAR_FILL);
	assert_int_equal(bar_role(0.85, 0.85, 0.95), THEME_WARN);
	assert_int_equal(bar_role(0.97, 0.85, 0.95), THEME_CRIT);
	assert_int_equal(bar_role(0.97, 0, 0), THEME_BAR_FILL);
	assert_int_equal(bar_role(NAN, 0.85, 0.95), THEME_BAR_FILL);
}

static const char *row(const struct canvas *c)
{
	static char buf[256];

	return canvas_row_text(c, 0, buf, sizeof(buf));
}

static void test_draw(void **state)
{
	struct canvas c;

	(void)state;
	canvas_init(&c, 14, 1, true);
	bar_draw(&c, 2, 0, 10, 0.5, THEME_WARN, NULL, BAR_LABEL_NONE);
	assert_string_equal(row(&c), "  #####.....  ");
	assert_int_equal(canvas_at(&c, 2, 0)->role, THEME_WARN);
	assert_int_equal(canvas_at(&c, 7, 0)->role, THEME_BAR_EMPTY);
	/* over: centred, each cell keeps the bar's role under it */
	bar_draw(&c, 2, 0, 10, 0.5, THEME_BAR_FILL, "50%", BAR_LABEL_OVER);
	assert_string_equal(row(&c), "  ###50%....  ");
	assert_int_equal(canvas_at(&c, 6, 0)->role, THEME_BAR_FILL);
	assert_int_equal(canvas_at(&c, 7, 0)->role, THEME_BAR_EMPTY);
	/* after: the bar shrinks to make room */
	canvas_clear(&c, THEME_NORMAL);
	bar_draw(&c, 0, 0, 14, 0.25, THEME_BAR_FILL, "25% of 8", BAR_LABEL_AFTER);
	assert_string_equal(row(&c), "#.... 25% of 8");
	/* a label longer than the bar is cut */
	bar_draw(&c, 0, 0, 6, 1, THEME_CRIT, "full disk", BAR_LABEL_OVER);
	assert_string_equal(row(&c), "full ~25% of 8");
	bar_draw(&c, 0, 0, 0, 1, THEME_CRIT, "x", BAR_LABEL_AFTER); /* nothing */
	canvas_release(&c);

	canvas_init(&c, 4, 1, false);
	bar_draw(&c, 0, 0, 4, 0.5, THEME_BAR_FILL, NULL, BAR_LABEL_OVER);
	assert_string_equal(row(&c), "\xe2\x96\x88\xe2\x96\x88\xe2\x96\x91\xe2\x96\x91");
	canvas_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_role),
		cmocka_unit_test(test_draw),
	};

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		fprintf(stderr, "test_bar: locale C.UTF-8 is not available\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
