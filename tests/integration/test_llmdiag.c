/*
 * Integration: one LLM diagnosis of a real lock-chain incident (PostgreSQL
 * 15, tests/lib/testpg.h) against the scripted fake endpoint
 * (tests/fakes/fake_llm.h): rules first, then the LLM.
 *
 *  - a correct diagnosis naming the real root pid (validated directly with
 *    llmdiag_validate: the fake's scripted pid is fixed) agrees with the
 *    rule's terminate_backend and raises its confidence;
 *  - the fake's diagnosis (a pid that is not live) is rejected by the
 *    catalog check; a made-up column is rejected with the reason; an action
 *    outside the registry is rejected; garbage and a stall leave the rules'
 *    proposals exactly as they were, with the failure reported;
 *  - what the fake received: no PII literal from the test data, the query
 *    text fenced, the key only in the Authorization header.
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
#include "act/proposal.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "fakes/fake_llm.h"
#include "perceive/collector.h"
#include "perceive/snapshot.h"
#include "think/detect.h"
#include "think/diagnose.h"
#include "think/llm.h"
#include "think/llmdiag.h"
#include "think/runbook.h"
#include "lib/observe.h"
#include "lib/testpg.h"

#define KEY "sk-h8-test-KEY-0123456789abcdef"

static const char *const pii[] = {
	"alice@example.com", "4111111111111111", "h8-literal-secret", NULL,
};

struct env {
	struct config cfg;
	struct runbook_set set;
	PGconn *conn;
	PGconn *setup, *root, *victim;
	int root_pid, victim_pid;
	struct snapshot *snap;
	struct incident_list incidents;
	struct incident *in;
	struct fake_llm *fake;
};

static void observe(struct env *e)
{
	tp_observe(&e->cfg, &e->set, e->conn, &e->snap, &e->incidents);
	e->in = tp_lock_chain(&e->incidents, e->root_pid);
	if (!e->in)
		fail_msg("no lock-chain incident for root pid %d", e->root_pid);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const char *top = getenv("COCKPIT_TOP");
	char dir[4096], *errs = NULL, conninfo[1024], err[256];

	config_init_defaults(&e->cfg);
	snprintf(dir, sizeof(dir), "%s/runbooks", top && *top ? top : ".");
	runbook_load_dir(dir, &e->set, &errs);
	free(errs);
	snprintf(conninfo, sizeof(conninfo), "%s application_name=cockpit-test-llmdiag",
		 tp_monitor_dsn());
	e->conn = PQconnectdb(conninfo);
	if (PQstatus(e->conn) != CONNECTION_OK)
		fail_msg("cannot connect as the monitor role: %s", PQerrorMessage(e->conn));
	e->fake = fake_llm_start(err, sizeof(err));
	if (!e->fake)
		fail_msg("%s", err);
	e->cfg.llm.provider = LLM_PROVIDER_OPENAI;
	e->cfg.llm.base_url = xstrdup(fake_llm_url(e->fake));
	e->cfg.llm.model = xstrdup("fake-model");
	e->cfg.llm.api_key_env = xstrdup("H8_LLMDIAG_TEST_KEY");
	e->cfg.llm.first_token_s = 1;
	e->cfg.llm.idle_s = 1;
	e->cfg.llm.total_s = 3;
	e->cfg.llm.max_retries = 0;
	e->cfg.llm.cost_in_per_1k = 0.003;
	e->cfg.llm.cost_out_per_1k = 0.015;
	setenv("H8_LLMDIAG_TEST_KEY", KEY, 1);

	/* the lock chain: root idle in transaction, a victim behind it */
	e->setup = tp_connect("h8-llmdiag-setup");
	tp_exec(e->setup, "DROP TABLE IF EXISTS h8_llm_lock;"
		"CREATE TABLE h8_llm_lock (id int PRIMARY KEY, note text);"
		"INSERT INTO h8_llm_lock VALUES (1, 'x'), (2, 'y');"
		"GRANT SELECT ON h8_llm_lock TO PUBLIC");
	e->root = tp_connect("h8-llmdiag-root");
	e->root_pid = tp_pid(e->root);
	tp_exec(e->root, "BEGIN; UPDATE h8_llm_lock SET note = 'card 4111111111111111' "
		"WHERE id = 1");
	e->victim = tp_connect("h8-llmdiag-victim");
	e->victim_pid = tp_pid(e->victim);
	tp_send(e->victim, "UPDATE h8_llm_lock SET note = 'alice@example.com h8-literal-secret' "
		"WHERE id = 1");
	char cond[256];

	snprintf(cond, sizeof(cond), "SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
		 "WHERE pid = %d", e->victim_pid);
	assert_true(tp_wait(e->setup, cond, 10000));
	clock_sleep_ms(1200);   /* past lock_wait_ms */
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	PGcancel *c = PQgetCancel(e->victim);
	char buf[256];

	if (c) {
		PQcancel(c, buf, sizeof(buf));
		PQfreeCancel(c);
	}
	PQfinish(e->victim);
	PQfinish(e->root);
	tp_exec(e->setup, "DROP TABLE IF EXISTS h8_llm_lock");
	PQfinish(e->setup);
	incident_list_release(&e->incidents);
	if (e->snap)
		snapshot_unref(e->snap);
	fake_llm_free(e->fake);
	PQfinish(e->conn);
	runbook_set_release(&e->set);
	config_release(&e->cfg);
	free(e);
	return 0;
}

static struct llmdiag_opts opts(struct env *e)
{
	return (struct llmdiag_opts){
		.cfg = &e->cfg, .conn = e->conn, .snap = e->snap,
		.rb = runbook_find(&e->set, e->in->runbook), .now = (double)clock_wall_us() / 1e6,
	};
}

static struct proposal *rule_terminate(struct incident *in)
{
	for (size_t i = 0; i < in->nproposals; i++)
		if (strcmp(in->proposals[i]->action->name, "terminate_backend") == 0)
			return in->proposals[i];
	return NULL;
}

static bool rejected_with(const json_t *rej, const char *action, const char *reason_part)
{
	size_t i;
	json_t *e;

	json_array_foreach(rej, i, e) {
		const char *a = json_string_value(json_object_get(e, "action"));
		const char *r = json_string_value(json_object_get(e, "reason"));
		const char *item = json_string_value(json_object_get(e, "item"));

		if ((a && strcmp(a, action) == 0) || (item && r && strstr(r, action)))
			if (r && strstr(r, reason_part))
				return true;
	}
	return false;
}

/* What left the process: request i of the fake. */
static void check_request(struct env *e, size_t i)
{
	struct fake_llm_request rq;
	char *auth;

	assert_int_equal(fake_llm_request_get(e->fake, i, &rq), 0);
	for (size_t k = 0; pii[k]; k++)
		if (strstr(rq.body, pii[k]))
			fail_msg("PII literal '%s' reached the endpoint", pii[k]);
	assert_non_null(strstr(rq.body, "<<<UNTRUSTED kind=query>>>"));
	assert_non_null(strstr(rq.body, "h8_llm_lock"));
	assert_null(strstr(rq.body, KEY));
	assert_null(strstr(rq.url, KEY));
	auth = fake_llm_header(&rq, "authorization");
	assert_non_null(auth);
	assert_non_null(strstr(auth, KEY));
	free(auth);
	/* the key appears in no other header */
	char *h = xstrdup(rq.headers);
	size_t hits = 0;

	for (char *s = h; (s = strstr(s, KEY)); s++)
		hits++;
	assert_int_equal(hits, 1);
	free(h);
	fake_llm_request_release(&rq);
}

static void test_correct_diagnosis_agrees(void **state)
{
	struct env *e = *state;
	struct llmdiag_result r = { 0 };
	struct llmdiag_opts o;
	char text[1024];

	observe(e);
	struct proposal *rule = rule_terminate(e->in);

	assert_non_null(rule);
	double before = rule->confidence;

	o = opts(e);
	snprintf(text, sizeof(text),
		 "Looking at the evidence...\n```json\n{\"root_cause\": \"pid %d holds a row lock "
		 "idle in transaction\", \"confidence\": 0.92, \"hypotheses\": [{\"text\": "
		 "\"forgotten transaction\", \"probability\": 0.9}], \"proposals\": [{\"action\": "
		 "\"terminate_backend\", \"params\": {\"pids\": [%d]}, \"rationale\": \"ends the "
		 "idle root\"}, {\"action\": \"cancel_backend\", \"params\": {\"pids\": [%d]}, "
		 "\"rationale\": \"a second opinion\"}]}\n```\n", e->root_pid, e->root_pid,
		 e->victim_pid);
	assert_int_equal(llmdiag_validate(&o, e->in, text, strlen(text), &r), 0);
	assert_true(r.ok);
	if (json_array_size(r.agreed) != 1 || r.nproposals != 1) {
		char *j = json_dumps(r.rejected, 0);

		fprintf(stderr, "rejected: %s; rule target %s; llm proposals %zu\n", j, rule->target,
			r.nproposals);
		for (size_t i = 0; i < r.nproposals; i++)
			fprintf(stderr, "  %s %s\n", r.proposals[i]->action->name, r.proposals[i]->target);
		free(j);
	}
	/* agreement: the rule's proposal got stronger and says why */
	assert_int_equal(json_array_size(r.agreed), 1);
	assert_true(rule->confidence > before);
	assert_true(rule->confidence <= LLMDIAG_MAX_CONFIDENCE);
	assert_non_null(strstr(rule->rationale, "The LLM agrees"));
	/* disagreement kept side by side, origin llm, judged by policy */
	assert_int_equal(r.nproposals, 1);
	assert_string_equal(r.proposals[0]->origin, "llm");
	assert_string_equal(r.proposals[0]->action->name, "cancel_backend");
	assert_non_null(r.proposals[0]->policy_reason);
	llmdiag_result_release(&r);

	/* low confidence: escalate only */
	snprintf(text, sizeof(text),
		 "{\"root_cause\": \"unsure\", \"confidence\": 0.4, \"hypotheses\": [], "
		 "\"proposals\": [{\"action\": \"cancel_backend\", \"params\": {\"pids\": [%d]}, "
		 "\"rationale\": \"maybe\"}]}", e->victim_pid);
	assert_int_equal(llmdiag_validate(&o, e->in, text, strlen(text), &r), 0);
	assert_int_equal(r.nproposals, 1);
	assert_int_equal(r.proposals[0]->decision, DECISION_ESCALATE);
	llmdiag_result_release(&r);

	/* a made-up column: rejected with the catalog's reason */
	snprintf(text, sizeof(text),
		 "{\"root_cause\": \"missing index\", \"confidence\": 0.9, \"hypotheses\": [], "
		 "\"proposals\": [{\"action\": \"create_index\", \"params\": {\"table\": "
		 "\"public.h8_llm_lock\", \"columns\": [\"customer_uuid\"]}, \"rationale\": \"x\"}]}");
	assert_int_equal(llmdiag_validate(&o, e->in, text, strlen(text), &r), 0);
	assert_int_equal(r.nproposals, 0);
	assert_true(rejected_with(r.rejected, "create_index", "customer_uuid"));
	llmdiag_result_release(&r);
}

static void test_through_the_fake(void **state)
{
	struct env *e = *state;
	struct llmdiag_result r;
	struct llmdiag_opts o;
	size_t nrule;
	double conf;

	observe(e);
	o = opts(e);
	nrule = e->in->nproposals;
	conf = rule_terminate(e->in)->confidence;

	/* the fake's scripted diagnosis names pid 4711: not live, rejected */
	fake_llm_push(e->fake, FAKE_LLM_DIAGNOSIS);
	int64_t t0 = clock_mono_ms();

	llmdiag_run(&o, e->in, &r);
	int64_t done = clock_mono_ms() - t0;

	assert_string_equal(r.status_text, "ok");
	assert_true(r.first_token_ms >= 0);
	assert_true(r.tokens_in > 0 && r.tokens_out > 0);
	assert_true(r.cost_estimate > 0);
	assert_int_equal(strlen(r.prompt_hash), 64);
	assert_int_equal(r.nproposals, 0);
	assert_true(json_array_size(r.rejected) >= 1);
	fprintf(stderr, "timing: first token %lld ms, reply %lld ms, validated %lld ms after "
		"the call started (validation %lld ms); prompt %lld tokens\n",
		(long long)r.first_token_ms, (long long)r.latency_ms, (long long)done,
		(long long)r.validate_ms,
		(long long)json_integer_value(json_object_get(r.prompt_meta, "tokens")));
	char *meta = json_dumps(r.prompt_meta, JSON_COMPACT);

	fprintf(stderr, "prompt: %s\n", meta);
	free(meta);
	llmdiag_result_release(&r);
	check_request(e, fake_llm_nrequests(e->fake) - 1);

	/* out of the registry */
	fake_llm_push(e->fake, FAKE_LLM_UNKNOWN_ACTION);
	llmdiag_run(&o, e->in, &r);
	assert_int_equal(r.nproposals, 0);
	assert_true(rejected_with(r.rejected, "run_sql", "run_sql"));
	llmdiag_result_release(&r);

	/* the fake's hallucinated column on a table that is not there */
	fake_llm_push(e->fake, FAKE_LLM_HALLUCINATED_COLUMN);
	llmdiag_run(&o, e->in, &r);
	assert_int_equal(r.nproposals, 0);
	assert_true(rejected_with(r.rejected, "create_index", "orders"));
	llmdiag_result_release(&r);

	/* garbage: failure reported, rules stand */
	fake_llm_push(e->fake, FAKE_LLM_GARBAGE);
	assert_int_equal(llmdiag_run(&o, e->in, &r), -1);
	assert_false(r.ok);
	assert_non_null(strstr(r.status_text, "invalid reply"));
	assert_int_equal(e->in->nproposals, nrule);
	assert_true(rule_terminate(e->in)->confidence == conf);
	llmdiag_result_release(&r);

	/* a stall: timeout, rules stand */
	fake_llm_push(e->fake, FAKE_LLM_STALL);
	t0 = clock_mono_ms();
	assert_int_equal(llmdiag_run(&o, e->in, &r), -1);
	assert_true(clock_mono_ms() - t0 < 10000);
	assert_true(r.status == LLM_ERR_TIMEOUT || r.status == LLM_ERR_STALL);
	assert_non_null(strstr(r.status_text, "the rules' proposals stand"));
	assert_int_equal(e->in->nproposals, nrule);
	llmdiag_result_release(&r);

	/* every request that left was clean */
	for (size_t i = 0; i < fake_llm_nrequests(e->fake); i++)
		check_request(e, i);
}

/* The same through `cockpit diagnose --json`: the LLM's section per
 * incident, --show-prompt sends nothing, --no-llm asks nobody. */
static void test_cli(void **state)
{
	struct env *e = *state;
	char conf[256], args[2048], key[64];
	FILE *f;
	json_t *j, *in = NULL, *v;
	size_t i, before;
	int rc;

	snprintf(conf, sizeof(conf), "/tmp/h8-llmdiag-%d.conf", (int)getpid());
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "paths:\n  state_dir: /tmp/h8-llmdiag-state-%d\n  runbooks_dir: %s/runbooks\n"
		"llm:\n  provider: openai\n  base_url: %s\n  model: fake-model\n"
		"  api_key_env: H8_LLMDIAG_TEST_KEY\n  max_retries: 0\n  total_s: 5\n",
		(int)getpid(), getenv("COCKPIT_TOP") && *getenv("COCKPIT_TOP") ?
		getenv("COCKPIT_TOP") : ".", fake_llm_url(e->fake));
	fclose(f);
	snprintf(key, sizeof(key), "lock-chain/pid=%d/", e->root_pid);

	/* --show-prompt: the body, nothing sent */
	before = fake_llm_nrequests(e->fake);
	snprintf(args, sizeof(args), "-c %s -d '%s' diagnose --json --show-prompt", conf,
		 tp_monitor_dsn());
	j = tp_cockpit_json(args, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	assert_int_equal(fake_llm_nrequests(e->fake), before);
	json_array_foreach(json_object_get(j, "prompts"), i, v)
		if (strncmp(json_string_value(json_object_get(v, "incident")), key, strlen(key)) == 0)
			in = v;
	assert_non_null(in);
	const char *body = json_string_value(json_object_get(in, "body"));

	assert_non_null(strstr(body, "UNTRUSTED kind=query"));
	for (size_t k = 0; pii[k]; k++)
		assert_null(strstr(body, pii[k]));
	json_decref(j);

	/* the LLM's section; its out-of-registry action rejected, rules stand */
	fake_llm_push(e->fake, FAKE_LLM_UNKNOWN_ACTION);
	snprintf(args, sizeof(args), "-c %s -d '%s' diagnose --json", conf, tp_monitor_dsn());
	j = tp_cockpit_json(args, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	in = NULL;
	json_array_foreach(json_object_get(j, "incidents"), i, v)
		if (strncmp(json_string_value(json_object_get(v, "key")), key, strlen(key)) == 0)
			in = v;
	assert_non_null(in);
	json_t *llm = json_object_get(in, "llm");

	assert_non_null(llm);
	/* another incident on the shared cluster may have taken the scripted reply */
	const char *st = json_string_value(json_object_get(llm, "status"));

	assert_non_null(st);
	if (strcmp(st, "ok") == 0)
		assert_true(rejected_with(json_object_get(llm, "rejected"), "run_sql", "run_sql"));
	assert_int_equal(strlen(json_string_value(json_object_get(llm, "prompt_hash"))), 64);
	assert_non_null(tp_find_str(json_object_get(in, "proposals"), "origin", "rule"));
	json_decref(j);

	/* --no-llm: nobody asked */
	before = fake_llm_nrequests(e->fake);
	snprintf(args, sizeof(args), "-c %s -d '%s' diagnose --json --no-llm", conf,
		 tp_monitor_dsn());
	j = tp_cockpit_json(args, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(fake_llm_nrequests(e->fake), before);
	assert_non_null(strstr(json_string_value(json_object_get(j, "llm")), "--no-llm"));
	json_decref(j);
	unlink(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_correct_diagnosis_agrees),
		cmocka_unit_test(test_through_the_fake),
		cmocka_unit_test(test_cli),
	};

	llm_global_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
