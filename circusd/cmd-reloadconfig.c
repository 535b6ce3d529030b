/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reloadconfig: read the file again and have the arbiter apply the real
 * diff (doc/design.md §12; the plan and its application are reload.c's):
 * dry_run answers the plan only; a section that became invalid is
 * reported as errno 3 while the rest applies (doc/design.md §13).
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "circusd.h"
#include "log.h"
#include "xmalloc.h"

/* Join the invalid-section messages into one errno-3 reason. */
static char *
reload_invalid_text(const json_t *invalid)
{
	size_t i, len = 1;
	char *text;

	for (i = 0; i < json_array_size(invalid); i++)
		len += strlen(json_string_value(json_array_get(invalid, i))) + 1;
	text = xcalloc(1, len);
	for (i = 0; i < json_array_size(invalid); i++) {
		if (i > 0)
			strlcat(text, "\n", len);
		strlcat(text, json_string_value(json_array_get(invalid, i)), len);
	}
	return text;
}

/* Everything the plan started is over: answer a parked request. */
static void
cmd_reloadconfig_done(UNUSED struct arbiter *a, void *arg, int error)
{
	struct cmd_ctx *ctx = arg;

	if (ctx == NULL)
		return;
	ctx->failed = error;
	cmd_finish(ctx);
}

/* Apply (or plan) the diff between the running config and the file. */
static enum cmd_status
cmd_reloadconfig_exec(struct cmd_ctx *ctx)
{
	struct arbiter *a = ctx->arbiter;
	struct reload_plan *plan;
	struct config *ncfg;
	json_t *invalid = NULL;
	char *errors = NULL, *text;
	bool dry = cmd_prop_bool(ctx, "dry_run", false), parked = false;
	bool circus;
	size_t i;

	/* One bad section does not take the others down (doc/design.md §13). */
	ncfg = config_load_lenient(a->config_path, &errors);
	if (ncfg == NULL) {
		/* Nothing changes. Every form of the command answers errno 6
		 * as Circus, with the file and its first file:line error;
		 * the log gets every one. */
		log_errorx("reloadconfig refused: %s", errors ? errors : "");
		cmd_error(ctx, 6, "cannot reload the configuration from %s: "
		    "%.*s", a->config_path, errors != NULL ?
		    (int)strcspn(errors, "\n") : 0, errors != NULL ? errors : "");
		free(errors);
		return CMD_ERROR;
	}
	for (i = 0; ncfg->warnings != NULL && i < json_array_size(ncfg->warnings);
	    i++)
		log_warnx("%s", json_string_value(json_array_get(ncfg->warnings,
		    i)));
	/* keep running what the file no longer defines validly */
	if (ncfg->invalid != NULL && json_array_size(ncfg->invalid) > 0)
		invalid = json_incref(ncfg->invalid);
	plan = arbiter_reload_plan(a, ncfg);
	if (dry) {
		ctx->result = json_pack("{s:o}", "plan", reload_plan_json(plan));
		reload_plan_free(plan);
		json_decref(invalid);
		return CMD_OK;
	}
	if (ctx->waiting && !ctx->internal && invalid == NULL) {
		cmd_park(ctx);
		parked = true;
	}
	circus = plan->circus_changed;
	/* a parked ctx may be answered and freed right here */
	arbiter_reload_apply(a, plan, cmd_reloadconfig_done,
	    parked ? ctx : NULL);
	if (parked)
		return CMD_WAIT;
	if (invalid != NULL && !circus) {
		/* The rest is applied; the bad sections are the answer. */
		text = reload_invalid_text(invalid);
		json_decref(invalid);
		cmd_error(ctx, 3, "%s", text);
		log_errorx("reloadconfig: %s", text);
		free(text);
		return CMD_ERROR;
	}
	json_decref(invalid);
	return CMD_OK;
}

const struct cmd_entry cmd_reloadconfig_entry = {
	.name = "reloadconfig",
	.summary = "Reload the configuration file",
	.required = NULL,
	.exec = cmd_reloadconfig_exec,
};
