/*
 * serverlog: find deadlock reports in a PostgreSQL server log; see serverlog.h.
 *
 * Three layers, each fed by the one before:
 *
 *   1. The splitter cuts the byte stream into records: lines for stderr and
 *      jsonlog, RFC 4180 records for csvlog (a newline inside a quoted field
 *      does not end the record). It keeps the incomplete tail between feeds
 *      and never holds more than SERVERLOG_LINE_MAX bytes of one record; the
 *      rest of an over-long record is dropped. A csvlog stream is read in
 *      "resync" mode until a line that starts like a csvlog record
 *      ("2026-11-22 04:05:06.123 UTC,"), so a stream that starts in the
 *      middle of a quoted field cannot invert the quote state for good; a
 *      record that does not parse puts the splitter back into resync mode.
 *
 *   2. Per format, a record becomes a candidate report. csvlog and jsonlog
 *      carry one whole message per record with its SQLSTATE, so 40P01 is
 *      all we look for. stderr is harder: one message is a head line
 *      ("<log_line_prefix>ERROR:  deadlock detected") followed by DETAIL,
 *      HINT, CONTEXT, LOCATION and STATEMENT lines, each with the prefix
 *      again, and a newline inside any of them continues on a line that
 *      starts with a tab. The prefix is user-defined, so it is read with
 *      heuristics: the severity is the first "LEVEL:  " token, the pid the
 *      first "[digits]" (or "pid=digits"), the SQLSTATE a whitespace-
 *      delimited five-character token (%e) or the "40P01: " that
 *      log_error_verbosity=verbose puts before the message, user and
 *      database "user=", "db=" keys or a "user@db" token. A report stays
 *      pending until its STATEMENT, a new message from the same pid, any
 *      other message once its DETAIL is in (PostgreSQL writes a message's
 *      lines in one write, so they are contiguous in the file), or finish().
 *      Without a pid in the prefix, lines are matched by adjacency.
 *
 *   3. The DETAIL is parsed into processes: "Process P waits for MODE on
 *      OBJECT; blocked by process Q." lines, then "Process P: STATEMENT"
 *      lines whose statement runs on until the next "Process N" line.
 *      OBJECT is decoded with the formats of DescribeLockTag() (lmgr.c).
 *
 * Messages are matched in English only: a server with lc_messages in another
 * language is understood through the SQLSTATE (csvlog, jsonlog, %e).
 */
#include "perceive/serverlog.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/strbuf.h"

/* Bytes kept of one line, csv record or stderr message; the rest is dropped. */
#define SERVERLOG_LINE_MAX ((size_t)1 << 20)
/* stderr reports waiting for their DETAIL/STATEMENT lines. */
#define SERVERLOG_PENDING_MAX 16
/* The log_line_prefix is looked for in this many bytes of a line. */
#define SERVERLOG_PREFIX_MAX 2048
/* csvlog columns, stable since PostgreSQL 9.0 (13 and 14 only appended). */
#define CSV_FIELDS_MIN 23
#define CSV_FIELDS_MAX 40

#define DEADLOCK_SQLSTATE "40P01"
#define DEADLOCK_MESSAGE "deadlock detected"

enum csv_col {
	CSV_LOG_TIME = 0,
	CSV_USER_NAME = 1,
	CSV_DATABASE_NAME = 2,
	CSV_PROCESS_ID = 3,
	CSV_ERROR_SEVERITY = 11,
	CSV_SQL_STATE_CODE = 12,
	CSV_MESSAGE = 13,
	CSV_DETAIL = 14,
	CSV_HINT = 15,
	CSV_CONTEXT = 18,
	CSV_QUERY = 19,
	CSV_APPLICATION_NAME = 22,
};

/* What a stderr line's "LEVEL:  " token says about it. */
enum line_kind {
	LINE_MESSAGE, /* starts a message: ERROR, LOG, FATAL, ... */
	LINE_DETAIL,
	LINE_HINT,
	LINE_QUERY,
	LINE_CONTEXT,
	LINE_LOCATION,
	LINE_STATEMENT,
};

static const struct {
	const char *name;
	enum line_kind kind;
	bool error; /* a level a deadlock report is logged at */
} levels[] = {
	{ "ERROR", LINE_MESSAGE, true },
	{ "LOG", LINE_MESSAGE, false },
	{ "DETAIL", LINE_DETAIL, false },
	{ "HINT", LINE_HINT, false },
	{ "CONTEXT", LINE_CONTEXT, false },
	{ "STATEMENT", LINE_STATEMENT, false },
	{ "LOCATION", LINE_LOCATION, false },
	{ "QUERY", LINE_QUERY, false },
	{ "WARNING", LINE_MESSAGE, false },
	{ "NOTICE", LINE_MESSAGE, false },
	{ "INFO", LINE_MESSAGE, false },
	{ "FATAL", LINE_MESSAGE, true },
	{ "PANIC", LINE_MESSAGE, false },
	{ "DEBUG1", LINE_MESSAGE, false },
	{ "DEBUG2", LINE_MESSAGE, false },
	{ "DEBUG3", LINE_MESSAGE, false },
	{ "DEBUG4", LINE_MESSAGE, false },
	{ "DEBUG5", LINE_MESSAGE, false },
};

/*
 * OBJECT texts of DescribeLockTag(), '#' standing for an unsigned 32-bit
 * number. The indexes say which number is the relation, database or xid
 * (-1: none).
 */
static const struct {
	const char *pattern;
	const char *locktype; /* as pg_locks.locktype names it */
	int relation, database, xid;
} lock_objects[] = {
	{ "transaction #", "transactionid", -1, -1, 0 },
	{ "relation # of database #", "relation", 0, 1, -1 },
	{ "tuple (#,#) of relation # of database #", "tuple", 2, 3, -1 },
	{ "virtual transaction #/#", "virtualxid", -1, -1, -1 },
	{ "advisory lock [#,#,#,#]", "advisory", -1, 0, -1 },
	{ "object # of class # of database #", "object", -1, 2, -1 },
	{ "page # of relation # of database #", "page", 1, 2, -1 },
	{ "extension of relation # of database #", "extend", 0, 1, -1 },
	{ "speculative token # of transaction #", "spectoken", -1, -1, 1 },
	{ "pg_database.datfrozenxid of database #", "frozenid", -1, 0, -1 },
	{ "user lock [#,#,#]", "userlock", -1, -1, -1 },
	{ "remote transaction # of subscription # of database #", "applytransaction", -1, 2, 0 },
};

/* A stderr deadlock report waiting for the rest of its lines. */
struct pending {
	struct deadlock_report r; /* owned strings; procs filled at completion */
	char *detail;             /* owned: DETAIL text, NULL until seen */
	bool pid_known;           /* r.pid came from the prefix */
	bool confirmed;           /* the prefix or a verbose message said 40P01 */
	bool other_state;         /* the prefix showed another SQLSTATE-like token */
	bool seen_hint;
};

/*
 * What the prefix tells about the SQLSTATE. Only a confirmation is trusted:
 * a five-digit %l or a bare %p looks like a SQLSTATE too.
 */
enum prefix_state {
	PREFIX_NO_STATE,
	PREFIX_DEADLOCK,   /* a "40P01" token */
	PREFIX_OTHER_STATE /* SQLSTATE-shaped tokens, none of them 40P01 */
};

/* A parsed stderr head line; pointers borrow from the line. */
struct head {
	enum line_kind kind;
	bool error;              /* ERROR or FATAL */
	const char *prefix;      /* log_line_prefix output */
	size_t prefix_len;
	const char *msg;         /* text after "LEVEL:  " (and a verbose SQLSTATE) */
	size_t msg_len;
	int pid;                 /* 0 when the prefix shows none */
	char code[6];            /* SQLSTATE before the message (verbose), or "" */
	enum prefix_state state; /* SQLSTATE-shaped tokens in the prefix (%e) */
};

struct serverlog_parser {
	enum serverlog_format fmt; /* AUTO until the first telling line */

	/* splitter */
	struct strbuf rec;        /* record being assembled, with its '\n' */
	bool truncated;           /* rec hit SERVERLOG_LINE_MAX; rest dropped */
	bool in_quotes;           /* csvlog: inside a quoted field */
	bool resync;              /* csvlog: waiting for a line that starts a record */

	/* stderr: the message line being assembled with its continuations */
	struct strbuf msg;        /* head line, then "\n" + each continuation */
	bool msg_open;
	bool msg_truncated;

	/* stderr: reports waiting for their DETAIL/HINT/CONTEXT/STATEMENT */
	struct pending *pending[SERVERLOG_PENDING_MAX]; /* owned, oldest first */
	size_t npending;
	struct pending *last;     /* borrowed: took the previous line (adjacency) */

	/* complete reports not yet taken */
	struct deadlock_report *ready; /* owned */
	size_t nready, ready_alloc;
};

/* ---- small string helpers ---------------------------------------------- */

static bool mem_starts(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && memcmp(s, lit, l) == 0;
}

static bool mem_contains(const char *s, size_t n, const char *lit)
{
	return memmem(s, n, lit, strlen(lit)) != NULL;
}

/* A copy of s[0..n) or NULL when empty. */
static char *dup_nonempty(const char *s, size_t n)
{
	return n ? xstrndup(s, n) : NULL;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

/* Parse 1..10 decimal digits into a 32-bit value; returns chars used or 0. */
static size_t parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && i < 11 && isdigit((unsigned char)s[i]))
		v = v * 10 + (uint64_t)(s[i++] - '0');
	if (i == 0 || i > 10 || v > UINT32_MAX)
		return 0;
	*out = (uint32_t)v;
	return i;
}

/* A positive pid of 1..10 digits; returns chars used or 0. */
static size_t parse_pid(const char *s, size_t n, int *pid)
{
	uint32_t v;
	size_t used = parse_u32(s, n, &v);

	if (!used || v == 0 || v > INT32_MAX)
		return 0;
	*pid = (int)v;
	return used;
}

/* "YYYY-MM-DD HH:MM:SS" at s? */
static bool looks_like_timestamp(const char *s, size_t n)
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd";

	if (n < sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	}
	return true;
}

static int64_t parse_time(const char *s, size_t n)
{
	char buf[64];
	int64_t us;

	if (!looks_like_timestamp(s, n))
		return 0;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return clock_parse_timestamp(buf, &us) == 0 ? us : 0;
}

/* ---- lock objects and the DETAIL text ---------------------------------- */

/* Match s against a lock_objects pattern; up to 4 numbers land in vals. */
static bool object_match(const char *s, const char *pat, uint32_t *vals)
{
	size_t n = strlen(s);
	int nv = 0;

	while (*pat) {
		if (*pat == '#') {
			size_t used = nv < 4 ? parse_u32(s, n, &vals[nv]) : 0;

			if (!used)
				return false;
			nv++;
			s += used;
			n -= used;
		} else {
			if (!n || *s != *pat)
				return false;
			s++;
			n--;
		}
		pat++;
	}
	return n == 0;
}

static void object_decode(struct deadlock_proc *dp)
{
	uint32_t v[4];

	for (size_t i = 0; i < sizeof(lock_objects) / sizeof(lock_objects[0]); i++) {
		if (!object_match(dp->object, lock_objects[i].pattern, v))
			continue;
		dp->locktype = xstrdup(lock_objects[i].locktype);
		if (lock_objects[i].relation >= 0)
			dp->relation = v[lock_objects[i].relation];
		if (lock_objects[i].database >= 0)
			dp->database = v[lock_objects[i].database];
		if (lock_objects[i].xid >= 0)
			dp->xid = v[lock_objects[i].xid];
		return;
	}
	dp->locktype = xstrdup("unknown");
}

/* "Process P waits for MODE on OBJECT; blocked by process Q." */
static bool wait_line_parse(const char *s, size_t n, struct deadlock_proc *out)
{
	static const char blocked[] = "; blocked by process ";
	const char *mode, *on, *obj, *end = s + n, *b = NULL, *q;
	int pid, by;
	size_t used;

	if (!mem_starts(s, n, "Process "))
		return false;
	s += 8;
	if (!(used = parse_pid(s, (size_t)(end - s), &pid)))
		return false;
	s += used;
	if (!mem_starts(s, (size_t)(end - s), " waits for "))
		return false;
	mode = s + 11;
	on = memmem(mode, (size_t)(end - mode), " on ", 4);
	if (!on || on == mode)
		return false;
	obj = on + 4;
	/* the last "; blocked by process ": an object never contains one */
	for (q = obj; (q = memmem(q, (size_t)(end - q), blocked, sizeof(blocked) - 1)); q++)
		b = q;
	if (!b || b == obj)
		return false;
	q = b + sizeof(blocked) - 1;
	if (!(used = parse_pid(q, (size_t)(end - q), &by)) || q + used + 1 != end || q[used] != '.')
		return false;
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	out->blocked_by = by;
	out->mode = xstrndup(mode, (size_t)(on - mode));
	out->object = xstrndup(obj, (size_t)(b - obj));
	object_decode(out);
	return true;
}

/* "Process P: STATEMENT"; *text points after ": " (or ":"). */
static bool statement_line_parse(const char *s, size_t n, int *pid, const char **text)
{
	size_t used;

	if (!mem_starts(s, n, "Process "))
		return false;
	if (!(used = parse_pid(s + 8, n - 8, pid)))
		return false;
	used += 8;
	if (used >= n || s[used] != ':')
		return false;
	used++;
	if (used < n && s[used] == ' ')
		used++;
	*text = s + used;
	return true;
}

static struct deadlock_proc *proc_find(struct deadlock_report *r, int pid)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	return NULL;
}

static void statement_flush(struct deadlock_proc *dp, struct strbuf *sb)
{
	if (dp && !dp->statement)
		dp->statement = strbuf_detach(sb, NULL);
	strbuf_reset(sb);
}

/* Fill r->procs from the DETAIL text; lines it cannot read are skipped. */
static void detail_parse(struct deadlock_report *r, const char *detail)
{
	struct strbuf stmt = STRBUF_INIT;
	struct deadlock_proc *cur = NULL; /* whose statement stmt is */
	size_t alloc = 0;
	const char *s = detail;

	strbuf_init(&stmt, 0);
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		struct deadlock_proc dp;
		const char *text;
		int pid;

		if (wait_line_parse(s, n, &dp)) {
			statement_flush(cur, &stmt);
			cur = NULL;
			if (proc_find(r, dp.pid)) {
				free(dp.mode);
				free(dp.object);
				free(dp.locktype);
			} else {
				XGROW(r->procs, alloc, r->nprocs + 1);
				r->procs[r->nprocs++] = dp;
			}
		} else if (statement_line_parse(s, n, &pid, &text)) {
			statement_flush(cur, &stmt);
			cur = proc_find(r, pid);
			strbuf_add(&stmt, text, n - (size_t)(text - s));
		} else if (cur) {
			strbuf_addch(&stmt, '\n');
			strbuf_add(&stmt, s, n);
		}
		s += n + (nl != NULL);
	}
	statement_flush(cur, &stmt);
	strbuf_release(&stmt);
}

/* ---- reports ----------------------------------------------------------- */

static void report_release(struct deadlock_report *r)
{
	for (size_t i = 0; i < r->nprocs; i++) {
		free(r->procs[i].mode);
		free(r->procs[i].object);
		free(r->procs[i].locktype);
		free(r->procs[i].statement);
	}
	free(r->procs);
	free(r->user);
	free(r->database);
	free(r->application);
	free(r->statement);
	free(r->context);
	memset(r, 0, sizeof(*r));
}

void serverlog_reports_free(struct deadlock_report *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++)
		report_release(&r[i]);
	free(r);
}

/* Hand a finished report (its strings) to the ready list. */
static void report_publish(struct serverlog_parser *p, struct deadlock_report *r)
{
	XGROW(p->ready, p->ready_alloc, p->nready + 1);
	p->ready[p->nready++] = *r;
	memset(r, 0, sizeof(*r));
}

/* ---- csvlog ------------------------------------------------------------ */

struct csv_field {
	size_t off, len; /* into the scratch buffer, NUL-terminated there */
};

/*
 * Split one record into unquoted, NUL-terminated fields in scratch. A quoted
 * field left open is an error unless the record was truncated, when what we
 * have is kept. Returns the field count or -1.
 */
static int csv_split(const char *s, size_t n, bool truncated, struct strbuf *scratch,
		     struct csv_field *f, int max)
{
	size_t i = 0;
	int nf = 0;

	strbuf_reset(scratch);
	for (;;) {
		if (nf == max)
			return nf;
		f[nf].off = scratch->len;
		if (i < n && s[i] == '"') {
			bool closed = false;

			for (i++; i < n;) {
				const char *q = memchr(s + i, '"', n - i);
				size_t len = q ? (size_t)(q - (s + i)) : n - i;

				strbuf_add(scratch, s + i, len);
				i += len;
				if (i == n)
					break;
				if (i + 1 < n && s[i + 1] == '"') { /* "" is a quote */
					strbuf_addch(scratch, '"');
					i += 2;
					continue;
				}
				closed = true;
				i++;
				break;
			}
			if ((!closed && !truncated) || (i < n && s[i] != ','))
				return -1;
		} else {
			const char *comma = memchr(s + i, ',', n - i);
			size_t len = comma ? (size_t)(comma - (s + i)) : n - i;

			strbuf_add(scratch, s + i, len);
			i += len;
		}
		f[nf].len = scratch->len - f[nf].off;
		strbuf_addch(scratch, '\0');
		nf++;
		if (i >= n)
			return nf;
		i++; /* the comma */
		if (i == n && nf < max) { /* a trailing empty field */
			f[nf].off = scratch->len;
			f[nf].len = 0;
			strbuf_addch(scratch, '\0');
			return nf + 1;
		}
	}
}

/* Field i of a split record; "" past the last (a truncated record). */
static const char *csv_get(const struct strbuf *scratch, const struct csv_field *f, int nf,
			   enum csv_col i)
{
	return (int)i < nf ? scratch->buf + f[i].off : "";
}

/*
 * "2026-11-22 04:05:06.123 UTC," — how every csvlog record begins. The zone
 * is whatever %Z printed: "UTC", "CEST", "+03".
 */
static bool csv_record_start(const char *s, size_t n)
{
	size_t i = 19, z;

	if (!looks_like_timestamp(s, n))
		return false;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i >= n || s[i++] != ' ')
		return false;
	for (z = i; i < n && i - z <= 32 && s[i] != ',' && s[i] != ' ' && s[i] != '"'; i++)
		;
	return i > z && i < n && s[i] == ',';
}

/* One csvlog record (without its final newline). Returns false when it does
 * not parse as one, so the splitter resyncs. */
static bool csv_record(struct serverlog_parser *p, const char *s, size_t n, bool truncated)
{
	struct csv_field f[CSV_FIELDS_MAX];
	struct strbuf scratch = STRBUF_INIT;
	struct deadlock_report r;
	const char *v;
	bool ok = true;
	int nf;

	if (!csv_record_start(s, n))
		return false;
	/* Cheap filter: only the records that might be deadlocks are split. */
	if (!mem_contains(s, n, DEADLOCK_SQLSTATE))
		return true;
	strbuf_init(&scratch, n + CSV_FIELDS_MAX);
	nf = csv_split(s, n, truncated, &scratch, f, CSV_FIELDS_MAX);
	if (nf < 0 || (!truncated && nf < CSV_FIELDS_MIN)) {
		ok = false;
		goto out_scratch;
	}
	if (strcmp(csv_get(&scratch, f, nf, CSV_SQL_STATE_CODE), DEADLOCK_SQLSTATE) != 0)
		goto out_scratch;

	memset(&r, 0, sizeof(r));
	v = csv_get(&scratch, f, nf, CSV_LOG_TIME);
	r.time_us = parse_time(v, strlen(v));
	v = csv_get(&scratch, f, nf, CSV_PROCESS_ID);
	parse_pid(v, strlen(v), &r.pid);
	r.user = dup_or_null(csv_get(&scratch, f, nf, CSV_USER_NAME));
	r.database = dup_or_null(csv_get(&scratch, f, nf, CSV_DATABASE_NAME));
	r.application = dup_or_null(csv_get(&scratch, f, nf, CSV_APPLICATION_NAME));
	r.statement = dup_or_null(csv_get(&scratch, f, nf, CSV_QUERY));
	r.context = dup_or_null(csv_get(&scratch, f, nf, CSV_CONTEXT));
	detail_parse(&r, csv_get(&scratch, f, nf, CSV_DETAIL));
	report_publish(p, &r);

out_scratch:
	strbuf_release(&scratch);
	return ok;
}

/* ---- jsonlog ----------------------------------------------------------- */

/* Copy s with every byte that is not part of valid UTF-8 replaced by '?':
 * jansson refuses invalid UTF-8, PostgreSQL (SQL_ASCII databases) may log it. */
static void utf8_sanitize(const char *s, size_t n, struct strbuf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = u[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			     (c & 0xf8) == 0xf0 ? 4 : 0;
		uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
		bool ok = len > 0 && i + len <= n;

		for (size_t k = 1; ok && k < len; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				ok = false;
			else
				cp = (cp << 6) | (u[i + k] & 0x3f);
		}
		if (ok && len > 1) {
			static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };

			ok = cp >= min[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
		}
		if (ok && c != 0) {
			strbuf_add(out, s + i, len);
			i += len;
		} else {
			strbuf_addch(out, '?');
			i++;
		}
	}
}

static const char *json_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void json_line(struct serverlog_parser *p, const char *s, size_t n)
{
	struct strbuf clean = STRBUF_INIT;
	struct deadlock_report r;
	json_error_t err;
	json_t *o, *pid;
	const char *v;

	if (!mem_starts(s, n, "{") || !mem_contains(s, n, DEADLOCK_SQLSTATE))
		return;
	o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
	if (!o) {
		strbuf_init(&clean, n);
		utf8_sanitize(s, n, &clean);
		o = json_loadb(clean.buf, clean.len, JSON_REJECT_DUPLICATES, &err);
		if (!o)
			goto out_clean;
	}
	if (!json_is_object(o) || !(v = json_str(o, "state_code")) ||
	    strcmp(v, DEADLOCK_SQLSTATE) != 0)
		goto out_json;

	memset(&r, 0, sizeof(r));
	if ((v = json_str(o, "timestamp")))
		r.time_us = parse_time(v, strlen(v));
	pid = json_object_get(o, "pid");
	if (json_is_integer(pid) && json_integer_value(pid) > 0 &&
	    json_integer_value(pid) <= INT32_MAX)
		r.pid = (int)json_integer_value(pid);
	r.user = dup_or_null(json_str(o, "user"));
	r.database = dup_or_null(json_str(o, "dbname"));
	r.application = dup_or_null(json_str(o, "application_name"));
	r.statement = dup_or_null(json_str(o, "statement"));
	r.context = dup_or_null(json_str(o, "context"));
	if ((v = json_str(o, "detail")))
		detail_parse(&r, v);
	report_publish(p, &r);

out_json:
	json_decref(o);
out_clean:
	strbuf_release(&clean);
}

/* ---- stderr ------------------------------------------------------------ */

/* Find "LEVEL:  " at the start of the line or after a space. */
static bool head_parse(const char *s, size_t n, struct head *h)
{
	size_t lim = n < SERVERLOG_PREFIX_MAX ? n : SERVERLOG_PREFIX_MAX;

	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < lim; i++) {
		if (!isupper((unsigned char)s[i]) || (i > 0 && s[i - 1] != ' '))
			continue;
		for (size_t k = 0; k < sizeof(levels) / sizeof(levels[0]); k++) {
			size_t l = strlen(levels[k].name);

			if (!mem_starts(s + i, n - i, levels[k].name) ||
			    !mem_starts(s + i + l, n - i - l, ":  "))
				continue;
			h->kind = levels[k].kind;
			h->error = levels[k].error;
			h->prefix = s;
			h->prefix_len = i;
			h->msg = s + i + l + 3;
			h->msg_len = n - i - l - 3;
			return true;
		}
	}
	return false;
}

/* SQLSTATE shape: five of [0-9A-Z] with at least one digit (no all-caps
 * user or application names). */
static bool is_sqlstate(const char *s, size_t n)
{
	bool digit = false;

	if (n != 5)
		return false;
	for (size_t i = 0; i < 5; i++) {
		if (!isdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]))
			return false;
		digit |= isdigit((unsigned char)s[i]) != 0;
	}
	return digit;
}

/* pid and SQLSTATE from a prefix; see the file comment for the heuristics. */
static void prefix_scan(struct head *h)
{
	const char *s = h->prefix, *end = s + h->prefix_len;
	const char *pidkey;

	for (const char *b = s; (b = memchr(b, '[', (size_t)(end - b))); b++) {
		size_t used = parse_pid(b + 1, (size_t)(end - b - 1), &h->pid);

		if (used && b + 1 + used < end && b[1 + used] == ']')
			break;
		h->pid = 0;
	}
	if (!h->pid && (pidkey = memmem(s, h->prefix_len, "pid=", 4)))
		parse_pid(pidkey + 4, (size_t)(end - pidkey - 4), &h->pid);

	/* verbose: "ERROR:  40P01: deadlock detected" */
	if (h->msg_len >= 7 && is_sqlstate(h->msg, 5) && h->msg[5] == ':' && h->msg[6] == ' ') {
		memcpy(h->code, h->msg, 5);
		h->msg += 7;
		h->msg_len -= 7;
	}
	/* %e: a whitespace-delimited token */
	while (s < end) {
		const char *t;
		size_t tl;

		while (s < end && *s == ' ')
			s++;
		for (t = s; s < end && *s != ' '; s++)
			;
		tl = (size_t)(s - t);
		if (tl == 6 && (t[5] == ':' || t[5] == ','))
			tl = 5;
		if (is_sqlstate(t, tl)) {
			if (memcmp(t, DEADLOCK_SQLSTATE, 5) == 0) {
				h->state = PREFIX_DEADLOCK;
				return;
			}
			h->state = PREFIX_OTHER_STATE;
		}
	}
}

/* Where "key=" starts a token of the prefix, or NULL. */
static const char *prefix_key_find(const char *s, size_t n, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i + kl <= n; i++) {
		if ((i == 0 || (s[i - 1] && strchr(" ,[(;|", s[i - 1]))) && memcmp(s + i, key, kl) == 0)
			return s + i + kl;
	}
	return NULL;
}

static bool prefix_has_key(const char *s, size_t n, const char *key)
{
	return prefix_key_find(s, n, key) != NULL;
}

/* The value of "key=" in a prefix; it ends at ',', ' ', ']', ')', ';', '|'. */
static char *prefix_key(const char *s, size_t n, const char *key)
{
	const char *v = prefix_key_find(s, n, key), *e;

	if (!v)
		return NULL;
	for (e = v; e < s + n && !strchr(",])|; ", *e); e++)
		;
	return dup_nonempty(v, (size_t)(e - v));
}

/* user, database, application and time of a report from its head line. */
static void prefix_fill(const struct head *h, struct deadlock_report *r)
{
	const char *s = h->prefix, *end = s + h->prefix_len;

	for (const char *t = s; t + 19 <= end; t++) {
		if (looks_like_timestamp(t, (size_t)(end - t))) {
			r->time_us = parse_time(t, (size_t)(end - t));
			break;
		}
	}
	bool keyed = prefix_has_key(s, h->prefix_len, "user=") ||
		     prefix_has_key(s, h->prefix_len, "db=") ||
		     prefix_has_key(s, h->prefix_len, "database=");

	r->user = prefix_key(s, h->prefix_len, "user=");
	r->database = prefix_key(s, h->prefix_len, "db=");
	if (!r->database)
		r->database = prefix_key(s, h->prefix_len, "database=");
	r->application = prefix_key(s, h->prefix_len, "app=");
	if (!r->application)
		r->application = prefix_key(s, h->prefix_len, "application_name=");
	if (keyed)
		return;
	/* "%u@%d": the last token with an '@'; user names may hold one
	 * ("alice@corp"), so split at the last. */
	for (const char *t = end; t > s;) {
		const char *te = t, *at;

		while (t > s && t[-1] != ' ')
			t--;
		at = memrchr(t, '@', (size_t)(te - t));
		while (te > t && (te[-1] == ':' || te[-1] == ','))
			te--;
		if (at && at < te) {
			r->user = dup_nonempty(t, (size_t)(at - t));
			r->database = dup_nonempty(at + 1, (size_t)(te - at - 1));
			return;
		}
		while (t > s && t[-1] == ' ')
			t--;
	}
}

static void pending_free(struct pending *pr)
{
	report_release(&pr->r);
	free(pr->detail);
	free(pr);
}

/* Finish the pending report at index i: publish it or, when it turns out not
 * to be a deadlock report, drop it. eof: no line came after it. */
static void pending_complete(struct serverlog_parser *p, size_t i, bool eof)
{
	struct pending *pr = p->pending[i];

	memmove(&p->pending[i], &p->pending[i + 1], (p->npending - i - 1) * sizeof(p->pending[0]));
	p->npending--;
	if (p->last == pr)
		p->last = NULL;
	if (pr->detail)
		detail_parse(&pr->r, pr->detail);
	/* DeadLockReport() lists the detecting backend first */
	if (!pr->r.pid && pr->r.nprocs > 0)
		pr->r.pid = pr->r.procs[0].pid;
	/*
	 * Without a SQLSTATE, "ERROR:  deadlock detected" may also be a user's
	 * RAISE: keep it if the DETAIL named processes, or if nothing but a
	 * STATEMENT or the next message followed (log_error_verbosity = terse)
	 * and the prefix showed no other SQLSTATE. A RAISE comes with a PL/pgSQL
	 * CONTEXT, which may still be unwritten when the input ends.
	 */
	if (pr->confirmed || pr->r.nprocs > 0 ||
	    (!pr->detail && !pr->seen_hint && !pr->r.context && !pr->other_state && !eof))
		report_publish(p, &pr->r);
	pending_free(pr);
}

static void pending_complete_all(struct serverlog_parser *p)
{
	while (p->npending)
		pending_complete(p, 0, true);
}

/* The report a DETAIL/HINT/... line belongs to: by pid when both show one,
 * else the report that took the line before. */
static struct pending *pending_find(struct serverlog_parser *p, const struct head *h)
{
	if (!h->pid || (p->last && !p->last->pid_known))
		return p->last;
	for (size_t i = 0; i < p->npending; i++)
		if (p->pending[i]->pid_known && p->pending[i]->r.pid == h->pid)
			return p->pending[i];
	return NULL;
}

static size_t pending_index(struct serverlog_parser *p, const struct pending *pr)
{
	for (size_t i = 0; i < p->npending; i++)
		if (p->pending[i] == pr)
			return i;
	return p->npending;
}

/* A new message from h->pid ends the reports it can no longer belong to. */
static void pending_close_for(struct serverlog_parser *p, const struct head *h)
{
	size_t i = 0;

	while (i < p->npending) {
		struct pending *pr = p->pending[i];

		if (!pr->pid_known || !h->pid || pr->r.pid == h->pid || pr->detail)
			pending_complete(p, i, false);
		else
			i++;
	}
}

static void message_start(struct serverlog_parser *p, const struct head *h)
{
	struct pending *pr;
	bool deadlock;

	pending_close_for(p, h);
	p->last = NULL;
	if (!h->error)
		return;
	if (h->code[0])
		deadlock = strcmp(h->code, DEADLOCK_SQLSTATE) == 0;
	else
		deadlock = h->state == PREFIX_DEADLOCK ||
			   (h->msg_len == strlen(DEADLOCK_MESSAGE) &&
			    memcmp(h->msg, DEADLOCK_MESSAGE, h->msg_len) == 0);
	if (!deadlock)
		return;
	if (p->npending == SERVERLOG_PENDING_MAX)
		pending_complete(p, 0, false);
	pr = xcalloc(1, sizeof(*pr));
	pr->r.pid = h->pid;
	pr->pid_known = h->pid != 0;
	pr->confirmed = h->code[0] != '\0' || h->state == PREFIX_DEADLOCK;
	pr->other_state = h->state == PREFIX_OTHER_STATE;
	prefix_fill(h, &pr->r);
	p->pending[p->npending++] = pr;
	p->last = pr;
}

static void part_add(struct serverlog_parser *p, const struct head *h)
{
	struct pending *pr = pending_find(p, h);

	if (!pr) {
		if (h->pid)
			p->last = NULL;
		return;
	}
	p->last = pr;
	switch (h->kind) {
	case LINE_DETAIL:
		if (!pr->detail)
			pr->detail = xstrndup(h->msg, h->msg_len);
		break;
	case LINE_HINT:
		pr->seen_hint = true;
		break;
	case LINE_CONTEXT:
		if (!pr->r.context)
			pr->r.context = dup_nonempty(h->msg, h->msg_len);
		break;
	case LINE_STATEMENT:
		/* the last line of a message: the report is complete */
		if (!pr->r.statement)
			pr->r.statement = dup_nonempty(h->msg, h->msg_len);
		pending_complete(p, pending_index(p, pr), false);
		break;
	case LINE_MESSAGE:
	case LINE_QUERY:
	case LINE_LOCATION:
		break;
	}
}

/* A complete stderr message: head line plus its continuation lines. */
static void stderr_message(struct serverlog_parser *p)
{
	struct head h;

	if (!p->msg_open)
		return;
	p->msg_open = false;
	p->msg_truncated = false;
	/* Lines without a severity (an archive_command's own stderr, say) are
	 * not PostgreSQL's and change nothing. */
	if (head_parse(p->msg.buf, p->msg.len, &h)) {
		prefix_scan(&h);
		if (h.kind == LINE_MESSAGE)
			message_start(p, &h);
		else
			part_add(p, &h);
	}
	strbuf_reset(&p->msg);
	if (p->msg.alloc > 64 * 1024)
		strbuf_release(&p->msg);
}

static void stderr_line(struct serverlog_parser *p, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > 0 && s[0] == '\t') {
		/* continuation of the message before; one tab was added per line */
		if (!p->msg_open || p->msg_truncated)
			return;
		if (p->msg.len + n > SERVERLOG_LINE_MAX) {
			/* keep what fits: a DETAIL's first processes are worth it */
			n = SERVERLOG_LINE_MAX - p->msg.len;
			p->msg_truncated = true;
			if (n < 2)
				return;
		}
		strbuf_addch(&p->msg, '\n');
		strbuf_add(&p->msg, s + 1, n - 1);
		return;
	}
	stderr_message(p);
	strbuf_add(&p->msg, s, n);
	p->msg_open = true;
}

/* ---- the splitter ------------------------------------------------------ */

/* An AUTO parser's line: decide the format if the line tells. */
static bool format_detect(struct serverlog_parser *p, const char *s, size_t n)
{
	struct head h;

	if (mem_starts(s, n, "{\"timestamp\":"))
		p->fmt = SERVERLOG_JSONLOG;
	else if (csv_record_start(s, n))
		p->fmt = SERVERLOG_CSVLOG;
	else if (n > 0 && s[0] != '\t' && head_parse(s, n, &h))
		p->fmt = SERVERLOG_STDERR;
	return p->fmt != SERVERLOG_AUTO;
}

/* A csvlog line read in resync mode (quotes ignored). Returns true when the
 * record goes on past this line and rec must be kept. */
static bool csv_resync_line(struct serverlog_parser *p, const char *s, size_t n, bool eof)
{
	bool open = false;

	if (!csv_record_start(s, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '"')
			open = !open;
	p->resync = false;
	if (open && !eof) {
		/* a multi-line field: go on with the record (truncated or not) */
		p->in_quotes = true;
		return true;
	}
	if (!csv_record(p, s, n, p->truncated || open))
		p->resync = true;
	return false;
}

/* rec holds one whole record (eof: or what was left at finish()). */
static void record_done(struct serverlog_parser *p, bool eof)
{
	const char *s = p->rec.buf;
	size_t n = p->rec.len;
	bool keep = false;

	/* the record's own newline (a truncated record lost it) */
	if (n > 0 && s[n - 1] == '\n' && !p->truncated)
		n--;
	if (p->fmt == SERVERLOG_AUTO && !format_detect(p, s, n))
		goto out;
	switch (p->fmt) {
	case SERVERLOG_STDERR:
		stderr_line(p, s, n);
		break;
	case SERVERLOG_JSONLOG:
		json_line(p, s, n);
		break;
	case SERVERLOG_CSVLOG:
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (p->resync)
			keep = csv_resync_line(p, s, n, eof);
		else if (!csv_record(p, s, n, p->truncated || p->in_quotes))
			p->resync = true;
		break;
	case SERVERLOG_AUTO:
		break;
	}
out:
	if (keep)
		return;
	p->in_quotes = false;
	p->truncated = false;
	strbuf_reset(&p->rec);
	if (p->rec.alloc > 64 * 1024)
		strbuf_release(&p->rec);
}

/* Length of the next piece of data up to and including a record end, and
 * whether it ends one. */
static size_t record_span(struct serverlog_parser *p, const char *d, size_t n, bool *end)
{
	const char *nl;

	*end = false;
	if (p->fmt == SERVERLOG_CSVLOG && !p->resync) {
		for (size_t i = 0; i < n; i++) {
			if (d[i] == '"') {
				p->in_quotes = !p->in_quotes;
			} else if (d[i] == '\n' && !p->in_quotes) {
				*end = true;
				return i + 1;
			}
		}
		return n;
	}
	nl = memchr(d, '\n', n);
	if (!nl)
		return n;
	*end = true;
	return (size_t)(nl - d) + 1;
}

static void record_add(struct serverlog_parser *p, const char *d, size_t n)
{
	size_t room = SERVERLOG_LINE_MAX - p->rec.len;

	if (p->truncated)
		return;
	if (n > room) {
		n = room;
		p->truncated = true;
	}
	strbuf_add(&p->rec, d, n);
}

/* ---- public API -------------------------------------------------------- */

struct serverlog_parser *serverlog_parser_new(enum serverlog_format fmt)
{
	struct serverlog_parser *p = xcalloc(1, sizeof(*p));

	p->fmt = fmt;
	p->resync = true;
	strbuf_init(&p->rec, 0);
	strbuf_init(&p->msg, 0);
	return p;
}

void serverlog_parser_free(struct serverlog_parser *p)
{
	if (!p)
		return;
	strbuf_release(&p->rec);
	strbuf_release(&p->msg);
	for (size_t i = 0; i < p->npending; i++)
		pending_free(p->pending[i]);
	serverlog_reports_free(p->ready, p->nready);
	free(p);
}

size_t serverlog_parser_feed(struct serverlog_parser *p, const char *data, size_t len)
{
	size_t before = p->nready;

	while (len > 0) {
		bool end;
		size_t n = record_span(p, data, len, &end);

		record_add(p, data, n);
		if (end)
			record_done(p, false);
		data += n;
		len -= n;
	}
	return p->nready - before;
}

size_t serverlog_parser_finish(struct serverlog_parser *p)
{
	size_t before = p->nready;

	if (p->rec.len > 0)
		record_done(p, true);
	p->in_quotes = false;
	p->truncated = false;
	p->resync = true;
	strbuf_reset(&p->rec);
	stderr_message(p);
	pending_complete_all(p);
	p->last = NULL;
	return p->nready - before;
}

size_t serverlog_parser_take(struct serverlog_parser *p, struct deadlock_report **out)
{
	size_t n = p->nready;

	*out = n ? p->ready : NULL;
	if (!n)
		return 0;
	p->ready = NULL;
	p->nready = 0;
	p->ready_alloc = 0;
	return n;
}

enum serverlog_format serverlog_parser_format(const struct serverlog_parser *p)
{
	return p->fmt;
}

enum serverlog_format serverlog_format_from_name(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;

	if (dot && strchr(dot, '/') == NULL) {
		if (strcmp(dot, ".csv") == 0)
			return SERVERLOG_CSVLOG;
		if (strcmp(dot, ".json") == 0)
			return SERVERLOG_JSONLOG;
	}
	return SERVERLOG_STDERR;
}
