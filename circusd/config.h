/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Circus ini dialect: loading (our own line reader, includes, [env]
 * sections, $(circus.*) substitution) into plain structs, and the option
 * table that also drives get/set/options/globaloptions and reloadconfig.
 * Nothing here knows about processes, ZeroMQ or the event loop.
 */
#ifndef CIRCUSD_CONFIG_H
#define CIRCUSD_CONFIG_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * uid/gid of a watcher's processes, resolved once when the option is set
 * (at load, by `set` or `add`), never at spawn (doc/design.md §3): the
 * user's primary group unless gid is given, and its supplementary groups.
 */
#define CFG_MAX_GROUPS		64
struct cfg_ids {
	bool	 set_uid, set_gid, set_groups;
	bool	 bad_uid, bad_gid;	/* a name that did not resolve */
	uid_t	 uid;
	gid_t	 gid;
	int	 ngroups;
	gid_t	 groups[CFG_MAX_GROUPS];
};

/* [circus] cgroups (ours; doc/design.md §20): auto, the default, is on
 * where a process can be created in its cgroup (clone3), off elsewhere. */
enum cgroups_mode {
	CGROUPS_AUTO = 0,
	CGROUPS_ON,
	CGROUPS_OFF,
};

/* [circus] section. */
struct circus_cfg {
	char	*endpoint;		/* tcp://127.0.0.1:5555 */
	char	*endpoint_owner;	/* NULL = unset */
	char	*pubsub_endpoint;	/* tcp://127.0.0.1:5556 */
	char	*multicast_endpoint;	/* "" = disabled */
	/* CurveZMQ (ours, README "Securing the control channel"): the
	 * server's secret certificate file, the directories of authorized
	 * and of read-only client public certificates; NULL = unset. */
	char	*curve_server_cert;
	char	*curve_clients;
	char	*curve_readonly_clients;
	bool	 plaintext_tcp;		/* allow plaintext on non-loopback */
	bool	 statsd;
	enum cgroups_mode cgroups;	/* ours: watchers in cgroups */
	char	*stats_endpoint;	/* tcp://127.0.0.1:5557 */
	char	*metrics_endpoint;	/* HOST:PORT of /metrics; forces statsd */
	double	 check_delay;		/* 5.0; <= 0 disables the safety tick */
	int	 warmup_delay;		/* seconds between watcher starts */
	int	 umask;			/* -1 = unset */
	char	*pidfile;		/* NULL = none */
	char	*loglevel;		/* NULL = info */
	char	*logoutput;		/* NULL = "-" */
	char	*loggerconfig;
	bool	 debug;
	bool	 httpd;
	char	*httpd_host;
	int	 httpd_port;
	char	*fqdn_prefix;
	/* Crash back-off (ours, doc/design.md §5): first delay, factor, cap,
	 * and the uptime after which a process counts as healthy and resets
	 * it. */
	double	 backoff_min_s;		/* 0.1 */
	double	 backoff_factor;	/* 2.0 */
	double	 backoff_max_s;		/* 30.0 */
	double	 backoff_reset_s;	/* 10.0 */
	json_t	*raw;			/* every key as read (object of strings) */
};

/* One [watcher:NAME] (or generated plugin/stats watcher). */
/* How circusd learns that a process can serve (doc/design.md §18). */
enum readiness_mode {
	READINESS_NONE = 0,	/* ready once spawned (Circus) */
	READINESS_NOTIFY,	/* ready on READY=1 at NOTIFY_SOCKET */
};

struct watcher_cfg {
	char	*name;			/* display name, case preserved */
	char	*file;			/* where its section started */
	int	 line;
	char	*cmd;			/* after load-time substitution */
	json_t	*args;			/* string (ini), array or string (add), or NULL */
	int	 numprocesses;		/* 1 */
	double	 warmup_delay;		/* 0; int from ini, float after set */
	bool	 warmup_delay_is_int;	/* render as int in options */
	char	*executable;		/* NULL */
	char	*working_dir;		/* circusd cwd */
	bool	 shell;
	char	*shell_args;		/* NULL */
	json_t	*uid;			/* NULL, string or integer, as
					 * get/options answer it */
	json_t	*gid;
	struct cfg_ids ids;		/* what a spawn applies */
	bool	 copy_env;
	bool	 copy_path;
	bool	 send_hup;
	int	 stop_signal;		/* 15 */
	bool	 stop_children;
	int	 max_retry;		/* 5; -1 unlimited */
	double	 graceful_timeout;	/* 30.0 */
	int	 priority;		/* 0 */
	bool	 singleton;
	bool	 use_sockets;
	bool	 on_demand;
	int	 max_age;		/* 0 = off */
	int	 max_age_variance;	/* 30 */
	bool	 respawn;		/* true */
	bool	 autostart;		/* true */
	bool	 close_child_stdin;	/* true */
	bool	 close_child_stdout;
	bool	 close_child_stderr;
	char	*stdin_socket;		/* NULL */
	char	*virtualenv;
	char	*virtualenv_py_ver;
	json_t	*env;			/* final process environment, object of strings; NULL for add without env */
	json_t	*stdout_stream;		/* stream conf incl. "class", or NULL */
	json_t	*stderr_stream;
	json_t	*hooks;			/* name -> [target, ignore_failure(bool)] */
	json_t	*rlimits;		/* name as written -> integer, -1 = unlimited */
	json_t	*freeform;		/* unknown keys -> string */
	json_t	*raw;			/* the section as read, for reloadconfig diff */
	bool	 from_add;		/* created by `add` (constructor defaults) */
	/* readiness (doc/design.md §18) */
	enum readiness_mode readiness;	/* none */
	double	 readiness_timeout;	/* 30 s */
	double	 watchdog;		/* 0 = off */
	int	 rolling;		/* 1: new processes per batch */
};

/* One [socket:NAME]. */
struct socket_cfg {
	char	*name;			/* lower-cased */
	char	*file;
	int	 line;
	char	*host;			/* localhost */
	int	 port;			/* 8080 */
	char	*path;			/* unix socket path, NULL */
	int	 family;		/* AF_INET, AF_INET6, AF_UNIX */
	int	 type;			/* SOCK_STREAM ... */
	int	 proto;			/* 0 */
	int	 backlog;		/* 2048 */
	char	*interface;		/* NULL */
	int	 umask;			/* 8 (decimal quirk) */
	bool	 replace;
	bool	 so_reuseport;
	bool	 blocking;
	json_t	*raw;
};

/* One [plugin:NAME]. */
struct plugin_cfg {
	char	*name;			/* section name after "plugin:" */
	char	*file;
	int	 line;
	char	*use;
	char	*program;		/* what `use` runs (config_plugin_program) */
	int	 priority;		/* 1 */
	json_t	*raw;			/* every key (strings) */
};

struct config {
	char			 *path;		/* as given */
	struct circus_cfg	  circus;
	struct watcher_cfg	**watchers;	/* sorted by name */
	size_t			  nwatchers;
	struct socket_cfg	**sockets;	/* sorted by name */
	size_t			  nsockets;
	struct plugin_cfg	**plugins;	/* sorted by name */
	size_t			  nplugins;
	json_t			 *global_env;	/* OS env + [env] */
	json_t			 *warnings;	/* array of strings "file:line: ..." */
	json_t			 *invalid;	/* the subset of warnings naming a
						 * watcher/socket/plugin that was
						 * dropped */
	json_t			 *unsupported;	/* "file:line: ..." read but not
						 * done as written (statsd, a
						 * header missing its ']') */
};

/*
 * Load a config file with its includes. Returns the config, or NULL with
 * *errors set to an allocated text listing every error, one per line, each
 * starting with "file:line: ". Watchers whose creation fails in a way Circus
 * only warns about are dropped and reported in config->warnings.
 */
struct config *config_load(const char *path, char **errors);
/*
 * Same for reloadconfig (doc/design.md §13): an error inside one [watcher:*],
 * [socket:*] or [plugin:*] section only drops that section (listed in
 * config->invalid and config->warnings); parse errors, missing files and
 * [circus] errors still refuse the whole file.
 */
struct config *config_load_lenient(const char *path, char **errors);
void config_free(struct config *);
/* Everything the daemon would refuse, skip or misread in a loaded
 * config, "file:line: ..." each (new array): the dropped sections, what
 * this build does not run ([plugin:*], statsd) and what it reads other
 * than written. circusd --check fails on any; the daemon logs them. */
json_t *config_problems(const struct config *);
/* The part of config_problems the daemon logs at start (the dropped
 * sections are already among the warnings). */
json_t *config_not_run(const struct config *);

/* Equal strings, NULL equal only to NULL. */
bool cfg_streq(const char *, const char *);

/* Defaults of a watcher created by `add` (constructor defaults). */
struct watcher_cfg *watcher_cfg_new_add(const char *name, const char *cmd);
struct watcher_cfg *watcher_cfg_dup(const struct watcher_cfg *);
void watcher_cfg_free(struct watcher_cfg *);
struct socket_cfg *socket_cfg_dup(const struct socket_cfg *);
void socket_cfg_free(struct socket_cfg *);
/* True when two configs differ the way reloadconfig cares about. */
bool watcher_cfg_changed(const struct watcher_cfg *, const struct watcher_cfg *,
    bool *only_numprocesses);
struct plugin_cfg *plugin_cfg_dup(const struct plugin_cfg *);
void plugin_cfg_free(struct plugin_cfg *);
bool plugin_cfg_changed(const struct plugin_cfg *, const struct plugin_cfg *);
/* The program a plugin section's `use` runs: a bundled plugin (in
 * $CIRCUS_PLUGIN_DIR, else next to the running executable) or the path of
 * an executable. NULL + *cause (allocated) when it names neither. */
char *config_plugin_program(const char *use, char **cause);

/* ---- the [socket:*] option table (options-socket.c) ---- */

/* Fill a socket config's options from its section's values (object of
 * strings): 0, or -1 with *bad naming the invalid option and *fatal
 * saying whether that refuses the file or only skips the socket. */
int socket_cfg_read(struct socket_cfg *, const json_t *values,
    const char **bad, bool *fatal);
/* True when reloadconfig must bind the second in place of the first. */
bool socket_cfg_changed(const struct socket_cfg *, const struct socket_cfg *);

/* ---- the [circus] option table (options-circus.c) ---- */

/* True when two [circus] sections differ (an option or a key as read). */
bool circus_cfg_changed(const struct circus_cfg *, const struct circus_cfg *);
/* Names of the options that differ from o to n: the ones reloadconfig
 * applies live (live), or the ones only a full restart applies. New
 * array. */
json_t *circus_cfg_diff(const struct circus_cfg *o, const struct circus_cfg *n,
    bool live);
/* "a, b and c": every option only a full restart applies. New string. */
char *circus_cfg_restart_names(void);
/* Copy one option from n into o; -1 if there is no such option. */
int circus_cfg_take(struct circus_cfg *o, const struct circus_cfg *n,
    const char *name);
/* `globaloptions` object (5 keys in Circus order). Caller owns. */
json_t *circus_cfg_globaloptions(const struct circus_cfg *);

/* ---- the option table (options-table.c) ---- */

enum opt_type {
	OPT_STRING, OPT_INT, OPT_FLOAT, OPT_BOOL, OPT_SIGNAL, OPT_IDENT,
	OPT_ENV, OPT_STREAM, OPT_HOOKS, OPT_ARGS, OPT_READINESS,
};

/* What `set` must do after changing an option. */
enum opt_action {
	OPT_ACTION_MANAGE = 0,	/* spawn missing / trim surplus */
	OPT_ACTION_RELOAD,	/* graceful reload */
};

/* `options` reply object for a watcher: every key, sorted. Caller owns. */
json_t *watcher_cfg_options(const struct watcher_cfg *);
/* Current value of one option key for `get`; NULL if not an option
 * (then *cause = "'<key>' option not found"). Caller owns the result. */
json_t *watcher_cfg_get(const struct watcher_cfg *, const char *key, char **cause);
/* Validate one `set`/`add` option key and JSON value with Circus's exact
 * errno-3 reasons. Returns 0, or -1 with *cause allocated. `for_add`
 * applies add's extra rejections. */
int watcher_opt_validate(const char *key, const json_t *value, char **cause);
/*
 * Apply one validated key to cfg as `set` does. Returns 0 and the follow-up
 * action in *action, or -1 with *cause (an errno-5 text such as
 * "Singleton watcher has a single process").
 */
int watcher_cfg_set(struct watcher_cfg *, const char *key, const json_t *value,
    enum opt_action *action, char **cause);
/*
 * Apply the `options` object of an `add` request to a watcher made by
 * watcher_cfg_new_add, as Circus's constructor does (rlimit_* into
 * rlimits, retry_in and dotted keys kept as free-form, whole stream and
 * hooks objects installed, uid/gid kept as given). Values must have passed
 * watcher_opt_validate. Returns 0, or -1 with *cause (errno-5 text such as
 * "Cannot have 2 processes with a singleton  watcher").
 */
int watcher_cfg_add_options(struct watcher_cfg *, const json_t *options,
    char **cause);

/* How the ini loader treats one [watcher:*] key (table-driven). */
enum opt_ini {
	OPT_INI_FREEFORM = 0,	/* not a table key: free-form string */
	OPT_INI_EARLY,		/* typed: converted at load, bad value fatal */
	OPT_INI_LATE,		/* string, expanded with the watcher env; a bad
				 * value (max_age...) only skips the watcher */
	OPT_INI_IGNORED,	/* read but overwritten (env) */
};
enum opt_ini watcher_opt_ini_kind(const char *key);
/* Convert and store one ini value of a table key. Returns 0, or -1 with
 * *cause (without file:line). */
int watcher_cfg_ini_set(struct watcher_cfg *, const char *key,
    const char *value, char **cause);
/* Check a hook target: a path to an executable (contains '/'); a Python
 * dotted name gives -1 and *cause naming the hook. */
int config_hook_check(const char *hook, const char *target, char **cause);
/* circusd's working directory as Circus computes it ($PWD if it is the
 * same directory as getcwd()). Caller frees. */
char *config_working_dir(void);
/* RLIMIT_* number of an rlimit name ("nofile", "CORE": any case), or -1. */
int config_rlimit_resource(const char *name);
/* Python int() / float() of a string. 0, or -1 if not a valid literal. */
int config_parse_int(const char *, long long *);
int config_parse_float(const char *, double *);

/* ---- substitution and argv (subst.c) ---- */

/* Resolve one lower-cased key like "wid", "env.path", "sockets.web";
 * return a borrowed string or NULL if unknown. */
typedef const char *(*subst_lookup_fn)(void *ctx, const char *key);
/* Replace $(circus.KEY) and ((circus.KEY)) (case-insensitive); unknown keys
 * stay verbatim. Caller frees. */
char *subst_circus(const char *in, subst_lookup_fn, void *ctx);
/* POSIX-shell word splitting (quotes, backslashes, no comments). Appends
 * to a NULL-terminated argv (*argv may be NULL). Returns 0 or -1 + *cause. */
int shlex_split(const char *s, char ***argv, size_t *argc, char **cause);
/* Quote one word for /bin/sh like Python's shlex.quote. Caller frees. */
char *shlex_quote(const char *s);
void argv_free(char **argv);

#endif
