/*
 * overview: the first screen — is the server healthy, and if not, where to
 * look. A health strip (connections by state against max_connections, TPS,
 * cache hit ratio, longest transaction, replication lag, disk use), the
 * things that need attention now (computed from this snapshot against the
 * configured thresholds: lock chains, cycles, deadlocks, long idle
 * transactions, slow statements, disk, bloat, connections, what cockpit
 * cannot see), the open incidents of the brain's newest board with what
 * each proposes, and sparklines of the last minutes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "act/action.h"
#include "act/proposal.h"
#include "perceive/snapshot.h"
#include "think/brain.h"
#include "ui/bar.h"
#include "ui/format.h"
#include "ui/history.h"
#include "ui/screen.h"
#include "ui/sparkline.h"

static const struct key_help keys[] = {
	{ "3", "the Locks screen when a lock chain is listed" },
	{ "7", "the Proposals screen: decide on the open incidents" },
};

static void *create(void)
{
	return xcalloc(1, 1);
}

static void destroy(void *p)
{
	free(p);
}

struct attention {
	enum theme_role role;
	char text[256];
};

#define MAX_ATTN 24
/* Items of one kind (lock chains, cycles, idle transactions) listed before
 * the rest are summed up in one line: with forty lock chains the list still
 * shows the cycles, the disk and the connections. */
#define ATTN_EACH 5

static void add(struct attention *a, size_t *n, enum theme_role role, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(struct attention *a, size_t *n, enum theme_role role, const char *fmt, ...)
{
	va_list ap;

	if (*n >= MAX_ATTN)
		return;
	a[*n].role = role;
	va_start(ap, fmt);
	vsnprintf(a[*n].text, sizeof(a[*n].text), fmt, ap);
	va_end(ap);
	(*n)++;
}

static size_t attention(const struct snapshot *s, const struct config *cfg, double now,
			struct attention *a)
{
	const struct config_thresholds *th = &cfg->thresholds;
	const struct lockgraph *g = s->locks;
	size_t n = 0, idle_xacts = 0;
	int conns = 0;
	char b1[32], b2[32];

	for (size_t i = 0; g && i < g->nroots && i < ATTN_EACH; i++) {
		const struct lockgraph_node *root = &g->nodes[g->roots[i]];
		size_t si = snapshot_find_session(s, root->pid);
		const struct snap_session *x = si != SIZE_MAX ? &s->sessions[si] : NULL;

		add(a, &n, THEME_CRIT, "lock chain: pid %d blocks %zu session%s (%s%s%s)", root->pid,
		    root->blocked_total, root->blocked_total == 1 ? "" : "s",
		    root->pid == 0 ? "a prepared transaction" : (x && x->state ? x->state : "?"),
		    x && x->user ? ", " : "", x && x->user ? x->user : "");
	}
	if (g && g->nroots > ATTN_EACH) /* roots come most blocked first */
		add(a, &n, THEME_CRIT, "%zu more lock chains, the biggest blocking %zu (the Locks screen, 3)",
		    g->nroots - ATTN_EACH, g->nodes[g->roots[ATTN_EACH]].blocked_total);
	for (size_t i = 0; g && i < g->ncycles && i < ATTN_EACH; i++)
		add(a, &n, THEME_CRIT, "deadlock cycle of %zu sessions (PostgreSQL ends it after deadlock_timeout)",
		    g->cycles[i].count);
	if (g && g->ncycles > ATTN_EACH)
		add(a, &n, THEME_CRIT, "%zu more deadlock cycles (the Locks screen, 3)", g->ncycles - ATTN_EACH);
	for (size_t i = 0; i < s->ndeadlocks; i++) {
		const struct snap_deadlock *d = &s->deadlocks[i];

		if (d->at > 0 && now - d->at < 600)
			add(a, &n, THEME_WARN, "deadlock %s ago: pid %d aborted (%zu processes)",
			    fmt_duration(now - d->at, b1, sizeof(b1)), d->pid, d->nprocs);
	}
	for (size_t i = 0; i < s->nsessions; i++) {
		const struct snap_session *x = &s->sessions[i];

		if (x->backend_type && strcmp(x->backend_type, "client backend") == 0)
			conns++;
		if (!x->state || strncmp(x->state, "idle in transaction", 19) != 0 || x->state_change <= 0 ||
		    now - x->state_change < th->idle_in_transaction_s)
			continue;
		if (idle_xacts++ < ATTN_EACH)
			add(a, &n, THEME_WARN, "pid %d idle in transaction for %s (%s%s%s)", x->pid,
			    fmt_duration(now - x->state_change, b1, sizeof(b1)), x->user ? x->user : "?",
			    x->agent_id ? ", agent " : "", x->agent_id ? x->agent_id : "");
	}
	if (idle_xacts > ATTN_EACH)
		add(a, &n, THEME_WARN, "%zu more sessions idle in transaction for over %s (the Sessions screen, 2)",
		    idle_xacts - ATTN_EACH, fmt_duration(th->idle_in_transaction_s, b1, sizeof(b1)));
	for (size_t i = 0; i < s->nstatements; i++) {
		const struct snap_statement *x = &s->statements[i];

		if (x->calls > 0 && x->mean_ms >= th->slow_query_mean_ms) {
			char q[120];

			add(a, &n, THEME_WARN, "slow statement: mean %s over %.0f calls: %s",
			    fmt_duration(x->mean_ms / 1000, b1, sizeof(b1)), x->calls,
			    fmt_oneline(x->query ? x->query : "(text pending)", q, sizeof(q)));
		}
	}
	if (s->disk.fs_known && s->disk.fs_total_bytes > 0) {
		double pct = 100.0 * (double)s->disk.fs_used_bytes / (double)s->disk.fs_total_bytes;

		if (pct >= th->disk_warn_pct)
			add(a, &n, pct >= th->disk_crit_pct ? THEME_CRIT : THEME_WARN,
			    "filesystem of the data directory %.0f%% full (%s free)", pct,
			    fmt_bytes(s->disk.fs_avail_bytes, b1, sizeof(b1)));
	}
	for (size_t i = 0; i < s->disk.ntables; i++) {
		const struct snap_table *t = &s->disk.tables[i];

		if (t->dead_ratio >= th->dead_tuple_ratio && t->dead_tuples >= th->dead_tuple_min)
			add(a, &n, THEME_WARN, "bloat: %s.%s has %s dead tuples (%s)", t->schema ? t->schema : "",
			    t->name ? t->name : "", fmt_count((double)t->dead_tuples, b1, sizeof(b1)),
			    fmt_percent(t->dead_ratio, b2, sizeof(b2)));
	}
	for (size_t i = 0; i < s->disk.nslots; i++)
		if (!s->disk.slots[i].active && s->disk.slots[i].retained_bytes > 0)
			add(a, &n, THEME_WARN, "inactive replication slot %s retains %s of WAL",
			    s->disk.slots[i].name ? s->disk.slots[i].name : "?",
			    fmt_bytes(s->disk.slots[i].retained_bytes, b1, sizeof(b1)));
	if (s->server.max_connections > 0 && 100.0 * conns / s->server.max_connections >= th->connections_pct)
		add(a, &n, THEME_CRIT, "connections at %d of max_connections %d", conns, s->server.max_connections);
	for (size_t i = 0; i < s->nproblems; i++)
		add(a, &n, THEME_DIM, "cannot see %s: %s", s->problems[i].panel, s->problems[i].message);
	return n;
}

/* The board's open incidents, one line each (at most a third of the
 * screen, the rest counted); returns the next free row. */
static int draw_incidents(const struct view *v, struct canvas *c, struct canvas_rect r, int y, int end)
{
	const struct board *b = v->board;
	int max = (end - y) / 3;
	char line[512];

	if (!b || (!b->incidents.n && !b->note) || max < 2)
		return y;
	y++;
	snprintf(line, sizeof(line), "Open incidents (%zu)", b->incidents.n);
	screen_title(c, r.x, y++, r.w, line);
	if (b->note && max-- > 1)
		canvas_text(c, r.x + 1, y++, r.w - 2, THEME_DIM, b->note);
	for (size_t i = 0; i < b->incidents.n && y < end; i++) {
		const struct incident *in = &b->incidents.v[i];
		const struct proposal *p = in->nproposals ? in->proposals[0] : NULL;
		enum theme_role role = in->severity == SEVERITY_CRITICAL ? THEME_CRIT :
				       in->severity == SEVERITY_WARNING ? THEME_WARN : THEME_NORMAL;

		if (max-- <= 1 && i + 1 < b->incidents.n) {
			snprintf(line, sizeof(line), "... and %zu more on the Proposals screen (7)", b->incidents.n - i);
			canvas_text(c, r.x + 1, y++, r.w - 2, THEME_DIM, line);
			break;
		}
		/* What to do first, then why: a long summary may be cut. */
		if (p)
			snprintf(line, sizeof(line), "%s -> %s %s%s: %s", in->runbook ? in->runbook : "?",
				 p->action ? p->action->name : "?", p->target ? p->target : "",
				 in->nproposals > 1 ? " (+more, see 7)" : "", in->summary ? in->summary : "");
		else
			snprintf(line, sizeof(line), "%s -> escalated: %s (%s)", in->runbook ? in->runbook : "?",
				 in->summary ? in->summary : "", in->escalation ? in->escalation : "no proposal");
		canvas_text(c, r.x + 1, y++, r.w - 2, role, line);
	}
	return y;
}

static void draw(void *p, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	const struct snapshot *s = v->snap;
	struct attention items[MAX_ATTN];
	int y = r.y, end = r.y + r.h, states[4] = { 0 }, conns = 0;
	double now, longest = 0;
	char b1[32], b2[32], b3[32], b4[32], line[320];
	size_t n;

	(void)p;
	if (!s) {
		canvas_text(c, r.x + 1, r.y + 1, r.w - 2, THEME_DIM, "waiting for the first snapshot...");
		return;
	}
	now = screen_server_now(v, s);
	for (size_t i = 0; i < s->nsessions; i++) {
		const struct snap_session *x = &s->sessions[i];

		if (!x->backend_type || strcmp(x->backend_type, "client backend") != 0)
			continue;
		conns++;
		if (x->wait_event_type && strcmp(x->wait_event_type, "Lock") == 0)
			states[3]++;
		else if (x->state && strcmp(x->state, "active") == 0)
			states[0]++;
		else if (x->state && strncmp(x->state, "idle in transaction", 19) == 0)
			states[2]++;
		else
			states[1]++;
		if (x->xact_start > 0 && now - x->xact_start > longest)
			longest = now - x->xact_start;
	}

	screen_title(c, r.x, y++, r.w, "Health");
	/* Connections by state against max_connections, as one segmented bar. */
	{
		int bw = r.w - 2 - 46, x = r.x + 1 + 14;
		static const enum theme_role roles[4] = {
			THEME_STATE_ACTIVE, THEME_STATE_IDLE, THEME_STATE_IDLE_XACT, THEME_STATE_WAITING
		};
		int maxc = s->server.max_connections > 0 ? s->server.max_connections : conns;

		canvas_text(c, r.x + 1, y, 13, THEME_NORMAL, "connections");
		if (bw > 8 && maxc > 0) {
			int used = 0;

			for (int k = 0; k < 4; k++) {
				int cells = (int)((double)states[k] * bw / maxc + 0.5);

				if (states[k] && !cells)
					cells = 1;
				if (used + cells > bw)
					cells = bw - used;
				canvas_fill(c, x + used, y, cells, roles[k], canvas_glyph(c, GLYPH_BLOCK_FULL));
				used += cells;
			}
			canvas_fill(c, x + used, y, bw - used, THEME_BAR_EMPTY, canvas_glyph(c, GLYPH_BLOCK_LIGHT));
		}
		snprintf(line, sizeof(line), "%d/%d  act %d idle %d itx %d wait %d", conns, maxc, states[0],
			 states[1], states[2], states[3]);
		canvas_text(c, r.x + r.w - 45, y++, 44, THEME_NORMAL, line);
	}
	snprintf(line, sizeof(line), "tps %s   cache hit %s   longest transaction %s   replication lag %s",
		 s->server.tps >= 0 ? fmt_count(s->server.tps, b1, sizeof(b1)) : "-",
		 s->server.cache_hit_ratio >= 0 ? fmt_percent(s->server.cache_hit_ratio, b2, sizeof(b2)) : "-",
		 longest > 0 ? fmt_duration(longest, b3, sizeof(b3)) : "-",
		 s->server.replication_lag_s >= 0 ? fmt_duration(s->server.replication_lag_s, b4, sizeof(b4)) : "none");
	canvas_text(c, r.x + 1, y++, r.w - 2, longest > v->cfg->thresholds.long_transaction_s ? THEME_WARN : THEME_NORMAL, line);
	if (s->disk.fs_known && s->disk.fs_total_bytes > 0) {
		double f = (double)s->disk.fs_used_bytes / (double)s->disk.fs_total_bytes;
		int bw = r.w - 2 - 46;

		canvas_text(c, r.x + 1, y, 13, THEME_NORMAL, "disk");
		if (bw > 8)
			bar_draw(c, r.x + 15, y, bw, f,
				 bar_role(f, v->cfg->thresholds.disk_warn_pct / 100, v->cfg->thresholds.disk_crit_pct / 100),
				 NULL, BAR_LABEL_NONE);
		snprintf(line, sizeof(line), "%s used, %s free  WAL %s", fmt_percent(f, b1, sizeof(b1)),
			 fmt_bytes(s->disk.fs_avail_bytes, b2, sizeof(b2)), fmt_bytes(s->disk.wal_bytes, b3, sizeof(b3)));
		canvas_text(c, r.x + r.w - 45, y++, 44, THEME_NORMAL, line);
	}

	/* Sparklines of the last minutes. */
	if (end - y >= 8) {
		struct { const char *label; const struct sparkline *sp; } rows[] = {
			{ "tps", &v->hist->tps }, { "active", &v->hist->active },
			{ "waiting", &v->hist->waiting }, { "connections", &v->hist->connections },
		};

		y++;
		for (size_t i = 0; i < 4; i++, y++) {
			canvas_text(c, r.x + 1, y, 13, THEME_DIM, rows[i].label);
			sparkline_draw(rows[i].sp, c, r.x + 15, y, r.w - 16 - 10, 0, THEME_SPARK);
			if (rows[i].sp->len)
				canvas_text(c, r.x + r.w - 9, y, 8, THEME_NORMAL,
					    fmt_count(sparkline_last(rows[i].sp), b1, sizeof(b1)));
		}
	}

	y = draw_incidents(v, c, r, y, end);
	n = attention(s, v->cfg, now, items);
	y++;
	snprintf(line, sizeof(line), "Needs attention (%zu)", n);
	screen_title(c, r.x, y++, r.w, line);
	if (!n)
		canvas_text(c, r.x + 1, y, r.w - 2, THEME_OK, "nothing: no lock waits, no slow statements, disk and connections fine");
	for (size_t i = 0; i < n && y < end; i++)
		canvas_text(c, r.x + 1, y++, r.w - 2, items[i].role, items[i].text);
}

const struct screen_ops screen_overview = {
	"Overview", keys, sizeof(keys) / sizeof(*keys), create, destroy, draw, NULL, NULL, NULL, NULL,
};
