/*
 * screen: helpers shared by the screens; see screen.h.
 */
#include "ui/screen.h"

void screen_title(struct canvas *c, int x, int y, int w, const char *title)
{
	int n = canvas_text(c, x, y, w, THEME_TITLE, title);

	if (n + 1 < w)
		canvas_fill(c, x + n + 1, y, w - n - 1, THEME_DIM, canvas_glyph(c, GLYPH_HLINE));
}
