/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the ini loader: the input is up to three files
 * separated by form feeds (\f): circus.ini, a.ini and inc/b.ini, written
 * into a scratch directory, so the main file can `include = a.ini` or
 * `include_dir = inc` and use [env] sections and $(circus.env.*)
 * substitution across files. Each input is loaded strictly (circusd
 * start, --check) and leniently (reloadconfig), and every loaded watcher
 * goes through what the commands do with it: options, get, dup, diff.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "fuzz-shim.h"

static char	scratch[] = "/tmp/circus-fuzz-ini-XXXXXX";
static char	paths[3][PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char inc[PATH_MAX];

	(void)argc;
	(void)argv;
	if (mkdtemp(scratch) == NULL) {
		perror("fuzz-ini: scratch directory");
		exit(1);
	}
	fuzz_fake_set_root(scratch);
	snprintf(inc, sizeof inc, "%s/inc", scratch);
	if (mkdir(inc, 0700) == -1) {
		perror("fuzz-ini: mkdir");
		exit(1);
	}
	snprintf(paths[0], sizeof paths[0], "%s/circus.ini", scratch);
	snprintf(paths[1], sizeof paths[1], "%s/a.ini", scratch);
	snprintf(paths[2], sizeof paths[2], "%s/inc/b.ini", scratch);
	/* a small, fixed environment: every watcher copies it */
	clearenv();
	setenv("PATH", "/usr/bin:/bin", 1);
	setenv("HOME", "/root", 1);
	setenv("CIRCUS_FUZZ", "fuzz value", 1);

	log_level_current = LOG_LEVEL_CRITICAL;
	return 0;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) ||
	    fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* What commands do with a loaded config. */
static void
exercise(struct config *cfg)
{
	static const char *const keys[] = { "cmd", "args", "numprocesses",
	    "env", "stdout_stream", "hooks", "rlimit_nofile", "uid",
	    "max_age", "nonexistent", NULL };
	struct watcher_cfg *dup;
	json_t *j;
	char *cause;
	bool only;
	size_t i, k;

	for (i = 0; i < cfg->nwatchers; i++) {
		j = watcher_cfg_options(cfg->watchers[i]);
		json_decref(j);
		for (k = 0; keys[k] != NULL; k++) {
			cause = NULL;
			j = watcher_cfg_get(cfg->watchers[i], keys[k], &cause);
			json_decref(j);
			free(cause);
		}
		dup = watcher_cfg_dup(cfg->watchers[i]);
		(void)watcher_cfg_changed(cfg->watchers[i], dup, &only);
		watcher_cfg_free(dup);
	}
	for (i = 0; i < cfg->nsockets; i++) {
		struct socket_cfg *s = socket_cfg_dup(cfg->sockets[i]);

		(void)socket_cfg_changed(cfg->sockets[i], s);
		socket_cfg_free(s);
	}
	for (i = 0; i < cfg->nplugins; i++) {
		struct plugin_cfg *pc = plugin_cfg_dup(cfg->plugins[i]);

		(void)plugin_cfg_changed(cfg->plugins[i], pc);
		plugin_cfg_free(pc);
	}
	j = circus_cfg_globaloptions(&cfg->circus);
	json_decref(j);
	(void)circus_cfg_changed(&cfg->circus, &cfg->circus);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *ff;
	struct config *cfg;
	char *errors;
	int i;

	for (i = 0; i < 3; i++) {
		ff = i < 2 ? memchr(p, '\f', (size_t)(end - p)) : NULL;
		if (ff == NULL)
			ff = end;
		write_file(paths[i], p, (size_t)(ff - p));
		p = ff < end ? ff + 1 : end;
	}
	errors = NULL;
	cfg = config_load(paths[0], &errors);
	if (cfg != NULL) {
		exercise(cfg);
		config_free(cfg);
	}
	free(errors);
	errors = NULL;
	cfg = config_load_lenient(paths[0], &errors);
	if (cfg != NULL) {
		exercise(cfg);
		config_free(cfg);
	}
	free(errors);
	return 0;
}
