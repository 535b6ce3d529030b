/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process statistics of supervised processes (stats.c), on top of the
 * /proc reader of lib/procinfo.h; the two entry points for one process
 * are in circusd.h.
 */
#ifndef CIRCUSD_STATS_H
#define CIRCUSD_STATS_H

#include <jansson.h>

#include "procinfo.h"

struct process;

/* Info for a supervised process: adds started and wid, age since spawn. */
json_t *stats_batch_process(struct procinfo_batch *, struct process *);

/* Children from process events when available (logs the mode); stop. */
void stats_tree_start(void);
void stats_tree_stop(void);

#endif
