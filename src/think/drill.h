/*
 * drill: reproduce a runbook's incident on a sandbox database — for
 * training junior DBAs, for war-room rehearsals and for the tests that prove
 * each runbook end to end (drill -> diagnose -> accept -> verify).
 *
 * drill_start() runs the drill's setup on one connection, then opens one
 * connection per session (application_name "drill-<runbook>-<n>", so the
 * sessions are not mistaken for cockpit's own), sends each session's SQL
 * without waiting for it (a session may block on a lock or sleep: that is
 * the incident) and waits settle_s. drill_stop() cancels what still runs,
 * closes the sessions (their open transactions roll back) and runs the
 * cleanup.
 *
 * Single-threaded: one caller owns a drill_run.
 */
#ifndef COCKPIT_THINK_DRILL_H
#define COCKPIT_THINK_DRILL_H

#include <stdbool.h>
#include <stddef.h>

struct runbook;
struct drill_run;

/* Start rb's drill on conninfo (password from the environment variable
 * password_env when not NULL). settle: wait the drill's settle_s. Returns
 * NULL with a message naming the runbook, the step (setup, session N) and
 * the server's error. */
struct drill_run *drill_start(const struct runbook *rb, const char *conninfo,
			      const char *password_env, bool settle, char *err, size_t errlen);
/* Backend pid of session i (0-based), or 0 when there is no such session. */
int drill_session_pid(const struct drill_run *d, size_t i);
size_t drill_sessions(const struct drill_run *d);
/* How session i is doing now: "running", "finished", "failed: <error>",
 * "closed" (the server ended it). Reads what the server sent, never blocks. */
const char *drill_session_state(struct drill_run *d, size_t i);
/* Cancel, close and clean up. Returns 0, or -1 with err when the cleanup
 * failed (the sessions are closed anyway). NULL is a no-op. */
int drill_stop(struct drill_run *d, char *err, size_t errlen);

#endif
