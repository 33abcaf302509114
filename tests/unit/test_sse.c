/*
 * test_sse: the server-sent-events parser. Each stream is parsed in one
 * piece, byte by byte and cut in two at every position: the events must be
 * the same every time (a CR LF split across chunks is one line end, not two).
 * Also: comments, BOM, CR-only and LF-only line ends, multi-line data, ids,
 * retry, an event left open at the end (truncation), the size limit and a
 * callback that stops the parse.
 */
#include "think/sse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/strbuf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Events rendered as "type|id|data\n" so whole runs compare as strings. */
static int collect(void *arg, const struct sse_event *ev)
{
	struct strbuf *sb = arg;

	strbuf_addf(sb, "%s|%s|", ev->type, ev->id);
	strbuf_add(sb, ev->data, ev->data_len);
	strbuf_addch(sb, '\n');
	assert_int_equal(ev->data[ev->data_len], '\0');
	return 0;
}

static char *parse_chunks(const char *in, size_t n, const size_t *cuts, size_t ncuts, int *finish)
{
	struct strbuf out = STRBUF_INIT;
	struct sse_parser p;
	size_t at = 0;

	strbuf_init(&out, 0);
	sse_parser_init(&p, collect, &out, 0);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : n;

		assert_int_equal(sse_parser_feed(&p, in + at, end - at), 0);
		at = end;
	}
	*finish = sse_parser_finish(&p);
	sse_parser_release(&p);
	return strbuf_detach(&out, NULL);
}

static const struct {
	const char *in;
	const char *want;
	int finish;
} streams[] = {
	/* OpenAI chat completions, as sent */
	{ "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	  "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
	  "data: [DONE]\n\n",
	  "message||{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n"
	  "message||{\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n"
	  "message||[DONE]\n",
	  0 },
	/* Anthropic Messages, CR LF line ends, a ping and a comment */
	{ "event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n"
	  ": keep-alive\r\n\r\n"
	  "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
	  "event: content_block_delta\r\ndata: {\"delta\":{\"text\":\"x\"}}\r\n\r\n",
	  "message_start||{\"type\":\"message_start\"}\n"
	  "ping||{\"type\": \"ping\"}\n"
	  "content_block_delta||{\"delta\":{\"text\":\"x\"}}\n",
	  0 },
	/* CR only, multi-line data, no space after the colon, id and retry */
	{ "data:a\rdata: b\rid: 7\rretry: 300\r\r", "message|7|a\nb\n", 0 },
	/* BOM, a field without a colon, unknown fields, event type reset */
	{ "\xEF\xBB\xBF" "event: e1\nfoo: bar\ndata\n\ndata: two\n\n", "e1||\nmessage||two\n", 0 },
	/* "data: " with two spaces keeps the second */
	{ "data:  x\n\n", "message|| x\n", 0 },
	/* no data: nothing dispatched, the type is forgotten */
	{ "event: lonely\n\ndata: y\n\n", "message||y\n", 0 },
	/* truncated: the last event never ends */
	{ "data: whole\n\ndata: {\"choices\":[{\"delta\":", "message||whole\n", 1 },
	/* ends right after a data line: still not dispatched */
	{ "data: z\n", "", 1 },
	/* an id with a NUL is ignored */
	{ "id: 1\nid: a\0b\ndata: q\n\n", "message|1|q\n", 0 },
	/* nothing */
	{ "", "", 0 },
	{ "\n\n\r\n", "", 0 },
};

static size_t stream_len(size_t i)
{
	/* One stream holds a NUL byte: measure to the last character. */
	if (strstr(streams[i].in, "id: a") == streams[i].in + 6)
		return 6 + 5 + 1 + 2 + 9;
	return strlen(streams[i].in);
}

static void test_streams(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(streams); i++) {
		const char *in = streams[i].in;
		size_t n = stream_len(i);
		int fin;
		char *got = parse_chunks(in, n, NULL, 0, &fin);

		if (strcmp(got, streams[i].want) != 0)
			fail_msg("stream %zu whole:\n got  \"%s\"\n want \"%s\"", i, got, streams[i].want);
		assert_int_equal(fin, streams[i].finish);
		free(got);
		/* cut in two at every position */
		for (size_t c = 0; c <= n; c++) {
			got = parse_chunks(in, n, &c, 1, &fin);
			if (strcmp(got, streams[i].want) != 0)
				fail_msg("stream %zu cut at %zu:\n got  \"%s\"\n want \"%s\"", i, c, got,
					 streams[i].want);
			assert_int_equal(fin, streams[i].finish);
			free(got);
		}
		/* byte by byte */
		{
			size_t *cuts = calloc(n + 1, sizeof(*cuts));

			for (size_t c = 0; c < n; c++)
				cuts[c] = c + 1;
			got = parse_chunks(in, n, cuts, n ? n - 1 : 0, &fin);
			assert_string_equal(got, streams[i].want);
			assert_int_equal(fin, streams[i].finish);
			free(got);
			free(cuts);
		}
	}
}

static void test_retry_and_counts(void **state)
{
	struct sse_parser p;
	struct strbuf out = STRBUF_INIT;

	(void)state;
	strbuf_init(&out, 0);
	sse_parser_init(&p, collect, &out, 0);
	assert_int_equal(p.retry_ms, -1);
	assert_int_equal(sse_parser_feed(&p, "retry: 1500\nretry: x\ndata: a\n\ndata: b\n\n", 39), 0);
	assert_int_equal(p.retry_ms, 1500);
	assert_int_equal(p.events, 2);
	assert_int_equal(sse_parser_finish(&p), 0);
	sse_parser_release(&p);
	strbuf_release(&out);
}

static void test_limit(void **state)
{
	struct sse_parser p;
	struct strbuf out = STRBUF_INIT;
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	strbuf_init(&out, 0);
	/* a line longer than the limit */
	sse_parser_init(&p, collect, &out, 64);
	assert_int_equal(sse_parser_feed(&p, "data: ", 6), 0);
	assert_int_equal(sse_parser_feed(&p, big, sizeof(big)), -1);
	assert_non_null(p.error);
	assert_int_equal(sse_parser_feed(&p, "\n\n", 2), -1);
	assert_int_equal(sse_parser_finish(&p), -1);
	sse_parser_release(&p);
	/* an event whose lines are short but whose data adds up */
	sse_parser_init(&p, collect, &out, 64);
	for (int i = 0; i < 10; i++) {
		int rc = sse_parser_feed(&p, "data: 0123456789\n", 17);

		if (rc < 0)
			break;
		assert_true(i < 6);
	}
	assert_non_null(p.error);
	sse_parser_release(&p);
	assert_int_equal(out.len, 0);
	strbuf_release(&out);
}

static int stop_at_second(void *arg, const struct sse_event *ev)
{
	int *seen = arg;

	(void)ev;
	return ++*seen == 2 ? 42 : 0;
}

static void test_stop(void **state)
{
	struct sse_parser p;
	int seen = 0;

	(void)state;
	sse_parser_init(&p, stop_at_second, &seen, 0);
	assert_int_equal(sse_parser_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27), 42);
	assert_int_equal(seen, 2);
	sse_parser_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_retry_and_counts),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
