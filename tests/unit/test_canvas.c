/*
 * test_canvas: the cell grid every screen draws into (src/ui/canvas.c).
 *
 * One table of text cases (input bytes, width limit, the row as it must
 * read back, the cells written) covers UTF-8 decoding, wide characters,
 * control characters, invalid bytes and ellipsis cuts; the tests below it
 * cover what a single string cannot: clip rectangles, overwriting half of a
 * wide character, the ASCII glyph fallbacks and row_text's buffer limits.
 * Widths come from wcwidth(), so main() switches to C.UTF-8 first.
 */
#include "ui/canvas.h"

#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Row y with trailing blanks removed (static buffer). */
static const char *row(const struct canvas *c, int y)
{
	static char buf[4096];
	size_t n;

	canvas_row_text(c, y, buf, sizeof(buf));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

struct text_case {
	const char *name;
	const char *in;
	int max_w;        /* -1: to the clip edge */
	const char *want; /* row 0 read back, trailing blanks trimmed */
	int ret;          /* cells written */
	int width;        /* canvas_text_width(in) */
};

static const struct text_case text_cases[] = {
	{ "ascii", "hello", -1, "hello", 5, 5 },
	{ "empty", "", -1, "", 0, 0 },
	{ "two-byte", "h\xc3\xa9llo", -1, "h\xc3\xa9llo", 5, 5 },
	{ "three-byte euro", "\xe2\x82\xac" "5", -1, "\xe2\x82\xac" "5", 2, 2 },
	{ "wide cjk", "\xe6\x97\xa5\xe6\x9c\xac", -1, "\xe6\x97\xa5\xe6\x9c\xac", 4, 4 },
	{ "wide emoji", "a\xf0\x9f\x98\x80" "b", -1, "a\xf0\x9f\x98\x80" "b", 4, 4 },
	{ "tab newline del", "a\tb\nc\x7f", -1, "a?b?c?", 6, 6 },
	{ "c1 control", "x\xc2\x85y", -1, "x?y", 3, 3 },
	{ "escape sequence", "\x1b[31mred", -1, "?[31mred", 8, 8 },
	{ "lone continuation", "a\x80z", -1, "a\xef\xbf\xbdz", 3, 3 },
	{ "bad lead byte", "\xff", -1, "\xef\xbf\xbd", 1, 1 },
	{ "truncated at end", "ok\xc3", -1, "ok\xef\xbf\xbd", 3, 3 },
	{ "truncated 3-byte is one U+FFFD", "\xe2\x82x", -1, "\xef\xbf\xbdx", 2, 2 },
	{ "overlong slash", "\xc0\xaf", -1, "\xef\xbf\xbd\xef\xbf\xbd", 2, 2 },
	{ "overlong 3-byte", "\xe0\x80\xaf", -1, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3, 3 },
	{ "surrogate", "\xed\xa0\x80", -1, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3, 3 },
	{ "past U+10FFFF", "\xf4\x90\x80\x80", -1,
	  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4, 4 },
	{ "combining mark dropped", "e\xcc\x81!", -1, "e!", 2, 2 },
	{ "fits exactly", "abcd", 4, "abcd", 4, 4 },
	{ "cut with ellipsis", "abcdef", 4, "abc\xe2\x80\xa6", 4, 6 },
	{ "cut to one cell", "abc", 1, "\xe2\x80\xa6", 1, 3 },
	{ "zero width", "abc", 0, "", 0, 3 },
	{ "wide cut pads before ellipsis", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4,
	  "\xe6\x97\xa5 \xe2\x80\xa6", 4, 6 },
	{ "wide cut on a boundary", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 5,
	  "\xe6\x97\xa5\xe6\x9c\xac\xe2\x80\xa6", 5, 6 },
	{ "to the canvas edge", "0123456789abcdefghijXYZ", -1, "0123456789abcdefghi\xe2\x80\xa6",
	  20, 23 },
};

static void test_text_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct text_case *tc = &text_cases[i];
		struct canvas c;
		int ret;

		canvas_init(&c, 20, 2, false);
		ret = canvas_text(&c, 0, 0, tc->max_w, THEME_NORMAL, tc->in);
		if (ret != tc->ret || strcmp(row(&c, 0), tc->want) != 0 ||
		    canvas_text_width(tc->in) != tc->width)
			fail_msg("%s: got '%s' (%d cells, width %d), want '%s' (%d cells, width %d)",
				 tc->name, row(&c, 0), ret, canvas_text_width(tc->in), tc->want,
				 tc->ret, tc->width);
		canvas_release(&c);
	}
}

static void test_wide_cells(void **state)
{
	struct canvas c;

	(void)state;
	canvas_init(&c, 10, 1, false);
	assert_int_equal(canvas_text(&c, 1, 0, -1, THEME_WARN, "\xe6\x97\xa5x"), 3);
	assert_int_equal(canvas_at(&c, 1, 0)->ch, 0x65E5);
	assert_int_equal(canvas_at(&c, 2, 0)->ch, CANVAS_CONT);
	assert_int_equal(canvas_at(&c, 2, 0)->role, THEME_WARN);
	assert_int_equal(canvas_at(&c, 3, 0)->ch, 'x');
	assert_int_equal(canvas_at(&c, 0, 0)->ch, ' ');
	canvas_release(&c);
}

static void test_overwrite_half_of_wide(void **state)
{
	struct canvas c;

	(void)state;
	canvas_init(&c, 10, 1, false);
	canvas_text(&c, 0, 0, -1, THEME_NORMAL, "\xe6\x97\xa5\xe6\x9c\xac"); /* 日本 */
	canvas_text(&c, 1, 0, -1, THEME_NORMAL, "x");  /* right half of 日 */
	assert_string_equal(row(&c, 0), " x\xe6\x9c\xac");
	canvas_text(&c, 2, 0, -1, THEME_NORMAL, "y");  /* left half of 本 */
	assert_string_equal(row(&c, 0), " xy");
	assert_int_equal(canvas_at(&c, 3, 0)->ch, ' ');
	/* a wide character over two narrow ones, then one over its right half */
	canvas_text(&c, 5, 0, -1, THEME_NORMAL, "\xe6\x97\xa5");
	canvas_text(&c, 6, 0, -1, THEME_NORMAL, "\xe6\x9c\xac");
	assert_int_equal(canvas_at(&c, 5, 0)->ch, ' ');
	assert_int_equal(canvas_at(&c, 6, 0)->ch, 0x672C);
	assert_int_equal(canvas_at(&c, 7, 0)->ch, CANVAS_CONT);
	canvas_release(&c);
}

static void test_clip(void **state)
{
	struct canvas c;

	(void)state;
	canvas_init(&c, 12, 3, false);
	canvas_fill(&c, 0, 1, 12, THEME_NORMAL, '.');
	canvas_set_clip(&c, (struct canvas_rect){ 2, 1, 5, 1 });
	/* left of the clip and past it: both ends dropped, layout unchanged */
	assert_int_equal(canvas_text(&c, 0, 1, 10, THEME_NORMAL, "abcdefghij"), 10);
	assert_string_equal(row(&c, 1), "..cdefg.....");
	/* rows outside the clip are untouched */
	canvas_text(&c, 2, 0, -1, THEME_NORMAL, "zzz");
	assert_string_equal(row(&c, 0), "");
	/* -1 means up to the clip's right edge, with the cut shown */
	canvas_text(&c, 3, 1, -1, THEME_NORMAL, "123456");
	assert_string_equal(row(&c, 1), "..c123\xe2\x80\xa6.....");
	/* a clip larger than the canvas is cut down to it */
	canvas_set_clip(&c, (struct canvas_rect){ -5, -5, 100, 100 });
	assert_int_equal(c.clip.x, 0);
	assert_int_equal(c.clip.w, 12);
	assert_int_equal(c.clip.h, 3);
	canvas_reset_clip(&c);
	assert_int_equal(c.clip.w, 12);
	/* writes off the canvas are dropped */
	canvas_text(&c, -3, 2, 6, THEME_NORMAL, "abcdef");
	canvas_text(&c, 10, 2, 6, THEME_NORMAL, "XYZ");
	assert_string_equal(row(&c, 2), "def       XY");
	canvas_text(&c, 0, 7, -1, THEME_NORMAL, "nowhere");
	assert_null(canvas_at(&c, 0, 7));
	assert_null(canvas_at(&c, -1, 0));
	assert_null(canvas_at(&c, 12, 0));
	canvas_release(&c);
}

static void test_wide_at_clip_edges(void **state)
{
	struct canvas c;

	(void)state;
	canvas_init(&c, 8, 1, false);
	canvas_fill(&c, 0, 0, 8, THEME_NORMAL, '.');
	canvas_set_clip(&c, (struct canvas_rect){ 2, 0, 4, 1 });
	/* 日 straddles the left edge, 本 the right edge: both become spaces */
	canvas_text(&c, 1, 0, 6, THEME_NORMAL, "\xe6\x97\xa5" "ab" "\xe6\x9c\xac");
	assert_string_equal(row(&c, 0), ".. ab ..");
	for (int x = 0; x < 8; x++)
		assert_true(canvas_at(&c, x, 0)->ch != CANVAS_CONT);
	/* at the right edge of the canvas itself */
	canvas_reset_clip(&c);
	canvas_text(&c, 7, 0, -1, THEME_NORMAL, "\xe6\x97\xa5");
	assert_int_equal(canvas_at(&c, 7, 0)->ch, 0x2026); /* does not fit: cut */
	/* room in max_w but not on the canvas: the half that fits is a space */
	assert_int_equal(canvas_text(&c, 7, 0, 5, THEME_NORMAL, "\xe6\x97\xa5"), 2);
	assert_int_equal(canvas_at(&c, 7, 0)->ch, ' ');
	canvas_release(&c);
}

static void test_glyphs(void **state)
{
	static const struct {
		enum canvas_glyph g;
		uint32_t utf8, ascii;
	} glyphs[] = {
		{ GLYPH_HLINE, 0x2500, '-' },      { GLYPH_VLINE, 0x2502, '|' },
		{ GLYPH_TEE, 0x251C, '+' },        { GLYPH_CORNER, 0x2514, '`' },
		{ GLYPH_ELLIPSIS, 0x2026, '~' },   { GLYPH_ARROW_UP, 0x25B2, '^' },
		{ GLYPH_ARROW_DOWN, 0x25BC, 'v' }, { GLYPH_BLOCK_FULL, 0x2588, '#' },
		{ GLYPH_BLOCK_LIGHT, 0x2591, '.' }, { GLYPH_CYCLE, 0x21BB, '@' },
	};
	struct canvas u, a;

	(void)state;
	canvas_init(&u, 10, 1, false);
	canvas_init(&a, 10, 1, true);
	assert_int_equal(sizeof(glyphs) / sizeof(glyphs[0]), GLYPH_COUNT);
	for (size_t i = 0; i < GLYPH_COUNT; i++) {
		assert_int_equal(canvas_glyph(&u, glyphs[i].g), glyphs[i].utf8);
		assert_int_equal(canvas_glyph(&a, glyphs[i].g), glyphs[i].ascii);
	}
	/* the ellipsis of a cut follows the mode */
	canvas_text(&a, 0, 0, 4, THEME_NORMAL, "abcdef");
	assert_string_equal(row(&a, 0), "abc~");
	canvas_release(&u);
	canvas_release(&a);
}

static void test_fill_attr_role(void **state)
{
	struct canvas c;

	(void)state;
	canvas_init(&c, 6, 2, false);
	canvas_fill(&c, 1, 0, 3, THEME_BAR_FILL, 0x2588);
	assert_string_equal(row(&c, 0), " \xe2\x96\x88\xe2\x96\x88\xe2\x96\x88");
	assert_int_equal(canvas_at(&c, 2, 0)->role, THEME_BAR_FILL);
	/* a wide fill character in an odd count leaves a blank cell */
	canvas_fill(&c, 0, 1, 5, THEME_NORMAL, 0x65E5);
	assert_string_equal(row(&c, 1), "\xe6\x97\xa5\xe6\x97\xa5");
	/* a control character fills as '?' */
	canvas_fill(&c, 0, 1, 2, THEME_NORMAL, '\n');
	assert_string_equal(row(&c, 1), "??\xe6\x97\xa5");
	canvas_attr(&c, 0, 0, 2, THEME_ATTR_REVERSE);
	canvas_attr(&c, 1, 0, 1, THEME_ATTR_BOLD);
	assert_int_equal(canvas_at(&c, 0, 0)->attr, THEME_ATTR_REVERSE);
	assert_int_equal(canvas_at(&c, 1, 0)->attr, THEME_ATTR_REVERSE | THEME_ATTR_BOLD);
	assert_int_equal(canvas_at(&c, 2, 0)->attr, 0);
	canvas_role(&c, 0, 0, 6, THEME_CRIT);
	assert_int_equal(canvas_at(&c, 5, 0)->role, THEME_CRIT);
	assert_int_equal(canvas_at(&c, 2, 0)->ch, 0x2588); /* text kept */
	/* writing text resets the attributes of the cells it writes */
	canvas_text(&c, 0, 0, 1, THEME_NORMAL, "x");
	assert_int_equal(canvas_at(&c, 0, 0)->attr, 0);
	canvas_clear(&c, THEME_STATUS);
	assert_string_equal(row(&c, 0), "");
	assert_int_equal(canvas_at(&c, 3, 1)->role, THEME_STATUS);
	canvas_release(&c);
}

static void test_printf(void **state)
{
	struct canvas c;
	char big[700];

	(void)state;
	canvas_init(&c, 30, 2, false);
	assert_int_equal(canvas_printf(&c, 0, 0, -1, THEME_NORMAL, "%d sessions, %s", 42, "ok"),
			 15);
	assert_string_equal(row(&c, 0), "42 sessions, ok");
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(canvas_printf(&c, 0, 1, 10, THEME_NORMAL, "%s!", big), 10);
	assert_string_equal(row(&c, 1), "qqqqqqqqq\xe2\x80\xa6");
	canvas_release(&c);
}

static void test_row_text_limits(void **state)
{
	struct canvas c;
	char buf[8];

	(void)state;
	canvas_init(&c, 4, 1, false);
	/* €€€ */
	canvas_text(&c, 0, 0, -1, THEME_NORMAL, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
	/* 3 bytes each: two fit in 8 with the NUL, the third is not split */
	assert_string_equal(canvas_row_text(&c, 0, buf, sizeof(buf)), "\xe2\x82\xac\xe2\x82\xac");
	assert_string_equal(canvas_row_text(&c, 5, buf, sizeof(buf)), "");
	assert_string_equal(canvas_row_text(&c, 0, buf, 1), "");
	canvas_release(&c);
}

static void test_resize(void **state)
{
	struct canvas c;
	char buf[64];

	(void)state;
	canvas_init(&c, 3, 1, false);
	canvas_text(&c, 0, 0, -1, THEME_NORMAL, "abc");
	canvas_set_clip(&c, (struct canvas_rect){ 1, 0, 1, 1 });
	canvas_resize(&c, 5, 2);
	assert_int_equal(c.w, 5);
	assert_int_equal(c.h, 2);
	assert_int_equal(c.clip.w, 5);
	assert_string_equal(canvas_row_text(&c, 0, buf, sizeof(buf)), "     ");
	canvas_resize(&c, 0, 0);
	assert_int_equal(canvas_text(&c, 0, 0, -1, THEME_NORMAL, "x"), 0);
	canvas_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_cases),
		cmocka_unit_test(test_wide_cells),
		cmocka_unit_test(test_overwrite_half_of_wide),
		cmocka_unit_test(test_clip),
		cmocka_unit_test(test_wide_at_clip_edges),
		cmocka_unit_test(test_glyphs),
		cmocka_unit_test(test_fill_attr_role),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_row_text_limits),
		cmocka_unit_test(test_resize),
	};

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		fprintf(stderr, "test_canvas: locale C.UTF-8 is not available\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
