/* SPDX-License-Identifier: Apache-2.0 */
/* start: one watcher (regardless of autostart), several, or all. */
#include <stdlib.h>

#include "circusd.h"

/* Start the selected watchers. */
static enum cmd_status
cmd_start_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher **list;
	struct watcher_op *op;
	size_t n;
	bool waiting;

	if (json_object_get(ctx->props, "name") != NULL) {	/* any type */
		if ((list = cmd_select(ctx, &n)) == NULL)
			return CMD_ERROR;
		if (n == 1) {
			struct watcher *w = list[0];

			free(list);
			op = watcher_op_new(WOP_START, cmd_op_done, NULL);
			return cmd_queue(ctx, w, op);
		}
	} else
		list = arbiter_sorted(a, false, &n);
	/* the group may finish, answer and free ctx before returning */
	waiting = ctx->waiting;
	if (waiting) {
		cmd_park(ctx);
		arbiter_start_watchers(a, list, n, cmd_group_done, ctx);
	} else
		arbiter_start_watchers(a, list, n, NULL, NULL);
	free(list);
	return waiting ? CMD_WAIT : CMD_OK;
}

static const char *const cmd_start_required[] = { NULL };

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.summary = "Start the arbiter or a watcher",
	.required = cmd_start_required,
	.exec = cmd_start_exec,
};
