/* SPDX-License-Identifier: Apache-2.0 */
/* stop: one watcher (streams closed), several or all (concurrently). */
#include <stdlib.h>

#include "circusd.h"
#include "log.h"
#include "xmalloc.h"

/* Ours: a "reason" (string) says why a client stops one watcher, e.g.
 * the flapping plugin; logged, and shown by status/stats until a start. */
static void
cmd_stop_reason(struct watcher *w, json_t *props)
{
	const char *reason;

	if ((reason = json_string_value(json_object_get(props, "reason"))) ==
	    NULL)
		return;
	log_warnx("%s: stopping: %s", w->name, reason);
	free(w->client_stop_reason);
	w->client_stop_reason = xstrdup(reason);
}

/* Stop the selected watchers. */
static enum cmd_status
cmd_stop_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher **list, *w;
	struct watcher_op *op;
	size_t n;
	bool waiting;

	if (json_object_get(ctx->props, "name") != NULL) {	/* any type */
		if ((list = cmd_select(ctx, &n)) == NULL)
			return CMD_ERROR;
		if (n == 1) {
			w = list[0];
			free(list);
			cmd_stop_reason(w, ctx->props);
			op = watcher_op_new(WOP_STOP, cmd_op_done, NULL);
			op->close_streams = true;
			return cmd_queue(ctx, w, op);
		}
	} else
		list = arbiter_sorted(a, true, &n);
	/* the group may finish, answer and free ctx before returning */
	waiting = ctx->waiting;
	if (waiting) {
		cmd_park(ctx);
		arbiter_stop_watchers(a, list, n, false, cmd_group_done, ctx);
	} else
		arbiter_stop_watchers(a, list, n, false, NULL, NULL);
	free(list);
	return waiting ? CMD_WAIT : CMD_OK;
}

static const char *const cmd_stop_required[] = { NULL };

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.summary = "Stop watchers",
	.required = cmd_stop_required,
	.flags = CMD_MUTATES,
	.exec = cmd_stop_exec,
};
