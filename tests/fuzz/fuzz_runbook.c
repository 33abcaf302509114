/*
 * fuzz_runbook: libFuzzer harness for the runbook loader (think/runbook.c).
 *
 * Feeds arbitrary bytes to runbook_load_buffer() and checks what must hold
 * whatever the input: the result and the messages agree, every message is
 * one "fuzz.yaml:..." line, a loaded runbook keeps the format's promises
 * (required fields set, numbers in range, expect parses, actions unless
 * report_only), its templates bind against a sample evidence without
 * trouble, and loading the same text again into the same set is refused as
 * a duplicate. ASan/UBSan and LeakSanitizer catch the rest.
 *
 *   make fuzz FUZZ_ONLY=runbook FUZZ_SECONDS=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "think/runbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *evidence;

static void check_lines(const char *errs)
{
	for (const char *line = errs; *line;) {
		const char *nl = strchr(line, '\n');

		if (!nl || strncmp(line, "fuzz.yaml", 9) != 0)
			abort();
		line = nl + 1;
	}
}

static void exercise(const struct runbook *r)
{
	struct runbook_expect e;
	char *text, *param;
	json_t *v;

	if (!r->name || !r->title || !r->guidance || !r->detector || !r->thresholds ||
	    !r->file || (r->nactions == 0 && !r->report_only) ||
	    (r->nactions > 0 && r->report_only) || (unsigned)r->severity > SEVERITY_CRITICAL)
		abort();
	if (!r->drill.setup && r->drill.nsessions == 0)
		abort();
	(void)runbook_threshold(r, "min_waiters", 1);
	for (size_t i = 0; i < r->ncontext; i++) {
		if (!r->context[i].name || !r->context[i].sql)
			abort();
		for (size_t j = 0; j < json_array_size(r->context[i].args); j++) {
			if (runbook_bind_param(json_array_get(r->context[i].args, j), evidence,
			                       &param) == 0)
				free(param);
			else if (param)
				abort();
		}
	}
	for (size_t i = 0; i < r->nactions; i++) {
		const struct runbook_action *a = &r->actions[i];

		if (!a->action || !a->params || !(a->confidence >= 0 && a->confidence <= 1) ||
		    a->verify.wait_s < 0 || a->verify.deadline_s < a->verify.wait_s ||
		    a->verify.attempts < 0 || (a->verify.expect &&
		                               !runbook_expect_parse(a->verify.expect, &e)))
			abort();
		if (a->verify.expect)
			(void)runbook_expect_holds(&e, 1, 2);
		(void)runbook_when_holds(a->when, evidence);
		v = runbook_bind_value(a->params, evidence);
		json_decref(v);
		text = runbook_bind_text(a->rationale, evidence);
		free(text);
		for (size_t j = 0; j < json_array_size(a->verify.args); j++) {
			if (runbook_bind_param(json_array_get(a->verify.args, j), evidence,
			                       &param) == 0)
				free(param);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct runbook_set set = { 0 };
	char *errs = NULL, *again = NULL;
	int ret;

	if (!evidence)
		evidence = json_pack("{s:{s:i, s:s, s:[i,i], s:f}, s:i, s:[{s:i}], s:s}",
		                     "root", "pid", 4711, "state", "active", "pids", 4711, 4712,
		                     "query_age_s", 12.5, "waiters", 3, "list", "pid", 1,
		                     "table", "public.orders");
	ret = runbook_load_buffer(&set, "fuzz.yaml", (const char *)data, size, &errs);
	if ((ret == 0) != (errs == NULL) || set.n != (ret == 0 ? 1u : 0u))
		abort();
	if (errs)
		check_lines(errs);
	if (ret == 0) {
		exercise(&set.v[0]);
		/* the same runbook again: a duplicate name */
		if (runbook_load_buffer(&set, "fuzz.yaml.again", (const char *)data, size,
		                        &again) != -1 || set.n != 1 || !again ||
		    !strstr(again, "already defined in fuzz.yaml"))
			abort();
	}
	free(errs);
	free(again);
	runbook_set_release(&set);
	return 0;
}
