/*
 * runbook: runbooks/NAME.yaml loaded into typed structs (one incident class a
 * file), validated with errors naming FILE:LINE:COL, the key and the fix —
 * the same machinery as cockpit.conf (core/yamlload.h).
 *
 * A runbook (the format is documented in runbooks/README.md):
 *
 *   name: lock-chain                 # unique, the file's stem
 *   title: Lock chain behind a root blocker
 *   severity: critical               # info | warning | critical
 *   trigger:
 *     detector: lock_chain           # a detector of think/detect.h
 *     thresholds: {min_waiters: 1, wait_ms: 0}   # detector-specific, numbers
 *   context:                         # queries whose rows feed the diagnosis
 *     - name: blocker_locks
 *       sql: SELECT locktype, mode, relation::regclass FROM pg_locks WHERE pid = $1
 *       args: ["{root.pid}"]
 *   guidance: |
 *     Text for the operator and the LLM.
 *   report_only: false               # true: reports and escalates, actions empty
 *   actions:                         # tried in order; each whose `when` holds is proposed
 *     - action: cancel_backend       # a registry action (act/action.h)
 *       when: {root.state: active}   # evidence path -> value, list of values,
 *                                    # or "< 5", ">= 0.3", "!idle" for numbers / negation
 *       params: {pids: "{root.pids}"}   # "{path}" binds evidence; other values are literals;
 *                                    # names and required ones checked against the registry
 *       risk: low                    # optional; never below the action's own
 *       confidence: 0.9              # 0..1, default 0.8
 *       rationale: "{root.pid} has run for {root.query_age_s}s while {waiters} sessions wait"
 *       verify:
 *         sql: SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = ANY($1::int[])
 *         args: ["{waiter_pids_array}"]
 *         expect: "< baseline"       # < <= == != >= > against a number or "baseline"
 *         wait_s: 2                  # default 2, 0..3600
 *         deadline_s: 30             # default 30, >= wait_s, at most 86400
 *         attempts: 2                # default 1, 0..100
 *   drill:                           # reproduces the incident on a sandbox database
 *     setup: CREATE TABLE drill_lock (id int PRIMARY KEY, v int); INSERT ...
 *     sessions:                      # one connection each, in order; sent, not awaited
 *       - BEGIN; UPDATE drill_lock SET v = v + 1 WHERE id = 1;
 *       - UPDATE drill_lock SET v = v + 2 WHERE id = 1;
 *     settle_s: 2                    # then the incident must be visible
 *     cleanup: DROP TABLE IF EXISTS drill_lock;
 *
 * Runbooks are immutable once loaded; any thread may read them.
 */
#ifndef COCKPIT_THINK_RUNBOOK_H
#define COCKPIT_THINK_RUNBOOK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "act/proposal.h"

enum severity { SEVERITY_INFO, SEVERITY_WARNING, SEVERITY_CRITICAL };

const char *severity_name(enum severity s);   /* "info", "warning", "critical" */

struct runbook_query {
	char *name;       /* owned */
	char *sql;        /* owned */
	json_t *args;     /* owned: array of binding templates (strings), or NULL */
};

struct runbook_action {
	char *action;           /* owned: registry name (checked at load) */
	json_t *when;           /* owned object (path -> condition) or NULL: always */
	json_t *params;         /* owned object: name -> template or literal */
	enum risk risk;         /* max(action's own, the runbook's) */
	bool risk_given;
	double confidence;      /* default 0.8 */
	char *rationale;        /* owned template, or NULL */
	struct proposal_verify verify;   /* templates; args are binding templates */
	int line;               /* where it was declared, for messages */
};

struct runbook_drill {
	char *setup;            /* owned, or NULL */
	char **sessions;        /* owned, counted */
	size_t nsessions;
	int settle_s;
	char *cleanup;          /* owned, or NULL */
};

struct runbook {
	char *name;             /* owned */
	char *title;            /* owned */
	char *file;             /* owned: where it came from */
	enum severity severity;
	char *detector;         /* owned */
	json_t *thresholds;     /* owned object: name -> number (detector-specific) */
	struct runbook_query *context; size_t ncontext;
	char *guidance;         /* owned */
	struct runbook_action *actions; size_t nactions;
	bool report_only;       /* reports and escalates only: actions may be empty */
	struct runbook_drill drill;
};

struct runbook_set {
	struct runbook *v;
	size_t n;
};

/* Defaults of an action's fields left out. */
#define RUNBOOK_CONFIDENCE 0.8
#define RUNBOOK_WAIT_S 2
#define RUNBOOK_DEADLINE_S 30
#define RUNBOOK_ATTEMPTS 1
#define RUNBOOK_SETTLE_S 2
/* A runbook file larger than this is refused. */
#define RUNBOOK_MAX_BYTES (1024 * 1024)

/* Load every *.yaml and *.yml in dir (sorted by file name) and append the
 * runbooks to out (initialise it to { 0 } first). Each runbook's name must
 * be its file's stem. Collects all problems of all files into *errs
 * ("FILE:LINE:COL: problem — fix\n" lines, in file order; caller frees;
 * NULL when there were none; errs may be NULL); returns 0 when there were
 * none, -1 otherwise. A file with any problem is not added; the valid ones
 * are. Detector and action names are checked against think/detect.h and
 * act/action.h, parameters against the action's, and a name given twice
 * (in two files) is an error naming both. */
int runbook_load_dir(const char *dir, struct runbook_set *out, char **errs);
/* Load one file's text (name: its path, for messages) and append it to out
 * when it has no problem: 0, or -1 with the messages in *errs as above. The
 * name is not held to the file's stem; a name already in out is an error. */
int runbook_load_buffer(struct runbook_set *out, const char *name, const char *data,
			size_t len, char **errs);
void runbook_set_release(struct runbook_set *set);
const struct runbook *runbook_find(const struct runbook_set *set, const char *name);
/* A threshold of r, or dflt when the runbook does not set it. */
double runbook_threshold(const struct runbook *r, const char *name, double dflt);

/*
 * Bindings. bind_value("{root.pid}", evidence) -> the JSON value at that
 * path (a new reference; NULL when missing); a string without "{...}"
 * stays a literal string. bind_text() interpolates every {path} in a
 * template into text (for rationales and summaries, never for SQL).
 * when_holds() evaluates a `when` object against the evidence.
 */
/*
 * Templates are strings. "{path}" alone is the JSON value at path (any
 * type); a string with "{path}" inside other text is that text with each
 * value rendered (strings as they are, numbers, true/false, arrays as
 * "1, 2, 3"). A path is dotted object keys and array indexes of letters,
 * digits, '_' and '-' ("root.pid", "waiters.0.pid"); a '{' that does not
 * open one is plain text. Arrays and objects bind item by item.
 *
 * bind_value: a new reference, or NULL when any path is missing (a
 * parameter is never half bound). bind_text: malloc'ed; a missing path
 * renders as "?"; NULL tmpl gives NULL. bind_param: the text of one SQL
 * parameter ($n) from an args template: 0 and *out malloc'ed (a string as
 * it is, a number, "true"/"false", an array as a PostgreSQL array literal
 * "{1,2}", an object as JSON; NULL for JSON null), or -1 (*out NULL) when
 * a path is missing.
 *
 * when_holds: every path of the `when` object must hold its condition
 * (NULL or {} always holds). A condition is a value compared for equality
 * (strings exactly, numbers by value, true/false, null), "OP NUMBER" with
 * OP one of < <= > >= == != (a number, or a string holding one, compared
 * numerically), "!COND" (COND does not hold), or a list (any item holds).
 * A missing path holds no condition but a negated one.
 */
json_t *runbook_bind_value(const json_t *tmpl, const json_t *evidence);
char *runbook_bind_text(const char *tmpl, const json_t *evidence);
int runbook_bind_param(const json_t *tmpl, const json_t *evidence, char **out);
bool runbook_when_holds(const json_t *when, const json_t *evidence);
/* Value at a dotted path ("root.pid", "waiters.0.pid") in evidence, borrowed;
 * NULL when missing. */
json_t *runbook_path(const json_t *evidence, const char *path);

/* A verify.expect ("< baseline", ">= 1") taken apart. */
enum runbook_cmp { RUNBOOK_LT, RUNBOOK_LE, RUNBOOK_EQ, RUNBOOK_NE, RUNBOOK_GE, RUNBOOK_GT };

struct runbook_expect {
	enum runbook_cmp cmp;
	bool baseline;       /* compared with the value measured before the action */
	double value;        /* otherwise with this number */
};

/* Parse an expect (loaded runbooks hold only valid ones): true, or false
 * when s is not "OP NUMBER" / "OP baseline". */
bool runbook_expect_parse(const char *s, struct runbook_expect *e);
/* Does measured satisfy e (baseline: the value measured before)? */
bool runbook_expect_holds(const struct runbook_expect *e, double measured, double baseline);

#endif
