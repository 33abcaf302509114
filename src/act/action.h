/*
 * action: the registry of everything cockpit can do to a server — the only
 * vocabulary runbooks, the LLM and operators' edits may use (DESIGN.md:
 * the LLM never invents an action).
 *
 * Each action has typed parameters, a risk level, whether it is
 * reversible, its rollback and a default verification. prepare() checks
 * every parameter against the live catalog (the pid is there, the table and
 * its columns exist, the role exists, the slot is inactive...), renders the
 * SQL with libpq's escaping (identifiers and literals are never pasted),
 * registers the rollback, fills the guard (what must still hold when it
 * runs) and renders the diff of the state it changes from the catalog.
 *
 * Signals to backends carry their guard in the SQL itself, so the re-check
 * and the signal are one statement (a reused pid never gets the signal):
 *   SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
 *    WHERE (pid = 4711 AND abs(extract(epoch FROM backend_start) - 1732250000.123456) < 0.000002
 *           AND xact_start IS NULL AND abs(extract(epoch FROM query_start) - ...) < 0.000002)
 *       OR (pid = 4712 AND ...)
 * with the times the operator saw (ctx->snap; the catalog's when the
 * snapshot lacks the pid); the executor reads back which pids it reached
 * (one row per pid reached). p->guard holds the same facts as
 * [{pid, backend_start, xact_start, query_start (epoch seconds, null for
 * NULL), user, application, state, query}]; it is NULL for other actions.
 *
 * Registry (name: parameters — risk, reversible):
 *   cancel_backend:        pids[] — low (running statement only), no
 *   terminate_backend:     pids[] — medium, no
 *   create_index:          table, columns[], name?, method? — medium, yes (drop_index)
 *   drop_index:            index — high, no (the DDL is in the diff for re-creation)
 *   vacuum:                table, analyze?, full? — medium (full: high), no
 *   analyze:               table — low, no
 *   alter_role_set:        role, setting, value — medium, yes (previous value or RESET)
 *   alter_role_reset:      role, setting — medium, yes (previous value)
 *   revoke:                role, privilege, table | schema — high, yes (GRANT of exactly
 *                          the direct grants it removes; ALL needs a table)
 *   drop_replication_slot: slot — high, no
 *   rotate_logfile:        — low, no
 *   checkpoint:            — low, no
 *   shell:                 command (a name declared in config shell_actions), args{} — critical, no
 *
 * Thread affinity: the table is static and read-only; prepare() runs on the
 * thread that owns ctx->conn.
 *
 * A diagnosis round prepares many proposals that check the same facts (ten
 * agents of one role: ten times the same role, setting and value checks).
 * With ctx->memo, a round's identical read-only check — the same SQL text
 * with the same parameter values on the same connection — runs once and its
 * result is reused (struct action_memo below). Without it (NULL) every check
 * runs live, as the executor's always do.
 */
#ifndef COCKPIT_ACT_ACTION_H
#define COCKPIT_ACT_ACTION_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "act/proposal.h"

struct config;
struct snapshot;

enum action_param_type {
	AP_PID,        /* integer; must be a live backend that is not cockpit's own */
	AP_PIDS,       /* array of AP_PID, 1..policy max_sessions */
	AP_TABLE,      /* "schema.table" or "table": an existing table (regclass) */
	AP_INDEX,      /* an existing index */
	AP_COLUMNS,    /* array of column names of the table parameter */
	AP_ROLE,       /* an existing role */
	AP_SETTING,    /* a GUC name from pg_settings that ALTER ROLE may set */
	AP_VALUE,      /* a setting's value (validated by the server with set_config in a rolled-back transaction) */
	AP_PRIVILEGE,  /* SELECT, INSERT, UPDATE, DELETE, TRUNCATE, ... */
	AP_SLOT,       /* an existing replication slot */
	AP_BOOL,
	AP_NAME,       /* an identifier (new index name) */
	AP_STRING,     /* free text (shell argument), checked by the command's own pattern */
};

struct action_param {
	const char *name;
	enum action_param_type type;
	bool required;
	const char *help;
};

struct action_memo;

struct action_ctx {
	PGconn *conn;                   /* catalog checks, escaping and before-state; required */
	const struct snapshot *snap;    /* sessions for pid guards and targets; may be NULL */
	const struct config *cfg;       /* policy limits, shell actions; required */
	struct action_memo *memo;       /* borrowed: the round's memo of catalog checks, or
	                                   NULL (every check live) */
};

struct action_def {
	const char *name;
	const char *summary;            /* one line for help and the proposal view */
	enum risk risk;                 /* default risk; a runbook may raise it, never lower it */
	bool reversible;
	bool in_transaction;            /* false: outside BEGIN (CREATE INDEX CONCURRENTLY, VACUUM) */
	/* libpg_query node the SQL must parse to: "SelectStmt", "IndexStmt",
	 * "DropStmt", "VacuumStmt", "AlterRoleSetStmt", "GrantStmt", "CheckPointStmt";
	 * NULL for shell. */
	const char *stmt_kind;
	const struct action_param *params;
	size_t nparams;
	int default_lock_timeout_ms;
	int default_statement_timeout_ms;
	/* Validate params (an object) against the catalog and fill p: sql,
	 * argv, rollback_sql, target, target_kind, diff, guard, sessions,
	 * table_bytes, and verify when the runbook gave none. Returns 0, or -1
	 * with a message naming the parameter, what is wrong and the fix
	 * ("params.columns: column \"emial\" does not exist in public.users"). */
	int (*prepare)(const struct action_ctx *ctx, const json_t *params,
		       struct proposal *p, char *err, size_t errlen);
};

/* The registry entry named name, or NULL. */
const struct action_def *action_find(const char *name);
/* All entries (static array) and their count. */
const struct action_def *action_all(size_t *n);
/* The parameter of a named name, or NULL. */
const struct action_param *action_param_find(const struct action_def *a, const char *name);

/* action_find + p->action = a + p->risk = max(a->risk, runbook risk) +
 * a->prepare(). The usual entry point. Also: refuses parameter names the
 * action does not have ("params.colums: not a parameter of create_index —
 * use table, columns, name, method"); p->params becomes a copy of params,
 * completed by prepare (create_index adds name and method, revoke spells
 * the privilege in upper case); p->in_transaction and the timeouts come
 * from the action (timeouts only where p has 0); the default verify's
 * attempts from ctx->cfg->policy.verify_attempts. vacuum with full and shell
 * raise p->risk (high, critical). On error p may be partly filled: free it. */
int action_prepare(const struct action_ctx *ctx, const char *name, const json_t *params,
		   struct proposal *p, char *err, size_t errlen);

/*
 * Safety rule 2: SQL an operator (or the LLM) edited must parse with
 * libpg_query into exactly one statement of the action's kind, on the same
 * target (the same relation, role, slot or function — pg_cancel_backend /
 * pg_terminate_backend for signals — as the proposal's). Returns 0, or -1
 * with the reason ("the edit is a DropStmt; create_index runs an IndexStmt
 * only"). Does not touch the server.
 *
 * The reference is p->sql as prepare() rendered it (parsed the same way),
 * so p->sql must be the unedited SQL when this is called. Per kind:
 * IndexStmt on the same relation and still CONCURRENTLY (columns, name and
 * method may change); DropStmt of the same one index, CONCURRENTLY, no
 * CASCADE; VacuumStmt of the same one table, VACUUM vs ANALYZE kept, FULL
 * never added; AlterRoleSetStmt of the same role and setting, SET vs RESET
 * kept, no IN DATABASE (the value may change); GrantStmt: a REVOKE of the
 * same privileges on the same objects from the same one role, no CASCADE;
 * SelectStmt (signals): calls only the action's function (plus abs,
 * extract, date_part of the guard), reads only pg_stat_activity, and its
 * WHERE bounds every row to a pid of the proposal; slot and log rotation:
 * only their function, on the same slot. An unqualified relation matches
 * only one in public. Shell actions cannot be edited.
 */
int action_check_sql(const struct proposal *p, const char *sql, char *err, size_t errlen);

/*
 * action_memo: the results of one diagnosis round's read-only catalog
 * checks, so an identical check runs once a round. The key is the exact SQL
 * text (its cockpit tag included) and every parameter value (NULL apart
 * from ''), on one connection (the PGconn and its backend pid: a reconnect
 * never sees the old session's results). Only successful results
 * (PGRES_TUPLES_OK) are kept: a failed check runs again the next time it is
 * asked. prepare() memoises its catalog SELECTs and, as a whole, the value
 * check's BEGIN / set_config / ROLLBACK when the server accepted the value;
 * diagnose memoises the runbooks' context queries (think/diagnose.h).
 *
 * Lifetime: one round. The caller creates it when the round starts and
 * frees it when the round ends (diagnose_all, the brain's round); nothing is
 * ever reused across rounds, since the catalog may change between them.
 * Never give a memo to anything that executes: the executor's guards and
 * re-checks always run live (DESIGN.md safety rules).
 *
 * Bounded: at most ACTION_MEMO_MAX_ENTRIES results and ACTION_MEMO_MAX_BYTES
 * of keys and values; past either, results are not kept (checks run live).
 * Thread affinity: the thread that owns the connection; no locking.
 */
#define ACTION_MEMO_MAX_ENTRIES 256
#define ACTION_MEMO_MAX_BYTES (1024 * 1024)

struct action_memo *action_memo_new(void);
void action_memo_free(struct action_memo *m);
/* A copy (the caller PQclear()s it) of the result remembered for sql with
 * the n values v on conn, or NULL: not asked yet this round, or m is NULL. */
PGresult *action_memo_get(struct action_memo *m, PGconn *conn, const char *sql, int n,
			  const char *const *v);
/* Remember a copy of r as the result of sql with the n values v on conn;
 * does nothing when m is NULL, r is not PGRES_TUPLES_OK or the memo is full. */
void action_memo_put(struct action_memo *m, PGconn *conn, const char *sql, int n,
		     const char *const *v, const PGresult *r);
/* How many action_memo_get() calls found a result, and how many results
 * are kept (what tests look at; 0 for NULL). */
size_t action_memo_hits(const struct action_memo *m);
size_t action_memo_size(const struct action_memo *m);

#endif
