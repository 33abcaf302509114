/*
 * collector: connection lifecycle, the refresh pipeline, slow-period
 * scheduling, server log tailing and publication; see collector.h.
 */
#include "perceive/collector.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/activity.h"
#include "perceive/agents.h"
#include "perceive/disk.h"
#include "perceive/pgconn.h"
#include "perceive/serverlog.h"
#include "perceive/snapshot.h"
#include "perceive/statements.h"

#define LOG_CHUNK (1024 * 1024)  /* bytes of server log read per slow refresh */
#define DEADLOCKS_KEPT 50
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

struct collector {
	const struct config *cfg;      /* borrowed */
	char *target;                  /* owned: name shown in the UI */
	bool unnamed;                  /* from -d: named after the connection once made */
	char *conninfo;                /* owned */
	char *password_env;            /* owned, or NULL */
	char *server_log;              /* owned: "auto", "none" or a path */
	char *server_log_format;       /* owned */
	char *data_directory;          /* owned: configured, or NULL */
	int64_t generation;

	/* shared with the owner thread, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct snapshot *current;      /* owned reference */
	int period_ms;
	bool stop;
	bool running;
	pthread_t thread;
	int wake_fd;

	/* collector thread only */
	PGconn *conn;
	bool probed;                   /* the probe ran and every statement is prepared on
	                                  this connection */
	struct strbuf fast_sql[ACTIVITY_NQUERIES]; /* the fast statements' text, for the
	                                  first refresh of a connection */
	int version_num;
	char *pgss_version;            /* owned, NULL when the extension is absent */
	char *server_data_directory;   /* owned, NULL when not readable */
	unsigned database_oid;
	bool local;                    /* server on this machine */
	struct statements_state *stmts;
	struct snapshot *last_good;    /* owned reference: newest connected snapshot */
	struct snapshot *slow;         /* owned reference: newest snapshot with slow data */
	int64_t last_slow_ms;
	int64_t next_connect_ms;
	int64_t backoff_ms;
	int64_t seq;
	/* server log */
	struct serverlog_parser *log_parser;
	char *log_path;                /* owned: file being tailed */
	int64_t log_offset;
	struct arena atimes_arena;     /* owns atimes' strings */
	struct agent_time *atimes;     /* owned: statement time per agent, last window */
	size_t natimes;
	double atotal_ms;              /* all statement time in the last window */
	char last_error[512];
	struct arena dl_arena;         /* owns deadlocks */
	struct snap_deadlock *deadlocks; /* newest last, at most DEADLOCKS_KEPT */
	size_t ndeadlocks;
};

struct collector *collector_new(const struct config *cfg, const char *target,
				const char *conninfo, char *err, size_t errlen)
{
	const struct config_target *t = NULL;
	struct collector *c;
	static _Atomic int64_t generations;

	if (!conninfo) {
		t = config_find_target(cfg, target);
		if (!t) {
			if (target)
				snprintf(err, errlen, "no target named '%s' in %s", target,
					 cfg->path ? cfg->path : "the configuration");
			else
				snprintf(err, errlen, "no target to connect to: give -d CONNINFO or add "
					 "a target to %s", cfg->path ? cfg->path : "cockpit.conf");
			return NULL;
		}
	}
	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->generation = ++generations;
	if (t) {
		c->target = xstrdup(t->name);
		c->conninfo = xstrdup(t->conninfo);
		c->password_env = t->password_env ? xstrdup(t->password_env) : NULL;
		c->server_log = xstrdup(t->server_log ? t->server_log : "auto");
		c->server_log_format = xstrdup(t->server_log_format ? t->server_log_format : "auto");
		c->data_directory = t->data_directory ? xstrdup(t->data_directory) : NULL;
	} else {
		c->target = xstrdup(target ? target : "-d");
		c->unnamed = !target;
		c->conninfo = xstrdup(conninfo);
		c->server_log = xstrdup("auto");
		c->server_log_format = xstrdup("auto");
	}
	pthread_mutex_init(&c->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	c->period_ms = cfg->fast_refresh_ms > 0 ? cfg->fast_refresh_ms : 1000;
	c->wake_fd = -1;
	c->stmts = statements_state_new();
	for (int i = 0; i < ACTIVITY_NQUERIES; i++)
		strbuf_init(&c->fast_sql[i], 0);
	arena_init(&c->dl_arena);
	arena_init(&c->atimes_arena);
	return c;
}

static void drop_connection(struct collector *c)
{
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	collector_stop(c);
	drop_connection(c);
	snapshot_unref(c->current);
	snapshot_unref(c->last_good);
	snapshot_unref(c->slow);
	statements_state_free(c->stmts);
	for (int i = 0; i < ACTIVITY_NQUERIES; i++)
		strbuf_release(&c->fast_sql[i]);
	serverlog_parser_free(c->log_parser);
	arena_release(&c->dl_arena);
	arena_release(&c->atimes_arena);
	free(c->atimes);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->target);
	free(c->conninfo);
	free(c->password_env);
	free(c->server_log);
	free(c->server_log_format);
	free(c->data_directory);
	free(c->pgss_version);
	free(c->server_data_directory);
	free(c->log_path);
	free(c);
}

static int query_timeout_ms(const struct collector *c)
{
	int st = c->cfg->statement_timeout_ms > 0 ? c->cfg->statement_timeout_ms : 2000;

	return st + 3000;
}

static bool host_is_local(PGconn *conn)
{
	const char *h = PQhost(conn);

	return !h || !*h || h[0] == '/' || strcmp(h, "localhost") == 0 ||
	       strcmp(h, "127.0.0.1") == 0 || strcmp(h, "::1") == 0;
}

enum {
	Q_SERVER, Q_SESSIONS, Q_WAITS,      /* fast, one transaction */
	Q_STATEMENTS,                       /* slow, each its own transaction */
	Q_DISK0,
	Q_LOG = Q_DISK0 + DISK_NQUERIES,
	Q_MAX
};

/* Names of the prepared statements; index = query slot of a refresh (all
 * slots before Q_LOG). */
static const char *const stmt_names[] = {
	"cockpit_server", "cockpit_sessions", "cockpit_waits", "cockpit_statements",
	"cockpit_disk_databases", "cockpit_disk_wal", "cockpit_disk_logs", "cockpit_disk_temp",
	"cockpit_disk_slots", "cockpit_disk_tables",
};

/* SQL of the statements that do not change between refreshes. */
static void build_static_sql(const struct collector *c, struct strbuf *sql)
{
	activity_build_sql(sql, c->version_num, c->cfg->query_max_len > 0 ? c->cfg->query_max_len : 512);
	if (c->pgss_version)
		statements_build_sql(&sql[Q_STATEMENTS], c->pgss_version);
	else
		strbuf_addstr(&sql[Q_STATEMENTS], "/* cockpit collector: no statements */ SELECT 1");
	disk_build_sql(&sql[Q_DISK0], c->cfg->top_tables > 0 ? c->cfg->top_tables : 20);
}

/* Every refresh statement whose text never changes is prepared once per
 * connection: refreshes then cost execution only, no planning. */
static int prepare_statements(struct collector *c, char *err, size_t errlen)
{
	enum { N = sizeof(stmt_names) / sizeof(*stmt_names) };
	struct strbuf sql[N];
	const char *texts[N];
	int rc;

	for (size_t i = 0; i < N; i++)
		strbuf_init(&sql[i], 0);
	build_static_sql(c, sql);
	for (size_t i = 0; i < N; i++)
		texts[i] = sql[i].buf;
	rc = pgconn_prepare(c->conn, stmt_names, texts, N, query_timeout_ms(c), err, errlen);
	for (size_t i = 0; i < N; i++)
		strbuf_release(&sql[i]);
	return rc;
}

/* What the slow data needs to know about the server (pg_stat_statements'
 * version, the data directory, the database's oid), then every statement
 * prepared: two round trips once per connection, before its first slow
 * refresh (right after the first screen's). The first refresh of a
 * connection sends the fast statements' text instead, so the first screen
 * waits for one round trip after connecting, not three. */
static int probe_server(struct collector *c, char *err, size_t errlen)
{
	PGresult *r = pgconn_query1(c->conn,
		"/* cockpit collector: probe */ "
		"SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'), "
		"(SELECT setting FROM pg_settings WHERE name = 'data_directory'), "
		"(SELECT oid FROM pg_database WHERE datname = current_database())",
		query_timeout_ms(c), err, errlen);

	if (!r)
		return -1;
	free(c->pgss_version);
	c->pgss_version = pgconn_str(r, 0, 0) ? xstrdup(pgconn_str(r, 0, 0)) : NULL;
	free(c->server_data_directory);
	c->server_data_directory = pgconn_str(r, 0, 1) ? xstrdup(pgconn_str(r, 0, 1)) : NULL;
	c->database_oid = (unsigned)pgconn_int(r, 0, 2, 0);
	PQclear(r);
	if (prepare_statements(c, err, errlen) != 0)
		return -1;
	c->probed = true;
	return 0;
}

/* Connect and learn what this server offers. */
static int connect_target(struct collector *c, char *err, size_t errlen)
{
	struct pgconn_params p = {
		.conninfo = c->conninfo,
		.password = c->password_env ? getenv(c->password_env) : NULL,
		.application_name = "cockpit",
		.connect_timeout_s = c->cfg->connect_timeout_s,
		.statement_timeout_ms = c->cfg->statement_timeout_ms,
	};
	if (c->password_env && !p.password) {
		snprintf(err, errlen, "environment variable '%s' (password_env of target '%s') is not set",
			 c->password_env, c->target);
		return -1;
	}
	c->conn = pgconn_connect(&p, err, errlen);
	if (!c->conn)
		return -1;
	/* The server's version came with the connection (ParameterStatus):
	 * enough for the fast statements. */
	c->version_num = PQserverVersion(c->conn);
	c->probed = false;
	c->local = host_is_local(c->conn);
	for (int i = 0; i < ACTIVITY_NQUERIES; i++)
		strbuf_reset(&c->fast_sql[i]);
	activity_build_sql(c->fast_sql, c->version_num,
			   c->cfg->query_max_len > 0 ? c->cfg->query_max_len : 512);
	if (c->unnamed) {
		char name[512];

		snprintf(name, sizeof(name), "%s@%s:%s/%s", PQuser(c->conn), PQhost(c->conn),
			 PQport(c->conn), PQdb(c->conn));
		free(c->target);
		c->target = xstrdup(name);
	}
	return 0;
}

/* ---- server log and deadlocks ----------------------------------------- */

static enum serverlog_format log_format(const struct collector *c, const char *path)
{
	const char *f = c->server_log_format;

	if (strcmp(f, "stderr") == 0)
		return SERVERLOG_STDERR;
	if (strcmp(f, "csvlog") == 0)
		return SERVERLOG_CSVLOG;
	if (strcmp(f, "jsonlog") == 0)
		return SERVERLOG_JSONLOG;
	return serverlog_format_from_name(path);
}

static void copy_deadlock(struct arena *a, struct snap_deadlock *dst, const struct snap_deadlock *src)
{
	*dst = *src;
	dst->user = arena_strdup(a, src->user);
	dst->database = arena_strdup(a, src->database);
	dst->application = arena_strdup(a, src->application);
	dst->statement = arena_strdup(a, src->statement);
	dst->context = arena_strdup(a, src->context);
	dst->procs = src->nprocs ? arena_alloc(a, src->nprocs * sizeof(*dst->procs)) : NULL;
	for (size_t i = 0; i < src->nprocs; i++) {
		const struct snap_deadlock_proc *p = &src->procs[i];
		struct snap_deadlock_proc *q = &dst->procs[i];

		*q = *p;
		q->mode = arena_strdup(a, p->mode);
		q->locktype = arena_strdup(a, p->locktype);
		q->object = arena_strdup(a, p->object);
		q->relation = arena_strdup(a, p->relation);
		q->statement = arena_strdup(a, p->statement);
	}
}

static void convert_report(struct arena *a, struct snap_deadlock *d, const struct deadlock_report *r)
{
	d->at = (double)r->time_us / 1e6;
	d->pid = r->pid;
	d->user = arena_strdup(a, r->user);
	d->database = arena_strdup(a, r->database);
	d->application = arena_strdup(a, r->application);
	d->statement = arena_strdup(a, r->statement);
	d->context = arena_strdup(a, r->context);
	d->nprocs = r->nprocs;
	d->procs = r->nprocs ? arena_alloc(a, r->nprocs * sizeof(*d->procs)) : NULL;
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct deadlock_proc *p = &r->procs[i];
		struct snap_deadlock_proc *q = &d->procs[i];

		q->pid = p->pid;
		q->mode = arena_strdup(a, p->mode);
		q->locktype = arena_strdup(a, p->locktype);
		q->object = arena_strdup(a, p->object);
		q->xid = p->xid;
		q->blocked_by = p->blocked_by;
		q->statement = arena_strdup(a, p->statement);
	}
}

/* Resolve relation OIDs of the database we are connected to into names
 * (OIDs of other databases mean nothing here and stay as logged). */
static void resolve_relations(struct collector *c, struct arena *a, struct snap_deadlock *d,
			      size_t n, const struct deadlock_report *src)
{
	struct strbuf sql = STRBUF_INIT;
	char err[256];
	size_t asked = 0;
	PGresult *r;

	strbuf_addstr(&sql, "/* cockpit collector: deadlock relations */ "
		      "SELECT oid, oid::regclass::text FROM pg_class WHERE oid = ANY('{");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < src[i].nprocs; k++)
			if (src[i].procs[k].relation && src[i].procs[k].database == c->database_oid) {
				strbuf_addf(&sql, "%s%u", asked ? "," : "", src[i].procs[k].relation);
				asked++;
			}
	strbuf_addstr(&sql, "}'::oid[])");
	if (!asked || !c->conn ||
	    !(r = pgconn_query1(c->conn, sql.buf, query_timeout_ms(c), err, sizeof(err)))) {
		strbuf_release(&sql);
		return;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < src[i].nprocs; k++)
			for (int row = 0; row < PQntuples(r); row++)
				if (src[i].procs[k].database == c->database_oid &&
				    (unsigned)pgconn_int(r, row, 0, 0) == src[i].procs[k].relation)
					d[i].procs[k].relation = arena_strdup(a, pgconn_str(r, row, 1));
	PQclear(r);
	strbuf_release(&sql);
}

/* Take the parser's complete reports into the kept list. */
static void take_reports(struct collector *c)
{
	struct deadlock_report *fresh = NULL;
	size_t n = c->log_parser ? serverlog_parser_take(c->log_parser, &fresh) : 0;
	size_t total, first_old = 0, first_new = 0, k = 0;
	struct arena a;
	struct snap_deadlock *all;

	if (!n)
		return;
	total = c->ndeadlocks + n;
	if (total > DEADLOCKS_KEPT) {
		size_t drop = total - DEADLOCKS_KEPT;

		first_old = drop < c->ndeadlocks ? drop : c->ndeadlocks;
		first_new = drop > c->ndeadlocks ? drop - c->ndeadlocks : 0;
		total = DEADLOCKS_KEPT;
	}
	arena_init(&a);
	all = arena_alloc(&a, total * sizeof(*all));
	for (size_t i = first_old; i < c->ndeadlocks; i++)
		copy_deadlock(&a, &all[k++], &c->deadlocks[i]);
	for (size_t i = first_new; i < n; i++)
		convert_report(&a, &all[k + i - first_new], &fresh[i]);
	resolve_relations(c, &a, all + k, n - first_new, fresh + first_new);
	arena_release(&c->dl_arena);
	c->dl_arena = a;
	c->deadlocks = all;
	c->ndeadlocks = total;
	serverlog_reports_free(fresh, n);
}

/* Feed a chunk read at offset off of path; a tail read that starts mid-file
 * drops its first partial line. */
static void log_feed(struct collector *c, const char *path, int64_t off, const char *data,
		     size_t len)
{
	if (!c->log_path || strcmp(c->log_path, path) != 0) {
		bool first = c->log_path == NULL;

		free(c->log_path);
		c->log_path = xstrdup(path);
		serverlog_parser_free(c->log_parser);
		c->log_parser = serverlog_parser_new(log_format(c, path));
		if (first && off > 0) {
			const char *nl = memchr(data, '\n', len);

			if (!nl) {
				c->log_offset = off + (int64_t)len;
				return;
			}
			off += nl + 1 - data;
			len -= (size_t)(nl + 1 - data);
			data = nl + 1;
		}
	}
	c->log_offset = off + (int64_t)len;
	serverlog_parser_feed(c->log_parser, data, len);
}

/* The SQL that reads the next chunk of the server's current log. */
static void log_build_sql(struct collector *c, struct strbuf *sql)
{
	char *lit = NULL;

	if (c->log_path && c->conn)
		lit = PQescapeLiteral(c->conn, c->log_path, strlen(c->log_path));
	strbuf_addf(sql,
		"/* cockpit collector: server log */ "
		"WITH f AS (SELECT coalesce(pg_current_logfile('jsonlog'), pg_current_logfile('csvlog'), "
		"pg_current_logfile('stderr')) AS path), "
		"z AS (SELECT f.path, (SELECT d.size FROM pg_ls_logdir() d "
		"WHERE f.path = d.name OR f.path LIKE '%%/' || d.name LIMIT 1) AS size FROM f), "
		"o AS (SELECT path, size, CASE WHEN path = %s THEN %lld WHEN %s THEN 0 "
		"ELSE greatest(coalesce(size, 0) - %d, 0) END AS off FROM z) "
		"SELECT path, size, off, CASE WHEN path IS NOT NULL AND (size IS NULL OR off < size) "
		"THEN pg_read_binary_file(path, off, %d, true) END FROM o",
		lit ? lit : "NULL", (long long)c->log_offset, c->log_path ? "true" : "false",
		LOG_CHUNK, LOG_CHUNK);
	PQfreemem(lit);
}

static void log_parse_result(struct collector *c, struct snapshot *s, PGresult *r, const char *err)
{
	const char *path;
	unsigned char *bytes;
	size_t len = 0;

	if (err || !r) {
		char msg[512];

		snprintf(msg, sizeof(msg), "cannot read the server log: %s", err ? err : "no result");
		snapshot_add_problem(s, "deadlocks", msg,
			"GRANT EXECUTE ON FUNCTION pg_current_logfile(text), "
			"pg_read_binary_file(text, bigint, bigint, boolean) TO <cockpit role> (with pg_monitor), "
			"or set the target's server_log to the log file's local path");
		return;
	}
	path = pgconn_str(r, 0, 0);
	if (!path) {
		snapshot_add_problem(s, "deadlocks",
			"the server writes no log file cockpit can read (logging_collector is off)",
			"set logging_collector = on, or set the target's server_log to where the log goes");
		return;
	}
	if (!pgconn_str(r, 0, 3) || pgconn_int(r, 0, 1, -1) == pgconn_int(r, 0, 2, -2)) {
		/* Nothing new: the log is quiet, so a stderr report waiting for
		 * a line that never comes is complete. */
		if (c->log_parser)
			serverlog_parser_finish(c->log_parser);
		return;
	}
	bytes = PQunescapeBytea((const unsigned char *)pgconn_str(r, 0, 3), &len);
	if (bytes) {
		log_feed(c, path, pgconn_int(r, 0, 2, 0), (const char *)bytes, len);
		PQfreemem(bytes);
	}
}

/* server_log is a local file or a directory (newest file in it). */
static void log_read_local(struct collector *c, struct snapshot *s)
{
	char path[4096], msg[600];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s", c->server_log);
	if (stat(path, &st) != 0) {
		snprintf(msg, sizeof(msg), "cannot read the server log '%s': %s", path, strerror(errno));
		snapshot_add_problem(s, "deadlocks", msg, "fix server_log in the target's configuration");
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(c->server_log);
		struct dirent *e;
		time_t best = 0;

		path[0] = '\0';
		while (d && (e = readdir(d)) != NULL) {
			char p[4096];
			struct stat es;

			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", c->server_log, e->d_name);
			if (stat(p, &es) == 0 && S_ISREG(es.st_mode) && es.st_mtime >= best) {
				best = es.st_mtime;
				snprintf(path, sizeof(path), "%s", p);
			}
		}
		if (d)
			closedir(d);
		if (!path[0] || stat(path, &st) != 0)
			return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, sizeof(msg), "cannot read the server log '%s': %s", path, strerror(errno));
		snapshot_add_problem(s, "deadlocks", msg, "give cockpit's user read access to the log");
		return;
	}
	{
		int64_t off = c->log_path && strcmp(c->log_path, path) == 0 ? c->log_offset :
			      (c->log_path ? 0 : (st.st_size > LOG_CHUNK ? st.st_size - LOG_CHUNK : 0));
		char *buf;
		ssize_t got;

		if (off > st.st_size)
			off = 0; /* truncated or replaced */
		buf = xmalloc(LOG_CHUNK);
		got = pread(fd, buf, LOG_CHUNK, off);
		if (got > 0)
			log_feed(c, path, off, buf, (size_t)got);
		else if (!c->log_path || strcmp(c->log_path, path) != 0)
			log_feed(c, path, off, buf, 0);
		else if (c->log_parser)
			serverlog_parser_finish(c->log_parser); /* quiet log: complete what waits */
		free(buf);
	}
	close(fd);
}

/* ---- one refresh ------------------------------------------------------ */

static struct snapshot *disconnected(struct collector *c, const char *error)
{
	struct snapshot *s = snapshot_new_from(c->last_good, true);

	s->generation = c->generation;
	s->target = arena_strdup(&s->arena, c->target);
	s->connected = false;
	s->error = arena_strdup(&s->arena, error);
	s->stats.seq = ++c->seq;
	if (!c->last_good) {
		s->collected_at = (double)clock_wall_us() / 1e6;
		s->collected_mono_ms = clock_mono_ms();
	}
	snapshot_build_locks(s);
	return s;
}

static void fail_connection(struct collector *c, const char *why)
{
	drop_connection(c);
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->next_connect_ms = clock_mono_ms() + c->backoff_ms;
}

static void keep_agent_times(struct collector *c, const struct agent_time *t, size_t n, double total)
{
	arena_release(&c->atimes_arena);
	free(c->atimes);
	c->atimes = n ? xmalloc(n * sizeof(*c->atimes)) : NULL;
	c->natimes = n;
	c->atotal_ms = total;
	for (size_t i = 0; i < n; i++) {
		c->atimes[i].agent_id = arena_strdup(&c->atimes_arena, t[i].agent_id);
		c->atimes[i].ms = t[i].ms;
	}
}

static void slow_statements(struct collector *c, struct snapshot *s, struct pgconn_query *q)
{
	struct stmt_row *rows;
	struct agent_time *times;
	size_t nrows, ntimes;
	double total;
	struct strbuf sql = STRBUF_INIT;
	char err[512], msg[700];

	if (!c->pgss_version) {
		snprintf(msg, sizeof(msg), "pg_stat_statements is not installed in database '%s'",
			 PQdb(c->conn));
		snapshot_add_problem(s, "statements", msg,
			"CREATE EXTENSION pg_stat_statements; (with pg_stat_statements in "
			"shared_preload_libraries, which needs a restart)");
		return;
	}
	if (q->error) {
		snprintf(msg, sizeof(msg), "cannot read pg_stat_statements: %s", q->error);
		snapshot_add_problem(s, "statements", msg,
			strstr(q->error, "shared_preload_libraries") ?
			"add pg_stat_statements to shared_preload_libraries and restart the server" :
			"GRANT pg_monitor TO <cockpit role>");
		return;
	}
	nrows = statements_parse(q->result, &rows);
	total = statements_update(c->stmts, rows, nrows, s->server.now > 0 ? s->server.now :
				  (double)clock_wall_us() / 1e6,
				  (size_t)(c->cfg->top_statements > 0 ? c->cfg->top_statements : 50), s);
	if (statements_missing_texts(c->stmts, 500, &sql)) {
		PGresult *r = pgconn_query1(c->conn, sql.buf, query_timeout_ms(c), err, sizeof(err));

		s->stats.round_trips++;
		s->stats.statements++;
		statements_store_texts(c->stmts, r);
		PQclear(r);
	}
	statements_fill_texts(c->stmts, s);
	statements_agent_times(c->stmts, &times, &ntimes);
	keep_agent_times(c, times, ntimes, total);
	strbuf_release(&sql);
	free(rows);
}

static void slow_disk(struct collector *c, struct snapshot *s, struct pgconn_query *q)
{
	const char *dir = c->data_directory;

	for (int i = 0; i < DISK_NQUERIES; i++)
		disk_parse(s, (enum disk_query)i, q[i].error ? NULL : q[i].result, q[i].error);
	if (!dir && c->local)
		dir = c->server_data_directory;
	if (dir && disk_statvfs(s, dir) != 0) {
		char msg[600];

		snprintf(msg, sizeof(msg), "cannot measure the filesystem of '%s': %s", dir, strerror(errno));
		snapshot_add_problem(s, "disk", msg,
			"set the target's data_directory to a local path on the same filesystem");
	} else if (!dir) {
		snapshot_add_problem(s, "disk",
			c->local ? "the server's data_directory is not readable by this role"
				 : "the server is remote: its filesystem cannot be measured from here",
			c->local ? "GRANT pg_monitor (pg_read_all_settings) TO <cockpit role>"
				 : "set the target's data_directory when cockpit runs on the database host");
	}
	s->disk.collected_at = (double)clock_wall_us() / 1e6;
}

struct snapshot *collector_collect(struct collector *c, bool force_slow)
{
	struct strbuf logsql;
	struct pgconn_query q[Q_MAX];
	struct snapshot *s;
	char err[512];
	int64_t t0, now = clock_mono_ms();
	size_t nq = 0;
	int64_t slow_period;
	int probe_trips = 0;
	bool slow, read_log;
	enum pgconn_status st;

	if (!c->conn) {
		if (now < c->next_connect_ms) {
			char msg[700];

			snprintf(msg, sizeof(msg), "%s (reconnecting in %.1f s)", c->last_error,
				 (double)(c->next_connect_ms - now) / 1000.0);
			return disconnected(c, msg);
		}
		if (connect_target(c, err, sizeof(err)) != 0) {
			fail_connection(c, err);
			return disconnected(c, err);
		}
		c->backoff_ms = 0;
		c->last_error[0] = '\0';
	}
	/* The very first refresh is fast-only so the first screen shows at once;
	 * the thread runs the slow one right after it (see collector_main). */
	slow_period = c->cfg->slow_refresh_ms > 0 ? c->cfg->slow_refresh_ms : 10000;
	/* Deltas need two samples: take the second one soon, not a whole slow
	 * period after the first. */
	if (c->pgss_version && c->slow && c->slow->statements_window_s <= 0 && slow_period > 2000)
		slow_period = 2000;
	slow = force_slow || (!c->slow && c->seq > 0) || (c->slow && now - c->last_slow_ms >= slow_period);
	read_log = slow && strcmp(c->server_log, "auto") == 0;
	if (slow && !c->probed) {
		if (probe_server(c, err, sizeof(err)) != 0) {
			fail_connection(c, err);
			return disconnected(c, err);
		}
		probe_trips = 2;
	}

	strbuf_init(&logsql, 0);
	memset(q, 0, sizeof(q));
	for (int i = Q_SERVER; i <= Q_WAITS; i++) {
		if (c->probed)
			q[nq++].prepared = stmt_names[i];
		else
			q[nq++].sql = c->fast_sql[i].buf;
	}
	q[Q_WAITS].sync_after = true;
	if (slow) {
		for (int i = Q_STATEMENTS; i < Q_LOG; i++) {
			q[nq].prepared = stmt_names[i];
			q[nq++].sync_after = true;
		}
		if (read_log) {
			log_build_sql(c, &logsql);
			q[nq].sql = logsql.buf;
			q[nq++].sync_after = true;
		}
	}

	t0 = clock_mono_us();
	st = pgconn_run(c->conn, q, nq, query_timeout_ms(c), err, sizeof(err));
	if (st != PGCONN_OK || q[Q_SESSIONS].error) {
		if (st == PGCONN_OK) /* the fast path itself failed: treat as broken */
			snprintf(err, sizeof(err), "%s", q[Q_SESSIONS].error);
		pgconn_clear(q, nq);
		strbuf_release(&logsql);
		fail_connection(c, err);
		return disconnected(c, err);
	}

	s = slow ? snapshot_new() : snapshot_new_from(c->slow, false);
	s->generation = c->generation;
	s->target = arena_strdup(&s->arena, c->target);
	s->connected = true;
	s->collected_at = (double)clock_wall_us() / 1e6;
	s->collected_mono_ms = clock_mono_ms();
	s->stats.seq = ++c->seq;
	s->stats.round_trips = 1 + probe_trips;
	s->stats.statements = (int)nq + (probe_trips ? 1 : 0);
	s->stats.fast_ms = (double)(clock_mono_us() - t0) / 1000.0;
	s->stats.slow_refreshed = slow;
	activity_parse(s, c->last_good && c->last_good->connected ? c->last_good : NULL, c->cfg,
		       q[Q_SERVER].result, q[Q_SESSIONS].result, q[Q_WAITS].result);
	if (q[Q_WAITS].error) {
		char msg[600];

		snprintf(msg, sizeof(msg), "cannot read lock waits: %s", q[Q_WAITS].error);
		snapshot_add_problem(s, "locks", msg, "GRANT pg_monitor TO <cockpit role>");
	}
	if (slow) {
		int64_t t1 = clock_mono_us();

		slow_statements(c, s, &q[Q_STATEMENTS]);
		slow_disk(c, s, &q[Q_DISK0]);
		if (read_log)
			log_parse_result(c, s, q[Q_LOG].result, q[Q_LOG].error);
		else if (strcmp(c->server_log, "none") != 0)
			log_read_local(c, s);
		take_reports(c);
		s->deadlocks = c->ndeadlocks ? arena_alloc(&s->arena, c->ndeadlocks * sizeof(*s->deadlocks)) : NULL;
		for (size_t i = 0; i < c->ndeadlocks; i++)
			copy_deadlock(&s->arena, &s->deadlocks[i], &c->deadlocks[i]);
		s->ndeadlocks = c->ndeadlocks;
		s->stats.slow_ms = (double)(clock_mono_us() - t1) / 1000.0;
		c->last_slow_ms = now;
		snapshot_unref(c->slow);
		c->slow = snapshot_ref(s);
	}
	agents_aggregate(s, c->atimes, c->natimes, c->atotal_ms);
	snapshot_build_locks(s);
	pgconn_clear(q, nq);
	strbuf_release(&logsql);
	snapshot_unref(c->last_good);
	c->last_good = snapshot_ref(s);
	return s;
}

/* ---- the thread ------------------------------------------------------- */

static void *collector_main(void *arg)
{
	struct collector *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct snapshot *s, *old;
		int64_t start = clock_mono_ms(), deadline;

		pthread_mutex_unlock(&c->lock);
		s = collector_collect(c, false);
		pthread_mutex_lock(&c->lock);
		old = c->current;
		c->current = s;
		if (c->wake_fd >= 0) {
			char b = 's';
			ssize_t w = write(c->wake_fd, &b, 1);

			(void)w; /* a full pipe already means "wake up" */
		}
		/* Right after the first (fast-only) snapshot, read the slow data
		 * without waiting a period. */
		deadline = s->connected && !c->slow ? start : start + c->period_ms;
		while (!c->stop && clock_mono_ms() < deadline) {
			struct timespec ts;
			int64_t left = deadline - clock_mono_ms();

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(left / 1000);
			ts.tv_nsec += (long)(left % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
			if (c->slow)
				deadline = start + c->period_ms; /* the period may have changed */
		}
		pthread_mutex_unlock(&c->lock);
		snapshot_unref(old); /* outside the lock: freeing may take a while */
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int collector_start(struct collector *c, int wake_fd)
{
	int rc;

	c->wake_fd = wake_fd;
	c->stop = false;
	rc = pthread_create(&c->thread, NULL, collector_main, c);
	if (rc != 0)
		return -1;
	c->running = true;
	return 0;
}

void collector_stop(struct collector *c)
{
	if (!c->running)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	c->running = false;
}

struct snapshot *collector_get(struct collector *c)
{
	struct snapshot *s;

	pthread_mutex_lock(&c->lock);
	s = snapshot_ref(c->current);
	pthread_mutex_unlock(&c->lock);
	return s;
}

void collector_set_period(struct collector *c, int fast_ms)
{
	if (fast_ms < 100)
		fast_ms = 100;
	if (fast_ms > 60000)
		fast_ms = 60000;
	pthread_mutex_lock(&c->lock);
	c->period_ms = fast_ms;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int collector_period(struct collector *c)
{
	int p;

	pthread_mutex_lock(&c->lock);
	p = c->period_ms;
	pthread_mutex_unlock(&c->lock);
	return p;
}
