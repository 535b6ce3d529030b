/* SPDX-License-Identifier: Apache-2.0 */
/* add: create a watcher at run time, optionally starting it. */
#include <stdlib.h>
#include <string.h>

#include "circusd.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

/* add --start --waiting is over: a watcher that could not spawn
 * anything answers with why (Circus's start stays "ok", doc/design.md §17.1).
  * */
static void
cmd_add_started(struct watcher *w, void *arg, json_t *result, int error)
{
	struct cmd_ctx *ctx = arg;

	if (ctx != NULL && !error && w->spawn_error != NULL &&
	    watcher_active_count(w) == 0) {
		cmd_finish_error(ctx, 3, w->gave_up_reason != NULL ?
		    w->gave_up_reason : w->spawn_error);
		return;
	}
	cmd_op_done_info_toplevel(w, arg, result, error);
}

/* Create (and maybe start) a watcher. */
static enum cmd_status
cmd_add_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	const char *name = cmd_prop_str(ctx, "name");
	const char *cmd = cmd_prop_str(ctx, "cmd");
	json_t *opts = json_object_get(ctx->props, "options");
	json_t *args = json_object_get(ctx->props, "args");
	json_t *v, *owner;
	struct watcher_cfg *cfg;
	struct watcher *w;
	struct watcher_op *op;
	enum cmd_status st;
	const char *k;
	char *cause = NULL;

	if (opts != NULL && !json_is_object(opts))
		return cmd_error(ctx, 3, "'options' property should be an object");
	if (opts != NULL) {
		json_object_foreach(opts, k, v) {
			if (watcher_opt_validate(k, v, &cause) == -1) {
				cmd_error(ctx, 3, "%s", cause);
				free(cause);
				return CMD_ERROR;
			}
		}
	}
	if (name == NULL || cmd == NULL)
		return cmd_error(ctx, 3, "message invalid '%s' is missing",
		    name == NULL ? "name" : "cmd");
	owner = NULL;
	if (a->cfg->circus.endpoint_owner != NULL &&
	    strncmp(a->cfg->circus.endpoint, "ipc://", 6) == 0) {
		owner = opts != NULL ? json_object_get(opts, "uid") : NULL;
		if (!json_is_string(owner) || strcmp(json_string_value(owner),
		    a->cfg->circus.endpoint_owner) != 0)
			return cmd_error(ctx, 3,
			    "uid does not match endpoint_owner");
	}
	if (*name == '\0')
		return CMD_OK;	/* Circus quirk: nothing created */
	if (arbiter_find_watcher(a, name) != NULL)
		return cmd_error5(ctx, "'%s' already exist", name);
	cfg = watcher_cfg_new_add(name, cmd);
	if (cfg->working_dir == NULL && a->cwd != NULL)
		cfg->working_dir = xstrdup(a->cwd);
	if (args != NULL && !json_is_null(args)) {
		json_decref(cfg->args);
		cfg->args = json_incref(args);
	}
	if (opts != NULL && watcher_cfg_add_options(cfg, opts, &cause) == -1) {
		cmd_error5(ctx, "%s", cause);
		free(cause);
		watcher_cfg_free(cfg);
		return CMD_ERROR;
	}
	if (cfg->singleton && cfg->numprocesses > 1) {
		cmd_error5(ctx, "Cannot have %d processes with a singleton  "
		    "watcher", cfg->numprocesses);
		watcher_cfg_free(cfg);
		return CMD_ERROR;
	}
	w = watcher_new(a, cfg, &cause);
	arbiter_add_watcher(a, w);
	events_publish(a, w, "add", json_pack("{s:f}", "time",
	    util_wallclock()));
	log_info("watcher %s added", w->name);
	if (!cmd_prop_bool(ctx, "start", false))
		return CMD_OK;
	op = watcher_op_new(WOP_START, cmd_add_started, NULL);
	st = cmd_queue(ctx, w, op);
	/* Its first spawn failed (a missing binary): answer with why. The
	 * watcher stays and retries up to max_retry times. */
	if (st == CMD_OK && w->spawn_error != NULL &&
	    watcher_active_count(w) == 0)
		return cmd_error(ctx, 3, "%s", w->spawn_error);
	return st;
}

static const char *const cmd_add_required[] = { "name", "cmd", NULL };

const struct cmd_entry cmd_add_entry = {
	.name = "add",
	.summary = "Add a watcher",
	.required = cmd_add_required,
	.exec = cmd_add_exec,
};
