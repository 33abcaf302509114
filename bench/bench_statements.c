/*
 * bench_statements: pg_stat_statements delta computation at 1k/10k/50k rows.
 *
 * Two samples of N statements where every statement advanced; measures
 * statements_update() (hashing, deltas, ranking the top 50) on the second.
 * Target: <= 5 ms at 10,000 rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "perceive/agents.h"
#include "perceive/snapshot.h"
#include "perceive/statements.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	static const size_t sizes[] = { 1000, 10000, 50000 };

	printf("%-8s %10s %10s\n", "rows", "median_ms", "p95_ms");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
		size_t n = sizes[k], reps = n >= 50000 ? 20 : 100;
		struct stmt_row *rows = calloc(n, sizeof(*rows));
		double *ms = calloc(reps, sizeof(*ms));

		for (size_t i = 0; i < n; i++) {
			rows[i].queryid = (int64_t)(i * 2654435761u) ^ 0x5bd1e995;
			rows[i].userid = 10 + (unsigned)(i % 3);
			rows[i].dbid = 5;
			rows[i].toplevel = true;
			rows[i].user = "app";
			rows[i].database = "db";
		}
		/* Steady state: one collector's state sampled again and again. */
		struct statements_state *st = statements_state_new();

		for (size_t i = 0; i < n; i++) {
			rows[i].calls = (double)(i % 100 + 1);
			rows[i].total_ms = (double)(i % 977) * 1.5;
		}
		for (size_t r = 0; r <= reps; r++) {
			struct snapshot *s = snapshot_new();
			int64_t t0;

			for (size_t i = 0; i < n; i++) {
				rows[i].calls += (double)((i + r) % 7 + 1);
				rows[i].total_ms += (double)((i * 31 + r) % 13) * 0.7;
			}
			t0 = clock_mono_us();
			statements_update(st, rows, n, 1000.0 + 10.0 * (double)r, 50, s);
			if (r > 0)
				ms[r - 1] = (double)(clock_mono_us() - t0) / 1000.0;
			snapshot_unref(s);
		}
		statements_state_free(st);
		qsort(ms, reps, sizeof(*ms), cmp_double);
		printf("%-8zu %10.3f %10.3f\n", n, ms[reps / 2], ms[reps * 95 / 100]);
		free(rows);
		free(ms);
	}
	return 0;
}
