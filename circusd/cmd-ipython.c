/* SPDX-License-Identifier: Apache-2.0 */
/* ipython: there is no Python inside circusd; answer ok without a shell. */
#include "circusd.h"

/* Report that no kernel can be started. */
static enum cmd_status
cmd_ipython_exec(struct cmd_ctx *ctx)
{
	ctx->result = json_object();
	json_object_set_new(ctx->result, "shell", json_false());
	json_object_set_new(ctx->result, "msg",
	    json_string("ipython is not supported"));
	return CMD_OK;
}

const struct cmd_entry cmd_ipython_entry = {
	.name = "ipython",
	.summary = "Create shell into circusd process",
	.required = NULL,
	.flags = 0,
	.exec = cmd_ipython_exec,
};
