/*
 * screen: the small vtable every screen implements, and what a screen sees.
 *
 * STYLE rules 6 and 7: screens are vtables run by one screen manager
 * (tui.c); a screen turns the current snapshot into canvas cells and never
 * calls curses, so it can be driven and read in unit tests. Key handlers
 * return whether they used the key; they never draw. Keys arrive as
 * ui_key codes (tui.c maps curses keys to them), so no screen includes
 * curses.
 */
#ifndef COCKPIT_UI_SCREEN_H
#define COCKPIT_UI_SCREEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "ui/canvas.h"

struct snapshot;
struct config;
struct history;
struct board;
struct job_view;
struct executor;
struct audit;
struct policy_state;
struct view;

enum ui_key {
	UI_KEY_UP = 0x110000, /* above every Unicode code point */
	UI_KEY_DOWN,
	UI_KEY_LEFT,
	UI_KEY_RIGHT,
	UI_KEY_PGUP,
	UI_KEY_PGDN,
	UI_KEY_HOME,
	UI_KEY_END,
	UI_KEY_ENTER,
	UI_KEY_ESC,
	UI_KEY_BACKSPACE,
	UI_KEY_TAB,
	UI_KEY_BTAB,
	UI_KEY_RESIZE,
};

/* The act layer's handles, for the screens that act (Proposals). Owned by
 * tui.c; screens send commands through them (executor_submit, the audit
 * log) and never call libpq. */
struct brain;
struct advisor;

struct ui_act {
	enum cockpit_mode mode;
	struct executor *executor;     /* NULL: nothing can run here; why in no_executor */
	const char *no_executor;       /* one line, or NULL */
	struct audit *audit;           /* NULL when the audit log could not be opened */
	struct policy_state *policy;   /* may be NULL */
	struct brain *brain;           /* operators' requests (brain_request); NULL: none */
	struct advisor *advisor;       /* the LLM's consults (think/advisor.h); NULL: none,
	                                  why in no_llm */
	const char *no_llm;            /* one calm line, or NULL */
};

/* What a key handler asks of the loop, which acts on it after the handler
 * returns (handlers never draw nor touch the terminal). */
struct ui_request {
	char message[256];             /* for the status line; "" none */
	bool prompt;                   /* read a line of text in the status line */
	char prompt_label[160];
	char *edit_text;               /* malloc'ed (the loop frees it): run $VISUAL /
	                                  $EDITOR on it in a temporary file */
	/* Called with the typed line or the edited text (NULL: cancelled, or
	 * the editor failed — message says why). */
	void (*done)(void *st, const struct view *v, const char *text);
	void *st;
};

/* What a screen reads each frame. Everything is borrowed for the frame. */
struct view {
	const struct snapshot *snap;   /* newest (or replayed) snapshot; NULL before the first */
	const struct config *cfg;
	const struct history *hist;    /* recent samples for sparklines */
	double now;                    /* wall clock, epoch seconds */
	bool ascii;
	const struct board *board;     /* newest board of the brain (think/brain.h), or NULL */
	const struct job_view *jobs;   /* the executor's jobs, newest last */
	size_t njobs;
	const struct ui_act *act;      /* NULL in replay */
	struct ui_request *req;        /* key handlers write here; NULL while drawing */
};

/* One line of the help overlay. */
struct key_help {
	const char *keys;  /* "j / Down" */
	const char *what;  /* "next row" */
};

struct screen_ops {
	const char *name;                   /* tab title */
	const struct key_help *keys;        /* this screen's own keys, for the help overlay */
	size_t nkeys;
	void *(*create)(void);
	void (*destroy)(void *st);
	/* Draw into r (the body area). */
	void (*draw)(void *st, const struct view *v, struct canvas *c, struct canvas_rect r);
	/* A key; true when used. */
	bool (*key)(void *st, const struct view *v, int key);
	/* A click at canvas (x, y) inside the body; true when used. */
	bool (*click)(void *st, const struct view *v, int x, int y);
	/* Filter text ("" clears); NULL when the screen has no filter. */
	void (*filter)(void *st, const char *text);
	/* Current filter text for the status line, or NULL. */
	const char *(*filter_text)(void *st);
};

extern const struct screen_ops screen_overview;
extern const struct screen_ops screen_sessions;
extern const struct screen_ops screen_locks;
extern const struct screen_ops screen_queries;
extern const struct screen_ops screen_disk;
extern const struct screen_ops screen_agents;
extern const struct screen_ops screen_proposals;

struct table;

/* The keys and clicks every table screen shares: j/k and arrows, pages,
 * g/G, s/S sort, a click on a row selects it and on a header sorts by it.
 * True when used. */
bool screen_table_key(struct table *t, int key);
bool screen_table_click(struct table *t, int x, int y);

/* Draw text wrapped at w cells (and at its newlines) from (x, y), at most
 * max_lines lines; returns the lines used. */
int screen_wrap(struct canvas *c, int x, int y, int w, int max_lines, enum theme_role role,
		const char *text);

/* The server's clock for ages on this frame: the snapshot's server time
 * plus the whole seconds since it was collected (v->now when the snapshot
 * has no server time). A redraw that comes a moment after the snapshot (a
 * new board, a key) shows the ages the snapshot showed, so it repaints
 * nothing; a snapshot that is late still has its ages move, second by
 * second, while the header says how old the data is. */
double screen_server_now(const struct view *v, const struct snapshot *s);

/* Draw a one-line section title with a rule to the right edge. */
void screen_title(struct canvas *c, int x, int y, int w, const char *title);

#endif
