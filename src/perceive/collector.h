/*
 * collector: one thread per target that turns a PostgreSQL server into a
 * stream of snapshots.
 *
 * Each refresh is one pipelined round trip (activity.h) — and on the slow
 * period the slow queries (statements.h, disk.h, the server log) ride in the
 * same round trip, each in its own transaction. The new snapshot is
 * published by swapping a pointer under a mutex; readers take a reference
 * with collector_get() and never wait on the network.
 *
 * Disconnects: a failed or hung refresh (bounded by a timeout) drops the
 * connection and publishes a snapshot with connected = false, the error and
 * the last data (its age keeps growing); reconnection backs off from 0.5 s
 * to 30 s. A server restart or pg_terminate_backend() of the collector's own
 * session is just another disconnect.
 *
 * Thread affinity: collector_new/start/stop/free and collector_get/
 * collector_set_period from the owner (UI) thread; everything else runs on
 * the collector thread. collector_collect() is the synchronous form used by
 * `cockpit snapshot` and `cockpit record` (no thread).
 */
#ifndef COCKPIT_PERCEIVE_COLLECTOR_H
#define COCKPIT_PERCEIVE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct snapshot;
struct collector;

/* cfg is borrowed and must outlive the collector. target names a configured
 * target (NULL: the default one); conninfo, when given, overrides it (-d). */
struct collector *collector_new(const struct config *cfg, const char *target,
				const char *conninfo, char *err, size_t errlen);
void collector_free(struct collector *c);

/* Start the thread; after each refresh one byte is written to wake_fd (-1:
 * none) so the UI's poll() wakes up. */
int collector_start(struct collector *c, int wake_fd);
/* Ask the thread to stop and join it (waits at most for a connect attempt). */
void collector_stop(struct collector *c);
/* The newest snapshot (a new reference), or NULL before the first one. */
struct snapshot *collector_get(struct collector *c);
void collector_set_period(struct collector *c, int fast_ms);
int collector_period(struct collector *c);

/* Synchronous refresh on the caller's thread; force_slow also re-reads the
 * slow data. Returns a new snapshot (never NULL: a failed one has
 * connected = false and the error). */
struct snapshot *collector_collect(struct collector *c, bool force_slow);

#endif
