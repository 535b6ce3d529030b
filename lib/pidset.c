/* SPDX-License-Identifier: Apache-2.0 */
/* Sorted pid sets (see pidset.h). */
#include <stdlib.h>

#include "pidset.h"
#include "xmalloc.h"

struct pidset *
pidset_new(void)
{
	return xcalloc(1, sizeof(struct pidset));
}

void
pidset_free(struct pidset *s)
{
	if (s == NULL)
		return;
	free(s->v);
	free(s);
}

void
pidset_add(struct pidset *s, pid_t pid)
{
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 16 : s->cap * 2;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = pid;
}

static int
pidset_cmp(const void *x, const void *y)
{
	pid_t a = *(const pid_t *)x, b = *(const pid_t *)y;

	return a < b ? -1 : a > b;
}

void
pidset_sort(struct pidset *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, pidset_cmp);
}

/* Add pid to out unless out is NULL. */
static void
pidset_put(struct pidset *out, pid_t pid)
{
	if (out != NULL)
		pidset_add(out, pid);
}

void
pidset_compare(const struct pidset *a, const struct pidset *b,
    struct pidset *only_a, struct pidset *both, struct pidset *only_b)
{
	size_t i = 0, j = 0, na = a != NULL ? a->n : 0, nb = b != NULL ? b->n : 0;

	while (i < na || j < nb) {
		if (j == nb || (i < na && a->v[i] < b->v[j]))
			pidset_put(only_a, a->v[i++]);
		else if (i == na || b->v[j] < a->v[i])
			pidset_put(only_b, b->v[j++]);
		else {
			pidset_put(both, a->v[i]);
			i++;
			j++;
		}
	}
}

json_t *
pidset_json(const struct pidset *s)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		json_array_append_new(arr, json_integer(s->v[i]));
	return arr;
}
