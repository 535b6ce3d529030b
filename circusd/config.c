/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading Circus ini files into the plain structs of config.h: the load
 * pipeline of Circus (doc/design.md §17.5) over the reader of config-ini.c
 * (includes, [circus], sockets, plugins, watchers), constructors, and the
 * comparisons reloadconfig needs. Errors carry file:line. Nothing here spawns or binds.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "config-int.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

/* One watcher being loaded, with the section it comes from. */
struct wload {
	struct watcher_cfg	*w;
	struct ini_sect		*sect;
	size_t			 order;
	bool			 skip;
};

struct load {
	struct config	*cfg;
	struct ini	 ini;
	json_t		*errors;	/* array of ini_error_add objects */
	json_t		*os_env;	/* circusd's environment */
	json_t		*local_env;	/* [env] */
	const char	*main_file;
	bool		 lenient;	/* errors drop only the section */
};

static void	 load_error(struct load *, const char *, int, const char *, ...)
		     PRINTFLIKE(4, 5);
static void	 load_warn(struct load *, const char *, int, const char *, ...)
		     PRINTFLIKE(4, 5);
static void	 load_skip(struct load *, const char *, int, const char *, ...)
		     PRINTFLIKE(4, 5);
static void	 load_unsupported(struct load *, const char *, int,
		     const char *, ...) PRINTFLIKE(4, 5);


/* ---- errors, environments, substitution ---- */

/* Record a fatal load error "file:line: message". */
static void
load_error(struct load *l, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = xstrdup("out of memory");
	va_end(ap);
	ini_error_add(l->errors, file, line, msg);
	free(msg);
}

/* "file:line: message" appended to list a and, if not NULL, to b. */
static void
load_vnote(json_t *a, json_t *b, const char *file, int line,
    const char *fmt, va_list ap)
{
	char	*msg, *full;

	if (vasprintf(&msg, fmt, ap) == -1)
		return;
	full = xprintf("%s:%d: %s", file, line, msg);
	json_array_append_new(a, ini_jstr(full));
	if (b != NULL)
		json_array_append_new(b, ini_jstr(full));
	free(full);
	free(msg);
}

/* Record a warning "file:line: message" in config->warnings. */
static void
load_warn(struct load *l, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	load_vnote(l->cfg->warnings, NULL, file, line, fmt, ap);
	va_end(ap);
}

/* Record something read but not done as written in config->unsupported. */
static void
load_unsupported(struct load *l, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	load_vnote(l->cfg->unsupported, NULL, file, line, fmt, ap);
	va_end(ap);
}

/* Record a dropped section in config->warnings and config->invalid. */
static void
load_skip(struct load *l, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	load_vnote(l->cfg->warnings, l->cfg->invalid, file, line, fmt, ap);
	va_end(ap);
}

/*
 * In lenient mode, turn the errors recorded since index `from` into
 * "dropped" warnings. Returns true if there were any.
 */
static bool
load_demote(struct load *l, size_t from, const char *what)
{
	const char	*e;
	char		*full;
	bool		 any = false;

	while (json_array_size(l->errors) > from) {
		any = true;
		if (!l->lenient)
			break;
		e = json_string_value(json_object_get(json_array_get(l->errors,
		    from), "text"));
		full = xprintf("%s; %s skipped", e, what);
		json_array_append_new(l->cfg->warnings, ini_jstr(full));
		json_array_append_new(l->cfg->invalid, ini_jstr(full));
		free(full);
		json_array_remove(l->errors, from);
	}
	return (any);
}

/* ---- constructors and destructors ---- */

/* A watcher with the ini defaults (config.py watcher_defaults). */
struct watcher_cfg *
watcher_cfg_new_ini(const char *name, const char *file, int line)
{
	struct watcher_cfg	*w;

	w = xcalloc(1, sizeof *w);
	w->name = xstrdup(name);
	w->file = xstrdup(file);
	w->line = line;
	w->cmd = xstrdup("");
	w->args = json_string("");
	w->numprocesses = 1;
	w->warmup_delay = 0;
	w->warmup_delay_is_int = true;
	w->stop_signal = 15;
	w->max_retry = 5;
	w->graceful_timeout = 30.0;
	w->max_age_variance = 30;
	w->respawn = true;
	w->autostart = true;
	w->close_child_stdin = true;
	w->readiness_timeout = 30.0;
	w->rolling = 1;
	w->hooks = json_object();
	w->rlimits = json_object();
	w->freeform = json_object();
	w->raw = json_object();
	return (w);
}

/* Defaults of a watcher created by `add` (constructor defaults). */
struct watcher_cfg *
watcher_cfg_new_add(const char *name, const char *cmd)
{
	struct watcher_cfg	*w;

	w = xcalloc(1, sizeof *w);
	w->name = xstrdup(name);
	w->cmd = xstrdup(cmd != NULL ? cmd : "");
	w->numprocesses = 1;
	w->warmup_delay = 0.0;
	w->working_dir = config_working_dir();
	w->stop_signal = 15;
	w->max_retry = 5;
	w->graceful_timeout = 30.0;
	w->max_age_variance = 30;
	w->respawn = true;
	w->autostart = true;
	w->close_child_stdin = true;
	w->readiness_timeout = 30.0;
	w->rolling = 1;
	w->hooks = json_object();
	w->rlimits = json_object();
	w->freeform = json_object();
	w->raw = json_object();
	w->from_add = true;
	return (w);
}

/* Deep copy of a JSON value or NULL. */
static json_t *
cfg_jdup(const json_t *v)
{
	return (v != NULL ? json_deep_copy(v) : NULL);
}

/* Copy of a string or NULL. */
static char *
cfg_sdup(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

/* Deep copy of a watcher config. */
struct watcher_cfg *
watcher_cfg_dup(const struct watcher_cfg *o)
{
	struct watcher_cfg	*w;

	w = xmalloc(sizeof *w);
	*w = *o;
	w->name = cfg_sdup(o->name);
	w->file = cfg_sdup(o->file);
	w->cmd = cfg_sdup(o->cmd);
	w->args = cfg_jdup(o->args);
	w->executable = cfg_sdup(o->executable);
	w->working_dir = cfg_sdup(o->working_dir);
	w->shell_args = cfg_sdup(o->shell_args);
	w->uid = cfg_jdup(o->uid);
	w->gid = cfg_jdup(o->gid);
	w->stdin_socket = cfg_sdup(o->stdin_socket);
	w->virtualenv = cfg_sdup(o->virtualenv);
	w->virtualenv_py_ver = cfg_sdup(o->virtualenv_py_ver);
	w->env = cfg_jdup(o->env);
	w->stdout_stream = cfg_jdup(o->stdout_stream);
	w->stderr_stream = cfg_jdup(o->stderr_stream);
	w->hooks = cfg_jdup(o->hooks);
	w->rlimits = cfg_jdup(o->rlimits);
	w->freeform = cfg_jdup(o->freeform);
	w->raw = cfg_jdup(o->raw);
	return (w);
}

/* Free a watcher config. */
void
watcher_cfg_free(struct watcher_cfg *w)
{
	if (w == NULL)
		return;
	free(w->name);
	free(w->file);
	free(w->cmd);
	json_decref(w->args);
	free(w->executable);
	free(w->working_dir);
	free(w->shell_args);
	json_decref(w->uid);
	json_decref(w->gid);
	free(w->stdin_socket);
	free(w->virtualenv);
	free(w->virtualenv_py_ver);
	json_decref(w->env);
	json_decref(w->stdout_stream);
	json_decref(w->stderr_stream);
	json_decref(w->hooks);
	json_decref(w->rlimits);
	json_decref(w->freeform);
	json_decref(w->raw);
	free(w);
}

/* Deep copy of a socket config. */
struct socket_cfg *
socket_cfg_dup(const struct socket_cfg *o)
{
	struct socket_cfg	*s;

	s = xmalloc(sizeof *s);
	*s = *o;
	s->name = cfg_sdup(o->name);
	s->file = cfg_sdup(o->file);
	s->host = cfg_sdup(o->host);
	s->path = cfg_sdup(o->path);
	s->interface = cfg_sdup(o->interface);
	s->raw = cfg_jdup(o->raw);
	return (s);
}

/* Free a socket config. */
void
socket_cfg_free(struct socket_cfg *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->file);
	free(s->host);
	free(s->path);
	free(s->interface);
	json_decref(s->raw);
	free(s);
}

/* Deep copy of a plugin config. */
struct plugin_cfg *
plugin_cfg_dup(const struct plugin_cfg *o)
{
	struct plugin_cfg	*p;

	p = xmalloc(sizeof *p);
	*p = *o;
	p->name = cfg_sdup(o->name);
	p->file = cfg_sdup(o->file);
	p->use = cfg_sdup(o->use);
	p->program = cfg_sdup(o->program);
	p->raw = cfg_jdup(o->raw);
	return (p);
}

/* Free a plugin config. */
void
plugin_cfg_free(struct plugin_cfg *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->file);
	free(p->use);
	free(p->program);
	json_decref(p->raw);
	free(p);
}

/* Free the [circus] strings. */
static void
circus_cfg_clear(struct circus_cfg *c)
{
	free(c->endpoint);
	free(c->endpoint_owner);
	free(c->pubsub_endpoint);
	free(c->multicast_endpoint);
	free(c->curve_server_cert);
	free(c->curve_clients);
	free(c->curve_readonly_clients);
	free(c->stats_endpoint);
	free(c->metrics_endpoint);
	free(c->pidfile);
	free(c->loglevel);
	free(c->logoutput);
	free(c->loggerconfig);
	free(c->httpd_host);
	free(c->fqdn_prefix);
	json_decref(c->raw);
}

/* Free a loaded config and everything in it. */
void
config_free(struct config *cfg)
{
	size_t	 i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	circus_cfg_clear(&cfg->circus);
	for (i = 0; i < cfg->nwatchers; i++)
		watcher_cfg_free(cfg->watchers[i]);
	free(cfg->watchers);
	for (i = 0; i < cfg->nsockets; i++)
		socket_cfg_free(cfg->sockets[i]);
	free(cfg->sockets);
	for (i = 0; i < cfg->nplugins; i++)
		plugin_cfg_free(cfg->plugins[i]);
	free(cfg->plugins);
	json_decref(cfg->global_env);
	json_decref(cfg->warnings);
	json_decref(cfg->invalid);
	json_decref(cfg->unsupported);
	free(cfg);
}

/* What the daemon logs at start as not run or misread (config.h). */
json_t *
config_not_run(const struct config *cfg)
{
	json_t	*out = json_array();

	json_array_extend(out, cfg->unsupported);
	return (out);
}

/* Everything --check fails on (config.h). */
json_t *
config_problems(const struct config *cfg)
{
	json_t	*out = json_deep_copy(cfg->invalid), *rest;

	rest = config_not_run(cfg);
	json_array_extend(out, rest);
	json_decref(rest);
	return (out);
}

/* ---- includes ---- */

/* Compare two C strings for qsort. */
static int
cfg_strcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Expand one include pattern and append its (sorted) matches. */
static void
load_scan(struct load *l, const struct ini_opt *o, const char *dir,
    const char *pattern, char ***files, size_t *nfiles)
{
	glob_t	 g;
	char	*full, *r;
	size_t	 i;

	if (*pattern == '/' || *dir == '\0')
		full = xstrdup(pattern);
	else
		full = xprintf("%s/%s", dir, pattern);
	memset(&g, 0, sizeof g);
	if (glob(full, GLOB_NOSORT, NULL, &g) != 0 || g.gl_pathc == 0) {
		r = pyjson_str_repr(full);
		load_warn(l, o->file, o->line, "%s does not lead to any "
		    "config. Make sure include paths are relative to the main "
		    "config file", r);
		free(r);
		globfree(&g);
		free(full);
		return;
	}
	qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cfg_strcmp);
	for (i = 0; i < g.gl_pathc; i++) {
		*files = xreallocarray(*files, *nfiles + 1, sizeof **files);
		(*files)[(*nfiles)++] = xstrdup(g.gl_pathv[i]);
	}
	globfree(&g);
	free(full);
}

/* Read the files named by the main file's include and include_dir. */
static void
load_includes(struct load *l)
{
	struct ini_sect	*circus;
	struct ini_opt	*o;
	char		*dir, *value, *word, *save, *pat, **files = NULL;
	size_t		 nfiles = 0, i, len;
	const char	*keys[] = { "include", "include_dir" };
	int		 k;

	circus = ini_find(&l->ini, "circus");
	dir = xstrdup(l->main_file);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	else
		dir[0] = '\0';
	if (dir[0] == '\0' && l->main_file[0] == '/') {
		free(dir);
		dir = xstrdup("/");
	}
	for (k = 0; k < 2; k++) {
		if ((o = ini_get(circus, keys[k])) == NULL)
			continue;
		value = config_env_subst(o->value, l->os_env);
		for (word = strtok_r(value, " \t\r\n\f\v", &save); word != NULL;
		    word = strtok_r(NULL, " \t\r\n\f\v", &save)) {
			if (k == 0)
				load_scan(l, o, dir, word, &files, &nfiles);
			else {
				len = strlen(word);
				while (len > 1 && word[len - 1] == '/')
					word[--len] = '\0';
				pat = xprintf("%s/*.ini", word);
				load_scan(l, o, dir, pat, &files, &nfiles);
				free(pat);
			}
		}
		free(value);
	}
	for (i = 0; i < nfiles; i++) {
		if (ini_read(&l->ini, files[i], l->errors) == -1)
			load_warn(l, files[i], 0, "cannot read included file: "
			    "%s", strerror(errno));
		free(files[i]);
	}
	free(files);
	free(dir);
}

/* ---- [circus] ---- */

/* Substituted value of a [circus] key, or NULL when absent. */
static char *
circus_get(struct load *l, const char *key, const struct ini_opt **op)
{
	const struct ini_opt	*o;

	o = ini_get(ini_find(&l->ini, "circus"), key);
	if (op != NULL)
		*op = o;
	if (o == NULL)
		return (NULL);
	return (config_env_subst(o->value, l->cfg->global_env));
}

/*
 * A plaintext tcp:// endpoint of [circus] key on a non-loopback address:
 * an error unless plaintext_tcp = true (then a warning). CURVE covers the
 * control and pub/sub endpoints (README "Securing the control channel").
 */
static void
circus_plaintext(struct load *l, const char *key, const char *endpoint,
    bool curve)
{
	const struct ini_opt	*o;
	const char		*what;

	o = ini_get(ini_find(&l->ini, "circus"), key);
	if (o == NULL || endpoint == NULL || curve ||
	    util_endpoint_is_loopback(endpoint))
		return;
	what = strcmp(key, "endpoint") == 0 ? "run any command" : "read it";
	if (l->cfg->circus.plaintext_tcp)
		load_warn(l, o->file, o->line, "[circus] %s = %s: plaintext "
		    "TCP on a non-loopback address (plaintext_tcp = true): "
		    "anyone who reaches it can %s", key, endpoint, what);
	else
		load_error(l, o->file, o->line, "[circus] %s = %s is "
		    "plaintext TCP on a non-loopback address: anyone who "
		    "reaches it can %s. %sbind to 127.0.0.1 or ipc://, or set "
		    "plaintext_tcp = true", key, endpoint, what,
		    strcmp(key, "stats_endpoint") != 0 ? "Set "
		    "curve_server_cert (CurveZMQ), " : "");
}

/* Read a string [circus] key into *dst (kept when absent). */
static void
circus_str(struct load *l, const char *key, char **dst)
{
	char	*v;

	if ((v = circus_get(l, key, NULL)) == NULL)
		return;
	free(*dst);
	*dst = v;
}

/* Read a boolean [circus] key. */
static void
circus_bool(struct load *l, const char *key, bool *dst)
{
	const struct ini_opt	*o;
	char			*v, *r;

	if ((v = circus_get(l, key, &o)) == NULL)
		return;
	if (util_parse_bool(v, dst) == -1) {
		r = pyjson_str_repr(v);
		load_error(l, o->file, o->line, "[circus] %s = %s is not a "
		    "boolean", key, r);
		free(r);
	}
	free(v);
}

/* Read [circus] cgroups: auto or a boolean. */
static void
circus_cgroups(struct load *l, enum cgroups_mode *dst)
{
	const struct ini_opt	*o;
	char			*v, *r;
	bool			 on;

	if ((v = circus_get(l, "cgroups", &o)) == NULL)
		return;
	if (strcasecmp(v, "auto") == 0)
		*dst = CGROUPS_AUTO;
	else if (util_parse_bool(v, &on) == 0)
		*dst = on ? CGROUPS_ON : CGROUPS_OFF;
	else {
		r = pyjson_str_repr(v);
		load_error(l, o->file, o->line, "[circus] cgroups = %s is not "
		    "auto or a boolean", r);
		free(r);
	}
	free(v);
}

/* Read an integer [circus] key. */
static void
circus_int(struct load *l, const char *key, int *dst)
{
	const struct ini_opt	*o;
	char			*v, *r;
	long long		 n;

	if ((v = circus_get(l, key, &o)) == NULL)
		return;
	if (config_parse_int(v, &n) == -1 || n < -2147483647LL ||
	    n > 2147483647LL) {
		r = pyjson_str_repr(v);
		load_error(l, o->file, o->line, "[circus] %s = %s is not an "
		    "integer", key, r);
		free(r);
	} else
		*dst = (int)n;
	free(v);
}

/* Read a float [circus] key. */
static void
circus_float(struct load *l, const char *key, double *dst)
{
	const struct ini_opt	*o;
	char			*v, *r;

	if ((v = circus_get(l, key, &o)) == NULL)
		return;
	if (config_parse_float(v, dst) == -1) {
		r = pyjson_str_repr(v);
		load_error(l, o->file, o->line, "[circus] %s = %s is not a "
		    "number", key, r);
		free(r);
	}
	free(v);
}

/* metrics_endpoint must be HOST:PORT (HOST may be empty or [v6]). */
static void
load_metrics_check(struct load *l, const char *v)
{
	const struct ini_opt	*o = NULL;
	const char		*colon;
	char			*end, *r;
	long			 port;

	colon = strrchr(v, ':');
	port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
	if (colon != NULL && colon[1] != '\0' && *end == '\0' && port > 0 &&
	    port < 65536)
		return;
	free(circus_get(l, "metrics_endpoint", &o));
	r = pyjson_str_repr(v);
	load_error(l, o != NULL ? o->file : l->main_file, o != NULL ? o->line :
	    0, "[circus] metrics_endpoint = %s is not HOST:PORT", r);
	free(r);
}

/* Read the [circus] section (doc/design.md §17.5). */
static void
load_circus(struct load *l)
{
	struct circus_cfg	*c = &l->cfg->circus;
	struct ini_sect		*s;
	const struct ini_opt	*o;
	char			*v, *r, *end, *t;
	long			 m;
	bool			 debug_gc = false;
	size_t			 i;

	c->endpoint = xstrdup("tcp://127.0.0.1:5555");
	c->pubsub_endpoint = xstrdup("tcp://127.0.0.1:5556");
	c->multicast_endpoint = xstrdup("udp://237.219.251.97:12027");
	c->check_delay = 5.0;
	c->umask = -1;
	c->cgroups = CGROUPS_AUTO;	/* README, Differences 5 */
	c->httpd_host = xstrdup("localhost");
	c->httpd_port = 8080;
	c->backoff_min_s = 0.1;
	c->backoff_factor = 2.0;
	c->backoff_max_s = 30.0;
	c->backoff_reset_s = 10.0;
	c->raw = json_object();

	if ((s = ini_find(&l->ini, "circus")) != NULL) {
		for (i = 0; i < s->nopts; i++)
			ini_jset(c->raw, s->opts[i].name,
			    ini_jstr(s->opts[i].value));
	}

	circus_float(l, "check_delay", &c->check_delay);
	circus_str(l, "endpoint", &c->endpoint);
	circus_str(l, "endpoint_owner", &c->endpoint_owner);
	circus_str(l, "pubsub_endpoint", &c->pubsub_endpoint);
	circus_str(l, "multicast_endpoint", &c->multicast_endpoint);
	circus_str(l, "curve_server_cert", &c->curve_server_cert);
	circus_str(l, "curve_clients", &c->curve_clients);
	circus_str(l, "curve_readonly_clients", &c->curve_readonly_clients);
	circus_bool(l, "plaintext_tcp", &c->plaintext_tcp);
	circus_bool(l, "statsd", &c->statsd);
	circus_cgroups(l, &c->cgroups);
	if ((v = circus_get(l, "stats_endpoint", &o)) == NULL)
		c->stats_endpoint = xstrdup("tcp://127.0.0.1:5557");
	else {
		c->stats_endpoint = v;
		if (!c->statsd) {
			load_warn(l, o->file, o->line, "You defined a "
			    "stats_endpoint without setting up statsd to "
			    "True.");
			c->statsd = true;
		}
	}
	if ((v = circus_get(l, "umask", &o)) != NULL) {
		t = ini_strip(v, strlen(v));
		if (*t != '\0') {
			errno = 0;
			m = strtol(t + (strncasecmp(t, "0o", 2) == 0 ? 2 : 0),
			    &end, 8);
			if (errno != 0 || *end != '\0' || end == t || m < 0 ||
			    m > 07777 || !isdigit((unsigned char)*t)) {
				r = pyjson_str_repr(v);
				load_error(l, o->file, o->line, "[circus] "
				    "umask = %s is not an octal number", r);
				free(r);
			} else
				c->umask = (int)m;
		}
		free(t);
		free(v);
	}
	circus_int(l, "warmup_delay", &c->warmup_delay);
	circus_bool(l, "httpd", &c->httpd);
	circus_str(l, "httpd_host", &c->httpd_host);
	circus_int(l, "httpd_port", &c->httpd_port);
	circus_bool(l, "debug", &c->debug);
	circus_bool(l, "debug_gc", &debug_gc);
	circus_str(l, "pidfile", &c->pidfile);
	circus_str(l, "loglevel", &c->loglevel);
	circus_str(l, "logoutput", &c->logoutput);
	circus_str(l, "loggerconfig", &c->loggerconfig);
	circus_str(l, "fqdn_prefix", &c->fqdn_prefix);
	circus_str(l, "metrics_endpoint", &c->metrics_endpoint);
	if (c->metrics_endpoint != NULL) {
		c->statsd = true;	/* circusd-stats serves /metrics */
		load_metrics_check(l, c->metrics_endpoint);
	}
	circus_float(l, "backoff_min", &c->backoff_min_s);
	circus_float(l, "backoff_factor", &c->backoff_factor);
	circus_float(l, "backoff_max", &c->backoff_max_s);
	circus_float(l, "backoff_reset", &c->backoff_reset_s);
	circus_plaintext(l, "endpoint", c->endpoint,
	    c->curve_server_cert != NULL);
	circus_plaintext(l, "pubsub_endpoint", c->pubsub_endpoint,
	    c->curve_server_cert != NULL);
	if (c->statsd)
		circus_plaintext(l, "stats_endpoint", c->stats_endpoint, false);
	if (s != NULL && (!(c->backoff_min_s >= 0) ||
	    !(c->backoff_factor >= 1) || !(c->backoff_max_s >= 0) ||
	    !(c->backoff_reset_s >= 0) || isinf(c->backoff_min_s))) {
		load_error(l, s->file, s->line, "[circus] back-off settings "
		    "need backoff_min >= 0, backoff_factor >= 1, "
		    "backoff_max >= 0 and backoff_reset >= 0");
	}
}

/* ---- sockets and plugins ---- */

/* Object of every key of a section, substituted against env. */
static json_t *
sect_values(const struct ini_sect *s, json_t *env)
{
	json_t	*obj;
	char	*v;
	size_t	 i;

	obj = json_object();
	for (i = 0; i < s->nopts; i++) {
		v = env != NULL ? config_env_subst(s->opts[i].value, env) :
		    xstrdup(s->opts[i].value);
		ini_jset(obj, s->opts[i].name, ini_jstr(v));
		free(v);
	}
	return (obj);
}

/* Line of a key in a section (the section's line when absent). */
static int
sect_line(const struct ini_sect *s, const char *key)
{
	const struct ini_opt	*o;

	if ((o = ini_get(s, key)) != NULL)
		return (o->line);
	return (s->line);
}

/* Read one [socket:NAME]; NULL when skipped (warning) or on error. */
static struct socket_cfg *
load_socket(struct load *l, const struct ini_sect *s)
{
	struct socket_cfg	*sc;
	json_t			*vals;
	const char		*name, *v, *bad = NULL;
	char			*r;
	bool			 fatal;
	size_t			 i;

	name = s->name;
	while ((v = strstr(name, "socket:")) != NULL)
		name = v + 7;
	vals = sect_values(s, l->cfg->global_env);
	sc = xcalloc(1, sizeof *sc);
	sc->name = xstrdup(name);
	for (i = 0; sc->name[i] != '\0'; i++)
		sc->name[i] = tolower((unsigned char)sc->name[i]);
	sc->file = xstrdup(s->file);
	sc->line = s->line;
	sc->host = xstrdup("localhost");
	sc->port = 8080;
	sc->family = AF_INET;
	sc->type = SOCK_STREAM;
	sc->backlog = 2048;
	sc->umask = 8;
	sc->raw = vals;

	/* options-socket.c: the booleans Circus converts while loading
	 * refuse the file; the rest is checked when the socket is created,
	 * so a bad value there skips the socket. */
	if (socket_cfg_read(sc, vals, &bad, &fatal) == -1) {
		v = json_string_value(json_object_get(vals, bad));
		r = pyjson_str_repr(v);
		if (fatal)
			load_error(l, s->file, sect_line(s, bad), "socket "
			    "'%s': %s = %s is not a boolean", sc->name, bad, r);
		else
			load_skip(l, s->file, sect_line(s, bad), "Failed to "
			    "create socket '%s': invalid %s %s; socket skipped",
			    sc->name, bad, r);
		free(r);
		socket_cfg_free(sc);
		return (NULL);
	}
	if (sc->path != NULL)
		sc->family = AF_UNIX;
	return (sc);
}

/* Read one [plugin:NAME]; NULL on error. */
static struct plugin_cfg *
load_plugin(struct load *l, const struct ini_sect *s)
{
	struct plugin_cfg	*p;
	const char		*v;
	char			*r;
	long long		 n;

	p = xcalloc(1, sizeof *p);
	p->name = xstrdup(s->name + 7);
	p->file = xstrdup(s->file);
	p->line = s->line;
	p->priority = 1;
	p->raw = sect_values(s, l->cfg->global_env);
	if ((v = json_string_value(json_object_get(p->raw, "priority")))) {
		if (config_parse_int(v, &n) == -1 || n < -2147483647LL ||
		    n > 2147483647LL) {
			r = pyjson_str_repr(v);
			load_error(l, s->file, sect_line(s, "priority"),
			    "plugin '%s': priority = %s is not an integer",
			    p->name, r);
			free(r);
			plugin_cfg_free(p);
			return (NULL);
		}
		p->priority = (int)n;
	}
	if ((v = json_string_value(json_object_get(p->raw, "use"))) == NULL) {
		load_error(l, s->file, s->line, "plugin '%s': missing 'use'",
		    p->name);
		plugin_cfg_free(p);
		return (NULL);
	}
	p->use = xstrdup(v);
	if ((p->program = config_plugin_program(p->use, &r)) == NULL) {
		load_error(l, s->file, sect_line(s, "use"), "plugin '%s': %s",
		    p->name, r);
		free(r);
		plugin_cfg_free(p);
		return (NULL);
	}
	return (p);
}

/* Bundled plugins: Circus's class name -> our program (plugins/). */
static const struct {
	const char	*use;
	const char	*program;
} plugin_programs[] = {
	{ "circus.plugins.flapping.Flapping", "circus-plugin-flapping" },
	{ "circus.plugins.statsd.StatsdEmitter", "circus-plugin-statsd" },
	{ "circus.plugins.statsd.FullStats", "circus-plugin-fullstats" },
	{ "circus.plugins.watchdog.WatchDog", "circus-plugin-watchdog" },
	{ "circus.plugins.command_reloader.CommandReloader",
	    "circus-plugin-command_reloader" },
	{ "circus.plugins.resource_watcher.ResourceWatcher",
	    "circus-plugin-resource_watcher" },
	{ "circus.plugins.http_observer.HttpObserver",
	    "circus-plugin-http_observer" },
	{ "circus.plugins.redis_observer.RedisObserver",
	    "circus-plugin-redis_observer" },
};

/* Where the bundled plugin programs are: $CIRCUS_PLUGIN_DIR, else the
 * directory of the running executable. Caller frees. */
static char *
config_plugin_dir(void)
{
	const char	*env;
	char		 buf[4096], *slash;
	ssize_t		 n;

	if ((env = getenv("CIRCUS_PLUGIN_DIR")) != NULL && *env != '\0')
		return (xstrdup(env));
	if ((n = readlink("/proc/self/exe", buf, sizeof buf - 1)) <= 0)
		return (xstrdup("."));
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) != NULL)
		*slash = '\0';
	return (xstrdup(buf));
}

/*
 * The program a plugin's `use` names (doc/design.md §11): a bundled plugin's
 * class name, or the path of an executable. NULL + *cause otherwise.
 */
char *
config_plugin_program(const char *use, char **cause)
{
	char	*dir, *path, *known;
	size_t	 i;

	for (i = 0; i < nitems(plugin_programs); i++) {
		if (strcmp(use, plugin_programs[i].use) == 0 ||
		    (strcmp(use, "circus.plugins._statsd.StatsdEmitter") == 0 &&
		    strcmp(plugin_programs[i].use,
		    "circus.plugins.statsd.StatsdEmitter") == 0)) {
			dir = config_plugin_dir();
			path = xprintf("%s/%s", dir, plugin_programs[i].program);
			free(dir);
			return (path);
		}
	}
	if (strchr(use, '/') != NULL) {
		if (access(use, X_OK) == 0)
			return (xstrdup(use));
		*cause = xprintf("use = %s: %s", use, strerror(errno));
		return (NULL);
	}
	known = xstrdup("");
	for (i = 0; i < nitems(plugin_programs); i++) {
		path = xprintf("%s%s%s", known, i > 0 ? ", " : "",
		    plugin_programs[i].use);
		free(known);
		known = path;
	}
	*cause = xprintf("use = %s names no plugin of this build (bundled: "
	    "%s; or give the path of an executable)", use, known);
	free(known);
	return (NULL);
}

/* The --config string Circus gives a plugin: every key but `use`, sorted,
 * "key:value" joined with ":::" (doc/design.md §11). Caller frees. */
static char *
plugin_config_string(const struct plugin_cfg *p)
{
	const char	**keys, *k;
	json_t		 *v;
	char		 *out, *tmp;
	size_t		  n = 0, i;

	keys = xcalloc(json_object_size(p->raw) + 2, sizeof *keys);
	json_object_foreach(p->raw, k, v) {
		if (strcmp(k, "use") != 0 && strcmp(k, "name") != 0)
			keys[n++] = k;
	}
	keys[n++] = "name";
	keys[n++] = "__name__";
	qsort(keys, n, sizeof *keys, cfg_strcmp);
	out = xstrdup("");
	for (i = 0; i < n; i++) {
		v = json_object_get(p->raw, keys[i]);
		if (strcmp(keys[i], "name") == 0 ||
		    strcmp(keys[i], "__name__") == 0)
			tmp = xprintf("%s%s%s:plugin:%s", out, i ? ":::" : "",
			    keys[i], p->name);
		else
			tmp = xprintf("%s%s%s:%s", out, i ? ":::" : "",
			    keys[i], json_string_value(v));
		free(out);
		out = tmp;
	}
	free(keys);
	return (out);
}

/* The plugin's command line, each word quoted: shell-splitting it gives
 * back exactly the argv (doc/design.md §11, flags as Circus builds them). */
static char *
plugin_cmd(const struct circus_cfg *c, const struct plugin_cfg *p)
{
	const char	*argv[16];
	char		*cfg, *out, *q, *tmp;
	size_t		 n = 0, i;

	cfg = plugin_config_string(p);
	argv[n++] = p->program;
	argv[n++] = "--endpoint";
	argv[n++] = c->endpoint;
	argv[n++] = "--pubsub";
	argv[n++] = c->pubsub_endpoint;
	argv[n++] = "--config";
	argv[n++] = cfg;
	if (c->debug || c->loglevel != NULL) {
		argv[n++] = "--log-level";
		argv[n++] = c->debug ? "DEBUG" : c->loglevel;
	}
	if (c->logoutput != NULL) {
		argv[n++] = "--log-output";
		argv[n++] = c->logoutput;
	}
	if (strchr(p->use, '/') == NULL)
		argv[n++] = p->use;
	out = NULL;
	for (i = 0; i < n; i++) {
		q = shlex_quote(argv[i]);
		tmp = xprintf("%s%s%s", out != NULL ? out : "", i ? " " : "",
		    q);
		free(q);
		free(out);
		out = tmp;
	}
	free(cfg);
	return (out);
}

/* Add an ini option to a section built by the loader. */
static void
sect_add(struct ini_sect *s, const char *name, const char *value,
    const char *file, int line)
{
	struct ini_opt	*o;

	s->opts = xreallocarray(s->opts, s->nopts + 1, sizeof *s->opts);
	o = &s->opts[s->nopts++];
	o->name = xstrdup(name);
	o->value = xstrdup(value);
	o->file = file;
	o->line = line;
}

/*
 * A plugin runs as the watcher `plugin:NAME` (doc/design.md §11): append the
 * section [watcher:plugin:NAME] that Circus's arbiter builds — its
 * command line, priority 1, singleton, copy_env/copy_path, streams closed
 * unless debug — followed by every key of the plugin section, which the
 * walk of load_sections then loads like any watcher.
 */
static void
plugin_watcher_sect(struct load *l, const struct ini_sect *s,
    const struct plugin_cfg *p)
{
	const struct circus_cfg	*c = &l->cfg->circus;
	struct ini_sect		*w;
	char			*cmd;
	const char		*closed = c->debug ? "false" : "true";
	size_t			 i;

	w = xcalloc(1, sizeof *w);
	w->name = xprintf("watcher:plugin:%s", p->name);
	w->file = s->file;
	w->line = s->line;
	cmd = plugin_cmd(c, p);
	sect_add(w, "cmd", cmd, s->file, s->line);
	free(cmd);
	sect_add(w, "priority", "1", s->file, s->line);
	sect_add(w, "singleton", "true", s->file, s->line);
	sect_add(w, "copy_env", "true", s->file, s->line);
	sect_add(w, "copy_path", "true", s->file, s->line);
	sect_add(w, "close_child_stdout", closed, s->file, s->line);
	sect_add(w, "close_child_stderr", closed, s->file, s->line);
	for (i = 0; i < s->nopts; i++) {
		if (strcmp(s->opts[i].name, "name") != 0)
			sect_add(w, s->opts[i].name, s->opts[i].value,
			    s->opts[i].file, s->opts[i].line);
	}
	l->ini.sects = xreallocarray(l->ini.sects, l->ini.nsects + 1,
	    sizeof *l->ini.sects);
	l->ini.sects[l->ini.nsects++] = w;
}

/* ---- watchers ---- */

/* Read one [watcher:NAME] typed options (phase 1, fatal errors). */
static struct watcher_cfg *
load_watcher(struct load *l, struct ini_sect *s)
{
	struct watcher_cfg	*w;
	struct ini_opt		*o;
	json_t			*hook;
	char			*v, *cause, *r, *target;
	const char		*comma;
	long long		 n;
	bool			 b, ok = true;
	size_t			 i, len;

	w = watcher_cfg_new_ini(s->name + 8, s->file, s->line);
	for (i = 0; i < s->nopts; i++) {
		o = &s->opts[i];
		ini_jset(w->raw, o->name, ini_jstr(o->value));
		if (strcmp(o->name, "name") == 0) {
			/* Circus lets a "name" key rename the watcher. */
			free(w->name);
			w->name = xstrdup(o->value);
			continue;
		}
		if (strncmp(o->name, "stdout_stream", 13) == 0 ||
		    strncmp(o->name, "stderr_stream", 13) == 0) {
			if (o->name[13] != '.' || o->name[14] == '\0') {
				load_error(l, o->file, o->line, "watcher '%s': "
				    "invalid stream option '%s'", w->name,
				    o->name);
				ok = false;
			}
			continue;	/* phase 2 */
		}
		if (strncmp(o->name, "rlimit_", 7) == 0) {
			if (o->value[0] == '\0')
				n = -1;
			else if (config_parse_int(o->value, &n) == -1) {
				r = pyjson_str_repr(o->value);
				load_error(l, o->file, o->line, "watcher '%s': "
				    "%s = %s is not an integer", w->name,
				    o->name, r);
				free(r);
				ok = false;
				continue;
			}
			ini_jset(w->rlimits, o->name + 7, json_integer(n));
			continue;
		}
		if (strncmp(o->name, "hooks.", 6) == 0) {
			b = false;
			if ((comma = strchr(o->value, ',')) != NULL) {
				v = ini_strip(comma + 1, strlen(comma + 1));
				if (util_parse_bool(v, &b) == -1) {
					r = pyjson_str_repr(v);
					load_error(l, o->file, o->line,
					    "watcher '%s': %s: %s is not a "
					    "boolean", w->name, o->name, r);
					free(r);
					ok = false;
				}
				free(v);
				len = comma - o->value;
			} else
				len = strlen(o->value);
			target = ini_strip(o->value, len);
			hook = json_pack("[s b]", target, b);
			if (hook == NULL)
				hook = json_pack("[o b]", ini_jstr(target), b);
			ini_jset(w->hooks, o->name + 6, hook);
			free(target);
			continue;
		}
		if (strcmp(o->name, "check_flapping") == 0) {
			v = config_env_subst(o->value, l->cfg->global_env);
			if (util_parse_bool(v, &b) == -1) {
				r = pyjson_str_repr(v);
				load_error(l, o->file, o->line, "watcher '%s': "
				    "check_flapping = %s is not a boolean",
				    w->name, r);
				free(r);
				ok = false;
			} else
				ini_jset(w->freeform, o->name, json_boolean(b));
			free(v);
			continue;
		}
		if (watcher_opt_ini_kind(o->name) != OPT_INI_EARLY)
			continue;	/* phase 2 or ignored */
		v = config_env_subst(o->value, l->cfg->global_env);
		if (watcher_cfg_ini_set(w, o->name, v, &cause) == -1) {
			load_error(l, o->file, o->line, "watcher '%s': %s",
			    w->name, cause);
			free(cause);
			ok = false;
		}
		free(v);
	}
	if (!ok) {
		watcher_cfg_free(w);
		return (NULL);
	}
	return (w);
}

/* Check a stream conf gathered from the ini (§11); -1 + cause to skip. */
static int
load_stream_check(json_t *conf, char **cause)
{
	static const char *const classes[] = {
		"FileStream", "WatchedFileStream", "TimedRotatingFileStream",
		"StdoutStream", "FancyStdoutStream", "QueueStream",
	};
	const char	*cls, *v;
	long long	 n;
	size_t		 i;

	if ((cls = json_string_value(json_object_get(conf, "class"))) ==
	    NULL) {
		if (json_object_get(conf, "filename") == NULL) {
			*cause = xstrdup("stream configuration invalid");
			return (-1);
		}
		json_object_set_new(conf, "class", json_string("FileStream"));
		cls = "FileStream";
	}
	if (strncmp(cls, "circus.stream.", 14) == 0)
		cls += 14;
	for (i = 0; i < nitems(classes); i++) {
		if (strcmp(classes[i], cls) == 0)
			break;
	}
	if (i == nitems(classes)) {
		*cause = xprintf("unknown stream class '%s' (use FileStream, "
		    "WatchedFileStream, TimedRotatingFileStream, StdoutStream, "
		    "FancyStdoutStream or QueueStream)",
		    json_string_value(json_object_get(conf, "class")));
		return (-1);
	}
	for (i = 0; i < 2; i++) {
		v = json_string_value(json_object_get(conf,
		    i == 0 ? "max_bytes" : "backup_count"));
		if (v != NULL && config_parse_int(v, &n) == -1) {
			*cause = xprintf("stream option %s = '%s' is not an "
			    "integer", i == 0 ? "max_bytes" : "backup_count",
			    v);
			return (-1);
		}
	}
	return (0);
}

/* Phase 2: strings, streams, env and creation checks. false = skip. */
static bool
load_watcher_finish(struct load *l, struct wload *wl)
{
	struct watcher_cfg	*w = wl->w;
	struct ini_sect		*s = wl->sect;
	struct ini_opt		*o;
	json_t			*xenv, **jp, *hook;
	const char		*hk;
	char			*v, *cause = NULL;
	int			 line = s->line;
	size_t			 i;

	/* The watcher env before $NAME expansion: [env] (+ OS) + patterns. */
	w->env = json_deep_copy(w->copy_env ? l->cfg->global_env :
	    l->local_env);
	config_env_patterns(&l->ini, w);
	xenv = json_deep_copy(l->cfg->global_env);
	json_object_update(xenv, w->env);

	for (i = 0; i < s->nopts; i++) {
		o = &s->opts[i];
		if (strncmp(o->name, "stdout_stream.", 14) == 0 ||
		    strncmp(o->name, "stderr_stream.", 14) == 0) {
			jp = o->name[3] == 'o' ? &w->stdout_stream :
			    &w->stderr_stream;
			if (*jp == NULL)
				*jp = json_object();
			v = config_env_subst(o->value, xenv);
			ini_jset(*jp, o->name + 14, ini_jstr(v));
			free(v);
			continue;
		}
		if (strcmp(o->name, "name") == 0 ||
		    strncmp(o->name, "rlimit_", 7) == 0 ||
		    strncmp(o->name, "hooks.", 6) == 0 ||
		    strcmp(o->name, "check_flapping") == 0)
			continue;
		switch (watcher_opt_ini_kind(o->name)) {
		case OPT_INI_LATE:
			v = config_env_subst(o->value, xenv);
			if (watcher_cfg_ini_set(w, o->name, v, &cause) == -1)
				line = o->line;
			free(v);
			break;
		case OPT_INI_FREEFORM:
			v = config_env_subst(o->value, xenv);
			ini_jset(w->freeform, o->name, ini_jstr(v));
			free(v);
			break;
		default:
			break;
		}
		if (cause != NULL)
			goto skip;
	}
	json_decref(xenv);
	xenv = NULL;

	config_env_finish(w, l->os_env);
	if (w->working_dir == NULL)
		w->working_dir = config_working_dir();

	if (w->cmd == NULL || w->cmd[0] == '\0') {
		cause = xstrdup("no cmd");
		goto skip;
	}
	if (w->numprocesses < 0) {
		cause = xprintf("numprocesses = %d is negative",
		    w->numprocesses);
		line = sect_line(s, "numprocesses");
		goto skip;
	}
	if (w->singleton && w->numprocesses != 0 && w->numprocesses != 1) {
		cause = xprintf("Cannot have %d processes with a singleton  "
		    "watcher", w->numprocesses);
		line = sect_line(s, "numprocesses");
		goto skip;
	}
	if (w->copy_path && !w->copy_env) {
		cause = xstrdup("copy_env and copy_path must have the same "
		    "value");
		line = sect_line(s, "copy_path");
		goto skip;
	}
	if (w->virtualenv != NULL && config_env_virtualenv(w, &cause) == -1) {
		line = sect_line(s, "virtualenv");
		goto skip;
	}
	if (w->stdout_stream != NULL &&
	    load_stream_check(w->stdout_stream, &cause) == -1) {
		line = s->line;
		goto skip;
	}
	if (w->stderr_stream != NULL &&
	    load_stream_check(w->stderr_stream, &cause) == -1) {
		line = s->line;
		goto skip;
	}
	json_object_foreach(w->hooks, hk, hook) {
		if (config_hook_check(hk, json_string_value(json_array_get(hook,
		    0)), &cause) == -1) {
			v = xprintf("hooks.%s", hk);
			line = sect_line(s, v);
			free(v);
			goto skip;
		}
	}
	if (w->shell_args != NULL && !w->shell)
		load_warn(l, s->file, sect_line(s, "shell_args"), "watcher "
		    "'%s': shell_args is ignored because shell is false",
		    w->name);
	if (!w->singleton && w->numprocesses == 0)
		load_warn(l, s->file, sect_line(s, "numprocesses"),
		    "Non-singleton watcher %s with numprocesses=0 won't start "
		    "any process", w->name);
	return (true);

skip:
	json_decref(xenv);
	load_skip(l, s->file, line, "watcher '%s': %s; watcher skipped",
	    w->name, cause);
	free(cause);
	return (false);
}

/* Order watchers by name (byte order), then by section order. */
static int
wload_cmp(const void *a, const void *b)
{
	const struct wload	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->w->name, y->w->name)) != 0)
		return (c);
	return (x->order < y->order ? -1 : x->order > y->order);
}

/* Order sockets by name, stable. */
static int
socket_cmp(const void *a, const void *b)
{
	const struct socket_cfg	*x = *(struct socket_cfg *const *)a;
	const struct socket_cfg	*y = *(struct socket_cfg *const *)b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	if ((c = strcmp(x->file, y->file)) != 0)
		return (c);
	return (x->line - y->line);
}

/* Order plugins by name. */
static int
plugin_cmp(const void *a, const void *b)
{
	return (strcmp((*(struct plugin_cfg *const *)a)->name,
	    (*(struct plugin_cfg *const *)b)->name));
}

/* One collected error with its sort key. */
struct lerr {
	size_t		 file;		/* index in the read order of files */
	long long	 line;
	size_t		 order;		/* when it was recorded */
	const char	*text;
};

/* Order errors by file (read order), line, then recording order. */
static int
lerr_cmp(const void *a, const void *b)
{
	const struct lerr	*x = a, *y = b;

	if (x->file != y->file)
		return (x->file < y->file ? -1 : 1);
	if (x->line != y->line)
		return (x->line < y->line ? -1 : 1);
	return (x->order < y->order ? -1 : x->order > y->order);
}

/* Join the collected errors, one per line, in line order per file. */
static char *
load_errors_text(struct load *l)
{
	struct lerr	*e;
	json_t		*j;
	const char	*file;
	char		*out, *tmp;
	size_t		 i, k, n;

	n = json_array_size(l->errors);
	e = xcalloc(n > 0 ? n : 1, sizeof *e);
	for (i = 0; i < n; i++) {
		j = json_array_get(l->errors, i);
		file = json_string_value(json_object_get(j, "file"));
		for (k = 0; k < l->ini.nfiles; k++) {
			if (file != NULL && strcmp(l->ini.files[k], file) == 0)
				break;
		}
		e[i].file = k;
		e[i].line = json_integer_value(json_object_get(j, "line"));
		e[i].order = i;
		e[i].text = json_string_value(json_object_get(j, "text"));
	}
	if (n > 0)
		qsort(e, n, sizeof *e, lerr_cmp);
	out = xstrdup("");
	for (i = 0; i < n; i++) {
		tmp = xprintf("%s%s%s", out, i > 0 ? "\n" : "",
		    e[i].text != NULL ? e[i].text : "");
		free(out);
		out = tmp;
	}
	free(e);
	return (out);
}

/* "[watcher:b" (a header missing its ']') is read as the option
 * "[watcher" = "b" of the section above, as Circus reads it: say so. */
static void
load_bracket_options(struct load *l, const struct ini_sect *s)
{
	const struct ini_opt	*o;
	size_t			 i;

	for (i = 0; i < s->nopts; i++) {
		o = &s->opts[i];
		if (o->name[0] != '[')
			continue;
		load_unsupported(l, o->file, o->line, "a section header "
		    "missing its ']' is read as option '%s' of section [%s]",
		    o->name, s->name);
	}
}

/* Walk the sections: sockets, plugins, watchers (§3 step 5-9). */
static void
load_sections(struct load *l)
{
	struct config		*cfg = l->cfg;
	struct ini_sect		*s;
	struct wload		*wl = NULL;
	struct socket_cfg	*sc;
	struct plugin_cfg	*p;
	struct watcher_cfg	*w;
	size_t			 nwl = 0, i, j, nerr;

	for (i = 0; i < l->ini.nsects; i++) {
		s = l->ini.sects[i];
		load_bracket_options(l, s);
		if (s->nopts == 0)
			continue;
		nerr = json_array_size(l->errors);
		if (strncmp(s->name, "socket:", 7) == 0) {
			sc = load_socket(l, s);
			if (load_demote(l, nerr, "socket") || sc == NULL) {
				socket_cfg_free(sc);
				continue;
			}
			cfg->sockets = xreallocarray(cfg->sockets,
			    cfg->nsockets + 1, sizeof *cfg->sockets);
			cfg->sockets[cfg->nsockets++] = sc;
		} else if (strncmp(s->name, "plugin:", 7) == 0) {
			p = load_plugin(l, s);
			if (load_demote(l, nerr, "plugin") || p == NULL) {
				plugin_cfg_free(p);
				continue;
			}
			cfg->plugins = xreallocarray(cfg->plugins,
			    cfg->nplugins + 1, sizeof *cfg->plugins);
			cfg->plugins[cfg->nplugins++] = p;
			plugin_watcher_sect(l, s, p);
		} else if (strncmp(s->name, "watcher:", 8) == 0) {
			w = load_watcher(l, s);
			if (load_demote(l, nerr, "watcher") || w == NULL) {
				watcher_cfg_free(w);
				continue;
			}
			wl = xreallocarray(wl, nwl + 1, sizeof *wl);
			wl[nwl].w = w;
			wl[nwl].sect = s;
			wl[nwl].order = nwl;
			wl[nwl].skip = false;
			nwl++;
		}
	}
	if (cfg->nsockets > 0)
		qsort(cfg->sockets, cfg->nsockets, sizeof *cfg->sockets,
		    socket_cmp);
	if (cfg->nplugins > 0)
		qsort(cfg->plugins, cfg->nplugins, sizeof *cfg->plugins,
		    plugin_cmp);
	if (nwl > 0)
		qsort(wl, nwl, sizeof *wl, wload_cmp);

	/* Two sockets whose names differ only in case: the later wins. */
	for (i = 0; i + 1 < cfg->nsockets;) {
		if (strcmp(cfg->sockets[i]->name, cfg->sockets[i + 1]->name)) {
			i++;
			continue;
		}
		load_warn(l, cfg->sockets[i]->file, cfg->sockets[i]->line,
		    "socket '%s' is defined again at %s:%d; this definition "
		    "is ignored", cfg->sockets[i]->name,
		    cfg->sockets[i + 1]->file, cfg->sockets[i + 1]->line);
		socket_cfg_free(cfg->sockets[i]);
		memmove(&cfg->sockets[i], &cfg->sockets[i + 1],
		    (cfg->nsockets - i - 1) * sizeof *cfg->sockets);
		cfg->nsockets--;
	}

	if (json_array_size(l->errors) == 0) {
		for (i = 0; i < nwl; i++)
			wl[i].skip = !load_watcher_finish(l, &wl[i]);
	}
	for (i = 0, j = 0; i < nwl; i++) {
		if (wl[i].skip || json_array_size(l->errors) != 0) {
			watcher_cfg_free(wl[i].w);
			continue;
		}
		cfg->watchers = xreallocarray(cfg->watchers, j + 1,
		    sizeof *cfg->watchers);
		cfg->watchers[j++] = wl[i].w;
	}
	cfg->nwatchers = j;
	free(wl);
}

/* Load a config file with its includes; lenient for reloadconfig. */
static struct config *
config_load_mode(const char *path, bool lenient, char **errors)
{
	struct load	 l;
	struct config	*cfg;
	struct ini_sect	*env;
	struct stat	 sb;
	char		*r, *v;
	size_t		 i;
	bool		 parse_failed;

	*errors = NULL;
	if (stat(path, &sb) != 0) {
		r = pyjson_str_repr(path);
		*errors = xprintf("%s:0: the configuration file %s does not "
		    "exist", path, r);
		free(r);
		return (NULL);
	}
	if (S_ISDIR(sb.st_mode)) {
		r = pyjson_str_repr(path);
		*errors = xprintf("%s:0: the configuration file %s is a "
		    "directory", path, r);
		free(r);
		return (NULL);
	}
	memset(&l, 0, sizeof l);
	cfg = l.cfg = xcalloc(1, sizeof *cfg);
	cfg->path = xstrdup(path);
	cfg->warnings = json_array();
	cfg->invalid = json_array();
	cfg->unsupported = json_array();
	l.errors = json_array();
	l.lenient = lenient;
	l.os_env = config_env_os();
	l.local_env = json_object();
	l.main_file = path;

	if (ini_read(&l.ini, path, l.errors) == -1) {
		*errors = xprintf("%s:0: cannot read the configuration file: "
		    "%s", path, strerror(errno));
		goto fail;
	}
	load_includes(&l);
	/*
	 * Parse errors refuse the file in both modes (doc/design.md §13), but
	 * the sections that could be parsed are still converted so that every
	 * error is listed at once. Nothing is dropped leniently then: the
	 * whole file is refused anyway.
	 */
	if ((parse_failed = json_array_size(l.errors) != 0))
		l.lenient = false;

	/* Global environment: OS env updated with [env] (§8.1). */
	cfg->global_env = json_deep_copy(l.os_env);
	if ((env = ini_find(&l.ini, "env")) != NULL) {
		for (i = 0; i < env->nopts; i++) {
			v = config_env_subst(env->opts[i].value, l.os_env);
			ini_jset(l.local_env, env->opts[i].name, ini_jstr(v));
			free(v);
		}
		json_object_update(cfg->global_env, l.local_env);
	}

	load_circus(&l);
	load_sections(&l);
	if (parse_failed || json_array_size(l.errors) != 0)
		goto fail_errors;
	config_stats_watcher(cfg, l.os_env);

	ini_free(&l.ini);
	json_decref(l.errors);
	json_decref(l.os_env);
	json_decref(l.local_env);
	return (cfg);

fail_errors:
	*errors = load_errors_text(&l);
fail:
	ini_free(&l.ini);
	json_decref(l.errors);
	json_decref(l.os_env);
	json_decref(l.local_env);
	config_free(cfg);
	return (NULL);
}

/* Load a config file with its includes. */
struct config *
config_load(const char *path, char **errors)
{
	return (config_load_mode(path, false, errors));
}

/* Load for reloadconfig: a bad section only drops that section. */
struct config *
config_load_lenient(const char *path, char **errors)
{
	return (config_load_mode(path, true, errors));
}

/* ---- reloadconfig comparisons ---- */

/* Everything of a watcher config that matters, as one JSON object. */
static json_t *
watcher_cfg_canonical(const struct watcher_cfg *w)
{
	static const char *const ignored[] = {
		"PS1", "PROMPT_COMMAND", "COMP_WORDBREAKS",
		"__CF_USER_TEXT_ENCODING",
	};
	json_t	*o, *env;
	size_t	 i;

	o = watcher_cfg_options(w);
	if ((env = json_object_get(o, "env")) != NULL && json_is_object(env)) {
		for (i = 0; i < nitems(ignored); i++)
			json_object_del(env, ignored[i]);
	}
	json_object_set_new(o, "name", ini_jstr(w->name));
	json_object_set_new(o, "autostart", json_boolean(w->autostart));
	json_object_set_new(o, "copy_path", json_boolean(w->copy_path));
	json_object_set_new(o, "stdin_socket", w->stdin_socket != NULL ?
	    ini_jstr(w->stdin_socket) : json_null());
	json_object_set_new(o, "virtualenv", w->virtualenv != NULL ?
	    ini_jstr(w->virtualenv) : json_null());
	json_object_set_new(o, "virtualenv_py_ver", w->virtualenv_py_ver ?
	    ini_jstr(w->virtualenv_py_ver) : json_null());
	json_object_set_new(o, "hooks", cfg_jdup(w->hooks));
	json_object_set_new(o, "rlimits", cfg_jdup(w->rlimits));
	json_object_set_new(o, "stdout_stream", cfg_jdup(w->stdout_stream));
	json_object_set_new(o, "stderr_stream", cfg_jdup(w->stderr_stream));
	json_object_set_new(o, "raw", cfg_jdup(w->raw));
	json_object_del(json_object_get(o, "raw"), "numprocesses");
	return (o);
}

/* True when two watcher configs differ; tell if only numprocesses does. */
bool
watcher_cfg_changed(const struct watcher_cfg *a, const struct watcher_cfg *b,
    bool *only_numprocesses)
{
	json_t	*x, *y;
	bool	 same;

	x = watcher_cfg_canonical(a);
	y = watcher_cfg_canonical(b);
	json_object_del(x, "numprocesses");
	json_object_del(y, "numprocesses");
	same = json_equal(x, y);
	json_decref(x);
	json_decref(y);
	if (only_numprocesses != NULL)
		*only_numprocesses = same && a->numprocesses != b->numprocesses;
	return (!same || a->numprocesses != b->numprocesses);
}

/* Compare two possibly NULL strings (config.h). */
bool
cfg_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* True when two plugin configs differ (any key of the section). */
bool
plugin_cfg_changed(const struct plugin_cfg *a, const struct plugin_cfg *b)
{
	return (!cfg_streq(a->name, b->name) || !cfg_streq(a->use, b->use) ||
	    a->priority != b->priority || !json_equal(a->raw, b->raw));
}
