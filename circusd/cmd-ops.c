/* SPDX-License-Identifier: Apache-2.0 */
/* Glue between commands and watcher operations: park, queue, complete. */
#include <stdlib.h>

#include "circusd.h"

/* A watcher operation finished: reply if the client is waiting. */
void
cmd_op_done(struct watcher *w, void *arg, json_t *result, int error)
{
	struct cmd_ctx *ctx = arg;

	(void)w;
	if (ctx == NULL)
		return;
	if (error)
		ctx->failed = 1;
	else if (result != NULL) {
		json_decref(ctx->result);
		ctx->result = json_incref(result);
	}
	cmd_finish(ctx);
}

/* Like cmd_op_done but lifts result.info to the top level (add --start). */
void
cmd_op_done_info_toplevel(struct watcher *w, void *arg, json_t *result,
    int error)
{
	json_t *info = result != NULL ? json_object_get(result, "info") : NULL;

	cmd_op_done(w, arg, json_is_object(info) ? info : result, error);
}

/* A group operation finished: bare ok or server error. */
void
cmd_group_done(struct arbiter *a, void *arg, int error)
{
	struct cmd_ctx *ctx = arg;

	(void)a;
	if (ctx == NULL)
		return;
	if (error)
		ctx->failed = 1;
	cmd_finish(ctx);
}

/* Queue an operation; wait for it only if the client asked to. */
enum cmd_status
cmd_queue(struct cmd_ctx *ctx, struct watcher *w, struct watcher_op *op)
{
	if (ctx->waiting) {
		op->ctx = ctx;
		cmd_park(ctx);
		watcher_queue(w, op);
		return CMD_WAIT;
	}
	op->done = NULL;
	op->ctx = NULL;
	watcher_queue(w, op);
	return CMD_OK;
}
