/*
 * tui: terminal lifecycle, the event loop, the screen manager and the
 * chrome around the screens (header, tabs, status line, help, filter and
 * question prompts, the editor escape); see tui.h.
 *
 * The self-healing loop's owner side lives here too: tui_run creates the
 * runbook set, the policy state (past runs from the audit log), the audit
 * log, the brain (think/brain.h) and, when the mode may run anything and
 * an executor connection is known, the executor (act/executor.h). The
 * brain and the executor wake the loop through their own pipe; each wake
 * takes the newest board and the jobs' states. In shadow and auto modes
 * the loop hands the proposals policy_gate() lets go without an operator
 * to the executor, once per proposal and incident (the executor records
 * shadow.would_run or runs them). In replay the brain runs the detectors
 * only on the replayed snapshots (no connection: nothing is diagnosed,
 * proposed, audited or run).
 */
#include "ui/tui.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <curses.h>

#include "act/action.h"
#include "act/audit.h"
#include "act/executor.h"
#include "act/policy.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/strbuf.h"
#include "perceive/collector.h"
#include "perceive/recording.h"
#include "perceive/snapshot.h"
#include "think/advisor.h"
#include "think/brain.h"
#include "think/runbook.h"
#include "ui/canvas.h"
#include "ui/format.h"
#include "ui/history.h"
#include "ui/screen.h"
#include "ui/theme.h"

#define MIN_W 40
/* A new snapshot waits at most this long for the brain's board on it, so
 * both reach the screen in one frame (one draw a refresh, not two). */
#define BOARD_WAIT_MS 150
#define MIN_H 12

static const struct screen_ops *const screens[] = {
	&screen_overview, &screen_sessions, &screen_locks,
	&screen_queries, &screen_disk, &screen_agents, &screen_proposals,
};
#define NSCREENS (sizeof(screens) / sizeof(*screens))

static const int periods_ms[] = { 250, 500, 1000, 2000, 5000, 10000, 30000 };
static const double speeds[] = { 0.25, 0.5, 1, 2, 4, 8, 16 };

/* Keys every screen has, in the help overlay. The table is the help. */
static const struct key_help global_keys[] = {
	{ "1-7, Tab, S-Tab", "switch screen (or click a tab)" },
	{ "j k, Up Down", "move the selection" },
	{ "PgUp PgDn, g G", "page, first, last" },
	{ "/", "filter rows (Enter keeps it, Esc clears it)" },
	{ "s, S", "sort by the next / previous column" },
	{ "p", "pause / resume the display" },
	{ "+ -", "refresh faster / slower (replay: speed)" },
	{ "[ ]", "replay: step back / forward (pauses)" },
	{ "?", "this help (any key closes it)" },
	{ "q, F10, Ctrl-C", "quit" },
};

/* ---- terminal state (also used from signal handlers and the OOM hook) -- */

static volatile sig_atomic_t curses_up;
static int sig_pipe[2] = { -1, -1 };
static int saved_stderr = -1;
static FILE *stderr_capture;

static void terminal_restore(void)
{
	if (curses_up) {
		curses_up = 0;
		endwin();
	}
}

static void replay_stderr(void)
{
	char buf[4096];
	size_t n;

	if (saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	if (!stderr_capture)
		return;
	rewind(stderr_capture);
	while ((n = fread(buf, 1, sizeof(buf), stderr_capture)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(stderr_capture);
	stderr_capture = NULL;
}

static void on_quit_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	ssize_t w = write(sig_pipe[1], &b, 1);

	(void)w;
}

static void on_fatal_signal(int sig)
{
	terminal_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void capture_stderr(void)
{
	stderr_capture = tmpfile();
	if (!stderr_capture)
		return;
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr < 0 || dup2(fileno(stderr_capture), STDERR_FILENO) < 0) {
		fclose(stderr_capture);
		stderr_capture = NULL;
	}
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_quit_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = (int)SA_RESETHAND;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- colours ---------------------------------------------------------- */

struct painter {
	attr_t attr[THEME_ROLE_COUNT];
	short pair[THEME_ROLE_COUNT];
	bool ascii;
	struct canvas_cell *last;  /* owned: the cells blitted last time (last_w x last_h) */
	int last_w, last_h;
};

static attr_t theme_attrs(uint8_t a)
{
	attr_t r = A_NORMAL;

	if (a & THEME_ATTR_BOLD)
		r |= A_BOLD;
	if (a & THEME_ATTR_REVERSE)
		r |= A_REVERSE;
	if (a & THEME_ATTR_UNDERLINE)
		r |= A_UNDERLINE;
	if (a & THEME_ATTR_DIM)
		r |= A_DIM;
	return r;
}

static void painter_init(struct painter *p, const struct theme *t, bool ascii)
{
	bool color = has_colors() && !getenv("NO_COLOR");

	p->ascii = ascii;
	if (color) {
		start_color();
		use_default_colors();
	}
	for (int i = 0; i < THEME_ROLE_COUNT; i++) {
		const struct theme_style *st = &t->roles[i];

		p->pair[i] = 0;
		if (!color) {
			p->attr[i] = theme_attrs(st->mono_attr);
			continue;
		}
		p->attr[i] = theme_attrs(st->attr);
		if (COLORS >= 256)
			init_pair((short)(i + 1), st->fg256, st->bg256);
		else
			init_pair((short)(i + 1), st->fg8, st->bg8);
		p->pair[i] = (short)(i + 1);
	}
}

static bool cell_same(const struct canvas_cell *a, const struct canvas_cell *b)
{
	return a->ch == b->ch && a->role == b->role && a->attr == b->attr;
}

/* Copy the canvas to curses' virtual screen in runs of equal style; curses
 * then sends only what differs from the terminal. Only the span of each row
 * that changed since the last blit is copied: curses' own per-cell work
 * (wadd_wch) on a 200x50 screen was the largest part of a frame, and its
 * virtual screen still holds the rest. */
static void blit(struct painter *p, const struct canvas *c)
{
	wchar_t run[512];
	size_t cells = (size_t)c->w * (size_t)c->h;
	bool full = !p->last || p->last_w != c->w || p->last_h != c->h;

	for (int y = 0; y < c->h; y++) {
		int x = 0, end = c->w;

		if (!full) {
			const struct canvas_cell *a = canvas_at(c, 0, y), *b = &p->last[(size_t)y * (size_t)c->w];

			while (x < c->w && cell_same(&a[x], &b[x]))
				x++;
			if (x == c->w)
				continue;
			while (end > x && cell_same(&a[end - 1], &b[end - 1]))
				end--;
			/* Never start or stop inside a wide character. */
			if (x > 0 && a[x].ch == CANVAS_CONT)
				x--;
			if (end < c->w && a[end].ch == CANVAS_CONT)
				end++;
		}
		while (x < end) {
			const struct canvas_cell *first = canvas_at(c, x, y);
			int x0 = x, n = 0;

			while (x < end && n < (int)(sizeof(run) / sizeof(*run)) - 2) {
				const struct canvas_cell *cell = canvas_at(c, x, y);

				if (cell->ch != CANVAS_CONT &&
				    (cell->role != first->role || cell->attr != first->attr))
					break;
				if (cell->ch != CANVAS_CONT)
					run[n++] = (p->ascii && cell->ch > 126) ? L'?' : (wchar_t)cell->ch;
				x++;
			}
			run[n] = L'\0';
			attr_set(p->attr[first->role] | theme_attrs(first->attr), p->pair[first->role], NULL);
			mvaddnwstr(y, x0, run, n);
		}
	}
	if (full) {
		free(p->last);
		p->last = xmalloc((cells ? cells : 1) * sizeof(*p->last));
		p->last_w = c->w;
		p->last_h = c->h;
	}
	memcpy(p->last, c->cells, cells * sizeof(*p->last));
}

/* ---- the loop's state -------------------------------------------------- */

struct tui {
	const struct tui_options *o;
	struct canvas canvas;
	struct painter painter;
	struct history hist;
	void *state[NSCREENS];
	size_t current;
	struct snapshot *shown;    /* owned reference: what is on screen */
	bool paused;
	bool help;
	bool filtering;
	char filter[128];
	size_t filter_len;
	char message[256];
	int64_t message_until;
	int tab_x[NSCREENS + 1];   /* tab start columns (for clicks) */
	/* replay */
	size_t frame;
	size_t speed;              /* index into speeds */
	int64_t next_frame_ms;
	/* live */
	size_t period;             /* index into periods_ms */
	int wake[2];
	bool ascii;
	/* questions a screen asks (ui_request.prompt) */
	bool prompting;
	char prompt_label[160];
	char answer[256];
	size_t answer_len;
	void (*answer_done)(void *st, const struct view *v, const char *text);
	void *answer_st;
	/* the self-healing loop */
	int think[2];              /* the brain's and the executor's wake pipe */
	struct runbook_set runbooks;
	struct policy_state *policy;   /* owned, NULL in replay */
	struct audit *audit;           /* owned, NULL in replay or when it cannot be opened */
	struct brain *brain;           /* owned, or NULL */
	struct advisor *advisor;       /* owned, or NULL (why in no_llm) */
	char no_llm[256];
	struct executor *executor;     /* owned, or NULL (why in no_executor) */
	char no_executor[384];
	struct ui_act act;
	struct board *board;           /* owned reference: newest board */
	struct board *board_prev;      /* owned: kept until the next draw (screens may still
	                                  point into it until they rebuild) */
	struct job_view *jobs, *jobs_prev;
	size_t njobs, njobs_prev;
	char **handed;                 /* "incident\nproposal id" handed to the executor
	                                  without an operator (shadow / auto) */
	size_t nhanded;
};

static void tui_message(struct tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tui_message(struct tui *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->message, sizeof(t->message), fmt, ap);
	va_end(ap);
	t->message_until = clock_mono_ms() + 3000;
}

static void show(struct tui *t, struct snapshot *s)
{
	if (!s)
		return;
	snapshot_unref(t->shown);
	t->shown = s;
	history_add(&t->hist, s);
	if (t->o->replay && t->brain)
		brain_feed(t->brain, s);
}

static double frame_gap_ms(const struct tui *t)
{
	const struct recording *r = t->o->replay;
	double gap = 1000;

	if (t->frame + 1 < r->nframes) {
		double a = r->frames[t->frame]->collected_at, b = r->frames[t->frame + 1]->collected_at;

		if (b > a && b - a < 3600)
			gap = (b - a) * 1000.0;
	}
	gap /= speeds[t->speed];
	return gap < 20 ? 20 : gap;
}

static void replay_goto(struct tui *t, size_t frame)
{
	const struct recording *r = t->o->replay;

	if (frame >= r->nframes)
		frame = r->nframes - 1;
	t->frame = frame;
	show(t, snapshot_ref(r->frames[frame]));
	t->next_frame_ms = clock_mono_ms() + (int64_t)frame_gap_ms(t);
}

/* What the screens see. In a replay "now" is the time of the frame, so ages
 * read as they did when it was recorded. */
static struct view make_view(const struct tui *t)
{
	struct view v = { .snap = t->shown, .cfg = t->o->cfg, .hist = &t->hist,
			  .now = (double)clock_wall_us() / 1e6, .ascii = t->ascii,
			  .board = t->board, .jobs = t->jobs, .njobs = t->njobs,
			  .act = t->o->replay ? NULL : &t->act, .req = NULL };

	if (t->o->replay && t->shown && t->shown->collected_at > 0)
		v.now = t->shown->collected_at;
	return v;
}

/* ---- chrome ------------------------------------------------------------ */

static void draw_header(struct tui *t, const struct view *v)
{
	struct canvas *c = &t->canvas;
	const struct snapshot *s = t->shown;
	char age[32], buf[256];
	int x;

	canvas_fill(c, 0, 0, c->w, THEME_HEADER, ' ');
	x = canvas_text(c, 0, 0, -1, THEME_HEADER, " cockpit ");
	if (s) {
		/* "15.18 (Debian 15.18-0+deb12u1)": the number is what matters. */
		int vlen = s->server.version ? (int)strcspn(s->server.version, " ") : 0;

		snprintf(buf, sizeof(buf), "PostgreSQL %.*s  ", vlen, s->server.version ? s->server.version : "");
		if (vlen)
			x += canvas_text(c, x, 0, -1, THEME_HEADER, buf);
		x += canvas_text(c, x, 0, c->w / 3, THEME_HEADER, s->target ? s->target : "?");
	}
	snprintf(buf, sizeof(buf), "  mode %s", config_mode_name(v->cfg->mode));
	x += canvas_text(c, x, 0, -1, THEME_HEADER, buf);
	if (t->o->replay) {
		snprintf(buf, sizeof(buf), "  REPLAY %zu/%zu x%g%s", t->frame + 1, t->o->replay->nframes,
			 speeds[t->speed], t->paused ? " PAUSED" : "");
		x += canvas_text(c, x, 0, -1, THEME_WARN, buf);
	} else if (t->paused) {
		x += canvas_text(c, x, 0, -1, THEME_WARN, "  PAUSED");
	}
	if (!s) {
		canvas_text(c, x, 0, -1, THEME_STALE, "  connecting...");
		return;
	}
	fmt_duration(t->o->replay ? 0 : snapshot_age_s(s), age, sizeof(age));
	if (!s->connected) {
		snprintf(buf, sizeof(buf), "  DISCONNECTED (data %s old): %s", age, s->error ? s->error : "");
		canvas_text(c, x, 0, -1, THEME_STALE, buf);
	} else if (!t->o->replay && !t->paused && t->o->collector &&
		   snapshot_age_s(s) * 1000 > 2.0 * collector_period(t->o->collector) + 500) {
		snprintf(buf, sizeof(buf), "  STALE: no new data for %s", age);
		canvas_text(c, x, 0, -1, THEME_STALE, buf);
	} else if (!t->o->replay) {
		/* Sub-second ages would repaint the header every frame for nothing. */
		snprintf(buf, sizeof(buf), "  %s%s", snapshot_age_s(s) < 1.0 ? "live" : "age ",
			 snapshot_age_s(s) < 1.0 ? "" : age);
		canvas_text(c, x, 0, -1, THEME_HEADER, buf);
	}
}

static void draw_tabs(struct tui *t, const struct view *v)
{
	struct canvas *c = &t->canvas;
	const struct snapshot *s = v->snap;
	int x = 0;

	canvas_fill(c, 0, 1, c->w, THEME_TAB, ' ');
	for (size_t i = 0; i < NSCREENS; i++) {
		char buf[48];
		size_t badge = 0;

		if (s && screens[i] == &screen_locks && s->locks)
			badge = s->locks->nnodes ? s->locks->nnodes - s->locks->nroots : 0;
		if (screens[i] == &screen_proposals && v->board)
			for (size_t k = 0; k < v->board->incidents.n; k++)
				badge += v->board->incidents.v[k].nproposals;
		if (badge)
			snprintf(buf, sizeof(buf), " %zu %s (%zu) ", i + 1, screens[i]->name, badge);
		else
			snprintf(buf, sizeof(buf), " %zu %s ", i + 1, screens[i]->name);
		t->tab_x[i] = x;
		x += canvas_text(c, x, 1, -1, i == t->current ? THEME_TAB_ACTIVE : THEME_TAB, buf);
	}
	t->tab_x[NSCREENS] = x;
}

static void draw_status(struct tui *t)
{
	struct canvas *c = &t->canvas;
	const struct screen_ops *op = screens[t->current];
	int y = c->h - 1;
	char buf[256];

	canvas_fill(c, 0, y, c->w, THEME_STATUS, ' ');
	if (t->prompting) {
		int x = canvas_text(c, 0, y, c->w / 2, THEME_FILTER, t->prompt_label);
		int n = canvas_text(c, x, y, -1, THEME_FILTER, t->answer);

		canvas_fill(c, x + n, y, 1, THEME_SELECTED, ' ');
		return;
	}
	if (t->filtering) {
		snprintf(buf, sizeof(buf), "/%s", t->filter);
		canvas_text(c, 0, y, -1, THEME_FILTER, buf);
		canvas_fill(c, canvas_text_width(buf), y, 1, THEME_SELECTED, ' ');
		return;
	}
	if (t->message[0] && clock_mono_ms() < t->message_until) {
		canvas_text(c, 0, y, -1, THEME_STATUS, t->message);
		return;
	}
	if (op->filter_text && op->filter_text(t->state[t->current]) &&
	    *op->filter_text(t->state[t->current]))
		snprintf(buf, sizeof(buf), " filter: %s  (/ to change, Esc in the prompt clears)  ? help  q quit",
			 op->filter_text(t->state[t->current]));
	else if (t->o->replay)
		snprintf(buf, sizeof(buf), " ? help  q quit  p pause  [ ] step  + - speed  / filter  s sort");
	else
		snprintf(buf, sizeof(buf), " ? help  q quit  / filter  s sort  p pause  + - refresh %.2gs",
			 t->o->collector ? collector_period(t->o->collector) / 1000.0 : 0);
	canvas_text(c, 0, y, -1, THEME_STATUS, buf);
}

static void draw_help(struct tui *t)
{
	struct canvas *c = &t->canvas;
	const struct screen_ops *op = screens[t->current];
	size_t n = sizeof(global_keys) / sizeof(*global_keys) + op->nkeys + 3;
	int w = c->w - 4 < 72 ? c->w - 4 : 72, h = (int)n + 2, x0 = (c->w - w) / 2, y0;
	int y;

	if (h > c->h - 2)
		h = c->h - 2;
	y0 = (c->h - h) / 2;
	for (y = y0; y < y0 + h; y++)
		canvas_fill(c, x0, y, w, THEME_NORMAL, ' ');
	y = y0;
	canvas_text(c, x0 + 1, y++, w - 2, THEME_TITLE, "Keys (any key closes this)");
	for (size_t i = 0; i < sizeof(global_keys) / sizeof(*global_keys) && y < y0 + h; i++, y++) {
		canvas_text(c, x0 + 2, y, 18, THEME_HELP_KEY, global_keys[i].keys);
		canvas_text(c, x0 + 21, y, w - 22, THEME_NORMAL, global_keys[i].what);
	}
	if (op->nkeys && y < y0 + h) {
		char title[64];

		snprintf(title, sizeof(title), "%s screen", op->name);
		canvas_text(c, x0 + 1, y++, w - 2, THEME_TITLE, title);
	}
	for (size_t i = 0; i < op->nkeys && y < y0 + h; i++, y++) {
		canvas_text(c, x0 + 2, y, 18, THEME_HELP_KEY, op->keys[i].keys);
		canvas_text(c, x0 + 21, y, w - 22, THEME_NORMAL, op->keys[i].what);
	}
}

static void render(struct tui *t)
{
	struct canvas *c = &t->canvas;
	struct view v = make_view(t);
	struct canvas_rect body;

	canvas_resize(c, COLS, LINES);
	canvas_clear(c, THEME_NORMAL);
	if (COLS < MIN_W || LINES < MIN_H) {
		char buf[96];

		snprintf(buf, sizeof(buf), "terminal too small (%dx%d)", COLS, LINES);
		canvas_text(c, 0, 0, -1, THEME_CRIT, buf);
		snprintf(buf, sizeof(buf), "cockpit needs %dx%d", MIN_W, MIN_H);
		canvas_text(c, 0, 1, -1, THEME_NORMAL, buf);
		canvas_text(c, 0, 2, -1, THEME_DIM, "q quits");
	} else {
		draw_header(t, &v);
		draw_tabs(t, &v);
		body = (struct canvas_rect){ 0, 2, c->w, c->h - 3 };
		canvas_set_clip(c, body);
		screens[t->current]->draw(t->state[t->current], &v, c, body);
		canvas_reset_clip(c);
		draw_status(t);
		if (t->help)
			draw_help(t);
	}
	blit(&t->painter, c);
	wnoutrefresh(stdscr);
	doupdate();
	/* Every screen drew from the newest board and jobs: the old ones can go. */
	board_unref(t->board_prev);
	t->board_prev = NULL;
	job_views_free(t->jobs_prev, t->njobs_prev);
	t->jobs_prev = NULL;
	t->njobs_prev = 0;
}

/* ---- keys -------------------------------------------------------------- */

static int map_key(wint_t ch, int kind)
{
	if (kind == KEY_CODE_YES) {
		switch (ch) {
		case KEY_UP: return UI_KEY_UP;
		case KEY_DOWN: return UI_KEY_DOWN;
		case KEY_LEFT: return UI_KEY_LEFT;
		case KEY_RIGHT: return UI_KEY_RIGHT;
		case KEY_PPAGE: return UI_KEY_PGUP;
		case KEY_NPAGE: return UI_KEY_PGDN;
		case KEY_HOME: return UI_KEY_HOME;
		case KEY_END: return UI_KEY_END;
		case KEY_ENTER: return UI_KEY_ENTER;
		case KEY_BACKSPACE: return UI_KEY_BACKSPACE;
		case KEY_BTAB: return UI_KEY_BTAB;
		case KEY_RESIZE: return UI_KEY_RESIZE;
		case KEY_F(10): return 'q';
		case KEY_F(1): return '?';
		default: return (int)ch | 0x200000; /* other keys: unused */
		}
	}
	switch (ch) {
	case '\n': case '\r': return UI_KEY_ENTER;
	case 27: return UI_KEY_ESC;
	case '\t': return UI_KEY_TAB;
	case 127: case 8: return UI_KEY_BACKSPACE;
	default: return (int)ch;
	}
}

/* Home and End as tmux, screen, rxvt and the Linux console send them,
 * whatever TERM says: inside tmux with TERM=xterm-256color (a common
 * default-terminal) terminfo knows only \EOH and \EOF, so curses would
 * hand over ESC [ 4 ~ as plain keys and the digit would switch screens. */
static const struct {
	const char *seq;
	int key;
} extra_keys[] = {
	{ "\033[1~", KEY_HOME }, { "\033[4~", KEY_END },
	{ "\033[7~", KEY_HOME }, { "\033[8~", KEY_END },
	{ "\033[H", KEY_HOME },  { "\033[F", KEY_END },
};

static void define_extra_keys(void)
{
	for (size_t i = 0; i < sizeof(extra_keys) / sizeof(*extra_keys); i++)
		if (key_defined(extra_keys[i].seq) == 0) /* not bound to another key */
			define_key(extra_keys[i].seq, extra_keys[i].key);
}

static void switch_screen(struct tui *t, size_t i)
{
	if (i < NSCREENS)
		t->current = i;
}

static void apply_filter(struct tui *t)
{
	const struct screen_ops *op = screens[t->current];

	if (op->filter)
		op->filter(t->state[t->current], t->filter);
}

/* Edit a line of text (the filter, a prompt's answer) with key. Returns
 * true when the text changed. */
static bool line_edit(char *buf, size_t size, size_t *len, int key)
{
	if (key == UI_KEY_BACKSPACE) {
		while (*len > 0 && ((unsigned char)buf[*len - 1] & 0xC0) == 0x80)
			(*len)--;
		if (*len > 0)
			(*len)--;
		buf[*len] = '\0';
		return true;
	}
	if (key >= 32 && key < 0x110000) {
		char mb[MB_LEN_MAX];
		mbstate_t st;
		size_t n;

		memset(&st, 0, sizeof(st));
		n = wcrtomb(mb, (wchar_t)key, &st);
		if (n != (size_t)-1 && *len + n < size) {
			memcpy(buf + *len, mb, n);
			*len += n;
			buf[*len] = '\0';
			return true;
		}
	}
	return false;
}

/* Leave curses, run $VISUAL / $EDITOR (default vi) on text in a temporary
 * file as git does (through sh, so "code -w" works), and come back. The
 * edited text (malloc'ed), or NULL with the reason in err. */
static char *run_editor(const char *text, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	struct sigaction ign, old_int, old_quit;
	FILE *f;
	int fd, status = 0;
	pid_t pid;
	char *out = NULL;
	size_t len = 0, alloc = 0, n;

	snprintf(path, sizeof(path), "%s/cockpit-edit-XXXXXX.sql", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemps(path, 4);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary file in %s: %s", tmp && *tmp ? tmp : "/tmp",
			 strerror(errno));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "cannot write '%.200s': %s", path, strerror(errno));
		if (!f)
			close(fd);
		unlink(path);
		return NULL;
	}
	def_prog_mode();
	endwin();
	/* Like system(): Ctrl-C belongs to the editor meanwhile. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (saved_stderr >= 0)
			dup2(saved_stderr, STDERR_FILENO);
		execl("/bin/sh", "sh", "-c", "${VISUAL:-${EDITOR:-vi}} \"$1\"", "sh", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	reset_prog_mode();
	clearok(curscr, TRUE);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the editor: %s", strerror(errno));
		unlink(path);
		return NULL;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "the editor (${VISUAL:-${EDITOR:-vi}}) failed (status %d): the edit is dropped",
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		unlink(path);
		return NULL;
	}
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read '%.200s' back: %s", path, strerror(errno));
		unlink(path);
		return NULL;
	}
	do {
		XGROW(out, alloc, len + 4096);
		n = fread(out + len, 1, alloc - len - 1, f);
		len += n;
	} while (n > 0);
	out[len] = '\0';
	fclose(f);
	unlink(path);
	return out;
}

/* Act on what a key handler asked for. */
static void handle_request(struct tui *t, struct ui_request *req)
{
	if (req->message[0])
		tui_message(t, "%s", req->message);
	if (req->prompt && req->done) {
		t->prompting = true;
		snprintf(t->prompt_label, sizeof(t->prompt_label), "%s", req->prompt_label);
		t->answer[0] = '\0';
		t->answer_len = 0;
		t->answer_done = req->done;
		t->answer_st = req->st;
	} else if (req->edit_text && req->done) {
		struct ui_request again;
		struct view v;
		char err[256];
		char *text = run_editor(req->edit_text, err, sizeof(err));

		memset(&again, 0, sizeof(again));
		if (!text)
			snprintf(again.message, sizeof(again.message), "%s", err);
		v = make_view(t);
		v.req = &again;
		req->done(req->st, &v, text);
		free(text);
		free(again.edit_text);
		if (again.message[0])
			tui_message(t, "%s", again.message);
	}
	free(req->edit_text);
	req->edit_text = NULL;
}

/* A key while a screen's question is asked: Enter answers, Esc cancels. */
static void prompt_key(struct tui *t, int key)
{
	struct ui_request req;
	struct view v;

	if (key != UI_KEY_ENTER && key != UI_KEY_ESC) {
		line_edit(t->answer, sizeof(t->answer), &t->answer_len, key);
		return;
	}
	t->prompting = false;
	memset(&req, 0, sizeof(req));
	v = make_view(t);
	v.req = &req;
	t->answer_done(t->answer_st, &v, key == UI_KEY_ENTER ? t->answer : NULL);
	/* An answer may ask something else (not used today: drop prompts). */
	req.prompt = false;
	handle_request(t, &req);
}

/* Returns false to quit. */
static bool handle_key(struct tui *t, int key)
{
	const struct screen_ops *op = screens[t->current];
	struct view v = make_view(t);

	if (key == UI_KEY_RESIZE)
		return true;
	if (COLS < MIN_W || LINES < MIN_H)
		return key != 'q';
	if (t->help) {
		t->help = false;
		return true;
	}
	if (t->prompting) {
		prompt_key(t, key);
		return true;
	}
	if (t->filtering) {
		if (key == UI_KEY_ENTER) {
			t->filtering = false;
		} else if (key == UI_KEY_ESC) {
			t->filtering = false;
			t->filter_len = 0;
			t->filter[0] = '\0';
			apply_filter(t);
		} else if (line_edit(t->filter, sizeof(t->filter), &t->filter_len, key)) {
			apply_filter(t);
		}
		return true;
	}
	if (op->key) {
		struct ui_request req;
		bool used;

		memset(&req, 0, sizeof(req));
		v.req = &req;
		used = op->key(t->state[t->current], &v, key);
		handle_request(t, &req);
		if (used)
			return true;
	}
	switch (key) {
	case 'q':
		return false;
	case '?':
		t->help = true;
		break;
	case UI_KEY_TAB:
		switch_screen(t, (t->current + 1) % NSCREENS);
		break;
	case UI_KEY_BTAB:
		switch_screen(t, (t->current + NSCREENS - 1) % NSCREENS);
		break;
	case '/':
		if (!op->filter) {
			tui_message(t, "the %s screen has no filter", op->name);
			break;
		}
		t->filtering = true;
		snprintf(t->filter, sizeof(t->filter), "%s",
			 op->filter_text && op->filter_text(t->state[t->current]) ?
			 op->filter_text(t->state[t->current]) : "");
		t->filter_len = strlen(t->filter);
		break;
	case 'p':
	case ' ':
		t->paused = !t->paused;
		if (!t->paused && t->o->replay)
			t->next_frame_ms = clock_mono_ms() + (int64_t)frame_gap_ms(t);
		tui_message(t, t->paused ? "paused: the display is frozen (p resumes)" : "resumed");
		break;
	case '+':
	case '=':
	case '-':
		if (t->o->replay) {
			if (key == '-' && t->speed > 0)
				t->speed--;
			else if (key != '-' && t->speed + 1 < sizeof(speeds) / sizeof(*speeds))
				t->speed++;
			tui_message(t, "replay speed x%g", speeds[t->speed]);
		} else if (t->o->collector) {
			/* + refreshes faster: a shorter period. */
			if (key == '-' && t->period + 1 < sizeof(periods_ms) / sizeof(*periods_ms))
				t->period++;
			else if (key != '-' && t->period > 0)
				t->period--;
			collector_set_period(t->o->collector, periods_ms[t->period]);
			tui_message(t, "refresh every %.2g s", periods_ms[t->period] / 1000.0);
		}
		break;
	case '[':
	case ']':
		if (!t->o->replay) {
			tui_message(t, "[ and ] step through a replay (cockpit replay FILE)");
			break;
		}
		t->paused = true;
		if (key == '[' && t->frame > 0)
			replay_goto(t, t->frame - 1);
		else if (key == ']')
			replay_goto(t, t->frame + 1);
		break;
	default:
		if (key >= '1' && key < '1' + (int)NSCREENS)
			switch_screen(t, (size_t)(key - '1'));
		break;
	}
	return true;
}

static void handle_mouse(struct tui *t)
{
	MEVENT ev;
	struct view v = make_view(t);
	const struct screen_ops *op = screens[t->current];

	if (getmouse(&ev) != OK)
		return;
	if (!(ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED)))
		return;
	if (ev.y == 1) {
		for (size_t i = 0; i < NSCREENS; i++)
			if (ev.x >= t->tab_x[i] && ev.x < t->tab_x[i + 1])
				switch_screen(t, i);
		return;
	}
	if (ev.y >= 2 && ev.y < LINES - 1 && op->click)
		op->click(t->state[t->current], &v, ev.x, ev.y);
}

/* ---- run --------------------------------------------------------------- */

static bool locale_is_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

/* The configured theme from the configured directory, else from a themes/
 * directory beside the binary (running from a source tree), else the
 * built-in default: a broken theme must not keep the cockpit from opening
 * at 3 AM, so problems are reported (after the screen closes) and skipped. */
static void load_theme(struct theme *theme, const struct tui_options *o)
{
	const char *name = o->theme ? o->theme : o->cfg->theme;
	char exe[4096], dir[4200], *errs = NULL;
	ssize_t n;

	if (theme_load(theme, o->cfg->themes_dir, name, &errs) == 0)
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0 && access(o->cfg->themes_dir, F_OK) != 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		snprintf(dir, sizeof(dir), "%s/themes", exe);
		if (access(dir, F_OK) == 0) {
			char *errs2 = NULL;

			theme_release(theme);
			if (theme_load(theme, dir, name, &errs2) == 0) {
				free(errs);
				return;
			}
			free(errs);
			errs = errs2;
		}
	}
	fprintf(stderr, "%s%scockpit: using the built-in theme\n", errs ? errs : "",
		errs && errs[0] && errs[strlen(errs) - 1] != '\n' ? "\n" : "");
	free(errs);
	theme_release(theme);
	theme_init_default(theme);
}

/* ---- the self-healing loop's owner side ---------------------------------- */

/* A directory beside the binary (running from a source tree) when dir does
 * not exist: buf, else dir. */
static const char *beside_binary(const char *dir, const char *name, char *buf, size_t size)
{
	char exe[4096], *slash;
	ssize_t n;

	if (!dir || access(dir, F_OK) == 0)
		return dir;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return dir;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, size, "%s/%s", exe, name);
	return access(buf, F_OK) == 0 ? buf : dir;
}

/* Create what the loop needs; every failure is a calm note, never a crash:
 * the cockpit must open at 3 AM whatever is broken. */
static void act_setup(struct tui *t)
{
	const struct tui_options *o = t->o;
	const struct config *cfg = o->cfg;
	struct brain_opts bo;
	struct strbuf note = STRBUF_INIT;
	char err[512], rbuf[4200], *errs = NULL;
	const char *rdir = beside_binary(cfg->runbooks_dir, "runbooks", rbuf, sizeof(rbuf));
	double now = (double)clock_wall_us() / 1e6;

	t->act.mode = cfg->mode;
	if (!rdir || runbook_load_dir(rdir, &t->runbooks, &errs) != 0) {
		size_t lines = 0;

		for (const char *q = errs; q && *q; q++)
			lines += *q == '\n';
		strbuf_addf(&note, "runbooks in %s: %.*s%s (cockpit check-config)", rdir ? rdir : "(none)",
			    errs ? (int)strcspn(errs, "\n") : 0, errs ? errs : "not configured",
			    lines > 1 ? " and more" : "");
		if (errs)
			fprintf(stderr, "%s", errs);
	}
	free(errs);
	if (!o->replay) {
		t->policy = policy_state_new();
		if (policy_state_load_audit(t->policy, cfg->audit_log, now, err, sizeof(err)) != 0)
			strbuf_addf(&note, "%spolicy history: %s", note.len ? "; " : "", err);
		t->audit = audit_open(cfg->audit_log, err, sizeof(err));
		if (!t->audit) {
			strbuf_addf(&note, "%saudit log: %s", note.len ? "; " : "", err);
			snprintf(t->no_executor, sizeof(t->no_executor), "no audit log (%.300s): nothing runs unrecorded", err);
		} else {
			char *notice = audit_take_notice(t->audit);

			if (notice) {
				fprintf(stderr, "%s\n", notice);
				free(notice);
			}
		}
		t->act.audit = t->audit;
		t->act.policy = t->policy;
	}
	/* The LLM's second opinion, on a live target only (a replay has no
	 * catalog to check its proposals against). */
	if (o->replay) {
		snprintf(t->no_llm, sizeof(t->no_llm), "replay: no LLM diagnosis");
	} else {
		struct advisor_opts ao;

		memset(&ao, 0, sizeof(ao));
		ao.cfg = cfg;
		ao.runbooks = &t->runbooks;
		ao.conninfo = o->conninfo;
		ao.password_env = o->password_env;
		ao.policy = t->policy;
		ao.audit = t->audit;
		ao.wake_fd = t->think[1];
		t->advisor = advisor_new(&ao, t->no_llm, sizeof(t->no_llm));
		if (t->advisor && advisor_start(t->advisor) != 0) {
			snprintf(t->no_llm, sizeof(t->no_llm), "cannot start the LLM thread: %s", strerror(errno));
			advisor_free(t->advisor);
			t->advisor = NULL;
		}
	}
	t->act.advisor = t->advisor;
	t->act.no_llm = t->advisor ? NULL : t->no_llm;
	memset(&bo, 0, sizeof(bo));
	bo.cfg = cfg;
	bo.advisor = t->advisor;
	bo.runbooks = &t->runbooks;
	bo.collector = o->collector;
	bo.conninfo = o->replay ? NULL : o->conninfo;
	bo.password_env = o->password_env;
	bo.policy = t->policy;
	bo.audit = t->audit;
	bo.note = note.len ? note.buf : NULL;
	bo.wake_fd = t->think[1];
	t->brain = brain_new(&bo, err, sizeof(err));
	if (t->brain && brain_start(t->brain) != 0) {
		fprintf(stderr, "cockpit: cannot start the brain thread: %s\n", strerror(errno));
		brain_free(t->brain);
		t->brain = NULL;
	}
	/* Operators' requests go to the brain only on a live target (a
	 * replay has no catalog to prepare them against). */
	t->act.brain = o->replay ? NULL : t->brain;
	strbuf_release(&note);

	if (o->replay)
		return;
	if (cfg->mode == MODE_OBSERVE) {
		snprintf(t->no_executor, sizeof(t->no_executor), "observe mode: nothing can run (start with --mode assist)");
	} else if (!o->executor_conninfo) {
		snprintf(t->no_executor, sizeof(t->no_executor),
			 "no executor connection for this target (executor_conninfo in cockpit.conf, or --executor)");
	} else if (t->audit) {
		struct executor_opts eo;

		memset(&eo, 0, sizeof(eo));
		eo.cfg = cfg;
		eo.conninfo = o->executor_conninfo;
		eo.password_env = o->executor_password_env;
		eo.audit = t->audit;
		eo.policy = t->policy;
		eo.wake_fd = t->think[1];
		t->executor = executor_new(&eo, err, sizeof(err));
		if (!t->executor) {
			snprintf(t->no_executor, sizeof(t->no_executor), "executor: %.360s", err);
		} else if (executor_start(t->executor) != 0) {
			snprintf(t->no_executor, sizeof(t->no_executor), "cannot start the executor thread");
			executor_free(t->executor);
			t->executor = NULL;
		}
	}
	t->act.executor = t->executor;
	t->act.no_executor = t->executor ? NULL : t->no_executor;
}

static void act_teardown(struct tui *t)
{
	/* The advisor first: its end of a consult pokes the brain. */
	advisor_stop(t->advisor);
	if (t->brain)
		brain_stop(t->brain);
	if (t->executor)
		executor_stop(t->executor);
}

static void act_free(struct tui *t)
{
	brain_free(t->brain);
	advisor_free(t->advisor);
	executor_free(t->executor);
	board_unref(t->board);
	board_unref(t->board_prev);
	job_views_free(t->jobs, t->njobs);
	job_views_free(t->jobs_prev, t->njobs_prev);
	for (size_t i = 0; i < t->nhanded; i++)
		free(t->handed[i]);
	free(t->handed);
	audit_close(t->audit);
	policy_state_free(t->policy);
	runbook_set_release(&t->runbooks);
}

static bool handed(const struct tui *t, const char *k)
{
	for (size_t i = 0; i < t->nhanded; i++)
		if (strcmp(t->handed[i], k) == 0)
			return true;
	return false;
}

/* Shadow and auto modes: what policy lets go without an operator goes to
 * the executor, once per proposal and incident. */
static void hand_over(struct tui *t)
{
	const struct board *b = t->board;

	if (!b || !t->executor)
		return;
	/* Forget incidents that are gone. */
	for (size_t i = 0; i < t->nhanded;) {
		char *nl = strchr(t->handed[i], '\n');
		bool gone;

		*nl = '\0';
		gone = board_find_incident(b, t->handed[i]) == SIZE_MAX;
		*nl = '\n';
		if (gone) {
			free(t->handed[i]);
			t->handed[i] = t->handed[--t->nhanded];
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < b->incidents.n; i++) {
		const struct incident *in = &b->incidents.v[i];

		for (size_t k = 0; k < in->nproposals; k++) {
			const struct proposal *p = in->proposals[k];
			struct strbuf key = STRBUF_INIT;
			char err[256];

			if (policy_gate(t->act.mode, p->decision, false, NULL, 0) == GATE_REFUSE)
				continue;
			strbuf_addf(&key, "%s\n%s", in->key, p->id ? p->id : "");
			if (handed(t, key.buf)) {
				strbuf_release(&key);
				continue;
			}
			t->handed = xrealloc(t->handed, (t->nhanded + 1) * sizeof(*t->handed));
			t->handed[t->nhanded++] = strbuf_detach(&key, NULL);
			if (executor_submit(t->executor, p, false, err, sizeof(err)) != 0)
				tui_message(t, "%s: %s", p->action ? p->action->name : "?", err);
		}
	}
}

/* The brain or the executor woke us: take the newest board and jobs. */
static void take_news(struct tui *t)
{
	struct board *nb = t->brain ? brain_get(t->brain) : NULL;

	if (nb && nb != t->board) {
		board_unref(t->board_prev);
		t->board_prev = t->board;
		t->board = nb;
		hand_over(t);
	} else {
		board_unref(nb);
	}
	if (t->executor) {
		job_views_free(t->jobs_prev, t->njobs_prev);
		t->jobs_prev = t->jobs;
		t->njobs_prev = t->njobs;
		t->jobs = executor_jobs(t->executor, &t->njobs);
	}
}

/* Whether the once-a-second redraw (ages and the header's clock move) is
 * worth it now: not when the next snapshot is due within 300 ms, as it
 * brings its own redraw; two redraws a refresh would repaint the ages
 * twice. A late snapshot, a paused display or a replay ticks as always. */
static bool tick_due(const struct tui *t, int64_t last_news, int64_t now)
{
	int64_t next;

	if (!t->o->collector || t->paused || !t->shown)
		return true;
	next = last_news + collector_period(t->o->collector);
	return now < next - 300 || now > next + 300;
}

int tui_run(const struct tui_options *o)
{
	struct tui t;
	struct theme theme;
	int rc = 0;
	bool running = true, dirty = true, started = true;
	int64_t last_draw = 0, last_news = 0, hold_since = 0;

	memset(&t, 0, sizeof(t));
	t.o = o;
	t.wake[0] = t.wake[1] = -1;
	t.think[0] = t.think[1] = -1;
	t.period = 2;
	for (size_t i = 0; i < sizeof(periods_ms) / sizeof(*periods_ms); i++)
		if (periods_ms[i] == o->cfg->fast_refresh_ms)
			t.period = i;
	t.speed = 2;
	setlocale(LC_ALL, "");
	/* The terminal's characters, but C numbers: SQL text, JSON and what
	 * strtod reads from the server must never take a decimal comma. */
	setlocale(LC_NUMERIC, "C");
	t.ascii = o->ascii || o->cfg->ascii || !locale_is_utf8();

	load_theme(&theme, o);

	if (pipe(sig_pipe) != 0 || pipe(t.wake) != 0 || pipe(t.think) != 0) {
		fprintf(stderr, "cockpit: cannot create pipes: %s\n", strerror(errno));
		theme_release(&theme);
		return 1;
	}
	fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
	fcntl(t.wake[0], F_SETFL, O_NONBLOCK);
	fcntl(t.wake[1], F_SETFL, O_NONBLOCK);
	fcntl(sig_pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(sig_pipe[1], F_SETFD, FD_CLOEXEC);
	fcntl(t.wake[0], F_SETFD, FD_CLOEXEC);
	fcntl(t.wake[1], F_SETFD, FD_CLOEXEC);
	for (int i = 0; i < 2; i++) {
		fcntl(t.think[i], F_SETFL, O_NONBLOCK);
		fcntl(t.think[i], F_SETFD, FD_CLOEXEC);
	}

	capture_stderr();
	/* The collector first: connecting is the longest wait before the
	 * first screen with data, and the rest (runbooks, the audit log, the
	 * terminal) can be set up meanwhile. */
	if (o->collector && collector_start(o->collector, t.wake[1]) != 0)
		started = false;
	act_setup(&t);
	mem_set_oom_hook(terminal_restore);
	atexit(terminal_restore);
	if (!initscr()) {
		act_teardown(&t);
		if (o->collector)
			collector_stop(o->collector);
		act_free(&t);
		replay_stderr();
		fprintf(stderr, "cockpit: cannot initialise the terminal (TERM=%s)\n",
			getenv("TERM") ? getenv("TERM") : "");
		return 1;
	}
	curses_up = 1;
	install_signals();
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	define_extra_keys();
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED, NULL);
	mouseinterval(0);
	/* Once through endwin(): until then ncurses (6.4) flushes the
	 * terminal after every cursor move, some 45 writes a frame instead
	 * of one. The screen is still blank here. */
	endwin();
	doupdate();
	painter_init(&t.painter, &theme, t.ascii);
	theme_release(&theme);
	canvas_init(&t.canvas, COLS, LINES, t.ascii);
	history_init(&t.hist);
	for (size_t i = 0; i < NSCREENS; i++)
		t.state[i] = screens[i]->create();

	if (!started) {
		running = false;
		rc = 1;
	} else if (o->replay) {
		replay_goto(&t, 0);
	}

	while (running) {
		struct pollfd pfd[4] = {
			{ STDIN_FILENO, POLLIN, 0 }, { t.wake[0], POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 },
			{ t.think[0], POLLIN, 0 },
		};
		int64_t now = clock_mono_ms();
		int timeout = 1000 - (int)((now - last_draw) % 1000);
		wint_t ch;
		int kind;
		char drain[64];

		if (hold_since && now - hold_since >= BOARD_WAIT_MS)
			dirty = true;
		if (dirty) {
			render(&t);
			last_draw = clock_mono_ms();
			dirty = false;
			hold_since = 0;
			timeout = 1000;
		}
		if (hold_since && hold_since + BOARD_WAIT_MS - now < timeout)
			timeout = (int)(hold_since + BOARD_WAIT_MS - now);
		if (o->replay && !t.paused) {
			int64_t left = t.next_frame_ms - clock_mono_ms();

			if (left < timeout)
				timeout = left < 0 ? 0 : (int)left;
		}
		if (poll(pfd, 4, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[2].revents & POLLIN) {
			while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
				;
			break; /* Ctrl-C, SIGTERM, SIGHUP: quit cleanly */
		}
		/* The terminal went away (its emulator or multiplexer died
		 * without a SIGHUP reaching us): nobody is watching, quit
		 * rather than spin on an input that only says end-of-file. */
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			break;
		if (pfd[1].revents & POLLIN) {
			while (read(t.wake[0], drain, sizeof(drain)) > 0)
				;
			if (o->collector)
				brain_poke(t.brain); /* the brain thinks even while the display is paused */
			if (!t.paused && o->collector) {
				bool first = !t.shown;

				show(&t, collector_get(o->collector));
				last_news = clock_mono_ms();
				/* The brain was poked with this snapshot: its board
				 * follows within milliseconds, and the frame waits
				 * for it (not the first, which shows at once). */
				if (t.brain && !first) {
					if (!hold_since)
						hold_since = last_news;
				} else {
					dirty = true;
				}
			}
		}
		if (pfd[3].revents & POLLIN) {
			while (read(t.think[0], drain, sizeof(drain)) > 0)
				;
			take_news(&t);
			dirty = true;
		}
		while ((kind = get_wch(&ch)) != ERR) {
			int key;

			if (kind == KEY_CODE_YES && ch == KEY_MOUSE) {
				handle_mouse(&t);
				dirty = true;
				continue;
			}
			key = map_key(ch, kind);
			if (key == 3) { /* Ctrl-C typed while raw */
				running = false;
				break;
			}
			if (!handle_key(&t, key)) {
				running = false;
				break;
			}
			dirty = true;
		}
		if (o->replay && !t.paused && clock_mono_ms() >= t.next_frame_ms) {
			if (t.frame + 1 < o->replay->nframes)
				replay_goto(&t, t.frame + 1);
			else
				t.paused = true; /* the end: stay on the last frame */
			dirty = true;
		}
		if (clock_mono_ms() - last_draw >= 1000) {
			if (tick_due(&t, last_news, clock_mono_ms()))
				dirty = true; /* ages move */
			if (t.executor) {
				take_news(&t); /* and so do the jobs' clocks */
				dirty = true;
			}
		}
	}

	terminal_restore();
	act_teardown(&t);
	if (o->collector)
		collector_stop(o->collector);
	for (size_t i = 0; i < NSCREENS; i++)
		screens[i]->destroy(t.state[i]);
	act_free(&t);
	snapshot_unref(t.shown);
	history_release(&t.hist);
	canvas_release(&t.canvas);
	free(t.painter.last);
	replay_stderr();
	close(t.wake[0]);
	close(t.wake[1]);
	close(t.think[0]);
	close(t.think[1]);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
	return rc;
}
