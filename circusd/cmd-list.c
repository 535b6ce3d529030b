/* SPDX-License-Identifier: Apache-2.0 */
/* list: every watcher name (lower-cased, sorted), or one watcher's pids. */
#include <stdlib.h>
#include <string.h>

#include "circusd.h"
#include "pyjson.h"
#include "xmalloc.h"

/* Order strings bytewise (Python sorts str by code point, same thing). */
static int
cmd_list_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Watcher names, or the pids of the named watcher's active processes. */
static enum cmd_status
cmd_list_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct watcher *w = NULL;
	const char **names;
	json_t *name, *list;
	size_t n = 0, i;

	if (!cmd_watcher_opt(ctx, &w))
		return CMD_ERROR;
	if ((name = json_object_get(ctx->props, "name")) != NULL) {
		ctx->result = json_object();
		json_object_set_new(ctx->result, "pids", watcher_pids(w));
		return CMD_OK;
	}

	names = NULL;
	TAILQ_FOREACH(w, &a->watchers, entry) {
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = w->lname;
	}
	if (n > 1)
		qsort(names, n, sizeof *names, cmd_list_cmp);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, json_string(names[i]));
	free(names);
	ctx->result = json_object();
	json_object_set_new(ctx->result, "watchers", list);
	return CMD_OK;
}

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.summary = "Get list of watchers or processes in a watcher",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_list_exec,
};
