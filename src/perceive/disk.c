/*
 * disk: slow-path SQL for sizes and its parsing; see disk.h.
 */
#include "perceive/disk.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "core/arena.h"
#include "perceive/pgconn.h"
#include "perceive/snapshot.h"

void disk_build_sql(struct strbuf sql[DISK_NQUERIES], int top_tables)
{
	strbuf_addstr(&sql[DISK_DATABASES],
		"/* cockpit collector: database sizes */ "
		"SELECT datname, pg_database_size(oid) FROM pg_database "
		"WHERE datallowconn AND NOT datistemplate ORDER BY 2 DESC");
	strbuf_addstr(&sql[DISK_WAL],
		"/* cockpit collector: wal */ "
		"SELECT count(*), coalesce(sum(size), 0) FROM pg_ls_waldir()");
	strbuf_addstr(&sql[DISK_LOGS],
		"/* cockpit collector: logs */ "
		"SELECT count(*), coalesce(sum(size), 0) FROM pg_ls_logdir()");
	strbuf_addstr(&sql[DISK_TEMP],
		"/* cockpit collector: temp */ "
		"SELECT count(*), coalesce(sum(size), 0) FROM pg_ls_tmpdir()");
	strbuf_addstr(&sql[DISK_SLOTS],
		"/* cockpit collector: slots */ "
		"SELECT slot_name, slot_type, active, "
		"pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() "
		"ELSE pg_current_wal_lsn() END, restart_lsn)::bigint, wal_status "
		"FROM pg_replication_slots ORDER BY 4 DESC NULLS LAST");
	/* The largest tables and the most bloated ones, in one scan. */
	strbuf_addf(&sql[DISK_TABLES],
		"/* cockpit collector: tables */ "
		"SELECT schemaname, relname, total, n_live_tup, n_dead_tup, "
		"date_part('epoch', last_vacuum), date_part('epoch', last_autovacuum), "
		"date_part('epoch', last_analyze), date_part('epoch', last_autoanalyze) "
		"FROM (SELECT s.*, pg_total_relation_size(s.relid) AS total, "
		"row_number() OVER (ORDER BY pg_total_relation_size(s.relid) DESC) AS by_size, "
		"row_number() OVER (ORDER BY s.n_dead_tup DESC) AS by_dead "
		"FROM pg_stat_user_tables s) t "
		"WHERE by_size <= %d OR (by_dead <= %d AND n_dead_tup > 0) ORDER BY total DESC",
		top_tables, top_tables);
}

static const char *const disk_names[DISK_NQUERIES] = {
	"database sizes", "WAL size", "server log size", "temp files", "replication slots",
	"table sizes",
};

static const char *const disk_fixes[DISK_NQUERIES] = {
	"GRANT pg_monitor TO <cockpit role> (or CONNECT on each database)",
	"GRANT pg_monitor TO <cockpit role> (pg_ls_waldir)",
	"GRANT pg_monitor TO <cockpit role> (pg_ls_logdir); with logging_collector off there is no log directory to measure",
	"GRANT pg_monitor TO <cockpit role> (pg_ls_tmpdir)",
	"GRANT pg_monitor TO <cockpit role>",
	"GRANT pg_monitor TO <cockpit role>",
};

void disk_parse(struct snapshot *s, enum disk_query which, PGresult *r, const char *err)
{
	struct snap_disk *d = &s->disk;
	struct arena *a = &s->arena;
	int n;

	if (err || !r) {
		char msg[512];

		/* No temp directory yet just means no temp files. */
		if (which == DISK_TEMP && err && strstr(err, "No such file")) {
			d->temp_bytes = 0;
			d->temp_files = 0;
			return;
		}
		snprintf(msg, sizeof(msg), "cannot read %s: %s", disk_names[which],
			 err ? err : "no result");
		snapshot_add_problem(s, "disk", msg, disk_fixes[which]);
		return;
	}
	n = PQntuples(r);
	switch (which) {
	case DISK_DATABASES:
		d->databases = n ? arena_alloc(a, (size_t)n * sizeof(*d->databases)) : NULL;
		d->ndatabases = (size_t)n;
		for (int i = 0; i < n; i++) {
			d->databases[i].name = arena_strdup(a, pgconn_str(r, i, 0));
			d->databases[i].bytes = pgconn_int(r, i, 1, 0);
		}
		break;
	case DISK_WAL:
		d->wal_files = pgconn_int(r, 0, 0, 0);
		d->wal_bytes = pgconn_int(r, 0, 1, 0);
		break;
	case DISK_LOGS:
		d->log_files = pgconn_int(r, 0, 0, 0);
		d->log_bytes = pgconn_int(r, 0, 1, 0);
		break;
	case DISK_TEMP:
		d->temp_files = pgconn_int(r, 0, 0, 0);
		d->temp_bytes = pgconn_int(r, 0, 1, 0);
		break;
	case DISK_SLOTS:
		d->slots = n ? arena_alloc(a, (size_t)n * sizeof(*d->slots)) : NULL;
		d->nslots = (size_t)n;
		for (int i = 0; i < n; i++) {
			d->slots[i].name = arena_strdup(a, pgconn_str(r, i, 0));
			d->slots[i].type = arena_strdup(a, pgconn_str(r, i, 1));
			d->slots[i].active = pgconn_bool(r, i, 2);
			d->slots[i].retained_bytes = pgconn_int(r, i, 3, -1);
			d->slots[i].wal_status = arena_strdup(a, pgconn_str(r, i, 4));
		}
		break;
	case DISK_TABLES:
		d->tables = n ? arena_alloc(a, (size_t)n * sizeof(*d->tables)) : NULL;
		d->ntables = (size_t)n;
		for (int i = 0; i < n; i++) {
			struct snap_table *t = &d->tables[i];
			double live, dead;

			t->schema = arena_strdup(a, pgconn_str(r, i, 0));
			t->name = arena_strdup(a, pgconn_str(r, i, 1));
			t->total_bytes = pgconn_int(r, i, 2, 0);
			t->live_tuples = pgconn_int(r, i, 3, 0);
			t->dead_tuples = pgconn_int(r, i, 4, 0);
			live = (double)t->live_tuples;
			dead = (double)t->dead_tuples;
			t->dead_ratio = live + dead > 0 ? dead / (live + dead) : 0;
			t->last_vacuum = pgconn_double(r, i, 5, 0);
			t->last_autovacuum = pgconn_double(r, i, 6, 0);
			t->last_analyze = pgconn_double(r, i, 7, 0);
			t->last_autoanalyze = pgconn_double(r, i, 8, 0);
		}
		break;
	case DISK_NQUERIES:
		break;
	}
}

int disk_statvfs(struct snapshot *s, const char *path)
{
	struct statvfs v;
	struct snap_disk *d = &s->disk;

	if (!path || statvfs(path, &v) != 0)
		return -1;
	d->fs_known = true;
	d->fs_path = arena_strdup(&s->arena, path);
	d->fs_source = "statvfs";
	d->fs_total_bytes = (int64_t)v.f_blocks * (int64_t)v.f_frsize;
	d->fs_avail_bytes = (int64_t)v.f_bavail * (int64_t)v.f_frsize;
	d->fs_used_bytes = d->fs_total_bytes - (int64_t)v.f_bfree * (int64_t)v.f_frsize;
	return 0;
}
