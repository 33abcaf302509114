/*
 * config: cockpit.conf (YAML, via libyaml) loaded into typed structs.
 *
 * Every key is declared once in a table in config.c (name, type, default,
 * range, help); the loader, the defaults, `cockpit check-config` and the
 * documentation of cockpit.conf.example all come from that table.
 *
 * Errors name file:line:column, the key, what was expected and the fix, in
 * the house style: `cockpit.conf:12:3: unknown key 'refesh' (did you mean
 * 'refresh'?)`. Unknown keys are errors. Secrets are never read from the
 * file: keys ending in _env name environment variables.
 *
 * A loaded config is immutable and may be read from any thread.
 */
#ifndef COCKPIT_CORE_CONFIG_H
#define COCKPIT_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cockpit_mode {
	MODE_OBSERVE,   /* nothing can run */
	MODE_SHADOW,    /* decisions recorded, what would have run is logged */
	MODE_ASSIST,    /* runs on approval */
	MODE_AUTO,      /* policy-allowed low-risk actions run */
};

struct config_target {
	char *name;              /* owned */
	char *conninfo;          /* owned: libpq conninfo or URI, without a password */
	char *password_env;      /* owned: env var holding the password, or NULL (then
	                            PGPASSWORD / ~/.pgpass as libpq does) */
	char *executor_conninfo; /* owned: the executor's connection (own role), or NULL */
	char *executor_password_env; /* owned, or NULL */
	char *server_log;        /* owned: "auto" (pg_read_file(pg_current_logfile())),
	                            "none", or a local file/directory path */
	char *server_log_format; /* owned: "auto", "stderr", "csvlog", "jsonlog" */
	char *data_directory;    /* owned: local path measured with statvfs, or NULL
	                            to use the server's data_directory when local */
};

struct config_thresholds {
	int lock_wait_ms;            /* a waiter past this makes a lock-chain incident */
	int idle_in_transaction_s;
	int long_transaction_s;
	double slow_query_mean_ms;
	double disk_warn_pct;
	double disk_crit_pct;
	double dead_tuple_ratio;
	int dead_tuple_min;          /* ignore tables with fewer dead tuples */
	double connections_pct;
};

/* What policy does with a proposal of a risk level or action. */
enum policy_rule { POLICY_ALLOW, POLICY_APPROVAL, POLICY_DENY };

struct config_action_rule {
	char *action;            /* owned: a registry action name (act/action.h) */
	enum policy_rule rule;
};

/* A shell action the runbooks may name: argv for execve (never a shell);
 * "{name}" in an element is replaced by the proposal's parameter name,
 * whose value must match arg_pattern (a POSIX ERE, anchored). */
struct config_shell_action {
	char *name;              /* owned */
	char *summary;           /* owned */
	char **argv;             /* owned, NULL-terminated as well as counted */
	size_t nargv;
	char *arg_pattern;       /* owned */
	int timeout_s;
};

struct config_policy {
	enum policy_rule by_risk[4];     /* indexed by enum risk (act/proposal.h) */
	struct config_action_rule *actions; size_t nactions; /* per-action overrides */
	double escalate_below;           /* confidence below this: escalate only (0.7) */
	double approval_below;           /* below this: approval even when low risk (0.85) */
	int max_sessions;                /* sessions one proposal may end or signal */
	long long vacuum_full_max_bytes; /* larger tables: no VACUUM FULL */
	int rate_limit_per_hour;         /* runs of one action on one target */
	int idempotency_min;             /* same action, same target: skip within this */
	char **maintenance_windows;      /* owned; empty: always */
	size_t nmaintenance_windows;
	int lock_timeout_ms;             /* executor defaults, per statement */
	int statement_timeout_ms;
	int verify_attempts;             /* failed verifications before escalation */
};

/* The language model that adds reasoning to the rules (think/llm.h,
 * think/llmdiag.h). provider none: rules only. */
enum config_llm_provider { LLM_PROVIDER_NONE, LLM_PROVIDER_OPENAI, LLM_PROVIDER_ANTHROPIC };

struct config_llm {
	enum config_llm_provider provider;
	char *base_url;          /* owned, or NULL (required when provider is set) */
	char *model;             /* owned, or NULL (required when provider is set) */
	char *model_complex;     /* owned, or NULL: stronger model for complex incidents */
	char *api_key_env;       /* owned, or NULL: NAME of the env var holding the key */
	int connect_s, first_token_s, idle_s, total_s;   /* timeouts */
	int max_tokens;          /* reply limit */
	double temperature;
	bool stream;             /* server-sent events */
	int max_retries;         /* extra attempts after 429/5xx */
	int budget_tokens;       /* per incident: prompt + reply */
	double cost_in_per_1k;   /* currency units per 1000 input tokens (estimate) */
	double cost_out_per_1k;  /* per 1000 output tokens */
};

struct config {
	char *path;                      /* owned: file it came from, or NULL for defaults */
	struct config_target *targets;   /* owned */
	size_t ntargets;
	char *default_target;            /* owned, or NULL (first target) */
	enum cockpit_mode mode;

	/* refresh */
	int fast_refresh_ms;             /* activity and locks */
	int slow_refresh_ms;             /* statements, sizes, bloat, role settings */
	int connect_timeout_s;
	int statement_timeout_ms;        /* of the collector's own session */
	int query_max_len;               /* bytes of query text kept per session */
	int top_tables;                  /* how many tables the disk panel keeps */
	int top_statements;              /* how many statements a snapshot keeps */

	struct config_thresholds thresholds;
	struct config_policy policy;
	struct config_shell_action *shell_actions; size_t nshell_actions;
	struct config_llm llm;

	/* agents */
	char **agent_app_patterns;       /* owned: fnmatch patterns on application_name;
	                                    NULL-terminated as well as counted */
	size_t nagent_app_patterns;
	char *agent_role_pattern;        /* owned: fnmatch pattern for agent roles */

	/* paths */
	char *audit_log;                 /* owned */
	char *runbooks_dir;              /* owned */
	char *themes_dir;                /* owned */
	char *state_dir;                 /* owned */

	/* ui */
	char *theme;                     /* owned */
	bool ascii;
};

/* Defaults for every key (no targets). Never fails. The result must be
 * released with config_release(). */
void config_init_defaults(struct config *c);
/* Load path into c (defaults first). On error returns -1 and stores one
 * message per problem, newline-separated, in *errs (malloc'ed; caller frees);
 * all errors are collected, not just the first. Each message is one line
 * "FILE:LINE:COL: problem — fix" (1-based; "FILE: problem" when the problem
 * is the file itself), every line ends in '\n', lines are sorted by position.
 * On success returns 0 and sets *errs to NULL. errs may be NULL. Whatever
 * the result, c is fully initialised afterwards (keys that failed keep their
 * defaults) and must be released with config_release(). An empty file is
 * valid: all defaults, no targets. */
int config_load(struct config *c, const char *path, char **errs);
/* As config_load() on the len bytes at data (need not be NUL-terminated);
 * name stands for the file in messages and is copied to c->path. */
int config_load_buffer(struct config *c, const char *name, const char *data,
                       size_t len, char **errs);
/* Free everything c owns and zero it; a released config may be released
 * again. */
void config_release(struct config *c);
/* Target by name, the default target when name is NULL, or NULL. */
const struct config_target *config_find_target(const struct config *c, const char *name);
/* "none", "openai", "anthropic"; "?" for anything else. */
const char *config_llm_provider_name(enum config_llm_provider p);
/* "observe", "shadow", "assist", "auto"; "?" for anything else. */
const char *config_mode_name(enum cockpit_mode m);
/* The mode named s (as config_mode_name() spells it): true and *m set, or
 * false. For a --mode option. */
bool config_mode_parse(const char *s, enum cockpit_mode *m);
/* The path cockpit reads when -c is not given: $COCKPIT_CONFIG when set and
 * non-empty (even if it does not exist, so that the error names it),
 * else the first that exists of $XDG_CONFIG_HOME/cockpit/cockpit.conf,
 * ~/.config/cockpit/cockpit.conf, /etc/cockpit/cockpit.conf; else NULL.
 * The path is written to buf (size bytes), which is returned. */
const char *config_default_path(char *buf, size_t size);
/* Write the documented example (every key, its default, its help, and a
 * commented example target) to f. Loading it gives config_init_defaults(). */
void config_write_example(FILE *f);

#endif
