/*
 * sse: server-sent events, fed in arbitrary pieces; see sse.h.
 */
#include "think/sse.h"

#include <stdlib.h>
#include <string.h>

void sse_parser_init(struct sse_parser *p, sse_event_fn fn, void *arg, size_t max_bytes)
{
	memset(p, 0, sizeof(*p));
	p->on_event = fn;
	p->arg = arg;
	p->max_bytes = max_bytes ? max_bytes : SSE_DEFAULT_MAX_BYTES;
	strbuf_init(&p->line, 0);
	strbuf_init(&p->data, 0);
	strbuf_init(&p->type, 0);
	strbuf_init(&p->id, 0);
	p->retry_ms = -1;
}

void sse_parser_release(struct sse_parser *p)
{
	strbuf_release(&p->line);
	strbuf_release(&p->data);
	strbuf_release(&p->type);
	strbuf_release(&p->id);
}

static int sse_dispatch(struct sse_parser *p)
{
	struct sse_event ev;
	int rc;

	if (!p->has_data) {
		strbuf_reset(&p->type);
		return 0;
	}
	/* The standard drops one trailing LF from the joined data. */
	ev.type = p->type.len ? p->type.buf : "message";
	ev.data = p->data.buf;
	ev.data_len = p->data.len;
	ev.id = p->id.buf;
	p->events++;
	rc = p->on_event ? p->on_event(p->arg, &ev) : 0;
	strbuf_reset(&p->data);
	strbuf_reset(&p->type);
	p->has_data = false;
	return rc;
}

static int sse_field(struct sse_parser *p, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	const char *val;
	size_t nlen, vlen;

	if (len == 0)
		return sse_dispatch(p);
	if (line[0] == ':')
		return 0; /* comment */
	if (colon) {
		nlen = (size_t)(colon - line);
		val = colon + 1;
		vlen = len - nlen - 1;
		if (vlen && *val == ' ') {
			val++;
			vlen--;
		}
	} else {
		nlen = len;
		val = "";
		vlen = 0;
	}
	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		if (p->data.len + vlen + 1 > p->max_bytes) {
			p->error = "server-sent event too large";
			return -1;
		}
		if (p->has_data)
			strbuf_addch(&p->data, '\n');
		strbuf_add(&p->data, val, vlen);
		p->has_data = true;
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		strbuf_reset(&p->type);
		strbuf_add(&p->type, val, vlen);
	} else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
		if (!memchr(val, '\0', vlen)) {
			strbuf_reset(&p->id);
			strbuf_add(&p->id, val, vlen);
		}
	} else if (nlen == 5 && memcmp(line, "retry", 5) == 0) {
		int64_t ms = 0;
		size_t i;

		for (i = 0; i < vlen && val[i] >= '0' && val[i] <= '9' && ms < INT64_MAX / 10 - 10; i++)
			ms = ms * 10 + (val[i] - '0');
		if (vlen && i == vlen)
			p->retry_ms = ms;
	}
	return 0;
}

static int sse_end_line(struct sse_parser *p)
{
	int rc = sse_field(p, p->line.buf, p->line.len);

	strbuf_reset(&p->line);
	return rc;
}

int sse_parser_feed(struct sse_parser *p, const void *buf, size_t len)
{
	const unsigned char *s = buf;
	size_t i = 0;
	int rc;

	if (p->error)
		return -1;
	while (i < len) {
		if (!p->started) {
			/* Skip a UTF-8 BOM, which may itself arrive in pieces. */
			static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };
			size_t have = p->line.len;

			if (s[i] == bom[have]) {
				strbuf_addch(&p->line, s[i]);
				i++;
				if (p->line.len == 3) {
					strbuf_reset(&p->line);
					p->started = true;
				}
				continue;
			}
			p->started = true; /* what looked like a BOM stays as text */
		}
		if (p->after_cr) {
			p->after_cr = false;
			if (s[i] == '\n') {
				i++;
				continue;
			}
		}
		if (s[i] == '\r' || s[i] == '\n') {
			p->after_cr = s[i] == '\r';
			i++;
			if ((rc = sse_end_line(p)) != 0)
				return rc;
			continue;
		}
		{
			/* Copy up to the next line end in one go. */
			size_t j = i;

			while (j < len && s[j] != '\r' && s[j] != '\n')
				j++;
			if (p->line.len + (j - i) > p->max_bytes) {
				p->error = "server-sent event line too large";
				return -1;
			}
			strbuf_add(&p->line, s + i, j - i);
			i = j;
		}
	}
	return 0;
}

int sse_parser_finish(struct sse_parser *p)
{
	bool pending;

	if (p->error)
		return -1;
	if (!p->started && p->line.len) {
		/* Input was only a BOM prefix: no line. */
		strbuf_reset(&p->line);
		p->started = true;
	}
	if (p->line.len) {
		if (sse_end_line(p) < 0)
			return -1;
	}
	pending = p->has_data;
	strbuf_reset(&p->data);
	strbuf_reset(&p->type);
	p->has_data = false;
	return pending ? 1 : 0;
}
