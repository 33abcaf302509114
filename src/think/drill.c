/*
 * drill: see drill.h.
 */
#include "think/drill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "think/runbook.h"

#define DRILL_CONNECT_TIMEOUT_S 5
#define DRILL_SETUP_TIMEOUT_MS 300000

struct drill_session {
	PGconn *conn;
	int pid;
	char state[256];
	bool done;
};

struct drill_run {
	const struct runbook *rb;
	PGconn *admin;                 /* setup and cleanup */
	struct drill_session *s;
	size_t n;
};

static void one_line(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	for (size_t n = strlen(s); n > 0 && s[n - 1] == ' '; n--)
		s[n - 1] = '\0';
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A plain session, as an application would open it: none of cockpit's own
 * session settings (no statement or lock timeout: drill sessions are meant
 * to sit in their transactions and wait). */
static PGconn *drill_connect(const struct runbook *rb, const char *conninfo,
			     const char *password_env, const char *app, char *err, size_t errlen)
{
	const char *keys[5], *vals[5];
	const char *password = password_env ? getenv(password_env) : NULL;
	char timeout[16];
	int n = 0;
	PGconn *c;

	snprintf(timeout, sizeof(timeout), "%d", DRILL_CONNECT_TIMEOUT_S);
	keys[n] = "dbname"; vals[n++] = conninfo;
	keys[n] = "application_name"; vals[n++] = app;
	keys[n] = "connect_timeout"; vals[n++] = timeout;
	if (password) {
		keys[n] = "password"; vals[n++] = password;
	}
	keys[n] = NULL; vals[n] = NULL;
	c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "drill %s: cannot connect (%s): %s", rb->name, app,
			 c ? PQerrorMessage(c) : "out of memory");
		one_line(err);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet, NULL); /* "does not exist, skipping" */
	return c;
}

/* Run sql to completion on c (every statement of it), bounded. */
static int run_all(PGconn *c, const char *sql, char *msg, size_t msglen)
{
	PGresult *r;
	int rc = 0;

	if (!PQsendQuery(c, sql)) {
		snprintf(msg, msglen, "%s", PQerrorMessage(c));
		one_line(msg);
		return -1;
	}
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType st = PQresultStatus(r);

		if (st == PGRES_FATAL_ERROR && rc == 0) {
			snprintf(msg, msglen, "%s", PQresultErrorMessage(r));
			one_line(msg);
			rc = -1;
		}
		PQclear(r);
	}
	return rc;
}

/* Read what the server sent to session s without blocking. */
static void session_poll(struct drill_session *s)
{
	if (!s->conn || s->done)
		return;
	if (!PQconsumeInput(s->conn)) {
		snprintf(s->state, sizeof(s->state), "closed: %s", PQerrorMessage(s->conn));
		one_line(s->state);
		s->done = true;
		return;
	}
	while (!PQisBusy(s->conn)) {
		PGresult *r = PQgetResult(s->conn);

		if (!r) {
			if (strncmp(s->state, "failed", 6) != 0)
				snprintf(s->state, sizeof(s->state), "finished");
			s->done = true;
			return;
		}
		if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
			snprintf(s->state, sizeof(s->state), "failed: %s", PQresultErrorMessage(r));
			one_line(s->state);
		}
		PQclear(r);
	}
}

struct drill_run *drill_start(const struct runbook *rb, const char *conninfo,
			      const char *password_env, bool settle, char *err, size_t errlen)
{
	struct drill_run *d;
	char app[96], msg[512];

	if (!rb->drill.setup && rb->drill.nsessions == 0) {
		snprintf(err, errlen, "runbook %s has no drill (add drill.setup or drill.sessions "
			 "to %s)", rb->name, rb->file ? rb->file : "its file");
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->rb = rb;
	snprintf(app, sizeof(app), "drill-%s", rb->name);
	d->admin = drill_connect(rb, conninfo, password_env, app, err, errlen);
	if (!d->admin)
		goto fail;
	if (rb->drill.setup && run_all(d->admin, rb->drill.setup, msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "drill %s: setup failed: %s", rb->name, msg);
		goto fail;
	}
	/* The setup's table statistics (dead tuples...) reach the views only
	 * when the backend flushes them, which may wait for 10 s: ask for it
	 * now (PostgreSQL 15+; older servers just say no). */
	if (rb->drill.setup && PQserverVersion(d->admin) >= 150000)
		run_all(d->admin, "SELECT pg_stat_force_next_flush()", msg, sizeof(msg));
	d->s = xcalloc(rb->drill.nsessions ? rb->drill.nsessions : 1, sizeof(*d->s));
	for (size_t i = 0; i < rb->drill.nsessions; i++) {
		struct drill_session *s = &d->s[i];

		snprintf(app, sizeof(app), "drill-%s-%zu", rb->name, i + 1);
		s->conn = drill_connect(rb, conninfo, password_env, app, err, errlen);
		if (!s->conn)
			goto fail;
		d->n = i + 1;
		s->pid = PQbackendPID(s->conn);
		if (!PQsendQuery(s->conn, rb->drill.sessions[i])) {
			snprintf(err, errlen, "drill %s: session %zu: %s", rb->name, i + 1,
				 PQerrorMessage(s->conn));
			one_line(err);
			goto fail;
		}
		snprintf(s->state, sizeof(s->state), "running");
		/* Give each session a moment so they queue in order (a lock
		 * chain needs the holder first). */
		for (int k = 0; k < 10; k++) {
			clock_sleep_ms(20);
			session_poll(s);
		}
	}
	if (settle) {
		int64_t until = clock_mono_ms() + (int64_t)rb->drill.settle_s * 1000;

		while (clock_mono_ms() < until) {
			for (size_t i = 0; i < d->n; i++)
				session_poll(&d->s[i]);
			clock_sleep_ms(50);
		}
	}
	return d;
fail:
	drill_stop(d, msg, sizeof(msg));
	return NULL;
}

int drill_session_pid(const struct drill_run *d, size_t i)
{
	return d && i < d->n ? d->s[i].pid : 0;
}

size_t drill_sessions(const struct drill_run *d)
{
	return d ? d->n : 0;
}

const char *drill_session_state(struct drill_run *d, size_t i)
{
	if (!d || i >= d->n)
		return "none";
	session_poll(&d->s[i]);
	return d->s[i].state;
}

int drill_stop(struct drill_run *d, char *err, size_t errlen)
{
	char msg[512];
	int rc = 0;

	if (!d)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		struct drill_session *s = &d->s[i];

		if (!s->conn)
			continue;
		session_poll(s);
		if (!s->done && PQstatus(s->conn) == CONNECTION_OK) {
			/* A sleeping or waiting statement would outlive the
			 * closed socket: cancel it first. */
			PGcancel *cn = PQgetCancel(s->conn);
			char cerr[256];

			if (cn) {
				PQcancel(cn, cerr, sizeof(cerr));
				PQfreeCancel(cn);
			}
		}
		PQfinish(s->conn);
		s->conn = NULL;
	}
	if (d->admin && d->rb->drill.cleanup && PQstatus(d->admin) == CONNECTION_OK) {
		/* The closed sessions' backends may still hold locks for a
		 * moment: end them (only this drill's: other drills may be
		 * running) before the cleanup needs those locks. */
		struct strbuf pids = STRBUF_INIT;

		strbuf_addch(&pids, '{');
		for (size_t i = 0; i < d->n; i++)
			strbuf_addf(&pids, "%s%d", i ? "," : "", d->s[i].pid);
		strbuf_addch(&pids, '}');
		for (int k = 0; k < 50 && d->n > 0; k++) {
			const char *v[1] = { pids.buf };
			PGresult *w = PQexecParams(d->admin,
				"/* cockpit drill */ SELECT count(pg_terminate_backend(pid)) "
				"FROM pg_stat_activity WHERE pid = ANY($1::int[])",
				1, NULL, v, NULL, NULL, 0);
			bool gone = PQresultStatus(w) == PGRES_TUPLES_OK &&
				    strcmp(PQgetvalue(w, 0, 0), "0") == 0;

			PQclear(w);
			if (gone)
				break;
			clock_sleep_ms(100);
		}
		strbuf_release(&pids);
		if (run_all(d->admin, d->rb->drill.cleanup, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "drill %s: cleanup failed: %s", d->rb->name, msg);
			rc = -1;
		}
	}
	if (d->admin)
		PQfinish(d->admin);
	free(d->s);
	free(d);
	return rc;
}
