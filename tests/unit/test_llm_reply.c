/*
 * test_llm_reply: the LLM wire formats and the reply gate, without a network
 * (tests against the fake endpoints over HTTP are in test_llm). Streamed
 * replies of both providers decoded whole, byte by byte and cut anywhere;
 * truncated streams, error events and malformed events reported; whole
 * bodies; request bodies; JSON extraction from prose and code fences; every
 * validation rule of the diagnosis shape.
 */
#include "think/llm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char openai_stream[] =
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"{\\\"root_\"}}]}\n\n"
	": keep-alive\n\n"
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cause\\\": \\\"é\\\"}\"},"
	"\"finish_reason\":null}]}\n\n"
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":7}}\n\n"
	"data: [DONE]\n\n";

static const char anthropic_stream[] =
	"event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
	"\"usage\":{\"input_tokens\":88,\"output_tokens\":1}}}\r\n\r\n"
	"event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n"
	"event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
	"event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"{\\\"root_\"}}\r\n\r\n"
	"event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"cause\\\": \\\"é\\\"}\"}}\r\n\r\n"
	"event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n"
	"event: message_delta\r\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	"\"end_turn\"},\"usage\":{\"output_tokens\":9}}\r\n\r\n"
	"event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";

struct pieces {
	char buf[256];
	size_t len, n;
};

static void on_piece(void *arg, const char *t, size_t n)
{
	struct pieces *p = arg;

	assert_true(p->len + n < sizeof(p->buf));
	memcpy(p->buf + p->len, t, n);
	p->len += n;
	p->buf[p->len] = '\0';
	p->n++;
}

/* Decode s fed in pieces of `step` bytes (0: whole). */
static int decode(enum llm_provider pv, const char *s, size_t n, size_t step,
		  struct llm_stream *st, struct pieces *pc)
{
	memset(pc, 0, sizeof(*pc));
	llm_stream_init(st, pv, on_piece, pc);
	for (size_t at = 0; at < n;) {
		size_t k = step && n - at > step ? step : n - at;

		if (llm_stream_feed(st, s + at, k) < 0)
			return -1;
		at += k;
	}
	return llm_stream_finish(st);
}

static void test_streams(void **state)
{
	static const struct {
		enum llm_provider pv;
		const char *s;
		int64_t in, out;
		const char *stop;
	} cases[] = {
		{ LLM_OPENAI, openai_stream, 120, 7, "stop" },
		{ LLM_ANTHROPIC, anthropic_stream, 88, 9, "end_turn" },
	};
	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		size_t n = strlen(cases[c].s);

		for (size_t step = 0; step <= 64; step = step ? step * 2 : 1) {
			struct llm_stream st;
			struct pieces pc;

			assert_int_equal(decode(cases[c].pv, cases[c].s, n, step, &st, &pc), 0);
			assert_string_equal(st.text.buf, "{\"root_cause\": \"é\"}");
			assert_string_equal(pc.buf, st.text.buf);
			assert_int_equal(pc.n, 2);
			assert_true(st.done);
			assert_true(st.has_usage_in && st.has_usage_out);
			assert_int_equal(st.usage_in, cases[c].in);
			assert_int_equal(st.usage_out, cases[c].out);
			assert_string_equal(st.stop_reason, cases[c].stop);
			llm_stream_release(&st);
		}
		/* cut short anywhere before its end marker: truncated, never a crash */
		for (size_t cut = 0; cut + 1 < n; cut += 7) {
			struct llm_stream st;
			struct pieces pc;
			size_t end_marker = (size_t)(strstr(cases[c].s, cases[c].pv == LLM_OPENAI
									      ? "data: [DONE]"
									      : "event: message_stop") -
						     cases[c].s);

			if (cut > end_marker)
				break;
			assert_int_equal(decode(cases[c].pv, cases[c].s, cut, 5, &st, &pc), -1);
			assert_non_null(strstr(st.error, "cut before its end"));
			llm_stream_release(&st);
		}
	}
}

static void test_stream_errors(void **state)
{
	static const struct {
		enum llm_provider pv;
		const char *s;
		const char *err;
	} cases[] = {
		{ LLM_OPENAI, "data: {\"choices\": [\n\n", "malformed JSON" },
		{ LLM_OPENAI, "data: [1,2]\n\n", "not an object" },
		{ LLM_OPENAI, "data: {\"error\": {\"message\": \"context too long\"}}\n\n",
		  "context too long" },
		{ LLM_ANTHROPIC,
		  "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": "
		  "\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
		  "Overloaded" },
		{ LLM_ANTHROPIC, "event: content_block_delta\ndata: nope\n\n", "malformed JSON" },
	};
	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct llm_stream st;
		struct pieces pc;

		assert_int_equal(decode(cases[c].pv, cases[c].s, strlen(cases[c].s), 3, &st, &pc), -1);
		if (!strstr(st.error, cases[c].err))
			fail_msg("case %zu: error '%s' lacks '%s'", c, st.error, cases[c].err);
		/* refuses more input after an error */
		assert_int_equal(llm_stream_feed(&st, "data: [DONE]\n\n", 14), -1);
		llm_stream_release(&st);
	}
	/* events after the end marker are ignored */
	{
		struct llm_stream st;
		struct pieces pc;
		const char *s = "data: [DONE]\n\ndata: garbage\n\n";

		assert_int_equal(decode(LLM_OPENAI, s, strlen(s), 0, &st, &pc), 0);
		assert_int_equal(st.text.len, 0);
		llm_stream_release(&st);
	}
}

static void test_whole_replies(void **state)
{
	static const struct {
		enum llm_provider pv;
		const char *body;
		int rc;
		const char *text_or_err;
		int64_t in, out;
	} cases[] = {
		{ LLM_OPENAI,
		  "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},"
		  "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}",
		  0, "hi", 5, 1 },
		{ LLM_OPENAI, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}", 0, "x", -1, -1 },
		{ LLM_OPENAI, "{\"choices\":[]}", -1, "no choices[0].message.content", 0, 0 },
		{ LLM_OPENAI, "{\"error\":{\"message\":\"bad model\"}}", -1, "bad model", 0, 0 },
		{ LLM_OPENAI, "{\"choices\":[{\"message\":{\"content\":", -1, "not a JSON object", 0, 0 },
		{ LLM_ANTHROPIC,
		  "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"tool_use\"},"
		  "{\"type\":\"text\",\"text\":\"b\"}],\"stop_reason\":\"end_turn\","
		  "\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}",
		  0, "ab", 3, 2 },
		{ LLM_ANTHROPIC, "{\"type\":\"error\",\"error\":{\"type\":\"x\",\"message\":\"nope\"}}",
		  -1, "nope", 0, 0 },
		{ LLM_ANTHROPIC, "[]", -1, "not a JSON object", 0, 0 },
	};
	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		char err[256] = "", *text, *sr;
		int64_t in, out;
		int rc = llm_parse_response(cases[c].pv, cases[c].body, strlen(cases[c].body), &text,
					    &in, &out, &sr, err, sizeof(err));

		assert_int_equal(rc, cases[c].rc);
		if (rc == 0) {
			assert_string_equal(text, cases[c].text_or_err);
			assert_int_equal(in, cases[c].in);
			assert_int_equal(out, cases[c].out);
		} else {
			assert_null(text);
			if (!strstr(err, cases[c].text_or_err))
				fail_msg("case %zu: '%s' lacks '%s'", c, err, cases[c].text_or_err);
		}
		free(text);
		free(sr);
	}
}

static void test_request_body(void **state)
{
	struct llm_opts o;
	struct llm_request req = { "sys \"quoted\"", "user\n<<<UNTRUSTED kind=log>>>" };
	char err[256], *b;
	json_t *j;

	(void)state;
	llm_opts_defaults(&o);
	o.base_url = "http://127.0.0.1:1/v1";
	o.model = "m";
	o.api_key = "sk-secret-value-123";
	b = llm_request_body(&o, &req, err, sizeof(err));
	assert_non_null(b);
	assert_null(strstr(b, "sk-secret"));
	j = json_loads(b, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "messages"), 0), "role")),
			    "system");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "messages"), 1), "content")),
			    req.user);
	assert_true(json_is_true(json_object_get(json_object_get(j, "stream_options"),
						 "include_usage")));
	json_decref(j);
	free(b);

	o.provider = "anthropic";
	o.stream = false;
	o.temperature = -1;
	b = llm_request_body(&o, &req, err, sizeof(err));
	j = json_loads(b, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "system")), req.system);
	assert_int_equal(json_array_size(json_object_get(j, "messages")), 1);
	assert_null(json_object_get(j, "temperature"));
	assert_null(json_object_get(j, "stream"));
	assert_null(json_object_get(j, "response_format"));
	assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 1024);
	json_decref(j);
	free(b);

	/* the key inside the URL is refused */
	o.base_url = "http://127.0.0.1:1/sk-secret-value-123";
	assert_null(llm_request_body(&o, &req, err, sizeof(err)));
	assert_non_null(strstr(err, "base_url contains the API key"));
	assert_null(strstr(err, "sk-secret"));
	o.base_url = "http://x";
	o.model = "";
	assert_null(llm_request_body(&o, &req, err, sizeof(err)));
	assert_non_null(strstr(err, "no model"));
	assert_int_equal(llm_estimate_tokens(0), 0);
	assert_int_equal(llm_estimate_tokens(5), 2);
	assert_string_equal(llm_status_name(LLM_ERR_STALL), "stall");
	assert_string_equal(llm_status_name((enum llm_status)99), "unknown");
}

static void test_extract_json(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* NULL: none */
	} cases[] = {
		{ "{\"a\":1}", "{\"a\":1}" },
		{ "Sure! Here it is:\n```json\n{\"a\": {\"b\": \"}\"}}\n```\nDone.", "{\"a\": {\"b\": \"}\"}}" },
		{ "{not json} then {\"a\":[1,{\"c\":2}]} and {\"b\":2}", "{\"a\":[1,{\"c\":2}]}" },
		{ "a \"quoted { brace\" {\"x\":\"\\\"}\"}", "{\"x\":\"\\\"}\"}" },
		{ "{\"open\": ", NULL },
		{ "no braces", NULL },
		{ "}}}{", NULL },
		{ "", NULL },
	};
	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		size_t off = 0, len = 0;
		int rc = llm_extract_json(cases[c].text, strlen(cases[c].text), &off, &len);

		if (!cases[c].want) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		if (len != strlen(cases[c].want) || memcmp(cases[c].text + off, cases[c].want, len))
			fail_msg("case %zu: got '%.*s'", c, (int)len, cases[c].text + off);
	}
}

static const char *const registry[] = { "terminate_backend", "create_index", "vacuum", NULL };

static void test_diagnosis_valid(void **state)
{
	const char *t =
		"Reasoning first.\n```json\n{\"root_cause\": \"idle blocker\", \"confidence\": 1, "
		"\"hypotheses\": [{\"text\": \"b\", \"probability\": 0.2}, {\"text\": \"a\", "
		"\"probability\": 0.7}], \"proposals\": [{\"action\": \"terminate_backend\", "
		"\"params\": {\"pids\": [4711, 4712]}, \"rationale\": \"frees the lock\"}, "
		"{\"action\": \"vacuum\", \"rationale\": \"no params given\"}], \"extra\": true}\n```";
	struct llm_diagnosis d;
	char err[256];
	json_t *j;

	(void)state;
	assert_int_equal(llm_parse_diagnosis(t, strlen(t), registry, &d, err, sizeof(err)), 0);
	assert_string_equal(d.root_cause, "idle blocker");
	assert_true(d.confidence == 1.0);
	assert_int_equal(d.nhypotheses, 2);
	assert_string_equal(d.hypotheses[0].text, "a"); /* ranked */
	assert_int_equal(d.nproposals, 2);
	assert_int_equal(json_array_size(json_object_get(d.proposals[0].params, "pids")), 2);
	assert_int_equal(json_object_size(d.proposals[1].params), 0);
	j = llm_diagnosis_to_json(&d);
	assert_int_equal(json_array_size(json_object_get(j, "proposals")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "rejected")), 0);
	json_decref(j);
	llm_diagnosis_release(&d);
	/* no hypotheses or proposals at all: fine, an honest "don't know" */
	t = "{\"root_cause\": \"unclear\", \"confidence\": 0.1}";
	assert_int_equal(llm_parse_diagnosis(t, strlen(t), NULL, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nproposals + d.nhypotheses, 0);
	llm_diagnosis_release(&d);
}

static void test_diagnosis_rejected_whole(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
		{ "no json here", "no JSON object" },
		{ "{\"confidence\": 0.5}", "root_cause" },
		{ "{\"root_cause\": \"  \", \"confidence\": 0.5}", "root_cause" },
		{ "{\"root_cause\": 5, \"confidence\": 0.5}", "root_cause" },
		{ "{\"root_cause\": \"x\"}", "confidence" },
		{ "{\"root_cause\": \"x\", \"confidence\": 1.5}", "confidence" },
		{ "{\"root_cause\": \"x\", \"confidence\": -0.1}", "confidence" },
		{ "{\"root_cause\": \"x\", \"confidence\": \"high\"}", "confidence" },
		{ "{\"root_cause\": \"x\", \"confidence\": 0.5, \"hypotheses\": {}}", "hypotheses" },
		{ "{\"root_cause\": \"x\", \"confidence\": 0.5, \"proposals\": \"none\"}", "proposals" },
	};
	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct llm_diagnosis d;
		char err[256] = "";

		assert_int_equal(llm_parse_diagnosis(cases[c].text, strlen(cases[c].text), registry, &d,
						     err, sizeof(err)), -1);
		if (!strstr(err, cases[c].err))
			fail_msg("case %zu: '%s' lacks '%s'", c, err, cases[c].err);
		assert_null(d.root_cause);
		assert_null(d.rejected);
		llm_diagnosis_release(&d); /* harmless on an empty one */
	}
}

static void test_diagnosis_items_dropped(void **state)
{
	static const struct {
		const char *item;
		const char *reason;
	} cases[] = {
		{ "{\"text\": \"\", \"probability\": 0.5}", "text is missing" },
		{ "{\"text\": \"x\", \"probability\": 2}", "probability" },
		{ "{\"text\": \"x\"}", "probability" },
		{ "\"just text\"", "not an object" },
		{ "{\"action\": \"terminate_backend\", \"params\": {\"pids\": [1]}}", "rationale" },
		{ "{\"action\": \"Terminate Backend\", \"rationale\": \"r\"}", "not a registry name" },
		{ "{\"action\": \"run_sql\", \"params\": {\"sql\": \"DROP TABLE t\"}, \"rationale\": \"r\"}",
		  "'run_sql' is not in the action registry" },
		{ "{\"action\": \"create_index\", \"params\": [\"t\"], \"rationale\": \"r\"}",
		  "params is not an object" },
		{ "{\"action\": \"create_index\", \"params\": {\"table\": {\"x\": [1]}}, \"rationale\": \"r\"}",
		  "parameter 'table'" },
		{ "{\"action\": \"create_index\", \"params\": {\"table\": null}, \"rationale\": \"r\"}",
		  "parameter 'table'" },
	};
	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		char text[512], err[256];
		struct llm_diagnosis d;
		bool hyp = strstr(cases[c].item, "action") == NULL && c < 4;
		const char *reason;

		snprintf(text, sizeof(text),
			 "{\"root_cause\": \"r\", \"confidence\": 0.9, \"%s\": [%s, %s]}",
			 hyp ? "hypotheses" : "proposals", cases[c].item,
			 hyp ? "{\"text\": \"ok\", \"probability\": 0.1}"
			     : "{\"action\": \"vacuum\", \"params\": {\"table\": \"t\"}, \"rationale\": \"ok\"}");
		assert_int_equal(llm_parse_diagnosis(text, strlen(text), registry, &d, err, sizeof(err)), 0);
		/* the bad one dropped whole, the good one kept */
		assert_int_equal(hyp ? d.nhypotheses : d.nproposals, 1);
		assert_int_equal(json_array_size(d.rejected), 1);
		reason = json_string_value(json_object_get(json_array_get(d.rejected, 0), "reason"));
		if (!strstr(reason, cases[c].reason))
			fail_msg("case %zu: '%s' lacks '%s'", c, reason, cases[c].reason);
		assert_string_equal(json_string_value(json_object_get(json_array_get(d.rejected, 0),
								       "item")),
				    hyp ? "hypotheses[0]" : "proposals[0]");
		llm_diagnosis_release(&d);
	}
}

static void test_diagnosis_limits(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct llm_diagnosis d;
	char err[256];

	(void)state;
	strbuf_init(&sb, 0);
	strbuf_addstr(&sb, "{\"root_cause\": \"r\", \"confidence\": 0.9, \"proposals\": [");
	for (int i = 0; i < LLM_MAX_PROPOSALS + 3; i++)
		strbuf_addf(&sb, "%s{\"action\": \"vacuum\", \"rationale\": \"r%d\"}", i ? "," : "", i);
	strbuf_addstr(&sb, "]}");
	assert_int_equal(llm_parse_diagnosis(sb.buf, sb.len, registry, &d, err, sizeof(err)), 0);
	assert_int_equal(d.nproposals, LLM_MAX_PROPOSALS);
	assert_int_equal(json_array_size(d.rejected), 3);
	llm_diagnosis_release(&d);
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_stream_errors),
		cmocka_unit_test(test_whole_replies),
		cmocka_unit_test(test_request_body),
		cmocka_unit_test(test_extract_json),
		cmocka_unit_test(test_diagnosis_valid),
		cmocka_unit_test(test_diagnosis_rejected_whole),
		cmocka_unit_test(test_diagnosis_items_dropped),
		cmocka_unit_test(test_diagnosis_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
