/*
 * llm: one request to a language model, and what its reply may contain.
 *
 * Design
 * ------
 * The LLM adds reasoning to what the runbook rules found; it never replaces
 * them and never gets a way around policy. This module is the narrow pipe
 * to the provider and the gate on what comes back:
 *
 *  - Providers. "openai": any OpenAI-compatible server (OpenAI, vLLM,
 *    llama.cpp server, Ollama's /v1, LiteLLM): POST {base_url}/chat/completions,
 *    "Authorization: Bearer KEY", response_format json_object when json_mode,
 *    stream: SSE "data: {choices[0].delta.content}" ... "data: [DONE]", usage
 *    from stream_options.include_usage. "anthropic": POST {base_url}/v1/messages,
 *    "x-api-key: KEY", "anthropic-version: 2023-06-01", system prompt as the
 *    top-level "system"; stream: SSE events message_start (usage.input_tokens),
 *    content_block_delta (delta.text), message_delta (usage.output_tokens,
 *    stop_reason), message_stop, error.
 *  - One request at a time, on the caller's thread (the diagnosis thread),
 *    through a libcurl multi handle polled every 20 ms, so that cancellation
 *    (an atomic flag, also checked in CURLOPT_XFERINFOFUNCTION) and the
 *    stall timers act within ~20 ms instead of libcurl's 1 s progress tick.
 *  - Timeouts: connect; first byte of a streamed body (the model's time to
 *    first token); idle between streamed chunks (a stall; SSE keep-alive
 *    comments count as life); total for the whole call including retries
 *    and their waits. A non-streamed request has only connect and total.
 *  - Retries, capped by opts.retries and by the total deadline: 429 waits
 *    Retry-After (seconds, HTTP date or retry-after-ms; capped by
 *    retry_after_cap_ms), 5xx/529 and connection failures back off
 *    exponentially (backoff_ms * 2^n, capped by backoff_cap_ms). A stream
 *    that already delivered text is never retried (the reasoning pane shows
 *    what came; a second copy would confuse). A 400 naming response_format
 *    is retried once without it (servers that lack JSON mode).
 *  - Failures are values, never crashes: every non-OK status comes with one
 *    message naming the endpoint, what went wrong and what to do; truncated
 *    streams and malformed JSON say so. Redirects are not followed (the key
 *    would travel with them).
 *  - The API key is a value the caller read from the environment
 *    (getenv(api_key_env)). It travels only in the Authorization / x-api-key
 *    header: never in the URL, the body, an error message or a log line;
 *    any server text quoted in an error has it scrubbed.
 *  - Accounting per call: tokens in/out (the provider's usage when given,
 *    else an estimate of 4 bytes a token, flagged), latency to the first
 *    streamed token and in total, the HTTP status, attempts, time spent
 *    waiting to retry, and the SHA-256 (libcrypto EVP) of the exact request
 *    body: the prompt hash that goes into the audit log.
 *  - Budget: a call whose estimated prompt plus max_tokens exceeds
 *    budget_tokens (what is left of the incident's budget) is refused
 *    before anything is sent.
 *
 * Replies: the model's full text goes through llm_parse_diagnosis: the first
 * balanced top-level JSON object is taken (code fences, leading prose and
 * trailing remarks tolerated), then validated against
 *   {root_cause: str, confidence: 0..1,
 *    hypotheses: [{text: str, probability: 0..1}],
 *    proposals: [{action: str, params: {name: value}, rationale: str}]}
 * (a value: string, number, boolean, or an array/object of those: pids[],
 * columns[], args{})
 * A reply whose top level does not validate is rejected with the reason; a
 * hypothesis or proposal that does not validate is dropped whole (never
 * half-accepted) and listed in `rejected` with its reason; so is a proposal
 * whose action is not in the list of registry names given. Whether its
 * parameters exist in the live catalog (a made-up column) is checked later,
 * by the same validation as a rule's proposal (act/action.h).
 *
 * Thread affinity: any thread, one call per struct at a time. Call
 * llm_global_init() once from main before starting threads.
 */
#ifndef COCKPIT_THINK_LLM_H
#define COCKPIT_THINK_LLM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/strbuf.h"
#include "think/sse.h"

enum llm_provider { LLM_OPENAI, LLM_ANTHROPIC };

/* Settings of one endpoint. Strings are borrowed for the call. */
struct llm_opts {
	const char *provider;        /* "openai" | "anthropic" */
	const char *base_url;        /* "https://api.openai.com/v1", "https://api.anthropic.com",
	                                "http://127.0.0.1:11434/v1"; no trailing path for anthropic */
	const char *model;
	const char *api_key;         /* the key's value, or NULL/"" (local servers) */
	int connect_timeout_ms;      /* default 5000 */
	int first_byte_timeout_ms;   /* streamed: wait for the first body byte; default 30000 */
	int idle_timeout_ms;         /* streamed: longest silence between chunks; default 15000 */
	int total_timeout_ms;        /* whole call, retries included; default 120000 */
	int max_tokens;              /* reply limit; default 1024 */
	double temperature;          /* default 0.2 (set <0 to leave it out) */
	bool stream;                 /* server-sent events */
	bool json_mode;              /* openai: response_format {"type":"json_object"} */
	int retries;                 /* extra attempts after 429/5xx/connect errors; default 2 */
	int retry_after_cap_ms;      /* longest Retry-After honoured; default 20000 */
	int backoff_ms;              /* first 5xx backoff; default 500 */
	int backoff_cap_ms;          /* default 8000 */
	int64_t budget_tokens;       /* tokens left for this incident; 0 = no limit */
};

/* Fill the defaults above (strings NULL, stream and json_mode true). */
void llm_opts_defaults(struct llm_opts *o);

struct llm_request {
	const char *system;          /* the instructions (fence rule, output schema) */
	const char *user;            /* the redacted, fenced context */
};

/* Called with each streamed piece of the model's text, in order, on the
 * calling thread. len > 0; text is not NUL-terminated. */
typedef void (*llm_chunk_fn)(void *arg, const char *text, size_t len);

struct llm_call {
	llm_chunk_fn on_chunk;       /* may be NULL */
	void *arg;
	atomic_bool *cancel;         /* borrowed, may be NULL: set from any thread to stop */
};

enum llm_status {
	LLM_OK,
	LLM_ERR_CONFIG,     /* bad options: unknown provider, no base_url/model, key with a newline */
	LLM_ERR_BUDGET,     /* refused before sending: over the token budget */
	LLM_ERR_CONNECT,    /* could not reach the endpoint */
	LLM_ERR_TIMEOUT,    /* connect, first byte or total timeout */
	LLM_ERR_STALL,      /* a stream went silent past idle_timeout_ms */
	LLM_ERR_CANCELLED,
	LLM_ERR_AUTH,       /* 401/403 */
	LLM_ERR_RATE_LIMIT, /* 429 after the retries */
	LLM_ERR_HTTP,       /* any other non-200 (5xx after the retries) */
	LLM_ERR_TRUNCATED,  /* the stream ended before its end marker */
	LLM_ERR_PROTOCOL,   /* malformed JSON or SSE from the server, an error event */
};

/* "ok", "config", "budget", "connect", "timeout", "stall", "cancelled",
 * "auth", "rate_limit", "http", "truncated", "protocol". */
const char *llm_status_name(enum llm_status s);

struct llm_result {
	enum llm_status status;
	char *error;              /* owned: one message when status != LLM_OK, else NULL */
	char *text;               /* owned: the model's text (partial after a failed stream), never NULL
	                             after llm_complete */
	char *stop_reason;        /* owned or NULL: "stop", "end_turn", "length", "max_tokens"... */
	long http_status;         /* last attempt's status, 0 when none came */
	int attempts;             /* requests sent */
	int64_t retry_wait_ms;    /* time spent waiting to retry */
	int64_t tokens_in, tokens_out;
	bool tokens_estimated;    /* no usage from the provider: estimated from bytes */
	int64_t first_token_ms;   /* call start to the first streamed text (total_ms when not
	                             streamed), -1 when no text came */
	int64_t total_ms;
	size_t request_bytes;     /* size of the request body */
	char prompt_sha256[65];   /* hex SHA-256 of the exact request body */
};

/* Once, before threads: curl_global_init. Returns 0 or -1. */
int llm_global_init(void);
void llm_global_cleanup(void);

/* The exact request body that llm_complete sends for these options, or NULL
 * with a message in err (for `cockpit diagnose --show-prompt` and tests).
 * Owned by the caller. */
char *llm_request_body(const struct llm_opts *o, const struct llm_request *req, char *err,
		       size_t errlen);

/* Send req and wait for the whole reply (streaming it through call->on_chunk
 * when o->stream). Fills *res (release with llm_result_release) and returns
 * res->status. call may be NULL. */
enum llm_status llm_complete(const struct llm_opts *o, const struct llm_request *req,
			     const struct llm_call *call, struct llm_result *res);
void llm_result_release(struct llm_result *res);

/* Tokens in text, estimated (4 bytes a token, rounded up). */
int64_t llm_estimate_tokens(size_t bytes);

/* ---- provider wire formats (exposed for tests and the fuzzer) ---------- */

/* A streamed reply being decoded: feed it the raw body bytes. */
struct llm_stream {
	enum llm_provider provider;
	struct sse_parser sse;
	struct strbuf text;       /* owned: the text so far */
	llm_chunk_fn on_chunk;    /* borrowed, may be NULL */
	void *arg;
	bool done;                /* [DONE] / message_stop seen */
	bool has_usage_in, has_usage_out;
	int64_t usage_in, usage_out;
	char *stop_reason;        /* owned or NULL */
	char *error;              /* owned: first error (malformed event, error event), or NULL */
	size_t chunks;            /* text pieces delivered */
};

void llm_stream_init(struct llm_stream *s, enum llm_provider p, llm_chunk_fn fn, void *arg);
void llm_stream_release(struct llm_stream *s);
/* Returns 0, or -1 once s->error is set (feeding more is then refused). */
int llm_stream_feed(struct llm_stream *s, const void *buf, size_t len);
/* End of body: -1 with s->error when the stream was cut before its end
 * marker (LLM_ERR_TRUNCATED) or broken earlier; 0 when complete. */
int llm_stream_finish(struct llm_stream *s);

/* A complete (non-streamed) reply body: the model's text into *text (owned),
 * usage into *in / *out (-1 when absent), stop reason (owned, may be NULL).
 * Returns 0, or -1 with a message in err. */
int llm_parse_response(enum llm_provider p, const char *body, size_t len, char **text,
		       int64_t *in, int64_t *out, char **stop_reason, char *err, size_t errlen);

/* ---- the diagnosis a reply carries -------------------------------------- */

struct llm_hypothesis {
	char *text;               /* owned */
	double probability;       /* 0..1 */
};

struct llm_proposal {
	char *action;             /* owned: registry action name as the model gave it */
	json_t *params;           /* owned: object: scalars, arrays/objects of scalars */
	char *rationale;          /* owned */
};

struct llm_diagnosis {
	char *root_cause;                    /* owned */
	double confidence;                   /* 0..1 */
	struct llm_hypothesis *hypotheses;   /* owned, ranked: highest probability first */
	size_t nhypotheses;
	struct llm_proposal *proposals;      /* owned, in the model's order */
	size_t nproposals;
	json_t *rejected;                    /* owned: [{"item": "proposals[2]", "reason": "..."}] */
};

/* Limits on what a reply may hold. */
#define LLM_MAX_HYPOTHESES 16
#define LLM_MAX_PROPOSALS 8
#define LLM_MAX_STRING 4000

/* Find the first balanced top-level JSON object in text that parses: its
 * offset and length. Returns 0, or -1 when there is none. */
int llm_extract_json(const char *text, size_t len, size_t *off, size_t *olen);

/* Extract and validate. actions: the registry's action names (NULL-
 * terminated), or NULL to accept any well-formed name; a proposal naming
 * another action is rejected here already (defence in depth: the registry
 * lookup downstream rejects it too). Returns 0 and fills *d (release with
 * llm_diagnosis_release), or -1 with the reason in err and *d empty. */
int llm_parse_diagnosis(const char *text, size_t len, const char *const *actions,
			struct llm_diagnosis *d, char *err, size_t errlen);
void llm_diagnosis_release(struct llm_diagnosis *d);
/* {root_cause, confidence, hypotheses, proposals, rejected}. New reference. */
json_t *llm_diagnosis_to_json(const struct llm_diagnosis *d);

/* The reply format the system prompt asks for (one paragraph, for prompts). */
extern const char llm_reply_schema[];

#endif
