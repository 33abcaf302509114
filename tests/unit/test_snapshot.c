/*
 * Unit tests: snapshot JSON round trip (every section) and the recording
 * loader's errors (first bad line named).
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

#include "perceive/recording.h"
#include "perceive/snapshot.h"

static struct snapshot *sample(void)
{
	struct snapshot *s = snapshot_new();
	struct arena *a = &s->arena;

	s->target = "prod";
	s->connected = true;
	s->collected_at = 1795000000.25;
	s->server = (struct snap_server){ .version = "15.18", .version_num = 150018, .max_connections = 100,
		.replication_lag_s = -1, .tps = 12.5, .cache_hit_ratio = 0.99, .xact_total = 1234,
		.blks_hit = 99, .blks_read = 1, .now = 1795000000.2 };
	s->nsessions = 3;
	s->sessions = arena_alloc(a, 3 * sizeof(*s->sessions));
	s->sessions[0] = (struct snap_session){ .pid = 10, .user = "app", .database = "db", .application = "web",
		.client = "local", .backend_type = "client backend", .state = "idle in transaction",
		.backend_start = 1794999000, .xact_start = 1794999900, .query_start = 1794999901,
		.state_change = 1794999902, .xmin_age = 3, .query = "UPDATE t SET x = 1" };
	s->sessions[1] = (struct snap_session){ .pid = 11, .user = "app", .state = "active",
		.wait_event_type = "Lock", .wait_event = "transactionid", .xmin_age = -1,
		.query = "/* agent_id=a */ UPDATE t SET x = 2", .agent_id = "a", .task_id = "t", .step = "1" };
	s->sessions[2] = (struct snap_session){ .pid = 12, .leader_pid = 11, .xmin_age = -1 };
	s->nedges = 2;
	s->edges = arena_alloc(a, 2 * sizeof(*s->edges));
	s->edges[0] = (struct lockgraph_edge){ 11, 10, true, "ShareLock", "transactionid", NULL, 1794999950 };
	s->edges[1] = (struct lockgraph_edge){ 12, 11, false, "RowExclusiveLock", "relation", "public.t", 0 };
	s->nstatements = 1;
	s->statements = arena_alloc(a, sizeof(*s->statements));
	s->statements[0] = (struct snap_statement){ .queryid = -8070450532247928832LL, .user = "app",
		.database = "db", .query = "SELECT $1", .calls = 10, .calls_per_s = 1, .total_ms = 25.5,
		.mean_ms = 2.55, .max_ms = 9, .p99_ms_estimate = 7.5, .share = 1, .rows = 10, .agent_id = "a" };
	s->statements_window_s = 10;
	s->disk = (struct snap_disk){ .fs_known = true, .fs_path = "/data", .fs_source = "statvfs",
		.fs_total_bytes = 1000, .fs_used_bytes = 600, .fs_avail_bytes = 400, .wal_bytes = 16777216,
		.wal_files = 1, .log_bytes = -1, .temp_bytes = 0, .collected_at = 1795000000 };
	s->disk.ndatabases = 1;
	s->disk.databases = arena_alloc(a, sizeof(*s->disk.databases));
	s->disk.databases[0] = (struct snap_database_size){ "db", 8000000 };
	s->disk.nslots = 1;
	s->disk.slots = arena_alloc(a, sizeof(*s->disk.slots));
	s->disk.slots[0] = (struct snap_slot){ "s1", "logical", false, 5000, "reserved" };
	s->disk.ntables = 1;
	s->disk.tables = arena_alloc(a, sizeof(*s->disk.tables));
	s->disk.tables[0] = (struct snap_table){ "public", "t", 8192, 90, 10, 0.1, 0, 1794990000, 0, 0 };
	s->nagents = 1;
	s->agents = arena_alloc(a, sizeof(*s->agents));
	s->agents[0] = (struct snap_agent){ .agent_id = "a", .sessions = 1, .active = 1, .waiting = 1,
		.task_id = "t", .step = "1", .db_time_share = 0.5, .db_time_ms = 12.75, .active_share = 1 };
	s->ndeadlocks = 1;
	s->deadlocks = arena_alloc(a, sizeof(*s->deadlocks));
	s->deadlocks[0] = (struct snap_deadlock){ .at = 1794999000.5, .pid = 20, .user = "app",
		.database = "db", .statement = "UPDATE t SET x = 1 WHERE id = 2" };
	s->deadlocks[0].nprocs = 2;
	s->deadlocks[0].procs = arena_alloc(a, 2 * sizeof(*s->deadlocks[0].procs));
	s->deadlocks[0].procs[0] = (struct snap_deadlock_proc){ 20, "ShareLock", "transactionid",
		"transaction 745", NULL, 745, 21, "UPDATE t SET x = 1 WHERE id = 2" };
	s->deadlocks[0].procs[1] = (struct snap_deadlock_proc){ 21, "ShareLock", "transactionid",
		"transaction 744", NULL, 744, 20, "UPDATE t SET x = 1 WHERE id = 1" };
	snapshot_add_problem(s, "statements", "pg_stat_statements is not installed", "CREATE EXTENSION");
	s->stats = (struct snap_collector_stats){ 1, 3, 1.5, 0, false, 7 };
	snapshot_build_locks(s);
	return s;
}

static void test_round_trip(void **state)
{
	struct snapshot *s = sample(), *back;
	json_t *j1 = snapshot_to_json(s), *j2;
	char err[256];

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(j1, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(j1, "collected_at")), "2026-11-18T11:06:40.250Z");
	/* lock graph: 10 is the root, 12 waits two deep */
	assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(j1, "lock_graph"), "roots"), 0)), 10);
	back = snapshot_from_json(j1, err, sizeof(err));
	if (!back)
		fail_msg("from_json: %s", err);
	j2 = snapshot_to_json(back);
	json_object_del(j1, "age_s");
	json_object_del(j2, "age_s");
	if (!json_equal(j1, j2)) {
		char *a = json_dumps(j1, JSON_SORT_KEYS), *b = json_dumps(j2, JSON_SORT_KEYS);

		fail_msg("round trip differs:\n%s\n%s", a, b);
	}
	assert_int_equal(back->locks->max_depth, 2);
	json_decref(j1);
	json_decref(j2);
	snapshot_unref(back);
	snapshot_unref(s);
}

static void test_from_json_errors(void **state)
{
	static const struct { const char *json, *expect; } cases[] = {
		{ "[1]", "expected a JSON object" },
		{ "{\"version\":2,\"sessions\":[]}", "field 'version'" },
		{ "{\"version\":1}", "field 'sessions'" },
		{ "{\"version\":1,\"sessions\":[{\"pid\":\"x\"}]}", "sessions[].pid" },
		{ "{\"version\":1,\"sessions\":[{\"pid\":1,\"user\":5}]}", "sessions[].user" },
		{ "{\"version\":1,\"sessions\":[],\"lock_graph\":{\"edges\":[{\"waiter\":-1}]}}", "waiter" },
		{ "{\"version\":1,\"sessions\":[],\"disk\":[]}", "field 'disk'" },
		{ "{\"version\":1,\"sessions\":[{\"pid\":9223372036854775807}]}", "sessions[].pid': number out of range" },
		{ "{\"version\":1,\"sessions\":[],\"disk\":{\"wal_bytes\":1e19}}", "disk.wal_bytes': number out of range" },
		{ "{\"version\":1,\"sessions\":[],\"deadlocks\":[{\"processes\":[{\"xid\":-1}]}]}", "xid': number out of range" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);
		char err[256] = "";
		struct snapshot *s;

		assert_non_null(j);
		s = snapshot_from_json(j, err, sizeof(err));
		assert_null(s);
		if (!strstr(err, cases[i].expect))
			fail_msg("case %zu: '%s' does not mention '%s'", i, err, cases[i].expect);
		json_decref(j);
	}
}

static char *write_tmp(const char *content)
{
	char *path = strdup("/tmp/cockpit-rec-XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs(content, f);
	fclose(f);
	return path;
}

static void test_recording(void **state)
{
	struct snapshot *s = sample();
	char *path = strdup("/tmp/cockpit-rec-XXXXXX"), err[512];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct recording rec;

	(void)state;
	assert_int_equal(recording_write(f, s), 0);
	assert_int_equal(recording_write(f, s), 0);
	fclose(f);
	assert_int_equal(recording_load(path, &rec, err, sizeof(err)), 0);
	assert_int_equal(rec.nframes, 2);
	assert_int_equal(rec.frames[1]->nsessions, 3);
	assert_string_equal(rec.frames[1]->deadlocks[0].procs[1].statement, "UPDATE t SET x = 1 WHERE id = 1");
	recording_release(&rec);
	unlink(path);
	free(path);
	snapshot_unref(s);
}

static void test_recording_errors(void **state)
{
	static const struct { const char *content, *expect; } cases[] = {
		{ "", ": no snapshots in the recording" },
		{ "{\"version\":1,\"sessions\":[]}\n{not json\n", ":2:" },
		{ "\n\n{\"version\":1,\"sessions\":[]}\n{\"version\":1,\"sessions\":{}}\n", ":4: field 'sessions'" },
		{ "{\"version\":1,\"sessions\":[]}\n[]\n", ":2: expected a JSON object" },
		{ "{\"version\":1,\"sessions\":[],\"version\":1}\n", ":1:" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *path = write_tmp(cases[i].content), err[512] = "";
		struct recording rec;

		assert_int_equal(recording_load(path, &rec, err, sizeof(err)), -1);
		assert_null(rec.frames);
		if (!strstr(err, cases[i].expect) || strncmp(err, path, strlen(path)) != 0)
			fail_msg("case %zu: '%s' does not name '%s' at '%s'", i, err, path, cases[i].expect);
		unlink(path);
		free(path);
	}
	{
		struct recording rec;
		char err[512];

		assert_int_equal(recording_load("/nonexistent/rec.jsonl", &rec, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "cannot open recording '/nonexistent/rec.jsonl'"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_from_json_errors),
		cmocka_unit_test(test_recording),
		cmocka_unit_test(test_recording_errors),
	};

	return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
