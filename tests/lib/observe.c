/*
 * observe: see observe.h.
 */
#include "lib/observe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/clock.h"
#include "perceive/collector.h"
#include "perceive/snapshot.h"
#include "think/detect.h"
#include "think/diagnose.h"
#include "lib/testpg.h"

void tp_observe(const struct config *cfg, const struct runbook_set *set, PGconn *conn,
		struct snapshot **snap, struct incident_list *incidents)
{
	char err[512];
	struct collector *c = collector_new(cfg, NULL, tp_monitor_dsn(), err, sizeof(err));
	struct detect_ctx dc;
	struct diagnose_ctx gc;

	if (!c)
		fail_msg("collector: %s", err);
	incident_list_release(incidents);
	if (*snap)
		snapshot_unref(*snap);
	*snap = collector_collect(c, true);
	collector_free(c);
	assert_true((*snap)->connected);
	dc = (struct detect_ctx){ *snap, cfg, set, conn };
	detect_run(&dc, incidents);
	gc = (struct diagnose_ctx){ .conn = conn, .snap = *snap, .cfg = cfg, .runbooks = set,
				    .now = (double)clock_wall_us() / 1e6 };
	diagnose_all(&gc, incidents);
}

struct incident *tp_lock_chain(struct incident_list *incidents, int pid)
{
	for (size_t i = 0; i < incidents->n; i++) {
		struct incident *in = &incidents->v[i];
		const json_t *root = json_object_get(in->evidence, "root");

		if (in->runbook && strcmp(in->runbook, "lock-chain") == 0 &&
		    json_integer_value(json_object_get(root, "pid")) == pid)
			return in;
	}
	return NULL;
}
