/*
 * disk: the Disk screen — where the bytes are. Bars for the filesystem of
 * the data directory, WAL, server logs, temp files and each database; the
 * largest and most bloated tables with their dead-tuple ratio and last
 * (auto)vacuum; replication slots holding WAL back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "perceive/snapshot.h"
#include "ui/bar.h"
#include "ui/format.h"
#include "ui/screen.h"

static const struct key_help keys[] = {
	{ "j k", "scroll the table list" },
};

struct disk {
	size_t top;
};

static void *create(void)
{
	return xcalloc(1, sizeof(struct disk));
}

static void destroy(void *p)
{
	free(p);
}

/* One labelled bar line: "label  [#####.....]  value". */
static void bar_line(struct canvas *c, struct canvas_rect r, int y, const char *label,
		     double fraction, enum theme_role role, const char *value)
{
	int lw = 14, vw = 24, bw = r.w - lw - vw - 3;

	canvas_text(c, r.x + 1, y, lw, THEME_NORMAL, label);
	if (bw >= 6 && fraction >= 0)
		bar_draw(c, r.x + 1 + lw + 1, y, bw, fraction, role, NULL, BAR_LABEL_NONE);
	canvas_text(c, r.x + r.w - vw, y, vw, THEME_NORMAL, value);
}

static void draw(void *p, const struct view *v, struct canvas *c, struct canvas_rect r)
{
	struct disk *st = p;
	const struct snapshot *s = v->snap;
	const struct snap_disk *d;
	const struct config_thresholds *th = &v->cfg->thresholds;
	int y = r.y, end = r.y + r.h;
	char a[32], b[32], free_pct[16], val[96];
	int64_t biggest_db = 1;

	if (!s) {
		canvas_text(c, r.x + 1, r.y + 1, r.w - 2, THEME_DIM, "waiting for the first snapshot...");
		return;
	}
	d = &s->disk;
	screen_title(c, r.x, y++, r.w, "Storage");
	if (d->fs_known && d->fs_total_bytes > 0) {
		double f = (double)d->fs_used_bytes / (double)d->fs_total_bytes;

		snprintf(val, sizeof(val), "%s of %s (%s free)", fmt_bytes(d->fs_used_bytes, a, sizeof(a)),
			 fmt_bytes(d->fs_total_bytes, b, sizeof(b)),
			 fmt_percent(1.0 - f, free_pct, sizeof(free_pct)));
		bar_line(c, r, y++, "filesystem", f, bar_role(f, th->disk_warn_pct / 100.0, th->disk_crit_pct / 100.0), val);
	} else {
		canvas_text(c, r.x + 1, y++, r.w - 2, THEME_DIM, "filesystem: not measured (see problems below)");
	}
	/* WAL, logs and temp as shares of the filesystem when known. */
	{
		struct { const char *label; int64_t bytes, files; } parts[] = {
			{ "WAL", d->wal_bytes, d->wal_files },
			{ "server logs", d->log_bytes, d->log_files },
			{ "temp files", d->temp_bytes, d->temp_files },
		};

		for (size_t i = 0; i < 3 && y < end; i++) {
			double f = d->fs_known && d->fs_total_bytes > 0 && parts[i].bytes >= 0 ?
				   (double)parts[i].bytes / (double)d->fs_total_bytes : -1;

			if (parts[i].bytes < 0)
				snprintf(val, sizeof(val), "unknown");
			else
				snprintf(val, sizeof(val), "%s in %lld file%s", fmt_bytes(parts[i].bytes, a, sizeof(a)),
					 (long long)parts[i].files, parts[i].files == 1 ? "" : "s");
			bar_line(c, r, y++, parts[i].label, f, THEME_BAR_FILL, val);
		}
	}
	for (size_t i = 0; i < d->ndatabases; i++)
		if (d->databases[i].bytes > biggest_db)
			biggest_db = d->databases[i].bytes;
	for (size_t i = 0; i < d->ndatabases && y < end - 4; i++) {
		char label[64];

		snprintf(label, sizeof(label), "db %s", d->databases[i].name ? d->databases[i].name : "?");
		bar_line(c, r, y++, label, (double)d->databases[i].bytes / (double)biggest_db, THEME_BAR_FILL,
			 fmt_bytes(d->databases[i].bytes, a, sizeof(a)));
	}

	if (d->nslots && y < end - 3) {
		screen_title(c, r.x, y++, r.w, "Replication slots");
		for (size_t i = 0; i < d->nslots && y < end - 3; i++) {
			const struct snap_slot *sl = &d->slots[i];
			char line[256];

			snprintf(line, sizeof(line), "%-24s %-9s %-8s retains %-10s %s", sl->name ? sl->name : "?",
				 sl->type ? sl->type : "", sl->active ? "active" : "INACTIVE",
				 fmt_bytes(sl->retained_bytes, a, sizeof(a)), sl->wal_status ? sl->wal_status : "");
			canvas_text(c, r.x + 1, y++, r.w - 2, sl->active ? THEME_NORMAL : THEME_WARN, line);
		}
	}

	if (y < end - 2) {
		char title[96];

		snprintf(title, sizeof(title), "Tables: largest and most dead tuples (%zu)", d->ntables);
		screen_title(c, r.x, y++, r.w, title);
		canvas_text(c, r.x + 1, y++, r.w - 2, THEME_TITLE,
			    "     SIZE    LIVE    DEAD  DEAD%  VACUUMED     TABLE");
		if (st->top >= d->ntables)
			st->top = d->ntables ? d->ntables - 1 : 0;
		for (size_t i = st->top; i < d->ntables && y < end; i++) {
			const struct snap_table *t = &d->tables[i];
			char line[320], live[16], dead[16], pct[16], av[32];
			double now = s->server.now > 0 ? s->server.now : s->collected_at;
			double last = t->last_autovacuum > t->last_vacuum ? t->last_autovacuum : t->last_vacuum;
			bool bloated = t->dead_ratio >= th->dead_tuple_ratio && t->dead_tuples >= th->dead_tuple_min;

			if (last > 0) {
				fmt_age_since(last, now, av, sizeof(av) - 5);
				strcat(av, " ago");
			} else {
				snprintf(av, sizeof(av), "never");
			}
			snprintf(line, sizeof(line), "%9s %7s %7s %5s  %-12s %s.%s", fmt_bytes(t->total_bytes, a, sizeof(a)),
				 fmt_count((double)t->live_tuples, live, sizeof(live)),
				 fmt_count((double)t->dead_tuples, dead, sizeof(dead)),
				 fmt_percent(t->dead_ratio, pct, sizeof(pct)), av, t->schema ? t->schema : "",
				 t->name ? t->name : "");
			canvas_text(c, r.x + 1, y++, r.w - 2, bloated ? THEME_WARN : THEME_NORMAL, line);
		}
	}
	for (size_t i = 0; i < s->nproblems && y < end; i++)
		if (strcmp(s->problems[i].panel, "disk") == 0) {
			char line[700];

			snprintf(line, sizeof(line), "%s (fix: %s)", s->problems[i].message, s->problems[i].fix);
			canvas_text(c, r.x + 1, y++, r.w - 2, THEME_WARN, line);
		}
}

static bool on_key(void *p, const struct view *v, int k)
{
	struct disk *st = p;

	(void)v;
	if (k == 'j' || k == UI_KEY_DOWN) {
		st->top++;
		return true;
	}
	if (k == 'k' || k == UI_KEY_UP) {
		if (st->top)
			st->top--;
		return true;
	}
	return false;
}

const struct screen_ops screen_disk = {
	"Disk", keys, sizeof(keys) / sizeof(*keys), create, destroy, draw, on_key, NULL, NULL, NULL,
};
