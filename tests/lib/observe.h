/*
 * observe: one look at the test cluster the way cockpit takes it — a
 * snapshot from the collector on the monitoring DSN, detection with the
 * runbooks, the rules' diagnosis of every incident — for the integration
 * tests of what comes after (the LLM's diagnosis, the advisor).
 */
#ifndef COCKPIT_TESTS_OBSERVE_H
#define COCKPIT_TESTS_OBSERVE_H

#include <libpq-fe.h>

struct config;
struct incident;
struct incident_list;
struct runbook_set;
struct snapshot;

/* Release *incidents and drop *snap (when set), then collect, detect and
 * diagnose into them; conn is the rules' catalog connection. Fails the test
 * when the collector cannot start. */
void tp_observe(const struct config *cfg, const struct runbook_set *set, PGconn *conn,
		struct snapshot **snap, struct incident_list *incidents);

/* The lock-chain incident whose root blocker is pid, or NULL. */
struct incident *tp_lock_chain(struct incident_list *incidents, int pid);

#endif
