/*
 * disk: where the bytes are — filesystem, WAL, server logs, temp files,
 * databases, replication slots holding WAL, and the largest / most bloated
 * tables. Slow data: read on the slow period, each piece its own pipelined
 * transaction so a missing privilege costs only its own panel (and turns
 * into a snapshot problem saying what to grant).
 */
#ifndef COCKPIT_PERCEIVE_DISK_H
#define COCKPIT_PERCEIVE_DISK_H

#include <libpq-fe.h>

#include "core/strbuf.h"

struct snapshot;

enum disk_query {
	DISK_DATABASES,
	DISK_WAL,
	DISK_LOGS,
	DISK_TEMP,
	DISK_SLOTS,
	DISK_TABLES,
	DISK_NQUERIES
};

void disk_build_sql(struct strbuf sql[DISK_NQUERIES], int top_tables);
/* Parse one piece into s->disk. A NULL result with err records a problem
 * naming what to grant. */
void disk_parse(struct snapshot *s, enum disk_query which, PGresult *r, const char *err);
/* Filesystem usage of a local path with statvfs into s->disk; returns -1
 * when the path cannot be measured. */
int disk_statvfs(struct snapshot *s, const char *path);

#endif
