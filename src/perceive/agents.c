/*
 * agents: SQL comment tag parsing and per-agent aggregation; see agents.h.
 *
 * The parser is deliberately strict about what it accepts (a tag value is
 * printable, at most 128 bytes, properly url-encoded) and lenient about where
 * it looks (any comment in the text), because its input is whatever a client
 * sent to the server: untrusted.
 */
#include "perceive/agents.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "perceive/snapshot.h"

#define TAG_VALUE_MAX 128

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode [v, v+n) into out (TAG_VALUE_MAX+1 bytes). url: %XX decoding
 * (sqlcommenter); quoted: \' unescaping. Returns false on a malformed value. */
static bool decode_value(const char *v, size_t n, bool url, char *out)
{
	size_t o = 0;

	while (n && isspace((unsigned char)*v))
		v++, n--;
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)v[i];

		if (c == '\\' && i + 1 < n && v[i + 1] == '\'') {
			c = '\'';
			i++;
		} else if (url && c == '%') {
			int h, l;

			if (i + 2 >= n)
				return false;
			h = hexval(v[i + 1]);
			l = hexval(v[i + 2]);
			if (h < 0 || l < 0)
				return false;
			c = h * 16 + l;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return false;
		if (o >= TAG_VALUE_MAX)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0;
}

/* Parse the key=value list of one comment body [b, e). */
static bool parse_comment(const char *b, const char *e, struct arena *a, struct agent_tags *out)
{
	struct agent_tags t = { NULL, NULL, NULL };
	const char *p = b;
	char val[TAG_VALUE_MAX + 1];

	while (p < e) {
		const char *k, *ke, *v, *ve;
		bool quoted = false;

		while (p < e && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (p >= e)
			break;
		k = p;
		while (p < e && (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
			p++;
		ke = p;
		while (p < e && isspace((unsigned char)*p))
			p++;
		if (ke == k || p >= e || *p != '=') {
			/* Not a key=value list: skip this word. */
			while (p < e && *p != ',')
				p++;
			continue;
		}
		p++;
		while (p < e && isspace((unsigned char)*p))
			p++;
		if (p < e && (*p == '\'' || *p == '"')) {
			char q = *p++;

			quoted = true;
			v = p;
			while (p < e && !(*p == q && p[-1] != '\\'))
				p++;
			if (p >= e)
				return false; /* unterminated quote: malformed */
			ve = p++;
		} else {
			v = p;
			while (p < e && *p != ',' && !isspace((unsigned char)*p))
				p++;
			ve = p;
		}
		if (!decode_value(v, (size_t)(ve - v), quoted, val))
			continue;
		if ((size_t)(ke - k) == 8 && strncmp(k, "agent_id", 8) == 0)
			t.agent_id = arena_strdup(a, val);
		else if ((size_t)(ke - k) == 7 && strncmp(k, "task_id", 7) == 0)
			t.task_id = arena_strdup(a, val);
		else if ((size_t)(ke - k) == 4 && strncmp(k, "step", 4) == 0)
			t.step = arena_strdup(a, val);
	}
	if (!t.agent_id)
		return false;
	*out = t;
	return true;
}

bool agents_parse_tags(const char *text, struct arena *a, struct agent_tags *out)
{
	const char *p = text;

	out->agent_id = out->task_id = out->step = NULL;
	if (!text)
		return false;
	while ((p = strstr(p, "/*")) != NULL) {
		const char *end = strstr(p + 2, "*/");
		const char *hit;

		if (!end)
			return false; /* truncated comment */
		hit = memmem(p + 2, (size_t)(end - p - 2), "agent_id", 8);
		if (hit && parse_comment(p + 2, end, a, out))
			return true;
		p = end + 2;
	}
	return false;
}

bool agents_match_app(const char *application, char *const *patterns, size_t npatterns)
{
	if (!application || !*application)
		return false;
	for (size_t i = 0; i < npatterns; i++)
		if (fnmatch(patterns[i], application, 0) == 0)
			return true;
	return false;
}

static int cmp_str(const void *x, const void *y)
{
	const char *const *a = x, *const *b = y;

	return strcmp(*a, *b);
}

static int cmp_agent(const void *x, const void *y)
{
	const struct snap_agent *a = x, *b = y;

	if (a->db_time_ms != b->db_time_ms)
		return a->db_time_ms < b->db_time_ms ? 1 : -1;
	if (a->sessions != b->sessions)
		return b->sessions - a->sessions;
	return strcmp(a->agent_id, b->agent_id);
}

static struct snap_agent *find_agent(struct snap_agent *arr, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(arr[mid].agent_id, id);

		if (c == 0)
			return &arr[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void agents_aggregate(struct snapshot *s, const struct agent_time *times, size_t ntimes,
		      double total_ms)
{
	const char **ids = xmalloc((s->nsessions + ntimes + 1) * sizeof(*ids));
	size_t nids = 0, nagents = 0, active_total = 0;
	struct snap_agent *agents;
	double now = s->server.now > 0 ? s->server.now : s->collected_at;

	for (size_t i = 0; i < s->nsessions; i++)
		if (s->sessions[i].agent_id)
			ids[nids++] = s->sessions[i].agent_id;
	for (size_t i = 0; i < ntimes; i++)
		if (times[i].agent_id)
			ids[nids++] = times[i].agent_id;
	qsort(ids, nids, sizeof(*ids), cmp_str);
	agents = nids ? arena_alloc(&s->arena, nids * sizeof(*agents)) : NULL;
	for (size_t i = 0; i < nids; i++)
		if (i == 0 || strcmp(ids[i], ids[i - 1]) != 0)
			agents[nagents++].agent_id = ids[i];
	free(ids);

	for (size_t i = 0; i < s->nsessions; i++) {
		const struct snap_session *x = &s->sessions[i];
		struct snap_agent *a;
		bool active = x->state && strcmp(x->state, "active") == 0;

		if (active && x->backend_type && strcmp(x->backend_type, "client backend") == 0)
			active_total++;
		if (!x->agent_id || !(a = find_agent(agents, nagents, x->agent_id)))
			continue;
		a->sessions++;
		if (x->wait_event_type && strcmp(x->wait_event_type, "Lock") == 0)
			a->waiting++;
		if (!x->state)
			continue;
		if (active) {
			double q = x->query_start > 0 && now > x->query_start ? now - x->query_start : 0;

			a->active++;
			if (q > a->longest_query_s)
				a->longest_query_s = q;
		} else if (strcmp(x->state, "idle") == 0) {
			a->idle++;
		} else if (strncmp(x->state, "idle in transaction", 19) == 0) {
			double d = x->state_change > 0 && now > x->state_change ? now - x->state_change : 0;

			a->idle_in_transaction++;
			if (d > a->longest_idle_in_xact_s)
				a->longest_idle_in_xact_s = d;
		}
		/* The current task is the one of the most recently started query. */
		if (x->task_id && (!a->task_id || active)) {
			a->task_id = x->task_id;
			a->step = x->step;
		}
	}
	for (size_t i = 0; i < ntimes; i++) {
		struct snap_agent *a;

		if (times[i].agent_id && (a = find_agent(agents, nagents, times[i].agent_id)))
			a->db_time_ms += times[i].ms;
	}
	for (size_t i = 0; i < nagents; i++) {
		agents[i].db_time_share = total_ms > 0 ? agents[i].db_time_ms / total_ms : 0;
		agents[i].active_share = active_total ? (double)agents[i].active / (double)active_total : 0;
	}
	if (nagents)
		qsort(agents, nagents, sizeof(*agents), cmp_agent);
	s->agents = agents;
	s->nagents = nagents;
}
