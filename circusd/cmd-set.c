/* SPDX-License-Identifier: Apache-2.0 */
/* set: change watcher options; one "updated" event per key, then reload
 * or manage as the option table says. */
#include <stdlib.h>
#include <string.h>

#include "circusd.h"
#include "log.h"
#include "util.h"

/* The follow-up finished: bare ok. */
static void
cmd_set_done(struct watcher *w, void *arg, json_t *result, int error)
{
	(void)result;
	cmd_op_done(w, arg, NULL, error);
}

/* Every key and value is checked before the watcher is looked up: a
 * bad key is reported first, as Circus does. */
static enum cmd_status
cmd_set_validate(struct cmd_ctx *ctx)
{
	json_t *opts = json_object_get(ctx->props, "options"), *v;
	const char *k;
	char *cause = NULL;

	if (!json_is_object(opts))
		return cmd_error(ctx, 3, "'options' property should be an object");
	json_object_foreach(opts, k, v) {
		if (watcher_opt_validate(k, v, &cause) == -1) {
			cmd_error(ctx, 3, "%s", cause);
			free(cause);
			return CMD_ERROR;
		}
	}
	return CMD_OK;
}

/* Apply every key, then the follow-up action. */
static enum cmd_status
cmd_set_exec(struct cmd_ctx *ctx)
{
	struct watcher *w = ctx->watcher;
	json_t *opts = json_object_get(ctx->props, "options"), *v;
	struct watcher_op *op;
	enum opt_action action;
	const char *k;
	char *cause = NULL;
	bool reload = false, streams = false;

	json_object_foreach(opts, k, v) {
		action = OPT_ACTION_MANAGE;
		if (watcher_cfg_set(w->cfg, k, v, &action, &cause) == -1) {
			cmd_error5(ctx, "%s", cause);
			free(cause);
			return CMD_ERROR;
		}
		if (action == OPT_ACTION_RELOAD)
			reload = true;
		if (strncmp(k, "stdout_stream", 13) == 0 ||
		    strncmp(k, "stderr_stream", 13) == 0)
			streams = true;
		events_publish(ctx->arbiter, w, "updated",
		    json_pack("{s:f}", "time", util_wallclock()));
	}
	if (streams) {
		/* New sinks for new processes; the processes are replaced
		 * gracefully (new ones first), the old ones keep their sinks
		 * until they exit. */
		if (watcher_renew_streams(w, &cause) == -1) {
			cmd_error(ctx, 3, "%s", cause);
			free(cause);
			return CMD_ERROR;
		}
		reload = true;
	}
	if (reload && w->state != WATCHER_STOPPED)
		op = watcher_op_new(WOP_RELOAD, cmd_set_done, NULL);
	else
		op = watcher_op_new(WOP_SCALE, cmd_set_done, NULL);
	return cmd_queue(ctx, w, op);
}

static const char *const cmd_set_required[] = { "name", "options", NULL };

const struct cmd_entry cmd_set_entry = {
	.name = "set",
	.summary = "Set a watcher option",
	.required = cmd_set_required,
	.flags = CMD_WATCHER | CMD_MUTATES,
	.validate = cmd_set_validate,
	.exec = cmd_set_exec,
};
