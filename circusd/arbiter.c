/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arbiter: watchers, sockets, signals and the arbiter-wide operations
 * (start all, stop all, reload all, quit, reloadconfig), each built as a
 * chain of per-watcher operations and callbacks, never as a loop that
 * waits.
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "circusd.h"
#include "log.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

/* A multi-watcher operation in flight. */
struct group_op {
	TAILQ_ENTRY(group_op)	  entry;	/* arbiter's groups */
	struct arbiter	 *arbiter;
	struct watcher	**list;
	size_t		  n;
	size_t		  i;
	size_t		  pending;
	int		  failed;
	bool		  close_streams;
	bool		  graceful;
	bool		  sequential;
	bool		  then_start;	/* restart several */
	ev_timer	  warmup;
	arbiter_done_cb	  done;
	void		 *ctx;
};

static void arbiter_start_next(struct group_op *);

static void arbiter_ondemand_arm(struct arbiter *);
static void arbiter_tick_cb(struct ev_loop *, ev_timer *, int);
static void arbiter_forget_watcher(struct watcher *);

/* A watcher entered STOPPED: what left its process groups is killed
 * (cgroup.c); an on_demand one waits for its sockets. */
static void
arbiter_watcher_stopped(struct watcher *w)
{
	cgroup_watcher_stopped(w);
	if (w->cfg->on_demand)
		arbiter_ondemand_arm(w->arbiter);
}

/* A NOTIFY_SOCKET datagram: to the process that sent it, if it is one of
 * ours (doc/design.md §18); anything else is dropped. */
static void
arbiter_notify_cb(void *ctx, pid_t sender, const struct notify_msg *m)
{
	struct arbiter *a = ctx;
	struct process *p;

	if ((p = arbiter_find_process(a, sender)) == NULL) {
		log_debug("notify: dropped a message from pid %d, not one of "
		    "ours", (int)sender);
		return;
	}
	watcher_process_notify(p->watcher, p, m);
}

/* Create the arbiter: sockets and watchers from the config (cfg is owned). */
struct arbiter *
arbiter_new(struct ev_loop *loop, struct config *cfg, const char *path,
    const struct arbiter_commands *commands, char **cause)
{
	struct arbiter *a;
	struct watcher *w;
	size_t i;
	json_t *not_run;
	char buf[4096];

	a = xcalloc(1, sizeof *a);
	a->loop = loop;
	a->watcher_stopped = arbiter_watcher_stopped;
	a->watcher_freed = arbiter_forget_watcher;
	a->commands = commands;
	/* the safety tick runs from arbiter_start if check_delay > 0, and
	 * reloadconfig may start or stop it later */
	ev_timer_init(&a->tick, arbiter_tick_cb, 0., 0.);
	a->tick.data = a;
	a->cfg = cfg;
	a->config_path = xstrdup(path);
	a->mcast_fd = -1;
	TAILQ_INIT(&a->watchers);
	TAILQ_INIT(&a->removed);
	TAILQ_INIT(&a->sockets);
	TAILQ_INIT(&a->parked);
	TAILQ_INIT(&a->groups);
	if (getcwd(buf, sizeof buf) != NULL)
		a->cwd = xstrdup(buf);
	for (i = 0; i < cfg->nsockets; i++) {
		struct csocket *s = csocket_new(socket_cfg_dup(cfg->sockets[i]));

		TAILQ_INSERT_TAIL(&a->sockets, s, entry);
	}
	for (i = 0; i < cfg->nwatchers; i++) {
		w = watcher_new(a, watcher_cfg_dup(cfg->watchers[i]), cause);
		if (w == NULL) {
			log_errorx("Failed to create watcher: %s", *cause);
			free(*cause);
			*cause = NULL;
			continue;
		}
		arbiter_add_watcher(a, w);
	}
	/* the readiness channel (doc/design.md §18): one datagram socket */
	if ((a->notify = notify_open(loop, arbiter_notify_cb, a,
	    &a->notify_error)) == NULL)
		log_warnx("%s: readiness = notify cannot work",
		    a->notify_error);
	not_run = config_not_run(cfg);
	for (i = 0; i < json_array_size(not_run); i++)
		log_warnx("%s", json_string_value(json_array_get(not_run, i)));
	json_decref(not_run);
	return a;
}

/* Find a watcher by name, case-insensitively. */
struct watcher *
arbiter_find_watcher(struct arbiter *a, const char *name)
{
	struct watcher *w;

	TAILQ_FOREACH(w, &a->watchers, entry)
		if (strcasecmp(w->name, name) == 0)
			return w;
	return NULL;
}

/* The process of that pid in any watcher (removed ones too), or NULL. */
struct process *
arbiter_find_process(struct arbiter *a, pid_t pid)
{
	struct watcher *w;
	struct process *p;

	TAILQ_FOREACH(w, &a->watchers, entry)
		if ((p = watcher_find_process(w, pid)) != NULL)
			return p;
	TAILQ_FOREACH(w, &a->removed, entry)
		if ((p = watcher_find_process(w, pid)) != NULL)
			return p;
	return NULL;
}

/* Append a watcher. */
void
arbiter_add_watcher(struct arbiter *a, struct watcher *w)
{
	w->order = a->next_order++;
	TAILQ_INSERT_TAIL(&a->watchers, w, entry);
	a->nwatchers++;
}

/* Unlink a watcher from the arbiter; it stays on the removed list until
 * its last operation is done (then watcher_free takes it off). */
void
arbiter_remove_watcher(struct arbiter *a, struct watcher *w)
{
	TAILQ_REMOVE(&a->watchers, w, entry);
	a->nwatchers--;
	w->removed = true;
	TAILQ_INSERT_TAIL(&a->removed, w, entry);
}

/* Priority order (descending unless *ascending), ties by load order. */
static int
arbiter_cmp(const void *x, const void *y, void *ascending)
{
	const struct watcher *a = *(struct watcher *const *)x;
	const struct watcher *b = *(struct watcher *const *)y;
	int d;

	d = a->cfg->priority - b->cfg->priority;
	if (d == 0)
		return a->order - b->order;
	return *(const bool *)ascending ? d : -d;
}

/* Sort a list of watchers by priority, ties by load order. */
static void
arbiter_sort(struct watcher **list, size_t n, bool ascending)
{
	qsort_r(list, n, sizeof *list, arbiter_cmp, &ascending);
}

/* Watchers sorted by priority. */
struct watcher **
arbiter_sorted(struct arbiter *a, bool ascending, size_t *n)
{
	struct watcher **list, *w;
	size_t i = 0;

	list = xcalloc(a->nwatchers + 1, sizeof *list);
	TAILQ_FOREACH(w, &a->watchers, entry)
		list[i++] = w;
	arbiter_sort(list, i, ascending);
	*n = i;
	return list;
}

/* Allocate a group operation over a copy of list. */
static struct group_op *
group_new(struct arbiter *a, struct watcher **list, size_t n,
    arbiter_done_cb done, void *ctx)
{
	struct group_op *g = xcalloc(1, sizeof *g);

	g->arbiter = a;
	g->list = xcalloc(n + 1, sizeof *g->list);
	memcpy(g->list, list, n * sizeof *list);
	g->n = n;
	g->done = done;
	g->ctx = ctx;
	TAILQ_INSERT_TAIL(&a->groups, g, entry);
	return g;
}

/* w is being freed (rm): drop it from every group operation in flight,
 * which would otherwise sort, start or reload it later. */
static void
arbiter_forget_watcher(struct watcher *w)
{
	struct arbiter *a = w->arbiter;
	struct group_op *g;
	size_t j, k;

	cgroup_watcher_free(w);
	TAILQ_FOREACH(g, &a->groups, entry) {
		for (j = k = 0; j < g->n; j++) {
			if (g->list[j] == w) {
				if (j < g->i)
					g->i--;
				continue;
			}
			g->list[k++] = g->list[j];
		}
		g->n = k;
		g->list[k] = NULL;
	}
}

/* Finish a group operation. */
static void
group_finish(struct group_op *g)
{
	TAILQ_REMOVE(&g->arbiter->groups, g, entry);
	ev_timer_stop(g->arbiter->loop, &g->warmup);
	if (g->done != NULL)
		g->done(g->arbiter, g->ctx, g->failed);
	free(g->list);
	free(g);
}

/* Warmup between sequential starts elapsed. */
static void
arbiter_warmup_cb(UNUSED struct ev_loop *loop, ev_timer *t, UNUSED int revents)
{
	struct group_op *g = container_of(t, struct group_op, warmup);

	arbiter_start_next(g);
}

/* One watcher of a sequential start finished. */
static void
arbiter_started_one(UNUSED struct watcher *w, void *ctx, json_t *result,
    int error)
{
	struct group_op *g = ctx;
	int delay = g->arbiter->cfg->circus.warmup_delay;

	(void)result;
	if (error)
		g->failed = 1;
	/* no warmup timer may outlive a stopping arbiter */
	if (delay > 0 && g->i < g->n && !g->arbiter->stopping) {
		ev_timer_init(&g->warmup, arbiter_warmup_cb, delay, 0.);
		ev_timer_start(g->arbiter->loop, &g->warmup);
	} else
		arbiter_start_next(g);
}

/* Start the next autostart watcher of the list. */
static void
arbiter_start_next(struct group_op *g)
{
	struct watcher *w;
	struct watcher_op *op;

	while (g->i < g->n) {
		w = g->list[g->i++];
		if (!w->cfg->autostart || w->removed)
			continue;
		op = watcher_op_new(WOP_START, arbiter_started_one, g);
		watcher_queue(w, op);
		return;
	}
	group_finish(g);
}

/* Start watchers in priority order (highest first), autostart only. */
void
arbiter_start_watchers(struct arbiter *a, struct watcher **list, size_t n,
    arbiter_done_cb done, void *ctx)
{
	struct group_op *g = group_new(a, list, n, done, ctx);

	arbiter_sort(g->list, g->n, false);
	arbiter_start_next(g);
}

/* One watcher of a concurrent stop finished. */
static void
arbiter_stopped_one(UNUSED struct watcher *w, void *ctx, json_t *result,
    int error)
{
	struct group_op *g = ctx;

	(void)result;
	if (error)
		g->failed = 1;
	if (--g->pending > 0)
		return;
	if (g->then_start) {
		g->then_start = false;
		g->i = 0;
		arbiter_sort(g->list, g->n, false);
		arbiter_start_next(g);
		return;
	}
	group_finish(g);
}

/* Issue stops lowest priority first; they run concurrently. */
static void
arbiter_stop_group(struct group_op *g)
{
	struct watcher_op *op;
	size_t i;

	arbiter_sort(g->list, g->n, true);
	g->pending = g->n + 1;
	for (i = 0; i < g->n; i++) {
		op = watcher_op_new(WOP_STOP, arbiter_stopped_one, g);
		op->close_streams = g->close_streams;
		watcher_queue(g->list[i], op);
	}
	arbiter_stopped_one(NULL, g, NULL, 0);
}

/* Stop a set of watchers concurrently. */
void
arbiter_stop_watchers(struct arbiter *a, struct watcher **list, size_t n,
    bool close_streams, arbiter_done_cb done, void *ctx)
{
	struct group_op *g = group_new(a, list, n, done, ctx);

	g->close_streams = close_streams;
	arbiter_stop_group(g);
}

/* Stop them all, then start (autostart ones) in priority order. */
void
arbiter_restart_watchers(struct arbiter *a, struct watcher **list, size_t n,
    arbiter_done_cb done, void *ctx)
{
	struct group_op *g = group_new(a, list, n, done, ctx);

	g->then_start = true;
	arbiter_stop_group(g);
}

static void arbiter_reload_next(struct group_op *);

/* One watcher of reload-all finished. */
static void
arbiter_reloaded_one(UNUSED struct watcher *w, void *ctx, json_t *result,
    int error)
{
	struct group_op *g = ctx;

	(void)result;
	if (error)
		g->failed = 1;
	arbiter_reload_next(g);
}

/* Reload the next watcher in priority order. */
static void
arbiter_reload_next(struct group_op *g)
{
	struct watcher_op *op;
	struct watcher *w;

	while (g->i < g->n) {
		w = g->list[g->i++];
		if (w->removed)
			continue;
		op = watcher_op_new(WOP_RELOAD, arbiter_reloaded_one, g);
		op->graceful = g->graceful;
		op->sequential = g->sequential;
		watcher_queue(w, op);
		return;
	}
	group_finish(g);
}

/* Reload every watcher, highest priority first, one after the other. */
void
arbiter_reload_all(struct arbiter *a, bool graceful, bool sequential,
    arbiter_done_cb done, void *ctx)
{
	struct watcher **list;
	struct group_op *g;
	size_t n;

	log_reopen();
	arbiter_reopen(a);
	if (a->stopping) {
		if (done != NULL)
			done(a, ctx, 0);
		return;
	}
	list = arbiter_sorted(a, false, &n);
	g = group_new(a, list, n, done, ctx);
	free(list);
	g->graceful = graceful;
	g->sequential = sequential;
	arbiter_reload_next(g);
}

/* Reopen stream files and the log (SIGUSR1). */
void
arbiter_reopen(struct arbiter *a)
{
	struct watcher *w;
	char *cause = NULL;

	log_reopen();
	TAILQ_FOREACH(w, &a->watchers, entry) {
		if (w->stdout_stream != NULL &&
		    stream_reopen(w->stdout_stream, &cause) == -1) {
			log_errorx("%s", cause);
			free(cause);
			cause = NULL;
		}
		if (w->stderr_stream != NULL &&
		    stream_reopen(w->stderr_stream, &cause) == -1) {
			log_errorx("%s", cause);
			free(cause);
			cause = NULL;
		}
	}
}

/* All watchers are stopped: let the loop end. */
static void
arbiter_quit_done(struct arbiter *a, void *ctx, int error)
{
	struct group_op *g = ctx;

	(void)error;
	(void)g;
	log_info("Arbiter exiting");
	a->done = true;
	ev_break(a->loop, EVBREAK_ALL);
}

/* Stop every watcher, then end the loop. */
void
arbiter_quit(struct arbiter *a, arbiter_done_cb done, void *ctx)
{
	struct watcher **list;
	size_t n;

	struct watcher *w;
	size_t nremoved = 0;

	a->stopping = true;
	ev_timer_stop(a->loop, &a->tick);
	list = arbiter_sorted(a, true, &n);
	/* rm'd watchers still stopping are waited for too: nothing may be
	 * left running behind a quit */
	TAILQ_FOREACH(w, &a->removed, entry)
		nremoved++;
	list = xreallocarray(list, n + nremoved + 1, sizeof *list);
	TAILQ_FOREACH(w, &a->removed, entry)
		list[n++] = w;
	arbiter_stop_watchers(a, list, n, true, done != NULL ? done :
	    arbiter_quit_done, ctx);
	free(list);
}

/* Safety-net tick: make sure every active watcher is at its count. */
static void
arbiter_tick_cb(UNUSED struct ev_loop *loop, ev_timer *t, UNUSED int revents)
{
	struct arbiter *a = t->data;
	struct watcher *w;

	if (a->stopping)
		return;
	TAILQ_FOREACH(w, &a->watchers, entry)
		if (!w->op_running)
			watcher_manage(w);
}

/* ---- [circus] options at reloadconfig (doc/design.md §12) ---- */

/* What applying a live option does besides storing it; -1 if it could
 * not be applied (the running value stays). */
static int
arbiter_live_check_delay(struct arbiter *a, const struct circus_cfg *n)
{
	ev_timer_stop(a->loop, &a->tick);
	if (n->check_delay > 0) {
		ev_timer_set(&a->tick, n->check_delay, n->check_delay);
		ev_timer_start(a->loop, &a->tick);
	}
	return 0;
}

static int
arbiter_live_umask(UNUSED struct arbiter *a, const struct circus_cfg *n)
{
	if (n->umask >= 0)
		umask((mode_t)n->umask);
	return 0;
}

static int
arbiter_live_loglevel(UNUSED struct arbiter *a, const struct circus_cfg *n)
{
	log_level_current = log_level_parse(n->loglevel);
	return 0;
}

static int
arbiter_live_logoutput(UNUSED struct arbiter *a, const struct circus_cfg *n)
{
	char *cause = NULL;

	if (log_open("circus", n->logoutput, &cause) == -1) {
		log_errorx("reloadconfig: %s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/* The live options that do more than change a value the daemon reads
 * when it needs it (options-circus.c says which options are live). */
static const struct {
	const char	*name;
	int		(*apply)(struct arbiter *, const struct circus_cfg *);
} arbiter_live[] = {
	{ "check_delay", arbiter_live_check_delay },
	{ "loglevel", arbiter_live_loglevel },
	{ "logoutput", arbiter_live_logoutput },
	{ "umask", arbiter_live_umask },
};

/* Apply the [circus] options of n that can change live; the others wait
 * for a full restart, and the log says so. */
void
arbiter_apply_circus(struct arbiter *a, const struct circus_cfg *n)
{
	struct circus_cfg *o = &a->cfg->circus;
	json_t *restart, *live, *v;
	const char *name;
	char *all, *changed, *t;
	size_t i, j;
	int rc;

	restart = circus_cfg_diff(o, n, false);
	if (json_array_size(restart) > 0) {
		changed = xstrdup("");
		json_array_foreach(restart, i, v) {
			t = xprintf("%s%s%s", changed, i > 0 ? ", " : "",
			    json_string_value(v));
			free(changed);
			changed = t;
		}
		all = circus_cfg_restart_names();
		log_warnx("reloadconfig: [circus] %s changed: %s changes apply "
		    "at the next full restart", changed, all);
		free(all);
		free(changed);
	}
	live = circus_cfg_diff(o, n, true);
	json_array_foreach(live, i, v) {
		name = json_string_value(v);
		rc = 0;
		for (j = 0; j < nitems(arbiter_live); j++)
			if (strcmp(arbiter_live[j].name, name) == 0)
				rc = arbiter_live[j].apply(a, n);
		if (rc == 0)
			circus_cfg_take(o, n, name);
	}
	if (json_array_size(restart) == 0) {
		json_decref(o->raw);
		o->raw = json_deep_copy(n->raw);
	}
	json_decref(live);
	json_decref(restart);
}

/* Signals become internal commands (never lost: they queue). */
static void
arbiter_signal_cb(UNUSED struct ev_loop *loop, ev_signal *sw,
    UNUSED int revents)
{
	struct arbiter *a = sw->data;
	const char *name = util_signal_name(sw->signum);

	log_info("Got signal SIG_%s", name != NULL ? name : "?");
	switch (sw->signum) {
	case SIGHUP:
		a->commands->run_internal(a, "reload",
		    json_pack("{s:b}", "graceful", 1));
		break;
	case SIGUSR1:
		arbiter_reopen(a);
		break;
	default:
		a->commands->run_internal(a, "quit", json_object());
		break;
	}
}

/* Initial start finished. */
static void
arbiter_boot_done(struct arbiter *a, UNUSED void *ctx, UNUSED int error)
{
	(void)a;
	log_debug("initial start finished");
}

/* Bind everything and start the watchers. */
int
arbiter_start(struct arbiter *a, char **cause)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
	struct csocket *s;
	struct watcher **list;
	size_t i, n;

	if (a->cfg->circus.umask >= 0)
		umask((mode_t)a->cfg->circus.umask);
	/* Orphaned grandchildren come back to us to be reaped and killed. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGWINCH, SIG_IGN);
	/* CURVE first, then the endpoints: PUB, then ROUTER */
	if (auth_open(a, cause) == -1 || events_bind(a, NULL, cause) == -1 ||
	    controller_open(a, cause) == -1)
		return -1;
	n = 0;
	TAILQ_FOREACH(s, &a->sockets, entry) {
		if (csocket_bind(s, cause) == -1)
			return -1;
		n++;
	}
	if (n > 0)
		log_info("sockets started");
	log_info("Registering signals...");
	for (i = 0; i < nitems(sigs); i++) {
		ev_signal_init(&a->sig_w[i], arbiter_signal_cb, sigs[i]);
		a->sig_w[i].data = a;
		ev_signal_start(a->loop, &a->sig_w[i]);
	}
	a->nsig = (int)nitems(sigs);
	if (a->cfg->circus.check_delay > 0) {
		ev_timer_set(&a->tick, a->cfg->circus.check_delay,
		    a->cfg->circus.check_delay);
		ev_timer_start(a->loop, &a->tick);
	}
	discovery_open(a);
	log_info("Arbiter now waiting for commands");
	list = arbiter_sorted(a, false, &n);
	arbiter_start_watchers(a, list, n, arbiter_boot_done, NULL);
	free(list);
	arbiter_ondemand_arm(a);
	return 0;
}

/* An on_demand start triggered by a socket finished. */
static void
arbiter_ondemand_started(struct watcher *w, UNUSED void *ctx,
    UNUSED json_t *result, UNUSED int error)
{
	w->socket_event = false;
	arbiter_ondemand_arm(w->arbiter);
}

/* A socket became readable: start the stopped on_demand watchers (all of
 * them, whatever their priority: Circus's intended behaviour). */
static void
arbiter_ondemand_cb(UNUSED struct ev_loop *loop, ev_io *io, UNUSED int revents)
{
	struct arbiter *a = io->data;
	struct watcher *w;

	TAILQ_FOREACH(w, &a->watchers, entry) {
		if (!w->cfg->on_demand || w->state != WATCHER_STOPPED ||
		    w->socket_event || w->removed)
			continue;
		log_info("%s: socket activity, starting on demand", w->name);
		w->socket_event = true;
		watcher_queue(w, watcher_op_new(WOP_START,
		    arbiter_ondemand_started, NULL));
	}
	arbiter_ondemand_arm(a);
}

/* Watch the sockets while some on_demand watcher waits for activity. */
static void
arbiter_ondemand_arm(struct arbiter *a)
{
	struct watcher *w;
	struct csocket *s;
	bool want = false;

	if (!a->stopping)
		TAILQ_FOREACH(w, &a->watchers, entry)
			if (w->cfg->on_demand && w->state == WATCHER_STOPPED &&
			    !w->socket_event && !w->removed)
				want = true;
	TAILQ_FOREACH(s, &a->sockets, entry) {
		if (s->fd == -1)
			continue;
		if (want && !ev_is_active(&s->ondemand_w)) {
			ev_io_init(&s->ondemand_w, arbiter_ondemand_cb, s->fd,
			    EV_READ);
			s->ondemand_w.data = a;
			ev_io_start(a->loop, &s->ondemand_w);
		} else if (!want && ev_is_active(&s->ondemand_w))
			ev_io_stop(a->loop, &s->ondemand_w);
	}
}

/* Log the warnings of a loaded config (dropped sections...), one a line. */
void
arbiter_log_warnings(const struct config *cfg)
{
	size_t i;

	for (i = 0; cfg->warnings != NULL && i < json_array_size(cfg->warnings);
	    i++)
		log_warnx("%s", json_string_value(json_array_get(cfg->warnings,
		    i)));
}

/* Full restart: the arbiter of the re-read file, with every endpoint and
 * [socket:*] that old does not share bound now, while old still runs: if
 * one cannot be, NULL + *cause and old goes on untouched. The shared ones
 * are handed over once old has stopped its watchers (arbiter_handover). */
struct arbiter *
arbiter_successor(struct arbiter *old, char **cause)
{
	struct arbiter *next;
	struct config *cfg;
	struct csocket *s, *o;
	char *errors = NULL;
	size_t len;

	if ((cfg = config_load(old->config_path, &errors)) == NULL) {
		len = errors != NULL ? strlen(errors) : 0;
		while (len > 0 && errors[len - 1] == '\n')
			errors[--len] = '\0';
		*cause = xprintf("configuration refused: %s", len > 0 ? errors :
		    "unknown error");
		free(errors);
		return NULL;
	}
	arbiter_log_warnings(cfg);
	next = arbiter_new(old->loop, cfg, old->config_path, old->commands,
	    cause);
	if (events_bind(next, old, cause) == -1 ||
	    controller_bind(next, old, cause) == -1)
		goto fail;
	TAILQ_FOREACH(s, &next->sockets, entry) {
		o = csocket_find(old, s->cfg->name);
		if (o != NULL && o->fd != -1 &&
		    csocket_same_address(o->cfg, s->cfg))
			continue;	/* handed over */
		if (csocket_bind(s, cause) == -1)
			goto fail;
	}
	return next;
fail:
	arbiter_free(next);
	return NULL;
}

/* Move old's sockets that next shares to next (old is freed next): the
 * same ZeroMQ sockets (subscribers stay connected), the same listening
 * fds, the same discovery socket. */
void
arbiter_handover(struct arbiter *old, struct arbiter *next)
{
	struct csocket *s, *o;

	controller_handover(old, next);
	auth_handover(old, next);
	events_handover(old, next);
	discovery_handover(old, next);
	/* still the same circusd process: dstats measures since old's */
	next->dstats_ticks = old->dstats_ticks;
	next->dstats_time = old->dstats_time;
	TAILQ_FOREACH(s, &next->sockets, entry) {
		if (s->fd != -1 || s->cfg->so_reuseport)
			continue;
		o = csocket_find(old, s->cfg->name);
		if (o != NULL && o->fd != -1 &&
		    csocket_same_address(o->cfg, s->cfg))
			csocket_adopt(s, o);
	}
}

/* Free everything the arbiter holds. */
void
arbiter_free(struct arbiter *a)
{
	struct watcher *w;
	struct csocket *s;
	struct group_op *g;
	int i;
	bool again;

	if (a == NULL)
		return;
	arbiter_free(a->successor);
	/* Operations still queued fail first, while the watchers, group
	 * operations and parked requests they point to are all alive. */
	a->stopping = true;
	do {
		again = false;
		TAILQ_FOREACH(w, &a->watchers, entry) {
			if (!TAILQ_EMPTY(&w->ops)) {
				watcher_cancel_ops(w);
				again = true;
			}
		}
		TAILQ_FOREACH(w, &a->removed, entry) {
			if (!TAILQ_EMPTY(&w->ops)) {
				watcher_cancel_ops(w);
				again = true;
			}
		}
		/* a group waiting on its warmup timer between two starts
		 * ends too: no timer may outlive the watchers it names */
		if ((g = TAILQ_FIRST(&a->groups)) != NULL) {
			g->failed = 1;
			group_finish(g);
			again = true;
		}
	} while (again);
	controller_fail_parked(a);
	for (i = 0; i < a->nsig; i++)
		ev_signal_stop(a->loop, &a->sig_w[i]);
	ev_timer_stop(a->loop, &a->tick);
	discovery_close(a);
	TAILQ_FOREACH(s, &a->sockets, entry)
		ev_io_stop(a->loop, &s->ondemand_w);
	controller_close(a);
	events_close(a);
	auth_close(a);
	while ((w = TAILQ_FIRST(&a->watchers)) != NULL) {
		TAILQ_REMOVE(&a->watchers, w, entry);
		watcher_free(w);
	}
	while ((w = TAILQ_FIRST(&a->removed)) != NULL)
		watcher_free(w);	/* unlinks itself */
	notify_free(a->loop, a->notify);
	free(a->notify_error);
	while ((s = TAILQ_FIRST(&a->sockets)) != NULL) {
		TAILQ_REMOVE(&a->sockets, s, entry);
		csocket_free(s);
	}
	config_free(a->cfg);
	free(a->config_path);
	free(a->cwd);
	free(a);
}
