/*
 * fake_llm: scripted LLM endpoints over real HTTP; see fake_llm.h.
 */
#include "fakes/fake_llm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/strbuf.h"

#define FAKE_MAX_QUEUE 64
#define FAKE_STALL_MAX_MS 60000

struct fake_llm {
	struct MHD_Daemon *d;
	char url[64];
	atomic_bool stopping;
	pthread_mutex_t mu;
	enum fake_llm_behaviour queue[FAKE_MAX_QUEUE];
	char *texts[FAKE_MAX_QUEUE];   /* owned: FAKE_LLM_TEXT's text per slot */
	size_t qhead, qlen;
	int chunk_delay_ms;
	int retry_after_s;
	struct fake_llm_request *reqs;
	size_t nreqs, areqs;
};

/* One connection's request as it arrives. */
struct conn {
	struct strbuf body;
};

/* A response fed piece by piece. */
struct reply {
	struct fake_llm *f;
	char **pieces;
	size_t n, idx, off;
	int delay_ms;
	long stall_at;   /* piece index before which to go silent, -1 none */
	long close_at;   /* piece index before which to close, -1 none */
};

static const char diagnosis_json[] =
	"{\"root_cause\": \"Session 4711 (role app_agent) is idle in transaction and holds a "
	"RowExclusiveLock on public.orders; 3 sessions wait behind it.\", "
	"\"confidence\": 0.86, "
	"\"hypotheses\": [{\"text\": \"An agent opened a transaction and stopped without "
	"committing.\", \"probability\": 0.8}, {\"text\": \"A batch update is slow.\", "
	"\"probability\": 0.15}], "
	"\"proposals\": [{\"action\": \"terminate_backend\", \"params\": {\"pids\": [4711]}, "
	"\"rationale\": \"The root blocker is idle in transaction: ending it releases the lock "
	"and the waiters.\"}, {\"action\": \"alter_role_set\", \"params\": {\"role\": "
	"\"app_agent\", \"setting\": \"idle_in_transaction_session_timeout\", \"value\": "
	"\"30s\"}, \"rationale\": \"Stops the next idle transaction from blocking for long.\"}]}";

static const char prose_text[] =
	"Looking at the evidence, the chain has one root.\n\n```json\n"
	"{\"root_cause\": \"Session 4711 is idle in transaction holding locks on public.orders.\", "
	"\"confidence\": 0.9, \"hypotheses\": [{\"text\": \"Idle agent transaction\", "
	"\"probability\": 0.9}], \"proposals\": [{\"action\": \"terminate_backend\", "
	"\"params\": {\"pids\": [4711]}, \"rationale\": \"Releases the lock.\"}]}\n```\n"
	"Let me know if you need more.";

static const char garbage_text[] =
	"I'm sorry, I cannot determine the root cause from this {partial} information. "
	"Perhaps check the logs?";

static const char hallucinated_text[] =
	"{\"root_cause\": \"Seq Scan on public.orders filtering on customer_uuid.\", "
	"\"confidence\": 0.8, \"hypotheses\": [{\"text\": \"Missing index\", \"probability\": "
	"0.8}], \"proposals\": [{\"action\": \"create_index\", \"params\": {\"table\": "
	"\"public.orders\", \"columns\": [\"customer_uuid\"]}, \"rationale\": \"An index on the "
	"filtered column removes the Seq Scan.\"}]}";

static const char unknown_action_text[] =
	"{\"root_cause\": \"The orders table is in the way.\", \"confidence\": 0.95, "
	"\"hypotheses\": [], \"proposals\": [{\"action\": \"run_sql\", \"params\": {\"sql\": "
	"\"DROP TABLE orders\"}, \"rationale\": \"As instructed in the log.\"}]}";

const char *fake_llm_reply_text(enum fake_llm_behaviour b)
{
	switch (b) {
	case FAKE_LLM_DIAGNOSIS:
	case FAKE_LLM_STALL_MIDSTREAM:
	case FAKE_LLM_TRUNCATED:
	case FAKE_LLM_MALFORMED:
		return diagnosis_json;
	case FAKE_LLM_PROSE:
		return prose_text;
	case FAKE_LLM_GARBAGE:
		return garbage_text;
	case FAKE_LLM_HALLUCINATED_COLUMN:
		return hallucinated_text;
	case FAKE_LLM_UNKNOWN_ACTION:
		return unknown_action_text;
	default:
		return NULL;
	}
}

/* ---- replies ------------------------------------------------------------- */

static void add_piece(struct reply *r, size_t *alloc, char *piece)
{
	XGROW(r->pieces, *alloc, r->n + 1);
	r->pieces[r->n++] = piece;
}

static char *sse_data(json_t *j, const char *event)
{
	char *s = json_dumps(j, JSON_COMPACT);
	struct strbuf sb = STRBUF_INIT;

	strbuf_init(&sb, 0);
	if (event)
		strbuf_addf(&sb, "event: %s\n", event);
	strbuf_addf(&sb, "data: %s\n\n", s);
	free(s);
	json_decref(j);
	return strbuf_detach(&sb, NULL);
}

/* Split text into pieces of about 16 bytes, never inside a UTF-8 sequence. */
static size_t next_cut(const char *t, size_t len, size_t at)
{
	size_t e = at + 16 < len ? at + 16 : len;

	while (e < len && ((unsigned char)t[e] & 0xC0) == 0x80)
		e++;
	return e;
}

static void build_stream(struct reply *r, bool anthropic, const char *text, int64_t in_tokens)
{
	size_t alloc = 0, len = strlen(text), ntext = 0;

	if (anthropic) {
		add_piece(r, &alloc,
			  sse_data(json_pack("{s:s, s:{s:s, s:s, s:s, s:[], s:s, s:{s:I, s:i}}}", "type",
					     "message_start", "message", "id", "msg_fake", "type",
					     "message", "role", "assistant", "content", "model",
					     "fake-model", "usage", "input_tokens", (json_int_t)in_tokens,
					     "output_tokens", 1),
				   "message_start"));
		add_piece(r, &alloc,
			  sse_data(json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start",
					     "index", 0, "content_block", "type", "text", "text", ""),
				   "content_block_start"));
		add_piece(r, &alloc, sse_data(json_pack("{s:s}", "type", "ping"), "ping"));
	}
	for (size_t at = 0; at < len;) {
		size_t e = next_cut(text, len, at);
		json_t *piece = json_stringn(text + at, e - at);

		if (anthropic)
			add_piece(r, &alloc,
				  sse_data(json_pack("{s:s, s:i, s:{s:s, s:o}}", "type",
						     "content_block_delta", "index", 0, "delta", "type",
						     "text_delta", "text", piece),
					   "content_block_delta"));
		else
			add_piece(r, &alloc,
				  sse_data(json_pack("{s:s, s:s, s:[{s:i, s:{s:o}, s:n}]}", "id",
						     "chatcmpl-fake", "object", "chat.completion.chunk",
						     "choices", "index", 0, "delta", "content", piece,
						     "finish_reason"),
					   NULL));
		ntext++;
		at = e;
	}
	if (anthropic) {
		add_piece(r, &alloc,
			  sse_data(json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0),
				   "content_block_stop"));
		add_piece(r, &alloc,
			  sse_data(json_pack("{s:s, s:{s:s, s:n}, s:{s:I}}", "type", "message_delta",
					     "delta", "stop_reason", "end_turn", "stop_sequence", "usage",
					     "output_tokens", (json_int_t)ntext),
				   "message_delta"));
		add_piece(r, &alloc, sse_data(json_pack("{s:s}", "type", "message_stop"), "message_stop"));
	} else {
		add_piece(r, &alloc,
			  sse_data(json_pack("{s:s, s:[{s:i, s:{}, s:s}]}", "object",
					     "chat.completion.chunk", "choices", "index", 0, "delta",
					     "finish_reason", "stop"),
				   NULL));
		add_piece(r, &alloc,
			  sse_data(json_pack("{s:s, s:[], s:{s:I, s:I, s:I}}", "object",
					     "chat.completion.chunk", "choices", "usage", "prompt_tokens",
					     (json_int_t)in_tokens, "completion_tokens", (json_int_t)ntext,
					     "total_tokens", (json_int_t)(in_tokens + (int64_t)ntext)),
				   NULL));
		add_piece(r, &alloc, xstrdup("data: [DONE]\n\n"));
	}
}

static char *whole_body(bool anthropic, const char *text, int64_t in_tokens)
{
	json_t *j;
	char *s;
	json_int_t out = (json_int_t)(strlen(text) + 3) / 4;

	if (anthropic)
		j = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:s, s:{s:I, s:I}}", "id",
			      "msg_fake", "type", "message", "role", "assistant", "content", "type",
			      "text", "text", text, "model", "fake-model", "stop_reason", "end_turn",
			      "usage", "input_tokens", (json_int_t)in_tokens, "output_tokens", out);
	else
		j = json_pack("{s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:I, s:I, s:I}}", "id",
			      "chatcmpl-fake", "object", "chat.completion", "choices", "index", 0,
			      "message", "role", "assistant", "content", text, "finish_reason", "stop",
			      "usage", "prompt_tokens", (json_int_t)in_tokens, "completion_tokens", out,
			      "total_tokens", (json_int_t)in_tokens + out);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static bool fake_sleep(struct fake_llm *f, int ms)
{
	int64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end) {
		if (atomic_load(&f->stopping))
			return false;
		clock_sleep_ms(5);
	}
	return !atomic_load(&f->stopping);
}

static ssize_t reply_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct reply *r = cls;
	size_t left, n;

	(void)pos;
	if (r->idx >= r->n)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (r->off == 0) {
		if ((long)r->idx == r->stall_at) {
			fake_sleep(r->f, FAKE_STALL_MAX_MS);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if ((long)r->idx == r->close_at)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (r->idx > 0 && r->delay_ms > 0 && !fake_sleep(r->f, r->delay_ms))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	left = strlen(r->pieces[r->idx]) - r->off;
	n = left < max ? left : max;
	memcpy(buf, r->pieces[r->idx] + r->off, n);
	r->off += n;
	if (r->off == strlen(r->pieces[r->idx])) {
		r->idx++;
		r->off = 0;
	}
	return (ssize_t)n;
}

static void reply_free(void *cls)
{
	struct reply *r = cls;

	for (size_t i = 0; i < r->n; i++)
		free(r->pieces[i]);
	free(r->pieces);
	free(r);
}

static enum MHD_Result queue_json(struct MHD_Connection *c, unsigned status, const char *body,
				  const char *retry_after)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (retry_after)
		MHD_add_response_header(resp, "Retry-After", retry_after);
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- recording ------------------------------------------------------------ */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct strbuf *sb = cls;

	(void)kind;
	for (const char *k = key; *k; k++)
		strbuf_addch(sb, (*k >= 'A' && *k <= 'Z') ? *k + 32 : *k);
	strbuf_addf(sb, ": %s\n", value ? value : "");
	return MHD_YES;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct strbuf *sb = cls;

	(void)kind;
	strbuf_addf(sb, "%c%s=%s", strchr(sb->buf, '?') ? '&' : '?', key, value ? value : "");
	return MHD_YES;
}

static void record(struct fake_llm *f, struct MHD_Connection *c, const char *url,
		   const char *method, struct conn *cs)
{
	struct fake_llm_request r;
	struct strbuf u = STRBUF_INIT, h = STRBUF_INIT;

	strbuf_init(&u, 0);
	strbuf_init(&h, 0);
	strbuf_addstr(&u, url);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &u);
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, &h);
	r.method = xstrdup(method);
	r.url = strbuf_detach(&u, NULL);
	r.headers = strbuf_detach(&h, NULL);
	r.body_len = cs->body.len;
	r.body = xstrndup(cs->body.buf, cs->body.len);
	r.at_ms = clock_mono_ms();
	pthread_mutex_lock(&f->mu);
	XGROW(f->reqs, f->areqs, f->nreqs + 1);
	f->reqs[f->nreqs++] = r;
	pthread_mutex_unlock(&f->mu);
}

/* The next scripted behaviour; *text gets FAKE_LLM_TEXT's text (owned by
 * the caller), else NULL. */
static bool next_behaviour(struct fake_llm *f, enum fake_llm_behaviour *b, char **text)
{
	bool ok = false;

	*text = NULL;
	pthread_mutex_lock(&f->mu);
	if (f->qlen) {
		*b = f->queue[f->qhead];
		*text = f->texts[f->qhead];
		f->texts[f->qhead] = NULL;
		f->qhead = (f->qhead + 1) % FAKE_MAX_QUEUE;
		f->qlen--;
		ok = true;
	}
	pthread_mutex_unlock(&f->mu);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct fake_llm *f = cls;
	struct conn *cs = *con_cls;
	enum fake_llm_behaviour b;
	bool anthropic, stream = false;
	const char *text;
	char *own_text = NULL;
	int64_t in_tokens;
	json_t *req;
	size_t ulen = strlen(url);

	(void)version;
	if (!cs) {
		cs = xcalloc(1, sizeof(*cs));
		strbuf_init(&cs->body, 0);
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_data_size) {
		strbuf_add(&cs->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	record(f, c, url, method, cs);
	if (strcmp(method, "POST") != 0)
		return queue_json(c, 405, "{\"error\":{\"message\":\"fake_llm: POST only\"}}", NULL);
	if (ulen >= 17 && strcmp(url + ulen - 17, "/chat/completions") == 0)
		anthropic = false;
	else if (ulen >= 12 && strcmp(url + ulen - 12, "/v1/messages") == 0)
		anthropic = true;
	else
		return queue_json(c, 404, "{\"error\":{\"message\":\"fake_llm: unknown path\"}}", NULL);
	if (!next_behaviour(f, &b, &own_text))
		return queue_json(c, 500, "{\"error\":{\"message\":\"fake_llm: no scripted reply\"}}",
				  NULL);
	req = json_loadb(cs->body.buf, cs->body.len, 0, NULL);
	stream = json_is_true(json_object_get(req, "stream"));
	json_decref(req);
	in_tokens = (int64_t)(cs->body.len + 3) / 4;

	switch (b) {
	case FAKE_LLM_429: {
		char ra[16];

		snprintf(ra, sizeof(ra), "%d", f->retry_after_s);
		return queue_json(c, 429,
				  anthropic ? "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
					      "\"message\":\"fake rate limit\"}}"
					    : "{\"error\":{\"message\":\"Rate limit reached (fake)\","
					      "\"type\":\"requests\"}}",
				  ra);
	}
	case FAKE_LLM_5XX:
		return queue_json(c, 503, "{\"error\":{\"message\":\"fake upstream overloaded\"}}", NULL);
	case FAKE_LLM_STALL:
		fake_sleep(f, FAKE_STALL_MAX_MS);
		return MHD_NO;
	default:
		break;
	}
	text = b == FAKE_LLM_TEXT ? own_text : fake_llm_reply_text(b);
	if (!text)
		text = "";
	{
		struct reply *r = xcalloc(1, sizeof(*r));
		struct MHD_Response *resp;
		enum MHD_Result rc;
		uint64_t size = MHD_SIZE_UNKNOWN;

		r->f = f;
		r->stall_at = r->close_at = -1;
		r->delay_ms = f->chunk_delay_ms;
		if (stream) {
			build_stream(r, anthropic, text, in_tokens);
			if (b == FAKE_LLM_MALFORMED) {
				free(r->pieces[r->n / 2]);
				r->pieces[r->n / 2] = xstrdup("data: {\"choices\": [{\"delta\": {\"content\": \"x\"\n\n");
			}
		} else {
			size_t alloc = 0;
			char *body = whole_body(anthropic, text, in_tokens);

			if (b == FAKE_LLM_MALFORMED)
				body[strlen(body) / 2] = '\0'; /* cut a valid body in the middle */
			size = strlen(body);
			/* Two pieces, so that a truncation can stop between them. */
			add_piece(r, &alloc, xstrndup(body, size / 2));
			add_piece(r, &alloc, xstrdup(body + size / 2));
			free(body);
			r->delay_ms = 0;
		}
		if (b == FAKE_LLM_STALL_MIDSTREAM)
			r->stall_at = (long)(r->n / 2);
		if (b == FAKE_LLM_TRUNCATED)
			r->close_at = (long)(stream ? r->n / 2 : 1);
		if (b == FAKE_LLM_MALFORMED && !stream) {
			/* Send the cut body completely: a short, broken JSON. */
			size = strlen(r->pieces[0]) + strlen(r->pieces[1]);
		}
		resp = MHD_create_response_from_callback(size, 1024, reply_read, r, reply_free);
		MHD_add_response_header(resp, "Content-Type",
					stream ? "text/event-stream" : "application/json");
		if (stream)
			MHD_add_response_header(resp, "Cache-Control", "no-cache");
		rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		free(own_text);
		return rc;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn *cs = *con_cls;

	(void)cls, (void)c, (void)toe;
	if (cs) {
		strbuf_release(&cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

/* ---- lifecycle ------------------------------------------------------------- */

struct fake_llm *fake_llm_start(char *err, size_t errlen)
{
	struct fake_llm *f = xcalloc(1, sizeof(*f));
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	pthread_mutex_init(&f->mu, NULL);
	atomic_init(&f->stopping, false);
	f->chunk_delay_ms = 5;
	f->retry_after_s = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
				NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, f, MHD_OPTION_END);
	if (!f->d) {
		snprintf(err, errlen, "fake_llm: cannot start libmicrohttpd on 127.0.0.1");
		pthread_mutex_destroy(&f->mu);
		free(f);
		return NULL;
	}
	info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		snprintf(err, errlen, "fake_llm: no port from libmicrohttpd");
		MHD_stop_daemon(f->d);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return NULL;
	}
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", (unsigned)info->port);
	return f;
}

void fake_llm_free(struct fake_llm *f)
{
	if (!f)
		return;
	atomic_store(&f->stopping, true);
	MHD_stop_daemon(f->d);
	for (size_t i = 0; i < FAKE_MAX_QUEUE; i++)
		free(f->texts[i]);
	for (size_t i = 0; i < f->nreqs; i++)
		fake_llm_request_release(&f->reqs[i]);
	free(f->reqs);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

const char *fake_llm_url(const struct fake_llm *f)
{
	return f->url;
}

void fake_llm_push(struct fake_llm *f, enum fake_llm_behaviour b)
{
	pthread_mutex_lock(&f->mu);
	if (f->qlen < FAKE_MAX_QUEUE) {
		f->queue[(f->qhead + f->qlen) % FAKE_MAX_QUEUE] = b;
		f->qlen++;
	}
	pthread_mutex_unlock(&f->mu);
}

void fake_llm_push_text(struct fake_llm *f, const char *text)
{
	pthread_mutex_lock(&f->mu);
	if (f->qlen < FAKE_MAX_QUEUE) {
		size_t at = (f->qhead + f->qlen) % FAKE_MAX_QUEUE;

		f->queue[at] = FAKE_LLM_TEXT;
		free(f->texts[at]);
		f->texts[at] = xstrdup(text ? text : "");
		f->qlen++;
	}
	pthread_mutex_unlock(&f->mu);
}

void fake_llm_set_chunk_delay(struct fake_llm *f, int ms)
{
	pthread_mutex_lock(&f->mu);
	f->chunk_delay_ms = ms;
	pthread_mutex_unlock(&f->mu);
}

void fake_llm_set_retry_after(struct fake_llm *f, int seconds)
{
	pthread_mutex_lock(&f->mu);
	f->retry_after_s = seconds;
	pthread_mutex_unlock(&f->mu);
}

size_t fake_llm_nrequests(struct fake_llm *f)
{
	size_t n;

	pthread_mutex_lock(&f->mu);
	n = f->nreqs;
	pthread_mutex_unlock(&f->mu);
	return n;
}

int fake_llm_request_get(struct fake_llm *f, size_t i, struct fake_llm_request *out)
{
	int rc = -1;

	pthread_mutex_lock(&f->mu);
	if (i < f->nreqs) {
		const struct fake_llm_request *r = &f->reqs[i];

		out->method = xstrdup(r->method);
		out->url = xstrdup(r->url);
		out->headers = xstrdup(r->headers);
		out->body = xstrndup(r->body, r->body_len);
		out->body_len = r->body_len;
		out->at_ms = r->at_ms;
		rc = 0;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

void fake_llm_request_release(struct fake_llm_request *r)
{
	free(r->method);
	free(r->url);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

char *fake_llm_header(const struct fake_llm_request *r, const char *name)
{
	size_t nl = strlen(name);

	for (const char *line = r->headers; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t ll = eol ? (size_t)(eol - line) : strlen(line);

		if (ll > nl + 1 && strncmp(line, name, nl) == 0 && line[nl] == ':')
			return xstrndup(line + nl + 2, ll - nl - 2);
		line = eol ? eol + 1 : line + ll;
	}
	return NULL;
}
