/*
 * detect: detectors turn a snapshot into incidents, each named after the
 * runbook whose trigger matched (DESIGN.md think/).
 *
 * Detect by effect, not by age alone: a root blocker with sessions waiting
 * behind it is an incident the moment it is seen. Precision matters as much
 * as recall: a waiting session is a victim, never the target; a plain lock
 * wait is not a deadlock; a healthy busy server yields nothing; cockpit's
 * own sessions (application_name cockpit*) are never targets.
 *
 * Detectors (trigger.detector in a runbook) and their thresholds (the
 * runbook's trigger.thresholds, else cockpit.conf's, else the number shown):
 *   lock_chain            min_waiters (1), wait_ms (config lock_wait_ms)
 *   deadlock              window_s (3600): logged 40P01 reports, live cycles
 *   slow_query            mean_ms (config slow_query_mean_ms), p99_ms (5 x
 *                         mean_ms; 0 = off), min_calls (1)
 *   disk_space            warn_pct, crit_pct (config)
 *   bloat                 dead_ratio, dead_min (config), vacuum_stall_s (86400),
 *                         xmin_age (1000000: names the session holding VACUUM back)
 *   idle_in_transaction   idle_s (config); any age when holding xmin past
 *                         xmin_age (1000000) or blocking (see below)
 *   connection_exhaustion pct (config connections_pct)
 *   agent_runaway         db_share (0.5, with min_db_ms 1000 of statement
 *                         time in the window), sessions (20), query_s (60)
 *   agent_hygiene         statement_timeout_s (30), idle_timeout_s (60): the
 *                         values suggested; roles from config agents.role_pattern
 * The evidence each puts in the incident is documented in runbooks/evidence.md.
 *
 * Who owns what, so that one pid gives one incident: a root blocker with
 * waiters belongs to lock_chain (whatever its state); idle_in_transaction
 * takes idle-in-transaction sessions that block no one (or every one, when
 * no lock_chain runbook is loaded). A cycle's members belong to deadlock.
 * Incidents a detector cannot act on (a prepared transaction or cockpit's
 * own session as the root blocker) come with `escalation` already set;
 * diagnose proposes nothing for them.
 *
 * Detectors read the snapshot only, except agent_hygiene, which needs the
 * role catalog: it runs only when ctx->conn is given.
 */
#ifndef COCKPIT_THINK_DETECT_H
#define COCKPIT_THINK_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "think/runbook.h"

struct config;
struct snapshot;
struct snap_session;
struct proposal;

struct incident {
	char *key;             /* owned: stable while the incident lasts:
	                          "lock-chain/pid=4711/1732250000.123456" */
	char *runbook;         /* owned: the runbook's name */
	enum severity severity;
	char *summary;         /* owned: one line for people */
	json_t *evidence;      /* owned: object the runbook's bindings read */
	char *escalation;      /* owned: why nothing is proposed (cause unclear,
	                          not enough privilege...), or NULL */
	double detected_at;    /* epoch seconds (snapshot collected_at) */
	double detect_ms;      /* time spent detecting (for the closing figures) */
	struct proposal **proposals; size_t nproposals;   /* owned; filled by diagnose */
	json_t *context;       /* owned: object name -> rows of the runbook's context queries */
};

struct incident_list {
	struct incident *v;
	size_t n;
};

struct detect_ctx {
	const struct snapshot *snap;     /* required */
	const struct config *cfg;        /* required */
	const struct runbook_set *runbooks;  /* required */
	PGconn *conn;                    /* optional: detectors that need the catalog */
};

typedef int (*detector_fn)(const struct detect_ctx *ctx, const struct runbook *rb,
			   struct incident_list *out);

/* The detector named name, or NULL (for the runbook loader). */
detector_fn detect_find(const char *name);
/* Names of all detectors, NULL-terminated (for did-you-mean). */
const char *const *detect_names(void);

/* Run every runbook's detector; appends incidents to out (most severe
 * first). Returns the number found. */
size_t detect_run(const struct detect_ctx *ctx, struct incident_list *out);

/* Helpers for detectors. */
struct incident *incident_list_add(struct incident_list *l, const struct runbook *rb,
				   const char *key, const char *summary, json_t *evidence);
void incident_list_release(struct incident_list *l);
void incident_release(struct incident *in);
/* A deep copy of src into dst (proposals duplicated); release dst with
 * incident_release. */
void incident_copy(struct incident *dst, const struct incident *src);
/* A session as detectors put it in evidence (pid, pids, user, application,
 * state, query, ages...). */
struct snap_session;
json_t *detect_session_json(const struct snap_session *ss, double now);
/* The contract's JSON: key, runbook, severity, summary, evidence, context,
 * escalation, detected_at, detect_ms, proposals[] (proposal_to_json). */
json_t *incident_to_json(const struct incident *in);

/* Is ss one of cockpit's own sessions (application_name cockpit*)? Never a target. */
bool detect_is_own(const struct snap_session *ss);
/* "idle in transaction" or "idle in transaction (aborted)". */
bool detect_is_idle_in_transaction(const char *state);
/* "schema.table" as regclass input wants it (identifiers quoted only when
 * they need it). Caller frees. */
char *detect_table_name(const char *schema, const char *name);

#endif
