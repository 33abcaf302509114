/*
 * bench_collector: the collector's own CPU per refresh, without any output.
 *
 *   bench_collector DSN REFRESHES [INTERVAL_MS]
 *
 * Runs the same collector the TUI runs (collector_collect: one pipelined
 * round trip, slow data on its period) REFRESHES times and prints CPU
 * milliseconds per refresh (getrusage, user + system), the wall time of the
 * round trip, and the peak RSS. `cockpit record` would add JSON encoding;
 * this measures collection alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "core/clock.h"
#include "core/config.h"
#include "perceive/collector.h"
#include "perceive/snapshot.h"

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct collector *c;
	char err[512];
	int n, interval;
	double cpu0, fast = 0;
	struct rusage ru;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_collector DSN REFRESHES [INTERVAL_MS]\n");
		return 2;
	}
	n = atoi(argv[2]);
	interval = argc > 3 ? atoi(argv[3]) : 1000;
	config_init_defaults(&cfg);
	c = collector_new(&cfg, NULL, argv[1], err, sizeof(err));
	if (!c) {
		fprintf(stderr, "bench_collector: %s\n", err);
		return 1;
	}
	/* Warm up: connect, prepare, first slow read. */
	snapshot_unref(collector_collect(c, true));
	cpu0 = cpu_ms();
	for (int i = 0; i < n; i++) {
		int64_t t0 = clock_mono_ms();
		struct snapshot *s = collector_collect(c, false);

		if (!s->connected) {
			fprintf(stderr, "bench_collector: %s\n", s->error);
			return 1;
		}
		fast += s->stats.fast_ms;
		snapshot_unref(s);
		while (clock_mono_ms() - t0 < interval)
			clock_sleep_ms(5);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("collector CPU ms per refresh             %.3f\n", (cpu_ms() - cpu0) / n);
	printf("round trip wall ms per refresh (client)  %.3f\n", fast / n);
	printf("peak RSS of the collector alone          %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
	collector_free(c);
	config_release(&cfg);
	return 0;
}
