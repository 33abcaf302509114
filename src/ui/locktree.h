/*
 * locktree: the lock graph of a snapshot laid out as an indented tree of
 * lines, for the locks screen.
 *
 * Layout is pure and unit-tested (STYLE rule 7): locktree_build() turns a
 * snapshot's wait-for graph (s->locks) and sessions into an array of lines;
 * locktree_draw() only copies lines into a canvas. The screen keeps one
 * locktree per snapshot and rebuilds it in on_snapshot.
 *
 * Groups, in order:
 *   1. one per root blocker, in lockgraph's roots order (most sessions
 *      blocked first): the root's line, then everything waiting behind it as
 *      a tree (children of a node are the sessions waiting on it, longest
 *      waiting first, then by pid);
 *   2. one per deadlock cycle, in lockgraph's order: a head line listing the
 *      members ("deadlock cycle: 101 ↻ 102"), each member below it (with the
 *      edge to the member it waits for), and under each member the sessions
 *      waiting behind it.
 * A parent line always comes before its children, so a root blocker is
 * above its waiters on screen.
 *
 * A session waiting on several blockers appears under each of them; its own
 * waiters are listed only the first time (in the group of the biggest
 * root), later appearances are marked `repeat` ("see above") and not
 * expanded. That makes joins and cycles terminate and bounds the lines by
 * edges + groups. The walk is iterative, so a 10,000-session chain costs
 * heap, not stack; indentation stops growing at LOCKTREE_MAX_INDENT levels
 * (the depth is still in each line).
 *
 * Ownership: lines is owned. Pointers in a line (edge, session) and the graph
 * are borrowed from the snapshot passed to locktree_build: keep a reference
 * to it for as long as the tree is used. UI thread only.
 */
#ifndef COCKPIT_UI_LOCKTREE_H
#define COCKPIT_UI_LOCKTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perceive/lockgraph.h"
#include "perceive/snapshot.h"
#include "ui/canvas.h"

#define LOCKTREE_MAX_INDENT 16

/* One indentation level of a line's prefix; each is two cells on screen. */
enum locktree_seg {
	LOCKTREE_SEG_BLANK,  /* "  " an ancestor was the last child */
	LOCKTREE_SEG_VLINE,  /* "│ " an ancestor has siblings below */
	LOCKTREE_SEG_TEE,    /* "├─" this line, more siblings follow */
	LOCKTREE_SEG_CORNER, /* "└─" this line, the last sibling */
};

enum locktree_kind {
	LOCKTREE_ROOT,       /* a root blocker: head of its group */
	LOCKTREE_CYCLE_HEAD, /* "deadlock cycle: ..." head of its group */
	LOCKTREE_MEMBER,     /* a cycle member under its cycle head */
	LOCKTREE_WAITER,     /* a session waiting on the line's parent */
};

struct locktree_line {
	enum locktree_kind kind;
	int depth;                 /* 0 for heads; tree depth within the group */
	int pid;                   /* 0: prepared transaction; cycle head: lowest member */
	size_t group;              /* index of the group (0-based) */
	size_t node;               /* lockgraph node index; SIZE_MAX for a cycle head */
	uint8_t prefix[LOCKTREE_MAX_INDENT]; /* enum locktree_seg, nprefix of them */
	int nprefix;               /* min(depth, LOCKTREE_MAX_INDENT) */
	/* Waiters and members: the edge from this line's session to the one it
	 * waits for (for a waiter, its parent line). NULL on roots and heads. */
	const struct lockgraph_edge *edge; /* borrowed from the graph */
	int blocker;               /* edge->blocker, or -1 */
	double wait_s;             /* seconds waited (edge wait_start to server now), -1 unknown */
	const struct snap_session *session; /* borrowed; NULL: prepared xact or session gone */
	bool is_root;              /* the node is a root blocker */
	bool in_cycle;             /* the node is a member of a cycle */
	bool prepared_xact;        /* pid 0 */
	bool repeat;               /* already listed above with its waiters: not expanded */
	int cycle;                 /* cycle index in the graph, or -1 */
	size_t also_waits;         /* waiters: how many other sessions it waits for */
	size_t blocked_total;      /* heads (and members): sessions waiting behind */
};

struct locktree {
	struct locktree_line *lines; /* owned */
	size_t nlines;
	size_t ngroups;
	const struct lockgraph *graph; /* borrowed from the snapshot; NULL when none */
	double now;                  /* server clock of the snapshot (epoch seconds) */
};

/* Lay out s->locks (s may be NULL or have no graph: an empty tree). Any
 * previous content of t is not freed: call on a fresh or released tree. */
void locktree_build(struct locktree *t, const struct snapshot *s);
void locktree_release(struct locktree *t);
/* First line at or after from showing pid (not a cycle head), or SIZE_MAX:
 * keeps the selection on a session across rebuilds. */
size_t locktree_find(const struct locktree *t, int pid, size_t from);
/* Draw lines top.. into r, line `selected` reversed (SIZE_MAX: none). Tree
 * lines in THEME_LOCK_EDGE; a root in THEME_LOCK_BLOCKER, or
 * THEME_STATE_IDLE_XACT when it sits idle in a transaction; waiters in
 * THEME_LOCK_WAITER; cycle heads and members in THEME_LOCK_CYCLE. An empty
 * tree says "no lock waits". Writes every cell of r and nothing outside. */
void locktree_draw(const struct locktree *t, struct canvas *c, struct canvas_rect r, size_t top,
		   size_t selected);
/* The text of line i after its prefix, as drawn (for tests and copy), the
 * cycle sign '@' instead of '↻' when ascii: writes into buf (truncating) and
 * returns it; "" past the end. */
char *locktree_line_text(const struct locktree *t, size_t i, bool ascii, char *buf,
			 size_t size);

#endif
