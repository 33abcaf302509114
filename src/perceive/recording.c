/*
 * recording: JSON-lines writer and validating loader; see recording.h.
 */
#include "perceive/recording.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "perceive/snapshot.h"

int recording_write(FILE *f, const struct snapshot *s)
{
	json_t *j = snapshot_to_json(s);
	int rc = json_dumpf(j, f, JSON_COMPACT);

	json_decref(j);
	if (rc != 0 || fputc('\n', f) == EOF || fflush(f) != 0)
		return -1;
	return 0;
}

void recording_release(struct recording *rec)
{
	for (size_t i = 0; i < rec->nframes; i++)
		snapshot_unref(rec->frames[i]);
	free(rec->frames);
	rec->frames = NULL;
	rec->nframes = 0;
}

int recording_load_stream(FILE *f, const char *name, struct recording *rec, char *err,
			  size_t errlen)
{
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t len;
	long lineno = 0;
	int rc = -1;

	rec->frames = NULL;
	rec->nframes = 0;
	while ((len = getline(&line, &cap, f)) != -1) {
		json_error_t je;
		json_t *j;
		struct snapshot *s;
		char why[300];

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (memchr(line, '\0', (size_t)len)) {
			snprintf(err, errlen, "%s:%ld: a NUL byte in the line: not a recording", name, lineno);
			goto out;
		}
		j = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &je);
		if (!j) {
			snprintf(err, errlen, "%s:%ld:%d: invalid JSON: %s", name, lineno, je.column, je.text);
			goto out;
		}
		s = snapshot_from_json(j, why, sizeof(why));
		json_decref(j);
		if (!s) {
			snprintf(err, errlen, "%s:%ld: %s", name, lineno, why);
			goto out;
		}
		XGROW(rec->frames, alloc, rec->nframes + 1);
		rec->frames[rec->nframes++] = s;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", name, strerror(errno));
		goto out;
	}
	if (rec->nframes == 0) {
		snprintf(err, errlen, "%s: no snapshots in the recording (record one with "
			 "'cockpit record -o %s')", name, name);
		goto out;
	}
	rc = 0;
out:
	free(line);
	if (rc != 0)
		recording_release(rec);
	return rc;
}

int recording_load(const char *path, struct recording *rec, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		snprintf(err, errlen, "cannot open recording '%s': %s", path, strerror(errno));
		rec->frames = NULL;
		rec->nframes = 0;
		return -1;
	}
	rc = recording_load_stream(f, path, rec, err, errlen);
	fclose(f);
	return rc;
}
