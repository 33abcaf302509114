/*
 * theme: the role table, the built-in dark theme and the theme loader; see
 * theme.h.
 *
 * Every role exists in exactly one row of role_defs[]: its dotted name, its
 * meaning and its built-in style. The default theme, role lookups, the
 * loader's did-you-mean and theme_to_yaml() (which writes a complete,
 * commented theme file) all come from that table, as the six keys a role
 * takes come from role_keys[]. themes/default.yaml holds the same values as
 * the table; a unit test keeps the two equal.
 *
 * The loader reads a whole file, lets libyaml's document API build a node
 * tree (every node carries its line:column) and walks the known layout:
 * 'name', then 'roles' mapping role names to { fg, bg, fg8, bg8, attrs,
 * mono }. A key left out keeps the built-in value, except fg8/bg8, which
 * follow a given fg/bg (the nearest of the 8 basic colours in the xterm
 * palette). Problems are collected, not returned at the first: each becomes
 * one "FILE:LINE:COL: problem — fix" line, sorted by position, so one run
 * shows everything there is to fix. Valid settings are applied even when
 * others fail, so the theme is always usable. The reading, the parsing, the
 * message list and the did-you-mean are core/yamlload's, shared with every
 * YAML loader; the words are this file's.
 */
#include "ui/theme.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "core/mem.h"
#include "core/strbuf.h"
#include "core/yamlload.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A file larger than this is not a hand-written theme. */
#define THEME_MAX_BYTES (1024 * 1024)
/* Characters of a value quoted back in a message. */
#define MAX_SHOWN 40
/* Deepest nesting of mappings and lists read (a theme needs four). */
#define MAX_DEPTH 16
/* Longest theme name. */
#define MAX_NAME 64

/* ---------------------------------------------------------------- tables */

#define D THEME_COLOR_DEFAULT
#define BOLD THEME_ATTR_BOLD
#define REV THEME_ATTR_REVERSE
#define UL THEME_ATTR_UNDERLINE
#define DIM THEME_ATTR_DIM

enum { BLACK, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE };

/* fg256, bg256, fg8, bg8, attributes with colour, attributes without */
#define ST(fg, bg, fg8, bg8, a, m) { (fg), (bg), (fg8), (bg8), (a), (m) }

/* The roles, in enum order. The styles are the built-in dark theme
 * (themes/default.yaml): blockers and critical values red, waiters yellow,
 * idle-in-transaction magenta, healthy green, secondary text grey, the
 * selection reversed. Without colour, the mono attributes carry the
 * meaning: what must never be missed is reversed. */
static const struct role_def {
	const char *name;
	const char *help;
	struct theme_style def;
} role_defs[THEME_ROLE_COUNT] = {
	[THEME_NORMAL] = { "normal", "default text",
		ST(D, D, D, D, 0, 0) },
	[THEME_DIM] = { "dim", "secondary text: units, labels, idle sessions",
		ST(244, D, WHITE, D, 0, DIM) },
	[THEME_TITLE] = { "title", "screen titles and table headers",
		ST(81, D, CYAN, D, BOLD, BOLD) },
	[THEME_HEADER] = { "header", "the header bar at the top",
		ST(255, 24, WHITE, BLUE, BOLD, REV | BOLD) },
	[THEME_TAB] = { "tab", "a screen tab that is not the current one",
		ST(250, 236, WHITE, D, 0, 0) },
	[THEME_TAB_ACTIVE] = { "tab.active", "the current screen's tab",
		ST(16, 81, BLACK, CYAN, BOLD, REV | BOLD) },
	[THEME_STATUS] = { "status", "the status line at the bottom",
		ST(252, 237, BLACK, WHITE, 0, REV) },
	[THEME_SELECTED] = { "selected", "the selected row",
		ST(D, D, D, D, REV, REV) },
	[THEME_OK] = { "ok", "a healthy value",
		ST(78, D, GREEN, D, 0, 0) },
	[THEME_WARN] = { "warn", "a value past its warning threshold",
		ST(214, D, YELLOW, D, 0, BOLD) },
	[THEME_CRIT] = { "crit", "a value past its critical threshold",
		ST(196, D, RED, D, BOLD, BOLD | REV) },
	[THEME_STALE] = { "stale", "the warning that the data is stale or the connection lost",
		ST(16, 214, BLACK, YELLOW, BOLD, REV | BOLD) },
	[THEME_STATE_ACTIVE] = { "state.active", "session state: active (running a query)",
		ST(114, D, GREEN, D, 0, 0) },
	[THEME_STATE_IDLE] = { "state.idle", "session state: idle",
		ST(244, D, WHITE, D, 0, DIM) },
	[THEME_STATE_IDLE_XACT] = { "state.idle_xact", "session state: idle in transaction",
		ST(170, D, MAGENTA, D, 0, UL) },
	[THEME_STATE_WAITING] = { "state.waiting", "session state: waiting on a lock",
		ST(220, D, YELLOW, D, BOLD, BOLD) },
	[THEME_LOCK_BLOCKER] = { "lock.blocker", "lock tree: a root blocker, holding what others wait for",
		ST(196, D, RED, D, BOLD, BOLD | REV) },
	[THEME_LOCK_WAITER] = { "lock.waiter", "lock tree: a session waiting for a lock",
		ST(220, D, YELLOW, D, 0, BOLD) },
	[THEME_LOCK_CYCLE] = { "lock.cycle", "lock tree: the members of a deadlock cycle",
		ST(231, 160, WHITE, RED, BOLD, BOLD | REV | UL) },
	[THEME_LOCK_EDGE] = { "lock.edge", "lock tree: the lines between sessions",
		ST(240, D, D, D, 0, DIM) },
	[THEME_AGENT] = { "agent", "names of agents (automated sessions)",
		ST(117, D, CYAN, D, 0, UL) },
	[THEME_SPARK] = { "spark", "sparklines",
		ST(39, D, CYAN, D, 0, 0) },
	[THEME_BAR_FILL] = { "bar.fill", "the filled part of a bar",
		ST(39, D, CYAN, D, 0, 0) },
	[THEME_BAR_EMPTY] = { "bar.empty", "the empty part of a bar",
		ST(238, D, D, D, 0, DIM) },
	[THEME_RISK_LOW] = { "risk.low", "an action of low risk",
		ST(78, D, GREEN, D, 0, 0) },
	[THEME_RISK_MEDIUM] = { "risk.medium", "an action of medium risk",
		ST(220, D, YELLOW, D, 0, UL) },
	[THEME_RISK_HIGH] = { "risk.high", "an action of high risk",
		ST(208, D, RED, D, BOLD, BOLD | UL) },
	[THEME_RISK_CRITICAL] = { "risk.critical", "an action of critical risk",
		ST(231, 160, WHITE, RED, BOLD, BOLD | REV) },
	[THEME_DIFF_ADD] = { "diff.add", "diff: an added line",
		ST(114, D, GREEN, D, 0, BOLD) },
	[THEME_DIFF_DEL] = { "diff.del", "diff: a removed line",
		ST(203, D, RED, D, 0, DIM) },
	[THEME_HELP_KEY] = { "help.key", "key names in the help overlay",
		ST(81, D, CYAN, D, BOLD, BOLD) },
	[THEME_FILTER] = { "filter", "the filter prompt and what it matches",
		ST(16, 220, BLACK, YELLOW, 0, UL) },
};

/* The keys of one role. */
enum role_key { KEY_FG, KEY_BG, KEY_FG8, KEY_BG8, KEY_ATTRS, KEY_MONO, KEY_COUNT };

static const struct key_def {
	const char *name;
	const char *help;
} role_keys[KEY_COUNT] = {
	[KEY_FG] = { "fg", "foreground on a 256-colour terminal" },
	[KEY_BG] = { "bg", "background on a 256-colour terminal" },
	[KEY_FG8] = { "fg8", "foreground on an 8-colour terminal" },
	[KEY_BG8] = { "bg8", "background on an 8-colour terminal" },
	[KEY_ATTRS] = { "attrs", "attributes drawn with colour" },
	[KEY_MONO] = { "mono", "attributes drawn without colour" },
};

static const char *const top_keys[] = { "name", "roles" };

static const char *const color_names[8] = {
	"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
};

static const char *const bright_names[8] = {
	"bright-black", "bright-red", "bright-green", "bright-yellow",
	"bright-blue", "bright-magenta", "bright-cyan", "bright-white",
};

static const struct attr_def {
	const char *name;
	uint8_t bit;
} attr_defs[] = {
	{ "bold", BOLD },
	{ "reverse", REV },
	{ "underline", UL },
	{ "dim", DIM },
};

/* libyaml's problem texts, and what usually causes them. */
static const struct yamlload_hint yaml_hints[] = {
	{ "mapping values are not allowed",
	  "quote a value that contains ': ', or check the indentation" },
	{ "did not find expected key",
	  "keys of one mapping must start in the same column" },
	{ "did not find expected ',' or '}'",
	  "close the role's '{ ... }' and separate its keys with ','" },
	{ "did not find expected ',' or ']'",
	  "close the list '[ ... ]' and separate its items with ','" },
	{ "could not find expected ':'",
	  "write 'key: value' on one line" },
	{ "found undefined alias",
	  "an '*name' must refer to an '&name' defined before it" },
	{ "found unexpected end of stream",
	  "a quoted value is not closed" },
	{ "found character that cannot start any token",
	  "quote a value that starts with '@' or '`'" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- roles */

void theme_init_default(struct theme *t)
{
	memset(t, 0, sizeof(*t));
	t->name = xstrdup("default");
	for (size_t r = 0; r < THEME_ROLE_COUNT; r++)
		t->roles[r] = role_defs[r].def;
}

void theme_release(struct theme *t)
{
	free(t->name);
	t->name = NULL;
}

const char *theme_role_name(enum theme_role r)
{
	if ((unsigned)r < THEME_ROLE_COUNT)
		return role_defs[r].name;
	return NULL;
}

int theme_role_by_name(const char *name)
{
	if (!name)
		return -1;
	for (size_t r = 0; r < THEME_ROLE_COUNT; r++)
		if (strcmp(role_defs[r].name, name) == 0)
			return (int)r;
	return -1;
}

const char *theme_role_help(enum theme_role r)
{
	if ((unsigned)r < THEME_ROLE_COUNT)
		return role_defs[r].help;
	return NULL;
}

/* ---------------------------------------------------------------- colours */

/* The xterm palette: 16 system colours, a 6x6x6 cube, 24 greys. */
static void xterm_rgb(int c, int rgb[3])
{
	static const unsigned char sys[16][3] = {
		{ 0, 0, 0 }, { 205, 0, 0 }, { 0, 205, 0 }, { 205, 205, 0 },
		{ 0, 0, 238 }, { 205, 0, 205 }, { 0, 205, 205 }, { 229, 229, 229 },
		{ 127, 127, 127 }, { 255, 0, 0 }, { 0, 255, 0 }, { 255, 255, 0 },
		{ 92, 92, 255 }, { 255, 0, 255 }, { 0, 255, 255 }, { 255, 255, 255 },
	};
	static const unsigned char level[6] = { 0, 95, 135, 175, 215, 255 };

	if (c < 16) {
		for (int i = 0; i < 3; i++)
			rgb[i] = sys[c][i];
	} else if (c < 232) {
		c -= 16;
		rgb[0] = level[c / 36];
		rgb[1] = level[c / 6 % 6];
		rgb[2] = level[c % 6];
	} else {
		rgb[0] = rgb[1] = rgb[2] = 8 + 10 * (c - 232);
	}
}

/* Squared distance between two colours in luma and two colour differences
 * (YCbCr without the chroma scaling, so a change of hue weighs as much as
 * one of brightness): a grey stays black or white rather than landing on
 * whichever hue is about as bright, and an orange finds yellow. Plain RGB
 * distance would send mid greys to cyan. In thousandths. */
static long long color_distance(const int a[3], const int b[3])
{
	long long ya = 299LL * a[0] + 587LL * a[1] + 114LL * a[2];
	long long yb = 299LL * b[0] + 587LL * b[1] + 114LL * b[2];
	long long dy = ya - yb;
	long long dcb = (1000LL * a[2] - ya) - (1000LL * b[2] - yb);
	long long dcr = (1000LL * a[0] - ya) - (1000LL * b[0] - yb);

	return dy * dy + dcb * dcb + dcr * dcr;
}

int theme_nearest8(int c256)
{
	int rgb[3], base[3];
	long long best = -1;
	int found = BLACK;

	if (c256 < 0 || c256 > 255)
		return THEME_COLOR_DEFAULT;
	if (c256 < 16)
		return c256 & 7;    /* a bright system colour is its base colour */
	xterm_rgb(c256, rgb);
	for (int i = 0; i < 8; i++) {
		long long d;

		xterm_rgb(i, base);
		d = color_distance(rgb, base);
		if (best < 0 || d < best) {
			best = d;
			found = i;
		}
	}
	return found;
}

/* The xterm colour (16-255) nearest to an RGB value, for a '#rrggbb' hint. */
static int nearest256(const int rgb[3])
{
	int c[3];
	long long best = -1;
	int found = 16;

	for (int i = 16; i < 256; i++) {
		long long d;

		xterm_rgb(i, c);
		d = color_distance(rgb, c);
		if (best < 0 || d < best) {
			best = d;
			found = i;
		}
	}
	return found;
}

enum color_res { COLOR_OK, COLOR_RANGE, COLOR_BAD };

/* A colour value: digits, a colour name (any case; bright-NAME, bright_NAME
 * or brightNAME for 8-15) or "default". eight: for fg8/bg8, 0-7 only and
 * bright names map to their base colour. */
static enum color_res parse_color(const char *s, bool eight, int *out)
{
	const char *base = s;
	bool bright = false;

	if (strcasecmp(s, "default") == 0) {
		*out = THEME_COLOR_DEFAULT;
		return COLOR_OK;
	}
	if (isdigit((unsigned char)*s)) {
		long v = 0;

		for (; *s; s++) {
			if (!isdigit((unsigned char)*s))
				return COLOR_BAD;
			if (v < 1000)
				v = v * 10 + (*s - '0');
		}
		if (v > (eight ? 7 : 255))
			return COLOR_RANGE;
		*out = (int)v;
		return COLOR_OK;
	}
	if (strncasecmp(s, "bright", 6) == 0) {
		base = s + 6;
		if (*base == '-' || *base == '_')
			base++;
		bright = true;
	}
	for (int i = 0; i < 8; i++) {
		if (strcasecmp(base, color_names[i]) == 0) {
			*out = bright && !eight ? 8 + i : i;
			return COLOR_OK;
		}
	}
	return COLOR_BAD;
}

/* "#rgb" or "#rrggbb" into rgb; false when it is not one. */
static bool parse_hex(const char *s, int rgb[3])
{
	size_t n = strlen(s);
	unsigned v[6];

	if (*s != '#' || (n != 4 && n != 7))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		v[i - 1] = (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
		                      : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	for (int i = 0; i < 3; i++)
		rgb[i] = n == 4 ? (int)(v[i] * 17) : (int)(v[2 * i] * 16 + v[2 * i + 1]);
	return true;
}

/* ---------------------------------------------------------------- words */

static const char *closest_role(const char *word)
{
	const char *names[THEME_ROLE_COUNT];

	for (size_t r = 0; r < THEME_ROLE_COUNT; r++)
		names[r] = role_defs[r].name;
	return yamlload_suggest(word, names, THEME_ROLE_COUNT);
}

static const char *closest_key(const char *word)
{
	const char *names[KEY_COUNT];

	for (size_t k = 0; k < KEY_COUNT; k++)
		names[k] = role_keys[k].name;
	return yamlload_suggest(word, names, KEY_COUNT);
}

static const char *closest_color(const char *word, bool eight)
{
	const char *names[17];
	size_t n = 0;

	names[n++] = "default";
	for (size_t i = 0; i < 8; i++)
		names[n++] = color_names[i];
	if (!eight)
		for (size_t i = 0; i < 8; i++)
			names[n++] = bright_names[i];
	return yamlload_suggest(word, names, n);
}

static const char *closest_attr(const char *word)
{
	const char *names[ARRAY_SIZE(attr_defs)];

	for (size_t i = 0; i < ARRAY_SIZE(attr_defs); i++)
		names[i] = attr_defs[i].name;
	return yamlload_suggest(word, names, ARRAY_SIZE(attr_defs));
}

static int find_key(const char *name)
{
	for (size_t k = 0; k < KEY_COUNT; k++)
		if (strcmp(role_keys[k].name, name) == 0)
			return (int)k;
	return -1;
}

static int find_attr(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(attr_defs); i++)
		if (strcasecmp(attr_defs[i].name, name) == 0)
			return (int)i;
	return -1;
}

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

static bool is_name_char(int ch)
{
	return isalnum(ch) || ch == '-' || ch == '_' || ch == '.';
}

/* ---------------------------------------------------------------- loader */

struct loader {
	struct yamlload y;      /* the file, its document and the messages */
	struct theme *t;        /* borrowed: being filled */
	struct yamlload_pos role_pos[THEME_ROLE_COUNT]; /* where each role was set */
};

/* "first at line L" for a key given twice into buf, or "first at column C"
 * when both are on one line. */
static void first_at(char *buf, size_t size, struct yamlload_pos first,
                     struct yamlload_pos now)
{
	if (first.line == now.line)
		snprintf(buf, size, "first at column %d", first.col);
	else
		snprintf(buf, size, "first at line %d", first.line);
}

/* ---------------------------------------------------------------- nodes */

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

/* The key of a mapping pair as a plain string, or NULL after saying why. */
static const char *key_name(struct loader *L, const yaml_node_t *k, const char *what)
{
	struct strbuf got = STRBUF_INIT;

	if (k && k->type == YAML_SCALAR_NODE && !yamlload_has_nul(k) && *yamlload_scalar(k))
		return yamlload_scalar(k);
	if (k) {
		describe_got(&got, k);
		yamlload_node_error(&L->y, k, "%s must be plain words, got %s — write "
		                    "'name: value' lines", what, got.buf);
	}
	strbuf_release(&got);
	return NULL;
}

/* ---------------------------------------------------------------- values */

static const char *color_expect(bool eight)
{
	return eight ? "use 0-7, a colour name (black, red, green, yellow, blue, "
	               "magenta, cyan, white) or 'default'"
	             : "use 0-255, a colour name (black, red, green, yellow, blue, "
	               "magenta, cyan, white, or bright-red and so on for 8-15) "
	               "or 'default'";
}

/* A colour at v for key k of role r into *out; false after an error. */
static bool load_color(struct loader *L, const yaml_node_t *v, enum role_key k,
                       int r, int *out)
{
	bool eight = k == KEY_FG8 || k == KEY_BG8;
	const char *key = role_keys[k].name, *role = role_defs[r].name;
	struct strbuf got = STRBUF_INIT;
	const char *s, *guess;
	int rgb[3];

	describe_got(&got, v);
	if (v->type != YAML_SCALAR_NODE || yamlload_is_null(v)) {
		yamlload_node_error(&L->y, v, "'%s' of role '%s' must be a colour, got %s — %s",
		                    key, role, got.buf, color_expect(eight));
		goto fail;
	}
	s = yamlload_scalar(v);
	switch (yamlload_has_nul(v) ? COLOR_BAD : parse_color(s, eight, out)) {
	case COLOR_OK:
		strbuf_release(&got);
		return true;
	case COLOR_RANGE:
		if (eight)
			yamlload_node_error(&L->y, v, "colour %s for '%s' of role '%s' is "
			                    "out of range — '%s' takes 0-7, a colour name or "
			                    "'default'; put 256-colour values in '%s'", got.buf,
			                    key, role, key, k == KEY_FG8 ? "fg" : "bg");
		else
			yamlload_node_error(&L->y, v, "colour %s for '%s' of role '%s' is "
			                    "out of range — %s", got.buf, key, role,
			                    color_expect(false));
		goto fail;
	case COLOR_BAD:
		break;
	}
	if (!yamlload_has_nul(v) && !eight && parse_hex(s, rgb)) {
		yamlload_node_error(&L->y, v, "colour %s for '%s' of role '%s' is not "
		                    "supported — use a number of the 256-colour palette: the "
		                    "nearest is %d", got.buf, key, role, nearest256(rgb));
	} else if (!yamlload_has_nul(v) && (guess = closest_color(s, eight)) != NULL) {
		yamlload_node_error(&L->y, v, "unknown colour %s for '%s' of role '%s' (did "
		                    "you mean '%s'?)", got.buf, key, role, guess);
	} else {
		yamlload_node_error(&L->y, v, "unknown colour %s for '%s' of role '%s' — %s",
		                    got.buf, key, role, color_expect(eight));
	}
fail:
	strbuf_release(&got);
	return false;
}

/* One attribute name at v into *bits; false after an error. */
static bool load_attr(struct loader *L, const yaml_node_t *v, const char *key,
                      const char *role, uint8_t *bits)
{
	struct strbuf got = STRBUF_INIT;
	const char *s, *guess;
	int a;

	describe_got(&got, v);
	if (v->type != YAML_SCALAR_NODE || yamlload_is_null(v)) {
		yamlload_node_error(&L->y, v, "'%s' of role '%s' holds %s — write attribute "
		                    "names: [bold, underline]", key, role, got.buf);
		goto fail;
	}
	s = yamlload_scalar(v);
	a = yamlload_has_nul(v) ? -1 : find_attr(s);
	if (a >= 0) {
		*bits |= attr_defs[a].bit;
		strbuf_release(&got);
		return true;
	}
	if (!yamlload_has_nul(v) && strchr(s, ',') && v->data.scalar.length <= MAX_SHOWN)
		yamlload_node_error(&L->y, v, "unknown attribute %s in '%s' of role '%s' — "
		                    "write a list: [%.*s]", got.buf, key, role,
		                    (int)(got.len - 2), got.buf + 1 /* without the quotes */);
	else if (!yamlload_has_nul(v) && (strchr(s, ',') || strchr(s, ' ')))
		yamlload_node_error(&L->y, v, "unknown attribute %s in '%s' of role '%s' — "
		                    "write a list: [bold, underline]", got.buf, key, role);
	else if (!yamlload_has_nul(v) && (guess = closest_attr(s)) != NULL)
		yamlload_node_error(&L->y, v, "unknown attribute %s in '%s' of role '%s' (did "
		                    "you mean '%s'?)", got.buf, key, role, guess);
	else
		yamlload_node_error(&L->y, v, "unknown attribute %s in '%s' of role '%s' — "
		                    "use bold, reverse, underline or dim", got.buf, key, role);
fail:
	strbuf_release(&got);
	return false;
}

/* An attribute list (or one name, or nothing) at v; false after an error. */
static bool load_attrs(struct loader *L, const yaml_node_t *v, enum role_key k,
                       int r, uint8_t *out)
{
	const char *key = role_keys[k].name, *role = role_defs[r].name;
	uint8_t bits = 0;
	bool ok = true;

	if (yamlload_is_null(v)) {
		*out = 0;
		return true;
	}
	if (v->type == YAML_SCALAR_NODE) {
		ok = load_attr(L, v, key, role, &bits);
	} else if (v->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = v->data.sequence.items.start;
		     i < v->data.sequence.items.top && !yamlload_full(&L->y); i++) {
			yaml_node_t *item = yamlload_node(&L->y, *i);

			if (item && !load_attr(L, item, key, role, &bits))
				ok = false;
		}
	} else {
		yamlload_node_error(&L->y, v, "'%s' of role '%s' must be a list such as "
		                    "[bold, underline], got a mapping", key, role);
		ok = false;
	}
	if (ok)
		*out = bits;
	return ok;
}

/* Why an unknown key inside a role might be there. */
static void unknown_role_key(struct loader *L, const yaml_node_t *kn, const char *key,
                             const char *role)
{
	struct strbuf got = STRBUF_INIT;
	const char *guess;

	add_shown(&got, key, strlen(key));
	if ((guess = closest_key(key)) != NULL)
		yamlload_node_error(&L->y, kn, "unknown key '%s' in role '%s' (did you mean "
		                    "'%s'?)", got.buf, role, guess);
	else if (theme_role_by_name(key) >= 0)
		yamlload_node_error(&L->y, kn, "unknown key '%s' in role '%s' — '%s' is a "
		                    "role: indent it as far as '%s'", got.buf, role, got.buf,
		                    role);
	else if (find_attr(key) >= 0)
		yamlload_node_error(&L->y, kn, "unknown key '%s' in role '%s' — attributes "
		                    "go in a list: 'attrs: [%s]'", got.buf, role, got.buf);
	else
		yamlload_node_error(&L->y, kn, "unknown key '%s' in role '%s' — a role takes "
		                    "fg, bg, fg8, bg8, attrs and mono", got.buf, role);
	strbuf_release(&got);
}

/* The style of role r from the mapping v. A key left out keeps the current
 * value; fg8/bg8 left out follow a given fg/bg. */
static void load_role(struct loader *L, int r, const yaml_node_t *v)
{
	struct theme_style *st = &L->t->roles[r];
	const char *role = role_defs[r].name;
	struct yamlload_pos seen[KEY_COUNT] = { { 0, 0 } };
	bool set[KEY_COUNT] = { false };
	int color[KEY_COUNT] = { 0 };
	uint8_t attrs = 0, mono = 0;
	char at[48];

	for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top && !yamlload_full(&L->y); p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const char *key = key_name(L, kn, "the keys of a role");
		int k;

		if (!key || !vn)
			continue;
		k = find_key(key);
		if (k < 0) {
			unknown_role_key(L, kn, key, role);
			continue;
		}
		if (seen[k].line) {
			first_at(at, sizeof(at), seen[k], yamlload_node_pos(kn));
			yamlload_node_error(&L->y, kn, "'%s' is set twice in role '%s' (%s) — "
			                    "keep one", key, role, at);
			continue;
		}
		seen[k] = yamlload_node_pos(kn);
		switch ((enum role_key)k) {
		case KEY_FG:
		case KEY_BG:
		case KEY_FG8:
		case KEY_BG8:
			set[k] = load_color(L, vn, (enum role_key)k, r, &color[k]);
			break;
		case KEY_ATTRS:
			set[k] = load_attrs(L, vn, KEY_ATTRS, r, &attrs);
			break;
		case KEY_MONO:
			set[k] = load_attrs(L, vn, KEY_MONO, r, &mono);
			break;
		case KEY_COUNT:
			break;
		}
	}
	if (set[KEY_FG]) {
		st->fg256 = (int16_t)color[KEY_FG];
		st->fg8 = (int16_t)theme_nearest8(color[KEY_FG]);
	}
	if (set[KEY_BG]) {
		st->bg256 = (int16_t)color[KEY_BG];
		st->bg8 = (int16_t)theme_nearest8(color[KEY_BG]);
	}
	if (set[KEY_FG8])
		st->fg8 = (int16_t)color[KEY_FG8];
	if (set[KEY_BG8])
		st->bg8 = (int16_t)color[KEY_BG8];
	if (set[KEY_ATTRS])
		st->attr = attrs;
	if (set[KEY_MONO])
		st->mono_attr = mono;
}

static void unknown_role(struct loader *L, const yaml_node_t *kn, const char *name)
{
	struct strbuf got = STRBUF_INIT;
	const char *guess;

	add_shown(&got, name, strlen(name));
	if ((guess = closest_role(name)) != NULL)
		yamlload_node_error(&L->y, kn, "unknown role '%s' (did you mean '%s'?)",
		                    got.buf, guess);
	else if (find_key(name) >= 0)
		yamlload_node_error(&L->y, kn, "unknown role '%s' — '%s' goes inside a role, "
		                    "e.g. 'normal: { %s: ... }'", got.buf, got.buf, got.buf);
	else
		yamlload_node_error(&L->y, kn, "unknown role '%s' — every role is listed with "
		                    "its meaning in the default theme, default.yaml", got.buf);
	strbuf_release(&got);
}

static void load_roles(struct loader *L, const yaml_node_t *v)
{
	struct strbuf got = STRBUF_INIT;
	char at[48];

	if (yamlload_is_null(v))
		goto out;
	if (v->type != YAML_MAPPING_NODE) {
		describe_got(&got, v);
		yamlload_node_error(&L->y, v, "'roles' must be a mapping of role names to "
		                    "styles, got %s — e.g. 'roles:' and below it, indented, "
		                    "'lock.blocker: { fg: red, attrs: [bold] }'", got.buf);
		goto out;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top && !yamlload_full(&L->y); p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const char *name = key_name(L, kn, "role names");
		int r;
		int c;

		if (!name || !vn)
			continue;
		r = theme_role_by_name(name);
		if (r < 0) {
			unknown_role(L, kn, name);
			continue;
		}
		if (L->role_pos[r].line) {
			first_at(at, sizeof(at), L->role_pos[r], yamlload_node_pos(kn));
			yamlload_node_error(&L->y, kn, "role '%s' is set twice (%s) — keep one",
			                    name, at);
			continue;
		}
		L->role_pos[r] = yamlload_node_pos(kn);
		if (vn->type == YAML_MAPPING_NODE) {
			load_role(L, r, vn);
			L->t->given[r] = true;
			continue;
		}
		strbuf_reset(&got);
		describe_got(&got, vn);
		if (vn->type == YAML_SCALAR_NODE && !yamlload_has_nul(vn) &&
		    !yamlload_is_null(vn) &&
		    parse_color(yamlload_scalar(vn), false, &c) == COLOR_OK)
			yamlload_node_error(&L->y, vn, "role '%s' must be a mapping of fg, "
			                    "bg, fg8, bg8, attrs and mono, got %s — write '%s: "
			                    "{ fg: %s }'", name, got.buf, name,
			                    yamlload_scalar(vn));
		else
			yamlload_node_error(&L->y, vn, "role '%s' must be a mapping of fg, "
			                    "bg, fg8, bg8, attrs and mono, got %s — e.g. '%s: "
			                    "{ fg: 196, attrs: [bold] }'", name, got.buf, name);
	}
out:
	strbuf_release(&got);
}

static void load_name(struct loader *L, const yaml_node_t *v)
{
	struct strbuf got = STRBUF_INIT;
	const char *s;
	size_t n;

	describe_got(&got, v);
	if (v->type != YAML_SCALAR_NODE || yamlload_is_null(v)) {
		yamlload_node_error(&L->y, v, "'name' must be the theme's name, got %s — e.g. "
		                    "'name: my-theme', after its file my-theme.yaml", got.buf);
		goto out;
	}
	s = yamlload_scalar(v);
	n = v->data.scalar.length;
	for (size_t i = 0; i <= n; i++) {
		if (n == 0 || n > MAX_NAME || (i < n && !is_name_char((unsigned char)s[i]))) {
			yamlload_node_error(&L->y, v, "theme name %s may hold only up to %d "
			                    "letters, digits, '-', '_' and '.' — e.g. 'name: "
			                    "my-theme'", got.buf, MAX_NAME);
			goto out;
		}
	}
	free(L->t->name);
	L->t->name = xstrdup(s);
out:
	strbuf_release(&got);
}

static void load_top(struct loader *L, const yaml_node_t *root)
{
	struct yamlload_pos seen[ARRAY_SIZE(top_keys)] = { { 0, 0 } };
	struct strbuf got = STRBUF_INIT;
	char at[48];

	if (root->type != YAML_MAPPING_NODE) {
		describe_got(&got, root);
		yamlload_node_error(&L->y, root, "the top level must be a mapping with "
		                    "'name' and 'roles', got %s — start the file with 'name: "
		                    "my-theme' and 'roles:'", got.buf);
		strbuf_release(&got);
		return;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top && !yamlload_full(&L->y); p++) {
		yaml_node_t *kn = yamlload_node(&L->y, p->key);
		yaml_node_t *vn = yamlload_node(&L->y, p->value);
		const char *key = key_name(L, kn, "keys");
		const char *guess;
		size_t k;

		if (!key || !vn)
			continue;
		for (k = 0; k < ARRAY_SIZE(top_keys); k++)
			if (strcmp(top_keys[k], key) == 0)
				break;
		if (k == ARRAY_SIZE(top_keys)) {
			strbuf_reset(&got);
			add_shown(&got, key, strlen(key));
			guess = yamlload_suggest(key, top_keys, ARRAY_SIZE(top_keys));
			if (guess)
				yamlload_node_error(&L->y, kn, "unknown key '%s' (did you mean "
				                    "'%s'?)", got.buf, guess);
			else if (theme_role_by_name(key) >= 0)
				yamlload_node_error(&L->y, kn, "unknown key '%s' — it is a "
				                    "role: put it under 'roles:', indented",
				                    got.buf);
			else if (find_key(key) >= 0)
				yamlload_node_error(&L->y, kn, "unknown key '%s' — it belongs "
				                    "to a role under 'roles:', e.g. 'normal: "
				                    "{ %s: ... }'", got.buf, got.buf);
			else
				yamlload_node_error(&L->y, kn, "unknown key '%s' — a theme has "
				                    "'name' and 'roles'", got.buf);
			continue;
		}
		if (seen[k].line) {
			first_at(at, sizeof(at), seen[k], yamlload_node_pos(kn));
			yamlload_node_error(&L->y, kn, "'%s' is set twice (%s) — keep one", key,
			                    at);
			continue;
		}
		seen[k] = yamlload_node_pos(kn);
		if (k == 0)
			load_name(L, vn);
		else
			load_roles(L, vn);
	}
	strbuf_release(&got);
}

/* ---------------------------------------------------------------- load */

/* The file name without its directory and .yaml: the theme's name when the
 * file does not give one. */
static char *file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	else if (n > 4 && strcmp(base + n - 4, ".yml") == 0)
		n -= 4;
	return n ? xstrndup(base, n) : xstrdup("theme");
}

int theme_load_buffer(struct theme *t, const char *name, const char *data, size_t len,
                      char **errs)
{
	struct loader L = { .t = t };
	struct yamlload_pos deep;

	yamlload_init(&L.y, name, data, len, YAMLLOAD_STOP);
	theme_init_default(t);
	free(t->name);
	t->name = file_stem(name);
	/* A theme nests four levels (the file, 'roles', a role, its 'attrs'):
	 * far less than where libyaml's flow nesting gets expensive. */
	if (yamlload_too_deep(&L.y, MAX_DEPTH, &deep)) {
		yamlload_error(&L.y, deep, "the YAML nests deeper than %d levels — a theme "
		               "needs four: the file, 'roles', a role and its 'attrs'",
		               MAX_DEPTH);
	} else if (yamlload_parse(&L.y, yaml_hints) == 0) {
		yaml_node_t *root = yaml_document_get_root_node(L.y.doc);

		if (root && !yamlload_is_null(root))
			load_top(&L, root);
		yamlload_parse_end(&L.y, "a theme file");
	}
	return yamlload_finish(&L.y, errs);
}

/* The theme names (file stems) in dir, sorted, or -1 with errno. */
static int list_themes(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t alloc = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len <= 5 || e->d_name[0] == '.' || strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		XGROW(*names, alloc, *n + 1);
		(*names)[(*n)++] = xstrndup(e->d_name, len - 5);
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++)     /* insertion sort: a handful */
		for (size_t j = i; j > 0 && strcmp((*names)[j - 1], (*names)[j]) > 0; j--) {
			char *tmp = (*names)[j];
			(*names)[j] = (*names)[j - 1];
			(*names)[j - 1] = tmp;
		}
	return 0;
}

/* The message for a theme file that cannot be read. */
static void read_error(struct strbuf *why, int err, const char *what)
{
	switch (err) {
	case EISDIR:
		strbuf_addf(why, "%s is a directory, not a theme file — name a .yaml "
		            "file inside it", what);
		break;
	case EFBIG:
		strbuf_addf(why, "%s is larger than %d bytes — this is not a theme file",
		            what, THEME_MAX_BYTES);
		break;
	default:
		strbuf_addf(why, "cannot read %s: %s — check the path", what, strerror(err));
		break;
	}
}

/* Load path; when it cannot be read, t holds the defaults and *err says why. */
static int load_path(struct theme *t, const char *path, char **errs, int *err)
{
	struct strbuf text = STRBUF_INIT;
	int ret;

	switch (yamlload_read_file(path, THEME_MAX_BYTES, &text)) {
	case YAMLLOAD_READ_OK:
		*err = 0;
		break;
	case YAMLLOAD_READ_DIRECTORY:
		*err = EISDIR;
		break;
	case YAMLLOAD_READ_TOO_BIG:
		*err = EFBIG;
		break;
	case YAMLLOAD_READ_CANNOT_OPEN:
	case YAMLLOAD_READ_FAILED:
		*err = errno ? errno : EIO;
		break;
	}
	if (*err) {
		theme_init_default(t);
		free(t->name);
		t->name = file_stem(path);
		strbuf_release(&text);
		if (errs)
			*errs = NULL;
		return -1;
	}
	ret = theme_load_buffer(t, path, text.buf ? text.buf : "", text.len, errs);
	strbuf_release(&text);
	return ret;
}

static int fail_with(const char *file, const char *msg, char **errs)
{
	struct yamlload y;

	yamlload_init(&y, file, NULL, 0, YAMLLOAD_STOP);
	yamlload_error(&y, (struct yamlload_pos){ 0, 0 }, "%s", msg);
	return yamlload_finish(&y, errs);
}

int theme_load_file(struct theme *t, const char *path, char **errs)
{
	struct strbuf why = STRBUF_INIT;
	int err, ret = load_path(t, path, errs, &err);

	if (ret < 0 && err) {
		read_error(&why, err, "the theme");
		ret = fail_with(path, why.buf, errs);
	}
	strbuf_release(&why);
	return ret;
}

int theme_load(struct theme *t, const char *dir, const char *name, char **errs)
{
	struct strbuf path = STRBUF_INIT, why = STRBUF_INIT;
	size_t n = name ? strlen(name) : 0;
	char **names = NULL;
	size_t nnames = 0;
	int err, ret;

	if (!dir || !*dir)
		dir = ".";
	if (!name || !*name || strchr(name, '/')) {
		theme_init_default(t);
		strbuf_addstr(&why, "theme name '");
		if (name)
			add_shown(&why, name, n);
		strbuf_addstr(&why, "' is not a file name — set ui.theme to a theme "
		              "in the themes directory, without '.yaml'");
		ret = fail_with(dir, why.buf, errs);
		goto out;
	}
	strbuf_addf(&path, "%s/%s%s", dir, name,
	            n > 5 && strcmp(name + n - 5, ".yaml") == 0 ? "" : ".yaml");
	ret = load_path(t, path.buf, errs, &err);
	if (ret == 0 || !err)
		goto out;
	if (err != ENOENT) {
		read_error(&why, err, "the theme");
		ret = fail_with(path.buf, why.buf, errs);
		goto out;
	}
	/* The built-in theme is default.yaml: no file needed. */
	if (strcmp(name, "default") == 0 || strcmp(name, "default.yaml") == 0) {
		theme_release(t);
		theme_init_default(t);
		ret = 0;
		goto out;
	}
	strbuf_addf(&why, "theme '");
	add_shown(&why, name, n);
	strbuf_addstr(&why, "' not found");
	if (list_themes(dir, &names, &nnames) < 0) {
		strbuf_addf(&why, " — cannot read the themes directory: %s; check "
		            "paths.themes_dir", strerror(errno));
	} else {
		const char *guess = yamlload_suggest(name, (const char *const *)names, nnames);

		if (guess) {
			strbuf_addf(&why, " (did you mean '%s'?)", guess);
		} else if (nnames) {
			strbuf_addstr(&why, " — set ui.theme to one of:");
			for (size_t i = 0; i < nnames; i++)
				strbuf_addf(&why, "%s %s", i ? "," : "", names[i]);
		} else {
			strbuf_addstr(&why, " — the themes directory has no .yaml files; "
			              "check paths.themes_dir");
		}
	}
	ret = fail_with(path.buf, why.buf, errs);
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	strbuf_release(&path);
	strbuf_release(&why);
	return ret;
}

/* ---------------------------------------------------------------- writing */

static void add_color(struct strbuf *sb, int c, bool eight)
{
	char num[8];
	const char *s;

	if (c == THEME_COLOR_DEFAULT) {
		s = "default";
	} else if (eight && c >= 0 && c < 8) {
		s = color_names[c];
	} else {
		snprintf(num, sizeof(num), "%d", c);
		s = num;
	}
	(void)eight;
	strbuf_addf(sb, "%s,%*s", s, 7 - (int)strlen(s), "");
}

static void add_attrs(struct strbuf *sb, uint8_t bits)
{
	const char *sep = "";

	strbuf_addch(sb, '[');
	for (size_t i = 0; i < ARRAY_SIZE(attr_defs); i++) {
		if (bits & attr_defs[i].bit) {
			strbuf_addf(sb, "%s%s", sep, attr_defs[i].name);
			sep = ", ";
		}
	}
	strbuf_addch(sb, ']');
}

char *theme_to_yaml(const struct theme *t)
{
	struct strbuf sb = STRBUF_INIT, tmp = STRBUF_INIT;
	size_t width = 0, attrs_width = 0;

	/* Columns lined up: the widest role name and attrs list. */
	for (size_t r = 0; r < THEME_ROLE_COUNT; r++) {
		if (strlen(role_defs[r].name) > width)
			width = strlen(role_defs[r].name);
		strbuf_reset(&tmp);
		add_attrs(&tmp, t->roles[r].attr);
		if (tmp.len > attrs_width)
			attrs_width = tmp.len;
	}
	strbuf_release(&tmp);
	/* Quoted: a name such as '-' or 'true' stays a string. */
	strbuf_addstr(&sb, "name: \"");
	for (const char *s = t->name && *t->name ? t->name : "theme", *start = s;
	     *s && s - start < MAX_NAME; s++)
		strbuf_addch(&sb, is_name_char((unsigned char)*s) ? *s : '-');
	strbuf_addstr(&sb, "\"\nroles:\n");
	for (size_t r = 0; r < THEME_ROLE_COUNT; r++) {
		const struct theme_style *st = &t->roles[r];
		size_t before;

		strbuf_addf(&sb, "  # %s\n  %s:%*s { fg: ", role_defs[r].help,
		            role_defs[r].name, (int)(width - strlen(role_defs[r].name)), "");
		add_color(&sb, st->fg256, false);
		strbuf_addstr(&sb, " bg: ");
		add_color(&sb, st->bg256, false);
		strbuf_addstr(&sb, " fg8: ");
		add_color(&sb, st->fg8, true);
		strbuf_addstr(&sb, " bg8: ");
		add_color(&sb, st->bg8, true);
		strbuf_addstr(&sb, " attrs: ");
		before = sb.len;
		add_attrs(&sb, st->attr);
		strbuf_addf(&sb, ",%*s mono: ", (int)(before + attrs_width - sb.len), "");
		add_attrs(&sb, st->mono_attr);
		strbuf_addstr(&sb, " }\n");
	}
	return strbuf_detach(&sb, NULL);
}
