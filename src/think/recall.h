/*
 * recall: the past incidents and runbooks most like the one at hand, for
 * the LLM's prompt (think/prompt.h "## Similar past incidents").
 *
 * The audit log (act/audit.h) is the memory. One document per past
 * incident, opened by its "incident.open" record (runbook, key, summary,
 * evidence) and fed by every later record that names it: "proposal" and
 * "decision.*" (what was proposed, what the operator did), "exec.*",
 * "verify.*", "rollback.*", "escalate" (what ran and how it ended, tied to
 * the incident by the proposal id), "llm.diagnosis" (the model's root
 * cause) and "incident.clear" (how long it lasted). A key opened again
 * starts a new document. Runbooks are a second, small corpus (name, title,
 * detector, guidance, action names). Both are ranked with Okapi BM25
 * (k1 = 1.2, b = 0.75, idf ln(1 + (N - n + 0.5) / (n + 0.5))) against the
 * tokens of the incident at hand: its runbook, key, summary and evidence.
 *
 * Tokens: lower-case runs of [a-z0-9_] (h8_accounts stays one word) of
 * RECALL_MIN_TOKEN..RECALL_MAX_TOKEN bytes that do not start with a digit
 * (pids, xids and times change from one incident to the next), minus a
 * short stop list; quoted literals in SQL are skipped. Object keys of the
 * evidence count too, and the runbook's name is one more token of its own,
 * so incidents of the same runbook rank first.
 *
 * Bound: only the last max_bytes of the log are read (the first, partial
 * line after the seek is skipped); lines that are not JSON objects or are
 * longer than RECALL_MAX_LINE are skipped and counted. A last line without
 * its newline (being written) is left for the next refresh. A log that
 * shrank or was replaced is indexed again from its tail.
 *
 * The index holds the raw text of the local audit log: what leaves for an
 * LLM is redacted and fenced by think/prompt.c, not here.
 *
 * Thread affinity: a struct recall belongs to one thread (the advisor's in
 * the TUI, the main thread in `cockpit diagnose`); it has no lock.
 */
#ifndef COCKPIT_THINK_RECALL_H
#define COCKPIT_THINK_RECALL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct incident;
struct runbook_set;
struct recall;

#define RECALL_DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define RECALL_MAX_LINE ((size_t)1 << 20)
#define RECALL_MIN_TOKEN 2
#define RECALL_MAX_TOKEN 63

struct recall_stats {
	int64_t records;        /* records indexed */
	int64_t corrupt;        /* lines skipped: not a JSON object, too long */
	int64_t skipped_bytes;  /* bytes of the log before the tail that was read */
	int64_t read_bytes;     /* bytes read, all refreshes */
	size_t incidents;       /* documents: past incidents */
	size_t runbooks;        /* documents: runbooks */
	size_t terms;           /* distinct tokens */
};

/* One past incident as the prompt shows it. Strings are borrowed from the
 * index (valid until its next refresh or add), raw (not redacted), NULL
 * when the log did not say. */
struct recall_hit {
	double score;
	const char *key;
	const char *runbook;
	const char *at;         /* "2026-11-22 04:05" (UTC), when it opened */
	const char *summary;
	const char *query;      /* the first query of its evidence */
	const char *done;       /* "proposed terminate_backend on pid 4711 (rule); accepted; executed" */
	const char *outcome;    /* "verified", "rolled back", "escalated", ... */
	const char *root_cause; /* the LLM's, when one was recorded */
	double lasted_s;        /* < 0: not seen to clear */
};

struct recall_runbook_hit {
	double score;
	const char *name;       /* borrowed from the index */
	const char *title;      /* or NULL */
	const char *guidance;   /* or NULL */
};

struct recall_result {
	struct recall_hit *v; size_t n;              /* owned array, best first */
	struct recall_runbook_hit *rb; size_t nrb;   /* owned array, best first */
	size_t history;         /* past incidents in the index (the one at hand left out) */
};

/* A new index of the log at audit_path (NULL or missing: no history yet)
 * and of the runbooks in rs (NULL: none; copied). max_bytes 0 means
 * RECALL_DEFAULT_MAX_BYTES. Never fails: a log that cannot be read leaves
 * the index empty, with the reason in recall_error(). */
struct recall *recall_new(const char *audit_path, const struct runbook_set *rs, size_t max_bytes);
void recall_free(struct recall *r);

/* Read what was appended to the log since the last read. Returns the
 * records added, or -1 when the log cannot be read (recall_error() says
 * why; the index keeps what it had). */
int64_t recall_refresh(struct recall *r);

/* Add one record (a parsed audit line; borrowed). */
void recall_add_record(struct recall *r, const json_t *rec);
/* Add one line of the log (len bytes, the newline optional): -1 (and
 * counted as corrupt) when it is not a JSON object or is longer than
 * RECALL_MAX_LINE, 0 otherwise. */
int recall_add_line(struct recall *r, const char *line, size_t len);

/* The top k past incidents (the open one with in->key left out) and the
 * top krb runbooks (in->runbook left out) for in. Documents sharing no
 * token with it are not returned, nor a past incident that repeats a
 * better one (the same runbook, summary, query and story, numbers aside:
 * the same blocker seen again). Release with recall_result_release. */
void recall_query(struct recall *r, const struct incident *in, size_t k, size_t krb,
		  struct recall_result *out);
void recall_result_release(struct recall_result *res);

void recall_get_stats(const struct recall *r, struct recall_stats *st);
/* The last read error, "" when none. Borrowed. */
const char *recall_error(const struct recall *r);

/* The tokenizer, for tests: fn gets each token (lower case, NUL-terminated,
 * valid during the call). sql: skip '...' literals. */
void recall_tokenize(const char *text, int sql, void (*fn)(void *arg, const char *tok, size_t len),
		     void *arg);

#endif
