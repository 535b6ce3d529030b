/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Environments at load time (doc/design.md §17.5): circusd's own
 * environment, $(circus.env.*) substitution, [env:PATTERNS] sections, the
 * $NAME expansion quirk and virtualenv paths. Nothing is exported to the
 * process environment here.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "config-int.h"
#include "xmalloc.h"

extern char **environ;

/* circusd's environment as a JSON object, in environ order. */
json_t *
config_env_os(void)
{
	json_t	 *env;
	char	**ep, *k;
	const char *eq;

	env = json_object();
	for (ep = environ; ep != NULL && *ep != NULL; ep++) {
		if ((eq = strchr(*ep, '=')) == NULL)
			continue;
		k = xstrndup(*ep, eq - *ep);
		ini_jset(env, k, ini_jstr(eq + 1));
		free(k);
	}
	return (env);
}

/* Case-insensitive lookup in an env object; the last match wins. */
static const char *
config_env_lookup(void *ctx, const char *key)
{
	json_t		*env = ctx, *v;
	const char	*k, *found = NULL;

	if (env == NULL || strncmp(key, "env.", 4) != 0)
		return (NULL);
	key += 4;
	json_object_foreach(env, k, v) {
		if (strcasecmp(k, key) == 0)
			found = json_string_value(v);
	}
	return (found);
}

/* Substitute $(circus.env.*) in s against env. Caller frees. */
char *
config_env_subst(const char *s, json_t *env)
{
	return (subst_circus(s, config_env_lookup, env));
}

/* circusd's working directory as Circus computes it. */
char *
config_working_dir(void)
{
	struct stat	 a, b;
	const char	*pwd;
	char		*cwd;

	if ((cwd = getcwd(NULL, 0)) == NULL)
		return (xstrdup("/"));
	pwd = getenv("PWD");
	if (pwd != NULL && stat(pwd, &a) == 0 && stat(cwd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		free(cwd);
		return (xstrdup(pwd));
	}
	return (cwd);
}

/* Apply [env:PATTERNS] sections to a watcher environment. */
void
config_env_patterns(const struct ini *ini, struct watcher_cfg *w)
{
	struct ini_sect	*s;
	char		*list, *item, *save, *pat;
	size_t		 i, j;

	for (i = 0; i < ini->nsects; i++) {
		s = ini->sects[i];
		if (strncmp(s->name, "env:", 4) != 0)
			continue;
		list = xstrdup(s->name + 4);
		for (item = strtok_r(list, ",", &save); item != NULL;
		    item = strtok_r(NULL, ",", &save)) {
			pat = ini_strip(item, strlen(item));
			if (fnmatch(pat, w->name, 0) == 0) {
				for (j = 0; j < s->nopts; j++)
					ini_jset(w->env, s->opts[j].name,
					    ini_jstr(s->opts[j].value));
			}
			free(pat);
		}
		free(list);
	}
}

/* Replace $NAME (upper-case start) by circusd's own environment. */
static char *
config_env_dollar(const char *v, json_t *os_env)
{
	char		*out, *name, *tmp;
	const char	*p, *e, *val;
	size_t		 len = 0, size = strlen(v) + 1;

	out = xmalloc(size);
	for (p = v; *p != '\0';) {
		if (p[0] == '$' && p[1] >= 'A' && p[1] <= 'Z') {
			for (e = p + 1; (*e >= 'A' && *e <= 'Z') ||
			    (*e >= '0' && *e <= '9') || *e == '_'; e++)
				;
			name = xstrndup(p + 1, e - p - 1);
			val = json_string_value(json_object_get(os_env, name));
			free(name);
			if (val == NULL)
				val = "";
			size += strlen(val);
			out = xrealloc(out, size);
			memcpy(out + len, val, strlen(val));
			len += strlen(val);
			p = e;
			continue;
		}
		out[len++] = *p++;
	}
	out[len] = '\0';
	tmp = ini_strip(out, len);
	free(out);
	return (tmp);
}

/* Build the final process environment (doc/design.md §17.5). */
void
config_env_finish(struct watcher_cfg *w, json_t *os_env)
{
	json_t		*env, *v;
	const char	*k;
	char		*nk, *nv;

	env = w->copy_env ? json_deep_copy(os_env) : json_object();
	json_object_foreach(w->env, k, v) {
		nk = ini_strip(k, strlen(k));
		nv = config_env_dollar(json_string_value(v), os_env);
		ini_jset(env, nk, ini_jstr(nv));
		free(nk);
		free(nv);
	}
	json_decref(w->env);
	w->env = env;
}

/* Add <venv>/bin and the site-packages to the environment (§8.3 step 4). */
int
config_env_virtualenv(struct watcher_cfg *w, char **cause)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	char		*site = NULL, *bin, *pth, *line = NULL, *pkg, *real;
	char		*paths = NULL, *tmp, *libdir, *ver = NULL;
	const char	*old, *kinds[] = { "python", "pypy" };
	size_t		 cap = 0, i, len;
	ssize_t		 n;

	if (!w->copy_env) {
		*cause = xstrdup("copy_env must be True to to use virtualenv");
		return (-1);
	}
	if (w->virtualenv_py_ver != NULL && *w->virtualenv_py_ver != '\0')
		ver = xstrdup(w->virtualenv_py_ver);
	else {
		/* No Python here: take the single lib/python* directory. */
		libdir = xprintf("%s/lib", w->virtualenv);
		if ((d = opendir(libdir)) != NULL) {
			while ((de = readdir(d)) != NULL) {
				if (strncmp(de->d_name, "python", 6) != 0)
					continue;
				free(ver);
				ver = ver == NULL ? xstrdup(de->d_name + 6) :
				    NULL;
				if (ver == NULL)
					break;
			}
			closedir(d);
		}
		free(libdir);
		if (ver == NULL)
			ver = xstrdup("3");
	}
	for (i = 0; i < nitems(kinds) && site == NULL; i++) {
		site = xprintf("%s/lib/%s%s/site-packages", w->virtualenv,
		    kinds[i], ver);
		if (stat(site, &sb) != 0) {
			free(site);
			site = NULL;
		}
	}
	if (site == NULL) {
		*cause = xprintf("%s/lib/python%s/site-packages,%s/lib/pypy%s/"
		    "site-packages does not exist", w->virtualenv, ver,
		    w->virtualenv, ver);
		free(ver);
		return (-1);
	}
	free(ver);

	bin = xprintf("%s/bin", w->virtualenv);
	if (stat(bin, &sb) == 0) {
		old = json_string_value(json_object_get(w->env, "PATH"));
		tmp = xprintf("%s:%s", bin, old != NULL ? old : "");
		ini_jset(w->env, "PATH", ini_jstr(tmp));
		free(tmp);
	}
	free(bin);

	if ((d = opendir(site)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			len = strlen(de->d_name);
			if (len < 4 || strcmp(de->d_name + len - 4, ".pth"))
				continue;
			pth = xprintf("%s/%s", site, de->d_name);
			if ((f = fopen(pth, "r")) != NULL) {
				while ((n = getline(&line, &cap, f)) != -1) {
					if (line[0] == '#' ||
					    strncmp(line, "import", 6) == 0)
						continue;
					while (n > 0 && isspace(
					    (unsigned char)line[n - 1]))
						line[--n] = '\0';
					pkg = line[0] == '/' ? xstrdup(line) :
					    xprintf("%s/%s", site, line);
					if ((real = realpath(pkg, NULL))) {
						tmp = paths == NULL ?
						    xstrdup(real) :
						    xprintf("%s:%s", paths,
						    real);
						free(paths);
						paths = tmp;
						free(real);
					}
					free(pkg);
				}
				fclose(f);
			}
			free(pth);
		}
		closedir(d);
	}
	free(line);
	old = json_string_value(json_object_get(w->env, "PYTHONPATH"));
	if (paths != NULL) {
		tmp = old != NULL && *old != '\0' ?
		    xprintf("%s:%s:%s", paths, old, site) :
		    xprintf("%s:%s", paths, site);
	} else if (old != NULL && *old != '\0')
		tmp = xprintf("%s:%s", old, site);
	else
		tmp = xstrdup(site);
	ini_jset(w->env, "PYTHONPATH", ini_jstr(tmp));
	free(tmp);
	free(paths);
	free(site);
	return (0);
}
