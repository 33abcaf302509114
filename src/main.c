/*
 * cockpit: command-line dispatch only.
 *
 * Global options come first or anywhere (GNU getopt permutes); the first
 * non-option word names a command from the table below. Exit codes: 0 ok,
 * 1 runtime failure (message on stderr), 2 usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "act/action.h"
#include "act/audit.h"
#include "act/policy.h"
#include "act/proposal.h"
#include "perceive/collector.h"
#include "perceive/pgconn.h"
#include "perceive/recording.h"
#include "perceive/snapshot.h"
#include "think/detect.h"
#include "think/diagnose.h"
#include "think/drill.h"
#include "think/llm.h"
#include "think/llmdiag.h"
#include "think/recall.h"
#include "think/runbook.h"
#include "ui/tui.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

struct options {
	const char *config_path;
	const char *conninfo;
	const char *target;
	const char *output;
	bool json;
	bool pretty;
	bool ascii;
	const char *theme;
	const char *executor;     /* --executor CONNINFO */
	const char *mode;         /* --mode, overrides the configuration's */
	bool no_llm;              /* --no-llm: rules only */
	bool show_prompt;         /* --show-prompt: print each LLM request body, send nothing */
	double window_s;
	double interval_s;
	double duration_s;
	char **args;      /* command arguments after the command word */
	int nargs;
};

struct command {
	const char *name;
	int (*run)(struct config *cfg, struct options *o);
	const char *usage;
	const char *help;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int cmd_snapshot(struct config *cfg, struct options *o);
static int cmd_record(struct config *cfg, struct options *o);
static int cmd_check_config(struct config *cfg, struct options *o);
static int cmd_replay(struct config *cfg, struct options *o);
static int cmd_example_config(struct config *cfg, struct options *o);
static int cmd_audit(struct config *cfg, struct options *o);
static int cmd_diagnose(struct config *cfg, struct options *o);
static int cmd_drill(struct config *cfg, struct options *o);

static const struct command commands[] = {
	{ "snapshot", cmd_snapshot, "snapshot [--json] [--pretty] [--window S]",
	  "collect once and print the picture (JSON: the documented version 1 contract)" },
	{ "diagnose", cmd_diagnose, "diagnose [--json] [--pretty] [--window S] [--no-llm] [--show-prompt]",
	  "collect, detect incidents and propose remediations (never executes anything)" },
	{ "drill", cmd_drill, "drill [NAME] [--duration S]",
	  "reproduce a runbook's incident on a sandbox database (no NAME: list the drills)" },
	{ "record", cmd_record, "record -o FILE [--interval S] [--duration S]",
	  "write snapshots as JSON lines for replay (until Ctrl-C or the duration)" },
	{ "replay", cmd_replay, "replay FILE",
	  "the same screens driven by a recording (p pause, [ ] step, + - speed)" },
	{ "check-config", cmd_check_config, "check-config [-c FILE]",
	  "validate the configuration; every problem with file:line:column and the fix" },
	{ "example-config", cmd_example_config, "example-config",
	  "print a configuration documenting every key with its default" },
	{ "audit", cmd_audit, "audit verify [FILE]",
	  "check the audit log's hash chain (default: paths.audit_log); names the first broken record" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cockpit [-c FILE] [-d CONNINFO | -t TARGET] [COMMAND [ARGS]]\n"
		"\n"
		"A terminal cockpit for self-healing PostgreSQL. Without a command it opens\n"
		"the interactive screen on the target.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     configuration file (default: $COCKPIT_CONFIG,\n"
		"                        ~/.config/cockpit/cockpit.conf, /etc/cockpit/cockpit.conf)\n"
		"  -d, --dsn CONNINFO    connect here instead of a configured target\n"
		"                        (libpq conninfo or URI; passwords via PGPASSWORD or ~/.pgpass)\n"
		"  -t, --target NAME     a target from the configuration\n"
		"      --json            JSON output (snapshot)\n"
		"      --pretty          indent JSON output\n"
		"      --window S        seconds between the two samples deltas need (snapshot; default 1)\n"
		"  -o, --output FILE     where to write (record)\n"
		"      --ascii           plain ASCII line drawing (automatic when the locale is not UTF-8)\n"
		"      --theme NAME      colour theme from the themes directory (default, light,\n"
		"                        high-contrast, mono); NO_COLOR is respected\n"
		"      --mode MODE       observe, shadow, assist or auto (overrides the configuration)\n"
		"      --executor CONNINFO  the executor's connection (default with -d: the same;\n"
		"                        with -t: the target's executor_conninfo)\n"
		"      --no-llm          rules only, even when an LLM is configured (diagnose)\n"
		"      --show-prompt     print, per incident, the exact LLM request body; send nothing\n"
		"      --interval S      seconds between snapshots (record; default: refresh.fast_ms)\n"
		"      --duration S      stop after S seconds (record)\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		fprintf(f, "  %-46s %s\n", commands[i].usage, commands[i].help);
	fprintf(f, "\nExit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.\n");
}

static int parse_seconds(const char *opt, const char *arg, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < 0 || v > 86400 * 365) {
		fprintf(stderr, "cockpit: option '%s' expects seconds (a number >= 0), got '%s'\n",
			opt, arg);
		return -1;
	}
	*out = v;
	return 0;
}

static struct collector *open_collector(struct config *cfg, struct options *o)
{
	char err[512];
	struct collector *c = collector_new(cfg, o->target, o->conninfo, err, sizeof(err));

	if (!c)
		fprintf(stderr, "cockpit: %s\n", err);
	return c;
}

static void print_summary(const struct snapshot *s)
{
	const struct lockgraph *g = s->locks;

	printf("target %s  server %s  sessions %zu  waits %zu  roots %zu  cycles %zu\n",
	       s->target ? s->target : "?", s->server.version ? s->server.version : "?",
	       s->nsessions, s->nedges, g ? g->nroots : 0, g ? g->ncycles : 0);
	printf("tps %.1f  cache hit %.3f  statements %zu  agents %zu  deadlocks %zu\n",
	       s->server.tps, s->server.cache_hit_ratio, s->nstatements, s->nagents, s->ndeadlocks);
	for (size_t i = 0; i < s->nproblems; i++)
		printf("%s: %s (fix: %s)\n", s->problems[i].panel, s->problems[i].message,
		       s->problems[i].fix);
}

static int cmd_snapshot(struct config *cfg, struct options *o)
{
	struct collector *c = open_collector(cfg, o);
	struct snapshot *s;
	int rc = 0;

	if (!c)
		return EXIT_USAGE;
	s = collector_collect(c, true);
	if (s->connected && o->window_s > 0) {
		snapshot_unref(s);
		clock_sleep_ms((int64_t)(o->window_s * 1000));
		s = collector_collect(c, true);
	}
	if (!s->connected) {
		fprintf(stderr, "cockpit: cannot collect from '%s': %s\n", s->target, s->error);
		rc = EXIT_RUNTIME;
	} else if (o->json) {
		json_t *j = snapshot_to_json(s);

		json_dumpf(j, stdout, o->pretty ? JSON_INDENT(2) : JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		print_summary(s);
	}
	snapshot_unref(s);
	collector_free(c);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "cockpit: cannot write output: %s\n", strerror(errno));
		rc = EXIT_RUNTIME;
	}
	return rc;
}

static int cmd_record(struct config *cfg, struct options *o)
{
	struct collector *c;
	FILE *f;
	double interval = o->interval_s > 0 ? o->interval_s : cfg->fast_refresh_ms / 1000.0;
	int64_t start = clock_mono_ms(), n = 0;
	int rc = 0;

	if (!o->output) {
		fprintf(stderr, "cockpit: record needs -o FILE (where to write the snapshots)\n");
		return EXIT_USAGE;
	}
	c = open_collector(cfg, o);
	if (!c)
		return EXIT_USAGE;
	f = strcmp(o->output, "-") == 0 ? stdout : fopen(o->output, "w");
	if (!f) {
		fprintf(stderr, "cockpit: cannot open '%s' for writing: %s\n", o->output, strerror(errno));
		collector_free(c);
		return EXIT_RUNTIME;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!interrupted) {
		int64_t t0 = clock_mono_ms();
		struct snapshot *s = collector_collect(c, false);

		if (recording_write(f, s) != 0) {
			fprintf(stderr, "cockpit: cannot write to '%s': %s\n", o->output, strerror(errno));
			snapshot_unref(s);
			rc = EXIT_RUNTIME;
			break;
		}
		snapshot_unref(s);
		n++;
		if (o->duration_s > 0 && clock_mono_ms() - start >= (int64_t)(o->duration_s * 1000))
			break;
		while (!interrupted && clock_mono_ms() - t0 < (int64_t)(interval * 1000))
			clock_sleep_ms(20);
	}
	if (f != stdout && fclose(f) != 0 && rc == 0) {
		fprintf(stderr, "cockpit: cannot write to '%s': %s\n", o->output, strerror(errno));
		rc = EXIT_RUNTIME;
	}
	collector_free(c);
	if (rc == 0)
		fprintf(stderr, "cockpit: recorded %lld snapshots to %s\n", (long long)n, o->output);
	return rc;
}

/* The connections of the live target: -d CONNINFO is used for monitoring
 * and, when the operator named it on the command line, for the executor
 * too (--executor CONNINFO overrides); a configured target uses its own
 * conninfo and executor_conninfo. */
static void resolve_target(const struct config *cfg, const struct options *o,
			   struct tui_options *to)
{
	const struct config_target *t = o->conninfo ? NULL : config_find_target(cfg, o->target);

	to->conninfo = o->conninfo ? o->conninfo : t ? t->conninfo : NULL;
	to->password_env = t ? t->password_env : NULL;
	to->executor_conninfo = o->executor ? o->executor
				: o->conninfo ? o->conninfo : t ? t->executor_conninfo : NULL;
	to->executor_password_env = t && !o->executor ? t->executor_password_env : NULL;
}

static int cmd_tui(struct config *cfg, struct options *o)
{
	struct collector *c = open_collector(cfg, o);
	struct tui_options to = { cfg, c, NULL, o->ascii, o->theme, NULL, NULL, NULL, NULL };
	int rc;

	if (!c)
		return EXIT_USAGE;
	resolve_target(cfg, o, &to);
	rc = tui_run(&to);
	collector_free(c);
	return rc;
}

/* Runbooks from paths.runbooks_dir; every problem on stderr. */
static int load_runbooks(const struct config *cfg, struct runbook_set *rs)
{
	char *errs = NULL;
	int rc = runbook_load_dir(cfg->runbooks_dir, rs, &errs);

	if (rc != 0) {
		fprintf(stderr, "%s", errs ? errs : "cockpit: cannot load the runbooks\n");
		if (errs && errs[0] && errs[strlen(errs) - 1] != '\n')
			fputc('\n', stderr);
	}
	free(errs);
	return rc;
}

static PGconn *connect_target(const struct tui_options *t, const char *app)
{
	char err[512];
	struct pgconn_params p = {
		.conninfo = t->conninfo,
		.password = t->password_env ? getenv(t->password_env) : NULL,
		.application_name = app,
		.connect_timeout_s = 5,
		.statement_timeout_ms = 10000,
	};
	PGconn *c = pgconn_connect(&p, err, sizeof(err));

	if (!c)
		fprintf(stderr, "cockpit: %s\n", err);
	return c;
}

static void print_incident(const struct incident *in)
{
	printf("%-8s %-22s %s\n", severity_name(in->severity), in->runbook, in->summary);
	for (size_t k = 0; k < in->nproposals; k++) {
		const struct proposal *p = in->proposals[k];

		printf("         -> %s %s  risk %s  confidence %.2f  %s: %s\n", p->action->name,
		       p->target ? p->target : "", risk_name(p->risk), p->confidence,
		       decision_name(p->decision), p->policy_reason ? p->policy_reason : "");
		printf("            %s\n", p->sql ? p->sql : "");
	}
	if (in->escalation)
		printf("         escalate: %s\n", in->escalation);
}

/* --show-prompt: the exact request body per incident; nothing is sent. */
static int show_prompts(const struct config *cfg, PGconn *conn, const struct snapshot *s,
			const struct runbook_set *rs, struct recall *rc_idx,
			struct incident_list *l, const struct options *o)
{
	struct config shown = *cfg;   /* shallow: never released */
	json_t *arr = json_array();
	int rc = 0;

	if (cfg->llm.provider == LLM_PROVIDER_NONE || !cfg->llm.base_url || !cfg->llm.model) {
		/* nothing configured: show the OpenAI-compatible form */
		shown.llm.provider = LLM_PROVIDER_OPENAI;
		if (!shown.llm.base_url)
			shown.llm.base_url = (char *)"http://llm.unset/v1";
		if (!shown.llm.model)
			shown.llm.model = (char *)"unset";
		fprintf(stderr, "cockpit: llm.provider is not configured: showing the "
			"OpenAI-compatible request with placeholder endpoint and model\n");
	}
	for (size_t i = 0; i < l->n; i++) {
		struct llmdiag_opts lo = {
			.cfg = &shown, .conn = conn, .snap = s,
			.rb = runbook_find(rs, l->v[i].runbook), .recall = rc_idx,
			.now = s->collected_at,
		};
		struct prompt p;
		char err[512];
		char *body = NULL;

		if (llmdiag_prompt(&lo, &l->v[i], &p, err, sizeof(err)) == 0) {
			struct llm_opts llo;

			llmdiag_llm_opts(&shown, &l->v[i], NULL, &llo);
			body = prompt_request_body(&p, &llo, err, sizeof(err));
		}
		if (!body) {
			fprintf(stderr, "cockpit: %s: %s\n", l->v[i].key, err);
			rc = EXIT_RUNTIME;
			continue;
		}
		if (o->json) {
			json_t *e = json_pack("{ss so ss}", "incident", l->v[i].key, "prompt",
					      prompt_meta_to_json(&p), "body", body);

			json_array_append_new(arr, e);
		} else {
			printf("# incident %s: %lld tokens (estimate), %zu bytes\n%s\n",
			       l->v[i].key, (long long)p.tokens, strlen(body), body);
		}
		free(body);
		prompt_release(&p);
	}
	if (o->json) {
		json_t *j = json_pack("{so}", "prompts", arr);

		json_dumpf(j, stdout, o->pretty ? JSON_INDENT(2) : JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		json_decref(arr);
	}
	return rc;
}

/* The diagnosis, in JSON or text; lr (may be NULL: no LLM) per incident. */
static void print_diagnosis(const struct config *cfg, const struct options *o,
			    const struct snapshot *s, const struct incident_list *l,
			    const struct llmdiag_result *lr)
{
	if (o->json) {
		json_t *j = json_object(), *arr = json_array();
		char llm[512];

		if (o->no_llm)
			snprintf(llm, sizeof(llm), "off (--no-llm): rules only");
		else if (!lr)
			snprintf(llm, sizeof(llm), "none configured: rules only");
		else
			snprintf(llm, sizeof(llm), "%s %s", config_llm_provider_name(cfg->llm.provider),
				 cfg->llm.model ? cfg->llm.model : "?");
		json_object_set_new(j, "version", json_integer(1));
		json_object_set_new(j, "target", json_string(s->target ? s->target : ""));
		json_object_set_new(j, "server_version",
				    json_string(s->server.version ? s->server.version : ""));
		json_object_set_new(j, "collected_at", json_real(s->collected_at));
		json_object_set_new(j, "mode", json_string(config_mode_name(cfg->mode)));
		json_object_set_new(j, "llm", json_string(llm));
		for (size_t i = 0; i < l->n; i++) {
			json_t *in = incident_to_json(&l->v[i]);

			if (lr) {
				json_t *props = json_object_get(in, "proposals");

				json_object_set_new(in, "llm", llmdiag_to_json(&lr[i]));
				for (size_t k = 0; props && k < lr[i].nproposals; k++)
					json_array_append_new(props, proposal_to_json(lr[i].proposals[k]));
			}
			json_array_append_new(arr, in);
		}
		json_object_set_new(j, "incidents", arr);
		json_dumpf(j, stdout, o->pretty ? JSON_INDENT(2) : JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else if (l->n == 0) {
		printf("no incidents on %s\n", s->target ? s->target : "?");
	} else {
		for (size_t i = 0; i < l->n; i++) {
			print_incident(&l->v[i]);
			if (!lr)
				continue;
			printf("         llm: %s", lr[i].status_text ? lr[i].status_text : "?");
			if (lr[i].ok)
				printf(" — %s (confidence %.2f), %zu proposal(s) of its own",
				       lr[i].root_cause ? lr[i].root_cause : "", lr[i].confidence,
				       lr[i].nproposals);
			putchar('\n');
			for (size_t k = 0; k < lr[i].nproposals; k++)
				printf("         llm proposes %s on %s (%s)\n",
				       lr[i].proposals[k]->action->name,
				       lr[i].proposals[k]->target ? lr[i].proposals[k]->target : "?",
				       decision_name(lr[i].proposals[k]->decision));
		}
	}
}

static int cmd_diagnose(struct config *cfg, struct options *o)
{
	struct runbook_set rs = { 0 };
	struct tui_options t = { 0 };
	struct collector *c;
	struct snapshot *s;
	struct policy_state *ps;
	struct incident_list l = { 0 };
	PGconn *conn;
	char err[512];
	int rc = 0;

	if (load_runbooks(cfg, &rs) != 0 && rs.n == 0) {
		runbook_set_release(&rs);
		return EXIT_USAGE;
	}
	c = open_collector(cfg, o);
	if (!c) {
		runbook_set_release(&rs);
		return EXIT_USAGE;
	}
	resolve_target(cfg, o, &t);
	s = collector_collect(c, true);
	if (s->connected && o->window_s > 0) {
		snapshot_unref(s);
		clock_sleep_ms((int64_t)(o->window_s * 1000));
		s = collector_collect(c, true);
	}
	if (!s->connected) {
		fprintf(stderr, "cockpit: cannot collect from '%s': %s\n", s->target, s->error);
		snapshot_unref(s);
		collector_free(c);
		runbook_set_release(&rs);
		return EXIT_RUNTIME;
	}
	conn = connect_target(&t, "cockpit-diagnose");
	if (!conn) {
		snapshot_unref(s);
		collector_free(c);
		runbook_set_release(&rs);
		return EXIT_RUNTIME;
	}
	ps = policy_state_new();
	if (policy_state_load_audit(ps, cfg->audit_log, s->collected_at, err, sizeof(err)) != 0)
		fprintf(stderr, "cockpit: %s (rate limits and idempotency start empty)\n", err);
	{
		struct detect_ctx dc = { s, cfg, &rs, conn };
		struct diagnose_ctx gc = { .conn = conn, .snap = s, .cfg = cfg, .runbooks = &rs,
					  .policy = ps, .now = s->collected_at };

		detect_run(&dc, &l);
		diagnose_all(&gc, &l);
	}
	bool use_llm = cfg->llm.provider != LLM_PROVIDER_NONE && !o->no_llm;
	struct recall *history = NULL;

	if (l.n > 0 && (o->show_prompt || use_llm)) {
		/* the prompts' similar past incidents */
		history = recall_new(cfg->audit_log, &rs, 0);
		if (*recall_error(history))
			fprintf(stderr, "cockpit: %s (the prompts show no past incidents)\n",
				recall_error(history));
	}
	if (o->show_prompt) {
		rc = show_prompts(cfg, conn, s, &rs, history, &l, o);
	} else {
		struct llmdiag_result *lr = xcalloc(l.n ? l.n : 1, sizeof(*lr));

		for (size_t i = 0; use_llm && i < l.n; i++) {
			struct llmdiag_opts lo = {
				.cfg = cfg, .conn = conn, .snap = s,
				.rb = runbook_find(&rs, l.v[i].runbook), .recall = history,
				.policy = ps, .now = s->collected_at,
			};

			llmdiag_run(&lo, &l.v[i], &lr[i]);
		}
		print_diagnosis(cfg, o, s, &l, use_llm ? lr : NULL);
		for (size_t i = 0; use_llm && i < l.n; i++)
			llmdiag_result_release(&lr[i]);
		free(lr);
	}
	recall_free(history);
	incident_list_release(&l);
	policy_state_free(ps);
	PQfinish(conn);
	snapshot_unref(s);
	collector_free(c);
	runbook_set_release(&rs);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "cockpit: cannot write output: %s\n", strerror(errno));
		rc = EXIT_RUNTIME;
	}
	return rc;
}

static int cmd_drill(struct config *cfg, struct options *o)
{
	struct runbook_set rs = { 0 };
	struct tui_options t = { 0 };
	const struct runbook *rb;
	struct drill_run *d;
	char err[1024];
	int rc = 0;

	load_runbooks(cfg, &rs);
	if (o->nargs == 0) {
		printf("drills (cockpit drill NAME reproduces the incident on the target):\n");
		for (size_t i = 0; i < rs.n; i++)
			printf("  %-24s %s%s\n", rs.v[i].name, rs.v[i].title,
			       rs.v[i].drill.nsessions || rs.v[i].drill.setup ? "" : " (no drill)");
		runbook_set_release(&rs);
		return 0;
	}
	rb = runbook_find(&rs, o->args[0]);
	if (!rb) {
		fprintf(stderr, "cockpit: no runbook named '%s' in %s (cockpit drill lists them)\n",
			o->args[0], cfg->runbooks_dir);
		runbook_set_release(&rs);
		return EXIT_USAGE;
	}
	resolve_target(cfg, o, &t);
	if (!t.conninfo) {
		fprintf(stderr, "cockpit: drill needs a sandbox database: -d CONNINFO or -t TARGET\n");
		runbook_set_release(&rs);
		return EXIT_USAGE;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	d = drill_start(rb, t.conninfo, t.password_env, true, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "cockpit: %s\n", err);
		runbook_set_release(&rs);
		return EXIT_RUNTIME;
	}
	printf("drill %s: %s\n", rb->name, rb->title);
	for (size_t i = 0; i < drill_sessions(d); i++)
		printf("  session %zu  pid %d  %s\n", i + 1, drill_session_pid(d, i),
		       drill_session_state(d, i));
	if (o->duration_s > 0)
		printf("holding for %.0f s (Ctrl-C ends it sooner), then cleaning up\n", o->duration_s);
	else
		printf("holding until Ctrl-C, then cleaning up\n");
	fflush(stdout);
	{
		int64_t start = clock_mono_ms();

		while (!interrupted && (o->duration_s <= 0 ||
		       clock_mono_ms() - start < (int64_t)(o->duration_s * 1000)))
			clock_sleep_ms(50);
	}
	if (drill_stop(d, err, sizeof(err)) != 0) {
		fprintf(stderr, "cockpit: %s\n", err);
		rc = EXIT_RUNTIME;
	}
	printf("drill %s: cleaned up\n", rb->name);
	runbook_set_release(&rs);
	return rc;
}

static int cmd_replay(struct config *cfg, struct options *o)
{
	struct recording rec;
	struct tui_options to = { cfg, NULL, &rec, o->ascii, o->theme, NULL, NULL, NULL, NULL };
	char err[1024];
	int rc;

	if (o->nargs != 1) {
		fprintf(stderr, "cockpit: replay needs one recording file (see 'cockpit --help')\n");
		return EXIT_USAGE;
	}
	if (recording_load(o->args[0], &rec, err, sizeof(err)) != 0) {
		fprintf(stderr, "cockpit: %s\n", err);
		return EXIT_RUNTIME;
	}
	rc = tui_run(&to);
	recording_release(&rec);
	return rc;
}

static int cmd_audit(struct config *cfg, struct options *o)
{
	if (o->nargs < 1 || strcmp(o->args[0], "verify") != 0 || o->nargs > 2) {
		fprintf(stderr, "cockpit: usage: cockpit audit verify [FILE]\n");
		return EXIT_USAGE;
	}
	return audit_cmd_verify(o->nargs == 2 ? o->args[1] : cfg->audit_log);
}

static int cmd_example_config(struct config *cfg, struct options *o)
{
	(void)cfg;
	(void)o;
	config_write_example(stdout);
	return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_check_config(struct config *cfg, struct options *o)
{
	struct runbook_set rs = { 0 };
	int bad;

	(void)o;
	bad = load_runbooks(cfg, &rs);
	printf("%s: %zu runbook%s%s\n", cfg->runbooks_dir, rs.n, rs.n == 1 ? "" : "s",
	       bad ? ", with the problems above" : "");
	runbook_set_release(&rs);
	if (bad)
		return EXIT_USAGE;
	printf("%s: ok (%zu target%s, mode %s)\n", cfg->path ? cfg->path : "(defaults)",
	       cfg->ntargets, cfg->ntargets == 1 ? "" : "s", config_mode_name(cfg->mode));
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_PRETTY, OPT_WINDOW, OPT_INTERVAL, OPT_DURATION, OPT_ASCII, OPT_THEME,
	       OPT_EXECUTOR, OPT_MODE, OPT_NO_LLM, OPT_SHOW_PROMPT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dsn", required_argument, NULL, 'd' },
		{ "target", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "pretty", no_argument, NULL, OPT_PRETTY },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "ascii", no_argument, NULL, OPT_ASCII },
		{ "theme", required_argument, NULL, OPT_THEME },
		{ "executor", required_argument, NULL, OPT_EXECUTOR },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "no-llm", no_argument, NULL, OPT_NO_LLM },
		{ "show-prompt", no_argument, NULL, OPT_SHOW_PROMPT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .window_s = 1.0 };
	struct config cfg;
	const struct command *cmd = NULL;
	char pathbuf[4096], *errs = NULL;
	const char *cmdname;
	int opt, rc;

	/* One malloc arena for all threads: the collector's allocations would
	 * otherwise sit in an arena of their own and raise the resident set. */
	mallopt(M_ARENA_MAX, 1);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:d:t:o:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': o.config_path = optarg; break;
		case 'd': o.conninfo = optarg; break;
		case 't': o.target = optarg; break;
		case 'o': o.output = optarg; break;
		case OPT_JSON: o.json = true; break;
		case OPT_PRETTY: o.pretty = o.json = true; break;
		case OPT_ASCII: o.ascii = true; break;
		case OPT_THEME: o.theme = optarg; break;
		case OPT_EXECUTOR: o.executor = optarg; break;
		case OPT_MODE: o.mode = optarg; break;
		case OPT_NO_LLM: o.no_llm = true; break;
		case OPT_SHOW_PROMPT: o.show_prompt = true; break;
		case OPT_WINDOW:
			if (parse_seconds("--window", optarg, &o.window_s))
				return EXIT_USAGE;
			break;
		case OPT_INTERVAL:
			if (parse_seconds("--interval", optarg, &o.interval_s))
				return EXIT_USAGE;
			break;
		case OPT_DURATION:
			if (parse_seconds("--duration", optarg, &o.duration_s))
				return EXIT_USAGE;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("cockpit %s\n", COCKPIT_VERSION); return 0;
		case ':':
			fprintf(stderr, "cockpit: option '%s' needs a value (see 'cockpit --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "cockpit: unknown option '%s' (see 'cockpit --help')\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	cmdname = optind < argc ? argv[optind] : NULL;
	if (cmdname) {
		for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
			if (strcmp(commands[i].name, cmdname) == 0)
				cmd = &commands[i];
		if (!cmd) {
			fprintf(stderr, "cockpit: unknown command '%s' (see 'cockpit --help')\n", cmdname);
			return EXIT_USAGE;
		}
		o.args = argv + optind + 1;
		o.nargs = argc - optind - 1;
		if (o.nargs > 0 && cmd->run != cmd_replay && cmd->run != cmd_audit &&
		    !(cmd->run == cmd_drill && o.nargs == 1)) {
			fprintf(stderr, "cockpit: %s: unexpected argument '%s' (see 'cockpit --help')\n",
				cmd->name, o.args[0]);
			return EXIT_USAGE;
		}
	}
	if (o.conninfo && o.target) {
		fprintf(stderr, "cockpit: give either -d CONNINFO or -t TARGET, not both\n");
		return EXIT_USAGE;
	}

	if (!o.config_path)
		o.config_path = config_default_path(pathbuf, sizeof(pathbuf));
	/* config_load() starts from the defaults itself. */
	if (!o.config_path)
		config_init_defaults(&cfg);
	else if (config_load(&cfg, o.config_path, &errs) != 0) {
		fprintf(stderr, "%s", errs ? errs : "cockpit: cannot load the configuration\n");
		if (errs && errs[0] && errs[strlen(errs) - 1] != '\n')
			fputc('\n', stderr);
		free(errs);
		config_release(&cfg);
		return EXIT_USAGE;
	}
	free(errs);
	if (o.mode && !config_mode_parse(o.mode, &cfg.mode)) {
		fprintf(stderr, "cockpit: --mode expects observe, shadow, assist or auto, got '%s'\n",
			o.mode);
		config_release(&cfg);
		return EXIT_USAGE;
	}
	/* libcurl's global state (TLS libraries and all), before any thread
	 * exists, and only for the commands that may talk to an LLM and only
	 * when one is configured: OpenSSL's initialisation alone costs the
	 * TUI about 2 MB of resident memory and tens of milliseconds before
	 * its first screen. */
	if ((!cmd || cmd->run == cmd_diagnose) && cfg.llm.provider != LLM_PROVIDER_NONE &&
	    llm_global_init() != 0) {
		fprintf(stderr, "cockpit: cannot initialise libcurl\n");
		config_release(&cfg);
		return EXIT_RUNTIME;
	}
	rc = cmd ? cmd->run(&cfg, &o) : cmd_tui(&cfg, &o);
	config_release(&cfg);
	return rc;
}
