/*
 * Integration: the brain thread on a live collector, against a real
 * PostgreSQL 15.
 *
 * A lock chain drill: session A takes a row and stays idle in transaction,
 * session B waits for it. Within a few refreshes the brain must publish a
 * board with a lock-chain incident whose proposal is terminate_backend on
 * A's pid (never on B, the victim), with the detection-to-proposal time
 * measured; when A commits, the incident must leave the board. The audit
 * log must hold incident.open, one proposal record, incident.clear, and
 * verify as a chain. Every statement the collector and the brain sent as
 * the monitoring role (pg_stat_statements, reset for that role first)
 * carries a cockpit tag, the utility ones of the diagnosis included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "perceive/collector.h"
#include "think/brain.h"
#include "think/runbook.h"
#include "lib/testpg.h"

/* The repository's runbooks/: from the working directory, else from the
 * binary (BUILD/tests/integration/test_brain -> ../../../../runbooks). */
static const char *runbooks_dir(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (access("runbooks/lock-chain.yaml", R_OK) == 0)
		return "runbooks";
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	for (int i = 0; i < 4; i++) {
		char *slash = strrchr(exe, '/');

		if (slash)
			*slash = '\0';
	}
	snprintf(buf, size, "%s/runbooks", exe);
	return buf;
}

/* The lock-chain incident on b whose proposals include terminate_backend
 * on pid, or NULL. */
static const struct incident *chain_with_terminate(const struct board *b, int pid,
						   const struct proposal **out)
{
	char target[32];

	snprintf(target, sizeof(target), "pid %d", pid);
	for (size_t i = 0; b && i < b->incidents.n; i++) {
		const struct incident *in = &b->incidents.v[i];

		if (!in->runbook || strcmp(in->runbook, "lock-chain") != 0)
			continue;
		for (size_t k = 0; k < in->nproposals; k++) {
			const struct proposal *p = in->proposals[k];
			json_t *pids = json_object_get(p->params, "pids"), *v;
			size_t j;
			bool has = false;

			if (!p->action || strcmp(p->action->name, "terminate_backend") != 0)
				continue;
			json_array_foreach(pids, j, v)
				has |= json_integer_value(v) == pid;
			if (has || (p->target && strcmp(p->target, target) == 0)) {
				*out = p;
				return in;
			}
		}
	}
	return NULL;
}

static bool has_runbook(const struct board *b, const char *name)
{
	for (size_t i = 0; b && i < b->incidents.n; i++)
		if (b->incidents.v[i].runbook && strcmp(b->incidents.v[i].runbook, name) == 0)
			return true;
	return false;
}

/* Count records of kind in the audit log at path. */
static int count_kind(const char *path, const char *kind)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		const char *k = json_string_value(json_object_get(j, "kind"));

		if (k && strcmp(k, kind) == 0)
			n++;
		json_decref(j);
	}
	free(line);
	fclose(f);
	return n;
}

/* The role of the monitoring DSN, owned. */
static char *monitor_role(void)
{
	PGconn *c = PQconnectdb(tp_monitor_dsn());
	char *u;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("monitor DSN: %s", PQerrorMessage(c));
	u = strdup(PQuser(c));
	PQfinish(c);
	assert_non_null(u);
	return u;
}

/* Statements role ran that do not start with a cockpit tag; prints them.
 * *total: how many statements it ran in all. */
static int untagged_statements(PGconn *su, const char *role, int *total)
{
	const char *v[1] = { role };
	PGresult *r = PQexecParams(su, "SELECT s.query LIKE '/* cockpit%', s.calls, left(s.query, 120) "
				       "FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
				       "WHERE r.rolname = $1",
				   1, NULL, v, NULL, NULL, 0);
	int n = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("pg_stat_statements: %s", PQerrorMessage(su));
	*total = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		*total += atoi(PQgetvalue(r, i, 1));
		if (strcmp(PQgetvalue(r, i, 0), "t") == 0)
			continue;
		print_message("untagged (%s calls): %s\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
		n++;
	}
	PQclear(r);
	return n;
}

static void test_lock_chain(void **state)
{
	struct config cfg;
	struct runbook_set rbs = { NULL, 0 };
	struct policy_state *pol = policy_state_new();
	struct collector *col;
	struct brain *br;
	struct brain_opts bo;
	struct audit *au;
	struct board *b = NULL;
	const struct proposal *p = NULL;
	const struct incident *in = NULL;
	struct audit_verify_result vr;
	char err[512], dirbuf[PATH_MAX + 16], logpath[] = "/tmp/cockpit-brain-XXXXXX";
	char *errs = NULL, path[PATH_MAX + 32], *role = monitor_role();
	PGconn *a, *bconn, *su;
	int apid, bpid, sent = 0;
	int64_t t0;
	double proposal_ms = -1;

	(void)state;
	assert_non_null(mkdtemp(logpath));
	snprintf(path, sizeof(path), "%s/audit.jsonl", logpath);
	config_init_defaults(&cfg);
	cfg.fast_refresh_ms = 250;
	if (runbook_load_dir(runbooks_dir(dirbuf, sizeof(dirbuf)), &rbs, &errs) != 0)
		fail_msg("runbooks: %s", errs ? errs : "?");
	free(errs);
	assert_non_null(runbook_find(&rbs, "lock-chain"));

	su = tp_connect("h5-brain-setup");
	tp_exec(su, "DROP TABLE IF EXISTS h5_brain_chain; CREATE TABLE h5_brain_chain (id int PRIMARY KEY, v int);"
		    "INSERT INTO h5_brain_chain VALUES (1, 0)");
	a = tp_connect("h5-brain-a");
	bconn = tp_connect("h5-brain-b");
	apid = tp_pid(a);
	bpid = tp_pid(bconn);
	tp_exec(a, "BEGIN; UPDATE h5_brain_chain SET v = 1 WHERE id = 1");
	tp_send(bconn, "UPDATE h5_brain_chain SET v = 2 WHERE id = 1");
	assert_true(tp_wait(su, "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'h5-brain-b'"
				" AND wait_event_type = 'Lock')", 5000));

	tp_statements_reset(su, role);
	au = audit_open(path, err, sizeof(err));
	assert_non_null(au);
	col = collector_new(&cfg, NULL, tp_monitor_dsn(), err, sizeof(err));
	assert_non_null(col);
	assert_int_equal(collector_start(col, -1), 0);
	memset(&bo, 0, sizeof(bo));
	bo.cfg = &cfg;
	bo.runbooks = &rbs;
	bo.collector = col;
	bo.conninfo = tp_monitor_dsn();
	bo.policy = pol;
	bo.audit = au;
	bo.wake_fd = -1;
	br = brain_new(&bo, err, sizeof(err));
	assert_non_null(br);
	assert_int_equal(brain_start(br), 0);

	/* A proposal to end A within a few refreshes. */
	t0 = clock_mono_ms();
	while (clock_mono_ms() - t0 < 15000) {
		brain_poke(br);
		clock_sleep_ms(100);
		board_unref(b);
		b = brain_get(br);
		in = chain_with_terminate(b, apid, &p);
		if (in)
			break;
	}
	if (!in) {
		for (size_t i = 0; b && i < b->incidents.n; i++)
			print_message("incident %s: %s (%zu proposals, escalation %s)\n", b->incidents.v[i].key,
				      b->incidents.v[i].summary, b->incidents.v[i].nproposals,
				      b->incidents.v[i].escalation ? b->incidents.v[i].escalation : "-");
		fail_msg("no terminate_backend proposal for the blocker pid %d within 15 s (note: %s)", apid,
			 b && b->note ? b->note : "-");
	}
	/* The victim is never the target. */
	{
		char victim[32];

		snprintf(victim, sizeof(victim), "pid %d", bpid);
		for (size_t k = 0; k < in->nproposals; k++)
			assert_false(in->proposals[k]->target && strcmp(in->proposals[k]->target, victim) == 0);
	}
	assert_non_null(p->sql);
	assert_non_null(strstr(p->sql, "pg_terminate_backend"));
	assert_non_null(p->diff);
	{
		size_t i = board_find_incident(b, in->key);

		assert_true(i != SIZE_MAX);
		assert_true(b->times[i].proposal_ms >= 0);
		proposal_ms = b->times[i].proposal_ms;
	}
	assert_ptr_equal(board_find_proposal(b, p->id, NULL), p);
	print_message("lock-chain: detection to proposal %.0f ms; proposal %s: %s\n", proposal_ms,
		      p->id, p->target);

	/* Unchanged, the chain's proposal is carried from round to round with
	 * its JSON shared with the brain's memo: read here, on another thread,
	 * as the UI reads it (a deep copy), it stays the same proposal. Under
	 * TSan this is the race check of that sharing. */
	{
		struct proposal *first = proposal_dup(p);
		int carried = 0, seen = 0;
		int64_t last_seq = b->seq;

		t0 = clock_mono_ms();
		while (clock_mono_ms() - t0 < 4000 && carried < 4) {
			const struct proposal *q;
			struct proposal *c;

			brain_poke(br);
			clock_sleep_ms(50);
			board_unref(b);
			b = brain_get(br);
			if (!b || b->seq == last_seq)
				continue;
			last_seq = b->seq;
			q = board_find_proposal(b, first->id, NULL);
			if (!q)
				continue;
			seen++;
			c = proposal_dup(q);
			assert_true(json_equal(c->params, first->params));
			assert_true(json_equal(c->guard, first->guard) || (!c->guard && !first->guard));
			assert_string_equal(c->sql, first->sql);
			if (b->diagnosed == 0)
				carried++;
			proposal_free(c);
		}
		print_message("lock-chain: proposal on %d later boards, carried (no diagnosis) on %d\n",
			      seen, carried);
		assert_true(carried >= 2);
		proposal_free(first);
		in = chain_with_terminate(b, apid, &p);
		assert_non_null(in);
	}

	/* A commits: the chain is gone, and so is the incident. */
	tp_exec(a, "COMMIT");
	assert_int_equal(tp_finish(bconn, 5000, NULL), PGRES_COMMAND_OK);
	t0 = clock_mono_ms();
	while (clock_mono_ms() - t0 < 15000) {
		brain_poke(br);
		clock_sleep_ms(100);
		board_unref(b);
		b = brain_get(br);
		if (b && !has_runbook(b, "lock-chain"))
			break;
	}
	assert_non_null(b);
	assert_false(has_runbook(b, "lock-chain"));
	board_unref(b);

	brain_stop(br);
	collector_stop(col);
	brain_free(br);
	collector_free(col);
	audit_close(au);

	assert_true(count_kind(path, "incident.open") >= 1);
	assert_true(count_kind(path, "proposal") >= 1);
	assert_true(count_kind(path, "incident.clear") >= 1);
	assert_int_equal(audit_verify(path, &vr, err, sizeof(err)), 0);

	assert_int_equal(untagged_statements(su, role, &sent), 0);
	assert_true(sent > 0);
	print_message("statements sent as %s: %d, all tagged\n", role, sent);
	free(role);

	tp_exec(su, "DROP TABLE IF EXISTS h5_brain_chain");
	PQfinish(a);
	PQfinish(bconn);
	PQfinish(su);
	unlink(path);
	rmdir(logpath);
	policy_state_free(pol);
	runbook_set_release(&rbs);
	config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
