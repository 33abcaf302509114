/*
 * fake-llm: the scripted LLM endpoints of tests/fakes/fake_llm.h as a
 * process of their own, for the TUI tests (tmux drives the real binary, so
 * the fake cannot live inside it).
 *
 *   fake-llm [--chunk-delay MS] [--url-file FILE] [--log FILE] BEHAVIOUR...
 *
 * Each request gets the next BEHAVIOUR: diagnosis, prose, garbage,
 * hallucinated-column, unknown-action, stall, stall-midstream, truncated,
 * malformed, 429, 5xx, or @FILE (the reply says FILE's text). The base URL
 * ("http://127.0.0.1:PORT") goes to --url-file once the server listens;
 * every request is appended to --log as one JSON line {method, url,
 * headers, body} within 100 ms of its arrival, so a test can read what left
 * cockpit while it runs. SIGTERM or SIGINT ends it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/mem.h"
#include "fakes/fake_llm.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static const struct {
	const char *name;
	enum fake_llm_behaviour b;
} names[] = {
	{ "diagnosis", FAKE_LLM_DIAGNOSIS }, { "prose", FAKE_LLM_PROSE },
	{ "garbage", FAKE_LLM_GARBAGE }, { "hallucinated-column", FAKE_LLM_HALLUCINATED_COLUMN },
	{ "unknown-action", FAKE_LLM_UNKNOWN_ACTION }, { "stall", FAKE_LLM_STALL },
	{ "stall-midstream", FAKE_LLM_STALL_MIDSTREAM }, { "truncated", FAKE_LLM_TRUNCATED },
	{ "malformed", FAKE_LLM_MALFORMED }, { "429", FAKE_LLM_429 }, { "5xx", FAKE_LLM_5XX },
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, alloc = 0, got;

	if (!f)
		return NULL;
	do {
		XGROW(buf, alloc, n + 4097);
		got = fread(buf + n, 1, 4096, f);
		n += got;
	} while (got > 0);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int usage(void)
{
	fprintf(stderr, "usage: fake-llm [--chunk-delay MS] [--url-file FILE] [--log FILE] BEHAVIOUR...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *url_file = NULL, *log_path = NULL;
	struct fake_llm *f;
	char err[256];
	int delay = -1, i;
	size_t logged = 0;
	FILE *log = NULL;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--chunk-delay") == 0)
			delay = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--url-file") == 0)
			url_file = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			log_path = argv[i + 1];
		else
			return usage();
	}
	f = fake_llm_start(err, sizeof(err));
	if (!f) {
		fprintf(stderr, "fake-llm: %s\n", err);
		return 1;
	}
	if (delay >= 0)
		fake_llm_set_chunk_delay(f, delay);
	for (; i < argc; i++) {
		size_t k;

		if (argv[i][0] == '@') {
			char *text = read_file(argv[i] + 1);

			if (!text) {
				fprintf(stderr, "fake-llm: cannot read '%s'\n", argv[i] + 1);
				fake_llm_free(f);
				return 2;
			}
			fake_llm_push_text(f, text);
			free(text);
			continue;
		}
		for (k = 0; k < sizeof(names) / sizeof(*names); k++)
			if (strcmp(argv[i], names[k].name) == 0)
				break;
		if (k == sizeof(names) / sizeof(*names)) {
			fprintf(stderr, "fake-llm: unknown behaviour '%s'\n", argv[i]);
			fake_llm_free(f);
			return 2;
		}
		fake_llm_push(f, names[k].b);
	}
	if (log_path && !(log = fopen(log_path, "a"))) {
		fprintf(stderr, "fake-llm: cannot open '%s'\n", log_path);
		fake_llm_free(f);
		return 1;
	}
	if (url_file) {
		FILE *u = fopen(url_file, "w");

		if (!u) {
			fprintf(stderr, "fake-llm: cannot write '%s'\n", url_file);
			fake_llm_free(f);
			return 1;
		}
		fprintf(u, "%s\n", fake_llm_url(f));
		fclose(u);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stopping) {
		clock_sleep_ms(100);
		for (; log && logged < fake_llm_nrequests(f); logged++) {
			struct fake_llm_request r;
			json_t *j;

			if (fake_llm_request_get(f, logged, &r) != 0)
				break;
			j = json_pack("{s:s, s:s, s:s, s:s#}", "method", r.method, "url", r.url, "headers",
				      r.headers, "body", r.body, r.body_len);
			json_dumpf(j, log, JSON_COMPACT);
			fputc('\n', log);
			fflush(log);
			json_decref(j);
			fake_llm_request_release(&r);
		}
	}
	if (log)
		fclose(log);
	fake_llm_free(f);
	return 0;
}
