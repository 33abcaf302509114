/*
 * test_config: cockpit.conf loading (src/core/config.c).
 *
 * Most cases are rows of tables: a YAML text and the substrings its error
 * messages must hold (file:line:col, the key, the fix), or must never hold
 * (a secret). The sample files under tests/data/config carry their own
 * expectations as "# expect: ..." / "# forbid: ..." comment lines, so a new
 * sample needs no new code (tests/lib/expect.h reads them). Files are found
 * from the repository top: the current directory, or $COCKPIT_TOP when set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "lib/expect.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TEN(s) s s s s s s s s s s

/* ---------------------------------------------------------------- helpers */

static int load_str(struct config *c, const char *yaml, char **errs)
{
	return config_load_buffer(c, "cockpit.conf", yaml, strlen(yaml), errs);
}

static void assert_strlist_equal(char **a, size_t na, char **b, size_t nb)
{
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		assert_string_equal(a[i], b[i]);
	assert_null(a[na]);
	assert_null(b[nb]);
}

static void assert_opt_string_equal(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_target_equal(const struct config_target *a, const struct config_target *b)
{
	assert_opt_string_equal(a->name, b->name);
	assert_opt_string_equal(a->conninfo, b->conninfo);
	assert_opt_string_equal(a->password_env, b->password_env);
	assert_opt_string_equal(a->executor_conninfo, b->executor_conninfo);
	assert_opt_string_equal(a->executor_password_env, b->executor_password_env);
	assert_opt_string_equal(a->server_log, b->server_log);
	assert_opt_string_equal(a->server_log_format, b->server_log_format);
	assert_opt_string_equal(a->data_directory, b->data_directory);
}

/* Every setting equal (the path it came from aside). */
static void assert_config_equal(const struct config *a, const struct config *b)
{
	assert_int_equal(a->ntargets, b->ntargets);
	for (size_t i = 0; i < a->ntargets; i++)
		assert_target_equal(&a->targets[i], &b->targets[i]);
	assert_opt_string_equal(a->default_target, b->default_target);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->fast_refresh_ms, b->fast_refresh_ms);
	assert_int_equal(a->slow_refresh_ms, b->slow_refresh_ms);
	assert_int_equal(a->connect_timeout_s, b->connect_timeout_s);
	assert_int_equal(a->statement_timeout_ms, b->statement_timeout_ms);
	assert_int_equal(a->query_max_len, b->query_max_len);
	assert_int_equal(a->top_tables, b->top_tables);
	assert_int_equal(a->top_statements, b->top_statements);
	assert_memory_equal(&a->thresholds, &b->thresholds, sizeof(a->thresholds));
	assert_strlist_equal(a->agent_app_patterns, a->nagent_app_patterns,
	                     b->agent_app_patterns, b->nagent_app_patterns);
	assert_opt_string_equal(a->agent_role_pattern, b->agent_role_pattern);
	assert_opt_string_equal(a->audit_log, b->audit_log);
	assert_opt_string_equal(a->runbooks_dir, b->runbooks_dir);
	assert_opt_string_equal(a->themes_dir, b->themes_dir);
	assert_opt_string_equal(a->state_dir, b->state_dir);
	assert_opt_string_equal(a->theme, b->theme);
	assert_int_equal(a->ascii, b->ascii);
	assert_memory_equal(a->policy.by_risk, b->policy.by_risk, sizeof(a->policy.by_risk));
	assert_int_equal(a->policy.nactions, b->policy.nactions);
	for (size_t i = 0; i < a->policy.nactions; i++) {
		assert_string_equal(a->policy.actions[i].action, b->policy.actions[i].action);
		assert_int_equal(a->policy.actions[i].rule, b->policy.actions[i].rule);
	}
	assert_true(a->policy.escalate_below == b->policy.escalate_below);
	assert_true(a->policy.approval_below == b->policy.approval_below);
	assert_int_equal(a->policy.max_sessions, b->policy.max_sessions);
	assert_true(a->policy.vacuum_full_max_bytes == b->policy.vacuum_full_max_bytes);
	assert_int_equal(a->policy.rate_limit_per_hour, b->policy.rate_limit_per_hour);
	assert_int_equal(a->policy.idempotency_min, b->policy.idempotency_min);
	assert_strlist_equal(a->policy.maintenance_windows, a->policy.nmaintenance_windows,
	                     b->policy.maintenance_windows, b->policy.nmaintenance_windows);
	assert_int_equal(a->policy.lock_timeout_ms, b->policy.lock_timeout_ms);
	assert_int_equal(a->policy.statement_timeout_ms, b->policy.statement_timeout_ms);
	assert_int_equal(a->policy.verify_attempts, b->policy.verify_attempts);
	assert_int_equal(a->llm.provider, b->llm.provider);
	assert_opt_string_equal(a->llm.base_url, b->llm.base_url);
	assert_opt_string_equal(a->llm.model, b->llm.model);
	assert_opt_string_equal(a->llm.model_complex, b->llm.model_complex);
	assert_opt_string_equal(a->llm.api_key_env, b->llm.api_key_env);
	assert_int_equal(a->llm.connect_s, b->llm.connect_s);
	assert_int_equal(a->llm.first_token_s, b->llm.first_token_s);
	assert_int_equal(a->llm.idle_s, b->llm.idle_s);
	assert_int_equal(a->llm.total_s, b->llm.total_s);
	assert_int_equal(a->llm.max_tokens, b->llm.max_tokens);
	assert_true(a->llm.temperature == b->llm.temperature);
	assert_int_equal(a->llm.stream, b->llm.stream);
	assert_int_equal(a->llm.max_retries, b->llm.max_retries);
	assert_int_equal(a->llm.budget_tokens, b->llm.budget_tokens);
	assert_true(a->llm.cost_in_per_1k == b->llm.cost_in_per_1k);
	assert_true(a->llm.cost_out_per_1k == b->llm.cost_out_per_1k);
	assert_int_equal(a->nshell_actions, b->nshell_actions);
	for (size_t i = 0; i < a->nshell_actions; i++) {
		const struct config_shell_action *x = &a->shell_actions[i];
		const struct config_shell_action *y = &b->shell_actions[i];

		assert_opt_string_equal(x->name, y->name);
		assert_opt_string_equal(x->summary, y->summary);
		assert_strlist_equal(x->argv, x->nargv, y->argv, y->nargv);
		assert_opt_string_equal(x->arg_pattern, y->arg_pattern);
		assert_int_equal(x->timeout_s, y->timeout_s);
	}
}

static int setup_env(void **state)
{
	(void)state;
	setenv("HOME", "/home/tester", 1);
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("COCKPIT_CONFIG");
	return 0;
}

/* ---------------------------------------------------------------- errors */

struct error_case {
	const char *what;
	const char *yaml;
	const char *expect[4];   /* substrings of the messages */
	const char *forbid;      /* never in the messages (a secret) */
	size_t lines;            /* exact number of messages, 0: any */
};

static const struct error_case error_cases[] = {
	/* unknown keys and did-you-mean */
	{ "typo at top", "refesh:\n  fast_ms: 500\n",
	  { "cockpit.conf:1:1: unknown key 'refesh' (did you mean 'refresh'?)" }, NULL, 1 },
	{ "typo in section", "refresh:\n  fats_ms: 500\n",
	  { "cockpit.conf:2:3: unknown key 'fats_ms' in 'refresh' (did you mean 'fast_ms'?)" },
	  NULL, 1 },
	{ "transposition", "thresholds:\n  lcok_wait_ms: 5\n",
	  { "cockpit.conf:2:3: unknown key 'lcok_wait_ms' in 'thresholds' (did you mean "
	    "'lock_wait_ms'?)" }, NULL, 1 },
	{ "case", "Mode: auto\n",
	  { "cockpit.conf:1:1: unknown key 'Mode' (did you mean 'mode'?)" }, NULL, 1 },
	{ "prefix", "thresh:\n",
	  { "unknown key 'thresh' (did you mean 'thresholds'?)" }, NULL, 1 },
	{ "nothing close", "zebra:\n  allow: []\n",
	  { "cockpit.conf:1:1: unknown key 'zebra' — valid keys here: mode, default_target, "
	    "targets, refresh, thresholds, policy, shell_actions, llm, agents, paths, ui" },
	  NULL, 1 },
	{ "short word, no wild guess", "db: 1\n",
	  { "unknown key 'db' — valid keys here:" }, NULL, 1 },
	{ "key of another section", "fast_ms: 500\n",
	  { "cockpit.conf:1:1: unknown key 'fast_ms' — it belongs under 'refresh:'" }, NULL, 1 },
	{ "top-level key in a section", "ui:\n  mode: auto\n",
	  { "cockpit.conf:2:3: unknown key 'mode' in 'ui' — it is a top-level key" }, NULL, 1 },
	{ "target key at top", "conninfo: host=x\n",
	  { "unknown key 'conninfo' — it belongs to an entry of 'targets:'" }, NULL, 1 },
	{ "dotted key", "refresh.fast_ms: 500\n",
	  { "cockpit.conf:1:1: unknown key 'refresh.fast_ms' — dotted keys are not read; "
	    "nest it: 'refresh:' with 'fast_ms:' indented below" }, NULL, 1 },
	{ "typo in target", "targets:\n  - name: a\n    connifo: x\n    conninfo: x\n",
	  { "cockpit.conf:3:5: unknown key 'connifo' in 'targets[0]' (did you mean 'conninfo'?)" },
	  NULL, 1 },
	{ "key not a word", "? [a, b]\n: c\n",
	  { "cockpit.conf:1:3: a key must be a word, got a list" }, NULL, 1 },

	/* types and ranges */
	{ "int from word", "refresh:\n  fast_ms: fast\n",
	  { "cockpit.conf:2:12: 'refresh.fast_ms' expects an integer number of milliseconds "
	    "between 100 and 3600000, got 'fast'" }, NULL, 1 },
	{ "int with unit", "refresh:\n  slow_ms: 5s\n",
	  { "cockpit.conf:2:12: 'refresh.slow_ms' expects", "got '5s' — write the number "
	    "alone, without a unit" }, NULL, 1 },
	{ "int from fraction", "refresh:\n  top_tables: 1.5\n",
	  { "'refresh.top_tables' expects an integer number of tables between 1 and 10000, "
	    "got '1.5'" }, NULL, 1 },
	{ "int below range", "refresh:\n  fast_ms: 50\n",
	  { "cockpit.conf:2:12: value 50 is out of range for 'refresh.fast_ms' — expected an "
	    "integer number of milliseconds between 100 and 3600000" }, NULL, 1 },
	{ "int overflow", "refresh:\n  fast_ms: 99999999999999999999999\n",
	  { "value 99999999999999999999999 is out of range for 'refresh.fast_ms'" }, NULL, 1 },
	{ "int without upper bound", "thresholds:\n  dead_tuple_min: -1\n",
	  { "value -1 is out of range for 'thresholds.dead_tuple_min' — expected an integer "
	    "number of dead tuples, at least 0" }, NULL, 1 },
	{ "double above range", "thresholds:\n  dead_tuple_ratio: 1.5\n",
	  { "cockpit.conf:2:21: value 1.5 is out of range for 'thresholds.dead_tuple_ratio' — "
	    "expected a fraction between 0.001 and 1" }, NULL, 1 },
	{ "double not a number", "thresholds:\n  slow_query_mean_ms: nan\n",
	  { "'thresholds.slow_query_mean_ms' expects a number of milliseconds between 0 and "
	    "3600000, got 'nan'" }, NULL, 1 },
	{ "percent sign", "thresholds:\n  disk_warn_pct: 80%\n",
	  { "'thresholds.disk_warn_pct' expects a percentage between 1 and 100, got '80%' — "
	    "write the number alone, without '%'" }, NULL, 1 },
	{ "bool", "ui:\n  ascii: maybe\n",
	  { "cockpit.conf:2:10: 'ui.ascii' expects true or false, got 'maybe'" }, NULL, 1 },
	{ "enum", "mode: watch\n",
	  { "cockpit.conf:1:7: 'mode' expects one of observe, shadow, assist, auto, got "
	    "'watch'" }, NULL, 1 },
	{ "enum did-you-mean", "mode: asist\n",
	  { "got 'asist' (did you mean 'assist'?)" }, NULL, 1 },
	{ "enum in target", "targets:\n  - name: a\n    conninfo: x\n    server_log_format: csv\n",
	  { "cockpit.conf:4:24: 'targets[0].server_log_format' expects one of auto, stderr, "
	    "csvlog, jsonlog, got 'csv' (did you mean 'csvlog'?)" }, NULL, 1 },
	{ "name charset", "targets:\n  - name: my db\n    conninfo: x\n",
	  { "cockpit.conf:2:11: 'targets[0].name' expects a name of letters, digits, '_', '-' "
	    "and '.', got 'my db'" }, NULL, 1 },
	{ "control characters escaped", "ui:\n  theme: \"a\\tb\"\n",
	  { "got 'a\\x09b'" }, NULL, 1 },
	{ "NUL in value", "ui:\n  theme: \"a\\0b\"\n",
	  { "cockpit.conf:2:10: 'ui.theme' contains a NUL character" }, NULL, 1 },
	{ "empty string", "agents:\n  role_pattern: \"\"\n",
	  { "cockpit.conf:2:17: 'agents.role_pattern' is empty — expected a string" }, NULL, 1 },

	/* shapes */
	{ "mapping for a scalar", "refresh:\n  fast_ms:\n    a: 1\n",
	  { "cockpit.conf:3:5: 'refresh.fast_ms' expects an integer number of milliseconds "
	    "between 100 and 3600000, got a mapping" }, NULL, 1 },
	{ "list for a scalar", "agents:\n  role_pattern: [a, b]\n",
	  { "cockpit.conf:2:17: 'agents.role_pattern' expects a string, got a list" }, NULL, 1 },
	{ "scalar for a section", "refresh: 1000\n",
	  { "cockpit.conf:1:10: 'refresh' expects a mapping of keys (fast_ms, slow_ms, "
	    "connect_timeout_s, ...), got '1000' — put its keys on the lines below it" },
	  NULL, 1 },
	{ "scalar for a list", "agents:\n  application_name_patterns: \"*bot*\"\n",
	  { "cockpit.conf:2:30: 'agents.application_name_patterns' expects a list of strings, "
	    "got '*bot*' — write a list" }, NULL, 1 },
	{ "bad list items, all of them", "agents:\n  application_name_patterns: [a, {b: 1}, [c], d]\n",
	  { "cockpit.conf:2:34: 'agents.application_name_patterns[1]' expects a string, got a "
	    "mapping", "cockpit.conf:2:42: 'agents.application_name_patterns[2]' expects a "
	    "string, got a list" }, NULL, 2 },
	{ "targets as a mapping", "targets:\n  prod:\n    conninfo: x\n",
	  { "cockpit.conf:2:3: 'targets' expects a list of targets, got a mapping — start each "
	    "entry with '- name: ...' on its own line" }, NULL, 1 },
	{ "target as a scalar", "targets:\n  - host=a password=hunter2\n",
	  { "cockpit.conf:2:5: 'targets[0]' expects a mapping with at least name and conninfo, "
	    "got a value (not shown" }, "hunter2", 1 },
	{ "empty target", "targets:\n  -\n",
	  { "'targets[0]' expects a mapping with at least name and conninfo, got nothing" },
	  NULL, 1 },
	{ "top level a list", "- mode: observe\n",
	  { "cockpit.conf:1:1: the top level must be a mapping of keys, got a list" }, NULL, 1 },
	{ "top level a word", "observe\n",
	  { "cockpit.conf:1:1: the top level must be a mapping of keys, got a value" }, NULL, 1 },

	/* duplicates and required keys */
	{ "duplicate key", "mode: observe\nmode: auto\n",
	  { "cockpit.conf:2:1: duplicate key 'mode' (first set at line 1) — remove one of "
	    "them" }, NULL, 1 },
	{ "duplicate section", "ui:\n  ascii: true\nui:\n  theme: x\n",
	  { "cockpit.conf:3:1: duplicate key 'ui' (first set at line 1)" }, NULL, 1 },
	{ "duplicate nested key", "refresh:\n  fast_ms: 500\n  fast_ms: 600\n",
	  { "cockpit.conf:3:3: duplicate key 'refresh.fast_ms' (first set at line 2)" }, NULL, 1 },
	{ "duplicate target key", "targets:\n  - name: a\n    conninfo: x\n    name: b\n",
	  { "cockpit.conf:4:5: duplicate key 'targets[0].name' (first set at line 2)" }, NULL, 1 },
	{ "missing conninfo", "targets:\n  - name: a\n",
	  { "cockpit.conf:2:5: target 'a' is missing required key 'conninfo' — add e.g. "
	    "'conninfo: \"host=db1.example.com dbname=app user=cockpit_monitor\"'" }, NULL, 1 },
	{ "missing name", "targets:\n  - conninfo: host=x\n",
	  { "cockpit.conf:2:5: 'targets[0]' is missing required key 'name' — add e.g. "
	    "'name: prod'" }, NULL, 1 },
	{ "missing both", "targets:\n  - server_log: none\n",
	  { "'targets[0]' is missing required key 'name'",
	    "'targets[0]' is missing required key 'conninfo'" }, NULL, 2 },
	{ "empty name", "targets:\n  - name:\n    conninfo: x\n",
	  { "cockpit.conf:2:10: 'targets[0].name' is empty — expected a name" }, NULL, 1 },
	{ "duplicate target names",
	  "targets:\n  - name: a\n    conninfo: x\n  - name: b\n    conninfo: y\n"
	  "  - name: a\n    conninfo: z\n  - name: a\n    conninfo: w\n",
	  { "cockpit.conf:6:11: duplicate target name 'a' (first at line 2) — give each target "
	    "its own name", "cockpit.conf:8:11: duplicate target name 'a' (first at line 2)" },
	  NULL, 2 },
	{ "default_target typo", "default_target: prd\ntargets:\n  - name: prod\n    conninfo: x\n",
	  { "cockpit.conf:1:17: default_target 'prd' names no target (did you mean 'prod'?)" },
	  NULL, 1 },
	{ "default_target unknown", "default_target: zzz\ntargets:\n  - name: prod\n"
	  "    conninfo: x\n  - name: test\n    conninfo: y\n",
	  { "default_target 'zzz' names no target — defined targets: prod, test" }, NULL, 1 },
	{ "default_target without targets", "default_target: prod\n",
	  { "cockpit.conf:1:17: default_target 'prod' names no target — no targets are "
	    "defined; add one under 'targets:'" }, NULL, 1 },
	{ "order of thresholds", "thresholds:\n  disk_warn_pct: 96\n",
	  { "cockpit.conf:2:18: 'thresholds.disk_warn_pct' (96) must be below "
	    "'thresholds.disk_crit_pct' (95) — raise 'disk_crit_pct' or lower 'disk_warn_pct'" },
	  NULL, 1 },
	{ "order of refresh", "refresh:\n  slow_ms: 1000\n  fast_ms: 2000\n",
	  { "cockpit.conf:3:12: 'refresh.fast_ms' (2000) must be at most 'refresh.slow_ms' "
	    "(1000)" }, NULL, 1 },
	{ "no order error over a bad value", "thresholds:\n  disk_warn_pct: 99\n"
	  "  disk_crit_pct: lots\n",
	  { "'thresholds.disk_crit_pct' expects a percentage" }, NULL, 1 },

	/* llm */
	{ "llm provider typo", "llm:\n  provider: opnai\n",
	  { "cockpit.conf:2:13: 'llm.provider' expects one of none, openai, anthropic, got "
	    "'opnai' (did you mean 'openai'?)" }, NULL, 1 },
	{ "llm provider without url and model", "llm:\n  provider: anthropic\n",
	  { "cockpit.conf:2:13: 'llm.provider' is anthropic but 'llm.base_url' is not set — "
	    "add 'base_url:' under 'llm:' (e.g. https://api.anthropic.com)",
	    "cockpit.conf:2:13: 'llm.provider' is anthropic but 'llm.model' is not set — "
	    "add 'model:' under 'llm:'" }, NULL, 2 },
	{ "llm key in the file", "llm:\n  api_key: sk-abcdefghijklmnop\n",
	  { "cockpit.conf:2:3: secret key 'llm.api_key' is not allowed — secrets are never read "
	    "from the file; name an environment variable with 'api_key_env'" },
	  "sk-abcdefghijklmnop", 1 },
	{ "llm timeout out of range", "llm:\n  idle_s: 0\n",
	  { "cockpit.conf:2:11: value 0 is out of range for 'llm.idle_s' — expected an integer number of seconds between 1 "
	    "and 600" }, NULL, 1 },
	{ "llm temperature", "llm:\n  temperature: hot\n",
	  { "cockpit.conf:2:16: 'llm.temperature' expects a number between 0 and 2" }, NULL, 1 },
	{ "llm stream bool", "llm:\n  stream: sometimes\n",
	  { "cockpit.conf:2:11: 'llm.stream' expects" }, NULL, 1 },

	/* policy */
	{ "policy rule", "policy:\n  medium: aproval\n",
	  { "cockpit.conf:2:11: 'policy.medium' expects one of allow, approval, deny, got "
	    "'aproval' (did you mean 'approval'?)" }, NULL, 1 },
	{ "critical never allow", "policy:\n  critical: allow\n",
	  { "cockpit.conf:2:13: 'policy.critical' cannot be allow: critical actions (shell "
	    "commands) always need an operator — write 'critical: approval' or "
	    "'critical: deny'" }, NULL, 1 },
	{ "unknown action", "policy:\n  actions:\n    termiante_backend: deny\n",
	  { "cockpit.conf:3:5: unknown action 'termiante_backend' in 'policy.actions' (did "
	    "you mean 'terminate_backend'?)" }, NULL, 1 },
	{ "unknown action, nothing close", "policy:\n  actions:\n    zap: deny\n",
	  { "cockpit.conf:3:5: unknown action 'zap' in 'policy.actions' — actions: "
	    "cancel_backend, terminate_backend," }, NULL, 1 },
	{ "action rule typo", "policy:\n  actions:\n    vacuum: alow\n",
	  { "cockpit.conf:3:13: 'policy.actions.vacuum' expects one of allow, approval, deny, "
	    "got 'alow' (did you mean 'allow'?)" }, NULL, 1 },
	{ "shell action allowed", "policy:\n  actions: {shell: allow}\n",
	  { "cockpit.conf:2:20: 'policy.actions.shell' cannot be allow: shell is a critical "
	    "action, which always needs an operator — write approval or deny" }, NULL, 1 },
	{ "duplicate action rule", "policy:\n  actions:\n    vacuum: deny\n    vacuum: allow\n",
	  { "cockpit.conf:4:5: duplicate key 'policy.actions.vacuum' (first set at line 3)" },
	  NULL, 1 },
	{ "actions as a list", "policy:\n  actions: [vacuum]\n",
	  { "cockpit.conf:2:12: 'policy.actions' expects a mapping of action names to allow, "
	    "approval or deny, got a list — write one 'action: rule' per line" }, NULL, 1 },
	{ "confidence order", "policy:\n  escalate_below: 0.9\n",
	  { "cockpit.conf:2:19: 'policy.escalate_below' (0.9) must be at most "
	    "'policy.approval_below' (0.85)" }, NULL, 1 },
	{ "bytes unit", "policy:\n  vacuum_full_max_bytes: 2 parsecs\n",
	  { "cockpit.conf:2:26: 'policy.vacuum_full_max_bytes' expects a size in bytes, or "
	    "with a unit (kB, MB, GB, TB; 1GB = 1024MB), got '2 parsecs'" }, NULL, 1 },
	{ "bytes overflow", "policy:\n  vacuum_full_max_bytes: 99999999TB\n",
	  { "'policy.vacuum_full_max_bytes' expects a size in bytes" }, NULL, 1 },
	{ "bytes out of range", "policy:\n  vacuum_full_max_bytes: 2000TB\n",
	  { "value 2000TB is out of range for 'policy.vacuum_full_max_bytes'" }, NULL, 1 },
	{ "bad window day", "policy:\n  maintenance_windows: [\"Sun 02:00-04:00\", "
	  "\"Sonday 02:00-04:00\"]\n",
	  { "cockpit.conf:2:44: 'policy.maintenance_windows[1]': window 'Sonday "
	    "02:00-04:00': 'Sonday' is not a day — write Mon, Tue" }, NULL, 1 },
	{ "bad window hours", "policy:\n  maintenance_windows:\n    - daily 2-4\n",
	  { "cockpit.conf:3:7: 'policy.maintenance_windows[0]': window 'daily 2-4': the hours "
	    "must read HH:MM-HH:MM, e.g. 02:00-04:00" }, NULL, 1 },
	{ "window without hours", "policy:\n  maintenance_windows: [Sat]\n",
	  { "window 'Sat' needs days and hours, e.g. 'Sat 02:00-04:00'" }, NULL, 1 },
	{ "empty window", "policy:\n  maintenance_windows: [\"Sat 02:00-02:00\"]\n",
	  { "window 'Sat 02:00-02:00' is empty (it starts when it ends)" }, NULL, 1 },

	/* shell_actions */
	{ "shell argv relative", "shell_actions:\n  - name: gz\n    argv: [gzip, \"{f}\"]\n",
	  { "cockpit.conf:3:12: 'shell_actions[0].argv[0]' must be an absolute path, got "
	    "'gzip' — write the program's full path (e.g. /usr/bin/gzip): it runs with "
	    "execve, no shell and no PATH lookup" }, NULL, 1 },
	{ "shell missing argv", "shell_actions:\n  - name: gz\n",
	  { "cockpit.conf:2:5: shell action 'gz' is missing required key 'argv' — add e.g. "
	    "'argv: [\"/usr/local/bin/compress-pg-logs\", \"{dir}\"]'" }, NULL, 1 },
	{ "shell empty argv", "shell_actions:\n  - name: gz\n    argv: []\n",
	  { "cockpit.conf:3:11: 'shell_actions[0].argv' is empty — give at least the "
	    "program" }, NULL, 1 },
	{ "shell pattern unanchored", "shell_actions:\n  - name: gz\n    argv: [/bin/gzip]\n"
	  "    arg_pattern: \"[a-z]+\"\n",
	  { "cockpit.conf:4:18: 'shell_actions[0].arg_pattern' must be anchored — start it "
	    "with '^' and end it with '$'" }, NULL, 1 },
	{ "shell pattern invalid", "shell_actions:\n  - name: gz\n    argv: [/bin/gzip]\n"
	  "    arg_pattern: \"^[a-z+$\"\n",
	  { "cockpit.conf:4:18: 'shell_actions[0].arg_pattern' is not a valid extended "
	    "regular expression:" }, NULL, 1 },
	{ "shell key typo", "shell_actions:\n  - name: gz\n    argv: [/bin/gzip]\n"
	  "    timout_s: 5\n",
	  { "cockpit.conf:4:5: unknown key 'timout_s' in 'shell_actions[0]' (did you mean "
	    "'timeout_s'?)" }, NULL, 1 },
	{ "shell duplicate names", "shell_actions:\n  - name: gz\n    argv: [/bin/gzip]\n"
	  "  - name: gz\n    argv: [/bin/true]\n",
	  { "cockpit.conf:4:11: duplicate shell action name 'gz' (first at line 2)" },
	  NULL, 1 },
	{ "shell timeout range", "shell_actions:\n  - name: gz\n    argv: [/bin/gzip]\n"
	  "    timeout_s: 0\n",
	  { "value 0 is out of range for 'shell_actions[0].timeout_s'" }, NULL, 1 },
	{ "shell as a mapping", "shell_actions:\n  gz: /bin/gzip\n",
	  { "cockpit.conf:2:3: 'shell_actions' expects a list of shell actions, got a "
	    "mapping" }, NULL, 1 },
	{ "shell key at the top", "argv: [/bin/true]\n",
	  { "unknown key 'argv' — it belongs to an entry of 'shell_actions:'" }, NULL, 1 },

	/* YAML syntax */
	{ "mapping value in value", "mode: observe\nfoo: bar: baz\n",
	  { "cockpit.conf:2:9: invalid YAML: mapping values are not allowed in this context — "
	    "quote a value that contains ': '" }, NULL, 1 },
	{ "tab", "refresh:\n\tfast_ms: 100\n",
	  { "cockpit.conf:2:1: invalid YAML: found character that cannot start any token",
	    "indent with spaces: YAML does not allow tabs" }, NULL, 1 },
	{ "unquoted star", "agents:\n  role_pattern: *agent*\n",
	  { "cockpit.conf:2:23: invalid YAML:", "quote a value that starts with '*'" }, NULL, 1 },
	{ "undefined alias", "agents:\n  role_pattern: *agent\n",
	  { "invalid YAML: found undefined alias", "quote a value that starts with '*'" },
	  NULL, 1 },
	{ "unclosed quote", "mode: \"observe\n",
	  { "invalid YAML: found unexpected end of stream (while scanning a quoted scalar at "
	    "line 1 column 7) — a quoted value is not closed" }, NULL, 1 },
	{ "bad indentation", "refresh:\n  fast_ms: 1\n slow_ms: 2\n",
	  { "cockpit.conf:3:2: invalid YAML:" }, NULL, 1 },
	{ "invalid UTF-8", "ui:\n  theme: \xc3\x28\n",
	  { "cockpit.conf:2:11: invalid YAML: invalid trailing UTF-8 octet (byte 0x28)",
	    "the file must be UTF-8 text" }, NULL, 1 },
	{ "flow nesting too deep", "mode: " TEN("[") TEN("[") TEN("[") TEN("[") TEN("[")
	  TEN("[") TEN("[") "\n",
	  { "cockpit.conf:1:71: invalid YAML: '[' and '{' nested more than 64 deep" },
	  NULL, 1 },
	{ "two documents", "mode: observe\n---\nmode: auto\n",
	  { "cockpit.conf:2:1: a second YAML document starts here — a config file holds one" },
	  NULL, 1 },
	{ "error in a second document", "mode: observe\n---\nmode: [\n",
	  { "cockpit.conf:4:1: invalid YAML:" }, NULL, 1 },

	/* secrets */
	{ "password in conninfo",
	  "targets:\n  - name: a\n    conninfo: host=db password=hunter2 dbname=x\n",
	  { "cockpit.conf:3:15: 'targets[0].conninfo' contains a password ('host=db "
	    "password=**** dbname=x') — secrets are never read from the file; remove it and "
	    "name an environment variable with 'password_env', or use ~/.pgpass" },
	  "hunter2", 1 },
	{ "quoted password with spaces",
	  "targets:\n  - name: a\n    conninfo: \"host=db password = 'hunter2 \\\\' x' user=u\"\n",
	  { "contains a password ('host=db password=**** user=u')" }, "hunter2", 1 },
	{ "password in URI",
	  "targets:\n  - name: a\n    conninfo: postgres://app:hunter2@db/app\n",
	  { "'targets[0].conninfo' contains a password ('postgres://app:****@db/app')" },
	  "hunter2", 1 },
	{ "password with @ in URI",
	  "targets:\n  - name: a\n    conninfo: postgresql://app:hun@ter2@db:5432/app\n",
	  { "contains a password ('postgresql://app:****@db:5432/app')" }, "ter2", 1 },
	{ "password in URI query",
	  "targets:\n  - name: a\n    conninfo: postgres://db/app?sslmode=require&password=hunter2\n",
	  { "contains a password ('postgres://db/app?sslmode=require&password=****')" },
	  "hunter2", 1 },
	{ "password in executor conninfo",
	  "targets:\n  - name: a\n    conninfo: host=db\n    executor_conninfo: password=hunter2\n",
	  { "cockpit.conf:4:24: 'targets[0].executor_conninfo' contains a password",
	    "name an environment variable with 'executor_password_env'" }, "hunter2", 1 },
	{ "malformed conninfo with a password",
	  "targets:\n  - name: a\n    conninfo: host=db password hunter2\n",
	  { "contains a password ('host=db ****')" }, "hunter2", 1 },
	{ "password key",
	  "targets:\n  - name: a\n    conninfo: host=db\n    password: hunter2\n",
	  { "cockpit.conf:4:5: secret key 'targets[0].password' is not allowed — secrets are "
	    "never read from the file; name an environment variable with 'password_env'" },
	  "hunter2", 1 },
	{ "api_key under an unknown section", "llmx:\n  api_key: sk-hunter2\n",
	  { "cockpit.conf:2:3: secret key 'llmx.api_key' is not allowed",
	    "name an environment variable with 'api_key_env'",
	    "cockpit.conf:1:1: unknown key 'llmx' (did you mean 'llm'?)" }, "hunter2", 2 },
	{ "token at the top", "token: hunter2\n",
	  { "cockpit.conf:1:1: secret key 'token' is not allowed", "'token_env'" },
	  "hunter2", 1 },
	{ "secret deep in a list", "notify:\n  - slack:\n      secret: hunter2\n",
	  { "cockpit.conf:3:7: secret key 'notify[0].slack.secret' is not allowed" },
	  "hunter2", 2 },
	{ "suffixed secret key", "targets:\n  - name: a\n    conninfo: x\n"
	  "    executor_password: hunter2\n",
	  { "secret key 'targets[0].executor_password' is not allowed",
	    "'executor_password_env'" }, "hunter2", 1 },
	{ "secret in an _env key", "targets:\n  - name: a\n    conninfo: x\n"
	  "    password_env: \"hunter2!\"\n",
	  { "cockpit.conf:4:19: 'targets[0].password_env' expects the name of an environment "
	    "variable", "not shown in case it is the secret itself" }, "hunter2", 1 },
	{ "list where an _env name goes", "targets:\n  - name: a\n    conninfo: x\n"
	  "    password_env: [hunter2]\n",
	  { "'targets[0].password_env' expects the name of an environment variable" },
	  "hunter2", 1 },
};

static void test_error_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *t = &error_cases[i];
		struct config c;
		char *errs = NULL;

		print_message("case: %s\n", t->what);
		assert_int_equal(load_str(&c, t->yaml, &errs), -1);
		expect_messages(t->what, errs, "cockpit.conf", t->expect, ARRAY_SIZE(t->expect),
		                t->forbid, t->lines);
		free(errs);
		config_release(&c);
	}
}

/* Conninfos that hold no password load. */
static void test_conninfo_without_password(void **state)
{
	static const char *const ok[] = {
		"host=db dbname=app user=app",
		"host=db passfile=/etc/cockpit/pgpass",
		"host=db password=''",
		"service=prod",
		"postgres://app@db/app",
		"postgresql://db:5432/app?sslmode=verify-full",
		"postgres://app:@db/app",
		"postgres:///app?host=/run/postgresql",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		char yaml[256];
		struct config c;
		char *errs = NULL;

		snprintf(yaml, sizeof(yaml), "targets:\n  - name: a\n    conninfo: \"%s\"\n", ok[i]);
		if (load_str(&c, yaml, &errs) != 0)
			fail_msg("%s: %s", ok[i], errs);
		assert_string_equal(c.targets[0].conninfo, ok[i]);
		config_release(&c);
	}
}

/* ---------------------------------------------------------------- defaults */

static void test_defaults_when_empty(void **state)
{
	static const char *const empties[] = {
		"", "\n", "# only a comment\n", "---\n", "~\n", "---\n...\n", "{}\n",
	};
	struct config def;

	(void)state;
	config_init_defaults(&def);
	for (size_t i = 0; i < ARRAY_SIZE(empties); i++) {
		struct config c;
		char *errs = (char *)"untouched";

		assert_int_equal(load_str(&c, empties[i], &errs), 0);
		assert_null(errs);
		assert_config_equal(&c, &def);
		assert_string_equal(c.path, "cockpit.conf");
		assert_null(config_find_target(&c, NULL));
		config_release(&c);
	}
	config_release(&def);
}

static void test_default_values(void **state)
{
	struct config c;

	(void)state;
	config_init_defaults(&c);
	assert_null(c.path);
	assert_int_equal(c.mode, MODE_OBSERVE);
	assert_int_equal(c.ntargets, 0);
	assert_null(c.default_target);
	assert_int_equal(c.fast_refresh_ms, 1000);
	assert_int_equal(c.slow_refresh_ms, 10000);
	assert_int_equal(c.connect_timeout_s, 5);
	assert_int_equal(c.statement_timeout_ms, 2000);
	assert_int_equal(c.query_max_len, 512);
	assert_int_equal(c.top_tables, 20);
	assert_int_equal(c.top_statements, 50);
	assert_int_equal(c.thresholds.lock_wait_ms, 1000);
	assert_int_equal(c.thresholds.idle_in_transaction_s, 60);
	assert_int_equal(c.thresholds.long_transaction_s, 300);
	assert_true(c.thresholds.slow_query_mean_ms == 200);
	assert_true(c.thresholds.disk_warn_pct == 85);
	assert_true(c.thresholds.disk_crit_pct == 95);
	assert_true(c.thresholds.dead_tuple_ratio == 0.2);
	assert_int_equal(c.thresholds.dead_tuple_min, 1000);
	assert_true(c.thresholds.connections_pct == 90);
	assert_true(c.nagent_app_patterns > 0);
	assert_string_equal(c.agent_app_patterns[0], "*agent*");
	assert_null(c.agent_app_patterns[c.nagent_app_patterns]);
	assert_string_equal(c.agent_role_pattern, "agent_*");
	assert_string_equal(c.state_dir, "/home/tester/.local/state/cockpit");
	assert_string_equal(c.audit_log, "/home/tester/.local/state/cockpit/audit.jsonl");
	assert_non_null(strstr(c.runbooks_dir, "/runbooks"));
	assert_non_null(strstr(c.themes_dir, "/themes"));
	assert_string_equal(c.theme, "default");
	assert_false(c.ascii);
	assert_int_equal(c.policy.by_risk[0], POLICY_ALLOW);
	assert_int_equal(c.policy.by_risk[1], POLICY_APPROVAL);
	assert_int_equal(c.policy.by_risk[2], POLICY_APPROVAL);
	assert_int_equal(c.policy.by_risk[3], POLICY_APPROVAL);
	assert_int_equal(c.policy.nactions, 0);
	assert_true(c.policy.escalate_below == 0.7);
	assert_true(c.policy.approval_below == 0.85);
	assert_int_equal(c.policy.max_sessions, 3);
	assert_true(c.policy.vacuum_full_max_bytes == 1024LL * 1024 * 1024);
	assert_int_equal(c.policy.rate_limit_per_hour, 6);
	assert_int_equal(c.policy.idempotency_min, 10);
	assert_int_equal(c.policy.nmaintenance_windows, 0);
	assert_non_null(c.policy.maintenance_windows);
	assert_null(c.policy.maintenance_windows[0]);
	assert_int_equal(c.policy.lock_timeout_ms, 2000);
	assert_int_equal(c.policy.statement_timeout_ms, 60000);
	assert_int_equal(c.policy.verify_attempts, 2);
	assert_int_equal(c.nshell_actions, 0);
	config_release(&c);

	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	config_init_defaults(&c);
	assert_string_equal(c.state_dir, "/xdg/state/cockpit");
	assert_string_equal(c.audit_log, "/xdg/state/cockpit/audit.jsonl");
	config_release(&c);
	unsetenv("XDG_STATE_HOME");
}

/* ---------------------------------------------------------------- good files */

static void test_full_file(void **state)
{
	char *path = expect_top_path("tests/data/config/good/full.conf");
	struct config c;
	char *errs = NULL;
	const struct config_target *t;

	(void)state;
	if (config_load(&c, path, &errs) != 0)
		fail_msg("%s", errs);
	assert_string_equal(c.path, path);
	assert_int_equal(c.mode, MODE_ASSIST);
	assert_int_equal(c.ntargets, 2);

	t = &c.targets[0];
	assert_string_equal(t->name, "prod");
	assert_string_equal(t->conninfo,
	                    "host=db1.example.com port=5433 dbname=app user=cockpit_monitor");
	assert_string_equal(t->password_env, "PROD_PGPASSWORD");
	assert_string_equal(t->executor_conninfo,
	                    "host=db1.example.com dbname=app user=cockpit_executor");
	assert_string_equal(t->executor_password_env, "PROD_EXECUTOR_PGPASSWORD");
	assert_string_equal(t->server_log, "/var/log/postgresql");
	assert_string_equal(t->server_log_format, "csvlog");
	assert_string_equal(t->data_directory, "/var/lib/postgresql/15/main");

	t = &c.targets[1];
	assert_string_equal(t->name, "staging");
	assert_string_equal(t->conninfo,
	                    "postgres://cockpit@staging.example.com/app?sslmode=require");
	assert_null(t->password_env);
	assert_null(t->executor_conninfo);
	assert_null(t->executor_password_env);
	assert_string_equal(t->server_log, "auto");
	assert_string_equal(t->server_log_format, "auto");
	assert_null(t->data_directory);

	assert_string_equal(c.default_target, "staging");
	assert_ptr_equal(config_find_target(&c, NULL), &c.targets[1]);

	assert_int_equal(c.policy.by_risk[0], POLICY_APPROVAL);
	assert_int_equal(c.policy.by_risk[1], POLICY_APPROVAL);
	assert_int_equal(c.policy.by_risk[2], POLICY_DENY);
	assert_int_equal(c.policy.by_risk[3], POLICY_DENY);
	assert_int_equal(c.policy.nactions, 2);
	assert_string_equal(c.policy.actions[0].action, "analyze");
	assert_int_equal(c.policy.actions[0].rule, POLICY_ALLOW);
	assert_string_equal(c.policy.actions[1].action, "terminate_backend");
	assert_int_equal(c.policy.actions[1].rule, POLICY_DENY);
	assert_true(c.policy.escalate_below == 0.6);
	assert_true(c.policy.approval_below == 0.9);
	assert_int_equal(c.policy.max_sessions, 5);
	assert_true(c.policy.vacuum_full_max_bytes == 512LL * 1024 * 1024);
	assert_int_equal(c.policy.rate_limit_per_hour, 4);
	assert_int_equal(c.policy.idempotency_min, 30);
	assert_int_equal(c.policy.nmaintenance_windows, 3);
	assert_string_equal(c.policy.maintenance_windows[1], "Mon-Fri 22:00-06:00");
	assert_null(c.policy.maintenance_windows[3]);
	assert_int_equal(c.policy.lock_timeout_ms, 1500);
	assert_int_equal(c.policy.statement_timeout_ms, 120000);
	assert_int_equal(c.policy.verify_attempts, 3);

	assert_int_equal(c.nshell_actions, 2);
	assert_string_equal(c.shell_actions[0].name, "compress_logs");
	assert_string_equal(c.shell_actions[0].summary, "gzip old server logs");
	assert_int_equal(c.shell_actions[0].nargv, 3);
	assert_string_equal(c.shell_actions[0].argv[0], "/usr/bin/gzip");
	assert_string_equal(c.shell_actions[0].argv[2], "{file}");
	assert_null(c.shell_actions[0].argv[3]);
	assert_string_equal(c.shell_actions[0].arg_pattern, "^[a-z0-9./-]+$");
	assert_int_equal(c.shell_actions[0].timeout_s, 60);
	assert_string_equal(c.shell_actions[1].name, "grow_volume");
	assert_null(c.shell_actions[1].summary);
	assert_int_equal(c.shell_actions[1].nargv, 1);
	assert_string_equal(c.shell_actions[1].arg_pattern, "^[A-Za-z0-9_./-]+$");
	assert_int_equal(c.shell_actions[1].timeout_s, 300);
	assert_ptr_equal(config_find_target(&c, "prod"), &c.targets[0]);
	assert_null(config_find_target(&c, "nope"));

	assert_int_equal(c.fast_refresh_ms, 500);
	assert_int_equal(c.slow_refresh_ms, 30000);
	assert_int_equal(c.connect_timeout_s, 3);
	assert_int_equal(c.statement_timeout_ms, 1500);
	assert_int_equal(c.query_max_len, 2048);
	assert_int_equal(c.top_tables, 10);
	assert_int_equal(c.top_statements, 25);
	assert_int_equal(c.thresholds.lock_wait_ms, 250);
	assert_int_equal(c.thresholds.idle_in_transaction_s, 30);
	assert_int_equal(c.thresholds.long_transaction_s, 600);
	assert_true(c.thresholds.slow_query_mean_ms == 75.5);
	assert_true(c.thresholds.disk_warn_pct == 80);
	assert_true(c.thresholds.disk_crit_pct == 92.5);
	assert_true(c.thresholds.dead_tuple_ratio == 0.1);
	assert_int_equal(c.thresholds.dead_tuple_min, 500);
	assert_true(c.thresholds.connections_pct == 85);
	assert_int_equal(c.nagent_app_patterns, 2);
	assert_string_equal(c.agent_app_patterns[0], "claude*");
	assert_string_equal(c.agent_app_patterns[1], "etl_bot");
	assert_null(c.agent_app_patterns[2]);
	assert_string_equal(c.agent_role_pattern, "ai_*");
	assert_string_equal(c.state_dir, "/var/lib/cockpit");
	assert_string_equal(c.audit_log, "/var/log/cockpit/audit.jsonl");
	assert_string_equal(c.runbooks_dir, "/etc/cockpit/runbooks");
	assert_string_equal(c.themes_dir, "/etc/cockpit/themes");
	assert_string_equal(c.theme, "solarized-dark");
	assert_true(c.ascii);

	config_release(&c);
	free(path);
}

static void test_values_and_paths(void **state)
{
	struct config c;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load_str(&c,
		"mode: auto\n"
		"agents:\n  application_name_patterns: []\n"
		"paths:\n  state_dir: ~/st\n  runbooks_dir: \"~\"\n"
		"ui:\n  ascii: On\n"
		"thresholds:\n  slow_query_mean_ms: 1e2\n  dead_tuple_ratio: .5\n"
		"targets:\n  - name: a\n    conninfo: x\n    data_directory: ~/pg\n",
		&errs), 0);
	assert_int_equal(c.mode, MODE_AUTO);
	assert_int_equal(c.nagent_app_patterns, 0);
	assert_null(c.agent_app_patterns[0]);
	assert_string_equal(c.state_dir, "/home/tester/st");
	/* audit_log follows state_dir when not set */
	assert_string_equal(c.audit_log, "/home/tester/st/audit.jsonl");
	assert_string_equal(c.runbooks_dir, "/home/tester");
	assert_true(c.ascii);
	assert_true(c.thresholds.slow_query_mean_ms == 100);
	assert_true(c.thresholds.dead_tuple_ratio == 0.5);
	assert_string_equal(c.targets[0].data_directory, "/home/tester/pg");
	assert_ptr_equal(config_find_target(&c, NULL), &c.targets[0]);
	config_release(&c);
}

/* Every file under tests/data/config/good loads without a message. */
static void test_good_files(void **state)
{
	char *dir = expect_top_path("tests/data/config/good");
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct config c;
		char *errs = NULL;

		if (!strstr(e->d_name, ".conf"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (config_load(&c, path, &errs) != 0)
			fail_msg("%s:\n%s", path, errs);
		config_release(&c);
		n++;
	}
	closedir(d);
	free(dir);
	assert_true(n >= 5);
}

/* expect_load_fn: a sample file loaded from memory. */
static int load_sample(const char *name, const char *text, size_t len, char **errs)
{
	struct config c;
	int ret = config_load_buffer(&c, name, text, len, errs);

	config_release(&c);
	return ret;
}

/* Every file under tests/data/config/bad fails with exactly the messages its
 * "# expect: " lines name, and none holds what a "# forbid: " line names. */
static void test_bad_files(void **state)
{
	(void)state;
	assert_true(expect_sample_files("tests/data/config/bad", ".conf", load_sample) >= 10);
}

/* ---------------------------------------------------------------- example */

static void test_example_is_defaults(void **state)
{
	char *path = expect_top_path("cockpit.conf.example");
	struct config c, def;
	char *errs = NULL;

	(void)state;
	if (config_load(&c, path, &errs) != 0)
		fail_msg("%s", errs);
	config_init_defaults(&def);
	assert_config_equal(&c, &def);
	config_release(&def);
	config_release(&c);
	free(path);
}

/* The committed file is what config_write_example() writes today. */
static void test_example_is_up_to_date(void **state)
{
	char *path = expect_top_path("cockpit.conf.example");
	char *file = expect_slurp(path, NULL), *gen = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&gen, &len);

	(void)state;
	assert_non_null(f);
	config_write_example(f);
	fclose(f);
	if (strcmp(file, gen) != 0)
		fail_msg("cockpit.conf.example is stale: regenerate it with "
		         "config_write_example()");
	free(gen);
	free(file);
	free(path);
}

/* Uncommenting the example target gives a target that loads. */
static void test_example_target(void **state)
{
	char *gen = NULL, *out, *o;
	size_t len = 0;
	FILE *f = open_memstream(&gen, &len);
	bool in_targets = false;
	struct config c;
	char *errs = NULL;
	const struct config_target *t;

	(void)state;
	config_write_example(f);
	fclose(f);
	out = o = malloc(len + 1);
	assert_non_null(out);
	for (const char *line = gen; *line;) {
		size_t n = strcspn(line, "\n");

		if (in_targets && line[0] == '#') {
			line++, n--;
		} else {
			in_targets = strncmp(line, "targets:", 8) == 0;
		}
		memcpy(o, line, n);
		o += n;
		*o++ = '\n';
		line += n + (line[n] == '\n');
	}
	*o = '\0';
	if (load_str(&c, out, &errs) != 0)
		fail_msg("%s", errs);
	assert_int_equal(c.ntargets, 1);
	t = config_find_target(&c, NULL);
	assert_non_null(t);
	assert_string_equal(t->name, "prod");
	assert_string_equal(t->conninfo, "host=db1.example.com dbname=app user=cockpit_monitor");
	assert_string_equal(t->password_env, "PROD_PGPASSWORD");
	assert_string_equal(t->server_log, "auto");
	assert_string_equal(t->server_log_format, "auto");
	config_release(&c);
	free(out);
	free(gen);
}

/* ---------------------------------------------------------------- files */

/* Uncommenting the example shell action gives one that loads. */
static void test_example_shell_action(void **state)
{
	char *gen = NULL, *out, *o;
	size_t len = 0;
	FILE *f = open_memstream(&gen, &len);
	bool in_shell = false;
	struct config c;
	char *errs = NULL;

	(void)state;
	config_write_example(f);
	fclose(f);
	out = o = malloc(len + 1);
	assert_non_null(out);
	for (const char *line = gen; *line;) {
		size_t n = strcspn(line, "\n");

		if (in_shell && line[0] == '#')
			line++, n--;
		else
			in_shell = strncmp(line, "shell_actions:", 14) == 0;
		memcpy(o, line, n);
		o += n;
		*o++ = '\n';
		line += n + (line[n] == '\n');
	}
	*o = '\0';
	if (load_str(&c, out, &errs) != 0)
		fail_msg("%s", errs);
	assert_int_equal(c.nshell_actions, 1);
	assert_string_equal(c.shell_actions[0].name, "compress_logs");
	assert_string_equal(c.shell_actions[0].argv[0], "/usr/local/bin/compress-pg-logs");
	assert_int_equal(c.shell_actions[0].nargv, 2);
	assert_int_equal(c.shell_actions[0].timeout_s, 300);
	config_release(&c);
	free(out);
	free(gen);
}

/* Byte sizes: units as PostgreSQL writes them, and their IEC names. */
static void test_byte_units(void **state)
{
	static const struct { const char *text; long long bytes; } cases[] = {
		{ "0", 0 }, { "1073741824", 1073741824LL }, { "1GB", 1LL << 30 },
		{ "512 MB", 512LL << 20 }, { "2GiB", 2LL << 30 }, { "64kB", 64LL << 10 },
		{ "3tb", 3LL << 40 }, { "100B", 100 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char yaml[128];
		struct config c;
		char *errs = NULL;

		snprintf(yaml, sizeof(yaml), "policy:\n  vacuum_full_max_bytes: %s\n",
		         cases[i].text);
		if (load_str(&c, yaml, &errs) != 0)
			fail_msg("%s: %s", cases[i].text, errs);
		assert_true(c.policy.vacuum_full_max_bytes == cases[i].bytes);
		config_release(&c);
	}
}

static void test_missing_file(void **state)
{
	struct config c;
	char *errs = NULL;

	(void)state;
	assert_int_equal(config_load(&c, "/nonexistent/cockpit.conf", &errs), -1);
	assert_string_equal(errs, "/nonexistent/cockpit.conf: cannot open the file: No such "
	                    "file or directory — check the path, or create it from "
	                    "cockpit.conf.example\n");
	/* defaults all the same */
	assert_int_equal(c.fast_refresh_ms, 1000);
	assert_non_null(c.state_dir);
	free(errs);
	config_release(&c);

	assert_int_equal(config_load(&c, "/", &errs), -1);
	assert_contains(errs, "/: is a directory, not a file");
	free(errs);
	config_release(&c);
}

static void test_unreadable_file(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX", below[64];
	int fd = mkstemp(path);
	struct config c;
	char *errs = NULL;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "mode: auto\n", 11), 11);
	close(fd);

	/* a file where a directory should be */
	snprintf(below, sizeof(below), "%s/cockpit.conf", path);
	assert_int_equal(config_load(&c, below, &errs), -1);
	assert_contains(errs, "/cockpit.conf: cannot open the file: Not a directory");
	free(errs);
	config_release(&c);

	chmod(path, 0);
	if (access(path, R_OK) != 0) {     /* root reads anything */
		assert_int_equal(config_load(&c, path, &errs), -1);
		assert_contains(errs, ": cannot open the file: Permission denied");
		free(errs);
		config_release(&c);
	}
	unlink(path);
}

/* ---------------------------------------------------------------- behaviour */

static void test_all_errors_sorted(void **state)
{
	struct config c;
	char *errs = NULL;
	const char *a, *b, *d;

	(void)state;
	/* default_target is checked last but sits on line 1 */
	assert_int_equal(load_str(&c, "default_target: nope\nmode: x\nui:\n  ascii: 3\n", &errs),
	                 -1);
	assert_int_equal(expect_count_lines(errs), 3);
	a = strstr(errs, "cockpit.conf:1:17:");
	b = strstr(errs, "cockpit.conf:2:7:");
	d = strstr(errs, "cockpit.conf:4:10:");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(d);
	assert_true(a < b && b < d);
	free(errs);
	config_release(&c);
}

static void test_too_many_errors(void **state)
{
	char yaml[8192], *p = yaml;
	struct config c;
	char *errs = NULL;

	(void)state;
	for (int i = 0; i < 150; i++)
		p += sprintf(p, "zz%d: 1\n", i);
	assert_int_equal(load_str(&c, yaml, &errs), -1);
	assert_int_equal(expect_count_lines(errs), 101);
	assert_contains(errs, "cockpit.conf: too many errors, 50 more not shown\n");
	free(errs);
	config_release(&c);
}

static void test_errs_optional_and_release_twice(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(load_str(&c, "mode: nope\n", NULL), -1);
	config_release(&c);
	config_release(&c);
	assert_int_equal(load_str(&c, "mode: shadow\n", NULL), 0);
	assert_int_equal(c.mode, MODE_SHADOW);
	config_release(&c);
}

static void test_failed_value_keeps_default(void **state)
{
	struct config c;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load_str(&c, "refresh:\n  fast_ms: 5\n  slow_ms: 20000\n", &errs), -1);
	assert_int_equal(c.fast_refresh_ms, 1000);
	assert_int_equal(c.slow_refresh_ms, 20000);
	free(errs);
	config_release(&c);
}

static void test_aliases_are_cheap(void **state)
{
	/* a billion-laughs shape: each level lists the previous one ten times */
	static const char yaml[] =
		"x0: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		"x1: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		"x2: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		"x3: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		"x4: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		"x5: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		"x6: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		"x7: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
		"x8: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
		"targets: [*i, *i]\n"
		"agents:\n  application_name_patterns: *i\n";
	struct config c;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load_str(&c, yaml, &errs), -1);
	assert_contains(errs, "unknown key 'x0'");
	free(errs);
	config_release(&c);
}

static void test_llm_section(void **state)
{
	static const char yaml[] =
		"llm:\n"
		"  provider: openai\n"
		"  base_url: http://127.0.0.1:11434/v1\n"
		"  model: small\n"
		"  model_complex: large\n"
		"  api_key_env: COCKPIT_TEST_LLM_KEY\n"
		"  connect_s: 3\n"
		"  first_token_s: 20\n"
		"  idle_s: 7\n"
		"  total_s: 90\n"
		"  max_tokens: 800\n"
		"  temperature: 0\n"
		"  stream: false\n"
		"  max_retries: 1\n"
		"  budget_tokens: 9000\n"
		"  cost_in_per_1k: 0.003\n"
		"  cost_out_per_1k: 0.015\n";
	struct config c, d;
	char *errs = NULL;

	(void)state;
	config_init_defaults(&d);
	assert_int_equal(d.llm.provider, LLM_PROVIDER_NONE);
	assert_null(d.llm.base_url);
	assert_null(d.llm.api_key_env);
	assert_int_equal(d.llm.budget_tokens, 16000);
	assert_true(d.llm.stream);
	assert_string_equal(config_llm_provider_name(d.llm.provider), "none");
	config_release(&d);

	assert_int_equal(config_load_buffer(&c, "cockpit.conf", yaml, sizeof(yaml) - 1, &errs), 0);
	assert_null(errs);
	assert_int_equal(c.llm.provider, LLM_PROVIDER_OPENAI);
	assert_string_equal(config_llm_provider_name(c.llm.provider), "openai");
	assert_string_equal(c.llm.base_url, "http://127.0.0.1:11434/v1");
	assert_string_equal(c.llm.model, "small");
	assert_string_equal(c.llm.model_complex, "large");
	assert_string_equal(c.llm.api_key_env, "COCKPIT_TEST_LLM_KEY");
	assert_int_equal(c.llm.connect_s, 3);
	assert_int_equal(c.llm.first_token_s, 20);
	assert_int_equal(c.llm.idle_s, 7);
	assert_int_equal(c.llm.total_s, 90);
	assert_int_equal(c.llm.max_tokens, 800);
	assert_true(c.llm.temperature == 0);
	assert_false(c.llm.stream);
	assert_int_equal(c.llm.max_retries, 1);
	assert_int_equal(c.llm.budget_tokens, 9000);
	assert_true(c.llm.cost_in_per_1k > 0.0029 && c.llm.cost_in_per_1k < 0.0031);
	assert_true(c.llm.cost_out_per_1k > 0.0149 && c.llm.cost_out_per_1k < 0.0151);
	config_release(&c);
}

static void test_mode_names(void **state)
{
	static const struct {
		enum cockpit_mode m;
		const char *name;
	} modes[] = {
		{ MODE_OBSERVE, "observe" }, { MODE_SHADOW, "shadow" },
		{ MODE_ASSIST, "assist" }, { MODE_AUTO, "auto" },
	};
	enum cockpit_mode m;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		assert_string_equal(config_mode_name(modes[i].m), modes[i].name);
		assert_true(config_mode_parse(modes[i].name, &m));
		assert_int_equal(m, modes[i].m);
	}
	assert_string_equal(config_mode_name((enum cockpit_mode)42), "?");
	assert_false(config_mode_parse("Auto", &m));
	assert_false(config_mode_parse("", &m));
}

static void test_default_path(void **state)
{
	char dir[] = "/tmp/test_config_xdg.XXXXXX";
	char sub[64], file[96], buf[4096];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/cockpit", dir);
	snprintf(file, sizeof(file), "%s/cockpit.conf", sub);

	setenv("COCKPIT_CONFIG", "/where/ever.conf", 1);
	assert_string_equal(config_default_path(buf, sizeof(buf)), "/where/ever.conf");
	assert_null(config_default_path(buf, 4));     /* does not fit */
	unsetenv("COCKPIT_CONFIG");

	setenv("HOME", dir, 1);                       /* no ~/.config there */
	setenv("XDG_CONFIG_HOME", dir, 1);
	if (access("/etc/cockpit/cockpit.conf", F_OK) != 0)
		assert_null(config_default_path(buf, sizeof(buf)));
	assert_int_equal(mkdir(sub, 0700), 0);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_ptr_equal(config_default_path(buf, sizeof(buf)), buf);
	assert_string_equal(buf, file);

	unlink(file);
	rmdir(sub);
	rmdir(dir);
	setenv("HOME", "/home/tester", 1);
	unsetenv("XDG_CONFIG_HOME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_error_cases, setup_env),
		cmocka_unit_test_setup(test_conninfo_without_password, setup_env),
		cmocka_unit_test_setup(test_defaults_when_empty, setup_env),
		cmocka_unit_test_setup(test_default_values, setup_env),
		cmocka_unit_test_setup(test_full_file, setup_env),
		cmocka_unit_test_setup(test_values_and_paths, setup_env),
		cmocka_unit_test_setup(test_good_files, setup_env),
		cmocka_unit_test_setup(test_bad_files, setup_env),
		cmocka_unit_test_setup(test_example_is_defaults, setup_env),
		cmocka_unit_test_setup(test_example_is_up_to_date, setup_env),
		cmocka_unit_test_setup(test_example_target, setup_env),
		cmocka_unit_test_setup(test_example_shell_action, setup_env),
		cmocka_unit_test_setup(test_byte_units, setup_env),
		cmocka_unit_test_setup(test_missing_file, setup_env),
		cmocka_unit_test_setup(test_unreadable_file, setup_env),
		cmocka_unit_test_setup(test_all_errors_sorted, setup_env),
		cmocka_unit_test_setup(test_too_many_errors, setup_env),
		cmocka_unit_test_setup(test_errs_optional_and_release_twice, setup_env),
		cmocka_unit_test_setup(test_failed_value_keeps_default, setup_env),
		cmocka_unit_test_setup(test_aliases_are_cheap, setup_env),
		cmocka_unit_test_setup(test_llm_section, setup_env),
		cmocka_unit_test_setup(test_mode_names, setup_env),
		cmocka_unit_test_setup(test_default_path, setup_env),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
