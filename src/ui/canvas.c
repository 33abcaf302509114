/*
 * canvas: the cell grid every screen draws into; see canvas.h.
 *
 * Widgets and screens write text here, never to curses; tui.c copies the
 * finished grid to the terminal. Everything the terminal could misread is
 * settled on the way in, so the grid is always something a terminal can show
 * cell for cell:
 *
 *   - UTF-8 is decoded by hand (not with mbrtowc), so the result does not
 *     depend on the locale; an invalid sequence becomes one U+FFFD per
 *     maximal invalid subpart, as Unicode recommends;
 *   - C0/C1 controls and DEL become '?'; zero-width code points (combining
 *     marks, joiners) are dropped because a cell holds one code point;
 *     a code point wcwidth() does not know becomes U+FFFD, whose width every
 *     terminal agrees on;
 *   - a wide character occupies its cell and a CANVAS_CONT cell; a write
 *     that lands on half of a wide character blanks the other half, and a
 *     wide character cut by the clip edge leaves a space, so no orphaned
 *     half ever reaches the terminal.
 *
 * Widths come from wcwidth(), so the process must run in a UTF-8 LC_CTYPE
 * (the TUI calls setlocale; tests call setlocale(LC_ALL, "C.UTF-8")).
 * Not thread-safe: a canvas belongs to the UI thread.
 */
#include "ui/canvas.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "core/mem.h"

#define REPLACEMENT 0xFFFDu

/* Unicode and ASCII forms of every enum canvas_glyph, in enum order. */
static const uint32_t glyph_utf8[GLYPH_COUNT] = {
	[GLYPH_HLINE] = 0x2500,      /* ─ */
	[GLYPH_VLINE] = 0x2502,      /* │ */
	[GLYPH_TEE] = 0x251C,        /* ├ */
	[GLYPH_CORNER] = 0x2514,     /* └ */
	[GLYPH_ELLIPSIS] = 0x2026,   /* … */
	[GLYPH_ARROW_UP] = 0x25B2,   /* ▲ */
	[GLYPH_ARROW_DOWN] = 0x25BC, /* ▼ */
	[GLYPH_BLOCK_FULL] = 0x2588, /* █ */
	[GLYPH_BLOCK_LIGHT] = 0x2591, /* ░ */
	[GLYPH_CYCLE] = 0x21BB,      /* ↻ */
};

static const uint32_t glyph_ascii[GLYPH_COUNT] = {
	[GLYPH_HLINE] = '-',
	[GLYPH_VLINE] = '|',
	[GLYPH_TEE] = '+',
	[GLYPH_CORNER] = '`',
	[GLYPH_ELLIPSIS] = '~',
	[GLYPH_ARROW_UP] = '^',
	[GLYPH_ARROW_DOWN] = 'v',
	[GLYPH_BLOCK_FULL] = '#',
	[GLYPH_BLOCK_LIGHT] = '.',
	[GLYPH_CYCLE] = '@',
};

/*
 * Decode one code point from NUL-terminated s; returns the bytes consumed
 * (at least 1 unless *s is NUL). Overlong forms, surrogates and values past
 * U+10FFFF are invalid; an invalid sequence yields U+FFFD and consumes its
 * maximal valid prefix (a lone bad byte consumes 1).
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	unsigned char b = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need;
	uint32_t v;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF) {
		need = 1;
		v = b & 0x1F;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 2;
		v = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0; /* overlong */
		else if (b == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 3;
		v = b & 0x07;
		if (b == 0xF0)
			lo = 0x90; /* overlong */
		else if (b == 0xF4)
			hi = 0x8F; /* past U+10FFFF */
	} else {
		*cp = REPLACEMENT;
		return 1;
	}
	for (size_t i = 1; i <= need; i++) {
		unsigned char cb = s[i]; /* a NUL fails the range test and stops us */

		if (cb < lo || cb > hi) {
			*cp = REPLACEMENT;
			return i;
		}
		lo = 0x80;
		hi = 0xBF;
		v = (v << 6) | (cb & 0x3F);
	}
	*cp = v;
	return need + 1;
}

/* What cp becomes on screen (*shown) and how many cells it takes (0-2). */
static int cell_width(uint32_t cp, uint32_t *shown)
{
	int w;

	if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
		*shown = '?';
		return 1;
	}
	*shown = cp;
	if (cp < 0x7F)
		return 1;
	w = wcwidth((wchar_t)cp);
	if (w < 0) {
		*shown = REPLACEMENT;
		return 1;
	}
	return w > 2 ? 2 : w;
}

static struct canvas_cell *cell(const struct canvas *c, int x, int y)
{
	return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

static bool in_clip(const struct canvas *c, int x, int y)
{
	return x >= c->clip.x && x < c->clip.x + c->clip.w && y >= c->clip.y &&
	       y < c->clip.y + c->clip.h;
}

/* Before cell (x, y) is overwritten: blank the other half of a wide
 * character it belongs to. */
static void unpair(struct canvas *c, int x, int y)
{
	struct canvas_cell *p = cell(c, x, y);

	if (p->ch == CANVAS_CONT && x > 0)
		cell(c, x - 1, y)->ch = ' ';
	else if (x + 1 < c->w && cell(c, x + 1, y)->ch == CANVAS_CONT)
		cell(c, x + 1, y)->ch = ' ';
}

static void put1(struct canvas *c, int x, int y, enum theme_role role, uint32_t ch)
{
	struct canvas_cell *p;

	if (!in_clip(c, x, y))
		return;
	unpair(c, x, y);
	p = cell(c, x, y);
	p->ch = ch;
	p->role = (uint8_t)role;
	p->attr = 0;
}

/* Put an already-mapped code point of width w (1 or 2) at (x, y). */
static void put(struct canvas *c, int x, int y, enum theme_role role, uint32_t ch, int w)
{
	bool a, b;

	if (w == 1) {
		put1(c, x, y, role, ch);
		return;
	}
	a = in_clip(c, x, y);
	b = in_clip(c, x + 1, y);
	if (a && b) {
		unpair(c, x, y);
		unpair(c, x + 1, y);
		put1(c, x, y, role, ch);
		cell(c, x + 1, y)->ch = CANVAS_CONT;
		cell(c, x + 1, y)->role = (uint8_t)role;
		cell(c, x + 1, y)->attr = 0;
	} else if (a) {
		put1(c, x, y, role, ' ');
	} else if (b) {
		put1(c, x + 1, y, role, ' ');
	}
}

/* Width of s as laid out, but stop counting once it passes limit. */
static int text_width_upto(const char *s, int limit)
{
	const unsigned char *p = (const unsigned char *)s;
	int width = 0;
	uint32_t cp, shown;

	while (*p && width <= limit) {
		p += utf8_decode(p, &cp);
		width += cell_width(cp, &shown);
	}
	return width;
}

void canvas_init(struct canvas *c, int w, int h, bool ascii)
{
	c->w = 0;
	c->h = 0;
	c->cells = NULL;
	c->ascii = ascii;
	canvas_resize(c, w, h);
}

void canvas_release(struct canvas *c)
{
	free(c->cells);
	c->cells = NULL;
	c->w = c->h = 0;
	c->clip = (struct canvas_rect){ 0, 0, 0, 0 };
}

void canvas_resize(struct canvas *c, int w, int h)
{
	size_t n;

	if (w < 0)
		w = 0;
	if (h < 0)
		h = 0;
	n = (size_t)w * (size_t)h;
	if (!c->cells || w != c->w || h != c->h) {
		free(c->cells);
		c->cells = xcalloc(n ? n : 1, sizeof(*c->cells));
		c->w = w;
		c->h = h;
	}
	canvas_reset_clip(c);
	canvas_clear(c, THEME_NORMAL);
}

void canvas_clear(struct canvas *c, enum theme_role role)
{
	size_t n = (size_t)c->w * (size_t)c->h;

	for (size_t i = 0; i < n; i++)
		c->cells[i] = (struct canvas_cell){ ' ', (uint8_t)role, 0 };
}

void canvas_set_clip(struct canvas *c, struct canvas_rect r)
{
	int x0 = r.x < 0 ? 0 : r.x;
	int y0 = r.y < 0 ? 0 : r.y;
	int x1 = r.w > 0 ? r.x + r.w : r.x;
	int y1 = r.h > 0 ? r.y + r.h : r.y;

	if (x1 > c->w)
		x1 = c->w;
	if (y1 > c->h)
		y1 = c->h;
	c->clip.x = x0;
	c->clip.y = y0;
	c->clip.w = x1 > x0 ? x1 - x0 : 0;
	c->clip.h = y1 > y0 ? y1 - y0 : 0;
}

void canvas_reset_clip(struct canvas *c)
{
	c->clip = (struct canvas_rect){ 0, 0, c->w, c->h };
}

int canvas_text(struct canvas *c, int x, int y, int max_w, enum theme_role role, const char *s)
{
	const unsigned char *p;
	int total, limit, col = 0;
	uint32_t cp, shown;

	if (!s)
		s = "";
	if (max_w < 0)
		max_w = c->clip.x + c->clip.w - x;
	if (max_w <= 0)
		return 0;
	total = text_width_upto(s, max_w);
	limit = total > max_w ? max_w - 1 : max_w;
	for (p = (const unsigned char *)s; *p;) {
		int w;

		p += utf8_decode(p, &cp);
		w = cell_width(cp, &shown);
		if (w == 0)
			continue;
		if (col + w > limit)
			break;
		put(c, x + col, y, role, shown, w);
		col += w;
	}
	if (total > max_w) {
		while (col < max_w - 1)
			put1(c, x + col++, y, role, ' '); /* a wide char did not fit */
		put1(c, x + col++, y, role, canvas_glyph(c, GLYPH_ELLIPSIS));
	}
	return col;
}

int canvas_printf(struct canvas *c, int x, int y, int max_w, enum theme_role role, const char *fmt,
		  ...)
{
	char small[512];
	char *buf = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(small)) {
		buf = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	n = canvas_text(c, x, y, max_w, role, buf);
	if (buf != small)
		free(buf);
	return n;
}

void canvas_fill(struct canvas *c, int x, int y, int n, enum theme_role role, uint32_t ch)
{
	uint32_t shown;
	int w = cell_width(ch, &shown);

	if (w == 0) {
		shown = ' ';
		w = 1;
	}
	if (w == 1) {
		/* The common case (blanking a row): clip once, mend the wide
		 * characters cut at the two ends, fill the span between. */
		int x0 = x > c->clip.x ? x : c->clip.x;
		int x1 = x + n < c->clip.x + c->clip.w ? x + n : c->clip.x + c->clip.w;
		struct canvas_cell *p;

		if (y < c->clip.y || y >= c->clip.y + c->clip.h || x0 >= x1)
			return;
		unpair(c, x0, y);
		unpair(c, x1 - 1, y);
		p = cell(c, x0, y);
		for (int i = x0; i < x1; i++, p++)
			*p = (struct canvas_cell){ shown, (uint8_t)role, 0 };
		return;
	}
	for (int i = 0; i < n; i += w) {
		if (i + w > n)
			put1(c, x + i, y, role, ' ');
		else
			put(c, x + i, y, role, shown, w);
	}
}

uint32_t canvas_glyph(const struct canvas *c, enum canvas_glyph g)
{
	if ((unsigned)g >= GLYPH_COUNT)
		return '?';
	return c->ascii ? glyph_ascii[g] : glyph_utf8[g];
}

void canvas_attr(struct canvas *c, int x, int y, int n, uint8_t attr)
{
	for (int i = 0; i < n; i++)
		if (in_clip(c, x + i, y))
			cell(c, x + i, y)->attr |= attr;
}

void canvas_role(struct canvas *c, int x, int y, int n, enum theme_role role)
{
	for (int i = 0; i < n; i++)
		if (in_clip(c, x + i, y))
			cell(c, x + i, y)->role = (uint8_t)role;
}

const struct canvas_cell *canvas_at(const struct canvas *c, int x, int y)
{
	if (x < 0 || y < 0 || x >= c->w || y >= c->h)
		return NULL;
	return cell(c, x, y);
}

/* Encode cp into out (4 bytes available); returns the length. */
static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = REPLACEMENT;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

char *canvas_row_text(const struct canvas *c, int y, char *buf, size_t size)
{
	size_t len = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (y < 0 || y >= c->h)
		return buf;
	for (int x = 0; x < c->w; x++) {
		char enc[4];
		size_t n;
		uint32_t ch = cell(c, x, y)->ch;

		if (ch == CANVAS_CONT)
			continue;
		n = utf8_encode(ch, enc);
		if (len + n + 1 > size)
			break; /* never split a character */
		memcpy(buf + len, enc, n);
		len += n;
	}
	buf[len] = '\0';
	return buf;
}

int canvas_text_width(const char *s)
{
	return s ? text_width_upto(s, INT32_MAX - 2) : 0;
}
