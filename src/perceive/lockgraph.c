/*
 * lockgraph: build the wait-for graph of one snapshot; see lockgraph.h.
 *
 * The collector hands us raw pg_blocking_pids() edges; the locks screen, the
 * diagnosis rules and the runbooks read the graph. lockgraph_build() is one
 * straight pass of stages, each linear in nodes + edges (the node numbering
 * is a radix sort, so even that is linear):
 *
 *   1. number the nodes: radix-sort every edge endpoint by pid; node index
 *      order is pid order, so sorting edges by node index sorts them by pid;
 *   2. sort the edges by (waiter, blocker) with two stable counting sorts and
 *      merge duplicates; stability is what makes "first metadata wins" mean
 *      first in the caller's order;
 *   3. group edge indices by blocker (one more counting sort) for in_edges;
 *   4. iterative Tarjan: SCCs come out sinks first (a component is finished
 *      only after everything it waits on), so each node's depth is computed
 *      the moment its component is emitted, with no separate topological pass;
 *   5. number the cycles by their lowest pid and list members in pid order;
 *   6. blocked_total: one breadth-first walk over in-edges per root and per
 *      cycle, with a stamp array so no per-walk clearing is needed;
 *   7. order the roots.
 *
 * Scratch arrays live in struct build and are freed before returning; no
 * allocation happens per edge or per node. Nothing here recurses, so a
 * 50,000-session chain costs heap, not stack.
 */
#include "perceive/lockgraph.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define UNSET UINT32_MAX
#define CYCLE_PENDING (-2) /* in a cycle, cycle number not assigned yet */

/* Scratch state of one build; every pointer is owned and freed by
 * build_release(). Arrays indexed by input edge have n entries, by merged
 * edge g->nedges, by node g->nnodes. Scratch indices are 32-bit (the build
 * asserts n < 2^31): half the pages to fault in, which is most of the cost
 * of a build on a cold heap. */
struct build {
	size_t n;             /* input edges */
	uint32_t *waiter_of;  /* input edge -> waiter node */
	uint32_t *blocker_of; /* input edge -> blocker node */
	uint32_t *ew;         /* merged edge -> waiter node */
	uint32_t *eb;         /* merged edge -> blocker node */
	uint32_t *comp;       /* node -> strongly connected component */
	uint32_t ncomps;
};

static void build_release(struct build *b)
{
	free(b->waiter_of);
	free(b->blocker_of);
	free(b->ew);
	free(b->eb);
	free(b->comp);
}

/* Pids are signed; flipping the sign bit makes unsigned order match. */
static uint32_t pid_key(int pid)
{
	return (uint32_t)pid ^ UINT32_C(0x80000000);
}

static int key_pid(uint32_t key)
{
	return (int)(int32_t)(key ^ UINT32_C(0x80000000));
}

/*
 * Stable LSD radix sort of v[0..n) by the upper 32 bits, 8 bits a pass.
 * All four histograms come from one read of the data, and a pass whose digit
 * is the same everywhere (the top byte of real pids, usually) is skipped.
 */
static void radix_sort_hi32(uint64_t *v, size_t n)
{
	size_t count[4][256];
	uint64_t *tmp = xmalloc(n * sizeof(*tmp));
	uint64_t *src = v, *dst = tmp;
	int pass;

	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++)
		for (pass = 0; pass < 4; pass++)
			count[pass][(v[i] >> (32 + 8 * pass)) & 0xff]++;

	for (pass = 0; pass < 4; pass++) {
		size_t *c = count[pass];
		int shift = 32 + 8 * pass;
		size_t sum = 0;

		if (c[(src[0] >> shift) & 0xff] == n)
			continue;
		for (int d = 0; d < 256; d++) {
			size_t k = c[d];
			c[d] = sum;
			sum += k;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
}

/*
 * Stage 1. Every endpoint becomes (pid key << 32 | 2 * edge + side); after
 * sorting, runs of equal keys are the nodes, numbered in pid order, and the
 * low half says which edge endpoint to point at the node.
 */
static void build_nodes(struct lockgraph *g, struct build *b,
			const struct lockgraph_edge *edges)
{
	size_t n = b->n, nends = 2 * n, nnodes = 0;
	uint64_t *ends = xmalloc(nends * sizeof(*ends));

	for (size_t i = 0; i < n; i++) {
		ends[2 * i] = (uint64_t)pid_key(edges[i].waiter) << 32 | (2 * i);
		ends[2 * i + 1] = (uint64_t)pid_key(edges[i].blocker) << 32 | (2 * i + 1);
	}
	radix_sort_hi32(ends, nends);

	for (size_t i = 0; i < nends; i++)
		if (i == 0 || ends[i] >> 32 != ends[i - 1] >> 32)
			nnodes++;
	g->nodes = xcalloc(nnodes, sizeof(*g->nodes));
	g->nnodes = nnodes;
	b->waiter_of = xmalloc(n * sizeof(*b->waiter_of));
	b->blocker_of = xmalloc(n * sizeof(*b->blocker_of));

	uint32_t node = 0;
	for (size_t i = 0; i < nends; i++) {
		uint32_t key = (uint32_t)(ends[i] >> 32);
		size_t slot = (size_t)(ends[i] & UINT32_MAX);

		if (i > 0 && key != (uint32_t)(ends[i - 1] >> 32))
			node++;
		g->nodes[node].pid = key_pid(key);
		if (slot & 1)
			b->blocker_of[slot / 2] = node;
		else
			b->waiter_of[slot / 2] = node;
	}
	free(ends);
}

/* Stable counting sort of 0..n-1, or of idx[0..n) when idx is non-NULL, by
 * key[] in [0, nkeys), into out. If first is non-NULL it receives each key's
 * starting offset. */
static void counting_sort(const uint32_t *idx, size_t n, const uint32_t *key,
			  size_t nkeys, uint32_t *out, uint32_t *first)
{
	uint32_t *pos = xcalloc(nkeys + 1, sizeof(*pos));

	for (size_t i = 0; i < n; i++)
		pos[key[idx ? idx[i] : i] + 1]++;
	for (size_t k = 0; k < nkeys; k++)
		pos[k + 1] += pos[k];
	if (first)
		memcpy(first, pos, nkeys * sizeof(*first));
	for (size_t i = 0; i < n; i++) {
		uint32_t e = idx ? idx[i] : (uint32_t)i;
		out[pos[key[e]]++] = e;
	}
	free(pos);
}

static void edge_merge(struct lockgraph_edge *into, const struct lockgraph_edge *dup)
{
	into->hard = into->hard || dup->hard;
	if (!into->mode)
		into->mode = dup->mode;
	if (!into->locktype)
		into->locktype = dup->locktype;
	if (!into->relation)
		into->relation = dup->relation;
	if (into->wait_start == 0)
		into->wait_start = dup->wait_start;
}

/* Stage 2: sort by (waiter, blocker) as blocker pass then stable waiter pass,
 * merge runs of the same pair, record each node's out range. */
static void build_edges(struct lockgraph *g, struct build *b,
			const struct lockgraph_edge *edges)
{
	size_t n = b->n, m = 0;
	uint32_t *order = xmalloc(n * sizeof(*order));
	uint32_t *tmp = xmalloc(n * sizeof(*tmp));

	counting_sort(NULL, n, b->blocker_of, g->nnodes, tmp, NULL);
	counting_sort(tmp, n, b->waiter_of, g->nnodes, order, NULL);

	g->edges = xmalloc(n * sizeof(*g->edges));
	b->ew = xmalloc(n * sizeof(*b->ew));
	b->eb = xmalloc(n * sizeof(*b->eb));
	for (size_t i = 0; i < n; i++) {
		uint32_t e = order[i], w = b->waiter_of[e], bl = b->blocker_of[e];

		if (m > 0 && b->ew[m - 1] == w && b->eb[m - 1] == bl) {
			edge_merge(&g->edges[m - 1], &edges[e]);
			continue;
		}
		g->edges[m] = edges[e];
		b->ew[m] = w;
		b->eb[m] = bl;
		if (g->nodes[w].out_count++ == 0)
			g->nodes[w].out_first = m;
		m++;
	}
	g->nedges = m;
	free(order);
	free(tmp);
}

/* Stage 3: edges are in waiter order, so a stable sort by blocker lists each
 * node's waiters in pid order. */
static void build_in_edges(struct lockgraph *g, struct build *b)
{
	size_t m = g->nedges, nn = g->nnodes;
	uint32_t *sorted = xmalloc(m * sizeof(*sorted));
	uint32_t *first = xmalloc(nn * sizeof(*first));

	counting_sort(NULL, m, b->eb, nn, sorted, first);
	g->in_edges = xmalloc(m * sizeof(*g->in_edges));
	for (size_t i = 0; i < m; i++)
		g->in_edges[i] = sorted[i];
	for (size_t v = 0; v < nn; v++) {
		g->nodes[v].in_first = first[v];
		g->nodes[v].in_count = (v + 1 < nn ? first[v + 1] : m) - first[v];
	}
	free(sorted);
	free(first);
}

/*
 * A component has just been popped off the Tarjan stack as members
 * stack[top..end). Everything it waits on outside itself is already in an
 * emitted component with a final depth, so its own depth is known now.
 */
static void component_emit(struct lockgraph *g, struct build *b,
			   const uint32_t *stack, size_t top, size_t end)
{
	uint32_t c = b->ncomps++;

	for (size_t i = top; i < end; i++)
		b->comp[stack[i]] = c;

	if (end - top > 1) {
		for (size_t i = top; i < end; i++) {
			g->nodes[stack[i]].cycle = CYCLE_PENDING;
			g->nodes[stack[i]].depth = 0;
		}
		return;
	}

	uint32_t v = stack[top];
	struct lockgraph_node *node = &g->nodes[v];
	int depth = -1;

	for (size_t e = node->out_first; e < node->out_first + node->out_count; e++) {
		if (b->eb[e] == v) {
			node->cycle = CYCLE_PENDING; /* self-loop */
			depth = -1;
			break;
		}
		if (g->nodes[b->eb[e]].depth > depth)
			depth = g->nodes[b->eb[e]].depth;
	}
	node->depth = depth + 1;
	if (node->depth > g->max_depth)
		g->max_depth = node->depth;
}

/*
 * Stage 4: Tarjan's SCC with an explicit call stack. A visited node that has
 * no component yet is exactly a node on the Tarjan stack, so no on-stack flag
 * is needed. next[v] is where v's edge loop resumes after a "call" returns.
 */
static void find_components(struct lockgraph *g, struct build *b)
{
	size_t nn = g->nnodes;
	uint32_t counter = 0;
	uint32_t *index = xmalloc(nn * sizeof(*index));
	uint32_t *low = xmalloc(nn * sizeof(*low));
	uint32_t *next = xmalloc(nn * sizeof(*next)); /* edge index */
	uint32_t *stack = xmalloc(nn * sizeof(*stack));
	uint32_t *calls = xmalloc(nn * sizeof(*calls));
	size_t sp = 0, cp = 0;

	b->comp = xmalloc(nn * sizeof(*b->comp));
	for (size_t v = 0; v < nn; v++) {
		index[v] = UNSET;
		b->comp[v] = UNSET;
		g->nodes[v].cycle = -1;
	}

	for (uint32_t s = 0; s < nn; s++) {
		if (index[s] != UNSET)
			continue;
		index[s] = low[s] = counter++;
		next[s] = (uint32_t)g->nodes[s].out_first;
		stack[sp++] = s;
		calls[cp++] = s;

		while (cp > 0) {
			uint32_t v = calls[cp - 1];
			const struct lockgraph_node *node = &g->nodes[v];

			if (next[v] < node->out_first + node->out_count) {
				uint32_t w = b->eb[next[v]++];

				if (index[w] == UNSET) {
					index[w] = low[w] = counter++;
					next[w] = (uint32_t)g->nodes[w].out_first;
					stack[sp++] = w;
					calls[cp++] = w;
				} else if (b->comp[w] == UNSET && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}

			cp--;
			if (low[v] == index[v]) {
				size_t end = sp;
				while (stack[--sp] != v)
					;
				component_emit(g, b, stack, sp, end);
			}
			if (cp > 0 && low[v] < low[calls[cp - 1]])
				low[calls[cp - 1]] = low[v];
		}
	}
	free(index);
	free(low);
	free(next);
	free(stack);
	free(calls);
}

/* Stage 5: cycles numbered by their lowest pid, members listed in pid order. */
static void build_cycles(struct lockgraph *g, struct build *b)
{
	size_t nn = g->nnodes, ncycles = 0, nmembers = 0;
	int *cycle_of = xmalloc(b->ncomps * sizeof(*cycle_of));

	for (size_t c = 0; c < b->ncomps; c++)
		cycle_of[c] = -1;
	for (size_t v = 0; v < nn; v++) {
		if (g->nodes[v].cycle != CYCLE_PENDING)
			continue;
		if (cycle_of[b->comp[v]] < 0)
			cycle_of[b->comp[v]] = (int)ncycles++;
		g->nodes[v].cycle = cycle_of[b->comp[v]];
		nmembers++;
	}
	free(cycle_of);
	if (ncycles == 0)
		return;

	g->cycles = xcalloc(ncycles, sizeof(*g->cycles));
	g->ncycles = ncycles;
	g->cycle_nodes = xmalloc(nmembers * sizeof(*g->cycle_nodes));
	for (size_t v = 0; v < nn; v++)
		if (g->nodes[v].cycle >= 0)
			g->cycles[g->nodes[v].cycle].count++;
	for (size_t c = 0, sum = 0; c < ncycles; c++) {
		g->cycles[c].first = sum;
		sum += g->cycles[c].count;
		g->cycles[c].count = 0;
	}
	for (size_t v = 0; v < nn; v++) {
		struct lockgraph_cycle *cy;

		if (g->nodes[v].cycle < 0)
			continue;
		cy = &g->cycles[g->nodes[v].cycle];
		g->cycle_nodes[cy->first + cy->count++] = v;
	}
}

/*
 * Breadth-first over in-edges from the seeds already in queue[0..nseeds),
 * all stamped. Returns how many nodes were reached besides the seeds.
 */
static size_t walk_waiters(const struct lockgraph *g, const struct build *b,
			   uint32_t *queue, size_t nseeds, uint32_t *seen, uint32_t stamp)
{
	size_t head = 0, tail = nseeds;

	while (head < tail) {
		const struct lockgraph_node *node = &g->nodes[queue[head++]];

		for (size_t i = node->in_first; i < node->in_first + node->in_count; i++) {
			uint32_t w = b->ew[g->in_edges[i]];

			if (seen[w] != stamp) {
				seen[w] = stamp;
				queue[tail++] = w;
			}
		}
	}
	return tail - nseeds;
}

/* Stage 6, and the root flags it needs. */
static void count_blocked(struct lockgraph *g, struct build *b)
{
	size_t nn = g->nnodes;
	uint32_t *queue = xmalloc(nn * sizeof(*queue));
	uint32_t *seen = xcalloc(nn, sizeof(*seen));
	uint32_t stamp = 0;

	for (size_t v = 0; v < nn; v++) {
		struct lockgraph_node *node = &g->nodes[v];

		if (node->out_count > 0)
			continue;
		assert(node->in_count > 0); /* every node came from an edge */
		node->root = true;
		g->nroots++;
		seen[v] = ++stamp;
		queue[0] = (uint32_t)v;
		node->blocked_total = walk_waiters(g, b, queue, 1, seen, stamp);
	}
	for (size_t c = 0; c < g->ncycles; c++) {
		const struct lockgraph_cycle *cy = &g->cycles[c];
		size_t total;

		++stamp;
		for (size_t i = 0; i < cy->count; i++) {
			queue[i] = (uint32_t)g->cycle_nodes[cy->first + i];
			seen[queue[i]] = stamp;
		}
		total = walk_waiters(g, b, queue, cy->count, seen, stamp);
		for (size_t i = 0; i < cy->count; i++)
			g->nodes[g->cycle_nodes[cy->first + i]].blocked_total = total;
	}
	free(queue);
	free(seen);
}

struct root_key {
	size_t blocked_total;
	size_t node; /* node index, so pid order */
};

static int root_key_cmp(const void *pa, const void *pb)
{
	const struct root_key *a = pa, *b = pb;

	if (a->blocked_total != b->blocked_total)
		return a->blocked_total > b->blocked_total ? -1 : 1;
	return (a->node > b->node) - (a->node < b->node);
}

/* Stage 7. */
static void build_roots(struct lockgraph *g)
{
	struct root_key *keys;
	size_t k = 0;

	if (g->nroots == 0)
		return;
	keys = xmalloc(g->nroots * sizeof(*keys));
	for (size_t v = 0; v < g->nnodes; v++)
		if (g->nodes[v].root)
			keys[k++] = (struct root_key){ g->nodes[v].blocked_total, v };
	qsort(keys, k, sizeof(*keys), root_key_cmp);
	g->roots = xmalloc(k * sizeof(*g->roots));
	for (size_t i = 0; i < k; i++)
		g->roots[i] = keys[i].node;
	free(keys);
}

struct lockgraph *lockgraph_build(const struct lockgraph_edge *edges, size_t n)
{
	struct lockgraph *g = xcalloc(1, sizeof(*g));
	struct build b = { .n = n };

	if (n == 0)
		return g;
	/* Endpoint slots (2 * edge + side) must fit the low 32 bits. */
	assert(n <= UINT32_MAX / 2);
	assert(edges);

	build_nodes(g, &b, edges);
	build_edges(g, &b, edges);
	build_in_edges(g, &b);
	find_components(g, &b);
	build_cycles(g, &b);
	count_blocked(g, &b);
	build_roots(g);
	build_release(&b);
	return g;
}

void lockgraph_free(struct lockgraph *g)
{
	if (!g)
		return;
	free(g->nodes);
	free(g->edges);
	free(g->in_edges);
	free(g->cycles);
	free(g->cycle_nodes);
	free(g->roots);
	free(g);
}

size_t lockgraph_find(const struct lockgraph *g, int pid)
{
	size_t lo = 0, hi = g->nnodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->nodes[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->nnodes && g->nodes[lo].pid == pid ? lo : SIZE_MAX;
}
