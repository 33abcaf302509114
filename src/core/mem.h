/*
 * mem: allocation that never returns NULL.
 *
 * Out of memory is the second error tier of STYLE.md: there is nothing
 * sensible to do but restore the terminal and abort. The UI registers its
 * terminal-restoring hook with mem_set_oom_hook(); everything else just calls
 * xmalloc() and friends and never checks for NULL.
 */
#ifndef COCKPIT_CORE_MEM_H
#define COCKPIT_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grow *arr (of *alloc elements of size elem) so that it holds at least need. */
void xgrow(void **arr, size_t *alloc, size_t need, size_t elem);
#define XGROW(arr, alloc, need) xgrow((void **)&(arr), &(alloc), (need), sizeof(*(arr)))

/* FNV-1a of n bytes: a stable, non-cryptographic hash for tables and row
 * keys (the audit chain and proposal ids use libcrypto's SHA-256). */
uint64_t mem_hash(const void *p, size_t n);

/* Called once before abort() on allocation failure; async-signal-unsafe code
 * is fine here since we are about to die anyway. */
void mem_set_oom_hook(void (*hook)(void));

#endif
