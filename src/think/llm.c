/*
 * llm: the provider client (libcurl, streamed or not) and the gate on what
 * its replies may contain; the design is at the top of llm.h.
 *
 * Layout: wire formats (request bodies, streamed and whole replies) first,
 * then the HTTP attempt and the retry loop, then the diagnosis parser.
 */
#include "think/llm.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "core/clock.h"
#include "core/mem.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A reply body we keep whole (non-streamed, or an error body). */
#define LLM_MAX_BODY ((size_t)8 << 20)
/* Server text quoted in an error message. */
#define LLM_ERR_QUOTE 200

const char llm_reply_schema[] =
	"Answer with one JSON object and nothing else: {\"root_cause\": string, "
	"\"confidence\": number 0..1, \"hypotheses\": [{\"text\": string, \"probability\": "
	"number 0..1}], \"proposals\": [{\"action\": one of the listed registry actions, "
	"\"params\": {name: value}, \"rationale\": string}]}. Propose only "
	"listed actions with parameters taken from the evidence; when unsure, propose nothing "
	"and say so in root_cause with a low confidence.";

static const char *const status_names[] = {
	"ok", "config", "budget", "connect", "timeout", "stall", "cancelled", "auth",
	"rate_limit", "http", "truncated", "protocol",
};

const char *llm_status_name(enum llm_status s)
{
	return (unsigned)s < ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

void llm_opts_defaults(struct llm_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->provider = "openai";
	o->connect_timeout_ms = 5000;
	o->first_byte_timeout_ms = 30000;
	o->idle_timeout_ms = 15000;
	o->total_timeout_ms = 120000;
	o->max_tokens = 1024;
	o->temperature = 0.2;
	o->stream = true;
	o->json_mode = true;
	o->retries = 2;
	o->retry_after_cap_ms = 20000;
	o->backoff_ms = 500;
	o->backoff_cap_ms = 8000;
}

int64_t llm_estimate_tokens(size_t bytes)
{
	return (int64_t)((bytes + 3) / 4);
}

int llm_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void llm_global_cleanup(void)
{
	curl_global_cleanup();
}

static int provider_of(const char *name, enum llm_provider *p)
{
	if (!name || !*name || strcmp(name, "openai") == 0)
		*p = LLM_OPENAI;
	else if (strcmp(name, "anthropic") == 0)
		*p = LLM_ANTHROPIC;
	else
		return -1;
	return 0;
}

static const char *provider_label(enum llm_provider p)
{
	return p == LLM_ANTHROPIC ? "anthropic" : "openai";
}

/* ---- request bodies ------------------------------------------------------- */

static json_t *build_body(const struct llm_opts *o, enum llm_provider p,
			  const struct llm_request *req, bool json_mode)
{
	json_t *body = json_object(), *msgs = json_array();

	json_object_set_new(body, "model", json_string(o->model));
	if (p == LLM_ANTHROPIC) {
		json_object_set_new(body, "max_tokens", json_integer(o->max_tokens));
		if (req->system && *req->system)
			json_object_set_new(body, "system", json_string(req->system));
	} else {
		json_t *m = json_object();

		json_object_set_new(body, "max_tokens", json_integer(o->max_tokens));
		json_object_set_new(m, "role", json_string("system"));
		json_object_set_new(m, "content", json_string(req->system ? req->system : ""));
		json_array_append_new(msgs, m);
	}
	{
		json_t *m = json_object();

		json_object_set_new(m, "role", json_string("user"));
		json_object_set_new(m, "content", json_string(req->user ? req->user : ""));
		json_array_append_new(msgs, m);
	}
	json_object_set_new(body, "messages", msgs);
	if (o->temperature >= 0)
		json_object_set_new(body, "temperature", json_real(o->temperature));
	if (p == LLM_OPENAI && json_mode) {
		json_t *rf = json_object();

		json_object_set_new(rf, "type", json_string("json_object"));
		json_object_set_new(body, "response_format", rf);
	}
	if (o->stream) {
		json_object_set_new(body, "stream", json_true());
		if (p == LLM_OPENAI) {
			json_t *so = json_object();

			json_object_set_new(so, "include_usage", json_true());
			json_object_set_new(body, "stream_options", so);
		}
	}
	return body;
}

static int check_opts(const struct llm_opts *o, const struct llm_request *req,
		      enum llm_provider *p, char *err, size_t errlen)
{
	if (provider_of(o->provider, p) < 0) {
		snprintf(err, errlen, "llm: unknown provider '%s' (use openai or anthropic)", o->provider);
		return -1;
	}
	if (!o->base_url || strncmp(o->base_url, "http", 4) != 0 ||
	    (strncmp(o->base_url, "http://", 7) != 0 && strncmp(o->base_url, "https://", 8) != 0)) {
		snprintf(err, errlen, "llm: base_url '%s' is not an http(s) URL (set llm.base_url)",
			 o->base_url ? o->base_url : "");
		return -1;
	}
	if (!o->model || !*o->model) {
		snprintf(err, errlen, "llm: no model for %s (set llm.model)", o->base_url);
		return -1;
	}
	if (o->max_tokens <= 0) {
		snprintf(err, errlen, "llm: max_tokens must be positive (got %d)", o->max_tokens);
		return -1;
	}
	if (o->api_key && strpbrk(o->api_key, "\r\n")) {
		snprintf(err, errlen, "llm: the API key holds a line break (check the variable "
				      "api_key_env names)");
		return -1;
	}
	if (o->api_key && strlen(o->api_key) >= 4 && strstr(o->base_url, o->api_key)) {
		snprintf(err, errlen, "llm: base_url contains the API key: keep it only in the "
				      "environment variable api_key_env names");
		return -1;
	}
	if (!req || !req->user) {
		snprintf(err, errlen, "llm: empty request");
		return -1;
	}
	return 0;
}

char *llm_request_body(const struct llm_opts *o, const struct llm_request *req, char *err,
		       size_t errlen)
{
	enum llm_provider p;
	json_t *body;
	char *s;

	if (check_opts(o, req, &p, err, errlen) < 0)
		return NULL;
	body = build_body(o, p, req, o->json_mode);
	s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (!s)
		snprintf(err, errlen, "llm: cannot encode the request (text not valid UTF-8?)");
	return s;
}

/* ---- streamed replies ------------------------------------------------------ */

static void stream_error(struct llm_stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void stream_error(struct llm_stream *s, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (s->error)
		return;
	strbuf_init(&sb, 0);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	s->error = strbuf_detach(&sb, NULL);
}

static void stream_text(struct llm_stream *s, const char *t, size_t n)
{
	if (!n)
		return;
	strbuf_add(&s->text, t, n);
	s->chunks++;
	if (s->on_chunk)
		s->on_chunk(s->arg, t, n);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

static bool get_int(json_t *o, const char *key, int64_t *v)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return false;
	*v = json_integer_value(x);
	return true;
}

static const char *error_message(json_t *root)
{
	json_t *e = json_object_get(root, "error");
	const char *m;

	if (json_is_string(e))
		return json_string_value(e);
	m = json_string_value(json_object_get(e, "message"));
	return m ? m : (e ? "error without a message" : NULL);
}

static int stream_openai(struct llm_stream *s, json_t *j)
{
	json_t *choices = json_object_get(j, "choices"), *usage = json_object_get(j, "usage");
	const char *em = error_message(j);

	if (em) {
		stream_error(s, "the server sent an error in the stream: %.*s", LLM_ERR_QUOTE, em);
		return -1;
	}
	if (json_is_array(choices) && json_array_size(choices) > 0) {
		json_t *c0 = json_array_get(choices, 0);
		json_t *content = json_object_get(json_object_get(c0, "delta"), "content");
		const char *fr = json_string_value(json_object_get(c0, "finish_reason"));

		if (json_is_string(content))
			stream_text(s, json_string_value(content), json_string_length(content));
		if (fr)
			set_str(&s->stop_reason, fr);
	}
	if (json_is_object(usage)) {
		s->has_usage_in |= get_int(usage, "prompt_tokens", &s->usage_in);
		s->has_usage_out |= get_int(usage, "completion_tokens", &s->usage_out);
	}
	return 0;
}

static int stream_anthropic(struct llm_stream *s, const char *event, json_t *j)
{
	const char *type = json_string_value(json_object_get(j, "type"));

	if (!type)
		type = event;
	if (strcmp(type, "error") == 0) {
		const char *em = error_message(j);

		stream_error(s, "the server sent an error in the stream: %.*s", LLM_ERR_QUOTE,
			     em ? em : "(no message)");
		return -1;
	}
	if (strcmp(type, "message_start") == 0) {
		json_t *u = json_object_get(json_object_get(j, "message"), "usage");

		s->has_usage_in |= get_int(u, "input_tokens", &s->usage_in);
		s->has_usage_out |= get_int(u, "output_tokens", &s->usage_out);
	} else if (strcmp(type, "content_block_delta") == 0) {
		json_t *d = json_object_get(j, "delta");
		json_t *t = json_object_get(d, "text");
		const char *dt = json_string_value(json_object_get(d, "type"));

		if (json_is_string(t) && (!dt || strcmp(dt, "text_delta") == 0))
			stream_text(s, json_string_value(t), json_string_length(t));
	} else if (strcmp(type, "message_delta") == 0) {
		const char *sr = json_string_value(
			json_object_get(json_object_get(j, "delta"), "stop_reason"));

		s->has_usage_out |= get_int(json_object_get(j, "usage"), "output_tokens",
					    &s->usage_out);
		if (sr)
			set_str(&s->stop_reason, sr);
	} else if (strcmp(type, "message_stop") == 0) {
		s->done = true;
	}
	return 0;
}

static int on_sse(void *arg, const struct sse_event *ev)
{
	struct llm_stream *s = arg;
	json_error_t je;
	json_t *j;
	int rc;

	if (s->done)
		return 0; /* anything after the end marker is ignored */
	if (s->provider == LLM_OPENAI && ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		s->done = true;
		return 0;
	}
	if (s->provider == LLM_ANTHROPIC && strcmp(ev->type, "ping") == 0)
		return 0;
	j = json_loadb(ev->data, ev->data_len, 0, &je);
	if (!json_is_object(j)) {
		stream_error(s, "malformed JSON in streamed event %zu (%s at byte %d)",
			     (size_t)s->sse.events, j ? "not an object" : je.text, j ? 0 : je.position);
		json_decref(j);
		return -1;
	}
	rc = s->provider == LLM_OPENAI ? stream_openai(s, j) : stream_anthropic(s, ev->type, j);
	json_decref(j);
	return rc;
}

void llm_stream_init(struct llm_stream *s, enum llm_provider p, llm_chunk_fn fn, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->provider = p;
	s->on_chunk = fn;
	s->arg = arg;
	strbuf_init(&s->text, 0);
	sse_parser_init(&s->sse, on_sse, s, 0);
}

void llm_stream_release(struct llm_stream *s)
{
	sse_parser_release(&s->sse);
	strbuf_release(&s->text);
	free(s->stop_reason);
	free(s->error);
	s->stop_reason = s->error = NULL;
}

int llm_stream_feed(struct llm_stream *s, const void *buf, size_t len)
{
	int rc;

	if (s->error)
		return -1;
	rc = sse_parser_feed(&s->sse, buf, len);
	if (rc == -1 && !s->error)
		stream_error(s, "%s", s->sse.error ? s->sse.error : "bad event stream");
	return s->error ? -1 : 0;
}

int llm_stream_finish(struct llm_stream *s)
{
	int rc;

	if (s->error)
		return -1;
	rc = sse_parser_finish(&s->sse);
	if (s->error)
		return -1;
	if (rc < 0) {
		stream_error(s, "%s", s->sse.error ? s->sse.error : "bad event stream");
		return -1;
	}
	if (!s->done) {
		stream_error(s, "the stream was cut before its end (%s not seen, %zu bytes of text "
				"received)",
			     s->provider == LLM_OPENAI ? "data: [DONE]" : "message_stop", s->text.len);
		return -1;
	}
	return 0;
}

/* ---- whole replies -------------------------------------------------------- */

int llm_parse_response(enum llm_provider p, const char *body, size_t len, char **text,
		       int64_t *in, int64_t *out, char **stop_reason, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je), *usage;
	struct strbuf sb = STRBUF_INIT;
	const char *em;

	*text = NULL;
	*stop_reason = NULL;
	*in = *out = -1;
	if (!json_is_object(j)) {
		snprintf(err, errlen, "the reply is not a JSON object (%s at byte %d)",
			 j ? "another JSON value" : je.text, j ? 0 : je.position);
		json_decref(j);
		return -1;
	}
	if ((em = error_message(j))) {
		snprintf(err, errlen, "the server answered with an error: %.*s", LLM_ERR_QUOTE, em);
		json_decref(j);
		return -1;
	}
	strbuf_init(&sb, 0);
	if (p == LLM_OPENAI) {
		json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
		json_t *content = json_object_get(json_object_get(c0, "message"), "content");
		const char *fr = json_string_value(json_object_get(c0, "finish_reason"));

		if (!json_is_string(content)) {
			snprintf(err, errlen, "the reply has no choices[0].message.content string");
			goto fail;
		}
		strbuf_add(&sb, json_string_value(content), json_string_length(content));
		if (fr)
			*stop_reason = xstrdup(fr);
		usage = json_object_get(j, "usage");
		get_int(usage, "prompt_tokens", in);
		get_int(usage, "completion_tokens", out);
	} else {
		json_t *content = json_object_get(j, "content"), *blk;
		const char *sr = json_string_value(json_object_get(j, "stop_reason"));
		size_t i;

		if (!json_is_array(content)) {
			snprintf(err, errlen, "the reply has no content array");
			goto fail;
		}
		json_array_foreach(content, i, blk) {
			json_t *t = json_object_get(blk, "text");
			const char *type = json_string_value(json_object_get(blk, "type"));

			if (type && strcmp(type, "text") == 0 && json_is_string(t))
				strbuf_add(&sb, json_string_value(t), json_string_length(t));
		}
		if (sr)
			*stop_reason = xstrdup(sr);
		usage = json_object_get(j, "usage");
		get_int(usage, "input_tokens", in);
		get_int(usage, "output_tokens", out);
	}
	json_decref(j);
	*text = strbuf_detach(&sb, NULL);
	return 0;
fail:
	strbuf_release(&sb);
	json_decref(j);
	return -1;
}

/* ---- HTTP ------------------------------------------------------------------ */

struct attempt {
	const struct llm_opts *o;
	enum llm_provider p;
	const struct llm_call *call;
	bool stream_mode;          /* body is text/event-stream: decode as it comes */
	bool mode_known;
	struct llm_stream st;
	struct strbuf body;        /* non-stream body, or an error body */
	bool body_overflow;
	long http_status;
	int64_t retry_after_ms;    /* -1 none */
	int64_t start_ms, last_rx_ms, first_body_ms, first_text_ms;
	int64_t call_start_ms;
	bool cancelled;
	CURL *h;
};

static bool cancel_requested(const struct llm_call *call)
{
	return call && call->cancel && atomic_load(call->cancel);
}

static int64_t parse_retry_after(const char *v, size_t n, bool ms_header)
{
	char buf[64];
	char *end;
	double secs;
	time_t t;

	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	while (n && *v == ' ')
		v++, n--;
	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	errno = 0;
	secs = strtod(buf, &end);
	if (end != buf && *end == '\0' && errno == 0 && secs >= 0 && secs < 1e7)
		return ms_header ? (int64_t)secs : (int64_t)(secs * 1000.0);
	if (ms_header)
		return -1;
	t = curl_getdate(buf, NULL);
	if (t < 0)
		return -1;
	{
		int64_t d = ((int64_t)t * 1000) - clock_wall_us() / 1000;

		return d > 0 ? d : 0;
	}
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct attempt *a = arg;
	size_t n = size * nmemb;

	a->last_rx_ms = clock_mono_ms();
	if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0 && a->retry_after_ms < 0)
		a->retry_after_ms = parse_retry_after(data + 12, n - 12, false);
	else if (n > 15 && strncasecmp(data, "retry-after-ms:", 15) == 0)
		a->retry_after_ms = parse_retry_after(data + 15, n - 15, true);
	else if (n > 5 && strncmp(data, "HTTP/", 5) == 0)
		a->retry_after_ms = -1; /* a new response (after a 100 Continue) */
	return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct attempt *a = arg;
	size_t n = size * nmemb;
	int64_t now = clock_mono_ms();

	a->last_rx_ms = now;
	if (a->first_body_ms < 0)
		a->first_body_ms = now;
	if (!a->mode_known) {
		char *ct = NULL;

		curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &a->http_status);
		curl_easy_getinfo(a->h, CURLINFO_CONTENT_TYPE, &ct);
		a->stream_mode = a->http_status == 200 && ct &&
				 strncasecmp(ct, "text/event-stream", 17) == 0;
		a->mode_known = true;
	}
	if (a->stream_mode) {
		size_t before = a->st.chunks;

		if (llm_stream_feed(&a->st, data, n) < 0)
			return 0; /* aborts the transfer; the error is in st.error */
		if (a->st.chunks > before && a->first_text_ms < 0)
			a->first_text_ms = now;
		return n;
	}
	if (a->body.len + n > LLM_MAX_BODY) {
		a->body_overflow = true;
		return 0;
	}
	strbuf_add(&a->body, data, n);
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct attempt *a = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (cancel_requested(a->call)) {
		a->cancelled = true;
		return 1;
	}
	return 0;
}

/* Remove every copy of the key from s (server text quoted in errors). */
static void scrub_key(char *s, const char *key)
{
	size_t kl = key ? strlen(key) : 0;
	char *p;

	if (kl < 4 || !s)
		return;
	while ((p = strstr(s, key))) {
		static const char mask[] = "[secret]";
		size_t ml = sizeof(mask) - 1;

		if (kl >= ml) {
			memcpy(p, mask, ml);
			memmove(p + ml, p + kl, strlen(p + kl) + 1);
		} else {
			memset(p, '*', kl);
		}
	}
}

static void res_error(struct llm_result *res, enum llm_status st, const char *key,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void res_error(struct llm_result *res, enum llm_status st, const char *key,
		      const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	strbuf_init(&sb, 0);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	free(res->error);
	res->error = strbuf_detach(&sb, NULL);
	scrub_key(res->error, key);
	res->status = st;
}

/* What happened in one attempt, for the retry loop. */
enum outcome { OUT_DONE, OUT_RETRY, OUT_FAIL };

static void quote_body(struct strbuf *dst, const struct strbuf *body)
{
	json_t *j = json_loadb(body->buf, body->len, 0, NULL);
	const char *m = j ? error_message(j) : NULL;

	if (m)
		strbuf_addf(dst, ": %.*s", LLM_ERR_QUOTE, m);
	else if (body->len) {
		strbuf_addstr(dst, ": ");
		for (size_t i = 0; i < body->len && i < LLM_ERR_QUOTE; i++)
			strbuf_addch(dst, isprint((unsigned char)body->buf[i]) ? body->buf[i] : ' ');
	}
	json_decref(j);
}

static enum outcome run_attempt(const struct llm_opts *o, enum llm_provider p,
				const struct llm_call *call, const char *body, size_t body_len,
				int64_t call_start_ms, int64_t deadline_ms, bool *json_mode_refused,
				struct llm_result *res, int64_t *retry_hint_ms)
{
	struct attempt a;
	struct curl_slist *hdrs = NULL;
	struct strbuf url = STRBUF_INIT, auth = STRBUF_INIT, msg = STRBUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLM *m = NULL;
	CURLcode cc = CURLE_OK;
	enum outcome out = OUT_FAIL;
	int running = 1;
	enum llm_status abort_st = LLM_OK;
	const char *key = o->api_key;
	int64_t now;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.p = p;
	a.call = call;
	a.retry_after_ms = -1;
	a.call_start_ms = call_start_ms;
	a.first_body_ms = a.first_text_ms = -1;
	a.start_ms = a.last_rx_ms = clock_mono_ms();
	strbuf_init(&a.body, 0);
	llm_stream_init(&a.st, p, call ? call->on_chunk : NULL, call ? call->arg : NULL);
	*retry_hint_ms = -1;

	strbuf_init(&url, 0);
	strbuf_addstr(&url, o->base_url);
	while (url.len && url.buf[url.len - 1] == '/')
		url.buf[--url.len] = '\0';
	strbuf_addstr(&url, p == LLM_ANTHROPIC ? "/v1/messages" : "/chat/completions");

	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, o->stream ? "Accept: text/event-stream"
						 : "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	strbuf_init(&auth, 0);
	if (key && *key) {
		strbuf_addf(&auth, p == LLM_ANTHROPIC ? "x-api-key: %s" : "Authorization: Bearer %s", key);
		hdrs = curl_slist_append(hdrs, auth.buf);
	}
	if (p == LLM_ANTHROPIC)
		hdrs = curl_slist_append(hdrs, "anthropic-version: 2023-06-01");

	a.h = curl_easy_init();
	m = curl_multi_init();
	if (!a.h || !m || !hdrs) {
		res_error(res, LLM_ERR_CONFIG, key, "llm: cannot set up libcurl (out of memory?)");
		goto cleanup;
	}
	curl_easy_setopt(a.h, CURLOPT_URL, url.buf);
	curl_easy_setopt(a.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a.h, CURLOPT_POST, 1L);
	curl_easy_setopt(a.h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(a.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(a.h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(a.h, CURLOPT_USERAGENT, "cockpit");
	curl_easy_setopt(a.h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(a.h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	curl_easy_setopt(a.h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(a.h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(a.h, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(a.h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(a.h, CURLOPT_HEADERDATA, &a);
	curl_easy_setopt(a.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(a.h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(a.h, CURLOPT_XFERINFODATA, &a);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(a.h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_multi_add_handle(m, a.h);

	res->attempts++;
	while (running) {
		CURLMcode mc = curl_multi_perform(m, &running);

		if (mc != CURLM_OK) {
			res_error(res, LLM_ERR_CONNECT, key, "llm: %s at %s: %s", provider_label(p),
				  url.buf, curl_multi_strerror(mc));
			goto cleanup;
		}
		if (!running)
			break;
		now = clock_mono_ms();
		if (a.cancelled || cancel_requested(call)) {
			abort_st = LLM_ERR_CANCELLED;
			break;
		}
		if (now >= deadline_ms) {
			abort_st = LLM_ERR_TIMEOUT;
			break;
		}
		if (o->stream && a.first_body_ms < 0 && o->first_byte_timeout_ms > 0 &&
		    now - a.start_ms >= o->first_byte_timeout_ms) {
			abort_st = LLM_ERR_TIMEOUT;
			break;
		}
		if (o->stream && a.first_body_ms >= 0 && o->idle_timeout_ms > 0 &&
		    now - a.last_rx_ms >= o->idle_timeout_ms) {
			abort_st = LLM_ERR_STALL;
			break;
		}
		curl_multi_poll(m, NULL, 0, 20, NULL);
	}
	if (!abort_st) {
		int left;
		CURLMsg *cm;

		while ((cm = curl_multi_info_read(m, &left)))
			if (cm->msg == CURLMSG_DONE)
				cc = cm->data.result;
		if (a.cancelled)
			abort_st = LLM_ERR_CANCELLED;
	}
	curl_easy_getinfo(a.h, CURLINFO_RESPONSE_CODE, &a.http_status);
	res->http_status = a.http_status;
	now = clock_mono_ms();

	/* What the caller saw streamed stays in the result, even after a failure. */
	if (a.stream_mode) {
		free(res->text);
		res->text = xstrndup(a.st.text.buf, a.st.text.len);
		if (a.first_text_ms >= 0 && res->first_token_ms < 0)
			res->first_token_ms = a.first_text_ms - a.call_start_ms;
	}
	strbuf_init(&msg, 0);
	switch (abort_st) {
	case LLM_ERR_CANCELLED:
		res_error(res, LLM_ERR_CANCELLED, key, "llm: request to %s cancelled", url.buf);
		goto cleanup;
	case LLM_ERR_TIMEOUT:
		if (now >= deadline_ms)
			res_error(res, LLM_ERR_TIMEOUT, key,
				  "llm: %s at %s gave no complete reply within %d ms (llm total "
				  "timeout); the rules' proposals stand",
				  provider_label(p), url.buf, o->total_timeout_ms);
		else
			res_error(res, LLM_ERR_TIMEOUT, key,
				  "llm: %s at %s sent nothing for %d ms (first byte timeout); the "
				  "endpoint may be overloaded or hung",
				  provider_label(p), url.buf, o->first_byte_timeout_ms);
		goto cleanup;
	case LLM_ERR_STALL:
		res_error(res, LLM_ERR_STALL, key,
			  "llm: the stream from %s stalled: nothing for %d ms after %zu bytes of text "
			  "(idle timeout)",
			  url.buf, o->idle_timeout_ms, a.st.text.len);
		goto cleanup;
	default:
		break;
	}
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && (a.st.error || a.body_overflow))) {
		enum llm_status st = LLM_ERR_CONNECT;

		if (cc == CURLE_OPERATION_TIMEDOUT)
			st = LLM_ERR_TIMEOUT;
		else if (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR ||
			 cc == CURLE_GOT_NOTHING)
			st = a.first_body_ms >= 0 ? LLM_ERR_TRUNCATED : LLM_ERR_CONNECT;
		if (st == LLM_ERR_TRUNCATED && a.stream_mode && !a.st.error) {
			/* Report it as the stream decoder sees it. */
			llm_stream_finish(&a.st);
		}
		res_error(res, st, key, "llm: %s at %s: %s%s%s", provider_label(p), url.buf,
			  errbuf[0] ? errbuf : curl_easy_strerror(cc),
			  a.st.error ? "; " : "", a.st.error ? a.st.error : "");
		if (st == LLM_ERR_CONNECT && a.st.chunks == 0)
			out = OUT_RETRY;
		goto cleanup;
	}
	if (a.body_overflow) {
		res_error(res, LLM_ERR_PROTOCOL, key, "llm: the reply from %s is larger than %zu bytes",
			  url.buf, LLM_MAX_BODY);
		goto cleanup;
	}
	if (a.http_status != 200) {
		strbuf_addf(&msg, "llm: %s at %s answered HTTP %ld", provider_label(p), url.buf,
			    a.http_status);
		quote_body(&msg, &a.body);
		*retry_hint_ms = a.retry_after_ms;
		if (a.http_status == 429) {
			res_error(res, LLM_ERR_RATE_LIMIT, key, "%s (rate limited)", msg.buf);
			out = OUT_RETRY;
		} else if (a.http_status >= 500 || a.http_status == 529 || a.http_status == 408) {
			res_error(res, LLM_ERR_HTTP, key, "%s (server error)", msg.buf);
			out = OUT_RETRY;
		} else if (a.http_status == 401 || a.http_status == 403) {
			res_error(res, LLM_ERR_AUTH, key,
				  "%s (the API key was refused: check the variable api_key_env names)",
				  msg.buf);
		} else {
			res_error(res, LLM_ERR_HTTP, key, "%s", msg.buf);
			if (a.http_status == 400 && !*json_mode_refused && o->json_mode &&
			    p == LLM_OPENAI && memmem(a.body.buf, a.body.len, "response_format", 15)) {
				*json_mode_refused = true;
				out = OUT_RETRY;
			}
		}
		goto cleanup;
	}
	if (a.stream_mode) {
		if (llm_stream_finish(&a.st) < 0) {
			bool cut = a.st.error && strstr(a.st.error, "cut before its end");

			res_error(res, cut ? LLM_ERR_TRUNCATED : LLM_ERR_PROTOCOL, key,
				  "llm: %s at %s: %s", provider_label(p), url.buf, a.st.error);
			goto cleanup;
		}
		free(res->text);
		res->text = xstrndup(a.st.text.buf, a.st.text.len);
		free(res->stop_reason);
		res->stop_reason = a.st.stop_reason ? xstrdup(a.st.stop_reason) : NULL;
		res->tokens_in = a.st.has_usage_in ? a.st.usage_in : -1;
		res->tokens_out = a.st.has_usage_out ? a.st.usage_out : -1;
	} else {
		char err[256], *text, *sr;
		int64_t in, outk;

		if (llm_parse_response(p, a.body.buf, a.body.len, &text, &in, &outk, &sr, err,
				       sizeof(err)) < 0) {
			res_error(res, LLM_ERR_PROTOCOL, key, "llm: %s at %s: %s", provider_label(p),
				  url.buf, err);
			goto cleanup;
		}
		free(res->text);
		res->text = text;
		free(res->stop_reason);
		res->stop_reason = sr;
		res->tokens_in = in;
		res->tokens_out = outk;
		if (res->first_token_ms < 0 && *text)
			res->first_token_ms = now - a.call_start_ms;
	}
	res->status = LLM_OK;
	free(res->error);
	res->error = NULL;
	out = OUT_DONE;
cleanup:
	if (m && a.h)
		curl_multi_remove_handle(m, a.h);
	if (a.h)
		curl_easy_cleanup(a.h);
	if (m)
		curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	if (auth.alloc)
		explicit_bzero(auth.buf, auth.alloc);
	strbuf_release(&auth);
	strbuf_release(&url);
	strbuf_release(&msg);
	strbuf_release(&a.body);
	if (out == OUT_RETRY && a.st.chunks > 0)
		out = OUT_FAIL; /* text already reached the caller */
	llm_stream_release(&a.st);
	return out;
}

/* Sleep ms in slices, watching the cancel flag. Returns false when cancelled. */
static bool wait_cancellable(const struct llm_call *call, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end) {
		int64_t left = end - clock_mono_ms();

		if (cancel_requested(call))
			return false;
		clock_sleep_ms(left < 10 ? left : 10);
	}
	return !cancel_requested(call);
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

enum llm_status llm_complete(const struct llm_opts *o, const struct llm_request *req,
			     const struct llm_call *call, struct llm_result *res)
{
	char err[256];
	enum llm_provider p;
	char *body = NULL;
	size_t body_len;
	int64_t start = clock_mono_ms(), deadline;
	bool json_refused = false;
	struct llm_opts cur = *o;

	memset(res, 0, sizeof(res[0]));
	res->first_token_ms = -1;
	res->tokens_in = res->tokens_out = -1;
	if (check_opts(o, req, &p, err, sizeof(err)) < 0) {
		res_error(res, LLM_ERR_CONFIG, o->api_key, "%s", err);
		goto done;
	}
	body = llm_request_body(o, req, err, sizeof(err));
	if (!body) {
		res_error(res, LLM_ERR_CONFIG, o->api_key, "%s", err);
		goto done;
	}
	body_len = strlen(body);
	res->request_bytes = body_len;
	sha256_hex(body, body_len, res->prompt_sha256);
	if (o->budget_tokens > 0 &&
	    llm_estimate_tokens(body_len) + o->max_tokens > o->budget_tokens) {
		res_error(res, LLM_ERR_BUDGET, o->api_key,
			  "llm: the prompt (~%lld tokens) plus max_tokens %d exceeds what is left of "
			  "the incident's budget (%lld tokens); raise llm.budget_tokens or trim the "
			  "context",
			  (long long)llm_estimate_tokens(body_len), o->max_tokens,
			  (long long)o->budget_tokens);
		goto done;
	}
	deadline = start + (o->total_timeout_ms > 0 ? o->total_timeout_ms : 120000);
	for (int attempt = 0;; attempt++) {
		int64_t hint, wait;
		enum outcome out;

		out = run_attempt(&cur, p, call, body, body_len, start, deadline, &json_refused, res,
				  &hint);
		if (out != OUT_RETRY)
			break;
		if (json_refused && cur.json_mode) {
			/* The server has no JSON mode: the same request without it,
			 * not counted as a retry. */
			cur.json_mode = false;
			free(body);
			body = llm_request_body(&cur, req, err, sizeof(err));
			if (!body) {
				res_error(res, LLM_ERR_CONFIG, o->api_key, "%s", err);
				break;
			}
			body_len = strlen(body);
			res->request_bytes = body_len;
			sha256_hex(body, body_len, res->prompt_sha256);
			attempt--;
			continue;
		}
		if (attempt >= o->retries) {
			struct strbuf sb = STRBUF_INIT;

			strbuf_init(&sb, 0);
			strbuf_addf(&sb, "%s; gave up after %d attempts", res->error, res->attempts);
			free(res->error);
			res->error = strbuf_detach(&sb, NULL);
			break;
		}
		if (res->status == LLM_ERR_RATE_LIMIT && hint >= 0)
			wait = hint < o->retry_after_cap_ms ? hint : o->retry_after_cap_ms;
		else {
			wait = o->backoff_ms;
			for (int k = 0; k < attempt && wait < o->backoff_cap_ms; k++)
				wait *= 2;
			if (wait > o->backoff_cap_ms)
				wait = o->backoff_cap_ms;
		}
		if (clock_mono_ms() + wait >= deadline) {
			struct strbuf sb = STRBUF_INIT;

			strbuf_init(&sb, 0);
			strbuf_addf(&sb, "%s; no time left to retry within %d ms", res->error,
				    o->total_timeout_ms);
			free(res->error);
			res->error = strbuf_detach(&sb, NULL);
			break;
		}
		res->retry_wait_ms += wait;
		if (!wait_cancellable(call, wait)) {
			res_error(res, LLM_ERR_CANCELLED, o->api_key, "llm: cancelled while waiting to retry");
			break;
		}
	}
done:
	if (!res->text)
		res->text = xstrdup("");
	res->total_ms = clock_mono_ms() - start;
	if (res->status == LLM_OK && res->first_token_ms < 0 && *res->text)
		res->first_token_ms = res->total_ms;
	if (res->tokens_in < 0 || res->tokens_out < 0) {
		if (res->tokens_in < 0)
			res->tokens_in = llm_estimate_tokens(res->request_bytes);
		if (res->tokens_out < 0)
			res->tokens_out = llm_estimate_tokens(strlen(res->text));
		res->tokens_estimated = true;
	}
	free(body);
	return res->status;
}

void llm_result_release(struct llm_result *res)
{
	free(res->error);
	free(res->text);
	free(res->stop_reason);
	res->error = res->text = res->stop_reason = NULL;
}

/* ---- the diagnosis ------------------------------------------------------- */

int llm_extract_json(const char *text, size_t len, size_t *off, size_t *olen)
{
	size_t from = 0;

	for (int tries = 0; tries < 64 && from < len; tries++) {
		const char *open = memchr(text + from, '{', len - from);
		size_t i, start;
		int depth = 0;
		bool in_str = false, esc = false;

		if (!open)
			return -1;
		start = (size_t)(open - text);
		for (i = start; i < len; i++) {
			char c = text[i];

			if (in_str) {
				if (esc)
					esc = false;
				else if (c == '\\')
					esc = true;
				else if (c == '"')
					in_str = false;
				continue;
			}
			if (c == '"')
				in_str = true;
			else if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']') {
				if (--depth == 0)
					break;
				if (depth < 0)
					break;
			}
		}
		if (i >= len)
			return -1; /* never closed: no later '{' can close either */
		if (depth == 0 && text[i] == '}') {
			json_t *j = json_loadb(text + start, i + 1 - start, 0, NULL);
			bool ok = json_is_object(j);

			json_decref(j);
			if (ok) {
				*off = start;
				*olen = i + 1 - start;
				return 0;
			}
		}
		from = start + 1;
	}
	return -1;
}

static void reject(struct llm_diagnosis *d, const char *item, size_t idx, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reject(struct llm_diagnosis *d, const char *item, size_t idx, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT, it = STRBUF_INIT;
	json_t *r = json_object();
	va_list ap;

	strbuf_init(&sb, 0);
	strbuf_init(&it, 0);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addf(&it, "%s[%zu]", item, idx);
	json_object_set_new(r, "item", json_string(it.buf));
	json_object_set_new(r, "reason", json_string(sb.buf));
	json_array_append_new(d->rejected, r);
	strbuf_release(&sb);
	strbuf_release(&it);
}

/* A non-empty string of at most LLM_MAX_STRING bytes. */
static const char *good_string(json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!s || n == 0 || n > LLM_MAX_STRING)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return s;
	return NULL;
}

static bool good_prob(json_t *v, double *p)
{
	double x;

	if (!json_is_number(v))
		return false;
	x = json_number_value(v);
	if (!(x >= 0.0 && x <= 1.0)) /* NaN fails too */
		return false;
	*p = x;
	return true;
}

static bool good_action_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (i && s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static int cmp_hyp(const void *a, const void *b)
{
	const struct llm_hypothesis *x = a, *y = b;

	return (x->probability < y->probability) - (x->probability > y->probability);
}

static void take_hypotheses(struct llm_diagnosis *d, json_t *arr)
{
	size_t i, n = json_array_size(arr);
	json_t *h;

	d->hypotheses = xcalloc(n ? n : 1, sizeof(*d->hypotheses));
	json_array_foreach(arr, i, h) {
		const char *t = good_string(json_object_get(h, "text"));
		double pr;

		if (!json_is_object(h)) {
			reject(d, "hypotheses", i, "not an object");
			continue;
		}
		if (!t) {
			reject(d, "hypotheses", i, "text is missing, empty or longer than %d bytes",
			       LLM_MAX_STRING);
			continue;
		}
		if (!good_prob(json_object_get(h, "probability"), &pr)) {
			reject(d, "hypotheses", i, "probability is missing or not a number in 0..1");
			continue;
		}
		if (d->nhypotheses == LLM_MAX_HYPOTHESES) {
			reject(d, "hypotheses", i, "more than %d hypotheses", LLM_MAX_HYPOTHESES);
			continue;
		}
		d->hypotheses[d->nhypotheses].text = xstrdup(t);
		d->hypotheses[d->nhypotheses].probability = pr;
		d->nhypotheses++;
	}
	qsort(d->hypotheses, d->nhypotheses, sizeof(*d->hypotheses), cmp_hyp);
}

/* A parameter value: a scalar, or (one level down) an array or object of
 * scalars — pids[], columns[], a shell action's args{}. */
static bool good_param(json_t *v, int depth)
{
	size_t i;
	const char *k;
	json_t *x;

	if (json_is_string(v))
		return json_string_length(v) <= LLM_MAX_STRING;
	if (json_is_number(v) || json_is_boolean(v))
		return true;
	if (depth > 0 || json_is_null(v))
		return false;
	if (json_is_array(v)) {
		if (json_array_size(v) > 64)
			return false;
		json_array_foreach(v, i, x)
			if (!good_param(x, depth + 1))
				return false;
		return true;
	}
	if (json_object_size(v) > 64)
		return false;
	json_object_foreach(v, k, x)
		if (!good_param(x, depth + 1))
			return false;
	return true;
}

static bool action_allowed(const char *const *allowed, const char *name)
{
	if (!allowed)
		return true;
	for (; *allowed; allowed++)
		if (strcmp(*allowed, name) == 0)
			return true;
	return false;
}

static void take_proposals(struct llm_diagnosis *d, json_t *arr, const char *const *allowed)
{
	size_t i, n = json_array_size(arr);
	json_t *pr;

	d->proposals = xcalloc(n ? n : 1, sizeof(*d->proposals));
	json_array_foreach(arr, i, pr) {
		const char *action = good_string(json_object_get(pr, "action"));
		const char *why = good_string(json_object_get(pr, "rationale"));
		json_t *params = json_object_get(pr, "params"), *v;
		const char *k;
		bool ok = true;

		if (!json_is_object(pr)) {
			reject(d, "proposals", i, "not an object");
			continue;
		}
		if (!action || !good_action_name(action)) {
			reject(d, "proposals", i, "action is missing or not a registry name ([a-z_0-9])");
			continue;
		}
		if (!action_allowed(allowed, action)) {
			reject(d, "proposals", i, "action '%s' is not in the action registry", action);
			continue;
		}
		if (!why) {
			reject(d, "proposals", i, "%s: rationale is missing or empty", action);
			continue;
		}
		if (params && !json_is_object(params)) {
			reject(d, "proposals", i, "%s: params is not an object", action);
			continue;
		}
		json_object_foreach(params, k, v) {
			if (!good_param(v, 0)) {
				reject(d, "proposals", i,
				       "%s: parameter '%.64s' is not a string, number, boolean or a list or "
				       "object of those",
				       action, k);
				ok = false;
				break;
			}
		}
		if (!ok)
			continue;
		if (d->nproposals == LLM_MAX_PROPOSALS) {
			reject(d, "proposals", i, "more than %d proposals", LLM_MAX_PROPOSALS);
			continue;
		}
		d->proposals[d->nproposals].action = xstrdup(action);
		d->proposals[d->nproposals].params = params ? json_deep_copy(params) : json_object();
		d->proposals[d->nproposals].rationale = xstrdup(why);
		d->nproposals++;
	}
}

int llm_parse_diagnosis(const char *text, size_t len, const char *const *actions,
			struct llm_diagnosis *d, char *err, size_t errlen)
{
	size_t off, olen;
	json_t *j, *hyps, *props;
	const char *rc;
	double conf;

	memset(d, 0, sizeof(*d));
	if (!text || llm_extract_json(text, len, &off, &olen) < 0) {
		snprintf(err, errlen, "the reply holds no JSON object (%zu bytes of text)", len);
		return -1;
	}
	j = json_loadb(text + off, olen, 0, NULL);
	rc = good_string(json_object_get(j, "root_cause"));
	hyps = json_object_get(j, "hypotheses");
	props = json_object_get(j, "proposals");
	if (!rc) {
		snprintf(err, errlen, "root_cause is missing, empty or not a string");
		goto fail;
	}
	if (!good_prob(json_object_get(j, "confidence"), &conf)) {
		snprintf(err, errlen, "confidence is missing or not a number in 0..1");
		goto fail;
	}
	if (hyps && !json_is_array(hyps)) {
		snprintf(err, errlen, "hypotheses is not an array");
		goto fail;
	}
	if (props && !json_is_array(props)) {
		snprintf(err, errlen, "proposals is not an array");
		goto fail;
	}
	d->root_cause = xstrdup(rc);
	d->confidence = conf;
	d->rejected = json_array();
	take_hypotheses(d, hyps);
	take_proposals(d, props, actions);
	json_decref(j);
	return 0;
fail:
	json_decref(j);
	return -1;
}

void llm_diagnosis_release(struct llm_diagnosis *d)
{
	for (size_t i = 0; i < d->nhypotheses; i++)
		free(d->hypotheses[i].text);
	for (size_t i = 0; i < d->nproposals; i++) {
		free(d->proposals[i].action);
		json_decref(d->proposals[i].params);
		free(d->proposals[i].rationale);
	}
	free(d->hypotheses);
	free(d->proposals);
	free(d->root_cause);
	json_decref(d->rejected);
	memset(d, 0, sizeof(*d));
}

json_t *llm_diagnosis_to_json(const struct llm_diagnosis *d)
{
	json_t *o = json_object(), *h = json_array(), *p = json_array();

	json_object_set_new(o, "root_cause", json_string(d->root_cause ? d->root_cause : ""));
	json_object_set_new(o, "confidence", json_real(d->confidence));
	for (size_t i = 0; i < d->nhypotheses; i++)
		json_array_append_new(h, json_pack("{s:s, s:f}", "text", d->hypotheses[i].text,
						   "probability", d->hypotheses[i].probability));
	for (size_t i = 0; i < d->nproposals; i++)
		json_array_append_new(p, json_pack("{s:s, s:O, s:s}", "action", d->proposals[i].action,
						   "params", d->proposals[i].params, "rationale",
						   d->proposals[i].rationale));
	json_object_set_new(o, "hypotheses", h);
	json_object_set_new(o, "proposals", p);
	json_object_set_new(o, "rejected", d->rejected ? json_incref(d->rejected) : json_array());
	return o;
}
