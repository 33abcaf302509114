/*
 * test_locktree: the lock tree layout of the locks screen (src/ui/locktree.c).
 *
 * Each case builds a real snapshot (sessions + wait-for edges, then
 * snapshot_build_locks) and checks the lines: which pid, kind, depth and
 * tree prefix, in which order, and for the first cases the text as it reads
 * on a canvas, since a TUI test relies on a root blocker being drawn above
 * its waiters. Then the shapes that break naive tree walks: joins (a session
 * waiting on two blockers), cycles, a prepared transaction, and 10,000-deep
 * chains and rings (iterative, capped indentation). A seeded random-graph
 * test checks the invariants every layout must keep: parents above
 * children, every session listed, each expanded once, lines bounded by
 * edges plus groups.
 */
#include "ui/locktree.h"

#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/mem.h"

#define NOW 1700000000.0

struct sess_spec {
	int pid;
	const char *state;
	const char *user;
	double state_change; /* seconds before NOW; 0: unknown */
	const char *query;
};

struct edge_spec {
	int waiter, blocker;
	bool hard;
	double waited; /* seconds before NOW; 0: unknown */
	const char *mode;
	const char *relation;
};

#define ARRAY(type, ...) (const type[]){ __VA_ARGS__ }, \
	sizeof((const type[]){ __VA_ARGS__ }) / sizeof(type)

static struct snapshot *make(const struct sess_spec *ss, size_t ns, const struct edge_spec *es,
			     size_t ne)
{
	struct snapshot *s = snapshot_new();

	s->server.now = NOW;
	s->collected_at = NOW;
	s->sessions = arena_alloc(&s->arena, (ns ? ns : 1) * sizeof(*s->sessions));
	s->nsessions = ns;
	for (size_t i = 0; i < ns; i++) {
		struct snap_session *x = &s->sessions[i];

		x->pid = ss[i].pid;
		x->state = ss[i].state;
		x->user = ss[i].user;
		x->state_change = ss[i].state_change > 0 ? NOW - ss[i].state_change : 0;
		x->query = ss[i].query;
		x->xmin_age = -1;
	}
	s->edges = arena_alloc(&s->arena, (ne ? ne : 1) * sizeof(*s->edges));
	s->nedges = ne;
	for (size_t i = 0; i < ne; i++)
		s->edges[i] = (struct lockgraph_edge){
			es[i].waiter, es[i].blocker, es[i].hard,
			es[i].mode ? es[i].mode : "ShareLock",
			es[i].relation ? "relation" : "transactionid", es[i].relation,
			es[i].waited > 0 ? NOW - es[i].waited : 0,
		};
	snapshot_build_locks(s);
	return s;
}

/* Edges only: every pid gets an active session. */
static struct snapshot *make_edges(const struct edge_spec *es, size_t ne)
{
	return make(NULL, 0, es, ne);
}

static const char *screen_row(const struct canvas *c, int y)
{
	static char buf[8192];
	size_t n;

	canvas_row_text(c, y, buf, sizeof(buf));
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

struct line_spec {
	int pid;
	enum locktree_kind kind;
	int depth;
	const char *prefix; /* "T" tee, "C" corner, "V" vline, "B" blank */
	bool repeat;
};

static void expect_lines(const struct locktree *t, const struct line_spec *want, size_t n)
{
	static const char segs[] = "BVTC";

	if (t->nlines != n)
		fail_msg("%zu lines, want %zu", t->nlines, n);
	for (size_t i = 0; i < n; i++) {
		const struct locktree_line *l = &t->lines[i];
		char prefix[LOCKTREE_MAX_INDENT + 1];

		for (int k = 0; k < l->nprefix; k++)
			prefix[k] = segs[l->prefix[k]];
		prefix[l->nprefix] = '\0';
		if (l->pid != want[i].pid || l->kind != want[i].kind ||
		    l->depth != want[i].depth || strcmp(prefix, want[i].prefix) != 0 ||
		    l->repeat != want[i].repeat)
			fail_msg("line %zu: pid %d kind %d depth %d prefix '%s' repeat %d; "
				 "want pid %d kind %d depth %d prefix '%s' repeat %d",
				 i, l->pid, l->kind, l->depth, prefix, l->repeat, want[i].pid,
				 want[i].kind, want[i].depth, want[i].prefix, want[i].repeat);
	}
}

#define R LOCKTREE_ROOT
#define W LOCKTREE_WAITER
#define M LOCKTREE_MEMBER
#define HEAD LOCKTREE_CYCLE_HEAD

static void test_chain_of_three(void **state)
{
	struct snapshot *s = make(
		ARRAY(struct sess_spec,
		      { 101, "idle in transaction", "alice", 247, "UPDATE accounts SET x = 1" },
		      { 102, "active", "bob", 60, "UPDATE accounts\n   SET x = 2" },
		      { 103, "active", "carol", 30, "DELETE FROM accounts" }),
		ARRAY(struct edge_spec, { 102, 101, true, 60, "ShareLock", NULL },
		      { 103, 102, true, 30, "RowExclusiveLock", "accounts" }));
	struct locktree t;
	struct canvas c;
	char buf[512];

	(void)state;
	locktree_build(&t, s);
	expect_lines(&t, ARRAY(struct line_spec, { 101, R, 0, "", false },
			       { 102, W, 1, "C", false }, { 103, W, 2, "BC", false }));
	assert_int_equal(t.ngroups, 1);
	assert_true(t.lines[0].is_root);
	assert_int_equal(t.lines[0].blocked_total, 2);
	assert_string_equal(t.lines[0].session->user, "alice");
	assert_int_equal(t.lines[1].blocker, 101);
	assert_true(t.lines[1].wait_s == 60);
	assert_string_equal(t.lines[2].edge->relation, "accounts");
	assert_string_equal(locktree_line_text(&t, 2, false, buf, sizeof(buf)),
			    "103 waits 30s: RowExclusiveLock on accounts  active 30s  carol  "
			    "DELETE FROM accounts");

	/* on screen: the root above its waiters, idle-in-transaction colours */
	canvas_init(&c, 100, 6, false);
	locktree_draw(&t, &c, (struct canvas_rect){ 0, 1, 100, 5 }, 0, SIZE_MAX);
	assert_string_equal(screen_row(&c, 1),
			    "101  blocks 2  idle in transaction 4m07s  alice  "
			    "UPDATE accounts SET x = 1");
	assert_string_equal(screen_row(&c, 2),
			    "\xe2\x94\x94\xe2\x94\x80" "102 waits 1m00s: ShareLock on transactionid  "
			    "active 1m00s  bob  UPDATE accounts SET x = 2");
	assert_string_equal(screen_row(&c, 3),
			    "  \xe2\x94\x94\xe2\x94\x80" "103 waits 30s: RowExclusiveLock on accounts"
			    "  active 30s  carol  DELETE FROM accounts");
	assert_string_equal(screen_row(&c, 4), "");
	assert_int_equal(canvas_at(&c, 0, 1)->role, THEME_STATE_IDLE_XACT);
	assert_int_equal(canvas_at(&c, 0, 2)->role, THEME_LOCK_EDGE);
	assert_int_equal(canvas_at(&c, 2, 2)->role, THEME_LOCK_WAITER);
	canvas_release(&c);

	/* ascii */
	canvas_init(&c, 30, 3, true);
	locktree_draw(&t, &c, (struct canvas_rect){ 0, 0, 30, 3 }, 0, 1);
	assert_string_equal(screen_row(&c, 1), "`-102 waits 1m00s: ShareLock ~");
	assert_string_equal(screen_row(&c, 2), "  `-103 waits 30s: RowExclusi~");
	for (int x = 0; x < 30; x++) {
		assert_true(canvas_at(&c, x, 1)->attr & THEME_ATTR_REVERSE);
		assert_false(canvas_at(&c, x, 2)->attr & THEME_ATTR_REVERSE);
	}
	canvas_release(&c);
	locktree_release(&t);
	snapshot_unref(s);
}

static void test_fan_out(void **state)
{
	/* root 1; 5 waited longest, then 3, then 4 (start unknown), 2 with 3
	 * but a lower pid; 6 behind 5 */
	struct snapshot *s = make_edges(ARRAY(struct edge_spec, { 2, 1, true, 50, NULL, NULL },
					      { 3, 1, true, 50, NULL, NULL },
					      { 4, 1, false, 0, NULL, NULL },
					      { 5, 1, true, 90, NULL, NULL },
					      { 6, 5, true, 10, NULL, NULL }));
	struct locktree t;
	struct canvas c;

	(void)state;
	locktree_build(&t, s);
	expect_lines(&t, ARRAY(struct line_spec, { 1, R, 0, "", false }, { 5, W, 1, "T", false },
			       { 6, W, 2, "VC", false }, { 2, W, 1, "T", false },
			       { 3, W, 1, "T", false }, { 4, W, 1, "C", false }));
	assert_true(t.lines[5].wait_s < 0);
	assert_null(t.lines[5].session); /* no sessions in this snapshot */
	canvas_init(&c, 60, 6, false);
	locktree_draw(&t, &c, (struct canvas_rect){ 0, 0, 60, 6 }, 0, SIZE_MAX);
	assert_string_equal(screen_row(&c, 0), "1  blocks 5");
	assert_string_equal(screen_row(&c, 2),
			    "\xe2\x94\x82 \xe2\x94\x94\xe2\x94\x80" "6 waits 10s: ShareLock on "
			    "transactionid");
	assert_string_equal(screen_row(&c, 5),
			    "\xe2\x94\x94\xe2\x94\x80" "4 waits: ShareLock on transactionid (queued)");
	canvas_release(&c);
	locktree_release(&t);
	snapshot_unref(s);
}

static void test_two_roots(void **state)
{
	/* 500 blocks two sessions, 100 blocks one: 500's group comes first */
	struct snapshot *s = make_edges(ARRAY(struct edge_spec, { 101, 100, true, 5, NULL, NULL },
					      { 501, 500, true, 5, NULL, NULL },
					      { 502, 500, true, 5, NULL, NULL }));
	struct locktree t;

	(void)state;
	locktree_build(&t, s);
	expect_lines(&t, ARRAY(struct line_spec, { 500, R, 0, "", false },
			       { 501, W, 1, "T", false }, { 502, W, 1, "C", false },
			       { 100, R, 0, "", false }, { 101, W, 1, "C", false }));
	assert_int_equal(t.ngroups, 2);
	assert_int_equal(t.lines[2].group, 0);
	assert_int_equal(t.lines[3].group, 1);
	assert_int_equal(locktree_find(&t, 101, 0), 4);
	assert_int_equal(locktree_find(&t, 999, 0), SIZE_MAX);
	assert_int_equal(locktree_find(&t, 500, 1), SIZE_MAX);
	locktree_release(&t);
	snapshot_unref(s);
}

static void test_cycle_group(void **state)
{
	struct snapshot *s = make(
		ARRAY(struct sess_spec, { 101, "active", "a", 3, "UPDATE t1" },
		      { 102, "active", "b", 2, "UPDATE t2" }, { 200, "active", "c", 1, "SELECT" }),
		ARRAY(struct edge_spec, { 101, 102, true, 3, "ShareLock", NULL },
		      { 102, 101, true, 2, "ShareLock", NULL }, { 200, 101, true, 1, NULL, "t1" },
		      { 300, 400, true, 1, NULL, NULL }));
	struct locktree t;
	struct canvas c;
	char buf[256];

	(void)state;
	locktree_build(&t, s);
	/* roots first (400), then the cycle: head, member 101 with its waiter,
	 * member 102 */
	expect_lines(&t, ARRAY(struct line_spec, { 400, R, 0, "", false },
			       { 300, W, 1, "C", false }, { 101, HEAD, 0, "", false },
			       { 101, M, 1, "T", false }, { 200, W, 2, "VC", false },
			       { 102, M, 1, "C", false }));
	assert_int_equal(t.ngroups, 2);
	assert_true(t.lines[2].in_cycle);
	assert_int_equal(t.lines[2].cycle, 0);
	assert_true(t.lines[3].in_cycle);
	assert_false(t.lines[4].in_cycle);
	assert_int_equal(t.lines[3].blocker, 102);
	assert_int_equal(t.lines[5].blocker, 101);
	assert_string_equal(locktree_line_text(&t, 2, false, buf, sizeof(buf)),
			    "deadlock cycle: 101 \xe2\x86\xbb 102  blocks 1");
	assert_string_equal(locktree_line_text(&t, 2, true, buf, sizeof(buf)),
			    "deadlock cycle: 101 @ 102  blocks 1");
	assert_string_equal(locktree_line_text(&t, 3, false, buf, sizeof(buf)),
			    "101 waits 3.0s for 102: ShareLock on transactionid  active 3.0s  a  "
			    "UPDATE t1");
	assert_int_equal(locktree_find(&t, 101, 0), 3); /* not the head */
	canvas_init(&c, 80, 6, false);
	locktree_draw(&t, &c, (struct canvas_rect){ 0, 0, 80, 6 }, 2, SIZE_MAX);
	assert_string_equal(screen_row(&c, 0), "deadlock cycle: 101 \xe2\x86\xbb 102  blocks 1");
	assert_int_equal(canvas_at(&c, 0, 0)->role, THEME_LOCK_CYCLE);
	assert_int_equal(canvas_at(&c, 2, 1)->role, THEME_LOCK_CYCLE);
	assert_int_equal(canvas_at(&c, 4, 2)->role, THEME_LOCK_WAITER);
	assert_string_equal(screen_row(&c, 4), ""); /* past the last line */
	canvas_release(&c);
	locktree_release(&t);
	snapshot_unref(s);
}

static void test_self_loop_and_cycle_on_root(void **state)
{
	/* 5 waits on itself; 1 <-> 2 and 2 also waits on root 9 */
	struct snapshot *s = make_edges(ARRAY(struct edge_spec, { 5, 5, true, 1, NULL, NULL },
					      { 6, 5, true, 1, NULL, NULL },
					      { 1, 2, true, 1, NULL, NULL },
					      { 2, 1, true, 1, NULL, NULL },
					      { 2, 9, false, 1, NULL, NULL },
					      { 3, 1, true, 1, NULL, NULL }));
	struct locktree t;
	char buf[256];

	(void)state;
	locktree_build(&t, s);
	/* root 9: 2 -> 1 -> (2 again, 3); then cycle {1,2}: both already
	 * listed; then the self-loop {5} with 6 behind it */
	expect_lines(&t, ARRAY(struct line_spec, { 9, R, 0, "", false },
			       { 2, W, 1, "C", false }, { 1, W, 2, "BC", false },
			       { 2, W, 3, "BBT", true }, { 3, W, 3, "BBC", false },
			       { 1, HEAD, 0, "", false }, { 1, M, 1, "T", true },
			       { 2, M, 1, "C", true }, { 5, HEAD, 0, "", false },
			       { 5, M, 1, "C", false }, { 6, W, 2, "BC", false }));
	assert_string_equal(locktree_line_text(&t, 8, false, buf, sizeof(buf)),
			    "deadlock cycle: 5 \xe2\x86\xbb  blocks 1");
	assert_string_equal(locktree_line_text(&t, 1, false, buf, sizeof(buf)),
			    "2 waits 1.0s: ShareLock on transactionid (queued)  also waits for 1");
	assert_string_equal(locktree_line_text(&t, 3, false, buf, sizeof(buf)),
			    "2 waits 1.0s: ShareLock on transactionid  also waits for 9  (see above)");
	locktree_release(&t);
	snapshot_unref(s);
}

static void test_dag_join(void **state)
{
	/* 4 waits on both 2 and 3 (both behind root 1); 5 waits on 4 */
	struct snapshot *s = make_edges(ARRAY(struct edge_spec, { 2, 1, true, 9, NULL, NULL },
					      { 3, 1, true, 8, NULL, NULL },
					      { 4, 2, true, 7, NULL, NULL },
					      { 4, 3, true, 7, NULL, NULL },
					      { 5, 4, true, 6, NULL, NULL }));
	/* two roots share a waiter: 30 waits on 10 and 20, 40 on 30 */
	struct snapshot *s2 = make_edges(ARRAY(struct edge_spec, { 30, 10, true, 1, NULL, NULL },
					       { 30, 20, true, 1, NULL, NULL },
					       { 40, 30, true, 1, NULL, NULL }));
	struct locktree t;

	(void)state;
	locktree_build(&t, s);
	expect_lines(&t, ARRAY(struct line_spec, { 1, R, 0, "", false }, { 2, W, 1, "T", false },
			       { 4, W, 2, "VC", false }, { 5, W, 3, "VBC", false },
			       { 3, W, 1, "C", false }, { 4, W, 2, "BC", true }));
	assert_int_equal(t.lines[2].also_waits, 1);
	assert_int_equal(t.lines[5].blocker, 3);
	locktree_release(&t);

	locktree_build(&t, s2);
	expect_lines(&t, ARRAY(struct line_spec, { 10, R, 0, "", false },
			       { 30, W, 1, "C", false }, { 40, W, 2, "BC", false },
			       { 20, R, 0, "", false }, { 30, W, 1, "C", true }));
	locktree_release(&t);
	snapshot_unref(s);
	snapshot_unref(s2);
}

static void test_prepared_xact(void **state)
{
	struct snapshot *s = make(ARRAY(struct sess_spec, { 7, "active", "u", 1, "LOCK t" }),
				  ARRAY(struct edge_spec, { 7, 0, true, 2, "AccessExclusiveLock", "t" }));
	struct locktree t;
	char buf[256];

	(void)state;
	locktree_build(&t, s);
	expect_lines(&t, ARRAY(struct line_spec, { 0, R, 0, "", false }, { 7, W, 1, "C", false }));
	assert_true(t.lines[0].prepared_xact);
	assert_null(t.lines[0].session);
	assert_false(t.lines[1].prepared_xact);
	assert_non_null(t.lines[1].session);
	assert_string_equal(locktree_line_text(&t, 0, false, buf, sizeof(buf)),
			    "prepared transaction  blocks 1");
	locktree_release(&t);
	snapshot_unref(s);
}

static void test_empty_and_draw_bounds(void **state)
{
	struct snapshot *s = snapshot_new();
	struct locktree t;
	struct canvas c;
	char buf[16];

	(void)state;
	locktree_build(&t, NULL);
	assert_int_equal(t.nlines, 0);
	locktree_release(&t);
	locktree_build(&t, s); /* no graph built */
	assert_int_equal(t.nlines, 0);
	snapshot_build_locks(s);
	locktree_release(&t);
	locktree_build(&t, s); /* an empty graph */
	assert_int_equal(t.nlines, 0);
	assert_string_equal(locktree_line_text(&t, 0, false, buf, sizeof(buf)), "");
	canvas_init(&c, 20, 4, false);
	for (int y = 0; y < 4; y++)
		canvas_fill(&c, 0, y, 20, THEME_NORMAL, '#');
	locktree_draw(&t, &c, (struct canvas_rect){ 2, 1, 15, 2 }, 0, SIZE_MAX);
	assert_string_equal(screen_row(&c, 0), "####################");
	assert_string_equal(screen_row(&c, 1), "##no lock waits  ###");
	assert_string_equal(screen_row(&c, 2), "##               ###");
	assert_int_equal(c.clip.w, 20);
	canvas_release(&c);
	locktree_release(&t);
	snapshot_unref(s);
}

/* 10,000 sessions each waiting on the previous: a recursive walk would
 * need 10,000 frames; the layout must be flat and fast. */
static void test_deep_chain(void **state)
{
	enum { N = 10000 };
	struct edge_spec *es = xcalloc(N, sizeof(*es));
	struct snapshot *s;
	struct locktree t;
	struct canvas c;
	clock_t start;
	double secs;

	(void)state;
	for (int i = 0; i < N; i++)
		es[i] = (struct edge_spec){ i + 2, i + 1, true, 1, NULL, NULL };
	s = make_edges(es, N);
	start = clock();
	locktree_build(&t, s);
	secs = (double)(clock() - start) / CLOCKS_PER_SEC;
	assert_int_equal(t.nlines, N + 1);
	for (size_t i = 0; i < t.nlines; i++) {
		assert_int_equal(t.lines[i].pid, (int)i + 1);
		assert_int_equal(t.lines[i].depth, (int)i);
		assert_true(t.lines[i].nprefix <= LOCKTREE_MAX_INDENT);
	}
	assert_int_equal(t.lines[N].nprefix, LOCKTREE_MAX_INDENT);
	assert_int_equal(t.lines[N].prefix[LOCKTREE_MAX_INDENT - 1], LOCKTREE_SEG_CORNER);
	assert_true(secs < 2.0); /* generous for sanitizers; ~ms without */
	canvas_init(&c, 80, 10, false);
	locktree_draw(&t, &c, (struct canvas_rect){ 0, 0, 80, 10 }, N - 5, N);
	assert_true(canvas_at(&c, 0, 5)->attr & THEME_ATTR_REVERSE);
	canvas_release(&c);
	locktree_release(&t);
	snapshot_unref(s);

	/* the same chain closed into a ring: one cycle group of N+1 members */
	es = xrealloc(es, (N + 1) * sizeof(*es));
	es[N] = (struct edge_spec){ 1, N + 1, true, 1, NULL, NULL };
	s = make_edges(es, N + 1);
	locktree_build(&t, s);
	assert_int_equal(t.nlines, N + 2);
	assert_int_equal(t.lines[0].kind, LOCKTREE_CYCLE_HEAD);
	for (size_t i = 1; i < t.nlines; i++) {
		assert_int_equal(t.lines[i].kind, LOCKTREE_MEMBER);
		assert_int_equal(t.lines[i].depth, 1);
	}
	locktree_release(&t);
	snapshot_unref(s);

	/* and a fan of N waiters behind one root */
	for (int i = 0; i < N; i++)
		es[i] = (struct edge_spec){ i + 2, 1, true, (double)(i % 97), NULL, NULL };
	s = make_edges(es, N);
	locktree_build(&t, s);
	assert_int_equal(t.nlines, N + 1);
	for (size_t i = 2; i < t.nlines; i++) {
		const struct locktree_line *a = &t.lines[i - 1], *b = &t.lines[i];

		/* longest wait first, unknown (0) last, then pid */
		assert_true(a->wait_s > b->wait_s || (a->wait_s == b->wait_s && a->pid < b->pid) ||
			    (b->wait_s < 0 && a->wait_s >= 0));
	}
	locktree_release(&t);
	snapshot_unref(s);
	free(es);
}

/* Invariants on seeded random graphs (with joins and cycles). */
static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rng_state >> 33);
}

static void test_random_invariants(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 200; seed++) {
		size_t nn = 2 + seed % 60, ne = 0;
		struct edge_spec *es = xcalloc(3 * nn, sizeof(*es));
		struct snapshot *s;
		struct locktree t;
		size_t *firsts, nodes_seen = 0, bound;

		rng_state = seed;
		for (size_t i = 0; i < nn; i++) {
			int waiter = (int)(rng() % nn) + 1;
			int k = 1 + (int)(rng() % 3 == 0);

			for (int j = 0; j < k; j++) {
				int blocker = (int)(rng() % nn) + (rng() % 5 == 0 ? 0 : 1);

				bool hard = rng() % 2;
				double waited = (double)(rng() % 10);

				es[ne++] = (struct edge_spec){ waiter, blocker, hard, waited, NULL, NULL };
			}
		}
		s = make_edges(es, ne);
		locktree_build(&t, s);
		firsts = xcalloc(s->locks->nnodes, sizeof(*firsts));
		/* linear: a line per edge, per head, per cycle member at most */
		bound = s->locks->nedges + s->locks->nroots + 2 * s->locks->ncycles +
			s->locks->nnodes;
		assert_true(t.nlines <= bound);
		for (size_t i = 0; i < t.nlines; i++) {
			const struct locktree_line *l = &t.lines[i];

			if (l->kind == LOCKTREE_CYCLE_HEAD || l->kind == LOCKTREE_ROOT) {
				assert_int_equal(l->depth, 0);
				continue;
			}
			/* the parent is the nearest line above one level up */
			size_t j = i;

			while (j > 0 && t.lines[j - 1].depth != l->depth - 1)
				j--;
			assert_true(j > 0);
			assert_int_equal(t.lines[j - 1].group, l->group);
			if (l->kind == LOCKTREE_WAITER)
				assert_int_equal(t.lines[j - 1].pid, l->blocker);
			else
				assert_int_equal(t.lines[j - 1].kind, LOCKTREE_CYCLE_HEAD);
			assert_non_null(l->edge);
			assert_int_equal(l->edge->waiter, l->pid);
		}
		/* every session listed, the first time expanded, later repeats */
		for (size_t i = 0; i < t.nlines; i++) {
			const struct locktree_line *l = &t.lines[i];

			if (l->kind == LOCKTREE_CYCLE_HEAD)
				continue;
			if (!firsts[l->node]) {
				firsts[l->node] = i + 1;
				nodes_seen++;
				assert_false(l->repeat);
			} else {
				assert_true(l->repeat);
			}
		}
		assert_int_equal(nodes_seen, s->locks->nnodes);
		free(firsts);
		locktree_release(&t);
		snapshot_unref(s);
		free(es);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_of_three),
		cmocka_unit_test(test_fan_out),
		cmocka_unit_test(test_two_roots),
		cmocka_unit_test(test_cycle_group),
		cmocka_unit_test(test_self_loop_and_cycle_on_root),
		cmocka_unit_test(test_dag_join),
		cmocka_unit_test(test_prepared_xact),
		cmocka_unit_test(test_empty_and_draw_bounds),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_random_invariants),
	};

	if (!setlocale(LC_ALL, "C.UTF-8")) {
		fprintf(stderr, "test_locktree: locale C.UTF-8 is not available\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
