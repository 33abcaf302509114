/*
 * snapshot: one immutable, reference-counted picture of a target.
 *
 * The collector thread builds a snapshot per refresh and publishes it by
 * swapping a pointer (collector.h); the UI and the brain take references
 * with snapshot_ref() and drop them with snapshot_unref(). Nobody writes to
 * a published snapshot. Every string and array below lives in the
 * snapshot's arena and dies with the last reference; the lock graph is a
 * separate allocation owned by the snapshot.
 *
 * Times: *_at / *_start fields are wall-clock seconds since the epoch as
 * doubles (0 = NULL in PostgreSQL); durations carry their unit in the name.
 *
 * JSON (snapshot_to_json / snapshot_from_json) is a user-facing contract,
 * "version": 1; see docs/snapshot-json.md.
 */
#ifndef COCKPIT_PERCEIVE_SNAPSHOT_H
#define COCKPIT_PERCEIVE_SNAPSHOT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "perceive/lockgraph.h"

#define SNAPSHOT_JSON_VERSION 1

struct snap_session {
	int pid;
	int leader_pid;          /* parallel worker's leader; 0 if none */
	const char *user;
	const char *database;
	const char *application;
	const char *client;      /* client_addr, or "local" for Unix sockets, NULL for background */
	const char *backend_type;
	const char *state;       /* active, idle, idle in transaction, ... (NULL for some backends) */
	const char *wait_event_type;
	const char *wait_event;
	double backend_start;
	double xact_start;
	double query_start;
	double state_change;
	int64_t xmin_age;        /* age(backend_xmin) in transactions; -1 when NULL */
	const char *query;       /* truncated to config query_max_len */
	const char *agent_id;    /* from SQL comment tags or application_name patterns; NULL if none */
	const char *task_id;
	const char *step;
};

struct snap_statement {
	int64_t queryid;
	const char *user;
	const char *database;
	const char *query;       /* normalised text as pg_stat_statements stores it */
	double calls;            /* delta over the window */
	double calls_per_s;
	double total_ms;         /* delta of total_exec_time over the window */
	double mean_ms;          /* total_ms / calls over the window */
	double max_ms;           /* max_exec_time since the last reset (not a window value) */
	double p99_ms_estimate;  /* mean + 2.326 * stddev since reset: an estimate, labelled so */
	double share;            /* total_ms / sum of all total_ms in the window, 0..1 */
	double rows;             /* delta */
	const char *agent_id;    /* tags found in the stored text, if any */
	const char *task_id;
};

struct snap_database_size {
	const char *name;
	int64_t bytes;
};

struct snap_slot {
	const char *name;
	const char *type;        /* physical / logical */
	bool active;
	int64_t retained_bytes;  /* WAL kept for it: current LSN - restart_lsn; -1 unknown */
	const char *wal_status;
};

struct snap_table {
	const char *schema;
	const char *name;
	int64_t total_bytes;
	int64_t live_tuples;
	int64_t dead_tuples;
	double dead_ratio;       /* dead / (live + dead), 0..1 */
	double last_vacuum;
	double last_autovacuum;
	double last_analyze;
	double last_autoanalyze;
};

struct snap_disk {
	bool fs_known;           /* filesystem numbers below are valid */
	const char *fs_path;     /* the data directory measured */
	const char *fs_source;   /* "statvfs" or "config" */
	int64_t fs_total_bytes;
	int64_t fs_used_bytes;
	int64_t fs_avail_bytes;
	int64_t wal_bytes;       /* -1 unknown (no privilege) */
	int64_t wal_files;
	int64_t log_bytes;       /* -1 unknown */
	int64_t log_files;
	int64_t temp_bytes;      /* current temp files (pg_ls_tmpdir), -1 unknown */
	int64_t temp_files;
	struct snap_database_size *databases; size_t ndatabases;
	struct snap_slot *slots;  size_t nslots;
	struct snap_table *tables; size_t ntables; /* largest first */
	double collected_at;     /* slow data: when these were read */
};

struct snap_agent {
	const char *agent_id;
	int sessions;
	int active;
	int idle;
	int idle_in_transaction;
	int waiting;             /* waiting on a lock */
	double longest_idle_in_xact_s;
	double longest_query_s;  /* longest running active statement */
	const char *task_id;     /* of its most recent active session */
	const char *step;
	double db_time_share;    /* share of statement time in the window, 0..1 (pg_stat_statements) */
	double db_time_ms;       /* statement time in the window */
	double active_share;     /* share of active sessions now, 0..1 (sampling) */
};

struct snap_deadlock_proc {
	int pid;
	const char *mode;
	const char *locktype;
	const char *object;      /* as logged */
	const char *relation;    /* resolved name, when the OID was resolvable */
	uint64_t xid;
	int blocked_by;
	const char *statement;
};

struct snap_deadlock {
	double at;
	int pid;                 /* the aborted backend */
	const char *user;
	const char *database;
	const char *application;
	const char *statement;
	const char *context;
	struct snap_deadlock_proc *procs; size_t nprocs;
};

struct snap_problem {
	const char *panel;       /* statements, disk, locks, deadlocks, ... */
	const char *message;     /* what is missing */
	const char *fix;         /* how to grant it */
};

struct snap_server {
	const char *version;     /* server_version */
	int version_num;         /* server_version_num */
	int max_connections;
	bool in_recovery;
	double replication_lag_s;   /* replay lag on a standby; max write lag of standbys on a primary; -1 none */
	double tps;              /* commits+rollbacks per second since previous refresh; -1 first */
	double cache_hit_ratio;  /* over the window; -1 when unknown */
	int64_t xact_total;      /* raw counters kept for the next delta */
	int64_t blks_hit;
	int64_t blks_read;
	double now;              /* server clock at collection */
};

struct snap_collector_stats {
	int round_trips;         /* for this refresh */
	int statements;          /* SQL statements sent for this refresh */
	double fast_ms;          /* wall time of the fast round trip as seen by the client */
	double slow_ms;          /* wall time of the slow path when it ran in this refresh, else 0 */
	bool slow_refreshed;     /* slow data was re-read in this refresh */
	int64_t seq;             /* refresh counter */
};

struct snapshot {
	_Atomic int refs;
	struct arena arena;          /* owns every string and array below */
	int64_t generation;          /* changes when the target changes: drop stale results */
	const char *target;
	bool connected;
	const char *error;           /* last connection/query error, NULL when fine */
	double collected_at;         /* wall clock, epoch seconds */
	int64_t collected_mono_ms;   /* monotonic clock at collection (for age; not in JSON) */
	struct snap_server server;
	struct snap_session *sessions; size_t nsessions;
	struct lockgraph_edge *edges; size_t nedges;   /* as collected; metadata in arena */
	struct lockgraph *locks;     /* owned */
	struct snap_statement *statements; size_t nstatements; /* by total_ms desc */
	double statements_window_s;  /* length of the delta window; 0 before the second sample */
	struct snap_disk disk;
	struct snap_agent *agents; size_t nagents;      /* by db_time_ms desc, then sessions */
	struct snap_deadlock *deadlocks; size_t ndeadlocks; /* newest last */
	struct snap_problem *problems; size_t nproblems;
	struct snap_collector_stats stats;
	struct snapshot *base;       /* owned reference, or NULL: arrays above that this
	                                snapshot did not collect itself (slow data between
	                                slow refreshes, everything while disconnected)
	                                live in base's arena */
};

struct snapshot *snapshot_new(void);
/* A new snapshot sharing everything base collected (statements, disk,
 * deadlocks, and with all = true also sessions, locks, server): the arrays
 * are borrowed and base is kept alive by a reference. */
struct snapshot *snapshot_new_from(struct snapshot *base, bool all);
struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);
/* Build the lock graph from s->edges (call once, before publishing). */
void snapshot_build_locks(struct snapshot *s);
/* Append a problem (strings copied into the arena). */
void snapshot_add_problem(struct snapshot *s, const char *panel, const char *message,
			  const char *fix);
/* Index of the session with pid, or SIZE_MAX. Linear; callers that need many
 * look-ups build their own index. */
size_t snapshot_find_session(const struct snapshot *s, int pid);
/* Seconds since collection, on the monotonic clock when the snapshot came
 * from this process, else from the wall clock. */
double snapshot_age_s(const struct snapshot *s);

/* JSON, version 1. to_json returns a new reference. */
json_t *snapshot_to_json(const struct snapshot *s);
/* Rebuild a snapshot from JSON (replay). On error returns NULL and writes a
 * message naming the offending field into err (size errlen). */
struct snapshot *snapshot_from_json(json_t *j, char *err, size_t errlen);

#endif
