/* SPDX-License-Identifier: Apache-2.0 */
/* quit: stop every watcher and exit (the reply is flushed first). */
#include <stdlib.h>

#include "circusd.h"
#include "log.h"

/* All watchers stopped: reply if waiting, then end the loop. */
static void
cmd_quit_done(struct arbiter *a, void *arg, int error)
{
	struct cmd_ctx *ctx = arg;

	(void)error;
	if (ctx != NULL)
		cmd_finish(ctx);
	log_info("Arbiter exiting");
	a->done = true;
	ev_break(a->loop, EVBREAK_ALL);
}

/* Quit. A second quit while stopping just waits for the first. */
static enum cmd_status
cmd_quit_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;

	a->quit_requested = true;	/* a full restart under way ends here */
	if (a->stopping) {
		if (ctx->waiting && !ctx->internal)
			return cmd_park(ctx);	/* failed/finished at exit */
		return CMD_OK;
	}
	if (ctx->waiting && !ctx->internal) {
		cmd_park(ctx);
		arbiter_quit(a, cmd_quit_done, ctx);
		return CMD_WAIT;
	}
	arbiter_quit(a, cmd_quit_done, NULL);
	return CMD_OK;
}

const struct cmd_entry cmd_quit_entry = {
	.name = "quit",
	.summary = "Quit the arbiter immediately",
	.required = NULL,
	.flags = CMD_MUTATES,
	.exec = cmd_quit_exec,
};
