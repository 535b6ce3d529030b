/* SPDX-License-Identifier: Apache-2.0 */
/* options: every option of a watcher, keys sorted (options-table.c). */
#include "circusd.h"

/* All options of the resolved watcher. */
static enum cmd_status
cmd_options_exec(struct cmd_ctx *ctx)
{
	ctx->result = json_object();
	json_object_set_new(ctx->result, "options",
	    watcher_cfg_options(ctx->watcher->cfg));
	return CMD_OK;
}

static const char *const cmd_options_required[] = { "name", NULL };

const struct cmd_entry cmd_options_entry = {
	.name = "options",
	.summary = "Get the value of all options for a watcher",
	.required = cmd_options_required,
	.flags = CMD_WATCHER | CMD_READONLY,
	.exec = cmd_options_exec,
};
