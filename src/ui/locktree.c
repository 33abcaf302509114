/*
 * locktree: lay the wait-for graph out as tree lines and draw them; see
 * locktree.h.
 *
 * locktree_build() is one pass per group with an explicit stack (preorder
 * depth-first), so chain length never touches the C stack. A `seen` flag
 * per graph node makes every session's waiters listed once: the first
 * appearance expands, later ones are `repeat` lines. Two lookup tables are
 * built once per tree, both linear after one sort: the session of every
 * graph node (nodes and sessions are merged in pid order) and the waiter
 * node of every edge (edges are grouped by waiter in node order).
 *
 * Drawing turns a line into pieces of text with a role each (compose()),
 * the same pieces locktree_line_text() concatenates for tests, so what a
 * test reads is what the screen shows.
 */
#include "ui/locktree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/strbuf.h"
#include "ui/format.h"

#define QUERY_MAX 512    /* bytes of query text shown on a line */
#define MAX_PIECES 24
#define CYCLE_LIST_MAX 8 /* members named on a cycle head */
#define ALSO_LIST_MAX 3  /* other blockers named on a waiter */

struct pending {
	enum locktree_kind kind; /* LOCKTREE_WAITER or LOCKTREE_MEMBER */
	size_t node;             /* graph node of the line to emit */
	size_t edge;             /* its edge to the session it waits for; SIZE_MAX none */
	size_t parent;           /* line index of the parent */
	int depth;
	bool last;               /* last child of its parent */
};

struct child {
	double wait_start;
	int pid;
	size_t edge, node;
};

/* Scratch state of one build; every pointer owned and freed at the end. */
struct build {
	struct locktree *t;
	const struct snapshot *s;
	const struct lockgraph *g;
	const struct snap_session **session_of; /* node -> session or NULL */
	size_t *waiter_of;                      /* edge -> waiter node */
	bool *seen;                             /* node already has a line */
	struct pending *stack;
	size_t nstack, stack_alloc;
	struct child *kids;
	size_t kids_alloc;
	size_t lines_alloc;                     /* capacity of t->lines */
};

struct pid_index {
	int pid;
	size_t index;
};

static int cmp_pid_index(const void *a, const void *b)
{
	const struct pid_index *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Longest waiting first (unknown start last), then by pid. */
static int cmp_child(const void *a, const void *b)
{
	const struct child *x = a, *y = b;
	bool kx = x->wait_start > 0, ky = y->wait_start > 0;

	if (kx != ky)
		return kx ? -1 : 1;
	if (kx && x->wait_start != y->wait_start)
		return x->wait_start < y->wait_start ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* session_of[node] by merging the pid-sorted nodes with the pid-sorted
 * sessions: O(n log n) once instead of a linear search per line. */
static void map_sessions(struct build *b)
{
	size_t ns = b->s->nsessions, nn = b->g->nnodes, j = 0;
	struct pid_index *by_pid = xmalloc((ns ? ns : 1) * sizeof(*by_pid));

	for (size_t i = 0; i < ns; i++)
		by_pid[i] = (struct pid_index){ b->s->sessions[i].pid, i };
	qsort(by_pid, ns, sizeof(*by_pid), cmp_pid_index);
	for (size_t v = 0; v < nn; v++) {
		int pid = b->g->nodes[v].pid;

		while (j < ns && by_pid[j].pid < pid)
			j++;
		b->session_of[v] = j < ns && by_pid[j].pid == pid && pid != 0
					   ? &b->s->sessions[by_pid[j].index]
					   : NULL;
	}
	free(by_pid);
}

/* Append a blank line; pointers into t->lines are invalid afterwards. */
static struct locktree_line *new_line(struct build *b)
{
	struct locktree *t = b->t;
	struct locktree_line *l;

	XGROW(t->lines, b->lines_alloc, t->nlines + 1);
	l = &t->lines[t->nlines++];
	memset(l, 0, sizeof(*l));
	l->blocker = -1;
	l->wait_s = -1;
	l->cycle = -1;
	l->node = SIZE_MAX;
	return l;
}

/* Fill the per-node fields of line l from graph node v. */
static void describe_node(struct build *b, struct locktree_line *l, size_t v)
{
	const struct lockgraph_node *n = &b->g->nodes[v];

	l->node = v;
	l->pid = n->pid;
	l->session = b->session_of[v];
	l->is_root = n->root;
	l->cycle = n->cycle;
	l->in_cycle = n->cycle >= 0;
	l->prepared_xact = n->pid == 0;
	l->blocked_total = n->blocked_total;
	l->repeat = b->seen[v];
	b->seen[v] = true;
}

/* Push the sessions waiting on node v (shown as line `line`) as children at
 * depth depth, so they pop in display order. skip_cycle >= 0: leave out members of that cycle
 * (they are listed under the cycle head already). */
static void push_waiters(struct build *b, size_t v, size_t line, int depth, int skip_cycle)
{
	const struct lockgraph *g = b->g;
	const struct lockgraph_node *n = &g->nodes[v];
	size_t nk = 0;

	XGROW(b->kids, b->kids_alloc, n->in_count ? n->in_count : 1);
	for (size_t k = 0; k < n->in_count; k++) {
		size_t e = g->in_edges[n->in_first + k];
		size_t w = b->waiter_of[e];

		if (skip_cycle >= 0 && g->nodes[w].cycle == skip_cycle)
			continue;
		b->kids[nk++] = (struct child){ g->edges[e].wait_start, g->nodes[w].pid, e, w };
	}
	if (nk == 0)
		return;
	qsort(b->kids, nk, sizeof(*b->kids), cmp_child);
	XGROW(b->stack, b->stack_alloc, b->nstack + nk);
	for (size_t k = nk; k-- > 0;)
		b->stack[b->nstack++] = (struct pending){
			LOCKTREE_WAITER, b->kids[k].node, b->kids[k].edge, line, depth, k == nk - 1,
		};
}

/* The prefix of a child line at depth d from its parent's. */
static void set_prefix(struct locktree_line *l, const struct locktree_line *parent, bool last)
{
	int n = l->depth < LOCKTREE_MAX_INDENT ? l->depth : LOCKTREE_MAX_INDENT;

	for (int i = 0; i < n - 1; i++) {
		uint8_t seg = parent->prefix[i];

		if (seg == LOCKTREE_SEG_TEE)
			seg = LOCKTREE_SEG_VLINE;
		else if (seg == LOCKTREE_SEG_CORNER)
			seg = LOCKTREE_SEG_BLANK;
		l->prefix[i] = seg;
	}
	if (n > 0)
		l->prefix[n - 1] = last ? LOCKTREE_SEG_CORNER : LOCKTREE_SEG_TEE;
	l->nprefix = n;
}

/* Pop the stack until empty, emitting lines; group is the current group,
 * skip_cycle as for push_waiters. */
static void drain(struct build *b, size_t group, int skip_cycle)
{
	struct locktree *t = b->t;

	while (b->nstack > 0) {
		struct pending p = b->stack[--b->nstack];
		const struct lockgraph_node *n = &b->g->nodes[p.node];
		size_t idx = t->nlines;
		struct locktree_line *l = new_line(b);

		l->kind = p.kind;
		l->group = group;
		l->depth = p.depth;
		describe_node(b, l, p.node);
		set_prefix(l, &t->lines[p.parent], p.last);
		l->also_waits = n->out_count > 0 ? n->out_count - 1 : 0;
		if (p.edge != SIZE_MAX) {
			const struct lockgraph_edge *e = &b->g->edges[p.edge];

			l->edge = e;
			l->blocker = e->blocker;
			if (e->wait_start > 0 && t->now > 0)
				l->wait_s = t->now > e->wait_start ? t->now - e->wait_start : 0;
		}
		if (!l->repeat)
			push_waiters(b, p.node, idx, p.depth + 1, skip_cycle);
	}
}

/* The member's edge inside its cycle (the first to another member). */
static size_t cycle_edge(const struct build *b, size_t v)
{
	const struct lockgraph *g = b->g;
	const struct lockgraph_node *n = &g->nodes[v];

	for (size_t k = 0; k < n->out_count; k++) {
		size_t e = n->out_first + k;
		size_t to = lockgraph_find(g, g->edges[e].blocker);

		if (to != SIZE_MAX && g->nodes[to].cycle == n->cycle)
			return e;
	}
	return n->out_count ? n->out_first : SIZE_MAX;
}

static void build_release(struct build *b)
{
	free(b->session_of);
	free(b->waiter_of);
	free(b->seen);
	free(b->stack);
	free(b->kids);
}

void locktree_build(struct locktree *t, const struct snapshot *s)
{
	struct build b = { 0 };
	const struct lockgraph *g = s ? s->locks : NULL;
	size_t group = 0;

	memset(t, 0, sizeof(*t));
	if (!g || g->nnodes == 0)
		return;
	t->graph = g;
	t->now = s->server.now > 0 ? s->server.now : s->collected_at;
	b.t = t;
	b.s = s;
	b.g = g;
	b.session_of = xcalloc(g->nnodes, sizeof(*b.session_of));
	b.waiter_of = xcalloc(g->nedges ? g->nedges : 1, sizeof(*b.waiter_of));
	b.seen = xcalloc(g->nnodes, sizeof(*b.seen));
	map_sessions(&b);
	for (size_t v = 0; v < g->nnodes; v++)
		for (size_t k = 0; k < g->nodes[v].out_count; k++)
			b.waiter_of[g->nodes[v].out_first + k] = v;

	for (size_t r = 0; r < g->nroots; r++, group++) {
		size_t v = g->roots[r];
		struct locktree_line *l = new_line(&b);

		l->kind = LOCKTREE_ROOT;
		l->group = group;
		describe_node(&b, l, v);
		if (!l->repeat)
			push_waiters(&b, v, t->nlines - 1, 1, -1);
		drain(&b, group, -1);
	}
	for (size_t c = 0; c < g->ncycles; c++, group++) {
		const struct lockgraph_cycle *cy = &g->cycles[c];
		size_t head = t->nlines;
		struct locktree_line *l = new_line(&b);

		l->kind = LOCKTREE_CYCLE_HEAD;
		l->group = group;
		l->cycle = (int)c;
		l->in_cycle = true;
		l->pid = g->nodes[g->cycle_nodes[cy->first]].pid;
		l->blocked_total = g->nodes[g->cycle_nodes[cy->first]].blocked_total;
		XGROW(b.stack, b.stack_alloc, b.nstack + cy->count);
		for (size_t k = cy->count; k-- > 0;) {
			size_t v = g->cycle_nodes[cy->first + k];

			b.stack[b.nstack++] = (struct pending){
				LOCKTREE_MEMBER, v, cycle_edge(&b, v), head, 1, k == cy->count - 1,
			};
		}
		drain(&b, group, (int)c);
	}
	t->ngroups = group;
	build_release(&b);
}

void locktree_release(struct locktree *t)
{
	free(t->lines);
	memset(t, 0, sizeof(*t));
}

size_t locktree_find(const struct locktree *t, int pid, size_t from)
{
	for (size_t i = from; i < t->nlines; i++)
		if (t->lines[i].kind != LOCKTREE_CYCLE_HEAD && t->lines[i].pid == pid)
			return i;
	return SIZE_MAX;
}

/* ---- text of a line ---- */

struct piece {
	enum theme_role role;
	size_t off; /* into the strbuf; each piece is NUL-terminated */
};

struct pieces {
	struct strbuf sb;
	struct piece p[MAX_PIECES];
	int n;
};

static void add(struct pieces *ps, enum theme_role role, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct pieces *ps, enum theme_role role, const char *fmt, ...)
{
	va_list ap;

	if (ps->n == MAX_PIECES)
		return;
	ps->p[ps->n].role = role;
	ps->p[ps->n].off = ps->sb.len;
	ps->n++;
	va_start(ap, fmt);
	strbuf_vaddf(&ps->sb, fmt, ap);
	va_end(ap);
	strbuf_addch(&ps->sb, '\0');
}

static bool idle_in_xact(const struct snap_session *ss)
{
	return ss && ss->state && strncmp(ss->state, "idle in transaction", 19) == 0;
}

static enum theme_role state_role(const char *state)
{
	if (!state)
		return THEME_DIM;
	if (strncmp(state, "idle in transaction", 19) == 0)
		return THEME_STATE_IDLE_XACT;
	if (strcmp(state, "idle") == 0)
		return THEME_STATE_IDLE;
	if (strcmp(state, "active") == 0)
		return THEME_STATE_ACTIVE;
	return THEME_DIM;
}

static enum theme_role line_role(const struct locktree_line *l)
{
	switch (l->kind) {
	case LOCKTREE_ROOT:
		return idle_in_xact(l->session) ? THEME_STATE_IDLE_XACT : THEME_LOCK_BLOCKER;
	case LOCKTREE_CYCLE_HEAD:
	case LOCKTREE_MEMBER:
		return THEME_LOCK_CYCLE;
	case LOCKTREE_WAITER:
		break;
	}
	return l->in_cycle ? THEME_LOCK_CYCLE : THEME_LOCK_WAITER;
}

/* "  idle in transaction 4m07s  alice  psql  UPDATE ..." */
static void add_session(struct pieces *ps, const struct snap_session *ss, double now)
{
	char dur[FMT_SHORT], query[QUERY_MAX];

	if (!ss)
		return;
	if (ss->state) {
		fmt_age_since(ss->state_change, now, dur, sizeof(dur));
		if (ss->state_change > 0)
			add(ps, state_role(ss->state), "  %s %s", ss->state, dur);
		else
			add(ps, state_role(ss->state), "  %s", ss->state);
	}
	if (ss->user && ss->user[0])
		add(ps, THEME_DIM, "  %s", ss->user);
	if (ss->application && ss->application[0])
		add(ps, THEME_DIM, "  %s", ss->application);
	if (ss->query && ss->query[0])
		add(ps, THEME_NORMAL, "  %s", fmt_oneline(ss->query, query, sizeof(query)));
}

/* "  also waits for 102, 103 +2" */
static void add_also(struct pieces *ps, const struct locktree *t, const struct locktree_line *l)
{
	const struct lockgraph_node *n = &t->graph->nodes[l->node];
	struct strbuf sb = STRBUF_INIT;
	size_t named = 0;

	strbuf_init(&sb, 0);
	for (size_t k = 0; k < n->out_count; k++) {
		int pid = t->graph->edges[n->out_first + k].blocker;

		if (pid == l->blocker)
			continue;
		if (named == ALSO_LIST_MAX) {
			strbuf_addf(&sb, " +%zu", l->also_waits - named);
			break;
		}
		strbuf_addf(&sb, "%s%d", named ? ", " : "", pid);
		named++;
	}
	add(ps, THEME_DIM, "  also waits for %s", sb.buf);
	strbuf_release(&sb);
}

static void add_edge(struct pieces *ps, const struct locktree_line *l, enum theme_role role)
{
	const struct lockgraph_edge *e = l->edge;
	char dur[FMT_SHORT];
	const char *what;

	add(ps, role, "%d", l->pid);
	if (!e)
		return;
	if (l->wait_s >= 0)
		add(ps, role, " waits %s", fmt_duration(l->wait_s, dur, sizeof(dur)));
	else
		add(ps, role, " waits");
	if (l->kind == LOCKTREE_MEMBER) {
		if (e->blocker == 0)
			add(ps, role, " for prepared xact");
		else
			add(ps, role, " for %d", e->blocker);
	}
	what = e->relation ? e->relation : e->locktype;
	if (e->mode && what)
		add(ps, role, ": %s on %s", e->mode, what);
	else if (e->mode || what)
		add(ps, role, ": %s", e->mode ? e->mode : what);
	if (!e->hard)
		add(ps, THEME_DIM, " (queued)");
}

static void compose(const struct locktree *t, size_t i, bool ascii, struct pieces *ps)
{
	const struct locktree_line *l = &t->lines[i];
	enum theme_role role = line_role(l);

	strbuf_init(&ps->sb, 128);
	ps->n = 0;
	switch (l->kind) {
	case LOCKTREE_ROOT:
		if (l->prepared_xact)
			add(ps, role, "prepared transaction");
		else
			add(ps, role, "%d", l->pid);
		add(ps, role, "  blocks %zu", l->blocked_total);
		if (l->repeat)
			add(ps, THEME_DIM, "  (see above)");
		add_session(ps, l->session, t->now);
		break;
	case LOCKTREE_CYCLE_HEAD: {
		const struct lockgraph_cycle *cy = &t->graph->cycles[l->cycle];
		struct strbuf sb = STRBUF_INIT;
		const char *sep = ascii ? " @ " : " ↻ ";

		strbuf_init(&sb, 0);
		for (size_t k = 0; k < cy->count && k < CYCLE_LIST_MAX; k++)
			strbuf_addf(&sb, "%s%d", k ? sep : "",
				    t->graph->nodes[t->graph->cycle_nodes[cy->first + k]].pid);
		if (cy->count > CYCLE_LIST_MAX)
			strbuf_addf(&sb, " +%zu", cy->count - CYCLE_LIST_MAX);
		if (cy->count == 1) /* a self-loop: "5 ↻" */
			strbuf_addstr(&sb, ascii ? " @" : " ↻");
		add(ps, role, "deadlock cycle: %s", sb.buf);
		strbuf_release(&sb);
		if (l->blocked_total)
			add(ps, role, "  blocks %zu", l->blocked_total);
		break;
	}
	case LOCKTREE_MEMBER:
	case LOCKTREE_WAITER:
		add_edge(ps, l, role); /* a member's blocked_total is its cycle's: on the head */
		if (l->also_waits)
			add_also(ps, t, l);
		if (l->repeat)
			add(ps, THEME_DIM, "  (see above)");
		add_session(ps, l->session, t->now);
		break;
	}
}

char *locktree_line_text(const struct locktree *t, size_t i, bool ascii, char *buf, size_t size)
{
	struct pieces ps;
	size_t len = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (i >= t->nlines)
		return buf;
	compose(t, i, ascii, &ps);
	for (int k = 0; k < ps.n; k++) {
		const char *s = ps.sb.buf + ps.p[k].off;
		size_t n = strlen(s);

		if (len + n >= size)
			n = size - 1 - len;
		memcpy(buf + len, s, n);
		len += n;
	}
	buf[len] = '\0';
	strbuf_release(&ps.sb);
	return buf;
}

/* ---- drawing ---- */

static void draw_prefix(const struct locktree_line *l, struct canvas *c, int x, int y)
{
	for (int i = 0; i < l->nprefix; i++, x += 2) {
		uint32_t a = ' ', b = ' ';

		switch (l->prefix[i]) {
		case LOCKTREE_SEG_BLANK:
			break;
		case LOCKTREE_SEG_VLINE:
			a = canvas_glyph(c, GLYPH_VLINE);
			break;
		case LOCKTREE_SEG_TEE:
			a = canvas_glyph(c, GLYPH_TEE);
			b = canvas_glyph(c, GLYPH_HLINE);
			break;
		case LOCKTREE_SEG_CORNER:
			a = canvas_glyph(c, GLYPH_CORNER);
			b = canvas_glyph(c, GLYPH_HLINE);
			break;
		}
		canvas_fill(c, x, y, 1, THEME_LOCK_EDGE, a);
		canvas_fill(c, x + 1, y, 1, THEME_LOCK_EDGE, b);
	}
}

static void draw_line(const struct locktree *t, size_t i, struct canvas *c, int x, int y,
		      int right)
{
	const struct locktree_line *l = &t->lines[i];
	struct pieces ps;

	draw_prefix(l, c, x, y);
	x += 2 * l->nprefix;
	compose(t, i, c->ascii, &ps);
	for (int k = 0; k < ps.n && x < right; k++) {
		const char *s = ps.sb.buf + ps.p[k].off;
		int n = canvas_text(c, x, y, right - x, ps.p[k].role, s);

		x += n;
		/* cut exactly at the edge with more to come: still show the cut */
		if (x >= right && k + 1 < ps.n && n > 0)
			canvas_fill(c, right - 1, y, 1, ps.p[k].role,
				    canvas_glyph(c, GLYPH_ELLIPSIS));
	}
	strbuf_release(&ps.sb);
}

void locktree_draw(const struct locktree *t, struct canvas *c, struct canvas_rect r, size_t top,
		   size_t selected)
{
	struct canvas_rect saved = c->clip;
	int x0 = r.x > saved.x ? r.x : saved.x;
	int y0 = r.y > saved.y ? r.y : saved.y;
	int x1 = r.x + r.w < saved.x + saved.w ? r.x + r.w : saved.x + saved.w;
	int y1 = r.y + r.h < saved.y + saved.h ? r.y + r.h : saved.y + saved.h;

	canvas_set_clip(c, (struct canvas_rect){ x0, y0, x1 - x0, y1 - y0 });
	for (int row = 0; row < r.h; row++) {
		size_t i = top + (size_t)row;
		int y = r.y + row;

		canvas_fill(c, r.x, y, r.w, THEME_NORMAL, ' ');
		if (i >= t->nlines)
			continue;
		draw_line(t, i, c, r.x, y, r.x + r.w);
		if (i == selected)
			canvas_attr(c, r.x, y, r.w, THEME_ATTR_REVERSE);
	}
	if (t->nlines == 0 && r.h > 0)
		canvas_text(c, r.x, r.y, r.w, THEME_DIM, "no lock waits");
	c->clip = saved;
}
