/* SPDX-License-Identifier: Apache-2.0 */
/* Glue between commands and watcher operations: park, queue, complete. */
#include <stdlib.h>

#include "circusd.h"

/* A watcher operation finished: reply if the client is waiting. */
void
cmd_op_done(struct watcher *w, void *arg, json_t *result, int error)
{
	struct cmd_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	if (!error && w != NULL && w->op_error != NULL) {
		/* it failed for a reason the client should read */
		cmd_finish_error(ctx, 3, w->op_error);
		return;
	}
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

/* Not waiting, and the operation ended before the reply left: its
 * error, if it has one, is the reply. */
static void
cmd_op_done_now(struct watcher *w, void *arg, UNUSED json_t *result,
    UNUSED int error)
{
	struct cmd_ctx *ctx = arg;

	ctx->op_queued = false;
	if (w != NULL && w->op_error != NULL)
		cmd_error(ctx, 3, "%s", w->op_error);
}

/* Queue an operation; wait for it only if the client asked to. Without
 * waiting the reply is "ok" at once, unless the operation already
 * failed for a reason (a stream file that cannot be opened). */
enum cmd_status
cmd_queue(struct cmd_ctx *ctx, struct watcher *w, struct watcher_op *op)
{
	if (ctx->waiting) {
		op->ctx = ctx;
		cmd_park(ctx);
		watcher_queue(w, op);
		return CMD_WAIT;
	}
	op->done = cmd_op_done_now;
	op->ctx = ctx;
	ctx->op_queued = true;
	watcher_queue(w, op);
	if (ctx->op_queued) {
		/* still queued or running: it goes on without us */
		op->done = NULL;
		op->ctx = NULL;
		ctx->op_queued = false;
	}
	return ctx->errnum != 0 ? CMD_ERROR : CMD_OK;
}
