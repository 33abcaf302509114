/*
 * recording: snapshots as JSON lines, for `cockpit record` and replay.
 *
 * One line per snapshot, each the same JSON object `cockpit snapshot --json`
 * prints ("version": 1). The loader validates every line and names the first
 * bad one: `rec.jsonl:17: field 'sessions[].pid': expected an integer`.
 */
#ifndef COCKPIT_PERCEIVE_RECORDING_H
#define COCKPIT_PERCEIVE_RECORDING_H

#include <stddef.h>
#include <stdio.h>

struct snapshot;

struct recording {
	struct snapshot **frames; /* owned references, in file order */
	size_t nframes;
};

/* Append one snapshot as a line and flush. Returns 0, or -1 with errno. */
int recording_write(FILE *f, const struct snapshot *s);
/* Load a whole recording. On error returns -1 with "FILE:LINE: problem" in
 * err; nothing is kept. An empty file is an error (nothing to replay). */
int recording_load(const char *path, struct recording *rec, char *err, size_t errlen);
/* Same from an open stream; name is used in messages. */
int recording_load_stream(FILE *f, const char *name, struct recording *rec, char *err,
			  size_t errlen);
void recording_release(struct recording *rec);

#endif
