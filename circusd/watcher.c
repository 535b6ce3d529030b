/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watcher: a state machine over its processes, driven only by events
 * (operations queued by commands, child exits, timers). It never waits.
 *
 *   stopped --start--> starting --all spawned--> active
 *   starting --nothing could be spawned--> stopped
 *   active --stop/restart/rm/quit--> stopping --last exit--> stopped
 *   (respawn = false: active even once every process exited, as Circus)
 *   active --reload--> active (processes replaced, "reload" event)
 *
 * Every watcher has its own FIFO of operations (doc/design.md §1): the head
 * runs, the rest wait their turn; other watchers are never held up. The
 * running operation is a phase, a row of the table watcher_phases[]
 * (doc/design.md §22): watcher_progress() hands it every event, and its
 * row says whether it waits, moves on or completes. What the watcher does
 * to the world goes through w->env (doc/design.md §21).
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>

#include "circusd.h"
#include "log.h"
#include "pidset.h"
#include "util.h"
#include "xmalloc.h"

/* Outcome of one spawn (watcher_spawn_one). */
enum {
	SPAWN_FAILED = 0,	/* could not create it: counts vs max_retry */
	SPAWN_OK,
	SPAWN_PENDING,		/* its hooks run; watcher_spawn_end follows */
	SPAWN_VETOED,		/* a spawn hook said no: the watcher stops */
	SPAWN_NONE,		/* abandoned (the watcher stops meanwhile) */
};

/* How long one pass may spawn before the loop gets control back. */
#define WATCHER_SPAWN_SLICE_S	0.005

static void watcher_run_next(struct watcher *);
static void watcher_spawn_some(struct watcher *);
static void watcher_progress(struct watcher *);
static void watcher_stop_begin(struct watcher *, struct watcher_op *);
static void watcher_free_retired(struct watcher *, bool all);
static void watcher_process_exited(struct watcher *, struct process *);
static void watcher_process_unhealthy(struct watcher *, struct process *);
static void watcher_op_hook(struct watcher *, struct watcher_op *,
    enum watcher_phase, const char *hook);

/* ---- the real world (doc/design.md §21) ---- */

static ev_tstamp
watcher_env_now(const struct watcher *w, bool update)
{
	if (update)
		ev_now_update(w->arbiter->loop);
	return ev_now(w->arbiter->loop);
}

static void
watcher_env_timer_start(struct watcher *w, ev_timer *t, ev_tstamp after)
{
	ev_timer_stop(w->arbiter->loop, t);
	ev_timer_set(t, after, 0.);
	ev_timer_start(w->arbiter->loop, t);
}

static void
watcher_env_timer_stop(struct watcher *w, ev_timer *t)
{
	ev_timer_stop(w->arbiter->loop, t);
}

static bool
watcher_env_timer_active(UNUSED struct watcher *w, const ev_timer *t)
{
	return ev_is_active(t);
}

const struct watcher_env watcher_env_real = {
	.spawn = process_spawn,
	.stop = process_kill,
	.signal = process_signal,
	.hold = process_hold,
	.release = process_release,
	.free = process_free,
	.now = watcher_env_now,
	.timer_start = watcher_env_timer_start,
	.timer_stop = watcher_env_timer_stop,
	.timer_active = watcher_env_timer_active,
	.hook_configured = hook_configured,
	.hook_run = hook_run,
	.hook_cancel_all = hook_cancel_all,
	.publish = events_publish,
	.publish_pid = events_pid,
};

static const char *const watcher_state_names[] = { "stopped", "starting",
	"active", "stopping" };

/* Name of a state as the protocol spells it. */
const char *
watcher_state_name(enum watcher_state s)
{
	return watcher_state_names[s];
}

/* Change state, with a debug trace of every transition. */
static void
watcher_set_state(struct watcher *w, enum watcher_state s)
{
	if (w->state != s)
		log_debug("%s: %s -> %s", w->name, watcher_state_names[w->state],
		    watcher_state_names[s]);
	w->state = s;
	if (s == WATCHER_STOPPED)
		w->arbiter->watcher_stopped(w);
}

/* Timer for the next spawn (warmup_delay or back-off). */
static void
watcher_spawn_timer_cb(UNUSED struct ev_loop *loop, ev_timer *t,
    UNUSED int revents)
{
	struct watcher *w = container_of(t, struct watcher, spawn_timer);

	watcher_spawn_some(w);
	watcher_progress(w);
}

/* Create a watcher from its config (ownership of cfg passes). */
struct watcher *
watcher_new(struct arbiter *a, struct watcher_cfg *cfg, char **cause)
{
	struct watcher *w;
	char *c;

	(void)cause;
	w = xcalloc(1, sizeof *w);
	w->arbiter = a;
	w->env = a->watcher_env != NULL ? a->watcher_env : &watcher_env_real;
	w->cfg = cfg;
	w->name = cfg->name;
	w->lname = xstrdup(cfg->name);
	for (c = w->lname; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	w->topic = xstrdup(w->lname);
	for (c = w->topic; *c != '\0'; c++)
		if (*c == ' ')
			*c = '_';
	w->state = WATCHER_STOPPED;
	TAILQ_INIT(&w->processes);
	TAILQ_INIT(&w->dead);
	TAILQ_INIT(&w->ops);
	TAILQ_INIT(&w->hook_jobs);
	TAILQ_INIT(&w->reaps);
	ev_timer_init(&w->spawn_timer, watcher_spawn_timer_cb, 0., 0.);
	return w;
}

/* Free a watcher and whatever it still holds. */
void
watcher_free(struct watcher *w)
{
	struct process *p, *tp;
	struct watcher_op *op, *top;

	if (w == NULL)
		return;
	if (w->removed)
		TAILQ_REMOVE(&w->arbiter->removed, w, entry);
	/* a restart/start/reload of several may still name it (rm) */
	w->arbiter->watcher_freed(w);
	w->env->hook_cancel_all(w);	/* before the processes they refer to */
	w->env->timer_stop(w, &w->spawn_timer);
	TAILQ_FOREACH_SAFE(p, &w->processes, entry, tp) {
		TAILQ_REMOVE(&w->processes, p, entry);
		w->env->free(p);
	}
	TAILQ_FOREACH_SAFE(p, &w->dead, entry, tp) {
		TAILQ_REMOVE(&w->dead, p, entry);
		w->env->free(p);
	}
	TAILQ_FOREACH_SAFE(p, &w->reaps, entry, tp) {
		TAILQ_REMOVE(&w->reaps, p, entry);
		w->env->free(p);
	}
	TAILQ_FOREACH_SAFE(op, &w->ops, entry, top) {
		TAILQ_REMOVE(&w->ops, op, entry);
		if (op->done != NULL)
			op->done(w, op->ctx, NULL, 1);
		pidset_free(op->before);
		json_decref(op->stopped_pids);
		free(op->seq_pids);
		free(op->error);
		free(op->roll_error);
		free(op);
	}
	watcher_close_streams(w);
	watcher_free_retired(w, true);
	free(w->backoff_reason);
	free(w->spawn_error);
	free(w->gave_up_reason);
	free(w->last_rollback);
	free(w->client_stop_reason);
	json_decref(w->pids_json);
	free(w->lname);
	free(w->topic);
	watcher_cfg_free(w->cfg);
	free(w);
}

/* Fail every queued operation (arbiter teardown), while everything is
 * still alive: the callbacks answer parked requests and finish group
 * operations. Operations queued meanwhile on w are failed too. */
void
watcher_cancel_ops(struct watcher *w)
{
	struct watcher_op *op;

	while ((op = TAILQ_FIRST(&w->ops)) != NULL) {
		TAILQ_REMOVE(&w->ops, op, entry);
		w->op_running = true;	/* nothing new starts meanwhile */
		if (op->done != NULL)
			op->done(w, op->ctx, NULL, 1);
		pidset_free(op->before);
		json_decref(op->stopped_pids);
		free(op->seq_pids);
		free(op->error);
		free(op);
	}
	w->op_running = false;
}

/* Allocate an operation. */
struct watcher_op *
watcher_op_new(enum watcher_op_type type, watcher_done_cb done, void *ctx)
{
	struct watcher_op *op = xcalloc(1, sizeof *op);

	op->type = type;
	op->done = done;
	op->ctx = ctx;
	op->graceful = true;
	return op;
}

/* Queue an operation behind those already there. */
void
watcher_queue(struct watcher *w, struct watcher_op *op)
{
	TAILQ_INSERT_TAIL(&w->ops, op, entry);
	/* a stop does not wait for a rolling replace: it rolls back now
	 * (doc/design.md §18) */
	if (op->type == WOP_STOP && w->rolling_op != NULL &&
	    w->rolling_op->roll_error == NULL) {
		w->rolling_op->roll_error = xstrdup("interrupted by a stop");
		watcher_progress(w);
	} else if (op->type == WOP_STOP && w->op_running)
		watcher_progress(w);	/* a start stops waiting for ready */
	if (!w->op_running)
		watcher_run_next(w);
}

/* Processes that are running (not being stopped, not exited). */
size_t
watcher_active_count(const struct watcher *w)
{
	const struct process *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state == PROCESS_RUNNING)
			n++;
	return n;
}

/* Processes being stopped. */
static size_t
watcher_stopping_count(const struct watcher *w)
{
	const struct process *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state == PROCESS_STOPPING)
			n++;
	return n;
}

/* Pids of running processes in spawn order (a new reference; callers
 * only read it): the array of the last call while they are the same, so
 * that "list <name>" makes and frees no integers. */
json_t *
watcher_pids(struct watcher *w)
{
	const struct process *p;
	json_t *a = w->pids_json;
	size_t i = 0, n = json_array_size(a);

	TAILQ_FOREACH(p, &w->processes, entry) {
		if (p->state != PROCESS_RUNNING)
			continue;
		if (i == n || json_integer_value(json_array_get(a, i)) !=
		    p->pid)
			break;
		i++;
	}
	if (a != NULL && p == NULL && i == n)
		return json_incref(a);
	json_decref(w->pids_json);
	a = json_array();
	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state == PROCESS_RUNNING)
			json_array_append_new(a, json_integer(p->pid));
	w->pids_json = json_incref(a);
	return a;
}

/* Find a process by pid. */
struct process *
watcher_find_process(struct watcher *w, pid_t pid)
{
	struct process *p;

	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* Smallest free worker id (doc/design.md §2). */
static int
watcher_next_wid(struct watcher *w)
{
	struct process *p;
	size_t n = w->nprocesses + 2, wid;
	uint8_t *used;

	/* One pass over the table, not one per candidate: O(n), so 10,000
	 * processes do not cost O(n^2) per spawn. */
	used = xcalloc(n + 1, 1);
	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state != PROCESS_EXITED && p->wid > 0 &&
		    (size_t)p->wid <= n)
			used[p->wid] = 1;
	for (wid = 1; wid <= n && used[wid]; wid++)
		;
	free(used);
	return (int)wid;
}

/* The configured number of processes, as a count. */
static size_t
watcher_target(const struct watcher *w)
{
	int n = w->cfg->numprocesses;

	if (n < 0)
		n = 0;
	if (w->cfg->singleton && n > 1)
		n = 1;
	return (size_t)n;
}

/* Pids of running processes as a sorted set. Caller frees. */
static struct pidset *
watcher_pidset(const struct watcher *w)
{
	const struct process *p;
	struct pidset *set = pidset_new();

	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state == PROCESS_RUNNING)
			pidset_add(set, p->pid);
	pidset_sort(set);
	return set;
}

/* {"started": [...], "kept": [...]} (+ "stopped") comparing the sorted
 * pid sets before and after (NULL = empty); each list ascending. */
static json_t *
watcher_info(const struct pidset *before, const struct pidset *after,
    bool with_stopped)
{
	struct pidset stopped = { 0 }, kept = { 0 }, started = { 0 };
	json_t *info = json_object();

	pidset_compare(before, after, &stopped, &kept, &started);
	if (with_stopped)
		json_object_set_new(info, "stopped", pidset_json(&stopped));
	json_object_set_new(info, "started", pidset_json(&started));
	json_object_set_new(info, "kept", pidset_json(&kept));
	free(stopped.v);
	free(kept.v);
	free(started.v);
	return info;
}

/* Complete the running operation and start the next one. */
static void
watcher_op_done(struct watcher *w, json_t *result, int error)
{
	struct watcher_op *op = TAILQ_FIRST(&w->ops);

	if (op == NULL) {
		json_decref(result);
		return;
	}
	TAILQ_REMOVE(&w->ops, op, entry);
	w->op_running = false;
	w->op_error = op->error;
	if (op->done != NULL)
		op->done(w, op->ctx, result, error);
	w->op_error = NULL;
	json_decref(result);
	pidset_free(op->before);
	json_decref(op->stopped_pids);
	free(op->seq_pids);
	free(op->error);
	free(op->roll_error);
	if (w->rolling_op == op)
		w->rolling_op = NULL;
	free(op);
	if (w->removed && TAILQ_EMPTY(&w->ops)) {
		watcher_free(w);
		return;
	}
	if (!TAILQ_EMPTY(&w->ops))
		watcher_run_next(w);
}

/* Open the stream sinks configured for the watcher. */
int
watcher_open_streams(struct watcher *w, char **cause)
{
	const struct watcher_cfg *cfg = w->cfg;

	if (w->stdout_stream == NULL && cfg->stdout_stream != NULL &&
	    !cfg->close_child_stdout) {
		w->stdout_stream = stream_new(w->name, cfg->stdout_stream, cause);
		if (w->stdout_stream == NULL)
			return -1;
	}
	if (w->stderr_stream == NULL && cfg->stderr_stream != NULL &&
	    !cfg->close_child_stderr) {
		w->stderr_stream = stream_new(w->name, cfg->stderr_stream, cause);
		if (w->stderr_stream == NULL)
			return -1;
	}
	return 0;
}

/* Is sink s still written to by one of the watcher's processes? */
static bool
watcher_stream_in_use(const struct watcher *w, const struct stream *s)
{
	const struct process *p;

	TAILQ_FOREACH(p, &w->processes, entry)
		if ((p->out != NULL && outpipe_sink(p->out) == s) ||
		    (p->err != NULL && outpipe_sink(p->err) == s))
			return true;
	return false;
}

/* Free the retired sinks no process writes to any more (all of them
 * when the watcher goes away). */
static void
watcher_free_retired(struct watcher *w, bool all)
{
	size_t i, n = 0;

	for (i = 0; i < w->nretired; i++) {
		if (all || !watcher_stream_in_use(w, w->retired[i]))
			stream_free(w->retired[i]);
		else
			w->retired[n++] = w->retired[i];
	}
	w->nretired = n;
	if (n == 0) {
		free(w->retired);
		w->retired = NULL;
	}
}

/* Keep sink s (may be NULL) until its processes exit. */
static void
watcher_retire_stream(struct watcher *w, struct stream *s)
{
	if (s == NULL)
		return;
	w->retired = xreallocarray(w->retired, w->nretired + 1,
	    sizeof *w->retired);
	w->retired[w->nretired++] = s;
}

/* New sinks after a stream option changed (see circusd.h). */
int
watcher_renew_streams(struct watcher *w, char **cause)
{
	struct stream *out = w->stdout_stream, *err = w->stderr_stream;

	w->stdout_stream = NULL;
	w->stderr_stream = NULL;
	if (w->state != WATCHER_STOPPED &&
	    watcher_open_streams(w, cause) == -1) {
		watcher_close_streams(w);	/* the one that did open */
		w->stdout_stream = out;
		w->stderr_stream = err;
		return -1;
	}
	watcher_retire_stream(w, out);
	watcher_retire_stream(w, err);
	watcher_free_retired(w, false);
	return 0;
}

/* Close the stream sinks (processes must have been detached). */
void
watcher_close_streams(struct watcher *w)
{
	stream_free(w->stdout_stream);
	stream_free(w->stderr_stream);
	w->stdout_stream = NULL;
	w->stderr_stream = NULL;
}

/* max_age expired for one process: recycle it. */
static void
watcher_age_cb(UNUSED struct ev_loop *loop, ev_timer *t, UNUSED int revents)
{
	struct process *p = container_of(t, struct process, age_timer);
	struct watcher *w = p->watcher;

	if (p->state != PROCESS_RUNNING || w->state != WATCHER_ACTIVE)
		return;
	log_info("%s: process %d reached max_age, recycling", w->name,
	    (int)p->pid);
	w->env->stop(p, w->cfg->stop_signal, w->cfg->graceful_timeout,
	    KILL_TRIM);
}

/* ---- readiness (doc/design.md §18) ---- */

/* readiness_timeout passed without READY=1. */
static void
watcher_ready_timeout_cb(UNUSED struct ev_loop *loop, ev_timer *t,
    UNUSED int revents)
{
	struct process *p = container_of(t, struct process, ready_timer);

	if (p->state != PROCESS_RUNNING || p->ready)
		return;
	free(p->fail_reason);
	p->fail_reason = xprintf("process %d was not ready after %gs "
	    "(readiness_timeout)", (int)p->pid,
	    p->watcher->cfg->readiness_timeout);
	watcher_process_unhealthy(p->watcher, p);
}

/* watchdog passed without WATCHDOG=1. */
static void
watcher_watchdog_cb(UNUSED struct ev_loop *loop, ev_timer *t,
    UNUSED int revents)
{
	struct process *p = container_of(t, struct process, watchdog_timer);

	if (p->state != PROCESS_RUNNING)
		return;
	free(p->fail_reason);
	p->fail_reason = xprintf("process %d sent no WATCHDOG=1 for %gs",
	    (int)p->pid, p->watcher->cfg->watchdog);
	watcher_process_unhealthy(p->watcher, p);
}

/* Arm (or re-arm) a process's watchdog. */
static void
watcher_watchdog_arm(struct watcher *w, struct process *p)
{
	if (w->cfg->watchdog <= 0)
		return;
	w->env->timer_stop(w, &p->watchdog_timer);
	ev_timer_init(&p->watchdog_timer, watcher_watchdog_cb, 0., 0.);
	w->env->timer_start(w, &p->watchdog_timer, w->cfg->watchdog);
}

/* A new process: ready now (readiness none) or when it says so. */
static void
watcher_readiness_begin(struct watcher *w, struct process *p)
{
	p->generation = w->generation;
	if (w->cfg->readiness != READINESS_NOTIFY) {
		p->ready = true;
		watcher_watchdog_arm(w, p);
		return;
	}
	if (w->cfg->readiness_timeout > 0) {
		ev_timer_init(&p->ready_timer, watcher_ready_timeout_cb, 0.,
		    0.);
		w->env->timer_start(w, &p->ready_timer,
		    w->cfg->readiness_timeout);
	}
}

/* A process missed its readiness timeout or its watchdog: during a
 * rolling replace a new one makes it roll back; otherwise it is killed
 * like a crash (it counts for the back-off and is replaced). */
static void
watcher_process_unhealthy(struct watcher *w, struct process *p)
{
	struct watcher_op *op = w->rolling_op;

	log_warnx("%s: %s", w->name, p->fail_reason);
	w->env->publish(w->arbiter, w, "unhealthy", json_pack("{s:i, s:s, s:f}",
	    "process_pid", (int)p->pid, "reason", p->fail_reason, "time",
	    util_wallclock()));
	if (op != NULL && p->generation >= op->roll_gen) {
		if (op->roll_error == NULL)
			op->roll_error = xstrdup(p->fail_reason);
		watcher_progress(w);
		return;
	}
	w->env->stop(p, w->cfg->stop_signal, w->cfg->graceful_timeout,
	    KILL_NONE);
	watcher_progress(w);
}

void
watcher_process_notify(struct watcher *w, struct process *p,
    const struct notify_msg *m)
{
	if (m->status != NULL) {
		free(p->notify_status);
		p->notify_status = xstrndup(m->status, 256);
	}
	if (m->stopping)
		p->notified_stopping = true;
	if (p->state != PROCESS_RUNNING)
		return;
	if (m->ready && !p->ready && !p->notified_stopping) {
		p->ready = true;
		w->env->timer_stop(w, &p->ready_timer);
		watcher_watchdog_arm(w, p);
		log_info("%s: process %d is ready after %.3fs", w->name,
		    (int)p->pid, w->env->now(w, false) - p->started_mono);
		w->env->publish(w->arbiter, w, "ready", json_pack("{s:i, s:f}",
		    "process_pid", (int)p->pid, "time", util_wallclock()));
	} else if (m->watchdog && p->ready)
		watcher_watchdog_arm(w, p);
	if (m->watchdog_trigger) {
		free(p->fail_reason);
		p->fail_reason = xprintf("process %d asked to be restarted "
		    "(WATCHDOG=trigger)", (int)p->pid);
		watcher_process_unhealthy(w, p);
		return;
	}
	watcher_progress(w);
}

size_t
watcher_ready_count(const struct watcher *w)
{
	const struct process *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state == PROCESS_RUNNING && p->ready &&
		    !p->notified_stopping)
			n++;
	return n;
}

size_t
watcher_unready_count(const struct watcher *w)
{
	const struct process *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state == PROCESS_RUNNING && !p->ready)
			n++;
	return n;
}

/* Create one process and put it in the table; NULL after logging. */
static struct process *
watcher_spawn_process(struct watcher *w)
{
	struct process *p;
	char *cause = NULL;
	double age;

	p = w->env->spawn(w, watcher_next_wid(w), watcher_process_exited,
	    &cause);
	if (p == NULL) {
		free(w->spawn_error);
		w->spawn_error = xprintf("error in '%s': %s", w->name,
		    cause != NULL ? cause : "spawn failed");
		log_errorx("%s", w->spawn_error);
		free(cause);
		w->spawn_failures++;
		return NULL;
	}
	w->spawn_failures = 0;
	free(w->spawn_error);
	w->spawn_error = NULL;
	w->last_spawn = w->env->now(w, false);
	TAILQ_INSERT_TAIL(&w->processes, p, entry);
	w->nprocesses++;
	watcher_readiness_begin(w, p);
	if (w->cfg->max_age > 0) {
		age = w->cfg->max_age;
		if (w->cfg->max_age_variance > 0)
			age += arc4random_uniform(
			    (uint32_t)w->cfg->max_age_variance + 1);
		ev_timer_init(&p->age_timer, watcher_age_cb, 0., 0.);
		w->env->timer_start(w, &p->age_timer, age);
	}
	return p;
}

/* Give up after max_retry spawn failures: the watcher stops. */
static void
watcher_give_up(struct watcher *w)
{
	struct watcher_op *op;

	free(w->gave_up_reason);
	w->gave_up_reason = xprintf("could not spawn a process after "
	    "%d attempts (%s)", w->spawn_failures, w->spawn_error != NULL ?
	    w->spawn_error : "spawn failed");
	log_errorx("%s: %s, stopping the watcher", w->name, w->gave_up_reason);
	w->gave_up = true;
	w->spawn_failures = 0;
	if (w->state == WATCHER_ACTIVE) {
		op = watcher_op_new(WOP_STOP, NULL, NULL);
		watcher_queue(w, op);
	}
}

/* A spawn hook said no: no more spawns, the watcher stops (a start
 * stops itself, see watcher_start_finish). */
static void
watcher_spawn_vetoed(struct watcher *w, const char *hook)
{
	free(w->gave_up_reason);
	w->gave_up_reason = xprintf("the %s hook refused the spawn", hook);
	log_warnx("%s: %s, stopping the watcher", w->name, w->gave_up_reason);
	w->gave_up = true;
	w->vetoed = true;
	if (w->state == WATCHER_ACTIVE)
		watcher_queue(w, watcher_op_new(WOP_STOP, NULL, NULL));
}

/* After a failed spawn: give up after max_retry (true), else retry
 * later, yielding to the loop (never spin). */
static bool
watcher_spawn_retry(struct watcher *w)
{
	double retry;

	if (w->cfg->max_retry >= 0 && w->spawn_failures > w->cfg->max_retry) {
		watcher_give_up(w);
		return true;
	}
	retry = w->arbiter->cfg->circus.backoff_min_s * w->spawn_failures;
	if (retry > 1.0)
		retry = 1.0;
	w->backoff_until = w->env->now(w, false) + retry;
	return false;
}

/* A spawn whose hooks ran is over (from the loop): go on from where it
 * was asked, the spawn loop, then the running operation. */
static void
watcher_spawn_end(struct watcher *w, int result)
{
	w->spawning = false;
	if (w->spawn_from_some) {
		w->spawn_from_some = false;
		if (result == SPAWN_FAILED)
			(void)watcher_spawn_retry(w);
	}
	watcher_spawn_some(w);
	watcher_progress(w);
}

/* after_spawn ran: publish spawn, or kill the refused process. */
static void
watcher_after_spawn_done(struct watcher *w, void *ctx, bool ok)
{
	struct process *p = ctx;

	if (!ok) {
		if (p->state == PROCESS_RUNNING)
			w->env->stop(p, w->cfg->stop_signal,
			    w->cfg->graceful_timeout, KILL_TRIM);
		else if (p->state == PROCESS_EXITED)
			p->kill_reason = KILL_TRIM;	/* no reap event */
		watcher_spawn_vetoed(w, "after_spawn");
	} else
		w->env->publish_pid(w->arbiter, w, "spawn", p->pid, p->started);
	/* an exit seen meanwhile is handled now, while spawning holds
	 * every operation that could free w */
	w->env->release(p);
	watcher_spawn_end(w, ok ? SPAWN_OK : SPAWN_VETOED);
}

/* Create the process, then after_spawn (asked only when configured). */
static int
watcher_spawn_create(struct watcher *w)
{
	struct process *p;

	if ((w->state != WATCHER_ACTIVE && w->state != WATCHER_STARTING) ||
	    w->arbiter->stopping)
		return SPAWN_NONE;
	if ((p = watcher_spawn_process(w)) == NULL)
		return SPAWN_FAILED;
	if (!w->env->hook_configured(w, "after_spawn")) {
		w->env->publish_pid(w->arbiter, w, "spawn", p->pid, p->started);
		return SPAWN_OK;
	}
	w->env->hold(p);
	w->env->hook_run(w, "after_spawn", json_pack("{s:i}", "pid",
	    (int)p->pid), watcher_after_spawn_done, p);
	return SPAWN_PENDING;
}

/* before_spawn ran: create the process, then after_spawn. */
static void
watcher_before_spawn_done(struct watcher *w, UNUSED void *ctx, bool ok)
{
	int r;

	if ((w->state != WATCHER_ACTIVE && w->state != WATCHER_STARTING) ||
	    w->arbiter->stopping)
		r = SPAWN_NONE;
	else if (!ok) {
		watcher_spawn_vetoed(w, "before_spawn");
		r = SPAWN_VETOED;
	} else
		r = watcher_spawn_create(w);
	if (r != SPAWN_PENDING)
		watcher_spawn_end(w, r);
}

/* Spawn one process: before_spawn (not before a retry), create it,
 * after_spawn, then the spawn event (doc/design.md §3). A hook that is
 * not configured is not asked: without hooks this all happens now;
 * SPAWN_PENDING means a hook runs and watcher_spawn_end follows from
 * the loop. */
static int
watcher_spawn_one(struct watcher *w, bool retry)
{
	int r;

	w->spawning = true;
	if (!retry && w->env->hook_configured(w, "before_spawn")) {
		w->env->hook_run(w, "before_spawn", NULL,
		    watcher_before_spawn_done, NULL);
		return SPAWN_PENDING;
	}
	r = watcher_spawn_create(w);
	if (r != SPAWN_PENDING)
		w->spawning = false;
	return r;
}

/* Fill up to numprocesses, honouring warmup_delay and back-off. */
static void
watcher_spawn_some(struct watcher *w)
{
	ev_tstamp now, next, started;
	size_t target = watcher_target(w);
	int r;

	if (w->state != WATCHER_ACTIVE && w->state != WATCHER_STARTING)
		return;
	if (w->arbiter->stopping)
		return;
	/* one spawn at a time; a reap with hooks comes before the spawn */
	if (w->spawning || !TAILQ_EMPTY(&w->reaps))
		return;
	started = ev_time();
	while (watcher_active_count(w) < target && !w->gave_up) {
		/* Never block: after a slice of spawning, let the loop answer
		 * commands and reap, then go on (a 0 s timer runs after the
		 * next poll). */
		if (ev_time() - started > WATCHER_SPAWN_SLICE_S) {
			if (!w->env->timer_active(w, &w->spawn_timer))
				w->env->timer_start(w, &w->spawn_timer, 0.);
			return;
		}
		now = w->env->now(w, false);
		next = w->backoff_until;
		if (w->cfg->warmup_delay > 0 && w->last_spawn > 0 &&
		    w->last_spawn + w->cfg->warmup_delay > next)
			next = w->last_spawn + w->cfg->warmup_delay;
		if (next > now + 1e-4) {
			if (!w->env->timer_active(w, &w->spawn_timer))
				w->env->timer_start(w, &w->spawn_timer,
				    next - now);
			return;
		}
		r = watcher_spawn_one(w, w->spawn_failures > 0);
		if (r == SPAWN_PENDING) {
			w->spawn_from_some = true;
			return;
		}
		if (r == SPAWN_FAILED) {
			if (watcher_spawn_retry(w))
				return;
			continue;
		}
		if (r != SPAWN_OK)
			return;
		(void)w->env->now(w, true);
	}
}

/*
 * Refill after a death on the loop's next turn, never from inside the
 * reap (doc/design.md §5): libev reaps with waitpid() until no child is
 * left dead, within one turn of the loop, and a spawn made there hands it
 * a new child to reap. Workers that exit at once kept that pass reaping
 * and spawning for as long as they churned, and the control socket went
 * unread: `status` took 1.6 s (median) and up to 80 s. A 0 s timer runs
 * after the next poll, with the commands that came meanwhile.
 */
static void
watcher_refill_soon(struct watcher *w)
{
	if (!w->env->timer_active(w, &w->spawn_timer))
		w->env->timer_start(w, &w->spawn_timer, 0.);
}

/* Kill the oldest surplus processes (all but the newest target), the
 * newest of them first, as Circus orders them. */
static void
watcher_trim(struct watcher *w)
{
	struct process *p, **surplus;
	size_t active = watcher_active_count(w), target = watcher_target(w);
	size_t n = 0, i;

	if (active <= target)
		return;
	surplus = xcalloc(active - target, sizeof *surplus);
	TAILQ_FOREACH(p, &w->processes, entry) {
		if (n == active - target)
			break;
		if (p->state == PROCESS_RUNNING)
			surplus[n++] = p;
	}
	for (i = n; i > 0; i--)
		w->env->stop(surplus[i - 1], w->cfg->stop_signal,
		    w->cfg->graceful_timeout, KILL_TRIM);
	free(surplus);
}

/* Spawn missing / trim surplus now. */
void
watcher_manage(struct watcher *w)
{
	if (w->state != WATCHER_ACTIVE)
		return;
	if (w->rolling_op != NULL)
		return;		/* the roll keeps the count; fills at its end */
	watcher_trim(w);
	watcher_spawn_some(w);
}

/* Change numprocesses (incr/decr/reloadconfig) and apply it. */
void
watcher_set_numprocesses(struct watcher *w, int n)
{
	w->cfg->numprocesses = n < 0 ? 0 : n;
	watcher_manage(w);
}

/* "process 12 exited with code 1 after 0.010s" or "... was killed by
 * signal 9 (SIGKILL) ...". Caller frees. */
static char *
watcher_exit_text(const struct process *p, double lived)
{
	const char *sig;

	if (p->exit_code < 0) {
		sig = util_signal_name(-p->exit_code);
		return xprintf("process %d was killed by signal %d (SIG%s) "
		    "after %.3fs", (int)p->pid, -p->exit_code,
		    sig != NULL ? sig : "?", lived);
	}
	return xprintf("process %d exited with code %d after %.3fs",
	    (int)p->pid, p->exit_code, lived);
}

/* Why a new process failed, with its last stderr lines when a stream
 * captured them (doc/design.md §18). Caller frees. */
static char *
watcher_failure_text(struct watcher *w, const struct process *p)
{
	char *exit, *text;

	exit = watcher_exit_text(p, w->env->now(w, false) -
	    p->started_mono);
	if (p->err_tail == NULL)
		return exit;
	text = xprintf("%s; last stderr: %s", exit, p->err_tail);
	free(exit);
	return text;
}

/* Record a death for the crash back-off (doc/design.md §5). */
static void
watcher_account_death(struct watcher *w, struct process *p)
{
	const struct circus_cfg *c = &w->arbiter->cfg->circus;
	ev_tstamp now = w->env->now(w, false);
	double lived = now - p->started_mono, delay;

	/* a long life resets the count; a process that never became ready
	 * (readiness timeout) was never healthy, however long it took */
	if (lived >= c->backoff_reset_s && p->ready) {
		w->crashes = 0;
		w->backoff_s = 0;
		w->backoff_until = 0;
		free(w->backoff_reason);
		w->backoff_reason = NULL;
		return;
	}
	w->crashes++;
	if (w->crashes <= 1)
		delay = 0;
	else
		delay = c->backoff_min_s * pow(c->backoff_factor,
		    w->crashes - 2);
	if (delay > c->backoff_max_s)
		delay = c->backoff_max_s;
	w->backoff_s = delay;
	w->backoff_until = now + delay;
	free(w->backoff_reason);
	w->backoff_reason = watcher_exit_text(p, lived);
	if (delay > 0)
		log_warnx("%s: %d quick deaths in a row, next spawn in %.2fs",
		    w->name, w->crashes, delay);
}

/* Why the watcher stopped by itself, or NULL. */
const char *
watcher_gave_up_reason(const struct watcher *w)
{
	return w->state == WATCHER_STOPPED ? w->gave_up_reason : NULL;
}

/* Back-off state for status/stats. */
json_t *
watcher_backoff_json(const struct watcher *w)
{
	ev_tstamp now = w->env->now(w, false);

	if (w->backoff_s <= 0 && w->crashes == 0)
		return NULL;
	return json_pack("{s:f, s:i, s:f, s:s?}", "delay", w->backoff_s,
	    "crashes", w->crashes, "next_spawn_in",
	    w->backoff_until > now ? w->backoff_until - now : 0.0, "reason",
	    w->backoff_reason);
}

/* Publish reap for a process (and log it). */
static void
watcher_publish_reap(struct watcher *w, pid_t pid, int exit_code)
{
	json_t *body;

	body = json_pack("{s:i, s:f, s:i}", "process_pid", (int)pid, "time",
	    util_wallclock(), "exit_code", exit_code);
	w->env->publish(w->arbiter, w, "reap", body);
}

/* What follows a death once reaped: respawn or stop (doc/design.md §5). */
static void
watcher_after_death(struct watcher *w, enum process_kill_reason reason,
    bool later)
{
	if (reason == KILL_NONE && w->state == WATCHER_ACTIVE) {
		if (!w->cfg->respawn) {
			/* As Circus: the watcher stays active, even with no
			 * process left; start/restart bring them back. */
			if (w->nprocesses == 0 && w->cfg->on_demand)
				watcher_set_state(w, WATCHER_STOPPED);
		} else if (w->cfg->on_demand && w->nprocesses == 0 &&
		    !w->socket_event) {
			watcher_set_state(w, WATCHER_STOPPED);
		} else if (w->rolling_op == NULL)
			watcher_refill_soon(w);	/* a roll fills at its end */
	} else if (later && w->state == WATCHER_STARTING)
		watcher_refill_soon(w);	/* held back by the reap */
	else if (reason == KILL_NONE && w->state == WATCHER_STARTING &&
	    w->cfg->respawn)
		watcher_refill_soon(w);	/* died while the start waited */
}

/* Publish the reload event and log. */
static void
watcher_reloaded(struct watcher *w)
{
	w->env->publish(w->arbiter, w, "reload",
	    json_pack("{s:f}", "time", util_wallclock()));
	log_info("%s reloaded", w->name);
}

/* Result {"info": {...}} for restart/reload with stopped/started/kept. */
static json_t *
watcher_full_info(struct watcher *w, struct watcher_op *op)
{
	struct pidset *after = watcher_pidset(w);
	json_t *info;

	info = watcher_info(op->before, after, true);
	pidset_free(after);
	return json_pack("{s:o}", "info", info);
}

/* after_reap ran: the reap is over, go on. */
static void
watcher_after_reap_done(struct watcher *w, void *ctx, UNUSED bool ok)
{
	struct process *p = ctx;
	enum process_kill_reason reason = p->kill_reason;

	TAILQ_REMOVE(&w->reaps, p, entry);
	w->env->free(p);
	if (reason != KILL_STOP)
		watcher_after_death(w, reason, true);
	watcher_progress(w);
}

/* before_reap ran (or is not configured): the reap event, then
 * after_reap. */
static void
watcher_before_reap_done(struct watcher *w, void *ctx, UNUSED bool ok)
{
	struct process *p = ctx;

	watcher_publish_reap(w, p->pid, p->exit_code);
	if (!w->env->hook_configured(w, "after_reap")) {
		watcher_after_reap_done(w, p, true);
		return;
	}
	w->env->hook_run(w, "after_reap", json_pack("{s:i, s:f, s:i, s:n}",
	    "process_pid", (int)p->pid, "time", util_wallclock(), "exit_code",
	    p->exit_code, "process_status"), watcher_after_reap_done, p);
}

/* Reap a process out of the table (doc/design.md §6) and free it:
 * before_reap, the reap event, after_reap. True when done now; false
 * when its hooks run (it waits in w->reaps, then watcher_after_reap_done
 * goes on). A hook that is not configured is not asked. */
static bool
watcher_reap(struct watcher *w, struct process *p,
    enum process_kill_reason reason)
{
	if (!w->env->hook_configured(w, "before_reap") &&
	    !w->env->hook_configured(w, "after_reap")) {
		watcher_publish_reap(w, p->pid, p->exit_code);
		w->env->free(p);
		return true;
	}
	p->kill_reason = reason;
	TAILQ_INSERT_TAIL(&w->reaps, p, entry);
	if (!w->env->hook_configured(w, "before_reap")) {
		watcher_before_reap_done(w, p, true);
		return false;
	}
	w->env->hook_run(w, "before_reap", json_pack("{s:i, s:f}",
	    "process_pid", (int)p->pid, "time", util_wallclock()),
	    watcher_before_reap_done, p);
	return false;
}

/* A child exited: decide its fate and the watcher's. */
static void
watcher_process_exited(struct watcher *w, struct process *p)
{
	enum process_kill_reason reason = p->kill_reason;
	char *text;
	bool now;

	log_debug("%s: process %d exited with %d", w->name, (int)p->pid,
	    p->exit_code);
	TAILQ_REMOVE(&w->processes, p, entry);
	w->nprocesses--;
	if (w->rolling_op != NULL && p->generation >= w->rolling_op->roll_gen &&
	    reason == KILL_NONE && w->rolling_op->roll_error == NULL)
		w->rolling_op->roll_error = watcher_failure_text(w, p);
	if (w->nretired > 0)
		watcher_free_retired(w, false);
	if (reason == KILL_STOP || w->state == WATCHER_STOPPING) {
		TAILQ_INSERT_TAIL(&w->dead, p, entry);
		watcher_progress(w);
		return;
	}
	if (reason == KILL_TRIM) {
		w->env->free(p);
		/* max_age's replacement: on the next turn, as a respawn */
		if (w->state == WATCHER_ACTIVE && w->rolling_op == NULL)
			watcher_refill_soon(w);
		watcher_progress(w);
		return;
	}
	/* It died on its own, or for a sequential reload. */
	if (reason == KILL_NONE) {
		text = watcher_exit_text(p, w->env->now(w, false) -
		    p->started_mono);
		log_warnx("%s: %s", w->name, text);
		free(text);
		/* a new process of a rolling replace makes it roll back
		 * instead: not a crash of the running release */
		if (w->rolling_op == NULL ||
		    p->generation < w->rolling_op->roll_gen)
			watcher_account_death(w, p);
	}
	now = watcher_reap(w, p, reason);
	if (!now)
		return;
	watcher_after_death(w, reason, false);
	watcher_progress(w);
}

/* Begin stopping (doc/design.md §8): status stopping, before_stop. */
static void
watcher_stop_begin(struct watcher *w, struct watcher_op *op)
{
	w->env->timer_stop(w, &w->spawn_timer);
	watcher_set_state(w, WATCHER_STOPPING);
	watcher_op_hook(w, op, PH_STOP_HOOK, "before_stop");
}

/* Every process gets the stop signal, once no spawn waits for hooks. */
static bool
watcher_stop_kill(struct watcher *w, struct watcher_op *op)
{
	struct process *p, *tp;

	if (w->spawning)
		return false;
	TAILQ_FOREACH_SAFE(p, &w->processes, entry, tp)
		w->env->stop(p, w->cfg->stop_signal, w->cfg->graceful_timeout,
		    KILL_STOP);
	op->phase = PH_STOP_WAIT;
	return true;
}

/* Finish a stop once every process is gone: reaps, stop event, then
 * after_stop. False while waiting. */
static bool
watcher_stop_finish(struct watcher *w, struct watcher_op *op)
{
	struct process *p;
	bool now;

	if (w->nprocesses > 0)
		return false;
	while ((p = TAILQ_FIRST(&w->dead)) != NULL) {
		if (!TAILQ_EMPTY(&w->reaps))
			return false;
		TAILQ_REMOVE(&w->dead, p, entry);
		now = watcher_reap(w, p, KILL_STOP);
		if (!now)
			return false;
	}
	if (!TAILQ_EMPTY(&w->reaps))
		return false;
	if (op->close_streams || op->abort_start)
		watcher_close_streams(w);
	watcher_set_state(w, WATCHER_STOPPED);
	w->env->publish(w->arbiter, w, "stop",
	    json_pack("{s:f}", "time", util_wallclock()));
	log_info("%s stopped", w->name);
	w->crashes = 0;
	w->backoff_s = 0;
	w->backoff_until = 0;
	watcher_op_hook(w, op, PH_STOP_AFTER, "after_stop");
	return true;
}

/* Begin a start (doc/design.md §7). False if it is skipped
 * (on_demand); a stopped watcher asks before_start first. */
static bool
watcher_start_begin(struct watcher *w, struct watcher_op *op)
{
	op->phase = PH_START_WAIT;
	if (w->cfg->on_demand && !w->socket_event)
		return false;
	if (w->state != WATCHER_STOPPED) {
		if (op->type == WOP_START && op->before == NULL)
			op->before = watcher_pidset(w);
		watcher_manage(w);
		return true;
	}
	if (op->type == WOP_START && op->before == NULL)
		op->before = pidset_new();
	watcher_op_hook(w, op, PH_START_HOOK, "before_start");
	return true;
}

/* before_start said yes: status starting, streams, spawns. False if
 * the streams cannot be opened. */
static bool
watcher_start_spawn(struct watcher *w, struct watcher_op *op)
{
	char *cause = NULL;

	op->phase = PH_START_WAIT;
	if (watcher_open_streams(w, &cause) == -1) {
		log_errorx("%s", cause);	/* it names the watcher */
		watcher_close_streams(w);	/* the one that did open */
		free(op->error);
		op->error = cause;		/* the reply's reason */
		return false;
	}
	w->gave_up = false;
	w->vetoed = false;
	free(w->gave_up_reason);
	w->gave_up_reason = NULL;
	free(w->client_stop_reason);
	w->client_stop_reason = NULL;
	w->spawn_failures = 0;
	w->backoff_until = 0;
	w->last_spawn = 0;
	watcher_set_state(w, WATCHER_STARTING);
	watcher_spawn_some(w);
	return true;
}

/* A start that did not happen: complete with nothing started. */
static void
watcher_start_skipped(struct watcher *w, struct watcher_op *op)
{
	json_t *info;

	if (op->type == WOP_RESTART || op->type == WOP_RELOAD) {
		watcher_op_done(w, watcher_full_info(w, op), 0);
		return;
	}
	info = watcher_info(op->before, op->before, false);
	watcher_op_done(w, json_pack("{s:o}", "info", info), 0);
}

/* The start is over: complete the operation with its result. */
static void
watcher_start_complete(struct watcher *w, struct watcher_op *op)
{
	struct pidset *after;
	json_t *info;

	if (op->type == WOP_RESTART || op->type == WOP_RELOAD) {
		if (op->type == WOP_RELOAD)
			watcher_reloaded(w);
		watcher_op_done(w, watcher_full_info(w, op), 0);
		return;
	}
	after = watcher_pidset(w);
	info = watcher_info(op->before, after, false);
	pidset_free(after);
	watcher_op_done(w, json_pack("{s:o}", "info", info), 0);
}

/* Is a stop queued behind the running operation? */
static bool
watcher_stop_queued(const struct watcher *w)
{
	const struct watcher_op *op;

	TAILQ_FOREACH(op, &w->ops, entry)
		if (op != TAILQ_FIRST(&w->ops) && op->type == WOP_STOP)
			return true;
	return false;
}

/* PH_START_WAIT: where a start stands once it spawned (doc/design.md
 * §7). */
static bool
watcher_start_finish(struct watcher *w, struct watcher_op *op)
{
	if (w->state != WATCHER_STARTING) {
		watcher_start_complete(w, op);
		return false;
	}
	/* a spawn or a reap still waits for its hooks */
	if (w->spawning || !TAILQ_EMPTY(&w->reaps))
		return false;
	/* no spawn happens while the arbiter stops: do not wait for one */
	/* With unlimited retries a start ends after the first failed round:
	 * the watcher goes on retrying (with back-off) while active, instead
	 * of holding its queue forever as Circus does. */
	if (!w->gave_up && !w->arbiter->stopping &&
	    watcher_active_count(w) < watcher_target(w) &&
	    !(w->cfg->max_retry < 0 && w->spawn_failures > 0))
		return false;
	/* with readiness, until each is ready or one of them died, or a
	 * stop is waiting */
	if (!w->gave_up && !w->arbiter->stopping && w->crashes == 0 &&
	    watcher_unready_count(w) > 0 && !watcher_stop_queued(w))
		return false;
	if (w->vetoed) {
		/* a spawn hook said no: the start stops the watcher */
		op->abort_start = true;
		watcher_stop_begin(w, op);
		return true;
	}
	if (w->nprocesses == 0 && (w->gave_up || w->spawn_failures == 0 ||
	    w->arbiter->stopping)) {
		watcher_close_streams(w);
		watcher_set_state(w, WATCHER_STOPPED);
		if (w->gave_up)
			w->env->publish(w->arbiter, w, "stop",
			    json_pack("{s:f}", "time", util_wallclock()));
		watcher_start_complete(w, op);
		return false;
	}
	watcher_op_hook(w, op, PH_START_AFTER, "after_start");
	return true;
}

/* Sequential reload: next process, or finish. */
static void
watcher_seq_next(struct watcher *w, struct watcher_op *op)
{
	struct process *p;

	while (op->seq_index < op->seq_npids) {
		p = watcher_find_process(w, op->seq_pids[op->seq_index++]);
		if (p == NULL || p->state != PROCESS_RUNNING)
			continue;
		op->seq_current = p;
		op->phase = PH_SEQ_WAIT;
		w->env->stop(p, w->cfg->stop_signal, w->cfg->graceful_timeout,
		    KILL_SEQUENTIAL);
		return;
	}
	op->seq_current = NULL;
	watcher_reloaded(w);
	watcher_op_done(w, watcher_full_info(w, op), 0);
}

/* ---- rolling replace (doc/design.md §18) ----
 *
 * A restart or reload of a watcher with readiness replaces its processes
 * in batches of `rolling`: spawn the batch (PH_ROLL_SPAWN), wait until
 * each new process sent READY=1 (PH_ROLL_READY), stop as many old ones
 * and wait until they are gone (PH_ROLL_DRAIN), next batch. The number
 * of ready processes never drops below what it was. A new process that
 * fails (exits, misses readiness_timeout or its watchdog, cannot be
 * spawned) makes it roll back (PH_ROLL_BACK): the batch's new processes
 * are stopped, every old one still running is kept, and the operation
 * fails with the reason.
 */

/* Does this restart/reload replace processes in rolling batches? */
static bool
watcher_can_roll(const struct watcher *w, const struct watcher_op *op)
{
	if (w->cfg->readiness != READINESS_NOTIFY ||
	    w->state != WATCHER_ACTIVE || w->arbiter->stopping)
		return false;
	if (watcher_active_count(w) == 0 || watcher_target(w) == 0)
		return false;
	/* a graceful reload with send_hup signals, it does not replace */
	return !(op->type == WOP_RELOAD && op->graceful &&
	    w->cfg->send_hup && !op->replace);
}

/* Old (before the roll) processes: running, or on their way out. */
static size_t
watcher_roll_old(const struct watcher *w, unsigned gen, bool running)
{
	const struct process *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &w->processes, entry) {
		if (p->generation >= gen)
			continue;
		if ((p->state == PROCESS_RUNNING) == running)
			n++;
	}
	return n;
}

/* New processes not ready yet (running) or on their way out. */
static size_t
watcher_roll_new(const struct watcher *w, unsigned gen, bool running)
{
	const struct process *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &w->processes, entry) {
		if (p->generation < gen)
			continue;
		if (running ? p->state == PROCESS_RUNNING && !p->ready :
		    p->state != PROCESS_RUNNING)
			n++;
	}
	return n;
}

/* Begin: the processes there now are the old ones. */
static void
watcher_roll_begin(struct watcher *w, struct watcher_op *op)
{
	op->roll_gen = ++w->generation;
	op->roll_total = (int)watcher_roll_old(w, op->roll_gen, true);
	op->roll_replaced = 0;
	op->roll_batch = 0;
	op->phase = PH_ROLL_SPAWN;
	w->rolling_op = op;
	w->spawn_failures = 0;
	log_info("%s: rolling replace of %d processes, %d at a time",
	    w->name, op->roll_total, w->cfg->rolling > 1 ? w->cfg->rolling : 1);
}

/* Every old process was replaced: complete the operation. */
static void
watcher_roll_end(struct watcher *w, struct watcher_op *op)
{
	w->rolling_op = NULL;
	free(w->last_rollback);
	w->last_rollback = NULL;
	log_info("%s: rolling replace done (%d processes)", w->name,
	    op->roll_replaced);
	watcher_manage(w);		/* what died meanwhile */
	if (op->type == WOP_RELOAD)
		watcher_reloaded(w);
	watcher_op_done(w, watcher_full_info(w, op), 0);
}

/* PH_ROLL_SPAWN: the batch's new processes. True: evaluate again. */
static bool
watcher_roll_spawn(struct watcher *w, struct watcher_op *op)
{
	size_t old;
	int k;

	if (w->spawning)
		return false;
	if (op->roll_error == NULL && w->spawn_failures > 0)
		op->roll_error = xstrdup(w->spawn_error != NULL ?
		    w->spawn_error : "spawn failed");
	if (op->roll_error == NULL && w->vetoed)
		op->roll_error = xstrdup(w->gave_up_reason != NULL ?
		    w->gave_up_reason : "a spawn hook said no");
	if (op->roll_error == NULL && w->arbiter->stopping)
		op->roll_error = xstrdup("the daemon is stopping");
	if (op->roll_error != NULL) {
		op->phase = PH_ROLL_BACK;
		return true;
	}
	old = watcher_roll_old(w, op->roll_gen, true);
	if (old == 0) {
		watcher_roll_end(w, op);
		return false;
	}
	k = w->cfg->rolling > 1 ? w->cfg->rolling : 1;
	if ((size_t)k > old)
		k = (int)old;
	while (op->roll_batch < k) {
		op->roll_batch++;
		if (watcher_spawn_one(w, false) == SPAWN_PENDING)
			return false;
		if (w->spawn_failures > 0 || w->vetoed)
			return true;	/* reported above, next turn */
	}
	op->phase = PH_ROLL_READY;
	return true;
}

/* PH_ROLL_READY: once the batch is ready, stop as many old ones. */
static bool
watcher_roll_ready(struct watcher *w, struct watcher_op *op)
{
	struct process *p, *tp;
	int k = op->roll_batch;

	if (op->roll_error != NULL) {
		op->phase = PH_ROLL_BACK;
		return true;
	}
	if (w->spawning || watcher_roll_new(w, op->roll_gen, true) > 0)
		return false;
	TAILQ_FOREACH_SAFE(p, &w->processes, entry, tp) {
		if (k == 0)
			break;
		if (p->generation >= op->roll_gen ||
		    p->state != PROCESS_RUNNING)
			continue;
		w->env->stop(p, w->cfg->stop_signal, w->cfg->graceful_timeout,
		    KILL_TRIM);
		k--;
		op->roll_replaced++;
	}
	w->env->publish(w->arbiter, w, "rolling", json_pack("{s:i, s:i, s:f}",
	    "replaced", op->roll_replaced, "total", op->roll_total, "time",
	    util_wallclock()));
	op->phase = PH_ROLL_DRAIN;
	return true;
}

/* PH_ROLL_DRAIN: the old ones of the batch are gone: next batch. */
static bool
watcher_roll_drain(struct watcher *w, struct watcher_op *op)
{
	if (op->roll_error != NULL) {
		op->phase = PH_ROLL_BACK;
		return true;
	}
	if (watcher_roll_old(w, op->roll_gen, false) > 0)
		return false;
	op->roll_batch = 0;
	op->phase = PH_ROLL_SPAWN;
	return true;
}

/* PH_ROLL_BACK: stop the new processes that are not (or no longer)
 * healthy, keep the rest, fail the operation with the reason. */
static void
watcher_roll_back(struct watcher *w, struct watcher_op *op)
{
	struct process *p, *tp;

	if (!op->roll_back_begun) {
		op->roll_back_begun = true;
		log_errorx("%s: rolling back: %s", w->name, op->roll_error);
		TAILQ_FOREACH_SAFE(p, &w->processes, entry, tp) {
			if (p->generation < op->roll_gen ||
			    p->state != PROCESS_RUNNING)
				continue;
			if (p->ready && p->fail_reason == NULL)
				continue;	/* an earlier batch: healthy */
			w->env->stop(p, w->cfg->stop_signal,
			    w->cfg->graceful_timeout, KILL_TRIM);
		}
	}
	if (w->spawning || watcher_roll_new(w, op->roll_gen, false) > 0)
		return;
	w->rolling_op = NULL;
	free(w->last_rollback);
	w->last_rollback = xprintf("%s (%d of %d processes replaced before)",
	    op->roll_error, op->roll_replaced, op->roll_total);
	w->env->publish(w->arbiter, w, "rollback", json_pack(
	    "{s:s, s:i, s:i, s:f}", "reason", op->roll_error, "replaced",
	    op->roll_replaced, "total", op->roll_total, "time",
	    util_wallclock()));
	free(op->error);
	op->error = xprintf("rolled back: %s", w->last_rollback);
	w->spawn_failures = 0;
	watcher_manage(w);		/* what died meanwhile */
	watcher_op_done(w, NULL, 0);
}

/* ---- the operations as a table (doc/design.md §22) ----
 *
 * The running operation is where it stands: w->state and op->phase. Two
 * kinds of event reach it. Its own hook answered (before/after start and
 * stop): the `hook` column of the phase waiting for it takes the answer
 * and sets the next phase. Anything else happened (an exit, a timer, a
 * spawn over, READY=1, an operation queued): the `changed` column of the
 * phase looks at the watcher and says whether the phase changed (true:
 * look again) or it waits (false, also once the operation completed).
 * A phase with no `changed` waits for its hook. An operation begins
 * with the row of its type in watcher_op_begin[].
 */

/* PH_STOP_HOOK, PH_STOP_AFTER: the stop's hooks answered. */
static void
watcher_before_stop_answer(UNUSED struct watcher *w, struct watcher_op *op,
    UNUSED bool ok)
{
	op->phase = PH_STOP_KILL;	/* before_stop never vetoes */
}

static void
watcher_after_stop_answer(UNUSED struct watcher *w, struct watcher_op *op,
    UNUSED bool ok)
{
	op->phase = PH_STOP_DONE;
}

/* PH_STOP_DONE: the stop is over: complete, or start (restart). */
static bool
watcher_stop_done(struct watcher *w, struct watcher_op *op)
{
	if (op->abort_start) {
		op->abort_start = false;
		watcher_start_complete(w, op);
		return false;
	}
	if (op->type == WOP_RESTART) {
		op->phase = PH_START_BEGIN;
		return true;
	}
	watcher_op_done(w, json_pack("{s:n}", "info"), 0);
	return false;
}

/* PH_START_BEGIN */
static bool
watcher_start_begin_step(struct watcher *w, struct watcher_op *op)
{
	if (watcher_start_begin(w, op))
		return true;
	watcher_start_skipped(w, op);
	return false;
}

/* PH_START_HOOK: before_start answered. */
static void
watcher_before_start_answer(UNUSED struct watcher *w, struct watcher_op *op,
    bool ok)
{
	op->phase = ok ? PH_START_SPAWN : PH_START_SKIP;
}

/* PH_START_SPAWN: before_start said yes. */
static bool
watcher_start_spawn_step(struct watcher *w, struct watcher_op *op)
{
	if (watcher_start_spawn(w, op))
		return true;
	watcher_start_skipped(w, op);
	return false;
}

/* PH_START_SKIP: it said no. */
static bool
watcher_start_skip_step(struct watcher *w, struct watcher_op *op)
{
	watcher_start_skipped(w, op);
	return false;
}

/* PH_START_AFTER: after_start answered; a no stops, no start event. */
static void
watcher_after_start_answer(struct watcher *w, struct watcher_op *op, bool ok)
{
	if (ok) {
		op->phase = PH_START_ACTIVE;
		return;
	}
	op->abort_start = true;
	watcher_stop_begin(w, op);
}

/* PH_START_ACTIVE: the start succeeded. */
static bool
watcher_start_active(struct watcher *w, struct watcher_op *op)
{
	watcher_set_state(w, WATCHER_ACTIVE);
	log_info("%s started", w->name);
	w->env->publish(w->arbiter, w, "start",
	    json_pack("{s:f}", "time", util_wallclock()));
	watcher_start_complete(w, op);
	return false;
}

/* PH_RELOAD_SPAWN: a full new set back to back (then trim the old). */
static bool
watcher_reload_spawn(struct watcher *w, struct watcher_op *op)
{
	ev_tstamp slice;

	if (w->spawning)
		return false;
	slice = ev_time();
	while (op->nspawned < watcher_target(w) && !w->vetoed) {
		if (ev_time() - slice > WATCHER_SPAWN_SLICE_S) {
			/* go on after the loop had its turn */
			if (!w->env->timer_active(w, &w->spawn_timer))
				w->env->timer_start(w, &w->spawn_timer, 0.);
			return false;
		}
		op->nspawned++;
		if (watcher_spawn_one(w, false) == SPAWN_PENDING)
			return false;
	}
	w->spawn_failures = 0;
	watcher_trim(w);
	op->phase = PH_RELOAD_TRIM;
	return true;
}

/* PH_RELOAD_TRIM: the old ones are gone. */
static bool
watcher_reload_trimmed(struct watcher *w, struct watcher_op *op)
{
	if (watcher_stopping_count(w) > 0)
		return false;
	watcher_reloaded(w);
	watcher_op_done(w, watcher_full_info(w, op), 0);
	return false;
}

/* PH_SEQ_WAIT: the process stopped is gone (and reaped): its
 * replacement. */
static bool
watcher_seq_wait(struct watcher *w, struct watcher_op *op)
{
	int r;

	/* by pid: once it exited, seq_current is freed */
	if (op->seq_current != NULL && op->seq_index > 0 &&
	    watcher_find_process(w, op->seq_pids[op->seq_index - 1]) != NULL)
		return false;
	if (!TAILQ_EMPTY(&w->reaps))
		return false;		/* its reap comes first */
	op->seq_current = NULL;
	op->phase = PH_SEQ_NEXT;
	r = w->vetoed ? SPAWN_NONE : watcher_spawn_one(w, false);
	if (w->cfg->warmup_delay > 0) {
		/* wait for the spawn timer to pace us */
		w->backoff_until = w->env->now(w, false) +
		    w->cfg->warmup_delay;
	}
	return r != SPAWN_PENDING;
}

/* PH_SEQ_NEXT: the replacement is there (and warmup_delay passed). */
static bool
watcher_seq_next_step(struct watcher *w, struct watcher_op *op)
{
	ev_tstamp now = w->env->now(w, false);

	if (w->spawning)
		return false;
	if (w->backoff_until > now + 1e-4) {
		if (!w->env->timer_active(w, &w->spawn_timer))
			w->env->timer_start(w, &w->spawn_timer,
			    w->backoff_until - now);
		return false;
	}
	watcher_seq_next(w, op);
	return false;
}

/* PH_SCALE_WAIT: numprocesses reached (or a spawn failed). */
static bool
watcher_scale_wait(struct watcher *w, UNUSED struct watcher_op *op)
{
	if (w->spawning && w->state == WATCHER_ACTIVE)
		return false;		/* its spawn event comes first */
	/* a failed spawn ends the wait (it retries alone) */
	if (w->state == WATCHER_ACTIVE && !w->gave_up &&
	    !w->arbiter->stopping && w->spawn_failures == 0 &&
	    (watcher_active_count(w) != watcher_target(w) ||
	    watcher_stopping_count(w) > 0))
		return false;
	watcher_op_done(w, json_pack("{s:i}", "numprocesses",
	    w->cfg->numprocesses), 0);
	return false;
}

/* PH_KILL_WAIT: every process killed is gone. */
static bool
watcher_kill_wait(struct watcher *w, UNUSED struct watcher_op *op)
{
	if (watcher_stopping_count(w) > 0)
		return false;
	watcher_op_done(w, NULL, 0);
	return false;
}

/* PH_ROLL_BACK */
static bool
watcher_roll_back_step(struct watcher *w, struct watcher_op *op)
{
	watcher_roll_back(w, op);
	return false;
}

/* One row per phase: its name (the debug trace; `rolling` in status for
 * the PH_ROLL_ ones), what it does when something changed, what it does
 * with its hook's answer. */
static const struct {
	const char	*name;
	bool		(*changed)(struct watcher *, struct watcher_op *);
	void		(*hook)(struct watcher *, struct watcher_op *, bool ok);
} watcher_phases[PH_COUNT] = {
	[PH_NONE] =		{ "none", NULL, NULL },
	[PH_STOP_HOOK] =	{ "before_stop", NULL,
				  watcher_before_stop_answer },
	[PH_STOP_KILL] =	{ "stop signal", watcher_stop_kill, NULL },
	[PH_STOP_WAIT] =	{ "stopping", watcher_stop_finish, NULL },
	[PH_STOP_AFTER] =	{ "after_stop", NULL,
				  watcher_after_stop_answer },
	[PH_STOP_DONE] =	{ "stopped", watcher_stop_done, NULL },
	[PH_START_BEGIN] =	{ "start", watcher_start_begin_step, NULL },
	[PH_START_HOOK] =	{ "before_start", NULL,
				  watcher_before_start_answer },
	[PH_START_SPAWN] =	{ "spawn", watcher_start_spawn_step, NULL },
	[PH_START_SKIP] =	{ "start refused", watcher_start_skip_step,
				  NULL },
	[PH_START_WAIT] =	{ "starting", watcher_start_finish, NULL },
	[PH_START_AFTER] =	{ "after_start", NULL,
				  watcher_after_start_answer },
	[PH_START_ACTIVE] =	{ "started", watcher_start_active, NULL },
	[PH_RELOAD_SPAWN] =	{ "reload spawn", watcher_reload_spawn, NULL },
	[PH_RELOAD_TRIM] =	{ "reload trim", watcher_reload_trimmed,
				  NULL },
	[PH_SEQ_WAIT] =		{ "sequential stop", watcher_seq_wait, NULL },
	[PH_SEQ_NEXT] =		{ "sequential spawn", watcher_seq_next_step,
				  NULL },
	[PH_SCALE_WAIT] =	{ "scale", watcher_scale_wait, NULL },
	[PH_KILL_WAIT] =	{ "kill", watcher_kill_wait, NULL },
	[PH_ROLL_SPAWN] =	{ "spawning", watcher_roll_spawn, NULL },
	[PH_ROLL_READY] =	{ "waiting for ready", watcher_roll_ready,
				  NULL },
	[PH_ROLL_DRAIN] =	{ "stopping old", watcher_roll_drain, NULL },
	[PH_ROLL_BACK] =	{ "rolling back", watcher_roll_back_step,
				  NULL },
};

/* Something changed: let the running operation's phase look, again
 * while its phase changes. */
static void
watcher_progress(struct watcher *w)
{
	struct watcher_op *op;

	while ((op = TAILQ_FIRST(&w->ops)) != NULL && w->op_running &&
	    watcher_phases[op->phase].changed != NULL) {
		if (!watcher_phases[op->phase].changed(w, op))
			return;
		log_debug("%s: operation phase %s", w->name,
		    watcher_phases[op->phase].name);
	}
}

/* The running operation's own hook answered. */
static void
watcher_op_hook_done(struct watcher *w, UNUSED void *ctx, bool ok)
{
	struct watcher_op *op = TAILQ_FIRST(&w->ops);

	if (op == NULL || watcher_phases[op->phase].hook == NULL)
		return;		/* not waiting for one */
	watcher_phases[op->phase].hook(w, op, ok);
	watcher_progress(w);
}

/* Ask one of the operation's own hooks and wait in `phase` for its
 * answer. One that is not configured is not run: its answer (yes) is
 * taken at once, and the caller looks at the next phase. */
static void
watcher_op_hook(struct watcher *w, struct watcher_op *op,
    enum watcher_phase phase, const char *hook)
{
	op->phase = phase;
	if (!w->env->hook_configured(w, hook)) {
		watcher_phases[phase].hook(w, op, true);
		return;
	}
	w->env->hook_run(w, hook, NULL, watcher_op_hook_done, NULL);
}

/* Progress for status and the rolling event. */
json_t *
watcher_rolling_json(const struct watcher *w)
{
	const struct watcher_op *op = w->rolling_op;
	const char *phase = "rolling back";

	if (op == NULL)
		return NULL;
	if (op->phase == PH_ROLL_SPAWN || op->phase == PH_ROLL_READY ||
	    op->phase == PH_ROLL_DRAIN)
		phase = watcher_phases[op->phase].name;
	return json_pack("{s:i, s:i, s:s}", "replaced", op->roll_replaced,
	    "total", op->roll_total, "phase", phase);
}

/* ---- how each operation begins: false once it completed ---- */

static bool
watcher_begin_call(struct watcher *w, struct watcher_op *op)
{
	void (*call)(struct watcher *, void *) = op->call;

	call(w, op->ctx);
	op->done = NULL;
	watcher_op_done(w, NULL, 0);
	return false;
}

static bool
watcher_begin_stop(struct watcher *w, struct watcher_op *op)
{
	if (w->state == WATCHER_STOPPED) {
		watcher_op_done(w, json_pack("{s:n}", "info"), 0);
		return false;
	}
	watcher_stop_begin(w, op);
	return true;
}

static bool
watcher_begin_start(UNUSED struct watcher *w, struct watcher_op *op)
{
	op->phase = PH_START_BEGIN;
	return true;
}

/* Restart (and a reload that is not graceful): stop, then start. */
static bool
watcher_begin_restart(struct watcher *w, struct watcher_op *op)
{
	op->type = WOP_RESTART;
	if (op->before == NULL)
		op->before = watcher_pidset(w);
	if (watcher_can_roll(w, op)) {
		watcher_roll_begin(w, op);
		return true;
	}
	if (w->state == WATCHER_STOPPED) {
		op->phase = PH_START_BEGIN;
		return true;
	}
	watcher_stop_begin(w, op);
	return true;
}

/* Sequential reload: the running pids now, one at a time. */
static bool
watcher_begin_sequential(struct watcher *w, struct watcher_op *op)
{
	struct process *p;
	size_t i = 0;

	op->seq_pids = xcalloc(watcher_active_count(w) + 1,
	    sizeof *op->seq_pids);
	TAILQ_FOREACH(p, &w->processes, entry)
		if (p->state == PROCESS_RUNNING)
			op->seq_pids[i++] = p->pid;
	op->seq_npids = i;
	watcher_seq_next(w, op);
	return false;
}

static bool
watcher_begin_reload(struct watcher *w, struct watcher_op *op)
{
	struct process *p;

	op->before = watcher_pidset(w);
	if (watcher_can_roll(w, op)) {
		watcher_roll_begin(w, op);
		return true;
	}
	if (!op->graceful)
		return watcher_begin_restart(w, op);
	if (w->state == WATCHER_STOPPED) {
		op->phase = PH_START_BEGIN;
		return true;
	}
	if (w->cfg->send_hup && !op->replace) {
		TAILQ_FOREACH(p, &w->processes, entry)
			w->env->signal(p, SIGHUP);
		watcher_reloaded(w);
		watcher_op_done(w, watcher_full_info(w, op), 0);
		return false;
	}
	if (op->sequential)
		return watcher_begin_sequential(w, op);
	op->nspawned = 0;
	op->phase = PH_RELOAD_SPAWN;
	return true;
}

static bool
watcher_begin_scale(struct watcher *w, struct watcher_op *op)
{
	op->phase = PH_SCALE_WAIT;
	watcher_manage(w);
	return true;
}

static bool
watcher_begin_kill(struct watcher *w, struct watcher_op *op)
{
	struct process *p, *tp;

	op->phase = PH_KILL_WAIT;
	TAILQ_FOREACH_SAFE(p, &w->processes, entry, tp) {
		if (p->state != PROCESS_RUNNING)
			continue;
		if (op->pid != 0 && p->pid != op->pid)
			continue;
		w->env->stop(p, op->signum, op->timeout_s, KILL_TRIM);
	}
	return true;
}

static bool (*const watcher_op_begin[])(struct watcher *,
    struct watcher_op *) = {
	[WOP_START] = watcher_begin_start,
	[WOP_STOP] = watcher_begin_stop,
	[WOP_RESTART] = watcher_begin_restart,
	[WOP_RELOAD] = watcher_begin_reload,
	[WOP_SCALE] = watcher_begin_scale,
	[WOP_KILL] = watcher_begin_kill,
	[WOP_CALL] = watcher_begin_call,
};

/* Start running the operation at the head of the queue. */
static void
watcher_run_next(struct watcher *w)
{
	struct watcher_op *op = TAILQ_FIRST(&w->ops);

	if (op == NULL || w->op_running)
		return;
	w->op_running = true;
	if (watcher_op_begin[op->type](w, op))
		watcher_progress(w);
}

/* The signal command: plain, children, childpid or recursive. */
int
watcher_signal(struct watcher *w, int signum, pid_t pid, pid_t childpid,
    bool children, bool recursive, char **cause)
{
	struct process *p;
	pid_t *kids;
	size_t n, i;
	bool found;

	TAILQ_FOREACH(p, &w->processes, entry) {
		if (p->state == PROCESS_EXITED)
			continue;
		if (pid != 0 && p->pid != pid)
			continue;
		if (childpid != 0) {
			n = process_children(p->pid, &kids);
			found = false;
			for (i = 0; i < n; i++)
				if (kids[i] == childpid)
					found = true;
			free(kids);
			if (!found) {
				*cause = xprintf("process %d has no child %d",
				    (int)p->pid, (int)childpid);
				return -1;
			}
			kill(childpid, signum);
			continue;
		}
		if (children) {
			n = process_children(p->pid, &kids);
			for (i = 0; i < n; i++)
				kill(kids[i], signum);
			free(kids);
			continue;
		}
		/* Find the tree first: once the parent dies its children
		 * are reparented to us and no longer look like its tree. */
		kids = NULL;
		n = recursive ? process_descendants(p->pid, &kids) : 0;
		process_signal_command(p, signum, kids, n);
	}
	if (pid != 0 && (children || childpid != 0) &&
	    watcher_find_process(w, pid) == NULL) {
		*cause = xprintf("[Errno 3] No such process");
		return -1;
	}
	return 0;
}
