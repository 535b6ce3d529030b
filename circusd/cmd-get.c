/* SPDX-License-Identifier: Apache-2.0 */
/* get: selected options of one watcher, in request order. */
#include <stdlib.h>
#include <string.h>

#include "circusd.h"
#include "pyjson.h"
#include "xmalloc.h"

/* Add one key's value to options, or fail the request. */
static enum cmd_status
cmd_get_one(struct cmd_ctx *ctx, json_t *options, const json_t *key)
{
	json_t *v;
	char *cause = NULL, *repr;

	if (!json_is_string(key)) {
		repr = pyjson_repr(key);
		cmd_error(ctx, 3, "%s option not found", repr);
		free(repr);
		return CMD_ERROR;
	}
	v = watcher_cfg_get(ctx->watcher->cfg, json_string_value(key), &cause);
	if (v == NULL) {
		if (cause != NULL) {
			cmd_error(ctx, 3, "%s", cause);
			free(cause);
		} else {
			repr = pyjson_str_repr(json_string_value(key));
			cmd_error(ctx, 3, "%s option not found", repr);
			free(repr);
		}
		return CMD_ERROR;
	}
	json_object_set_new(options, json_string_value(key), v);
	return CMD_OK;
}

/* Values of the requested keys of the resolved watcher. */
static enum cmd_status
cmd_get_exec(struct cmd_ctx *ctx)
{
	json_t *keys, *options, *key, *v;
	const char *s;
	size_t i, len;

	keys = json_object_get(ctx->props, "keys");
	options = json_object();
	if (json_is_array(keys)) {
		json_array_foreach(keys, i, key)
		{
			if (cmd_get_one(ctx, options, key) != CMD_OK)
				goto fail;
		}
	} else if (json_is_string(keys)) {
		/* Python iterates a string character by character. */
		s = json_string_value(keys);
		for (i = 0; s[i] != '\0'; i += len) {
			for (len = 1; (s[i + len] & 0xc0) == 0x80; len++)
				;
			key = json_stringn(s + i, len);
			if (cmd_get_one(ctx, options, key) != CMD_OK) {
				json_decref(key);
				goto fail;
			}
			json_decref(key);
		}
	} else if (json_is_object(keys)) {
		/* And a dict by its keys. */
		json_object_foreach(keys, s, v)
		{
			key = json_string(s);
			if (cmd_get_one(ctx, options, key) != CMD_OK) {
				json_decref(key);
				goto fail;
			}
			json_decref(key);
		}
	} else {
		json_decref(options);
		return cmd_error5(ctx, "'%s' object is not iterable",
		    pyjson_type_name(keys));
	}
	ctx->result = json_object();
	json_object_set_new(ctx->result, "options", options);
	return CMD_OK;

fail:
	json_decref(options);
	return CMD_ERROR;
}

static const char *const cmd_get_required[] = { "name", "keys", NULL };

const struct cmd_entry cmd_get_entry = {
	.name = "get",
	.summary = "Get the value of specific watcher options",
	.required = cmd_get_required,
	.flags = CMD_WATCHER | CMD_READONLY,
	.exec = cmd_get_exec,
};
