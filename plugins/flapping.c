/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flapping (doc/design.md §17.7), done right: only exits circusd did not ask
 * for count (a `reap` whose pid had no `kill` event before it: stop, decr,
 * restart, reload, max_age and the kill command all publish `kill`
 * first). Only processes whose `spawn` the plugin saw count: events come
 * in order on one connection, so for those it cannot have missed the
 * `kill` (a plugin that joins late must not count the reaps of the
 * processes it stopped before). `attempts` such exits within `window` seconds stop the watcher
 * (the stop carries the reason, shown by status and logged by circusd),
 * it is started again after `retry_in` seconds, and after `max_retry`
 * retries it stays stopped (the retry timer is cancelled). Per-watcher
 * `flapping.*` options override the plugin's, re-read on `updated`.
 * Stop and start are calls, sent again while a daemon with an exclusive
 * lock (Circus 0.19) answers "already running", so none is lost.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "plugin.h"
#include "util.h"
#include "xmalloc.h"

#define FLAP_MAX_PIDS	4096	/* pids remembered per watcher */
#define FLAP_AGAIN_S	0.2	/* pause before sending a refused command */
#define FLAP_AGAIN_MAX	150	/* times (30 s) */

/* The options of one watcher (or the plugin's defaults). */
struct flap_opts {
	long	 attempts;
	double	 window;
	double	 retry_in;
	long	 max_retry;		/* -1 = forever */
	bool	 active;
};

/* A process seen spawning; killed once circusd signalled it. */
struct flap_pid {
	pid_t	 pid;
	bool	 killed;
};

struct flap_watcher {
	TAILQ_ENTRY(flap_watcher) entry;
	struct plugin	*plugin;
	char		*name;
	struct flap_opts opts;
	bool		 loaded;	/* opts fetched since the last update */
	double		*timeline;	/* times of unasked exits */
	size_t		 ntimeline;
	int		 tries;
	bool		 stopping;	/* our stop is on its way */
	struct flap_pid	*pids;		/* spawned, not reaped yet */
	size_t		 npids;
	ev_timer	 retry;
	/* a stop/start refused by a conflict (Circus's lock), sent again */
	ev_timer	 again;
	const char	*again_cmd;	/* "stop", "start" or NULL */
	char		*again_reason;
	int		 again_tries;
};

struct flapping {
	struct flap_opts defaults;
	TAILQ_HEAD(, flap_watcher) watchers;
};

/* The plugin section's options (Circus's defaults, doc/design.md §17.7). */
static void
flap_defaults(struct plugin *p, struct flap_opts *o)
{
	o->attempts = plugin_conf_int(p, "attempts", 2);
	o->window = plugin_conf_float(p, "window", 1);
	o->retry_in = plugin_conf_float(p, "retry_in", 7);
	o->max_retry = plugin_conf_int(p, "max_retry", 5);
	o->active = plugin_conf_bool(p, "active", true);
}

/* One flapping.<key> of an `options` reply as a number. */
static bool
flap_opt_number(json_t *options, const char *key, double *out)
{
	json_t	*v;
	char	 name[64];

	snprintf(name, sizeof name, "flapping.%s", key);
	if ((v = json_object_get(options, name)) == NULL)
		return (false);
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return (true);
	}
	if (json_is_string(v) &&
	    util_parse_float(json_string_value(v), out) == 0)
		return (true);
	log_errorx("%s = %s is not a number; ignored", name,
	    json_is_string(v) ? json_string_value(v) : "?");
	return (false);
}

/* Fetch the watcher's flapping.* overrides with `options`. */
static void
flap_load(struct flap_watcher *fw)
{
	struct flapping	*f = fw->plugin->data;
	json_t		*reply, *options, *v;
	double		 d;
	bool		 b;

	fw->opts = f->defaults;
	fw->loaded = true;
	reply = plugin_call(fw->plugin, "options",
	    json_pack("{s:s}", "name", fw->name));
	if (reply == NULL)
		return;
	options = json_object_get(reply, "options");
	if (flap_opt_number(options, "attempts", &d))
		fw->opts.attempts = (long)d;
	if (flap_opt_number(options, "window", &d))
		fw->opts.window = d;
	if (flap_opt_number(options, "retry_in", &d))
		fw->opts.retry_in = d;
	if (flap_opt_number(options, "max_retry", &d))
		fw->opts.max_retry = (long)d;
	if ((v = json_object_get(options, "flapping.active")) != NULL) {
		if (json_is_boolean(v))
			fw->opts.active = json_is_true(v);
		else if (json_is_string(v) &&
		    util_parse_bool(json_string_value(v), &b) == 0)
			fw->opts.active = b;
	}
	if (fw->opts.attempts < 1)
		fw->opts.attempts = 1;
	json_decref(reply);
}

/* Call stop (with its reason) or start; sent again after a conflict. */
static void
flap_send(struct flap_watcher *fw, const char *command, const char *reason)
{
	struct plugin	*p = fw->plugin;
	json_t		*props, *reply;
	const char	*why;

	if (reason != fw->again_reason) {	/* kept for a resend */
		free(fw->again_reason);
		fw->again_reason = reason != NULL ? xstrdup(reason) : NULL;
	}
	props = json_pack("{s:s}", "name", fw->name);
	if (reason != NULL)
		json_object_set_new(props, "reason", json_string(reason));
	reply = plugin_call(p, command, props);
	why = json_string_value(json_object_get(reply, "reason"));
	if (!plugin_reply_ok(reply) && why != NULL &&
	    strstr(why, "already running") != NULL &&
	    fw->again_tries++ < FLAP_AGAIN_MAX) {
		fw->again_cmd = command;
		ev_timer_stop(p->loop, &fw->again);
		ev_timer_set(&fw->again, FLAP_AGAIN_S, 0);
		ev_timer_start(p->loop, &fw->again);
	} else {
		if (!plugin_reply_ok(reply))
			log_errorx("%s: %s: %s", fw->name, command,
			    why != NULL ? why : "no answer");
		fw->again_tries = 0;
		fw->again_cmd = NULL;
	}
	json_decref(reply);
}

/* A refused stop/start, once more. */
static void
flap_again_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct flap_watcher *fw = t->data;

	(void)loop;
	(void)revents;
	if (fw->again_cmd != NULL)
		flap_send(fw, fw->again_cmd, fw->again_reason);
}

/* Retry timer: start the watcher again. */
static void
flap_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct flap_watcher *fw = t->data;

	(void)loop;
	(void)revents;
	fw->stopping = false;
	fw->ntimeline = 0;
	log_info("%s: retrying after flapping", fw->name);
	fw->again_tries = 0;
	flap_send(fw, "start", NULL);
}

static struct flap_watcher *
flap_find(struct flapping *f, const char *name, bool create,
    struct plugin *p)
{
	struct flap_watcher *fw;

	TAILQ_FOREACH(fw, &f->watchers, entry)
		if (strcmp(fw->name, name) == 0)
			return (fw);
	if (!create)
		return (NULL);
	fw = xcalloc(1, sizeof *fw);
	fw->plugin = p;
	fw->name = xstrdup(name);
	ev_timer_init(&fw->retry, flap_retry_cb, 0, 0);
	fw->retry.data = fw;
	ev_timer_init(&fw->again, flap_again_cb, 0, 0);
	fw->again.data = fw;
	TAILQ_INSERT_TAIL(&f->watchers, fw, entry);
	return (fw);
}

static void
flap_forget(struct flapping *f, struct flap_watcher *fw)
{
	ev_timer_stop(fw->plugin->loop, &fw->retry);
	ev_timer_stop(fw->plugin->loop, &fw->again);
	TAILQ_REMOVE(&f->watchers, fw, entry);
	free(fw->again_reason);
	free(fw->pids);
	free(fw->timeline);
	free(fw->name);
	free(fw);
}

/* Stop the watcher, saying why (status shows it, circusd logs it). */
static void
flap_stop(struct flap_watcher *fw, const char *reason)
{
	fw->stopping = true;
	fw->again_tries = 0;
	flap_send(fw, "stop", reason);
}

/* An exit circusd did not ask for. */
static void
flap_crash(struct flap_watcher *fw)
{
	struct plugin	*p = fw->plugin;
	double		 now = ev_now(p->loop), duration;
	char		*why;

	if (!fw->loaded)
		flap_load(fw);
	if (!fw->opts.active)
		return;
	fw->timeline = xreallocarray(fw->timeline, fw->ntimeline + 1,
	    sizeof *fw->timeline);
	fw->timeline[fw->ntimeline++] = now;
	if (fw->ntimeline < (size_t)fw->opts.attempts)
		return;
	duration = fw->timeline[fw->ntimeline - 1] - fw->timeline[0] -
	    p->check_delay;
	fw->ntimeline = 0;
	if (duration > fw->opts.window) {
		fw->tries = 0;
		return;
	}
	if (fw->tries < fw->opts.max_retry || fw->opts.max_retry == -1) {
		fw->tries++;
		log_warnx("%s: flapping detected: retry in %gs (attempt number "
		    "%d)", fw->name, fw->opts.retry_in, fw->tries);
		why = xprintf("flapping detected (%ld exits within %gs): "
		    "retry in %gs (attempt number %d)", fw->opts.attempts,
		    fw->opts.window, fw->opts.retry_in, fw->tries);
		flap_stop(fw, why);
		free(why);
		ev_timer_stop(p->loop, &fw->retry);
		ev_timer_set(&fw->retry, fw->opts.retry_in, 0);
		ev_timer_start(p->loop, &fw->retry);
		return;
	}
	log_warnx("%s: flapping detected: reached max retry limit", fw->name);
	why = xprintf("flapping detected (%ld exits within %gs): reached max "
	    "retry limit (%ld); stopped for good", fw->opts.attempts,
	    fw->opts.window, fw->opts.max_retry);
	fw->tries = 0;
	ev_timer_stop(p->loop, &fw->retry);
	flap_stop(fw, why);
	free(why);
}

/* The entry of a pid seen spawning, or NULL. */
static struct flap_pid *
flap_pid(struct flap_watcher *fw, pid_t pid)
{
	size_t i;

	for (i = 0; i < fw->npids; i++)
		if (fw->pids[i].pid == pid)
			return (&fw->pids[i]);
	return (NULL);
}

/* A spawn: a process whose exit can be judged. */
static void
flap_spawned(struct flap_watcher *fw, pid_t pid)
{
	struct flap_pid *fp;

	if ((fp = flap_pid(fw, pid)) == NULL) {
		if (fw->npids == FLAP_MAX_PIDS) {	/* killed, never reaped */
			memmove(fw->pids, fw->pids + 1,
			    (FLAP_MAX_PIDS - 1) * sizeof *fw->pids);
			fw->npids--;
		}
		fw->pids = xreallocarray(fw->pids, fw->npids + 1,
		    sizeof *fw->pids);
		fp = &fw->pids[fw->npids++];
	}
	fp->pid = pid;
	fp->killed = false;
}

/* A reap: true when it is an exit circusd did not ask for. */
static bool
flap_unasked_exit(struct flap_watcher *fw, pid_t pid)
{
	struct flap_pid	*fp;
	bool		 unasked;

	if ((fp = flap_pid(fw, pid)) == NULL)
		return (false);		/* spawned before we joined */
	unasked = !fp->killed;
	*fp = fw->pids[--fw->npids];
	return (unasked);
}

static void
flap_event(struct plugin *p, const char *watcher, const char *action,
    json_t *body)
{
	struct flapping		*f = p->data;
	struct flap_watcher	*fw;
	struct flap_pid		*fp;
	pid_t			 pid;

	if (strncmp(watcher, "plugin:", 7) == 0)
		return;
	pid = (pid_t)json_integer_value(json_object_get(body, "process_pid"));
	if (strcmp(action, "remove") == 0) {
		if ((fw = flap_find(f, watcher, false, p)) != NULL)
			flap_forget(f, fw);
		return;
	}
	if (strcmp(action, "spawn") == 0) {
		flap_spawned(flap_find(f, watcher, true, p), pid);
		return;
	}
	if ((fw = flap_find(f, watcher, false, p)) == NULL)
		return;
	if (strcmp(action, "kill") == 0) {
		if ((fp = flap_pid(fw, pid)) != NULL)
			fp->killed = true;
	} else if (strcmp(action, "updated") == 0)
		fw->loaded = false;
	else if (strcmp(action, "stop") == 0) {
		fw->stopping = false;
		fw->npids = 0;
		fw->ntimeline = 0;
	} else if (strcmp(action, "reap") == 0) {
		if (flap_unasked_exit(fw, pid) && !fw->stopping)
			flap_crash(fw);
	}
}

static int
flap_init(struct plugin *p)
{
	struct flapping *f;

	f = xcalloc(1, sizeof *f);
	TAILQ_INIT(&f->watchers);
	flap_defaults(p, &f->defaults);
	p->data = f;
	if (!f->defaults.active)
		log_warnx("flapping: active = false: idle (per-watcher "
		    "flapping.active = true still checks that watcher)");
	return (0);
}

static void
flap_stop_plugin(struct plugin *p)
{
	struct flapping		*f = p->data;
	struct flap_watcher	*fw;

	if (f == NULL)
		return;
	while ((fw = TAILQ_FIRST(&f->watchers)) != NULL)
		flap_forget(f, fw);
	free(f);
	p->data = NULL;
}

static const struct plugin_ops flapping_ops = {
	.name = "flapping",
	.init = flap_init,
	.event = flap_event,
	.stop = flap_stop_plugin,
};

PLUGIN_MAIN(flapping_ops)
