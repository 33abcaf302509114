/*
 * yamlload: the machinery shared by every YAML file cockpit reads —
 * cockpit.conf (core/config.c), themes (ui/theme.c) and, next, runbooks.
 *
 * A loader reads the whole file (yamlload_read_file), lets libyaml's
 * document API build a node tree (yamlload_parse: every node carries its
 * line:column) and walks the layout it knows, adding one message per
 * problem instead of stopping at the first. yamlload_finish() sorts the
 * messages by position and hands them over as "FILE:LINE:COL: problem — fix"
 * lines, so one run lists everything there is to fix. What each file means
 * stays in its loader: the key tables, the wording of its messages and the
 * hints for libyaml's syntax errors are the loader's; the parsing, the
 * message list, the did-you-mean and the guards against hostile input are
 * here.
 *
 * A struct yamlload is one load in progress. It lives on the loader's stack
 * and is used by one thread; it is not shared.
 */
#ifndef COCKPIT_CORE_YAMLLOAD_H
#define COCKPIT_CORE_YAMLLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "core/strbuf.h"

/* Messages kept per load; what happens past this is the overflow policy. */
#define YAMLLOAD_MAX_ERRORS 100
/* Words longer than this get no did-you-mean. */
#define YAMLLOAD_MAX_WORD 64

struct yamlload_pos {
	int line, col;   /* 1-based, in characters; line 0: the file itself */
};

/* What happens to the messages past YAMLLOAD_MAX_ERRORS. */
enum yamlload_overflow {
	/* They are counted, not kept, and the walk goes on; the last line says
	 * "FILE: too many errors, N more not shown". */
	YAMLLOAD_COUNT_REST,
	/* They are dropped: the walk stops once yamlload_full() says so, and the
	 * last line says "FILE: too many errors, stopped after 100 — fix these
	 * first". */
	YAMLLOAD_STOP,
};

/* One of libyaml's problem texts and what usually causes it, as the fix
 * appended to the message. A loader keeps its own table, in its own words;
 * the table ends with a row whose problem is NULL. */
struct yamlload_hint {
	const char *problem;  /* a substring of libyaml's problem text */
	const char *hint;
};

struct yamlload_err;

struct yamlload {
	const char *file;                /* borrowed: the file's name in messages */
	const char *data;                /* borrowed: the text, not NUL-terminated */
	size_t len;                      /* bytes at data */
	enum yamlload_overflow overflow;
	/* The parsed document from a successful yamlload_parse() until
	 * yamlload_parse_end(), else NULL; points into this struct. */
	yaml_document_t *doc;

	/* private */
	const struct yamlload_hint *hints;  /* borrowed, from yamlload_parse() */
	yaml_parser_t parser;            /* initialised while doc is set */
	yaml_document_t document;
	struct yamlload_err *errs;       /* owned */
	size_t nerrs, alloc;
	size_t dropped;                  /* messages past YAMLLOAD_MAX_ERRORS */
};

/* Start a load of the len bytes at data (NULL: no text), named file in
 * messages. file and data are borrowed until yamlload_finish(). Never fails.
 * Only file is used when the load is just a way to word an error about the
 * file itself. */
void yamlload_init(struct yamlload *y, const char *file, const char *data, size_t len,
                   enum yamlload_overflow overflow);
/* End the load: free the document if it is still held, sort the messages by
 * position (ties in the order they were added), and return 0 when there
 * are none, else -1 with one line per message in *errs, each ending in
 * '\n': "FILE:LINE:COL: message", or "FILE: message" for line 0; then the
 * overflow line, if any. *errs is malloc'ed (caller frees) and NULL on
 * success; errs may be NULL. y holds nothing afterwards. */
int yamlload_finish(struct yamlload *y, char **errs);

/* Add a message at pos (printf-style). Past YAMLLOAD_MAX_ERRORS it is only
 * counted, whatever the overflow policy. */
void yamlload_error(struct yamlload *y, struct yamlload_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same at the start of node n. */
void yamlload_node_error(struct yamlload *y, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* True once YAMLLOAD_MAX_ERRORS messages are kept: with YAMLLOAD_STOP the
 * walk stops here rather than compute more messages. */
bool yamlload_full(const struct yamlload *y);
/* Messages added so far, those past the cap included: a loader compares two
 * counts to learn whether a step added any. */
size_t yamlload_count(const struct yamlload *y);

/* libyaml's scanner spends time in proportion to the open flow collections
 * on every token, so "[[[[...]]]]" a few hundred kilobytes deep takes
 * minutes to load. A first pass over the events finds the first mapping or
 * list nested more than max deep (block or flow alike) and stops there,
 * before the nesting gets expensive: true and *at set to its start. Syntax
 * errors are left to yamlload_parse(), which the caller skips on true. */
bool yamlload_too_deep(const struct yamlload *y, int max, struct yamlload_pos *at);

/* Parse the text into one document: 0 and y->doc set, or -1 after adding
 * the syntax error ("invalid YAML: PROBLEM (CONTEXT at line L column C) —
 * HINT": the hint from hints, borrowed until yamlload_parse_end(), or the
 * tab or UTF-8 advice). Out of memory aborts. After 0 the caller walks
 * y->doc, then calls yamlload_parse_end(). */
int yamlload_parse(struct yamlload *y, const struct yamlload_hint *hints);
/* After the walk: one document per file, as a second one would be silently
 * ignored. Adds "a second YAML document starts here — WHAT holds one; ..."
 * (what: "a theme file") or the syntax error that stops the second one,
 * then frees the document; y->doc is NULL afterwards. */
void yamlload_parse_end(struct yamlload *y, const char *what);

/* Node index of y->doc (a pair's key or value, a list's item), or NULL. */
yaml_node_t *yamlload_node(const struct yamlload *y, int index);
/* The 1-based position of a libyaml mark (0-based), clamped to INT_MAX. */
struct yamlload_pos yamlload_mark_pos(yaml_mark_t m);
/* Where node n starts. */
struct yamlload_pos yamlload_node_pos(const yaml_node_t *n);
/* The text of scalar n (NUL-terminated; may hold a NUL: yamlload_has_nul). */
const char *yamlload_scalar(const yaml_node_t *n);
/* A plain ~, null or nothing: "use the default". */
bool yamlload_is_null(const yaml_node_t *n);
/* Does scalar n hold a NUL byte ("\0" in double quotes)? */
bool yamlload_has_nul(const yaml_node_t *n);

/* The candidate word is most likely a misspelling of, for "(did you mean
 * '%s'?)", or NULL. Close means within max(2, len/3) edits (optimal string
 * alignment: a swapped pair is one edit; case is ignored) and fewer edits
 * than letters, or word of 3 letters or more starting a candidate ('thresh'
 * for 'thresholds'). The nearest wins, the first of equals. Words longer
 * than YAMLLOAD_MAX_WORD get no suggestion. Returns one of candidates. */
const char *yamlload_suggest(const char *word, const char *const *candidates, size_t n);

/* How yamlload_read_file() went. */
enum yamlload_read {
	YAMLLOAD_READ_OK,
	YAMLLOAD_READ_CANNOT_OPEN,  /* errno says why */
	YAMLLOAD_READ_DIRECTORY,    /* a directory, not a file */
	YAMLLOAD_READ_TOO_BIG,      /* more than max bytes */
	YAMLLOAD_READ_FAILED,       /* opened, but reading failed; errno says why
	                               (it may be 0) */
};

/* Append all of path, at most max bytes, to out. On failure out may hold
 * part of the file; the caller releases it either way. */
enum yamlload_read yamlload_read_file(const char *path, size_t max, struct strbuf *out);

/* Is the plain scalar s an integer ([+-]digits) / a number ([+-]digits
 * [.digits][e[+-]digits])? What the loaders accept before converting. */
bool yamlload_looks_integer(const char *s);
bool yamlload_looks_number(const char *s);

#endif
