/*
 * fuzz_lockgraph: libFuzzer harness for lockgraph_build().
 *
 * Every two input bytes are one wait-for edge between 64 small pids (-2..61,
 * so pid 0, the prepared transaction, and negative pids occur), which makes
 * duplicates, self-loops, cycles and shared waiters common. Each graph goes
 * through the brute-force invariant checker of tests/lib/lockgraph_check.h
 * and the merge rules (one edge per pair, hard if any duplicate was hard,
 * first non-NULL mode wins) are checked against a direct tally.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address -Isrc -D_GNU_SOURCE \
 *       tests/fuzz/fuzz_lockgraph.c src/perceive/lockgraph.c src/core/mem.c \
 *       -o fuzz_lockgraph && ./fuzz_lockgraph -max_total_time=60
 */
#undef NDEBUG
#include "perceive/lockgraph.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/lockgraph_check.h"

#define NPIDS 64
#define PID_MIN (-2)
#define MAX_EDGES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const modes[] = { "ShareLock", "ExclusiveLock" };

struct pair_tally {
	bool seen, hard;
	const char *mode; /* first non-NULL */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lockgraph_edge edges[MAX_EDGES];
	static struct pair_tally tally[NPIDS][NPIDS];
	size_t n = size / 2, pairs = 0;
	struct lockgraph *g;
	const char *why;

	if (n > MAX_EDGES)
		n = MAX_EDGES;
	memset(tally, 0, sizeof(tally));
	for (size_t i = 0; i < n; i++) {
		uint8_t a = data[2 * i], b = data[2 * i + 1];
		struct pair_tally *t = &tally[a & 0x3f][b & 0x3f];

		edges[i] = (struct lockgraph_edge){
			.waiter = (a & 0x3f) + PID_MIN,
			.blocker = (b & 0x3f) + PID_MIN,
			.hard = (a & 0x40) != 0,
			.mode = (b & 0x40) ? modes[b >> 7] : NULL,
			.wait_start = (a & 0x80) ? 1.0 : 0.0,
		};
		if (!t->seen)
			pairs++;
		t->seen = true;
		t->hard = t->hard || edges[i].hard;
		if (!t->mode)
			t->mode = edges[i].mode;
	}

	g = lockgraph_build(edges, n);
	why = lockgraph_check(g, true);
	if (why) {
		fprintf(stderr, "fuzz_lockgraph: %s\n", why);
		abort();
	}
	assert(g->nedges == pairs);
	for (size_t e = 0; e < g->nedges; e++) {
		const struct lockgraph_edge *got = &g->edges[e];
		const struct pair_tally *t =
			&tally[got->waiter - PID_MIN][got->blocker - PID_MIN];

		assert(t->seen);
		assert(got->hard == t->hard);
		assert(got->mode == t->mode);
	}
	for (int pid = PID_MIN - 1; pid <= PID_MIN + NPIDS; pid++) {
		size_t v = lockgraph_find(g, pid);

		assert(v == SIZE_MAX || g->nodes[v].pid == pid);
	}
	lockgraph_free(g);
	return 0;
}
