/*
 * NAME
 *	mem - checked allocation
 * SYNOPSIS
 *	p = xmalloc(n); p = xcalloc(n, size); p = xreallocarray(p, n, size);
 *	s = xstrdup(s); s = xstrndup(s, n);
 * DESCRIPTION
 *	Allocation failure in a daemon of this size means the machine is out
 *	of memory; the wrappers log and exit rather than let every caller
 *	invent its own recovery. Multiplications are overflow-checked.
 */
#ifndef TLSRPTD_MEM_H
#define TLSRPTD_MEM_H

#include <stddef.h>

void *xmalloc(size_t size) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
void *xreallocarray(void *ptr, size_t nmemb, size_t size) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

#endif
