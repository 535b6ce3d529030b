/* SPDX-License-Identifier: Apache-2.0 */
/* listen: a pub/sub client command; on the control socket it is an error. */
#include "circusd.h"

/* Always E3: events are read from the pub/sub socket. */
static enum cmd_status
cmd_listen_exec(struct cmd_ctx *ctx)
{
	return cmd_error(ctx, 3, "invalid message. use a pub/sub socket");
}

const struct cmd_entry cmd_listen_entry = {
	.name = "listen",
	.summary = "Subscribe to a watcher event",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_listen_exec,
};
