/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process info object of a supervised process: lib/procinfo's object
 * with the age counted from the spawn, plus started and wid.
 */
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "circusd.h"
#include "log.h"
#include "proctree.h"
#include "stats.h"

static struct proctree *stats_tree;

/* Info for a supervised process: age since spawn, then started and wid. */
json_t *
stats_batch_process(struct procinfo_batch *b, struct process *p)
{
	struct ev_loop *loop = NULL;
	json_t *info;
	double age;

	if (p->state == PROCESS_EXITED)
		return json_string(PROCINFO_GONE);
	info = procinfo_batch_pid(b, p->pid, true, &p->last_cpu_ticks,
	    &p->last_cpu_time);
	if (!json_is_object(info))
		return info;
	if (p->watcher != NULL && p->watcher->arbiter != NULL)
		loop = p->watcher->arbiter->loop;
	if (loop != NULL)
		age = ev_now(loop) - p->started_mono;
	else
		age = procinfo_batch_wall(b) - p->started;
	json_object_set_new(info, "age", json_real(age));
	json_object_set_new(info, "started", json_real(p->started));
	json_object_set_new(info, "wid", json_integer(p->wid));
	/* ours (doc/design.md §18): readiness as the worker reported it */
	if (p->watcher != NULL &&
	    p->watcher->cfg->readiness == READINESS_NOTIFY) {
		json_object_set_new(info, "ready", json_boolean(p->ready));
		if (p->notify_status != NULL)
			json_object_set_new(info, "notify_status",
			    json_string(p->notify_status));
	}
	return info;
}

/* Info object for pid, on its own. */
json_t *
stats_process_info(pid_t pid, bool with_children, uint64_t *last_ticks,
    double *last_time)
{
	struct procinfo_batch *b;
	json_t *info;

	b = procinfo_batch_new();
	info = procinfo_batch_pid(b, pid, with_children, last_ticks, last_time);
	procinfo_batch_free(b);
	return info;
}

/* Info object for a supervised process, on its own. */
json_t *
stats_process(struct process *p)
{
	struct procinfo_batch *b;
	json_t *info;

	b = procinfo_batch_new();
	info = stats_batch_process(b, p);
	procinfo_batch_free(b);
	return info;
}

/*
 * Follow circusd's descendants through the kernel's process events when
 * possible (root), so `stats` never scans the machine's /proc; say which
 * way children are found.
 */
void
stats_tree_start(void)
{
	char *cause = NULL;

	if (stats_tree != NULL)
		return;
	if ((stats_tree = proctree_open(getpid(), &cause)) == NULL) {
		log_info("stats: children found by scanning /proc (%s)", cause);
		free(cause);
		return;
	}
	procinfo_set_tree(stats_tree);
	log_info("stats: children followed through the kernel's process "
	    "events");
}

/* Stop following (shutdown). */
void
stats_tree_stop(void)
{
	procinfo_set_tree(NULL);
	proctree_free(stats_tree);
	stats_tree = NULL;
}
