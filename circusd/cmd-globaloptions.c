/* SPDX-License-Identifier: Apache-2.0 */
/* globaloptions: the five arbiter options, or the one asked for. */
#include <stdlib.h>

#include "circusd.h"
#include "pyjson.h"

/* Arbiter options (all, or the "option" property's one). */
static enum cmd_status
cmd_globaloptions_exec(struct cmd_ctx *ctx)
{
	json_t *all, *want, *v, *options;
	char *repr;

	all = circus_cfg_globaloptions(&ctx->arbiter->cfg->circus);
	want = json_object_get(ctx->props, "option");
	/* Circus tests the property's truth: null or "" means all. */
	if (!cmd_prop_bool(ctx, "option", false))
		options = all;
	else {
		v = json_is_string(want)
		        ? json_object_get(all, json_string_value(want))
		        : NULL;
		if (v == NULL) {
			json_decref(all);
			repr = pyjson_repr(want);
			cmd_error(ctx, 3, "%s not an existing option", repr);
			free(repr);
			return CMD_ERROR;
		}
		options = json_object();
		json_object_set(options, json_string_value(want), v);
		json_decref(all);
	}
	ctx->result = json_object();
	json_object_set_new(ctx->result, "options", options);
	return CMD_OK;
}

const struct cmd_entry cmd_globaloptions_entry = {
	.name = "globaloptions",
	.summary = "Get the arbiter options",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_globaloptions_exec,
};
