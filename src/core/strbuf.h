/*
 * strbuf: a growable, always NUL-terminated byte buffer (after git's strbuf).
 *
 * Embedded by value: strbuf_init() / strbuf_release(). buf is owned and never
 * NULL after init; len excludes the terminating NUL.
 */
#ifndef COCKPIT_CORE_STRBUF_H
#define COCKPIT_CORE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;    /* owned; NUL-terminated */
	size_t len;   /* bytes used, without the NUL */
	size_t alloc; /* bytes allocated */
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Hand the buffer to the caller (who frees it) and re-init sb. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

#endif
