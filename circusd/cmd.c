/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command table (sorted by name, one entry per cmd-<name>.c), lookup,
 * the pipeline of a request, watcher selection for start/stop/restart, and
 * internal commands run for signals. The arbiter and the controller reach
 * the pipeline and the internal commands only through cmd_commands, which
 * main() gives to arbiter_new (doc/design.md §10).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "circusd.h"
#include "log.h"
#include "pyjson.h"
#include "xmalloc.h"

extern const struct cmd_entry cmd_add_entry, cmd_decr_entry, cmd_dstats_entry,
    cmd_get_entry, cmd_globaloptions_entry, cmd_incr_entry, cmd_ipython_entry,
    cmd_kill_entry, cmd_list_entry, cmd_listen_entry, cmd_listsockets_entry,
    cmd_numprocesses_entry, cmd_numwatchers_entry, cmd_options_entry,
    cmd_quit_entry, cmd_reload_entry, cmd_reloadconfig_entry,
    cmd_restart_entry, cmd_rm_entry, cmd_set_entry, cmd_signal_entry,
    cmd_start_entry, cmd_stats_entry, cmd_status_entry, cmd_stop_entry;

const struct cmd_entry *const cmd_table[] = {
	&cmd_add_entry, &cmd_decr_entry, &cmd_dstats_entry, &cmd_get_entry,
	&cmd_globaloptions_entry, &cmd_incr_entry, &cmd_ipython_entry,
	&cmd_kill_entry, &cmd_list_entry, &cmd_listen_entry,
	&cmd_listsockets_entry, &cmd_numprocesses_entry,
	&cmd_numwatchers_entry, &cmd_options_entry, &cmd_quit_entry,
	&cmd_reload_entry, &cmd_reloadconfig_entry, &cmd_restart_entry,
	&cmd_rm_entry, &cmd_set_entry, &cmd_signal_entry, &cmd_start_entry,
	&cmd_stats_entry, &cmd_status_entry, &cmd_stop_entry,
};
const size_t cmd_table_len = nitems(cmd_table);

static const struct cmd_entry *
cmd_search(const char *name, int (*cmp)(const char *, const char *))
{
	size_t lo = 0, hi = cmd_table_len, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = cmp(name, cmd_table[mid]->name);
		if (c == 0)
			return cmd_table[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Look up a command by wire name, case-insensitively: as it is first
 * (the names are lower-case, in the same order for strcmp), which is
 * what clients send and cheaper than strcasecmp. */
const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry *e = cmd_search(name, strcmp);

	return e != NULL ? e : cmd_search(name, strcasecmp);
}

/* Lower-case copy. */
static char *
cmd_lower(const char *s)
{
	char *l = xstrdup(s), *c;

	for (c = l; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return l;
}

/* Select watchers by name and match method (simple/glob/regex). */
struct watcher **
cmd_select(struct cmd_ctx *ctx, size_t *n)
{
	struct arbiter *a = ctx->arbiter;
	const char *name = cmd_prop_str(ctx, "name");
	const char *match = cmd_prop_str(ctx, "match");
	struct watcher **list, *w;
	char *pat;
	regex_t re;
	regmatch_t m;
	bool ok;

	if (name == NULL) {
		/* "name" given but not a string (Circus: 'name' in props) */
		json_t *v = json_object_get(ctx->props, "name");
		char *repr = v != NULL && !json_is_null(v) ? pyjson_str(v) :
		    xstrdup("None");

		cmd_error(ctx, 3, "program %s not found", repr);
		free(repr);
		return NULL;
	}
	if (match == NULL)
		match = "glob";
	if (strcmp(match, "simple") != 0 && strcmp(match, "glob") != 0 &&
	    strcmp(match, "regex") != 0) {
		cmd_error(ctx, 3, "unknown match method %s", match);
		return NULL;
	}
	list = xcalloc(a->nwatchers + 1, sizeof *list);
	*n = 0;
	pat = cmd_lower(name);
	if (strcmp(match, "regex") == 0 &&
	    regcomp(&re, pat, REG_EXTENDED) != 0) {
		free(pat);
		free(list);
		cmd_error(ctx, 3, "program %s not found", name);
		return NULL;
	}
	TAILQ_FOREACH(w, &a->watchers, entry) {
		if (strcmp(match, "simple") == 0)
			ok = strcmp(w->lname, pat) == 0;
		else if (strcmp(match, "glob") == 0)
			ok = fnmatch(pat, w->lname, 0) == 0;
		else
			ok = regexec(&re, w->lname, 1, &m, 0) == 0 &&
			    m.rm_so == 0;
		if (ok)
			list[(*n)++] = w;
	}
	if (strcmp(match, "regex") == 0)
		regfree(&re);
	free(pat);
	if (*n == 0) {
		free(list);
		cmd_error(ctx, 3, "program %s not found", name);
		return NULL;
	}
	return list;
}

/* Run a parsed request through the pipeline: the status to reply with,
 * or CMD_WAIT once the command has parked ctx. */
static enum cmd_status
cmd_dispatch(struct cmd_ctx *ctx)
{
	const struct cmd_entry *ce;
	const char *const *req;
	char *repr;

	ce = cmd_find(ctx->command);
	if (ce == NULL) {
		repr = pyjson_str_repr(ctx->command);
		cmd_error(ctx, 2, "unknown command: %s", repr);
		free(repr);
		return CMD_ERROR;
	}
	ctx->command = ce->name;
	if (ctx->readonly && !(ce->flags & CMD_READONLY))
		return cmd_error(ctx, 3, "command %s refused: this client's "
		    "key is read-only (curve_readonly_clients)", ce->name);
	for (req = ce->required; req != NULL && *req != NULL; req++) {
		if (json_object_get(ctx->props, *req) == NULL)
			return cmd_error(ctx, 3,
			    "message invalid '%s' is missing", *req);
	}
	if (ce->validate != NULL && ce->validate(ctx) == CMD_ERROR)
		return CMD_ERROR;
	if ((ce->flags & CMD_WATCHER) && !cmd_watcher_opt(ctx, &ctx->watcher))
		return CMD_ERROR;
	ctx->waiting = cmd_prop_bool(ctx, "waiting", false);
	return ce->exec(ctx);
}

/* Run a command with no reply path (signals); it queues like any other. */
static void
cmd_run_internal(struct arbiter *a, const char *command, json_t *props)
{
	const struct cmd_entry *ce = cmd_find(command);
	struct cmd_ctx *ctx;
	enum cmd_status st;

	if (ce == NULL) {
		json_decref(props);
		return;
	}
	ctx = cmd_ctx_new(a);
	ctx->internal = true;
	ctx->command = ce->name;
	ctx->props = props;
	st = ce->exec(ctx);
	if (st == CMD_ERROR)
		log_warnx("%s: %s", command, ctx->reason);
	if (st != CMD_WAIT)
		cmd_ctx_free(ctx);
}

const struct arbiter_commands cmd_commands = {
	.dispatch = cmd_dispatch,
	.run_internal = cmd_run_internal,
};
