/*
 * screen: helpers shared by the screens; see screen.h.
 */
#include "ui/screen.h"

#include <math.h>
#include <string.h>

#include "perceive/snapshot.h"
#include "ui/table.h"

double screen_server_now(const struct view *v, const struct snapshot *s)
{
	double since;

	if (!s || s->server.now <= 0)
		return v->now;
	since = v->now - s->collected_at;
	return s->server.now + (since > 0 ? floor(since) : 0);
}

void screen_title(struct canvas *c, int x, int y, int w, const char *title)
{
	int n = canvas_text(c, x, y, w, THEME_TITLE, title);

	if (n + 1 < w)
		canvas_fill(c, x + n + 1, y, w - n - 1, THEME_DIM, canvas_glyph(c, GLYPH_HLINE));
}

bool screen_table_key(struct table *t, int key)
{
	switch (key) {
	case 'j': case UI_KEY_DOWN: table_move(t, TABLE_DOWN); return true;
	case 'k': case UI_KEY_UP: table_move(t, TABLE_UP); return true;
	case UI_KEY_PGDN: table_move(t, TABLE_PAGE_DOWN); return true;
	case UI_KEY_PGUP: table_move(t, TABLE_PAGE_UP); return true;
	case 'g': case UI_KEY_HOME: table_move(t, TABLE_HOME); return true;
	case 'G': case UI_KEY_END: table_move(t, TABLE_END); return true;
	case 's': table_sort_next(t, 1); return true;
	case 'S': table_sort_next(t, -1); return true;
	}
	return false;
}

bool screen_table_click(struct table *t, int x, int y)
{
	size_t i;

	switch (table_hit(t, x, y, &i)) {
	case TABLE_HIT_HEADER:
		table_toggle_sort(t, i);
		return true;
	case TABLE_HIT_ROW:
		table_select(t, i);
		return true;
	default:
		return false;
	}
}

int screen_wrap(struct canvas *c, int x, int y, int w, int max_lines, enum theme_role role,
		const char *text)
{
	const char *q = text ? text : "";
	int lines = 0;

	while (*q && lines < max_lines && w > 0) {
		char buf[1024];
		int n = 0, cells = 0;

		/* Up to w code points (canvas_text cuts wide ones). */
		while (q[n] && q[n] != '\n' && cells < w && n < (int)sizeof(buf) - 8) {
			n++;
			while ((q[n] & 0xC0) == 0x80)
				n++;
			cells++;
		}
		memcpy(buf, q, (size_t)n);
		buf[n] = '\0';
		canvas_text(c, x, y + lines, w, role, buf);
		lines++;
		q += n;
		if (*q == '\n')
			q++;
	}
	return lines;
}
