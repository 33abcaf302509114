/*
 * test_pgconn: pgconn_parse_double (src/perceive/pgconn.c) gives strtod's
 * double, bit for bit, for what PostgreSQL prints as float8 — epochs with
 * microseconds, sizes, ratios, negatives — and for what its fast path hands
 * to strtod (exponents, NaN, Infinity, long mantissas, junk).
 */
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perceive/pgconn.h"

static void same(const char *s)
{
	double want = strtod(s, NULL), got = pgconn_parse_double(s);

	if (memcmp(&want, &got, sizeof(want)) != 0 && !(isnan(want) && isnan(got)))
		fail_msg("'%s': got %.17g, strtod %.17g", s, got, want);
}

static void test_cases(void **state)
{
	static const char *const cases[] = {
		"0", "-0", "1", "-1", "0.5", "1796650064.292372", "1796650064.2", "1796650064",
		"1700000000.000001", "-1700000000.999999", "0.1", "0.3", "2.675", "123456789012345678",
		"9007199254740992", "9007199254740993", "9007199254740993.5", "99999999999999999999",
		"0.0000000000000000000001", "0.00000000000000000000001", "1e+20", "1.5e-07", "NaN",
		"Infinity", "-Infinity", "5.", ".5", "-", "", "12abc", "1.2.3", "00012.50",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		same(cases[i]);
}

/* Random epochs and values as PostgreSQL prints them (shortest form, %.6f
 * microseconds, %.17g): the fast path must never differ from strtod. */
static void test_random(void **state)
{
	char buf[64];
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (double)(x % 4000000000000000ull) / 1e6;
		snprintf(buf, sizeof(buf), "%.6f", v);
		same(buf);
		snprintf(buf, sizeof(buf), "%.17g", v * ((x & 1) ? -1e-3 : 1e3));
		same(buf);
		snprintf(buf, sizeof(buf), "%.3f", (double)(x % 100000) / 7.0);
		same(buf);
	}
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_random),
	};

	setlocale(LC_ALL, "C");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
