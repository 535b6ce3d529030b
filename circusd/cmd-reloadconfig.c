/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reloadconfig: re-read the file and apply the real diff (doc/design.md §12):
 * sockets added/removed/rebound, watchers using a changed socket
 * restarted, watchers removed/added/replaced (a running one whose config
 * changed is replaced in place, gracefully: new processes first),
 * numprocesses-only changes
 * applied in place, priority honoured; dry_run returns the plan only.
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "circusd.h"
#include "log.h"
#include "xmalloc.h"

/* Outstanding work of one reloadconfig. */
struct reload_state {
	struct cmd_ctx	*ctx;
	int		 pending;
	int		 failed;
};

/* One piece finished; reply when all have. */
static void
reload_piece_done(struct reload_state *rs, int error)
{
	if (error)
		rs->failed = 1;
	if (--rs->pending > 0)
		return;
	if (rs->ctx != NULL) {
		rs->ctx->failed = rs->failed;
		cmd_finish(rs->ctx);
	}
	free(rs);
}

/* Watcher op callback. */
static void
reload_watcher_done(struct watcher *w, void *arg, json_t *result, int error)
{
	(void)w;
	(void)result;
	reload_piece_done(arg, error);
}

/* Group op callback. */
static void
reload_group_done(struct arbiter *a, void *arg, int error)
{
	(void)a;
	reload_piece_done(arg, error);
}

/* Find a watcher config by name in a config. */
static struct watcher_cfg *
reload_find_wcfg(struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nwatchers; i++)
		if (strcasecmp(cfg->watchers[i]->name, name) == 0)
			return cfg->watchers[i];
	return NULL;
}

/* Find a socket config by name. */
static struct socket_cfg *
reload_find_scfg(struct config *cfg, const char *name)
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
reload_is_invalid(struct config *cfg, const char *name)
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

/* Join the invalid-section messages into one errno-3 reason. */
static char *
reload_invalid_text(const json_t *invalid)
{
	size_t i, len = 1;
	char *text;

	for (i = 0; i < json_array_size(invalid); i++)
		len += strlen(json_string_value(json_array_get(invalid, i))) + 1;
	text = xcalloc(1, len);
	for (i = 0; i < json_array_size(invalid); i++) {
		if (i > 0)
			strlcat(text, "\n", len);
		strlcat(text, json_string_value(json_array_get(invalid, i)), len);
	}
	return text;
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

/* Give w its new config and replace its processes gracefully. False
 * (nothing changed) if its new stream files cannot be opened. */
static bool
reload_replace(struct watcher *w, const struct watcher_cfg *wc,
    struct reload_state *rs)
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
	op = watcher_op_new(WOP_RELOAD, reload_watcher_done, rs);
	op->replace = true;
	rs->pending++;
	watcher_queue(w, op);
	return true;
}

/* Queue a stop of w that then frees it (removed from the arbiter). */
static void
reload_remove(struct arbiter *a, struct watcher *w, struct reload_state *rs)
{
	struct watcher_op *op;

	arbiter_remove_watcher(a, w);
	w->removed = true;
	op = watcher_op_new(WOP_STOP, reload_watcher_done, rs);
	rs->pending++;
	watcher_queue(w, op);
}

/* Apply (or plan) the diff between the running config and the file. */
static enum cmd_status
cmd_reloadconfig_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct config *ncfg, *ocfg = a->cfg;
	struct reload_state *rs;
	struct watcher *w, *tw, **starts;
	struct csocket *s, *ts;
	struct watcher_cfg *wc;
	struct socket_cfg *sc;
	json_t *plan, *p_start, *p_stop, *p_restart, *p_reload, *p_adjust,
	    *p_sockets, *changed_sockets;
	char *errors = NULL, *cause = NULL;
	bool dry = cmd_prop_bool(ctx, "dry_run", false), only_n, parked = false;
	json_t *invalid = NULL;
	size_t i, nstarts = 0;

	/* One bad section does not take the others down (doc/design.md §13). */
	ncfg = config_load_lenient(a->config_path, &errors);
	if (ncfg == NULL) {
		/* Nothing changes. Every form of the command answers errno 6
		 * as Circus, with the file and its first file:line error;
		 * the log gets every one. */
		log_errorx("reloadconfig refused: %s", errors ? errors : "");
		cmd_error(ctx, 6, "cannot reload the configuration from %s: "
		    "%.*s", a->config_path, errors != NULL ?
		    (int)strcspn(errors, "\n") : 0, errors != NULL ? errors : "");
		free(errors);
		return CMD_ERROR;
	}
	for (i = 0; ncfg->warnings != NULL && i < json_array_size(ncfg->warnings);
	    i++)
		log_warnx("%s", json_string_value(json_array_get(ncfg->warnings,
		    i)));
	if (ncfg->invalid != NULL && json_array_size(ncfg->invalid) > 0) {
		invalid = json_incref(ncfg->invalid);
		/* keep running what the file no longer defines validly */
	}
	plan = json_object();
	p_start = json_array();
	p_stop = json_array();
	p_restart = json_array();
	p_reload = json_array();
	p_adjust = json_array();
	p_sockets = json_object();
	changed_sockets = json_array();
	json_object_set_new(plan, "start", p_start);
	json_object_set_new(plan, "stop", p_stop);
	json_object_set_new(plan, "restart", p_restart);
	json_object_set_new(plan, "reload", p_reload);
	json_object_set_new(plan, "adjust", p_adjust);
	json_object_set_new(plan, "sockets", p_sockets);
	json_object_set_new(plan, "arbiter_changed",
	    json_boolean(circus_cfg_changed(&ocfg->circus, &ncfg->circus)));

	/* Sockets. */
	json_object_set_new(p_sockets, "add", json_array());
	json_object_set_new(p_sockets, "remove", json_array());
	json_object_set_new(p_sockets, "rebind", json_array());
	TAILQ_FOREACH(s, &a->sockets, entry) {
		sc = reload_find_scfg(ncfg, s->cfg->name);
		if (sc == NULL) {
			json_array_append_new(json_object_get(p_sockets,
			    "remove"), json_string(s->cfg->name));
			json_array_append_new(changed_sockets,
			    json_string(s->cfg->name));
		} else if (socket_cfg_changed(s->cfg, sc) || s->fd == -1) {
			/* unchanged but unbound (its bind failed): retry */
			json_array_append_new(json_object_get(p_sockets,
			    "rebind"), json_string(s->cfg->name));
			json_array_append_new(changed_sockets,
			    json_string(s->cfg->name));
		}
	}
	for (i = 0; i < ncfg->nsockets; i++)
		if (csocket_find(a, ncfg->sockets[i]->name) == NULL)
			json_array_append_new(json_object_get(p_sockets, "add"),
			    json_string(ncfg->sockets[i]->name));

	/* Watchers. */
	TAILQ_FOREACH(w, &a->watchers, entry) {
		if (w->is_stats)
			continue;
		wc = reload_find_wcfg(ncfg, w->name);
		if (wc == NULL && reload_is_invalid(ncfg, w->name))
			continue;	/* keep it as it runs; reported below */
		if (wc == NULL) {
			json_array_append_new(p_stop, json_string(w->name));
			continue;
		}
		sc = NULL;
		for (i = 0; i < json_array_size(changed_sockets); i++)
			if (reload_uses_socket(w->cfg, json_string_value(
			    json_array_get(changed_sockets, i))))
				sc = (struct socket_cfg *)1;
		if (w->cfg->from_add || reload_find_wcfg(ocfg, w->name) == NULL)
			json_array_append_new(p_restart, json_string(w->name));
		else if (watcher_cfg_changed(reload_find_wcfg(ocfg, w->name), wc,
		    &only_n)) {
			if (only_n && sc == NULL)
				json_array_append_new(p_adjust,
				    json_string(w->name));
			else if (sc == NULL && reload_in_place(w, wc))
				json_array_append_new(p_reload,
				    json_string(w->name));
			else
				json_array_append_new(p_restart,
				    json_string(w->name));
		} else if (sc != NULL)
			json_array_append_new(p_restart, json_string(w->name));
	}
	for (i = 0; i < ncfg->nwatchers; i++)
		if (arbiter_find_watcher(a, ncfg->watchers[i]->name) == NULL)
			json_array_append_new(p_start,
			    json_string(ncfg->watchers[i]->name));
	json_decref(changed_sockets);

	if (invalid != NULL)
		json_object_set(plan, "invalid", invalid);
	if (dry) {
		ctx->result = json_pack("{s:o}", "plan", plan);
		config_free(ncfg);
		json_decref(invalid);
		return CMD_OK;
	}
	log_info("reloading configuration from %s", a->config_path);
	rs = xcalloc(1, sizeof *rs);
	rs->pending = 1;
	if (ctx->waiting && !ctx->internal && invalid == NULL) {
		rs->ctx = ctx;
		cmd_park(ctx);
		parked = true;
	}
	if (json_is_true(json_object_get(plan, "arbiter_changed"))) {
		struct watcher **list;
		size_t n;

		arbiter_apply_circus(a, &ncfg->circus);
		log_warnx("[circus] options changed: restarting every watcher");
		list = arbiter_sorted(a, false, &n);
		rs->pending++;
		arbiter_restart_watchers(a, list, n, reload_group_done, rs);
		free(list);
		json_decref(plan);
		json_decref(invalid);
		config_free(ncfg);
		/* a parked ctx may be answered and freed right here */
		reload_piece_done(rs, 0);
		return parked ? CMD_WAIT : CMD_OK;
	}
	/* Removals and replacements stop first. */
	TAILQ_FOREACH_SAFE(w, &a->watchers, entry, tw) {
		bool stop = false, restart = false;

		for (i = 0; i < json_array_size(p_stop); i++)
			if (strcmp(json_string_value(json_array_get(p_stop, i)),
			    w->name) == 0)
				stop = true;
		for (i = 0; i < json_array_size(p_restart); i++)
			if (strcmp(json_string_value(json_array_get(p_restart,
			    i)), w->name) == 0)
				restart = true;
		for (i = 0; i < json_array_size(p_reload); i++)
			if (strcmp(json_string_value(json_array_get(p_reload,
			    i)), w->name) == 0 && !reload_replace(w,
			    reload_find_wcfg(ncfg, w->name), rs))
				restart = true;
		if (stop || restart) {
			/* a stopped watcher may be freed right here */
			reload_remove(a, w, rs);
			continue;
		}
		for (i = 0; i < json_array_size(p_adjust); i++)
			if (strcmp(json_string_value(json_array_get(p_adjust, i)),
			    w->name) == 0) {
				wc = reload_find_wcfg(ncfg, w->name);
				watcher_set_numprocesses(w, wc->numprocesses);
			}
	}
	/* Sockets: close removed/changed, bind new/changed. */
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
			rs->failed = 1;
		}
		TAILQ_INSERT_TAIL(&a->sockets, s, entry);
	}
	/* New and replaced watchers start in priority order. */
	starts = xcalloc(ncfg->nwatchers + 1, sizeof *starts);
	for (i = 0; i < ncfg->nwatchers; i++) {
		if (arbiter_find_watcher(a, ncfg->watchers[i]->name) != NULL)
			continue;
		w = watcher_new(a, watcher_cfg_dup(ncfg->watchers[i]), &cause);
		arbiter_add_watcher(a, w);
		starts[nstarts++] = w;
	}
	if (nstarts > 0) {
		rs->pending++;
		arbiter_start_watchers(a, starts, nstarts, reload_group_done, rs);
	}
	free(starts);
	a->cfg = ncfg;
	/* keep the running [circus] values (they only change on restart) */
	config_free(ocfg);
	json_decref(plan);
	/* with nothing in flight a parked ctx is answered and freed here */
	reload_piece_done(rs, 0);
	if (parked)
		return CMD_WAIT;
	if (invalid != NULL) {
		/* The rest is applied; the bad sections are the answer. */
		char *text = reload_invalid_text(invalid);

		json_decref(invalid);
		cmd_error(ctx, 3, "%s", text);
		log_errorx("reloadconfig: %s", text);
		free(text);
		return CMD_ERROR;
	}
	return CMD_OK;
}

const struct cmd_entry cmd_reloadconfig_entry = {
	.name = "reloadconfig",
	.summary = "Reload the configuration file",
	.required = NULL,
	.exec = cmd_reloadconfig_exec,
};
