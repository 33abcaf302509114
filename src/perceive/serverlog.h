/*
 * serverlog: incremental parser of PostgreSQL server logs for deadlock
 * reports (SQLSTATE 40P01).
 *
 * PostgreSQL aborts one participant of a deadlock after deadlock_timeout and
 * logs "ERROR: deadlock detected" with a DETAIL listing, per process, the
 * lock it waited for, who blocked it and (with log_error_verbosity >= default)
 * its statement. That report is the only trace a deadlock leaves, so cockpit
 * reads the log incrementally: the collector fetches new bytes (from
 * pg_read_file(pg_current_logfile()) or a local path) and feeds them here.
 *
 * Formats: stderr (any log_line_prefix; continuation lines start with a tab),
 * csvlog (RFC 4180 quoting, multi-line fields) and jsonlog (PG 15+, one object
 * per line). Bytes may arrive split anywhere, even inside a UTF-8 sequence or
 * a quoted CSV field: the parser keeps the incomplete tail for the next feed.
 *
 * Not thread-safe; one parser per log stream, owned by the collector thread.
 */
#ifndef COCKPIT_PERCEIVE_SERVERLOG_H
#define COCKPIT_PERCEIVE_SERVERLOG_H

#include <stddef.h>
#include <stdint.h>

enum serverlog_format {
	SERVERLOG_AUTO,   /* decide from the first complete line */
	SERVERLOG_STDERR,
	SERVERLOG_CSVLOG,
	SERVERLOG_JSONLOG,
};

struct deadlock_proc {
	int pid;
	char *mode;          /* owned: requested lock mode, "ShareLock" */
	char *object;        /* owned: as logged, "transaction 745",
	                        "relation 16384 of database 5", "tuple (0,1) of relation ..." */
	char *locktype;      /* owned: transactionid, relation, tuple, virtualxid,
	                        advisory, object, page, extend, ... as pg_locks
	                        names them; "unknown" for other text */
	unsigned relation;   /* relation OID when the lock names one, else 0 */
	unsigned database;   /* database OID when the lock names one, else 0 */
	uint64_t xid;        /* transaction id for transactionid locks, else 0 */
	int blocked_by;      /* pid it waited for */
	char *statement;     /* owned: its statement from "Process N: ...", or NULL */
};

struct deadlock_report {
	int64_t time_us;     /* log timestamp, µs since epoch (0 if none) */
	int pid;             /* the backend that detected it (the aborted one);
	                        PostgreSQL lists it first in the DETAIL, which
	                        supplies it when the log line shows no pid */
	char *user;          /* owned, may be NULL (csv/json always; stderr per prefix) */
	char *database;      /* owned, may be NULL */
	char *application;   /* owned, may be NULL */
	char *statement;     /* owned: the aborted process's STATEMENT, may be NULL */
	char *context;       /* owned: CONTEXT line, e.g. "while updating tuple (0,1) in relation \"t\"" */
	size_t nprocs;
	struct deadlock_proc *procs; /* owned; in the order the DETAIL lists them */
};

struct serverlog_parser;

struct serverlog_parser *serverlog_parser_new(enum serverlog_format fmt);
void serverlog_parser_free(struct serverlog_parser *p);
/* Feed the next len bytes of the log. Returns the number of new complete
 * deadlock reports now waiting in the parser. Memory is bounded: at most
 * 1 MiB of one line, csv record or stderr message is kept (the rest of it is
 * dropped) and at most 16 stderr reports wait for their remaining lines. */
size_t serverlog_parser_feed(struct serverlog_parser *p, const char *data, size_t len);
/* Signal end of input: a report still pending (its STATEMENT line may never
 * come) is completed. A stderr report ends only when the next line shows that
 * no continuation line follows, so a collector tailing a live log also calls
 * this once the log has stayed quiet for a poll (PostgreSQL writes a message's
 * lines together); feeding may go on afterwards, from a line start. An
 * incomplete last line is taken as it is. Returns the number of new reports. */
size_t serverlog_parser_finish(struct serverlog_parser *p);
/* Move the waiting reports to the caller: *out is a malloc'ed array the
 * caller frees with serverlog_reports_free(). Returns the count (may be 0,
 * then *out is NULL). */
size_t serverlog_parser_take(struct serverlog_parser *p, struct deadlock_report **out);
enum serverlog_format serverlog_parser_format(const struct serverlog_parser *p);
void serverlog_reports_free(struct deadlock_report *r, size_t n);
/* Guess the format from a file name: *.csv -> CSVLOG, *.json -> JSONLOG,
 * anything else -> STDERR. */
enum serverlog_format serverlog_format_from_name(const char *path);

#endif
