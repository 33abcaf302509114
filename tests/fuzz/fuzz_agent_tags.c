/*
 * fuzz_agent_tags: libFuzzer harness for agents_parse_tags(), the parser of
 * the agent tag comments a client writes into its SQL (untrusted input: any
 * client of the server can send any statement text).
 *
 * The input, NUL-terminated (the parser sees text up to the first NUL, as it
 * does a pg_stat_activity.query), is parsed as is and inside unrelated SQL
 * (a prefix and a suffix that cannot join a comment marker). What must hold:
 *   - true exactly when agent_id is set; nothing set on false;
 *   - every value found (agent_id, task_id, step) is non-empty, at most 128
 *     bytes, and has no control character (C0 or DEL): it goes to a
 *     terminal;
 *   - the same text gives the same tags, wherever it sits in the statement.
 * ASan/UBSan/LSan catch the rest (reads past the text, leaks: every value
 * lives in the arena, released after each input).
 *
 *   make fuzz                    (all harnesses; see the Makefile)
 *   build/fuzz/fuzz_agent_tags -dict=tests/fuzz/agent_tags.dict \
 *       build/fuzz/corpus/agent_tags tests/fuzz/corpus/agent_tags
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "perceive/agents.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TAG_MAX 128

static void check_value(const char *what, const char *v)
{
	size_t n;

	if (!v)
		return;
	n = strlen(v);
	if (n == 0 || n > TAG_MAX) {
		fprintf(stderr, "fuzz_agent_tags: %s of %zu bytes\n", what, n);
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f) {
			fprintf(stderr, "fuzz_agent_tags: %s has control byte 0x%02x at %zu\n",
				what, c, i);
			abort();
		}
	}
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool parse_checked(const char *text, struct arena *a, struct agent_tags *t)
{
	bool found;

	/* garbage in, to see that the parser sets every field */
	t->agent_id = t->task_id = t->step = "garbage";
	found = agents_parse_tags(text, a, t);
	if (found != (t->agent_id != NULL))
		abort();
	if (!found && (t->task_id || t->step))
		abort();
	check_value("agent_id", t->agent_id);
	check_value("task_id", t->task_id);
	check_value("step", t->step);
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char prefix[] = "SELECT 1 ", suffix[] = " ;";
	char *text = malloc(size + 1);
	char *wrapped = malloc(sizeof(prefix) - 1 + size + sizeof(suffix));
	struct agent_tags t, w;
	struct arena a;
	bool found;

	if (!text || !wrapped)
		abort();
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	/* the text up to its first NUL, inside a statement */
	strcpy(wrapped, prefix);
	strcat(wrapped, text);
	strcat(wrapped, suffix);

	arena_init(&a);
	found = parse_checked(text, &a, &t);
	if (parse_checked(wrapped, &a, &w) != found || !str_same(t.agent_id, w.agent_id) ||
	    !str_same(t.task_id, w.task_id) || !str_same(t.step, w.step)) {
		fprintf(stderr, "fuzz_agent_tags: tags differ inside a statement\n");
		abort();
	}
	/* NULL text: nothing found */
	if (agents_parse_tags(NULL, &a, &w) || w.agent_id || w.task_id || w.step)
		abort();
	arena_release(&a);
	free(wrapped);
	free(text);
	return 0;
}
