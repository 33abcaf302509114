/*
 * history: the last minutes of a few numbers, for sparklines.
 *
 * Fed once per new snapshot (by sequence number, so a repaint or a paused
 * screen adds nothing). Owned and read by the UI thread only.
 */
#ifndef COCKPIT_UI_HISTORY_H
#define COCKPIT_UI_HISTORY_H

#include <stdint.h>

#include "ui/sparkline.h"

#define HISTORY_SAMPLES 300  /* 5 minutes at the default 1 s refresh */
#define HISTORY_AGENTS 32    /* agents with their own sparkline */

struct history_agent {
	char *agent_id;           /* owned */
	struct sparkline share;   /* active_share samples */
	int64_t last_seen;        /* seq */
};

struct history {
	int64_t last_seq;
	int64_t last_generation;
	struct sparkline tps;
	struct sparkline active;
	struct sparkline waiting;
	struct sparkline connections;
	struct history_agent agents[HISTORY_AGENTS];
};

struct snapshot;

void history_init(struct history *h);
void history_release(struct history *h);
/* Add s when it is newer than the last one added (a replay stepping back
 * restarts the history). */
void history_add(struct history *h, const struct snapshot *s);
/* The sparkline of an agent, or NULL. */
const struct sparkline *history_agent(const struct history *h, const char *agent_id);

#endif
