/*
 * bench_lockgraph: how long lockgraph_build() + lockgraph_free() take on
 * wait-for graphs of 1,000, 10,000 and 50,000 waiting sessions.
 *
 * The collector rebuilds the graph on every snapshot, so the budget is
 * <= 5 ms at 10,000 waiters (-O2). The graphs imitate a bad incident rather
 * than a random one: a handful of root blockers (one a prepared transaction,
 * pid 0) each holding a deep-ish tree of waiters with some fan-out, 10% of
 * waiters queued behind a second session (soft edges), 3% of edges repeated
 * as parallel workers make pg_blocking_pids() do, and three small deadlock
 * cycles with tails of sessions stuck behind them. Pids are sparse like real
 * backend pids and the edges arrive in random order.
 *
 *   bench_lockgraph [REPS_SCALE]   (default 1; 0.1 for a quick look)
 *
 * Prints one row per size: median, p95 and best wall time per build, in ms,
 * twice. "Cold heap" is the default allocator, which (glibc) trims the freed
 * graph back to the kernel so each build page-faults its ~1.3 MB of output
 * in again: on a VM with costly faults that is most of the time. "Warm heap"
 * keeps the heap (mallopt) and measures the algorithm alone. The 5 ms budget
 * is checked against the cold median; exit status 1 if it is missed.
 */
#include "perceive/lockgraph.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "core/mem.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
	uint64_t *s = &rng_state;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static size_t rng_below(size_t n)
{
	return (size_t)(rng_next() % n);
}

struct edge_buf {
	struct lockgraph_edge *v; /* owned */
	size_t n, alloc;
};

static void edge_buf_add(struct edge_buf *buf, int waiter, int blocker, bool hard)
{
	static const char *const modes[] = { "RowExclusiveLock", "ShareLock", "AccessExclusiveLock" };
	static const char *const types[] = { "relation", "transactionid", "tuple" };
	size_t k = rng_below(3);

	XGROW(buf->v, buf->alloc, buf->n + 1);
	buf->v[buf->n++] = (struct lockgraph_edge){
		.waiter = waiter,
		.blocker = blocker,
		.hard = hard,
		.mode = modes[k],
		.locktype = types[k],
		.relation = k == 0 ? "orders" : NULL,
		.wait_start = 1.7e9 + (double)rng_below(600),
	};
}

#define NROOTS 6
#define NCYCLES 3
#define CYCLE_TAIL 20

/* nwait waiting sessions; see the file comment for the shape. */
static void incident_build(struct edge_buf *buf, size_t nwait)
{
	size_t nsess = nwait + NROOTS;
	int *pid = xmalloc(nsess * sizeof(*pid));
	size_t *tree = xmalloc(nsess * sizeof(*tree)); /* session -> its root */
	size_t cyc_first = nsess - NCYCLES * (3 + CYCLE_TAIL);

	buf->n = 0;
	/* Sparse increasing pids, shuffled; session 0 is a prepared xact. */
	for (size_t i = 0; i < nsess; i++)
		pid[i] = (int)(1000 + i * 61 + rng_below(61));
	pid[0] = 0;
	for (size_t i = nsess - 1; i > 1; i--) {
		size_t j = 1 + rng_below(i);
		int t = pid[i];
		pid[i] = pid[j];
		pid[j] = t;
	}

	/* Sessions 0 .. NROOTS-1 are roots; trees get uneven shares. */
	for (size_t i = 0; i < NROOTS; i++)
		tree[i] = i;
	for (size_t i = NROOTS; i < cyc_first; i++) {
		size_t r = rng_below(100) < 50 ? 0 : rng_below(NROOTS), parent;

		tree[i] = r;
		/* Mostly hang off a recent session of the same tree (queues grow
		 * into chains), sometimes off any earlier one (fan-out). */
		parent = r;
		for (int tries = 0; tries < 8; tries++) {
			size_t back = rng_below(100) < 70 ? 1 + rng_below(i < 64 ? i : 64)
							  : 1 + rng_below(i);
			if (tree[i - back] == r) {
				parent = i - back;
				break;
			}
		}
		edge_buf_add(buf, pid[i], pid[parent], true);
		if (rng_below(100) < 10 && parent != r)
			edge_buf_add(buf, pid[i], pid[r], false);
		if (rng_below(100) < 3)
			edge_buf_add(buf, pid[i], pid[parent], rng_below(2) != 0);
	}

	/* Deadlocks in the making: a 2-, a 3- and a 2-cycle, each with a tail. */
	for (size_t c = 0; c < NCYCLES; c++) {
		size_t base = cyc_first + c * (3 + CYCLE_TAIL), k = c == 1 ? 3 : 2;

		for (size_t i = 0; i < k; i++)
			edge_buf_add(buf, pid[base + i], pid[base + (i + 1) % k], true);
		for (size_t i = k; i < 3 + CYCLE_TAIL; i++)
			edge_buf_add(buf, pid[base + i], pid[base + rng_below(i)], true);
	}

	for (size_t i = buf->n - 1; i > 0; i--) {
		size_t j = rng_below(i + 1);
		struct lockgraph_edge t = buf->v[i];
		buf->v[i] = buf->v[j];
		buf->v[j] = t;
	}
	free(pid);
	free(tree);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int double_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

struct timing {
	double median, p95, best; /* ms */
	double faults;            /* minor page faults per build */
};

static void timing_measure(struct timing *t, const struct edge_buf *buf, size_t reps)
{
	double *ms = xmalloc(reps * sizeof(*ms));
	long faults;

	lockgraph_free(lockgraph_build(buf->v, buf->n)); /* warm-up */
	faults = minor_faults();
	for (size_t r = 0; r < reps; r++) {
		double t0 = now_ms();
		struct lockgraph *g = lockgraph_build(buf->v, buf->n);

		lockgraph_free(g);
		ms[r] = now_ms() - t0;
	}
	t->faults = (double)(minor_faults() - faults) / (double)reps;
	qsort(ms, reps, sizeof(*ms), double_cmp);
	t->median = ms[reps / 2];
	t->p95 = ms[(reps * 95) / 100];
	t->best = ms[0];
	free(ms);
}

#define NSIZES 3

int main(int argc, char **argv)
{
	static const size_t waiters[NSIZES] = { 1000, 10000, 50000 };
	static const size_t base_reps[NSIZES] = { 2000, 400, 80 };
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	struct edge_buf buf[NSIZES] = { { 0 } };
	struct timing cold[NSIZES], warm[NSIZES];
	size_t reps[NSIZES];
	int rc = 0;

	for (size_t s = 0; s < NSIZES; s++) {
		reps[s] = (size_t)((double)base_reps[s] * scale);
		if (reps[s] < 5)
			reps[s] = 5;
		incident_build(&buf[s], waiters[s]);
	}

	/* Cold: the allocator as configured by default, which (glibc) hands the
	 * freed graph back to the kernel, so every build faults its pages in. */
	for (size_t s = 0; s < NSIZES; s++)
		timing_measure(&cold[s], &buf[s], reps[s]);
	/* Warm: the heap is kept between builds; this is the algorithm alone. */
#ifdef __GLIBC__
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
	for (size_t s = 0; s < NSIZES; s++)
		timing_measure(&warm[s], &buf[s], reps[s]);

	printf("ms per lockgraph_build + lockgraph_free (CLOCK_MONOTONIC)\n");
	printf("%8s %7s %7s %5s %6s %5s %5s | %-31s | %-24s\n", "", "", "", "", "", "", "",
	       "cold heap (default malloc)", "warm heap (no trim)");
	printf("%8s %7s %7s %5s %6s %5s %5s | %7s %7s %7s %7s | %7s %7s %7s\n", "waiters",
	       "nodes", "edges", "roots", "cycles", "depth", "reps", "median", "p95", "best",
	       "faults", "median", "p95", "best");
	for (size_t s = 0; s < NSIZES; s++) {
		struct lockgraph *g = lockgraph_build(buf[s].v, buf[s].n);

		printf("%8zu %7zu %7zu %5zu %6zu %5d %5zu | %7.3f %7.3f %7.3f %7.0f | %7.3f %7.3f %7.3f\n",
		       waiters[s], g->nnodes, g->nedges, g->nroots, g->ncycles, g->max_depth, reps[s],
		       cold[s].median, cold[s].p95, cold[s].best, cold[s].faults, warm[s].median,
		       warm[s].p95, warm[s].best);
		if (waiters[s] == 10000 && cold[s].median > 5.0) {
			fprintf(stderr, "bench_lockgraph: median %.3f ms at 10,000 waiters is over the 5 ms budget\n",
				cold[s].median);
			rc = 1;
		}
		lockgraph_free(g);
		free(buf[s].v);
	}
	return rc;
}
