/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reloadconfig's diff (doc/design.md §12), built and applied for the
 * arbiter: a struct reload_plan says what happens to each running watcher
 * (kept, stopped, restarted, replaced in place, rescaled), which watchers
 * of the file start and which sockets are added, removed or bound again.
 * Applying it runs the operations and calls back once every one is done.
 * cmd-reloadconfig.c reads the file, asks for the plan and answers.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "circusd.h"
#include "log.h"
#include "xmalloc.h"

/* Outstanding work of one applied plan. */
struct reload_run {
	struct arbiter	*arbiter;
	arbiter_done_cb	 done;
	void		*arg;
	int		 pending;
	int		 failed;
};

/* One piece finished; call back when all have. */
static void
reload_piece_done(struct reload_run *rr, int error)
{
	if (error)
		rr->failed = 1;
	if (--rr->pending > 0)
		return;
	if (rr->done != NULL)
		rr->done(rr->arbiter, rr->arg, rr->failed);
	free(rr);
}

/* Watcher op callback. */
static void
reload_watcher_done(UNUSED struct watcher *w, void *arg,
    UNUSED json_t *result, int error)
{
	reload_piece_done(arg, error);
}

/* Group op callback. */
static void
reload_group_done(UNUSED struct arbiter *a, void *arg, int error)
{
	reload_piece_done(arg, error);
}

/* A watcher config by name in a config. */
static struct watcher_cfg *
reload_find_wcfg(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nwatchers; i++)
		if (strcasecmp(cfg->watchers[i]->name, name) == 0)
			return cfg->watchers[i];
	return NULL;
}

/* A socket config by name. */
static struct socket_cfg *
reload_find_scfg(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nsockets; i++)
		if (strcmp(cfg->sockets[i]->name, name) == 0)
			return cfg->sockets[i];
	return NULL;
}

/* Does this watcher use socket name? */
static bool
reload_uses_socket(const struct watcher_cfg *c, const char *name)
{
	char ref[300];
	char *args;
	bool found;

	snprintf(ref, sizeof ref, "circus.sockets.%s", name);
	if (c->cmd != NULL && strcasestr(c->cmd, ref) != NULL)
		return true;
	if (c->stdin_socket != NULL && strcasecmp(c->stdin_socket, name) == 0)
		return true;
	if (c->args == NULL)
		return false;
	args = json_dumps(c->args, JSON_ENCODE_ANY);
	found = args != NULL && strcasestr(args, ref) != NULL;
	free(args);
	return found;
}

/* Is watcher name one of the sections the file defines invalidly? */
static bool
reload_is_invalid(const struct config *cfg, const char *name)
{
	char *needle;
	size_t i;
	bool found = false;

	if (cfg->invalid == NULL)
		return false;
	needle = xprintf("watcher '%s'", name);
	for (i = 0; i < json_array_size(cfg->invalid) && !found; i++)
		found = strstr(json_string_value(json_array_get(cfg->invalid, i)),
		    needle) != NULL;
	free(needle);
	return found;
}

/* Can a changed watcher take its new config in place, its processes
 * replaced gracefully (new ones first)? Only a running one that stays
 * running under the same name; a changed socket needs the old
 * processes gone first, and on_demand watchers start on their own. */
static bool
reload_in_place(const struct watcher *w, const struct watcher_cfg *wc)
{
	return w->state == WATCHER_ACTIVE && strcmp(w->name, wc->name) == 0 &&
	    wc->autostart && !w->cfg->on_demand && !wc->on_demand;
}

/* Append a name (borrowed) to a list. */
static void
reload_names_add(struct reload_names *l, const char *name)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = name;
}

/* What happens to running watcher w under the new file. */
static enum reload_action
reload_action_of(struct arbiter *a, struct watcher *w,
    const struct config *ncfg, const struct reload_names *changed_sockets)
{
	const struct watcher_cfg *wc, *oc;
	bool only_n, socket = false;
	size_t i;

	if (w->is_stats)
		return RELOAD_KEEP;
	wc = reload_find_wcfg(ncfg, w->name);
	if (wc == NULL)	/* an invalid section keeps it as it runs */
		return reload_is_invalid(ncfg, w->name) ? RELOAD_KEEP :
		    RELOAD_STOP;
	for (i = 0; i < changed_sockets->n; i++)
		if (reload_uses_socket(w->cfg, changed_sockets->v[i]))
			socket = true;
	oc = reload_find_wcfg(a->cfg, w->name);
	if (w->cfg->from_add || oc == NULL)
		return RELOAD_RESTART;
	if (watcher_cfg_changed(oc, wc, &only_n)) {
		if (only_n && !socket)
			return RELOAD_ADJUST;
		if (!socket && reload_in_place(w, wc))
			return RELOAD_REPLACE;
		return RELOAD_RESTART;
	}
	return socket ? RELOAD_RESTART : RELOAD_KEEP;
}

/* The plan that takes a from its running config to ncfg (owned by the
 * plan from now on). */
struct reload_plan *
arbiter_reload_plan(struct arbiter *a, struct config *ncfg)
{
	struct reload_plan *p = xcalloc(1, sizeof *p);
	struct reload_names changed = { NULL, 0 };
	struct socket_cfg *sc;
	struct csocket *s;
	struct watcher *w;
	size_t i;

	p->cfg = ncfg;
	p->circus_changed = circus_cfg_changed(&a->cfg->circus, &ncfg->circus);
	TAILQ_FOREACH(s, &a->sockets, entry) {
		sc = reload_find_scfg(ncfg, s->cfg->name);
		if (sc == NULL) {
			reload_names_add(&p->sockets_remove, s->cfg->name);
			reload_names_add(&changed, s->cfg->name);
		} else if (socket_cfg_changed(s->cfg, sc) || s->fd == -1) {
			/* unchanged but unbound (its bind failed): retry */
			reload_names_add(&p->sockets_rebind, s->cfg->name);
			reload_names_add(&changed, s->cfg->name);
		}
	}
	for (i = 0; i < ncfg->nsockets; i++)
		if (csocket_find(a, ncfg->sockets[i]->name) == NULL)
			reload_names_add(&p->sockets_add,
			    ncfg->sockets[i]->name);
	TAILQ_FOREACH(w, &a->watchers, entry) {
		p->steps = xreallocarray(p->steps, p->nsteps + 1,
		    sizeof *p->steps);
		p->steps[p->nsteps].watcher = w;
		p->steps[p->nsteps++].action = reload_action_of(a, w, ncfg,
		    &changed);
	}
	for (i = 0; i < ncfg->nwatchers; i++)
		if (arbiter_find_watcher(a, ncfg->watchers[i]->name) == NULL)
			reload_names_add(&p->starts, ncfg->watchers[i]->name);
	free(changed.v);
	return p;
}

void
reload_plan_free(struct reload_plan *p)
{
	if (p == NULL)
		return;
	config_free(p->cfg);
	free(p->steps);
	free(p->starts.v);
	free(p->sockets_add.v);
	free(p->sockets_remove.v);
	free(p->sockets_rebind.v);
	free(p);
}

/* The plan as dry_run answers it. */
json_t *
reload_plan_json(const struct reload_plan *p)
{
	static const char *const lists[] = { "stop", "restart", "reload",
	    "adjust" };
	static const enum reload_action actions[] = { RELOAD_STOP,
	    RELOAD_RESTART, RELOAD_REPLACE, RELOAD_ADJUST };
	json_t *plan = json_object(), *l, *sockets;
	size_t i, k;

	l = json_array();
	for (i = 0; i < p->starts.n; i++)
		json_array_append_new(l, json_string(p->starts.v[i]));
	json_object_set_new(plan, "start", l);
	for (k = 0; k < nitems(lists); k++) {
		l = json_array();
		for (i = 0; i < p->nsteps; i++)
			if (p->steps[i].action == actions[k])
				json_array_append_new(l,
				    json_string(p->steps[i].watcher->name));
		json_object_set_new(plan, lists[k], l);
	}
	sockets = json_object();
	json_object_set_new(plan, "sockets", sockets);
	l = json_array();
	for (i = 0; i < p->sockets_add.n; i++)
		json_array_append_new(l, json_string(p->sockets_add.v[i]));
	json_object_set_new(sockets, "add", l);
	l = json_array();
	for (i = 0; i < p->sockets_remove.n; i++)
		json_array_append_new(l, json_string(p->sockets_remove.v[i]));
	json_object_set_new(sockets, "remove", l);
	l = json_array();
	for (i = 0; i < p->sockets_rebind.n; i++)
		json_array_append_new(l, json_string(p->sockets_rebind.v[i]));
	json_object_set_new(sockets, "rebind", l);
	json_object_set_new(plan, "arbiter_changed",
	    json_boolean(p->circus_changed));
	if (p->cfg->invalid != NULL && json_array_size(p->cfg->invalid) > 0)
		json_object_set(plan, "invalid", p->cfg->invalid);
	return plan;
}

/* Give w its new config and replace its processes gracefully. False
 * (nothing changed) if its new stream files cannot be opened. */
static bool
reload_replace(struct watcher *w, const struct watcher_cfg *wc,
    struct reload_run *rr)
{
	struct watcher_cfg *old = w->cfg;
	struct watcher_op *op;
	char *cause = NULL;

	w->cfg = watcher_cfg_dup(wc);
	w->name = w->cfg->name;
	if (watcher_renew_streams(w, &cause) == -1) {
		log_errorx("reloadconfig: %s", cause);
		free(cause);
		watcher_cfg_free(w->cfg);
		w->cfg = old;
		w->name = old->name;
		return false;
	}
	watcher_cfg_free(old);
	op = watcher_op_new(WOP_RELOAD, reload_watcher_done, rr);
	op->replace = true;
	rr->pending++;
	watcher_queue(w, op);
	return true;
}

/* Queue a stop of w that then frees it (removed from the arbiter). */
static void
reload_remove(struct arbiter *a, struct watcher *w, struct reload_run *rr)
{
	struct watcher_op *op;

	arbiter_remove_watcher(a, w);
	w->removed = true;
	op = watcher_op_new(WOP_STOP, reload_watcher_done, rr);
	rr->pending++;
	watcher_queue(w, op);
}

/* Apply a changed [circus] section: its live options now, every watcher
 * restarted; the rest of the file waits for a full restart. */
static void
reload_apply_circus(struct arbiter *a, struct reload_plan *p,
    struct reload_run *rr)
{
	struct watcher **list;
	size_t n;

	arbiter_apply_circus(a, &p->cfg->circus);
	log_warnx("[circus] options changed: restarting every watcher");
	list = arbiter_sorted(a, false, &n);
	rr->pending++;
	arbiter_restart_watchers(a, list, n, reload_group_done, rr);
	free(list);
}

/* Bind what the new file has and the arbiter no longer does. */
static void
reload_apply_sockets(struct arbiter *a, const struct config *ncfg,
    struct reload_run *rr)
{
	struct csocket *s, *ts;
	struct socket_cfg *sc;
	char *cause = NULL;
	size_t i;

	TAILQ_FOREACH_SAFE(s, &a->sockets, entry, ts) {
		sc = reload_find_scfg(ncfg, s->cfg->name);
		if (sc == NULL || socket_cfg_changed(s->cfg, sc) ||
		    s->fd == -1) {
			TAILQ_REMOVE(&a->sockets, s, entry);
			csocket_free(s);
		}
	}
	for (i = 0; i < ncfg->nsockets; i++) {
		if (csocket_find(a, ncfg->sockets[i]->name) != NULL)
			continue;
		s = csocket_new(socket_cfg_dup(ncfg->sockets[i]));
		if (csocket_bind(s, &cause) == -1) {
			log_errorx("reloadconfig: %s", cause);
			free(cause);
			cause = NULL;
			rr->failed = 1;
		}
		TAILQ_INSERT_TAIL(&a->sockets, s, entry);
	}
}

/* Apply p (freed here) to a; done(a, arg, error) once every operation it
 * started is over, possibly before this returns. */
void
arbiter_reload_apply(struct arbiter *a, struct reload_plan *p,
    arbiter_done_cb done, void *arg)
{
	struct reload_run *rr = xcalloc(1, sizeof *rr);
	struct config *ocfg = a->cfg;
	struct watcher *w, **starts;
	struct reload_step *st;
	char *cause = NULL;
	size_t i, nstarts = 0;

	log_info("reloading configuration from %s", a->config_path);
	rr->arbiter = a;
	rr->done = done;
	rr->arg = arg;
	rr->pending = 1;
	if (p->circus_changed) {
		reload_apply_circus(a, p, rr);
		reload_plan_free(p);
		reload_piece_done(rr, 0);
		return;
	}
	/* Removals and replacements stop first. */
	for (i = 0; i < p->nsteps; i++) {
		st = &p->steps[i];
		w = st->watcher;
		switch (st->action) {
		case RELOAD_KEEP:
			break;
		case RELOAD_REPLACE:
			if (reload_replace(w, reload_find_wcfg(p->cfg,
			    w->name), rr))
				break;
			/* FALLTHROUGH */
		case RELOAD_STOP:
		case RELOAD_RESTART:
			/* a stopped watcher may be freed right here */
			reload_remove(a, w, rr);
			break;
		case RELOAD_ADJUST:
			watcher_set_numprocesses(w, reload_find_wcfg(p->cfg,
			    w->name)->numprocesses);
			break;
		}
	}
	reload_apply_sockets(a, p->cfg, rr);
	/* New and replaced watchers start in priority order. */
	starts = xcalloc(p->cfg->nwatchers + 1, sizeof *starts);
	for (i = 0; i < p->cfg->nwatchers; i++) {
		if (arbiter_find_watcher(a, p->cfg->watchers[i]->name) != NULL)
			continue;
		w = watcher_new(a, watcher_cfg_dup(p->cfg->watchers[i]),
		    &cause);
		arbiter_add_watcher(a, w);
		starts[nstarts++] = w;
	}
	if (nstarts > 0) {
		rr->pending++;
		arbiter_start_watchers(a, starts, nstarts, reload_group_done,
		    rr);
	}
	free(starts);
	a->cfg = p->cfg;
	p->cfg = NULL;
	config_free(ocfg);
	reload_plan_free(p);
	/* with nothing in flight done is called here */
	reload_piece_done(rr, 0);
}
