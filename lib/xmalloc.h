/* SPDX-License-Identifier: Apache-2.0 */
/* Allocators that never return NULL: out of memory is fatal and logged. */
#ifndef CIRCUS_XMALLOC_H
#define CIRCUS_XMALLOC_H

#include <stddef.h>

#include "compat.h"

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
int xasprintf(char **, const char *, ...) PRINTFLIKE(2, 3);
/* Returns an allocated formatted string. */
char *xprintf(const char *, ...) PRINTFLIKE(1, 2);

#endif
