/*
 * test_format: compact human numbers (src/ui/format.c).
 *
 * One table per function: input, expected text. The boundaries are the
 * point: the last value before a unit change, values that round up into the
 * next unit, binary noise (4.2 is 4.19999...), unknown markers (-1, NaN),
 * and truncation into a small buffer. A final case checks the output does
 * not follow LC_NUMERIC.
 */
#include "ui/format.h"

#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

struct dcase {
	double in;
	const char *want;
};

static void test_duration(void **state)
{
	static const struct dcase cases[] = {
		{ 0, "0ms" },          { 0.0004, "0ms" },       { 0.85, "850ms" },
		{ 0.57, "570ms" },
		{ 0.999, "999ms" },    { 0.9999999, "999ms" },   { 1, "1.0s" },
		{ 4.2, "4.2s" },       { 4.29, "4.2s" },        { 9.99, "9.9s" },
		{ 10, "10s" },         { 42.7, "42s" },         { 59.999, "59s" },
		{ 60, "1m00s" },       { 187, "3m07s" },        { 3599, "59m59s" },
		{ 3600, "1h00m" },     { 7500, "2h05m" },       { 86399, "23h59m" },
		{ 86400, "1d00h" },    { 3 * 86400 + 4 * 3600 + 59, "3d04h" },
		{ 400 * 86400.0, "400d00h" },
		{ -0.001, "-" },       { -5, "-" },             { NAN, "-" },
		{ INFINITY, "-" },
	};
	char buf[FMT_SHORT];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt_duration(cases[i].in, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("fmt_duration(%g) = '%s', want '%s'", cases[i].in, buf,
				 cases[i].want);
	}
	assert_string_equal(fmt_duration(1e300, buf, sizeof(buf)), "11574074d01h");
}

/* fmt_age prints "<1s" under a second and fmt_duration above; its key is
 * equal exactly when the printed text is, and ordered as the text reads. */
static void test_age(void **state)
{
	static const double ages[] = {
		-5, 0, 0.0004, 0.011, 0.5, 0.999, 1, 1.04, 1.09, 1.1, 4.2, 4.29, 9.99, 10,
		10.5, 42.7, 59.999, 60, 61.9, 187, 3599, 3600, 3659, 3660, 7500, 86399,
		86400, 89999, 90000, 400 * 86400.0,
	};
	const size_t n = sizeof(ages) / sizeof(ages[0]);
	char a[FMT_SHORT], b[FMT_SHORT];

	(void)state;
	assert_string_equal(fmt_age(0, a, sizeof(a)), "<1s");
	assert_string_equal(fmt_age(0.011, a, sizeof(a)), "<1s");
	assert_string_equal(fmt_age(0.999, a, sizeof(a)), "<1s");
	assert_string_equal(fmt_age(1, a, sizeof(a)), "1.0s");
	assert_string_equal(fmt_age(187, a, sizeof(a)), "3m07s");
	assert_string_equal(fmt_age(-1, a, sizeof(a)), "-");
	assert_string_equal(fmt_age(NAN, a, sizeof(a)), "-");
	assert_true(fmt_age_key(NAN) < 0);
	assert_true(fmt_age_key(-0.5) < 0);
	assert_true(fmt_age_key(0.7) == 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			double ki = fmt_age_key(ages[i]), kj = fmt_age_key(ages[j]);
			bool same = strcmp(fmt_age(ages[i], a, sizeof(a)),
					   fmt_age(ages[j], b, sizeof(b))) == 0;

			if (same != (ki == kj))
				fail_msg("ages %g '%s' and %g '%s': keys %.17g %.17g", ages[i], a,
					 ages[j], b, ki, kj);
			if (ages[i] < ages[j] && ki > kj)
				fail_msg("age %g sorts after %g (keys %.17g %.17g)", ages[i],
					 ages[j], ki, kj);
		}
	}
}

static void test_bytes(void **state)
{
	static const struct {
		int64_t in;
		const char *want;
	} cases[] = {
		{ 0, "0 B" },
		{ 812, "812 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.0 KiB" },
		{ 1229, "1.2 KiB" },
		{ 10 * 1024 - 52, "9.9 KiB" },
		{ 10 * 1024 - 51, "10 KiB" }, /* 9.95 rounds into integers */
		{ 812 * 1024, "812 KiB" },
		{ 1024 * 1024 - 1, "1.0 MiB" }, /* 1023.999 KiB rounds up a unit */
		{ 1288490189, "1.2 GiB" },
		{ INT64_C(5) << 40, "5.0 TiB" },
		{ INT64_MAX, "8.0 EiB" },
		{ -1, "?" },
		{ -12345, "?" },
	};
	char buf[FMT_SHORT];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt_bytes(cases[i].in, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("fmt_bytes(%lld) = '%s', want '%s'", (long long)cases[i].in, buf,
				 cases[i].want);
	}
}

static void test_count(void **state)
{
	static const struct dcase cases[] = {
		{ 0, "0" },           { 7, "7" },           { 2.5, "2.5" },
		{ 0.04, "0" },        { 9.97, "10" },       { 999, "999" },
		{ 999.4, "999" },     { 999.6, "1.0k" },    { 1000, "1.0k" },
		{ 1234, "1.2k" },     { 12345, "12k" },     { 999499, "999k" },
		{ 999600, "1.0M" },   { 1234567, "1.2M" },  { 3.4e9, "3.4G" },
		{ -1234, "-1.2k" },   { -3, "-3" },         { NAN, "-" },
	};
	char buf[FMT_SHORT];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt_count(cases[i].in, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("fmt_count(%g) = '%s', want '%s'", cases[i].in, buf, cases[i].want);
	}
}

static void test_percent(void **state)
{
	static const struct dcase cases[] = {
		{ 0, "0%" },      { 0.853, "85%" }, { 0.856, "86%" }, { 0.004, "<1%" },
		{ 0.005, "1%" },  { 0.994, "99%" }, { 0.996, "99%" }, { 0.99999, "99%" },
		{ 1, "100%" },    { 1.5, "150%" },  { -1, "-" },      { NAN, "-" },
	};
	char buf[FMT_SHORT];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt_percent(cases[i].in, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("fmt_percent(%g) = '%s', want '%s'", cases[i].in, buf,
				 cases[i].want);
	}
}

static void test_age_since(void **state)
{
	char buf[FMT_SHORT];

	(void)state;
	assert_string_equal(fmt_age_since(1000, 1187, buf, sizeof(buf)), "3m07s");
	assert_string_equal(fmt_age_since(0, 1187, buf, sizeof(buf)), "-");
	assert_string_equal(fmt_age_since(-1, 1187, buf, sizeof(buf)), "-");
	assert_string_equal(fmt_age_since(NAN, 1187, buf, sizeof(buf)), "-");
	assert_string_equal(fmt_age_since(1200, 1187, buf, sizeof(buf)), "0ms"); /* skew */
	assert_string_equal(fmt_age_since(1700000000.25, 1700000000.5, buf, sizeof(buf)),
			    "250ms");
}

static void test_oneline(void **state)
{
	static const struct {
		const char *in;
		size_t size;
		const char *want;
	} cases[] = {
		{ "select 1", 64, "select 1" },
		{ "  select *\n  from t\r\n\twhere x = 1\n", 64, "select * from t where x = 1" },
		{ "", 64, "" },
		{ NULL, 64, "" },
		{ "abcdef", 4, "abc" },
		{ "a  b", 3, "a" },
		/* "é" is two bytes: it does not fit in 3 bytes after 'a' plus NUL */
		{ "a\xc3\xa9", 3, "a" },
		{ "a\xc3\xa9", 4, "a\xc3\xa9" },
		{ "ab\xe2\x82\xac", 5, "ab" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt_oneline(cases[i].in, buf, cases[i].size);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("fmt_oneline case %zu = '%s', want '%s'", i, buf, cases[i].want);
	}
}

static void test_small_buffers(void **state)
{
	char buf[4];

	(void)state;
	assert_string_equal(fmt_duration(187, buf, sizeof(buf)), "3m0");
	assert_string_equal(fmt_bytes(812 * 1024, buf, sizeof(buf)), "812");
	assert_string_equal(fmt_count(-1234, buf, 1), "");
	assert_string_equal(fmt_count(-1234, buf, 2), "-");
	fmt_percent(0.5, buf, 0); /* size 0: nothing written, no crash */
}

static void test_numeric_locale(void **state)
{
	char buf[FMT_SHORT];

	(void)state;
	/* a locale with a decimal comma, when the system has one */
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
		assert_string_equal(fmt_duration(4.2, buf, sizeof(buf)), "4.2s");
		assert_string_equal(fmt_bytes(1288490189, buf, sizeof(buf)), "1.2 GiB");
		setlocale(LC_NUMERIC, "C");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),    cmocka_unit_test(test_age),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_count),       cmocka_unit_test(test_percent),
		cmocka_unit_test(test_age_since),   cmocka_unit_test(test_oneline),
		cmocka_unit_test(test_small_buffers), cmocka_unit_test(test_numeric_locale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
