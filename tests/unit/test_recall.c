/*
 * test_recall: the audit history's index — tokens, one document per past
 * incident with its story, BM25 order, the incident at hand left out,
 * repeats passed over, runbooks ranked, and the log read in bounded,
 * incremental steps (a tail, an unfinished last line, a replaced log,
 * corrupt lines).
 */
#include "think/recall.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/strbuf.h"
#include "think/detect.h"
#include "think/runbook.h"

static void collect(void *arg, const char *tok, size_t len)
{
	struct strbuf *sb = arg;

	assert_int_equal(strlen(tok), len);
	strbuf_addf(sb, "%s%s", sb->len ? " " : "", tok);
}

static void test_tokens(void **state)
{
	struct strbuf sb;

	(void)state;
	strbuf_init(&sb, 64);
	recall_tokenize("UPDATE h8_Accounts SET note = 'it''s secret' WHERE id = 4711 AND x = 1", 1,
			collect, &sb);
	assert_string_equal(sb.buf, "update h8_accounts set note where id");
	strbuf_reset(&sb);
	/* not SQL: quotes are text; digits-first, one-letter and stop words go */
	recall_tokenize("The app 'inventory-sync' of pid 4711 is in 2pc x", 0, collect, &sb);
	assert_string_equal(sb.buf, "app inventory sync pid");
	strbuf_release(&sb);
}

/* One audit line of the given kind and fields (stolen). */
static char *line(const char *kind, const char *at, json_t *f)
{
	char *s;

	json_object_set_new(f, "kind", json_string(kind));
	json_object_set_new(f, "at", json_string(at));
	s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(f);
	return s;
}

static void add(struct recall *r, char *l)
{
	assert_int_equal(recall_add_line(r, l, strlen(l)), 0);
	free(l);
}

static json_t *chain_evidence(const char *app, const char *table)
{
	char q[128];

	snprintf(q, sizeof(q), "UPDATE %s SET balance = balance - 5 WHERE id = 1", table);
	return json_pack("{s{si ss ss ss} si}", "root", "pid", 4711, "state", "idle in transaction",
			 "application", app, "query", q, "waiting", 3);
}

/* A lock chain that was ended and verified, a bloat incident, and a
 * second lock chain on another table. */
static void history(struct recall *r)
{
	add(r, line("incident.open", "2026-11-22T04:05:06.123Z",
		    json_pack("{ss ss ss ss so}", "incident", "lock-chain/pid=4711/1.0", "runbook",
			      "lock-chain", "severity", "critical", "summary",
			      "pid 4711 (idle in transaction, app 'inventory-sync') blocks 3 session(s)",
			      "evidence", chain_evidence("inventory-sync", "h9_accounts"))));
	add(r, line("proposal", "2026-11-22T04:05:06.200Z",
		    json_pack("{ss s{ss ss ss ss ss}}", "incident", "lock-chain/pid=4711/1.0", "proposal",
			      "id", "p-1", "action", "terminate_backend", "target", "pid 4711",
			      "origin", "rule", "rationale", "the root blocker is idle in transaction")));
	add(r, line("decision.accept", "2026-11-22T04:05:10.000Z",
		    json_pack("{ss ss ss}", "incident", "lock-chain/pid=4711/1.0", "proposal_id", "p-1",
			      "action", "terminate_backend")));
	/* exec records name the proposal only */
	add(r, line("exec.done", "2026-11-22T04:05:10.100Z",
		    json_pack("{ss ss}", "proposal_id", "p-1", "action", "terminate_backend")));
	add(r, line("verify.pass", "2026-11-22T04:05:12.100Z",
		    json_pack("{ss ss}", "proposal_id", "p-1", "action", "terminate_backend")));
	add(r, line("llm.diagnosis", "2026-11-22T04:05:13.000Z",
		    json_pack("{ss ss s[{ss sf}]}", "incident", "lock-chain/pid=4711/1.0", "root_cause",
			      "inventory-sync forgot to commit", "hypotheses", "text",
			      "a missing commit in the batch job", "p", 0.8)));
	add(r, line("incident.clear", "2026-11-22T04:06:41.000Z",
		    json_pack("{ss ss sf}", "incident", "lock-chain/pid=4711/1.0", "runbook", "lock-chain",
			      "lasted_s", 95.0)));
	add(r, line("incident.open", "2026-11-23T09:00:00.000Z",
		    json_pack("{ss ss ss ss s{ss si}}", "incident", "bloat/public.h9_events", "runbook",
			      "bloat", "severity", "warning", "summary",
			      "public.h9_events: 20473 dead tuples (29% of its rows)", "evidence",
			      "table", "public.h9_events", "dead_tuples", 20473)));
	add(r, line("incident.open", "2026-11-24T10:00:00.000Z",
		    json_pack("{ss ss ss ss so}", "incident", "lock-chain/pid=777/2.0", "runbook",
			      "lock-chain", "severity", "critical", "summary",
			      "pid 777 (idle in transaction, app 'report-bot') blocks 1 session(s)",
			      "evidence", chain_evidence("report-bot", "h9_orders"))));
}

static char key_now[] = "lock-chain/pid=9999/3.0";
static char rb_now[] = "lock-chain";
static char sum_now[] = "pid 9999 (idle in transaction, app 'inventory-sync') blocks 2 session(s)";

static void incident_now(struct incident *in, json_t *ev)
{
	memset(in, 0, sizeof(*in));
	in->key = key_now;
	in->runbook = rb_now;
	in->severity = SEVERITY_CRITICAL;
	in->summary = sum_now;
	in->evidence = ev;
}

static void test_ranked_story(void **state)
{
	struct recall *r = recall_new(NULL, NULL, 0);
	struct recall_result res;
	struct recall_stats st;
	struct incident in;

	(void)state;
	history(r);
	incident_now(&in, chain_evidence("inventory-sync", "h9_accounts"));
	recall_query(r, &in, 3, 2, &res);
	assert_int_equal(res.history, 3);
	/* the same app and table first, then the other chain; the bloat shares
	 * no word with a lock chain and is not returned */
	assert_int_equal(res.n, 2);
	assert_string_equal(res.v[0].key, "lock-chain/pid=4711/1.0");
	assert_string_equal(res.v[1].key, "lock-chain/pid=777/2.0");
	assert_true(res.v[0].score > res.v[1].score && res.v[1].score > 0);
	assert_string_equal(res.v[0].at, "2026-11-22 04:05 UTC");
	assert_string_equal(res.v[0].done,
			    "proposed terminate_backend on pid 4711 (rule); accepted terminate_backend; "
			    "terminate_backend executed; terminate_backend verified");
	assert_string_equal(res.v[0].root_cause, "inventory-sync forgot to commit");
	assert_string_equal(res.v[0].query, "UPDATE h9_accounts SET balance = balance - 5 WHERE id = 1");
	assert_true(res.v[0].lasted_s > 94.9 && res.v[0].lasted_s < 95.1);
	assert_true(res.v[1].lasted_s < 0);   /* not seen to clear */
	assert_null(res.v[1].done);
	recall_result_release(&res);
	/* k bounds the answer */
	recall_query(r, &in, 1, 0, &res);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.nrb, 0);
	recall_result_release(&res);
	recall_get_stats(r, &st);
	assert_int_equal(st.records, 9);
	assert_int_equal(st.incidents, 3);
	assert_int_equal(st.corrupt, 0);
	assert_true(st.terms > 20);
	json_decref(in.evidence);
	recall_free(r);
}

static void test_current_left_out(void **state)
{
	struct recall *r = recall_new(NULL, NULL, 0);
	struct recall_result res;
	struct incident in;

	(void)state;
	history(r);
	/* the incident at hand is in the log too (the brain wrote its open) */
	add(r, line("incident.open", "2026-11-25T10:00:00.000Z",
		    json_pack("{ss ss ss ss so}", "incident", key_now, "runbook", "lock-chain",
			      "severity", "critical", "summary", sum_now, "evidence",
			      chain_evidence("inventory-sync", "h9_accounts"))));
	incident_now(&in, chain_evidence("inventory-sync", "h9_accounts"));
	recall_query(r, &in, 5, 0, &res);
	assert_int_equal(res.history, 3);
	assert_int_equal(res.n, 2);
	for (size_t i = 0; i < res.n; i++)
		assert_string_not_equal(res.v[i].key, key_now);
	recall_result_release(&res);
	/* once cleared it is history: the same key seen again is a past incident */
	add(r, line("incident.clear", "2026-11-25T10:01:00.000Z",
		    json_pack("{ss sf}", "incident", key_now, "lasted_s", 60.0)));
	recall_query(r, &in, 5, 0, &res);
	assert_int_equal(res.history, 4);
	assert_string_equal(res.v[0].key, key_now);
	recall_result_release(&res);
	json_decref(in.evidence);
	recall_free(r);
}

static void test_repeats_passed_over(void **state)
{
	struct recall *r = recall_new(NULL, NULL, 0);
	struct recall_result res;
	struct incident in;
	char key[64], sum[128];

	(void)state;
	history(r);
	/* the same blocker, restarted five times: one lesson, not five */
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "lock-chain/pid=%d/9.%d", 5000 + i, i);
		snprintf(sum, sizeof(sum), "pid %d (idle in transaction, app 'inventory-sync') "
			 "blocks 2 session(s)", 5000 + i);
		add(r, line("incident.open", "2026-11-26T10:00:00.000Z",
			    json_pack("{ss ss ss ss so}", "incident", key, "runbook", "lock-chain",
				      "severity", "critical", "summary", sum, "evidence",
				      chain_evidence("inventory-sync", "h9_accounts"))));
		snprintf(sum, sizeof(sum), "pid %d", 5000 + i);
		add(r, line("proposal", "2026-11-26T10:00:00.100Z",
			    json_pack("{ss s{ss ss ss ss}}", "incident", key, "proposal", "id", key,
				      "action", "terminate_backend", "target", sum, "origin", "rule")));
	}
	incident_now(&in, chain_evidence("inventory-sync", "h9_accounts"));
	recall_query(r, &in, 3, 0, &res);
	assert_int_equal(res.history, 8);
	assert_int_equal(res.n, 3);
	size_t restarts = 0;

	for (size_t i = 0; i < res.n; i++)
		restarts += strncmp(res.v[i].key, "lock-chain/pid=50", 17) == 0;
	assert_int_equal(restarts, 1);
	recall_result_release(&res);
	json_decref(in.evidence);
	recall_free(r);
}

static void test_runbooks(void **state)
{
	struct runbook v[3] = {
		{ .name = (char *)"lock-chain", .title = (char *)"Lock chain", .detector = (char *)"lock_chain",
		  .guidance = (char *)"End the root blocker." },
		{ .name = (char *)"idle-in-transaction", .title = (char *)"Session idle in transaction",
		  .detector = (char *)"idle_in_transaction",
		  .guidance = (char *)"A session idle in transaction holds its locks and blocks vacuum." },
		{ .name = (char *)"disk-space", .title = (char *)"Disk filling up", .detector = (char *)"disk",
		  .guidance = (char *)"Find what grows: WAL, logs or tables." },
	};
	struct runbook_set rs = { v, 3 };
	struct recall *r = recall_new(NULL, &rs, 0);
	struct recall_result res;
	struct incident in;

	(void)state;
	incident_now(&in, chain_evidence("inventory-sync", "h9_accounts"));
	recall_query(r, &in, 3, 2, &res);
	assert_int_equal(res.n, 0);
	assert_int_equal(res.history, 0);
	/* its own runbook is left out; the one that shares no word is not returned */
	assert_int_equal(res.nrb, 1);
	assert_string_equal(res.rb[0].name, "idle-in-transaction");
	assert_string_equal(res.rb[0].title, "Session idle in transaction");
	assert_non_null(strstr(res.rb[0].guidance, "holds its locks"));
	recall_result_release(&res);
	json_decref(in.evidence);
	recall_free(r);
}

/* ---------------------------------------------------------------- the log */

static char *tmp_log(void)
{
	char *path = strdup("/tmp/cockpit-recall-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	return path;
}

static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void append_record(const char *path, char *l)
{
	append(path, l);
	append(path, "\n");
	free(l);
}

static char *open_line(int i)
{
	char key[64], sum[96];

	snprintf(key, sizeof(key), "bloat/public.t%d", i);
	snprintf(sum, sizeof(sum), "public.table_%c%c: dead tuples", 'a' + i % 26, 'a' + i / 26 % 26);
	return line("incident.open", "2026-11-27T10:00:00.000Z",
		    json_pack("{ss ss ss ss}", "incident", key, "runbook", "bloat", "severity",
			      "warning", "summary", sum));
}

static void test_log_incremental(void **state)
{
	char *path = tmp_log();
	struct recall *r;
	struct recall_stats st;

	(void)state;
	append_record(path, open_line(0));
	append(path, "this is not json\n");
	append(path, "[1, 2]\n");
	/* being written: no newline yet */
	char *half = open_line(1);
	size_t n = strlen(half);

	append(path, "\n");
	{
		FILE *f = fopen(path, "a");

		assert_non_null(f);
		fwrite(half, 1, n / 2, f);
		fclose(f);
	}
	r = recall_new(path, NULL, 0);
	assert_string_equal(recall_error(r), "");
	recall_get_stats(r, &st);
	assert_int_equal(st.records, 1);
	assert_int_equal(st.incidents, 1);
	assert_int_equal(st.corrupt, 2);
	/* nothing new: nothing read twice */
	assert_int_equal(recall_refresh(r), 0);
	/* the line is finished: it is read whole now */
	append(path, half + n / 2);
	append(path, "\n");
	free(half);
	assert_int_equal(recall_refresh(r), 1);
	append_record(path, open_line(2));
	assert_int_equal(recall_refresh(r), 1);
	recall_get_stats(r, &st);
	assert_int_equal(st.incidents, 3);
	assert_int_equal(st.corrupt, 2);
	/* replaced by a shorter log: indexed again from scratch */
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fclose(f);
	}
	append_record(path, open_line(7));
	assert_int_equal(recall_refresh(r), 1);
	recall_get_stats(r, &st);
	assert_int_equal(st.incidents, 1);
	recall_free(r);
	unlink(path);
	free(path);
}

static void test_log_tail_bound(void **state)
{
	char *path = tmp_log();
	struct recall *r;
	struct recall_stats st;
	size_t len = 0;

	(void)state;
	for (int i = 0; i < 200; i++) {
		char *l = open_line(i);

		len += strlen(l) + 1;
		append_record(path, l);
	}
	/* about 50 lines' worth of the tail */
	r = recall_new(path, NULL, len / 4);
	recall_get_stats(r, &st);
	assert_true(st.incidents >= 48 && st.incidents <= 51);
	assert_int_equal(st.corrupt, 0);   /* the partial first line is skipped, not corrupt */
	assert_true(st.skipped_bytes > 0 && (size_t)st.skipped_bytes >= len - len / 4 - 1);
	assert_true((size_t)st.read_bytes <= len / 4);
	recall_free(r);
	unlink(path);
	free(path);
}

static void test_log_missing_or_unreadable(void **state)
{
	struct recall *r;
	struct recall_stats st;

	(void)state;
	r = recall_new("/nonexistent/cockpit/audit.jsonl", NULL, 0);
	assert_string_equal(recall_error(r), "");   /* no history yet */
	assert_int_equal(recall_refresh(r), 0);
	recall_free(r);
	/* a directory cannot be read as a log: said, never a crash */
	r = recall_new("/tmp", NULL, 0);
	assert_int_equal(recall_refresh(r), -1);
	assert_non_null(strstr(recall_error(r), "/tmp: "));
	recall_get_stats(r, &st);
	assert_int_equal(st.incidents, 0);
	recall_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_ranked_story),
		cmocka_unit_test(test_current_left_out),
		cmocka_unit_test(test_repeats_passed_over),
		cmocka_unit_test(test_runbooks),
		cmocka_unit_test(test_log_incremental),
		cmocka_unit_test(test_log_tail_bound),
		cmocka_unit_test(test_log_missing_or_unreadable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
