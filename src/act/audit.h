/*
 * audit: the append-only, hash-chained audit log (DESIGN.md safety rule 5).
 *
 * Every step the act layer takes is written here first; the executor runs
 * nothing whose record audit_append() did not acknowledge. One record is one
 * line of JSON:
 *
 *   {"at":"2026-11-22T04:05:06.123Z","hash":"<64 hex>","kind":"exec.start",
 *    "operator":{"host":"db-ops-1","ssh_client":"10.0.0.7 50122 22","user":"ana"},
 *    "prev":"<64 hex>","seq":7,"version":1, ...the caller's fields...}
 *
 * The line is the record's canonical text: jansson's JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII, so one record has exactly one text.
 * "hash" is the hex SHA-256 of the canonical text of the record without
 * "hash"; "prev" is the previous record's "hash" (64 zeros for the first);
 * "seq" counts from 1 with no gap. A verifier in another language must
 * reproduce jansson's text exactly (keys sorted bytewise, no spaces, control
 * and non-ASCII characters as \uXXXX in upper-case hex, surrogate pairs past
 * U+FFFF, reals as %.17g keeping a ".0"), or call `cockpit audit verify`. Changing a record breaks its hash;
 * removing or reordering records breaks a "prev" link. The chain detects
 * accidents and casual edits, not a forger who rewrites every later record:
 * it is not a signature (ship the newest hash elsewhere for that).
 *
 * Durability: a record is acknowledged (audit_append() returns 0) only after
 * the whole line was written and fsync() returned. A crash can leave at most
 * one torn, never-acknowledged line at the end; the next audit_open() or
 * audit_append() copies those bytes to PATH.torn-<UTC timestamp>, truncates
 * them, and writes an "audit.repair" record naming that file, so nothing is
 * lost and the chain goes on.
 *
 * Several writers: the file is locked (flock, exclusive) only for the
 * duration of one append; under the lock the writer re-reads the last
 * record when the file grew since its own last append, so several cockpit
 * processes (a war room of operators) append to one chain safely. A flock is
 * held by an open file description: open a struct audit per process, never
 * share one across fork() (a child may audit_close() the handle it inherited:
 * that leaves the parent's lock alone).
 */
#ifndef COCKPIT_ACT_AUDIT_H
#define COCKPIT_ACT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define AUDIT_RECORD_VERSION 1
#define AUDIT_HASH_HEXLEN 64
#define AUDIT_LOCK_TIMEOUT_MS 10000 /* default wait for another writer's lock */

struct audit;

/*
 * Open (create with mode 0600, missing parent directories with 0700) the
 * log at path for appending, and load the last record to continue the chain.
 * A torn last line is moved aside as described above; the message saying so
 * is left for audit_take_notice(). Fails (NULL, message in err) when the file
 * cannot be opened, locked or repaired, or when its last complete line is not
 * a valid record (the log was edited: see audit_verify()).
 * Any thread; the result may be shared by threads (see audit_append()).
 */
struct audit *audit_open(const char *path, char *err, size_t errlen);

/*
 * Append one record of the given kind ("exec.start", "proposal.accept"...).
 * fields (borrowed, may be NULL) must be an object; its members are copied
 * into the record and may not use the reserved names version, seq, at, kind,
 * operator, prev and hash. Returns 0 once the record is on disk (fsync'd), or
 * -1 with a message that names the file, the cause and the fix, e.g.
 *   audit log '/var/log/cockpit/audit.jsonl': No space left on device — free
 *   space or point paths.audit_log elsewhere; nothing was executed
 * in which case the file holds no part of the record: the caller must not
 * execute the step. After a failed fsync the handle refuses every later
 * append (the state of the disk is unknown) until the log is reopened.
 * Thread-safe: appends from several threads are serialised by a mutex inside
 * struct audit. Blocks for a write, an fsync and, while another process is
 * appending, up to the lock timeout.
 */
int audit_append(struct audit *a, const char *kind, json_t *fields, char *err, size_t errlen);

/* Pending notices (torn tails moved aside), one per line, or NULL when there
 * are none; the caller frees the string. Thread-safe. */
char *audit_take_notice(struct audit *a);

/* How long audit_append() waits for another writer's lock (ms, > 0) before
 * it fails naming the holder's pid when /proc/locks tells it. Thread-safe. */
void audit_set_lock_timeout(struct audit *a, int ms);

/* Close the log (every acknowledged record is already on disk). NULL is a
 * no-op. No other thread may be using a. */
void audit_close(struct audit *a);

enum audit_verify_status {
	AUDIT_VERIFY_OK,
	AUDIT_VERIFY_TORN,          /* the last line has no newline (crash mid-write) */
	AUDIT_VERIFY_BAD_JSON,      /* a line is not JSON */
	AUDIT_VERIFY_BAD_RECORD,    /* JSON, but a required field is missing or wrong */
	AUDIT_VERIFY_HASH_MISMATCH, /* the record was changed */
	AUDIT_VERIFY_NOT_CANONICAL, /* hash fits, but the text was re-serialised or edited */
	AUDIT_VERIFY_PREV_MISMATCH, /* a record was removed or reordered */
	AUDIT_VERIFY_SEQ_GAP,       /* seq does not follow the previous record's */
};

struct audit_verify_result {
	enum audit_verify_status status;
	int64_t records;       /* records that verified (all, or those before line) */
	int64_t line;          /* 1-based line of the first problem; 0 when intact */
	int64_t last_seq;      /* seq of the last record that verified; 0 when none */
	char last_hash[AUDIT_HASH_HEXLEN + 1]; /* its hash; "" when none */
	char reason[320];      /* "hash mismatch: ..."; "" when intact */
};

/*
 * Walk the log at path: re-hash every record, check every prev link and seq
 * step. Returns 0 when the chain is intact, 1 when it is not (res->line and
 * res->reason name the first problem), -1 when the file cannot be read
 * (message in err). An empty file is an intact chain of 0 records. Reads the
 * file as it is, without the writers' lock. Any thread.
 */
int audit_verify(const char *path, struct audit_verify_result *res, char *err, size_t errlen);

/* `cockpit audit verify FILE`: prints "FILE: N records, chain intact" on
 * stdout and returns 0, or prints "FILE:LINE: reason" (or the read error)
 * on stderr and returns 1. */
int audit_cmd_verify(const char *path);

#endif
