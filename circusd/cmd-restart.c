/* SPDX-License-Identifier: Apache-2.0 */
/*
 * restart: one watcher, several, or the whole daemon (no name: the file is
 * re-read and what it binds differently is bound first; then every watcher
 * stops and main() starts the new arbiter on the same sockets).
 */
#include <stdlib.h>

#include "circusd.h"
#include "log.h"

/* Everything stopped for a full restart: the main loop re-creates us. */
static void
cmd_restart_all_done(struct arbiter *a, void *arg, int error)
{
	struct cmd_ctx *ctx = arg;

	(void)error;
	a->restart_requested = true;
	if (ctx != NULL)
		cmd_finish(ctx);
	a->done = true;
	ev_break(a->loop, EVBREAK_ALL);
}

/* Restart the selected watchers. */
static enum cmd_status
cmd_restart_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher **list, *w;
	struct watcher_op *op;
	char *cause = NULL;
	size_t n;
	bool waiting;

	if (json_object_get(ctx->props, "name") == NULL) {	/* any type */
		if (a->stopping)
			return cmd_error(ctx, 5, "arbiter is %s...",
			    a->restarting ? "restarting" : "stopping");
		/* what cannot be re-read or bound fails now: the daemon goes
		 * on as it was (a restart never ends supervision) */
		if ((a->successor = arbiter_successor(a, &cause)) == NULL) {
			log_errorx("restart refused: %s", cause);
			cmd_error(ctx, 6, "restart refused: %s", cause);
			free(cause);
			return CMD_ERROR;
		}
		log_info("restarting the arbiter");
		a->restarting = true;
		if (ctx->internal) {
			arbiter_quit(a, cmd_restart_all_done, NULL);
			return CMD_OK;
		}
		cmd_park(ctx);
		arbiter_quit(a, cmd_restart_all_done, ctx);
		return CMD_WAIT;
	}
	if ((list = cmd_select(ctx, &n)) == NULL)
		return CMD_ERROR;
	if (n == 1) {
		w = list[0];
		free(list);
		op = watcher_op_new(WOP_RESTART, cmd_op_done, NULL);
		return cmd_queue(ctx, w, op);
	}
	/* the group may finish, answer and free ctx before returning */
	waiting = ctx->waiting;
	if (waiting) {
		cmd_park(ctx);
		arbiter_restart_watchers(a, list, n, cmd_group_done, ctx);
	} else
		arbiter_restart_watchers(a, list, n, NULL, NULL);
	free(list);
	return waiting ? CMD_WAIT : CMD_OK;
}

static const char *const cmd_restart_required[] = { NULL };

const struct cmd_entry cmd_restart_entry = {
	.name = "restart",
	.summary = "Restart the arbiter or a watcher",
	.required = cmd_restart_required,
	.flags = CMD_MUTATES,
	.exec = cmd_restart_exec,
};
