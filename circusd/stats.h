/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process statistics of supervised processes (stats.c), on top of the
 * /proc reader of lib/procinfo.h; the two entry points for one process
 * are in circusd.h.
 */
#ifndef CIRCUSD_STATS_H
#define CIRCUSD_STATS_H

#include <sys/types.h>

#include <stdbool.h>

#include <jansson.h>

#include "procinfo.h"

struct process;

/* Info for a supervised process: adds started and wid, age since spawn. */
json_t *stats_batch_process(struct procinfo_batch *, struct process *);

/*
 * A `stats` over many processes, built a bounded step per loop turn so
 * that no request waits behind it (doc/design.md §19): snapshot the
 * watchers, start (the first step runs at once), read the results.
 */
#define STATS_STEP_PROCS	256	/* processes per loop turn */
#define STATS_STEP_READS	512	/* /proc stat files per loop turn */
#define STATS_STEP_BYTES	16384	/* of a cgroup's members per turn */
#define STATS_STEP_SECONDS	0.001	/* and no more time than this */
/* room left before each watcher's text for the reply's envelope, so that a
 * multi-megabyte reply is never copied (controller.c) */
#define STATS_TEXT_HEAD		512

struct arbiter;
struct watcher;
struct stats_job;
typedef void (*stats_job_cb)(struct stats_job *, void *arg);

struct stats_job *stats_job_new(struct arbiter *);
void stats_job_add(struct stats_job *, struct watcher *);
/* True when the first step did it all (done is not called); otherwise
 * done is called from the loop once every process has its info. */
bool stats_job_start(struct stats_job *, stats_job_cb done, void *arg);
/* The {"<pid>": info} object of the i-th watcher added: as JSON text
 * (borrowed), or as an object (caller owns). */
const char *stats_job_text(const struct stats_job *, size_t i, size_t *len);
json_t *stats_job_infos(const struct stats_job *, size_t i);
/* The text's buffer, taken (caller frees): the text starts
 * STATS_TEXT_HEAD bytes in and is *len long. */
char *stats_job_take_text(struct stats_job *, size_t i, size_t *len);
const char *stats_job_name(const struct stats_job *, size_t i);
size_t stats_job_count(const struct stats_job *);
/* The whole tree of the i-th watcher: its cgroup's members ("cgroup"),
 * or its processes and their descendants ("process-group"); sorted,
 * borrowed. */
const pid_t *stats_job_tree(const struct stats_job *, size_t i, size_t *n,
    const char **mode);
/* Finished or not: the steps stop. */
void stats_job_free(struct stats_job *);

/* Children from process events when available (logs the mode); stop. */
void stats_tree_start(void);
void stats_tree_stop(void);

#endif
