/*
 * lockgraph_check: the invariants of a built lockgraph, checked from the
 * outside with deliberately naive code, shared by tests/unit/test_lockgraph.c
 * and tests/fuzz/fuzz_lockgraph.c.
 *
 * lockgraph_check() walks every field against the contract in lockgraph.h.
 * With brute set it also recomputes reachability between all pairs of nodes
 * (quadratic memory: keep it to a few thousand nodes) and from that verifies
 * cycle membership (strongly connected components) and every blocked_total;
 * without it blocked_total is recomputed with one depth-first walk per root
 * and per cycle. Header-only so the fuzzer, built outside the Makefile, needs
 * no extra object. Not thread-safe: the message lives in a static buffer.
 */
#ifndef COCKPIT_TESTS_LOCKGRAPH_CHECK_H
#define COCKPIT_TESTS_LOCKGRAPH_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perceive/lockgraph.h"

static char lockgraph_check_msg[256];

#define LGC_FAIL(...)                                                             \
	do {                                                                      \
		snprintf(lockgraph_check_msg, sizeof(lockgraph_check_msg), __VA_ARGS__); \
		goto out;                                                         \
	} while (0)

static size_t lgc_blocker(const struct lockgraph *g, size_t e)
{
	return lockgraph_find(g, g->edges[e].blocker);
}

static size_t lgc_waiter(const struct lockgraph *g, size_t e)
{
	return lockgraph_find(g, g->edges[e].waiter);
}

static bool lgc_same_cycle(const struct lockgraph *g, size_t u, size_t v)
{
	return g->nodes[u].cycle >= 0 && g->nodes[u].cycle == g->nodes[v].cycle;
}

/* Distinct nodes outside the seeds' cycle that reach any seed, counted with an
 * explicit-stack depth-first walk over in-edges (the library walks breadth
 * first; a different order catches bookkeeping slips). */
static size_t lgc_count_waiters(const struct lockgraph *g, const size_t *seeds,
				size_t nseeds, unsigned char *mark, size_t *stack)
{
	size_t sp = 0, count = 0;

	memset(mark, 0, g->nnodes);
	for (size_t i = 0; i < nseeds; i++) {
		mark[seeds[i]] = 1;
		stack[sp++] = seeds[i];
	}
	while (sp > 0) {
		const struct lockgraph_node *n = &g->nodes[stack[--sp]];

		for (size_t i = 0; i < n->in_count; i++) {
			size_t w = lgc_waiter(g, g->in_edges[n->in_first + i]);

			if (!mark[w]) {
				mark[w] = 1;
				count++;
				stack[sp++] = w;
			}
		}
	}
	return count;
}

/* reach[u * n + v]: u waits on v through one or more edges. */
static unsigned char *lgc_reach(const struct lockgraph *g)
{
	size_t n = g->nnodes;
	unsigned char *reach = calloc(n ? n * n : 1, 1);
	/* n + 1: the source is queued once unmarked and again if it reaches
	 * itself. */
	size_t *queue = malloc((n + 1) * sizeof(*queue));

	if (!reach || !queue) {
		free(reach);
		free(queue);
		return NULL;
	}
	for (size_t s = 0; s < n; s++) {
		unsigned char *row = reach + s * n;
		size_t head = 0, tail = 0;

		queue[tail++] = s;
		while (head < tail) {
			const struct lockgraph_node *node = &g->nodes[queue[head++]];

			for (size_t i = 0; i < node->out_count; i++) {
				size_t b = lgc_blocker(g, node->out_first + i);

				if (!row[b]) {
					row[b] = 1;
					queue[tail++] = b;
				}
			}
		}
	}
	free(queue);
	return reach;
}

/* NULL when g satisfies the contract, else a description of the first
 * violation found. */
static const char *lockgraph_check(const struct lockgraph *g, bool brute)
{
	size_t nn, ne, sum_out = 0, sum_in = 0, nroots = 0, nmembers = 0;
	unsigned char *mark = NULL, *reach = NULL;
	size_t *stack = NULL;
	int max_depth = 0;
	bool ok = false;

	if (!g)
		return "graph is NULL";
	nn = g->nnodes;
	ne = g->nedges;
	mark = calloc(nn + ne + 1, 1);
	stack = malloc((nn + 1) * sizeof(*stack));
	if (!mark || !stack)
		LGC_FAIL("out of memory in checker");
	if (nn == 0 && (ne || g->nroots || g->ncycles || g->max_depth))
		LGC_FAIL("empty graph has edges, roots, cycles or depth");

	/* Nodes: strictly by pid, all findable, each on some edge. */
	for (size_t v = 0; v < nn; v++) {
		const struct lockgraph_node *n = &g->nodes[v];

		if (v > 0 && g->nodes[v - 1].pid >= n->pid)
			LGC_FAIL("nodes %zu and %zu out of pid order", v - 1, v);
		if (lockgraph_find(g, n->pid) != v)
			LGC_FAIL("lockgraph_find(%d) is not %zu", n->pid, v);
		if (n->out_count + n->in_count == 0)
			LGC_FAIL("pid %d is on no edge", n->pid);
	}

	/* Edges: strictly by (waiter, blocker), endpoints exist. */
	for (size_t e = 0; e < ne; e++) {
		const struct lockgraph_edge *a = &g->edges[e];

		if (lgc_waiter(g, e) == SIZE_MAX || lgc_blocker(g, e) == SIZE_MAX)
			LGC_FAIL("edge %d -> %d has an unknown endpoint", a->waiter, a->blocker);
		if (e > 0) {
			const struct lockgraph_edge *p = &g->edges[e - 1];

			if (p->waiter > a->waiter ||
			    (p->waiter == a->waiter && p->blocker >= a->blocker))
				LGC_FAIL("edges %zu and %zu not sorted or duplicated", e - 1, e);
		}
	}

	/* Out ranges tile edges[] in node order; in ranges tile in_edges[]. */
	for (size_t v = 0; v < nn; v++) {
		const struct lockgraph_node *n = &g->nodes[v];

		if (n->out_count && n->out_first != sum_out)
			LGC_FAIL("pid %d out_first %zu, expected %zu", n->pid, n->out_first, sum_out);
		for (size_t i = 0; i < n->out_count; i++)
			if (g->edges[n->out_first + i].waiter != n->pid)
				LGC_FAIL("pid %d out-edge %zu has another waiter", n->pid, i);
		if (n->in_first != sum_in)
			LGC_FAIL("pid %d in_first %zu, expected %zu", n->pid, n->in_first, sum_in);
		for (size_t i = 0; i < n->in_count; i++) {
			size_t e = g->in_edges[n->in_first + i];

			if (e >= ne || mark[e])
				LGC_FAIL("in_edges is not a permutation at pid %d", n->pid);
			mark[e] = 1;
			if (g->edges[e].blocker != n->pid)
				LGC_FAIL("pid %d in-edge %zu has another blocker", n->pid, i);
			if (i > 0 && g->in_edges[n->in_first + i - 1] >= e)
				LGC_FAIL("pid %d in-edges not in waiter order", n->pid);
		}
		sum_out += n->out_count;
		sum_in += n->in_count;
	}
	if (sum_out != ne || sum_in != ne)
		LGC_FAIL("out counts sum to %zu, in counts to %zu, nedges %zu", sum_out, sum_in, ne);

	/* Roots. */
	for (size_t v = 0; v < nn; v++) {
		const struct lockgraph_node *n = &g->nodes[v];
		bool want = n->out_count == 0 && n->in_count > 0;

		if (n->root != want)
			LGC_FAIL("pid %d root flag is %d", n->pid, n->root);
		if (n->root && n->cycle != -1)
			LGC_FAIL("root pid %d is in cycle %d", n->pid, n->cycle);
		nroots += n->root;
	}
	if (nroots != g->nroots)
		LGC_FAIL("%zu root nodes but nroots %zu", nroots, g->nroots);
	memset(mark, 0, nn);
	for (size_t i = 0; i < g->nroots; i++) {
		size_t r = g->roots[i];

		if (r >= nn || !g->nodes[r].root || mark[r])
			LGC_FAIL("roots[%zu] is not a distinct root", i);
		mark[r] = 1;
		if (i > 0) {
			const struct lockgraph_node *p = &g->nodes[g->roots[i - 1]];
			const struct lockgraph_node *n = &g->nodes[r];

			if (p->blocked_total < n->blocked_total ||
			    (p->blocked_total == n->blocked_total && p->pid >= n->pid))
				LGC_FAIL("roots %zu and %zu out of order", i - 1, i);
		}
	}

	/* Cycles: membership both ways, members in pid order, cycles by lowest
	 * pid, a one-node cycle is a self-loop. */
	for (size_t c = 0; c < g->ncycles; c++) {
		const struct lockgraph_cycle *cy = &g->cycles[c];

		if (cy->count == 0 || cy->first != nmembers)
			LGC_FAIL("cycle %zu has a bad range", c);
		for (size_t i = 0; i < cy->count; i++) {
			size_t v = g->cycle_nodes[cy->first + i];

			if (v >= nn || g->nodes[v].cycle != (int)c)
				LGC_FAIL("cycle %zu lists a node not marked as its member", c);
			if (i > 0 && g->cycle_nodes[cy->first + i - 1] >= v)
				LGC_FAIL("cycle %zu members not in pid order", c);
		}
		if (c > 0 && g->cycle_nodes[g->cycles[c - 1].first] >= g->cycle_nodes[cy->first])
			LGC_FAIL("cycles %zu and %zu not ordered by lowest pid", c - 1, c);
		if (cy->count == 1) {
			size_t v = g->cycle_nodes[cy->first];
			const struct lockgraph_node *n = &g->nodes[v];
			bool self = false;

			for (size_t i = 0; i < n->out_count; i++)
				self = self || g->edges[n->out_first + i].blocker == n->pid;
			if (!self)
				LGC_FAIL("one-node cycle %zu (pid %d) has no self-loop", c, n->pid);
		}
		nmembers += cy->count;
	}
	for (size_t v = 0; v < nn; v++) {
		int c = g->nodes[v].cycle;

		if (c < -1 || c >= (int)g->ncycles)
			LGC_FAIL("pid %d has cycle %d of %zu", g->nodes[v].pid, c, g->ncycles);
		if (c >= 0)
			nmembers--;
	}
	if (nmembers != 0)
		LGC_FAIL("cycle_nodes and node cycle marks disagree");

	/* Depth: 0 at roots and cycles, else one more than the deepest blocker. */
	for (size_t v = 0; v < nn; v++) {
		const struct lockgraph_node *n = &g->nodes[v];
		int want = -1;

		if (n->root || n->cycle >= 0) {
			want = 0;
		} else {
			for (size_t i = 0; i < n->out_count; i++) {
				int d = g->nodes[lgc_blocker(g, n->out_first + i)].depth;

				if (d > want)
					want = d;
			}
			want++;
		}
		if (n->depth != want)
			LGC_FAIL("pid %d depth %d, expected %d", n->pid, n->depth, want);
		if (n->depth > max_depth)
			max_depth = n->depth;
	}
	if (max_depth != g->max_depth)
		LGC_FAIL("max_depth %d, expected %d", g->max_depth, max_depth);

	/* blocked_total: zero off roots and cycles, else recounted. */
	for (size_t v = 0; v < nn; v++) {
		const struct lockgraph_node *n = &g->nodes[v];
		size_t want;

		if (!n->root && n->cycle < 0) {
			if (n->blocked_total != 0)
				LGC_FAIL("plain waiter pid %d has blocked_total %zu", n->pid, n->blocked_total);
			continue;
		}
		if (brute)
			continue;
		if (n->root) {
			want = lgc_count_waiters(g, &v, 1, mark, stack);
		} else {
			const struct lockgraph_cycle *cy = &g->cycles[n->cycle];

			if (g->cycle_nodes[cy->first] != v)
				continue; /* once per cycle; members compared below */
			want = lgc_count_waiters(g, g->cycle_nodes + cy->first, cy->count, mark, stack);
			for (size_t i = 0; i < cy->count; i++)
				if (g->nodes[g->cycle_nodes[cy->first + i]].blocked_total != want)
					LGC_FAIL("cycle %d members disagree on blocked_total", n->cycle);
		}
		if (n->blocked_total != want)
			LGC_FAIL("pid %d blocked_total %zu, expected %zu", n->pid, n->blocked_total, want);
	}

	if (brute) {
		reach = lgc_reach(g);
		if (!reach)
			LGC_FAIL("out of memory in checker");
		for (size_t u = 0; u < nn; u++) {
			const struct lockgraph_node *n = &g->nodes[u];
			size_t want = 0;

			if ((n->cycle >= 0) != (reach[u * nn + u] != 0))
				LGC_FAIL("pid %d cycle %d but reaches itself: %d", n->pid, n->cycle,
					 reach[u * nn + u]);
			for (size_t v = 0; v < nn; v++) {
				bool scc = u != v && reach[u * nn + v] && reach[v * nn + u];

				if (u != v && scc != lgc_same_cycle(g, u, v))
					LGC_FAIL("pids %d and %d: strongly connected %d, same cycle %d",
						 n->pid, g->nodes[v].pid, scc, lgc_same_cycle(g, u, v));
				if (reach[v * nn + u] && v != u && !lgc_same_cycle(g, u, v))
					want++;
			}
			if ((n->root || n->cycle >= 0) && n->blocked_total != want)
				LGC_FAIL("pid %d blocked_total %zu, brute force says %zu", n->pid,
					 n->blocked_total, want);
		}
	}
	ok = true;
out:
	free(reach);
	free(stack);
	free(mark);
	return ok ? NULL : lockgraph_check_msg;
}

#undef LGC_FAIL

#endif
