/*
 * bench_recall: the audit history's index (think/recall.h) on synthetic
 * logs of 4, 16 and 32 MB.
 *
 * The log holds incidents of six runbooks as the brain, the operator, the
 * executor and the advisor write them (open with evidence, proposals, a
 * decision, execution, verification, the LLM's diagnosis, clear), with
 * tables, applications and queries drawn from a few hundred names. For each
 * size: the time to index the log from scratch (recall_new: at most the last
 * 16 MB are read, so 32 MB costs what 16 MB does), a refresh with nothing
 * new, and the top-3 query for a fresh lock chain (median and p95 of 200),
 * with the index's documents, terms and the process's peak RSS after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

#include "core/clock.h"
#include "think/detect.h"
#include "think/recall.h"

static const char *const runbooks[] = { "lock-chain", "idle-in-transaction", "bloat",
					"slow-query", "agent-runaway", "deadlock" };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void put(FILE *f, const char *kind, int t, json_t *rec)
{
	char at[32];
	char *s;

	snprintf(at, sizeof(at), "2026-11-%02dT%02d:%02d:%02d.000Z", 1 + t / 86400 % 28,
		 t / 3600 % 24, t / 60 % 60, t % 60);
	json_object_set_new(rec, "kind", json_string(kind));
	json_object_set_new(rec, "at", json_string(at));
	json_object_set_new(rec, "hash", json_string("6f1c0e4b9d2a7f3e8c5b1a0d9e8f7c6b5a4d3c2b1a0f9e8d7c6b5a4d3c2b1a0f"));
	s = json_dumps(rec, JSON_COMPACT);
	fprintf(f, "%s\n", s);
	free(s);
	json_decref(rec);
}

static json_t *evidence(int i, const char *table, const char *app)
{
	json_t *w = json_array();
	char q[160];

	snprintf(q, sizeof(q), "UPDATE %s SET balance = balance - %d WHERE id = %d", table, i % 97, i);
	for (int k = 0; k < 2 + i % 6; k++)
		json_array_append_new(w, json_pack("{si si sf ss ss ss}", "pid", 20000 + k, "blocked_by",
						   10000 + i % 5000, "wait_s", 1.5 * k, "mode",
						   "ShareLock", "application", app, "query", q));
	return json_pack("{s{si ss ss ss sf} so si}", "root", "pid", 10000 + i % 5000, "state",
			 "idle in transaction", "application", app, "query", q, "state_age_s",
			 3.0 + i % 40, "waiters", w, "depth", 1 + i % 3);
}

/* Incidents until the file holds bytes. */
static void write_log(const char *path, size_t bytes)
{
	FILE *f = fopen(path, "w");
	long pos = 0;

	if (!f) {
		perror(path);
		exit(1);
	}
	for (int i = 0; (size_t)pos < bytes; i++) {
		const char *rb = runbooks[i % 6];
		char key[96], table[32], app[32], sum[200], id[32];
		int t = i * 37;

		snprintf(table, sizeof(table), "t%03d_accounts", i % 300);
		snprintf(app, sizeof(app), "svc-%02d", i % 40);
		snprintf(key, sizeof(key), "%s/pid=%d/%d.0", rb, 10000 + i % 5000, i);
		snprintf(sum, sizeof(sum), "pid %d (idle in transaction, app '%s') blocks %d session(s) on %s",
			 10000 + i % 5000, app, 2 + i % 6, table);
		snprintf(id, sizeof(id), "p-%d", i);
		put(f, "incident.open", t, json_pack("{ss ss ss ss so}", "incident", key, "runbook", rb,
						     "severity", "critical", "summary", sum, "evidence",
						     evidence(i, table, app)));
		put(f, "proposal", t, json_pack("{ss s{ss ss ss ss ss}}", "incident", key, "proposal", "id",
						id, "action", "terminate_backend", "target", "pid 10000",
						"origin", "rule", "rationale",
						"the root blocker has been idle in transaction"));
		if (i % 3 == 0) {
			put(f, "decision.accept", t + 5, json_pack("{ss ss ss}", "incident", key,
								   "proposal_id", id, "action",
								   "terminate_backend"));
			put(f, "exec.done", t + 6, json_pack("{ss ss}", "proposal_id", id, "action",
							     "terminate_backend"));
			put(f, "verify.pass", t + 8, json_pack("{ss ss}", "proposal_id", id, "action",
							       "terminate_backend"));
		} else if (i % 3 == 1) {
			put(f, "decision.reject", t + 5, json_pack("{ss ss ss ss}", "incident", key,
								   "proposal_id", id, "action",
								   "terminate_backend", "reason",
								   "the batch owner is finishing it"));
		}
		if (i % 2 == 0)
			put(f, "llm.diagnosis", t + 3,
			    json_pack("{ss ss s[{ss sf}] ss}", "incident", key, "root_cause",
				      "the batch job keeps its transaction open between steps",
				      "hypotheses", "text", "a missing commit in the job", "probability", 0.8,
				      "reasoning", "The root is idle in transaction; its waiters update the same rows."));
		put(f, "incident.clear", t + 30, json_pack("{ss ss sf}", "incident", key, "runbook", rb,
							   "lasted_s", 30.0));
		pos = ftell(f);
	}
	fclose(f);
}

int main(void)
{
	static const size_t mb[] = { 4, 16, 32 };
	char path[] = "/tmp/cockpit-bench-recall-XXXXXX";
	int fd = mkstemp(path);
	struct incident in = { 0 };
	char key[] = "lock-chain/pid=4711/1.0", rb[] = "lock-chain";
	char sum[] = "pid 4711 (idle in transaction, app 'svc-07') blocks 3 session(s) on t042_accounts";

	if (fd < 0) {
		perror(path);
		return 1;
	}
	close(fd);
	in.key = key;
	in.runbook = rb;
	in.summary = sum;
	in.evidence = evidence(42, "t042_accounts", "svc-07");
	printf("%-6s %9s %8s %10s %9s %9s %7s %7s\n", "log_MB", "read_MB", "build_ms", "refresh_ms",
	       "query_ms", "query_p95", "docs", "terms");
	for (size_t k = 0; k < sizeof(mb) / sizeof(*mb); k++) {
		struct recall *r;
		struct recall_stats st;
		struct recall_result res;
		double q[200], build, refresh;
		int64_t t0;

		write_log(path, mb[k] << 20);
		t0 = clock_mono_us();
		r = recall_new(path, NULL, 0);
		build = (double)(clock_mono_us() - t0) / 1000.0;
		t0 = clock_mono_us();
		recall_refresh(r);
		refresh = (double)(clock_mono_us() - t0) / 1000.0;
		for (size_t i = 0; i < 200; i++) {
			t0 = clock_mono_us();
			recall_query(r, &in, 3, 2, &res);
			q[i] = (double)(clock_mono_us() - t0) / 1000.0;
			if (res.n != 3) {
				fprintf(stderr, "bench_recall: %zu hits, expected 3\n", res.n);
				return 1;
			}
			recall_result_release(&res);
		}
		qsort(q, 200, sizeof(*q), cmp_double);
		recall_get_stats(r, &st);
		printf("%-6zu %9.1f %8.1f %10.3f %9.3f %9.3f %7zu %7zu\n", mb[k],
		       (double)st.read_bytes / (1 << 20), build, refresh, q[100], q[190], st.incidents,
		       st.terms);
		recall_free(r);
	}
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		printf("peak RSS %.1f MB (the largest index and its log's reading)\n", (double)ru.ru_maxrss / 1024);
	}
	json_decref(in.evidence);
	unlink(path);
	return 0;
}
