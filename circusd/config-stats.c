/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watcher circusd creates by itself for `[circus] statsd = true` (or a
 * stats_endpoint or metrics_endpoint): `circusd-stats`, the program of that
 * name next to circusd's own binary, with Circus's command line
 * (doc/design.md §16).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "config-int.h"
#include "xmalloc.h"

#define STATS_WATCHER "circusd-stats"

static char	*stats_program(void);
static void	 stats_arg(char **cmd, const char *flag, const char *value);

/* Path of circusd-stats beside the running binary (or on PATH). */
static char *
stats_program(void)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return (xstrdup(STATS_WATCHER));
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return (xstrdup(STATS_WATCHER));
	slash[1] = '\0';
	return (xprintf("%s%s", self, STATS_WATCHER));
}

/* Append " --flag 'value'" to *cmd. */
static void
stats_arg(char **cmd, const char *flag, const char *value)
{
	char	*q, *n;

	q = shlex_quote(value);
	n = xprintf("%s %s %s", *cmd, flag, q);
	free(q);
	free(*cmd);
	*cmd = n;
}

/* Add the circusd-stats watcher to a loaded config when statsd is on. */
void
config_stats_watcher(struct config *cfg, json_t *os_env)
{
	const struct circus_cfg	*c = &cfg->circus;
	struct watcher_cfg	*w;
	char			*prog;
	size_t			 i;

	if (!c->statsd)
		return;
	for (i = 0; i < cfg->nwatchers; i++) {
		if (strcasecmp(cfg->watchers[i]->name, STATS_WATCHER) == 0)
			return;	/* the user's own section wins */
	}
	w = watcher_cfg_new_ini(STATS_WATCHER, cfg->path, 0);
	prog = stats_program();
	free(w->cmd);
	w->cmd = shlex_quote(prog);
	free(prog);
	stats_arg(&w->cmd, "--endpoint", c->endpoint);
	stats_arg(&w->cmd, "--pubsub", c->pubsub_endpoint);
	stats_arg(&w->cmd, "--statspoint", c->stats_endpoint);
	if (c->metrics_endpoint != NULL)
		stats_arg(&w->cmd, "--metrics", c->metrics_endpoint);
	if (c->debug)
		stats_arg(&w->cmd, "--log-level", "DEBUG");
	else if (c->loglevel != NULL)
		stats_arg(&w->cmd, "--log-level", c->loglevel);
	if (c->logoutput != NULL)
		stats_arg(&w->cmd, "--log-output", c->logoutput);
	w->singleton = true;
	w->use_sockets = true;
	w->copy_env = true;
	w->copy_path = true;
	w->priority = 0;
	w->env = json_deep_copy(cfg->global_env);
	config_env_finish(w, os_env);
	w->working_dir = config_working_dir();

	cfg->watchers = xreallocarray(cfg->watchers, cfg->nwatchers + 1,
	    sizeof *cfg->watchers);
	for (i = cfg->nwatchers; i > 0 &&
	    strcmp(cfg->watchers[i - 1]->name, w->name) > 0; i--)
		cfg->watchers[i] = cfg->watchers[i - 1];
	cfg->watchers[i] = w;
	cfg->nwatchers++;
}
