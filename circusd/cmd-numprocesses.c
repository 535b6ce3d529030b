/* SPDX-License-Identifier: Apache-2.0 */
/* numprocesses: process entries held (not the configured count). */
#include <stdlib.h>

#include "circusd.h"
#include "pyjson.h"
#include "xmalloc.h"

/* Entries of the named watcher, or the sum over all watchers. */
static enum cmd_status
cmd_numprocesses_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher *w = NULL;
	json_t *name;
	size_t total = 0;

	if (!cmd_watcher_opt(ctx, &w))
		return CMD_ERROR;
	if ((name = json_object_get(ctx->props, "name")) != NULL) {
		ctx->result = json_object();
		json_object_set_new(ctx->result, "numprocesses",
		    json_integer((json_int_t)w->nprocesses));
		json_object_set_new(ctx->result, "watcher_name",
		    json_deep_copy(name));
		return CMD_OK;
	}

	TAILQ_FOREACH(w, &a->watchers, entry)
		total += w->nprocesses;
	ctx->result = json_object();
	json_object_set_new(ctx->result, "numprocesses",
	    json_integer((json_int_t)total));
	return CMD_OK;
}

const struct cmd_entry cmd_numprocesses_entry = {
	.name = "numprocesses",
	.summary = "Get the number of processes",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_numprocesses_exec,
};
