/*
 * expect: what the tests of cockpit's YAML loaders share (test_config,
 * test_theme, and next the runbook tests): finding and reading the sample
 * files, and holding a loader's messages to what a table row or a sample
 * file says they must be.
 *
 * A sample file carries its own expectations as comment lines: each
 * "# expect: TEXT" names a message that must hold TEXT (one line each, so
 * their count is the number of messages), each "# forbid: TEXT" something
 * no message may hold (a secret). A new sample needs no new code.
 *
 * Files are found from the repository top: the current directory, or
 * $COCKPIT_TOP when set. Every helper fails the running cmocka test on a
 * mismatch, naming the case.
 */
#ifndef COCKPIT_TESTS_EXPECT_H
#define COCKPIT_TESTS_EXPECT_H

#include <stddef.h>
#include <string.h>

#define assert_contains(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (!h_ || !strstr(h_, n_)) \
		fail_msg("expected to find\n  %s\nin\n%s", n_, h_ ? h_ : "(null)"); \
} while (0)

#define assert_not_contains(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (h_ && strstr(h_, n_)) \
		fail_msg("did not expect\n  %s\nin\n%s", n_, h_); \
} while (0)

/* rel under the repository top (malloc'ed; caller frees). */
char *expect_top_path(const char *rel);
/* All of the file at path, NUL-terminated (malloc'ed; caller frees); its
 * length in *len when len is not NULL. Fails the test when it cannot be
 * opened. */
char *expect_slurp(const char *path, size_t *len);
/* How many lines s holds (its '\n'); 0 for NULL. */
size_t expect_count_lines(const char *s);

/* Check a loader's messages errs for the case what: errs is not NULL, each
 * of its lines starts with "FILE:" and ends in '\n', each of the first n
 * strings of expect (up to a NULL) is in it, forbid (when not NULL) is not,
 * and it has exactly lines lines (0: any number). */
void expect_messages(const char *what, const char *errs, const char *file,
                     const char *const *expect, size_t n, const char *forbid,
                     size_t lines);

/* A loader under test: load the len bytes at text (NUL-terminated too),
 * named name in messages; release what was loaded; return the loader's
 * result with its messages in *errs (malloc'ed). */
typedef int expect_load_fn(const char *name, const char *text, size_t len, char **errs);

/* Every file in dir (under the top) whose name contains pattern must fail
 * to load, loaded by its bare name as messages name the file as it was
 * given, with exactly the messages its "# expect: " lines name (at least
 * one), none holding what a "# forbid: " line names. Returns how many
 * files were checked. */
size_t expect_sample_files(const char *dir, const char *pattern, expect_load_fn *load);

#endif
