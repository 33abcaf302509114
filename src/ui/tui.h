/*
 * tui: the interactive cockpit — the only code that talks to the terminal.
 *
 * One loop (STYLE rule 5): poll() on stdin, the collector's wake pipe and a
 * signal pipe; each turn handles keys, takes the newest snapshot, and when
 * anything changed builds the screen into a canvas and copies it to curses
 * with one doupdate(). The UI thread never waits on the network: a hung
 * server shows as a stale snapshot with its age.
 *
 * The terminal is sacred (rule 13): normal exit, Ctrl-C, SIGTERM, SIGHUP and
 * out-of-memory all restore it; stderr is captured while curses is up and
 * replayed afterwards.
 */
#ifndef COCKPIT_UI_TUI_H
#define COCKPIT_UI_TUI_H

#include <stdbool.h>

struct config;
struct collector;
struct recording;

struct tui_options {
	const struct config *cfg;     /* borrowed */
	struct collector *collector;  /* live source (borrowed; started by tui_run), or NULL */
	struct recording *replay;     /* replay source (borrowed), or NULL */
	bool ascii;                   /* --ascii */
	const char *theme;            /* theme name (NULL: cfg's) */
	/* The live target's connections, resolved by main.c (NULL in replay):
	 * the brain's (monitoring) and the executor's; executor_conninfo NULL
	 * means nothing can run on this target (proposals are shown, accept
	 * says why it cannot run). Passwords come from the named environment
	 * variables (NULL: libpq's PGPASSWORD / ~/.pgpass). */
	const char *conninfo;
	const char *password_env;
	const char *executor_conninfo;
	const char *executor_password_env;
};

/* Run until the user quits. Returns the process exit code. */
int tui_run(const struct tui_options *o);

#endif
