/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The circus-top screen (doc/design.md §17.4): a title, a dashed line, then one
 * block per group in name order — pid rows (at most 10) and the
 * aggregate row for process groups, address and hits for sockets — and a
 * closing dashed line. Every line is padded to the right edge.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "circus-top.h"

#define MAX_ROWS 10

static const char *sort_names[] = { "cpu", "memory", "age", "pid" };

static void	 put(int *, const char *);
static void	 put_cols(int *, const char *, const char *, const char *,
		     const char *, int);
static void	 fmt(char *, size_t, double, const char *);
static void	 draw_procs(int *, struct tgroup *);
static void	 draw_sockets(int *, struct tgroup *);

/* One full-width line at *row (then the next row). */
static void
put(int *row, const char *text)
{
	if (*row >= LINES)
		return;
	move(*row, 0);
	clrtoeol();
	addnstr(text, COLS > 1 ? COLS - 1 : 1);
	(*row)++;
}

/* A row: c0 at column 2, the others at 29, 49 and 69; a header (shift
 * 1) has them one column further left after c0 at column 3. */
static void
put_cols(int *row, const char *c0, const char *c1, const char *c2,
    const char *c3, int shift)
{
	char	line[512];

	snprintf(line, sizeof line, "%*s%-*s%-20s%-20s%s", 2 + shift, "",
	    27 - 2 * shift, c0, c1, c2, c3);
	put(row, line);
}

/* "%.2f" of a figure, "N/A" below 0, with an optional suffix. */
static void
fmt(char *buf, size_t len, double v, const char *suffix)
{
	if (v < 0)
		snprintf(buf, len, "N/A%s", suffix);
	else
		snprintf(buf, len, "%.2f%s", v, suffix);
}

/* One process group. */
static void
draw_procs(int *row, struct tgroup *g)
{
	char	id[128], cpu[32], mem[32], age[32];
	size_t	i;

	put_cols(row, "PID", "CPU (%)", "MEMORY (%)", "AGE (s)", 1);
	for (i = 0; i < g->nrows && i < MAX_ROWS; i++) {
		if (g->rows[i].name != NULL)
			snprintf(id, sizeof id, "%ld (%s)", g->rows[i].id,
			    g->rows[i].name);
		else
			snprintf(id, sizeof id, "%ld", g->rows[i].id);
		fmt(cpu, sizeof cpu, g->rows[i].cpu, "");
		fmt(mem, sizeof mem, g->rows[i].mem, "");
		fmt(age, sizeof age, g->rows[i].age, "");
		put_cols(row, id, cpu, mem, age, 0);
	}
	if (g->has_agg) {
		fmt(cpu, sizeof cpu, g->cpu, " (avg)");
		fmt(mem, sizeof mem, g->mem, " (sum)");
		fmt(age, sizeof age, g->age, " (older)");
		put_cols(row, "", cpu, mem, age, 0);
	}
}

/* The sockets group. */
static void
draw_sockets(int *row, struct tgroup *g)
{
	char	line[512];
	size_t	i;

	snprintf(line, sizeof line, "   %-25s%s", "ADDRESS", "HITS");
	put(row, line);
	for (i = 0; i < g->nrows && i < MAX_ROWS; i++) {
		snprintf(line, sizeof line, "  %-27s%3ld", g->rows[i].address !=
		    NULL ? g->rows[i].address : "?", g->rows[i].reads);
		put(row, line);
	}
	snprintf(line, sizeof line, "%29s%3ld (sum)", "", g->reads);
	put(row, line);
}

/* Repaint everything. */
void
screen_draw(struct top *t)
{
	char	line[512], dashes[512];
	int	row = 0, w;
	size_t	i;

	w = COLS > 1 ? COLS - 1 : 1;
	if (w > (int)sizeof dashes - 1)
		w = (int)sizeof dashes - 1;
	memset(dashes, '-', (size_t)w);
	dashes[w] = '\0';
	snprintf(line, sizeof line, "Circus Top    sorted by %s "
	    "(c cpu, m memory, a age, p pid; q quits)", sort_names[t->sort]);
	put(&row, line);
	put(&row, t->got_data ? dashes : "*** Waiting for data ***");
	for (i = 0; i < t->ngroups; i++) {
		top_sort_rows(t, t->groups[i]);
		put(&row, t->groups[i]->name);
		if (strcmp(t->groups[i]->name, "sockets") == 0)
			draw_sockets(&row, t->groups[i]);
		else
			draw_procs(&row, t->groups[i]);
		put(&row, "");
	}
	if (t->got_data)
		put(&row, dashes);
	while (row < LINES) {
		move(row++, 0);
		clrtoeol();
	}
	refresh();
}
