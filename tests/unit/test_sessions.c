/*
 * test_sessions: the Sessions screen's row order and age cells
 * (src/ui/sessions.c), drawn on a canvas from a real snapshot.
 *
 * Sorted by XACT (the default, longest first) the order follows what the
 * column prints: transactions of a second or more first, then the busy
 * sessions — a sub-second transaction, or none but a state change under a
 * second ago — in pid order, then the idle ones in pid order. A busy OLTP
 * session flips between those two many times a second; the second frame,
 * with every sub-second age changed, must draw the same rows in the same
 * places (a reshuffle repainted every such row on every refresh).
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perceive/snapshot.h"
#include "ui/canvas.h"
#include "ui/screen.h"

#define NOW 1700000000.0

struct spec {
	int pid;
	const char *state;
	double xact;   /* seconds its transaction has lasted; < 0: none */
	double change; /* seconds since its state changed */
};

static struct snapshot *make(const struct spec *sp, size_t n)
{
	struct snapshot *s = snapshot_new();

	s->server.now = NOW;
	s->collected_at = NOW;
	s->sessions = arena_alloc(&s->arena, n * sizeof(*s->sessions));
	s->nsessions = n;
	for (size_t i = 0; i < n; i++) {
		struct snap_session *x = &s->sessions[i];

		memset(x, 0, sizeof(*x));
		x->pid = sp[i].pid;
		x->state = sp[i].state;
		x->backend_type = "client backend";
		x->user = "app";
		x->xact_start = sp[i].xact >= 0 ? NOW - sp[i].xact : 0;
		x->query_start = NOW - sp[i].change;
		x->state_change = NOW - sp[i].change;
		x->xmin_age = -1;
		x->query = "SELECT 1";
	}
	return s;
}

/* Draw s at 160x(n+3) and put the pids of the rows, top down, in pids[];
 * the text of row i goes to rows[i] when rows is not NULL. */
static void draw_pids(void *st, struct snapshot *s, int *pids, size_t n, char rows[][1024])
{
	struct canvas c;
	struct view v = { .snap = s, .now = NOW };
	char buf[1024];

	canvas_init(&c, 160, (int)n + 3, false);
	screen_sessions.draw(st, &v, &c, (struct canvas_rect){ 0, 0, 160, (int)n + 3 });
	canvas_row_text(&c, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "XACT"));
	for (size_t i = 0; i < n; i++) {
		canvas_row_text(&c, (int)i + 1, buf, sizeof(buf));
		if (sscanf(buf, "%d", &pids[i]) != 1)
			fail_msg("row %zu has no pid: '%s'", i + 1, buf);
		if (rows)
			snprintf(rows[i], sizeof(rows[i]), "%s", buf);
	}
	canvas_release(&c);
}

static void test_xact_order(void **state)
{
	static const struct spec first[] = {
		{ 10, "idle", -1, 120 },                 /* idle 2 min */
		{ 11, "active", 0.3, 0.3 },              /* a sub-second transaction */
		{ 12, "idle", -1, 0.2 },                 /* none, but busy a moment ago */
		{ 13, "idle in transaction", 0.05, 0.01 },
		{ 14, "active", 75, 75 },                /* the long one */
		{ 15, "idle", -1, 30 },
		{ 16, "active", 2.5, 2.5 },
	};
	/* A second later: the busy ones swapped their states and ages. */
	static const struct spec second[] = {
		{ 10, "idle", -1, 121 },
		{ 11, "idle", -1, 0.02 },
		{ 12, "active", 0.9, 0.9 },
		{ 13, "active", 0.6, 0.001 },
		{ 14, "active", 76, 76 },
		{ 15, "idle", -1, 31 },
		{ 16, "active", 3.5, 3.5 },
	};
	static const int want[] = { 14, 16, 11, 12, 13, 10, 15 };
	const size_t n = sizeof(first) / sizeof(*first);
	void *st = screen_sessions.create();
	struct snapshot *a = make(first, n), *b = make(second, n);
	int pids[sizeof(want) / sizeof(*want)];
	char rows[sizeof(want) / sizeof(*want)][1024];

	(void)state;
	draw_pids(st, a, pids, n, rows);
	for (size_t i = 0; i < n; i++)
		if (pids[i] != want[i])
			fail_msg("first frame, row %zu: pid %d, want %d", i + 1, pids[i], want[i]);
	/* The ages as printed: sub-second ones read "<1s", none "-". */
	assert_non_null(strstr(rows[0], "1m15s"));
	assert_non_null(strstr(rows[1], "2.5s"));
	assert_non_null(strstr(rows[2], "<1s"));
	assert_non_null(strstr(rows[3], " - "));
	assert_null(strstr(rows[2], "ms"));
	draw_pids(st, b, pids, n, NULL);
	for (size_t i = 0; i < n; i++)
		if (pids[i] != want[i])
			fail_msg("second frame, row %zu: pid %d, want %d", i + 1, pids[i], want[i]);
	screen_sessions.destroy(st);
	snapshot_unref(a);
	snapshot_unref(b);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xact_order),
	};

	setlocale(LC_ALL, "C.UTF-8");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
