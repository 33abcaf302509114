/*
 * Integration: the advisor (think/advisor.h), the TUI's LLM thread, on a
 * real lock-chain incident (PostgreSQL 15) against the in-process fake
 * endpoint (tests/fakes/fake_llm.h). Also run under TSan by tests/run.sh.
 *
 *  - a consult streams: its text is visible piece by piece through
 *    advisor_view while it runs; the finished advice agrees with the rule
 *    (advisor_apply raises its confidence) only for the evidence signature
 *    it was asked about; it is audited as llm.diagnosis;
 *  - the same signature again asks nobody; a changed one waits for
 *    ADVISOR_RECONSULT_S; the operator's retry asks at once;
 *  - garbage fails calmly (the rules' proposals untouched);
 *  - forgetting the incident cancels a stalled consult within a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "fakes/fake_llm.h"
#include "perceive/collector.h"
#include "perceive/snapshot.h"
#include "think/advisor.h"
#include "think/detect.h"
#include "think/diagnose.h"
#include "think/llm.h"
#include "think/runbook.h"
#include "lib/observe.h"
#include "lib/testpg.h"

struct env {
	struct config cfg;
	struct runbook_set set;
	PGconn *conn;
	PGconn *setup, *root, *victim;
	int root_pid;
	struct snapshot *snap;
	struct incident_list incidents;
	struct incident *in;          /* the lock chain, with the rule's proposals */
	struct fake_llm *fake;
	struct audit *audit;
	char audit_path[128];
	struct advisor *adv;
};

static struct proposal *rule_terminate(struct incident *in)
{
	for (size_t i = 0; i < in->nproposals; i++)
		if (strcmp(in->proposals[i]->action->name, "terminate_backend") == 0)
			return in->proposals[i];
	return NULL;
}

static void observe(struct env *e)
{
	tp_observe(&e->cfg, &e->set, e->conn, &e->snap, &e->incidents);
	e->in = tp_lock_chain(&e->incidents, e->root_pid);
	if (!e->in || !rule_terminate(e->in))
		fail_msg("no lock-chain incident with a terminate proposal for root pid %d", e->root_pid);
}

/* A lock chain of yesterday on adv_lock, as the brain and the executor
 * audit one. */
static void past_incident(struct env *e)
{
	static const char key[] = "lock-chain/pid=1234/1796000000.000000";
	char err[256];
	json_t *recs[] = {
		json_pack("{ss ss ss ss s{s{ss ss ss}}}", "incident", key, "runbook", "lock-chain",
			  "severity", "critical", "summary",
			  "pid 1234 (idle in transaction, user postgres, app 'adv-root') blocks 1 session(s)",
			  "evidence", "root", "state", "idle in transaction", "application", "adv-root",
			  "query", "UPDATE adv_lock SET v = 'PAST-SECRET-LITERAL' WHERE id = 1"),
		json_pack("{ss s{ss ss ss ss}}", "incident", key, "proposal", "id", "past-1", "action",
			  "terminate_backend", "target", "pid 1234", "origin", "rule"),
		json_pack("{ss ss}", "proposal_id", "past-1", "action", "terminate_backend"),
		json_pack("{ss ss}", "proposal_id", "past-1", "action", "terminate_backend"),
		json_pack("{ss ss sf}", "incident", key, "runbook", "lock-chain", "lasted_s", 42.0),
	};
	const char *kinds[] = { "incident.open", "proposal", "exec.done", "verify.pass",
				"incident.clear" };

	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		if (audit_append(e->audit, kinds[i], recs[i], err, sizeof(err)) != 0)
			fail_msg("audit: %s", err);
		json_decref(recs[i]);
	}
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const char *top = getenv("COCKPIT_TOP");
	char dir[4096], *errs = NULL, err[256], cond[256];
	struct advisor_opts ao;

	config_init_defaults(&e->cfg);
	snprintf(dir, sizeof(dir), "%s/runbooks", top && *top ? top : ".");
	runbook_load_dir(dir, &e->set, &errs);
	free(errs);
	e->conn = PQconnectdb(tp_monitor_dsn());
	if (PQstatus(e->conn) != CONNECTION_OK)
		fail_msg("cannot connect as the monitor role: %s", PQerrorMessage(e->conn));
	e->fake = fake_llm_start(err, sizeof(err));
	if (!e->fake)
		fail_msg("%s", err);
	fake_llm_set_chunk_delay(e->fake, 20);
	e->cfg.llm.provider = LLM_PROVIDER_OPENAI;
	e->cfg.llm.base_url = xstrdup(fake_llm_url(e->fake));
	e->cfg.llm.model = xstrdup("fake-model");
	e->cfg.llm.first_token_s = 30;
	e->cfg.llm.idle_s = 30;
	e->cfg.llm.max_retries = 0;

	e->setup = tp_connect("adv-setup");
	tp_exec(e->setup, "DROP TABLE IF EXISTS adv_lock; CREATE TABLE adv_lock (id int PRIMARY KEY, v int);"
		"INSERT INTO adv_lock VALUES (1, 0)");
	e->root = tp_connect("adv-root");
	e->root_pid = tp_pid(e->root);
	tp_exec(e->root, "BEGIN; UPDATE adv_lock SET v = 1 WHERE id = 1");
	e->victim = tp_connect("adv-victim");
	tp_send(e->victim, "UPDATE adv_lock SET v = 2 WHERE id = 1");
	snprintf(cond, sizeof(cond), "SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
		 "WHERE pid = %d", tp_pid(e->victim));
	assert_true(tp_wait(e->setup, cond, 10000));
	clock_sleep_ms(1200);   /* past lock_wait_ms */
	observe(e);

	snprintf(e->audit_path, sizeof(e->audit_path), "/tmp/cockpit-test-advisor-%d.jsonl", (int)getpid());
	unlink(e->audit_path);
	e->audit = audit_open(e->audit_path, err, sizeof(err));
	assert_non_null(e->audit);
	free(e->cfg.audit_log);   /* the advisor's recall reads the test's log */
	e->cfg.audit_log = xstrdup(e->audit_path);
	memset(&ao, 0, sizeof(ao));
	ao.cfg = &e->cfg;
	ao.runbooks = &e->set;
	ao.conninfo = tp_monitor_dsn();
	ao.audit = e->audit;
	ao.wake_fd = -1;
	e->adv = advisor_new(&ao, err, sizeof(err));
	assert_non_null(e->adv);
	assert_int_equal(advisor_start(e->adv), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	PGcancel *c = PQgetCancel(e->victim);
	char buf[256];

	advisor_free(e->adv);
	audit_close(e->audit);
	unlink(e->audit_path);
	if (c) {
		PQcancel(c, buf, sizeof(buf));
		PQfreeCancel(c);
	}
	PQfinish(e->victim);
	PQfinish(e->root);
	tp_exec(e->setup, "DROP TABLE IF EXISTS adv_lock");
	PQfinish(e->setup);
	incident_list_release(&e->incidents);
	snapshot_unref(e->snap);
	fake_llm_free(e->fake);
	PQfinish(e->conn);
	runbook_set_release(&e->set);
	config_release(&e->cfg);
	free(e);
	return 0;
}

/* Wait (<= ms) until the consult of key is in state s; its view in *v. */
static bool wait_state(struct env *e, const char *key, enum advice_state s, int ms,
		       struct advice_view *v)
{
	int64_t end = clock_mono_ms() + ms;

	for (;;) {
		advisor_view(e->adv, key, v);
		if (v->state == s || clock_mono_ms() > end)
			return v->state == s;
		advice_view_release(v);
		clock_sleep_ms(5);
	}
}

static void test_stream_and_apply(void **state)
{
	struct env *e = *state;
	struct advice_view v;
	struct incident copy;
	struct advisor_stats st;
	char text[1024], *log;
	size_t before = fake_llm_nrequests(e->fake), midway = 0;
	double conf;
	int64_t t0 = clock_mono_ms();

	snprintf(text, sizeof(text),
		 "The root %d is idle in transaction and blocks the update.\n{\"root_cause\": \"pid %d "
		 "idles in its transaction\", \"confidence\": 0.9, \"hypotheses\": [{\"text\": \"a "
		 "forgotten transaction\", \"probability\": 0.9}], \"proposals\": [{\"action\": "
		 "\"terminate_backend\", \"params\": {\"pids\": [%d]}, \"rationale\": \"ends it\"}]}",
		 e->root_pid, e->root_pid, e->root_pid);
	fake_llm_push_text(e->fake, text);
	/* A past lock chain on the same table, ended and verified: written
	 * after the advisor started, so its recall reads it as appended. */
	past_incident(e);
	advisor_submit(e->adv, e->in, "sig-a", e->snap, (double)clock_wall_us() / 1e6);

	/* Streaming: some of the text is visible before the end. */
	for (int64_t end = clock_mono_ms() + 20000; clock_mono_ms() < end;) {
		advisor_view(e->adv, e->in->key, &v);
		if (v.state == ADVICE_RUNNING && v.chunks > 0 && strlen(v.text) < strlen(text))
			midway = strlen(v.text);
		advice_view_release(&v);
		if (midway)
			break;
		clock_sleep_ms(2);
	}
	assert_true(midway > 0);
	assert_true(wait_state(e, e->in->key, ADVICE_DONE, 20000, &v));
	fprintf(stderr, "timing: submit to done %lld ms; first token %lld ms after the request, "
		"detection to first token %lld ms, to validated %lld ms; prompt %lld tokens\n",
		(long long)(clock_mono_ms() - t0), (long long)v.advice->r.first_token_ms,
		(long long)v.advice->detect_to_first_token_ms, (long long)v.advice->detect_to_done_ms,
		(long long)json_integer_value(json_object_get(v.advice->r.prompt_meta, "tokens")));
	assert_non_null(v.advice);
	assert_true(v.advice->r.ok);
	assert_false(v.stale);
	assert_int_equal(json_array_size(v.advice->r.agreed), 1);
	assert_non_null(strstr(v.text, "idle in transaction"));
	advice_view_release(&v);
	assert_int_equal(fake_llm_nrequests(e->fake), before + 1);
	{
		/* the prompt that left showed it, redacted, as untrusted history */
		struct fake_llm_request rq;
		const char *h;

		assert_int_equal(fake_llm_request_get(e->fake, before, &rq), 0);
		h = strstr(rq.body, "## Similar past incidents (1 of the 1 in the audit history");
		if (!h)
			fail_msg("no past incident in the prompt: %.2000s", rq.body);
		assert_non_null(strstr(h, "UNTRUSTED kind=history"));
		assert_non_null(strstr(h, "UPDATE adv_lock SET v = $1 WHERE id = $2"));
		assert_non_null(strstr(h, "terminate_backend executed; terminate_backend verified"));
		assert_non_null(strstr(h, "lasted 42s"));
		assert_null(strstr(rq.body, "PAST-SECRET-LITERAL"));
		fake_llm_request_release(&rq);
	}

	/* Applied to a fresh copy for the same evidence only. */
	incident_copy(&copy, e->in);
	conf = rule_terminate(&copy)->confidence;
	assert_false(advisor_apply(e->adv, &copy, "sig-other", &e->cfg, NULL, (double)clock_wall_us() / 1e6));
	assert_true(rule_terminate(&copy)->confidence == conf);
	assert_true(advisor_apply(e->adv, &copy, "sig-a", &e->cfg, NULL, (double)clock_wall_us() / 1e6));
	assert_true(rule_terminate(&copy)->confidence > conf);
	assert_non_null(strstr(rule_terminate(&copy)->rationale, "The LLM agrees"));
	incident_release(&copy);
	/* The brain's own incident was never touched. */
	assert_true(rule_terminate(e->in)->confidence == conf);

	/* The same evidence again: nobody is asked. */
	advisor_submit(e->adv, e->in, "sig-a", e->snap, (double)clock_wall_us() / 1e6);
	clock_sleep_ms(200);
	assert_int_equal(fake_llm_nrequests(e->fake), before + 1);
	/* Changed evidence waits for the interval; the advice is now stale. */
	advisor_submit(e->adv, e->in, "sig-b", e->snap, (double)clock_wall_us() / 1e6);
	advisor_view(e->adv, e->in->key, &v);
	assert_true(v.waiting);
	assert_true(v.stale);
	assert_int_equal(v.state, ADVICE_DONE);
	assert_true(v.spent_tokens > 0);
	advice_view_release(&v);
	/* The operator asks again at once. */
	fake_llm_push_text(e->fake, text);
	advisor_retry(e->adv, e->in->key, text, sizeof(text));
	assert_string_equal(text, "asking the LLM again");
	assert_true(wait_state(e, e->in->key, ADVICE_DONE, 20000, &v));
	assert_false(v.stale);
	advice_view_release(&v);
	assert_int_equal(fake_llm_nrequests(e->fake), before + 2);
	advisor_get_stats(e->adv, &st);
	assert_int_equal(st.done, 2);
	assert_true(st.tokens_in > 0);

	/* Every acknowledged record is on disk: read it while it is open. */
	{
		char args[256];
		int rc = -1;

		snprintf(args, sizeof(args), "audit verify %s", e->audit_path);
		log = tp_cockpit_output(args, &rc);
		if (rc != 0)
			fail_msg("audit verify: %s", log);
		free(log);
	}
	{
		FILE *f = fopen(e->audit_path, "r");
		char line[65536];
		int n = 0;

		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			n += strstr(line, "\"kind\":\"llm.diagnosis\"") != NULL &&
			     strstr(line, "\"state\":\"done\"") != NULL;
		fclose(f);
		assert_int_equal(n, 2);
	}
}

static void test_garbage_and_cancel(void **state)
{
	struct env *e = *state;
	struct advice_view v;
	struct incident other;
	struct advisor_stats st0, st;
	char msg[256];
	int64_t t0;

	/* Garbage: failed, the rules untouched. */
	incident_copy(&other, e->in);
	free(other.key);
	other.key = xstrdup("lock-chain/garbage");
	fake_llm_push(e->fake, FAKE_LLM_GARBAGE);
	advisor_submit(e->adv, &other, "sig-g", e->snap, (double)clock_wall_us() / 1e6);
	assert_true(wait_state(e, other.key, ADVICE_FAILED, 20000, &v));
	assert_non_null(strstr(v.advice->r.status_text, "invalid reply"));
	assert_non_null(strstr(v.advice->r.status_text, "the rules' proposals stand"));
	advice_view_release(&v);
	assert_false(advisor_apply(e->adv, &other, "sig-g", &e->cfg, NULL, (double)clock_wall_us() / 1e6));
	incident_release(&other);

	/* A stall, then the incident clears: cancelled at once. */
	incident_copy(&other, e->in);
	free(other.key);
	other.key = xstrdup("lock-chain/stall");
	fake_llm_push(e->fake, FAKE_LLM_STALL);
	advisor_get_stats(e->adv, &st0);
	advisor_submit(e->adv, &other, "sig-s", e->snap, (double)clock_wall_us() / 1e6);
	assert_true(wait_state(e, other.key, ADVICE_RUNNING, 20000, &v));
	advice_view_release(&v);
	clock_sleep_ms(300);
	t0 = clock_mono_ms();
	advisor_forget(e->adv, other.key);
	for (;;) {
		advisor_get_stats(e->adv, &st);
		if (st.cancelled > st0.cancelled || clock_mono_ms() - t0 > 5000)
			break;
		clock_sleep_ms(5);
	}
	fprintf(stderr, "timing: a stalled consult ended %lld ms after its incident cleared\n",
		(long long)(clock_mono_ms() - t0));
	assert_int_equal(st.cancelled, st0.cancelled + 1);
	assert_true(clock_mono_ms() - t0 < 1000);
	advisor_view(e->adv, other.key, &v);
	assert_int_equal(v.state, ADVICE_NONE);
	advice_view_release(&v);
	/* Nothing to cancel or retry for a forgotten incident: one line each. */
	advisor_cancel(e->adv, other.key, msg, sizeof(msg));
	assert_non_null(strstr(msg, "no LLM diagnosis is running"));
	advisor_retry(e->adv, other.key, msg, sizeof(msg));
	assert_non_null(strstr(msg, "has not seen this incident"));
	incident_release(&other);
}

static void test_off(void **state)
{
	struct env *e = *state;
	struct config cfg;
	struct advisor_opts ao = { 0 };
	char err[256];

	(void)e;
	config_init_defaults(&cfg);
	ao.cfg = &cfg;
	ao.wake_fd = -1;
	assert_null(advisor_new(&ao, err, sizeof(err)));
	assert_non_null(strstr(err, "rules only"));
	config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_and_apply),
		cmocka_unit_test(test_garbage_and_cancel),
		cmocka_unit_test(test_off),
	};

	llm_global_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
