/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dstats: circusd's own process info. CPU is measured since the previous
 * dstats (the first one: since circusd started), never by sleeping in the
 * loop as Circus does for 10 ms.
 */
#include <unistd.h>

#include "circusd.h"
#include "stats.h"

/* Info object of circusd itself, children always empty. */
static enum cmd_status
cmd_dstats_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	pid_t pid = getpid();

	/* the previous sample is the arbiter's (a->dstats_*) */
	if (a->dstats_time == 0)
		procinfo_seed_from_start(pid, &a->dstats_ticks,
		    &a->dstats_time);
	ctx->result = json_object();
	json_object_set_new(ctx->result, "info",
	    stats_process_info(pid, false, &a->dstats_ticks,
	    &a->dstats_time));
	/* ours: how `stats` finds children ("events" or "scan") */
	json_object_set_new(ctx->result, "process_tree",
	    json_string(procinfo_tree_mode()));
	/* ours: how a watcher's whole tree is known and killed ("cgroup"
	 * or "process-group", doc/design.md §20) */
	json_object_set_new(ctx->result, "watcher_tree",
	    json_string(cgroup_mode()));
	return CMD_OK;
}

const struct cmd_entry cmd_dstats_entry = {
	.name = "dstats",
	.summary = "Get circusd stats",
	.required = NULL,
	.flags = CMD_READONLY,
	.exec = cmd_dstats_exec,
};
