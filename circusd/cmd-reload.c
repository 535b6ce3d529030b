/* SPDX-License-Identifier: Apache-2.0 */
/* reload: graceful (or sequential, or plain) replacement of processes. */
#include <stdlib.h>

#include "circusd.h"
#include "pyjson.h"
#include "xmalloc.h"

/* Reload one watcher or all of them. */
static enum cmd_status
cmd_reload_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher *w;
	struct watcher_op *op;
	const char *name = cmd_prop_str(ctx, "name");
	bool graceful = cmd_prop_bool(ctx, "graceful", true);
	bool sequential = cmd_prop_bool(ctx, "sequential", false);

	if (json_object_get(ctx->props, "name") != NULL) {	/* any type */
		w = name != NULL ? arbiter_find_watcher(a, name) : NULL;
		if (w == NULL && name == NULL) {
			json_t *v = json_object_get(ctx->props, "name");
			char *repr = json_is_null(v) ? xstrdup("None") :
			    pyjson_str(v);

			cmd_error(ctx, 3, "program %s not found", repr);
			free(repr);
			return CMD_ERROR;
		}
		if (w == NULL)
			return cmd_error(ctx, 3, "program %s not found", name);
		op = watcher_op_new(WOP_RELOAD, cmd_op_done, NULL);
		op->graceful = graceful;
		op->sequential = sequential;
		return cmd_queue(ctx, w, op);
	}
	if (ctx->waiting) {
		cmd_park(ctx);
		arbiter_reload_all(a, graceful, sequential, cmd_group_done, ctx);
		return CMD_WAIT;
	}
	arbiter_reload_all(a, graceful, sequential, NULL, NULL);
	return CMD_OK;
}

const struct cmd_entry cmd_reload_entry = {
	.name = "reload",
	.summary = "Reload the arbiter or a watcher",
	.required = NULL,
	.exec = cmd_reload_exec,
};
