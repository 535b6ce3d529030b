/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The descendants of one process (circusd), kept from the kernel's process
 * events (netlink proc connector: fork and exit) instead of scanning /proc,
 * so finding a process's children costs what the tree holds, not what the
 * machine runs. Events are read when the table is used, never in between
 * (an idle daemon does not wake up for other processes' forks); when the
 * kernel had to drop events, or before the first fork of the root was
 * seen, the table is not ready and the caller scans /proc and reloads it.
 */
#ifndef CIRCUS_PROCTREE_H
#define CIRCUS_PROCTREE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

struct proctree_link {
	pid_t	pid;
	pid_t	ppid;
};

struct proctree;

/* Listen to process events for the descendants of root. NULL with *cause
 * when the connector is not available (not root, no CONFIG_PROC_EVENTS). */
struct proctree	*proctree_open(pid_t root, char **cause);
/* A table without a socket, fed with proctree_feed (tests). */
struct proctree	*proctree_new(pid_t root);
void		 proctree_free(struct proctree *);
/* Read every pending event. */
void		 proctree_drain(struct proctree *);
/* Read at most max pending messages: true when none is left (from an
 * event loop, a bounded amount at a time). */
bool		 proctree_drain_some(struct proctree *, size_t max);
/* Apply a buffer of netlink messages (what drain reads; for tests). */
void		 proctree_feed(struct proctree *, const void *buf, size_t len);
/* Mark that events were lost (drain does it on ENOBUFS). */
void		 proctree_lost(struct proctree *);
/* True when the table is complete: a fork of the root was seen and no
 * event was lost since the last reload. */
bool		 proctree_ready(const struct proctree *);
/* The table, sorted by pid (borrowed, valid until the next call). */
const struct proctree_link *proctree_links(const struct proctree *,
		     size_t *n);
/* Replace the table with the descendants of the root found in a full
 * (pid, ppid) list sorted by pid, e.g. a /proc scan, after lost events. */
void		 proctree_reload(struct proctree *,
		     const struct proctree_link *all, size_t n);

#endif
