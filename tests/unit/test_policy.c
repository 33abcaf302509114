/*
 * test_policy: every rule of act/policy.h, the strictness order, the mode
 * gate, maintenance windows and the run history (notes and the audit log).
 * Times are UTC (TZ is set), so windows are checked at known instants:
 * 2026-11-21 is a Saturday.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "core/config.h"
#include "core/mem.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Saturday 2026-11-21 00:00:00 UTC */
#define SAT 1795219200.0
#define DAY 86400.0
#define HOUR 3600.0

static int setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	setenv("HOME", "/tmp", 1);
	return 0;
}

static struct proposal *mk(const char *action, const char *target, double confidence)
{
	struct proposal *p = proposal_new();

	p->action = action_find(action);
	assert_non_null(p->action);
	p->risk = p->action->risk;
	proposal_set(&p->target, target);
	p->confidence = confidence;
	p->table_bytes = -1;
	return p;
}

static void assert_has(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle))
		fail_msg("expected '%s' in '%s'", needle, haystack ? haystack : "(null)");
}

/* ---------------------------------------------------------------- risk */

static void test_by_risk(void **state)
{
	static const struct {
		const char *action;
		enum decision d;
		const char *why;
	} cases[] = {
		{ "analyze", DECISION_ALLOW, "risk low: allow (policy.low)" },
		{ "terminate_backend", DECISION_APPROVAL, "risk medium: approval (policy.medium)" },
		{ "drop_index", DECISION_APPROVAL, "risk high: approval (policy.high)" },
		{ "shell", DECISION_APPROVAL, "risk critical: approval (policy.critical)" },
	};
	struct config c;

	(void)state;
	config_init_defaults(&c);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct proposal *p = mk(cases[i].action, "public.t", 0.95);

		assert_int_equal(policy_decide(&c, NULL, p, SAT), cases[i].d);
		assert_int_equal(p->decision, cases[i].d);
		assert_string_equal(p->policy_reason, cases[i].why);
		proposal_free(p);
	}
	c.policy.by_risk[RISK_HIGH] = POLICY_DENY;
	{
		struct proposal *p = mk("revoke", "role app", 0.95);

		assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_DENY);
		assert_string_equal(p->policy_reason, "risk high: deny (policy.high)");
		proposal_free(p);
	}
	config_release(&c);
}

/* A proposal never ranks below its action's risk. */
static void test_risk_never_below_action(void **state)
{
	struct config c;
	struct proposal *p = mk("drop_index", "public.t_idx", 0.99);

	(void)state;
	config_init_defaults(&c);
	c.policy.by_risk[RISK_LOW] = POLICY_ALLOW;
	p->risk = RISK_LOW;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_APPROVAL);
	assert_string_equal(p->policy_reason, "risk high: approval (policy.high)");
	proposal_free(p);
	config_release(&c);
}

static void test_action_override(void **state)
{
	struct config c;
	struct proposal *p;

	(void)state;
	config_init_defaults(&c);
	c.policy.actions = xcalloc(2, sizeof(*c.policy.actions));
	c.policy.actions[0] = (struct config_action_rule){ xstrdup("terminate_backend"),
	                                                  POLICY_ALLOW };
	c.policy.actions[1] = (struct config_action_rule){ xstrdup("analyze"), POLICY_DENY };
	c.policy.nactions = 2;

	p = mk("terminate_backend", "pid 4711", 0.95);
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_ALLOW);
	assert_string_equal(p->policy_reason, "terminate_backend: allow (policy.actions)");
	proposal_free(p);

	p = mk("analyze", "public.t", 0.95);
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_DENY);
	assert_string_equal(p->policy_reason, "analyze: deny (policy.actions)");
	proposal_free(p);

	/* cancel_backend has no rule of its own: its risk decides */
	p = mk("cancel_backend", "pid 4711", 0.95);
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_ALLOW);
	assert_string_equal(p->policy_reason, "risk low: allow (policy.low)");
	proposal_free(p);
	config_release(&c);
}

/* Even a config struct built by hand cannot make a critical action run alone. */
static void test_critical_never_allow(void **state)
{
	struct config c;
	struct proposal *p = mk("shell", "host db1", 0.99);

	(void)state;
	config_init_defaults(&c);
	c.policy.by_risk[RISK_CRITICAL] = POLICY_ALLOW;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_APPROVAL);
	assert_string_equal(p->policy_reason, "risk critical: allow (policy.critical); "
	                    "critical actions always need approval");
	proposal_free(p);
	config_release(&c);
}

/* ---------------------------------------------------------------- confidence */

static void test_confidence(void **state)
{
	struct config c;
	struct proposal *p;

	(void)state;
	config_init_defaults(&c);
	p = mk("analyze", "public.t", 0.62);
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_ESCALATE);
	assert_string_equal(p->policy_reason, "risk low: allow (policy.low); confidence "
	                    "0.62 < 0.70: escalate only (policy.escalate_below)");
	proposal_free(p);

	p = mk("analyze", "public.t", 0.80);
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_APPROVAL);
	assert_string_equal(p->policy_reason, "risk low: allow (policy.low); confidence "
	                    "0.80 < 0.85: approval (policy.approval_below)");
	proposal_free(p);

	p = mk("analyze", "public.t", 0.85);
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_ALLOW);
	proposal_free(p);
	config_release(&c);
}

/* ---------------------------------------------------------------- blast radius */

static void test_max_sessions(void **state)
{
	struct config c;
	struct proposal *p;

	(void)state;
	config_init_defaults(&c);
	p = mk("terminate_backend", "5 sessions", 0.95);
	p->sessions = 5;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_DENY);
	assert_string_equal(p->policy_reason, "risk medium: approval (policy.medium); "
	                    "ends 5 sessions > 3 (policy.max_sessions)");
	proposal_free(p);

	p = mk("cancel_backend", "4 sessions", 0.95);
	p->sessions = 4;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_DENY);
	assert_has(p->policy_reason, "cancels statements of 4 sessions > 3 "
	           "(policy.max_sessions)");
	proposal_free(p);

	p = mk("terminate_backend", "3 sessions", 0.95);
	p->sessions = 3;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_APPROVAL);
	proposal_free(p);
	config_release(&c);
}

static void test_vacuum_full(void **state)
{
	struct config c;
	struct proposal *p;

	(void)state;
	config_init_defaults(&c);
	p = mk("vacuum", "public.big", 0.95);
	p->params = json_pack("{s:s, s:b}", "table", "public.big", "full", 1);
	p->risk = RISK_HIGH;
	p->table_bytes = 3LL << 30;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_DENY);
	assert_string_equal(p->policy_reason, "risk high: approval (policy.high); VACUUM "
	                    "FULL of public.big (3.0 GiB) > 1.0 GiB: its ACCESS EXCLUSIVE "
	                    "lock would last too long (policy.vacuum_full_max_bytes)");

	p->table_bytes = 100LL << 20;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_APPROVAL);
	assert_string_equal(p->policy_reason, "risk high: approval (policy.high)");

	p->table_bytes = -1;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_APPROVAL);
	assert_has(p->policy_reason, "VACUUM FULL of public.big, size unknown");

	/* a plain VACUUM of a big table is not limited */
	json_object_set_new(p->params, "full", json_false());
	p->table_bytes = 50LL << 30;
	p->risk = RISK_MEDIUM;
	assert_int_equal(policy_decide(&c, NULL, p, SAT), DECISION_APPROVAL);
	assert_string_equal(p->policy_reason, "risk medium: approval (policy.medium)");
	proposal_free(p);
	config_release(&c);
}

/* ---------------------------------------------------------------- history */

static void test_rate_limit(void **state)
{
	struct config c;
	struct policy_state *st = policy_state_new();
	struct proposal *p = mk("analyze", "public.t", 0.95);

	(void)state;
	config_init_defaults(&c);
	c.policy.idempotency_min = 0;   /* only the rate limit here */
	for (int i = 0; i < 5; i++)
		policy_note_run(st, "analyze", "public.t", SAT - 3000 + i * 60, 10 + i);
	policy_note_run(st, "analyze", "public.t", SAT - 2 * HOUR, 5);   /* too old */
	policy_note_run(st, "analyze", "public.u", SAT - 60, 20);        /* other target */
	policy_note_run(st, "vacuum", "public.t", SAT - 60, 21);         /* other action */
	assert_int_equal(policy_decide(&c, st, p, SAT), DECISION_ALLOW);

	policy_note_run(st, "analyze", "public.t", SAT - 600, 30);
	assert_int_equal(policy_decide(&c, st, p, SAT), DECISION_DENY);
	assert_string_equal(p->policy_reason, "risk low: allow (policy.low); analyze on "
	                    "public.t ran 6 times in the last hour, limit 6 "
	                    "(policy.rate_limit_per_hour)");
	proposal_free(p);
	policy_state_free(st);
	config_release(&c);
}

static void test_idempotency(void **state)
{
	struct config c;
	struct policy_state *st = policy_state_new();
	struct proposal *p = mk("terminate_backend", "pid 4711", 0.95);

	(void)state;
	config_init_defaults(&c);
	policy_note_run(st, "terminate_backend", "pid 4711", SAT - 180, 41);
	assert_int_equal(policy_decide(&c, st, p, SAT), DECISION_SKIP);
	assert_string_equal(p->policy_reason, "risk medium: approval (policy.medium); "
	                    "terminate_backend on pid 4711 ran 3 min ago (audit seq 41): "
	                    "skipped (policy.idempotency_min)");
	/* 11 minutes later it may run again */
	assert_int_equal(policy_decide(&c, st, p, SAT + 480), DECISION_APPROVAL);
	/* 0: never skipped */
	c.policy.idempotency_min = 0;
	assert_int_equal(policy_decide(&c, st, p, SAT), DECISION_APPROVAL);
	proposal_free(p);
	policy_state_free(st);
	config_release(&c);
}

/* ---------------------------------------------------------------- windows */

static void test_window_specs(void **state)
{
	static const char *const good[] = {
		"Sat 02:00-04:00", "daily 01:00-05:00", "Mon-Fri 22:00-06:00",
		"sat,sun 00:00-24:00", "Fri-Mon 23:30-00:30", "Tue 00:00-23:59",
	};
	static const struct { const char *spec, *why; } bad[] = {
		{ "Sat", "needs days and hours" },
		{ "Caturday 02:00-04:00", "'Caturday' is not a day" },
		{ "Mon-Fro 02:00-04:00", "'Fro' is not a day" },
		{ "Sat 2:00-4:00", "the hours must read HH:MM-HH:MM" },
		{ "Sat 02:00-25:00", "the hours must read HH:MM-HH:MM" },
		{ "Sat 02:60-03:00", "the hours must read HH:MM-HH:MM" },
		{ "Sat 02:00-04:00 extra", "the hours must read HH:MM-HH:MM" },
		{ "daily 03:00-03:00", "is empty" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (!policy_window_valid(good[i], err, sizeof(err)))
			fail_msg("'%s': %s", good[i], err);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_false(policy_window_valid(bad[i].spec, err, sizeof(err)));
		assert_has(err, bad[i].why);
	}
	assert_false(policy_window_valid("Sat", NULL, 0));
}

static void test_in_window(void **state)
{
	char *weekend[] = { (char *)"Sat 02:00-04:00" };
	char *nights[] = { (char *)"Mon-Fri 22:00-06:00" };
	char *two[] = { (char *)"Sun 10:00-11:00", (char *)"daily 01:00-02:00" };

	(void)state;
	assert_true(policy_in_window(NULL, 0, SAT));
	assert_true(policy_in_window(weekend, 1, SAT + 2 * HOUR));
	assert_true(policy_in_window(weekend, 1, SAT + 3 * HOUR + 59 * 60));
	assert_false(policy_in_window(weekend, 1, SAT + 4 * HOUR));
	assert_false(policy_in_window(weekend, 1, SAT + DAY + 3 * HOUR));   /* Sunday */
	/* Friday 22:00 until Saturday 06:00 */
	assert_true(policy_in_window(nights, 1, SAT - 2 * HOUR));
	assert_true(policy_in_window(nights, 1, SAT + 5 * HOUR));
	assert_false(policy_in_window(nights, 1, SAT + 6 * HOUR));
	assert_false(policy_in_window(nights, 1, SAT + 23 * HOUR));         /* Sat night */
	assert_false(policy_in_window(nights, 1, SAT + DAY + DAY + 3 * HOUR)); /* Mon 03:00 */
	assert_true(policy_in_window(nights, 1, SAT + 3 * DAY + 3 * HOUR));   /* Tue 03:00 */
	assert_false(policy_in_window(nights, 1, SAT - 10 * HOUR));         /* Fri 14:00 */
	assert_true(policy_in_window(two, 2, SAT + DAY + 10.5 * HOUR));
	assert_true(policy_in_window(two, 2, SAT + 1.5 * HOUR));
	assert_false(policy_in_window(two, 2, SAT + 10.5 * HOUR));
}

static void test_window_rule(void **state)
{
	struct config c;
	struct proposal *p;

	(void)state;
	config_init_defaults(&c);
	free(c.policy.maintenance_windows);   /* the default: an empty list */
	c.policy.maintenance_windows = xcalloc(2, sizeof(char *));
	c.policy.maintenance_windows[0] = xstrdup("Sat 02:00-04:00");
	c.policy.nmaintenance_windows = 1;

	p = mk("drop_index", "public.t_idx", 0.95);
	assert_int_equal(policy_decide(&c, NULL, p, SAT + 12 * HOUR), DECISION_DENY);
	assert_string_equal(p->policy_reason, "risk high: approval (policy.high); risk high "
	                    "outside the maintenance windows (Sat 02:00-04:00): waits for one "
	                    "(policy.maintenance_windows)");
	assert_int_equal(policy_decide(&c, NULL, p, SAT + 3 * HOUR), DECISION_APPROVAL);
	proposal_free(p);

	/* medium risk does not wait for a window */
	p = mk("terminate_backend", "pid 1", 0.95);
	assert_int_equal(policy_decide(&c, NULL, p, SAT + 12 * HOUR), DECISION_APPROVAL);
	proposal_free(p);
	config_release(&c);
}

/* ---------------------------------------------------------------- order */

/* deny > escalate > skip > approval > allow, and every reason is kept. */
static void test_strictest_wins(void **state)
{
	struct config c;
	struct policy_state *st = policy_state_new();
	struct proposal *p = mk("terminate_backend", "pid 4711", 0.5);

	(void)state;
	config_init_defaults(&c);
	policy_note_run(st, "terminate_backend", "pid 4711", SAT - 60, 7);
	/* escalate (confidence) beats skip (idempotency) beats approval (risk) */
	assert_int_equal(policy_decide(&c, st, p, SAT), DECISION_ESCALATE);
	assert_has(p->policy_reason, "risk medium: approval (policy.medium)");
	assert_has(p->policy_reason, "escalate only (policy.escalate_below)");
	assert_has(p->policy_reason, "ran 60 s ago (audit seq 7): skipped");
	/* deny (blast radius) beats them all */
	p->sessions = 9;
	assert_int_equal(policy_decide(&c, st, p, SAT), DECISION_DENY);
	assert_has(p->policy_reason, "ends 9 sessions > 3 (policy.max_sessions)");
	assert_has(p->policy_reason, "escalate only");
	/* skip beats approval */
	p->sessions = 1;
	p->confidence = 0.95;
	assert_int_equal(policy_decide(&c, st, p, SAT), DECISION_SKIP);
	proposal_free(p);
	policy_state_free(st);
	config_release(&c);
}

/* ---------------------------------------------------------------- gate */

static void test_gate(void **state)
{
	static const struct {
		enum cockpit_mode m;
		enum decision d;
		bool accepted;
		enum policy_gate g;
		const char *why;
	} cases[] = {
		/* observe: nothing, ever */
		{ MODE_OBSERVE, DECISION_ALLOW, true, GATE_REFUSE, "observe mode: nothing runs" },
		{ MODE_OBSERVE, DECISION_APPROVAL, true, GATE_REFUSE, "observe mode" },
		{ MODE_OBSERVE, DECISION_DENY, false, GATE_REFUSE, "observe mode" },
		/* shadow: what would have run is recorded */
		{ MODE_SHADOW, DECISION_ALLOW, false, GATE_SHADOW, "shadow mode: recorded" },
		{ MODE_SHADOW, DECISION_APPROVAL, true, GATE_SHADOW, "nothing ran" },
		{ MODE_SHADOW, DECISION_APPROVAL, false, GATE_REFUSE, "once an operator accepts" },
		{ MODE_SHADOW, DECISION_DENY, true, GATE_REFUSE, "policy says deny" },
		/* assist: only what an operator accepted */
		{ MODE_ASSIST, DECISION_ALLOW, false, GATE_REFUSE, "assist mode, policy says allow" },
		{ MODE_ASSIST, DECISION_ALLOW, true, GATE_RUN, "assist mode, policy allow, accepted" },
		{ MODE_ASSIST, DECISION_APPROVAL, false, GATE_REFUSE, "once an operator accepts" },
		{ MODE_ASSIST, DECISION_APPROVAL, true, GATE_RUN, "runs" },
		{ MODE_ASSIST, DECISION_DENY, true, GATE_REFUSE, "policy says deny" },
		{ MODE_ASSIST, DECISION_ESCALATE, true, GATE_REFUSE, "policy says escalate" },
		{ MODE_ASSIST, DECISION_SKIP, true, GATE_REFUSE, "policy says skip" },
		/* auto: allow runs alone, approval with an operator */
		{ MODE_AUTO, DECISION_ALLOW, false, GATE_RUN, "auto mode, policy allow: runs" },
		{ MODE_AUTO, DECISION_APPROVAL, false, GATE_REFUSE, "auto mode, policy says approval" },
		{ MODE_AUTO, DECISION_APPROVAL, true, GATE_RUN, "runs" },
		{ MODE_AUTO, DECISION_DENY, true, GATE_REFUSE, "policy says deny" },
		{ MODE_AUTO, DECISION_SKIP, false, GATE_REFUSE, "policy says skip" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char why[256] = "";
		enum policy_gate g = policy_gate(cases[i].m, cases[i].d, cases[i].accepted, why,
		                                 sizeof(why));

		if (g != cases[i].g)
			fail_msg("case %zu: gate %d, expected %d (%s)", i, g, cases[i].g, why);
		assert_has(why, cases[i].why);
		assert_int_equal(policy_gate(cases[i].m, cases[i].d, cases[i].accepted, NULL, 0),
		                 cases[i].g);
	}
}

/* ---------------------------------------------------------------- audit */

static void test_load_audit(void **state)
{
	char dir[] = "/tmp/test_policy.XXXXXX", path[256], err[512];
	struct audit *a;
	struct policy_state *st = policy_state_new();
	struct config c;
	struct proposal *p = mk("terminate_backend", "pid 4711", 0.95);
	double now = (double)time(NULL);
	json_t *f;

	(void)state;
	config_init_defaults(&c);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	assert_int_equal(policy_state_load_audit(st, path, now, err, sizeof(err)), 0);

	a = audit_open(path, err, sizeof(err));
	assert_non_null(a);
	f = json_pack("{s:s, s:s, s:s}", "proposal_id", "abc", "action", "terminate_backend",
	              "target", "pid 4711");
	assert_int_equal(audit_append(a, "exec.start", f, err, sizeof(err)), 0);
	assert_int_equal(audit_append(a, "exec.done", f, err, sizeof(err)), 0);
	json_decref(f);
	f = json_pack("{s:s, s:s}", "action", "analyze", "target", "public.t");
	assert_int_equal(audit_append(a, "exec.error", f, err, sizeof(err)), 0);
	json_decref(f);
	audit_close(a);

	assert_int_equal(policy_state_load_audit(st, path, now, err, sizeof(err)), 0);
	assert_int_equal(policy_decide(&c, st, p, now + 1), DECISION_SKIP);
	assert_has(p->policy_reason, "terminate_backend on pid 4711 ran ");
	assert_has(p->policy_reason, "(audit seq 2): skipped (policy.idempotency_min)");
	proposal_free(p);

	/* a failed run is no run */
	p = mk("analyze", "public.t", 0.95);
	assert_int_equal(policy_decide(&c, st, p, now + 1), DECISION_ALLOW);
	proposal_free(p);

	/* a day later nothing is remembered */
	policy_state_free(st);
	st = policy_state_new();
	assert_int_equal(policy_state_load_audit(st, path, now + 2 * DAY, err, sizeof(err)), 0);
	p = mk("terminate_backend", "pid 4711", 0.95);
	assert_int_equal(policy_decide(&c, st, p, now + 2 * DAY), DECISION_APPROVAL);
	proposal_free(p);

	/* a directory is not a log */
	assert_int_equal(policy_state_load_audit(st, dir, now, err, sizeof(err)), -1);
	assert_has(err, dir);

	unlink(path);
	rmdir(dir);
	policy_state_free(st);
	config_release(&c);
}

struct noter {
	struct policy_state *st;
	int id;
};

static void *note_many(void *arg)
{
	struct noter *n = arg;
	char target[32];

	snprintf(target, sizeof(target), "pid %d", n->id);
	for (int i = 0; i < 200; i++)
		policy_note_run(n->st, "cancel_backend", target, SAT + i, i + 1);
	return NULL;
}

/* Runs are noted by the executor while the brain decides. */
static void test_threads(void **state)
{
	struct policy_state *st = policy_state_new();
	struct noter n[4];
	pthread_t t[4];
	struct config c;
	struct proposal *p = mk("cancel_backend", "pid 2", 0.95);

	(void)state;
	config_init_defaults(&c);
	for (int i = 0; i < 4; i++) {
		n[i] = (struct noter){ st, i };
		assert_int_equal(pthread_create(&t[i], NULL, note_many, &n[i]), 0);
	}
	for (int i = 0; i < 50; i++)
		policy_decide(&c, st, p, SAT + 300);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(policy_decide(&c, st, p, SAT + 300), DECISION_DENY);
	assert_has(p->policy_reason, "cancel_backend on pid 2 ran 200 times in the last hour");
	assert_has(p->policy_reason, "(audit seq 200): skipped");
	proposal_free(p);
	policy_state_free(st);
	config_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_by_risk, setup),
		cmocka_unit_test_setup(test_risk_never_below_action, setup),
		cmocka_unit_test_setup(test_action_override, setup),
		cmocka_unit_test_setup(test_critical_never_allow, setup),
		cmocka_unit_test_setup(test_confidence, setup),
		cmocka_unit_test_setup(test_max_sessions, setup),
		cmocka_unit_test_setup(test_vacuum_full, setup),
		cmocka_unit_test_setup(test_rate_limit, setup),
		cmocka_unit_test_setup(test_idempotency, setup),
		cmocka_unit_test_setup(test_window_specs, setup),
		cmocka_unit_test_setup(test_in_window, setup),
		cmocka_unit_test_setup(test_window_rule, setup),
		cmocka_unit_test_setup(test_strictest_wins, setup),
		cmocka_unit_test_setup(test_gate, setup),
		cmocka_unit_test_setup(test_load_audit, setup),
		cmocka_unit_test_setup(test_threads, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
