/*
 * sse: an incremental parser for server-sent events (the text/event-stream
 * format of the WHATWG HTML standard), as LLM providers stream their replies.
 *
 * Bytes arrive in whatever pieces the network delivers: a line, an event or
 * even a CR LF pair may be cut anywhere, and the events that come out never
 * depend on where. Lines end in CR LF, LF or CR; "field: value" drops one
 * space after the colon; "data" lines are joined with LF; a line starting
 * with ':' is a comment (keep-alive); an empty line dispatches the event
 * (none when no data line came); a UTF-8 BOM at the very start is skipped;
 * unknown fields are ignored. "retry" is parsed and kept but not acted on.
 *
 * Memory is bounded: a line or an event larger than max_bytes is an error
 * (a hostile or broken server cannot make us grow without limit).
 *
 * Embedded by value: sse_parser_init / sse_parser_release. One thread at a
 * time (the one feeding it); no global state.
 */
#ifndef COCKPIT_THINK_SSE_H
#define COCKPIT_THINK_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

struct sse_event {
	const char *type;   /* borrowed: the "event" field, "message" when none */
	const char *data;   /* borrowed: the data lines joined by LF, NUL-terminated */
	size_t data_len;    /* bytes in data (data may hold NUL bytes) */
	const char *id;     /* borrowed: last event id seen, "" when none */
};

/* Called for each event; the pointers live until the callback returns.
 * Return 0 to go on, anything else to stop: sse_parser_feed returns it. */
typedef int (*sse_event_fn)(void *arg, const struct sse_event *ev);

#define SSE_DEFAULT_MAX_BYTES ((size_t)4 << 20)

struct sse_parser {
	sse_event_fn on_event;  /* borrowed */
	void *arg;              /* borrowed */
	size_t max_bytes;       /* limit for one line and for one event's data */
	struct strbuf line;     /* owned: the line being read */
	struct strbuf data;     /* owned: the event being assembled */
	struct strbuf type;     /* owned */
	struct strbuf id;       /* owned */
	bool has_data;          /* a data line came since the last dispatch */
	bool after_cr;          /* the last byte was CR: a following LF belongs to it */
	bool started;           /* past the (optional) BOM */
	int64_t retry_ms;       /* last "retry" field, -1 none */
	uint64_t events;        /* dispatched so far */
	const char *error;      /* static message after an error, else NULL */
};

/* max_bytes 0: SSE_DEFAULT_MAX_BYTES. */
void sse_parser_init(struct sse_parser *p, sse_event_fn fn, void *arg, size_t max_bytes);
void sse_parser_release(struct sse_parser *p);

/* Feed len bytes. Returns 0, the callback's non-zero stop value, or -1 when
 * a line or event is too large (p->error says so; the parser then refuses
 * more input with -1). */
int sse_parser_feed(struct sse_parser *p, const void *buf, size_t len);

/* End of input. An unterminated last line is processed as a line; an event
 * never closed by an empty line is NOT dispatched (the standard says so, and
 * for a model's reply it means truncation). Returns 1 when such an
 * incomplete event (or line) was pending, 0 when the stream ended cleanly,
 * -1 after an error. */
int sse_parser_finish(struct sse_parser *p);

#endif
