/*
 * yamlload: what every YAML loader of cockpit shares; see yamlload.h.
 *
 * The message list keeps each message with its position and the order it
 * was found in, so that sorting by position is stable and the messages of
 * one line stay in the order the walk met them. Positions are 1-based and
 * count characters, as an editor does; libyaml's marks are 0-based, and its
 * reader errors carry a byte offset instead, which is turned into a line
 * and column here.
 */
#include "core/yamlload.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/mem.h"

struct yamlload_err {
	struct yamlload_pos pos;
	size_t seq;      /* order of discovery, for a stable sort */
	char *msg;       /* owned */
};

static void out_of_memory(const char *file)
{
	fprintf(stderr, "cockpit: out of memory parsing %s\n", file);
	abort();
}

static void parser_init(yaml_parser_t *parser, const struct yamlload *y)
{
	if (!yaml_parser_initialize(parser))
		out_of_memory(y->file);
	yaml_parser_set_input_string(parser, (const unsigned char *)y->data, y->len);
}

/* ---------------------------------------------------------------- errors */

void yamlload_init(struct yamlload *y, const char *file, const char *data, size_t len,
                   enum yamlload_overflow overflow)
{
	memset(y, 0, sizeof(*y));
	y->file = file;
	y->data = data ? data : "";
	y->len = len;
	y->overflow = overflow;
}

static void error_add(struct yamlload *y, struct yamlload_pos pos, const char *fmt,
                      va_list ap) __attribute__((format(printf, 3, 0)));

static void error_add(struct yamlload *y, struct yamlload_pos pos, const char *fmt,
                      va_list ap)
{
	struct strbuf sb = STRBUF_INIT;

	if (yamlload_full(y)) {
		y->dropped++;
		return;
	}
	strbuf_vaddf(&sb, fmt, ap);
	XGROW(y->errs, y->alloc, y->nerrs + 1);
	y->errs[y->nerrs].pos = pos;
	y->errs[y->nerrs].seq = y->nerrs;
	y->errs[y->nerrs].msg = strbuf_detach(&sb, NULL);
	y->nerrs++;
}

void yamlload_error(struct yamlload *y, struct yamlload_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_add(y, pos, fmt, ap);
	va_end(ap);
}

void yamlload_node_error(struct yamlload *y, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_add(y, yamlload_node_pos(n), fmt, ap);
	va_end(ap);
}

bool yamlload_full(const struct yamlload *y)
{
	return y->nerrs >= YAMLLOAD_MAX_ERRORS;
}

size_t yamlload_count(const struct yamlload *y)
{
	return y->nerrs + y->dropped;
}

static int err_cmp(const void *a, const void *b)
{
	const struct yamlload_err *x = a, *y = b;

	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void doc_release(struct yamlload *y)
{
	if (!y->doc)
		return;
	yaml_document_delete(&y->document);
	yaml_parser_delete(&y->parser);
	y->doc = NULL;
}

int yamlload_finish(struct yamlload *y, char **errs)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = y->nerrs ? -1 : 0;

	doc_release(y);
	if (y->nerrs)
		qsort(y->errs, y->nerrs, sizeof(*y->errs), err_cmp);
	for (size_t i = 0; i < y->nerrs; i++) {
		struct yamlload_err *e = &y->errs[i];

		if (e->pos.line)
			strbuf_addf(&sb, "%s:%d:%d: %s\n", y->file, e->pos.line,
			            e->pos.col, e->msg);
		else
			strbuf_addf(&sb, "%s: %s\n", y->file, e->msg);
		free(e->msg);
	}
	if (y->overflow == YAMLLOAD_COUNT_REST && y->dropped)
		strbuf_addf(&sb, "%s: too many errors, %zu more not shown\n",
		            y->file, y->dropped);
	else if (y->overflow == YAMLLOAD_STOP && y->nerrs >= YAMLLOAD_MAX_ERRORS)
		strbuf_addf(&sb, "%s: too many errors, stopped after %d — fix these "
		            "first\n", y->file, YAMLLOAD_MAX_ERRORS);
	free(y->errs);
	y->errs = NULL;
	y->nerrs = y->alloc = y->dropped = 0;
	if (errs)
		*errs = ret ? strbuf_detach(&sb, NULL) : NULL;
	strbuf_release(&sb);
	return ret;
}

/* ---------------------------------------------------------------- parsing */

bool yamlload_too_deep(const struct yamlload *y, int max, struct yamlload_pos *at)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0;
	bool deep = false, done = false;

	parser_init(&parser, y);
	while (!done && yaml_parser_parse(&parser, &ev)) {
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > max) {
				*at = yamlload_mark_pos(ev.start_mark);
				deep = done = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return deep;
}

/* The byte at a libyaml mark, found by line and column (libyaml counts
 * characters, not bytes), or '\0' past the end. */
static char char_at(const struct yamlload *y, yaml_mark_t m)
{
	size_t i = 0, line = 0, col = 0;

	while (i < y->len && line < m.line)
		if (y->data[i++] == '\n')
			line++;
	while (i < y->len && col < m.column && y->data[i] != '\n') {
		i++;
		while (i < y->len && ((unsigned char)y->data[i] & 0xc0) == 0x80)
			i++;
		col++;
	}
	return i < y->len ? y->data[i] : '\0';
}

/* The message for the error that stopped the parser. */
static void syntax_error(struct yamlload *y, const yaml_parser_t *parser)
{
	struct strbuf msg = STRBUF_INIT;
	const char *problem = parser->problem ? parser->problem : "cannot parse";
	struct yamlload_pos at;

	if (parser->error == YAML_MEMORY_ERROR)
		out_of_memory(y->file);
	strbuf_addf(&msg, "invalid YAML: %s", problem);
	if (parser->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t off = parser->problem_offset < y->len ? parser->problem_offset : y->len;

		at.line = at.col = 1;
		for (size_t i = 0; i < off; i++) {
			if (y->data[i] == '\n')
				at.line++, at.col = 1;
			else if (((unsigned char)y->data[i] & 0xc0) != 0x80)
				at.col++;
		}
		if (parser->problem_value != -1)
			strbuf_addf(&msg, " (byte 0x%02x)", (unsigned)parser->problem_value & 0xffu);
		strbuf_addstr(&msg, " — the file must be UTF-8 text");
		goto out;
	}
	at = yamlload_mark_pos(parser->problem_mark);
	if (parser->context) {
		struct yamlload_pos cp = yamlload_mark_pos(parser->context_mark);

		strbuf_addf(&msg, " (%s at line %d column %d)", parser->context, cp.line, cp.col);
	}
	if (char_at(y, parser->problem_mark) == '\t') {
		strbuf_addstr(&msg, " — indent with spaces: YAML does not allow tabs");
		goto out;
	}
	for (const struct yamlload_hint *h = y->hints; h && h->problem; h++) {
		if (strstr(problem, h->problem)) {
			strbuf_addf(&msg, " — %s", h->hint);
			break;
		}
	}
out:
	yamlload_error(y, at, "%s", msg.buf);
	strbuf_release(&msg);
}

int yamlload_parse(struct yamlload *y, const struct yamlload_hint *hints)
{
	y->hints = hints;
	parser_init(&y->parser, y);
	if (!yaml_parser_load(&y->parser, &y->document)) {
		syntax_error(y, &y->parser);
		yaml_parser_delete(&y->parser);
		return -1;
	}
	y->doc = &y->document;
	return 0;
}

void yamlload_parse_end(struct yamlload *y, const char *what)
{
	yaml_document_t next;

	if (!y->doc)
		return;
	if (!yaml_parser_load(&y->parser, &next)) {
		syntax_error(y, &y->parser);
	} else {
		if (yaml_document_get_root_node(&next))
			yamlload_error(y, yamlload_mark_pos(next.start_mark), "a second YAML "
			               "document starts here — %s holds one; remove this '---' "
			               "and what follows, or merge them", what);
		yaml_document_delete(&next);
	}
	doc_release(y);
}

/* ---------------------------------------------------------------- nodes */

yaml_node_t *yamlload_node(const struct yamlload *y, int index)
{
	return yaml_document_get_node(y->doc, index);
}

struct yamlload_pos yamlload_mark_pos(yaml_mark_t m)
{
	struct yamlload_pos p = {
		.line = m.line >= INT_MAX ? INT_MAX : (int)m.line + 1,
		.col = m.column >= INT_MAX ? INT_MAX : (int)m.column + 1,
	};
	return p;
}

struct yamlload_pos yamlload_node_pos(const yaml_node_t *n)
{
	return yamlload_mark_pos(n->start_mark);
}

const char *yamlload_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

bool yamlload_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = yamlload_scalar(n);
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

bool yamlload_has_nul(const yaml_node_t *n)
{
	return strlen(yamlload_scalar(n)) != n->data.scalar.length;
}

/* ---------------------------------------------------------------- words */

/* Optimal string alignment distance (Damerau-Levenshtein where a transposed
 * pair counts once), case-insensitive so that 'Mode' finds 'mode'. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t r0[YAMLLOAD_MAX_WORD + 1], r1[YAMLLOAD_MAX_WORD + 1], r2[YAMLLOAD_MAX_WORD + 1];
	size_t *pp = r0, *p = r1, *cur = r2;

	if (la > YAMLLOAD_MAX_WORD || lb > YAMLLOAD_MAX_WORD)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		p[j] = j;
	for (size_t i = 1; i <= la; i++) {
		int ca = tolower((unsigned char)a[i - 1]);

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int cb = tolower((unsigned char)b[j - 1]);
			size_t best = p[j - 1] + (ca != cb);

			if (p[j] + 1 < best)
				best = p[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < best)
				best = pp[j - 2] + 1;
			cur[j] = best;
		}
		size_t *tmp = pp;
		pp = p;
		p = cur;
		cur = tmp;
	}
	return p[lb];
}

const char *yamlload_suggest(const char *word, const char *const *candidates, size_t n)
{
	size_t lw = strlen(word), limit = lw / 3 > 2 ? lw / 3 : 2;
	size_t best = SIZE_MAX;
	const char *found = NULL;

	if (lw == 0 || lw > YAMLLOAD_MAX_WORD)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t lc = strlen(candidates[i]);
		size_t d = edit_distance(word, candidates[i]);
		size_t longer = lw > lc ? lw : lc;

		if (d == SIZE_MAX)
			continue;
		if (!(d <= limit && d < longer) &&
		    !(lw >= 3 && strncasecmp(candidates[i], word, lw) == 0))
			continue;
		if (d < best) {
			best = d;
			found = candidates[i];
		}
	}
	return found;
}

/* ---------------------------------------------------------------- files */

enum yamlload_read yamlload_read_file(const char *path, size_t max, struct strbuf *out)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char chunk[8192];
	size_t n;
	enum yamlload_read ret = YAMLLOAD_READ_OK;
	int saved;

	if (!f)
		return YAMLLOAD_READ_CANNOT_OPEN;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = YAMLLOAD_READ_DIRECTORY;
		goto out_file;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > max) {
			ret = YAMLLOAD_READ_TOO_BIG;
			goto out_file;
		}
		strbuf_add(out, chunk, n);
	}
	if (ferror(f))
		ret = YAMLLOAD_READ_FAILED;
out_file:
	saved = errno;     /* fclose() must not hide why reading failed */
	fclose(f);
	errno = saved;
	return ret;
}

/* [+-]digits */
bool yamlload_looks_integer(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* [+-]digits[.digits][e[+-]digits], or with the digits after the dot. */
bool yamlload_looks_number(const char *s)
{
	bool digits = false;

	if (*s == '+' || *s == '-')
		s++;
	while (isdigit((unsigned char)*s))
		s++, digits = true;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			digits = true;
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}
