/*
 * Integration: the collector under faults, against a real PostgreSQL 15.
 *
 * `cockpit record` runs while the test kills the collector's own session
 * (pg_terminate_backend), restarts the server, and freezes the collector's
 * backend with SIGSTOP. The recording must show connected -> disconnected
 * (with the reason) -> connected again, never a crash or a hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "lib/testpg.h"

static pid_t start_record(const char *path, const char *duration)
{
	char cmd[2048];
	pid_t p;

	snprintf(cmd, sizeof(cmd), "exec %s record -o %s --interval 0.2 --duration %s -d '%s' 2>%s.err",
		 tp_env("COCKPIT_BIN"), path, duration, tp_monitor_dsn(), path);
	p = fork();
	if (p == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return p;
}

/* Wait until the recording holds at least one frame (the collector has
 * connected, prepared its statements and written a snapshot). */
static void wait_first_frame(const char *path)
{
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(path, "r");
		int c = f ? fgetc(f) : EOF;

		if (f)
			fclose(f);
		if (c != EOF)
			return;
		usleep(100 * 1000);
	}
	fail_msg("no snapshot recorded within 10 s");
}

static int wait_record(pid_t p, int timeout_s)
{
	int st;

	for (int i = 0; i < timeout_s * 10; i++) {
		if (waitpid(p, &st, WNOHANG) == p)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(100 * 1000);
	}
	kill(p, SIGKILL);
	waitpid(p, &st, 0);
	fail_msg("cockpit record did not finish within %d s (hung)", timeout_s);
	return -1;
}

/* Walk the recording: count transitions up -> down -> up. */
struct transitions {
	int frames, up_before, down, up_after;
	char error[512];
};

static struct transitions read_recording(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	struct transitions t = { 0 };

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		bool up;

		assert_non_null(j);
		t.frames++;
		up = json_is_true(json_object_get(j, "connected"));
		if (up && !t.down)
			t.up_before++;
		else if (!up) {
			t.down++;
			if (!t.error[0] && json_is_string(json_object_get(j, "error")))
				snprintf(t.error, sizeof(t.error), "%s", json_string_value(json_object_get(j, "error")));
		} else if (t.down)
			t.up_after++;
		json_decref(j);
	}
	free(line);
	fclose(f);
	return t;
}

static void terminate_cockpit(PGconn *c)
{
	tp_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cockpit'");
}

static void test_terminate_own_session(void **state)
{
	char path[] = "/tmp/cockpit-fault-XXXXXX";
	int fd = mkstemp(path);
	PGconn *c = tp_connect("test-faults");
	pid_t p;
	struct transitions t;

	(void)state;
	close(fd);
	p = start_record(path, "4");
	assert_true(tp_wait(c, "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'cockpit')", 5000));
	wait_first_frame(path);
	terminate_cockpit(c);
	assert_int_equal(wait_record(p, 30), 0);
	t = read_recording(path);
	assert_true(t.up_before >= 1);
	assert_true(t.down >= 1);
	assert_true(t.up_after >= 1);
	assert_non_null(strstr(t.error, "terminat"));
	PQfinish(c);
	unlink(path);
}

static void test_server_restart(void **state)
{
	char path[] = "/tmp/cockpit-fault-XXXXXX", cmd[1024];
	int fd = mkstemp(path);
	PGconn *c = tp_connect("test-faults");
	pid_t p;
	struct transitions t;

	(void)state;
	close(fd);
	p = start_record(path, "8");
	assert_true(tp_wait(c, "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'cockpit')", 5000));
	PQfinish(c);
	wait_first_frame(path);
	snprintf(cmd, sizeof(cmd), "sh %s/tests/lib/pgcluster.sh restart %s", tp_env("COCKPIT_TOP"),
		 tp_env("COCKPIT_TEST_DIR"));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(wait_record(p, 40), 0);
	t = read_recording(path);
	assert_true(t.up_before >= 1);
	assert_true(t.down >= 1);
	assert_true(t.up_after >= 1);
	unlink(path);
}

static void test_hung_backend(void **state)
{
	char path[] = "/tmp/cockpit-fault-XXXXXX";
	int fd = mkstemp(path), backend = 0;
	PGconn *c = tp_connect("test-faults");
	PGresult *r;
	pid_t p;
	struct transitions t;
	int64_t t0;

	(void)state;
	close(fd);
	p = start_record(path, "12");
	assert_true(tp_wait(c, "EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'cockpit')", 5000));
	wait_first_frame(path);
	r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE application_name = 'cockpit' LIMIT 1");
	assert_int_equal(PQntuples(r), 1);
	backend = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	/* Freeze the collector's backend: the collector must give up on it
	 * within its bounded wait and reconnect on a fresh backend. */
	assert_int_equal(kill(backend, SIGSTOP), 0);
	t0 = clock_mono_ms();
	assert_int_equal(wait_record(p, 60), 0);
	kill(backend, SIGCONT);
	t = read_recording(path);
	assert_true(t.up_before >= 1);
	assert_true(t.down >= 1);
	assert_true(t.up_after >= 1);
	assert_non_null(strstr(t.error, "no answer from the server"));
	assert_true(clock_mono_ms() - t0 < 20000);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terminate_own_session),
		cmocka_unit_test(test_hung_backend),
		cmocka_unit_test(test_server_restart),
	};

	return cmocka_run_group_tests_name("collector_faults", tests, NULL, NULL);
}
