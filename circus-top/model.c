/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What circus-top knows: the last stat.* figures of every group and pid
 * (doc/design.md §17.4). A topic is "stat.<group>" or "stat.<group>.<id>",
 * where <id> is the numeric last field (group names may hold dots).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "circus-top.h"
#include "xmalloc.h"

static double	 model_num(json_t *, const char *);
static struct tgroup *model_group(struct top *, const char *);
static struct trow *model_row(struct tgroup *, long);

/* A figure, or -1 when it is "N/A" or missing. */
static double
model_num(json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : -1.0;
}

/* Order groups by name. */
static int
model_group_cmp(const void *a, const void *b)
{
	const struct tgroup *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* The group called name, created if new. */
static struct tgroup *
model_group(struct top *t, const char *name)
{
	struct tgroup	 key, *kp = &key, **found, *g;

	key.name = (char *)(uintptr_t)name;
	found = t->ngroups == 0 ? NULL : bsearch(&kp, t->groups, t->ngroups,
	    sizeof *t->groups, model_group_cmp);
	if (found != NULL)
		return *found;
	g = xcalloc(1, sizeof *g);
	g->name = xstrdup(name);
	t->groups = xreallocarray(t->groups, t->ngroups + 1,
	    sizeof *t->groups);
	t->groups[t->ngroups++] = g;
	qsort(t->groups, t->ngroups, sizeof *t->groups, model_group_cmp);
	return g;
}

/* The row with that id, created if new. */
static struct trow *
model_row(struct tgroup *g, long id)
{
	size_t	i;

	for (i = 0; i < g->nrows; i++) {
		if (g->rows[i].id == id)
			return &g->rows[i];
	}
	g->rows = xreallocarray(g->rows, g->nrows + 1, sizeof *g->rows);
	memset(&g->rows[g->nrows], 0, sizeof *g->rows);
	g->rows[g->nrows].id = id;
	return &g->rows[g->nrows++];
}

/* Apply one message. */
void
top_message(struct top *t, const char *topic, const char *body, size_t len,
    long now_ms)
{
	struct tgroup	*g;
	struct trow	*r;
	json_t		*obj, *name;
	json_error_t	 err;
	const char	*rest, *dot, *p;
	char		*gname;
	long		 id = -1;

	if (strncmp(topic, "stat.", 5) != 0)
		return;
	rest = topic + 5;
	if ((dot = strrchr(rest, '.')) != NULL && dot[1] != '\0') {
		for (p = dot + 1; isdigit((unsigned char)*p); p++)
			;
		if (*p == '\0')
			id = strtol(dot + 1, NULL, 10);
	}
	gname = id >= 0 ? xstrndup(rest, (size_t)(dot - rest)) : xstrdup(rest);
	if (*gname == '\0' || strcmp(gname, "circusd-stats") == 0 ||
	    strcmp(gname, "circushttpd") == 0 ||
	    (obj = json_loadb(body, len, 0, &err)) == NULL) {
		free(gname);
		return;
	}
	g = model_group(t, gname);
	free(gname);
	g->seen_ms = now_ms;
	t->got_data = true;
	if (id < 0) {
		g->has_agg = true;
		g->cpu = model_num(obj, "cpu");
		g->mem = model_num(obj, "mem");
		g->age = model_num(obj, "age");
		g->reads = (long)model_num(obj, "reads");
	} else {
		r = model_row(g, id);
		r->seen_ms = now_ms;
		r->cpu = model_num(obj, "cpu");
		r->mem = model_num(obj, "mem");
		r->age = model_num(obj, "age");
		r->reads = (long)model_num(obj, "reads");
		free(r->name);
		r->name = json_is_string(name = json_object_get(obj, "name")) ?
		    xstrdup(json_string_value(name)) : NULL;
		free(r->address);
		r->address = json_is_string(json_object_get(obj, "address")) ?
		    xstrdup(json_string_value(json_object_get(obj,
		    "address"))) : NULL;
	}
	json_decref(obj);
}

/* Free one group. */
static void
model_group_free(struct tgroup *g)
{
	size_t	i;

	for (i = 0; i < g->nrows; i++) {
		free(g->rows[i].name);
		free(g->rows[i].address);
	}
	free(g->rows);
	free(g->name);
	free(g);
}

/* Forget what has not been refreshed within the process timeout. */
void
top_expire(struct top *t, long now_ms)
{
	struct tgroup	*g;
	size_t		 i, j, k, n = 0;

	for (i = 0; i < t->ngroups; i++) {
		g = t->groups[i];
		for (j = 0, k = 0; j < g->nrows; j++) {
			if (now_ms - g->rows[j].seen_ms > t->timeout_ms) {
				free(g->rows[j].name);
				free(g->rows[j].address);
				continue;
			}
			g->rows[k++] = g->rows[j];
		}
		g->nrows = k;
		if (now_ms - g->seen_ms > t->timeout_ms) {
			model_group_free(g);
			continue;
		}
		t->groups[n++] = g;
	}
	t->ngroups = n;
}

/* Row order for the current sort key: largest first, pids ascending. */
static enum top_sort sort_key;

static int
model_row_cmp(const void *a, const void *b)
{
	const struct trow *x = a, *y = b;
	double vx, vy;

	switch (sort_key) {
	case TOP_SORT_MEM:
		vx = x->mem;
		vy = y->mem;
		break;
	case TOP_SORT_AGE:
		vx = x->age;
		vy = y->age;
		break;
	case TOP_SORT_PID:
		return (x->id > y->id) - (x->id < y->id);
	case TOP_SORT_CPU:
	default:
		vx = x->address != NULL ? (double)x->reads : x->cpu;
		vy = y->address != NULL ? (double)y->reads : y->cpu;
		break;
	}
	if (vx != vy)
		return vx < vy ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

/* Sort a group's rows. */
void
top_sort_rows(const struct top *t, struct tgroup *g)
{
	sort_key = t->sort;
	if (g->nrows > 1)
		qsort(g->rows, g->nrows, sizeof *g->rows, model_row_cmp);
}

/* Free everything. */
void
top_free(struct top *t)
{
	size_t	i;

	for (i = 0; i < t->ngroups; i++)
		model_group_free(t->groups[i]);
	free(t->groups);
	t->groups = NULL;
	t->ngroups = 0;
}
