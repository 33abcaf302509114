/*
 * test_lockgraph: the wait-for graph (src/perceive/lockgraph.c).
 *
 * Small hand-drawn graphs live in one table: the edges as the collector
 * would report them, then what every node must look like (root, depth, cycle,
 * sessions blocked). Each row runs as its own cmocka test and also goes
 * through the generic invariant checker in tests/lib/lockgraph_check.h.
 * Below the table: metadata merging, lookups, seeded random graphs (10,000
 * nodes against the invariants, 500 nodes against brute-force reachability)
 * and 50,000-node chains and rings that would overflow a recursive pass.
 */
#include "perceive/lockgraph.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "lib/lockgraph_check.h"

struct edge_spec {
	int waiter, blocker;
	bool hard;
};

struct node_spec {
	int pid;
	int depth;
	bool root;
	int cycle; /* expected cycle index (cycles are numbered by lowest pid) */
	size_t blocked_total;
};

struct graph_case {
	const char *name;
	const struct edge_spec *edges; /* as reported, duplicates and all */
	size_t nedges_in;
	const struct node_spec *nodes; /* every node, in pid order */
	size_t nnodes;
	const struct edge_spec *merged; /* if set: the exact edge list after build */
	size_t nmerged;
	const int *roots; /* pids, in the expected order */
	size_t nroots;
	size_t ncycles;
	int max_depth;
};

#define ARRAY(type, ...) (const type[]){ __VA_ARGS__ }, \
	sizeof((const type[]){ __VA_ARGS__ }) / sizeof(type)
#define EDGES(...) .edges = ARRAY(struct edge_spec, __VA_ARGS__)
#define NODES(...) .nodes = ARRAY(struct node_spec, __VA_ARGS__)
#define MERGED(...) .merged = ARRAY(struct edge_spec, __VA_ARGS__)
#define ROOTS(...) .roots = ARRAY(int, __VA_ARGS__)

#define ROOT(pid, blocked) { (pid), 0, true, -1, (blocked) }
#define WAITER(pid, depth) { (pid), (depth), false, -1, 0 }
#define MEMBER(pid, cycle, blocked) { (pid), 0, false, (cycle), (blocked) }

#define H true  /* hard edge */
#define S false /* soft edge */

static const struct graph_case cases[] = {
	{
		.name = "empty graph",
	},
	{
		.name = "single edge",
		EDGES({ 10, 20, H }),
		NODES(WAITER(10, 1), ROOT(20, 1)),
		ROOTS(20),
		.max_depth = 1,
	},
	{
		.name = "chain of three sessions",
		EDGES({ 30, 20, H }, { 20, 10, H }),
		NODES(ROOT(10, 2), WAITER(20, 1), WAITER(30, 2)),
		ROOTS(10),
		.max_depth = 2,
	},
	{
		/* 8 waits on both 3 (depth 1) and 7 (depth 3): longest chain wins,
		 * and 8 is counted once behind root 1. */
		.name = "fan-out tree with a two-blocker waiter",
		EDGES({ 2, 1, H }, { 3, 1, H }, { 4, 1, H }, { 5, 2, H }, { 6, 2, H },
		      { 7, 5, H }, { 8, 3, S }, { 8, 7, H }),
		NODES(ROOT(1, 7), WAITER(2, 1), WAITER(3, 1), WAITER(4, 1), WAITER(5, 2),
		      WAITER(6, 2), WAITER(7, 3), WAITER(8, 4)),
		ROOTS(1),
		.max_depth = 4,
	},
	{
		/* 53 waits on both 50 and 70 and counts for each. */
		.name = "independent roots ordered by sessions blocked then pid",
		EDGES({ 201, 200, H }, { 101, 100, H }, { 72, 70, H }, { 71, 70, H },
		      { 53, 70, S }, { 53, 50, H }, { 52, 50, H }, { 51, 50, H },
		      { 301, 300, H }, { 302, 300, H }, { 303, 300, H }, { 304, 300, H }),
		NODES(ROOT(50, 3), WAITER(51, 1), WAITER(52, 1), WAITER(53, 1),
		      ROOT(70, 3), WAITER(71, 1), WAITER(72, 1), ROOT(100, 1), WAITER(101, 1),
		      ROOT(200, 1), WAITER(201, 1), ROOT(300, 4), WAITER(301, 1),
		      WAITER(302, 1), WAITER(303, 1), WAITER(304, 1)),
		ROOTS(300, 50, 70, 100, 200),
		.max_depth = 1,
	},
	{
		/* Parallel workers make pg_blocking_pids() repeat a pid. */
		.name = "duplicate edges merge, hard if any is hard",
		EDGES({ 10, 20, S }, { 11, 20, S }, { 10, 20, H }, { 11, 20, S },
		      { 10, 20, S }),
		NODES(WAITER(10, 1), WAITER(11, 1), ROOT(20, 2)),
		MERGED({ 10, 20, H }, { 11, 20, S }),
		ROOTS(20),
		.max_depth = 1,
	},
	{
		.name = "soft and hard edges keep their kind",
		EDGES({ 12, 10, S }, { 10, 20, H }, { 11, 20, S }, { 12, 11, H }),
		NODES(WAITER(10, 1), WAITER(11, 1), WAITER(12, 2), ROOT(20, 3)),
		MERGED({ 10, 20, H }, { 11, 20, S }, { 12, 10, S }, { 12, 11, H }),
		ROOTS(20),
		.max_depth = 2,
	},
	{
		.name = "prepared transaction (pid 0) as root",
		EDGES({ 10, 0, H }, { 11, 0, H }, { 12, 10, S }),
		NODES(ROOT(0, 3), WAITER(10, 1), WAITER(11, 1), WAITER(12, 2)),
		ROOTS(0),
		.max_depth = 2,
	},
	{
		.name = "two-cycle with a tail",
		EDGES({ 1, 2, H }, { 2, 1, H }, { 3, 1, H }, { 4, 3, H }),
		NODES(MEMBER(1, 0, 2), MEMBER(2, 0, 2), WAITER(3, 1), WAITER(4, 2)),
		.ncycles = 1,
		.max_depth = 2,
	},
	{
		.name = "three-cycle with a tail",
		EDGES({ 1, 2, H }, { 2, 3, H }, { 3, 1, H }, { 5, 2, H }, { 6, 5, H },
		      { 7, 6, H }),
		NODES(MEMBER(1, 0, 3), MEMBER(2, 0, 3), MEMBER(3, 0, 3), WAITER(5, 1),
		      WAITER(6, 2), WAITER(7, 3)),
		.ncycles = 1,
		.max_depth = 3,
	},
	{
		.name = "self-loop",
		EDGES({ 5, 5, H }, { 6, 5, H }),
		NODES(MEMBER(5, 0, 1), WAITER(6, 1)),
		.ncycles = 1,
		.max_depth = 1,
	},
	{
		.name = "cycle plus a separate chain",
		EDGES({ 10, 20, H }, { 1, 2, H }, { 20, 30, H }, { 2, 1, H }),
		NODES(MEMBER(1, 0, 0), MEMBER(2, 0, 0), WAITER(10, 2), WAITER(20, 1),
		      ROOT(30, 2)),
		ROOTS(30),
		.ncycles = 1,
		.max_depth = 2,
	},
	{
		/* A cycle member can also wait on a root: the cycle still counts as
		 * depth 0, and the root counts the whole cycle behind it. */
		.name = "cycle that also waits on a root",
		EDGES({ 1, 2, H }, { 2, 1, H }, { 2, 9, S }, { 3, 1, H }),
		NODES(MEMBER(1, 0, 1), MEMBER(2, 0, 1), WAITER(3, 1), ROOT(9, 3)),
		ROOTS(9),
		.ncycles = 1,
		.max_depth = 1,
	},
	{
		.name = "cycle waiting on another cycle",
		EDGES({ 3, 4, H }, { 4, 3, H }, { 3, 1, H }, { 1, 2, H }, { 2, 1, H },
		      { 5, 4, H }),
		NODES(MEMBER(1, 0, 3), MEMBER(2, 0, 3), MEMBER(3, 1, 1), MEMBER(4, 1, 1),
		      WAITER(5, 1)),
		.ncycles = 2,
		.max_depth = 1,
	},
	{
		/* The search meets {5, 6} first (from 1); numbering is by pid anyway. */
		.name = "cycles numbered by lowest pid",
		EDGES({ 1, 5, H }, { 5, 6, H }, { 6, 5, H }, { 2, 3, H }, { 3, 2, H }),
		NODES(WAITER(1, 1), MEMBER(2, 0, 0), MEMBER(3, 0, 0), MEMBER(5, 1, 1),
		      MEMBER(6, 1, 1)),
		.ncycles = 2,
		.max_depth = 1,
	},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static struct lockgraph *build_specs(const struct edge_spec *specs, size_t n)
{
	struct lockgraph_edge *edges = xcalloc(n, sizeof(*edges));
	struct lockgraph *g;

	for (size_t i = 0; i < n; i++) {
		edges[i].waiter = specs[i].waiter;
		edges[i].blocker = specs[i].blocker;
		edges[i].hard = specs[i].hard;
	}
	g = lockgraph_build(edges, n);
	free(edges);
	return g;
}

static void assert_invariants(const struct lockgraph *g, bool brute)
{
	const char *why = lockgraph_check(g, brute);

	if (why)
		fail_msg("%s", why);
}

static void test_graph_case(void **state)
{
	const struct graph_case *c = *state;
	struct lockgraph *g = build_specs(c->edges, c->nedges_in);

	assert_invariants(g, true);
	assert_int_equal(g->nnodes, c->nnodes);
	for (size_t i = 0; i < c->nnodes; i++) {
		const struct node_spec *want = &c->nodes[i];
		const struct lockgraph_node *got = &g->nodes[i];

		if (got->pid != want->pid || got->root != want->root ||
		    got->depth != want->depth || got->cycle != want->cycle ||
		    got->blocked_total != want->blocked_total)
			fail_msg("node %zu: pid %d root %d depth %d cycle %d blocked %zu; "
				 "expected pid %d root %d depth %d cycle %d blocked %zu",
				 i, got->pid, got->root, got->depth, got->cycle,
				 got->blocked_total, want->pid, want->root, want->depth,
				 want->cycle, want->blocked_total);
	}
	if (c->merged) {
		assert_int_equal(g->nedges, c->nmerged);
		for (size_t i = 0; i < c->nmerged; i++) {
			assert_int_equal(g->edges[i].waiter, c->merged[i].waiter);
			assert_int_equal(g->edges[i].blocker, c->merged[i].blocker);
			assert_int_equal(g->edges[i].hard, c->merged[i].hard);
		}
	}
	assert_int_equal(g->nroots, c->nroots);
	for (size_t i = 0; i < c->nroots; i++)
		assert_int_equal(g->nodes[g->roots[i]].pid, c->roots[i]);
	assert_int_equal(g->ncycles, c->ncycles);
	assert_int_equal(g->max_depth, c->max_depth);
	lockgraph_free(g);
}

static void test_merge_metadata(void **state)
{
	static const char relation[] = "relation", tuple[] = "tuple";
	static const char share[] = "ShareLock", excl[] = "AccessExclusiveLock";
	static const char orders[] = "orders", items[] = "items";
	const struct lockgraph_edge in[] = {
		{ 10, 20, false, NULL, relation, NULL, 0 },
		{ 11, 20, false, share, tuple, items, 3.0 },
		{ 10, 20, true, excl, tuple, orders, 5.0 },
		{ 10, 20, false, share, NULL, items, 7.0 },
	};
	struct lockgraph *g = lockgraph_build(in, sizeof(in) / sizeof(in[0]));
	const struct lockgraph_edge *e;

	(void)state;
	assert_invariants(g, true);
	assert_int_equal(g->nedges, 2);
	e = &g->edges[0];
	assert_int_equal(e->waiter, 10);
	assert_true(e->hard);
	assert_ptr_equal(e->mode, excl);         /* first non-NULL, in input order */
	assert_ptr_equal(e->locktype, relation); /* first edge had one */
	assert_ptr_equal(e->relation, orders);
	assert_true(e->wait_start == 5.0);       /* first known (non-zero) */
	e = &g->edges[1];
	assert_int_equal(e->waiter, 11);
	assert_false(e->hard);
	assert_ptr_equal(e->relation, items);
	lockgraph_free(g);
}

static void test_find(void **state)
{
	static const struct edge_spec specs[] = {
		{ 10, 0, H }, { 30, 20, H }, { -5, 30, S }, { 2147483647, 10, H },
	};
	static const int present[] = { -5, 0, 10, 20, 30, 2147483647 };
	static const int absent[] = { -2147483647 - 1, -6, -4, 1, 15, 31, 2147483646 };
	struct lockgraph *g = build_specs(specs, sizeof(specs) / sizeof(specs[0]));
	struct lockgraph *empty = lockgraph_build(NULL, 0);

	(void)state;
	assert_invariants(g, true);
	for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
		assert_int_equal(lockgraph_find(g, present[i]), i);
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		assert_true(lockgraph_find(g, absent[i]) == SIZE_MAX);
	assert_true(lockgraph_find(empty, 0) == SIZE_MAX);
	lockgraph_free(g);
	lockgraph_free(empty);
	lockgraph_free(NULL);
}

/* xorshift64*: a fixed seed gives the same graphs on every machine. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static size_t rng_below(uint64_t *s, size_t n)
{
	return (size_t)(rng_next(s) % n);
}

static void edge_add(struct lockgraph_edge *edges, size_t *n, int waiter, int blocker,
		     bool hard)
{
	edges[*n] = (struct lockgraph_edge){ .waiter = waiter, .blocker = blocker, .hard = hard };
	(*n)++;
}

/*
 * A random forest over nnodes sessions (about 3% roots; waiters hang off
 * either a recent session, for deep chains, or any earlier one, for fan-out),
 * 10% second blockers, 5% duplicated edges, plus ncycles injected rings of
 * one to four sessions that may glue parts of the forest together. Pids are
 * distinct, include 0, and are shuffled so pid order says nothing about
 * shape; edges are shuffled too. Returns the edge count; *out is owned.
 */
static size_t random_graph(uint64_t seed, size_t nnodes, size_t ncycles,
			   struct lockgraph_edge **out)
{
	uint64_t s = seed;
	int *pid = xmalloc(nnodes * sizeof(*pid));
	struct lockgraph_edge *edges = xmalloc((3 * nnodes + 4 * ncycles) * sizeof(*edges));
	size_t n = 0;

	for (size_t i = 0; i < nnodes; i++)
		pid[i] = (int)(i * 4 + 1 + rng_below(&s, 4));
	pid[0] = 0;
	for (size_t i = nnodes - 1; i > 0; i--) {
		size_t j = rng_below(&s, i + 1);
		int t = pid[i];
		pid[i] = pid[j];
		pid[j] = t;
	}
	for (size_t i = 1; i < nnodes; i++) {
		size_t near = i < 20 ? i : 20, j;

		if (rng_below(&s, 100) < 3)
			continue; /* a root, if anyone waits on it */
		j = rng_below(&s, 2) ? i - 1 - rng_below(&s, near) : rng_below(&s, i);
		edge_add(edges, &n, pid[i], pid[j], rng_below(&s, 4) != 0);
		if (rng_below(&s, 100) < 10)
			edge_add(edges, &n, pid[i], pid[rng_below(&s, i)], false);
		if (rng_below(&s, 100) < 5)
			edge_add(edges, &n, pid[i], pid[j], rng_below(&s, 2) != 0);
	}
	for (size_t c = 0; c < ncycles; c++) {
		size_t k = 1 + rng_below(&s, 4), first = rng_below(&s, nnodes), prev = first;

		for (size_t i = 1; i < k; i++) {
			size_t next = rng_below(&s, nnodes);
			edge_add(edges, &n, pid[prev], pid[next], true);
			prev = next;
		}
		edge_add(edges, &n, pid[prev], pid[first], true);
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_below(&s, i + 1);
		struct lockgraph_edge t = edges[i];
		edges[i] = edges[j];
		edges[j] = t;
	}
	free(pid);
	*out = edges;
	return n;
}

static void test_random_10k(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct lockgraph_edge *edges;
		size_t n = random_graph(seed * 7919, 10000, seed == 1 ? 0 : 30, &edges);
		struct lockgraph *g = lockgraph_build(edges, n);
		size_t sum_out = 0, sum_in = 0, roots = 0, members = 0, behind = 0;

		assert_invariants(g, false);
		assert_true(g->nnodes > 9000);
		assert_true(g->nedges < n); /* duplicates were merged */
		if (seed == 1)
			assert_int_equal(g->ncycles, 0);
		else
			assert_true(g->ncycles > 0);
		for (size_t v = 0; v < g->nnodes; v++) {
			const struct lockgraph_node *node = &g->nodes[v];

			sum_out += node->out_count;
			sum_in += node->in_count;
			roots += node->root;
			members += node->cycle >= 0;
			if (node->root)
				behind += node->blocked_total;
		}
		for (size_t c = 0; c < g->ncycles; c++)
			behind += g->nodes[g->cycle_nodes[g->cycles[c].first]].blocked_total;
		assert_int_equal(sum_out, g->nedges);
		assert_int_equal(sum_in, g->nedges);
		assert_int_equal(roots, g->nroots);
		if (g->ncycles > 0) {
			const struct lockgraph_cycle *last = &g->cycles[g->ncycles - 1];
			assert_int_equal(members, last->first + last->count);
		}
		/* Following out-edges from any session ends at a root or a cycle,
		 * so every session that is neither is counted behind one of them. */
		assert_true(behind + members >= g->nnodes - g->nroots);
		assert_true(g->max_depth > 10);
		lockgraph_free(g);
		free(edges);
	}
}

static void test_random_500_brute_force(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct lockgraph_edge *edges;
		size_t n = random_graph(seed, 500, seed % 5 * 3, &edges);
		struct lockgraph *g = lockgraph_build(edges, n);

		assert_invariants(g, true);
		lockgraph_free(g);
		free(edges);
	}
}

#define BIG 50000

/* 50,000 sessions in one chain, reported in shuffled order. */
static void test_chain_50k(void **state)
{
	struct lockgraph_edge *edges = xmalloc((BIG - 1) * sizeof(*edges));
	uint64_t s = 42;
	struct lockgraph *g;
	size_t n = 0;

	(void)state;
	for (int pid = 2; pid <= BIG; pid++)
		edge_add(edges, &n, pid, pid - 1, true);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_below(&s, i + 1);
		struct lockgraph_edge t = edges[i];
		edges[i] = edges[j];
		edges[j] = t;
	}
	g = lockgraph_build(edges, n);
	assert_int_equal(g->nnodes, BIG);
	assert_int_equal(g->nroots, 1);
	assert_int_equal(g->nodes[g->roots[0]].pid, 1);
	assert_int_equal(g->nodes[g->roots[0]].blocked_total, BIG - 1);
	assert_int_equal(g->nodes[lockgraph_find(g, BIG)].depth, BIG - 1);
	assert_int_equal(g->max_depth, BIG - 1);
	assert_int_equal(g->ncycles, 0);
	assert_invariants(g, false);
	lockgraph_free(g);
	free(edges);
}

/* The same chain closed into one ring: one deep cycle, no roots. */
static void test_ring_50k(void **state)
{
	struct lockgraph_edge *edges = xmalloc(BIG * sizeof(*edges));
	struct lockgraph *g;
	size_t n = 0;

	(void)state;
	for (int pid = 1; pid <= BIG; pid++)
		edge_add(edges, &n, pid, pid % BIG + 1, true);
	g = lockgraph_build(edges, n);
	assert_int_equal(g->nnodes, BIG);
	assert_int_equal(g->nroots, 0);
	assert_int_equal(g->ncycles, 1);
	assert_int_equal(g->cycles[0].count, BIG);
	assert_int_equal(g->nodes[0].blocked_total, 0);
	assert_int_equal(g->max_depth, 0);
	assert_invariants(g, false);
	lockgraph_free(g);
	free(edges);
}

int main(void)
{
	struct CMUnitTest tests[NCASES + 6];
	size_t t = 0;

	for (size_t i = 0; i < NCASES; i++)
		tests[t++] = (struct CMUnitTest){
			.name = cases[i].name,
			.test_func = test_graph_case,
			.initial_state = (void *)&cases[i],
		};
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_merge_metadata);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_find);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_random_10k);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_random_500_brute_force);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_chain_50k);
	tests[t++] = (struct CMUnitTest)cmocka_unit_test(test_ring_50k);
	return cmocka_run_group_tests_name("lockgraph", tests, NULL, NULL);
}
