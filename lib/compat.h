/* SPDX-License-Identifier: Apache-2.0 */
/* Small portability and annotation macros shared by every program. */
#ifndef CIRCUS_COMPAT_H
#define CIRCUS_COMPAT_H

#include <stddef.h>

#define UNUSED __attribute__((unused))
#define PRINTFLIKE(a, b) __attribute__((format(printf, a, b)))
#define NORETURN __attribute__((noreturn))

#ifndef nitems
#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define CIRCUS_VERSION "0.19.0"

#endif
