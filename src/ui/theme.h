/*
 * theme: named colour roles and the themes that map them to colours.
 *
 * Screen code never names a raw colour (STYLE rule 10): it asks for a role
 * such as THEME_LOCK_BLOCKER or THEME_RISK_HIGH. A theme file
 * (themes/NAME.yaml) gives each role a foreground, background and
 * attributes, with a 256-colour value and an 8-colour fallback; with no
 * colour (NO_COLOR set, a mono theme, or a terminal without colours) roles
 * fall back to attributes only (bold, reverse, underline, dim), which the
 * theme also names, so meaning survives without colour.
 *
 * The role table (name, help) lives in theme.c and is the one place roles
 * are declared; the theme loader validates role names against it.
 */
#ifndef COCKPIT_UI_THEME_H
#define COCKPIT_UI_THEME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum theme_role {
	THEME_NORMAL,          /* default text */
	THEME_DIM,             /* secondary text: units, idle sessions */
	THEME_TITLE,           /* screen titles, table headers */
	THEME_HEADER,          /* the top header bar */
	THEME_TAB,             /* inactive tab */
	THEME_TAB_ACTIVE,      /* the current screen's tab */
	THEME_STATUS,          /* bottom status line */
	THEME_SELECTED,        /* the selected row */
	THEME_OK,              /* healthy values */
	THEME_WARN,            /* past a warning threshold */
	THEME_CRIT,            /* past a critical threshold */
	THEME_STALE,           /* stale or disconnected snapshot warning */
	THEME_STATE_ACTIVE,    /* session state: active */
	THEME_STATE_IDLE,      /* idle */
	THEME_STATE_IDLE_XACT, /* idle in transaction */
	THEME_STATE_WAITING,   /* waiting on a lock */
	THEME_LOCK_BLOCKER,    /* root blocker in the lock tree */
	THEME_LOCK_WAITER,     /* waiter in the lock tree */
	THEME_LOCK_CYCLE,      /* deadlock cycle members */
	THEME_LOCK_EDGE,       /* tree lines */
	THEME_AGENT,           /* agent names */
	THEME_SPARK,           /* sparklines */
	THEME_BAR_FILL,        /* filled part of a bar */
	THEME_BAR_EMPTY,       /* empty part of a bar */
	THEME_RISK_LOW,
	THEME_RISK_MEDIUM,
	THEME_RISK_HIGH,
	THEME_RISK_CRITICAL,
	THEME_DIFF_ADD,        /* diff: added line */
	THEME_DIFF_DEL,        /* diff: removed line */
	THEME_HELP_KEY,        /* key names in the help overlay */
	THEME_FILTER,          /* the filter prompt and matches */
	THEME_ROLE_COUNT
};

#define THEME_ATTR_BOLD 0x01
#define THEME_ATTR_REVERSE 0x02
#define THEME_ATTR_UNDERLINE 0x04
#define THEME_ATTR_DIM 0x08

#define THEME_COLOR_DEFAULT (-1)

struct theme_style {
	int16_t fg256, bg256;  /* 0..255, or THEME_COLOR_DEFAULT */
	int16_t fg8, bg8;      /* 0..7 (black red green yellow blue magenta cyan white) or default */
	uint8_t attr;          /* THEME_ATTR_* with colour */
	uint8_t mono_attr;     /* THEME_ATTR_* without colour */
};

struct theme {
	char *name;                                  /* owned */
	struct theme_style roles[THEME_ROLE_COUNT];
	bool given[THEME_ROLE_COUNT];                /* role set by the theme file;
	                                                false: built-in default */
};

/* Built-in default theme (used when no theme file can be read); the same
 * values as themes/default.yaml. t is overwritten: release it first if it
 * holds a theme. */
void theme_init_default(struct theme *t);
/* Load dir/NAME.yaml over the defaults (NAME may end in .yaml; dir NULL is
 * "."). A missing default.yaml is no error: the built-in theme is the same.
 * A missing other theme names the themes dir holds, with a did-you-mean.
 *
 * All loaders: t is overwritten (release it first if it holds a theme) and
 * always ends up usable: the defaults with every valid setting of the file
 * applied. A key a role leaves out keeps the built-in value, except fg8/bg8,
 * which follow a given fg/bg (theme_nearest8). Returns 0, or -1 with every
 * problem as one "FILE:LINE:COL: problem — fix" line (or "FILE: problem"
 * when there is no position) in *errs, malloc'ed, sorted by position; errs
 * may be NULL. *errs is NULL on success. */
int theme_load(struct theme *t, const char *dir, const char *name, char **errs);
/* Load a theme file by path (for tests, fuzzing and `-c` relative paths). */
int theme_load_file(struct theme *t, const char *path, char **errs);
/* Load a theme from memory; name is the file name used in messages, and the
 * theme's name (without .yaml) when the text does not give one. data need
 * not be NUL-terminated. */
int theme_load_buffer(struct theme *t, const char *name, const char *data, size_t len,
                      char **errs);
/* Free what t owns; t may be released twice. */
void theme_release(struct theme *t);
/* The nearest of the 8 basic colours (0-7) to xterm colour c256 (0-255):
 * 8-15 map to their base colour, the rest by distance in the xterm palette;
 * THEME_COLOR_DEFAULT for anything else. */
int theme_nearest8(int c256);
/* t as a complete theme file: every role, with its help as a comment and
 * every key explicit (malloc'ed). Loading it gives t back. */
char *theme_to_yaml(const struct theme *t);
const char *theme_role_name(enum theme_role r);
/* Role by name ("lock.blocker"), or -1. */
int theme_role_by_name(const char *name);
/* Help text of a role (for docs). */
const char *theme_role_help(enum theme_role r);

#endif
