/*
 * canvas: a grid of styled cells that screens draw into without curses.
 *
 * STYLE rule 7: turning a snapshot into styled text never calls curses, so
 * it is unit-tested; the TUI copies a finished canvas to the terminal
 * (tui.c), and curses sends only the cells that changed. A canvas is as large
 * as the terminal; every write is clipped to its bounds and to the clip
 * rectangle, so no widget can scribble outside its box.
 *
 * Text is UTF-8 in and code points out. Control characters become '?',
 * wide characters take two cells (the second is a continuation), and
 * invalid UTF-8 becomes U+FFFD — a query text can hold anything.
 *
 * With ascii set (--ascii, or a locale that is not UTF-8), line drawing,
 * block and ellipsis glyphs written through the canvas_glyph API fall back
 * to plain ASCII.
 */
#ifndef COCKPIT_UI_CANVAS_H
#define COCKPIT_UI_CANVAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ui/theme.h"

#define CANVAS_CONT 0xFFFFFFFFu /* second cell of a wide character */

struct canvas_cell {
	uint32_t ch;          /* Unicode code point, ' ' when blank */
	uint8_t role;         /* enum theme_role */
	uint8_t attr;         /* THEME_ATTR_* added on top of the role (reverse for selection) */
};

struct canvas_rect {
	int x, y, w, h;
};

struct canvas {
	int w, h;
	struct canvas_cell *cells; /* owned; w * h */
	struct canvas_rect clip;   /* writes outside are dropped */
	bool ascii;                /* no line drawing / block glyphs */
};

enum canvas_glyph {
	GLYPH_HLINE, GLYPH_VLINE, GLYPH_TEE, GLYPH_CORNER, /* tree: ─ │ ├ └ */
	GLYPH_ELLIPSIS,                                    /* … */
	GLYPH_ARROW_UP, GLYPH_ARROW_DOWN,                  /* ▲ ▼ */
	GLYPH_BLOCK_FULL, GLYPH_BLOCK_LIGHT,               /* █ ░ */
	GLYPH_CYCLE,                                       /* ↻ */
	GLYPH_COUNT
};

void canvas_init(struct canvas *c, int w, int h, bool ascii);
void canvas_release(struct canvas *c);
void canvas_resize(struct canvas *c, int w, int h);
/* Blank every cell with role. */
void canvas_clear(struct canvas *c, enum theme_role role);
void canvas_set_clip(struct canvas *c, struct canvas_rect r);
void canvas_reset_clip(struct canvas *c);
/* Write UTF-8 text at (x, y) in role; at most max_w cells (-1: to the clip
 * edge). Returns the number of cells written. Text wider than max_w is cut
 * with an ellipsis in its last cell. */
int canvas_text(struct canvas *c, int x, int y, int max_w, enum theme_role role, const char *s);
/* printf into the canvas (same cutting rules). */
int canvas_printf(struct canvas *c, int x, int y, int max_w, enum theme_role role, const char *fmt,
		  ...) __attribute__((format(printf, 6, 7)));
/* Fill n cells from (x, y) with code point ch. */
void canvas_fill(struct canvas *c, int x, int y, int n, enum theme_role role, uint32_t ch);
/* The code point for a glyph (ASCII fallback when c->ascii). */
uint32_t canvas_glyph(const struct canvas *c, enum canvas_glyph g);
/* Add attr (THEME_ATTR_*) to n cells from (x, y), e.g. reverse for the selected row. */
void canvas_attr(struct canvas *c, int x, int y, int n, uint8_t attr);
/* Set the role of n cells from (x, y) keeping their text. */
void canvas_role(struct canvas *c, int x, int y, int n, enum theme_role role);
const struct canvas_cell *canvas_at(const struct canvas *c, int x, int y);
/* Row y as UTF-8 text (for tests and text screenshots); buf >= 4*w+1. */
char *canvas_row_text(const struct canvas *c, int y, char *buf, size_t size);
/* Display width of UTF-8 text in cells (as canvas_text would lay it out). */
int canvas_text_width(const char *s);

#endif
