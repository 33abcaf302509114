/*
 * policy: decides whether a proposal may run — allow, needs approval, deny,
 * escalate or skip — and says every reason (DESIGN.md safety rule 1:
 * nothing runs without passing policy).
 *
 * Rules, from cockpit.conf `policy:` (core/config.h struct config_policy):
 *   - by risk: low / medium / high / critical -> allow | approval | deny;
 *     per-action overrides (policy.actions: {terminate_backend: approval});
 *     critical (shell) actions are never "allow", whatever the file says;
 *   - confidence: below policy.escalate_below (0.7) -> escalate (report
 *     only); below policy.approval_below (0.85) -> at least approval;
 *   - blast radius: more sessions than policy.max_sessions -> deny; VACUUM
 *     FULL of a table larger than policy.vacuum_full_max_bytes -> deny;
 *   - rate limit: more than policy.rate_limit_per_hour runs of one action on
 *     one target in the last hour -> deny;
 *   - idempotency: the same action on the same target ran within
 *     policy.idempotency_min minutes -> skip ("ran 3 min ago, see audit seq 41");
 *   - maintenance windows: high and critical actions outside
 *     policy.maintenance_windows (when any are configured) -> deny.
 *
 * Every rule is applied and named in p->policy_reason with the key that
 * changes it; the strictest outcome wins:
 *
 *   deny > escalate > skip > approval > allow
 *
 * (a rule that forbids holds whatever else is true; an unsure diagnosis
 * goes to a human even when the action ran recently; an approval does not
 * make a repeat run sensible). "More than policy.rate_limit_per_hour runs"
 * counts the proposed run: with 6 runs in the last hour a seventh is denied.
 * A proposal's risk is never below its action's registry risk.
 *
 * The mode gate is separate (policy_gate): the decision says what policy
 * thinks of the action; the gate says what may happen now in the mode:
 *   observe: nothing runs;
 *   shadow:  GATE_SHADOW for what would have run in auto mode (allow, or
 *            approval when accepted), GATE_REFUSE for the rest;
 *   assist:  allow and approval run only when accepted;
 *   auto:    allow runs without acceptance, approval only when accepted.
 * deny, escalate and skip never run in any mode.
 *
 * Thread affinity: a struct policy_state is used by one thread at a time
 * (the brain thread decides; the executor records runs through the brain's
 * queue or under its own lock — see policy_note_run).
 */
#ifndef COCKPIT_ACT_POLICY_H
#define COCKPIT_ACT_POLICY_H

#include <stdbool.h>

#include "act/proposal.h"
#include "core/config.h"

struct policy_state;  /* runs remembered for rate limits and idempotency */

struct policy_state *policy_state_new(void);
void policy_state_free(struct policy_state *st);
/* Remember that action ran on target at time now (epoch seconds); seq is
 * its audit record (0 unknown). Thread-safe. */
void policy_note_run(struct policy_state *st, const char *action, const char *target,
		     double now, long long seq);
/* Load past runs (exec.done and exec.unknown records of the last day: an
 * action whose outcome is unknown may have run) from the audit log at path,
 * so that rate limits and idempotency survive a restart and hold across the
 * operators of a war room. Reads the records' "action", "target", "at" and
 * "seq" (act/executor.h lists the executor's fields); lines that are not
 * JSON are skipped (audit_verify() judges the chain). Missing file: nothing
 * to load, 0. Unreadable: -1 with err. Thread-safe. */
int policy_state_load_audit(struct policy_state *st, const char *path, double now,
			    char *err, size_t errlen);

/* Judge p: sets p->decision and p->policy_reason (every rule that applied,
 * "; "-separated, e.g. "risk medium: approval (policy.medium); confidence
 * 0.80 < 0.85: approval"). st may be NULL (no history). Thread-safe for
 * distinct p. */
enum decision policy_decide(const struct config *cfg, struct policy_state *st,
			    struct proposal *p, double now);

enum policy_gate {
	GATE_REFUSE,   /* nothing runs (observe, deny, escalate, skip, or approval missing) */
	GATE_SHADOW,   /* shadow mode: record what would have run, run nothing */
	GATE_RUN,      /* run it */
};

/* What may happen now to a proposal with decision d in mode m, given
 * whether an operator accepted it. reason (may be NULL) gets one line. */
enum policy_gate policy_gate(enum cockpit_mode m, enum decision d, bool accepted,
			     char *reason, size_t reasonlen);

/* Is now inside one of the windows ("Sat 02:00-04:00", "daily 01:00-05:00",
 * "Mon-Fri 22:00-06:00"; local time)? No windows: true. */
bool policy_in_window(char *const *windows, size_t n, double now);
/* Parse one window spec; false with the reason when it is malformed (err
 * may be NULL). For check-config. Days: Mon..Sun (any case), ranges
 * (Mon-Fri, Fri-Mon wraps), comma lists, or daily; hours HH:MM-HH:MM with
 * 24:00 allowed as an end; an end before the start runs past midnight into
 * the next day. policy.o links without proposal.o (config.c uses it). */
bool policy_window_valid(const char *spec, char *err, size_t errlen);

#endif
