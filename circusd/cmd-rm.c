/* SPDX-License-Identifier: Apache-2.0 */
/* rm: remove a watcher, stopping it unless nostop. */
#include <stdlib.h>

#include "circusd.h"
#include "log.h"
#include "util.h"

/* The stop after rm finished: bare ok for a waiting client. */
static void
cmd_rm_stopped(struct watcher *w, void *arg, json_t *result, int error)
{
	(void)result;
	cmd_op_done(w, arg, NULL, error);
}

/* Remove a watcher. */
static enum cmd_status
cmd_rm_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher *w = ctx->watcher;
	struct watcher_op *op;

	arbiter_remove_watcher(a, w);
	w->removed = true;
	events_publish(a, w, "remove", json_pack("{s:f}", "time",
	    util_wallclock()));
	log_info("watcher %s removed", w->name);
	if (cmd_prop_bool(ctx, "nostop", false)) {
		if (!w->op_running && TAILQ_EMPTY(&w->ops))
			watcher_free(w);
		return CMD_OK;
	}
	op = watcher_op_new(WOP_STOP, cmd_rm_stopped, NULL);
	if (ctx->waiting) {
		op->ctx = ctx;
		cmd_park(ctx);
		watcher_queue(w, op);
		return CMD_WAIT;
	}
	op->done = NULL;
	watcher_queue(w, op);
	return CMD_OK;
}

static const char *const cmd_rm_required[] = { "name", NULL };

const struct cmd_entry cmd_rm_entry = {
	.name = "rm",
	.summary = "Remove a watcher",
	.required = cmd_rm_required,
	.flags = CMD_WATCHER,
	.exec = cmd_rm_exec,
};
