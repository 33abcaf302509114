/*
 * fuzz_recording: libFuzzer harness for the recording (JSON lines) loader.
 *
 * The input is a recording file: it is read through recording_load_stream()
 * from an fmemopen() stream, so NUL bytes, CR/LF mixes, blank lines, a last
 * line without '\n' and huge lines all come from the bytes themselves. What
 * must hold whatever the input:
 *   - the result and the outputs agree: 0 with at least one frame, or -1
 *     with no frames and one "fuzz.jsonl:..." message;
 *   - a recording that loads, written back frame by frame with
 *     recording_write() (what `cockpit record` does), loads again into as
 *     many frames with as many rows in every section: whatever replay
 *     accepted, record can write and replay can read back.
 * ASan/UBSan/LSan catch the rest (no crash, no leak on any path).
 *
 *   make fuzz                    (all harnesses; see the Makefile)
 *   build/fuzz/fuzz_recording -dict=tests/fuzz/recording.dict \
 *       build/fuzz/corpus/recording tests/fuzz/corpus/recording
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perceive/recording.h"
#include "perceive/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.jsonl"

static int load(const void *bytes, size_t size, struct recording *rec, char *err,
		size_t errlen)
{
	/* fmemopen() wants a writable buffer and a non-zero size on older
	 * glibc: read from a private copy, one byte longer than the data, and
	 * stop the stream at size by opening exactly size bytes of it. */
	char *copy = malloc(size + 1);
	FILE *f;
	int rc;

	if (!copy)
		abort();
	if (size)
		memcpy(copy, bytes, size);
	copy[size] = '\0';
	f = size ? fmemopen(copy, size, "r") : fopen("/dev/null", "r");
	if (!f)
		abort();
	rc = recording_load_stream(f, NAME, rec, err, errlen);
	fclose(f);
	free(copy);
	return rc;
}

static void check_result(int rc, const struct recording *rec, const char *err)
{
	if (rc == 0) {
		if (rec->nframes == 0 || !rec->frames)
			abort();
		for (size_t i = 0; i < rec->nframes; i++)
			if (!rec->frames[i])
				abort();
	} else {
		if (rc != -1 || rec->frames || rec->nframes)
			abort();
		if (strncmp(err, NAME ":", strlen(NAME ":")) != 0)
			abort();
	}
}

static void check_same_shape(const struct snapshot *a, const struct snapshot *b)
{
	if (a->nsessions != b->nsessions || a->nedges != b->nedges ||
	    a->nstatements != b->nstatements || a->nagents != b->nagents ||
	    a->ndeadlocks != b->ndeadlocks || a->nproblems != b->nproblems ||
	    a->disk.ndatabases != b->disk.ndatabases || a->disk.nslots != b->disk.nslots ||
	    a->disk.ntables != b->disk.ntables)
		abort();
	for (size_t i = 0; i < a->ndeadlocks; i++)
		if (a->deadlocks[i].nprocs != b->deadlocks[i].nprocs)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct recording rec, back;
	char err[512] = "", err2[512] = "";
	int rc = load(data, size, &rec, err, sizeof(err));
	char *out = NULL;
	size_t outlen = 0;
	FILE *w;

	check_result(rc, &rec, err);
	if (rc != 0)
		return 0;

	/* written back, it loads back */
	w = open_memstream(&out, &outlen);
	if (!w)
		abort();
	for (size_t i = 0; i < rec.nframes; i++)
		if (recording_write(w, rec.frames[i]) != 0)
			abort();
	fclose(w);
	if (load(out, outlen, &back, err2, sizeof(err2)) != 0) {
		fprintf(stderr, "fuzz_recording: written back, does not load: %s\n", err2);
		abort();
	}
	if (back.nframes != rec.nframes)
		abort();
	for (size_t i = 0; i < rec.nframes; i++)
		check_same_shape(rec.frames[i], back.frames[i]);
	recording_release(&back);
	recording_release(&rec);
	free(out);
	return 0;
}
