/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The process info object of a supervised process: lib/procinfo's object
 * with the age counted from the spawn, plus started and wid; and the
 * stats job that builds them for many processes a bounded step per loop
 * turn, with each watcher's whole tree (doc/design.md §19, §20).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cgroup2.h"
#include "circusd.h"
#include "log.h"
#include "proctree.h"
#include "pyjson.h"
#include "stats.h"
#include "xmalloc.h"

static struct proctree *stats_tree;

/*
 * What a stats job keeps of one process: enough to build its info object
 * after the process is gone from the table (the job never holds a pointer
 * to it across loop turns).
 */
struct stats_item {
	pid_t		 pid;
	int		 wid;
	bool		 exited;
	double		 started;
	ev_tstamp	 started_mono;
	uint64_t	 last_ticks;	/* the cpu sample, written back */
	double		 last_time;
	bool		 readiness;	/* readiness = notify: report it */
	bool		 ready;
	char		*notify_status;	/* owned copy, or NULL */
};

/* One watcher of a job: its processes in spawn order, then the result. */
struct stats_group {
	char			*name;
	struct stats_item	*items;
	size_t			 n;
	struct pyjson_buf	 text;		/* {"<pid>": info} */
	pid_t			*tree;		/* whole tree, sorted */
	size_t			 ntree, tree_cap;
	bool			 tree_cgroup;	/* from its cgroup */
	struct cg2_reader	*reader;	/* its cgroup, being read */
	bool			 started;
};

struct stats_job {
	struct arbiter		*arbiter;
	struct procinfo_batch	*batch;
	struct stats_group	*groups;
	size_t			 ngroups;
	size_t			 gi, ii;	/* the next process */
	ev_timer		 step_w;
	stats_job_cb		 done;
	void			*arg;
};

/* The snapshot of a process. */
static void
stats_item_set(struct stats_item *it, const struct process *p)
{
	it->pid = p->pid;
	it->wid = p->wid;
	it->exited = p->state == PROCESS_EXITED;
	it->started = p->started;
	it->started_mono = p->started_mono;
	it->last_ticks = p->last_cpu_ticks;
	it->last_time = p->last_cpu_time;
	it->readiness = p->watcher != NULL &&
	    p->watcher->cfg->readiness == READINESS_NOTIFY;
	it->ready = p->ready;
	it->notify_status = p->notify_status != NULL ?
	    xstrdup(p->notify_status) : NULL;
}

/* Info for a snapshot: age since spawn, then started and wid. */
static json_t *
stats_item_info(struct procinfo_batch *b, struct stats_item *it,
    struct ev_loop *loop)
{
	json_t *info;
	double age;

	if (it->exited)
		return json_string(PROCINFO_GONE);
	info = procinfo_batch_pid(b, it->pid, true, &it->last_ticks,
	    &it->last_time);
	if (!json_is_object(info))
		return info;
	if (loop != NULL)
		age = ev_now(loop) - it->started_mono;
	else
		age = procinfo_batch_wall(b) - it->started;
	json_object_set_new(info, "age", json_real(age));
	json_object_set_new(info, "started", json_real(it->started));
	json_object_set_new(info, "wid", json_integer(it->wid));
	/* ours (doc/design.md §18): readiness as the worker reported it */
	if (it->readiness) {
		json_object_set_new(info, "ready", json_boolean(it->ready));
		if (it->notify_status != NULL)
			json_object_set_new(info, "notify_status",
			    json_string(it->notify_status));
	}
	return info;
}

/* Info for a supervised process: age since spawn, then started and wid. */
json_t *
stats_batch_process(struct procinfo_batch *b, struct process *p)
{
	struct ev_loop *loop = NULL;
	struct stats_item it;
	json_t *info;

	if (p->watcher != NULL && p->watcher->arbiter != NULL)
		loop = p->watcher->arbiter->loop;
	stats_item_set(&it, p);
	info = stats_item_info(b, &it, loop);
	p->last_cpu_ticks = it.last_ticks;
	p->last_cpu_time = it.last_time;
	free(it.notify_status);
	return info;
}

/* A job over no watcher yet. */
struct stats_job *
stats_job_new(struct arbiter *a)
{
	struct stats_job *job;

	job = xcalloc(1, sizeof *job);
	job->arbiter = a;
	job->batch = procinfo_batch_new();
	ev_timer_init(&job->step_w, NULL, 0., 0.);
	return job;
}

/* What the room before a text holds until the envelope is written. */
static const char stats_text_head[STATS_TEXT_HEAD];

/* Add a watcher: its processes as they are now. */
void
stats_job_add(struct stats_job *job, struct watcher *w)
{
	struct stats_group *g;
	struct process *p;
	size_t n = 0;

	job->groups = xreallocarray(job->groups, job->ngroups + 1,
	    sizeof *job->groups);
	g = &job->groups[job->ngroups++];
	memset(g, 0, sizeof *g);
	g->name = xstrdup(w->name);
	TAILQ_FOREACH(p, &w->processes, entry)
		n++;
	g->items = xreallocarray(NULL, n + 1, sizeof *g->items);
	TAILQ_FOREACH(p, &w->processes, entry)
		stats_item_set(&g->items[g->n++], p);
	pyjson_buf_raw(&g->text, stats_text_head, STATS_TEXT_HEAD);
	pyjson_buf_raw(&g->text, "{", 1);
}

/* Order snapshots by pid. */
static int
stats_item_cmp(const void *a, const void *b)
{
	const struct stats_item *ia = a, *ib = b;

	return (ia->pid > ib->pid) - (ia->pid < ib->pid);
}

/* The cpu samples go back to the processes still in their tables, so
 * the next stats measures from this one. */
static void
stats_job_write_back(struct stats_job *job)
{
	struct stats_group *g;
	struct stats_item *it;
	struct watcher *w;
	struct process *p;
	size_t i;

	for (i = 0; i < job->ngroups; i++) {
		g = &job->groups[i];
		if ((w = arbiter_find_watcher(job->arbiter, g->name)) == NULL)
			continue;
		qsort(g->items, g->n, sizeof *g->items, stats_item_cmp);
		TAILQ_FOREACH(p, &w->processes, entry) {
			it = bsearch(&(struct stats_item){ .pid = p->pid },
			    g->items, g->n, sizeof *g->items, stats_item_cmp);
			if (it == NULL || it->started_mono != p->started_mono)
				continue;
			p->last_cpu_ticks = it->last_ticks;
			p->last_cpu_time = it->last_time;
		}
	}
}

/* Order pids. */
static int
stats_pid_cmp(const void *a, const void *b)
{
	pid_t pa = *(const pid_t *)a, pb = *(const pid_t *)b;

	return (pa > pb) - (pa < pb);
}

/* Without a cgroup, the tree is the processes and their descendants in
 * the children index, gathered with each process. */
static void
stats_group_descendants(struct stats_job *job, struct stats_group *g,
    const struct stats_item *it)
{
	pid_t *kids;
	size_t j, k;

	k = procinfo_batch_descendants(job->batch, it->pid, &kids);
	if (g->ntree + k + 1 > g->tree_cap) {
		g->tree_cap = (g->ntree + k + 1) * 2;
		g->tree = xreallocarray(g->tree, g->tree_cap, sizeof *g->tree);
	}
	g->tree[g->ntree++] = it->pid;
	for (j = 0; j < k; j++)
		g->tree[g->ntree++] = kids[j];
	free(kids);
}

/* Start the tree of a group: its cgroup's members when it has one
 * (doc/design.md §20), read a bounded amount per step. */
static void
stats_group_start(struct stats_job *job, struct stats_group *g)
{
	struct watcher *w;

	w = arbiter_find_watcher(job->arbiter, g->name);
	if (w != NULL && (g->reader = cgroup_reader(w)) != NULL)
		g->tree_cgroup = true;
}

/*
 * One bounded step (doc/design.md §19): at most STATS_STEP_READS stat
 * files for the children index; or at most STATS_STEP_PROCS processes,
 * STATS_STEP_BYTES of a cgroup's members and STATS_STEP_SECONDS of work.
 * True when every watcher has its info objects and its tree.
 */
static bool
stats_job_step(struct stats_job *job)
{
	struct stats_group *g;
	struct stats_item *it;
	json_t *info;
	char key[32];
	size_t count = 0;
	ev_tstamp t0 = ev_time();

	if (!procinfo_batch_index(job->batch, STATS_STEP_READS))
		return false;
	if (ev_time() - t0 > STATS_STEP_SECONDS / 2)
		return false;	/* the index took this turn's share */
	for (; job->gi < job->ngroups; job->gi++, job->ii = 0) {
		g = &job->groups[job->gi];
		if (job->ii == 0 && !g->started) {
			g->started = true;
			stats_group_start(job, g);
		}
		for (; job->ii < g->n; job->ii++) {
			if (count >= STATS_STEP_PROCS ||
			    (count > 0 && ev_time() - t0 > STATS_STEP_SECONDS))
				return false;
			it = &g->items[job->ii];
			snprintf(key, sizeof key, "%d", (int)it->pid);
			/* written now: no big encoding at the end */
			info = stats_item_info(job->batch, it,
			    job->arbiter->loop);
			pyjson_buf_key(&g->text, key);
			pyjson_buf_dumps(&g->text, info);
			json_decref(info);
			if (!g->tree_cgroup && !it->exited)
				stats_group_descendants(job, g, it);
			count++;
		}
		if (g->reader != NULL) {
			if (count > 0 || !cg2_reader_step(g->reader,
			    STATS_STEP_BYTES))
				return false;
			g->ntree = cg2_reader_take(g->reader, &g->tree);
			cg2_reader_free(g->reader);
			g->reader = NULL;
		}
		if (g->ntree > 1 && !g->tree_cgroup)
			qsort(g->tree, g->ntree, sizeof *g->tree,
			    stats_pid_cmp);
		pyjson_buf_raw(&g->text, "}", 1);
	}
	stats_job_write_back(job);
	return true;
}

/* The next step, from the loop; the callback when all is done. */
static void
stats_job_step_cb(struct ev_loop *loop, ev_timer *t, UNUSED int revents)
{
	struct stats_job *job = container_of(t, struct stats_job, step_w);

	if (!stats_job_step(job)) {
		ev_timer_set(t, 0., 0.);
		ev_timer_start(loop, t);
		return;
	}
	job->done(job, job->arg);
}

/* Do the first step now: true when that was all; otherwise the rest
 * runs a step per loop turn and done is called from the loop. */
bool
stats_job_start(struct stats_job *job, stats_job_cb done, void *arg)
{
	if (stats_job_step(job))
		return true;
	job->done = done;
	job->arg = arg;
	ev_init(&job->step_w, stats_job_step_cb);
	ev_timer_set(&job->step_w, 0., 0.);
	ev_timer_start(job->arbiter->loop, &job->step_w);
	return false;
}

/* The {"<pid>": info} object of the i-th watcher added, as JSON text
 * (borrowed). */
const char *
stats_job_text(const struct stats_job *job, size_t i, size_t *len)
{
	*len = job->groups[i].text.len - STATS_TEXT_HEAD;
	return job->groups[i].text.data + STATS_TEXT_HEAD;
}

/* The same, taken (caller frees; the job keeps an empty text). */
char *
stats_job_take_text(struct stats_job *job, size_t i, size_t *len)
{
	struct pyjson_buf *b = &job->groups[i].text;
	char *text;

	text = pyjson_buf_finish(b, len);
	*len -= STATS_TEXT_HEAD;
	memset(b, 0, sizeof *b);
	return text;
}

/* The same as an object (caller owns). */
json_t *
stats_job_infos(const struct stats_job *job, size_t i)
{
	const struct stats_group *g = &job->groups[i];

	return pyjson_loadb(g->text.data + STATS_TEXT_HEAD,
	    g->text.len - STATS_TEXT_HEAD, 0, NULL);
}

/* The whole tree of the i-th watcher added, sorted (borrowed), and how
 * it is known. */
const pid_t *
stats_job_tree(const struct stats_job *job, size_t i, size_t *n,
    const char **mode)
{
	*mode = job->groups[i].tree_cgroup ? "cgroup" : "process-group";
	*n = job->groups[i].ntree;
	return job->groups[i].tree;
}

/* The name of the i-th watcher added. */
const char *
stats_job_name(const struct stats_job *job, size_t i)
{
	return job->groups[i].name;
}

/* The number of watchers added. */
size_t
stats_job_count(const struct stats_job *job)
{
	return job->ngroups;
}

/* Free a job, finished or not (its step stops). */
void
stats_job_free(struct stats_job *job)
{
	size_t i, j;

	if (job == NULL)
		return;
	ev_timer_stop(job->arbiter->loop, &job->step_w);
	for (i = 0; i < job->ngroups; i++) {
		free(job->groups[i].name);
		for (j = 0; j < job->groups[i].n; j++)
			free(job->groups[i].items[j].notify_status);
		free(job->groups[i].items);
		free(job->groups[i].tree);
		cg2_reader_free(job->groups[i].reader);
		free(pyjson_buf_finish(&job->groups[i].text, NULL));
	}
	free(job->groups);
	procinfo_batch_free(job->batch);
	free(job);
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
