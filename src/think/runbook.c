/*
 * runbook: the runbook loader and the bindings; see runbook.h and the
 * format reference, runbooks/README.md.
 *
 * The loader reads a whole file, lets libyaml's document API build a node
 * tree (core/yamlload.h: every node carries its line:column) and walks the
 * known layout. Every mapping of the layout is declared as a table of its
 * keys; one walk (walk_map) checks a mapping against its table — unknown
 * keys with a did-you-mean, keys given twice, keys that are not words — and
 * hands each value to the loader of that key. Problems are collected, not
 * returned at the first: each becomes one "FILE:LINE:COL: problem — fix"
 * line, and a file with any problem is not added to the set.
 *
 * Values that are data rather than layout (thresholds, params, when
 * conditions, args) become jansson values: a plain scalar is typed as YAML
 * reads it (null, true/false, an integer, a number, else text); a quoted
 * one stays text. YAML aliases are refused before the walk (a node reached
 * twice): they are what turns a small file into an exponential tree.
 */
#include "think/runbook.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "act/action.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "core/yamlload.h"
#include "think/detect.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Characters of a value quoted back in a message. */
#define MAX_SHOWN 40
/* Deepest nesting read: the file, actions, an action, params, a value, a
 * list inside it — six; the rest is headroom for shell args. */
#define MAX_DEPTH 12
/* Longest runbook name (a file stem). */
#define MAX_NAME 64
/* Sane maxima of the integers, seconds or counts. */
#define MAX_WAIT_S 3600
#define MAX_DEADLINE_S 86400
#define MAX_ATTEMPTS 100
#define MAX_SETTLE_S 600

/* ---------------------------------------------------------------- names */

static const char *const severity_names[] = { "info", "warning", "critical" };

const char *severity_name(enum severity s)
{
	if ((unsigned)s < ARRAY_SIZE(severity_names))
		return severity_names[s];
	return "?";
}

static const char *const risk_names[] = { "low", "medium", "high", "critical" };

/* ---------------------------------------------------------------- release */

static void verify_release(struct proposal_verify *v)
{
	free(v->sql);
	json_decref(v->args);
	free(v->expect);
}

static void runbook_release(struct runbook *r)
{
	free(r->name);
	free(r->title);
	free(r->file);
	free(r->detector);
	json_decref(r->thresholds);
	for (size_t i = 0; i < r->ncontext; i++) {
		free(r->context[i].name);
		free(r->context[i].sql);
		json_decref(r->context[i].args);
	}
	free(r->context);
	free(r->guidance);
	for (size_t i = 0; i < r->nactions; i++) {
		struct runbook_action *a = &r->actions[i];

		free(a->action);
		json_decref(a->when);
		json_decref(a->params);
		free(a->rationale);
		verify_release(&a->verify);
	}
	free(r->actions);
	free(r->drill.setup);
	for (size_t i = 0; i < r->drill.nsessions; i++)
		free(r->drill.sessions[i]);
	free(r->drill.sessions);
	free(r->drill.cleanup);
	memset(r, 0, sizeof(*r));
}

void runbook_set_release(struct runbook_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		runbook_release(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

const struct runbook *runbook_find(const struct runbook_set *set, const char *name)
{
	if (!set || !name)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].name && strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}

double runbook_threshold(const struct runbook *r, const char *name, double dflt)
{
	json_t *v;

	if (!r || !r->thresholds || !name)
		return dflt;
	v = json_object_get(r->thresholds, name);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

/* ---------------------------------------------------------------- paths */

static bool is_path_char(int ch)
{
	return isalnum(ch) || ch == '_' || ch == '-';
}

/* s[0..len) is a path: segments of path characters joined by single dots. */
static bool is_path(const char *s, size_t len)
{
	bool seg = false;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (!seg)
				return false;
			seg = false;
		} else if (is_path_char(ch)) {
			seg = true;
		} else {
			return false;
		}
	}
	return seg;
}

/* A segment that is an array index: digits only, no leading zero. */
static bool index_of(const char *s, size_t len, size_t *idx)
{
	size_t v = 0;

	if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*idx = v;
	return true;
}

/* The value at path s[0..len) in evidence, borrowed, or NULL. */
static json_t *path_n(const json_t *evidence, const char *s, size_t len)
{
	const json_t *cur = evidence;
	size_t i = 0;

	if (!cur || !is_path(s, len))
		return NULL;
	while (i < len && cur) {
		size_t j = i;
		size_t idx;

		while (j < len && s[j] != '.')
			j++;
		if (json_is_object(cur))
			cur = json_object_getn(cur, s + i, j - i);
		else if (json_is_array(cur) && index_of(s + i, j - i, &idx))
			cur = json_array_get(cur, idx);
		else
			cur = NULL;
		i = j + 1;
	}
	return (json_t *)cur;
}

json_t *runbook_path(const json_t *evidence, const char *path)
{
	return path ? path_n(evidence, path, strlen(path)) : NULL;
}

/* At s (a '{'): the length of the "{path}" binding that starts there, or 0. */
static size_t binding_at(const char *s)
{
	size_t n = 1;

	if (*s != '{')
		return 0;
	while (s[n] && (is_path_char((unsigned char)s[n]) || s[n] == '.'))
		n++;
	if (s[n] != '}' || !is_path(s + 1, n - 1))
		return 0;
	return n + 1;
}

/* s is exactly one binding "{path}". */
static bool is_sole_binding(const char *s)
{
	size_t n = binding_at(s);

	return n && s[n] == '\0';
}

static bool has_binding(const char *s)
{
	for (; *s; s++)
		if (*s == '{' && binding_at(s))
			return true;
	return false;
}

/* ---------------------------------------------------------------- rendering */

static void add_number(struct strbuf *sb, double x, bool exact)
{
	if (x > -1e15 && x < 1e15 && x == (double)(long long)x)
		strbuf_addf(sb, "%lld", (long long)x);
	else
		strbuf_addf(sb, exact ? "%.17g" : "%g", x);
}

/* A value as text people read: strings as they are, arrays "a, b". */
static void render(struct strbuf *sb, const json_t *v, int depth)
{
	char *dump;

	switch (json_typeof(v)) {
	case JSON_STRING:
		strbuf_add(sb, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		strbuf_addf(sb, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		add_number(sb, json_real_value(v), false);
		break;
	case JSON_TRUE:
		strbuf_addstr(sb, "true");
		break;
	case JSON_FALSE:
		strbuf_addstr(sb, "false");
		break;
	case JSON_NULL:
		strbuf_addstr(sb, "null");
		break;
	case JSON_ARRAY:
		if (depth < 8) {
			for (size_t i = 0; i < json_array_size(v); i++) {
				if (i)
					strbuf_addstr(sb, ", ");
				render(sb, json_array_get(v, i), depth + 1);
			}
			break;
		}
		/* fall through */
	case JSON_OBJECT:
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (dump)
			strbuf_addstr(sb, dump);
		free(dump);
		break;
	}
}

/* tmpl with every {path} replaced; *missing counts the paths not found. */
static char *interpolate(const char *tmpl, const json_t *evidence, size_t *missing)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "");
	for (const char *s = tmpl; *s;) {
		size_t n = *s == '{' ? binding_at(s) : 0;
		json_t *v;

		if (!n) {
			strbuf_addch(&sb, *s++);
			continue;
		}
		v = path_n(evidence, s + 1, n - 2);
		if (v) {
			render(&sb, v, 0);
		} else {
			strbuf_addch(&sb, '?');
			(*missing)++;
		}
		s += n;
	}
	return strbuf_detach(&sb, NULL);
}

char *runbook_bind_text(const char *tmpl, const json_t *evidence)
{
	size_t missing = 0;

	return tmpl ? interpolate(tmpl, evidence, &missing) : NULL;
}

static json_t *bind(const json_t *tmpl, const json_t *evidence, int depth)
{
	json_t *out, *v;

	if (!tmpl || depth > 64)
		return NULL;
	switch (json_typeof(tmpl)) {
	case JSON_STRING: {
		const char *s = json_string_value(tmpl);
		size_t missing = 0;
		char *text;

		if (strlen(s) != json_string_length(tmpl) || !has_binding(s))
			return json_incref((json_t *)tmpl);
		if (is_sole_binding(s)) {
			v = path_n(evidence, s + 1, strlen(s) - 2);
			return v ? json_incref(v) : NULL;
		}
		text = interpolate(s, evidence, &missing);
		out = missing ? NULL : json_string(text);
		free(text);
		return out;
	}
	case JSON_ARRAY:
		out = json_array();
		for (size_t i = 0; i < json_array_size(tmpl); i++) {
			v = bind(json_array_get(tmpl, i), evidence, depth + 1);
			if (!v) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, v);
		}
		return out;
	case JSON_OBJECT: {
		const char *key;
		json_t *item;

		out = json_object();
		json_object_foreach((json_t *)tmpl, key, item) {
			v = bind(item, evidence, depth + 1);
			if (!v) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, key, v);
		}
		return out;
	}
	default:
		return json_incref((json_t *)tmpl);
	}
}

json_t *runbook_bind_value(const json_t *tmpl, const json_t *evidence)
{
	return bind(tmpl, evidence, 0);
}

/* One item of a PostgreSQL array literal (nested arrays as such, to a
 * sane depth; deeper ones as JSON text). */
static void add_array_item(struct strbuf *sb, const json_t *v, int depth)
{
	struct strbuf tmp = STRBUF_INIT;

	if (json_is_null(v)) {
		strbuf_addstr(sb, "NULL");
		return;
	}
	if (json_is_array(v) && depth < 8) {
		strbuf_addch(sb, '{');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				strbuf_addch(sb, ',');
			add_array_item(sb, json_array_get(v, i), depth + 1);
		}
		strbuf_addch(sb, '}');
		return;
	}
	render(&tmp, v, 0);
	strbuf_addch(sb, '"');
	for (size_t i = 0; i < tmp.len; i++) {
		if (tmp.buf[i] == '"' || tmp.buf[i] == '\\')
			strbuf_addch(sb, '\\');
		strbuf_addch(sb, tmp.buf[i]);
	}
	strbuf_addch(sb, '"');
	strbuf_release(&tmp);
}

int runbook_bind_param(const json_t *tmpl, const json_t *evidence, char **out)
{
	json_t *v = runbook_bind_value(tmpl, evidence);
	struct strbuf sb = STRBUF_INIT;

	*out = NULL;
	if (!v)
		return -1;
	switch (json_typeof(v)) {
	case JSON_NULL:
		json_decref(v);
		return 0;
	case JSON_REAL:
		add_number(&sb, json_real_value(v), true);
		break;
	case JSON_ARRAY:
		add_array_item(&sb, v, 0);
		break;
	default:
		render(&sb, v, 0);
		break;
	}
	strbuf_addstr(&sb, "");
	json_decref(v);
	*out = strbuf_detach(&sb, NULL);
	return 0;
}

/* ---------------------------------------------------------------- conditions */

static const struct {
	const char *op;
	enum runbook_cmp cmp;
} cmp_ops[] = {
	/* two-character operators first */
	{ "<=", RUNBOOK_LE }, { ">=", RUNBOOK_GE }, { "==", RUNBOOK_EQ },
	{ "!=", RUNBOOK_NE }, { "<", RUNBOOK_LT }, { ">", RUNBOOK_GT },
};

/* The comparison operator s starts with, its length in *n, or -1. */
static int op_at(const char *s, size_t *n)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmp_ops); i++) {
		size_t len = strlen(cmp_ops[i].op);

		if (strncmp(s, cmp_ops[i].op, len) == 0) {
			*n = len;
			return (int)i;
		}
	}
	return -1;
}

/* s is a whole finite number (spaces around allowed). */
static bool parse_number(const char *s, double *out)
{
	char *end;
	double v;

	while (*s == ' ')
		s++;
	if (!*s || (!isdigit((unsigned char)*s) && *s != '-' && *s != '+' && *s != '.'))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno == ERANGE || !isfinite(v))
		return false;
	while (*end == ' ')
		end++;
	if (*end)
		return false;
	*out = v;
	return true;
}

static bool compare(enum runbook_cmp c, double a, double b)
{
	switch (c) {
	case RUNBOOK_LT: return a < b;
	case RUNBOOK_LE: return a <= b;
	case RUNBOOK_EQ: return a == b;
	case RUNBOOK_NE: return a != b;
	case RUNBOOK_GE: return a >= b;
	case RUNBOOK_GT: return a > b;
	}
	return false;
}

/* "OP NUMBER" into *c and *num; false when s is not one. */
static bool parse_comparison(const char *s, enum runbook_cmp *c, double *num)
{
	size_t n;
	int op = op_at(s, &n);

	if (op < 0 || !parse_number(s + n, num))
		return false;
	*c = cmp_ops[op].cmp;
	return true;
}

bool runbook_expect_parse(const char *s, struct runbook_expect *e)
{
	size_t n;
	int op;

	if (!s)
		return false;
	while (*s == ' ')
		s++;
	op = op_at(s, &n);
	if (op < 0)
		return false;
	e->cmp = cmp_ops[op].cmp;
	e->value = 0;
	s += n;
	while (*s == ' ')
		s++;
	if (strncmp(s, "baseline", 8) == 0) {
		for (s += 8; *s == ' '; s++)
			;
		e->baseline = true;
		return *s == '\0';
	}
	e->baseline = false;
	return parse_number(s, &e->value);
}

bool runbook_expect_holds(const struct runbook_expect *e, double measured, double baseline)
{
	return compare(e->cmp, measured, e->baseline ? baseline : e->value);
}

/* A number in v: a JSON number, or a string holding one. */
static bool number_of(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
		return parse_number(json_string_value(v), out);
	return false;
}

static bool condition_holds(const json_t *cond, const json_t *v, int depth)
{
	double a, b;
	enum runbook_cmp c;

	if (depth > 16)
		return false;
	if (json_is_array(cond)) {
		for (size_t i = 0; i < json_array_size(cond); i++)
			if (condition_holds(json_array_get(cond, i), v, depth + 1))
				return true;
		return false;
	}
	if (json_is_string(cond)) {
		const char *s = json_string_value(cond);

		if (parse_comparison(s, &c, &b))
			return v && number_of(v, &a) && compare(c, a, b);
		if (s[0] == '!') {
			json_t *rest = json_string(s + 1);
			bool holds = rest && !condition_holds(rest, v, depth + 1);

			json_decref(rest);
			return holds;
		}
		return json_is_string(v) && json_string_length(v) == json_string_length(cond) &&
		       memcmp(json_string_value(v), s, json_string_length(v)) == 0;
	}
	if (!v)
		return false;
	if (json_is_number(cond))
		return json_is_number(v) && json_number_value(v) == json_number_value(cond);
	if (json_is_boolean(cond) || json_is_null(cond))
		return json_typeof(v) == json_typeof(cond);
	return false;
}

bool runbook_when_holds(const json_t *when, const json_t *evidence)
{
	const char *path;
	json_t *cond;

	if (!when)
		return true;
	if (!json_is_object(when))
		return false;
	json_object_foreach((json_t *)when, path, cond) {
		if (!condition_holds(cond, runbook_path(evidence, path), 0))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- loader */

struct loader {
	struct yamlload y;          /* the file, its document and the messages */
	struct runbook *rb;         /* borrowed: being filled */
	const struct runbook_set *set;   /* borrowed: the runbooks so far */
	const char *stem;           /* the name must be this (load_dir), or NULL */
};

/* libyaml's problem texts, and what usually causes them in a runbook. */
static const struct yamlload_hint yaml_hints[] = {
	{ "mapping values are not allowed",
	  "quote a value that contains ': ' (SQL and rationales often do), or "
	  "write it as a block: 'sql: |' and the text indented below" },
	{ "did not find expected key",
	  "keys of one mapping must start in the same column" },
	{ "did not find expected '-' indicator",
	  "items of one list must start in the same column" },
	{ "did not find expected ',' or '}'",
	  "close the '{ ... }', separate its keys with ',', and quote a binding: "
	  "\"{root.pid}\"" },
	{ "did not find expected ',' or ']'",
	  "close the list '[ ... ]' and separate its items with ','" },
	{ "could not find expected ':'",
	  "write 'key: value' on one line, or quote a long value" },
	{ "found undefined alias",
	  "aliases are not supported in runbooks: write the value out" },
	{ "found unexpected end of stream",
	  "a quoted value is not closed" },
	{ "found character that cannot start any token",
	  "quote a value that starts with '@', '`' or '%'" },
	{ NULL, NULL },
};

/* s[0..len) quoted back safely: control bytes as '?', cut after MAX_SHOWN
 * characters with "...". */
static void add_shown(struct strbuf *sb, const char *s, size_t len)
{
	size_t shown = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch & 0xc0) != 0x80 && shown++ == MAX_SHOWN) {
			strbuf_addstr(sb, "...");
			return;
		}
		strbuf_addch(sb, ch < 0x20 || ch == 0x7f ? '?' : ch);
	}
}

/* What the file has at n, for "got ...": the value quoted, or its shape. */
static void describe_got(struct strbuf *sb, const yaml_node_t *n)
{
	if (yamlload_is_null(n)) {
		strbuf_addstr(sb, "nothing");
	} else if (n->type == YAML_MAPPING_NODE) {
		strbuf_addstr(sb, "a mapping");
	} else if (n->type == YAML_SEQUENCE_NODE) {
		strbuf_addstr(sb, "a list");
	} else {
		strbuf_addch(sb, '\'');
		add_shown(sb, yamlload_scalar(n), n->data.scalar.length);
		strbuf_addch(sb, '\'');
	}
}

/* "KEY must be WHAT, got GOT — FIX" at n. */
static void err_type(struct loader *L, const yaml_node_t *n, const char *key,
                     const char *what, const char *fix)
{
	struct strbuf got = STRBUF_INIT;

	describe_got(&got, n);
	yamlload_node_error(&L->y, n, "'%s' must be %s, got %s — %s", key, what, got.buf, fix);
	strbuf_release(&got);
}

/* "{root.pid}" written without quotes: YAML reads a flow mapping of one key
 * and no value. */
static bool unquoted_binding(const yaml_node_t *n, const struct loader *L, const char **path)
{
	yaml_node_t *k, *v;

	if (n->type != YAML_MAPPING_NODE || n->data.mapping.style != YAML_FLOW_MAPPING_STYLE ||
	    n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return false;
	k = yamlload_node(&L->y, n->data.mapping.pairs.start->key);
	v = yamlload_node(&L->y, n->data.mapping.pairs.start->value);
	if (!k || !v || k->type != YAML_SCALAR_NODE || !yamlload_is_null(v) ||
	    yamlload_has_nul(k) || !is_path(yamlload_scalar(k), k->data.scalar.length))
		return false;
	*path = yamlload_scalar(k);
	return true;
}

static void err_unquoted(struct loader *L, const yaml_node_t *n, const char *key,
                         const char *path)
{
	yamlload_node_error(&L->y, n, "'%s': {%s} without quotes is a YAML mapping, not a "
	                    "binding — quote it: \"{%s}\"", key, path, path);
}

/* Report every unquoted binding in n (a value and what it holds); true when
 * there was one. Depth is bounded by the pre-pass, aliases are refused. */
static bool find_unquoted(struct loader *L, const yaml_node_t *n, const char *key)
{
	const char *path;
	bool found = false;

	if (unquoted_binding(n, L, &path)) {
		err_unquoted(L, n, key, path);
		return true;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			yaml_node_t *c = yamlload_node(&L->y, *i);

			if (c && find_unquoted(L, c, key))
				found = true;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *c = yamlload_node(&L->y, p->value);

			if (c && find_unquoted(L, c, key))
				found = true;
		}
	}
	return found;
}

/* ---------------------------------------------------------------- scalars */

static bool is_true_word(const char *s)
{
	return !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE");
}

static bool is_false_word(const char *s)
{
	return !strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE");
}

/* "5s", "200 ms", "85%": a number with a unit. */
static bool has_unit(const char *s)
{
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s) || *s == '.')
		s++;
	while (*s == ' ')
		s++;
	return isalpha((unsigned char)*s) || *s == '%';
}

/* A text value (any non-empty scalar without NUL) at n; NULL after an error. */
static char *get_text(struct loader *L, const yaml_node_t *n, const char *key,
                      const char *fix)
{
	if (n->type != YAML_SCALAR_NODE || yamlload_is_null(n) || n->data.scalar.length == 0) {
		err_type(L, n, key, "text", fix);
		return NULL;
	}
	if (yamlload_has_nul(n)) {
		yamlload_node_error(&L->y, n, "'%s' holds a NUL byte ('\\0') — remove it", key);
		return NULL;
	}
	return xstrdup(yamlload_scalar(n));
}

/* An integer in [min, max] at n into *out; false after an error. */
static bool get_int(struct loader *L, const yaml_node_t *n, const char *key, long min,
                    long max, const char *unit, int *out)
{
	const char *s;
	long long v;

	if (n->type == YAML_SCALAR_NODE && !yamlload_has_nul(n) && !yamlload_is_null(n)) {
		s = yamlload_scalar(n);
		if (yamlload_looks_integer(s)) {
			errno = 0;
			v = strtoll(s, NULL, 10);
			if (errno == 0 && v >= min && v <= max) {
				*out = (int)v;
				return true;
			}
			yamlload_node_error(&L->y, n, "'%s' is %.*s%s, out of range — use a whole "
			                    "number of %s between %ld and %ld", key, MAX_SHOWN, s,
			                    n->data.scalar.length > MAX_SHOWN ? "..." : "", unit,
			                    min, max);
			return false;
		}
		if (has_unit(s)) {
			struct strbuf got = STRBUF_INIT;

			describe_got(&got, n);
			yamlload_node_error(&L->y, n, "'%s' must be a whole number of %s, got %s — "
			                    "write the number alone, without a unit", key, unit,
			                    got.buf);
			strbuf_release(&got);
			return false;
		}
	}
	{
		struct strbuf what = STRBUF_INIT, got = STRBUF_INIT;

		describe_got(&got, n);
		strbuf_addf(&what, "a whole number of %s between %ld and %ld", unit, min, max);
		yamlload_node_error(&L->y, n, "'%s' must be %s, got %s — e.g. '%s: %ld'", key,
		                    what.buf, got.buf,
		                    strrchr(key, '.') ? strrchr(key, '.') + 1 : key,
		                    min > 2 ? min : 2);
		strbuf_release(&what);
		strbuf_release(&got);
	}
	return false;
}

/* A number at n into *out; false after an error (words: what it is for). */
static bool get_number(struct loader *L, const yaml_node_t *n, const char *key,
                       const char *fix, double *out)
{
	if (n->type == YAML_SCALAR_NODE && !yamlload_has_nul(n) && !yamlload_is_null(n)) {
		const char *s = yamlload_scalar(n);

		if (yamlload_looks_number(s) && parse_number(s, out))
			return true;
		if (yamlload_looks_number(s)) {
			yamlload_node_error(&L->y, n, "'%s' is %.*s%s, out of range — %s", key,
			                    MAX_SHOWN, s, n->data.scalar.length > MAX_SHOWN ? "..." : "",
			                    fix);
			return false;
		}
		if (has_unit(s)) {
			struct strbuf got = STRBUF_INIT;

			describe_got(&got, n);
			yamlload_node_error(&L->y, n, "'%s' must be a number, got %s — write the "
			                    "number alone, without a unit", key, got.buf);
			strbuf_release(&got);
			return false;
		}
	}
	err_type(L, n, key, "a number", fix);
	return false;
}

static bool get_bool(struct loader *L, const yaml_node_t *n, const char *key, bool *out)
{
	if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    !yamlload_has_nul(n)) {
		const char *s = yamlload_scalar(n);

		if (is_true_word(s) || is_false_word(s)) {
			*out = is_true_word(s);
			return true;
		}
		if (!strcasecmp(s, "yes") || !strcasecmp(s, "no") || !strcasecmp(s, "on") ||
		    !strcasecmp(s, "off")) {
			yamlload_node_error(&L->y, n, "'%s' must be true or false, got '%s' — write "
			                    "'%s: %s'", key, s, key,
			                    !strcasecmp(s, "yes") || !strcasecmp(s, "on") ? "true"
			                                                                  : "false");
			return false;
		}
	}
	err_type(L, n, key, "true or false", "write 'true' or 'false'");
	return false;
}

/* ---------------------------------------------------------------- values */

/* A scalar as JSON: plain ones typed as YAML reads them, quoted ones text. */
static json_t *scalar_json(const yaml_node_t *n)
{
	const char *s = yamlload_scalar(n);
	double d;

	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (yamlload_is_null(n))
			return json_null();
		if (is_true_word(s))
			return json_true();
		if (is_false_word(s))
			return json_false();
		if (yamlload_looks_integer(s)) {
			long long v;

			errno = 0;
			v = strtoll(s, NULL, 10);
			if (errno == 0)
				return json_integer(v);
		}
		if (yamlload_looks_number(s) && parse_number(s, &d))
			return json_real(d);
	}
	return json_stringn(s, n->data.scalar.length);
}

/* The value at n as JSON (a new reference), or NULL after an error. Keys
 * of mappings must be text; depth is bounded by the pre-pass. */
static json_t *node_json(struct loader *L, const yaml_node_t *n, const char *key)
{
	json_t *out, *v;

	switch (n->type) {
	case YAML_SCALAR_NODE:
		v = scalar_json(n);
		if (!v)   /* invalid UTF-8 cannot come from libyaml; be safe */
			yamlload_node_error(&L->y, n, "'%s' holds a value that is not text — "
			                    "write it in UTF-8", key);
		return v;
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			yaml_node_t *item = yamlload_node(&L->y, *i);

			if (!item || !(v = node_json(L, item, key))) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, v);
		}
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yamlload_node(&L->y, p->key);
			yaml_node_t *vn = yamlload_node(&L->y, p->value);

			if (!k || !vn || k->type != YAML_SCALAR_NODE || yamlload_has_nul(k)) {
				if (k)
					yamlload_node_error(&L->y, k, "'%s': the keys of a mapping must be "
					                    "text — write 'name: value'", key);
				json_decref(out);
				return NULL;
			}
			if (!(v = node_json(L, vn, key))) {
				json_decref(out);
				return NULL;
			}
			json_object_setn_new(out, yamlload_scalar(k), k->data.scalar.length, v);
		}
		return out;
	default:
		yamlload_node_error(&L->y, n, "'%s' is empty — give it a value", key);
		return NULL;
	}
}

/* ---------------------------------------------------------------- mappings */

/* One key of a mapping of the layout. */
struct field {
	const char *name;
	const char *example;   /* for "missing" and type messages */
	bool required;
};

/* What walk_map found in a mapping, by field. */
struct walk {
	const yaml_node_t *vals[16];   /* the value nodes, NULL when not given */
	const yaml_node_t *keys[16];   /* their key nodes */
	bool guessed[16];              /* an unknown key was taken for this one */
};

/* Walk mapping n against fields into w: unknown keys (with a did-you-mean),
 * duplicates and non-text keys are reported. where: "" at the top, else
 * how messages name the mapping ("'trigger'", "an action"). */
static void walk_map(struct loader *L, const yaml_node_t *n, const char *where,
                     const struct field *fields, size_t nfields, struct walk *w)
{
	const char *names[16];
	struct strbuf got = STRBUF_INIT;
	const yaml_node_t **vals = w->vals, **keys = w->keys;

	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < nfields && i < ARRAY_SIZE(names); i++)
		names[i] = fields[i].name;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !yamlload_full(&L->y); p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const char *key, *guess;
		size_t f;

		if (!kn || !vn)
			continue;
		if (kn->type != YAML_SCALAR_NODE || yamlload_has_nul(kn) || yamlload_is_null(kn)) {
			strbuf_reset(&got);
			describe_got(&got, kn);
			yamlload_node_error(&L->y, kn, "keys%s%s must be words, got %s — write "
			                    "'key: value' lines", *where ? " in " : "", where,
			                    got.buf);
			continue;
		}
		key = yamlload_scalar(kn);
		for (f = 0; f < nfields; f++)
			if (strcmp(fields[f].name, key) == 0)
				break;
		strbuf_reset(&got);
		add_shown(&got, key, kn->data.scalar.length);
		if (f == nfields) {
			guess = yamlload_suggest(key, names, nfields);
			if (guess) {
				yamlload_node_error(&L->y, kn, "unknown key '%s'%s%s (did you mean "
				                    "'%s'?)", got.buf, *where ? " in " : "", where, guess);
				for (size_t i = 0; i < nfields; i++)
					if (names[i] == guess)
						w->guessed[i] = true;
			} else {
				struct strbuf list = STRBUF_INIT;

				for (size_t i = 0; i < nfields; i++)
					strbuf_addf(&list, "%s%s", i ? (i + 1 == nfields ? " and " : ", ")
					                             : "", fields[i].name);
				yamlload_node_error(&L->y, kn, "unknown key '%s'%s%s — %s takes %s",
				                    got.buf, *where ? " in " : "", where,
				                    *where ? where : "a runbook", list.buf);
				strbuf_release(&list);
			}
			continue;
		}
		if (keys[f]) {
			struct yamlload_pos first = yamlload_node_pos(keys[f]);

			yamlload_node_error(&L->y, kn, "'%s' is set twice%s%s (first at line %d) "
			                    "— keep one", got.buf, *where ? " in " : "", where,
			                    first.line);
			continue;
		}
		keys[f] = kn;
		vals[f] = vn;
	}
	strbuf_release(&got);
}

/* Report required fields that walk_map did not find, at the mapping n;
 * not those an unknown key was taken for (one message for one typo). */
static void check_required(struct loader *L, const yaml_node_t *n, const char *where,
                           const struct field *fields, size_t nfields,
                           const struct walk *w)
{
	for (size_t f = 0; f < nfields; f++)
		if (fields[f].required && !w->vals[f] && !w->guessed[f])
			yamlload_node_error(&L->y, n, "missing required key '%s'%s%s — add %s",
			                    fields[f].name, *where ? " in " : "", where,
			                    fields[f].example);
}

/* n must be a mapping; else say so. */
static bool want_map(struct loader *L, const yaml_node_t *n, const char *key,
                     const char *fix)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	err_type(L, n, key, "a mapping", fix);
	return false;
}

static bool want_list(struct loader *L, const yaml_node_t *n, const char *key,
                      const char *fix)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return true;
	err_type(L, n, key, "a list", fix);
	return false;
}

/* An args list: scalars (templates), kept as text. NULL after an error. */
static json_t *load_args(struct loader *L, const yaml_node_t *n, const char *key)
{
	json_t *out;
	bool ok = true;
	const char *path;

	if (!want_list(L, n, key, "write a list of parameters for $1, $2...: "
	                          "[\"{root.pid}\"]"))
		return NULL;
	out = json_array();
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top; i++) {
		yaml_node_t *item = yamlload_node(&L->y, *i);

		if (!item)
			continue;
		if (unquoted_binding(item, L, &path)) {
			err_unquoted(L, item, key, path);
			ok = false;
		} else if (item->type != YAML_SCALAR_NODE || yamlload_is_null(item)) {
			err_type(L, item, key, "a list of text values", "each parameter is one "
			         "value or binding such as \"{root.pid}\"");
			ok = false;
		} else if (yamlload_has_nul(item)) {
			yamlload_node_error(&L->y, item, "'%s' holds a NUL byte ('\\0') — remove "
			                    "it", key);
			ok = false;
		} else {
			json_array_append_new(out, json_stringn(yamlload_scalar(item),
			                                        item->data.scalar.length));
		}
	}
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* ---------------------------------------------------------------- sections */

static void load_name(struct loader *L, const yaml_node_t *n)
{
	struct strbuf got = STRBUF_INIT;
	const char *s;
	size_t len;
	const struct runbook *other;

	if (!(L->rb->name = get_text(L, n, "name", "e.g. 'name: lock-chain', the file's "
	                                          "name without .yaml")))
		return;
	s = L->rb->name;
	len = strlen(s);
	describe_got(&got, n);
	for (size_t i = 0; i < len; i++) {
		if (len > MAX_NAME || !(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_')) {
			yamlload_node_error(&L->y, n, "runbook name %s may hold only up to %d "
			                    "letters, digits, '-' and '_' — e.g. 'name: "
			                    "lock-chain'", got.buf, MAX_NAME);
			goto out;
		}
	}
	if (L->stem && strcmp(s, L->stem) != 0) {
		yamlload_node_error(&L->y, n, "runbook name %s differs from its file's name "
		                    "— a runbook is named after its file: write 'name: %s' "
		                    "or rename the file", got.buf, L->stem);
		goto out;
	}
	other = runbook_find(L->set, s);
	if (other)
		yamlload_node_error(&L->y, n, "runbook %s is already defined in %s — "
		                    "runbook names must be unique: rename or remove one",
		                    got.buf, other->file ? other->file : "another file");
out:
	strbuf_release(&got);
}

static void load_severity(struct loader *L, const yaml_node_t *n)
{
	const char *s, *guess;
	struct strbuf got = STRBUF_INIT;

	if (n->type == YAML_SCALAR_NODE && !yamlload_has_nul(n) && !yamlload_is_null(n)) {
		s = yamlload_scalar(n);
		for (size_t i = 0; i < ARRAY_SIZE(severity_names); i++) {
			if (strcmp(s, severity_names[i]) == 0) {
				L->rb->severity = (enum severity)i;
				return;
			}
		}
		describe_got(&got, n);
		guess = yamlload_suggest(s, severity_names, ARRAY_SIZE(severity_names));
		if (guess)
			yamlload_node_error(&L->y, n, "unknown severity %s (did you mean '%s'?)",
			                    got.buf, guess);
		else
			yamlload_node_error(&L->y, n, "unknown severity %s — use info, warning or "
			                    "critical", got.buf);
		strbuf_release(&got);
		return;
	}
	err_type(L, n, "severity", "a severity", "use info, warning or critical");
}

static const struct field trigger_fields[] = {
	{ "detector", "'detector: lock_chain' (a detector of think/detect.h)", true },
	{ "thresholds", "", false },
};

static void load_thresholds(struct loader *L, const yaml_node_t *n)
{
	struct strbuf key = STRBUF_INIT;

	L->rb->thresholds = json_object();
	if (yamlload_is_null(n))
		return;
	if (!want_map(L, n, "thresholds", "write a mapping of names to numbers: "
	                                  "'thresholds: {min_waiters: 1}'"))
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !yamlload_full(&L->y); p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		double v;

		if (!kn || !vn)
			continue;
		if (kn->type != YAML_SCALAR_NODE || yamlload_has_nul(kn) ||
		    !is_path(yamlload_scalar(kn), kn->data.scalar.length) ||
		    strchr(yamlload_scalar(kn), '.')) {
			struct strbuf got = STRBUF_INIT;

			describe_got(&got, kn);
			yamlload_node_error(&L->y, kn, "threshold names must be words of letters, "
			                    "digits and '_', got %s — e.g. 'min_waiters: 1'", got.buf);
			strbuf_release(&got);
			continue;
		}
		strbuf_reset(&key);
		strbuf_addstr(&key, "thresholds.");
		add_shown(&key, yamlload_scalar(kn), kn->data.scalar.length);
		if (json_object_get(L->rb->thresholds, yamlload_scalar(kn))) {
			yamlload_node_error(&L->y, kn, "'%s' is set twice — keep one", key.buf);
			continue;
		}
		if (yamlload_is_null(vn)) {
			yamlload_node_error(&L->y, kn, "'%s' has no value — write a number: '%s: 1'",
			                    key.buf, key.buf + strlen("thresholds."));
			continue;
		}
		if (get_number(L, vn, key.buf, "thresholds are numbers, e.g. 'wait_ms: 5000'", &v))
			json_object_set_new(L->rb->thresholds, yamlload_scalar(kn),
			                    v > -1e15 && v < 1e15 && v == (double)(long long)v
			                            ? json_integer((json_int_t)v) : json_real(v));
	}
	strbuf_release(&key);
}

static void load_trigger(struct loader *L, const yaml_node_t *n)
{
	struct walk w;
	const yaml_node_t **vals = w.vals;
	const char *s, *guess;

	if (!want_map(L, n, "trigger", "write 'trigger:' and below it, indented, "
	                               "'detector: lock_chain'"))
		return;
	walk_map(L, n, "'trigger'", trigger_fields, ARRAY_SIZE(trigger_fields), &w);
	check_required(L, n, "'trigger'", trigger_fields, ARRAY_SIZE(trigger_fields), &w);
	if (vals[0] && (L->rb->detector = get_text(L, vals[0], "trigger.detector",
	                                         "e.g. 'detector: lock_chain'"))) {
		s = L->rb->detector;
		if (!detect_find(s)) {
			const char *const *names = detect_names();
			size_t n_names = 0;
			struct strbuf list = STRBUF_INIT, got = STRBUF_INIT;

			while (names && names[n_names])
				n_names++;
			describe_got(&got, vals[0]);
			guess = yamlload_suggest(s, names, n_names);
			if (guess) {
				yamlload_node_error(&L->y, vals[0], "unknown detector %s (did you mean "
				                    "'%s'?)", got.buf, guess);
			} else {
				for (size_t i = 0; i < n_names; i++)
					strbuf_addf(&list, "%s%s", i ? ", " : "", names[i]);
				yamlload_node_error(&L->y, vals[0], "unknown detector %s — use one of: "
				                    "%s", got.buf, list.buf);
			}
			strbuf_release(&list);
			strbuf_release(&got);
		}
	}
	if (vals[1])
		load_thresholds(L, vals[1]);
}

static const struct field query_fields[] = {
	{ "name", "'name: blocker_locks' (the rows are found under this name)", true },
	{ "sql", "'sql: SELECT ...' (one statement; $1, $2... are the args)", true },
	{ "args", "", false },
};

static void load_context(struct loader *L, const yaml_node_t *n)
{
	struct walk w;
	const yaml_node_t **vals = w.vals;
	size_t count;

	if (yamlload_is_null(n))
		return;
	if (!want_list(L, n, "context", "write a list of queries, each '- name: ...' with "
	                                "'sql: ...' below it"))
		return;
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	L->rb->context = xcalloc(count ? count : 1, sizeof(*L->rb->context));
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top && !yamlload_full(&L->y); i++) {
		yaml_node_t *item = yamlload_node(&L->y, *i);
		struct runbook_query *q = &L->rb->context[L->rb->ncontext];

		if (!item)
			continue;
		if (!want_map(L, item, "context", "each query is a mapping: '- name: ...' with "
		                                  "'sql: ...' below it"))
			continue;
		L->rb->ncontext++;
		walk_map(L, item, "a context query", query_fields, ARRAY_SIZE(query_fields), &w);
		check_required(L, item, "a context query", query_fields,
		               ARRAY_SIZE(query_fields), &w);
		if (vals[0] && (q->name = get_text(L, vals[0], "context.name",
		                                   "e.g. 'name: blocker_locks'"))) {
			for (size_t j = 0; j + 1 < L->rb->ncontext; j++)
				if (L->rb->context[j].name && strcmp(L->rb->context[j].name, q->name) == 0)
					yamlload_node_error(&L->y, vals[0], "context query '%s' is "
					                    "defined twice — give each query its own name",
					                    q->name);
		}
		if (vals[1])
			q->sql = get_text(L, vals[1], "context.sql", "write the query: 'sql: SELECT "
			                                              "...'");
		if (vals[2] && !yamlload_is_null(vals[2]))
			q->args = load_args(L, vals[2], "context.args");
	}
}

/* ---------------------------------------------------------------- actions */

static const struct field verify_fields[] = {
	{ "sql", "'sql: SELECT count(*) ...' (one row, one number)", true },
	{ "args", "", false },
	{ "expect", "'expect: \"< baseline\"' (< <= == != >= > and a number or baseline)", true },
	{ "wait_s", "", false },
	{ "deadline_s", "", false },
	{ "attempts", "", false },
};

static void load_verify(struct loader *L, const yaml_node_t *n, struct proposal_verify *v)
{
	struct walk w;
	const yaml_node_t **vals = w.vals;
	struct runbook_expect e;
	bool wait_ok = true, deadline_ok = true;

	if (yamlload_is_null(n))
		return;
	if (!want_map(L, n, "verify", "write 'verify:' and below it, indented, 'sql:' and "
	                              "'expect:'"))
		return;
	walk_map(L, n, "'verify'", verify_fields, ARRAY_SIZE(verify_fields), &w);
	check_required(L, n, "'verify'", verify_fields, ARRAY_SIZE(verify_fields), &w);
	if (vals[0])
		v->sql = get_text(L, vals[0], "verify.sql", "write a query returning one number");
	if (vals[1] && !yamlload_is_null(vals[1]))
		v->args = load_args(L, vals[1], "verify.args");
	if (vals[2]) {
		if (vals[2]->type == YAML_SCALAR_NODE && !yamlload_has_nul(vals[2]) &&
		    runbook_expect_parse(yamlload_scalar(vals[2]), &e)) {
			v->expect = xstrdup(yamlload_scalar(vals[2]));
		} else {
			struct strbuf got = STRBUF_INIT;

			describe_got(&got, vals[2]);
			yamlload_node_error(&L->y, vals[2], "'verify.expect' %s is not a "
			                    "comparison — write one of < <= == != >= > followed by "
			                    "a number or the word baseline, quoted: 'expect: \"< "
			                    "baseline\"' or 'expect: \"== 0\"'", got.buf);
			strbuf_release(&got);
		}
	}
	if (vals[3])
		wait_ok = get_int(L, vals[3], "verify.wait_s", 0, MAX_WAIT_S, "seconds", &v->wait_s);
	if (vals[4])
		deadline_ok = get_int(L, vals[4], "verify.deadline_s", 0, MAX_DEADLINE_S,
		                      "seconds", &v->deadline_s);
	if (vals[5])
		get_int(L, vals[5], "verify.attempts", 0, MAX_ATTEMPTS, "attempts", &v->attempts);
	if (wait_ok && deadline_ok && v->deadline_s < v->wait_s)
		yamlload_node_error(&L->y, vals[4] ? vals[4] : vals[3] ? vals[3] : n,
		                    "'verify.deadline_s' %d is shorter than 'verify.wait_s' %d — "
		                    "the deadline counts from the action: make it at least %d",
		                    v->deadline_s, v->wait_s, v->wait_s);
}

/* A literal parameter (no binding) of the wrong shape for its type. */
static void check_param_literal(struct loader *L, const yaml_node_t *n, const json_t *v,
                                const char *action, const struct action_param *ap)
{
	const char *fix = NULL;

	if (json_is_string(v) && has_binding(json_string_value(v)))
		return;
	switch (ap->type) {
	case AP_PID:
		if (!json_is_integer(v))
			fix = "a pid is an integer, or a binding such as \"{root.pid}\"";
		break;
	case AP_PIDS:
		if (json_is_integer(v))
			fix = "pids are a list: [4711], or a binding such as \"{root.pids}\"";
		else if (!json_is_array(v))
			fix = "pids are a list of integers, or a binding such as \"{root.pids}\"";
		break;
	case AP_BOOL:
		if (!json_is_boolean(v))
			fix = "write true or false";
		break;
	case AP_COLUMNS:
		if (!json_is_array(v))
			fix = "columns are a list: [customer_id, created_at], or a binding such "
			      "as \"{columns}\"";
		break;
	default:
		break;
	}
	if (fix) {
		struct strbuf got = STRBUF_INIT;

		describe_got(&got, n);
		yamlload_node_error(&L->y, n, "parameter '%s' of action '%s' cannot be %s — %s",
		                    ap->name, action, got.buf, fix);
		strbuf_release(&got);
	}
}

static void load_params(struct loader *L, const yaml_node_t *n, struct runbook_action *a,
                        const struct action_def *def, const yaml_node_t *action_node)
{
	const char *path;
	size_t errors = yamlload_count(&L->y);

	a->params = json_object();
	if (n && !yamlload_is_null(n)) {
		if (unquoted_binding(n, L, &path)) {
			err_unquoted(L, n, "params", path);
			return;
		}
		if (!want_map(L, n, "params", "write a mapping of parameter names to values "
		                              "or bindings: 'params: {pids: \"{root.pids}\"}'"))
			return;
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top && !yamlload_full(&L->y); p++) {
			yaml_node_t *kn = yamlload_node(&L->y, p->key);
			yaml_node_t *vn = yamlload_node(&L->y, p->value);
			const struct action_param *ap;
			struct strbuf key = STRBUF_INIT;
			json_t *v;

			if (!kn || !vn)
				continue;
			if (kn->type != YAML_SCALAR_NODE || yamlload_has_nul(kn) ||
			    yamlload_is_null(kn)) {
				struct strbuf got = STRBUF_INIT;

				describe_got(&got, kn);
				yamlload_node_error(&L->y, kn, "parameter names must be words, got "
				                    "%s — write 'name: value'", got.buf);
				strbuf_release(&got);
				continue;
			}
			add_shown(&key, yamlload_scalar(kn), kn->data.scalar.length);
			if (json_object_get(a->params, yamlload_scalar(kn))) {
				yamlload_node_error(&L->y, kn, "parameter '%s' is set twice — keep one",
				                    key.buf);
				goto next;
			}
			ap = def ? action_param_find(def, yamlload_scalar(kn)) : NULL;
			if (def && !ap) {
				const char *names[32];
				size_t nn = 0;
				const char *guess;

				for (size_t i = 0; i < def->nparams && nn < ARRAY_SIZE(names); i++)
					names[nn++] = def->params[i].name;
				guess = yamlload_suggest(yamlload_scalar(kn), names, nn);
				if (guess) {
					yamlload_node_error(&L->y, kn, "unknown parameter '%s' for action "
					                    "'%s' (did you mean '%s'?)", key.buf,
					                    def->name, guess);
				} else if (nn == 0) {
					yamlload_node_error(&L->y, kn, "unknown parameter '%s' — action "
					                    "'%s' takes no parameters: remove 'params'",
					                    key.buf, def->name);
				} else {
					struct strbuf list = STRBUF_INIT;

					for (size_t i = 0; i < nn; i++)
						strbuf_addf(&list, "%s%s", i ? ", " : "", names[i]);
					yamlload_node_error(&L->y, kn, "unknown parameter '%s' for action "
					                    "'%s' — it takes %s", key.buf, def->name,
					                    list.buf);
					strbuf_release(&list);
				}
				goto next;
			}
			{
				struct strbuf k2 = STRBUF_INIT;
				bool unquoted;

				strbuf_addf(&k2, "params.%s", key.buf);
				unquoted = find_unquoted(L, vn, k2.buf);
				strbuf_release(&k2);
				if (unquoted)
					goto next;
			}
			v = node_json(L, vn, "params");
			if (!v)
				goto next;
			if (ap)
				check_param_literal(L, vn, v, def->name, ap);
			json_object_setn_new(a->params, yamlload_scalar(kn), kn->data.scalar.length, v);
next:
			strbuf_release(&key);
		}
	}
	/* a parameter with an error in it is not missing as well */
	if (!def || yamlload_count(&L->y) != errors)
		return;
	for (size_t i = 0; i < def->nparams; i++) {
		const struct action_param *ap = &def->params[i];

		if (ap->required && !json_object_get(a->params, ap->name))
			yamlload_node_error(&L->y, n && !yamlload_is_null(n) ? n : action_node,
			                    "action '%s' needs parameter '%s' — add '%s:' under "
			                    "'params'; it is %s", def->name, ap->name, ap->name,
			                    ap->help ? ap->help : "required");
	}
}

/* A condition value: scalar, or list of scalars; "OP x" must compare with a
 * number. */
static bool check_condition(struct loader *L, const yaml_node_t *n, const char *path,
                            bool in_list)
{
	const char *p;

	if (unquoted_binding(n, L, &p)) {
		yamlload_node_error(&L->y, n, "condition of '%s' is a mapping — a condition is "
		                    "a value, \"< 5\", \"!idle\" or a list of them", path);
		return false;
	}
	if (n->type == YAML_SEQUENCE_NODE && !in_list) {
		bool ok = true;

		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			yaml_node_t *item = yamlload_node(&L->y, *i);

			if (item && !check_condition(L, item, path, true))
				ok = false;
		}
		return ok;
	}
	if (n->type != YAML_SCALAR_NODE) {
		struct strbuf got = STRBUF_INIT;

		describe_got(&got, n);
		yamlload_node_error(&L->y, n, "condition of '%s' cannot be %s — a condition is "
		                    "a value, \"< 5\", \"!idle\"%s", path, got.buf,
		                    in_list ? " (lists do not nest)" : " or a list of them");
		strbuf_release(&got);
		return false;
	}
	if (yamlload_has_nul(n)) {
		yamlload_node_error(&L->y, n, "condition of '%s' holds a NUL byte — remove it",
		                    path);
		return false;
	}
	{
		const char *s = yamlload_scalar(n), *t = s;
		size_t len;
		enum runbook_cmp c;
		double num;

		while (*t == '!' && t[1] != '=')
			t++;
		if (op_at(t, &len) >= 0 && !parse_comparison(t, &c, &num)) {
			struct strbuf got = STRBUF_INIT, text = STRBUF_INIT;

			describe_got(&got, n);
			if (strncmp(t, "!=", 2) == 0) {
				const char *rest = t + 2 + strspn(t + 2, " ");

				/* the suggestion quotes the file's text too: safely */
				add_shown(&text, rest, strlen(rest));
				yamlload_node_error(&L->y, n, "condition %s of '%s' compares with "
				                    "something that is not a number — '!=' takes a "
				                    "number (\"!= 0\"); for text write \"!%s\"", got.buf,
				                    path, text.buf ? text.buf : "");
				strbuf_release(&text);
			} else
				yamlload_node_error(&L->y, n, "condition %s of '%s' compares with "
				                    "something that is not a number — write an operator "
				                    "and a number, e.g. \"< 5\" or \">= 0.3\"", got.buf,
				                    path);
			strbuf_release(&got);
			return false;
		}
	}
	return true;
}

static void load_when(struct loader *L, const yaml_node_t *n, struct runbook_action *a)
{
	bool ok = true;

	if (yamlload_is_null(n))
		return;
	if (!want_map(L, n, "when", "write a mapping of evidence paths to conditions: "
	                            "'when: {root.state: active}'"))
		return;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !yamlload_full(&L->y); p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);

		if (!kn || !vn)
			continue;
		if (kn->type != YAML_SCALAR_NODE || yamlload_has_nul(kn) ||
		    !is_path(yamlload_scalar(kn), kn->data.scalar.length)) {
			struct strbuf got = STRBUF_INIT;

			describe_got(&got, kn);
			yamlload_node_error(&L->y, kn, "'when' keys are evidence paths, got %s — "
			                    "write dotted names and indexes: 'root.state: active', "
			                    "'waiters.0.pid: \">= 1\"'", got.buf);
			strbuf_release(&got);
			ok = false;
			continue;
		}
		if (!check_condition(L, vn, yamlload_scalar(kn), false))
			ok = false;
	}
	if (ok)
		a->when = node_json(L, n, "when");
}

static const struct field action_fields[] = {
	{ "action", "'action: cancel_backend' (an action of the registry)", true },
	{ "when", "", false },
	{ "params", "", false },
	{ "risk", "", false },
	{ "confidence", "", false },
	{ "rationale", "", false },
	{ "verify", "", false },
};

static const struct action_def *check_action_name(struct loader *L, const yaml_node_t *n,
                                                  const char *s)
{
	const struct action_def *def = action_find(s);
	const struct action_def *all;
	const char *names[64], *guess;
	size_t n_all = 0, nn = 0;
	struct strbuf got = STRBUF_INIT, list = STRBUF_INIT;

	if (def)
		return def;
	all = action_all(&n_all);
	for (size_t i = 0; i < n_all && nn < ARRAY_SIZE(names); i++)
		names[nn++] = all[i].name;
	describe_got(&got, n);
	guess = yamlload_suggest(s, names, nn);
	if (guess) {
		yamlload_node_error(&L->y, n, "unknown action %s (did you mean '%s'?)", got.buf,
		                    guess);
	} else {
		for (size_t i = 0; i < nn; i++)
			strbuf_addf(&list, "%s%s", i ? ", " : "", names[i]);
		yamlload_node_error(&L->y, n, "unknown action %s — use one of: %s", got.buf,
		                    list.buf);
	}
	strbuf_release(&got);
	strbuf_release(&list);
	return NULL;
}

static void load_risk(struct loader *L, const yaml_node_t *n, struct runbook_action *a,
                      const struct action_def *def)
{
	struct strbuf got = STRBUF_INIT;
	enum risk r;
	const char *guess;

	describe_got(&got, n);
	if (n->type != YAML_SCALAR_NODE || yamlload_has_nul(n) || yamlload_is_null(n)) {
		err_type(L, n, "risk", "a risk level", "use low, medium, high or critical");
	} else if (!risk_parse(yamlload_scalar(n), &r)) {
		guess = yamlload_suggest(yamlload_scalar(n), risk_names, ARRAY_SIZE(risk_names));
		if (guess)
			yamlload_node_error(&L->y, n, "unknown risk %s (did you mean '%s'?)",
			                    got.buf, guess);
		else
			yamlload_node_error(&L->y, n, "unknown risk %s — use low, medium, high or "
			                    "critical", got.buf);
	} else if (def && r < def->risk) {
		yamlload_node_error(&L->y, n, "risk %s is below %s's own risk %s — omit risk "
		                    "or raise it", risk_name(r), def->name, risk_name(def->risk));
	} else {
		a->risk = r;
		a->risk_given = true;
	}
	strbuf_release(&got);
}

static void load_action(struct loader *L, const yaml_node_t *n, struct runbook_action *a)
{
	struct walk w;
	const yaml_node_t **vals = w.vals;
	const struct action_def *def = NULL;

	a->line = yamlload_node_pos(n).line;
	a->confidence = RUNBOOK_CONFIDENCE;
	a->verify.wait_s = RUNBOOK_WAIT_S;
	a->verify.deadline_s = RUNBOOK_DEADLINE_S;
	a->verify.attempts = RUNBOOK_ATTEMPTS;
	walk_map(L, n, "an action", action_fields, ARRAY_SIZE(action_fields), &w);
	check_required(L, n, "an action", action_fields, ARRAY_SIZE(action_fields), &w);
	if (vals[0] && (a->action = get_text(L, vals[0], "action", "e.g. 'action: "
	                                                          "cancel_backend'"))) {
		def = check_action_name(L, vals[0], a->action);
		if (def)
			a->risk = def->risk;
	}
	if (vals[1])
		load_when(L, vals[1], a);
	/* params misspelt: its required parameters are not missing */
	load_params(L, vals[2], a, w.guessed[2] ? NULL : def, n);
	if (vals[3])
		load_risk(L, vals[3], a, def);
	if (vals[4] && get_number(L, vals[4], "confidence", "a confidence is between 0 and "
	                                                     "1, e.g. 'confidence: 0.9'",
	                          &a->confidence) &&
	    !(a->confidence >= 0 && a->confidence <= 1)) {
		yamlload_node_error(&L->y, vals[4], "'confidence' %g is out of range — use a "
		                    "number between 0 and 1, e.g. 'confidence: 0.9'",
		                    a->confidence);
		a->confidence = RUNBOOK_CONFIDENCE;
	}
	if (vals[5] && !yamlload_is_null(vals[5]))
		a->rationale = get_text(L, vals[5], "rationale", "write a sentence; \"{path}\" "
		                                                  "inserts evidence");
	if (vals[6])
		load_verify(L, vals[6], &a->verify);
	if (!a->params)
		a->params = json_object();
}

static void load_actions(struct loader *L, const yaml_node_t *n)
{
	size_t count;

	if (yamlload_is_null(n))
		return;
	if (!want_list(L, n, "actions", "write a list of actions, each '- action: "
	                                "cancel_backend' with its keys below it"))
		return;
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	L->rb->actions = xcalloc(count ? count : 1, sizeof(*L->rb->actions));
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top && !yamlload_full(&L->y); i++) {
		yaml_node_t *item = yamlload_node(&L->y, *i);

		if (!item)
			continue;
		if (!want_map(L, item, "actions", "each action is a mapping: '- action: "
		                                  "cancel_backend' with its keys below it"))
			continue;
		load_action(L, item, &L->rb->actions[L->rb->nactions++]);
	}
}

/* ---------------------------------------------------------------- drill */

static const struct field drill_fields[] = {
	{ "setup", "", false },
	{ "sessions", "", false },
	{ "settle_s", "", false },
	{ "cleanup", "", false },
};

static void load_drill(struct loader *L, const yaml_node_t *n)
{
	struct walk w;
	const yaml_node_t **vals = w.vals;
	struct runbook_drill *d = &L->rb->drill;

	d->settle_s = RUNBOOK_SETTLE_S;
	if (!want_map(L, n, "drill", "write 'drill:' and below it, indented, 'setup:', "
	                             "'sessions:' and 'cleanup:'"))
		return;
	walk_map(L, n, "'drill'", drill_fields, ARRAY_SIZE(drill_fields), &w);
	if (!vals[0] && !vals[1] && !w.guessed[0] && !w.guessed[1])
		yamlload_node_error(&L->y, n, "'drill' needs 'setup' or 'sessions' — add the SQL "
		                    "that reproduces the incident on a sandbox database");
	if (vals[0] && !yamlload_is_null(vals[0]))
		d->setup = get_text(L, vals[0], "drill.setup", "write the SQL: 'setup: CREATE "
		                                               "TABLE ...'");
	if (vals[1] && !yamlload_is_null(vals[1]) &&
	    want_list(L, vals[1], "drill.sessions", "write a list of SQL texts, one per "
	                                            "session: '- BEGIN; UPDATE ...'")) {
		size_t count = (size_t)(vals[1]->data.sequence.items.top -
		                        vals[1]->data.sequence.items.start);

		d->sessions = xcalloc(count ? count : 1, sizeof(*d->sessions));
		for (yaml_node_item_t *i = vals[1]->data.sequence.items.start;
		     i < vals[1]->data.sequence.items.top; i++) {
			yaml_node_t *item = yamlload_node(&L->y, *i);
			char *s;

			if (item && (s = get_text(L, item, "drill.sessions", "each session is the "
			                                                     "SQL it sends, as text")))
				d->sessions[d->nsessions++] = s;
		}
	}
	if (vals[2])
		get_int(L, vals[2], "drill.settle_s", 0, MAX_SETTLE_S, "seconds", &d->settle_s);
	if (vals[3] && !yamlload_is_null(vals[3]))
		d->cleanup = get_text(L, vals[3], "drill.cleanup", "write the SQL: 'cleanup: DROP "
		                                                   "TABLE IF EXISTS ...'");
}

/* ---------------------------------------------------------------- top */

enum {
	TOP_NAME, TOP_TITLE, TOP_SEVERITY, TOP_TRIGGER, TOP_CONTEXT, TOP_GUIDANCE,
	TOP_ACTIONS, TOP_REPORT_ONLY, TOP_DRILL, TOP_COUNT
};

static const struct field top_fields[TOP_COUNT] = {
	[TOP_NAME] = { "name", "'name: lock-chain' (the file's name without .yaml)", true },
	[TOP_TITLE] = { "title", "'title: ...' (one line for people)", true },
	[TOP_SEVERITY] = { "severity", "'severity: warning' (info, warning or critical)", true },
	[TOP_TRIGGER] = { "trigger", "'trigger:' and below it, indented, 'detector: NAME'", true },
	[TOP_CONTEXT] = { "context", "", false },
	[TOP_GUIDANCE] = { "guidance", "'guidance: |' and below it, indented, the text for "
	                   "the operator and the LLM", true },
	[TOP_ACTIONS] = { "actions", "", false },   /* checked with report_only */
	[TOP_REPORT_ONLY] = { "report_only", "", false },
	[TOP_DRILL] = { "drill", "'drill:' with 'setup:', 'sessions:' and 'cleanup:' that "
	                "reproduce the incident", true },
};

static void load_top(struct loader *L, const yaml_node_t *root)
{
	struct walk w;
	const yaml_node_t **vals = w.vals;
	struct runbook *rb = L->rb;

	if (root->type != YAML_MAPPING_NODE) {
		err_type(L, root, "the top level", "a mapping of keys", "start the file with "
		         "'name: NAME', 'title: ...', 'severity: ...' and 'trigger:'");
		return;
	}
	walk_map(L, root, "", top_fields, TOP_COUNT, &w);
	check_required(L, root, "", top_fields, TOP_COUNT, &w);
	if (vals[TOP_NAME])
		load_name(L, vals[TOP_NAME]);
	if (vals[TOP_TITLE])
		rb->title = get_text(L, vals[TOP_TITLE], "title", "e.g. 'title: Lock chain "
		                                                  "behind a root blocker'");
	if (vals[TOP_SEVERITY])
		load_severity(L, vals[TOP_SEVERITY]);
	if (vals[TOP_TRIGGER])
		load_trigger(L, vals[TOP_TRIGGER]);
	if (vals[TOP_CONTEXT])
		load_context(L, vals[TOP_CONTEXT]);
	if (vals[TOP_GUIDANCE])
		rb->guidance = get_text(L, vals[TOP_GUIDANCE], "guidance", "write 'guidance: |' "
		                        "and the text below it, indented");
	if (vals[TOP_REPORT_ONLY])
		get_bool(L, vals[TOP_REPORT_ONLY], "report_only", &rb->report_only);
	if (vals[TOP_ACTIONS])
		load_actions(L, vals[TOP_ACTIONS]);
	if (!rb->report_only && rb->nactions == 0 && !w.guessed[TOP_ACTIONS] &&
	    (!vals[TOP_ACTIONS] || yamlload_is_null(vals[TOP_ACTIONS]) ||
	     (vals[TOP_ACTIONS]->type == YAML_SEQUENCE_NODE &&
	      vals[TOP_ACTIONS]->data.sequence.items.top ==
	              vals[TOP_ACTIONS]->data.sequence.items.start))) {
		if (vals[TOP_ACTIONS])
			yamlload_node_error(&L->y, vals[TOP_ACTIONS], "'actions' is empty — list at "
			                    "least one action, or set 'report_only: true' for a "
			                    "runbook that only reports and escalates");
		else
			yamlload_node_error(&L->y, root, "missing required key 'actions' — add a list "
			                    "of actions, or 'report_only: true' for a runbook that "
			                    "only reports and escalates");
	}
	if (rb->report_only && rb->nactions > 0)
		yamlload_node_error(&L->y, vals[TOP_ACTIONS], "'actions' lists %zu action%s but "
		                    "'report_only' is true — remove the actions or report_only",
		                    rb->nactions, rb->nactions == 1 ? "" : "s");
	if (!rb->thresholds)
		rb->thresholds = json_object();
	if (vals[TOP_DRILL])
		load_drill(L, vals[TOP_DRILL]);
}

/* A node reached twice from the root is an alias (or a cycle through one):
 * refused, as it multiplies what the walk and the JSON would hold. */
static bool find_alias(struct loader *L, const yaml_node_t *n, unsigned char *seen,
                       int depth, struct yamlload_pos *at)
{
	size_t idx = (size_t)(n - L->y.doc->nodes.start);

	if (seen[idx]) {
		*at = yamlload_node_pos(n);
		return true;
	}
	seen[idx] = 1;
	if (depth > MAX_DEPTH + 1)
		return false;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			yaml_node_t *c = yamlload_node(&L->y, *i);

			if (c && find_alias(L, c, seen, depth + 1, at))
				return true;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yamlload_node(&L->y, p->key);
			yaml_node_t *v = yamlload_node(&L->y, p->value);

			if ((k && find_alias(L, k, seen, depth + 1, at)) ||
			    (v && find_alias(L, v, seen, depth + 1, at)))
				return true;
		}
	}
	return false;
}

static void walk_document(struct loader *L)
{
	yaml_node_t *root = yaml_document_get_root_node(L->y.doc);
	struct yamlload_pos at;
	unsigned char *seen;

	if (!root || yamlload_is_null(root)) {
		yamlload_error(&L->y, (struct yamlload_pos){ 0, 0 }, "the file is empty — a "
		               "runbook needs name, title, severity, trigger, guidance, actions "
		               "and drill (runbooks/README.md)");
		return;
	}
	seen = xcalloc((size_t)(L->y.doc->nodes.top - L->y.doc->nodes.start), 1);
	if (find_alias(L, root, seen, 0, &at))
		yamlload_error(&L->y, at, "a YAML alias ('*name') is used here — runbooks do not "
		               "take anchors and aliases: write the value out");
	else
		load_top(L, root);
	free(seen);
}

static int load(struct runbook_set *out, const char *name, const char *stem,
                const char *data, size_t len, char **errs)
{
	struct runbook rb;
	struct loader L = { .rb = &rb, .set = out, .stem = stem };
	struct yamlload_pos deep;
	int ret;

	memset(&rb, 0, sizeof(rb));
	rb.file = xstrdup(name);
	yamlload_init(&L.y, name, data, len, YAMLLOAD_STOP);
	if (yamlload_too_deep(&L.y, MAX_DEPTH, &deep)) {
		yamlload_error(&L.y, deep, "the YAML nests deeper than %d levels — a runbook "
		               "needs six at most (the file, actions, an action, params, a "
		               "value and a list in it)", MAX_DEPTH);
	} else if (yamlload_parse(&L.y, yaml_hints) == 0) {
		walk_document(&L);
		yamlload_parse_end(&L.y, "a runbook file");
	}
	ret = yamlload_finish(&L.y, errs);
	if (ret == 0) {
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = rb;
	} else {
		runbook_release(&rb);
	}
	return ret;
}

int runbook_load_buffer(struct runbook_set *out, const char *name, const char *data,
                        size_t len, char **errs)
{
	return load(out, name, NULL, data, len, errs);
}

/* ---------------------------------------------------------------- directory */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A message about a file as a whole into all. */
static void file_error(struct strbuf *all, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void file_error(struct strbuf *all, const char *file, const char *fmt, ...)
{
	va_list ap;

	strbuf_addf(all, "%s: ", file);
	va_start(ap, fmt);
	strbuf_vaddf(all, fmt, ap);
	va_end(ap);
	strbuf_addch(all, '\n');
}

int runbook_load_dir(const char *dir, struct runbook_set *out, char **errs)
{
	struct strbuf all = STRBUF_INIT, path = STRBUF_INIT, text = STRBUF_INIT;
	char **names = NULL;
	size_t nnames = 0, alloc = 0;
	DIR *d;
	struct dirent *e;
	int ret = 0;

	if (errs)
		*errs = NULL;
	if (!dir || !*dir)
		dir = ".";
	d = opendir(dir);
	if (!d) {
		file_error(&all, dir, "cannot open the runbooks directory: %s — check "
		           "paths.runbooks_dir in cockpit.conf", strerror(errno));
		ret = -1;
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' ||
		    !((len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) ||
		      (len > 4 && strcmp(e->d_name + len - 4, ".yml") == 0)))
			continue;
		XGROW(names, alloc, nnames + 1);
		names[nnames++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (nnames)
		qsort(names, nnames, sizeof(*names), name_cmp);
	for (size_t i = 0; i < nnames; i++) {
		size_t len = strlen(names[i]);
		char *stem = xstrndup(names[i], len - (names[i][len - 4] == '.' ? 4 : 5));
		char *msgs = NULL;

		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, names[i]);
		strbuf_reset(&text);
		errno = 0;
		switch (yamlload_read_file(path.buf, RUNBOOK_MAX_BYTES, &text)) {
		case YAMLLOAD_READ_OK:
			if (load(out, path.buf, stem, text.buf ? text.buf : "", text.len, &msgs) < 0) {
				ret = -1;
				if (msgs)
					strbuf_addstr(&all, msgs);
			}
			break;
		case YAMLLOAD_READ_DIRECTORY:
			file_error(&all, path.buf, "is a directory, not a runbook — rename it or "
			           "move it out of the runbooks directory");
			ret = -1;
			break;
		case YAMLLOAD_READ_TOO_BIG:
			file_error(&all, path.buf, "is larger than %d bytes — this is not a "
			           "runbook", RUNBOOK_MAX_BYTES);
			ret = -1;
			break;
		case YAMLLOAD_READ_CANNOT_OPEN:
		case YAMLLOAD_READ_FAILED:
			file_error(&all, path.buf, "cannot read the runbook: %s — check its "
			           "permissions", strerror(errno ? errno : EIO));
			ret = -1;
			break;
		}
		free(msgs);
		free(stem);
	}
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	strbuf_release(&path);
	strbuf_release(&text);
	if (errs && all.len)
		*errs = strbuf_detach(&all, NULL);
	strbuf_release(&all);
	return ret;
}
