/* SPDX-License-Identifier: Apache-2.0 */
/* incr and decr: change the configured number of processes. */
#include <stdlib.h>

#include "circusd.h"

/* Change numprocesses by sign*nb and wait (if asked) until it is reached. */
static enum cmd_status
cmd_scale(struct cmd_ctx *ctx, int sign)
{
	struct watcher *w = ctx->watcher;
	struct watcher_op *op;
	json_t *nbj = json_object_get(ctx->props, "nb");
	json_int_t nb = 1;
	int n;

	if (nbj != NULL && !json_is_null(nbj)) {
		if (!json_is_integer(nbj))
			return cmd_error(ctx, 3, "'nb' isn't an integer");
		nb = json_integer_value(nbj);
	}
	if (w->cfg->singleton) {
		ctx->result = json_pack("{s:i, s:b}", "numprocesses",
		    w->cfg->numprocesses, "singleton", 1);
		return CMD_OK;
	}
	n = w->cfg->numprocesses + sign * (int)nb;
	w->cfg->numprocesses = n < 0 ? 0 : n;
	/* a scale in flight chases the new count now, not after itself */
	if (w->op_running && TAILQ_FIRST(&w->ops) != NULL &&
	    TAILQ_FIRST(&w->ops)->type == WOP_SCALE)
		watcher_manage(w);
	op = watcher_op_new(WOP_SCALE, cmd_op_done, NULL);
	return cmd_queue(ctx, w, op);
}

/* incr. */
static enum cmd_status
cmd_incr_exec(struct cmd_ctx *ctx)
{
	return cmd_scale(ctx, 1);
}

/* decr. */
static enum cmd_status
cmd_decr_exec(struct cmd_ctx *ctx)
{
	return cmd_scale(ctx, -1);
}

static const char *const cmd_scale_required[] = { "name", NULL };

const struct cmd_entry cmd_incr_entry = {
	.name = "incr",
	.summary = "Increment the number of processes in a watcher",
	.required = cmd_scale_required,
	.flags = CMD_WATCHER,
	.exec = cmd_incr_exec,
};

const struct cmd_entry cmd_decr_entry = {
	.name = "decr",
	.summary = "Decrement the number of processes in a watcher",
	.required = cmd_scale_required,
	.flags = CMD_WATCHER,
	.exec = cmd_decr_exec,
};
