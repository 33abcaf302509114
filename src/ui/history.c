/*
 * history: sparkline samples per snapshot; see history.h.
 */
#include "ui/history.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "perceive/snapshot.h"

void history_init(struct history *h)
{
	memset(h, 0, sizeof(*h));
	h->last_seq = -1;
	sparkline_init(&h->tps, HISTORY_SAMPLES);
	sparkline_init(&h->active, HISTORY_SAMPLES);
	sparkline_init(&h->waiting, HISTORY_SAMPLES);
	sparkline_init(&h->connections, HISTORY_SAMPLES);
}

void history_release(struct history *h)
{
	sparkline_release(&h->tps);
	sparkline_release(&h->active);
	sparkline_release(&h->waiting);
	sparkline_release(&h->connections);
	for (size_t i = 0; i < HISTORY_AGENTS; i++) {
		free(h->agents[i].agent_id);
		if (h->agents[i].agent_id)
			sparkline_release(&h->agents[i].share);
	}
	memset(h, 0, sizeof(*h));
}

static struct history_agent *agent_slot(struct history *h, const char *id, int64_t seq)
{
	struct history_agent *oldest = &h->agents[0];

	for (size_t i = 0; i < HISTORY_AGENTS; i++) {
		struct history_agent *a = &h->agents[i];

		if (a->agent_id && strcmp(a->agent_id, id) == 0)
			return a;
		if (!a->agent_id || (oldest->agent_id && a->last_seen < oldest->last_seen))
			oldest = a;
	}
	if (oldest->agent_id) {
		free(oldest->agent_id);
		sparkline_reset(&oldest->share);
	} else {
		sparkline_init(&oldest->share, HISTORY_SAMPLES);
	}
	oldest->agent_id = xstrdup(id);
	oldest->last_seen = seq;
	return oldest;
}

void history_add(struct history *h, const struct snapshot *s)
{
	int active = 0, waiting = 0, conns = 0;

	if (!s || s->stats.seq == h->last_seq)
		return;
	if (s->stats.seq < h->last_seq || s->generation != h->last_generation) {
		history_release(h);
		history_init(h);
	}
	h->last_seq = s->stats.seq;
	h->last_generation = s->generation;
	for (size_t i = 0; i < s->nsessions; i++) {
		const struct snap_session *x = &s->sessions[i];

		if (!x->backend_type || strcmp(x->backend_type, "client backend") != 0)
			continue;
		conns++;
		if (x->state && strcmp(x->state, "active") == 0)
			active++;
		if (x->wait_event_type && strcmp(x->wait_event_type, "Lock") == 0)
			waiting++;
	}
	sparkline_push(&h->tps, s->connected ? s->server.tps : -1);
	sparkline_push(&h->active, s->connected ? active : -1);
	sparkline_push(&h->waiting, s->connected ? waiting : -1);
	sparkline_push(&h->connections, s->connected ? conns : -1);
	for (size_t i = 0; i < s->nagents; i++) {
		struct history_agent *a;

		if (!s->agents[i].agent_id)
			continue;
		a = agent_slot(h, s->agents[i].agent_id, s->stats.seq);
		a->last_seen = s->stats.seq;
		sparkline_push(&a->share, s->agents[i].db_time_share > 0 ? s->agents[i].db_time_share
									   : s->agents[i].active_share);
	}
}

const struct sparkline *history_agent(const struct history *h, const char *agent_id)
{
	for (size_t i = 0; i < HISTORY_AGENTS; i++)
		if (h->agents[i].agent_id && strcmp(h->agents[i].agent_id, agent_id) == 0)
			return &h->agents[i].share;
	return NULL;
}
