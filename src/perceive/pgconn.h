/*
 * pgconn: the collector's libpq plumbing.
 *
 * Connects with cockpit's own session settings (application_name, our
 * statement_timeout, connect_timeout) on top of the user's conninfo, and
 * runs a batch of queries in pipeline mode: every query of a batch is sent
 * before any answer is read, so a whole refresh costs one network round
 * trip. A batch is split into groups; each group ends with a Sync and is its
 * own implicit transaction, so a failing query (a missing privilege, say)
 * only spoils its own group.
 *
 * Every wait is bounded: a server that stops answering (SIGSTOP, network
 * loss) makes pgconn_run() return PGCONN_TIMEOUT after timeout_ms, never hang.
 * Only the collector thread touches a PGconn.
 */
#ifndef COCKPIT_PERCEIVE_PGCONN_H
#define COCKPIT_PERCEIVE_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pgconn_params {
	const char *conninfo;        /* user's conninfo or URI (borrowed) */
	const char *password;        /* from the environment, or NULL (borrowed) */
	const char *application_name;
	int connect_timeout_s;
	int statement_timeout_ms;
};

/* Connect. On failure returns NULL and writes a one-line message to err
 * (the password never appears in it). */
PGconn *pgconn_connect(const struct pgconn_params *p, char *err, size_t errlen);

/*
 * A connection kept for a worker thread (the brain, the LLM advisor):
 * connected on first use, reconnected after a failure with a backoff of
 * 0.5 s doubling to 30 s, so a server that is down costs one attempt per
 * backoff, not one per round. The password is read from the environment
 * variable password_env at each connect. One thread owns a keeper.
 */
struct pgconn_keeper {
	char *conninfo;              /* owned, or NULL: no connection wanted */
	char *password_env;          /* owned, or NULL */
	const char *application_name; /* borrowed (a literal) */
	int connect_timeout_s;
	int statement_timeout_ms;
	PGconn *conn;                /* owned, or NULL */
	char err[256];               /* why there is none: last failure, "" none */
	int64_t next_ms;             /* monotonic: no attempt before */
	int backoff_ms;
};

/* Copies conninfo and password_env (either may be NULL). */
void pgconn_keeper_init(struct pgconn_keeper *k, const char *conninfo, const char *password_env,
			const char *application_name, int connect_timeout_s,
			int statement_timeout_ms);
/* The connection, (re)connecting when the backoff allows; NULL otherwise
 * (k->err says why, "" when no conninfo is set). */
PGconn *pgconn_keeper_get(struct pgconn_keeper *k);
/* Close it after a failure; why goes to k->err (may be NULL). */
void pgconn_keeper_drop(struct pgconn_keeper *k, const char *why);
void pgconn_keeper_release(struct pgconn_keeper *k);

struct pgconn_query {
	const char *sql;     /* borrowed: SQL text, or NULL when prepared is set */
	const char *prepared; /* borrowed: name of a statement made by pgconn_prepare(), or NULL */
	bool sync_after;     /* end a group (transaction) after this query */
	PGresult *result;    /* out: owned by the caller after pgconn_run; NULL if none */
	const char *error;   /* out: points into result's message or a static string */
};

enum pgconn_status {
	PGCONN_OK = 0,       /* every query answered (some may have failed: see ->error) */
	PGCONN_TIMEOUT = -1, /* no answer within timeout_ms: the connection is unusable */
	PGCONN_BROKEN = -2,  /* the connection failed: reconnect */
};

/* Run n queries as one pipeline. The last query always gets a Sync. Fills
 * each query's result/error. On TIMEOUT/BROKEN, results already received are
 * kept (free them with pgconn_clear()); err explains. */
enum pgconn_status pgconn_run(PGconn *conn, struct pgconn_query *q, size_t n, int timeout_ms,
			      char *err, size_t errlen);
void pgconn_clear(struct pgconn_query *q, size_t n);
/* Prepare n named statements (no parameters) in one round trip, so refreshes
 * skip the planner: a parameterless prepared statement keeps its generic
 * plan. Returns 0, or -1 with err. */
int pgconn_prepare(PGconn *conn, const char *const *names, const char *const *sqls, size_t n,
		   int timeout_ms, char *err, size_t errlen);
/* Convenience for one query: a PGresult with PGRES_TUPLES_OK or NULL with err. */
PGresult *pgconn_query1(PGconn *conn, const char *sql, int timeout_ms, char *err, size_t errlen);

/* A float8 in PostgreSQL's text form as strtod reads it in the C locale:
 * the same double, bit for bit, and plain decimals ("1796650064.292372",
 * most of what a refresh parses) without strtod's cost. */
double pgconn_parse_double(const char *s);
/* Value helpers for text-format results: NULL -> dflt. */
double pgconn_double(const PGresult *r, int row, int col, double dflt);
long long pgconn_int(const PGresult *r, int row, int col, long long dflt);
bool pgconn_bool(const PGresult *r, int row, int col);
/* The value, or NULL for SQL NULL (pointer into r). */
const char *pgconn_str(const PGresult *r, int row, int col);

#endif
