/*
 * fake_llm: scripted OpenAI-compatible and Anthropic endpoints for tests.
 *
 * A libmicrohttpd server inside the test process, on 127.0.0.1 and an
 * ephemeral port, one thread per connection. POST .../chat/completions
 * answers in the OpenAI chat-completions format, POST .../v1/messages in the
 * Anthropic Messages format; "stream": true in the request body gets
 * server-sent events, otherwise one JSON body. What each request gets is the
 * next behaviour pushed with fake_llm_push (an empty queue answers 500
 * "fake_llm: no scripted reply"). Every request is recorded — method, URL
 * with its query string, headers (names lower-cased), body, arrival time —
 * for assertions on what left the process.
 *
 * Stalls sleep in short slices and end when fake_llm_free is called, so a
 * test never hangs on its own fake.
 *
 * Build: needs `pkg-config --cflags --libs libmicrohttpd` and jansson.
 */
#ifndef COCKPIT_TESTS_FAKE_LLM_H
#define COCKPIT_TESTS_FAKE_LLM_H

#include <stddef.h>
#include <stdint.h>

enum fake_llm_behaviour {
	FAKE_LLM_DIAGNOSIS,           /* a correct lock-chain diagnosis (terminate the idle root blocker) */
	FAKE_LLM_PROSE,               /* the same JSON in a ```json fence after a paragraph of prose */
	FAKE_LLM_GARBAGE,             /* text without any JSON object */
	FAKE_LLM_HALLUCINATED_COLUMN, /* create_index on public.orders(customer_uuid): no such column */
	FAKE_LLM_UNKNOWN_ACTION,      /* an action outside the registry (run_sql) */
	FAKE_LLM_STALL,               /* reads the request, never answers */
	FAKE_LLM_STALL_MIDSTREAM,     /* sends the first part of the reply, then silence */
	FAKE_LLM_TRUNCATED,           /* sends the first part of the reply, then closes */
	FAKE_LLM_MALFORMED,           /* streamed: an event that is not JSON; whole: a broken body */
	FAKE_LLM_429,                 /* 429 with Retry-After (fake_llm_set_retry_after) */
	FAKE_LLM_5XX,                 /* 503 with an error body */
	FAKE_LLM_TEXT,                /* the text given to fake_llm_push_text, as a reply */
};

struct fake_llm_request {
	char *method;   /* owned */
	char *url;      /* owned: path plus "?k=v&..." when there were query arguments */
	char *headers;  /* owned: "name: value\n" lines, names lower-cased */
	char *body;     /* owned, NUL-terminated */
	size_t body_len;
	int64_t at_ms;  /* clock_mono_ms() when the request was complete */
};

struct fake_llm;

/* Start on 127.0.0.1, any free port. NULL with a message in err on failure. */
struct fake_llm *fake_llm_start(char *err, size_t errlen);
/* Stop (ends stalls) and free everything. */
void fake_llm_free(struct fake_llm *f);
/* "http://127.0.0.1:PORT" (borrowed). */
const char *fake_llm_url(const struct fake_llm *f);

/* Queue the behaviour for the next request. */
void fake_llm_push(struct fake_llm *f, enum fake_llm_behaviour b);
/* Queue a reply that says text (copied): FAKE_LLM_TEXT. */
void fake_llm_push_text(struct fake_llm *f, const char *text);
/* Milliseconds between streamed events (default 5). */
void fake_llm_set_chunk_delay(struct fake_llm *f, int ms);
/* Retry-After value in seconds sent with FAKE_LLM_429 (default 1). */
void fake_llm_set_retry_after(struct fake_llm *f, int seconds);

/* The text the model "says" for a content behaviour (DIAGNOSIS, PROSE,
 * GARBAGE, HALLUCINATED_COLUMN, UNKNOWN_ACTION); NULL for the others. */
const char *fake_llm_reply_text(enum fake_llm_behaviour b);

/* Requests recorded so far. */
size_t fake_llm_nrequests(struct fake_llm *f);
/* A copy of request i (release with fake_llm_request_release); -1 when no such. */
int fake_llm_request_get(struct fake_llm *f, size_t i, struct fake_llm_request *out);
void fake_llm_request_release(struct fake_llm_request *r);
/* The value of header name (lower case) in r, newly allocated, or NULL. */
char *fake_llm_header(const struct fake_llm_request *r, const char *name);

#endif
