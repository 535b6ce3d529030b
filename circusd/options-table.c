/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watcher option table: one line per option, driving the ini loader's
 * typed conversion, `options`, `get`, `set`/`add` validation and `set`
 * itself. Works on struct watcher_cfg only: the caller runs the follow-up
 * action (manage or reload). [circus] has its table in options-circus.c.
 */

#include <sys/types.h>
#include <sys/resource.h>

#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config.h"
#include "config-int.h"
#include "pyjson.h"
#include "util.h"
#include "xmalloc.h"

static void opt_resolve_ids(struct watcher_cfg *);

#define OPT_F_LIST	0x01	/* reported by options and get */
#define OPT_F_SET	0x02	/* accepted by set and add */
#define OPT_F_EARLY	0x04	/* ini: typed, converted at load (fatal) */
#define OPT_F_LATE	0x08	/* ini: string expanded with watcher env */
#define OPT_F_INI_INT	0x10	/* ini: parse as int (warmup_delay) */
#define OPT_F_INI_IGN	0x20	/* ini: read but overwritten (env) */
#define OPT_F_NOFIELD	0x40	/* no struct field (retry_in) */
#define OPT_F_OURS	0x80	/* ours: in `options` only once used, so a
				 * watcher that does not use them answers
				 * Circus's exact key set (get always works) */

#define OPT_NOFIELD ((size_t)-1)

struct opt_entry {
	const char	*name;		/* ini, set and add key */
	const char	*list_name;	/* key in options/get when different */
	enum opt_type	 type;
	size_t		 offset;	/* into struct watcher_cfg */
	enum opt_action	 action;	/* follow-up after set */
	int		 flags;
	const char	*help;
};

#define W(f) offsetof(struct watcher_cfg, f)
#define MANAGE OPT_ACTION_MANAGE
#define RELOAD OPT_ACTION_RELOAD
#define LS (OPT_F_LIST | OPT_F_SET)

static const struct opt_entry opt_table[] = {
	{ "numprocesses", NULL, OPT_INT, W(numprocesses), MANAGE,
	  LS | OPT_F_EARLY, "processes to keep running" },
	{ "warmup_delay", NULL, OPT_FLOAT, W(warmup_delay), MANAGE,
	  LS | OPT_F_EARLY | OPT_F_INI_INT, "seconds between spawns" },
	{ "working_dir", NULL, OPT_STRING, W(working_dir), RELOAD,
	  LS | OPT_F_LATE, "directory the processes start in" },
	{ "uid", NULL, OPT_IDENT, W(uid), RELOAD,
	  LS | OPT_F_LATE, "user to run as" },
	{ "gid", NULL, OPT_IDENT, W(gid), RELOAD,
	  LS | OPT_F_LATE, "group to run as" },
	{ "send_hup", NULL, OPT_BOOL, W(send_hup), MANAGE,
	  LS | OPT_F_EARLY, "reload by sending SIGHUP" },
	{ "stop_signal", NULL, OPT_SIGNAL, W(stop_signal), MANAGE,
	  LS | OPT_F_EARLY, "first signal sent on stop" },
	{ "stop_children", NULL, OPT_BOOL, W(stop_children), MANAGE,
	  LS | OPT_F_EARLY, "signal the children too" },
	{ "shell", NULL, OPT_BOOL, W(shell), RELOAD,
	  LS | OPT_F_EARLY, "run cmd through /bin/sh -c" },
	{ "shell_args", NULL, OPT_STRING, W(shell_args), MANAGE,
	  OPT_F_LIST | OPT_F_LATE, "extra arguments to the shell" },
	{ "env", NULL, OPT_ENV, W(env), RELOAD,
	  LS | OPT_F_INI_IGN, "process environment" },
	{ "max_retry", NULL, OPT_INT, W(max_retry), MANAGE,
	  LS | OPT_F_EARLY, "spawn attempts before giving up (-1 = always)" },
	{ "cmd", NULL, OPT_STRING, W(cmd), RELOAD,
	  LS | OPT_F_LATE, "command line" },
	{ "args", NULL, OPT_ARGS, W(args), RELOAD,
	  LS | OPT_F_LATE, "extra arguments" },
	{ "respawn", NULL, OPT_BOOL, W(respawn), MANAGE,
	  LS | OPT_F_EARLY, "restart processes that exit" },
	{ "graceful_timeout", NULL, OPT_FLOAT, W(graceful_timeout), MANAGE,
	  LS | OPT_F_EARLY, "seconds before SIGKILL" },
	{ "executable", NULL, OPT_STRING, W(executable), MANAGE,
	  OPT_F_LIST | OPT_F_LATE, "program actually executed" },
	{ "use_sockets", NULL, OPT_BOOL, W(use_sockets), MANAGE,
	  OPT_F_LIST | OPT_F_EARLY, "inherit the daemon's sockets" },
	{ "priority", NULL, OPT_INT, W(priority), MANAGE,
	  OPT_F_LIST | OPT_F_EARLY, "start order, higher first" },
	{ "copy_env", NULL, OPT_BOOL, W(copy_env), RELOAD,
	  LS | OPT_F_EARLY, "start from the daemon's environment" },
	{ "singleton", NULL, OPT_BOOL, W(singleton), MANAGE,
	  LS | OPT_F_EARLY, "at most one process" },
	{ "stdout_stream", "stdout_stream_conf", OPT_STREAM, W(stdout_stream),
	  MANAGE, LS, "stdout stream configuration" },
	{ "on_demand", NULL, OPT_BOOL, W(on_demand), MANAGE,
	  OPT_F_LIST | OPT_F_EARLY, "start when a socket is readable" },
	{ "stderr_stream", "stderr_stream_conf", OPT_STREAM, W(stderr_stream),
	  MANAGE, LS, "stderr stream configuration" },
	{ "max_age", NULL, OPT_INT, W(max_age), RELOAD,
	  LS | OPT_F_LATE, "recycle processes after N seconds" },
	{ "max_age_variance", NULL, OPT_INT, W(max_age_variance), RELOAD,
	  LS | OPT_F_LATE, "random extra age" },
	{ "close_child_stdin", NULL, OPT_BOOL, W(close_child_stdin), MANAGE,
	  LS | OPT_F_EARLY, "child stdin from /dev/null" },
	{ "close_child_stdout", NULL, OPT_BOOL, W(close_child_stdout), MANAGE,
	  LS | OPT_F_EARLY, "child stdout to /dev/null" },
	{ "close_child_stderr", NULL, OPT_BOOL, W(close_child_stderr), MANAGE,
	  LS | OPT_F_EARLY, "child stderr to /dev/null" },
	{ "hooks", NULL, OPT_HOOKS, W(hooks), MANAGE,
	  OPT_F_SET, "hook programs" },
	{ "autostart", NULL, OPT_BOOL, W(autostart), MANAGE,
	  OPT_F_EARLY, "start with the daemon" },
	{ "copy_path", NULL, OPT_BOOL, W(copy_path), MANAGE,
	  OPT_F_EARLY, "keep PYTHONPATH (needs copy_env)" },
	{ "stdin_socket", NULL, OPT_STRING, W(stdin_socket), MANAGE,
	  OPT_F_LATE, "socket placed on fd 0" },
	{ "virtualenv", NULL, OPT_STRING, W(virtualenv), MANAGE,
	  OPT_F_LATE, "virtualenv root" },
	{ "virtualenv_py_ver", NULL, OPT_STRING, W(virtualenv_py_ver), MANAGE,
	  OPT_F_LATE, "python version of the virtualenv" },
	{ "readiness", NULL, OPT_READINESS, W(readiness), MANAGE,
	  LS | OPT_F_EARLY | OPT_F_OURS, "none, or notify: ready on READY=1" },
	{ "readiness_timeout", NULL, OPT_FLOAT, W(readiness_timeout), MANAGE,
	  LS | OPT_F_EARLY | OPT_F_OURS, "seconds a new process has to be ready" },
	{ "watchdog", NULL, OPT_FLOAT, W(watchdog), RELOAD,
	  LS | OPT_F_EARLY | OPT_F_OURS, "seconds between WATCHDOG=1 pings (0 = off)" },
	{ "rolling", NULL, OPT_INT, W(rolling), MANAGE,
	  LS | OPT_F_EARLY | OPT_F_OURS, "processes replaced per batch" },
	{ "retry_in", NULL, OPT_FLOAT, OPT_NOFIELD, MANAGE,
	  OPT_F_SET | OPT_F_NOFIELD, "accepted for compatibility" },
};

static const char *const opt_readiness_names[] = { "none", "notify" };

/* "none" / "notify" to the mode; -1 if neither. */
static int
opt_parse_readiness(const char *v, enum readiness_mode *out)
{
	size_t	i;

	for (i = 0; i < nitems(opt_readiness_names); i++) {
		if (strcasecmp(v, opt_readiness_names[i]) == 0) {
			*out = (enum readiness_mode)i;
			return (0);
		}
	}
	return (-1);
}

static const char *const opt_hook_names[] = {
	"before_start", "after_start", "before_stop", "after_stop",
	"before_spawn", "after_spawn", "before_signal", "after_signal",
	"before_reap", "after_reap", "extended_stats",
};

static const struct {
	const char	*name;
	int		 resource;
} opt_rlimits[] = {
	{ "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA }, { "fsize", RLIMIT_FSIZE },
	{ "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE },
	{ "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS },
	{ "rtprio", RLIMIT_RTPRIO }, { "rttime", RLIMIT_RTTIME },
	{ "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
};

/* Pointer to an entry's field in a watcher config. */
static void *
opt_field(struct watcher_cfg *cfg, const struct opt_entry *e)
{
	return ((char *)cfg + e->offset);
}

/* Read-only pointer to an entry's field. */
static const void *
opt_cfield(const struct watcher_cfg *cfg, const struct opt_entry *e)
{
	return ((const char *)cfg + e->offset);
}

/* Find a table entry by its ini/set name. */
static const struct opt_entry *
opt_find(const char *key)
{
	size_t	 i;

	for (i = 0; i < nitems(opt_table); i++) {
		if (strcmp(opt_table[i].name, key) == 0)
			return (&opt_table[i]);
	}
	return (NULL);
}

/* Find a listed entry by its options/get name. */
static const struct opt_entry *
opt_find_listed(const char *key)
{
	const struct opt_entry	*e;
	size_t			 i;

	for (i = 0; i < nitems(opt_table); i++) {
		e = &opt_table[i];
		if ((e->flags & OPT_F_LIST) == 0)
			continue;
		if (strcmp(e->list_name != NULL ? e->list_name : e->name,
		    key) == 0)
			return (e);
	}
	return (NULL);
}

/* Python repr of a string, allocated. */
static char *
opt_repr(const char *s)
{
	return (pyjson_str_repr(s));
}

/* Build an allocated cause "<repr(key)><rest>". */
static char *
opt_cause_key(const char *key, const char *rest)
{
	char	*r, *out;

	r = opt_repr(key);
	out = xprintf("%s%s", r, rest);
	free(r);
	return (out);
}

/* Is name a hook Circus knows? */
static bool
opt_hook_known(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(opt_hook_names); i++) {
		if (strcmp(opt_hook_names[i], name) == 0)
			return (true);
	}
	return (false);
}

/* RLIMIT_* number of an rlimit name (any case), or -1. */
int
config_rlimit_resource(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(opt_rlimits); i++) {
		if (strcasecmp(opt_rlimits[i].name, name) == 0)
			return (opt_rlimits[i].resource);
	}
	return (-1);
}

/* How the ini loader treats one watcher key. */
enum opt_ini
watcher_opt_ini_kind(const char *key)
{
	const struct opt_entry	*e;

	if ((e = opt_find(key)) == NULL)
		return (OPT_INI_FREEFORM);
	if (e->flags & OPT_F_INI_IGN)
		return (OPT_INI_IGNORED);
	if (e->flags & OPT_F_EARLY)
		return (OPT_INI_EARLY);
	if (e->flags & OPT_F_LATE)
		return (OPT_INI_LATE);
	return (OPT_INI_FREEFORM);
}

/* Convert and store one ini value of a table key. */
int
watcher_cfg_ini_set(struct watcher_cfg *cfg, const char *key,
    const char *value, char **cause)
{
	const struct opt_entry	*e;
	long long		 n;
	double			 d;
	bool			 b;
	int			 sig;
	char			*r;
	json_t			**jp;
	char			**sp;

	if ((e = opt_find(key)) == NULL || (e->flags & OPT_F_NOFIELD)) {
		*cause = xprintf("unknown option %s", key);
		return (-1);
	}
	r = opt_repr(value);
	switch (e->type) {
	case OPT_INT:
		if (config_parse_int(value, &n) == -1 || n < -2147483647LL ||
		    n > 2147483647LL) {
			*cause = xprintf("%s = %s is not an integer", key, r);
			goto fail;
		}
		*(int *)opt_field(cfg, e) = (int)n;
		break;
	case OPT_FLOAT:
		if (e->flags & OPT_F_INI_INT) {
			if (config_parse_int(value, &n) == -1) {
				*cause = xprintf("%s = %s is not an integer",
				    key, r);
				goto fail;
			}
			d = (double)n;
			if (e->offset == W(warmup_delay))
				cfg->warmup_delay_is_int = true;
		} else if (config_parse_float(value, &d) == -1) {
			*cause = xprintf("%s = %s is not a number", key, r);
			goto fail;
		}
		*(double *)opt_field(cfg, e) = d;
		break;
	case OPT_BOOL:
		if (util_parse_bool(value, &b) == -1) {
			*cause = xprintf("%s = %s is not a boolean", key, r);
			goto fail;
		}
		*(bool *)opt_field(cfg, e) = b;
		break;
	case OPT_SIGNAL:
		if ((sig = util_parse_signal(value)) == -1) {
			*cause = xprintf("%s = %s: signal invalid", key, r);
			goto fail;
		}
		*(int *)opt_field(cfg, e) = sig;
		break;
	case OPT_READINESS:
		if (opt_parse_readiness(value, opt_field(cfg, e)) == -1) {
			*cause = xprintf("%s = %s: expected none or notify",
			    key, r);
			goto fail;
		}
		break;
	case OPT_STRING:
		sp = opt_field(cfg, e);
		free(*sp);
		*sp = xstrdup(value);
		break;
	case OPT_IDENT:
	case OPT_ARGS:
		jp = opt_field(cfg, e);
		json_decref(*jp);
		if ((*jp = json_string(value)) == NULL)
			*jp = json_string_nocheck(value);
		if (e->type == OPT_IDENT)
			opt_resolve_ids(cfg);
		break;
	default:
		*cause = xprintf("%s cannot be set from a file", key);
		goto fail;
	}
	free(r);
	return (0);
fail:
	free(r);
	return (-1);
}

/* JSON value of a stream conf as `options` shows it (without class). */
static json_t *
opt_stream_value(const struct watcher_cfg *cfg, const json_t *conf)
{
	json_t	*v;

	if (conf == NULL)
		return (cfg->from_add ? json_null() : json_object());
	v = json_deep_copy(conf);
	json_object_del(v, "class");
	return (v);
}

/* Current JSON value of one table entry. */
static json_t *
opt_value(const struct watcher_cfg *cfg, const struct opt_entry *e)
{
	const json_t	*j;
	const char	*s;
	double		 d;

	switch (e->type) {
	case OPT_INT:
	case OPT_SIGNAL:
		return (json_integer(*(const int *)opt_cfield(cfg, e)));
	case OPT_FLOAT:
		d = *(const double *)opt_cfield(cfg, e);
		if (e->offset == W(warmup_delay) && cfg->warmup_delay_is_int)
			return (json_integer((json_int_t)d));
		return (json_real(d));
	case OPT_BOOL:
		return (json_boolean(*(const bool *)opt_cfield(cfg, e)));
	case OPT_STRING:
		s = *(char *const *)opt_cfield(cfg, e);
		if (s == NULL)
			return (json_null());
		if ((j = json_string(s)) == NULL)
			j = json_string_nocheck(s);
		return ((json_t *)j);
	case OPT_READINESS:
		return (json_string(opt_readiness_names[
		    *(const enum readiness_mode *)opt_cfield(cfg, e)]));
	case OPT_STREAM:
		return (opt_stream_value(cfg,
		    *(json_t *const *)opt_cfield(cfg, e)));
	case OPT_IDENT:
	case OPT_ENV:
	case OPT_ARGS:
	case OPT_HOOKS:
		j = *(json_t *const *)opt_cfield(cfg, e);
		if (j == NULL)
			return (json_null());
		return (json_deep_copy(j));
	}
	return (json_null());
}

/* Compare two C strings for qsort. */
static int
opt_strcmp(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

/* Does the watcher use one of our options (readiness, doc/design.md
 * §18)? Then `options` lists them all. */
static bool
opt_ours_used(const struct watcher_cfg *cfg)
{
	return (cfg->readiness != READINESS_NONE || cfg->watchdog > 0 ||
	    cfg->rolling != 1 || cfg->readiness_timeout != 30.0);
}

/* `options` reply object for a watcher: every key, sorted. */
json_t *
watcher_cfg_options(const struct watcher_cfg *cfg)
{
	const struct opt_entry	*e;
	json_t			*all, *out, *v;
	const char		*key, **keys;
	size_t			 i, n;

	all = json_object();
	for (i = 0; i < nitems(opt_table); i++) {
		e = &opt_table[i];
		if ((e->flags & OPT_F_LIST) == 0)
			continue;
		if ((e->flags & OPT_F_OURS) && !opt_ours_used(cfg))
			continue;
		json_object_set_new(all,
		    e->list_name != NULL ? e->list_name : e->name,
		    opt_value(cfg, e));
	}
	if (cfg->freeform != NULL) {
		json_object_foreach(cfg->freeform, key, v) {
			if (json_object_get(all, key) == NULL)
				json_object_set(all, key, v);
		}
	}
	n = json_object_size(all);
	keys = xcalloc(n + 1, sizeof *keys);
	i = 0;
	json_object_foreach(all, key, v)
		keys[i++] = key;
	qsort(keys, n, sizeof *keys, opt_strcmp);
	out = json_object();
	for (i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(all, keys[i]));
	free(keys);
	json_decref(all);
	return (out);
}

/* Current value of one option key for `get`. */
json_t *
watcher_cfg_get(const struct watcher_cfg *cfg, const char *key, char **cause)
{
	const struct opt_entry	*e;
	json_t			*v;

	if ((e = opt_find_listed(key)) != NULL)
		return (opt_value(cfg, e));
	if (cfg->freeform != NULL &&
	    (v = json_object_get(cfg->freeform, key)) != NULL)
		return (json_deep_copy(v));
	*cause = opt_cause_key(key, " option not found");
	return (NULL);
}

/* Is a key accepted by set/add through one of the dotted prefixes? */
static bool
opt_valid_prefix(const char *key)
{
	return (strncmp(key, "stdout_stream.", 14) == 0 ||
	    strncmp(key, "stderr_stream.", 14) == 0 ||
	    strncmp(key, "hooks.", 6) == 0 || strncmp(key, "rlimit_", 7) == 0);
}

/* Validate one set/add key and JSON value with Circus's reasons. */
int
watcher_opt_validate(const char *key, const json_t *value, char **cause)
{
	const struct opt_entry	*e;
	const char		*k;
	json_t			*v;
	char			*r;

	e = opt_find(key);
	if (e != NULL && (e->flags & OPT_F_SET) == 0)
		e = NULL;
	if (e == NULL && !opt_valid_prefix(key)) {
		r = opt_repr(key);
		*cause = xprintf("unknown key %s", r);
		free(r);
		return (-1);
	}
	if (e == NULL) {
		if (strncmp(key, "rlimit_", 7) != 0)
			return (0);
		if (config_rlimit_resource(key + 7) == -1) {
			*cause = opt_cause_key(key,
			    " isn't a valid rlimit setting");
			return (-1);
		}
		if (!json_is_null(value) && !json_is_integer(value)) {
			r = pyjson_repr(value);
			*cause = xprintf("%s rlimit value isn't a valid int",
			    r);
			free(r);
			return (-1);
		}
		return (0);
	}
	switch (e->type) {
	case OPT_INT:
	case OPT_SIGNAL:
		if (!json_is_integer(value)) {
			*cause = opt_cause_key(key, " isn't an integer");
			return (-1);
		}
		break;
	case OPT_FLOAT:
		if (!json_is_number(value)) {
			*cause = opt_cause_key(key, " isn't a number");
			return (-1);
		}
		break;
	case OPT_IDENT:
		if (!json_is_integer(value) && !json_is_string(value)) {
			*cause = opt_cause_key(key,
			    " isn't an integer or string");
			return (-1);
		}
		break;
	case OPT_BOOL:
		if (!json_is_boolean(value)) {
			*cause = opt_cause_key(key, " isn't a valid boolean");
			return (-1);
		}
		break;
	case OPT_ENV:
		if (!json_is_object(value)) {
			*cause = opt_cause_key(key, " isn't a valid object");
			return (-1);
		}
		json_object_foreach((json_t *)value, k, v) {
			if (!json_is_string(v)) {
				*cause = opt_cause_key(k, " isn't a string");
				return (-1);
			}
		}
		break;
	case OPT_HOOKS:
		if (!json_is_object(value)) {
			r = pyjson_repr(value);
			*cause = xprintf("%s isn't a valid hook dict", r);
			free(r);
			return (-1);
		}
		json_object_foreach((json_t *)value, k, v) {
			if (!opt_hook_known(k)) {
				r = pyjson_repr(value);
				*cause = xprintf("Unknown hook %s", r);
				free(r);
				return (-1);
			}
		}
		break;
	case OPT_STREAM:
		if (!json_is_object(value)) {
			*cause = opt_cause_key(key, " isn't a valid object");
			return (-1);
		}
		if (json_object_get(value, "class") == NULL) {
			*cause = opt_cause_key(key, " must have a 'class' key");
			return (-1);
		}
		break;
	case OPT_READINESS:
		if (!json_is_string(value) || opt_parse_readiness(
		    json_string_value(value), &(enum readiness_mode){0}) == -1) {
			*cause = opt_cause_key(key,
			    " isn't none or notify");
			return (-1);
		}
		break;
	case OPT_STRING:
	case OPT_ARGS:
		break;
	}
	return (0);
}

/* Text of a JSON value for a string field (strings raw, others as JSON). */
static char *
opt_json_text(const json_t *v)
{
	if (json_is_string(v))
		return (xstrdup(json_string_value(v)));
	return (pyjson_str(v));
}

/* Resolve a user name or number to a uid. */
static int
opt_resolve_uid(const json_t *v, json_int_t *out, char **cause)
{
	struct passwd	*pw;
	long long	 n;
	const char	*s;
	char		*r;

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (config_parse_int(json_string_value(v), &n) == -1) {
		s = json_string_value(v);
		if ((pw = getpwnam(s)) == NULL) {
			r = opt_repr(s);
			*cause = xprintf("%s isn't a valid user name", r);
			free(r);
			return (-1);
		}
		*out = pw->pw_uid;
		return (0);
	}
	if (n < 0 || getpwuid((uid_t)n) == NULL) {
		*cause = xprintf("%lld isn't a valid user id", n);
		return (-1);
	}
	*out = n;
	return (0);
}

/* Resolve a group name or number to a gid. */
static int
opt_resolve_gid(const json_t *v, json_int_t *out, char **cause)
{
	struct group	*gr;
	long long	 n;
	const char	*s;
	char		*r;

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (config_parse_int(json_string_value(v), &n) == -1) {
		s = json_string_value(v);
		if ((gr = getgrnam(s)) == NULL) {
			r = opt_repr(s);
			*cause = xprintf("No such group: %s", r);
			free(r);
			return (-1);
		}
		*out = gr->gr_gid;
		return (0);
	}
	if (n < 0 || getgrgid((gid_t)n) == NULL) {
		*cause = xprintf("No such group: %lld", n);
		return (-1);
	}
	*out = n;
	return (0);
}

/* A uid/gid option value as a number: integer, or a string of digits. */
static bool
opt_ident_number(const json_t *v, long long *n)
{
	if (json_is_integer(v)) {
		*n = json_integer_value(v);
		return (true);
	}
	return (json_is_string(v) &&
	    config_parse_int(json_string_value(v), n) == 0);
}

/*
 * What a spawn applies for the uid and gid options, from the user database
 * once, whenever either is set (from a file, by `set` or by `add`): the
 * uid with its primary group and supplementary groups, the gid given
 * instead of the primary group. A name that does not resolve is marked,
 * and each spawn reports it (doc/design.md §4), as before.
 */
static void
opt_resolve_ids(struct watcher_cfg *cfg)
{
	struct cfg_ids	*ids = &cfg->ids;
	struct passwd	*pw = NULL;
	struct group	*gr;
	long long	 n;
	int		 ng;

	memset(ids, 0, sizeof *ids);
	if (cfg->uid != NULL && !json_is_null(cfg->uid)) {
		if (opt_ident_number(cfg->uid, &n)) {
			pw = n >= 0 ? getpwuid((uid_t)n) : NULL;
			/* a bare number without an entry: that uid, no
			 * groups (an integer must name a user) */
			ids->set_uid = pw != NULL || json_is_string(cfg->uid);
			ids->uid = (uid_t)n;
		} else if ((pw = getpwnam(json_string_value(cfg->uid))) !=
		    NULL)
			ids->set_uid = true;
		ids->bad_uid = !ids->set_uid;
	}
	if (pw != NULL) {
		ids->uid = pw->pw_uid;
		ids->set_gid = true;
		ids->gid = pw->pw_gid;
	}
	if (cfg->gid != NULL && !json_is_null(cfg->gid)) {
		if (opt_ident_number(cfg->gid, &n))
			ids->gid = (gid_t)n;
		else if ((gr = getgrnam(json_string_value(cfg->gid))) != NULL)
			ids->gid = gr->gr_gid;
		else
			ids->bad_gid = true;
		ids->set_gid = !ids->bad_gid;
	}
	if (pw == NULL)
		return;
	ng = CFG_MAX_GROUPS;
	if (getgrouplist(pw->pw_name, ids->gid, ids->groups, &ng) >= 0) {
		ids->ngroups = ng;
		ids->set_groups = true;
	}
}

/* Check a hook target: only paths to executables are supported. */
int
config_hook_check(const char *hook, const char *target, char **cause)
{
	char	*r;

	if (strchr(target, '/') != NULL)
		return (0);
	r = opt_repr(target);
	if (*target == '\0')
		*cause = xprintf("hook %s has no target; give the path of an "
		    "executable", hook);
	else
		*cause = xprintf("hook %s %s is a Python name; give the path "
		    "of an executable instead", hook, r);
	free(r);
	return (-1);
}

/* Parse a set/add hook value ("target[,bool]" or [target, bool]). */
static json_t *
opt_hook_value(const char *hook, const json_t *v, char **cause)
{
	const char	*s, *comma;
	char		*target, *flag;
	bool		 ignore = false;
	size_t		 len;
	json_t		*out;

	if (json_is_array(v) && json_array_size(v) == 2 &&
	    json_is_string(json_array_get(v, 0))) {
		s = json_string_value(json_array_get(v, 0));
		if (json_is_boolean(json_array_get(v, 1)))
			ignore = json_is_true(json_array_get(v, 1));
		else if (!json_is_string(json_array_get(v, 1)) ||
		    util_parse_bool(json_string_value(json_array_get(v, 1)),
		    &ignore) == -1) {
			*cause = xprintf("hook %s: invalid ignore flag", hook);
			return (NULL);
		}
		target = xstrdup(s);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		if ((comma = strchr(s, ',')) != NULL) {
			flag = xstrdup(comma + 1);
			if (util_parse_bool(flag, &ignore) == -1) {
				*cause = xprintf("hook %s: %s is not a "
				    "boolean", hook, flag);
				free(flag);
				return (NULL);
			}
			free(flag);
			len = comma - s;
		} else
			len = strlen(s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			len--;
		while (len > 0 && isspace((unsigned char)*s)) {
			s++;
			len--;
		}
		target = xstrndup(s, len);
	} else {
		*cause = xprintf("hook %s: expected \"target[,bool]\" or "
		    "[target, bool]", hook);
		return (NULL);
	}
	if (config_hook_check(hook, target, cause) == -1) {
		free(target);
		return (NULL);
	}
	out = json_pack("[s b]", target, ignore);
	free(target);
	return (out);
}

/* Validate a whole stream conf (class name or implied FileStream). */
static int
opt_stream_check(json_t *conf, char **cause)
{
	static const char *const classes[] = {
		"FileStream", "WatchedFileStream", "TimedRotatingFileStream",
		"StdoutStream", "FancyStdoutStream", "QueueStream",
	};
	const char	*cls;
	size_t		 i;

	if ((cls = json_string_value(json_object_get(conf, "class"))) ==
	    NULL) {
		if (json_object_get(conf, "filename") == NULL) {
			*cause = xstrdup("stream configuration invalid");
			return (-1);
		}
		json_object_set_new(conf, "class", json_string("FileStream"));
		return (0);
	}
	if (strncmp(cls, "circus.stream.", 14) == 0)
		cls += 14;
	for (i = 0; i < nitems(classes); i++) {
		if (strcmp(classes[i], cls) == 0)
			return (0);
	}
	*cause = xprintf("unknown stream class '%s'",
	    json_string_value(json_object_get(conf, "class")));
	return (-1);
}

/* Apply `set` of one dotted stream key: update the conf and check it. */
static int
opt_set_stream_key(struct watcher_cfg *cfg, const char *key,
    const json_t *value, enum opt_action *action, char **cause)
{
	json_t	**jp, *conf;

	jp = key[1] == 't' && key[3] == 'o' ? &cfg->stdout_stream :
	    &cfg->stderr_stream;
	conf = *jp != NULL ? json_deep_copy(*jp) : json_object();
	json_object_set(conf, key + 14, (json_t *)value);
	if (opt_stream_check(conf, cause) == -1) {
		json_decref(conf);
		return (-1);
	}
	*action = *jp != NULL ? OPT_ACTION_MANAGE : OPT_ACTION_RELOAD;
	json_decref(*jp);
	*jp = conf;
	return (0);
}

/* Install one hook from a set/add value. */
static int
opt_set_hook(struct watcher_cfg *cfg, const char *hook, const json_t *value,
    char **cause)
{
	json_t	*h;

	if ((h = opt_hook_value(hook, value, cause)) == NULL)
		return (-1);
	if (cfg->hooks == NULL)
		cfg->hooks = json_object();
	json_object_set_new(cfg->hooks, hook, h);
	return (0);
}

/* Apply one validated key to cfg as `set` does. */
int
watcher_cfg_set(struct watcher_cfg *cfg, const char *key, const json_t *value,
    enum opt_action *action, char **cause)
{
	const struct opt_entry	*e;
	json_int_t		 id;
	json_t			**jp, *h, *env;
	const char		*k;
	char			**sp;
	long long		 n;

	*action = OPT_ACTION_MANAGE;

	/* Circus replaces a free-form option of that exact name first. */
	if (cfg->freeform != NULL && json_object_get(cfg->freeform, key)) {
		json_object_set(cfg->freeform, key, (json_t *)value);
		return (0);
	}
	if (strncmp(key, "stdout_stream.", 14) == 0 ||
	    strncmp(key, "stderr_stream.", 14) == 0)
		return (opt_set_stream_key(cfg, key, value, action, cause));
	if (strncmp(key, "hooks.", 6) == 0)
		return (opt_set_hook(cfg, key + 6, value, cause));
	if (strncmp(key, "rlimit_", 7) == 0) {
		if (cfg->rlimits == NULL)
			cfg->rlimits = json_object();
		json_object_set_new(cfg->rlimits, key + 7,
		    json_integer(json_is_integer(value) ?
		    json_integer_value(value) : -1));
		return (0);
	}
	if ((e = opt_find(key)) == NULL || (e->flags & OPT_F_SET) == 0) {
		*cause = xprintf("unknown key '%s'", key);
		return (-1);
	}
	if (e->flags & OPT_F_NOFIELD)
		return (0);	/* retry_in: accepted, nothing to change */
	*action = e->action;

	if (strcmp(key, "numprocesses") == 0) {
		n = json_integer_value(value);
		if (n < 0)
			n = 0;
		if (cfg->singleton && n > 1) {
			*cause = xstrdup("Singleton watcher has a single "
			    "process");
			return (-1);
		}
		cfg->numprocesses = n > 2147483647LL ? 2147483647 : (int)n;
		return (0);
	}
	if (strcmp(key, "singleton") == 0) {
		if (json_is_true(value) && cfg->numprocesses > 1) {
			*cause = xprintf("Cannot have %d processes with a "
			    "singleton  watcher", cfg->numprocesses);
			return (-1);
		}
		cfg->singleton = json_is_true(value);
		return (0);
	}
	if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
		if ((key[0] == 'u' ? opt_resolve_uid(value, &id, cause) :
		    opt_resolve_gid(value, &id, cause)) == -1)
			return (-1);
		jp = opt_field(cfg, e);
		json_decref(*jp);
		*jp = json_integer(id);
		opt_resolve_ids(cfg);
		return (0);
	}
	if (strcmp(key, "copy_env") == 0) {
		/* Start from the daemon's environment, keeping set keys. */
		if (json_is_true(value) && !cfg->copy_env) {
			env = config_env_os();
			if (cfg->env != NULL)
				json_object_update(env, cfg->env);
			json_decref(cfg->env);
			cfg->env = env;
		}
		cfg->copy_env = json_is_true(value);
		return (0);
	}

	switch (e->type) {
	case OPT_INT:
	case OPT_SIGNAL:
		n = json_integer_value(value);
		if (n > 2147483647LL)
			n = 2147483647LL;
		if (n < -2147483647LL)
			n = -2147483647LL;
		*(int *)opt_field(cfg, e) = (int)n;
		break;
	case OPT_READINESS:
		if (opt_parse_readiness(json_string_value(value),
		    opt_field(cfg, e)) == -1) {
			*cause = opt_cause_key(key, " isn't none or notify");
			return (-1);
		}
		break;
	case OPT_FLOAT:
		*(double *)opt_field(cfg, e) = json_number_value(value);
		if (e->offset == W(warmup_delay))
			cfg->warmup_delay_is_int = false;
		break;
	case OPT_BOOL:
		*(bool *)opt_field(cfg, e) = json_is_true(value);
		break;
	case OPT_STRING:
		sp = opt_field(cfg, e);
		free(*sp);
		*sp = opt_json_text(value);
		break;
	case OPT_ENV:
	case OPT_ARGS:
	case OPT_IDENT:
		jp = opt_field(cfg, e);
		json_decref(*jp);
		*jp = json_deep_copy(value);
		if (e->type == OPT_IDENT)
			opt_resolve_ids(cfg);
		break;
	case OPT_HOOKS:
		json_object_foreach((json_t *)value, k, h) {
			if (opt_set_hook(cfg, k, h, cause) == -1)
				return (-1);
		}
		break;
	case OPT_STREAM:
		/* Circus 0.19 fails here too: only dotted keys work. */
		*cause = xstrdup("list index out of range");
		return (-1);
	}
	return (0);
}

/* Apply the options of an `add` request like Circus's constructor. */
int
watcher_cfg_add_options(struct watcher_cfg *cfg, const json_t *options,
    char **cause)
{
	const struct opt_entry	*e;
	enum opt_action		 action;
	const char		*key;
	json_t			*v, *h, *conf;
	const char		*hk;

	if (options == NULL)
		return (0);
	json_object_foreach((json_t *)options, key, v) {
		e = opt_find(key);
		if (strncmp(key, "rlimit_", 7) == 0) {
			json_object_set_new(cfg->rlimits, key + 7,
			    json_integer(json_is_integer(v) ?
			    json_integer_value(v) : -1));
			continue;
		}
		if (e == NULL || (e->flags & OPT_F_NOFIELD)) {
			/* retry_in and dotted keys: free-form, no effect. */
			json_object_set(cfg->freeform, key, v);
			continue;
		}
		switch (e->type) {
		case OPT_IDENT:
			json_decref(*(json_t **)opt_field(cfg, e));
			*(json_t **)opt_field(cfg, e) = json_deep_copy(v);
			opt_resolve_ids(cfg);
			break;
		case OPT_STREAM:
			conf = json_deep_copy(v);
			if (opt_stream_check(conf, cause) == -1) {
				json_decref(conf);
				return (-1);
			}
			json_decref(*(json_t **)opt_field(cfg, e));
			*(json_t **)opt_field(cfg, e) = conf;
			break;
		case OPT_HOOKS:
			json_object_foreach(v, hk, h) {
				if (!json_is_array(h)) {
					*cause = xprintf("hook %s: expected "
					    "[target, ignore_failure]", hk);
					return (-1);
				}
				if (opt_set_hook(cfg, hk, h, cause) == -1)
					return (-1);
			}
			break;
		case OPT_BOOL:
			if (strcmp(key, "singleton") == 0 ||
			    strcmp(key, "copy_env") == 0) {
				*(bool *)opt_field(cfg, e) = json_is_true(v);
				break;
			}
			/* FALLTHROUGH */
		default:
			if (strcmp(key, "numprocesses") == 0) {
				cfg->numprocesses = (int)json_integer_value(v);
				break;
			}
			if (watcher_cfg_set(cfg, key, v, &action, cause) == -1)
				return (-1);
			break;
		}
	}
	if (cfg->copy_env) {
		/* The constructor starts from the daemon's environment. */
		v = config_env_os();
		if (cfg->env != NULL)
			json_object_update(v, cfg->env);
		json_decref(cfg->env);
		cfg->env = v;
	}
	if (cfg->singleton && cfg->numprocesses != 0 &&
	    cfg->numprocesses != 1) {
		*cause = xprintf("Cannot have %d processes with a singleton "
		    " watcher", cfg->numprocesses);
		return (-1);
	}
	return (0);
}
