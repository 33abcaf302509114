/*
 * brain: the thinking thread of the TUI. After each new snapshot from the
 * collector it runs the detectors (think/detect.h) and, for incidents it
 * has not diagnosed yet (or whose evidence changed: new root blocker, new
 * pids, a session's state or statement changed), the rules
 * (think/diagnose.h) on its own connection (the monitoring conninfo,
 * application_name=cockpit-brain). An incident whose evidence did not
 * change keeps the proposals diagnosed earlier (copies; policy judges them
 * again with the current time, so rate limits and idempotency stay true),
 * and is diagnosed afresh at most every BRAIN_REDIAGNOSE_S anyway. It
 * publishes the result as an immutable, reference-counted board, swapped
 * under a mutex like snapshots; the UI reads boards and never waits on the
 * brain.
 *
 * Incidents that clear are dropped from the board (and their pending
 * proposals with them); the brain remembers when each incident was first
 * seen so that detection-to-proposal time can be measured (board->times).
 *
 * Audit (when opts.audit is given): "incident.open" when an incident key is
 * first seen, "proposal" once per new proposal id of an incident (what the
 * shadow-mode weekly review reads), "incident.clear" when it is gone (with
 * how long it lasted and its detection-to-proposal time).
 *
 * Without a connection (no conninfo, or it is down) the brain still runs
 * the detectors that read the snapshot only and says so in board->note;
 * nothing is diagnosed, so nothing is proposed. Replay drives the brain
 * that way with brain_feed() (no collector, no conninfo).
 *
 * Handing allowed proposals to the executor (shadow and auto modes) is the
 * owner's job, on its own thread (act/executor.h's thread affinity): the
 * TUI does it when a new board arrives, through policy_gate().
 *
 * Thread affinity: brain_new/start/poke/feed/stop/free/get from the owner
 * (UI) thread; the work on the brain thread.
 */
#ifndef COCKPIT_THINK_BRAIN_H
#define COCKPIT_THINK_BRAIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "think/detect.h"

struct config;
struct collector;
struct policy_state;
struct audit;
struct snapshot;
struct brain;
struct advisor;

#define BRAIN_REDIAGNOSE_S 30   /* unchanged incidents are diagnosed again this often */

/* When an incident was seen and first had a proposal (board->times[i]
 * belongs to board->incidents.v[i]). */
struct board_times {
	double first_seen;           /* epoch seconds: the snapshot that first showed it */
	double proposal_at;          /* epoch seconds the first proposal appeared, 0 none yet */
	double proposal_ms;          /* proposal_at - first_seen in ms (wall clock of the brain:
	                                detection to proposal), -1 none yet */
};

struct board {
	_Atomic int refs;
	int64_t seq;                 /* counts boards */
	int64_t snapshot_seq;        /* the snapshot it was computed from */
	double at;                   /* epoch seconds */
	struct incident_list incidents;   /* owned */
	struct board_times *times;   /* owned: incidents.n entries */
	char *note;                  /* owned: one calm line when something is missing
	                                (no brain connection, runbooks failed to load), or NULL */
	int64_t diagnosed;           /* diagnose_incident() calls that made this board */
};

/* A published board is read-only. Any thread may hold and read it; while
 * the brain lives, it alone frees boards (the JSON they share with its
 * memos is counted on its thread only), once every other holder dropped
 * its reference. */
struct board *board_ref(struct board *b);
void board_unref(struct board *b);
/* The proposal with id on b, or NULL (and its incident in *in when given). */
const struct proposal *board_find_proposal(const struct board *b, const char *id,
					   const struct incident **in);
/* Index of the incident with key on b, or SIZE_MAX. */
size_t board_find_incident(const struct board *b, const char *key);

struct brain_opts {
	const struct config *cfg;              /* borrowed */
	const struct runbook_set *runbooks;    /* borrowed */
	struct collector *collector;           /* borrowed: snapshots come from it; NULL: brain_feed */
	const char *conninfo;                  /* monitoring conninfo for catalog/EXPLAIN, or NULL:
	                                          detectors only (copied) */
	const char *password_env;              /* or NULL (copied) */
	struct policy_state *policy;           /* borrowed, may be NULL */
	struct audit *audit;                   /* borrowed, may be NULL: incidents and proposals
	                                          are not audited */
	const char *note;                      /* a standing note for every board (runbook load
	                                          problems), or NULL (copied) */
	int wake_fd;                           /* a byte after each new board; -1 none */
	struct advisor *advisor;               /* borrowed, may be NULL: the LLM's second
	                                          opinion (think/advisor.h); stop the brain
	                                          before the advisor is freed */
};

/* A stopped brain. NULL (message in err) only when opts are unusable. */
struct brain *brain_new(const struct brain_opts *o, char *err, size_t errlen);
/* Start the thread. 0, or -1 when it cannot be created. */
int brain_start(struct brain *b);
/* Tell the brain a new snapshot is there (the UI forwards the collector's wake). */
void brain_poke(struct brain *b);
/* No collector (replay): think about s next (a reference is taken). */
void brain_feed(struct brain *b, struct snapshot *s);
/* Stop and join the thread (waits for the diagnosis in progress, bounded by
 * the connection's statement timeout). */
void brain_stop(struct brain *b);
void brain_free(struct brain *b);
/*
 * An operator's own request from the Sessions screen: cancel_backend or
 * terminate_backend of pid (whose backend started at backend_start, so a
 * reused pid is never meant). The brain prepares it like any proposal —
 * catalog check, guard, diff, policy — and shows it on the next boards as an
 * incident of runbook "operator" until the session ends or 10 minutes pass;
 * it runs only when accepted on the Proposals screen. Any thread.
 */
void brain_request(struct brain *b, const char *action, int pid, double backend_start);
/* Newest board (a new reference) or NULL before the first. */
struct board *brain_get(struct brain *b);

/* One round on the caller's thread, for tests and `cockpit` subcommands:
 * think about s on the brain's own connection (connecting when a conninfo
 * is set) and return the new board (a new reference; also published). The
 * brain must not be started. */
struct board *brain_think(struct brain *b, struct snapshot *s);

#endif
