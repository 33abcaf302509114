/*
 * pgconn: libpq connection and pipelined batches with bounded waits; see pgconn.h.
 */
#include "perceive/pgconn.h"

#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"

static void one_line(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

PGconn *pgconn_connect(const struct pgconn_params *p, char *err, size_t errlen)
{
	char timeout[16], options[160];
	const char *keys[8], *vals[8];
	int n = 0;
	PGconn *conn;

	snprintf(timeout, sizeof(timeout), "%d", p->connect_timeout_s > 0 ? p->connect_timeout_s : 5);
	/* Our own session settings: bounded statements, no lock waits that
	 * could queue behind an incident, no idle transaction left behind. */
	snprintf(options, sizeof(options),
		 "-c statement_timeout=%d -c lock_timeout=1000 -c idle_in_transaction_session_timeout=60000",
		 p->statement_timeout_ms > 0 ? p->statement_timeout_ms : 2000);
	keys[n] = "dbname"; vals[n++] = p->conninfo ? p->conninfo : "";
	keys[n] = "application_name"; vals[n++] = p->application_name ? p->application_name : "cockpit";
	keys[n] = "connect_timeout"; vals[n++] = timeout;
	keys[n] = "options"; vals[n++] = options;
	if (p->password) {
		keys[n] = "password";
		vals[n++] = p->password;
	}
	keys[n] = NULL; vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn) {
		snprintf(err, errlen, "out of memory connecting");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		one_line(err);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Wait until the socket is readable (or writable when want_write) or the
 * deadline passes. Returns 1 ready, 0 timeout, -1 error. */
static int wait_socket(PGconn *conn, bool want_write, int64_t deadline_ms)
{
	struct pollfd pfd = { PQsocket(conn), (short)(want_write ? POLLOUT | POLLIN : POLLIN), 0 };

	for (;;) {
		int64_t left = deadline_ms - clock_mono_ms();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

void pgconn_clear(struct pgconn_query *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		PQclear(q[i].result);
		q[i].result = NULL;
		q[i].error = NULL;
	}
}

/* Next result, waiting at most until the deadline. *status set on failure. */
static PGresult *next_result(PGconn *conn, int64_t deadline, enum pgconn_status *status)
{
	while (PQisBusy(conn)) {
		int rc = wait_socket(conn, false, deadline);

		if (rc == 0) {
			*status = PGCONN_TIMEOUT;
			return NULL;
		}
		if (rc < 0 || !PQconsumeInput(conn)) {
			*status = PGCONN_BROKEN;
			return NULL;
		}
	}
	return PQgetResult(conn);
}

enum pgconn_status pgconn_run(PGconn *conn, struct pgconn_query *q, size_t n, int timeout_ms,
			      char *err, size_t errlen)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	enum pgconn_status status = PGCONN_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		q[i].result = NULL;
		q[i].error = NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "connection lost");
		return PGCONN_BROKEN;
	}
	if (!PQenterPipelineMode(conn) || PQsetnonblocking(conn, 1) != 0) {
		snprintf(err, errlen, "cannot enter pipeline mode: %s", PQerrorMessage(conn));
		one_line(err);
		return PGCONN_BROKEN;
	}
	for (i = 0; i < n; i++) {
		int sent = q[i].prepared ?
			PQsendQueryPrepared(conn, q[i].prepared, 0, NULL, NULL, NULL, 0) :
			PQsendQueryParams(conn, q[i].sql, 0, NULL, NULL, NULL, NULL, 0);

		if (!sent ||
		    ((q[i].sync_after || i + 1 == n) && !PQpipelineSync(conn))) {
			snprintf(err, errlen, "%s", PQerrorMessage(conn));
			one_line(err);
			return PGCONN_BROKEN;
		}
	}
	for (;;) {
		int rc = PQflush(conn);

		if (rc == 0)
			break;
		if (rc < 0 || wait_socket(conn, true, deadline) <= 0) {
			snprintf(err, errlen, rc < 0 ? "connection lost while sending" :
				 "server did not accept the query within %d ms", timeout_ms);
			return rc < 0 ? PGCONN_BROKEN : PGCONN_TIMEOUT;
		}
		if (!PQconsumeInput(conn)) {
			snprintf(err, errlen, "connection lost while sending");
			return PGCONN_BROKEN;
		}
	}
	for (i = 0; i < n; i++) {
		/* Each query yields one result, then NULL; a group ends with a
		 * PGRES_PIPELINE_SYNC result. */
		PGresult *r = next_result(conn, deadline, &status);

		if (status != PGCONN_OK)
			goto fail;
		if (!r) {
			status = PGCONN_BROKEN;
			goto fail;
		}
		q[i].result = r;
		switch (PQresultStatus(r)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			break;
		case PGRES_PIPELINE_ABORTED:
			q[i].error = "not run: an earlier query of its group failed";
			break;
		default:
			q[i].error = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			if (!q[i].error)
				q[i].error = PQresultErrorMessage(r);
			break;
		}
		/* Drain to the NULL that ends this query's results. */
		for (;;) {
			PGresult *extra = next_result(conn, deadline, &status);

			if (status != PGCONN_OK)
				goto fail;
			if (!extra)
				break;
			PQclear(extra);
		}
		if (q[i].sync_after || i + 1 == n) {
			PGresult *sync = next_result(conn, deadline, &status);

			if (status != PGCONN_OK)
				goto fail;
			if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
				PQclear(sync);
				status = PGCONN_BROKEN;
				goto fail;
			}
			PQclear(sync);
		}
	}
	PQexitPipelineMode(conn);
	PQsetnonblocking(conn, 0);
	return PGCONN_OK;
fail:
	if (status == PGCONN_TIMEOUT)
		snprintf(err, errlen, "no answer from the server within %d ms", timeout_ms);
	else {
		snprintf(err, errlen, "connection lost: %s", PQerrorMessage(conn));
		one_line(err);
	}
	return status;
}

int pgconn_prepare(PGconn *conn, const char *const *names, const char *const *sqls, size_t n,
		   int timeout_ms, char *err, size_t errlen)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	enum pgconn_status status = PGCONN_OK;
	int rc = 0;

	if (!PQenterPipelineMode(conn) || PQsetnonblocking(conn, 1) != 0)
		goto broken;
	for (size_t i = 0; i < n; i++)
		if (!PQsendPrepare(conn, names[i], sqls[i], 0, NULL))
			goto broken;
	if (!PQpipelineSync(conn))
		goto broken;
	while ((rc = PQflush(conn)) > 0)
		if (wait_socket(conn, true, deadline) <= 0 || !PQconsumeInput(conn))
			goto broken;
	if (rc < 0)
		goto broken;
	for (size_t i = 0; i < n; i++) {
		PGresult *r = next_result(conn, deadline, &status), *extra;

		if (!r)
			goto broken;
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "cannot prepare %s: %s", names[i], PQresultErrorMessage(r));
			one_line(err);
			rc = -1;
		}
		PQclear(r);
		while ((extra = next_result(conn, deadline, &status)) != NULL)
			PQclear(extra);
		if (status != PGCONN_OK)
			goto broken;
	}
	{
		PGresult *sync = next_result(conn, deadline, &status);

		if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
			PQclear(sync);
			goto broken;
		}
		PQclear(sync);
	}
	PQexitPipelineMode(conn);
	PQsetnonblocking(conn, 0);
	return rc;
broken:
	if (status == PGCONN_TIMEOUT)
		snprintf(err, errlen, "no answer from the server within %d ms", timeout_ms);
	else {
		snprintf(err, errlen, "connection lost: %s", PQerrorMessage(conn));
		one_line(err);
	}
	return -1;
}

PGresult *pgconn_query1(PGconn *conn, const char *sql, int timeout_ms, char *err, size_t errlen)
{
	struct pgconn_query q = { sql, NULL, true, NULL, NULL };

	if (pgconn_run(conn, &q, 1, timeout_ms, err, errlen) != PGCONN_OK) {
		pgconn_clear(&q, 1);
		return NULL;
	}
	if (q.error) {
		snprintf(err, errlen, "%s", q.error);
		one_line(err);
		pgconn_clear(&q, 1);
		return NULL;
	}
	return q.result;
}

const char *pgconn_str(const PGresult *r, int row, int col)
{
	if (!r || row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

double pgconn_parse_double(const char *s)
{
	/* Exact powers of ten: 10^22 is the largest a double holds exactly. */
	static const double pow10[] = {
		1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	const char *p = s;
	uint64_t m = 0;
	int digits = 0, frac = 0;
	bool neg = *p == '-';
	double v;

	if (neg)
		p++;
	if (*p < '0' || *p > '9')
		goto slow;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		m = m * 10 + (uint64_t)(*p - '0');
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++, frac++)
			m = m * 10 + (uint64_t)(*p - '0');
	}
	/* m and 10^frac exact, so the one division rounds correctly: the
	 * value strtod gives (Clinger's fast path). */
	if (*p || digits > 19 || m > (UINT64_C(1) << 53) || frac > 22)
		goto slow;
	v = (double)m / pow10[frac];
	return neg ? -v : v;
slow:
	/* Exponents, NaN, Infinity, long mantissas: strtod, whose decimal
	 * point is LC_NUMERIC's (the TUI keeps that "C"). */
	return strtod(s, NULL);
}

double pgconn_double(const PGresult *r, int row, int col, double dflt)
{
	const char *s = pgconn_str(r, row, col);

	return s ? pgconn_parse_double(s) : dflt;
}

long long pgconn_int(const PGresult *r, int row, int col, long long dflt)
{
	const char *s = pgconn_str(r, row, col);

	return s ? strtoll(s, NULL, 10) : dflt;
}

bool pgconn_bool(const PGresult *r, int row, int col)
{
	const char *s = pgconn_str(r, row, col);

	return s && s[0] == 't';
}

/* ---- a kept connection -------------------------------------------------- */

#define KEEPER_BACKOFF_FIRST_MS 500
#define KEEPER_BACKOFF_MAX_MS 30000

void pgconn_keeper_init(struct pgconn_keeper *k, const char *conninfo, const char *password_env,
			const char *application_name, int connect_timeout_s,
			int statement_timeout_ms)
{
	memset(k, 0, sizeof(*k));
	k->conninfo = conninfo ? xstrdup(conninfo) : NULL;
	k->password_env = password_env && *password_env ? xstrdup(password_env) : NULL;
	k->application_name = application_name;
	k->connect_timeout_s = connect_timeout_s;
	k->statement_timeout_ms = statement_timeout_ms;
}

PGconn *pgconn_keeper_get(struct pgconn_keeper *k)
{
	struct pgconn_params pp;

	if (!k->conninfo)
		return NULL;
	if (k->conn && PQstatus(k->conn) == CONNECTION_OK)
		return k->conn;
	if (k->conn)
		pgconn_keeper_drop(k, PQerrorMessage(k->conn));
	if (clock_mono_ms() < k->next_ms)
		return NULL;
	memset(&pp, 0, sizeof(pp));
	pp.conninfo = k->conninfo;
	pp.password = k->password_env ? getenv(k->password_env) : NULL;
	pp.application_name = k->application_name;
	pp.connect_timeout_s = k->connect_timeout_s;
	pp.statement_timeout_ms = k->statement_timeout_ms;
	k->conn = pgconn_connect(&pp, k->err, sizeof(k->err));
	if (!k->conn) {
		k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : KEEPER_BACKOFF_FIRST_MS;
		if (k->backoff_ms > KEEPER_BACKOFF_MAX_MS)
			k->backoff_ms = KEEPER_BACKOFF_MAX_MS;
		k->next_ms = clock_mono_ms() + k->backoff_ms;
		return NULL;
	}
	k->err[0] = '\0';
	k->backoff_ms = 0;
	return k->conn;
}

void pgconn_keeper_drop(struct pgconn_keeper *k, const char *why)
{
	if (why) {
		snprintf(k->err, sizeof(k->err), "%s", why);
		one_line(k->err);
	}
	if (k->conn)
		PQfinish(k->conn);
	k->conn = NULL;
}

void pgconn_keeper_release(struct pgconn_keeper *k)
{
	pgconn_keeper_drop(k, NULL);
	free(k->conninfo);
	free(k->password_env);
	memset(k, 0, sizeof(*k));
}
