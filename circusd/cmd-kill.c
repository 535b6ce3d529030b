/* SPDX-License-Identifier: Apache-2.0 */
/* kill: gracefully kill one or all processes without stopping the watcher. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "circusd.h"

/* Kill processes of a watcher. */
static enum cmd_status
cmd_kill_exec(struct cmd_ctx *ctx)
{
	struct watcher *w;
	struct watcher_op *op;
	const char *name = cmd_prop_str(ctx, "name");
	json_t *pidj = json_object_get(ctx->props, "pid");
	json_t *sigj = json_object_get(ctx->props, "signum");
	json_t *gtj = json_object_get(ctx->props, "graceful_timeout");
	char *end;
	long pid = 0;
	int signum;
	double timeout;

	w = name != NULL ? arbiter_find_watcher(ctx->arbiter, name) : NULL;
	if (w == NULL)	/* Circus answers ok here (doc/design.md §17.1) */
		return ctx->waiting ? (ctx->failed = 1, cmd_error(ctx, 6,
		    "server error")) : CMD_OK;
	if (pidj != NULL && !json_is_null(pidj)) {
		if (json_is_integer(pidj))
			pid = (long)json_integer_value(pidj);
		else if (json_is_string(pidj)) {
			pid = strtol(json_string_value(pidj), &end, 10);
			if (*json_string_value(pidj) == '\0' || *end != '\0')
				return cmd_error5(ctx, "invalid literal for "
				    "int() with base 10: '%s'",
				    json_string_value(pidj));
		} else
			return cmd_error5(ctx, "invalid pid");
	}
	signum = w->cfg->stop_signal;
	if (sigj != NULL && !json_is_null(sigj)) {
		signum = cmd_prop_signal(sigj);
		if (signum < 0) {
			char *attr = cmd_signal_attr(json_is_string(sigj) ?
			    json_string_value(sigj) : "");

			cmd_error5(ctx, "module 'signal' has no attribute '%s'",
			    attr);
			free(attr);
			return CMD_ERROR;
		}
	}
	timeout = w->cfg->graceful_timeout;
	if (json_is_number(gtj))
		timeout = json_number_value(gtj);
	else if (json_is_string(gtj)) {
		timeout = strtod(json_string_value(gtj), &end);
		if (*end != '\0')
			return cmd_error(ctx, 3,
			    "'graceful_timeout' isn't a number");
	}
	op = watcher_op_new(WOP_KILL, cmd_op_done, NULL);
	op->pid = (pid_t)pid;
	op->signum = signum;
	op->timeout_s = timeout;
	return cmd_queue(ctx, w, op);
}

static const char *const cmd_kill_required[] = { "name", NULL };

const struct cmd_entry cmd_kill_entry = {
	.name = "kill",
	.summary = "Kill a specific process",
	.required = cmd_kill_required,
	.exec = cmd_kill_exec,
};
