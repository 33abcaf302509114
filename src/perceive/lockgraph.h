/*
 * lockgraph: the wait-for graph of one snapshot — who blocks whom.
 *
 * Input is the list of wait-for edges the collector got from
 * pg_blocking_pids() (waiter -> blocker), each with the lock it waits for.
 * lockgraph_build() deduplicates them (parallel workers make
 * pg_blocking_pids() repeat a leader's pid), indexes them per node, finds
 * the cycles (deadlocks in the making) with an iterative Tarjan SCC pass, the
 * root blockers, each waiter's chain depth and how many sessions wait behind
 * each root. Everything is linear in nodes + edges; 10,000 waiters build in
 * well under 5 ms.
 *
 * Vocabulary used across cockpit:
 *   - an edge W -> B means "W waits for B";
 *   - hard: B holds a lock that conflicts with what W requested;
 *     soft: B only requested a conflicting lock and is queued ahead of W;
 *   - a root blocker blocks at least one session and waits for no one;
 *   - a cycle is a strongly connected component of two or more nodes (or a
 *     self-loop); its members have no root outside it, so the UI treats the
 *     cycle itself as the root;
 *   - depth: 0 for roots and cycle members; for a waiter, the length of the
 *     longest wait chain from it down to a root or cycle.
 *   - pid 0 is a prepared transaction (it holds locks, has no backend).
 *
 * The graph is immutable after build and safe to read from any thread.
 */
#ifndef COCKPIT_PERCEIVE_LOCKGRAPH_H
#define COCKPIT_PERCEIVE_LOCKGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lockgraph_edge {
	int waiter;           /* pid that waits */
	int blocker;          /* pid it waits for; 0 = prepared transaction */
	bool hard;            /* blocker holds a conflicting lock (else queued ahead) */
	const char *mode;     /* borrowed: lock mode the waiter requested, e.g. "ShareLock" */
	const char *locktype; /* borrowed: relation, transactionid, tuple, ... */
	const char *relation; /* borrowed: relation name, or NULL */
	double wait_start;    /* epoch seconds the wait began; 0 = unknown */
};

struct lockgraph_node {
	int pid;
	size_t out_first, out_count; /* edges this node waits on: edges[out_first ..] */
	size_t in_first, in_count;   /* edges waiting on this node: in_edges[in_first ..] */
	bool root;                   /* blocks someone, waits for no one */
	int cycle;                   /* index into cycles, or -1 */
	int depth;                   /* see above */
	size_t blocked_total;        /* sessions waiting behind this node, transitively
	                                (computed for roots and cycle members; else 0) */
};

struct lockgraph_cycle {
	size_t first, count; /* node indices: cycle_nodes[first .. first+count) */
};

struct lockgraph {
	struct lockgraph_node *nodes;   /* owned; sorted by pid */
	size_t nnodes;
	struct lockgraph_edge *edges;   /* owned; deduplicated, sorted by (waiter, blocker) */
	size_t nedges;
	size_t *in_edges;               /* owned; edge indices grouped by blocker
	                                   (node order), waiters in pid order */
	struct lockgraph_cycle *cycles; /* owned; ordered by lowest member pid */
	size_t ncycles;
	size_t *cycle_nodes;            /* owned; node indices, pid order per cycle */
	size_t *roots;                  /* owned; node indices of root blockers,
	                                   most sessions blocked first, then by pid */
	size_t nroots;
	int max_depth;
};

/* Build from n edges (copied; the strings they point to are borrowed and must
 * outlive the graph). Duplicate (waiter, blocker) pairs merge: hard if any was
 * hard; the first non-NULL metadata wins, field by field, in input order (for
 * wait_start the first non-zero). edges may be NULL when n is 0. Never fails
 * (OOM aborts). */
struct lockgraph *lockgraph_build(const struct lockgraph_edge *edges, size_t n);
void lockgraph_free(struct lockgraph *g);
/* Node index of pid, or SIZE_MAX (g must not be NULL). O(log n). */
size_t lockgraph_find(const struct lockgraph *g, int pid);

#endif
