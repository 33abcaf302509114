/*
 * executor: runs accepted (or, in auto mode, policy-allowed) proposals on
 * its own thread and its own connection — the target's executor_conninfo,
 * application_name=cockpit-executor, lock_timeout and statement_timeout set
 * per action — then verifies the effect and rolls back when it got worse.
 *
 * One job, step by step, each written to the audit log first (act/audit.h;
 * a step whose record is not acknowledged does not run):
 *   1. exec.start: the proposal, decision, operator, edit diff, the rollback
 *      registered before anything runs;
 *   2. the baseline: the verify query once before the action;
 *   3. the action: signals carry their guard in the SQL (act/action.h), the
 *      executor reads back which pids were reached; CREATE INDEX
 *      CONCURRENTLY and VACUUM run outside a transaction; after a failed
 *      CREATE INDEX CONCURRENTLY it finds the INVALID index it left and
 *      reports it with a drop_index follow-up;
 *   4. exec.done / exec.error: what the server said;
 *   5. verify: after wait_s, the verify query every second until its
 *      expectation holds or deadline_s passes; verify.pass / verify.fail with
 *      the measured values (ALTER ROLE ... SET: the query should watch new
 *      sessions, as the runbook's verify does);
 *   6. on a failed verification when the value got worse than the baseline
 *      and the proposal has a rollback: rollback.start / rollback.done;
 *      after verify.attempts failures: escalate.
 * A lost connection mid-action is reported as "outcome unknown" with what
 * is known (the audit says so) and the job is never retried on its own:
 * nothing runs twice.
 *
 * In shadow mode a job records shadow.would_run and stops. In observe mode
 * executor_submit refuses.
 *
 * Audit records (kind: fields beyond audit.h's own). Every record of a job
 * has proposal_id, action (registry name) and target ("pid 4711"):
 *   exec.start:       target_kind, runbook, incident_key, origin, risk,
 *                     decision, policy_reason, mode, accepted, sql, argv,
 *                     params, rollback_sql (null when none), guard,
 *                     in_transaction, lock_timeout_ms, statement_timeout_ms,
 *                     verify {sql, args, expect, wait_s, deadline_s,
 *                     attempts}, edited_from, edit_diff;
 *   shadow.would_run: the same fields as exec.start;
 *   verify.baseline:  value (null when unknown), error;
 *   exec.done:        sql, status (the command tag), pids_reached (signals);
 *                     shell: argv, stdout, stderr (first 4 KiB),
 *                     exit_status or signal, timed_out;
 *   exec.error:       sql, error (with the SQLSTATE), invalid_index (a failed
 *                     CREATE INDEX CONCURRENTLY), pids_reached ([] when a
 *                     guard matched nobody); shell: as exec.done;
 *   exec.unknown:     sql, error, outcome "unknown";
 *   verify.pass / verify.fail: baseline, measured, expect, attempt,
 *                     attempts, error;
 *   rollback.start:   sql, reason; rollback.done: sql;
 *   rollback.error:   sql, error (outcome "unknown" when the connection
 *                     dropped);
 *   escalate:         reason;
 *   exec.dropped:     reason (queued when the executor stopped).
 *
 * Timeouts per statement: the proposal's lock_timeout_ms and
 * statement_timeout_ms when set (> 0), else the action's registry default
 * when set, else policy.lock_timeout_ms / policy.statement_timeout_ms.
 * CREATE INDEX CONCURRENTLY waits for older transactions under
 * lock_timeout: a busy database needs a longer one for it. Verification
 * expectations: an operator (<, <=, >, >=, ==, !=) and a number or
 * "baseline"; a boolean result counts as 1 or 0. "Worse" takes its
 * direction from the operator: < and <= mean lower is better, > and >=
 * higher is better; for == and != worse means not satisfied and different
 * from the baseline. Each attempt polls until deadline_s; a value worse
 * than the baseline ends the attempts (rollback when there is one, else
 * escalate); otherwise the next attempt measures again (the action never
 * runs twice) and after the last the job escalates.
 *
 * Shell actions run argv with posix_spawn: no shell, stdin /dev/null, an
 * environment of PATH, HOME, LANG, LC_ALL and TZ only (the executor's own
 * may hold password variables), stdout and stderr kept up to 64 KiB,
 * SIGTERM after the config's timeout_s and SIGKILL 5 s later.
 *
 * Thread affinity: executor_new/submit/jobs/stop/free from the owner (UI)
 * thread; the work runs on the executor thread. Progress is published as
 * job snapshots (executor_jobs) and a byte on wake_fd.
 */
#ifndef COCKPIT_ACT_EXECUTOR_H
#define COCKPIT_ACT_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "act/proposal.h"

struct config;
struct config_target;
struct audit;
struct policy_state;
struct executor;

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_VERIFYING,
	JOB_DONE,          /* ran and verified */
	JOB_FAILED,        /* the action failed (nothing changed, or see detail) */
	JOB_ROLLED_BACK,   /* verification failed, rollback ran */
	JOB_ESCALATED,     /* verification failed and no rollback helped, or attempts exhausted */
	JOB_UNKNOWN,       /* connection lost mid-action: outcome unknown, not retried */
	JOB_SHADOWED,      /* shadow mode: recorded what would have run */
	JOB_REFUSED,       /* policy or mode refused it at submission */
};

const char *job_state_name(enum job_state s);
bool job_state_final(enum job_state s);

/* A job's state as published (a copy; strings owned by the copy). */
struct job_view {
	char *proposal_id;
	enum job_state state;
	char *detail;          /* one line: "pg_terminate_backend reached pid 4711", "verify 3 -> 0" */
	double baseline;       /* verify value before, NAN unknown */
	double measured;       /* last verify value, NAN unknown */
	double started_at, finished_at;
	char *sql_run;         /* what actually ran (the edited SQL when edited) */
};

struct executor_opts {
	const struct config *cfg;            /* borrowed, outlives the executor */
	const char *conninfo;                /* executor connection (borrowed copy taken) */
	const char *password_env;            /* or NULL */
	struct audit *audit;                 /* borrowed, required */
	struct policy_state *policy;         /* borrowed, may be NULL: runs are noted */
	int wake_fd;                         /* -1 none */
};

struct executor *executor_new(const struct executor_opts *o, char *err, size_t errlen);
int executor_start(struct executor *e);
/* Ask the thread to stop: the running job finishes its current statement
 * (bounded by its timeouts); queued jobs are dropped with an audit record. */
void executor_stop(struct executor *e);
void executor_free(struct executor *e);

/* Queue p (copied) — accepted says an operator accepted it (operator is
 * $USER, from the audit layer). Refused (returns -1, reason in err) in
 * observe mode, when policy does not let it run now, or when a job for the
 * same proposal id is still running. */
int executor_submit(struct executor *e, const struct proposal *p, bool accepted,
		    char *err, size_t errlen);
/* Copy of every job's current view, oldest first; free with job_views_free.
 * Finished jobs beyond the newest 64 are forgotten. */
struct job_view *executor_jobs(struct executor *e, size_t *n);
void job_views_free(struct job_view *v, size_t n);
/* Free the strings of one view (e.g. executor_run_now's *out) and zero it. */
void job_view_release(struct job_view *v);

/* Synchronous form for tests and `cockpit` subcommands: run one job to its
 * end on the calling thread, on a connection of its own. Returns the final
 * state; *out (may be NULL) gets the job's view (release it with
 * job_view_release), err the detail when the state is not JOB_DONE or
 * JOB_SHADOWED. Refused as executor_submit() refuses (JOB_REFUSED). */
enum job_state executor_run_now(const struct executor_opts *o, const struct proposal *p,
				bool accepted, struct job_view *out, char *err, size_t errlen);

#endif
