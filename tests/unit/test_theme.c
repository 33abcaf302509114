/*
 * test_theme: the role table, the shipped themes and the theme loader
 * (src/ui/theme.c).
 *
 * Most cases are rows of tables: a YAML text and the messages it must give
 * (file:line:col, the subject, the fix), a colour value and what it maps to.
 * The sample files under tests/data/themes carry their own expectations as
 * "# expect: ..." comment lines, so a new sample needs no new code. Every
 * file in themes/ must load without a message and set every role. Files are
 * found from the repository top: the current directory, or $COCKPIT_TOP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/expect.h"
#include "ui/theme.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum { BLACK, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE };

/* ---------------------------------------------------------------- helpers */

static int load_str(struct theme *t, const char *yaml, char **errs)
{
	return theme_load_buffer(t, "theme.yaml", yaml, strlen(yaml), errs);
}

static void assert_style_equal(const struct theme_style *a, const struct theme_style *b,
                               const char *what)
{
	if (a->fg256 != b->fg256 || a->bg256 != b->bg256 || a->fg8 != b->fg8 ||
	    a->bg8 != b->bg8 || a->attr != b->attr || a->mono_attr != b->mono_attr)
		fail_msg("%s: { %d %d %d %d %#x %#x } != { %d %d %d %d %#x %#x }", what,
		         a->fg256, a->bg256, a->fg8, a->bg8, a->attr, a->mono_attr,
		         b->fg256, b->bg256, b->fg8, b->bg8, b->attr, b->mono_attr);
}

static void assert_roles_equal(const struct theme *a, const struct theme *b)
{
	for (int r = 0; r < THEME_ROLE_COUNT; r++)
		assert_style_equal(&a->roles[r], &b->roles[r], theme_role_name((enum theme_role)r));
}

/* The shipped theme files (names without .yaml), sorted. */
static size_t shipped_themes(char names[][64], size_t max)
{
	char *dir = expect_top_path("themes");
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		fail_msg("cannot open %s", dir);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len <= 5 || strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		assert_true(n < max && len - 5 < 64);
		snprintf(names[n++], 64, "%.*s", (int)(len - 5), e->d_name);
	}
	closedir(d);
	free(dir);
	qsort(names, n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	return n;
}

/* ---------------------------------------------------------------- roles */

static void test_role_names(void **state)
{
	(void)state;
	for (int r = 0; r < THEME_ROLE_COUNT; r++) {
		const char *name = theme_role_name((enum theme_role)r);
		const char *help = theme_role_help((enum theme_role)r);

		assert_non_null(name);
		assert_int_equal(theme_role_by_name(name), r);
		/* help is for generated docs: a phrase, lower case, no full stop */
		assert_non_null(help);
		assert_true(strlen(help) > 3);
		assert_true(help[strlen(help) - 1] != '.');
		assert_false(help[0] >= 'A' && help[0] <= 'Z');
	}
	assert_null(theme_role_name(THEME_ROLE_COUNT));
	assert_null(theme_role_help(THEME_ROLE_COUNT));
	assert_int_equal(theme_role_by_name("lock.blocer"), -1);
	assert_int_equal(theme_role_by_name("Lock.Blocker"), -1);
	assert_int_equal(theme_role_by_name(""), -1);
	assert_int_equal(theme_role_by_name(NULL), -1);
}

/* The names other modules and the docs rely on. */
static void test_role_name_table(void **state)
{
	static const struct { enum theme_role role; const char *name; } rows[] = {
		{ THEME_NORMAL, "normal" }, { THEME_DIM, "dim" }, { THEME_TITLE, "title" },
		{ THEME_HEADER, "header" }, { THEME_TAB, "tab" },
		{ THEME_TAB_ACTIVE, "tab.active" }, { THEME_STATUS, "status" },
		{ THEME_SELECTED, "selected" }, { THEME_OK, "ok" }, { THEME_WARN, "warn" },
		{ THEME_CRIT, "crit" }, { THEME_STALE, "stale" },
		{ THEME_STATE_ACTIVE, "state.active" }, { THEME_STATE_IDLE, "state.idle" },
		{ THEME_STATE_IDLE_XACT, "state.idle_xact" },
		{ THEME_STATE_WAITING, "state.waiting" },
		{ THEME_LOCK_BLOCKER, "lock.blocker" }, { THEME_LOCK_WAITER, "lock.waiter" },
		{ THEME_LOCK_CYCLE, "lock.cycle" }, { THEME_LOCK_EDGE, "lock.edge" },
		{ THEME_AGENT, "agent" }, { THEME_SPARK, "spark" },
		{ THEME_BAR_FILL, "bar.fill" }, { THEME_BAR_EMPTY, "bar.empty" },
		{ THEME_RISK_LOW, "risk.low" }, { THEME_RISK_MEDIUM, "risk.medium" },
		{ THEME_RISK_HIGH, "risk.high" }, { THEME_RISK_CRITICAL, "risk.critical" },
		{ THEME_DIFF_ADD, "diff.add" }, { THEME_DIFF_DEL, "diff.del" },
		{ THEME_HELP_KEY, "help.key" }, { THEME_FILTER, "filter" },
	};

	(void)state;
	assert_int_equal(ARRAY_SIZE(rows), THEME_ROLE_COUNT);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		assert_string_equal(theme_role_name(rows[i].role), rows[i].name);
		assert_int_equal(theme_role_by_name(rows[i].name), rows[i].role);
	}
}

/* ---------------------------------------------------------------- shipped */

static void test_shipped_themes_load(void **state)
{
	static const char *const required[] = { "default", "high-contrast", "light", "mono" };
	char names[32][64];
	size_t n = shipped_themes(names, ARRAY_SIZE(names));
	char *dir = expect_top_path("themes");

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		bool found = false;

		for (size_t j = 0; j < n; j++)
			found |= strcmp(names[j], required[i]) == 0;
		if (!found)
			fail_msg("themes/%s.yaml is missing", required[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct theme t;
		char *errs = NULL;

		print_message("theme: %s\n", names[i]);
		if (theme_load(&t, dir, names[i], &errs) != 0)
			fail_msg("themes/%s.yaml:\n%s", names[i], errs);
		assert_null(errs);
		assert_string_equal(t.name, names[i]);
		for (int r = 0; r < THEME_ROLE_COUNT; r++)
			if (!t.given[r])
				fail_msg("themes/%s.yaml does not set role '%s'", names[i],
				         theme_role_name((enum theme_role)r));
		/* what must never be missed stands out without colour too */
		assert_true(t.roles[THEME_LOCK_BLOCKER].mono_attr & (THEME_ATTR_REVERSE | THEME_ATTR_BOLD));
		assert_true(t.roles[THEME_CRIT].mono_attr & (THEME_ATTR_REVERSE | THEME_ATTR_BOLD));
		assert_true(t.roles[THEME_RISK_HIGH].mono_attr != 0);
		assert_true(t.roles[THEME_RISK_CRITICAL].mono_attr & THEME_ATTR_REVERSE);
		assert_true(t.roles[THEME_SELECTED].mono_attr & THEME_ATTR_REVERSE);
		theme_release(&t);
	}
	free(dir);
}

/* themes/default.yaml and the built-in theme are one and the same. */
static void test_default_file_is_builtin(void **state)
{
	char *path = expect_top_path("themes/default.yaml");
	struct theme file, builtin;
	char *errs = NULL;

	(void)state;
	if (theme_load_file(&file, path, &errs) != 0)
		fail_msg("%s", errs);
	theme_init_default(&builtin);
	assert_string_equal(file.name, "default");
	assert_string_equal(builtin.name, "default");
	assert_roles_equal(&file, &builtin);
	for (int r = 0; r < THEME_ROLE_COUNT; r++)
		assert_false(builtin.given[r]);
	theme_release(&file);
	theme_release(&builtin);
	free(path);
}

/* The colour choices people rely on, in the default theme. */
static void test_default_colours(void **state)
{
	struct theme t;
	const struct theme_style *s = t.roles;

	(void)state;
	theme_init_default(&t);
	assert_int_equal(s[THEME_LOCK_BLOCKER].fg8, RED);
	assert_int_equal(theme_nearest8(s[THEME_LOCK_BLOCKER].fg256), RED);
	assert_int_equal(s[THEME_CRIT].fg8, RED);
	assert_int_equal(s[THEME_LOCK_WAITER].fg8, YELLOW);
	assert_int_equal(s[THEME_STATE_WAITING].fg8, YELLOW);
	assert_int_equal(s[THEME_STATE_IDLE_XACT].fg8, MAGENTA);
	assert_int_equal(s[THEME_OK].fg8, GREEN);
	assert_true(s[THEME_DIM].fg256 >= 232);                 /* a grey */
	assert_true(s[THEME_SELECTED].attr & THEME_ATTR_REVERSE);
	assert_int_equal(s[THEME_NORMAL].fg256, THEME_COLOR_DEFAULT);
	assert_int_equal(s[THEME_NORMAL].bg256, THEME_COLOR_DEFAULT);
	theme_release(&t);
	theme_release(&t);      /* twice is fine */
}

static void test_mono_theme(void **state)
{
	char *dir = expect_top_path("themes");
	struct theme t;
	char *errs = NULL;

	(void)state;
	if (theme_load(&t, dir, "mono", &errs) != 0)
		fail_msg("%s", errs);
	for (int r = 0; r < THEME_ROLE_COUNT; r++) {
		const struct theme_style *s = &t.roles[r];

		print_message("role: %s\n", theme_role_name((enum theme_role)r));
		assert_int_equal(s->fg256, THEME_COLOR_DEFAULT);
		assert_int_equal(s->bg256, THEME_COLOR_DEFAULT);
		assert_int_equal(s->fg8, THEME_COLOR_DEFAULT);
		assert_int_equal(s->bg8, THEME_COLOR_DEFAULT);
		assert_int_equal(s->attr, s->mono_attr);  /* same with or without colour */
	}
	assert_int_not_equal(t.roles[THEME_LOCK_BLOCKER].mono_attr, 0);
	assert_int_not_equal(t.roles[THEME_CRIT].mono_attr, 0);
	assert_int_not_equal(t.roles[THEME_RISK_HIGH].mono_attr, 0);
	/* the blocker and the waiter must not look alike */
	assert_int_not_equal(t.roles[THEME_LOCK_BLOCKER].mono_attr,
	                     t.roles[THEME_LOCK_WAITER].mono_attr);
	assert_int_not_equal(t.roles[THEME_RISK_HIGH].mono_attr,
	                     t.roles[THEME_RISK_MEDIUM].mono_attr);
	theme_release(&t);
	free(dir);
}

/* Writing a theme and loading it back gives the same theme. */
static void test_to_yaml_round_trip(void **state)
{
	char names[32][64];
	size_t n = shipped_themes(names, ARRAY_SIZE(names));
	char *dir = expect_top_path("themes");

	(void)state;
	for (size_t i = 0; i <= n; i++) {
		struct theme a, b;
		char *errs = NULL, *yaml;

		if (i == n)
			theme_init_default(&a);
		else if (theme_load(&a, dir, names[i], &errs) != 0)
			fail_msg("%s", errs);
		yaml = theme_to_yaml(&a);
		if (theme_load_buffer(&b, "dump.yaml", yaml, strlen(yaml), &errs) != 0)
			fail_msg("%s\n%s", yaml, errs);
		assert_string_equal(a.name, b.name);
		assert_roles_equal(&a, &b);
		for (int r = 0; r < THEME_ROLE_COUNT; r++)
			assert_true(b.given[r]);
		/* every role is documented in what is written */
		for (int r = 0; r < THEME_ROLE_COUNT; r++)
			assert_contains(yaml, theme_role_help((enum theme_role)r));
		free(yaml);
		theme_release(&a);
		theme_release(&b);
	}
	free(dir);
}

/* ---------------------------------------------------------------- colours */

static void test_nearest8(void **state)
{
	static const struct { int c256, c8; } rows[] = {
		{ 196, RED }, { 46, GREEN }, { 21, BLUE }, { 231, WHITE }, { 16, BLACK },
		{ 226, YELLOW }, { 201, MAGENTA }, { 51, CYAN }, { 160, RED },
		{ 220, YELLOW }, { 170, MAGENTA }, { 39, CYAN }, { 208, YELLOW },
		/* system colours: bright ones are their base colour */
		{ 0, BLACK }, { 1, RED }, { 7, WHITE }, { 8, BLACK }, { 9, RED },
		{ 12, BLUE }, { 15, WHITE },
		/* greys go to black or white, never to a hue */
		{ 232, BLACK }, { 240, BLACK }, { 244, WHITE }, { 250, WHITE }, { 255, WHITE },
		/* not colours */
		{ THEME_COLOR_DEFAULT, THEME_COLOR_DEFAULT }, { 256, THEME_COLOR_DEFAULT },
		{ -7, THEME_COLOR_DEFAULT },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		print_message("colour %d\n", rows[i].c256);
		assert_int_equal(theme_nearest8(rows[i].c256), rows[i].c8);
	}
	for (int c = 0; c < 256; c++) {
		int n = theme_nearest8(c);

		assert_true(n >= 0 && n <= 7);
		if (c >= 232)
			assert_true(n == BLACK || n == WHITE);
	}
}

struct colour_case {
	const char *value;   /* YAML text after 'fg: ' / 'fg8: ' */
	int fg256, fg8;
};

static void test_colour_values(void **state)
{
	static const struct colour_case fg[] = {
		{ "196", 196, RED }, { "0", 0, BLACK }, { "007", 7, WHITE },
		{ "255", 255, WHITE }, { "'21'", 21, BLUE }, { "red", 1, RED },
		{ "Red", 1, RED }, { "bright-red", 9, RED }, { "bright_blue", 12, BLUE },
		{ "brightwhite", 15, WHITE }, { "BRIGHT-GREEN", 10, GREEN },
		{ "default", THEME_COLOR_DEFAULT, THEME_COLOR_DEFAULT },
		{ "Default", THEME_COLOR_DEFAULT, THEME_COLOR_DEFAULT },
		{ "\"magenta\"", 5, MAGENTA },
	};
	static const struct colour_case fg8[] = {
		{ "red", 244, RED }, { "bright-red", 244, RED }, { "7", 244, WHITE },
		{ "0", 244, BLACK }, { "default", 244, THEME_COLOR_DEFAULT },
	};
	char yaml[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(fg); i++) {
		struct theme t;
		char *errs = NULL;

		snprintf(yaml, sizeof(yaml), "roles:\n  normal: { fg: %s }\n", fg[i].value);
		print_message("fg: %s\n", fg[i].value);
		if (load_str(&t, yaml, &errs) != 0)
			fail_msg("%s", errs);
		assert_int_equal(t.roles[THEME_NORMAL].fg256, fg[i].fg256);
		assert_int_equal(t.roles[THEME_NORMAL].fg8, fg[i].fg8);
		theme_release(&t);
	}
	/* an explicit fg8 wins over the one derived from fg, in either order */
	for (size_t i = 0; i < ARRAY_SIZE(fg8); i++) {
		for (int order = 0; order < 2; order++) {
			struct theme t;
			char *errs = NULL;

			snprintf(yaml, sizeof(yaml), order ? "roles:\n  dim: { fg8: %s, fg: 244 }\n"
			                                   : "roles:\n  dim: { fg: 244, fg8: %s }\n",
			         fg8[i].value);
			print_message("fg8: %s\n", fg8[i].value);
			if (load_str(&t, yaml, &errs) != 0)
				fail_msg("%s", errs);
			assert_int_equal(t.roles[THEME_DIM].fg256, fg8[i].fg256);
			assert_int_equal(t.roles[THEME_DIM].fg8, fg8[i].fg8);
			theme_release(&t);
		}
	}
}

static void test_attr_values(void **state)
{
	static const struct { const char *value; uint8_t bits; } rows[] = {
		{ "[bold]", THEME_ATTR_BOLD },
		{ "[bold, reverse, underline, dim]",
		  THEME_ATTR_BOLD | THEME_ATTR_REVERSE | THEME_ATTR_UNDERLINE | THEME_ATTR_DIM },
		{ "[underline, underline]", THEME_ATTR_UNDERLINE },
		{ "[]", 0 }, { "", 0 }, { "~", 0 },
		{ "reverse", THEME_ATTR_REVERSE },
		{ "[BOLD, Dim]", THEME_ATTR_BOLD | THEME_ATTR_DIM },
		{ "\n      - bold\n      - underline", THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE },
	};
	char yaml[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct theme t;
		char *errs = NULL;

		snprintf(yaml, sizeof(yaml), "roles:\n  crit:\n    attrs: %s\n    mono: %s\n",
		         rows[i].value, rows[i].value);
		print_message("attrs %zu\n", i);
		if (load_str(&t, yaml, &errs) != 0)
			fail_msg("%s\n%s", yaml, errs);
		assert_int_equal(t.roles[THEME_CRIT].attr, rows[i].bits);
		assert_int_equal(t.roles[THEME_CRIT].mono_attr, rows[i].bits);
		theme_release(&t);
	}
}

/* A role or key left out keeps the built-in value; fg8 follows a given fg. */
static void test_partial_keeps_defaults(void **state)
{
	struct theme t, def;
	char *errs = NULL;
	struct theme_style want;
	const char *yaml = "roles:\n  lock.blocker: { fg: 201 }\n";

	(void)state;
	assert_int_equal(theme_load_buffer(&t, "themes/partial.yaml", yaml, strlen(yaml), &errs), 0);
	assert_null(errs);
	theme_init_default(&def);
	assert_string_equal(t.name, "partial");     /* from the file name */
	want = def.roles[THEME_LOCK_BLOCKER];
	want.fg256 = 201;
	want.fg8 = MAGENTA;
	assert_style_equal(&t.roles[THEME_LOCK_BLOCKER], &want, "lock.blocker");
	for (int r = 0; r < THEME_ROLE_COUNT; r++) {
		assert_int_equal(t.given[r], r == THEME_LOCK_BLOCKER);
		if (r != THEME_LOCK_BLOCKER)
			assert_style_equal(&t.roles[r], &def.roles[r],
			                   theme_role_name((enum theme_role)r));
	}
	theme_release(&t);
	theme_release(&def);
}

static void test_empty_and_odd_files(void **state)
{
	static const char *const texts[] = {
		"", "\n", "# nothing but a comment\n", "~\n", "---\n", "roles:\n", "roles: {}\n",
		"name: x\n",
	};
	struct theme t, def;

	(void)state;
	theme_init_default(&def);
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		char *errs = NULL;

		print_message("text %zu\n", i);
		if (load_str(&t, texts[i], &errs) != 0)
			fail_msg("%s", errs);
		assert_string_equal(t.name, i == ARRAY_SIZE(texts) - 1 ? "x" : "theme");
		assert_roles_equal(&t, &def);
		theme_release(&t);
	}
	/* data need not be NUL-terminated */
	assert_int_equal(theme_load_buffer(&t, "cut.yaml", "name: abcdef", 9, NULL), 0);
	assert_string_equal(t.name, "abc");
	theme_release(&t);
	/* no data at all */
	assert_int_equal(theme_load_buffer(&t, "none.yaml", NULL, 0, NULL), 0);
	assert_string_equal(t.name, "none");
	theme_release(&t);
	theme_release(&def);
}

/* Anchors and aliases share a style between roles. */
static void test_aliases(void **state)
{
	struct theme t;
	char *errs = NULL;

	(void)state;
	if (load_str(&t, "roles:\n  crit: &red { fg: 196, attrs: [bold] }\n"
	                 "  lock.blocker: *red\n", &errs) != 0)
		fail_msg("%s", errs);
	assert_style_equal(&t.roles[THEME_CRIT], &t.roles[THEME_LOCK_BLOCKER], "alias");
	assert_int_equal(t.roles[THEME_LOCK_BLOCKER].fg256, 196);
	theme_release(&t);
}

/* ---------------------------------------------------------------- errors */

struct error_case {
	const char *what;
	const char *yaml;
	const char *expect[3];   /* substrings of the messages */
	size_t lines;            /* exact number of messages */
};

static const struct error_case error_cases[] = {
	{ "unknown role, did you mean",
	  "name: x\nroles:\n  lock.blocer: { fg: 196 }\n",
	  { "theme.yaml:3:3: unknown role 'lock.blocer' (did you mean 'lock.blocker'?)" }, 1 },
	{ "unknown role, nothing close",
	  "roles:\n  sparkles: { fg: 1 }\n",
	  { "theme.yaml:2:3: unknown role 'sparkles' — every role is listed" }, 1 },
	{ "unknown key in a role",
	  "roles:\n  ok: { fg: 46, atrs: [bold] }\n",
	  { "theme.yaml:2:17: unknown key 'atrs' in role 'ok' (did you mean 'attrs'?)" }, 1 },
	{ "unknown key at the top",
	  "name: x\nrols:\n  ok: {}\n",
	  { "theme.yaml:2:1: unknown key 'rols' (did you mean 'roles'?)" }, 1 },
	{ "colour out of range",
	  "roles:\n  normal: { fg: 300 }\n",
	  { "theme.yaml:2:17: colour '300' for 'fg' of role 'normal' is out of range — use "
	    "0-255, a colour name" }, 1 },
	{ "8-colour value out of range",
	  "roles:\n  normal:\n    fg8: 8\n",
	  { "theme.yaml:3:10: colour '8' for 'fg8' of role 'normal' is out of range — 'fg8' "
	    "takes 0-7, a colour name or 'default'; put 256-colour values in 'fg'" }, 1 },
	{ "unknown colour name",
	  "roles:\n  warn: { fg: yelow }\n",
	  { "theme.yaml:2:15: unknown colour 'yelow' for 'fg' of role 'warn' (did you mean "
	    "'yellow'?)" }, 1 },
	{ "unknown colour name, nothing close",
	  "roles:\n  warn: { bg: chartreuse }\n",
	  { "theme.yaml:2:15: unknown colour 'chartreuse' for 'bg' of role 'warn' — use "
	    "0-255, a colour name (black, red" }, 1 },
	{ "bright colour names are 256-colour only in their number",
	  "roles:\n  warn: { fg8: brigt-red }\n",
	  { "theme.yaml:2:16: unknown colour 'brigt-red' for 'fg8' of role 'warn' — use 0-7" }, 1 },
	{ "hex colour",
	  "roles:\n  warn: { fg: '#ff0000' }\n",
	  { "theme.yaml:2:15: colour '#ff0000' for 'fg' of role 'warn' is not supported — "
	    "use a number of the 256-colour palette: the nearest is 196" }, 1 },
	{ "unknown attribute",
	  "roles:\n  crit:\n    attrs: [bold, undreline]\n",
	  { "theme.yaml:3:19: unknown attribute 'undreline' in 'attrs' of role 'crit' (did "
	    "you mean 'underline'?)" }, 1 },
	{ "attributes not in a list",
	  "roles:\n  crit: { mono: 'bold,reverse' }\n",
	  { "theme.yaml:2:17: unknown attribute 'bold,reverse' in 'mono' of role 'crit' — "
	    "write a list: [bold,reverse]" }, 1 },
	{ "YAML syntax error",
	  "roles:\n  crit: { fg: 196, attrs: [bold }\n",
	  { "theme.yaml:2:33: invalid YAML: did not find expected ',' or ']'",
	    "close the list '[ ... ]'" }, 1 },
	{ "tab",
	  "roles:\n\tcrit: { fg: 196 }\n",
	  { "theme.yaml:2:1: invalid YAML:", "indent with spaces" }, 1 },
	{ "top level not a mapping",
	  "just words\n",
	  { "theme.yaml:1:1: the top level must be a mapping with 'name' and 'roles', got "
	    "'just words'" }, 1 },
	{ "roles not a mapping",
	  "roles: [ok, warn]\n",
	  { "theme.yaml:1:8: 'roles' must be a mapping of role names to styles, got a list" }, 1 },
	{ "role not a mapping",
	  "roles:\n  crit: red\n",
	  { "theme.yaml:2:9: role 'crit' must be a mapping of fg, bg, fg8, bg8, attrs and "
	    "mono, got 'red' — write 'crit: { fg: red }'" }, 1 },
	{ "role set twice",
	  "roles:\n  ok: { fg: 46 }\n  ok: { fg: 47 }\n",
	  { "theme.yaml:3:3: role 'ok' is set twice (first at line 2) — keep one" }, 1 },
	{ "name not a name",
	  "name: [a]\n",
	  { "theme.yaml:1:7: 'name' must be the theme's name, got a list" }, 1 },
	{ "empty quoted name",
	  "name: ''\n",
	  { "theme.yaml:1:7: theme name '' may hold only" }, 1 },
	{ "key that is not a word",
	  "roles:\n  [a, b]: { fg: 1 }\n",
	  { "theme.yaml:2:3: role names must be plain words, got a list" }, 1 },
	{ "NUL in a value",
	  "roles:\n  ok: { fg: \"green\\0\" }\n",
	  { "theme.yaml:2:13: unknown colour 'green?' for 'fg' of role 'ok'" }, 1 },
	{ "control characters are not echoed",
	  "roles:\n  \"ok\\e[31m\": {}\n",
	  { "theme.yaml:2:3: unknown role 'ok?[31m'" }, 1 },
	{ "nesting too deep",
	  "roles:\n  ok: { attrs: [[[[[[[[[[[[[[[[[[[[bold]]]]]]]]]]]]]]]]]]]] }\n",
	  { "theme.yaml:2:29: the YAML nests deeper than 16 levels — a theme needs four" }, 1 },
	{ "all errors at once, in file order",
	  "rols: {}\nroles:\n  ok: { fg: 300, bg: blu, attrs: [blod] }\n  nromal: {}\n",
	  { "theme.yaml:1:1: unknown key 'rols'",
	    "theme.yaml:3:13: colour '300'",
	    "theme.yaml:4:3: unknown role 'nromal' (did you mean 'normal'?)" }, 5 },
};

static void test_error_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		struct theme t;
		char *errs = NULL;

		print_message("case: %s\n", c->what);
		assert_int_equal(load_str(&t, c->yaml, &errs), -1);
		expect_messages(c->what, errs, "theme.yaml", c->expect, ARRAY_SIZE(c->expect),
		                NULL, c->lines);
		/* still a complete, usable theme */
		assert_non_null(t.name);
		free(errs);
		theme_release(&t);
	}
}

/* expect_load_fn: a sample file loaded from memory. */
static int load_sample(const char *name, const char *text, size_t len, char **errs)
{
	struct theme t;
	int ret = theme_load_buffer(&t, name, text, len, errs);

	theme_release(&t);
	return ret;
}

/* Every file under tests/data/themes fails with exactly the messages its
 * "# expect: " lines name. */
static void test_bad_files(void **state)
{
	(void)state;
	assert_true(expect_sample_files("tests/data/themes", ".yaml", load_sample) >= 10);
}

/* A file loaded by path is named by that path. */
static void test_load_file_names_path(void **state)
{
	char *path = expect_top_path("tests/data/themes/unknown-role.yaml");
	struct theme t;
	char *errs = NULL;
	char want[4200];

	(void)state;
	assert_int_equal(theme_load_file(&t, path, &errs), -1);
	snprintf(want, sizeof(want), "%s:4:3: unknown role 'lock.blocer' (did you mean "
	         "'lock.blocker'?)\n", path);
	assert_contains(errs, want);
	assert_string_equal(t.name, "typo");
	/* the valid parts still apply */
	assert_int_equal(t.roles[THEME_NORMAL].fg256, 250);
	assert_true(t.given[THEME_NORMAL]);
	assert_false(t.given[THEME_LOCK_BLOCKER]);
	free(errs);
	theme_release(&t);
	free(path);
}

static void test_missing_and_unreadable(void **state)
{
	char *dir = expect_top_path("themes");
	char *tdir = expect_top_path("tests");
	struct theme t, def;
	char *errs = NULL;
	char want[4200];

	(void)state;
	theme_init_default(&def);

	/* a typo of a shipped theme */
	assert_int_equal(theme_load(&t, dir, "ligth", &errs), -1);
	snprintf(want, sizeof(want), "%s/ligth.yaml: theme 'ligth' not found (did you mean "
	         "'light'?)\n", dir);
	assert_string_equal(errs, want);
	assert_roles_equal(&t, &def);             /* still usable */
	free(errs);
	theme_release(&t);

	/* nothing close: the list of what there is */
	assert_int_equal(theme_load(&t, dir, "solarized", &errs), -1);
	assert_contains(errs, "theme 'solarized' not found — set ui.theme to one of: "
	                "default, high-contrast, light, mono");
	free(errs);
	theme_release(&t);

	/* a name with .yaml is the file */
	assert_int_equal(theme_load(&t, dir, "light.yaml", &errs), 0);
	assert_string_equal(t.name, "light");
	theme_release(&t);

	/* no themes directory: 'default' is built in, others are not */
	assert_int_equal(theme_load(&t, "/nonexistent/themes", "default", &errs), 0);
	assert_null(errs);
	assert_roles_equal(&t, &def);
	assert_string_equal(t.name, "default");
	theme_release(&t);
	assert_int_equal(theme_load(&t, "/nonexistent/themes", "light", &errs), -1);
	assert_contains(errs, "/nonexistent/themes/light.yaml: theme 'light' not found — "
	                "cannot read the themes directory: No such file or directory; "
	                "check paths.themes_dir");
	free(errs);
	theme_release(&t);

	/* a path is not a name */
	assert_int_equal(theme_load(&t, dir, "../etc/passwd", &errs), -1);
	assert_contains(errs, "theme name '../etc/passwd' is not a file name");
	free(errs);
	theme_release(&t);

	/* a directory is not a file */
	snprintf(want, sizeof(want), "%s/data", tdir);
	assert_int_equal(theme_load_file(&t, want, &errs), -1);
	assert_contains(errs, ": the theme is a directory, not a theme file");
	free(errs);
	theme_release(&t);
	assert_int_equal(theme_load_file(&t, "/nonexistent/x.yaml", &errs), -1);
	assert_string_equal(errs, "/nonexistent/x.yaml: cannot read the theme: No such "
	                    "file or directory — check the path\n");
	assert_string_equal(t.name, "x");
	free(errs);
	theme_release(&t);

	/* errs may be NULL */
	assert_int_equal(theme_load(&t, dir, "ligth", NULL), -1);
	theme_release(&t);
	assert_int_equal(load_str(&t, "roles: 1\n", NULL), -1);
	theme_release(&t);

	theme_release(&def);
	free(dir);
	free(tdir);
}

/* Thousands of mistakes: the first hundred, then a note; no quadratic walk. */
static void test_too_many_errors(void **state)
{
	size_t cap = 400000, len = 0;
	char *yaml = malloc(cap);
	struct theme t;
	char *errs = NULL;

	(void)state;
	assert_non_null(yaml);
	len += (size_t)snprintf(yaml + len, cap - len, "roles:\n");
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(yaml + len, cap - len, "  nromal%d: {}\n", i);
	assert_int_equal(theme_load_buffer(&t, "many.yaml", yaml, len, &errs), -1);
	assert_int_equal(expect_count_lines(errs), 101);
	assert_contains(errs, "many.yaml: too many errors, stopped after 100 — fix these first\n");
	free(errs);
	free(yaml);
	theme_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_role_name_table),
		cmocka_unit_test(test_shipped_themes_load),
		cmocka_unit_test(test_default_file_is_builtin),
		cmocka_unit_test(test_default_colours),
		cmocka_unit_test(test_mono_theme),
		cmocka_unit_test(test_to_yaml_round_trip),
		cmocka_unit_test(test_nearest8),
		cmocka_unit_test(test_colour_values),
		cmocka_unit_test(test_attr_values),
		cmocka_unit_test(test_partial_keeps_defaults),
		cmocka_unit_test(test_empty_and_odd_files),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_error_cases),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_load_file_names_path),
		cmocka_unit_test(test_missing_and_unreadable),
		cmocka_unit_test(test_too_many_errors),
	};

	return cmocka_run_group_tests_name("theme", tests, NULL, NULL);
}
