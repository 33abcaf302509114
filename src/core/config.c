/*
 * config: cockpit.conf (YAML) loaded into struct config; see config.h.
 *
 * Every key exists in exactly one row of a table: config_keys[] for the file,
 * target_keys[] for one entry of `targets:`. A row holds the key's dotted
 * name, type, storage offset, default, range and help text, and everything
 * else is driven from the rows: the defaults (key_set_default), the loader
 * and its error messages (key_set_value), the release (key_release) and the
 * documented example file (config_write_example).
 *
 * The loader reads the whole file, lets libyaml's document API build a node
 * tree (every node carries its line:column) and walks it twice: a sweep that
 * rejects secret-looking keys anywhere in the tree, then a walk of the known
 * layout that parses and checks each value against its row. Problems are
 * collected rather than returned at the first: each becomes one line
 * "FILE:LINE:COL: problem — fix", and the lines are sorted by position, so
 * one run of `cockpit check-config` lists everything there is to fix. The
 * reading, the parsing, the message list and the did-you-mean are
 * core/yamlload's, shared with every YAML loader; the words are this file's.
 *
 * Values are never echoed when they may be secrets: a conninfo is shown only
 * with its password masked, an *_env value not at all.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "act/action.h"
#include "act/policy.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "core/yamlload.h"

#ifndef COCKPIT_DATADIR
#define COCKPIT_DATADIR "/usr/local/share/cockpit"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A file larger than this is not a hand-written config. */
#define CONFIG_MAX_BYTES (1024 * 1024)
/* A secret key longer than this is not named back in its hint. */
#define MAX_WORD 64
/* Characters of a value quoted back in a message. */
#define MAX_SHOWN 48
/* The secret sweep does not descend deeper than this. */
#define MAX_DEPTH 64
/* Flow collections ([ ], { }) nested deeper than this are refused unparsed. */
#define MAX_FLOW_DEPTH 64

/* ---------------------------------------------------------------- tables */

enum key_type {
	KEY_SECTION,  /* a mapping of further keys */
	KEY_INT,      /* int */
	KEY_DOUBLE,   /* double */
	KEY_BOOL,     /* bool */
	KEY_STRING,   /* char *, owned; NULL when unset */
	KEY_ENUM,     /* int index into values[], or char * with KF_ENUM_STR */
	KEY_STRLIST,  /* char **, owned, NULL-terminated, count at count_offset */
	KEY_TARGETS,  /* the targets list, rows in target_keys[] */
	KEY_BYTES,    /* long long; a byte count, units (kB, MB, GB, TB) allowed */
	KEY_RULES,    /* policy.actions: mapping action name -> rule; struct
	                 config_action_rule *, count at count_offset */
	KEY_SHELL,    /* the shell_actions list, rows in shell_keys[] */
};

enum key_flag {
	KF_REQUIRED = 1 << 0, /* must be present (target keys) */
	KF_NONEMPTY = 1 << 1, /* an empty value is an error */
	KF_PATH     = 1 << 2, /* a leading ~/ stands for $HOME */
	KF_ENVNAME  = 1 << 3, /* names an environment variable; never echoed */
	KF_CONNINFO = 1 << 4, /* libpq conninfo: no password; echoed masked */
	KF_NAME     = 1 << 5, /* letters, digits, '_', '-', '.' */
	KF_ENUM_STR = 1 << 6, /* KEY_ENUM stored as an owned string */
	KF_WINDOW   = 1 << 7, /* KEY_STRLIST of maintenance windows (policy.h) */
	KF_ABSPATH  = 1 << 8, /* KEY_STRLIST whose first item is an absolute path */
	KF_REGEX    = 1 << 9, /* KEY_STRING: an anchored POSIX ERE */
};

struct key {
	const char *name;         /* dotted path: "refresh.fast_ms" */
	enum key_type type;
	unsigned flags;           /* enum key_flag */
	size_t offset;            /* into struct config or struct config_target */
	size_t count_offset;      /* KEY_STRLIST: its size_t count */
	long long def_int;        /* KEY_INT, KEY_BOOL, KEY_ENUM (index), KEY_BYTES */
	double def_num;           /* KEY_DOUBLE */
	const char *def_str;      /* KEY_STRING; NULL: unset */
	const char *const *def_list;  /* KEY_STRLIST, NULL-terminated */
	/* Computed default, filled in after loading when the key is unset;
	 * def_doc says in words what it is. */
	char *(*def_fn)(const struct config *c);
	const char *def_doc;
	double min, max;          /* KEY_INT, KEY_DOUBLE */
	const char *unit;         /* "milliseconds", or "a percentage" (double) */
	const char *const *values;    /* KEY_ENUM, NULL-terminated */
	const char *example;      /* target keys: value in the example target */
	const char *help;
};

static const char *const mode_names[] = {
	[MODE_OBSERVE] = "observe",
	[MODE_SHADOW] = "shadow",
	[MODE_ASSIST] = "assist",
	[MODE_AUTO] = "auto",
	NULL,
};

static const char *const rule_names[] = {
	[POLICY_ALLOW] = "allow",
	[POLICY_APPROVAL] = "approval",
	[POLICY_DENY] = "deny",
	NULL,
};

static const char *const llm_provider_names[] = {
	[LLM_PROVIDER_NONE] = "none",
	[LLM_PROVIDER_OPENAI] = "openai",
	[LLM_PROVIDER_ANTHROPIC] = "anthropic",
	NULL,
};

static const char *const no_strings[] = { NULL };

static const char *const log_formats[] = {
	"auto", "stderr", "csvlog", "jsonlog", NULL,
};

static const char *const default_agent_apps[] = {
	"*agent*", "*mcp*", "langchain*", "llama_index*", "crewai*", "autogen*", NULL,
};

static char *default_state_dir(const struct config *c);
static char *default_audit_log(const struct config *c);
static char *default_runbooks_dir(const struct config *c);
static char *default_themes_dir(const struct config *c);

#define C_OFF(f) offsetof(struct config, f)
#define T_OFF(f) offsetof(struct config_target, f)
#define S_OFF(f) offsetof(struct config_shell_action, f)

#define GIB (1024LL * 1024 * 1024)

static const struct key config_keys[] = {
	{ .name = "mode", .type = KEY_ENUM, .offset = C_OFF(mode),
	  .values = mode_names, .def_int = MODE_OBSERVE,
	  .help = "What cockpit may do on its own: observe (watch and diagnose, "
	          "nothing runs), shadow (decisions are recorded and what would "
	          "have run is logged), assist (actions run after you approve "
	          "them), auto (actions the policy allows as low-risk run by "
	          "themselves)." },
	{ .name = "default_target", .type = KEY_STRING, .flags = KF_NAME,
	  .offset = C_OFF(default_target),
	  .def_doc = "empty: the first entry of targets",
	  .help = "The target opened at start when -t is not given." },
	{ .name = "targets", .type = KEY_TARGETS,
	  .help = "The PostgreSQL servers cockpit watches: a list with one entry "
	          "per server. Keys of an entry:" },

	{ .name = "refresh", .type = KEY_SECTION,
	  .help = "How often cockpit samples a target, and how much it keeps." },
	{ .name = "refresh.fast_ms", .type = KEY_INT, .offset = C_OFF(fast_refresh_ms),
	  .def_int = 1000, .min = 100, .max = 3600000, .unit = "milliseconds",
	  .help = "Period of the fast sample: activity, locks, waits." },
	{ .name = "refresh.slow_ms", .type = KEY_INT, .offset = C_OFF(slow_refresh_ms),
	  .def_int = 10000, .min = 1000, .max = 86400000, .unit = "milliseconds",
	  .help = "Period of the slow sample: statements, sizes, bloat, role "
	          "settings. At least fast_ms." },
	{ .name = "refresh.connect_timeout_s", .type = KEY_INT,
	  .offset = C_OFF(connect_timeout_s),
	  .def_int = 5, .min = 1, .max = 300, .unit = "seconds",
	  .help = "Give up connecting to a target after this long." },
	{ .name = "refresh.statement_timeout_ms", .type = KEY_INT,
	  .offset = C_OFF(statement_timeout_ms),
	  .def_int = 2000, .min = 100, .max = 600000, .unit = "milliseconds",
	  .help = "statement_timeout of cockpit's own monitoring session, so "
	          "that sampling never weighs on a struggling server." },
	{ .name = "refresh.query_max_len", .type = KEY_INT, .offset = C_OFF(query_max_len),
	  .def_int = 512, .min = 64, .max = 1048576, .unit = "bytes",
	  .help = "Bytes of query text kept per session and per statement." },
	{ .name = "refresh.top_tables", .type = KEY_INT, .offset = C_OFF(top_tables),
	  .def_int = 20, .min = 1, .max = 10000, .unit = "tables",
	  .help = "How many of the largest tables the disk panel keeps." },
	{ .name = "refresh.top_statements", .type = KEY_INT, .offset = C_OFF(top_statements),
	  .def_int = 50, .min = 1, .max = 10000, .unit = "statements",
	  .help = "How many statements (by total time, from "
	          "pg_stat_statements) a sample keeps." },

	{ .name = "thresholds", .type = KEY_SECTION,
	  .help = "When an observation becomes an incident." },
	{ .name = "thresholds.lock_wait_ms", .type = KEY_INT,
	  .offset = C_OFF(thresholds.lock_wait_ms),
	  .def_int = 1000, .min = 0, .max = 86400000, .unit = "milliseconds",
	  .help = "A session waiting on a lock longer than this makes a "
	          "lock-chain incident." },
	{ .name = "thresholds.idle_in_transaction_s", .type = KEY_INT,
	  .offset = C_OFF(thresholds.idle_in_transaction_s),
	  .def_int = 60, .min = 1, .max = 604800, .unit = "seconds",
	  .help = "A session idle in transaction longer than this is flagged." },
	{ .name = "thresholds.long_transaction_s", .type = KEY_INT,
	  .offset = C_OFF(thresholds.long_transaction_s),
	  .def_int = 300, .min = 1, .max = 2592000, .unit = "seconds",
	  .help = "A transaction open longer than this is flagged (it holds "
	          "back vacuum)." },
	{ .name = "thresholds.slow_query_mean_ms", .type = KEY_DOUBLE,
	  .offset = C_OFF(thresholds.slow_query_mean_ms),
	  .def_num = 200, .min = 0, .max = 3600000, .unit = "milliseconds",
	  .help = "A statement whose mean execution time is above this is slow." },
	{ .name = "thresholds.disk_warn_pct", .type = KEY_DOUBLE,
	  .offset = C_OFF(thresholds.disk_warn_pct),
	  .def_num = 85, .min = 1, .max = 100, .unit = "a percentage",
	  .help = "Use of the data directory's volume that raises a warning." },
	{ .name = "thresholds.disk_crit_pct", .type = KEY_DOUBLE,
	  .offset = C_OFF(thresholds.disk_crit_pct),
	  .def_num = 95, .min = 1, .max = 100, .unit = "a percentage",
	  .help = "Use of the volume that raises a critical incident; above "
	          "disk_warn_pct." },
	{ .name = "thresholds.dead_tuple_ratio", .type = KEY_DOUBLE,
	  .offset = C_OFF(thresholds.dead_tuple_ratio),
	  .def_num = 0.2, .min = 0.001, .max = 1, .unit = "a fraction",
	  .help = "A table needs vacuum when its dead tuples are more than this "
	          "fraction of its rows (and at least dead_tuple_min)." },
	{ .name = "thresholds.dead_tuple_min", .type = KEY_INT,
	  .offset = C_OFF(thresholds.dead_tuple_min),
	  .def_int = 1000, .min = 0, .max = INT_MAX, .unit = "dead tuples",
	  .help = "Tables with fewer dead tuples than this are never flagged." },
	{ .name = "thresholds.connections_pct", .type = KEY_DOUBLE,
	  .offset = C_OFF(thresholds.connections_pct),
	  .def_num = 90, .min = 1, .max = 100, .unit = "a percentage",
	  .help = "Connections in use, as a share of max_connections, that "
	          "raise an incident." },

	{ .name = "policy", .type = KEY_SECTION,
	  .help = "What may run, and when. A proposal gets the strictest outcome "
	          "of every rule (deny, escalate, skip, approval, allow) and the "
	          "reasons name the key that decided. The mode (above) gates it "
	          "further: observe runs nothing, shadow only records what would "
	          "have run." },
	{ .name = "policy.low", .type = KEY_ENUM, .offset = C_OFF(policy.by_risk[0]),
	  .values = rule_names, .def_int = POLICY_ALLOW,
	  .help = "Low-risk actions (cancel a statement, ANALYZE, CHECKPOINT, "
	          "rotate the log): allow (runs by itself in auto mode), approval "
	          "or deny." },
	{ .name = "policy.medium", .type = KEY_ENUM, .offset = C_OFF(policy.by_risk[1]),
	  .values = rule_names, .def_int = POLICY_APPROVAL,
	  .help = "Medium-risk actions (end a session, CREATE INDEX CONCURRENTLY, "
	          "VACUUM, ALTER ROLE ... SET)." },
	{ .name = "policy.high", .type = KEY_ENUM, .offset = C_OFF(policy.by_risk[2]),
	  .values = rule_names, .def_int = POLICY_APPROVAL,
	  .help = "High-risk actions (DROP INDEX, REVOKE, VACUUM FULL, drop a "
	          "replication slot)." },
	{ .name = "policy.critical", .type = KEY_ENUM, .offset = C_OFF(policy.by_risk[3]),
	  .values = rule_names, .def_int = POLICY_APPROVAL,
	  .help = "Critical actions (the shell commands of shell_actions): "
	          "approval or deny, never allow." },
	{ .name = "policy.actions", .type = KEY_RULES, .offset = C_OFF(policy.actions),
	  .count_offset = C_OFF(policy.nactions),
	  .help = "Rules for single actions that replace their risk's rule: a "
	          "mapping of action name to allow, approval or deny, e.g. "
	          "{terminate_backend: deny, analyze: allow}." },
	{ .name = "policy.escalate_below", .type = KEY_DOUBLE,
	  .offset = C_OFF(policy.escalate_below),
	  .def_num = 0.7, .min = 0, .max = 1, .unit = "a fraction",
	  .help = "A proposal whose confidence is below this is only reported: "
	          "a human must look." },
	{ .name = "policy.approval_below", .type = KEY_DOUBLE,
	  .offset = C_OFF(policy.approval_below),
	  .def_num = 0.85, .min = 0, .max = 1, .unit = "a fraction",
	  .help = "Below this confidence an action needs approval even when its "
	          "risk would allow it. At least escalate_below." },
	{ .name = "policy.max_sessions", .type = KEY_INT, .offset = C_OFF(policy.max_sessions),
	  .def_int = 3, .min = 1, .max = 10000, .unit = "sessions",
	  .help = "Most sessions one proposal may end or signal; more is denied." },
	{ .name = "policy.vacuum_full_max_bytes", .type = KEY_BYTES,
	  .offset = C_OFF(policy.vacuum_full_max_bytes),
	  .def_int = GIB, .min = 0, .max = 1e15,
	  .help = "VACUUM FULL of a larger table is denied: it holds an ACCESS "
	          "EXCLUSIVE lock while it rewrites the whole table." },
	{ .name = "policy.rate_limit_per_hour", .type = KEY_INT,
	  .offset = C_OFF(policy.rate_limit_per_hour),
	  .def_int = 6, .min = 1, .max = 3600, .unit = "runs",
	  .help = "Runs of one action on one target within an hour; more are "
	          "denied." },
	{ .name = "policy.idempotency_min", .type = KEY_INT,
	  .offset = C_OFF(policy.idempotency_min),
	  .def_int = 10, .min = 0, .max = 10080, .unit = "minutes",
	  .help = "The same action on the same target within this many minutes "
	          "is skipped, naming the earlier run; 0: never skipped." },
	{ .name = "policy.maintenance_windows", .type = KEY_STRLIST,
	  .flags = KF_NONEMPTY | KF_WINDOW,
	  .offset = C_OFF(policy.maintenance_windows),
	  .count_offset = C_OFF(policy.nmaintenance_windows), .def_list = no_strings,
	  .help = "When high and critical actions may run, in local time, e.g. "
	          "[\"Sat 02:00-04:00\", \"daily 01:00-05:00\", \"Mon-Fri "
	          "22:00-06:00\"] (an end before the start runs past midnight). "
	          "Empty: at any time." },
	{ .name = "policy.lock_timeout_ms", .type = KEY_INT,
	  .offset = C_OFF(policy.lock_timeout_ms),
	  .def_int = 2000, .min = 1, .max = 600000, .unit = "milliseconds",
	  .help = "lock_timeout of each statement the executor runs, unless the "
	          "proposal sets its own: an action that cannot get its lock "
	          "soon gives up instead of queueing everyone behind it." },
	{ .name = "policy.statement_timeout_ms", .type = KEY_INT,
	  .offset = C_OFF(policy.statement_timeout_ms),
	  .def_int = 60000, .min = 1, .max = 86400000, .unit = "milliseconds",
	  .help = "statement_timeout of each statement the executor runs, unless "
	          "the proposal or its action sets its own (CREATE INDEX "
	          "CONCURRENTLY does)." },
	{ .name = "policy.verify_attempts", .type = KEY_INT,
	  .offset = C_OFF(policy.verify_attempts),
	  .def_int = 2, .min = 1, .max = 100, .unit = "attempts",
	  .help = "Failed verifications of an incident's actions before it "
	          "escalates to a human." },
	{ .name = "shell_actions", .type = KEY_SHELL,
	  .help = "Commands the runbooks may run on this machine (critical risk: "
	          "always approval), run with execve, never through a shell. A "
	          "list with one entry per command. Keys of an entry:" },

	{ .name = "llm", .type = KEY_SECTION,
	  .help = "The language model that adds reasoning to what the runbook "
	          "rules found. It never replaces them and never gets around "
	          "policy: its proposals are validated like a rule's. Unset or "
	          "unreachable: rules only." },
	{ .name = "llm.provider", .type = KEY_ENUM, .offset = C_OFF(llm.provider),
	  .values = llm_provider_names, .def_int = LLM_PROVIDER_NONE,
	  .help = "none (rules only), openai (any OpenAI-compatible chat "
	          "completions server: OpenAI, vLLM, llama.cpp, Ollama's /v1, "
	          "LiteLLM) or anthropic (the Messages API)." },
	{ .name = "llm.base_url", .type = KEY_STRING,
	  .offset = C_OFF(llm.base_url),
	  .def_doc = "empty: required when provider is set",
	  .help = "Endpoint, e.g. https://api.openai.com/v1, "
	          "http://127.0.0.1:11434/v1 or https://api.anthropic.com." },
	{ .name = "llm.model", .type = KEY_STRING,
	  .offset = C_OFF(llm.model),
	  .def_doc = "empty: required when provider is set",
	  .help = "Model for the diagnosis of an incident." },
	{ .name = "llm.model_complex", .type = KEY_STRING,
	  .offset = C_OFF(llm.model_complex),
	  .def_doc = "empty: model",
	  .help = "Stronger model for complex incidents (critical severity)." },
	{ .name = "llm.api_key_env", .type = KEY_STRING, .flags = KF_ENVNAME,
	  .offset = C_OFF(llm.api_key_env),
	  .def_doc = "empty: no key (local servers)",
	  .help = "Name of the environment variable holding the API key; the key "
	          "itself never goes in this file." },
	{ .name = "llm.connect_s", .type = KEY_INT, .offset = C_OFF(llm.connect_s),
	  .def_int = 5, .min = 1, .max = 300, .unit = "seconds",
	  .help = "Give up connecting to the endpoint after this long." },
	{ .name = "llm.first_token_s", .type = KEY_INT, .offset = C_OFF(llm.first_token_s),
	  .def_int = 30, .min = 1, .max = 600, .unit = "seconds",
	  .help = "Streamed: longest wait for the first token." },
	{ .name = "llm.idle_s", .type = KEY_INT, .offset = C_OFF(llm.idle_s),
	  .def_int = 15, .min = 1, .max = 600, .unit = "seconds",
	  .help = "Streamed: longest silence between tokens (a stall)." },
	{ .name = "llm.total_s", .type = KEY_INT, .offset = C_OFF(llm.total_s),
	  .def_int = 120, .min = 1, .max = 3600, .unit = "seconds",
	  .help = "Whole diagnosis, retries included; the rules' proposals stand "
	          "meanwhile." },
	{ .name = "llm.max_tokens", .type = KEY_INT, .offset = C_OFF(llm.max_tokens),
	  .def_int = 1024, .min = 16, .max = 200000, .unit = "tokens",
	  .help = "Longest reply." },
	{ .name = "llm.temperature", .type = KEY_DOUBLE, .offset = C_OFF(llm.temperature),
	  .def_num = 0.2, .min = 0, .max = 2, .unit = "a number",
	  .help = "Sampling temperature; low keeps diagnoses repeatable." },
	{ .name = "llm.stream", .type = KEY_BOOL, .offset = C_OFF(llm.stream), .def_int = 1,
	  .help = "Stream the reply (server-sent events) so the reasoning shows "
	          "as it comes." },
	{ .name = "llm.max_retries", .type = KEY_INT, .offset = C_OFF(llm.max_retries),
	  .def_int = 2, .min = 0, .max = 10, .unit = "retries",
	  .help = "Extra attempts after 429 (honouring Retry-After), 5xx or a "
	          "failed connection." },
	{ .name = "llm.budget_tokens", .type = KEY_INT, .offset = C_OFF(llm.budget_tokens),
	  .def_int = 16000, .min = 256, .max = 2000000, .unit = "tokens",
	  .help = "Tokens (prompt and reply) one incident may use; the prompt is "
	          "trimmed to fit and says what it left out." },
	{ .name = "llm.cost_in_per_1k", .type = KEY_DOUBLE, .offset = C_OFF(llm.cost_in_per_1k),
	  .def_num = 0, .min = 0, .max = 1000, .unit = "a price",
	  .help = "Price of 1000 input tokens, for the cost estimate shown and "
	          "audited (0: not estimated)." },
	{ .name = "llm.cost_out_per_1k", .type = KEY_DOUBLE,
	  .offset = C_OFF(llm.cost_out_per_1k),
	  .def_num = 0, .min = 0, .max = 1000, .unit = "a price",
	  .help = "Price of 1000 output tokens." },

	{ .name = "agents", .type = KEY_SECTION,
	  .help = "How cockpit recognises sessions opened by AI agents, to show "
	          "and attribute their activity apart." },
	{ .name = "agents.application_name_patterns", .type = KEY_STRLIST,
	  .flags = KF_NONEMPTY,
	  .offset = C_OFF(agent_app_patterns), .count_offset = C_OFF(nagent_app_patterns),
	  .def_list = default_agent_apps,
	  .help = "Shell patterns (fnmatch) matched against application_name." },
	{ .name = "agents.role_pattern", .type = KEY_STRING, .flags = KF_NONEMPTY,
	  .offset = C_OFF(agent_role_pattern), .def_str = "agent_*",
	  .help = "Shell pattern (fnmatch) matched against the session's role." },

	{ .name = "paths", .type = KEY_SECTION,
	  .help = "Where cockpit keeps and finds its files. A leading ~/ stands "
	          "for your home directory." },
	/* state_dir first: audit_log's default is computed from it. */
	{ .name = "paths.state_dir", .type = KEY_STRING, .flags = KF_PATH,
	  .offset = C_OFF(state_dir), .def_fn = default_state_dir,
	  .def_doc = "empty: $XDG_STATE_HOME/cockpit, else ~/.local/state/cockpit",
	  .help = "Directory of cockpit's own state (history, recordings)." },
	{ .name = "paths.audit_log", .type = KEY_STRING, .flags = KF_PATH,
	  .offset = C_OFF(audit_log), .def_fn = default_audit_log,
	  .def_doc = "empty: audit.jsonl in state_dir",
	  .help = "Append-only log (JSON lines) of every decision and action." },
	{ .name = "paths.runbooks_dir", .type = KEY_STRING, .flags = KF_PATH,
	  .offset = C_OFF(runbooks_dir), .def_fn = default_runbooks_dir,
	  .def_doc = "empty: the runbooks installed with cockpit",
	  .help = "Directory of runbooks (*.yaml), one incident class each." },
	{ .name = "paths.themes_dir", .type = KEY_STRING, .flags = KF_PATH,
	  .offset = C_OFF(themes_dir), .def_fn = default_themes_dir,
	  .def_doc = "empty: the themes installed with cockpit",
	  .help = "Directory of colour themes (*.yaml)." },

	{ .name = "ui", .type = KEY_SECTION,
	  .help = "The terminal interface." },
	{ .name = "ui.theme", .type = KEY_STRING, .flags = KF_NONEMPTY | KF_NAME,
	  .offset = C_OFF(theme), .def_str = "default",
	  .help = "Colour theme: a file name in themes_dir, without .yaml." },
	{ .name = "ui.ascii", .type = KEY_BOOL, .offset = C_OFF(ascii), .def_int = 0,
	  .help = "Draw with ASCII only (no Unicode lines or symbols), for "
	          "terminals and fonts that lack them." },
};

static const struct key target_keys[] = {
	{ .name = "name", .type = KEY_STRING,
	  .flags = KF_REQUIRED | KF_NONEMPTY | KF_NAME, .offset = T_OFF(name),
	  .example = "prod",
	  .help = "required, unique: how the target is called on screen and "
	          "with -t." },
	{ .name = "conninfo", .type = KEY_STRING,
	  .flags = KF_REQUIRED | KF_NONEMPTY | KF_CONNINFO, .offset = T_OFF(conninfo),
	  .example = "host=db1.example.com dbname=app user=cockpit_monitor",
	  .help = "required: libpq connection string or URI "
	          "(postgres://cockpit_monitor@db1/app) of the monitoring "
	          "session, without a password." },
	{ .name = "password_env", .type = KEY_STRING, .flags = KF_ENVNAME,
	  .offset = T_OFF(password_env), .example = "PROD_PGPASSWORD",
	  .help = "environment variable holding the password; unset: "
	          "PGPASSWORD or ~/.pgpass, as libpq does." },
	{ .name = "executor_conninfo", .type = KEY_STRING,
	  .flags = KF_NONEMPTY | KF_CONNINFO, .offset = T_OFF(executor_conninfo),
	  .example = "host=db1.example.com dbname=app user=cockpit_executor",
	  .help = "connection of the executor that runs approved actions, "
	          "under its own role; unset: nothing can run on this target." },
	{ .name = "executor_password_env", .type = KEY_STRING, .flags = KF_ENVNAME,
	  .offset = T_OFF(executor_password_env),
	  .example = "PROD_EXECUTOR_PGPASSWORD",
	  .help = "environment variable holding the executor's password." },
	{ .name = "server_log", .type = KEY_STRING, .flags = KF_NONEMPTY | KF_PATH,
	  .offset = T_OFF(server_log), .def_str = "auto", .example = "auto",
	  .help = "where to read the server log for deadlock reports: auto "
	          "(pg_read_binary_file of pg_current_logfile(); needs EXECUTE on "
	          "both, see README), none, or a local file or directory." },
	{ .name = "server_log_format", .type = KEY_ENUM, .flags = KF_ENUM_STR,
	  .offset = T_OFF(server_log_format), .values = log_formats, .def_int = 0,
	  .example = "auto",
	  .help = "auto (from the file name or log_destination), stderr, csvlog "
	          "or jsonlog." },
	{ .name = "data_directory", .type = KEY_STRING, .flags = KF_NONEMPTY | KF_PATH,
	  .offset = T_OFF(data_directory),
	  .example = "/var/lib/postgresql/15/main",
	  .help = "local path of the data directory, measured with statvfs for "
	          "disk use; unset: the server's data_directory when it is on "
	          "this machine." },
};

static const struct key shell_keys[] = {
	{ .name = "name", .type = KEY_STRING,
	  .flags = KF_REQUIRED | KF_NONEMPTY | KF_NAME, .offset = S_OFF(name),
	  .example = "compress_logs",
	  .help = "required, unique: what runbooks call it (the shell action's "
	          "command parameter)." },
	{ .name = "summary", .type = KEY_STRING, .flags = KF_NONEMPTY,
	  .offset = S_OFF(summary), .example = "gzip the server logs older than a day",
	  .help = "one line shown in the proposal." },
	{ .name = "argv", .type = KEY_STRLIST,
	  .flags = KF_REQUIRED | KF_NONEMPTY | KF_ABSPATH,
	  .offset = S_OFF(argv), .count_offset = S_OFF(nargv), .def_list = no_strings,
	  .example = "[\"/usr/local/bin/compress-pg-logs\", \"{dir}\"]",
	  .help = "required: the program (an absolute path) and its arguments; "
	          "{param} in an argument is replaced by the proposal's parameter "
	          "of that name." },
	{ .name = "arg_pattern", .type = KEY_STRING, .flags = KF_NONEMPTY | KF_REGEX,
	  .offset = S_OFF(arg_pattern), .def_str = "^[A-Za-z0-9_./-]+$",
	  .example = "^[A-Za-z0-9_./-]+$",
	  .help = "anchored POSIX extended regular expression every parameter "
	          "value must match." },
	{ .name = "timeout_s", .type = KEY_INT, .offset = S_OFF(timeout_s),
	  .def_int = 300, .min = 1, .max = 86400, .unit = "seconds",
	  .example = "300",
	  .help = "SIGTERM after this long, SIGKILL 5 seconds later." },
};

/* Pairs of keys whose values must be ordered (lo < hi, or <= unless strict). */
static const struct key_order {
	const char *lo, *hi;
	bool strict;
} key_orders[] = {
	{ "refresh.fast_ms", "refresh.slow_ms", false },
	{ "thresholds.disk_warn_pct", "thresholds.disk_crit_pct", true },
	{ "policy.escalate_below", "policy.approval_below", false },
};

/* Key names that would hold a secret; their *_env twin is the way. */
static const char *const secret_words[] = {
	"password", "passwd", "secret", "token", "api_key", "apikey",
	"sslpassword", "access_key", "private_key", NULL,
};

/* libyaml's problem texts, and what usually causes them. */
static const struct yamlload_hint yaml_hints[] = {
	{ "mapping values are not allowed",
	  "quote a value that contains ': ', or check the indentation" },
	{ "did not find expected key",
	  "keys of one mapping must start in the same column" },
	{ "did not find expected '-' indicator",
	  "items of one list must start in the same column" },
	{ "could not find expected ':'",
	  "write 'key: value' on one line, or quote a multi-line value" },
	{ "found undefined alias",
	  "quote a value that starts with '*', e.g. \"*agent*\"" },
	{ "did not find expected alphabetic or numeric character",
	  "quote a value that starts with '*' or '&', e.g. \"*agent*\"" },
	{ "found unexpected end of stream",
	  "a quoted value is not closed" },
	{ "found unknown escape character",
	  "in double quotes write a backslash as \\\\, or use single quotes" },
	{ "found character that cannot start any token",
	  "quote a value that starts with '@' or '`'" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- fields */

static void *field(void *base, size_t off)
{
	return (char *)base + off;
}

static const void *cfield(const void *base, size_t off)
{
	return (const char *)base + off;
}

static char **str_field(void *base, const struct key *k)
{
	return field(base, k->offset);
}

/* Does the example show k's value in quotes? Names and numbers go bare. */
static bool example_quoted(const struct key *k)
{
	return k->type == KEY_STRING && !(k->flags & (KF_ENVNAME | KF_NAME));
}

static char *default_state_dir(const struct config *c)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	struct strbuf sb = STRBUF_INIT;

	(void)c;
	if (xdg && *xdg == '/')
		strbuf_addf(&sb, "%s/cockpit", xdg);
	else if (home && *home)
		strbuf_addf(&sb, "%s/.local/state/cockpit", home);
	else
		strbuf_addstr(&sb, ".cockpit-state");
	return strbuf_detach(&sb, NULL);
}

static char *default_audit_log(const struct config *c)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s/audit.jsonl", c->state_dir ? c->state_dir : ".");
	return strbuf_detach(&sb, NULL);
}

static char *default_runbooks_dir(const struct config *c)
{
	(void)c;
	return xstrdup(COCKPIT_DATADIR "/runbooks");
}

static char *default_themes_dir(const struct config *c)
{
	(void)c;
	return xstrdup(COCKPIT_DATADIR "/themes");
}

static void strlist_free(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

static void rules_release(struct config_action_rule **rules, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*rules)[i].action);
	free(*rules);
	*rules = NULL;
	*n = 0;
}

static void key_release(const struct key *k, void *base)
{
	switch (k->type) {
	case KEY_RULES:
		rules_release(field(base, k->offset), field(base, k->count_offset));
		break;
	case KEY_STRING:
		free(*str_field(base, k));
		*str_field(base, k) = NULL;
		break;
	case KEY_ENUM:
		if (k->flags & KF_ENUM_STR) {
			free(*str_field(base, k));
			*str_field(base, k) = NULL;
		}
		break;
	case KEY_STRLIST:
		strlist_free(*(char ***)field(base, k->offset));
		*(char ***)field(base, k->offset) = NULL;
		*(size_t *)field(base, k->count_offset) = 0;
		break;
	default:
		break;
	}
}

/* Put k's default into base. Computed defaults are left unset (NULL) for
 * fill_computed(), which runs once the keys they depend on are known. */
static void key_set_default(const struct key *k, void *base)
{
	key_release(k, base);
	switch (k->type) {
	case KEY_INT:
		*(int *)field(base, k->offset) = (int)k->def_int;
		break;
	case KEY_DOUBLE:
		*(double *)field(base, k->offset) = k->def_num;
		break;
	case KEY_BYTES:
		*(long long *)field(base, k->offset) = k->def_int;
		break;
	case KEY_BOOL:
		*(bool *)field(base, k->offset) = k->def_int != 0;
		break;
	case KEY_STRING:
		*str_field(base, k) = k->def_str ? xstrdup(k->def_str) : NULL;
		break;
	case KEY_ENUM:
		if (k->flags & KF_ENUM_STR)
			*str_field(base, k) = xstrdup(k->values[k->def_int]);
		else
			*(int *)field(base, k->offset) = (int)k->def_int;
		break;
	case KEY_STRLIST: {
		size_t n = 0;
		char **list;

		while (k->def_list[n])
			n++;
		list = xcalloc(n + 1, sizeof(*list));
		for (size_t i = 0; i < n; i++)
			list[i] = xstrdup(k->def_list[i]);
		*(char ***)field(base, k->offset) = list;
		*(size_t *)field(base, k->count_offset) = n;
		break;
	}
	case KEY_SECTION:
	case KEY_TARGETS:
	case KEY_RULES:
	case KEY_SHELL:
		break;
	}
}

static void fill_computed(struct config *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		const struct key *k = &config_keys[i];

		if (k->def_fn && !*str_field(c, k))
			*str_field(c, k) = k->def_fn(c);
	}
}

static void init_static_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		key_set_default(&config_keys[i], c);
}

static void target_init(struct config_target *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < ARRAY_SIZE(target_keys); i++)
		key_set_default(&target_keys[i], t);
}

static void shell_init(struct config_shell_action *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < ARRAY_SIZE(shell_keys); i++)
		key_set_default(&shell_keys[i], s);
}

void config_init_defaults(struct config *c)
{
	init_static_defaults(c);
	fill_computed(c);
}

void config_release(struct config *c)
{
	for (size_t i = 0; i < c->ntargets; i++)
		for (size_t j = 0; j < ARRAY_SIZE(target_keys); j++)
			key_release(&target_keys[j], &c->targets[i]);
	free(c->targets);
	for (size_t i = 0; i < c->nshell_actions; i++)
		for (size_t j = 0; j < ARRAY_SIZE(shell_keys); j++)
			key_release(&shell_keys[j], &c->shell_actions[i]);
	free(c->shell_actions);
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		key_release(&config_keys[i], c);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------------- words */

static const char *last_component(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

/* Is name a direct child of section prefix ("" for the top level)? */
static bool is_child(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 0)
		return strchr(name, '.') == NULL;
	return strncmp(name, prefix, n) == 0 && name[n] == '.' &&
	       strchr(name + n + 1, '.') == NULL;
}

static int find_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int find_target_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(target_keys); i++)
		if (strcmp(target_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int find_shell_key(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(shell_keys); i++)
		if (strcmp(shell_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool is_secret_key(const char *k)
{
	size_t n = strlen(k);

	for (size_t i = 0; secret_words[i]; i++) {
		size_t w = strlen(secret_words[i]);

		if (strcasecmp(k, secret_words[i]) == 0)
			return true;
		if (n > w && k[n - w - 1] == '_' && strcasecmp(k + n - w, secret_words[i]) == 0)
			return true;
	}
	return false;
}

static bool is_env_name(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static bool is_name(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return n > 0 && n <= 63;
}

/* Quote s (len bytes) for a message: at most max characters, control
 * bytes escaped so the message stays on one line. */
static void add_shown_max(struct strbuf *sb, const char *s, size_t len, size_t max)
{
	size_t n = len > max ? max : len;

	strbuf_addch(sb, '\'');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			strbuf_addf(sb, "\\x%02x", ch);
		else
			strbuf_addch(sb, ch);
	}
	if (n < len)
		strbuf_addstr(sb, "...");
	strbuf_addch(sb, '\'');
}

static void add_shown(struct strbuf *sb, const char *s, size_t len)
{
	add_shown_max(sb, s, len, MAX_SHOWN);
}

/* Join the NULL-terminated words into sb: "a, b, c". */
static void add_list(struct strbuf *sb, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		strbuf_addf(sb, "%s%s", i ? ", " : "", words[i]);
}

/* ---------------------------------------------------------------- conninfo */

static bool is_password_word(const char *k, size_t n)
{
	return (n == 8 && strncasecmp(k, "password", 8) == 0) ||
	       (n == 11 && strncasecmp(k, "sslpassword", 11) == 0);
}

/* URI form: postgres://user:PASSWORD@host/db?password=PASSWORD */
static bool mask_uri(const char *s, size_t scheme, struct strbuf *out)
{
	const char *p = s + scheme, *at, *q;
	bool found = false;

	strbuf_add(out, s, scheme);
	/* libpq ends the credentials at the first '@' before any '/'; mask up
	 * to the last one, in case an unescaped '@' is part of the password. */
	at = NULL;
	for (q = p; *q && *q != '/'; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon && colon + 1 < at) {
			strbuf_add(out, p, (size_t)(colon + 1 - p));
			strbuf_addstr(out, "****");
			found = true;
			p = at;
		}
	}
	q = strchr(p, '?');
	if (!q) {
		strbuf_addstr(out, p);
		return found;
	}
	strbuf_add(out, p, (size_t)(q - p));
	p = q;
	while (*p) {
		size_t n = strcspn(p + 1, "&") + 1;   /* p[0] is '?' or '&' */
		const char *eq = memchr(p + 1, '=', n - 1);

		if (eq && is_password_word(p + 1, (size_t)(eq - p - 1)) && eq + 1 < p + n) {
			strbuf_add(out, p, (size_t)(eq + 1 - p));
			strbuf_addstr(out, "****");
			found = true;
		} else {
			strbuf_add(out, p, n);
		}
		p += n;
	}
	return found;
}

/* Keyword form: host=db password='it''s' ... parsed as libpq does. A part
 * that does not parse is masked whole, since it may hold a password. */
static bool mask_keywords(const char *s, struct strbuf *out)
{
	const char *p = s;
	bool found = false;

	while (*p) {
		const char *kw, *v;
		size_t kwlen;
		bool secret;

		while (isspace((unsigned char)*p))
			strbuf_addch(out, *p++);
		if (!*p)
			break;
		kw = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		kwlen = (size_t)(p - kw);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=') {
			/* Not keyword=value: keep nothing of the rest. */
			strbuf_addstr(out, "****");
			return found || strcasestr(kw, "password") != NULL;
		}
		p++;
		while (isspace((unsigned char)*p))
			p++;
		v = p;
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
		} else {
			for (; *p && !isspace((unsigned char)*p); p++)
				if (*p == '\\' && p[1])
					p++;
		}
		secret = is_password_word(kw, kwlen);
		strbuf_add(out, kw, kwlen);
		strbuf_addch(out, '=');
		if (secret && p > v && !(p - v == 2 && v[0] == '\'' && v[1] == '\'')) {
			strbuf_addstr(out, "****");
			found = true;
		} else {
			strbuf_add(out, v, (size_t)(p - v));
		}
	}
	return found;
}

/* The safety net under the masking: every "password=" in the masked text
 * is followed by the mask or by nothing. */
static bool mask_is_safe(const char *m)
{
	const char *p = m;

	while ((p = strcasestr(p, "password")) != NULL) {
		p += 8;
		while (*p == ' ')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ')
			p++;
		if (*p && *p != '&' && strncmp(p, "****", 4) != 0 && strncmp(p, "''", 2) != 0)
			return false;
	}
	return true;
}

/* Does conninfo s hold a password? *masked gets s with each one replaced. */
static bool conninfo_mask(const char *s, struct strbuf *masked)
{
	if (strncmp(s, "postgresql://", 13) == 0)
		return mask_uri(s, 13, masked);
	if (strncmp(s, "postgres://", 11) == 0)
		return mask_uri(s, 11, masked);
	return mask_keywords(s, masked);
}

/* ---------------------------------------------------------------- loader */

struct loader {
	struct yamlload y;         /* the file, its document and the messages */
	struct config *c;          /* borrowed: being filled */
	/* per row of config_keys: where the key was set (line 0: not set),
	 * where its value starts, and whether the value was rejected */
	struct yamlload_pos key_pos[ARRAY_SIZE(config_keys)];
	struct yamlload_pos val_pos[ARRAY_SIZE(config_keys)];
	bool bad[ARRAY_SIZE(config_keys)];
	unsigned char *visited;    /* owned: secret sweep, one per node */
};

/* ---------------------------------------------------------------- nodes */

static const char *shape_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default: return "a value";
	}
}

/* A number as a person writes it: 3600000, 0.2 (not 3.6e+06). */
static void add_number(struct strbuf *sb, double x)
{
	/* No libm: the build links without -lm. */
	if (x > -1e15 && x < 1e15 && x == (double)(long long)x)
		strbuf_addf(sb, "%lld", (long long)x);
	else
		strbuf_addf(sb, "%g", x);
}

/* What value the key wants, in words shared by messages and the example. */
static void describe_expect(struct strbuf *sb, const struct key *k)
{
	switch (k->type) {
	case KEY_INT:
		if (k->unit)
			strbuf_addf(sb, "an integer number of %s", k->unit);
		else
			strbuf_addstr(sb, "an integer");
		if (k->max >= INT_MAX) {
			strbuf_addstr(sb, ", at least ");
			add_number(sb, k->min);
		} else {
			strbuf_addstr(sb, " between ");
			add_number(sb, k->min);
			strbuf_addstr(sb, " and ");
			add_number(sb, k->max);
		}
		break;
	case KEY_DOUBLE:
		if (k->unit && strncmp(k->unit, "a ", 2) == 0)
			strbuf_addstr(sb, k->unit);
		else if (k->unit)
			strbuf_addf(sb, "a number of %s", k->unit);
		else
			strbuf_addstr(sb, "a number");
		strbuf_addstr(sb, " between ");
		add_number(sb, k->min);
		strbuf_addstr(sb, " and ");
		add_number(sb, k->max);
		break;
	case KEY_BOOL:
		strbuf_addstr(sb, "true or false");
		break;
	case KEY_ENUM:
		strbuf_addstr(sb, "one of ");
		add_list(sb, k->values);
		break;
	case KEY_STRING:
		if (k->flags & KF_ENVNAME)
			strbuf_addstr(sb, "the name of an environment variable "
			                  "(letters, digits and '_')");
		else if (k->flags & KF_NAME)
			strbuf_addstr(sb, "a name of letters, digits, '_', '-' and '.'");
		else if (k->flags & KF_CONNINFO)
			strbuf_addstr(sb, "a libpq connection string or URI");
		else if (k->flags & KF_PATH)
			strbuf_addstr(sb, "a path");
		else if (k->flags & KF_REGEX)
			strbuf_addstr(sb, "an anchored regular expression (^...$)");
		else
			strbuf_addstr(sb, "a string");
		break;
	case KEY_STRLIST:
		if (k->flags & KF_WINDOW)
			strbuf_addstr(sb, "a list of windows such as \"Sat 02:00-04:00\"");
		else if (k->flags & KF_ABSPATH)
			strbuf_addstr(sb, "a list of strings, the first an absolute path");
		else
			strbuf_addstr(sb, "a list of strings");
		break;
	case KEY_BYTES:
		strbuf_addstr(sb, "a size in bytes, or with a unit (kB, MB, GB, TB; "
		              "1GB = 1024MB)");
		break;
	case KEY_RULES:
		strbuf_addstr(sb, "a mapping of action names to allow, approval or deny");
		break;
	case KEY_SHELL:
		strbuf_addstr(sb, "a list of shell actions, each a mapping with at "
		              "least name and argv");
		break;
	case KEY_SECTION: {
		const char *sep = " (";
		size_t shown = 0;

		strbuf_addstr(sb, "a mapping of keys");
		for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
			if (!is_child(config_keys[i].name, k->name))
				continue;
			if (shown++ == 3) {
				strbuf_addstr(sb, ", ...");
				break;
			}
			strbuf_addf(sb, "%s%s", sep, last_component(config_keys[i].name));
			sep = ", ";
		}
		if (shown)
			strbuf_addch(sb, ')');
		break;
	}
	case KEY_TARGETS:
		strbuf_addstr(sb, "a list of targets, each a mapping with at least "
		                  "name and conninfo");
		break;
	}
}

/* What the file has at v, for "got ...": the value quoted, or its shape;
 * hide: the value may be a secret, do not show it. */
static void describe_got(struct strbuf *sb, const yaml_node_t *v, bool hide)
{
	if (yamlload_is_null(v))
		strbuf_addstr(sb, "nothing");
	else if (v->type != YAML_SCALAR_NODE)
		strbuf_addstr(sb, shape_name(v));
	else if (hide)
		strbuf_addstr(sb, "a value (not shown, in case it is a secret)");
	else
		add_shown(sb, yamlload_scalar(v), v->data.scalar.length);
}

/* "'PATH' expects WHAT, got GOT[HINT]" at v. */
static void err_expect(struct loader *L, const yaml_node_t *v, const char *path,
                       const struct key *k, const char *hint)
{
	struct strbuf exp = STRBUF_INIT, got = STRBUF_INIT;

	describe_expect(&exp, k);
	describe_got(&got, v, k->flags & (KF_ENVNAME | KF_CONNINFO));
	yamlload_node_error(&L->y, v, "'%s' expects %s, got %s%s", path, exp.buf, got.buf,
	                    hint ? hint : "");
	strbuf_release(&exp);
	strbuf_release(&got);
}

/* ---------------------------------------------------------------- values */

/* "1073741824", "1GB", "512 MB", "2GiB": bytes, with PostgreSQL's units
 * (powers of 1024, case-insensitive) or their IEC spelling. */
static bool parse_bytes(const char *s, long long *out)
{
	static const struct { const char *unit; long long mult; } units[] = {
		{ "", 1 }, { "b", 1 }, { "kb", 1LL << 10 }, { "kib", 1LL << 10 },
		{ "mb", 1LL << 20 }, { "mib", 1LL << 20 }, { "gb", 1LL << 30 },
		{ "gib", 1LL << 30 }, { "tb", 1LL << 40 }, { "tib", 1LL << 40 },
	};
	long long x = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		if (x > (LLONG_MAX - 9) / 10)
			return false;
		x = x * 10 + (*p - '0');
	}
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcasecmp(p, units[i].unit) != 0)
			continue;
		if (x > LLONG_MAX / units[i].mult)
			return false;
		*out = x * units[i].mult;
		return true;
	}
	return false;
}

/* "5s", "200 ms", "85%": a number with a unit the key does not take. */
static const char *unit_hint(const struct key *k, const char *s)
{
	if (!isdigit((unsigned char)*s))
		return NULL;
	while (isdigit((unsigned char)*s) || *s == '.')
		s++;
	while (*s == ' ')
		s++;
	if ((*s == 'e' || *s == 'E') && (isdigit((unsigned char)s[1]) || s[1] == '-' || s[1] == '+'))
		return NULL;    /* 1e3: an exponent, not a unit */
	if (!isalpha((unsigned char)*s) && *s != '%')
		return NULL;
	if (k->unit && strcmp(k->unit, "a percentage") == 0)
		return " — write the number alone, without '%'";
	return " — write the number alone, without a unit";
}

/* v is known to be a number, so it is shown as it is (shortened). */
static void range_error(struct loader *L, const yaml_node_t *v, const char *path,
                        const struct key *k)
{
	struct strbuf exp = STRBUF_INIT;

	describe_expect(&exp, k);
	yamlload_node_error(&L->y, v, "value %.*s%s is out of range for '%s' — "
	                    "expected %s", MAX_SHOWN, yamlload_scalar(v),
	                    v->data.scalar.length > MAX_SHOWN ? "..." : "", path, exp.buf);
	strbuf_release(&exp);
}

/* Expand a leading ~/ to $HOME. */
static char *expand_path(const char *s)
{
	const char *home = getenv("HOME");
	struct strbuf sb = STRBUF_INIT;

	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0') && home && *home) {
		strbuf_addstr(&sb, home);
		strbuf_addstr(&sb, s + 1);
		return strbuf_detach(&sb, NULL);
	}
	return xstrdup(s);
}

static void set_string_value(struct loader *L, const struct key *k, void *base,
                             const char *path, const yaml_node_t *v, const char *s)
{
	if (k->flags & KF_ENVNAME) {
		if (!is_env_name(s)) {
			yamlload_node_error(&L->y, v, "'%s' expects the name of an "
			                    "environment variable (letters, digits and '_', "
			                    "e.g. PGPASSWORD_PROD) — the value is not shown in "
			                    "case it is the secret itself; put the secret in "
			                    "that variable, not here", path);
			return;
		}
	} else if (k->flags & KF_NAME) {
		if (!is_name(s)) {
			err_expect(L, v, path, k, strlen(s) > 63 ?
			           " — at most 63 characters" : NULL);
			return;
		}
	} else if (k->flags & KF_CONNINFO) {
		struct strbuf masked = STRBUF_INIT, shown = STRBUF_INIT;

		if (conninfo_mask(s, &masked)) {
			const char *env = strcmp(last_component(path), "executor_conninfo") == 0 ?
			                  "executor_password_env" : "password_env";

			if (mask_is_safe(masked.buf))
				add_shown_max(&shown, masked.buf, masked.len, 2 * MAX_SHOWN);
			else
				strbuf_addstr(&shown, "not shown");
			yamlload_node_error(&L->y, v, "'%s' contains a password (%s) — "
			                    "secrets are never read from the file; remove it "
			                    "and name an environment variable with '%s', or "
			                    "use ~/.pgpass", path, shown.buf, env);
			strbuf_release(&masked);
			strbuf_release(&shown);
			return;
		}
		strbuf_release(&masked);
	} else if (k->flags & KF_REGEX) {
		size_t n = strlen(s);
		regex_t re;
		int rc;

		if (n < 2 || s[0] != '^' || s[n - 1] != '$') {
			yamlload_node_error(&L->y, v, "'%s' must be anchored — start it with "
			                    "'^' and end it with '$', so that the whole value "
			                    "is checked, e.g. \"^[A-Za-z0-9_./-]+$\"", path);
			return;
		}
		rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char why[128];

			regerror(rc, &re, why, sizeof(why));
			yamlload_node_error(&L->y, v, "'%s' is not a valid extended regular "
			                    "expression: %s — fix the pattern", path, why);
			return;
		}
		regfree(&re);
	}
	free(*str_field(base, k));
	*str_field(base, k) = (k->flags & KF_PATH) ? expand_path(s) : xstrdup(s);
}

/* The checks of KF_WINDOW and KF_ABSPATH on item i of a list. */
static bool strlist_item_ok(struct loader *L, const struct key *k, const yaml_node_t *item,
                            const char *ipath, size_t i)
{
	const char *s = yamlload_scalar(item);
	char why[256];

	if ((k->flags & KF_WINDOW) && !policy_window_valid(s, why, sizeof(why))) {
		yamlload_node_error(&L->y, item, "'%s': %s", ipath, why);
		return false;
	}
	if ((k->flags & KF_ABSPATH) && i == 0 && s[0] != '/') {
		struct strbuf shown = STRBUF_INIT;

		add_shown(&shown, s, item->data.scalar.length);
		yamlload_node_error(&L->y, item, "'%s' must be an absolute path, got %s — "
		                    "write the program's full path (e.g. /usr/bin/%s): it "
		                    "runs with execve, no shell and no PATH lookup", ipath,
		                    shown.buf, strchr(s, '/') || strlen(s) > 32 ? "gzip" : s);
		strbuf_release(&shown);
		return false;
	}
	return true;
}

static void set_strlist_value(struct loader *L, const struct key *k, void *base,
                              const char *path, const yaml_node_t *v)
{
	const yaml_node_item_t *it;
	size_t n = 0, i = 0;
	char **list;
	bool ok = true;

	if (v->type != YAML_SEQUENCE_NODE) {
		err_expect(L, v, path, k, v->type == YAML_SCALAR_NODE ?
		           " — write a list, e.g. [\"*agent*\", \"etl_*\"]" : NULL);
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0 && (k->flags & KF_REQUIRED)) {
		yamlload_node_error(&L->y, v, "'%s' is empty — give at least the program, "
		                    "e.g. [\"/usr/bin/gzip\", \"{file}\"]", path);
		return;
	}
	list = xcalloc(n + 1, sizeof(*list));
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yamlload_node(&L->y, *it);
		struct strbuf ipath = STRBUF_INIT;
		struct key ik = *k;

		ik.type = KEY_STRING;
		strbuf_addf(&ipath, "%s[%zu]", path, i);
		if (!item || item->type != YAML_SCALAR_NODE || yamlload_is_null(item) ||
		    yamlload_has_nul(item) ||
		    ((k->flags & KF_NONEMPTY) && !*yamlload_scalar(item))) {
			if (item)
				err_expect(L, item, ipath.buf, &ik, NULL);
			ok = false;
			list[i] = NULL;
		} else if (!strlist_item_ok(L, k, item, ipath.buf, i)) {
			ok = false;
			list[i] = NULL;
		} else {
			list[i] = xstrdup(yamlload_scalar(item));
		}
		strbuf_release(&ipath);
	}
	if (!ok) {
		for (size_t j = 0; j < n; j++)
			free(list[j]);
		free(list);
		return;
	}
	key_release(k, base);
	*(char ***)field(base, k->offset) = list;
	*(size_t *)field(base, k->count_offset) = n;
}

/* Parse v into k's field of base. False when it was rejected (the field
 * then keeps what it had). */
static bool key_set_value(struct loader *L, const struct key *k, void *base,
                          const char *path, const yaml_node_t *v)
{
	size_t before = yamlload_count(&L->y);
	const char *s;

	if (yamlload_is_null(v)) {
		if (k->flags & KF_REQUIRED) {
			struct strbuf exp = STRBUF_INIT;

			describe_expect(&exp, k);
			yamlload_node_error(&L->y, v, "'%s' is empty — expected %s", path,
			                    exp.buf);
			strbuf_release(&exp);
			return false;
		}
		key_set_default(k, base);
		return true;
	}
	if (k->type == KEY_STRLIST) {
		set_strlist_value(L, k, base, path, v);
		return yamlload_count(&L->y) == before;
	}
	if (v->type != YAML_SCALAR_NODE) {
		err_expect(L, v, path, k, NULL);
		return false;
	}
	s = yamlload_scalar(v);
	if (yamlload_has_nul(v)) {
		yamlload_node_error(&L->y, v, "'%s' contains a NUL character — remove the "
		                    "\\0 escape", path);
		return false;
	}
	switch (k->type) {
	case KEY_INT: {
		long long x;

		if (!yamlload_looks_integer(s)) {
			err_expect(L, v, path, k, unit_hint(k, s));
			return false;
		}
		errno = 0;
		x = strtoll(s, NULL, 10);
		if (errno == ERANGE || x < (long long)k->min || x > (long long)k->max) {
			range_error(L, v, path, k);
			return false;
		}
		*(int *)field(base, k->offset) = (int)x;
		return true;
	}
	case KEY_BYTES: {
		long long x;

		if (!parse_bytes(s, &x)) {
			err_expect(L, v, path, k, NULL);
			return false;
		}
		if (x < (long long)k->min || (double)x > k->max) {
			range_error(L, v, path, k);
			return false;
		}
		*(long long *)field(base, k->offset) = x;
		return true;
	}
	case KEY_DOUBLE: {
		double x;

		if (!yamlload_looks_number(s)) {
			err_expect(L, v, path, k, unit_hint(k, s));
			return false;
		}
		x = strtod(s, NULL);
		if (!isfinite(x) || x < k->min || x > k->max) {
			range_error(L, v, path, k);
			return false;
		}
		*(double *)field(base, k->offset) = x;
		return true;
	}
	case KEY_BOOL: {
		static const char *const yes[] = { "true", "yes", "on", NULL };
		static const char *const no[] = { "false", "no", "off", NULL };

		for (size_t i = 0; yes[i]; i++) {
			if (strcasecmp(s, yes[i]) == 0) {
				*(bool *)field(base, k->offset) = true;
				return true;
			}
			if (strcasecmp(s, no[i]) == 0) {
				*(bool *)field(base, k->offset) = false;
				return true;
			}
		}
		err_expect(L, v, path, k, NULL);
		return false;
	}
	case KEY_ENUM: {
		size_t n = 0;
		const char *guess;
		struct strbuf hint = STRBUF_INIT;

		for (; k->values[n]; n++) {
			if (strcmp(s, k->values[n]) != 0)
				continue;
			if (k->flags & KF_ENUM_STR) {
				free(*str_field(base, k));
				*str_field(base, k) = xstrdup(k->values[n]);
			} else {
				*(int *)field(base, k->offset) = (int)n;
			}
			return true;
		}
		guess = yamlload_suggest(s, k->values, n);
		if (guess)
			strbuf_addf(&hint, " (did you mean '%s'?)", guess);
		err_expect(L, v, path, k, hint.buf);
		strbuf_release(&hint);
		return false;
	}
	case KEY_STRING:
		if ((k->flags & KF_NONEMPTY) && !*s) {
			struct strbuf exp = STRBUF_INIT;

			describe_expect(&exp, k);
			yamlload_node_error(&L->y, v, "'%s' is empty — expected %s", path,
			                    exp.buf);
			strbuf_release(&exp);
			return false;
		}
		set_string_value(L, k, base, path, v, s);
		return yamlload_count(&L->y) == before;
	case KEY_STRLIST:
	case KEY_SECTION:
	case KEY_TARGETS:
	case KEY_RULES:
	case KEY_SHELL:
		break;
	}
	return false;
}

/* ---------------------------------------------------------------- walk */

/* A key at the wrong place or misspelled: say where it belongs. prefix is
 * the section being read, "" for the top level; entry/nentry the rows of
 * a list entry being read (targets, shell_actions), NULL otherwise. */
static void unknown_key(struct loader *L, const yaml_node_t *kn, const char *prefix,
                        const char *where, const struct key *entry, size_t nentry)
{
	const char *word = yamlload_scalar(kn);
	const char *cands[ARRAY_SIZE(config_keys) + ARRAY_SIZE(target_keys) +
	                  ARRAY_SIZE(shell_keys)];
	bool in_target = entry != NULL;
	const char *guess;
	size_t n = 0;
	struct strbuf msg = STRBUF_INIT, shown = STRBUF_INIT;

	add_shown(&shown, word, kn->data.scalar.length);
	strbuf_addf(&msg, "unknown key %s", shown.buf);
	if (*where)
		strbuf_addf(&msg, " in '%s'", where);

	/* 1. a misspelling of a key valid here */
	if (in_target) {
		for (size_t i = 0; i < nentry; i++)
			cands[n++] = entry[i].name;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
			if (is_child(config_keys[i].name, prefix))
				cands[n++] = last_component(config_keys[i].name);
	}
	cands[n] = NULL;
	guess = yamlload_has_nul(kn) ? NULL : yamlload_suggest(word, cands, n);
	if (guess) {
		strbuf_addf(&msg, " (did you mean '%s'?)", guess);
		goto out;
	}

	/* 2. a dotted key written flat: refresh.fast_ms: 500 */
	if (!in_target && strchr(word, '.')) {
		struct strbuf full = STRBUF_INIT;
		int i;

		strbuf_addf(&full, "%s%s%s", prefix, *prefix ? "." : "", word);
		i = find_key(full.buf);
		strbuf_release(&full);
		if (i >= 0) {
			const char *dot = strrchr(word, '.');

			strbuf_addf(&msg, " — dotted keys are not read; nest it: '%.*s:' "
			            "with '%s:' indented below", (int)(dot - word), word,
			            dot + 1);
			goto out;
		}
	}

	/* 3. a key valid somewhere else */
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		const char *name = config_keys[i].name;
		const char *leaf = last_component(name);

		if ((in_target || !is_child(name, prefix)) && strcmp(leaf, word) == 0) {
			if (leaf == name)
				strbuf_addstr(&msg, " — it is a top-level key; move it "
				                    "to the start of the line");
			else
				strbuf_addf(&msg, " — it belongs under '%.*s:'",
				            (int)(leaf - 1 - name), name);
			goto out;
		}
	}
	if (!in_target && find_target_key(word) >= 0) {
		strbuf_addstr(&msg, " — it belongs to an entry of 'targets:' "
		                    "('- name: ...')");
		goto out;
	}
	if (!in_target && find_shell_key(word) >= 0) {
		strbuf_addstr(&msg, " — it belongs to an entry of 'shell_actions:' "
		                    "('- name: ...')");
		goto out;
	}

	/* 4. nothing close: list what is valid here */
	strbuf_addstr(&msg, " — valid keys here: ");
	add_list(&msg, cands);
out:
	yamlload_node_error(&L->y, kn, "%s", msg.buf);
	strbuf_release(&msg);
	strbuf_release(&shown);
}

/* A mapping key must be a plain word; NULL (reported) if it is not. */
static const char *key_word(struct loader *L, const yaml_node_t *kn)
{
	if (kn->type != YAML_SCALAR_NODE) {
		yamlload_node_error(&L->y, kn, "a key must be a word, got %s — write "
		                    "'key: value'", shape_name(kn));
		return NULL;
	}
	return yamlload_scalar(kn);
}

static void load_target(struct loader *L, struct config_target *t, size_t idx,
                        const yaml_node_t *map, struct yamlload_pos *name_pos)
{
	struct yamlload_pos seen[ARRAY_SIZE(target_keys)] = { { 0, 0 } };
	struct strbuf where = STRBUF_INIT, path = STRBUF_INIT;
	const yaml_node_pair_t *p;

	strbuf_addf(&where, "targets[%zu]", idx);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const char *word;
		int i;

		if (!kn || !vn || !(word = key_word(L, kn)) || is_secret_key(word))
			continue;
		i = yamlload_has_nul(kn) ? -1 : find_target_key(word);
		if (i < 0) {
			unknown_key(L, kn, "", where.buf, target_keys, ARRAY_SIZE(target_keys));
			continue;
		}
		strbuf_reset(&path);
		strbuf_addf(&path, "%s.%s", where.buf, word);
		if (seen[i].line) {
			yamlload_node_error(&L->y, kn, "duplicate key '%s' (first set at "
			                    "line %d) — remove one of them", path.buf,
			                    seen[i].line);
			continue;
		}
		seen[i] = yamlload_node_pos(kn);
		if (key_set_value(L, &target_keys[i], t, path.buf, vn) &&
		    target_keys[i].offset == T_OFF(name))
			*name_pos = yamlload_node_pos(vn);
	}
	for (size_t i = 0; i < ARRAY_SIZE(target_keys); i++) {
		const struct key *k = &target_keys[i];

		if (!(k->flags & KF_REQUIRED) || seen[i].line)
			continue;
		const char *q = example_quoted(k) ? "\"" : "";

		if (t->name)
			yamlload_node_error(&L->y, map, "target '%s' is missing required key "
			                    "'%s' — add e.g. '%s: %s%s%s'", t->name, k->name,
			                    k->name, q, k->example, q);
		else
			yamlload_node_error(&L->y, map, "'%s' is missing required key "
			                    "'%s' — add e.g. '%s: %s%s%s'", where.buf, k->name,
			                    k->name, q, k->example, q);
	}
	strbuf_release(&where);
	strbuf_release(&path);
}

struct name_ref {
	const char *name;   /* borrowed from a target */
	struct yamlload_pos pos;
};

static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d)
		return d;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	return x->pos.col < y->pos.col ? -1 : x->pos.col > y->pos.col;
}

/* Names must be unique: sort (name, position), report all but the first. */
static void report_duplicate_names(struct loader *L, struct name_ref *refs, size_t nrefs,
				   const char *what, const char *fix)
{
	if (nrefs)
		qsort(refs, nrefs, sizeof(*refs), name_ref_cmp);
	for (size_t i = 1; i < nrefs; i++) {
		size_t first = i - 1;

		while (i < nrefs && strcmp(refs[i].name, refs[first].name) == 0) {
			yamlload_error(&L->y, refs[i].pos, "duplicate %s name '%s' "
			               "(first at line %d) — %s",
			               what, refs[i].name, refs[first].pos.line, fix);
			i++;
		}
	}
}

static void load_targets(struct loader *L, const yaml_node_t *v)
{
	const yaml_node_item_t *it;
	struct name_ref *refs;
	struct yamlload_pos *name_pos;
	size_t n, nrefs = 0, i = 0;

	if (yamlload_is_null(v))
		return;
	if (v->type != YAML_SEQUENCE_NODE) {
		struct strbuf got = STRBUF_INIT;

		describe_got(&got, v, true);
		yamlload_node_error(&L->y, v, "'targets' expects a list of targets, got "
		                    "%s — start each entry with '- name: ...' on its own "
		                    "line", got.buf);
		strbuf_release(&got);
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	L->c->targets = xcalloc(n ? n : 1, sizeof(*L->c->targets));
	name_pos = xcalloc(n ? n : 1, sizeof(*name_pos));
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yamlload_node(&L->y, *it);
		struct config_target *t = &L->c->targets[L->c->ntargets++];

		target_init(t);
		if (!item)
			continue;
		if (item->type != YAML_MAPPING_NODE) {
			struct strbuf got = STRBUF_INIT;

			/* A conninfo written as a bare item would be shown: hide. */
			describe_got(&got, item, true);
			yamlload_node_error(&L->y, item, "'targets[%zu]' expects a mapping "
			                    "with at least name and conninfo, got %s — write "
			                    "'name: ...' and 'conninfo: ...' indented below "
			                    "the '-'", i, got.buf);
			strbuf_release(&got);
			continue;
		}
		load_target(L, t, i, item, &name_pos[i]);
	}

	refs = xcalloc(n ? n : 1, sizeof(*refs));
	for (i = 0; i < L->c->ntargets; i++)
		if (L->c->targets[i].name)
			refs[nrefs++] = (struct name_ref){ L->c->targets[i].name, name_pos[i] };
	report_duplicate_names(L, refs, nrefs, "target", "give each target its own name");
	free(refs);
	free(name_pos);
}

/* policy.actions: action name -> allow | approval | deny. Names are
 * checked against the action registry (act/action.h). */
static bool load_rules(struct loader *L, const struct key *k, const yaml_node_t *v)
{
	struct config_action_rule **rules = field(L->c, k->offset);
	size_t *nrules = field(L->c, k->count_offset);
	size_t before = yamlload_count(&L->y), nall = 0, n;
	const struct action_def *all = action_all(&nall);
	const char **names = xcalloc(nall + 1, sizeof(*names));
	const yaml_node_pair_t *p;
	struct config_action_rule *out;
	struct yamlload_pos *seen;

	for (size_t i = 0; i < nall; i++)
		names[i] = all[i].name;
	rules_release(rules, nrules);
	if (yamlload_is_null(v)) {
		free(names);
		return true;
	}
	if (v->type != YAML_MAPPING_NODE) {
		err_expect(L, v, k->name, k, " — write one 'action: rule' per line "
		           "below it, e.g. 'terminate_backend: deny'");
		free(names);
		return false;
	}
	n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	out = xcalloc(n ? n : 1, sizeof(*out));
	seen = xcalloc(n ? n : 1, sizeof(*seen));
	n = 0;
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const struct action_def *a;
		const char *word, *rule, *guess;
		struct strbuf msg = STRBUF_INIT;
		size_t r, dup;

		if (!kn || !vn || !(word = key_word(L, kn)))
			continue;
		a = yamlload_has_nul(kn) ? NULL : action_find(word);
		if (!a) {
			add_shown(&msg, word, kn->data.scalar.length);
			guess = yamlload_has_nul(kn) ? NULL : yamlload_suggest(word, names, nall);
			if (guess) {
				yamlload_node_error(&L->y, kn, "unknown action %s in '%s' (did you "
				                    "mean '%s'?)", msg.buf, k->name, guess);
			} else {
				struct strbuf list = STRBUF_INIT;

				add_list(&list, names);
				yamlload_node_error(&L->y, kn, "unknown action %s in '%s' — actions: "
				                    "%s", msg.buf, k->name, list.buf);
				strbuf_release(&list);
			}
			strbuf_release(&msg);
			continue;
		}
		for (dup = 0; dup < n && strcmp(out[dup].action, a->name) != 0; dup++)
			;
		if (dup < n) {
			yamlload_node_error(&L->y, kn, "duplicate key '%s.%s' (first set at line "
			                    "%d) — remove one of them", k->name, a->name,
			                    seen[dup].line);
			continue;
		}
		if (vn->type != YAML_SCALAR_NODE || yamlload_is_null(vn) ||
		    yamlload_has_nul(vn)) {
			struct key rk = { .type = KEY_ENUM, .values = rule_names };

			strbuf_addf(&msg, "%s.%s", k->name, a->name);
			err_expect(L, vn, msg.buf, &rk, NULL);
			strbuf_release(&msg);
			continue;
		}
		rule = yamlload_scalar(vn);
		for (r = 0; rule_names[r] && strcmp(rule, rule_names[r]) != 0; r++)
			;
		if (!rule_names[r]) {
			struct key rk = { .type = KEY_ENUM, .values = rule_names };
			struct strbuf hint = STRBUF_INIT;

			guess = yamlload_suggest(rule, rule_names, ARRAY_SIZE(rule_names) - 1);
			if (guess)
				strbuf_addf(&hint, " (did you mean '%s'?)", guess);
			strbuf_addf(&msg, "%s.%s", k->name, a->name);
			err_expect(L, vn, msg.buf, &rk, hint.buf);
			strbuf_release(&hint);
			strbuf_release(&msg);
			continue;
		}
		if (r == POLICY_ALLOW && a->risk == RISK_CRITICAL) {
			yamlload_node_error(&L->y, vn, "'%s.%s' cannot be allow: %s is a "
			                    "critical action, which always needs an operator "
			                    "— write approval or deny", k->name, a->name,
			                    a->name);
			continue;
		}
		seen[n] = yamlload_node_pos(kn);
		out[n].action = xstrdup(a->name);
		out[n].rule = (enum policy_rule)r;
		n++;
	}
	free(seen);
	free(names);
	*rules = out;
	*nrules = n;
	return yamlload_count(&L->y) == before;
}

static void load_shell_action(struct loader *L, struct config_shell_action *sa, size_t idx,
                              const yaml_node_t *map, struct yamlload_pos *name_pos)
{
	struct yamlload_pos seen[ARRAY_SIZE(shell_keys)] = { { 0, 0 } };
	struct strbuf where = STRBUF_INIT, path = STRBUF_INIT;
	const yaml_node_pair_t *p;

	strbuf_addf(&where, "shell_actions[%zu]", idx);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const char *word;
		int i;

		if (!kn || !vn || !(word = key_word(L, kn)) || is_secret_key(word))
			continue;
		i = yamlload_has_nul(kn) ? -1 : find_shell_key(word);
		if (i < 0) {
			unknown_key(L, kn, "", where.buf, shell_keys, ARRAY_SIZE(shell_keys));
			continue;
		}
		strbuf_reset(&path);
		strbuf_addf(&path, "%s.%s", where.buf, word);
		if (seen[i].line) {
			yamlload_node_error(&L->y, kn, "duplicate key '%s' (first set at "
			                    "line %d) — remove one of them", path.buf,
			                    seen[i].line);
			continue;
		}
		seen[i] = yamlload_node_pos(kn);
		if (key_set_value(L, &shell_keys[i], sa, path.buf, vn) &&
		    shell_keys[i].offset == S_OFF(name))
			*name_pos = yamlload_node_pos(vn);
	}
	for (size_t i = 0; i < ARRAY_SIZE(shell_keys); i++) {
		const struct key *k = &shell_keys[i];

		if (!(k->flags & KF_REQUIRED) || seen[i].line)
			continue;
		if (sa->name)
			yamlload_node_error(&L->y, map, "shell action '%s' is missing required "
			                    "key '%s' — add e.g. '%s: %s'", sa->name, k->name,
			                    k->name, k->example);
		else
			yamlload_node_error(&L->y, map, "'%s' is missing required key '%s' — "
			                    "add e.g. '%s: %s'", where.buf, k->name, k->name,
			                    k->example);
	}
	strbuf_release(&where);
	strbuf_release(&path);
}

static void load_shell_actions(struct loader *L, const yaml_node_t *v)
{
	const yaml_node_item_t *it;
	struct name_ref *refs;
	struct yamlload_pos *name_pos;
	size_t n, nrefs = 0, i = 0;

	if (yamlload_is_null(v))
		return;
	if (v->type != YAML_SEQUENCE_NODE) {
		struct strbuf got = STRBUF_INIT;

		describe_got(&got, v, false);
		yamlload_node_error(&L->y, v, "'shell_actions' expects a list of shell "
		                    "actions, got %s — start each entry with '- name: ...' "
		                    "on its own line", got.buf);
		strbuf_release(&got);
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	L->c->shell_actions = xcalloc(n ? n : 1, sizeof(*L->c->shell_actions));
	name_pos = xcalloc(n ? n : 1, sizeof(*name_pos));
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yamlload_node(&L->y, *it);
		struct config_shell_action *sa = &L->c->shell_actions[L->c->nshell_actions++];

		shell_init(sa);
		if (!item)
			continue;
		if (item->type != YAML_MAPPING_NODE) {
			struct strbuf got = STRBUF_INIT;

			describe_got(&got, item, false);
			yamlload_node_error(&L->y, item, "'shell_actions[%zu]' expects a mapping "
			                    "with at least name and argv, got %s — write "
			                    "'name: ...' and 'argv: [...]' indented below the "
			                    "'-'", i, got.buf);
			strbuf_release(&got);
			continue;
		}
		load_shell_action(L, sa, i, item, &name_pos[i]);
	}
	refs = xcalloc(n ? n : 1, sizeof(*refs));
	for (i = 0; i < L->c->nshell_actions; i++)
		if (L->c->shell_actions[i].name)
			refs[nrefs++] = (struct name_ref){ L->c->shell_actions[i].name, name_pos[i] };
	report_duplicate_names(L, refs, nrefs, "shell action", "give each its own name");
	free(refs);
	free(name_pos);
}

static void walk_mapping(struct loader *L, const yaml_node_t *map, const char *prefix)
{
	const yaml_node_pair_t *p;
	struct strbuf full = STRBUF_INIT;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const char *word;
		const struct key *k;
		int i;

		if (!kn || !vn || !(word = key_word(L, kn)) || is_secret_key(word))
			continue;
		strbuf_reset(&full);
		strbuf_addf(&full, "%s%s%s", prefix, *prefix ? "." : "", word);
		i = (strchr(word, '.') || yamlload_has_nul(kn)) ? -1 : find_key(full.buf);
		if (i < 0) {
			unknown_key(L, kn, prefix, prefix, NULL, 0);
			continue;
		}
		k = &config_keys[i];
		if (L->key_pos[i].line) {
			yamlload_node_error(&L->y, kn, "duplicate key '%s' (first set at "
			                    "line %d) — remove one of them", full.buf,
			                    L->key_pos[i].line);
			continue;
		}
		L->key_pos[i] = yamlload_node_pos(kn);
		L->val_pos[i] = yamlload_node_pos(vn);
		switch (k->type) {
		case KEY_SECTION:
			if (vn->type == YAML_MAPPING_NODE) {
				walk_mapping(L, vn, k->name);
			} else if (!yamlload_is_null(vn)) {
				err_expect(L, vn, k->name, k, " — put its keys on the lines "
				           "below it, indented");
				L->bad[i] = true;
			}
			break;
		case KEY_TARGETS:
			load_targets(L, vn);
			break;
		case KEY_RULES:
			L->bad[i] = !load_rules(L, k, vn);
			break;
		case KEY_SHELL:
			load_shell_actions(L, vn);
			break;
		default:
			L->bad[i] = !key_set_value(L, k, L->c, full.buf, vn);
			break;
		}
	}
	strbuf_release(&full);
}

static void path_truncate(struct strbuf *sb, size_t len)
{
	sb->len = len;
	if (sb->alloc)
		sb->buf[len] = '\0';
}

static bool is_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Secret-looking keys anywhere, also under keys unknown to the walk. */
static void sweep_secrets(struct loader *L, const yaml_node_t *n, struct strbuf *path,
                          int depth)
{
	size_t idx = (size_t)(n - L->y.doc->nodes.start), mark = path->len;

	if (L->visited[idx] || depth > MAX_DEPTH)
		return;
	L->visited[idx] = 1;
	if (n->type == YAML_SEQUENCE_NODE) {
		const yaml_node_item_t *it;
		size_t i = 0;

		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
			yaml_node_t *item = yamlload_node(&L->y, *it);

			if (!item)
				continue;
			strbuf_addf(path, "[%zu]", i);
			sweep_secrets(L, item, path, depth + 1);
			path_truncate(path, mark);
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		const yaml_node_pair_t *p;

		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);

			if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
				continue;
			if (mark)
				strbuf_addch(path, '.');
			strbuf_add(path, yamlload_scalar(kn), strlen(yamlload_scalar(kn)));
			if (is_secret_key(yamlload_scalar(kn))) {
				struct strbuf shown = STRBUF_INIT;
				const char *word = yamlload_scalar(kn);
				bool plain = strlen(word) <= MAX_WORD && is_printable(word);

				add_shown(&shown, path->buf, path->len);
				yamlload_node_error(&L->y, kn, "secret key %s is not "
				                    "allowed — secrets are never read from the "
				                    "file; name an environment variable with "
				                    "'%s_env'", shown.buf,
				                    plain ? word : "<key>");
				strbuf_release(&shown);
			} else {
				sweep_secrets(L, vn, path, depth + 1);
			}
			path_truncate(path, mark);
		}
	}
}

static double number_of(const struct key *k, const struct config *c)
{
	if (k->type == KEY_INT)
		return *(const int *)cfield(c, k->offset);
	return *(const double *)cfield(c, k->offset);
}

static void check_orders(struct loader *L)
{
	struct strbuf na = STRBUF_INIT, nb = STRBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(key_orders); i++) {
		int lo = find_key(key_orders[i].lo), hi = find_key(key_orders[i].hi);
		double a = number_of(&config_keys[lo], L->c);
		double b = number_of(&config_keys[hi], L->c);
		struct yamlload_pos at = L->val_pos[lo];

		if (L->bad[lo] || L->bad[hi] || (key_orders[i].strict ? a < b : a <= b))
			continue;
		if (L->val_pos[hi].line > at.line)
			at = L->val_pos[hi];
		strbuf_reset(&na);
		strbuf_reset(&nb);
		add_number(&na, a);
		add_number(&nb, b);
		yamlload_error(&L->y, at, "'%s' (%s) must be %s '%s' (%s) — raise '%s' or "
		               "lower '%s'", key_orders[i].lo, na.buf,
		               key_orders[i].strict ? "below" : "at most", key_orders[i].hi,
		               nb.buf, last_component(key_orders[i].hi),
		               last_component(key_orders[i].lo));
	}
	strbuf_release(&na);
	strbuf_release(&nb);
}

static void check_default_target(struct loader *L)
{
	const struct config *c = L->c;
	int i = find_key("default_target");
	const char *cands[256];
	size_t n = 0;
	struct strbuf msg = STRBUF_INIT;
	const char *guess;

	if (!c->default_target || config_find_target(c, c->default_target))
		return;
	for (size_t j = 0; j < c->ntargets && n < ARRAY_SIZE(cands) - 1; j++) {
		size_t m = 0;

		if (!c->targets[j].name)
			continue;
		while (m < n && strcmp(cands[m], c->targets[j].name) != 0)
			m++;
		if (m == n)
			cands[n++] = c->targets[j].name;
	}
	cands[n] = NULL;
	strbuf_addf(&msg, "default_target '%s' names no target", c->default_target);
	guess = yamlload_suggest(c->default_target, cands, n);
	if (guess) {
		strbuf_addf(&msg, " (did you mean '%s'?)", guess);
	} else if (n == 0) {
		strbuf_addstr(&msg, " — no targets are defined; add one under 'targets:'");
	} else {
		strbuf_addstr(&msg, " — defined targets: ");
		for (size_t j = 0; j < n && j < 10; j++)
			strbuf_addf(&msg, "%s%s", j ? ", " : "", cands[j]);
		if (n > 10)
			strbuf_addstr(&msg, ", ...");
	}
	yamlload_error(&L->y, L->val_pos[i], "%s", msg.buf);
	strbuf_release(&msg);
}

/* Critical actions are never allowed without an operator (DESIGN.md
 * safety rule 1), whatever the file says. */
static void check_policy(struct loader *L)
{
	int i = find_key("policy.critical");

	if (L->c->policy.by_risk[RISK_CRITICAL] == POLICY_ALLOW) {
		yamlload_error(&L->y, L->val_pos[i], "'policy.critical' cannot be allow: "
		               "critical actions (shell commands) always need an operator "
		               "— write 'critical: approval' or 'critical: deny'");
		L->c->policy.by_risk[RISK_CRITICAL] = POLICY_APPROVAL;
	}
}

/* A provider without an endpoint or a model cannot be asked anything. */
static void check_llm(struct loader *L)
{
	int i = find_key("llm.provider");
	const struct config_llm *l = &L->c->llm;

	if (l->provider == LLM_PROVIDER_NONE)
		return;
	if (!l->base_url)
		yamlload_error(&L->y, L->val_pos[i], "'llm.provider' is %s but 'llm.base_url' "
		               "is not set — add 'base_url:' under 'llm:' (e.g. %s)",
		               llm_provider_names[l->provider],
		               l->provider == LLM_PROVIDER_ANTHROPIC ? "https://api.anthropic.com"
		                                                    : "https://api.openai.com/v1");
	if (!l->model)
		yamlload_error(&L->y, L->val_pos[i], "'llm.provider' is %s but 'llm.model' is "
		               "not set — add 'model:' under 'llm:'",
		               llm_provider_names[l->provider]);
}

const char *config_llm_provider_name(enum config_llm_provider p)
{
	return (unsigned)p < ARRAY_SIZE(llm_provider_names) - 1 ? llm_provider_names[p] : "?";
}

/* ---------------------------------------------------------------- load */

/* Move p past c: columns count characters, not UTF-8 continuation bytes. */
static void pos_advance(struct yamlload_pos *p, char c)
{
	if (c == '\n')
		p->line++, p->col = 1;
	else if (((unsigned char)c & 0xc0) != 0x80)
		p->col++;
}

/* libyaml's scanner rechecks every open flow level for each token, so
 * "[[[[..." costs time quadratic in its depth: minutes for a megabyte. No
 * config nests flow collections deeply; find where one does, before
 * parsing. Brackets count where a flow collection can start (at the start
 * of a value, or anywhere inside one); quoted scalars and comments are
 * skipped. True and *at set when the depth passes MAX_FLOW_DEPTH. Unlike
 * yamlload_too_deep() (the themes' guard), block nesting is not limited:
 * only flow collections are expensive, and the secret sweep stops at
 * MAX_DEPTH on its own. */
static bool flow_too_deep(const char *s, size_t len, struct yamlload_pos *at)
{
	int depth = 0;
	bool value_start = true;
	struct yamlload_pos p = { 1, 1 };
	size_t i = 0;

	while (i < len) {
		char ch = s[i];
		char next = i + 1 < len ? s[i + 1] : '\n';

		if (ch == '\n') {
			pos_advance(&p, s[i++]);
			value_start = true;
			continue;
		}
		if (ch == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\n')) {
			while (i < len && s[i] != '\n')
				i++;
			continue;
		}
		if (value_start && (ch == '"' || ch == '\'')) {
			pos_advance(&p, s[i++]);
			while (i < len) {
				char q = s[i];

				pos_advance(&p, s[i++]);
				if (ch == '"' && q == '\\' && i < len) {
					pos_advance(&p, s[i++]);      /* escaped */
				} else if (q == ch) {
					if (ch == '"' || i == len || s[i] != '\'')
						break;
					pos_advance(&p, s[i++]);      /* '' in single quotes */
				}
			}
			value_start = false;
			continue;
		}
		if ((ch == '[' || ch == '{') && (value_start || depth > 0)) {
			if (++depth > MAX_FLOW_DEPTH) {
				*at = p;
				return true;
			}
			value_start = true;
		} else if ((ch == ']' || ch == '}') && depth > 0) {
			depth--;
			value_start = false;
		} else if (ch == ',' && depth > 0) {
			value_start = true;
		} else if (ch == ':' || ch == '-' || ch == '?') {
			value_start = next == ' ' || next == '\t' || next == '\n' || next == '\r' ||
			              (depth > 0 && next && strchr(",[]{}", next));
		} else if (ch != ' ' && ch != '\t' && ch != '\r') {
			value_start = false;
		}
		pos_advance(&p, s[i++]);
	}
	return false;
}

/* The parsed document into L->c: the secret sweep, the walk of the known
 * layout, then the checks across keys. */
static void walk_document(struct loader *L)
{
	const yaml_document_t *doc = L->y.doc;
	yaml_node_t *root = yaml_document_get_root_node(L->y.doc);

	if (root && !yamlload_is_null(root)) {
		struct strbuf path = STRBUF_INIT;

		L->visited = xcalloc((size_t)(doc->nodes.top - doc->nodes.start), 1);
		sweep_secrets(L, root, &path, 0);
		strbuf_release(&path);
		free(L->visited);
		if (root->type == YAML_MAPPING_NODE)
			walk_mapping(L, root, "");
		else
			yamlload_node_error(&L->y, root, "the top level must be a mapping of "
			                    "keys, got %s — start lines with keys such as "
			                    "'mode: observe' and 'targets:'", shape_name(root));
	}
	check_default_target(L);
	check_orders(L);
	check_policy(L);
	check_llm(L);
}

int config_load_buffer(struct config *c, const char *name, const char *data,
                       size_t len, char **errs)
{
	struct loader L = { .c = c };
	struct yamlload_pos deep;

	yamlload_init(&L.y, name, data, len, YAMLLOAD_COUNT_REST);
	init_static_defaults(c);
	c->path = xstrdup(name);
	if (flow_too_deep(L.y.data, len, &deep)) {
		yamlload_error(&L.y, deep, "invalid YAML: '[' and '{' nested more than %d "
		               "deep — write nested values on indented lines instead",
		               MAX_FLOW_DEPTH);
	} else if (yamlload_parse(&L.y, yaml_hints) == 0) {
		walk_document(&L);
		yamlload_parse_end(&L.y, "a config file");
	}
	fill_computed(c);
	return yamlload_finish(&L.y, errs);
}

/* Why path cannot be read, in words: r as yamlload_read_file() said, with
 * errno as it left it. */
static void read_error(struct strbuf *why, enum yamlload_read r)
{
	switch (r) {
	case YAMLLOAD_READ_CANNOT_OPEN:
		strbuf_addf(why, "cannot open the file: %s — check the path, or create "
		            "it from cockpit.conf.example", strerror(errno));
		break;
	case YAMLLOAD_READ_DIRECTORY:
		strbuf_addstr(why, "is a directory, not a file — name the "
		              "cockpit.conf inside it");
		break;
	case YAMLLOAD_READ_TOO_BIG:
		strbuf_addf(why, "the file is larger than %d bytes — this is not "
		            "a cockpit.conf", CONFIG_MAX_BYTES);
		break;
	case YAMLLOAD_READ_FAILED:
		strbuf_addf(why, "cannot read the file: %s", strerror(errno));
		break;
	case YAMLLOAD_READ_OK:
		break;
	}
}

int config_load(struct config *c, const char *path, char **errs)
{
	struct strbuf text = STRBUF_INIT, why = STRBUF_INIT;
	enum yamlload_read r = yamlload_read_file(path, CONFIG_MAX_BYTES, &text);
	int ret;

	if (r != YAMLLOAD_READ_OK) {
		struct yamlload y;

		read_error(&why, r);
		config_init_defaults(c);
		c->path = xstrdup(path);
		yamlload_init(&y, path, NULL, 0, YAMLLOAD_COUNT_REST);
		yamlload_error(&y, (struct yamlload_pos){ 0, 0 }, "%s", why.buf);
		ret = yamlload_finish(&y, errs);
	} else {
		ret = config_load_buffer(c, path, text.buf, text.len, errs);
	}
	strbuf_release(&text);
	strbuf_release(&why);
	return ret;
}

/* ---------------------------------------------------------------- lookups */

const struct config_target *config_find_target(const struct config *c, const char *name)
{
	if (!name)
		name = c->default_target;
	if (!name)
		return c->ntargets ? &c->targets[0] : NULL;
	for (size_t i = 0; i < c->ntargets; i++)
		if (c->targets[i].name && strcmp(c->targets[i].name, name) == 0)
			return &c->targets[i];
	return NULL;
}

const char *config_mode_name(enum cockpit_mode m)
{
	if ((unsigned)m < ARRAY_SIZE(mode_names) - 1)
		return mode_names[m];
	return "?";
}

bool config_mode_parse(const char *s, enum cockpit_mode *m)
{
	for (size_t i = 0; mode_names[i]; i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum cockpit_mode)i;
			return true;
		}
	}
	return false;
}

static bool try_path(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s%s", a, b);

	return n > 0 && (size_t)n < size && access(buf, F_OK) == 0;
}

const char *config_default_path(char *buf, size_t size)
{
	const char *env = getenv("COCKPIT_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (env && *env) {
		int n = snprintf(buf, size, "%s", env);

		return n > 0 && (size_t)n < size ? buf : NULL;
	}
	if (xdg && *xdg == '/' && try_path(buf, size, xdg, "/cockpit/cockpit.conf"))
		return buf;
	if (home && *home && try_path(buf, size, home, "/.config/cockpit/cockpit.conf"))
		return buf;
	if (try_path(buf, size, "/etc/cockpit/cockpit.conf", ""))
		return buf;
	return NULL;
}

/* ---------------------------------------------------------------- example */

/* Write text as comment lines of at most 78 columns, each starting with
 * lead ("  # "); the first line starts with label padded to indent columns,
 * the following lines with indent spaces. */
static void write_comment(FILE *f, const char *lead, const char *label, size_t indent,
                          const char *text)
{
	size_t width = 78 - strlen(lead), col = 0;
	bool bol = true, first = true;
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (!bol && col + 1 + w > width) {
			fputc('\n', f);
			bol = true;
		}
		if (bol) {
			fprintf(f, "%s%-*s", lead, (int)indent, first ? label : "");
			col = indent;
			bol = first = false;
		} else {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, w, f);
		col += w;
		p += w;
		while (*p == ' ')
			p++;
	}
	if (!bol)
		fputc('\n', f);
}

static void write_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void write_target_example(FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(target_keys); i++) {
		const struct key *k = &target_keys[i];

		write_comment(f, "#   ", k->name, 23, k->help);
	}
	fputs("# Passwords are never in this file: name an environment variable "
	      "with\n# password_env, or use ~/.pgpass. An example entry:\n", f);
	fputs("targets:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(target_keys); i++) {
		const struct key *k = &target_keys[i];

		fprintf(f, "#%s%s: ", i ? "    " : "  - ", k->name);
		if (example_quoted(k))
			write_quoted(f, k->example);
		else
			fputs(k->example, f);
		fputc('\n', f);
	}
}

/* 1073741824 as 1GB: the largest unit that divides it. */
static void write_bytes(FILE *f, long long b)
{
	static const char *const units[] = { "kB", "MB", "GB", "TB" };
	int u = -1;

	while (b > 0 && b % 1024 == 0 && u + 1 < (int)ARRAY_SIZE(units)) {
		b /= 1024;
		u++;
	}
	fprintf(f, "%lld%s", b, u >= 0 ? units[u] : "");
}

static void write_shell_example(FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(shell_keys); i++)
		write_comment(f, "#   ", shell_keys[i].name, 13, shell_keys[i].help);
	fputs("# An example entry:\n", f);
	fputs("shell_actions:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(shell_keys); i++) {
		const struct key *k = &shell_keys[i];

		fprintf(f, "#%s%s: ", i ? "    " : "  - ", k->name);
		if (k->type == KEY_STRING && !(k->flags & KF_NAME))
			write_quoted(f, k->example);
		else
			fputs(k->example, f);
		fputc('\n', f);
	}
}

void config_write_example(FILE *f)
{
	fputs("# cockpit.conf: configuration of cockpit, the terminal cockpit for\n"
	      "# PostgreSQL. Copy it to ~/.config/cockpit/cockpit.conf (or pass\n"
	      "# -c PATH) and edit.\n"
	      "#\n"
	      "# Generated by config_write_example() from the key tables in\n"
	      "# src/core/config.c: every key is shown with its default, so this\n"
	      "# file as it stands changes nothing. A key left empty takes its\n"
	      "# default; a key not listed here is an error. Secrets are never read\n"
	      "# from this file: keys ending in _env name environment variables.\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		const struct key *k = &config_keys[i];
		const char *leaf = last_component(k->name);
		size_t depth = 0;
		char lead[32];
		struct strbuf exp = STRBUF_INIT;

		for (const char *p = k->name; *p; p++)
			depth += *p == '.';
		snprintf(lead, sizeof(lead), "%*s# ", (int)(2 * depth), "");
		if (depth == 0)
			fputc('\n', f);
		write_comment(f, lead, "", 0, k->help);
		switch (k->type) {
		case KEY_SECTION:
			fprintf(f, "%s:\n", leaf);
			continue;
		case KEY_TARGETS:
			write_target_example(f);
			continue;
		case KEY_SHELL:
			write_shell_example(f);
			continue;
		default:
			break;
		}
		describe_expect(&exp, k);
		exp.buf[0] = (char)toupper((unsigned char)exp.buf[0]);
		if (k->def_doc)
			strbuf_addf(&exp, "; %s", k->def_doc);
		strbuf_addch(&exp, '.');
		write_comment(f, lead, "", 0, exp.buf);
		strbuf_release(&exp);
		fprintf(f, "%*s%s:", (int)(2 * depth), "", leaf);
		switch (k->type) {
		case KEY_INT:
			fprintf(f, " %lld\n", k->def_int);
			break;
		case KEY_BYTES:
			fputc(' ', f);
			write_bytes(f, k->def_int);
			fputc('\n', f);
			break;
		case KEY_RULES:
			fprintf(f, " {}\n%*s#   terminate_backend: deny\n%*s#   analyze: allow\n",
			        (int)(2 * depth), "", (int)(2 * depth), "");
			break;
		case KEY_DOUBLE: {
			struct strbuf num = STRBUF_INIT;

			add_number(&num, k->def_num);
			fprintf(f, " %s\n", num.buf);
			strbuf_release(&num);
			break;
		}
		case KEY_BOOL:
			fputs(k->def_int ? " true\n" : " false\n", f);
			break;
		case KEY_ENUM:
			fprintf(f, " %s\n", k->values[k->def_int]);
			break;
		case KEY_STRING:
			if (k->def_str) {
				fputc(' ', f);
				write_quoted(f, k->def_str);
			}
			fputc('\n', f);
			break;
		case KEY_STRLIST:
			if (!k->def_list[0])
				fputs(" []", f);
			fputc('\n', f);
			for (size_t j = 0; k->def_list[j]; j++) {
				fprintf(f, "%*s- ", (int)(2 * depth + 2), "");
				write_quoted(f, k->def_list[j]);
				fputc('\n', f);
			}
			break;
		case KEY_SECTION:
		case KEY_TARGETS:
		case KEY_SHELL:
			break;
		}
	}
}
