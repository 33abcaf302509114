/*
 * bench_load: the standing load benchmarks measure under.
 *
 *   bench_load DSN N_IDLE [--chain]
 *
 * Opens N_IDLE connections that each run one agent-tagged statement and then
 * sit idle (application_name agent-pool-K, tags in both comment forms), and
 * with --chain holds a three-level lock chain (a root idle in transaction,
 * a waiter, a waiter behind it) on table bench_chain. Runs until SIGTERM or
 * SIGINT, then closes everything. Not a benchmark itself: the load the
 * collector and the peers are measured against.
 */
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static PGconn *connect_as(const char *dsn, const char *app)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { dsn, app, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_load: %s", PQerrorMessage(c));
		exit(1);
	}
	return c;
}

static void run(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench_load: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

int main(int argc, char **argv)
{
	PGconn **conns, *root = NULL, *w1 = NULL, *w2 = NULL;
	int n;
	char app[64], sql[256];

	if (argc < 3) {
		fprintf(stderr, "usage: bench_load DSN N_IDLE [--chain]\n");
		return 2;
	}
	n = atoi(argv[2]);
	conns = calloc((size_t)(n > 0 ? n : 1), sizeof(*conns));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (int i = 0; i < n; i++) {
		snprintf(app, sizeof(app), "agent-pool-%d", i % 10);
		conns[i] = connect_as(argv[1], app);
		if (i % 2)
			snprintf(sql, sizeof(sql), "/* agent_id=pool-%d, task_id=T-%d, step=1 */ SELECT %d", i % 10, i, i);
		else
			snprintf(sql, sizeof(sql), "SELECT %d /*agent_id='pool-%d',task_id='T-%d'*/", i, i % 10, i);
		run(conns[i], sql);
	}
	if (argc > 3 && strcmp(argv[3], "--chain") == 0) {
		PGconn *setup = connect_as(argv[1], "bench-setup");

		run(setup, "DROP TABLE IF EXISTS bench_chain; CREATE TABLE bench_chain (id int PRIMARY KEY, v int);"
			   "INSERT INTO bench_chain VALUES (1, 0)");
		PQfinish(setup);
		root = connect_as(argv[1], "bench-chain-root");
		w1 = connect_as(argv[1], "bench-chain-w1");
		w2 = connect_as(argv[1], "bench-chain-w2");
		run(root, "BEGIN; UPDATE bench_chain SET v = 1 WHERE id = 1");
		PQsendQuery(w1, "UPDATE bench_chain SET v = 2 WHERE id = 1");
		sleep(1);
		PQsendQuery(w2, "UPDATE bench_chain SET v = 3 WHERE id = 1");
	}
	printf("ready\n");
	fflush(stdout);
	while (!done)
		pause();
	if (root) {
		run(root, "ROLLBACK");
		PQfinish(root);
		PQfinish(w1);
		PQfinish(w2);
	}
	for (int i = 0; i < n; i++)
		PQfinish(conns[i]);
	free(conns);
	return 0;
}
