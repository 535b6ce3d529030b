/* SPDX-License-Identifier: Apache-2.0 */
/* A set of pids as a sorted C array; JSON only when a reply needs it. */
#ifndef CIRCUS_PIDSET_H
#define CIRCUS_PIDSET_H

#include <sys/types.h>

#include <stddef.h>

#include <jansson.h>

struct pidset {
	pid_t	*v;		/* ascending once sorted */
	size_t	 n, cap;
};

struct pidset	*pidset_new(void);
void		 pidset_free(struct pidset *);
void		 pidset_add(struct pidset *, pid_t);
/* Sort ascending (after the adds, before the queries below). */
void		 pidset_sort(struct pidset *);
/* One merge pass over two sorted sets (NULL = empty): what only a has,
 * what both have, what only b has, each sorted; NULL outputs are skipped. */
void		 pidset_compare(const struct pidset *a, const struct pidset *b,
		    struct pidset *only_a, struct pidset *both,
		    struct pidset *only_b);
/* The set as a JSON array of integers, in its order. */
json_t		*pidset_json(const struct pidset *);

#endif
