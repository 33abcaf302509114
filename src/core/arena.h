/*
 * arena: a bump allocator for objects that live and die together.
 *
 * A snapshot owns one arena holding all its strings and arrays, so building
 * one costs a handful of malloc() calls and freeing it costs one loop.
 * Memory is never returned piecemeal. Not thread-safe: an arena is filled by
 * one thread, then only read (snapshots are immutable once published).
 */
#ifndef COCKPIT_CORE_ARENA_H
#define COCKPIT_CORE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head; /* owned; newest block first */
	size_t used;              /* bytes handed out (for accounting) */
};

void arena_init(struct arena *a);
void arena_release(struct arena *a);
/* Zeroed, 16-byte aligned memory; never NULL. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy of s (NULL stays NULL). */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
