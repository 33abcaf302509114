/*
 * test_serverlog: the deadlock-report parser against real PostgreSQL 15 logs.
 *
 * tests/data/serverlog/ holds slices of logs written by a throwaway cluster
 * (tests/data/serverlog/README.md says how they were made) in all three
 * formats. Each sample's expected report is in the table below; every sample
 * is also fed byte by byte, in random chunks and split in two anywhere, and
 * must give the same reports. Truncated, mid-stream and malformed input must
 * never crash or leak (run under ASan or valgrind). The few synthetic inputs
 * are built from real lines or from the message formats of PostgreSQL's
 * sources (DescribeLockTag, DeadLockReport).
 */
#include "perceive/serverlog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/strbuf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A statement we do not compare (checked by its own test). */
static const char SKIP[] = "<skip>";

/* ---- helpers ----------------------------------------------------------- */

static char *sample_read(const char *name, size_t *len)
{
	const char *top = getenv("COCKPIT_TOP");
	struct strbuf path = STRBUF_INIT, data = STRBUF_INIT;
	char buf[8192];
	size_t n;
	FILE *f;

	strbuf_init(&path, 0);
	strbuf_addf(&path, "%s/tests/data/serverlog/%s", top && *top ? top : ".", name);
	f = fopen(path.buf, "rb");
	if (!f)
		fail_msg("cannot open sample '%s' (set COCKPIT_TOP or run from the repo top)",
			 path.buf);
	strbuf_init(&data, 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&data, buf, n);
	fclose(f);
	strbuf_release(&path);
	return strbuf_detach(&data, len);
}

static int64_t ts(const char *s)
{
	int64_t us = 0;

	assert_int_equal(clock_parse_timestamp(s, &us), 0);
	return us;
}

/* xorshift64*: fixed seeds keep the chunkings reproducible. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

enum chunking {
	CHUNK_WHOLE,
	CHUNK_BYTES,
	CHUNK_RANDOM, /* 1..max random sizes from seed */
};

/* Feed data in the given chunking, then finish; returns the report count. */
static size_t parse_with(enum serverlog_format fmt, const char *data, size_t len,
			 enum chunking how, uint64_t seed, size_t max,
			 struct deadlock_report **out, enum serverlog_format *detected)
{
	struct serverlog_parser *p = serverlog_parser_new(fmt);
	size_t off = 0, fed = 0, n;

	while (off < len) {
		size_t step = len - off;

		if (how == CHUNK_BYTES)
			step = 1;
		else if (how == CHUNK_RANDOM)
			step = 1 + (size_t)(rng_next(&seed) % max);
		if (step > len - off)
			step = len - off;
		fed += serverlog_parser_feed(p, data + off, step);
		off += step;
	}
	fed += serverlog_parser_finish(p);
	if (detected)
		*detected = serverlog_parser_format(p);
	n = serverlog_parser_take(p, out);
	assert_int_equal(n, fed);
	serverlog_parser_free(p);
	return n;
}

static size_t parse_all(enum serverlog_format fmt, const char *data, size_t len,
			struct deadlock_report **out)
{
	return parse_with(fmt, data, len, CHUNK_WHOLE, 0, 0, out, NULL);
}

static size_t parse_str(enum serverlog_format fmt, const char *s, struct deadlock_report **out)
{
	return parse_all(fmt, s, strlen(s), out);
}

static size_t feed_str(struct serverlog_parser *p, const char *s)
{
	return serverlog_parser_feed(p, s, strlen(s));
}

static void assert_str_or_null(const char *got, const char *want, const char *what)
{
	if (want == SKIP)
		return;
	if (!want && !got)
		return;
	if (!want || !got || strcmp(want, got) != 0)
		fail_msg("%s: got '%s', want '%s'", what, got ? got : "(null)",
			 want ? want : "(null)");
}

static void reports_equal(const struct deadlock_report *a, const struct deadlock_report *b,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].time_us, b[i].time_us);
		assert_int_equal(a[i].pid, b[i].pid);
		assert_str_or_null(a[i].user, b[i].user, "user");
		assert_str_or_null(a[i].database, b[i].database, "database");
		assert_str_or_null(a[i].application, b[i].application, "application");
		assert_str_or_null(a[i].statement, b[i].statement, "statement");
		assert_str_or_null(a[i].context, b[i].context, "context");
		assert_int_equal(a[i].nprocs, b[i].nprocs);
		for (size_t k = 0; k < a[i].nprocs; k++) {
			const struct deadlock_proc *x = &a[i].procs[k], *y = &b[i].procs[k];

			assert_int_equal(x->pid, y->pid);
			assert_int_equal(x->blocked_by, y->blocked_by);
			assert_int_equal(x->relation, y->relation);
			assert_int_equal(x->database, y->database);
			assert_int_equal(x->xid, y->xid);
			assert_str_or_null(x->mode, y->mode, "mode");
			assert_str_or_null(x->object, y->object, "object");
			assert_str_or_null(x->locktype, y->locktype, "locktype");
			assert_str_or_null(x->statement, y->statement, "proc statement");
		}
	}
}

/* ---- expected reports of the samples ----------------------------------- */

struct exp_proc {
	int pid;
	const char *mode, *object, *locktype;
	unsigned relation, database;
	uint64_t xid;
	int blocked_by;
	const char *statement;
};

struct exp_report {
	const char *time;
	int pid;
	const char *statement, *context;
	size_t nprocs;
	struct exp_proc procs[3];
};

static const struct exp_report exp_deadlock = {
	"2026-11-22 04:15:19.218 UTC", 4165,
	"UPDATE accounts SET balance = balance + 10 WHERE id = 2;",
	"while updating tuple (0,2) in relation \"accounts\"", 2, {
		{ 4165, "ShareLock", "transaction 737", "transactionid", 0, 0, 737, 4164,
		  "UPDATE accounts SET balance = balance + 10 WHERE id = 2;" },
		{ 4164, "ShareLock", "transaction 738", "transactionid", 0, 0, 738, 4165,
		  "UPDATE accounts SET balance = balance + 20 WHERE id = 1;" },
	}
};

static const struct exp_report exp_deadlock3 = {
	"2026-11-22 04:15:35.476 UTC", 4230,
	"UPDATE accounts SET balance = balance + 1 WHERE id = 4;",
	"while updating tuple (0,4) in relation \"accounts\"", 3, {
		{ 4230, "ShareLock", "transaction 740", "transactionid", 0, 0, 740, 4232,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 4;" },
		{ 4232, "ShareLock", "transaction 741", "transactionid", 0, 0, 741, 4231,
		  "UPDATE accounts SET balance = balance + 2 WHERE id = 5;" },
		{ 4231, "ShareLock", "transaction 739", "transactionid", 0, 0, 739, 4230,
		  "UPDATE accounts SET balance = balance + 3 WHERE id = 3;" },
	}
};

static const struct exp_report exp_relation = {
	"2026-11-22 04:15:38.622 UTC", 4251, "LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;", NULL, 2, {
		{ 4251, "AccessExclusiveLock", "relation 16449 of database 16430", "relation",
		  16449, 16430, 0, 4250, "LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;" },
		{ 4250, "RowExclusiveLock", "relation 16440 of database 16430", "relation",
		  16440, 16430, 0, 4251, "INSERT INTO orders (account, amount) VALUES (1, 5);" },
	}
};

static const struct exp_report exp_tuple = {
	"2026-11-22 04:15:42.749 UTC", 4267,
	"UPDATE accounts SET balance = balance + 1 WHERE id = 7;",
	"while updating tuple (0,7) in relation \"accounts\"", 3, {
		{ 4267, "ShareLock", "transaction 746", "transactionid", 0, 0, 746, 4274,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 7;" },
		{ 4274, "ExclusiveLock", "tuple (0,6) of relation 16431 of database 16430", "tuple",
		  16431, 16430, 0, 4271, "UPDATE accounts SET balance = balance + 3 WHERE id = 6;" },
		{ 4271, "ShareLock", "transaction 744", "transactionid", 0, 0, 744, 4267,
		  "UPDATE accounts SET balance = balance + 2 WHERE id = 6;" },
	}
};

static const struct exp_report exp_advisory = {
	"2026-11-22 04:15:45.925 UTC", 4292, "SELECT pg_advisory_xact_lock(7, 99);", NULL, 2, {
		{ 4292, "ExclusiveLock", "advisory lock [16430,7,99,2]", "advisory", 0, 16430, 0,
		  4291, "SELECT pg_advisory_xact_lock(7, 99);" },
		{ 4291, "ExclusiveLock", "advisory lock [16430,0,42,1]", "advisory", 0, 16430, 0,
		  4292, "SELECT pg_advisory_xact_lock(42);" },
	}
};

static const struct exp_report exp_vxid = {
	"2026-11-22 04:15:49.541 UTC", 4308, "LOCK TABLE ledger IN SHARE UPDATE EXCLUSIVE MODE;",
	NULL, 2, {
		{ 4308, "ShareUpdateExclusiveLock", "relation 16449 of database 16430", "relation",
		  16449, 16430, 0, 4311, "LOCK TABLE ledger IN SHARE UPDATE EXCLUSIVE MODE;" },
		{ 4311, "ShareLock", "virtual transaction 3/33", "virtualxid", 0, 0, 0, 4308,
		  "CREATE INDEX CONCURRENTLY ledger_note_idx ON ledger (note);" },
	}
};

static const struct exp_report exp_object = {
	"2026-11-22 04:15:52.697 UTC", 4330, "DROP FUNCTION f_two();", NULL, 2, {
		{ 4330, "AccessExclusiveLock", "object 16458 of class 1255 of database 16430",
		  "object", 0, 16430, 0, 4329, "DROP FUNCTION f_two();" },
		{ 4329, "AccessExclusiveLock", "object 16457 of class 1255 of database 16430",
		  "object", 0, 16430, 0, 4330, "DROP FUNCTION f_one();" },
	}
};

#define NOISE_STMT_4454 "/* second leg */\nUPDATE accounts\n   SET balance = balance + 5\n WHERE id = 9;"
#define NOISE_STMT_4455 \
	"WITH r AS (\n  SELECT 8 AS id\n)\nUPDATE accounts a\n   SET balance = balance + 7\n" \
	"  FROM r\n WHERE a.id = r.id;"

static const struct exp_report exp_noise = {
	"2026-11-22 04:16:07.448 UTC", 4454, NOISE_STMT_4454,
	"while updating tuple (0,9) in relation \"accounts\"", 2, {
		{ 4454, "ShareLock", "transaction 757", "transactionid", 0, 0, 757, 4455,
		  NOISE_STMT_4454 },
		{ 4455, "ShareLock", "transaction 756", "transactionid", 0, 0, 756, 4454,
		  NOISE_STMT_4455 },
	}
};

static const struct exp_report exp_long = {
	"2026-11-22 04:16:56.712 UTC", 5037, SKIP,
	"while updating tuple (0,29) in relation \"accounts\"", 2, {
		{ 5037, "ShareLock", "transaction 779", "transactionid", 0, 0, 779, 5038, SKIP },
		{ 5038, "ShareLock", "transaction 780", "transactionid", 0, 0, 780, 5037,
		  "UPDATE accounts SET owner = 'José Ñúñez' WHERE id = 1;" },
	}
};

static const struct exp_report exp_nostatement = {
	"2026-11-22 04:16:37.904 UTC", 4757, NULL,
	"while updating tuple (0,33) in relation \"accounts\"", 2, {
		{ 4757, "ShareLock", "transaction 777", "transactionid", 0, 0, 777, 4758,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 3;" },
		{ 4758, "ShareLock", "transaction 778", "transactionid", 0, 0, 778, 4757,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 1;" },
	}
};

/* csvlog and jsonlog keep DETAIL and CONTEXT under log_error_verbosity=terse */
static const struct exp_report exp_terse = {
	"2026-11-22 04:16:34.094 UTC", 4664,
	"UPDATE accounts SET balance = balance + 1 WHERE id = 8;",
	"while updating tuple (0,27) in relation \"accounts\"", 2, {
		{ 4664, "ShareLock", "transaction 775", "transactionid", 0, 0, 775, 4663,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 8;" },
		{ 4663, "ShareLock", "transaction 776", "transactionid", 0, 0, 776, 4664,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 7;" },
	}
};

/* stderr under terse: the ERROR line and its STATEMENT, nothing else */
static const struct exp_report exp_terse_stderr = {
	"2026-11-22 04:16:34.094 UTC", 4664,
	"UPDATE accounts SET balance = balance + 1 WHERE id = 8;", NULL, 0, { { 0 } }
};

static const struct exp_report exp_prefix_default = {
	"2026-11-22 04:16:22.664 UTC", 4562,
	"UPDATE accounts SET balance = balance + 1 WHERE id = 2;",
	"while updating tuple (0,11) in relation \"accounts\"", 2, {
		{ 4562, "ShareLock", "transaction 770", "transactionid", 0, 0, 770, 4561,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 2;" },
		{ 4561, "ShareLock", "transaction 769", "transactionid", 0, 0, 769, 4562,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 1;" },
	}
};

/* '%t' has no milliseconds */
static const struct exp_report exp_prefix_verbose = {
	"2026-11-22 04:16:26 UTC", 4608,
	"UPDATE accounts SET balance = balance + 1 WHERE id = 4;",
	"while updating tuple (0,15) in relation \"accounts\"", 2, {
		{ 4608, "ShareLock", "transaction 772", "transactionid", 0, 0, 772, 4607,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 4;" },
		{ 4607, "ShareLock", "transaction 771", "transactionid", 0, 0, 771, 4608,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 3;" },
	}
};

/* no pid in the prefix: the report's pid comes from the DETAIL's first line */
static const struct exp_report exp_prefix_nopid = {
	"2026-11-22 04:16:30.292 UTC", 4635,
	"UPDATE accounts SET balance = balance + 1 WHERE id = 6;",
	"while updating tuple (0,22) in relation \"accounts\"", 2, {
		{ 4635, "ShareLock", "transaction 774", "transactionid", 0, 0, 774, 4636,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 6;" },
		{ 4636, "ShareLock", "transaction 773", "transactionid", 0, 0, 773, 4635,
		  "UPDATE accounts SET balance = balance + 1 WHERE id = 5;" },
	}
};

struct sample {
	const char *file;
	enum serverlog_format fmt;
	const struct exp_report *exp; /* the one report, or NULL for none */
	const char *user, *database, *application;
};

#define SAMPLE3(base, exp, app) \
	{ base ".log", SERVERLOG_STDERR, exp, "app_user", "shop", NULL }, \
	{ base ".csv", SERVERLOG_CSVLOG, exp, "app_user", "shop", app }, \
	{ base ".json", SERVERLOG_JSONLOG, exp, "app_user", "shop", app }

static const struct sample samples[] = {
	SAMPLE3("deadlock", &exp_deadlock, "accounts-a"),
	SAMPLE3("deadlock3", &exp_deadlock3, "transfer-1"),
	SAMPLE3("relation", &exp_relation, "batch-orders"),
	SAMPLE3("tuple", &exp_tuple, "tuple-a"),
	SAMPLE3("advisory", &exp_advisory, "job-runner-1"),
	SAMPLE3("vxid", &exp_vxid, "writer"),
	SAMPLE3("object", &exp_object, "ddl-1"),
	/* PostgreSQL replaced the tab in application_name with '?' */
	SAMPLE3("noise", &exp_noise, "payroll?job"),
	SAMPLE3("long", &exp_long, "long-a"),
	SAMPLE3("nostatement", &exp_nostatement, "nostmt-a"),
	{ "terse.log", SERVERLOG_STDERR, &exp_terse_stderr, NULL, NULL, NULL },
	{ "terse.csv", SERVERLOG_CSVLOG, &exp_terse, "app_user", "shop", "terse-a" },
	{ "terse.json", SERVERLOG_JSONLOG, &exp_terse, "app_user", "shop", "terse-a" },
	{ "prefix_default.log", SERVERLOG_STDERR, &exp_prefix_default, NULL, NULL, NULL },
	{ "prefix_verbose.log", SERVERLOG_STDERR, &exp_prefix_verbose, "app_user", "shop",
	  "verbose-a" },
	{ "prefix_nopid.log", SERVERLOG_STDERR, &exp_prefix_nopid, NULL, NULL, NULL },
};

static void report_expect(const struct deadlock_report *r, const struct sample *s)
{
	const struct exp_report *e = s->exp;

	assert_int_equal(r->time_us, ts(e->time));
	assert_int_equal(r->pid, e->pid);
	assert_str_or_null(r->user, s->user, "user");
	assert_str_or_null(r->database, s->database, "database");
	assert_str_or_null(r->application, s->application, "application");
	assert_str_or_null(r->statement, e->statement, "statement");
	assert_str_or_null(r->context, e->context, "context");
	assert_int_equal(r->nprocs, e->nprocs);
	if (e->nprocs == 0)
		assert_null(r->procs);
	for (size_t k = 0; k < e->nprocs; k++) {
		const struct deadlock_proc *p = &r->procs[k];
		const struct exp_proc *x = &e->procs[k];

		assert_int_equal(p->pid, x->pid);
		assert_string_equal(p->mode, x->mode);
		assert_string_equal(p->object, x->object);
		assert_string_equal(p->locktype, x->locktype);
		assert_int_equal(p->relation, x->relation);
		assert_int_equal(p->database, x->database);
		assert_int_equal(p->xid, x->xid);
		assert_int_equal(p->blocked_by, x->blocked_by);
		assert_str_or_null(p->statement, x->statement, "proc statement");
	}
}

/* ---- the samples ------------------------------------------------------- */

static void test_samples(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		const struct sample *s = &samples[i];
		struct deadlock_report *r;
		size_t len, n;
		char *data = sample_read(s->file, &len);

		print_message("  %s\n", s->file);
		n = parse_all(s->fmt, data, len, &r);
		assert_int_equal(n, s->exp ? 1 : 0);
		if (n)
			report_expect(&r[0], s);
		serverlog_reports_free(r, n);
		free(data);
	}
}

/* The format is told by the first line; the reports are the same. */
static void test_auto_detect(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		const struct sample *s = &samples[i];
		struct deadlock_report *r;
		enum serverlog_format got;
		size_t len, n;
		char *data = sample_read(s->file, &len);

		n = parse_with(SERVERLOG_AUTO, data, len, CHUNK_WHOLE, 0, 0, &r, &got);
		assert_int_equal(got, s->fmt);
		assert_int_equal(n, 1);
		report_expect(&r[0], s);
		serverlog_reports_free(r, n);
		free(data);
	}
}

static void test_auto_undecided(void **state)
{
	struct serverlog_parser *p = serverlog_parser_new(SERVERLOG_AUTO);
	struct deadlock_report *r;

	(void)state;
	assert_int_equal(serverlog_parser_format(p), SERVERLOG_AUTO);
	/* neither json nor csv nor a PostgreSQL line: still undecided */
	feed_str(p, "\tcontinued\nno level here\n");
	assert_int_equal(serverlog_parser_format(p), SERVERLOG_AUTO);
	/* a line with only part of a timestamp decides nothing either */
	feed_str(p, "2026-11-22 04:15");
	assert_int_equal(serverlog_parser_format(p), SERVERLOG_AUTO);
	feed_str(p, ":19.218 UTC,\"app_user\"\n");
	assert_int_equal(serverlog_parser_format(p), SERVERLOG_CSVLOG);
	serverlog_parser_finish(p);
	assert_int_equal(serverlog_parser_take(p, &r), 0);
	assert_null(r);
	serverlog_parser_free(p);
}

/* Byte by byte, random chunks, and every split in two give the same reports. */
static void test_chunked(void **state)
{
	static const size_t maxes[] = { 2, 7, 64, 1000 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		const struct sample *s = &samples[i];
		struct deadlock_report *whole, *r;
		size_t len, nwhole, n;
		char *data = sample_read(s->file, &len);

		nwhole = parse_all(s->fmt, data, len, &whole);
		assert_int_equal(nwhole, 1);

		n = parse_with(s->fmt, data, len, CHUNK_BYTES, 0, 0, &r, NULL);
		assert_int_equal(n, nwhole);
		reports_equal(r, whole, n);
		serverlog_reports_free(r, n);

		for (size_t m = 0; m < ARRAY_SIZE(maxes); m++) {
			for (uint64_t seed = 1; seed <= 4; seed++) {
				n = parse_with(s->fmt, data, len, CHUNK_RANDOM,
					       seed * 0x9E3779B97F4A7C15ULL, maxes[m], &r, NULL);
				assert_int_equal(n, nwhole);
				reports_equal(r, whole, n);
				serverlog_reports_free(r, n);
			}
		}

		for (size_t cut = 0; cut <= len; cut += 3) {
			struct serverlog_parser *p = serverlog_parser_new(s->fmt);

			serverlog_parser_feed(p, data, cut);
			serverlog_parser_feed(p, data + cut, len - cut);
			serverlog_parser_finish(p);
			n = serverlog_parser_take(p, &r);
			assert_int_equal(n, nwhole);
			reports_equal(r, whole, n);
			serverlog_reports_free(r, n);
			serverlog_parser_free(p);
		}
		serverlog_reports_free(whole, nwhole);
		free(data);
	}
}

/*
 * csvlog and jsonlog reports are complete at their newline. A stderr report
 * is complete at its STATEMENT line once the next line begins, or at the
 * next message when there is no STATEMENT (log_min_error_statement), or at
 * finish() when it is the last thing in the log.
 */
static void test_completion(void **state)
{
	static const struct {
		const char *file;
		enum serverlog_format fmt;
		size_t at_feed, at_finish;
	} cases[] = {
		{ "deadlock.log", SERVERLOG_STDERR, 0, 1 },    /* report is last */
		{ "noise.log", SERVERLOG_STDERR, 0, 1 },       /* multi-line STATEMENT last */
		{ "deadlock.csv", SERVERLOG_CSVLOG, 1, 0 },
		{ "deadlock.json", SERVERLOG_JSONLOG, 1, 0 },
		{ "tuple.log", SERVERLOG_STDERR, 1, 0 },       /* lines follow */
		{ "nostatement.log", SERVERLOG_STDERR, 1, 0 }, /* ended by another pid */
		{ "terse.log", SERVERLOG_STDERR, 1, 0 },
		{ "prefix_nopid.log", SERVERLOG_STDERR, 1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct serverlog_parser *p = serverlog_parser_new(cases[i].fmt);
		struct deadlock_report *r;
		size_t len, n;
		char *data = sample_read(cases[i].file, &len);

		print_message("  %s\n", cases[i].file);
		assert_int_equal(serverlog_parser_feed(p, data, len), cases[i].at_feed);
		assert_int_equal(serverlog_parser_finish(p), cases[i].at_finish);
		n = serverlog_parser_take(p, &r);
		assert_int_equal(n, 1);
		serverlog_reports_free(r, n);
		/* take moved everything out */
		assert_int_equal(serverlog_parser_take(p, &r), 0);
		assert_null(r);
		serverlog_parser_free(p);
		free(data);
	}
}

/* After finish() the parser goes on reading; a collector calls it whenever
 * the log is quiet. */
static void test_feed_after_finish(void **state)
{
	static const char *const files[] = { "deadlock.log", "deadlock.csv", "deadlock.json" };
	static const enum serverlog_format fmts[] = {
		SERVERLOG_STDERR, SERVERLOG_CSVLOG, SERVERLOG_JSONLOG
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct serverlog_parser *p = serverlog_parser_new(fmts[i]);
		struct deadlock_report *r;
		size_t len, n;
		char *data = sample_read(files[i], &len);

		for (int round = 0; round < 3; round++) {
			serverlog_parser_feed(p, data, len);
			serverlog_parser_finish(p);
		}
		n = serverlog_parser_take(p, &r);
		assert_int_equal(n, 3);
		reports_equal(&r[0], &r[1], 1);
		reports_equal(&r[1], &r[2], 1);
		serverlog_reports_free(r, n);
		serverlog_parser_free(p);
		free(data);
	}
}

/* Two samples in one stream: two reports, in log order. */
static void test_concatenated(void **state)
{
	static const char *const pairs[][2] = {
		{ "deadlock.log", "deadlock3.log" },
		{ "deadlock.csv", "deadlock3.csv" },
		{ "deadlock.json", "deadlock3.json" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		struct strbuf all = STRBUF_INIT;
		struct deadlock_report *r;
		size_t l1, l2, n;
		char *a = sample_read(pairs[i][0], &l1), *b = sample_read(pairs[i][1], &l2);

		strbuf_init(&all, 0);
		strbuf_add(&all, a, l1);
		strbuf_add(&all, b, l2);
		n = parse_with(SERVERLOG_AUTO, all.buf, all.len, CHUNK_RANDOM, 77, 50, &r, NULL);
		assert_int_equal(n, 2);
		assert_int_equal(r[0].pid, 4165);
		assert_int_equal(r[1].pid, 4230);
		assert_int_equal(r[1].nprocs, 3);
		serverlog_reports_free(r, n);
		strbuf_release(&all);
		free(a);
		free(b);
	}
}

/* The DETAIL statement is cut at track_activity_query_size (1024 bytes,
 * whole characters); the STATEMENT line is not. */
static void test_long_statement(void **state)
{
	static const char *const files[] = { "long.log", "long.csv", "long.json" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct deadlock_report *r;
		size_t len, n, sl;
		char *data = sample_read(files[i], &len);

		n = parse_all(serverlog_format_from_name(files[i]), data, len, &r);
		assert_int_equal(n, 1);
		assert_non_null(r[0].statement);
		assert_non_null(r[0].procs[0].statement);
		sl = strlen(r[0].procs[0].statement);
		assert_true(sl < 1024 && sl > 1000);
		assert_true(strlen(r[0].statement) > 1024);
		assert_memory_equal(r[0].statement, r[0].procs[0].statement, sl);
		serverlog_reports_free(r, n);
		free(data);
	}
}

/* ---- noise, truncation, malformed input -------------------------------- */

/* The noise samples' other errors (a RAISE 'deadlock detected', a log line
 * quoted inside a statement, a lock timeout, FATAL, checkpoints) and the
 * pure-noise head of each file yield nothing. */
static void test_noise(void **state)
{
	static const struct {
		const char *file;
		const char *until; /* the deadlock report starts at this text */
	} cases[] = {
		{ "noise.log", "UTC [4454] app_user@shop ERROR:  deadlock" },
		{ "noise.csv", "2026-11-22 04:16:07.448 UTC,\"app_user\",\"shop\",4454,\"[local]\","
			       "6b026c85.1166,2," },
		{ "noise.json", "{\"timestamp\":\"2026-11-22 04:16:07.448 UTC\",\"user\":\"app_user\","
				"\"dbname\":\"shop\",\"pid\":4454,\"remote_host\":\"[local]\","
				"\"session_id\":\"6b026c85.1166\",\"line_num\":2" },
		{ "prefix_default.log", "UTC [4562] ERROR:  deadlock" },
		{ "prefix_verbose.log", "UTC [4608]: [6-1]" },
		{ "prefix_nopid.log", "2026-11-22 04:16:30.292 UTC ERROR:  deadlock" },
		{ "terse.log", "2026-11-22 04:16:34.094 UTC [4664] 40P01 ERROR:" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct deadlock_report *r;
		size_t len, n;
		char *data = sample_read(cases[i].file, &len);
		const char *at = strstr(data, cases[i].until);

		print_message("  %s\n", cases[i].file);
		assert_non_null(at);
		n = parse_all(serverlog_format_from_name(cases[i].file), data,
			      (size_t)(at - data), &r);
		assert_int_equal(n, 0);
		assert_null(r);
		free(data);
	}
}

/* Every prefix of every sample: no crash, no leak, at most the one report. */
static void test_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		size_t len;
		char *data = sample_read(samples[i].file, &len);

		for (size_t cut = 0; cut < len; cut += 5) {
			struct deadlock_report *r;
			size_t n = parse_all(samples[i].fmt, data, cut, &r);

			if (n > 1)
				fail_msg("%s cut at %zu: %zu reports", samples[i].file, cut, n);
			serverlog_reports_free(r, n);
		}
		free(data);
	}
}

/* Reading from anywhere before the report's first line still finds it:
 * csvlog resyncs on the next line that starts a record, even when the
 * stream starts inside a quoted multi-line field. */
static void test_mid_stream(void **state)
{
	static const struct {
		const char *file;
		const char *start; /* the report's first line begins with this */
	} cases[] = {
		{ "noise.csv", "2026-11-22 04:16:07.448 UTC,\"app_user\",\"shop\",4454,\"[local]\","
			       "6b026c85.1166,2," },
		{ "noise.json", "{\"timestamp\":\"2026-11-22 04:16:07.448 UTC\",\"user\":\"app_user\","
				"\"dbname\":\"shop\",\"pid\":4454,\"remote_host\":\"[local]\","
				"\"session_id\":\"6b026c85.1166\",\"line_num\":2" },
		{ "noise.log", "2026-11-22 04:16:07.448 UTC [4454] app_user@shop ERROR:" },
		{ "tuple.csv", "2026-11-22 04:15:42.749 UTC,\"app_user\",\"shop\",4267,\"[local]\","
			       "6b026c6c.10ab,2," },
		{ "prefix_nopid.log", "2026-11-22 04:16:30.292 UTC ERROR:  deadlock" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len, nwhole;
		char *data = sample_read(cases[i].file, &len);
		const char *at = strstr(data, cases[i].start);
		enum serverlog_format fmt = serverlog_format_from_name(cases[i].file);
		struct deadlock_report *whole;

		print_message("  %s\n", cases[i].file);
		assert_non_null(at);
		nwhole = parse_all(fmt, data, len, &whole);
		assert_int_equal(nwhole, 1);
		for (size_t from = 0; from <= (size_t)(at - data); from++) {
			struct deadlock_report *r;
			size_t n = parse_all(fmt, data + from, len - from, &r);

			if (n != 1)
				fail_msg("%s from byte %zu: %zu reports", cases[i].file, from, n);
			reports_equal(r, whole, 1);
			serverlog_reports_free(r, n);
		}
		/* and from anywhere after: no crash */
		for (size_t from = (size_t)(at - data) + 1; from < len; from++) {
			struct deadlock_report *r;
			size_t n = parse_all(fmt, data + from, len - from, &r);

			assert_true(n <= 1);
			serverlog_reports_free(r, n);
		}
		serverlog_reports_free(whole, nwhole);
		free(data);
	}
}

#define JSON_HEAD \
	"{\"timestamp\":\"2026-11-22 04:15:19.218 UTC\",\"user\":\"u\",\"dbname\":\"d\"," \
	"\"pid\":11,\"error_severity\":\"ERROR\",\"state_code\":\"40P01\"," \
	"\"message\":\"deadlock detected\""
#define CSV_HEAD \
	"2026-11-22 04:15:19.218 UTC,\"u\",\"d\",11,\"[local]\",6b026c55.1045,2,\"UPDATE\"," \
	"2026-11-22 04:15:17 UTC,4/2,738,ERROR,40P01,\"deadlock detected\","
#define CSV_TAIL ",\"See server log for query details.\",,,,,,,\"app\",\"client backend\",,0\n"
#define WAIT_LINE(a, b) "Process " #a " waits for ShareLock on transaction 9; blocked by process " #b "."
#define ERR_LINE(pid) "2026-11-22 04:15:19.218 UTC [" #pid "] u@d ERROR:  deadlock detected\n"
#define DETAIL_LINE(pid, text) "2026-11-22 04:15:19.218 UTC [" #pid "] u@d DETAIL:  " text "\n"
#define LOG_LINE(pid) "2026-11-22 04:15:20.000 UTC [" #pid "] u@d LOG:  something else\n"

/* Inputs that must be skipped (or half-read) without crashing. */
static void test_malformed(void **state)
{
	static const struct {
		const char *name;
		enum serverlog_format fmt;
		const char *input;
		size_t reports, nprocs;
	} cases[] = {
		{ "empty stderr", SERVERLOG_STDERR, "", 0, 0 },
		{ "empty csv", SERVERLOG_CSVLOG, "", 0, 0 },
		{ "empty json", SERVERLOG_JSONLOG, "", 0, 0 },
		{ "newlines", SERVERLOG_AUTO, "\n\n\r\n\n", 0, 0 },
		{ "orphan continuation", SERVERLOG_STDERR, "\tProcess 1: x\n\t\n", 0, 0 },
		{ "terse and no prefix", SERVERLOG_STDERR,
		  "ERROR:  deadlock detected\nSTATEMENT:  SELECT 1\n", 1, 0 },
		{ "terse, next message", SERVERLOG_STDERR,
		  "ERROR:  deadlock detected\nLOG:  next\n", 1, 0 },
		{ "unconfirmed head alone at the end", SERVERLOG_STDERR,
		  "ERROR:  deadlock detected\n", 0, 0 },
		{ "level without two spaces", SERVERLOG_STDERR, "ERROR: deadlock detected\n", 0, 0 },
		{ "RAISE without sqlstate", SERVERLOG_STDERR,
		  ERR_LINE(5) "2026-11-22 04:15:19.218 UTC [5] u@d CONTEXT:  PL/pgSQL function "
			      "inline_code_block line 1 at RAISE\n", 0, 0 },
		{ "other sqlstate in prefix", SERVERLOG_STDERR,
		  "2026-11-22 04:15:19.218 UTC [5] P0001 ERROR:  deadlock detected\n", 0, 0 },
		{ "40P01 in prefix, any message", SERVERLOG_STDERR,
		  "2026-11-22 04:15:19.218 UTC [5] 40P01 ERROR:  Verklemmung entdeckt\n", 1, 0 },
		{ "verbose code wins", SERVERLOG_STDERR,
		  "2026-11-22 04:15:19.218 UTC [5] ERROR:  P0001: deadlock detected\n", 0, 0 },
		{ "detail lines broken", SERVERLOG_STDERR,
		  ERR_LINE(5) DETAIL_LINE(5, "Process 5 waits for ShareLock on transaction 9; "
					     "blocked by process 6")
		  "\tProcess 0 waits for ShareLock on transaction 9; blocked by process 6.\n"
		  "\tProcess 99999999999 waits for ShareLock on transaction 9; blocked by process 6.\n"
		  "\tProcess 5 waits for  on transaction 9; blocked by process 6.\n"
		  "\tProcess 5 waits for ShareLock on ; blocked by process 6.\n"
		  "\tProcess 5 waits for ShareLock on transaction 9; blocked by process x.\n"
		  "\tProcess x: SELECT 1\n", 0, 0 },
		{ "unknown object kept", SERVERLOG_STDERR,
		  ERR_LINE(5) DETAIL_LINE(5, "Process 5 waits for ShareLock on a new kind of thing; "
					     "blocked by process 6.")
		  "\tProcess 5: SELECT 1\n\tProcess 7: never listed\n", 1, 1 },
		{ "duplicate process kept once", SERVERLOG_STDERR,
		  ERR_LINE(5) DETAIL_LINE(5, WAIT_LINE(5, 6)) "\t" WAIT_LINE(5, 6) "\n"
		  "\t" WAIT_LINE(6, 5) "\n", 1, 2 },
		{ "detail for another pid ignored", SERVERLOG_STDERR,
		  ERR_LINE(5) DETAIL_LINE(6, WAIT_LINE(6, 5)) LOG_LINE(6) LOG_LINE(5), 1, 0 },
		{ "pid overflow in prefix", SERVERLOG_STDERR,
		  "2026-11-22 04:15:19.218 UTC [99999999999] 40P01 ERROR:  deadlock detected\n", 1, 0 },
		{ "bad timestamp", SERVERLOG_STDERR,
		  "2026-19-99 99:99:99.999 UTC [5] 40P01 ERROR:  deadlock detected\n", 1, 0 },
		{ "csv unterminated at end", SERVERLOG_CSVLOG,
		  CSV_HEAD "\"" WAIT_LINE(11, 12) "\n" WAIT_LINE(12, 11), 1, 2 },
		{ "csv garbage after quote", SERVERLOG_CSVLOG,
		  CSV_HEAD "\"" WAIT_LINE(11, 12) "\"x" CSV_TAIL, 0, 0 },
		{ "csv too few fields", SERVERLOG_CSVLOG, CSV_HEAD "\n", 0, 0 },
		{ "csv not a record start", SERVERLOG_CSVLOG,
		  "x" CSV_HEAD "\"" WAIT_LINE(11, 12) "\"" CSV_TAIL, 0, 0 },
		{ "csv resyncs after garbage", SERVERLOG_CSVLOG,
		  "garbage \"with a quote\n\"more\n" CSV_HEAD "\"" WAIT_LINE(11, 12) "\"" CSV_TAIL,
		  1, 1 },
		{ "csv crlf", SERVERLOG_CSVLOG,
		  CSV_HEAD "\"" WAIT_LINE(11, 12) "\"" ",,,,,,,,\"app\",\"client backend\",,0\r\n",
		  1, 1 },
		{ "json truncated", SERVERLOG_JSONLOG, JSON_HEAD ",\"detail\":\"Process 1", 0, 0 },
		{ "json not an object", SERVERLOG_JSONLOG, "{\"timestamp\":[\"40P01\"]}\n[\"40P01\"]\n",
		  0, 0 },
		{ "json wrong types", SERVERLOG_JSONLOG,
		  "{\"timestamp\":5,\"user\":[],\"dbname\":{},\"pid\":\"11\",\"state_code\":\"40P01\","
		  "\"detail\":7,\"statement\":null}\n", 1, 0 },
		{ "json duplicate keys", SERVERLOG_JSONLOG,
		  JSON_HEAD ",\"state_code\":\"40P01\"}\n", 0, 0 },
		{ "json invalid utf-8 repaired", SERVERLOG_JSONLOG,
		  JSON_HEAD ",\"detail\":\"" WAIT_LINE(11, 12) "\\nProcess 11: SELECT '\xff\xc3'\"}\n",
		  1, 1 },
		{ "json other sqlstate", SERVERLOG_JSONLOG,
		  "{\"timestamp\":\"2026-11-22 04:15:19.218 UTC\",\"state_code\":\"P0001\","
		  "\"message\":\"deadlock detected 40P01\"}\n", 0, 0 },
		{ "json pid out of range", SERVERLOG_JSONLOG,
		  "{\"timestamp\":\"x\",\"pid\":-4,\"state_code\":\"40P01\"}\n"
		  "{\"timestamp\":\"x\",\"pid\":99999999999,\"state_code\":\"40P01\"}\n", 2, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct deadlock_report *r;
		size_t n;

		print_message("  %s\n", cases[i].name);
		n = parse_str(cases[i].fmt, cases[i].input, &r);
		if (n != cases[i].reports)
			fail_msg("%s: %zu reports, want %zu", cases[i].name, n, cases[i].reports);
		if (n)
			assert_int_equal(r[0].nprocs, cases[i].nprocs);
		serverlog_reports_free(r, n);
	}
}

static void test_malformed_details(void **state)
{
	struct deadlock_report *r;
	size_t n;

	(void)state;
	/* unknown object: raw text kept, locktype "unknown"; the statement of a
	 * process not listed as waiting is dropped */
	n = parse_str(SERVERLOG_STDERR,
		      ERR_LINE(5) DETAIL_LINE(5, "Process 5 waits for ShareLock on a new kind of "
						 "thing; blocked by process 6.")
		      "\tProcess 5: SELECT 1\n\tProcess 7: never listed\n", &r);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].procs[0].locktype, "unknown");
	assert_string_equal(r[0].procs[0].object, "a new kind of thing");
	assert_string_equal(r[0].procs[0].statement, "SELECT 1");
	assert_int_equal(r[0].procs[0].blocked_by, 6);
	serverlog_reports_free(r, n);

	/* json with a broken byte: repaired, not dropped */
	n = parse_str(SERVERLOG_JSONLOG,
		      JSON_HEAD ",\"detail\":\"" WAIT_LINE(11, 12) "\\nProcess 11: SELECT '\xff'\"}\n",
		      &r);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].procs[0].statement, "SELECT '?'");
	assert_string_equal(r[0].user, "u");
	serverlog_reports_free(r, n);

	/* wrong json types leave the fields empty */
	n = parse_str(SERVERLOG_JSONLOG,
		      "{\"timestamp\":5,\"user\":[],\"pid\":\"11\",\"state_code\":\"40P01\"}\n", &r);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].time_us, 0);
	assert_int_equal(r[0].pid, 0);
	assert_null(r[0].user);
	serverlog_reports_free(r, n);
}

/* A 3 MiB line (a huge statement) is cut at 1 MiB; the report after it is
 * still found, and the parser's memory goes back down. */
static void test_huge_line(void **state)
{
	static const char *const files[] = { "deadlock.log", "deadlock.csv", "deadlock.json" };
	static const enum serverlog_format fmts[] = {
		SERVERLOG_STDERR, SERVERLOG_CSVLOG, SERVERLOG_JSONLOG
	};
	const size_t big = 3u << 20;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct strbuf all = STRBUF_INIT;
		struct deadlock_report *r;
		size_t len, n;
		char *data = sample_read(files[i], &len);
		char *filler = xmalloc(big);

		memset(filler, 'x', big);
		strbuf_init(&all, big + 2 * len + 256);
		if (fmts[i] == SERVERLOG_CSVLOG) {
			/* a record with a 3 MiB multi-line quoted field */
			strbuf_addstr(&all, "2026-11-22 04:00:00.000 UTC,\"u\",\"d\",1,,,,,,,,LOG,00000,\"");
			filler[big / 2] = '\n';
			strbuf_add(&all, filler, big);
			strbuf_addstr(&all, "\",,,,,,,,,\"\",\"client backend\",,0\n");
		} else if (fmts[i] == SERVERLOG_JSONLOG) {
			strbuf_addstr(&all, "{\"timestamp\":\"2026-11-22 04:00:00.000 UTC\",\"message\":\"");
			strbuf_add(&all, filler, big);
			strbuf_addstr(&all, "\"}\n");
		} else {
			/* a statement line, and a 3 MiB continuation line */
			strbuf_addstr(&all, "2026-11-22 04:00:00.000 UTC [1] u@d STATEMENT:  ");
			strbuf_add(&all, filler, big);
			strbuf_addstr(&all, "\n\t");
			strbuf_add(&all, filler, big);
			strbuf_addch(&all, '\n');
		}
		strbuf_add(&all, data, len);
		n = parse_with(fmts[i], all.buf, all.len, CHUNK_RANDOM, 3, 1 << 16, &r, NULL);
		assert_int_equal(n, 1);
		assert_int_equal(r[0].pid, 4165);
		assert_int_equal(r[0].nprocs, 2);
		serverlog_reports_free(r, n);
		strbuf_release(&all);
		free(filler);
		free(data);
	}
}

/* A DETAIL longer than the 1 MiB cap keeps its first processes. */
static void test_huge_detail(void **state)
{
	struct strbuf in = STRBUF_INIT;
	struct deadlock_report *r;
	char *filler = xmalloc(1u << 20);
	size_t n;

	(void)state;
	memset(filler, 'y', 1u << 20);
	strbuf_init(&in, 3u << 20);
	strbuf_addstr(&in, ERR_LINE(5) DETAIL_LINE(5, WAIT_LINE(5, 6)) "\t" WAIT_LINE(6, 5) "\n"
			   "\tProcess 5: SELECT '");
	strbuf_add(&in, filler, 1u << 20);
	strbuf_addstr(&in, "'\n\tProcess 6: SELECT 2\n");
	strbuf_addstr(&in, "2026-11-22 04:15:19.218 UTC [5] u@d STATEMENT:  SELECT 1\n");
	n = parse_with(SERVERLOG_STDERR, in.buf, in.len, CHUNK_RANDOM, 5, 4096, &r, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].nprocs, 2);
	assert_non_null(r[0].procs[0].statement);
	assert_true(strlen(r[0].procs[0].statement) < (1u << 20));
	assert_null(r[0].procs[1].statement); /* cut off */
	assert_string_equal(r[0].statement, "SELECT 1");
	serverlog_reports_free(r, n);
	strbuf_release(&in);
	free(filler);
}

/* Binary garbage in every format and chunking. */
static void test_garbage(void **state)
{
	static const enum serverlog_format fmts[] = {
		SERVERLOG_AUTO, SERVERLOG_STDERR, SERVERLOG_CSVLOG, SERVERLOG_JSONLOG
	};
	uint64_t seed = 42;
	char buf[4096];

	(void)state;
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			/* mostly the characters the parsers care about */
			static const char alphabet[] = "\n\t\"',{}[]: 0123456789P40ERORDTAILProcess ";
			uint64_t x = rng_next(&seed);

			buf[i] = (x & 3) ? alphabet[(x >> 8) % (sizeof(alphabet) - 1)]
					 : (char)(x >> 16);
		}
		for (size_t f = 0; f < ARRAY_SIZE(fmts); f++) {
			struct deadlock_report *r;
			size_t n = parse_with(fmts[f], buf, sizeof(buf), CHUNK_RANDOM, seed, 300, &r,
					      NULL);

			serverlog_reports_free(r, n);
		}
	}
}

/* ---- stderr line matching ---------------------------------------------- */

/*
 * Lines of other backends between a report's lines (real lines, rearranged):
 * matched by pid. PostgreSQL itself writes a message's lines together, so
 * this is robustness, not something seen in practice.
 */
static void test_interleaved(void **state)
{
	static const char err[] = ERR_LINE(4165);
	static const char other_log[] =
		"2026-11-22 04:16:05.250 UTC [4089] LOG:  checkpoint starting: immediate force wait\n";
	static const char other_err[] =
		"2026-11-22 04:16:05.205 UTC [4439] app_user@shop ERROR:  division by zero\n"
		"2026-11-22 04:16:05.205 UTC [4439] app_user@shop STATEMENT:  SELECT 1 / 0;\n";
	static const char detail[] =
		"2026-11-22 04:15:19.218 UTC [4165] app_user@shop DETAIL:  " WAIT_LINE(4165, 4164) "\n"
		"\t" WAIT_LINE(4164, 4165) "\n"
		"\tProcess 4165: UPDATE a\n"
		"\tProcess 4164: UPDATE b\n";
	static const char rest[] =
		"2026-11-22 04:15:19.218 UTC [4165] app_user@shop HINT:  See server log for query details.\n"
		"2026-11-22 04:15:19.218 UTC [4165] app_user@shop STATEMENT:  UPDATE a\n";
	struct strbuf in = STRBUF_INIT;
	struct deadlock_report *r;
	size_t n;

	(void)state;
	strbuf_init(&in, 0);
	strbuf_addstr(&in, err);
	strbuf_addstr(&in, other_log);
	strbuf_addstr(&in, other_err);
	strbuf_addstr(&in, detail);
	strbuf_addstr(&in, rest);
	strbuf_addstr(&in, other_log);
	n = parse_all(SERVERLOG_STDERR, in.buf, in.len, &r);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].pid, 4165);
	assert_string_equal(r[0].user, "u");
	assert_int_equal(r[0].nprocs, 2);
	assert_string_equal(r[0].procs[1].statement, "UPDATE b");
	assert_string_equal(r[0].statement, "UPDATE a");
	serverlog_reports_free(r, n);

	/* once the DETAIL is in, another backend's message ends the report */
	strbuf_reset(&in);
	strbuf_addstr(&in, err);
	strbuf_addstr(&in, detail);
	strbuf_addstr(&in, other_log);
	strbuf_addstr(&in, rest);
	n = parse_all(SERVERLOG_STDERR, in.buf, in.len, &r);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].nprocs, 2);
	assert_null(r[0].statement);
	serverlog_reports_free(r, n);

	/* two deadlocks of different backends at once */
	strbuf_reset(&in);
	strbuf_addstr(&in, ERR_LINE(7));
	strbuf_addstr(&in, err);
	strbuf_addstr(&in, DETAIL_LINE(7, WAIT_LINE(7, 8)) "\t" WAIT_LINE(8, 7) "\n");
	strbuf_addstr(&in, detail);
	strbuf_addstr(&in, rest);
	n = parse_all(SERVERLOG_STDERR, in.buf, in.len, &r);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].pid + r[1].pid, 7 + 4165);
	assert_int_equal(r[0].nprocs, 2);
	assert_int_equal(r[1].nprocs, 2);
	serverlog_reports_free(r, n);
	strbuf_release(&in);
}

/* Many pending reports at once: bounded, none lost. */
static void test_pending_bound(void **state)
{
	struct strbuf in = STRBUF_INIT;
	struct deadlock_report *r;
	size_t n;

	(void)state;
	strbuf_init(&in, 0);
	for (int pid = 100; pid < 140; pid++)
		strbuf_addf(&in, "2026-11-22 04:15:19.218 UTC [%d] u@d 40P01 ERROR:  deadlock "
				 "detected\n", pid);
	n = parse_all(SERVERLOG_STDERR, in.buf, in.len, &r);
	assert_int_equal(n, 40);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].pid, 100 + (int)i);
	serverlog_reports_free(r, n);
	strbuf_release(&in);
}

/* Prefixes people use, and what we read from them. */
static void test_prefixes(void **state)
{
	static const struct {
		const char *line; /* the ERROR line; DETAIL lines get the same prefix */
		int pid;
		const char *user, *database, *application;
		int64_t time_us;
	} cases[] = {
		{ "2026-11-22 04:15:19.218 UTC [77] app_user@shop ", 77, "app_user", "shop", NULL,
		  1795320919218000 },
		{ "2026-11-22 04:15:19 UTC [77]: [3-1] user=a,db=b,app=psql,client=[local] ", 77,
		  "a", "b", "psql", 1795320919000000 },
		{ "2026-11-22 04:15:19.218 UTC [77]: [3-1] user=,db=,app=,client= ", 77, NULL, NULL,
		  NULL, 1795320919218000 },
		{ "pid=77 database=shop user=x ", 77, "x", "shop", NULL, 0 },
		{ "pid=77 database=shop a@b ", 77, NULL, "shop", NULL, 0 },
		{ "postgres[77]: [2-1] ", 77, NULL, NULL, NULL, 0 },
		{ "2026-11-22 04:15:19.218 UTC alice@corp@shop: ", 0, "alice@corp", "shop", NULL,
		  1795320919218000 },
		{ "2026-11-22 04:15:19.218+02 [77] @ ", 77, NULL, NULL, NULL, 1795313719218000 },
		{ "2026-11-22 04:15:19.218 UTC 12345 [77] ", 77, NULL, NULL, NULL, 1795320919218000 },
		{ "", 0, NULL, NULL, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf in = STRBUF_INIT;
		struct deadlock_report *r;
		size_t n;

		print_message("  '%s'\n", cases[i].line);
		strbuf_init(&in, 0);
		strbuf_addf(&in, "%sERROR:  deadlock detected\n", cases[i].line);
		strbuf_addf(&in, "%sDETAIL:  " WAIT_LINE(77, 78) "\n\t" WAIT_LINE(78, 77) "\n",
			    cases[i].line);
		strbuf_addf(&in, "%sSTATEMENT:  SELECT 1\n", cases[i].line);
		n = parse_all(SERVERLOG_STDERR, in.buf, in.len, &r);
		assert_int_equal(n, 1);
		/* without a pid in the prefix it comes from the DETAIL */
		assert_int_equal(r[0].pid, 77);
		(void)cases[i].pid;
		assert_str_or_null(r[0].user, cases[i].user, "user");
		assert_str_or_null(r[0].database, cases[i].database, "database");
		assert_str_or_null(r[0].application, cases[i].application, "application");
		assert_int_equal(r[0].time_us, cases[i].time_us);
		assert_int_equal(r[0].nprocs, 2);
		assert_string_equal(r[0].statement, "SELECT 1");
		serverlog_reports_free(r, n);
		strbuf_release(&in);
	}
}

/* ---- lock objects ------------------------------------------------------ */

/* Every text DescribeLockTag() writes (lmgr.c), decoded. */
static void test_objects(void **state)
{
	static const struct {
		const char *object, *locktype;
		unsigned relation, database;
		uint64_t xid;
	} cases[] = {
		{ "transaction 745", "transactionid", 0, 0, 745 },
		{ "transaction 4294967295", "transactionid", 0, 0, 4294967295u },
		{ "relation 16384 of database 5", "relation", 16384, 5, 0 },
		{ "tuple (0,1) of relation 16384 of database 5", "tuple", 16384, 5, 0 },
		{ "virtual transaction 3/12", "virtualxid", 0, 0, 0 },
		{ "advisory lock [5,1,2,2]", "advisory", 0, 5, 0 },
		{ "page 0 of relation 16384 of database 5", "page", 16384, 5, 0 },
		{ "extension of relation 16384 of database 5", "extend", 16384, 5, 0 },
		{ "object 16458 of class 1255 of database 16430", "object", 0, 16430, 0 },
		{ "speculative token 3 of transaction 900", "spectoken", 0, 0, 900 },
		{ "pg_database.datfrozenxid of database 5", "frozenid", 0, 5, 0 },
		{ "user lock [1,2,3]", "userlock", 0, 0, 0 },
		{ "remote transaction 77 of subscription 16500 of database 5", "applytransaction",
		  0, 5, 77 },
		/* anything else is kept as it was logged */
		{ "unrecognized locktag type 42", "unknown", 0, 0, 0 },
		{ "transaction 4294967296", "unknown", 0, 0, 0 },
		{ "transaction -1", "unknown", 0, 0, 0 },
		{ "transaction 745 ", "unknown", 0, 0, 0 },
		{ "relation 16384 of database", "unknown", 0, 0, 0 },
		{ "advisory lock [5,1,2,2,9]", "unknown", 0, 0, 0 },
		{ "tuple (0,1) of relation of database 5", "unknown", 0, 0, 0 },
		{ "Relation 16384 of database 5", "unknown", 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf in = STRBUF_INIT;
		struct deadlock_report *r;
		size_t n;

		print_message("  %s\n", cases[i].object);
		strbuf_init(&in, 0);
		strbuf_addf(&in, JSON_HEAD ",\"detail\":\"Process 11 waits for ExclusiveLock on %s; "
				   "blocked by process 12.\\nProcess 12 waits for ShareLock on "
				   "transaction 1; blocked by process 11.\"}\n",
			    cases[i].object);
		n = parse_all(SERVERLOG_JSONLOG, in.buf, in.len, &r);
		assert_int_equal(n, 1);
		assert_int_equal(r[0].nprocs, 2);
		assert_string_equal(r[0].procs[0].object, cases[i].object);
		assert_string_equal(r[0].procs[0].locktype, cases[i].locktype);
		assert_string_equal(r[0].procs[0].mode, "ExclusiveLock");
		assert_int_equal(r[0].procs[0].relation, cases[i].relation);
		assert_int_equal(r[0].procs[0].database, cases[i].database);
		assert_int_equal(r[0].procs[0].xid, cases[i].xid);
		assert_int_equal(r[0].procs[0].blocked_by, 12);
		assert_null(r[0].procs[0].statement);
		serverlog_reports_free(r, n);
		strbuf_release(&in);
	}
}

/* ---- names ------------------------------------------------------------- */

static void test_format_from_name(void **state)
{
	static const struct {
		const char *path;
		enum serverlog_format fmt;
	} cases[] = {
		{ "postgresql.csv", SERVERLOG_CSVLOG },
		{ "log/postgresql-2026-11-22_000000.csv", SERVERLOG_CSVLOG },
		{ "postgresql.json", SERVERLOG_JSONLOG },
		{ "/var/log/postgresql/postgresql-15-main.log", SERVERLOG_STDERR },
		{ "postgresql-Mon.log", SERVERLOG_STDERR },
		{ "postgresql", SERVERLOG_STDERR },
		{ "dir.csv/postgresql", SERVERLOG_STDERR },
		{ "postgresql.csv.gz", SERVERLOG_STDERR },
		{ ".json", SERVERLOG_JSONLOG },
		{ "", SERVERLOG_STDERR },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(serverlog_format_from_name(cases[i].path), cases[i].fmt);
	assert_int_equal(serverlog_format_from_name(NULL), SERVERLOG_STDERR);
}

static void test_lifecycle(void **state)
{
	struct serverlog_parser *p = serverlog_parser_new(SERVERLOG_CSVLOG);
	struct deadlock_report *r = (struct deadlock_report *)&r;

	(void)state;
	assert_int_equal(serverlog_parser_format(p), SERVERLOG_CSVLOG);
	assert_int_equal(serverlog_parser_take(p, &r), 0);
	assert_null(r);
	assert_int_equal(serverlog_parser_finish(p), 0);
	serverlog_parser_free(p);
	serverlog_parser_free(NULL);
	serverlog_reports_free(NULL, 0);

	/* freeing a parser with reports still waiting and a half line */
	p = serverlog_parser_new(SERVERLOG_STDERR);
	feed_str(p, ERR_LINE(5) ERR_LINE(6) "2026-11-22");
	serverlog_parser_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_auto_detect),
		cmocka_unit_test(test_auto_undecided),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_completion),
		cmocka_unit_test(test_feed_after_finish),
		cmocka_unit_test(test_concatenated),
		cmocka_unit_test(test_long_statement),
		cmocka_unit_test(test_noise),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_mid_stream),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_details),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_huge_detail),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_pending_bound),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_format_from_name),
		cmocka_unit_test(test_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
