/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circusd-stats: the stats aggregator of doc/design.md §17.4. It learns pids
 * from circusd's event stream (one bootstrap over the control channel),
 * samples each pid once a second with one /proc read (lib/procinfo.h),
 * publishes the stat.* topics on its PUB socket and, when asked, serves
 * the same figures as Prometheus metrics.
 */
#ifndef CIRCUSD_STATS_H
#define CIRCUSD_STATS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "procinfo.h"

struct client;

/* One pid of a watcher, with what sampling keeps between ticks. */
struct spid {
	pid_t			 pid;
	struct procinfo_sample	 sample;
};

/* One watcher as learnt from events. */
struct swatcher {
	char		*name;		/* as in topics and `list` */
	struct spid	*pids;
	size_t		 npids;
	uint64_t	 spawns;	/* spawn events seen */
	uint64_t	 crashes;	/* reaps of pids not stopped by circusd */
	uint64_t	 restarts;	/* spawns that replaced a crash */
	uint64_t	 owed;		/* crashes not yet replaced */
};

/* One listening socket inherited from circusd (use_sockets). */
struct ssock {
	int		 fd;
	char		*address;	/* host:port or path */
	unsigned	 reads;		/* readable polls in this window */
	unsigned	 last_reads;	/* of the last full window */
};

struct stats {
	struct client	 *ctl;
	void		 *pub;		/* stats PUB */
	void		 *sub;		/* circusd events SUB */
	struct swatcher	**watchers;	/* sorted by name */
	size_t		  nwatchers;
	pid_t		  circusd_pid;
	struct procinfo_sample circusd_sample;
	struct procinfo_sample self_sample;
	struct ssock	 *socks;
	size_t		  nsocks;
};

/* streamer.c: the pid sets */
/* Ask circusd once for its watchers, their pids, its own pid and the
 * sockets. Returns 0, or -1 with *cause if circusd does not answer. */
int		 streamer_bootstrap(struct stats *, char **cause);
/* Apply one event (topic, JSON body text) to the pid sets. */
void		 streamer_event(struct stats *, const char *topic,
		     const char *body, size_t len);
/* The watcher called name, created when create is true. */
struct swatcher	*streamer_watcher(struct stats *, const char *name,
		     bool create);
void		 streamer_free(struct stats *);

/* publish.c: one tick of stat.* messages */
void		 publish_tick(struct stats *);
/* Poll the sockets once (every 10 ms) and count the readable ones. */
void		 publish_poll_sockets(struct stats *);
/* Close the 1 s window of socket reads. */
void		 publish_sockets_window(struct stats *);

/* metrics.c: GET /metrics (Prometheus text format) */
struct metrics;
/* Listen on "HOST:PORT". NULL with *cause on failure. */
struct metrics	*metrics_new(struct stats *, const char *hostport,
		     char **cause);
/* Add the daemon's descriptors to a poll set; returns how many. */
size_t		 metrics_pollfds(struct metrics *, void *items, size_t max);
/* Serve whatever is ready; the longest wait it wants, ms (-1: none). */
void		 metrics_run(struct metrics *);
long		 metrics_timeout_ms(struct metrics *);
void		 metrics_free(struct metrics *);
/* The exposition text for the current figures (caller frees). */
char		*metrics_text(struct stats *);

#endif
