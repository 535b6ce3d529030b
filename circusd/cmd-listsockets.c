/* SPDX-License-Identifier: Apache-2.0 */
/* listsockets: the managed sockets in Circus's order. Circus sorts by
 * fd, and creates every socket (an so_reuseport one too, though it is
 * not bound) in name order at start-up: here so_reuseport masters have
 * no fd, so the order is the creation order. */
#include <stdlib.h>

#include "circusd.h"
#include "xmalloc.h"

/* Order sockets by creation. */
static int
cmd_listsockets_cmp(const void *a, const void *b)
{
	const struct csocket *sa = *(const struct csocket *const *)a;
	const struct csocket *sb = *(const struct csocket *const *)b;

	return (sa->seq > sb->seq) - (sa->seq < sb->seq);
}

/* Every socket, as csocket_json describes it. */
static enum cmd_status
cmd_listsockets_exec(struct cmd_ctx *ctx)
{
	struct csocket *s, **v = NULL;
	json_t *list;
	size_t n = 0, i;

	TAILQ_FOREACH(s, &ctx->arbiter->sockets, entry) {
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = s;
	}
	if (n > 1)
		qsort(v, n, sizeof *v, cmd_listsockets_cmp);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, csocket_json(v[i]));
	free(v);
	ctx->result = json_object();
	json_object_set_new(ctx->result, "sockets", list);
	return CMD_OK;
}

const struct cmd_entry cmd_listsockets_entry = {
	.name = "listsockets",
	.summary = "Get the list of sockets",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_listsockets_exec,
};
