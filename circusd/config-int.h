/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the config layer (config.c, config-ini.c, config-env.c): the
 * parsed ini sections and the environment helpers. Other modules use
 * config.h only.
 */
#ifndef CIRCUSD_CONFIG_INT_H
#define CIRCUSD_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"

struct ini_opt {
	char		*name;
	char		*value;
	const char	*file;		/* borrowed from ini->files */
	int		 line;
};

struct ini_sect {
	char		*name;
	const char	*file;
	int		 line;
	struct ini_opt	*opts;
	size_t		 nopts;
};

struct ini {
	struct ini_sect	**sects;	/* in order of first appearance */
	size_t		  nsects;
	char		**files;
	size_t		  nfiles;
};

/* config-ini.c */
/* Parse one file into the section namespace; -1 (errno) if it cannot be
 * opened. Bad lines are appended to errors with ini_error_add. */
int ini_read(struct ini *, const char *path, json_t *errors);
/* Append one error to an error list: an object {"file", "line", "text"}
 * where text is "file:line: msg" (the loader sorts on file and line). */
void ini_error_add(json_t *errors, const char *file, int line,
    const char *msg);
struct ini_sect *ini_find(struct ini *, const char *name);
struct ini_opt *ini_get(const struct ini_sect *, const char *name);
void ini_free(struct ini *);
/* Copy of s[0..len) without surrounding whitespace. */
char *ini_strip(const char *s, size_t len);
/* JSON string (even for invalid UTF-8); set a key the same way. */
json_t *ini_jstr(const char *);
void ini_jset(json_t *obj, const char *key, json_t *v);

/* config.c: a watcher with the ini defaults. */
struct watcher_cfg *watcher_cfg_new_ini(const char *name, const char *file,
    int line);

/* config-stats.c: add the circusd-stats watcher when statsd is on. */
void config_stats_watcher(struct config *, json_t *os_env);

/* config-env.c */
/* circusd's environment as an object, in environ order. */
json_t *config_env_os(void);
/* $(circus.env.X) against env (case-insensitive). Caller frees. */
char *config_env_subst(const char *s, json_t *env);
/* Copy the pairs of every matching [env:PATTERNS] into w->env. */
void config_env_patterns(const struct ini *, struct watcher_cfg *w);
/* Final process env: $NAME expansion, stripping, copy_env. */
void config_env_finish(struct watcher_cfg *w, json_t *os_env);
/* Add the virtualenv's bin and site-packages; -1 + cause to skip. */
int config_env_virtualenv(struct watcher_cfg *w, char **cause);

#endif
