/*
 * test_runbook: the runbook loader and the bindings (src/think/runbook.c).
 *
 * A full runbook (tests/data/runbooks/full.yaml) is loaded and every value
 * checked; the broken samples (tests/data/runbooks/bad-*.yaml) carry their
 * expected messages as "# expect:" lines; a table of small texts covers the
 * other classes of error with their exact FILE:LINE:COL and fix; the
 * bindings, `when` conditions and verify expectations are tables of cases;
 * tests/data/runbooks/dir is loaded as a directory (a duplicate name across
 * two files, a name that is not its file's, a broken file, two good ones);
 * every shipped runbook (runbooks/) and the example of runbooks/README.md
 * must load without a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/expect.h"
#include "think/runbook.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- helpers */

static int load_str(struct runbook_set *set, const char *yaml, char **errs)
{
	return runbook_load_buffer(set, "rb.yaml", yaml, strlen(yaml), errs);
}

static int load_sample(const char *name, const char *text, size_t len, char **errs)
{
	struct runbook_set set = { 0 };
	int ret = runbook_load_buffer(&set, name, text, len, errs);

	runbook_set_release(&set);
	return ret;
}

static json_t *parse_json(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &err);

	if (!j)
		fail_msg("bad JSON in the test: %s: %s", text, err.text);
	return j;
}

/* A valid runbook with one action of the given lines (indented 4). */
static char *with_action(const char *lines)
{
	const char *head = "name: t\ntitle: T\nseverity: info\ntrigger: {detector: lock_chain}\n"
	                   "guidance: g\nactions:\n  - action: cancel_backend\n";
	const char *tail = "drill: {setup: SELECT 1;}\n";
	size_t n = strlen(head) + strlen(lines) + strlen(tail) + 1;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "%s%s%s", head, lines, tail);
	return s;
}

/* ---------------------------------------------------------------- loading */

static void test_full_round_trip(void **state)
{
	struct runbook_set set = { 0 };
	char *path = expect_top_path("tests/data/runbooks/full.yaml");
	size_t len;
	char *text = expect_slurp(path, &len), *errs = NULL;
	const struct runbook *r;
	const struct runbook_action *a;

	(void)state;
	assert_int_equal(runbook_load_buffer(&set, "full.yaml", text, len, &errs), 0);
	assert_null(errs);
	assert_int_equal(set.n, 1);
	r = runbook_find(&set, "full");
	assert_ptr_equal(r, &set.v[0]);
	assert_null(runbook_find(&set, "nope"));
	assert_string_equal(r->name, "full");
	assert_string_equal(r->file, "full.yaml");
	assert_string_equal(r->title, "Lock chain behind a root blocker");
	assert_int_equal(r->severity, SEVERITY_CRITICAL);
	assert_string_equal(severity_name(r->severity), "critical");
	assert_string_equal(r->detector, "lock_chain");
	assert_true(runbook_threshold(r, "min_waiters", 9) == 2);
	assert_true(json_is_integer(json_object_get(r->thresholds, "min_waiters")));
	assert_true(runbook_threshold(r, "wait_ms", 9) == 1500.5);
	assert_true(runbook_threshold(r, "absent", 9) == 9);
	assert_int_equal(json_object_size(r->thresholds), 2);

	assert_int_equal(r->ncontext, 2);
	assert_string_equal(r->context[0].name, "blocker_locks");
	assert_string_equal(r->context[0].sql,
	                    "SELECT locktype, mode FROM pg_locks WHERE pid = $1");
	assert_int_equal(json_array_size(r->context[0].args), 1);
	assert_string_equal(json_string_value(json_array_get(r->context[0].args, 0)),
	                    "{root.pid}");
	assert_string_equal(r->context[1].name, "settings");
	assert_null(r->context[1].args);
	assert_string_equal(r->guidance, "The root blocker holds what the others wait for.\n"
	                    "Cancel it when it runs; terminate it when idle in transaction.\n");
	assert_false(r->report_only);

	assert_int_equal(r->nactions, 2);
	a = &r->actions[0];
	assert_string_equal(a->action, "cancel_backend");
	assert_int_equal(a->line, 18);
	assert_int_equal(a->risk, RISK_MEDIUM);
	assert_true(a->risk_given);
	assert_true(a->confidence == 0.9);
	assert_string_equal(a->rationale, "{root.pid} has run for {root.query_age_s}s while "
	                    "{waiters} sessions wait");
	assert_string_equal(json_string_value(json_object_get(a->when, "root.state")), "active");
	assert_string_equal(json_string_value(json_object_get(a->when, "waiters")), ">= 2");
	assert_string_equal(json_string_value(json_object_get(a->params, "pids")), "{root.pids}");
	assert_string_equal(a->verify.sql, "SELECT count(*) FROM pg_locks WHERE NOT granted "
	                    "AND pid = ANY($1::int[])");
	assert_string_equal(json_string_value(json_array_get(a->verify.args, 0)),
	                    "{waiter_pids}");
	assert_string_equal(a->verify.expect, "< baseline");
	assert_int_equal(a->verify.wait_s, 3);
	assert_int_equal(a->verify.deadline_s, 60);
	assert_int_equal(a->verify.attempts, 2);

	a = &r->actions[1];
	assert_string_equal(a->action, "terminate_backend");
	assert_int_equal(a->line, 31);
	assert_int_equal(a->risk, RISK_MEDIUM);     /* terminate_backend's own */
	assert_false(a->risk_given);
	assert_true(a->confidence == RUNBOOK_CONFIDENCE);
	assert_null(a->rationale);
	assert_null(a->verify.sql);
	assert_null(a->verify.expect);
	assert_int_equal(a->verify.wait_s, RUNBOOK_WAIT_S);
	assert_int_equal(a->verify.deadline_s, RUNBOOK_DEADLINE_S);
	assert_int_equal(a->verify.attempts, RUNBOOK_ATTEMPTS);
	{
		json_t *states = json_object_get(a->when, "root.state");
		json_t *pids = json_object_get(a->params, "pids");

		assert_int_equal(json_array_size(states), 2);
		assert_string_equal(json_string_value(json_array_get(states, 1)),
		                    "idle in transaction (aborted)");
		assert_string_equal(json_string_value(json_object_get(a->when,
		                    "root.application_name")), "!pgbench");
		assert_int_equal(json_integer_value(json_array_get(pids, 0)), 4711);
		assert_string_equal(json_string_value(json_array_get(pids, 1)), "{root.pid}");
	}

	assert_string_equal(r->drill.setup, "CREATE TABLE drill_lock (id int PRIMARY KEY, "
	                    "v int); INSERT INTO drill_lock VALUES (1, 0);");
	assert_int_equal(r->drill.nsessions, 2);
	assert_string_equal(r->drill.sessions[0], "BEGIN; UPDATE drill_lock SET v = v + 1 "
	                    "WHERE id = 1;");
	assert_string_equal(r->drill.sessions[1], "UPDATE drill_lock SET v = v + 2 WHERE id = 1;");
	assert_int_equal(r->drill.settle_s, 3);
	assert_string_equal(r->drill.cleanup, "DROP TABLE IF EXISTS drill_lock;");

	runbook_set_release(&set);
	assert_null(set.v);
	assert_int_equal(set.n, 0);
	free(text);
	free(path);
}

static void test_defaults_and_report_only(void **state)
{
	struct runbook_set set = { 0 };
	char *errs = NULL;
	const struct runbook *r;
	char *yaml = with_action("    params: {pids: \"{root.pids}\"}\n");

	(void)state;
	assert_int_equal(load_str(&set, yaml, &errs), 0);
	r = &set.v[0];
	assert_int_equal(r->actions[0].risk, RISK_LOW);
	assert_false(r->actions[0].risk_given);
	assert_null(r->actions[0].when);
	assert_true(r->actions[0].confidence == 0.8);
	assert_int_equal(r->actions[0].verify.wait_s, 2);
	assert_int_equal(r->actions[0].verify.deadline_s, 30);
	assert_int_equal(r->actions[0].verify.attempts, 1);
	assert_int_equal(r->drill.settle_s, 2);
	assert_int_equal(r->drill.nsessions, 0);
	assert_null(r->drill.cleanup);
	assert_int_equal(r->ncontext, 0);
	assert_true(json_is_object(r->thresholds));
	assert_int_equal(json_object_size(r->thresholds), 0);
	free(yaml);

	/* a report-only runbook: no actions at all, or an empty list */
	assert_int_equal(load_str(&set, "name: r\ntitle: T\nseverity: warning\n"
	                          "trigger: {detector: deadlock}\nguidance: g\n"
	                          "report_only: true\ndrill: {sessions: [SELECT 1]}\n", &errs), 0);
	assert_int_equal(set.n, 2);
	assert_true(set.v[1].report_only);
	assert_int_equal(set.v[1].nactions, 0);
	assert_int_equal(set.v[1].severity, SEVERITY_WARNING);
	runbook_set_release(&set);

	{
		char *path = expect_top_path("tests/data/runbooks/report-only.yaml");
		size_t len;
		char *text = expect_slurp(path, &len);

		assert_int_equal(runbook_load_buffer(&set, "report-only.yaml", text, len, &errs), 0);
		assert_true(set.v[0].report_only);
		runbook_set_release(&set);
		free(text);
		free(path);
	}
}

static void test_bad_files(void **state)
{
	(void)state;
	assert_true(expect_sample_files("tests/data/runbooks", "bad-", load_sample) >= 7);
}

/* One text, its exact first message (or a part of it), how many messages. */
static const struct error_case {
	const char *what;
	const char *yaml;
	const char *expect[3];
	size_t lines;
} error_cases[] = {
	{ "empty file", "", { "rb.yaml: the file is empty — a runbook needs name," }, 1 },
	{ "comments only", "# nothing\n", { "rb.yaml: the file is empty" }, 1 },
	{ "top level list", "- a\n- b\n",
	  { "rb.yaml:1:1: 'the top level' must be a mapping of keys, got a list — start "
	    "the file with 'name: NAME'" }, 1 },
	{ "tab indentation", "name: x\ntrigger:\n\tdetector: lock_chain\n",
	  { "rb.yaml:3:1: invalid YAML:", "indent with spaces" }, 1 },
	{ "second document", "name: x\n---\nname: y\n",
	  { "rb.yaml:2:1: a second YAML document starts here — a runbook file holds one" }, 0 },
	{ "nul byte", "name: \"a\\0b\"\n", { "rb.yaml:1:7: 'name' holds a NUL byte" }, 0 },
	{ "key twice", "name: a\nname: b\n",
	  { "rb.yaml:2:1: 'name' is set twice (first at line 1) — keep one" }, 0 },
	{ "bad name", "name: lock chain\n",
	  { "rb.yaml:1:7: runbook name 'lock chain' may hold only up to 64 letters, "
	    "digits, '-' and '_'" }, 0 },
	{ "alias", "name: &n x\ntitle: *n\n",
	  { "rb.yaml:1:7: a YAML alias ('*name') is used here — runbooks do not take "
	    "anchors and aliases: write the value out" }, 1 },
	{ "nesting", "name: x\ntrigger: {thresholds: [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}\n",
	  { "rb.yaml:2:", "the YAML nests deeper than 12 levels" }, 1 },
	{ "missing detector in trigger",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {thresholds: {a: 1}}\nguidance: g\n"
	  "report_only: true\ndrill: {setup: s}\n",
	  { "rb.yaml:4:10: missing required key 'detector' in 'trigger' — add 'detector: "
	    "lock_chain'" }, 1 },
	{ "unknown detector without a guess",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: zzz}\nguidance: g\n"
	  "report_only: true\ndrill: {setup: s}\n",
	  { "rb.yaml:4:21: unknown detector 'zzz' — use one of: lock_chain, deadlock" }, 1 },
	{ "threshold name",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat, thresholds: "
	  "{a.b: 1}}\nguidance: g\nreport_only: true\ndrill: {setup: s}\n",
	  { "rb.yaml:4:41: threshold names must be words of letters, digits and '_', got "
	    "'a.b'" }, 1 },
	{ "thresholds not a mapping",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat, thresholds: 5}\n"
	  "guidance: g\nreport_only: true\ndrill: {setup: s}\n",
	  { "rb.yaml:4:40: 'thresholds' must be a mapping, got '5' — write a mapping of "
	    "names to numbers" }, 1 },
	{ "context without sql, duplicate name",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat}\nguidance: g\n"
	  "report_only: true\ncontext:\n  - {name: q, sql: SELECT 1}\n  - name: q\n"
	  "drill: {setup: s}\n",
	  { "rb.yaml:9:5: missing required key 'sql' in a context query — add 'sql: SELECT",
	    "rb.yaml:9:11: context query 'q' is defined twice — give each query its own name" },
	  2 },
	{ "args unquoted binding",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat}\nguidance: g\n"
	  "report_only: true\ncontext:\n  - {name: q, sql: s, args: [{root.pid}]}\n"
	  "drill: {setup: s}\n",
	  { "rb.yaml:8:30: 'context.args': {root.pid} without quotes is a YAML mapping, not "
	    "a binding — quote it: \"{root.pid}\"" }, 1 },
	{ "actions not a list",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat}\nguidance: g\n"
	  "actions: {action: vacuum}\ndrill: {setup: s}\n",
	  { "rb.yaml:6:10: 'actions' must be a list, got a mapping — write a list of actions" },
	  1 },
	{ "threshold without a value",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat, thresholds: "
	  "{dead_ratio}}\nguidance: g\nreport_only: true\ndrill: {setup: s}\n",
	  { "rb.yaml:4:41: 'thresholds.dead_ratio' has no value — write a number: 'dead_ratio: 1'" }, 1 },
	{ "no actions, not report_only",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat}\nguidance: g\n"
	  "drill: {setup: s}\n",
	  { "rb.yaml:1:1: missing required key 'actions' — add a list of actions, or "
	    "'report_only: true'" }, 1 },
	{ "missing drill",
	  "name: x\ntitle: T\nseverity: info\ntrigger: {detector: bloat}\nguidance: g\n"
	  "report_only: true\n",
	  { "rb.yaml:1:1: missing required key 'drill' — add 'drill:' with 'setup:'" }, 1 },
	{ "unknown action without a guess", NULL,
	  { "unknown action 'frobnicate' — use one of: cancel_backend, terminate_backend" }, 1 },
	{ "risk below own", NULL,
	  { "risk low is below terminate_backend's own risk medium — omit risk or raise it" }, 1 },
	{ "param of an action without params", NULL,
	  { "unknown parameter 'x' — action 'checkpoint' takes no parameters: remove "
	    "'params'" }, 1 },
	{ "missing verify expect", NULL,
	  { "missing required key 'expect' in 'verify' — add 'expect: \"< baseline\"'" }, 1 },
	{ "condition list nested", NULL,
	  { "condition of 'a' cannot be a list — a condition is a value, \"< 5\", \"!idle\" "
	    "(lists do not nest)" }, 1 },
	{ "condition mapping", NULL,
	  { "condition of 'a' cannot be a mapping" }, 1 },
	{ "confidence not a number", NULL,
	  { "'confidence' must be a number, got 'high' — a confidence is between 0 and 1" }, 1 },
	{ "unquoted binding inside a list", NULL,
	  { "rb.yaml:8:27: 'params.pids': {root.pid} without quotes is a YAML mapping, not "
	    "a binding — quote it: \"{root.pid}\"" }, 1 },
};

/* The action lines of the cases without a whole text, in table order. */
static const char *const action_cases[] = {
	"action: frobnicate\n",
	"action: terminate_backend\n    risk: low\n    params: {pids: [1]}\n",
	"action: checkpoint\n    params: {x: 1}\n",
	"action: checkpoint\n    verify: {sql: SELECT 1}\n",
	"action: checkpoint\n    when: {a: [[1]]}\n",
	"action: checkpoint\n    when: {a: {b: 1, c: 2}}\n",
	"action: checkpoint\n    confidence: high\n",
	"action: terminate_backend\n    params: {pids: [4711, {root.pid}]}\n",
};

static void test_error_cases(void **state)
{
	size_t next_action = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		struct runbook_set set = { 0 };
		char *errs = NULL, *yaml;
		size_t n = 0;

		if (c->yaml) {
			yaml = strdup(c->yaml);
		} else {
			char lines[512];

			assert_true(next_action < ARRAY_SIZE(action_cases));
			snprintf(lines, sizeof(lines), "name: x\ntitle: T\nseverity: info\n"
			         "trigger: {detector: bloat}\nguidance: g\nactions:\n  - %s"
			         "drill: {setup: s}\n", action_cases[next_action++]);
			yaml = strdup(lines);
		}
		assert_non_null(yaml);
		print_message("case: %s\n", c->what);
		assert_int_equal(load_str(&set, yaml, &errs), -1);
		assert_int_equal(set.n, 0);
		while (n < ARRAY_SIZE(c->expect) && c->expect[n])
			n++;
		expect_messages(c->what, errs, "rb.yaml", c->expect, n, NULL, c->lines);
		free(errs);
		free(yaml);
		runbook_set_release(&set);
	}
	assert_int_equal(next_action, ARRAY_SIZE(action_cases));
}

/* A valid action's variants that must load. */
static void test_action_variants(void **state)
{
	static const char *const ok[] = {
		"    params: {pids: [1, 2]}\n    risk: critical\n",
		"    params: {pids: \"{root.pids}\"}\n    when: {a.0.b: [1, \"x\", true, null]}\n",
		"    params: {pids: \"{root.pids}\"}\n    when: {a: \"!= 0\", b: \"!idle\", c: \"!< 5\"}\n",
		"    params: {pids: \"{root.pids}\"}\n    verify: {sql: s, expect: \">=1\"}\n",
		"    params: {pids: \"{root.pids}\"}\n    verify: {sql: s, expect: \" <= baseline \", "
		"wait_s: 0, deadline_s: 0, attempts: 0}\n",
		"    params: {pids: \"{root.pids}\"}\n    confidence: 0\n    rationale: ~\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct runbook_set set = { 0 };
		char *errs = NULL, *yaml = with_action(ok[i]);

		if (load_str(&set, yaml, &errs) != 0)
			fail_msg("case %zu:\n%s\n%s", i, yaml, errs);
		runbook_set_release(&set);
		free(yaml);
	}
}

/* ---------------------------------------------------------------- directory */

static void test_load_dir(void **state)
{
	struct runbook_set set = { 0 };
	char *dir = expect_top_path("tests/data/runbooks/dir");
	char *errs = NULL, expect[512];
	const char *dup, *beta, *gamma;

	(void)state;
	assert_int_equal(runbook_load_dir(dir, &set, &errs), -1);
	assert_non_null(errs);
	/* the valid files are loaded, the failing ones are not */
	assert_int_equal(set.n, 2);
	assert_string_equal(set.v[0].name, "alpha");
	assert_string_equal(set.v[1].name, "zeta");
	snprintf(expect, sizeof(expect), "%s/alpha.yaml", dir);
	assert_string_equal(set.v[0].file, expect);
	assert_int_equal(expect_count_lines(errs), 3);

	snprintf(expect, sizeof(expect), "%s/alpha.yml:1:7: runbook 'alpha' is already "
	         "defined in %s/alpha.yaml — runbook names must be unique: rename or remove "
	         "one\n", dir, dir);
	assert_contains(errs, expect);
	dup = strstr(errs, expect);
	snprintf(expect, sizeof(expect), "%s/beta.yaml:2:14: invalid YAML: mapping values "
	         "are not allowed", dir);
	assert_contains(errs, expect);
	beta = strstr(errs, expect);
	snprintf(expect, sizeof(expect), "%s/gamma.yaml:1:7: runbook name 'delta' differs "
	         "from its file's name — a runbook is named after its file: write 'name: "
	         "gamma' or rename the file\n", dir);
	assert_contains(errs, expect);
	gamma = strstr(errs, expect);
	/* in file order */
	assert_true(dup < beta && beta < gamma);
	assert_not_contains(errs, "notes.txt");
	free(errs);
	runbook_set_release(&set);

	/* a missing directory */
	assert_int_equal(runbook_load_dir("/nonexistent/runbooks", &set, &errs), -1);
	assert_contains(errs, "/nonexistent/runbooks: cannot open the runbooks directory: "
	                "No such file or directory — check paths.runbooks_dir");
	assert_int_equal(set.n, 0);
	free(errs);
	free(dir);
}

/* Two buffers with one name: the second names the first's file. */
static void test_duplicate_buffers(void **state)
{
	struct runbook_set set = { 0 };
	char *errs = NULL, *yaml = with_action("    params: {pids: \"{p}\"}\n");

	(void)state;
	assert_int_equal(runbook_load_buffer(&set, "one.yaml", yaml, strlen(yaml), &errs), 0);
	assert_int_equal(runbook_load_buffer(&set, "two.yaml", yaml, strlen(yaml), &errs), -1);
	assert_string_equal(errs, "two.yaml:1:7: runbook 't' is already defined in one.yaml — "
	                    "runbook names must be unique: rename or remove one\n");
	assert_int_equal(set.n, 1);
	free(errs);
	free(yaml);
	runbook_set_release(&set);
}

static void test_shipped_runbooks(void **state)
{
	struct runbook_set set = { 0 };
	char *dir = expect_top_path("runbooks");
	char *errs = NULL;

	(void)state;
	if (runbook_load_dir(dir, &set, &errs) != 0)
		fail_msg("the shipped runbooks must load:\n%s", errs);
	for (size_t i = 0; i < set.n; i++)
		print_message("runbook %s: %zu actions\n", set.v[i].name, set.v[i].nactions);
	runbook_set_release(&set);
	free(dir);
}

/* The complete example of runbooks/README.md loads as it is written. */
static void test_readme_example(void **state)
{
	struct runbook_set set = { 0 };
	char *path = expect_top_path("runbooks/README.md");
	char *text = expect_slurp(path, NULL), *errs = NULL;
	char *start = strstr(text, "```yaml\nname: "), *end;

	(void)state;
	assert_non_null(start);
	start += strlen("```yaml\n");
	end = strstr(start, "```");
	assert_non_null(end);
	if (runbook_load_buffer(&set, "README.md", start, (size_t)(end - start), &errs) != 0)
		fail_msg("the README's example does not load:\n%s", errs);
	assert_string_equal(set.v[0].name, "lock-chain");
	assert_int_equal(set.v[0].nactions, 2);
	runbook_set_release(&set);
	free(text);
	free(path);
}

/* ---------------------------------------------------------------- bindings */

static const char *const evidence_text =
	"{\"root\": {\"pid\": 4711, \"state\": \"idle in transaction\", \"pids\": [4711, 4712],"
	" \"age\": 12.5, \"name\": \"app\", \"ok\": true, \"none\": null, \"n\": \"42\","
	" \"obj\": {\"a\": 1}},"
	" \"waiters\": [{\"pid\": 1}, {\"pid\": 2, \"q\": \"say \\\"hi\\\"\"}],"
	" \"count\": 3, \"a-b\": {\"c_d\": \"x\"}, \"0\": \"zero\"}";

static void test_path(void **state)
{
	json_t *ev = parse_json(evidence_text);
	static const struct {
		const char *path;
		const char *json;   /* expected value, NULL: missing */
	} cases[] = {
		{ "root.pid", "4711" },
		{ "root.pids", "[4711, 4712]" },
		{ "root.pids.1", "4712" },
		{ "root.pids.2", NULL },
		{ "root.pids.01", NULL },
		{ "root.pids.-1", NULL },
		{ "waiters.0.pid", "1" },
		{ "waiters.1.pid", "2" },
		{ "waiters.x", NULL },
		{ "count", "3" },
		{ "a-b.c_d", "\"x\"" },
		{ "0", "\"zero\"" },
		{ "root.none", "null" },
		{ "root.obj.a", "1" },
		{ "root.pid.x", NULL },
		{ "root..pid", NULL },
		{ ".root", NULL },
		{ "root.", NULL },
		{ "", NULL },
		{ "root pid", NULL },
		{ "nothing", NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *got = runbook_path(ev, cases[i].path);

		print_message("path: '%s'\n", cases[i].path);
		if (!cases[i].json) {
			assert_null(got);
		} else {
			json_t *want = parse_json(cases[i].json);

			assert_true(json_equal(got, want));
			json_decref(want);
		}
	}
	assert_null(runbook_path(NULL, "root"));
	assert_null(runbook_path(ev, NULL));
	json_decref(ev);
}

static void test_bind_value(void **state)
{
	json_t *ev = parse_json(evidence_text);
	static const struct {
		const char *tmpl;
		const char *json;   /* NULL: unbound */
	} cases[] = {
		{ "\"{root.pid}\"", "4711" },
		{ "\"{root.pids}\"", "[4711, 4712]" },
		{ "\"{root.obj}\"", "{\"a\": 1}" },
		{ "\"{root.none}\"", "null" },
		{ "\"{missing}\"", NULL },
		{ "\"plain text\"", "\"plain text\"" },
		{ "\"{not a path}\"", "\"{not a path}\"" },
		{ "\"{}\"", "\"{}\"" },
		{ "\"idx_{root.name}_pid\"", "\"idx_app_pid\"" },
		{ "\"{root.pid}-{count}\"", "\"4711-3\"" },
		{ "\"x{missing}\"", NULL },
		{ "[\"{root.pid}\", 5, \"{count}\"]", "[4711, 5, 3]" },
		{ "[\"{root.pid}\", \"{missing}\"]", NULL },
		{ "{\"t\": \"{root.name}\", \"n\": {\"m\": \"{waiters.1.pid}\"}}",
		  "{\"t\": \"app\", \"n\": {\"m\": 2}}" },
		{ "7", "7" },
		{ "true", "true" },
		{ "null", "null" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *tmpl = parse_json(cases[i].tmpl);
		json_t *got = runbook_bind_value(tmpl, ev);

		print_message("bind: %s\n", cases[i].tmpl);
		if (!cases[i].json) {
			assert_null(got);
		} else {
			json_t *want = parse_json(cases[i].json);

			if (!json_equal(got, want)) {
				char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;

				fail_msg("%s gave %s", cases[i].tmpl, g ? g : "NULL");
			}
			json_decref(want);
		}
		json_decref(got);
		json_decref(tmpl);
	}
	assert_null(runbook_bind_value(NULL, ev));
	json_decref(ev);
}

static void test_bind_text(void **state)
{
	json_t *ev = parse_json(evidence_text);
	static const struct {
		const char *tmpl, *text;
	} cases[] = {
		{ "{root.pid} has run for {root.age}s", "4711 has run for 12.5s" },
		{ "pids {root.pids}", "pids 4711, 4712" },
		{ "state '{root.state}'", "state 'idle in transaction'" },
		{ "{missing} and {root.none}", "? and null" },
		{ "{root.ok}/{count}", "true/3" },
		{ "{root.obj}", "{\"a\":1}" },
		{ "{waiters.1.q}", "say \"hi\"" },
		{ "a {brace and {unclosed", "a {brace and {unclosed" },
		{ "{{root.pid}}", "{4711}" },
		{ "", "" },
	};
	char *s;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		s = runbook_bind_text(cases[i].tmpl, ev);
		assert_string_equal(s, cases[i].text);
		free(s);
	}
	assert_null(runbook_bind_text(NULL, ev));
	s = runbook_bind_text("{root.pid}", NULL);
	assert_string_equal(s, "?");
	free(s);
	json_decref(ev);
}

static void test_bind_param(void **state)
{
	json_t *ev = parse_json(evidence_text);
	static const struct {
		const char *tmpl;
		int ret;
		const char *text;   /* NULL: SQL NULL (or unbound) */
	} cases[] = {
		{ "\"{root.pid}\"", 0, "4711" },
		{ "\"{root.pids}\"", 0, "{\"4711\",\"4712\"}" },
		{ "\"{root.age}\"", 0, "12.5" },
		{ "\"{root.ok}\"", 0, "true" },
		{ "\"{root.none}\"", 0, NULL },
		{ "\"{root.obj}\"", 0, "{\"a\":1}" },
		{ "\"{missing}\"", -1, NULL },
		{ "\"lit\"", 0, "lit" },
		{ "[\"{waiters.1.q}\", null]", 0, "{\"say \\\"hi\\\"\",NULL}" },
		{ "\"pid={root.pid}\"", 0, "pid=4711" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *tmpl = parse_json(cases[i].tmpl);
		char *out = (char *)"unset";

		assert_int_equal(runbook_bind_param(tmpl, ev, &out), cases[i].ret);
		if (cases[i].text)
			assert_string_equal(out, cases[i].text);
		else
			assert_null(out);
		free(out);
		json_decref(tmpl);
	}
	json_decref(ev);
}

static void test_when(void **state)
{
	json_t *ev = parse_json(evidence_text);
	static const struct {
		const char *when;
		bool holds;
	} cases[] = {
		{ "{}", true },
		{ "{\"root.state\": \"idle in transaction\"}", true },
		{ "{\"root.state\": \"idle\"}", false },
		{ "{\"root.state\": \"Idle in transaction\"}", false },     /* exact */
		{ "{\"root.state\": [\"active\", \"idle in transaction\"]}", true },
		{ "{\"root.state\": [\"active\", \"idle\"]}", false },
		{ "{\"root.state\": []}", false },
		{ "{\"root.state\": \"!active\"}", true },
		{ "{\"root.state\": \"!idle in transaction\"}", false },
		{ "{\"missing\": \"!x\"}", true },           /* negation of a missing path holds */
		{ "{\"missing\": \"x\"}", false },
		{ "{\"missing\": null}", false },
		{ "{\"missing\": \"< 5\"}", false },
		{ "{\"missing\": \"!< 5\"}", true },
		{ "{\"root.pid\": 4711}", true },
		{ "{\"root.pid\": 4711.0}", true },
		{ "{\"root.pid\": 4712}", false },
		{ "{\"root.pid\": \"4711\"}", false },         /* a string is not a number */
		{ "{\"root.pid\": \">= 4711\"}", true },
		{ "{\"root.pid\": \"> 4711\"}", false },
		{ "{\"root.age\": \"< 12.6\"}", true },
		{ "{\"root.age\": \"<= 12.5\"}", true },
		{ "{\"root.age\": \"<12.5\"}", false },
		{ "{\"root.age\": \"== 12.5\"}", true },
		{ "{\"root.age\": \"!= 12.5\"}", false },
		{ "{\"root.age\": \"!= 3\"}", true },
		{ "{\"root.age\": \"!< 3\"}", true },
		{ "{\"root.n\": \"> 41\"}", true },            /* a string holding a number */
		{ "{\"root.name\": \"> 1\"}", false },
		{ "{\"count\": [1, 2, \">= 3\"]}", true },
		{ "{\"count\": [\"< 1\", \"> 10\"]}", false },
		{ "{\"root.ok\": true}", true },
		{ "{\"root.ok\": false}", false },
		{ "{\"root.ok\": \"true\"}", false },
		{ "{\"root.none\": null}", true },
		{ "{\"root.none\": \"!x\"}", true },
		{ "{\"waiters.1.pid\": 2, \"count\": \"> 2\"}", true },   /* all must hold */
		{ "{\"waiters.1.pid\": 2, \"count\": \"> 3\"}", false },
		{ "{\"root.state\": \"!\"}", true },           /* not the empty string */
		{ "{\"root.obj\": {\"a\": 1}}", false },        /* mappings are no condition */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *when = parse_json(cases[i].when);

		if (runbook_when_holds(when, ev) != cases[i].holds)
			fail_msg("when %s: expected %s", cases[i].when,
			         cases[i].holds ? "true" : "false");
		json_decref(when);
	}
	assert_true(runbook_when_holds(NULL, ev));
	{
		json_t *when = parse_json("{\"a\": 1}");

		assert_false(runbook_when_holds(when, NULL));
		json_decref(when);
	}
	json_decref(ev);
}

static void test_expect(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		double measured, baseline;
		bool holds;
	} cases[] = {
		{ "< baseline", true, 1, 2, true },
		{ "< baseline", true, 2, 2, false },
		{ "<= baseline", true, 2, 2, true },
		{ "== 0", true, 0, 9, true },
		{ "==0", true, 1, 9, false },
		{ "!= 0", true, 1, 9, true },
		{ ">= 1", true, 1, 0, true },
		{ "> 0.5", true, 0.5, 0, false },
		{ "  <   10  ", true, 9, 0, true },
		{ "> baseline", true, 3, 2, true },
		{ "< 1e3", true, 999, 0, true },
		{ "baseline", false, 0, 0, false },
		{ "< five", false, 0, 0, false },
		{ "less than 5", false, 0, 0, false },
		{ "<", false, 0, 0, false },
		{ "< baseline x", false, 0, 0, false },
		{ "=< 5", false, 0, 0, false },
		{ "< 1e999", false, 0, 0, false },
		{ "", false, 0, 0, false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct runbook_expect e;
		bool ok = runbook_expect_parse(cases[i].s, &e);

		if (ok != cases[i].ok)
			fail_msg("expect '%s': parse %s", cases[i].s, ok ? "succeeded" : "failed");
		if (ok && runbook_expect_holds(&e, cases[i].measured, cases[i].baseline) !=
		          cases[i].holds)
			fail_msg("expect '%s' with %g (baseline %g)", cases[i].s, cases[i].measured,
			         cases[i].baseline);
	}
	assert_false(runbook_expect_parse(NULL, &(struct runbook_expect){ 0 }));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(severity_name(SEVERITY_INFO), "info");
	assert_string_equal(severity_name(SEVERITY_WARNING), "warning");
	assert_string_equal(severity_name((enum severity)7), "?");
	assert_null(runbook_find(NULL, "x"));
	assert_true(runbook_threshold(NULL, "x", 4) == 4);
	runbook_set_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_round_trip),
		cmocka_unit_test(test_defaults_and_report_only),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_error_cases),
		cmocka_unit_test(test_action_variants),
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_duplicate_buffers),
		cmocka_unit_test(test_shipped_runbooks),
		cmocka_unit_test(test_readme_example),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_bind_value),
		cmocka_unit_test(test_bind_text),
		cmocka_unit_test(test_bind_param),
		cmocka_unit_test(test_when),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("runbook", tests, NULL, NULL);
}
