/*
 * executor: runs proposals, verifies them, rolls back; see executor.h.
 *
 * One function, run_job(), takes a job from its first audit record to its
 * final state; the executor thread calls it for each queued job and
 * executor_run_now() calls it on the caller's thread. A struct runner holds
 * what a run needs (config, audit, connection); the connection belongs to
 * the thread that runs the jobs, and is checked (SELECT 1) and reconnected
 * at the start of each job, never in the middle of one.
 *
 * A job as a state machine, each step audited first (a failed append stops
 * the job before the step it would have recorded):
 *
 *   QUEUED -> RUNNING: exec.start (everything about the proposal, the
 *       rollback included), the baseline (verify.baseline), the action;
 *     -> FAILED: exec.error (the server's error; nothing changed, or the
 *       INVALID index a failed CREATE INDEX CONCURRENTLY left), or the
 *       guard of a signal matched no session;
 *     -> UNKNOWN: exec.unknown, the connection dropped after the statement
 *       was sent; never retried;
 *   RUNNING -> VERIFYING: exec.done, then the verify query until it holds
 *       or the deadline passes, for up to verify.attempts attempts;
 *     -> DONE: verify.pass (or no verification);
 *     -> ROLLED_BACK: verify.fail, the value got worse than the baseline:
 *       rollback.start, rollback.done;
 *     -> ESCALATED: every attempt failed, or the rollback failed: escalate.
 *   QUEUED -> SHADOWED (shadow.would_run) in shadow mode.
 *
 * SQL is sent with PQsendQueryParams (one statement only, whatever the text
 * holds) and waited for with a client-side deadline of the statement's
 * timeout plus a margin, so a dead server cannot hang the thread. Shell
 * actions run with posix_spawn (no shell, a small fixed environment, stdin
 * from /dev/null, stdout and stderr captured up to a bound).
 */
#include "act/executor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/policy.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/pgconn.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Client-side wait beyond the statement's own timeout before the outcome is
 * declared unknown. */
#define CLIENT_MARGIN_MS 15000
/* Bytes of a shell action's stdout (and of its stderr) kept. */
#define SHELL_OUTPUT_MAX (64 * 1024)
/* Bytes of that output written to the audit log. */
#define SHELL_AUDIT_MAX 4096
/* After SIGTERM, a shell action gets this long before SIGKILL. */
#define SHELL_KILL_GRACE_MS 5000
/* Finished jobs kept in the list for the UI. */
#define JOBS_KEPT 64

extern char **environ;

static const char *const state_names[] = {
	[JOB_QUEUED] = "queued",
	[JOB_RUNNING] = "running",
	[JOB_VERIFYING] = "verifying",
	[JOB_DONE] = "done",
	[JOB_FAILED] = "failed",
	[JOB_ROLLED_BACK] = "rolled back",
	[JOB_ESCALATED] = "escalated",
	[JOB_UNKNOWN] = "outcome unknown",
	[JOB_SHADOWED] = "shadowed",
	[JOB_REFUSED] = "refused",
};

const char *job_state_name(enum job_state s)
{
	if ((unsigned)s < ARRAY_SIZE(state_names))
		return state_names[s];
	return "?";
}

bool job_state_final(enum job_state s)
{
	return s >= JOB_DONE;
}

/* ---------------------------------------------------------------- types */

struct job {
	struct proposal *p;    /* owned copy */
	bool accepted;
	enum cockpit_mode mode;
	struct job_view v;     /* under executor.mu when the executor owns the job */
};

struct executor;

struct runner {
	const struct config *cfg;      /* borrowed */
	char *conninfo;                /* owned */
	char *password_env;            /* owned, or NULL */
	struct audit *audit;           /* borrowed */
	struct policy_state *policy;   /* borrowed, or NULL */
	PGconn *conn;                  /* owned, thread that runs jobs only */
	struct executor *e;            /* NULL: executor_run_now */
	int wake_fd;
};

struct executor {
	struct runner r;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;             /* new job, or stop */
	bool stopping;                 /* under mu */
	struct job **jobs;             /* under mu; oldest first */
	size_t njobs, alloc;
};

/* ---------------------------------------------------------------- views */

static void wake(struct runner *r)
{
	char b = 1;

	if (r->wake_fd >= 0 && write(r->wake_fd, &b, 1) < 0) {
		/* full pipe: the reader is awake already */
	}
}

static void lock(struct runner *r)
{
	if (r->e)
		pthread_mutex_lock(&r->e->mu);
}

static void unlock(struct runner *r)
{
	if (r->e)
		pthread_mutex_unlock(&r->e->mu);
}

static void set_detail(struct runner *r, struct job *j, enum job_state s, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Publish state s with a detail line (fmt NULL: keep the detail). */
static void set_detail(struct runner *r, struct job *j, enum job_state s, const char *fmt, ...)
{
	char *d = NULL;
	va_list ap;

	if (fmt) {
		struct strbuf sb = STRBUF_INIT;

		va_start(ap, fmt);
		strbuf_vaddf(&sb, fmt, ap);
		va_end(ap);
		d = strbuf_detach(&sb, NULL);
	}
	lock(r);
	j->v.state = s;
	if (d) {
		free(j->v.detail);
		j->v.detail = d;
	}
	if (s == JOB_RUNNING && j->v.started_at == 0)
		j->v.started_at = (double)clock_wall_us() / 1e6;
	if (job_state_final(s))
		j->v.finished_at = (double)clock_wall_us() / 1e6;
	unlock(r);
	wake(r);
}

static void set_measure(struct runner *r, double *field, double x)
{
	lock(r);
	*field = x;
	unlock(r);
	wake(r);
}

static void view_copy(struct job_view *dst, const struct job_view *src)
{
	*dst = *src;
	dst->proposal_id = src->proposal_id ? xstrdup(src->proposal_id) : NULL;
	dst->detail = src->detail ? xstrdup(src->detail) : NULL;
	dst->sql_run = src->sql_run ? xstrdup(src->sql_run) : NULL;
}

void job_view_release(struct job_view *v)
{
	free(v->proposal_id);
	free(v->detail);
	free(v->sql_run);
	memset(v, 0, sizeof(*v));
}

void job_views_free(struct job_view *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		job_view_release(&v[i]);
	free(v);
}

/* A job for p (owned from now on). */
static struct job *job_new(struct proposal *p, bool accepted, enum cockpit_mode mode)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->p = p;
	j->accepted = accepted;
	j->mode = mode;
	j->v.proposal_id = xstrdup(p->id ? p->id : "");
	j->v.state = JOB_QUEUED;
	j->v.detail = xstrdup("queued");
	j->v.baseline = NAN;
	j->v.measured = NAN;
	j->v.sql_run = p->sql ? xstrdup(p->sql) : NULL;
	return j;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	proposal_free(j->p);
	job_view_release(&j->v);
	free(j);
}

/* ---------------------------------------------------------------- audit */

static const char *action_name(const struct proposal *p)
{
	return p->action ? p->action->name : "?";
}

/* The fields every record of a job carries. */
static json_t *job_fields(const struct job *j)
{
	const struct proposal *p = j->p;

	return json_pack("{s:s, s:s, s:s}", "proposal_id", p->id ? p->id : "",
	                 "action", action_name(p), "target", p->target ? p->target : "");
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static void set_num(json_t *o, const char *k, double x)
{
	if (isfinite(x))
		json_object_set_new(o, k, json_real(x));
	else
		json_object_set_new(o, k, json_null());
}

/* Append kind with fields (stolen). 0, or -1 with err set. */
static int record(struct runner *r, const char *kind, json_t *fields, char *err, size_t errlen)
{
	int rc = audit_append(r->audit, kind, fields, err, errlen);

	json_decref(fields);
	return rc;
}

static int lock_timeout_of(const struct runner *r, const struct proposal *p)
{
	if (p->lock_timeout_ms > 0)
		return p->lock_timeout_ms;
	if (p->action && p->action->default_lock_timeout_ms > 0)
		return p->action->default_lock_timeout_ms;
	return r->cfg->policy.lock_timeout_ms;
}

static int statement_timeout_of(const struct runner *r, const struct proposal *p)
{
	if (p->statement_timeout_ms > 0)
		return p->statement_timeout_ms;
	if (p->action && p->action->default_statement_timeout_ms > 0)
		return p->action->default_statement_timeout_ms;
	return r->cfg->policy.statement_timeout_ms;
}

static int attempts_of(const struct runner *r, const struct proposal *p)
{
	return p->verify.attempts > 0 ? p->verify.attempts : r->cfg->policy.verify_attempts;
}

static json_t *start_fields(const struct runner *r, const struct job *j)
{
	const struct proposal *p = j->p;
	json_t *f = job_fields(j);

	set_str(f, "target_kind", p->target_kind);
	set_str(f, "runbook", p->runbook);
	set_str(f, "incident_key", p->incident_key);
	set_str(f, "origin", p->origin);
	json_object_set_new(f, "risk", json_string(risk_name(p->risk)));
	json_object_set_new(f, "decision", json_string(decision_name(p->decision)));
	set_str(f, "policy_reason", p->policy_reason);
	json_object_set_new(f, "mode", json_string(config_mode_name(j->mode)));
	json_object_set_new(f, "accepted", json_boolean(j->accepted));
	set_str(f, "sql", p->sql);
	if (p->argv)
		json_object_set(f, "argv", p->argv);
	if (p->params)
		json_object_set(f, "params", p->params);
	json_object_set_new(f, "rollback_sql", p->rollback_sql ? json_string(p->rollback_sql)
	                                                       : json_null());
	if (p->guard)
		json_object_set(f, "guard", p->guard);
	json_object_set_new(f, "in_transaction", json_boolean(p->in_transaction));
	json_object_set_new(f, "lock_timeout_ms", json_integer(lock_timeout_of(r, p)));
	json_object_set_new(f, "statement_timeout_ms", json_integer(statement_timeout_of(r, p)));
	if (p->verify.sql) {
		json_t *v = json_pack("{s:s, s:s, s:i, s:i, s:i}", "sql", p->verify.sql,
		                      "expect", p->verify.expect ? p->verify.expect : "",
		                      "wait_s", p->verify.wait_s, "deadline_s",
		                      p->verify.deadline_s, "attempts", attempts_of(r, p));

		if (p->verify.args)
			json_object_set(v, "args", p->verify.args);
		json_object_set_new(f, "verify", v);
	}
	set_str(f, "edited_from", p->edited_from);
	set_str(f, "edit_diff", p->edit_diff);
	return f;
}

/* ---------------------------------------------------------------- expect */

enum expect_op { EXP_LT, EXP_LE, EXP_GT, EXP_GE, EXP_EQ, EXP_NE };

struct expect {
	enum expect_op op;
	bool vs_baseline;
	double value;
};

static bool expect_parse(const char *s, struct expect *x)
{
	static const struct { const char *tok; enum expect_op op; } ops[] = {
		{ "<=", EXP_LE }, { ">=", EXP_GE }, { "==", EXP_EQ }, { "!=", EXP_NE },
		{ "<", EXP_LT }, { ">", EXP_GT }, { "=", EXP_EQ },
	};
	char *end;
	size_t i;

	if (!s)
		return false;
	while (*s == ' ')
		s++;
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (strncmp(s, ops[i].tok, strlen(ops[i].tok)) == 0)
			break;
	if (i == ARRAY_SIZE(ops))
		return false;
	x->op = ops[i].op;
	s += strlen(ops[i].tok);
	while (*s == ' ')
		s++;
	x->vs_baseline = strncmp(s, "baseline", 8) == 0;
	if (x->vs_baseline) {
		s += 8;
	} else {
		x->value = strtod(s, &end);
		if (end == s || !isfinite(x->value))
			return false;
		s = end;
	}
	while (*s == ' ')
		s++;
	return *s == '\0';
}

static bool expect_holds(const struct expect *x, double measured, double baseline)
{
	double ref = x->vs_baseline ? baseline : x->value;

	if (!isfinite(measured) || !isfinite(ref))
		return false;
	switch (x->op) {
	case EXP_LT: return measured < ref;
	case EXP_LE: return measured <= ref;
	case EXP_GT: return measured > ref;
	case EXP_GE: return measured >= ref;
	case EXP_EQ: return measured == ref;
	case EXP_NE: return measured != ref;
	}
	return false;
}

/* Did the value move the wrong way from the baseline? The operator gives
 * the direction: < and <= mean lower is better, > and >= higher is better;
 * for == and != worse means not satisfied and different from the baseline. */
static bool expect_worse(const struct expect *x, double measured, double baseline)
{
	if (!isfinite(measured) || !isfinite(baseline))
		return false;
	switch (x->op) {
	case EXP_LT:
	case EXP_LE:
		return measured > baseline;
	case EXP_GT:
	case EXP_GE:
		return measured < baseline;
	case EXP_EQ:
	case EXP_NE:
		return !expect_holds(x, measured, baseline) && measured != baseline;
	}
	return false;
}

/* ---------------------------------------------------------------- SQL */

static void one_line(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

enum sql_outcome {
	SQL_OK,        /* result in *res */
	SQL_ERROR,     /* the server said no; the connection is fine; msg set */
	SQL_LOST,      /* the connection dropped (or no answer in time) after sending */
	SQL_UNSENT,    /* the connection was gone before the statement was sent */
};

/* Run one statement with text parameters, waiting at most timeout_ms. */
static enum sql_outcome sql_run(struct runner *r, const char *sql, const char *const *params,
				int nparams, int timeout_ms, PGresult **res, char *msg,
				size_t msglen)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	struct strbuf tagged = STRBUF_INIT;
	PGresult *last = NULL, *x;
	enum sql_outcome out = SQL_OK;
	bool sent;

	*res = NULL;
	if (!r->conn || PQstatus(r->conn) != CONNECTION_OK) {
		snprintf(msg, msglen, "no connection");
		return SQL_UNSENT;
	}
	/* every statement tagged (SET, BEGIN, the verify query): the
	 * executor's session reads honestly in pg_stat_activity */
	if (strncmp(sql, "/*", 2) != 0) {
		strbuf_addf(&tagged, "/* cockpit-executor */ %s", sql);
		sql = tagged.buf;
	}
	sent = PQsendQueryParams(r->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	strbuf_release(&tagged);
	if (!sent) {
		snprintf(msg, msglen, "%s", PQerrorMessage(r->conn));
		one_line(msg);
		return PQstatus(r->conn) == CONNECTION_OK ? SQL_ERROR : SQL_UNSENT;
	}
	for (;;) {
		while (PQisBusy(r->conn)) {
			struct pollfd pfd = { PQsocket(r->conn), POLLIN, 0 };
			int64_t left = deadline - clock_mono_ms();
			int rc;

			if (left <= 0) {
				snprintf(msg, msglen, "no answer within %d ms", timeout_ms);
				PQclear(last);
				return SQL_LOST;
			}
			rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
			if ((rc < 0 && errno != EINTR) || (rc > 0 && !PQconsumeInput(r->conn))) {
				snprintf(msg, msglen, "%s", PQerrorMessage(r->conn));
				one_line(msg);
				PQclear(last);
				return SQL_LOST;
			}
		}
		x = PQgetResult(r->conn);
		if (!x)
			break;
		if (last)
			PQclear(last);
		last = x;
	}
	if (!last || PQstatus(r->conn) != CONNECTION_OK) {
		snprintf(msg, msglen, "%s", last ? PQresultErrorMessage(last) :
		         PQerrorMessage(r->conn));
		one_line(msg);
		if (!*msg)
			snprintf(msg, msglen, "the connection closed");
		PQclear(last);
		return SQL_LOST;
	}
	if (PQresultStatus(last) != PGRES_COMMAND_OK && PQresultStatus(last) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(last, PG_DIAG_SQLSTATE);

		snprintf(msg, msglen, "%s%s%s", PQresultErrorMessage(last), state ? " SQLSTATE " : "",
		         state ? state : "");
		one_line(msg);
		out = SQL_ERROR;
		PQclear(last);
		return out;
	}
	*res = last;
	return out;
}

/* A statement whose result does not matter (SET, BEGIN, ROLLBACK). */
static enum sql_outcome sql_simple(struct runner *r, const char *sql, char *msg, size_t msglen)
{
	PGresult *res;
	enum sql_outcome o = sql_run(r, sql, NULL, 0, 30000, &res, msg, msglen);

	PQclear(res);
	return o;
}

static void disconnect(struct runner *r)
{
	if (r->conn)
		PQfinish(r->conn);
	r->conn = NULL;
}

/* A live connection for the next job: the old one if it still answers. */
static int ensure_conn(struct runner *r, char *err, size_t errlen)
{
	struct pgconn_params pp = {
		.conninfo = r->conninfo,
		.password = r->password_env ? getenv(r->password_env) : NULL,
		.application_name = "cockpit-executor",
		.connect_timeout_s = r->cfg->connect_timeout_s,
		.statement_timeout_ms = r->cfg->policy.statement_timeout_ms,
	};
	char msg[256];

	if (r->conn && sql_simple(r, "SELECT 1", msg, sizeof(msg)) == SQL_OK)
		return 0;
	disconnect(r);
	r->conn = pgconn_connect(&pp, msg, sizeof(msg));
	if (!r->conn) {
		snprintf(err, errlen, "executor connection: %s — check the target's "
		         "executor_conninfo and that the server is up", msg);
		return -1;
	}
	return 0;
}

/* The verify query once: its first column as a number, NAN on failure. */
static double measure(struct runner *r, const struct proposal *p, char *msg, size_t msglen)
{
	const char *params[16];
	int n = 0;
	PGresult *res;
	double x = NAN;
	const char *v;
	char *end;

	if (json_is_array(p->verify.args)) {
		size_t i;
		json_t *a;

		json_array_foreach(p->verify.args, i, a) {
			if (n == (int)ARRAY_SIZE(params))
				break;
			params[n++] = json_string_value(a);
		}
	}
	if (!r->conn || PQstatus(r->conn) != CONNECTION_OK) {
		char err[256];

		if (ensure_conn(r, err, sizeof(err)) != 0) {
			snprintf(msg, msglen, "%s", err);
			return NAN;
		}
	}
	if (sql_run(r, p->verify.sql, params, n, r->cfg->policy.statement_timeout_ms +
	            CLIENT_MARGIN_MS, &res, msg, msglen) != SQL_OK)
		return NAN;
	if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
		snprintf(msg, msglen, "the verify query returned no value");
	} else if (strcmp((v = PQgetvalue(res, 0, 0)), "t") == 0 || strcmp(v, "f") == 0) {
		x = *v == 't';   /* a boolean counts as 1 or 0 */
	} else {
		x = strtod(v, &end);
		if (end == v || *end) {
			snprintf(msg, msglen, "the verify query returned '%.40s', not a number", v);
			x = NAN;
		}
	}
	PQclear(res);
	return x;
}

/* ---------------------------------------------------------------- waiting */

/* Sleep ms, or less when the executor is asked to stop. True: stopping. */
static bool nap(struct runner *r, int64_t ms)
{
	struct timespec ts;
	bool stop;

	if (!r->e) {
		clock_sleep_ms(ms);
		return false;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->e->mu);
	while (!r->e->stopping &&
	       pthread_cond_timedwait(&r->e->cv, &r->e->mu, &ts) != ETIMEDOUT)
		;
	stop = r->e->stopping;
	pthread_mutex_unlock(&r->e->mu);
	return stop;
}

/* ---------------------------------------------------------------- shell */

static const struct config_shell_action *shell_config(const struct runner *r,
						      const struct proposal *p)
{
	const char *name = json_string_value(json_object_get(p->params, "command"));

	for (size_t i = 0; name && i < r->cfg->nshell_actions; i++)
		if (r->cfg->shell_actions[i].name &&
		    strcmp(r->cfg->shell_actions[i].name, name) == 0)
			return &r->cfg->shell_actions[i];
	return NULL;
}

static void drain(int *fd, struct strbuf *out)
{
	char buf[4096];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n > 0) {
		size_t room = out->len < SHELL_OUTPUT_MAX ? SHELL_OUTPUT_MAX - out->len : 0;

		strbuf_add(out, buf, (size_t)n < room ? (size_t)n : room);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

struct shell_result {
	int status;          /* waitpid status */
	bool timed_out;
	struct strbuf out, err;
};

/* Spawn argv (no shell), capture its output, enforce timeout_s. */
static int shell_run(struct runner *r, char *const *argv, int timeout_s,
		     struct shell_result *sr, char *err, size_t errlen)
{
	static const char *const keep[] = { "PATH", "HOME", "LANG", "LC_ALL", "TZ", NULL };
	char *envp[ARRAY_SIZE(keep) + 1];
	size_t nenv = 0;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, rc;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int64_t deadline = clock_mono_ms() + (int64_t)timeout_s * 1000, kill_at = -1;
	struct strbuf envs[ARRAY_SIZE(keep)];

	(void)r;
	memset(sr, 0, sizeof(*sr));
	strbuf_init(&sr->out, 0);
	strbuf_init(&sr->err, 0);
	/* a small environment: the executor's may hold the passwords' variables */
	for (size_t i = 0; keep[i]; i++) {
		const char *v = getenv(keep[i]);

		strbuf_init(&envs[i], 0);
		if (!v)
			continue;
		strbuf_addf(&envs[i], "%s=%s", keep[i], v);
		envp[nenv++] = envs[i].buf;
	}
	envp[nenv] = NULL;
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		rc = -1;
		goto out_pipes;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(errp[1]);
	out[1] = errp[1] = -1;
	if (rc != 0) {
		snprintf(err, errlen, "cannot run %s: %s — check shell_actions' argv in the "
		         "config", argv[0], strerror(rc));
		rc = -1;
		goto out_pipes;
	}
	while (out[0] >= 0 || errp[0] >= 0) {
		struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
		int64_t now = clock_mono_ms();

		if (kill_at < 0 && now >= deadline) {
			sr->timed_out = true;
			kill(pid, SIGTERM);
			kill_at = now + SHELL_KILL_GRACE_MS;
		} else if (kill_at >= 0 && now >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = INT64_MAX;
		}
		if (poll(pfd, 2, 200) < 0 && errno != EINTR)
			break;
		if (out[0] >= 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			drain(&out[0], &sr->out);
		if (errp[0] >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			drain(&errp[0], &sr->err);
	}
	/* the pipes closed; the process may still run (it closed them itself) */
	for (;;) {
		pid_t w = waitpid(pid, &sr->status, WNOHANG);
		int64_t now = clock_mono_ms();

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (kill_at < 0 && now >= deadline) {
			sr->timed_out = true;
			kill(pid, SIGTERM);
			kill_at = now + SHELL_KILL_GRACE_MS;
		} else if (kill_at >= 0 && kill_at != INT64_MAX && now >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = INT64_MAX;
		}
		clock_sleep_ms(50);
	}
	rc = 0;
out_pipes:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	for (size_t i = 0; keep[i]; i++)
		strbuf_release(&envs[i]);
	return rc;
}

static json_t *output_json(const struct strbuf *sb)
{
	size_t n = sb->len < SHELL_AUDIT_MAX ? sb->len : SHELL_AUDIT_MAX;
	char *s = xstrndup(sb->buf ? sb->buf : "", n);
	json_t *j;

	/* jansson wants UTF-8: replace what is not printable ASCII */
	for (char *c = s; *c; c++)
		if ((unsigned char)*c >= 0x80 || ((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t'))
			*c = '?';
	j = json_string(s);
	free(s);
	return j;
}

/* ---------------------------------------------------------------- the job */

/* The final state with an audit record of kind; when the record fails the
 * job still ends (the step it records already happened), and the detail
 * says the audit failed. */
static enum job_state finish(struct runner *r, struct job *j, enum job_state s,
			     const char *kind, json_t *fields, const char *detail)
{
	char aerr[512];

	if (kind && record(r, kind, fields, aerr, sizeof(aerr)) != 0)
		set_detail(r, j, s, "%s; and the audit record failed: %s", detail, aerr);
	else
		set_detail(r, j, s, "%s", detail);
	return s;
}

/* The program of a shell action, for messages. */
static const char *argv_name(const struct proposal *p)
{
	const char *s = json_string_value(json_array_get(p->argv, 0));

	return s ? s : "the command";
}

static bool is_signal(const struct proposal *p)
{
	const char *n = action_name(p);

	return strcmp(n, "cancel_backend") == 0 || strcmp(n, "terminate_backend") == 0;
}

static bool is_shell(const struct proposal *p)
{
	return p->argv != NULL || strcmp(action_name(p), "shell") == 0;
}

/* "pid 4711" or "pids 4711, 4712" from the guard or the params. */
static void add_pids(struct strbuf *sb, const struct proposal *p)
{
	json_t *list = json_object_get(p->params, "pids"), *x;
	size_t i, n = 0;

	if (!json_is_array(list) && json_is_array(p->guard)) {
		json_array_foreach(p->guard, i, x) {
			strbuf_addf(sb, "%s%lld", n++ ? ", " : "",
			            (long long)json_integer_value(json_object_get(x, "pid")));
		}
	} else if (json_is_array(list)) {
		json_array_foreach(list, i, x) {
			strbuf_addf(sb, "%s%lld", n++ ? ", " : "",
			            (long long)json_integer_value(x));
		}
	}
	if (n == 0)
		strbuf_addstr(sb, p->target ? p->target : "the session");
}

/* After a failed CREATE INDEX CONCURRENTLY: the INVALID index it left. */
static char *find_invalid_index(struct runner *r, const struct proposal *p)
{
	const char *table = json_string_value(json_object_get(p->params, "table"));
	const char *name = json_string_value(json_object_get(p->params, "name"));
	const char *params[2] = { table, name };
	PGresult *res;
	char msg[256];
	char *found = NULL;

	if (!table || !r->conn || PQstatus(r->conn) != CONNECTION_OK)
		return NULL;
	if (sql_run(r, "/* cockpit-executor: index name */ "
		    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i "
	            "JOIN pg_class c ON c.oid = i.indexrelid "
	            "JOIN pg_namespace n ON n.oid = c.relnamespace "
	            "WHERE NOT i.indisvalid AND i.indrelid = $1::regclass "
	            "AND ($2::text IS NULL OR c.relname = $2) ORDER BY c.oid DESC LIMIT 1",
	            params, 2, 30000, &res, msg, sizeof(msg)) != SQL_OK)
		return NULL;
	if (PQntuples(res) == 1)
		found = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

/* Run sql as the action or the rollback: timeouts, a transaction when
 * in_tx, the statement. res gets the statement's result on SQL_OK. */
static enum sql_outcome run_statement(struct runner *r, const struct proposal *p,
				      const char *sql, bool in_tx, PGresult **res, char *msg,
				      size_t msglen)
{
	char set[96];
	int st = statement_timeout_of(r, p);
	enum sql_outcome o;
	struct strbuf tagged = STRBUF_INIT;

	*res = NULL;
	snprintf(set, sizeof(set), "SET lock_timeout = %d", lock_timeout_of(r, p));
	o = sql_simple(r, set, msg, msglen);
	if (o == SQL_OK) {
		snprintf(set, sizeof(set), "SET statement_timeout = %d", st);
		o = sql_simple(r, set, msg, msglen);
	}
	if (o == SQL_OK && in_tx)
		o = sql_simple(r, "BEGIN", msg, msglen);
	if (o != SQL_OK)
		return o == SQL_LOST ? SQL_UNSENT : o;   /* the statement was not sent */
	/* tagged, so it shows up honestly in pg_stat_activity (DESIGN.md rule 6) */
	strbuf_addstr(&tagged, "/* cockpit-executor ");
	for (const char *c = p->id ? p->id : ""; *c && c - p->id < 40; c++)
		strbuf_addch(&tagged, isalnum((unsigned char)*c) || *c == '-' || *c == '_' ?
		             *c : '_');
	strbuf_addstr(&tagged, " */ ");
	strbuf_addstr(&tagged, sql);
	o = sql_run(r, tagged.buf, NULL, 0, st + CLIENT_MARGIN_MS, res, msg, msglen);
	strbuf_release(&tagged);
	if (in_tx) {
		char m2[256];

		if (o == SQL_OK) {
			enum sql_outcome c = sql_simple(r, "COMMIT", m2, sizeof(m2));

			if (c != SQL_OK) {
				PQclear(*res);
				*res = NULL;
				snprintf(msg, msglen, "COMMIT: %s", m2);
				if (c == SQL_ERROR)
					sql_simple(r, "ROLLBACK", m2, sizeof(m2));
				return c == SQL_ERROR ? SQL_ERROR : SQL_LOST;
			}
		} else if (o == SQL_ERROR) {
			sql_simple(r, "ROLLBACK", m2, sizeof(m2));
		}
	}
	if (o != SQL_LOST) {
		char m2[256];

		sql_simple(r, "RESET lock_timeout", m2, sizeof(m2));
		sql_simple(r, "RESET statement_timeout", m2, sizeof(m2));
	}
	return o;
}

/* Roll back after a verification that got worse. */
static enum job_state roll_back(struct runner *r, struct job *j, const char *why)
{
	const struct proposal *p = j->p;
	json_t *f = job_fields(j);
	char aerr[512], msg[512];
	PGresult *res = NULL;
	enum sql_outcome o;

	json_object_set_new(f, "sql", json_string(p->rollback_sql));
	json_object_set_new(f, "reason", json_string(why));
	if (record(r, "rollback.start", f, aerr, sizeof(aerr)) != 0) {
		f = job_fields(j);
		json_object_set_new(f, "reason", json_string("the rollback was not run: its "
		                                             "audit record failed"));
		return finish(r, j, JOB_ESCALATED, "escalate", f, aerr);
	}
	if (ensure_conn(r, msg, sizeof(msg)) == 0)
		o = run_statement(r, p, p->rollback_sql, p->in_transaction, &res, msg, sizeof(msg));
	else
		o = SQL_UNSENT;
	PQclear(res);
	f = job_fields(j);
	json_object_set_new(f, "sql", json_string(p->rollback_sql));
	if (o == SQL_OK) {
		struct strbuf d = STRBUF_INIT;
		enum job_state s;

		strbuf_addf(&d, "%s; rolled back: %s", why, p->rollback_sql);
		s = finish(r, j, JOB_ROLLED_BACK, "rollback.done", f, d.buf);
		strbuf_release(&d);
		return s;
	}
	json_object_set_new(f, "error", json_string(msg));
	if (o == SQL_LOST) {
		json_object_set_new(f, "outcome", json_string("unknown"));
		disconnect(r);
	}
	if (record(r, "rollback.error", f, aerr, sizeof(aerr)) != 0)
		set_detail(r, j, JOB_VERIFYING, "audit failed: %s", aerr);
	{
		struct strbuf d = STRBUF_INIT;
		enum job_state s;

		strbuf_addf(&d, "%s; the rollback failed (%s): a human must look", why, msg);
		f = job_fields(j);
		json_object_set_new(f, "reason", json_string(d.buf));
		s = finish(r, j, JOB_ESCALATED, "escalate", f, d.buf);
		strbuf_release(&d);
		return s;
	}
}

/* Step 5 and 6: verify, and roll back when it got worse. */
static enum job_state verify(struct runner *r, struct job *j, double baseline,
			     const char *action_detail)
{
	const struct proposal *p = j->p;
	struct expect x;
	int attempts = attempts_of(r, p);
	double measured = NAN;
	char msg[512] = "";
	json_t *f;

	if (!p->verify.sql)
		return finish(r, j, JOB_DONE, NULL, NULL, action_detail);
	if (!expect_parse(p->verify.expect, &x)) {
		/* submit refuses these; run_now callers may not */
		f = job_fields(j);
		json_object_set_new(f, "reason", json_string("the verify expectation cannot be read"));
		return finish(r, j, JOB_ESCALATED, "escalate", f, "verify.expect cannot be read: "
		              "a human must check the effect");
	}
	set_detail(r, j, JOB_VERIFYING, "%s; verifying (%s) in %d s", action_detail,
	           p->verify.expect, p->verify.wait_s);
	if (nap(r, (int64_t)p->verify.wait_s * 1000))
		goto stopped;
	for (int attempt = 1; attempt <= attempts; attempt++) {
		int64_t deadline = clock_mono_ms() + (int64_t)(p->verify.deadline_s > 0 ?
		                                              p->verify.deadline_s : 1) * 1000;
		bool held = false;

		for (;;) {
			msg[0] = '\0';
			measured = measure(r, p, msg, sizeof(msg));
			set_measure(r, &j->v.measured, measured);
			if (expect_holds(&x, measured, baseline)) {
				held = true;
				break;
			}
			if (clock_mono_ms() >= deadline)
				break;
			if (nap(r, 1000))
				goto stopped;
		}
		f = job_fields(j);
		set_num(f, "baseline", baseline);
		set_num(f, "measured", measured);
		json_object_set_new(f, "expect", json_string(p->verify.expect));
		json_object_set_new(f, "attempt", json_integer(attempt));
		json_object_set_new(f, "attempts", json_integer(attempts));
		if (held) {
			struct strbuf d = STRBUF_INIT;
			enum job_state s;

			strbuf_addf(&d, "%s; verify %g -> %g (%s)", action_detail, baseline,
			            measured, p->verify.expect);
			s = finish(r, j, JOB_DONE, "verify.pass", f, d.buf);
			strbuf_release(&d);
			return s;
		}
		if (*msg)
			json_object_set_new(f, "error", json_string(msg));
		{
			char aerr[512];

			if (record(r, "verify.fail", f, aerr, sizeof(aerr)) != 0)
				return finish(r, j, JOB_ESCALATED, NULL, NULL, aerr);
		}
		if (expect_worse(&x, measured, baseline)) {
			char why[256];

			snprintf(why, sizeof(why), "verify %g -> %g: worse than before (%s)",
			         baseline, measured, p->verify.expect);
			if (p->rollback_sql)
				return roll_back(r, j, why);
			f = job_fields(j);
			json_object_set_new(f, "reason", json_string(why));
			return finish(r, j, JOB_ESCALATED, "escalate", f, why);
		}
		set_detail(r, j, JOB_VERIFYING, "%s; verify attempt %d of %d failed (%g, %s)",
		           action_detail, attempt, attempts, measured, p->verify.expect);
	}
	{
		char why[256];

		snprintf(why, sizeof(why), "verify failed %d time%s (%g, expected %s): a human "
		         "must look", attempts, attempts == 1 ? "" : "s", measured,
		         p->verify.expect);
		f = job_fields(j);
		json_object_set_new(f, "reason", json_string(why));
		return finish(r, j, JOB_ESCALATED, "escalate", f, why);
	}
stopped:
	f = job_fields(j);
	json_object_set_new(f, "reason", json_string("cockpit stopped before the "
	                                             "verification finished"));
	return finish(r, j, JOB_ESCALATED, "escalate", f, "verification abandoned: cockpit "
	              "stopped before it finished; check the effect");
}

static enum job_state run_shell(struct runner *r, struct job *j)
{
	const struct proposal *p = j->p;
	const struct config_shell_action *sa = shell_config(r, p);
	size_t n = json_array_size(p->argv), i;
	char **argv = xcalloc(n + 1, sizeof(*argv));
	struct shell_result sr;
	char err[512];
	json_t *f, *a;
	struct strbuf d = STRBUF_INIT;
	enum job_state s;

	json_array_foreach(p->argv, i, a)
		argv[i] = (char *)json_string_value(a);
	if (n == 0 || !argv[0] || argv[0][0] != '/') {
		free(argv);
		f = job_fields(j);
		json_object_set_new(f, "error", json_string("argv[0] is not an absolute path"));
		return finish(r, j, JOB_FAILED, "exec.error", f, "the shell action's argv[0] is "
		              "not an absolute path: nothing ran");
	}
	for (i = 0; i < n; i++) {
		if (!argv[i]) {
			free(argv);
			f = job_fields(j);
			json_object_set_new(f, "error", json_string("argv holds a non-string"));
			return finish(r, j, JOB_FAILED, "exec.error", f, "the shell action's argv "
			              "holds a non-string: nothing ran");
		}
	}
	if (shell_run(r, argv, sa ? sa->timeout_s : 300, &sr, err, sizeof(err)) != 0) {
		free(argv);
		strbuf_release(&sr.out);
		strbuf_release(&sr.err);
		f = job_fields(j);
		json_object_set_new(f, "error", json_string(err));
		return finish(r, j, JOB_FAILED, "exec.error", f, err);
	}
	free(argv);
	f = job_fields(j);
	json_object_set(f, "argv", p->argv);
	json_object_set_new(f, "stdout", output_json(&sr.out));
	json_object_set_new(f, "stderr", output_json(&sr.err));
	json_object_set_new(f, "timed_out", json_boolean(sr.timed_out));
	if (WIFEXITED(sr.status)) {
		json_object_set_new(f, "exit_status", json_integer(WEXITSTATUS(sr.status)));
		strbuf_addf(&d, "%s exited with status %d", argv_name(p), WEXITSTATUS(sr.status));
	} else if (WIFSIGNALED(sr.status)) {
		json_object_set_new(f, "signal", json_integer(WTERMSIG(sr.status)));
		strbuf_addf(&d, "%s was killed by signal %d%s", argv_name(p), WTERMSIG(sr.status),
		            sr.timed_out ? " after its timeout" : "");
	}
	strbuf_release(&sr.out);
	strbuf_release(&sr.err);
	if (WIFEXITED(sr.status) && WEXITSTATUS(sr.status) == 0 && !sr.timed_out) {
		char aerr[512];

		if (record(r, "exec.done", f, aerr, sizeof(aerr)) != 0) {
			s = finish(r, j, JOB_ESCALATED, NULL, NULL, aerr);
			strbuf_release(&d);
			return s;
		}
		if (r->policy)
			policy_note_run(r->policy, action_name(p), p->target,
			                (double)clock_wall_us() / 1e6, 0);
		if (p->verify.sql) {
			double baseline = NAN;   /* no baseline: the command changed the host */

			s = verify(r, j, baseline, d.buf);
		} else {
			s = finish(r, j, JOB_DONE, NULL, NULL, d.buf);
		}
		strbuf_release(&d);
		return s;
	}
	s = finish(r, j, JOB_FAILED, "exec.error", f, d.len ? d.buf : "the command failed");
	strbuf_release(&d);
	return s;
}

static enum job_state run_job(struct runner *r, struct job *j)
{
	const struct proposal *p = j->p;
	char err[512], msg[512] = "";
	json_t *f;
	double baseline = NAN;
	PGresult *res = NULL;
	enum sql_outcome o;
	struct strbuf d = STRBUF_INIT;
	enum job_state s;

	/* 0. shadow: say what would have run, run nothing */
	if (j->mode == MODE_SHADOW) {
		f = start_fields(r, j);
		if (record(r, "shadow.would_run", f, err, sizeof(err)) != 0)
			return finish(r, j, JOB_FAILED, NULL, NULL, err);
		return finish(r, j, JOB_SHADOWED, NULL, NULL, "shadow mode: recorded what "
		              "would have run; nothing ran");
	}

	/* 1. exec.start: nothing runs unless it is on disk */
	set_detail(r, j, JOB_RUNNING, "starting");
	if (record(r, "exec.start", start_fields(r, j), err, sizeof(err)) != 0)
		return finish(r, j, JOB_FAILED, NULL, NULL, err);

	if (is_shell(p))
		return run_shell(r, j);

	if (!p->sql || !*p->sql) {
		f = job_fields(j);
		json_object_set_new(f, "error", json_string("the proposal has no SQL"));
		return finish(r, j, JOB_FAILED, "exec.error", f, "the proposal has no SQL: "
		              "nothing ran");
	}
	if (ensure_conn(r, err, sizeof(err)) != 0) {
		f = job_fields(j);
		json_object_set_new(f, "error", json_string(err));
		return finish(r, j, JOB_FAILED, "exec.error", f, err);
	}

	/* 2. the baseline */
	if (p->verify.sql) {
		baseline = measure(r, p, msg, sizeof(msg));
		set_measure(r, &j->v.baseline, baseline);
		f = job_fields(j);
		set_num(f, "value", baseline);
		if (!isfinite(baseline))
			json_object_set_new(f, "error", json_string(msg));
		if (record(r, "verify.baseline", f, err, sizeof(err)) != 0)
			return finish(r, j, JOB_FAILED, NULL, NULL, err);
	}

	/* 3. the action */
	set_detail(r, j, JOB_RUNNING, "running %s", action_name(p));
	o = run_statement(r, p, p->sql, p->in_transaction, &res, msg, sizeof(msg));
	f = job_fields(j);
	json_object_set_new(f, "sql", json_string(p->sql));
	if (o == SQL_LOST) {
		disconnect(r);
		json_object_set_new(f, "error", json_string(msg));
		json_object_set_new(f, "outcome", json_string("unknown"));
		if (r->policy)
			policy_note_run(r->policy, action_name(p), p->target,
			                (double)clock_wall_us() / 1e6, 0);
		strbuf_addf(&d, "outcome unknown: the connection dropped after the statement "
		            "was sent; check before re-running (%s)", msg);
		s = finish(r, j, JOB_UNKNOWN, "exec.unknown", f, d.buf);
		strbuf_release(&d);
		return s;
	}
	if (o == SQL_UNSENT) {
		disconnect(r);
		json_object_set_new(f, "error", json_string(msg));
		strbuf_addf(&d, "the connection was lost before the statement was sent: "
		            "nothing ran (%s)", msg);
		s = finish(r, j, JOB_FAILED, "exec.error", f, d.buf);
		strbuf_release(&d);
		return s;
	}
	if (o == SQL_ERROR) {
		char *invalid = NULL;

		json_object_set_new(f, "error", json_string(msg));
		strbuf_addf(&d, "%s failed: %s", action_name(p), msg);
		if (strcmp(action_name(p), "create_index") == 0 && !p->in_transaction &&
		    (invalid = find_invalid_index(r, p)) != NULL) {
			json_object_set_new(f, "invalid_index", json_string(invalid));
			strbuf_addf(&d, "; left INVALID index %s: drop it with drop_index", invalid);
			free(invalid);
		}
		s = finish(r, j, JOB_FAILED, "exec.error", f, d.buf);
		strbuf_release(&d);
		return s;
	}

	/* 4. what the server said */
	json_object_set_new(f, "status", json_string(PQcmdStatus(res)));
	if (is_signal(p)) {
		json_t *pids = json_array();
		int n = PQntuples(res);

		for (int i = 0; i < n; i++) {
			const char *ok = PQnfields(res) > 1 ? PQgetvalue(res, i, 1) : "t";

			json_array_append_new(pids, json_integer(strtoll(PQgetvalue(res, i, 0),
			                                                  NULL, 10)));
			strbuf_addf(&d, "%s%s", i ? ", " : "", PQgetvalue(res, i, 0));
			if (strcmp(ok, "t") != 0)
				strbuf_addstr(&d, " (signal not sent)");
		}
		json_object_set_new(f, "pids_reached", pids);
		if (n == 0) {
			struct strbuf who = STRBUF_INIT;

			PQclear(res);
			add_pids(&who, p);
			strbuf_reset(&d);
			strbuf_addf(&d, "%s%s %s no longer the session of the proposal (guard did "
			            "not match): nothing was signalled",
			            strchr(who.buf, ',') ? "pids " : "pid ", who.buf,
			            strchr(who.buf, ',') ? "are" : "is");
			strbuf_release(&who);
			json_object_set_new(f, "error", json_string(d.buf));
			s = finish(r, j, JOB_FAILED, "exec.error", f, d.buf);
			strbuf_release(&d);
			return s;
		}
		{
			char *pids_text = strbuf_detach(&d, NULL);

			strbuf_addf(&d, "%s reached pid%s %s",
			            strcmp(action_name(p), "cancel_backend") == 0 ?
			            "pg_cancel_backend" : "pg_terminate_backend",
			            n == 1 ? "" : "s", pids_text);
			free(pids_text);
		}
	} else {
		strbuf_addf(&d, "%s: %s", action_name(p), PQcmdStatus(res));
	}
	PQclear(res);
	if (record(r, "exec.done", f, err, sizeof(err)) != 0) {
		/* it ran, but the record of it did not reach the disk: no
		 * verification or rollback on top of an unrecorded action */
		strbuf_addf(&d, "; the audit record of it failed (%s): a human must look", err);
		s = finish(r, j, JOB_ESCALATED, NULL, NULL, d.buf);
		strbuf_release(&d);
		return s;
	}
	if (r->policy)
		policy_note_run(r->policy, action_name(p), p->target,
		                (double)clock_wall_us() / 1e6, 0);

	/* 5, 6. verify, roll back */
	s = verify(r, j, baseline, d.buf);
	strbuf_release(&d);
	return s;
}

/* ---------------------------------------------------------------- refusal */

/* The copy of p a job runs, judged again by policy now (the history may
 * have changed since the board was published: a run in another cockpit, a
 * rate limit reached) and let through the mode gate; NULL with the reason
 * in err when it may not be queued. The stricter of p's decision and the
 * new one holds. */
static struct proposal *admit(const struct config *cfg, struct policy_state *st,
			      const struct proposal *p, bool accepted, char *err, size_t errlen)
{
	const char *id = p->id ? p->id : "proposal";
	char why[256];
	struct expect x;
	struct proposal *d;

	if (!p->action) {
		snprintf(err, errlen, "%s: no action from the registry — build proposals with "
		         "action_prepare()", id);
		return NULL;
	}
	if (p->verify.sql && !expect_parse(p->verify.expect, &x)) {
		snprintf(err, errlen, "%s: verify.expect '%s' cannot be read — write an operator "
		         "(<, <=, >, >=, ==, !=) and a number or 'baseline', e.g. '< baseline'",
		         id, p->verify.expect ? p->verify.expect : "");
		return NULL;
	}
	if (policy_gate(cfg->mode, p->decision, accepted, why, sizeof(why)) == GATE_REFUSE) {
		snprintf(err, errlen, "%s: %s%s%s", id, why, p->policy_reason ? " — " : "",
		         p->policy_reason ? p->policy_reason : "");
		return NULL;
	}
	d = proposal_dup(p);
	policy_decide(cfg, st, d, (double)clock_wall_us() / 1e6);
	if (d->decision == DECISION_ALLOW && p->decision == DECISION_APPROVAL)
		d->decision = DECISION_APPROVAL;
	if (policy_gate(cfg->mode, d->decision, accepted, why, sizeof(why)) == GATE_REFUSE) {
		snprintf(err, errlen, "%s: %s — %s", id, why, d->policy_reason);
		proposal_free(d);
		return NULL;
	}
	return d;
}

/* ---------------------------------------------------------------- thread */

static void *executor_main(void *arg)
{
	struct executor *e = arg;

	for (;;) {
		struct job *j = NULL;

		pthread_mutex_lock(&e->mu);
		while (!e->stopping) {
			for (size_t i = 0; i < e->njobs && !j; i++)
				if (e->jobs[i]->v.state == JOB_QUEUED)
					j = e->jobs[i];
			if (j)
				break;
			pthread_cond_wait(&e->cv, &e->mu);
		}
		pthread_mutex_unlock(&e->mu);
		if (!j)
			break;
		run_job(&e->r, j);
	}
	disconnect(&e->r);
	return NULL;
}

static void runner_init(struct runner *r, const struct executor_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->cfg = o->cfg;
	r->conninfo = xstrdup(o->conninfo ? o->conninfo : "");
	r->password_env = o->password_env ? xstrdup(o->password_env) : NULL;
	r->audit = o->audit;
	r->policy = o->policy;
	r->wake_fd = o->wake_fd;
}

static void runner_release(struct runner *r)
{
	disconnect(r);
	free(r->conninfo);
	free(r->password_env);
}

static int check_opts(const struct executor_opts *o, char *err, size_t errlen)
{
	if (!o->cfg || !o->audit) {
		snprintf(err, errlen, "executor: a config and an open audit log are required — "
		         "nothing runs without its audit record");
		return -1;
	}
	if (!o->conninfo || !*o->conninfo) {
		snprintf(err, errlen, "executor: no executor_conninfo for this target — set "
		         "targets[].executor_conninfo in the config to let actions run");
		return -1;
	}
	return 0;
}

struct executor *executor_new(const struct executor_opts *o, char *err, size_t errlen)
{
	struct executor *e;
	pthread_condattr_t ca;

	if (check_opts(o, err, errlen) != 0)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	runner_init(&e->r, o);
	e->r.e = e;
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	return e;
}

int executor_start(struct executor *e)
{
	if (e->started)
		return 0;
	if (pthread_create(&e->thread, NULL, executor_main, e) != 0)
		return -1;
	e->started = true;
	return 0;
}

void executor_stop(struct executor *e)
{
	struct job **dropped;
	size_t ndropped = 0;

	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	dropped = xcalloc(e->njobs + 1, sizeof(*dropped));
	for (size_t i = 0; i < e->njobs; i++)
		if (e->jobs[i]->v.state == JOB_QUEUED) {
			e->jobs[i]->v.state = JOB_REFUSED;   /* the thread will not take it */
			dropped[ndropped++] = e->jobs[i];
		}
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	for (size_t i = 0; i < ndropped; i++) {
		char aerr[512];
		json_t *f = job_fields(dropped[i]);

		json_object_set_new(f, "reason", json_string("cockpit stopped before it ran"));
		if (record(&e->r, "exec.dropped", f, aerr, sizeof(aerr)) != 0)
			set_detail(&e->r, dropped[i], JOB_REFUSED, "dropped: cockpit stopped "
			           "before it ran (audit: %s)", aerr);
		else
			set_detail(&e->r, dropped[i], JOB_REFUSED, "dropped: cockpit stopped "
			           "before it ran");
	}
	free(dropped);
	if (e->started) {
		pthread_join(e->thread, NULL);
		e->started = false;
	}
}

void executor_free(struct executor *e)
{
	if (!e)
		return;
	executor_stop(e);
	for (size_t i = 0; i < e->njobs; i++)
		job_free(e->jobs[i]);
	free(e->jobs);
	runner_release(&e->r);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

int executor_submit(struct executor *e, const struct proposal *p, bool accepted,
		    char *err, size_t errlen)
{
	struct job *j;
	struct proposal *d = admit(e->r.cfg, e->r.policy, p, accepted, err, errlen);

	if (!d)
		return -1;
	pthread_mutex_lock(&e->mu);
	if (e->stopping) {
		pthread_mutex_unlock(&e->mu);
		proposal_free(d);
		snprintf(err, errlen, "%s: the executor is stopping", p->id ? p->id : "proposal");
		return -1;
	}
	for (size_t i = 0; i < e->njobs; i++) {
		if (!job_state_final(e->jobs[i]->v.state) && p->id &&
		    strcmp(e->jobs[i]->v.proposal_id, p->id) == 0) {
			pthread_mutex_unlock(&e->mu);
			snprintf(err, errlen, "%s: a job for this proposal is already %s — wait "
			         "for it to finish", p->id, job_state_name(e->jobs[i]->v.state));
			proposal_free(d);
			return -1;
		}
	}
	/* keep the list bounded: drop the oldest finished jobs */
	while (e->njobs >= JOBS_KEPT) {
		size_t k = 0;

		while (k < e->njobs && !job_state_final(e->jobs[k]->v.state))
			k++;
		if (k == e->njobs)
			break;
		job_free(e->jobs[k]);
		memmove(&e->jobs[k], &e->jobs[k + 1], (e->njobs - k - 1) * sizeof(*e->jobs));
		e->njobs--;
	}
	j = job_new(d, accepted, e->r.cfg->mode);
	xgrow((void **)&e->jobs, &e->alloc, e->njobs + 1, sizeof(*e->jobs));
	e->jobs[e->njobs++] = j;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	wake(&e->r);
	return 0;
}

struct job_view *executor_jobs(struct executor *e, size_t *n)
{
	struct job_view *v;

	pthread_mutex_lock(&e->mu);
	*n = e->njobs;
	v = xcalloc(e->njobs ? e->njobs : 1, sizeof(*v));
	for (size_t i = 0; i < e->njobs; i++)
		view_copy(&v[i], &e->jobs[i]->v);
	pthread_mutex_unlock(&e->mu);
	return v;
}

enum job_state executor_run_now(const struct executor_opts *o, const struct proposal *p,
				bool accepted, struct job_view *out, char *err, size_t errlen)
{
	struct runner r;
	struct job *j;
	enum job_state s;
	struct proposal *d = NULL;

	if (out)
		memset(out, 0, sizeof(*out));
	if (check_opts(o, err, errlen) != 0 ||
	    !(d = admit(o->cfg, o->policy, p, accepted, err, errlen))) {
		if (out) {
			out->proposal_id = xstrdup(p->id ? p->id : "");
			out->state = JOB_REFUSED;
			out->detail = xstrdup(err);
			out->baseline = out->measured = NAN;
		}
		return JOB_REFUSED;
	}
	runner_init(&r, o);
	j = job_new(d, accepted, o->cfg->mode);
	s = run_job(&r, j);
	if (!job_state_final(s))
		s = JOB_ESCALATED;
	if (s != JOB_DONE && s != JOB_SHADOWED)
		snprintf(err, errlen, "%s", j->v.detail ? j->v.detail : job_state_name(s));
	if (out)
		view_copy(out, &j->v);
	job_free(j);
	runner_release(&r);
	return s;
}
