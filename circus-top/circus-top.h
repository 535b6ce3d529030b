/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circus-top: a read-only, top-like curses view of the stats stream
 * (doc/design.md §17.4). model.c keeps the last figures of each group and pid
 * from the stat.* messages; screen.c draws them; main.c runs the loop.
 */
#ifndef CIRCUS_TOP_H
#define CIRCUS_TOP_H

#include <stdbool.h>
#include <stddef.h>

/* How rows are ordered inside a group (keys c, m, a, p). */
enum top_sort {
	TOP_SORT_CPU = 0,
	TOP_SORT_MEM,
	TOP_SORT_AGE,
	TOP_SORT_PID,
};

/* One pid of a group, or one socket of the sockets group. */
struct trow {
	long	 id;		/* pid, or the socket's fd */
	char	*name;		/* "circusd"..., or NULL */
	char	*address;	/* sockets only */
	double	 cpu, mem, age;	/* < 0: N/A */
	long	 reads;
	long	 seen_ms;
};

struct tgroup {
	char		*name;
	struct trow	*rows;
	size_t		 nrows;
	double		 cpu, mem, age;	/* the aggregate; < 0: N/A */
	long		 reads;
	bool		 has_agg;
	long		 seen_ms;
};

struct top {
	struct tgroup	**groups;	/* sorted by name */
	size_t		  ngroups;
	enum top_sort	  sort;
	long		  timeout_ms;	/* --process-timeout */
	bool		  got_data;
};

/* model.c */
/* Apply one stat.* message (topic, JSON body) received at now_ms. */
void	top_message(struct top *, const char *topic, const char *body,
	    size_t len, long now_ms);
/* Forget pids and groups without fresh figures. */
void	top_expire(struct top *, long now_ms);
/* Order a group's rows by the current sort key. */
void	top_sort_rows(const struct top *, struct tgroup *);
void	top_free(struct top *);

/* screen.c */
void	screen_draw(struct top *);

#endif
