/*
 * expect: shared helpers of the loader tests; see expect.h.
 */
#include "lib/expect.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *top(void)
{
	const char *t = getenv("COCKPIT_TOP");
	return t && *t ? t : ".";
}

char *expect_top_path(const char *rel)
{
	size_t n = strlen(top()) + strlen(rel) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", top(), rel);
	return p;
}

char *expect_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f)
		fail_msg("cannot open %s", path);
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

size_t expect_count_lines(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

void expect_messages(const char *what, const char *errs, const char *file,
                     const char *const *expect, size_t n, const char *forbid,
                     size_t lines)
{
	size_t flen = strlen(file);

	assert_non_null(errs);
	for (size_t i = 0; i < n && expect[i]; i++)
		assert_contains(errs, expect[i]);
	if (forbid)
		assert_not_contains(errs, forbid);
	if (lines && expect_count_lines(errs) != lines)
		fail_msg("%s: expected %zu messages, got:\n%s", what, lines, errs);
	/* one line per message, each naming the file */
	assert_true(*errs != '\0');
	assert_int_equal(errs[strlen(errs) - 1], '\n');
	for (const char *line = errs; *line; line = strchr(line, '\n') + 1)
		if (strncmp(line, file, flen) != 0 || line[flen] != ':')
			fail_msg("%s: a message does not start with '%s:':\n%s", what, file,
			         errs);
}

/* The "# expect: " / "# forbid: " lines of text against errs; returns how
 * many messages they expect. */
static size_t check_comments(const char *text, const char *errs)
{
	char *copy = strdup(text), *line, *save = NULL;
	size_t expects = 0;

	assert_non_null(copy);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# expect: ", 10) == 0) {
			assert_contains(errs, line + 10);
			expects++;
		} else if (strncmp(line, "# forbid: ", 10) == 0) {
			assert_not_contains(errs, line + 10);
		}
	}
	free(copy);
	return expects;
}

size_t expect_sample_files(const char *dir, const char *pattern, expect_load_fn *load)
{
	char *top_dir = expect_top_path(dir);
	DIR *d = opendir(top_dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		char *errs = NULL, *text;
		size_t expects, len;

		if (!strstr(e->d_name, pattern))
			continue;
		snprintf(path, sizeof(path), "%s/%s", top_dir, e->d_name);
		text = expect_slurp(path, &len);
		print_message("file: %s\n", e->d_name);
		assert_int_equal(load(e->d_name, text, len, &errs), -1);
		expects = check_comments(text, errs);
		if (expects == 0 || expects != expect_count_lines(errs))
			fail_msg("%s: %zu expected, got:\n%s", e->d_name, expects, errs);
		free(text);
		free(errs);
		n++;
	}
	closedir(d);
	free(top_dir);
	return n;
}
