/* SPDX-License-Identifier: Apache-2.0 */
/* numwatchers: every watcher, circusd-stats and plugins included. */
#include "circusd.h"

/* Number of watchers. */
static enum cmd_status
cmd_numwatchers_exec(struct cmd_ctx *ctx)
{
	ctx->result = json_object();
	json_object_set_new(ctx->result, "numwatchers",
	    json_integer((json_int_t)ctx->arbiter->nwatchers));
	return CMD_OK;
}

const struct cmd_entry cmd_numwatchers_entry = {
	.name = "numwatchers",
	.summary = "Get the number of watchers",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_numwatchers_exec,
};
